//! Reminder runs, the notification outbox and period locks.

use backstop_store::repeat_list;
use sqlx::Row;

use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::AppResult;
use crate::kernel::queries::{all, ranged};
use crate::reports::missing::MissingUnit;
use crate::reports::reminders::Notification;
use crate::state::AppState;

/// Queue one notification of `kind` to the people of `region` (and `unit`), inside the
/// caller's write transaction. The notifications table is this module's; other areas queue
/// through `reports::queue_notification`.
pub(in crate::reports) async fn queue(
    conn: &mut sqlx::AnyConnection,
    n: &crate::reports::NewNotification<'_>,
    now: i64,
) -> AppResult<()> {
    let text = crate::notify::templates::render(&mut *conn, n.template, n.fields).await?;
    sqlx::query(
        "INSERT INTO notifications (region_code, unit, kind, title, body, created_at, \
         template_key, template_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(n.region)
    .bind(n.unit)
    .bind(n.kind)
    .bind(text.title)
    .bind(text.body)
    .bind(now)
    .bind(text.key)
    .bind(text.version)
    .execute(conn)
    .await?;
    Ok(())
}

/// Has the reminder of a form's period been sent?
pub(in crate::reports) async fn reminded(
    state: &AppState,
    template: &str,
    period: &str,
) -> AppResult<bool> {
    let done: Option<i64> = sqlx::query_scalar(
        "SELECT reminded FROM report_reminder_runs WHERE template_key = $1 AND period = $2",
    )
    .bind(template)
    .bind(period)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(done.is_some())
}

/// Record the reminder run of a form's period; `false` if another run recorded it first.
pub(in crate::reports) async fn record_reminder_run(
    tx: &mut Tx,
    template: &str,
    period: &str,
    now: i64,
    reminded: i64,
) -> AppResult<bool> {
    let fresh = sqlx::query(
        "INSERT INTO report_reminder_runs (template_key, period, ran_at, reminded) VALUES ($1,$2,$3,$4) \
         ON CONFLICT (template_key, period) DO NOTHING",
    )
    .bind(template)
    .bind(period)
    .bind(now)
    .bind(reminded)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(fresh > 0)
}

/// Put one reminder per missing unit in the outbox, 500 rows a statement.
pub(in crate::reports) async fn insert_reminders(
    state: &AppState,
    tx: &mut Tx,
    missing: &[MissingUnit],
    text: &crate::notify::templates::Rendered,
    now: i64,
) -> AppResult<()> {
    let (title, body) = (text.title.as_str(), text.body.as_str());
    for chunk in missing.chunks(500) {
        let mut sql = String::from(
            "INSERT INTO notifications (region_code, unit, kind, title, body, created_at, \
             template_key, template_version) VALUES ",
        );
        sql.push_str(&repeat_list(
            "(?,?,'report_reminder',?,?,?,?,?)",
            chunk.len(),
        ));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(state.db.sql(&sql)));
        for m in chunk {
            q = q
                .bind(m.region_code.as_str())
                .bind(m.unit.as_str())
                .bind(title)
                .bind(body)
                .bind(now)
                .bind(text.key)
                .bind(text.version);
        }
        q.execute(tx.conn()).await?;
    }
    Ok(())
}

const NOTE_COLS: &str = "id, kind, unit, region_code, title, body, created_at";

fn notification_from_row(r: &sqlx::any::AnyRow) -> Result<Notification, sqlx::Error> {
    let at: i64 = r.try_get("created_at")?;
    Ok(Notification {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        unit: r.try_get("unit")?,
        region_code: r.try_get("region_code")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        created_at: backstop_core::clock::from_millis(at).to_rfc3339(),
    })
}

/// Notifications addressed to the handle's own region or to the actor's organisation,
/// newest first.
pub(in crate::reports) async fn addressed_to(
    state: &AppState,
    scope: &Scoped<'_>,
    limit: i64,
) -> AppResult<Vec<Notification>> {
    let sql = format!(
        "SELECT {NOTE_COLS} FROM notifications WHERE region_code = $1 OR (unit = $2) ORDER BY id DESC LIMIT $3"
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(scope.node().as_str())
        .bind(scope.org().map(|o| format!("org:{o}")).unwrap_or_default())
        .bind(limit);
    all(state, q, notification_from_row).await
}

/// Undelivered notifications under the handle after `after_id`, oldest first.
pub(in crate::reports) async fn undelivered(
    state: &AppState,
    scope: &Scoped<'_>,
    after_id: i64,
    limit: i64,
) -> AppResult<Vec<Notification>> {
    let sql = format!(
        "SELECT {NOTE_COLS} FROM notifications \
         WHERE region_code >= $1 AND region_code < $2 AND delivered_at IS NULL AND id > $3 ORDER BY id LIMIT $4"
    );
    all(
        state,
        ranged(scope, sql).bind(after_id).bind(limit),
        notification_from_row,
    )
    .await
}

/// Mark a notification under the handle delivered (idempotent; *not found* outside it). The
/// gateway's delivery mark is state of the outbox, not a change of a record: not audited.
pub(in crate::reports) async fn mark_delivered(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
    now: i64,
) -> AppResult<()> {
    let region: Option<String> =
        sqlx::query_scalar("SELECT region_code FROM notifications WHERE id = $1")
            .bind(id)
            .fetch_optional(state.db.pool())
            .await?;
    let region = region.ok_or_else(crate::kernel::error::AppError::not_found)?;
    scope.admit(&region, ())?;
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE notifications SET delivered_at = $1 WHERE id = $2 AND delivered_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(w.conn())
    .await?;
    w.commit().await?;
    Ok(())
}

/// Lock a form's period at the handle's region (idempotent).
pub(in crate::reports) async fn insert_lock(
    tx: &mut Tx,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO report_locks (template_key, period, region_code, locked_by, locked_at) VALUES ($1,$2,$3,$4,$5) \
         ON CONFLICT (template_key, period, region_code) DO NOTHING",
    )
    .bind(template)
    .bind(period)
    .bind(scope.node().as_str())
    .bind(&scope.actor().username)
    .bind(now);
    tx.exec(q).await
}
