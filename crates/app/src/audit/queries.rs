//! Every SQL statement of the audit trail, and the only file of the area that runs one: the
//! append lock and the chain's head, the multi-row append statement, the pages of the chain
//! for verification, and the scoped search.

use backstop_store::{Backend, Db};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::kernel::access::Scoped;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// A statement that appends entries to the chain, built by [`super::Chain::prepare`].
pub type AppendQuery = crate::kernel::queries::AnyQuery<'static>;

/// Take the append lock (PostgreSQL; SQLite's writer lock is already held) and read the head.
pub(super) async fn lock_and_read_head(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<Option<String>, sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7261002)")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await
}

/// The statement appending `rows` entries (12 values each, bound by the caller in order).
pub(super) fn insert_entries(backend: Backend, rows: usize) -> AppendQuery {
    let mut sql = String::with_capacity(200 + rows * 30);
    sql.push_str(backend.bulk_insert());
    sql.push_str(
        " INTO audit_log (at, user_id, username, source, action, object_type, \
         object_id, region_code, outcome, detail, prev_hash, hash) VALUES ",
    );
    sql.push_str(&backstop_store::repeat_list(
        "(?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    ));
    sqlx::query(sqlx::AssertSqlSafe(backend.sql(&sql)))
}

/// Execute prepared append statements, in order.
pub(super) async fn run_appends(
    conn: &mut AnyConnection,
    statements: Vec<AppendQuery>,
) -> Result<(), sqlx::Error> {
    for q in statements {
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Up to 5,000 entries after `last_id`, in id order, every column the hash covers.
pub(super) async fn chain_page(db: &Db, last_id: i64) -> Result<Vec<AnyRow>, sqlx::Error> {
    sqlx::query(
        "SELECT id, at, user_id, username, source, action, object_type, object_id, \
         region_code, outcome, detail, prev_hash, hash FROM audit_log \
         WHERE id > $1 ORDER BY id LIMIT 5000",
    )
    .bind(last_id)
    .fetch_all(db.pool())
    .await
}

/// One value of a search condition.
pub(super) enum ArgVal {
    S(String),
    I(i64),
}

/// The search: entries under the handle (a regional handle limits `region_code` to its range;
/// the national one reads every entry, those recorded at `"0"` included), with the further
/// conditions (`column op ?` fragments and their values), newest first.
pub(super) async fn search(
    state: &AppState,
    scope: &Scoped<'_>,
    conditions: Vec<(&'static str, ArgVal)>,
    limit: i64,
) -> AppResult<Vec<AnyRow>> {
    let mut sql = String::from(
        "SELECT id, at, username, source, action, object_type, object_id, region_code, outcome, \
         detail FROM audit_log WHERE 1=1",
    );
    let mut args: Vec<ArgVal> = Vec::new();
    let mut push = |sql: &mut String, frag: &str, v: ArgVal| {
        args.push(v);
        sql.push_str(&frag.replace("?", &format!("${}", args.len())));
    };
    if let backstop_core::region::Scope::Region(_) = scope.node() {
        let (lo, hi) = scope.range();
        push(&mut sql, " AND region_code >= ?", ArgVal::S(lo.to_string()));
        push(&mut sql, " AND region_code < ?", ArgVal::S(hi.to_string()));
    }
    for (frag, v) in conditions {
        push(&mut sql, frag, v);
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in args {
        query = match a {
            ArgVal::S(s) => query.bind(s),
            ArgVal::I(i) => query.bind(i),
        };
    }
    Ok(query.fetch_all(state.db.pool()).await?)
}
