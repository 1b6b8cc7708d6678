//! Immediate reports with their acknowledgement (`incident_acks`). The report's values and
//! the handling text are sealed (migration 0025) and opened here for those who may read them.

use sqlx::Row;

use crate::kernel::access::{Scoped, Tx};
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::AppResult;
use crate::kernel::queries::{admitted, all, ranged};
use crate::privacy;
use crate::reports::incidents::{Ack, Incident};
use crate::state::AppState;

const COLS: &str = "s.id, s.unit, s.region_code, s.period, s.body, s.body_enc, s.submitted_at, s.submitted_by, \
    a.acked_by, a.acked_at, a.handling, a.handling_enc, COALESCE(o.name, r.name) AS unit_name";
const FROM: &str = "FROM report_submissions s LEFT JOIN incident_acks a ON a.province = s.province AND a.submission_id = s.id \
    LEFT JOIN regions r ON r.code = s.unit \
    LEFT JOIN orgs o ON s.unit = 'org:' || CAST(o.id AS TEXT)";

fn from_row(keys: &KeyRing, r: &sqlx::any::AnyRow) -> Result<Incident, sqlx::Error> {
    let body = privacy::text(keys, r, "body")?;
    let at: i64 = r.try_get("submitted_at")?;
    let acked_by: Option<String> = r.try_get("acked_by")?;
    let ack = match acked_by {
        Some(by) => Some(Ack {
            by,
            at: backstop_core::clock::from_millis(
                r.try_get::<Option<i64>, _>("acked_at")?.unwrap_or(0),
            )
            .to_rfc3339(),
            handling: privacy::opt_text(keys, r, "handling")?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Incident {
        id: r.try_get("id")?,
        unit: r.try_get("unit")?,
        unit_name: r
            .try_get::<Option<String>, _>("unit_name")?
            .unwrap_or_default(),
        region_code: r.try_get("region_code")?,
        period: r.try_get("period")?,
        values: serde_json::from_str(&body).unwrap_or_default(),
        submitted_at: backstop_core::clock::from_millis(at).to_rfc3339(),
        submitted_by: r.try_get("submitted_by")?,
        ack,
    })
}

/// Incidents under the handle, newest first; `open_only` hides acknowledged ones.
pub(in crate::reports) async fn incidents(
    state: &AppState,
    scope: &Scoped<'_>,
    open_only: bool,
    limit: i64,
) -> AppResult<Vec<Incident>> {
    let open = if open_only {
        " AND a.submission_id IS NULL"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {COLS} {FROM} WHERE s.template_key = 'incident' AND s.region_code >= $1 AND s.region_code < $2{open} \
         ORDER BY s.id DESC LIMIT $3"
    );
    all(state, ranged(scope, sql).bind(limit), |r| {
        from_row(&state.keys, r)
    })
    .await
}

/// One incident under the handle (else *not found*).
pub(in crate::reports) async fn incident(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Incident> {
    let sql = format!("SELECT {COLS} {FROM} WHERE s.template_key = 'incident' AND s.id = $1");
    let map = |r: &sqlx::any::AnyRow| from_row(&state.keys, r);
    admitted(state, scope, sql, id, map, |i| &i.region_code).await
}

/// Record the acknowledgement of an incident by `by`.
pub(in crate::reports) async fn insert_ack(
    tx: &mut Tx,
    keys: &KeyRing,
    inc: &Incident,
    by: &str,
    handling: &str,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO incident_acks (submission_id, region_code, acked_by, acked_at, handling, \
         handling_enc, province) VALUES ($1,$2,$3,$4,'',$5,$6)",
    )
    .bind(inc.id)
    .bind(&inc.region_code)
    .bind(by)
    .bind(now)
    .bind(privacy::seal(keys, handling))
    .bind(crate::audit::chain_of(&inc.region_code).to_string());
    tx.exec(q).await
}
