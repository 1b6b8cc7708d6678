//! SQL of the ledger: entries and their lines, balances inside the write transaction,
//! allocations with their dispatch and delivery, and the sums `ledger verify` recomputes.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{OrgBrief, org_bind};
use crate::donations::category_label;
use crate::donations::ledger::{
    Allocation, Delivery, Dispatch, Entry, EntryLine, EntryMeta, Posting, status_label,
};
use crate::donations::verify::LineBalances;
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{all, ranged, text_or_empty};
use crate::state::AppState;
use backstop_core::clock::rfc3339;

pub(crate) async fn insert_entry(
    tx: &mut Tx,
    m: &EntryMeta<'_>,
    seq: i64,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO ledger_entries (province, campaign_id, seq, org_id, region_code, kind, receipt_id, allocation_id, \
         reverses_id, memo, entered_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(m.province.to_string())
    .bind(m.campaign_id)
    .bind(seq)
    .bind(m.org_id)
    .bind(m.region_code.to_string())
    .bind(m.kind)
    .bind(m.receipt_id)
    .bind(m.allocation_id)
    .bind(m.reverses_id)
    .bind(m.memo.to_string())
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

pub(crate) async fn insert_entry_line(
    tx: &mut Tx,
    prov: &str,
    entry: i64,
    p: &Posting,
) -> AppResult<()> {
    let q = sqlx::query(
        "INSERT INTO ledger_lines (province, entry_id, line_id, account, party_org_id, quantity, value_fen) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(prov.to_string())
    .bind(entry)
    .bind(p.line_id)
    .bind(p.account)
    .bind(p.party)
    .bind(p.quantity)
    .bind(p.value_fen);
    tx.exec(q).await
}

/// A receipt line as the ledger needs it.
#[derive(Debug, Clone)]
pub(crate) struct LineRec {
    pub id: i64,
    pub province: String,
    pub receipt_id: i64,
    pub campaign_id: i64,
    pub org_id: i64,
    pub region_code: String,
    pub kind: String,
    pub quantity: i64,
    pub unit: String,
    pub value_fen: i64,
    pub expiry_on: Option<String>,
}

/// One receipt line under the handle (and the actor's organisation).
pub(crate) async fn line(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<LineRec> {
    let row = sqlx::query(
        "SELECT id, province, receipt_id, campaign_id, org_id, region_code, kind, quantity, unit, value_fen, expiry_on \
         FROM donation_lines WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(AppError::not_found)?;
    let l = LineRec {
        id: row.try_get("id")?,
        province: row.try_get("province")?,
        receipt_id: row.try_get("receipt_id")?,
        campaign_id: row.try_get("campaign_id")?,
        org_id: row.try_get("org_id")?,
        region_code: row.try_get("region_code")?,
        kind: row.try_get("kind")?,
        quantity: row.try_get("quantity")?,
        unit: row.try_get("unit")?,
        value_fen: row.try_get("value_fen")?,
        expiry_on: row.try_get("expiry_on")?,
    };
    let l = scope.admit(&l.region_code.clone(), l)?;
    scope.admit_org(l.org_id, l)
}

/// Where a receipt is directed.
pub(crate) struct Directions {
    pub kind: String,
    pub org_id: Option<i64>,
    pub org_name: String,
    pub region: Option<String>,
}

pub(crate) async fn receipt_directions(
    state: &AppState,
    scope: &Scoped<'_>,
    prov: &str,
    receipt_id: i64,
) -> AppResult<Directions> {
    let r = sqlx::query(
        "SELECT r.region_code, r.directed_kind, r.directed_org_id, r.directed_region, o.name AS org_name \
         FROM donation_receipts r LEFT JOIN orgs o ON o.id = r.directed_org_id WHERE r.province = $1 AND r.id = $2",
    )
    .bind(prov.to_string())
    .bind(receipt_id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(AppError::not_found)?;
    let region: String = r.try_get("region_code")?;
    scope.admit(
        &region,
        Directions {
            kind: r.try_get("directed_kind")?,
            org_id: r.try_get("directed_org_id")?,
            org_name: text_or_empty(&r, "org_name")?,
            region: r.try_get("directed_region")?,
        },
    )
}

/// Touch a receipt line inside the transaction (a row lock on PostgreSQL).
pub(crate) async fn touch_line(tx: &mut Tx, prov: &str, id: i64) -> AppResult<()> {
    let q = sqlx::query(
        "UPDATE donation_lines SET lock_n = lock_n + 1 WHERE province = $1 AND id = $2",
    )
    .bind(prov.to_string())
    .bind(id);
    tx.exec(q).await
}

/// The balance (quantity, value) of one account of a line, inside the transaction; `party`
/// limits it to one recipient.
pub(crate) async fn balance(
    tx: &mut Tx,
    prov: &str,
    line_id: i64,
    account: &str,
    party: Option<i64>,
) -> AppResult<(i64, i64)> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) AS q, CAST(COALESCE(SUM(value_fen), 0) AS BIGINT) AS v \
         FROM ledger_lines WHERE province = $1 AND line_id = $2 AND account = $3 \
         AND ($4 = 0 OR party_org_id = $4)",
    )
    .bind(prov.to_string())
    .bind(line_id)
    .bind(account.to_string())
    .bind(party.unwrap_or(0))
    .fetch_one(tx.conn())
    .await?;
    Ok((row.try_get("q")?, row.try_get("v")?))
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_allocation(
    tx: &mut Tx,
    l: &LineRec,
    to: &OrgBrief,
    quantity: i64,
    value: i64,
    purpose: &str,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO donation_allocations (province, campaign_id, org_id, region_code, receipt_id, line_id, \
         recipient_org_id, recipient_region, quantity, value_fen, purpose, status, entry_id, allocated_by, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'allocated', 0, $12, $13, $13) RETURNING id",
    )
    .bind(l.province.clone())
    .bind(l.campaign_id)
    .bind(l.org_id)
    .bind(l.region_code.clone())
    .bind(l.receipt_id)
    .bind(l.id)
    .bind(to.id)
    .bind(to.region_code.clone())
    .bind(quantity)
    .bind(value)
    .bind(purpose.to_string())
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

pub(crate) async fn set_allocation_entry(
    tx: &mut Tx,
    prov: &str,
    id: i64,
    entry: i64,
) -> AppResult<()> {
    let q = sqlx::query(
        "UPDATE donation_allocations SET entry_id = $1 WHERE province = $2 AND id = $3",
    )
    .bind(entry)
    .bind(prov.to_string())
    .bind(id);
    tx.exec(q).await
}

/// Move an allocation from one status to the next if it is still in the first; false if not
/// (someone else moved it first).
pub(crate) async fn move_status(
    tx: &mut Tx,
    prov: &str,
    id: i64,
    from: &str,
    to: &str,
) -> AppResult<bool> {
    let now = tx.now();
    let q = sqlx::query(
        "UPDATE donation_allocations SET status = $1, updated_at = $2 WHERE province = $3 AND id = $4 AND status = $5",
    )
    .bind(to.to_string())
    .bind(now)
    .bind(prov.to_string())
    .bind(id)
    .bind(from.to_string());
    Ok(tx.changed(q).await? == 1)
}

pub(crate) async fn insert_dispatch(
    tx: &mut Tx,
    prov: &str,
    a: &Allocation,
    vehicle: &str,
    entry: i64,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO donation_dispatches (province, allocation_id, region_code, vehicle, dispatched_at, entry_id, \
         dispatched_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $5)",
    )
    .bind(prov.to_string())
    .bind(a.id)
    .bind(a.region_code.clone())
    .bind(vehicle.to_string())
    .bind(now)
    .bind(entry)
    .bind(by.to_string());
    tx.exec(q).await
}

/// A validated delivery.
pub(crate) struct DeliveryRow<'a> {
    pub received_qty: i64,
    pub discrepancy: &'a str,
    pub by_note: bool,
    pub note_ref: &'a str,
    pub elapsed_ms: i64,
    pub entry_id: i64,
}

pub(crate) async fn insert_delivery(
    tx: &mut Tx,
    prov: &str,
    a: &Allocation,
    d: &DeliveryRow<'_>,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO donation_deliveries (province, allocation_id, region_code, recipient_org_id, received_qty, \
         discrepancy, by_note, note_ref, confirmed_by, confirmed_at, receipt_to_delivery_ms, entry_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(prov.to_string())
    .bind(a.id)
    .bind(a.region_code.clone())
    .bind(a.recipient_org_id)
    .bind(d.received_qty)
    .bind(d.discrepancy.to_string())
    .bind(i64::from(d.by_note))
    .bind(d.note_ref.to_string())
    .bind(by.to_string())
    .bind(now)
    .bind(d.elapsed_ms)
    .bind(d.entry_id);
    tx.exec(q).await
}

pub(crate) async fn is_reversed(tx: &mut Tx, prov: &str, entry: i64) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries WHERE province = $1 AND reverses_id = $2",
    )
    .bind(prov.to_string())
    .bind(entry)
    .fetch_one(tx.conn())
    .await?;
    Ok(n > 0)
}

const A_COLS: &str = "a.province, a.id, a.campaign_id, a.org_id, o.name AS org_name, a.region_code, a.receipt_id, \
    a.line_id, l.category, l.spec, l.unit, a.recipient_org_id, p.name AS recipient_name, a.recipient_region, a.quantity, \
    a.value_fen, a.purpose, a.status, a.allocated_by, a.created_at, d.vehicle, d.dispatched_at, d.dispatched_by, \
    v.received_qty, v.discrepancy, v.by_note, v.note_ref, v.confirmed_by, v.confirmed_at, v.receipt_to_delivery_ms, r.created_at AS receipt_at \
    FROM donation_allocations a JOIN orgs o ON o.id = a.org_id JOIN orgs p ON p.id = a.recipient_org_id \
    JOIN donation_receipts r ON r.province = a.province AND r.id = a.receipt_id \
    JOIN donation_lines l ON l.province = a.province AND l.id = a.line_id \
    LEFT JOIN donation_dispatches d ON d.province = a.province AND d.allocation_id = a.id \
    LEFT JOIN donation_deliveries v ON v.province = a.province AND v.allocation_id = a.id";

fn allocation_from_row(r: &AnyRow) -> Result<Allocation, sqlx::Error> {
    let category: String = r.try_get("category")?;
    let status: String = r.try_get("status")?;
    let dispatch = match r.try_get::<Option<String>, _>("vehicle")? {
        Some(vehicle) => Some(Dispatch {
            vehicle,
            dispatched_at: rfc3339(r.try_get("dispatched_at")?),
            dispatched_by: r.try_get("dispatched_by")?,
        }),
        None => None,
    };
    let delivery = match r.try_get::<Option<i64>, _>("received_qty")? {
        Some(received_qty) => Some(Delivery {
            received_qty,
            discrepancy: r.try_get("discrepancy")?,
            by_note: r.try_get::<i64, _>("by_note")? != 0,
            note_ref: r.try_get("note_ref")?,
            confirmed_by: r.try_get("confirmed_by")?,
            confirmed_at: rfc3339(r.try_get("confirmed_at")?),
            hours_from_receipt: r.try_get::<i64, _>("receipt_to_delivery_ms")? / 3_600_000,
        }),
        None => None,
    };
    Ok(Allocation {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        org_id: r.try_get("org_id")?,
        org_name: r.try_get("org_name")?,
        region_code: r.try_get("region_code")?,
        receipt_id: r.try_get("receipt_id")?,
        line_id: r.try_get("line_id")?,
        category_label: category_label(&category).to_string(),
        category,
        spec: r.try_get("spec")?,
        unit: r.try_get("unit")?,
        recipient_org_id: r.try_get("recipient_org_id")?,
        recipient_name: r.try_get("recipient_name")?,
        recipient_region: r.try_get("recipient_region")?,
        quantity: r.try_get("quantity")?,
        value_fen: r.try_get("value_fen")?,
        purpose: r.try_get("purpose")?,
        status_label: status_label(&status).to_string(),
        status,
        allocated_by: r.try_get("allocated_by")?,
        created_at: rfc3339(r.try_get("created_at")?),
        dispatch,
        delivery,
        receipt_at: r.try_get("receipt_at")?,
    })
}

/// One allocation the handle reaches: as the charity's (its region under the handle, and the
/// actor's organisation if tied to one) or as the recipient's (the recipient's region under
/// the handle and the actor of that organisation). The service checks the permission.
pub(crate) async fn allocation(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Allocation> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {A_COLS} WHERE a.id = $1"
    )))
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(AppError::not_found)?;
    let a = allocation_from_row(&row)?;
    let as_charity = scope.contains(&a.region_code) && scope.org().is_none_or(|o| o == a.org_id);
    let as_recipient =
        scope.contains(&a.recipient_region) && scope.org() == Some(a.recipient_org_id);
    if as_charity || as_recipient {
        Ok(a)
    } else {
        scope.admit(&a.recipient_region, ())?;
        Err(AppError::not_found())
    }
}

pub(crate) async fn allocations(
    state: &AppState,
    scope: &Scoped<'_>,
    campaign_id: i64,
) -> AppResult<Vec<Allocation>> {
    let sql = format!(
        "SELECT {A_COLS} WHERE a.region_code >= $1 AND a.region_code < $2 AND a.campaign_id = $3 \
         AND ($4 = 0 OR a.org_id = $4) ORDER BY a.id DESC LIMIT 1000"
    );
    all(
        state,
        ranged(scope, sql).bind(campaign_id).bind(org_bind(scope)),
        allocation_from_row,
    )
    .await
}

/// Allocations dispatched to organisation `org` (its region under the handle), oldest first.
pub(crate) async fn pending(
    state: &AppState,
    scope: &Scoped<'_>,
    org: i64,
) -> AppResult<Vec<Allocation>> {
    let sql = format!(
        "SELECT {A_COLS} WHERE a.recipient_region >= $1 AND a.recipient_region < $2 AND a.recipient_org_id = $3 \
         AND a.status = 'dispatched' ORDER BY a.id LIMIT 500"
    );
    all(state, ranged(scope, sql).bind(org), allocation_from_row).await
}

const E_COLS: &str = "province, id, campaign_id, seq, org_id, region_code, kind, receipt_id, allocation_id, \
    reverses_id, memo, entered_by, created_at FROM ledger_entries";

fn entry_from_row(r: &AnyRow) -> Result<Entry, sqlx::Error> {
    Ok(Entry {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        seq: r.try_get("seq")?,
        province: r.try_get("province")?,
        org_id: r.try_get("org_id")?,
        region_code: r.try_get("region_code")?,
        kind: r.try_get("kind")?,
        receipt_id: r.try_get("receipt_id")?,
        allocation_id: r.try_get("allocation_id")?,
        reverses_id: r.try_get("reverses_id")?,
        memo: r.try_get("memo")?,
        entered_by: r.try_get("entered_by")?,
        created_at: rfc3339(r.try_get("created_at")?),
        lines: Vec::new(),
    })
}

fn entry_line_from_row(r: &AnyRow) -> Result<(i64, EntryLine), sqlx::Error> {
    Ok((
        r.try_get("entry_id")?,
        EntryLine {
            line_id: r.try_get("line_id")?,
            account: r.try_get("account")?,
            party_org_id: r.try_get("party_org_id")?,
            quantity: r.try_get("quantity")?,
            value_fen: r.try_get("value_fen")?,
        },
    ))
}

pub(crate) async fn entry(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Entry> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {E_COLS} WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(AppError::not_found)?;
    let e = entry_from_row(&row)?;
    let mut e = scope.admit_org(e.org_id, scope.admit(&e.region_code.clone(), e)?)?;
    let q = sqlx::query(
        "SELECT entry_id, line_id, account, party_org_id, quantity, value_fen FROM ledger_lines \
         WHERE province = $1 AND entry_id = $2 ORDER BY id",
    )
    .bind(e.province.clone())
    .bind(e.id);
    e.lines = all(state, q, entry_line_from_row)
        .await?
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    Ok(e)
}

pub(crate) async fn entries(
    state: &AppState,
    scope: &Scoped<'_>,
    campaign_id: i64,
) -> AppResult<Vec<Entry>> {
    let sql = format!(
        "SELECT {E_COLS} WHERE region_code >= $1 AND region_code < $2 AND campaign_id = $3 AND ($4 = 0 OR org_id = $4) \
         ORDER BY province, seq LIMIT 2000"
    );
    let mut out = all(
        state,
        ranged(scope, sql).bind(campaign_id).bind(org_bind(scope)),
        entry_from_row,
    )
    .await?;
    let q = ranged(
        scope,
        "SELECT ll.entry_id, ll.line_id, ll.account, ll.party_org_id, ll.quantity, ll.value_fen FROM ledger_lines ll \
         JOIN ledger_entries e ON e.province = ll.province AND e.id = ll.entry_id \
         WHERE e.region_code >= $1 AND e.region_code < $2 AND e.campaign_id = $3 AND ($4 = 0 OR e.org_id = $4) \
         ORDER BY ll.id",
    )
    .bind(campaign_id)
    .bind(org_bind(scope));
    let lines = all(state, q, entry_line_from_row).await?;
    let mut idx: std::collections::HashMap<i64, usize> = Default::default();
    for (i, e) in out.iter().enumerate() {
        idx.insert(e.id, i);
    }
    for (eid, l) in lines {
        if let Some(i) = idx.get(&eid) {
            out[*i].lines.push(l);
        }
    }
    Ok(out)
}

// --- verification (`ledger verify`): every figure recomputed from the lines ---

/// (entries, lines, receipts) under the handle.
pub(crate) async fn counts(state: &AppState, scope: &Scoped<'_>) -> AppResult<(i64, i64, i64)> {
    let q = ranged(
        scope,
        "SELECT (SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries WHERE region_code >= $1 AND region_code < $2), \
         (SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_lines ll JOIN ledger_entries e ON e.province = ll.province \
          AND e.id = ll.entry_id WHERE e.region_code >= $1 AND e.region_code < $2), \
         (SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts WHERE region_code >= $1 AND region_code < $2)",
    );
    let r = q.fetch_one(state.db.pool()).await?;
    Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
}

/// Entries whose lines do not sum to zero on some receipt line: (province, entry, line, q, v).
pub(crate) async fn unbalanced(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<(String, i64, i64, i64, i64)>> {
    let q = ranged(
        scope,
        "SELECT ll.province, ll.entry_id, ll.line_id, CAST(SUM(ll.quantity) AS BIGINT) AS q, \
         CAST(SUM(ll.value_fen) AS BIGINT) AS v FROM ledger_lines ll \
         LEFT JOIN ledger_entries e ON e.province = ll.province AND e.id = ll.entry_id \
         WHERE e.id IS NULL OR (e.region_code >= $1 AND e.region_code < $2) \
         GROUP BY ll.province, ll.entry_id, ll.line_id \
         HAVING SUM(ll.quantity) <> 0 OR SUM(ll.value_fen) <> 0 ORDER BY ll.province, ll.entry_id",
    );
    all(state, q, |r| {
        Ok((
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
        ))
    })
    .await
}

/// Every receipt line's balances, recomputed from the lines.
pub(crate) async fn line_balances(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<LineBalances>> {
    let q = ranged(
        scope,
        "SELECT l.province, l.id, l.quantity, l.value_fen, ll.account, CAST(COALESCE(SUM(ll.quantity), 0) AS BIGINT) AS q, \
         CAST(COALESCE(SUM(ll.value_fen), 0) AS BIGINT) AS v FROM donation_lines l \
         LEFT JOIN ledger_lines ll ON ll.province = l.province AND ll.line_id = l.id \
         WHERE l.region_code >= $1 AND l.region_code < $2 \
         GROUP BY l.province, l.id, l.quantity, l.value_fen, ll.account ORDER BY l.province, l.id",
    );
    let rows = all(state, q, |r| {
        Ok((
            r.try_get::<String, _>(0)?,
            r.try_get::<i64, _>(1)?,
            r.try_get::<i64, _>(2)?,
            r.try_get::<i64, _>(3)?,
            r.try_get::<Option<String>, _>(4)?,
            r.try_get::<i64, _>(5)?,
            r.try_get::<i64, _>(6)?,
        ))
    })
    .await?;
    let mut out: Vec<LineBalances> = Vec::new();
    for (prov, id, quantity, value_fen, account, q, v) in rows {
        if out
            .last()
            .is_none_or(|b| b.line_id != id || b.province != prov)
        {
            out.push(LineBalances {
                province: prov,
                line_id: id,
                quantity,
                value_fen,
                ..Default::default()
            });
        }
        if let Some(b) = out.last_mut() {
            match account.as_deref() {
                Some("donor") => {
                    b.donor = q;
                    b.donor_value = v;
                }
                Some("stock") => {
                    b.stock = q;
                    b.stock_value = v;
                }
                Some("allocated") => b.allocated = q,
                Some("in_transit") => b.in_transit = q,
                _ => {}
            }
        }
    }
    Ok(out)
}

/// Receipts with stored totals and the sums of their lines: (province, id, stored money,
/// stored goods, money lines, goods lines).
pub(crate) async fn receipt_totals(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<(String, i64, i64, i64, i64, i64)>> {
    let q = ranged(
        scope,
        "SELECT r.province, r.id, r.money_fen, r.goods_value_fen, \
         CAST(COALESCE(SUM(CASE WHEN l.kind = 'money' THEN l.value_fen ELSE 0 END), 0) AS BIGINT) AS m, \
         CAST(COALESCE(SUM(CASE WHEN l.kind = 'goods' THEN l.value_fen ELSE 0 END), 0) AS BIGINT) AS g \
         FROM donation_receipts r LEFT JOIN donation_lines l ON l.province = r.province AND l.receipt_id = r.id \
         WHERE r.region_code >= $1 AND r.region_code < $2 GROUP BY r.province, r.id, r.money_fen, r.goods_value_fen",
    );
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

/// Per campaign and province: (province, campaign, count, min seq, max seq).
pub(crate) async fn seq_runs(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<(String, i64, i64, i64, i64)>> {
    let q = ranged(
        scope,
        "SELECT province, campaign_id, CAST(COUNT(*) AS BIGINT), CAST(MIN(seq) AS BIGINT), CAST(MAX(seq) AS BIGINT) \
         FROM ledger_entries WHERE region_code >= $1 AND region_code < $2 GROUP BY province, campaign_id",
    );
    all(state, q, |r| {
        Ok((
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
        ))
    })
    .await
}

/// Fee lines on no-fee campaigns: (province, entry).
pub(crate) async fn fees_on_no_fee(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<(String, i64)>> {
    let q = ranged(
        scope,
        "SELECT DISTINCT ll.province, ll.entry_id FROM ledger_lines ll \
         JOIN ledger_entries e ON e.province = ll.province AND e.id = ll.entry_id \
         JOIN donation_campaigns c ON c.id = e.campaign_id \
         WHERE e.region_code >= $1 AND e.region_code < $2 AND ll.account = 'fee' AND c.no_fee = 1",
    );
    all(state, q, |r| Ok((r.try_get(0)?, r.try_get(1)?))).await
}

/// An allocation with what its rules are checked against.
pub(crate) struct AllocCheck {
    pub province: String,
    pub id: i64,
    pub recipient_org_id: i64,
    pub recipient_region: String,
    pub quantity: i64,
    pub created_at: i64,
    pub directed_kind: String,
    pub directed_org_id: Option<i64>,
    pub directed_region: Option<String>,
    pub expiry_on: Option<String>,
    /// The `allocated` quantity of its allocate entry.
    pub entry_qty: i64,
}

pub(crate) async fn allocation_checks(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<AllocCheck>> {
    let q = ranged(
        scope,
        "SELECT a.province, a.id, a.recipient_org_id, a.recipient_region, a.quantity, a.created_at, r.directed_kind, \
         r.directed_org_id, r.directed_region, l.expiry_on, \
         CAST(COALESCE((SELECT SUM(ll.quantity) FROM ledger_lines ll WHERE ll.province = a.province \
           AND ll.entry_id = a.entry_id AND ll.account = 'allocated'), 0) AS BIGINT) AS entry_qty \
         FROM donation_allocations a \
         JOIN donation_receipts r ON r.province = a.province AND r.id = a.receipt_id \
         JOIN donation_lines l ON l.province = a.province AND l.id = a.line_id \
         WHERE a.region_code >= $1 AND a.region_code < $2",
    );
    all(state, q, |r| {
        Ok(AllocCheck {
            province: r.try_get(0)?,
            id: r.try_get(1)?,
            recipient_org_id: r.try_get(2)?,
            recipient_region: r.try_get(3)?,
            quantity: r.try_get(4)?,
            created_at: r.try_get(5)?,
            directed_kind: r.try_get(6)?,
            directed_org_id: r.try_get(7)?,
            directed_region: r.try_get(8)?,
            expiry_on: r.try_get(9)?,
            entry_qty: r.try_get(10)?,
        })
    })
    .await
}
