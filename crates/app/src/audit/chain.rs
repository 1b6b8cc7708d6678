//! The hash chain: the canonical form of an entry and its hash, the chain's head carried
//! through one write transaction ([`Chain`], the bulk path's prepared statements included), and
//! the walk that verifies the whole chain. The statements themselves are in `queries`.

use backstop_store::Backend;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::queries::{self, AppendQuery};
use super::{Entry, Who};
use crate::kernel::crypto::sha256_hex;

pub(super) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

/// The chain's head carried from one append to the next inside one write transaction, so a
/// bulk path that appends a batch at a time (the roster import) reads the head once, not once
/// a batch. Valid only while the transaction that made the first append is open: that
/// transaction holds the append lock (SQLite's writer lock, the PostgreSQL advisory lock), so
/// nobody else can move the head — but every append in it must then go through this `Chain`.
#[derive(Debug, Default)]
pub struct Chain {
    head: Option<String>,
}

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
        let head = queries::lock_and_read_head(conn, backend).await?;
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
            let mut q = queries::insert_entries(backend, chunk.len());
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
        let statements = self.prepare(backend, at_ms, who, entries)?;
        queries::run_appends(conn, statements).await
    }
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
        let rows = queries::chain_page(db, last_id).await?;
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
