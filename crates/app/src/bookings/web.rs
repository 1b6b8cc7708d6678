//! Bookings API (`/api/v1/bookings/…`). Handlers are thin: the rules live in the service
//! functions of `bookings`. Booking takes an `Idempotency-Key` header (a phone may retry): a
//! retry with the same key answers the first booking, nothing is booked twice.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;

use super::book::{Booking, NewBooking, Rebooking};
use super::emergency::{Emergency, NewEmergency};
use super::rebook::{BlockInput, BlockOutcome};
use super::{NewDate, NewResource, NewService, OrgInfo, Resource, Service, Setup, SpecialDate};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::JsonBody;
use crate::kernel::handler::{ApiCaller, RegionQuery, api_handler, idem};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/bookings", post(create)),
        ("/api/v1/bookings/orgs", get(orgs)),
        ("/api/v1/bookings/orgs/{id}", get(setup)),
        ("/api/v1/bookings/orgs/{id}/services", post(add_service)),
        ("/api/v1/bookings/orgs/{id}/resources", post(add_resource)),
        ("/api/v1/bookings/orgs/{id}/dates", post(set_date)),
        ("/api/v1/bookings/orgs/{id}/block", post(block)),
        ("/api/v1/bookings/orgs/{id}/day", get(day)),
        ("/api/v1/bookings/orgs/{id}/rebookings", get(rebookings)),
        (
            "/api/v1/bookings/emergencies",
            get(emergencies).post(declare),
        ),
        ("/api/v1/bookings/emergencies/{id}/end", post(end)),
        ("/api/v1/bookings/{id}", get(one)),
        ("/api/v1/bookings/{id}/change", post(change)),
        ("/api/v1/bookings/{id}/cancel", post(cancel)),
        ("/api/v1/bookings/{id}/accept", post(accept)),
    ]
}

/// Body of `POST /api/v1/bookings/{id}/change`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ChangeInput {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// `HH:MM`.
    pub starts: String,
}

/// `?day=` of the day list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DayQuery {
    /// `YYYY-MM-DD`.
    pub day: String,
}

/// Book on behalf of someone (bookings.manage). Send an `Idempotency-Key` header: a retry
/// answers the first booking. A full slot is 409 `conflict`.
#[utoipa::path(post, path = "/api/v1/bookings", tag = "bookings", request_body = NewBooking,
    params(("Idempotency-Key" = Option<String>, Header, description = "重试时保持不变的唯一键")),
    responses((status = 201, body = Booking), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    ApiCaller(s, a): ApiCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewBooking>,
) -> AppResult<(StatusCode, axum::Json<Booking>)> {
    let b = super::book::create(&s, &a.actor, &body, idem(&headers)).await?;
    Ok((StatusCode::CREATED, axum::Json(b)))
}

api_handler! {
    /// The marriage registries and funeral homes in the caller's scope.
    get "/api/v1/bookings/orgs", tag "bookings", ok(Vec<OrgInfo>), errors(403);
    fn orgs(s, a) { super::orgs(&s, &a.actor).await? }
}

api_handler! {
    /// An organisation's services, resources and special dates.
    get "/api/v1/bookings/orgs/{id}", tag "bookings", ok(Setup), params(("id" = i64, Path)),
        errors(403, 404);
    fn setup(s, a, Path(id): Path<i64>) { super::setup(&s, &a.actor, id).await? }
}

api_handler! {
    /// Add a bookable service (opening days and hours, slot length, places per slot).
    post "/api/v1/bookings/orgs/{id}/services", tag "bookings", created(Service),
        params(("id" = i64, Path)), json(body: NewService), errors(403, 404, 422);
    fn add_service(s, a, Path(id): Path<i64>) { super::add_service(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Add a resource that limits capacity (windows, vehicles, cremators, rooms).
    post "/api/v1/bookings/orgs/{id}/resources", tag "bookings", created(Resource),
        params(("id" = i64, Path)), json(body: NewResource), errors(403, 404, 422);
    fn add_resource(s, a, Path(id): Path<i64>) { super::add_resource(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Set a special date (closed, specially open, a lower cap: bookings over it go to
    /// rebooking).
    post "/api/v1/bookings/orgs/{id}/dates", tag "bookings", created(SpecialDate),
        params(("id" = i64, Path)), json(body: NewDate), errors(403, 404, 409, 422);
    fn set_date(s, a, Path(id): Path<i64>) { super::set_date(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Block a day: every booking of it goes to rebooking with a proposed slot and a notice.
    post "/api/v1/bookings/orgs/{id}/block", tag "bookings", ok(BlockOutcome),
        params(("id" = i64, Path)), json(body: BlockInput), errors(403, 404, 409, 422);
    fn block(s, a, Path(id): Path<i64>) { super::rebook::block(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// The bookings of a day (parties masked).
    get "/api/v1/bookings/orgs/{id}/day", tag "bookings", ok(Vec<Booking>),
        params(("id" = i64, Path), DayQuery), errors(403, 404, 422);
    fn day(s, a, Path(id): Path<i64>, Query(q): Query<DayQuery>) {
        super::book::day_list(&s, &a.actor, id, &q.day).await?
    }
}

api_handler! {
    /// Rebookings not answered yet (who to call), in order of booking time.
    get "/api/v1/bookings/orgs/{id}/rebookings", tag "bookings", ok(Vec<Rebooking>),
        params(("id" = i64, Path)), errors(403, 404);
    fn rebookings(s, a, Path(id): Path<i64>) { super::rebook::waiting(&s, &a.actor, id).await? }
}

api_handler! {
    /// Emergency settings set in the caller's scope.
    get "/api/v1/bookings/emergencies", tag "bookings", ok(Vec<Emergency>), params(RegionQuery),
        errors(403, 404);
    fn emergencies(s, a, Query(q): Query<RegionQuery>) {
        super::emergency::list(&s, &a.actor, q.region()?.as_ref()).await?
    }
}

api_handler! {
    /// Put an emergency setting in force for a region's registries or funeral homes
    /// (bookings.emergency).
    post "/api/v1/bookings/emergencies", tag "bookings", created(Emergency),
        json(body: NewEmergency), errors(403, 404, 422);
    fn declare(s, a) { super::emergency::create(&s, &a.actor, &body).await? }
}

api_handler! {
    /// End an emergency setting.
    post "/api/v1/bookings/emergencies/{id}/end", tag "bookings", ok(Emergency),
        params(("id" = i64, Path)), errors(403, 404, 409);
    fn end(s, a, Path(id): Path<i64>) { super::emergency::end(&s, &a.actor, id).await? }
}

api_handler! {
    /// One booking (parties masked).
    get "/api/v1/bookings/{id}", tag "bookings", ok(Booking), params(("id" = i64, Path)),
        errors(403, 404);
    fn one(s, a, Path(id): Path<i64>) { super::book::get(&s, &a.actor, id).await? }
}

api_handler! {
    /// Move a booking to another slot (or answer a rebooking with another slot).
    post "/api/v1/bookings/{id}/change", tag "bookings", ok(Booking), params(("id" = i64, Path)),
        json(body: ChangeInput), errors(403, 404, 409, 422);
    fn change(s, a, Path(id): Path<i64>) {
        super::book::staff_change(&s, &a.actor, id, &body.day, &body.starts).await?
    }
}

api_handler! {
    /// Cancel a booking.
    post "/api/v1/bookings/{id}/cancel", tag "bookings", ok(Booking), params(("id" = i64, Path)),
        errors(403, 404, 409);
    fn cancel(s, a, Path(id): Path<i64>) { super::book::staff_cancel(&s, &a.actor, id).await? }
}

api_handler! {
    /// Accept the proposed slot of a rebooking for the party (they answered on the phone).
    post "/api/v1/bookings/{id}/accept", tag "bookings", ok(Booking), params(("id" = i64, Path)),
        errors(403, 404, 409);
    fn accept(s, a, Path(id): Path<i64>) { super::rebook::staff_accept(&s, &a.actor, id).await? }
}
