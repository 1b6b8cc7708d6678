//! SQL of the due-time settings (`assistance_settings`): one row per region that set its own
//! (a county, or a city/province its counties inherit from; the column keeps its first name,
//! `county_code`). Settings are policy, not personal data: the lookup reads the lineage.

use sqlx::Row;

use super::placeholders;
use crate::assistance::Settings;
use crate::kernel::access::Tx;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// The nearest settings set in `lineage` (the region itself first): the region that set
/// them and the values.
pub(in crate::assistance) async fn settings_in_force(
    state: &AppState,
    lineage: &[String],
) -> AppResult<Option<(String, Settings)>> {
    if lineage.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT county_code, verify_days, review_days, approve_days, publicity_days, aid_first_days \
         FROM assistance_settings WHERE county_code IN ({}) ORDER BY LENGTH(county_code) DESC LIMIT 1",
        placeholders(1, lineage.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for c in lineage {
        q = q.bind(c.clone());
    }
    let row = q.fetch_optional(state.db.pool()).await?;
    Ok(match row {
        None => None,
        Some(r) => Some((
            r.try_get("county_code")?,
            Settings {
                verify_days: r.try_get("verify_days")?,
                review_days: r.try_get("review_days")?,
                approve_days: r.try_get("approve_days")?,
                publicity_days: r.try_get("publicity_days")?,
                aid_first_days: r.try_get("aid_first_days")?,
            },
        )),
    })
}

/// Set a region's own due times (insert or replace).
pub(in crate::assistance) async fn put_settings(
    tx: &mut Tx,
    region: &str,
    s: &Settings,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO assistance_settings (county_code, verify_days, review_days, approve_days, publicity_days, \
         aid_first_days, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (county_code) DO UPDATE SET verify_days = excluded.verify_days, \
         review_days = excluded.review_days, approve_days = excluded.approve_days, \
         publicity_days = excluded.publicity_days, aid_first_days = excluded.aid_first_days, \
         updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    )
    .bind(region.to_string())
    .bind(s.verify_days)
    .bind(s.review_days)
    .bind(s.approve_days)
    .bind(s.publicity_days)
    .bind(s.aid_first_days)
    .bind(by.to_string())
    .bind(now);
    tx.exec(q).await
}
