//! The SQL of referrals and follow-ups: a referral's reason, decline reason and outcome and a
//! follow-up's outcome are sealed (`*_enc`, migration 0039; the clear columns hold `''`) and
//! opened by `privacy::text` on read.

use backstop_core::clock::rfc3339;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::super::referrals::{REFERRAL_STATUS, ReferralRow};
use super::super::{Followup, Line, Referral, label, province_of};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{admitted_row, all, ranged, regional, text_or_empty};
use crate::privacy::{seal, text};
use crate::state::AppState;

regional!(Followup);

// --------------------------------------------------------------------------- referrals

const R_COLS: &str = "r.id, r.call_id, r.line_id, r.region_code, r.org_id, o.name AS org_name, r.urgent, r.reason, \
    r.reason_enc, r.status, r.decided_by, r.decided_at, r.decline_reason, r.decline_reason_enc, r.outcome, \
    r.outcome_enc, r.created_by, r.created_at";

fn referral_from_row(keys: &KeyRing, r: &AnyRow) -> Result<Referral, sqlx::Error> {
    let status: String = r.try_get("status")?;
    Ok(Referral {
        id: r.try_get("id")?,
        call_id: r.try_get("call_id")?,
        line_id: r.try_get("line_id")?,
        region_code: r.try_get("region_code")?,
        org_id: r.try_get("org_id")?,
        org_name: text_or_empty(r, "org_name")?,
        urgent: r.try_get::<i64, _>("urgent")? != 0,
        reason: text(keys, r, "reason")?,
        status_label: label(REFERRAL_STATUS, &status),
        status,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get::<Option<i64>, _>("decided_at")?.map(rfc3339),
        decline_reason: text(keys, r, "decline_reason")?,
        outcome: text(keys, r, "outcome")?,
        created_by: r.try_get("created_by")?,
        created_at: rfc3339(r.try_get("created_at")?),
    })
}

/// A new referral: its reason sealed, the decline reason and outcome sealed empty (every row
/// carries its ciphertexts, the clear columns stay `''`).
pub(in crate::hotline) async fn insert_referral(
    tx: &mut Tx,
    keys: &KeyRing,
    call_id: i64,
    line: &Line,
    r: &ReferralRow,
    urgent: bool,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO hotline_referrals (province, call_id, line_id, region_code, org_id, org_region, urgent, reason, \
         reason_enc, decline_reason_enc, outcome_enc, status, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $9, $10, 'open', $11, $12) RETURNING id",
    )
    .bind(province_of(&line.region_code))
    .bind(call_id)
    .bind(line.id)
    .bind(line.region_code.clone())
    .bind(r.org_id)
    .bind(r.org_region.clone())
    .bind(i64::from(urgent))
    .bind(seal(keys, &r.reason))
    .bind(seal(keys, ""))
    .bind(seal(keys, ""))
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

/// What decides who may read and act on a referral.
pub(crate) struct ReferralAccess {
    pub region_code: String,
    pub org_id: i64,
    pub org_region: String,
    pub status: String,
}

pub(in crate::hotline) async fn referral_access(
    state: &AppState,
    id: i64,
) -> AppResult<Option<ReferralAccess>> {
    let row: Option<(String, i64, String, String)> = sqlx::query_as(
        "SELECT region_code, org_id, org_region, status FROM hotline_referrals WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(
        row.map(|(region_code, org_id, org_region, status)| ReferralAccess {
            region_code,
            org_id,
            org_region,
            status,
        }),
    )
}

/// One referral whose access the service has decided from [`referral_access`].
pub(in crate::hotline) async fn referral(
    state: &AppState,
    _decided: &ReferralAccess,
    id: i64,
) -> AppResult<Referral> {
    let sql = format!(
        "SELECT {R_COLS} FROM hotline_referrals r LEFT JOIN orgs o ON o.id = r.org_id WHERE r.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(referral_from_row(&state.keys, &row)?)
}

pub(in crate::hotline) async fn call_referrals(
    state: &AppState,
    scope: &Scoped<'_>,
    call_id: i64,
) -> AppResult<Vec<Referral>> {
    let sql = format!(
        "SELECT {R_COLS} FROM hotline_referrals r LEFT JOIN orgs o ON o.id = r.org_id \
         WHERE r.region_code >= $1 AND r.region_code < $2 AND r.call_id = $3 ORDER BY r.id"
    );
    all(state, ranged(scope, sql).bind(call_id), |r| {
        referral_from_row(&state.keys, r)
    })
    .await
}

/// Referrals of the lines under the handle (`staff`) and/or addressed to `org`.
pub(in crate::hotline) async fn referrals(
    state: &AppState,
    scope: &Scoped<'_>,
    staff: bool,
    org: Option<i64>,
    open_only: bool,
) -> AppResult<Vec<Referral>> {
    let open = if open_only {
        " AND r.status IN ('open', 'accepted')"
    } else {
        ""
    };
    let tail = " ORDER BY r.urgent DESC, r.created_at, r.id LIMIT 500";
    let base = format!(
        "SELECT {R_COLS} FROM hotline_referrals r LEFT JOIN orgs o ON o.id = r.org_id WHERE "
    );
    let q = match (staff, org) {
        (true, Some(o)) => ranged(
            scope,
            format!(
                "{base}((r.region_code >= $1 AND r.region_code < $2) OR r.org_id = $3){open}{tail}"
            ),
        )
        .bind(o),
        (true, None) => ranged(
            scope,
            format!("{base}r.region_code >= $1 AND r.region_code < $2{open}{tail}"),
        ),
        (false, Some(o)) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "{base}r.org_id = $1{open}{tail}"
        )))
        .bind(o),
        (false, None) => return Ok(Vec::new()),
    };
    all(state, q, |r| referral_from_row(&state.keys, r)).await
}

/// Decide an open referral; a decline's reason sealed (an acceptance seals the empty text).
pub(in crate::hotline) async fn decide_referral(
    tx: &mut Tx,
    keys: &KeyRing,
    id: i64,
    status: &str,
    by: &str,
    by_id: Option<i64>,
    reason: &str,
) -> AppResult<u64> {
    let now = tx.now();
    let assignee = if status == "accepted" { by_id } else { None };
    let q = sqlx::query(
        "UPDATE hotline_referrals SET status = $1, decided_by = $2, assignee_id = $3, decided_at = $4, \
         decline_reason = '', decline_reason_enc = $5 WHERE id = $6 AND status = 'open'",
    )
    .bind(status.to_string())
    .bind(by.to_string())
    .bind(assignee)
    .bind(now)
    .bind(seal(keys, if status == "declined" { reason } else { "" }))
    .bind(id);
    tx.changed(q).await
}

/// Close an accepted referral with its outcome (sealed).
pub(in crate::hotline) async fn close_referral(
    tx: &mut Tx,
    keys: &KeyRing,
    id: i64,
    outcome: &str,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "UPDATE hotline_referrals SET status = 'closed', outcome = '', outcome_enc = $1, outcome_at = $2 WHERE id = $3",
    )
        .bind(seal(keys, outcome))
        .bind(now)
        .bind(id);
    tx.exec(q).await
}

// --------------------------------------------------------------------------- follow-ups

const F_COLS: &str = "id, call_id, line_id, region_code, due_at, status, outcome, outcome_enc, score, done_at, done_by";

fn followup_from_row(keys: &KeyRing, r: &AnyRow, now: i64) -> Result<Followup, sqlx::Error> {
    let status: String = r.try_get("status")?;
    let due: i64 = r.try_get("due_at")?;
    Ok(Followup {
        id: r.try_get("id")?,
        call_id: r.try_get("call_id")?,
        line_id: r.try_get("line_id")?,
        region_code: r.try_get("region_code")?,
        due_at: rfc3339(due),
        overdue: status != "done" && due <= now,
        status,
        outcome: text(keys, r, "outcome")?,
        score: r.try_get("score")?,
        done_at: r.try_get::<Option<i64>, _>("done_at")?.map(rfc3339),
        done_by: r.try_get("done_by")?,
    })
}

/// A new follow-up (its outcome sealed empty until done).
pub(in crate::hotline) async fn insert_followup(
    tx: &mut Tx,
    keys: &KeyRing,
    call_id: i64,
    line: &Line,
    due: i64,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO hotline_followups (province, call_id, line_id, region_code, due_at, status, outcome_enc, \
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, 'scheduled', $6, $7, $8) RETURNING id",
    )
    .bind(province_of(&line.region_code))
    .bind(call_id)
    .bind(line.id)
    .bind(line.region_code.clone())
    .bind(due)
    .bind(seal(keys, ""))
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

pub(in crate::hotline) async fn followup(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Followup> {
    let sql = format!("SELECT {F_COLS} FROM hotline_followups WHERE id = $1");
    let now = state.now_ms();
    admitted_row(state, scope, sql, id, |r| {
        followup_from_row(&state.keys, r, now)
    })
    .await
}

pub(in crate::hotline) async fn call_followups(
    state: &AppState,
    scope: &Scoped<'_>,
    call_id: i64,
) -> AppResult<Vec<Followup>> {
    let sql = format!(
        "SELECT {F_COLS} FROM hotline_followups WHERE region_code >= $1 AND region_code < $2 AND call_id = $3 ORDER BY due_at, id"
    );
    let now = state.now_ms();
    all(state, ranged(scope, sql).bind(call_id), |r| {
        followup_from_row(&state.keys, r, now)
    })
    .await
}

pub(in crate::hotline) async fn open_followups(
    state: &AppState,
    scope: &Scoped<'_>,
    overdue_only: bool,
) -> AppResult<Vec<Followup>> {
    let now = state.now_ms();
    let until = if overdue_only { now } else { i64::MAX };
    let sql = format!(
        "SELECT {F_COLS} FROM hotline_followups WHERE region_code >= $1 AND region_code < $2 \
         AND status = 'scheduled' AND due_at <= $3 ORDER BY due_at, id LIMIT 1000"
    );
    all(state, ranged(scope, sql).bind(until), |r| {
        followup_from_row(&state.keys, r, now)
    })
    .await
}

/// A follow-up done: its outcome sealed, the effect score clear (the report averages it).
pub(in crate::hotline) async fn complete_followup(
    tx: &mut Tx,
    keys: &KeyRing,
    id: i64,
    outcome: &str,
    score: i64,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "UPDATE hotline_followups SET status = 'done', outcome = '', outcome_enc = $1, score = $2, done_at = $3, done_by = $4 WHERE id = $5",
    )
    .bind(seal(keys, outcome))
    .bind(score)
    .bind(now)
    .bind(by.to_string())
    .bind(id);
    tx.exec(q).await
}
