//! The cookies the API and the pages share: the access and refresh tokens (HttpOnly)
//! and the CSRF token (readable by scripts, for the `X-CSRF-Token` header). All are
//! SameSite per the settings, path `/`, Secure in release, where their names also
//! carry the `__Host-` prefix so no subdomain can plant one.
//!
//! The CSRF token of a signed-in browser is bound to its session: an HMAC of the
//! session id that only this server can compute, checked against the session, never
//! against the cookie. So a token planted in the cookie (by a sibling subdomain where
//! the names lack `__Host-`) is worth nothing. Before a login, forms use a random
//! token in the cookie (double submit), and a request carrying that cookie twice is
//! refused.

use aws_lc_rs::hmac;
use base64::Engine;
use rocket::http::{Cookie, CookieJar, SameSite};
use rocket::time::Duration;
use rocket::Request;

use crate::auth::IssuedTokens;
use crate::config::{self, Settings, TokenLocation};

fn cookie(
    settings: &Settings,
    name: String,
    value: String,
    max_age: Option<i64>,
    http_only: bool,
) -> Cookie<'static> {
    let mut builder = Cookie::build((name, value))
        .path(settings.cookies.cookie_path.clone())
        .http_only(http_only)
        .secure(settings.cookies.cookie_secure)
        .same_site(match settings.cookies.cookie_same_site {
            config::SameSite::Strict => SameSite::Strict,
            config::SameSite::Lax => SameSite::Lax,
            config::SameSite::None => SameSite::None,
        });
    if let Some(seconds) = max_age {
        builder = builder.max_age(Duration::seconds(seconds));
    }
    builder.build()
}

/// Sets the access and refresh cookies when cookies are a configured token location,
/// and a CSRF cookie if there is none yet.
pub fn set_auth_cookies(cookies: &CookieJar<'_>, settings: &Settings, tokens: &IssuedTokens) {
    if !settings.accepts(TokenLocation::Cookie) {
        return;
    }
    // Without "remember me" both are browser-session cookies: closing the browser
    // (a shared computer) ends the login there, whatever the session's own lifetime.
    let lifetime = |seconds: i64| tokens.persistent.then_some(seconds);
    cookies.add(cookie(
        settings,
        settings.cookies.access_cookie.clone(),
        tokens.access_token.clone(),
        lifetime(tokens.expires_in),
        true,
    ));
    // A pending session has no refresh token: any earlier session's is dropped.
    let (refresh, max_age) = match &tokens.refresh_token {
        Some(token) => (token.clone(), lifetime(tokens.refresh_expires_in)),
        None => (String::new(), Some(0)),
    };
    cookies.add(cookie(
        settings,
        settings.cookies.refresh_cookie.clone(),
        refresh,
        max_age,
        true,
    ));
    set_csrf_cookie(
        cookies,
        settings,
        session_csrf_token(settings, &tokens.session_id),
    );
}

pub fn clear_auth_cookies(cookies: &CookieJar<'_>, settings: &Settings) {
    if !settings.accepts(TokenLocation::Cookie) {
        return;
    }
    // An explicit expired cookie, so clients that sent the token by header and hold
    // the cookie anyway lose it too (Rocket's `remove` only clears cookies it received).
    for name in [
        &settings.cookies.access_cookie,
        &settings.cookies.refresh_cookie,
    ] {
        cookies.add(cookie(settings, name.clone(), String::new(), Some(0), true));
    }
}

/// After a login (or its second step): the session's cookies and its own CSRF token,
/// so no token seen before the login (planted, or left by someone else) stays valid.
pub fn start_session_cookies(cookies: &CookieJar<'_>, settings: &Settings, tokens: &IssuedTokens) {
    set_auth_cookies(cookies, settings, tokens);
}

/// After a logout: the session's cookies cleared and the CSRF token replaced.
pub fn end_session_cookies(cookies: &CookieJar<'_>, settings: &Settings) {
    clear_auth_cookies(cookies, settings);
    if settings.accepts(TokenLocation::Cookie) {
        new_csrf_token(cookies, settings);
    }
}

fn new_csrf_token(cookies: &CookieJar<'_>, settings: &Settings) -> String {
    let token = crate::random::token(24);
    set_csrf_cookie(cookies, settings, token.clone());
    token
}

fn set_csrf_cookie(cookies: &CookieJar<'_>, settings: &Settings, token: String) {
    if !settings.accepts(TokenLocation::Cookie) {
        return;
    }
    // It lives as long as the longest session, so a client that keeps its refresh
    // cookie across a restart keeps the token its unsafe requests need.
    cookies.add(cookie(
        settings,
        settings.cookies.csrf_cookie.clone(),
        token,
        Some(settings.tokens.remember_ttl),
        false,
    ));
}

/// The CSRF token of the session `session_id`: HMAC-SHA-256 of the id under the
/// signing secret, with a label no other use of the secret shares.
pub fn session_csrf_token(settings: &Settings, session_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &settings.tokens.secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(b"gatehouse csrf token\0");
    context.update(session_id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(context.sign().as_ref())
}

/// The CSRF token of a signed-in browser's page: its session's, written to the cookie
/// too when the cookie holds another (one from before the login, or a planted one).
pub fn session_csrf_cookie(
    cookies: &CookieJar<'_>,
    settings: &Settings,
    session_id: &str,
) -> String {
    let token = session_csrf_token(settings, session_id);
    let current = cookies
        .get_pending(&settings.cookies.csrf_cookie)
        .map(|c| c.value().to_string());
    if current.as_deref() != Some(token.as_str()) {
        set_csrf_cookie(cookies, settings, token.clone());
    }
    token
}

/// Leaves a page's feedback (JSON) for the next page view, HttpOnly.
pub fn set_feedback(cookies: &CookieJar<'_>, settings: &Settings, text: String) {
    cookies.add(cookie(
        settings,
        settings.cookies.feedback_cookie.clone(),
        text,
        Some(60),
        true,
    ));
}

/// Takes the feedback left for this page view, if any, and expires its cookie.
pub fn take_feedback(cookies: &CookieJar<'_>, settings: &Settings) -> Option<String> {
    let text = cookies
        .get(&settings.cookies.feedback_cookie)?
        .value()
        .to_string();
    cookies.add(cookie(
        settings,
        settings.cookies.feedback_cookie.clone(),
        String::new(),
        Some(0),
        true,
    ));
    Some(text).filter(|t| !t.is_empty())
}

/// Keeps a link page's form token for `purpose` (see [`crate::email::tokens`]),
/// HttpOnly, as long as it works. SameSite is at most Lax: the link is opened from a
/// mail client, and the page it redirects to must still receive the cookie.
pub fn set_link_form(cookies: &CookieJar<'_>, settings: &Settings, purpose: &str, form: String) {
    let name = format!("{}_{purpose}", settings.cookies.link_cookie);
    let max_age = Some(crate::email::tokens::FORM_TTL);
    let mut link = cookie(settings, name, form, max_age, true);
    if link.same_site() == Some(SameSite::Strict) {
        link.set_same_site(SameSite::Lax);
    }
    cookies.add(link);
}

/// The form token a link page handed this browser for `purpose`, if any.
pub fn link_form(request: &Request<'_>, settings: &Settings, purpose: &str) -> Option<String> {
    read(
        request,
        &format!("{}_{purpose}", settings.cookies.link_cookie),
    )
    .filter(|v| !v.is_empty())
}

/// Forgets the form token for `purpose` (spent, or no longer valid).
pub fn clear_link_form(cookies: &CookieJar<'_>, settings: &Settings, purpose: &str) {
    let name = format!("{}_{purpose}", settings.cookies.link_cookie);
    let mut link = cookie(settings, name, String::new(), Some(0), true);
    if link.same_site() == Some(SameSite::Strict) {
        link.set_same_site(SameSite::Lax);
    }
    cookies.add(link);
}

/// The CSRF token of this browser before a login: the cookie's value, set now if
/// absent (or sent twice, or under an encoded name). Forms carry it in a hidden field.
pub fn csrf_token(request: &Request<'_>, settings: &Settings) -> String {
    let cookies = request.cookies();
    if let Some(existing) = read(request, &settings.cookies.csrf_cookie) {
        if existing.len() >= 16 {
            return existing;
        }
    }
    if let Some(pending) = cookies.get_pending(&settings.cookies.csrf_cookie) {
        if pending.value().len() >= 16 {
            return pending.value().to_string();
        }
    }
    new_csrf_token(cookies, settings)
}

/// The value of the cookie `name` exactly as the browser sent it under that name, or
/// `None`. Rocket's jar percent-decodes names, so `__Host%2Dgatehouse_access` set by a
/// sibling subdomain (browsers hold the `__Host-` rules to the literal name only) would
/// pass for the real cookie, and of two cookies of one name the jar keeps either: a
/// name sent twice, or also in an encoded form, yields nothing, since which value is
/// genuine cannot be told.
pub fn read(request: &Request<'_>, name: &str) -> Option<String> {
    let mut headers = request.headers().get("Cookie").peekable();
    if headers.peek().is_none() {
        // No header to read (a local client hands its cookies to the jar directly).
        return request
            .cookies()
            .get(name)
            .map(|c| c.value().to_string())
            .filter(|value| !value.is_empty());
    }
    let mut found = None;
    let mut count = 0;
    for pair in headers.flat_map(|header| header.split(';')) {
        let Some((raw_name, value)) = pair.split_once('=') else {
            continue;
        };
        let raw_name = raw_name.trim();
        if raw_name == name {
            count += 1;
            found = Some(value.trim().to_string());
        } else if raw_name.contains('%')
            && rocket::http::RawStr::new(raw_name)
                .percent_decode()
                .is_ok_and(|decoded| decoded == name)
        {
            return None;
        }
    }
    // An empty value is what a cleared cookie leaves in a client that keeps it: none.
    if count == 1 {
        found.filter(|value| !value.is_empty())
    } else {
        None
    }
}

/// True when `presented` is the CSRF token this request must carry (compared in
/// constant time): its session's when it belongs to one, else the browser's cookie,
/// which must then be sent once only.
pub fn csrf_matches(
    request: &Request<'_>,
    settings: &Settings,
    session_id: Option<&str>,
    presented: &str,
) -> bool {
    let expected = match session_id {
        Some(session_id) => session_csrf_token(settings, session_id),
        // Sent twice or under an encoded name, one was planted: `read` gives none.
        None => match read(request, &settings.cookies.csrf_cookie) {
            Some(value) if value.len() >= 16 => value,
            _ => return false,
        },
    };
    aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), presented.as_bytes())
        .is_ok()
}
