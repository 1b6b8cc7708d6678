//! Security administration API (issue 13): the deployment's security settings (the longest
//! personal-token lifetime, the roles whose second factor is waived) and the reset of an
//! account's second factor. Only the security administrator reaches them; every change is
//! audited by the service functions they call.

use axum::extract::{Path, State};
use axum::routing::{get, post};

use super::UserView;
use crate::kernel::auth::{self, SecuritySettings};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody};
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
