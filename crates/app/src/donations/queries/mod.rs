//! Every SQL statement of donations, and the only place in the area that runs one: campaigns,
//! receivers, organisations looked up, receipts and their lines (this file), the ledger,
//! allocations and verification ([`ledger`]), needs and their matches ([`needs`]).
//!
//! Reading functions take a [`Scoped`] handle: lists are limited to its code range (and, for
//! an actor tied to an organisation, to that organisation) in SQL; a row fetched by id is let
//! through the handle or is *not found*. Writing functions take the open [`Tx`]. Sums are cast
//! to BIGINT (PostgreSQL's SUM of a BIGINT is NUMERIC).

mod disclosure;
mod import;
mod ledger;
mod needs;

pub(super) use disclosure::*;
pub(super) use import::*;
pub(super) use ledger::*;
pub(super) use needs::*;

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::receipts::{LineRow, ReceiptRow, donor_shown};
use super::{Campaign, CategoryTotals, Line, Receipt, Receiver, Totals, category_label};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{admitted, admitted_row, all, ranged, regional};
use crate::state::AppState;
use backstop_core::clock::rfc3339;

regional!(Receipt);

/// An organisation as the ledger needs it.
#[derive(Debug, Clone)]
pub(crate) struct OrgBrief {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub region_code: String,
}

/// One organisation under the handle (by region).
pub(crate) async fn org(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<OrgBrief> {
    admitted(
        state,
        scope,
        "SELECT id, name, kind, region_code FROM orgs WHERE id = $1",
        id,
        |r| {
            Ok(OrgBrief {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                region_code: r.try_get("region_code")?,
            })
        },
        |o| &o.region_code,
    )
    .await
}

/// The organisation limit of a handle as a bind (0: none).
pub(super) fn org_bind(scope: &Scoped<'_>) -> i64 {
    scope.org().unwrap_or(0)
}

/// Insert a campaign (`c` validated: the region's code and the dates in their stored form).
pub(crate) async fn insert_campaign(
    tx: &mut Tx,
    c: &crate::donations::NewCampaign,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO donation_campaigns (region_code, name, starts_on, ends_on, no_fee, directed_only, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(c.region_code.clone())
    .bind(c.name.clone())
    .bind(c.starts_on.clone())
    .bind(c.ends_on.clone())
    .bind(i64::from(c.no_fee))
    .bind(i64::from(c.directed_only))
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

const C_COLS: &str =
    "id, region_code, name, starts_on, ends_on, no_fee, directed_only, created_by, created_at";

fn campaign_from_row(r: &AnyRow) -> Result<Campaign, sqlx::Error> {
    Ok(Campaign {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        name: r.try_get("name")?,
        starts_on: r.try_get("starts_on")?,
        ends_on: r.try_get("ends_on")?,
        no_fee: r.try_get::<i64, _>("no_fee")? != 0,
        directed_only: r.try_get::<i64, _>("directed_only")? != 0,
        created_by: r.try_get("created_by")?,
        created_at: rfc3339(r.try_get("created_at")?),
    })
}

/// Does the handle see a campaign of `code`: inside it, or a region containing it (a
/// province-wide campaign is seen by its counties' charities)?
fn sees_campaign(scope: &Scoped<'_>, code: &str) -> bool {
    scope.contains(code) || scope.node().as_str().starts_with(code)
}

pub(crate) async fn campaign(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Campaign> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {C_COLS} FROM donation_campaigns WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(AppError::not_found)?;
    let c = campaign_from_row(&row)?;
    if sees_campaign(scope, &c.region_code) {
        Ok(c)
    } else {
        Err(AppError::not_found())
    }
}

pub(crate) async fn campaigns(state: &AppState, scope: &Scoped<'_>) -> AppResult<Vec<Campaign>> {
    let q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {C_COLS} FROM donation_campaigns ORDER BY id DESC LIMIT 1000"
    )));
    let all_rows = all(state, q, campaign_from_row).await?;
    Ok(all_rows
        .into_iter()
        .filter(|c| sees_campaign(scope, &c.region_code))
        .collect())
}

/// A campaign's totals under the handle: sums of ledger lines per category and account.
pub(crate) async fn totals(
    state: &AppState,
    scope: &Scoped<'_>,
    campaign_id: i64,
) -> AppResult<Totals> {
    let sql = "SELECT l.category, l.unit, ll.account, CAST(SUM(ll.quantity) AS BIGINT) AS q, \
        CAST(SUM(ll.value_fen) AS BIGINT) AS v FROM ledger_lines ll \
        JOIN donation_lines l ON l.province = ll.province AND l.id = ll.line_id \
        WHERE l.region_code >= $1 AND l.region_code < $2 AND l.campaign_id = $3 AND ($4 = 0 OR l.org_id = $4) \
        GROUP BY l.category, l.unit, ll.account ORDER BY l.category, l.unit";
    let q = ranged(scope, sql).bind(campaign_id).bind(org_bind(scope));
    let rows = all(state, q, |r| {
        Ok((
            r.try_get::<String, _>("category")?,
            r.try_get::<String, _>("unit")?,
            r.try_get::<String, _>("account")?,
            r.try_get::<i64, _>("q")?,
            r.try_get::<i64, _>("v")?,
        ))
    })
    .await?;
    let mut t = Totals::default();
    for (category, unit, account, q, v) in rows {
        let pos = match t
            .categories
            .iter()
            .position(|c| c.category == category && c.unit == unit)
        {
            Some(p) => p,
            None => {
                t.categories.push(CategoryTotals {
                    label: category_label(&category).to_string(),
                    category: category.clone(),
                    unit: unit.clone(),
                    ..Default::default()
                });
                t.categories.len() - 1
            }
        };
        let c = &mut t.categories[pos];
        match account.as_str() {
            "donor" => {
                c.received -= q;
                t.received_fen -= v;
            }
            "stock" => {
                c.in_stock += q;
                t.in_stock_fen += v;
            }
            "allocated" | "in_transit" | "discrepancy" => {
                c.allocated += q;
                t.allocated_fen += v;
            }
            "delivered" => {
                c.allocated += q;
                c.delivered += q;
                t.allocated_fen += v;
                t.delivered_fen += v;
            }
            "fee" => t.fee_fen += v,
            _ => {}
        }
    }
    Ok(t)
}

fn receiver_from_row(r: &AnyRow) -> Result<Receiver, sqlx::Error> {
    Ok(Receiver {
        org_id: r.try_get("org_id")?,
        org_name: r.try_get("org_name")?,
        region_code: r.try_get("region_code")?,
        tax_free_imports: r.try_get::<i64, _>("tax_free_imports")? != 0,
        licence_no: r.try_get("licence_no")?,
        credit_code: r.try_get("credit_code")?,
        filing_no: r.try_get("filing_no")?,
    })
}

const R_COLS: &str = "d.org_id, o.name AS org_name, d.region_code, d.tax_free_imports, d.licence_no, \
    d.credit_code, d.filing_no FROM donation_receivers d JOIN orgs o ON o.id = d.org_id";

pub(crate) async fn receiver(
    state: &AppState,
    scope: &Scoped<'_>,
    org_id: i64,
) -> AppResult<Receiver> {
    let sql = format!("SELECT {R_COLS} WHERE d.org_id = $1");
    admitted(state, scope, sql, org_id, receiver_from_row, |r| {
        &r.region_code
    })
    .await
}

pub(crate) async fn receivers(state: &AppState, scope: &Scoped<'_>) -> AppResult<Vec<Receiver>> {
    let sql = format!(
        "SELECT {R_COLS} WHERE d.region_code >= $1 AND d.region_code < $2 ORDER BY o.name LIMIT 1000"
    );
    all(state, ranged(scope, sql), receiver_from_row).await
}

pub(crate) async fn upsert_receiver(tx: &mut Tx, r: &Receiver, by: &str) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO donation_receivers (org_id, region_code, tax_free_imports, licence_no, credit_code, \
         filing_no, updated_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
         ON CONFLICT (org_id) DO UPDATE SET tax_free_imports = $3, licence_no = $4, credit_code = $5, \
         filing_no = $6, updated_by = $7, updated_at = $8",
    )
    .bind(r.org_id)
    .bind(r.region_code.clone())
    .bind(i64::from(r.tax_free_imports))
    .bind(r.licence_no.clone())
    .bind(r.credit_code.clone())
    .bind(r.filing_no.clone())
    .bind(by.to_string())
    .bind(now);
    tx.exec(q).await
}

pub(crate) async fn receipt_no_taken(
    tx: &mut Tx,
    prov: &str,
    org_id: i64,
    no: &str,
) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts WHERE province = $1 AND org_id = $2 AND receipt_no = $3",
    )
    .bind(prov.to_string())
    .bind(org_id)
    .bind(no.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(n > 0)
}

pub(crate) async fn insert_receipt(
    tx: &mut Tx,
    prov: &str,
    r: &ReceiptRow,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO donation_receipts (province, campaign_id, org_id, region_code, receipt_no, bill_no, received_on, \
         donor_kind, donor_name_enc, donor_name_hash, donor_salt, publish_consent, directed_kind, directed_org_id, \
         directed_region, directed_purpose, currency, amount_minor, rate_micro, money_fen, goods_value_fen, created_by, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21, $22, $23) RETURNING id",
    )
    .bind(prov.to_string())
    .bind(r.campaign_id)
    .bind(r.org_id)
    .bind(r.region_code.clone())
    .bind(r.receipt_no.clone())
    .bind(r.bill_no.clone())
    .bind(r.received_on.clone())
    .bind(r.donor_kind.clone())
    .bind(r.donor_name_enc.clone())
    .bind(r.donor_name_hash.clone())
    .bind(r.donor_salt.clone())
    .bind(i64::from(r.publish_consent))
    .bind(r.directed_kind.clone())
    .bind(r.directed_org_id)
    .bind(r.directed_region.clone())
    .bind(r.directed_purpose.clone())
    .bind(r.currency.clone())
    .bind(r.amount_minor)
    .bind(r.rate_micro)
    .bind(r.money_fen)
    .bind(r.goods_value_fen)
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

pub(crate) async fn insert_line(
    tx: &mut Tx,
    prov: &str,
    receipt_id: i64,
    r: &ReceiptRow,
    l: &LineRow,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO donation_lines (province, receipt_id, campaign_id, org_id, region_code, kind, category, spec, \
         quantity, unit, unit_value_fen, value_fen, expiry_on, tax_free_import, warehouse, lock_n, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, $16) RETURNING id",
    )
    .bind(prov.to_string())
    .bind(receipt_id)
    .bind(r.campaign_id)
    .bind(r.org_id)
    .bind(r.region_code.clone())
    .bind(l.kind)
    .bind(l.category.clone())
    .bind(l.spec.clone())
    .bind(l.quantity)
    .bind(l.unit.clone())
    .bind(l.unit_value_fen)
    .bind(l.value_fen)
    .bind(l.expiry_on.clone())
    .bind(i64::from(l.tax_free_import))
    .bind(l.warehouse.clone())
    .bind(now);
    tx.insert(q).await
}

const RC_COLS: &str = "r.province, r.id, r.campaign_id, r.org_id, o.name AS org_name, r.region_code, r.receipt_no, \
    r.bill_no, r.received_on, r.donor_kind, r.donor_name_enc, '' AS donor_name, r.publish_consent, r.directed_kind, r.directed_org_id, \
    r.directed_region, r.directed_purpose, r.currency, r.amount_minor, r.rate_micro, r.money_fen, r.goods_value_fen, \
    r.created_by, r.created_at FROM donation_receipts r JOIN orgs o ON o.id = r.org_id";

/// Decimal text of an integer scaled by 10^places, trailing zeros of the fraction kept to 2.
fn decimal(v: i64, places: u32) -> String {
    let p = 10i64.pow(places);
    let mut frac = format!("{:0width$}", v % p, width = places as usize);
    while frac.len() > 2 && frac.ends_with('0') {
        frac.pop();
    }
    format!("{}.{frac}", v / p)
}

fn receipt_from_row(state: &AppState, r: &AnyRow) -> Result<Receipt, sqlx::Error> {
    let kind: String = r.try_get("donor_kind")?;
    let name = crate::privacy::opt_text(&state.keys, r, "donor_name")?;
    Ok(Receipt {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        org_id: r.try_get("org_id")?,
        org_name: r.try_get("org_name")?,
        region_code: r.try_get("region_code")?,
        receipt_no: r.try_get("receipt_no")?,
        bill_no: r.try_get("bill_no")?,
        received_on: r.try_get("received_on")?,
        donor: donor_shown(&kind, name.as_deref().unwrap_or("")),
        donor_kind: kind,
        publish_consent: r.try_get::<i64, _>("publish_consent")? != 0,
        directed_kind: r.try_get("directed_kind")?,
        directed_org_id: r.try_get("directed_org_id")?,
        directed_region: r.try_get("directed_region")?,
        directed_purpose: r.try_get("directed_purpose")?,
        currency: r.try_get("currency")?,
        amount: decimal(r.try_get("amount_minor")?, 2),
        rate: decimal(r.try_get("rate_micro")?, 6),
        money_fen: r.try_get("money_fen")?,
        goods_value_fen: r.try_get("goods_value_fen")?,
        created_by: r.try_get("created_by")?,
        created_at: rfc3339(r.try_get("created_at")?),
        lines: Vec::new(),
    })
}

fn line_from_row(r: &AnyRow) -> Result<Line, sqlx::Error> {
    let category: String = r.try_get("category")?;
    Ok(Line {
        id: r.try_get("id")?,
        receipt_id: r.try_get("receipt_id")?,
        kind: r.try_get("kind")?,
        category_label: category_label(&category).to_string(),
        category,
        spec: r.try_get("spec")?,
        quantity: r.try_get("quantity")?,
        unit: r.try_get("unit")?,
        unit_value_fen: r.try_get("unit_value_fen")?,
        value_fen: r.try_get("value_fen")?,
        expiry_on: r.try_get("expiry_on")?,
        tax_free_import: r.try_get::<i64, _>("tax_free_import")? != 0,
        warehouse: r.try_get("warehouse")?,
        in_stock: 0,
        allocated: 0,
        in_transit: 0,
        delivered: 0,
    })
}

const L_COLS: &str = "l.id, l.receipt_id, l.kind, l.category, l.spec, l.quantity, l.unit, l.unit_value_fen, \
    l.value_fen, l.expiry_on, l.tax_free_import, l.warehouse";

/// Attach lines (with balances) to receipts; `cond` selects the lines, binds from `$1`.
async fn with_lines(
    state: &AppState,
    receipts: &mut [Receipt],
    q_lines: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    q_bal: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
) -> AppResult<()> {
    let mut lines = all(state, q_lines, line_from_row).await?;
    let bal = all(state, q_bal, |r| {
        Ok((
            r.try_get::<i64, _>("line_id")?,
            r.try_get::<String, _>("account")?,
            r.try_get::<i64, _>("q")?,
        ))
    })
    .await?;
    let mut by: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    for (id, account, q) in bal {
        by.entry(id).or_default().push((account, q));
    }
    for l in &mut lines {
        for (account, q) in by.get(&l.id).into_iter().flatten() {
            match account.as_str() {
                "stock" => l.in_stock = *q,
                "allocated" => l.allocated = *q,
                "in_transit" => l.in_transit = *q,
                "delivered" => l.delivered = *q,
                _ => {}
            }
        }
    }
    for l in lines {
        if let Some(r) = receipts.iter_mut().find(|r| r.id == l.receipt_id) {
            r.lines.push(l);
        }
    }
    Ok(())
}

/// One receipt under the handle, with its lines and their balances.
pub(crate) async fn receipt(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Receipt> {
    let sql = format!("SELECT {RC_COLS} WHERE r.id = $1");
    let r = admitted_row(state, scope, sql, id, |r| receipt_from_row(state, r)).await?;
    let r = scope.admit_org(r.org_id, r)?;
    let prov = super::province(&r.region_code);
    let mut one = [r];
    let ql = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {L_COLS} FROM donation_lines l WHERE l.province = $1 AND l.receipt_id = $2 ORDER BY l.id"
    )))
    .bind(prov.clone())
    .bind(id);
    let qb = sqlx::query(
        "SELECT ll.line_id, ll.account, CAST(SUM(ll.quantity) AS BIGINT) AS q FROM ledger_lines ll \
         JOIN donation_lines l ON l.province = ll.province AND l.id = ll.line_id \
         WHERE l.province = $1 AND l.receipt_id = $2 GROUP BY ll.line_id, ll.account",
    )
    .bind(prov)
    .bind(id);
    with_lines(state, &mut one, ql, qb).await?;
    let [r] = one;
    Ok(r)
}

/// Receipts of a campaign under the handle, newest first (at most 500), with their lines.
pub(crate) async fn receipts(
    state: &AppState,
    scope: &Scoped<'_>,
    campaign_id: i64,
) -> AppResult<Vec<Receipt>> {
    let sql = format!(
        "SELECT {RC_COLS} WHERE r.region_code >= $1 AND r.region_code < $2 AND r.campaign_id = $3 \
         AND ($4 = 0 OR r.org_id = $4) ORDER BY r.id DESC LIMIT 500"
    );
    let q = ranged(scope, sql).bind(campaign_id).bind(org_bind(scope));
    let mut out = all(state, q, |r| receipt_from_row(state, r)).await?;
    let min_id = out.iter().map(|r| r.id).min().unwrap_or(0);
    let ql = ranged(
        scope,
        format!(
            "SELECT {L_COLS} FROM donation_lines l WHERE l.region_code >= $1 AND l.region_code < $2 \
             AND l.campaign_id = $3 AND ($4 = 0 OR l.org_id = $4) AND l.receipt_id >= $5 ORDER BY l.id"
        ),
    )
    .bind(campaign_id)
    .bind(org_bind(scope))
    .bind(min_id);
    let qb = ranged(
        scope,
        "SELECT ll.line_id, ll.account, CAST(SUM(ll.quantity) AS BIGINT) AS q FROM ledger_lines ll \
         JOIN donation_lines l ON l.province = ll.province AND l.id = ll.line_id \
         WHERE l.region_code >= $1 AND l.region_code < $2 AND l.campaign_id = $3 AND ($4 = 0 OR l.org_id = $4) \
         AND l.receipt_id >= $5 GROUP BY ll.line_id, ll.account",
    )
    .bind(campaign_id)
    .bind(org_bind(scope))
    .bind(min_id);
    with_lines(state, &mut out, ql, qb).await?;
    Ok(out)
}

/// Take the campaign's next entry number in the province: the row is locked until commit on
/// PostgreSQL, which serialises the campaign's ledger writes there (SQLite has one writer).
pub(crate) async fn next_seq(tx: &mut Tx, prov: &str, campaign_id: i64) -> AppResult<i64> {
    let q = sqlx::query(
        "INSERT INTO ledger_seqs (province, campaign_id, last_seq) VALUES ($1, $2, 1) \
         ON CONFLICT (province, campaign_id) DO UPDATE SET last_seq = ledger_seqs.last_seq + 1 RETURNING last_seq",
    )
    .bind(prov.to_string())
    .bind(campaign_id);
    tx.insert(q).await
}

/// Organisations under the handle a charity may allocate to (everything but charities, not
/// disabled), by name (at most 500): (id, name).
pub(crate) async fn recipients(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<(i64, String)>> {
    let q = ranged(
        scope,
        "SELECT id, name FROM orgs WHERE region_code >= $1 AND region_code < $2 AND kind <> 'charity' \
         AND disabled = 0 ORDER BY name LIMIT 500",
    );
    all(state, q, |r| Ok((r.try_get("id")?, r.try_get("name")?))).await
}
