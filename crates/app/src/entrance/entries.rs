//! Entries at a gate: the quick entry of a visitor (checked, the phone sealed, optionally
//! linked to a person record by ID number) and the day's list of a gate with its counts. A
//! fever opens an alert and queues its notifications in the same transaction (see
//! [`super::alerts::raise`]).

use backstop_core::error::ErrorCode;
use backstop_core::temperature::{celsius, is_fever};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::gates::open_gate;
use super::{
    DIRECTIONS, Gate, check_temperature, ferr, get_gate, label_of, queries, relabel, text,
    today_str,
};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::people::{self, shown};
use crate::privacy;
use crate::state::AppState;

/// Body of `POST /api/v1/gates/{id}/entries`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct EntryInput {
    /// Full name (stored; only ever shown masked).
    pub name: String,
    /// Phone (stored encrypted; only ever shown masked).
    pub phone: String,
    /// Where the person comes from (来自何处).
    pub from: String,
    /// Why (事由).
    pub reason: String,
    /// `in` (default) or `out`.
    #[serde(default)]
    pub direction: Option<String>,
    /// ℃ with one decimal, 34.0–43.0.
    pub temperature: f64,
    /// Optional: link the entry to the person record holding this ID number (in the caller's
    /// scope; needs `persons.read`). Not stored with the entry.
    #[serde(default)]
    pub id_number: Option<String>,
}

/// One entry, the person masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    pub id: i64,
    pub gate_id: i64,
    pub name_masked: String,
    pub phone_masked: String,
    pub from: String,
    pub reason: String,
    /// `in` or `out`.
    pub direction: String,
    pub direction_label: String,
    /// ℃.
    pub temperature: f64,
    /// At or above 37.3 ℃.
    pub fever: bool,
    /// The linked person record, if any.
    pub person_id: Option<i64>,
    /// The fever alert this entry raised.
    pub alert_id: Option<i64>,
    /// UTC, RFC 3339.
    pub entered_at: String,
    /// Beijing date.
    pub day: String,
    pub recorded_by: String,
}

/// A gate's entries of one day with the counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntriesDay {
    pub gate: Gate,
    pub date: String,
    pub count: i64,
    pub in_count: i64,
    pub out_count: i64,
    pub fevers: i64,
    /// Newest first (at most 2000; the counts cover the whole day).
    pub entries: Vec<EntryView>,
}

pub(super) fn parse_direction(s: Option<&str>) -> AppResult<&'static str> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok("in"),
        Some(d) => DIRECTIONS
            .iter()
            .find(|(k, l)| *k == d || *l == d)
            .map(|(k, _)| *k)
            .ok_or_else(|| {
                ferr(
                    ErrorCode::Validation,
                    "direction",
                    "应为 in（进）或 out（出）",
                )
            }),
    }
}

/// A validated entry, before it is sealed and stored.
pub(super) struct CheckedEntry {
    pub name: String,
    pub phone: String,
    pub from: String,
    pub reason: String,
    pub direction: &'static str,
    pub temp: i64,
}

fn check_entry(input: &EntryInput) -> AppResult<CheckedEntry> {
    let name = text("name", &input.name, 50, true)?;
    let phone = people::normalise_phone(&input.phone)
        .map_err(|m| ferr(ErrorCode::Validation, "phone", m))?
        .ok_or_else(|| ferr(ErrorCode::Validation, "phone", "不能为空"))?;
    let from = text("from", &input.from, 100, true)?;
    let reason = text("reason", &input.reason, 200, true)?;
    let direction = parse_direction(input.direction.as_deref())?;
    let temp = check_temperature(input.temperature)?;
    Ok(CheckedEntry {
        name,
        phone,
        from,
        reason,
        direction,
        temp,
    })
}

/// The person record holding `id_number` in the caller's scope, if any.
async fn linked_person(
    state: &AppState,
    actor: &Actor,
    id_number: Option<&str>,
) -> AppResult<Option<i64>> {
    match id_number.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        // Unmetered (the entry is itself audited) and never shown: only the link is kept.
        Some(n) => match people::links::person_id_for(state, actor, n).await {
            Ok(p) => Ok(p),
            // Not on record in the caller's scope: the entry is kept without a link.
            Err(e) if e.code == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(relabel(e)),
        },
    }
}

/// Record a visitor at a gate. A fever opens an alert and queues its notifications in the same
/// transaction.
pub async fn add_entry(
    state: &AppState,
    actor: &Actor,
    gate_id: i64,
    input: &EntryInput,
) -> AppResult<EntryView> {
    let gate = open_gate(state, actor, gate_id).await?;
    let c = check_entry(input)?;
    let person_id = linked_person(state, actor, input.id_number.as_deref()).await?;
    let fever = is_fever(c.temp);
    let sealed = people::seal(state, None, Some(&c.phone));
    let day = today_str(state);
    let name_masked = shown::name_in_list(&c.name);
    // Sealed before the write begins: one encryption per field, nothing more in the lock.
    let temp_enc = privacy::seal_int(&state.keys, c.temp);
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    let row = queries::NewEntry {
        c: &c,
        phone_enc: sealed.phone_enc.clone(),
        phone_index: sealed.phone_index.clone(),
        phone_masked: &sealed.phone_masked,
        origin_enc: privacy::seal(&state.keys, &c.from),
        reason_enc: privacy::seal(&state.keys, &c.reason),
        temp_enc: &temp_enc,
        fever,
        person_id,
        day: &day,
        by: &actor.username,
    };
    let eid = queries::insert_entry(&mut tx, &gate, &row).await?;
    let entry = Change::new("gate.entry", "gate_entry", eid, &gate.region_code).detail(
        json!({"gate_id": gate.id,
            "name": {"before": null, "after": name_masked},
            "phone": {"before": null, "after": sealed.phone_masked},
            // Origin, reason and temperature are sealed in the row, not copied to the log.
            "direction": {"before": null, "after": c.direction},
            "fever": fever, "person_id": person_id}),
    );
    let alert_id = if fever {
        tx.also(entry);
        let (aid, raised) =
            super::alerts::raise(&mut tx, &gate, eid, &c, &temp_enc, &name_masked).await?;
        if let Some(pid) = person_id {
            // A fever alert on a registry person: a lead for each child of the household.
            let source_ref = format!("entrance_alert:{aid}");
            crate::children::leads::for_parent(
                &mut tx,
                state,
                pid,
                "parent_suspected",
                "entrance_alert",
                &source_ref,
            )
            .await?;
        }
        tx.commit(raised).await?;
        Some(aid)
    } else {
        tx.commit(entry).await?;
        None
    };
    Ok(EntryView {
        id: eid,
        gate_id: gate.id,
        name_masked,
        phone_masked: sealed.phone_masked,
        from: c.from,
        reason: c.reason,
        direction: c.direction.to_string(),
        direction_label: label_of(&DIRECTIONS, c.direction).to_string(),
        temperature: celsius(c.temp),
        fever,
        person_id,
        alert_id,
        entered_at: backstop_core::clock::rfc3339(now),
        day,
        recorded_by: actor.username.clone(),
    })
}

/// A gate's entries of one day (default today, Beijing), newest first, with the counts.
pub async fn list_entries(
    state: &AppState,
    actor: &Actor,
    gate_id: i64,
    date: Option<NaiveDate>,
) -> AppResult<EntriesDay> {
    let gate = get_gate(state, actor, gate_id).await?;
    let date = crate::institutions::day_or_today(state, "date", date).map_err(relabel)?;
    let date = date.format("%Y-%m-%d").to_string();
    let scope = actor.everywhere();
    let entries = queries::entries(state, &scope, &gate, &date).await?;
    let (count, in_count, fevers) = queries::day_counts(state, &scope, &gate, &date).await?;
    Ok(EntriesDay {
        gate,
        date,
        count,
        in_count,
        out_count: count - in_count,
        fevers,
        entries,
    })
}
