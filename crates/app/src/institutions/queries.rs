//! Every SQL statement of institution monitoring, and the only place in the area that runs one.
//!
//! Reading functions take a [`Scoped`] handle: lists are limited to its code range in SQL, an
//! institution fetched by id is let through [`Scoped::admit`], and the records about people an
//! institution keeps (residents, rounds, entrance log) also through [`Scoped::admit_org`] (an
//! actor tied to an organisation reads only its own). Those records come out masked for the
//! actor (`people::shown`). Writing functions take the [`Tx`] that commits them with their
//! audit entry.

use backstop_core::clock::rfc3339;
use backstop_core::mask::mask_phone;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{EntryView, INSTITUTION_KINDS, Institution, Resident, Shortage, celsius};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{all, ranged, region_name, set_flag, text_or_empty};
use crate::orgs::OrgKind;
use crate::people::shown;
use crate::privacy;
use crate::state::AppState;

fn kinds_sql() -> String {
    INSTITUTION_KINDS
        .iter()
        .map(|k| format!("'{}'", k.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

const INST_COLS: &str = "o.id, o.name, o.kind, o.region_code, r.name AS region_name, \
    (SELECT c.start_date FROM inst_closures c WHERE c.org_id = o.id AND c.end_date IS NULL ORDER BY c.id DESC LIMIT 1) AS closed_since, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM inst_shortages s WHERE s.org_id = o.id AND s.status = 'open') AS open_shortages, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM inst_temps t WHERE t.org_id = o.id AND t.day = $1 AND t.fever = 1) AS fevers_today";

fn inst_from_row(r: &AnyRow) -> Result<Institution, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    let closed_since: Option<String> = r.try_get("closed_since")?;
    Ok(Institution {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind_label: OrgKind::parse(&kind)
            .map(|k| k.label_zh())
            .unwrap_or("")
            .to_string(),
        kind,
        region_code: r.try_get("region_code")?,
        region_name: region_name(r)?,
        closed: closed_since.is_some(),
        closed_since,
        open_shortages: r.try_get("open_shortages")?,
        fevers_today: r.try_get("fevers_today")?,
    })
}

/// Institutions under the handle, by region (at most 2,000); `today` counts today's fevers.
pub(super) async fn institutions(
    state: &AppState,
    scope: &Scoped<'_>,
    today: &str,
) -> AppResult<Vec<Institution>> {
    let (lo, hi) = scope.range();
    let sql = format!(
        "SELECT {INST_COLS} FROM orgs o LEFT JOIN regions r ON r.code = o.region_code \
         WHERE o.region_code >= $2 AND o.region_code < $3 AND o.kind IN ({}) \
         ORDER BY o.region_code, o.id LIMIT 2000",
        kinds_sql()
    );
    all(
        state,
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(today)
            .bind(lo)
            .bind(hi),
        inst_from_row,
    )
    .await
}

/// The institution `id` under the handle (not an institution, or outside: *not found*).
pub(super) async fn institution(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
    today: &str,
) -> AppResult<Institution> {
    let sql = format!(
        "SELECT {INST_COLS} FROM orgs o LEFT JOIN regions r ON r.code = o.region_code \
         WHERE o.id = $2 AND o.kind IN ({})",
        kinds_sql()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(today)
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let inst = inst_from_row(&row)?;
    scope.admit(&inst.region_code.clone(), inst)
}

/// Let an institution's own records through the handle: its region, and — for records about
/// people — its organisation.
fn admit(scope: &Scoped<'_>, org: &Institution, people: bool) -> AppResult<()> {
    scope.admit(&org.region_code, ())?;
    if people {
        scope.admit_org(org.id, ())?;
    }
    Ok(())
}

// ------------------------------------------------------------------------- closed management

/// The closed-management history, newest first.
pub(super) async fn closures(
    state: &AppState,
    scope: &Scoped<'_>,
    org: &Institution,
) -> AppResult<Vec<super::Closure>> {
    admit(scope, org, false)?;
    let rows = sqlx::query(
        "SELECT id, start_date, end_date, note, started_by, ended_by FROM inst_closures \
         WHERE org_id = $1 ORDER BY id DESC",
    )
    .bind(org.id)
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        out.push(super::Closure {
            id: r.try_get("id")?,
            start_date: r.try_get("start_date")?,
            end_date: r.try_get("end_date")?,
            note: r.try_get("note")?,
            started_by: r.try_get("started_by")?,
            ended_by: r.try_get("ended_by")?,
        });
    }
    Ok(out)
}

/// The period in force (id, start date), if any.
pub(super) async fn closure_in_force(tx: &mut Tx, org_id: i64) -> AppResult<Option<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, start_date FROM inst_closures WHERE org_id = $1 AND end_date IS NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(org_id)
    .fetch_optional(tx.conn())
    .await?)
}

pub(super) async fn start_closure(
    tx: &mut Tx,
    org: &Institution,
    date: &str,
    note: &str,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO inst_closures (org_id, region_code, start_date, end_date, note, started_by, ended_by, created_at, updated_at) \
         VALUES ($1, $2, $3, NULL, $4, $5, NULL, $6, $6) RETURNING id",
    )
    .bind(org.id)
    .bind(&org.region_code)
    .bind(date)
    .bind(note)
    .bind(by)
    .bind(now);
    tx.insert(q).await
}

pub(super) async fn end_closure(tx: &mut Tx, id: i64, date: &str, by: &str) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "UPDATE inst_closures SET end_date = $1, ended_by = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(date)
        .bind(by)
        .bind(now)
        .bind(id),
    )
    .await
}

// ------------------------------------------------------------------------------ entrance log

/// A new entrance row.
pub(super) struct NewEntry<'a> {
    pub name: &'a str,
    pub phone_enc: Vec<u8>,
    /// Sealed reason and temperature (`privacy`).
    pub reason_enc: Vec<u8>,
    pub temp_enc: Vec<u8>,
    pub fever: bool,
    pub day: &'a str,
    pub by: &'a str,
}

pub(super) async fn insert_entry(
    tx: &mut Tx,
    org: &Institution,
    e: &NewEntry<'_>,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO inst_entries (org_id, region_code, person_name, phone_enc, reason, reason_enc, \
         temp_tenths, temp_tenths_enc, fever, entered_at, day, recorded_by) \
         VALUES ($1, $2, $3, $4, '', $5, 0, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(org.id)
    .bind(&org.region_code)
    .bind(e.name)
    .bind(e.phone_enc.clone())
    .bind(e.reason_enc.clone())
    .bind(e.temp_enc.clone())
    .bind(i64::from(e.fever))
    .bind(now)
    .bind(e.day)
    .bind(e.by);
    tx.insert(q).await
}

/// Entrances of one day, newest first (at most 1,000), persons masked.
pub(super) async fn entries(
    state: &AppState,
    scope: &Scoped<'_>,
    org: &Institution,
    day: &str,
) -> AppResult<Vec<EntryView>> {
    admit(scope, org, true)?;
    let q = sqlx::query(
        "SELECT id, person_name, phone_enc, reason, reason_enc, temp_tenths, temp_tenths_enc, fever, \
         entered_at, day, recorded_by \
         FROM inst_entries WHERE org_id = $1 AND day = $2 ORDER BY id DESC LIMIT 1000",
    )
    .bind(org.id)
    .bind(day);
    all(state, q, |r| {
        let name: String = r.try_get("person_name")?;
        let enc: Option<Vec<u8>> = r.try_get("phone_enc")?;
        let phone = enc
            .and_then(|e| state.keys.decrypt(&e))
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let temp = privacy::int(&state.keys, r, "temp_tenths")?;
        Ok(EntryView {
            id: r.try_get("id")?,
            name_masked: shown::name_in_list(&name),
            phone_masked: mask_phone(&phone),
            reason: privacy::text(&state.keys, r, "reason")?,
            temperature: celsius(temp),
            fever: r.try_get::<i64, _>("fever")? != 0,
            entered_at: rfc3339(r.try_get("entered_at")?),
            day: r.try_get("day")?,
            recorded_by: r.try_get("recorded_by")?,
        })
    })
    .await
}

// ----------------------------------------------------------------- residents and their rounds

/// Active residents, by room; names (sealed at rest) as the actor may see them.
pub(super) async fn residents(
    state: &AppState,
    scope: &Scoped<'_>,
    org: &Institution,
) -> AppResult<Vec<Resident>> {
    admit(scope, org, true)?;
    let q = sqlx::query(
        "SELECT id, name, name_enc, room FROM inst_residents WHERE org_id = $1 AND active = 1 \
         ORDER BY room, id",
    )
    .bind(org.id);
    all(state, q, |r| {
        let name = privacy::text(&state.keys, r, "name")?;
        Ok(Resident {
            id: r.try_get("id")?,
            name: shown::name_for_org(scope.actor(), org.id, &name),
            room: r.try_get("room")?,
        })
    })
    .await
}

/// Ids of the active residents.
pub(super) async fn resident_ids(
    state: &AppState,
    scope: &Scoped<'_>,
    org: &Institution,
) -> AppResult<Vec<i64>> {
    admit(scope, org, true)?;
    Ok(
        sqlx::query_scalar("SELECT id FROM inst_residents WHERE org_id = $1 AND active = 1")
            .bind(org.id)
            .fetch_all(state.db.pool())
            .await?,
    )
}

/// One resident of the institution with its name in clear (for the service's checks and
/// its masked audit entry only) and whether it is active; *not found* when not the
/// institution's or not readable.
pub(super) async fn resident_row(
    state: &AppState,
    scope: &Scoped<'_>,
    org: &Institution,
    rid: i64,
) -> AppResult<(String, String, bool)> {
    admit(scope, org, true)?;
    let r = sqlx::query(
        "SELECT id, name, name_enc, room, active FROM inst_residents WHERE id = $1 AND org_id = $2",
    )
    .bind(rid)
    .bind(org.id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(AppError::not_found)?;
    let name = privacy::text(&state.keys, &r, "name")?;
    Ok((
        name,
        r.try_get("room")?,
        r.try_get::<i64, _>("active")? != 0,
    ))
}

/// Every resident, active first, by room; with whether each is active.
pub(super) async fn all_residents(
    state: &AppState,
    scope: &Scoped<'_>,
    org: &Institution,
) -> AppResult<Vec<(Resident, bool)>> {
    admit(scope, org, true)?;
    let rows = sqlx::query(
        "SELECT id, name, name_enc, room, active FROM inst_residents WHERE org_id = $1 \
         ORDER BY active DESC, room, id LIMIT 2000",
    )
    .bind(org.id)
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let name = privacy::text(&state.keys, &r, "name")?;
        out.push((
            Resident {
                id: r.try_get("id")?,
                name: shown::name_for_org(scope.actor(), org.id, &name),
                room: r.try_get("room")?,
            },
            r.try_get::<i64, _>("active")? != 0,
        ));
    }
    Ok(out)
}

/// A resident's new name (sealed) and room.
pub(super) async fn update_resident(
    tx: &mut Tx,
    keys: &KeyRing,
    rid: i64,
    name: &str,
    room: &str,
) -> AppResult<()> {
    tx.exec(
        sqlx::query("UPDATE inst_residents SET name = '', name_enc = $1, room = $2 WHERE id = $3")
            .bind(privacy::seal(keys, name))
            .bind(room)
            .bind(rid),
    )
    .await
}

/// A resident active again, or not (退住/停用).
pub(super) async fn set_resident_active(tx: &mut Tx, rid: i64, active: bool) -> AppResult<()> {
    set_flag(tx, "inst_residents", "active", rid, active).await
}

/// Insert a resident, the name sealed (residents of a children's home are children).
pub(super) async fn insert_resident(
    tx: &mut Tx,
    keys: &KeyRing,
    org_id: i64,
    name: &str,
    room: &str,
) -> AppResult<i64> {
    let now = tx.now();
    tx.insert(
        sqlx::query(
            "INSERT INTO inst_residents (org_id, name, name_enc, room, active, created_at) \
         VALUES ($1, '', $2, $3, 1, $4) RETURNING id",
        )
        .bind(org_id)
        .bind(privacy::seal(keys, name))
        .bind(room)
        .bind(now),
    )
    .await
}

/// The readings of a day: (resident id, round, tenths, fever).
pub(super) async fn temps_of_day(
    state: &AppState,
    scope: &Scoped<'_>,
    org: &Institution,
    day: &str,
) -> AppResult<Vec<(i64, String, i64, i64)>> {
    admit(scope, org, true)?;
    let rows = sqlx::query(
        "SELECT resident_id, round, temp_tenths, temp_tenths_enc, fever FROM inst_temps \
         WHERE org_id = $1 AND day = $2",
    )
    .bind(org.id)
    .bind(day)
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((
            r.try_get("resident_id")?,
            r.try_get("round")?,
            privacy::int(&state.keys, &r, "temp_tenths")?,
            r.try_get("fever")?,
        ));
    }
    Ok(out)
}

/// The readings of one round before it is recorded again: (resident id, tenths).
pub(super) async fn round_before(
    tx: &mut Tx,
    keys: &KeyRing,
    org_id: i64,
    day: &str,
    round: &str,
) -> AppResult<Vec<(i64, i64)>> {
    let rows = sqlx::query(
        "SELECT resident_id, temp_tenths, temp_tenths_enc FROM inst_temps \
         WHERE org_id = $1 AND day = $2 AND round = $3",
    )
    .bind(org_id)
    .bind(day)
    .bind(round)
    .fetch_all(tx.conn())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((
            r.try_get("resident_id")?,
            privacy::int(keys, &r, "temp_tenths")?,
        ));
    }
    Ok(out)
}

/// One reading of a round.
pub(super) struct NewReading<'a> {
    pub resident_id: i64,
    pub day: &'a str,
    pub round: &'a str,
    /// The sealed temperature (`privacy`).
    pub tenths_enc: Vec<u8>,
    pub fever: bool,
    pub by: &'a str,
}

pub(super) async fn upsert_reading(tx: &mut Tx, org_id: i64, r: &NewReading<'_>) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO inst_temps (resident_id, org_id, day, round, temp_tenths, temp_tenths_enc, \
         fever, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8) \
         ON CONFLICT (resident_id, day, round) DO UPDATE SET temp_tenths = 0, \
         temp_tenths_enc = excluded.temp_tenths_enc, fever = excluded.fever, recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
    )
    .bind(r.resident_id)
    .bind(org_id)
    .bind(r.day)
    .bind(r.round)
    .bind(r.tenths_enc.clone())
    .bind(i64::from(r.fever))
    .bind(r.by)
    .bind(now);
    tx.exec(q).await
}

// ----------------------------------------------------------------------------------- supplies

/// The stock: (item, quantity, days left, updated by, updated at).
pub(super) async fn supplies(
    state: &AppState,
    scope: &Scoped<'_>,
    org: &Institution,
) -> AppResult<Vec<(String, i64, i64, String, i64)>> {
    admit(scope, org, false)?;
    Ok(sqlx::query_as(
        "SELECT item, quantity, days_left, updated_by, updated_at FROM inst_supplies WHERE org_id = $1",
    )
    .bind(org.id)
    .fetch_all(state.db.pool())
    .await?)
}

/// The stock before it is set: (item, quantity, days left).
pub(super) async fn stock_before(tx: &mut Tx, org_id: i64) -> AppResult<Vec<(String, i64, i64)>> {
    Ok(
        sqlx::query_as("SELECT item, quantity, days_left FROM inst_supplies WHERE org_id = $1")
            .bind(org_id)
            .fetch_all(tx.conn())
            .await?,
    )
}

pub(super) async fn upsert_stock(
    tx: &mut Tx,
    org_id: i64,
    item: &str,
    quantity: i64,
    days_left: i64,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO inst_supplies (org_id, item, quantity, days_left, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (org_id, item) DO UPDATE SET quantity = excluded.quantity, days_left = excluded.days_left, \
         updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    )
    .bind(org_id)
    .bind(item)
    .bind(quantity)
    .bind(days_left)
    .bind(by)
    .bind(now);
    tx.exec(q).await
}

// --------------------------------------------------------------------------------- shortages

const SH_COLS: &str = "s.id, s.org_id, o.name AS org_name, s.region_code, s.item, s.quantity, s.note, s.status, \
    s.answer, s.answered_by, s.answered_at, s.created_by, s.created_at";

fn shortage_from_row(r: &AnyRow) -> Result<Shortage, sqlx::Error> {
    let item: String = r.try_get("item")?;
    let it = super::Item::parse(&item);
    Ok(Shortage {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        org_name: text_or_empty(r, "org_name")?,
        region_code: r.try_get("region_code")?,
        item_label: it.map(|i| i.label_zh()).unwrap_or("").to_string(),
        unit: it.map(|i| i.unit_zh()).unwrap_or("").to_string(),
        item,
        quantity: r.try_get("quantity")?,
        note: r.try_get("note")?,
        status: r.try_get("status")?,
        answer: r.try_get("answer")?,
        answered_by: r.try_get("answered_by")?,
        answered_at: r.try_get::<Option<i64>, _>("answered_at")?.map(rfc3339),
        created_by: r.try_get("created_by")?,
        created_at: rfc3339(r.try_get("created_at")?),
    })
}

/// Shortage requests under the handle, newest first (at most 1,000); optionally one status
/// or institution.
pub(super) async fn shortages(
    state: &AppState,
    scope: &Scoped<'_>,
    status: Option<&str>,
    org_id: Option<i64>,
) -> AppResult<Vec<Shortage>> {
    let sql = format!(
        "SELECT {SH_COLS} FROM inst_shortages s LEFT JOIN orgs o ON o.id = s.org_id \
         WHERE s.region_code >= $1 AND s.region_code < $2 AND ($3 = '' OR s.status = $3) \
         AND ($4 = 0 OR s.org_id = $4) ORDER BY s.id DESC LIMIT 1000"
    );
    all(
        state,
        ranged(scope, sql)
            .bind(status.unwrap_or("").to_string())
            .bind(org_id.unwrap_or(0)),
        shortage_from_row,
    )
    .await
}

/// One shortage request under the handle.
pub(super) async fn shortage(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Shortage> {
    let sql = format!(
        "SELECT {SH_COLS} FROM inst_shortages s LEFT JOIN orgs o ON o.id = s.org_id WHERE s.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let s = shortage_from_row(&row)?;
    scope.admit(&s.region_code.clone(), s)
}

/// A new shortage request.
pub(super) struct NewShortage<'a> {
    pub item: &'a str,
    pub quantity: i64,
    pub note: &'a str,
    pub by: &'a str,
}

pub(super) async fn insert_shortage(
    tx: &mut Tx,
    org: &Institution,
    n: &NewShortage<'_>,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO inst_shortages (org_id, region_code, item, quantity, note, status, answer, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'open', '', $6, $7, $7) RETURNING id",
    )
    .bind(org.id)
    .bind(&org.region_code)
    .bind(n.item)
    .bind(n.quantity)
    .bind(n.note)
    .bind(n.by)
    .bind(now);
    tx.insert(q).await
}

pub(super) async fn answer_shortage(tx: &mut Tx, id: i64, answer: &str, by: &str) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "UPDATE inst_shortages SET status = 'answered', answer = $1, answered_by = $2, answered_at = $3, updated_at = $3 WHERE id = $4",
    )
    .bind(answer)
    .bind(by)
    .bind(now)
    .bind(id);
    tx.exec(q).await
}

pub(super) async fn close_shortage(tx: &mut Tx, id: i64) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query("UPDATE inst_shortages SET status = 'closed', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id),
    )
    .await
}

// ------------------------------------------------------------------------- health events

/// A new health event (the status sealed by the service).
pub(super) struct HealthEventRow<'a> {
    pub org_id: i64,
    pub org_region: &'a str,
    pub person_id: i64,
    pub region_code: &'a str,
    pub day: &'a str,
    pub status_enc: Vec<u8>,
    pub by: &'a str,
}

pub(super) async fn insert_health_event(tx: &mut Tx, e: &HealthEventRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO health_events (province, org_id, org_region, person_id, region_code, day, \
         status_enc, leads, recorded_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9) RETURNING id",
    )
    .bind(crate::hotline::province_of(e.org_region))
    .bind(e.org_id)
    .bind(e.org_region.to_string())
    .bind(e.person_id)
    .bind(e.region_code.to_string())
    .bind(e.day.to_string())
    .bind(e.status_enc.clone())
    .bind(e.by.to_string())
    .bind(now);
    tx.insert(q).await
}

/// How many child leads the event opened.
pub(super) async fn set_health_event_leads(tx: &mut Tx, id: i64, leads: i64) -> AppResult<()> {
    let q = sqlx::query("UPDATE health_events SET leads = $1 WHERE id = $2")
        .bind(leads)
        .bind(id);
    tx.exec(q).await
}

/// The health events of organisation `org_id` under the handle (the organisation's region in
/// the handle's range), newest first (at most 500); the status opened, the name masked.
pub(super) async fn health_events(
    state: &AppState,
    scope: &Scoped<'_>,
    org_id: i64,
) -> AppResult<Vec<super::HealthEvent>> {
    let sql = "SELECT e.id, e.org_id, e.person_id, e.region_code, e.day, e.status_enc, e.leads, \
        e.recorded_by, e.created_at, COALESCE(p.name, '') AS person_name \
        FROM health_events e LEFT JOIN persons p ON p.id = e.person_id \
        WHERE e.org_region >= $1 AND e.org_region < $2 AND e.org_id = $3 \
        ORDER BY e.id DESC LIMIT 500";
    all(state, ranged(scope, sql.to_string()).bind(org_id), |r| {
        let status = privacy::text(&state.keys, r, "status")?;
        let name: String = r.try_get("person_name")?;
        Ok(super::HealthEvent {
            id: r.try_get("id")?,
            org_id: r.try_get("org_id")?,
            person_id: r.try_get("person_id")?,
            person_name: shown::name_in_list(&name),
            region_code: r.try_get("region_code")?,
            day: r.try_get("day")?,
            status_label: super::health::status_label(&status).to_string(),
            status,
            leads: r.try_get("leads")?,
            recorded_by: r.try_get("recorded_by")?,
            created_at: rfc3339(r.try_get("created_at")?),
        })
    })
    .await
}
