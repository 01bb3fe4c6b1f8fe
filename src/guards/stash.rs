//! The error a failing guard or body parser leaves for the catcher: guards and data
//! guards cannot answer with a body themselves.

use super::*;

/// The error a failing guard or body parser leaves for the catcher, which renders
/// it (guards and data guards cannot answer with a body themselves).
#[derive(Default)]
pub(super) struct Stash(Mutex<Option<Arc<AppError>>>);

/// Records `error` for the catcher of this request; returns its status.
pub fn stash(request: &Request<'_>, error: impl Into<Arc<AppError>>) -> Status {
    let error = error.into();
    let status = error.status();
    let slot = request.local_cache(Stash::default);
    *slot
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
    status
}

/// Takes the stashed error if it matches `status`, else a generic one for it.
pub fn take_stashed(request: &Request<'_>, status: Status) -> Arc<AppError> {
    let slot = request.local_cache(Stash::default);
    let stashed = slot
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    match stashed {
        Some(error) if error.status() == status => error,
        _ => Arc::new(AppError::from_status(status)),
    }
}
