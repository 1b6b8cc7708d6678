//! SQL of supply–demand matching: needs (with what is met, summed from the matches whose
//! allocation is not reversed), the match rows, and the stock lines a need may be met from.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::donations::needs::Need;
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{admitted, all, ranged, region_name};
use crate::state::AppState;
use backstop_core::clock::rfc3339;

/// A validated need.
pub(crate) struct NeedRow {
    pub province: String,
    pub campaign_id: i64,
    pub recipient_org_id: i64,
    pub region_code: String,
    pub category: String,
    pub spec: String,
    pub quantity: i64,
    pub unit: String,
    pub urgency: String,
    pub needed_by: String,
    pub note: String,
}

pub(crate) async fn insert_need(tx: &mut Tx, n: &NeedRow, by: &str) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO donation_needs (province, campaign_id, recipient_org_id, region_code, category, spec, quantity, \
         unit, urgency, needed_by, note, status, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'open', $12, $13, $13) RETURNING id",
    )
    .bind(n.province.clone())
    .bind(n.campaign_id)
    .bind(n.recipient_org_id)
    .bind(n.region_code.clone())
    .bind(n.category.clone())
    .bind(n.spec.clone())
    .bind(n.quantity)
    .bind(n.unit.clone())
    .bind(n.urgency.clone())
    .bind(n.needed_by.clone())
    .bind(n.note.clone())
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

/// What is met of need `n` (alias) — matches whose allocation is not reversed.
const MET: &str = "CAST(COALESCE((SELECT SUM(m.quantity) FROM donation_need_matches m \
    JOIN donation_allocations a ON a.province = m.province AND a.id = m.allocation_id \
    WHERE m.province = n.province AND m.need_id = n.id AND a.status <> 'reversed'), 0) AS BIGINT)";

fn cols() -> String {
    format!(
        "n.id, n.campaign_id, n.recipient_org_id, o.name AS recipient_name, o.region_code AS recipient_region, \
         n.region_code, rg.name AS region_name, n.category, n.spec, n.quantity, n.unit, n.urgency, n.needed_by, \
         n.note, n.status, n.created_by, n.created_at, {MET} AS met \
         FROM donation_needs n JOIN orgs o ON o.id = n.recipient_org_id \
         LEFT JOIN regions rg ON rg.code = n.region_code"
    )
}

fn need_from_row(r: &AnyRow) -> Result<Need, sqlx::Error> {
    Ok(Need {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        recipient_org_id: r.try_get("recipient_org_id")?,
        recipient_name: r.try_get("recipient_name")?,
        region_code: r.try_get("region_code")?,
        region_name: region_name(r)?,
        category: r.try_get("category")?,
        category_label: String::new(),
        spec: r.try_get("spec")?,
        quantity: r.try_get("quantity")?,
        unit: r.try_get("unit")?,
        urgency: r.try_get("urgency")?,
        urgency_label: String::new(),
        needed_by: r.try_get("needed_by")?,
        note: r.try_get("note")?,
        status: r.try_get("status")?,
        met: r.try_get("met")?,
        remaining: 0,
        state_label: String::new(),
        created_by: r.try_get("created_by")?,
        created_at: rfc3339(r.try_get("created_at")?),
        recipient_region: r.try_get("recipient_region")?,
    }
    .derive())
}

/// One need under the handle (by its delivery region).
pub(crate) async fn need(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Need> {
    let sql = format!("SELECT {} WHERE n.id = $1", cols());
    admitted(state, scope, sql, id, need_from_row, |n| &n.region_code).await
}

/// Needs of a campaign under the handle (at most 2,000, newest first), only those of
/// `recipient` when given.
pub(crate) async fn needs(
    state: &AppState,
    scope: &Scoped<'_>,
    campaign_id: i64,
    recipient: Option<i64>,
) -> AppResult<Vec<Need>> {
    let sql = format!(
        "SELECT {} WHERE n.region_code >= $1 AND n.region_code < $2 AND n.campaign_id = $3 \
         AND ($4 = 0 OR n.recipient_org_id = $4) ORDER BY n.id DESC LIMIT 2000",
        cols()
    );
    let q = ranged(scope, sql)
        .bind(campaign_id)
        .bind(recipient.unwrap_or(0));
    all(state, q, need_from_row).await
}

/// Inside a write: a need's status, quantity, what is met, and its region.
pub(crate) async fn need_in_tx(
    tx: &mut Tx,
    prov: &str,
    id: i64,
) -> AppResult<(String, i64, i64, String)> {
    let sql = format!(
        "SELECT n.status, n.quantity, n.region_code, {MET} AS met FROM donation_needs n \
         WHERE n.province = $1 AND n.id = $2"
    );
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(prov.to_string())
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok((
        r.try_get("status")?,
        r.try_get("quantity")?,
        r.try_get("met")?,
        r.try_get("region_code")?,
    ))
}

pub(crate) async fn insert_match(
    tx: &mut Tx,
    prov: &str,
    need_id: i64,
    allocation_id: i64,
    quantity: i64,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO donation_need_matches (province, need_id, allocation_id, quantity, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(prov.to_string())
    .bind(need_id)
    .bind(allocation_id)
    .bind(quantity)
    .bind(by.to_string())
    .bind(now);
    tx.exec(q).await
}

/// Cancel an open need; false when it was not open.
pub(crate) async fn cancel_need(tx: &mut Tx, prov: &str, id: i64) -> AppResult<bool> {
    let now = tx.now();
    let q = sqlx::query(
        "UPDATE donation_needs SET status = 'cancelled', updated_at = $3 \
         WHERE province = $1 AND id = $2 AND status = 'open'",
    )
    .bind(prov.to_string())
    .bind(id)
    .bind(now);
    Ok(tx.changed(q).await? == 1)
}

/// A receipt line's category, unit and campaign, under the handle.
pub(crate) async fn line_brief(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<(String, String, i64)> {
    admitted(
        state,
        scope,
        "SELECT category, unit, campaign_id, region_code FROM donation_lines WHERE id = $1",
        id,
        |r| {
            Ok((
                r.try_get::<String, _>("category")?,
                r.try_get::<String, _>("unit")?,
                r.try_get::<i64, _>("campaign_id")?,
                r.try_get::<String, _>("region_code")?,
            ))
        },
        |l| &l.3,
    )
    .await
    .map(|(c, u, k, _)| (c, u, k))
}

/// A goods line that might meet a need, with its stock and its gift's direction.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub line_id: i64,
    pub receipt_id: i64,
    pub receipt_no: String,
    pub org_id: i64,
    pub org_name: String,
    pub region_code: String,
    pub category: String,
    pub spec: String,
    pub unit: String,
    pub expiry_on: Option<String>,
    pub warehouse: String,
    pub directed_kind: String,
    pub directed_org_id: Option<i64>,
    pub directed_region: Option<String>,
    pub in_stock: i64,
}

/// Goods lines of a campaign and category under the handle (an actor tied to an organisation:
/// its own), not expired on `today`, with their stock (at most 500, oldest first).
pub(crate) async fn candidate_lines(
    state: &AppState,
    scope: &Scoped<'_>,
    campaign_id: i64,
    category: &str,
    today: &str,
) -> AppResult<Vec<Candidate>> {
    let sql = "SELECT l.id, l.receipt_id, r.receipt_no, l.org_id, o.name AS org_name, l.region_code, l.category, \
        l.spec, l.unit, l.expiry_on, l.warehouse, r.directed_kind, r.directed_org_id, r.directed_region, \
        CAST(COALESCE((SELECT SUM(ll.quantity) FROM ledger_lines ll WHERE ll.province = l.province \
        AND ll.line_id = l.id AND ll.account = 'stock'), 0) AS BIGINT) AS in_stock \
        FROM donation_lines l JOIN donation_receipts r ON r.province = l.province AND r.id = l.receipt_id \
        JOIN orgs o ON o.id = l.org_id \
        WHERE l.region_code >= $1 AND l.region_code < $2 AND l.campaign_id = $3 AND ($4 = 0 OR l.org_id = $4) \
        AND l.kind = 'goods' AND l.category = $5 AND (l.expiry_on IS NULL OR l.expiry_on >= $6) \
        ORDER BY l.id LIMIT 500";
    let q = ranged(scope, sql)
        .bind(campaign_id)
        .bind(super::org_bind(scope))
        .bind(category.to_string())
        .bind(today.to_string());
    all(state, q, |r| {
        Ok(Candidate {
            line_id: r.try_get("id")?,
            receipt_id: r.try_get("receipt_id")?,
            receipt_no: r.try_get("receipt_no")?,
            org_id: r.try_get("org_id")?,
            org_name: r.try_get("org_name")?,
            region_code: r.try_get("region_code")?,
            category: r.try_get("category")?,
            spec: r.try_get("spec")?,
            unit: r.try_get("unit")?,
            expiry_on: r.try_get("expiry_on")?,
            warehouse: r.try_get("warehouse")?,
            directed_kind: r.try_get("directed_kind")?,
            directed_org_id: r.try_get("directed_org_id")?,
            directed_region: r.try_get("directed_region")?,
            in_stock: r.try_get("in_stock")?,
        })
    })
    .await
}

/// Stock of a campaign under the handle grouped by category, unit and the receipt's date (the
/// dashboard's days in stock): `(category, unit, received_on, quantity)`.
pub(crate) async fn stock_by_receipt_date(
    state: &AppState,
    scope: &Scoped<'_>,
    campaign_id: i64,
) -> AppResult<Vec<(String, String, String, i64)>> {
    let sql = "SELECT l.category, l.unit, r.received_on, CAST(SUM(ll.quantity) AS BIGINT) AS q \
        FROM ledger_lines ll JOIN donation_lines l ON l.province = ll.province AND l.id = ll.line_id \
        JOIN donation_receipts r ON r.province = l.province AND r.id = l.receipt_id \
        WHERE l.region_code >= $1 AND l.region_code < $2 AND l.campaign_id = $3 AND ($4 = 0 OR l.org_id = $4) \
        AND ll.account = 'stock' GROUP BY l.category, l.unit, r.received_on ORDER BY l.category, r.received_on";
    let q = ranged(scope, sql)
        .bind(campaign_id)
        .bind(super::org_bind(scope));
    all(state, q, |r| {
        Ok((
            r.try_get("category")?,
            r.try_get("unit")?,
            r.try_get("received_on")?,
            r.try_get("q")?,
        ))
    })
    .await
}
