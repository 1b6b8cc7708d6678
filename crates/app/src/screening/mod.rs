//! Screening campaigns (摸排) and home observation with four responsible people (四包一),
//! issue 4 items 4 and 6.
//!
//! This module owns the rules of door-to-door screening and of home medical observation:
//! who may open a campaign (an official above village level, for a region in scope), how a
//! grid or community worker records one household visit and every person in it in one write
//! (temperature 34.0–43.0 °C in tenths, a risk class and a disposition), the live coverage of
//! households reached of households on the roll by child region (furthest behind first — the
//! "four full coverages"), and the life of an observation: four named responsible people
//! (phones encrypted and shown masked, like a person's phone), an end date that can only move
//! later, two check-ins a day, and release or transfer that closes it. `run_observation_checks`
//! is the sweep that turns a missed half-day check-in into notifications to the four and,
//! after a delay, to the township. Every change is audited inside its write transaction;
//! everything is scoped by region (outside the caller's scope a record does not exist: 404).
//! The API is in `web`, the pages in `pages`.

pub mod pages;
pub mod web;

use backstop_core::clock::{beijing_date, format_beijing, from_millis};
use backstop_core::error::ErrorCode;
use backstop_core::mask::mask_name;
use backstop_core::region::{RegionCode, RegionLevel, Scope};
use backstop_core::role::Permission;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::people;
use crate::regions;
use crate::state::AppState;

/// Risk classes of a screened person.
pub const RISKS: [(&str, &str); 5] = [
    ("none", "无"),
    ("fever", "发热"),
    ("close_contact", "密切接触者"),
    ("suspected", "疑似"),
    ("confirmed", "确诊"),
];

/// Dispositions of a screened person.
pub const DISPOSITIONS: [(&str, &str); 4] = [
    ("none", "无需处置"),
    ("home_observation", "居家医学观察"),
    ("central_isolation", "集中隔离"),
    ("fever_clinic", "分流到发热门诊"),
];

/// How an observation ends.
pub const OUTCOMES: [(&str, &str); 3] = [
    ("released", "解除观察"),
    ("central_isolation", "转集中隔离"),
    ("hospital", "送医院"),
];

/// Default roles of the four responsible people.
pub const KEEPER_ROLES: [&str; 4] = ["社区干部", "医生", "民警", "志愿者"];

/// Lowest and highest temperature accepted, tenths of a degree.
pub const TEMP_MIN: i64 = 340;
pub const TEMP_MAX: i64 = 430;

/// Default length of an observation, days.
pub const DEFAULT_DAYS: i64 = 14;

/// Default delay before a missed check-in is escalated to the township.
pub const DEFAULT_ESCALATE_MS: i64 = 12 * 3_600_000;

const HALF_DAY_MS: i64 = 12 * 3_600_000;
const BEIJING_MS: i64 = 8 * 3_600_000;

fn label(table: &[(&'static str, &'static str)], id: &str) -> &'static str {
    table
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

fn parse_choice(
    table: &[(&'static str, &'static str)],
    field: &str,
    s: &str,
) -> AppResult<&'static str> {
    let s = s.trim();
    let s = if s.is_empty() { "none" } else { s };
    table
        .iter()
        .find(|(k, l)| *k == s || *l == s)
        .map(|(k, _)| *k)
        .ok_or_else(|| {
            AppError::field(
                ErrorCode::Validation,
                field,
                format!("未知的取值“{}”", s.chars().take(20).collect::<String>()),
            )
        })
}

/// Half-day slot of an instant: even = Beijing morning (00:00–12:00), odd = evening.
pub fn slot_of(ms: i64) -> i64 {
    (ms + BEIJING_MS).div_euclid(HALF_DAY_MS)
}

fn slot_start(slot: i64) -> i64 {
    slot * HALF_DAY_MS - BEIJING_MS
}

/// `2026-03-02 上午` / `2026-03-02 下午`.
pub fn slot_label(slot: i64) -> String {
    let d = beijing_date(from_millis(slot_start(slot)));
    format!(
        "{} {}",
        d.format("%Y-%m-%d"),
        if slot.rem_euclid(2) == 0 {
            "上午"
        } else {
            "下午"
        }
    )
}

fn parse_day(field: &str, s: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::field(ErrorCode::Validation, field, "日期格式应为 YYYY-MM-DD"))
}

fn check_temperature(t: i64) -> AppResult<i64> {
    if (TEMP_MIN..=TEMP_MAX).contains(&t) {
        Ok(t)
    } else {
        Err(AppError::field(
            ErrorCode::Validation,
            "temperature",
            "体温应在 34.0 到 43.0 ℃ 之间（以 0.1 ℃ 为单位，如 365 表示 36.5 ℃）",
        ))
    }
}

/// `365` → `36.5`.
pub fn temp_label(t: i64) -> String {
    format!("{}.{}", t / 10, t % 10)
}

fn fmt_ms(ms: i64) -> String {
    format_beijing(from_millis(ms))
}

fn parse_region(s: &str) -> AppResult<RegionCode> {
    RegionCode::parse(s.trim()).map_err(|_| AppError::not_found())
}

/// The region a read is about: the one asked for (in scope, else 404) or the caller's scope
/// (`None` for national).
fn resolve_region(actor: &Actor, region: Option<&str>) -> AppResult<Option<RegionCode>> {
    match region.map(str::trim).filter(|s| !s.is_empty() && *s != "0") {
        Some(r) => {
            let c = parse_region(r)?;
            actor.check_region(&c)?;
            Ok(Some(c))
        }
        None => Ok(actor.scope.region().cloned()),
    }
}

fn bounds(region: Option<&RegionCode>) -> (String, String) {
    region
        .map(RegionCode::scope_bounds)
        .unwrap_or_else(|| (String::new(), "~".to_string()))
}

/// The child regions of a region (the provinces for none), with the length of their codes.
async fn child_regions(
    state: &AppState,
    region: Option<&RegionCode>,
) -> AppResult<(usize, Vec<(String, String)>)> {
    let (len, rows) = match region {
        None => (
            2,
            sqlx::query("SELECT code, name FROM regions WHERE parent_code IS NULL ORDER BY code")
                .fetch_all(state.db.pool())
                .await?,
        ),
        Some(r) => match r.level().child() {
            None => return Ok((0, Vec::new())),
            Some(l) => (
                l.code_len(),
                sqlx::query("SELECT code, name FROM regions WHERE parent_code = $1 ORDER BY code")
                    .bind(r.as_str())
                    .fetch_all(state.db.pool())
                    .await?,
            ),
        },
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((r.try_get("code")?, r.try_get("name")?));
    }
    Ok((len, out))
}

/// Counts grouped by the child-region prefix of `region_code` (`sql` selects from a table
/// aliased with a `region_code` column and must leave `GROUP BY` to this function).
async fn counts_by_child(
    state: &AppState,
    from_where: &str,
    len: usize,
    binds: &[&str],
    campaign: Option<i64>,
) -> AppResult<std::collections::HashMap<String, i64>> {
    let sql = format!(
        "SELECT SUBSTR(region_code, 1, {len}) AS c, CAST(COUNT(*) AS BIGINT) AS n {from_where} \
         GROUP BY SUBSTR(region_code, 1, {len})"
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(c) = campaign {
        q = q.bind(c);
    }
    for b in binds {
        q = q.bind(*b);
    }
    let rows = q.fetch_all(state.db.pool()).await?;
    let mut out = std::collections::HashMap::new();
    for r in rows {
        out.insert(r.try_get::<String, _>("c")?, r.try_get::<i64, _>("n")?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Campaigns

/// A screening campaign.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Campaign {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub name: String,
    pub purpose: String,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    pub ends_on: String,
    /// Ask for travel and contact history.
    pub ask_history: bool,
    pub ask_symptoms: bool,
    pub ask_temperature: bool,
    pub created_by: String,
    /// Beijing time.
    pub created_at: String,
}

fn default_true() -> bool {
    true
}

/// Body of `POST /api/v1/screening/campaigns`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewCampaign {
    pub name: String,
    #[serde(default)]
    pub purpose: String,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    pub ends_on: String,
    /// The region screened (in the caller's scope).
    pub region_code: String,
    #[serde(default = "default_true")]
    pub ask_history: bool,
    #[serde(default = "default_true")]
    pub ask_symptoms: bool,
    #[serde(default = "default_true")]
    pub ask_temperature: bool,
}

const CAMPAIGN_COLS: &str = "c.id, c.region_code, r.name AS region_name, c.name, c.purpose, \
    c.starts_on, c.ends_on, c.ask_history, c.ask_symptoms, c.ask_temperature, c.created_by, \
    c.created_at";

fn campaign_from_row(r: &sqlx::any::AnyRow) -> Result<Campaign, sqlx::Error> {
    Ok(Campaign {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        region_name: r
            .try_get::<Option<String>, _>("region_name")?
            .unwrap_or_default(),
        name: r.try_get("name")?,
        purpose: r.try_get("purpose")?,
        starts_on: r.try_get("starts_on")?,
        ends_on: r.try_get("ends_on")?,
        ask_history: r.try_get::<i64, _>("ask_history")? != 0,
        ask_symptoms: r.try_get::<i64, _>("ask_symptoms")? != 0,
        ask_temperature: r.try_get::<i64, _>("ask_temperature")? != 0,
        created_by: r.try_get("created_by")?,
        created_at: fmt_ms(r.try_get("created_at")?),
    })
}

/// A campaign is visible to a caller whose scope overlaps its region: inside it (a village
/// worker in a county campaign) or containing it.
fn overlaps(actor: &Actor, region: &str) -> bool {
    match (&actor.scope, RegionCode::parse(region)) {
        (Scope::National, _) => true,
        (Scope::Region(s), Ok(c)) => s.contains(&c) || c.contains(s),
        _ => false,
    }
}

/// Open a campaign: an official above village level, for a region in scope.
pub async fn create_campaign(
    state: &AppState,
    actor: &Actor,
    input: &NewCampaign,
) -> AppResult<Campaign> {
    actor.require(Permission::PersonsWrite)?;
    if let Scope::Region(s) = &actor.scope
        && s.level() >= RegionLevel::Village
    {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "摸排活动须由乡镇（街道）及以上开展",
        ));
    }
    let name = text_field("name", &input.name, 100, true)?;
    let purpose = text_field("purpose", &input.purpose, 500, false)?;
    let starts = parse_day("starts_on", &input.starts_on)?;
    let ends = parse_day("ends_on", &input.ends_on)?;
    if ends < starts {
        return Err(AppError::field(
            ErrorCode::Validation,
            "ends_on",
            "结束日期不能早于开始日期",
        ));
    }
    let code = regions::parse_code("region_code", &input.region_code)?;
    actor.check_region(&code)?;
    if regions::find(state, code.as_str()).await?.is_none() {
        return Err(AppError::field(
            ErrorCode::UnknownRegion,
            "region_code",
            "区划代码不存在",
        ));
    }
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO screening_campaigns (region_code, name, purpose, starts_on, ends_on, \
         ask_history, ask_symptoms, ask_temperature, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(code.as_str())
    .bind(&name)
    .bind(&purpose)
    .bind(starts.format("%Y-%m-%d").to_string())
    .bind(ends.format("%Y-%m-%d").to_string())
    .bind(i64::from(input.ask_history))
    .bind(i64::from(input.ask_symptoms))
    .bind(i64::from(input.ask_temperature))
    .bind(&actor.username)
    .bind(now)
    .fetch_one(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "screening.campaign_create",
            object_type: "screening_campaign",
            object_id: id.to_string(),
            region_code: code.to_string(),
            outcome: "success",
            detail: json!({
                "name": {"before": null, "after": name},
                "starts_on": {"before": null, "after": input.starts_on.trim()},
                "ends_on": {"before": null, "after": input.ends_on.trim()},
                "ask": {"history": input.ask_history, "symptoms": input.ask_symptoms,
                        "temperature": input.ask_temperature},
            }),
        },
    )
    .await?;
    w.commit().await?;
    get_campaign(state, actor, id).await
}

/// One campaign visible to the caller.
pub async fn get_campaign(state: &AppState, actor: &Actor, id: i64) -> AppResult<Campaign> {
    actor.require(Permission::PersonsRead)?;
    let sql = format!(
        "SELECT {CAMPAIGN_COLS} FROM screening_campaigns c \
         LEFT JOIN regions r ON r.code = c.region_code WHERE c.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let c = campaign_from_row(&row)?;
    if !overlaps(actor, &c.region_code) {
        return Err(AppError::not_found());
    }
    Ok(c)
}

/// Campaigns visible to the caller, newest first.
pub async fn list_campaigns(state: &AppState, actor: &Actor) -> AppResult<Vec<Campaign>> {
    actor.require(Permission::PersonsRead)?;
    let sql = format!(
        "SELECT {CAMPAIGN_COLS} FROM screening_campaigns c \
         LEFT JOIN regions r ON r.code = c.region_code ORDER BY c.id DESC LIMIT 2000"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(state.db.pool())
        .await?;
    let mut out = Vec::new();
    for r in &rows {
        let c = campaign_from_row(r)?;
        if overlaps(actor, &c.region_code) {
            out.push(c);
        }
        if out.len() >= 200 {
            break;
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Household visits

/// One person of a visited household, as recorded.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct MemberInput {
    pub person_id: i64,
    /// At home when visited.
    pub at_home: bool,
    /// Travel and contact history (free text).
    #[serde(default)]
    pub history: String,
    #[serde(default)]
    pub symptoms: bool,
    /// Tenths of a degree (365 = 36.5 ℃), 340–430; omit when not measured.
    #[serde(default)]
    pub temperature: Option<i64>,
    /// `confirmed`, `suspected`, `close_contact`, `fever` or `none` (default).
    #[serde(default)]
    pub risk: String,
    /// `home_observation`, `central_isolation`, `fever_clinic` or `none` (default).
    #[serde(default)]
    pub disposition: String,
}

/// Body of `POST /api/v1/screening/campaigns/{id}/households/{household_id}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct VisitInput {
    /// Whether the household was reached (入户).
    pub reached: bool,
    #[serde(default)]
    pub note: String,
    /// Persons of the household (none when not reached).
    #[serde(default)]
    pub members: Vec<MemberInput>,
}

/// A screened person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VisitMember {
    pub person_id: i64,
    pub name: String,
    pub at_home: bool,
    pub history: String,
    pub symptoms: bool,
    pub temperature: Option<i64>,
    pub risk: String,
    pub risk_label: String,
    pub disposition: String,
    pub disposition_label: String,
}

/// The visit of one household in a campaign.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Visit {
    pub campaign_id: i64,
    pub household_id: i64,
    pub region_code: String,
    pub reached: bool,
    pub note: String,
    pub visited_by: String,
    pub visited_at: String,
    pub members: Vec<VisitMember>,
}

/// Household region, if the household exists and is in the caller's scope and the campaign.
async fn household_region(
    state: &AppState,
    actor: &Actor,
    campaign: &Campaign,
    household_id: i64,
) -> AppResult<RegionCode> {
    let region: String = sqlx::query_scalar("SELECT region_code FROM households WHERE id = $1")
        .bind(household_id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let code = parse_region(&region)?;
    actor.check_region(&code)?;
    let camp = parse_region(&campaign.region_code)?;
    if !camp.contains(&code) {
        return Err(AppError::not_found());
    }
    Ok(code)
}

/// Record (or record again) the visit of one household and every person in it, in one write.
pub async fn record_visit(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    household_id: i64,
    input: &VisitInput,
) -> AppResult<Visit> {
    actor.require(Permission::PersonsWrite)?;
    let campaign = get_campaign(state, actor, campaign_id).await?;
    let region = household_region(state, actor, &campaign, household_id).await?;
    let today = beijing_date(state.clock.now())
        .format("%Y-%m-%d")
        .to_string();
    if today < campaign.starts_on || today > campaign.ends_on {
        return Err(AppError::msg(
            ErrorCode::Validation,
            format!(
                "摸排时间为 {} 至 {}，今天不在其中",
                campaign.starts_on, campaign.ends_on
            ),
        ));
    }
    let note = text_field("note", &input.note, 500, false)?;
    if !input.reached && !input.members.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "members",
            "未入户时不能登记人员情况",
        ));
    }
    let members_in: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM persons WHERE household_id = $1 ORDER BY id")
            .bind(household_id)
            .fetch_all(state.db.pool())
            .await?;
    let mut checked = Vec::with_capacity(input.members.len());
    for m in &input.members {
        if !members_in.contains(&m.person_id) {
            return Err(AppError::field(
                ErrorCode::Validation,
                "members",
                format!("人员 {} 不是该户成员", m.person_id),
            ));
        }
        if checked
            .iter()
            .any(|(p, ..): &(i64, String, Option<i64>, &str, &str)| *p == m.person_id)
        {
            return Err(AppError::field(
                ErrorCode::Validation,
                "members",
                format!("人员 {} 重复", m.person_id),
            ));
        }
        let history = text_field("history", &m.history, 500, false)?;
        let temperature = m.temperature.map(check_temperature).transpose()?;
        let risk = parse_choice(&RISKS, "risk", &m.risk)?;
        let disposition = parse_choice(&DISPOSITIONS, "disposition", &m.disposition)?;
        checked.push((m.person_id, history, temperature, risk, disposition));
    }
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let before: Option<(i64, i64)> = sqlx::query(
        "SELECT id, reached FROM screening_visits WHERE campaign_id = $1 AND household_id = $2",
    )
    .bind(campaign_id)
    .bind(household_id)
    .fetch_optional(w.conn())
    .await?
    .map(|r| -> Result<(i64, i64), sqlx::Error> { Ok((r.try_get("id")?, r.try_get("reached")?)) })
    .transpose()?;
    let visit_id =
        match before {
            Some((vid, _)) => {
                sqlx::query("DELETE FROM screening_persons WHERE visit_id = $1")
                    .bind(vid)
                    .execute(w.conn())
                    .await?;
                sqlx::query(
                    "UPDATE screening_visits SET reached = $1, note = $2, visited_by = $3, \
                 visited_at = $4, region_code = $5 WHERE id = $6",
                )
                .bind(i64::from(input.reached))
                .bind(&note)
                .bind(&actor.username)
                .bind(now)
                .bind(region.as_str())
                .bind(vid)
                .execute(w.conn())
                .await?;
                vid
            }
            None => sqlx::query_scalar(
                "INSERT INTO screening_visits (campaign_id, household_id, region_code, reached, \
                 note, visited_by, visited_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(campaign_id)
            .bind(household_id)
            .bind(region.as_str())
            .bind(i64::from(input.reached))
            .bind(&note)
            .bind(&actor.username)
            .bind(now)
            .fetch_one(w.conn())
            .await?,
        };
    for ((pid, history, temperature, risk, disposition), m) in checked.iter().zip(&input.members) {
        sqlx::query(
            "INSERT INTO screening_persons (visit_id, campaign_id, person_id, region_code, \
             at_home, history, symptoms, temperature, risk, disposition) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(visit_id)
        .bind(campaign_id)
        .bind(*pid)
        .bind(region.as_str())
        .bind(i64::from(m.at_home))
        .bind(history)
        .bind(i64::from(m.symptoms))
        .bind(*temperature)
        .bind(*risk)
        .bind(*disposition)
        .execute(w.conn())
        .await?;
    }
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "screening.visit",
            object_type: "household",
            object_id: household_id.to_string(),
            region_code: region.to_string(),
            outcome: "success",
            detail: json!({
                "campaign_id": campaign_id,
                "reached": {"before": before.map(|(_, r)| r != 0), "after": input.reached},
                "persons": checked.iter().map(|(p, _, t, r, d)| json!({
                    "person_id": p, "temperature": t, "risk": r, "disposition": d,
                })).collect::<Vec<_>>(),
            }),
        },
    )
    .await?;
    w.commit().await?;
    get_visit(state, actor, campaign_id, household_id)
        .await?
        .ok_or_else(AppError::not_found)
}

/// The recorded visit of a household in a campaign, if any.
pub async fn get_visit(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    household_id: i64,
) -> AppResult<Option<Visit>> {
    actor.require(Permission::PersonsRead)?;
    let campaign = get_campaign(state, actor, campaign_id).await?;
    household_region(state, actor, &campaign, household_id).await?;
    let Some(v) = sqlx::query(
        "SELECT id, region_code, reached, note, visited_by, visited_at FROM screening_visits \
         WHERE campaign_id = $1 AND household_id = $2",
    )
    .bind(campaign_id)
    .bind(household_id)
    .fetch_optional(state.db.pool())
    .await?
    else {
        return Ok(None);
    };
    let vid: i64 = v.try_get("id")?;
    let rows = sqlx::query(
        "SELECT s.person_id, p.name, s.at_home, s.history, s.symptoms, s.temperature, s.risk, \
         s.disposition FROM screening_persons s JOIN persons p ON p.id = s.person_id \
         WHERE s.visit_id = $1 ORDER BY s.person_id",
    )
    .bind(vid)
    .fetch_all(state.db.pool())
    .await?;
    let mut members = Vec::with_capacity(rows.len());
    for r in rows {
        let risk: String = r.try_get("risk")?;
        let disposition: String = r.try_get("disposition")?;
        members.push(VisitMember {
            person_id: r.try_get("person_id")?,
            name: r.try_get("name")?,
            at_home: r.try_get::<i64, _>("at_home")? != 0,
            history: r.try_get("history")?,
            symptoms: r.try_get::<i64, _>("symptoms")? != 0,
            temperature: r.try_get("temperature")?,
            risk_label: label(&RISKS, &risk).to_string(),
            risk,
            disposition_label: label(&DISPOSITIONS, &disposition).to_string(),
            disposition,
        });
    }
    Ok(Some(Visit {
        campaign_id,
        household_id,
        region_code: v.try_get("region_code")?,
        reached: v.try_get::<i64, _>("reached")? != 0,
        note: v.try_get("note")?,
        visited_by: v.try_get("visited_by")?,
        visited_at: fmt_ms(v.try_get("visited_at")?),
        members,
    }))
}

/// A household of a campaign's roll, for the worker's list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RollHousehold {
    pub id: i64,
    pub region_code: String,
    pub address: String,
    /// Names of the members (as the caller may see them in `people`).
    pub members: String,
    /// `None` not visited yet, `Some(true)` reached, `Some(false)` visited but not reached.
    pub reached: Option<bool>,
}

/// Households of the campaign in the caller's scope, matching an address or member name
/// fragment (or a household number), not-yet-reached first.
pub async fn find_households(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    q: &str,
) -> AppResult<Vec<RollHousehold>> {
    actor.require(Permission::PersonsRead)?;
    let campaign = get_campaign(state, actor, campaign_id).await?;
    let camp = parse_region(&campaign.region_code)?;
    // The narrower of the campaign's region and the caller's scope.
    let region = match &actor.scope {
        Scope::Region(s) if camp.contains(s) => s.clone(),
        _ => camp,
    };
    let (lo, hi) = region.scope_bounds();
    let q: String = q.trim().chars().take(50).collect();
    let like = format!(
        "%{}%",
        q.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let by_id: i64 = q.parse().unwrap_or(-1);
    let rows = sqlx::query(
        "SELECT h.id, h.region_code, h.address, v.reached FROM households h \
         LEFT JOIN screening_visits v ON v.household_id = h.id AND v.campaign_id = $1 \
         WHERE h.region_code >= $2 AND h.region_code < $3 AND ($4 = '' OR h.id = $5 \
         OR h.address LIKE $6 ESCAPE '\\' OR EXISTS (SELECT 1 FROM persons p \
         WHERE p.household_id = h.id AND p.name LIKE $6 ESCAPE '\\')) \
         ORDER BY CASE WHEN v.reached = 1 THEN 1 ELSE 0 END, h.id LIMIT 50",
    )
    .bind(campaign_id)
    .bind(&lo)
    .bind(&hi)
    .bind(&q)
    .bind(by_id)
    .bind(&like)
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM persons WHERE household_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(state.db.pool())
                .await?;
        out.push(RollHousehold {
            id,
            region_code: r.try_get("region_code")?,
            address: r.try_get("address")?,
            members: names.join("、"),
            reached: r.try_get::<Option<i64>, _>("reached")?.map(|v| v != 0),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Coverage

/// Households reached of households on the roll in one child region.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CoverageChild {
    pub code: String,
    pub name: String,
    pub households: i64,
    pub reached: i64,
}

/// Coverage of a region in a campaign; children furthest behind first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Coverage {
    pub region: String,
    pub households: i64,
    pub reached: i64,
    pub children: Vec<CoverageChild>,
}

/// Live coverage of a campaign in `region` (default: the campaign's region, or the caller's
/// scope when narrower). The region must lie in the campaign and the caller's scope.
pub async fn coverage(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    region: Option<&str>,
) -> AppResult<Coverage> {
    actor.require(Permission::PersonsRead)?;
    let campaign = get_campaign(state, actor, campaign_id).await?;
    let camp = parse_region(&campaign.region_code)?;
    let region = match region.map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => parse_region(r)?,
        None => match &actor.scope {
            Scope::Region(s) if camp.contains(s) => s.clone(),
            _ => camp.clone(),
        },
    };
    actor.check_region(&region)?;
    if !camp.contains(&region) {
        return Err(AppError::not_found());
    }
    let (lo, hi) = region.scope_bounds();
    let households: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM households WHERE region_code >= $1 AND region_code < $2",
    )
    .bind(&lo)
    .bind(&hi)
    .fetch_one(state.db.pool())
    .await?;
    let reached: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM screening_visits WHERE campaign_id = $1 \
         AND reached = 1 AND region_code >= $2 AND region_code < $3",
    )
    .bind(campaign_id)
    .bind(&lo)
    .bind(&hi)
    .fetch_one(state.db.pool())
    .await?;
    let (len, kids) = child_regions(state, Some(&region)).await?;
    let mut children = Vec::with_capacity(kids.len());
    if !kids.is_empty() {
        let on_roll = counts_by_child(
            state,
            "FROM households WHERE region_code >= $1 AND region_code < $2",
            len,
            &[&lo, &hi],
            None,
        )
        .await?;
        let done = counts_by_child(
            state,
            "FROM screening_visits WHERE campaign_id = $1 AND reached = 1 \
             AND region_code >= $2 AND region_code < $3",
            len,
            &[&lo, &hi],
            Some(campaign_id),
        )
        .await?;
        for (code, name) in kids {
            children.push(CoverageChild {
                households: on_roll.get(&code).copied().unwrap_or(0),
                reached: done.get(&code).copied().unwrap_or(0),
                code,
                name,
            });
        }
    }
    // Furthest behind first: lowest share reached (regions with nobody on the roll last),
    // then most households still to reach.
    children.sort_by(|a, b| {
        let empty = (a.households == 0).cmp(&(b.households == 0));
        let share = (i128::from(a.reached) * i128::from(b.households))
            .cmp(&(i128::from(b.reached) * i128::from(a.households)));
        let left = (b.households - b.reached).cmp(&(a.households - a.reached));
        empty
            .then(share)
            .then(left)
            .then_with(|| a.code.cmp(&b.code))
    });
    Ok(Coverage {
        region: region.to_string(),
        households,
        reached,
        children,
    })
}

// ---------------------------------------------------------------------------------------------
// Home observation

/// One of the four responsible people, as given.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct KeeperInput {
    /// e.g. 社区干部, 医生, 民警, 志愿者.
    pub role: String,
    pub name: String,
    pub phone: String,
}

/// Body of `POST /api/v1/observations`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewObservation {
    pub person_id: i64,
    /// Exactly four responsible people (四包一).
    pub keepers: Vec<KeeperInput>,
    /// Last day, `YYYY-MM-DD`; default 14 days from today.
    #[serde(default)]
    pub ends_on: Option<String>,
    #[serde(default)]
    pub reason: String,
}

/// A responsible person, phone masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Keeper {
    pub role: String,
    pub name: String,
    pub phone_masked: String,
}

/// A check-in.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Checkin {
    /// `2026-03-02 上午`.
    pub slot: String,
    /// Tenths of a degree.
    pub temperature: i64,
    pub symptoms: bool,
    pub note: String,
    pub recorded_by: String,
    pub recorded_at: String,
}

/// A home observation (name masked).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Observation {
    pub id: i64,
    pub person_id: i64,
    pub name_masked: String,
    pub region_code: String,
    pub region_name: String,
    pub reason: String,
    pub started_at: String,
    pub ends_on: String,
    /// `active`, `released`, `central_isolation`, `hospital`.
    pub status: String,
    pub status_label: String,
    pub closed_at: Option<String>,
    pub close_note: String,
    /// The four (only on a single observation; empty in lists).
    pub keepers: Vec<Keeper>,
    /// Newest first (only on a single observation).
    pub checkins: Vec<Checkin>,
}

const OBS_COLS: &str = "o.id, o.person_id, p.name AS person_name, o.region_code, \
    r.name AS region_name, o.reason, o.started_at, o.ends_on, o.status, o.closed_at, o.close_note";

fn status_label(s: &str) -> &'static str {
    match s {
        "active" => "观察中",
        other => label(&OUTCOMES, other),
    }
}

fn obs_from_row(r: &sqlx::any::AnyRow) -> Result<Observation, sqlx::Error> {
    let status: String = r.try_get("status")?;
    Ok(Observation {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        name_masked: mask_name(&r.try_get::<String, _>("person_name")?),
        region_code: r.try_get("region_code")?,
        region_name: r
            .try_get::<Option<String>, _>("region_name")?
            .unwrap_or_default(),
        reason: r.try_get("reason")?,
        started_at: fmt_ms(r.try_get("started_at")?),
        ends_on: r.try_get("ends_on")?,
        status_label: status_label(&status).to_string(),
        status,
        closed_at: r.try_get::<Option<i64>, _>("closed_at")?.map(fmt_ms),
        close_note: r.try_get("close_note")?,
        keepers: Vec::new(),
        checkins: Vec::new(),
    })
}

async fn load_obs(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    id: i64,
) -> AppResult<Observation> {
    let sql = format!(
        "SELECT {OBS_COLS} FROM observations o JOIN persons p ON p.id = o.person_id \
         LEFT JOIN regions r ON r.code = o.region_code WHERE o.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(AppError::not_found)?;
    let o = obs_from_row(&row)?;
    actor.check_region(&parse_region(&o.region_code)?)?;
    Ok(o)
}

/// Start a home observation for a person in scope, with four responsible people.
pub async fn start_observation(
    state: &AppState,
    actor: &Actor,
    input: &NewObservation,
) -> AppResult<Observation> {
    actor.require(Permission::PersonsWrite)?;
    let person = people::get(state, actor, input.person_id).await?;
    let today = beijing_date(state.clock.now());
    if input.keepers.len() != 4 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "keepers",
            "须指定四名责任人（四包一）",
        ));
    }
    let mut keepers = Vec::with_capacity(4);
    for k in &input.keepers {
        let role = text_field("keeper_role", &k.role, 20, true)?;
        let name = text_field("keeper_name", &k.name, 50, true)?;
        let phone = people::normalise_phone(&k.phone)
            .map_err(|m| AppError::field(ErrorCode::Validation, "keeper_phone", m))?
            .ok_or_else(|| AppError::field(ErrorCode::Validation, "keeper_phone", "不能为空"))?;
        let sealed = people::seal(state, None, Some(&phone));
        keepers.push((role, name, sealed));
    }
    let ends_on = match input.ends_on.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => {
            let d = parse_day("ends_on", s)?;
            if d < today {
                return Err(AppError::field(
                    ErrorCode::Validation,
                    "ends_on",
                    "结束日期不能早于今天",
                ));
            }
            d
        }
        _ => today + Duration::days(DEFAULT_DAYS),
    };
    let ends_on = ends_on.format("%Y-%m-%d").to_string();
    let reason = text_field("reason", &input.reason, 200, false)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let active: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM observations WHERE person_id = $1 AND status = 'active'",
    )
    .bind(person.id)
    .fetch_optional(w.conn())
    .await?;
    if let Some(a) = active {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!("该人员已在居家医学观察中（观察编号 {a}）"),
        ));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO observations (person_id, region_code, reason, started_at, ends_on, status, \
         close_note, created_by, created_at) VALUES ($1, $2, $3, $4, $5, 'active', '', $6, $4) \
         RETURNING id",
    )
    .bind(person.id)
    .bind(&person.region_code)
    .bind(&reason)
    .bind(now)
    .bind(&ends_on)
    .bind(&actor.username)
    .fetch_one(w.conn())
    .await?;
    for (i, (role, name, sealed)) in keepers.iter().enumerate() {
        sqlx::query(
            "INSERT INTO observation_keepers (observation_id, seq, role, name, phone_enc, \
             phone_masked) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(i as i64 + 1)
        .bind(role)
        .bind(name)
        .bind(sealed.phone_enc.clone())
        .bind(&sealed.phone_masked)
        .execute(w.conn())
        .await?;
    }
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "observation.start",
            object_type: "observation",
            object_id: id.to_string(),
            region_code: person.region_code.clone(),
            outcome: "success",
            detail: json!({
                "person_id": person.id,
                "ends_on": {"before": null, "after": ends_on},
                "keepers": keepers.iter().map(|(r, n, s)| json!({
                    "role": r, "name": n, "phone": s.phone_masked,
                })).collect::<Vec<_>>(),
            }),
        },
    )
    .await?;
    w.commit().await?;
    get_observation(state, actor, id).await
}

/// One observation in scope, with its four and its check-ins.
pub async fn get_observation(state: &AppState, actor: &Actor, id: i64) -> AppResult<Observation> {
    actor.require(Permission::PersonsRead)?;
    let mut conn = state.db.pool().acquire().await?;
    let mut o = load_obs(&mut conn, actor, id).await?;
    let rows = sqlx::query(
        "SELECT role, name, phone_masked FROM observation_keepers WHERE observation_id = $1 \
         ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        o.keepers.push(Keeper {
            role: r.try_get("role")?,
            name: r.try_get("name")?,
            phone_masked: r.try_get("phone_masked")?,
        });
    }
    let rows = sqlx::query(
        "SELECT slot, temperature, symptoms, note, recorded_by, recorded_at \
         FROM observation_checkins WHERE observation_id = $1 ORDER BY id DESC LIMIT 200",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        o.checkins.push(Checkin {
            slot: slot_label(r.try_get("slot")?),
            temperature: r.try_get("temperature")?,
            symptoms: r.try_get::<i64, _>("symptoms")? != 0,
            note: r.try_get("note")?,
            recorded_by: r.try_get("recorded_by")?,
            recorded_at: fmt_ms(r.try_get("recorded_at")?),
        });
    }
    Ok(o)
}

fn require_active(o: &Observation) -> AppResult<()> {
    if o.status == "active" {
        Ok(())
    } else {
        Err(AppError::msg(ErrorCode::Validation, "该观察已结束"))
    }
}

/// Move the end date later (never earlier: 422).
pub async fn extend(
    state: &AppState,
    actor: &Actor,
    id: i64,
    ends_on: &str,
) -> AppResult<Observation> {
    actor.require(Permission::PersonsWrite)?;
    let new = parse_day("ends_on", ends_on)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let o = load_obs(w.conn(), actor, id).await?;
    require_active(&o)?;
    let cur = parse_day("ends_on", &o.ends_on)?;
    if new <= cur {
        return Err(AppError::field(
            ErrorCode::Validation,
            "ends_on",
            format!("观察期只能延长，不能缩短（当前结束日期 {}）", o.ends_on),
        ));
    }
    let new = new.format("%Y-%m-%d").to_string();
    sqlx::query("UPDATE observations SET ends_on = $1 WHERE id = $2")
        .bind(&new)
        .bind(id)
        .execute(w.conn())
        .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "observation.extend",
            object_type: "observation",
            object_id: id.to_string(),
            region_code: o.region_code.clone(),
            outcome: "success",
            detail: json!({"ends_on": {"before": o.ends_on, "after": new}}),
        },
    )
    .await?;
    w.commit().await?;
    get_observation(state, actor, id).await
}

/// Body of `POST /api/v1/observations/{id}/checkins`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewCheckin {
    /// Tenths of a degree (365 = 36.5 ℃), 340–430.
    pub temperature: i64,
    #[serde(default)]
    pub symptoms: bool,
    #[serde(default)]
    pub note: String,
}

/// Record a check-in in the current half-day slot.
pub async fn checkin(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &NewCheckin,
) -> AppResult<Observation> {
    actor.require(Permission::PersonsWrite)?;
    let temperature = check_temperature(input.temperature)?;
    let note = text_field("note", &input.note, 200, false)?;
    let now = state.now_ms();
    let slot = slot_of(now);
    let mut w = state.db.begin_write().await?;
    let o = load_obs(w.conn(), actor, id).await?;
    require_active(&o)?;
    sqlx::query(
        "INSERT INTO observation_checkins (observation_id, slot, temperature, symptoms, note, \
         recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(slot)
    .bind(temperature)
    .bind(i64::from(input.symptoms))
    .bind(&note)
    .bind(&actor.username)
    .bind(now)
    .execute(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "observation.checkin",
            object_type: "observation",
            object_id: id.to_string(),
            region_code: o.region_code.clone(),
            outcome: "success",
            detail: json!({"slot": slot_label(slot), "temperature": temperature,
                           "symptoms": input.symptoms}),
        },
    )
    .await?;
    w.commit().await?;
    get_observation(state, actor, id).await
}

/// Body of `POST /api/v1/observations/{id}/close`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CloseObservation {
    /// `released`, `central_isolation` or `hospital`.
    pub outcome: String,
    #[serde(default)]
    pub note: String,
}

/// Close an observation: release, or transfer to central isolation or hospital.
pub async fn close(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &CloseObservation,
) -> AppResult<Observation> {
    actor.require(Permission::PersonsWrite)?;
    let outcome = OUTCOMES
        .iter()
        .find(|(k, l)| *k == input.outcome.trim() || *l == input.outcome.trim())
        .map(|(k, _)| *k)
        .ok_or_else(|| AppError::field(ErrorCode::Validation, "outcome", "未知的结束方式"))?;
    let note = text_field("note", &input.note, 500, false)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let o = load_obs(w.conn(), actor, id).await?;
    require_active(&o)?;
    sqlx::query(
        "UPDATE observations SET status = $1, closed_at = $2, close_note = $3 WHERE id = $4",
    )
    .bind(outcome)
    .bind(now)
    .bind(&note)
    .bind(id)
    .execute(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "observation.close",
            object_type: "observation",
            object_id: id.to_string(),
            region_code: o.region_code.clone(),
            outcome: "success",
            detail: json!({"status": {"before": "active", "after": outcome}, "note": note}),
        },
    )
    .await?;
    w.commit().await?;
    get_observation(state, actor, id).await
}

/// Filters of `GET /api/v1/observations`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ObservationQuery {
    /// Region code; default the caller's scope.
    pub region: Option<String>,
    /// `active` (default), `closed` or `all`.
    pub status: Option<String>,
}

/// Observations in a region of the caller's scope (names masked), newest first.
pub async fn list_observations(
    state: &AppState,
    actor: &Actor,
    q: &ObservationQuery,
) -> AppResult<Vec<Observation>> {
    actor.require(Permission::PersonsRead)?;
    let region = resolve_region(actor, q.region.as_deref())?;
    let (lo, hi) = bounds(region.as_ref());
    let status = match q.status.as_deref().map(str::trim) {
        None | Some("") | Some("active") => "o.status = 'active'",
        Some("closed") => "o.status <> 'active'",
        Some("all") => "1 = 1",
        Some(_) => {
            return Err(AppError::field(
                ErrorCode::Validation,
                "status",
                "应为 active、closed 或 all",
            ));
        }
    };
    let sql = format!(
        "SELECT {OBS_COLS} FROM observations o JOIN persons p ON p.id = o.person_id \
         LEFT JOIN regions r ON r.code = o.region_code \
         WHERE {status} AND o.region_code >= $1 AND o.region_code < $2 ORDER BY o.id DESC LIMIT 500"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&lo)
        .bind(&hi)
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows.iter().map(obs_from_row).collect::<Result<_, _>>()?)
}

/// People under observation in one child region.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SummaryChild {
    pub code: String,
    pub name: String,
    pub count: i64,
}

/// People under observation in a region, rolled up by child region (most first).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ObservationSummary {
    /// The region (`0` for the whole country).
    pub region: String,
    pub under_observation: i64,
    pub children: Vec<SummaryChild>,
}

/// Counts of people under observation by child region.
pub async fn summary(
    state: &AppState,
    actor: &Actor,
    region: Option<&str>,
) -> AppResult<ObservationSummary> {
    actor.require(Permission::PersonsRead)?;
    let region = resolve_region(actor, region)?;
    let (lo, hi) = bounds(region.as_ref());
    let total: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM observations WHERE status = 'active' \
         AND region_code >= $1 AND region_code < $2",
    )
    .bind(&lo)
    .bind(&hi)
    .fetch_one(state.db.pool())
    .await?;
    let (len, kids) = child_regions(state, region.as_ref()).await?;
    let mut children = Vec::with_capacity(kids.len());
    if !kids.is_empty() {
        let counts = counts_by_child(
            state,
            "FROM observations WHERE status = 'active' AND region_code >= $1 AND region_code < $2",
            len,
            &[&lo, &hi],
            None,
        )
        .await?;
        for (code, name) in kids {
            children.push(SummaryChild {
                count: counts.get(&code).copied().unwrap_or(0),
                code,
                name,
            });
        }
    }
    children.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    Ok(ObservationSummary {
        region: region.map(|r| r.to_string()).unwrap_or_else(|| "0".into()),
        under_observation: total,
        children,
    })
}

// ---------------------------------------------------------------------------------------------
// Missed check-ins

/// The escalation delay: `BACKSTOP_OBSERVATION_ESCALATE_MINUTES` if set, else 12 hours.
pub fn escalate_after_ms() -> i64 {
    std::env::var("BACKSTOP_OBSERVATION_ESCALATE_MINUTES")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|m| *m >= 0)
        .map(|m| m * 60_000)
        .unwrap_or(DEFAULT_ESCALATE_MS)
}

/// Find missed check-ins with the configured escalation delay; returns notifications queued.
pub async fn run_observation_checks(state: &AppState) -> AppResult<i64> {
    run_observation_checks_with(state, escalate_after_ms()).await
}

/// Find every half-day slot of an active observation that has passed without a check-in
/// (slots from the first one starting after the observation began, to the end of its last
/// day). Each such slot notifies the four once (region = the person's region), and once
/// `escalate_after_ms` has passed since the slot ended, the township once (region = its
/// 9-digit code). Idempotent: a slot and level is alerted at most once.
pub async fn run_observation_checks_with(
    state: &AppState,
    escalate_after_ms: i64,
) -> AppResult<i64> {
    let now = state.now_ms();
    let rows = sqlx::query(
        "SELECT o.id, o.region_code, o.started_at, o.ends_on, p.name FROM observations o \
         JOIN persons p ON p.id = o.person_id WHERE o.status = 'active' ORDER BY o.id",
    )
    .fetch_all(state.db.pool())
    .await?;
    let mut queued = 0;
    let system = Who {
        user_id: None,
        username: "system".into(),
        source: "scheduler".into(),
    };
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let region: String = r.try_get("region_code")?;
        let started_at: i64 = r.try_get("started_at")?;
        let ends_on: String = r.try_get("ends_on")?;
        let name = mask_name(&r.try_get::<String, _>("name")?);
        let first = (started_at + BEIJING_MS + HALF_DAY_MS - 1).div_euclid(HALF_DAY_MS);
        let last_day = match NaiveDate::parse_from_str(&ends_on, "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => continue,
        };
        // Slots of the last day: the day's morning is slot (days since epoch) * 2.
        let days = (last_day - NaiveDate::default()).num_days();
        let last_by_end = days * 2 + 1;
        let last = (slot_of(now) - 1).min(last_by_end);
        if last < first {
            continue;
        }
        let first = first.max(last - 200);
        let done: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT slot FROM observation_checkins WHERE observation_id = $1 AND slot >= $2",
        )
        .bind(id)
        .bind(first)
        .fetch_all(state.db.pool())
        .await?;
        let alerted: Vec<(i64, i64)> = sqlx::query(
            "SELECT slot, level FROM observation_alerts WHERE observation_id = $1 AND slot >= $2",
        )
        .bind(id)
        .bind(first)
        .fetch_all(state.db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("slot")?, r.try_get("level")?)))
        .collect::<Result<_, sqlx::Error>>()?;
        for slot in first..=last {
            if done.contains(&slot) {
                continue;
            }
            let slot_end = slot_start(slot) + HALF_DAY_MS;
            for level in [1i64, 2] {
                if alerted.contains(&(slot, level))
                    || (level == 2 && slot_end + escalate_after_ms > now)
                {
                    continue;
                }
                queued += alert(state, &system, now, id, &region, &name, slot, level).await?;
            }
        }
    }
    Ok(queued)
}

/// Queue the notifications of one missed slot at one level, once.
#[allow(clippy::too_many_arguments)]
async fn alert(
    state: &AppState,
    who: &Who,
    now: i64,
    id: i64,
    region: &str,
    name: &str,
    slot: i64,
    level: i64,
) -> AppResult<i64> {
    let mut w = state.db.begin_write().await?;
    let fresh = sqlx::query(
        "INSERT INTO observation_alerts (observation_id, slot, level, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (observation_id, slot, level) DO NOTHING",
    )
    .bind(id)
    .bind(slot)
    .bind(level)
    .bind(now)
    .execute(w.conn())
    .await?
    .rows_affected();
    if fresh == 0 {
        return Ok(0);
    }
    let when = slot_label(slot);
    let mut sent = 0i64;
    let (title, targets): (String, Vec<(String, String, String)>) = if level == 1 {
        let keepers = sqlx::query(
            "SELECT seq, role, name FROM observation_keepers WHERE observation_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(w.conn())
        .await?;
        let mut t = Vec::new();
        for k in keepers {
            let seq: i64 = k.try_get("seq")?;
            let role: String = k.try_get("role")?;
            let kname: String = k.try_get("name")?;
            t.push((
                region.to_string(),
                format!("observation:{id}:keeper:{seq}"),
                format!(
                    "{role} {kname}：居家医学观察人员 {name}（观察编号 {id}）{when} 未按时报告体温和症状，请立即联系核实。"
                ),
            ));
        }
        (format!("居家观察漏报：{name}"), t)
    } else {
        let township = RegionCode::parse(region)
            .ok()
            .and_then(|c| c.prefix_at(RegionLevel::Township))
            .map(|c| c.to_string())
            .unwrap_or_else(|| region.to_string());
        (
            format!("居家观察漏报未处理：{name}"),
            vec![(
                township,
                format!("observation:{id}"),
                format!(
                    "居家医学观察人员 {name}（观察编号 {id}，{region}）{when} 未报告，四包一责任人已通知但仍未补报，请乡镇（街道）督促处置。"
                ),
            )],
        )
    };
    for (to, unit, body) in &targets {
        sqlx::query(
            "INSERT INTO notifications (region_code, unit, kind, title, body, created_at) \
             VALUES ($1, $2, 'observation_missed', $3, $4, $5)",
        )
        .bind(to)
        .bind(unit)
        .bind(&title)
        .bind(body)
        .bind(now)
        .execute(w.conn())
        .await?;
        sent += 1;
    }
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        who,
        Entry {
            action: "observation.missed",
            object_type: "observation",
            object_id: id.to_string(),
            region_code: region.to_string(),
            outcome: "success",
            detail: json!({"slot": when, "level": level, "notified": sent}),
        },
    )
    .await?;
    w.commit().await?;
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_beijing_half_days() {
        // 2026-03-02 01:00 UTC = 09:00 Beijing (morning).
        let t = chrono::DateTime::parse_from_rfc3339("2026-03-02T01:00:00Z")
            .expect("t")
            .timestamp_millis();
        let s = slot_of(t);
        assert_eq!(s % 2, 0);
        assert_eq!(slot_label(s), "2026-03-02 上午");
        assert_eq!(slot_label(s + 1), "2026-03-02 下午");
        // 12:00 Beijing starts the evening slot.
        assert_eq!(slot_of(slot_start(s) + HALF_DAY_MS), s + 1);
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).expect("d");
        assert_eq!((day - NaiveDate::default()).num_days() * 2, s);
        assert_eq!(temp_label(365), "36.5");
        assert!(check_temperature(339).is_err() && check_temperature(431).is_err());
        assert!(check_temperature(340).is_ok() && check_temperature(430).is_ok());
        assert_eq!(
            parse_choice(&RISKS, "risk", "密切接触者").ok(),
            Some("close_contact")
        );
    }
}
