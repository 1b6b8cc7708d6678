//! Booking outcomes (done, no-show), the late-cancel setting, and the facts the booking
//! statistics count.

use std::collections::BTreeMap;

use sqlx::Row;

use crate::bookings::book::Booking;
use crate::bookings::province_of;
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::AppResult;
use crate::kernel::queries::{all, ranged_between};
use crate::state::AppState;

/// Mark a booked booking `done` or `no_show` (its parties' hold released); rows changed.
pub(in crate::bookings) async fn mark_outcome(
    tx: &mut Tx,
    b: &Booking,
    outcome: &str,
) -> AppResult<u64> {
    let now = tx.now();
    let n = tx
        .changed(
            sqlx::query(
                "UPDATE bookings SET status = $1, outcome_at = $2, updated_at = $2 \
                 WHERE id = $3 AND province = $4 AND status = 'booked'",
            )
            .bind(outcome.to_string())
            .bind(now)
            .bind(b.id)
            .bind(province_of(&b.region_code)),
        )
        .await?;
    super::book::release_parties(tx, b).await?;
    Ok(n)
}

/// The late-cancel hours set, per organisation.
pub(in crate::bookings) async fn late_cancel_hours(
    state: &AppState,
) -> AppResult<BTreeMap<i64, i64>> {
    Ok(all(
        state,
        sqlx::query("SELECT org_id, late_cancel_hours FROM booking_org_settings"),
        |r| Ok((r.try_get("org_id")?, r.try_get("late_cancel_hours")?)),
    )
    .await?
    .into_iter()
    .collect())
}

/// Set an organisation's late-cancel hours.
pub(in crate::bookings) async fn set_late_cancel(
    tx: &mut Tx,
    org_id: i64,
    hours: i64,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "INSERT INTO booking_org_settings (org_id, late_cancel_hours, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (org_id) DO UPDATE SET \
             late_cancel_hours = excluded.late_cancel_hours, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(org_id)
        .bind(hours)
        .bind(by.to_string())
        .bind(now),
    )
    .await
}

/// What the statistics need of one booking.
pub(in crate::bookings) struct BookingFact {
    pub region_code: String,
    pub org_id: i64,
    pub day: String,
    pub starts: String,
    pub status: String,
    /// When it last changed (for a cancelled one: when it was cancelled).
    pub updated_at: i64,
}

/// The bookings on the days `[from, to]` under the handle.
pub(in crate::bookings) async fn booking_facts(
    state: &AppState,
    scope: &Scoped<'_>,
    from: &str,
    to: &str,
) -> AppResult<Vec<BookingFact>> {
    let sql = "SELECT region_code, org_id, day, starts, status, updated_at FROM bookings \
         WHERE region_code >= $1 AND region_code < $2 AND day >= $3 AND day <= $4";
    all(state, ranged_between(scope, sql, from, to), |r| {
        Ok(BookingFact {
            region_code: r.try_get("region_code")?,
            org_id: r.try_get("org_id")?,
            day: r.try_get("day")?,
            starts: r.try_get("starts")?,
            status: r.try_get("status")?,
            updated_at: r.try_get("updated_at")?,
        })
    })
    .await
}

/// Bookings moved off a day by rebooking, per (region, organisation, old day) in `[from, to]`.
pub(in crate::bookings) async fn rebooked(
    state: &AppState,
    scope: &Scoped<'_>,
    from: &str,
    to: &str,
) -> AppResult<Vec<(String, i64, String, i64)>> {
    let sql = "SELECT region_code, org_id, old_day, CAST(COUNT(*) AS BIGINT) AS n FROM booking_rebookings \
         WHERE region_code >= $1 AND region_code < $2 AND old_day >= $3 AND old_day <= $4 \
         GROUP BY region_code, org_id, old_day";
    all(state, ranged_between(scope, sql, from, to), |r| {
        Ok((
            r.try_get("region_code")?,
            r.try_get("org_id")?,
            r.try_get("old_day")?,
            r.try_get("n")?,
        ))
    })
    .await
}
