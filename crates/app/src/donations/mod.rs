//! Charity donations (慈善捐赠, issue 18, first slice): campaigns and their rules, receiving
//! charities, receipts of money and goods, and one double-entry ledger that follows every
//! receipt line from the donor to the recipient's signature (allocation → dispatch →
//! delivery), with `backstop ledger verify` recomputing it ([`verify`]).
//!
//! Rules: keeping the ledger needs `DonationsManage` and, for anyone tied to an organisation,
//! that organisation (a charity keeps its own ledger); reading needs `DonationsRead` or
//! `DonationsManage` and the charity's region in scope (officials read every charity of their
//! region; an actor tied to an organisation reads that organisation's records only); confirming
//! a delivery needs `DonationsConfirm` and being a user of the recipient organisation. Out of
//! scope is *not found*. Balances are never stored: every figure is a sum of ledger lines, and
//! the invariants (never beyond the balance, directed only to the target, no fee on a no-fee
//! campaign, nothing expired allocated) are checked inside the write transaction after the
//! campaign's sequence row is locked (the ledger's shape: docs/adr/0013-donation-ledger.md).

pub mod dashboard;
pub mod dashboard_pages;
pub mod dashboard_web;
pub mod disclosure;
pub mod feed;
pub mod feed_verify;
pub mod import;
pub mod import_pages;
pub mod ledger;
pub mod need_figures;
pub mod needs;
pub mod needs_pages;
pub mod needs_web;
pub mod pages;
pub mod public_pages;
mod queries;
pub mod receipts;
pub mod verify;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_range, text_field};
use crate::state::AppState;

pub use ledger::{Allocation, Delivery, Dispatch, Entry, EntryLine};
pub use receipts::{GoodsInput, Line, MoneyInput, NewReceipt, Receipt};
pub use verify::LedgerReport;

/// The goods catalogue: (key, Chinese label, default unit).
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    ("mask_n95", "医用防护口罩（N95）", "只"),
    ("mask_surgical", "医用外科口罩", "只"),
    ("mask_ordinary", "一次性使用医用口罩", "只"),
    ("protective_suit", "医用防护服", "件"),
    ("goggles", "护目镜", "副"),
    ("face_shield", "防护面屏", "个"),
    ("gloves", "医用手套", "副"),
    ("disinfectant", "消毒液", "升"),
    ("thermometer", "体温计", "支"),
    ("ventilator", "呼吸机", "台"),
    ("food", "食品", "箱"),
    ("daily_goods", "生活用品", "件"),
    ("other", "其他物资", "件"),
];

/// The category of a money line.
pub const MONEY: &str = "money";

/// The Chinese label of a category key (money included).
pub fn category_label(key: &str) -> &'static str {
    if key == MONEY {
        return "资金";
    }
    CATALOGUE
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, l, _)| *l)
        .unwrap_or("其他物资")
}

/// A campaign (募捐活动) with its rules.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Campaign {
    pub id: i64,
    pub region_code: String,
    pub name: String,
    pub starts_on: String,
    pub ends_on: String,
    /// No fee or administrative cost may be taken (epidemic donations).
    pub no_fee: bool,
    /// Directed gifts go only to their target.
    pub directed_only: bool,
    pub created_by: String,
    pub created_at: String,
}

/// Body of `POST /api/v1/donations/campaigns`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewCampaign {
    pub name: String,
    pub region_code: String,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    /// `YYYY-MM-DD`, not before `starts_on`.
    pub ends_on: String,
    #[serde(default)]
    pub no_fee: bool,
    #[serde(default = "yes")]
    pub directed_only: bool,
}

fn yes() -> bool {
    true
}

/// A receiving charity.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Receiver {
    pub org_id: i64,
    pub org_name: String,
    pub region_code: String,
    /// Designated to receive imported supplies free of tax.
    pub tax_free_imports: bool,
    pub licence_no: String,
    /// 统一社会信用代码.
    pub credit_code: String,
    /// 公开募捐方案备案编号.
    pub filing_no: String,
}

/// Body of `POST /api/v1/donations/receivers`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ReceiverInput {
    /// The charity; default the caller's own organisation.
    #[serde(default)]
    pub org_id: Option<i64>,
    #[serde(default)]
    pub tax_free_imports: bool,
    #[serde(default)]
    pub licence_no: String,
    #[serde(default)]
    pub credit_code: String,
    #[serde(default)]
    pub filing_no: String,
}

/// Totals of a campaign in the actor's scope, all sums of ledger lines.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// Received (valuation of goods plus money), fen.
    pub received_fen: i64,
    /// Allocated to recipients (including dispatched and delivered), fen.
    pub allocated_fen: i64,
    /// Confirmed delivered, fen.
    pub delivered_fen: i64,
    /// Still in the charities' stock, fen.
    pub in_stock_fen: i64,
    /// Taken as fee, fen (0 on a no-fee campaign).
    pub fee_fen: i64,
    /// Per category: received, allocated, delivered and in-stock quantities.
    pub categories: Vec<CategoryTotals>,
}

/// One category's quantities.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct CategoryTotals {
    pub category: String,
    pub label: String,
    pub unit: String,
    pub received: i64,
    pub allocated: i64,
    pub delivered: i64,
    pub in_stock: i64,
}

/// A campaign with its totals.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CampaignDetail {
    pub campaign: Campaign,
    pub totals: Totals,
}

/// Forbidden unless the actor may read ledgers.
pub(crate) fn may_read(actor: &Actor) -> AppResult<()> {
    if actor.can(Permission::DonationsRead) || actor.can(Permission::DonationsManage) {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// The charity whose ledger the actor keeps: its own organisation, or (an actor not tied to
/// one, the operator) the one named. Must be a charity in scope.
pub(crate) async fn own_charity(
    state: &AppState,
    actor: &Actor,
    named: Option<i64>,
) -> AppResult<queries::OrgBrief> {
    actor.require(Permission::DonationsManage)?;
    let id = match (actor.org_id, named) {
        (Some(mine), Some(other)) if mine != other => return Err(AppError::forbidden()),
        (Some(mine), _) => mine,
        (None, Some(id)) => id,
        (None, None) => {
            return Err(AppError::field(
                ErrorCode::Validation,
                "org_id",
                "请选择接收捐赠的慈善组织",
            ));
        }
    };
    let org = queries::org(state, &actor.everywhere(), id).await?;
    if org.kind != "charity" {
        return Err(AppError::field(
            ErrorCode::Validation,
            "org_id",
            "接收捐赠的单位应为慈善组织",
        ));
    }
    Ok(org)
}

/// The province (2-digit prefix) of a region code (`backstop_core::region`).
pub(crate) use backstop_core::region::province_of as province;

/// Create a campaign (`DonationsManage`, region in scope).
pub async fn create_campaign(
    state: &AppState,
    actor: &Actor,
    input: &NewCampaign,
) -> AppResult<Campaign> {
    actor.require(Permission::DonationsManage)?;
    let name = text_field("name", &input.name, 100, true)?;
    let code = crate::regions::parse_code("region_code", &input.region_code)?;
    actor.within(&code)?;
    let (starts, ends) = date_range(&input.starts_on, &input.ends_on)?;
    let row = NewCampaign {
        region_code: code.as_str().to_string(),
        name,
        starts_on: starts.format("%Y-%m-%d").to_string(),
        ends_on: ends.format("%Y-%m-%d").to_string(),
        no_fee: input.no_fee,
        directed_only: input.directed_only,
    };
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_campaign(&mut tx, &row, &actor.username).await?;
    tx.commit(
        Change::new(
            "donation.campaign_create",
            "donation_campaign",
            id,
            code.as_str(),
        )
        .detail(
            json!({"name": {"before": null, "after": row.name}, "starts_on": row.starts_on,
                "ends_on": row.ends_on, "no_fee": row.no_fee, "directed_only": row.directed_only}),
        ),
    )
    .await?;
    campaign(state, actor, id).await
}

/// One campaign the actor sees (its region contains the actor's scope or lies inside it).
pub async fn campaign(state: &AppState, actor: &Actor, id: i64) -> AppResult<Campaign> {
    may_touch(actor)?;
    queries::campaign(state, &actor.everywhere(), id).await
}

/// Campaigns the actor sees, newest first.
pub async fn campaigns(state: &AppState, actor: &Actor) -> AppResult<Vec<Campaign>> {
    may_touch(actor)?;
    queries::campaigns(state, &actor.everywhere()).await
}

/// A campaign with its totals over the ledgers the actor reads.
pub async fn campaign_detail(
    state: &AppState,
    actor: &Actor,
    id: i64,
    region: Option<&RegionCode>,
) -> AppResult<CampaignDetail> {
    may_read(actor)?;
    let campaign = campaign(state, actor, id).await?;
    let totals = queries::totals(state, &actor.within_opt(region)?, id).await?;
    Ok(CampaignDetail { campaign, totals })
}

/// Anyone who works with donations (reads, keeps, or confirms as a recipient).
fn may_touch(actor: &Actor) -> AppResult<()> {
    if actor.can(Permission::DonationsConfirm) {
        Ok(())
    } else {
        may_read(actor)
    }
}

/// Register (or update) a receiving charity: its tax-free import designation and numbers.
pub async fn set_receiver(
    state: &AppState,
    actor: &Actor,
    input: &ReceiverInput,
) -> AppResult<Receiver> {
    let org = own_charity(state, actor, input.org_id).await?;
    let licence_no = text_field("licence_no", &input.licence_no, 60, false)?;
    if input.tax_free_imports && licence_no.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "licence_no",
            "指定接收免税进口物资的单位须填写批准文号",
        ));
    }
    let r = Receiver {
        org_id: org.id,
        org_name: org.name.clone(),
        region_code: org.region_code.clone(),
        tax_free_imports: input.tax_free_imports,
        licence_no,
        credit_code: text_field("credit_code", &input.credit_code, 18, false)?,
        filing_no: text_field("filing_no", &input.filing_no, 60, false)?,
    };
    let before = queries::receiver(state, &actor.everywhere(), org.id)
        .await
        .ok();
    let mut tx = Tx::begin(state, actor).await?;
    queries::upsert_receiver(&mut tx, &r, &actor.username).await?;
    tx.commit(
        Change::new("donation.receiver_set", "org", org.id, &org.region_code).detail(json!({
            "tax_free_imports": {"before": before.as_ref().map(|b| b.tax_free_imports), "after": r.tax_free_imports},
            "licence_no": {"before": before.as_ref().map(|b| b.licence_no.clone()), "after": r.licence_no},
            "credit_code": r.credit_code, "filing_no": r.filing_no,
        })),
    )
    .await?;
    queries::receiver(state, &actor.everywhere(), org.id).await
}

/// Receiving charities in the actor's scope.
pub async fn receivers(state: &AppState, actor: &Actor) -> AppResult<Vec<Receiver>> {
    may_touch(actor)?;
    queries::receivers(state, &actor.everywhere()).await
}

/// Organisations in the actor's scope a charity may allocate to: (id, name).
pub async fn recipients(state: &AppState, actor: &Actor) -> AppResult<Vec<(i64, String)>> {
    actor.require(Permission::DonationsManage)?;
    queries::recipients(state, &actor.everywhere()).await
}

/// How many deliveries wait for the actor's organisation to sign (the home to-do line).
pub async fn pending_count(state: &AppState, actor: &Actor) -> AppResult<usize> {
    if !actor.can(Permission::DonationsConfirm) || actor.org_id.is_none() {
        return Ok(0);
    }
    Ok(ledger::pending(state, actor).await?.len())
}
