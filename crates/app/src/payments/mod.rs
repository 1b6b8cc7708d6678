//! Payments (发放; issue 16 part B): beneficiaries' bank accounts, monthly payment rolls, the
//! bank file and its return, supplementary rolls, one-off grants and price subsidies.
//!
//! This module owns the rules that move money from the beneficiary list
//! (`assistance_beneficiaries`, made by applications) to people's bank accounts, so that every
//! fen is traceable to a person, a rule and a decision:
//!
//! - a roll (发放名册) is generated per county, programme and month in one transaction by one
//!   `INSERT … SELECT` from the active beneficiaries (and the frozen-exit held ones, marked);
//!   suspended, exited and deceased ones are left out and counted on the roll, never silently;
//!   a second roll for the same county, programme and month is refused, and the database's
//!   UNIQUE key (with the province) keeps a person off two rolls of one programme and month;
//! - states `draft → approved → exported → reconciled`; whoever generated a roll cannot approve
//!   or export it (separation of duties on money, checked here in the service layer);
//! - the bank file (CSV or XLSX, totals row, SHA-256 checksum of the canonical lines stored on
//!   the roll) carries full account numbers, so it needs `payments.export` and is audited; the
//!   bank's return file must match it line by line, in totals and checksum, or is refused with
//!   the mismatch named; failed lines go to a supplementary roll (补发名册) of the same month;
//! - account numbers are sealed at rest (`kernel::crypto`) and shown masked; a new or changed
//!   account takes effect when a second user confirms it, and is highlighted on the next roll.
//!
//! Files: `accounts`, `rolls` (generate, approve, read), `bankfile` (export, return,
//! reconciliation), `grants`, `prices` (indices, rules and the subsidy roll; the rule itself is
//! `backstop_core::price_subsidy`), `queries/` (every SQL statement of the area), `web` (API).

mod accounts;
mod bankfile;
mod grants;
pub mod pages;
mod prices;
mod queries;
mod rolls;
mod upload;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel};
use backstop_core::{Fen, Programme};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::kernel::error::{AppError, AppResult, FieldError};

pub use accounts::{Account, NewAccount, confirm_account, enter_account, person_accounts};
pub use bankfile::{BankFile, ExportRequest, Reconciled, ReturnFile, export, reconcile};
pub use grants::{
    Grant, GrantRollRequest, NewGrant, create_grant, generate_grant_roll, list_grants,
};
pub use prices::{
    NewPriceIndex, PriceIndex, PriceRule, PriceRuleInput, SubsidyOutcome, SubsidyRequest,
    generate_subsidy, list_indices, list_rules, record_index, set_rule,
};
pub use rolls::{
    GenerateRequest, RollQuery, approve, generate, get_roll, list_rolls, roll_lines_total,
};

/// A roll (发放名册) as the API and pages show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Roll {
    pub id: i64,
    pub province: String,
    pub county_code: String,
    /// A programme key, or `grant` / `price_subsidy`.
    pub programme: String,
    pub programme_label: String,
    /// `YYYY-MM`.
    pub month: String,
    /// '' (the month's roll), `supp:<roll id>`, `grant:<grant id>`.
    pub batch: String,
    /// `monthly` | `supplementary` | `grant` | `price_subsidy`.
    pub kind: String,
    pub parent_roll_id: Option<i64>,
    pub grant_id: Option<i64>,
    pub pay_date: String,
    /// Paid before the month begins (提前发放).
    pub early: bool,
    /// `draft` | `approved` | `exported` | `reconciled`.
    pub status: String,
    pub status_label: String,
    pub line_count: i64,
    pub total_fen: i64,
    pub total_yuan: String,
    /// Lines of frozen-exit beneficiaries held by an emergency period (paid, marked).
    pub held_count: i64,
    pub left_suspended: i64,
    pub left_exited: i64,
    pub left_deceased: i64,
    /// "未列入：暂停 3，退出 2" (or "未列入：无").
    pub left_summary: String,
    pub note: String,
    pub checksum: String,
    pub paid_count: i64,
    pub paid_fen: i64,
    pub failed_count: i64,
    pub failed_fen: i64,
    pub generated_by: String,
    pub approved_by: Option<String>,
    pub exported_by: Option<String>,
    pub reconciled_by: Option<String>,
    /// When each step was taken (Beijing time, `YYYY-MM-DD HH:MM`), for the state history.
    pub generated_at: String,
    pub approved_at: Option<String>,
    pub exported_at: Option<String>,
    pub reconciled_at: Option<String>,
}

/// One line of a roll, masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Line {
    pub id: i64,
    pub person_id: i64,
    /// The person's name, masked (张*).
    pub name: String,
    pub household_id: Option<i64>,
    pub region_code: String,
    pub members: i64,
    pub amount_fen: i64,
    pub amount_yuan: String,
    pub bank_name: String,
    /// The account number, masked; empty when none is on file (无账户).
    pub account_masked: String,
    /// The account was changed since the last roll (账户变更, highlighted).
    pub account_changed: bool,
    /// A frozen exit, paid while an emergency period holds it (冻结退出).
    pub exit_held: bool,
    /// '' until reconciled, then `paid` | `failed`.
    pub outcome: String,
    pub fail_reason: String,
}

/// A roll (its counts, totals and those left out by reason) with one page of its lines.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RollDetail {
    pub roll: Roll,
    /// A page of the lines in line order: the first page (after generating or approving), or
    /// the one asked for with `after` / `limit`.
    pub lines: Vec<Line>,
    /// More lines follow: ask again with `after` = this line id. `null` on the last page.
    pub next_after: Option<i64>,
}

/// Which page of a roll's lines (`GET /api/v1/payments/rolls/{id}?after=&limit=`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct LinePage {
    /// The lines after this line id (the previous page's `next_after`); default from the first.
    pub after: Option<i64>,
    /// At most this many lines, 1–1000; default 200.
    pub limit: Option<i64>,
}

/// Lines on a page unless asked otherwise, and the most one page may hold.
pub const LINES_PER_PAGE: i64 = 200;
const MAX_LINES_PER_PAGE: i64 = 1000;

impl LinePage {
    /// `(after, limit)`, validated.
    pub(crate) fn bounds(&self) -> AppResult<(i64, i64)> {
        let limit = self.limit.unwrap_or(LINES_PER_PAGE);
        if !(1..=MAX_LINES_PER_PAGE).contains(&limit) {
            return Err(verr("limit", "应为 1 至 1000"));
        }
        Ok((self.after.unwrap_or(0).max(0), limit))
    }
}

pub(crate) fn status_label(s: &str) -> &'static str {
    match s {
        "draft" => "草稿",
        "approved" => "已审批",
        "exported" => "已导出",
        "reconciled" => "已对账",
        _ => "",
    }
}

pub(crate) fn programme_label(p: &str) -> String {
    match p {
        "grant" => "一次性生活补贴".to_string(),
        "price_subsidy" => "价格临时补贴".to_string(),
        other => Programme::parse(other)
            .map(|p| p.label().to_string())
            .unwrap_or_default(),
    }
}

/// "未列入：暂停 3，退出 2，已故 1" — every beneficiary left out is counted.
pub(crate) fn left_summary(suspended: i64, exited: i64, deceased: i64) -> String {
    let mut parts = Vec::new();
    for (n, l) in [(suspended, "暂停"), (exited, "退出"), (deceased, "已故")] {
        if n > 0 {
            parts.push(format!("{l} {n}"));
        }
    }
    if parts.is_empty() {
        "未列入：无".to_string()
    } else {
        format!("未列入：{}", parts.join("，"))
    }
}

/// A validation error on one field, with the Chinese label of the field in the message.
pub(crate) fn verr(field: &str, message: impl Into<String>) -> AppError {
    let message = message.into();
    let label = match field {
        "county" => "区县",
        "programme" => "救助项目",
        "month" => "月份",
        "pay_date" => "发放日期",
        "bank_name" => "开户银行",
        "account_number" => "银行账号",
        "holder" => "户名",
        "name" => "名称",
        "region_code" => "区划",
        "programmes" => "救助项目",
        "per" => "发放方式",
        "amount" => "金额",
        "as_of" => "认定日期",
        "cpi" => "CPI 同比涨幅",
        "food_cpi" => "食品 CPI 同比涨幅",
        "multiplier" => "倍数",
        "rounding" => "取整规则",
        "minimum" => "最低补贴额",
        "format" => "文件格式",
        "file" => "回盘文件",
        "limit" => "每页条数",
        other => other,
    };
    AppError {
        code: ErrorCode::Validation,
        message: format!("{label}：{message}"),
        fields: vec![FieldError {
            field: field.to_string(),
            message,
        }],
    }
}

/// A conflict with a Chinese message (a second roll, a wrong state, the same person twice).
pub(crate) fn conflict(message: impl Into<String>) -> AppError {
    AppError::msg(ErrorCode::Conflict, message)
}

/// A county code (level county), or a validation error.
pub(crate) fn county(s: &str) -> AppResult<RegionCode> {
    let c = RegionCode::parse(s.trim()).map_err(|_| verr("county", "区划代码不正确"))?;
    if c.level() != RegionLevel::County {
        return Err(verr("county", "应为区县级区划（6 位代码）"));
    }
    Ok(c)
}

/// The province (2-digit prefix) of a region code (`backstop_core::region`).
pub(crate) use backstop_core::region::province_of;

/// `YYYY-MM`, validated; its first day.
pub(crate) fn month(field: &str, s: &str) -> AppResult<(String, NaiveDate)> {
    let s = s.trim();
    let first = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 7)
        .ok_or_else(|| verr(field, "格式应为 YYYY-MM，如 2020-02"))?;
    Ok((s.to_string(), first))
}

/// The last day of the month that begins on `first`.
pub(crate) fn month_end(first: NaiveDate) -> NaiveDate {
    let (y, m) = if first.month() == 12 {
        (first.year() + 1, 1)
    } else {
        (first.year(), first.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .unwrap_or(first)
}

/// The month before, `YYYY-MM`.
pub(crate) fn prev_month(first: NaiveDate) -> String {
    first
        .pred_opt()
        .map(|d| d.format("%Y-%m").to_string())
        .unwrap_or_default()
}

/// A pay date for the month: a date from the first day of the previous month (early payment,
/// e.g. February paid on 21 January) to the month's last day.
/// The audit entry of a roll generated for `county`.
pub(crate) fn roll_generated(id: i64, county: &str) -> crate::kernel::access::Change {
    crate::kernel::access::Change::new("payments.roll.generate", "payment_roll", id, county)
}

/// [`pay_date`] of an optional field: blank or missing is `default`.
pub(crate) fn pay_date_or(
    s: Option<&str>,
    first: NaiveDate,
    default: NaiveDate,
) -> AppResult<NaiveDate> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => pay_date(s, first),
        None => Ok(default),
    }
}

pub(crate) fn pay_date(s: &str, first: NaiveDate) -> AppResult<NaiveDate> {
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| verr("pay_date", "格式应为 YYYY-MM-DD"))?;
    let earliest = first
        .pred_opt()
        .and_then(|d| d.with_day(1))
        .unwrap_or(first);
    if d < earliest || d > month_end(first) {
        return Err(verr(
            "pay_date",
            "应在该月内，或提前到上月（如 2 月的钱 1 月 21 日发放）；逾期请用补发名册",
        ));
    }
    Ok(d)
}

/// An amount in yuan text, positive, exact to the fen.
pub(crate) fn amount(field: &str, s: &str) -> AppResult<Fen> {
    let v = Fen::parse_non_negative(s).map_err(|e| verr(field, e.to_string()))?;
    if v.0 == 0 {
        return Err(verr(field, "金额必须大于 0"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_pay_dates_and_summaries() {
        let (m, first) = month("month", "2020-02").expect("month");
        assert_eq!(m, "2020-02");
        assert_eq!(month_end(first).to_string(), "2020-02-29");
        assert_eq!(prev_month(first), "2020-01");
        assert!(month("month", "2020-2").is_err() && month("month", "2020-13").is_err());
        assert!(pay_date("2020-01-21", first).is_ok());
        assert!(pay_date("2020-02-29", first).is_ok());
        assert!(pay_date("2019-12-31", first).is_err());
        assert!(pay_date("2020-03-01", first).is_err());
        assert_eq!(left_summary(3, 2, 0), "未列入：暂停 3，退出 2");
        assert_eq!(left_summary(0, 0, 0), "未列入：无");
        assert!(amount("amount", "-1").is_err() && amount("amount", "0.001").is_err());
        assert!(amount("amount", "0").is_err());
        assert_eq!(amount("amount", "500").ok(), Some(Fen(50_000)));
        assert!(county("130110").is_ok() && county("1301").is_err());
        assert_eq!(province_of("130110"), "13");
    }
}
