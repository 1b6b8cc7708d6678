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
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::{Permission, Role};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
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

fn rfc3339(ms: i64) -> String {
    backstop_core::clock::from_millis(ms).to_rfc3339()
}

fn today(state: &AppState) -> NaiveDate {
    backstop_core::clock::beijing_date(state.clock.now())
}

/// Unix milliseconds at which a Beijing date ends (the next Beijing midnight).
pub fn end_of_day_ms(d: NaiveDate) -> i64 {
    let next = d.succ_opt().unwrap_or(d);
    let midnight = next.and_time(chrono::NaiveTime::MIN);
    (midnight - chrono::Duration::hours(8))
        .and_utc()
        .timestamp_millis()
}

fn parse_date(field: &str, s: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::field(ErrorCode::Validation, field, "日期格式应为 YYYY-MM-DD"))
}

fn may_read(actor: &Actor) -> AppResult<()> {
    if actor.can(Permission::ReportsRead) || actor.can(Permission::InspectionsManage) {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// A unit resolved: (unit, name, region code, org id).
async fn resolve_unit(
    state: &AppState,
    actor: &Actor,
    unit: &str,
) -> AppResult<(String, String, String)> {
    let unit = unit.trim();
    if let Some(id) = unit.strip_prefix("org:") {
        let id: i64 = id.parse().map_err(|_| {
            AppError::field(ErrorCode::Validation, "unit", "应为区划代码或 org:机构编号")
        })?;
        let org = crate::orgs::get(state, actor, id).await?;
        return Ok((format!("org:{}", org.id), org.name, org.region_code));
    }
    let code = crate::regions::parse_code("unit", unit)?;
    actor.check_region(&code)?;
    let r = crate::regions::find(state, code.as_str())
        .await?
        .ok_or_else(|| AppError::field(ErrorCode::UnknownRegion, "unit", "区划不存在"))?;
    Ok((code.as_str().to_string(), r.name, code.as_str().to_string()))
}

fn new_problem(
    state: &AppState,
    i: usize,
    p: &NewProblem,
) -> AppResult<(String, String, String, i64)> {
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
    let d = parse_date(&field, &p.deadline)?;
    if d < today(state) {
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
        end_of_day_ms(d),
    ))
}

async fn insert_problem(
    w: &mut backstop_store::WriteTx,
    inspection_id: i64,
    region_code: &str,
    p: &(String, String, String, i64),
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO inspection_problems (inspection_id, region_code, description, requirement, deadline, deadline_ms, \
         status, response, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', '', $7, $7) RETURNING id",
    )
    .bind(inspection_id)
    .bind(region_code)
    .bind(&p.0)
    .bind(&p.1)
    .bind(&p.2)
    .bind(p.3)
    .bind(now)
    .fetch_one(w.conn())
    .await
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
        None => today(state),
        Some(s) => parse_date("date", s)?,
    };
    if date > today(state) {
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
    let now = state.now_ms();
    let date = date.format("%Y-%m-%d").to_string();
    let mut w = state.db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO inspections (unit, unit_name, region_code, mode, inspected_on, findings, inspector, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(&unit)
    .bind(&unit_name)
    .bind(&region_code)
    .bind(mode.as_str())
    .bind(&date)
    .bind(&findings)
    .bind(&actor.username)
    .bind(now)
    .fetch_one(w.conn())
    .await?;
    let mut ids = Vec::new();
    for p in &problems {
        ids.push(insert_problem(&mut w, id, &region_code, p, now).await?);
    }
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "inspection.create",
            object_type: "inspection",
            object_id: id.to_string(),
            region_code: region_code.clone(),
            outcome: "success",
            detail: json!({"unit": {"before": null, "after": unit}, "mode": {"before": null, "after": mode.as_str()},
                "date": {"before": null, "after": date}, "findings": {"before": null, "after": findings},
                "problems": problems.iter().zip(&ids).map(|(p, id)| json!({"id": id, "requirement": p.1, "deadline": p.2})).collect::<Vec<_>>()}),
        },
    )
    .await?;
    w.commit().await?;
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
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let pid = insert_problem(&mut w, insp.id, &insp.region_code, &p, now).await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "rectification.create",
            object_type: "rectification",
            object_id: pid.to_string(),
            region_code: insp.region_code.clone(),
            outcome: "success",
            detail: json!({"inspection_id": insp.id, "requirement": {"before": null, "after": p.1}, "deadline": {"before": null, "after": p.2}}),
        },
    )
    .await?;
    w.commit().await?;
    get(state, actor, insp.id).await
}

const P_COLS: &str = "p.id, p.inspection_id, i.unit, i.unit_name, p.region_code, p.description, p.requirement, \
    p.deadline, p.deadline_ms, p.status, p.response, p.responded_by, p.responded_at, p.closed_by, p.closed_at";

fn problem_from_row(r: &sqlx::any::AnyRow, now: i64) -> Result<Problem, sqlx::Error> {
    let status: String = r.try_get("status")?;
    let deadline_ms: i64 = r.try_get("deadline_ms")?;
    Ok(Problem {
        id: r.try_get("id")?,
        inspection_id: r.try_get("inspection_id")?,
        unit: r.try_get("unit")?,
        unit_name: r.try_get("unit_name")?,
        region_code: r.try_get("region_code")?,
        description: r.try_get("description")?,
        requirement: r.try_get("requirement")?,
        deadline: r.try_get("deadline")?,
        overdue: status != "closed" && deadline_ms <= now,
        status,
        response: r.try_get("response")?,
        responded_by: r.try_get("responded_by")?,
        responded_at: r.try_get::<Option<i64>, _>("responded_at")?.map(rfc3339),
        closed_by: r.try_get("closed_by")?,
        closed_at: r.try_get::<Option<i64>, _>("closed_at")?.map(rfc3339),
    })
}

fn inspection_from_row(r: &sqlx::any::AnyRow) -> Result<Inspection, sqlx::Error> {
    let mode: String = r.try_get("mode")?;
    Ok(Inspection {
        id: r.try_get("id")?,
        unit: r.try_get("unit")?,
        unit_name: r.try_get("unit_name")?,
        region_code: r.try_get("region_code")?,
        mode_label: Mode::parse(&mode)
            .map(|m| m.label_zh())
            .unwrap_or("")
            .to_string(),
        mode,
        date: r.try_get("inspected_on")?,
        findings: r.try_get("findings")?,
        inspector: r.try_get("inspector")?,
        created_at: rfc3339(r.try_get("created_at")?),
        problems: Vec::new(),
    })
}

const I_COLS: &str =
    "id, unit, unit_name, region_code, mode, inspected_on, findings, inspector, created_at";

/// One inspection in scope, with its problems.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Inspection> {
    may_read(actor)?;
    let sql = format!("SELECT {I_COLS} FROM inspections WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let mut insp = inspection_from_row(&row)?;
    let code = RegionCode::parse(&insp.region_code).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    let sql = format!(
        "SELECT {P_COLS} FROM inspection_problems p JOIN inspections i ON i.id = p.inspection_id \
         WHERE p.inspection_id = $1 ORDER BY p.id"
    );
    let now = state.now_ms();
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_all(state.db.pool())
        .await?;
    insp.problems = rows
        .iter()
        .map(|r| problem_from_row(r, now))
        .collect::<Result<_, _>>()?;
    Ok(insp)
}

/// Inspections in the actor's scope (optionally one region of it), newest first; problems
/// included.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    region: Option<&str>,
) -> AppResult<Vec<Inspection>> {
    may_read(actor)?;
    let (lo, hi) = bounds(actor, region)?;
    let sql = format!(
        "SELECT {I_COLS} FROM inspections WHERE region_code >= $1 AND region_code < $2 ORDER BY id DESC LIMIT 500"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&lo)
        .bind(&hi)
        .fetch_all(state.db.pool())
        .await?;
    let mut out: Vec<Inspection> = rows
        .iter()
        .map(inspection_from_row)
        .collect::<Result<_, _>>()?;
    let sql = format!(
        "SELECT {P_COLS} FROM inspection_problems p JOIN inspections i ON i.id = p.inspection_id \
         WHERE p.region_code >= $1 AND p.region_code < $2 AND p.inspection_id >= $3 ORDER BY p.id"
    );
    let min_id = out.iter().map(|i| i.id).min().unwrap_or(0);
    let now = state.now_ms();
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&lo)
        .bind(&hi)
        .bind(min_id)
        .fetch_all(state.db.pool())
        .await?;
    for r in &rows {
        let p = problem_from_row(r, now)?;
        if let Some(i) = out.iter_mut().find(|i| i.id == p.inspection_id) {
            i.problems.push(p);
        }
    }
    Ok(out)
}

fn bounds(actor: &Actor, region: Option<&str>) -> AppResult<(String, String)> {
    Ok(match region.map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => {
            let code = RegionCode::parse(r).map_err(|_| AppError::not_found())?;
            actor.check_region(&code)?;
            code.scope_bounds()
        }
        None => actor.scope_bounds(),
    })
}

/// Rectifications in the actor's scope: all not closed, or with `overdue_only` only those past
/// their deadline. Earliest deadline first.
pub async fn rectifications(
    state: &AppState,
    actor: &Actor,
    region: Option<&str>,
    overdue_only: bool,
) -> AppResult<Vec<Problem>> {
    may_read(actor)?;
    let (lo, hi) = bounds(actor, region)?;
    let now = state.now_ms();
    let cond = if overdue_only {
        " AND p.deadline_ms <= $3"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {P_COLS} FROM inspection_problems p JOIN inspections i ON i.id = p.inspection_id \
         WHERE p.region_code >= $1 AND p.region_code < $2 AND p.status <> 'closed'{cond} \
         ORDER BY p.deadline_ms, p.id LIMIT 2000"
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&lo).bind(&hi);
    if overdue_only {
        q = q.bind(now);
    }
    let rows = q.fetch_all(state.db.pool()).await?;
    Ok(rows
        .iter()
        .map(|r| problem_from_row(r, now))
        .collect::<Result<_, _>>()?)
}

/// Number of overdue rectifications in the actor's scope.
pub async fn overdue_count(state: &AppState, actor: &Actor) -> AppResult<i64> {
    may_read(actor)?;
    let (lo, hi) = actor.scope_bounds();
    Ok(sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM inspection_problems WHERE region_code >= $1 AND region_code < $2 \
         AND status <> 'closed' AND deadline_ms <= $3",
    )
    .bind(lo)
    .bind(hi)
    .bind(state.now_ms())
    .fetch_one(state.db.pool())
    .await?)
}

/// One rectification in scope.
pub async fn get_problem(state: &AppState, actor: &Actor, id: i64) -> AppResult<Problem> {
    may_read(actor)?;
    let sql = format!(
        "SELECT {P_COLS} FROM inspection_problems p JOIN inspections i ON i.id = p.inspection_id WHERE p.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let p = problem_from_row(&row, state.now_ms())?;
    let code = RegionCode::parse(&p.region_code).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    Ok(p)
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

/// A bound value of a status update.
enum Arg {
    S(String),
    I(i64),
}

async fn set_status(
    state: &AppState,
    actor: &Actor,
    p: &Problem,
    action: &str,
    sql: &str,
    args: Vec<Arg>,
    detail: serde_json::Value,
) -> AppResult<Problem> {
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for a in args {
        q = match a {
            Arg::S(s) => q.bind(s),
            Arg::I(i) => q.bind(i),
        };
    }
    q.execute(w.conn()).await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action,
            object_type: "rectification",
            object_id: p.id.to_string(),
            region_code: p.region_code.clone(),
            outcome: "success",
            detail,
        },
    )
    .await?;
    w.commit().await?;
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
    let detail = json!({"status": {"before": p.status, "after": "answered"}, "response": {"before": p.response, "after": response}});
    set_status(
        state,
        actor,
        &p,
        "rectification.respond",
        "UPDATE inspection_problems SET status = 'answered', response = $1, responded_by = $2, responded_at = $3, updated_at = $3 WHERE id = $4",
        vec![
            Arg::S(response),
            Arg::S(actor.username.clone()),
            Arg::I(state.now_ms()),
            Arg::I(p.id),
        ],
        detail,
    )
    .await
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
    set_status(
        state,
        actor,
        &p,
        "rectification.close",
        "UPDATE inspection_problems SET status = 'closed', closed_by = $1, closed_at = $2, updated_at = $2 WHERE id = $3",
        vec![
            Arg::S(actor.username.clone()),
            Arg::I(state.now_ms()),
            Arg::I(p.id),
        ],
        detail,
    )
    .await
}

/// The inspector reopens a rectification (not done as answered, or closed too early).
pub async fn reopen(state: &AppState, actor: &Actor, id: i64, reason: &str) -> AppResult<Problem> {
    actor.require(Permission::InspectionsManage)?;
    let p = get_problem(state, actor, id).await?;
    if p.status == "open" {
        return Err(AppError::msg(ErrorCode::Conflict, "该整改尚未答复或销号"));
    }
    let reason = text_field("reason", reason, 1000, false)?;
    let detail = json!({"status": {"before": p.status, "after": "open"}, "reason": reason});
    set_status(
        state,
        actor,
        &p,
        "rectification.reopen",
        "UPDATE inspection_problems SET status = 'open', closed_by = NULL, closed_at = NULL, updated_at = $1 WHERE id = $2",
        vec![Arg::I(state.now_ms()), Arg::I(p.id)],
        detail,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_ends_at_beijing_midnight() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 5).expect("date");
        // 2026-03-06 00:00 +08:00 = 2026-03-05 16:00 UTC
        let want = chrono::NaiveDate::from_ymd_opt(2026, 3, 5)
            .and_then(|d| d.and_hms_opt(16, 0, 0))
            .expect("t")
            .and_utc()
            .timestamp_millis();
        assert_eq!(end_of_day_ms(d), want);
        assert_eq!(Mode::parse("unannounced"), Some(Mode::Unannounced));
        assert_eq!(Mode::parse("x"), None);
    }
}
