//! Supervision API (`/api/v1/inspections…`, `/api/v1/rectifications…`). Handlers are thin: the
//! rules live in the service functions of `inspections`.

use axum::extract::{Path, Query};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{Inspection, NewInspection, NewProblem, Problem, ReopenInput, RespondInput};
use crate::kernel::extract::region_param;
use crate::kernel::handler::{RegionQuery, api_handler};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/inspections", get(list).post(create)),
        ("/api/v1/inspections/{id}", get(one)),
        ("/api/v1/inspections/{id}/problems", post(add_problem)),
        ("/api/v1/rectifications", get(rectifications)),
        ("/api/v1/rectifications/{id}", get(one_rectification)),
        ("/api/v1/rectifications/{id}/respond", post(respond)),
        ("/api/v1/rectifications/{id}/close", post(close)),
        ("/api/v1/rectifications/{id}/reopen", post(reopen)),
    ]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RectificationQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// Only rectifications past their deadline (`true`); default all not closed.
    pub overdue: Option<bool>,
}

api_handler! {
    /// Inspections in the caller's scope, newest first, with their problems.
    get "/api/v1/inspections", tag "inspections", ok(Vec<Inspection>), params(RegionQuery),
        errors(404);
    fn list(s, a, Query(q): Query<RegionQuery>) {
        super::list(&s, &a.actor, q.region()?.as_ref()).await?
    }
}

api_handler! {
    /// Record an inspection of a unit with the problems found.
    post "/api/v1/inspections", tag "inspections", created(Inspection), json(body: NewInspection),
        errors(403, 404, 422);
    fn create(s, a) { super::create(&s, &a.actor, &body).await? }
}

api_handler! {
    /// One inspection with its problems.
    get "/api/v1/inspections/{id}", tag "inspections", ok(Inspection), params(("id" = i64, Path)),
        errors(404);
    fn one(s, a, Path(id): Path<i64>) { super::get(&s, &a.actor, id).await? }
}

api_handler! {
    /// Add a problem (with its rectification and deadline) to an inspection.
    post "/api/v1/inspections/{id}/problems", tag "inspections", created(Inspection),
        params(("id" = i64, Path)), json(body: NewProblem), errors(403, 404, 422);
    fn add_problem(s, a, Path(id): Path<i64>) {
        super::add_problem(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// Rectifications not closed in the caller's scope (`overdue=true`: only overdue ones),
    /// earliest deadline first.
    get "/api/v1/rectifications", tag "inspections", ok(Vec<Problem>), params(RectificationQuery),
        errors(404);
    fn rectifications(s, a, Query(q): Query<RectificationQuery>) {
        let region = region_param(q.region.as_deref())?;
        super::rectifications(&s, &a.actor, region.as_ref(), q.overdue.unwrap_or(false)).await?
    }
}

api_handler! {
    /// One rectification.
    get "/api/v1/rectifications/{id}", tag "inspections", ok(Problem), params(("id" = i64, Path)),
        errors(404);
    fn one_rectification(s, a, Path(id): Path<i64>) { super::get_problem(&s, &a.actor, id).await? }
}

api_handler! {
    /// The unit answers with what it did.
    post "/api/v1/rectifications/{id}/respond", tag "inspections", ok(Problem),
        params(("id" = i64, Path)), json(body: RespondInput), errors(403, 404, 409, 422);
    fn respond(s, a, Path(id): Path<i64>) {
        super::respond(&s, &a.actor, id, &body.response).await?
    }
}

api_handler! {
    /// The inspector closes (销号) a rectification.
    post "/api/v1/rectifications/{id}/close", tag "inspections", ok(Problem),
        params(("id" = i64, Path)), errors(403, 404, 409);
    fn close(s, a, Path(id): Path<i64>) { super::close(&s, &a.actor, id).await? }
}

api_handler! {
    /// The inspector reopens a rectification.
    post "/api/v1/rectifications/{id}/reopen", tag "inspections", ok(Problem),
        params(("id" = i64, Path)), json(body: ReopenInput), errors(403, 404, 409);
    fn reopen(s, a, Path(id): Path<i64>) { super::reopen(&s, &a.actor, id, &body.reason).await? }
}
