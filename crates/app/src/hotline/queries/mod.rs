//! Every SQL statement of the hotlines, and the only place in the area that runs one.
//!
//! Reading functions take a [`Scoped`] handle: lists are limited to its code range in SQL (the
//! line's region, which every call, referral, follow-up and note carries), and a row fetched
//! by id is let through [`Scoped::admit`]. Two reads decide access by more than the region and
//! return only the facts the service decides on: a referral's (the receiving organisation may
//! read it) and a note's (its writer, supervisors, assignees). Writing functions take the open
//! [`Tx`]; the service commits it with the audit entry.

use backstop_core::clock::rfc3339;
use backstop_core::role::{Permission, RoleSet};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::notes::NoteMeta;
use super::{
    CALLER_CATEGORIES, Call, CallRow, ChildLead, FLAG_KINDS, LINE_KINDS, Line, REPORT_TO, RISKS,
    RedFlag, Shift, label, province_of,
};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{admitted, admitted_row, all, ranged, regional, text_or_empty};
use crate::state::AppState;

regional!(Call);

mod referrals;
mod stats;
pub(crate) use referrals::ReferralAccess;
pub(super) use referrals::{
    call_followups, call_referrals, close_referral, complete_followup, decide_referral, followup,
    insert_followup, insert_referral, open_followups, referral, referral_access, referrals,
};
pub(super) use stats::{call_tallies, followup_facts, referral_tallies};

// ------------------------------------------------------------------------------- lines

const L_COLS: &str =
    "l.id, l.region_code, l.name, l.number, l.kind, l.org_id, o.name AS org_name, l.hours";

fn line_from_row(r: &AnyRow) -> Result<Line, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    Ok(Line {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        name: r.try_get("name")?,
        number: r.try_get("number")?,
        kind_label: label(LINE_KINDS, &kind),
        kind,
        org_id: r.try_get("org_id")?,
        org_name: text_or_empty(r, "org_name")?,
        hours: r.try_get("hours")?,
    })
}

/// A new line.
pub(super) struct LineRow<'a> {
    pub region: &'a str,
    pub name: &'a str,
    pub number: &'a str,
    pub kind: &'a str,
    pub org_id: i64,
    pub hours: &'a str,
    pub by: &'a str,
}

pub(super) async fn insert_line(tx: &mut Tx, l: &LineRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO hotline_lines (region_code, name, number, kind, org_id, hours, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(l.region.to_string())
    .bind(l.name.to_string())
    .bind(l.number.to_string())
    .bind(l.kind.to_string())
    .bind(l.org_id)
    .bind(l.hours.to_string())
    .bind(l.by.to_string())
    .bind(now);
    tx.insert(q).await
}

pub(super) async fn line(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Line> {
    let sql = format!(
        "SELECT {L_COLS} FROM hotline_lines l LEFT JOIN orgs o ON o.id = l.org_id WHERE l.id = $1"
    );
    admitted(state, scope, sql, id, line_from_row, |l| &l.region_code).await
}

pub(super) async fn lines(state: &AppState, scope: &Scoped<'_>) -> AppResult<Vec<Line>> {
    let sql = format!(
        "SELECT {L_COLS} FROM hotline_lines l LEFT JOIN orgs o ON o.id = l.org_id \
         WHERE l.region_code >= $1 AND l.region_code < $2 ORDER BY l.region_code, l.id LIMIT 500"
    );
    all(state, ranged(scope, sql), line_from_row).await
}

/// The region of an organisation (the line's own, for a red flag's default referral).
pub(super) async fn org_region(state: &AppState, org_id: i64) -> AppResult<String> {
    sqlx::query_scalar("SELECT region_code FROM orgs WHERE id = $1")
        .bind(org_id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)
}

/// A user who may answer a line of `region`: enabled, holding hotline.answer, scope covering
/// the region. `(id, username)`.
pub(super) async fn answerer(
    state: &AppState,
    username: &str,
    region: &backstop_core::region::RegionCode,
) -> AppResult<Option<(i64, String)>> {
    let mut scopes = region.lineage_strings();
    scopes.push("0".to_string());
    let row: Option<(i64, String, String)> =
        sqlx::query_as("SELECT id, roles, scope FROM users WHERE username = $1 AND disabled = 0")
            .bind(username.to_string())
            .fetch_optional(state.db.pool())
            .await?;
    Ok(row.and_then(|(id, roles, scope)| {
        let answers = RoleSet::parse_list(&roles).is_ok_and(|r| r.has(Permission::HotlineAnswer));
        (answers && scopes.contains(&scope)).then(|| (id, username.to_string()))
    }))
}

/// The enabled users holding hotline.supervise whose scope is one of `scopes`.
pub(super) async fn supervisors(tx: &mut Tx, scopes: &[String]) -> AppResult<Vec<i64>> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, roles, scope FROM users WHERE disabled = 0 ORDER BY id")
            .fetch_all(tx.conn())
            .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, roles, scope)| {
            scopes.contains(scope)
                && RoleSet::parse_list(roles).is_ok_and(|r| r.has(Permission::HotlineSupervise))
        })
        .map(|(id, _, _)| id)
        .collect())
}

// ------------------------------------------------------------------------------ shifts

/// A shift with its line's name.
const S_SELECT: &str = "SELECT s.id, s.line_id, l.name AS line_name, s.username, s.starts_at, s.ends_at \
    FROM hotline_shifts s LEFT JOIN hotline_lines l ON l.id = s.line_id";

fn shift_from_row(r: &AnyRow) -> Result<Shift, sqlx::Error> {
    Ok(Shift {
        id: r.try_get("id")?,
        line_id: r.try_get("line_id")?,
        line_name: text_or_empty(r, "line_name")?,
        username: r.try_get("username")?,
        starts_at: rfc3339(r.try_get("starts_at")?),
        ends_at: rfc3339(r.try_get("ends_at")?),
    })
}

pub(super) async fn insert_shift(
    tx: &mut Tx,
    line: &Line,
    user_id: i64,
    username: &str,
    starts: i64,
    ends: i64,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO hotline_shifts (province, line_id, region_code, user_id, username, starts_at, ends_at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(province_of(&line.region_code))
    .bind(line.id)
    .bind(line.region_code.clone())
    .bind(user_id)
    .bind(username.to_string())
    .bind(starts)
    .bind(ends)
    .bind(by.to_string())
    .bind(now);
    tx.insert(q).await
}

pub(super) async fn shifts(
    state: &AppState,
    scope: &Scoped<'_>,
    line: &Line,
) -> AppResult<Vec<Shift>> {
    let sql = format!(
        "{S_SELECT} WHERE s.region_code >= $1 AND s.region_code < $2 AND s.line_id = $3 \
         ORDER BY s.starts_at DESC LIMIT 200"
    );
    all(state, ranged(scope, sql).bind(line.id), shift_from_row).await
}

pub(super) async fn my_shifts(
    state: &AppState,
    scope: &Scoped<'_>,
    uid: i64,
) -> AppResult<Vec<Shift>> {
    let sql = format!(
        "{S_SELECT} WHERE s.region_code >= $1 AND s.region_code < $2 AND s.user_id = $3 AND s.ends_at > $4 \
         ORDER BY s.starts_at LIMIT 20"
    );
    all(
        state,
        ranged(scope, sql).bind(uid).bind(state.now_ms()),
        shift_from_row,
    )
    .await
}

// ------------------------------------------------------------------------------- calls

const C_COLS: &str = "c.id, c.line_id, l.name AS line_name, c.region_code, c.called_at, c.caller_category, c.issues, \
    c.risk, c.actions, c.duration_s, c.caller_region, c.anonymous, c.phone_masked, c.flag_kind, c.report_to, \
    c.report_at, c.report_ref, c.report_ref_enc, c.child_region, c.child_name_enc, c.child_lead_status, c.child_case_id, c.related_case_id, c.answered_by, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM hotline_notes n WHERE n.call_id = c.id AND n.province = c.province) AS notes";

fn list_of(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn call_from_row(state: &AppState, r: &AnyRow) -> Result<Call, sqlx::Error> {
    let caller_category: String = r.try_get("caller_category")?;
    let risk: String = r.try_get("risk")?;
    let flag_kind: String = r.try_get("flag_kind")?;
    let phone: String = r.try_get("phone_masked")?;
    let red_flag = if flag_kind.is_empty() {
        None
    } else {
        let to: String = r.try_get("report_to")?;
        Some(RedFlag {
            kind_label: label(FLAG_KINDS, &flag_kind),
            kind: flag_kind,
            report_to_label: label(REPORT_TO, &to),
            report_to: to,
            report_at: r
                .try_get::<Option<i64>, _>("report_at")?
                .map(rfc3339)
                .unwrap_or_default(),
            report_ref: crate::privacy::text(&state.keys, r, "report_ref")?,
        })
    };
    let child_lead = match r.try_get::<Option<String>, _>("child_region")? {
        None => None,
        Some(region_code) => {
            let name = crate::privacy::opt_text(&state.keys, r, "child_name")?.unwrap_or_default();
            Some(ChildLead {
                region_code,
                child_name: backstop_core::mask::mask_name(&name),
                status: r.try_get("child_lead_status")?,
                case_id: r.try_get("child_case_id")?,
            })
        }
    };
    Ok(Call {
        id: r.try_get("id")?,
        line_id: r.try_get("line_id")?,
        line_name: text_or_empty(r, "line_name")?,
        region_code: r.try_get("region_code")?,
        called_at: rfc3339(r.try_get("called_at")?),
        caller_category_label: label(CALLER_CATEGORIES, &caller_category),
        caller_category,
        issues: list_of(&r.try_get::<String, _>("issues")?),
        risk_label: label(RISKS, &risk),
        risk,
        actions: list_of(&r.try_get::<String, _>("actions")?),
        duration_s: r.try_get("duration_s")?,
        caller_region: r.try_get("caller_region")?,
        anonymous: r.try_get::<i64, _>("anonymous")? != 0,
        phone: Some(phone).filter(|p| !p.is_empty()),
        red_flag,
        child_lead,
        related_case_id: r.try_get("related_case_id")?,
        answered_by: r.try_get("answered_by")?,
        notes: r.try_get("notes")?,
        referrals: Vec::new(),
        followups: Vec::new(),
    })
}

pub(super) async fn insert_call(
    tx: &mut Tx,
    state: &AppState,
    c: &CallRow,
    phone_enc: Option<&[u8]>,
    phone_masked: &str,
    actor: &Actor,
) -> AppResult<i64> {
    let now = tx.now();
    let (kind, to, at, reference) = match &c.flag {
        Some(f) => (f.kind, f.report_to, Some(f.report_at), f.report_ref.clone()),
        None => ("", "", None, String::new()),
    };
    let q = sqlx::query(
        "INSERT INTO hotline_calls (province, line_id, region_code, called_at, caller_category, issues, risk, actions, \
         duration_s, caller_region, anonymous, phone_enc, phone_masked, flag_kind, report_to, report_at, report_ref, \
         report_ref_enc, answered_by, answered_by_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, '', $17, $18, $19, $20) RETURNING id",
    )
    .bind(province_of(&c.line.region_code))
    .bind(c.line.id)
    .bind(c.line.region_code.clone())
    .bind(c.called_at)
    .bind(c.caller_category)
    .bind(c.issues.clone())
    .bind(c.risk)
    .bind(c.actions.clone())
    .bind(c.duration_s)
    .bind(c.caller_region.clone())
    .bind(i64::from(phone_enc.is_none()))
    .bind(phone_enc.map(<[u8]>::to_vec))
    .bind(phone_masked.to_string())
    .bind(kind)
    .bind(to)
    .bind(at)
    .bind(crate::privacy::seal(&state.keys, &reference))
    .bind(actor.username.clone())
    .bind(actor.user_id)
    .bind(now);
    tx.insert(q).await
}

pub(super) async fn set_child_lead(
    tx: &mut Tx,
    call_id: i64,
    region: &str,
    sealed: [Vec<u8>; 3],
    status: &str,
    case_id: i64,
) -> AppResult<()> {
    let [name, place, reason] = sealed;
    let q = sqlx::query(
        "UPDATE hotline_calls SET child_region = $1, child_name_enc = $2, child_where_enc = $3, \
         child_reason_enc = $4, child_lead_status = $5, child_case_id = $7 WHERE id = $6",
    )
    .bind(region.to_string())
    .bind(name)
    .bind(place)
    .bind(reason)
    .bind(status.to_string())
    .bind(call_id)
    .bind(case_id);
    tx.exec(q).await
}

/// The existing child case a call refers to (关联个案编号).
pub(super) async fn set_related_case(tx: &mut Tx, call_id: i64, case_id: i64) -> AppResult<()> {
    let q = sqlx::query("UPDATE hotline_calls SET related_case_id = $1 WHERE id = $2")
        .bind(case_id)
        .bind(call_id);
    tx.exec(q).await
}

pub(super) async fn call(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Call> {
    let sql = format!(
        "SELECT {C_COLS} FROM hotline_calls c LEFT JOIN hotline_lines l ON l.id = c.line_id WHERE c.id = $1"
    );
    admitted_row(state, scope, sql, id, |r| call_from_row(state, r)).await
}

pub(super) async fn calls(state: &AppState, scope: &Scoped<'_>) -> AppResult<Vec<Call>> {
    let sql = format!(
        "SELECT {C_COLS} FROM hotline_calls c LEFT JOIN hotline_lines l ON l.id = c.line_id \
         WHERE c.region_code >= $1 AND c.region_code < $2 ORDER BY c.called_at DESC, c.id DESC LIMIT 500"
    );
    all(state, ranged(scope, sql), |r| call_from_row(state, r)).await
}

// -------------------------------------------------------------------------------- notes

pub(super) async fn insert_note(
    tx: &mut Tx,
    c: &Call,
    enc: &[u8],
    actor: &Actor,
) -> AppResult<i64> {
    let now = tx.now();
    let q = sqlx::query(
        "INSERT INTO hotline_notes (province, call_id, line_id, region_code, body_enc, written_by, written_by_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(province_of(&c.region_code))
    .bind(c.id)
    .bind(c.line_id)
    .bind(c.region_code.clone())
    .bind(enc.to_vec())
    .bind(actor.username.clone())
    .bind(actor.user_id)
    .bind(now);
    tx.insert(q).await
}

fn note_meta_from_row(r: &AnyRow) -> Result<NoteMeta, sqlx::Error> {
    Ok(NoteMeta {
        id: r.try_get("id")?,
        call_id: r.try_get("call_id")?,
        region_code: r.try_get("region_code")?,
        written_by: r.try_get("written_by")?,
        written_by_id: r.try_get("written_by_id")?,
        created_at: r.try_get("created_at")?,
    })
}

const N_COLS: &str = "id, call_id, region_code, written_by, written_by_id, created_at";

/// A note's facts (not its text), whoever asks: the service decides and audits.
pub(super) async fn note_meta(state: &AppState, id: i64) -> AppResult<Option<NoteMeta>> {
    let sql = format!("SELECT {N_COLS} FROM hotline_notes WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(row.as_ref().map(note_meta_from_row).transpose()?)
}

/// The opened text of a note (only after the service decided the reader is entitled).
pub(super) async fn note_text(state: &AppState, id: i64) -> AppResult<String> {
    let row = sqlx::query("SELECT body_enc FROM hotline_notes WHERE id = $1")
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let enc: Vec<u8> = row.try_get("body_enc")?;
    Ok(state
        .keys
        .decrypt(&enc)
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| crate::privacy::UNREADABLE.to_string()))
}

pub(super) async fn notes_of(
    state: &AppState,
    scope: &Scoped<'_>,
    call_id: i64,
) -> AppResult<Vec<NoteMeta>> {
    let sql = format!(
        "SELECT {N_COLS} FROM hotline_notes WHERE region_code >= $1 AND region_code < $2 AND call_id = $3 ORDER BY id"
    );
    all(state, ranged(scope, sql).bind(call_id), note_meta_from_row).await
}

/// The notes of a call for the assignee `uid` of one of its referrals (decided by the
/// service from [`is_assignee`]; the condition is repeated in SQL).
pub(super) async fn notes_assigned(
    state: &AppState,
    call_id: i64,
    uid: i64,
) -> AppResult<Vec<NoteMeta>> {
    let sql = format!(
        "SELECT {N_COLS} FROM hotline_notes WHERE call_id = $1 AND EXISTS (SELECT 1 FROM hotline_referrals r \
         WHERE r.call_id = $1 AND r.assignee_id = $2 AND r.status IN ('accepted', 'closed')) ORDER BY id"
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(call_id)
        .bind(uid);
    all(state, q, note_meta_from_row).await
}

/// Is `uid` the assignee of an accepted (or closed) referral of the call?
pub(super) async fn is_assignee(state: &AppState, call_id: i64, uid: i64) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM hotline_referrals WHERE call_id = $1 AND assignee_id = $2 \
         AND status IN ('accepted', 'closed')",
    )
    .bind(call_id)
    .bind(uid)
    .fetch_one(state.db.pool())
    .await?;
    Ok(n > 0)
}
