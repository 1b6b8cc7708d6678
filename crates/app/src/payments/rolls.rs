//! Monthly rolls: generated in one transaction from the beneficiaries (one `INSERT … SELECT`),
//! approved by the county by someone other than who generated it, read and listed in scope.

use backstop_core::role::Permission;
use backstop_core::{Fen, Programme};
use serde::Deserialize;
use serde_json::json;

use super::queries::{self, generate as g};
use super::{
    LinePage, RollDetail, conflict, county, month, pay_date_or, prev_month, province_of, verr,
};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Body of `POST /api/v1/payments/rolls` (and the CLI's `payments generate`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct GenerateRequest {
    /// The county (6-digit code).
    pub county: String,
    /// A programme key or Chinese name with a monthly roll (not `temporary`).
    pub programme: String,
    /// `YYYY-MM`.
    pub month: String,
    /// `YYYY-MM-DD`; default the first of the month; may be in the previous month (early).
    #[serde(default)]
    pub pay_date: Option<String>,
}

/// Query of `GET /api/v1/payments/rolls`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct RollQuery {
    /// Region (default the caller's scope).
    pub region: Option<String>,
    /// `YYYY-MM`.
    pub month: Option<String>,
}

/// Forbidden unless `who` did not generate the roll (separation of duties on money).
pub(super) fn not_the_generator(roll: &super::Roll, who: &Actor, what: &str) -> AppResult<()> {
    if roll.generated_by == who.username {
        return Err(AppError::msg(
            backstop_core::error::ErrorCode::Forbidden,
            format!("名册由您生成，不能由您{what}（生成与{what}须由不同人员办理）"),
        ));
    }
    Ok(())
}

/// Generate the month's roll of a county and programme, in one transaction: the lines from
/// the active beneficiaries (frozen-exit held ones marked), those left out counted, totals
/// from the lines. A second roll for the same county, programme and month is refused.
pub async fn generate(
    state: &AppState,
    actor: &Actor,
    req: &GenerateRequest,
) -> AppResult<RollDetail> {
    actor.require(Permission::PaymentsGenerate)?;
    let county = county(&req.county)?;
    let programme = Programme::parse(&req.programme)
        .filter(|p| p.monthly())
        .ok_or_else(|| verr("programme", "未知的救助项目，或该项目没有按月发放名册"))?;
    let (m, first) = month("month", &req.month)?;
    let pay = pay_date_or(req.pay_date.as_deref(), first, first)?;
    actor.within(&county)?;
    let province = province_of(county.as_str());
    let pay_s = pay.format("%Y-%m-%d").to_string();
    let new = g::NewRoll {
        province: &province,
        county: county.as_str(),
        programme: programme.key(),
        month: &m,
        batch: "",
        kind: "monthly",
        parent_roll_id: None,
        grant_id: None,
        pay_date: &pay_s,
        note: "",
        generated_by: &actor.username,
    };
    let mut tx = Tx::begin(state, actor).await?;
    if g::roll_exists(&mut tx, &new).await? {
        return Err(conflict(format!(
            "{} {} 月的{}发放名册已经生成，不能重复生成",
            county.as_str(),
            m,
            programme.label()
        )));
    }
    let id = g::insert_roll(&mut tx, &new).await?;
    let key = (province.as_str(), county.as_str());
    g::monthly_lines(&mut tx, id, key, programme.key(), &m)
        .await
        .map_err(on_twice)?;
    let left = g::left_out(
        &mut tx,
        &province,
        county.as_str(),
        programme.key(),
        &prev_month(first),
    )
    .await?;
    g::finish_roll(&mut tx, id, left).await?;
    let roll = queries::roll_in(tx.conn(), &actor.everywhere(), id).await?;
    let r = &roll.0;
    tx.commit(super::roll_generated(id, county.as_str()).detail(json!({
        "programme": r.programme, "month": r.month, "pay_date": r.pay_date,
        "lines": r.line_count, "total_fen": r.total_fen, "held": r.held_count,
        "left_out": r.left_summary,
    })))
    .await?;
    detail(state, roll, &LinePage::default()).await
}

/// The roll with the page `page` of its lines.
pub(super) async fn detail(
    state: &AppState,
    roll: queries::Admitted,
    page: &LinePage,
) -> AppResult<RollDetail> {
    let (after, limit) = page.bounds()?;
    let mut lines = queries::lines_page(state, &roll, after, limit + 1).await?;
    let next_after = if lines.len() as i64 > limit {
        lines.truncate(limit as usize);
        lines.last().map(|l| l.id)
    } else {
        None
    };
    Ok(RollDetail {
        roll: roll.0,
        lines,
        next_after,
    })
}

/// A person already on a roll of the same programme and month (the database's UNIQUE key).
pub(super) fn on_twice(e: AppError) -> AppError {
    if e.code == backstop_core::error::ErrorCode::Conflict {
        conflict("有人员已列入同一项目同一月份的其他名册（同一人同月不得重复发放），名册未生成")
    } else {
        e
    }
}

/// Approve a draft roll (the county): not by the user who generated it.
pub async fn approve(state: &AppState, actor: &Actor, id: i64) -> AppResult<RollDetail> {
    actor.require(Permission::PaymentsApprove)?;
    let mut tx = Tx::begin(state, actor).await?;
    let roll = queries::roll_in(tx.conn(), &actor.everywhere(), id).await?;
    not_the_generator(&roll.0, actor, "审批")?;
    if roll.0.status != "draft" {
        return Err(conflict(format!(
            "名册当前为“{}”，只有草稿可以审批",
            roll.0.status_label
        )));
    }
    if !queries::transition(
        &mut tx,
        id,
        "draft",
        "approved",
        "approved",
        &actor.username,
    )
    .await?
    {
        return Err(conflict("名册已被他人处理，请刷新后再试"));
    }
    let r = &roll.0;
    tx.commit(
        Change::new("payments.roll.approve", "payment_roll", id, &r.county_code).detail(json!({
            "lines": r.line_count, "total_fen": r.total_fen,
        })),
    )
    .await?;
    get_roll(state, actor, id, &LinePage::default()).await
}

/// A roll in scope with a page of its lines (masked).
pub async fn get_roll(
    state: &AppState,
    actor: &Actor,
    id: i64,
    page: &LinePage,
) -> AppResult<RollDetail> {
    actor.require(Permission::PaymentsRead)?;
    let roll = queries::roll(state, &actor.everywhere(), id).await?;
    detail(state, roll, page).await
}

/// The sum of roll `id`'s lines recomputed from them, and how many pay into a changed
/// account (the roll page sets them beside the roll's totals).
pub async fn roll_lines_total(state: &AppState, actor: &Actor, id: i64) -> AppResult<(Fen, i64)> {
    actor.require(Permission::PaymentsRead)?;
    let roll = queries::roll(state, &actor.everywhere(), id).await?;
    let (total, changed) = queries::line_sums(state, &roll).await?;
    Ok((Fen(total), changed))
}

/// Rolls in scope (or under `region`), optionally of one month.
pub async fn list_rolls(
    state: &AppState,
    actor: &Actor,
    region: Option<&backstop_core::region::RegionCode>,
    month_q: Option<&str>,
) -> AppResult<Vec<super::Roll>> {
    actor.require(Permission::PaymentsRead)?;
    let scope = actor.within_opt(region)?;
    let m = match month_q.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(month("month", s)?.0),
        None => None,
    };
    queries::list(state, &scope, m.as_deref()).await
}
