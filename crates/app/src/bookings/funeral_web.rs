//! Funeral capacity and booking statistics API (`/api/v1/bookings/funeral/…`,
//! `/api/v1/bookings/stats…`, a booking's outcome, the late-cancel setting). Thin: the rules
//! live in [`super::funeral`] and [`super::stats`]. Taking a request accepts an
//! `Idempotency-Key` (a phone may retry): a retry answers the first request.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};

use super::book::Booking;
use super::funeral::{Job, JobOutcome, NewJob, NewRequest, Plan, Request, Unit, UnitState};
use super::stats::{BookingStats, FuneralStats, LateCancel, Outcome, StatsQuery};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::JsonBody;
use crate::kernel::handler::{ApiCaller, api_handler};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/bookings/funeral/jobs/{id}", post(record)),
        ("/api/v1/bookings/funeral/orgs/{id}/plan", get(plan)),
        ("/api/v1/bookings/funeral/requests", post(request)),
        ("/api/v1/bookings/funeral/requests/{id}", get(one)),
        (
            "/api/v1/bookings/funeral/requests/{id}/collection",
            post(collection),
        ),
        (
            "/api/v1/bookings/funeral/requests/{id}/cremation",
            post(cremation),
        ),
        ("/api/v1/bookings/funeral/resources/{id}", post(unit)),
        ("/api/v1/bookings/funeral/rollup", get(rollup)),
        ("/api/v1/bookings/funeral/rollup/export", get(rollup_export)),
        ("/api/v1/bookings/orgs/{id}/late-cancel", post(late_cancel)),
        ("/api/v1/bookings/stats", get(stats)),
        ("/api/v1/bookings/stats/export", get(stats_export)),
        ("/api/v1/bookings/{id}/outcome", post(outcome)),
    ]
}

/// `?day=` of the plan.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct PlanQuery {
    /// `YYYY-MM-DD`; default today.
    #[serde(default)]
    pub day: String,
}

/// A workbook as a download.
pub(crate) fn xlsx(name: String, bytes: Vec<u8>) -> Response {
    crate::people::web::xlsx_response(crate::people::export::Exported {
        filename: name,
        bytes,
        rows: 0,
        full: false,
    })
}

/// Take a body collection request (a hospital's staff or the funeral home's on the phone).
/// Send an `Idempotency-Key`: a retry answers the first request. An epidemic death with a
/// farewell or people attending is refused (422).
#[utoipa::path(post, path = "/api/v1/bookings/funeral/requests", tag = "bookings",
    request_body = NewRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "重试时保持不变的唯一键")),
    responses((status = 201, body = Request), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn request(
    ApiCaller(s, a): ApiCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewRequest>,
) -> AppResult<(StatusCode, axum::Json<Request>)> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let r = super::funeral::request(&s, &a.actor, &body, key).await?;
    Ok((StatusCode::CREATED, axum::Json(r)))
}

api_handler! {
    /// One body collection request with its jobs (personal data masked).
    get "/api/v1/bookings/funeral/requests/{id}", tag "bookings", ok(Request),
        params(("id" = i64, Path)), errors(403, 404);
    fn one(s, a, Path(id): Path<i64>) { super::funeral::get(&s, &a.actor, id).await? }
}

api_handler! {
    /// Schedule the collection on a vehicle (epidemic: a designated vehicle, at once). A vehicle
    /// already held in one of the hours is 409.
    post "/api/v1/bookings/funeral/requests/{id}/collection", tag "bookings", ok(Request),
        params(("id" = i64, Path)), json(body: NewJob), errors(403, 404, 409, 422);
    fn collection(s, a, Path(id): Path<i64>) {
        super::funeral::schedule_collection(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// Schedule the cremation on a cremator (epidemic: the same day as the collection).
    post "/api/v1/bookings/funeral/requests/{id}/cremation", tag "bookings", ok(Request),
        params(("id" = i64, Path)), json(body: NewJob), errors(403, 404, 409, 422);
    fn cremation(s, a, Path(id): Path<i64>) {
        super::funeral::schedule_cremation(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// Record a job done or cancelled (a cremation done marks a registry person deceased).
    post "/api/v1/bookings/funeral/jobs/{id}", tag "bookings", ok(Job),
        params(("id" = i64, Path)), json(body: JobOutcome), errors(403, 404, 409, 422);
    fn record(s, a, Path(id): Path<i64>) { super::funeral::record(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Designate a vehicle, or take a vehicle or cremator out of service and back.
    post "/api/v1/bookings/funeral/resources/{id}", tag "bookings", ok(Unit),
        params(("id" = i64, Path)), json(body: UnitState), errors(403, 404, 422);
    fn unit(s, a, Path(id): Path<i64>) { super::funeral::set_unit(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// The day's plan of a funeral home: each vehicle and cremator with its jobs by hour and
    /// free hours, the open requests.
    get "/api/v1/bookings/funeral/orgs/{id}/plan", tag "bookings", ok(Plan),
        params(("id" = i64, Path), PlanQuery), errors(403, 404, 422);
    fn plan(s, a, Path(id): Path<i64>, Query(q): Query<PlanQuery>) {
        super::funeral::plan(&s, &a.actor, id, &q.day).await?
    }
}

api_handler! {
    /// Deaths handled, epidemic-related, capacity used per funeral home and day, rolled up the
    /// region tree (epidemic counts 1–4 below county level as `<5`).
    get "/api/v1/bookings/funeral/rollup", tag "bookings", ok(FuneralStats), params(StatsQuery),
        errors(403, 404, 422);
    fn rollup(s, a, Query(q): Query<StatsQuery>) { super::stats::funeral(&s, &a.actor, &q).await? }
}

/// The funeral rollup as an Excel workbook (text cells formula-neutralised).
#[utoipa::path(get, path = "/api/v1/bookings/funeral/rollup/export", tag = "bookings",
    params(StatsQuery),
    responses((status = 200, description = "the workbook (.xlsx)"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rollup_export(
    ApiCaller(s, a): ApiCaller,
    Query(q): Query<StatsQuery>,
) -> AppResult<Response> {
    let (name, bytes) = super::stats::funeral_xlsx(&s, &a.actor, &q).await?;
    Ok(xlsx(name, bytes))
}

api_handler! {
    /// Booking statistics per registry and day (booked, done, cancelled, late-cancelled,
    /// rebooked, no-show), rolled up the region tree.
    get "/api/v1/bookings/stats", tag "bookings", ok(BookingStats), params(StatsQuery),
        errors(403, 404, 422);
    fn stats(s, a, Query(q): Query<StatsQuery>) { super::stats::bookings(&s, &a.actor, &q).await? }
}

/// Booking statistics as an Excel workbook (text cells formula-neutralised).
#[utoipa::path(get, path = "/api/v1/bookings/stats/export", tag = "bookings", params(StatsQuery),
    responses((status = 200, description = "the workbook (.xlsx)"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn stats_export(
    ApiCaller(s, a): ApiCaller,
    Query(q): Query<StatsQuery>,
) -> AppResult<Response> {
    let (name, bytes) = super::stats::bookings_xlsx(&s, &a.actor, &q).await?;
    Ok(xlsx(name, bytes))
}

api_handler! {
    /// Mark a booking done or a no-show (on or after its day).
    post "/api/v1/bookings/{id}/outcome", tag "bookings", ok(Booking),
        params(("id" = i64, Path)), json(body: Outcome), errors(403, 404, 409, 422);
    fn outcome(s, a, Path(id): Path<i64>) { super::stats::mark(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Set how many hours before its slot a cancellation counts as late (default 24).
    post "/api/v1/bookings/orgs/{id}/late-cancel", tag "bookings", ok(LateCancel),
        params(("id" = i64, Path)), json(body: LateCancel), errors(403, 404, 422);
    fn late_cancel(s, a, Path(id): Path<i64>) {
        super::stats::set_late_cancel(&s, &a.actor, id, &body).await?
    }
}
