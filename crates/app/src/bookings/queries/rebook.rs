//! The rebooking queue.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::bookings::book::{Booking, Rebooking};
use crate::bookings::province_of;
use crate::kernel::access::Tx;
use crate::kernel::error::AppResult;
use crate::kernel::queries::all;
use crate::state::AppState;
use backstop_core::clock::rfc3339;

const R_COLS: &str = "r.id, r.booking_id, b.number, r.org_id, r.old_day, r.old_starts, r.new_day, r.new_starts, \
    r.reason, r.status, b.phone_masked, r.notified_at, r.created_at";

fn rebooking_from_row(r: &AnyRow) -> Result<Rebooking, sqlx::Error> {
    Ok(Rebooking {
        id: r.try_get("id")?,
        booking_id: r.try_get("booking_id")?,
        number: r.try_get("number")?,
        org_id: r.try_get("org_id")?,
        old_day: r.try_get("old_day")?,
        old_starts: r.try_get("old_starts")?,
        new_day: r.try_get("new_day")?,
        new_starts: r.try_get("new_starts")?,
        reason: r.try_get("reason")?,
        status: r.try_get("status")?,
        phone_masked: r.try_get("phone_masked")?,
        notified_at: r.try_get::<Option<i64>, _>("notified_at")?.map(rfc3339),
        created_at: rfc3339(r.try_get("created_at")?),
    })
}

pub(in crate::bookings) async fn insert_rebooking(
    tx: &mut Tx,
    b: &Booking,
    proposal: Option<&(String, String)>,
    reason: &str,
    status: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO booking_rebookings (province, booking_id, org_id, region_code, old_day, old_starts, new_day, \
         new_starts, reason, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(province_of(&b.region_code))
    .bind(b.id)
    .bind(b.org_id)
    .bind(b.region_code.clone())
    .bind(b.day.clone())
    .bind(b.starts.clone())
    .bind(proposal.map(|p| p.0.clone()))
    .bind(proposal.map(|p| p.1.clone()))
    .bind(reason.to_string())
    .bind(status.to_string())
    .bind(now);
    tx.insert(q).await
}

/// Mark a booking as waiting for its rebooking answer.
pub(in crate::bookings) async fn set_rebooking(tx: &mut Tx, b: &Booking) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query("UPDATE bookings SET status = 'rebooking', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(b.id),
    )
    .await
}

pub(in crate::bookings) async fn mark_notified(
    tx: &mut Tx,
    b: &Booking,
    rid: i64,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "UPDATE booking_rebookings SET notified_at = $1 WHERE id = $2 AND province = $3",
        )
        .bind(now)
        .bind(rid)
        .bind(province_of(&b.region_code)),
    )
    .await
}

/// Close a rebooking with the party's answer.
pub(in crate::bookings) async fn answer_rebooking(
    tx: &mut Tx,
    r: &Rebooking,
    status: &str,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query("UPDATE booking_rebookings SET status = $1, answered_at = $2 WHERE id = $3")
            .bind(status.to_string())
            .bind(now)
            .bind(r.id),
    )
    .await
}

/// The rebooking of a booking still waiting for an answer.
pub(in crate::bookings) async fn pending_rebooking(
    state: &AppState,
    booking_id: i64,
) -> AppResult<Option<Rebooking>> {
    let sql = format!(
        "SELECT {R_COLS} FROM booking_rebookings r JOIN bookings b ON b.id = r.booking_id AND b.province = r.province \
         WHERE r.booking_id = $1 AND r.status IN ('proposed', 'unplaced') ORDER BY r.id DESC LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(booking_id)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(row.as_ref().map(rebooking_from_row).transpose()?)
}

/// How many rebookings of a day were proposed a slot and how many were not (in the open
/// transaction).
pub(in crate::bookings) async fn rebook_counts(
    tx: &mut Tx,
    org_id: i64,
    day: &str,
) -> AppResult<(i64, i64)> {
    let rows = sqlx::query(
        "SELECT status, CAST(COUNT(*) AS BIGINT) AS n FROM booking_rebookings WHERE org_id = $1 AND old_day = $2 \
         AND status IN ('proposed', 'unplaced') GROUP BY status",
    )
    .bind(org_id)
    .bind(day.to_string())
    .fetch_all(tx.conn())
    .await?;
    let mut out = (0, 0);
    for r in rows {
        let s: String = r.try_get("status")?;
        let n: i64 = r.try_get("n")?;
        if s == "proposed" {
            out.0 = n;
        } else {
            out.1 = n;
        }
    }
    Ok(out)
}

/// The rebookings of an organisation not answered yet, in order of booking time.
pub(in crate::bookings) async fn waiting(
    state: &AppState,
    org_id: i64,
) -> AppResult<Vec<Rebooking>> {
    let sql = format!(
        "SELECT {R_COLS} FROM booking_rebookings r JOIN bookings b ON b.id = r.booking_id AND b.province = r.province \
         WHERE r.org_id = $1 AND r.status IN ('proposed', 'unplaced') ORDER BY b.created_at, b.id LIMIT 5000"
    );
    all(
        state,
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org_id),
        rebooking_from_row,
    )
    .await
}
