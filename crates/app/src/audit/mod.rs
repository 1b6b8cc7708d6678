//! The audit trail: an append-only, hash-chained log of every login, logout, permission
//! change and every create/update/delete in any area.
//!
//! Each entry's `hash` is SHA-256 over the previous entry's hash and this entry's fields, so
//! changing or removing any row breaks the chain at that row; `verify` walks the whole chain.
//! Appends are serialised (the SQLite writer lock, a PostgreSQL advisory lock) and happen in
//! the same transaction as the change they record, so there is no change without its entry.
//! The database also refuses UPDATE/DELETE on the table (triggers in migration 0001).
//! Personal data in `detail` is masked by the caller before it gets here.

pub mod pages;
pub mod web;

use backstop_core::region::Scope;
use backstop_core::role::Permission;
use backstop_store::Backend;
use serde::Serialize;
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use crate::kernel::actor::Actor;
use crate::kernel::crypto::sha256_hex;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// Who did it, for entries written without a full actor (failed logins).
#[derive(Debug, Clone)]
pub struct Who {
    pub user_id: Option<i64>,
    pub username: String,
    pub source: String,
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

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of one entry: SHA-256 over its canonical form, a compact JSON array
/// `[prev, at, user_id, username, source, action, object_type, object_id, region_code,
/// outcome, detail]`. Written straight from the fields into `buf` (reused between entries),
/// byte for byte what `json!([...]).to_string()` gives, without building a JSON tree.
#[allow(clippy::too_many_arguments)]
fn entry_hash(
    buf: &mut Vec<u8>,
    prev: &str,
    at: i64,
    user_id: Option<i64>,
    username: &str,
    source: &str,
    action: &str,
    object_type: &str,
    object_id: &str,
    region_code: &str,
    outcome: &str,
    detail: &str,
) -> Result<String, serde_json::Error> {
    buf.clear();
    serde_json::to_writer(
        &mut *buf,
        &(
            prev,
            at,
            user_id,
            username,
            source,
            action,
            object_type,
            object_id,
            region_code,
            outcome,
            detail,
        ),
    )?;
    Ok(sha256_hex(buf))
}

/// Append an entry inside the caller's write transaction.
pub async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    at_ms: i64,
    who: &Who,
    e: Entry<'_>,
) -> Result<(), sqlx::Error> {
    append_many(conn, backend, at_ms, who, std::slice::from_ref(&e)).await
}

/// Append many entries, chained in order, inside the caller's write transaction: one read of
/// the chain head and one multi-row `INSERT` per 1,000 entries, instead of two statements each
/// (bulk paths such as the roster import). The result is the same chain `append` would build.
pub async fn append_many(
    conn: &mut AnyConnection,
    backend: Backend,
    at_ms: i64,
    who: &Who,
    entries: &[Entry<'_>],
) -> Result<(), sqlx::Error> {
    Chain::default()
        .append(conn, backend, at_ms, who, entries)
        .await
}

/// The chain's head carried from one append to the next inside one write transaction, so a
/// bulk path that appends a batch at a time (the roster import) reads the head once, not once
/// a batch. Valid only while the transaction that made the first append is open: that
/// transaction holds the append lock (SQLite's writer lock, the PostgreSQL advisory lock), so
/// nobody else can move the head — but every append in it must then go through this `Chain`.
#[derive(Debug, Default)]
pub struct Chain {
    head: Option<String>,
}

/// A statement that appends entries to the chain, built by [`Chain::prepare`].
pub type AppendQuery = sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>;

impl Chain {
    /// Take the append lock (PostgreSQL; SQLite's writer lock is already held) and read the
    /// head, once per transaction.
    pub async fn start(
        &mut self,
        conn: &mut AnyConnection,
        backend: Backend,
    ) -> Result<(), sqlx::Error> {
        if self.head.is_some() {
            return Ok(());
        }
        if backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7261002)")
                .execute(&mut *conn)
                .await?;
        }
        let head: Option<String> =
            sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *conn)
                .await?;
        self.head = Some(head.unwrap_or_else(|| GENESIS.to_string()));
        Ok(())
    }

    /// Build the statements that append `entries` after the head (one per 1,000 entries) and
    /// move the head past them, without touching the database — so a bulk path can build them
    /// while the engine is busy with something else. They must be executed, in order, before
    /// anything else is appended. Needs [`Chain::start`] first.
    pub fn prepare(
        &mut self,
        backend: Backend,
        at_ms: i64,
        who: &Who,
        entries: &[Entry<'_>],
    ) -> Result<Vec<AppendQuery>, sqlx::Error> {
        let Some(mut prev) = self.head.take() else {
            return Err(sqlx::Error::Protocol(
                "audit chain used before its head was read".to_string(),
            ));
        };
        let mut canonical = Vec::with_capacity(512);
        let mut out = Vec::with_capacity(entries.len().div_ceil(1000));
        for chunk in entries.chunks(1000) {
            let mut sql = String::with_capacity(200 + chunk.len() * 30);
            sql.push_str(backend.bulk_insert());
            sql.push_str(
                " INTO audit_log (at, user_id, username, source, action, object_type, \
                 object_id, region_code, outcome, detail, prev_hash, hash) VALUES ",
            );
            sql.push_str(&backstop_store::repeat_list(
                "(?,?,?,?,?,?,?,?,?,?,?,?)",
                chunk.len(),
            ));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(backend.sql(&sql)));
            for e in chunk {
                let detail = e.detail.to_string();
                let hash = entry_hash(
                    &mut canonical,
                    &prev,
                    at_ms,
                    who.user_id,
                    &who.username,
                    &who.source,
                    e.action,
                    e.object_type,
                    &e.object_id,
                    &e.region_code,
                    e.outcome,
                    &detail,
                )
                .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
                let prev_hash = std::mem::replace(&mut prev, hash.clone());
                q = q
                    .bind(at_ms)
                    .bind(who.user_id)
                    .bind(who.username.clone())
                    .bind(who.source.clone())
                    .bind(e.action.to_string())
                    .bind(e.object_type.to_string())
                    .bind(e.object_id.clone())
                    .bind(e.region_code.clone())
                    .bind(e.outcome.to_string())
                    .bind(detail)
                    .bind(prev_hash)
                    .bind(hash);
            }
            out.push(q);
        }
        self.head = Some(prev);
        Ok(out)
    }

    /// Append `entries`, chained in order, after the head (read and locked on first use).
    pub async fn append(
        &mut self,
        conn: &mut AnyConnection,
        backend: Backend,
        at_ms: i64,
        who: &Who,
        entries: &[Entry<'_>],
    ) -> Result<(), sqlx::Error> {
        if entries.is_empty() {
            return Ok(());
        }
        self.start(conn, backend).await?;
        for q in self.prepare(backend, at_ms, who, entries)? {
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// Append an entry in its own transaction (failed logins, reveals, reads worth recording).
pub async fn append_alone(state: &AppState, who: &Who, e: Entry<'_>) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    append(w.conn(), state.db.backend(), state.now_ms(), who, e).await?;
    w.commit().await?;
    Ok(())
}

/// Result of walking the chain.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub entries: i64,
    pub head: String,
    /// The first entry whose hash or link is wrong, with the reason.
    pub first_broken: Option<(i64, String)>,
}

/// Walk the whole chain in id order, in pages, recomputing every hash.
pub async fn verify(db: &backstop_store::Db) -> Result<VerifyReport, sqlx::Error> {
    let mut prev = GENESIS.to_string();
    let mut canonical = Vec::with_capacity(512);
    let mut last_id = 0i64;
    let mut count = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT id, at, user_id, username, source, action, object_type, object_id, \
             region_code, outcome, detail, prev_hash, hash FROM audit_log \
             WHERE id > $1 ORDER BY id LIMIT 5000",
        )
        .bind(last_id)
        .fetch_all(db.pool())
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let stored_prev: String = r.try_get("prev_hash")?;
            let stored_hash: String = r.try_get("hash")?;
            if stored_prev != prev {
                return Ok(VerifyReport {
                    entries: count,
                    head: prev,
                    first_broken: Some((
                        id,
                        "与前一条记录的链接不符（前一条记录被修改或删除）".to_string(),
                    )),
                });
            }
            let h = entry_hash(
                &mut canonical,
                &stored_prev,
                r.try_get("at")?,
                r.try_get("user_id")?,
                &r.try_get::<String, _>("username")?,
                &r.try_get::<String, _>("source")?,
                &r.try_get::<String, _>("action")?,
                &r.try_get::<String, _>("object_type")?,
                &r.try_get::<String, _>("object_id")?,
                &r.try_get::<String, _>("region_code")?,
                &r.try_get::<String, _>("outcome")?,
                &r.try_get::<String, _>("detail")?,
            )
            .map_err(|err| sqlx::Error::Decode(Box::new(err)))?;
            if h != stored_hash {
                return Ok(VerifyReport {
                    entries: count,
                    head: prev,
                    first_broken: Some((id, "内容与哈希不符（记录被修改）".to_string())),
                });
            }
            prev = stored_hash;
            last_id = id;
            count += 1;
        }
    }
    Ok(VerifyReport {
        entries: count,
        head: prev,
        first_broken: None,
    })
}

/// One entry as shown to the auditor.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditRow {
    pub id: i64,
    /// UTC, RFC 3339.
    pub at: String,
    pub username: String,
    pub source: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub region_code: String,
    pub outcome: String,
    pub detail: Value,
}

/// Filters of an audit search.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Exact username.
    pub username: Option<String>,
    /// Action prefix, e.g. `auth.` or `user.create`.
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// From this date (YYYY-MM-DD, Beijing time), inclusive.
    pub from: Option<String>,
    /// To this date (YYYY-MM-DD, Beijing time), inclusive.
    pub to: Option<String>,
    /// Only entries with an id below this (paging backwards).
    pub before_id: Option<i64>,
    pub limit: Option<i64>,
}

fn date_ms(s: &str, end: bool) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    let d = if end { d.succ_opt()? } else { d };
    // Calendar days are Beijing days (UTC+8, no daylight saving).
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis() - 8 * 3_600_000)
}

/// Search the log: auditors only; a regional auditor sees entries of its region (and the
/// logins of accounts scoped inside it).
pub async fn search(state: &AppState, actor: &Actor, q: &AuditQuery) -> AppResult<Vec<AuditRow>> {
    actor.require(Permission::AuditRead)?;
    let mut sql = String::from(
        "SELECT id, at, username, source, action, object_type, object_id, region_code, outcome, \
         detail FROM audit_log WHERE 1=1",
    );
    let mut args: Vec<ArgVal> = Vec::new();
    let mut push = |sql: &mut String, frag: &str, v: ArgVal| {
        args.push(v);
        sql.push_str(&frag.replace("?", &format!("${}", args.len())));
    };
    if let Scope::Region(_) = &actor.scope {
        let (lo, hi) = actor.scope_bounds();
        push(&mut sql, " AND region_code >= ?", ArgVal::S(lo));
        push(&mut sql, " AND region_code < ?", ArgVal::S(hi));
    }
    if let Some(u) = q.username.as_deref().filter(|s| !s.trim().is_empty()) {
        push(
            &mut sql,
            " AND username = ?",
            ArgVal::S(u.trim().to_string()),
        );
    }
    if let Some(a) = q.action.as_deref().filter(|s| !s.trim().is_empty()) {
        let (lo, hi) = (a.trim().to_string(), format!("{}~", a.trim()));
        push(&mut sql, " AND action >= ?", ArgVal::S(lo));
        push(&mut sql, " AND action < ?", ArgVal::S(hi));
    }
    if let Some(t) = q.object_type.as_deref().filter(|s| !s.trim().is_empty()) {
        push(
            &mut sql,
            " AND object_type = ?",
            ArgVal::S(t.trim().to_string()),
        );
    }
    if let Some(t) = q.object_id.as_deref().filter(|s| !s.trim().is_empty()) {
        push(
            &mut sql,
            " AND object_id = ?",
            ArgVal::S(t.trim().to_string()),
        );
    }
    if let Some(o) = q.outcome.as_deref().filter(|s| !s.trim().is_empty()) {
        push(
            &mut sql,
            " AND outcome = ?",
            ArgVal::S(o.trim().to_string()),
        );
    }
    if let Some(ms) = q.from.as_deref().and_then(|s| date_ms(s, false)) {
        push(&mut sql, " AND at >= ?", ArgVal::I(ms));
    }
    if let Some(ms) = q.to.as_deref().and_then(|s| date_ms(s, true)) {
        push(&mut sql, " AND at < ?", ArgVal::I(ms));
    }
    if let Some(b) = q.before_id {
        push(&mut sql, " AND id < ?", ArgVal::I(b));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in args {
        query = match a {
            ArgVal::S(s) => query.bind(s),
            ArgVal::I(i) => query.bind(i),
        };
    }
    let rows = query.fetch_all(state.db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let at: i64 = r.try_get("at")?;
        let detail: String = r.try_get("detail")?;
        out.push(AuditRow {
            id: r.try_get("id")?,
            at: backstop_core::clock::from_millis(at).to_rfc3339(),
            username: r.try_get("username")?,
            source: r.try_get("source")?,
            action: r.try_get("action")?,
            object_type: r.try_get("object_type")?,
            object_id: r.try_get("object_id")?,
            region_code: r.try_get("region_code")?,
            outcome: r.try_get("outcome")?,
            detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
        });
    }
    Ok(out)
}

enum ArgVal {
    S(String),
    I(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The canonical form written from the fields is byte for byte the `json!` array the
    /// chain was first built with, so every hash already on record still verifies.
    #[test]
    fn canonical_form_is_the_json_array_the_chain_was_built_with() {
        let detail =
            serde_json::json!({"name": {"before": null, "after": "张\"三\\\n\u{1}"}}).to_string();
        let cases: [(Option<i64>, &str, &str); 3] = [
            (Some(42), "区县管理员", "web 10.0.0.1"),
            (None, "", "cli"),
            (Some(-7), "a\"b\\c\td\u{7f}\u{2028}", "api \u{0}"),
        ];
        let mut buf = Vec::new();
        for (user_id, username, source) in cases {
            let old = serde_json::json!([
                GENESIS,
                1_700_000_000_123i64,
                user_id,
                username,
                source,
                "person.create",
                "person",
                "123",
                "110101001001",
                "success",
                detail
            ])
            .to_string();
            let new = entry_hash(
                &mut buf,
                GENESIS,
                1_700_000_000_123,
                user_id,
                username,
                source,
                "person.create",
                "person",
                "123",
                "110101001001",
                "success",
                &detail,
            )
            .expect("hash");
            assert_eq!(String::from_utf8(buf.clone()).expect("utf-8"), old);
            assert_eq!(new, sha256_hex(old.as_bytes()));
        }
    }
}
