//! Verifying the public disclosure (issue 18 item 6, docs/DISCLOSURE.md): from the published
//! feed alone — every hash recomputed from the entry's canonical text, the links, the running
//! totals and a saved signed head with its signature ([`verify_feed`], [`FeedVerifier`] a page at
//! a time; [`verify_pages`] reading the next page while one is checked) — and, for the operator's `backstop ledger verify`, each province's chain against the
//! ledger's lines now ([`verify_chains`]). Split from `disclosure` (which writes the chain).

use std::collections::HashMap;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::Serialize;
use serde_json::{Value, json};

use super::disclosure::*;
use super::queries;
use crate::kernel::error::AppResult;
use crate::state::AppState;

// --- verification from the feed alone ---

/// What a feed verification found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedReport {
    pub entries: usize,
    pub head_seq: i64,
    pub head_date: String,
    pub totals: RunningTotals,
    /// Each problem, in Chinese; empty when the feed holds.
    pub problems: Vec<String>,
}

impl FeedReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verify published entries (in order, from seq 1) against a saved signed head and the
/// published key: every hash recomputed from the entry's canonical text, every link, the head's
/// hash and signature, the running totals and the head's totals recomputed from the lines.
/// Entries after the head are checked for their links only as far as they go.
pub fn verify_feed(entries: &[FeedEntry], head: &SignedHead, key: &VerifyingKey) -> FeedReport {
    let mut v = FeedVerifier::new(head, key);
    for e in entries {
        if !v.push(e) {
            break;
        }
    }
    v.finish()
}

/// [`verify_feed`] a page at a time (a feed of millions of entries need not be held).
pub struct FeedVerifier {
    r: FeedReport,
    p: Option<HeadPayload>,
    prev: String,
    totals: RunningTotals,
    at_since: Option<RunningTotals>,
    reached: bool,
    stopped: bool,
}

impl FeedVerifier {
    /// Start: the head's payload read and its signature checked.
    pub fn new(head: &SignedHead, key: &VerifyingKey) -> FeedVerifier {
        let mut r = FeedReport::default();
        let p: Option<HeadPayload> = serde_json::from_str(&head.payload).ok();
        match &p {
            Some(p) => (r.head_seq, r.head_date) = (p.seq, p.date.clone()),
            None => r.problems.push("保存的链头无法解析".to_string()),
        }
        let sig = hex::decode(&head.signature)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok());
        match sig {
            Some(s) if key.verify(head.payload.as_bytes(), &s).is_ok() => {}
            _ => r
                .problems
                .push("链头签名无效：不是用所公布的公开密钥签署的，或链头被改动".to_string()),
        }
        let at_since = p
            .as_ref()
            .filter(|p| p.since_seq == 0)
            .map(|_| RunningTotals::default());
        FeedVerifier {
            stopped: p.is_none(),
            r,
            p,
            prev: GENESIS.to_string(),
            totals: RunningTotals::default(),
            at_since,
            reached: false,
        }
    }

    /// The next entry; false once verification cannot go on (an entry missing).
    pub fn push(&mut self, e: &FeedEntry) -> bool {
        let Some(p) = self.p.as_ref().filter(|_| !self.stopped) else {
            return false;
        };
        let r = &mut self.r;
        r.entries += 1;
        let want = r.entries as i64;
        if e.seq != want {
            r.problems.push(format!(
                "第 {want} 条记账缺失（下一条为第 {} 条）：有记账被删除",
                e.seq
            ));
            self.stopped = true;
            return false;
        }
        if e.prev_hash != self.prev {
            r.problems
                .push(format!("第 {} 条记账的前一哈希与链不符：链被改动", e.seq));
        }
        let h = chain_hash(&self.prev, &canonical(&e.entry));
        if h != e.hash {
            r.problems.push(format!(
                "第 {} 条记账内容与其哈希不符：该记账在公布后被改动",
                e.seq
            ));
        }
        if e.entry["seq"].as_i64() != Some(e.seq)
            || e.entry["province"].as_str() != Some(p.province.as_str())
        {
            r.problems
                .push(format!("第 {} 条记账的序号或省份与链不符", e.seq));
        }
        for l in e.entry["lines"].as_array().into_iter().flatten() {
            self.totals.apply(
                l["account"].as_str().unwrap_or_default(),
                l["value_fen"].as_i64().unwrap_or_default(),
            );
        }
        if e.totals != self.totals {
            r.problems.push(format!(
                "第 {} 条记账后公布的累计数与记账明细之和不符",
                e.seq
            ));
        }
        self.prev = h;
        if e.seq == p.since_seq {
            self.at_since = Some(self.totals);
        }
        if e.seq == p.seq {
            self.reached = true;
            r.totals = self.totals;
            if self.prev != p.hash {
                r.problems.push(format!(
                    "重新计算的第 {} 条哈希与签名链头不符：链头之前的记账被改动",
                    p.seq
                ));
            }
            if self.totals != p.cumulative {
                r.problems
                    .push("由记账重新计算的累计数与签名链头的累计数不符".to_string());
            }
            if self
                .at_since
                .is_some_and(|s| self.totals.minus(&s) != p.period)
            {
                r.problems
                    .push("由记账重新计算的当期数与签名链头的当期数不符".to_string());
            }
        }
        true
    }

    /// The report.
    pub fn finish(mut self) -> FeedReport {
        if let Some(p) = &self.p
            && !self.reached
        {
            if self.r.problems.is_empty() {
                self.r.problems.push(format!(
                    "公开数据只有 {} 条记账，签名链头为第 {} 条：链头之前的记账被删除",
                    self.r.entries, p.seq
                ));
            } else if !self.r.problems.iter().any(|m| m.contains("删除")) {
                self.r
                    .problems
                    .push(format!("公开数据未到达签名链头（第 {} 条）", p.seq));
            }
        }
        self.r
    }
}

/// Feed pages verified while the next is being read: `next` (reading and parsing a page, the
/// slow half over HTTP) runs on a thread of its own, at most two pages ahead, so reading and
/// hashing overlap. Stops at the first `Err` of `next` (returned) or when the verifier cannot
/// go on (an entry missing).
pub fn verify_pages<F>(v: FeedVerifier, mut next: F) -> Result<FeedReport, String>
where
    F: FnMut() -> Result<Option<Feed>, String> + Send,
{
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Feed, String>>(2);
    std::thread::scope(|s| {
        s.spawn(move || {
            loop {
                let page = match next() {
                    Ok(Some(p)) => Ok(p),
                    Ok(None) => break,
                    Err(e) => Err(e),
                };
                let stop = page.is_err();
                if tx.send(page).is_err() || stop {
                    break;
                }
            }
        });
        // The receiver is dropped on every way out, so a reader blocked on a full channel ends.
        let check = move |mut v: FeedVerifier| {
            for page in rx {
                for e in &page?.entries {
                    if !v.push(e) {
                        return Ok(v.finish());
                    }
                }
            }
            Ok(v.finish())
        };
        check(v)
    })
}

/// Read a published key from its JSON (`/public/donations/key`), PEM or 64 hex characters.
pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    let t = text.trim();
    let bytes: Vec<u8> = if let Ok(k) = serde_json::from_str::<PublicKey>(t) {
        hex::decode(k.public_key_hex).ok()?
    } else if t.starts_with("-----BEGIN PUBLIC KEY-----") {
        use base64::Engine;
        let body: String = t.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .ok()?;
        der.get(der.len().checked_sub(32)?..)?.to_vec()
    } else {
        hex::decode(t).ok()?
    };
    let arr: [u8; 32] = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(&arr).ok()
}

/// The database-side check `ledger verify` adds: each province's chain recomputed (hashes,
/// links, running totals), and each published entry's lines compared with the ledger's lines
/// now — an edit to a line after publication shows here. Breaches in Chinese.
pub(crate) async fn verify_chains(state: &AppState) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    for (prov, campaign_id, last_seq) in queries::chains(state).await? {
        let at = format!("省 {prov} 募捐活动 {campaign_id}");
        let mut prev = GENESIS.to_string();
        let mut totals = RunningTotals::default();
        let mut after = 0;
        loop {
            let rows = queries::feed(state, &prov, campaign_id, after, FEED_PAGE).await?;
            if rows.is_empty() {
                break;
            }
            let now = queries::chain_lines_now(state, &prov, campaign_id, after, FEED_PAGE).await?;
            let mut by_seq: HashMap<i64, Vec<Value>> = HashMap::new();
            for (seq, line, account, party, q, v) in now {
                by_seq.entry(seq).or_default().push(
                    json!({"line": line, "account": account, "org_id": party, "quantity": q, "value_fen": v}),
                );
            }
            for c in &rows {
                if c.seq != after + 1 {
                    out.push(format!("{at}：公开链缺少第 {} 条", after + 1));
                }
                after = c.seq;
                if c.prev_hash != prev || chain_hash(&c.prev_hash, &c.canonical) != c.hash {
                    out.push(format!("{at}：公开链第 {} 条的哈希与内容不符", c.seq));
                }
                prev = c.hash.clone();
                let obj: Value = serde_json::from_str(&c.canonical).unwrap_or(Value::Null);
                let published: Vec<Value> = obj["lines"]
                    .as_array()
                    .map(|ls| {
                        ls.iter()
                            .map(|l| {
                                totals.apply(
                                    l["account"].as_str().unwrap_or_default(),
                                    l["value_fen"].as_i64().unwrap_or_default(),
                                );
                                json!({"line": l["line"], "account": l["account"],
                                    "org_id": l["recipient"]["org_id"], "quantity": l["quantity"],
                                    "value_fen": l["value_fen"]})
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if by_seq.remove(&c.seq).unwrap_or_default() != published {
                    out.push(format!(
                        "{at}：第 {} 条记账的明细与公开内容不符（公布后被改动）",
                        c.seq
                    ));
                }
                if c.totals != totals {
                    out.push(format!("{at}：第 {} 条后的累计数与记账明细之和不符", c.seq));
                }
            }
        }
        if after != last_seq {
            out.push(format!(
                "{at}：公开链只到第 {after} 条，台账已有 {last_seq} 条：有记账未公开或公开后被删除"
            ));
        }
    }
    Ok(out)
}
