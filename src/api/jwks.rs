//! `GET /.well-known/jwks.json`: the public keys that sign access tokens or still
//! verify them (RFC 7517), for services that verify tokens themselves. Cacheable for
//! `jwks_max_age`: a rotated-in key is published that long before it signs.

use rocket::http::Header;
use rocket::State;

use crate::app::App;

#[derive(Responder)]
#[response(content_type = "json")]
pub struct KeySet {
    body: String,
    cache: Header<'static>,
}

/// Lists the public keys (RFC 7517) that sign access tokens or still verify them.
#[utoipa::path(
    context_path = "/.well-known",
    tag = "services",
    responses((
        status = 200,
        description = "`{\"keys\": [JWK…]}`, `Cache-Control: public, max-age=jwks_max_age`",
        body = Object,
        example = json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                "use": "sig",
                "alg": "EdDSA",
                "kid": "XHfX_Y9R7QwqkT5GMm_20uoulcjs8WZ8cutyzMP8K0Y"
            }]
        })
    )),
)]
#[get("/jwks.json")]
pub async fn jwks(app: &State<App>) -> KeySet {
    let now = app.now();
    app.keys.keep_fresh(app.pool(), now).await;
    KeySet {
        body: app.keys.jwks(now).to_string(),
        cache: Header::new(
            "Cache-Control",
            format!("public, max-age={}", app.settings.tokens.jwks_max_age),
        ),
    }
}
