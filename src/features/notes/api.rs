//! `/api/notes`: the signed-in account's own notes, behind the `AuthAccount` guard.
//! Another account's note answers 404 `not_found`, never 403.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::flows::{self, note_id};
use super::model::MAX_JSON_BYTES;
use super::NotesSettings;
use crate::api::body::JsonBody;
use crate::app::App;
use crate::error::AppError;
use crate::guards::{AuthAccount, Fresh};
use crate::paging::Page;

type ApiResult<T> = Result<T, AppError>;

pub fn routes() -> Vec<Route> {
    routes![list, create, show, update, delete]
}

#[get("/?<page>&<per_page>")]
async fn list(
    app: &State<App>,
    me: AuthAccount,
    page: Option<&str>,
    per_page: Option<&str>,
) -> ApiResult<Json<Value>> {
    let listing = flows::list(app, me.account.id, Page::parse(page, per_page)?).await?;
    Ok(Json(listing.to_json("notes")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNote {
    title: String,
    #[serde(default)]
    body: String,
}

#[post("/", data = "<note>")]
async fn create(
    app: &State<App>,
    settings: &State<NotesSettings>,
    me: AuthAccount,
    note: JsonBody<NewNote, { MAX_JSON_BYTES }>,
) -> ApiResult<(Status, Json<Value>)> {
    let note = flows::create(app, settings, me.account.id, &note.0.title, &note.0.body).await?;
    Ok((Status::Created, Json(json!({ "note": note }))))
}

#[get("/<id>")]
async fn show(app: &State<App>, me: AuthAccount, id: &str) -> ApiResult<Json<Value>> {
    let note = flows::get(app, me.account.id, note_id(id)?).await?;
    Ok(Json(json!({ "note": note })))
}

/// The fields a PATCH may change; absent ones stay, unknown ones are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteChange {
    title: Option<String>,
    body: Option<String>,
}

#[patch("/<id>", data = "<change>")]
async fn update(
    app: &State<App>,
    me: AuthAccount,
    id: &str,
    change: JsonBody<NoteChange, { MAX_JSON_BYTES }>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({ "note": note })))
}

/// Deleting asks for a recent proof of the user (`Fresh`): the example of a sensitive
/// route of your own; a session that signed in within `reauthentication_max_age`, or
/// re-authenticated, passes.
#[delete("/<id>")]
async fn delete(app: &State<App>, me: Fresh<AuthAccount>, id: &str) -> ApiResult<Status> {
    flows::delete(app, me.account.id, note_id(id)?).await?;
    Ok(Status::NoContent)
}
