//! Institution monitoring API (`/api/v1/institutions…`, `/api/v1/shortages…`). Handlers are
//! thin: the rules live in the service functions of `institutions`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use super::{
    AnswerInput, ClosureInput, EntryInput, EntryView, Institution, InstitutionDetail, Resident,
    ResidentInput, RoundsInput, RoundsView, Shortage, ShortageInput, SuppliesInput, Supply,
};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody, region_param};
use crate::kernel::web::Routes;
use crate::state::AppState;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/institutions", get(list)),
        ("/api/v1/institutions/{id}", get(one)),
        ("/api/v1/institutions/{id}/closure", post(closure)),
        (
            "/api/v1/institutions/{id}/entries",
            get(list_entries).post(add_entry),
        ),
        (
            "/api/v1/institutions/{id}/residents",
            get(list_residents).post(add_resident),
        ),
        (
            "/api/v1/institutions/{id}/rounds",
            get(get_rounds).post(record_round),
        ),
        ("/api/v1/institutions/{id}/supplies", post(set_supplies)),
        ("/api/v1/institutions/{id}/shortages", post(create_shortage)),
        ("/api/v1/shortages", get(list_shortages)),
        ("/api/v1/shortages/{id}", get(get_shortage)),
        ("/api/v1/shortages/{id}/answer", post(answer_shortage)),
        ("/api/v1/shortages/{id}/close", post(close_shortage)),
    ]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RegionQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DayQuery {
    /// `YYYY-MM-DD` (Beijing); default today.
    pub day: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ShortageQuery {
    /// `open`, `answered` or `closed`.
    pub status: Option<String>,
    /// Only this institution.
    pub org: Option<i64>,
}

/// Service institutions in the caller's scope with their status.
#[utoipa::path(get, path = "/api/v1/institutions", tag = "institutions", params(RegionQuery),
    responses((status = 200, body = Vec<Institution>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<RegionQuery>,
) -> AppResult<Json<Vec<Institution>>> {
    Ok(Json(
        super::list(&s, &a.actor, region_param(q.region.as_deref())?.as_ref()).await?,
    ))
}

/// One institution: closed-management history and supplies.
#[utoipa::path(get, path = "/api/v1/institutions/{id}", tag = "institutions", params(("id" = i64, Path)),
    responses((status = 200, body = InstitutionDetail), (status = 404, body = ErrorBody)))]
pub async fn one(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<Json<InstitutionDetail>> {
    Ok(Json(super::get(&s, &a.actor, id).await?))
}

/// Begin (`start`) or lift (`end`) closed management.
#[utoipa::path(post, path = "/api/v1/institutions/{id}/closure", tag = "institutions", params(("id" = i64, Path)),
    request_body = ClosureInput,
    responses((status = 200, body = InstitutionDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn closure(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<ClosureInput>,
) -> AppResult<Json<InstitutionDetail>> {
    Ok(Json(super::set_closure(&s, &a.actor, id, &body).await?))
}

/// The entrance log of a day; names and phones masked.
#[utoipa::path(get, path = "/api/v1/institutions/{id}/entries", tag = "institutions", params(("id" = i64, Path), DayQuery),
    responses((status = 200, body = Vec<EntryView>), (status = 404, body = ErrorBody)))]
pub async fn list_entries(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    Query(q): Query<DayQuery>,
) -> AppResult<Json<Vec<EntryView>>> {
    Ok(Json(
        super::list_entries(&s, &a.actor, id, super::day_param("day", q.day.as_deref())?).await?,
    ))
}

/// Record an entrance with its temperature (fever ≥ 37.3 ℃ flagged).
#[utoipa::path(post, path = "/api/v1/institutions/{id}/entries", tag = "institutions", params(("id" = i64, Path)),
    request_body = EntryInput,
    responses((status = 201, body = EntryView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn add_entry(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<EntryInput>,
) -> AppResult<(StatusCode, Json<EntryView>)> {
    Ok((
        StatusCode::CREATED,
        Json(super::add_entry(&s, &a.actor, id, &body).await?),
    ))
}

/// Residents of an institution.
#[utoipa::path(get, path = "/api/v1/institutions/{id}/residents", tag = "institutions", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Resident>), (status = 404, body = ErrorBody)))]
pub async fn list_residents(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<Resident>>> {
    Ok(Json(super::residents(&s, &a.actor, id).await?))
}

/// Add a resident.
#[utoipa::path(post, path = "/api/v1/institutions/{id}/residents", tag = "institutions", params(("id" = i64, Path)),
    request_body = ResidentInput,
    responses((status = 201, body = Resident), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn add_resident(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<ResidentInput>,
) -> AppResult<(StatusCode, Json<Resident>)> {
    Ok((
        StatusCode::CREATED,
        Json(super::add_resident(&s, &a.actor, id, &body).await?),
    ))
}

/// The three temperature rounds of a day for all residents, fevers listed.
#[utoipa::path(get, path = "/api/v1/institutions/{id}/rounds", tag = "institutions", params(("id" = i64, Path), DayQuery),
    responses((status = 200, body = RoundsView), (status = 404, body = ErrorBody)))]
pub async fn get_rounds(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    Query(q): Query<DayQuery>,
) -> AppResult<Json<RoundsView>> {
    Ok(Json(
        super::rounds(&s, &a.actor, id, super::day_param("day", q.day.as_deref())?).await?,
    ))
}

/// Record one round for all residents at once; one bad value refuses the whole round.
#[utoipa::path(post, path = "/api/v1/institutions/{id}/rounds", tag = "institutions", params(("id" = i64, Path)),
    request_body = RoundsInput,
    responses((status = 200, body = RoundsView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn record_round(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<RoundsInput>,
) -> AppResult<Json<RoundsView>> {
    Ok(Json(super::record_round(&s, &a.actor, id, &body).await?))
}

/// Set the supplies stock (quantity and days left per item).
#[utoipa::path(post, path = "/api/v1/institutions/{id}/supplies", tag = "institutions", params(("id" = i64, Path)),
    request_body = SuppliesInput,
    responses((status = 200, body = Vec<Supply>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn set_supplies(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<SuppliesInput>,
) -> AppResult<Json<Vec<Supply>>> {
    Ok(Json(super::set_supplies(&s, &a.actor, id, &body).await?))
}

/// Raise a shortage request to the levels above.
#[utoipa::path(post, path = "/api/v1/institutions/{id}/shortages", tag = "institutions", params(("id" = i64, Path)),
    request_body = ShortageInput,
    responses((status = 201, body = Shortage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_shortage(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<ShortageInput>,
) -> AppResult<(StatusCode, Json<Shortage>)> {
    Ok((
        StatusCode::CREATED,
        Json(super::create_shortage(&s, &a.actor, id, &body).await?),
    ))
}

/// Shortage requests in the caller's scope.
#[utoipa::path(get, path = "/api/v1/shortages", tag = "institutions", params(ShortageQuery),
    responses((status = 200, body = Vec<Shortage>), (status = 422, body = ErrorBody)))]
pub async fn list_shortages(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<ShortageQuery>,
) -> AppResult<Json<Vec<Shortage>>> {
    Ok(Json(
        super::list_shortages(&s, &a.actor, q.status.as_deref(), q.org).await?,
    ))
}

/// One shortage request.
#[utoipa::path(get, path = "/api/v1/shortages/{id}", tag = "institutions", params(("id" = i64, Path)),
    responses((status = 200, body = Shortage), (status = 404, body = ErrorBody)))]
pub async fn get_shortage(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<Json<Shortage>> {
    Ok(Json(super::get_shortage(&s, &a.actor, id).await?))
}

/// Answer a shortage request (county level or above).
#[utoipa::path(post, path = "/api/v1/shortages/{id}/answer", tag = "institutions", params(("id" = i64, Path)),
    request_body = AnswerInput,
    responses((status = 200, body = Shortage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn answer_shortage(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<AnswerInput>,
) -> AppResult<Json<Shortage>> {
    Ok(Json(
        super::answer_shortage(&s, &a.actor, id, &body.answer).await?,
    ))
}

/// Close a shortage request.
#[utoipa::path(post, path = "/api/v1/shortages/{id}/close", tag = "institutions", params(("id" = i64, Path)),
    responses((status = 200, body = Shortage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn close_shortage(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<Json<Shortage>> {
    Ok(Json(super::close_shortage(&s, &a.actor, id).await?))
}
