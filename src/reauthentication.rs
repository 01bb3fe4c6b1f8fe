//! Re-authentication: a signed-in user proves themselves again (the password, or a
//! second-factor code), so routes behind [`crate::guards::Fresh`] let them through for
//! `reauthentication_max_age`. Counted by the lockout like any other entry of a secret.
//! Free of HTTP, like [`crate::auth`].

use crate::accounts;
use crate::app::App;
use crate::audit::audit_own;
use crate::error::AppError;
use crate::events::EventKind;
use crate::lockout::recheck_password;
use crate::rate_limit::Limit;
use crate::sessions::{self, ClientInfo};

/// What the user offers as proof.
pub enum Proof<'a> {
    Password(&'a str),
    /// A code of the account's second factor (TOTP or recovery code).
    Code(&'a str),
    /// The answer to a ceremony this session started (a passkey assertion).
    Ceremony {
        challenge_id: &'a str,
        response: &'a serde_json::Value,
    },
}

/// Checks `proof` for the account of `session_id` and records it on the session;
/// returns when (unix seconds).
pub async fn reauthenticate(
    app: &App,
    account_id: i64,
    session_id: &str,
    proof: Proof<'_>,
    client: &ClientInfo,
) -> Result<i64, AppError> {
    app.rate_limits.by_address(Limit::Password, client).await?;
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    let by = match proof {
        Proof::Password(password) => {
            recheck_password(app, &row, password, "password", client).await?;
            "password"
        }
        Proof::Code(code) => match crate::feature::hooks::code_factor(app, &row).await? {
            Some(factor) => factor.prove_holder(app, &row, code, client).await?,
            None => return Err(AppError::field("code", "two-factor authentication is off")),
        },
        Proof::Ceremony {
            challenge_id,
            response,
        } => crate::feature::hooks::prove_holder_by_ceremony(
            app,
            &row,
            session_id,
            challenge_id,
            response,
            client,
        )
        .await?
        .ok_or_else(|| {
            AppError::field(
                "challenge_id",
                "no such ceremony for this session: it expired or was used; start again",
            )
        })?,
    };
    let now = app.now();
    if !sessions::mark_proved(app.pool(), session_id, by, now).await? {
        return Err(AppError::SessionRevoked);
    }
    // The guards read the proof from the session cache: it must show the new one.
    app.session_cache.forget_session(session_id);
    audit_own(
        app,
        EventKind::Reauthenticated,
        account_id,
        Some(by.into()),
        client,
    )
    .await;
    Ok(now)
}
