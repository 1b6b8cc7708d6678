//! Donation pages (Chinese, phone-first): the campaigns with the campaign and receiver forms
//! (`/donations`); one campaign (`/donations/campaigns/{id}`) with its totals as a chart, the
//! receipt form (money and up to three goods lines), the receipts with an allocation form per
//! line in stock, and the allocations with the dispatch and delivery-note forms; and the
//! recipient's deliveries waiting for its signature with the confirm form
//! (`/donations/pending`). Changes are POST forms; refused ones are shown again through
//! [`Kept`]; the rules live in `donations`.

use askama::Template;
use axum::extract::{Form, Path};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;

use super::ledger::{self, Allocation, ConfirmInput, DispatchInput, NewAllocation};
use super::{
    CATALOGUE, Campaign, CampaignDetail, GoodsInput, MoneyInput, NewCampaign, NewReceipt, Receipt,
    ReceiverInput, receipts,
};
use crate::kernel::auth::Authed;
use crate::kernel::form::Kept;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, Routes, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/donations", get(list).post(create_campaign)),
        ("/donations/receiver", post(set_receiver)),
        ("/donations/campaigns/{id}", get(show)),
        ("/donations/campaigns/{id}/receipts", post(create_receipt)),
        ("/donations/campaigns/{id}/allocations", post(allocate)),
        ("/donations/allocations/{id}/dispatch", post(dispatch)),
        ("/donations/allocations/{id}/note", post(delivery_note)),
        ("/donations/pending", get(pending)),
        ("/donations/allocations/{id}/confirm", post(confirm)),
    ]
}

const AREA: &str = "/donations";

/// Fen as yuan text.
fn yuan(fen: &i64) -> String {
    backstop_core::money::Fen(*fen).to_yuan_string()
}

#[derive(Template)]
#[template(path = "donations_list.html")]
struct ListPage {
    nav: Option<Nav>,
    campaigns: Vec<Campaign>,
    can_manage: bool,
    can_confirm: bool,
    today: String,
    form: Kept,
}

async fn list_page(s: &AppState, a: &Authed, form: Kept) -> PageResult {
    let status = form.status();
    Ok(render_status(
        &ListPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            campaigns: super::campaigns(s, &a.actor).await?,
            can_manage: a.actor.can(Permission::DonationsManage),
            can_confirm: a.actor.can(Permission::DonationsConfirm),
            today: s.today().format("%Y-%m-%d").to_string(),
            form,
        },
        status,
    ))
}

async fn list(PageCaller(s, a): PageCaller) -> PageResult {
    list_page(&s, &a, Kept::none()).await
}

async fn create_campaign(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("campaign", pairs);
    let input = NewCampaign {
        name: form.get("name").to_string(),
        region_code: form.get("region_code").to_string(),
        starts_on: form.get("starts_on").to_string(),
        ends_on: form.get("ends_on").to_string(),
        no_fee: form.has("no_fee"),
        directed_only: true,
    };
    match form.outcome(super::create_campaign(&s, &a.actor, &input).await)? {
        Ok(c) => Ok(Redirect::to(&format!("/donations/campaigns/{}", c.id)).into_response()),
        Err(form) => list_page(&s, &a, form).await,
    }
}

async fn set_receiver(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("receiver", pairs);
    let input = ReceiverInput {
        org_id: None,
        tax_free_imports: form.has("tax_free_imports"),
        licence_no: form.get("licence_no").to_string(),
        credit_code: form.get("credit_code").to_string(),
        filing_no: form.get("filing_no").to_string(),
    };
    match form.outcome(super::set_receiver(&s, &a.actor, &input).await)? {
        Ok(_) => Ok(Redirect::to(AREA).into_response()),
        Err(form) => list_page(&s, &a, form).await,
    }
}

/// One bar of the totals chart: label, value (yuan text) and width (0–100).
pub(super) struct Bar {
    pub(super) label: &'static str,
    pub(super) value: String,
    pub(super) width: i64,
}

/// The totals chart of a campaign (its page and its dashboard).
pub(super) fn bars(t: &super::Totals) -> Vec<Bar> {
    let rows = [
        ("接收", t.received_fen),
        ("已拨付", t.allocated_fen),
        ("已签收", t.delivered_fen),
        ("库存", t.in_stock_fen),
    ];
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    rows.iter()
        .map(|(label, v)| Bar {
            label,
            value: yuan(v),
            width: (*v).max(0) * 100 / max,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "donations_campaign.html")]
struct CampaignPage {
    nav: Option<Nav>,
    d: CampaignDetail,
    bars: Vec<Bar>,
    receipts: Vec<Receipt>,
    allocations: Vec<Allocation>,
    recipients: Vec<(i64, String)>,
    catalogue: Vec<(&'static str, &'static str, &'static str)>,
    can_manage: bool,
    today: String,
    form: Kept,
    /// The reason a form was refused when that form is not on the page for this reader (a
    /// line or an allocation it does not see): shown at the top instead.
    orphan: Option<String>,
    /// Unmet needs by region, next to the allocation forms (issue 18 item 4).
    unmet: Vec<super::needs::RegionNeeds>,
    unmet_campaign: i64,
    /// The institutions' reported figures by region, beside them.
    report_figures: Vec<super::need_figures::RegionReportFigures>,
}

/// Is the refused form one the page shows (so its reason appears beside it)?
fn shown(form: &Kept, can_manage: bool, receipts: &[Receipt], allocations: &[Allocation]) -> bool {
    if !can_manage {
        return false;
    }
    form.of("receipt").refused()
        || receipts
            .iter()
            .flat_map(|r| &r.lines)
            .any(|l| l.in_stock > 0 && form.row("alloc", &l.id).refused())
        || allocations.iter().any(|a| {
            (a.status == "allocated" && form.row("dispatch", &a.id).refused())
                || (a.status == "dispatched" && form.row("note", &a.id).refused())
        })
}

impl CampaignPage {
    /// Fen as yuan text (the template's money cells).
    fn yuan(&self, fen: &i64) -> String {
        yuan(fen)
    }
}

/// The goods slots of the receipt form (`g1_…` to `g3_…`).
const SLOTS: [usize; 3] = [1, 2, 3];

async fn show_page(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    let d = super::campaign_detail(s, &a.actor, id, None).await?;
    let can_manage = a.actor.can(Permission::DonationsManage);
    let status = form.status();
    let receipts = receipts::list(s, &a.actor, id).await?;
    let allocations = ledger::allocations(s, &a.actor, id).await?;
    let orphan = (form.refused() && !shown(&form, can_manage, &receipts, &allocations))
        .then(|| form.message().unwrap_or_default().to_string());
    Ok(render_status(
        &CampaignPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            bars: bars(&d.totals),
            unmet: super::needs::unmet_by_region(s, &a.actor, id).await?,
            unmet_campaign: id,
            report_figures: super::need_figures::by_region(s, &a.actor, id).await?,
            receipts,
            allocations,
            orphan,
            recipients: if can_manage {
                super::recipients(s, &a.actor).await?
            } else {
                Vec::new()
            },
            catalogue: CATALOGUE.to_vec(),
            d,
            can_manage,
            today: s.today().format("%Y-%m-%d").to_string(),
            form,
        },
        status,
    ))
}

async fn show(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    show_page(&s, &a, id, Kept::none()).await
}

/// The page's input name of a service field: `goods[k].x` → `gN_x` (N the slot sent k-th).
fn slot_name(field: &str, slots: &[usize]) -> String {
    field
        .strip_prefix("goods[")
        .and_then(|r| r.split_once("]."))
        .and_then(|(k, sub)| {
            let k = k.parse::<usize>().ok()?;
            Some(format!("g{}_{sub}", slots.get(k).copied().unwrap_or(k + 1)))
        })
        .unwrap_or_else(|| field.to_string())
}

async fn create_receipt(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("receipt", pairs);
    let mut goods = Vec::new();
    let mut slots = Vec::new();
    for n in SLOTS {
        let g = |k: &str| form.get(&format!("g{n}_{k}")).to_string();
        if g("category").is_empty() && g("quantity").trim().is_empty() {
            continue;
        }
        slots.push(n);
        goods.push(GoodsInput {
            category: g("category"),
            spec: g("spec"),
            quantity: g("quantity").trim().parse().unwrap_or(-1),
            unit: g("unit"),
            unit_value: g("unit_value"),
            expiry_on: Some(g("expiry_on")),
            tax_free_import: form.has(&format!("g{n}_tax_free_import")),
            warehouse: g("warehouse"),
        });
    }
    let amount = form.get("amount").trim().to_string();
    let input = NewReceipt {
        campaign_id: id,
        org_id: None,
        receipt_no: form.get("receipt_no").to_string(),
        bill_no: form.get("bill_no").to_string(),
        received_on: Some(form.get("received_on").to_string()),
        donor_kind: form.get("donor_kind").to_string(),
        donor_name: form.get("donor_name").to_string(),
        publish_consent: form.has("publish_consent"),
        directed_kind: form.get("directed_kind").to_string(),
        directed_org_id: form.get("directed_org_id").trim().parse().ok(),
        directed_region: Some(form.get("directed_region").to_string()),
        directed_purpose: form.get("directed_purpose").to_string(),
        money: (!amount.is_empty()).then(|| MoneyInput {
            currency: form.get("currency").to_string(),
            amount,
            rate: form.get("rate").to_string(),
        }),
        goods,
    };
    let r = receipts::create(&s, &a.actor, &input, None).await;
    match form.outcome_as(r, |f| slot_name(f, &slots))? {
        Ok(_) => Ok(Redirect::to(&format!("/donations/campaigns/{id}")).into_response()),
        Err(form) => show_page(&s, &a, id, form).await,
    }
}

async fn allocate(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let line: i64 = pairs
        .iter()
        .find(|(k, _)| k == "receipt_line_id")
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let form = Kept::input(&format!("alloc-{line}"), pairs);
    let input = NewAllocation {
        receipt_line_id: line,
        recipient_org_id: form.get("recipient_org_id").trim().parse().unwrap_or(0),
        quantity: form.get("quantity").trim().parse().unwrap_or(0),
        purpose: form.get("purpose").to_string(),
    };
    match form.outcome(ledger::allocate(&s, &a.actor, &input).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/donations/campaigns/{id}")).into_response()),
        Err(form) => show_page(&s, &a, id, form).await,
    }
}

async fn dispatch(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("dispatch-{id}"), pairs);
    let input = DispatchInput {
        vehicle: form.get("vehicle").to_string(),
    };
    let r = ledger::dispatch(&s, &a.actor, id, &input).await;
    back_to_campaign(&s, &a, id, form, r).await
}

fn confirm_input(form: &Kept) -> ConfirmInput {
    ConfirmInput {
        received_qty: form.get("received_qty").trim().parse().unwrap_or(-1),
        discrepancy: form.get("discrepancy").to_string(),
        note_ref: form.get("note_ref").to_string(),
    }
}

async fn delivery_note(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("note-{id}"), pairs);
    let r = ledger::delivery_note(&s, &a.actor, id, &confirm_input(&form)).await;
    back_to_campaign(&s, &a, id, form, r).await
}

/// A row's write: back to the allocation's campaign, or its page with the row's form kept.
async fn back_to_campaign(
    s: &AppState,
    a: &Authed,
    id: i64,
    form: Kept,
    r: crate::kernel::error::AppResult<Allocation>,
) -> PageResult {
    match form.outcome(r)? {
        Ok(al) => {
            Ok(Redirect::to(&format!("/donations/campaigns/{}", al.campaign_id)).into_response())
        }
        Err(form) => {
            let al = ledger::allocation(s, &a.actor, id).await?;
            show_page(s, a, al.campaign_id, form).await
        }
    }
}

#[derive(Template)]
#[template(path = "donations_pending.html")]
struct PendingPage {
    nav: Option<Nav>,
    rows: Vec<Allocation>,
    form: Kept,
}

async fn pending_page(s: &AppState, a: &Authed, form: Kept) -> PageResult {
    let status = form.status();
    Ok(render_status(
        &PendingPage {
            nav: Some(Nav::for_actor(&a.actor, "/donations/pending")),
            rows: ledger::pending(s, &a.actor).await?,
            form,
        },
        status,
    ))
}

async fn pending(PageCaller(s, a): PageCaller) -> PageResult {
    pending_page(&s, &a, Kept::none()).await
}

async fn confirm(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("confirm-{id}"), pairs);
    let r = ledger::confirm(&s, &a.actor, id, &confirm_input(&form)).await;
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to("/donations/pending?done=1").into_response()),
        Err(form) => pending_page(&s, &a, form).await,
    }
}
