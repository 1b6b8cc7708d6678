//! The query shapes every area's queries module repeats, run in one place: a list limited to a
//! scoped handle's code range, every row of a query mapped by the module's own row function,
//! and a row fetched by id and let through the handle ([`Scoped::admit`]). The SQL text stays
//! in the area's queries module; these functions only bind, run and map it (which is why this
//! file is named a queries module: `tests/it/layout.rs` allows SQL to run only in those).

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyConnection};

use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// A query on the `Any` driver, still taking binds.
pub type AnyQuery<'q> = sqlx::query::Query<'q, Any, AnyArguments>;

/// `sql` with the handle's code range `[lo, hi)` bound as `$1` and `$2`; further binds follow.
pub fn ranged<'q>(scope: &Scoped<'_>, sql: impl Into<String>) -> AnyQuery<'q> {
    let (lo, hi) = scope.range();
    sqlx::query(sqlx::AssertSqlSafe(sql.into()))
        .bind(lo)
        .bind(hi)
}

/// [`ranged`] with the days (or other bounds) `from` and `to` bound as `$3` and `$4`.
pub fn ranged_between<'q>(
    scope: &Scoped<'_>,
    sql: impl Into<String>,
    from: &str,
    to: &str,
) -> AnyQuery<'q> {
    ranged(scope, sql)
        .bind(from.to_string())
        .bind(to.to_string())
}

/// Every row `q` returns from the pool, mapped by `map`.
pub async fn all<T>(
    state: &AppState,
    q: AnyQuery<'_>,
    map: impl Fn(&AnyRow) -> Result<T, sqlx::Error>,
) -> AppResult<Vec<T>> {
    let rows = q.fetch_all(state.db.pool()).await?;
    Ok(rows.iter().map(map).collect::<Result<_, _>>()?)
}

/// The row `sql` selects by `id` (bound as `$1`), mapped by `map`, if the region `region`
/// reads from it is under the handle; *not found* when there is no such row or it lies outside.
pub async fn admitted<T>(
    state: &AppState,
    scope: &Scoped<'_>,
    sql: impl Into<String>,
    id: i64,
    map: impl FnOnce(&AnyRow) -> Result<T, sqlx::Error>,
    region: impl FnOnce(&T) -> &str,
) -> AppResult<T> {
    let row = sqlx::query(sqlx::AssertSqlSafe(sql.into()))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let found = map(&row)?;
    let code = region(&found).to_string();
    scope.admit(&code, found)
}

/// A record that lies in a region: [`admitted_row`] admits it by its `region_code`.
pub trait Regional {
    fn region_code(&self) -> &str;
}

/// Implement [`Regional`] for record types with a `region_code` field.
macro_rules! regional {
    ($($t:ty),+) => {
        $(impl $crate::kernel::queries::Regional for $t {
            fn region_code(&self) -> &str {
                &self.region_code
            }
        })+
    };
}
pub(crate) use regional;

/// [`admitted`] for a [`Regional`] record.
pub async fn admitted_row<T: Regional>(
    state: &AppState,
    scope: &Scoped<'_>,
    sql: impl Into<String>,
    id: i64,
    map: impl FnOnce(&AnyRow) -> Result<T, sqlx::Error>,
) -> AppResult<T> {
    admitted(state, scope, sql, id, map, T::region_code).await
}

/// The `region_name` column of a row (a `LEFT JOIN regions r` may find none: empty then).
pub fn region_name(r: &AnyRow) -> Result<String, sqlx::Error> {
    text_or_empty(r, "region_name")
}

/// A text column of a row that may be NULL (a `LEFT JOIN` that found nothing): empty then.
pub fn text_or_empty(r: &AnyRow, column: &str) -> Result<String, sqlx::Error> {
    Ok(sqlx::Row::try_get::<Option<String>, _>(r, column)?.unwrap_or_default())
}

/// `%`, `_` and `\` escaped for `LIKE … ESCAPE '\'`.
pub fn like_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// The one number `q` selects (a `CAST(COUNT(*) AS BIGINT)` or another `BIGINT`).
pub async fn number(state: &AppState, q: AnyQuery<'_>) -> AppResult<i64> {
    let row = q.fetch_one(state.db.pool()).await?;
    Ok(sqlx::Row::try_get(&row, 0)?)
}

/// Run one write statement on a write connection (`Tx::exec`).
pub async fn exec(conn: &mut AnyConnection, q: AnyQuery<'_>) -> AppResult<()> {
    q.execute(conn).await?;
    Ok(())
}

/// Run one write statement on a write connection; how many rows it changed (`Tx::changed`).
pub async fn changed(conn: &mut AnyConnection, q: AnyQuery<'_>) -> AppResult<u64> {
    Ok(q.execute(conn).await?.rows_affected())
}

/// Run an `INSERT … RETURNING id` on a write connection; the new row's id (`Tx::insert`).
pub async fn new_id(conn: &mut AnyConnection, q: AnyQuery<'_>) -> AppResult<i64> {
    let row = q.fetch_one(conn).await?;
    Ok(sqlx::Row::try_get(&row, 0)?)
}

/// Set the 0/1 flag `column` of the row `id` of `table` (a table without `updated_at`).
pub async fn set_flag(
    tx: &mut Tx,
    table: &'static str,
    column: &'static str,
    id: i64,
    on: bool,
) -> AppResult<()> {
    let sql = format!("UPDATE {table} SET {column} = $1 WHERE id = $2");
    tx.exec(
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(on))
            .bind(id),
    )
    .await
}

/// Disable or enable the row `id` of `table` (one with `disabled` and `updated_at` columns),
/// at the transaction's time: the one statement every area's disable/enable runs.
pub async fn set_disabled(
    tx: &mut Tx,
    table: &'static str,
    id: i64,
    disabled: bool,
) -> AppResult<()> {
    let now = tx.now();
    let sql = format!("UPDATE {table} SET disabled = $1, updated_at = $2 WHERE id = $3");
    tx.exec(
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(disabled))
            .bind(now)
            .bind(id),
    )
    .await
}

/// `(request_hash, location)` a page form sent under the user's idempotency key answered
/// (`kernel::replay`; the API's report submissions share the table, their keys unprefixed).
pub async fn page_replay(
    state: &AppState,
    (province, user_id): (&str, i64),
    key: &str,
) -> AppResult<Option<(String, String)>> {
    let row = sqlx::query(
        "SELECT request_hash, response FROM idempotency_keys \
         WHERE province = $1 AND user_id = $2 AND idem_key = $3",
    )
    .bind(province)
    .bind(user_id)
    .bind(key)
    .fetch_optional(state.db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some((
        sqlx::Row::try_get(&row, "request_hash")?,
        sqlx::Row::try_get(&row, "response")?,
    )))
}

/// Remember the answer (where it sent the browser) of a page form saved under a key.
pub async fn save_page_replay(
    state: &AppState,
    (province, user_id): (&str, i64),
    key: &str,
    request_hash: &str,
    location: &str,
    now_ms: i64,
) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO idempotency_keys (province, user_id, idem_key, request_hash, status, response, \
         created_at) VALUES ($1, $2, $3, $4, 303, $5, $6)",
    )
    .bind(province)
    .bind(user_id)
    .bind(key)
    .bind(request_hash)
    .bind(location)
    .bind(now_ms)
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(())
}
