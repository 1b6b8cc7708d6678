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

/// Take `chain`'s append lock (PostgreSQL: advisory lock `(7261002, key)` until the
/// transaction ends; SQLite's writer lock is already held) and then read its head — in two
/// statements, so the read's snapshot is taken after the lock is granted.
pub(super) async fn lock_and_read_head(
    conn: &mut AnyConnection,
    backend: Backend,
    chain: &str,
    key: i64,
) -> Result<Option<String>, sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7261002, CAST($1 AS INTEGER))")
            .bind(key)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query_scalar("SELECT hash FROM audit_log WHERE chain = $1 ORDER BY id DESC LIMIT 1")
        .bind(chain.to_string())
        .fetch_optional(&mut *conn)
        .await
}

/// Every chain that has entries.
pub(super) async fn chains(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT chain FROM audit_log ORDER BY chain")
        .fetch_all(db.pool())
        .await
}

/// The last entry (id, hash) of every chain but `except`.
pub(super) async fn heads(
    conn: &mut AnyConnection,
    except: &str,
) -> Result<Vec<(String, i64, String)>, sqlx::Error> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT a.chain, a.id, a.hash FROM audit_log a \
         JOIN (SELECT chain, MAX(id) AS id FROM audit_log WHERE chain <> $1 GROUP BY chain) m \
         ON a.id = m.id ORDER BY a.chain",
    )
    .bind(except.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("chain")?, r.try_get("id")?, r.try_get("hash")?)))
        .collect()
}

/// The detail of the last entry with `action` on `chain`.
pub(super) async fn last_detail(
    conn: &mut AnyConnection,
    chain: &str,
    action: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE chain = $1 AND action = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(chain.to_string())
    .bind(action.to_string())
    .fetch_optional(&mut *conn)
    .await
}

/// The statement appending `rows` entries (13 values each, bound by the caller in order).
pub(super) fn insert_entries(backend: Backend, rows: usize) -> AppendQuery {
    let mut sql = String::with_capacity(200 + rows * 30);
    sql.push_str(backend.bulk_insert());
    sql.push_str(
        " INTO audit_log (at, user_id, username, source, action, object_type, \
         object_id, region_code, outcome, detail, prev_hash, hash, chain) VALUES ",
    );
    sql.push_str(&backstop_store::repeat_list(
        "(?,?,?,?,?,?,?,?,?,?,?,?,?)",
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

/// Up to 5,000 entries of `chain` after `last_id`, in id order, every column the hash covers.
pub(super) async fn chain_page(
    db: &Db,
    chain: &str,
    last_id: i64,
) -> Result<Vec<AnyRow>, sqlx::Error> {
    sqlx::query(
        "SELECT id, at, user_id, username, source, action, object_type, object_id, \
         region_code, outcome, detail, prev_hash, hash FROM audit_log \
         WHERE chain = $1 AND id > $2 ORDER BY id LIMIT 5000",
    )
    .bind(chain.to_string())
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
