//! Organisation API (`/api/v1/orgs…`). Pages are in `orgs::pages`.

use axum::extract::{Path, Query};
use axum::routing::get;
use serde::Deserialize;

use super::{NewOrg, Org};
use crate::kernel::extract::region_param;
use crate::kernel::handler::api_handler;
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/orgs", get(list).post(create)),
        ("/api/v1/orgs/{id}", get(one)),
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
