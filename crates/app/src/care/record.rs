//! A person's whole care record: memberships, carer, the last 30 daily checks, visits with
//! their tasks, and whether the person is dispersed 特困 today (a carer and daily checks
//! apply). The person must be in scope; the name is shown in full (it is the person's page).

use backstop_core::role::Permission;
use serde::Serialize;

use super::{Carer, DailyCheck, Membership, Visit, queries, today, ymd};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// Everything about one person's care: memberships, carer, recent checks, visits with tasks.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CareRecord {
    pub person_id: i64,
    pub name: String,
    pub region_code: String,
    pub memberships: Vec<Membership>,
    pub carer: Option<Carer>,
    /// The last 30 daily checks, newest first.
    pub checks: Vec<DailyCheck>,
    /// Newest first.
    pub visits: Vec<Visit>,
    /// True when the person is dispersed 特困 today (a carer and daily checks apply).
    pub dispersed_tekun: bool,
}

/// The care record of a person in scope.
pub async fn record(state: &AppState, actor: &Actor, person_id: i64) -> AppResult<CareRecord> {
    actor.require(Permission::PersonsRead)?;
    queries::record(state, &actor.everywhere(), person_id, &ymd(today(state))).await
}
