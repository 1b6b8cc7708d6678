//! Vulnerable groups and visits (困难群众与走访; issue 4, part 2).
//!
//! This module owns the rules about the people the state must not lose sight of: a person's
//! group memberships (category with a stable identifier and Chinese label, start date,
//! optional end date, deciding body), the named carer (照料责任人) of a dispersed 特困 person
//! and the carer's daily check (one per person per Beijing date; a second one the same day
//! updates it), visits (phone or at home: who, when, how, what was found, needs, help given),
//! follow-up tasks made from a need (owner in scope, due date, closed with a note, overdue by
//! the injected clock), and the coverage view (per category, members active in a period, how
//! many were contacted, and who was not). Everything is keyed to a person of `people` and
//! scoped by that person's current region through a `kernel::access::Scoped` handle: a person
//! outside the caller's scope does not exist (404). Reads need `PersonsRead`, changes
//! `PersonsWrite`; every change commits with its audit entry (`kernel::access::Tx`). The
//! carer's phone is stored like a person's phone (encrypted, blind-indexed, shown masked).
//!
//! Files: `memberships`, `carers` (the carer and the daily check), `visits`, `tasks`,
//! `record` (a person's whole care record), `coverage` (the period view and who was not
//! contacted), `queries` (every SQL statement of the area); the API is in `web`, the pages
//! in `pages`. The categories themselves are `backstop_core::care_category`, shared with
//! `people` and `crosscheck`.

mod carers;
mod coverage;
mod memberships;
pub mod pages;
mod queries;
mod record;
mod tasks;
mod visits;
pub mod web;

use backstop_core::care_category::{self, CATEGORIES as CORE_CATEGORIES};
use backstop_core::error::ErrorCode;
use chrono::NaiveDate;
use serde::Serialize;

use crate::kernel::error::{AppError, AppResult, text_field};
use crate::people;
use crate::state::AppState;

pub use carers::{Carer, CarerInput, CheckInput, DailyCheck, record_check, set_carer};
pub use coverage::{
    Coverage, CoverageQuery, CoverageRow, NotContacted, Period, coverage, not_contacted,
};
pub use memberships::{EndMembership, Membership, NewMembership, add_membership, end_membership};
pub(crate) use queries::category_of;
pub use record::{CareRecord, record};
pub(crate) use tasks::one_task;
pub use tasks::{
    CloseTask, NewTask, Task, TaskQuery, TaskStatus, add_task, close_task, list_tasks,
};
pub use visits::{NewVisit, Visit, add_visit, get_visit};

/// The groups (困难群众类别), with stable identifiers and Chinese labels.
pub const CATEGORIES: [(&str, &str); 14] = CORE_CATEGORIES;

/// Chinese label of a category identifier (empty if unknown).
pub fn category_label(id: &str) -> &'static str {
    care_category::label(id)
}

/// A category given as identifier or Chinese label.
pub fn parse_category(s: &str) -> Option<&'static str> {
    care_category::parse(s)
}

/// A category as listed by the API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Category {
    pub id: String,
    pub label: String,
}

/// All categories.
pub fn categories() -> Vec<Category> {
    CATEGORIES
        .iter()
        .map(|(id, l)| Category {
            id: (*id).to_string(),
            label: (*l).to_string(),
        })
        .collect()
}

/// A validation error whose message names the field in Chinese (`类别：…`).
fn verr(field: &str, message: impl Into<String>) -> AppError {
    let message = message.into();
    let fallback;
    let label = match field {
        "category" => "类别",
        "start_date" => "开始日期",
        "end_date" => "结束日期",
        "deciding_body" => "认定机关",
        "name" => "姓名",
        "phone" => "联系电话",
        "relationship" => "关系",
        "date" => "日期",
        "status" => "状态",
        "note" => "备注",
        "method" => "走访方式",
        "visited_on" => "走访日期",
        "findings" => "走访情况",
        "needs" => "需求",
        "help_given" => "帮扶措施",
        "need_index" => "需求",
        "owner" => "责任人",
        "due_date" => "完成期限",
        "from" => "开始日期",
        "to" => "结束日期",
        other => {
            fallback = crate::kernel::error::field_label(other);
            fallback.as_str()
        }
    };
    AppError {
        code: ErrorCode::Validation,
        message: format!("{label}：{message}"),
        fields: vec![crate::kernel::error::FieldError {
            field: field.to_string(),
            message,
        }],
    }
}

fn text(field: &str, v: &str, max: usize, required: bool) -> AppResult<String> {
    text_field(field, v, max, required).map_err(|e| {
        let msg = e
            .fields
            .first()
            .map(|f| f.message.clone())
            .unwrap_or(e.message);
        verr(field, msg)
    })
}

/// A required `YYYY-MM-DD` (other forms accepted as by `people::parse_date`).
fn date(field: &str, s: &str) -> AppResult<NaiveDate> {
    match people::parse_date(s) {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(verr(field, "不能为空")),
        Err(m) => Err(verr(field, m)),
    }
}

/// An optional date: empty or missing is `None`.
fn opt_date(field: &str, s: Option<&str>) -> AppResult<Option<NaiveDate>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => date(field, s).map(Some),
        None => Ok(None),
    }
}

pub(crate) fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(crate) fn today(state: &AppState) -> NaiveDate {
    state.today()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_parse_both_ways() {
        assert_eq!(parse_category("dibao"), Some("dibao"));
        assert_eq!(parse_category("特困（分散供养）"), Some("tekun_dispersed"));
        assert_eq!(parse_category("nope"), None);
        assert_eq!(category_label("registered_poor"), "建档立卡");
        assert_eq!(categories().len(), 14);
        assert_eq!(opt_date("to", Some(" ")).ok(), Some(None));
        assert!(opt_date("to", Some("x")).is_err());
    }
}
