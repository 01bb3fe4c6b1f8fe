//! What Gatehouse's flows ask of the installed parts and features: second factors,
//! page sections, ways to sign in, token claims, deletion and export. The flows reach
//! the list through the app's registry, so no core module names a part.

use serde_json::{Map, Value};

use super::Feature;
use crate::accounts::AccountRow;
use crate::app::App;
use crate::error::AppError;
use crate::sessions::ClientInfo;

/// The parts and features in the order of their lists, as the app state keeps them.
pub struct Installed(pub Vec<&'static dyn Feature>);

/// Every installed part and feature. A state opened without the list is an error,
/// never an empty list: no second factor would be due, so logins would skip them.
pub fn installed(app: &App) -> Result<&[&'static dyn Feature], AppError> {
    app.registry
        .get::<Installed>()
        .map(|installed| installed.0.as_slice())
        .ok_or_else(|| AppError::internal("the parts", "the app state was opened without them"))
}

/// A second factor a part offers: due after the password for some accounts, checked
/// on the pending login that `/api/auth/2fa/verify` (or the part's own routes)
/// completes, and accepted as proof at re-authentication.
#[rocket::async_trait]
pub trait SecondFactor: Send + Sync {
    /// Its name in the login answer's `methods` list (`totp`, `passkey`).
    fn method(&self) -> &'static str;

    /// Whether `account` must pass this factor after its password.
    async fn is_due(&self, app: &App, account: &AccountRow) -> Result<bool, AppError>;

    /// Whether it may complete `account`'s pending login (listed in the login answer's
    /// `methods`) when another factor made the login two-step. A passkey is never due
    /// by itself, but completes a TOTP account's login.
    async fn completes_pending(&self, app: &App, account: &AccountRow) -> Result<bool, AppError> {
        self.is_due(app, account).await
    }

    /// Whether it takes typed codes (at `/2fa/verify` and at re-authentication).
    fn takes_codes(&self) -> bool {
        false
    }

    /// Refuses before anything is counted when the account's codes cannot be checked
    /// at all (a key that changed): the holder is not at fault.
    async fn ready(&self, _app: &App, _account: &AccountRow) -> Result<(), AppError> {
        Ok(())
    }

    /// Checks and spends a code of a pending login: what was accepted (`totp`,
    /// `recovery code`), or `None` for a wrong, malformed or spent code. The caller
    /// has counted the attempt.
    async fn spend_code(
        &self,
        _app: &App,
        _account: &AccountRow,
        _code: &str,
        _client: &ClientInfo,
    ) -> Result<Option<&'static str>, AppError> {
        Ok(None)
    }

    /// Checks a code of the signed-in holder (counted by the lockout) for
    /// re-authentication; says what kind of proof it was.
    async fn prove_holder(
        &self,
        _app: &App,
        _account: &AccountRow,
        _code: &str,
        _client: &ClientInfo,
    ) -> Result<&'static str, AppError> {
        Err(AppError::field("code", "this account has no code to give"))
    }

    /// Checks the answer to a ceremony the holder of `session_id` started for
    /// re-authentication (a passkey assertion): what kind of proof it was, or `None`
    /// when `challenge_id` is none of this factor's.
    async fn prove_holder_by_ceremony(
        &self,
        _app: &App,
        _account: &AccountRow,
        _session_id: &str,
        _challenge_id: &str,
        _response: &Value,
        _client: &ClientInfo,
    ) -> Result<Option<&'static str>, AppError> {
        Ok(None)
    }

    /// Takes the factor off `account_id` for someone else (an admin, the CLI): only
    /// a regular account unless `may_touch_staff`. True when there was one.
    async fn reset(
        &self,
        _app: &App,
        _account_id: i64,
        _actor_id: Option<i64>,
        _may_touch_staff: bool,
        _client: &ClientInfo,
    ) -> Result<bool, AppError> {
        Ok(false)
    }
}

/// The second factors due for `account`, by method name, in the order of the lists.
pub async fn second_factors_due(
    app: &App,
    account: &AccountRow,
) -> Result<Vec<&'static dyn SecondFactor>, AppError> {
    let mut due = Vec::new();
    for factor in installed(app)?
        .iter()
        .filter_map(|part| part.second_factor())
    {
        if factor.is_due(app, account).await? {
            due.push(factor);
        }
    }
    Ok(due)
}

/// The names of the factors that may complete `account`'s pending login.
pub async fn pending_methods(
    app: &App,
    account: &AccountRow,
) -> Result<Vec<&'static str>, AppError> {
    let mut methods = Vec::new();
    for factor in installed(app)?
        .iter()
        .filter_map(|part| part.second_factor())
    {
        if factor.completes_pending(app, account).await? {
            methods.push(factor.method());
        }
    }
    Ok(methods)
}

/// Checks a ceremony's answer for re-authentication with whichever factor started
/// it; `None` when none did.
pub async fn prove_holder_by_ceremony(
    app: &App,
    account: &AccountRow,
    session_id: &str,
    challenge_id: &str,
    response: &Value,
    client: &ClientInfo,
) -> Result<Option<&'static str>, AppError> {
    for factor in installed(app)?
        .iter()
        .filter_map(|part| part.second_factor())
    {
        let proved = factor
            .prove_holder_by_ceremony(app, account, session_id, challenge_id, response, client)
            .await?;
        if proved.is_some() {
            return Ok(proved);
        }
    }
    Ok(None)
}

/// The due factor that takes typed codes, if any.
pub async fn code_factor(
    app: &App,
    account: &AccountRow,
) -> Result<Option<&'static dyn SecondFactor>, AppError> {
    Ok(second_factors_due(app, account)
        .await?
        .into_iter()
        .find(|factor| factor.takes_codes()))
}

/// Takes every second factor off an account (admin reset, `accounts disable-2fa`).
/// True when one was on.
pub async fn reset_second_factors(
    app: &App,
    account_id: i64,
    actor_id: Option<i64>,
    may_touch_staff: bool,
    client: &ClientInfo,
) -> Result<bool, AppError> {
    let mut any = false;
    for factor in installed(app)?
        .iter()
        .filter_map(|part| part.second_factor())
    {
        any |= factor
            .reset(app, account_id, actor_id, may_touch_staff, client)
            .await?;
    }
    Ok(any)
}

/// Who a token is minted for: what the claims hook is given.
pub struct TokenSubject<'a> {
    pub session_id: &'a str,
    pub account: &'a AccountRow,
}

/// The claims every part and feature adds, merged in list order (the first to name
/// a claim keeps it). Each one's are cleaned and capped on their own, so an
/// over-large set drops its owner's claims and never another's.
pub async fn claims(app: &App, subject: &TokenSubject<'_>) -> Result<Map<String, Value>, AppError> {
    let mut all = Map::new();
    for part in installed(app)? {
        let own = part.claims(app, subject).await?;
        if own.is_empty() {
            continue;
        }
        for (name, value) in crate::tokens::custom_claims(own, subject.account.id, part.name()) {
            all.entry(name).or_insert(value);
        }
    }
    Ok(all)
}

/// What a page section is rendered for: the account shown, and the CSRF token of the
/// section's forms.
pub struct SectionContext<'a> {
    /// The account the page shows (`None` on the login and registration pages).
    pub account: Option<&'a AccountRow>,
    pub csrf: &'a str,
    /// The session viewing its own account page (`None` elsewhere).
    pub session_id: Option<&'a str>,
    /// Where the login or registration page goes on afterwards (`next`).
    pub next: Option<&'a str>,
    /// The viewer may act on staff accounts (a superuser), on the admin view.
    pub viewer_is_superuser: bool,
}

/// Which page a section or slot goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The login page, under the password form (sign-in buttons).
    Login,
    /// The registration page, under its form.
    Registration,
    /// The signed-in account's own page.
    AccountPage,
    /// An account's page in the admin pages.
    AdminAccountView,
    /// The second step of a login (`/login/2fa`), for the pending account: other ways
    /// to finish it than a code.
    SecondStep,
    /// The re-authentication page (`/reauthenticate`): other proofs than the password.
    Reauthentication,
}

/// Shown in place of a section that failed: its controls are missing, and the
/// visitor should know rather than think the feature off.
const UNAVAILABLE: &str = "<section class=\"card\"><p class=\"field-error\">A part of this \
    page is unavailable. Reload it in a moment.</p></section>";

/// What the parts render for one slot of a page: their HTML, and the scripts it
/// needs (each once). A page with scripts loads them and allows scripts from its own
/// origin ([`crate::web::headers::SCRIPTED_POLICY`]); every other page runs none.
#[derive(Debug, Default)]
pub struct Sections {
    pub html: Vec<String>,
    pub scripts: Vec<&'static str>,
}

/// The sections every part renders for `slot`, in list order (HTML from their own
/// templates, escaped there). A section that fails is logged and replaced by a notice.
pub async fn sections(app: &App, slot: Slot, context: &SectionContext<'_>) -> Sections {
    let parts = match installed(app) {
        Ok(parts) => parts,
        Err(error) => {
            log::error!("{}", error.with_causes());
            return Sections {
                html: vec![UNAVAILABLE.to_string()],
                scripts: Vec::new(),
            };
        }
    };
    let mut html = Vec::new();
    let mut scripts = Vec::new();
    for part in parts {
        match part.section(app, slot, context).await {
            Ok(Some(section)) => {
                html.push(section);
                if let Some(script) = part.page_script(slot) {
                    if !scripts.contains(&script) {
                        scripts.push(script);
                    }
                }
            }
            Ok(None) => {}
            Err(error) => {
                log::error!(
                    "the {} section of `{}` failed: {}",
                    slot_name(slot),
                    part.name(),
                    error.with_causes()
                );
                html.push(UNAVAILABLE.to_string());
            }
        }
    }
    Sections { html, scripts }
}

fn slot_name(slot: Slot) -> &'static str {
    match slot {
        Slot::Login => "login-page",
        Slot::Registration => "registration-page",
        Slot::AccountPage => "account-page",
        Slot::AdminAccountView => "admin account-view",
        Slot::SecondStep => "second-step",
        Slot::Reauthentication => "re-authentication",
    }
}

/// The ways `account` can sign in now: `password` (Gatehouse's own) and each part
/// that says so. A part removing its way asks [`keeps_a_way_in`] first.
pub async fn ways_to_sign_in(
    app: &App,
    account: &AccountRow,
) -> Result<Vec<&'static str>, AppError> {
    let mut ways = Vec::new();
    if !account.password_hash.is_empty() {
        ways.push("password");
    }
    for part in installed(app)? {
        if part.signs_in(app, account).await? {
            ways.push(part.name());
        }
    }
    Ok(ways)
}

/// Whether `account` keeps a way to sign in without `leaving` (a part's name):
/// what a part checks before it removes an account's last credential of its kind.
pub async fn keeps_a_way_in(
    app: &App,
    account: &AccountRow,
    leaving: &str,
) -> Result<bool, AppError> {
    Ok(ways_to_sign_in(app, account)
        .await?
        .iter()
        .any(|way| *way != leaving))
}

/// Tells every part and feature that an account is gone (after the commit; its rows
/// went by cascade). Best effort: a failure is logged.
pub async fn account_deleted(app: &App, account_id: i64) {
    let parts = match installed(app) {
        Ok(parts) => parts,
        Err(error) => return log::error!("after deleting account {account_id}: {error}"),
    };
    for part in parts {
        if let Err(error) = part.account_deleted(app, account_id).await {
            log::error!(
                "`{}` after deleting account {account_id}: {}",
                part.name(),
                error.with_causes()
            );
        }
    }
}

/// The account's data each part and feature holds, keyed by its name.
pub async fn export(app: &App, account: &AccountRow) -> Result<Map<String, Value>, AppError> {
    let mut all = Map::new();
    for part in installed(app)? {
        if let Some(data) = part.export(app, account).await? {
            all.insert(part.name().to_string(), data);
        }
    }
    Ok(all)
}

/// What `doctor` found for one part: lines to print and how many are problems.
#[derive(Debug, Default)]
pub struct Checkup {
    pub lines: Vec<String>,
    pub problems: usize,
}
