//! Reports API: forms, submissions (with `Idempotency-Key`), summaries, missing lists, locks,
//! notifications.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;

use super::chase::ChaseInput;
use super::form::Form;
use super::{MissingUnit, Notification, Outcome, Submission, SubmitInput, Summary};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::JsonBody;
use crate::kernel::handler::{ApiCaller, api_handler};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/report-templates", get(list_forms).post(save_form)),
        ("/api/v1/report-templates/{key}", get(get_form)),
        ("/api/v1/reports", post(submit)),
        ("/api/v1/reports/summary", get(summary)),
        ("/api/v1/reports/missing", get(missing)),
        ("/api/v1/reports/locks", post(lock)),
        ("/api/v1/reports/chases", get(list_chases).post(chase)),
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

api_handler! {
    /// Immediate reports in the caller's scope, newest first.
    get "/api/v1/incidents", tag "reports", ok(Vec<super::incidents::Incident>),
        params(IncidentQuery);
    fn list_incidents(s, a, Query(q): Query<IncidentQuery>) {
        super::incidents::list(&s, &a.actor, q.open, 200).await?
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AckBody {
    /// How it was handled.
    pub handling: String,
}

api_handler! {
    /// Acknowledge an immediate report (county level or above) and record its handling.
    post "/api/v1/incidents/{id}/ack", tag "reports", ok(super::incidents::Incident),
        params(("id" = i64, Path)), json(b: AckBody), errors(403, 409);
    fn ack_incident(s, a, Path(id): Path<i64>) {
        super::incidents::acknowledge(&s, &a.actor, id, &b.handling).await?
    }
}

api_handler! {
    /// Report forms (latest versions).
    get "/api/v1/report-templates", tag "reports", ok(Vec<Form>);
    fn list_forms(s, a) { super::list_forms(&s, &a.actor).await? }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct VersionQuery {
    /// A specific version (default: the latest).
    pub version: Option<i64>,
}

api_handler! {
    /// One form: `{key, name, period, deadline, fields: [{key, label, type, required, min, max}], …}`.
    get "/api/v1/report-templates/{key}", tag "reports", ok(Form),
        params(("key" = String, Path), VersionQuery), errors(404);
    fn get_form(s, a, Path(key): Path<String>, Query(q): Query<VersionQuery>) {
        super::get_form(&s, &a.actor, &key, q.version).await?
    }
}

api_handler! {
    /// Create a form or a new version of one (officials with reports.manage).
    post "/api/v1/report-templates", tag "reports", created(Form), json(f: Form), errors(403, 422);
    fn save_form(s, a) { super::save_form(&s, &a.actor, &f).await? }
}

/// Submit a report (201), or correct the unit's report for that period (200). Send an
/// `Idempotency-Key` header: a retry with the same key returns the first answer.
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports", request_body = SubmitInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "重试时保持不变的唯一键")),
    responses((status = 201, body = Submission), (status = 200, body = Submission), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn submit(
    ApiCaller(s, a): ApiCaller,
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

api_handler! {
    /// One submission.
    get "/api/v1/reports/{id}", tag "reports", ok(Submission), params(("id" = i64, Path)),
        errors(404);
    fn get_submission(s, a, Path(id): Path<i64>) { super::get_submission(&s, &a.actor, id).await? }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SummaryQuery {
    pub template: String,
    pub period: String,
    /// Region code ("0" = nation); default the caller's scope.
    #[serde(default)]
    pub region: String,
    /// Summary only: first day of the cumulative sums (累计) of a daily form, up to `period`.
    #[serde(default)]
    pub from: String,
}

api_handler! {
    /// Live summary: `{expected, received, on_time, sums, children: […]}`; with `from`, also
    /// `cumulative: {from, until, sums, children}` (累计).
    get "/api/v1/reports/summary", tag "reports", ok(Summary), params(SummaryQuery), errors(404, 422);
    fn summary(s, a, Query(q): Query<SummaryQuery>) {
        let area = super::area(&a.actor, Some(&q.region))?;
        let mut sum = super::summary(&s, &area, &q.template, &q.period).await?;
        sum.nodes = crate::federation::syncs_for(&s, &sum.code).await?;
        if q.from.trim().is_empty() {
            sum
        } else {
            super::summary::with_cumulative(&s, &area, sum, &q.from).await?
        }
    }
}

api_handler! {
    /// Units that have not reported.
    get "/api/v1/reports/missing", tag "reports", ok(Vec<MissingUnit>), params(SummaryQuery),
        errors(404);
    fn missing(s, a, Query(q): Query<SummaryQuery>) {
        super::missing(&s, &super::area(&a.actor, Some(&q.region))?, &q.template, &q.period).await?
    }
}

api_handler! {
    /// Chase (催报) one missing unit or every unit still missing under a region: a
    /// notification to each unit, and a record of each chase (reports.read + users.manage).
    post "/api/v1/reports/chases", tag "reports", created(Vec<super::chase::Chase>),
        json(b: ChaseInput), errors(403, 404, 422);
    fn chase(s, a) {
        super::chase::chase(&s, &super::area(&a.actor, Some(&b.region))?, &b).await?
    }
}

api_handler! {
    /// The chases of a form's period under a region, newest first.
    get "/api/v1/reports/chases", tag "reports", ok(Vec<super::chase::Chase>),
        params(SummaryQuery), errors(404);
    fn list_chases(s, a, Query(q): Query<SummaryQuery>) {
        super::chase::chases(&s, &super::area(&a.actor, Some(&q.region))?, &q.template, &q.period).await?
    }
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
    ApiCaller(s, a): ApiCaller,
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

api_handler! {
    /// Notifications addressed to the caller's region or organisation (reminders, incidents).
    get "/api/v1/notifications", tag "reports", ok(Vec<Notification>);
    fn notifications(s, a) { super::notifications(&s, &a.actor, 100).await? }
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

api_handler! {
    /// Daily figures of a form for a region over the last weeks (for charts).
    get "/api/v1/reports/trend", tag "reports", ok(super::dashboard::Trend), params(TrendQuery),
        errors(404);
    fn trend(s, a, Query(q): Query<TrendQuery>) {
        let area = super::area(&a.actor, Some(&q.region))?;
        let days = q.days.unwrap_or(28);
        super::dashboard::trend(&s, &area, &q.template, days, None).await?
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OutboxQuery {
    /// Only notifications with a larger id (paging forward).
    #[serde(default)]
    pub after_id: i64,
    pub limit: Option<i64>,
}

api_handler! {
    /// Gateway outbox: undelivered notifications in the caller's scope, oldest first.
    get "/api/v1/notifications/outbox", tag "reports", ok(Vec<Notification>), params(OutboxQuery),
        errors(403);
    fn outbox(s, a, Query(q): Query<OutboxQuery>) {
        super::outbox(&s, &a.actor, q.after_id, q.limit.unwrap_or(100)).await?
    }
}

/// Mark a notification delivered by the gateway.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/delivered", tag = "reports", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delivered(ApiCaller(s, a): ApiCaller, Path(id): Path<i64>) -> AppResult<StatusCode> {
    super::mark_delivered(&s, &a.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
