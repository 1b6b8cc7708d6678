//! The notification SQL of the send step: the due deliveries, claiming a batch of them in one
//! write transaction, and recording the batch's outcomes in another. Every write names the
//! row by its `(province, id)` key — on PostgreSQL that is the primary key; `id` alone is in
//! no index there, and each `WHERE id = $1` was a scan of the whole table (docs/BENCHMARKS.md,
//! "The 10:00 deadline", the batched sender).

use std::collections::BTreeMap;

use super::*;

/// A delivery due to be sent.
pub(in crate::notify) struct DueRow {
    pub id: i64,
    pub province: String,
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
}

/// The deliveries due at `now`, oldest due first (the index of migration 0037).
pub(in crate::notify) async fn due(
    state: &AppState,
    now: i64,
    limit: i64,
) -> AppResult<Vec<DueRow>> {
    let rows = sqlx::query(
        "SELECT id, province, notification_id, region_code, kind, channel, recipient, phone_enc, \
         body, body_enc, dedup_key, attempts FROM notify_deliveries \
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
                province: r.try_get("province")?,
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
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Claim the read deliveries that are still queued and due at `now` by moving their next
/// attempt to `lease`, in one write transaction (one statement per province and 500 ids);
/// the ids this worker now holds. A row another worker claimed or answered since it was read
/// has a next attempt after `now` (or is no longer queued) and is left alone.
pub(in crate::notify) async fn claim(
    state: &AppState,
    rows: &[&DueRow],
    now: i64,
    lease: i64,
) -> AppResult<Vec<i64>> {
    let mut by_province: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for r in rows {
        by_province.entry(&r.province).or_default().push(r.id);
    }
    let mut w = state.db.begin_write().await?;
    let mut held = Vec::with_capacity(rows.len());
    for (province, ids) in by_province {
        for chunk in ids.chunks(500) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let got: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "UPDATE notify_deliveries SET next_attempt_at = $1 \
                 WHERE province = $2 AND id IN ({list}) AND state = 'queued' \
                 AND next_attempt_at <= $3 RETURNING id"
            )))
            .bind(lease)
            .bind(province)
            .bind(now)
            .fetch_all(w.conn())
            .await?;
            held.extend(got);
        }
    }
    w.commit().await?;
    Ok(held)
}

/// What one send attempt came to, as recorded.
pub(in crate::notify) enum Outcome {
    /// Handed on (2xx) at this time.
    Sent { at: i64 },
    /// Try again at `at` (a timeout, a 5xx, a 429 before the last attempt).
    Retry { error: String, at: i64 },
    /// Given up: a refusal, or the last attempt failed.
    Failed { error: String },
}

/// Record the outcomes of a batch in one write transaction: (province, id, attempts, outcome).
pub(in crate::notify) async fn record(
    state: &AppState,
    outcomes: &[(String, i64, i64, Outcome)],
) -> AppResult<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let mut w = state.db.begin_write().await?;
    for (province, id, attempts, outcome) in outcomes {
        let q = match outcome {
            Outcome::Sent { at } => sqlx::query(
                "UPDATE notify_deliveries SET state = 'sent', attempts = $1, sent_at = $2, \
                 last_error = '' WHERE province = $3 AND id = $4",
            )
            .bind(*attempts)
            .bind(*at),
            Outcome::Retry { error, at } => sqlx::query(
                "UPDATE notify_deliveries SET attempts = $1, last_error = $2, \
                 next_attempt_at = $3 WHERE province = $4 AND id = $5",
            )
            .bind(*attempts)
            .bind(error.as_str())
            .bind(*at),
            Outcome::Failed { error } => sqlx::query(
                "UPDATE notify_deliveries SET state = 'failed', attempts = $1, last_error = $2 \
                 WHERE province = $3 AND id = $4",
            )
            .bind(*attempts)
            .bind(error.as_str()),
        };
        q.bind(province.as_str())
            .bind(*id)
            .execute(w.conn())
            .await?;
    }
    w.commit().await?;
    Ok(())
}
