//! The statistics' SQL (心理援助工作报告): counts of a period under a scoped handle, grouped
//! by region and line; the service rolls them up the region tree.

use sqlx::Row;

use crate::kernel::access::Scoped;
use crate::kernel::error::AppResult;
use crate::kernel::queries::{all, ranged};
use crate::state::AppState;

/// Calls of a period under the handle, counted by (region, line, caller category, risk), with
/// the summed duration and how many opened a lead about a child (a red flag for a child in
/// danger, or a child lead recorded on the call: the hotline's own records, not the cases).
pub(in crate::hotline) async fn call_tallies(
    state: &AppState,
    scope: &Scoped<'_>,
    from: i64,
    to: i64,
) -> AppResult<Vec<(String, i64, String, String, i64, i64, i64)>> {
    let sql = "SELECT region_code, line_id, caller_category, risk, CAST(COUNT(*) AS BIGINT) AS n, \
               CAST(SUM(duration_s) AS BIGINT) AS d, CAST(SUM(CASE WHEN flag_kind = 'child_danger' \
               OR child_region IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS k FROM hotline_calls \
               WHERE region_code >= $1 AND region_code < $2 AND called_at >= $3 AND called_at < $4 \
               GROUP BY region_code, line_id, caller_category, risk";
    all(state, ranged(scope, sql).bind(from).bind(to), |r| {
        Ok((
            r.try_get("region_code")?,
            r.try_get("line_id")?,
            r.try_get("caller_category")?,
            r.try_get("risk")?,
            r.try_get("n")?,
            r.try_get::<Option<i64>, _>("d")?.unwrap_or(0),
            r.try_get::<Option<i64>, _>("k")?.unwrap_or(0),
        ))
    })
    .await
}

/// Referrals made in a period under the handle, counted by (region, line, status).
pub(in crate::hotline) async fn referral_tallies(
    state: &AppState,
    scope: &Scoped<'_>,
    from: i64,
    to: i64,
) -> AppResult<Vec<(String, i64, String, i64)>> {
    let sql = "SELECT region_code, line_id, status, CAST(COUNT(*) AS BIGINT) AS n FROM hotline_referrals \
               WHERE region_code >= $1 AND region_code < $2 AND created_at >= $3 AND created_at < $4 \
               GROUP BY region_code, line_id, status";
    all(state, ranged(scope, sql).bind(from).bind(to), |r| {
        Ok((
            r.try_get("region_code")?,
            r.try_get("line_id")?,
            r.try_get("status")?,
            r.try_get("n")?,
        ))
    })
    .await
}

/// Follow-ups due in a period under the handle: (region, line, done on time, score).
pub(in crate::hotline) async fn followup_facts(
    state: &AppState,
    scope: &Scoped<'_>,
    from: i64,
    to: i64,
) -> AppResult<Vec<(String, i64, bool, Option<i64>)>> {
    let sql = "SELECT region_code, line_id, status, due_at, done_at, score FROM hotline_followups \
               WHERE region_code >= $1 AND region_code < $2 AND due_at >= $3 AND due_at < $4";
    all(state, ranged(scope, sql).bind(from).bind(to), |r| {
        let due: i64 = r.try_get("due_at")?;
        let done: Option<i64> = r.try_get("done_at")?;
        let status: String = r.try_get("status")?;
        Ok((
            r.try_get("region_code")?,
            r.try_get("line_id")?,
            status == "done" && done.is_some_and(|d| d <= due),
            r.try_get("score")?,
        ))
    })
    .await
}
