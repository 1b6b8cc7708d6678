//! The security settings of a deployment that the security administrator sets (kv_settings,
//! keys `security.*`): the longest lifetime of a personal API token (default 90 days), and the
//! roles for which the second factor is waived — only roles that see no personal data
//! (`RoleSet::second_factor() == PerDeviceWaivable`) may be listed.

use backstop_core::error::ErrorCode;
use backstop_core::role::{Permission, Role, RoleSet, SecondFactor};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries;
use crate::audit::diff;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

const TOKEN_MAX_DAYS: &str = "security.token_max_days";
const WAIVED_ROLES: &str = "security.second_factor_waived_roles";
/// The default and the ceiling of `token_max_days`.
pub const DEFAULT_TOKEN_MAX_DAYS: i64 = 90;
const CEILING_TOKEN_MAX_DAYS: i64 = 3650;

/// `GET`/`PUT /api/v1/security/settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecuritySettings {
    /// Longest lifetime of a personal API token, in days.
    pub token_max_days: i64,
    /// Roles that log in without a second factor (only roles that see no personal data). A
    /// `PUT` without it waives nothing.
    #[serde(default)]
    pub second_factor_waived_roles: Vec<String>,
}

/// The settings in force.
pub async fn security_settings(state: &AppState) -> AppResult<SecuritySettings> {
    let days = queries::setting(state, TOKEN_MAX_DAYS)
        .await?
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|d| (1..=CEILING_TOKEN_MAX_DAYS).contains(d))
        .unwrap_or(DEFAULT_TOKEN_MAX_DAYS);
    let waived = queries::setting(state, WAIVED_ROLES)
        .await?
        .map(|v| waivable(&v))
        .unwrap_or_default();
    Ok(SecuritySettings {
        token_max_days: days,
        second_factor_waived_roles: waived.iter().map(|r| r.as_str().to_string()).collect(),
    })
}

/// The roles of a stored list that may be waived (anything else is ignored).
fn waivable(csv: &str) -> Vec<Role> {
    csv.split(',')
        .filter_map(Role::parse)
        .filter(|r| RoleSet::new([*r]).second_factor() == SecondFactor::PerDeviceWaivable)
        .collect()
}

/// Is the second factor waived for every role of this set?
pub(super) async fn waived_for(state: &AppState, roles: &RoleSet) -> AppResult<bool> {
    if roles.second_factor() != SecondFactor::PerDeviceWaivable || roles.is_empty() {
        return Ok(false);
    }
    let Some(v) = queries::setting(state, WAIVED_ROLES).await? else {
        return Ok(false);
    };
    let waived = waivable(&v);
    Ok(roles.roles().iter().all(|r| waived.contains(r)))
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
    let mut roles = Vec::new();
    for r in &input.second_factor_waived_roles {
        let role = Role::parse(r).ok_or_else(|| {
            AppError::field(
                ErrorCode::UnknownRole,
                "second_factor_waived_roles",
                format!("未知角色“{}”", r.chars().take(40).collect::<String>()),
            )
        })?;
        if RoleSet::new([role]).second_factor() != SecondFactor::PerDeviceWaivable {
            return Err(AppError::field(
                ErrorCode::Validation,
                "second_factor_waived_roles",
                format!("{}能看到个人信息，不能免除第二因素", role.label_zh()),
            ));
        }
        roles.push(role);
    }
    let roles = RoleSet::new(roles);
    let before = security_settings(state).await?;
    let mut tx = Tx::begin(state, actor).await?;
    queries::put_setting(&mut tx, TOKEN_MAX_DAYS, &input.token_max_days.to_string()).await?;
    queries::put_setting(&mut tx, WAIVED_ROLES, &roles.to_csv()).await?;
    tx.commit(
        Change::new("security.settings", "setting", "security", "0").detail(diff(&[
            (
                "token_max_days",
                json!(before.token_max_days),
                json!(input.token_max_days),
            ),
            (
                "second_factor_waived_roles",
                json!(before.second_factor_waived_roles.join(",")),
                json!(roles.to_csv()),
            ),
        ])),
    )
    .await?;
    state.auth_cache.invalidate();
    security_settings(state).await
}
