//! Bookings, their parties and the capacity counters.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::bookings::book::{Booking, Party, status_label};
use crate::bookings::{OrgInfo, Service, province_of, service_label};
use crate::kernel::access::Tx;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::all;
use crate::state::AppState;
use backstop_core::clock::rfc3339;

/// Take one place of `lane` at (`day`, `starts`) and one of the organisation's day, if the
/// slot has fewer than `places` and the day fewer than `day_cap` booked: conditional updates of
/// the counter rows (made first if missing). False, with nothing changed, when either is full.
pub(in crate::bookings) async fn take(
    tx: &mut Tx,
    org: &OrgInfo,
    lane: &str,
    day: &str,
    starts: &str,
    places: i64,
    day_cap: i64,
) -> AppResult<bool> {
    let province = province_of(&org.region_code);
    tx.exec(
        sqlx::query(
            "INSERT INTO booking_days (province, org_id, day, booked) VALUES ($1, $2, $3, 0) \
             ON CONFLICT (province, org_id, day) DO NOTHING",
        )
        .bind(province.clone())
        .bind(org.id)
        .bind(day.to_string()),
    )
    .await?;
    let got_day = tx
        .changed(
            sqlx::query(
                "UPDATE booking_days SET booked = booked + 1 WHERE province = $1 AND org_id = $2 AND day = $3 \
                 AND booked < $4",
            )
            .bind(province.clone())
            .bind(org.id)
            .bind(day.to_string())
            .bind(day_cap),
        )
        .await?;
    if got_day == 0 {
        return Ok(false);
    }
    tx.exec(
        sqlx::query(
            "INSERT INTO booking_slots (province, lane, org_id, day, starts, booked) VALUES ($1, $2, $3, $4, $5, 0) \
             ON CONFLICT (province, lane, day, starts) DO NOTHING",
        )
        .bind(province.clone())
        .bind(lane.to_string())
        .bind(org.id)
        .bind(day.to_string())
        .bind(starts.to_string()),
    )
    .await?;
    let got_slot = tx
        .changed(
            sqlx::query(
                "UPDATE booking_slots SET booked = booked + 1 WHERE province = $1 AND lane = $2 AND day = $3 \
                 AND starts = $4 AND booked < $5",
            )
            .bind(province.clone())
            .bind(lane.to_string())
            .bind(day.to_string())
            .bind(starts.to_string())
            .bind(places),
        )
        .await?;
    if got_slot == 0 {
        tx.exec(
            sqlx::query(
                "UPDATE booking_days SET booked = booked - 1 WHERE province = $1 AND org_id = $2 AND day = $3",
            )
            .bind(province)
            .bind(org.id)
            .bind(day.to_string()),
        )
        .await?;
        return Ok(false);
    }
    Ok(true)
}

/// Give a place back.
pub(in crate::bookings) async fn release(
    tx: &mut Tx,
    region_code: &str,
    org_id: i64,
    lane: &str,
    day: &str,
    starts: &str,
) -> AppResult<()> {
    let province = province_of(region_code);
    tx.exec(
        sqlx::query(
            "UPDATE booking_days SET booked = booked - 1 WHERE province = $1 AND org_id = $2 AND day = $3 AND booked > 0",
        )
        .bind(province.clone())
        .bind(org_id)
        .bind(day.to_string()),
    )
    .await?;
    tx.exec(
        sqlx::query(
            "UPDATE booking_slots SET booked = booked - 1 WHERE province = $1 AND lane = $2 AND day = $3 \
             AND starts = $4 AND booked > 0",
        )
        .bind(province)
        .bind(lane.to_string())
        .bind(day.to_string())
        .bind(starts.to_string()),
    )
    .await
}

/// Places taken per start time of a lane on a day.
pub(in crate::bookings) async fn slot_counts(
    state: &AppState,
    org: &OrgInfo,
    lane: &str,
    day: &str,
) -> AppResult<(Vec<(String, i64)>, i64)> {
    let province = province_of(&org.region_code);
    let q = sqlx::query(
        "SELECT starts, booked FROM booking_slots WHERE province = $1 AND lane = $2 AND day = $3",
    )
    .bind(province.clone())
    .bind(lane.to_string())
    .bind(day.to_string());
    let slots = all(state, q, |r| {
        Ok((r.try_get("starts")?, r.try_get("booked")?))
    })
    .await?;
    let day_booked: Option<i64> = sqlx::query_scalar(
        "SELECT booked FROM booking_days WHERE province = $1 AND org_id = $2 AND day = $3",
    )
    .bind(province)
    .bind(org.id)
    .bind(day.to_string())
    .fetch_optional(state.db.pool())
    .await?;
    Ok((slots, day_booked.unwrap_or(0)))
}

/// A sealed party.
pub(in crate::bookings) struct PartyRow {
    pub name_enc: Vec<u8>,
    pub name_masked: String,
    pub id_enc: Vec<u8>,
    pub id_index: String,
    pub id_masked: String,
    pub sex: String,
    pub id_type: String,
    pub household_region: String,
}

/// A new booking's fields.
pub(in crate::bookings) struct BookingRow<'a> {
    pub number: &'a str,
    pub service: &'a Service,
    pub day: &'a str,
    pub starts: &'a str,
    pub channel: &'a str,
    pub phone_enc: Vec<u8>,
    pub phone_index: String,
    pub phone_masked: String,
    pub attendance: i64,
    pub ceremony: bool,
    pub idem: Option<&'a str>,
    pub by: &'a str,
}

pub(in crate::bookings) async fn insert_booking(
    tx: &mut Tx,
    org: &OrgInfo,
    b: &BookingRow<'_>,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO bookings (province, number, org_id, region_code, service_id, day, starts, status, channel, \
         phone_enc, phone_index, phone_masked, attendance, ceremony, idem, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'booked', $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) RETURNING id",
    )
    .bind(province_of(&org.region_code))
    .bind(b.number.to_string())
    .bind(org.id)
    .bind(org.region_code.clone())
    .bind(b.service.id)
    .bind(b.day.to_string())
    .bind(b.starts.to_string())
    .bind(b.channel.to_string())
    .bind(b.phone_enc.clone())
    .bind(b.phone_index.clone())
    .bind(b.phone_masked.clone())
    .bind(b.attendance)
    .bind(i64::from(b.ceremony))
    .bind(b.idem.map(str::to_string))
    .bind(b.by.to_string())
    .bind(now);
    tx.insert(q).await
}

pub(in crate::bookings) async fn insert_party(
    tx: &mut Tx,
    org: &OrgInfo,
    booking_id: i64,
    position: usize,
    p: &PartyRow,
) -> AppResult<()> {
    let q = sqlx::query(
        "INSERT INTO booking_parties (province, booking_id, position, name_enc, name_masked, id_enc, id_index, \
         id_masked, sex, id_type, household_region, active) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1)",
    )
    .bind(province_of(&org.region_code))
    .bind(booking_id)
    .bind(i64::try_from(position).unwrap_or(0))
    .bind(p.name_enc.clone())
    .bind(p.name_masked.clone())
    .bind(p.id_enc.clone())
    .bind(p.id_index.clone())
    .bind(p.id_masked.clone())
    .bind(p.sex.clone())
    .bind(p.id_type.clone())
    .bind(p.household_region.clone());
    tx.exec(q).await
}

/// Does an ID number (blind index) hold an active booking anywhere?
pub(in crate::bookings) async fn active_party(state: &AppState, id_index: &str) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM booking_parties WHERE id_index = $1 AND active = 1",
    )
    .bind(id_index.to_string())
    .fetch_one(state.db.pool())
    .await?;
    Ok(n > 0)
}

/// The booking a phone made under an idempotency key.
pub(in crate::bookings) async fn by_key(
    state: &AppState,
    phone_index: &str,
    key: &str,
) -> AppResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM bookings WHERE phone_index = $1 AND idem = $2")
            .bind(phone_index.to_string())
            .bind(key.to_string())
            .fetch_optional(state.db.pool())
            .await?,
    )
}

const B_COLS: &str = "b.id, b.number, b.org_id, o.name AS org_name, b.region_code, b.service_id, s.kind AS service_kind, \
    b.day, b.starts, b.status, b.channel, b.phone_masked, b.attendance, b.ceremony, b.created_at";
const B_FROM: &str =
    "FROM bookings b JOIN orgs o ON o.id = b.org_id JOIN booking_services s ON s.id = b.service_id";

pub(super) fn booking_from_row(r: &AnyRow) -> Result<Booking, sqlx::Error> {
    let status: String = r.try_get("status")?;
    let kind: String = r.try_get("service_kind")?;
    Ok(Booking {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        org_id: r.try_get("org_id")?,
        org_name: r.try_get("org_name")?,
        region_code: r.try_get("region_code")?,
        service_id: r.try_get("service_id")?,
        service_label: service_label(&kind).to_string(),
        service_kind: kind,
        day: r.try_get("day")?,
        starts: r.try_get("starts")?,
        status_label: status_label(&status).to_string(),
        status,
        channel: r.try_get("channel")?,
        phone_masked: r.try_get("phone_masked")?,
        attendance: r.try_get("attendance")?,
        ceremony: r.try_get::<i64, _>("ceremony")? != 0,
        parties: Vec::new(),
        created_at: rfc3339(r.try_get("created_at")?),
        rebooking: None,
    })
}

fn party_from_row(r: &AnyRow) -> Result<(i64, Party), sqlx::Error> {
    Ok((
        r.try_get("booking_id")?,
        Party {
            name: r.try_get("name_masked")?,
            id_number: r.try_get("id_masked")?,
            sex: r.try_get("sex")?,
            id_type: r.try_get("id_type")?,
        },
    ))
}

/// One booking with its parties and pending rebooking (the caller admits it).
pub(in crate::bookings) async fn booking(state: &AppState, id: i64) -> AppResult<Booking> {
    let sql = format!("SELECT {B_COLS} {B_FROM} WHERE b.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let mut b = booking_from_row(&row)?;
    let q = sqlx::query(
        "SELECT booking_id, name_masked, id_masked, sex, id_type FROM booking_parties WHERE booking_id = $1 ORDER BY position",
    )
    .bind(id);
    b.parties = all(state, q, party_from_row)
        .await?
        .into_iter()
        .map(|p| p.1)
        .collect();
    b.rebooking = super::pending_rebooking(state, id).await?;
    Ok(b)
}

/// The booking with a number.
pub(in crate::bookings) async fn booking_by_number(
    state: &AppState,
    number: &str,
) -> AppResult<Option<Booking>> {
    if number.len() < 3 {
        return Ok(None);
    }
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM bookings WHERE province = $1 AND number = $2")
            .bind(number[..2].to_string())
            .bind(number.to_string())
            .fetch_optional(state.db.pool())
            .await?;
    match id {
        Some(id) => Ok(Some(booking(state, id).await?)),
        None => Ok(None),
    }
}

/// The phone blind index a booking was made with.
pub(in crate::bookings) async fn phone_index_of(state: &AppState, id: i64) -> AppResult<String> {
    Ok(
        sqlx::query_scalar("SELECT phone_index FROM bookings WHERE id = $1")
            .bind(id)
            .fetch_optional(state.db.pool())
            .await?
            .unwrap_or_default(),
    )
}

/// The bookings of an organisation on a day with their parties, by slot then booking time.
pub(in crate::bookings) async fn bookings_on(
    state: &AppState,
    org_id: i64,
    day: &str,
) -> AppResult<Vec<Booking>> {
    let sql = format!(
        "SELECT {B_COLS} {B_FROM} WHERE b.org_id = $1 AND b.day = $2 ORDER BY b.starts, b.created_at, b.id LIMIT 5000"
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .bind(day.to_string());
    let mut list = all(state, q, booking_from_row).await?;
    let q = sqlx::query(
        "SELECT p.booking_id, p.name_masked, p.id_masked, p.sex, p.id_type FROM booking_parties p JOIN bookings b ON b.id = p.booking_id AND b.province = p.province \
         WHERE b.org_id = $1 AND b.day = $2 ORDER BY p.booking_id, p.position",
    )
    .bind(org_id)
    .bind(day.to_string());
    for (bid, p) in all(state, q, party_from_row).await? {
        if let Some(b) = list.iter_mut().find(|b| b.id == bid) {
            b.parties.push(p);
        }
    }
    Ok(list)
}

/// The booked (not cancelled, not already rebooking) bookings of an organisation on a day, in
/// order of booking time, read in the open transaction.
pub(in crate::bookings) async fn booked_on(
    tx: &mut Tx,
    org_id: i64,
    day: &str,
) -> AppResult<Vec<Booking>> {
    let sql = format!(
        "SELECT {B_COLS} {B_FROM} WHERE b.org_id = $1 AND b.day = $2 AND b.status = 'booked' ORDER BY b.created_at, b.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .bind(day.to_string())
        .fetch_all(tx.conn())
        .await?;
    Ok(rows
        .iter()
        .map(booking_from_row)
        .collect::<Result<_, _>>()?)
}

/// Move a booking to a day and slot (booked again).
pub(in crate::bookings) async fn move_booking(
    tx: &mut Tx,
    b: &Booking,
    day: &str,
    starts: &str,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query("UPDATE bookings SET day = $1, starts = $2, status = 'booked', updated_at = $3 WHERE id = $4")
            .bind(day.to_string())
            .bind(starts.to_string())
            .bind(now)
            .bind(b.id),
    )
    .await
}

/// Cancel a booking and release its parties' hold.
pub(in crate::bookings) async fn cancel_booking(tx: &mut Tx, b: &Booking) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query("UPDATE bookings SET status = 'cancelled', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(b.id),
    )
    .await?;
    release_parties(tx, b).await
}

/// Release a booking's parties' hold (they may book again).
pub(in crate::bookings) async fn release_parties(tx: &mut Tx, b: &Booking) -> AppResult<()> {
    tx.exec(
        sqlx::query(
            "UPDATE booking_parties SET active = 0 WHERE booking_id = $1 AND province = $2",
        )
        .bind(b.id)
        .bind(province_of(&b.region_code)),
    )
    .await
}

/// The sealed phone of a booking.
pub(in crate::bookings) async fn phone_of(tx: &mut Tx, id: i64) -> AppResult<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar("SELECT phone_enc FROM bookings WHERE id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?,
    )
}
