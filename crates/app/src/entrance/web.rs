//! Entrance-check API (`/api/v1/gates…`, `/api/v1/entrance-alerts…`). Handlers are thin: the
//! rules live in the service functions of `entrance`.

use axum::extract::{Path, Query};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{AckInput, Alert, EntriesDay, EntryInput, EntryView, Gate, GatePatch, NewGate};
use crate::kernel::handler::{RegionQuery, api_handler};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/gates", get(list_gates).post(create_gate)),
        ("/api/v1/gates/{id}", get(gate).patch(update_gate)),
        ("/api/v1/gates/{id}/disable", post(disable_gate)),
        ("/api/v1/gates/{id}/enable", post(enable_gate)),
        (
            "/api/v1/gates/{id}/entries",
            get(list_entries).post(add_entry),
        ),
        ("/api/v1/entrance-alerts", get(list_alerts)),
        ("/api/v1/entrance-alerts/{id}", get(alert)),
        ("/api/v1/entrance-alerts/{id}/ack", post(ack_alert)),
    ]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DateQuery {
    /// `YYYY-MM-DD` (Beijing); default today.
    pub date: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AlertQuery {
    /// `open` or `closed`.
    pub status: Option<String>,
    /// Only this gate.
    pub gate: Option<i64>,
}

api_handler! {
    /// Gates in the caller's scope with today's counts.
    get "/api/v1/gates", tag "entrance", ok(Vec<Gate>), params(RegionQuery), errors(404);
    fn list_gates(s, a, Query(q): Query<RegionQuery>) {
        super::list_gates(&s, &a.actor, q.region()?.as_ref()).await?
    }
}

api_handler! {
    /// Create a gate under a village or community (`region_code`) or for an institution (`org_id`).
    post "/api/v1/gates", tag "entrance", created(Gate), json(body: NewGate),
        errors(403, 404, 409, 422);
    fn create_gate(s, a) { super::create_gate(&s, &a.actor, &body).await? }
}

api_handler! {
    /// One gate with today's counts.
    get "/api/v1/gates/{id}", tag "entrance", ok(Gate), params(("id" = i64, Path)), errors(404);
    fn gate(s, a, Path(id): Path<i64>) { super::get_gate(&s, &a.actor, id).await? }
}

api_handler! {
    /// A gate's entries of one day, persons masked, with the counts of entries and fevers.
    get "/api/v1/gates/{id}/entries", tag "entrance", ok(EntriesDay),
        params(("id" = i64, Path), DateQuery), errors(404, 422);
    fn list_entries(s, a, Path(id): Path<i64>, Query(q): Query<DateQuery>) {
        super::list_entries(&s, &a.actor, id, super::date_param(q.date.as_deref())?).await?
    }
}

api_handler! {
    /// Record a visitor at a gate; a fever (≥ 37.3 ℃) opens an alert and notifies the
    /// community's workers (or the institution's users).
    post "/api/v1/gates/{id}/entries", tag "entrance", created(EntryView),
        params(("id" = i64, Path)), json(body: EntryInput), errors(403, 404, 422);
    fn add_entry(s, a, Path(id): Path<i64>) { super::add_entry(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Fever alerts in the caller's scope, newest first.
    get "/api/v1/entrance-alerts", tag "entrance", ok(Vec<Alert>), params(AlertQuery), errors(422);
    fn list_alerts(s, a, Query(q): Query<AlertQuery>) {
        super::list_alerts(&s, &a.actor, q.status.as_deref(), q.gate).await?
    }
}

api_handler! {
    /// One fever alert.
    get "/api/v1/entrance-alerts/{id}", tag "entrance", ok(Alert), params(("id" = i64, Path)),
        errors(404);
    fn alert(s, a, Path(id): Path<i64>) { super::get_alert(&s, &a.actor, id).await? }
}

api_handler! {
    /// Acknowledge an open fever alert with its disposition (audited); it is then closed.
    post "/api/v1/entrance-alerts/{id}/ack", tag "entrance", ok(Alert), params(("id" = i64, Path)),
        json(body: AckInput), errors(403, 404, 409, 422);
    fn ack_alert(s, a, Path(id): Path<i64>) { super::ack_alert(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Rename a gate (audited before → after).
    patch "/api/v1/gates/{id}", tag "entrance", ok(Gate), params(("id" = i64, Path)), json(body: GatePatch), errors(403, 404, 409, 422);
    fn update_gate(s, a, Path(id): Path<i64>) { super::update_gate(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Disable (停用) a gate: it takes no entries; its records stay.
    post "/api/v1/gates/{id}/disable", tag "entrance", ok(Gate), params(("id" = i64, Path)), errors(403, 404);
    fn disable_gate(s, a, Path(id): Path<i64>) { super::set_gate_disabled(&s, &a.actor, id, true).await? }
}

api_handler! {
    /// Enable a disabled gate again.
    post "/api/v1/gates/{id}/enable", tag "entrance", ok(Gate), params(("id" = i64, Path)), errors(403, 404);
    fn enable_gate(s, a, Path(id): Path<i64>) { super::set_gate_disabled(&s, &a.actor, id, false).await? }
}
