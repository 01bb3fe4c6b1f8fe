//! `/api/notes`: the signed-in account's own notes, behind the `AuthAccount` guard.
//! Another account's note answers 404 `not_found`, never 403.

use super::flows::{self, note_id};
use super::model::{Note, MAX_JSON_BYTES};
use super::NotesSettings;
use crate::prelude::*;

type ApiResult<T> = Result<T, AppError>;

pub fn routes() -> Vec<Route> {
    routes![list, create, show, update, delete]
}

/// The feature's part of the API document: every route above, annotated below.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, show, update, delete), tags((name = "notes", description = "The worked example: your own notes.")))]
pub struct NotesApi;

/// One note.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "note": {
        "id": 7,
        "title": "Groceries",
        "body": "Eggs\nFlour\nMilk",
        "created_at": 1767225600,
        "updated_at": 1767229200
    }
})))]
pub struct NoteAnswer {
    note: Note,
}

/// A page of notes (newest first).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(examples(json!({
    "notes": [{
        "id": 7,
        "title": "Groceries",
        "body": "Eggs\nFlour\nMilk",
        "created_at": 1767225600,
        "updated_at": 1767229200
    }],
    "page": 1,
    "per_page": 20,
    "total": 1
})))]
pub struct NotesPage {
    notes: Vec<Note>,
    page: i64,
    per_page: i64,
    total: i64,
}

/// Lists the account's notes, newest first, a page at a time.
#[utoipa::path(
    context_path = "/api/notes",
    tag = "notes",
    params(
        ("page" = Option<i64>, Query, minimum = 1, maximum = 1000000, description = "From 1"),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 100, description = "From 1 to 100 (20)"),
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = NotesPage)),
)]
#[get("/?<page>&<per_page>")]
async fn list(
    app: &State<App>,
    me: AuthAccount,
    page: Option<&str>,
    per_page: Option<&str>,
) -> ApiResult<Json<Value>> {
    let listing = flows::list(app, me.account.id, Paging::parse(page, per_page)?).await?;
    Ok(Json(listing.to_json("notes")))
}

/// A new note: a title, and a body if wanted.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({ "title": "Groceries", "body": "Eggs\nFlour\nMilk" })))]
struct NewNote {
    /// One line of 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// Up to 10,000 characters; line breaks and tabs allowed. Empty by default.
    #[serde(default)]
    #[schema(max_length = 10000)]
    body: String,
}

/// Adds a note, within the account's `max_per_account`.
#[utoipa::path(
    context_path = "/api/notes",
    tag = "notes",
    request_body = NewNote,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 201, body = NoteAnswer),
        (status = 409, description = "`note_limit_reached`", body = ErrorBody),
    ),
)]
#[post("/", data = "<note>")]
async fn create(
    app: &State<App>,
    settings: &State<NotesSettings>,
    me: AuthAccount,
    note: JsonBody<NewNote, { MAX_JSON_BYTES }>,
) -> ApiResult<(Status, Json<NoteAnswer>)> {
    let note = flows::create(app, settings, me.account.id, &note.0.title, &note.0.body).await?;
    Ok((Status::Created, Json(NoteAnswer { note })))
}

/// Shows one of the account's notes.
#[utoipa::path(
    context_path = "/api/notes",
    tag = "notes",
    params(("id" = String, Path, pattern = r"^[0-9]{1,18}$", description = "The note id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = NoteAnswer),
        (status = 404, description = "`not_found` (also another account's note)", body = ErrorBody),
    ),
)]
#[get("/<id>")]
async fn show(app: &State<App>, me: AuthAccount, id: &str) -> ApiResult<Json<NoteAnswer>> {
    let note = flows::get(app, me.account.id, note_id(id)?).await?;
    Ok(Json(NoteAnswer { note }))
}

/// The fields a PATCH may change (at least one); absent ones stay, unknown ones are
/// refused.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({ "title": "Groceries for Sunday" })))]
struct NoteChange {
    /// One line of 1 to 200 characters; absent: unchanged.
    #[schema(min_length = 1, max_length = 200)]
    title: Option<String>,
    /// Up to 10,000 characters, line breaks and tabs allowed; absent: unchanged.
    #[schema(max_length = 10000)]
    body: Option<String>,
}

/// Changes a note's title or body.
#[utoipa::path(
    context_path = "/api/notes",
    tag = "notes",
    params(("id" = String, Path, pattern = r"^[0-9]{1,18}$", description = "The note id")),
    request_body = NoteChange,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = NoteAnswer),
    ),
)]
#[patch("/<id>", data = "<change>")]
async fn update(
    app: &State<App>,
    me: AuthAccount,
    id: &str,
    change: JsonBody<NoteChange, { MAX_JSON_BYTES }>,
) -> ApiResult<Json<NoteAnswer>> {
    let id = note_id(id)?;
    let change = change.0;
    let note = flows::update(
        app,
        me.account.id,
        id,
        change.title.as_deref(),
        change.body.as_deref(),
    )
    .await?;
    Ok(Json(NoteAnswer { note }))
}

/// Deletes a note; this needs a recent sign-in or re-authentication.
///
/// Deleting asks for a recent proof of the user (`Fresh`): the example of a sensitive
/// route of your own; a session that signed in within `reauthentication_max_age`, or
/// re-authenticated, passes.
#[utoipa::path(
    context_path = "/api/notes",
    tag = "notes",
    params(("id" = String, Path, pattern = r"^[0-9]{1,18}$", description = "The note id")),
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "`reauthentication_required` (Fresh), or a token error", body = ErrorBody),
    ),
)]
#[delete("/<id>")]
async fn delete(app: &State<App>, me: Fresh<AuthAccount>, id: &str) -> ApiResult<Status> {
    flows::delete(app, me.account.id, note_id(id)?).await?;
    Ok(Status::NoContent)
}
