//! Entrance checks (测温登记) at gates (卡口), issue 4 item 5: a gate is a named checkpoint of a
//! village or community, or of a service institution. This module owns the gates, the quick
//! entry of a visitor at a gate (name, phone, where from, why, in or out, temperature), the
//! day's list of a gate with persons masked, and the fever alert: an entry at or above
//! [`FEVER_TENTHS`] opens an alert and queues notifications in the `notifications` outbox to the
//! community's workers (users scoped to that village with the community-worker role; the
//! township when the village has none) or, for an institution's gate, to the institution's
//! users; the alert stays open until someone acknowledges it with a disposition.
//!
//! Why a separate table rather than generalising `inst_entries`: the institutions' entrance log
//! (one log per institution, no gates, no direction or origin) is used by its own pages, API
//! and tests, and another area owns it. Gates cover both kinds of place: a gate with an
//! `org_id` belongs to an institution (which may then have several named gates). The rules
//! are shared, not copied: the temperature range and tenths ([`crate::institutions::parse_temp`]),
//! the fever threshold ([`crate::institutions::FEVER_TENTHS`]), the phone's normalisation and
//! sealing (encrypted, blind-indexed, masked: [`crate::people::normalise_phone`],
//! [`crate::people::seal`]) and the masking of names ([`backstop_core::mask::mask_name`]).
//!
//! Rules: reading needs `ReportsRead` and the gate's region inside the caller's scope (outside
//! is *not found*); recording at a gate, creating one and acknowledging its alerts need
//! `ReportsSubmit` and, for an institution's gate, the rule of
//! [`crate::institutions::may_write`] (someone tied to an organisation writes only for it); an
//! institution reporter never writes at a community gate. Linking an entry to a person record
//! by ID number needs `PersonsRead`; the number travels only in a request body, is looked up
//! through the blind index within the caller's scope and is not stored with the entry. Every
//! change is one write transaction with its audit entries (persons masked).

pub mod pages;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::mask::mask_name;
use backstop_core::region::{RegionCode, RegionLevel};
use backstop_core::role::{Permission, Role, RoleSet};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{self, Entry, Who};
use crate::institutions;
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, FieldError, text_field};
use crate::orgs;
use crate::people;
use crate::regions;
use crate::state::AppState;

/// Fever threshold in tenths of a degree (37.3 ℃), the same as the institutions' rounds.
pub const FEVER_TENTHS: i64 = institutions::FEVER_TENTHS;

/// In or out of the gate.
pub const DIRECTIONS: [(&str, &str); 2] = [("in", "进"), ("out", "出")];

/// How a fever alert was dealt with.
pub const DISPOSITIONS: [(&str, &str); 5] = [
    ("fever_clinic", "已送发热门诊"),
    ("remeasured_normal", "复测体温正常"),
    ("home_observation", "转居家医学观察"),
    ("refused_entry", "劝返，未准入"),
    ("other", "其他（见说明）"),
];

fn label_of(list: &[(&'static str, &'static str)], key: &str) -> &'static str {
    list.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// Chinese label of a field of this area, for messages.
fn field_label(field: &str) -> &str {
    match field {
        "name" => "姓名",
        "gate_name" => "卡口名称",
        "phone" => "联系电话",
        "from" => "来自何处",
        "reason" => "事由",
        "direction" => "进出",
        "temperature" => "体温",
        "id_number" => "身份证号",
        "disposition" => "处置结果",
        "note" => "说明",
        "region_code" => "村（社区）",
        "org_id" => "机构",
        "date" => "日期",
        other => other,
    }
}

/// A validation error on one field, with this area's Chinese label.
pub(crate) fn ferr(code: ErrorCode, field: &str, message: impl Into<String>) -> AppError {
    let message = message.into();
    AppError {
        code,
        message: format!("{}：{message}", field_label(field)),
        fields: vec![FieldError {
            field: field.to_string(),
            message,
        }],
    }
}

/// A field error from a shared helper, relabelled for this area.
fn relabel(e: AppError) -> AppError {
    match e.fields.first() {
        Some(f) if e.fields.len() == 1 => ferr(e.code, &f.field.clone(), f.message.clone()),
        _ => e,
    }
}

fn text(field: &str, v: &str, max: usize, required: bool) -> AppResult<String> {
    text_field(field, v, max, required).map_err(relabel)
}

/// Tenths of a degree from a reading in ℃ (34.0–43.0, one decimal).
pub fn check_temperature(celsius: f64) -> AppResult<i64> {
    institutions::parse_temp("temperature", celsius).map_err(|_| {
        ferr(
            ErrorCode::Validation,
            "temperature",
            "应在 34.0–43.0 ℃ 之间（如 36.5）",
        )
    })
}

/// A temperature typed in a form (`36.5`, `36,5`); empty or not a number is an error.
pub fn parse_temperature_text(s: &str) -> AppResult<f64> {
    let t = s.trim().replace([',', '，', '。'], ".");
    if t.is_empty() {
        return Err(ferr(ErrorCode::Validation, "temperature", "不能为空"));
    }
    t.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| ferr(ErrorCode::Validation, "temperature", "请填写数字，如 36.5"))
}

fn rfc3339(ms: i64) -> String {
    backstop_core::clock::from_millis(ms).to_rfc3339()
}

fn today_str(state: &AppState) -> String {
    institutions::today(state).format("%Y-%m-%d").to_string()
}

fn who(actor: &Actor) -> Who {
    Who::from(actor)
}

// ---------------------------------------------------------------------------------------------
// Gates

/// A gate as listed, with today's counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Gate {
    pub id: i64,
    pub name: String,
    /// `community` (a village's or community's gate) or `institution`.
    pub kind: String,
    pub kind_label: String,
    /// The village or community; for an institution's gate, the institution's region.
    pub region_code: String,
    pub region_name: String,
    pub org_id: Option<i64>,
    pub org_name: String,
    /// Entries recorded today (Beijing).
    pub today_entries: i64,
    /// Fevers among today's entries.
    pub today_fevers: i64,
    /// Fever alerts not yet acknowledged.
    pub open_alerts: i64,
    /// Whether the caller may record entries here.
    pub can_write: bool,
}

/// Body of `POST /api/v1/gates`: a village or community (`region_code`, 12 digits) or an
/// institution (`org_id`), not both.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewGate {
    /// e.g. 东门卡口.
    pub name: String,
    #[serde(default)]
    pub region_code: Option<String>,
    #[serde(default)]
    pub org_id: Option<i64>,
}

const GATE_COLS: &str = "g.id, g.name, g.region_code, g.org_id, r.name AS region_name, o.name AS org_name, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM gate_entries e WHERE e.gate_id = g.id AND e.day = $1) AS today_entries, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM gate_entries e WHERE e.gate_id = g.id AND e.day = $1 AND e.fever = 1) AS today_fevers, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM gate_alerts a WHERE a.gate_id = g.id AND a.status = 'open') AS open_alerts";

const GATE_FROM: &str = "FROM gates g LEFT JOIN regions r ON r.code = g.region_code LEFT JOIN orgs o ON o.id = g.org_id";

fn gate_from_row(actor: &Actor, r: &sqlx::any::AnyRow) -> Result<Gate, sqlx::Error> {
    let org_id: Option<i64> = r.try_get("org_id")?;
    Ok(Gate {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: if org_id.is_some() {
            "institution"
        } else {
            "community"
        }
        .to_string(),
        kind_label: if org_id.is_some() {
            "机构卡口"
        } else {
            "村（社区）卡口"
        }
        .to_string(),
        region_code: r.try_get("region_code")?,
        region_name: r
            .try_get::<Option<String>, _>("region_name")?
            .unwrap_or_default(),
        org_id,
        org_name: r
            .try_get::<Option<String>, _>("org_name")?
            .unwrap_or_default(),
        today_entries: r.try_get("today_entries")?,
        today_fevers: r.try_get("today_fevers")?,
        open_alerts: r.try_get("open_alerts")?,
        can_write: may_write(actor, org_id),
    })
}

/// May the actor record at (and acknowledge alerts of) a gate of this kind? An institution's
/// gate follows [`institutions::may_write`]; a community gate needs `ReportsSubmit` and is
/// never written by an institution reporter.
pub fn may_write(actor: &Actor, org_id: Option<i64>) -> bool {
    match org_id {
        Some(o) => institutions::may_write(actor, o),
        None => {
            actor.is_operator()
                || (actor.can(Permission::ReportsSubmit)
                    && !actor.roles.has_role(Role::InstitutionReporter))
        }
    }
}

/// The gate `id` if inside the actor's scope (else not found).
pub async fn get_gate(state: &AppState, actor: &Actor, id: i64) -> AppResult<Gate> {
    actor.require(Permission::ReportsRead)?;
    let sql = format!("SELECT {GATE_COLS} {GATE_FROM} WHERE g.id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(today_str(state))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let gate = gate_from_row(actor, &row)?;
    let code = RegionCode::parse(&gate.region_code).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    Ok(gate)
}

async fn gate_for_write(state: &AppState, actor: &Actor, id: i64) -> AppResult<Gate> {
    let gate = get_gate(state, actor, id).await?;
    if !gate.can_write {
        return Err(AppError::forbidden());
    }
    Ok(gate)
}

/// Gates in the actor's scope (optionally one region of it), by region then name.
pub async fn list_gates(
    state: &AppState,
    actor: &Actor,
    region: Option<&str>,
) -> AppResult<Vec<Gate>> {
    actor.require(Permission::ReportsRead)?;
    let (lo, hi) = match region.map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => {
            let code = RegionCode::parse(r).map_err(|_| AppError::not_found())?;
            actor.check_region(&code)?;
            code.scope_bounds()
        }
        None => actor.scope_bounds(),
    };
    let sql = format!(
        "SELECT {GATE_COLS} {GATE_FROM} WHERE g.region_code >= $2 AND g.region_code < $3 \
         ORDER BY g.region_code, g.org_id, g.name, g.id LIMIT 2000"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(today_str(state))
        .bind(lo)
        .bind(hi)
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows
        .iter()
        .map(|r| gate_from_row(actor, r))
        .collect::<Result<_, _>>()?)
}

/// Create a gate under a village or community (its community worker, township staff,
/// officials) or for an institution (its own staff, or staff above it).
pub async fn create_gate(state: &AppState, actor: &Actor, input: &NewGate) -> AppResult<Gate> {
    actor.require(Permission::ReportsSubmit)?;
    let name = text("gate_name", &input.name, 50, true)?;
    let region = input
        .region_code
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let (region_code, org_id) = match (region, input.org_id) {
        (Some(r), None) => {
            let code = regions::parse_code("region_code", r).map_err(relabel)?;
            actor.check_region(&code)?;
            if code.level() != RegionLevel::Village {
                return Err(ferr(
                    ErrorCode::Validation,
                    "region_code",
                    "卡口应设在村（社区）一级（12 位区划代码）",
                ));
            }
            if regions::find(state, code.as_str()).await?.is_none() {
                return Err(ferr(
                    ErrorCode::UnknownRegion,
                    "region_code",
                    "区划代码不存在",
                ));
            }
            if !may_write(actor, None) {
                return Err(AppError::forbidden());
            }
            (code.to_string(), None)
        }
        (None, Some(o)) => {
            let org = orgs::get(state, actor, o).await?;
            if !institutions::is_institution_kind(&org.kind) {
                return Err(ferr(
                    ErrorCode::Validation,
                    "org_id",
                    "只能为民政服务机构设卡口",
                ));
            }
            if !may_write(actor, Some(org.id)) {
                return Err(AppError::forbidden());
            }
            (org.region_code, Some(org.id))
        }
        _ => {
            return Err(ferr(
                ErrorCode::Validation,
                "region_code",
                "请选择村（社区）或机构，二者只能选一",
            ));
        }
    };
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let dup: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM gates WHERE region_code = $1 AND COALESCE(org_id, 0) = $2 AND name = $3",
    )
    .bind(&region_code)
    .bind(org_id.unwrap_or(0))
    .bind(&name)
    .fetch_optional(w.conn())
    .await?;
    if dup.is_some() {
        return Err(ferr(ErrorCode::Conflict, "gate_name", "该处已有同名卡口"));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO gates (region_code, org_id, name, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(&region_code)
    .bind(org_id)
    .bind(&name)
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
            action: "gate.create",
            object_type: "gate",
            object_id: id.to_string(),
            region_code: region_code.clone(),
            outcome: "success",
            detail: json!({"name": {"before": null, "after": name}, "org_id": org_id}),
        },
    )
    .await?;
    w.commit().await?;
    get_gate(state, actor, id).await
}

// ---------------------------------------------------------------------------------------------
// Entries

/// Body of `POST /api/v1/gates/{id}/entries`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct EntryInput {
    /// Full name (stored; only ever shown masked).
    pub name: String,
    /// Phone (stored encrypted; only ever shown masked).
    pub phone: String,
    /// Where the person comes from (来自何处).
    pub from: String,
    /// Why (事由).
    pub reason: String,
    /// `in` (default) or `out`.
    #[serde(default)]
    pub direction: Option<String>,
    /// ℃ with one decimal, 34.0–43.0.
    pub temperature: f64,
    /// Optional: link the entry to the person record holding this ID number (in the caller's
    /// scope; needs `persons.read`). Not stored with the entry.
    #[serde(default)]
    pub id_number: Option<String>,
}

/// One entry, the person masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    pub id: i64,
    pub gate_id: i64,
    pub name_masked: String,
    pub phone_masked: String,
    pub from: String,
    pub reason: String,
    /// `in` or `out`.
    pub direction: String,
    pub direction_label: String,
    /// ℃.
    pub temperature: f64,
    /// At or above 37.3 ℃.
    pub fever: bool,
    /// The linked person record, if any.
    pub person_id: Option<i64>,
    /// The fever alert this entry raised.
    pub alert_id: Option<i64>,
    /// UTC, RFC 3339.
    pub entered_at: String,
    /// Beijing date.
    pub day: String,
    pub recorded_by: String,
}

/// A gate's entries of one day with the counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntriesDay {
    pub gate: Gate,
    pub date: String,
    pub count: i64,
    pub in_count: i64,
    pub out_count: i64,
    pub fevers: i64,
    /// Newest first (at most 2000; the counts cover the whole day).
    pub entries: Vec<EntryView>,
}

fn parse_direction(s: Option<&str>) -> AppResult<&'static str> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok("in"),
        Some(d) => DIRECTIONS
            .iter()
            .find(|(k, l)| *k == d || *l == d)
            .map(|(k, _)| *k)
            .ok_or_else(|| {
                ferr(
                    ErrorCode::Validation,
                    "direction",
                    "应为 in（进）或 out（出）",
                )
            }),
    }
}

/// A validated entry, before it is sealed and stored.
struct CheckedEntry {
    name: String,
    phone: String,
    from: String,
    reason: String,
    direction: &'static str,
    temp: i64,
}

fn check_entry(input: &EntryInput) -> AppResult<CheckedEntry> {
    let name = text("name", &input.name, 50, true)?;
    let phone = people::normalise_phone(&input.phone)
        .map_err(|m| ferr(ErrorCode::Validation, "phone", m))?
        .ok_or_else(|| ferr(ErrorCode::Validation, "phone", "不能为空"))?;
    let from = text("from", &input.from, 100, true)?;
    let reason = text("reason", &input.reason, 200, true)?;
    let direction = parse_direction(input.direction.as_deref())?;
    let temp = check_temperature(input.temperature)?;
    Ok(CheckedEntry {
        name,
        phone,
        from,
        reason,
        direction,
        temp,
    })
}

/// Who a fever at a gate is addressed to: `(region_code, unit)` of each notification row.
async fn recipients(conn: &mut AnyConnection, gate: &Gate) -> AppResult<Vec<(String, String)>> {
    if let Some(org) = gate.org_id {
        // The institution's users, as a group (the unit the notification list matches).
        return Ok(vec![(gate.region_code.clone(), format!("org:{org}"))]);
    }
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, roles FROM users WHERE scope = $1 AND disabled = 0 ORDER BY id")
            .bind(&gate.region_code)
            .fetch_all(&mut *conn)
            .await?;
    let workers: Vec<(String, String)> = rows
        .into_iter()
        .filter(|(_, roles)| {
            RoleSet::parse_list(roles).is_ok_and(|r| r.has_role(Role::CommunityWorker))
        })
        .map(|(id, _)| (gate.region_code.clone(), format!("user:{id}")))
        .collect();
    if !workers.is_empty() {
        return Ok(workers);
    }
    // No community worker on record: the township must not miss it.
    let township = RegionCode::parse(&gate.region_code)
        .ok()
        .and_then(|c| c.prefix_at(RegionLevel::Township))
        .map(|c| c.to_string())
        .unwrap_or_else(|| gate.region_code.clone());
    Ok(vec![(township.clone(), township)])
}

/// Record a visitor at a gate. A fever opens an alert and queues its notifications in the same
/// transaction.
pub async fn add_entry(
    state: &AppState,
    actor: &Actor,
    gate_id: i64,
    input: &EntryInput,
) -> AppResult<EntryView> {
    let gate = gate_for_write(state, actor, gate_id).await?;
    let c = check_entry(input)?;
    let person_id = match input
        .id_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(n) => match people::find_by_id_number(state, actor, n).await {
            Ok(p) => Some(p.id),
            // Not on record in the caller's scope: the entry is kept without a link.
            Err(e) if e.code == ErrorCode::NotFound => None,
            Err(e) => return Err(relabel(e)),
        },
    };
    let fever = c.temp >= FEVER_TENTHS;
    let sealed = people::seal(state, None, Some(&c.phone));
    let now = state.now_ms();
    let day = today_str(state);
    let name_masked = mask_name(&c.name);
    let mut w = state.db.begin_write().await?;
    let eid: i64 = sqlx::query_scalar(
        "INSERT INTO gate_entries (gate_id, region_code, person_name, phone_enc, phone_index, \
         phone_masked, origin, reason, direction, temp_tenths, fever, person_id, entered_at, day, \
         recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         RETURNING id",
    )
    .bind(gate.id)
    .bind(&gate.region_code)
    .bind(&c.name)
    .bind(sealed.phone_enc.clone())
    .bind(sealed.phone_index.clone())
    .bind(&sealed.phone_masked)
    .bind(&c.from)
    .bind(&c.reason)
    .bind(c.direction)
    .bind(c.temp)
    .bind(i64::from(fever))
    .bind(person_id)
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
            action: "gate.entry",
            object_type: "gate_entry",
            object_id: eid.to_string(),
            region_code: gate.region_code.clone(),
            outcome: "success",
            detail: json!({"gate_id": gate.id,
                "name": {"before": null, "after": name_masked},
                "phone": {"before": null, "after": sealed.phone_masked},
                "from": {"before": null, "after": c.from},
                "reason": {"before": null, "after": c.reason},
                "direction": {"before": null, "after": c.direction},
                "temperature": {"before": null, "after": institutions::celsius(c.temp)},
                "fever": fever, "person_id": person_id}),
        },
    )
    .await?;
    let alert_id = if fever {
        let targets = recipients(w.conn(), &gate).await?;
        let aid: i64 = sqlx::query_scalar(
            "INSERT INTO gate_alerts (entry_id, gate_id, region_code, org_id, temp_tenths, status, \
             disposition, note, notified, acked_by, acked_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'open', NULL, '', $6, NULL, NULL, $7) RETURNING id",
        )
        .bind(eid)
        .bind(gate.id)
        .bind(&gate.region_code)
        .bind(gate.org_id)
        .bind(c.temp)
        .bind(targets.len() as i64)
        .bind(now)
        .fetch_one(w.conn())
        .await?;
        let place = if gate.org_name.is_empty() {
            format!("{}{}", gate.region_name, gate.name)
        } else {
            format!("{}{}", gate.org_name, gate.name)
        };
        let title = format!("发热预警：{place}");
        let when = backstop_core::clock::format_beijing(backstop_core::clock::from_millis(now));
        let body = format!(
            "{when} {place}登记到发热人员 {name_masked}（{:.1} ℃，来自{}，{}），请立即到场处置，并在系统中登记处置结果（预警编号 {aid}）。",
            institutions::celsius(c.temp),
            c.from,
            label_of(&DIRECTIONS, c.direction),
        );
        for (region, unit) in &targets {
            sqlx::query(
                "INSERT INTO notifications (region_code, unit, kind, title, body, created_at) \
                 VALUES ($1, $2, 'entrance_fever', $3, $4, $5)",
            )
            .bind(region)
            .bind(unit)
            .bind(&title)
            .bind(&body)
            .bind(now)
            .execute(w.conn())
            .await?;
        }
        audit::append(
            w.conn(),
            state.db.backend(),
            now,
            &who(actor),
            Entry {
                action: "entrance_alert.raise",
                object_type: "entrance_alert",
                object_id: aid.to_string(),
                region_code: gate.region_code.clone(),
                outcome: "success",
                detail: json!({"gate_id": gate.id, "entry_id": eid,
                    "status": {"before": null, "after": "open"},
                    "temperature": institutions::celsius(c.temp),
                    "notified": targets.iter().map(|(_, u)| u.as_str()).collect::<Vec<_>>()}),
            },
        )
        .await?;
        Some(aid)
    } else {
        None
    };
    w.commit().await?;
    Ok(EntryView {
        id: eid,
        gate_id: gate.id,
        name_masked,
        phone_masked: sealed.phone_masked,
        from: c.from,
        reason: c.reason,
        direction: c.direction.to_string(),
        direction_label: label_of(&DIRECTIONS, c.direction).to_string(),
        temperature: institutions::celsius(c.temp),
        fever,
        person_id,
        alert_id,
        entered_at: rfc3339(now),
        day,
        recorded_by: actor.username.clone(),
    })
}

fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<EntryView, sqlx::Error> {
    let direction: String = r.try_get("direction")?;
    let temp: i64 = r.try_get("temp_tenths")?;
    Ok(EntryView {
        id: r.try_get("id")?,
        gate_id: r.try_get("gate_id")?,
        name_masked: mask_name(&r.try_get::<String, _>("person_name")?),
        phone_masked: r.try_get("phone_masked")?,
        from: r.try_get("origin")?,
        reason: r.try_get("reason")?,
        direction_label: label_of(&DIRECTIONS, &direction).to_string(),
        direction,
        temperature: institutions::celsius(temp),
        fever: r.try_get::<i64, _>("fever")? != 0,
        person_id: r.try_get("person_id")?,
        alert_id: r.try_get("alert_id")?,
        entered_at: rfc3339(r.try_get("entered_at")?),
        day: r.try_get("day")?,
        recorded_by: r.try_get("recorded_by")?,
    })
}

/// A gate's entries of one day (default today, Beijing), newest first, with the counts.
pub async fn list_entries(
    state: &AppState,
    actor: &Actor,
    gate_id: i64,
    date: Option<&str>,
) -> AppResult<EntriesDay> {
    let gate = get_gate(state, actor, gate_id).await?;
    let date = institutions::parse_day(state, "date", date).map_err(relabel)?;
    let rows = sqlx::query(
        "SELECT e.id, e.gate_id, e.person_name, e.phone_masked, e.origin, e.reason, e.direction, \
         e.temp_tenths, e.fever, e.person_id, a.id AS alert_id, e.entered_at, e.day, e.recorded_by \
         FROM gate_entries e LEFT JOIN gate_alerts a ON a.entry_id = e.id \
         WHERE e.gate_id = $1 AND e.day = $2 ORDER BY e.id DESC LIMIT 2000",
    )
    .bind(gate.id)
    .bind(&date)
    .fetch_all(state.db.pool())
    .await?;
    let entries = rows
        .iter()
        .map(entry_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN direction = 'in' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(fever), 0) AS BIGINT) FROM gate_entries WHERE gate_id = $1 AND day = $2",
    )
    .bind(gate.id)
    .bind(&date)
    .fetch_one(state.db.pool())
    .await?;
    Ok(EntriesDay {
        gate,
        date,
        count: counts.0,
        in_count: counts.1,
        out_count: counts.0 - counts.1,
        fevers: counts.2,
        entries,
    })
}

// ---------------------------------------------------------------------------------------------
// Fever alerts

/// A fever alert, the person masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Alert {
    pub id: i64,
    pub gate_id: i64,
    pub gate_name: String,
    pub entry_id: i64,
    pub region_code: String,
    pub org_id: Option<i64>,
    pub name_masked: String,
    pub phone_masked: String,
    pub from: String,
    /// ℃.
    pub temperature: f64,
    /// `open` or `closed`.
    pub status: String,
    /// Set when acknowledged.
    pub disposition: Option<String>,
    pub disposition_label: String,
    pub note: String,
    /// Notification rows queued when it was raised.
    pub notified: i64,
    pub acked_by: Option<String>,
    pub acked_at: Option<String>,
    pub created_at: String,
    /// Whether the caller may acknowledge it.
    pub can_ack: bool,
    /// Beijing time it was raised, for pages.
    #[serde(skip)]
    pub shown_at: String,
}

impl Alert {
    /// The dispositions to choose from when acknowledging (for pages).
    pub fn dispositions(&self) -> &'static [(&'static str, &'static str)] {
        &DISPOSITIONS
    }
}

/// Body of `POST /api/v1/entrance-alerts/{id}/ack`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AckInput {
    /// `fever_clinic`, `remeasured_normal`, `home_observation`, `refused_entry` or `other`
    /// (which needs a note).
    pub disposition: String,
    #[serde(default)]
    pub note: String,
}

const ALERT_SQL: &str = "SELECT a.id, a.gate_id, g.name AS gate_name, a.entry_id, a.region_code, a.org_id, \
    a.temp_tenths, a.status, a.disposition, a.note, a.notified, a.acked_by, a.acked_at, a.created_at, \
    e.person_name, e.phone_masked, e.origin \
    FROM gate_alerts a JOIN gates g ON g.id = a.gate_id JOIN gate_entries e ON e.id = a.entry_id";

fn alert_from_row(actor: &Actor, r: &sqlx::any::AnyRow) -> Result<Alert, sqlx::Error> {
    let org_id: Option<i64> = r.try_get("org_id")?;
    let status: String = r.try_get("status")?;
    let disposition: Option<String> = r.try_get("disposition")?;
    let created_at: i64 = r.try_get("created_at")?;
    Ok(Alert {
        id: r.try_get("id")?,
        gate_id: r.try_get("gate_id")?,
        gate_name: r.try_get("gate_name")?,
        entry_id: r.try_get("entry_id")?,
        region_code: r.try_get("region_code")?,
        org_id,
        name_masked: mask_name(&r.try_get::<String, _>("person_name")?),
        phone_masked: r.try_get("phone_masked")?,
        from: r.try_get("origin")?,
        temperature: institutions::celsius(r.try_get("temp_tenths")?),
        can_ack: status == "open" && may_write(actor, org_id),
        status,
        disposition_label: disposition
            .as_deref()
            .map(|d| label_of(&DISPOSITIONS, d))
            .unwrap_or("")
            .to_string(),
        disposition,
        note: r.try_get("note")?,
        notified: r.try_get("notified")?,
        acked_by: r.try_get("acked_by")?,
        acked_at: r.try_get::<Option<i64>, _>("acked_at")?.map(rfc3339),
        created_at: rfc3339(created_at),
        shown_at: backstop_core::clock::format_beijing(backstop_core::clock::from_millis(
            created_at,
        )),
    })
}

/// One alert in scope.
pub async fn get_alert(state: &AppState, actor: &Actor, id: i64) -> AppResult<Alert> {
    actor.require(Permission::ReportsRead)?;
    let sql = format!("{ALERT_SQL} WHERE a.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let a = alert_from_row(actor, &row)?;
    let code = RegionCode::parse(&a.region_code).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    Ok(a)
}

/// Alerts in scope, newest first: optionally one status (`open`, `closed`) or one gate.
pub async fn list_alerts(
    state: &AppState,
    actor: &Actor,
    status: Option<&str>,
    gate_id: Option<i64>,
) -> AppResult<Vec<Alert>> {
    actor.require(Permission::ReportsRead)?;
    let status = status.map(str::trim).filter(|s| !s.is_empty());
    if let Some(s) = status
        && !["open", "closed"].contains(&s)
    {
        return Err(ferr(ErrorCode::Validation, "status", "应为 open 或 closed"));
    }
    let (lo, hi) = actor.scope_bounds();
    let mut sql = format!("{ALERT_SQL} WHERE a.region_code >= $1 AND a.region_code < $2");
    let mut n = 2;
    if status.is_some() {
        n += 1;
        sql.push_str(&format!(" AND a.status = ${n}"));
    }
    if gate_id.is_some() {
        n += 1;
        sql.push_str(&format!(" AND a.gate_id = ${n}"));
    }
    sql.push_str(" ORDER BY a.id DESC LIMIT 500");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(lo).bind(hi);
    if let Some(s) = status {
        q = q.bind(s.to_string());
    }
    if let Some(g) = gate_id {
        q = q.bind(g);
    }
    let rows = q.fetch_all(state.db.pool()).await?;
    Ok(rows
        .iter()
        .map(|r| alert_from_row(actor, r))
        .collect::<Result<_, _>>()?)
}

/// The open alerts the actor is expected to act on (its home page): in scope and
/// acknowledgeable by it; empty for a role that does not read reports.
pub async fn alerts_to_handle(state: &AppState, actor: &Actor) -> AppResult<Vec<Alert>> {
    if !actor.can(Permission::ReportsRead) {
        return Ok(Vec::new());
    }
    Ok(list_alerts(state, actor, Some("open"), None)
        .await?
        .into_iter()
        .filter(|a| a.can_ack)
        .take(20)
        .collect())
}

/// Acknowledge an open alert with its disposition; it is closed and the change audited.
pub async fn ack_alert(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &AckInput,
) -> AppResult<Alert> {
    let a = get_alert(state, actor, id).await?;
    if !may_write(actor, a.org_id) {
        return Err(AppError::forbidden());
    }
    let disposition = DISPOSITIONS
        .iter()
        .map(|(k, _)| *k)
        .find(|k| *k == input.disposition.trim())
        .ok_or_else(|| ferr(ErrorCode::Validation, "disposition", "请选择处置结果"))?;
    let note = text("note", &input.note, 500, false)?;
    if disposition == "other" && note.is_empty() {
        return Err(ferr(
            ErrorCode::Validation,
            "note",
            "选择“其他”时请说明处置情况",
        ));
    }
    if a.status != "open" {
        return Err(AppError::msg(ErrorCode::Conflict, "该预警已处置"));
    }
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let changed = sqlx::query(
        "UPDATE gate_alerts SET status = 'closed', disposition = $1, note = $2, acked_by = $3, \
         acked_at = $4 WHERE id = $5 AND status = 'open'",
    )
    .bind(disposition)
    .bind(&note)
    .bind(&actor.username)
    .bind(now)
    .bind(id)
    .execute(w.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(AppError::msg(ErrorCode::Conflict, "该预警已处置"));
    }
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &who(actor),
        Entry {
            action: "entrance_alert.ack",
            object_type: "entrance_alert",
            object_id: id.to_string(),
            region_code: a.region_code.clone(),
            outcome: "success",
            detail: json!({"gate_id": a.gate_id,
                "status": {"before": "open", "after": "closed"},
                "disposition": {"before": null, "after": disposition},
                "note": {"before": "", "after": note}}),
        },
    )
    .await?;
    w.commit().await?;
    get_alert(state, actor, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperatures_and_directions() {
        assert_eq!(check_temperature(36.5).ok(), Some(365));
        assert_eq!(check_temperature(34.0).ok(), Some(340));
        assert_eq!(check_temperature(43.0).ok(), Some(430));
        let e = check_temperature(33.9).err().map(|e| e.message);
        assert_eq!(e.as_deref(), Some("体温：应在 34.0–43.0 ℃ 之间（如 36.5）"));
        assert!(check_temperature(43.1).is_err());
        assert!(check_temperature(f64::NAN).is_err());
        assert_eq!(parse_temperature_text(" 37,3 ").ok(), Some(37.3));
        assert!(parse_temperature_text("abc").is_err());
        assert!(parse_temperature_text("").is_err());
        assert_eq!(parse_direction(None).ok(), Some("in"));
        assert_eq!(parse_direction(Some("出")).ok(), Some("out"));
        assert!(parse_direction(Some("x")).is_err());
        assert_eq!(check_temperature(37.3).ok(), Some(FEVER_TENTHS));
    }
}
