//! The live rollups (`report_rollup_counts`, `report_rollup_sums`, ADR 0005): the upserts a
//! submission leaves to the end of its group-commit batch, and the primary-key reads of
//! summaries and trends.

use std::collections::HashMap;

use backstop_store::{Arg, Deferred, Upsert, bind_all, repeat_list};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::kernel::access::Scoped;
use crate::kernel::error::AppResult;
use crate::reports::NATION;
use crate::reports::form::Form;
use crate::reports::rollup::rollup_codes;
use crate::state::AppState;
use backstop_core::region::RegionCode;

/// The rollup counts' additive upsert (received, on time) of a (form, period, code) row.
static COUNTS: Upsert = Upsert {
    head: "INSERT INTO report_rollup_counts (template_key, period, code, province, received, on_time) VALUES",
    row: "(?,?,?,?,?,?)",
    tail: "ON CONFLICT (template_key, period, code, province) DO UPDATE SET \
           received = report_rollup_counts.received + excluded.received, \
           on_time = report_rollup_counts.on_time + excluded.on_time",
};

/// The rollup sums' additive upsert of a (form, period, code, field) row.
static SUMS: Upsert = Upsert {
    head: "INSERT INTO report_rollup_sums (template_key, period, code, province, field, total) VALUES",
    row: "(?,?,?,?,?,?)",
    tail: "ON CONFLICT (template_key, period, code, field, province) DO UPDATE SET \
           total = report_rollup_sums.total + excluded.total",
};

/// Leave the rollup deltas of one submission, at every level, to the end of its group-commit
/// batch ([`Deferred`], ADR 0016): the batch writes each row once, summed over its jobs, in
/// key order (so concurrent writers cannot deadlock on them, ADR 0005). Every row carries the
/// unit's province (migration 0064): the nation's row is one row per province, so no row is
/// shared by two provinces' writers, and on Citus the whole write stays on the province's shard.
pub(in crate::reports) fn push_rollups(
    deferred: &mut Deferred,
    form: &Form,
    period: &str,
    region: &RegionCode,
    counts: Option<(i64, i64)>,
    deltas: &[(String, i64)],
) {
    let province = crate::audit::chain_of(region.as_str());
    for code in rollup_codes(region) {
        let key = |more: &[&str]| {
            let mut k = vec![
                form.key.clone(),
                period.to_string(),
                code.to_string(),
                province.to_string(),
            ];
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
    // Each branch names the province too (one shard on Citus), but the nation's: its rows are
    // one per province, added up here.
    const COUNTS: &str = "SELECT code, '' AS field, received, on_time FROM report_rollup_counts \
         WHERE template_key = ? AND period = ? AND code = ?";
    const SUMS: &str = "SELECT code, field, total AS received, 0 AS on_time FROM report_rollup_sums \
         WHERE template_key = ? AND period = ? AND code = ?";
    const IN_PROVINCE: &str = " AND province = ?";
    let mut out: RollupRows = Default::default();
    for chunk in codes.chunks(100) {
        let mut branches: Vec<String> = Vec::with_capacity(chunk.len() * 2);
        let mut args: Vec<Arg> = Vec::with_capacity(chunk.len() * 8);
        for table in [COUNTS, SUMS] {
            for c in chunk {
                args.extend([Arg::from(template), Arg::from(period), Arg::from(c)]);
                if c == NATION {
                    branches.push(table.to_string());
                } else {
                    branches.push(format!("{table}{IN_PROVINCE}"));
                    args.push(Arg::from(crate::audit::chain_of(c)));
                }
            }
        }
        let sql = state.db.sql(&branches.join(" UNION ALL "));
        let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), args);
        for r in q.fetch_all(state.db.reader()).await? {
            let code: String = r.try_get("code")?;
            let field: String = r.try_get("field")?;
            let (a, b): (i64, i64) = (r.try_get("received")?, r.try_get("on_time")?);
            if field.is_empty() {
                add_counts(&mut out, code, (a, b));
            } else {
                add_sum(&mut out, code, field, a);
            }
        }
    }
    Ok(out)
}

/// Add a rollup count row to `out` (the nation's row comes as one row per province).
fn add_counts(out: &mut RollupRows, key: String, (received, on_time): (i64, i64)) {
    let e = out.0.entry(key).or_insert((0, 0));
    e.0 += received;
    e.1 += on_time;
}

/// Add a rollup sum row to `out`.
fn add_sum(out: &mut RollupRows, key: String, field: String, total: i64) {
    let fields = out.1.entry(key).or_default();
    match fields.iter_mut().find(|(f, _)| *f == field) {
        Some(e) => e.1 += total,
        None => fields.push((field, total)),
    }
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
        add_counts(
            out,
            r.try_get(key)?,
            (r.try_get("received")?, r.try_get("on_time")?),
        );
    }
    for r in sums {
        add_sum(
            out,
            r.try_get(key)?,
            r.try_get("field")?,
            r.try_get("total")?,
        );
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
    // The province too, but for the nation (whose rows, one per province, are added up).
    let province = (code != NATION).then(|| crate::audit::chain_of(code));
    let read = |cols: &'static str, table: &'static str| {
        let sql = format!(
            "SELECT {cols} FROM {table} WHERE template_key = $1 AND code = $2 \
             AND period >= $3 AND period <= $4{}",
            if province.is_some() {
                " AND province = $5"
            } else {
                ""
            }
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(template.to_string())
            .bind(code.to_string())
            .bind(from.to_string())
            .bind(until.to_string());
        match province {
            Some(p) => q.bind(p.to_string()),
            None => q,
        }
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
