//! Tokens: issuing a session's pair, refreshing it (rotation with reuse detection),
//! and checking an access token against the session's state now.

use super::*;

/// Mints the access token (with the app's own claims, `custom`) and the session's
/// current refresh token. The refresh token is a function of the session row alone, so
/// re-minting it yields the same token.
pub async fn issue_tokens(
    app: &App,
    session: &SessionRow,
    custom: &Map<String, Value>,
) -> Result<IssuedTokens, AppError> {
    let now = app.now();
    app.keys.keep_fresh(app.pool(), now).await;
    let settings = &app.settings;
    let pending = session.two_factor_pending;
    // A pending session's token lives no longer than the session itself.
    let access_ttl = if pending {
        settings
            .tokens
            .access_ttl
            .min(session.expires_at - now)
            .max(1)
    } else {
        settings.tokens.access_ttl
    };
    let access = app.keys.claims(
        TokenKind::Access,
        session.account_id,
        &session.id,
        now,
        now + access_ttl,
    );
    let access_token = app
        .keys
        .encode_access(&access, custom)
        .map_err(|error| AppError::internal("signing an access token", error))?;
    if pending {
        return Ok(IssuedTokens {
            access_token,
            refresh_token: None,
            two_factor_required: true,
            methods: Vec::new(),
            expires_in: access_ttl,
            refresh_expires_in: (session.expires_at - now).max(0),
            persistent: session.persistent,
            session_id: session.id.clone(),
        });
    }
    let mut refresh = app.keys.claims(
        TokenKind::Refresh,
        session.account_id,
        &session.id,
        session.rotated_at,
        session.expires_at,
    );
    refresh.gen = Some(session.refresh_generation);
    Ok(IssuedTokens {
        access_token,
        refresh_token: Some(app.keys.encode_refresh(&refresh)),
        two_factor_required: false,
        methods: Vec::new(),
        expires_in: settings.tokens.access_ttl,
        refresh_expires_in: (session.expires_at - now).max(0),
        persistent: session.persistent,
        session_id: session.id.clone(),
    })
}

/// Exchanges a refresh token for a new pair, rotating the session's generation.
///
/// The previous generation is honoured for `refresh_grace` seconds after a rotation
/// and answered with the same current pair, so tabs refreshing at once all stay
/// signed in; any older token, or the previous one after the grace, is a replay and
/// revokes the whole session.
pub async fn refresh(
    app: &App,
    token: &str,
    client: &ClientInfo,
) -> Result<IssuedTokens, AppError> {
    app.rate_limits.by_address(Limit::Refresh, client).await?;
    let now = app.now();
    let claims = app.keys.decode(token, TokenKind::Refresh, now)?;
    let presented = claims.gen.unwrap_or(-1);
    // Two passes at most: losing the rotation race to a parallel refresh puts the
    // token one generation behind, which the second pass answers.
    for _ in 0..2 {
        let (session, account) = live_session_of(app, &claims, now).await?;
        let custom = app_claims(app, &session.id, &account).await?;
        let current = session.refresh_generation;
        if presented == current {
            // Sliding, but never past the session's absolute end.
            let absolute_end = session.created_at + app.settings.bounds.session_max_lifetime;
            let expires_at = (now + session_ttl(app, session.persistent)).min(absolute_end);
            if sessions::rotate_refresh(app.pool(), &session.id, current, expires_at, now).await? {
                let rotated = SessionRow {
                    refresh_generation: current + 1,
                    rotated_at: now,
                    last_used_at: now,
                    expires_at,
                    ..session
                };
                return issue_tokens(app, &rotated, &custom).await;
            }
            continue;
        }
        if presented == current - 1 && now - session.rotated_at <= app.settings.tokens.refresh_grace
        {
            return issue_tokens(app, &session, &custom).await;
        }
        if presented < current {
            revoke_session(
                app,
                session.account_id,
                &session.id,
                "refresh_token_reused",
                None,
                client,
            )
            .await?;
            log::warn!(
                "refresh token reuse on session of account {}: session revoked",
                session.account_id
            );
            return Err(AppError::TokenReused);
        }
        // A generation ahead of the session's was never issued.
        return Err(AppError::InvalidToken);
    }
    Err(AppError::TokenReused)
}

/// The session a refresh token names, if it is still live and its account active, with
/// that account.
/// A blocked account is named as such, even though its sessions were revoked, so the
/// client can tell its user why.
pub(super) async fn live_session_of(
    app: &App,
    claims: &Claims,
    now: i64,
) -> Result<(SessionRow, AccountRow), AppError> {
    let session = sessions::find_session(app.pool(), &claims.sid)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    if session.account_id != claims.account_id() {
        return Err(AppError::InvalidToken);
    }
    let account = accounts::find_by_id(app.pool(), session.account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    if account.is_blocked() {
        return Err(AppError::AccountBlocked);
    }
    if session.revoked_at.is_some() {
        return Err(AppError::SessionRevoked);
    }
    if session.two_factor_pending {
        return Err(AppError::TwoFactorRequired);
    }
    if now > session.expires_at + app.settings.tokens.leeway {
        return Err(AppError::TokenExpired);
    }
    // The absolute end is the server's own clock against its own record: no leeway.
    if now >= session.created_at + app.settings.bounds.session_max_lifetime {
        return Err(AppError::TokenExpired);
    }
    if !account.is_active {
        return Err(AppError::AccountInactive);
    }
    Ok((session, account))
}

/// Checks an access token and the state of its session: the token must verify and
/// the session must be neither revoked nor expired. The state comes from the session
/// cache or, when it has no fresh entry, from one indexed read.
pub async fn authenticate(app: &App, token: &str) -> Result<Authenticated, AppError> {
    let now = app.now();
    app.keys.keep_fresh(app.pool(), now).await;
    let claims = app.keys.decode(token, TokenKind::Access, now)?;
    let mut state = match app.session_cache.get(&claims.sid, app.now_ms()) {
        Some(state) => state,
        None => {
            let read = app.session_cache.begin_read();
            let found = sessions::find_session_with_account(app.pool(), &claims.sid)
                .await?
                .ok_or(AppError::SessionRevoked)?;
            let state = SessionState::from(found);
            app.session_cache
                .put(&claims.sid, state.clone(), app.now_ms(), read);
            state
        }
    };
    if state.account.id != claims.account_id() {
        return Err(AppError::InvalidToken);
    }
    // Blocking revokes every session too; this check also catches a session opened
    // by a login that was already past its checks when the block landed.
    if state.account_blocked {
        return Err(AppError::AccountBlocked);
    }
    if state.revoked || now > state.expires_at + app.settings.tokens.leeway {
        return Err(AppError::SessionRevoked);
    }
    if now - state.last_used_at >= TOUCH_INTERVAL_SECONDS {
        match sessions::touch_session(app.pool(), &claims.sid, now).await {
            Ok(()) => {
                state.last_used_at = now;
                app.session_cache.touch(&claims.sid, now);
            }
            Err(error) => log::warn!("could not record session use: {error}"),
        }
    }
    Ok(Authenticated {
        session_id: claims.sid,
        account: state.account,
        pending: state.pending,
        proved_at: state.proved_at,
        token: VerifiedToken::new(token),
    })
}

/// What `POST /api/auth/introspect` tells a service about an access token (RFC 7662):
/// `None` when it is not active (unknown, forged, expired, of an ended or pending
/// session, of a blocked or inactive account).
pub async fn introspect(app: &App, token: &str) -> Result<Option<Value>, AppError> {
    let found = match authenticate(app, token).await {
        Ok(found) if !found.pending && found.account.is_active => found,
        Ok(_) => return Ok(None),
        Err(error) if error.is_internal() => return Err(error),
        Err(_) => return Ok(None),
    };
    // RFC 7662: past its `exp` a token is inactive, whatever leeway the guards allow.
    let claims = match app
        .keys
        .decode_ignoring_expiry(token, TokenKind::Access, app.now())
    {
        Ok(claims) if app.now() <= claims.exp => claims,
        _ => return Ok(None),
    };
    // The app's claims as the account is now, not as the token was minted.
    let row = accounts::find_by_id(app.pool(), found.account.id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    let mut answer = app_claims(app, &claims.sid, &row).await?;
    for (name, value) in [
        ("active", Value::Bool(true)),
        ("token_type", "access_token".into()),
        ("sub", claims.sub.clone().into()),
        ("sid", claims.sid.clone().into()),
        ("username", found.account.username.clone().into()),
        ("iss", claims.iss.clone().into()),
        ("aud", claims.aud.clone().into()),
        ("iat", claims.iat.into()),
        ("exp", claims.exp.into()),
    ] {
        answer.insert(name.into(), value);
    }
    Ok(Some(Value::Object(answer)))
}
