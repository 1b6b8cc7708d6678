//! Campaign dashboard and export (issue 18 item 7): for a campaign and a region, received,
//! allocated, delivered and in stock (sums of ledger lines, [`super::Totals`]), in stock by
//! category with the days it has waited (from the receipt's date, weighted by quantity), and
//! the unmet needs by region; and the Excel workbook in the layout charities publish (汇总,
//! 接收明细, 拨付明细, 未满足需求), every text cell through [`SafeCells`] (formula injection
//! neutralised). The donor is shown only with the donor's consent, else 爱心人士.

use backstop_core::region::RegionCode;
use rust_xlsxwriter::{Format, Workbook};
use serde::Serialize;

use super::needs::{self, RegionNeeds};
use super::{Campaign, Totals, category_label, ledger, queries, receipts};
use crate::kernel::actor::Actor;
use crate::kernel::cells::SafeCells;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// What has waited in stock, per category.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct StockAge {
    pub category: String,
    pub label: String,
    pub unit: String,
    pub in_stock: i64,
    /// Days since the oldest receipt still in stock.
    pub oldest_days: i64,
    /// Days in stock, weighted by quantity.
    pub average_days: i64,
}

/// The dashboard of a campaign in a region.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub campaign: Campaign,
    /// The region the figures cover (the caller's whole scope when none was asked).
    pub region_code: String,
    pub totals: Totals,
    pub stock_age: Vec<StockAge>,
    pub unmet: Vec<RegionNeeds>,
}

/// The dashboard (`DonationsRead` or `DonationsManage`; the region in scope).
pub async fn dashboard(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    region: Option<&RegionCode>,
) -> AppResult<Dashboard> {
    let d = super::campaign_detail(state, actor, campaign_id, region).await?;
    let scope = actor.within_opt(region)?;
    let today = state.today();
    let rows = queries::stock_by_receipt_date(state, &scope, campaign_id).await?;
    let list = needs::list(state, actor, campaign_id, region).await?;
    Ok(Dashboard {
        region_code: scope.node().as_str().to_string(),
        campaign: d.campaign,
        totals: d.totals,
        stock_age: stock_age(&rows, today),
        unmet: needs::group_unmet(&list),
    })
}

/// Per category: stock and its days from `(category, unit, received_on, quantity)` groups.
pub(crate) fn stock_age(
    rows: &[(String, String, String, i64)],
    today: chrono::NaiveDate,
) -> Vec<StockAge> {
    let mut out: Vec<(StockAge, i128)> = Vec::new();
    for (category, unit, on, q) in rows.iter().filter(|r| r.3 > 0) {
        let days = backstop_core::clock::parse_ymd(on)
            .map(|d| (today - d).num_days().max(0))
            .unwrap_or(0);
        let pos = match out
            .iter()
            .position(|(a, _)| &a.category == category && &a.unit == unit)
        {
            Some(p) => p,
            None => {
                out.push((
                    StockAge {
                        category: category.clone(),
                        label: category_label(category).to_string(),
                        unit: unit.clone(),
                        ..Default::default()
                    },
                    0,
                ));
                out.len() - 1
            }
        };
        let (a, weighted) = &mut out[pos];
        a.in_stock += q;
        a.oldest_days = a.oldest_days.max(days);
        *weighted += i128::from(*q) * i128::from(days);
    }
    out.into_iter()
        .map(|(mut a, w)| {
            a.average_days = if a.in_stock > 0 {
                i64::try_from(w / i128::from(a.in_stock)).unwrap_or(0)
            } else {
                0
            };
            a
        })
        .collect()
}

fn yuan(fen: i64) -> String {
    backstop_core::money::Fen(fen).to_yuan_string()
}

/// The workbook in the layout charities publish: (file name, bytes).
pub async fn export_xlsx(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    region: Option<&RegionCode>,
) -> AppResult<(String, Vec<u8>)> {
    let d = dashboard(state, actor, campaign_id, region).await?;
    let scope = actor.within_opt(region)?;
    let receipts: Vec<_> = receipts::list(state, actor, campaign_id)
        .await?
        .into_iter()
        .filter(|r| scope.contains(&r.region_code))
        .collect();
    let allocations: Vec<_> = ledger::allocations(state, actor, campaign_id)
        .await?
        .into_iter()
        .filter(|a| scope.contains(&a.region_code))
        .collect();
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal("xlsx", e);
    let col = |i: usize| u16::try_from(i).map_err(|e| AppError::internal("xlsx", e));
    let head = Format::new().set_bold();
    let mut wb = Workbook::new();

    let ws = wb.add_worksheet();
    ws.set_name("汇总").map_err(x)?;
    ws.text(
        0,
        0,
        &format!("{}（{}）捐赠款物收支情况", d.campaign.name, d.region_code),
        &head,
    )
    .map_err(x)?;
    let t = &d.totals;
    for (r, (label, fen)) in (2u32..).zip([
        ("接收捐赠（含物资折款，元）", t.received_fen),
        ("已拨付（元）", t.allocated_fen),
        ("已签收（元）", t.delivered_fen),
        ("库存（元）", t.in_stock_fen),
        ("管理费用（元）", t.fee_fen),
    ]) {
        ws.text(r, 0, label, &head).map_err(x)?;
        ws.text_plain(r, 1, &yuan(fen)).map_err(x)?;
    }
    let heads = [
        "类别",
        "单位",
        "接收",
        "已拨付",
        "已签收",
        "库存",
        "库存最长天数",
        "库存平均天数",
    ];
    for (i, h) in heads.iter().enumerate() {
        ws.text(8, col(i)?, h, &head).map_err(x)?;
    }
    for (r, c) in (9u32..).zip(&t.categories) {
        let age = d
            .stock_age
            .iter()
            .find(|a| a.category == c.category && a.unit == c.unit);
        let cells = [
            c.label.clone(),
            c.unit.clone(),
            c.received.to_string(),
            c.allocated.to_string(),
            c.delivered.to_string(),
            c.in_stock.to_string(),
            age.map(|a| a.oldest_days).unwrap_or(0).to_string(),
            age.map(|a| a.average_days).unwrap_or(0).to_string(),
        ];
        for (i, v) in cells.iter().enumerate() {
            ws.text_plain(r, col(i)?, v).map_err(x)?;
        }
    }

    let ws = wb.add_worksheet();
    ws.set_name("接收明细").map_err(x)?;
    let heads = [
        "接收日期",
        "收据编号",
        "捐赠票据号",
        "捐赠人",
        "资金（元）",
        "物资",
        "规格",
        "数量",
        "单位",
        "折款（元）",
        "有效期",
        "定向",
        "接收单位",
    ];
    for (i, h) in heads.iter().enumerate() {
        ws.text(0, col(i)?, h, &head).map_err(x)?;
    }
    let mut r = 1u32;
    for rc in &receipts {
        let donor = if rc.publish_consent && rc.donor_kind != "anonymous" {
            rc.donor.clone()
        } else {
            "爱心人士".to_string()
        };
        let directed = match rc.directed_kind.as_str() {
            "" => "非定向".to_string(),
            "purpose" => format!("定向用途：{}", rc.directed_purpose),
            "region" => format!(
                "定向地区：{}",
                rc.directed_region.clone().unwrap_or_default()
            ),
            _ => "定向单位".to_string(),
        };
        for l in &rc.lines {
            let money = l.kind == "money";
            let cells = [
                rc.received_on.clone(),
                rc.receipt_no.clone(),
                rc.bill_no.clone(),
                donor.clone(),
                if money {
                    yuan(l.value_fen)
                } else {
                    String::new()
                },
                if money {
                    String::new()
                } else {
                    l.category_label.clone()
                },
                l.spec.clone(),
                if money {
                    String::new()
                } else {
                    l.quantity.to_string()
                },
                if money { String::new() } else { l.unit.clone() },
                if money {
                    String::new()
                } else {
                    yuan(l.value_fen)
                },
                l.expiry_on.clone().unwrap_or_default(),
                directed.clone(),
                rc.org_name.clone(),
            ];
            for (i, v) in cells.iter().enumerate() {
                ws.text_plain(r, col(i)?, v).map_err(x)?;
            }
            r += 1;
        }
    }

    let ws = wb.add_worksheet();
    ws.set_name("拨付明细").map_err(x)?;
    let heads = [
        "拨付日期",
        "拨付单位",
        "受赠单位",
        "物资",
        "规格",
        "数量",
        "单位",
        "价值（元）",
        "用途",
        "状态",
        "实收数量",
    ];
    for (i, h) in heads.iter().enumerate() {
        ws.text(0, col(i)?, h, &head).map_err(x)?;
    }
    for (r, a) in (1u32..).zip(&allocations) {
        let cells = [
            a.created_at.chars().take(10).collect::<String>(),
            a.org_name.clone(),
            a.recipient_name.clone(),
            a.category_label.clone(),
            a.spec.clone(),
            a.quantity.to_string(),
            a.unit.clone(),
            yuan(a.value_fen),
            a.purpose.clone(),
            a.status_label.clone(),
            a.delivery
                .as_ref()
                .map(|d| d.received_qty.to_string())
                .unwrap_or_default(),
        ];
        for (i, v) in cells.iter().enumerate() {
            ws.text_plain(r, col(i)?, v).map_err(x)?;
        }
    }

    let ws = wb.add_worksheet();
    ws.set_name("未满足需求").map_err(x)?;
    for (i, h) in ["地区", "未满足需求", "其中紧急", "尚缺"]
        .iter()
        .enumerate()
    {
        ws.text(0, col(i)?, h, &head).map_err(x)?;
    }
    for (r, u) in (1u32..).zip(&d.unmet) {
        let rest: Vec<String> = u
            .remaining
            .iter()
            .map(|q| format!("{} {}{}", q.label, q.quantity, q.unit))
            .collect();
        let cells = [
            u.region_name.clone(),
            u.needs.to_string(),
            u.urgent.to_string(),
            rest.join("；"),
        ];
        for (i, v) in cells.iter().enumerate() {
            ws.text_plain(r, col(i)?, v).map_err(x)?;
        }
    }
    let bytes = wb.save_to_buffer().map_err(x)?;
    Ok((
        format!("donations-{}-{}.xlsx", d.campaign.id, d.region_code),
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_in_stock_weighted_by_quantity() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 11).expect("date");
        let rows = vec![
            (
                "mask_n95".to_string(),
                "只".to_string(),
                "2026-03-01".to_string(),
                100,
            ),
            (
                "mask_n95".to_string(),
                "只".to_string(),
                "2026-03-09".to_string(),
                300,
            ),
            (
                "gloves".to_string(),
                "副".to_string(),
                "2026-03-01".to_string(),
                0,
            ),
        ];
        let a = stock_age(&rows, today);
        assert_eq!(a.len(), 1);
        assert_eq!(
            (a[0].in_stock, a[0].oldest_days, a[0].average_days),
            (400, 10, 4)
        );
    }
}
