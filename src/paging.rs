//! Paging for listings (the admin's accounts and events, a feature's own lists): one
//! set of rules for `page` and `per_page`, and the shape every paged answer shares.

use serde::Serialize;

use crate::error::{AppError, FieldErrors};

/// A validated page request: `page` from 1, `per_page` from 1 to `MAX_PER_PAGE`.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: i64,
    pub per_page: i64,
}

impl Paging {
    pub const DEFAULT_PER_PAGE: i64 = 20;
    pub const MAX_PER_PAGE: i64 = 100;

    /// Parses the query values as given, reporting each bad one by name.
    pub fn parse(page: Option<&str>, per_page: Option<&str>) -> Result<Paging, AppError> {
        let mut errors = FieldErrors::new();
        let mut number = |name: &str, value: Option<&str>, default: i64, max: i64| match value {
            None => default,
            Some(text) => match text.trim().parse::<i64>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    errors.insert(
                        name.to_string(),
                        format!("must be a whole number from 1 to {max}"),
                    );
                    default
                }
            },
        };
        let page = number("page", page, 1, 1_000_000);
        let per_page = number(
            "per_page",
            per_page,
            Self::DEFAULT_PER_PAGE,
            Self::MAX_PER_PAGE,
        );
        if errors.is_empty() {
            Ok(Paging { page, per_page })
        } else {
            Err(AppError::Validation(errors))
        }
    }

    /// The rows to skip before this page.
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

/// One page of a listing and the size of the whole.
#[derive(Debug, Serialize)]
pub struct Listing<T: Serialize> {
    pub items: Vec<T>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
    /// For a listing of a table that may grow without bound: where the next page
    /// starts and whether `total` is exact (see [`Keyset`]).
    pub keyset: Option<Keyset>,
}

/// Keyset paging: `next_after` is the id to pass as `after` for the next page (none
/// on the last page), at the same cost at any depth; `total` is counted only up to a
/// bound, and `total_exact` is false past it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Keyset {
    pub next_after: Option<i64>,
    pub total_exact: bool,
}

impl<T: Serialize> Listing<T> {
    /// The page `items` is of `page`, out of `total` items in all.
    pub fn new(items: Vec<T>, page: Paging, total: i64) -> Listing<T> {
        Listing {
            items,
            page: page.page,
            per_page: page.per_page,
            total,
            keyset: None,
        }
    }

    /// The same listing with keyset paging's fields.
    pub fn with_keyset(self, keyset: Keyset) -> Listing<T> {
        Listing {
            keyset: Some(keyset),
            ..self
        }
    }

    /// The JSON answer of a paged list: `{"<key>": [items], page, per_page, total}`.
    pub fn to_json(&self, key: &str) -> serde_json::Value {
        let mut answer = serde_json::json!({
            "page": self.page,
            "per_page": self.per_page,
            "total": self.total,
        });
        answer[key] = serde_json::json!(self.items);
        if let Some(keyset) = self.keyset {
            answer["next_after"] = serde_json::json!(keyset.next_after);
            answer["total_exact"] = serde_json::json!(keyset.total_exact);
        }
        answer
    }

    /// How many pages there are (at least one, even when empty).
    pub fn pages(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_and_bounds() {
        let page = Paging::parse(None, None).unwrap();
        assert_eq!((page.page, page.per_page, page.offset()), (1, 20, 0));
        let page = Paging::parse(Some("3"), Some("100")).unwrap();
        assert_eq!(page.offset(), 200);
        let Err(AppError::Validation(fields)) = Paging::parse(Some("0"), Some("101")) else {
            panic!("out of range values are refused");
        };
        assert!(fields.contains_key("page") && fields.contains_key("per_page"));
        assert!(Paging::parse(Some("x"), None).is_err());
    }

    #[test]
    fn pages_round_up() {
        let page = Paging::parse(None, Some("10")).unwrap();
        assert_eq!(Listing::<i64>::new(vec![], page, 0).pages(), 1);
        assert_eq!(Listing::<i64>::new(vec![], page, 10).pages(), 1);
        assert_eq!(Listing::<i64>::new(vec![], page, 11).pages(), 2);
    }
}
