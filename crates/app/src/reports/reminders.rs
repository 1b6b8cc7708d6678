//! Deadlines and notifications: at each daily deadline a reminder (催报) goes into the outbox
//! for every unit that has not reported; the notifications addressed to an actor's region or
//! organisation; and the delivery outbox an SMS or webhook gateway drains.

use backstop_core::role::Permission;
use serde::Serialize;
use serde_json::json;

use super::periods::deadline_ms;
use super::{NATION, queries, require_reports};
use crate::audit::Who;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// At each daily deadline, put a reminder (催报) in the outbox for every unit that has not
/// reported. Runs once per form and period; safe to call every minute.
pub async fn run_deadlines(state: &AppState) -> AppResult<i64> {
    let now = state.now_ms();
    let day = state.today();
    let period = day.format("%Y-%m-%d").to_string();
    // The scheduler reads every unit of the nation; its audit entries name "system".
    let console = Actor::operator();
    let nation = console.everywhere();
    let mut reminded = 0;
    for form in queries::latest_forms(state, true).await? {
        let Some(deadline) = deadline_ms(&form, day) else {
            continue;
        };
        if now < deadline || queries::reminded(state, &form.key, &period).await? {
            continue;
        }
        let missing = queries::missing_units(state, &form, &period, &nation, i64::MAX).await?;
        let system = Who::system("scheduler");
        let mut tx = Tx::begin_as(state, system).await?;
        let n = missing.len() as i64;
        if !queries::record_reminder_run(&mut tx, &form.key, &period, now, n).await? {
            continue;
        }
        let text = crate::notify::templates::render(
            tx.conn(),
            "report_reminder",
            &[
                ("form", form.name.clone()),
                ("period", period.clone()),
                ("deadline", form.deadline.clone().unwrap_or_default()),
            ],
        )
        .await?;
        queries::insert_reminders(state, &mut tx, &missing, &text, now).await?;
        tx.commit(
            Change::new(
                "report.remind",
                "report_period",
                format!("{}/{}", form.key, period),
                NATION,
            )
            .detail(json!({"reminded": missing.len()})),
        )
        .await?;
        reminded += n;
    }
    Ok(reminded)
}

/// A notification in the outbox.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: i64,
    pub kind: String,
    pub unit: String,
    pub region_code: String,
    pub title: String,
    pub body: String,
    pub created_at: String,
}

/// Notifications for the actor: those addressed to its own region (its unit's reminders,
/// incidents reported below it), newest first. Only for actors who file or read reports.
pub async fn notifications(
    state: &AppState,
    actor: &Actor,
    limit: i64,
) -> AppResult<Vec<Notification>> {
    require_reports(actor)?;
    queries::addressed_to(state, &actor.everywhere(), limit.clamp(1, 500)).await
}

/// The delivery outbox for an SMS or webhook gateway run by the operator: notifications in the
/// caller's scope not yet delivered, oldest first, after `after_id`. The gateway marks each
/// one delivered with [`mark_delivered`]. Needs `reports.manage` (an integration account of
/// an official, with a personal API token).
pub async fn outbox(
    state: &AppState,
    actor: &Actor,
    after_id: i64,
    limit: i64,
) -> AppResult<Vec<Notification>> {
    actor.require(Permission::ReportsManage)?;
    queries::undelivered(state, &actor.everywhere(), after_id, limit.clamp(1, 1000)).await
}

/// Record that the gateway delivered a notification (idempotent).
pub async fn mark_delivered(state: &AppState, actor: &Actor, id: i64) -> AppResult<()> {
    actor.require(Permission::ReportsManage)?;
    queries::mark_delivered(state, &actor.everywhere(), id, state.now_ms()).await
}

/// A notification another area queues (a fever at a gate, a missed observation check-in):
/// its text is the template in force (`notify::templates`) filled with the fields.
pub struct NewNotification<'a> {
    pub region: &'a str,
    pub unit: &'a str,
    /// `entrance_fever`, `observation_missed`, …
    pub kind: &'static str,
    /// The key of its template (`notify::templates::BUILTIN`).
    pub template: &'static str,
    pub fields: &'a [(&'a str, String)],
}

/// Queue a notification in the caller's write transaction, created at `now`: the one way
/// other areas reach the outbox.
pub async fn queue_notification(tx: &mut Tx, n: &NewNotification<'_>, now: i64) -> AppResult<()> {
    queries::queue(tx.conn(), n, now).await
}

/// Queue a notification on a connection whose transaction is audited by other means (the
/// roster import's own chain), or inside a [`Tx`] already borrowed for its connection.
pub async fn queue_notification_on(
    conn: &mut sqlx::AnyConnection,
    n: &NewNotification<'_>,
    now: i64,
) -> AppResult<()> {
    queries::queue(conn, n, now).await
}
