//! The ledger: immutable journal entries whose lines move a quantity (units; fen for money)
//! and a value (fen) between the accounts of one receipt line — `donor` → `stock` →
//! `allocated` → `in_transit` → `delivered` (or `discrepancy`), and `stock` → `fee`. Every
//! entry sums to zero per receipt line; balances are sums of lines, never stored; a
//! correction is a reversing entry. Each write first takes the campaign's next sequence number
//! in the province (locking that row on PostgreSQL; SQLite has one writer) and touches the
//! receipt line, so the balance read after it is the one the entry will change: of two
//! allocators racing for the last 100 masks one wins, the other is told the balance.

use backstop_core::clock::beijing_date;
use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{province, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// One line of an entry to write.
#[derive(Debug, Clone)]
pub(crate) struct Posting {
    pub line_id: i64,
    pub account: &'static str,
    pub party: Option<i64>,
    pub quantity: i64,
    pub value_fen: i64,
}

impl Posting {
    pub fn new(
        line_id: i64,
        account: &'static str,
        party: Option<i64>,
        quantity: i64,
        value_fen: i64,
    ) -> Posting {
        Posting {
            line_id,
            account,
            party,
            quantity,
            value_fen,
        }
    }
}

/// What an entry is about.
pub(crate) struct EntryMeta<'a> {
    pub province: &'a str,
    pub campaign_id: i64,
    pub org_id: i64,
    pub region_code: &'a str,
    pub kind: &'static str,
    pub receipt_id: Option<i64>,
    pub allocation_id: Option<i64>,
    pub reverses_id: Option<i64>,
    pub memo: &'a str,
}

/// A journal entry with its lines.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    pub campaign_id: i64,
    /// Stable, gap-free number of the entry in its campaign and province.
    pub seq: i64,
    pub province: String,
    pub org_id: i64,
    pub region_code: String,
    /// `receive`, `allocate`, `dispatch`, `deliver`, `fee` or `reverse`.
    pub kind: String,
    pub receipt_id: Option<i64>,
    pub allocation_id: Option<i64>,
    pub reverses_id: Option<i64>,
    pub memo: String,
    pub entered_by: String,
    pub created_at: String,
    pub lines: Vec<EntryLine>,
}

/// A line of an entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntryLine {
    pub line_id: i64,
    pub account: String,
    pub party_org_id: Option<i64>,
    pub quantity: i64,
    pub value_fen: i64,
}

/// A dispatch (发运).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dispatch {
    pub vehicle: String,
    pub dispatched_at: String,
    pub dispatched_by: String,
}

/// A delivery (签收).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub received_qty: i64,
    pub discrepancy: String,
    /// Recorded by the dispatcher from a signed delivery note (not confirmed in Backstop by
    /// the recipient's user).
    pub by_note: bool,
    pub note_ref: String,
    pub confirmed_by: String,
    pub confirmed_at: String,
    /// From the receipt's entry to this delivery, in hours.
    pub hours_from_receipt: i64,
}

/// An allocation (拨付) of one receipt line to a recipient, with its dispatch and delivery.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Allocation {
    pub id: i64,
    pub campaign_id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub region_code: String,
    pub receipt_id: i64,
    pub line_id: i64,
    pub category: String,
    pub category_label: String,
    pub spec: String,
    pub unit: String,
    pub recipient_org_id: i64,
    pub recipient_name: String,
    pub recipient_region: String,
    pub quantity: i64,
    pub value_fen: i64,
    pub purpose: String,
    /// `allocated`, `dispatched`, `delivered` or `reversed`.
    pub status: String,
    pub status_label: String,
    pub allocated_by: String,
    pub created_at: String,
    pub dispatch: Option<Dispatch>,
    pub delivery: Option<Delivery>,
    /// When the receipt was entered (ms), for the time to delivery.
    #[serde(skip)]
    pub receipt_at: i64,
}

/// The Chinese label of an allocation status.
pub fn status_label(s: &str) -> &'static str {
    match s {
        "allocated" => "已拨付待发运",
        "dispatched" => "已发运待签收",
        "delivered" => "已签收",
        "reversed" => "已冲销",
        _ => "",
    }
}

/// Body of `POST /api/v1/donations/allocations`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewAllocation {
    /// The receipt line allocated from.
    pub receipt_line_id: i64,
    pub recipient_org_id: i64,
    /// Units of the line (fen for money).
    pub quantity: i64,
    #[serde(default)]
    pub purpose: String,
}

/// Body of `POST /api/v1/donations/allocations/{id}/dispatch`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct DispatchInput {
    /// Vehicle (plate number, carrier).
    pub vehicle: String,
}

/// Body of `POST /api/v1/donations/allocations/{id}/confirm` and `…/delivery-note`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ConfirmInput {
    pub received_qty: i64,
    /// What differs (required when less was received).
    #[serde(default)]
    pub discrepancy: String,
    /// The signed delivery note's number (`…/delivery-note` only).
    #[serde(default)]
    pub note_ref: String,
}

/// Body of `POST /api/v1/ledger/fees`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct FeeInput {
    /// A money line.
    pub receipt_line_id: i64,
    /// Fen.
    pub amount_fen: i64,
    #[serde(default)]
    pub memo: String,
}

/// Body of `POST /api/v1/ledger/entries/{id}/reverse`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ReverseInput {
    pub reason: String,
}

fn conflict(msg: impl Into<String>) -> AppError {
    AppError::msg(ErrorCode::Conflict, msg)
}

/// Write an entry numbered `seq` (taken with [`queries::next_seq`] at the start of the
/// transaction, which is the lock): check the lines balance per receipt line, insert. Returns
/// the entry's id.
pub(crate) async fn post(
    tx: &mut Tx,
    actor: &Actor,
    meta: &EntryMeta<'_>,
    seq: i64,
    postings: &[Posting],
) -> AppResult<i64> {
    let mut sums: std::collections::BTreeMap<i64, (i64, i64)> = Default::default();
    for p in postings {
        let s = sums.entry(p.line_id).or_default();
        s.0 += p.quantity;
        s.1 += p.value_fen;
    }
    if sums.values().any(|s| *s != (0, 0)) || postings.is_empty() {
        return Err(AppError::internal("ledger", "unbalanced entry refused"));
    }
    let id = queries::insert_entry(tx, meta, seq, &actor.username).await?;
    for p in postings
        .iter()
        .filter(|p| p.quantity != 0 || p.value_fen != 0)
    {
        queries::insert_entry_line(tx, meta.province, id, p).await?;
    }
    super::disclosure::append(tx, meta.province, meta.campaign_id, seq, id).await?;
    Ok(id)
}

/// Allocate a quantity of a line to a recipient organisation (`DonationsManage`, own charity).
pub async fn allocate(
    state: &AppState,
    actor: &Actor,
    input: &NewAllocation,
) -> AppResult<Allocation> {
    allocate_linked(state, actor, input, None).await
}

/// [`allocate`], and when `need` is given record the accepted match in the same transaction
/// (after the lock; [`super::needs::link`]).
pub(crate) async fn allocate_linked(
    state: &AppState,
    actor: &Actor,
    input: &NewAllocation,
    need: Option<&super::needs::NeedLink>,
) -> AppResult<Allocation> {
    actor.require(Permission::DonationsManage)?;
    let line = queries::line(state, &actor.everywhere(), input.receipt_line_id)
        .await
        .map_err(|_| AppError::field(ErrorCode::Validation, "receipt_line_id", "捐赠明细不存在"))?;
    super::own_charity(state, actor, Some(line.org_id)).await?;
    if input.quantity <= 0 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "quantity",
            "数量应大于 0",
        ));
    }
    let recipient = queries::org(state, &actor.everywhere(), input.recipient_org_id)
        .await
        .map_err(|_| {
            AppError::field(
                ErrorCode::Validation,
                "recipient_org_id",
                "接收单位不存在或不在本辖区",
            )
        })?;
    let purpose = text_field("purpose", &input.purpose, 200, false)?;
    let receipt = queries::receipt_directions(
        state,
        &actor.everywhere(),
        line.province.as_str(),
        line.receipt_id,
    )
    .await?;
    match receipt.kind.as_str() {
        "org" if receipt.org_id != Some(recipient.id) => {
            return Err(conflict(format!(
                "这笔捐赠是定向捐赠，只能拨付给捐赠人指定的单位（{}）",
                receipt.org_name
            )));
        }
        "region"
            if !receipt
                .region
                .as_deref()
                .is_some_and(|r| recipient.region_code.starts_with(r)) =>
        {
            return Err(conflict(
                "这笔捐赠是定向捐赠，只能拨付给捐赠人指定地区的单位",
            ));
        }
        _ => {}
    }
    let today = state.today().format("%Y-%m-%d").to_string();
    if line
        .expiry_on
        .as_deref()
        .is_some_and(|e| e < today.as_str())
    {
        return Err(conflict("该批物资已过有效期，不能拨付"));
    }
    let prov = line.province.clone();
    let mut tx = Tx::begin(state, actor).await?;
    let seq = queries::next_seq(&mut tx, &prov, line.campaign_id).await?;
    queries::touch_line(&mut tx, &prov, line.id).await?;
    let (stock_q, stock_v) = queries::balance(&mut tx, &prov, line.id, "stock", None).await?;
    if input.quantity > stock_q {
        return Err(conflict(format!(
            "库存不足：该明细现有 {stock_q}{}，不能拨付 {}{}",
            line.unit, input.quantity, line.unit
        )));
    }
    let value = if input.quantity == stock_q {
        stock_v
    } else {
        let v = i128::from(line.value_fen) * i128::from(input.quantity) / i128::from(line.quantity);
        i64::try_from(v).unwrap_or(stock_v).min(stock_v)
    };
    let aid = queries::insert_allocation(
        &mut tx,
        &line,
        &recipient,
        input.quantity,
        value,
        &purpose,
        &actor.username,
    )
    .await?;
    let party = Some(recipient.id);
    let postings = [
        Posting::new(line.id, "stock", None, -input.quantity, -value),
        Posting::new(line.id, "allocated", party, input.quantity, value),
    ];
    let meta = EntryMeta {
        province: &prov,
        campaign_id: line.campaign_id,
        org_id: line.org_id,
        region_code: &line.region_code,
        kind: "allocate",
        receipt_id: Some(line.receipt_id),
        allocation_id: Some(aid),
        reverses_id: None,
        memo: &purpose,
    };
    let entry = post(&mut tx, actor, &meta, seq, &postings).await?;
    queries::set_allocation_entry(&mut tx, &prov, aid, entry).await?;
    if let Some(link) = need {
        super::needs::link(&mut tx, actor, link, aid, input.quantity).await?;
    }
    tx.commit(
        Change::new(
            "donation.allocate",
            "donation_allocation",
            aid,
            &line.region_code,
        )
        .detail(json!({
            "line_id": line.id, "recipient_org_id": recipient.id, "quantity": input.quantity,
            "value_fen": value, "entry_id": entry,
        }))
        .free_text("purpose", &purpose),
    )
    .await?;
    allocation(state, actor, aid).await
}

/// One allocation: the charity's readers, or the recipient's users with `DonationsConfirm`.
pub async fn allocation(state: &AppState, actor: &Actor, id: i64) -> AppResult<Allocation> {
    let a = queries::allocation(state, &actor.everywhere(), id).await?;
    let reader = (actor.can(Permission::DonationsRead) || actor.can(Permission::DonationsManage))
        && actor.everywhere().contains(&a.region_code)
        && actor.org_id.is_none_or(|o| o == a.org_id);
    let recipient =
        actor.can(Permission::DonationsConfirm) && actor.org_id == Some(a.recipient_org_id);
    if reader || recipient || actor.is_operator() {
        Ok(a)
    } else {
        Err(AppError::not_found())
    }
}

/// Allocations of a campaign the actor reads, newest first.
pub async fn allocations(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
) -> AppResult<Vec<Allocation>> {
    super::may_read(actor)?;
    queries::allocations(state, &actor.everywhere(), campaign_id).await
}

/// Allocations dispatched to the actor's organisation and waiting for its signature (待签收).
pub async fn pending(state: &AppState, actor: &Actor) -> AppResult<Vec<Allocation>> {
    actor.require(Permission::DonationsConfirm)?;
    match actor.org_id {
        Some(org) => queries::pending(state, &actor.everywhere(), org).await,
        None => Ok(Vec::new()),
    }
}

/// Own-charity allocation for a keeper's move, and its province.
async fn kept(state: &AppState, actor: &Actor, id: i64) -> AppResult<(Allocation, String)> {
    actor.require(Permission::DonationsManage)?;
    let a = allocation(state, actor, id).await?;
    super::own_charity(state, actor, Some(a.org_id)).await?;
    let prov = province(&a.region_code);
    Ok((a, prov))
}

/// Dispatch an allocation (vehicle; now): allocated → in transit.
pub async fn dispatch(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &DispatchInput,
) -> AppResult<Allocation> {
    let (a, prov) = kept(state, actor, id).await?;
    let vehicle = text_field("vehicle", &input.vehicle, 60, true)?;
    let mut tx = Tx::begin(state, actor).await?;
    let seq = queries::next_seq(&mut tx, &prov, a.campaign_id).await?;
    if !queries::move_status(&mut tx, &prov, a.id, "allocated", "dispatched").await? {
        return Err(conflict(format!(
            "该拨付{}，不能发运",
            status_label(&a.status)
        )));
    }
    let party = Some(a.recipient_org_id);
    let postings = [
        Posting::new(a.line_id, "allocated", party, -a.quantity, -a.value_fen),
        Posting::new(a.line_id, "in_transit", party, a.quantity, a.value_fen),
    ];
    let entry = post(
        &mut tx,
        actor,
        &meta(&a, &prov, "dispatch", &vehicle),
        seq,
        &postings,
    )
    .await?;
    queries::insert_dispatch(&mut tx, &prov, &a, &vehicle, entry, &actor.username).await?;
    tx.commit(
        Change::new("donation.dispatch", "donation_allocation", a.id, &a.region_code)
            .detail(json!({"vehicle": vehicle, "status": {"before": a.status, "after": "dispatched"}, "entry_id": entry})),
    )
    .await?;
    allocation(state, actor, a.id).await
}

fn meta<'a>(a: &'a Allocation, prov: &'a str, kind: &'static str, memo: &'a str) -> EntryMeta<'a> {
    EntryMeta {
        province: prov,
        campaign_id: a.campaign_id,
        org_id: a.org_id,
        region_code: &a.region_code,
        kind,
        receipt_id: Some(a.receipt_id),
        allocation_id: Some(a.id),
        reverses_id: None,
        memo,
    }
}

/// The recipient's user confirms the delivery (`DonationsConfirm`, of the recipient).
pub async fn confirm(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &ConfirmInput,
) -> AppResult<Allocation> {
    actor.require(Permission::DonationsConfirm)?;
    let a = allocation(state, actor, id).await?;
    if actor.org_id != Some(a.recipient_org_id) {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "只有接收单位的人员可以签收",
        ));
    }
    deliver(state, actor, a, input, false).await
}

/// The dispatcher records a signed delivery note (marked as such).
pub async fn delivery_note(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &ConfirmInput,
) -> AppResult<Allocation> {
    let (a, _) = kept(state, actor, id).await?;
    deliver(state, actor, a, input, true).await
}

async fn deliver(
    state: &AppState,
    actor: &Actor,
    a: Allocation,
    input: &ConfirmInput,
    by_note: bool,
) -> AppResult<Allocation> {
    if input.received_qty < 0 || input.received_qty > a.quantity {
        return Err(AppError::field(
            ErrorCode::Validation,
            "received_qty",
            format!("实收数量应在 0 到 {} 之间", a.quantity),
        ));
    }
    let discrepancy = text_field("discrepancy", &input.discrepancy, 500, false)?;
    if input.received_qty < a.quantity && discrepancy.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "discrepancy",
            "实收少于拨付数量，请说明差异",
        ));
    }
    let note_ref = text_field("note_ref", &input.note_ref, 60, by_note)?;
    let prov = province(&a.region_code);
    let mut tx = Tx::begin(state, actor).await?;
    let seq = queries::next_seq(&mut tx, &prov, a.campaign_id).await?;
    if !queries::move_status(&mut tx, &prov, a.id, "dispatched", "delivered").await? {
        return Err(conflict(format!(
            "该拨付{}，不能签收",
            status_label(&a.status)
        )));
    }
    let got_v = if input.received_qty == a.quantity {
        a.value_fen
    } else {
        let v = i128::from(a.value_fen) * i128::from(input.received_qty) / i128::from(a.quantity);
        i64::try_from(v).unwrap_or(0)
    };
    let party = Some(a.recipient_org_id);
    let postings = [
        Posting::new(a.line_id, "in_transit", party, -a.quantity, -a.value_fen),
        Posting::new(a.line_id, "delivered", party, input.received_qty, got_v),
        Posting::new(
            a.line_id,
            "discrepancy",
            party,
            a.quantity - input.received_qty,
            a.value_fen - got_v,
        ),
    ];
    let memo = if by_note {
        "签收单补录"
    } else {
        "接收单位签收"
    };
    let entry = post(
        &mut tx,
        actor,
        &meta(&a, &prov, "deliver", memo),
        seq,
        &postings,
    )
    .await?;
    let now = tx.now();
    let d = queries::DeliveryRow {
        received_qty: input.received_qty,
        discrepancy: &discrepancy,
        by_note,
        note_ref: &note_ref,
        elapsed_ms: now - a.receipt_at,
        entry_id: entry,
    };
    queries::insert_delivery(&mut tx, &prov, &a, &d, &actor.username).await?;
    let action = if by_note {
        "donation.delivery_note"
    } else {
        "donation.delivery_confirm"
    };
    tx.commit(Change::new(action, "donation_allocation", a.id, &a.region_code).detail(json!({
        "received_qty": input.received_qty, "quantity": a.quantity, "discrepancy": discrepancy,
        "note_ref": note_ref, "status": {"before": a.status, "after": "delivered"}, "entry_id": entry,
    })))
    .await?;
    allocation(state, actor, a.id).await
}

/// Take a fee or administrative cost from a money line (refused on a no-fee campaign).
pub async fn fee(state: &AppState, actor: &Actor, input: &FeeInput) -> AppResult<Entry> {
    actor.require(Permission::DonationsManage)?;
    let line = queries::line(state, &actor.everywhere(), input.receipt_line_id)
        .await
        .map_err(|_| AppError::field(ErrorCode::Validation, "receipt_line_id", "捐赠明细不存在"))?;
    super::own_charity(state, actor, Some(line.org_id)).await?;
    let campaign = super::campaign(state, actor, line.campaign_id).await?;
    if campaign.no_fee {
        return Err(conflict("本募捐活动规定不得提取管理费用，该笔记账未保存"));
    }
    if line.kind != "money" {
        return Err(AppError::field(
            ErrorCode::Validation,
            "receipt_line_id",
            "管理费只能从资金中提取",
        ));
    }
    if input.amount_fen <= 0 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "amount_fen",
            "金额应大于 0",
        ));
    }
    let memo = text_field("memo", &input.memo, 200, false)?;
    let prov = line.province.clone();
    let mut tx = Tx::begin(state, actor).await?;
    let seq = queries::next_seq(&mut tx, &prov, line.campaign_id).await?;
    queries::touch_line(&mut tx, &prov, line.id).await?;
    let (stock, _) = queries::balance(&mut tx, &prov, line.id, "stock", None).await?;
    if input.amount_fen > stock {
        return Err(conflict(format!("余额不足：该笔资金现余 {stock} 分")));
    }
    let postings = [
        Posting::new(line.id, "stock", None, -input.amount_fen, -input.amount_fen),
        Posting::new(line.id, "fee", None, input.amount_fen, input.amount_fen),
    ];
    let m = EntryMeta {
        province: &prov,
        campaign_id: line.campaign_id,
        org_id: line.org_id,
        region_code: &line.region_code,
        kind: "fee",
        receipt_id: Some(line.receipt_id),
        allocation_id: None,
        reverses_id: None,
        memo: &memo,
    };
    let id = post(&mut tx, actor, &m, seq, &postings).await?;
    tx.commit(
        Change::new("ledger.fee", "ledger_entry", id, &line.region_code)
            .detail(json!({"line_id": line.id, "amount_fen": input.amount_fen}))
            .free_text("memo", &memo),
    )
    .await?;
    entry(state, actor, id).await
}

/// Reverse an entry (a receipt entered by mistake, an allocation not yet dispatched, a fee):
/// a new entry with every line negated. Refused when it would leave a balance below zero, when
/// already reversed, and for dispatch and delivery entries (their goods have moved).
pub async fn reverse(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &ReverseInput,
) -> AppResult<Entry> {
    actor.require(Permission::DonationsManage)?;
    let e = entry(state, actor, id).await?;
    super::own_charity(state, actor, Some(e.org_id)).await?;
    let reason = text_field("reason", &input.reason, 200, true)?;
    if !matches!(e.kind.as_str(), "receive" | "allocate" | "fee") {
        return Err(conflict(
            "只能冲销接收、拨付或管理费记账；已发运或已签收的物资不能冲销",
        ));
    }
    let prov = e.province.clone();
    let mut tx = Tx::begin(state, actor).await?;
    let seq = queries::next_seq(&mut tx, &prov, e.campaign_id).await?;
    if queries::is_reversed(&mut tx, &prov, e.id).await? {
        return Err(conflict("该记账已经冲销"));
    }
    let mut postings = Vec::new();
    for l in &e.lines {
        queries::touch_line(&mut tx, &prov, l.line_id).await?;
        let account = match l.account.as_str() {
            "donor" => "donor",
            "stock" => "stock",
            "allocated" => "allocated",
            "fee" => "fee",
            _ => return Err(conflict("该记账不能冲销")),
        };
        if l.quantity > 0 {
            let (q, _) =
                queries::balance(&mut tx, &prov, l.line_id, account, l.party_org_id).await?;
            if q < l.quantity {
                return Err(conflict(
                    "冲销后余额将小于零（物资已拨付或已发运），不能冲销",
                ));
            }
        }
        postings.push(Posting::new(
            l.line_id,
            account,
            l.party_org_id,
            -l.quantity,
            -l.value_fen,
        ));
    }
    if let Some(aid) = e.allocation_id.filter(|_| e.kind == "allocate")
        && !queries::move_status(&mut tx, &prov, aid, "allocated", "reversed").await?
    {
        return Err(conflict("该拨付已发运，不能冲销"));
    }
    let m = EntryMeta {
        province: &prov,
        campaign_id: e.campaign_id,
        org_id: e.org_id,
        region_code: &e.region_code,
        kind: "reverse",
        receipt_id: e.receipt_id,
        allocation_id: e.allocation_id,
        reverses_id: Some(e.id),
        memo: &reason,
    };
    let rid = post(&mut tx, actor, &m, seq, &postings).await?;
    tx.commit(
        Change::new("ledger.reverse", "ledger_entry", rid, &e.region_code)
            .detail(json!({"reverses": e.id, "kind": e.kind}))
            .free_text("reason", &reason),
    )
    .await?;
    entry(state, actor, rid).await
}

/// One entry the actor reads.
pub async fn entry(state: &AppState, actor: &Actor, id: i64) -> AppResult<Entry> {
    super::may_read(actor)?;
    queries::entry(state, &actor.everywhere(), id).await
}

/// Entries of a campaign the actor reads, in sequence order (at most 2,000).
pub async fn entries(state: &AppState, actor: &Actor, campaign_id: i64) -> AppResult<Vec<Entry>> {
    super::may_read(actor)?;
    queries::entries(state, &actor.everywhere(), campaign_id).await
}

/// The Beijing date of a time (ms), `YYYY-MM-DD`.
pub(crate) fn ymd_of(ms: i64) -> String {
    beijing_date(backstop_core::clock::from_millis(ms))
        .format("%Y-%m-%d")
        .to_string()
}
