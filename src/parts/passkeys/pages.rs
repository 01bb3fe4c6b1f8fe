//! The part's pages: the passkey button on the login page, the account page's list
//! (rename and remove work as plain forms; adding one needs the script), the admin
//! account view's count and removal, and the script itself.

use std::sync::LazyLock;

use rocket::http::Header;

use super::flows;
use super::store::PasskeyRow;
use crate::prelude::*;
use crate::sessions::ClientInfo;

/// The script, compiled into the binary.
const SCRIPT: &str = include_str!("passkeys.js");

/// Its path, stamped with a digest of its text: a new version is a new path, so it
/// may be cached for good.
static SCRIPT_PATH: LazyLock<String> = LazyLock::new(|| {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, SCRIPT.as_bytes());
    let stamp: String = digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("/static/passkeys/{stamp}/passkeys.js")
});

pub fn script_path() -> &'static str {
    SCRIPT_PATH.as_str()
}

pub fn routes() -> Vec<Route> {
    routes![script, rename, remove, admin_remove_all]
}

/// The script with its cache header: its path changes with its text.
#[derive(rocket::Responder)]
#[response(content_type = "text/javascript")]
struct Script {
    text: &'static str,
    cache: Header<'static>,
}

/// The script, at its stamped path only (an old stamp is a 404, never old code).
#[get("/static/passkeys/<stamp>/passkeys.js")]
fn script(stamp: &str) -> Option<Script> {
    let current = format!("/static/passkeys/{stamp}/passkeys.js");
    (current == script_path()).then(|| Script {
        text: SCRIPT,
        cache: Header::new("Cache-Control", "public, max-age=31536000, immutable"),
    })
}

/// A passkey as the other proof: `second-step` or `reauth`.
#[derive(Template)]
#[template(path = "passkeys/step_section.html")]
struct StepSection<'a> {
    kind: &'a str,
    csrf: &'a str,
    next: &'a str,
}

#[derive(Template)]
#[template(path = "passkeys/login_section.html")]
struct LoginSection<'a> {
    next: &'a str,
}

struct Line {
    id: i64,
    name: String,
    created: String,
    last_used: String,
    backed_up: bool,
}

impl Line {
    fn of(row: &PasskeyRow) -> Line {
        Line {
            id: row.id,
            name: row.name.clone(),
            created: format!("{} UTC", utc_minute(row.created_at)),
            last_used: row
                .last_used_at
                .map_or_else(|| "never".into(), |at| format!("{} UTC", utc_minute(at))),
            backed_up: row.backed_up,
        }
    }
}

#[derive(Template)]
#[template(path = "passkeys/account_section.html")]
struct AccountSection<'a> {
    csrf: &'a str,
    passkeys: Vec<Line>,
    full: bool,
}

#[derive(Template)]
#[template(path = "passkeys/admin_section.html")]
struct AdminSection<'a> {
    csrf: &'a str,
    id: i64,
    count: i64,
    /// Staff accounts' passkeys only by a superuser.
    may_remove: bool,
}

fn rendered(template: &impl Template, what: &'static str) -> Result<Option<String>, AppError> {
    template
        .render()
        .map(Some)
        .map_err(|error| AppError::internal(what, error))
}

/// The part's section of `slot`.
pub async fn section(
    app: &App,
    slot: Slot,
    context: &SectionContext<'_>,
) -> Result<Option<String>, AppError> {
    match (slot, context.account) {
        (Slot::Login, _) => rendered(
            &LoginSection {
                next: context.next.unwrap_or(""),
            },
            "rendering the passkey button",
        ),
        (Slot::AccountPage, Some(account)) => {
            let rows = flows::list(app, account.id).await?;
            let max = super::state(app)?.settings.max_per_account as usize;
            let section = AccountSection {
                csrf: context.csrf,
                full: rows.len() >= max,
                passkeys: rows.iter().map(Line::of).collect(),
            };
            rendered(&section, "rendering the passkeys section")
        }
        (Slot::AdminAccountView, Some(account)) => {
            let count = super::store::count(app.pool(), account.id).await?;
            let section = AdminSection {
                csrf: context.csrf,
                id: account.id,
                count,
                may_remove: context.viewer_is_superuser
                    || !(account.is_staff || account.is_superuser),
            };
            rendered(&section, "rendering the admin passkeys section")
        }
        (Slot::SecondStep | Slot::Reauthentication, Some(account)) => {
            if !flows::has_passkeys(app, account.id).await? {
                return Ok(None);
            }
            let kind = if slot == Slot::SecondStep {
                "second-step"
            } else {
                "reauth"
            };
            let section = StepSection {
                kind,
                csrf: context.csrf,
                next: context.next.unwrap_or(""),
            };
            rendered(&section, "rendering the passkey step")
        }
        _ => Ok(None),
    }
}

#[derive(FromForm)]
struct RenameForm {
    #[field(default = String::new())]
    name: String,
}

#[post("/account/passkeys/<id>/rename", data = "<form>")]
async fn rename(app: &State<App>, me: SignedIn, id: i64, form: CsrfForm<RenameForm>) -> Page {
    match flows::rename(app, me.account.id, id, &form.0.name).await {
        Ok(_) => Page::Feedback(Feedback::success("The passkey was renamed.").redirect("/account")),
        // The section has no field of its own to show the reason beside: say it.
        Err(AppError::Validation(fields)) => {
            let reason = fields.values().next().cloned().unwrap_or_default();
            let sentence = format!("The passkey's name {reason}.");
            Page::Feedback(Feedback::error(sentence).redirect("/account"))
        }
        Err(error) => Page::failed(&error, "/account"),
    }
}

#[post("/account/passkeys/<id>/remove", data = "<_form>")]
async fn remove(
    app: &State<App>,
    client: ClientInfo,
    me: FreshPage<SignedIn>,
    id: i64,
    _form: CsrfForm<CsrfOnly>,
) -> Page {
    let account = match crate::accounts::find_by_id(app.pool(), me.0.account.id).await {
        Ok(Some(row)) => row,
        Ok(None) => return Page::failed(&AppError::SessionRevoked, "/account"),
        Err(error) => return Page::failed(&AppError::from(error), "/account"),
    };
    match flows::remove(app, &account, id, Some(account.id), &client).await {
        Ok(()) => {
            Page::Feedback(Feedback::success("The passkey was removed.").redirect("/account"))
        }
        Err(error) => Page::failed(&error, "/account"),
    }
}

/// Removes every passkey of an account for a user who lost them, with Gatehouse's
/// admin rules, and goes back to the account's page.
#[post("/admin/accounts/<id>/passkeys/remove", data = "<_form>")]
async fn admin_remove_all(
    app: &State<App>,
    client: ClientInfo,
    me: FreshPage<StaffPage>,
    id: i64,
    _form: CsrfForm<CsrfOnly>,
) -> Page {
    let back = format!("/admin/accounts/{id}");
    let actor = match crate::admin::current_admin(app, me.0 .0.account.id).await {
        Ok(actor) => actor,
        Err(_) => return crate::web::error_page(Status::Forbidden),
    };
    match flows::remove_all_for(app, &actor, id, &client).await {
        Ok(removed) => Page::Feedback(
            Feedback::success(format!("Removed {}.", flows::passkeys(removed))).redirect(back),
        ),
        Err(error) => Page::failed(&error, &back),
    }
}
