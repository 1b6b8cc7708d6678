//! The live rollups (`report_rollup_counts`, `report_rollup_sums`, ADR 0005): the upserts a
//! submission leaves to the end of its group-commit batch, and the primary-key reads of
//! summaries and trends.

use std::collections::HashMap;

use backstop_store::{Deferred, Upsert, repeat_list};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::kernel::access::Scoped;
use crate::kernel::error::AppResult;
use crate::reports::form::Form;
use crate::reports::rollup::rollup_codes;
use crate::state::AppState;
use backstop_core::region::RegionCode;

/// The rollup counts' additive upsert (received, on time) of a (form, period, code) row.
static COUNTS: Upsert = Upsert {
    head: "INSERT INTO report_rollup_counts (template_key, period, code, received, on_time) VALUES",
    row: "(?,?,?,?,?)",
    tail: "ON CONFLICT (template_key, period, code) DO UPDATE SET \
           received = report_rollup_counts.received + excluded.received, \
           on_time = report_rollup_counts.on_time + excluded.on_time",
};

/// The rollup sums' additive upsert of a (form, period, code, field) row.
static SUMS: Upsert = Upsert {
    head: "INSERT INTO report_rollup_sums (template_key, period, code, field, total) VALUES",
    row: "(?,?,?,?,?)",
    tail: "ON CONFLICT (template_key, period, code, field) DO UPDATE SET \
           total = report_rollup_sums.total + excluded.total",
};

/// Leave the rollup deltas of one submission, at every level, to the end of its group-commit
/// batch ([`Deferred`], ADR 0016): the batch writes each row once, summed over its jobs, in
/// key order (so concurrent writers cannot deadlock on them, ADR 0005).
pub(in crate::reports) fn push_rollups(
    deferred: &mut Deferred,
    form: &Form,
    period: &str,
    region: &RegionCode,
    counts: Option<(i64, i64)>,
    deltas: &[(String, i64)],
) {
    for code in rollup_codes(region) {
        let key = |more: &[&str]| {
            let mut k = vec![form.key.clone(), period.to_string(), code.to_string()];
            k.extend(more.iter().map(|s| s.to_string()));
            k
        };
        if let Some((received, on_time)) = counts {
            deferred.add(&COUNTS, key(&[]), &[received, on_time]);
        }
        for (field, d) in deltas.iter().filter(|(_, d)| *d != 0) {
            deferred.add(&SUMS, key(&[field.as_str()]), &[*d]);
        }
    }
}

/// Rollup rows of the given region codes, by primary key: `code → (received, on_time)` and
/// `code → [(field, total)]`.
pub(in crate::reports) type RollupRows = (
    HashMap<String, (i64, i64)>,
    HashMap<String, Vec<(String, i64)>>,
);

/// The rollup rows of `codes` (the handle's region and its children, which the caller took
/// from the handle) for one form and period.
pub(in crate::reports) async fn rollups_of(
    state: &AppState,
    template: &str,
    period: &str,
    codes: &[String],
) -> AppResult<RollupRows> {
    // One statement for both tables (a read while the morning's reports pour in, when every
    // round trip waits its turn), one `UNION ALL` branch per code and table with the whole
    // key prefix as equalities. Not `code IN (…)`: on PostgreSQL today's period is never in
    // the statistics (it is new every morning), the planner expects one row for it and scans
    // the whole day of the primary key filtering on `code` — 180,000 rows and 50–80 ms for
    // the nation at 10:00 (ADR 0016). Counts come as rows with an empty `field`. 100 codes
    // = 200 branches, under SQLite's 500-term limit on a compound select.
    const COUNTS: &str = "SELECT code, '' AS field, received, on_time FROM report_rollup_counts \
         WHERE template_key = ? AND period = ? AND code = ?";
    const SUMS: &str = "SELECT code, field, total AS received, 0 AS on_time FROM report_rollup_sums \
         WHERE template_key = ? AND period = ? AND code = ?";
    let mut out: RollupRows = Default::default();
    for chunk in codes.chunks(100) {
        let branches: Vec<&str> = [COUNTS, SUMS]
            .into_iter()
            .flat_map(|b| std::iter::repeat_n(b, chunk.len()))
            .collect();
        let sql = state.db.sql(&branches.join(" UNION ALL "));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for _ in 0..2 {
            for c in chunk {
                q = q
                    .bind(template.to_string())
                    .bind(period.to_string())
                    .bind(c.clone());
            }
        }
        for r in q.fetch_all(state.db.reader()).await? {
            let code: String = r.try_get("code")?;
            let field: String = r.try_get("field")?;
            let (a, b): (i64, i64) = (r.try_get("received")?, r.try_get("on_time")?);
            if field.is_empty() {
                out.0.insert(code, (a, b));
            } else {
                out.1.entry(code).or_default().push((field, a));
            }
        }
    }
    Ok(out)
}

/// Add rows of `report_rollup_counts` (`key`, received, on_time) and of `report_rollup_sums`
/// (`key`, field, total) to `out`, by the column `key`.
fn fold(
    out: &mut RollupRows,
    key: &str,
    counts: &[AnyRow],
    sums: &[AnyRow],
) -> Result<(), sqlx::Error> {
    for r in counts {
        out.0.insert(
            r.try_get(key)?,
            (r.try_get("received")?, r.try_get("on_time")?),
        );
    }
    for r in sums {
        out.1
            .entry(r.try_get(key)?)
            .or_default()
            .push((r.try_get("field")?, r.try_get("total")?));
    }
    Ok(())
}

/// The handle's own rollup rows of a form over the periods `from..=until` (daily periods):
/// `period → (received, on_time)` and `period → [(field, total)]`.
pub(in crate::reports) async fn rollups_over(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    from: &str,
    until: &str,
) -> AppResult<RollupRows> {
    let code = scope.node().as_str();
    let read = |cols: &'static str, table: &'static str| {
        let sql = format!(
            "SELECT {cols} FROM {table} WHERE template_key = $1 AND code = $2 \
             AND period >= $3 AND period <= $4"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(template.to_string())
            .bind(code.to_string())
            .bind(from.to_string())
            .bind(until.to_string())
            .fetch_all(state.db.pool())
    };
    let counts = read("period, received, on_time", "report_rollup_counts").await?;
    let sums = read("period, field, total", "report_rollup_sums").await?;
    let mut out: RollupRows = Default::default();
    fold(&mut out, "period", &counts, &sums)?;
    Ok(out)
}

/// The sums of a form's rollup rows of `codes` over the daily periods `from..=until` (累计):
/// `code → [(field, total)]`. The codes are the handle's region and its children (the
/// caller took them from the handle, as for [`rollups_of`]).
pub(in crate::reports) async fn sums_between(
    state: &AppState,
    template: &str,
    (from, until): (&str, &str),
    codes: &[String],
) -> AppResult<HashMap<String, Vec<(String, i64)>>> {
    let mut out: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for chunk in codes.chunks(500) {
        let list = repeat_list("?", chunk.len());
        let sql = state.db.sql(&format!(
            "SELECT code, field, CAST(SUM(total) AS BIGINT) AS total FROM report_rollup_sums \
             WHERE template_key = ? AND period >= ? AND period <= ? AND code IN ({list}) GROUP BY code, field"
        ));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(template.to_string())
            .bind(from.to_string())
            .bind(until.to_string());
        for c in chunk {
            q = q.bind(c.clone());
        }
        for r in q.fetch_all(state.db.reader()).await? {
            out.entry(r.try_get("code")?)
                .or_default()
                .push((r.try_get("field")?, r.try_get("total")?));
        }
    }
    Ok(out)
}
