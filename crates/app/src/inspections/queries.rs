//! Every SQL statement of supervision (督导), and the only place in the area that runs one.
//!
//! Reading functions take a [`Scoped`] handle: lists are limited to its code range in SQL, and
//! a row fetched by id is let through [`Scoped::admit`] (outside the handle: *not found*).
//! Writing functions take the open [`Tx`]; the service commits it with the audit entry.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Inspection, Mode, Problem};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::AppResult;
use crate::kernel::queries::{admitted, admitted_row, all, ranged, regional};
use crate::state::AppState;
use backstop_core::clock::rfc3339;

regional!(Problem);

const P_COLS: &str = "p.id, p.inspection_id, i.unit, i.unit_name, p.region_code, p.description, p.requirement, \
    p.deadline, p.deadline_ms, p.status, p.response, p.responded_by, p.responded_at, p.closed_by, p.closed_at";

const I_COLS: &str =
    "id, unit, unit_name, region_code, mode, inspected_on, findings, inspector, created_at";

fn problem_from_row(r: &AnyRow, now: i64) -> Result<Problem, sqlx::Error> {
    let status: String = r.try_get("status")?;
    let deadline_ms: i64 = r.try_get("deadline_ms")?;
    Ok(Problem {
        id: r.try_get("id")?,
        inspection_id: r.try_get("inspection_id")?,
        unit: r.try_get("unit")?,
        unit_name: r.try_get("unit_name")?,
        region_code: r.try_get("region_code")?,
        description: r.try_get("description")?,
        requirement: r.try_get("requirement")?,
        deadline: r.try_get("deadline")?,
        overdue: status != "closed" && deadline_ms <= now,
        status,
        response: r.try_get("response")?,
        responded_by: r.try_get("responded_by")?,
        responded_at: r.try_get::<Option<i64>, _>("responded_at")?.map(rfc3339),
        closed_by: r.try_get("closed_by")?,
        closed_at: r.try_get::<Option<i64>, _>("closed_at")?.map(rfc3339),
    })
}

fn inspection_from_row(r: &AnyRow) -> Result<Inspection, sqlx::Error> {
    let mode: String = r.try_get("mode")?;
    Ok(Inspection {
        id: r.try_get("id")?,
        unit: r.try_get("unit")?,
        unit_name: r.try_get("unit_name")?,
        region_code: r.try_get("region_code")?,
        mode_label: Mode::parse(&mode)
            .map(|m| m.label_zh())
            .unwrap_or("")
            .to_string(),
        mode,
        date: r.try_get("inspected_on")?,
        findings: r.try_get("findings")?,
        inspector: r.try_get("inspector")?,
        created_at: rfc3339(r.try_get("created_at")?),
        problems: Vec::new(),
    })
}

/// A new inspection row; returns its id.
pub(super) struct NewRow<'a> {
    pub unit: &'a str,
    pub unit_name: &'a str,
    pub region_code: &'a str,
    pub mode: Mode,
    pub date: &'a str,
    pub findings: &'a str,
    pub inspector: &'a str,
}

pub(super) async fn insert_inspection(tx: &mut Tx, n: &NewRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO inspections (unit, unit_name, region_code, mode, inspected_on, findings, inspector, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(n.unit)
    .bind(n.unit_name)
    .bind(n.region_code)
    .bind(n.mode.as_str())
    .bind(n.date)
    .bind(n.findings)
    .bind(n.inspector)
    .bind(now);
    tx.insert(q).await
}

/// A validated problem: description, requirement, deadline (`YYYY-MM-DD`), deadline end (ms).
pub(super) type ProblemRow = (String, String, String, i64);

pub(super) async fn insert_problem(
    tx: &mut Tx,
    inspection_id: i64,
    region_code: &str,
    p: &ProblemRow,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO inspection_problems (inspection_id, region_code, description, requirement, deadline, deadline_ms, \
         status, response, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', '', $7, $7) RETURNING id",
    )
    .bind(inspection_id)
    .bind(region_code)
    .bind(&p.0)
    .bind(&p.1)
    .bind(&p.2)
    .bind(p.3)
    .bind(now);
    tx.insert(q).await
}

/// One inspection under the handle, with its problems.
pub(super) async fn inspection(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Inspection> {
    let sql = format!("SELECT {I_COLS} FROM inspections WHERE id = $1");
    let mut insp = admitted(state, scope, sql, id, inspection_from_row, |i| {
        &i.region_code
    })
    .await?;
    let sql = format!(
        "SELECT {P_COLS} FROM inspection_problems p JOIN inspections i ON i.id = p.inspection_id \
         WHERE p.inspection_id = $1 ORDER BY p.id"
    );
    let now = state.now_ms();
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
    insp.problems = all(state, q, |r| problem_from_row(r, now)).await?;
    Ok(insp)
}

/// Inspections under the handle, newest first (at most 500), with their problems.
pub(super) async fn inspections(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<Inspection>> {
    let sql = format!(
        "SELECT {I_COLS} FROM inspections WHERE region_code >= $1 AND region_code < $2 ORDER BY id DESC LIMIT 500"
    );
    let mut out = all(state, ranged(scope, sql), inspection_from_row).await?;
    let sql = format!(
        "SELECT {P_COLS} FROM inspection_problems p JOIN inspections i ON i.id = p.inspection_id \
         WHERE p.region_code >= $1 AND p.region_code < $2 AND p.inspection_id >= $3 ORDER BY p.id"
    );
    let min_id = out.iter().map(|i| i.id).min().unwrap_or(0);
    let now = state.now_ms();
    let q = ranged(scope, sql).bind(min_id);
    for p in all(state, q, |r| problem_from_row(r, now)).await? {
        if let Some(i) = out.iter_mut().find(|i| i.id == p.inspection_id) {
            i.problems.push(p);
        }
    }
    Ok(out)
}

/// Rectifications under the handle not closed (or only those past their deadline), earliest
/// deadline first (at most 2,000).
pub(super) async fn open_problems(
    state: &AppState,
    scope: &Scoped<'_>,
    overdue_only: bool,
) -> AppResult<Vec<Problem>> {
    let now = state.now_ms();
    // Not overdue-only: every deadline is before the end of time.
    let until = if overdue_only { now } else { i64::MAX };
    let sql = format!(
        "SELECT {P_COLS} FROM inspection_problems p JOIN inspections i ON i.id = p.inspection_id \
         WHERE p.region_code >= $1 AND p.region_code < $2 AND p.status <> 'closed' AND p.deadline_ms <= $3 \
         ORDER BY p.deadline_ms, p.id LIMIT 2000"
    );
    all(state, ranged(scope, sql).bind(until), |r| {
        problem_from_row(r, now)
    })
    .await
}

/// How many rectifications under the handle are past their deadline and not closed.
pub(super) async fn overdue_count(state: &AppState, scope: &Scoped<'_>) -> AppResult<i64> {
    let (lo, hi) = scope.range();
    Ok(sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM inspection_problems WHERE region_code >= $1 AND region_code < $2 \
         AND status <> 'closed' AND deadline_ms <= $3",
    )
    .bind(lo)
    .bind(hi)
    .bind(state.now_ms())
    .fetch_one(state.db.pool())
    .await?)
}

/// One rectification under the handle.
pub(super) async fn problem(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Problem> {
    let sql = format!(
        "SELECT {P_COLS} FROM inspection_problems p JOIN inspections i ON i.id = p.inspection_id WHERE p.id = $1"
    );
    let now = state.now_ms();
    admitted_row(state, scope, sql, id, |r| problem_from_row(r, now)).await
}

/// The new state of a rectification.
pub(super) enum Status<'a> {
    Answered { response: &'a str, by: &'a str },
    Closed { by: &'a str },
    Reopened,
}

pub(super) async fn set_status(tx: &mut Tx, id: i64, s: Status<'_>) -> AppResult<()> {
    let now = tx.now();
    let q = match s {
        Status::Answered { response, by } => sqlx::query(
            "UPDATE inspection_problems SET status = 'answered', response = $1, responded_by = $2, \
             responded_at = $3, updated_at = $3 WHERE id = $4",
        )
    .bind(response.to_string())
    .bind(by.to_string())
    .bind(now)
    .bind(id),
        Status::Closed { by } => sqlx::query(
            "UPDATE inspection_problems SET status = 'closed', closed_by = $1, closed_at = $2, updated_at = $2 \
             WHERE id = $3",
        )
    .bind(by.to_string())
    .bind(now)
    .bind(id),
        Status::Reopened => sqlx::query(
            "UPDATE inspection_problems SET status = 'open', closed_by = NULL, closed_at = NULL, updated_at = $1 \
             WHERE id = $2",
        )
    .bind(now)
    .bind(id),
    };
    q.execute(tx.conn()).await?;
    Ok(())
}
