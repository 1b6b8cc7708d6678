//! Emergency periods (应急状态) and their measures: an official declares a period for a
//! region and dates choosing `aid_first` (先行救助), `commitment` (个人承诺), `same_month`
//! (当月审批当月发放) and `freeze_exits` (暂缓退出); changes and ends it, each audited. The
//! measures in force for a record are those of the nearest period declared for its region or
//! a region above it (walking up the tree) whose dates hold the record's date — never a global
//! switch; a county's own period overrides its province's for its records.
//!
//! aid_first: township staff grant temporary assistance at once, up to the county's
//! `temporary_cap` standard; the county confirms or refuses by a deadline; a refused grant
//! stays recorded, marked for recovery (追回) or write-off (核销) with the reason.
//! freeze_exits: an exit of a dibao/tekun beneficiary during the period is held
//! (`exit_held = 1`); ending the period brings every exit it held back for review.

use backstop_core::Programme;
use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{DAY_MS, amount_field, county_of, queries, ymd};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_range, text_field};
use crate::state::AppState;

/// A measure a period may switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Measure {
    AidFirst,
    Commitment,
    SameMonth,
    FreezeExits,
}

impl Measure {
    pub const ALL: [Measure; 4] = [
        Measure::AidFirst,
        Measure::Commitment,
        Measure::SameMonth,
        Measure::FreezeExits,
    ];
    pub fn key(self) -> &'static str {
        match self {
            Measure::AidFirst => "aid_first",
            Measure::Commitment => "commitment",
            Measure::SameMonth => "same_month",
            Measure::FreezeExits => "freeze_exits",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Measure::AidFirst => "先行救助",
            Measure::Commitment => "个人承诺",
            Measure::SameMonth => "当月审批当月发放",
            Measure::FreezeExits => "暂缓退出",
        }
    }
    pub fn parse(s: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.key() == s.trim())
    }
}

/// `aid_first,commitment` of a list.
pub fn measure_keys(ms: &[Measure]) -> String {
    ms.iter().map(|m| m.key()).collect::<Vec<_>>().join(",")
}

/// `应急：先行救助、个人承诺` of stored keys; empty for none.
pub fn measures_label(keys: &str) -> String {
    let labels: Vec<&str> = keys
        .split(',')
        .filter_map(Measure::parse)
        .map(Measure::label)
        .collect();
    if labels.is_empty() {
        String::new()
    } else {
        format!("应急：{}", labels.join("、"))
    }
}

fn parse_measures(list: &[String]) -> AppResult<Vec<Measure>> {
    let mut out = Vec::new();
    for s in list {
        let m = Measure::parse(s).ok_or_else(|| {
            AppError::field(
                ErrorCode::Validation,
                "measures",
                "未知的应急措施（应为 aid_first、commitment、same_month 或 freeze_exits）",
            )
        })?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    if out.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "measures",
            "至少选择一项应急措施",
        ));
    }
    out.sort();
    Ok(out)
}

/// An emergency period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Period {
    pub id: i64,
    pub region_code: String,
    pub name: String,
    pub starts_on: String,
    pub ends_on: String,
    #[serde(skip)]
    pub measures: Vec<Measure>,
    /// Keys, e.g. `["aid_first", "freeze_exits"]`.
    #[serde(rename = "measures")]
    pub measure_list: Vec<String>,
    pub measures_label: String,
    /// `declared` or `ended`.
    pub status: String,
    pub declared_by: String,
    pub ended_by: Option<String>,
    /// `local` (declared here) or `parent` (sent down by the parent deployment, which owns
    /// it: changed and ended there only).
    pub origin: String,
}

impl Period {
    pub(crate) fn with_measures(mut self, keys: &str) -> Self {
        self.measures = keys.split(',').filter_map(Measure::parse).collect();
        self.measure_list = self.measures.iter().map(|m| m.key().to_string()).collect();
        self.measures_label = measures_label(keys);
        self
    }
}

/// Body of `POST /api/v1/assistance/emergencies` and `PUT …/{id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PeriodInput {
    pub region_code: String,
    pub name: String,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    /// `YYYY-MM-DD`, not before `starts_on`.
    pub ends_on: String,
    /// Any of `aid_first`, `commitment`, `same_month`, `freeze_exits`.
    pub measures: Vec<String>,
}

/// The period in force for `region` on `date` (the nearest declared at the region or above).
pub async fn in_force(
    state: &AppState,
    region: &RegionCode,
    date: NaiveDate,
) -> AppResult<Option<Period>> {
    let lineage = region.lineage_strings();
    queries::period_in_force(state, &lineage, &ymd(date)).await
}

/// Is `m` in force for `region` on `date`? (and the period that switched it on)
pub async fn measure_in_force(
    state: &AppState,
    region: &RegionCode,
    date: NaiveDate,
    m: Measure,
) -> AppResult<Option<Period>> {
    Ok(in_force(state, region, date)
        .await?
        .filter(|p| p.measures.contains(&m)))
}

fn validated(
    input: &PeriodInput,
) -> AppResult<(RegionCode, String, NaiveDate, NaiveDate, Vec<Measure>)> {
    let code = crate::regions::parse_code("region_code", &input.region_code)?;
    let name = text_field("name", &input.name, 200, true)?;
    let (starts, ends) = date_range(&input.starts_on, &input.ends_on)?;
    Ok((code, name, starts, ends, parse_measures(&input.measures)?))
}

/// Declare a period.
pub async fn declare(state: &AppState, actor: &Actor, input: &PeriodInput) -> AppResult<Period> {
    actor.require(Permission::AssistanceEmergency)?;
    let (code, name, starts, ends, measures) = validated(input)?;
    actor.within(&code)?;
    crate::regions::on_record(state, &code, "region_code", "区划不存在").await?;
    let keys = measure_keys(&measures);
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_period(
        &mut tx,
        code.as_str(),
        &name,
        &ymd(starts),
        &ymd(ends),
        &keys,
        &actor.username,
    )
    .await?;
    tx.commit(
        Change::new(
            "assistance.emergency_declare",
            "assistance_emergency",
            id,
            code.as_str(),
        )
        .detail(
            json!({"name": name, "starts_on": ymd(starts), "ends_on": ymd(ends),
                "measures": {"before": null, "after": keys}}),
        ),
    )
    .await?;
    get(state, actor, id).await
}

/// One period in scope.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Period> {
    actor.require(Permission::AssistanceRead)?;
    queries::period(state, &actor.everywhere(), id).await
}

/// Periods declared in scope or above it, newest first.
pub async fn list(state: &AppState, actor: &Actor) -> AppResult<Vec<Period>> {
    actor.require(Permission::AssistanceRead)?;
    let scope = actor.everywhere();
    let above = scope.above();
    queries::periods(state, &scope, &above).await
}

/// Change a declared period's name, dates or measures (its region stays).
pub async fn change(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &PeriodInput,
) -> AppResult<Period> {
    actor.require(Permission::AssistanceEmergency)?;
    let before = get(state, actor, id).await?;
    super::federated::refuse_parent_owned(&before.origin, "应急期")?;
    if before.status != "declared" {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "该应急期已结束，不能再修改",
        ));
    }
    let (code, name, starts, ends, measures) = validated(input)?;
    if code.as_str() != before.region_code {
        return Err(AppError::field(
            ErrorCode::Validation,
            "region_code",
            "不能改变应急期的区划，请结束后重新宣布",
        ));
    }
    let keys = measure_keys(&measures);
    let mut tx = Tx::begin(state, actor).await?;
    queries::update_period(&mut tx, id, &name, &ymd(starts), &ymd(ends), &keys).await?;
    tx.commit(
        Change::new(
            "assistance.emergency_change",
            "assistance_emergency",
            id,
            &before.region_code,
        )
        .detail(
            json!({"measures": {"before": measure_keys(&before.measures), "after": keys},
                "starts_on": {"before": before.starts_on, "after": ymd(starts)},
                "ends_on": {"before": before.ends_on, "after": ymd(ends)}}),
        ),
    )
    .await?;
    get(state, actor, id).await
}

/// End a period: the exits it held come back for review (`exit_held` 0, listed as to review).
pub async fn end(state: &AppState, actor: &Actor, id: i64) -> AppResult<Period> {
    actor.require(Permission::AssistanceEmergency)?;
    let before = get(state, actor, id).await?;
    super::federated::refuse_parent_owned(&before.origin, "应急期")?;
    if before.status != "declared" {
        return Err(AppError::msg(ErrorCode::Conflict, "该应急期已结束"));
    }
    let mut tx = Tx::begin(state, actor).await?;
    queries::end_period(&mut tx, id, &actor.username).await?;
    let released = queries::release_held(&mut tx, id).await?;
    tx.commit(
        Change::new(
            "assistance.emergency_end",
            "assistance_emergency",
            id,
            &before.region_code,
        )
        .detail(
            json!({"status": {"before": "declared", "after": "ended"}, "exits_released": released}),
        ),
    )
    .await?;
    get(state, actor, id).await
}

/// An aid-first grant (先行救助).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AidGrant {
    pub id: i64,
    pub county_code: String,
    pub region_code: String,
    pub person_id: i64,
    /// Masked.
    pub person_name: String,
    pub emergency_id: i64,
    pub amount_fen: i64,
    pub reason: String,
    /// granted | confirmed | refused
    pub status: String,
    pub due_at: String,
    pub overdue: bool,
    pub granted_by: String,
    pub decided_by: Option<String>,
    pub refuse_reason: String,
    /// refused: `recovery` (追回) or `write_off` (核销).
    pub settlement: String,
    /// `应急：先行救助`.
    pub emergency_label: String,
}

/// Body of `POST /api/v1/assistance/aid-grants`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewAidGrant {
    pub person_id: i64,
    /// Yuan text, more than 0, at most the county's temporary_cap.
    pub amount: String,
    pub reason: String,
}

/// Body of `POST /api/v1/assistance/aid-grants/{id}/decision`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AidDecision {
    /// `confirm` or `refuse`.
    pub decision: String,
    #[serde(default)]
    pub reason: String,
    /// On refusal: `recovery` (追回) or `write_off` (核销).
    #[serde(default)]
    pub settlement: String,
}

/// Grant temporary assistance at once (township staff, during a period with aid_first).
pub async fn grant(state: &AppState, actor: &Actor, input: &NewAidGrant) -> AppResult<AidGrant> {
    actor.require(Permission::AssistanceReview)?;
    // Out of scope or unknown: not found.
    let person = crate::people::get(state, actor, input.person_id).await?;
    let region = crate::regions::parse_code("person_id", &person.region_code)?;
    let county = county_of(&region).ok_or_else(|| {
        AppError::field(
            ErrorCode::Validation,
            "person_id",
            "此人未登记在县级以下区划",
        )
    })?;
    let amount = amount_field("amount", &input.amount)?;
    if amount.0 == 0 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "amount",
            "金额应大于 0",
        ));
    }
    let reason = text_field("reason", &input.reason, 1000, true)?;
    let today = state.today();
    let period = measure_in_force(state, &region, today, Measure::AidFirst)
        .await?
        .ok_or_else(|| {
            AppError::msg(
                ErrorCode::Conflict,
                "此人所在地区今天不在启用“先行救助”的应急期内",
            )
        })?;
    let cap = super::standards::in_force(
        state,
        &region,
        Programme::Temporary,
        "urban",
        "temporary_cap",
        today,
    )
    .await?;
    let cap = match cap {
        Some(c) => c,
        None => super::standards::in_force(
            state,
            &region,
            Programme::Temporary,
            "rural",
            "temporary_cap",
            today,
        )
        .await?
        .ok_or_else(|| {
            AppError::msg(
                ErrorCode::Conflict,
                "本县尚未设定临时救助单次上限（temporary_cap），请先设定标准",
            )
        })?,
    };
    if amount > cap.amount {
        return Err(AppError::field(
            ErrorCode::Validation,
            "amount",
            format!("超过本县临时救助单次上限 {} 元", cap.amount),
        ));
    }
    let settings = super::settings(state, county.as_str()).await?;
    let due = state.now_ms() + settings.aid_first_days * DAY_MS;
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_grant(
        &mut tx,
        &queries::GrantRow {
            county: county.as_str(),
            region: region.as_str(),
            person_id: person.id,
            emergency_id: period.id,
            amount: amount.0,
            reason_enc: crate::privacy::seal(&state.keys, &reason),
            due_at: due,
            by: &actor.username,
        },
    )
    .await?;
    tx.commit(
        Change::new(
            "assistance.aid_grant",
            "assistance_aid_grant",
            id,
            region.as_str(),
        )
        .detail(
            json!({"amount_fen": {"before": null, "after": amount.0}, "emergency_id": period.id,
                   "status": {"before": null, "after": "granted"}}),
        ),
    )
    .await?;
    get_grant(state, actor, id).await
}

/// One grant in scope.
pub async fn get_grant(state: &AppState, actor: &Actor, id: i64) -> AppResult<AidGrant> {
    actor.require(Permission::AssistanceRead)?;
    queries::grant(state, &actor.everywhere(), id).await
}

/// Grants in scope (`pending`: only those awaiting the county), earliest due first.
pub async fn grants(state: &AppState, actor: &Actor, pending: bool) -> AppResult<Vec<AidGrant>> {
    actor.require(Permission::AssistanceRead)?;
    queries::grants(state, &actor.everywhere(), pending).await
}

/// The county confirms or refuses an aid-first grant; a refused one stays, marked.
pub async fn decide(
    state: &AppState,
    actor: &Actor,
    id: i64,
    d: &AidDecision,
) -> AppResult<AidGrant> {
    actor.require(Permission::AssistanceApprove)?;
    let g = get_grant(state, actor, id).await?;
    if g.status != "granted" {
        return Err(AppError::msg(ErrorCode::Conflict, "该先行救助已审批"));
    }
    let (status, reason, settlement) = match d.decision.trim() {
        "confirm" => ("confirmed", String::new(), ""),
        "refuse" => {
            let reason = text_field("reason", &d.reason, 1000, true)?;
            let s = match d.settlement.trim() {
                "recovery" => "recovery",
                "write_off" => "write_off",
                _ => {
                    return Err(AppError::field(
                        ErrorCode::Validation,
                        "settlement",
                        "不予确认时须选择 recovery（追回）或 write_off（核销）",
                    ));
                }
            };
            ("refused", reason, s)
        }
        _ => {
            return Err(AppError::field(
                ErrorCode::Validation,
                "decision",
                "应为 confirm（确认）或 refuse（不予确认）",
            ));
        }
    };
    let mut tx = Tx::begin(state, actor).await?;
    queries::decide_grant(&mut tx, id, status, &reason, settlement, &actor.username).await?;
    tx.commit(
        Change::new(
            "assistance.aid_decide",
            "assistance_aid_grant",
            id,
            &g.region_code,
        )
        .detail(json!({"status": {"before": "granted", "after": status}, "settlement": settlement}))
        .free_text("reason", &reason),
    )
    .await?;
    get_grant(state, actor, id).await
}

/// What one run of [`end_lapsed`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LapseReport {
    /// Periods ended by this run.
    pub ended: i64,
    /// Held exits brought back for review.
    pub exits_released: i64,
    /// Applications on a personal commitment now due for verification.
    pub commitments_to_verify: i64,
}

/// Periods that end themselves: every declared period whose end date has passed (the day
/// after `ends_on`, Beijing date on the injected clock) is ended as [`end`] does it — held
/// exits come back for review, its commitment applications join the list to verify — with
/// one audit entry (`assistance.emergency_lapse`, by `system`). Run from the service's
/// minute tick; idempotent: a period is ended only while still `declared` (a guarded UPDATE
/// in the same transaction), so a repeated run, a restart or two processes end it once.
pub async fn end_lapsed(state: &AppState) -> AppResult<LapseReport> {
    let today = ymd(state.today());
    let mut report = LapseReport::default();
    for (id, region) in queries::lapsed_periods(state, &today).await? {
        let mut tx = Tx::begin_as(state, crate::audit::Who::system("scheduler")).await?;
        if !queries::end_period_if_declared(&mut tx, id, "system").await? {
            // Ended meanwhile (by hand or by another process): nothing to do.
            tx.rollback().await?;
            continue;
        }
        let released = i64::try_from(queries::release_held(&mut tx, id).await?).unwrap_or(0);
        let commitments = queries::commitments_of_period(&mut tx, id).await?;
        tx.commit(
            Change::new(
                "assistance.emergency_lapse",
                "assistance_emergency",
                id,
                &region,
            )
            .detail(
                json!({"status": {"before": "declared", "after": "ended"}, "ended_on": today,
                    "exits_released": released, "commitments_to_verify": commitments}),
            ),
        )
        .await?;
        report.ended += 1;
        report.exits_released += released;
        report.commitments_to_verify += commitments;
    }
    Ok(report)
}
