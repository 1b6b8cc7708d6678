//! Who may see and revoke an account's device credentials (`kernel::auth::devices`): the
//! account's own user; the officials who may manage the account (grant its roles in its
//! scope — the ones who create and reset it); and the security administrator for business
//! accounts in scope. Anyone else: an account out of scope is *not found*, one in scope
//! *forbidden*. Each revocation is audited (`auth.device_revoke`).

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde_json::json;

use super::{get_user, may_manage, parse_roles};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::auth::{self, DeviceView};
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// The account's scope, once the actor is allowed to handle its device credentials.
async fn allowed(state: &AppState, actor: &Actor, user_id: i64) -> AppResult<String> {
    if actor.user_id == Some(user_id) {
        return Ok(actor.scope.as_str().to_string());
    }
    let target = get_user(state, actor, user_id).await?;
    let roles = parse_roles(&target.roles).unwrap_or_default();
    let secadmin = actor.can(Permission::SecurityManage) && !roles.is_admin();
    if secadmin || may_manage(actor, &target.roles) {
        Ok(target.region_code)
    } else {
        Err(AppError::msg(
            ErrorCode::Forbidden,
            "只有本人、可管理该账户的干部和安全管理员可以查看或注销其设备",
        ))
    }
}

/// An account's device credentials, newest first.
pub async fn list_devices(
    state: &AppState,
    actor: &Actor,
    user_id: i64,
) -> AppResult<Vec<DeviceView>> {
    allowed(state, actor, user_id).await?;
    auth::devices_of(state, user_id).await
}

/// Revoke one device credential of an account (not found if it is not the account's, or
/// already revoked).
pub async fn revoke_device(
    state: &AppState,
    actor: &Actor,
    user_id: i64,
    device_id: i64,
) -> AppResult<()> {
    let scope = allowed(state, actor, user_id).await?;
    let mut tx = Tx::begin(state, actor).await?;
    if !auth::revoke_device(&mut tx, user_id, device_id, &actor.username).await? {
        return Err(AppError::not_found());
    }
    tx.commit(
        Change::new("auth.device_revoke", "user", user_id, scope)
            .detail(json!({"device": device_id})),
    )
    .await?;
    Ok(())
}
