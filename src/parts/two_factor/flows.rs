//! TOTP with recovery codes, free of HTTP like [`crate::auth`]: enrolment (setup,
//! then enable with a first code), the codes a pending login or a re-authentication
//! offers, new recovery codes, and switching it off.
//!
//! A code is accepted once: a TOTP code's time step is recorded with a guarded update
//! (`totp_last_step < step`), a recovery code is marked used the same way, so of two
//! concurrent requests with one code exactly one succeeds. Every wrong code counts
//! towards the account's lockout counter; on a pending login it also counts towards
//! the session's own limit (`two_factor_max_attempts`), past which the session is
//! revoked and the login starts again from the password.

use super::codes::{self, Presented};
use super::{state, store};
use crate::accounts::{self, AccountRow};
use crate::app::App;
use crate::audit::{audit, audit_own};
use crate::email::notices::{self, Notice};
use crate::email::Mailroom;
use crate::error::AppError;
use crate::events::EventKind;
use crate::lockout;
use crate::rate_limit::Limit;
use crate::sessions::ClientInfo;

/// What an authenticator app needs to enrol: the secret (base32), the otpauth URI and
/// that URI as a QR code.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub secret_base32: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

#[derive(Debug, Clone, Copy)]
pub struct Status {
    pub enabled: bool,
    pub recovery_codes_left: i64,
}

/// Which second factor was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Totp,
    RecoveryCode,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Totp => "totp",
            Method::RecoveryCode => "recovery code",
        }
    }
}

async fn account(app: &App, account_id: i64) -> Result<AccountRow, AppError> {
    accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::SessionRevoked)
}

pub async fn status(app: &App, account_id: i64) -> Result<Status, AppError> {
    let row = account(app, account_id).await?;
    let enabled = row.totp_enabled_at.is_some();
    let recovery_codes_left = if enabled {
        store::recovery_codes_left(app.pool(), account_id).await?
    } else {
        0
    };
    Ok(Status {
        enabled,
        recovery_codes_left,
    })
}

/// Re-checks the password when `two_factor_reauth` asks for it: a stolen session alone
/// must not be able to enrol or remove a second factor.
async fn reauthenticate(
    app: &App,
    row: &AccountRow,
    password: Option<&str>,
    client: &ClientInfo,
) -> Result<(), AppError> {
    if !state(app)?.settings.two_factor_reauth {
        return Ok(());
    }
    let password = password.ok_or_else(|| AppError::field("password", "is required"))?;
    lockout::recheck_password(app, row, password, "password", client).await
}

fn totp_of(app: &App, row: &AccountRow, secret: Vec<u8>) -> Result<totp_rs::TOTP, AppError> {
    codes::totp(
        secret,
        &state(app)?.settings.two_factor_issuer,
        &row.username,
    )
    .map_err(|e| AppError::internal("building the TOTP", e))
}

/// The account's TOTP secret, opened. One that does not open was sealed under another
/// `two_factor_key`: the account's codes (recovery codes too, keyed the same way)
/// cannot be checked until an admin resets its 2FA.
pub fn secret_of(app: &App, row: &AccountRow) -> Result<Vec<u8>, AppError> {
    let sealed = row
        .totp_secret
        .as_deref()
        .ok_or_else(|| AppError::internal("opening the TOTP secret", "no TOTP secret stored"))?;
    state(app)?.keys.open(row.id, sealed).map_err(|_| {
        if row.totp_enabled_at.is_none() {
            // An unconfirmed setup: starting it again is all it takes.
            return AppError::Conflict(
                "this setup was made under an earlier two_factor_key: start the setup again",
            );
        }
        if first_report_of(row.id) {
            log_unopenable(row.id);
        }
        AppError::TwoFactorUnavailable
    })
}

/// True the first time an account's unopenable secret is met in this process, so a
/// burst of codes writes one log line, not one per request.
fn first_report_of(account_id: i64) -> bool {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static REPORTED: OnceLock<Mutex<HashSet<i64>>> = OnceLock::new();
    let mut reported = REPORTED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if reported.len() >= 10_000 {
        reported.clear();
    }
    reported.insert(account_id)
}

fn log_unopenable(account_id: i64) {
    log::error!(
        "the TOTP secret of account {} does not open: two_factor_key changed since it was \
             sealed; restore the old {}TWO_FACTOR_KEY, or reset the account's 2FA (`{} accounts \
             disable-2fa`); `{} doctor` lists every such account",
        account_id,
        crate::config::ENV_PREFIX,
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_NAME"),
    );
}

/// The accounts with 2FA on whose TOTP secret does not open under the current
/// `two_factor_key`, as `(id, username)`: what `doctor` reports.
pub async fn unopenable_secrets(app: &App) -> Result<Vec<(i64, String)>, AppError> {
    let keys = &state(app)?.keys;
    let mut found = Vec::new();
    let mut after = 0;
    loop {
        let batch = store::enrolled_secrets(app.pool(), after, 500).await?;
        let Some(last) = batch.last() else {
            return Ok(found);
        };
        after = last.0;
        found.extend(
            batch
                .into_iter()
                .filter(|(id, _, sealed)| keys.open(*id, sealed).is_err())
                .map(|(id, username, _)| (id, username)),
        );
    }
}

/// Starts enrolment: a new secret, stored sealed but not yet enabled, for the session
/// `session_id` alone (no other session may see it or confirm it). A second setup
/// replaces an unconfirmed one; with 2FA already on it is a conflict.
pub async fn setup(
    app: &App,
    account_id: i64,
    session_id: &str,
    password: Option<&str>,
    client: &ClientInfo,
) -> Result<Enrolment, AppError> {
    app.rate_limits.by_address(Limit::Password, client).await?;
    let row = account(app, account_id).await?;
    if row.totp_enabled_at.is_some() {
        return Err(AppError::Conflict(
            "two-factor authentication is already on; disable it first",
        ));
    }
    reauthenticate(app, &row, password, client).await?;
    let secret = crate::random::bytes(codes::SECRET_BYTES);
    let sealed = state(app)?.keys.seal(account_id, &secret);
    if !store::start_setup(app.pool(), account_id, session_id, &sealed, app.now()).await? {
        return Err(AppError::Conflict(
            "two-factor authentication is already on; disable it first",
        ));
    }
    enrolment_of(&totp_of(app, &row, secret)?)
}

/// The enrolment an unconfirmed setup shows again (QR code and secret), so a page can
/// redirect after the setup and still display it; `None` unless a setup that
/// `session_id` started awaits its first code.
pub async fn pending_enrolment(
    app: &App,
    account_id: i64,
    session_id: &str,
) -> Result<Option<Enrolment>, AppError> {
    let row = account(app, account_id).await?;
    if row.totp_enabled_at.is_some()
        || row.totp_secret.is_none()
        || row.totp_setup_session.as_deref() != Some(session_id)
    {
        return Ok(None);
    }
    // A setup sealed under an earlier key is started again, not reported.
    let Ok(secret) = secret_of(app, &row) else {
        return Ok(None);
    };
    Ok(Some(enrolment_of(&totp_of(app, &row, secret)?)?))
}

fn enrolment_of(totp: &totp_rs::TOTP) -> Result<Enrolment, AppError> {
    let otpauth_uri = totp.get_url();
    let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())
        .map_err(|e| AppError::internal("drawing the QR code", e))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(Enrolment {
        secret_base32: totp.get_secret_base32(),
        otpauth_uri,
        qr_svg,
    })
}

/// Confirms the setup with a first code and switches 2FA on; returns the recovery
/// codes, which are shown this once and stored only as hashes.
pub async fn enable(
    app: &App,
    account_id: i64,
    session_id: &str,
    code: &str,
    client: &ClientInfo,
) -> Result<Vec<String>, AppError> {
    app.rate_limits.by_address(Limit::Password, client).await?;
    let row = account(app, account_id).await?;
    if row.totp_enabled_at.is_some() {
        return Err(AppError::Conflict(
            "two-factor authentication is already on",
        ));
    }
    let Some(sealed) = row
        .totp_secret
        .clone()
        .filter(|_| row.totp_setup_session.as_deref() == Some(session_id))
    else {
        return Err(AppError::Conflict(
            "no setup to confirm in this session: start with POST /api/auth/2fa/setup",
        ));
    };
    let totp = totp_of(app, &row, secret_of(app, &row)?)?;
    let step = match Presented::parse(code) {
        Presented::Totp(code) => codes::matching_step(&totp, &code, app.now()),
        Presented::Recovery(_) | Presented::Malformed => None,
    }
    .ok_or(AppError::InvalidOtp {
        attempts_left: None,
    })?;
    let recovery_codes = codes::new_recovery_codes();
    let hashes = hashes_of(app, &recovery_codes)?;
    if !store::enable(
        app.pool(),
        account_id,
        session_id,
        &sealed,
        step,
        &hashes,
        app.now(),
    )
    .await?
    {
        return Err(AppError::Conflict(
            "the setup changed meanwhile; start again with POST /api/auth/2fa/setup",
        ));
    }
    audit_own(app, EventKind::TwoFactorEnabled, account_id, None, client).await;
    Ok(recovery_codes)
}

fn hashes_of(app: &App, recovery_codes: &[String]) -> Result<Vec<String>, AppError> {
    let keys = &state(app)?.keys;
    Ok(recovery_codes
        .iter()
        .map(|code| keys.recovery_hash(&codes::normalise_recovery_code(code)))
        .collect())
}

/// Checks and spends a code of an account with 2FA on: a TOTP code whose step is
/// newer than the last accepted one, or (if `allow_recovery`) an unused recovery code.
/// `None` when the code is wrong, malformed, or already used.
/// `secret` is the account's, opened before anything was counted.
pub async fn spend_code(
    app: &App,
    row: &AccountRow,
    secret: Vec<u8>,
    code: &str,
    allow_recovery: bool,
) -> Result<Option<Method>, AppError> {
    match Presented::parse(code) {
        Presented::Totp(code) => {
            let totp = totp_of(app, row, secret)?;
            match codes::matching_step(&totp, &code, app.now()) {
                Some(step) if store::accept_step(app.pool(), row.id, step).await? => {
                    Ok(Some(Method::Totp))
                }
                _ => Ok(None),
            }
        }
        Presented::Recovery(code) if allow_recovery => {
            let hash = state(app)?.keys.recovery_hash(&code);
            if store::use_recovery_code(app.pool(), row.id, &hash, app.now()).await? {
                Ok(Some(Method::RecoveryCode))
            } else {
                Ok(None)
            }
        }
        Presented::Recovery(_) | Presented::Malformed => Ok(None),
    }
}

/// A code from a signed-in holder (new recovery codes, disable), checked as one
/// attempt on the account's budget (see [`lockout`]), so a stolen session cannot try
/// the million codes.
async fn holder_code(
    app: &App,
    row: &AccountRow,
    code: &str,
    allow_recovery: bool,
    client: &ClientInfo,
) -> Result<Method, AppError> {
    if row.totp_enabled_at.is_none() {
        return Err(AppError::Conflict("two-factor authentication is off"));
    }
    // Opened before the attempt is counted, whatever was presented: a key that changed
    // breaks the recovery codes too, and the holder is not at fault.
    let secret = secret_of(app, row)?;
    let attempt = lockout::begin_attempt(app, row, client).await?;
    let Some(method) = spend_code(app, row, secret, code, allow_recovery).await? else {
        return Err(
            match attempt
                .failed(app, lockout::SECOND_FACTOR_FAILURE, client)
                .await
            {
                AppError::InvalidCredentials => AppError::InvalidOtp {
                    attempts_left: None,
                },
                refusal => refusal,
            },
        );
    };
    attempt.give_back(app).await?;
    if method == Method::RecoveryCode {
        let detail = Some("two-factor management".into());
        audit_own(app, EventKind::RecoveryCodeUsed, row.id, detail, client).await;
    }
    Ok(method)
}

/// A fresh set of recovery codes, for a current TOTP code; the old set stops working.
pub async fn regenerate_recovery_codes(
    app: &App,
    account_id: i64,
    code: &str,
    client: &ClientInfo,
) -> Result<Vec<String>, AppError> {
    app.rate_limits.by_address(Limit::Password, client).await?;
    let row = account(app, account_id).await?;
    holder_code(app, &row, code, false, client).await?;
    let recovery_codes = codes::new_recovery_codes();
    store::replace_recovery_codes(
        app.pool(),
        account_id,
        &hashes_of(app, &recovery_codes)?,
        app.now(),
    )
    .await?;
    audit_own(
        app,
        EventKind::RecoveryCodesRegenerated,
        account_id,
        None,
        client,
    )
    .await;
    notices::send(
        &Mailroom::of(app),
        &row,
        Notice::RecoveryCodesRegenerated,
        client,
    );
    Ok(recovery_codes)
}

/// Checks a code of the account's holder (TOTP or recovery code), counted by the
/// lockout: a re-authentication. Says which kind it was.
pub async fn prove_holder(
    app: &App,
    row: &AccountRow,
    code: &str,
    client: &ClientInfo,
) -> Result<&'static str, AppError> {
    Ok(holder_code(app, row, code, true, client).await?.name())
}

/// Switches 2FA off for its holder, who proves both factors (a recovery code will do
/// for the second).
pub async fn disable(
    app: &App,
    account_id: i64,
    password: Option<&str>,
    code: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    app.rate_limits.by_address(Limit::Password, client).await?;
    let row = account(app, account_id).await?;
    if row.totp_enabled_at.is_none() {
        return Err(AppError::Conflict("two-factor authentication is off"));
    }
    reauthenticate(app, &row, password, client).await?;
    holder_code(app, &row, code, true, client).await?;
    if store::turn_off(app.pool(), account_id, true, app.now()).await? {
        audit_own(app, EventKind::TwoFactorDisabled, account_id, None, client).await;
        notices::send(&Mailroom::of(app), &row, Notice::TwoFactorDisabled, client);
    }
    Ok(())
}

/// Switches 2FA off for someone else (an admin, the CLI): only a regular account
/// unless `may_touch_staff`. False when it was off (or the account is staff).
pub async fn reset(
    app: &App,
    account_id: i64,
    actor_id: Option<i64>,
    may_touch_staff: bool,
    client: &ClientInfo,
) -> Result<bool, AppError> {
    let reset = store::turn_off(app.pool(), account_id, may_touch_staff, app.now()).await?;
    if reset {
        audit(
            app,
            EventKind::TwoFactorReset,
            account_id,
            actor_id,
            None,
            client,
        )
        .await;
        if let Some(row) = crate::accounts::find_by_id(app.pool(), account_id).await? {
            notices::send(&Mailroom::of(app), &row, Notice::TwoFactorDisabled, client);
        }
    }
    Ok(reset)
}
