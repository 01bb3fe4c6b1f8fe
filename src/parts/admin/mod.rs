//! The admin part: account administration for staff, as JSON (`/api/admin`) and as
//! pages (`/admin`), over Gatehouse's own rules ([`crate::admin`]), which the CLI
//! shares. It also adds the `roles` claim to access tokens, and bounds the searches
//! one instance runs at once.

pub mod api;
pub mod pages;

use rocket::tokio::sync::Semaphore;

use crate::accounts::{AccountDetail, AccountSearch};
use crate::prelude::*;

pub struct Admin;

/// Account searches one instance runs at once; more wait their turn.
pub const CONCURRENT_SEARCHES: usize = 2;

/// The turns of [`CONCURRENT_SEARCHES`], kept in the app's registry.
struct SearchTurns(Semaphore);

#[rocket::async_trait]
impl Feature for Admin {
    fn name(&self) -> &'static str {
        "admin"
    }

    fn stage(&self, setup: &Setup<'_>) -> Result<AdHoc, ConfigError> {
        let pages = setup.pages;
        Ok(AdHoc::on_ignite("Admin", move |rocket| async move {
            let rocket = rocket.mount("/api/admin", api::routes());
            if pages {
                rocket.mount("/", pages::routes())
            } else {
                rocket
            }
        }))
    }

    fn openapi(&self, _setup: &Setup<'_>) -> Option<utoipa::openapi::OpenApi> {
        use utoipa::OpenApi;
        Some(api::AdminApi::openapi())
    }

    fn start(&self, _setup: &Setup<'_>, registry: &mut Registry) -> Result<(), ConfigError> {
        registry.insert(SearchTurns(Semaphore::new(CONCURRENT_SEARCHES)));
        Ok(())
    }

    /// The account's roles, as a list: what another service reading the token needs
    /// to know without asking.
    async fn claims(
        &self,
        _app: &App,
        subject: &TokenSubject<'_>,
    ) -> Result<serde_json::Map<String, Value>, AppError> {
        let account = subject.account;
        let mut roles = Vec::new();
        if account.is_staff {
            roles.push("staff");
        }
        if account.is_superuser {
            roles.push("superuser");
        }
        let mut claims = serde_json::Map::new();
        claims.insert("roles".into(), serde_json::json!(roles));
        Ok(claims)
    }
}

/// [`crate::admin::list_accounts`] for the API and the pages: a search whose trigrams
/// every account shares reads their whole lists, so a burst of them waits its turn
/// rather than taking every core from sign-ins.
pub async fn list_accounts(
    app: &App,
    search: &str,
    page: Paging,
    after: Option<i64>,
) -> Result<Listing<AccountDetail>, AppError> {
    // Over-long queries are refused by the core before anything normalises them.
    let searching = search.len() <= crate::admin::MAX_SEARCH_BYTES
        && matches!(AccountSearch::of(search), Some(AccountSearch::Contains(_)));
    let _turn = if searching {
        let turns = app
            .registry
            .get::<SearchTurns>()
            .ok_or_else(|| AppError::internal("admin search", "the part was not started"))?;
        Some(
            turns
                .0
                .acquire()
                .await
                .map_err(|error| AppError::internal("admin search", error))?,
        )
    } else {
        None
    };
    crate::admin::list_accounts(app, search, page, after).await
}
