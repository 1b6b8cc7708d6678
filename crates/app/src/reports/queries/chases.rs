//! Chases of missing units (`report_chases`, 催报 from the missing list).

use sqlx::Row;

use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::AppResult;
use crate::kernel::queries::{all, ranged};
use crate::reports::chase::Chase;
use crate::reports::missing::MissingUnit;
use crate::state::AppState;

/// Record one chase of a missing unit in the caller's transaction; returns its number among
/// the unit's chases of this form and period.
pub(in crate::reports) async fn insert_chase(
    tx: &mut Tx,
    template: &str,
    period: &str,
    m: &MissingUnit,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let province = m.region_code.get(..2).unwrap_or(&m.region_code).to_string();
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO report_chases (province, template_key, period, unit, seq, region_code, unit_name, chased_by, chased_at) \
         SELECT $1, $2, $3, $4, COALESCE(MAX(seq), 0) + 1, $5, $6, $7, $8 FROM report_chases \
         WHERE province = $1 AND template_key = $2 AND period = $3 AND unit = $4 RETURNING seq",
    )
    .bind(&province)
    .bind(template)
    .bind(period)
    .bind(&m.unit)
    .bind(&m.region_code)
    .bind(&m.name)
    .bind(by)
    .bind(now)
    .fetch_one(tx.conn())
    .await?;
    Ok(seq)
}

/// The chases of a form's period under the handle, newest first, at most `limit`.
pub(in crate::reports) async fn chases_under(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
    limit: i64,
) -> AppResult<Vec<Chase>> {
    let sql = "SELECT template_key, period, unit, unit_name, region_code, seq, chased_by, chased_at FROM report_chases \
         WHERE region_code >= $1 AND region_code < $2 AND template_key = $3 AND period = $4 \
         ORDER BY chased_at DESC, unit, seq DESC LIMIT $5";
    let q = ranged(scope, sql)
        .bind(template.to_string())
        .bind(period.to_string())
        .bind(limit);
    all(state, q, |r| {
        Ok(Chase {
            template: r.try_get("template_key")?,
            period: r.try_get("period")?,
            unit: r.try_get("unit")?,
            unit_name: r.try_get("unit_name")?,
            region_code: r.try_get("region_code")?,
            seq: r.try_get("seq")?,
            chased_by: r.try_get("chased_by")?,
            chased_at: backstop_core::clock::from_millis(r.try_get("chased_at")?).to_rfc3339(),
        })
    })
    .await
}
