//! Vulnerable groups and visits (困难群众与走访; issue 4, part 2).
//!
//! This module owns the rules about the people the state must not lose sight of: a person's
//! group memberships (category with a stable identifier and Chinese label, start date,
//! optional end date, deciding body), the named carer (照料责任人) of a dispersed 特困 person
//! and the carer's daily check (one per person per Beijing date; a second one the same day
//! updates it), visits (phone or at home: who, when, how, what was found, needs, help given),
//! follow-up tasks made from a need (owner in scope, due date, closed with a note, overdue by
//! the injected clock), and the coverage view (per category, members active in a period, how
//! many were contacted, and who was not). Everything is keyed to a person of `people` and
//! scoped by that person's current region: a person outside the caller's scope does not
//! exist (404). Reads need `PersonsRead`, changes `PersonsWrite`; every change is audited in
//! its own write transaction. The carer's phone is stored like a person's phone (encrypted,
//! blind-indexed, shown masked). The API is in `web`, the pages in `pages`.

pub mod pages;
pub mod web;

use backstop_core::clock::beijing_date;
use backstop_core::error::ErrorCode;
use backstop_core::mask::mask_name;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::people;
use crate::state::AppState;
use backstop_core::clock::end_of_beijing_day_ms as end_of_day_ms;

/// The groups (困难群众类别), with stable identifiers and Chinese labels.
pub const CATEGORIES: [(&str, &str); 14] = [
    ("dibao", "低保"),
    ("tekun_dispersed", "特困（分散供养）"),
    ("tekun_institution", "特困（集中供养）"),
    ("low_income", "低收入"),
    ("orphan_scattered", "孤儿（散居）"),
    ("orphan_foster", "孤儿（家庭寄养）"),
    ("de_facto_unattended", "事实无人抚养儿童"),
    ("left_behind", "留守儿童"),
    ("children_in_difficulty", "困境儿童"),
    ("disabled_in_difficulty", "困难残疾人"),
    ("severely_disabled", "重度残疾人"),
    ("elderly_alone", "独居/空巢老人"),
    ("homeless", "流浪乞讨人员"),
    ("registered_poor", "建档立卡"),
];

/// Chinese label of a category identifier (empty if unknown).
pub fn category_label(id: &str) -> &'static str {
    CATEGORIES
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// A category given as identifier or Chinese label.
pub fn parse_category(s: &str) -> Option<&'static str> {
    let s = s.trim();
    CATEGORIES
        .iter()
        .find(|(id, label)| *id == s || *label == s)
        .map(|(id, _)| *id)
}

/// A category as listed by the API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Category {
    pub id: String,
    pub label: String,
}

/// All categories.
pub fn categories() -> Vec<Category> {
    CATEGORIES
        .iter()
        .map(|(id, l)| Category {
            id: (*id).to_string(),
            label: (*l).to_string(),
        })
        .collect()
}

fn verr(field: &str, message: impl Into<String>) -> AppError {
    let message = message.into();
    let label = match field {
        "category" => "类别",
        "start_date" => "开始日期",
        "end_date" => "结束日期",
        "deciding_body" => "认定机关",
        "name" => "姓名",
        "phone" => "联系电话",
        "relationship" => "关系",
        "date" => "日期",
        "status" => "状态",
        "note" => "备注",
        "method" => "走访方式",
        "visited_on" => "走访日期",
        "findings" => "走访情况",
        "needs" => "需求",
        "help_given" => "帮扶措施",
        "need_index" => "需求",
        "owner" => "责任人",
        "due_date" => "完成期限",
        "from" => "开始日期",
        "to" => "结束日期",
        other => other,
    };
    AppError {
        code: ErrorCode::Validation,
        message: format!("{label}：{message}"),
        fields: vec![crate::kernel::error::FieldError {
            field: field.to_string(),
            message,
        }],
    }
}

fn text(field: &str, v: &str, max: usize, required: bool) -> AppResult<String> {
    text_field(field, v, max, required).map_err(|e| {
        let msg = e
            .fields
            .first()
            .map(|f| f.message.clone())
            .unwrap_or(e.message);
        verr(field, msg)
    })
}

/// A required `YYYY-MM-DD` (other forms accepted as by `people::parse_date`).
fn date(field: &str, s: &str) -> AppResult<NaiveDate> {
    match people::parse_date(s) {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(verr(field, "不能为空")),
        Err(m) => Err(verr(field, m)),
    }
}

pub(crate) fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(crate) fn today(state: &AppState) -> NaiveDate {
    beijing_date(state.clock.now())
}

/// The person's region and name, if the person exists and is in the caller's scope.
async fn person_in_scope(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: i64,
) -> AppResult<(String, String)> {
    let row = sqlx::query("SELECT region_code, name FROM persons WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(AppError::not_found)?;
    let region: String = row.try_get("region_code")?;
    let code = RegionCode::parse(&region).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    Ok((region, row.try_get("name")?))
}

#[allow(clippy::too_many_arguments)]
async fn audit_in(
    conn: &mut AnyConnection,
    state: &AppState,
    actor: &Actor,
    now: i64,
    action: &'static str,
    object_type: &'static str,
    object_id: i64,
    region: &str,
    detail: serde_json::Value,
) -> AppResult<()> {
    audit::append(
        conn,
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action,
            object_type,
            object_id: object_id.to_string(),
            region_code: region.to_string(),
            outcome: "success",
            detail,
        },
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- memberships

/// A group membership.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Membership {
    pub id: i64,
    pub person_id: i64,
    pub category: String,
    pub category_label: String,
    pub start_date: String,
    /// Empty while still a member.
    pub end_date: String,
    pub deciding_body: String,
}

/// Body of `POST /api/v1/care/persons/{id}/memberships`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewMembership {
    /// A category identifier (`dibao`, `tekun_dispersed`, …) or its Chinese label.
    pub category: String,
    /// `YYYY-MM-DD`.
    pub start_date: String,
    /// `YYYY-MM-DD`, not before the start; omit while still a member.
    #[serde(default)]
    pub end_date: Option<String>,
    /// The deciding body (认定机关), e.g. 鹿泉区民政局.
    pub deciding_body: String,
}

fn membership_from_row(r: &sqlx::any::AnyRow) -> Result<Membership, sqlx::Error> {
    let category: String = r.try_get("category")?;
    Ok(Membership {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        category_label: category_label(&category).to_string(),
        category,
        start_date: r.try_get("start_date")?,
        end_date: r.try_get("end_date")?,
        deciding_body: r.try_get("deciding_body")?,
    })
}

/// Record a group membership for a person in scope.
pub async fn add_membership(
    state: &AppState,
    actor: &Actor,
    person_id: i64,
    input: &NewMembership,
) -> AppResult<Membership> {
    actor.require(Permission::PersonsWrite)?;
    let category = parse_category(&input.category).ok_or_else(|| {
        verr(
            "category",
            format!(
                "未知的类别“{}”",
                input.category.chars().take(30).collect::<String>()
            ),
        )
    })?;
    let start = date("start_date", &input.start_date)?;
    let end = match input
        .end_date
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(e) => {
            let e = date("end_date", e)?;
            if e < start {
                return Err(verr("end_date", "不能早于开始日期"));
            }
            ymd(e)
        }
        None => String::new(),
    };
    let body = text("deciding_body", &input.deciding_body, 100, true)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let (region, _) = person_in_scope(w.conn(), actor, person_id).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO care_memberships (person_id, category, start_date, end_date, deciding_body, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(person_id)
    .bind(category)
    .bind(ymd(start))
    .bind(&end)
    .bind(&body)
    .bind(&actor.username)
    .bind(now)
    .fetch_one(w.conn())
    .await?;
    audit_in(
        w.conn(),
        state,
        actor,
        now,
        "care.membership.create",
        "care_membership",
        id,
        &region,
        json!({"person_id": person_id, "category": category, "start_date": ymd(start),
               "end_date": end, "deciding_body": body}),
    )
    .await?;
    w.commit().await?;
    Ok(Membership {
        id,
        person_id,
        category: category.to_string(),
        category_label: category_label(category).to_string(),
        start_date: ymd(start),
        end_date: end,
        deciding_body: body,
    })
}

/// Body of `POST /api/v1/care/memberships/{id}/end`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct EndMembership {
    /// `YYYY-MM-DD`, not before the start date.
    pub end_date: String,
}

/// Set (or correct) the end date of a membership of a person in scope.
pub async fn end_membership(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &EndMembership,
) -> AppResult<Membership> {
    actor.require(Permission::PersonsWrite)?;
    let end = date("end_date", &input.end_date)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let row = sqlx::query(
        "SELECT id, person_id, category, start_date, end_date, deciding_body \
         FROM care_memberships WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(w.conn())
    .await?
    .ok_or_else(AppError::not_found)?;
    let mut m = membership_from_row(&row)?;
    let (region, _) = person_in_scope(w.conn(), actor, m.person_id).await?;
    if ymd(end) < m.start_date {
        return Err(verr("end_date", "不能早于开始日期"));
    }
    sqlx::query("UPDATE care_memberships SET end_date = $1, updated_at = $2 WHERE id = $3")
        .bind(ymd(end))
        .bind(now)
        .bind(id)
        .execute(w.conn())
        .await?;
    audit_in(
        w.conn(),
        state,
        actor,
        now,
        "care.membership.end",
        "care_membership",
        id,
        &region,
        json!({"person_id": m.person_id,
               "end_date": {"before": m.end_date, "after": ymd(end)}}),
    )
    .await?;
    w.commit().await?;
    m.end_date = ymd(end);
    Ok(m)
}

// ---------------------------------------------------------------- carer and daily checks

/// The carer of a dispersed 特困 person (phone masked).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Carer {
    pub person_id: i64,
    pub name: String,
    /// `138****5678`.
    pub phone_masked: String,
    pub relationship: String,
}

/// Body of `PUT /api/v1/care/persons/{id}/carer`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CarerInput {
    pub name: String,
    pub phone: String,
    /// Relationship to the person (e.g. 邻居, 侄子).
    pub relationship: String,
}

/// A daily check by the carer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DailyCheck {
    pub id: i64,
    pub person_id: i64,
    pub date: String,
    /// `ok` or `needs_help`.
    pub status: String,
    pub status_label: String,
    pub note: String,
    pub carer_name: String,
    pub recorded_by: String,
    /// True when this call changed an earlier check of the same day.
    pub updated: bool,
}

/// Body of `POST /api/v1/care/persons/{id}/checks`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CheckInput {
    /// `YYYY-MM-DD`; default today (Beijing); not in the future.
    #[serde(default)]
    pub date: Option<String>,
    /// `ok` (正常) or `needs_help` (需要帮助).
    pub status: String,
    #[serde(default)]
    pub note: String,
}

fn check_status_label(s: &str) -> &'static str {
    match s {
        "ok" => "正常",
        "needs_help" => "需要帮助",
        _ => "",
    }
}

async fn active_dispersed(conn: &mut AnyConnection, person_id: i64, on: &str) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM care_memberships WHERE person_id = $1 \
         AND category = 'tekun_dispersed' AND start_date <= $2 AND (end_date = '' OR end_date >= $2)",
    )
    .bind(person_id)
    .bind(on)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Name (or replace) the carer of a person who is currently dispersed 特困.
pub async fn set_carer(
    state: &AppState,
    actor: &Actor,
    person_id: i64,
    input: &CarerInput,
) -> AppResult<Carer> {
    actor.require(Permission::PersonsWrite)?;
    let name = text("name", &input.name, 50, true)?;
    let relationship = text("relationship", &input.relationship, 30, true)?;
    let phone = people::normalise_phone(&input.phone)
        .map_err(|m| verr("phone", m))?
        .ok_or_else(|| verr("phone", "不能为空"))?;
    let sealed = people::seal(state, None, Some(&phone));
    let now = state.now_ms();
    let today = ymd(today(state));
    let mut w = state.db.begin_write().await?;
    let (region, _) = person_in_scope(w.conn(), actor, person_id).await?;
    if !active_dispersed(w.conn(), person_id, &today).await? {
        return Err(verr("name", "只有特困（分散供养）人员才需要指定照料责任人"));
    }
    let before = sqlx::query(
        "SELECT name, phone_masked, relationship FROM care_carers WHERE person_id = $1",
    )
    .bind(person_id)
    .fetch_optional(w.conn())
    .await?;
    let (action, detail) = match &before {
        Some(b) => {
            sqlx::query(
                "UPDATE care_carers SET name = $1, phone_enc = $2, phone_index = $3, \
                 phone_masked = $4, relationship = $5, updated_at = $6 WHERE person_id = $7",
            )
            .bind(&name)
            .bind(sealed.phone_enc.clone())
            .bind(sealed.phone_index.clone())
            .bind(&sealed.phone_masked)
            .bind(&relationship)
            .bind(now)
            .bind(person_id)
            .execute(w.conn())
            .await?;
            let bn: String = b.try_get("name")?;
            let bp: String = b.try_get("phone_masked")?;
            let br: String = b.try_get("relationship")?;
            (
                "care.carer.update",
                audit::diff(&[
                    ("name", json!(bn), json!(name)),
                    ("phone", json!(bp), json!(sealed.phone_masked)),
                    ("relationship", json!(br), json!(relationship)),
                ]),
            )
        }
        None => {
            sqlx::query(
                "INSERT INTO care_carers (person_id, name, phone_enc, phone_index, phone_masked, \
                 relationship, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(person_id)
            .bind(&name)
            .bind(sealed.phone_enc.clone())
            .bind(sealed.phone_index.clone())
            .bind(&sealed.phone_masked)
            .bind(&relationship)
            .bind(now)
            .execute(w.conn())
            .await?;
            (
                "care.carer.create",
                json!({"name": {"before": null, "after": name},
                       "phone": {"before": null, "after": sealed.phone_masked},
                       "relationship": {"before": null, "after": relationship}}),
            )
        }
    };
    audit_in(
        w.conn(),
        state,
        actor,
        now,
        action,
        "person",
        person_id,
        &region,
        detail,
    )
    .await?;
    w.commit().await?;
    Ok(Carer {
        person_id,
        name,
        phone_masked: sealed.phone_masked,
        relationship,
    })
}

async fn load_carer(conn: &mut AnyConnection, person_id: i64) -> AppResult<Option<Carer>> {
    let row = sqlx::query(
        "SELECT name, phone_masked, relationship FROM care_carers WHERE person_id = $1",
    )
    .bind(person_id)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(r) => Some(Carer {
            person_id,
            name: r.try_get("name")?,
            phone_masked: r.try_get("phone_masked")?,
            relationship: r.try_get("relationship")?,
        }),
        None => None,
    })
}

fn check_from_row(r: &sqlx::any::AnyRow, updated: bool) -> Result<DailyCheck, sqlx::Error> {
    let status: String = r.try_get("status")?;
    Ok(DailyCheck {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        date: r.try_get("check_date")?,
        status_label: check_status_label(&status).to_string(),
        status,
        note: r.try_get("note")?,
        carer_name: r.try_get("carer_name")?,
        recorded_by: r.try_get("recorded_by")?,
        updated,
    })
}

const CHECK_COLS: &str = "id, person_id, check_date, status, note, carer_name, recorded_by";

/// Record the carer's daily check; a second check of the same day updates the first.
pub async fn record_check(
    state: &AppState,
    actor: &Actor,
    person_id: i64,
    input: &CheckInput,
) -> AppResult<DailyCheck> {
    actor.require(Permission::PersonsWrite)?;
    let today = today(state);
    let day = match input
        .date
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(d) => date("date", d)?,
        None => today,
    };
    if day > today {
        return Err(verr("date", "不能晚于今天"));
    }
    let status = match input.status.trim() {
        "ok" | "正常" => "ok",
        "needs_help" | "需要帮助" => "needs_help",
        _ => return Err(verr("status", "应为 ok（正常）或 needs_help（需要帮助）")),
    };
    let note = text("note", &input.note, 500, false)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let (region, _) = person_in_scope(w.conn(), actor, person_id).await?;
    let carer = load_carer(w.conn(), person_id)
        .await?
        .ok_or_else(|| verr("status", "尚未指定照料责任人"))?;
    let sql = format!(
        "SELECT {CHECK_COLS} FROM care_daily_checks WHERE person_id = $1 AND check_date = $2"
    );
    let existing = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(person_id)
        .bind(ymd(day))
        .fetch_optional(w.conn())
        .await?;
    let (id, updated) = match existing {
        Some(r) => {
            let old = check_from_row(&r, false)?;
            sqlx::query(
                "UPDATE care_daily_checks SET status = $1, note = $2, carer_name = $3, \
                 recorded_by = $4, updated_at = $5 WHERE id = $6",
            )
            .bind(status)
            .bind(&note)
            .bind(&carer.name)
            .bind(&actor.username)
            .bind(now)
            .bind(old.id)
            .execute(w.conn())
            .await?;
            audit_in(
                w.conn(),
                state,
                actor,
                now,
                "care.check.update",
                "care_check",
                old.id,
                &region,
                json!({"person_id": person_id, "date": ymd(day),
                "changes": audit::diff(&[
                    ("status", json!(old.status), json!(status)),
                    ("note", json!(old.note), json!(note)),
                ])}),
            )
            .await?;
            (old.id, true)
        }
        None => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO care_daily_checks (person_id, check_date, status, note, carer_name, \
                 recorded_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 RETURNING id",
            )
            .bind(person_id)
            .bind(ymd(day))
            .bind(status)
            .bind(&note)
            .bind(&carer.name)
            .bind(&actor.username)
            .bind(now)
            .fetch_one(w.conn())
            .await?;
            audit_in(
                w.conn(),
                state,
                actor,
                now,
                "care.check.create",
                "care_check",
                id,
                &region,
                json!({"person_id": person_id, "date": ymd(day), "status": status}),
            )
            .await?;
            (id, false)
        }
    };
    w.commit().await?;
    Ok(DailyCheck {
        id,
        person_id,
        date: ymd(day),
        status: status.to_string(),
        status_label: check_status_label(status).to_string(),
        note,
        carer_name: carer.name,
        recorded_by: actor.username.clone(),
        updated,
    })
}

// ---------------------------------------------------------------- visits and tasks

/// A visit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Visit {
    pub id: i64,
    pub person_id: i64,
    /// The user who visited.
    pub visited_by: String,
    pub visited_on: String,
    /// `phone` or `home`.
    pub method: String,
    pub method_label: String,
    pub findings: String,
    pub needs: Vec<String>,
    pub help_given: String,
    pub tasks: Vec<Task>,
}

/// Body of `POST /api/v1/care/persons/{id}/visits`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewVisit {
    /// `phone` (电话) or `home` (入户).
    pub method: String,
    /// `YYYY-MM-DD`; default today; not in the future.
    #[serde(default)]
    pub visited_on: Option<String>,
    /// What was found.
    pub findings: String,
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub help_given: String,
}

/// A follow-up task.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Task {
    pub id: i64,
    pub visit_id: i64,
    pub person_id: i64,
    /// The person's name, masked.
    pub person_name_masked: String,
    pub region_code: String,
    pub need: String,
    pub owner: String,
    pub due_date: String,
    /// `open` or `closed`.
    pub status: String,
    pub overdue: bool,
    pub close_note: String,
    pub closed_by: Option<String>,
}

/// Body of `POST /api/v1/care/visits/{id}/tasks`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewTask {
    /// Index (from 0) of the need in the visit's list.
    pub need_index: usize,
    /// Username of the responsible user (in the caller's scope, seeing the person).
    pub owner: String,
    /// `YYYY-MM-DD`, not before today.
    pub due_date: String,
}

/// Body of `POST /api/v1/care/tasks/{id}/close`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CloseTask {
    pub note: String,
}

/// Filters of the task list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct TaskQuery {
    /// Region code; default the caller's scope.
    pub region: Option<String>,
    /// `open` (default), `overdue`, `closed` or `all`.
    pub status: Option<String>,
}

fn method_label(m: &str) -> &'static str {
    match m {
        "phone" => "电话",
        "home" => "入户",
        _ => "",
    }
}

/// Record a visit to a person in scope by the acting user.
pub async fn add_visit(
    state: &AppState,
    actor: &Actor,
    person_id: i64,
    input: &NewVisit,
) -> AppResult<Visit> {
    actor.require(Permission::PersonsWrite)?;
    let method = match input.method.trim() {
        "phone" | "电话" => "phone",
        "home" | "入户" => "home",
        _ => return Err(verr("method", "应为 phone（电话）或 home（入户）")),
    };
    let today = today(state);
    let on = match input
        .visited_on
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(d) => date("visited_on", d)?,
        None => today,
    };
    if on > today {
        return Err(verr("visited_on", "不能晚于今天"));
    }
    let findings = text("findings", &input.findings, 2000, true)?;
    let help = text("help_given", &input.help_given, 2000, false)?;
    if input.needs.len() > 20 {
        return Err(verr("needs", "最多 20 项"));
    }
    let mut needs = Vec::new();
    for n in &input.needs {
        let n = text("needs", n, 200, false)?;
        if !n.is_empty() {
            needs.push(n);
        }
    }
    let needs_json = serde_json::to_string(&needs).map_err(|e| AppError::internal("json", e))?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let (region, _) = person_in_scope(w.conn(), actor, person_id).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO care_visits (person_id, visited_by, visited_on, method, findings, needs, \
         help_given, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(person_id)
    .bind(&actor.username)
    .bind(ymd(on))
    .bind(method)
    .bind(&findings)
    .bind(&needs_json)
    .bind(&help)
    .bind(now)
    .fetch_one(w.conn())
    .await?;
    audit_in(
        w.conn(),
        state,
        actor,
        now,
        "care.visit.create",
        "care_visit",
        id,
        &region,
        json!({"person_id": person_id, "visited_on": ymd(on), "method": method,
               "needs": needs.len()}),
    )
    .await?;
    w.commit().await?;
    Ok(Visit {
        id,
        person_id,
        visited_by: actor.username.clone(),
        visited_on: ymd(on),
        method: method.to_string(),
        method_label: method_label(method).to_string(),
        findings,
        needs,
        help_given: help,
        tasks: Vec::new(),
    })
}

const TASK_COLS: &str = "t.id, t.visit_id, t.person_id, p.name AS person_name, p.region_code, \
    t.need, t.owner, t.due_date, t.due_ms, t.status, t.close_note, t.closed_by";

fn task_from_row(r: &sqlx::any::AnyRow, now: i64) -> Result<Task, sqlx::Error> {
    let status: String = r.try_get("status")?;
    let due_ms: i64 = r.try_get("due_ms")?;
    let name: String = r.try_get("person_name")?;
    Ok(Task {
        id: r.try_get("id")?,
        visit_id: r.try_get("visit_id")?,
        person_id: r.try_get("person_id")?,
        person_name_masked: mask_name(&name),
        region_code: r.try_get("region_code")?,
        need: r.try_get("need")?,
        owner: r.try_get("owner")?,
        due_date: r.try_get("due_date")?,
        overdue: status == "open" && due_ms <= now,
        status,
        close_note: r.try_get("close_note")?,
        closed_by: r.try_get("closed_by")?,
    })
}

fn visit_from_row(r: &sqlx::any::AnyRow) -> AppResult<Visit> {
    let method: String = r.try_get("method")?;
    let needs: String = r.try_get("needs")?;
    Ok(Visit {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        visited_by: r.try_get("visited_by")?,
        visited_on: r.try_get("visited_on")?,
        method_label: method_label(&method).to_string(),
        method,
        findings: r.try_get("findings")?,
        needs: serde_json::from_str(&needs).unwrap_or_default(),
        help_given: r.try_get("help_given")?,
        tasks: Vec::new(),
    })
}

const VISIT_COLS: &str =
    "id, person_id, visited_by, visited_on, method, findings, needs, help_given";

async fn tasks_of_visit(conn: &mut AnyConnection, visit_id: i64, now: i64) -> AppResult<Vec<Task>> {
    let sql = format!(
        "SELECT {TASK_COLS} FROM care_tasks t JOIN persons p ON p.id = t.person_id \
         WHERE t.visit_id = $1 ORDER BY t.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(visit_id)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .iter()
        .map(|r| task_from_row(r, now))
        .collect::<Result<_, _>>()?)
}

/// One visit with its tasks, if its person is in scope.
pub async fn get_visit(state: &AppState, actor: &Actor, id: i64) -> AppResult<Visit> {
    actor.require(Permission::PersonsRead)?;
    let mut conn = state.db.pool().acquire().await?;
    let sql = format!("SELECT {VISIT_COLS} FROM care_visits WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(AppError::not_found)?;
    let mut v = visit_from_row(&row)?;
    person_in_scope(&mut conn, actor, v.person_id).await?;
    v.tasks = tasks_of_visit(&mut conn, id, state.now_ms()).await?;
    Ok(v)
}

/// Turn one need of a visit into a follow-up task with an owner and a due date.
pub async fn add_task(
    state: &AppState,
    actor: &Actor,
    visit_id: i64,
    input: &NewTask,
) -> AppResult<Task> {
    actor.require(Permission::PersonsWrite)?;
    let due = date("due_date", &input.due_date)?;
    if due < today(state) {
        return Err(verr("due_date", "不能早于今天"));
    }
    let owner = text("owner", &input.owner, 64, true)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let sql = format!("SELECT {VISIT_COLS} FROM care_visits WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(visit_id)
        .fetch_optional(w.conn())
        .await?
        .ok_or_else(AppError::not_found)?;
    let v = visit_from_row(&row)?;
    let (region, _) = person_in_scope(w.conn(), actor, v.person_id).await?;
    let need = v
        .needs
        .get(input.need_index)
        .cloned()
        .ok_or_else(|| verr("need_index", "该次走访没有这一项需求"))?;
    // The owner must be an active user inside the caller's scope who can see the person.
    let u = sqlx::query("SELECT scope, disabled FROM users WHERE username = $1")
        .bind(&owner)
        .fetch_optional(w.conn())
        .await?;
    let owner_ok = match u {
        Some(u) => {
            let scope: String = u.try_get("scope")?;
            let disabled: i64 = u.try_get("disabled")?;
            disabled == 0
                && actor.sees_scope_str(&scope)
                && backstop_core::region::Scope::parse(&scope)
                    .is_ok_and(|s| RegionCode::parse(&region).is_ok_and(|c| s.contains(&c)))
        }
        None => false,
    };
    if !owner_ok {
        return Err(verr("owner", "不是您管辖范围内负责该人员的用户"));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO care_tasks (visit_id, person_id, need, owner, due_date, due_ms, status, \
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8) RETURNING id",
    )
    .bind(visit_id)
    .bind(v.person_id)
    .bind(&need)
    .bind(&owner)
    .bind(ymd(due))
    .bind(end_of_day_ms(due))
    .bind(&actor.username)
    .bind(now)
    .fetch_one(w.conn())
    .await?;
    audit_in(
        w.conn(),
        state,
        actor,
        now,
        "care.task.create",
        "care_task",
        id,
        &region,
        json!({"visit_id": visit_id, "person_id": v.person_id, "need": need,
               "owner": owner, "due_date": ymd(due)}),
    )
    .await?;
    w.commit().await?;
    one_task(state, actor, id).await
}

pub(crate) async fn one_task(state: &AppState, actor: &Actor, id: i64) -> AppResult<Task> {
    actor.require(Permission::PersonsRead)?;
    let sql = format!(
        "SELECT {TASK_COLS} FROM care_tasks t JOIN persons p ON p.id = t.person_id WHERE t.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let t = task_from_row(&row, state.now_ms())?;
    let code = RegionCode::parse(&t.region_code).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    Ok(t)
}

/// Close an open task with a note.
pub async fn close_task(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &CloseTask,
) -> AppResult<Task> {
    actor.require(Permission::PersonsWrite)?;
    let note = text("note", &input.note, 500, true)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let row = sqlx::query("SELECT person_id, status FROM care_tasks WHERE id = $1")
        .bind(id)
        .fetch_optional(w.conn())
        .await?
        .ok_or_else(AppError::not_found)?;
    let person_id: i64 = row.try_get("person_id")?;
    let status: String = row.try_get("status")?;
    let (region, _) = person_in_scope(w.conn(), actor, person_id).await?;
    if status != "open" {
        return Err(AppError::msg(ErrorCode::Conflict, "该任务已办结"));
    }
    sqlx::query(
        "UPDATE care_tasks SET status = 'closed', close_note = $1, closed_by = $2, closed_at = $3 \
         WHERE id = $4",
    )
    .bind(&note)
    .bind(&actor.username)
    .bind(now)
    .bind(id)
    .execute(w.conn())
    .await?;
    audit_in(
        w.conn(),
        state,
        actor,
        now,
        "care.task.close",
        "care_task",
        id,
        &region,
        json!({"status": {"before": "open", "after": "closed"}, "note": note}),
    )
    .await?;
    w.commit().await?;
    one_task(state, actor, id).await
}

fn bounds(actor: &Actor, region: Option<&str>) -> AppResult<(String, String)> {
    Ok(match region.map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => {
            let code = RegionCode::parse(r).map_err(|_| AppError::not_found())?;
            actor.check_region(&code)?;
            code.scope_bounds()
        }
        None => actor.scope_bounds(),
    })
}

/// Tasks of persons in a region of the caller's scope (`overdue`: open with the due date
/// passed by the injected clock), soonest due first.
pub async fn list_tasks(state: &AppState, actor: &Actor, q: &TaskQuery) -> AppResult<Vec<Task>> {
    actor.require(Permission::PersonsRead)?;
    let (lo, hi) = bounds(actor, q.region.as_deref())?;
    let now = state.now_ms();
    let filter = match q.status.as_deref().unwrap_or("open") {
        "" | "open" => "t.status = 'open'",
        "overdue" => "t.status = 'open' AND t.due_ms <= $3",
        "closed" => "t.status = 'closed'",
        "all" => "1 = 1",
        _ => return Err(verr("status", "应为 open、overdue、closed 或 all")),
    };
    let sql = format!(
        "SELECT {TASK_COLS} FROM care_tasks t JOIN persons p ON p.id = t.person_id \
         WHERE p.region_code >= $1 AND p.region_code < $2 AND {filter} \
         ORDER BY t.due_ms, t.id LIMIT 2000"
    );
    let mut qy = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(lo).bind(hi);
    if filter.contains("$3") {
        qy = qy.bind(now);
    }
    let rows = qy.fetch_all(state.db.pool()).await?;
    Ok(rows
        .iter()
        .map(|r| task_from_row(r, now))
        .collect::<Result<_, _>>()?)
}

// ---------------------------------------------------------------- a person's care record

/// Everything about one person's care: memberships, carer, recent checks, visits with tasks.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CareRecord {
    pub person_id: i64,
    pub name: String,
    pub region_code: String,
    pub memberships: Vec<Membership>,
    pub carer: Option<Carer>,
    /// The last 30 daily checks, newest first.
    pub checks: Vec<DailyCheck>,
    /// Newest first.
    pub visits: Vec<Visit>,
    /// True when the person is dispersed 特困 today (a carer and daily checks apply).
    pub dispersed_tekun: bool,
}

/// The care record of a person in scope.
pub async fn record(state: &AppState, actor: &Actor, person_id: i64) -> AppResult<CareRecord> {
    actor.require(Permission::PersonsRead)?;
    let mut conn = state.db.pool().acquire().await?;
    let (region_code, name) = person_in_scope(&mut conn, actor, person_id).await?;
    let rows = sqlx::query(
        "SELECT id, person_id, category, start_date, end_date, deciding_body FROM care_memberships \
         WHERE person_id = $1 ORDER BY start_date DESC, id DESC",
    )
    .bind(person_id)
    .fetch_all(&mut *conn)
    .await?;
    let memberships = rows
        .iter()
        .map(membership_from_row)
        .collect::<Result<_, _>>()?;
    let carer = load_carer(&mut conn, person_id).await?;
    let sql = format!(
        "SELECT {CHECK_COLS} FROM care_daily_checks WHERE person_id = $1 \
         ORDER BY check_date DESC LIMIT 30"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(person_id)
        .fetch_all(&mut *conn)
        .await?;
    let checks = rows
        .iter()
        .map(|r| check_from_row(r, false))
        .collect::<Result<_, _>>()?;
    let sql = format!(
        "SELECT {VISIT_COLS} FROM care_visits WHERE person_id = $1 \
         ORDER BY visited_on DESC, id DESC LIMIT 200"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(person_id)
        .fetch_all(&mut *conn)
        .await?;
    let now = state.now_ms();
    let mut visits = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut v = visit_from_row(r)?;
        v.tasks = tasks_of_visit(&mut conn, v.id, now).await?;
        visits.push(v);
    }
    let dispersed_tekun = active_dispersed(&mut conn, person_id, &ymd(today(state))).await?;
    Ok(CareRecord {
        person_id,
        name,
        region_code,
        memberships,
        carer,
        checks,
        visits,
        dispersed_tekun,
    })
}

// ---------------------------------------------------------------- coverage

/// Region and period of a coverage view.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct CoverageQuery {
    /// Region code; default the caller's scope.
    pub region: Option<String>,
    /// `YYYY-MM-DD`; default the first day of the current month.
    pub from: Option<String>,
    /// `YYYY-MM-DD`; default today.
    pub to: Option<String>,
    /// Only for the not-contacted list: one category.
    pub category: Option<String>,
}

/// One row of the coverage view.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CoverageRow {
    pub category: String,
    pub category_label: String,
    /// Persons in the category at some time in the period.
    pub members: i64,
    /// Of those, persons visited at least once in the period.
    pub contacted: i64,
    /// contacted / members (0 when there are no members).
    pub share: f64,
}

/// The coverage view.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Coverage {
    pub region: String,
    pub from: String,
    pub to: String,
    /// Every category, in the fixed order.
    pub rows: Vec<CoverageRow>,
}

/// One member not contacted in the period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotContacted {
    pub person_id: i64,
    pub name_masked: String,
    pub region_code: String,
    pub region_name: String,
    pub categories: Vec<String>,
}

struct Period {
    lo: String,
    hi: String,
    region: String,
    from: String,
    to: String,
}

fn period(state: &AppState, actor: &Actor, q: &CoverageQuery) -> AppResult<Period> {
    let (lo, hi) = bounds(actor, q.region.as_deref())?;
    let today = today(state);
    let opt = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let from = match opt(&q.from) {
        Some(s) => date("from", &s)?,
        None => today.with_day0(0).unwrap_or(today),
    };
    let to = match opt(&q.to) {
        Some(s) => date("to", &s)?,
        None => today,
    };
    if to < from {
        return Err(verr("to", "不能早于开始日期"));
    }
    Ok(Period {
        region: q
            .region
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .unwrap_or_else(|| {
                actor
                    .scope
                    .region()
                    .map(|c| c.to_string())
                    .unwrap_or_default()
            }),
        lo,
        hi,
        from: ymd(from),
        to: ymd(to),
    })
}

const ACTIVE: &str = "m.start_date <= $4 AND (m.end_date = '' OR m.end_date >= $3)";
const CONTACTED: &str = "EXISTS (SELECT 1 FROM care_visits v WHERE v.person_id = m.person_id \
    AND v.visited_on >= $3 AND v.visited_on <= $4)";

/// Per category: members active in the period, how many were contacted, the share.
pub async fn coverage(state: &AppState, actor: &Actor, q: &CoverageQuery) -> AppResult<Coverage> {
    actor.require(Permission::PersonsRead)?;
    let p = period(state, actor, q)?;
    let sql = format!(
        "SELECT m.category, CAST(COUNT(DISTINCT m.person_id) AS BIGINT) AS members, \
         CAST(COUNT(DISTINCT CASE WHEN {CONTACTED} THEN m.person_id END) AS BIGINT) AS contacted \
         FROM care_memberships m JOIN persons p ON p.id = m.person_id \
         WHERE p.region_code >= $1 AND p.region_code < $2 AND {ACTIVE} GROUP BY m.category"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&p.lo)
        .bind(&p.hi)
        .bind(&p.from)
        .bind(&p.to)
        .fetch_all(state.db.pool())
        .await?;
    let mut counts = std::collections::HashMap::new();
    for r in &rows {
        let c: String = r.try_get("category")?;
        let m: i64 = r.try_get("members")?;
        let k: i64 = r.try_get("contacted")?;
        counts.insert(c, (m, k));
    }
    let rows = CATEGORIES
        .iter()
        .map(|(id, label)| {
            let (members, contacted) = counts.get(*id).copied().unwrap_or((0, 0));
            CoverageRow {
                category: (*id).to_string(),
                category_label: (*label).to_string(),
                members,
                contacted,
                share: if members > 0 {
                    contacted as f64 / members as f64
                } else {
                    0.0
                },
            }
        })
        .collect();
    Ok(Coverage {
        region: p.region,
        from: p.from,
        to: p.to,
        rows,
    })
}

/// Members active in the period and not visited in it (names masked), optionally of one
/// category; at most 5000, by region and id.
pub async fn not_contacted(
    state: &AppState,
    actor: &Actor,
    q: &CoverageQuery,
) -> AppResult<Vec<NotContacted>> {
    actor.require(Permission::PersonsRead)?;
    let p = period(state, actor, q)?;
    let category = match q
        .category
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(c) => Some(parse_category(c).ok_or_else(|| verr("category", "未知的类别"))?),
        None => None,
    };
    let cat_filter = if category.is_some() {
        " AND m.category = $5"
    } else {
        ""
    };
    let sql = format!(
        "SELECT m.person_id, m.category, p.name, p.region_code, r.name AS region_name \
         FROM care_memberships m JOIN persons p ON p.id = m.person_id \
         LEFT JOIN regions r ON r.code = p.region_code \
         WHERE p.region_code >= $1 AND p.region_code < $2 AND {ACTIVE}{cat_filter} \
         AND NOT {CONTACTED} ORDER BY p.region_code, m.person_id, m.category LIMIT 20000"
    );
    let mut qy = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&p.lo)
        .bind(&p.hi)
        .bind(&p.from)
        .bind(&p.to);
    if let Some(c) = category {
        qy = qy.bind(c);
    }
    let rows = qy.fetch_all(state.db.pool()).await?;
    let mut out: Vec<NotContacted> = Vec::new();
    for r in &rows {
        let pid: i64 = r.try_get("person_id")?;
        let cat: String = r.try_get("category")?;
        let label = category_label(&cat).to_string();
        match out.last_mut() {
            Some(last) if last.person_id == pid => {
                if !last.categories.contains(&label) {
                    last.categories.push(label);
                }
            }
            _ => {
                if out.len() >= 5000 {
                    break;
                }
                let name: String = r.try_get("name")?;
                out.push(NotContacted {
                    person_id: pid,
                    name_masked: mask_name(&name),
                    region_code: r.try_get("region_code")?,
                    region_name: r
                        .try_get::<Option<String>, _>("region_name")?
                        .unwrap_or_default(),
                    categories: vec![label],
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_parse_both_ways() {
        assert_eq!(parse_category("dibao"), Some("dibao"));
        assert_eq!(parse_category("特困（分散供养）"), Some("tekun_dispersed"));
        assert_eq!(parse_category("nope"), None);
        assert_eq!(category_label("registered_poor"), "建档立卡");
        assert_eq!(categories().len(), 14);
    }
}
