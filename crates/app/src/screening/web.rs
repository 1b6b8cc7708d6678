//! Screening and home-observation API (`/api/v1/screening/…`, `/api/v1/observations…`).
//! Thin handlers over the scoped service functions of `screening`; pages are in
//! `screening::pages`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use super::{
    Campaign, CloseObservation, Coverage, NewCampaign, NewCheckin, NewObservation, Observation,
    ObservationQuery, ObservationSummary, RollHousehold, Visit, VisitInput,
};
use crate::kernel::error::{AppError, AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody};
use crate::kernel::web::Routes;
use crate::state::AppState;

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

/// Open a screening campaign (an official above village level).
#[utoipa::path(post, path = "/api/v1/screening/campaigns", tag = "screening",
    request_body = NewCampaign,
    responses((status = 201, body = Campaign), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_campaign(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(body): JsonBody<NewCampaign>,
) -> AppResult<(StatusCode, axum::Json<Campaign>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(super::create_campaign(&s, &a.actor, &body).await?),
    ))
}

/// Campaigns whose region overlaps the caller's scope.
#[utoipa::path(get, path = "/api/v1/screening/campaigns", tag = "screening",
    responses((status = 200, body = Vec<Campaign>)))]
pub async fn list_campaigns(
    State(s): State<AppState>,
    Api(a): Api,
) -> AppResult<axum::Json<Vec<Campaign>>> {
    Ok(axum::Json(super::list_campaigns(&s, &a.actor).await?))
}

/// One campaign.
#[utoipa::path(get, path = "/api/v1/screening/campaigns/{id}", tag = "screening",
    params(("id" = i64, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = ErrorBody)))]
pub async fn campaign(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Campaign>> {
    Ok(axum::Json(super::get_campaign(&s, &a.actor, id).await?))
}

/// `?region=` of coverage and summaries.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct RegionQuery {
    /// Region code; default the campaign's region or the caller's scope.
    pub region: Option<String>,
}

/// Households reached of households on the roll, by child region, furthest behind first.
#[utoipa::path(get, path = "/api/v1/screening/campaigns/{id}/coverage", tag = "screening",
    params(("id" = i64, Path), RegionQuery),
    responses((status = 200, body = Coverage), (status = 404, body = ErrorBody)))]
pub async fn coverage(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    Query(q): Query<RegionQuery>,
) -> AppResult<axum::Json<Coverage>> {
    let region = super::region_query(q.region.as_deref())?;
    Ok(axum::Json(
        super::coverage(&s, &a.actor, id, region.as_ref()).await?,
    ))
}

/// `?q=` of the household finder.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct FindQuery {
    /// Household number, or part of the address or of a member's name.
    pub q: Option<String>,
}

/// Households of the campaign in the caller's scope, not yet reached first.
#[utoipa::path(get, path = "/api/v1/screening/campaigns/{id}/households", tag = "screening",
    params(("id" = i64, Path), FindQuery),
    responses((status = 200, body = Vec<RollHousehold>), (status = 404, body = ErrorBody)))]
pub async fn households(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    Query(q): Query<FindQuery>,
) -> AppResult<axum::Json<Vec<RollHousehold>>> {
    Ok(axum::Json(
        super::find_households(&s, &a.actor, id, q.q.as_deref().unwrap_or("")).await?,
    ))
}

/// The recorded visit of a household (404 if none yet).
#[utoipa::path(get, path = "/api/v1/screening/campaigns/{id}/households/{household_id}",
    tag = "screening", params(("id" = i64, Path), ("household_id" = i64, Path)),
    responses((status = 200, body = Visit), (status = 404, body = ErrorBody)))]
pub async fn visit(
    State(s): State<AppState>,
    Api(a): Api,
    Path((id, hid)): Path<(i64, i64)>,
) -> AppResult<axum::Json<Visit>> {
    super::get_visit(&s, &a.actor, id, hid)
        .await?
        .map(axum::Json)
        .ok_or_else(AppError::not_found)
}

/// Record the visit of one household and every person in it (one write; audited).
#[utoipa::path(post, path = "/api/v1/screening/campaigns/{id}/households/{household_id}",
    tag = "screening", params(("id" = i64, Path), ("household_id" = i64, Path)),
    request_body = VisitInput,
    responses((status = 200, body = Visit), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn record_visit(
    State(s): State<AppState>,
    Api(a): Api,
    Path((id, hid)): Path<(i64, i64)>,
    JsonBody(body): JsonBody<VisitInput>,
) -> AppResult<axum::Json<Visit>> {
    Ok(axum::Json(
        super::record_visit(&s, &a.actor, id, hid, &body).await?,
    ))
}

/// Start a home observation with four responsible people.
#[utoipa::path(post, path = "/api/v1/observations", tag = "screening",
    request_body = NewObservation,
    responses((status = 201, body = Observation), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn start_observation(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(body): JsonBody<NewObservation>,
) -> AppResult<(StatusCode, axum::Json<Observation>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(super::start_observation(&s, &a.actor, &body).await?),
    ))
}

/// Observations in a region (names masked).
#[utoipa::path(get, path = "/api/v1/observations", tag = "screening",
    params(ObservationQuery),
    responses((status = 200, body = Vec<Observation>), (status = 404, body = ErrorBody)))]
pub async fn list_observations(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<ObservationQuery>,
) -> AppResult<axum::Json<Vec<Observation>>> {
    let region = super::region_query(q.region.as_deref())?;
    let listed = super::Listed::parse(q.status.as_deref())?;
    Ok(axum::Json(
        super::list_observations(&s, &a.actor, region.as_ref(), listed).await?,
    ))
}

/// People under observation, rolled up by child region.
#[utoipa::path(get, path = "/api/v1/observations/summary", tag = "screening",
    params(RegionQuery),
    responses((status = 200, body = ObservationSummary), (status = 404, body = ErrorBody)))]
pub async fn summary(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<RegionQuery>,
) -> AppResult<axum::Json<ObservationSummary>> {
    let region = super::region_query(q.region.as_deref())?;
    Ok(axum::Json(
        super::summary(&s, &a.actor, region.as_ref()).await?,
    ))
}

/// One observation with its four and its check-ins.
#[utoipa::path(get, path = "/api/v1/observations/{id}", tag = "screening",
    params(("id" = i64, Path)),
    responses((status = 200, body = Observation), (status = 404, body = ErrorBody)))]
pub async fn observation(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Observation>> {
    Ok(axum::Json(super::get_observation(&s, &a.actor, id).await?))
}

/// Body of `POST /api/v1/observations/{id}/extend`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ExtendBody {
    /// New last day, `YYYY-MM-DD`, later than the current one.
    pub ends_on: String,
}

/// Extend an observation (never shorten: 422).
#[utoipa::path(post, path = "/api/v1/observations/{id}/extend", tag = "screening",
    params(("id" = i64, Path)), request_body = ExtendBody,
    responses((status = 200, body = Observation), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn extend(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<ExtendBody>,
) -> AppResult<axum::Json<Observation>> {
    Ok(axum::Json(
        super::extend(&s, &a.actor, id, &body.ends_on).await?,
    ))
}

/// Record a check-in (temperature, symptoms) in the current half-day.
#[utoipa::path(post, path = "/api/v1/observations/{id}/checkins", tag = "screening",
    params(("id" = i64, Path)), request_body = NewCheckin,
    responses((status = 200, body = Observation), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn checkin(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<NewCheckin>,
) -> AppResult<axum::Json<Observation>> {
    Ok(axum::Json(super::checkin(&s, &a.actor, id, &body).await?))
}

/// Close an observation: release, central isolation or hospital.
#[utoipa::path(post, path = "/api/v1/observations/{id}/close", tag = "screening",
    params(("id" = i64, Path)), request_body = CloseObservation,
    responses((status = 200, body = Observation), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn close(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<CloseObservation>,
) -> AppResult<axum::Json<Observation>> {
    Ok(axum::Json(super::close(&s, &a.actor, id, &body).await?))
}
