//! Entrance checks (测温登记) at gates (卡口), issue 4 item 5: a gate is a named checkpoint of a
//! village or community, or of a service institution. This module owns the gates ([`gates`]),
//! the quick entry of a visitor at a gate (name, phone, where from, why, in or out,
//! temperature) and the day's list of a gate with persons masked ([`entries`]), and the fever
//! alert ([`alerts`]): an entry at or above [`FEVER_TENTHS`] opens an alert and queues
//! notifications in the `notifications` outbox to the community's workers (users scoped to
//! that village with the community-worker role; the township when the village has none) or,
//! for an institution's gate, to the institution's users; the alert stays open until someone
//! acknowledges it with a disposition. Every SQL statement of the area is in `queries`.
//!
//! Why a separate table rather than generalising `inst_entries`: the institutions' entrance log
//! (one log per institution, no gates, no direction or origin) is used by its own pages, API
//! and tests. Gates cover both kinds of place: a gate with an `org_id` belongs to an
//! institution (which may then have several named gates). The rules are shared, not copied:
//! the temperature range, tenths and fever threshold (`backstop_core::temperature`), the
//! phone's normalisation and sealing (encrypted, blind-indexed, masked:
//! [`crate::people::normalise_phone`], [`crate::people::seal`]) and how names are shown
//! (`people::shown::name_in_list`).
//!
//! Rules: reading needs `ReportsRead` and the gate's region inside the caller's scope (outside
//! is *not found*); the entries and alerts of an institution's gate are read, by anyone tied to
//! an organisation, only for that organisation (as its own entrance log is); recording at a gate, creating one and acknowledging its alerts need
//! `ReportsSubmit` and, for an institution's gate, the rule of
//! [`crate::institutions::may_write`] (someone tied to an organisation writes only for it); an
//! institution reporter never writes at a community gate. Linking an entry to a person record
//! by ID number needs `PersonsRead`; the number travels only in a request body, is looked up
//! through the blind index within the caller's scope and is not stored with the entry. Every
//! change is one write transaction with its audit entries (persons masked).

mod alerts;
mod entries;
mod gate_edit;
mod gates;
pub mod pages;
mod queries;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::role::{Permission, Role};

pub(crate) use alerts::raise_for_observation;
pub use alerts::{AckInput, Alert, ack_alert, alerts_to_handle, get_alert, list_alerts};
pub use entries::{EntriesDay, EntryInput, EntryView, add_entry, list_entries};
pub use gate_edit::{GatePatch, set_gate_disabled, update_gate};
pub use gates::{Gate, NewGate, create_gate, get_gate, list_gates};

use crate::institutions;
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, FieldError, text_field};
use crate::state::AppState;

/// Fever threshold in tenths of a degree (37.3 ℃), the same as the institutions' rounds.
pub const FEVER_TENTHS: i64 = backstop_core::temperature::FEVER_TENTHS;

/// In or out of the gate.
pub const DIRECTIONS: [(&str, &str); 2] = [("in", "进"), ("out", "出")];

/// How a fever alert was dealt with.
pub const DISPOSITIONS: [(&str, &str); 5] = [
    ("fever_clinic", "已送发热门诊"),
    ("remeasured_normal", "复测体温正常"),
    ("home_observation", "转居家医学观察"),
    ("refused_entry", "劝返，未准入"),
    ("other", "其他（见说明）"),
];

fn label_of(list: &[(&'static str, &'static str)], key: &str) -> &'static str {
    list.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// Chinese label of a field of this area, for messages.
fn field_label(field: &str) -> String {
    let own = match field {
        "name" => "姓名",
        "gate_name" => "卡口名称",
        "phone" => "联系电话",
        "from" => "来自何处",
        "reason" => "事由",
        "direction" => "进出",
        "temperature" => "体温",
        "id_number" => "身份证号",
        "disposition" => "处置结果",
        "note" => "说明",
        "region_code" => "村（社区）",
        "org_id" => "机构",
        "date" => "日期",
        other => return crate::kernel::error::field_label(other),
    };
    own.to_string()
}

/// A validation error on one field, with this area's Chinese label.
pub(crate) fn ferr(code: ErrorCode, field: &str, message: impl Into<String>) -> AppError {
    let message = message.into();
    AppError {
        code,
        message: format!("{}：{message}", field_label(field)),
        fields: vec![FieldError {
            field: field.to_string(),
            message,
        }],
    }
}

/// A field error from a shared helper, relabelled for this area.
fn relabel(e: AppError) -> AppError {
    match e.fields.first() {
        Some(f) if e.fields.len() == 1 => ferr(e.code, &f.field.clone(), f.message.clone()),
        _ => e,
    }
}

fn text(field: &str, v: &str, max: usize, required: bool) -> AppResult<String> {
    text_field(field, v, max, required).map_err(relabel)
}

/// Tenths of a degree from a reading in ℃ (34.0–43.0, one decimal).
pub fn check_temperature(celsius: f64) -> AppResult<i64> {
    backstop_core::temperature::tenths(celsius).ok_or_else(|| {
        ferr(
            ErrorCode::Validation,
            "temperature",
            "应在 34.0–43.0 ℃ 之间（如 36.5）",
        )
    })
}

/// A temperature typed in a form (`36.5`, `36,5`); empty or not a number is an error.
pub fn parse_temperature_text(s: &str) -> AppResult<f64> {
    let t = s.trim().replace([',', '，', '。'], ".");
    if t.is_empty() {
        return Err(ferr(ErrorCode::Validation, "temperature", "不能为空"));
    }
    t.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| ferr(ErrorCode::Validation, "temperature", "请填写数字，如 36.5"))
}

/// A date from the query string (`YYYY-MM-DD`); empty or absent is `None` (today).
pub fn date_param(s: Option<&str>) -> AppResult<Option<chrono::NaiveDate>> {
    institutions::day_param("date", s).map_err(relabel)
}

fn today_str(state: &AppState) -> String {
    state.today().format("%Y-%m-%d").to_string()
}

/// May the actor record at (and acknowledge alerts of) a gate of this kind? An institution's
/// gate follows [`institutions::may_write`]; a community gate needs `ReportsSubmit` and is
/// never written by an institution reporter.
pub fn may_write(actor: &Actor, org_id: Option<i64>) -> bool {
    match org_id {
        Some(o) => institutions::may_write(actor, o),
        None => {
            actor.is_operator()
                || (actor.can(Permission::ReportsSubmit)
                    && !actor.roles.has_role(Role::InstitutionReporter))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperatures_and_directions() {
        assert_eq!(check_temperature(36.5).ok(), Some(365));
        assert_eq!(check_temperature(34.0).ok(), Some(340));
        assert_eq!(check_temperature(43.0).ok(), Some(430));
        let e = check_temperature(33.9).err().map(|e| e.message);
        assert_eq!(e.as_deref(), Some("体温：应在 34.0–43.0 ℃ 之间（如 36.5）"));
        assert!(check_temperature(43.1).is_err());
        assert!(check_temperature(f64::NAN).is_err());
        assert_eq!(parse_temperature_text(" 37,3 ").ok(), Some(37.3));
        assert!(parse_temperature_text("abc").is_err());
        assert!(parse_temperature_text("").is_err());
        assert_eq!(entries::parse_direction(None).ok(), Some("in"));
        assert_eq!(entries::parse_direction(Some("出")).ok(), Some("out"));
        assert!(entries::parse_direction(Some("x")).is_err());
        assert_eq!(check_temperature(37.3).ok(), Some(FEVER_TENTHS));
    }
}
