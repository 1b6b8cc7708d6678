//! Security administration API (issue 13): the deployment's security settings (the longest
//! personal-token lifetime, the roles whose second factor is waived) and the reset of an
//! account's second factor. Only the security administrator reaches them; every change is
//! audited by the service functions they call. Also the device credentials of field accounts
//! (a TOTP proof once per browser): listed and revoked by their user, by the officials who
//! manage the account and by the security administrator.

use axum::extract::{Path, State};
use axum::routing::{get, post};

use super::UserView;
use crate::kernel::auth::{self, DeviceView, SecuritySettings};
use crate::kernel::error::AppError;
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody};
use crate::kernel::handler::api_handler;
use crate::kernel::web::Routes;
use crate::state::AppState;
use backstop_core::role::Permission;

pub fn api_routes() -> Routes {
    vec![
        (
            "/api/v1/security/settings",
            get(get_settings).put(put_settings),
        ),
        ("/api/v1/users/{id}/reset-totp", post(reset_totp)),
        ("/api/v1/auth/recovery-codes", post(recovery_codes)),
        ("/api/v1/auth/devices", get(own_devices)),
        ("/api/v1/auth/devices/{id}/revoke", post(revoke_own_device)),
        ("/api/v1/users/{id}/devices", get(user_devices)),
        (
            "/api/v1/users/{id}/devices/{device_id}/revoke",
            post(revoke_user_device),
        ),
    ]
}

/// The security settings in force (security administrator).
#[utoipa::path(get, path = "/api/v1/security/settings", tag = "users",
    responses((status = 200, body = SecuritySettings), (status = 403, body = ErrorBody)))]
pub async fn get_settings(
    State(s): State<AppState>,
    Api(a): Api,
) -> AppResult<axum::Json<SecuritySettings>> {
    a.actor.require(Permission::SecurityManage)?;
    Ok(axum::Json(auth::security_settings(&s).await?))
}

/// Change the security settings (security administrator; audited as `security.settings`).
#[utoipa::path(put, path = "/api/v1/security/settings", tag = "users", request_body = SecuritySettings,
    responses((status = 200, body = SecuritySettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_settings(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(b): JsonBody<SecuritySettings>,
) -> AppResult<axum::Json<SecuritySettings>> {
    Ok(axum::Json(
        auth::set_security_settings(&s, &a.actor, &b).await?,
    ))
}

/// Forget an account's TOTP so it enrols again at its next login (security administrator,
/// business accounts in scope; audited as `user.totp_reset`).
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-totp", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reset_totp(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<UserView>> {
    Ok(axum::Json(
        super::reset_second_factor(&s, &a.actor, id).await?,
    ))
}

/// Make ten new one-time recovery codes for the caller's TOTP (shown once; the old ones end).
/// Each can stand in for a TOTP code at one login (a lost phone). Audited.
#[utoipa::path(post, path = "/api/v1/auth/recovery-codes", tag = "auth",
    responses((status = 200, body = auth::RecoveryCodes), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn recovery_codes(
    State(s): State<AppState>,
    Api(a): Api,
) -> AppResult<axum::Json<auth::RecoveryCodes>> {
    Ok(axum::Json(auth::new_recovery_codes(&s, &a).await?))
}

/// The caller's user id (a personal account, not the console operator).
fn own_id(a: &auth::Authed) -> AppResult<i64> {
    a.actor.user_id.ok_or_else(AppError::forbidden)
}

api_handler! {
    /// The caller's device credentials (browsers that skip the TOTP step for 30 days).
    get "/api/v1/auth/devices", tag "auth", ok(Vec<DeviceView>), errors(403);
    fn own_devices(s, a) { super::list_devices(&s, &a.actor, own_id(&a)?).await? }
}

api_handler! {
    /// Revoke one of the caller's device credentials (another's: not found). Audited.
    post "/api/v1/auth/devices/{id}/revoke", tag "auth", ok(serde_json::Value),
        params(("id" = i64, Path)), errors(403, 404);
    fn revoke_own_device(s, a, Path(id): Path<i64>) {
        super::revoke_device(&s, &a.actor, own_id(&a)?, id).await?;
        serde_json::json!({"revoked": id})
    }
}

api_handler! {
    /// An account's device credentials: for the officials who manage it and the security
    /// administrator (business accounts in scope).
    get "/api/v1/users/{id}/devices", tag "users", ok(Vec<DeviceView>),
        params(("id" = i64, Path)), errors(403, 404);
    fn user_devices(s, a, Path(id): Path<i64>) { super::list_devices(&s, &a.actor, id).await? }
}

api_handler! {
    /// Revoke one device credential of an account (its managers, the security administrator).
    post "/api/v1/users/{id}/devices/{device_id}/revoke", tag "users", ok(serde_json::Value),
        params(("id" = i64, Path), ("device_id" = i64, Path)), errors(403, 404);
    fn revoke_user_device(s, a, Path((id, device_id)): Path<(i64, i64)>) {
        super::revoke_device(&s, &a.actor, id, device_id).await?;
        serde_json::json!({"revoked": device_id})
    }
}
