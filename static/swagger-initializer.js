// Swagger UI for Gatehouse's API document. Served from the binary in place of the
// generated initializer, because "try it out" needs a request interceptor: after a
// cookie login, an unsafe request must carry the X-CSRF-Token header, which a JSON
// config cannot express. The token comes from GET /api/auth/csrf on this origin.
"use strict";

window.onload = function () {
  var unsafe = ["POST", "PUT", "PATCH", "DELETE"];

  function csrfToken() {
    return fetch("/api/auth/csrf", { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : {}; })
      .then(function (body) { return body.csrf_token; })
      .catch(function () { return undefined; });
  }

  function addCsrfHeader(request) {
    var method = (request.method || "GET").toUpperCase();
    var sameOrigin = new URL(request.url, window.location.href).origin === window.location.origin;
    var hasBearer = Object.keys(request.headers || {}).some(function (name) {
      return name.toLowerCase() === "authorization";
    });
    if (unsafe.indexOf(method) < 0 || !sameOrigin || hasBearer) {
      return request;
    }
    return csrfToken().then(function (token) {
      if (token) {
        request.headers = request.headers || {};
        request.headers["X-CSRF-Token"] = token;
      }
      return request;
    });
  }

  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "StandaloneLayout",
    validatorUrl: "none",
    tryItOutEnabled: true,
    persistAuthorization: false,
    displayOperationId: true,
    requestInterceptor: addCsrfHeader,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  });
};
