//! The hash chains (issue 21 item 4): one per province, the national one, and the single chain
//! from before them. The canonical form of an entry and its hash, the heads carried through one
//! write transaction ([`Chain`], the bulk path's prepared statements included), the national
//! chain's periodic record of every province chain's head, and the walk that verifies all of
//! it. The statements themselves are in `queries`.
//!
//! An entry goes to the chain of its region's province ([`chain_of`]); appends to one chain
//! are serialised (SQLite's writer lock; on PostgreSQL the row lock of the chain's head in
//! `audit_heads`, so the provinces append side by side), and inside a chain the id order is the
//! chain's order. A
//! province chain alone could be cut back at its tail unnoticed; the national chain's
//! `audit.chain_heads` entries ([`super::record_heads`]) pin each chain's head as it was, so
//! `verify` finds a chain that no longer holds a head once recorded.

use backstop_store::{Arg, Backend, Db, Script};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::queries::{self, AppendQuery};
use super::{Entry, Who};
use crate::kernel::crypto::sha256_hex;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

/// The chain an entry of `region_code` is appended to: its province (the 2-digit prefix), or
/// [`NATIONAL`] for national-level objects (`0`) and anything without a province.
pub fn chain_of(region_code: &str) -> &str {
    match region_code.get(..2) {
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) && p != "00" => p,
        _ => NATIONAL,
    }
}

/// The national chain: national-level actions, and the periodic record of every province
/// chain's head ([`record_heads`]).
pub const NATIONAL: &str = "00";

/// The chain every entry before migration 0063 belongs to (one chain for everything, frozen:
/// nothing is appended to it any more, it is verified as it was).
pub(super) const LEGACY: &str = "";

/// The action of the national chain's record of the province chains' heads.
pub const HEADS_ACTION: &str = "audit.chain_heads";

/// The heads of the chains carried from one append to the next inside one write transaction,
/// so a bulk path that appends a batch at a time (the roster import) reads a head once, not
/// once a batch. Valid only while the transaction that made the first append to a chain is
/// open: that transaction holds the chain's append lock (SQLite's writer lock; on PostgreSQL
/// the row lock of the chain's `audit_heads` row), so nobody else can move its head — but every
/// append in it must then go through this `Chain`.
#[derive(Debug, Default)]
pub struct Chain {
    heads: std::collections::BTreeMap<String, String>,
    /// Every entry on this chain whatever its region (a bulk job is one action of one place).
    pinned: Option<String>,
}

impl Chain {
    /// A `Chain` that appends every entry to the chain of `region_code` (a roster import
    /// records its rows on the chain of the region it was run for).
    pub fn pinned(region_code: &str) -> Chain {
        Chain {
            heads: Default::default(),
            pinned: Some(chain_of(region_code).to_string()),
        }
    }

    /// A `Chain` whose `chain` was locked and read by the caller's own statement (the
    /// submission's look-up folds [`queries::LOCK_HEAD`] in, PostgreSQL).
    pub fn locked(chain: &str, head: String) -> Chain {
        let mut c = Chain::default();
        c.heads.insert(chain.to_string(), head);
        c
    }

    /// Forget the heads read: the transaction that held their locks has ended (a bulk job
    /// that commits in chunks, between two of them); the next must [`Chain::start`] again.
    pub fn release(&mut self) {
        self.heads.clear();
    }

    fn chain_for<'e>(&'e self, e: &'e Entry<'_>) -> &'e str {
        self.pinned
            .as_deref()
            .unwrap_or_else(|| chain_of(&e.region_code))
    }

    /// Take `chain`'s append lock and read its head (one statement), once per transaction.
    /// For a pinned `Chain`, `chain` is ignored.
    pub async fn start(
        &mut self,
        conn: &mut AnyConnection,
        chain: &str,
    ) -> Result<(), sqlx::Error> {
        let chain = self.pinned.clone().unwrap_or_else(|| chain.to_string());
        if self.heads.contains_key(&chain) {
            return Ok(());
        }
        let head = queries::lock_and_read_head(conn, &chain, GENESIS).await?;
        self.heads.insert(chain, head);
        Ok(())
    }

    /// The statements (`?` placeholders) that append `entries` after their chains' heads (one
    /// per 1,000 entries) and move the heads in `audit_heads`; the heads here move past them.
    fn statements(
        &mut self,
        backend: Backend,
        at_ms: i64,
        who: &Who,
        entries: &[Entry<'_>],
    ) -> Result<Vec<(String, Vec<Arg>)>, sqlx::Error> {
        let mut canonical = Vec::with_capacity(512);
        let mut out = Vec::with_capacity(entries.len().div_ceil(1000) + 1);
        let mut moved = std::collections::BTreeSet::new();
        for chunk in entries.chunks(1000) {
            let mut args = Vec::with_capacity(chunk.len() * 13);
            for e in chunk {
                let chain = self.chain_for(e).to_string();
                let Some(prev) = self.heads.get_mut(&chain) else {
                    return Err(sqlx::Error::Protocol(format!(
                        "audit chain {chain} used before its head was read"
                    )));
                };
                let detail = e.detail.to_string();
                let hash = entry_hash(
                    &mut canonical,
                    prev,
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
                let prev_hash = std::mem::replace(prev, hash.clone());
                args.extend([
                    Arg::Int(at_ms),
                    Arg::OptInt(who.user_id),
                    Arg::from(&who.username),
                    Arg::from(&who.source),
                    Arg::from(e.action),
                    Arg::from(e.object_type),
                    Arg::from(&e.object_id),
                    Arg::from(&e.region_code),
                    Arg::from(e.outcome),
                    Arg::Text(detail),
                    Arg::Text(prev_hash),
                    Arg::Text(hash),
                ]);
                args.push(Arg::from(&chain));
                moved.insert(chain);
            }
            out.push((queries::insert_entries(backend, chunk.len()), args));
        }
        for chain in moved {
            if let Some(head) = self.heads.get(&chain) {
                out.push(queries::move_head(&chain, head));
            }
        }
        Ok(out)
    }

    /// Build the statements that append `entries` after their chains' heads (one per 1,000
    /// entries, and the heads' move) without touching the database — so a bulk path can build
    /// them while the engine is busy with something else. They must be executed, in order,
    /// before anything else is appended. Every chain the entries go to must have been started
    /// ([`Chain::start`]).
    pub fn prepare(
        &mut self,
        backend: Backend,
        at_ms: i64,
        who: &Who,
        entries: &[Entry<'_>],
    ) -> Result<Vec<AppendQuery>, sqlx::Error> {
        Ok(self
            .statements(backend, at_ms, who, entries)?
            .into_iter()
            .map(|(sql, args)| queries::bound(backend, &sql, args))
            .collect())
    }

    /// Add the statements appending `entries` to a [`Script`] of the caller's (run with its
    /// other statements in one round trip). The chains must have been started or locked.
    pub fn push(
        &mut self,
        script: &mut Script,
        backend: Backend,
        at_ms: i64,
        who: &Who,
        entries: &[Entry<'_>],
    ) -> Result<(), sqlx::Error> {
        for (sql, args) in self.statements(backend, at_ms, who, entries)? {
            script.push(sql, args);
        }
        Ok(())
    }

    /// The chains `entries` go to, in order (the order locks are taken in, so two writers
    /// never wait on each other).
    pub fn chains_of(&self, entries: &[Entry<'_>]) -> std::collections::BTreeSet<String> {
        entries
            .iter()
            .map(|e| self.chain_for(e).to_string())
            .collect()
    }

    /// Append `entries`, chained in order on their chains, after the heads (each chain locked
    /// and read on first use, in the chains' order).
    pub async fn append(
        &mut self,
        conn: &mut AnyConnection,
        db: &Db,
        at_ms: i64,
        who: &Who,
        entries: &[Entry<'_>],
    ) -> Result<(), sqlx::Error> {
        if entries.is_empty() {
            return Ok(());
        }
        for c in &self.chains_of(entries) {
            self.start(conn, c).await?;
        }
        let mut script = Script::new();
        self.push(&mut script, db.backend(), at_ms, who, entries)?;
        queries::run_script(conn, script, db).await
    }
}

/// Result of walking every chain.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Entries verified, over all chains.
    pub entries: i64,
    /// The national chain's head.
    pub head: String,
    /// Each chain: its name (`00` national, a province code, `""` the chain before per-province
    /// chains), its entries and its head.
    pub chains: Vec<(String, i64, String)>,
    /// The first entry (lowest id) whose hash or link is wrong, or a head the national chain
    /// recorded that its chain no longer holds, with the reason.
    pub first_broken: Option<(i64, String)>,
}

/// One chain walked: entries, head, and the first broken entry.
struct Walked {
    entries: i64,
    head: String,
    broken: Option<(i64, String)>,
    /// The heads of other chains this chain recorded: (chain, id, hash, the recording entry).
    recorded: Vec<(String, i64, String, i64)>,
}

/// Walk one chain in id order, in pages, recomputing every hash; stop at the first broken
/// entry. `check` gives (id → hash) recorded for this chain by the national chain: each must be
/// an entry of it with that hash.
async fn walk(
    db: &backstop_store::Db,
    chain: &str,
    check: &std::collections::HashMap<i64, (String, i64)>,
) -> Result<Walked, sqlx::Error> {
    let mut w = Walked {
        entries: 0,
        head: GENESIS.to_string(),
        broken: None,
        recorded: Vec::new(),
    };
    let mut canonical = Vec::with_capacity(512);
    let mut last_id = 0i64;
    let mut seen = 0usize;
    loop {
        let rows = queries::chain_page(db, chain, last_id).await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let stored_prev: String = r.try_get("prev_hash")?;
            let stored_hash: String = r.try_get("hash")?;
            if stored_prev != w.head {
                w.broken = Some((
                    id,
                    "与前一条记录的链接不符（前一条记录被修改或删除）".to_string(),
                ));
                return Ok(w);
            }
            let action: String = r.try_get("action")?;
            let detail: String = r.try_get("detail")?;
            let h = entry_hash(
                &mut canonical,
                &stored_prev,
                r.try_get("at")?,
                r.try_get("user_id")?,
                &r.try_get::<String, _>("username")?,
                &r.try_get::<String, _>("source")?,
                &action,
                &r.try_get::<String, _>("object_type")?,
                &r.try_get::<String, _>("object_id")?,
                &r.try_get::<String, _>("region_code")?,
                &r.try_get::<String, _>("outcome")?,
                &detail,
            )
            .map_err(|err| sqlx::Error::Decode(Box::new(err)))?;
            if h != stored_hash {
                w.broken = Some((id, "内容与哈希不符（记录被修改）".to_string()));
                return Ok(w);
            }
            if let Some((want, by)) = check.get(&id) {
                seen += 1;
                if *want != stored_hash {
                    w.broken = Some((
                        *by,
                        format!("全国链记录的{}链头（第 {id} 条）与该链不符", name(chain)),
                    ));
                    return Ok(w);
                }
            }
            if action == HEADS_ACTION && chain == NATIONAL {
                w.recorded.extend(recorded_heads(&detail, id));
            }
            w.head = stored_hash;
            last_id = id;
            w.entries += 1;
        }
    }
    if seen < check.len() {
        // A head the national chain recorded is gone: the chain was cut back.
        let by = check
            .iter()
            .filter(|(id, _)| **id > last_id)
            .map(|(_, (_, by))| *by)
            .min()
            .unwrap_or_default();
        w.broken = Some((
            by,
            format!("{}在全国链记录的链头之后被截断（记录被删除）", name(chain)),
        ));
    }
    Ok(w)
}

fn name(chain: &str) -> String {
    match chain {
        NATIONAL => "全国链".to_string(),
        LEGACY => "旧审计链".to_string(),
        p => format!("省链 {p}"),
    }
}

/// The heads a national `audit.chain_heads` entry recorded: (chain, id, hash, that entry's id).
fn recorded_heads(detail: &str, by: i64) -> Vec<(String, i64, String, i64)> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(detail) else {
        return Vec::new();
    };
    v["heads"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(chain, h)| {
            Some((
                chain.clone(),
                h["id"].as_i64()?,
                h["hash"].as_str()?.to_string(),
                by,
            ))
        })
        .collect()
}

/// Walk every chain: the national one first (it records the others' heads), then each
/// province's and the chain from before per-province chains, each checked link by link and
/// against the heads the national chain recorded for it.
pub async fn verify(db: &backstop_store::Db) -> Result<VerifyReport, sqlx::Error> {
    let none = std::collections::HashMap::new();
    let national = walk(db, NATIONAL, &none).await?;
    let mut report = VerifyReport {
        entries: national.entries,
        head: national.head.clone(),
        chains: vec![(
            NATIONAL.to_string(),
            national.entries,
            national.head.clone(),
        )],
        first_broken: national.broken.clone(),
    };
    let mut by_chain: std::collections::HashMap<
        String,
        std::collections::HashMap<i64, (String, i64)>,
    > = std::collections::HashMap::new();
    for (chain, id, hash, by) in national.recorded {
        by_chain.entry(chain).or_default().insert(id, (hash, by));
    }
    for chain in queries::chains(db).await? {
        if chain == NATIONAL {
            continue;
        }
        let check = by_chain.remove(&chain).unwrap_or_default();
        let w = walk(db, &chain, &check).await?;
        report.entries += w.entries;
        report.chains.push((chain, w.entries, w.head));
        if let Some(b) = w.broken
            && report.first_broken.as_ref().is_none_or(|f| b.0 < f.0)
        {
            report.first_broken = Some(b);
        }
    }
    // The head each chain's row in `audit_heads` holds is its last entry's: a chain whose tail
    // was cut no longer ends there (even after the national chain last recorded it).
    for (chain, kept) in queries::kept_heads(db).await? {
        let walked = report.chains.iter().find(|c| c.0 == chain);
        if walked.is_some_and(|c| c.2 == kept) {
            continue;
        }
        let last = queries::last_id(db, &chain).await?.unwrap_or_default();
        if report.first_broken.as_ref().is_none_or(|f| last < f.0) {
            report.first_broken = Some((
                last,
                format!(
                    "{}的最后一条记录不是记下的链头（其后的记录被删除）",
                    name(&chain)
                ),
            ));
        }
    }
    // Heads recorded for a chain that has no entry at all any more.
    for (chain, check) in by_chain {
        if let Some(by) = check.values().map(|(_, by)| *by).min()
            && report.first_broken.as_ref().is_none_or(|f| by < f.0)
        {
            report.first_broken = Some((
                by,
                format!("{}在全国链记录的链头之后被截断（记录被删除）", name(&chain)),
            ));
        }
    }
    Ok(report)
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
