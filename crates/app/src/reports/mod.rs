//! Reports (日报、即报): versioned report forms, submissions from villages and institutions
//! with idempotency keys, corrections until the level above locks the period, live rollups
//! at every level from village to nation, completeness ("who has not reported") and reminders
//! at the deadline (催报).
//!
//! Rollups are incremental aggregates kept in the same transaction as each submission: for
//! the unit's region and every region above it (and the nation, code "0"), a count row and
//! one sum row per summable field. A summary is therefore a handful of primary-key reads,
//! current the moment the submission commits; nothing is rebuilt in batch (DESIGN.md §7).

pub mod dashboard;
pub mod editor;
pub mod form;
pub mod incidents;
pub mod pages;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel, Scope};
use backstop_core::role::{Permission, Role};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};

use self::form::{Form, FormSpec, Period, UnitType};
use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, FieldError};
use crate::state::AppState;
use backstop_store::{Arg, Script, repeat_list};

const NATION: &str = "0";

// ---------------------------------------------------------------------------------------
// Forms

fn form_from_row(r: &sqlx::any::AnyRow) -> Result<Form, sqlx::Error> {
    let spec: String = r.try_get("spec")?;
    let spec: FormSpec = serde_json::from_str(&spec).unwrap_or_default();
    let period: String = r.try_get("period")?;
    let unit: String = r.try_get("unit_type")?;
    let kinds: String = r.try_get("org_kinds")?;
    let deadline: Option<i64> = r.try_get("deadline_minutes")?;
    Ok(Form {
        key: r.try_get("template_key")?,
        version: r.try_get("version")?,
        name: r.try_get("name")?,
        period: Period::parse(&period).unwrap_or(Period::Daily),
        deadline: deadline.map(|m| format!("{:02}:{:02}", m / 60, m % 60)),
        unit_type: UnitType::parse(&unit).unwrap_or(UnitType::Village),
        org_kinds: kinds
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        scope: r.try_get("scope")?,
        spec,
    })
}

const FORM_COLS: &str =
    "template_key, version, name, period, deadline_minutes, unit_type, org_kinds, scope, spec";

async fn insert_form(
    conn: &mut AnyConnection,
    f: &Form,
    builtin: bool,
    now: i64,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO report_templates (template_key, version, name, period, deadline_minutes, unit_type, \
         org_kinds, scope, spec, builtin, created_at, created_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    )
    .bind(&f.key)
    .bind(f.version)
    .bind(&f.name)
    .bind(f.period.as_str())
    .bind(f.deadline_minutes())
    .bind(f.unit_type.as_str())
    .bind(f.org_kinds.join(","))
    .bind(&f.scope)
    .bind(serde_json::to_string(&f.spec).unwrap_or_default())
    .bind(i64::from(builtin))
    .bind(now)
    .bind(by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Install the built-in forms (version 1) if absent. Idempotent.
pub async fn ensure_builtin_forms(state: &AppState) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    for f in form::builtin_forms() {
        let have: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM report_templates WHERE template_key = $1 LIMIT 1",
        )
        .bind(&f.key)
        .fetch_optional(w.conn())
        .await?;
        if have.is_none() {
            insert_form(w.conn(), &f, true, state.now_ms(), "system").await?;
        }
    }
    w.commit().await?;
    Ok(())
}

fn require_reports(actor: &Actor) -> AppResult<()> {
    if actor.can(Permission::ReportsRead) || actor.can(Permission::ReportsSubmit) {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// The latest version of every form.
pub async fn list_forms(state: &AppState, actor: &Actor) -> AppResult<Vec<Form>> {
    require_reports(actor)?;
    let sql = format!(
        "SELECT {FORM_COLS} FROM report_templates t WHERE version = \
         (SELECT MAX(version) FROM report_templates u WHERE u.template_key = t.template_key) ORDER BY template_key"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows.iter().map(form_from_row).collect::<Result<_, _>>()?)
}

/// One form: the latest version, or a given one.
pub async fn get_form(
    state: &AppState,
    actor: &Actor,
    key: &str,
    version: Option<i64>,
) -> AppResult<Form> {
    require_reports(actor)?;
    load_form(state, key, version)
        .await?
        .ok_or_else(AppError::not_found)
}

/// The latest version of each form, kept in memory for a few seconds: every submission needs
/// it, and forms change rarely. `save_form` clears it; another process's change (a second
/// server on the same PostgreSQL) is seen within `FormCache::TTL`. Only found forms are kept.
#[derive(Default)]
pub struct FormCache(
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Form)>>,
);

impl FormCache {
    const TTL: std::time::Duration = std::time::Duration::from_secs(5);

    fn get(&self, key: &str) -> Option<Form> {
        let map = self.0.lock().ok()?;
        let (at, form) = map.get(key)?;
        (at.elapsed() < Self::TTL).then(|| form.clone())
    }

    fn put(&self, form: &Form) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(form.key.clone(), (std::time::Instant::now(), form.clone()));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }
}

pub(crate) async fn load_form(
    state: &AppState,
    key: &str,
    version: Option<i64>,
) -> AppResult<Option<Form>> {
    if version.is_none()
        && let Some(hit) = state.forms.get(key)
    {
        return Ok(Some(hit));
    }
    let sql = match version {
        Some(_) => format!(
            "SELECT {FORM_COLS} FROM report_templates WHERE template_key = $1 AND version = $2"
        ),
        None => format!(
            "SELECT {FORM_COLS} FROM report_templates WHERE template_key = $1 ORDER BY version DESC LIMIT 1"
        ),
    };
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key);
    if let Some(v) = version {
        q = q.bind(v);
    }
    let row = q.fetch_optional(state.db.pool()).await?;
    let form = row.as_ref().map(form_from_row).transpose()?;
    if let (None, Some(f)) = (version, form.as_ref()) {
        state.forms.put(f);
    }
    Ok(form)
}

/// Save a form: a new key starts at version 1; a change to an existing key makes a new
/// version (old submissions keep theirs).
pub async fn save_form(state: &AppState, actor: &Actor, input: &Form) -> AppResult<Form> {
    actor.require(Permission::ReportsManage)?;
    let key = input.key.trim();
    if key.is_empty()
        || key.len() > 40
        || !key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "key",
            "只能用小写字母、数字和下划线，最多 40 个字符",
        ));
    }
    let name = crate::kernel::error::text_field("name", &input.name, 100, true)?;
    let scope = Scope::parse(&input.scope)
        .map_err(|e| AppError::field(ErrorCode::InvalidRegionCode, "scope", e.to_string()))?;
    if !actor.scope.contains_scope(&scope) {
        return Err(AppError::not_found());
    }
    if input.period != Period::Immediate && input.deadline_minutes().is_none() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "deadline",
            "应为 HH:MM",
        ));
    }
    if input.spec.fields.is_empty() || input.spec.fields.len() > 100 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "fields",
            "字段数应为 1–100",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for f in &input.spec.fields {
        if f.key.is_empty() || f.key.len() > 40 || !seen.insert(f.key.as_str()) {
            return Err(AppError::field(
                ErrorCode::Validation,
                "fields",
                format!("字段标识“{}”为空、过长或重复", f.key),
            ));
        }
    }
    for r in &input.spec.rules {
        if input.field(&r.left).is_none() || !["<=", "<", ">=", ">", "=="].contains(&r.op.as_str())
        {
            return Err(AppError::field(
                ErrorCode::Validation,
                "rules",
                format!("规则“{}”无效", r.message),
            ));
        }
    }
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let current: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM report_templates WHERE template_key = $1")
            .bind(key)
            .fetch_one(w.conn())
            .await?;
    let mut f = input.clone();
    f.key = key.to_string();
    f.name = name;
    f.scope = scope.as_str().to_string();
    f.version = current.unwrap_or(0) + 1;
    insert_form(w.conn(), &f, false, now, &actor.username).await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: if f.version == 1 { "report_form.create" } else { "report_form.version" },
            object_type: "report_form",
            object_id: format!("{}@{}", f.key, f.version),
            region_code: f.scope.clone(),
            outcome: "success",
            detail: json!({"version": {"before": current, "after": f.version}, "fields": f.spec.fields.len()}),
        },
    )
    .await?;
    w.commit().await?;
    state.forms.clear();
    Ok(f)
}

// ---------------------------------------------------------------------------------------
// Periods and deadlines

/// Parse and check a period string for a form's period type; `today` is Beijing's date.
pub fn parse_period(p: Period, s: &str, today: NaiveDate) -> Result<(String, NaiveDate), String> {
    let s = s.trim();
    let (start, end) = match p {
        Period::Daily | Period::Immediate => {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| "日期应为 YYYY-MM-DD".to_string())?;
            (d, d)
        }
        Period::Weekly => {
            let (y, w) = s.split_once("-W").ok_or("周应为 YYYY-Www，例如 2020-W06")?;
            let (y, w): (i32, u32) = (
                y.parse().map_err(|_| "周格式错误")?,
                w.parse().map_err(|_| "周格式错误")?,
            );
            let d = NaiveDate::from_isoywd_opt(y, w, chrono::Weekday::Mon).ok_or("不存在这一周")?;
            (d, d + chrono::Duration::days(6))
        }
        Period::Monthly => {
            let d = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
                .map_err(|_| "月份应为 YYYY-MM")?;
            let next = if d.month() == 12 {
                NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
            }
            .ok_or("月份错误")?;
            (d, next - chrono::Duration::days(1))
        }
    };
    if start > today {
        return Err("不能填报未来的时段".to_string());
    }
    if (today - start).num_days() > 400 {
        return Err("时段过早（超过 400 天）".to_string());
    }
    let canonical = match p {
        Period::Daily | Period::Immediate => start.format("%Y-%m-%d").to_string(),
        Period::Weekly => format!(
            "{}-W{:02}",
            start.iso_week().year(),
            start.iso_week().week()
        ),
        Period::Monthly => start.format("%Y-%m").to_string(),
    };
    Ok((canonical, end))
}

/// The deadline of a period in Unix ms: daily on the day at the deadline time; weekly and
/// monthly on the day after the period ends, at the deadline time (Beijing).
pub fn deadline_ms(form: &Form, period_end: NaiveDate) -> Option<i64> {
    let minutes = form.deadline_minutes()?;
    let day = match form.period {
        Period::Daily => period_end,
        Period::Weekly | Period::Monthly => period_end.succ_opt()?,
        Period::Immediate => return None,
    };
    let local = day.and_hms_opt(0, 0, 0)? + chrono::Duration::minutes(minutes);
    Some(
        (local - chrono::Duration::hours(8))
            .and_utc()
            .timestamp_millis(),
    )
}

pub(crate) fn today(state: &AppState) -> NaiveDate {
    backstop_core::clock::beijing_date(state.clock.now())
}

// ---------------------------------------------------------------------------------------
// Units

/// The reporting unit of a submission.
#[derive(Debug, Clone)]
struct Unit {
    /// Stored form: region code or "org:ID".
    key: String,
    name: String,
    region: RegionCode,
    /// A 12-digit code taken literally although it reads like a padded code of a level above
    /// (see `resolve_unit`): if no such village exists, the answer is the village-code error.
    literal: bool,
}

async fn resolve_unit(
    state: &AppState,
    actor: &Actor,
    form: &Form,
    unit: &Value,
) -> AppResult<Unit> {
    let bad = |m: &str| AppError::field(ErrorCode::Validation, "unit", m.to_string());
    let as_org = match unit {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().strip_prefix("org:").and_then(|x| x.parse().ok()),
        _ => None,
    };
    let as_region = unit
        .as_str()
        .map(str::trim)
        .filter(|s| !s.starts_with("org:"));
    let u = match (form.unit_type, as_org, as_region) {
        (UnitType::Org | UnitType::Any, Some(id), _) => {
            let org = crate::orgs::get(state, actor, id).await?;
            if form.unit_type == UnitType::Org && !form.org_kinds.contains(&org.kind) {
                return Err(bad("该机构不需要填报此表"));
            }
            let region = RegionCode::parse(&org.region_code).map_err(|_| AppError::not_found())?;
            if actor.roles.roles() == [Role::InstitutionReporter]
                && actor.org_id.is_some()
                && actor.org_id != Some(id)
            {
                return Err(AppError::not_found());
            }
            Unit {
                key: format!("org:{id}"),
                name: org.name,
                region,
                literal: false,
            }
        }
        (UnitType::Village | UnitType::Any, None, Some(code)) => {
            let mut region = RegionCode::parse(code).map_err(|_| bad("应为区划代码"))?;
            let mut literal = false;
            if form.unit_type == UnitType::Village
                && region.level() != RegionLevel::Village
                && code.len() == RegionLevel::Village.code_len()
            {
                // The NBS table has placeholder villages whose code reads like a padded code
                // of a level above (350527000000 金门县): the region import keeps them as
                // villages, they are counted as expected, so they must be able to report.
                // Taken literally here; the write's look-up refuses it if no such village.
                region = RegionCode::parse_exact(code).map_err(|_| bad("应为区划代码"))?;
                literal = true;
            }
            actor.check_region(&region)?;
            if form.unit_type == UnitType::Village && region.level() != RegionLevel::Village {
                return Err(bad("此表由村（社区）填报，请填写 12 位村（社区）代码"));
            }
            // Whether the region exists, and its name, are read by the submission's first
            // statement inside the write (`submit`), not by a statement of their own.
            Unit {
                key: region.as_str().to_string(),
                name: String::new(),
                region,
                literal,
            }
        }
        (UnitType::Org, _, _) => return Err(bad("此表由机构填报，请填写机构编号")),
        _ => return Err(bad("此表由村（社区）填报，请填写 12 位村（社区）代码")),
    };
    actor.check_region(&u.region)?;
    let form_scope = Scope::parse(&form.scope).unwrap_or(Scope::National);
    if !form_scope.contains(&u.region) {
        return Err(bad("该单位不在此表的填报范围内"));
    }
    Ok(u)
}

// ---------------------------------------------------------------------------------------
// Submissions

/// Body of `POST /api/v1/reports`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SubmitInput {
    /// Form key, e.g. `village_daily`.
    pub template: String,
    /// A 12-digit village code, or an organisation id, as the form requires.
    #[schema(value_type = Object)]
    pub unit: Value,
    /// `YYYY-MM-DD` (daily, immediate), `YYYY-Www` (weekly), `YYYY-MM` (monthly).
    pub period: String,
    #[schema(value_type = Object)]
    pub values: Value,
}

/// A stored submission.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Submission {
    pub id: i64,
    pub template: String,
    pub template_version: i64,
    pub unit: String,
    pub unit_name: String,
    pub region_code: String,
    pub period: String,
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
    pub late: bool,
    /// UTC, RFC 3339.
    pub submitted_at: String,
    pub submitted_by: String,
    pub corrections: i64,
}

/// What submitting did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Corrected,
    /// A retry with a known idempotency key: the first answer, unchanged.
    Replayed,
}

fn validation_error(problems: Vec<form::FieldProblem>) -> AppError {
    let msg = problems
        .iter()
        .map(|p| p.message.clone())
        .collect::<Vec<_>>()
        .join("；");
    AppError {
        code: ErrorCode::Validation,
        message: msg,
        fields: problems
            .into_iter()
            .map(|p| FieldError {
                field: p.field,
                message: p.message,
            })
            .collect(),
    }
}

/// The regions whose rollups a unit feeds: every level of its region, and the nation.
fn rollup_codes(region: &RegionCode) -> Vec<String> {
    let mut v: Vec<String> = region
        .lineage()
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    v.push(NATION.to_string());
    v
}

/// Add the rollup upserts of one submission to `script`: one multi-row upsert per table for
/// every level at once. Rows are listed province first and the nation last, the same order in
/// every transaction, so concurrent PostgreSQL writers cannot deadlock on them (ADR 0005).
fn push_rollups(
    script: &mut Script,
    form: &Form,
    period: &str,
    region: &RegionCode,
    counts: Option<(i64, i64)>,
    deltas: &[(String, i64)],
) {
    let codes = rollup_codes(region);
    if let Some((received, on_time)) = counts {
        let mut sql = String::from(
            "INSERT INTO report_rollup_counts (template_key, period, code, received, on_time) VALUES ",
        );
        sql.push_str(&repeat_list("(?,?,?,?,?)", codes.len()));
        sql.push_str(
            " ON CONFLICT (template_key, period, code) DO UPDATE SET received = report_rollup_counts.received + excluded.received, \
             on_time = report_rollup_counts.on_time + excluded.on_time",
        );
        let mut args = Vec::with_capacity(codes.len() * 5);
        for code in &codes {
            args.extend([
                Arg::from(&form.key),
                Arg::from(period),
                Arg::from(code.as_str()),
                Arg::Int(received),
                Arg::Int(on_time),
            ]);
        }
        script.push(sql, args);
    }
    let nonzero: Vec<&(String, i64)> = deltas.iter().filter(|(_, d)| *d != 0).collect();
    if nonzero.is_empty() {
        return;
    }
    let mut sql = String::from(
        "INSERT INTO report_rollup_sums (template_key, period, code, field, total) VALUES ",
    );
    sql.push_str(&repeat_list("(?,?,?,?,?)", codes.len() * nonzero.len()));
    sql.push_str(
        " ON CONFLICT (template_key, period, code, field) DO UPDATE SET total = report_rollup_sums.total + excluded.total",
    );
    let mut args = Vec::with_capacity(codes.len() * nonzero.len() * 5);
    for code in &codes {
        for (field, d) in &nonzero {
            args.extend([
                Arg::from(&form.key),
                Arg::from(period),
                Arg::from(code.as_str()),
                Arg::from(field.as_str()),
                Arg::Int(*d),
            ]);
        }
    }
    script.push(sql, args);
}

fn rollup_values(form: &Form, values: &Map<String, Value>) -> Vec<(String, i64)> {
    form.summable()
        .map(|f| {
            (
                f.key.clone(),
                values
                    .get(&f.key)
                    .and_then(|v| form::rollup_value(f, v))
                    .unwrap_or(0),
            )
        })
        .collect()
}

fn submission_from_row(
    r: &sqlx::any::AnyRow,
    unit_name: String,
) -> Result<Submission, sqlx::Error> {
    let body: String = r.try_get("body")?;
    let at: i64 = r.try_get("submitted_at")?;
    Ok(Submission {
        id: r.try_get("id")?,
        template: r.try_get("template_key")?,
        template_version: r.try_get("template_version")?,
        unit: r.try_get("unit")?,
        unit_name,
        region_code: r.try_get("region_code")?,
        period: r.try_get("period")?,
        values: serde_json::from_str(&body).unwrap_or_default(),
        late: r.try_get::<i64, _>("late")? != 0,
        submitted_at: backstop_core::clock::from_millis(at).to_rfc3339(),
        submitted_by: r.try_get("submitted_by")?,
        corrections: r.try_get("corrections")?,
    })
}

const SUB_COLS: &str = "id, template_key, template_version, unit, region_code, period, body, late, submitted_at, \
    submitted_by, corrections";

/// Submit (or correct) a report. With an idempotency key, a retry returns the first answer
/// and never creates a second submission; the key is stored in the same transaction.
///
/// The write is one job of the group commit (SQLite) or its own transaction (PostgreSQL), and
/// on SQLite every statement in it is a round trip to the single writer's worker thread, so it
/// is kept to a few: one read of everything the decision needs (idempotency key, lock, an
/// existing report, the unit region's name), the insert, one script with both rollup upserts
/// and the idempotency record, and the audit entry (ADR 0006).
pub async fn submit(
    state: &AppState,
    actor: &Actor,
    input: &SubmitInput,
    idempotency_key: Option<&str>,
) -> AppResult<(Outcome, Submission)> {
    actor.require(Permission::ReportsSubmit)?;
    let request_hash = crate::kernel::crypto::sha256_hex(
        json!([input.template, input.unit, input.period, input.values])
            .to_string()
            .as_bytes(),
    );
    if let Some(k) = idempotency_key
        && (k.is_empty() || k.len() > 200)
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "Idempotency-Key",
            "长度应为 1–200",
        ));
    }
    let prepared = match prepare_submission(state, actor, input).await {
        Ok(p) => p,
        Err(e) => {
            // A retry is answered with its first answer even if the request would no longer
            // pass (the form changed, the unit left the form's scope, …); a key reused for
            // another body is a conflict.
            if let Some(k) = idempotency_key
                && let Some(prev) = replay(state, actor, k, &request_hash).await?
            {
                return Ok((Outcome::Replayed, prev));
            }
            return Err(e);
        }
    };
    let Prepared {
        form,
        mut unit,
        period,
        values,
        late,
        now,
    } = prepared;
    let body = Value::Object(values.clone()).to_string();
    let st = state.clone();
    let backend = state.db.backend();
    let who = Who::from(actor);
    let actor_name = actor.username.clone();
    let idem = idempotency_key
        .zip(actor.user_id)
        .map(|(k, u)| (u, k.to_string()));
    let job = state.db.write(move |conn| {
        Box::pin(async move {
            let look = look_up(&mut *conn, backend, &form, &unit, &period, idem.as_ref()).await?;
            // A concurrent retry with the same key may have committed since.
            if let Some((hash, response)) = look.idem {
                if hash != request_hash {
                    return Err(AppError::msg(
                        ErrorCode::Conflict,
                        "该 Idempotency-Key 已用于另一份不同的报表",
                    ));
                }
                if let Ok(sub) = serde_json::from_str::<Submission>(&response) {
                    return Ok((Outcome::Replayed, sub));
                }
            }
            if unit_is_region(&unit) {
                unit.name = match look.region_name {
                    Some(n) => n,
                    None if unit.literal => {
                        return Err(AppError::field(
                            ErrorCode::Validation,
                            "unit",
                            "此表由村（社区）填报，请填写 12 位村（社区）代码",
                        ));
                    }
                    None => return Err(AppError::not_found()),
                };
            }
            if look.locked {
                return Err(AppError::msg(
                    ErrorCode::Conflict,
                    "上级已锁定该时段的报表，不能再修改；如需更正请联系上级解锁",
                ));
            }
            let mut script = Script::new();
            let (outcome, sub) = match look.existing {
                Some(existing_id) => {
                    let sql = format!("SELECT {SUB_COLS} FROM report_submissions WHERE id = $1");
                    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(existing_id)
                        .fetch_one(&mut *conn)
                        .await?;
                    let old = submission_from_row(&row, unit.name.clone())?;
                    // Rollups: subtract the old values (of the old version's fields) and add the new.
                    let old_form = if old.template_version == form.version {
                        form.clone()
                    } else {
                        load_form(&st, &form.key, Some(old.template_version))
                            .await?
                            .unwrap_or_else(|| form.clone())
                    };
                    let mut deltas = rollup_values(&form, &values);
                    for (k, v) in rollup_values(&old_form, &old.values) {
                        match deltas.iter_mut().find(|(f, _)| *f == k) {
                            Some(d) => d.1 -= v,
                            None => deltas.push((k, -v)),
                        }
                    }
                    script.push(
                        "UPDATE report_submissions SET body = ?, template_version = ?, updated_at = ?, corrections = corrections + 1, \
                         submitted_by = ? WHERE id = ?",
                        vec![
                            Arg::from(&body),
                            Arg::Int(form.version),
                            Arg::Int(now),
                            Arg::from(&actor_name),
                            Arg::Int(old.id),
                        ],
                    );
                    push_rollups(&mut script, &form, &period, &unit.region, None, &deltas);
                    let mut changed = Map::new();
                    for k in values.keys().chain(old.values.keys()) {
                        let (b, a) = (old.values.get(k), values.get(k));
                        if b != a {
                            changed.insert(k.clone(), json!({"before": b, "after": a}));
                        }
                    }
                    audit::append(
                        &mut *conn,
                        backend,
                        now,
                        &who,
                        Entry {
                            action: "report.correct",
                            object_type: "report",
                            object_id: old.id.to_string(),
                            region_code: unit.region.to_string(),
                            outcome: "success",
                            detail: json!({"template": form.key, "unit": unit.key, "period": period, "changes": changed}),
                        },
                    )
                    .await?;
                    let sub = Submission {
                        values: values.clone(),
                        template_version: form.version,
                        submitted_by: actor_name.clone(),
                        corrections: old.corrections + 1,
                        ..old
                    };
                    (Outcome::Corrected, sub)
                }
                None => {
                    let seq = look.immediate_count.map_or(0, |n| n + 1);
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO report_submissions (template_key, template_version, unit, region_code, period, body, late, \
                         submitted_at, submitted_by, updated_at, seq) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$8,$10) RETURNING id",
                    )
                    .bind(&form.key)
                    .bind(form.version)
                    .bind(&unit.key)
                    .bind(unit.region.as_str())
                    .bind(&period)
                    .bind(&body)
                    .bind(i64::from(late))
                    .bind(now)
                    .bind(&actor_name)
                    .bind(seq)
                    .fetch_one(&mut *conn)
                    .await?;
                    push_rollups(
                        &mut script,
                        &form,
                        &period,
                        &unit.region,
                        Some((1, i64::from(!late))),
                        &rollup_values(&form, &values),
                    );
                    audit::append(
                        &mut *conn,
                        backend,
                        now,
                        &who,
                        Entry {
                            action: "report.submit",
                            object_type: "report",
                            object_id: id.to_string(),
                            region_code: unit.region.to_string(),
                            outcome: "success",
                            detail: json!({"template": form.key, "unit": unit.key, "period": period, "late": late}),
                        },
                    )
                    .await?;
                    if form.period == Period::Immediate {
                        notify_incident(&mut *conn, &form, &unit, id, &values, now).await?;
                    }
                    // What was just inserted; no need to read it back.
                    let sub = Submission {
                        id,
                        template: form.key.clone(),
                        template_version: form.version,
                        unit: unit.key.clone(),
                        unit_name: unit.name.clone(),
                        region_code: unit.region.to_string(),
                        period: period.clone(),
                        values: values.clone(),
                        late,
                        submitted_at: backstop_core::clock::from_millis(now).to_rfc3339(),
                        submitted_by: actor_name.clone(),
                        corrections: 0,
                    };
                    (Outcome::Created, sub)
                }
            };
            if let Some((uid, k)) = &idem {
                let status: i64 = if outcome == Outcome::Created { 201 } else { 200 };
                script.push(
                    "INSERT INTO idempotency_keys (user_id, idem_key, request_hash, status, response, created_at) VALUES (?,?,?,?,?,?)",
                    vec![
                        Arg::Int(*uid),
                        Arg::from(k),
                        Arg::from(&request_hash),
                        Arg::Int(status),
                        Arg::Text(serde_json::to_string(&sub).unwrap_or_default()),
                        Arg::Int(now),
                    ],
                );
            }
            script.execute(&mut *conn, backend).await?;
            Ok::<_, AppError>((outcome, sub))
        })
    });
    Ok(job.await?)
}

/// A checked submission, ready to write.
struct Prepared {
    form: Form,
    unit: Unit,
    period: String,
    values: Map<String, Value>,
    late: bool,
    now: i64,
}

/// Everything checked before the write: the form, the unit (scope), the period, the values.
async fn prepare_submission(
    state: &AppState,
    actor: &Actor,
    input: &SubmitInput,
) -> AppResult<Prepared> {
    let form = load_form(state, input.template.trim(), None)
        .await?
        .ok_or_else(|| AppError::field(ErrorCode::Validation, "template", "没有这个报表"))?;
    let unit = resolve_unit(state, actor, &form, &input.unit).await?;
    let now = state.now_ms();
    let (period, end) = parse_period(form.period, &input.period, today(state))
        .map_err(|m| AppError::field(ErrorCode::Validation, "period", m))?;
    let values = form::validate(&form, &input.values).map_err(validation_error)?;
    let late = deadline_ms(&form, end).is_some_and(|d| now > d);
    Ok(Prepared {
        form,
        unit,
        period,
        values,
        late,
        now,
    })
}

/// A region unit (not an organisation): its name comes from `look_up`.
fn unit_is_region(unit: &Unit) -> bool {
    !unit.key.starts_with("org:")
}

/// What the write must know before deciding, read in one statement.
struct LookUp {
    /// `(request_hash, response)` stored under the idempotency key.
    idem: Option<(String, String)>,
    /// The unit region's name (region units only; `None` when there is no such region).
    region_name: Option<String>,
    /// A lock on the period at the unit's level or above.
    locked: bool,
    /// The unit's report of the period (periodic forms).
    existing: Option<i64>,
    /// How many immediate reports the unit already made in the period (immediate forms).
    immediate_count: Option<i64>,
}

async fn look_up(
    conn: &mut AnyConnection,
    backend: backstop_store::Backend,
    form: &Form,
    unit: &Unit,
    period: &str,
    idem: Option<&(i64, String)>,
) -> Result<LookUp, sqlx::Error> {
    let mut sql = String::from("SELECT ");
    let mut args: Vec<Arg> = Vec::new();
    match idem {
        Some((uid, k)) => {
            sql.push_str(
                "(SELECT request_hash FROM idempotency_keys WHERE user_id = ? AND idem_key = ?) AS idem_hash, \
                 (SELECT response FROM idempotency_keys WHERE user_id = ? AND idem_key = ?) AS idem_response, ",
            );
            args.extend([Arg::Int(*uid), Arg::from(k), Arg::Int(*uid), Arg::from(k)]);
        }
        None => {
            sql.push_str("CAST(NULL AS TEXT) AS idem_hash, CAST(NULL AS TEXT) AS idem_response, ")
        }
    }
    if unit_is_region(unit) {
        sql.push_str("(SELECT name FROM regions WHERE code = ?) AS region_name, ");
        args.push(Arg::from(unit.region.as_str()));
    } else {
        sql.push_str("CAST(NULL AS TEXT) AS region_name, ");
    }
    let codes = rollup_codes(&unit.region);
    sql.push_str(
        "(SELECT region_code FROM report_locks WHERE template_key = ? AND period = ? AND region_code IN (",
    );
    sql.push_str(&repeat_list("?", codes.len()));
    sql.push_str(") LIMIT 1) AS locked, ");
    args.extend([Arg::from(&form.key), Arg::from(period)]);
    args.extend(codes.into_iter().map(Arg::Text));
    if form.period == Period::Immediate {
        sql.push_str(
            "CAST(NULL AS BIGINT) AS existing, (SELECT CAST(COUNT(*) AS BIGINT) FROM report_submissions \
             WHERE template_key = ? AND unit = ? AND period = ?) AS immediate_count",
        );
    } else {
        sql.push_str(
            "(SELECT id FROM report_submissions WHERE template_key = ? AND unit = ? AND period = ? AND seq = 0) AS existing, \
             CAST(NULL AS BIGINT) AS immediate_count",
        );
    }
    args.extend([
        Arg::from(&form.key),
        Arg::from(&unit.key),
        Arg::from(period),
    ]);
    let row = backstop_store::bind_all(sqlx::query(sqlx::AssertSqlSafe(backend.sql(&sql))), args)
        .fetch_one(&mut *conn)
        .await?;
    let hash: Option<String> = row.try_get("idem_hash")?;
    let response: Option<String> = row.try_get("idem_response")?;
    let locked: Option<String> = row.try_get("locked")?;
    Ok(LookUp {
        idem: hash.zip(response),
        region_name: row.try_get("region_name")?,
        locked: locked.is_some(),
        existing: row.try_get("existing")?,
        immediate_count: row.try_get("immediate_count")?,
    })
}

async fn replay(
    state: &AppState,
    actor: &Actor,
    key: &str,
    hash: &str,
) -> AppResult<Option<Submission>> {
    let Some(uid) = actor.user_id else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT request_hash, response FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2",
    )
    .bind(uid)
    .bind(key)
    .fetch_optional(state.db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let stored_hash: String = row.try_get("request_hash")?;
    if stored_hash != hash {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "该 Idempotency-Key 已用于另一份不同的报表",
        ));
    }
    let body: String = row.try_get("response")?;
    Ok(serde_json::from_str(&body).ok())
}

/// An immediate report goes at once to every level above the unit (notification outbox).
async fn notify_incident(
    conn: &mut AnyConnection,
    form: &Form,
    unit: &Unit,
    id: i64,
    values: &Map<String, Value>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let kind = values
        .get("event_kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    let title = format!("即报：{}（{}）", unit.name, kind);
    let body = format!("{} 报告编号 {id}", form.name);
    for code in unit.region.ancestors() {
        sqlx::query(
            "INSERT INTO notifications (region_code, unit, kind, title, body, created_at) VALUES ($1,$2,'incident',$3,$4,$5)",
        )
        .bind(code.as_str())
        .bind(&unit.key)
        .bind(&title)
        .bind(&body)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// One submission, if its unit is in scope.
pub async fn get_submission(state: &AppState, actor: &Actor, id: i64) -> AppResult<Submission> {
    require_reports(actor)?;
    let sql = format!("SELECT {SUB_COLS} FROM report_submissions WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let region: String = row.try_get("region_code")?;
    let code = RegionCode::parse(&region).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    let unit: String = row.try_get("unit")?;
    let name = unit_name(state, &unit).await?;
    Ok(submission_from_row(&row, name)?)
}

async fn unit_name(state: &AppState, unit: &str) -> AppResult<String> {
    if let Some(id) = unit
        .strip_prefix("org:")
        .and_then(|s| s.parse::<i64>().ok())
    {
        let n: Option<String> = sqlx::query_scalar("SELECT name FROM orgs WHERE id = $1")
            .bind(id)
            .fetch_optional(state.db.pool())
            .await?;
        return Ok(n.unwrap_or_default());
    }
    Ok(crate::regions::find(state, unit)
        .await?
        .map(|r| r.name)
        .unwrap_or_default())
}

/// Lock a period for a region: units at or below it can no longer correct.
pub async fn lock(
    state: &AppState,
    actor: &Actor,
    template: &str,
    period: &str,
    region: &str,
) -> AppResult<()> {
    actor.require(Permission::ReportsRead)?;
    let form = load_form(state, template, None)
        .await?
        .ok_or_else(AppError::not_found)?;
    let code = region_in_scope(actor, region)?;
    if code.as_str() != NATION
        && RegionCode::parse(&code)
            .map(|c| c.level() == RegionLevel::Village)
            .unwrap_or(false)
    {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "锁定由上一级（乡镇及以上）进行",
        ));
    }
    if matches!(&actor.scope, Scope::Region(c) if c.level() >= RegionLevel::Village) {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "锁定由上一级（乡镇及以上）进行",
        ));
    }
    let (period, _) = parse_period(form.period, period, today(state))
        .map_err(|m| AppError::field(ErrorCode::Validation, "period", m))?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO report_locks (template_key, period, region_code, locked_by, locked_at) VALUES ($1,$2,$3,$4,$5) \
         ON CONFLICT (template_key, period, region_code) DO NOTHING",
    )
    .bind(&form.key)
    .bind(&period)
    .bind(&code)
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
            action: "report.lock",
            object_type: "report_period",
            object_id: format!("{}/{}", form.key, period),
            region_code: code.clone(),
            outcome: "success",
            detail: json!({}),
        },
    )
    .await?;
    w.commit().await?;
    Ok(())
}

/// The region a summary asks for: default the actor's scope; out of scope → 404.
pub(crate) fn region_in_scope(actor: &Actor, region: &str) -> AppResult<String> {
    let region = region.trim();
    if region.is_empty() || region == NATION {
        return match &actor.scope {
            Scope::National => Ok(NATION.to_string()),
            Scope::Region(c) if region.is_empty() => Ok(c.as_str().to_string()),
            Scope::Region(_) => Err(AppError::not_found()),
        };
    }
    let code = RegionCode::parse(region).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    Ok(code.as_str().to_string())
}

// ---------------------------------------------------------------------------------------
// Summaries, completeness

/// Figures for one region.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub code: String,
    pub name: String,
    /// Units that must report (null for immediate reports).
    pub expected: Option<i64>,
    pub received: i64,
    pub on_time: i64,
    #[schema(value_type = Object)]
    pub sums: Map<String, Value>,
}

/// `GET /api/v1/reports/summary`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub template: String,
    pub name: String,
    pub period: String,
    pub code: String,
    pub region_name: String,
    pub expected: Option<i64>,
    pub received: i64,
    pub on_time: i64,
    #[schema(value_type = Object)]
    pub sums: Map<String, Value>,
    pub children: Vec<Figures>,
}

fn child_len(code: &str) -> Option<usize> {
    if code == NATION {
        return Some(2);
    }
    RegionCode::parse(code)
        .ok()?
        .level()
        .child()
        .map(|l| l.code_len())
}

fn bounds(code: &str) -> (String, String) {
    if code == NATION {
        (String::new(), "~".to_string())
    } else {
        (code.to_string(), format!("{code}:"))
    }
}

/// Expected units under `code`, and per child prefix of length `clen`.
async fn expected(
    state: &AppState,
    form: &Form,
    code: &str,
    clen: Option<usize>,
) -> AppResult<(i64, Vec<(String, i64)>)> {
    let form_scope = Scope::parse(&form.scope).unwrap_or(Scope::National);
    // Intersect the asked region with the form's scope.
    let (lo, hi) = bounds(code);
    let (flo, fhi) = form_scope
        .sql_bounds()
        .unwrap_or((String::new(), "~".to_string()));
    let (lo, hi) = (lo.max(flo), hi.min(fhi));
    if lo >= hi {
        return Ok((0, Vec::new()));
    }
    let clen = clen.unwrap_or(99) as i64;
    let cache_key = format!(
        "expected|{}|{}|{}|{lo}|{hi}|{clen}",
        form.unit_type.as_str(),
        form.org_kinds.join(","),
        form.scope
    );
    if let Some(hit) = state.caches.get(&cache_key) {
        return Ok(hit);
    }
    let (table, filter) = match form.unit_type {
        UnitType::Village => (
            "SELECT code AS c FROM regions WHERE level = 'village'",
            String::new(),
        ),
        UnitType::Org => {
            let kinds: Vec<String> = form
                .org_kinds
                .iter()
                .filter(|k| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                .map(|k| format!("'{k}'"))
                .collect();
            if kinds.is_empty() {
                return Ok((0, Vec::new()));
            }
            (
                "SELECT region_code AS c FROM orgs WHERE 1=1",
                format!(" AND kind IN ({})", kinds.join(",")),
            )
        }
        UnitType::Any => return Ok((0, Vec::new())),
    };
    let col = if form.unit_type == UnitType::Village {
        "code"
    } else {
        "region_code"
    };
    let sql = format!(
        "SELECT substr(c, 1, CAST($3 AS INTEGER)) AS p, CAST(COUNT(*) AS BIGINT) AS n FROM ({table}{filter} AND {col} >= $1 AND {col} < $2) x GROUP BY 1"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&lo)
        .bind(&hi)
        .bind(clen)
        .fetch_all(state.db.reader())
        .await?;
    let mut total = 0;
    let mut per = Vec::new();
    for r in rows {
        let p: String = r.try_get("p")?;
        let n: i64 = r.try_get("n")?;
        total += n;
        if p.len() as i64 == clen {
            per.push((p, n));
        }
    }
    state.caches.put(cache_key, (total, per.clone()));
    Ok((total, per))
}

pub(crate) fn sums_map(form: &Form, rows: &[(String, i64)]) -> Map<String, Value> {
    let mut m = Map::new();
    for f in form.summable() {
        let total = rows
            .iter()
            .find(|(k, _)| *k == f.key)
            .map(|(_, v)| *v)
            .unwrap_or(0);
        let v = if f.kind == form::FieldType::Decimal {
            serde_json::Number::from_f64(total as f64 / form::DECIMAL_SCALE)
                .map(Value::Number)
                .unwrap_or(Value::Null)
        } else {
            Value::from(total)
        };
        m.insert(f.key.clone(), v);
    }
    m
}

/// Live summary of a form for a period and region, with its children.
pub async fn summary(
    state: &AppState,
    actor: &Actor,
    template: &str,
    period: &str,
    region: &str,
) -> AppResult<Summary> {
    actor.require(Permission::ReportsRead)?;
    let form = load_form(state, template.trim(), None)
        .await?
        .ok_or_else(AppError::not_found)?;
    let code = region_in_scope(actor, region)?;
    let (period, _) = parse_period(form.period, period, today(state))
        .map_err(|m| AppError::field(ErrorCode::Validation, "period", m))?;
    let clen = child_len(&code);
    let (exp_total, exp_children) = expected(state, &form, &code, clen).await?;
    // The region's children, then their rollup rows and the region's own, by primary key
    // (an exact code list: a range over codes would also walk every row below the children).
    let children_regions = if code == NATION {
        sqlx::query("SELECT code, name FROM regions WHERE parent_code IS NULL ORDER BY code")
            .fetch_all(state.db.reader())
            .await?
    } else {
        sqlx::query(
            "SELECT code, name FROM regions WHERE parent_code = $1 AND level <> 'grid' ORDER BY code",
        )
        .bind(&code)
        .fetch_all(state.db.reader())
        .await?
    };
    let mut codes: Vec<String> = vec![code.clone()];
    for r in &children_regions {
        codes.push(r.try_get("code")?);
    }
    let mut counts: std::collections::HashMap<String, (i64, i64)> =
        std::collections::HashMap::new();
    let mut sums: std::collections::HashMap<String, Vec<(String, i64)>> =
        std::collections::HashMap::new();
    for chunk in codes.chunks(500) {
        let list = repeat_list("?", chunk.len());
        let sql = state.db.sql(&format!(
            "SELECT code, received, on_time FROM report_rollup_counts WHERE template_key = ? AND period = ? AND code IN ({list})"
        ));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&form.key)
            .bind(&period);
        for c in chunk {
            q = q.bind(c.as_str());
        }
        for r in q.fetch_all(state.db.reader()).await? {
            counts.insert(
                r.try_get("code")?,
                (r.try_get("received")?, r.try_get("on_time")?),
            );
        }
        let sql = state.db.sql(&format!(
            "SELECT code, field, total FROM report_rollup_sums WHERE template_key = ? AND period = ? AND code IN ({list})"
        ));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&form.key)
            .bind(&period);
        for c in chunk {
            q = q.bind(c.as_str());
        }
        for r in q.fetch_all(state.db.reader()).await? {
            sums.entry(r.try_get("code")?)
                .or_default()
                .push((r.try_get("field")?, r.try_get("total")?));
        }
    }
    let has_expected = form.unit_type != UnitType::Any;
    let mut children = Vec::new();
    for r in children_regions {
        let c: String = r.try_get("code")?;
        let (received, on_time) = counts.get(&c).copied().unwrap_or((0, 0));
        children.push(Figures {
            expected: has_expected.then(|| {
                exp_children
                    .iter()
                    .find(|(p, _)| *p == c)
                    .map(|(_, n)| *n)
                    .unwrap_or(0)
            }),
            received,
            on_time,
            sums: sums_map(&form, sums.get(&c).map(Vec::as_slice).unwrap_or(&[])),
            name: r.try_get("name")?,
            code: c,
        });
    }
    let (received, on_time) = counts.get(&code).copied().unwrap_or((0, 0));
    Ok(Summary {
        template: form.key.clone(),
        name: form.name.clone(),
        period,
        region_name: crate::regions::scope_name(state, &code).await?,
        expected: has_expected.then_some(exp_total),
        received,
        on_time,
        sums: sums_map(&form, sums.get(&code).map(Vec::as_slice).unwrap_or(&[])),
        code,
        children,
    })
}

/// A unit that has not reported.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MissingUnit {
    /// Region code or `org:ID`.
    pub unit: String,
    pub name: String,
    pub region_code: String,
}

/// Units under a region that have not reported a form for a period.
pub async fn missing(
    state: &AppState,
    actor: &Actor,
    template: &str,
    period: &str,
    region: &str,
) -> AppResult<Vec<MissingUnit>> {
    actor.require(Permission::ReportsRead)?;
    let form = load_form(state, template.trim(), None)
        .await?
        .ok_or_else(AppError::not_found)?;
    let code = region_in_scope(actor, region)?;
    let (period, _) = parse_period(form.period, period, today(state))
        .map_err(|m| AppError::field(ErrorCode::Validation, "period", m))?;
    missing_units(state, &form, &period, &code, 10_000).await
}

async fn missing_units(
    state: &AppState,
    form: &Form,
    period: &str,
    code: &str,
    limit: i64,
) -> AppResult<Vec<MissingUnit>> {
    let (lo, hi) = bounds(code);
    let form_scope = Scope::parse(&form.scope).unwrap_or(Scope::National);
    let (flo, fhi) = form_scope
        .sql_bounds()
        .unwrap_or((String::new(), "~".to_string()));
    let (lo, hi) = (lo.max(flo), hi.min(fhi));
    let rows = match form.unit_type {
        UnitType::Village => {
            sqlx::query(
                "SELECT r.code AS unit, r.name, r.code AS region_code FROM regions r WHERE r.level = 'village' \
                 AND r.code >= $1 AND r.code < $2 AND NOT EXISTS (SELECT 1 FROM report_submissions s \
                 WHERE s.template_key = $3 AND s.period = $4 AND s.unit = r.code) ORDER BY r.code LIMIT $5",
            )
            .bind(&lo)
            .bind(&hi)
            .bind(&form.key)
            .bind(period)
            .bind(limit)
            .fetch_all(state.db.pool())
            .await?
        }
        UnitType::Org => {
            let kinds: Vec<String> = form
                .org_kinds
                .iter()
                .filter(|k| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                .map(|k| format!("'{k}'"))
                .collect();
            if kinds.is_empty() {
                return Ok(Vec::new());
            }
            let sql = format!(
                "SELECT 'org:' || CAST(o.id AS TEXT) AS unit, o.name, o.region_code FROM orgs o WHERE o.kind IN ({}) \
                 AND o.region_code >= $1 AND o.region_code < $2 AND NOT EXISTS (SELECT 1 FROM report_submissions s \
                 WHERE s.template_key = $3 AND s.period = $4 AND s.unit = 'org:' || CAST(o.id AS TEXT)) \
                 ORDER BY o.region_code, o.id LIMIT $5",
                kinds.join(",")
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&lo)
                .bind(&hi)
                .bind(&form.key)
                .bind(period)
                .bind(limit)
                .fetch_all(state.db.pool())
                .await?
        }
        UnitType::Any => return Ok(Vec::new()),
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(MissingUnit {
            unit: r.try_get("unit")?,
            name: r.try_get("name")?,
            region_code: r.try_get("region_code")?,
        });
    }
    Ok(out)
}

/// At each daily deadline, put a reminder (催报) in the outbox for every unit that has not
/// reported. Runs once per form and period; safe to call every minute.
pub async fn run_deadlines(state: &AppState) -> AppResult<i64> {
    let now = state.now_ms();
    let day = today(state);
    let period = day.format("%Y-%m-%d").to_string();
    let mut reminded = 0;
    let forms = {
        let sql = format!(
            "SELECT {FORM_COLS} FROM report_templates t WHERE period = 'daily' AND version = \
             (SELECT MAX(version) FROM report_templates u WHERE u.template_key = t.template_key)"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(state.db.pool())
            .await?;
        rows.iter()
            .map(form_from_row)
            .collect::<Result<Vec<_>, _>>()?
    };
    for form in forms {
        let Some(deadline) = deadline_ms(&form, day) else {
            continue;
        };
        if now < deadline {
            continue;
        }
        let done: Option<i64> = sqlx::query_scalar(
            "SELECT reminded FROM report_reminder_runs WHERE template_key = $1 AND period = $2",
        )
        .bind(&form.key)
        .bind(&period)
        .fetch_optional(state.db.pool())
        .await?;
        if done.is_some() {
            continue;
        }
        let missing = missing_units(state, &form, &period, NATION, i64::MAX).await?;
        let mut w = state.db.begin_write().await?;
        let fresh = sqlx::query(
            "INSERT INTO report_reminder_runs (template_key, period, ran_at, reminded) VALUES ($1,$2,$3,$4) \
             ON CONFLICT (template_key, period) DO NOTHING",
        )
        .bind(&form.key)
        .bind(&period)
        .bind(now)
        .bind(missing.len() as i64)
        .execute(w.conn())
        .await?
        .rows_affected();
        if fresh == 0 {
            continue;
        }
        let title = format!("催报：{}", form.name);
        let body = format!(
            "{period} 的《{}》尚未填报，截止时间 {}，请尽快填报。",
            form.name,
            form.deadline.clone().unwrap_or_default()
        );
        for chunk in missing.chunks(500) {
            let mut sql = String::from(
                "INSERT INTO notifications (region_code, unit, kind, title, body, created_at) VALUES ",
            );
            sql.push_str(&repeat_list("(?,?,'report_reminder',?,?,?)", chunk.len()));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(state.db.sql(&sql)));
            for m in chunk {
                q = q
                    .bind(m.region_code.as_str())
                    .bind(m.unit.as_str())
                    .bind(title.as_str())
                    .bind(body.as_str())
                    .bind(now);
            }
            q.execute(w.conn()).await?;
        }
        audit::append(
            w.conn(),
            state.db.backend(),
            now,
            &Who {
                user_id: None,
                username: "system".into(),
                source: "scheduler".into(),
            },
            Entry {
                action: "report.remind",
                object_type: "report_period",
                object_id: format!("{}/{}", form.key, period),
                region_code: NATION.to_string(),
                outcome: "success",
                detail: json!({"reminded": missing.len()}),
            },
        )
        .await?;
        w.commit().await?;
        reminded += missing.len() as i64;
    }
    Ok(reminded)
}

/// A notification in the outbox.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: i64,
    pub kind: String,
    pub unit: String,
    pub region_code: String,
    pub title: String,
    pub body: String,
    pub created_at: String,
}

/// Notifications for the actor: those addressed to its own region (its unit's reminders,
/// incidents reported below it), newest first.
pub async fn notifications(
    state: &AppState,
    actor: &Actor,
    limit: i64,
) -> AppResult<Vec<Notification>> {
    let own = actor.scope.as_str().to_string();
    let rows = sqlx::query(
        "SELECT id, kind, unit, region_code, title, body, created_at FROM notifications WHERE region_code = $1 \
         OR (unit = $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(&own)
    .bind(actor.org_id.map(|o| format!("org:{o}")).unwrap_or_default())
    .bind(limit.clamp(1, 500))
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let at: i64 = r.try_get("created_at")?;
        out.push(Notification {
            id: r.try_get("id")?,
            kind: r.try_get("kind")?,
            unit: r.try_get("unit")?,
            region_code: r.try_get("region_code")?,
            title: r.try_get("title")?,
            body: r.try_get("body")?,
            created_at: backstop_core::clock::from_millis(at).to_rfc3339(),
        });
    }
    Ok(out)
}

/// Reporting rate of received over expected, with a colour class for tables.
pub(crate) fn pages_rate(received: i64, expected: Option<i64>) -> (String, &'static str) {
    match expected {
        Some(e) if e > 0 => {
            let r = received as f64 * 100.0 / e as f64;
            let class = if r >= 100.0 {
                "good"
            } else if r >= 80.0 {
                "fair"
            } else {
                "poor"
            };
            (format!("{r:.1}%"), class)
        }
        _ => ("—".to_string(), "none"),
    }
}

fn notification_from_row(r: &sqlx::any::AnyRow) -> Result<Notification, sqlx::Error> {
    let at: i64 = r.try_get("created_at")?;
    Ok(Notification {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        unit: r.try_get("unit")?,
        region_code: r.try_get("region_code")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        created_at: backstop_core::clock::from_millis(at).to_rfc3339(),
    })
}

/// The delivery outbox for an SMS or webhook gateway run by the operator: notifications in the
/// caller's scope not yet delivered, oldest first, after `after_id`. The gateway marks each
/// one delivered with [`mark_delivered`]. Needs `reports.manage` (an integration account of
/// an official, with a personal API token).
pub async fn outbox(
    state: &AppState,
    actor: &Actor,
    after_id: i64,
    limit: i64,
) -> AppResult<Vec<Notification>> {
    actor.require(Permission::ReportsManage)?;
    let (lo, hi) = actor.scope_bounds();
    let rows = sqlx::query(
        "SELECT id, kind, unit, region_code, title, body, created_at FROM notifications \
         WHERE delivered_at IS NULL AND id > $1 AND region_code >= $2 AND region_code < $3 ORDER BY id LIMIT $4",
    )
    .bind(after_id)
    .bind(lo)
    .bind(hi)
    .bind(limit.clamp(1, 1000))
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(notification_from_row)
        .collect::<Result<_, _>>()?)
}

/// Record that the gateway delivered a notification (idempotent).
pub async fn mark_delivered(state: &AppState, actor: &Actor, id: i64) -> AppResult<()> {
    actor.require(Permission::ReportsManage)?;
    let region: Option<String> =
        sqlx::query_scalar("SELECT region_code FROM notifications WHERE id = $1")
            .bind(id)
            .fetch_optional(state.db.pool())
            .await?;
    let region = region.ok_or_else(AppError::not_found)?;
    let code = RegionCode::parse(&region).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE notifications SET delivered_at = $1 WHERE id = $2 AND delivered_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(w.conn())
    .await?;
    w.commit().await?;
    Ok(())
}
