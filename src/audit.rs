//! Recording what happened to an account in the audit trail ([`crate::events`] holds
//! the table), for the flows: who acted (the account itself, an admin, or nobody for
//! the CLI and the system) and from where.

use crate::app::App;
use crate::events::{self, EventKind, NewEvent};
use crate::sessions::ClientInfo;

/// Records an event the account caused itself (its own login, logout, 2FA change).
pub async fn audit_own(
    app: &App,
    kind: EventKind,
    account_id: i64,
    detail: Option<String>,
    client: &ClientInfo,
) {
    audit(app, kind, account_id, Some(account_id), detail, client).await;
}

/// Records an event about `account_id` (see [`events`]).
pub async fn audit(
    app: &App,
    kind: EventKind,
    account_id: i64,
    actor_id: Option<i64>,
    detail: Option<String>,
    client: &ClientInfo,
) {
    let event = NewEvent {
        kind,
        account_id: Some(account_id),
        actor_id,
        detail,
        client,
    };
    events::record(app.pool(), event, app.now()).await;
}
