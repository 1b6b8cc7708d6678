//! Institution monitoring API (`/api/v1/institutions…`, `/api/v1/shortages…`). Handlers are
//! thin: the rules live in the service functions of `institutions`.

use super::ResidentPatch;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{
    AnswerInput, ClosureInput, EntryInput, EntryView, Institution, InstitutionDetail, Resident,
    ResidentInput, RoundsInput, RoundsView, Shortage, ShortageInput, SuppliesInput, Supply,
};
use super::{HealthEvent, NewHealthEvent};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::JsonBody;
use crate::kernel::handler::{ApiCaller, RegionQuery, api_handler, idem};
use crate::kernel::web::Routes;

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
            "/api/v1/institutions/{id}/residents/{rid}",
            get(one_resident).patch(update_resident),
        ),
        (
            "/api/v1/institutions/{id}/residents/{rid}/disable",
            post(disable_resident),
        ),
        (
            "/api/v1/institutions/{id}/residents/{rid}/enable",
            post(enable_resident),
        ),
        (
            "/api/v1/institutions/{id}/rounds",
            get(get_rounds).post(record_round),
        ),
        (
            "/api/v1/institutions/{id}/health-events",
            get(list_health_events).post(record_health_event),
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

api_handler! {
    /// Service institutions in the caller's scope with their status.
    get "/api/v1/institutions", tag "institutions", ok(Vec<Institution>), params(RegionQuery),
        errors(404);
    fn list(s, a, Query(q): Query<RegionQuery>) {
        super::list(&s, &a.actor, q.region()?.as_ref()).await?
    }
}

api_handler! {
    /// One institution: closed-management history and supplies.
    get "/api/v1/institutions/{id}", tag "institutions", ok(InstitutionDetail),
        params(("id" = i64, Path)), errors(404);
    fn one(s, a, Path(id): Path<i64>) { super::get(&s, &a.actor, id).await? }
}

api_handler! {
    /// Begin (`start`) or lift (`end`) closed management.
    post "/api/v1/institutions/{id}/closure", tag "institutions", ok(InstitutionDetail),
        params(("id" = i64, Path)), json(body: ClosureInput), errors(403, 404, 409, 422);
    fn closure(s, a, Path(id): Path<i64>) { super::set_closure(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// The entrance log of a day; names and phones masked.
    get "/api/v1/institutions/{id}/entries", tag "institutions", ok(Vec<EntryView>),
        params(("id" = i64, Path), DayQuery), errors(404);
    fn list_entries(s, a, Path(id): Path<i64>, Query(q): Query<DayQuery>) {
        super::list_entries(&s, &a.actor, id, super::day_param("day", q.day.as_deref())?).await?
    }
}

api_handler! {
    /// Record an entrance with its temperature (fever ≥ 37.3 ℃ flagged).
    post "/api/v1/institutions/{id}/entries", tag "institutions", created(EntryView),
        params(("id" = i64, Path)), json(body: EntryInput), errors(403, 404, 422);
    fn add_entry(s, a, Path(id): Path<i64>) { super::add_entry(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Residents of an institution.
    get "/api/v1/institutions/{id}/residents", tag "institutions", ok(Vec<Resident>),
        params(("id" = i64, Path)), errors(404);
    fn list_residents(s, a, Path(id): Path<i64>) { super::residents(&s, &a.actor, id).await? }
}

api_handler! {
    /// Add a resident.
    post "/api/v1/institutions/{id}/residents", tag "institutions", created(Resident),
        params(("id" = i64, Path)), json(body: ResidentInput), errors(403, 404, 422);
    fn add_resident(s, a, Path(id): Path<i64>) {
        super::add_resident(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// The three temperature rounds of a day for all residents, fevers listed.
    get "/api/v1/institutions/{id}/rounds", tag "institutions", ok(RoundsView),
        params(("id" = i64, Path), DayQuery), errors(404);
    fn get_rounds(s, a, Path(id): Path<i64>, Query(q): Query<DayQuery>) {
        super::rounds(&s, &a.actor, id, super::day_param("day", q.day.as_deref())?).await?
    }
}

api_handler! {
    /// Record one round for all residents at once; one bad value refuses the whole round.
    post "/api/v1/institutions/{id}/rounds", tag "institutions", ok(RoundsView),
        params(("id" = i64, Path)), json(body: RoundsInput), errors(403, 404, 422);
    fn record_round(s, a, Path(id): Path<i64>) {
        super::record_round(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// Set the supplies stock (quantity and days left per item).
    post "/api/v1/institutions/{id}/supplies", tag "institutions", ok(Vec<Supply>),
        params(("id" = i64, Path)), json(body: SuppliesInput), errors(403, 404, 422);
    fn set_supplies(s, a, Path(id): Path<i64>) {
        super::set_supplies(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// Raise a shortage request to the levels above.
    post "/api/v1/institutions/{id}/shortages", tag "institutions", created(Shortage),
        params(("id" = i64, Path)), json(body: ShortageInput), errors(403, 404, 422);
    fn create_shortage(s, a, Path(id): Path<i64>) {
        super::create_shortage(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// Shortage requests in the caller's scope.
    get "/api/v1/shortages", tag "institutions", ok(Vec<Shortage>), params(ShortageQuery),
        errors(422);
    fn list_shortages(s, a, Query(q): Query<ShortageQuery>) {
        super::list_shortages(&s, &a.actor, q.status.as_deref(), q.org).await?
    }
}

api_handler! {
    /// One shortage request.
    get "/api/v1/shortages/{id}", tag "institutions", ok(Shortage), params(("id" = i64, Path)),
        errors(404);
    fn get_shortage(s, a, Path(id): Path<i64>) { super::get_shortage(&s, &a.actor, id).await? }
}

api_handler! {
    /// Answer a shortage request (county level or above).
    post "/api/v1/shortages/{id}/answer", tag "institutions", ok(Shortage),
        params(("id" = i64, Path)), json(body: AnswerInput), errors(403, 404, 409, 422);
    fn answer_shortage(s, a, Path(id): Path<i64>) {
        super::answer_shortage(&s, &a.actor, id, &body.answer).await?
    }
}

api_handler! {
    /// Close a shortage request.
    post "/api/v1/shortages/{id}/close", tag "institutions", ok(Shortage),
        params(("id" = i64, Path)), errors(403, 404, 409);
    fn close_shortage(s, a, Path(id): Path<i64>) { super::close_shortage(&s, &a.actor, id).await? }
}

api_handler! {
    /// One resident (name masked unless the caller is the institution's staff).
    get "/api/v1/institutions/{id}/residents/{rid}", tag "institutions", ok(super::ResidentState),
        params(("id" = i64, Path), ("rid" = i64, Path)), errors(404);
    fn one_resident(s, a, Path((id, rid)): Path<(i64, i64)>) {
        super::get_resident(&s, &a.actor, id, rid).await?
    }
}

api_handler! {
    /// Correct a resident's name or room (audited, the name masked).
    patch "/api/v1/institutions/{id}/residents/{rid}", tag "institutions", ok(super::ResidentState),
        params(("id" = i64, Path), ("rid" = i64, Path)), json(body: ResidentPatch), errors(403, 404, 422);
    fn update_resident(s, a, Path((id, rid)): Path<(i64, i64)>) {
        super::update_resident(&s, &a.actor, id, rid, &body).await?
    }
}

api_handler! {
    /// Disable (停用, 退住) a resident: left out of the rounds; the records stay.
    post "/api/v1/institutions/{id}/residents/{rid}/disable", tag "institutions", ok(super::ResidentState),
        params(("id" = i64, Path), ("rid" = i64, Path)), errors(403, 404);
    fn disable_resident(s, a, Path((id, rid)): Path<(i64, i64)>) {
        super::set_resident_active(&s, &a.actor, id, rid, false).await?
    }
}

api_handler! {
    /// Enable a disabled resident again.
    post "/api/v1/institutions/{id}/residents/{rid}/enable", tag "institutions", ok(super::ResidentState),
        params(("id" = i64, Path), ("rid" = i64, Path)), errors(403, 404);
    fn enable_resident(s, a, Path((id, rid)): Path<(i64, i64)>) {
        super::set_resident_active(&s, &a.actor, id, rid, true).await?
    }
}

api_handler! {
    /// Health events an institution or hospital recorded (its own staff and officials in
    /// scope; the person masked).
    get "/api/v1/institutions/{id}/health-events", tag "institutions",
        ok(Vec<HealthEvent>), params(("id" = i64, Path)), errors(404);
    fn list_health_events(s, a, Path(id): Path<i64>) { super::health::list(&s, &a.actor, id).await? }
}

/// Record a person's health event (确诊/疑似/隔离/住院/死亡; the status sealed at rest): a lead
/// opens at once for each of the person's children and dependants. Send an `Idempotency-Key`
/// header: a retry answers the first event.
#[utoipa::path(post, path = "/api/v1/institutions/{id}/health-events", tag = "institutions",
    request_body = NewHealthEvent,
    params(("id" = i64, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "重试时保持不变的唯一键")),
    responses((status = 201, body = HealthEvent), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn record_health_event(
    ApiCaller(s, a): ApiCaller,
    headers: HeaderMap,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<NewHealthEvent>,
) -> AppResult<(StatusCode, axum::Json<HealthEvent>)> {
    let e = super::health::record(&s, &a.actor, id, &body, idem(&headers)).await?;
    Ok((StatusCode::CREATED, axum::Json(e)))
}
