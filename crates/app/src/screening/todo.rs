//! What the home page's to-do list asks of screening (issue 14, item 9): the active home
//! observations in the actor's scope whose current half-day slot has no check-in yet. A small
//! named interface, so the home page reads through this area's own queries and runs no SQL.

use backstop_core::role::Permission;

use super::observation::{Listed, Observation, list_observations};
use super::{queries, slot_of};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// At most this many active observations are looked at (a county's home page stays fast).
const LOOK_AT: usize = 200;

/// Active observations in scope without a check-in in the current half-day slot.
pub async fn checkins_due(state: &AppState, actor: &Actor) -> AppResult<Vec<Observation>> {
    if !actor.can(Permission::PersonsRead) {
        return Ok(Vec::new());
    }
    let slot = slot_of(state.now_ms());
    let mut out = Vec::new();
    for o in list_observations(state, actor, None, Listed::Active)
        .await?
        .into_iter()
        .take(LOOK_AT)
    {
        let (done, _) = queries::slots_since(state, o.id, slot).await?;
        if !done.contains(&slot) {
            out.push(o);
        }
    }
    Ok(out)
}
