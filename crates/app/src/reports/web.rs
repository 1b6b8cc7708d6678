//! Reports API: forms, submissions (with `Idempotency-Key`), summaries, missing lists, locks,
//! notifications.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;

use super::form::Form;
use super::{MissingUnit, Notification, Outcome, Submission, SubmitInput, Summary};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody};
use crate::kernel::web::Routes;
use crate::state::AppState;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/report-templates", get(list_forms).post(save_form)),
        ("/api/v1/report-templates/{key}", get(get_form)),
        ("/api/v1/reports", post(submit)),
        ("/api/v1/reports/summary", get(summary)),
        ("/api/v1/reports/missing", get(missing)),
        ("/api/v1/reports/locks", post(lock)),
        ("/api/v1/reports/{id}", get(get_submission)),
        ("/api/v1/notifications", get(notifications)),
        ("/api/v1/incidents", get(list_incidents)),
        ("/api/v1/reports/trend", get(trend)),
        ("/api/v1/notifications/outbox", get(outbox)),
        ("/api/v1/notifications/{id}/delivered", post(delivered)),
        ("/api/v1/incidents/{id}/ack", post(ack_incident)),
    ]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct IncidentQuery {
    /// Only incidents not yet acknowledged.
    #[serde(default)]
    pub open: bool,
}

/// Immediate reports in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "reports", params(IncidentQuery),
    responses((status = 200, body = Vec<super::incidents::Incident>)))]
pub async fn list_incidents(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<IncidentQuery>,
) -> AppResult<axum::Json<Vec<super::incidents::Incident>>> {
    Ok(axum::Json(
        super::incidents::list(&s, &a.actor, q.open, 200).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AckBody {
    /// How it was handled.
    pub handling: String,
}

/// Acknowledge an immediate report (county level or above) and record its handling.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/ack", tag = "reports", params(("id" = i64, Path)), request_body = AckBody,
    responses((status = 200, body = super::incidents::Incident), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn ack_incident(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<AckBody>,
) -> AppResult<axum::Json<super::incidents::Incident>> {
    Ok(axum::Json(
        super::incidents::acknowledge(&s, &a.actor, id, &b.handling).await?,
    ))
}

/// Report forms (latest versions).
#[utoipa::path(get, path = "/api/v1/report-templates", tag = "reports", responses((status = 200, body = Vec<Form>)))]
pub async fn list_forms(
    State(s): State<AppState>,
    Api(a): Api,
) -> AppResult<axum::Json<Vec<Form>>> {
    Ok(axum::Json(super::list_forms(&s, &a.actor).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct VersionQuery {
    /// A specific version (default: the latest).
    pub version: Option<i64>,
}

/// One form: `{key, name, period, deadline, fields: [{key, label, type, required, min, max}], …}`.
#[utoipa::path(get, path = "/api/v1/report-templates/{key}", tag = "reports", params(("key" = String, Path), VersionQuery),
    responses((status = 200, body = Form), (status = 404, body = ErrorBody)))]
pub async fn get_form(
    State(s): State<AppState>,
    Api(a): Api,
    Path(key): Path<String>,
    Query(q): Query<VersionQuery>,
) -> AppResult<axum::Json<Form>> {
    Ok(axum::Json(
        super::get_form(&s, &a.actor, &key, q.version).await?,
    ))
}

/// Create a form or a new version of one (officials with reports.manage).
#[utoipa::path(post, path = "/api/v1/report-templates", tag = "reports", request_body = Form,
    responses((status = 201, body = Form), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn save_form(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(f): JsonBody<Form>,
) -> AppResult<(StatusCode, axum::Json<Form>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(super::save_form(&s, &a.actor, &f).await?),
    ))
}

/// Submit a report (201), or correct the unit's report for that period (200). Send an
/// `Idempotency-Key` header: a retry with the same key returns the first answer.
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports", request_body = SubmitInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "重试时保持不变的唯一键")),
    responses((status = 201, body = Submission), (status = 200, body = Submission), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn submit(
    State(s): State<AppState>,
    Api(a): Api,
    headers: HeaderMap,
    JsonBody(input): JsonBody<SubmitInput>,
) -> AppResult<(StatusCode, axum::Json<Submission>)> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let (outcome, sub) = super::submit(&s, &a.actor, &input, key).await?;
    let status = match outcome {
        Outcome::Created => StatusCode::CREATED,
        Outcome::Corrected => StatusCode::OK,
        Outcome::Replayed => StatusCode::OK,
    };
    Ok((status, axum::Json(sub)))
}

/// One submission.
#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports", params(("id" = i64, Path)),
    responses((status = 200, body = Submission), (status = 404, body = ErrorBody)))]
pub async fn get_submission(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Submission>> {
    Ok(axum::Json(super::get_submission(&s, &a.actor, id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SummaryQuery {
    pub template: String,
    pub period: String,
    /// Region code ("0" = nation); default the caller's scope.
    #[serde(default)]
    pub region: String,
}

/// Live summary: `{expected, received, on_time, sums, children: […]}`.
#[utoipa::path(get, path = "/api/v1/reports/summary", tag = "reports", params(SummaryQuery),
    responses((status = 200, body = Summary), (status = 404, body = ErrorBody)))]
pub async fn summary(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<SummaryQuery>,
) -> AppResult<axum::Json<Summary>> {
    Ok(axum::Json(
        super::summary(
            &s,
            &super::area(&a.actor, Some(&q.region))?,
            &q.template,
            &q.period,
        )
        .await?,
    ))
}

/// Units that have not reported.
#[utoipa::path(get, path = "/api/v1/reports/missing", tag = "reports", params(SummaryQuery),
    responses((status = 200, body = Vec<MissingUnit>), (status = 404, body = ErrorBody)))]
pub async fn missing(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<SummaryQuery>,
) -> AppResult<axum::Json<Vec<MissingUnit>>> {
    Ok(axum::Json(
        super::missing(
            &s,
            &super::area(&a.actor, Some(&q.region))?,
            &q.template,
            &q.period,
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LockBody {
    pub template: String,
    pub period: String,
    pub region: String,
}

/// Lock a period for a region (the level above the units): no more corrections below it.
#[utoipa::path(post, path = "/api/v1/reports/locks", tag = "reports", request_body = LockBody,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn lock(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(b): JsonBody<LockBody>,
) -> AppResult<StatusCode> {
    super::lock(
        &s,
        &super::area(&a.actor, Some(&b.region))?,
        &b.template,
        &b.period,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Notifications addressed to the caller's region or organisation (reminders, incidents).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "reports", responses((status = 200, body = Vec<Notification>)))]
pub async fn notifications(
    State(s): State<AppState>,
    Api(a): Api,
) -> AppResult<axum::Json<Vec<Notification>>> {
    Ok(axum::Json(super::notifications(&s, &a.actor, 100).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TrendQuery {
    pub template: String,
    /// Region code ("0" = nation); default the caller's scope.
    #[serde(default)]
    pub region: String,
    /// Number of days up to today (default 28, at most 120).
    pub days: Option<i64>,
}

/// Daily figures of a form for a region over the last weeks (for charts).
#[utoipa::path(get, path = "/api/v1/reports/trend", tag = "reports", params(TrendQuery),
    responses((status = 200, body = super::dashboard::Trend), (status = 404, body = ErrorBody)))]
pub async fn trend(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<TrendQuery>,
) -> AppResult<axum::Json<super::dashboard::Trend>> {
    Ok(axum::Json(
        super::dashboard::trend(
            &s,
            &super::area(&a.actor, Some(&q.region))?,
            &q.template,
            q.days.unwrap_or(28),
            None,
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OutboxQuery {
    /// Only notifications with a larger id (paging forward).
    #[serde(default)]
    pub after_id: i64,
    pub limit: Option<i64>,
}

/// Gateway outbox: undelivered notifications in the caller's scope, oldest first.
#[utoipa::path(get, path = "/api/v1/notifications/outbox", tag = "reports", params(OutboxQuery),
    responses((status = 200, body = Vec<Notification>), (status = 403, body = ErrorBody)))]
pub async fn outbox(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<OutboxQuery>,
) -> AppResult<axum::Json<Vec<Notification>>> {
    Ok(axum::Json(
        super::outbox(&s, &a.actor, q.after_id, q.limit.unwrap_or(100)).await?,
    ))
}

/// Mark a notification delivered by the gateway.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/delivered", tag = "reports", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delivered(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    super::mark_delivered(&s, &a.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
