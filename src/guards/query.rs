//! A guard refusing a query string that names a field twice.

use super::*;

/// Refuses (422, naming the field) a query string that gives a field twice: Rocket
/// would drop both values, and a search would silently become a list of everything.
/// `q[]`, `q.x` and `q[0]` are all the field `q` to Rocket's form parser, so the
/// comparison is of the name's first key.
pub struct DistinctQuery;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for DistinctQuery {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let mut seen = std::collections::HashSet::new();
        let fields = request
            .uri()
            .query()
            .into_iter()
            .flat_map(|query| query.segments());
        for (name, _) in fields {
            let field = name.split(['.', '[']).next().unwrap_or(name);
            if !seen.insert(field) {
                let error = AppError::field(field, "is given more than once");
                return Outcome::Error((stash(request, error), ()));
            }
        }
        Outcome::Success(DistinctQuery)
    }
}
