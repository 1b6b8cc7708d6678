//! Recovery codes of the TOTP second factor, for a lost phone: ten one-time codes made at a
//! time in a complete login session of an enrolled account, shown once, stored only as their
//! SHA-256. At login a code is given where the TOTP code goes (API `totp`, the web TOTP step);
//! each opens one login and is then spent. Making new codes replaces the old ones; a reset of
//! the second factor deletes them.

use backstop_core::error::ErrorCode;
use rand::Rng;
use serde::Serialize;
use serde_json::json;

use super::{Authed, Stage, UserAuth, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Via;
use crate::kernel::crypto::token_hash;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// How many codes are made at a time.
pub const RECOVERY_CODES: usize = 10;
/// Letters and digits that are not confused when read aloud or typed (no 0/O, 1/I/L).
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// New recovery codes, shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// `XXXX-XXXX`, each usable once instead of a TOTP code.
    pub codes: Vec<String>,
}

/// The normal form a code is hashed in: upper case, no dash or space.
fn normal(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Does this answer look like a recovery code rather than a six-digit TOTP code?
pub(super) fn is_recovery_code(code: &str) -> bool {
    let n = normal(code);
    n.len() == 8 && n.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Spend one of the user's recovery codes; whether it was an unused one of theirs.
pub(super) async fn spend(state: &AppState, user: &UserAuth, code: &str) -> AppResult<bool> {
    let done =
        queries::spend_recovery_code(state, user.id, &token_hash(&normal(code)), state.now_ms())
            .await?;
    state.auth_cache.invalidate();
    Ok(done)
}

/// Make new recovery codes for the caller (replacing any old ones). Needs a complete login
/// session of an account with TOTP enrolled. Audited (`auth.recovery_codes`, no code in it).
pub async fn new_recovery_codes(state: &AppState, authed: &Authed) -> AppResult<RecoveryCodes> {
    if !matches!(authed.actor.via, Via::Session(_)) || authed.stage != Stage::Full {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "只能在完整登录的会话中生成恢复码",
        ));
    }
    if !authed.user.totp_enabled {
        return Err(AppError::msg(
            ErrorCode::Validation,
            "请先绑定动态验证码，再生成恢复码",
        ));
    }
    // The thread's generator is not `Send`: it must not live across an await.
    let codes: Vec<String> = {
        let mut rng = rand::rng();
        (0..RECOVERY_CODES)
            .map(|_| {
                let s: String = (0..8)
                    .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                    .collect();
                format!("{}-{}", &s[..4], &s[4..])
            })
            .collect()
    };
    let hashes: Vec<String> = codes.iter().map(|c| token_hash(&normal(c))).collect();
    let mut tx = Tx::begin(state, &authed.actor).await?;
    queries::replace_recovery_codes(&mut tx, authed.user.id, &hashes).await?;
    tx.commit(
        Change::new(
            "auth.recovery_codes",
            "user",
            authed.user.id,
            authed.user.scope.clone(),
        )
        .detail(json!({"count": RECOVERY_CODES})),
    )
    .await?;
    Ok(RecoveryCodes { codes })
}

/// How many unused recovery codes the user has left.
pub async fn recovery_codes_left(state: &AppState, user_id: i64) -> AppResult<i64> {
    queries::recovery_codes_left(state, user_id).await
}
