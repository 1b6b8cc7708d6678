//! Public disclosure anyone can verify (信息公开, issue 18 item 6; docs/DISCLOSURE.md).
//!
//! - **The chain.** Every ledger entry is published as a canonical text — stable JSON (sorted
//!   keys, integers only, no floats) of the fields the national disclosure platform uses:
//!   campaign, the charity's 统一社会信用代码 and 公开募捐方案备案编号, seq, kind, date, lines
//!   (item, category, quantity, unit, value in fen, recipient organisation), directed use, and
//!   the donor's *salted hash* (never the name). [`append`] is called by `ledger::post`, the one
//!   place entries are written, in the entry's own transaction: it stores the text, `hash =
//!   SHA-256(prev_hash ‖ canonical)` and the campaign's running totals after the entry.
//! - **The signed head.** The deployment's disclosure key (Ed25519, `disclosure.key` next to
//!   the master key, 0600) signs, per campaign and province, `{date, head seq, head hash,
//!   totals since the previous head, cumulative totals}` ([`sign_due`], daily and on start;
//!   `backstop ledger sign-head`).
//! - **Verification from the feed alone.** [`verify_feed`] recomputes every hash, the links,
//!   the totals, and the head's signature; any change to or removal of an entry published up
//!   to the saved head fails it.
//!
//! Withdrawing consent ([`withdraw_consent`]) deletes the donor's name and salt and leaves the
//! chain intact: the text commits only to the hash. Individual beneficiaries are never named:
//! recipients are organisations.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use backstop_core::role::Permission;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{category_label, province, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::crypto::sha256_hex;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// The `prev_hash` of a chain's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A campaign's running totals (fen), derived from the entries' lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunningTotals {
    /// Received: minus the donor account.
    pub received_fen: i64,
    /// Allocated to recipients, including dispatched and delivered.
    pub allocated_fen: i64,
    /// Confirmed delivered.
    pub delivered_fen: i64,
    /// Taken as fee (0 on a no-fee campaign).
    pub fee_fen: i64,
    /// In the charities' stock.
    pub in_stock_fen: i64,
}

impl RunningTotals {
    /// Add one line (account, value in fen).
    pub fn apply(&mut self, account: &str, value_fen: i64) {
        match account {
            "donor" => self.received_fen -= value_fen,
            "stock" => self.in_stock_fen += value_fen,
            "allocated" | "in_transit" | "discrepancy" => self.allocated_fen += value_fen,
            "delivered" => {
                self.allocated_fen += value_fen;
                self.delivered_fen += value_fen;
            }
            "fee" => self.fee_fen += value_fen,
            _ => {}
        }
    }

    /// Each figure minus `other`'s.
    pub fn minus(&self, other: &RunningTotals) -> RunningTotals {
        RunningTotals {
            received_fen: self.received_fen - other.received_fen,
            allocated_fen: self.allocated_fen - other.allocated_fen,
            delivered_fen: self.delivered_fen - other.delivered_fen,
            fee_fen: self.fee_fen - other.fee_fen,
            in_stock_fen: self.in_stock_fen - other.in_stock_fen,
        }
    }
}

/// A stored chain row.
#[derive(Debug, Clone)]
pub struct ChainRow {
    pub province: String,
    pub campaign_id: i64,
    pub seq: i64,
    pub entry_id: i64,
    pub kind: String,
    pub org_id: i64,
    pub day: String,
    pub prev_hash: String,
    pub hash: String,
    pub canonical: String,
    pub totals: RunningTotals,
    pub created_at: i64,
}

/// A stored signed head.
#[derive(Debug, Clone)]
pub struct HeadRow {
    pub province: String,
    pub campaign_id: i64,
    pub seq: i64,
    pub day: String,
    pub hash: String,
    pub payload: String,
    pub signature: String,
    pub key_id: String,
    pub signed_at: i64,
}

/// The hash of an entry: SHA-256 of the previous hash (64 hex characters) followed by the
/// canonical text, hex.
pub fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    let mut b = Vec::with_capacity(prev_hash.len() + canonical.len());
    b.extend_from_slice(prev_hash.as_bytes());
    b.extend_from_slice(canonical.as_bytes());
    sha256_hex(&b)
}

/// The canonical text of a JSON value: keys sorted (serde_json's map is ordered), no
/// whitespace, non-ASCII kept as UTF-8 — the same bytes as Python's
/// `json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.
pub fn canonical(v: &Value) -> String {
    v.to_string()
}

/// The canonical object of an entry, from its rows (see docs/DISCLOSURE.md for the fields).
fn entry_object(
    prov: &str,
    e: &queries::EntryCtx,
    lines: &[queries::LineCtx],
) -> (Value, RunningTotals) {
    let mut delta = RunningTotals::default();
    let lines: Vec<Value> = lines
        .iter()
        .map(|l| {
            delta.apply(&l.account, l.value_fen);
            json!({
                "line": l.line_id,
                "account": l.account,
                "category": l.category,
                "item": category_label(&l.category),
                "spec": l.spec,
                "quantity": l.quantity,
                "unit": l.unit,
                "value_fen": l.value_fen,
                "recipient": l.party_org_id.map(|id| json!({"org_id": id, "name": l.party_name})),
            })
        })
        .collect();
    // The receipt's published fields on its receive entry (and the reversal of one).
    let receive = e.kind == "receive" || e.reverses_kind.as_deref() == Some("receive");
    let receipt = e.receipt.as_ref().map(|r| {
        if receive {
            json!({
                "no": r.receipt_no,
                "received_on": r.received_on,
                "donor_kind": r.donor_kind,
                "donor_hash": r.donor_hash,
                "directed": {
                    "kind": r.directed_kind,
                    "org": r.directed_org,
                    "region": r.directed_region,
                    "purpose": r.directed_purpose,
                },
                "currency": r.currency,
                "amount_minor": r.amount_minor,
                "rate_micro": r.rate_micro,
            })
        } else {
            json!({"no": r.receipt_no})
        }
    });
    let uses = if e.kind == "allocate" {
        e.memo.clone()
    } else {
        String::new()
    };
    (
        json!({
            "v": 1,
            "province": prov,
            "campaign": {"id": e.campaign_id, "name": e.campaign_name},
            "charity": {"org_id": e.org_id, "name": e.charity_name, "credit_code": e.credit_code,
                "filing_no": e.filing_no},
            "seq": e.seq,
            "kind": e.kind,
            "date": super::ledger::ymd_of(e.created_at),
            "reverses_seq": e.reverses_seq,
            "receipt": receipt,
            "use": uses,
            "lines": lines,
        }),
        delta,
    )
}

/// Publish entry `entry_id` (numbered `seq`) of a campaign's province: called by
/// `ledger::post` in the entry's transaction, after its lines are written. Entries made before
/// the chain existed are published first, in order.
pub(crate) async fn append(
    tx: &mut Tx,
    prov: &str,
    campaign_id: i64,
    seq: i64,
    entry_id: i64,
) -> AppResult<()> {
    let mut prev = match seq {
        1 => None,
        _ => queries::chain_at(tx, prov, campaign_id, seq - 1).await?,
    };
    if seq > 1 && prev.is_none() {
        for id in queries::unchained(tx, prov, campaign_id, seq).await? {
            prev = Some(link(tx, prov, id, prev.as_ref()).await?);
        }
    }
    link(tx, prov, entry_id, prev.as_ref()).await?;
    Ok(())
}

async fn link(
    tx: &mut Tx,
    prov: &str,
    entry_id: i64,
    prev: Option<&ChainRow>,
) -> AppResult<ChainRow> {
    let e = queries::entry_ctx(tx, prov, entry_id).await?;
    let lines = queries::entry_lines_ctx(tx, prov, entry_id).await?;
    let (obj, delta) = entry_object(prov, &e, &lines);
    let text = canonical(&obj);
    let prev_hash = prev.map_or(GENESIS, |p| p.hash.as_str()).to_string();
    let mut totals = prev.map(|p| p.totals).unwrap_or_default();
    for l in &lines {
        totals.apply(&l.account, l.value_fen);
    }
    debug_assert_eq!(
        totals.minus(&prev.map(|p| p.totals).unwrap_or_default()),
        delta
    );
    let row = ChainRow {
        province: prov.to_string(),
        campaign_id: e.campaign_id,
        seq: e.seq,
        entry_id,
        kind: e.kind.clone(),
        org_id: e.org_id,
        day: super::ledger::ymd_of(e.created_at),
        hash: chain_hash(&prev_hash, &text),
        prev_hash,
        canonical: text,
        totals,
        created_at: e.created_at,
    };
    queries::insert_chain(tx, &row).await?;
    Ok(row)
}

/// Publish the entries of a campaign's province that have no chain row yet (entries loaded
/// in bulk, or made before the chain existed), in order, `batch` to a transaction; returns how
/// many were published. The service publishes every entry it writes itself ([`append`]).
pub async fn catch_up(
    state: &AppState,
    prov: &str,
    campaign_id: i64,
    batch: usize,
) -> AppResult<usize> {
    let mut n = 0;
    loop {
        let system = crate::audit::Who::system("disclosure");
        let mut tx = Tx::begin_as(state, system).await?;
        let mut prev = queries::last_chain(&mut tx, prov, campaign_id).await?;
        let after = prev.as_ref().map_or(0, |c| c.seq);
        let ids =
            queries::entries_after(&mut tx, prov, campaign_id, after, batch.max(1) as i64).await?;
        if ids.is_empty() {
            tx.rollback().await?;
            return Ok(n);
        }
        let done = ids.len();
        for id in ids {
            prev = Some(link(&mut tx, prov, id, prev.as_ref()).await?);
        }
        n += done;
        tx.commit(
            Change::new(
                "ledger.chain_publish",
                "donation_campaign",
                campaign_id,
                prov,
            )
            .detail(json!({"province": prov, "published": done})),
        )
        .await?;
    }
}

/// [`catch_up`] every campaign's chains (`backstop ledger sign-head` runs it before signing,
/// so entries loaded in bulk are published and covered by the heads); how many were published.
pub async fn publish_pending(state: &AppState) -> AppResult<usize> {
    let mut n = 0;
    for (prov, campaign_id, _) in queries::chains(state).await? {
        n += catch_up(state, &prov, campaign_id, 10_000).await?;
    }
    Ok(n)
}

pub(crate) use super::feed_verify::verify_chains;
pub use super::feed_verify::{
    FeedReport, FeedVerifier, parse_public_key, verify_feed, verify_pages,
};

// --- the disclosure key ---

/// The deployment's disclosure key (Ed25519) and the public pages' cache.
#[derive(Default)]
pub struct Disclosure {
    key: OnceLock<SigningKey>,
    /// Rendered public figures keyed by campaign, valid while the chain heads they were built
    /// from stand (and until a consent is withdrawn).
    cache: Mutex<HashMap<String, (String, std::sync::Arc<String>)>>,
}

impl std::fmt::Debug for Disclosure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Disclosure(..)")
    }
}

impl Disclosure {
    /// Read the key (hex seed) from `path`, creating it 0600 if missing (the master key's
    /// rules: an existing file others may read is refused).
    pub fn load_or_create(&self, path: &Path) -> Result<(), crate::kernel::crypto::KeyError> {
        let seed = crate::kernel::crypto::load_or_create_secret(path, || {
            let mut b = [0u8; 32];
            rand::rng().fill_bytes(&mut b);
            b
        })?;
        let _ = self.key.set(SigningKey::from_bytes(&seed));
        Ok(())
    }

    /// Use this key (tests, the bench).
    pub fn set_key(&self, seed: [u8; 32]) {
        let _ = self.key.set(SigningKey::from_bytes(&seed));
    }

    fn signing(&self) -> AppResult<&SigningKey> {
        self.key
            .get()
            .ok_or_else(|| AppError::internal("disclosure", "no disclosure key loaded"))
    }

    /// The public key, if loaded.
    pub fn public(&self) -> Option<VerifyingKey> {
        self.key.get().map(|k| k.verifying_key())
    }

    /// A cached value for `slot` if it was built for `stamp`.
    pub fn cached(&self, slot: &str, stamp: &str) -> Option<std::sync::Arc<String>> {
        let map = self.cache.lock().ok()?;
        map.get(slot)
            .filter(|(s, _)| s == stamp)
            .map(|(_, v)| v.clone())
    }

    /// Keep `value` for `slot` while `stamp` stands.
    pub fn keep(&self, slot: String, stamp: String, value: std::sync::Arc<String>) {
        if let Ok(mut map) = self.cache.lock() {
            if map.len() > 2_000 {
                map.clear();
            }
            map.insert(slot, (stamp, value));
        }
    }

    /// Forget every cached page (a consent withdrawn).
    pub fn invalidate(&self) {
        if let Ok(mut map) = self.cache.lock() {
            map.clear();
        }
    }
}

/// The key's id: the first 16 hex characters of SHA-256 of the public key.
pub fn key_id(k: &VerifyingKey) -> String {
    sha256_hex(k.as_bytes())[..16].to_string()
}

/// The public key as PEM (SubjectPublicKeyInfo), for `openssl pkeyutl -verify`.
pub fn public_pem(k: &VerifyingKey) -> String {
    use base64::Engine;
    let mut der = hex::decode("302a300506032b6570032100").unwrap_or_default();
    der.extend_from_slice(k.as_bytes());
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}

/// The published key: id, algorithm, hex and PEM.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicKey {
    pub key_id: String,
    pub algorithm: String,
    pub public_key_hex: String,
    pub pem: String,
}

impl PublicKey {
    pub fn of(k: &VerifyingKey) -> PublicKey {
        PublicKey {
            key_id: key_id(k),
            algorithm: "Ed25519".to_string(),
            public_key_hex: hex::encode(k.as_bytes()),
            pem: public_pem(k),
        }
    }
}

// --- signed heads ---

/// A signed head as published (and saved by whoever wants to check later).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignedHead {
    /// The canonical JSON that was signed (fields: v, province, campaign_id, date, seq, hash,
    /// since_seq, period, cumulative).
    pub payload: String,
    /// Ed25519 signature of the payload's bytes, hex.
    pub signature: String,
    pub key_id: String,
}

/// The fields of a head's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadPayload {
    pub v: i64,
    pub province: String,
    pub campaign_id: i64,
    pub date: String,
    pub seq: i64,
    pub hash: String,
    /// The previous head's seq (0 for the first): `period` covers the entries after it.
    pub since_seq: i64,
    pub period: RunningTotals,
    pub cumulative: RunningTotals,
}

/// Sign the head of every chain that moved since its last signed head, through `through_day`
/// (one head per day with entries; the last one at that day's last entry). Returns how many
/// heads were signed. The daily ticker calls it with yesterday, `backstop ledger sign-head`
/// with today.
pub async fn sign_due(state: &AppState, through_day: &str) -> AppResult<usize> {
    let key = state.disclosure.signing()?.clone();
    let mut n = 0;
    for (prov, campaign_id, _) in queries::chains(state).await? {
        let system = crate::audit::Who::system("scheduler");
        let mut tx = Tx::begin_as(state, system).await?;
        let last = queries::last_head(&mut tx, &prov, campaign_id).await?;
        let (mut since, mut base) = match &last {
            Some(h) => {
                let p: HeadPayload = serde_json::from_str(&h.payload)
                    .map_err(|_| AppError::internal("disclosure", "stored head unreadable"))?;
                (p.seq, p.cumulative)
            }
            None => (0, RunningTotals::default()),
        };
        let mut signed = Vec::new();
        for day in queries::days_after(&mut tx, &prov, campaign_id, since, through_day).await? {
            let Some(row) = queries::last_on(&mut tx, &prov, campaign_id, &day, since).await?
            else {
                continue;
            };
            let payload = HeadPayload {
                v: 1,
                province: prov.clone(),
                campaign_id,
                date: day.clone(),
                seq: row.seq,
                hash: row.hash.clone(),
                since_seq: since,
                period: row.totals.minus(&base),
                cumulative: row.totals,
            };
            let text =
                canonical(&serde_json::to_value(&payload).map_err(|_| {
                    AppError::internal("disclosure", "head payload not serialisable")
                })?);
            let sig = key.sign(text.as_bytes());
            let h = HeadRow {
                province: prov.clone(),
                campaign_id,
                seq: row.seq,
                day,
                hash: row.hash.clone(),
                payload: text,
                signature: hex::encode(sig.to_bytes()),
                key_id: key_id(&key.verifying_key()),
                signed_at: tx.now(),
            };
            queries::insert_head(&mut tx, &h).await?;
            signed.push(json!({"seq": h.seq, "day": h.day, "hash": h.hash}));
            since = row.seq;
            base = row.totals;
        }
        if signed.is_empty() {
            tx.rollback().await?;
            continue;
        }
        n += signed.len();
        tx.commit(
            Change::new("ledger.head_sign", "donation_campaign", campaign_id, &prov)
                .detail(json!({"province": prov, "heads": signed})),
        )
        .await?;
    }
    Ok(n)
}

/// The signed heads of a campaign as published (oldest first, the latest 400).
pub async fn heads(state: &AppState, campaign_id: i64) -> AppResult<Vec<SignedHead>> {
    queries::public_campaign(state, campaign_id).await?;
    Ok(queries::heads(state, campaign_id, 400)
        .await?
        .into_iter()
        .map(|h| SignedHead {
            payload: h.payload,
            signature: h.signature,
            key_id: h.key_id,
        })
        .collect())
}

// --- the feed ---

/// One published entry.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedEntry {
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
    /// The canonical object; its canonical text is what the hash covers.
    #[schema(value_type = Object)]
    pub entry: Value,
    /// Running totals after this entry (checked against the recomputed sums).
    pub totals: RunningTotals,
    /// The donor as shown (receipts only; not covered by the hash): the name with consent,
    /// else 爱心人士.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub donor: Option<String>,
}

/// A page of the feed of one campaign's province.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Feed {
    pub campaign_id: i64,
    pub province: String,
    pub after: i64,
    pub entries: Vec<FeedEntry>,
    /// Ask again with `after` = this to read on; absent at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
    /// Provinces with a chain for this campaign.
    #[serde(default)]
    pub provinces: Vec<String>,
}

/// Shown for a donor who has not consented (or withdrew consent).
pub const ANONYMOUS_DONOR: &str = "爱心人士";

/// At most this many entries per feed page.
pub const FEED_PAGE: i64 = 1000;

/// Chain rows as published: the object, and on receipts the donor as shown.
pub(crate) async fn published(state: &AppState, rows: &[ChainRow]) -> AppResult<Vec<FeedEntry>> {
    let names = donor_names(state, rows).await?;
    rows.iter()
        .map(|r| {
            let entry: Value = serde_json::from_str(&r.canonical)
                .map_err(|_| AppError::internal("disclosure", "stored entry unreadable"))?;
            Ok(FeedEntry {
                seq: r.seq,
                prev_hash: r.prev_hash.clone(),
                hash: r.hash.clone(),
                donor: donor_shown(r, &names),
                entry,
                totals: r.totals,
            })
        })
        .collect()
}

/// The names of the consenting donors of the receipts among `rows`, by chain position
/// (province, seq). Only the receipt number is read from each stored entry.
pub(crate) async fn donor_names(
    state: &AppState,
    rows: &[ChainRow],
) -> AppResult<HashMap<(String, i64), String>> {
    #[derive(Deserialize)]
    struct Receipt {
        no: Option<String>,
    }
    #[derive(Deserialize)]
    struct Only {
        receipt: Option<Receipt>,
    }
    let mut wanted: HashMap<(String, i64), Vec<(String, i64)>> = HashMap::new();
    for r in rows.iter().filter(|r| r.kind == "receive") {
        let no = serde_json::from_str::<Only>(&r.canonical)
            .ok()
            .and_then(|o| o.receipt)
            .and_then(|x| x.no);
        if let Some(no) = no {
            wanted
                .entry((r.province.clone(), r.org_id))
                .or_default()
                .push((no, r.seq));
        }
    }
    let mut out = HashMap::new();
    for ((prov, org), nos) in wanted {
        let list: Vec<String> = nos.iter().map(|(n, _)| n.clone()).collect();
        for (no, sealed) in queries::consented_names(state, &prov, org, &list).await? {
            let name = state
                .keys
                .decrypt(&sealed)
                .and_then(|b| String::from_utf8(b).ok());
            if let Some(name) = name {
                for (_, seq) in nos.iter().filter(|(n, _)| *n == no) {
                    out.insert((prov.clone(), *seq), name.clone());
                }
            }
        }
    }
    Ok(out)
}

/// The donor shown for a chain row: on a receipt, the consenting donor's name, else 爱心人士.
pub(crate) fn donor_shown(r: &ChainRow, names: &HashMap<(String, i64), String>) -> Option<String> {
    (r.kind == "receive").then(|| {
        names
            .get(&(r.province.clone(), r.seq))
            .cloned()
            .unwrap_or_else(|| ANONYMOUS_DONOR.to_string())
    })
}

/// A receipt's donor withdraws consent to publication (`DonationsManage`, own charity): the
/// name and salt are deleted; the published chain, which holds only the salted hash, stays.
pub async fn withdraw_consent(state: &AppState, actor: &Actor, receipt_id: i64) -> AppResult<()> {
    actor.require(Permission::DonationsManage)?;
    let r = super::receipts::get(state, actor, receipt_id).await?;
    super::own_charity(state, actor, Some(r.org_id)).await?;
    let prov = province(&r.region_code);
    let mut tx = Tx::begin(state, actor).await?;
    if !queries::withdraw_consent(&mut tx, &prov, r.id).await? {
        return Err(AppError::not_found());
    }
    tx.commit(
        Change::new(
            "donation.consent_withdraw",
            "donation_receipt",
            r.id,
            &r.region_code,
        )
        .detail(
            json!({"publish_consent": {"before": r.publish_consent, "after": false},
            "donor_name": "deleted", "donor_salt": "deleted"}),
        ),
    )
    .await?;
    state.disclosure.invalidate();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Verifier;

    #[test]
    fn canonical_text_sorts_keys_and_keeps_utf8() {
        let v = json!({"b": 1, "a": {"z": "口罩", "y": null}, "c": [2, 1]});
        assert_eq!(
            canonical(&v),
            r#"{"a":{"y":null,"z":"口罩"},"b":1,"c":[2,1]}"#
        );
        assert_eq!(chain_hash(GENESIS, "x").len(), 64);
        assert_ne!(chain_hash(GENESIS, "x"), chain_hash(GENESIS, "y"));
    }

    #[test]
    fn totals_follow_the_accounts() {
        let mut t = RunningTotals::default();
        for (a, v) in [
            ("donor", -1000),
            ("stock", 1000),
            ("stock", -400),
            ("allocated", 400),
            ("allocated", -400),
            ("in_transit", 400),
            ("in_transit", -400),
            ("delivered", 300),
            ("discrepancy", 100),
        ] {
            t.apply(a, v);
        }
        assert_eq!(
            t,
            RunningTotals {
                received_fen: 1000,
                allocated_fen: 400,
                delivered_fen: 300,
                fee_fen: 0,
                in_stock_fen: 600
            }
        );
    }

    #[test]
    fn key_file_is_private_and_the_key_round_trips() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("keys").join("disclosure.key");
        let d = Disclosure::default();
        d.load_or_create(&path).expect("create");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let again = Disclosure::default();
        again.load_or_create(&path).expect("load");
        let k = d.public().expect("key");
        assert_eq!(again.public(), Some(k));
        assert_eq!(parse_public_key(&public_pem(&k)), Some(k));
        assert_eq!(parse_public_key(&hex::encode(k.as_bytes())), Some(k));
        let sig = d.signing().expect("signing").sign(b"payload");
        assert!(k.verify(b"payload", &sig).is_ok());
        assert!(k.verify(b"payload!", &sig).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert!(Disclosure::default().load_or_create(&path).is_err());
        }
    }
}
