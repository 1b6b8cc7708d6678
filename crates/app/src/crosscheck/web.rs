//! Cross-check API: `POST /api/v1/crosschecks/run`, `GET /api/v1/crosschecks?status=open`,
//! `GET /api/v1/crosschecks/{id}`, `POST /api/v1/crosschecks/{id}/resolve`. Handlers only
//! extract and call the scoped service functions of `crosscheck`.

use axum::extract::{Path, Query};
use axum::routing::{get, post};

use super::{Conflict, ConflictList, ConflictQuery, ResolveRequest, RunReport, RunRequest};
use crate::kernel::extract::region_param;
use crate::kernel::handler::api_handler;
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/crosschecks", get(list)),
        ("/api/v1/crosschecks/run", post(run)),
        ("/api/v1/crosschecks/{id}", get(one)),
        ("/api/v1/crosschecks/{id}/resolve", post(resolve)),
    ]
}

api_handler! {
    /// Run the cross-checks over the caller's scope (or a region inside it) and store the
    /// conflicts found (idempotent: a rerun never duplicates; resolved ones stay resolved).
    post "/api/v1/crosschecks/run", tag "crosschecks", ok(RunReport), json(body: RunRequest),
        errors(403, 404);
    fn run(s, a) {
        super::run_in(&s, &a.actor, region_param(body.region.as_deref())?.as_ref()).await?
    }
}

api_handler! {
    /// Conflicts visible to the caller (all their persons in scope), with counts per kind.
    get "/api/v1/crosschecks", tag "crosschecks", ok(ConflictList), params(ConflictQuery),
        errors(403, 404, 422);
    fn list(s, a, Query(q): Query<ConflictQuery>) {
        super::list(&s, &a.actor, region_param(q.region.as_deref())?.as_ref(), &q).await?
    }
}

api_handler! {
    /// One conflict.
    get "/api/v1/crosschecks/{id}", tag "crosschecks", ok(Conflict), params(("id" = i64, Path)),
        errors(404);
    fn one(s, a, Path(id): Path<i64>) { super::get(&s, &a.actor, id).await? }
}

api_handler! {
    /// Resolve an open conflict with a note (required; audited).
    post "/api/v1/crosschecks/{id}/resolve", tag "crosschecks", ok(Conflict),
        params(("id" = i64, Path)), json(body: ResolveRequest), errors(404, 409, 422);
    fn resolve(s, a, Path(id): Path<i64>) { super::resolve(&s, &a.actor, id, &body.note).await? }
}
