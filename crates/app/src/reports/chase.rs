//! Chasing the units that have not reported (催报, issue 14, item 8): from the missing list an
//! official chases one unit or every unit still missing; each chase queues a notification to
//! the unit in the outbox (the same rows the deadline reminders use) and is recorded — who,
//! when, which unit — in `report_chases`, whose history the missing list shows.
//!
//! Who may chase, and who sees a unit's contact person and phone in full: those who hold
//! `reports.read` and `users.manage` — the officials and township staff who open the units'
//! accounts and answer for their reporting (docs/PERMISSIONS.md). Everyone else who may read
//! the missing list (community workers, institution reporters, inspectors) sees the contact
//! masked (`张*`, `138****5678`) through `people::shown`, and cannot chase.

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::periods::parse_period;
use super::{MissingUnit, form_and_period, load_form, queries};
use crate::kernel::access::{Change, Scoped, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// May the actor chase units, and see their contacts in full?
pub fn may_chase(actor: &Actor) -> bool {
    actor.can(Permission::ReportsRead) && actor.can(Permission::UsersManage)
}

/// Body of `POST /api/v1/reports/chases`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ChaseInput {
    pub template: String,
    pub period: String,
    /// Region code whose missing units are chased; default the caller's scope.
    #[serde(default)]
    pub region: String,
    /// One unit of the missing list (a village code or `org:ID`); absent or empty: every
    /// unit still missing under the region.
    #[serde(default)]
    pub unit: String,
}

/// One recorded chase of a unit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Chase {
    pub template: String,
    pub period: String,
    /// Region code or `org:ID`.
    pub unit: String,
    pub unit_name: String,
    pub region_code: String,
    /// 1 for the unit's first chase of this form and period.
    pub seq: i64,
    pub chased_by: String,
    /// UTC, RFC 3339.
    pub chased_at: String,
}

/// Chase one missing unit, or all of them, under the handle: a notification to each and a
/// record of each chase, in one audited transaction. Returns the chases recorded.
pub async fn chase(
    state: &AppState,
    scope: &Scoped<'_>,
    input: &ChaseInput,
) -> AppResult<Vec<Chase>> {
    let actor = scope.actor();
    if !may_chase(actor) {
        return Err(AppError::forbidden());
    }
    let form = load_form(state, input.template.trim(), None)
        .await?
        .ok_or_else(|| AppError::field(ErrorCode::Validation, "template", "没有这个报表"))?;
    let (period, _) = parse_period(form.period, &input.period, state.today())
        .map_err(|m| AppError::field(ErrorCode::Validation, "period", m))?;
    let mut missing = queries::missing_units(state, &form, &period, scope, 10_000).await?;
    let unit = input.unit.trim();
    if !unit.is_empty() {
        missing.retain(|m| m.unit == unit);
        if missing.is_empty() {
            return Err(AppError::field(
                ErrorCode::Validation,
                "unit",
                "该单位不在未报清单中（可能已经填报）",
            ));
        }
    } else if missing.is_empty() {
        return Err(AppError::msg(
            ErrorCode::Validation,
            "没有未报单位，无需催报",
        ));
    }
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    let when = backstop_core::clock::format_beijing(backstop_core::clock::from_millis(now));
    let fields = [
        ("form", form.name.clone()),
        ("period", period.clone()),
        ("by", actor.username.clone()),
        ("at", when),
    ];
    let mut out = Vec::with_capacity(missing.len());
    for m in &missing {
        let seq = queries::insert_chase(&mut tx, &form.key, &period, m, &actor.username).await?;
        let note = super::NewNotification {
            region: &m.region_code,
            unit: &m.unit,
            kind: "report_chase",
            template: "report_chase",
            fields: &fields,
        };
        super::queue_notification(&mut tx, &note, now).await?;
        out.push(Chase {
            template: form.key.clone(),
            period: period.clone(),
            unit: m.unit.clone(),
            unit_name: m.name.clone(),
            region_code: m.region_code.clone(),
            seq,
            chased_by: actor.username.clone(),
            chased_at: backstop_core::clock::from_millis(now).to_rfc3339(),
        });
    }
    let units: Vec<&str> = missing.iter().map(|m| m.unit.as_str()).collect();
    tx.commit(
        Change::new(
            "report.chase",
            "report_period",
            format!("{}/{}", form.key, period),
            scope.node().as_str(),
        )
        .detail(json!({"units": units, "count": units.len()})),
    )
    .await?;
    Ok(out)
}

/// The chases of a form's period under the handle, newest first.
pub async fn chases(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
) -> AppResult<Vec<Chase>> {
    let (form, period) = form_and_period(state, scope, template, period).await?;
    queries::chases_under(state, scope, &form.key, &period, 1000).await
}

/// A missing unit's contact as the actor may see it: in full for those who chase, masked for
/// everyone else (`people::shown`).
pub(super) fn show_contact(actor: &Actor, m: &mut MissingUnit) {
    if may_chase(actor) {
        return;
    }
    if !m.contact_person.is_empty() {
        m.contact_person = crate::people::shown::name_in_list(&m.contact_person);
    }
    if !m.contact_phone.is_empty() {
        m.contact_phone = crate::people::shown::phone_text(&m.contact_phone);
    }
}

/// For those who chase: a village's contact is its community workers' accounts (names; an
/// account carries no phone), filled in for the village rows of a missing list. Read through
/// `accounts::list_users` over the actor's scope (its first 2,000 accounts).
pub(super) async fn village_contacts(
    state: &AppState,
    actor: &Actor,
    rows: &mut [MissingUnit],
) -> AppResult<()> {
    if !may_chase(actor) || !rows.iter().any(|m| !m.unit.starts_with("org:")) {
        return Ok(());
    }
    let mut names: std::collections::HashMap<String, Vec<String>> = Default::default();
    for u in crate::accounts::list_users(state, actor, None).await? {
        if u.disabled || !u.roles.iter().any(|r| r == "community_worker") {
            continue;
        }
        let name = if u.display_name.is_empty() {
            u.username
        } else {
            u.display_name
        };
        names.entry(u.region_code).or_default().push(name);
    }
    for m in rows.iter_mut().filter(|m| !m.unit.starts_with("org:")) {
        if let Some(list) = names.get(&m.unit) {
            m.contact_person = list.iter().take(3).cloned().collect::<Vec<_>>().join("、");
        }
    }
    Ok(())
}

// ---- What the escalation engine (`notify::escalate`) reads of reports.

/// A daily form whose deadline today has passed: the engine's report rule runs from it.
pub struct DueForm {
    pub form: String,
    pub name: String,
    pub period: String,
    pub due_at: i64,
}

/// Does a form with this key exist (for a form's own escalation rule)?
pub async fn form_exists(state: &AppState, key: &str) -> AppResult<bool> {
    Ok(load_form(state, key.trim(), None).await?.is_some())
}

/// Today's daily forms whose deadline has passed (today's only: a rule's steps run the same
/// day as its deadline reminder, `reminders::run_deadlines`).
pub async fn deadlines_passed(state: &AppState) -> AppResult<Vec<DueForm>> {
    let now = state.now_ms();
    let day = state.today();
    let period = day.format("%Y-%m-%d").to_string();
    let mut out = Vec::new();
    for form in queries::latest_forms(state, true).await? {
        let Some(due_at) = super::periods::deadline_ms(&form, day) else {
            continue;
        };
        if now >= due_at {
            out.push(DueForm {
                form: form.key.clone(),
                name: form.name.clone(),
                period: period.clone(),
                due_at,
            });
        }
    }
    Ok(out)
}

/// Every unit of the nation still missing a form's period, as the engine's things
/// (subject `form/period/unit`).
pub async fn overdue_units(
    state: &AppState,
    due: &DueForm,
) -> AppResult<Vec<crate::notify::escalate::Overdue>> {
    let Some(form) = load_form(state, &due.form, None).await? else {
        return Ok(Vec::new());
    };
    let console = Actor::operator();
    let nation = console.everywhere();
    let missing = queries::missing_units(state, &form, &due.period, &nation, i64::MAX).await?;
    Ok(missing
        .into_iter()
        .map(|m| crate::notify::escalate::Overdue {
            subject: format!("{}/{}/{}", due.form, due.period, m.unit),
            region_code: m.region_code,
            unit: m.unit,
            unit_name: m.name,
            due_at: due.due_at,
            what: format!("《{}》{} 尚未填报", due.name, due.period),
        })
        .collect())
}

/// Mark the rows of a missing list whose unit escalated (shown in red on the level above).
pub(super) async fn mark_escalated(
    state: &AppState,
    form: &str,
    period: &str,
    rows: &mut [MissingUnit],
) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let escalated = crate::notify::escalate::escalated_units(state, form, period).await?;
    for m in rows.iter_mut() {
        m.escalated = escalated.contains(&m.unit);
    }
    Ok(())
}
