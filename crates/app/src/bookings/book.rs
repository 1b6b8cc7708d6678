//! Booking (issue 19 item 3): a service, a date, a slot and the parties — staff book on behalf
//! of someone on the phone, the public with a phone verified by the public face's one-time
//! code. The rules: the date is from tomorrow to the service's booking window, open that day
//! and not suspended; the parties' ID numbers valid (the people area's validation) and sealed;
//! a marriage needs a man of at least 22 and a woman of at least 20 on the date; one active
//! booking per ID number; the emergency setting in force (ceremonies, attendance cap, health
//! questions that refuse or defer). The place is taken in the database (a conditional update
//! of the slot's and the day's counters in the booking's transaction): never overbooked. The
//! person is given a number; with it and their phone (a new code) they view, change or cancel.

use std::collections::BTreeMap;

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use chrono::NaiveDate;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::register::{self, CheckedParty};
use super::rules::{self, DayRule};
use super::{OrgInfo, Service, queries};
use crate::audit::Who;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field};
use crate::state::AppState;

/// A party as typed.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewParty {
    pub name: String,
    /// The document number (a resident ID number unless `id_type` says otherwise).
    pub id_number: String,
    /// `resident` (default), `hmt` (Hong Kong, Macao, Taiwan) or `foreign`.
    #[serde(default)]
    pub id_type: String,
    /// `male` / `female`: required for `hmt` and `foreign` (a resident's comes from the ID).
    #[serde(default)]
    pub sex: String,
    /// `YYYY-MM-DD`: required for `hmt` and `foreign`.
    #[serde(default)]
    pub birth_date: String,
    /// The household-registration county (6 digits); default the ID number's first six.
    #[serde(default)]
    pub household_region: String,
}

/// Body of `POST /api/v1/bookings` (and what the public page sends).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewBooking {
    pub service_id: i64,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// `HH:MM`, one of the service's slots.
    pub starts: String,
    /// The contact phone (staff bookings; the public's is the verified one).
    #[serde(default)]
    pub phone: String,
    /// Marriage and divorce: both persons; otherwise the applicant (or the deceased).
    pub parties: Vec<NewParty>,
    /// People expected (funerals; limited by an attendance cap).
    #[serde(default)]
    pub attendance: Option<i64>,
    /// A certificate ceremony (颁证仪式) asked for.
    #[serde(default)]
    pub ceremony: bool,
    /// Answers to the health questions in force (`fever`, `contact` → yes).
    #[serde(default)]
    pub answers: BTreeMap<String, bool>,
}

/// A party as shown (masked).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Party {
    pub name: String,
    pub id_number: String,
    /// `male` / `female`.
    pub sex: String,
    /// `resident`, `hmt` or `foreign`.
    pub id_type: String,
}

impl Party {
    /// The Chinese name of the party's document.
    pub fn id_type_label(&self) -> &'static str {
        super::register::ID_TYPES
            .iter()
            .find(|(k, _)| *k == self.id_type)
            .map(|(_, l)| *l)
            .unwrap_or("")
    }
}

/// A pending rebooking of a booking.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rebooking {
    pub id: i64,
    pub booking_id: i64,
    pub number: String,
    pub org_id: i64,
    pub old_day: String,
    pub old_starts: String,
    /// The slot proposed (held), if one was free.
    pub new_day: Option<String>,
    pub new_starts: Option<String>,
    pub reason: String,
    /// `proposed`, `unplaced`, `accepted`, `moved`, `cancelled`.
    pub status: String,
    pub phone_masked: String,
    pub notified_at: Option<String>,
    pub created_at: String,
}

/// A booking.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Booking {
    pub id: i64,
    pub number: String,
    pub org_id: i64,
    pub org_name: String,
    pub region_code: String,
    pub service_id: i64,
    pub service_kind: String,
    pub service_label: String,
    pub day: String,
    pub starts: String,
    /// `booked`, `rebooking`, `cancelled`, `done`, `no_show`.
    pub status: String,
    pub status_label: String,
    /// `staff` or `public`.
    pub channel: String,
    pub phone_masked: String,
    pub attendance: i64,
    pub ceremony: bool,
    pub parties: Vec<Party>,
    pub created_at: String,
    /// The rebooking waiting for an answer, if any.
    pub rebooking: Option<Rebooking>,
}

/// The Chinese name of a booking status.
pub fn status_label(s: &str) -> &'static str {
    match s {
        "booked" => "已预约",
        "rebooking" => "待改约",
        "cancelled" => "已取消",
        "done" => "已办理",
        "no_show" => "未到",
        _ => "",
    }
}

fn bad(field: &str, m: impl Into<String>) -> AppError {
    AppError::field(ErrorCode::Validation, field, m)
}

/// The parties of a booking for `service` on `day`, checked (identity, marriage age).
fn check_parties(
    state: &AppState,
    service: &Service,
    day: NaiveDate,
    parties: &[NewParty],
) -> AppResult<Vec<CheckedParty>> {
    let (min, max) = match service.kind.as_str() {
        "marriage_registration" | "divorce_registration" | "divorce_certificate" => (2, 2),
        "certificate_replacement" => (1, 2),
        _ => (1, 1),
    };
    if parties.len() < min || parties.len() > max {
        return Err(bad(
            "parties",
            if min == 2 {
                "须填写双方的姓名和身份证号".to_string()
            } else {
                format!("须填写 {min} 至 {max} 人")
            },
        ));
    }
    let today = state.today();
    let mut out: Vec<CheckedParty> = Vec::new();
    for (i, p) in parties.iter().enumerate() {
        let c = register::check_party(state, i, p, today)?;
        if out.iter().any(|o| o.index == c.index) {
            return Err(bad(
                &format!("parties[{i}].id_number"),
                "双方证件号码不能相同",
            ));
        }
        out.push(c);
    }
    if service.kind == "marriage_registration" {
        register::check_age(&out, day)?;
    }
    Ok(out)
}

/// The day and slot of a booking for `service`, checked against the window and the rule of the
/// day; the rule returned.
pub(super) async fn check_slot(
    state: &AppState,
    org: &OrgInfo,
    service: &Service,
    day: &str,
    starts: &str,
) -> AppResult<(NaiveDate, DayRule)> {
    let d = date_field("day", day)?;
    let today = state.today();
    if d <= today {
        return Err(bad("day", "最早可预约明天"));
    }
    if (d - today).num_days() > service.window_days {
        return Err(bad(
            "day",
            format!("只能预约 {} 天以内的日期", service.window_days),
        ));
    }
    let dates = queries::dates(state, org.id).await?;
    let emergencies = queries::emergencies_for(state, &org.region_code, &org.kind).await?;
    let rule = rules::rule(service, &org.kind, d, &dates, &emergencies);
    if !rule.open {
        return Err(bad("day", format!("该日不可预约：{}", rule.reason)));
    }
    if !rules::starts(service).iter().any(|s| s == starts.trim()) {
        return Err(bad("starts", "请选择该服务的办理时段"));
    }
    Ok((d, rule))
}

/// The emergency rules a booking meets: ceremonies, attendance cap, health questions.
fn check_emergency(
    state: &AppState,
    rule: &DayRule,
    day: NaiveDate,
    input: &NewBooking,
) -> AppResult<()> {
    let Some((_, reason)) = &rule.emergency else {
        return Ok(());
    };
    if rule.no_ceremony && input.ceremony {
        return Err(bad(
            "ceremony",
            format!("疫情防控期间暂停颁证仪式：{reason}"),
        ));
    }
    if let (Some(cap), Some(n)) = (rule.attendance_cap, input.attendance)
        && n > cap
    {
        return Err(bad("attendance", format!("疫情防控期间每场最多 {cap} 人")));
    }
    for q in &rule.questions {
        let Some(yes) = input.answers.get(&q.key) else {
            return Err(bad(&format!("answers_{}", q.key), "请回答健康问题"));
        };
        if !yes {
            continue;
        }
        if q.action == "refuse" {
            return Err(bad(
                &format!("answers_{}", q.key),
                "有上述情况暂不能预约，请先到发热门诊就诊，康复后再预约",
            ));
        }
        let earliest = state.today() + chrono::Duration::days(q.days);
        if day < earliest {
            return Err(bad(
                &format!("answers_{}", q.key),
                format!(
                    "有上述情况请推迟办理：最早可预约 {}",
                    earliest.format("%Y-%m-%d")
                ),
            ));
        }
    }
    Ok(())
}

/// A new booking number: the province and ten random digits.
fn new_number(province: &str) -> String {
    let mut rng = rand::rng();
    format!("{province}{:010}", rng.random_range(0..10_000_000_000_i64))
}

/// Who books and how.
pub(crate) struct Booker {
    pub who: Who,
    pub channel: &'static str,
    pub phone: String,
    pub idem: Option<String>,
    /// Staff: the account whose `Idempotency-Key` is remembered with the booking.
    pub staff: Option<Actor>,
}

/// Take a place on `day` at `starts` for `service` in the open transaction, or *full*.
pub(super) async fn take_place(
    tx: &mut Tx,
    org: &OrgInfo,
    service: &Service,
    rule: &DayRule,
    day: &str,
    starts: &str,
) -> AppResult<()> {
    let lane = rules::lane(service);
    let ok = queries::take(
        tx,
        org,
        &lane,
        day,
        starts,
        rule.places,
        rule.day_cap.unwrap_or(i64::MAX),
    )
    .await?;
    if ok {
        Ok(())
    } else {
        Err(AppError::field(
            ErrorCode::Conflict,
            "starts",
            "该时段已约满，请选择其他时段或日期",
        ))
    }
}

/// Make a booking (the checks, then one transaction: the place, the booking, its parties, the
/// audit entry).
pub(crate) async fn place(
    state: &AppState,
    booker: &Booker,
    service: &Service,
    org: &OrgInfo,
    input: &NewBooking,
) -> AppResult<i64> {
    let starts = input.starts.trim().to_string();
    let (day, rule) = check_slot(state, org, service, &input.day, &starts).await?;
    let parties = check_parties(state, service, day, &input.parties)?;
    register::check_place(state, org, service, &parties).await?;
    let divorce = match service.kind.as_str() {
        "divorce_certificate" => {
            Some(super::divorce::for_certificate(state, org, day, &parties).await?)
        }
        _ => None,
    };
    check_emergency(state, &rule, day, input)?;
    if let Some(n) = input.attendance
        && !(0..=10_000).contains(&n)
    {
        return Err(bad("attendance", "应在 0 到 10000 之间"));
    }
    let phone = crate::public::mobile(&booker.phone)?;
    let sealed: Vec<queries::PartyRow> = parties
        .iter()
        .map(|p| queries::PartyRow {
            name_enc: state.keys.encrypt(p.name.as_bytes()),
            name_masked: backstop_core::mask::mask_name(&p.name),
            id_enc: state.keys.encrypt(p.number.as_bytes()),
            id_index: p.index.clone(),
            id_masked: p.masked.clone(),
            sex: p.sex.as_str().to_string(),
            id_type: p.id_type.clone(),
            household_region: p.household_region.clone(),
        })
        .collect();
    for (i, p) in sealed.iter().enumerate() {
        if queries::active_party(state, &p.id_index).await? {
            return Err(AppError::field(
                ErrorCode::Conflict,
                &format!("parties[{i}].id_number"),
                "该身份证号已有一个有效预约，请先取消或改约",
            ));
        }
    }
    let day_s = day.format("%Y-%m-%d").to_string();
    let number = new_number(&super::province_of(&org.region_code));
    let mut tx = Tx::begin_as(state, booker.who.clone()).await?;
    take_place(&mut tx, org, service, &rule, &day_s, &starts).await?;
    let row = queries::BookingRow {
        number: &number,
        service,
        day: &day_s,
        starts: &starts,
        channel: booker.channel,
        phone_enc: state.keys.encrypt(phone.as_bytes()),
        phone_index: state.keys.blind_index("public_phone", &phone),
        phone_masked: backstop_core::mask::mask_phone(&phone),
        attendance: input.attendance.unwrap_or(0),
        ceremony: input.ceremony,
        idem: booker.idem.as_deref(),
        by: &booker.who.username,
    };
    let id = queries::insert_booking(&mut tx, org, &row).await?;
    for (i, p) in sealed.iter().enumerate() {
        queries::insert_party(&mut tx, org, id, i, p)
            .await
            .map_err(|e| match e.code {
                ErrorCode::Conflict => AppError::field(
                    ErrorCode::Conflict,
                    &format!("parties[{i}].id_number"),
                    "该身份证号已有一个有效预约，请先取消或改约",
                ),
                _ => e,
            })?;
    }
    if let Some(d) = &divorce {
        super::divorce::link(&mut tx, d, id).await?;
    }
    if let Some(a) = &booker.staff {
        let key = booker.idem.as_deref().and_then(|k| k.rsplit(':').next());
        crate::assistance::remember(&mut tx, a, key, "booking", id).await?;
    }
    tx.commit(
        Change::new("booking.create", "booking", id, &org.region_code).detail(json!({
            "number": number, "org_id": org.id, "service": service.kind, "day": day_s, "starts": starts,
            "channel": booker.channel, "parties": sealed.iter().map(|p| &p.id_masked).collect::<Vec<_>>(),
            "emergency": rule.emergency.as_ref().map(|e| e.0), "divorce": divorce.as_ref().map(|d| d.id)})),
    )
    .await?;
    Ok(id)
}

/// The service and organisation of a booking request; staff: in scope.
async fn service_for(
    state: &AppState,
    actor: Option<&Actor>,
    service_id: i64,
) -> AppResult<(Service, OrgInfo)> {
    let service = queries::service(state, service_id)
        .await?
        .ok_or_else(|| bad("service_id", "请选择服务"))?;
    let org = match actor {
        Some(a) => super::org(state, a, service.org_id).await?,
        None => queries::org_public(state, service.org_id)
            .await?
            .ok_or_else(AppError::not_found)?,
    };
    Ok((service, org))
}

/// Refused (422 on `service_id`) unless the service is one of organisation `org_id`'s: the
/// pages book at an organisation named in the path, and must not write a booking elsewhere
/// before finding out.
pub(crate) async fn service_at(state: &AppState, org_id: i64, service_id: i64) -> AppResult<()> {
    match queries::service(state, service_id).await? {
        Some(v) if v.org_id == org_id => Ok(()),
        _ => Err(AppError::field(
            ErrorCode::Validation,
            "service_id",
            "请选择本机构提供的服务",
        )),
    }
}

/// Staff book on behalf of someone (on the phone). A retry with the same `Idempotency-Key`
/// answers the first booking.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: &NewBooking,
    idem: Option<&str>,
) -> AppResult<Booking> {
    actor.require(Permission::BookingsManage)?;
    if let Some(id) = crate::assistance::replayed(state, actor, idem, "booking").await? {
        return get(state, actor, id).await;
    }
    let (service, org) = service_for(state, Some(actor), input.service_id).await?;
    let booker = Booker {
        who: Who::from(actor),
        channel: "staff",
        phone: input.phone.clone(),
        idem: idem.map(|k| format!("staff:{}:{k}", actor.user_id.unwrap_or(0))),
        staff: Some(actor.clone()),
    };
    let id = match place(state, &booker, &service, &org, input).await {
        Ok(id) => id,
        Err(e) if e.code == ErrorCode::Conflict => {
            // The same key sent twice at once: the other one won.
            if let Some(id) = crate::assistance::replayed(state, actor, idem, "booking").await? {
                return get(state, actor, id).await;
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    get(state, actor, id).await
}

/// A member of the public books with their verified phone (sealed as the session keeps it).
/// A retry with the same key answers the first booking.
pub async fn create_public(
    state: &AppState,
    citizen: &crate::public::Citizen,
    source: &str,
    input: &NewBooking,
    idem: Option<&str>,
) -> AppResult<Booking> {
    let idem = idem.map(str::trim).filter(|k| !k.is_empty());
    if let Some(k) = idem
        && let Some(id) = queries::by_key(state, &citizen.phone_index, k).await?
    {
        return queries::booking(state, id).await;
    }
    let (service, org) = service_for(state, None, input.service_id).await?;
    let phone = state
        .keys
        .decrypt(&citizen.phone_enc)
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let booker = Booker {
        who: Who {
            user_id: None,
            username: "public".to_string(),
            source: source.to_string(),
        },
        channel: "public",
        phone,
        idem: idem.map(str::to_string),
        staff: None,
    };
    let id = place(state, &booker, &service, &org, input).await?;
    queries::booking(state, id).await
}

/// One booking in the actor's scope.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Booking> {
    super::may_read(actor)?;
    let b = queries::booking(state, id).await?;
    let scope = actor.everywhere();
    let (region, org) = (b.region_code.clone(), b.org_id);
    let b = scope.admit(&region, b)?;
    scope.admit_org(org, b)
}

/// The bookings of an organisation on a day (all statuses), by slot.
pub async fn day_list(
    state: &AppState,
    actor: &Actor,
    org_id: i64,
    day: &str,
) -> AppResult<Vec<Booking>> {
    let o = super::org(state, actor, org_id).await?;
    let d = date_field("day", day)?;
    queries::bookings_on(state, o.id, &d.format("%Y-%m-%d").to_string()).await
}

/// A public booking the verified phone made (else *not found*: the same answer for a number
/// that does not exist and one made with another phone).
pub async fn public_get(state: &AppState, phone_index: &str, number: &str) -> AppResult<Booking> {
    let n: String = number
        .chars()
        .filter(char::is_ascii_digit)
        .take(20)
        .collect();
    let b = queries::booking_by_number(state, &n)
        .await?
        .ok_or_else(AppError::not_found)?;
    if queries::phone_index_of(state, b.id).await? != phone_index {
        return Err(AppError::not_found());
    }
    Ok(b)
}

/// Release a booking's place (its own, or the proposal a rebooking holds).
pub(super) async fn release_of(tx: &mut Tx, b: &Booking, service: &Service) -> AppResult<()> {
    let lane = rules::lane(service);
    match (&b.status[..], &b.rebooking) {
        ("booked", _) => {
            queries::release(tx, &b.region_code, b.org_id, &lane, &b.day, &b.starts).await
        }
        (_, Some(r)) => match (&r.new_day, &r.new_starts) {
            (Some(d), Some(s)) => queries::release(tx, &b.region_code, b.org_id, &lane, d, s).await,
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Move a booking to another slot of its service (staff, or the public with their phone).
pub(crate) async fn change(
    state: &AppState,
    who: Who,
    b: &Booking,
    day: &str,
    starts: &str,
) -> AppResult<Booking> {
    if !matches!(b.status.as_str(), "booked" | "rebooking") {
        return Err(AppError::msg(ErrorCode::Conflict, "该预约已取消"));
    }
    let service = queries::service(state, b.service_id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let org = queries::org_public(state, b.org_id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let starts = starts.trim();
    let (d, rule) = check_slot(state, &org, &service, day, starts).await?;
    if service.kind == "divorce_certificate"
        && let Some(divorce) = queries::divorce_of_booking(state, b.id).await?
    {
        super::divorce::check_window(&divorce, d)?;
    }
    let day_s = d.format("%Y-%m-%d").to_string();
    let mut tx = Tx::begin_as(state, who).await?;
    release_of(&mut tx, b, &service).await?;
    take_place(&mut tx, &org, &service, &rule, &day_s, starts).await?;
    queries::move_booking(&mut tx, b, &day_s, starts).await?;
    if let Some(r) = &b.rebooking {
        queries::answer_rebooking(&mut tx, r, "moved").await?;
    }
    tx.commit(
        Change::new("booking.change", "booking", b.id, &b.region_code).detail(json!({
        "day": {"before": b.day, "after": day_s}, "starts": {"before": b.starts, "after": starts},
        "rebooking": b.rebooking.as_ref().map(|r| r.id)})),
    )
    .await?;
    queries::booking(state, b.id).await
}

/// Cancel a booking (its place and its parties' hold are released).
pub(crate) async fn cancel(state: &AppState, who: Who, b: &Booking) -> AppResult<Booking> {
    if b.status == "cancelled" {
        return Err(AppError::msg(ErrorCode::Conflict, "该预约已取消"));
    }
    let service = queries::service(state, b.service_id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let mut tx = Tx::begin_as(state, who).await?;
    release_of(&mut tx, b, &service).await?;
    queries::cancel_booking(&mut tx, b).await?;
    if let Some(r) = &b.rebooking {
        queries::answer_rebooking(&mut tx, r, "cancelled").await?;
    }
    tx.commit(
        Change::new("booking.cancel", "booking", b.id, &b.region_code)
            .detail(json!({"status": {"before": b.status, "after": "cancelled"}})),
    )
    .await?;
    queries::booking(state, b.id).await
}

/// Staff change a booking.
pub async fn staff_change(
    state: &AppState,
    actor: &Actor,
    id: i64,
    day: &str,
    starts: &str,
) -> AppResult<Booking> {
    actor.require(Permission::BookingsManage)?;
    let b = get(state, actor, id).await?;
    change(state, Who::from(actor), &b, day, starts).await
}

/// Staff cancel a booking.
pub async fn staff_cancel(state: &AppState, actor: &Actor, id: i64) -> AppResult<Booking> {
    actor.require(Permission::BookingsManage)?;
    let b = get(state, actor, id).await?;
    cancel(state, Who::from(actor), &b).await
}
