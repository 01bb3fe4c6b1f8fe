//! The `notes` table: the row, the rules a note's text follows, and the SQL. Every
//! query is scoped by `account_id`, so one account can never read or change another's
//! note, whatever id it sends.

use crate::prelude::*;

table_row! {
    /// A note as its owner sees it.
    #[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
    #[schema(examples(json!({
        "id": 7,
        "title": "Groceries",
        "body": "Eggs\nFlour\nMilk",
        "created_at": 1767225600,
        "updated_at": 1767229200
    })))]
    pub struct Note {
        pub id: i64,
        pub title: String,
        pub body: String,
        /// Unix seconds.
        pub created_at: i64,
        /// Unix seconds.
        pub updated_at: i64,
    }
}

/// A title: one line of 1 to 200 characters.
pub const TITLE: TextRule = TextRule {
    max_chars: 200,
    min_chars: 1,
    multiline: false,
};

/// A body: up to 10,000 characters; line breaks and tabs allowed.
pub const BODY: TextRule = TextRule {
    max_chars: 10_000,
    min_chars: 0,
    multiline: true,
};

/// The most bytes one character of a valid note can take in a request: before NFC
/// composes it, a character may arrive as up to four code points (a letter and its
/// marks, a Hangul syllable as jamo), each escaped in JSON as `\uXXXX` (6 bytes) or
/// percent-encoded in a form (up to 4 UTF-8 bytes, 3 characters each); 32 and 48
/// bytes cover both with room to spare.
const JSON_BYTES_PER_CHAR: u64 = 32;
const FORM_BYTES_PER_CHAR: u64 = 48;

/// The largest valid note, in characters.
const MAX_NOTE_CHARS: u64 = (TITLE.max_chars + BODY.max_chars) as u64;

/// The JSON body limit of the note routes: every valid note fits, however it is
/// written, and anything larger is refused before it is parsed (320 KiB).
pub const MAX_JSON_BYTES: u64 = MAX_NOTE_CHARS * JSON_BYTES_PER_CHAR + 1024;

/// The same for the page's form (480 KiB).
pub const MAX_FORM_BYTES: u64 = MAX_NOTE_CHARS * FORM_BYTES_PER_CHAR + 1024;

/// Checks the fields given (`None`: not given) and returns them as stored,
/// reporting every problem at once.
pub fn clean(
    title: Option<&str>,
    body: Option<&str>,
) -> Result<(Option<String>, Option<String>), AppError> {
    let mut errors = FieldErrors::new();
    let mut check = |field: &str, rule: TextRule, value: Option<&str>| {
        value.and_then(|text| {
            rule.clean(text)
                .map_err(|problem| errors.insert(field.to_string(), problem))
                .ok()
        })
    };
    let title = check("title", TITLE, title);
    let body = check("body", BODY, body);
    if errors.is_empty() {
        Ok((title, body))
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Adds a note unless the account already holds `max` notes (`None` then). The
/// count is taken with one guarded upsert in the same transaction as the insert, so
/// concurrent requests never get past the limit.
pub async fn insert(
    pool: &AnyPool,
    account_id: i64,
    title: &str,
    body: &str,
    max: i64,
    now: i64,
) -> Result<Option<Note>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let counted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO note_counts (account_id, notes) VALUES ($1, 1) \
         ON CONFLICT (account_id) DO UPDATE SET notes = note_counts.notes + 1 \
         WHERE note_counts.notes < $2 RETURNING notes",
    )
    .bind(account_id)
    .bind(max)
    .fetch_optional(&mut *tx)
    .await?;
    if counted.is_none_or(|n| n > max) {
        return Ok(None);
    }
    let sql = format!(
        "INSERT INTO notes (account_id, title, body, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING {}",
        Note::select_list("")
    );
    let note = sqlx::query_as::<_, Note>(&sql)
        .bind(account_id)
        .bind(title)
        .bind(body)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(note))
}

/// The account's note `id`, if it has one.
pub async fn find(pool: &AnyPool, account_id: i64, id: i64) -> Result<Option<Note>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM notes WHERE id = $1 AND account_id = $2",
        Note::select_list("")
    );
    sqlx::query_as::<_, Note>(&sql)
        .bind(id)
        .bind(account_id)
        .fetch_optional(pool)
        .await
}

/// One page of the account's notes, newest first.
pub async fn list(
    pool: &AnyPool,
    account_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<Note>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM notes WHERE account_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
        Note::select_list("")
    );
    sqlx::query_as::<_, Note>(&sql)
        .bind(account_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await
}

/// How many notes the account has.
pub async fn count(pool: &AnyPool, account_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM notes WHERE account_id = $1")
        .bind(account_id)
        .fetch_one(pool)
        .await
}

/// Changes the fields given; `None` when the account has no note `id`.
pub async fn update(
    pool: &AnyPool,
    account_id: i64,
    id: i64,
    title: Option<&str>,
    body: Option<&str>,
    now: i64,
) -> Result<Option<Note>, sqlx::Error> {
    let sql = format!(
        "UPDATE notes SET title = COALESCE($1, title), body = COALESCE($2, body), \
         updated_at = $3 WHERE id = $4 AND account_id = $5 RETURNING {}",
        Note::select_list("")
    );
    sqlx::query_as::<_, Note>(&sql)
        .bind(title)
        .bind(body)
        .bind(now)
        .bind(id)
        .bind(account_id)
        .fetch_optional(pool)
        .await
}

/// Deletes the account's note `id` and gives its place back; false when there was
/// no such note.
pub async fn delete(pool: &AnyPool, account_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM notes WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(account_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if deleted {
        sqlx::query("UPDATE note_counts SET notes = notes - 1 WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_once() {
        let Err(AppError::Validation(fields)) = clean(Some(""), Some(&"x".repeat(10_001))) else {
            panic!("both fields are wrong");
        };
        assert_eq!(fields["title"], "is required");
        assert_eq!(fields["body"], "must be at most 10000 characters");
    }

    #[test]
    fn fields_not_given_stay_unchanged() {
        assert_eq!(clean(None, None).unwrap(), (None, None));
        let (title, body) = clean(Some(" Caf\u{65}\u{301} "), None).unwrap();
        assert_eq!(title.as_deref(), Some("Caf\u{e9}"));
        assert_eq!(body, None);
    }

    #[test]
    fn the_largest_valid_note_fits_the_body_limits_however_it_is_written() {
        // U+1F8F (Greek capital alpha with dasia, perispomeni and prosgegrammeni) is
        // four code points before NFC; an astral character is a surrogate pair.
        let nfd: String = unicode_normalization::UnicodeNormalization::nfd("\u{1F8F}").collect();
        assert_eq!(nfd.chars().count(), 4);
        let json_escaped = 4 * r"\u1234".len() as u64;
        let astral_escaped = r"\ud83d\ude00".len() as u64;
        let form_encoded = nfd.len() as u64 * 3;
        assert!(json_escaped.max(astral_escaped) <= JSON_BYTES_PER_CHAR);
        assert!(form_encoded.max(4 * 3) <= FORM_BYTES_PER_CHAR);
        assert!(MAX_NOTE_CHARS * json_escaped + 64 <= MAX_JSON_BYTES);
        assert!(MAX_NOTE_CHARS * form_encoded + 64 <= MAX_FORM_BYTES);
    }
}
