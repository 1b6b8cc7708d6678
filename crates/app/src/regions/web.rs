//! Region API (`/api/v1/regions…`). Pages are in `regions::pages`.

use axum::extract::Path;
use axum::routing::{get, post};
use serde::Deserialize;

use super::Region;
use crate::kernel::handler::api_handler;
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/regions", get(roots)),
        ("/api/v1/regions/{code}", get(one)),
        ("/api/v1/regions/{code}/children", get(children)),
        ("/api/v1/regions/{code}/grids", post(create_grid)),
    ]
}

api_handler! {
    /// The top of the caller's tree (the provinces for national scope, else its own region).
    get "/api/v1/regions", tag "regions", ok(Vec<Region>), errors(401);
    fn roots(s, a) { super::roots(&s, &a.actor).await? }
}

api_handler! {
    /// One region: `{code, name, level, parent}`. Outside the caller's scope: 404.
    get "/api/v1/regions/{code}", tag "regions", ok(Region),
        params(("code" = String, Path, description = "区划代码 (2/4/6/9/12 位，网格 15 位)")),
        errors(404);
    fn one(s, a, Path(code): Path<String>) { super::get(&s, &a.actor, &code).await? }
}

api_handler! {
    /// The children of a region.
    get "/api/v1/regions/{code}/children", tag "regions", ok(Vec<Region>),
        params(("code" = String, Path)), errors(404);
    fn children(s, a, Path(code): Path<String>) { super::children(&s, &a.actor, &code).await? }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewGrid {
    pub name: String,
}

api_handler! {
    /// Create a grid (网格) under a village or community.
    post "/api/v1/regions/{code}/grids", tag "regions", created(Region),
        params(("code" = String, Path, description = "村（社区）代码")), json(body: NewGrid),
        errors(404, 422);
    fn create_grid(s, a, Path(code): Path<String>) {
        super::create_grid(&s, &a.actor, &code, &body.name).await?
    }
}
