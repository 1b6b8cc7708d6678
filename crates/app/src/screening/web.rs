//! Screening and home-observation API (`/api/v1/screening/…`, `/api/v1/observations…`).
//! Thin handlers over the scoped service functions of `screening`; pages are in
//! `screening::pages`.

use axum::extract::{Path, Query};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{
    Campaign, CloseObservation, Coverage, NewCampaign, NewCheckin, NewObservation, Observation,
    ObservationQuery, ObservationSummary, RollHousehold, Visit, VisitInput,
};
use crate::kernel::error::{AppError, AppResult, ErrorBody};
use crate::kernel::handler::{ApiCaller, api_handler};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        (
            "/api/v1/screening/campaigns",
            get(list_campaigns).post(create_campaign),
        ),
        ("/api/v1/screening/campaigns/{id}", get(campaign)),
        ("/api/v1/screening/campaigns/{id}/coverage", get(coverage)),
        (
            "/api/v1/screening/campaigns/{id}/households",
            get(households),
        ),
        (
            "/api/v1/screening/campaigns/{id}/households/{household_id}",
            get(visit).post(record_visit),
        ),
        (
            "/api/v1/observations",
            get(list_observations).post(start_observation),
        ),
        ("/api/v1/observations/summary", get(summary)),
        ("/api/v1/observations/{id}", get(observation)),
        ("/api/v1/observations/{id}/extend", post(extend)),
        ("/api/v1/observations/{id}/checkins", post(checkin)),
        ("/api/v1/observations/{id}/close", post(close)),
    ]
}

api_handler! {
    /// Open a screening campaign (an official above village level).
    post "/api/v1/screening/campaigns", tag "screening", created(Campaign), json(body: NewCampaign),
        errors(403, 404, 422);
    fn create_campaign(s, a) { super::create_campaign(&s, &a.actor, &body).await? }
}

api_handler! {
    /// Campaigns whose region overlaps the caller's scope.
    get "/api/v1/screening/campaigns", tag "screening", ok(Vec<Campaign>);
    fn list_campaigns(s, a) { super::list_campaigns(&s, &a.actor).await? }
}

api_handler! {
    /// One campaign.
    get "/api/v1/screening/campaigns/{id}", tag "screening", ok(Campaign),
        params(("id" = i64, Path)), errors(404);
    fn campaign(s, a, Path(id): Path<i64>) { super::get_campaign(&s, &a.actor, id).await? }
}

/// `?region=` of coverage and summaries.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct RegionQuery {
    /// Region code; default the campaign's region or the caller's scope.
    pub region: Option<String>,
}

api_handler! {
    /// Households reached of households on the roll, by child region, furthest behind first.
    get "/api/v1/screening/campaigns/{id}/coverage", tag "screening", ok(Coverage),
        params(("id" = i64, Path), RegionQuery), errors(404);
    fn coverage(s, a, Path(id): Path<i64>, Query(q): Query<RegionQuery>) {
        let region = super::region_query(q.region.as_deref())?;
        super::coverage(&s, &a.actor, id, region.as_ref()).await?
    }
}

/// `?q=` of the household finder.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct FindQuery {
    /// Household number, or part of the address or of a member's name.
    pub q: Option<String>,
}

api_handler! {
    /// Households of the campaign in the caller's scope, not yet reached first.
    get "/api/v1/screening/campaigns/{id}/households", tag "screening", ok(Vec<RollHousehold>),
        params(("id" = i64, Path), FindQuery), errors(404);
    fn households(s, a, Path(id): Path<i64>, Query(q): Query<FindQuery>) {
        super::find_households(&s, &a.actor, id, q.q.as_deref().unwrap_or("")).await?
    }
}

/// The recorded visit of a household (404 if none yet).
#[utoipa::path(get, path = "/api/v1/screening/campaigns/{id}/households/{household_id}",
    tag = "screening", params(("id" = i64, Path), ("household_id" = i64, Path)),
    responses((status = 200, body = Visit), (status = 404, body = ErrorBody)))]
pub async fn visit(
    ApiCaller(s, a): ApiCaller,
    Path((id, hid)): Path<(i64, i64)>,
) -> AppResult<axum::Json<Visit>> {
    super::get_visit(&s, &a.actor, id, hid)
        .await?
        .map(axum::Json)
        .ok_or_else(AppError::not_found)
}

api_handler! {
    /// Record the visit of one household and every person in it (one write; audited).
    post "/api/v1/screening/campaigns/{id}/households/{household_id}", tag "screening", ok(Visit),
        params(("id" = i64, Path), ("household_id" = i64, Path)), json(body: VisitInput),
        errors(404, 422);
    fn record_visit(s, a, Path((id, hid)): Path<(i64, i64)>) {
        super::record_visit(&s, &a.actor, id, hid, &body).await?
    }
}

api_handler! {
    /// Start a home observation with four responsible people.
    post "/api/v1/observations", tag "screening", created(Observation), json(body: NewObservation),
        errors(404, 409, 422);
    fn start_observation(s, a) { super::start_observation(&s, &a.actor, &body).await? }
}

api_handler! {
    /// Observations in a region (names masked).
    get "/api/v1/observations", tag "screening", ok(Vec<Observation>), params(ObservationQuery),
        errors(404);
    fn list_observations(s, a, Query(q): Query<ObservationQuery>) {
        let region = super::region_query(q.region.as_deref())?;
        let listed = super::Listed::parse(q.status.as_deref())?;
        super::list_observations(&s, &a.actor, region.as_ref(), listed).await?
    }
}

api_handler! {
    /// People under observation, rolled up by child region.
    get "/api/v1/observations/summary", tag "screening", ok(ObservationSummary),
        params(RegionQuery), errors(404);
    fn summary(s, a, Query(q): Query<RegionQuery>) {
        let region = super::region_query(q.region.as_deref())?;
        super::summary(&s, &a.actor, region.as_ref()).await?
    }
}

api_handler! {
    /// One observation with its four and its check-ins.
    get "/api/v1/observations/{id}", tag "screening", ok(Observation), params(("id" = i64, Path)),
        errors(404);
    fn observation(s, a, Path(id): Path<i64>) { super::get_observation(&s, &a.actor, id).await? }
}

/// Body of `POST /api/v1/observations/{id}/extend`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ExtendBody {
    /// New last day, `YYYY-MM-DD`, later than the current one.
    pub ends_on: String,
}

api_handler! {
    /// Extend an observation (never shorten: 422).
    post "/api/v1/observations/{id}/extend", tag "screening", ok(Observation),
        params(("id" = i64, Path)), json(body: ExtendBody), errors(404, 422);
    fn extend(s, a, Path(id): Path<i64>) { super::extend(&s, &a.actor, id, &body.ends_on).await? }
}

api_handler! {
    /// Record a check-in (temperature, symptoms) in the current half-day.
    post "/api/v1/observations/{id}/checkins", tag "screening", ok(Observation),
        params(("id" = i64, Path)), json(body: NewCheckin), errors(404, 422);
    fn checkin(s, a, Path(id): Path<i64>) { super::checkin(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Close an observation: release, central isolation or hospital.
    post "/api/v1/observations/{id}/close", tag "screening", ok(Observation),
        params(("id" = i64, Path)), json(body: CloseObservation), errors(404, 422);
    fn close(s, a, Path(id): Path<i64>) { super::close(&s, &a.actor, id, &body).await? }
}
