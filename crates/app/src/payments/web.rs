//! Payments API (`/api/v1/payments/…`): rolls (generate, list, read, approve, export the bank
//! file, import the return), bank accounts (enter, confirm, list), one-off grants and their
//! rolls, price indices, the provinces' rules and the subsidy roll. Thin handlers over the
//! service functions of `payments`, which check permissions, scope and separation of duties.

use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use super::rolls::GenerateRequest;
use super::{
    Account, BankFile, ExportRequest, Grant, GrantRollRequest, LinePage, NewAccount, NewGrant,
    NewPriceIndex, PriceIndex, PriceRule, PriceRuleInput, Reconciled, ReturnFile, Roll, RollDetail,
    RollQuery, SubsidyOutcome, SubsidyRequest,
};
use backstop_core::role::Permission;

use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody, region_param};
use crate::kernel::handler::api_handler;
use crate::kernel::web::Routes;
use crate::state::AppState;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/payments/rolls", get(list_rolls).post(generate)),
        ("/api/v1/payments/rolls/{id}", get(one_roll)),
        ("/api/v1/payments/rolls/{id}/approve", post(approve)),
        ("/api/v1/payments/rolls/{id}/export", post(export)),
        ("/api/v1/payments/rolls/{id}/return", post(reconcile)),
        (
            "/api/v1/payments/rolls/{id}/return-file",
            post(reconcile_file),
        ),
        (
            "/api/v1/payments/persons/{id}/accounts",
            get(person_accounts).post(enter_account),
        ),
        (
            "/api/v1/payments/accounts/{id}/confirm",
            post(confirm_account),
        ),
        (
            "/api/v1/payments/grants",
            get(list_grants).post(create_grant),
        ),
        ("/api/v1/payments/grants/{id}/rolls", post(grant_roll)),
        (
            "/api/v1/payments/price-indices",
            get(list_indices).post(record_index),
        ),
        ("/api/v1/payments/price-rules", get(list_rules)),
        ("/api/v1/payments/price-rules/{code}", put(set_rule)),
        ("/api/v1/payments/price-subsidies", post(generate_subsidy)),
    ]
}

api_handler! {
    /// Rolls in scope (or under `region`), optionally of one month.
    get "/api/v1/payments/rolls", tag "payments", ok(Vec<Roll>), params(RollQuery), errors(403, 404, 422);
    fn list_rolls(s, a, Query(q): Query<RollQuery>) {
        let region = region_param(q.region.as_deref())?;
        super::list_rolls(&s, &a.actor, region.as_ref(), q.month.as_deref()).await?
    }
}

api_handler! {
    /// Generate the month's roll of a county and programme (one transaction; a second roll for
    /// the same county, programme and month is refused).
    post "/api/v1/payments/rolls", tag "payments", created(RollDetail), json(body: GenerateRequest),
        errors(403, 404, 409, 422);
    fn generate(s, a) { super::generate(&s, &a.actor, &body).await? }
}

api_handler! {
    /// A roll with a page of its lines (names and accounts masked): `after` the previous
    /// page's `next_after`, `limit` 1–1000 (default 200).
    get "/api/v1/payments/rolls/{id}", tag "payments", ok(RollDetail),
        params(("id" = i64, Path), LinePage), errors(403, 404, 422);
    fn one_roll(s, a, Path(id): Path<i64>, Query(p): Query<LinePage>) {
        super::get_roll(&s, &a.actor, id, &p).await?
    }
}

api_handler! {
    /// Approve a draft roll (not by the user who generated it).
    post "/api/v1/payments/rolls/{id}/approve", tag "payments", ok(RollDetail),
        params(("id" = i64, Path)), errors(403, 404, 409);
    fn approve(s, a, Path(id): Path<i64>) { super::approve(&s, &a.actor, id).await? }
}

/// Export the bank file (CSV or XLSX) of an approved roll: full account numbers, a totals row
/// and the checksum of the lines (stored on the roll). Needs `payments.export`, not by the
/// roll's generator; audited. The checksum is also in the `x-roll-checksum` header.
#[utoipa::path(post, path = "/api/v1/payments/rolls/{id}/export", tag = "payments",
    params(("id" = i64, Path)), request_body = ExportRequest,
    responses((status = 200, description = "the bank file (text/csv or .xlsx)"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<ExportRequest>,
) -> AppResult<Response> {
    let f = super::export(&s, &a.actor, id, &body).await?;
    Ok(bank_file_response(f))
}

/// A bank file as a download (never cached), its checksum also in `x-roll-checksum`.
pub(crate) fn bank_file_response(f: BankFile) -> Response {
    (
        [
            (header::CONTENT_TYPE, f.content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", f.file_name),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::HeaderName::from_static("x-roll-checksum"),
                f.checksum,
            ),
        ],
        f.bytes,
    )
        .into_response()
}

api_handler! {
    /// Import the bank's return file and reconcile the roll (one transaction); refused, naming
    /// the mismatch, unless it matches the exported file (lines, totals, checksum). Failed
    /// lines go to a supplementary roll of the same month.
    post "/api/v1/payments/rolls/{id}/return", tag "payments", ok(Reconciled),
        params(("id" = i64, Path)), json(body: ReturnFile), errors(403, 404, 409, 422);
    fn reconcile(s, a, Path(id): Path<i64>) { super::reconcile(&s, &a.actor, id, &body).await? }
}

/// Upload the bank's return file (multipart/form-data, field `file`: the CSV, UTF-8 or GBK)
/// and reconcile the roll, as `POST …/return` does with the file in a JSON body.
#[utoipa::path(post, path = "/api/v1/payments/rolls/{id}/return-file", tag = "payments",
    params(("id" = i64, Path)),
    request_body(content = ReturnUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = Reconciled), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reconcile_file(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<axum::Json<Reconciled>> {
    a.actor.require(Permission::PaymentsReconcile)?;
    let file = super::upload::return_file(multipart).await?;
    Ok(axum::Json(super::reconcile(&s, &a.actor, id, &file).await?))
}

/// The multipart form of `POST …/return-file`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReturnUpload {
    /// The bank's return file: the exported CSV with `结果` and `失败原因` columns.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

api_handler! {
    /// One-off grants of regions in scope and above it (a province-wide grant), newest first.
    get "/api/v1/payments/grants", tag "payments", ok(Vec<Grant>), errors(403);
    fn list_grants(s, a) { super::list_grants(&s, &a.actor).await? }
}

api_handler! {
    /// Price indices of provinces and cities in scope and above it, newest month first.
    get "/api/v1/payments/price-indices", tag "payments", ok(Vec<PriceIndex>), errors(403);
    fn list_indices(s, a) { super::list_indices(&s, &a.actor).await? }
}

api_handler! {
    /// The provinces' own price-subsidy rules in scope and above it (a province without one
    /// applies the national mechanism: 3.5 % / 6 %).
    get "/api/v1/payments/price-rules", tag "payments", ok(Vec<PriceRule>), errors(403);
    fn list_rules(s, a) { super::list_rules(&s, &a.actor).await? }
}

api_handler! {
    /// A person's bank accounts (masked), newest first.
    get "/api/v1/payments/persons/{id}/accounts", tag "payments", ok(Vec<Account>),
        params(("id" = i64, Path)), errors(403, 404);
    fn person_accounts(s, a, Path(id): Path<i64>) { super::person_accounts(&s, &a.actor, id).await? }
}

api_handler! {
    /// Enter a new or changed bank account for a person (sealed; pending until another user
    /// confirms it).
    post "/api/v1/payments/persons/{id}/accounts", tag "payments", created(Account),
        params(("id" = i64, Path)), json(body: NewAccount), errors(403, 404, 422);
    fn enter_account(s, a, Path(id): Path<i64>) { super::enter_account(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Confirm a pending account (by a user other than the one who entered it).
    post "/api/v1/payments/accounts/{id}/confirm", tag "payments", ok(Account),
        params(("id" = i64, Path)), errors(403, 404, 409);
    fn confirm_account(s, a, Path(id): Path<i64>) { super::confirm_account(&s, &a.actor, id).await? }
}

api_handler! {
    /// Define a one-off grant for a region in scope.
    post "/api/v1/payments/grants", tag "payments", created(Grant), json(body: NewGrant),
        errors(403, 404, 422);
    fn create_grant(s, a) { super::create_grant(&s, &a.actor, &body).await? }
}

api_handler! {
    /// Generate a county's roll of a grant from who was active on its as-of date.
    post "/api/v1/payments/grants/{id}/rolls", tag "payments", created(RollDetail),
        params(("id" = i64, Path)), json(body: GrantRollRequest), errors(403, 404, 409, 422);
    fn grant_roll(s, a, Path(id): Path<i64>) {
        super::generate_grant_roll(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// Record a month's CPI and food-CPI year-on-year rise for a province or city (once).
    post "/api/v1/payments/price-indices", tag "payments", created(PriceIndex),
        json(body: NewPriceIndex), errors(403, 404, 409, 422);
    fn record_index(s, a) { super::record_index(&s, &a.actor, &body).await? }
}

api_handler! {
    /// Set a province's price-subsidy rule (thresholds no higher than the national ones).
    put "/api/v1/payments/price-rules/{code}", tag "payments", ok(PriceRule),
        params(("code" = String, Path)), json(body: PriceRuleInput), errors(403, 404, 422);
    fn set_rule(s, a, Path(code): Path<String>) { super::set_rule(&s, &a.actor, &code, &body).await? }
}

api_handler! {
    /// Generate the month's price-subsidy roll of a county when the month triggers; says why
    /// it did or did not.
    post "/api/v1/payments/price-subsidies", tag "payments", ok(SubsidyOutcome),
        json(body: SubsidyRequest), errors(403, 404, 409, 422);
    fn generate_subsidy(s, a) { super::generate_subsidy(&s, &a.actor, &body).await? }
}
