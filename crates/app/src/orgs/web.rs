//! Organisation API (`/api/v1/orgs…`). Pages are in `orgs::pages`.

use axum::extract::{Path, Query};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{NewOrg, Org, OrgPatch};
use crate::kernel::extract::region_param;
use crate::kernel::handler::api_handler;
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/orgs", get(list).post(create)),
        ("/api/v1/orgs/{id}", get(one).patch(update)),
        ("/api/v1/orgs/{id}/disable", post(disable)),
        ("/api/v1/orgs/{id}/enable", post(enable)),
    ]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OrgQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// Kind identifier, e.g. `elderly_care`.
    pub kind: Option<String>,
}

api_handler! {
    /// Organisations in a region of the caller's scope.
    get "/api/v1/orgs", tag "orgs", ok(Vec<Org>), params(OrgQuery), errors(404);
    fn list(s, a, Query(q): Query<OrgQuery>) {
        let region = region_param(q.region.as_deref())?;
        let kind = super::OrgKind::param(q.kind.as_deref())?;
        super::list(&s, &a.actor, region.as_ref(), kind).await?
    }
}

api_handler! {
    /// Create an organisation.
    post "/api/v1/orgs", tag "orgs", created(Org), json(body: NewOrg), errors(404, 422);
    fn create(s, a) { super::create(&s, &a.actor, &body).await? }
}

api_handler! {
    /// One organisation.
    get "/api/v1/orgs/{id}", tag "orgs", ok(Org), params(("id" = i64, Path)), errors(404);
    fn one(s, a, Path(id): Path<i64>) { super::get(&s, &a.actor, id).await? }
}

api_handler! {
    /// Correct an organisation (the fields given; audited before → after).
    patch "/api/v1/orgs/{id}", tag "orgs", ok(Org), params(("id" = i64, Path)), json(body: OrgPatch), errors(403, 404, 422);
    fn update(s, a, Path(id): Path<i64>) { super::update(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Disable an organisation: no longer a unit that must report; its records stay.
    post "/api/v1/orgs/{id}/disable", tag "orgs", ok(Org), params(("id" = i64, Path)), errors(403, 404);
    fn disable(s, a, Path(id): Path<i64>) { super::set_disabled(&s, &a.actor, id, true).await? }
}

api_handler! {
    /// Enable a disabled organisation again.
    post "/api/v1/orgs/{id}/enable", tag "orgs", ok(Org), params(("id" = i64, Path)), errors(403, 404);
    fn enable(s, a, Path(id): Path<i64>) { super::set_disabled(&s, &a.actor, id, false).await? }
}
