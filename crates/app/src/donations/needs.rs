//! Supply–demand matching (供需对接, issue 18 item 5): recipients post needs (a hospital,
//! community or institution through its own users with `DonationsConfirm`, or an official for
//! a region's civil-affairs department), Backstop proposes the stock lines that could meet one,
//! and a charity accepting a proposal writes an ordinary `allocate` ledger entry through
//! [`ledger::allocate_linked`] — same invariants, same lock — together with the match row, so
//! the need is (partly) met in the same transaction.
//!
//! Who sees a need: the campaign's charities (`DonationsManage`) and the civil-affairs
//! officials (`DonationsRead`) whose scope holds its delivery region; a recipient's user only
//! its own organisation's needs. Anything else is *not found*. How much is met is never
//! stored: it is the sum of the matches whose allocation is not reversed.
//!
//! Ranking of proposals for one need (best first): the same specification, a gift directed to
//! this recipient (or its region), the charity's region closest to the delivery region (the
//! longest common region-code prefix), the earliest expiry (first expired, first out; nothing
//! expired on the day is proposed), then the oldest line. Lines of another category or unit,
//! gifts directed elsewhere and empty lines are never proposed. Needs themselves are ranked by
//! urgency, then needed-by date ([`unmet_by_region`]).

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ledger::{self, Allocation, NewAllocation};
use super::{CATALOGUE, category_label, province, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field, text_field};
use crate::state::AppState;

/// Urgency levels: (key, Chinese label), most urgent first.
pub const URGENCY: &[(&str, &str)] = &[("urgent", "紧急"), ("high", "较急"), ("normal", "一般")];

/// The Chinese label of an urgency key.
pub fn urgency_label(key: &str) -> &'static str {
    URGENCY
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .unwrap_or("一般")
}

/// Sort rank of an urgency key (0 most urgent).
fn urgency_rank(key: &str) -> usize {
    URGENCY
        .iter()
        .position(|(k, _)| *k == key)
        .unwrap_or(URGENCY.len())
}

/// A posted need.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Need {
    pub id: i64,
    pub campaign_id: i64,
    pub recipient_org_id: i64,
    pub recipient_name: String,
    /// Delivery region (the scope the need is seen in).
    pub region_code: String,
    pub region_name: String,
    pub category: String,
    pub category_label: String,
    pub spec: String,
    pub quantity: i64,
    pub unit: String,
    /// `urgent` (紧急), `high` (较急) or `normal` (一般).
    pub urgency: String,
    pub urgency_label: String,
    pub needed_by: String,
    pub note: String,
    /// `open` or `cancelled`.
    pub status: String,
    /// Met by accepted matches whose allocation is not reversed.
    pub met: i64,
    /// Still needed.
    pub remaining: i64,
    /// 未满足 / 部分满足 / 已满足 / 已撤销.
    pub state_label: String,
    pub created_by: String,
    pub created_at: String,
    /// The recipient organisation's region (a gift directed to a region goes only inside it).
    #[serde(skip)]
    pub recipient_region: String,
}

impl Need {
    /// Fill the derived fields from `quantity`, `met` and `status`.
    pub(crate) fn derive(mut self) -> Need {
        self.remaining = (self.quantity - self.met).max(0);
        self.category_label = category_label(&self.category).to_string();
        self.urgency_label = urgency_label(&self.urgency).to_string();
        self.state_label = if self.status == "cancelled" {
            "已撤销"
        } else if self.remaining == 0 {
            "已满足"
        } else if self.met > 0 {
            "部分满足"
        } else {
            "未满足"
        }
        .to_string();
        self
    }

    /// Open and not yet fully met.
    pub fn is_unmet(&self) -> bool {
        self.status == "open" && self.remaining > 0
    }
}

/// Body of `POST /api/v1/needs`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewNeed {
    pub campaign_id: i64,
    /// The recipient; default (and, for a user of an organisation, only) the caller's own.
    #[serde(default)]
    pub recipient_org_id: Option<i64>,
    /// A catalogue key (`mask_n95`, `protective_suit`, …).
    pub category: String,
    #[serde(default)]
    pub spec: String,
    pub quantity: i64,
    /// Default the catalogue's unit.
    #[serde(default)]
    pub unit: String,
    /// `urgent`, `high` or `normal`.
    pub urgency: String,
    /// `YYYY-MM-DD`, not before today.
    pub needed_by: String,
    /// Delivery region code; default the recipient's region.
    #[serde(default)]
    pub region_code: String,
    #[serde(default)]
    pub note: String,
}

/// A stock line proposed for a need.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Proposal {
    pub receipt_line_id: i64,
    pub receipt_id: i64,
    pub receipt_no: String,
    pub charity_org_id: i64,
    pub charity_name: String,
    pub charity_region: String,
    pub category: String,
    pub spec: String,
    pub unit: String,
    pub in_stock: i64,
    pub expiry_on: Option<String>,
    pub warehouse: String,
    /// The specification is the one asked for.
    pub spec_match: bool,
    /// A gift directed to this recipient or its region.
    pub directed_here: bool,
    /// Common region-code prefix length of the charity and the delivery region (closer: more).
    pub closeness: usize,
    /// What accepting would allocate: the smaller of stock and what is still needed.
    pub suggested: i64,
}

/// Body of `POST /api/v1/needs/{id}/accept`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AcceptInput {
    pub receipt_line_id: i64,
    pub quantity: i64,
}

/// Unmet needs of one delivery region.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RegionNeeds {
    pub region_code: String,
    pub region_name: String,
    /// Open needs not yet fully met.
    pub needs: i64,
    /// Of them urgent (紧急).
    pub urgent: i64,
    /// Still needed per category: (category label, unit, quantity).
    pub remaining: Vec<RemainingQty>,
}

/// A quantity still needed.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RemainingQty {
    pub category: String,
    pub label: String,
    pub unit: String,
    pub quantity: i64,
}

/// A match being written with its allocation (checked again under the ledger's lock).
pub(crate) struct NeedLink {
    pub province: String,
    pub need_id: i64,
}

fn invalid(field: &str, msg: &str) -> AppError {
    AppError::field(ErrorCode::Validation, field, msg)
}

/// Post a need (`DonationsConfirm`): a user of an organisation for its own organisation, an
/// official (not tied to one) for an organisation of its region, e.g. the civil-affairs
/// department of a region.
pub async fn create(state: &AppState, actor: &Actor, input: &NewNeed) -> AppResult<Need> {
    actor.require(Permission::DonationsConfirm)?;
    let campaign = super::campaign(state, actor, input.campaign_id).await?;
    let rid = match (actor.org_id, input.recipient_org_id) {
        (Some(mine), Some(other)) if mine != other => return Err(AppError::forbidden()),
        (Some(mine), _) => mine,
        (None, Some(id)) => id,
        (None, None) => return Err(invalid("recipient_org_id", "请选择需求单位")),
    };
    let recipient = queries::org(state, &actor.everywhere(), rid)
        .await
        .map_err(|_| invalid("recipient_org_id", "需求单位不存在或不在本辖区"))?;
    if recipient.kind == "charity" {
        return Err(invalid("recipient_org_id", "需求单位不能是慈善组织"));
    }
    let (_, _, default_unit) = CATALOGUE
        .iter()
        .find(|(k, _, _)| *k == input.category)
        .ok_or_else(|| invalid("category", "请从物资目录中选择类别"))?;
    let spec = text_field("spec", &input.spec, 100, false)?;
    if input.quantity <= 0 || input.quantity > 1_000_000_000 {
        return Err(invalid("quantity", "数量应为 1 到 10 亿之间的整数"));
    }
    let unit = match text_field("unit", &input.unit, 10, false)? {
        u if u.is_empty() => default_unit.to_string(),
        u => u,
    };
    if !URGENCY.iter().any(|(k, _)| *k == input.urgency) {
        return Err(invalid("urgency", "紧急程度应为紧急、较急或一般"));
    }
    let needed_by = date_field("needed_by", &input.needed_by)?;
    if needed_by < state.today() {
        return Err(invalid("needed_by", "需要日期不能早于今天"));
    }
    let region = if input.region_code.trim().is_empty() {
        recipient.region_code.clone()
    } else {
        input.region_code.trim().to_string()
    };
    let code = crate::regions::parse_code("region_code", &region)?;
    actor
        .within(&code)
        .map_err(|_| invalid("region_code", "送达地区不在本辖区"))?;
    if !campaign_covers(&campaign.region_code, code.as_str()) {
        return Err(invalid("region_code", "送达地区不在该募捐活动的地区内"));
    }
    let note = text_field("note", &input.note, 200, false)?;
    let row = queries::NeedRow {
        province: province(code.as_str()),
        campaign_id: campaign.id,
        recipient_org_id: recipient.id,
        region_code: code.as_str().to_string(),
        category: input.category.clone(),
        spec,
        quantity: input.quantity,
        unit,
        urgency: input.urgency.clone(),
        needed_by: needed_by.format("%Y-%m-%d").to_string(),
        note,
    };
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_need(&mut tx, &row, &actor.username).await?;
    tx.commit(
        Change::new("donation.need_create", "donation_need", id, code.as_str()).detail(json!({
            "campaign_id": row.campaign_id, "recipient_org_id": row.recipient_org_id,
            "category": row.category, "spec": row.spec, "quantity": row.quantity, "unit": row.unit,
            "urgency": row.urgency, "needed_by": row.needed_by,
        })),
    )
    .await?;
    get(state, actor, id).await
}

/// Is `code` inside the campaign's region (a province-wide campaign covers its counties)?
fn campaign_covers(campaign_region: &str, code: &str) -> bool {
    code.starts_with(campaign_region)
}

/// Does the actor only see its own organisation's needs (a recipient's user, not a reader)?
fn recipient_only(actor: &Actor) -> Option<i64> {
    if actor.can(Permission::DonationsRead) || actor.can(Permission::DonationsManage) {
        None
    } else {
        actor.org_id
    }
}

fn may_see(actor: &Actor) -> AppResult<()> {
    if actor.can(Permission::DonationsConfirm) {
        return Ok(());
    }
    super::may_read(actor)
}

/// One need the actor sees (else *not found*).
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Need> {
    may_see(actor)?;
    let n = queries::need(state, &actor.everywhere(), id).await?;
    match recipient_only(actor) {
        Some(org) if org != n.recipient_org_id => Err(AppError::not_found()),
        _ => Ok(n),
    }
}

/// Needs of a campaign the actor sees (open and closed; most urgent first, then needed-by).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    region: Option<&backstop_core::region::RegionCode>,
) -> AppResult<Vec<Need>> {
    may_see(actor)?;
    super::campaign(state, actor, campaign_id).await?;
    let scope = actor.within_opt(region)?;
    let mut out = queries::needs(state, &scope, campaign_id, recipient_only(actor)).await?;
    sort_needs(&mut out);
    Ok(out)
}

fn sort_needs(v: &mut [Need]) {
    v.sort_by(|a, b| {
        (!a.is_unmet(), urgency_rank(&a.urgency), &a.needed_by, a.id).cmp(&(
            !b.is_unmet(),
            urgency_rank(&b.urgency),
            &b.needed_by,
            b.id,
        ))
    });
}

/// Unmet needs of a campaign by delivery region, the regions with the most urgent needs first
/// (then the most needs): the figures an allocator ranks undirected pools by.
pub async fn unmet_by_region(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
) -> AppResult<Vec<RegionNeeds>> {
    let needs = list(state, actor, campaign_id, None).await?;
    Ok(group_unmet(&needs))
}

/// Group the unmet needs by delivery region.
pub(crate) fn group_unmet(needs: &[Need]) -> Vec<RegionNeeds> {
    let mut out: Vec<RegionNeeds> = Vec::new();
    for n in needs.iter().filter(|n| n.is_unmet()) {
        let pos = match out.iter().position(|r| r.region_code == n.region_code) {
            Some(p) => p,
            None => {
                out.push(RegionNeeds {
                    region_code: n.region_code.clone(),
                    region_name: n.region_name.clone(),
                    ..Default::default()
                });
                out.len() - 1
            }
        };
        let r = &mut out[pos];
        r.needs += 1;
        if n.urgency == "urgent" {
            r.urgent += 1;
        }
        match r
            .remaining
            .iter_mut()
            .find(|q| q.category == n.category && q.unit == n.unit)
        {
            Some(q) => q.quantity += n.remaining,
            None => r.remaining.push(RemainingQty {
                category: n.category.clone(),
                label: n.category_label.clone(),
                unit: n.unit.clone(),
                quantity: n.remaining,
            }),
        }
    }
    out.sort_by(|a, b| {
        (b.urgent, b.needs, &a.region_code).cmp(&(a.urgent, a.needs, &b.region_code))
    });
    out
}

/// Stock lines that could meet a need, best first (see the module doc for the ranking). A
/// charity's keeper sees its own lines; a reader (an official) every charity's in scope.
pub async fn propose(state: &AppState, actor: &Actor, id: i64) -> AppResult<Vec<Proposal>> {
    super::may_read(actor)?;
    let need = get(state, actor, id).await?;
    if !need.is_unmet() {
        return Ok(Vec::new());
    }
    let today = state.today().format("%Y-%m-%d").to_string();
    let cands = queries::candidate_lines(
        state,
        &actor.everywhere(),
        need.campaign_id,
        &need.category,
        &today,
    )
    .await?;
    Ok(rank(&need, &need.recipient_region, cands))
}

/// Filter and rank candidate lines for a need whose recipient lies in `recipient_region`.
pub(crate) fn rank(
    need: &Need,
    recipient_region: &str,
    cands: Vec<queries::Candidate>,
) -> Vec<Proposal> {
    let mut out: Vec<Proposal> = cands
        .into_iter()
        .filter(|c| c.in_stock > 0 && c.unit == need.unit && c.category == need.category)
        .filter_map(|c| {
            let directed_here = match c.directed_kind.as_str() {
                "org" if c.directed_org_id == Some(need.recipient_org_id) => true,
                "org" => return None,
                "region"
                    if c.directed_region
                        .as_deref()
                        .is_some_and(|r| recipient_region.starts_with(r)) =>
                {
                    true
                }
                "region" => return None,
                _ => false,
            };
            let closeness = c
                .region_code
                .chars()
                .zip(need.region_code.chars())
                .take_while(|(a, b)| a == b)
                .count();
            Some(Proposal {
                spec_match: norm(&c.spec) == norm(&need.spec),
                suggested: c.in_stock.min(need.remaining),
                receipt_line_id: c.line_id,
                receipt_id: c.receipt_id,
                receipt_no: c.receipt_no,
                charity_org_id: c.org_id,
                charity_name: c.org_name,
                charity_region: c.region_code,
                category: c.category,
                spec: c.spec,
                unit: c.unit,
                in_stock: c.in_stock,
                expiry_on: c.expiry_on,
                warehouse: c.warehouse,
                directed_here,
                closeness,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |p: &Proposal| {
            (
                !p.spec_match,
                !p.directed_here,
                usize::MAX - p.closeness,
                p.expiry_on.is_none(),
                p.expiry_on.clone(),
                p.receipt_line_id,
            )
        };
        key(a).cmp(&key(b))
    });
    out
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Accept a proposal: allocate `quantity` of the line to the need's recipient through the
/// ordinary allocation service (its invariants and lock) and record the match in the same
/// transaction. Refused beyond what is still needed, for another category or unit, or for a
/// cancelled need.
pub async fn accept(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &AcceptInput,
) -> AppResult<Allocation> {
    actor.require(Permission::DonationsManage)?;
    let need = get(state, actor, id).await?;
    if need.status != "open" {
        return Err(AppError::msg(ErrorCode::Conflict, "该需求已撤销"));
    }
    if input.quantity <= 0 {
        return Err(invalid("quantity", "数量应大于 0"));
    }
    if input.quantity > need.remaining {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!(
                "该需求尚缺 {}{}，不能对接 {}{}",
                need.remaining, need.unit, input.quantity, need.unit
            ),
        ));
    }
    let line = queries::line_brief(state, &actor.everywhere(), input.receipt_line_id)
        .await
        .map_err(|_| invalid("receipt_line_id", "捐赠明细不存在"))?;
    if line.2 != need.campaign_id {
        return Err(invalid("receipt_line_id", "该明细不属于本需求的募捐活动"));
    }
    if line.0 != need.category || line.1 != need.unit {
        return Err(invalid(
            "receipt_line_id",
            "该明细的物资类别或单位与需求不符",
        ));
    }
    let purpose = format!(
        "供需对接：{}{}{}",
        need.category_label,
        if need.spec.is_empty() { "" } else { " " },
        need.spec
    );
    let alloc = NewAllocation {
        receipt_line_id: input.receipt_line_id,
        recipient_org_id: need.recipient_org_id,
        quantity: input.quantity,
        purpose: purpose.chars().take(200).collect(),
    };
    let link = NeedLink {
        province: province(&need.region_code),
        need_id: need.id,
    };
    ledger::allocate_linked(state, actor, &alloc, Some(&link)).await
}

/// Inside the allocation's transaction (after the campaign's sequence lock): check the need is
/// still open with enough remaining, and write the match.
pub(crate) async fn link(
    tx: &mut Tx,
    actor: &Actor,
    l: &NeedLink,
    allocation_id: i64,
    quantity: i64,
) -> AppResult<()> {
    let (status, qty, met, region) = queries::need_in_tx(tx, &l.province, l.need_id).await?;
    if status != "open" {
        return Err(AppError::msg(ErrorCode::Conflict, "该需求已撤销"));
    }
    if quantity > qty - met {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!("该需求尚缺 {}，不能对接 {quantity}", (qty - met).max(0)),
        ));
    }
    queries::insert_match(
        tx,
        &l.province,
        l.need_id,
        allocation_id,
        quantity,
        &actor.username,
    )
    .await?;
    tx.also(
        Change::new("donation.need_match", "donation_need", l.need_id, &region).detail(json!({
            "allocation_id": allocation_id, "quantity": quantity,
            "met": {"before": met, "after": met + quantity},
        })),
    );
    Ok(())
}

/// Organisations an official (not tied to one) may post a need for: every non-charity
/// organisation of its scope, a region's civil-affairs department among them.
pub async fn recipient_choices(state: &AppState, actor: &Actor) -> AppResult<Vec<(i64, String)>> {
    actor.require(Permission::DonationsConfirm)?;
    queries::recipients(state, &actor.everywhere()).await
}

/// Cancel a need (its poster's organisation, or an official of its region): it is no longer
/// proposed; what was already allocated stands.
pub async fn cancel(state: &AppState, actor: &Actor, id: i64) -> AppResult<Need> {
    actor.require(Permission::DonationsConfirm)?;
    let need = get(state, actor, id).await?;
    if actor.org_id.is_some_and(|o| o != need.recipient_org_id) {
        return Err(AppError::forbidden());
    }
    let prov = province(&need.region_code);
    let mut tx = Tx::begin(state, actor).await?;
    if !queries::cancel_need(&mut tx, &prov, id).await? {
        return Err(AppError::msg(ErrorCode::Conflict, "该需求已撤销"));
    }
    tx.commit(
        Change::new(
            "donation.need_cancel",
            "donation_need",
            id,
            &need.region_code,
        )
        .detail(json!({"status": {"before": "open", "after": "cancelled"}, "met": need.met})),
    )
    .await?;
    get(state, actor, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need() -> Need {
        Need {
            id: 1,
            campaign_id: 1,
            recipient_org_id: 7,
            recipient_name: String::new(),
            region_code: "130110100".into(),
            region_name: String::new(),
            category: "mask_n95".into(),
            category_label: String::new(),
            spec: "KN95".into(),
            quantity: 500,
            unit: "只".into(),
            urgency: "urgent".into(),
            urgency_label: String::new(),
            needed_by: "2026-12-31".into(),
            note: String::new(),
            status: "open".into(),
            met: 100,
            remaining: 0,
            state_label: String::new(),
            created_by: String::new(),
            created_at: String::new(),
            recipient_region: "130110100".into(),
        }
        .derive()
    }

    fn cand(
        id: i64,
        spec: &str,
        region: &str,
        expiry: Option<&str>,
        dk: &str,
    ) -> queries::Candidate {
        queries::Candidate {
            line_id: id,
            receipt_id: id,
            receipt_no: format!("R{id}"),
            org_id: 3,
            org_name: String::new(),
            region_code: region.into(),
            category: "mask_n95".into(),
            spec: spec.into(),
            unit: "只".into(),
            expiry_on: expiry.map(str::to_string),
            warehouse: String::new(),
            directed_kind: dk.into(),
            directed_org_id: if dk == "org" { Some(id) } else { None },
            directed_region: if dk == "region" {
                Some("1301".into())
            } else {
                None
            },
            in_stock: 1000,
        }
    }

    #[test]
    fn derived_state_and_ranking() {
        let n = need();
        assert_eq!((n.remaining, n.state_label.as_str()), (400, "部分满足"));
        let cands = vec![
            cand(1, "other", "130110", Some("2027-01-01"), ""),
            cand(2, "kn 95", "130111", Some("2028-01-01"), ""),
            cand(3, "KN95", "130110", Some("2029-01-01"), ""),
            cand(4, "KN95", "130110", Some("2027-06-01"), ""),
            cand(5, "KN95", "130111", None, "region"),
            cand(6, "KN95", "130110", None, "org"),
            cand(7, "KN95", "130110", None, "org"),
        ];
        let got: Vec<i64> = rank(&n, "130110100", cands)
            .iter()
            .map(|p| p.receipt_line_id)
            .collect();
        // 7 is directed to this recipient (org 7); 6 elsewhere (never proposed); 5 to the
        // recipient's city; then by closeness and expiry; the other spec last.
        assert_eq!(got, vec![7, 5, 4, 3, 2, 1]);
        assert_eq!(
            rank(&n, "130110100", vec![cand(9, "KN95", "13", None, "")])[0].suggested,
            400
        );
    }

    #[test]
    fn unmet_grouped_urgent_regions_first() {
        let mut a = need();
        a.urgency = "normal".into();
        a.region_code = "130111".into();
        let b = need();
        let mut c = need();
        c.met = 500;
        let c = c.derive();
        let g = group_unmet(&[a, b, c]);
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].region_code.as_str(), g[0].urgent), ("130110100", 1));
        assert_eq!(g[0].remaining[0].quantity, 400);
    }
}
