//! Emergency settings (疫情防控措施, issue 19 item 2): an official with `bookings.emergency`
//! puts a setting in force for the marriage registries or the funeral homes of a region in
//! scope, from one date to another — a lower daily cap per organisation, suspended services
//! (farewell rooms) and ceremonies, an attendance cap, health questions that refuse or defer a
//! booking — with the reason the public page shows. The setting that applies to an
//! organisation on a date is the one of the nearest region above it ([`super::rules`]). A cap
//! below what is already booked moves the bookings over it to rebooking. Audited.

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries;
use super::rules::{QUESTIONS, Question};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_range, text_field};
use crate::state::AppState;

/// An emergency setting.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Emergency {
    pub id: i64,
    pub region_code: String,
    /// `marriage_registry` or `funeral_home`.
    pub org_kind: String,
    pub starts_on: String,
    pub ends_on: String,
    pub daily_cap: Option<i64>,
    /// Suspended service kinds, comma-separated.
    pub suspended: String,
    /// Certificate ceremonies (颁证仪式) suspended.
    pub no_ceremony: bool,
    pub attendance_cap: Option<i64>,
    pub questions: Vec<Question>,
    pub reason: String,
    pub created_by: String,
    pub created_at: String,
    pub ended_at: Option<String>,
}

/// Body of `POST /api/v1/bookings/emergencies`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewEmergency {
    pub region_code: String,
    pub org_kind: String,
    pub starts_on: String,
    pub ends_on: String,
    #[serde(default)]
    pub daily_cap: Option<i64>,
    /// Service kinds to suspend (e.g. `farewell_room`).
    #[serde(default)]
    pub suspended: Vec<String>,
    #[serde(default)]
    pub no_ceremony: bool,
    #[serde(default)]
    pub attendance_cap: Option<i64>,
    #[serde(default)]
    pub questions: Vec<Question>,
    pub reason: String,
}

fn bad(field: &str, m: &str) -> AppError {
    AppError::field(ErrorCode::Validation, field, m)
}

/// Put a setting in force. A daily cap below what is booked on a day moves the bookings over
/// it (latest booked first) to rebooking.
pub async fn create(state: &AppState, actor: &Actor, input: &NewEmergency) -> AppResult<Emergency> {
    actor.require(Permission::BookingsEmergency)?;
    let code = crate::regions::parse_code("region_code", &input.region_code)?;
    actor.within(&code)?;
    let kind = input.org_kind.trim();
    if !matches!(kind, "marriage_registry" | "funeral_home") {
        return Err(bad("org_kind", "应为婚姻登记机关或殡仪馆"));
    }
    let (from, to) = date_range(&input.starts_on, &input.ends_on)?;
    if (to - from).num_days() > 366 {
        return Err(bad("ends_on", "一次最长一年"));
    }
    if let Some(c) = input.daily_cap
        && !(0..=100_000).contains(&c)
    {
        return Err(bad("daily_cap", "应在 0 到 100000 之间"));
    }
    if let Some(c) = input.attendance_cap
        && !(1..=10_000).contains(&c)
    {
        return Err(bad("attendance_cap", "应在 1 到 10000 之间"));
    }
    let mut suspended: Vec<&str> = Vec::new();
    for s in &input.suspended {
        let s = s.trim();
        if !super::SERVICE_KINDS
            .iter()
            .any(|(k, ok, _)| *k == s && *ok == kind)
        {
            return Err(bad("suspended", "请选择该类机构的服务"));
        }
        if !suspended.contains(&s) {
            suspended.push(s);
        }
    }
    let mut questions: Vec<Question> = Vec::new();
    for q in &input.questions {
        if !QUESTIONS.iter().any(|(k, _)| *k == q.key)
            || !matches!(q.action.as_str(), "refuse" | "defer")
            || questions.iter().any(|x| x.key == q.key)
            || (q.action == "defer" && !(1..=60).contains(&q.days))
        {
            return Err(bad(
                "questions",
                "问题应为 fever 或 contact，处理方式 refuse（不予预约）或 defer（推迟 1–60 天）",
            ));
        }
        questions.push(Question {
            key: q.key.clone(),
            action: q.action.clone(),
            days: if q.action == "defer" { q.days } else { 0 },
        });
    }
    let reason = text_field("reason", &input.reason, 300, true)?;
    let row = queries::EmergencyRow {
        region_code: code.as_str(),
        org_kind: kind,
        starts_on: &from.format("%Y-%m-%d").to_string(),
        ends_on: &to.format("%Y-%m-%d").to_string(),
        daily_cap: input.daily_cap,
        suspended: &suspended.join(","),
        no_ceremony: input.no_ceremony,
        attendance_cap: input.attendance_cap,
        questions: &serde_json::to_string(&questions).unwrap_or_else(|_| "[]".into()),
        reason: &reason,
    };
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_emergency(&mut tx, &row, &actor.username).await?;
    let mut moved = 0;
    if let Some(cap) = input.daily_cap {
        for (org, day) in queries::days_over(&mut tx, &row, cap).await? {
            moved += super::rebook::displace(state, &mut tx, &org, &day, cap, &reason).await?;
        }
    }
    tx.commit(
        Change::new("booking.emergency_create", "booking_emergency", id, code.as_str()).detail(json!({
            "org_kind": kind, "starts_on": row.starts_on, "ends_on": row.ends_on,
            "daily_cap": input.daily_cap, "suspended": row.suspended, "no_ceremony": input.no_ceremony,
            "attendance_cap": input.attendance_cap, "questions": questions, "moved": moved}))
        .free_text("reason", &reason),
    )
    .await?;
    get(state, actor, id).await
}

/// End a setting (from now on it applies to no date).
pub async fn end(state: &AppState, actor: &Actor, id: i64) -> AppResult<Emergency> {
    actor.require(Permission::BookingsEmergency)?;
    let e = get(state, actor, id).await?;
    if e.ended_at.is_some() {
        return Err(AppError::msg(ErrorCode::Conflict, "该措施已结束"));
    }
    let mut tx = Tx::begin(state, actor).await?;
    queries::end_emergency(&mut tx, id).await?;
    tx.commit(
        Change::new(
            "booking.emergency_end",
            "booking_emergency",
            id,
            &e.region_code,
        )
        .detail(json!({"ended": true})),
    )
    .await?;
    get(state, actor, id).await
}

/// One setting in the actor's scope.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Emergency> {
    super::may_read(actor)?;
    queries::emergency(state, &actor.everywhere(), id).await
}

/// The settings set in the actor's scope (or one region of it), newest first.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<Vec<Emergency>> {
    super::may_read(actor)?;
    queries::emergencies_in(state, &actor.within_opt(region)?).await
}
