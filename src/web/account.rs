//! `/account`: the signed-in person's profile, password, sessions and two-factor
//! authentication.

use askama::Template;
use rocket::form::FromForm;
use rocket::{Route, State};

use super::feedback::Feedback;
use super::visitor::{CsrfForm, SignedIn};
use super::{CsrfOnly, Layout, Page};
use crate::app::App;
use crate::auth;
use crate::clock::utc_minute as when;
use crate::error::AppError;
use crate::feature::hooks::{self, SectionContext, Slot};
use crate::sessions::{self, ClientInfo};

/// The account routes; the email ones only when mail is on (else 404). The parts
/// mount their own (two-factor setup, say) and add sections to the page.
pub fn routes(mail: bool) -> Vec<Route> {
    let mut routes = routes![
        account,
        reauthenticate_page,
        reauthenticate,
        update_profile,
        change_password,
        revoke_session,
        revoke_other_sessions
    ];
    if mail {
        routes.extend(routes![resend_verification, change_email]);
    }
    routes
}

/// The banner's button: a new verification link to the account's address.
#[post("/account/email/resend", data = "<_form>")]
async fn resend_verification(app: &State<App>, me: SignedIn, _form: CsrfForm<CsrfOnly>) -> Page {
    match crate::email::verification::resend(app, me.account.id, None).await {
        Ok(()) => Page::Feedback(
            Feedback::success(format!(
                "We sent a new link to {}. It may take a minute to arrive.",
                me.account.email
            ))
            .redirect("/account"),
        ),
        Err(error) => Page::failed(&error, "/account"),
    }
}

#[derive(FromForm)]
struct EmailForm {
    #[field(default = String::new())]
    new_email: String,
    #[field(default = String::new())]
    password: String,
}

/// Asks to change the address: a link to the new one confirms it.
#[post("/account/email", data = "<form>")]
async fn change_email(
    app: &State<App>,
    me: SignedIn,
    client: ClientInfo,
    form: CsrfForm<EmailForm>,
) -> Page {
    let form = form.0;
    let outcome = crate::email::change::request(
        app,
        me.account.id,
        &form.new_email,
        &form.password,
        None,
        &client,
    )
    .await;
    match outcome {
        Ok(()) => Page::Feedback(
            Feedback::success(format!(
                "We sent a link to {} (if no other account uses it). Your address changes when                  you open it; until then it stays {}.",
                form.new_email.trim(),
                me.account.email
            ))
            .redirect("/account"),
        ),
        Err(error) if error.is_internal() => Page::failed(&error, "/account"),
        Err(error) => Page::Feedback(
            Feedback::of(&error)
                .keep("new_email", &form.new_email)
                .redirect("/account"),
        ),
    }
}

#[derive(Template)]
#[template(path = "reauthenticate.html")]
struct ReauthenticateTemplate {
    layout: Layout,
    username: String,
    next: String,
    /// A second factor of the account takes codes: one will do instead of the password.
    code: bool,
    /// The parts' other proofs (see `Slot::Reauthentication`).
    sections: Vec<String>,
}

/// Asks for the password again before a sensitive action (see `FreshPage`).
#[get("/reauthenticate?<next>")]
pub(crate) async fn reauthenticate_page(
    app: &State<App>,
    me: SignedIn,
    next: Option<&str>,
) -> Page {
    let row = match crate::accounts::find_by_id(app.pool(), me.account.id).await {
        Ok(Some(row)) => row,
        Ok(None) => return Page::failed(&AppError::SessionRevoked, "/login"),
        Err(error) => return Page::failed(&AppError::from(error), "/account"),
    };
    let code = matches!(hooks::code_factor(app, &row).await, Ok(Some(_)));
    let mut layout = me.layout("Confirm it is you");
    let next = super::visitor::safe_next(next).unwrap_or("").to_string();
    let context = SectionContext {
        account: Some(&row),
        csrf: &layout.csrf,
        session_id: Some(&me.session_id),
        next: Some(&next),
        viewer_is_superuser: false,
    };
    let sections = hooks::sections(app, Slot::Reauthentication, &context).await;
    layout.scripts = sections.scripts.clone();
    Page::render_with(
        &ReauthenticateTemplate {
            layout,
            username: me.account.username.clone(),
            next,
            code,
            sections: sections.html,
        },
        &sections.scripts,
    )
}

#[derive(FromForm)]
struct ReauthenticateForm {
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    code: String,
    #[field(default = String::new())]
    next: String,
}

#[post("/reauthenticate", data = "<form>")]
async fn reauthenticate(
    app: &State<App>,
    me: SignedIn,
    client: ClientInfo,
    form: CsrfForm<ReauthenticateForm>,
) -> Page {
    use crate::reauthentication::Proof;
    let form = form.0;
    let next = super::visitor::safe_next(Some(&form.next)).unwrap_or("/account");
    let proof = match (form.password.is_empty(), form.code.trim().is_empty()) {
        (true, false) => Proof::Code(form.code.trim()),
        _ => Proof::Password(&form.password),
    };
    let outcome =
        crate::reauthentication::reauthenticate(app, me.account.id, &me.session_id, proof, &client)
            .await;
    match outcome {
        Ok(_) => Page::Feedback(
            Feedback::success("Thank you. You can go on (repeat the action if it was a form).")
                .redirect(next),
        ),
        Err(error) => {
            let back = uri!(reauthenticate_page(next = Some(next)));
            Page::failed(&error, &back.to_string())
        }
    }
}

struct SessionLine {
    id: String,
    device: String,
    ip: String,
    last_used: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountTemplate {
    layout: Layout,
    username: String,
    email: String,
    display_name: String,
    member_since: String,
    sessions: Vec<SessionLine>,
    /// The parts' sections (two-factor, say), rendered from their own templates.
    sections: Vec<String>,
    /// Mail is on: the address can be changed here.
    mail: bool,
}

#[get("/account")]
async fn account(app: &State<App>, me: SignedIn) -> Page {
    let (account, session_id) = (&me.account, &me.session_id);
    let rows = match sessions::list_live_sessions(app.pool(), me.account.id, app.now()).await {
        Ok(rows) => rows,
        Err(error) => return Page::failed(&AppError::from(error), "/account"),
    };
    let row = match crate::accounts::find_by_id(app.pool(), me.account.id).await {
        Ok(Some(row)) => row,
        Ok(None) => return Page::failed(&AppError::SessionRevoked, "/account"),
        Err(error) => return Page::failed(&AppError::from(error), "/account"),
    };
    let mut layout = me.layout("Your account");
    let context = SectionContext {
        account: Some(&row),
        csrf: &layout.csrf,
        next: None,
        session_id: Some(session_id),
        viewer_is_superuser: false,
    };
    let sections = hooks::sections(app, Slot::AccountPage, &context).await;
    layout.scripts = sections.scripts.clone();
    let sessions = rows
        .iter()
        .map(|row| SessionLine {
            id: row.id.clone(),
            device: row
                .user_agent
                .clone()
                .unwrap_or_else(|| "Unknown device".into()),
            ip: row.ip.clone().unwrap_or_default(),
            last_used: when(row.last_used_at),
            current: &row.id == session_id,
        })
        .collect();
    Page::render_with(
        &AccountTemplate {
            layout,
            username: account.username.clone(),
            email: account.email.clone(),
            display_name: account.display_name.clone().unwrap_or_default(),
            member_since: when(account.created_at),
            sessions,
            sections: sections.html,
            mail: app.settings.mail.enabled(),
        },
        &sections.scripts,
    )
}

#[derive(FromForm)]
struct ProfileForm {
    #[field(default = String::new())]
    display_name: String,
}

#[post("/account/profile", data = "<form>")]
async fn update_profile(app: &State<App>, me: SignedIn, form: CsrfForm<ProfileForm>) -> Page {
    let form = form.0;
    match auth::update_display_name(app, me.account.id, &form.display_name).await {
        Ok(_) => Page::Feedback(Feedback::success("Your profile is saved.").redirect("/account")),
        Err(error) => Page::failed(&error, "/account"),
    }
}

#[derive(FromForm)]
struct PasswordForm {
    #[field(default = String::new())]
    current_password: String,
    #[field(default = String::new())]
    new_password: String,
}

#[post("/account/password", data = "<form>")]
async fn change_password(
    app: &State<App>,
    client: ClientInfo,
    me: SignedIn,
    form: CsrfForm<PasswordForm>,
) -> Page {
    let form = form.0;
    match auth::change_password(
        app,
        me.account.id,
        &me.session_id,
        &form.current_password,
        &form.new_password,
        &client,
    )
    .await
    {
        Ok(()) => Page::Feedback(
            Feedback::success("Your password is changed; your other devices are signed out.")
                .redirect("/account"),
        ),
        Err(error) => Page::failed(&error, "/account"),
    }
}

#[post("/account/sessions/<id>/revoke", data = "<_form>")]
async fn revoke_session(
    app: &State<App>,
    client: ClientInfo,
    me: SignedIn,
    id: &str,
    _form: CsrfForm<CsrfOnly>,
) -> Page {
    match auth::revoke_own_session(app, me.account.id, id, &client).await {
        Ok(true) => {
            Page::Feedback(Feedback::success("That device is signed out.").redirect("/account"))
        }
        Ok(false) => {
            Page::Feedback(Feedback::error("That session had already ended.").redirect("/account"))
        }
        Err(error) => Page::failed(&error, "/account"),
    }
}

#[post("/account/sessions/revoke-others", data = "<_form>")]
async fn revoke_other_sessions(
    app: &State<App>,
    client: ClientInfo,
    me: SignedIn,
    _form: CsrfForm<CsrfOnly>,
) -> Page {
    let revoked = auth::revoke_other_sessions(
        app,
        me.account.id,
        Some(&me.session_id),
        "revoked_by_owner",
        Some(me.account.id),
        &client,
    )
    .await;
    match revoked {
        Ok(count) => Page::Feedback(
            Feedback::success(format!(
                "Signed out everywhere else ({count} session{}).",
                if count == 1 { "" } else { "s" }
            ))
            .redirect("/account"),
        ),
        Err(error) => Page::failed(&error, "/account"),
    }
}
