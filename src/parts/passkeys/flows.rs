//! What can be done with passkeys, free of HTTP: the ceremonies (register, sign in,
//! complete a pending login, re-authenticate), and the holder's list. Each ceremony's
//! state waits in the database between its start and its finish, taken once by the
//! finish; every assertion is checked against the account its user handle names.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid, Webauthn, WebauthnError,
};

use super::store::{self, AddRefused, NewCeremony, NewPasskey, PasskeyRow, RemoveRefused};
use super::{state, PasskeyError};
use crate::audit::{audit, audit_own};
use crate::events::EventKind;
use crate::prelude::*;
use crate::rate_limit::Limit;
use crate::sessions::ClientInfo;
use crate::text::TextRule;

/// How long a ceremony waits for its finish: webauthn-rs's authenticator timeout.
const CEREMONY_TTL: i64 = 300;

/// A challenge id: 24 random bytes, 32 base64url characters.
const CHALLENGE_ID_BYTES: usize = 24;
const CHALLENGE_ID_CHARS: usize = 32;

/// Ceremonies started by no session (passwordless sign-ins) that may wait at once:
/// a flood from many addresses fills this, never the disk.
const MAX_ANONYMOUS_CEREMONIES: i64 = 50_000;

/// A passkey's name: one line a person chose ("Laptop", "Phone").
pub const NAME_RULE: TextRule = TextRule {
    max_chars: 64,
    min_chars: 1,
    multiline: false,
};

/// What each ceremony is for; a finish takes only a ceremony of its own purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Register,
    SignIn,
    SecondFactor,
    Reauthenticate,
}

impl Purpose {
    fn name(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "sign_in",
            Purpose::SecondFactor => "second_factor",
            Purpose::Reauthenticate => "reauthenticate",
        }
    }
}

/// A started ceremony: its id, and the options for the browser (`{"publicKey": …}`).
pub struct Started {
    pub challenge_id: String,
    pub options: Value,
}

/// The relying party; passkeys switched off answer 404, as their unmounted routes do.
fn relying_party(app: &App) -> Result<&Webauthn, AppError> {
    state(app)?.webauthn.as_ref().ok_or(AppError::NotFound)
}

fn internal(context: &'static str) -> impl FnOnce(WebauthnError) -> AppError {
    move |error| AppError::internal(context, error.to_string())
}

fn serialised<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|e| AppError::internal("a passkey ceremony", e))
}

fn deserialised<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, AppError> {
    serde_json::from_str(text).map_err(|e| AppError::internal("a stored passkey", e))
}

async fn keep(
    app: &App,
    purpose: Purpose,
    account_id: Option<i64>,
    session_id: Option<&str>,
    state: String,
    options: Value,
) -> Result<Started, AppError> {
    let challenge_id = crate::random::token(CHALLENGE_ID_BYTES);
    let now = app.now();
    let ceremony = NewCeremony {
        id: &challenge_id,
        purpose: purpose.name(),
        account_id,
        session_id,
        state: &state,
        expires_at: now + CEREMONY_TTL,
    };
    // Expired ceremonies go at most once a minute per instance: not a write per start.
    let last = &super::state(app)?.last_pruned;
    if now - last.load(Ordering::Relaxed) >= 60 {
        last.store(now, Ordering::Relaxed);
        store::drop_expired_ceremonies(app.pool(), now).await?;
    }
    if !store::keep_ceremony(app.pool(), ceremony, MAX_ANONYMOUS_CEREMONIES).await? {
        return Err(AppError::ServerBusy { retry_after: 5 });
    }
    Ok(Started {
        challenge_id,
        options,
    })
}

/// Takes the ceremony `challenge_id` of `purpose` started by `session_id`; a used,
/// expired or foreign one is the same answer.
async fn take(
    app: &App,
    challenge_id: &str,
    purpose: Purpose,
    session_id: Option<&str>,
) -> Result<store::TakenCeremony, AppError> {
    // Only the shape `keep` makes reaches the database (no NUL for PostgreSQL).
    let shaped = challenge_id.len() == CHALLENGE_ID_CHARS
        && challenge_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !shaped {
        return Err(PasskeyError::UnknownChallenge.into());
    }
    store::take_ceremony(
        app.pool(),
        challenge_id,
        purpose.name(),
        session_id,
        app.now(),
    )
    .await?
    .ok_or_else(|| PasskeyError::UnknownChallenge.into())
}

/// The account's user handle, made on first use: a random UUID, never the account id.
async fn user_handle(app: &App, account_id: i64) -> Result<Uuid, AppError> {
    let mut bytes: [u8; 16] = crate::random::bytes(16)
        .try_into()
        .map_err(|_| AppError::internal("a user handle", "short random read"))?;
    // RFC 9562 version 4 (random).
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let fresh = Uuid::from_bytes(bytes).to_string();
    let stored = store::user_handle(app.pool(), account_id, &fresh).await?;
    Uuid::parse_str(&stored).map_err(|e| AppError::internal("a stored user handle", e))
}

fn credential_id(passkey: &Passkey) -> String {
    URL_SAFE_NO_PAD.encode(passkey.cred_id())
}

fn passkeys_of(rows: &[PasskeyRow]) -> Result<Vec<Passkey>, AppError> {
    rows.iter()
        .map(|row| deserialised(&row.credential))
        .collect()
}

/// What webauthn-rs keeps in a passkey that the table repeats: its counter and
/// whether it is backed up (synced).
fn counter_and_backup(passkey: &Passkey) -> Result<(i64, bool), AppError> {
    let value = serde_json::to_value(passkey).map_err(|e| AppError::internal("a passkey", e))?;
    let cred = &value["cred"];
    let counter = cred["counter"].as_i64().unwrap_or(0);
    let backed_up = cred["backup_state"].as_bool().unwrap_or(false);
    Ok((counter, backed_up))
}

/// Starts registering a passkey for the signed-in `account` (session `session_id`).
pub async fn start_registration(
    app: &App,
    account: &AccountRow,
    session_id: &str,
    client: &ClientInfo,
) -> Result<Started, AppError> {
    app.rate_limits.by_address(Limit::Password, client).await?;
    let rows = store::list(app.pool(), account.id).await?;
    let max = state(app)?.settings.max_per_account;
    if rows.len() >= max as usize {
        return Err(PasskeyError::TooMany(max).into());
    }
    let handle = user_handle(app, account.id).await?;
    let exclude: Vec<_> = passkeys_of(&rows)?
        .iter()
        .map(|passkey| passkey.cred_id().clone())
        .collect();
    let shown = account.display_name.as_deref().unwrap_or(&account.username);
    let (options, registration) = relying_party(app)?
        .start_passkey_registration(handle, &account.username, shown, Some(exclude))
        .map_err(internal("starting a passkey registration"))?;
    let mut options =
        serde_json::to_value(&options).map_err(|e| AppError::internal("passkey options", e))?;
    // Discoverable credentials preferred: they let the holder sign in with no username.
    if let Some(selection) = options["publicKey"]["authenticatorSelection"].as_object_mut() {
        selection.insert("residentKey".into(), json!("preferred"));
    }
    let state = serialised(&registration)?;
    let purpose = Purpose::Register;
    keep(
        app,
        purpose,
        Some(account.id),
        Some(session_id),
        state,
        options,
    )
    .await
}

/// Finishes a registration this session started: stores the passkey under `name`.
pub async fn finish_registration(
    app: &App,
    account: &AccountRow,
    session_id: &str,
    challenge_id: &str,
    name: &str,
    response: &Value,
    client: &ClientInfo,
) -> Result<PasskeyRow, AppError> {
    let name = NAME_RULE
        .clean(name)
        .map_err(|reason| AppError::field("name", reason))?;
    let credential: RegisterPublicKeyCredential = serde_json::from_value(response.clone())
        .map_err(|_| AppError::field("credential", "is not a WebAuthn registration response"))?;
    let ceremony = take(app, challenge_id, Purpose::Register, Some(session_id)).await?;
    if ceremony.account_id != Some(account.id) {
        return Err(PasskeyError::UnknownChallenge.into());
    }
    let registration: PasskeyRegistration = deserialised(&ceremony.state)?;
    let passkey = relying_party(app)?
        .finish_passkey_registration(&credential, &registration)
        .map_err(|error| {
            log::debug!("a passkey registration was refused: {error}");
            AppError::field(
                "credential",
                "the authenticator's answer did not check out (wrong site, no user \
                 verification, or an answer to another request)",
            )
        })?;
    let (sign_count, backed_up) = counter_and_backup(&passkey)?;
    let id = credential_id(&passkey);
    let stored = serialised(&passkey)?;
    let new = NewPasskey {
        account_id: account.id,
        credential_id: &id,
        name: &name,
        credential: &stored,
        sign_count,
        backed_up,
    };
    let max = state(app)?.settings.max_per_account;
    let row = match store::add(app.pool(), new, i64::from(max), app.now()).await? {
        Ok(row) => row,
        Err(AddRefused::Full) => return Err(PasskeyError::TooMany(max).into()),
        Err(AddRefused::Known) => return Err(PasskeyError::Known.into()),
    };
    let detail = Some(format!("passkey {}", row.id));
    audit_own(
        app,
        EventKind::Part("passkey_added"),
        account.id,
        detail,
        client,
    )
    .await;
    super::notices::send(app, account, super::notices::Change::Added, client);
    Ok(row)
}

/// The account's passkeys.
pub async fn list(app: &App, account_id: i64) -> Result<Vec<PasskeyRow>, AppError> {
    Ok(store::list(app.pool(), account_id).await?)
}

/// Renames one of the account's passkeys.
pub async fn rename(
    app: &App,
    account_id: i64,
    id: i64,
    name: &str,
) -> Result<PasskeyRow, AppError> {
    let name = NAME_RULE
        .clean(name)
        .map_err(|reason| AppError::field("name", reason))?;
    if !store::rename(app.pool(), account_id, id, &name).await? {
        return Err(AppError::NotFound);
    }
    store::find(app.pool(), account_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Removes one of `account`'s passkeys, by the holder or by `actor_id` (an admin, or
/// `None` for the CLI). Refused when it is the account's last way in.
pub async fn remove(
    app: &App,
    account: &AccountRow,
    id: i64,
    actor_id: Option<i64>,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let others = crate::feature::hooks::keeps_a_way_in(app, account, super::NAME).await?;
    let keep = if others { 0 } else { 1 };
    match store::remove(app.pool(), account.id, id, keep).await? {
        Ok(_) => {}
        Err(RemoveRefused::Missing) => return Err(AppError::NotFound),
        Err(RemoveRefused::LastWayIn) => {
            return Err(AppError::Conflict(
                "this passkey is the account's last way to sign in; add another first",
            ))
        }
    }
    let detail = Some(format!("passkey {id}"));
    let kind = EventKind::Part("passkey_removed");
    audit(
        app,
        kind,
        account.id,
        actor_id.or(Some(account.id)),
        detail,
        client,
    )
    .await;
    super::notices::send(app, account, super::notices::Change::Removed, client);
    Ok(())
}

/// Starts a sign-in with a passkey and no username: the browser offers the
/// discoverable passkeys it holds for this site.
pub async fn start_sign_in(app: &App, client: &ClientInfo) -> Result<Started, AppError> {
    // Every login page view starts one (the autofill's request): a budget of its own,
    // so page views never spend the logins'.
    app.rate_limits.by_address(Limit::Ceremony, client).await?;
    let (options, authentication) = relying_party(app)?
        .start_discoverable_authentication()
        .map_err(internal("starting a passkey sign-in"))?;
    let options =
        serde_json::to_value(&options).map_err(|e| AppError::internal("passkey options", e))?;
    let state = serialised(&authentication)?;
    keep(app, Purpose::SignIn, None, None, state, options).await
}

/// Finishes a passkey sign-in: the account whose passkey answered, checked.
pub async fn finish_sign_in(
    app: &App,
    challenge_id: &str,
    response: &Value,
    client: &ClientInfo,
) -> Result<AccountRow, AppError> {
    // Each finish is a login attempt (per address, never per account).
    app.rate_limits.by_address(Limit::Login, client).await?;
    let credential = assertion(response)?;
    let ceremony = take(app, challenge_id, Purpose::SignIn, None).await?;
    let authentication: DiscoverableAuthentication = deserialised(&ceremony.state)?;
    let webauthn = relying_party(app)?;
    let Ok((handle, raw_id)) = webauthn.identify_discoverable_authentication(&credential) else {
        return Err(refused(app, None, "no user handle", client).await);
    };
    let credential_id = URL_SAFE_NO_PAD.encode(raw_id);
    let found =
        store::find_by_credential_and_handle(app.pool(), &credential_id, &handle.to_string())
            .await?;
    let Some((row, owner)) = found else {
        return Err(refused(app, None, "unknown passkey", client).await);
    };
    if owner != Some(row.account_id) {
        let reason = "user handle of another account";
        return Err(refused(app, Some(row.account_id), reason, client).await);
    }
    let passkey: Passkey = deserialised(&row.credential)?;
    let checked =
        webauthn.finish_discoverable_authentication_v2(&credential, authentication, &passkey);
    settle(app, row.clone(), passkey, checked, client).await?;
    crate::accounts::find_by_id(app.pool(), row.account_id)
        .await?
        .ok_or_else(|| PasskeyError::Refused.into())
}

/// Starts a ceremony for the account's own passkeys (`allowCredentials`), bound to
/// `session_id`: completing its pending login, or re-authenticating.
pub async fn start_for_account(
    app: &App,
    account: &AccountRow,
    session_id: &str,
    purpose: Purpose,
    client: &ClientInfo,
) -> Result<Started, AppError> {
    let limit = match purpose {
        Purpose::SecondFactor => Limit::Login,
        _ => Limit::Password,
    };
    app.rate_limits.by_address(limit, client).await?;
    let rows = store::list(app.pool(), account.id).await?;
    if rows.is_empty() {
        return Err(PasskeyError::NoPasskey.into());
    }
    let (options, authentication) = relying_party(app)?
        .start_passkey_authentication(&passkeys_of(&rows)?)
        .map_err(internal("starting a passkey check"))?;
    let options =
        serde_json::to_value(&options).map_err(|e| AppError::internal("passkey options", e))?;
    let state = serialised(&authentication)?;
    keep(
        app,
        purpose,
        Some(account.id),
        Some(session_id),
        state,
        options,
    )
    .await
}

/// Finishes a ceremony [`start_for_account`] started for this session: the account's
/// own passkey answered, with user verification.
pub async fn finish_for_account(
    app: &App,
    account_id: i64,
    session_id: &str,
    purpose: Purpose,
    challenge_id: &str,
    response: &Value,
    client: &ClientInfo,
) -> Result<(), AppError> {
    // Not counted again: each finish spends a ceremony whose start was counted.
    let credential = assertion(response)?;
    let ceremony = take(app, challenge_id, purpose, Some(session_id)).await?;
    if ceremony.account_id != Some(account_id) {
        return Err(PasskeyError::UnknownChallenge.into());
    }
    let authentication: PasskeyAuthentication = deserialised(&ceremony.state)?;
    let found = store::find_by_credential(app.pool(), &URL_SAFE_NO_PAD.encode(&credential.raw_id))
        .await?
        .filter(|row| row.account_id == account_id);
    let Some(row) = found else {
        return Err(refused(
            app,
            Some(account_id),
            "not a passkey of this account",
            client,
        )
        .await);
    };
    if let Some(handle) = credential.get_user_unique_id() {
        let owner = match Uuid::from_slice(handle) {
            Ok(handle) => store::account_of_handle(app.pool(), &handle.to_string()).await?,
            Err(_) => None,
        };
        if owner != Some(account_id) {
            let reason = "user handle of another account";
            return Err(refused(app, Some(account_id), reason, client).await);
        }
    }
    let passkey: Passkey = deserialised(&row.credential)?;
    let checked = relying_party(app)?.finish_passkey_authentication(&credential, &authentication);
    settle(app, row, passkey, checked, client).await
}

fn assertion(response: &Value) -> Result<PublicKeyCredential, AppError> {
    serde_json::from_value(response.clone())
        .map_err(|_| AppError::field("credential", "is not a WebAuthn assertion"))
}

/// Stores what a checked assertion says (counter, backup state), or refuses it. A
/// counter that did not move forward is a cloned authenticator or a replay.
async fn settle(
    app: &App,
    row: PasskeyRow,
    mut passkey: Passkey,
    checked: Result<webauthn_rs::prelude::AuthenticationResult, WebauthnError>,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let result = match checked {
        Ok(result) if result.user_verified() => result,
        Ok(_) => {
            return Err(refused(app, Some(row.account_id), "no user verification", client).await)
        }
        Err(WebauthnError::CredentialPossibleCompromise) => {
            let reason = "signature counter went backwards";
            return Err(refused(app, Some(row.account_id), reason, client).await);
        }
        Err(error) => {
            log::debug!("a passkey assertion was refused: {error}");
            let reason = "assertion did not verify";
            return Err(refused(app, Some(row.account_id), reason, client).await);
        }
    };
    passkey.update_credential(&result);
    let (counter, backed_up) = counter_and_backup(&passkey)?;
    let stored = serialised(&passkey)?;
    let now = app.now();
    if !store::record_use(app.pool(), row.id, counter, backed_up, &stored, now).await? {
        let reason = match store::find(app.pool(), row.account_id, row.id).await? {
            Some(_) => "signature counter went backwards",
            None => "passkey removed meanwhile",
        };
        return Err(refused(app, Some(row.account_id), reason, client).await);
    }
    Ok(())
}

/// Audits a refused assertion and gives the one answer every refusal gets. Refusals
/// are bounded by the rate limit on ceremony starts (each finish spends one); nothing
/// is counted against the account: a signature cannot be guessed, and counting would
/// let anyone lock an account out.
async fn refused(
    app: &App,
    account_id: Option<i64>,
    reason: &str,
    client: &ClientInfo,
) -> AppError {
    let detail = Some(format!("passkey: {reason}"));
    match account_id {
        Some(id) => audit_own(app, EventKind::LoginFailed, id, detail, client).await,
        None => {
            let event = crate::events::NewEvent {
                kind: EventKind::LoginFailed,
                account_id: None,
                actor_id: None,
                detail,
                client,
            };
            crate::events::record(app.pool(), event, app.now()).await;
        }
    }
    PasskeyError::Refused.into()
}

/// Whether the account has a passkey.
pub async fn has_passkeys(app: &App, account_id: i64) -> Result<bool, AppError> {
    Ok(store::count(app.pool(), account_id).await? > 0)
}

/// Removes every passkey of account `id` for an admin (staff on regular accounts,
/// superusers on any) or the CLI: how many there were.
pub async fn remove_all_for(
    app: &App,
    actor: &crate::admin::Actor,
    id: i64,
    client: &ClientInfo,
) -> Result<u64, AppError> {
    let target = crate::admin::find_account(app, id).await?;
    if actor.is(&target) {
        return Err(AppError::Forbidden(
            "remove your own passkeys from your account page",
        ));
    }
    actor.check_may_touch(&target, "only superusers can remove the passkeys of staff")?;
    remove_all(app, &target, actor.id(), client).await
}

/// Removes every passkey of the account for someone else (an admin, the CLI).
async fn remove_all(
    app: &App,
    account: &AccountRow,
    actor_id: Option<i64>,
    client: &ClientInfo,
) -> Result<u64, AppError> {
    if !crate::feature::hooks::keeps_a_way_in(app, account, super::NAME).await? {
        return Err(AppError::Conflict(
            "the passkeys are the account's only way to sign in; set a password first",
        ));
    }
    let removed = store::remove_all(app.pool(), account.id).await?;
    if removed > 0 {
        let by = if actor_id.is_some() {
            "an administrator"
        } else {
            "the CLI"
        };
        let detail = Some(format!("{}, by {by}", passkeys(removed)));
        let kind = EventKind::Part("passkey_removed");
        audit(app, kind, account.id, actor_id, detail, client).await;
        super::notices::send(app, account, super::notices::Change::Removed, client);
    }
    Ok(removed)
}

/// "1 passkey", "2 passkeys".
pub fn passkeys(count: u64) -> String {
    if count == 1 {
        "1 passkey".into()
    } else {
        format!("{count} passkeys")
    }
}

/// The account's passkeys for its export: names and dates, never key material.
pub fn exported(rows: &[PasskeyRow]) -> Value {
    Value::Array(rows.iter().map(shown).collect())
}

/// A passkey as the API shows it.
pub fn shown(row: &PasskeyRow) -> Value {
    json!({
        "id": row.id,
        "name": row.name,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "backed_up": row.backed_up,
    })
}
