//! Blocked dates and mass rebooking (改约, issue 19 item 4). Blocking a day of an organisation
//! (or a cap, a closure or an emergency cap below what is booked) moves the affected bookings
//! into the rebooking queue in one transaction: each gives up its place, and in order of
//! booking time Backstop proposes the nearest free slot of the same service (held for it: the
//! counters count it, so it cannot be taken meanwhile) and queues a text to the party through
//! notify's outbox (template `booking_rebook`, with the reason). The party accepts, chooses
//! another slot or cancels (public page, number and a code); staff see who has not answered
//! and call them (`unplaced`: no free slot in the window). Nobody is lost: a booking leaves
//! the queue only by an answer, and every step is in the log.

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::book::{Booking, Rebooking};
use super::rules;
use super::{OrgInfo, queries};
use crate::audit::Who;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field, text_field};
use crate::state::AppState;

/// Body of `POST /api/v1/bookings/orgs/{id}/block`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct BlockInput {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// The explanation sent to every party.
    pub reason: String,
}

/// What blocking did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BlockOutcome {
    pub org_id: i64,
    pub day: String,
    /// Bookings moved to rebooking.
    pub moved: i64,
    /// Of them, given a proposed slot.
    pub proposed: i64,
    /// Of them, without a free slot in the window (staff call them).
    pub unplaced: i64,
}

/// Block a day: no more bookings, and every booking of it goes to rebooking.
pub async fn block(
    state: &AppState,
    actor: &Actor,
    org_id: i64,
    input: &BlockInput,
) -> AppResult<BlockOutcome> {
    actor.require(Permission::BookingsManage)?;
    let o = super::org(state, actor, org_id).await?;
    let day = date_field("day", &input.day)?;
    if day < state.today() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "day",
            "不能停办已经过去的日期",
        ));
    }
    let reason = text_field("reason", &input.reason, 200, true)?;
    let day_s = day.format("%Y-%m-%d").to_string();
    super::refuse_blocked(state, o.id, &day_s).await?;
    let mut tx = Tx::begin(state, actor).await?;
    queries::upsert_date(
        &mut tx,
        &o,
        &day_s,
        "blocked",
        None,
        &reason,
        &actor.username,
    )
    .await?;
    let moved = displace(state, &mut tx, &o, &day_s, 0, &reason).await?;
    let (proposed, unplaced) = queries::rebook_counts(&mut tx, o.id, &day_s).await?;
    tx.commit(
        Change::new(
            "booking.block",
            "booking_date",
            format!("{}:{day_s}", o.id),
            &o.region_code,
        )
        .detail(json!({"org_id": o.id, "day": day_s, "moved": moved,
                "proposed": proposed, "unplaced": unplaced}))
        .free_text("reason", &reason),
    )
    .await?;
    Ok(BlockOutcome {
        org_id: o.id,
        day: day_s,
        moved,
        proposed,
        unplaced,
    })
}

/// In the open transaction: move the bookings of `org` on `day` beyond the first `keep` (in
/// order of booking time) to rebooking, proposing each the nearest free slot and queueing its
/// notice. How many moved.
pub(super) async fn displace(
    state: &AppState,
    tx: &mut Tx,
    org: &OrgInfo,
    day: &str,
    keep: i64,
    reason: &str,
) -> AppResult<i64> {
    let list = queries::booked_on(tx, org.id, day).await?;
    let moving: Vec<&Booking> = list
        .iter()
        .skip(usize::try_from(keep).unwrap_or(0))
        .collect();
    if moving.is_empty() {
        return Ok(0);
    }
    let services = queries::services(state, org.id).await?;
    let dates = queries::dates_tx(tx, org.id).await?;
    let emergencies = queries::emergencies_for_tx(tx, &org.region_code, &org.kind).await?;
    let today = state.today();
    let from = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap_or(today);
    for b in &moving {
        let Some(service) = services.iter().find(|s| s.id == b.service_id) else {
            continue;
        };
        let lane = rules::lane(service);
        queries::release(tx, &b.region_code, org.id, &lane, &b.day, &b.starts).await?;
        // Nearest first: the day after, the day before, two after …; never today or earlier,
        // never beyond the window, never the day being cleared.
        let mut found: Option<(String, String)> = None;
        'days: for k in 1..=service.window_days.max(1) {
            for d in [
                from + chrono::Duration::days(k),
                from - chrono::Duration::days(k),
            ] {
                if d <= today || (d - today).num_days() > service.window_days {
                    continue;
                }
                let rule = rules::rule(service, &org.kind, d, &dates, &emergencies);
                if !rule.open {
                    continue;
                }
                let d_s = d.format("%Y-%m-%d").to_string();
                for s in rules::starts(service) {
                    let cap = rule.day_cap.unwrap_or(i64::MAX);
                    if queries::take(tx, org, &lane, &d_s, &s, rule.places, cap).await? {
                        found = Some((d_s, s));
                        break 'days;
                    }
                }
            }
        }
        let status = if found.is_some() {
            "proposed"
        } else {
            "unplaced"
        };
        let rid = queries::insert_rebooking(tx, b, found.as_ref(), reason, status).await?;
        queries::set_rebooking(tx, b).await?;
        notify(state, tx, b, org, found.as_ref(), reason, rid).await?;
        tx.also(
            Change::new("booking.rebook_propose", "booking", b.id, &b.region_code).detail(json!({
                "rebooking": rid, "old": format!("{} {}", b.day, b.starts),
                "proposed": found.as_ref().map(|(d, s)| format!("{d} {s}")), "status": status})),
        );
    }
    Ok(i64::try_from(moving.len()).unwrap_or(0))
}

/// Queue the notice of a rebooking to the booking's phone (sealed SMS through the outbox).
async fn notify(
    state: &AppState,
    tx: &mut Tx,
    b: &Booking,
    org: &OrgInfo,
    proposal: Option<&(String, String)>,
    reason: &str,
    rid: i64,
) -> AppResult<()> {
    let Some(phone) = queries::phone_of(tx, b.id)
        .await?
        .and_then(|enc| state.keys.decrypt(&enc))
        .and_then(|p| String::from_utf8(p).ok())
    else {
        return Ok(());
    };
    let proposal = match proposal {
        Some((d, s)) => format!("已为您预留 {d} {s}"),
        None => "暂无可预留的时段，工作人员将与您联系".to_string(),
    };
    let fields = [
        ("org", org.name.clone()),
        ("number", b.number.clone()),
        ("old", format!("{} {}", b.day, b.starts)),
        ("reason", reason.to_string()),
        ("proposal", proposal),
    ];
    let text = crate::notify::templates::render(tx.conn(), "booking_rebook", &fields).await?;
    crate::notify::queue_secret_sms(
        state,
        tx.conn(),
        &phone,
        "booking_rebook",
        &format!("【兜底】{}", text.body),
        &format!("rebook-{}-{rid}", super::province_of(&b.region_code)),
    )
    .await?;
    queries::mark_notified(tx, b, rid).await
}

/// The party accepts the proposed slot.
pub(crate) async fn accept(state: &AppState, who: Who, b: &Booking) -> AppResult<Booking> {
    let Some(r) = b.rebooking.as_ref().filter(|r| r.status == "proposed") else {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "该预约没有待确认的改约时段",
        ));
    };
    let (Some(d), Some(s)) = (&r.new_day, &r.new_starts) else {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "该预约没有待确认的改约时段",
        ));
    };
    let mut tx = Tx::begin_as(state, who).await?;
    queries::move_booking(&mut tx, b, d, s).await?;
    queries::answer_rebooking(&mut tx, r, "accepted").await?;
    tx.commit(
        Change::new("booking.rebook_accept", "booking", b.id, &b.region_code).detail(json!({
            "rebooking": r.id, "day": {"before": b.day, "after": d}, "starts": {"before": b.starts, "after": s}})),
    )
    .await?;
    queries::booking(state, b.id).await
}

/// Staff accept for the party (they answered on the phone).
pub async fn staff_accept(state: &AppState, actor: &Actor, id: i64) -> AppResult<Booking> {
    actor.require(Permission::BookingsManage)?;
    let b = super::book::get(state, actor, id).await?;
    accept(state, Who::from(actor), &b).await
}

/// The rebookings of an organisation not yet answered (proposed or unplaced), in order of
/// booking time: who staff must call.
pub async fn waiting(state: &AppState, actor: &Actor, org_id: i64) -> AppResult<Vec<Rebooking>> {
    let o = super::org(state, actor, org_id).await?;
    queries::waiting(state, o.id).await
}
