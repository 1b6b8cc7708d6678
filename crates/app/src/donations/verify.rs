//! `backstop ledger verify`: recompute every balance from the journal lines and check every
//! invariant of the donation ledger, reporting each breach in Chinese. Nothing is trusted
//! that is not a sum of lines: an edited line shows as an unbalanced entry, a deleted entry as
//! a gap in its campaign's sequence, a receipt whose stored total differs from its lines as a
//! total breach.

use serde::Serialize;

use super::queries;
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// What verification found.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct LedgerReport {
    pub entries: i64,
    pub lines: i64,
    pub receipts: i64,
    /// Each breach, in Chinese; empty when the ledger holds.
    pub breaches: Vec<String>,
}

impl LedgerReport {
    pub fn ok(&self) -> bool {
        self.breaches.is_empty()
    }
}

/// One receipt line's balance on each account (sums of ledger lines).
#[derive(Debug, Clone, Default)]
pub(crate) struct LineBalances {
    pub province: String,
    pub line_id: i64,
    pub quantity: i64,
    pub value_fen: i64,
    pub donor: i64,
    pub donor_value: i64,
    pub stock: i64,
    pub allocated: i64,
    pub in_transit: i64,
    pub stock_value: i64,
}

/// Verify the ledgers the actor reads (the operator: all of them).
pub async fn verify(state: &AppState, actor: &Actor) -> AppResult<LedgerReport> {
    super::may_read(actor)?;
    let scope = actor.everywhere();
    let mut r = LedgerReport::default();
    let (entries, lines, receipts) = queries::counts(state, &scope).await?;
    (r.entries, r.lines, r.receipts) = (entries, lines, receipts);
    for (prov, entry, line, q, v) in queries::unbalanced(state, &scope).await? {
        r.breaches.push(format!(
            "记账不平：省 {prov} 记账 {entry} 在明细 {line} 上数量合计 {q}、金额合计 {v} 分（应为 0）"
        ));
    }
    for b in queries::line_balances(state, &scope).await? {
        let at = format!("省 {} 明细 {}", b.province, b.line_id);
        if b.stock < 0 || b.stock_value < 0 {
            r.breaches
                .push(format!("{at}：库存余额为负（{}）", b.stock));
        }
        if b.allocated < 0 || b.in_transit < 0 {
            r.breaches.push(format!("{at}：拨付或在途余额为负"));
        }
        if b.donor != -b.quantity && b.donor != 0 {
            r.breaches.push(format!(
                "{at}：接收记账数量 {} 与明细数量 {} 不符（拨付超过接收）",
                -b.donor, b.quantity
            ));
        }
        if b.donor != 0 && b.donor_value != -b.value_fen {
            r.breaches.push(format!(
                "{at}：接收记账估值 {} 分与明细估值 {} 分不符",
                -b.donor_value, b.value_fen
            ));
        }
        if b.donor == 0 && b.stock + b.allocated + b.in_transit != 0 {
            r.breaches.push(format!("{at}：已冲销的接收仍有余额"));
        }
    }
    for (prov, id, stored_money, stored_goods, money, goods) in
        queries::receipt_totals(state, &scope).await?
    {
        if stored_money != money || stored_goods != goods {
            r.breaches.push(format!(
                "省 {prov} 收据 {id}：合计（资金 {stored_money} 分、物资 {stored_goods} 分）与明细之和（{money} 分、{goods} 分）不符"
            ));
        }
    }
    for (prov, campaign, n, lo, hi) in queries::seq_runs(state, &scope).await? {
        if lo != 1 || hi != n {
            r.breaches.push(format!(
                "省 {prov} 募捐活动 {campaign}：记账序号不连续（{n} 条，序号 {lo}–{hi}），有记账被删除或插入"
            ));
        }
    }
    for (prov, entry) in queries::fees_on_no_fee(state, &scope).await? {
        r.breaches.push(format!(
            "省 {prov} 记账 {entry}：不得收取管理费的募捐活动出现管理费记账"
        ));
    }
    for a in queries::allocation_checks(state, &scope).await? {
        let at = format!("省 {} 拨付 {}", a.province, a.id);
        match a.directed_kind.as_str() {
            "org" if a.directed_org_id != Some(a.recipient_org_id) => {
                r.breaches
                    .push(format!("{at}：定向捐赠拨付给了指定单位以外的单位"));
            }
            "region"
                if !a
                    .directed_region
                    .as_deref()
                    .is_some_and(|d| a.recipient_region.starts_with(d)) =>
            {
                r.breaches
                    .push(format!("{at}：定向捐赠拨付到了指定地区以外"));
            }
            _ => {}
        }
        if a.expiry_on
            .as_deref()
            .is_some_and(|e| e < super::ledger::ymd_of(a.created_at).as_str())
        {
            r.breaches.push(format!("{at}：拨付了已过有效期的物资"));
        }
        if a.entry_qty != a.quantity {
            r.breaches.push(format!(
                "{at}：拨付数量 {} 与其记账数量 {} 不符",
                a.quantity, a.entry_qty
            ));
        }
    }
    if actor.is_operator() {
        r.breaches
            .extend(super::disclosure::verify_chains(state).await?);
    }
    Ok(r)
}
