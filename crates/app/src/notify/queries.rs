//! Every SQL statement of notification delivery and escalation: the notifications not yet
//! dispatched, units' contact phones (in batches), the delivery rows, the escalation rules and
//! progress, and the small reads of other areas' outstanding things the engine needs.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Delivery, DeliveryCount, DeliveryState, NewDelivery, Pending};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::AppResult;
use crate::kernel::queries::{admitted, all, ranged};
use crate::state::AppState;

/// Mark notifications dispatched, in the dispatch transaction.
pub(super) async fn mark_dispatched(
    conn: &mut sqlx::AnyConnection,
    ids: &[i64],
    now: i64,
) -> AppResult<()> {
    for chunk in ids.chunks(500) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE notifications SET dispatched_at = $1 WHERE id IN ({list})"
        )))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Notifications not yet dispatched, oldest first.
pub(super) async fn pending(state: &AppState, limit: i64) -> AppResult<Vec<Pending>> {
    let rows = sqlx::query(
        "SELECT id, region_code, unit, kind, title, body, created_at FROM notifications \
         WHERE dispatched_at IS NULL ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(state.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Pending {
                id: r.try_get("id")?,
                region_code: r.try_get("region_code")?,
                unit: r.try_get("unit")?,
                kind: r.try_get("kind")?,
                title: r.try_get("title")?,
                body: r.try_get("body")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Write one delivery row (nothing if its key is already there); how many were written.
pub(super) async fn insert_delivery(
    conn: &mut sqlx::AnyConnection,
    d: &NewDelivery,
    now: i64,
) -> AppResult<i64> {
    let province: String = d.region_code.chars().take(2).collect();
    let n = sqlx::query(
        "INSERT INTO notify_deliveries (province, notification_id, region_code, kind, channel, \
         recipient, phone_enc, phone_masked, body, dedup_key, state, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', $11, $11) \
         ON CONFLICT (province, dedup_key) DO NOTHING",
    )
    .bind(province)
    .bind(d.notification_id)
    .bind(&d.region_code)
    .bind(&d.kind)
    .bind(d.channel.as_str())
    .bind(&d.recipient)
    .bind(d.phone_enc.clone())
    .bind(&d.phone_masked)
    .bind(&d.body)
    .bind(&d.dedup_key)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(i64::try_from(n).unwrap_or(0))
}

pub(super) async fn mark_delivered(tx: &mut Tx, id: i64, now: i64) -> AppResult<()> {
    sqlx::query(
        "UPDATE notify_deliveries SET state = 'delivered', delivered_at = $1 WHERE id = $2 AND state = 'sent'",
    )
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(super) async fn requeue(tx: &mut Tx, id: i64, now: i64) -> AppResult<()> {
    sqlx::query(
        "UPDATE notify_deliveries SET state = 'queued', attempts = 0, next_attempt_at = $1 \
         WHERE id = $2 AND state = 'failed'",
    )
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

const COLS: &str = "id, notification_id, region_code, kind, channel, recipient, phone_masked, \
    state, attempts, last_error, next_attempt_at, created_at, sent_at, delivered_at";

fn delivery(r: &AnyRow) -> Result<Delivery, sqlx::Error> {
    Ok(Delivery {
        id: r.try_get("id")?,
        notification_id: r.try_get("notification_id")?,
        region_code: r.try_get("region_code")?,
        kind: r.try_get("kind")?,
        channel: r.try_get("channel")?,
        recipient: r.try_get("recipient")?,
        phone_masked: r.try_get("phone_masked")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        created_at: r.try_get("created_at")?,
        sent_at: r.try_get("sent_at")?,
        delivered_at: r.try_get("delivered_at")?,
    })
}

pub(super) async fn get(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Delivery> {
    admitted(
        state,
        scope,
        format!("SELECT {COLS} FROM notify_deliveries WHERE id = $1"),
        id,
        delivery,
        |d| &d.region_code,
    )
    .await
}

pub(super) async fn list(
    state: &AppState,
    scope: &Scoped<'_>,
    st: Option<DeliveryState>,
    limit: i64,
) -> AppResult<Vec<Delivery>> {
    let q = match st {
        Some(st) => ranged(
            scope,
            format!(
                "SELECT {COLS} FROM notify_deliveries WHERE region_code >= $1 AND region_code < $2 \
                 AND state = $3 ORDER BY id DESC LIMIT $4"
            ),
        )
        .bind(st.as_str())
        .bind(limit),
        None => ranged(
            scope,
            format!(
                "SELECT {COLS} FROM notify_deliveries WHERE region_code >= $1 AND region_code < $2 \
                 ORDER BY id DESC LIMIT $3"
            ),
        )
        .bind(limit),
    };
    all(state, q, delivery).await
}

pub(super) async fn counts(state: &AppState, scope: &Scoped<'_>) -> AppResult<Vec<DeliveryCount>> {
    let q = ranged(
        scope,
        "SELECT kind, channel, state, CAST(COUNT(*) AS BIGINT) AS n FROM notify_deliveries \
         WHERE region_code >= $1 AND region_code < $2 GROUP BY kind, channel, state \
         ORDER BY kind, channel, state",
    );
    all(state, q, |r| {
        Ok(DeliveryCount {
            kind: r.try_get("kind")?,
            channel: r.try_get("channel")?,
            state: r.try_get("state")?,
            count: r.try_get("n")?,
        })
    })
    .await
}

/// A secret SMS (a one-time code) for a phone that is no user's or person's: written in the
/// caller's transaction, sent by the next step. Returns its id.
pub(super) async fn insert_secret_sms(
    conn: &mut sqlx::AnyConnection,
    phone_enc: Vec<u8>,
    phone_masked: &str,
    kind: &str,
    body_enc: Vec<u8>,
    dedup_key: &str,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO notify_deliveries (province, notification_id, region_code, kind, channel, \
         recipient, phone_enc, phone_masked, body, body_enc, dedup_key, state, next_attempt_at, created_at) \
         VALUES ('', 0, '', $1, 'sms', 'public', $2, $3, '（验证码短信，内容已加密）', $4, $5, 'queued', $6, $6)",
    )
    .bind(kind)
    .bind(phone_enc)
    .bind(phone_masked)
    .bind(body_enc)
    .bind(dedup_key)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- The escalation engine (`escalate`): rules, progress, and the small reads of other
// areas' outstanding things it needs.

use std::collections::{HashMap, HashSet};

use super::escalate::{Overdue, Progress, Rule, kind_label};

/// The rules officials set (kinds without a row use the defaults).
pub(super) async fn rules(state: &AppState) -> AppResult<Vec<Rule>> {
    let rows = sqlx::query(
        "SELECT kind, repeats, escalate_min, enabled, updated_by FROM escalation_rules ORDER BY kind",
    )
    .fetch_all(state.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let repeats: String = r.try_get("repeats")?;
            let enabled: i64 = r.try_get("enabled")?;
            Ok(Rule {
                label: kind_label(&kind),
                kind,
                repeats: repeats
                    .split(',')
                    .filter_map(|t| t.trim().parse().ok())
                    .collect(),
                escalate_after_min: r.try_get("escalate_min")?,
                enabled: enabled != 0,
                updated_by: r.try_get("updated_by")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

pub(super) async fn put_rule(tx: &mut Tx, rule: &Rule, now: i64) -> AppResult<()> {
    let repeats = rule
        .repeats
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    sqlx::query(
        "INSERT INTO escalation_rules (kind, repeats, escalate_min, enabled, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind) DO UPDATE SET repeats = $2, \
         escalate_min = $3, enabled = $4, updated_by = $5, updated_at = $6",
    )
    .bind(&rule.kind)
    .bind(repeats)
    .bind(rule.escalate_after_min)
    .bind(i64::from(rule.enabled))
    .bind(&rule.updated_by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The step a report rule has run to for a form's period (0: none).
pub(super) async fn run_step(state: &AppState, key: &str) -> AppResult<i64> {
    let s: Option<i64> = sqlx::query_scalar("SELECT step FROM escalation_runs WHERE run_key = $1")
        .bind(key)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(s.unwrap_or(0))
}

pub(super) async fn set_run_step(
    state: &AppState,
    key: &str,
    step: i64,
    now: i64,
) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO escalation_runs (run_key, step, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (run_key) DO UPDATE SET step = $2, updated_at = $3",
    )
    .bind(key)
    .bind(step)
    .bind(now)
    .execute(w.conn())
    .await?;
    w.commit().await?;
    Ok(())
}

/// The end of the range of subjects starting with `prefix`.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Where each thing of a kind is, by subject (those starting with `prefix`).
pub(super) async fn progress(
    state: &AppState,
    kind: &str,
    prefix: &str,
) -> AppResult<HashMap<String, Progress>> {
    let rows = sqlx::query(
        "SELECT subject, reminders, escalated_at FROM escalations \
         WHERE kind = $1 AND subject >= $2 AND subject < $3",
    )
    .bind(kind)
    .bind(prefix)
    .bind(prefix_end(prefix))
    .fetch_all(state.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let at: Option<i64> = r.try_get("escalated_at")?;
            Ok((
                r.try_get("subject")?,
                Progress {
                    reminders: r.try_get("reminders")?,
                    escalated: at.is_some(),
                },
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

pub(super) async fn put_progress(
    tx: &mut Tx,
    kind: &str,
    it: &Overdue,
    reminders: i64,
    escalated_at: Option<i64>,
    leader_masked: &str,
    now: i64,
) -> AppResult<()> {
    let province: String = it.region_code.chars().take(2).collect();
    sqlx::query(
        "INSERT INTO escalations (province, kind, subject, region_code, unit, due_at, reminders, \
         last_at, escalated_at, leader_masked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (province, kind, subject) DO UPDATE SET reminders = $7, last_at = $8, \
         escalated_at = COALESCE(escalations.escalated_at, $9), \
         leader_masked = CASE WHEN $10 = '' THEN escalations.leader_masked ELSE $10 END",
    )
    .bind(province)
    .bind(kind)
    .bind(&it.subject)
    .bind(&it.region_code)
    .bind(&it.unit)
    .bind(it.due_at)
    .bind(reminders)
    .bind(now)
    .bind(escalated_at)
    .bind(leader_masked)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The units whose thing of a kind escalated, among subjects starting with `prefix`.
pub(super) async fn escalated_units(
    state: &AppState,
    kind: &str,
    prefix: &str,
) -> AppResult<HashSet<String>> {
    let units: Vec<String> = sqlx::query_scalar(
        "SELECT unit FROM escalations WHERE kind = $1 AND subject >= $2 AND subject < $3 \
         AND escalated_at IS NOT NULL",
    )
    .bind(kind)
    .bind(prefix)
    .bind(prefix_end(prefix))
    .fetch_all(state.db.pool())
    .await?;
    Ok(units.into_iter().collect())
}

/// Things only looked at this far back (an upgrade does not chase last year's tasks).
const LOOK_BACK_MS: i64 = 30 * 24 * 3600 * 1000;

/// The outstanding things of a kind other than reports, due by `now`: inspection problems
/// open past their deadline, shortages unanswered, care tasks open past their due time. Only
/// references and units' names are read (no description, need or quantity).
pub(super) async fn overdue(state: &AppState, kind: &str, now: i64) -> AppResult<Vec<Overdue>> {
    let sql = match kind {
        "rectification" => {
            "SELECT p.id, p.region_code, i.unit, i.unit_name AS name, p.deadline_ms AS due_at, \
             p.deadline AS due_text FROM inspection_problems p JOIN inspections i ON i.id = p.inspection_id \
             WHERE p.status = 'open' AND p.deadline_ms <= $1 AND p.deadline_ms > $2 ORDER BY p.id LIMIT 50000"
        }
        "shortage" => {
            "SELECT s.id, s.region_code, s.region_code AS unit, o.name, s.created_at AS due_at, \
             '' AS due_text FROM inst_shortages s JOIN orgs o ON o.id = s.org_id \
             WHERE s.status = 'open' AND s.created_at <= $1 AND s.created_at > $2 ORDER BY s.id LIMIT 50000"
        }
        "care_task" => {
            "SELECT t.id, p.region_code, p.region_code AS unit, '' AS name, t.due_ms AS due_at, \
             t.due_date AS due_text FROM care_tasks t JOIN persons p ON p.id = t.person_id \
             WHERE t.status = 'open' AND t.due_ms <= $1 AND t.due_ms > $2 ORDER BY t.id LIMIT 50000"
        }
        _ => return Ok(Vec::new()),
    };
    let rows = sqlx::query(sql)
        .bind(now)
        .bind(now - LOOK_BACK_MS)
        .fetch_all(state.db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get("id")?;
            let name: String = r.try_get("name")?;
            let due_text: String = r.try_get("due_text")?;
            let (subject, unit_name, what) = match kind {
                "rectification" => (
                    format!("problem:{id}"),
                    name,
                    format!("督导问题（编号 {id}）已过整改期限 {due_text}"),
                ),
                "shortage" => (
                    format!("shortage:{id}"),
                    name,
                    format!("物资缺口（编号 {id}）尚未答复"),
                ),
                _ => (
                    format!("care_task:{id}"),
                    "关爱任务".to_string(),
                    format!("编号 {id} 的关爱任务已过期限 {due_text}"),
                ),
            };
            Ok(Overdue {
                subject,
                region_code: r.try_get("region_code")?,
                unit: r.try_get("unit")?,
                unit_name,
                due_at: r.try_get("due_at")?,
                what,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// The phones of units, by unit, in two queries whatever their number: `org:ID` (or a bare
/// id) is the organisation's contact; a region code is its 村（居）委会's contact (the first
/// active one with a phone). Units of neither shape are left out.
pub(super) async fn leader_phones(
    state: &AppState,
    units: &[String],
) -> AppResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    let mut orgs: Vec<i64> = Vec::new();
    let mut regions: Vec<&str> = Vec::new();
    for u in units {
        if let Some(id) = u.strip_prefix("org:").and_then(|o| o.parse::<i64>().ok()) {
            orgs.push(id);
        } else if !u.is_empty() && u.len() <= 12 && u.bytes().all(|b| b.is_ascii_digit()) {
            regions.push(u);
        }
    }
    orgs.sort_unstable();
    orgs.dedup();
    regions.sort_unstable();
    regions.dedup();
    for chunk in orgs.chunks(500) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, contact_phone FROM orgs WHERE id IN ({list}) AND contact_phone <> ''"
        )))
        .fetch_all(state.db.pool())
        .await?;
        for r in rows {
            let id: i64 = r.try_get("id")?;
            out.insert(format!("org:{id}"), r.try_get("contact_phone")?);
        }
    }
    for chunk in regions.chunks(500) {
        // Digits only (checked above), so quoting them is safe.
        let list = chunk
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(",");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT region_code, contact_phone FROM orgs WHERE kind = 'community_committee' \
             AND disabled = 0 AND contact_phone <> '' AND region_code IN ({list}) ORDER BY id DESC"
        )))
        .fetch_all(state.db.pool())
        .await?;
        for r in rows {
            // Newest first, so the oldest committee's phone is the one kept.
            out.insert(r.try_get("region_code")?, r.try_get("contact_phone")?);
        }
    }
    Ok(out)
}

mod people;
mod send;
pub(super) use people::*;
pub(super) use send::*;
