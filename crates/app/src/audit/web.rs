//! Audit API (`/api/v1/audit`). The page is in `audit::pages`.

use axum::extract::{Query, State};
use axum::routing::get;

use super::{AuditQuery, AuditRow};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::Api;
use crate::kernel::web::Routes;
use crate::state::AppState;

pub fn api_routes() -> Routes {
    vec![("/api/v1/audit", get(search))]
}

/// Search the audit log (auditor role). Newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Vec<AuditRow>), (status = 403, body = ErrorBody)))]
pub async fn search(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<AuditQuery>,
) -> AppResult<axum::Json<Vec<AuditRow>>> {
    Ok(axum::Json(super::search(&s, &a.actor, &q).await?))
}
