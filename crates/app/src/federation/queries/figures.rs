//! The SQL of aggregate figures (migration 0060): at the parent the lines each node sent
//! (`fed_figures`), at the child the hash of the last snapshot queued (`fed_snapshots`) and the
//! outbox row that carries it.

use sqlx::Row;

use crate::federation::Node;
use crate::federation::figures::FigureLine;
use crate::kernel::access::Tx;
use crate::kernel::error::AppResult;
use crate::privacy;
use crate::state::AppState;
use backstop_core::region::province_of;

pub(in crate::federation) async fn under(
    state: &AppState,
    kind: &str,
    period: &str,
    lo: &str,
    hi: &str,
) -> AppResult<Vec<FigureLine>> {
    let rows = sqlx::query(
        "SELECT node_id, region_code, own_level, body FROM fed_figures \
         WHERE kind = $1 AND period = $2 AND region_code >= $3 AND region_code < $4",
    )
    .bind(kind.to_string())
    .bind(period.to_string())
    .bind(lo.to_string())
    .bind(hi.to_string())
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(FigureLine {
            node_id: r.try_get("node_id")?,
            region_code: r.try_get("region_code")?,
            own_level: r.try_get::<i64, _>("own_level")? != 0,
            body: r.try_get("body")?,
        });
    }
    Ok(out)
}

/// When the node's kept snapshot of `kind` and `period` was computed, if any.
pub(in crate::federation) async fn as_of(
    state: &AppState,
    node: &Node,
    kind: &str,
    period: &str,
) -> AppResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT MAX(as_of) FROM fed_figures WHERE province = $1 AND node_id = $2 AND kind = $3 AND period = $4",
    )
    .bind(province_of(&node.region_code))
    .bind(node.id)
    .bind(kind.to_string())
    .bind(period.to_string())
    .fetch_one(state.db.pool())
    .await?)
}

/// Replace the node's lines of `kind` and `period` with `lines` (region, own level, body).
pub(in crate::federation) async fn replace(
    tx: &mut Tx,
    node: &Node,
    kind: &str,
    period: &str,
    as_of: i64,
    lines: &[(String, bool, String)],
) -> AppResult<()> {
    let province = province_of(&node.region_code);
    let q = sqlx::query(
        "DELETE FROM fed_figures WHERE province = $1 AND node_id = $2 AND kind = $3 AND period = $4",
    )
    .bind(province.clone())
    .bind(node.id)
    .bind(kind.to_string())
    .bind(period.to_string());
    tx.exec(q).await?;
    let now = tx.now();
    for (region, own, body) in lines {
        let q = sqlx::query(
            "INSERT INTO fed_figures (province, node_id, kind, period, region_code, own_level, body, as_of, \
             received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(province.clone())
        .bind(node.id)
        .bind(kind.to_string())
        .bind(period.to_string())
        .bind(region.clone())
        .bind(i64::from(*own))
        .bind(body.clone())
        .bind(as_of)
        .bind(now);
        tx.exec(q).await?;
    }
    Ok(())
}

/// The hash of the last snapshot queued at this child, and its time.
pub(in crate::federation) async fn last(
    state: &AppState,
    kind: &str,
    period: &str,
) -> AppResult<Option<(String, i64)>> {
    let row =
        sqlx::query("SELECT hash, queued_at FROM fed_snapshots WHERE kind = $1 AND period = $2")
            .bind(kind.to_string())
            .bind(period.to_string())
            .fetch_optional(state.db.pool())
            .await?;
    Ok(match row {
        Some(r) => Some((r.try_get("hash")?, r.try_get("queued_at")?)),
        None => None,
    })
}

/// Queue a snapshot: the outbox row, then the hash remembered (nothing without a parent). Not
/// one transaction: a stop between the two only queues the same snapshot again next time, which
/// the parent takes as a replacement like any other.
pub(in crate::federation) async fn queue(
    state: &AppState,
    region: &str,
    kind: &str,
    period: &str,
    hash: &str,
    body: &str,
    now: i64,
) -> AppResult<()> {
    let pool = state.db.pool();
    let inserted = sqlx::query(super::child::PUSH_OUTBOX)
        .bind(province_of(region))
        .bind(format!("figures:{kind}:{period}:{now}"))
        .bind("figures")
        .bind(privacy::seal(&state.keys, body))
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected();
    if inserted > 0 {
        sqlx::query("DELETE FROM fed_snapshots WHERE kind = $1 AND period = $2")
            .bind(kind.to_string())
            .bind(period.to_string())
            .execute(pool)
            .await?;
        sqlx::query(
            "INSERT INTO fed_snapshots (kind, period, hash, queued_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(kind.to_string())
        .bind(period.to_string())
        .bind(hash.to_string())
        .bind(now)
        .execute(pool)
        .await?;
    }
    Ok(())
}
