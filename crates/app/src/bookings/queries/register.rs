//! The SQL of the registration rules: where a couple may register (place rules per region),
//! the registries designated for marriages involving foreigners or residents of Hong Kong,
//! Macao and Taiwan, divorce cooling-off periods and the pre-check of bookings.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::bookings::OrgInfo;
use crate::bookings::divorce::Divorce;
use crate::bookings::precheck::Precheck;
use crate::bookings::province_of;
use crate::kernel::access::Tx;
use crate::kernel::error::AppResult;
use crate::state::AppState;
use backstop_core::clock::rfc3339;

/// Every place rule: (region, rule).
pub(in crate::bookings) async fn place_rules(state: &AppState) -> AppResult<Vec<(String, String)>> {
    let rows =
        sqlx::query("SELECT region_code, rule FROM booking_place_rules ORDER BY region_code")
            .fetch_all(state.db.pool())
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("region_code")?, r.try_get("rule")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(Into::into)
}

/// Set (or replace) the place rule of a region; the rule before, if any.
pub(in crate::bookings) async fn set_place_rule(
    tx: &mut Tx,
    region: &str,
    rule: &str,
    by: &str,
) -> AppResult<Option<String>> {
    let before: Option<String> =
        sqlx::query_scalar("SELECT rule FROM booking_place_rules WHERE region_code = $1")
            .bind(region.to_string())
            .fetch_optional(&mut *tx.conn())
            .await?;
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "INSERT INTO booking_place_rules (region_code, rule, set_by, set_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (region_code) DO UPDATE SET rule = excluded.rule, set_by = excluded.set_by, \
             set_at = excluded.set_at",
        )
        .bind(region.to_string())
        .bind(rule.to_string())
        .bind(by.to_string())
        .bind(now),
    )
    .await?;
    Ok(before)
}

/// Is a registry designated for marriages involving foreigners or Hong Kong, Macao and Taiwan?
pub(in crate::bookings) async fn designated(state: &AppState, org_id: i64) -> AppResult<bool> {
    let d: Option<i64> =
        sqlx::query_scalar("SELECT designated FROM booking_designations WHERE org_id = $1")
            .bind(org_id)
            .fetch_optional(state.db.pool())
            .await?;
    Ok(d.unwrap_or(0) != 0)
}

/// The names of the designated registries of a province.
pub(in crate::bookings) async fn designated_names(
    state: &AppState,
    province: &str,
) -> AppResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT o.name FROM booking_designations d JOIN orgs o ON o.id = d.org_id \
         WHERE d.designated = 1 AND o.region_code LIKE $1 ORDER BY o.name",
    )
    .bind(format!("{province}%"))
    .fetch_all(state.db.pool())
    .await?)
}

/// Designate a registry or withdraw the designation.
pub(in crate::bookings) async fn set_designated(
    tx: &mut Tx,
    org_id: i64,
    designated: bool,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "INSERT INTO booking_designations (org_id, designated, set_by, set_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id) DO UPDATE SET designated = excluded.designated, \
             set_by = excluded.set_by, set_at = excluded.set_at",
        )
        .bind(org_id)
        .bind(i64::from(designated))
        .bind(by.to_string())
        .bind(now),
    )
    .await
}

const D_COLS: &str = "id, org_id, region_code, application_id, applied_on, earliest, latest, status, \
    certificate_booking_id, reminded";

fn divorce_from_row(r: &AnyRow) -> Result<Divorce, sqlx::Error> {
    let status: String = r.try_get("status")?;
    Ok(Divorce {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        region_code: r.try_get("region_code")?,
        application_id: r.try_get("application_id")?,
        applied_on: r.try_get("applied_on")?,
        earliest: r.try_get("earliest")?,
        latest: r.try_get("latest")?,
        status_label: crate::bookings::divorce::status_label(&status).to_string(),
        status,
        certificate_booking_id: r.try_get("certificate_booking_id")?,
        reminded: r.try_get("reminded")?,
    })
}

/// Start the cooling-off period of a divorce application received on `applied_on`.
pub(in crate::bookings) async fn insert_divorce(
    tx: &mut Tx,
    org: &OrgInfo,
    application_id: i64,
    applied_on: &str,
    earliest: &str,
    latest: &str,
) -> AppResult<i64> {
    let now = tx.now();
    tx.insert(
        sqlx::query(
            "INSERT INTO booking_divorces (province, org_id, region_code, application_id, applied_on, \
             earliest, latest, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'cooling', $8, $8) RETURNING id",
        )
        .bind(province_of(&org.region_code))
        .bind(org.id)
        .bind(org.region_code.clone())
        .bind(application_id)
        .bind(applied_on.to_string())
        .bind(earliest.to_string())
        .bind(latest.to_string())
        .bind(now),
    )
    .await
}

/// One divorce application by id (the caller admits it).
pub(in crate::bookings) async fn divorce(state: &AppState, id: i64) -> AppResult<Option<Divorce>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {D_COLS} FROM booking_divorces WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(r.as_ref().map(divorce_from_row).transpose()?)
}

/// The divorce application a booking is (its application or its certificate), if any.
pub(in crate::bookings) async fn divorce_of_booking(
    state: &AppState,
    booking_id: i64,
) -> AppResult<Option<Divorce>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {D_COLS} FROM booking_divorces WHERE application_id = $1 OR certificate_booking_id = $1"
    )))
    .bind(booking_id)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(r.as_ref().map(divorce_from_row).transpose()?)
}

/// The cooling-off applications at a registry whose parties are exactly these ID numbers
/// (blind indexes), newest first.
pub(in crate::bookings) async fn divorces_of_parties(
    state: &AppState,
    org_id: i64,
    id_indexes: &[String],
) -> AppResult<Vec<Divorce>> {
    let (Some(a), Some(b)) = (id_indexes.first(), id_indexes.get(1)) else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {D_COLS} FROM booking_divorces d WHERE d.org_id = $1 AND d.status = 'cooling' \
         AND EXISTS (SELECT 1 FROM booking_parties p WHERE p.booking_id = d.application_id AND p.province = d.province AND p.id_index = $2) \
         AND EXISTS (SELECT 1 FROM booking_parties p WHERE p.booking_id = d.application_id AND p.province = d.province AND p.id_index = $3) \
         ORDER BY d.id DESC"
    )))
    .bind(org_id)
    .bind(a.clone())
    .bind(b.clone())
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(divorce_from_row)
        .collect::<Result<Vec<_>, _>>()?)
}

/// The applications still cooling off (for the ticker).
pub(in crate::bookings) async fn cooling(state: &AppState) -> AppResult<Vec<Divorce>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {D_COLS} FROM booking_divorces WHERE status = 'cooling' ORDER BY id"
    )))
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(divorce_from_row)
        .collect::<Result<Vec<_>, _>>()?)
}

/// The applications of a registry (newest first).
pub(in crate::bookings) async fn divorces_at(
    state: &AppState,
    org_id: i64,
) -> AppResult<Vec<Divorce>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {D_COLS} FROM booking_divorces WHERE org_id = $1 ORDER BY id DESC LIMIT 500"
    )))
    .bind(org_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(divorce_from_row)
        .collect::<Result<Vec<_>, _>>()?)
}

/// Move an application from `from` to `to` (and record its certificate booking); rows changed.
pub(in crate::bookings) async fn divorce_status(
    tx: &mut Tx,
    d: &Divorce,
    from: &str,
    to: &str,
    certificate: Option<i64>,
) -> AppResult<u64> {
    let now = tx.now();
    tx.changed(
        sqlx::query(
            "UPDATE booking_divorces SET status = $1, certificate_booking_id = COALESCE($2, certificate_booking_id), \
             updated_at = $3 WHERE id = $4 AND province = $5 AND status = $6",
        )
        .bind(to.to_string())
        .bind(certificate)
        .bind(now)
        .bind(d.id)
        .bind(province_of(&d.region_code))
        .bind(from.to_string()),
    )
    .await
}

/// Record the certificate booking of an application (booked or rebooked).
pub(in crate::bookings) async fn divorce_certificate(
    tx: &mut Tx,
    d: &Divorce,
    booking_id: i64,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "UPDATE booking_divorces SET certificate_booking_id = $1, updated_at = $2 \
             WHERE id = $3 AND province = $4",
        )
        .bind(booking_id)
        .bind(now)
        .bind(d.id)
        .bind(province_of(&d.region_code)),
    )
    .await
}

/// Record a reminder as sent.
pub(in crate::bookings) async fn divorce_reminded(
    tx: &mut Tx,
    d: &Divorce,
    reminded: &str,
) -> AppResult<()> {
    tx.exec(
        sqlx::query("UPDATE booking_divorces SET reminded = $1 WHERE id = $2 AND province = $3")
            .bind(reminded.to_string())
            .bind(d.id)
            .bind(province_of(&d.region_code)),
    )
    .await
}

/// Does a booking hold its place (status booked)?
pub(in crate::bookings) async fn booking_status(
    state: &AppState,
    booking_id: i64,
) -> AppResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT status FROM bookings WHERE id = $1")
            .bind(booking_id)
            .fetch_optional(state.db.pool())
            .await?,
    )
}

const P_COLS: &str = "id, booking_id, org_id, region_code, data_enc, documents, status, missing, \
    answered_by, answered_at, submitted_at";

fn precheck_from_row(r: &AnyRow) -> Result<(Precheck, Vec<u8>), sqlx::Error> {
    let status: String = r.try_get("status")?;
    let docs: String = r.try_get("documents")?;
    Ok((
        Precheck {
            id: r.try_get("id")?,
            booking_id: r.try_get("booking_id")?,
            org_id: r.try_get("org_id")?,
            region_code: r.try_get("region_code")?,
            data: Default::default(),
            documents: docs
                .split(',')
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
            status_label: crate::bookings::precheck::status_label(&status).to_string(),
            status,
            missing: r.try_get("missing")?,
            answered_by: r.try_get("answered_by")?,
            answered_at: r.try_get::<Option<i64>, _>("answered_at")?.map(rfc3339),
            submitted_at: rfc3339(r.try_get("submitted_at")?),
        },
        r.try_get("data_enc")?,
    ))
}

/// The pre-check of a booking (sealed data alongside), if submitted.
pub(in crate::bookings) async fn precheck(
    state: &AppState,
    booking_id: i64,
) -> AppResult<Option<(Precheck, Vec<u8>)>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {P_COLS} FROM booking_prechecks WHERE booking_id = $1"
    )))
    .bind(booking_id)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(r.as_ref().map(precheck_from_row).transpose()?)
}

/// The pre-checks of a registry with a status (oldest first).
pub(in crate::bookings) async fn prechecks_at(
    state: &AppState,
    org_id: i64,
    status: &str,
) -> AppResult<Vec<(Precheck, Vec<u8>)>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {P_COLS} FROM booking_prechecks WHERE org_id = $1 AND status = $2 ORDER BY submitted_at, id LIMIT 500"
    )))
    .bind(org_id)
    .bind(status.to_string())
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(precheck_from_row)
        .collect::<Result<Vec<_>, _>>()?)
}

/// Submit (or resubmit) the pre-check of a booking: back to `submitted`.
pub(in crate::bookings) async fn submit_precheck(
    tx: &mut Tx,
    org: &OrgInfo,
    booking_id: i64,
    data_enc: Vec<u8>,
    documents: &str,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "INSERT INTO booking_prechecks (province, booking_id, org_id, region_code, data_enc, documents, \
             status, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, 'submitted', $7) \
             ON CONFLICT (province, booking_id) DO UPDATE SET data_enc = excluded.data_enc, \
             documents = excluded.documents, status = 'submitted', missing = '', answered_by = NULL, \
             answered_at = NULL, submitted_at = excluded.submitted_at",
        )
        .bind(province_of(&org.region_code))
        .bind(booking_id)
        .bind(org.id)
        .bind(org.region_code.clone())
        .bind(data_enc)
        .bind(documents.to_string())
        .bind(now),
    )
    .await
}

/// Staff's answer to a submitted pre-check; rows changed (0: not waiting any more).
pub(in crate::bookings) async fn answer_precheck(
    tx: &mut Tx,
    p: &Precheck,
    status: &str,
    missing: &str,
    by: &str,
) -> AppResult<u64> {
    let now = tx.now();
    tx.changed(
        sqlx::query(
            "UPDATE booking_prechecks SET status = $1, missing = $2, answered_by = $3, answered_at = $4 \
             WHERE id = $5 AND province = $6 AND status = 'submitted'",
        )
        .bind(status.to_string())
        .bind(missing.to_string())
        .bind(by.to_string())
        .bind(now)
        .bind(p.id)
        .bind(province_of(&p.region_code)),
    )
    .await
}
