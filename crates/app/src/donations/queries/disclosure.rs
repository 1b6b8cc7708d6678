//! SQL of the public disclosure: what an entry's canonical text is built from (read inside the
//! entry's own transaction), the chain rows and signed heads, and the public reads (no actor:
//! everything read here is published; the donor's name only where consent stands).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::donations::disclosure::{ChainRow, HeadRow, RunningTotals};
use crate::kernel::access::Tx;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::all;
use crate::state::AppState;

/// What the canonical text of an entry says besides its lines.
#[derive(Debug, Clone)]
pub(crate) struct EntryCtx {
    pub campaign_id: i64,
    pub seq: i64,
    pub kind: String,
    pub org_id: i64,
    pub memo: String,
    pub created_at: i64,
    pub campaign_name: String,
    pub charity_name: String,
    pub credit_code: String,
    pub filing_no: String,
    pub reverses_seq: Option<i64>,
    pub reverses_kind: Option<String>,
    pub receipt: Option<ReceiptCtx>,
}

/// The published fields of the entry's receipt.
#[derive(Debug, Clone)]
pub(crate) struct ReceiptCtx {
    pub receipt_no: String,
    pub received_on: String,
    pub donor_kind: String,
    pub donor_hash: String,
    pub directed_kind: String,
    pub directed_org: Option<String>,
    pub directed_region: Option<String>,
    pub directed_purpose: String,
    pub currency: String,
    pub amount_minor: i64,
    pub rate_micro: i64,
}

/// A line of the entry with its receipt line's item.
#[derive(Debug, Clone)]
pub(crate) struct LineCtx {
    pub line_id: i64,
    pub account: String,
    pub category: String,
    pub spec: String,
    pub unit: String,
    pub quantity: i64,
    pub value_fen: i64,
    pub party_org_id: Option<i64>,
    pub party_name: Option<String>,
}

/// The entry `id` of province `prov` with its campaign, charity, receipt and reversed entry.
pub(crate) async fn entry_ctx(tx: &mut Tx, prov: &str, id: i64) -> AppResult<EntryCtx> {
    let r = sqlx::query(
        "SELECT e.campaign_id, e.seq, e.kind, e.org_id, e.memo, e.created_at, c.name AS campaign_name, \
         o.name AS charity_name, COALESCE(v.credit_code, '') AS credit_code, COALESCE(v.filing_no, '') AS filing_no, \
         x.seq AS reverses_seq, x.kind AS reverses_kind, r.receipt_no, r.received_on, r.donor_kind, r.donor_name_hash, \
         r.directed_kind, d.name AS directed_org, r.directed_region, r.directed_purpose, r.currency, r.amount_minor, \
         r.rate_micro FROM ledger_entries e JOIN donation_campaigns c ON c.id = e.campaign_id \
         JOIN orgs o ON o.id = e.org_id LEFT JOIN donation_receivers v ON v.org_id = e.org_id \
         LEFT JOIN ledger_entries x ON x.province = e.province AND x.id = e.reverses_id \
         LEFT JOIN donation_receipts r ON r.province = e.province AND r.id = e.receipt_id \
         LEFT JOIN orgs d ON d.id = r.directed_org_id WHERE e.province = $1 AND e.id = $2",
    )
    .bind(prov.to_string())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| AppError::internal("disclosure", "entry to publish not found"))?;
    let receipt = match r.try_get::<Option<String>, _>("receipt_no")? {
        Some(receipt_no) => Some(ReceiptCtx {
            receipt_no,
            received_on: r.try_get("received_on")?,
            donor_kind: r.try_get("donor_kind")?,
            donor_hash: r.try_get("donor_name_hash")?,
            directed_kind: r.try_get("directed_kind")?,
            directed_org: r.try_get("directed_org")?,
            directed_region: r.try_get("directed_region")?,
            directed_purpose: r.try_get("directed_purpose")?,
            currency: r.try_get("currency")?,
            amount_minor: r.try_get("amount_minor")?,
            rate_micro: r.try_get("rate_micro")?,
        }),
        None => None,
    };
    Ok(EntryCtx {
        campaign_id: r.try_get("campaign_id")?,
        seq: r.try_get("seq")?,
        kind: r.try_get("kind")?,
        org_id: r.try_get("org_id")?,
        memo: r.try_get("memo")?,
        created_at: r.try_get("created_at")?,
        campaign_name: r.try_get("campaign_name")?,
        charity_name: r.try_get("charity_name")?,
        credit_code: r.try_get("credit_code")?,
        filing_no: r.try_get("filing_no")?,
        reverses_seq: r.try_get("reverses_seq")?,
        reverses_kind: r.try_get("reverses_kind")?,
        receipt,
    })
}

/// The lines of entry `id`, in the order written.
pub(crate) async fn entry_lines_ctx(tx: &mut Tx, prov: &str, id: i64) -> AppResult<Vec<LineCtx>> {
    let rows = sqlx::query(
        "SELECT ll.line_id, ll.account, ll.quantity, ll.value_fen, ll.party_org_id, l.category, l.spec, l.unit, \
         p.name AS party_name FROM ledger_lines ll \
         JOIN donation_lines l ON l.province = ll.province AND l.id = ll.line_id \
         LEFT JOIN orgs p ON p.id = ll.party_org_id WHERE ll.province = $1 AND ll.entry_id = $2 ORDER BY ll.id",
    )
    .bind(prov.to_string())
    .bind(id)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok::<_, sqlx::Error>(LineCtx {
                line_id: r.try_get("line_id")?,
                account: r.try_get("account")?,
                category: r.try_get("category")?,
                spec: r.try_get("spec")?,
                unit: r.try_get("unit")?,
                quantity: r.try_get("quantity")?,
                value_fen: r.try_get("value_fen")?,
                party_org_id: r.try_get("party_org_id")?,
                party_name: r.try_get("party_name")?,
            })
        })
        .collect::<Result<_, _>>()?)
}

/// Entry ids of a campaign's province with no chain row, in sequence order below `seq` (the
/// entries made before the chain existed, published before the next one).
pub(crate) async fn unchained(
    tx: &mut Tx,
    prov: &str,
    campaign_id: i64,
    seq: i64,
) -> AppResult<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT e.id FROM ledger_entries e LEFT JOIN ledger_chain c ON c.province = e.province \
         AND c.campaign_id = e.campaign_id AND c.seq = e.seq \
         WHERE e.province = $1 AND e.campaign_id = $2 AND e.seq < $3 AND c.seq IS NULL ORDER BY e.seq",
    )
    .bind(prov.to_string())
    .bind(campaign_id)
    .bind(seq)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?)
}

/// Entry ids of a campaign's province numbered after `after`, in order (at most `limit`).
pub(crate) async fn entries_after(
    tx: &mut Tx,
    prov: &str,
    campaign_id: i64,
    after: i64,
    limit: i64,
) -> AppResult<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT id FROM ledger_entries WHERE province = $1 AND campaign_id = $2 AND seq > $3 \
         ORDER BY seq LIMIT $4",
    )
    .bind(prov.to_string())
    .bind(campaign_id)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?)
}

const CHAIN_COLS: &str = "province, campaign_id, seq, entry_id, kind, org_id, day, prev_hash, hash, canonical, \
    received_fen, allocated_fen, delivered_fen, fee_fen, in_stock_fen, created_at FROM ledger_chain";

fn chain_from_row(r: &AnyRow) -> Result<ChainRow, sqlx::Error> {
    Ok(ChainRow {
        province: r.try_get("province")?,
        campaign_id: r.try_get("campaign_id")?,
        seq: r.try_get("seq")?,
        entry_id: r.try_get("entry_id")?,
        kind: r.try_get("kind")?,
        org_id: r.try_get("org_id")?,
        day: r.try_get("day")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
        canonical: r.try_get("canonical")?,
        totals: RunningTotals {
            received_fen: r.try_get("received_fen")?,
            allocated_fen: r.try_get("allocated_fen")?,
            delivered_fen: r.try_get("delivered_fen")?,
            fee_fen: r.try_get("fee_fen")?,
            in_stock_fen: r.try_get("in_stock_fen")?,
        },
        created_at: r.try_get("created_at")?,
    })
}

/// The chain row `seq` of a campaign's province, inside the transaction.
pub(crate) async fn chain_at(
    tx: &mut Tx,
    prov: &str,
    campaign_id: i64,
    seq: i64,
) -> AppResult<Option<ChainRow>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CHAIN_COLS} WHERE province = $1 AND campaign_id = $2 AND seq = $3"
    )))
    .bind(prov.to_string())
    .bind(campaign_id)
    .bind(seq)
    .fetch_optional(tx.conn())
    .await?;
    Ok(r.as_ref().map(chain_from_row).transpose()?)
}

/// The last chain row of a campaign's province, inside the transaction.
pub(crate) async fn last_chain(
    tx: &mut Tx,
    prov: &str,
    campaign_id: i64,
) -> AppResult<Option<ChainRow>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CHAIN_COLS} WHERE province = $1 AND campaign_id = $2 ORDER BY seq DESC LIMIT 1"
    )))
    .bind(prov.to_string())
    .bind(campaign_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(r.as_ref().map(chain_from_row).transpose()?)
}

pub(crate) async fn insert_chain(tx: &mut Tx, c: &ChainRow) -> AppResult<()> {
    let q = sqlx::query(
        "INSERT INTO ledger_chain (province, campaign_id, seq, entry_id, kind, org_id, day, prev_hash, hash, canonical, \
         received_fen, allocated_fen, delivered_fen, fee_fen, in_stock_fen, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(c.province.clone())
    .bind(c.campaign_id)
    .bind(c.seq)
    .bind(c.entry_id)
    .bind(c.kind.clone())
    .bind(c.org_id)
    .bind(c.day.clone())
    .bind(c.prev_hash.clone())
    .bind(c.hash.clone())
    .bind(c.canonical.clone())
    .bind(c.totals.received_fen)
    .bind(c.totals.allocated_fen)
    .bind(c.totals.delivered_fen)
    .bind(c.totals.fee_fen)
    .bind(c.totals.in_stock_fen)
    .bind(c.created_at);
    tx.exec(q).await
}

// --- public reads ---

/// A published campaign: (id, name, region, starts, ends, no_fee).
pub(crate) async fn public_campaign(
    state: &AppState,
    id: i64,
) -> AppResult<(i64, String, String, String, String, bool)> {
    let r = sqlx::query(
        "SELECT id, name, region_code, starts_on, ends_on, no_fee FROM donation_campaigns WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(AppError::not_found)?;
    Ok((
        r.try_get("id")?,
        r.try_get("name")?,
        r.try_get("region_code")?,
        r.try_get("starts_on")?,
        r.try_get("ends_on")?,
        r.try_get::<i64, _>("no_fee")? != 0,
    ))
}

/// Every campaign with a published entry: (id, name), newest first (at most 200).
pub(crate) async fn public_campaigns(state: &AppState) -> AppResult<Vec<(i64, String)>> {
    let q = sqlx::query(
        "SELECT id, name FROM donation_campaigns c WHERE EXISTS (SELECT 1 FROM ledger_seqs s \
         WHERE s.campaign_id = c.id) ORDER BY id DESC LIMIT 200",
    );
    all(state, q, |r| Ok((r.try_get("id")?, r.try_get("name")?))).await
}

/// The head of each province's chain of a campaign (the last row; none before an entry).
/// Driven from `ledger_seqs` (one row per province) with `CROSS JOIN`, which fixes SQLite's
/// join order: one index lookup per province instead of a scan of every chain row of the
/// campaign (the donations bench: public page p99 4,172 ms → 17 ms at 600,000 entries).
pub(crate) async fn tips(state: &AppState, campaign_id: i64) -> AppResult<Vec<ChainRow>> {
    let q = sqlx::query(
        "SELECT c.province, c.campaign_id, c.seq, c.entry_id, c.kind, c.org_id, c.day, c.prev_hash, c.hash, \
         c.canonical, c.received_fen, c.allocated_fen, c.delivered_fen, c.fee_fen, c.in_stock_fen, c.created_at \
         FROM ledger_seqs s CROSS JOIN ledger_chain c WHERE c.province = s.province \
         AND c.campaign_id = s.campaign_id AND c.seq = s.last_seq AND s.campaign_id = $1 ORDER BY c.province",
    )
    .bind(campaign_id);
    all(state, q, chain_from_row).await
}

/// Chain rows of a campaign's province after `after`, in order (at most `limit`).
pub(crate) async fn feed(
    state: &AppState,
    prov: &str,
    campaign_id: i64,
    after: i64,
    limit: i64,
) -> AppResult<Vec<ChainRow>> {
    let q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CHAIN_COLS} WHERE province = $1 AND campaign_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
    )))
    .bind(prov.to_string())
    .bind(campaign_id)
    .bind(after)
    .bind(limit);
    all(state, q, chain_from_row).await
}

/// Chain rows of one kind of a campaign (every province), newest first, below `before`.
pub(crate) async fn of_kind(
    state: &AppState,
    campaign_id: i64,
    kinds: &[&str],
    before: i64,
    limit: i64,
) -> AppResult<Vec<ChainRow>> {
    let mut out = Vec::new();
    for k in kinds {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHAIN_COLS} WHERE province IN (SELECT province FROM ledger_seqs WHERE campaign_id = $1) \
             AND campaign_id = $1 AND kind = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4"
        )))
        .bind(campaign_id)
        .bind(k.to_string())
        .bind(before)
        .bind(limit);
        out.extend(all(state, q, chain_from_row).await?);
    }
    out.sort_by(|a, b| b.seq.cmp(&a.seq).then(a.province.cmp(&b.province)));
    out.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(out)
}

/// A charity's latest published entries (every campaign), newest first.
pub(crate) async fn of_charity(
    state: &AppState,
    org_id: i64,
    limit: i64,
) -> AppResult<Vec<ChainRow>> {
    let q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CHAIN_COLS} WHERE org_id = $1 ORDER BY seq DESC LIMIT $2"
    )))
    .bind(org_id)
    .bind(limit);
    all(state, q, chain_from_row).await
}

/// A charity as published: (name, region, credit code, filing number); not found unless it
/// is a registered receiver.
pub(crate) async fn public_charity(
    state: &AppState,
    org_id: i64,
) -> AppResult<(String, String, String, String)> {
    let r = sqlx::query(
        "SELECT o.name, v.region_code, v.credit_code, v.filing_no FROM donation_receivers v \
         JOIN orgs o ON o.id = v.org_id WHERE v.org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(AppError::not_found)?;
    Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))
}

/// The sealed names of receipts whose donor consents to publication, by receipt number:
/// (receipt_no, sealed name) for the charity `org_id` in province `prov`.
pub(crate) async fn consented_names(
    state: &AppState,
    prov: &str,
    org_id: i64,
    receipt_nos: &[String],
) -> AppResult<Vec<(String, Vec<u8>)>> {
    // One query per 500 numbers (a feed page names up to 1,000 receipts): a query per receipt
    // made the feed page cost ~70 ms at 1,000 entries.
    let mut out = Vec::new();
    for chunk in receipt_nos.chunks(500) {
        let sql = format!(
            "SELECT receipt_no, donor_name_enc FROM donation_receipts WHERE province = ? AND org_id = ? \
             AND receipt_no IN ({}) AND publish_consent = 1 AND donor_name_enc IS NOT NULL",
            backstop_store::repeat_list("?", chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(state.db.backend().sql(&sql)))
            .bind(prov.to_string())
            .bind(org_id);
        for no in chunk {
            q = q.bind(no.clone());
        }
        for r in q.fetch_all(state.db.pool()).await? {
            out.push((r.try_get(0)?, r.try_get(1)?));
        }
    }
    Ok(out)
}

/// Withdraw a donor's consent: the sealed name and the salt are deleted; the salted hash the
/// chain committed to stays. True if the receipt was found.
pub(crate) async fn withdraw_consent(tx: &mut Tx, prov: &str, id: i64) -> AppResult<bool> {
    let q = sqlx::query(
        "UPDATE donation_receipts SET publish_consent = 0, donor_name_enc = NULL, donor_salt = '' \
         WHERE province = $1 AND id = $2",
    )
    .bind(prov.to_string())
    .bind(id);
    Ok(tx.changed(q).await? == 1)
}

// --- signed heads ---

const HEAD_COLS: &str = "province, campaign_id, seq, day, hash, payload, signature, key_id, signed_at FROM ledger_heads";

fn head_from_row(r: &AnyRow) -> Result<HeadRow, sqlx::Error> {
    Ok(HeadRow {
        province: r.try_get("province")?,
        campaign_id: r.try_get("campaign_id")?,
        seq: r.try_get("seq")?,
        day: r.try_get("day")?,
        hash: r.try_get("hash")?,
        payload: r.try_get("payload")?,
        signature: r.try_get("signature")?,
        key_id: r.try_get("key_id")?,
        signed_at: r.try_get("signed_at")?,
    })
}

/// Signed heads of a campaign, oldest first (at most `limit`, the latest ones).
pub(crate) async fn heads(
    state: &AppState,
    campaign_id: i64,
    limit: i64,
) -> AppResult<Vec<HeadRow>> {
    let q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {HEAD_COLS} WHERE province IN (SELECT province FROM ledger_seqs WHERE campaign_id = $1) \
         AND campaign_id = $1 ORDER BY signed_at DESC, province, seq DESC LIMIT $2"
    )))
    .bind(campaign_id)
    .bind(limit);
    let mut v = all(state, q, head_from_row).await?;
    v.reverse();
    Ok(v)
}

/// The latest signed head of a campaign's province.
pub(crate) async fn last_head(
    tx: &mut Tx,
    prov: &str,
    campaign_id: i64,
) -> AppResult<Option<HeadRow>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {HEAD_COLS} WHERE province = $1 AND campaign_id = $2 ORDER BY seq DESC LIMIT 1"
    )))
    .bind(prov.to_string())
    .bind(campaign_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(r.as_ref().map(head_from_row).transpose()?)
}

/// Every (province, campaign) with a chain: (province, campaign, last seq).
pub(crate) async fn chains(state: &AppState) -> AppResult<Vec<(String, i64, i64)>> {
    let q = sqlx::query(
        "SELECT province, campaign_id, last_seq FROM ledger_seqs ORDER BY province, campaign_id",
    );
    all(state, q, |r| {
        Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
    })
    .await
}

/// The last chain row of a campaign's province on or before `day` and after `after`.
pub(crate) async fn last_on(
    tx: &mut Tx,
    prov: &str,
    campaign_id: i64,
    day: &str,
    after: i64,
) -> AppResult<Option<ChainRow>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CHAIN_COLS} WHERE province = $1 AND campaign_id = $2 AND day <= $3 AND seq > $4 \
         ORDER BY seq DESC LIMIT 1"
    )))
    .bind(prov.to_string())
    .bind(campaign_id)
    .bind(day.to_string())
    .bind(after)
    .fetch_optional(tx.conn())
    .await?;
    Ok(r.as_ref().map(chain_from_row).transpose()?)
}

/// The distinct days of a campaign's province's chain after `after` and before `before_day`.
pub(crate) async fn days_after(
    tx: &mut Tx,
    prov: &str,
    campaign_id: i64,
    after: i64,
    through_day: &str,
) -> AppResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT DISTINCT day FROM ledger_chain WHERE province = $1 AND campaign_id = $2 AND seq > $3 \
         AND day <= $4 ORDER BY day",
    )
    .bind(prov.to_string())
    .bind(campaign_id)
    .bind(after)
    .bind(through_day.to_string())
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?)
}

pub(crate) async fn insert_head(tx: &mut Tx, h: &HeadRow) -> AppResult<()> {
    let q = sqlx::query(
        "INSERT INTO ledger_heads (province, campaign_id, seq, day, hash, payload, signature, key_id, signed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(h.province.clone())
    .bind(h.campaign_id)
    .bind(h.seq)
    .bind(h.day.clone())
    .bind(h.hash.clone())
    .bind(h.payload.clone())
    .bind(h.signature.clone())
    .bind(h.key_id.clone())
    .bind(h.signed_at);
    tx.exec(q).await
}

/// Every chain row of a campaign's province with the lines of its entry as the ledger holds
/// them now: (seq, [(line, account, party, quantity, value)]), for `ledger verify`.
pub(crate) async fn chain_lines_now(
    state: &AppState,
    prov: &str,
    campaign_id: i64,
    after: i64,
    limit: i64,
) -> AppResult<Vec<(i64, i64, String, Option<i64>, i64, i64)>> {
    let q = sqlx::query(
        "SELECT c.seq, ll.line_id, ll.account, ll.party_org_id, ll.quantity, ll.value_fen FROM ledger_chain c \
         JOIN ledger_lines ll ON ll.province = c.province AND ll.entry_id = c.entry_id \
         WHERE c.province = $1 AND c.campaign_id = $2 AND c.seq > $3 AND c.seq <= $4 ORDER BY c.seq, ll.id",
    )
    .bind(prov.to_string())
    .bind(campaign_id)
    .bind(after)
    .bind(after + limit);
    all(state, q, |r| {
        Ok((
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
            r.try_get(5)?,
        ))
    })
    .await
}
