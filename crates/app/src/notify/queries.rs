//! Every SQL statement of notification delivery: the notifications not yet dispatched, an institution's contact phone, and the delivery rows.

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

/// An active institution's contact phone, if it has one.
pub(super) async fn org_phone(state: &AppState, org: i64) -> AppResult<Option<String>> {
    let p: Option<String> = sqlx::query_scalar("SELECT contact_phone FROM orgs WHERE id = $1")
        .bind(org)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(p.filter(|p| !p.trim().is_empty()))
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

/// A delivery due to be sent.
pub(super) struct DueRow {
    pub id: i64,
    pub notification_id: i64,
    pub region_code: String,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub phone_enc: Option<Vec<u8>>,
    pub body: String,
    /// The sealed text of a secret message (a one-time code), sent instead of `body`.
    pub body_enc: Option<Vec<u8>>,
    pub dedup_key: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

pub(super) async fn due(state: &AppState, now: i64, limit: i64) -> AppResult<Vec<DueRow>> {
    let rows = sqlx::query(
        "SELECT id, notification_id, region_code, kind, channel, recipient, phone_enc, body, \
         body_enc, dedup_key, attempts, next_attempt_at FROM notify_deliveries \
         WHERE state = 'queued' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(state.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DueRow {
                id: r.try_get("id")?,
                notification_id: r.try_get("notification_id")?,
                region_code: r.try_get("region_code")?,
                kind: r.try_get("kind")?,
                channel: r.try_get("channel")?,
                recipient: r.try_get("recipient")?,
                phone_enc: r.try_get("phone_enc")?,
                body: r.try_get("body")?,
                body_enc: r.try_get("body_enc")?,
                dedup_key: r.try_get("dedup_key")?,
                attempts: r.try_get("attempts")?,
                next_attempt_at: r.try_get("next_attempt_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Claim a due delivery by moving its next attempt to `lease` (only if nobody moved it since
/// it was read); whether this worker has it.
pub(super) async fn claim(state: &AppState, id: i64, seen: i64, lease: i64) -> AppResult<bool> {
    let mut w = state.db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE notify_deliveries SET next_attempt_at = $1 \
         WHERE id = $2 AND state = 'queued' AND next_attempt_at = $3",
    )
    .bind(lease)
    .bind(id)
    .bind(seen)
    .execute(w.conn())
    .await?
    .rows_affected();
    w.commit().await?;
    Ok(n == 1)
}

async fn update(
    state: &AppState,
    sql: &'static str,
    bind: impl FnOnce(crate::kernel::queries::AnyQuery<'_>) -> crate::kernel::queries::AnyQuery<'_>,
) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    bind(sqlx::query(sql)).execute(w.conn()).await?;
    w.commit().await?;
    Ok(())
}

pub(super) async fn mark_sent(state: &AppState, id: i64, attempts: i64, now: i64) -> AppResult<()> {
    update(
        state,
        "UPDATE notify_deliveries SET state = 'sent', attempts = $1, sent_at = $2, last_error = '' WHERE id = $3",
        |q| q.bind(attempts).bind(now).bind(id),
    )
    .await
}

pub(super) async fn retry_later(
    state: &AppState,
    id: i64,
    attempts: i64,
    error: &str,
    at: i64,
) -> AppResult<()> {
    let error = error.to_string();
    update(
        state,
        "UPDATE notify_deliveries SET attempts = $1, last_error = $2, next_attempt_at = $3 WHERE id = $4",
        move |q| q.bind(attempts).bind(error).bind(at).bind(id),
    )
    .await
}

pub(super) async fn mark_failed(
    state: &AppState,
    id: i64,
    attempts: i64,
    error: &str,
) -> AppResult<()> {
    let error = error.to_string();
    update(
        state,
        "UPDATE notify_deliveries SET state = 'failed', attempts = $1, last_error = $2 WHERE id = $3",
        move |q| q.bind(attempts).bind(error).bind(id),
    )
    .await
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
