//! Personal API tokens: made in a login session with the same roles and scope as the user,
//! shown once, stored only as their hash; listed and revoked by their owner alone. Their
//! lifetime is at most what the security administrator set (`security.token_max_days`,
//! default 90 days); a password change or reset and disabling the account revoke them all,
//! and they stay revoked when the account is enabled again. Only a session is accepted as a
//! page cookie (`kernel::extract`), so a token cannot stand in for a login in a browser.

use backstop_core::error::ErrorCode;
use serde::Serialize;
use serde_json::json;

use super::queries;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::{Actor, Via};
use crate::kernel::auth::{self, API_TOKEN_PREFIX};
use crate::kernel::crypto::{random_token, token_hash};
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// A personal API token as listed (the secret itself is shown only once, at creation).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiTokenView {
    pub id: i64,
    pub name: String,
    /// First characters, to recognise it.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub revoked: bool,
}

/// Create a personal API token (same roles and scope as the user). Returns the token once.
pub async fn create_token(
    state: &AppState,
    actor: &Actor,
    name: &str,
    days: Option<i64>,
) -> AppResult<(ApiTokenView, String)> {
    let user_id = actor.user_id.ok_or_else(AppError::forbidden)?;
    if !matches!(actor.via, Via::Session(_)) {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "只能在登录会话中创建令牌",
        ));
    }
    let name = text_field("name", name, 50, true)?;
    // The security administrator sets the longest lifetime (default 90 days); no default
    // beyond it, and a longer one asked for is refused, not cut.
    let max_days = auth::security_settings(state).await?.token_max_days;
    let days = days.unwrap_or(max_days);
    if !(1..=max_days).contains(&days) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "days",
            format!("有效期应为 1–{max_days} 天（安全管理员设定的上限）"),
        ));
    }
    let token = random_token(API_TOKEN_PREFIX);
    let prefix: String = token.chars().take(10).collect();
    let mut tx = Tx::begin(state, actor).await?;
    let expires_at = tx.now() + days * 24 * 3600 * 1000;
    let id = queries::insert_token(
        &mut tx,
        &queries::NewToken {
            token_hash: &token_hash(&token),
            user_id,
            name: &name,
            prefix: &prefix,
            expires_at,
        },
    )
    .await?;
    tx.commit(
        Change::new("token.create", "api_token", id, actor.scope.as_str())
            .detail(json!({"name": name, "days": days})),
    )
    .await?;
    let view = list_tokens(state, actor)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(AppError::not_found)?;
    Ok((view, token))
}

/// The actor's own tokens, newest first.
pub async fn list_tokens(state: &AppState, actor: &Actor) -> AppResult<Vec<ApiTokenView>> {
    let user_id = actor.user_id.ok_or_else(AppError::forbidden)?;
    queries::tokens(state, user_id).await
}

/// Revoke one of the actor's own tokens (another's: *not found*).
pub async fn revoke_token(state: &AppState, actor: &Actor, id: i64) -> AppResult<()> {
    let user_id = actor.user_id.ok_or_else(AppError::forbidden)?;
    let mut tx = Tx::begin(state, actor).await?;
    if queries::revoke_token(&mut tx, id, user_id).await? == 0 {
        return Err(AppError::not_found());
    }
    tx.commit(Change::new("token.revoke", "api_token", id, actor.scope.as_str()).detail(json!({})))
        .await?;
    state.auth_cache.invalidate();
    Ok(())
}
