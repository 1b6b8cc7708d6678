//! Passwords: argon2id hashing and verification, generated passwords, and changing one's own
//! password (which ends every session of the account and hands the caller a fresh one).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use backstop_core::error::ErrorCode;
use rand::RngCore;
use serde_json::json;

use super::login::{LoginResult, register_failure};
use super::queries;
use super::sessions::open_session;
use super::{Authed, Stage};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Via;
use crate::kernel::crypto::random_token;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Hash a password with argon2id (default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> AppResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h: PasswordHash| h.to_string())
        .map_err(|e| AppError::internal("argon2", e))
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A real hash of a random password, verified against when the user does not exist.
pub(super) fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password(&random_token("dummy")).unwrap_or_default())
}

/// A strong random password meeting the default policy (initial admin, resets).
pub fn generate_password() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGIT: &[u8] = b"23456789";
    const SYM: &[u8] = b"#%+-=@";
    let mut rng = rand::rng();
    let mut pick = |set: &[u8]| set[(rng.next_u32() as usize) % set.len()] as char;
    let mut s = String::new();
    for i in 0..16 {
        let set = match i % 4 {
            0 => LOWER,
            1 => UPPER,
            2 => DIGIT,
            _ => SYM,
        };
        s.push(pick(set));
    }
    s
}

/// Change one's own password. Every session of the user is revoked; the caller gets a fresh
/// session token (its TOTP state carried over) so it can go on working.
pub async fn change_password(
    state: &AppState,
    authed: &Authed,
    old_password: &str,
    new_password: &str,
) -> AppResult<LoginResult> {
    let user = &authed.user;
    if !verify_password(&user.password_hash, old_password) {
        register_failure(state, user, &authed.actor.source, "bad_old_password").await?;
        return Err(AppError::field(
            ErrorCode::InvalidCredentials,
            "old_password",
            "原密码错误",
        ));
    }
    if old_password == new_password {
        return Err(AppError::field(
            ErrorCode::WeakPassword,
            "new_password",
            "新密码不能与原密码相同",
        ));
    }
    let context = [user.username.as_str(), user.display_name.as_str()];
    state
        .rules()
        .policy
        .check(new_password, &context)
        .map_err(|e| AppError::field(ErrorCode::WeakPassword, "new_password", e.to_string()))?;
    let hash = hash_password(new_password)?;
    let now = state.now_ms();
    let mfa_passed = match authed.actor.via {
        Via::Session(_) => authed.stage != Stage::NeedTotp,
        _ => false,
    };
    let mut tx = Tx::begin(state, &authed.actor).await?;
    queries::set_own_password(&mut tx, user.id, &hash, now).await?;
    let revoked = queries::revoke_all_sessions(tx.conn(), user.id, now).await?;
    // A changed password ends every personal API token too (a token must not outlive the
    // password that made it).
    let tokens_revoked = queries::revoke_all_tokens(tx.conn(), user.id, now).await?;
    let (token, expires_at) = open_session(
        state,
        &mut tx,
        user.id,
        mfa_passed,
        now,
        &authed.actor.source,
    )
    .await?;
    tx.commit(
        Change::new("auth.password_change", "user", user.id, user.scope.clone())
            .detail(json!({"sessions_revoked": revoked, "api_tokens_revoked": tokens_revoked})),
    )
    .await?;
    state.auth_cache.invalidate();
    let mut fresh = user.clone();
    fresh.must_change_password = false;
    fresh.password_changed_at = now;
    let stage = fresh.stage(mfa_passed, now, state.rules().policy.max_age_days);
    let stage = fresh.settle(state, stage).await;
    Ok(LoginResult {
        token,
        expires_at_ms: expires_at,
        must_change_password: false,
        stage,
        user_id: user.id,
    })
}
