//! Rows of the missed check-in sweep: every active observation (the sweep runs for the
//! system, not for an actor), the slots checked in and alerted, and the writes of one alert
//! (claimed once per slot and level) with its notifications.

use sqlx::Row;

use crate::kernel::access::Tx;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// An active observation as the sweep needs it.
pub(in crate::screening) struct ActiveObservation {
    pub id: i64,
    pub region_code: String,
    pub started_at: i64,
    pub ends_on: String,
    pub person_name: String,
}

/// Every active observation, by id.
pub(in crate::screening) async fn active_observations(
    state: &AppState,
) -> AppResult<Vec<ActiveObservation>> {
    let rows = sqlx::query(
        "SELECT o.id, o.region_code, o.started_at, o.ends_on, p.name FROM observations o \
         JOIN persons p ON p.id = o.person_id WHERE o.status = 'active' ORDER BY o.id",
    )
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(ActiveObservation {
            id: r.try_get("id")?,
            region_code: r.try_get("region_code")?,
            started_at: r.try_get("started_at")?,
            ends_on: r.try_get("ends_on")?,
            person_name: r.try_get("name")?,
        });
    }
    Ok(out)
}

/// Slots from `first` on of an observation: those with a check-in, and the (slot, level)
/// pairs already alerted.
pub(in crate::screening) async fn slots_since(
    state: &AppState,
    id: i64,
    first: i64,
) -> AppResult<(Vec<i64>, Vec<(i64, i64)>)> {
    let done: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT slot FROM observation_checkins WHERE observation_id = $1 AND slot >= $2",
    )
    .bind(id)
    .bind(first)
    .fetch_all(state.db.pool())
    .await?;
    let alerted: Vec<(i64, i64)> = sqlx::query(
        "SELECT slot, level FROM observation_alerts WHERE observation_id = $1 AND slot >= $2",
    )
    .bind(id)
    .bind(first)
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| Ok((r.try_get("slot")?, r.try_get("level")?)))
    .collect::<Result<_, sqlx::Error>>()?;
    Ok((done, alerted))
}

/// Claim the alert of a slot and level: false when it was already made.
pub(in crate::screening) async fn claim_alert(
    tx: &mut Tx,
    id: i64,
    slot: i64,
    level: i64,
    now: i64,
) -> AppResult<bool> {
    let fresh = sqlx::query(
        "INSERT INTO observation_alerts (observation_id, slot, level, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (observation_id, slot, level) DO NOTHING",
    )
    .bind(id)
    .bind(slot)
    .bind(level)
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(fresh > 0)
}

/// The four of an observation: (seq, role, name).
pub(in crate::screening) async fn keepers_of(
    tx: &mut Tx,
    id: i64,
) -> AppResult<Vec<(i64, String, String)>> {
    let rows = sqlx::query(
        "SELECT seq, role, name FROM observation_keepers WHERE observation_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(tx.conn())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for k in rows {
        out.push((k.try_get("seq")?, k.try_get("role")?, k.try_get("name")?));
    }
    Ok(out)
}
