//! Institution monitoring (机构监测): for each service institution (elderly care homes, child
//! welfare and minor protection institutions, relief stations, mental-health homes) this area
//! owns closed-management status with its history, the entrance log (persons shown masked,
//! phones encrypted), the residents list and their three daily temperature rounds (fever
//! ≥ 37.3 ℃ flagged and listed), the supplies stock, and shortage requests that rise to the
//! county level, which answers them.
//!
//! Rules: reading needs `ReportsRead` and the institution inside the actor's scope (outside is
//! *not found*); writing needs `ReportsSubmit` and, for anyone tied to an organisation (an
//! institution reporter), that organisation. Answering a shortage request needs
//! `ReportsManage` at county level or above. Every change is one write transaction with its
//! audit entry (persons masked in the audit detail). Temperatures are stored in tenths of a
//! degree.

pub mod pages;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::mask::{mask_name, mask_phone};
use backstop_core::region::{RegionLevel, Scope};
use backstop_core::role::{Permission, Role};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::orgs::{self, Org, OrgKind};
use crate::state::AppState;

/// The organisation kinds monitored here.
pub const INSTITUTION_KINDS: [OrgKind; 5] = [
    OrgKind::ElderlyCare,
    OrgKind::ChildWelfare,
    OrgKind::MinorProtection,
    OrgKind::ReliefStation,
    OrgKind::MentalHealth,
];

/// Fever threshold in tenths of a degree (37.3 ℃).
pub const FEVER_TENTHS: i64 = 373;
const TEMP_MIN_TENTHS: i64 = 340;
const TEMP_MAX_TENTHS: i64 = 430;

pub fn is_institution_kind(kind: &str) -> bool {
    INSTITUTION_KINDS.iter().any(|k| k.as_str() == kind)
}

/// Tenths of a degree from a reading in ℃; 34–43 ℃ only.
pub fn parse_temp(field: &str, celsius: f64) -> AppResult<i64> {
    if !celsius.is_finite() || !(34.0..=43.0).contains(&celsius) {
        return Err(AppError::field(
            ErrorCode::Validation,
            field,
            "体温应在 34.0–43.0 ℃ 之间",
        ));
    }
    let tenths = (celsius * 10.0).round() as i64;
    if !(TEMP_MIN_TENTHS..=TEMP_MAX_TENTHS).contains(&tenths) {
        return Err(AppError::field(
            ErrorCode::Validation,
            field,
            "体温应在 34.0–43.0 ℃ 之间",
        ));
    }
    Ok(tenths)
}

/// ℃ from tenths.
pub fn celsius(tenths: i64) -> f64 {
    tenths as f64 / 10.0
}

/// Today's Beijing date.
pub fn today(state: &AppState) -> NaiveDate {
    backstop_core::clock::beijing_date(state.clock.now())
}

/// A `YYYY-MM-DD` date, not after today (Beijing); empty means today.
pub fn parse_day(state: &AppState, field: &str, s: Option<&str>) -> AppResult<String> {
    let t = today(state);
    let d = match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => t,
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            AppError::field(ErrorCode::Validation, field, "日期格式应为 YYYY-MM-DD")
        })?,
    };
    if d > t {
        return Err(AppError::field(
            ErrorCode::Validation,
            field,
            "日期不能晚于今天",
        ));
    }
    Ok(d.format("%Y-%m-%d").to_string())
}

fn rfc3339(ms: i64) -> String {
    backstop_core::clock::from_millis(ms).to_rfc3339()
}

fn county_or_above(actor: &Actor) -> bool {
    actor.is_operator()
        || match &actor.scope {
            Scope::National => true,
            Scope::Region(c) => c.level() <= RegionLevel::County,
        }
}

/// The institution `id` if it is one and inside the actor's scope (else not found).
async fn load(state: &AppState, actor: &Actor, id: i64) -> AppResult<Org> {
    actor.require(Permission::ReportsRead)?;
    let org = orgs::get(state, actor, id).await?;
    if !is_institution_kind(&org.kind) {
        return Err(AppError::not_found());
    }
    Ok(org)
}

/// May the actor record data for this institution? (`ReportsSubmit`; tied to it if tied to any
/// organisation; an institution reporter must be tied to it.)
pub fn may_write(actor: &Actor, org_id: i64) -> bool {
    if actor.is_operator() {
        return true;
    }
    if !actor.can(Permission::ReportsSubmit) {
        return false;
    }
    match actor.org_id {
        Some(o) => o == org_id,
        None => !actor.roles.has_role(Role::InstitutionReporter),
    }
}

async fn load_for_write(state: &AppState, actor: &Actor, id: i64) -> AppResult<Org> {
    let org = load(state, actor, id).await?;
    if !may_write(actor, org.id) {
        return Err(AppError::forbidden());
    }
    Ok(org)
}

fn who(actor: &Actor) -> Who {
    Who::from(actor)
}

// ---------------------------------------------------------------------------------------------
// Institutions and closed management

/// An institution with its current status, as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Institution {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub kind_label: String,
    pub region_code: String,
    pub region_name: String,
    /// Under closed management now.
    pub closed: bool,
    /// Start date of the closed management in force.
    pub closed_since: Option<String>,
    pub open_shortages: i64,
    /// Fever readings among residents today.
    pub fevers_today: i64,
}

/// One period of closed management.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Closure {
    pub id: i64,
    pub start_date: String,
    /// None while in force.
    pub end_date: Option<String>,
    pub note: String,
    pub started_by: String,
    pub ended_by: Option<String>,
}

/// An institution with its closed-management history and supplies.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstitutionDetail {
    pub institution: Institution,
    /// Newest first.
    pub closures: Vec<Closure>,
    pub supplies: Vec<Supply>,
    /// Whether the caller may record data for it.
    pub can_write: bool,
}

fn kinds_sql() -> String {
    INSTITUTION_KINDS
        .iter()
        .map(|k| format!("'{}'", k.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

const INST_COLS: &str = "o.id, o.name, o.kind, o.region_code, r.name AS region_name, \
    (SELECT c.start_date FROM inst_closures c WHERE c.org_id = o.id AND c.end_date IS NULL ORDER BY c.id DESC LIMIT 1) AS closed_since, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM inst_shortages s WHERE s.org_id = o.id AND s.status = 'open') AS open_shortages, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM inst_temps t WHERE t.org_id = o.id AND t.day = $1 AND t.fever = 1) AS fevers_today";

fn inst_from_row(r: &sqlx::any::AnyRow) -> Result<Institution, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    let closed_since: Option<String> = r.try_get("closed_since")?;
    Ok(Institution {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind_label: OrgKind::parse(&kind)
            .map(|k| k.label_zh())
            .unwrap_or("")
            .to_string(),
        kind,
        region_code: r.try_get("region_code")?,
        region_name: r
            .try_get::<Option<String>, _>("region_name")?
            .unwrap_or_default(),
        closed: closed_since.is_some(),
        closed_since,
        open_shortages: r.try_get("open_shortages")?,
        fevers_today: r.try_get("fevers_today")?,
    })
}

/// Institutions in the actor's scope (optionally one region of it).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    region: Option<&str>,
) -> AppResult<Vec<Institution>> {
    actor.require(Permission::ReportsRead)?;
    let (lo, hi) = match region.map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => {
            let code =
                backstop_core::region::RegionCode::parse(r).map_err(|_| AppError::not_found())?;
            actor.check_region(&code)?;
            code.scope_bounds()
        }
        None => actor.scope_bounds(),
    };
    let sql = format!(
        "SELECT {INST_COLS} FROM orgs o LEFT JOIN regions r ON r.code = o.region_code \
         WHERE o.region_code >= $2 AND o.region_code < $3 AND o.kind IN ({}) \
         ORDER BY o.region_code, o.id LIMIT 2000",
        kinds_sql()
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(today(state).format("%Y-%m-%d").to_string())
        .bind(lo)
        .bind(hi)
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows.iter().map(inst_from_row).collect::<Result<_, _>>()?)
}

async fn institution(state: &AppState, id: i64) -> AppResult<Institution> {
    let sql = format!(
        "SELECT {INST_COLS} FROM orgs o LEFT JOIN regions r ON r.code = o.region_code WHERE o.id = $2"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(today(state).format("%Y-%m-%d").to_string())
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(inst_from_row(&row)?)
}

async fn closures(state: &AppState, org_id: i64) -> AppResult<Vec<Closure>> {
    let rows = sqlx::query(
        "SELECT id, start_date, end_date, note, started_by, ended_by FROM inst_closures \
         WHERE org_id = $1 ORDER BY id DESC",
    )
    .bind(org_id)
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        out.push(Closure {
            id: r.try_get("id")?,
            start_date: r.try_get("start_date")?,
            end_date: r.try_get("end_date")?,
            note: r.try_get("note")?,
            started_by: r.try_get("started_by")?,
            ended_by: r.try_get("ended_by")?,
        });
    }
    Ok(out)
}

/// One institution in scope with its history and supplies.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<InstitutionDetail> {
    let org = load(state, actor, id).await?;
    Ok(InstitutionDetail {
        institution: institution(state, org.id).await?,
        closures: closures(state, org.id).await?,
        supplies: supplies(state, org.id).await?,
        can_write: may_write(actor, org.id),
    })
}

/// Body of `POST /api/v1/institutions/{id}/closure`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ClosureInput {
    /// `start` (begin closed management) or `end` (lift it).
    pub action: String,
    /// `YYYY-MM-DD`; default today.
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// Begin or lift closed management; the history is kept.
pub async fn set_closure(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &ClosureInput,
) -> AppResult<InstitutionDetail> {
    let org = load_for_write(state, actor, id).await?;
    let date = parse_day(state, "date", input.date.as_deref())?;
    let note = text_field("note", &input.note, 500, false)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let current: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, start_date FROM inst_closures WHERE org_id = $1 AND end_date IS NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(org.id)
    .fetch_optional(w.conn())
    .await?;
    let (action, object_id, detail) = match input.action.trim() {
        "start" => {
            if current.is_some() {
                return Err(AppError::msg(ErrorCode::Conflict, "该机构已处于封闭管理中"));
            }
            let cid: i64 = sqlx::query_scalar(
                "INSERT INTO inst_closures (org_id, region_code, start_date, end_date, note, started_by, ended_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, NULL, $4, $5, NULL, $6, $6) RETURNING id",
            )
            .bind(org.id)
            .bind(&org.region_code)
            .bind(&date)
            .bind(&note)
            .bind(&actor.username)
            .bind(now)
            .fetch_one(w.conn())
            .await?;
            (
                "institution.closure_start",
                cid,
                json!({"closed": {"before": false, "after": true}, "start_date": {"before": null, "after": date}, "note": {"before": null, "after": note}}),
            )
        }
        "end" => {
            let Some((cid, start)) = current else {
                return Err(AppError::msg(ErrorCode::Conflict, "该机构未处于封闭管理中"));
            };
            if date < start {
                return Err(AppError::field(
                    ErrorCode::Validation,
                    "date",
                    "解除日期不能早于开始日期",
                ));
            }
            sqlx::query(
                "UPDATE inst_closures SET end_date = $1, ended_by = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(&date)
            .bind(&actor.username)
            .bind(now)
            .bind(cid)
            .execute(w.conn())
            .await?;
            (
                "institution.closure_end",
                cid,
                json!({"closed": {"before": true, "after": false}, "end_date": {"before": null, "after": date}}),
            )
        }
        _ => {
            return Err(AppError::field(
                ErrorCode::Validation,
                "action",
                "应为 start 或 end",
            ));
        }
    };
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &who(actor),
        Entry {
            action,
            object_type: "institution_closure",
            object_id: object_id.to_string(),
            region_code: org.region_code.clone(),
            outcome: "success",
            detail: json!({"org_id": org.id, "changes": detail}),
        },
    )
    .await?;
    w.commit().await?;
    get(state, actor, id).await
}

// ---------------------------------------------------------------------------------------------
// Entrance log

/// Body of `POST /api/v1/institutions/{id}/entries`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct EntryInput {
    /// Full name (stored; only ever shown masked).
    pub name: String,
    /// Phone (stored encrypted; only ever shown masked).
    #[serde(default)]
    pub phone: String,
    /// Why the person entered.
    pub reason: String,
    /// ℃, 34–43.
    pub temperature: f64,
}

/// One entrance, persons masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    pub id: i64,
    pub name_masked: String,
    pub phone_masked: String,
    pub reason: String,
    pub temperature: f64,
    /// ≥ 37.3 ℃.
    pub fever: bool,
    /// UTC, RFC 3339.
    pub entered_at: String,
    pub day: String,
    pub recorded_by: String,
}

fn check_phone(p: &str) -> AppResult<String> {
    let p = text_field("phone", p, 20, false)?;
    if !p
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ' || c == '+')
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "phone",
            "只能包含数字、空格、+ 和 -",
        ));
    }
    Ok(p)
}

/// Record an entrance (temperature checked, fever flagged).
pub async fn add_entry(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &EntryInput,
) -> AppResult<EntryView> {
    let org = load_for_write(state, actor, id).await?;
    let name = text_field("name", &input.name, 50, true)?;
    let phone = check_phone(&input.phone)?;
    let reason = text_field("reason", &input.reason, 200, true)?;
    let temp = parse_temp("temperature", input.temperature)?;
    let fever = temp >= FEVER_TENTHS;
    let now = state.now_ms();
    let day = today(state).format("%Y-%m-%d").to_string();
    let enc = state.keys.encrypt(phone.as_bytes());
    let mut w = state.db.begin_write().await?;
    let eid: i64 = sqlx::query_scalar(
        "INSERT INTO inst_entries (org_id, region_code, person_name, phone_enc, reason, temp_tenths, fever, entered_at, day, recorded_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(org.id)
    .bind(&org.region_code)
    .bind(&name)
    .bind(enc)
    .bind(&reason)
    .bind(temp)
    .bind(i64::from(fever))
    .bind(now)
    .bind(&day)
    .bind(&actor.username)
    .fetch_one(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &who(actor),
        Entry {
            action: "institution.entry",
            object_type: "institution_entry",
            object_id: eid.to_string(),
            region_code: org.region_code.clone(),
            outcome: "success",
            detail: json!({"org_id": org.id, "name": {"before": null, "after": mask_name(&name)},
                "phone": {"before": null, "after": mask_phone(&phone)},
                "temperature": {"before": null, "after": celsius(temp)}, "fever": fever}),
        },
    )
    .await?;
    w.commit().await?;
    Ok(EntryView {
        id: eid,
        name_masked: mask_name(&name),
        phone_masked: mask_phone(&phone),
        reason,
        temperature: celsius(temp),
        fever,
        entered_at: rfc3339(now),
        day,
        recorded_by: actor.username.clone(),
    })
}

/// Entrances of one day (default today), newest first.
pub async fn list_entries(
    state: &AppState,
    actor: &Actor,
    id: i64,
    day: Option<&str>,
) -> AppResult<Vec<EntryView>> {
    let org = load(state, actor, id).await?;
    let day = parse_day(state, "day", day)?;
    let rows = sqlx::query(
        "SELECT id, person_name, phone_enc, reason, temp_tenths, fever, entered_at, day, recorded_by \
         FROM inst_entries WHERE org_id = $1 AND day = $2 ORDER BY id DESC LIMIT 1000",
    )
    .bind(org.id)
    .bind(&day)
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let name: String = r.try_get("person_name")?;
        let enc: Option<Vec<u8>> = r.try_get("phone_enc")?;
        let phone = enc
            .and_then(|e| state.keys.decrypt(&e))
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let temp: i64 = r.try_get("temp_tenths")?;
        out.push(EntryView {
            id: r.try_get("id")?,
            name_masked: mask_name(&name),
            phone_masked: mask_phone(&phone),
            reason: r.try_get("reason")?,
            temperature: celsius(temp),
            fever: r.try_get::<i64, _>("fever")? != 0,
            entered_at: rfc3339(r.try_get("entered_at")?),
            day: r.try_get("day")?,
            recorded_by: r.try_get("recorded_by")?,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Residents and temperature rounds

/// A resident; the name is shown in full only to the institution's own staff.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Resident {
    pub id: i64,
    pub name: String,
    pub room: String,
}

/// Body of `POST /api/v1/institutions/{id}/residents`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ResidentInput {
    pub name: String,
    #[serde(default)]
    pub room: String,
}

fn shown_name(actor: &Actor, org_id: i64, name: &str) -> String {
    crate::people::shown::name_for_org(actor, org_id, name)
}

/// Active residents of an institution.
pub async fn residents(state: &AppState, actor: &Actor, id: i64) -> AppResult<Vec<Resident>> {
    let org = load(state, actor, id).await?;
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, name, room FROM inst_residents WHERE org_id = $1 AND active = 1 ORDER BY room, id",
    )
    .bind(org.id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(rid, name, room)| Resident {
            id: rid,
            name: shown_name(actor, org.id, &name),
            room,
        })
        .collect())
}

/// Add a resident.
pub async fn add_resident(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &ResidentInput,
) -> AppResult<Resident> {
    let org = load_for_write(state, actor, id).await?;
    let name = text_field("name", &input.name, 50, true)?;
    let room = text_field("room", &input.room, 30, false)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let rid: i64 = sqlx::query_scalar(
        "INSERT INTO inst_residents (org_id, name, room, active, created_at) VALUES ($1, $2, $3, 1, $4) RETURNING id",
    )
    .bind(org.id)
    .bind(&name)
    .bind(&room)
    .bind(now)
    .fetch_one(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &who(actor),
        Entry {
            action: "institution.resident_add",
            object_type: "institution_resident",
            object_id: rid.to_string(),
            region_code: org.region_code.clone(),
            outcome: "success",
            detail: json!({"org_id": org.id, "name": {"before": null, "after": mask_name(&name)}, "room": {"before": null, "after": room}}),
        },
    )
    .await?;
    w.commit().await?;
    Ok(Resident {
        id: rid,
        name: shown_name(actor, org.id, &name),
        room,
    })
}

/// A round of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    Morning,
    Noon,
    Evening,
}

impl Round {
    pub const ALL: [Round; 3] = [Round::Morning, Round::Noon, Round::Evening];
    pub fn as_str(self) -> &'static str {
        match self {
            Round::Morning => "morning",
            Round::Noon => "noon",
            Round::Evening => "evening",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Round::Morning => "早",
            Round::Noon => "中",
            Round::Evening => "晚",
        }
    }
    pub fn parse(s: &str) -> Option<Round> {
        Round::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }
}

/// One resident's reading in a round.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct TempInput {
    pub resident_id: i64,
    /// ℃, 34–43; absent or null = not measured.
    #[serde(default)]
    pub temperature: Option<f64>,
}

/// Body of `POST /api/v1/institutions/{id}/rounds`: one round for all residents at once.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RoundsInput {
    /// `YYYY-MM-DD`; default today.
    #[serde(default)]
    pub day: Option<String>,
    /// `morning`, `noon` or `evening`.
    pub round: String,
    pub temperatures: Vec<TempInput>,
}

/// One reading, ℃.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reading {
    pub temperature: f64,
    pub fever: bool,
}

/// One resident's three rounds of a day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DayRow {
    pub resident_id: i64,
    pub name: String,
    pub room: String,
    pub morning: Option<Reading>,
    pub noon: Option<Reading>,
    pub evening: Option<Reading>,
}

/// A fever reading of the day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeverRow {
    pub resident_id: i64,
    pub name: String,
    pub room: String,
    pub round: String,
    pub round_label: String,
    pub temperature: f64,
}

/// A day's temperature rounds of all residents, with the fevers listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoundsView {
    pub day: String,
    pub rows: Vec<DayRow>,
    pub fevers: Vec<FeverRow>,
}

/// The temperature rounds of a day (default today).
pub async fn rounds(
    state: &AppState,
    actor: &Actor,
    id: i64,
    day: Option<&str>,
) -> AppResult<RoundsView> {
    let org = load(state, actor, id).await?;
    let day = parse_day(state, "day", day)?;
    let people = residents(state, actor, org.id).await?;
    let temps: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT resident_id, round, temp_tenths, fever FROM inst_temps WHERE org_id = $1 AND day = $2",
    )
    .bind(org.id)
    .bind(&day)
    .fetch_all(state.db.pool())
    .await?;
    let mut rows = Vec::new();
    let mut fevers = Vec::new();
    for p in people {
        let reading = |round: Round| {
            temps
                .iter()
                .find(|t| t.0 == p.id && t.1 == round.as_str())
                .map(|t| Reading {
                    temperature: celsius(t.2),
                    fever: t.3 != 0,
                })
        };
        for round in Round::ALL {
            if let Some(r) = reading(round).filter(|r| r.fever) {
                fevers.push(FeverRow {
                    resident_id: p.id,
                    name: p.name.clone(),
                    room: p.room.clone(),
                    round: round.as_str().to_string(),
                    round_label: round.label_zh().to_string(),
                    temperature: r.temperature,
                });
            }
        }
        rows.push(DayRow {
            resident_id: p.id,
            morning: reading(Round::Morning),
            noon: reading(Round::Noon),
            evening: reading(Round::Evening),
            name: p.name,
            room: p.room,
        });
    }
    Ok(RoundsView { day, rows, fevers })
}

/// Record one round for many residents at once. Every value is checked first; one bad value
/// refuses the whole round and nothing is stored.
pub async fn record_round(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &RoundsInput,
) -> AppResult<RoundsView> {
    let org = load_for_write(state, actor, id).await?;
    let day = parse_day(state, "day", input.day.as_deref())?;
    let round = Round::parse(&input.round).ok_or_else(|| {
        AppError::field(
            ErrorCode::Validation,
            "round",
            "应为 morning、noon 或 evening",
        )
    })?;
    let known: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM inst_residents WHERE org_id = $1 AND active = 1")
            .bind(org.id)
            .fetch_all(state.db.pool())
            .await?;
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for t in &input.temperatures {
        let field = format!("t_{}", t.resident_id);
        if !known.contains(&t.resident_id) {
            errors.push(AppError::field(
                ErrorCode::Validation,
                &field,
                "不是本机构的在院人员",
            ));
            continue;
        }
        if values.iter().any(|(r, _)| *r == t.resident_id) {
            errors.push(AppError::field(ErrorCode::Validation, &field, "重复填写"));
            continue;
        }
        let Some(c) = t.temperature else { continue };
        match parse_temp(&field, c) {
            Ok(v) => values.push((t.resident_id, v)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        let mut e = AppError::msg(ErrorCode::Validation, "体温数据有误，本轮未保存");
        e.fields = errors.into_iter().flat_map(|x| x.fields).collect();
        return Err(e);
    }
    if values.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "temperatures",
            "至少填写一人的体温",
        ));
    }
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let before: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT resident_id, temp_tenths FROM inst_temps WHERE org_id = $1 AND day = $2 AND round = $3",
    )
    .bind(org.id)
    .bind(&day)
    .bind(round.as_str())
    .fetch_all(w.conn())
    .await?;
    let mut changes = serde_json::Map::new();
    let mut fever_count = 0;
    for (rid, v) in &values {
        let fever = *v >= FEVER_TENTHS;
        fever_count += i64::from(fever);
        sqlx::query(
            "INSERT INTO inst_temps (resident_id, org_id, day, round, temp_tenths, fever, recorded_by, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (resident_id, day, round) DO UPDATE SET temp_tenths = excluded.temp_tenths, \
             fever = excluded.fever, recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
        )
        .bind(rid)
        .bind(org.id)
        .bind(&day)
        .bind(round.as_str())
        .bind(v)
        .bind(i64::from(fever))
        .bind(&actor.username)
        .bind(now)
        .execute(w.conn())
        .await?;
        let old = before.iter().find(|b| b.0 == *rid).map(|b| celsius(b.1));
        if old != Some(celsius(*v)) {
            changes.insert(
                rid.to_string(),
                json!({"before": old, "after": celsius(*v)}),
            );
        }
    }
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &who(actor),
        Entry {
            action: "institution.temperature_round",
            object_type: "institution",
            object_id: org.id.to_string(),
            region_code: org.region_code.clone(),
            outcome: "success",
            detail: json!({"day": day, "round": round.as_str(), "recorded": values.len(), "fevers": fever_count, "changes": changes}),
        },
    )
    .await?;
    w.commit().await?;
    rounds(state, actor, org.id, Some(&day)).await
}

// ---------------------------------------------------------------------------------------------
// Supplies and shortage requests

/// A supplies item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Masks,
    Suits,
    Disinfectant,
    Food,
}

impl Item {
    pub const ALL: [Item; 4] = [Item::Masks, Item::Suits, Item::Disinfectant, Item::Food];
    pub fn as_str(self) -> &'static str {
        match self {
            Item::Masks => "masks",
            Item::Suits => "suits",
            Item::Disinfectant => "disinfectant",
            Item::Food => "food",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Item::Masks => "口罩",
            Item::Suits => "防护服",
            Item::Disinfectant => "消毒液",
            Item::Food => "食品",
        }
    }
    pub fn unit_zh(self) -> &'static str {
        match self {
            Item::Masks => "只",
            Item::Suits => "套",
            Item::Disinfectant => "升",
            Item::Food => "公斤",
        }
    }
    pub fn parse(s: &str) -> Option<Item> {
        Item::ALL.into_iter().find(|i| i.as_str() == s.trim())
    }
}

/// Days of stock under which an item is shown as low.
pub const LOW_DAYS: i64 = 3;

/// Stock of one item.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Supply {
    pub item: String,
    pub label: String,
    pub unit: String,
    pub quantity: i64,
    pub days_left: i64,
    /// Fewer than 3 days left.
    pub low: bool,
    pub updated_by: String,
    pub updated_at: String,
}

/// One item of `POST /api/v1/institutions/{id}/supplies`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SupplyInput {
    /// `masks`, `suits`, `disinfectant` or `food`.
    pub item: String,
    pub quantity: i64,
    pub days_left: i64,
}

/// Body of `POST /api/v1/institutions/{id}/supplies`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SuppliesInput {
    pub items: Vec<SupplyInput>,
}

async fn supplies(state: &AppState, org_id: i64) -> AppResult<Vec<Supply>> {
    let rows: Vec<(String, i64, i64, String, i64)> = sqlx::query_as(
        "SELECT item, quantity, days_left, updated_by, updated_at FROM inst_supplies WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::new();
    for item in Item::ALL {
        if let Some(r) = rows.iter().find(|r| r.0 == item.as_str()) {
            out.push(Supply {
                item: item.as_str().to_string(),
                label: item.label_zh().to_string(),
                unit: item.unit_zh().to_string(),
                quantity: r.1,
                days_left: r.2,
                low: r.2 < LOW_DAYS,
                updated_by: r.3.clone(),
                updated_at: rfc3339(r.4),
            });
        }
    }
    Ok(out)
}

/// Set the stock of some items.
pub async fn set_supplies(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &SuppliesInput,
) -> AppResult<Vec<Supply>> {
    let org = load_for_write(state, actor, id).await?;
    let mut values = Vec::new();
    for s in &input.items {
        let item = Item::parse(&s.item)
            .ok_or_else(|| AppError::field(ErrorCode::Validation, "item", "未知的物资类别"))?;
        let field = format!("{}_quantity", item.as_str());
        if !(0..=100_000_000).contains(&s.quantity) {
            return Err(AppError::field(
                ErrorCode::Validation,
                &field,
                "数量应在 0–100000000 之间",
            ));
        }
        let field = format!("{}_days", item.as_str());
        if !(0..=3650).contains(&s.days_left) {
            return Err(AppError::field(
                ErrorCode::Validation,
                &field,
                "可用天数应在 0–3650 之间",
            ));
        }
        if values.iter().any(|(i, _, _)| *i == item) {
            return Err(AppError::field(
                ErrorCode::Validation,
                "item",
                "物资类别重复",
            ));
        }
        values.push((item, s.quantity, s.days_left));
    }
    if values.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "items",
            "至少填写一项物资",
        ));
    }
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let before: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT item, quantity, days_left FROM inst_supplies WHERE org_id = $1")
            .bind(org.id)
            .fetch_all(w.conn())
            .await?;
    let mut changes = serde_json::Map::new();
    for (item, q, d) in &values {
        sqlx::query(
            "INSERT INTO inst_supplies (org_id, item, quantity, days_left, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (org_id, item) DO UPDATE SET quantity = excluded.quantity, days_left = excluded.days_left, \
             updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )
        .bind(org.id)
        .bind(item.as_str())
        .bind(q)
        .bind(d)
        .bind(&actor.username)
        .bind(now)
        .execute(w.conn())
        .await?;
        let old = before.iter().find(|b| b.0 == item.as_str());
        changes.insert(
            item.as_str().to_string(),
            json!({"before": old.map(|o| json!({"quantity": o.1, "days_left": o.2})),
                   "after": {"quantity": q, "days_left": d}}),
        );
    }
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &who(actor),
        Entry {
            action: "institution.supplies",
            object_type: "institution",
            object_id: org.id.to_string(),
            region_code: org.region_code.clone(),
            outcome: "success",
            detail: serde_json::Value::Object(changes),
        },
    )
    .await?;
    w.commit().await?;
    supplies(state, org.id).await
}

/// A shortage request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Shortage {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub region_code: String,
    pub item: String,
    pub item_label: String,
    pub quantity: i64,
    pub unit: String,
    pub note: String,
    /// `open`, `answered` or `closed`.
    pub status: String,
    pub answer: String,
    pub answered_by: Option<String>,
    pub answered_at: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

/// Body of `POST /api/v1/institutions/{id}/shortages`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ShortageInput {
    pub item: String,
    /// How much is needed.
    pub quantity: i64,
    #[serde(default)]
    pub note: String,
}

/// Body of `POST /api/v1/shortages/{id}/answer`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AnswerInput {
    pub answer: String,
}

const SH_COLS: &str = "s.id, s.org_id, o.name AS org_name, s.region_code, s.item, s.quantity, s.note, s.status, \
    s.answer, s.answered_by, s.answered_at, s.created_by, s.created_at";

fn shortage_from_row(r: &sqlx::any::AnyRow) -> Result<Shortage, sqlx::Error> {
    let item: String = r.try_get("item")?;
    let it = Item::parse(&item);
    Ok(Shortage {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        org_name: r
            .try_get::<Option<String>, _>("org_name")?
            .unwrap_or_default(),
        region_code: r.try_get("region_code")?,
        item_label: it.map(|i| i.label_zh()).unwrap_or("").to_string(),
        unit: it.map(|i| i.unit_zh()).unwrap_or("").to_string(),
        item,
        quantity: r.try_get("quantity")?,
        note: r.try_get("note")?,
        status: r.try_get("status")?,
        answer: r.try_get("answer")?,
        answered_by: r.try_get("answered_by")?,
        answered_at: r.try_get::<Option<i64>, _>("answered_at")?.map(rfc3339),
        created_by: r.try_get("created_by")?,
        created_at: rfc3339(r.try_get("created_at")?),
    })
}

/// Raise a shortage request; it shows at every level above the institution.
pub async fn create_shortage(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &ShortageInput,
) -> AppResult<Shortage> {
    let org = load_for_write(state, actor, id).await?;
    let item = Item::parse(&input.item)
        .ok_or_else(|| AppError::field(ErrorCode::Validation, "item", "未知的物资类别"))?;
    if !(1..=100_000_000).contains(&input.quantity) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "quantity",
            "数量应在 1–100000000 之间",
        ));
    }
    let note = text_field("note", &input.note, 500, false)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let sid: i64 = sqlx::query_scalar(
        "INSERT INTO inst_shortages (org_id, region_code, item, quantity, note, status, answer, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'open', '', $6, $7, $7) RETURNING id",
    )
    .bind(org.id)
    .bind(&org.region_code)
    .bind(item.as_str())
    .bind(input.quantity)
    .bind(&note)
    .bind(&actor.username)
    .bind(now)
    .fetch_one(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &who(actor),
        Entry {
            action: "shortage.create",
            object_type: "shortage",
            object_id: sid.to_string(),
            region_code: org.region_code.clone(),
            outcome: "success",
            detail: json!({"org_id": org.id, "item": {"before": null, "after": item.as_str()},
                "quantity": {"before": null, "after": input.quantity}, "status": {"before": null, "after": "open"}}),
        },
    )
    .await?;
    w.commit().await?;
    get_shortage(state, actor, sid).await
}

/// Shortage requests in the actor's scope, newest first; optionally one status or institution.
pub async fn list_shortages(
    state: &AppState,
    actor: &Actor,
    status: Option<&str>,
    org_id: Option<i64>,
) -> AppResult<Vec<Shortage>> {
    actor.require(Permission::ReportsRead)?;
    let (lo, hi) = actor.scope_bounds();
    let status = status.map(str::trim).filter(|s| !s.is_empty());
    if let Some(s) = status
        && !["open", "answered", "closed"].contains(&s)
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "status",
            "应为 open、answered 或 closed",
        ));
    }
    let mut sql = format!(
        "SELECT {SH_COLS} FROM inst_shortages s LEFT JOIN orgs o ON o.id = s.org_id \
         WHERE s.region_code >= $1 AND s.region_code < $2"
    );
    let mut n = 2;
    if status.is_some() {
        n += 1;
        sql.push_str(&format!(" AND s.status = ${n}"));
    }
    if org_id.is_some() {
        n += 1;
        sql.push_str(&format!(" AND s.org_id = ${n}"));
    }
    sql.push_str(" ORDER BY s.id DESC LIMIT 1000");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(lo).bind(hi);
    if let Some(s) = status {
        q = q.bind(s.to_string());
    }
    if let Some(o) = org_id {
        q = q.bind(o);
    }
    let rows = q.fetch_all(state.db.pool()).await?;
    Ok(rows
        .iter()
        .map(shortage_from_row)
        .collect::<Result<_, _>>()?)
}

/// One shortage request in scope.
pub async fn get_shortage(state: &AppState, actor: &Actor, id: i64) -> AppResult<Shortage> {
    actor.require(Permission::ReportsRead)?;
    let sql = format!(
        "SELECT {SH_COLS} FROM inst_shortages s LEFT JOIN orgs o ON o.id = s.org_id WHERE s.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let s = shortage_from_row(&row)?;
    let code = backstop_core::region::RegionCode::parse(&s.region_code)
        .map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    Ok(s)
}

/// May the actor answer shortage requests (county level or above, `ReportsManage`)?
pub fn may_answer(actor: &Actor) -> bool {
    actor.can(Permission::ReportsManage) && county_or_above(actor)
}

/// Answer a shortage request (county level or above).
pub async fn answer_shortage(
    state: &AppState,
    actor: &Actor,
    id: i64,
    answer: &str,
) -> AppResult<Shortage> {
    let s = get_shortage(state, actor, id).await?;
    if !may_answer(actor) {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "物资短缺须由县级及以上民政部门答复",
        ));
    }
    if s.status == "closed" {
        return Err(AppError::msg(ErrorCode::Conflict, "该申请已关闭"));
    }
    let answer = text_field("answer", answer, 1000, true)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE inst_shortages SET status = 'answered', answer = $1, answered_by = $2, answered_at = $3, updated_at = $3 WHERE id = $4",
    )
    .bind(&answer)
    .bind(&actor.username)
    .bind(now)
    .bind(id)
    .execute(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &who(actor),
        Entry {
            action: "shortage.answer",
            object_type: "shortage",
            object_id: id.to_string(),
            region_code: s.region_code.clone(),
            outcome: "success",
            detail: json!({"status": {"before": s.status, "after": "answered"}, "answer": {"before": s.answer, "after": answer}}),
        },
    )
    .await?;
    w.commit().await?;
    get_shortage(state, actor, id).await
}

/// Close a shortage request (the institution, or whoever may answer it).
pub async fn close_shortage(state: &AppState, actor: &Actor, id: i64) -> AppResult<Shortage> {
    let s = get_shortage(state, actor, id).await?;
    if !(may_answer(actor) || may_write(actor, s.org_id)) {
        return Err(AppError::forbidden());
    }
    if s.status == "closed" {
        return Err(AppError::msg(ErrorCode::Conflict, "该申请已关闭"));
    }
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    sqlx::query("UPDATE inst_shortages SET status = 'closed', updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(w.conn())
        .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &who(actor),
        Entry {
            action: "shortage.close",
            object_type: "shortage",
            object_id: id.to_string(),
            region_code: s.region_code.clone(),
            outcome: "success",
            detail: json!({"status": {"before": s.status, "after": "closed"}}),
        },
    )
    .await?;
    w.commit().await?;
    get_shortage(state, actor, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperatures_in_tenths_and_range() {
        assert_eq!(parse_temp("t", 36.5).ok(), Some(365));
        assert_eq!(parse_temp("t", 37.3).ok(), Some(373));
        assert_eq!(parse_temp("t", 34.0).ok(), Some(340));
        assert_eq!(parse_temp("t", 43.0).ok(), Some(430));
        assert!(parse_temp("t", 33.9).is_err());
        assert!(parse_temp("t", 43.1).is_err());
        assert!(parse_temp("t", f64::NAN).is_err());
        assert_eq!(parse_temp("t", 37.3).ok(), Some(FEVER_TENTHS));
    }

    #[test]
    fn kinds_and_rounds() {
        assert!(is_institution_kind("elderly_care"));
        assert!(!is_institution_kind("charity"));
        assert_eq!(Round::parse("noon"), Some(Round::Noon));
        assert_eq!(Item::parse("suits"), Some(Item::Suits));
    }
}
