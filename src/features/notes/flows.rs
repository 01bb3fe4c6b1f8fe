//! What can be done with notes, free of HTTP: the API, the page and the CLI call
//! these and answer the errors in their own way.

use super::model::{self, Note};
use super::NotesSettings;
use crate::prelude::*;

/// The notes feature's own errors; each says what it means to every boundary.
#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    #[error("this account already has {max} notes, the most it may keep; delete some first")]
    LimitReached { max: u32 },
    #[error("no account has the username or email {0:?}")]
    NoSuchAccount(String),
}

impl FeatureError for NoteError {
    fn status(&self) -> Status {
        match self {
            NoteError::LimitReached { .. } => Status::Conflict,
            NoteError::NoSuchAccount(_) => Status::NotFound,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            NoteError::LimitReached { .. } => "note_limit_reached",
            NoteError::NoSuchAccount(_) => "not_found",
        }
    }
}

/// The id of a path: anything that is not one names no note (404, like another
/// account's note, so ids reveal nothing).
pub fn note_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|_| AppError::NotFound)
}

pub async fn create(
    app: &App,
    settings: &NotesSettings,
    account_id: i64,
    title: &str,
    body: &str,
) -> Result<Note, AppError> {
    let (title, body) = model::clean(Some(title), Some(body))?;
    let (title, body) = (title.unwrap_or_default(), body.unwrap_or_default());
    let max = i64::from(settings.max_per_account);
    model::insert(app.pool(), account_id, &title, &body, max, app.now())
        .await?
        .ok_or_else(|| {
            NoteError::LimitReached {
                max: settings.max_per_account,
            }
            .into()
        })
}

pub async fn get(app: &App, account_id: i64, id: i64) -> Result<Note, AppError> {
    model::find(app.pool(), account_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// One page of the account's notes, newest first.
pub async fn list(app: &App, account_id: i64, page: Paging) -> Result<Listing<Note>, AppError> {
    let items = model::list(app.pool(), account_id, page.per_page, page.offset()).await?;
    let total = model::count(app.pool(), account_id).await?;
    Ok(Listing::new(items, page, total))
}

/// Changes the fields given (at least one).
pub async fn update(
    app: &App,
    account_id: i64,
    id: i64,
    title: Option<&str>,
    body: Option<&str>,
) -> Result<Note, AppError> {
    if title.is_none() && body.is_none() {
        return Err(AppError::field(
            "body",
            "give at least one of title and body",
        ));
    }
    let (title, body) = model::clean(title, body)?;
    let now = app.now();
    model::update(
        app.pool(),
        account_id,
        id,
        title.as_deref(),
        body.as_deref(),
        now,
    )
    .await?
    .ok_or(AppError::NotFound)
}

pub async fn delete(app: &App, account_id: i64, id: i64) -> Result<(), AppError> {
    if model::delete(app.pool(), account_id, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Every note of the account, newest first (the CLI's export).
pub async fn all(app: &App, account_id: i64) -> Result<Vec<Note>, AppError> {
    let mut notes = Vec::new();
    for number in 1.. {
        let page = Paging {
            page: number,
            per_page: Paging::MAX_PER_PAGE,
        };
        let batch = model::list(app.pool(), account_id, page.per_page, page.offset()).await?;
        let done = (batch.len() as i64) < page.per_page;
        notes.extend(batch);
        if done {
            break;
        }
    }
    Ok(notes)
}
