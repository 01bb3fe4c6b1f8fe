//! Claims your app adds to every access token Gatehouse mints (at login, after the
//! second factor, at each refresh), computed from the account: what another service
//! reading the token should know without asking (a tenant, roles). The registered
//! claims and Gatehouse's own ([`crate::tokens::RESERVED_CLAIMS`]) are never
//! overridden, and the whole is capped at [`crate::tokens::MAX_CUSTOM_CLAIMS_BYTES`]
//! (beyond it the custom claims are left out and the fact logged). Your routes read
//! them from the guards: `account.custom_claims()`.
//!
//! The example: the account's roles, as a list.

use serde_json::{json, Map, Value};

use crate::accounts::AccountRow;

pub fn access_token_claims(account: &AccountRow) -> Map<String, Value> {
    let mut roles = Vec::new();
    if account.is_staff {
        roles.push("staff");
    }
    if account.is_superuser {
        roles.push("superuser");
    }
    let mut claims = Map::new();
    claims.insert("roles".into(), json!(roles));
    claims
}
