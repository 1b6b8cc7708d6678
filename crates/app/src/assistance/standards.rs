//! Assistance standards (救助标准): officials set an amount per region, programme, urban/rural
//! and component with an effective-from date; a county without its own standard inherits the
//! nearest one set above it (city, then province). A new standard is a new row, so the history
//! stays. A standard may not start in the past: money for a past month under a new standard
//! is paid only through a back-pay (补发) roll. A tekun basic amount below 1.3 × the dibao
//! standard in force for the same region and area is refused (`backstop_core::benefit`).

use backstop_core::Programme;
use backstop_core::benefit;
use backstop_core::error::ErrorCode;
use backstop_core::money::Fen;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{amount_field, area_kind_field, programme_field, queries, ymd};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field};
use crate::state::AppState;

/// The components a standard may be (see migration 0024).
pub const COMPONENTS: [(&str, &str); 10] = [
    ("base", "基本标准"),
    ("care_full", "全护理照料标准"),
    ("care_partial", "半护理照料标准"),
    ("care_self", "全自理照料标准"),
    ("concentrated", "集中供养标准"),
    ("scattered", "散居标准"),
    ("temporary_cap", "临时救助单次上限"),
    ("employment_deduction", "就业成本扣减（每人每月）"),
    ("min_per_person", "每人最低保障金"),
    ("supplement", "分类施保"),
];

/// The Chinese name of a component key.
pub fn component_label(c: &str) -> &'static str {
    COMPONENTS
        .iter()
        .find(|(k, _)| *k == c)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// One standard row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Standard {
    pub id: i64,
    pub region_code: String,
    pub programme: String,
    pub programme_label: String,
    /// `urban` or `rural`.
    pub area_kind: String,
    pub component: String,
    pub component_label: String,
    pub amount_fen: i64,
    /// Yuan text, e.g. `750.00`.
    pub amount_yuan: String,
    /// `YYYY-MM-DD`.
    pub effective_from: String,
    pub created_by: String,
    /// `local` (set here) or `parent` (sent down by the parent deployment, which owns it).
    pub origin: String,
}

/// Body of `POST /api/v1/assistance/standards`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewStandard {
    pub region_code: String,
    pub programme: String,
    /// `urban` or `rural`.
    pub area_kind: String,
    /// `base`, `care_full`, `care_partial`, `care_self`, `concentrated`, `scattered`,
    /// `temporary_cap`, `employment_deduction` or `min_per_person`.
    pub component: String,
    /// Yuan text, at most two decimals, e.g. `"750.00"`.
    pub amount: String,
    /// `YYYY-MM-DD`, today or later.
    pub effective_from: String,
}

/// A standard in force: its amount and the region that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InForce {
    pub amount: Fen,
    pub set_at: String,
}

/// The standard in force for `region` on `date`: the region's own, else the nearest set above
/// it; the latest effective-from not after `date` wins at each level.
pub async fn in_force(
    state: &AppState,
    region: &RegionCode,
    programme: Programme,
    area_kind: &str,
    component: &str,
    date: NaiveDate,
) -> AppResult<Option<InForce>> {
    let lineage = region.lineage_strings();
    queries::standard_in_force(
        state,
        &lineage,
        programme.key(),
        area_kind,
        component,
        &ymd(date),
    )
    .await
}

/// Standards set in the caller's scope or above it (what its regions inherit), newest first.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    programme: Option<&str>,
) -> AppResult<Vec<Standard>> {
    actor.require(Permission::AssistanceRead)?;
    let scope = actor.within_opt(region)?;
    let programme = match programme.map(str::trim).filter(|s| !s.is_empty()) {
        Some(p) => Some(programme_field("programme", p)?.key()),
        None => None,
    };
    let above = scope.above();
    queries::standards(state, &scope, &above, programme).await
}

/// Set a standard (a new row; earlier ones stay as history).
pub async fn create(state: &AppState, actor: &Actor, input: &NewStandard) -> AppResult<Standard> {
    actor.require(Permission::AssistanceStandards)?;
    let code = crate::regions::parse_code("region_code", &input.region_code)?;
    actor.within(&code)?;
    crate::regions::on_record(state, &code, "region_code", "区划不存在").await?;
    let programme = programme_field("programme", &input.programme)?;
    let area_kind = area_kind_field("area_kind", &input.area_kind)?;
    let component = input.component.trim();
    if component_label(component).is_empty() || component == "supplement" {
        return Err(AppError::field(
            ErrorCode::Validation,
            "component",
            "未知的标准组成（应为 base、care_full、care_partial、care_self、concentrated、scattered、temporary_cap、employment_deduction 或 min_per_person）",
        ));
    }
    let amount = amount_field("amount", &input.amount)?;
    let from = date_field("effective_from", &input.effective_from)?;
    if from < state.today() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "effective_from",
            "执行日期不能早于今天：过去月份按新标准补差，只能通过补发名册发放",
        ));
    }
    if programme == Programme::Tekun && component == "base" {
        let dibao = in_force(state, &code, Programme::Dibao, area_kind, "base", from).await?;
        if let Some(d) = dibao {
            benefit::check_tekun_basic(amount, d.amount)
                .map_err(|e| AppError::field(ErrorCode::Validation, "amount", e.to_string()))?;
        }
    }
    let from = ymd(from);
    let mut tx = Tx::begin(state, actor).await?;
    if queries::standard_exists(
        &mut tx,
        code.as_str(),
        programme.key(),
        area_kind,
        component,
        &from,
    )
    .await?
    {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "该地区该项目在此执行日期已有标准；如需调整，请另选执行日期",
        ));
    }
    let id = queries::insert_standard(
        &mut tx,
        &queries::StandardRow {
            region_code: code.as_str(),
            programme: programme.key(),
            area_kind,
            component,
            amount: amount.0,
            effective_from: &from,
            by: &actor.username,
        },
    )
    .await?;
    tx.commit(
        Change::new(
            "assistance.standard_set",
            "assistance_standard",
            id,
            code.as_str(),
        )
        .detail(
            json!({"programme": programme.key(), "area_kind": area_kind, "component": component,
                   "amount_fen": {"before": null, "after": amount.0}, "effective_from": from}),
        ),
    )
    .await?;
    queries::standard(state, &actor.within(&code)?, id).await
}
