//! Account administration, shared by the admin API and the CLI: listing, blocking,
//! unlocking, role changes, password resets and deletion, with the rules of who may
//! do what. Free of HTTP, like [`crate::auth`].
//!
//! The rules: staff may list and inspect accounts, and block, unblock, unlock,
//! (de)activate and reset the 2FA of regular accounts; acting on staff or superusers is
//! for superusers, and only superusers change roles, set passwords or delete accounts.
//! Nobody can block, deactivate, demote or delete themselves, and the last active
//! superuser cannot be demoted, deactivated, blocked or deleted by anyone. Each rule
//! about the target's state is part of the guarded statement that acts, so it holds
//! however many admins act at once. The CLI acts as the `Operator`, a superuser.

use crate::accounts::{self, Account, AccountDetail, AccountRow, AccountSearch, Flags};
use crate::app::App;
use crate::audit::audit;
use crate::auth;
use crate::error::{AppError, FieldErrors};
use crate::events::{self, Event, EventKind};
pub use crate::paging::{Keyset, Listing, Paging};
use crate::sessions::ClientInfo;
use crate::text::TextRule;

/// Longest block reason, in characters.
pub const MAX_BLOCK_REASON_CHARS: usize = 500;

/// Longest account search, in bytes: the longest email address.
pub const MAX_SEARCH_BYTES: usize = 254;

/// The acting admin as the database has it now, not as the guard's cache saw it up to
/// `session_cache_ms` ago: a demotion or block made elsewhere stops admin actions at once.
pub async fn current_admin(app: &App, account_id: i64) -> Result<Actor, AppError> {
    let row = accounts::find_by_id(app.pool(), account_id).await?;
    match row {
        Some(row) if !row.is_blocked() && row.is_active && (row.is_staff || row.is_superuser) => {
            Ok(Actor::Admin(row.into()))
        }
        _ => Err(AppError::Forbidden("this needs a staff account")),
    }
}

/// Who is acting.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A signed-in staff member or superuser, through the admin API.
    Admin(Account),
    /// Whoever runs the CLI against the database: trusted with everything.
    Operator,
}

impl Actor {
    /// The acting account, recorded in the audit trail (`None` for the CLI).
    pub fn id(&self) -> Option<i64> {
        match self {
            Actor::Admin(account) => Some(account.id),
            Actor::Operator => None,
        }
    }

    pub fn is_superuser(&self) -> bool {
        match self {
            Actor::Admin(account) => account.is_superuser,
            Actor::Operator => true,
        }
    }

    pub fn is(&self, row: &AccountRow) -> bool {
        self.id() == Some(row.id)
    }

    /// Refuses a staff member's action on another staff member or a superuser (the
    /// statement that acts checks it again).
    pub fn check_may_touch(
        &self,
        target: &AccountRow,
        action: &'static str,
    ) -> Result<(), AppError> {
        if (target.is_staff || target.is_superuser) && !self.is_superuser() {
            return Err(AppError::Forbidden(action));
        }
        Ok(())
    }
}

/// Accounts matching `search` (all when empty; see [`AccountSearch`] for what
/// matches), oldest first: numbered pages within the first [`accounts::COUNT_LIMIT`]
/// matches, or the page after the account `after` at any depth.
pub async fn list_accounts(
    app: &App,
    search: &str,
    page: Paging,
    after: Option<i64>,
) -> Result<Listing<AccountDetail>, AppError> {
    // Nothing longer can match a username or an email; checked in bytes before any
    // normalisation, so a huge query never becomes a huge pattern.
    if search.len() > MAX_SEARCH_BYTES {
        return Err(AppError::field(
            "q",
            format!("must be at most {MAX_SEARCH_BYTES} bytes"),
        ));
    }
    if after.is_some() && page.page > 1 {
        return Err(AppError::field(
            "page",
            "give either page or after, not both",
        ));
    }
    if page.offset() >= accounts::COUNT_LIMIT {
        return Err(AppError::field(
            "page",
            format!(
                "numbered pages reach the first {} accounts; continue with after (next_after)",
                accounts::COUNT_LIMIT
            ),
        ));
    }
    let Some(search) = AccountSearch::of(search) else {
        return Err(AppError::field(
            "q",
            format!(
                "must be empty (every account) or at least {} characters",
                AccountSearch::MIN_CHARS
            ),
        ));
    };
    // One more than the page: whether there is a next one.
    let mut rows = accounts::search_accounts(
        &app.db,
        &search,
        after.unwrap_or(0),
        page.per_page + 1,
        page.offset(),
    )
    .await?;
    let more = rows.len() as i64 > page.per_page;
    rows.truncate(page.per_page as usize);
    // A page from the start that reaches the last match has counted them itself; a
    // search for one account then costs one index lookup, not two.
    let counted = if after.is_none() && !more && (!rows.is_empty() || page.offset() == 0) {
        page.offset() + rows.len() as i64
    } else {
        accounts::count_accounts(&app.db, &search).await?
    };
    let keyset = Keyset {
        next_after: more.then(|| rows.last().map(|row| row.id)).flatten(),
        total_exact: counted <= accounts::COUNT_LIMIT,
    };
    let now = app.now();
    let items = rows
        .into_iter()
        .map(|row| AccountDetail::new(row, now))
        .collect();
    let total = counted.min(accounts::COUNT_LIMIT);
    Ok(Listing::new(items, page, total).with_keyset(keyset))
}

/// Why a guarded statement on `id` changed nothing: it is the last active superuser,
/// or it changed since it was read.
async fn refusal_of_guarded_change(app: &App, id: i64, changed: &'static str) -> AppError {
    let target = match accounts::find_by_id(app.pool(), id).await {
        Ok(Some(target)) => target,
        Ok(None) => return AppError::NotFound,
        Err(error) => return error.into(),
    };
    let active_superuser = target.is_superuser && target.is_active && !target.is_blocked();
    match accounts::count_active_superusers(app.pool()).await {
        Ok(count) if active_superuser && count <= 1 => AppError::Conflict(
            "this is the last active superuser; make another account superuser first",
        ),
        Ok(_) => AppError::Conflict(changed),
        Err(error) => error.into(),
    }
}

/// The account `id`, or `NotFound`.
pub async fn find_account(app: &App, id: i64) -> Result<AccountRow, AppError> {
    accounts::find_by_id(app.pool(), id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The account a LOGIN (username or email, any case) names, or `NotFound`.
pub async fn find_account_by_login(app: &App, login: &str) -> Result<AccountRow, AppError> {
    accounts::find_by_login(app.pool(), login)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn account_detail(app: &App, id: i64) -> Result<AccountDetail, AppError> {
    Ok(AccountDetail::new(find_account(app, id).await?, app.now()))
}

/// Checks a block reason: required, one line of at most `MAX_BLOCK_REASON_CHARS`
/// characters, no control or invisible characters (it is shown in lists and the CLI,
/// where a line break could forge a row).
pub fn check_block_reason(reason: &str) -> Result<String, AppError> {
    const RULE: TextRule = TextRule {
        max_chars: MAX_BLOCK_REASON_CHARS,
        min_chars: 1,
        multiline: false,
    };
    RULE.clean(reason).map_err(|problem| {
        AppError::Validation(FieldErrors::from([("reason".to_string(), problem)]))
    })
}

/// Blocks the account and revokes all its sessions, so its tokens stop working on
/// their next request.
pub async fn block(
    app: &App,
    actor: &Actor,
    id: i64,
    reason: &str,
    client: &ClientInfo,
) -> Result<AccountDetail, AppError> {
    let reason = check_block_reason(reason)?;
    let reason = reason.as_str();
    let target = find_account(app, id).await?;
    if actor.is(&target) {
        return Err(AppError::Forbidden("you cannot block your own account"));
    }
    actor.check_may_touch(&target, "only superusers can block staff")?;
    if target.is_blocked() {
        return Err(AppError::Conflict("the account is already blocked"));
    }
    let blocked = accounts::block_account(
        &app.db,
        id,
        actor.id(),
        reason,
        actor.is_superuser(),
        app.now(),
    )
    .await?;
    if !blocked {
        return Err(refusal_of_guarded_change(
            app,
            id,
            "the account changed meanwhile (blocked or promoted); look again",
        )
        .await);
    }
    audit(
        app,
        EventKind::AccountBlocked,
        id,
        actor.id(),
        Some(reason.to_string()),
        client,
    )
    .await;
    auth::revoke_other_sessions(app, id, None, "account_blocked", actor.id(), client).await?;
    account_detail(app, id).await
}

pub async fn unblock(
    app: &App,
    actor: &Actor,
    id: i64,
    client: &ClientInfo,
) -> Result<AccountDetail, AppError> {
    let target = find_account(app, id).await?;
    if actor.is(&target) {
        return Err(AppError::Forbidden("you cannot unblock your own account"));
    }
    actor.check_may_touch(&target, "only superusers can unblock staff")?;
    let unblocked =
        accounts::unblock_account(app.pool(), id, actor.is_superuser(), app.now()).await?;
    if !unblocked {
        return Err(AppError::Conflict("the account is not blocked"));
    }
    app.session_cache.forget_account(id);
    audit(
        app,
        EventKind::AccountUnblocked,
        id,
        actor.id(),
        None,
        client,
    )
    .await;
    account_detail(app, id).await
}

/// Clears the failed-login counter and any lock.
pub async fn unlock(
    app: &App,
    actor: &Actor,
    id: i64,
    client: &ClientInfo,
) -> Result<AccountDetail, AppError> {
    let target = find_account(app, id).await?;
    // Unlocking a colleague over and over would let staff guess their password.
    actor.check_may_touch(&target, "only superusers can unlock staff")?;
    if !accounts::unlock_account(app.pool(), id, actor.is_superuser()).await? {
        return Err(AppError::Conflict(
            "the account changed meanwhile (deleted or promoted); look again",
        ));
    }
    let detail = Some(format!(
        "{} failed attempts cleared{}",
        target.failed_logins,
        if target.locked_at.is_some() {
            ", lock lifted"
        } else {
            ""
        }
    ));
    audit(
        app,
        EventKind::AccountUnlocked,
        id,
        actor.id(),
        detail,
        client,
    )
    .await;
    account_detail(app, id).await
}

/// The flags a PATCH asks to change; absent ones stay as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlagChange {
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    pub is_superuser: Option<bool>,
}

/// Changes activation and roles. Deactivating revokes the account's sessions; any
/// change is seen by the guards at once.
pub async fn update_flags(
    app: &App,
    actor: &Actor,
    id: i64,
    change: FlagChange,
    client: &ClientInfo,
) -> Result<AccountDetail, AppError> {
    if change.is_active.is_none() && change.is_staff.is_none() && change.is_superuser.is_none() {
        return Err(AppError::Validation(FieldErrors::from([(
            "body".to_string(),
            "give at least one of is_active, is_staff and is_superuser".to_string(),
        )])));
    }
    let target = find_account(app, id).await?;
    let role_change = change.is_staff.is_some() || change.is_superuser.is_some();
    if role_change && !actor.is_superuser() {
        return Err(AppError::Forbidden("only superusers can change roles"));
    }
    actor.check_may_touch(&target, "only superusers can change staff")?;
    let old = target.flags();
    let new = Flags {
        is_active: change.is_active.unwrap_or(old.is_active),
        is_staff: change.is_staff.unwrap_or(old.is_staff),
        is_superuser: change.is_superuser.unwrap_or(old.is_superuser),
    };
    let demotes_itself = (old.is_staff && !new.is_staff)
        || (old.is_superuser && !new.is_superuser)
        || (old.is_active && !new.is_active);
    if actor.is(&target) && demotes_itself {
        return Err(AppError::Forbidden(
            "you cannot deactivate your own account or remove your own roles",
        ));
    }
    if new == old {
        return Ok(AccountDetail::new(target, app.now()));
    }
    if !accounts::update_flags(&app.db, id, old, new, app.now()).await? {
        return Err(refusal_of_guarded_change(
            app,
            id,
            "the account changed meanwhile; look again",
        )
        .await);
    }
    app.session_cache.forget_account(id);
    let mut roles = Vec::new();
    if old.is_staff != new.is_staff {
        roles.push(format!("is_staff: {} -> {}", old.is_staff, new.is_staff));
    }
    if old.is_superuser != new.is_superuser {
        roles.push(format!(
            "is_superuser: {} -> {}",
            old.is_superuser, new.is_superuser
        ));
    }
    if !roles.is_empty() {
        let detail = Some(roles.join(", "));
        audit(app, EventKind::RolesChanged, id, actor.id(), detail, client).await;
    }
    if old.is_active != new.is_active {
        let kind = if new.is_active {
            EventKind::AccountActivated
        } else {
            EventKind::AccountDeactivated
        };
        audit(app, kind, id, actor.id(), None, client).await;
    }
    if !new.is_active {
        auth::revoke_other_sessions(app, id, None, "account_deactivated", actor.id(), client)
            .await?;
    }
    account_detail(app, id).await
}

/// Deletes an account and, with it, its sessions. Its audit trail stays.
pub async fn delete(
    app: &App,
    actor: &Actor,
    id: i64,
    client: &ClientInfo,
) -> Result<(), AppError> {
    if !actor.is_superuser() {
        return Err(AppError::Forbidden("only superusers can delete accounts"));
    }
    let target = find_account(app, id).await?;
    if actor.is(&target) {
        return Err(AppError::Forbidden("you cannot delete your own account"));
    }
    if !accounts::delete_account(&app.db, id).await? {
        return Err(refusal_of_guarded_change(
            app,
            id,
            "the account changed meanwhile; look again",
        )
        .await);
    }
    app.session_cache.forget_account(id);
    crate::feature::hooks::account_deleted(app, id).await;
    let detail = Some(format!("{} <{}>", target.username, target.email));
    audit(
        app,
        EventKind::AccountDeleted,
        id,
        actor.id(),
        detail,
        client,
    )
    .await;
    Ok(())
}

/// Switches 2FA off for a user who lost their device. Staff can do it to regular
/// accounts only, and nobody to themselves (that would skip their own second factor).
pub async fn reset_two_factor(
    app: &App,
    actor: &Actor,
    id: i64,
    client: &ClientInfo,
) -> Result<AccountDetail, AppError> {
    let target = find_account(app, id).await?;
    if actor.is(&target) {
        return Err(AppError::Forbidden(
            "turn your own two-factor authentication off with /api/auth/2fa/disable",
        ));
    }
    actor.check_may_touch(
        &target,
        "only superusers can reset the two-factor authentication of staff",
    )?;
    let reset = crate::feature::hooks::reset_second_factors(
        app,
        id,
        actor.id(),
        actor.is_superuser(),
        client,
    )
    .await?;
    if !reset {
        return Err(AppError::Conflict(
            "two-factor authentication is not on for this account",
        ));
    }
    account_detail(app, id).await
}

/// Sets a new password (superusers and the CLI only) and signs the account out.
pub async fn set_password(
    app: &App,
    actor: &Actor,
    id: i64,
    password: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    if !actor.is_superuser() {
        return Err(AppError::Forbidden("only superusers can set passwords"));
    }
    find_account(app, id).await?;
    auth::reset_password(app, id, password, actor.id(), client).await
}

/// The account's audit trail, newest first; a deleted account's trail stays readable.
pub async fn account_events(app: &App, id: i64, page: Paging) -> Result<Listing<Event>, AppError> {
    let total = events::count_for_account(app.pool(), id).await?;
    if total == 0 {
        find_account(app, id).await?;
    }
    let items = events::list_for_account(app.pool(), id, page.per_page, page.offset()).await?;
    Ok(Listing::new(items, page, total))
}
