//! The SQL of beneficiaries, emergency periods and aid-first grants (split from
//! `queries/mod.rs` to keep files of one concern; the same rules apply: reads take a
//! [`Scoped`] handle, writes the open [`Tx`]).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{open_text, placeholders, province_of};
use crate::assistance::emergency::{AidGrant, Period, measures_label};
use crate::assistance::steps::Beneficiary;
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{admitted_row, all, ranged, regional};
use crate::people::shown;
use crate::state::AppState;
use backstop_core::clock::rfc3339;

regional!(Beneficiary, AidGrant);

// -------------------------------------------------------------------------- beneficiaries

pub(in crate::assistance) struct BeneficiaryRow<'a> {
    pub programme: &'a str,
    pub county: &'a str,
    pub region: &'a str,
    pub household_id: i64,
    pub person_id: i64,
    pub members: i64,
    pub area_kind: &'a str,
    pub monthly: i64,
    pub detail: &'a str,
    pub since: &'a str,
    pub application_id: i64,
    pub measures: &'a str,
}

pub(in crate::assistance) async fn insert_beneficiary(
    tx: &mut Tx,
    b: &BeneficiaryRow<'_>,
) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO assistance_beneficiaries (province, programme, county_code, region_code, household_id, person_id, \
         members, area_kind, monthly_amount_fen, amount_detail, status, since_month, application_id, emergency_measures, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'active', $11, $12, $13, $14, $14) RETURNING id",
    )
    .bind(province_of(b.region))
    .bind(b.programme.to_string())
    .bind(b.county.to_string())
    .bind(b.region.to_string())
    .bind(b.household_id)
    .bind(b.person_id)
    .bind(b.members)
    .bind(b.area_kind.to_string())
    .bind(b.monthly)
    .bind(b.detail.to_string())
    .bind(b.since.to_string())
    .bind(b.application_id)
    .bind(b.measures.to_string())
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

pub(super) const B_COLS: &str = "b.id, b.programme, b.region_code, b.person_id, p.name, b.members, b.monthly_amount_fen, \
    b.amount_detail, b.status, b.since_month, b.until_month, b.exit_held, b.exit_review, b.held_reason, \
    b.held_reason_enc, b.emergency_measures, b.application_id";

pub(super) fn beneficiary_from_row(keys: &KeyRing, r: &AnyRow) -> Result<Beneficiary, sqlx::Error> {
    let measures: String = r.try_get("emergency_measures")?;
    let held = r.try_get::<i64, _>("exit_held")? != 0;
    let mut label = measures_label(&measures);
    if held {
        label = if label.is_empty() {
            "应急：暂缓退出".to_string()
        } else if label.contains("暂缓退出") {
            label
        } else {
            format!("{label}、暂缓退出")
        };
    }
    Ok(Beneficiary {
        id: r.try_get("id")?,
        programme: r.try_get("programme")?,
        region_code: r.try_get("region_code")?,
        person_id: r.try_get("person_id")?,
        person_name: shown::name_in_list(&r.try_get::<String, _>("name")?),
        members: r.try_get("members")?,
        monthly_amount_fen: r.try_get("monthly_amount_fen")?,
        amount_detail: r.try_get("amount_detail")?,
        status: r.try_get("status")?,
        since_month: r.try_get("since_month")?,
        until_month: r.try_get("until_month")?,
        exit_held: held,
        exit_to_review: r.try_get::<i64, _>("exit_review")? != 0,
        held_reason: crate::privacy::text(keys, r, "held_reason")?,
        emergency_label: label,
        application_id: r.try_get("application_id")?,
    })
}

pub(in crate::assistance) async fn beneficiaries(
    state: &AppState,
    scope: &Scoped<'_>,
    held: bool,
) -> AppResult<Vec<Beneficiary>> {
    let mut sql = format!(
        "SELECT {B_COLS} FROM assistance_beneficiaries b JOIN persons p ON p.id = b.person_id \
         WHERE b.region_code >= $1 AND b.region_code < $2"
    );
    if held {
        sql.push_str(" AND (b.exit_held = 1 OR b.exit_review = 1)");
    }
    sql.push_str(" ORDER BY b.id DESC LIMIT 2000");
    all(state, ranged(scope, sql), |r| {
        beneficiary_from_row(&state.keys, r)
    })
    .await
}

pub(in crate::assistance) async fn beneficiary(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Beneficiary> {
    let sql = format!(
        "SELECT {B_COLS} FROM assistance_beneficiaries b JOIN persons p ON p.id = b.person_id WHERE b.id = $1"
    );
    let keys = &state.keys;
    admitted_row(state, scope, sql, id, |r| beneficiary_from_row(keys, r)).await
}

pub(in crate::assistance) async fn hold_exit(
    tx: &mut Tx,
    keys: &KeyRing,
    id: i64,
    period: i64,
    reason: &str,
) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE assistance_beneficiaries SET exit_held = 1, exit_review = 0, held_emergency_id = $1, held_reason = '', \
         held_reason_enc = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(period)
    .bind(crate::privacy::seal(keys, reason))
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(in crate::assistance) async fn set_beneficiary_status(
    tx: &mut Tx,
    id: i64,
    status: &str,
    until: Option<&str>,
) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE assistance_beneficiaries SET status = $1, until_month = $2, exit_held = 0, exit_review = 0, \
         updated_at = $3 WHERE id = $4",
    )
    .bind(status.to_string())
    .bind(until.map(str::to_string))
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

// ------------------------------------------------------------------------------ emergencies

const E_COLS: &str =
    "id, region_code, name, starts_on, ends_on, measures, status, declared_by, ended_by, origin";

fn period_from_row(r: &AnyRow) -> Result<Period, sqlx::Error> {
    let measures: String = r.try_get("measures")?;
    Ok(Period {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        name: r.try_get("name")?,
        starts_on: r.try_get("starts_on")?,
        ends_on: r.try_get("ends_on")?,
        measures: Vec::new(),
        measure_list: Vec::new(),
        measures_label: String::new(),
        status: r.try_get("status")?,
        declared_by: r.try_get("declared_by")?,
        ended_by: r.try_get("ended_by")?,
        origin: r.try_get("origin")?,
    }
    .with_measures(&measures))
}

pub(in crate::assistance) async fn period_in_force(
    state: &AppState,
    lineage: &[String],
    date: &str,
) -> AppResult<Option<Period>> {
    let sql = format!(
        "SELECT {E_COLS} FROM assistance_emergencies WHERE status = 'declared' AND starts_on <= $1 AND ends_on >= $1 \
         AND region_code IN ({}) ORDER BY LENGTH(region_code) DESC, id DESC LIMIT 1",
        placeholders(2, lineage.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(date.to_string());
    for c in lineage {
        q = q.bind(c.clone());
    }
    let row = q.fetch_optional(state.db.pool()).await?;
    Ok(match row {
        None => None,
        Some(r) => Some(period_from_row(&r)?),
    })
}

pub(in crate::assistance) async fn insert_period(
    tx: &mut Tx,
    region: &str,
    name: &str,
    starts: &str,
    ends: &str,
    measures: &str,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO assistance_emergencies (region_code, name, starts_on, ends_on, measures, status, declared_by, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'declared', $6, $7, $7) RETURNING id",
    )
    .bind(region.to_string())
    .bind(name.to_string())
    .bind(starts.to_string())
    .bind(ends.to_string())
    .bind(measures.to_string())
    .bind(by.to_string())
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

/// A period by id: in the handle, or declared above the handle's region (inherited).
pub(in crate::assistance) async fn period(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Period> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {E_COLS} FROM assistance_emergencies WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(AppError::not_found)?;
    let p = period_from_row(&row)?;
    let above = scope
        .node()
        .region()
        .is_some_and(|r| r.ancestors().iter().any(|a| a.as_str() == p.region_code));
    if above {
        return Ok(p);
    }
    let code = p.region_code.clone();
    scope.admit(&code, p)
}

pub(in crate::assistance) async fn periods(
    state: &AppState,
    scope: &Scoped<'_>,
    above: &[String],
) -> AppResult<Vec<Period>> {
    let q = super::under_or_above(
        scope,
        E_COLS,
        "assistance_emergencies",
        above,
        " ORDER BY id DESC LIMIT 500",
    );
    all(state, q, period_from_row).await
}

pub(in crate::assistance) async fn update_period(
    tx: &mut Tx,
    id: i64,
    name: &str,
    starts: &str,
    ends: &str,
    measures: &str,
) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE assistance_emergencies SET name = $1, starts_on = $2, ends_on = $3, measures = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(name.to_string())
    .bind(starts.to_string())
    .bind(ends.to_string())
    .bind(measures.to_string())
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(in crate::assistance) async fn end_period(tx: &mut Tx, id: i64, by: &str) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE assistance_emergencies SET status = 'ended', ended_by = $1, ended_at = $2, updated_at = $2 WHERE id = $3",
    )
    .bind(by.to_string())
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The exits the period held come back for review; how many.
pub(in crate::assistance) async fn release_held(tx: &mut Tx, period: i64) -> AppResult<u64> {
    let now = tx.now();
    Ok(sqlx::query(
        "UPDATE assistance_beneficiaries SET exit_held = 0, exit_review = 1, updated_at = $1 \
         WHERE held_emergency_id = $2 AND exit_held = 1",
    )
    .bind(now)
    .bind(period)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

// ----------------------------------------------------------------------------- aid grants

pub(in crate::assistance) struct GrantRow<'a> {
    pub county: &'a str,
    pub region: &'a str,
    pub person_id: i64,
    pub emergency_id: i64,
    pub amount: i64,
    pub reason_enc: Vec<u8>,
    pub due_at: i64,
    pub by: &'a str,
}

pub(in crate::assistance) async fn insert_grant(tx: &mut Tx, g: &GrantRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO assistance_aid_grants (province, county_code, region_code, person_id, emergency_id, amount_fen, \
         reason_enc, status, due_at, granted_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'granted', $8, $9, $10, $10) RETURNING id",
    )
    .bind(province_of(g.region))
    .bind(g.county.to_string())
    .bind(g.region.to_string())
    .bind(g.person_id)
    .bind(g.emergency_id)
    .bind(g.amount)
    .bind(g.reason_enc.clone())
    .bind(g.due_at)
    .bind(g.by.to_string())
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

const G_COLS: &str = "g.id, g.county_code, g.region_code, g.person_id, p.name, g.emergency_id, g.amount_fen, \
    g.reason_enc, g.status, g.due_at, g.granted_by, g.decided_by, g.refuse_reason, g.settlement";

fn grant_from_row(state: &AppState, r: &AnyRow, now: i64) -> Result<AidGrant, sqlx::Error> {
    let status: String = r.try_get("status")?;
    let due: i64 = r.try_get("due_at")?;
    Ok(AidGrant {
        id: r.try_get("id")?,
        county_code: r.try_get("county_code")?,
        region_code: r.try_get("region_code")?,
        person_id: r.try_get("person_id")?,
        person_name: shown::name_in_list(&r.try_get::<String, _>("name")?),
        emergency_id: r.try_get("emergency_id")?,
        amount_fen: r.try_get("amount_fen")?,
        reason: open_text(state, r.try_get("reason_enc")?),
        overdue: status == "granted" && due <= now,
        status,
        due_at: rfc3339(due),
        granted_by: r.try_get("granted_by")?,
        decided_by: r.try_get("decided_by")?,
        refuse_reason: r.try_get("refuse_reason")?,
        settlement: r.try_get("settlement")?,
        emergency_label: "应急：先行救助".to_string(),
    })
}

pub(in crate::assistance) async fn grant(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<AidGrant> {
    let sql = format!(
        "SELECT {G_COLS} FROM assistance_aid_grants g JOIN persons p ON p.id = g.person_id WHERE g.id = $1"
    );
    let now = state.now_ms();
    admitted_row(state, scope, sql, id, |r| grant_from_row(state, r, now)).await
}

pub(in crate::assistance) async fn grants(
    state: &AppState,
    scope: &Scoped<'_>,
    pending: bool,
) -> AppResult<Vec<AidGrant>> {
    let mut sql = format!(
        "SELECT {G_COLS} FROM assistance_aid_grants g JOIN persons p ON p.id = g.person_id \
         WHERE g.region_code >= $1 AND g.region_code < $2"
    );
    if pending {
        sql.push_str(" AND g.status = 'granted'");
    }
    sql.push_str(" ORDER BY g.due_at, g.id LIMIT 2000");
    let now = state.now_ms();
    all(state, ranged(scope, sql), |r| grant_from_row(state, r, now)).await
}

pub(in crate::assistance) async fn decide_grant(
    tx: &mut Tx,
    id: i64,
    status: &str,
    reason: &str,
    settlement: &str,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE assistance_aid_grants SET status = $1, refuse_reason = $2, settlement = $3, decided_by = $4, \
         decided_at = $5, updated_at = $5 WHERE id = $6",
    )
    .bind(status.to_string())
    .bind(reason.to_string())
    .bind(settlement.to_string())
    .bind(by.to_string())
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Declared periods whose end date is before `today` (`YYYY-MM-DD`): id and region.
pub(in crate::assistance) async fn lapsed_periods(
    state: &AppState,
    today: &str,
) -> AppResult<Vec<(i64, String)>> {
    let q = sqlx::query(
        "SELECT id, region_code FROM assistance_emergencies WHERE status = 'declared' AND ends_on < $1 ORDER BY id",
    )
    .bind(today.to_string());
    all(state, q, |r| {
        Ok((r.try_get("id")?, r.try_get("region_code")?))
    })
    .await
}

/// End a period only while it is still declared; whether this call ended it.
pub(in crate::assistance) async fn end_period_if_declared(
    tx: &mut Tx,
    id: i64,
    by: &str,
) -> AppResult<bool> {
    let now = tx.now();
    let q = sqlx::query(
        "UPDATE assistance_emergencies SET status = 'ended', ended_by = $1, ended_at = $2, updated_at = $2 \
         WHERE id = $3 AND status = 'declared'",
    )
    .bind(by.to_string())
    .bind(now)
    .bind(id);
    Ok(tx.changed(q).await? == 1)
}

/// Applications made on a personal commitment under the period and not yet verified.
pub(in crate::assistance) async fn commitments_of_period(tx: &mut Tx, id: i64) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_applications \
         WHERE emergency_id = $1 AND commitment = 1 AND commitment_verified_at IS NULL",
    )
    .bind(id)
    .fetch_one(tx.conn())
    .await?)
}
