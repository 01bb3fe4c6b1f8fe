//! The security notice a passkey change sends to the account's address (through
//! Gatehouse's mail rules: only to a proven address, throttled, folded into a digest
//! past the limit), unless `notify_passkey_changes` is off.

use crate::email::notices::{self, Notice};
use crate::email::Mailroom;
use crate::prelude::*;
use crate::sessions::ClientInfo;

#[derive(Debug, Clone, Copy)]
pub enum Change {
    Added,
    Removed,
}

/// Sends the notice of `change` in the background; nothing when it is switched off.
pub fn send(app: &App, account: &AccountRow, change: Change, client: &ClientInfo) {
    match super::state(app) {
        Ok(state) if state.settings.notify_changes => {}
        _ => return,
    }
    let brand = crate::config::brand();
    let notice = match change {
        Change::Added => Notice::Part {
            purpose: "notice_passkey_added",
            subject: format!("A passkey was added to your {brand} account"),
            headline: format!(
                "A passkey was added to your {brand} account. It signs in without the password."
            ),
        },
        Change::Removed => Notice::Part {
            purpose: "notice_passkey_removed",
            subject: format!("A passkey was removed from your {brand} account"),
            headline: format!("A passkey was removed from your {brand} account."),
        },
    };
    notices::send(&Mailroom::of(app), account, notice, client);
}
