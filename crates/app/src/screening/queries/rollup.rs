//! Counts by child region under a handle: a campaign's households on the roll and reached,
//! and active observations. A region's children are those of the handle's node (the provinces
//! for the whole country); counts are grouped by the child's code prefix in SQL.

use std::collections::HashMap;

use backstop_core::region::Scope;
use sqlx::Row;

use crate::kernel::access::Scoped;
use crate::kernel::error::AppResult;
use crate::kernel::queries::ranged;
use crate::state::AppState;

/// The child regions of the handle's node, with the length of their codes.
async fn child_regions(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<(usize, Vec<(String, String)>)> {
    let (len, rows) = match scope.node() {
        Scope::National => (
            2,
            sqlx::query("SELECT code, name FROM regions WHERE parent_code IS NULL ORDER BY code")
                .fetch_all(state.db.pool())
                .await?,
        ),
        Scope::Region(r) => match r.level().child() {
            None => return Ok((0, Vec::new())),
            Some(l) => (
                l.code_len(),
                sqlx::query("SELECT code, name FROM regions WHERE parent_code = $1 ORDER BY code")
                    .bind(r.as_str())
                    .fetch_all(state.db.pool())
                    .await?,
            ),
        },
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((r.try_get("code")?, r.try_get("name")?));
    }
    Ok((len, out))
}

/// Counts grouped by the child-region prefix of `region_code` under the handle; `from_where`
/// selects from a table with a `region_code` column, its range condition on `$1`/`$2` and,
/// when `campaign` is given, the campaign on `$3`.
async fn counts_by_child(
    state: &AppState,
    scope: &Scoped<'_>,
    from_where: &str,
    len: usize,
    campaign: Option<i64>,
) -> AppResult<HashMap<String, i64>> {
    let sql = format!(
        "SELECT SUBSTR(region_code, 1, {len}) AS c, CAST(COUNT(*) AS BIGINT) AS n {from_where} \
         GROUP BY SUBSTR(region_code, 1, {len})"
    );
    let mut q = ranged(scope, sql);
    if let Some(c) = campaign {
        q = q.bind(c);
    }
    let rows = q.fetch_all(state.db.pool()).await?;
    let mut out = HashMap::new();
    for r in rows {
        out.insert(r.try_get::<String, _>("c")?, r.try_get::<i64, _>("n")?);
    }
    Ok(out)
}

const ROLL: &str = "FROM households WHERE region_code >= $1 AND region_code < $2";
const REACHED: &str = "FROM screening_visits WHERE region_code >= $1 AND region_code < $2 \
    AND campaign_id = $3 AND reached = 1";
const ACTIVE: &str =
    "FROM observations WHERE region_code >= $1 AND region_code < $2 AND status = 'active'";

async fn total(
    state: &AppState,
    scope: &Scoped<'_>,
    from_where: &str,
    campaign: Option<i64>,
) -> AppResult<i64> {
    let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) {from_where}");
    let (lo, hi) = scope.range();
    let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(lo)
        .bind(hi);
    if let Some(c) = campaign {
        q = q.bind(c);
    }
    Ok(q.fetch_one(state.db.pool()).await?)
}

/// Households on the roll under the handle, and those the campaign reached.
pub(in crate::screening) async fn campaign_totals(
    state: &AppState,
    scope: &Scoped<'_>,
    campaign_id: i64,
) -> AppResult<(i64, i64)> {
    Ok((
        total(state, scope, ROLL, None).await?,
        total(state, scope, REACHED, Some(campaign_id)).await?,
    ))
}

/// Per child region of the handle's node: (code, name, households on the roll, reached).
pub(in crate::screening) async fn campaign_by_child(
    state: &AppState,
    scope: &Scoped<'_>,
    campaign_id: i64,
) -> AppResult<Vec<(String, String, i64, i64)>> {
    let (len, kids) = child_regions(state, scope).await?;
    if kids.is_empty() {
        return Ok(Vec::new());
    }
    let on_roll = counts_by_child(state, scope, ROLL, len, None).await?;
    let done = counts_by_child(state, scope, REACHED, len, Some(campaign_id)).await?;
    Ok(kids
        .into_iter()
        .map(|(code, name)| {
            let h = on_roll.get(&code).copied().unwrap_or(0);
            let r = done.get(&code).copied().unwrap_or(0);
            (code, name, h, r)
        })
        .collect())
}

/// Active observations under the handle.
pub(in crate::screening) async fn observations_active(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<i64> {
    total(state, scope, ACTIVE, None).await
}

/// Per child region of the handle's node: (code, name, active observations).
pub(in crate::screening) async fn observations_by_child(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<(String, String, i64)>> {
    let (len, kids) = child_regions(state, scope).await?;
    if kids.is_empty() {
        return Ok(Vec::new());
    }
    let counts = counts_by_child(state, scope, ACTIVE, len, None).await?;
    Ok(kids
        .into_iter()
        .map(|(code, name)| {
            let n = counts.get(&code).copied().unwrap_or(0);
            (code, name, n)
        })
        .collect())
}
