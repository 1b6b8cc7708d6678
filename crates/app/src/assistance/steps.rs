//! The steps of an application and what follows approval: 核查 (verify, community/township:
//! `assistance.apply`), 审核 (review, township: `assistance.review`), 公示 (publicise, township,
//! 7 days by default: the list shows name, household size and amount only), 审批 (approve or
//! reject with a reason, county: `assistance.approve`). Each step is due by the county's
//! settings and listed as overdue per level once late. A staff account marked as the
//! applicant's close relative (近亲属备案) cannot act on the application. Open cross-check
//! conflicts of any member block approval until resolved. Approval makes the beneficiary row
//! (from the next month, or this month under `same_month`); suspension and exit follow, an
//! exit during a `freeze_exits` period being held.

use backstop_core::Programme;
use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use chrono::{Datelike, Months};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::applications::{AmountCase, Application, Figures, compute_amount, get};
use super::emergency::{Measure, measure_in_force, measures_label};
use super::{DAY_MS, county_of, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// Body of `POST /api/v1/assistance/applications/{id}/steps`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct StepInput {
    /// `verify`, `review`, `publicise`, `approve`, `reject` or `verify_commitment`.
    pub step: String,
    /// Required for `reject`.
    #[serde(default)]
    pub reason: String,
}

/// Body of `POST /api/v1/assistance/applications/{id}/related`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RelatedInput {
    /// The staff account (username) the applicant is a close relative of.
    pub staff_username: String,
}

fn guard_related(actor: &Actor, a: &Application) -> AppResult<()> {
    if a.related_staff.as_deref() == Some(actor.username.as_str()) {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "该申请已登记为您的近亲属申请（近亲属备案），您不能办理",
        ));
    }
    Ok(())
}

/// The month after `month` (`YYYY-MM`).
fn next_month(d: chrono::NaiveDate) -> String {
    let n = d.checked_add_months(Months::new(1)).unwrap_or(d);
    format!("{:04}-{:02}", n.year(), n.month())
}

/// Take one step of an application. With an `Idempotency-Key` already used for this
/// application, the application as it is now (the step is not taken twice).
pub async fn step(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &StepInput,
    idem: Option<&str>,
) -> AppResult<Application> {
    let route = format!("steps:{id}");
    if super::replayed(state, actor, idem, &route).await?.is_some() {
        return get(state, actor, id).await;
    }
    let a = get(state, actor, id).await?;
    let step = input.step.trim();
    let (perm, from, to): (Permission, &[&str], &str) = match step {
        "verify" => (Permission::AssistanceApply, &["submitted"], "verified"),
        "review" => (Permission::AssistanceReview, &["verified"], "reviewed"),
        "publicise" => (Permission::AssistanceReview, &["reviewed"], "publicised"),
        "approve" => (Permission::AssistanceApprove, &["publicised"], "approved"),
        "reject" => (
            Permission::AssistanceApprove,
            &["submitted", "verified", "reviewed", "publicised"],
            "rejected",
        ),
        "verify_commitment" => (Permission::AssistanceApply, &[], ""),
        _ => {
            return Err(AppError::field(
                ErrorCode::Validation,
                "step",
                "应为 verify、review、publicise、approve、reject 或 verify_commitment",
            ));
        }
    };
    actor.require(perm)?;
    guard_related(actor, &a)?;
    if step == "verify_commitment" {
        return verify_commitment(state, actor, &a, idem).await;
    }
    if !from.contains(&a.status.as_str()) {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!("申请当前为“{}”，不能执行此步骤", a.status_label),
        ));
    }
    let region = crate::regions::parse_code("region_code", &a.region_code)?;
    let county = county_of(&region).unwrap_or_else(|| region.clone());
    let settings = super::settings(state, county.as_str()).await?;
    let now = state.now_ms();
    let today = state.today();
    let reason = if step == "reject" {
        text_field("reason", &input.reason, 1000, true)?
    } else {
        text_field("reason", &input.reason, 1000, false)?
    };
    let mut beneficiary: Option<(i64, String, Option<i64>, String)> = None;
    let (due_step, due_at, publicity_ends): (&str, Option<i64>, Option<i64>) = match step {
        "verify" => ("review", Some(now + settings.review_days * DAY_MS), None),
        // The township's review ends with the publicity; its due time stays.
        "review" => ("review", queries::due_at(state, id).await?, None),
        "publicise" => {
            let ends = now + settings.publicity_days * DAY_MS;
            (
                "approve",
                Some(ends + settings.approve_days * DAY_MS),
                Some(ends),
            )
        }
        "approve" => {
            if let Some(ends) = queries::publicity_ends(state, id).await?
                && now < ends
            {
                return Err(AppError::msg(ErrorCode::Conflict, "公示期未满，不能审批"));
            }
            let blocks = crate::crosscheck::open_conflicts_of(
                state,
                &a.member_list
                    .iter()
                    .map(|m| m.person_id)
                    .collect::<Vec<_>>(),
            )
            .await?;
            if !blocks.is_empty() {
                return Err(AppError::msg(
                    ErrorCode::Conflict,
                    format!(
                        "数据比对发现未处理的问题：{}；处理后才能审批",
                        blocks.join("；")
                    ),
                ));
            }
            let programme = Programme::parse(&a.programme)
                .ok_or_else(|| AppError::msg(ErrorCode::Validation, "未知的救助项目"))?;
            let figures: Vec<Figures> = queries::member_figures(state, id).await?;
            let amount = compute_amount(
                state,
                &AmountCase {
                    region: &region,
                    programme,
                    area_kind: &a.area_kind,
                    covered: a.covered as usize,
                    self_care: &a.self_care,
                    figures: &figures,
                    date: today,
                },
            )
            .await?
            .ok_or_else(|| {
                AppError::msg(
                    ErrorCode::Conflict,
                    "家庭人均收入不低于当地保障标准，不符合条件，请驳回并说明理由",
                )
            })?;
            let same_month = measure_in_force(state, &region, today, Measure::SameMonth)
                .await?
                .is_some();
            let since = if same_month {
                format!("{:04}-{:02}", today.year(), today.month())
            } else {
                next_month(today)
            };
            let mut measures = a.emergency_measures.clone();
            if same_month && !measures.contains("same_month") {
                if !measures.is_empty() {
                    measures.push(',');
                }
                measures.push_str("same_month");
            }
            beneficiary = Some((
                amount.monthly.0,
                amount.detail,
                None,
                format!("{since}|{measures}"),
            ));
            ("", None, None)
        }
        _ => ("", None, None),
    };
    let mut tx = Tx::begin(state, actor).await?;
    let mut ben_id = None;
    if let Some((monthly, detail, _, since_measures)) = beneficiary {
        let (since, measures) = since_measures
            .split_once('|')
            .unwrap_or((&since_measures, ""));
        let bid = queries::insert_beneficiary(
            &mut tx,
            &queries::BeneficiaryRow {
                programme: &a.programme,
                county: county.as_str(),
                region: &a.region_code,
                household_id: a.household_id,
                person_id: a.applicant_person_id,
                members: a.covered,
                area_kind: &a.area_kind,
                monthly,
                detail: &detail,
                since,
                application_id: id,
                measures,
            },
        )
        .await?;
        queries::set_amount(&mut tx, id, monthly, &detail, bid).await?;
        ben_id = Some(bid);
    }
    queries::set_status(
        &mut tx,
        &state.keys,
        id,
        to,
        due_step,
        due_at,
        publicity_ends,
        &reason,
    )
    .await?;
    queries::insert_step(
        &mut tx,
        &state.keys,
        &a.region_code,
        id,
        step,
        &a.status,
        to,
        &actor.username,
        &reason,
    )
    .await?;
    super::remember(&mut tx, actor, idem, &route, id).await?;
    tx.commit(
        Change::new(
            "assistance.application_step",
            "assistance_application",
            id,
            &a.region_code,
        )
        .detail(
            json!({"step": step, "status": {"before": a.status, "after": to},
                "beneficiary_id": ben_id}),
        )
        .free_text("reason", &reason),
    )
    .await?;
    get(state, actor, id).await
}

async fn verify_commitment(
    state: &AppState,
    actor: &Actor,
    a: &Application,
    idem: Option<&str>,
) -> AppResult<Application> {
    if !a.commitment || a.commitment_verified {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "该申请没有待核实的个人承诺",
        ));
    }
    let mut tx = Tx::begin(state, actor).await?;
    queries::verify_commitment(&mut tx, a.id, &actor.username).await?;
    queries::insert_step(
        &mut tx,
        &state.keys,
        &a.region_code,
        a.id,
        "verify_commitment",
        &a.status,
        &a.status,
        &actor.username,
        "",
    )
    .await?;
    super::remember(&mut tx, actor, idem, &format!("steps:{}", a.id), a.id).await?;
    tx.commit(
        Change::new(
            "assistance.commitment_verify",
            "assistance_application",
            a.id,
            &a.region_code,
        )
        .detail(json!({"commitment_verified": {"before": false, "after": true}})),
    )
    .await?;
    get(state, actor, a.id).await
}

/// Mark an application as from a close relative of a staff account (近亲属备案).
pub async fn mark_related(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &RelatedInput,
) -> AppResult<Application> {
    actor.require(Permission::AssistanceApply)?;
    let a = get(state, actor, id).await?;
    let name = text_field("staff_username", &input.staff_username, 100, true)?;
    if !queries::user_exists(state, &name).await? {
        return Err(AppError::field(
            ErrorCode::Validation,
            "staff_username",
            "没有这个工作人员账号",
        ));
    }
    let mut tx = Tx::begin(state, actor).await?;
    queries::set_related(&mut tx, id, &name, &actor.username).await?;
    tx.commit(
        Change::new(
            "assistance.related_mark",
            "assistance_application",
            id,
            &a.region_code,
        )
        .detail(json!({"related_staff": {"before": a.related_staff, "after": name}})),
    )
    .await?;
    get(state, actor, id).await
}

/// Which lists of due steps exist.
pub const LEVELS: [&str; 3] = ["verify", "review", "approve"];

/// Applications whose step at `level` (verify | review | approve) is past its due time.
pub async fn overdue(
    state: &AppState,
    actor: &Actor,
    level: Option<&str>,
) -> AppResult<Vec<Application>> {
    actor.require(Permission::AssistanceRead)?;
    let level = level.map(str::trim).filter(|s| !s.is_empty());
    if let Some(l) = level
        && !LEVELS.contains(&l)
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "level",
            "应为 verify、review 或 approve",
        ));
    }
    queries::overdue(state, &actor.everywhere(), level).await
}

/// A line of the publicity list (公示): name, household size and amount only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicityLine {
    /// Masked (`张*`).
    pub name: String,
    pub household_size: i64,
    pub monthly_amount_fen: Option<i64>,
    pub publicity_ends_at: Option<String>,
}

/// Applications in publicity in scope (or one village), with name, size and amount only.
pub async fn publicity(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<Vec<PublicityLine>> {
    actor.require(Permission::AssistanceRead)?;
    let apps = queries::applications(state, &actor.within_opt(region)?, Some("publicised")).await?;
    Ok(apps
        .into_iter()
        .map(|a| PublicityLine {
            name: a.applicant_name,
            household_size: a.members,
            monthly_amount_fen: a.monthly_amount_fen,
            publicity_ends_at: a.publicity_ends_at,
        })
        .collect())
}

/// Applications made on a personal commitment whose period has ended, not yet verified.
pub async fn commitments(state: &AppState, actor: &Actor) -> AppResult<Vec<Application>> {
    actor.require(Permission::AssistanceRead)?;
    queries::commitments_due(state, &actor.everywhere(), &super::ymd(state.today())).await
}

/// A beneficiary as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Beneficiary {
    pub id: i64,
    pub programme: String,
    pub region_code: String,
    pub person_id: i64,
    /// Masked.
    pub person_name: String,
    pub members: i64,
    pub monthly_amount_fen: i64,
    pub amount_detail: String,
    /// active | suspended | exited
    pub status: String,
    pub since_month: String,
    pub until_month: Option<String>,
    /// An exit held by a freeze_exits period.
    pub exit_held: bool,
    /// An exit the period held came back for review when it ended.
    pub exit_to_review: bool,
    pub held_reason: String,
    pub emergency_label: String,
    pub application_id: Option<i64>,
}

/// Body of `POST /api/v1/assistance/beneficiaries/{id}/status`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct StatusInput {
    /// `suspended`, `exited` or `active`.
    pub status: String,
    pub reason: String,
}

/// Beneficiaries in scope (`held`: only held exits and those back for review).
pub async fn beneficiaries(
    state: &AppState,
    actor: &Actor,
    held: bool,
) -> AppResult<Vec<Beneficiary>> {
    actor.require(Permission::AssistanceRead)?;
    queries::beneficiaries(state, &actor.everywhere(), held).await
}

/// Suspend, exit or reactivate a beneficiary (county). An exit of dibao/tekun while a
/// freeze_exits period is in force for its region is held instead.
pub async fn set_beneficiary_status(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &StatusInput,
) -> AppResult<Beneficiary> {
    actor.require(Permission::AssistanceApprove)?;
    let b = queries::beneficiary(state, &actor.everywhere(), id).await?;
    let reason = text_field("reason", &input.reason, 1000, true)?;
    let to = match input.status.trim() {
        s @ ("suspended" | "exited" | "active") => s,
        _ => {
            return Err(AppError::field(
                ErrorCode::Validation,
                "status",
                "应为 suspended、exited 或 active",
            ));
        }
    };
    if b.status == "exited" {
        return Err(AppError::msg(ErrorCode::Conflict, "该对象已退出"));
    }
    if b.status == to && to != "exited" {
        return Err(AppError::msg(ErrorCode::Conflict, "状态未变化"));
    }
    let region = crate::regions::parse_code("region_code", &b.region_code)?;
    let today = state.today();
    let freeze = if to == "exited" && matches!(b.programme.as_str(), "dibao" | "tekun") {
        measure_in_force(state, &region, today, Measure::FreezeExits).await?
    } else {
        None
    };
    let mut tx = Tx::begin(state, actor).await?;
    let (action, after) = if let Some(p) = &freeze {
        if b.exit_held {
            return Err(AppError::msg(
                ErrorCode::Conflict,
                "该对象的退出已暂缓，待应急期结束后复核",
            ));
        }
        queries::hold_exit(&mut tx, &state.keys, id, p.id, &reason).await?;
        ("assistance.exit_held", "held")
    } else {
        let until = (to == "exited").then(|| format!("{:04}-{:02}", today.year(), today.month()));
        queries::set_beneficiary_status(&mut tx, id, to, until.as_deref()).await?;
        ("assistance.beneficiary_status", to)
    };
    tx.commit(
        Change::new(action, "assistance_beneficiary", id, &b.region_code).detail(
            json!({"status": {"before": b.status, "after": after}, "reason": crate::kernel::access::text_len(&reason),
                   "emergency_id": freeze.as_ref().map(|p| p.id),
                   "emergency": freeze.as_ref().map(|p| measures_label(&super::emergency::measure_keys(&p.measures)))}),
        ),
    )
    .await?;
    queries::beneficiary(state, &actor.everywhere(), id).await
}
