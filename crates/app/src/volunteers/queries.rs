//! Every SQL statement of the volunteers area, and the only place in it that runs one.
//!
//! Staff reads take a [`Scoped`] handle: lists are limited to its code range in SQL, a row
//! fetched by id is let through [`Scoped::admit`]. The public side reads by the volunteer the
//! verified phone registered (its blind index). Writes take the open [`Tx`]; the service
//! commits it with the audit entry. A place on a task is taken by a conditional update of the
//! task's counter (`taken < needed`), so concurrent sign-ups never exceed it.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Shift, Task, Volunteer, beijing, kind_label, province_of, skill_labels};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::AppResult;
use crate::kernel::queries::{
    admitted, admitted_row, all, ranged, region_name, regional, text_or_empty,
};
use crate::state::AppState;
use backstop_core::clock::rfc3339;
use backstop_core::mask::{mask_name, mask_phone};

regional!(VolunteerRow, Task);

/// `[prefix, prefix + ':')`: every code that begins with `prefix` (`:` sorts after digits).
fn prefix_range(prefix: &str) -> (String, String) {
    (prefix.to_string(), format!("{prefix}:"))
}

/// A volunteer with name and phone opened (the service masks them for staff).
#[derive(Debug, Clone)]
pub(super) struct VolunteerRow {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub name: String,
    pub phone: String,
    pub skills: String,
    pub availability: String,
    pub health_ok_on: String,
    pub org_id: Option<i64>,
    pub org_name: String,
    pub created_at: i64,
}

impl VolunteerRow {
    /// As shown: masked for staff, in full to the volunteer.
    pub fn shown(self, masked: bool) -> Volunteer {
        Volunteer {
            id: self.id,
            region_code: self.region_code,
            region_name: self.region_name,
            name: if masked {
                mask_name(&self.name)
            } else {
                self.name
            },
            phone_masked: mask_phone(&self.phone),
            skill_labels: skill_labels(&self.skills),
            skills: self
                .skills
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            availability: self.availability,
            health_ok_on: self.health_ok_on,
            org_id: self.org_id,
            org_name: self.org_name,
            created_at: rfc3339(self.created_at),
        }
    }
}

const V_COLS: &str = "v.id, v.region_code, r.name AS region_name, v.phone_enc, v.name_enc, v.skills, \
    v.availability, v.health_ok_on, v.org_id, o.name AS org_name, v.created_at";
const V_FROM: &str = "volunteers v LEFT JOIN regions r ON r.code = v.region_code LEFT JOIN orgs o ON o.id = v.org_id";

fn open(state: &AppState, enc: &[u8]) -> String {
    state
        .keys
        .decrypt(enc)
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

fn volunteer_from_row(state: &AppState, r: &AnyRow) -> Result<VolunteerRow, sqlx::Error> {
    let phone: Vec<u8> = r.try_get("phone_enc")?;
    let name: Vec<u8> = r.try_get("name_enc")?;
    Ok(VolunteerRow {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        region_name: region_name(r)?,
        name: open(state, &name),
        phone: open(state, &phone),
        skills: r.try_get("skills")?,
        availability: r.try_get("availability")?,
        health_ok_on: r.try_get("health_ok_on")?,
        org_id: r.try_get("org_id")?,
        org_name: text_or_empty(r, "org_name")?,
        created_at: r.try_get("created_at")?,
    })
}

/// The volunteer a phone (blind index) registered.
pub(super) async fn volunteer_by_phone(
    state: &AppState,
    index: &str,
) -> AppResult<Option<VolunteerRow>> {
    let sql =
        format!("SELECT {V_COLS} FROM {V_FROM} WHERE v.phone_index = $1 ORDER BY v.id LIMIT 1");
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(index.to_string());
    Ok(all(state, q, |r| volunteer_from_row(state, r))
        .await?
        .into_iter()
        .next())
}

/// One volunteer under the handle.
pub(super) async fn volunteer_scoped(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<VolunteerRow> {
    let sql = format!("SELECT {V_COLS} FROM {V_FROM} WHERE v.id = $1");
    admitted_row(state, scope, sql, id, |r| volunteer_from_row(state, r)).await
}

/// Volunteers under the handle, newest first (at most 2,000).
pub(super) async fn volunteers(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<VolunteerRow>> {
    let sql = format!(
        "SELECT {V_COLS} FROM {V_FROM} WHERE v.region_code >= $1 AND v.region_code < $2 \
         ORDER BY v.id DESC LIMIT 2000"
    );
    all(state, ranged(scope, sql), |r| volunteer_from_row(state, r)).await
}

/// Social organisations and social-work agencies under a region prefix: (id, name).
pub(super) async fn orgs_under(state: &AppState, prefix: &str) -> AppResult<Vec<(i64, String)>> {
    let (lo, hi) = prefix_range(prefix);
    let q = sqlx::query(
        "SELECT id, name FROM orgs WHERE kind IN ('social_organisation', 'social_work') \
         AND region_code >= $1 AND region_code < $2 ORDER BY name, id",
    )
    .bind(lo)
    .bind(hi);
    all(state, q, |r| Ok((r.try_get("id")?, r.try_get("name")?))).await
}

/// A new volunteer row.
pub(super) struct NewVolunteerRow<'a> {
    pub region_code: &'a str,
    pub phone_index: &'a str,
    pub phone_enc: Vec<u8>,
    pub name_enc: Vec<u8>,
    pub skills: &'a str,
    pub availability: &'a str,
    pub health_ok_on: &'a str,
    pub org_id: Option<i64>,
}

pub(super) async fn insert_volunteer(tx: &mut Tx, n: &NewVolunteerRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO volunteers (province, region_code, phone_index, phone_enc, name_enc, skills, availability, \
         health_ok_on, org_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
         RETURNING id",
    )
    .bind(province_of(n.region_code))
    .bind(n.region_code.to_string())
    .bind(n.phone_index.to_string())
    .bind(n.phone_enc.clone())
    .bind(n.name_enc.clone())
    .bind(n.skills.to_string())
    .bind(n.availability.to_string())
    .bind(n.health_ok_on.to_string())
    .bind(n.org_id)
    .bind(now);
    tx.insert(q).await
}

// ---------------------------------------------------------------- tasks

const T_COLS: &str = "t.id, t.region_code, r.name AS region_name, t.kind, t.title, t.address, t.starts_at, \
    t.ends_at, t.needed, t.taken, t.skills, t.note, t.status, t.created_by";
const T_FROM: &str = "volunteer_tasks t LEFT JOIN regions r ON r.code = t.region_code";

fn task_from_row(r: &AnyRow, now: i64) -> Result<Task, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    let skills: String = r.try_get("skills")?;
    let status: String = r.try_get("status")?;
    let starts_at: i64 = r.try_get("starts_at")?;
    let ends_at: i64 = r.try_get("ends_at")?;
    let needed: i64 = r.try_get("needed")?;
    let taken: i64 = r.try_get("taken")?;
    let status_label = if status == "cancelled" {
        "已取消"
    } else if ends_at <= now {
        "已结束"
    } else if taken >= needed {
        "已满"
    } else {
        "报名中"
    };
    Ok(Task {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        region_name: region_name(r)?,
        kind_label: kind_label(&kind).to_string(),
        kind,
        title: r.try_get("title")?,
        address: r.try_get("address")?,
        starts: beijing(starts_at),
        ends: beijing(ends_at),
        needed,
        taken,
        skill_labels: skill_labels(&skills),
        skills: skills
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        note: r.try_get("note")?,
        status,
        status_label: status_label.to_string(),
        created_by: r.try_get("created_by")?,
        starts_at,
        ends_at,
    })
}

/// A new task row.
pub(super) struct NewTaskRow<'a> {
    pub region_code: &'a str,
    pub kind: &'a str,
    pub title: &'a str,
    pub address: &'a str,
    pub starts_at: i64,
    pub ends_at: i64,
    pub needed: i64,
    pub skills: &'a str,
    pub note: &'a str,
    pub by: &'a str,
}

pub(super) async fn insert_task(tx: &mut Tx, n: &NewTaskRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO volunteer_tasks (province, region_code, kind, title, address, starts_at, ends_at, needed, taken, \
         skills, note, status, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, 'open', $11, $12, $12) RETURNING id",
    )
    .bind(province_of(n.region_code))
    .bind(n.region_code.to_string())
    .bind(n.kind.to_string())
    .bind(n.title.to_string())
    .bind(n.address.to_string())
    .bind(n.starts_at)
    .bind(n.ends_at)
    .bind(n.needed)
    .bind(n.skills.to_string())
    .bind(n.note.to_string())
    .bind(n.by.to_string())
    .bind(now);
    tx.insert(q).await
}

/// One task, without scope (the public side checks the volunteer's township itself).
pub(super) async fn task(state: &AppState, id: i64) -> AppResult<Option<Task>> {
    let sql = format!("SELECT {T_COLS} FROM {T_FROM} WHERE t.id = $1");
    let now = state.now_ms();
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
    Ok(all(state, q, |r| task_from_row(r, now))
        .await?
        .into_iter()
        .next())
}

/// One task under the handle.
pub(super) async fn task_scoped(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Task> {
    let sql = format!("SELECT {T_COLS} FROM {T_FROM} WHERE t.id = $1");
    let now = state.now_ms();
    admitted_row(state, scope, sql, id, |r| task_from_row(r, now)).await
}

/// Tasks under the handle, latest start first (at most 500).
pub(super) async fn tasks(state: &AppState, scope: &Scoped<'_>, now: i64) -> AppResult<Vec<Task>> {
    let sql = format!(
        "SELECT {T_COLS} FROM {T_FROM} WHERE t.region_code >= $1 AND t.region_code < $2 \
         ORDER BY t.starts_at DESC, t.id DESC LIMIT 500"
    );
    all(state, ranged(scope, sql), |r| task_from_row(r, now)).await
}

/// Open tasks under a region prefix that have not ended, soonest first (at most 200).
pub(super) async fn open_tasks_under(
    state: &AppState,
    prefix: &str,
    now: i64,
) -> AppResult<Vec<Task>> {
    let (lo, hi) = prefix_range(prefix);
    let sql = format!(
        "SELECT {T_COLS} FROM {T_FROM} WHERE t.region_code >= $1 AND t.region_code < $2 \
         AND t.status = 'open' AND t.ends_at > $3 ORDER BY t.starts_at, t.id LIMIT 200"
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lo)
        .bind(hi)
        .bind(now);
    all(state, q, |r| task_from_row(r, now)).await
}

/// Take a place on a task if one is left: false, with nothing changed, when it is full.
pub(super) async fn take(tx: &mut Tx, task: &Task) -> AppResult<bool> {
    let now = tx.now();
    let n = tx
        .changed(
            sqlx::query(
                "UPDATE volunteer_tasks SET taken = taken + 1, updated_at = $1 \
                 WHERE province = $2 AND id = $3 AND status = 'open' AND taken < needed",
            )
            .bind(now)
            .bind(province_of(&task.region_code))
            .bind(task.id),
        )
        .await?;
    Ok(n == 1)
}

// ---------------------------------------------------------------- shifts

const S_COLS: &str = "s.id, s.task_id, t.title, t.kind, s.region_code, r.name AS region_name, t.starts_at, \
    t.ends_at, t.address, s.volunteer_id, v.name_enc, s.via, s.status, s.checkin_at, s.checkin_place, \
    s.checkout_at, s.checkout_place, s.minutes, s.confirmed_minutes, s.confirmed_by, s.adjust_reason";
const S_FROM: &str = "volunteer_shifts s JOIN volunteer_tasks t ON t.id = s.task_id \
    JOIN volunteers v ON v.id = s.volunteer_id LEFT JOIN regions r ON r.code = s.region_code";

fn shift_status_label(s: &str) -> &'static str {
    match s {
        "signed" => "已报名",
        "checked_in" => "已签到",
        "checked_out" => "已签退，待确认",
        "confirmed" => "时长已确认",
        _ => "",
    }
}

fn shift_from_row(state: &AppState, r: &AnyRow) -> Result<Shift, sqlx::Error> {
    let status: String = r.try_get("status")?;
    let kind: String = r.try_get("kind")?;
    let name: Vec<u8> = r.try_get("name_enc")?;
    Ok(Shift {
        id: r.try_get("id")?,
        task_id: r.try_get("task_id")?,
        task_title: r.try_get("title")?,
        task_kind_label: kind_label(&kind).to_string(),
        task_region_code: r.try_get("region_code")?,
        task_region_name: region_name(r)?,
        task_starts: beijing(r.try_get("starts_at")?),
        task_ends: beijing(r.try_get("ends_at")?),
        task_address: r.try_get("address")?,
        volunteer_id: r.try_get("volunteer_id")?,
        volunteer_name: mask_name(&open(state, &name)),
        via: r.try_get("via")?,
        status_label: shift_status_label(&status).to_string(),
        status,
        checkin_at: r.try_get::<Option<i64>, _>("checkin_at")?.map(beijing),
        checkin_place: r.try_get("checkin_place")?,
        checkout_at: r.try_get::<Option<i64>, _>("checkout_at")?.map(beijing),
        checkout_place: r.try_get("checkout_place")?,
        minutes: r.try_get("minutes")?,
        confirmed_minutes: r.try_get("confirmed_minutes")?,
        confirmed_by: r.try_get("confirmed_by")?,
        adjust_reason: r.try_get("adjust_reason")?,
    })
}

pub(super) async fn insert_shift(
    tx: &mut Tx,
    task: &Task,
    v: &super::queries::VolunteerRow,
    via: &str,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO volunteer_shifts (province, task_id, volunteer_id, region_code, org_id, via, status, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'signed', $7, $8, $8) RETURNING id",
    )
    .bind(province_of(&task.region_code))
    .bind(task.id)
    .bind(v.id)
    .bind(task.region_code.clone())
    .bind(v.org_id)
    .bind(via.to_string())
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

/// The shift of a volunteer on a task (name masked).
pub(super) async fn shift_of(
    state: &AppState,
    task_id: i64,
    volunteer_id: i64,
) -> AppResult<Option<Shift>> {
    let sql = format!("SELECT {S_COLS} FROM {S_FROM} WHERE s.task_id = $1 AND s.volunteer_id = $2");
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(task_id)
        .bind(volunteer_id);
    Ok(all(state, q, |r| shift_from_row(state, r))
        .await?
        .into_iter()
        .next())
}

/// One shift under the handle (its task's region).
pub(super) async fn shift_scoped(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Shift> {
    let sql = format!("SELECT {S_COLS} FROM {S_FROM} WHERE s.id = $1");
    admitted(
        state,
        scope,
        sql,
        id,
        |r| shift_from_row(state, r),
        |s| &s.task_region_code,
    )
    .await
}

/// The shifts of a task, in the order they were made.
pub(super) async fn shifts_of_task(state: &AppState, task_id: i64) -> AppResult<Vec<Shift>> {
    let sql = format!("SELECT {S_COLS} FROM {S_FROM} WHERE s.task_id = $1 ORDER BY s.id");
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(task_id);
    all(state, q, |r| shift_from_row(state, r)).await
}

/// The shifts of a volunteer, latest task first (at most 500).
pub(super) async fn shifts_of_volunteer(
    state: &AppState,
    volunteer_id: i64,
) -> AppResult<Vec<Shift>> {
    let sql = format!(
        "SELECT {S_COLS} FROM {S_FROM} WHERE s.volunteer_id = $1 ORDER BY t.starts_at DESC, s.id DESC LIMIT 500"
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(volunteer_id);
    all(state, q, |r| shift_from_row(state, r)).await
}

/// Check in (only from `signed`): false when it was not.
pub(super) async fn check_in(tx: &mut Tx, id: i64, place: &str) -> AppResult<bool> {
    let now = tx.now();
    let n = tx
        .changed(
            sqlx::query(
                "UPDATE volunteer_shifts SET status = 'checked_in', checkin_at = $1, checkin_place = $2, updated_at = $1 \
                 WHERE id = $3 AND status = 'signed'",
            )
            .bind(now)
            .bind(place.to_string())
            .bind(id),
        )
        .await?;
    Ok(n == 1)
}

/// Check out (only from `checked_in`): the whole minutes since the check-in, or `None` when it
/// was not checked in.
pub(super) async fn check_out(tx: &mut Tx, id: i64, place: &str) -> AppResult<Option<i64>> {
    let now = tx.now();
    let row = sqlx::query(
        "SELECT checkin_at FROM volunteer_shifts WHERE id = $1 AND status = 'checked_in'",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let checkin: Option<i64> = row.try_get("checkin_at")?;
    let Some(checkin) = checkin else {
        return Ok(None);
    };
    let minutes = (now - checkin).max(0) / super::MINUTE_MS;
    let n = tx
        .changed(
            sqlx::query(
                "UPDATE volunteer_shifts SET status = 'checked_out', checkout_at = $1, checkout_place = $2, \
                 minutes = $3, updated_at = $1 WHERE id = $4 AND status = 'checked_in'",
            )
            .bind(now)
            .bind(place.to_string())
            .bind(minutes)
            .bind(id),
        )
        .await?;
    Ok((n == 1).then_some(minutes))
}

/// Confirm (or adjust) the minutes of a shift.
pub(super) async fn confirm(
    tx: &mut Tx,
    id: i64,
    minutes: i64,
    reason: &str,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "UPDATE volunteer_shifts SET status = 'confirmed', confirmed_minutes = $1, adjust_reason = $2, \
             confirmed_by = $3, confirmed_at = $4, updated_at = $4 WHERE id = $5",
        )
        .bind(minutes)
        .bind(reason.to_string())
        .bind(by.to_string())
        .bind(now)
        .bind(id),
    )
    .await
}

// ---------------------------------------------------------------- totals

/// A confirmed shift, for the totals: region code (the task's), volunteer, organisation,
/// volunteer's name (opened), organisation's name, confirmed minutes.
#[derive(Debug, Clone)]
pub(super) struct Credited {
    pub region_code: String,
    pub volunteer_id: i64,
    pub volunteer_name: String,
    pub org_id: Option<i64>,
    pub org_name: String,
    pub minutes: i64,
}

/// Confirmed shifts under the handle.
pub(super) async fn credited(state: &AppState, scope: &Scoped<'_>) -> AppResult<Vec<Credited>> {
    let sql = "SELECT s.region_code, s.volunteer_id, v.name_enc, s.org_id, o.name AS org_name, s.confirmed_minutes \
         FROM volunteer_shifts s JOIN volunteers v ON v.id = s.volunteer_id LEFT JOIN orgs o ON o.id = s.org_id \
         WHERE s.region_code >= $1 AND s.region_code < $2 AND s.status = 'confirmed' ORDER BY s.id";
    all(state, ranged(scope, sql), |r| {
        let name: Vec<u8> = r.try_get("name_enc")?;
        Ok(Credited {
            region_code: r.try_get("region_code")?,
            volunteer_id: r.try_get("volunteer_id")?,
            volunteer_name: open(state, &name),
            org_id: r.try_get("org_id")?,
            org_name: text_or_empty(r, "org_name")?,
            minutes: r
                .try_get::<Option<i64>, _>("confirmed_minutes")?
                .unwrap_or(0),
        })
    })
    .await
}
