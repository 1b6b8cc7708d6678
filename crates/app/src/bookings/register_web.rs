//! API of the registration rules (`/api/v1/bookings/place-rules`, a registry's designation),
//! the divorce cooling-off applications and the pre-check of bookings. Thin: the rules live in
//! [`super::register`], [`super::divorce`] and [`super::precheck`].

use axum::extract::Path;
use axum::routing::{get, post, put};

use super::divorce::Divorce;
use super::precheck::{Precheck, PrecheckAnswer, PrecheckInput};
use super::register::{Designation, PlaceRule, SetPlaceRule};
use crate::kernel::handler::api_handler;
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        (
            "/api/v1/bookings/place-rules",
            get(place_rules).put(set_place_rule),
        ),
        (
            "/api/v1/bookings/orgs/{id}/designation",
            get(designation).put(set_designation),
        ),
        ("/api/v1/bookings/orgs/{id}/divorces", get(divorces)),
        ("/api/v1/bookings/orgs/{id}/prechecks", get(prechecks)),
        ("/api/v1/bookings/divorces/{id}/withdraw", post(withdraw)),
        (
            "/api/v1/bookings/{id}/precheck",
            get(precheck).merge(put(submit_precheck)),
        ),
        ("/api/v1/bookings/{id}/precheck/answer", post(answer)),
    ]
}

api_handler! {
    /// Where couples may register, as set for regions in (and above) the caller's scope.
    get "/api/v1/bookings/place-rules", tag "bookings", ok(Vec<PlaceRule>), errors(403);
    fn place_rules(s, a) { super::register::place_rules(&s, &a.actor).await? }
}

api_handler! {
    /// Set where couples may register in a region: `household` (一方常住户口所在地) or
    /// `anywhere` (全国通办) (bookings.emergency).
    put "/api/v1/bookings/place-rules", tag "bookings", ok(PlaceRule), json(body: SetPlaceRule),
        errors(403, 404, 422);
    fn set_place_rule(s, a) { super::register::set_place_rule(&s, &a.actor, &body).await? }
}

api_handler! {
    /// Is a marriage registry designated for marriages involving foreigners or residents of
    /// Hong Kong, Macao and Taiwan?
    get "/api/v1/bookings/orgs/{id}/designation", tag "bookings", ok(Designation),
        params(("id" = i64, Path)), errors(403, 404);
    fn designation(s, a, Path(id): Path<i64>) { super::register::designation(&s, &a.actor, id).await? }
}

api_handler! {
    /// Designate a marriage registry or withdraw the designation (bookings.emergency).
    put "/api/v1/bookings/orgs/{id}/designation", tag "bookings", ok(Designation),
        params(("id" = i64, Path)), json(body: Designation), errors(403, 404, 422);
    fn set_designation(s, a, Path(id): Path<i64>) {
        super::register::set_designation(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// The divorce applications of a registry with their cooling-off windows.
    get "/api/v1/bookings/orgs/{id}/divorces", tag "bookings", ok(Vec<Divorce>),
        params(("id" = i64, Path)), errors(403, 404);
    fn divorces(s, a, Path(id): Path<i64>) { super::divorce::list(&s, &a.actor, id).await? }
}

api_handler! {
    /// A party withdraws a divorce application during the cooling-off period.
    post "/api/v1/bookings/divorces/{id}/withdraw", tag "bookings", ok(Divorce),
        params(("id" = i64, Path)), errors(403, 404, 409);
    fn withdraw(s, a, Path(id): Path<i64>) { super::divorce::withdraw(&s, &a.actor, id).await? }
}

api_handler! {
    /// The pre-checks of a registry waiting for an answer (bookings.manage).
    get "/api/v1/bookings/orgs/{id}/prechecks", tag "bookings", ok(Vec<Precheck>),
        params(("id" = i64, Path)), errors(403, 404);
    fn prechecks(s, a, Path(id): Path<i64>) { super::precheck::waiting(&s, &a.actor, id).await? }
}

api_handler! {
    /// A booking's pre-check (`null` if none was submitted).
    get "/api/v1/bookings/{id}/precheck", tag "bookings", ok(Option<Precheck>),
        params(("id" = i64, Path)), errors(403, 404);
    fn precheck(s, a, Path(id): Path<i64>) { super::precheck::get(&s, &a.actor, id).await? }
}

api_handler! {
    /// Enter the registration data and documents for a booking (staff on behalf of the couple).
    put "/api/v1/bookings/{id}/precheck", tag "bookings", ok(Precheck),
        params(("id" = i64, Path)), json(body: PrecheckInput), errors(403, 404, 409, 422);
    fn submit_precheck(s, a, Path(id): Path<i64>) {
        super::precheck::staff_submit(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// Answer a pre-check: approved, or what is missing (sent to the booking's phone).
    post "/api/v1/bookings/{id}/precheck/answer", tag "bookings", ok(Precheck),
        params(("id" = i64, Path)), json(body: PrecheckAnswer), errors(403, 404, 409, 422);
    fn answer(s, a, Path(id): Path<i64>) { super::precheck::answer(&s, &a.actor, id, &body).await? }
}
