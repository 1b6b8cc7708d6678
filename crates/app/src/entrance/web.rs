//! Entrance-check API (`/api/v1/gates…`, `/api/v1/entrance-alerts…`). Handlers are thin: the
//! rules live in the service functions of `entrance`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use super::{AckInput, Alert, EntriesDay, EntryInput, EntryView, Gate, NewGate};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody, region_param};
use crate::kernel::web::Routes;
use crate::state::AppState;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/gates", get(list_gates).post(create_gate)),
        ("/api/v1/gates/{id}", get(gate)),
        (
            "/api/v1/gates/{id}/entries",
            get(list_entries).post(add_entry),
        ),
        ("/api/v1/entrance-alerts", get(list_alerts)),
        ("/api/v1/entrance-alerts/{id}", get(alert)),
        ("/api/v1/entrance-alerts/{id}/ack", post(ack_alert)),
    ]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RegionQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DateQuery {
    /// `YYYY-MM-DD` (Beijing); default today.
    pub date: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AlertQuery {
    /// `open` or `closed`.
    pub status: Option<String>,
    /// Only this gate.
    pub gate: Option<i64>,
}

/// Gates in the caller's scope with today's counts.
#[utoipa::path(get, path = "/api/v1/gates", tag = "entrance", params(RegionQuery),
    responses((status = 200, body = Vec<Gate>), (status = 404, body = ErrorBody)))]
pub async fn list_gates(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<RegionQuery>,
) -> AppResult<Json<Vec<Gate>>> {
    Ok(Json(
        super::list_gates(&s, &a.actor, region_param(q.region.as_deref())?.as_ref()).await?,
    ))
}

/// Create a gate under a village or community (`region_code`) or for an institution (`org_id`).
#[utoipa::path(post, path = "/api/v1/gates", tag = "entrance", request_body = NewGate,
    responses((status = 201, body = Gate), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_gate(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(body): JsonBody<NewGate>,
) -> AppResult<(StatusCode, Json<Gate>)> {
    Ok((
        StatusCode::CREATED,
        Json(super::create_gate(&s, &a.actor, &body).await?),
    ))
}

/// One gate with today's counts.
#[utoipa::path(get, path = "/api/v1/gates/{id}", tag = "entrance", params(("id" = i64, Path)),
    responses((status = 200, body = Gate), (status = 404, body = ErrorBody)))]
pub async fn gate(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<Json<Gate>> {
    Ok(Json(super::get_gate(&s, &a.actor, id).await?))
}

/// A gate's entries of one day, persons masked, with the counts of entries and fevers.
#[utoipa::path(get, path = "/api/v1/gates/{id}/entries", tag = "entrance", params(("id" = i64, Path), DateQuery),
    responses((status = 200, body = EntriesDay), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_entries(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    Query(q): Query<DateQuery>,
) -> AppResult<Json<EntriesDay>> {
    Ok(Json(
        super::list_entries(&s, &a.actor, id, super::date_param(q.date.as_deref())?).await?,
    ))
}

/// Record a visitor at a gate; a fever (≥ 37.3 ℃) opens an alert and notifies the
/// community's workers (or the institution's users).
#[utoipa::path(post, path = "/api/v1/gates/{id}/entries", tag = "entrance", params(("id" = i64, Path)),
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

/// Fever alerts in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/entrance-alerts", tag = "entrance", params(AlertQuery),
    responses((status = 200, body = Vec<Alert>), (status = 422, body = ErrorBody)))]
pub async fn list_alerts(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<AlertQuery>,
) -> AppResult<Json<Vec<Alert>>> {
    Ok(Json(
        super::list_alerts(&s, &a.actor, q.status.as_deref(), q.gate).await?,
    ))
}

/// One fever alert.
#[utoipa::path(get, path = "/api/v1/entrance-alerts/{id}", tag = "entrance", params(("id" = i64, Path)),
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody)))]
pub async fn alert(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<Json<Alert>> {
    Ok(Json(super::get_alert(&s, &a.actor, id).await?))
}

/// Acknowledge an open fever alert with its disposition (audited); it is then closed.
#[utoipa::path(post, path = "/api/v1/entrance-alerts/{id}/ack", tag = "entrance", params(("id" = i64, Path)),
    request_body = AckInput,
    responses((status = 200, body = Alert), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn ack_alert(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<AckInput>,
) -> AppResult<Json<Alert>> {
    Ok(Json(super::ack_alert(&s, &a.actor, id, &body).await?))
}
