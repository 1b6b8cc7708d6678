//! Every SQL statement of children's cases, and the only place in the area that runs one.
//!
//! Reading functions take a [`Scoped`] handle: a case is under the handle when its holder
//! (the level that holds it) is, or when the actor is its named worker or supervisor and the
//! child's village is under the handle; a case-bound actor (a social worker) reads only the
//! cases naming it. Writing functions take the open [`Tx`]. Sealed columns are opened here,
//! and only for the detail.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    CONTACT_KINDS, CaseEvent, CaseLine, ChildCase, Contact, GUARDIANSHIPS, HEALTH,
    LinkedApplication, LinkedGrant, NEEDS, PLACEMENTS, REASON_GROUPS, REASONS, STATUSES, Task,
    label, province_of,
};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{all, text_or_empty};
use crate::state::AppState;
use backstop_core::clock::rfc3339;

mod leads;
pub(super) use leads::*;

const COLS: &str = "c.id, c.region_code, COALESCE(r.name, '') AS region_name, c.holder_code, c.status, \
    c.person_id, c.name_masked, c.sex, c.birth_year, c.reason_group, c.guardianship, c.placement, \
    c.worker_id, COALESCE(w.username, '') AS worker, c.supervisor_id, COALESCE(s.username, '') AS supervisor, \
    c.source, c.lead_due_at, c.classify_due_at, c.classified_at, c.next_contact_at, c.follow_up_due_at, \
    c.application_id, c.aid_grant_id, c.created_at";

const FROM: &str = "FROM child_cases c LEFT JOIN regions r ON r.code = c.region_code \
    LEFT JOIN users w ON w.id = c.worker_id LEFT JOIN users s ON s.id = c.supervisor_id";

fn opt_time(ms: Option<i64>) -> Option<String> {
    ms.map(rfc3339)
}

fn line_from_row(r: &AnyRow, now: i64) -> Result<CaseLine, sqlx::Error> {
    let status: String = r.try_get("status")?;
    let group: String = r.try_get("reason_group")?;
    let guardianship: String = r.try_get("guardianship")?;
    let placement: String = r.try_get("placement")?;
    let lead_due: Option<i64> = r.try_get("lead_due_at")?;
    let classify_due: i64 = r.try_get("classify_due_at")?;
    let classified: Option<i64> = r.try_get("classified_at")?;
    let next_contact: Option<i64> = r.try_get("next_contact_at")?;
    let created: i64 = r.try_get("created_at")?;
    Ok(CaseLine {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        region_name: r.try_get("region_name")?,
        holder_code: r.try_get("holder_code")?,
        status_label: label(&STATUSES, &status).to_string(),
        lead_overdue: status == "lead" && lead_due.is_some_and(|d| d <= now),
        classify_overdue: status == "open" && classified.is_none() && classify_due <= now,
        contact_overdue: status == "open" && next_contact.is_some_and(|d| d <= now),
        status,
        person_id: r.try_get("person_id")?,
        name_masked: r.try_get("name_masked")?,
        sex: r.try_get("sex")?,
        birth_year: r.try_get("birth_year")?,
        reason: String::new(),
        reason_label: String::new(),
        reason_group_label: label(&REASON_GROUPS, &group).to_string(),
        reason_group: group,
        guardianship_label: label(&GUARDIANSHIPS, &guardianship).to_string(),
        guardianship,
        placement_label: label(&PLACEMENTS, &placement).to_string(),
        placement,
        worker_id: r.try_get("worker_id")?,
        worker: r.try_get("worker")?,
        supervisor_id: r.try_get("supervisor_id")?,
        supervisor: r.try_get("supervisor")?,
        source: r.try_get("source")?,
        lead_due_at: opt_time(lead_due),
        classify_due_at: rfc3339(classify_due),
        classified_at: opt_time(classified),
        next_contact_at: opt_time(next_contact),
        follow_up_due_at: opt_time(r.try_get("follow_up_due_at")?),
        application_id: r.try_get("application_id")?,
        aid_grant_id: r.try_get("aid_grant_id")?,
        created_at: rfc3339(created),
        shown_at: backstop_core::clock::format_beijing(backstop_core::clock::from_millis(created)),
    })
}

/// The opened text of a sealed column (empty when none; [`crate::privacy::UNREADABLE`] when
/// it does not open).
fn opened(keys: &KeyRing, r: &AnyRow, col: &str) -> Result<String, sqlx::Error> {
    let enc: Option<Vec<u8>> = r.try_get(col)?;
    Ok(enc
        .map(|e| {
            keys.decrypt(&e)
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_else(|| crate::privacy::UNREADABLE.to_string())
        })
        .unwrap_or_default())
}

/// Is the case under the handle (see the module documentation)?
fn visible(scope: &Scoped<'_>, c: &CaseLine) -> bool {
    let uid = scope.actor().user_id;
    let named = uid.is_some() && (c.worker_id == uid || c.supervisor_id == uid);
    let by_holder = scope.assignee().is_none() && scope.contains(&c.holder_code);
    by_holder || (named && scope.contains(&c.region_code))
}

/// Cases under the handle, newest first (at most 1,000), optionally in one status (default:
/// all but closed).
pub(super) async fn cases(
    state: &AppState,
    scope: &Scoped<'_>,
    status: Option<&str>,
) -> AppResult<Vec<CaseLine>> {
    let (lo, hi) = scope.range();
    let bound = i64::from(scope.assignee().is_some());
    let uid = scope.actor().user_id.unwrap_or(-1);
    let status_cond = match status {
        Some(_) => "c.status = $5",
        None => "c.status <> $5",
    };
    let sql = format!(
        "SELECT {COLS} {FROM} WHERE {status_cond} AND \
         ((c.holder_code >= $1 AND c.holder_code < $2 AND $3 = 0) \
          OR ((c.worker_id = $4 OR c.supervisor_id = $4) AND c.region_code >= $1 AND c.region_code < $2)) \
         ORDER BY c.id DESC LIMIT 1000"
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lo.to_string())
        .bind(hi.to_string())
        .bind(bound)
        .bind(uid)
        .bind(status.unwrap_or("closed").to_string());
    let now = state.now_ms();
    all(state, q, |r| line_from_row(r, now)).await
}

/// One case under the handle (else *not found*, the refusal logged).
pub(super) async fn case_line(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<CaseLine> {
    let sql = format!("SELECT {COLS} {FROM} WHERE c.id = $1");
    let now = state.now_ms();
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let c = line_from_row(&row, now)?;
    if visible(scope, &c) {
        Ok(c)
    } else {
        // Logged as a refusal without the row's content.
        let _ = scope.admit(&format!("{}~", c.holder_code), ());
        Err(AppError::not_found())
    }
}

/// One case under the handle with its sealed text opened, history, contacts and tasks.
pub(super) async fn case_full(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
    mine: bool,
) -> AppResult<ChildCase> {
    let line = case_line(state, scope, id).await?;
    let row = sqlx::query(
        "SELECT c.name_enc, c.where_enc, c.health_enc, c.history_enc, c.carer_enc, c.plan_enc, \
         c.close_reason_enc, c.reason_enc, c.reason AS clear_reason, c.placement_org_id, COALESCE(o.name, '') AS org_name, c.source_ref, \
         c.taken_at, c.closed_at, c.opened_by, a.programme AS app_programme, a.status AS app_status, \
         g.amount_fen AS grant_fen, g.status AS grant_status \
         FROM child_cases c LEFT JOIN orgs o ON o.id = c.placement_org_id \
         LEFT JOIN assistance_applications a ON a.id = c.application_id \
         LEFT JOIN assistance_aid_grants g ON g.id = c.aid_grant_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_one(state.db.pool())
    .await?;
    let keys = &state.keys;
    let mut line = line;
    // Sealed; a row written before migration 0038 until the startup step seals it.
    let reason = match opened(keys, &row, "reason_enc")? {
        r if r.is_empty() => row.try_get::<String, _>("clear_reason")?,
        r => r,
    };
    line.reason_label = label(&REASONS, &reason).to_string();
    line.reason = reason;
    let health = opened(keys, &row, "health_enc")?;
    let application = match (
        line.application_id,
        row.try_get::<Option<String>, _>("app_status")?,
    ) {
        (Some(aid), Some(st)) => Some(LinkedApplication {
            id: aid,
            programme: text_or_empty(&row, "app_programme")?,
            status_label: application_status_label(&st).to_string(),
            status: st,
        }),
        _ => None,
    };
    let grant = match (
        line.aid_grant_id,
        row.try_get::<Option<String>, _>("grant_status")?,
    ) {
        (Some(gid), Some(st)) => Some(LinkedGrant {
            id: gid,
            amount_fen: row.try_get::<Option<i64>, _>("grant_fen")?.unwrap_or(0),
            amount_yuan: backstop_core::Fen(
                row.try_get::<Option<i64>, _>("grant_fen")?.unwrap_or(0),
            )
            .to_yuan_string(),
            status_label: grant_status_label(&st).to_string(),
            status: st,
        }),
        _ => None,
    };
    let events = all(
        state,
        sqlx::query("SELECT kind, from_value, to_value, actor, at FROM child_case_events WHERE case_id = $1 ORDER BY id")
            .bind(id),
        |r| {
            Ok(CaseEvent {
                kind: r.try_get("kind")?,
                from_value: r.try_get("from_value")?,
                to_value: r.try_get("to_value")?,
                actor: r.try_get("actor")?,
                at: rfc3339(r.try_get("at")?),
            })
        },
    )
    .await?;
    let contacts = all(
        state,
        sqlx::query("SELECT id, kind, note_enc, next_due_at, by_user, at FROM child_case_contacts WHERE case_id = $1 ORDER BY id DESC")
            .bind(id),
        |r| {
            let kind: String = r.try_get("kind")?;
            Ok(Contact {
                id: r.try_get("id")?,
                kind_label: label(&CONTACT_KINDS, &kind).to_string(),
                kind,
                note: opened(keys, r, "note_enc")?,
                next_due_at: opt_time(r.try_get("next_due_at")?),
                by: r.try_get("by_user")?,
                at: rfc3339(r.try_get("at")?),
            })
        },
    )
    .await?;
    let tasks = tasks_of(state, id).await?;
    Ok(ChildCase {
        name: opened(keys, &row, "name_enc")?,
        where_now: opened(keys, &row, "where_enc")?,
        health_label: label(&HEALTH, &health).to_string(),
        health,
        contact_history: opened(keys, &row, "history_enc")?,
        carer_name: opened(keys, &row, "carer_enc")?,
        placement_org_id: row.try_get("placement_org_id")?,
        placement_org_name: row.try_get("org_name")?,
        care_plan: opened(keys, &row, "plan_enc")?,
        source_ref: row.try_get("source_ref")?,
        taken_at: opt_time(row.try_get("taken_at")?),
        closed_at: opt_time(row.try_get("closed_at")?),
        close_reason: opened(keys, &row, "close_reason_enc")?,
        opened_by: row.try_get("opened_by")?,
        application,
        grant,
        events,
        contacts,
        tasks,
        mine,
        line,
    })
}

fn grant_status_label(s: &str) -> &'static str {
    match s {
        "granted" => "已发放，待县级确认",
        "confirmed" => "县级已确认",
        "refused" => "县级未确认",
        _ => "",
    }
}

fn application_status_label(s: &str) -> &'static str {
    match s {
        "submitted" => "已受理",
        "verified" => "已核查",
        "reviewed" => "已审核",
        "publicised" => "公示中",
        "approved" => "已批准",
        "rejected" => "未批准",
        _ => "",
    }
}

async fn tasks_of(state: &AppState, case_id: i64) -> AppResult<Vec<Task>> {
    let now = state.now_ms();
    all(
        state,
        sqlx::query(
            "SELECT t.id, t.case_id, t.need, t.owner_id, COALESCE(u.username, '') AS owner, t.due_date, t.due_ms, \
             t.status, t.done_by, t.done_at FROM child_case_tasks t LEFT JOIN users u ON u.id = t.owner_id \
             WHERE t.case_id = $1 ORDER BY t.status DESC, t.due_ms, t.id",
        )
        .bind(case_id),
        |r| {
            let need: String = r.try_get("need")?;
            let status: String = r.try_get("status")?;
            let due: i64 = r.try_get("due_ms")?;
            Ok(Task {
                id: r.try_get("id")?,
                case_id: r.try_get("case_id")?,
                need_label: label(&NEEDS, &need).to_string(),
                need,
                owner_id: r.try_get("owner_id")?,
                owner: r.try_get("owner")?,
                due_date: r.try_get("due_date")?,
                overdue: status == "open" && due <= now,
                status,
                done_by: r.try_get("done_by")?,
                done_at: opt_time(r.try_get("done_at")?),
            })
        },
    )
    .await
}

/// A new case or lead.
pub(super) struct NewCaseRow<'a> {
    pub region_code: &'a str,
    pub status: &'static str,
    pub person_id: Option<i64>,
    pub name_enc: Vec<u8>,
    pub name_masked: String,
    pub sex: String,
    pub birth_year: Option<i64>,
    pub where_enc: Option<Vec<u8>>,
    pub reason: &'static str,
    /// The reason sealed (the clear column stays empty).
    pub reason_enc: Vec<u8>,
    pub health_enc: Option<Vec<u8>>,
    pub history_enc: Option<Vec<u8>>,
    pub classify_due_at: i64,
    pub worker_id: Option<i64>,
    pub source: &'static str,
    pub source_ref: String,
    pub lead_due_at: Option<i64>,
    pub opened_by: &'a str,
}

const INSERT: &str = "INSERT INTO child_cases (province, region_code, holder_code, status, person_id, name_enc, \
    name_masked, sex, birth_year, where_enc, reason, health_enc, history_enc, classify_due_at, worker_id, \
    source, source_ref, lead_due_at, taken_at, opened_by, created_at, updated_at, reason_group, reason_enc) \
    VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, '', $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20, $21)";

fn bind_case<'q>(n: &NewCaseRow<'_>, tail: &str, now: i64) -> crate::kernel::queries::AnyQuery<'q> {
    let taken = (n.status == "open").then_some(now);
    sqlx::query(sqlx::AssertSqlSafe(format!("{INSERT} {tail}")))
        .bind(province_of(n.region_code))
        .bind(n.region_code.to_string())
        .bind(n.status)
        .bind(n.person_id)
        .bind(n.name_enc.clone())
        .bind(n.name_masked.clone())
        .bind(n.sex.clone())
        .bind(n.birth_year)
        .bind(n.where_enc.clone())
        .bind(n.health_enc.clone())
        .bind(n.history_enc.clone())
        .bind(n.classify_due_at)
        .bind(n.worker_id)
        .bind(n.source)
        .bind(n.source_ref.clone())
        .bind(n.lead_due_at)
        .bind(taken)
        .bind(n.opened_by.to_string())
        .bind(now)
        .bind(super::reason_group(n.reason))
        .bind(n.reason_enc.clone())
}

pub(super) async fn insert_case(tx: &mut Tx, n: &NewCaseRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    tx.insert(bind_case(n, "RETURNING id", now)).await
}

/// A lead, unless the same child already has an open lead for the same reason (`None`).
pub(super) async fn insert_lead(tx: &mut Tx, n: &NewCaseRow<'_>) -> AppResult<Option<i64>> {
    let now = tx.now();
    let row = bind_case(n, "ON CONFLICT DO NOTHING RETURNING id", now)
        .fetch_optional(tx.conn())
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    })
}

pub(super) async fn insert_event(
    tx: &mut Tx,
    region: &str,
    case_id: i64,
    kind: &str,
    from: &str,
    to: &str,
    actor: &str,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "INSERT INTO child_case_events (province, case_id, kind, from_value, to_value, actor, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(province_of(region))
        .bind(case_id)
        .bind(kind.to_string())
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(actor.to_string())
        .bind(now),
    )
    .await
}

/// Take a lead; `false` when someone took it first.
pub(super) async fn take(
    tx: &mut Tx,
    id: i64,
    uid: i64,
    now: i64,
    classify_due: i64,
) -> AppResult<bool> {
    let n = tx
        .changed(
            sqlx::query(
                "UPDATE child_cases SET status = 'open', worker_id = $1, taken_at = $2, classify_due_at = $3, \
                 updated_at = $2 WHERE id = $4 AND status = 'lead'",
            )
            .bind(uid)
            .bind(now)
            .bind(classify_due)
            .bind(id),
        )
        .await?;
    Ok(n == 1)
}

pub(super) async fn classify(
    tx: &mut Tx,
    id: i64,
    guardianship: &str,
    placement: &str,
    carer_enc: Option<Vec<u8>>,
    org_id: Option<i64>,
    now: i64,
) -> AppResult<()> {
    tx.exec(
        sqlx::query(
            "UPDATE child_cases SET guardianship = $1, placement = $2, carer_enc = $3, placement_org_id = $4, \
             classified_at = COALESCE(classified_at, $5), updated_at = $5 WHERE id = $6",
        )
        .bind(guardianship.to_string())
        .bind(placement.to_string())
        .bind(carer_enc)
        .bind(org_id)
        .bind(now)
        .bind(id),
    )
    .await
}

/// A user's roles, scope and whether disabled.
pub(super) async fn user(state: &AppState, uid: i64) -> AppResult<Option<(String, String, bool)>> {
    let row: Option<(String, String, i64)> =
        sqlx::query_as("SELECT roles, scope, disabled FROM users WHERE id = $1")
            .bind(uid)
            .fetch_optional(state.db.pool())
            .await?;
    Ok(row.map(|(r, s, d)| (r, s, d != 0)))
}

pub(super) async fn assign(
    tx: &mut Tx,
    id: i64,
    worker: Option<i64>,
    supervisor: Option<i64>,
    now: i64,
) -> AppResult<()> {
    tx.exec(
        sqlx::query("UPDATE child_cases SET worker_id = $1, supervisor_id = $2, updated_at = $3 WHERE id = $4")
            .bind(worker)
            .bind(supervisor)
            .bind(now)
            .bind(id),
    )
    .await
}

pub(super) async fn set_plan(tx: &mut Tx, id: i64, enc: Vec<u8>, now: i64) -> AppResult<()> {
    tx.exec(
        sqlx::query("UPDATE child_cases SET plan_enc = $1, updated_at = $2 WHERE id = $3")
            .bind(enc)
            .bind(now)
            .bind(id),
    )
    .await
}

/// A contact logged; the case's next contact (or, for the follow-up after closure, its
/// follow-up due cleared).
#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_contact(
    tx: &mut Tx,
    region: &str,
    case_id: i64,
    kind: &str,
    enc: Vec<u8>,
    next: Option<i64>,
    by: &str,
    now: i64,
) -> AppResult<()> {
    tx.exec(
        sqlx::query(
            "INSERT INTO child_case_contacts (province, case_id, kind, note_enc, next_due_at, by_user, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(province_of(region))
        .bind(case_id)
        .bind(kind.to_string())
        .bind(enc)
        .bind(next)
        .bind(by.to_string())
        .bind(now),
    )
    .await?;
    let q = if kind == "follow_up" {
        sqlx::query("UPDATE child_cases SET follow_up_due_at = NULL, updated_at = $1 WHERE id = $2")
    } else {
        sqlx::query("UPDATE child_cases SET next_contact_at = $3, updated_at = $1 WHERE id = $2")
    };
    let q = q.bind(now).bind(case_id);
    let q = if kind == "follow_up" { q } else { q.bind(next) };
    tx.exec(q).await
}

/// A new task.
pub(super) struct NewTask<'a> {
    pub region: &'a str,
    pub case_id: i64,
    pub need: &'a str,
    pub owner_id: i64,
    pub due_date: &'a str,
    pub due_ms: i64,
    pub by: &'a str,
}

pub(super) async fn insert_task(tx: &mut Tx, t: &NewTask<'_>) -> AppResult<i64> {
    let now = tx.now();
    tx.insert(
        sqlx::query(
            "INSERT INTO child_case_tasks (province, case_id, need, owner_id, due_date, due_ms, status, created_by, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8) RETURNING id",
        )
        .bind(province_of(t.region))
        .bind(t.case_id)
        .bind(t.need.to_string())
        .bind(t.owner_id)
        .bind(t.due_date.to_string())
        .bind(t.due_ms)
        .bind(t.by.to_string())
        .bind(now),
    )
    .await
}

/// Mark a task of the case done: `None` no such task, `Some(false)` already done.
pub(super) async fn task_done(
    tx: &mut Tx,
    case_id: i64,
    task_id: i64,
    by: &str,
    now: i64,
) -> AppResult<Option<bool>> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM child_case_tasks WHERE id = $1 AND case_id = $2")
            .bind(task_id)
            .bind(case_id)
            .fetch_optional(tx.conn())
            .await?;
    match status.as_deref() {
        None => Ok(None),
        Some("done") => Ok(Some(false)),
        Some(_) => {
            tx.exec(
                sqlx::query("UPDATE child_case_tasks SET status = 'done', done_by = $1, done_at = $2 WHERE id = $3")
                    .bind(by.to_string())
                    .bind(now)
                    .bind(task_id),
            )
            .await?;
            Ok(Some(true))
        }
    }
}

pub(super) async fn hand_over(tx: &mut Tx, id: i64, to: &str, now: i64) -> AppResult<()> {
    tx.exec(
        sqlx::query("UPDATE child_cases SET holder_code = $1, updated_at = $2 WHERE id = $3")
            .bind(to.to_string())
            .bind(now)
            .bind(id),
    )
    .await
}

pub(super) async fn close(
    tx: &mut Tx,
    id: i64,
    enc: Vec<u8>,
    now: i64,
    follow_up: i64,
) -> AppResult<()> {
    tx.exec(
        sqlx::query(
            "UPDATE child_cases SET status = 'closed', close_reason_enc = $1, closed_at = $2, \
             follow_up_due_at = $3, next_contact_at = NULL, updated_at = $2 WHERE id = $4",
        )
        .bind(enc)
        .bind(now)
        .bind(follow_up)
        .bind(id),
    )
    .await
}

/// What linking a quick record to a registry person writes.
pub(super) struct LinkRow<'a> {
    pub person_id: i64,
    pub name_enc: Vec<u8>,
    pub name_masked: &'a str,
    pub sex: &'a str,
    pub birth_year: Option<i64>,
}

pub(super) async fn link_person(tx: &mut Tx, id: i64, l: &LinkRow<'_>, now: i64) -> AppResult<()> {
    tx.exec(
        sqlx::query(
            "UPDATE child_cases SET person_id = $1, name_enc = $2, name_masked = $3, sex = $4, birth_year = $5, \
             updated_at = $6 WHERE id = $7",
        )
        .bind(l.person_id)
        .bind(l.name_enc.clone())
        .bind(l.name_masked.to_string())
        .bind(l.sex.to_string())
        .bind(l.birth_year)
        .bind(now)
        .bind(id),
    )
    .await
}

pub(super) async fn link_grant(tx: &mut Tx, id: i64, grant: i64, now: i64) -> AppResult<()> {
    tx.exec(
        sqlx::query("UPDATE child_cases SET aid_grant_id = $1, updated_at = $2 WHERE id = $3")
            .bind(grant)
            .bind(now)
            .bind(id),
    )
    .await
}

pub(super) async fn link_application(tx: &mut Tx, id: i64, app: i64, now: i64) -> AppResult<()> {
    tx.exec(
        sqlx::query("UPDATE child_cases SET application_id = $1, updated_at = $2 WHERE id = $3")
            .bind(app)
            .bind(now)
            .bind(id),
    )
    .await
}
