//! Social assistance API (`/api/v1/assistance/…`). Handlers are thin: the rules live in the
//! service functions. The writes a phone may retry (a new application, a step) take an
//! `Idempotency-Key` header: a retry with the same key answers the record as it is, the write
//! is not made twice.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;

use super::applications::{Application, NewApplication};
use super::emergency::{AidDecision, AidGrant, NewAidGrant, Period, PeriodInput};
use super::standards::{NewStandard, Standard};
use super::steps::{Beneficiary, PublicityLine, RelatedInput, StatusInput, StepInput};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{JsonBody, region_param};
use crate::kernel::handler::{ApiCaller, RegionQuery, api_handler, idem};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        (
            "/api/v1/assistance/standards",
            get(standards).post(create_standard),
        ),
        (
            "/api/v1/assistance/applications",
            get(applications).post(create_application),
        ),
        ("/api/v1/assistance/applications/{id}", get(application)),
        ("/api/v1/assistance/applications/{id}/steps", post(step)),
        (
            "/api/v1/assistance/applications/{id}/related",
            post(related),
        ),
        ("/api/v1/assistance/overdue", get(overdue)),
        ("/api/v1/assistance/publicity", get(publicity)),
        ("/api/v1/assistance/commitments", get(commitments)),
        ("/api/v1/assistance/beneficiaries", get(beneficiaries)),
        (
            "/api/v1/assistance/beneficiaries/{id}/status",
            post(beneficiary_status),
        ),
        (
            "/api/v1/assistance/emergencies",
            get(emergencies).post(declare),
        ),
        (
            "/api/v1/assistance/emergencies/{id}",
            get(emergency).put(change_emergency),
        ),
        (
            "/api/v1/assistance/emergencies/{id}/end",
            post(end_emergency),
        ),
        ("/api/v1/assistance/aid-grants", get(aid_grants).post(grant)),
        ("/api/v1/assistance/aid-grants/{id}/decision", post(decide)),
    ]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StandardQuery {
    /// Region code; default the caller's whole scope (with what it inherits from above).
    pub region: Option<String>,
    /// A programme key.
    pub programme: Option<String>,
}

api_handler! {
    /// Standards set in the caller's scope and above it (inherited), newest first: the history.
    get "/api/v1/assistance/standards", tag "assistance", ok(Vec<Standard>), params(StandardQuery),
        errors(403, 404, 422);
    fn standards(s, a, Query(q): Query<StandardQuery>) {
        let region = region_param(q.region.as_deref())?;
        super::standards::list(&s, &a.actor, region.as_ref(), q.programme.as_deref()).await?
    }
}

api_handler! {
    /// Set a standard from a date (today or later; a past month is paid only by a back-pay roll).
    post "/api/v1/assistance/standards", tag "assistance", created(Standard), json(body: NewStandard),
        errors(403, 404, 409, 422);
    fn create_standard(s, a) { super::standards::create(&s, &a.actor, &body).await? }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ApplicationQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// submitted | verified | reviewed | publicised | approved | rejected
    pub status: Option<String>,
}

api_handler! {
    /// Applications in the caller's scope, newest first.
    get "/api/v1/assistance/applications", tag "assistance", ok(Vec<Application>),
        params(ApplicationQuery), errors(403, 404, 422);
    fn applications(s, a, Query(q): Query<ApplicationQuery>) {
        let region = region_param(q.region.as_deref())?;
        super::applications::list(&s, &a.actor, region.as_ref(), q.status.as_deref()).await?
    }
}

/// Enter an application. Send an `Idempotency-Key` header: a retry answers the first record.
#[utoipa::path(post, path = "/api/v1/assistance/applications", tag = "assistance",
    request_body = NewApplication,
    params(("Idempotency-Key" = Option<String>, Header, description = "重试时保持不变的唯一键")),
    responses((status = 201, body = Application), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_application(
    ApiCaller(s, a): ApiCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewApplication>,
) -> AppResult<(StatusCode, axum::Json<Application>)> {
    let app = super::applications::create(&s, &a.actor, &body, idem(&headers)).await?;
    Ok((StatusCode::CREATED, axum::Json(app)))
}

api_handler! {
    /// One application with its members (income sealed at rest, shown to staff) and steps.
    get "/api/v1/assistance/applications/{id}", tag "assistance", ok(Application),
        params(("id" = i64, Path)), errors(403, 404);
    fn application(s, a, Path(id): Path<i64>) { super::applications::get(&s, &a.actor, id).await? }
}

/// Take a step: verify (核查), review (审核), publicise (公示), approve (审批), reject, or
/// verify_commitment. Send an `Idempotency-Key` header: a retry is not taken twice.
#[utoipa::path(post, path = "/api/v1/assistance/applications/{id}/steps", tag = "assistance",
    request_body = StepInput,
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "重试时保持不变的唯一键")),
    responses((status = 200, body = Application), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn step(
    ApiCaller(s, a): ApiCaller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<StepInput>,
) -> AppResult<(StatusCode, axum::Json<Application>)> {
    let app = super::steps::step(&s, &a.actor, id, &body, idem(&headers)).await?;
    Ok((StatusCode::OK, axum::Json(app)))
}

api_handler! {
    /// Mark the application as from a close relative of a staff account (近亲属备案).
    post "/api/v1/assistance/applications/{id}/related", tag "assistance", ok(Application),
        params(("id" = i64, Path)), json(body: RelatedInput), errors(403, 404, 422);
    fn related(s, a, Path(id): Path<i64>) { super::steps::mark_related(&s, &a.actor, id, &body).await? }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OverdueQuery {
    /// verify | review | approve; default every level.
    pub level: Option<String>,
}

api_handler! {
    /// Applications whose next step is past its due time, earliest first.
    get "/api/v1/assistance/overdue", tag "assistance", ok(Vec<Application>), params(OverdueQuery),
        errors(403, 422);
    fn overdue(s, a, Query(q): Query<OverdueQuery>) {
        super::steps::overdue(&s, &a.actor, q.level.as_deref()).await?
    }
}

api_handler! {
    /// The publicity list (公示): name, household size and amount only.
    get "/api/v1/assistance/publicity", tag "assistance", ok(Vec<PublicityLine>), params(RegionQuery),
        errors(403, 404);
    fn publicity(s, a, Query(q): Query<RegionQuery>) {
        super::steps::publicity(&s, &a.actor, q.region()?.as_ref()).await?
    }
}

api_handler! {
    /// Applications made on a personal commitment whose period has ended, to verify.
    get "/api/v1/assistance/commitments", tag "assistance", ok(Vec<Application>), errors(403);
    fn commitments(s, a) { super::steps::commitments(&s, &a.actor).await? }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct BeneficiaryQuery {
    /// `true`: only exits held by a freeze_exits period and those back for review.
    pub held: Option<bool>,
}

api_handler! {
    /// Beneficiaries in the caller's scope.
    get "/api/v1/assistance/beneficiaries", tag "assistance", ok(Vec<Beneficiary>),
        params(BeneficiaryQuery), errors(403);
    fn beneficiaries(s, a, Query(q): Query<BeneficiaryQuery>) {
        super::steps::beneficiaries(&s, &a.actor, q.held.unwrap_or(false)).await?
    }
}

api_handler! {
    /// Suspend, exit or reactivate a beneficiary; an exit during freeze_exits is held.
    post "/api/v1/assistance/beneficiaries/{id}/status", tag "assistance", ok(Beneficiary),
        params(("id" = i64, Path)), json(body: StatusInput), errors(403, 404, 409, 422);
    fn beneficiary_status(s, a, Path(id): Path<i64>) {
        super::steps::set_beneficiary_status(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// Emergency periods declared in the caller's scope or above it.
    get "/api/v1/assistance/emergencies", tag "assistance", ok(Vec<Period>), errors(403);
    fn emergencies(s, a) { super::emergency::list(&s, &a.actor).await? }
}

api_handler! {
    /// Declare an emergency period for a region with its measures.
    post "/api/v1/assistance/emergencies", tag "assistance", created(Period), json(body: PeriodInput),
        errors(403, 404, 422);
    fn declare(s, a) { super::emergency::declare(&s, &a.actor, &body).await? }
}

api_handler! {
    /// One emergency period.
    get "/api/v1/assistance/emergencies/{id}", tag "assistance", ok(Period),
        params(("id" = i64, Path)), errors(403, 404);
    fn emergency(s, a, Path(id): Path<i64>) { super::emergency::get(&s, &a.actor, id).await? }
}

api_handler! {
    /// Change a declared period's name, dates or measures.
    put "/api/v1/assistance/emergencies/{id}", tag "assistance", ok(Period),
        params(("id" = i64, Path)), json(body: PeriodInput), errors(403, 404, 409, 422);
    fn change_emergency(s, a, Path(id): Path<i64>) {
        super::emergency::change(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// End a period: the exits it held come back for review.
    post "/api/v1/assistance/emergencies/{id}/end", tag "assistance", ok(Period),
        params(("id" = i64, Path)), errors(403, 404, 409);
    fn end_emergency(s, a, Path(id): Path<i64>) { super::emergency::end(&s, &a.actor, id).await? }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct GrantQuery {
    /// `true`: only grants awaiting the county's decision.
    pub pending: Option<bool>,
}

api_handler! {
    /// Aid-first grants in the caller's scope, earliest due first.
    get "/api/v1/assistance/aid-grants", tag "assistance", ok(Vec<AidGrant>), params(GrantQuery),
        errors(403);
    fn aid_grants(s, a, Query(q): Query<GrantQuery>) {
        super::emergency::grants(&s, &a.actor, q.pending.unwrap_or(false)).await?
    }
}

api_handler! {
    /// Grant temporary assistance at once (先行救助), up to the county's cap.
    post "/api/v1/assistance/aid-grants", tag "assistance", created(AidGrant), json(body: NewAidGrant),
        errors(403, 404, 409, 422);
    fn grant(s, a) { super::emergency::grant(&s, &a.actor, &body).await? }
}

api_handler! {
    /// The county confirms or refuses an aid-first grant (refused: recovery or write-off).
    post "/api/v1/assistance/aid-grants/{id}/decision", tag "assistance", ok(AidGrant),
        params(("id" = i64, Path)), json(body: AidDecision), errors(403, 404, 409, 422);
    fn decide(s, a, Path(id): Path<i64>) { super::emergency::decide(&s, &a.actor, id, &body).await? }
}
