//! Immediate reports (即报) after they arrive: every level above the unit sees them at once
//! (the notification outbox and the open-incident list), they stay open and highlighted until
//! someone at county level or above acknowledges them, and the acknowledgement records who
//! handled them and how.

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionLevel, Scope};
use backstop_core::role::Permission;
use serde::Serialize;
use serde_json::{Map, Value};

use super::queries;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// How an incident was handled.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ack {
    pub by: String,
    /// UTC, RFC 3339.
    pub at: String,
    pub handling: String,
}

/// An immediate report with its handling.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Incident {
    pub id: i64,
    pub unit: String,
    pub unit_name: String,
    pub region_code: String,
    pub period: String,
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
    pub submitted_at: String,
    pub submitted_by: String,
    pub ack: Option<Ack>,
}

/// Incidents in the actor's scope, newest first; `open_only` hides acknowledged ones.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    open_only: bool,
    limit: i64,
) -> AppResult<Vec<Incident>> {
    actor.require(Permission::ReportsRead)?;
    queries::incidents(state, &actor.everywhere(), open_only, limit.clamp(1, 1000)).await
}

/// One incident in scope.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Incident> {
    actor.require(Permission::ReportsRead)?;
    queries::incident(state, &actor.everywhere(), id).await
}

/// The incident the caller itself submitted with idempotency key `key`, in scope: how a parent
/// deployment finds the incident a child's acknowledgement names (ids differ between
/// deployments, and a unit may make several immediate reports in one day).
pub async fn get_by_key(state: &AppState, actor: &Actor, key: &str) -> AppResult<Incident> {
    actor.require(Permission::ReportsRead)?;
    let uid = actor.user_id.ok_or_else(AppError::not_found)?;
    let (_, response) = queries::idempotency_record(state, (actor.province(), uid), key)
        .await?
        .ok_or_else(AppError::not_found)?;
    let sub: super::Submission =
        serde_json::from_str(&response).map_err(|_| AppError::not_found())?;
    get(state, actor, sub.id).await
}

/// Acknowledge an incident and record how it was handled (county level or above).
pub async fn acknowledge(
    state: &AppState,
    actor: &Actor,
    id: i64,
    handling: &str,
) -> AppResult<Incident> {
    let inc = get(state, actor, id).await?;
    let county_or_above = match &actor.scope {
        Scope::National => true,
        Scope::Region(c) => c.level() <= RegionLevel::County,
    };
    if !county_or_above {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "即报须由县级及以上确认处置",
        ));
    }
    if inc.ack.is_some() {
        return Err(AppError::msg(ErrorCode::Conflict, "该即报已被确认"));
    }
    let handling = text_field("handling", handling, 1000, true)?;
    let mut tx = Tx::begin(state, actor).await?;
    queries::insert_ack(&mut tx, &state.keys, &inc, &actor.username, &handling).await?;
    // Up to the parent deployment, when there is one (issue 20): in this same transaction.
    crate::federation::child::push_incident_ack(
        &mut tx,
        &state.keys,
        &inc,
        &actor.username,
        &handling,
    )
    .await?;
    tx.commit(
        Change::new(
            "incident.acknowledge",
            "report",
            id,
            inc.region_code.clone(),
        )
        // The handling text is sealed at rest and not copied into the log (its length only).
        .free_text("handling", &handling),
    )
    .await?;
    get(state, actor, id).await
}
