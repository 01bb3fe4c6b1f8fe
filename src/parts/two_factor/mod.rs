//! The two-factor part: TOTP codes from an authenticator app, with single-use
//! recovery codes. It offers a second factor (`totp`) to Gatehouse's pending login
//! and to re-authentication, the holder's routes and pages, a section of the account
//! page and of the admin account view, the admins' reset, and a `doctor` check.
//! Its settings keep their `two_factor_*` names in the `gatehouse` table; its columns
//! and `recovery_codes` table are in Gatehouse's own migrations.

pub mod api;
pub mod codes;
pub mod crypto;
pub mod flows;
pub mod pages;
pub mod settings;
pub mod store;

use serde_json::json;

use crate::config::Profile;
use crate::feature::hooks::{Checkup, SecondFactor};
use crate::prelude::*;
use crate::sessions::ClientInfo;
use crypto::TwoFactorKeys;
use settings::TwoFactorSettings;

pub struct TwoFactor;

/// What the part keeps in the app's registry; the keys stay inside the part.
pub struct TwoFactorState {
    pub(crate) settings: TwoFactorSettings,
    pub(crate) keys: TwoFactorKeys,
}

/// The part's state; an error only in an app state opened without its parts.
pub fn state(app: &App) -> Result<&TwoFactorState, AppError> {
    app.registry
        .get::<TwoFactorState>()
        .ok_or_else(|| AppError::internal("two-factor", "the part was not started"))
}

fn read_settings(setup: &Setup<'_>) -> Result<TwoFactorSettings, ConfigError> {
    let raw = setup.gatehouse(settings::Raw::defaults(setup.profile()))?;
    TwoFactorSettings::from_raw(raw, setup.profile(), &setup.settings.tokens.secret)
}

/// Whether the part is on; an error (never "off") when its state is missing, so a
/// state opened without it fails closed rather than skipping enrolled accounts' codes.
fn enabled(app: &App) -> Result<bool, AppError> {
    Ok(state(app)?.settings.two_factor_enabled)
}

#[rocket::async_trait]
impl Feature for TwoFactor {
    fn name(&self) -> &'static str {
        "two_factor"
    }

    fn gatehouse_settings(&self, profile: Profile) -> Value {
        serde_json::to_value(settings::Raw::defaults(profile)).unwrap_or(Value::Null)
    }

    fn stage(&self, setup: &Setup<'_>) -> Result<AdHoc, ConfigError> {
        let settings = read_settings(setup)?;
        let pages = setup.pages;
        Ok(AdHoc::on_ignite("Two-factor", move |rocket| async move {
            if !settings.two_factor_enabled {
                return rocket;
            }
            if settings.two_factor_key_is_ephemeral {
                log::warn!(
                    "no two_factor_key configured: using a random one for this run, so 2FA \
                     enrolments will not survive a restart; set {}TWO_FACTOR_KEY",
                    crate::config::ENV_PREFIX
                );
            }
            let rocket = rocket
                .mount(
                    "/api/auth",
                    routes![
                        api::status,
                        api::setup,
                        api::enable,
                        api::recovery_codes,
                        api::disable,
                        crate::api::second_step::verify,
                    ],
                )
                .mount("/api/admin", routes![api::reset_two_factor]);
            if pages {
                rocket.mount("/", pages::routes())
            } else {
                rocket
            }
        }))
    }

    fn openapi(&self, setup: &Setup<'_>) -> Option<utoipa::openapi::OpenApi> {
        use utoipa::OpenApi;
        let on = read_settings(setup).is_ok_and(|settings| settings.two_factor_enabled);
        on.then(api::TwoFactorApi::openapi)
    }

    fn start(&self, setup: &Setup<'_>, registry: &mut Registry) -> Result<(), ConfigError> {
        let settings = read_settings(setup)?;
        let keys = TwoFactorKeys::derive(&settings.two_factor_key);
        registry.insert(TwoFactorState { settings, keys });
        Ok(())
    }

    fn second_factor(&self) -> Option<&'static dyn SecondFactor> {
        Some(&Totp)
    }

    async fn section(
        &self,
        app: &App,
        slot: Slot,
        context: &SectionContext<'_>,
    ) -> Result<Option<String>, AppError> {
        if !enabled(app)? {
            return Ok(None);
        }
        match (slot, context.account) {
            (Slot::AccountPage, Some(account)) => pages::account_section(app, account, context)
                .await
                .map(Some),
            (Slot::AdminAccountView, Some(account)) => {
                pages::admin_section(account, context).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Whether it is on, and how many recovery codes are left; never the secret.
    async fn export(&self, app: &App, account: &AccountRow) -> Result<Option<Value>, AppError> {
        if !enabled(app)? {
            return Ok(None);
        }
        let status = flows::status(app, account.id).await?;
        Ok(Some(json!({
            "enabled": status.enabled,
            "enabled_at": account.totp_enabled_at,
            "recovery_codes_left": status.recovery_codes_left,
        })))
    }

    async fn doctor(&self, app: &App) -> Result<Option<Checkup>, AppError> {
        let state = state(app)?;
        let settings = &state.settings;
        if settings.two_factor_key_is_ephemeral {
            if settings.two_factor_enabled {
                return Err(AppError::Bare {
                    status: Status::Conflict,
                    message: format!(
                        "{}TWO_FACTOR_KEY is not set, so there is nothing to check against. \
                         Give the doctor the server's settings.",
                        crate::config::ENV_PREFIX
                    ),
                });
            }
            let line = "Two-factor: off, and no two_factor_key is set; not checked.";
            return Ok(Some(Checkup {
                lines: vec![line.into()],
                problems: 0,
            }));
        }
        let accounts = flows::unopenable_secrets(app).await?;
        let mut checkup = Checkup {
            problems: accounts.len(),
            ..Checkup::default()
        };
        if accounts.is_empty() {
            checkup.lines.push(
                "Two-factor: every enrolled account's TOTP secret opens under two_factor_key."
                    .into(),
            );
        }
        for (id, username) in accounts {
            let username = crate::text::shown(&username);
            checkup.lines.push(format!(
                "Two-factor: the TOTP secret of {username} (id {id}) does not open under \
                 two_factor_key; restore the key it was sealed with, or run `{} accounts \
                 disable-2fa {username}`.",
                env!("CARGO_PKG_NAME"),
            ));
        }
        Ok(Some(checkup))
    }
}

/// TOTP as a second factor: due for an enrolled account while the part is on.
struct Totp;

#[rocket::async_trait]
impl SecondFactor for Totp {
    fn method(&self) -> &'static str {
        "totp"
    }

    async fn is_due(&self, app: &App, account: &AccountRow) -> Result<bool, AppError> {
        Ok(enabled(app)? && account.totp_enabled_at.is_some())
    }

    fn takes_codes(&self) -> bool {
        true
    }

    /// A secret that no longer opens takes no attempt, whatever was presented: a key
    /// that changed breaks the recovery codes too.
    async fn ready(&self, app: &App, account: &AccountRow) -> Result<(), AppError> {
        flows::secret_of(app, account).map(drop)
    }

    async fn spend_code(
        &self,
        app: &App,
        account: &AccountRow,
        code: &str,
        client: &ClientInfo,
    ) -> Result<Option<&'static str>, AppError> {
        let secret = flows::secret_of(app, account)?;
        let method = flows::spend_code(app, account, secret, code, true).await?;
        if method == Some(flows::Method::RecoveryCode) {
            let left = store::recovery_codes_left(app.pool(), account.id).await?;
            let detail = Some(format!("{left} left"));
            let kind = crate::events::EventKind::RecoveryCodeUsed;
            crate::audit::audit_own(app, kind, account.id, detail, client).await;
        }
        Ok(method.map(flows::Method::name))
    }

    async fn prove_holder(
        &self,
        app: &App,
        account: &AccountRow,
        code: &str,
        client: &ClientInfo,
    ) -> Result<&'static str, AppError> {
        flows::prove_holder(app, account, code, client).await
    }

    async fn reset(
        &self,
        app: &App,
        account_id: i64,
        actor_id: Option<i64>,
        may_touch_staff: bool,
        client: &ClientInfo,
    ) -> Result<bool, AppError> {
        flows::reset(app, account_id, actor_id, may_touch_staff, client).await
    }
}
