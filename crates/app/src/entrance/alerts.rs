//! Fever alerts of the gates: raised by an entry at or above the threshold (with its
//! notifications to the community's workers, the township when the village has none, or the
//! institution's users), listed in scope, shown on the home page of whoever should act, and
//! acknowledged with a disposition, which closes them.

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use backstop_core::temperature::celsius;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::entries::CheckedEntry;
use super::{DIRECTIONS, DISPOSITIONS, Gate, ferr, label_of, may_write, queries, text};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// A fever alert, the person masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Alert {
    pub id: i64,
    pub gate_id: i64,
    pub gate_name: String,
    pub entry_id: i64,
    pub region_code: String,
    pub org_id: Option<i64>,
    pub name_masked: String,
    pub phone_masked: String,
    pub from: String,
    /// ℃.
    pub temperature: f64,
    /// `open` or `closed`.
    pub status: String,
    /// Set when acknowledged.
    pub disposition: Option<String>,
    pub disposition_label: String,
    pub note: String,
    /// Notification rows queued when it was raised.
    pub notified: i64,
    pub acked_by: Option<String>,
    pub acked_at: Option<String>,
    pub created_at: String,
    /// Whether the caller may acknowledge it.
    pub can_ack: bool,
    /// Beijing time it was raised, for pages.
    #[serde(skip)]
    pub shown_at: String,
}

impl Alert {
    /// The dispositions to choose from when acknowledging (for pages).
    pub fn dispositions(&self) -> &'static [(&'static str, &'static str)] {
        &DISPOSITIONS
    }
}

/// Body of `POST /api/v1/entrance-alerts/{id}/ack`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AckInput {
    /// `fever_clinic`, `remeasured_normal`, `home_observation`, `refused_entry` or `other`
    /// (which needs a note).
    pub disposition: String,
    #[serde(default)]
    pub note: String,
}

/// Open the alert of a fever entry and queue its notifications, in the entry's transaction;
/// returns the alert's id and its audit entry.
pub(super) async fn raise(
    tx: &mut Tx,
    gate: &Gate,
    entry_id: i64,
    c: &CheckedEntry,
    temp_enc: &[u8],
    name_masked: &str,
) -> AppResult<(i64, Change)> {
    let now = tx.now();
    let targets = queries::recipients(tx, &gate.region_code, gate.org_id).await?;
    let aid = queries::insert_alert(tx, gate, entry_id, temp_enc, targets.len() as i64).await?;
    let place = if gate.org_name.is_empty() {
        format!("{}{}", gate.region_name, gate.name)
    } else {
        format!("{}{}", gate.org_name, gate.name)
    };
    let when = backstop_core::clock::format_beijing(backstop_core::clock::from_millis(now));
    // Where the person comes from (epidemic history) stays out of the clear outbox.
    let fields = [
        ("when", when),
        ("place", place),
        ("name", name_masked.to_string()),
        ("temperature", format!("{:.1}", celsius(c.temp))),
        ("direction", label_of(&DIRECTIONS, c.direction).to_string()),
        ("id", aid.to_string()),
    ];
    queue_fever(tx, &targets, "entrance_fever", &fields).await?;
    let change = Change::new(
        "entrance_alert.raise",
        "entrance_alert",
        aid,
        &gate.region_code,
    )
    .detail(json!({"gate_id": gate.id, "entry_id": entry_id,
            "status": {"before": null, "after": "open"},
            "notified": targets.iter().map(|(_, u)| u.as_str()).collect::<Vec<_>>()}));
    Ok((aid, change))
}

/// Queue a fever alert's notifications (one per recipient) in the caller's transaction.
async fn queue_fever(
    tx: &mut Tx,
    targets: &[(String, String)],
    kind: &'static str,
    fields: &[(&str, String)],
) -> AppResult<()> {
    for (region, unit) in targets {
        let now = tx.now();
        crate::reports::queue_notification(
            tx,
            &crate::reports::NewNotification {
                region,
                unit,
                kind,
                template: kind,
                fields,
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// The fever alert of a home observation's check-in (`temperature::is_fever`, the one rule
/// gates and institutions use): the same recipients a gate in the person's village alerts —
/// its community workers, else the township — plus `extra` (the observation's four
/// responsible people), in the check-in's transaction. Returns the units notified.
pub(crate) async fn raise_for_observation(
    tx: &mut Tx,
    region: &str,
    extra: Vec<(String, String)>,
    fields: &[(&str, String)],
) -> AppResult<Vec<String>> {
    let mut targets = queries::recipients(tx, region, None).await?;
    targets.extend(extra);
    queue_fever(tx, &targets, "observation_fever", fields).await?;
    Ok(targets.into_iter().map(|(_, u)| u).collect())
}

/// One alert in scope.
pub async fn get_alert(state: &AppState, actor: &Actor, id: i64) -> AppResult<Alert> {
    actor.require(Permission::ReportsRead)?;
    queries::alert(state, &actor.everywhere(), id).await
}

/// Alerts in scope, newest first: optionally one status (`open`, `closed`) or one gate.
pub async fn list_alerts(
    state: &AppState,
    actor: &Actor,
    status: Option<&str>,
    gate_id: Option<i64>,
) -> AppResult<Vec<Alert>> {
    actor.require(Permission::ReportsRead)?;
    let status =
        crate::institutions::status_filter(status, &["open", "closed"], "应为 open 或 closed")?;
    queries::alerts(state, &actor.everywhere(), status, gate_id).await
}

/// The open alerts the actor is expected to act on (its home page): in scope and
/// acknowledgeable by it; empty for a role that does not read reports.
pub async fn alerts_to_handle(state: &AppState, actor: &Actor) -> AppResult<Vec<Alert>> {
    if !actor.can(Permission::ReportsRead) {
        return Ok(Vec::new());
    }
    Ok(list_alerts(state, actor, Some("open"), None)
        .await?
        .into_iter()
        .filter(|a| a.can_ack)
        .take(20)
        .collect())
}

/// Acknowledge an open alert with its disposition; it is closed and the change audited.
pub async fn ack_alert(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &AckInput,
) -> AppResult<Alert> {
    let a = get_alert(state, actor, id).await?;
    if !may_write(actor, a.org_id) {
        return Err(AppError::forbidden());
    }
    let disposition = DISPOSITIONS
        .iter()
        .map(|(k, _)| *k)
        .find(|k| *k == input.disposition.trim())
        .ok_or_else(|| ferr(ErrorCode::Validation, "disposition", "请选择处置结果"))?;
    let note = text("note", &input.note, 500, false)?;
    if disposition == "other" && note.is_empty() {
        return Err(ferr(
            ErrorCode::Validation,
            "note",
            "选择“其他”时请说明处置情况",
        ));
    }
    if a.status != "open" {
        return Err(AppError::msg(ErrorCode::Conflict, "该预警已处置"));
    }
    let mut tx = Tx::begin(state, actor).await?;
    if !queries::ack_alert(
        &mut tx,
        &state.keys,
        id,
        disposition,
        &note,
        &actor.username,
    )
    .await?
    {
        return Err(AppError::msg(ErrorCode::Conflict, "该预警已处置"));
    }
    tx.commit(
        Change::new("entrance_alert.ack", "entrance_alert", id, &a.region_code).detail(
            json!({"gate_id": a.gate_id,
                // The disposition code stays in the log (what was done about an alert, from a
                // fixed list); the free-text note is sealed in the row and not copied here.
                "status": {"before": "open", "after": "closed"},
                "disposition": {"before": null, "after": disposition}}),
        ),
    )
    .await?;
    get_alert(state, actor, id).await
}
