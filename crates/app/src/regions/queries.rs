//! Every SQL statement of regions, and the only file of the area that runs one.
//!
//! The region tree is the scope itself: reading below a region takes the [`Scoped`] handle
//! for it (made only for a region inside the actor's scope). [`find`] reads one region by code
//! without scope, for the other areas' validation of codes they were given. Writing a grid
//! takes the open [`Tx`]; the bulk loads ([`insert_rows`]) take the connection of their own
//! transaction, as the import keeps it.

use backstop_core::region::{RegionLevel, Scope};
use sqlx::{AnyConnection, Row};

use super::Region;
use super::import::RegionRow;
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::AppResult;
use crate::people::pinyin::place_initials;
use crate::state::AppState;

fn from_row(r: &sqlx::any::AnyRow) -> Result<Region, sqlx::Error> {
    sqlx::FromRow::from_row(r)
}

/// One region by code, without scope.
pub(super) async fn find(state: &AppState, code: &str) -> AppResult<Option<Region>> {
    let row = sqlx::query("SELECT code, name, level, parent_code FROM regions WHERE code = $1")
        .bind(code)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// The children of the handle's region, by code (the provinces for a national handle).
pub(super) async fn children(state: &AppState, scope: &Scoped<'_>) -> AppResult<Vec<Region>> {
    match scope.node() {
        Scope::Region(parent) => children_of(state, Some(parent.as_str())).await,
        Scope::National => children_of(state, None).await,
    }
}

/// The children of a region (the provinces for `None`), by code. Region names and codes are
/// public (the national table); the public pages list them without an account.
pub(super) async fn children_of(state: &AppState, parent: Option<&str>) -> AppResult<Vec<Region>> {
    let rows = match parent {
        Some(parent) => {
            sqlx::query(
                "SELECT code, name, level, parent_code FROM regions WHERE parent_code = $1 ORDER BY code",
            )
            .bind(parent)
            .fetch_all(state.db.pool())
            .await?
        }
        None => {
            sqlx::query(
                "SELECT code, name, level, parent_code FROM regions WHERE parent_code IS NULL ORDER BY code",
            )
            .fetch_all(state.db.pool())
            .await?
        }
    };
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Regions by level under the handle: for a national handle every level in `levels` order,
/// for a region the regions below it (itself not counted).
pub(super) async fn count_by_level(
    state: &AppState,
    scope: &Scoped<'_>,
    levels: &[&str],
) -> AppResult<Vec<(String, i64)>> {
    let mut out = Vec::new();
    match scope.node() {
        Scope::National => {
            for level in levels {
                let n: i64 = sqlx::query_scalar(
                    "SELECT CAST(COUNT(*) AS BIGINT) FROM regions WHERE level = $1",
                )
                .bind(*level)
                .fetch_one(state.db.pool())
                .await?;
                out.push((level.to_string(), n));
            }
        }
        Scope::Region(_) => {
            let (lo, hi) = scope.range();
            let rows = sqlx::query(
                "SELECT level, CAST(COUNT(*) AS BIGINT) AS n FROM regions WHERE code > $1 AND code < $2 GROUP BY level",
            )
            .bind(lo)
            .bind(hi)
            .fetch_all(state.db.pool())
            .await?;
            for r in rows {
                out.push((r.try_get::<String, _>("level")?, r.try_get::<i64, _>("n")?));
            }
        }
    }
    Ok(out)
}

/// The highest grid code under a village (read inside the write transaction).
pub(super) async fn last_grid(tx: &mut Tx, village: &str) -> AppResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT MAX(code) FROM regions WHERE parent_code = $1")
            .bind(village)
            .fetch_one(tx.conn())
            .await?,
    )
}

/// Is there already a grid of this name under the village?
pub(super) async fn grid_named(tx: &mut Tx, village: &str, name: &str) -> AppResult<bool> {
    let dup: Option<String> =
        sqlx::query_scalar("SELECT code FROM regions WHERE parent_code = $1 AND name = $2")
            .bind(village)
            .bind(name)
            .fetch_optional(tx.conn())
            .await?;
    Ok(dup.is_some())
}

pub(super) async fn insert_grid(
    tx: &mut Tx,
    code: &str,
    name: &str,
    village: &str,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO regions (code, name, level, parent_code, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(code)
    .bind(name)
    .bind(RegionLevel::Grid.as_str())
    .bind(village)
    .bind(now);
    tx.exec(q).await
}

/// The codes of every region of a level (the import's parent sets).
pub(super) async fn codes_of_level(state: &AppState, level: RegionLevel) -> AppResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT code FROM regions WHERE level = $1")
            .bind(level.as_str())
            .fetch_all(state.db.pool())
            .await?,
    )
}

/// Number of regions of a level.
pub(super) async fn count_level(state: &AppState, level: RegionLevel) -> AppResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM regions WHERE level = $1")
            .bind(level.as_str())
            .fetch_one(state.db.pool())
            .await?,
    )
}

/// Rows per statement of the bulk upsert.
pub(super) const BATCH: usize = 1000;

/// Upsert rows in batches on an open transaction.
pub async fn insert_rows(
    conn: &mut AnyConnection,
    backend: backstop_store::Backend,
    rows: &[RegionRow],
    now: i64,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    let mut done = 0u64;
    for chunk in rows.chunks(BATCH) {
        let mut sql = String::from(
            "INSERT INTO regions (code, name, level, parent_code, created_at, initials) VALUES ",
        );
        sql.push_str(&backstop_store::repeat_list("(?,?,?,?,?,?)", chunk.len()));
        sql.push_str(
            " ON CONFLICT (code) DO UPDATE SET name = excluded.name, initials = excluded.initials \
             WHERE regions.name <> excluded.name OR regions.initials IS NULL",
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(backend.sql(&sql)));
        for r in chunk {
            q = q
                .bind(r.code.as_str())
                .bind(r.name.as_str())
                .bind(r.level.as_str())
                .bind(r.parent.as_deref())
                .bind(now)
                .bind(place_initials(&r.name));
        }
        changed += q.execute(&mut *conn).await?.rows_affected();
        done += chunk.len() as u64;
        progress(done);
    }
    Ok(changed)
}

/// Fill the pinyin initials of regions written before they existed (`initials IS NULL`:
/// migration 0021), 1,000 rows per write transaction in code order. Idempotent. Returns the
/// number of rows filled.
pub async fn backfill_initials(db: &backstop_store::Db) -> Result<u64, sqlx::Error> {
    let mut done = 0u64;
    loop {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT code, name FROM regions WHERE initials IS NULL ORDER BY code LIMIT 1000",
        )
        .fetch_all(db.pool())
        .await?;
        if rows.is_empty() {
            break;
        }
        let mut w = db.begin_write().await?;
        for (code, name) in &rows {
            sqlx::query("UPDATE regions SET initials = $1 WHERE code = $2")
                .bind(place_initials(name))
                .bind(code)
                .execute(w.conn())
                .await?;
            done += 1;
        }
        w.commit().await?;
    }
    if done > 0 {
        tracing::info!(rows = done, "region pinyin initials filled");
    }
    Ok(done)
}
