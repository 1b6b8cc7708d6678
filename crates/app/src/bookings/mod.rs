//! Bookings at marriage registries and funeral homes (预约, issue 19 items 1–4): an
//! organisation's bookable services with opening days and hours, slots with places, the
//! resources that limit them (registration windows, vehicles, cremators, rooms), special dates
//! (holidays, specially opened days, lower caps, blocked days); bookings made by staff on the
//! phone or by the public with a verified phone ([`book`]); emergency settings an official
//! puts in force for a region's registries or funeral homes ([`emergency`]); blocked dates and
//! mass rebooking ([`rebook`]); funeral capacity — body collection, vehicles and cremators, the
//! day's plan ([`funeral`]); outcomes, no-shows and statistics with the funeral rollup ([`stats`]);
//! the registration rules — identity documents, marriage age, where a couple may register,
//! the designated registries ([`register`]) — the divorce cooling-off period ([`divorce`]) and
//! the online pre-check of the registration data and documents ([`precheck`]).
//!
//! Rules: setting up needs `bookings.manage` and the organisation in scope (an actor tied to an
//! organisation: that one only); reading needs `bookings.read`; emergency settings need
//! `bookings.emergency`. Out of scope is *not found*. Capacity is enforced by the database: a
//! booking takes its place with a conditional `UPDATE` of the slot's and the day's counter rows
//! in the same transaction as its insert (docs/adr/0014-bookings-capacity.md). Every change is
//! one write transaction with its audit entry.

pub mod book;
pub mod divorce;
pub mod emergency;
pub mod funeral;
pub mod funeral_pages;
pub mod funeral_web;
pub mod pages;
pub mod precheck;
pub mod public_pages;
mod queries;
pub mod rebook;
pub mod register;
pub mod register_pages;
pub mod register_web;
pub mod rules;
pub mod stats;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field, text_field};
use crate::state::AppState;

/// The kinds of service, with the organisation kind that offers them and the Chinese name.
pub const SERVICE_KINDS: &[(&str, &str, &str)] = &[
    ("marriage_registration", "marriage_registry", "结婚登记"),
    (
        "divorce_registration",
        "marriage_registry",
        "离婚登记（申请）",
    ),
    (
        "divorce_certificate",
        "marriage_registry",
        "离婚登记（冷静期满领证）",
    ),
    (
        "certificate_replacement",
        "marriage_registry",
        "补领婚姻登记证",
    ),
    ("body_collection", "funeral_home", "遗体接运"),
    ("cremation", "funeral_home", "遗体火化"),
    ("farewell_room", "funeral_home", "告别厅"),
];

/// The kinds of resource and their Chinese names.
pub const RESOURCE_KINDS: &[(&str, &str)] = &[
    ("window", "登记窗口"),
    ("vehicle", "殡仪车辆"),
    ("cremator", "火化炉"),
    ("room", "告别厅"),
];

/// The kinds of special date and their Chinese names.
pub const DATE_KINDS: &[(&str, &str)] = &[
    ("closed", "休息（节假日）"),
    ("open", "特别开放"),
    ("cap", "限量"),
    ("blocked", "停办（已改约）"),
];

/// The Chinese name of a service kind.
pub fn service_label(kind: &str) -> &'static str {
    SERVICE_KINDS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map(|(_, _, l)| *l)
        .unwrap_or("")
}

fn label_of(list: &[(&str, &'static str)], k: &str) -> &'static str {
    list.iter()
        .find(|(x, _)| *x == k)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// The province (2-digit prefix) of a region code (`backstop_core::region`).
pub(crate) use backstop_core::region::province_of;

/// A marriage registry or funeral home, as bookings see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrgInfo {
    pub id: i64,
    pub name: String,
    /// `marriage_registry` or `funeral_home`.
    pub kind: String,
    pub region_code: String,
}

/// A resource that limits capacity.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Resource {
    pub id: i64,
    pub org_id: i64,
    /// `window`, `vehicle`, `cremator` or `room`.
    pub kind: String,
    pub kind_label: String,
    pub name: String,
    /// How many (windows, vehicles …): a service limited by it offers at most this many
    /// places per slot.
    pub units: i64,
}

/// A bookable service.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Service {
    pub id: i64,
    pub org_id: i64,
    pub region_code: String,
    pub kind: String,
    pub kind_label: String,
    pub name: String,
    /// ISO weekdays it is open, as digits (`12345` = Monday to Friday).
    pub open_days: String,
    /// `HH:MM`.
    pub opens: String,
    pub closes: String,
    pub slot_minutes: i64,
    /// Places per slot as set.
    pub per_slot: i64,
    /// Places per slot in effect (at most the limiting resource's units).
    pub places: i64,
    /// How many days ahead it may be booked.
    pub window_days: i64,
    pub resource_id: Option<i64>,
}

/// A special date of an organisation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpecialDate {
    pub day: String,
    /// `closed`, `open`, `cap` or `blocked`.
    pub kind: String,
    pub kind_label: String,
    /// The day's cap (kind `cap`).
    pub day_cap: Option<i64>,
    pub reason: String,
}

/// An organisation's setup: services, resources, special dates.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Setup {
    pub org: OrgInfo,
    pub services: Vec<Service>,
    pub resources: Vec<Resource>,
    pub dates: Vec<SpecialDate>,
}

/// Body of `POST /api/v1/bookings/orgs/{id}/services`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewService {
    pub kind: String,
    /// Default the kind's Chinese name.
    #[serde(default)]
    pub name: String,
    /// ISO weekdays as digits; default `12345`.
    #[serde(default)]
    pub open_days: String,
    pub opens: String,
    pub closes: String,
    pub slot_minutes: i64,
    pub per_slot: i64,
    /// Default 30.
    #[serde(default)]
    pub window_days: Option<i64>,
    #[serde(default)]
    pub resource_id: Option<i64>,
}

/// Body of `POST /api/v1/bookings/orgs/{id}/resources`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewResource {
    pub kind: String,
    pub name: String,
    pub units: i64,
}

/// Body of `POST /api/v1/bookings/orgs/{id}/dates`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewDate {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// `closed`, `open` or `cap` (blocking is `POST …/block`).
    pub kind: String,
    #[serde(default)]
    pub day_cap: Option<i64>,
    #[serde(default)]
    pub reason: String,
}

/// Forbidden unless the actor may read bookings.
pub(crate) fn may_read(actor: &Actor) -> AppResult<()> {
    actor.require(Permission::BookingsRead)
}

/// A marriage registry or funeral home in the actor's scope (tied to an organisation: that one
/// only), else *not found*.
pub async fn org(state: &AppState, actor: &Actor, id: i64) -> AppResult<OrgInfo> {
    may_read(actor)?;
    let o = queries::org(state, &actor.everywhere(), id).await?;
    if !SERVICE_KINDS.iter().any(|(_, k, _)| *k == o.kind) {
        return Err(AppError::not_found());
    }
    Ok(o)
}

/// The marriage registries and funeral homes in the actor's scope.
pub async fn orgs(state: &AppState, actor: &Actor) -> AppResult<Vec<OrgInfo>> {
    may_read(actor)?;
    queries::orgs(state, &actor.everywhere()).await
}

/// An organisation's setup.
pub async fn setup(state: &AppState, actor: &Actor, org_id: i64) -> AppResult<Setup> {
    let org = org(state, actor, org_id).await?;
    setup_of(state, org).await
}

/// The setup of an organisation already admitted (or public).
pub(crate) async fn setup_of(state: &AppState, org: OrgInfo) -> AppResult<Setup> {
    Ok(Setup {
        services: queries::services(state, org.id).await?,
        resources: queries::resources(state, org.id).await?,
        dates: queries::dates(state, org.id).await?,
        org,
    })
}

fn hhmm(field: &str, s: &str) -> AppResult<String> {
    chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map(|t| t.format("%H:%M").to_string())
        .map_err(|_| AppError::field(ErrorCode::Validation, field, "时间格式应为 HH:MM"))
}

fn between(field: &str, v: i64, lo: i64, hi: i64) -> AppResult<i64> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(AppError::field(
            ErrorCode::Validation,
            field,
            format!("应在 {lo} 到 {hi} 之间"),
        ))
    }
}

/// Add a service to an organisation.
pub async fn add_service(
    state: &AppState,
    actor: &Actor,
    org_id: i64,
    input: &NewService,
) -> AppResult<Service> {
    actor.require(Permission::BookingsManage)?;
    let o = org(state, actor, org_id).await?;
    let kind = input.kind.trim();
    let Some((kind, _, label)) = SERVICE_KINDS
        .iter()
        .find(|(k, ok, _)| *k == kind && *ok == o.kind)
    else {
        return Err(AppError::field(
            ErrorCode::Validation,
            "kind",
            "请选择本机构可办理的服务",
        ));
    };
    let name = match text_field("name", &input.name, 40, false)? {
        n if n.is_empty() => (*label).to_string(),
        n => n,
    };
    let open_days = match input.open_days.trim() {
        "" => "12345".to_string(),
        d => {
            let mut days: Vec<char> = d.chars().filter(|c| !c.is_whitespace()).collect();
            if days.is_empty() || days.iter().any(|c| !('1'..='7').contains(c)) {
                return Err(AppError::field(
                    ErrorCode::Validation,
                    "open_days",
                    "用数字 1–7 表示星期一至星期日，如 12345",
                ));
            }
            days.sort_unstable();
            days.dedup();
            days.into_iter().collect()
        }
    };
    let opens = hhmm("opens", &input.opens)?;
    let closes = hhmm("closes", &input.closes)?;
    if closes <= opens {
        return Err(AppError::field(
            ErrorCode::Validation,
            "closes",
            "结束时间应晚于开始时间",
        ));
    }
    let slot_minutes = between("slot_minutes", input.slot_minutes, 10, 480)?;
    let per_slot = between("per_slot", input.per_slot, 1, 10_000)?;
    let window_days = between("window_days", input.window_days.unwrap_or(30), 1, 366)?;
    if let Some(r) = input.resource_id
        && !queries::resources(state, o.id)
            .await?
            .iter()
            .any(|x| x.id == r)
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "resource_id",
            "请选择本机构的资源",
        ));
    }
    let row = queries::ServiceRow {
        kind,
        name: &name,
        open_days: &open_days,
        opens: &opens,
        closes: &closes,
        slot_minutes,
        per_slot,
        window_days,
        resource_id: input.resource_id,
    };
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_service(&mut tx, &o, &row, &actor.username).await?;
    tx.commit(
        Change::new("booking.service_create", "booking_service", id, &o.region_code).detail(
            json!({"org_id": o.id, "kind": kind, "name": name, "open_days": open_days, "opens": opens,
                "closes": closes, "slot_minutes": slot_minutes, "per_slot": per_slot,
                "window_days": window_days, "resource_id": input.resource_id}),
        ),
    )
    .await?;
    queries::services(state, o.id)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(AppError::not_found)
}

/// Add a resource (windows, vehicles, cremators, rooms) to an organisation.
pub async fn add_resource(
    state: &AppState,
    actor: &Actor,
    org_id: i64,
    input: &NewResource,
) -> AppResult<Resource> {
    actor.require(Permission::BookingsManage)?;
    let o = org(state, actor, org_id).await?;
    let kind = input.kind.trim();
    if label_of(RESOURCE_KINDS, kind).is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "kind",
            "应为登记窗口、殡仪车辆、火化炉或告别厅",
        ));
    }
    let name = text_field("name", &input.name, 40, true)?;
    let units = between("units", input.units, 1, 1000)?;
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_resource(&mut tx, &o, kind, &name, units, &actor.username).await?;
    tx.commit(
        Change::new(
            "booking.resource_create",
            "booking_resource",
            id,
            &o.region_code,
        )
        .detail(json!({"org_id": o.id, "kind": kind, "name": name, "units": units})),
    )
    .await?;
    queries::resources(state, o.id)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(AppError::not_found)
}

/// Set a special date: closed (a holiday), specially open, or a lower cap. A cap below what is
/// already booked moves the bookings over it to rebooking (latest booked first).
pub async fn set_date(
    state: &AppState,
    actor: &Actor,
    org_id: i64,
    input: &NewDate,
) -> AppResult<SpecialDate> {
    actor.require(Permission::BookingsManage)?;
    let o = org(state, actor, org_id).await?;
    let day = date_field("day", &input.day)?;
    if day <= state.today() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "day",
            "只能设置明天及以后的日期",
        ));
    }
    let kind = input.kind.trim();
    if !matches!(kind, "closed" | "open" | "cap") {
        return Err(AppError::field(
            ErrorCode::Validation,
            "kind",
            "应为休息、特别开放或限量（停办请用“停办并改约”）",
        ));
    }
    let cap = match (kind, input.day_cap) {
        ("cap", Some(c)) => Some(between("day_cap", c, 0, 100_000)?),
        ("cap", None) => {
            return Err(AppError::field(
                ErrorCode::Validation,
                "day_cap",
                "限量时请填写当日上限",
            ));
        }
        _ => None,
    };
    let reason = text_field("reason", &input.reason, 200, kind != "open")?;
    let day_s = day.format("%Y-%m-%d").to_string();
    refuse_blocked(state, o.id, &day_s).await?;
    let mut tx = Tx::begin(state, actor).await?;
    queries::upsert_date(&mut tx, &o, &day_s, kind, cap, &reason, &actor.username).await?;
    // Closed: every booking of the day goes; a cap: those over it.
    let keep = match kind {
        "closed" => Some(0),
        "cap" => cap,
        _ => None,
    };
    let moved = match keep {
        Some(k) => rebook::displace(state, &mut tx, &o, &day_s, k, &reason).await?,
        None => 0,
    };
    tx.commit(
        Change::new(
            "booking.date_set",
            "booking_date",
            format!("{}:{day_s}", o.id),
            &o.region_code,
        )
        .detail(json!({"org_id": o.id, "day": day_s, "kind": kind, "day_cap": cap, "moved": moved}))
        .free_text("reason", &reason),
    )
    .await?;
    Ok(SpecialDate {
        day: day_s,
        kind: kind.to_string(),
        kind_label: label_of(DATE_KINDS, kind).to_string(),
        day_cap: cap,
        reason,
    })
}

/// The Chinese name of a resource kind.
pub fn resource_label(kind: &str) -> &'static str {
    label_of(RESOURCE_KINDS, kind)
}

/// The Chinese name of a date kind.
pub fn date_label(kind: &str) -> &'static str {
    label_of(DATE_KINDS, kind)
}

/// One slot of a day as offered: start time and places left.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlotView {
    pub starts: String,
    pub left: i64,
}

/// What a service offers on a day: open or not (and why; the notice of an emergency setting in
/// force), the slots with places left (at most what the day's cap leaves), and the rule.
pub struct Offer {
    pub open: bool,
    pub reason: String,
    pub slots: Vec<SlotView>,
    pub rule: rules::DayRule,
}

/// The offer of `service` of `org` on `day` (public: the organisation's bookable services are
/// public, counts only).
pub async fn offer(
    state: &AppState,
    org: &OrgInfo,
    service: &Service,
    day: chrono::NaiveDate,
) -> AppResult<Offer> {
    let dates = queries::dates(state, org.id).await?;
    let emergencies = queries::emergencies_for(state, &org.region_code, &org.kind).await?;
    let rule = rules::rule(service, &org.kind, day, &dates, &emergencies);
    let day_s = day.format("%Y-%m-%d").to_string();
    let (taken, day_booked) =
        queries::slot_counts(state, org, &rules::lane(service), &day_s).await?;
    let day_left = rule.day_cap.map_or(i64::MAX, |c| (c - day_booked).max(0));
    let slots = rules::starts(service)
        .into_iter()
        .map(|s| {
            let used = taken.iter().find(|(t, _)| *t == s).map_or(0, |(_, n)| *n);
            SlotView {
                left: (rule.places - used).max(0).min(day_left),
                starts: s,
            }
        })
        .collect();
    let today = state.today();
    let in_window = day > today && (day - today).num_days() <= service.window_days;
    Ok(Offer {
        open: rule.open && in_window,
        reason: if in_window {
            rule.reason.clone()
        } else {
            format!("可预约明天起 {} 天内的日期", service.window_days)
        },
        slots,
        rule,
    })
}

/// A bookable organisation and its setup, for the public pages (*not found* for anything
/// else).
pub async fn public_setup(state: &AppState, org_id: i64) -> AppResult<Setup> {
    let org = queries::org_public(state, org_id)
        .await?
        .ok_or_else(AppError::not_found)?;
    setup_of(state, org).await
}

/// The bookable organisations of a region (public).
pub async fn public_orgs(
    state: &AppState,
    region: &backstop_core::region::RegionCode,
) -> AppResult<Vec<OrgInfo>> {
    let (lo, hi) = region.scope_bounds();
    queries::orgs_public(state, &lo, &hi).await
}

/// 409 if the organisation's day (`YYYY-MM-DD`) is blocked (停办) already.
pub(crate) async fn refuse_blocked(state: &AppState, org_id: i64, day: &str) -> AppResult<()> {
    if queries::dates(state, org_id)
        .await?
        .iter()
        .any(|d| d.day == day && d.kind == "blocked")
    {
        return Err(AppError::msg(ErrorCode::Conflict, "该日已停办"));
    }
    Ok(())
}
