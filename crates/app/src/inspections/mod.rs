//! Supervision (督导): inspectors record inspections of a unit (an organisation or a region,
//! open or unannounced 暗访), the problems found, each with the rectification required and a
//! deadline; the unit answers with what it did; the inspector closes or reopens each
//! rectification. A rectification past its deadline and not closed is overdue, and overdue
//! rectifications are listed for every level above the unit (by the scoped list) until closed.
//!
//! Rules: recording, closing and reopening need `InspectionsManage` and the unit inside the
//! actor's scope; reading needs `ReportsRead` or `InspectionsManage` (units see their own
//! rectifications); answering needs `ReportsSubmit`, the unit inside the actor's scope, and —
//! for anyone tied to an organisation — that organisation. Out of scope is *not found*.
//! Deadlines are Beijing dates; "overdue" compares the end of that day with the injected clock.
//! Every change is one write transaction with its audit entry.

pub mod pages;
mod queries;
pub mod todo;
pub mod web;

use backstop_core::clock::end_of_beijing_day_ms;
use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::{Permission, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kernel::access::{Change, Tx, text_len};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field, text_field};
use crate::state::AppState;

/// How an inspection was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Open,
    Unannounced,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Open => "open",
            Mode::Unannounced => "unannounced",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Mode::Open => "明查",
            Mode::Unannounced => "暗访",
        }
    }
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim() {
            "open" => Some(Mode::Open),
            "unannounced" => Some(Mode::Unannounced),
            _ => None,
        }
    }
}

/// A problem found, with its rectification.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    pub id: i64,
    pub inspection_id: i64,
    pub unit: String,
    pub unit_name: String,
    pub region_code: String,
    pub description: String,
    /// The rectification required.
    pub requirement: String,
    /// `YYYY-MM-DD` (Beijing), the last day to rectify.
    pub deadline: String,
    /// `open`, `answered` or `closed`.
    pub status: String,
    /// The deadline has passed and it is not closed.
    pub overdue: bool,
    /// What the unit did.
    pub response: String,
    pub responded_by: Option<String>,
    pub responded_at: Option<String>,
    pub closed_by: Option<String>,
    pub closed_at: Option<String>,
}

/// An inspection with its problems.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Inspection {
    pub id: i64,
    /// A region code or `org:ID`.
    pub unit: String,
    pub unit_name: String,
    pub region_code: String,
    /// `open` or `unannounced`.
    pub mode: String,
    pub mode_label: String,
    pub date: String,
    pub findings: String,
    pub inspector: String,
    pub created_at: String,
    pub problems: Vec<Problem>,
}

/// A problem in `POST /api/v1/inspections`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewProblem {
    pub description: String,
    pub requirement: String,
    /// `YYYY-MM-DD` (Beijing), today or later.
    pub deadline: String,
}

/// Body of `POST /api/v1/inspections`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewInspection {
    /// A region code (e.g. a village) or `org:ID`.
    pub unit: String,
    /// `open` or `unannounced` (暗访).
    pub mode: String,
    /// `YYYY-MM-DD`; default today; not in the future.
    #[serde(default)]
    pub date: Option<String>,
    pub findings: String,
    #[serde(default)]
    pub problems: Vec<NewProblem>,
}

/// Body of `POST /api/v1/rectifications/{id}/respond`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RespondInput {
    pub response: String,
}

/// Body of `POST /api/v1/rectifications/{id}/reopen`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ReopenInput {
    #[serde(default)]
    pub reason: String,
}

fn may_read(actor: &Actor) -> AppResult<()> {
    if actor.can(Permission::ReportsRead) || actor.can(Permission::InspectionsManage) {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// A unit resolved: (unit, name, region code).
async fn resolve_unit(
    state: &AppState,
    actor: &Actor,
    unit: &str,
) -> AppResult<(String, String, String)> {
    let unit = unit.trim();
    if let Some(id) = unit.strip_prefix("org:") {
        let id: i64 = id.parse().map_err(|_| {
            AppError::field(
                ErrorCode::Validation,
                "unit",
                "请从列表中选择村（社区）或机构，或填写区划代码",
            )
        })?;
        let org = crate::orgs::get(state, actor, id).await?;
        return Ok((format!("org:{}", org.id), org.name, org.region_code));
    }
    let code = crate::regions::parse_code("unit", unit)?;
    actor.within(&code)?;
    let r = crate::regions::find(state, code.as_str())
        .await?
        .ok_or_else(|| AppError::field(ErrorCode::UnknownRegion, "unit", "区划不存在"))?;
    Ok((code.as_str().to_string(), r.name, code.as_str().to_string()))
}

fn new_problem(state: &AppState, i: usize, p: &NewProblem) -> AppResult<queries::ProblemRow> {
    let description = text_field(
        &format!("problems[{i}].description"),
        &p.description,
        1000,
        true,
    )?;
    let requirement = text_field(
        &format!("problems[{i}].requirement"),
        &p.requirement,
        1000,
        true,
    )?;
    let field = format!("problems[{i}].deadline");
    let d = date_field(&field, &p.deadline)?;
    if d < state.today() {
        return Err(AppError::field(
            ErrorCode::Validation,
            &field,
            "整改期限不能早于今天",
        ));
    }
    Ok((
        description,
        requirement,
        d.format("%Y-%m-%d").to_string(),
        end_of_beijing_day_ms(d),
    ))
}

/// Record an inspection with its problems.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: &NewInspection,
) -> AppResult<Inspection> {
    actor.require(Permission::InspectionsManage)?;
    let (unit, unit_name, region_code) = resolve_unit(state, actor, &input.unit).await?;
    let mode = Mode::parse(&input.mode).ok_or_else(|| {
        AppError::field(
            ErrorCode::Validation,
            "mode",
            "应为 open（明查）或 unannounced（暗访）",
        )
    })?;
    let date = match input
        .date
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => state.today(),
        Some(s) => date_field("date", s)?,
    };
    if date > state.today() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "date",
            "督导日期不能晚于今天",
        ));
    }
    let findings = text_field("findings", &input.findings, 4000, true)?;
    if input.problems.len() > 100 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "problems",
            "问题不能超过 100 条",
        ));
    }
    let problems = input
        .problems
        .iter()
        .enumerate()
        .map(|(i, p)| new_problem(state, i, p))
        .collect::<AppResult<Vec<_>>>()?;
    let date = date.format("%Y-%m-%d").to_string();
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_inspection(
        &mut tx,
        &queries::NewRow {
            unit: &unit,
            unit_name: &unit_name,
            region_code: &region_code,
            mode,
            date: &date,
            findings: &findings,
            inspector: &actor.username,
        },
    )
    .await?;
    let mut ids = Vec::new();
    for p in &problems {
        ids.push(queries::insert_problem(&mut tx, id, &region_code, p).await?);
    }
    tx.commit(
        Change::new("inspection.create", "inspection", id, &region_code).detail(
            json!({"unit": {"before": null, "after": unit}, "mode": {"before": null, "after": mode.as_str()},
                "date": {"before": null, "after": date}, "findings": {"before": null, "after": text_len(&findings)},
                "problems": problems.iter().zip(&ids).map(|(p, id)| json!({"id": id, "requirement": text_len(&p.1), "deadline": p.2})).collect::<Vec<_>>()}),
        ),
    )
    .await?;
    get(state, actor, id).await
}

/// Add a problem to an inspection.
pub async fn add_problem(
    state: &AppState,
    actor: &Actor,
    inspection_id: i64,
    p: &NewProblem,
) -> AppResult<Inspection> {
    actor.require(Permission::InspectionsManage)?;
    let insp = get(state, actor, inspection_id).await?;
    let p = new_problem(state, 0, p)?;
    let mut tx = Tx::begin(state, actor).await?;
    let pid = queries::insert_problem(&mut tx, insp.id, &insp.region_code, &p).await?;
    tx.commit(
        Change::new("rectification.create", "rectification", pid, &insp.region_code).detail(
            json!({"inspection_id": insp.id, "requirement": {"before": null, "after": text_len(&p.1)}, "deadline": {"before": null, "after": p.2}}),
        ),
    )
    .await?;
    get(state, actor, insp.id).await
}

/// One inspection in scope, with its problems.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Inspection> {
    may_read(actor)?;
    queries::inspection(state, &actor.everywhere(), id).await
}

/// Inspections in the actor's scope (optionally one region of it), newest first; problems
/// included.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<Vec<Inspection>> {
    may_read(actor)?;
    queries::inspections(state, &actor.within_opt(region)?).await
}

/// Rectifications in the actor's scope: all not closed, or with `overdue_only` only those past
/// their deadline. Earliest deadline first.
pub async fn rectifications(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    overdue_only: bool,
) -> AppResult<Vec<Problem>> {
    may_read(actor)?;
    queries::open_problems(state, &actor.within_opt(region)?, overdue_only).await
}

/// Number of overdue rectifications in the actor's scope.
pub async fn overdue_count(state: &AppState, actor: &Actor) -> AppResult<i64> {
    may_read(actor)?;
    queries::overdue_count(state, &actor.everywhere()).await
}

/// One rectification in scope.
pub async fn get_problem(state: &AppState, actor: &Actor, id: i64) -> AppResult<Problem> {
    may_read(actor)?;
    queries::problem(state, &actor.everywhere(), id).await
}

/// May the actor answer for this unit? (`ReportsSubmit`, in scope — checked by the caller —
/// and, if tied to an organisation or an institution reporter, that organisation.)
pub fn may_respond(actor: &Actor, unit: &str) -> bool {
    if actor.is_operator() {
        return true;
    }
    if !actor.can(Permission::ReportsSubmit) {
        return false;
    }
    let unit_org = unit
        .strip_prefix("org:")
        .and_then(|s| s.parse::<i64>().ok());
    match (actor.org_id, unit_org) {
        (Some(mine), Some(theirs)) => mine == theirs,
        (Some(_), None) => !actor.roles.has_role(Role::InstitutionReporter),
        (None, _) => !actor.roles.has_role(Role::InstitutionReporter),
    }
}

/// Write a rectification's new status with its audit entry, and read it back.
async fn set_status(
    state: &AppState,
    actor: &Actor,
    p: &Problem,
    action: &'static str,
    status: queries::Status<'_>,
    detail: serde_json::Value,
) -> AppResult<Problem> {
    let mut tx = Tx::begin(state, actor).await?;
    queries::set_status(&mut tx, p.id, status).await?;
    tx.commit(Change::new(action, "rectification", p.id, &p.region_code).detail(detail))
        .await?;
    get_problem(state, actor, p.id).await
}

/// The unit answers with what it did.
pub async fn respond(
    state: &AppState,
    actor: &Actor,
    id: i64,
    response: &str,
) -> AppResult<Problem> {
    let p = get_problem(state, actor, id).await?;
    if !may_respond(actor, &p.unit) {
        return Err(AppError::forbidden());
    }
    if p.status == "closed" {
        return Err(AppError::msg(ErrorCode::Conflict, "该整改已销号"));
    }
    let response = text_field("response", response, 2000, true)?;
    let detail = json!({"status": {"before": p.status, "after": "answered"}, "response": {"before": text_len(&p.response), "after": text_len(&response)}});
    let status = queries::Status::Answered {
        response: &response,
        by: &actor.username,
    };
    set_status(state, actor, &p, "rectification.respond", status, detail).await
}

/// The inspector closes (销号) a rectification.
pub async fn close(state: &AppState, actor: &Actor, id: i64) -> AppResult<Problem> {
    actor.require(Permission::InspectionsManage)?;
    let p = get_problem(state, actor, id).await?;
    if p.status == "closed" {
        return Err(AppError::msg(ErrorCode::Conflict, "该整改已销号"));
    }
    let detail =
        json!({"status": {"before": p.status, "after": "closed"}, "overdue_at_close": p.overdue});
    let status = queries::Status::Closed {
        by: &actor.username,
    };
    set_status(state, actor, &p, "rectification.close", status, detail).await
}

/// The inspector reopens a rectification (not done as answered, or closed too early).
pub async fn reopen(state: &AppState, actor: &Actor, id: i64, reason: &str) -> AppResult<Problem> {
    actor.require(Permission::InspectionsManage)?;
    let p = get_problem(state, actor, id).await?;
    if p.status == "open" {
        return Err(AppError::msg(ErrorCode::Conflict, "该整改尚未答复或销号"));
    }
    let reason = text_field("reason", reason, 1000, false)?;
    let detail =
        json!({"status": {"before": p.status, "after": "open"}, "reason": text_len(&reason)});
    set_status(
        state,
        actor,
        &p,
        "rectification.reopen",
        queries::Status::Reopened,
        detail,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn deadline_ends_at_beijing_midnight() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 5).expect("date");
        // 2026-03-06 00:00 +08:00 = 2026-03-05 16:00 UTC
        let want = chrono::NaiveDate::from_ymd_opt(2026, 3, 5)
            .and_then(|d| d.and_hms_opt(16, 0, 0))
            .expect("t")
            .and_utc()
            .timestamp_millis();
        assert_eq!(end_of_beijing_day_ms(d), want);
        assert_eq!(Mode::parse("unannounced"), Some(Mode::Unannounced));
        assert_eq!(Mode::parse("x"), None);
    }
}
