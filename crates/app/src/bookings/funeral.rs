//! Funeral capacity (殡葬服务能力, issue 19 item 5): body collection requests (遗体接运) from a
//! hospital (its staff, tied to the hospital) or a family through the funeral home's staff on
//! the phone; scheduling them against the home's vehicles (a collection holds a vehicle for a
//! window of hours, 2 by default) and cremators (a cremation holds a cremator slot); the day's
//! plan per funeral home; recording a job done or cancelled. A cremation recorded done for a
//! person of the registry marks the person deceased (audited as a change of the person), so
//! assistance rolls leave them out and the cross-checks see it.
//!
//! Epidemic deaths (确诊或疑似病例死亡) follow a separate, strict flow, as the 2020 rules
//! required: only a designated vehicle (专用车辆), collection at once (this hour or the next),
//! cremation the same day, no farewell, nobody attending; anything else is refused with the
//! reason. A resource is never booked twice: each hour a job holds is a claim row with a unique
//! key, inserted in the job's transaction (`INSERT … ON CONFLICT DO NOTHING`; fewer rows than
//! hours = taken, rolled back, 409) — docs/adr/0014-bookings-capacity.md, addendum.

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use chrono::{NaiveDate, Timelike};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{OrgInfo, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field, text_field};
use crate::state::AppState;

/// A vehicle or cremator with its designation and service state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Unit {
    pub id: i64,
    pub org_id: i64,
    /// `vehicle` or `cremator`.
    pub kind: String,
    pub kind_label: String,
    pub name: String,
    /// A designated vehicle (专用车辆): the only kind an epidemic death may be carried in.
    pub designated: bool,
    /// Out of service (maintenance): nothing may be scheduled on it.
    pub out_of_service: bool,
    pub note: String,
}

/// A job of a request on a resource.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub id: i64,
    pub request_id: i64,
    pub org_id: i64,
    pub region_code: String,
    pub resource_id: i64,
    pub resource_name: String,
    /// `collection` or `cremation`.
    pub kind: String,
    pub kind_label: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Start hour, 0–23.
    pub hour: i64,
    pub hours: i64,
    pub epidemic: bool,
    /// `planned`, `done` or `cancelled`.
    pub status: String,
    pub status_label: String,
    /// The request's number and the deceased's masked name.
    pub number: String,
    pub name: String,
}

/// A body collection request (personal data masked).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Request {
    pub id: i64,
    pub number: String,
    pub org_id: i64,
    pub org_name: String,
    pub region_code: String,
    /// `hospital` or `family`.
    pub source: String,
    pub from_org_id: Option<i64>,
    /// The registry person, when known.
    pub person_id: Option<i64>,
    /// Masked.
    pub name: String,
    /// Masked.
    pub id_number: String,
    /// Place of death, masked.
    pub place: String,
    /// `YYYY-MM-DD HH:MM`.
    pub died_at: String,
    pub phone_masked: String,
    pub epidemic: bool,
    pub farewell: bool,
    pub attendance: i64,
    /// `requested`, `scheduled`, `collected`, `cremated` or `cancelled`.
    pub status: String,
    pub status_label: String,
    pub created_at: String,
    pub jobs: Vec<Job>,
}

/// Body of `POST /api/v1/bookings/funeral/requests`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewRequest {
    /// The funeral home.
    pub org_id: i64,
    /// A person of the registry (needs `persons.read`); else `name` and `id_number`.
    #[serde(default)]
    pub person_id: Option<i64>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub id_number: String,
    /// Place of death (a hospital's name or an address).
    pub place: String,
    /// `YYYY-MM-DD HH:MM`.
    pub died_at: String,
    /// Contact phone.
    pub phone: String,
    /// A confirmed or suspected epidemic death: the strict flow.
    #[serde(default)]
    pub epidemic: bool,
    /// A farewell ceremony asked for (never for an epidemic death).
    #[serde(default)]
    pub farewell: bool,
    /// People attending (0 for an epidemic death).
    #[serde(default)]
    pub attendance: i64,
}

/// Body of `POST /api/v1/bookings/funeral/requests/{id}/collection` and `…/cremation`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewJob {
    /// The vehicle (collection) or cremator (cremation).
    pub resource_id: i64,
    /// `YYYY-MM-DD`; an epidemic collection: default today.
    #[serde(default)]
    pub day: Option<String>,
    /// Start hour 0–23; an epidemic collection: default this hour.
    #[serde(default)]
    pub hour: Option<i64>,
    /// Hours held: collection default 2 (1–6), cremation 1 (1–4).
    #[serde(default)]
    pub hours: Option<i64>,
}

/// Body of `POST /api/v1/bookings/funeral/resources/{id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct UnitState {
    #[serde(default)]
    pub designated: bool,
    #[serde(default)]
    pub out_of_service: bool,
    /// Why out of service (required then).
    #[serde(default)]
    pub note: String,
}

/// Body of `POST /api/v1/bookings/funeral/jobs/{id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct JobOutcome {
    /// `done` or `cancelled`.
    pub status: String,
}

/// The Chinese name of a request status.
pub fn request_status_label(s: &str) -> &'static str {
    match s {
        "requested" => "待安排",
        "scheduled" => "已安排",
        "collected" => "已接运",
        "cremated" => "已火化",
        "cancelled" => "已取消",
        _ => "",
    }
}

/// The Chinese name of a job kind.
pub fn job_kind_label(s: &str) -> &'static str {
    match s {
        "collection" => "接运",
        "cremation" => "火化",
        _ => "",
    }
}

/// The Chinese name of a job status.
pub fn job_status_label(s: &str) -> &'static str {
    match s {
        "planned" => "已安排",
        "done" => "已完成",
        "cancelled" => "已取消",
        _ => "",
    }
}

fn bad(field: &str, m: impl Into<String>) -> AppError {
    AppError::field(ErrorCode::Validation, field, m)
}

/// The funeral home a request goes to, for this actor: in its region scope, and — for an
/// actor tied to an organisation — the home itself or a hospital (whose staff send requests).
/// Returns the home and the hospital the actor belongs to, if any.
async fn home_for_request(
    state: &AppState,
    actor: &Actor,
    org_id: i64,
) -> AppResult<(OrgInfo, Option<i64>)> {
    super::may_read(actor)?;
    let scope = actor.everywhere();
    let home = queries::org_public(state, org_id)
        .await?
        .filter(|o| o.kind == "funeral_home")
        .ok_or_else(AppError::not_found)?;
    let region = home.region_code.clone();
    let home = scope.admit(&region, home)?;
    match actor.org_id {
        Some(mine) if mine != home.id => {
            let hospital = queries::org(state, &scope, mine).await?;
            if hospital.kind != "hospital" {
                return Err(AppError::not_found());
            }
            Ok((home, Some(mine)))
        }
        _ => Ok((home, None)),
    }
}

/// A funeral home in the actor's scope (*not found* for anything else).
async fn home(state: &AppState, actor: &Actor, org_id: i64) -> AppResult<OrgInfo> {
    let o = super::org(state, actor, org_id).await?;
    if o.kind != "funeral_home" {
        return Err(AppError::not_found());
    }
    Ok(o)
}

/// `YYYY-MM-DD HH:MM`.
fn minute_field(field: &str, s: &str) -> AppResult<String> {
    chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M"))
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .map_err(|_| bad(field, "时间格式应为 YYYY-MM-DD HH:MM"))
}

/// A place shown masked: its first four characters.
fn mask_place(s: &str) -> String {
    let head: String = s.chars().take(4).collect();
    if s.chars().count() > 4 {
        format!("{head}****")
    } else {
        head
    }
}

/// The current Beijing date and hour.
pub(crate) fn now_hour(state: &AppState) -> (NaiveDate, i64) {
    let t = backstop_core::clock::beijing_naive(backstop_core::clock::from_millis(state.now_ms()));
    (t.date(), i64::from(t.hour()))
}

fn new_number(province: &str) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    format!("F{province}{:09}", rng.random_range(0..1_000_000_000_i64))
}

/// A request and its jobs, if the actor may see it: region scope, and for an actor tied to an
/// organisation, the home's or the sending hospital's people only.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Request> {
    super::may_read(actor)?;
    let mut r = queries::request(state, id).await?;
    let region = r.region_code.clone();
    r = actor.everywhere().admit(&region, r)?;
    if let Some(mine) = actor.org_id
        && mine != r.org_id
        && r.from_org_id != Some(mine)
    {
        return Err(AppError::not_found());
    }
    r.jobs = queries::jobs_of(state, r.id).await?;
    Ok(r)
}

/// Take a body collection request (bookings.manage; a hospital's staff or the home's).
pub async fn request(
    state: &AppState,
    actor: &Actor,
    input: &NewRequest,
    idem: Option<&str>,
) -> AppResult<Request> {
    actor.require(Permission::BookingsManage)?;
    if let Some(k) = idem
        && let Some(id) = queries::request_by_key(state, &actor.username, k).await?
    {
        return get(state, actor, id).await;
    }
    let (home, hospital) = home_for_request(state, actor, input.org_id).await?;
    let (person_id, name, id_sealed) = match input.person_id {
        Some(pid) => {
            let p = crate::people::get(state, actor, pid).await?;
            if p.deceased {
                return Err(AppError::field(
                    ErrorCode::Conflict,
                    "person_id",
                    "此人已登记为死亡",
                ));
            }
            (Some(p.id), p.name, None)
        }
        None => {
            let name = text_field("name", &input.name, 50, true)?;
            let cid = crate::people::parse_id(&input.id_number, state.today()).map_err(|e| {
                let m = e
                    .fields
                    .first()
                    .map(|x| x.message.clone())
                    .unwrap_or_default();
                AppError::field(ErrorCode::InvalidIdNumber, "id_number", m)
            })?;
            let index = crate::people::id_index(state, &cid);
            let pid = queries::person_by_index(state, &index).await?;
            (
                pid,
                name,
                Some((
                    state.keys.encrypt(cid.as_str().as_bytes()),
                    index,
                    cid.masked_strict(),
                )),
            )
        }
    };
    let place = text_field("place", &input.place, 200, true)?;
    let died_at = minute_field("died_at", &input.died_at)?;
    let phone = crate::public::mobile(&input.phone)?;
    if !(0..=500).contains(&input.attendance) {
        return Err(bad("attendance", "应在 0 到 500 之间"));
    }
    if input.epidemic {
        if input.farewell {
            return Err(bad("farewell", "疫情死亡不举行告别仪式"));
        }
        if input.attendance != 0 {
            return Err(bad("attendance", "疫情死亡不得安排亲属参加，人数应为 0"));
        }
    }
    let (id_enc, id_index, id_masked) = match id_sealed {
        Some((e, i, m)) => (Some(e), i, m),
        None => (None, String::new(), String::new()),
    };
    let number = new_number(&super::province_of(&home.region_code));
    let row = queries::RequestRow {
        number: &number,
        org_id: home.id,
        region_code: &home.region_code,
        source: if hospital.is_some() {
            "hospital"
        } else {
            "family"
        },
        from_org_id: hospital,
        person_id,
        name_enc: state.keys.encrypt(name.as_bytes()),
        name_masked: backstop_core::mask::mask_name(&name),
        id_enc,
        id_index,
        id_masked: id_masked.clone(),
        place_enc: state.keys.encrypt(place.as_bytes()),
        place_masked: mask_place(&place),
        died_at: &died_at,
        phone_enc: state.keys.encrypt(phone.as_bytes()),
        phone_masked: backstop_core::mask::mask_phone(&phone),
        epidemic: input.epidemic,
        farewell: input.farewell,
        attendance: input.attendance,
        idem,
        by: &actor.username,
    };
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_request(&mut tx, &row).await?;
    tx.commit(
        Change::new("funeral.request", "funeral_request", id, &home.region_code).detail(json!({
            "org_id": home.id, "number": number, "source": row.source, "from_org_id": hospital,
            "person_id": person_id, "id_number": id_masked, "died_at": died_at,
            "epidemic": input.epidemic, "farewell": input.farewell, "attendance": input.attendance})),
    )
    .await?;
    get(state, actor, id).await
}

/// A request the actor may schedule: bookings.manage and the funeral home in scope.
async fn for_home(state: &AppState, actor: &Actor, id: i64) -> AppResult<Request> {
    actor.require(Permission::BookingsManage)?;
    let r = get(state, actor, id).await?;
    home(state, actor, r.org_id).await?;
    Ok(r)
}

/// A unit of the request's home, of `kind`, in service.
async fn usable_unit(state: &AppState, r: &Request, id: i64, kind: &str) -> AppResult<Unit> {
    let u = queries::unit(state, id)
        .await
        .ok()
        .filter(|u| u.org_id == r.org_id && u.kind == kind)
        .ok_or_else(|| {
            bad(
                "resource_id",
                if kind == "vehicle" {
                    "请选择本殡仪馆的车辆"
                } else {
                    "请选择本殡仪馆的火化炉"
                },
            )
        })?;
    if u.out_of_service {
        return Err(AppError::field(
            ErrorCode::Conflict,
            "resource_id",
            format!("{}停用中（{}），不能安排", u.name, u.note),
        ));
    }
    Ok(u)
}

/// Insert the job and claim its hours; 409 naming the hour already taken.
#[allow(clippy::too_many_arguments)]
async fn book_job(
    state: &AppState,
    actor: &Actor,
    r: &Request,
    u: &Unit,
    kind: &str,
    day: &str,
    hour: i64,
    hours: i64,
) -> AppResult<i64> {
    let mut tx = Tx::begin(state, actor).await?;
    let job =
        queries::insert_job(&mut tx, r, u.id, kind, day, hour, hours, &actor.username).await?;
    for h in hour..hour + hours {
        if !queries::claim(&mut tx, &r.region_code, u.id, day, h, job).await? {
            tx.rollback().await?;
            return Err(AppError::field(
                ErrorCode::Conflict,
                "hour",
                format!(
                    "{}在 {day} {h:02}:00 已有安排，请另选时间或{}",
                    u.name, u.kind_label
                ),
            ));
        }
    }
    if kind == "collection" {
        queries::set_request_status(&mut tx, r.id, "scheduled").await?;
    }
    tx.commit(
        Change::new("funeral.schedule", "funeral_job", job, &r.region_code).detail(json!({
            "request_id": r.id, "kind": kind, "resource_id": u.id, "day": day, "hour": hour,
            "hours": hours, "epidemic": r.epidemic})),
    )
    .await?;
    Ok(job)
}

fn hour_window(hour: i64, hours: i64, max: i64) -> AppResult<(i64, i64)> {
    if !(0..=23).contains(&hour) {
        return Err(bad("hour", "应为 0 到 23 点"));
    }
    if !(1..=max).contains(&hours) {
        return Err(bad("hours", format!("应为 1 到 {max} 小时")));
    }
    if hour + hours > 24 {
        return Err(bad("hours", "不能跨过午夜，请分两日安排"));
    }
    Ok((hour, hours))
}

/// Schedule the collection of a request on a vehicle.
pub async fn schedule_collection(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &NewJob,
) -> AppResult<Request> {
    let r = for_home(state, actor, id).await?;
    if r.status != "requested" {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!("该申请{}，不能再安排接运", r.status_label),
        ));
    }
    let u = usable_unit(state, &r, input.resource_id, "vehicle").await?;
    let (today, this_hour) = now_hour(state);
    let (day, hour) = if r.epidemic {
        if !u.designated {
            return Err(bad(
                "resource_id",
                "疫情死亡遗体须由专用车辆接运，请选择专用车辆",
            ));
        }
        let day = match input
            .day
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(d) => date_field("day", d)?,
            None => today,
        };
        let hour = input.hour.unwrap_or(this_hour);
        if day != today || !(this_hour..=this_hour + 1).contains(&hour) {
            return Err(bad(
                "hour",
                format!("疫情死亡遗体须立即接运（今日 {this_hour:02} 时或下一小时）"),
            ));
        }
        (day, hour)
    } else {
        let day = date_field("day", input.day.as_deref().unwrap_or("").trim())?;
        let hour = input
            .hour
            .ok_or_else(|| bad("hour", "请填写接运时间（0–23 点）"))?;
        if day < today || (day == today && hour < this_hour) {
            return Err(bad("day", "接运时间不能早于现在"));
        }
        (day, hour)
    };
    let (hour, hours) = hour_window(hour, input.hours.unwrap_or(2), 6)?;
    let day_s = day.format("%Y-%m-%d").to_string();
    book_job(state, actor, &r, &u, "collection", &day_s, hour, hours).await?;
    get(state, actor, id).await
}

/// Schedule the cremation of a request on a cremator (after its collection).
pub async fn schedule_cremation(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &NewJob,
) -> AppResult<Request> {
    let r = for_home(state, actor, id).await?;
    let live = |k: &str| {
        r.jobs
            .iter()
            .find(|j| j.kind == k && j.status != "cancelled")
            .cloned()
    };
    let Some(collection) = live("collection") else {
        return Err(AppError::msg(ErrorCode::Conflict, "请先安排接运"));
    };
    if live("cremation").is_some() || !matches!(r.status.as_str(), "scheduled" | "collected") {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "该申请已安排火化或已办结",
        ));
    }
    let u = usable_unit(state, &r, input.resource_id, "cremator").await?;
    let day = match input
        .day
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(d) => date_field("day", d)?,
        None if r.epidemic => date_field("day", &collection.day)?,
        None => return Err(bad("day", "请填写火化日期")),
    };
    let day_s = day.format("%Y-%m-%d").to_string();
    if r.epidemic && day_s != collection.day {
        return Err(bad(
            "day",
            format!("疫情死亡遗体须当日火化（{}）", collection.day),
        ));
    }
    if day_s < collection.day {
        return Err(bad("day", "火化日期不能早于接运日期"));
    }
    let hour = input
        .hour
        .ok_or_else(|| bad("hour", "请填写火化时间（0–23 点）"))?;
    let (hour, hours) = hour_window(hour, input.hours.unwrap_or(1), 4)?;
    if day_s == collection.day && hour < collection.hour + collection.hours {
        return Err(bad(
            "hour",
            format!(
                "火化应在接运结束（{:02}:00）之后",
                collection.hour + collection.hours
            ),
        ));
    }
    book_job(state, actor, &r, &u, "cremation", &day_s, hour, hours).await?;
    get(state, actor, id).await
}

/// Record a job done or cancelled. A collection done: the request is collected. A cremation
/// done: cremated, and the registry person (if known) marked deceased in the same transaction,
/// audited as a change of the person. Cancelling gives the hours back.
pub async fn record(
    state: &AppState,
    actor: &Actor,
    job_id: i64,
    input: &JobOutcome,
) -> AppResult<Job> {
    actor.require(Permission::BookingsManage)?;
    let j = queries::job(state, job_id).await?;
    let r = for_home(state, actor, j.request_id).await?;
    let status = input.status.trim();
    if !matches!(status, "done" | "cancelled") {
        return Err(bad("status", "应为 done（完成）或 cancelled（取消）"));
    }
    if j.status != "planned" {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!("该安排{}", j.status_label),
        ));
    }
    let has = |k: &str, s: &str| r.jobs.iter().any(|x| x.kind == k && x.status == s);
    let mut tx = Tx::begin(state, actor).await?;
    let mut deceased = None;
    match (j.kind.as_str(), status) {
        (_, "done") if j.day > state.today().format("%Y-%m-%d").to_string() => {
            return Err(AppError::msg(ErrorCode::Conflict, "尚未到安排的日期"));
        }
        ("collection", "done") => {
            queries::set_request_status(&mut tx, r.id, "collected").await?;
        }
        ("cremation", "done") => {
            if !has("collection", "done") {
                return Err(AppError::msg(ErrorCode::Conflict, "请先记录接运完成"));
            }
            queries::set_request_status(&mut tx, r.id, "cremated").await?;
            if let Some(pid) = r.person_id
                && let Some((region, false)) = queries::person_state(&mut tx, pid).await?
                && queries::mark_deceased(&mut tx, pid).await? == 1
            {
                deceased = Some(pid);
                tx.also(
                    Change::new("person.update", "person", pid, region).detail(json!({
                        "deceased": {"before": false, "after": true},
                        "funeral_request": r.id, "number": r.number})),
                );
            }
        }
        ("collection", _) => {
            if has("cremation", "planned") {
                return Err(AppError::msg(ErrorCode::Conflict, "请先取消火化安排"));
            }
            queries::release_claims(&mut tx, &j.region_code, j.id).await?;
            queries::set_request_status(&mut tx, r.id, "requested").await?;
        }
        _ => queries::release_claims(&mut tx, &j.region_code, j.id).await?,
    }
    queries::set_job_status(&mut tx, j.id, status).await?;
    tx.commit(
        Change::new("funeral.record", "funeral_job", j.id, &j.region_code).detail(json!({
            "request_id": r.id, "kind": j.kind, "status": {"before": j.status, "after": status},
            "person_deceased": deceased})),
    )
    .await?;
    queries::job(state, j.id).await
}

/// Designate a vehicle, or take a vehicle or cremator out of service (maintenance) and back.
pub async fn set_unit(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &UnitState,
) -> AppResult<Unit> {
    actor.require(Permission::BookingsManage)?;
    let u = queries::unit(state, id).await?;
    let o = home(state, actor, u.org_id).await?;
    if input.designated && u.kind != "vehicle" {
        return Err(bad("designated", "只有车辆可指定为专用车辆"));
    }
    let note = text_field("note", &input.note, 100, input.out_of_service)?;
    let mut tx = Tx::begin(state, actor).await?;
    queries::set_unit(&mut tx, u.id, input.designated, input.out_of_service, &note).await?;
    tx.commit(
        Change::new("funeral.unit", "booking_resource", u.id, &o.region_code).detail(json!({
            "designated": {"before": u.designated, "after": input.designated},
            "out_of_service": {"before": u.out_of_service, "after": input.out_of_service},
            "note": note})),
    )
    .await?;
    queries::unit(state, u.id).await
}

/// One vehicle or cremator on the day's plan: its jobs by hour, the hours held and free.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlanUnit {
    pub unit: Unit,
    pub jobs: Vec<Job>,
    /// Hours held by planned or done jobs.
    pub used_hours: i64,
    /// Hours of the day left (0 when out of service).
    pub free_hours: i64,
}

/// A funeral home's plan of a day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Plan {
    pub org: OrgInfo,
    pub day: String,
    pub vehicles: Vec<PlanUnit>,
    pub cremators: Vec<PlanUnit>,
    /// Requests still open (to schedule or finish).
    pub open: Vec<Request>,
    /// Epidemic jobs of the day (not cancelled).
    pub epidemic_jobs: i64,
}

/// The day's plan of a funeral home (bookings.read, the home in scope).
pub async fn plan(state: &AppState, actor: &Actor, org_id: i64, day: &str) -> AppResult<Plan> {
    let org = home(state, actor, org_id).await?;
    let day = match day.trim() {
        "" => state.today(),
        d => date_field("day", d)?,
    };
    let day_s = day.format("%Y-%m-%d").to_string();
    let jobs = queries::jobs_on(state, org.id, &day_s).await?;
    let mut vehicles = Vec::new();
    let mut cremators = Vec::new();
    for unit in queries::units(state, org.id).await? {
        let mine: Vec<Job> = jobs
            .iter()
            .filter(|j| j.resource_id == unit.id)
            .cloned()
            .collect();
        let used_hours: i64 = mine
            .iter()
            .filter(|j| j.status != "cancelled")
            .map(|j| j.hours)
            .sum();
        let free_hours = if unit.out_of_service {
            0
        } else {
            24 - used_hours
        };
        let p = PlanUnit {
            unit,
            jobs: mine,
            used_hours,
            free_hours,
        };
        if p.unit.kind == "vehicle" {
            vehicles.push(p);
        } else {
            cremators.push(p);
        }
    }
    let epidemic_jobs = i64::try_from(
        jobs.iter()
            .filter(|j| j.epidemic && j.status != "cancelled")
            .count(),
    )
    .unwrap_or(i64::MAX);
    Ok(Plan {
        open: queries::open_requests(state, org.id).await?,
        org,
        day: day_s,
        vehicles,
        cremators,
        epidemic_jobs,
    })
}
