//! Referrals and follow-ups of hotline calls (issue 17 item 3).
//!
//! A referral goes to an organisation in the referring actor's reach (a social-work agency, a
//! hospital (mental-health institution), an institution or a civil-affairs department; one out
//! of scope is *not found*, one of another kind 422, nothing written). The receiving
//! organisation — a user tied to it, or an official with `hotline.supervise` whose scope covers
//! the organisation — accepts (the accepting user becomes the assignee, who may read the call's
//! counselling notes) or declines with a reason, and records the outcome. Follow-ups are
//! scheduled with a due time and done with a short outcome and an effect score 1–5. The line's
//! supervisors list the open referrals and the follow-ups past due (injected clock).

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Line, queries, staff_only, supervises, text_field, time_field};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::orgs::OrgKind;
use crate::state::AppState;

/// Kinds of organisation a call may be referred to.
const REFERRAL_KINDS: [OrgKind; 7] = [
    OrgKind::SocialWork,
    OrgKind::MentalHealth,
    OrgKind::CivilAffairs,
    OrgKind::ChildWelfare,
    OrgKind::MinorProtection,
    OrgKind::ElderlyCare,
    OrgKind::ReliefStation,
];

/// Does an organisation of this kind take referrals?
pub fn takes_referrals(kind: &str) -> bool {
    REFERRAL_KINDS.iter().any(|k| k.as_str() == kind)
}

/// Statuses of a referral.
pub const REFERRAL_STATUS: super::Labels = &[
    ("open", "待接收"),
    ("accepted", "已接收"),
    ("declined", "已拒绝"),
    ("closed", "已办结"),
];

/// A referral.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Referral {
    pub id: i64,
    pub call_id: i64,
    pub line_id: i64,
    /// The line's region.
    pub region_code: String,
    pub org_id: i64,
    pub org_name: String,
    pub urgent: bool,
    pub reason: String,
    /// `open`, `accepted`, `declined` or `closed`.
    pub status: String,
    pub status_label: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decline_reason: String,
    pub outcome: String,
    pub created_by: String,
    pub created_at: String,
}

/// A follow-up.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Followup {
    pub id: i64,
    pub call_id: i64,
    pub line_id: i64,
    pub region_code: String,
    pub due_at: String,
    /// `scheduled` or `done`.
    pub status: String,
    /// Past its due time and not done.
    pub overdue: bool,
    pub outcome: String,
    /// Effect / satisfaction 1–5.
    pub score: Option<i64>,
    pub done_at: Option<String>,
    pub done_by: Option<String>,
}

/// Body of `POST /api/v1/hotline/calls/{id}/referrals` (and `referral` of a new call).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewReferral {
    pub org_id: i64,
    #[serde(default)]
    pub reason: String,
}

/// Body of `POST /api/v1/hotline/referrals/{id}/decision`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// `true` accept, `false` decline (a reason required).
    pub accept: bool,
    #[serde(default)]
    pub reason: String,
}

/// Body of `POST /api/v1/hotline/referrals/{id}/outcome`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct OutcomeInput {
    pub outcome: String,
}

/// Body of `POST /api/v1/hotline/calls/{id}/followups`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewFollowup {
    /// `YYYY-MM-DD HH:MM` (Beijing) or RFC 3339, later than now.
    pub due_at: String,
}

/// Body of `POST /api/v1/hotline/followups/{id}/done`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct FollowupDone {
    pub outcome: String,
    /// Effect / satisfaction 1–5.
    pub score: i64,
}

/// A validated referral target.
pub(crate) struct ReferralRow {
    pub org_id: i64,
    pub org_region: String,
    pub reason: String,
}

/// The organisation of a referral: in the actor's reach (else *not found*) and of a kind that
/// takes referrals (else 422).
pub(crate) async fn validate_referral(
    state: &AppState,
    actor: &Actor,
    _line: &Line,
    r: &NewReferral,
) -> AppResult<ReferralRow> {
    let org = crate::orgs::get(state, actor, r.org_id).await?;
    if !takes_referrals(&org.kind) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "org_id",
            "只能转介到社会工作服务机构、医院（精神卫生机构）、福利机构或民政部门",
        ));
    }
    Ok(ReferralRow {
        org_id: org.id,
        org_region: org.region_code,
        reason: text_field("reason", &r.reason, 500, false)?,
    })
}

/// Refer a call after it was recorded (hotline.answer on the call's line).
pub async fn refer(
    state: &AppState,
    actor: &Actor,
    call_id: i64,
    input: &NewReferral,
) -> AppResult<Referral> {
    staff_only(actor)?;
    actor.require(Permission::HotlineAnswer)?;
    let c = super::call(state, actor, call_id).await?;
    let line = super::line(state, actor, c.line_id).await?;
    let r = validate_referral(state, actor, &line, input).await?;
    let urgent = c.risk == "red_flag";
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_referral(
        &mut tx,
        &state.keys,
        c.id,
        &line,
        &r,
        urgent,
        &actor.username,
    )
    .await?;
    tx.commit(
        Change::new("hotline.referral_create", "hotline_referral", id, &line.region_code).detail(
            json!({"call_id": c.id, "org_id": r.org_id, "urgent": urgent, "status": {"before": null, "after": "open"}}),
        ),
    )
    .await?;
    referral(state, actor, id).await
}

/// May the actor act for the receiving organisation of `r`?
fn receives(actor: &Actor, r: &queries::ReferralAccess) -> bool {
    actor.org_id == Some(r.org_id) || supervises(actor, &r.org_region)
}

/// May the actor read `r`? Hotline staff in scope of the line, or the receiving organisation.
fn may_read(actor: &Actor, r: &queries::ReferralAccess) -> bool {
    receives(actor, r)
        || (super::hotline_staff(actor) && actor.everywhere().contains(&r.region_code))
}

/// The access facts of a referral, or *not found* for anyone who may not read it.
async fn readable(state: &AppState, actor: &Actor, id: i64) -> AppResult<queries::ReferralAccess> {
    let r = queries::referral_access(state, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    if may_read(actor, &r) {
        Ok(r)
    } else {
        Err(AppError::not_found())
    }
}

/// One referral (hotline staff in scope of the line, or the receiving organisation).
pub async fn referral(state: &AppState, actor: &Actor, id: i64) -> AppResult<Referral> {
    let a = readable(state, actor, id).await?;
    queries::referral(state, &a, id).await
}

/// Referrals: for hotline staff those of the lines in scope (`open_only`: not yet decided or
/// accepted without an outcome), plus for a user tied to an organisation those addressed to
/// it (its inbox). Urgent first, then oldest first.
pub async fn referrals(
    state: &AppState,
    actor: &Actor,
    open_only: bool,
) -> AppResult<Vec<Referral>> {
    let staff = super::hotline_staff(actor);
    if !staff && actor.org_id.is_none() {
        return Err(AppError::not_found());
    }
    let scope = actor.everywhere();
    queries::referrals(state, &scope, staff, actor.org_id, open_only).await
}

/// The receiving organisation accepts or declines (a reason required to decline).
pub async fn decide(state: &AppState, actor: &Actor, id: i64, d: &Decision) -> AppResult<Referral> {
    let a = readable(state, actor, id).await?;
    if !receives(actor, &a) {
        return Err(AppError::forbidden());
    }
    if a.status != "open" {
        return Err(AppError::msg(ErrorCode::Conflict, "该转介已处理"));
    }
    let reason = text_field("reason", &d.reason, 500, !d.accept)?;
    let status = if d.accept { "accepted" } else { "declined" };
    let mut tx = Tx::begin(state, actor).await?;
    let changed = queries::decide_referral(
        &mut tx,
        &state.keys,
        id,
        status,
        &actor.username,
        actor.user_id,
        &reason,
    )
    .await?;
    if changed == 0 {
        return Err(AppError::msg(ErrorCode::Conflict, "该转介已处理"));
    }
    tx.commit(
        Change::new(
            "hotline.referral_decide",
            "hotline_referral",
            id,
            &a.region_code,
        )
        .detail(json!({"status": {"before": "open", "after": status}}))
        .free_text("reason", &reason),
    )
    .await?;
    referral(state, actor, id).await
}

/// The receiving organisation records the outcome of an accepted referral (closes it).
pub async fn record_outcome(
    state: &AppState,
    actor: &Actor,
    id: i64,
    outcome: &str,
) -> AppResult<Referral> {
    let a = readable(state, actor, id).await?;
    if !receives(actor, &a) {
        return Err(AppError::forbidden());
    }
    if a.status != "accepted" {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "只有已接收的转介才能登记结果",
        ));
    }
    let outcome = text_field("outcome", outcome, 1000, true)?;
    let mut tx = Tx::begin(state, actor).await?;
    queries::close_referral(&mut tx, &state.keys, id, &outcome).await?;
    tx.commit(
        Change::new(
            "hotline.referral_outcome",
            "hotline_referral",
            id,
            &a.region_code,
        )
        .detail(json!({"status": {"before": "accepted", "after": "closed"}}))
        .free_text("outcome", &outcome),
    )
    .await?;
    referral(state, actor, id).await
}

/// Schedule a follow-up of a call (hotline.answer or hotline.supervise, in scope of its line).
pub async fn schedule(
    state: &AppState,
    actor: &Actor,
    call_id: i64,
    input: &NewFollowup,
) -> AppResult<Followup> {
    let c = super::call(state, actor, call_id).await?;
    let line = super::line(state, actor, c.line_id).await?;
    let due = time_field("due_at", &input.due_at)?;
    if due <= state.now_ms() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "due_at",
            "回访时间应晚于现在",
        ));
    }
    let mut tx = Tx::begin(state, actor).await?;
    let id =
        queries::insert_followup(&mut tx, &state.keys, c.id, &line, due, &actor.username).await?;
    tx.commit(
        Change::new("hotline.followup_schedule", "hotline_followup", id, &line.region_code).detail(
            json!({"call_id": c.id, "due_at": {"before": null, "after": backstop_core::clock::rfc3339(due)}}),
        ),
    )
    .await?;
    followup(state, actor, id).await
}

/// One follow-up in scope (hotline staff).
pub async fn followup(state: &AppState, actor: &Actor, id: i64) -> AppResult<Followup> {
    staff_only(actor)?;
    queries::followup(state, &actor.everywhere(), id).await
}

/// Follow-ups not done in scope (`overdue_only`: past their due time), earliest due first.
pub async fn followups(
    state: &AppState,
    actor: &Actor,
    overdue_only: bool,
) -> AppResult<Vec<Followup>> {
    staff_only(actor)?;
    queries::open_followups(state, &actor.everywhere(), overdue_only).await
}

/// A follow-up done: a short outcome and an effect score 1–5.
pub async fn complete(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &FollowupDone,
) -> AppResult<Followup> {
    let f = followup(state, actor, id).await?;
    if f.status == "done" {
        return Err(AppError::msg(ErrorCode::Conflict, "该回访已完成"));
    }
    let outcome = text_field("outcome", &input.outcome, 500, true)?;
    if !(1..=5).contains(&input.score) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "score",
            "效果评分应为 1 到 5",
        ));
    }
    let mut tx = Tx::begin(state, actor).await?;
    queries::complete_followup(
        &mut tx,
        &state.keys,
        id,
        &outcome,
        input.score,
        &actor.username,
    )
    .await?;
    tx.commit(
        Change::new("hotline.followup_done", "hotline_followup", id, &f.region_code).detail(json!({
            "status": {"before": "scheduled", "after": "done"}, "score": input.score, "overdue_at_done": f.overdue,
        })),
    )
    .await?;
    followup(state, actor, id).await
}

/// The home page's to-do line: follow-ups past due (hotline staff in scope) and referrals
/// waiting for a decision (those of the lines in scope, or addressed to the actor's
/// organisation).
pub async fn todo_count(state: &AppState, actor: &Actor) -> AppResult<usize> {
    let staff = super::hotline_staff(actor);
    let mut n = 0;
    if staff {
        n += followups(state, actor, true).await?.len();
    }
    if staff || actor.org_id.is_some() {
        n += referrals(state, actor, true)
            .await?
            .iter()
            .filter(|r| r.status == "open")
            .count();
    }
    Ok(n)
}
