//! Security administration API (issue 13): the deployment's security settings (the longest
//! personal-token lifetime). Only the security administrator reaches them; every change is
//! audited by the service function it calls.

use axum::extract::State;
use axum::routing::get;

use crate::kernel::auth::{self, SecuritySettings};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody};
use crate::kernel::web::Routes;
use crate::state::AppState;
use backstop_core::role::Permission;

pub fn api_routes() -> Routes {
    vec![(
        "/api/v1/security/settings",
        get(get_settings).put(put_settings),
    )]
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
