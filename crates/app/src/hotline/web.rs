//! Hotline API (`/api/v1/hotline/…`). Handlers are thin: the rules live in the service
//! functions of `hotline`. Recording a call takes an `Idempotency-Key` header (a phone may
//! retry): a retry with the same key answers the first record, nothing is written twice.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::notes::{NewNote, Note, NoteRef, ViewInput};
use super::referrals::{Decision, FollowupDone, NewFollowup, NewReferral, OutcomeInput};
use super::stats::{Stats, StatsQuery};
use super::{Call, Followup, Line, NewCall, NewLine, NewShift, Referral, Shift};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::JsonBody;
use crate::kernel::handler::{ApiCaller, RegionQuery, api_handler, idem};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/hotline/lines", get(lines).post(create_line)),
        ("/api/v1/hotline/lines/{id}", get(line)),
        (
            "/api/v1/hotline/lines/{id}/shifts",
            get(shifts).post(add_shift),
        ),
        ("/api/v1/hotline/calls", get(calls).post(record_call)),
        ("/api/v1/hotline/calls/{id}", get(call)),
        ("/api/v1/hotline/calls/{id}/referrals", post(refer)),
        ("/api/v1/hotline/calls/{id}/followups", post(schedule)),
        (
            "/api/v1/hotline/calls/{id}/notes",
            get(notes).post(add_note),
        ),
        ("/api/v1/hotline/notes/{id}/view", post(view_note)),
        ("/api/v1/hotline/referrals", get(referrals)),
        ("/api/v1/hotline/referrals/{id}", get(referral)),
        ("/api/v1/hotline/referrals/{id}/decision", post(decide)),
        ("/api/v1/hotline/referrals/{id}/outcome", post(outcome)),
        ("/api/v1/hotline/followups", get(followups)),
        ("/api/v1/hotline/followups/{id}/done", post(followup_done)),
        ("/api/v1/hotline/statistics", get(statistics)),
        ("/api/v1/hotline/statistics/export", get(export)),
    ]
}

api_handler! {
    /// Lines in the caller's scope.
    get "/api/v1/hotline/lines", tag "hotline", ok(Vec<Line>), errors(404);
    fn lines(s, a) { super::lines(&s, &a.actor).await? }
}

api_handler! {
    /// Create a line (hotline.supervise).
    post "/api/v1/hotline/lines", tag "hotline", created(Line), json(body: NewLine),
        errors(403, 404, 422);
    fn create_line(s, a) { super::create_line(&s, &a.actor, &body).await? }
}

api_handler! {
    /// One line.
    get "/api/v1/hotline/lines/{id}", tag "hotline", ok(Line), params(("id" = i64, Path)),
        errors(404);
    fn line(s, a, Path(id): Path<i64>) { super::line(&s, &a.actor, id).await? }
}

api_handler! {
    /// Shifts of a line, latest first.
    get "/api/v1/hotline/lines/{id}/shifts", tag "hotline", ok(Vec<Shift>),
        params(("id" = i64, Path)), errors(404);
    fn shifts(s, a, Path(id): Path<i64>) { super::shifts(&s, &a.actor, id).await? }
}

api_handler! {
    /// Add a shift to a line (hotline.supervise).
    post "/api/v1/hotline/lines/{id}/shifts", tag "hotline", created(Shift),
        params(("id" = i64, Path)), json(body: NewShift), errors(403, 404, 422);
    fn add_shift(s, a, Path(id): Path<i64>) { super::add_shift(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Calls in the caller's scope, newest first (counts of notes, never notes).
    get "/api/v1/hotline/calls", tag "hotline", ok(Vec<Call>), params(RegionQuery), errors(404);
    fn calls(s, a, Query(q): Query<RegionQuery>) {
        super::calls(&s, &a.actor, q.region()?.as_ref()).await?
    }
}

/// Record a call (hotline.answer). `risk = red_flag` requires the mandatory report and opens
/// an urgent referral at once. Send an `Idempotency-Key` header: a retry answers the first
/// record.
#[utoipa::path(post, path = "/api/v1/hotline/calls", tag = "hotline", request_body = NewCall,
    params(("Idempotency-Key" = Option<String>, Header, description = "重试时保持不变的唯一键")),
    responses((status = 201, body = Call), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record_call(
    ApiCaller(s, a): ApiCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewCall>,
) -> AppResult<(StatusCode, axum::Json<Call>)> {
    let c = super::record_call(&s, &a.actor, &body, idem(&headers)).await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

api_handler! {
    /// One call with its referrals and follow-ups (the count of notes, never a note).
    get "/api/v1/hotline/calls/{id}", tag "hotline", ok(Call), params(("id" = i64, Path)),
        errors(404);
    fn call(s, a, Path(id): Path<i64>) { super::call(&s, &a.actor, id).await? }
}

api_handler! {
    /// Refer a call to an organisation in reach.
    post "/api/v1/hotline/calls/{id}/referrals", tag "hotline", created(Referral),
        params(("id" = i64, Path)), json(body: NewReferral), errors(403, 404, 422);
    fn refer(s, a, Path(id): Path<i64>) { super::referrals::refer(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Schedule a follow-up of a call.
    post "/api/v1/hotline/calls/{id}/followups", tag "hotline", created(Followup),
        params(("id" = i64, Path)), json(body: NewFollowup), errors(404, 422);
    fn schedule(s, a, Path(id): Path<i64>) { super::referrals::schedule(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// The notes of a call without their text (writer and time).
    get "/api/v1/hotline/calls/{id}/notes", tag "hotline", ok(Vec<NoteRef>),
        params(("id" = i64, Path)), errors(404);
    fn notes(s, a, Path(id): Path<i64>) { super::notes::list(&s, &a.actor, id).await? }
}

api_handler! {
    /// Write a counselling note on a call (sealed at rest).
    post "/api/v1/hotline/calls/{id}/notes", tag "hotline", created(Note),
        params(("id" = i64, Path)), json(body: NewNote), errors(404, 422);
    fn add_note(s, a, Path(id): Path<i64>) { super::notes::add(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Read a counselling note, giving the reason (audited). Only its writer, the line's
    /// supervisors and a referral's assignee; anyone else 404 (the attempt audited).
    post "/api/v1/hotline/notes/{id}/view", tag "hotline", ok(Note),
        params(("id" = i64, Path)), json(body: ViewInput), errors(404, 422);
    fn view_note(s, a, Path(id): Path<i64>) { super::notes::view(&s, &a.actor, id, &body).await? }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReferralQuery {
    /// Only open ones (not decided, or accepted without an outcome).
    pub open: Option<bool>,
}

api_handler! {
    /// Referrals of the lines in scope, and those addressed to the caller's organisation.
    get "/api/v1/hotline/referrals", tag "hotline", ok(Vec<Referral>), params(ReferralQuery),
        errors(404);
    fn referrals(s, a, Query(q): Query<ReferralQuery>) {
        super::referrals::referrals(&s, &a.actor, q.open.unwrap_or(false)).await?
    }
}

api_handler! {
    /// One referral.
    get "/api/v1/hotline/referrals/{id}", tag "hotline", ok(Referral),
        params(("id" = i64, Path)), errors(404);
    fn referral(s, a, Path(id): Path<i64>) { super::referrals::referral(&s, &a.actor, id).await? }
}

api_handler! {
    /// The receiving organisation accepts or declines (with a reason).
    post "/api/v1/hotline/referrals/{id}/decision", tag "hotline", ok(Referral),
        params(("id" = i64, Path)), json(body: Decision), errors(403, 404, 409, 422);
    fn decide(s, a, Path(id): Path<i64>) { super::referrals::decide(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// The receiving organisation records the outcome of an accepted referral.
    post "/api/v1/hotline/referrals/{id}/outcome", tag "hotline", ok(Referral),
        params(("id" = i64, Path)), json(body: OutcomeInput), errors(403, 404, 409, 422);
    fn outcome(s, a, Path(id): Path<i64>) {
        super::referrals::record_outcome(&s, &a.actor, id, &body.outcome).await?
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FollowupQuery {
    /// Only those past their due time.
    pub overdue: Option<bool>,
}

api_handler! {
    /// Follow-ups not done in the caller's scope, earliest due first.
    get "/api/v1/hotline/followups", tag "hotline", ok(Vec<Followup>), params(FollowupQuery),
        errors(404);
    fn followups(s, a, Query(q): Query<FollowupQuery>) {
        super::referrals::followups(&s, &a.actor, q.overdue.unwrap_or(false)).await?
    }
}

api_handler! {
    /// A follow-up done, with a short outcome and an effect score 1–5.
    post "/api/v1/hotline/followups/{id}/done", tag "hotline", ok(Followup),
        params(("id" = i64, Path)), json(body: FollowupDone), errors(404, 409, 422);
    fn followup_done(s, a, Path(id): Path<i64>) {
        super::referrals::complete(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// 心理援助工作报告: per line and region, for a day or a week (counts below 5 shown as
    /// `<5` below county level).
    get "/api/v1/hotline/statistics", tag "hotline", ok(Stats), params(StatsQuery),
        errors(404, 422);
    fn statistics(s, a, Query(q): Query<StatsQuery>) { super::stats::report(&s, &a.actor, &q).await? }
}

/// The statistics as an Excel workbook (counts only, masked as on screen).
#[utoipa::path(get, path = "/api/v1/hotline/statistics/export", tag = "hotline", params(StatsQuery),
    responses((status = 200, description = "the workbook (.xlsx)"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export(
    ApiCaller(s, a): ApiCaller,
    Query(q): Query<StatsQuery>,
) -> AppResult<Response> {
    let (name, bytes) = super::stats::export_xlsx(&s, &a.actor, &q).await?;
    Ok(crate::kernel::cells::xlsx_download(&name, bytes))
}
