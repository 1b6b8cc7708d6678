//! Resolving a credential (a web session or a personal API token) to its user and stage, with
//! the few seconds' memory of `kernel::authcache`, and ending a session (logout).

use backstop_core::error::ErrorCode;
use serde_json::json;

use super::queries::{self, NewSession, Used};
use super::{API_TOKEN_PREFIX, MINUTE_MS, SESSION_PREFIX, Stage, UserAuth};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::{Actor, Via};
use crate::kernel::authcache::Credential;
use crate::kernel::crypto::{random_token, token_hash};
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// A resolved credential: who, how far through login, and the session behind it.
#[derive(Debug, Clone)]
pub struct Authed {
    pub actor: Actor,
    pub stage: Stage,
    pub user: UserAuth,
}

/// Resolve a session token or a personal API token. Unknown, expired, revoked or belonging to
/// a disabled account: `unauthenticated`.
///
/// A credential whose login is complete is remembered for a few seconds (`AuthCache`), so a
/// burst of requests does not read `sessions` and `users` each time; every change to users,
/// sessions or tokens in this process clears that memory at once.
pub async fn authenticate(state: &AppState, token: &str, source: &str) -> AppResult<Authed> {
    let now = state.now_ms();
    let unauth = || AppError::new(ErrorCode::Unauthenticated);
    if token.len() > 200 {
        return Err(unauth());
    }
    let is_api = token.starts_with(API_TOKEN_PREFIX);
    if !is_api && !token.starts_with(SESSION_PREFIX) {
        return Err(unauth());
    }
    let hash = token_hash(token);
    let cache = &state.auth_cache;
    let (found, fresh) = match cache.get(&hash, now) {
        Some(c) => (c, None),
        None => {
            let generation = cache.generation();
            let c = queries::load_credential(state, &hash, is_api)
                .await?
                .ok_or_else(unauth)?;
            (c, Some(generation))
        }
    };
    if found.user.disabled {
        return Err(unauth());
    }
    match found.credential {
        Credential::ApiToken {
            id,
            expires_at,
            last_used_at,
        } => {
            if expires_at.is_some_and(|e| e <= now) {
                return Err(unauth());
            }
            if let Some(generation) = fresh {
                cache.put(&hash, generation, now, found.clone());
            }
            if cache.claim_touch(&hash, now, MINUTE_MS, last_used_at.unwrap_or(i64::MIN / 2)) {
                queries::record_use(state, Used::ApiToken(id), now).await?;
            }
            Ok(Authed {
                actor: found.user.actor(source, Via::ApiToken(id)),
                stage: Stage::Full,
                user: found.user,
            })
        }
        Credential::Session {
            id,
            mfa_passed,
            expires_at,
            last_seen_at,
        } => {
            let idle = state.rules().session_idle_minutes * MINUTE_MS;
            if now >= expires_at || now - last_seen_at > idle {
                return Err(unauth());
            }
            let stage = found
                .user
                .stage(mfa_passed, now, state.rules().policy.max_age_days);
            let stage = found.user.settle(state, stage).await;
            // Only complete logins are remembered: a session in the middle of a login step
            // (TOTP, password change) is read afresh each time.
            if let Some(generation) = fresh
                && stage == Stage::Full
            {
                cache.put(&hash, generation, now, found.clone());
            }
            if cache.claim_touch(&hash, now, 15_000, last_seen_at) {
                queries::record_use(state, Used::Session(id), now).await?;
            }
            Ok(Authed {
                actor: found.user.actor(source, Via::Session(id)),
                stage,
                user: found.user,
            })
        }
    }
}

/// Open a session for a user inside the transaction: a fresh token of 256 random bits,
/// stored only as its hash, expiring `session_absolute_minutes` after `now`. Returns the token
/// (shown once, in the cookie or the answer) and its expiry.
pub(super) async fn open_session(
    state: &AppState,
    tx: &mut Tx,
    user_id: i64,
    mfa_passed: bool,
    now: i64,
    source: &str,
) -> AppResult<(String, i64)> {
    let token = random_token(SESSION_PREFIX);
    let expires_at = now + state.rules().session_absolute_minutes * MINUTE_MS;
    queries::insert_session(
        tx,
        &NewSession {
            token_hash: &token_hash(&token),
            user_id,
            mfa_passed,
            now,
            expires_at,
            source,
        },
    )
    .await?;
    Ok((token, expires_at))
}

/// End a session (logout).
pub async fn logout(state: &AppState, authed: &Authed) -> AppResult<()> {
    let Via::Session(sid) = authed.actor.via else {
        return Ok(());
    };
    let mut tx = Tx::begin(state, &authed.actor).await?;
    let now = tx.now();
    queries::revoke_session(&mut tx, sid, now).await?;
    tx.commit(
        Change::new("auth.logout", "session", sid, authed.user.scope.clone()).detail(json!({})),
    )
    .await?;
    state.auth_cache.invalidate();
    Ok(())
}
