//! What needs doing now in reports, for the reports hub and the home page's to-do list (issue
//! 14, item 9): today's daily reports of the actor's own units (its village, its
//! organisation) with whether each is sent, the open immediate reports it should acknowledge,
//! its reports lately corrected by the level above, and — for those who chase — how many
//! units have not yet sent today's daily forms. Read
//! through this area's own service functions and queries.

use backstop_core::region::{RegionLevel, Scope};
use backstop_core::role::Permission;

use super::form::{Period, UnitType};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// One daily form of one of the actor's units, today.
pub struct DueReport {
    pub form_key: String,
    pub form_name: String,
    pub unit: String,
    pub unit_name: String,
    pub period: String,
    /// Sent already (then `report_id` is its id).
    pub done: bool,
    pub report_id: i64,
    /// `HH:MM`, Beijing.
    pub deadline: String,
}

/// The units the actor reports for: its village (a village-level scope) and its
/// organisation: `(unit, name, organisation kind)`.
pub(super) async fn my_units(
    state: &AppState,
    actor: &Actor,
) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    if let Scope::Region(c) = &actor.scope
        && c.level() == RegionLevel::Village
        && let Ok(Some(r)) = crate::regions::find(state, c.as_str()).await
    {
        out.push((c.as_str().to_string(), r.name, None));
    }
    if let Some(org_id) = actor.org_id
        && let Ok(org) = crate::orgs::get(state, actor, org_id).await
    {
        out.push((format!("org:{org_id}"), org.name, Some(org.kind)));
    }
    out
}

/// Today's daily forms of the actor's own units, sent or not.
pub async fn today_reports(state: &AppState, actor: &Actor) -> AppResult<Vec<DueReport>> {
    if !actor.can(Permission::ReportsSubmit) {
        return Ok(Vec::new());
    }
    let forms = super::list_forms(state, actor).await?;
    let day = state.today().format("%Y-%m-%d").to_string();
    let units = my_units(state, actor).await;
    let mut out = Vec::new();
    for f in forms.iter().filter(|f| f.period == Period::Daily) {
        for (unit, name, kind) in &units {
            let applies = match (f.unit_type, kind) {
                (UnitType::Village, None) => true,
                (UnitType::Org, Some(k)) => f.org_kinds.iter().any(|x| x == k),
                _ => false,
            };
            if !applies {
                continue;
            }
            let id = super::units::current_id(state, actor, &f.key, unit, &day).await?;
            out.push(DueReport {
                form_key: f.key.clone(),
                form_name: f.name.clone(),
                unit: unit.clone(),
                unit_name: name.clone(),
                period: day.clone(),
                done: id.is_some(),
                report_id: id.unwrap_or(0),
                deadline: f.deadline.clone().unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

/// Open immediate reports the actor should acknowledge (county level or above), else 0.
pub async fn incidents_to_ack(state: &AppState, actor: &Actor) -> AppResult<usize> {
    let county_or_above = match &actor.scope {
        Scope::National => true,
        Scope::Region(c) => c.level() <= RegionLevel::County,
    };
    if !(county_or_above && actor.can(Permission::ReportsRead)) {
        return Ok(0);
    }
    Ok(super::incidents::list(state, actor, true, 1000)
        .await?
        .len())
}

/// For those who chase (`chase::may_chase`): each daily form with units under the actor's
/// scope that have not sent today's report: `(form key, form name, period, count)`.
pub async fn missing_today(
    state: &AppState,
    actor: &Actor,
) -> AppResult<Vec<(String, String, String, usize)>> {
    if !super::chase::may_chase(actor) {
        return Ok(Vec::new());
    }
    let day = state.today().format("%Y-%m-%d").to_string();
    let scope = actor.within_opt(None)?;
    let mut out = Vec::new();
    for f in super::list_forms(state, actor).await? {
        if f.period != Period::Daily {
            continue;
        }
        // From the live rollup and the cached expected count (a few primary-key reads), not
        // from the list itself: a national home page stays fast.
        let sum = super::summary(state, &scope, &f.key, &day).await?;
        let n = sum.expected.map_or(0, |e| (e - sum.received).max(0)) as usize;
        if n > 0 {
            out.push((f.key, f.name, day.clone(), n));
        }
    }
    Ok(out)
}

/// How many notifications of `kind` addressed to the actor (its region, its organisation)
/// arrived since `since_ms` — e.g. its reports corrected by the level above.
pub async fn notes_since(
    state: &AppState,
    actor: &Actor,
    kind: &str,
    since_ms: i64,
) -> AppResult<usize> {
    if !(actor.can(Permission::ReportsRead) || actor.can(Permission::ReportsSubmit)) {
        return Ok(0);
    }
    let since = backstop_core::clock::from_millis(since_ms).to_rfc3339();
    Ok(super::notifications(state, actor, 100)
        .await?
        .iter()
        .filter(|n| n.kind == kind && n.created_at >= since)
        .count())
}
