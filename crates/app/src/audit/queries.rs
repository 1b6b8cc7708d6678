//! Every SQL statement of the audit trail, and the only file of the area that runs one: the
//! append lock and the chain's head, the multi-row append statement, the pages of the chain
//! for verification, and the scoped search.

use backstop_store::{Arg, Backend, Db};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::kernel::access::Scoped;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// A statement that appends entries to the chain, built by [`super::Chain::prepare`].
pub type AppendQuery = crate::kernel::queries::AnyQuery<'static>;

/// Take `chain`'s append lock and read its head, in one statement: the upsert of the chain's
/// row in `audit_heads` locks the row until the transaction ends (SQLite: its writer lock is
/// already held), and after waiting for another appender it returns the head as that one
/// committed it. A chain's first append finds no row and starts from `genesis`.
pub(super) async fn lock_and_read_head(
    conn: &mut AnyConnection,
    chain: &str,
    genesis: &str,
) -> Result<String, sqlx::Error> {
    let sql = backstop_store::number_placeholders(LOCK_HEAD);
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(chain.to_string())
        .bind(genesis.to_string())
        .fetch_one(&mut *conn)
        .await
}

/// The statement of [`lock_and_read_head`] (`?` placeholders: the chain, the genesis hash), for
/// a caller that folds it into a statement of its own (PostgreSQL, as a `WITH` part).
pub const LOCK_HEAD: &str = "INSERT INTO audit_heads (chain, hash) VALUES (?, ?) \
    ON CONFLICT (chain) DO UPDATE SET chain = excluded.chain RETURNING hash";

/// The statement moving `chain`'s head to `hash` after its entries (`?` placeholders).
pub(super) fn move_head(chain: &str, hash: &str) -> (String, Vec<Arg>) {
    (
        "UPDATE audit_heads SET hash = ? WHERE chain = ?".to_string(),
        vec![Arg::from(hash), Arg::from(chain)],
    )
}

/// The head `audit_heads` holds for every chain.
pub(super) async fn kept_heads(db: &Db) -> Result<Vec<(String, String)>, sqlx::Error> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT chain, hash FROM audit_heads ORDER BY chain")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("chain")?, r.try_get("hash")?)))
        .collect()
}

/// The id of `chain`'s last entry.
pub(super) async fn last_id(db: &Db, chain: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MAX(id) FROM audit_log WHERE chain = $1")
        .bind(chain.to_string())
        .fetch_one(db.pool())
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
         ON a.chain = m.chain AND a.id = m.id ORDER BY a.chain",
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

/// The statement appending `rows` entries (13 values each, in order; `?` placeholders).
pub(super) fn insert_entries(backend: Backend, rows: usize) -> String {
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
    sql
}

/// Run an append's statements (the entries and the heads' move) in one round trip (one at a
/// time on Citus, `Script::execute_on`).
pub(super) async fn run_script(
    conn: &mut AnyConnection,
    script: backstop_store::Script,
    db: &Db,
) -> Result<(), sqlx::Error> {
    script.execute_on(conn, db).await
}

/// A prepared statement of `sql` (`?` placeholders) with its arguments.
pub(super) fn bound(backend: Backend, sql: &str, args: Vec<Arg>) -> AppendQuery {
    backstop_store::bind_all(sqlx::query(sqlx::AssertSqlSafe(backend.sql(sql))), args)
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
    if let backstop_core::region::Scope::Region(code) = scope.node() {
        // A region's entries are on its province's chain (a pinned bulk chain is the chain of
        // the region it ran for, inside it): one shard on Citus.
        push(
            &mut sql,
            " AND chain = ?",
            ArgVal::S(super::chain_of(code.as_str()).to_string()),
        );
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
