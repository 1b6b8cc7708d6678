//! Visits (走访) to a person in scope: by phone or at home, by the acting user, on a day not in
//! the future, with what was found, the needs (each may become a follow-up task) and the help
//! given; and reading one visit with its tasks.

use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Task, opt_date, queries, text, today, verr, ymd};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// A visit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Visit {
    pub id: i64,
    pub person_id: i64,
    /// The user who visited.
    pub visited_by: String,
    pub visited_on: String,
    /// `phone` or `home`.
    pub method: String,
    pub method_label: String,
    pub findings: String,
    pub needs: Vec<String>,
    pub help_given: String,
    pub tasks: Vec<Task>,
}

/// Body of `POST /api/v1/care/persons/{id}/visits`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewVisit {
    /// `phone` (电话) or `home` (入户).
    pub method: String,
    /// `YYYY-MM-DD`; default today; not in the future.
    #[serde(default)]
    pub visited_on: Option<String>,
    /// What was found.
    pub findings: String,
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub help_given: String,
}

pub(super) fn method_label(m: &str) -> &'static str {
    match m {
        "phone" => "电话",
        "home" => "入户",
        _ => "",
    }
}

/// Record a visit to a person in scope by the acting user.
pub async fn add_visit(
    state: &AppState,
    actor: &Actor,
    person_id: i64,
    input: &NewVisit,
) -> AppResult<Visit> {
    actor.require(Permission::PersonsWrite)?;
    let method = match input.method.trim() {
        "phone" | "电话" => "phone",
        "home" | "入户" => "home",
        _ => return Err(verr("method", "应为 phone（电话）或 home（入户）")),
    };
    let today = today(state);
    let on = opt_date("visited_on", input.visited_on.as_deref())?.unwrap_or(today);
    if on > today {
        return Err(verr("visited_on", "不能晚于今天"));
    }
    let findings = text("findings", &input.findings, 2000, true)?;
    let help = text("help_given", &input.help_given, 2000, false)?;
    if input.needs.len() > 20 {
        return Err(verr("needs", "最多 20 项"));
    }
    let mut needs = Vec::new();
    for n in &input.needs {
        let n = text("needs", n, 200, false)?;
        if !n.is_empty() {
            needs.push(n);
        }
    }
    let needs_json = serde_json::to_string(&needs).map_err(|e| AppError::internal("json", e))?;
    let mut tx = Tx::begin(state, actor).await?;
    let person = queries::person(tx.conn(), &actor.everywhere(), person_id).await?;
    let mut v = Visit {
        id: 0,
        person_id,
        visited_by: actor.username.clone(),
        visited_on: ymd(on),
        method: method.to_string(),
        method_label: method_label(method).to_string(),
        findings,
        needs,
        help_given: help,
        tasks: Vec::new(),
    };
    v.id = queries::insert_visit(&mut tx, &state.keys, &v, &needs_json).await?;
    tx.commit(
        Change::new("care.visit.create", "care_visit", v.id, &person.region_code).detail(
            json!({"person_id": person_id, "visited_on": v.visited_on, "method": method,
               "needs": v.needs.len()}),
        ),
    )
    .await?;
    Ok(v)
}

/// One visit with its tasks, if its person is in scope.
pub async fn get_visit(state: &AppState, actor: &Actor, id: i64) -> AppResult<Visit> {
    actor.require(Permission::PersonsRead)?;
    queries::visit_with_tasks(state, &actor.everywhere(), id).await
}
