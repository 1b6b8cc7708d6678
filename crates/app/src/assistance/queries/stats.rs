//! SQL of the statistics (统计, issue 16 item 8): counts and sums per region below a handle,
//! grouped by the first `len` digits of the region code (the level of the rows asked for),
//! plus the records behind a figure. Every statement is limited to the handle's code range;
//! `len` is a code length chosen by the service (never user text), written into the SQL as a
//! number so both engines see `SUBSTR(text, integer, integer)`. Roll lines are read from the
//! payments tables (read only, as the rolls read the beneficiaries).

use sqlx::Row;

use super::emergency::{B_COLS, beneficiary_from_row};
use crate::assistance::steps::Beneficiary;
use crate::kernel::access::Scoped;
use crate::kernel::error::AppResult;
use crate::kernel::queries::{all, ranged};
use crate::state::AppState;

/// One grouped figure: the region prefix, a sub-key (programme, status, step or ''), and up
/// to four numbers whose meaning each query states.
#[derive(Debug, Clone, Default)]
pub(in crate::assistance) struct Group {
    pub key: String,
    pub sub: String,
    pub a: i64,
    pub b: i64,
    pub c: i64,
    pub d: i64,
}

async fn groups(
    state: &AppState,
    scope: &Scoped<'_>,
    sql: String,
    binds: &[String],
    now: Option<i64>,
) -> AppResult<Vec<Group>> {
    let mut q = ranged(scope, sql);
    for b in binds {
        q = q.bind(b.clone());
    }
    if let Some(n) = now {
        q = q.bind(n);
    }
    all(state, q, |r| {
        Ok(Group {
            key: r.try_get("k")?,
            sub: r.try_get("s")?,
            a: r.try_get("a")?,
            b: r.try_get("b")?,
            c: r.try_get("c")?,
            d: r.try_get("d")?,
        })
    })
    .await
}

/// The condition of a beneficiary covered in `month` (`$3`): started by then, not exited
/// before it, not suspended.
const COVERED: &str = "b.since_month <= $3 AND (b.until_month IS NULL OR b.until_month >= $3) \
    AND b.status <> 'suspended'";

/// Beneficiaries covered in `month` per region prefix and programme: a = rows, b = persons
/// (sum of members), c = distinct households, d = rows without a household.
pub(in crate::assistance) async fn stat_coverage(
    state: &AppState,
    scope: &Scoped<'_>,
    len: usize,
    month: &str,
) -> AppResult<Vec<Group>> {
    let sql = format!(
        "SELECT SUBSTR(b.region_code, 1, {len}) AS k, b.programme AS s, CAST(COUNT(*) AS BIGINT) AS a, \
         CAST(COALESCE(SUM(b.members), 0) AS BIGINT) AS b, CAST(COUNT(DISTINCT b.household_id) AS BIGINT) AS c, \
         CAST(COALESCE(SUM(CASE WHEN b.household_id IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS d \
         FROM assistance_beneficiaries b WHERE b.region_code >= $1 AND b.region_code < $2 AND {COVERED} \
         GROUP BY 1, 2"
    );
    groups(state, scope, sql, &[month.to_string()], None).await
}

/// Roll lines of `month` on rolls sent to the bank, per region prefix and programme (or
/// `grant` / `price_subsidy`): a = fen paid (reconciled rolls, lines the bank paid),
/// b = lines paid, c = fen sent (exported or reconciled rolls, every line), d = lines sent.
pub(in crate::assistance) async fn stat_paid(
    state: &AppState,
    scope: &Scoped<'_>,
    len: usize,
    month: &str,
) -> AppResult<Vec<Group>> {
    let paid = "r.status = 'reconciled' AND l.outcome = 'paid'";
    let sql = format!(
        "SELECT SUBSTR(l.region_code, 1, {len}) AS k, l.programme AS s, \
         CAST(COALESCE(SUM(CASE WHEN {paid} THEN l.amount_fen ELSE 0 END), 0) AS BIGINT) AS a, \
         CAST(COALESCE(SUM(CASE WHEN {paid} THEN 1 ELSE 0 END), 0) AS BIGINT) AS b, \
         CAST(COALESCE(SUM(l.amount_fen), 0) AS BIGINT) AS c, CAST(COUNT(*) AS BIGINT) AS d \
         FROM payment_roll_lines l JOIN payment_rolls r ON r.province = l.province AND r.id = l.roll_id \
         WHERE l.region_code >= $1 AND l.region_code < $2 AND l.month = $3 \
         AND r.status IN ('exported', 'reconciled') GROUP BY 1, 2"
    );
    groups(state, scope, sql, &[month.to_string()], None).await
}

/// Applications made in `month` per region prefix and status: a = how many.
pub(in crate::assistance) async fn stat_applications(
    state: &AppState,
    scope: &Scoped<'_>,
    len: usize,
    month: &str,
) -> AppResult<Vec<Group>> {
    let sql = format!(
        "SELECT SUBSTR(region_code, 1, {len}) AS k, status AS s, CAST(COUNT(*) AS BIGINT) AS a, \
         CAST(0 AS BIGINT) AS b, CAST(0 AS BIGINT) AS c, CAST(0 AS BIGINT) AS d \
         FROM assistance_applications WHERE region_code >= $1 AND region_code < $2 \
         AND SUBSTR(applied_on, 1, 7) = $3 GROUP BY 1, 2"
    );
    groups(state, scope, sql, &[month.to_string()], None).await
}

/// Steps overdue now per region prefix and the level that must act: a = how many.
pub(in crate::assistance) async fn stat_overdue(
    state: &AppState,
    scope: &Scoped<'_>,
    len: usize,
    now: i64,
) -> AppResult<Vec<Group>> {
    let sql = format!(
        "SELECT SUBSTR(region_code, 1, {len}) AS k, due_step AS s, CAST(COUNT(*) AS BIGINT) AS a, \
         CAST(0 AS BIGINT) AS b, CAST(0 AS BIGINT) AS c, CAST(0 AS BIGINT) AS d \
         FROM assistance_applications WHERE region_code >= $1 AND region_code < $2 \
         AND due_at IS NOT NULL AND due_at <= $3 AND status NOT IN ('approved', 'rejected') GROUP BY 1, 2"
    );
    groups(state, scope, sql, &[], Some(now)).await
}

/// Aid-first grants awaiting the county and exits held, now, per region prefix: a = grants
/// awaiting approval, b = their fen, c = exits held, d = exits back for review.
pub(in crate::assistance) async fn stat_pending(
    state: &AppState,
    scope: &Scoped<'_>,
    len: usize,
) -> AppResult<Vec<Group>> {
    let sql = format!(
        "SELECT SUBSTR(region_code, 1, {len}) AS k, '' AS s, CAST(COUNT(*) AS BIGINT) AS a, \
         CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS b, CAST(0 AS BIGINT) AS c, CAST(0 AS BIGINT) AS d \
         FROM assistance_aid_grants WHERE region_code >= $1 AND region_code < $2 AND status = 'granted' \
         GROUP BY 1 \
         UNION ALL \
         SELECT SUBSTR(region_code, 1, {len}) AS k, '' AS s, CAST(0 AS BIGINT) AS a, CAST(0 AS BIGINT) AS b, \
         CAST(COALESCE(SUM(CASE WHEN exit_held = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS c, \
         CAST(COALESCE(SUM(CASE WHEN exit_review = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS d \
         FROM assistance_beneficiaries WHERE region_code >= $1 AND region_code < $2 \
         AND (exit_held = 1 OR exit_review = 1) GROUP BY 1"
    );
    groups(state, scope, sql, &[], None).await
}

/// The beneficiaries behind a coverage figure: covered in `month`, of `programme` if given.
pub(in crate::assistance) async fn covered_records(
    state: &AppState,
    scope: &Scoped<'_>,
    month: &str,
    programme: Option<&str>,
) -> AppResult<Vec<Beneficiary>> {
    let mut sql = format!(
        "SELECT {B_COLS} FROM assistance_beneficiaries b JOIN persons p ON p.id = b.person_id \
         WHERE b.region_code >= $1 AND b.region_code < $2 AND {COVERED}"
    );
    if programme.is_some() {
        sql.push_str(" AND b.programme = $4");
    }
    sql.push_str(" ORDER BY b.region_code, b.id LIMIT 2000");
    let mut q = ranged(scope, sql).bind(month.to_string());
    if let Some(p) = programme {
        q = q.bind(p.to_string());
    }
    all(state, q, |r| beneficiary_from_row(&state.keys, r)).await
}

/// The regions directly below `parent` (the provinces for `None`): code and name.
pub(in crate::assistance) async fn child_regions(
    state: &AppState,
    parent: Option<&str>,
) -> AppResult<Vec<(String, String)>> {
    let q = match parent {
        Some(p) => sqlx::query(
            "SELECT code, name FROM regions WHERE parent_code = $1 AND level <> 'grid' ORDER BY code",
        )
        .bind(p.to_string()),
        None => sqlx::query(
            "SELECT code, name FROM regions WHERE parent_code IS NULL AND level <> 'grid' ORDER BY code",
        ),
    };
    all(state, q, |r| Ok((r.try_get("code")?, r.try_get("name")?))).await
}
