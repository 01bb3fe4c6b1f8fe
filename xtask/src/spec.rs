//! What `new-feature` is asked for: the feature's names and its typed fields, checked
//! against what the language, SQL and the project already use.

use std::path::Path;

pub const USAGE: &str = "\
Usage: cargo xtask new-feature <name> [field:type[?][:min..max] ...] [--singular <word>]

Writes src/features/<name>/ in the shape of notes: migrations for SQLite and
PostgreSQL, model, flows, a guarded JSON API (/api/<name>), a page (/<name>), tests
and settings.md; then registers it in src/features/mod.rs and src/features/tests.rs.

<name>     the feature, plural, lower case: bookmarks, reading_list
field      lower case, e.g. title:string url:url note:text? stars:int:1..5
types      string (one line, at most 200), text (at most 10,000), int (whole number,
           optional min..max), bool (a checkbox), url (http or https), email,
           datetime (UTC, stored as unix seconds)
?          the field may be left empty (not for bool: an unticked box is false)
--singular the word for one of them (default: <name> without its plural ending)

Example: cargo xtask new-feature bookmarks title:string url:url note:text?";

/// Words Rust keeps for itself (strict, reserved and weak keywords).
const RUST_KEYWORDS: &[&str] = &[
    "as",
    "break",
    "const",
    "continue",
    "crate",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "async",
    "await",
    "dyn",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
    "gen",
    "union",
    "macro_rules",
    "raw",
    "safe",
];

/// Words SQLite or PostgreSQL reserve (or parse specially), so a table or column
/// named so would need quoting everywhere.
const SQL_RESERVED: &[&str] = &[
    "abort",
    "action",
    "add",
    "after",
    "all",
    "alter",
    "always",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "attach",
    "authorization",
    "autoincrement",
    "before",
    "begin",
    "between",
    "binary",
    "both",
    "by",
    "cascade",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "commit",
    "concurrently",
    "conflict",
    "constraint",
    "create",
    "cross",
    "current",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "database",
    "default",
    "deferrable",
    "deferred",
    "delete",
    "desc",
    "detach",
    "distinct",
    "do",
    "drop",
    "each",
    "else",
    "end",
    "escape",
    "except",
    "exclude",
    "exclusive",
    "exists",
    "explain",
    "fail",
    "false",
    "fetch",
    "filter",
    "first",
    "following",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "generated",
    "glob",
    "grant",
    "group",
    "groups",
    "having",
    "if",
    "ignore",
    "ilike",
    "immediate",
    "in",
    "index",
    "indexed",
    "initially",
    "inner",
    "insert",
    "instead",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "key",
    "last",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "match",
    "materialized",
    "natural",
    "no",
    "not",
    "nothing",
    "notnull",
    "null",
    "nulls",
    "of",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "others",
    "outer",
    "over",
    "overlaps",
    "partition",
    "placing",
    "plan",
    "pragma",
    "preceding",
    "primary",
    "query",
    "raise",
    "range",
    "recursive",
    "references",
    "regexp",
    "reindex",
    "release",
    "rename",
    "replace",
    "restrict",
    "returning",
    "right",
    "rollback",
    "row",
    "rows",
    "savepoint",
    "select",
    "session_user",
    "set",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "temp",
    "temporary",
    "then",
    "ties",
    "to",
    "trailing",
    "transaction",
    "trigger",
    "true",
    "unbounded",
    "union",
    "unique",
    "update",
    "user",
    "using",
    "vacuum",
    "values",
    "variadic",
    "verbose",
    "view",
    "virtual",
    "when",
    "where",
    "window",
    "with",
    "without",
];

/// Columns every generated table has already.
const OWN_COLUMNS: &[&str] = &["id", "account_id", "created_at", "updated_at"];

/// What the project already uses: the seam's reserved names, the tables of every
/// migration (Gatehouse's and the features'), and the features' folders.
pub struct Known {
    reserved: Vec<String>,
    tables: Vec<String>,
}

impl Known {
    pub fn read(root: &Path) -> Result<Known, String> {
        let seam = std::fs::read_to_string(root.join("src/feature/mod.rs"))
            .map_err(|e| format!("Cannot read src/feature/mod.rs (run it in the project): {e}."))?;
        let list = seam
            .split_once("const RESERVED_NAMES")
            .and_then(|(_, rest)| rest.split_once("];"))
            .map(|(list, _)| list)
            .ok_or("src/feature/mod.rs has no RESERVED_NAMES list.")?;
        let reserved = list
            .lines()
            .filter_map(|line| line.trim().strip_prefix('"')?.strip_suffix("\","))
            .map(str::to_string)
            .collect();
        let mut tables = vec!["_sqlx_migrations".to_string()];
        let mut folders = vec![root.join("migrations")];
        if let Ok(features) = std::fs::read_dir(root.join("src/features")) {
            folders.extend(features.flatten().map(|f| f.path().join("migrations")));
        }
        for folder in folders {
            for backend in ["sqlite", "postgres"] {
                let Ok(files) = std::fs::read_dir(folder.join(backend)) else {
                    continue;
                };
                for file in files.flatten() {
                    let sql = std::fs::read_to_string(file.path()).unwrap_or_default();
                    tables.extend(created_tables(&sql));
                }
            }
        }
        Ok(Known { reserved, tables })
    }
}

/// The tables a migration creates (`CREATE [UNLOGGED] TABLE [IF NOT EXISTS] name`).
fn created_tables(sql: &str) -> Vec<String> {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut tables = Vec::new();
    for (at, word) in words.iter().enumerate() {
        if word != "table" {
            continue;
        }
        let mut rest = words[at + 1..].iter();
        let mut name = rest.next();
        if name.is_some_and(|w| w == "if") {
            name = rest.nth(2);
        }
        if let Some(name) = name {
            tables.push(name.trim_matches('"').to_string());
        }
    }
    tables
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Text,
    Int,
    Bool,
    Url,
    Email,
    Datetime,
}

impl Kind {
    fn parse(word: &str) -> Option<Kind> {
        Some(match word {
            "string" => Kind::String,
            "text" => Kind::Text,
            "int" => Kind::Int,
            "bool" => Kind::Bool,
            "url" => Kind::Url,
            "email" => Kind::Email,
            "datetime" => Kind::Datetime,
            _ => return None,
        })
    }

    /// Carried as text (JSON strings, TEXT columns).
    pub fn is_text(self) -> bool {
        matches!(self, Kind::String | Kind::Text | Kind::Url | Kind::Email)
    }

    /// Carried as a whole number (JSON integers, BIGINT columns).
    pub fn is_number(self) -> bool {
        matches!(self, Kind::Int | Kind::Datetime)
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub kind: Kind,
    pub optional: bool,
    /// `min..max` of an int (both included).
    pub range: Option<(i64, i64)>,
}

impl Field {
    /// The words a person reads: `reading_time` is "Reading time".
    pub fn label(&self) -> String {
        let words: Vec<&str> = self
            .name
            .split('_')
            .map(|word| match word {
                "url" => "URL",
                "api" => "API",
                other => other,
            })
            .collect();
        sentence_case(&words.join(" "))
    }
}

/// The feature as asked for, with the names derived from it.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Plural, snake case: the folder, table, settings table, paths (`bookmarks`).
    pub name: String,
    /// One of them (`bookmark`).
    pub singular: String,
    /// The row's type (`Bookmark`).
    pub row_type: String,
    /// The `Feature` implementation's type (`Bookmarks`).
    pub feature_type: String,
    pub fields: Vec<Field>,
}

impl Feature {
    pub fn parse(args: &[String], known: &Known) -> Result<Feature, String> {
        let mut name = None;
        let mut singular = None;
        let mut specs = Vec::new();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "--singular" => {
                    singular = Some(
                        rest.next()
                            .ok_or("--singular needs a word after it.")?
                            .clone(),
                    );
                }
                "--help" | "-h" => return Err(USAGE.to_string()),
                flag if flag.starts_with("--") => {
                    return Err(format!("There is no option {flag}.\n\n{USAGE}"));
                }
                _ if name.is_none() => name = Some(arg.clone()),
                _ => specs.push(arg.clone()),
            }
        }
        let name = name.ok_or_else(|| format!("Name the feature.\n\n{USAGE}"))?;
        check_name(&name, "The feature name", known)?;
        let singular = match singular {
            Some(word) => word,
            None => singular_of(&name),
        };
        check_word(&singular, "The singular")?;
        if RUST_KEYWORDS.contains(&singular.as_str()) {
            return Err(format!(
                "The singular {singular:?} is a Rust keyword: give another with --singular."
            ));
        }
        let counts = format!("{singular}_counts");
        for table in [&name, &counts] {
            if known.tables.contains(table) {
                return Err(format!(
                    "A table {table:?} exists already (in a migration of Gatehouse or of a \
                     feature): choose another name."
                ));
            }
        }
        if specs.is_empty() {
            return Err(format!(
                "Give the feature at least one field, e.g. title:string.\n\n{USAGE}"
            ));
        }
        let mut fields: Vec<Field> = Vec::new();
        for spec in &specs {
            let field = parse_field(spec)?;
            if fields.iter().any(|f| f.name == field.name) {
                return Err(format!("The field {:?} is given twice.", field.name));
            }
            fields.push(field);
        }
        let row_type = camel(&singular);
        let plural_type = camel(&name);
        let feature_type = if plural_type == row_type {
            format!("{row_type}Feature")
        } else {
            plural_type
        };
        Ok(Feature {
            name,
            singular,
            row_type,
            feature_type,
            fields,
        })
    }

    /// The words a person reads for the feature (`Reading list`).
    pub fn label(&self) -> String {
        sentence_case(&self.name.replace('_', " "))
    }

    /// The words for one of them (`reading item`).
    pub fn singular_words(&self) -> String {
        self.singular.replace('_', " ")
    }
}

fn check_word(word: &str, what: &str) -> Result<(), String> {
    let well_formed = word.starts_with(|c: char| c.is_ascii_lowercase())
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !word.ends_with('_')
        && !word.contains("__")
        && word.len() <= 40;
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "{what} {word:?} must be lower-case letters, digits and single '_' between \
             them, starting with a letter, at most 40 characters."
        ))
    }
}

fn check_name(name: &str, what: &str, known: &Known) -> Result<(), String> {
    check_word(name, what)?;
    if RUST_KEYWORDS.contains(&name) {
        return Err(format!("{what} {name:?} is a Rust keyword."));
    }
    if SQL_RESERVED.contains(&name) {
        return Err(format!(
            "{what} {name:?} is an SQL reserved word: every query would have to quote it."
        ));
    }
    if known.reserved.iter().any(|r| r == name) {
        return Err(format!(
            "{what} {name:?} is taken by Rocket's settings, Gatehouse's own settings, a CLI \
             command, a page or an /api path."
        ));
    }
    if known.tables.iter().any(|t| t == name) {
        return Err(format!(
            "{what} {name:?} is the name of a table that exists already."
        ));
    }
    Ok(())
}

/// `name:type`, `name:type?`, `name:int:1..5`, `name:int?:1..5`.
fn parse_field(spec: &str) -> Result<Field, String> {
    let mut parts = spec.splitn(3, ':');
    let name = parts.next().unwrap_or_default();
    let Some(kind) = parts.next() else {
        return Err(format!(
            "The field {spec:?} needs a type, e.g. {spec}:string (types: string, text, int, \
             bool, url, email, datetime)."
        ));
    };
    check_word(name, "The field name")?;
    if OWN_COLUMNS.contains(&name) {
        return Err(format!(
            "The field name {name:?} is taken: every row has id, account_id, created_at and \
             updated_at already."
        ));
    }
    if RUST_KEYWORDS.contains(&name) {
        return Err(format!("The field name {name:?} is a Rust keyword."));
    }
    if SQL_RESERVED.contains(&name) {
        return Err(format!(
            "The field name {name:?} is an SQL reserved word: every query would have to \
             quote it."
        ));
    }
    let (kind_word, optional) = match kind.strip_suffix('?') {
        Some(word) => (word, true),
        None => (kind, false),
    };
    let kind = Kind::parse(kind_word).ok_or_else(|| {
        format!(
            "The field {name:?} has an unknown type {kind_word:?} (types: string, text, int, \
             bool, url, email, datetime)."
        )
    })?;
    if kind == Kind::Bool && optional {
        return Err(format!(
            "The field {name:?} cannot be bool?: a box left unticked is false, so a bool is \
             never empty."
        ));
    }
    let range = match parts.next() {
        None => None,
        Some(range) if kind == Kind::Int => Some(parse_range(name, range)?),
        Some(_) => {
            return Err(format!(
                "The field {name:?}: only an int takes a range (e.g. {name}:int:1..5)."
            ))
        }
    };
    Ok(Field {
        name: name.to_string(),
        kind,
        optional,
        range,
    })
}

fn parse_range(name: &str, range: &str) -> Result<(i64, i64), String> {
    let wrong = || {
        format!(
            "The field {name:?} has the range {range:?}: write min..max with whole numbers, \
             min at most max (e.g. 1..5)."
        )
    };
    let (min, max) = range.split_once("..").ok_or_else(wrong)?;
    let min: i64 = min.trim().parse().map_err(|_| wrong())?;
    let max: i64 = max.trim().parse().map_err(|_| wrong())?;
    if min > max {
        return Err(wrong());
    }
    Ok((min, max))
}

/// `bookmarks` → `bookmark`, `categories` → `category`, `boxes` → `box`.
fn singular_of(plural: &str) -> String {
    if let Some(stem) = plural.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for ending in ["sses", "shes", "ches", "xes", "zes"] {
        if plural.ends_with(ending) {
            return plural[..plural.len() - 2].to_string();
        }
    }
    match plural.strip_suffix('s') {
        Some(stem) if !stem.ends_with('s') && !stem.is_empty() => stem.to_string(),
        _ => plural.to_string(),
    }
}

/// `reading_item` → `ReadingItem`.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn sentence_case(words: &str) -> String {
    let mut chars = words.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The new feature's migration version: the UTC time as `sqlx migrate add` writes it,
/// or, when a feature already has that number or a later one (two features made in one
/// second), one past the highest, so every feature's number differs, as the seam requires.
pub fn migration_version(root: &Path) -> String {
    let now: u64 = utc_timestamp().parse().unwrap_or(0);
    let highest = std::fs::read_dir(root.join("src/features"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|feature| {
            ["sqlite", "postgres"].map(|backend| feature.path().join("migrations").join(backend))
        })
        .filter_map(|folder| std::fs::read_dir(folder).ok())
        .flatten()
        .flatten()
        .filter_map(|file| {
            let name = file.file_name().to_string_lossy().into_owned();
            name.split('_').next()?.parse::<u64>().ok()
        })
        .max()
        .unwrap_or(0);
    now.max(highest + 1).to_string()
}

/// The UTC time as YYYYMMDDHHMMSS, above Gatehouse's own numbers.
fn utc_timestamp() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known {
            reserved: vec!["accounts".into(), "login".into(), "doctor".into()],
            tables: vec!["sessions".into(), "notes".into(), "note_counts".into()],
        }
    }

    fn parse(args: &[&str]) -> Result<Feature, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Feature::parse(&args, &known())
    }

    #[test]
    fn names_and_fields_are_read() {
        let feature = parse(&[
            "bookmarks",
            "title:string",
            "url:url",
            "note:text?",
            "stars:int:1..5",
        ])
        .unwrap();
        assert_eq!(feature.singular, "bookmark");
        assert_eq!(feature.row_type, "Bookmark");
        assert_eq!(feature.feature_type, "Bookmarks");
        assert_eq!(feature.fields.len(), 4);
        assert!(feature.fields[2].optional);
        assert_eq!(feature.fields[3].range, Some((1, 5)));
        let sheep = parse(&["sheep", "name:string"]).unwrap();
        assert_eq!(sheep.feature_type, "SheepFeature");
        let people = parse(&["people", "name:string", "--singular", "person"]).unwrap();
        assert_eq!(people.row_type, "Person");
        assert_eq!(singular_of("categories"), "category");
        assert_eq!(singular_of("boxes"), "box");
        assert_eq!(singular_of("addresses"), "address");
    }

    #[test]
    fn bad_names_are_refused_with_a_sentence() {
        for (args, says) in [
            (vec!["user", "a:string"], "SQL reserved"),
            (vec!["order", "a:string"], "SQL reserved"),
            (vec!["struct", "a:string"], "Rust keyword"),
            (vec!["accounts", "a:string"], "taken"),
            (vec!["doctor", "a:string"], "taken"),
            (vec!["sessions", "a:string"], "table"),
            (vec!["notes", "a:string"], "table"),
            (vec!["Bookmarks", "a:string"], "lower-case"),
            (vec!["book-marks", "a:string"], "lower-case"),
            (vec!["bookmarks"], "at least one field"),
            (vec!["bookmarks", "id:string"], "taken"),
            (vec!["bookmarks", "account_id:int"], "taken"),
            (vec!["bookmarks", "type:string"], "Rust keyword"),
            (vec!["bookmarks", "group:string"], "SQL reserved"),
            (vec!["bookmarks", "a:float"], "unknown type"),
            (vec!["bookmarks", "a"], "needs a type"),
            (vec!["bookmarks", "a:bool?"], "never empty"),
            (vec!["bookmarks", "a:int:5..1"], "range"),
            (vec!["bookmarks", "a:string:1..2"], "only an int"),
            (vec!["bookmarks", "a:string", "a:text"], "twice"),
            (vec!["bookmarks", "a:string", "--plural"], "no option"),
        ] {
            let error = parse(&args).expect_err(&format!("{args:?} was accepted"));
            assert!(error.contains(says), "{args:?}: {error}");
            assert!(error.starts_with(char::is_uppercase), "{error}");
        }
    }

    #[test]
    fn the_tables_of_a_migration_are_found() {
        let sql = "CREATE TABLE notes (id INT);\ncreate unlogged table rate_limits (k TEXT);\n\
                   CREATE TABLE IF NOT EXISTS x_y (a INT);";
        let tables = created_tables(sql);
        assert!(tables.contains(&"notes".to_string()), "{tables:?}");
        assert!(tables.contains(&"rate_limits".to_string()), "{tables:?}");
        assert!(tables.contains(&"x_y".to_string()), "{tables:?}");
    }

    #[test]
    fn migration_versions_are_utc_timestamps_after_every_other() {
        let version = utc_timestamp();
        assert_eq!(version.len(), 14);
        assert!(version.starts_with("20"), "{version}");
        // A feature numbered in the future: the next one comes after it.
        let root = std::env::temp_dir().join(format!("xtask-versions-{}", std::process::id()));
        let folder = root.join("src/features/later/migrations/sqlite");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("29991231235959_later.sql"), "").unwrap();
        assert_eq!(migration_version(&root), "29991231235960");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
