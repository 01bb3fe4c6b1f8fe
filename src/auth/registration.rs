//! Opening an account: the checks of a registration (names, address, password policy)
//! and the account made from it, with its verification mail.

use super::*;

/// What `register` needs, as the user typed it.
pub struct Registration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    /// Optional; empty leaves it unset.
    pub display_name: Option<&'a str>,
    /// An SPA's target for the verification link (see `link_allowlist`).
    pub redirect_to: Option<&'a str>,
}

/// A registration's input, validated.
pub struct ValidRegistration {
    pub username: Username,
    pub email: Email,
    pub display_name: Option<DisplayName>,
}

/// Validates the input and creates an account (not staff, not superuser).
pub async fn register(
    app: &App,
    input: &Registration<'_>,
    client: &ClientInfo,
) -> Result<Account, AppError> {
    if !app.settings.service.registration_open {
        return Err(AppError::RegistrationClosed);
    }
    app.rate_limits.by_address(Limit::Register, client).await?;
    let target = crate::email::check_link_target(app, input.redirect_to)?;
    let account = create_account(app, input, false, None, client).await?;
    // The account stands whatever happens to the message (it can be sent again).
    match accounts::find_by_id(app.pool(), account.id).await {
        Ok(Some(row)) => {
            if let Err(error) = crate::email::verification::send(app, &row, target.as_deref()).await
            {
                log::warn!("no verification link for account {}: {error}", account.id);
            }
        }
        Ok(None) => {}
        Err(error) => log::warn!("no verification link for account {}: {error}", account.id),
    }
    Ok(account)
}

/// Creates an account, staff and superuser when `superuser`, and records who did it
/// (`actor_id` `None` for self-registration and the CLI).
pub async fn create_account(
    app: &App,
    input: &Registration<'_>,
    superuser: bool,
    actor_id: Option<i64>,
    client: &ClientInfo,
) -> Result<Account, AppError> {
    let valid = validate_registration(app, input).await?;
    let hash = app.hasher.hash(input.password).await?;
    let new = NewAccount {
        username: &valid.username,
        email: &valid.email,
        display_name: valid.display_name.as_ref(),
        password_hash: &hash,
        is_staff: superuser,
        is_superuser: superuser,
        email_verified: superuser,
    };
    let account = accounts::insert_account(app.pool(), &new, app.now()).await?;
    let detail = superuser.then(|| "superuser".to_string());
    audit(
        app,
        EventKind::AccountCreated,
        account.id,
        actor_id,
        detail,
        client,
    )
    .await;
    Ok(account)
}

/// Checks every field, reporting all problems at once.
pub async fn validate_registration(
    app: &App,
    input: &Registration<'_>,
) -> Result<ValidRegistration, AppError> {
    let mut errors = FieldErrors::new();
    let username = Username::parse(input.username)
        .map_err(|e| errors.insert("username".into(), e))
        .ok();
    let email = Email::parse(input.email)
        .map_err(|e| errors.insert("email".into(), e))
        .ok();
    let display_name = DisplayName::parse(input.display_name.unwrap_or(""))
        .map_err(|e| errors.insert("display_name".into(), e))
        .ok()
        .flatten();
    let owner = Owner {
        username: input.username,
        email: input.email,
    };
    if let Some(objection) = objection_to_password(app, input.password, &owner).await? {
        errors.insert("password".into(), objection);
    }
    match (username, email) {
        (Some(username), Some(email)) if errors.is_empty() => Ok(ValidRegistration {
            username,
            email,
            display_name,
        }),
        _ => Err(AppError::Validation(errors)),
    }
}

/// What the password policy (see [`crate::password::policy`]) has against a new
/// password, if anything, then the breach check when it is on. The estimate runs on
/// the hashing threads, within their queue's bound (503 `server_busy` past it).
pub async fn objection_to_password(
    app: &App,
    password: &str,
    owner: &Owner<'_>,
) -> Result<Option<String>, AppError> {
    let typed = password.to_owned();
    let (username, email) = (owner.username.to_owned(), owner.email.to_owned());
    let settings = app.settings.passwords.clone();
    let ticket = app.hasher.ticket()?;
    let verdict = ticket
        .run(move || {
            let owner = Owner {
                username: &username,
                email: &email,
            };
            policy::check(&typed, &owner, &settings)
        })
        .await?
        .unwrap_or_else(|| {
            log::warn!("the password strength estimate failed on a new password");
            Err("could not be checked; please choose another".into())
        });
    if let Err(objection) = verdict {
        return Ok(Some(objection));
    }
    if let Some(check) = &app.breach_check {
        let times = check.times_breached(&policy::normalize(password)).await;
        if times > 0 {
            return Ok(Some(format!(
                "appears in known data breaches ({times} time{}); choose another",
                if times == 1 { "" } else { "s" }
            )));
        }
    }
    Ok(None)
}

/// Registration through the pages: the account, and a session for it (the visitor has
/// just chosen the password), unless `email_verification_required` has them verify
/// the address first. The API's registration answers 201 without a session.
pub async fn register_and_sign_in(
    app: &App,
    input: &Registration<'_>,
    client: &ClientInfo,
) -> Result<(Account, Option<IssuedTokens>), AppError> {
    let account = register(app, input, client).await?;
    if app.settings.mail.email_verification_required {
        return Ok((account, None));
    }
    let row = accounts::find_by_id(app.pool(), account.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tokens = open_session(app, &row, false, Proved::Password, client).await?;
    Ok((account, Some(tokens)))
}
