//! The audit trail: an append-only, hash-chained log of every login, logout, permission
//! change and every create/update/delete in any area.
//!
//! Each entry's `hash` is SHA-256 over the previous entry's hash and this entry's fields, so
//! changing or removing any row breaks the chain at that row; `verify` walks every chain.
//! There is one chain per province and one national chain (issue 21 item 4, ADR 0016): an
//! entry goes to its region's province's chain, appends to one chain are serialised (the
//! SQLite writer lock, a PostgreSQL advisory lock per chain) and happen in the same transaction
//! as the change they record, so there is no change without its entry and the provinces never
//! wait for each other; [`record_heads`] pins every province chain's head in the national chain.
//! The database also refuses UPDATE/DELETE on the table (triggers in migration 0001).
//! Personal data in `detail` is masked by the caller before it gets here.
//!
//! Where it lives: this file (what an entry is, appending one or many), `chain` (the hash, the
//! chain's head, the bulk path's prepared statements, verification), `search` (the auditor's
//! scoped search) and `queries` (every SQL statement of the area).

mod chain;
pub mod labels;
pub mod pages;
mod queries;
mod search;
pub mod web;

pub use chain::{Chain, GENESIS, HEADS_ACTION, NATIONAL, VerifyReport, chain_of, verify};
pub use queries::AppendQuery;
pub use queries::LOCK_HEAD;
pub use search::{AuditQuery, AuditRow, search};

use backstop_store::Db;
use serde_json::Value;
use sqlx::AnyConnection;

use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// Who did it, for entries written without a full actor (failed logins).
#[derive(Debug, Clone)]
pub struct Who {
    pub user_id: Option<i64>,
    pub username: String,
    pub source: String,
}

impl Who {
    /// The service itself (`system`), acting for `source` (a scheduler, the federation sync…).
    pub fn system(source: &str) -> Who {
        Who {
            user_id: None,
            username: "system".into(),
            source: source.into(),
        }
    }
}

impl From<&Actor> for Who {
    fn from(a: &Actor) -> Self {
        Who {
            user_id: a.user_id,
            username: a.username.clone(),
            source: a.source.clone(),
        }
    }
}

/// One entry to append.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    /// Region the object belongs to ('0' for national objects), for scoped audit search.
    pub region_code: String,
    /// "success" or "failure".
    pub outcome: &'a str,
    /// Before → after of changed fields (masked), or other context.
    pub detail: Value,
}

/// Build `{"field": {"before": .., "after": ..}}` for the fields that differ.
pub fn diff(pairs: &[(&str, Value, Value)]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, before, after) in pairs {
        if before != after {
            m.insert(
                (*k).to_string(),
                serde_json::json!({"before": before, "after": after}),
            );
        }
    }
    Value::Object(m)
}

/// Append an entry inside the caller's write transaction.
pub async fn append(
    conn: &mut AnyConnection,
    db: &Db,
    at_ms: i64,
    who: &Who,
    e: Entry<'_>,
) -> Result<(), sqlx::Error> {
    append_many(conn, db, at_ms, who, std::slice::from_ref(&e)).await
}

/// Append many entries, chained in order, inside the caller's write transaction: one read of
/// the chain head and one multi-row `INSERT` per 1,000 entries, instead of two statements each
/// (bulk paths such as the roster import). The result is the same chain `append` would build.
pub async fn append_many(
    conn: &mut AnyConnection,
    db: &Db,
    at_ms: i64,
    who: &Who,
    entries: &[Entry<'_>],
) -> Result<(), sqlx::Error> {
    Chain::default().append(conn, db, at_ms, who, entries).await
}

/// Append an entry in its own transaction (failed logins, reveals, reads worth recording).
pub async fn append_alone(state: &AppState, who: &Who, e: Entry<'_>) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    append(w.conn(), &state.db, state.now_ms(), who, e).await?;
    w.commit().await?;
    Ok(())
}

/// Record in the national chain the head (last id and hash) of every other chain that moved
/// since the last record, as the system; `verify` then finds a chain cut back below a recorded
/// head. Run every few minutes by the service. Returns how many heads were recorded.
pub async fn record_heads(state: &AppState) -> AppResult<usize> {
    let who = Who::system("audit");
    let mut w = state.db.begin_write().await?;
    let mut chain = Chain::default();
    chain.start(w.conn(), NATIONAL).await?;
    let heads = queries::heads(w.conn(), NATIONAL).await?;
    let last: serde_json::Value = queries::last_detail(w.conn(), NATIONAL, HEADS_ACTION)
        .await?
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or_default();
    let mut moved = serde_json::Map::new();
    for (c, id, hash) in heads {
        if last["heads"][&c]["id"].as_i64() != Some(id) {
            moved.insert(c, serde_json::json!({"id": id, "hash": hash}));
        }
    }
    if moved.is_empty() {
        return Ok(0);
    }
    let n = moved.len();
    let entry = Entry {
        action: HEADS_ACTION,
        object_type: "audit_chain",
        object_id: String::new(),
        region_code: "0".to_string(),
        outcome: "success",
        detail: serde_json::json!({ "heads": moved }),
    };
    chain
        .append(
            w.conn(),
            &state.db,
            state.now_ms(),
            &who,
            std::slice::from_ref(&entry),
        )
        .await?;
    w.commit().await?;
    Ok(n)
}
