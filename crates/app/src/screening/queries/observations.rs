//! Observation rows: the observation admitted by the handle (with its four and check-ins),
//! the scoped list, and the writes of starting, checking in, extending and closing.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::super::observation::{Checkin, Keeper, Listed, Observation};
use super::super::{OUTCOMES, fmt_ms, label, slot_label};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{all, ranged, region_name};
use crate::people::shown;
use crate::privacy;
use crate::state::AppState;

const OBS_COLS: &str = "o.id, o.person_id, p.name AS person_name, o.region_code, \
    r.name AS region_name, o.reason, o.reason_enc, o.started_at, o.ends_on, o.status, o.status_enc, \
    o.closed_at, o.close_note, o.close_note_enc, o.created_by";

fn status_label(s: &str) -> &'static str {
    match s {
        "active" => "观察中",
        other => label(&OUTCOMES, other),
    }
}

/// An observation row, its sealed fields opened (a closed one's outcome is sealed; the clear
/// status keeps only `active` / `closed`).
fn obs_from_row(keys: &KeyRing, r: &AnyRow) -> Result<Observation, sqlx::Error> {
    let status = privacy::text(keys, r, "status")?;
    Ok(Observation {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        name_masked: shown::name_in_list(&r.try_get::<String, _>("person_name")?),
        region_code: r.try_get("region_code")?,
        region_name: region_name(r)?,
        reason: privacy::text(keys, r, "reason")?,
        started_at: fmt_ms(r.try_get("started_at")?),
        ends_on: r.try_get("ends_on")?,
        status_label: status_label(&status).to_string(),
        status,
        closed_at: r.try_get::<Option<i64>, _>("closed_at")?.map(fmt_ms),
        close_note: privacy::text(keys, r, "close_note")?,
        started_by: r.try_get("created_by")?,
        keepers: Vec::new(),
        checkins: Vec::new(),
    })
}

/// The observation `id` under the handle (without its four and check-ins), on `conn` — the
/// pool's or the open write's.
pub(in crate::screening) async fn observation(
    conn: &mut AnyConnection,
    keys: &KeyRing,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Observation> {
    let sql = format!(
        "SELECT {OBS_COLS} FROM observations o JOIN persons p ON p.id = o.person_id \
         LEFT JOIN regions r ON r.code = o.region_code WHERE o.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(AppError::not_found)?;
    let o = obs_from_row(keys, &row)?;
    scope.admit(&o.region_code.clone(), o)
}

/// The observation `id` under the handle, with its four (each phone opened into
/// `Keeper::phone`; the service decides who keeps it) and its last 200 check-ins.
pub(in crate::screening) async fn observation_full(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Observation> {
    let mut conn = state.db.pool().acquire().await?;
    let mut o = observation(&mut conn, &state.keys, scope, id).await?;
    let rows = sqlx::query(
        "SELECT role, name, phone_masked, phone_enc FROM observation_keepers WHERE observation_id = $1 \
         ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        o.keepers.push(Keeper {
            role: r.try_get("role")?,
            name: r.try_get("name")?,
            phone_masked: r.try_get("phone_masked")?,
            phone: r
                .try_get::<Option<Vec<u8>>, _>("phone_enc")?
                .and_then(|c| state.keys.decrypt(&c))
                .and_then(|b| String::from_utf8(b).ok()),
        });
    }
    let rows = sqlx::query(
        "SELECT slot, temperature, temperature_enc, symptoms, symptoms_enc, note, note_enc, \
         recorded_by, recorded_at \
         FROM observation_checkins WHERE observation_id = $1 ORDER BY id DESC LIMIT 200",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        o.checkins.push(Checkin {
            slot: slot_label(r.try_get("slot")?),
            temperature: privacy::int(&state.keys, &r, "temperature")?,
            symptoms: privacy::flag(&state.keys, &r, "symptoms")?,
            note: privacy::text(&state.keys, &r, "note")?,
            recorded_by: r.try_get("recorded_by")?,
            recorded_at: fmt_ms(r.try_get("recorded_at")?),
        });
    }
    Ok(o)
}

/// Observations under the handle, newest first, at most 500.
pub(in crate::screening) async fn observations(
    state: &AppState,
    scope: &Scoped<'_>,
    listed: Listed,
) -> AppResult<Vec<Observation>> {
    let status = match listed {
        Listed::Active => "o.status = 'active'",
        Listed::Closed => "o.status <> 'active'",
        Listed::All => "1 = 1",
    };
    let sql = format!(
        "SELECT {OBS_COLS} FROM observations o JOIN persons p ON p.id = o.person_id \
         LEFT JOIN regions r ON r.code = o.region_code \
         WHERE {status} AND o.region_code >= $1 AND o.region_code < $2 ORDER BY o.id DESC LIMIT 500"
    );
    all(state, ranged(scope, sql), |r| obs_from_row(&state.keys, r)).await
}

/// The active observation of a person, if any (inside the write that would start another).
pub(in crate::screening) async fn active_observation_of(
    tx: &mut Tx,
    person_id: i64,
) -> AppResult<Option<i64>> {
    Ok(
        sqlx::query_scalar(
            "SELECT id FROM observations WHERE person_id = $1 AND status = 'active'",
        )
        .bind(person_id)
        .fetch_optional(tx.conn())
        .await?,
    )
}

/// A new observation row.
pub(in crate::screening) struct NewObservationRow<'a> {
    pub person_id: i64,
    pub region_code: &'a str,
    pub reason: &'a str,
    pub ends_on: &'a str,
    pub created_by: &'a str,
}

/// One of the four, phone sealed.
pub(in crate::screening) struct KeeperRow {
    pub role: String,
    pub name: String,
    pub phone_enc: Option<Vec<u8>>,
    pub phone_masked: String,
}

/// Insert an observation (started now) and its four; returns its id. The reason is sealed.
pub(in crate::screening) async fn insert_observation(
    tx: &mut Tx,
    keys: &KeyRing,
    n: &NewObservationRow<'_>,
    keepers: &[KeeperRow],
) -> AppResult<i64> {
    let now = tx.now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO observations (person_id, region_code, reason, reason_enc, started_at, \
         ends_on, status, close_note, created_by, created_at) \
         VALUES ($1, $2, '', $3, $4, $5, 'active', '', $6, $4) RETURNING id",
    )
    .bind(n.person_id)
    .bind(n.region_code)
    .bind(privacy::seal(keys, n.reason))
    .bind(now)
    .bind(n.ends_on)
    .bind(n.created_by)
    .fetch_one(tx.conn())
    .await?;
    for (i, k) in keepers.iter().enumerate() {
        sqlx::query(
            "INSERT INTO observation_keepers (observation_id, seq, role, name, phone_enc, \
             phone_masked) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(i as i64 + 1)
        .bind(&k.role)
        .bind(&k.name)
        .bind(k.phone_enc.clone())
        .bind(&k.phone_masked)
        .execute(tx.conn())
        .await?;
    }
    Ok(id)
}

pub(in crate::screening) async fn set_ends_on(
    tx: &mut Tx,
    id: i64,
    ends_on: &str,
) -> AppResult<()> {
    tx.exec(
        sqlx::query("UPDATE observations SET ends_on = $1 WHERE id = $2")
            .bind(ends_on)
            .bind(id),
    )
    .await
}

/// A check-in row.
pub(in crate::screening) struct CheckinRow<'a> {
    pub slot: i64,
    pub temperature: i64,
    pub symptoms: bool,
    pub note: &'a str,
    pub recorded_by: &'a str,
}

/// Insert a check-in, its temperature, symptoms and note sealed.
pub(in crate::screening) async fn insert_checkin(
    tx: &mut Tx,
    keys: &KeyRing,
    id: i64,
    c: &CheckinRow<'_>,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "INSERT INTO observation_checkins (observation_id, slot, temperature, symptoms, note, \
         temperature_enc, symptoms_enc, note_enc, recorded_by, recorded_at) \
         VALUES ($1, $2, 0, 0, '', $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(c.slot)
        .bind(privacy::seal_int(keys, c.temperature))
        .bind(privacy::seal_flag(keys, c.symptoms))
        .bind(privacy::seal(keys, c.note))
        .bind(c.recorded_by)
        .bind(now),
    )
    .await
}

/// Close an observation: the clear status becomes `closed`, the outcome and note are sealed.
pub(in crate::screening) async fn close_observation(
    tx: &mut Tx,
    keys: &KeyRing,
    id: i64,
    outcome: &str,
    note: &str,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(
        "UPDATE observations SET status = $1, status_enc = $2, closed_at = $3, close_note = '', \
         close_note_enc = $4 WHERE id = $5",
    )
    .bind(privacy::STATUS_CLOSED)
    .bind(privacy::seal(keys, outcome))
    .bind(now)
    .bind(privacy::seal(keys, note))
    .bind(id);
    tx.exec(q).await
}
