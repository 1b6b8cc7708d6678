//! Every SQL statement of care, and the only place in the area that runs one.
//!
//! Everything in care belongs to a person and is scoped by that person's current region. So
//! a read by id joins the person and lets the row through `Scoped::admit` on the person's
//! region (outside the handle: *not found*), and [`Person`] — made only by [`person`] — is the
//! proof the statements about one person's memberships, carer and checks take. Lists use the
//! handle's range on `persons.region_code` in SQL. Writing functions take the open [`Tx`]; the
//! service commits it with the audit entry.
//!
//! A membership's category is sealed (migration 0025): it is written as ciphertext, opened
//! by [`category_of`], and every filter or grouping by category happens in memory after the
//! rows of the handle's range are read (`coverage` holds the coverage view's).

mod coverage;

pub(super) use coverage::{coverage_counts, not_contacted};

use backstop_core::clock::end_of_beijing_day_ms;
use chrono::NaiveDate;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::carers::check_status_label;
use super::visits::method_label;
use super::{
    CareRecord, Carer, DailyCheck, Membership, Task, TaskStatus, Visit, category_label, ymd,
};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::{AppError, AppResult};
use crate::people::shown;
use crate::privacy;
use crate::state::AppState;

// ---------------------------------------------------------------- persons

/// A person let through a handle: only [`person`] makes one.
pub(super) struct Person {
    pub id: i64,
    pub region_code: String,
    pub name: String,
}

/// The row of `sql` for `id` (bound as `$1`), or *not found*.
async fn by_id(conn: &mut AnyConnection, sql: String, id: i64) -> AppResult<AnyRow> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// The person of a row joined with `persons` (`person_id`, `region_code`, `name`), with what
/// else was read, let through the handle.
fn admit<T>(scope: &Scoped<'_>, row: &AnyRow, with: T) -> AppResult<(T, Person)> {
    let p = Person {
        id: row.try_get("person_id")?,
        region_code: row.try_get("region_code")?,
        name: row.try_get("name")?,
    };
    scope.admit(&p.region_code.clone(), (with, p))
}

/// The row `id` of a care table (`table`, aliased `a`, with a `person_id`): its columns
/// `cols` read by `from_row`, and its person, let through the handle.
async fn of_person<T>(
    conn: &mut AnyConnection,
    scope: &Scoped<'_>,
    (table, a): (&str, &str),
    cols: &str,
    id: i64,
    from_row: impl FnOnce(&AnyRow) -> Result<T, sqlx::Error>,
) -> AppResult<(T, Person)> {
    let sql = format!(
        "SELECT {cols}, p.region_code, p.name FROM {table} {a} \
         JOIN persons p ON p.id = {a}.person_id WHERE {a}.id = $1"
    );
    let row = by_id(conn, sql, id).await?;
    admit(scope, &row, from_row(&row)?)
}

/// The person `id`, if it exists and lies under the handle; on `conn` — the pool's or the
/// open write's.
pub(super) async fn person(
    conn: &mut AnyConnection,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Person> {
    let sql = "SELECT id AS person_id, region_code, name FROM persons WHERE id = $1";
    let row = by_id(conn, sql.to_string(), id).await?;
    Ok(admit(scope, &row, ())?.1)
}

// ---------------------------------------------------------------- memberships

const MEMBERSHIP_COLS: &str =
    "m.id, m.person_id, m.category, m.category_enc, m.start_date, m.end_date, m.deciding_body";

/// The category of a membership row (`category` and `category_enc` selected): opened, or the
/// clear value of a row not yet sealed.
pub(crate) fn category_of(keys: &KeyRing, r: &AnyRow) -> Result<String, sqlx::Error> {
    privacy::text(keys, r, "category")
}

fn membership_from_row(keys: &KeyRing, r: &AnyRow) -> Result<Membership, sqlx::Error> {
    let category = category_of(keys, r)?;
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

pub(super) async fn insert_membership(
    tx: &mut Tx,
    keys: &KeyRing,
    m: &Membership,
    created_by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO care_memberships (person_id, category, category_enc, start_date, end_date, \
         deciding_body, created_by, created_at, updated_at) \
         VALUES ($1, '', $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(m.person_id)
    .bind(privacy::seal(keys, &m.category))
    .bind(&m.start_date)
    .bind(&m.end_date)
    .bind(&m.deciding_body)
    .bind(created_by)
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

/// The membership `id` and its person, if the person lies under the handle.
pub(super) async fn membership(
    conn: &mut AnyConnection,
    keys: &KeyRing,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<(Membership, Person)> {
    let table = ("care_memberships", "m");
    of_person(conn, scope, table, MEMBERSHIP_COLS, id, |r| {
        membership_from_row(keys, r)
    })
    .await
}

pub(super) async fn set_membership_end(tx: &mut Tx, id: i64, end: &str) -> AppResult<()> {
    let now = tx.now();
    sqlx::query("UPDATE care_memberships SET end_date = $1, updated_at = $2 WHERE id = $3")
        .bind(end)
        .bind(now)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Is the person dispersed 特困 on `on` (`YYYY-MM-DD`)?
pub(super) async fn dispersed_tekun(
    conn: &mut AnyConnection,
    keys: &KeyRing,
    p: &Person,
    on: &str,
) -> AppResult<bool> {
    let rows = sqlx::query(
        "SELECT category, category_enc FROM care_memberships WHERE person_id = $1 \
         AND start_date <= $2 AND (end_date = '' OR end_date >= $2)",
    )
    .bind(p.id)
    .bind(on)
    .fetch_all(conn)
    .await?;
    for r in &rows {
        if category_of(keys, r)? == "tekun_dispersed" {
            return Ok(true);
        }
    }
    Ok(false)
}

// ---------------------------------------------------------------- carer and daily checks

/// The carer as stored: shown fields plus the sealed phone.
pub(super) struct CarerRow<'a> {
    pub carer: &'a Carer,
    pub phone_enc: Option<Vec<u8>>,
    pub phone_index: Option<String>,
}

pub(super) async fn carer(conn: &mut AnyConnection, p: &Person) -> AppResult<Option<Carer>> {
    let row = sqlx::query(
        "SELECT name, phone_masked, relationship FROM care_carers WHERE person_id = $1",
    )
    .bind(p.id)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(r) => Some(Carer {
            person_id: p.id,
            name: r.try_get("name")?,
            phone_masked: r.try_get("phone_masked")?,
            relationship: r.try_get("relationship")?,
        }),
        None => None,
    })
}

pub(super) async fn update_carer(tx: &mut Tx, c: &CarerRow<'_>) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE care_carers SET name = $1, phone_enc = $2, phone_index = $3, \
         phone_masked = $4, relationship = $5, updated_at = $6 WHERE person_id = $7",
    )
    .bind(&c.carer.name)
    .bind(c.phone_enc.clone())
    .bind(c.phone_index.clone())
    .bind(&c.carer.phone_masked)
    .bind(&c.carer.relationship)
    .bind(now)
    .bind(c.carer.person_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(super) async fn insert_carer(tx: &mut Tx, c: &CarerRow<'_>) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "INSERT INTO care_carers (person_id, name, phone_enc, phone_index, phone_masked, \
         relationship, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(c.carer.person_id)
    .bind(&c.carer.name)
    .bind(c.phone_enc.clone())
    .bind(c.phone_index.clone())
    .bind(&c.carer.phone_masked)
    .bind(&c.carer.relationship)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

const CHECK_COLS: &str =
    "id, person_id, check_date, status, status_enc, note, note_enc, carer_name, recorded_by";

fn check_from_row(keys: &KeyRing, r: &AnyRow) -> Result<DailyCheck, sqlx::Error> {
    let status = privacy::text(keys, r, "status")?;
    Ok(DailyCheck {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        date: r.try_get("check_date")?,
        status_label: check_status_label(&status).to_string(),
        status,
        note: privacy::text(keys, r, "note")?,
        carer_name: r.try_get("carer_name")?,
        recorded_by: r.try_get("recorded_by")?,
        updated: false,
    })
}

/// The person's check of a day, if any.
pub(super) async fn check_of_day(
    conn: &mut AnyConnection,
    keys: &KeyRing,
    p: &Person,
    day: &str,
) -> AppResult<Option<DailyCheck>> {
    let sql = format!(
        "SELECT {CHECK_COLS} FROM care_daily_checks WHERE person_id = $1 AND check_date = $2"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(p.id)
        .bind(day)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(|r| check_from_row(keys, r)).transpose()?)
}

/// Record a check again; its status and note sealed.
pub(super) async fn update_check(tx: &mut Tx, keys: &KeyRing, c: &DailyCheck) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE care_daily_checks SET status = '', status_enc = $1, note = '', note_enc = $2, \
         carer_name = $3, recorded_by = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(privacy::seal(keys, &c.status))
    .bind(privacy::seal(keys, &c.note))
    .bind(&c.carer_name)
    .bind(&c.recorded_by)
    .bind(now)
    .bind(c.id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Record a check; its status and note sealed.
pub(super) async fn insert_check(tx: &mut Tx, keys: &KeyRing, c: &DailyCheck) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO care_daily_checks (person_id, check_date, status, status_enc, note, \
         note_enc, carer_name, recorded_by, created_at, updated_at) \
         VALUES ($1, $2, '', $3, '', $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(c.person_id)
    .bind(&c.date)
    .bind(privacy::seal(keys, &c.status))
    .bind(privacy::seal(keys, &c.note))
    .bind(&c.carer_name)
    .bind(&c.recorded_by)
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

// ---------------------------------------------------------------- visits

const VISIT_COLS: &str = "v.id, v.person_id, v.visited_by, v.visited_on, v.method, v.findings, \
    v.findings_enc, v.needs, v.needs_enc, v.help_given, v.help_given_enc";

fn visit_from_row(keys: &KeyRing, r: &AnyRow) -> Result<Visit, sqlx::Error> {
    let method: String = r.try_get("method")?;
    let needs = privacy::text(keys, r, "needs")?;
    Ok(Visit {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        visited_by: r.try_get("visited_by")?,
        visited_on: r.try_get("visited_on")?,
        method_label: method_label(&method).to_string(),
        method,
        findings: privacy::text(keys, r, "findings")?,
        needs: serde_json::from_str(&needs).unwrap_or_default(),
        help_given: privacy::text(keys, r, "help_given")?,
        tasks: Vec::new(),
    })
}

/// Insert a visit; what was found, the needs and the help given sealed.
pub(super) async fn insert_visit(
    tx: &mut Tx,
    keys: &KeyRing,
    v: &Visit,
    needs_json: &str,
) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO care_visits (person_id, visited_by, visited_on, method, findings, needs, \
         help_given, findings_enc, needs_enc, help_given_enc, created_at) \
         VALUES ($1, $2, $3, $4, '', '', '', $5, $6, $7, $8) RETURNING id",
    )
    .bind(v.person_id)
    .bind(&v.visited_by)
    .bind(&v.visited_on)
    .bind(&v.method)
    .bind(privacy::seal(keys, &v.findings))
    .bind(privacy::seal(keys, needs_json))
    .bind(privacy::seal(keys, &v.help_given))
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

/// The visit `id` (without tasks) and its person, if the person lies under the handle.
pub(super) async fn visit(
    conn: &mut AnyConnection,
    keys: &KeyRing,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<(Visit, Person)> {
    of_person(conn, scope, ("care_visits", "v"), VISIT_COLS, id, |r| {
        visit_from_row(keys, r)
    })
    .await
}

/// The visit `id` with its tasks, if its person lies under the handle.
pub(super) async fn visit_with_tasks(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Visit> {
    let mut conn = state.db.pool().acquire().await?;
    let (mut v, _) = visit(&mut conn, &state.keys, scope, id).await?;
    v.tasks = tasks_of_visit(&mut conn, &state.keys, v.id, state.now_ms()).await?;
    Ok(v)
}

// ---------------------------------------------------------------- tasks

const TASK_COLS: &str = "t.id, t.visit_id, t.person_id, p.name AS person_name, p.region_code, \
    t.need, t.need_enc, t.owner, t.due_date, t.due_ms, t.status, t.close_note, t.close_note_enc, \
    t.closed_by";

fn task_from_row(keys: &KeyRing, r: &AnyRow, now: i64) -> Result<Task, sqlx::Error> {
    let status: String = r.try_get("status")?;
    let due_ms: i64 = r.try_get("due_ms")?;
    let name: String = r.try_get("person_name")?;
    Ok(Task {
        id: r.try_get("id")?,
        visit_id: r.try_get("visit_id")?,
        person_id: r.try_get("person_id")?,
        person_name_masked: shown::name_in_list(&name),
        region_code: r.try_get("region_code")?,
        need: privacy::text(keys, r, "need")?,
        owner: r.try_get("owner")?,
        due_date: r.try_get("due_date")?,
        overdue: status == "open" && due_ms <= now,
        status,
        close_note: privacy::text(keys, r, "close_note")?,
        closed_by: r.try_get("closed_by")?,
    })
}

/// Tasks of a visit already let through (its person's tasks are its person's).
async fn tasks_of_visit(
    conn: &mut AnyConnection,
    keys: &KeyRing,
    visit_id: i64,
    now: i64,
) -> AppResult<Vec<Task>> {
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
        .map(|r| task_from_row(keys, r, now))
        .collect::<Result<_, _>>()?)
}

/// A user's stored scope and whether it is disabled, by username.
pub(super) async fn user_scope(
    conn: &mut AnyConnection,
    username: &str,
) -> AppResult<Option<(String, bool)>> {
    let row = sqlx::query("SELECT scope, disabled FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(u) => Some((u.try_get("scope")?, u.try_get::<i64, _>("disabled")? != 0)),
        None => None,
    })
}

/// A new task row.
pub(super) struct NewTaskRow<'a> {
    pub visit_id: i64,
    pub person_id: i64,
    pub need: &'a str,
    pub owner: &'a str,
    pub due: NaiveDate,
    pub created_by: &'a str,
}

/// Insert a task; the need sealed.
pub(super) async fn insert_task(tx: &mut Tx, keys: &KeyRing, t: &NewTaskRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO care_tasks (visit_id, person_id, need, need_enc, owner, due_date, due_ms, \
         status, created_by, created_at) VALUES ($1, $2, '', $3, $4, $5, $6, 'open', $7, $8) \
         RETURNING id",
    )
    .bind(t.visit_id)
    .bind(t.person_id)
    .bind(privacy::seal(keys, t.need))
    .bind(t.owner)
    .bind(ymd(t.due))
    .bind(end_of_beijing_day_ms(t.due))
    .bind(t.created_by)
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

/// The task `id`, if its person lies under the handle.
pub(super) async fn task(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Task> {
    let sql = format!(
        "SELECT {TASK_COLS}, p.name FROM care_tasks t JOIN persons p ON p.id = t.person_id \
         WHERE t.id = $1"
    );
    let mut conn = state.db.pool().acquire().await?;
    let row = by_id(&mut conn, sql, id).await?;
    Ok(admit(
        scope,
        &row,
        task_from_row(&state.keys, &row, state.now_ms())?,
    )?
    .0)
}

/// The status of task `id` and its person, if the person lies under the handle (inside the
/// write that would change it).
pub(super) async fn task_status(
    conn: &mut AnyConnection,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<(String, Person)> {
    let status = |r: &AnyRow| r.try_get::<String, _>("status");
    of_person(
        conn,
        scope,
        ("care_tasks", "t"),
        "t.status, t.person_id",
        id,
        status,
    )
    .await
}

/// Close a task; the note sealed.
pub(super) async fn close_task(
    tx: &mut Tx,
    keys: &KeyRing,
    id: i64,
    note: &str,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE care_tasks SET status = 'closed', close_note = '', close_note_enc = $1, \
         closed_by = $2, closed_at = $3 WHERE id = $4",
    )
    .bind(privacy::seal(keys, note))
    .bind(by)
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Tasks of persons under the handle, soonest due first, at most 2000.
pub(super) async fn tasks(
    state: &AppState,
    scope: &Scoped<'_>,
    status: TaskStatus,
) -> AppResult<Vec<Task>> {
    let now = state.now_ms();
    let filter = match status {
        TaskStatus::Open => "t.status = 'open'",
        TaskStatus::Overdue => "t.status = 'open' AND t.due_ms <= $3",
        TaskStatus::Closed => "t.status = 'closed'",
        TaskStatus::All => "1 = 1",
    };
    let sql = format!(
        "SELECT {TASK_COLS} FROM care_tasks t JOIN persons p ON p.id = t.person_id \
         WHERE p.region_code >= $1 AND p.region_code < $2 AND {filter} \
         ORDER BY t.due_ms, t.id LIMIT 2000"
    );
    let (lo, hi) = scope.range();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(lo).bind(hi);
    if status == TaskStatus::Overdue {
        q = q.bind(now);
    }
    let rows = q.fetch_all(state.db.pool()).await?;
    Ok(rows
        .iter()
        .map(|r| task_from_row(&state.keys, r, now))
        .collect::<Result<_, _>>()?)
}

// ---------------------------------------------------------------- a person's care record

/// The care record of person `person_id` under the handle; `today` is `YYYY-MM-DD`.
pub(super) async fn record(
    state: &AppState,
    scope: &Scoped<'_>,
    person_id: i64,
    today: &str,
) -> AppResult<CareRecord> {
    let mut conn = state.db.pool().acquire().await?;
    let p = person(&mut conn, scope, person_id).await?;
    let sql = format!(
        "SELECT {MEMBERSHIP_COLS} FROM care_memberships m WHERE m.person_id = $1 \
         ORDER BY m.start_date DESC, m.id DESC"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(p.id)
        .fetch_all(&mut *conn)
        .await?;
    let memberships = rows
        .iter()
        .map(|r| membership_from_row(&state.keys, r))
        .collect::<Result<_, _>>()?;
    let carer = carer(&mut conn, &p).await?;
    let sql = format!(
        "SELECT {CHECK_COLS} FROM care_daily_checks WHERE person_id = $1 \
         ORDER BY check_date DESC LIMIT 30"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(p.id)
        .fetch_all(&mut *conn)
        .await?;
    let checks = rows
        .iter()
        .map(|r| check_from_row(&state.keys, r))
        .collect::<Result<_, _>>()?;
    let sql = format!(
        "SELECT {VISIT_COLS} FROM care_visits v WHERE v.person_id = $1 \
         ORDER BY v.visited_on DESC, v.id DESC LIMIT 200"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(p.id)
        .fetch_all(&mut *conn)
        .await?;
    let now = state.now_ms();
    let mut visits = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut v = visit_from_row(&state.keys, r)?;
        v.tasks = tasks_of_visit(&mut conn, &state.keys, v.id, now).await?;
        visits.push(v);
    }
    let dispersed_tekun = dispersed_tekun(&mut conn, &state.keys, &p, today).await?;
    Ok(CareRecord {
        person_id: p.id,
        name: p.name,
        region_code: p.region_code,
        memberships,
        carer,
        checks,
        visits,
        dispersed_tekun,
    })
}
