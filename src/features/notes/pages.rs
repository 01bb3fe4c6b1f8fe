//! `/notes`: the signed-in account's notes, a form to add one and a button to delete
//! each. The guards do the checking: `SignedIn` sends anonymous visitors to log in and
//! back, `CsrfForm` refuses a form without this browser's token.

use super::flows::{self, note_id};
use super::model::{Note, MAX_FORM_BYTES};
use super::NotesSettings;
use crate::prelude::*;

pub fn routes() -> Vec<Route> {
    routes![notes, add, remove]
}

/// A note as the page shows it.
struct NoteLine {
    id: i64,
    title: String,
    body: String,
    written: String,
}

impl From<Note> for NoteLine {
    fn from(note: Note) -> NoteLine {
        NoteLine {
            id: note.id,
            title: note.title,
            body: note.body,
            written: utc_minute(note.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "notes/notes.html")]
struct NotesTemplate {
    layout: Layout,
    notes: Vec<NoteLine>,
    total: i64,
    page: i64,
    pages: i64,
}

#[get("/notes?<page>")]
async fn notes(app: &State<App>, me: SignedIn, page: Option<&str>) -> Page {
    let paging = Paging::parse(page, None).unwrap_or(Paging {
        page: 1,
        per_page: Paging::DEFAULT_PER_PAGE,
    });
    match flows::list(app, me.account.id, paging).await {
        Ok(listing) => Page::render(&NotesTemplate {
            layout: me.layout("Notes"),
            total: listing.total,
            page: listing.page,
            pages: listing.pages(),
            notes: listing.items.into_iter().map(NoteLine::from).collect(),
        }),
        Err(error) => Page::failed(&error, "/notes"),
    }
}

#[derive(FromForm)]
struct NoteForm {
    #[field(default = String::new())]
    title: String,
    #[field(default = String::new())]
    body: String,
}

#[post("/notes", data = "<form>")]
async fn add(
    app: &State<App>,
    settings: &State<NotesSettings>,
    me: SignedIn,
    form: CsrfForm<NoteForm, { MAX_FORM_BYTES }>,
) -> Page {
    let form = form.0;
    match flows::create(app, settings, me.account.id, &form.title, &form.body).await {
        Ok(_) => Page::Feedback(Feedback::success("Note added.").redirect("/notes")),
        Err(error) if error.is_internal() => Page::failed(&error, "/notes"),
        Err(error) => Page::Feedback(
            Feedback::of(&error)
                .keep("title", &form.title)
                .keep("body", &form.body)
                .redirect("/notes"),
        ),
    }
}

#[post("/notes/<id>/delete", data = "<_form>")]
async fn remove(
    app: &State<App>,
    me: FreshPage<SignedIn>,
    id: &str,
    _form: CsrfForm<CsrfOnly>,
) -> Page {
    let me = me.0;
    let deleted = match note_id(id) {
        Ok(id) => flows::delete(app, me.account.id, id).await,
        Err(error) => Err(error),
    };
    match deleted {
        Ok(()) => Page::Feedback(Feedback::success("Note deleted.").redirect("/notes")),
        Err(error) => Page::failed(&error, "/notes"),
    }
}
