//! Follow-up tasks (跟进任务): one need of a visit turned into a task with an owner — an
//! active user inside the caller's scope whose own scope covers the person — and a due date
//! not before today; closed with a note; overdue when open past the end of its due date by the
//! injected clock. The list is scoped by the person's region; names are shown as in other
//! areas' lists (`people::shown`).

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, Scope};
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{date, queries, text, today, verr, ymd};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// A follow-up task.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Task {
    pub id: i64,
    pub visit_id: i64,
    pub person_id: i64,
    /// The person's name, masked.
    pub person_name_masked: String,
    pub region_code: String,
    pub need: String,
    pub owner: String,
    pub due_date: String,
    /// `open` or `closed`.
    pub status: String,
    pub overdue: bool,
    pub close_note: String,
    pub closed_by: Option<String>,
}

/// Body of `POST /api/v1/care/visits/{id}/tasks`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewTask {
    /// Index (from 0) of the need in the visit's list.
    pub need_index: usize,
    /// Username of the responsible user (in the caller's scope, seeing the person).
    pub owner: String,
    /// `YYYY-MM-DD`, not before today.
    pub due_date: String,
}

/// Body of `POST /api/v1/care/tasks/{id}/close`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CloseTask {
    pub note: String,
}

/// Filters of the task list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct TaskQuery {
    /// Region code; default the caller's scope.
    pub region: Option<String>,
    /// `open` (default), `overdue`, `closed` or `all`.
    pub status: Option<String>,
}

/// Which tasks a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Open,
    Overdue,
    Closed,
    All,
}

impl TaskStatus {
    /// `open` (default), `overdue`, `closed` or `all`.
    pub fn parse(s: Option<&str>) -> AppResult<TaskStatus> {
        match s.unwrap_or("open") {
            "" | "open" => Ok(TaskStatus::Open),
            "overdue" => Ok(TaskStatus::Overdue),
            "closed" => Ok(TaskStatus::Closed),
            "all" => Ok(TaskStatus::All),
            _ => Err(verr("status", "应为 open、overdue、closed 或 all")),
        }
    }
}

/// May `owner` (its stored scope and whether disabled) own a task about a person of `region`:
/// active, inside the caller's scope, and with the person inside its own scope.
fn owner_fits(actor: &Actor, owner: Option<(String, bool)>, region: &str) -> bool {
    match owner {
        Some((scope, disabled)) => {
            !disabled
                && actor.sees_scope_str(&scope)
                && Scope::parse(&scope)
                    .is_ok_and(|s| RegionCode::parse(region).is_ok_and(|c| s.contains(&c)))
        }
        None => false,
    }
}

/// Turn one need of a visit into a follow-up task with an owner and a due date.
pub async fn add_task(
    state: &AppState,
    actor: &Actor,
    visit_id: i64,
    input: &NewTask,
) -> AppResult<Task> {
    actor.require(Permission::PersonsWrite)?;
    let due = date("due_date", &input.due_date)?;
    if due < today(state) {
        return Err(verr("due_date", "不能早于今天"));
    }
    let owner = text("owner", &input.owner, 64, true)?;
    let mut tx = Tx::begin(state, actor).await?;
    let (v, person) = queries::visit(tx.conn(), &state.keys, &actor.everywhere(), visit_id).await?;
    let need = v
        .needs
        .get(input.need_index)
        .cloned()
        .ok_or_else(|| verr("need_index", "该次走访没有这一项需求"))?;
    let user = queries::user_scope(tx.conn(), &owner).await?;
    if !owner_fits(actor, user, &person.region_code) {
        return Err(verr("owner", "不是您管辖范围内负责该人员的用户"));
    }
    let row = queries::NewTaskRow {
        visit_id,
        person_id: v.person_id,
        need: &need,
        owner: &owner,
        due,
        created_by: &actor.username,
    };
    let id = queries::insert_task(&mut tx, &state.keys, &row).await?;
    tx.commit(
        Change::new("care.task.create", "care_task", id, &person.region_code).detail(
            // The need is sealed in the row, not copied to the log.
            json!({"visit_id": visit_id, "person_id": v.person_id,
               "owner": owner, "due_date": ymd(due)}),
        ),
    )
    .await?;
    one_task(state, actor, id).await
}

/// One task whose person is in scope.
pub(crate) async fn one_task(state: &AppState, actor: &Actor, id: i64) -> AppResult<Task> {
    actor.require(Permission::PersonsRead)?;
    queries::task(state, &actor.everywhere(), id).await
}

/// Close an open task with a note.
pub async fn close_task(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &CloseTask,
) -> AppResult<Task> {
    actor.require(Permission::PersonsWrite)?;
    let note = text("note", &input.note, 500, true)?;
    let mut tx = Tx::begin(state, actor).await?;
    let (status, person) = queries::task_status(tx.conn(), &actor.everywhere(), id).await?;
    if status != "open" {
        return Err(AppError::msg(ErrorCode::Conflict, "该任务已办结"));
    }
    queries::close_task(&mut tx, &state.keys, id, &note, &actor.username).await?;
    tx.commit(
        Change::new("care.task.close", "care_task", id, &person.region_code)
            .detail(json!({"status": {"before": "open", "after": "closed"}})),
    )
    .await?;
    one_task(state, actor, id).await
}

/// Tasks of persons in a region of the caller's scope (`overdue`: open with the due date
/// passed by the injected clock), soonest due first.
pub async fn list_tasks(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    status: TaskStatus,
) -> AppResult<Vec<Task>> {
    actor.require(Permission::PersonsRead)?;
    queries::tasks(state, &actor.within_opt(region)?, status).await
}
