//! Every SQL statement of the entrance checks, and the only place in the area that runs one.
//!
//! Reading functions take a [`Scoped`] handle: lists are limited to its code range in SQL, and
//! a gate or alert fetched by id is let through [`Scoped::admit`] (outside: *not found*); the
//! records of people at an institution's gate also through [`Scoped::admit_org`] (an actor
//! tied to an organisation reads only its own).
//! Entries and alerts come out with their persons masked (`people::shown`). Writing functions
//! take the [`Tx`] that commits them with their audit entries.

use backstop_core::clock::{format_beijing, from_millis, rfc3339};
use backstop_core::region::{RegionCode, RegionLevel};
use backstop_core::role::{Role, RoleSet};
use backstop_core::temperature::celsius;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::entries::CheckedEntry;
use super::{Alert, DIRECTIONS, DISPOSITIONS, EntryView, Gate, label_of, may_write};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{all, ranged, region_name, set_flag, text_or_empty};
use crate::people::shown;
use crate::privacy;
use crate::state::AppState;

// -------------------------------------------------------------------------------------- gates

const GATE_COLS: &str = "g.id, g.name, g.region_code, g.org_id, g.disabled, r.name AS region_name, o.name AS org_name, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM gate_entries e WHERE e.gate_id = g.id AND e.day = $1) AS today_entries, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM gate_entries e WHERE e.gate_id = g.id AND e.day = $1 AND e.fever = 1) AS today_fevers, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM gate_alerts a WHERE a.gate_id = g.id AND a.status = 'open') AS open_alerts";

const GATE_FROM: &str = "FROM gates g LEFT JOIN regions r ON r.code = g.region_code LEFT JOIN orgs o ON o.id = g.org_id";

fn gate_from_row(scope: &Scoped<'_>, r: &AnyRow) -> Result<Gate, sqlx::Error> {
    let org_id: Option<i64> = r.try_get("org_id")?;
    Ok(Gate {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: if org_id.is_some() {
            "institution"
        } else {
            "community"
        }
        .to_string(),
        kind_label: if org_id.is_some() {
            "机构卡口"
        } else {
            "村（社区）卡口"
        }
        .to_string(),
        region_code: r.try_get("region_code")?,
        region_name: region_name(r)?,
        org_id,
        org_name: text_or_empty(r, "org_name")?,
        today_entries: r.try_get("today_entries")?,
        today_fevers: r.try_get("today_fevers")?,
        open_alerts: r.try_get("open_alerts")?,
        can_write: may_write(scope.actor(), org_id),
        disabled: r.try_get::<i64, _>("disabled")? != 0,
    })
}

/// The gate `id` under the handle, with the counts of `today`.
pub(super) async fn gate(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
    today: &str,
) -> AppResult<Gate> {
    let sql = format!("SELECT {GATE_COLS} {GATE_FROM} WHERE g.id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(today)
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let gate = gate_from_row(scope, &row)?;
    scope.admit(&gate.region_code.clone(), gate)
}

/// Gates under the handle, by region then name (at most 2,000), with the counts of `today`.
pub(super) async fn gates(
    state: &AppState,
    scope: &Scoped<'_>,
    today: &str,
) -> AppResult<Vec<Gate>> {
    let (lo, hi) = scope.range();
    let sql = format!(
        "SELECT {GATE_COLS} {GATE_FROM} WHERE g.region_code >= $2 AND g.region_code < $3 \
         ORDER BY g.region_code, g.org_id, g.name, g.id LIMIT 2000"
    );
    all(
        state,
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(today)
            .bind(lo)
            .bind(hi),
        |r| gate_from_row(scope, r),
    )
    .await
}

/// Is there a gate of this name at this place already?
pub(super) async fn gate_named(
    tx: &mut Tx,
    region_code: &str,
    org_id: Option<i64>,
    name: &str,
) -> AppResult<bool> {
    let dup: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM gates WHERE region_code = $1 AND COALESCE(org_id, 0) = $2 AND name = $3",
    )
    .bind(region_code)
    .bind(org_id.unwrap_or(0))
    .bind(name)
    .fetch_optional(tx.conn())
    .await?;
    Ok(dup.is_some())
}

/// A gate's new name.
pub(super) async fn rename_gate(tx: &mut Tx, id: i64, name: &str) -> AppResult<()> {
    tx.exec(
        sqlx::query("UPDATE gates SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id),
    )
    .await
}

/// Disable or enable a gate.
pub(super) async fn set_gate_disabled(tx: &mut Tx, id: i64, disabled: bool) -> AppResult<()> {
    set_flag(tx, "gates", "disabled", id, disabled).await
}

pub(super) async fn insert_gate(
    tx: &mut Tx,
    region_code: &str,
    org_id: Option<i64>,
    name: &str,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    tx.insert(
        sqlx::query(
            "INSERT INTO gates (region_code, org_id, name, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(region_code)
        .bind(org_id)
        .bind(name)
        .bind(by)
        .bind(now),
    )
    .await
}

// ------------------------------------------------------------------------------------ entries

/// Let a gate's records of people (entries, alerts) through the handle: its region, and for an
/// institution's gate, that organisation for anyone tied to one.
fn admit_records(scope: &Scoped<'_>, gate: &Gate) -> AppResult<()> {
    scope.admit(&gate.region_code, ())?;
    if let Some(o) = gate.org_id {
        scope.admit_org(o, ())?;
    }
    Ok(())
}

/// A new entry row: the checked entry, its sealed phone, the fever flag and the link.
pub(super) struct NewEntry<'a> {
    pub c: &'a CheckedEntry,
    pub phone_enc: Option<Vec<u8>>,
    pub phone_index: Option<String>,
    pub phone_masked: &'a str,
    /// Sealed origin, reason and temperature (`privacy`).
    pub origin_enc: Vec<u8>,
    pub reason_enc: Vec<u8>,
    pub temp_enc: &'a [u8],
    pub fever: bool,
    pub person_id: Option<i64>,
    pub day: &'a str,
    pub by: &'a str,
}

pub(super) async fn insert_entry(tx: &mut Tx, gate: &Gate, e: &NewEntry<'_>) -> AppResult<i64> {
    let now = tx.now();
    tx.insert(
        sqlx::query(
            "INSERT INTO gate_entries (gate_id, region_code, person_name, phone_enc, phone_index, \
         phone_masked, origin, reason, direction, temp_tenths, fever, person_id, entered_at, day, \
         recorded_by, origin_enc, reason_enc, temp_tenths_enc) \
         VALUES ($1, $2, $3, $4, $5, $6, '', '', $7, 0, $8, $9, $10, $11, $12, $13, $14, $15) \
         RETURNING id",
        )
        .bind(gate.id)
        .bind(&gate.region_code)
        .bind(&e.c.name)
        .bind(e.phone_enc.clone())
        .bind(e.phone_index.clone())
        .bind(e.phone_masked)
        .bind(e.c.direction)
        .bind(i64::from(e.fever))
        .bind(e.person_id)
        .bind(now)
        .bind(e.day)
        .bind(e.by)
        .bind(e.origin_enc.clone())
        .bind(e.reason_enc.clone())
        .bind(e.temp_enc.to_vec()),
    )
    .await
}

fn entry_from_row(keys: &KeyRing, r: &AnyRow) -> Result<EntryView, sqlx::Error> {
    let direction: String = r.try_get("direction")?;
    let temp = privacy::int(keys, r, "temp_tenths")?;
    Ok(EntryView {
        id: r.try_get("id")?,
        gate_id: r.try_get("gate_id")?,
        name_masked: shown::name_in_list(&r.try_get::<String, _>("person_name")?),
        phone_masked: r.try_get("phone_masked")?,
        from: privacy::text(keys, r, "origin")?,
        reason: privacy::text(keys, r, "reason")?,
        direction_label: label_of(&DIRECTIONS, &direction).to_string(),
        direction,
        temperature: celsius(temp),
        fever: r.try_get::<i64, _>("fever")? != 0,
        person_id: r.try_get("person_id")?,
        alert_id: r.try_get("alert_id")?,
        entered_at: rfc3339(r.try_get("entered_at")?),
        day: r.try_get("day")?,
        recorded_by: r.try_get("recorded_by")?,
    })
}

/// A gate's entries of one day, newest first (at most 2,000), persons masked.
pub(super) async fn entries(
    state: &AppState,
    scope: &Scoped<'_>,
    gate: &Gate,
    day: &str,
) -> AppResult<Vec<EntryView>> {
    admit_records(scope, gate)?;
    let q = sqlx::query(
        "SELECT e.id, e.gate_id, e.person_name, e.phone_masked, e.origin, e.origin_enc, e.reason, \
         e.reason_enc, e.direction, e.temp_tenths, e.temp_tenths_enc, e.fever, e.person_id, a.id AS alert_id, e.entered_at, e.day, e.recorded_by \
         FROM gate_entries e LEFT JOIN gate_alerts a ON a.entry_id = e.id \
         WHERE e.gate_id = $1 AND e.day = $2 ORDER BY e.id DESC LIMIT 2000",
    )
    .bind(gate.id)
    .bind(day);
    all(state, q, |r| entry_from_row(&state.keys, r)).await
}

/// The day's counts of a gate: (entries, of them in, fevers).
pub(super) async fn day_counts(
    state: &AppState,
    scope: &Scoped<'_>,
    gate: &Gate,
    day: &str,
) -> AppResult<(i64, i64, i64)> {
    admit_records(scope, gate)?;
    Ok(sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN direction = 'in' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(fever), 0) AS BIGINT) FROM gate_entries WHERE gate_id = $1 AND day = $2",
    )
    .bind(gate.id)
    .bind(day)
    .fetch_one(state.db.pool())
    .await?)
}

// ------------------------------------------------------------------------------------- alerts

/// Who a fever is addressed to — at a gate, in an institution's (`org`) or a village's, and at a
/// home observation's check-in: `(region_code, unit)` of each notification row.
pub(crate) async fn recipients(
    tx: &mut Tx,
    region: &str,
    org: Option<i64>,
) -> AppResult<Vec<(String, String)>> {
    if let Some(org) = org {
        // The institution's users, as a group (the unit the notification list matches).
        return Ok(vec![(region.to_string(), format!("org:{org}"))]);
    }
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, roles FROM users WHERE scope = $1 AND disabled = 0 ORDER BY id")
            .bind(region)
            .fetch_all(tx.conn())
            .await?;
    let workers: Vec<(String, String)> = rows
        .into_iter()
        .filter(|(_, roles)| {
            RoleSet::parse_list(roles).is_ok_and(|r| r.has_role(Role::CommunityWorker))
        })
        .map(|(id, _)| (region.to_string(), format!("user:{id}")))
        .collect();
    if !workers.is_empty() {
        return Ok(workers);
    }
    // No community worker on record: the township must not miss it.
    let township = RegionCode::parse(region)
        .ok()
        .and_then(|c| c.prefix_at(RegionLevel::Township))
        .map(|c| c.to_string())
        .unwrap_or_else(|| region.to_string());
    Ok(vec![(township.clone(), township)])
}

pub(super) async fn insert_alert(
    tx: &mut Tx,
    gate: &Gate,
    entry_id: i64,
    temp_enc: &[u8],
    notified: i64,
) -> AppResult<i64> {
    let now = tx.now();
    tx.insert(
        sqlx::query(
            "INSERT INTO gate_alerts (entry_id, gate_id, region_code, org_id, temp_tenths, \
         temp_tenths_enc, status, disposition, note, notified, acked_by, acked_at, created_at) \
         VALUES ($1, $2, $3, $4, 0, $5, 'open', NULL, '', $6, NULL, NULL, $7) RETURNING id",
        )
        .bind(entry_id)
        .bind(gate.id)
        .bind(&gate.region_code)
        .bind(gate.org_id)
        .bind(temp_enc.to_vec())
        .bind(notified)
        .bind(now),
    )
    .await
}

const ALERT_SQL: &str = "SELECT a.id, a.gate_id, g.name AS gate_name, a.entry_id, a.region_code, a.org_id, \
    a.temp_tenths, a.temp_tenths_enc, a.status, a.disposition, a.disposition_enc, a.note, a.note_enc, \
    a.notified, a.acked_by, a.acked_at, a.created_at, e.person_name, e.phone_masked, e.origin, e.origin_enc \
    FROM gate_alerts a JOIN gates g ON g.id = a.gate_id JOIN gate_entries e ON e.id = a.entry_id";

fn alert_from_row(keys: &KeyRing, scope: &Scoped<'_>, r: &AnyRow) -> Result<Alert, sqlx::Error> {
    let org_id: Option<i64> = r.try_get("org_id")?;
    let status: String = r.try_get("status")?;
    let disposition = privacy::opt_text(keys, r, "disposition")?;
    let created_at: i64 = r.try_get("created_at")?;
    Ok(Alert {
        id: r.try_get("id")?,
        gate_id: r.try_get("gate_id")?,
        gate_name: r.try_get("gate_name")?,
        entry_id: r.try_get("entry_id")?,
        region_code: r.try_get("region_code")?,
        org_id,
        name_masked: shown::name_in_list(&r.try_get::<String, _>("person_name")?),
        phone_masked: r.try_get("phone_masked")?,
        from: privacy::text(keys, r, "origin")?,
        temperature: celsius(privacy::int(keys, r, "temp_tenths")?),
        can_ack: status == "open" && may_write(scope.actor(), org_id),
        status,
        disposition_label: disposition
            .as_deref()
            .map(|d| label_of(&DISPOSITIONS, d))
            .unwrap_or("")
            .to_string(),
        disposition,
        note: privacy::text(keys, r, "note")?,
        notified: r.try_get("notified")?,
        acked_by: r.try_get("acked_by")?,
        acked_at: r.try_get::<Option<i64>, _>("acked_at")?.map(rfc3339),
        created_at: rfc3339(created_at),
        shown_at: format_beijing(from_millis(created_at)),
    })
}

/// One alert under the handle.
pub(super) async fn alert(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Alert> {
    let sql = format!("{ALERT_SQL} WHERE a.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let a = alert_from_row(&state.keys, scope, &row)?;
    if let Some(o) = a.org_id {
        scope.admit_org(o, ())?;
    }
    scope.admit(&a.region_code.clone(), a)
}

/// Alerts under the handle, newest first (at most 500); optionally one status or gate. An
/// actor tied to an organisation sees community gates' alerts and its own institution's.
pub(super) async fn alerts(
    state: &AppState,
    scope: &Scoped<'_>,
    status: Option<&str>,
    gate_id: Option<i64>,
) -> AppResult<Vec<Alert>> {
    let sql = format!(
        "{ALERT_SQL} WHERE a.region_code >= $1 AND a.region_code < $2 \
         AND ($3 = '' OR a.status = $3) AND ($4 = 0 OR a.gate_id = $4) \
         AND ($5 = 0 OR a.org_id IS NULL OR a.org_id = $5) ORDER BY a.id DESC LIMIT 500"
    );
    all(
        state,
        ranged(scope, sql)
            .bind(status.unwrap_or("").to_string())
            .bind(gate_id.unwrap_or(0))
            .bind(scope.org().unwrap_or(0)),
        |r| alert_from_row(&state.keys, scope, r),
    )
    .await
}

/// Close an open alert with its disposition; `false` when it was no longer open.
pub(super) async fn ack_alert(
    tx: &mut Tx,
    keys: &KeyRing,
    id: i64,
    disposition: &str,
    note: &str,
    by: &str,
) -> AppResult<bool> {
    let now = tx.now();
    let changed = sqlx::query(
        "UPDATE gate_alerts SET status = 'closed', disposition = NULL, disposition_enc = $1, \
         note = '', note_enc = $2, acked_by = $3, acked_at = $4 WHERE id = $5 AND status = 'open'",
    )
    .bind(privacy::seal(keys, disposition))
    .bind(privacy::seal(keys, note))
    .bind(by)
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(changed > 0)
}
