//! Corrections made visible (issue 14, item 6): every correction of a report keeps what it
//! replaced (values, author, time) in `report_corrections` (the values sealed, migration 0047), written in the submission's own
//! group-commit job, so the report page shows who corrected it, when, and the value before —
//! and the unit's own first submission stays readable after any number of corrections. A
//! correction by anyone other than the unit's own staff also notifies the unit (outbox).
//!
//! Who may correct whose report (docs/PERMISSIONS.md): whoever may report for the unit under
//! `units::resolve_unit` — the unit's own staff (a village's community workers, an
//! institution's reporters), and those above it with `reports.submit` whose scope holds the
//! unit (township staff, county officials) — until the level above locks the period. The
//! institution reporter of one institution never corrects another's. A correction by someone
//! above the unit is marked "上级更正" and the unit is told.

use backstop_core::region::Scope;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::form::Form;
use super::queries;
use super::units::Unit;
use crate::kernel::access::Scoped;
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// One correction of a report: what it replaced and what it wrote.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Correction {
    /// 1 for the first correction of the report.
    pub n: i64,
    pub corrected_by: String,
    /// UTC, RFC 3339.
    pub corrected_at: String,
    /// True when the unit's own staff corrected it; false when someone above it did.
    pub by_unit: bool,
    /// Who wrote the values it replaced, and when (for `n = 1`: the unit's own submission).
    pub before_by: String,
    pub before_at: String,
    #[schema(value_type = Object)]
    pub before: Map<String, Value>,
    #[schema(value_type = Object)]
    pub after: Map<String, Value>,
}

/// Is the actor the unit's own staff: a village's worker (scope = the village) for a village
/// unit, a user of the organisation for an organisation unit?
pub(super) fn by_own_unit(actor: &Actor, unit: &Unit) -> bool {
    own_unit_key(actor, &unit.key)
}

/// The same rule for a stored unit key (`org:ID` or a region code), for the fill-in page.
pub(super) fn own_unit_key(actor: &Actor, key: &str) -> bool {
    match key.strip_prefix("org:") {
        Some(org) => actor.org_id.is_some_and(|o| o.to_string() == org),
        None => matches!(&actor.scope, Scope::Region(c) if c.as_str() == key),
    }
}

/// What a correction writes besides the report: its record and, when someone other than the
/// unit corrected it, the unit's notification (both in the job's script).
pub(super) struct Recorded<'a> {
    pub form: &'a Form,
    pub unit: &'a Unit,
    pub report_id: i64,
    /// The number of this correction (the report's count before it, plus one).
    pub n: i64,
    pub before: &'a Map<String, Value>,
    pub before_by: &'a str,
    pub before_at: i64,
    pub after: &'a str,
    pub by: &'a str,
    pub by_unit: bool,
    pub period: &'a str,
    pub now: i64,
}

/// Add the correction's record (and the unit's notification, its text the template
/// `report_corrected` in force, read on the job's connection) to the job's script.
pub(super) async fn record(
    conn: &mut sqlx::AnyConnection,
    script: &mut backstop_store::Script,
    keys: &crate::kernel::crypto::KeyRing,
    r: &Recorded<'_>,
) -> AppResult<()> {
    queries::push_correction_record(script, keys, r);
    if r.by_unit {
        return Ok(());
    }
    let after: Map<String, Value> = serde_json::from_str(r.after).unwrap_or_default();
    let changed: Vec<String> = r
        .form
        .spec
        .fields
        .iter()
        .filter(|f| r.before.get(&f.key) != after.get(&f.key))
        .map(|f| f.label.clone())
        .collect();
    let changed = if changed.is_empty() {
        "无数值变化".to_string()
    } else {
        changed.join("、")
    };
    let fields = [
        ("form", r.form.name.clone()),
        ("period", r.period.to_string()),
        ("id", r.report_id.to_string()),
        ("by", r.by.to_string()),
        ("changed", changed),
    ];
    let text = crate::notify::templates::render(conn, "report_corrected", &fields).await?;
    queries::push_notification(
        script,
        r.unit.region.as_str(),
        &r.unit.key,
        "report_corrected",
        &text,
        r.now,
    );
    Ok(())
}

/// The corrections of a report already admitted under `scope`, oldest first.
pub(super) async fn history(
    state: &AppState,
    scope: &Scoped<'_>,
    report_id: i64,
    region_code: &str,
) -> AppResult<Vec<Correction>> {
    queries::corrections_of(state, scope, report_id, region_code).await
}
