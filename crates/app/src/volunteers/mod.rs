//! Volunteers and social organisations (志愿者、社会组织, issue 19 item 7): volunteers register
//! on the public face with their verified phone (name and phone sealed; skills, availability,
//! the date of their health declaration — only "declared ok on", never the answers — and an
//! optional social organisation or social-work agency of the registry); a township or community
//! posts tasks (kind, place, time window, how many, skills); volunteers sign up on the public
//! page or staff assign them — never more than needed: the place is taken by a conditional
//! counter update in the same transaction as the shift; volunteers check in and out on their
//! phone (server time, the phone's coarse location if given, within the task's window ± 1 h);
//! the task's owner confirms or adjusts the minutes with a reason; only confirmed minutes count
//! in the totals (per volunteer, organisation and region, rolled up the tree) and on the
//! certificate of service hours.
//!
//! Rules: volunteers act only through the public face's session (`public::Citizen`), never
//! with staff accounts; they see of a task only what it says (no personal data of the people
//! helped). Staff need `volunteers.manage` and the task's (or volunteer's) region in scope;
//! out of scope is *not found*. Every change is one write transaction with its audit entry
//! (a volunteer masked in it).

pub mod certificate;
mod labels;
pub mod pages;
pub mod public_pages;
mod queries;
pub mod totals;
pub mod web;

use backstop_core::clock::{format_beijing, from_millis};
use backstop_core::error::ErrorCode;
use backstop_core::mask::{mask_name, mask_phone};
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::Who;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field, text_field};
use crate::public::Citizen;
use crate::state::AppState;

pub use labels::{KINDS, ORG_KINDS, SKILLS, hours_text, kind_label, skill_labels};

/// A check-in is accepted from an hour before the task's start to an hour after its end.
const WINDOW_SLACK_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// The province (2-digit prefix) of a region code (`backstop_core::region`).
pub(crate) use backstop_core::region::province_of;

fn beijing(ms: i64) -> String {
    format_beijing(from_millis(ms))
}

/// A volunteer as shown: to staff the name and phone are masked; to the volunteer their own.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Volunteer {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub name: String,
    pub phone_masked: String,
    /// Skill keys.
    pub skills: Vec<String>,
    pub skill_labels: String,
    pub availability: String,
    /// `YYYY-MM-DD`: the day they declared no fever and no contact history.
    pub health_ok_on: String,
    pub org_id: Option<i64>,
    pub org_name: String,
    pub created_at: String,
}

/// A task.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Task {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub kind: String,
    pub kind_label: String,
    pub title: String,
    pub address: String,
    /// Beijing time `YYYY-MM-DD HH:MM`.
    pub starts: String,
    pub ends: String,
    pub needed: i64,
    pub taken: i64,
    pub skills: Vec<String>,
    pub skill_labels: String,
    /// What volunteers need to know (no personal data of the people helped).
    pub note: String,
    /// `open` or `cancelled`.
    pub status: String,
    /// 报名中, 已满, 已结束, 已取消.
    pub status_label: String,
    pub created_by: String,
    #[serde(skip)]
    pub starts_at: i64,
    #[serde(skip)]
    pub ends_at: i64,
}

/// A volunteer on a task.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Shift {
    pub id: i64,
    pub task_id: i64,
    pub task_title: String,
    pub task_kind_label: String,
    pub task_region_code: String,
    pub task_region_name: String,
    pub task_starts: String,
    pub task_ends: String,
    pub task_address: String,
    pub volunteer_id: i64,
    /// Masked to staff.
    pub volunteer_name: String,
    /// `signup` or `assigned`.
    pub via: String,
    /// `signed`, `checked_in`, `checked_out` or `confirmed`.
    pub status: String,
    pub status_label: String,
    pub checkin_at: Option<String>,
    pub checkin_place: String,
    pub checkout_at: Option<String>,
    pub checkout_place: String,
    /// Minutes between check-in and check-out.
    pub minutes: Option<i64>,
    /// The minutes the task's owner confirmed (what counts).
    pub confirmed_minutes: Option<i64>,
    pub confirmed_by: Option<String>,
    pub adjust_reason: String,
}

/// A task with the volunteers on it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskDetail {
    pub task: Task,
    pub shifts: Vec<Shift>,
}

/// Registration of a volunteer (public, with the verified phone).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewVolunteer {
    /// A township or village code.
    pub region_code: String,
    pub name: String,
    pub skills: Vec<String>,
    pub availability: String,
    /// No fever in the last 14 days.
    pub no_fever: bool,
    /// No contact history.
    pub no_contact: bool,
    pub org_id: Option<i64>,
}

/// Body of `POST /api/v1/volunteers/tasks`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewTask {
    pub region_code: String,
    /// screening, entrance_duty, publicity, supply_transport or household_support.
    pub kind: String,
    pub title: String,
    pub address: String,
    /// `YYYY-MM-DD` (Beijing).
    pub day: String,
    /// `HH:MM` (Beijing).
    pub starts: String,
    pub ends: String,
    pub needed: i64,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub note: String,
}

/// Body of `POST /api/v1/volunteers/tasks/{id}/assign`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AssignInput {
    pub volunteer_id: i64,
}

/// Body of `POST /api/v1/volunteers/shifts/{id}/confirm`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ConfirmInput {
    /// The minutes to credit; default the minutes checked in. A different number needs a
    /// reason.
    #[serde(default)]
    pub minutes: Option<i64>,
    #[serde(default)]
    pub reason: String,
}

fn skills_field(field: &str, raw: &[String]) -> AppResult<String> {
    let mut out: Vec<&str> = Vec::new();
    for s in raw {
        let s = s.trim();
        if s.is_empty() {
            continue;
        }
        let Some((k, _)) = SKILLS.iter().find(|(k, l)| *k == s || *l == s) else {
            return Err(AppError::field(
                ErrorCode::Validation,
                field,
                "请从列表中选择技能",
            ));
        };
        if !out.contains(k) {
            out.push(k);
        }
    }
    Ok(out.join(","))
}

fn hhmm(field: &str, s: &str) -> AppResult<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| AppError::field(ErrorCode::Validation, field, "请填写时间，如 08:30"))
}

/// Unix ms of a Beijing wall-clock time.
fn beijing_ms(d: NaiveDate, t: NaiveTime) -> i64 {
    d.and_time(t).and_utc().timestamp_millis() - 8 * 3_600_000
}

/// The shape of a masked volunteer in audit details.
fn masked(v: &queries::VolunteerRow) -> serde_json::Value {
    json!({"id": v.id, "name": mask_name(&v.name), "phone": mask_phone(&v.phone)})
}

fn public_who(source: &str) -> Who {
    Who {
        user_id: None,
        username: "public".to_string(),
        source: source.to_string(),
    }
}

// ---------------------------------------------------------------- the volunteer's side

/// The volunteer a verified phone registered, if any (their own name, unmasked).
pub async fn mine(state: &AppState, c: &Citizen) -> AppResult<Option<Volunteer>> {
    Ok(queries::volunteer_by_phone(state, &c.phone_index)
        .await?
        .map(|v| v.shown(false)))
}

async fn me(state: &AppState, c: &Citizen) -> AppResult<queries::VolunteerRow> {
    queries::volunteer_by_phone(state, &c.phone_index)
        .await?
        .ok_or_else(|| AppError::msg(ErrorCode::Conflict, "请先登记成为志愿者"))
}

/// Organisations a volunteer of `region` may name: social organisations and social-work
/// agencies of the county above it (id, name).
pub async fn orgs_for(state: &AppState, region: &str) -> AppResult<Vec<(i64, String)>> {
    let county: String = region.chars().take(6).collect();
    queries::orgs_under(state, &county).await
}

/// Register the verified phone as a volunteer.
pub async fn register(
    state: &AppState,
    c: &Citizen,
    source: &str,
    input: &NewVolunteer,
) -> AppResult<Volunteer> {
    let code = crate::regions::parse_code("region_code", input.region_code.trim())?;
    let region = crate::regions::find(state, code.as_str())
        .await?
        .filter(|r| r.level == "township" || r.level == "village")
        .ok_or_else(|| {
            AppError::field(
                ErrorCode::UnknownRegion,
                "region_code",
                "请选择服务的乡镇（街道）或村（社区）",
            )
        })?;
    let name = text_field("name", &input.name, 40, true)?;
    let skills = skills_field("skills", &input.skills)?;
    if skills.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "skills",
            "请至少选择一项技能",
        ));
    }
    let availability = text_field("availability", &input.availability, 100, true)?;
    if !(input.no_fever && input.no_contact) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "health_declaration",
            "健康申报未通过：有发热或接触史的，请先居家观察，暂不参加志愿服务",
        ));
    }
    let org_id = match input.org_id.filter(|id| *id > 0) {
        None => None,
        Some(id) => {
            let ok = orgs_for(state, &region.code)
                .await?
                .iter()
                .any(|(o, _)| *o == id);
            if !ok {
                return Err(AppError::field(
                    ErrorCode::Validation,
                    "org_id",
                    "请从列表中选择社会组织或社工机构",
                ));
            }
            Some(id)
        }
    };
    if queries::volunteer_by_phone(state, &c.phone_index)
        .await?
        .is_some()
    {
        return Err(AppError::msg(ErrorCode::Conflict, "该手机号已登记为志愿者"));
    }
    let today = state.today().format("%Y-%m-%d").to_string();
    let mut tx = Tx::begin_as(state, public_who(source)).await?;
    let id = queries::insert_volunteer(
        &mut tx,
        &queries::NewVolunteerRow {
            region_code: &region.code,
            phone_index: &c.phone_index,
            phone_enc: c.phone_enc.clone(),
            name_enc: state.keys.encrypt(name.as_bytes()),
            skills: &skills,
            availability: &availability,
            health_ok_on: &today,
            org_id,
        },
    )
    .await;
    let id = match id {
        Ok(id) => id,
        Err(_) => {
            return Err(AppError::msg(ErrorCode::Conflict, "该手机号已登记为志愿者"));
        }
    };
    tx.commit(
        Change::new("volunteer.register", "volunteer", id, &region.code).detail(json!({
            "volunteer": {"id": id, "name": mask_name(&name), "phone": c.phone_masked},
            "skills": skills, "org_id": org_id, "health_ok_on": today})),
    )
    .await?;
    mine(state, c)
        .await?
        .ok_or_else(|| AppError::internal("volunteer", "registered volunteer not found"))
}

/// Open tasks of the volunteer's township that have not ended, soonest first.
pub async fn open_tasks(state: &AppState, c: &Citizen) -> AppResult<Vec<Task>> {
    let v = me(state, c).await?;
    let township: String = v.region_code.chars().take(9).collect();
    queries::open_tasks_under(state, &township, state.now_ms()).await
}

/// The volunteer's own shifts, newest task first.
pub async fn my_shifts(state: &AppState, c: &Citizen) -> AppResult<Vec<Shift>> {
    let v = me(state, c).await?;
    let mut list = queries::shifts_of_volunteer(state, v.id).await?;
    for s in &mut list {
        s.volunteer_name = v.name.clone();
    }
    Ok(list)
}

/// Take a place on a task and write the shift; `None` when the task is full.
async fn take_place(
    tx: &mut Tx,
    task: &Task,
    v: &queries::VolunteerRow,
    via: &str,
    by: &str,
) -> AppResult<Option<i64>> {
    if !queries::take(tx, task).await? {
        return Ok(None);
    }
    let id = queries::insert_shift(tx, task, v, via, by).await?;
    Ok(Some(id))
}

fn full() -> AppError {
    AppError::msg(ErrorCode::Conflict, "该任务人数已满")
}

/// A volunteer signs up for an open task of their township. Signing up again answers the
/// shift already made.
pub async fn sign_up(
    state: &AppState,
    c: &Citizen,
    source: &str,
    task_id: i64,
) -> AppResult<Shift> {
    let v = me(state, c).await?;
    let township: String = v.region_code.chars().take(9).collect();
    let task = queries::task(state, task_id)
        .await?
        .filter(|t| t.region_code.starts_with(&township))
        .ok_or_else(AppError::not_found)?;
    if let Some(s) = queries::shift_of(state, task.id, v.id).await? {
        return Ok(s);
    }
    if task.status != "open" || task.ends_at <= state.now_ms() {
        return Err(AppError::msg(ErrorCode::Conflict, "该任务已结束或已取消"));
    }
    let mut tx = Tx::begin_as(state, public_who(source)).await?;
    let Some(id) = take_place(&mut tx, &task, &v, "signup", "public").await? else {
        tx.rollback().await?;
        return Err(full());
    };
    tx.commit(
        Change::new("volunteer.signup", "volunteer_shift", id, &task.region_code)
            .detail(json!({"task_id": task.id, "volunteer": masked(&v)})),
    )
    .await?;
    own_shift(state, &v, task.id).await
}

async fn own_shift(state: &AppState, v: &queries::VolunteerRow, task_id: i64) -> AppResult<Shift> {
    let mut s = queries::shift_of(state, task_id, v.id)
        .await?
        .ok_or_else(AppError::not_found)?;
    s.volunteer_name = v.name.clone();
    Ok(s)
}

fn not_on_task() -> AppError {
    AppError::msg(
        ErrorCode::Conflict,
        "您未报名或未被指派该任务，不能签到签退",
    )
}

/// Clip the phone's location text (coarse: what the phone or the volunteer gives).
fn place_text(place: &str) -> AppResult<String> {
    text_field("place", place, 60, false)
}

/// Check in on a task the volunteer signed up for or was assigned to, within its window
/// (± 1 h), at the server's time. Checking in again answers the shift as it is.
pub async fn check_in(
    state: &AppState,
    c: &Citizen,
    source: &str,
    task_id: i64,
    place: &str,
) -> AppResult<Shift> {
    let v = me(state, c).await?;
    let place = place_text(place)?;
    let s = queries::shift_of(state, task_id, v.id)
        .await?
        .ok_or_else(not_on_task)?;
    if s.status != "signed" {
        return own_shift(state, &v, task_id).await;
    }
    let task = queries::task(state, task_id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let now = state.now_ms();
    if now < task.starts_at - WINDOW_SLACK_MS || now > task.ends_at + WINDOW_SLACK_MS {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!(
                "不在任务时间内（{} 至 {}，前后 1 小时可签到）",
                task.starts, task.ends
            ),
        ));
    }
    let mut tx = Tx::begin_as(state, public_who(source)).await?;
    if !queries::check_in(&mut tx, s.id, &place).await? {
        tx.rollback().await?;
        return own_shift(state, &v, task_id).await;
    }
    tx.commit(
        Change::new(
            "volunteer.checkin",
            "volunteer_shift",
            s.id,
            &task.region_code,
        )
        .detail(json!({"task_id": task.id, "volunteer": masked(&v), "place": place})),
    )
    .await?;
    own_shift(state, &v, task_id).await
}

/// Check out: only after checking in; the minutes are the whole minutes between the two
/// (server times). Checking out again answers the shift as it is.
pub async fn check_out(
    state: &AppState,
    c: &Citizen,
    source: &str,
    task_id: i64,
    place: &str,
) -> AppResult<Shift> {
    let v = me(state, c).await?;
    let place = place_text(place)?;
    let s = queries::shift_of(state, task_id, v.id)
        .await?
        .ok_or_else(not_on_task)?;
    match s.status.as_str() {
        "signed" => {
            return Err(AppError::msg(ErrorCode::Conflict, "尚未签到，不能签退"));
        }
        "checked_in" => {}
        _ => return own_shift(state, &v, task_id).await,
    }
    let mut tx = Tx::begin_as(state, public_who(source)).await?;
    let Some(minutes) = queries::check_out(&mut tx, s.id, &place).await? else {
        tx.rollback().await?;
        return own_shift(state, &v, task_id).await;
    };
    tx.commit(
        Change::new(
            "volunteer.checkout",
            "volunteer_shift",
            s.id,
            &s.task_region_code,
        )
        .detail(json!({"task_id": task_id, "volunteer": masked(&v), "place": place, "minutes": minutes})),
    )
    .await?;
    own_shift(state, &v, task_id).await
}

// ---------------------------------------------------------------- the staff side

fn may_manage(actor: &Actor) -> AppResult<()> {
    actor.require(Permission::VolunteersManage)
}

/// Post a task in a region of the actor's scope.
pub async fn create_task(state: &AppState, actor: &Actor, input: &NewTask) -> AppResult<Task> {
    may_manage(actor)?;
    let code =
        crate::regions::existing_in_scope(state, actor, "region_code", &input.region_code).await?;
    let region = crate::regions::find(state, code.as_str())
        .await?
        .ok_or_else(AppError::not_found)?;
    if !matches!(region.level.as_str(), "township" | "village") {
        return Err(AppError::field(
            ErrorCode::Validation,
            "region_code",
            "任务应发布在乡镇（街道）或村（社区）",
        ));
    }
    let kind = KINDS
        .iter()
        .find(|(k, _)| *k == input.kind.trim())
        .map(|(k, _)| *k)
        .ok_or_else(|| AppError::field(ErrorCode::Validation, "kind", "请从列表中选择任务类型"))?;
    let title = text_field("title", &input.title, 60, true)?;
    let address = text_field("address", &input.address, 100, true)?;
    let day = date_field("day", &input.day)?;
    if day < state.today() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "day",
            "任务日期不能早于今天",
        ));
    }
    let starts = hhmm("starts", &input.starts)?;
    let ends = hhmm("ends", &input.ends)?;
    if ends <= starts {
        return Err(AppError::field(
            ErrorCode::Validation,
            "ends",
            "结束时间应晚于开始时间",
        ));
    }
    if !(1..=500).contains(&input.needed) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "needed",
            "需要人数应为 1 至 500",
        ));
    }
    let skills = skills_field("skills", &input.skills)?;
    let note = text_field("note", &input.note, 500, false)?;
    let row = queries::NewTaskRow {
        region_code: &region.code,
        kind,
        title: &title,
        address: &address,
        starts_at: beijing_ms(day, starts),
        ends_at: beijing_ms(day, ends),
        needed: input.needed,
        skills: &skills,
        note: &note,
        by: &actor.username,
    };
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_task(&mut tx, &row).await?;
    tx.commit(
        Change::new("volunteer_task.create", "volunteer_task", id, &region.code).detail(json!({
            "kind": kind, "title": title, "address": address, "needed": input.needed,
            "starts_at": beijing(row.starts_at), "ends_at": beijing(row.ends_at), "skills": skills})),
    )
    .await?;
    Ok(get_task(state, actor, id).await?.task)
}

/// Tasks in the actor's scope (optionally one region of it), latest start first.
pub async fn list_tasks(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<Vec<Task>> {
    may_manage(actor)?;
    queries::tasks(state, &actor.within_opt(region)?, state.now_ms()).await
}

/// One task in scope with its volunteers (masked).
pub async fn get_task(state: &AppState, actor: &Actor, id: i64) -> AppResult<TaskDetail> {
    may_manage(actor)?;
    let task = queries::task_scoped(state, &actor.everywhere(), id).await?;
    let shifts = queries::shifts_of_task(state, id).await?;
    Ok(TaskDetail { task, shifts })
}

/// Volunteers registered in the actor's scope (masked).
pub async fn list_volunteers(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<Vec<Volunteer>> {
    may_manage(actor)?;
    Ok(queries::volunteers(state, &actor.within_opt(region)?)
        .await?
        .into_iter()
        .map(|v| v.shown(true))
        .collect())
}

/// Staff assign a volunteer of their scope to a task of their scope (a place is taken as by a
/// sign-up).
pub async fn assign(
    state: &AppState,
    actor: &Actor,
    task_id: i64,
    volunteer_id: i64,
) -> AppResult<Shift> {
    may_manage(actor)?;
    let task = get_task(state, actor, task_id).await?.task;
    let v = queries::volunteer_scoped(state, &actor.everywhere(), volunteer_id)
        .await
        .map_err(|_| {
            AppError::field(
                ErrorCode::Validation,
                "volunteer_id",
                "志愿者不存在或不在您的管辖范围内",
            )
        })?;
    if queries::shift_of(state, task.id, v.id).await?.is_some() {
        return Err(AppError::msg(ErrorCode::Conflict, "该志愿者已在此任务中"));
    }
    if task.status != "open" || task.ends_at <= state.now_ms() {
        return Err(AppError::msg(ErrorCode::Conflict, "该任务已结束或已取消"));
    }
    let mut tx = Tx::begin(state, actor).await?;
    let Some(id) = take_place(&mut tx, &task, &v, "assigned", &actor.username).await? else {
        tx.rollback().await?;
        return Err(full());
    };
    tx.commit(
        Change::new("volunteer.assign", "volunteer_shift", id, &task.region_code)
            .detail(json!({"task_id": task.id, "volunteer": masked(&v)})),
    )
    .await?;
    get_shift(state, actor, id).await
}

/// One shift of a task in scope (volunteer masked).
pub async fn get_shift(state: &AppState, actor: &Actor, id: i64) -> AppResult<Shift> {
    may_manage(actor)?;
    queries::shift_scoped(state, &actor.everywhere(), id).await
}

/// The task's owner (staff with the task in scope) confirms the minutes of a shift checked
/// out, or adjusts them with a reason.
pub async fn confirm(
    state: &AppState,
    actor: &Actor,
    shift_id: i64,
    input: &ConfirmInput,
) -> AppResult<Shift> {
    let s = get_shift(state, actor, shift_id).await?;
    let Some(checked) = s.minutes else {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "志愿者尚未签到签退，不能确认时长",
        ));
    };
    let minutes = input.minutes.unwrap_or(checked);
    if !(0..=24 * 60).contains(&minutes) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "minutes",
            "时长应为 0 至 1440 分钟",
        ));
    }
    let reason = text_field("reason", &input.reason, 200, false)?;
    if minutes != checked && reason.is_empty() {
        return Err(AppError::field(
            ErrorCode::ReasonRequired,
            "reason",
            "调整时长须填写理由",
        ));
    }
    let mut tx = Tx::begin(state, actor).await?;
    queries::confirm(&mut tx, s.id, minutes, &reason, &actor.username).await?;
    tx.commit(
        Change::new(
            "volunteer.hours_confirm",
            "volunteer_shift",
            s.id,
            &s.task_region_code,
        )
        .detail(json!({"task_id": s.task_id, "volunteer_id": s.volunteer_id,
            "confirmed_minutes": {"before": s.confirmed_minutes, "after": minutes},
            "checked_minutes": checked, "reason": reason})),
    )
    .await?;
    get_shift(state, actor, s.id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_and_skills_read_in_chinese() {
        assert_eq!(hours_text(150), "2 小时 30 分钟");
        assert_eq!(hours_text(45), "45 分钟");
        assert_eq!(hours_text(120), "2 小时");
        assert_eq!(skill_labels("screening,driving"), "测温排查、驾驶");
        let raw = vec!["宣传".to_string(), "publicity".to_string(), " ".to_string()];
        assert_eq!(
            skills_field("skills", &raw).ok().as_deref(),
            Some("publicity")
        );
        assert!(skills_field("skills", &["x".to_string()]).is_err());
    }

    #[test]
    fn beijing_wall_clock_to_utc() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 2).expect("d");
        let t = NaiveTime::from_hms_opt(9, 0, 0).expect("t");
        // 09:00 Beijing = 01:00 UTC.
        assert_eq!(beijing(beijing_ms(d, t)), "2026-03-02 09:00");
    }
}
