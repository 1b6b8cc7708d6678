//! Every SQL statement of bookings, and the only place in the area that runs one: the
//! organisations and their setup and emergency settings here, bookings and the capacity
//! counters in [`book`], the rebooking queue in [`rebook`].
//!
//! Reading functions of staff take a [`Scoped`] handle (lists limited to its range, rows by id
//! let through `admit` / `admit_org`); what the public pages read (an organisation's name,
//! services and notices) is public by nature. Writing functions take the open [`Tx`].

mod book;
mod funeral;
mod rebook;
mod register;
mod stats;

pub(super) use book::*;
pub(super) use funeral::*;
pub(super) use rebook::*;
pub(super) use register::*;
pub(super) use stats::*;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::emergency::Emergency;
use super::{OrgInfo, Resource, Service, SpecialDate};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::AppResult;
use crate::kernel::queries::{admitted, all, ranged};
use crate::state::AppState;
use backstop_core::clock::rfc3339;

const KINDS: &str = "('marriage_registry', 'funeral_home')";

fn org_from_row(r: &AnyRow) -> Result<OrgInfo, sqlx::Error> {
    Ok(OrgInfo {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        region_code: r.try_get("region_code")?,
    })
}

/// One organisation under the handle (and, for an actor tied to one, that one).
pub(in crate::bookings) async fn org(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<OrgInfo> {
    let o = admitted(
        state,
        scope,
        "SELECT id, name, kind, region_code FROM orgs WHERE id = $1",
        id,
        org_from_row,
        |o| &o.region_code,
    )
    .await?;
    scope.admit_org(o.id, o)
}

/// The marriage registries and funeral homes under the handle.
pub(in crate::bookings) async fn orgs(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<OrgInfo>> {
    let sql = format!(
        "SELECT id, name, kind, region_code FROM orgs WHERE region_code >= $1 AND region_code < $2 \
         AND kind IN {KINDS} AND disabled = 0 ORDER BY region_code, name, id LIMIT 500"
    );
    let list = all(state, ranged(scope, sql), org_from_row).await?;
    Ok(match scope.org() {
        Some(mine) => list.into_iter().filter(|o| o.id == mine).collect(),
        None => list,
    })
}

/// An organisation the public may book with (enabled, of a bookable kind).
pub(in crate::bookings) async fn org_public(
    state: &AppState,
    id: i64,
) -> AppResult<Option<OrgInfo>> {
    let sql = format!(
        "SELECT id, name, kind, region_code FROM orgs WHERE id = $1 AND kind IN {KINDS} AND disabled = 0"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(row.as_ref().map(org_from_row).transpose()?)
}

/// The bookable organisations of a region (for the public list), at most 200.
pub(in crate::bookings) async fn orgs_public(
    state: &AppState,
    lo: &str,
    hi: &str,
) -> AppResult<Vec<OrgInfo>> {
    let sql = format!(
        "SELECT id, name, kind, region_code FROM orgs WHERE region_code >= $1 AND region_code < $2 \
         AND kind IN {KINDS} AND disabled = 0 ORDER BY region_code, name, id LIMIT 200"
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lo.to_string())
        .bind(hi.to_string());
    all(state, q, org_from_row).await
}

fn service_from_row(r: &AnyRow) -> Result<Service, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    let per_slot: i64 = r.try_get("per_slot")?;
    let units: Option<i64> = r.try_get("units")?;
    Ok(Service {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        region_code: r.try_get("region_code")?,
        kind_label: super::service_label(&kind).to_string(),
        kind,
        name: r.try_get("name")?,
        open_days: r.try_get("open_days")?,
        opens: r.try_get("opens")?,
        closes: r.try_get("closes")?,
        slot_minutes: r.try_get("slot_minutes")?,
        per_slot,
        places: units.map_or(per_slot, |u| u.min(per_slot)),
        window_days: r.try_get("window_days")?,
        resource_id: r.try_get("resource_id")?,
    })
}

const S_COLS: &str = "s.id, s.org_id, s.region_code, s.kind, s.name, s.open_days, s.opens, s.closes, \
    s.slot_minutes, s.per_slot, s.window_days, s.resource_id, r.units";

/// The active services of an organisation.
pub(in crate::bookings) async fn services(
    state: &AppState,
    org_id: i64,
) -> AppResult<Vec<Service>> {
    let sql = format!(
        "SELECT {S_COLS} FROM booking_services s LEFT JOIN booking_resources r ON r.id = s.resource_id \
         WHERE s.org_id = $1 AND s.active = 1 ORDER BY s.id"
    );
    all(
        state,
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org_id),
        service_from_row,
    )
    .await
}

/// One active service.
pub(in crate::bookings) async fn service(state: &AppState, id: i64) -> AppResult<Option<Service>> {
    let sql = format!(
        "SELECT {S_COLS} FROM booking_services s LEFT JOIN booking_resources r ON r.id = s.resource_id \
         WHERE s.id = $1 AND s.active = 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(row.as_ref().map(service_from_row).transpose()?)
}

/// A new service's fields.
pub(in crate::bookings) struct ServiceRow<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub open_days: &'a str,
    pub opens: &'a str,
    pub closes: &'a str,
    pub slot_minutes: i64,
    pub per_slot: i64,
    pub window_days: i64,
    pub resource_id: Option<i64>,
}

pub(in crate::bookings) async fn insert_service(
    tx: &mut Tx,
    o: &OrgInfo,
    s: &ServiceRow<'_>,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO booking_services (org_id, region_code, kind, name, open_days, opens, closes, slot_minutes, \
         per_slot, window_days, resource_id, active, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13, $13) RETURNING id",
    )
    .bind(o.id)
    .bind(o.region_code.clone())
    .bind(s.kind.to_string())
    .bind(s.name.to_string())
    .bind(s.open_days.to_string())
    .bind(s.opens.to_string())
    .bind(s.closes.to_string())
    .bind(s.slot_minutes)
    .bind(s.per_slot)
    .bind(s.window_days)
    .bind(s.resource_id)
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

/// The resources of an organisation.
pub(in crate::bookings) async fn resources(
    state: &AppState,
    org_id: i64,
) -> AppResult<Vec<Resource>> {
    let q = sqlx::query(
        "SELECT id, org_id, kind, name, units FROM booking_resources WHERE org_id = $1 ORDER BY id",
    )
    .bind(org_id);
    all(state, q, |r| {
        let kind: String = r.try_get("kind")?;
        Ok(Resource {
            id: r.try_get("id")?,
            org_id: r.try_get("org_id")?,
            kind_label: super::resource_label(&kind).to_string(),
            kind,
            name: r.try_get("name")?,
            units: r.try_get("units")?,
        })
    })
    .await
}

pub(in crate::bookings) async fn insert_resource(
    tx: &mut Tx,
    o: &OrgInfo,
    kind: &str,
    name: &str,
    units: i64,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO booking_resources (org_id, region_code, kind, name, units, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(o.id)
    .bind(o.region_code.clone())
    .bind(kind.to_string())
    .bind(name.to_string())
    .bind(units)
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

fn date_from_row(r: &AnyRow) -> Result<SpecialDate, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    Ok(SpecialDate {
        day: r.try_get("day")?,
        kind_label: super::date_label(&kind).to_string(),
        kind,
        day_cap: r.try_get("day_cap")?,
        reason: r.try_get("reason")?,
    })
}

const DATES: &str =
    "SELECT day, kind, day_cap, reason FROM booking_dates WHERE org_id = $1 ORDER BY day";

/// The special dates of an organisation.
pub(in crate::bookings) async fn dates(
    state: &AppState,
    org_id: i64,
) -> AppResult<Vec<SpecialDate>> {
    all(state, sqlx::query(DATES).bind(org_id), date_from_row).await
}

/// The special dates of an organisation, read in the open transaction.
pub(in crate::bookings) async fn dates_tx(tx: &mut Tx, org_id: i64) -> AppResult<Vec<SpecialDate>> {
    let rows = sqlx::query(DATES).bind(org_id).fetch_all(tx.conn()).await?;
    Ok(rows.iter().map(date_from_row).collect::<Result<_, _>>()?)
}

/// Set (or replace) the special date of an organisation.
#[allow(clippy::too_many_arguments)]
pub(in crate::bookings) async fn upsert_date(
    tx: &mut Tx,
    o: &OrgInfo,
    day: &str,
    kind: &str,
    cap: Option<i64>,
    reason: &str,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    let province = super::province_of(&o.region_code);
    let q = sqlx::query(
        "INSERT INTO booking_dates (province, org_id, region_code, day, kind, day_cap, reason, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (province, org_id, day) \
         DO UPDATE SET kind = $5, day_cap = $6, reason = $7, created_by = $8, created_at = $9",
    )
    .bind(province)
    .bind(o.id)
    .bind(o.region_code.clone())
    .bind(day.to_string())
    .bind(kind.to_string())
    .bind(cap)
    .bind(reason.to_string())
    .bind(by.to_string())
    .bind(now);
    tx.exec(q).await
}

const E_COLS: &str = "id, region_code, org_kind, starts_on, ends_on, daily_cap, suspended, no_ceremony, \
    attendance_cap, questions, reason, created_by, created_at, ended_at";

fn emergency_from_row(r: &AnyRow) -> Result<Emergency, sqlx::Error> {
    let questions: String = r.try_get("questions")?;
    Ok(Emergency {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        org_kind: r.try_get("org_kind")?,
        starts_on: r.try_get("starts_on")?,
        ends_on: r.try_get("ends_on")?,
        daily_cap: r.try_get("daily_cap")?,
        suspended: r.try_get("suspended")?,
        no_ceremony: r.try_get::<i64, _>("no_ceremony")? != 0,
        attendance_cap: r.try_get("attendance_cap")?,
        questions: serde_json::from_str(&questions).unwrap_or_default(),
        reason: r.try_get("reason")?,
        created_by: r.try_get("created_by")?,
        created_at: rfc3339(r.try_get("created_at")?),
        ended_at: r.try_get::<Option<i64>, _>("ended_at")?.map(rfc3339),
    })
}

/// A new emergency setting's fields.
pub(in crate::bookings) struct EmergencyRow<'a> {
    pub region_code: &'a str,
    pub org_kind: &'a str,
    pub starts_on: &'a str,
    pub ends_on: &'a str,
    pub daily_cap: Option<i64>,
    pub suspended: &'a str,
    pub no_ceremony: bool,
    pub attendance_cap: Option<i64>,
    pub questions: &'a str,
    pub reason: &'a str,
}

pub(in crate::bookings) async fn insert_emergency(
    tx: &mut Tx,
    e: &EmergencyRow<'_>,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO booking_emergencies (region_code, org_kind, starts_on, ends_on, daily_cap, suspended, \
         no_ceremony, attendance_cap, questions, reason, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(e.region_code.to_string())
    .bind(e.org_kind.to_string())
    .bind(e.starts_on.to_string())
    .bind(e.ends_on.to_string())
    .bind(e.daily_cap)
    .bind(e.suspended.to_string())
    .bind(i64::from(e.no_ceremony))
    .bind(e.attendance_cap)
    .bind(e.questions.to_string())
    .bind(e.reason.to_string())
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

pub(in crate::bookings) async fn end_emergency(tx: &mut Tx, id: i64) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query("UPDATE booking_emergencies SET ended_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id),
    )
    .await
}

/// One setting under the handle.
pub(in crate::bookings) async fn emergency(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Emergency> {
    let sql = format!("SELECT {E_COLS} FROM booking_emergencies WHERE id = $1");
    admitted(state, scope, sql, id, emergency_from_row, |e| {
        &e.region_code
    })
    .await
}

/// The settings under the handle, newest first.
pub(in crate::bookings) async fn emergencies_in(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<Emergency>> {
    let sql = format!(
        "SELECT {E_COLS} FROM booking_emergencies WHERE region_code >= $1 AND region_code < $2 \
         ORDER BY id DESC LIMIT 200"
    );
    all(state, ranged(scope, sql), emergency_from_row).await
}

/// The settings not ended that may apply to an organisation of `kind` in `region` (set for
/// the region or one above it).
pub(in crate::bookings) async fn emergencies_for(
    state: &AppState,
    region: &str,
    kind: &str,
) -> AppResult<Vec<Emergency>> {
    let sql = format!(
        "SELECT {E_COLS} FROM booking_emergencies WHERE org_kind = $1 AND ended_at IS NULL ORDER BY id"
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kind.to_string());
    let list = all(state, q, emergency_from_row).await?;
    Ok(list
        .into_iter()
        .filter(|e| region.starts_with(&e.region_code))
        .collect())
}

/// The same, read in the open transaction (a setting being created counts).
pub(in crate::bookings) async fn emergencies_for_tx(
    tx: &mut Tx,
    region: &str,
    kind: &str,
) -> AppResult<Vec<Emergency>> {
    let sql = format!(
        "SELECT {E_COLS} FROM booking_emergencies WHERE org_kind = $1 AND ended_at IS NULL ORDER BY id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(kind.to_string())
        .fetch_all(tx.conn())
        .await?;
    let list: Vec<Emergency> = rows
        .iter()
        .map(emergency_from_row)
        .collect::<Result<_, _>>()?;
    Ok(list
        .into_iter()
        .filter(|e| region.starts_with(&e.region_code))
        .collect())
}

/// The (organisation, day) pairs a new setting covers where more than `cap` are booked.
pub(in crate::bookings) async fn days_over(
    tx: &mut Tx,
    e: &EmergencyRow<'_>,
    cap: i64,
) -> AppResult<Vec<(OrgInfo, String)>> {
    let (lo, hi) = (e.region_code.to_string(), format!("{}:", e.region_code));
    let rows = sqlx::query(
        "SELECT o.id, o.name, o.kind, o.region_code, d.day FROM booking_days d JOIN orgs o ON o.id = d.org_id \
         WHERE o.kind = $1 AND o.region_code >= $2 AND o.region_code < $3 AND d.day >= $4 AND d.day <= $5 \
         AND d.booked > $6 ORDER BY o.id, d.day",
    )
    .bind(e.org_kind.to_string())
    .bind(lo)
    .bind(hi)
    .bind(e.starts_on.to_string())
    .bind(e.ends_on.to_string())
    .bind(cap)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Ok((org_from_row(r)?, r.try_get("day")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}
