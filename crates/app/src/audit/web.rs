//! Audit API (`/api/v1/audit`). The page is in `audit::pages`.

use axum::extract::Query;
use axum::routing::get;

use super::{AuditQuery, AuditRow};
use crate::kernel::handler::api_handler;
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![("/api/v1/audit", get(search))]
}

api_handler! {
    /// Search the audit log (auditor role). Newest first.
    get "/api/v1/audit", tag "audit", ok(Vec<AuditRow>), params(AuditQuery), errors(403);
    fn search(s, a, Query(q): Query<AuditQuery>) { super::search(&s, &a.actor, &q).await? }
}
