//! What the home page's to-do list asks of inspections (issue 14, item 9): the rectifications
//! the actor should act on now — a unit's open ones it must answer, and for an inspector those
//! answered (to check and close) or past their deadline. Read through this area's service.

use backstop_core::role::Permission;

use super::{Problem, may_respond, rectifications};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// Rectifications waiting for the actor, earliest deadline first.
pub async fn rectifications_due(state: &AppState, actor: &Actor) -> AppResult<Vec<Problem>> {
    if !(actor.can(Permission::ReportsRead) || actor.can(Permission::InspectionsManage)) {
        return Ok(Vec::new());
    }
    let inspector = actor.can(Permission::InspectionsManage);
    Ok(rectifications(state, actor, None, false)
        .await?
        .into_iter()
        .filter(|p| {
            (p.status == "open"
                && actor.can(Permission::ReportsSubmit)
                && may_respond(actor, &p.unit))
                || (inspector && (p.status == "answered" || p.overdue))
        })
        .collect())
}
