//! Funeral capacity (issue 19 item 5): body collection requests, their jobs on vehicles and
//! cremators, the claim rows that keep a resource from being booked twice, the resources'
//! service state, marking a registry person deceased, and the tallies of the rollup.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::bookings::funeral::{Job, Request, Unit};
use crate::bookings::province_of;
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{all, ranged, ranged_between, text_or_empty};
use crate::state::AppState;
use backstop_core::clock::rfc3339;

fn unit_from_row(r: &AnyRow) -> Result<Unit, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    Ok(Unit {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        kind_label: crate::bookings::resource_label(&kind).to_string(),
        kind,
        name: r.try_get("name")?,
        designated: r.try_get::<i64, _>("designated")? != 0,
        out_of_service: r.try_get::<i64, _>("out_of_service")? != 0,
        note: r.try_get("service_note")?,
    })
}

const UNIT_COLS: &str = "id, org_id, kind, name, designated, out_of_service, service_note";

/// The vehicles and cremators of a funeral home.
pub(in crate::bookings) async fn units(state: &AppState, org_id: i64) -> AppResult<Vec<Unit>> {
    let sql = format!(
        "SELECT {UNIT_COLS} FROM booking_resources WHERE org_id = $1 AND kind IN ('vehicle', 'cremator') \
         ORDER BY kind DESC, name, id"
    );
    all(
        state,
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org_id),
        unit_from_row,
    )
    .await
}

/// One vehicle or cremator (any organisation: the service checks it belongs to the home).
pub(in crate::bookings) async fn unit(state: &AppState, id: i64) -> AppResult<Unit> {
    let sql = format!(
        "SELECT {UNIT_COLS} FROM booking_resources WHERE id = $1 AND kind IN ('vehicle', 'cremator')"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .map(|r| unit_from_row(&r))
        .transpose()?
        .ok_or_else(AppError::not_found)
}

/// Set a unit's designation and service state.
pub(in crate::bookings) async fn set_unit(
    tx: &mut Tx,
    id: i64,
    designated: bool,
    out_of_service: bool,
    note: &str,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "UPDATE booking_resources SET designated = $2, out_of_service = $3, service_note = $4, \
             updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(i64::from(designated))
        .bind(i64::from(out_of_service))
        .bind(note.to_string())
        .bind(now),
    )
    .await
}

/// A request as stored, ready to insert.
pub(in crate::bookings) struct RequestRow<'a> {
    pub number: &'a str,
    pub org_id: i64,
    pub region_code: &'a str,
    pub source: &'a str,
    pub from_org_id: Option<i64>,
    pub person_id: Option<i64>,
    pub name_enc: Vec<u8>,
    pub name_masked: String,
    pub id_enc: Option<Vec<u8>>,
    pub id_index: String,
    pub id_masked: String,
    pub place_enc: Vec<u8>,
    pub place_masked: String,
    pub died_at: &'a str,
    pub phone_enc: Vec<u8>,
    pub phone_masked: String,
    pub epidemic: bool,
    pub farewell: bool,
    pub attendance: i64,
    pub idem: Option<&'a str>,
    pub by: &'a str,
}

/// Insert a request (status `requested`).
pub(in crate::bookings) async fn insert_request(tx: &mut Tx, r: &RequestRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO funeral_requests (province, number, org_id, region_code, source, from_org_id, person_id, \
         name_enc, name_masked, id_enc, id_index, id_masked, place_enc, place_masked, died_at, phone_enc, \
         phone_masked, epidemic, farewell, attendance, status, idem, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         'requested', $21, $22, $23, $23) RETURNING id",
    )
    .bind(province_of(r.region_code))
    .bind(r.number.to_string())
    .bind(r.org_id)
    .bind(r.region_code.to_string())
    .bind(r.source.to_string())
    .bind(r.from_org_id)
    .bind(r.person_id)
    .bind(r.name_enc.clone())
    .bind(r.name_masked.clone())
    .bind(r.id_enc.clone())
    .bind(r.id_index.clone())
    .bind(r.id_masked.clone())
    .bind(r.place_enc.clone())
    .bind(r.place_masked.clone())
    .bind(r.died_at.to_string())
    .bind(r.phone_enc.clone())
    .bind(r.phone_masked.clone())
    .bind(i64::from(r.epidemic))
    .bind(i64::from(r.farewell))
    .bind(r.attendance)
    .bind(r.idem.map(str::to_string))
    .bind(r.by.to_string())
    .bind(now);
    tx.insert(q).await
}

const REQUEST_COLS: &str = "f.id, f.number, f.org_id, o.name AS org_name, f.region_code, f.source, \
     f.from_org_id, f.person_id, f.name_masked, f.id_masked, f.place_masked, f.died_at, f.phone_masked, \
     f.epidemic, f.farewell, f.attendance, f.status, f.created_at";

fn request_from_row(r: &AnyRow) -> Result<Request, sqlx::Error> {
    let status: String = r.try_get("status")?;
    Ok(Request {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        org_id: r.try_get("org_id")?,
        org_name: text_or_empty(r, "org_name")?,
        region_code: r.try_get("region_code")?,
        source: r.try_get("source")?,
        from_org_id: r.try_get("from_org_id")?,
        person_id: r.try_get("person_id")?,
        name: r.try_get("name_masked")?,
        id_number: r.try_get("id_masked")?,
        place: r.try_get("place_masked")?,
        died_at: r.try_get("died_at")?,
        phone_masked: r.try_get("phone_masked")?,
        epidemic: r.try_get::<i64, _>("epidemic")? != 0,
        farewell: r.try_get::<i64, _>("farewell")? != 0,
        attendance: r.try_get("attendance")?,
        status_label: crate::bookings::funeral::request_status_label(&status).to_string(),
        status,
        created_at: rfc3339(r.try_get("created_at")?),
        jobs: Vec::new(),
    })
}

/// One request (jobs not filled in), if it exists.
pub(in crate::bookings) async fn request(state: &AppState, id: i64) -> AppResult<Request> {
    let sql = format!(
        "SELECT {REQUEST_COLS} FROM funeral_requests f LEFT JOIN orgs o ON o.id = f.org_id WHERE f.id = $1"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .map(|r| request_from_row(&r))
        .transpose()?
        .ok_or_else(AppError::not_found)
}

/// The request an account made under an `Idempotency-Key`, if any.
pub(in crate::bookings) async fn request_by_key(
    state: &AppState,
    by: &str,
    key: &str,
) -> AppResult<Option<i64>> {
    Ok(
        sqlx::query("SELECT id FROM funeral_requests WHERE created_by = $1 AND idem = $2")
            .bind(by.to_string())
            .bind(key.to_string())
            .fetch_optional(state.db.pool())
            .await?
            .map(|r| r.try_get("id"))
            .transpose()?,
    )
}

/// The open requests of a funeral home (not yet cremated or cancelled), oldest first.
pub(in crate::bookings) async fn open_requests(
    state: &AppState,
    org_id: i64,
) -> AppResult<Vec<Request>> {
    let sql = format!(
        "SELECT {REQUEST_COLS} FROM funeral_requests f LEFT JOIN orgs o ON o.id = f.org_id \
         WHERE f.org_id = $1 AND f.status IN ('requested', 'scheduled', 'collected') ORDER BY f.id LIMIT 500"
    );
    all(
        state,
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org_id),
        request_from_row,
    )
    .await
}

/// Set a request's status.
pub(in crate::bookings) async fn set_request_status(
    tx: &mut Tx,
    id: i64,
    status: &str,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query("UPDATE funeral_requests SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(status.to_string())
            .bind(now),
    )
    .await
}

/// Insert a planned job.
#[allow(clippy::too_many_arguments)]
pub(in crate::bookings) async fn insert_job(
    tx: &mut Tx,
    req: &Request,
    resource_id: i64,
    kind: &str,
    day: &str,
    hour: i64,
    hours: i64,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO funeral_jobs (province, request_id, org_id, region_code, resource_id, kind, day, hour, hours, \
         epidemic, status, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'planned', $11, $12, $12) RETURNING id",
    )
    .bind(province_of(&req.region_code))
    .bind(req.id)
    .bind(req.org_id)
    .bind(req.region_code.clone())
    .bind(resource_id)
    .bind(kind.to_string())
    .bind(day.to_string())
    .bind(hour)
    .bind(hours)
    .bind(i64::from(req.epidemic))
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

/// Claim one hour of a resource for a job: true when claimed, false when another job holds it
/// (the unique key decides, in the database, also under concurrent transactions).
pub(in crate::bookings) async fn claim(
    tx: &mut Tx,
    region_code: &str,
    resource_id: i64,
    day: &str,
    hour: i64,
    job_id: i64,
) -> AppResult<bool> {
    let n = tx
        .changed(
            sqlx::query(
                "INSERT INTO funeral_claims (province, resource_id, day, hour, job_id) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (province, resource_id, day, hour) DO NOTHING",
            )
            .bind(province_of(region_code))
            .bind(resource_id)
            .bind(day.to_string())
            .bind(hour)
            .bind(job_id),
        )
        .await?;
    Ok(n == 1)
}

/// Give back a job's claims.
pub(in crate::bookings) async fn release_claims(
    tx: &mut Tx,
    region_code: &str,
    job_id: i64,
) -> AppResult<()> {
    tx.exec(
        sqlx::query("DELETE FROM funeral_claims WHERE province = $1 AND job_id = $2")
            .bind(province_of(region_code))
            .bind(job_id),
    )
    .await
}

const JOB_COLS: &str = "j.id, j.request_id, j.org_id, j.region_code, j.resource_id, r.name AS resource_name, \
     j.kind, j.day, j.hour, j.hours, j.epidemic, j.status, f.number, f.name_masked";

fn job_from_row(r: &AnyRow) -> Result<Job, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    let status: String = r.try_get("status")?;
    Ok(Job {
        id: r.try_get("id")?,
        request_id: r.try_get("request_id")?,
        org_id: r.try_get("org_id")?,
        region_code: r.try_get("region_code")?,
        resource_id: r.try_get("resource_id")?,
        resource_name: text_or_empty(r, "resource_name")?,
        kind_label: crate::bookings::funeral::job_kind_label(&kind).to_string(),
        kind,
        day: r.try_get("day")?,
        hour: r.try_get("hour")?,
        hours: r.try_get("hours")?,
        epidemic: r.try_get::<i64, _>("epidemic")? != 0,
        status_label: crate::bookings::funeral::job_status_label(&status).to_string(),
        status,
        number: text_or_empty(r, "number")?,
        name: text_or_empty(r, "name_masked")?,
    })
}

const JOB_FROM: &str = "FROM funeral_jobs j LEFT JOIN booking_resources r ON r.id = j.resource_id \
     LEFT JOIN funeral_requests f ON f.id = j.request_id AND f.province = j.province";

/// One job.
pub(in crate::bookings) async fn job(state: &AppState, id: i64) -> AppResult<Job> {
    let sql = format!("SELECT {JOB_COLS} {JOB_FROM} WHERE j.id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .map(|r| job_from_row(&r))
        .transpose()?
        .ok_or_else(AppError::not_found)
}

/// The jobs of a request, in order.
pub(in crate::bookings) async fn jobs_of(state: &AppState, request_id: i64) -> AppResult<Vec<Job>> {
    let sql = format!("SELECT {JOB_COLS} {JOB_FROM} WHERE j.request_id = $1 ORDER BY j.id");
    all(
        state,
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(request_id),
        job_from_row,
    )
    .await
}

/// The jobs of a funeral home on a day (every status), by hour.
pub(in crate::bookings) async fn jobs_on(
    state: &AppState,
    org_id: i64,
    day: &str,
) -> AppResult<Vec<Job>> {
    let sql = format!(
        "SELECT {JOB_COLS} {JOB_FROM} WHERE j.org_id = $1 AND j.day = $2 ORDER BY j.hour, j.id"
    );
    all(
        state,
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .bind(day.to_string()),
        job_from_row,
    )
    .await
}

/// Set a job's status.
pub(in crate::bookings) async fn set_job_status(
    tx: &mut Tx,
    id: i64,
    status: &str,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query("UPDATE funeral_jobs SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(status.to_string())
            .bind(now),
    )
    .await
}

/// The registry person holding an ID number (by its blind index), with region and whether
/// already deceased.
pub(in crate::bookings) async fn person_by_index(
    state: &AppState,
    id_index: &str,
) -> AppResult<Option<i64>> {
    Ok(sqlx::query("SELECT id FROM persons WHERE id_index = $1")
        .bind(id_index.to_string())
        .fetch_optional(state.db.pool())
        .await?
        .map(|r| r.try_get("id"))
        .transpose()?)
}

/// A registry person's region and deceased mark.
pub(in crate::bookings) async fn person_state(
    tx: &mut Tx,
    id: i64,
) -> AppResult<Option<(String, bool)>> {
    let row = sqlx::query("SELECT region_code, deceased FROM persons WHERE id = $1")
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    Ok(match row {
        Some(r) => Some((
            r.try_get("region_code")?,
            r.try_get::<i64, _>("deceased")? != 0,
        )),
        None => None,
    })
}

/// Mark a registry person deceased.
pub(in crate::bookings) async fn mark_deceased(tx: &mut Tx, id: i64) -> AppResult<u64> {
    let now = tx.now();
    tx.changed(
        sqlx::query(
            "UPDATE persons SET deceased = 1, updated_at = $2 WHERE id = $1 AND deceased = 0",
        )
        .bind(id)
        .bind(now),
    )
    .await
}

/// Per request with a job done in `[from, to]` (by the day of its first done job), under the
/// handle: (region, funeral home, that day, epidemic).
pub(in crate::bookings) async fn handled(
    state: &AppState,
    scope: &Scoped<'_>,
    from: &str,
    to: &str,
) -> AppResult<Vec<(String, i64, String, bool)>> {
    let sql = "SELECT f.region_code, f.org_id, MIN(j.day) AS day, f.epidemic FROM funeral_requests f \
         JOIN funeral_jobs j ON j.request_id = f.id AND j.province = f.province AND j.status = 'done' \
         WHERE f.region_code >= $1 AND f.region_code < $2 \
         GROUP BY f.id, f.region_code, f.org_id, f.epidemic";
    let rows = all(state, ranged(scope, sql), |r| {
        Ok((
            r.try_get::<String, _>("region_code")?,
            r.try_get::<i64, _>("org_id")?,
            r.try_get::<String, _>("day")?,
            r.try_get::<i64, _>("epidemic")? != 0,
        ))
    })
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, d, _)| d.as_str() >= from && d.as_str() <= to)
        .collect())
}

/// Capacity used per funeral home, day and kind in `[from, to]` under the handle (jobs not
/// cancelled): (region, home, day, kind, jobs, hours).
pub(in crate::bookings) async fn used(
    state: &AppState,
    scope: &Scoped<'_>,
    from: &str,
    to: &str,
) -> AppResult<Vec<(String, i64, String, String, i64, i64)>> {
    let sql = "SELECT region_code, org_id, day, kind, CAST(COUNT(*) AS BIGINT) AS n, \
         CAST(SUM(hours) AS BIGINT) AS h FROM funeral_jobs \
         WHERE region_code >= $1 AND region_code < $2 AND day >= $3 AND day <= $4 AND status <> 'cancelled' \
         GROUP BY region_code, org_id, day, kind";
    all(state, ranged_between(scope, sql, from, to), |r| {
        Ok((
            r.try_get("region_code")?,
            r.try_get("org_id")?,
            r.try_get("day")?,
            r.try_get("kind")?,
            r.try_get("n")?,
            r.try_get("h")?,
        ))
    })
    .await
}
