//! The security settings of a deployment that the security administrator sets (kv_settings,
//! keys `security.*`): today the longest lifetime of a personal API token (default 90 days).

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries;
use crate::audit::diff;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

const TOKEN_MAX_DAYS: &str = "security.token_max_days";
/// The default of `token_max_days`.
pub const DEFAULT_TOKEN_MAX_DAYS: i64 = 90;
const CEILING_TOKEN_MAX_DAYS: i64 = 3650;

/// `GET`/`PUT /api/v1/security/settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecuritySettings {
    /// Longest lifetime of a personal API token, in days (1–3650).
    pub token_max_days: i64,
}

/// The settings in force.
pub async fn security_settings(state: &AppState) -> AppResult<SecuritySettings> {
    let days = queries::setting(state, TOKEN_MAX_DAYS)
        .await?
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|d| (1..=CEILING_TOKEN_MAX_DAYS).contains(d))
        .unwrap_or(DEFAULT_TOKEN_MAX_DAYS);
    Ok(SecuritySettings {
        token_max_days: days,
    })
}

/// Change the settings (security administrator, or the operator). Audited.
pub async fn set_security_settings(
    state: &AppState,
    actor: &Actor,
    input: &SecuritySettings,
) -> AppResult<SecuritySettings> {
    actor.require(Permission::SecurityManage)?;
    if !(1..=CEILING_TOKEN_MAX_DAYS).contains(&input.token_max_days) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "token_max_days",
            "令牌最长有效期应为 1–3650 天",
        ));
    }
    let before = security_settings(state).await?;
    let mut tx = Tx::begin(state, actor).await?;
    queries::put_setting(&mut tx, TOKEN_MAX_DAYS, &input.token_max_days.to_string()).await?;
    tx.commit(
        Change::new("security.settings", "setting", "security", "0").detail(diff(&[(
            "token_max_days",
            json!(before.token_max_days),
            json!(input.token_max_days),
        )])),
    )
    .await?;
    state.auth_cache.invalidate();
    security_settings(state).await
}
