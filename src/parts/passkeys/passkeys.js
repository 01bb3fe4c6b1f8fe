// The passkey buttons of Gatehouse's pages: sign in on the login page (a button, and
// the browser's autofill where it offers passkeys), finish a two-step login or
// re-authenticate with one, and add one on the account page.
// Served from the binary under a version-stamped path; the pages work without it,
// and the buttons stay hidden in a browser without WebAuthn.
"use strict";

(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    const bytes = atob(padded);
    const out = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) {
      out[i] = bytes.charCodeAt(i);
    }
    return out.buffer;
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = "";
    for (let i = 0; i < bytes.length; i++) {
      text += String.fromCharCode(bytes[i]);
    }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The options as the API gives them (base64url strings) in the shape the browser
  // takes (ArrayBuffers).
  function creationOptions(publicKey) {
    const options = Object.assign({}, publicKey);
    options.challenge = fromBase64url(publicKey.challenge);
    options.user = Object.assign({}, publicKey.user, { id: fromBase64url(publicKey.user.id) });
    options.excludeCredentials = (publicKey.excludeCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: fromBase64url(c.id) });
    });
    return options;
  }

  function requestOptions(publicKey) {
    const options = Object.assign({}, publicKey);
    options.challenge = fromBase64url(publicKey.challenge);
    options.allowCredentials = (publicKey.allowCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: fromBase64url(c.id) });
    });
    return options;
  }

  function registrationJson(credential) {
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toBase64url(credential.response.attestationObject),
        clientDataJSON: toBase64url(credential.response.clientDataJSON),
      },
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  function assertionJson(credential) {
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toBase64url(response.authenticatorData),
        clientDataJSON: toBase64url(response.clientDataJSON),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
      },
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  async function post(path, body, csrf) {
    const headers = { "Content-Type": "application/json" };
    if (csrf) {
      headers["X-CSRF-Token"] = csrf;
    }
    const response = await fetch(path, {
      method: "POST",
      headers: headers,
      credentials: "same-origin",
      body: JSON.stringify(body || {}),
    });
    const answer = await response.json().catch(function () {
      return {};
    });
    return { status: response.status, body: answer };
  }

  function say(box, text) {
    const error = box.querySelector("[data-passkey-error]");
    if (error) {
      error.textContent = text;
      error.hidden = !text;
    }
  }

  function messageOf(answer) {
    return (answer.body.error && answer.body.error.message) || "That did not work. Try again.";
  }

  // Only this site's own paths (the server checked `next` already; this holds even
  // if it did not): no scheme, no other host, nothing a URL parser would drop.
  function safeNext(next) {
    if (!next || next.charAt(0) !== "/" || /[\u0000-\u0020\\]/.test(next) ||
        next.charAt(1) === "/") {
      return "/";
    }
    const url = new URL(next, window.location.origin);
    return url.origin === window.location.origin ? url.pathname + url.search + url.hash : "/";
  }

  // Sign in: the button, and the autofill's conditional request.
  const login = document.querySelector("[data-passkey-login]");
  if (login) {
    const button = login.querySelector("[data-passkey-button]");
    let pending = null;

    async function signIn(conditional) {
      // One request at a time: a click replaces the autofill's, even one still starting.
      if (pending) {
        pending.abort();
      }
      const mine = new AbortController();
      pending = mine;
      const started = await post("/api/auth/passkeys/login/start", {});
      if (mine.signal.aborted) {
        return;
      }
      if (started.status !== 200) {
        if (!conditional) {
          say(login, messageOf(started));
        }
        return;
      }
      const request = { publicKey: requestOptions(started.body.publicKey), signal: mine.signal };
      if (conditional) {
        request.mediation = "conditional";
      }
      let credential;
      try {
        credential = await navigator.credentials.get(request);
      } catch (error) {
        if (!conditional && error.name !== "AbortError") {
          say(login, "No passkey was used.");
        }
        return;
      }
      const remember = document.querySelector("input[name=remember]");
      const finished = await post("/api/auth/passkeys/login/finish", {
        challenge_id: started.body.challenge_id,
        credential: assertionJson(credential),
        remember: Boolean(remember && remember.checked),
      });
      if (finished.status === 200) {
        window.location.assign(safeNext(login.dataset.next));
      } else {
        say(login, messageOf(finished));
      }
    }

    button.addEventListener("click", function () {
      say(login, "");
      signIn(false);
    });
    login.hidden = false;
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (available) {
          signIn(true);
        }
      });
    }
  }

  // A passkey instead of a code (the second step of a login), or instead of the
  // password (re-authentication): the account's own passkeys, bound to this session.
  function proveWith(box, start, finish, done) {
    const csrf = box.dataset.csrf;
    box.querySelector("[data-passkey-button]").addEventListener("click", async function () {
      say(box, "");
      const started = await post(start, {}, csrf);
      if (started.status === 401) {
        // The session's access token expired: loading the page renews it (or asks
        // to sign in again).
        window.location.reload();
        return;
      }
      if (started.status !== 200) {
        say(box, messageOf(started));
        return;
      }
      let credential;
      try {
        credential = await navigator.credentials.get({
          publicKey: requestOptions(started.body.publicKey),
        });
      } catch (error) {
        say(box, "No passkey was used.");
        return;
      }
      const finished = await post(finish, {
        challenge_id: started.body.challenge_id,
        credential: assertionJson(credential),
      }, csrf);
      if (finished.status === 200) {
        window.location.assign(done);
      } else {
        say(box, messageOf(finished));
      }
    });
    box.hidden = false;
  }

  const secondStep = document.querySelector("[data-passkey-second-step]");
  if (secondStep) {
    proveWith(secondStep, "/api/auth/2fa/passkey/start", "/api/auth/2fa/passkey/finish",
      safeNext(secondStep.dataset.next));
  }
  const reauth = document.querySelector("[data-passkey-reauth]");
  if (reauth) {
    proveWith(reauth, "/api/auth/reauthenticate/passkey/start", "/api/auth/reauthenticate",
      safeNext(reauth.dataset.next));
  }

  // Add a passkey to the signed-in account.
  const register = document.querySelector("[data-passkey-register]");
  if (register) {
    const csrf = register.dataset.csrf;
    const name = register.querySelector("[data-passkey-name]");
    register.querySelector("[data-passkey-button]").addEventListener("click", async function () {
      say(register, "");
      const started = await post("/api/auth/passkeys/register/start", {}, csrf);
      if (started.status === 401) {
        // A stale proof asks for a new one; an expired access token is renewed by
        // loading the page again.
        const code = started.body.error && started.body.error.code;
        if (code === "reauthentication_required") {
          window.location.assign("/reauthenticate?next=%2Faccount");
        } else {
          window.location.reload();
        }
        return;
      }
      if (started.status !== 200) {
        say(register, messageOf(started));
        return;
      }
      let credential;
      try {
        credential = await navigator.credentials.create({
          publicKey: creationOptions(started.body.publicKey),
        });
      } catch (error) {
        say(register, "No passkey was added.");
        return;
      }
      const finished = await post("/api/auth/passkeys/register/finish", {
        challenge_id: started.body.challenge_id,
        name: name.value,
        credential: registrationJson(credential),
      }, csrf);
      if (finished.status === 201) {
        window.location.reload();
      } else {
        say(register, messageOf(finished));
      }
    });
    register.hidden = false;
  }
})();
