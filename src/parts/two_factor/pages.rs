//! The part's pages: the account holder's setup (a QR code, then a first code),
//! new recovery codes and switching it off, the account-page section that offers
//! them, and the admin's reset with its section on the admin account view.

use crate::prelude::*;
use rocket::response::Redirect;

use super::flows;
use crate::accounts::AccountRow;
use crate::feature::hooks::SectionContext;
use crate::sessions::ClientInfo;

pub fn routes() -> Vec<Route> {
    routes![
        setup_two_factor,
        setup_two_factor_page,
        enable_two_factor,
        regenerate_recovery_codes,
        disable_two_factor,
        reset_two_factor,
    ]
}

#[derive(Template)]
#[template(path = "two_factor/account_section.html")]
struct AccountSection<'a> {
    csrf: &'a str,
    username: &'a str,
    enabled: bool,
    recovery_codes_left: i64,
}

/// The account page's section: the state, and the forms that change it.
pub async fn account_section(
    app: &App,
    account: &AccountRow,
    context: &SectionContext<'_>,
) -> Result<String, AppError> {
    let status = flows::status(app, account.id).await?;
    AccountSection {
        csrf: context.csrf,
        username: &account.username,
        enabled: status.enabled,
        recovery_codes_left: status.recovery_codes_left,
    }
    .render()
    .map_err(|error| AppError::internal("rendering the two-factor section", error))
}

#[derive(Template)]
#[template(path = "two_factor/admin_section.html")]
struct AdminSection<'a> {
    csrf: &'a str,
    id: i64,
    enabled: bool,
    /// The viewer may reset it: staff accounts' only by a superuser.
    may_reset: bool,
}

/// The admin account view's section: the state, and the reset for a lost device.
pub fn admin_section(
    account: &AccountRow,
    context: &SectionContext<'_>,
) -> Result<String, AppError> {
    AdminSection {
        csrf: context.csrf,
        id: account.id,
        enabled: account.totp_enabled_at.is_some(),
        may_reset: context.viewer_is_superuser || !(account.is_staff || account.is_superuser),
    }
    .render()
    .map_err(|error| AppError::internal("rendering the two-factor admin section", error))
}

/// Resets 2FA for a user who lost their device, with Gatehouse's admin rules (see
/// [`crate::admin::reset_two_factor`]), and goes back to the account's page.
#[post("/admin/accounts/<id>/2fa/disable", data = "<_form>")]
async fn reset_two_factor(
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
    match crate::admin::reset_two_factor(app, &actor, id, &client).await {
        Ok(_) => Page::Feedback(
            Feedback::success("Two-factor authentication is off for this account.").redirect(back),
        ),
        Err(error) => Page::failed(&error, &back),
    }
}

#[derive(FromForm)]
struct PasswordOnly {
    #[field(default = String::new())]
    password: String,
}

#[post("/account/2fa/setup", data = "<form>")]
async fn setup_two_factor(
    app: &State<App>,
    client: ClientInfo,
    me: SignedIn,
    form: CsrfForm<PasswordOnly>,
) -> Page {
    let form = form.0;
    match flows::setup(
        app,
        me.account.id,
        &me.session_id,
        Some(&form.password),
        &client,
    )
    .await
    {
        Ok(_) => Page::Redirect(Redirect::to(uri!(setup_two_factor_page))),
        Err(AppError::Validation(_)) => Page::Feedback(
            Feedback::error("Wrong password: two-factor authentication was not set up.")
                .redirect("/account"),
        ),
        Err(error) => Page::failed(&error, "/account"),
    }
}

#[derive(Template)]
#[template(path = "two_factor/setup.html")]
struct SetupTemplate {
    layout: Layout,
    qr_svg: String,
    secret: String,
}

#[get("/account/2fa/setup")]
async fn setup_two_factor_page(app: &State<App>, me: SignedIn) -> Page {
    match flows::pending_enrolment(app, me.account.id, &me.session_id).await {
        Ok(Some(enrolment)) => Page::render(&SetupTemplate {
            layout: me.layout("Set up two-factor authentication"),
            qr_svg: enrolment.qr_svg,
            secret: enrolment.secret_base32,
        }),
        Ok(None) => Page::Redirect(Redirect::to("/account")),
        Err(error) => Page::failed(&error, "/account"),
    }
}

#[derive(Template)]
#[template(path = "two_factor/recovery_codes.html")]
struct RecoveryCodesTemplate {
    layout: Layout,
    codes: Vec<String>,
}

/// The recovery codes, shown once: rendered straight in answer to the POST, never
/// stored where a later page could show them again.
fn recovery_codes_page(me: &SignedIn, codes: Vec<String>, message: &str) -> Page {
    let mut layout = me.layout("Recovery codes");
    layout.feedback = Feedback::success(message);
    Page::render(&RecoveryCodesTemplate { layout, codes })
}

#[derive(FromForm)]
struct CodeOnly {
    #[field(default = String::new())]
    code: String,
}

#[post("/account/2fa/enable", data = "<form>")]
async fn enable_two_factor(
    app: &State<App>,
    client: ClientInfo,
    me: SignedIn,
    form: CsrfForm<CodeOnly>,
) -> Page {
    let form = form.0;
    match flows::enable(app, me.account.id, &me.session_id, &form.code, &client).await {
        Ok(codes) => recovery_codes_page(&me, codes, "Two-factor authentication is on."),
        Err(error @ AppError::InvalidOtp { .. }) => Page::Feedback(
            Feedback::error(format!(
                "{} Try the code your app shows now.",
                error.sentence()
            ))
            .redirect("/account/2fa/setup"),
        ),
        Err(error) => Page::failed(&error, "/account"),
    }
}

#[post("/account/2fa/recovery-codes", data = "<form>")]
async fn regenerate_recovery_codes(
    app: &State<App>,
    client: ClientInfo,
    me: SignedIn,
    form: CsrfForm<CodeOnly>,
) -> Page {
    let form = form.0;
    match flows::regenerate_recovery_codes(app, me.account.id, &form.code, &client).await {
        Ok(codes) => recovery_codes_page(
            &me,
            codes,
            "New recovery codes: the old ones no longer work.",
        ),
        Err(error) => Page::failed(&error, "/account"),
    }
}

#[derive(FromForm)]
struct DisableForm {
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    code: String,
}

#[post("/account/2fa/disable", data = "<form>")]
async fn disable_two_factor(
    app: &State<App>,
    client: ClientInfo,
    me: SignedIn,
    form: CsrfForm<DisableForm>,
) -> Page {
    let form = form.0;
    match flows::disable(
        app,
        me.account.id,
        Some(&form.password),
        &form.code,
        &client,
    )
    .await
    {
        Ok(()) => Page::Feedback(
            Feedback::success("Two-factor authentication is off.").redirect("/account"),
        ),
        Err(AppError::Validation(_)) => Page::Feedback(
            Feedback::error("Wrong password: two-factor authentication is still on.")
                .redirect("/account"),
        ),
        Err(error) => Page::failed(&error, "/account"),
    }
}
