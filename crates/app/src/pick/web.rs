//! Picker API (`/api/v1/pick/…`): thin handlers over the scoped look-ups of `pick`.

use axum::extract::Query;
use axum::routing::get;

use super::{Pick, PickQuery};
use crate::kernel::handler::api_handler;
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/pick/regions", get(regions)),
        ("/api/v1/pick/orgs", get(orgs)),
        ("/api/v1/pick/units", get(units)),
        ("/api/v1/pick/persons", get(persons)),
    ]
}

api_handler! {
    /// Regions of the caller's scope by name, pinyin initials (`nsq`) or code; at most 20.
    get "/api/v1/pick/regions", tag "pick", ok(Vec<Pick>), params(PickQuery), errors(403);
    fn regions(s, a, Query(q): Query<PickQuery>) { super::regions(&s, &a.actor, &q).await? }
}

api_handler! {
    /// Organisations in use of the caller's scope by name, pinyin initials or id; at most 20.
    get "/api/v1/pick/orgs", tag "pick", ok(Vec<Pick>), params(PickQuery), errors(403, 422);
    fn orgs(s, a, Query(q): Query<PickQuery>) { super::orgs(&s, &a.actor, &q).await? }
}

api_handler! {
    /// Reporting units (villages: code; organisations: `org:ID`) of the caller's scope, of one
    /// report form with `template`; at most 20.
    get "/api/v1/pick/units", tag "pick", ok(Vec<Pick>), params(PickQuery), errors(403, 404);
    fn units(s, a, Query(q): Query<PickQuery>) { super::units(&s, &a.actor, &q).await? }
}

api_handler! {
    /// Persons in use of the caller's scope by name, pinyin or initials (masked); at most 20.
    get "/api/v1/pick/persons", tag "pick", ok(Vec<Pick>), params(PickQuery), errors(403);
    fn persons(s, a, Query(q): Query<PickQuery>) { super::persons(&s, &a.actor, &q).await? }
}
