//! The divorce cooling-off period (离婚冷静期, Civil Code art. 1077; issue 19 item 3). A
//! divorce is two steps at the same registry. The application (service
//! `divorce_registration`) is booked like any booking; when staff record it done, the
//! registry has received the application on that day and the cooling-off starts: for 30 days
//! either party may withdraw, then within the next 30 days (the 31st to the 60th day after
//! the application) both parties book and come for the certificate (service
//! `divorce_certificate`, bookable only by the two parties of an application cooling off, and
//! only between those days). An application without a certificate by the 60th day lapses
//! (视为撤回). The ticker ([`tick`]) reminds the parties when the certificate window opens and
//! five days before it closes, and lapses what is due; every step is audited.

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use super::book::Booking;
use super::register::CheckedParty;
use super::{OrgInfo, queries};
use crate::audit::Who;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// A divorce application and its cooling-off period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Divorce {
    pub id: i64,
    pub org_id: i64,
    pub region_code: String,
    /// The application's booking.
    pub application_id: i64,
    pub applied_on: String,
    /// The first and last day the certificate may be issued.
    pub earliest: String,
    pub latest: String,
    /// `cooling`, `done`, `lapsed` or `withdrawn`.
    pub status: String,
    pub status_label: String,
    pub certificate_booking_id: Option<i64>,
    /// The reminders sent (`opens,`, `closing,`).
    pub reminded: String,
}

/// The Chinese name of a divorce application's status.
pub fn status_label(s: &str) -> &'static str {
    match s {
        "cooling" => "冷静期中",
        "done" => "已领证",
        "lapsed" => "逾期视为撤回",
        "withdrawn" => "已撤回",
        _ => "",
    }
}

/// The certificate window of an application received on `applied_on`: the 31st to the 60th
/// day after it.
pub fn window(applied_on: NaiveDate) -> (NaiveDate, NaiveDate) {
    (
        applied_on + chrono::Duration::days(31),
        applied_on + chrono::Duration::days(60),
    )
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A booking recorded done, in its transaction: a divorce application starts its cooling-off
/// period; a certificate completes its application. What happened, for the audit detail.
pub(super) async fn on_done(
    state: &AppState,
    tx: &mut Tx,
    b: &Booking,
) -> AppResult<Option<serde_json::Value>> {
    match b.service_kind.as_str() {
        "divorce_registration" => {
            let org = queries::org_public(state, b.org_id)
                .await?
                .ok_or_else(AppError::not_found)?;
            let applied = crate::kernel::error::date_field("day", &b.day)?;
            let (earliest, latest) = window(applied);
            let id = queries::insert_divorce(tx, &org, b.id, &b.day, &ymd(earliest), &ymd(latest))
                .await?;
            Ok(Some(
                json!({"divorce": id, "earliest": ymd(earliest), "latest": ymd(latest)}),
            ))
        }
        "divorce_certificate" => {
            let Some(d) = queries::divorce_of_booking(state, b.id).await? else {
                return Ok(None);
            };
            queries::divorce_status(tx, &d, "cooling", "done", Some(b.id)).await?;
            Ok(Some(
                json!({"divorce": d.id, "status": {"before": d.status, "after": "done"}}),
            ))
        }
        _ => Ok(None),
    }
}

/// The application a certificate booking on `day` at `org` belongs to: both parties of an
/// application cooling off there, the day inside its window, no certificate booked yet.
pub(super) async fn for_certificate(
    state: &AppState,
    org: &OrgInfo,
    day: NaiveDate,
    parties: &[CheckedParty],
) -> AppResult<Divorce> {
    let indexes: Vec<String> = parties.iter().map(|p| p.index.clone()).collect();
    let Some(d) = queries::divorces_of_parties(state, org.id, &indexes)
        .await?
        .into_iter()
        .next()
    else {
        return Err(AppError::field(
            ErrorCode::Validation,
            "parties",
            "未找到双方在本机关提交、处于冷静期的离婚登记申请",
        ));
    };
    check_window(&d, day)?;
    if let Some(c) = d.certificate_booking_id
        && queries::booking_status(state, c).await?.as_deref() == Some("booked")
    {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "已预约领证，如需改期请修改原预约",
        ));
    }
    Ok(d)
}

/// A certificate date must fall in the application's window.
pub(super) fn check_window(d: &Divorce, day: NaiveDate) -> AppResult<()> {
    let s = ymd(day);
    if s < d.earliest || s > d.latest {
        return Err(AppError::field(
            ErrorCode::Validation,
            "day",
            format!(
                "冷静期届满后方可领证：请预约 {} 至 {} 之间的日期",
                d.earliest, d.latest
            ),
        ));
    }
    Ok(())
}

/// Link a certificate booking to its application (in the booking's transaction).
pub(super) async fn link(tx: &mut Tx, d: &Divorce, booking_id: i64) -> AppResult<()> {
    queries::divorce_certificate(tx, d, booking_id).await
}

/// The divorce applications of a registry (`bookings.read`, in scope).
pub async fn list(state: &AppState, actor: &Actor, org_id: i64) -> AppResult<Vec<Divorce>> {
    let o = super::org(state, actor, org_id).await?;
    queries::divorces_at(state, o.id).await
}

/// A party withdraws the application during the cooling-off period (recorded by staff,
/// `bookings.manage`): a certificate booked is cancelled.
pub async fn withdraw(state: &AppState, actor: &Actor, id: i64) -> AppResult<Divorce> {
    actor.require(Permission::BookingsManage)?;
    let d = queries::divorce(state, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    super::org(state, actor, d.org_id).await?;
    if d.status != "cooling" {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!("该申请{}，不能撤回", status_label(&d.status)),
        ));
    }
    let certificate = match d.certificate_booking_id {
        Some(c) if queries::booking_status(state, c).await?.as_deref() == Some("booked") => {
            Some(super::book::get(state, actor, c).await?)
        }
        _ => None,
    };
    if let Some(c) = &certificate {
        super::book::cancel(state, Who::from(actor), c).await?;
    }
    let mut tx = Tx::begin(state, actor).await?;
    if queries::divorce_status(&mut tx, &d, "cooling", "withdrawn", None).await? != 1 {
        return Err(AppError::msg(ErrorCode::Conflict, "该申请状态已变化"));
    }
    tx.commit(
        Change::new(
            "booking.divorce_withdraw",
            "booking_divorce",
            d.id,
            &d.region_code,
        )
        .detail(
            json!({"status": {"before": "cooling", "after": "withdrawn"},
                "certificate_cancelled": certificate.map(|c| c.id)}),
        ),
    )
    .await?;
    queries::divorce(state, id)
        .await?
        .ok_or_else(AppError::not_found)
}

/// What the ticker did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TickReport {
    pub lapsed: i64,
    pub reminded: i64,
}

fn system() -> Who {
    Who::system("scheduler")
}

/// Queue a reminder to the application's phone (sealed SMS through the outbox).
async fn remind(
    state: &AppState,
    tx: &mut Tx,
    d: &Divorce,
    what: &str,
    text_state: &str,
) -> AppResult<()> {
    let Some(phone) = queries::phone_of(tx, d.application_id)
        .await?
        .and_then(|enc| state.keys.decrypt(&enc))
        .and_then(|p| String::from_utf8(p).ok())
    else {
        return Ok(());
    };
    let org = queries::org_public(state, d.org_id)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let number = queries::booking(state, d.application_id).await?.number;
    let fields = [
        ("org", org),
        ("number", number),
        ("earliest", d.earliest.clone()),
        ("latest", d.latest.clone()),
        ("state", text_state.to_string()),
    ];
    let text = crate::notify::templates::render(tx.conn(), "booking_divorce", &fields).await?;
    crate::notify::queue_secret_sms(
        state,
        tx.conn(),
        &phone,
        "booking_divorce",
        &format!("【兜底】{}", text.body),
        &format!(
            "divorce-{}-{}-{what}",
            super::province_of(&d.region_code),
            d.id
        ),
    )
    .await
}

/// Remind and lapse what is due today (run by the service's minute ticker; idempotent).
pub async fn tick(state: &AppState) -> AppResult<TickReport> {
    let today = ymd(state.today());
    let mut report = TickReport::default();
    for d in queries::cooling(state).await? {
        let certificate = match d.certificate_booking_id {
            Some(c) => queries::booking_status(state, c).await?,
            None => None,
        };
        let booked = certificate.as_deref() == Some("booked");
        if today > d.latest {
            if booked {
                // Booked on a day of the window and not recorded yet: staff record it.
                continue;
            }
            let mut tx = Tx::begin_as(state, system()).await?;
            if queries::divorce_status(&mut tx, &d, "cooling", "lapsed", None).await? != 1 {
                tx.rollback().await?;
                continue;
            }
            remind(state, &mut tx, &d, "lapsed", "已超过领证期限，视为撤回").await?;
            tx.commit(
                Change::new(
                    "booking.divorce_lapse",
                    "booking_divorce",
                    d.id,
                    &d.region_code,
                )
                .detail(
                    json!({"status": {"before": "cooling", "after": "lapsed"}, "latest": d.latest}),
                ),
            )
            .await?;
            report.lapsed += 1;
            continue;
        }
        if booked {
            continue;
        }
        let opens_eve =
            crate::kernel::error::date_field("earliest", &d.earliest)? - chrono::Duration::days(1);
        let closing =
            crate::kernel::error::date_field("latest", &d.latest)? - chrono::Duration::days(5);
        let due = if today >= ymd(closing) && !d.reminded.contains("closing,") {
            Some(("closing", "领证期限将于 5 日内届满，尚未预约领证"))
        } else if today >= ymd(opens_eve) && !d.reminded.contains("opens,") {
            Some(("opens", "冷静期即将届满，可预约领取离婚证"))
        } else {
            None
        };
        let Some((what, text_state)) = due else {
            continue;
        };
        let mut tx = Tx::begin_as(state, system()).await?;
        remind(state, &mut tx, &d, what, text_state).await?;
        let reminded = format!("{}{what},", d.reminded);
        queries::divorce_reminded(&mut tx, &d, &reminded).await?;
        tx.commit(
            Change::new(
                "booking.divorce_remind",
                "booking_divorce",
                d.id,
                &d.region_code,
            )
            .detail(json!({"reminder": what})),
        )
        .await?;
        report.reminded += 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_day_31_to_60() {
        let applied = NaiveDate::from_ymd_opt(2021, 1, 1).expect("d");
        let (a, b) = window(applied);
        assert_eq!(ymd(a), "2021-02-01");
        assert_eq!(ymd(b), "2021-03-02");
    }
}
