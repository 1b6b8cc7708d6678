//! Needs API (`/api/v1/needs/…`): post, list and cancel needs, the stock lines proposed for a
//! need, accepting one (an ordinary allocation), the unmet needs by region and the
//! institutions' reported figures by region beside them. Handlers are
//! thin: the rules live in [`super::needs`].

use axum::extract::{Path, Query};
use axum::routing::{get, post};
use serde::Deserialize;

use super::ledger::Allocation;
use super::need_figures::{self, RegionReportFigures};
use super::needs::{self, AcceptInput, Need, NewNeed, Proposal, RegionNeeds};
use crate::kernel::extract::region_param;
use crate::kernel::handler::api_handler;
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/needs", get(list).post(create)),
        ("/api/v1/needs/unmet", get(unmet)),
        ("/api/v1/needs/report-figures", get(report_figures)),
        ("/api/v1/needs/{id}", get(one)),
        ("/api/v1/needs/{id}/proposals", get(proposals)),
        ("/api/v1/needs/{id}/accept", post(accept)),
        ("/api/v1/needs/{id}/cancel", post(cancel)),
    ]
}

/// `?campaign_id=&region=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct NeedsQuery {
    pub campaign_id: i64,
    /// Delivery region code; default the caller's whole scope.
    pub region: Option<String>,
}

/// `?campaign_id=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UnmetQuery {
    pub campaign_id: i64,
}

api_handler! {
    /// Needs of a campaign the caller sees (unmet first, most urgent first, then needed-by).
    get "/api/v1/needs", tag "donations", ok(Vec<Need>), params(NeedsQuery), errors(403, 404);
    fn list(s, a, Query(q): Query<NeedsQuery>) {
        let region = region_param(q.region.as_deref())?;
        needs::list(&s, &a.actor, q.campaign_id, region.as_ref()).await?
    }
}

api_handler! {
    /// Post a need (donations.confirm): the caller's own organisation, or (an official) an
    /// organisation of its region such as the region's civil-affairs department.
    post "/api/v1/needs", tag "donations", created(Need), json(body: NewNeed),
        errors(403, 404, 422);
    fn create(s, a) { needs::create(&s, &a.actor, &body).await? }
}

api_handler! {
    /// Unmet needs of a campaign by delivery region, the most urgent regions first.
    get "/api/v1/needs/unmet", tag "donations", ok(Vec<RegionNeeds>), params(UnmetQuery),
        errors(403, 404);
    fn unmet(s, a, Query(q): Query<UnmetQuery>) {
        needs::unmet_by_region(&s, &a.actor, q.campaign_id).await?
    }
}

api_handler! {
    /// The institutions' daily reports of the day by child region of the campaign's region
    /// (reported, residents, fever, cases, isolated, days of masks and disinfectant left):
    /// the figures from reports an allocator ranks regions by, beside the unmet needs.
    get "/api/v1/needs/report-figures", tag "donations", ok(Vec<RegionReportFigures>),
        params(UnmetQuery), errors(403, 404);
    fn report_figures(s, a, Query(q): Query<UnmetQuery>) {
        need_figures::by_region(&s, &a.actor, q.campaign_id).await?
    }
}

api_handler! {
    /// One need with what is met and what remains.
    get "/api/v1/needs/{id}", tag "donations", ok(Need), params(("id" = i64, Path)),
        errors(403, 404);
    fn one(s, a, Path(id): Path<i64>) { needs::get(&s, &a.actor, id).await? }
}

api_handler! {
    /// Stock lines that could meet a need, best first: same specification, directed here,
    /// closest region, earliest expiry. Gifts directed elsewhere and expired goods never.
    get "/api/v1/needs/{id}/proposals", tag "donations", ok(Vec<Proposal>),
        params(("id" = i64, Path)), errors(403, 404);
    fn proposals(s, a, Path(id): Path<i64>) { needs::propose(&s, &a.actor, id).await? }
}

api_handler! {
    /// Accept a proposal: an ordinary allocation to the need's recipient (same invariants),
    /// the need (partly) met in the same transaction.
    post "/api/v1/needs/{id}/accept", tag "donations", created(Allocation),
        params(("id" = i64, Path)), json(body: AcceptInput), errors(403, 404, 409, 422);
    fn accept(s, a, Path(id): Path<i64>) { needs::accept(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Cancel a need (its organisation, or an official of its region).
    post "/api/v1/needs/{id}/cancel", tag "donations", ok(Need), params(("id" = i64, Path)),
        errors(403, 404, 409);
    fn cancel(s, a, Path(id): Path<i64>) { needs::cancel(&s, &a.actor, id).await? }
}
