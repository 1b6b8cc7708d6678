//! Reports (日报、即报): versioned report forms, submissions from villages and institutions
//! with idempotency keys, corrections until the level above locks the period, live rollups
//! at every level from village to nation, completeness ("who has not reported") and reminders
//! at the deadline (催报).
//!
//! Rollups are incremental aggregates kept in the same transaction as each submission: for
//! the unit's region and every region above it (and the nation, code "0"), a count row and
//! one sum row per summable field. A summary is therefore a handful of primary-key reads,
//! current the moment the submission commits; nothing is rebuilt in batch (DESIGN.md §7).
//!
//! The area's files, one concern each: `form` (what a form is, validation), `forms` (the form
//! store), `periods`, `units` (who may report for what), `submit`, `corrections` (what each
//! correction replaced, shown on the report and told to the unit), `rollup`, `summary` (with
//! cumulative sums), `missing`, `chase` (催报 from the missing list, and who sees contacts),
//! `locks`, `reminders`, `incidents`, `todo` (what needs doing now, for the hub and the home
//! page); the pages (`pages`, `view`, `missing_pages`, `dashboard`, `editor`) and the API
//! (`web`). `queries/` holds every SQL statement of the area. Anything read for a region goes
//! through a scoped handle ([`area`] for the region a request names).
//!
//! Who may correct whose report: whoever may report for the unit (`units::resolve_unit`) —
//! its own staff, and those above it with `reports.submit` whose scope holds it — until the
//! level above locks the period; a correction from above is marked on the report and notifies
//! the unit, and the unit's own submission stays readable (`corrections`, docs/PERMISSIONS.md).

pub mod chase;
mod corrections;
pub mod dashboard;
pub mod editor;
pub mod form;
mod forms;
pub mod incidents;
mod locks;
mod missing;
mod missing_pages;
pub mod pages;
mod periods;
mod queries;
mod reminders;
mod rollup;
mod submit;
mod summary;
pub mod todo;
mod units;
mod view;
pub mod web;

use backstop_core::region::Scope;
use backstop_core::role::Permission;

use crate::kernel::access::Scoped;
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::extract::region_param;

pub use corrections::Correction;
pub use forms::{
    FormCache, OwnedForm, ensure_builtin_forms, get_form, list_forms, owned_since, save_form,
    take_from_parent,
};
pub(crate) use forms::{form_and_period, form_to_read, load_form};
pub use locks::lock;
pub use missing::{MissingUnit, missing, missing_xlsx};
pub use periods::{deadline_ms, parse_period};
pub use reminders::{
    NewNotification, Notification, mark_delivered, notifications, outbox, queue_notification,
    queue_notification_on, run_deadlines,
};
pub(crate) use rollup::sums_map;
pub use submit::{Outcome, Submission, SubmitInput, get_submission, submit};
pub(crate) use summary::region_sums;
pub use summary::{Cumulative, Figures, Summary, summary};

/// The code of the nation in rollups, locks and the `region` parameter.
const NATION: &str = Scope::NATIONAL_STR;

fn require_reports(actor: &Actor) -> AppResult<()> {
    if actor.can(Permission::ReportsRead) || actor.can(Permission::ReportsSubmit) {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// The region a summary, list, trend or lock asks for (`region` of the query string or
/// body): none or empty — the actor's whole scope; `"0"` — the nation, for a national actor
/// only; else a region code inside the scope. Anything else is *not found*.
pub(crate) fn area<'a>(actor: &'a Actor, region: Option<&str>) -> AppResult<Scoped<'a>> {
    match region.map(str::trim) {
        Some(NATION) if actor.scope != Scope::National => Err(AppError::not_found()),
        Some(NATION) => Ok(actor.everywhere()),
        other => actor.within_opt(region_param(other)?.as_ref()),
    }
}

/// Reporting rate of received over expected, with a colour class for tables.
pub(crate) fn pages_rate(received: i64, expected: Option<i64>) -> (String, &'static str) {
    match expected {
        Some(e) if e > 0 => {
            let r = received as f64 * 100.0 / e as f64;
            let class = if r >= 100.0 {
                "good"
            } else if r >= 80.0 {
                "fair"
            } else {
                "poor"
            };
            (format!("{r:.1}%"), class)
        }
        _ => ("—".to_string(), "none"),
    }
}
