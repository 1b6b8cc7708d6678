//! Person and household API (`/api/v1/persons…`, `/api/v1/households…`). ID numbers travel
//! only in request bodies, never in URLs. Pages are in `people::pages`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::export::ExportRequest;
use super::{
    Created, Household, HouseholdList, HouseholdPatch, HouseholdQuery, MemberInput, NewHousehold,
    NewPerson, Person, PersonList, PersonPatch, PersonQuery, Revealed,
};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody};
use crate::kernel::handler::api_handler;
use crate::kernel::web::Routes;
use crate::state::AppState;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/persons", get(list).post(create)),
        ("/api/v1/persons/search", post(search)),
        ("/api/v1/persons/export", post(export)),
        ("/api/v1/persons/{id}", get(one).patch(update)),
        ("/api/v1/persons/{id}/reveal", post(reveal)),
        ("/api/v1/persons/{id}/disable", post(disable_person)),
        ("/api/v1/persons/{id}/enable", post(enable_person)),
        ("/api/v1/households/{id}/disable", post(disable_household)),
        ("/api/v1/households/{id}/enable", post(enable_household)),
        ("/api/v1/households", get(households).post(create_household)),
        (
            "/api/v1/households/{id}",
            get(household).patch(update_household),
        ),
        ("/api/v1/households/{id}/members", post(add_member)),
        (
            "/api/v1/households/{id}/members/{person_id}",
            axum::routing::delete(remove_member),
        ),
    ]
}

/// The 409 answer to a create whose ID number is already on record in the caller's scope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConflictBody {
    /// `conflict`.
    pub code: String,
    pub message: String,
    /// The person already holding this ID number.
    pub existing_id: i64,
}

/// Record a person.
#[utoipa::path(post, path = "/api/v1/persons", tag = "people", request_body = NewPerson,
    responses((status = 201, body = Person), (status = 409, body = ConflictBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(body): JsonBody<NewPerson>,
) -> AppResult<Response> {
    Ok(match super::create(&s, &a.actor, &body).await? {
        Created::New(p) => (StatusCode::CREATED, axum::Json(*p)).into_response(),
        Created::Existing(id) => (
            StatusCode::CONFLICT,
            axum::Json(ConflictBody {
                code: "conflict".to_string(),
                message: format!("该身份证号已登记（人员编号 {id}）"),
                existing_id: id,
            }),
        )
            .into_response(),
    })
}

/// Search persons in the caller's scope by region, name, pinyin or initials (`q`), masked
/// fragment and group.
#[utoipa::path(get, path = "/api/v1/persons", tag = "people", params(PersonQuery),
    responses((status = 200, body = PersonList), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<PersonQuery>,
) -> AppResult<axum::Json<PersonList>> {
    Ok(axum::Json(super::list(&s, &a.actor, &q).await?))
}

/// Body of `POST /api/v1/persons/search`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct IdSearch {
    pub id_number: String,
}

/// Exact lookup by ID number (in the body, never in the URL). Every lookup is audited with the
/// masked number and the result count; 60 an hour per user (then 429 `rate_limited`, and the
/// security administrator is alerted). A number held by another region reads as not found,
/// exactly as a number held nowhere.
#[utoipa::path(post, path = "/api/v1/persons/search", tag = "people", request_body = IdSearch,
    responses((status = 200, body = Person), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn search(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(body): JsonBody<IdSearch>,
) -> AppResult<axum::Json<Person>> {
    Ok(axum::Json(
        super::find_by_id_number(&s, &a.actor, &body.id_number).await?,
    ))
}

/// One person, masked for the caller.
#[utoipa::path(get, path = "/api/v1/persons/{id}", tag = "people", params(("id" = i64, Path)),
    responses((status = 200, body = Person), (status = 404, body = ErrorBody)))]
pub async fn one(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Person>> {
    Ok(axum::Json(super::get(&s, &a.actor, id).await?))
}

/// Change a person (audited, masked before → after).
#[utoipa::path(patch, path = "/api/v1/persons/{id}", tag = "people", params(("id" = i64, Path)),
    request_body = PersonPatch,
    responses((status = 200, body = Person), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<PersonPatch>,
) -> AppResult<axum::Json<Person>> {
    Ok(axum::Json(super::update(&s, &a.actor, id, &body).await?))
}

/// Body of `POST /api/v1/persons/{id}/reveal`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RevealRequest {
    /// Why the full value is needed (recorded in the audit log).
    pub reason: String,
}

/// The full ID number and phone (permission `persons_reveal_id`; every reveal is audited).
#[utoipa::path(post, path = "/api/v1/persons/{id}/reveal", tag = "people", params(("id" = i64, Path)),
    request_body = RevealRequest,
    responses((status = 200, body = Revealed), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reveal(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<RevealRequest>,
) -> AppResult<axum::Json<Revealed>> {
    Ok(axum::Json(
        super::reveal(&s, &a.actor, id, &body.reason).await?,
    ))
}

/// Group persons into a household.
#[utoipa::path(post, path = "/api/v1/households", tag = "people", request_body = NewHousehold,
    responses((status = 201, body = Household), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_household(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(body): JsonBody<NewHousehold>,
) -> AppResult<(StatusCode, axum::Json<Household>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(super::create_household(&s, &a.actor, &body).await?),
    ))
}

/// One household with its members.
#[utoipa::path(get, path = "/api/v1/households/{id}", tag = "people", params(("id" = i64, Path)),
    responses((status = 200, body = Household), (status = 404, body = ErrorBody)))]
pub async fn household(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Household>> {
    Ok(axum::Json(super::get_household(&s, &a.actor, id).await?))
}

/// Households in the caller's scope (or a region of it), newest first.
#[utoipa::path(get, path = "/api/v1/households", tag = "people", params(HouseholdQuery),
    responses((status = 200, body = HouseholdList), (status = 404, body = ErrorBody)))]
pub async fn households(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<HouseholdQuery>,
) -> AppResult<axum::Json<HouseholdList>> {
    Ok(axum::Json(super::list_households(&s, &a.actor, &q).await?))
}

/// Correct a household's address.
#[utoipa::path(patch, path = "/api/v1/households/{id}", tag = "people", params(("id" = i64, Path)),
    request_body = HouseholdPatch,
    responses((status = 200, body = Household), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_household(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<HouseholdPatch>,
) -> AppResult<axum::Json<Household>> {
    Ok(axum::Json(
        super::update_household(&s, &a.actor, id, &body).await?,
    ))
}

/// Add a person to a household (or change a member's relationship); a person of another
/// household moves only with `move_from_other` (else 409).
#[utoipa::path(post, path = "/api/v1/households/{id}/members", tag = "people", params(("id" = i64, Path)),
    request_body = MemberInput,
    responses((status = 200, body = Household), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn add_member(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<MemberInput>,
) -> AppResult<axum::Json<Household>> {
    Ok(axum::Json(
        super::add_member(&s, &a.actor, id, &body).await?,
    ))
}

/// Take a member out of a household (the person stays on record).
#[utoipa::path(delete, path = "/api/v1/households/{id}/members/{person_id}", tag = "people",
    params(("id" = i64, Path), ("person_id" = i64, Path)),
    responses((status = 200, body = Household), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    State(s): State<AppState>,
    Api(a): Api,
    Path((id, person_id)): Path<(i64, i64)>,
) -> AppResult<axum::Json<Household>> {
    Ok(axum::Json(
        super::remove_member(&s, &a.actor, id, person_id).await?,
    ))
}

/// The .xlsx answer of an export (also used by the export page).
pub(crate) fn xlsx_response(x: super::export::Exported) -> Response {
    crate::kernel::cells::xlsx_download(&x.filename, x.bytes)
}

/// Export the filtered list as an Excel file. A reason is required (422 `reason_required`);
/// ID numbers and phones are masked unless `full` is asked by a role holding
/// `persons.reveal_id` (otherwise 403). Every export is audited.
#[utoipa::path(post, path = "/api/v1/persons/export", tag = "people", request_body = ExportRequest,
    responses((status = 200, description = "the .xlsx file",
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn export(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(body): JsonBody<ExportRequest>,
) -> AppResult<Response> {
    Ok(xlsx_response(
        super::export::export(&s, &a.actor, &body).await?,
    ))
}

api_handler! {
    /// Disable (停用) a person: left out of the default lists; the record stays.
    post "/api/v1/persons/{id}/disable", tag "people", ok(Person), params(("id" = i64, Path)), errors(403, 404);
    fn disable_person(s, a, Path(id): Path<i64>) {
        super::status::set_person_disabled(&s, &a.actor, id, true).await?
    }
}

api_handler! {
    /// Enable a disabled person again.
    post "/api/v1/persons/{id}/enable", tag "people", ok(Person), params(("id" = i64, Path)), errors(403, 404);
    fn enable_person(s, a, Path(id): Path<i64>) {
        super::status::set_person_disabled(&s, &a.actor, id, false).await?
    }
}

api_handler! {
    /// Disable (停用) a household: left out of the default list; its members stay in it.
    post "/api/v1/households/{id}/disable", tag "people", ok(Household), params(("id" = i64, Path)), errors(403, 404);
    fn disable_household(s, a, Path(id): Path<i64>) {
        super::status::set_household_disabled(&s, &a.actor, id, true).await?
    }
}

api_handler! {
    /// Enable a disabled household again.
    post "/api/v1/households/{id}/enable", tag "people", ok(Household), params(("id" = i64, Path)), errors(403, 404);
    fn enable_household(s, a, Path(id): Path<i64>) {
        super::status::set_household_disabled(&s, &a.actor, id, false).await?
    }
}
