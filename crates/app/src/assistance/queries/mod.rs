//! Every SQL statement of social assistance, and the only place in the area that runs one.
//!
//! Reading functions take a [`Scoped`] handle: lists are limited to its code range in SQL, a
//! row fetched by id is let through [`Scoped::admit`]. Standards and emergency periods set
//! *above* a region are policy that region inherits (no personal data): the lookups of what
//! is in force read the region's lineage, and lists add the handle's ancestors. Writing
//! functions take the open [`Tx`]; the service commits it with the audit entry. Sealed
//! columns (`*_enc`) are opened here and never leave as ciphertext.

use backstop_core::clock::rfc3339;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::applications::{Application, Figures, Member, MemberRow, Step, status_label};
use super::emergency::measures_label;
use super::province_of;
use super::standards::{InForce, Standard, component_label};

mod due_times;
mod emergency;
mod federated;
mod public;
mod stats;
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::AppResult;
use crate::kernel::queries::{AnyQuery, admitted, admitted_row, all, ranged, regional};
use crate::people::shown;
use crate::state::AppState;
use backstop_core::Programme;
use backstop_core::money::Fen;

regional!(Application);
pub(super) use due_times::*;
pub(super) use emergency::*;
pub(super) use federated::*;
pub(super) use public::*;
pub(super) use stats::*;

/// `$from, $from+1, …` placeholders for `n` values.
fn placeholders(from: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", from + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of `table` under the handle's range or at one of the regions `above` it (what a
/// region inherits: standards, emergency periods): `SELECT {cols} FROM {table} WHERE ((range)
/// OR region_code IN (…))` and then `rest`, whose own parameters start at `$3 + above.len()`.
/// The codes are bound after the range; the caller binds what `rest` names.
fn under_or_above<'q>(
    scope: &Scoped<'_>,
    cols: &str,
    table: &str,
    above: &[String],
    rest: &str,
) -> AnyQuery<'q> {
    let mut sql =
        format!("SELECT {cols} FROM {table} WHERE ((region_code >= $1 AND region_code < $2)");
    if !above.is_empty() {
        sql.push_str(&format!(
            " OR region_code IN ({})",
            placeholders(3, above.len())
        ));
    }
    sql.push(')');
    sql.push_str(rest);
    let mut q = ranged(scope, sql);
    for c in above {
        q = q.bind(c.clone());
    }
    q
}

fn open_text(state: &AppState, enc: Option<Vec<u8>>) -> String {
    match enc {
        None => String::new(),
        Some(b) => state
            .keys
            .decrypt(&b)
            .and_then(|p| String::from_utf8(p).ok())
            .unwrap_or_else(|| crate::privacy::UNREADABLE.to_string()),
    }
}

// ------------------------------------------------------------------------ settings, replay

pub(super) async fn remember(
    tx: &mut Tx,
    (province, uid): (&str, i64),
    key: &str,
    id: i64,
) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "INSERT INTO idempotency_keys (province, user_id, idem_key, request_hash, status, response, \
         created_at) VALUES ($1, $2, $3, '', 201, $4, $5)",
    )
    .bind(province)
    .bind(uid)
    .bind(key.to_string())
    .bind(id.to_string())
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(super) async fn replayed(
    state: &AppState,
    (province, uid): (&str, i64),
    key: &str,
) -> AppResult<Option<i64>> {
    let r: Option<String> = sqlx::query_scalar(
        "SELECT response FROM idempotency_keys WHERE province = $1 AND user_id = $2 AND idem_key = $3",
    )
    .bind(province)
    .bind(uid)
    .bind(key.to_string())
    .fetch_optional(state.db.pool())
    .await?;
    Ok(r.and_then(|s| s.parse().ok()))
}

// ------------------------------------------------------------------------------ standards

const S_COLS: &str = "id, region_code, programme, area_kind, component, amount_fen, effective_from, created_by, origin";

fn standard_from_row(r: &AnyRow) -> Result<Standard, sqlx::Error> {
    let programme: String = r.try_get("programme")?;
    let component: String = r.try_get("component")?;
    let amount: i64 = r.try_get("amount_fen")?;
    Ok(Standard {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        programme_label: Programme::parse(&programme)
            .map(|p| p.label())
            .unwrap_or("")
            .to_string(),
        programme,
        area_kind: r.try_get("area_kind")?,
        component_label: component_label(&component).to_string(),
        component,
        amount_fen: amount,
        amount_yuan: Fen(amount).to_yuan_string(),
        effective_from: r.try_get("effective_from")?,
        created_by: r.try_get("created_by")?,
        origin: r.try_get("origin")?,
    })
}

pub(super) async fn standard_in_force(
    state: &AppState,
    lineage: &[String],
    programme: &str,
    area_kind: &str,
    component: &str,
    date: &str,
) -> AppResult<Option<InForce>> {
    let sql = format!(
        "SELECT region_code, amount_fen FROM assistance_standards WHERE programme = $1 AND area_kind = $2 \
         AND component = $3 AND effective_from <= $4 AND region_code IN ({}) \
         ORDER BY LENGTH(region_code) DESC, effective_from DESC LIMIT 1",
        placeholders(5, lineage.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(programme.to_string())
        .bind(area_kind.to_string())
        .bind(component.to_string())
        .bind(date.to_string());
    for c in lineage {
        q = q.bind(c.clone());
    }
    let row = q.fetch_optional(state.db.pool()).await?;
    Ok(match row {
        None => None,
        Some(r) => Some(InForce {
            amount: Fen(r.try_get("amount_fen")?),
            set_at: r.try_get("region_code")?,
        }),
    })
}

pub(super) async fn standards(
    state: &AppState,
    scope: &Scoped<'_>,
    above: &[String],
    programme: Option<&str>,
) -> AppResult<Vec<Standard>> {
    let mut rest = String::new();
    if programme.is_some() {
        rest.push_str(&format!(" AND programme = ${}", 3 + above.len()));
    }
    rest.push_str(" ORDER BY effective_from DESC, id DESC LIMIT 1000");
    let mut q = under_or_above(scope, S_COLS, "assistance_standards", above, &rest);
    if let Some(p) = programme {
        q = q.bind(p.to_string());
    }
    all(state, q, standard_from_row).await
}

pub(super) async fn standard(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Standard> {
    let sql = format!("SELECT {S_COLS} FROM assistance_standards WHERE id = $1");
    admitted(state, scope, sql, id, standard_from_row, |s| &s.region_code).await
}

pub(super) async fn standard_exists(
    tx: &mut Tx,
    region: &str,
    programme: &str,
    area_kind: &str,
    component: &str,
    from: &str,
) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_standards WHERE region_code = $1 AND programme = $2 \
         AND area_kind = $3 AND component = $4 AND effective_from = $5",
    )
    .bind(region.to_string())
    .bind(programme.to_string())
    .bind(area_kind.to_string())
    .bind(component.to_string())
    .bind(from.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(n > 0)
}

pub(super) struct StandardRow<'a> {
    pub region_code: &'a str,
    pub programme: &'a str,
    pub area_kind: &'a str,
    pub component: &'a str,
    pub amount: i64,
    pub effective_from: &'a str,
    pub by: &'a str,
}

pub(super) async fn insert_standard(tx: &mut Tx, s: &StandardRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO assistance_standards (region_code, programme, area_kind, component, amount_fen, effective_from, \
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(s.region_code.to_string())
    .bind(s.programme.to_string())
    .bind(s.area_kind.to_string())
    .bind(s.component.to_string())
    .bind(s.amount)
    .bind(s.effective_from.to_string())
    .bind(s.by.to_string())
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

// --------------------------------------------------------------------------- applications

pub(super) struct ApplicationRow<'a> {
    pub programme: &'a str,
    pub county_code: &'a str,
    pub region_code: &'a str,
    pub household_id: i64,
    pub applicant: i64,
    pub area_kind: &'a str,
    pub members: i64,
    pub covered: i64,
    pub self_care: &'a str,
    pub applied_on: &'a str,
    pub content_enc: Vec<u8>,
    pub amount_fen: Option<i64>,
    pub amount_detail: &'a str,
    pub due_at: i64,
    pub emergency_id: Option<i64>,
    pub emergency_measures: &'a str,
    pub commitment: bool,
    pub by: &'a str,
}

pub(super) async fn insert_application(tx: &mut Tx, a: &ApplicationRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO assistance_applications (province, programme, county_code, region_code, household_id, \
         applicant_person_id, area_kind, members, covered, self_care, status, applied_on, content_enc, \
         monthly_amount_fen, amount_detail, due_at, due_step, emergency_id, emergency_measures, commitment, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'submitted', $11, $12, \
         $13, $14, $15, 'verify', $16, $17, $18, $19, $20, $20) RETURNING id",
    )
    .bind(province_of(a.region_code))
    .bind(a.programme.to_string())
    .bind(a.county_code.to_string())
    .bind(a.region_code.to_string())
    .bind(a.household_id)
    .bind(a.applicant)
    .bind(a.area_kind.to_string())
    .bind(a.members)
    .bind(a.covered)
    .bind(a.self_care.to_string())
    .bind(a.applied_on.to_string())
    .bind(a.content_enc.clone())
    .bind(a.amount_fen)
    .bind(a.amount_detail.to_string())
    .bind(a.due_at)
    .bind(a.emergency_id)
    .bind(a.emergency_measures.to_string())
    .bind(i64::from(a.commitment))
    .bind(a.by.to_string())
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

pub(super) async fn insert_member(
    tx: &mut Tx,
    region: &str,
    app_id: i64,
    m: &MemberRow,
    pos: i64,
    sealed: Vec<u8>,
    version: Option<&str>,
) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "INSERT INTO assistance_application_members (province, application_id, person_id, position, adult, \
         income_enc, authorised_at, authorisation_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(province_of(region))
    .bind(app_id)
    .bind(m.person_id)
    .bind(pos)
    .bind(i64::from(m.adult))
    .bind(sealed)
    .bind(version.map(|_| now))
    .bind(version.map(str::to_string))
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_step(
    tx: &mut Tx,
    keys: &KeyRing,
    region: &str,
    app_id: i64,
    step: &str,
    from: &str,
    to: &str,
    actor: &str,
    note: &str,
) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "INSERT INTO assistance_application_steps (province, application_id, step, from_status, to_status, actor, at, note, \
         note_enc) VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8)",
    )
    .bind(province_of(region))
    .bind(app_id)
    .bind(step.to_string())
    .bind(from.to_string())
    .bind(to.to_string())
    .bind(actor.to_string())
    .bind(now)
    .bind(crate::privacy::seal(keys, note))
    .execute(tx.conn())
    .await?;
    Ok(())
}

const A_COLS: &str = "a.id, a.programme, a.county_code, a.region_code, a.household_id, a.applicant_person_id, \
    p.name AS applicant_name, a.area_kind, a.members, a.covered, a.self_care, a.status, a.applied_on, a.content_enc, \
    a.monthly_amount_fen, a.amount_detail, a.due_step, a.due_at, a.publicity_ends_at, a.reject_reason, a.reject_reason_enc, \
    a.related_staff, a.emergency_id, a.emergency_measures, a.commitment, a.commitment_verified_at, a.beneficiary_id, \
    a.created_by, a.created_at, a.channel, a.public_no, a.public_flags";
const A_FROM: &str = "assistance_applications a JOIN persons p ON p.id = a.applicant_person_id";

fn application_from_row(
    state: &AppState,
    r: &AnyRow,
    now: i64,
) -> Result<Application, sqlx::Error> {
    let programme: String = r.try_get("programme")?;
    let status: String = r.try_get("status")?;
    let due_at: Option<i64> = r.try_get("due_at")?;
    let measures: String = r.try_get("emergency_measures")?;
    let content = open_text(state, r.try_get("content_enc")?);
    let note = serde_json::from_str::<serde_json::Value>(&content)
        .ok()
        .and_then(|v| v["note"].as_str().map(str::to_string))
        .unwrap_or(content);
    Ok(Application {
        id: r.try_get("id")?,
        programme_label: Programme::parse(&programme)
            .map(|p| p.label())
            .unwrap_or("")
            .to_string(),
        programme,
        county_code: r.try_get("county_code")?,
        region_code: r.try_get("region_code")?,
        household_id: r.try_get("household_id")?,
        applicant_person_id: r.try_get("applicant_person_id")?,
        applicant_name: shown::name_in_list(&r.try_get::<String, _>("applicant_name")?),
        area_kind: r.try_get("area_kind")?,
        members: r.try_get("members")?,
        covered: r.try_get("covered")?,
        self_care: r.try_get("self_care")?,
        status_label: status_label(&status).to_string(),
        applied_on: r.try_get("applied_on")?,
        monthly_amount_fen: r.try_get("monthly_amount_fen")?,
        amount_detail: r.try_get("amount_detail")?,
        due_step: r.try_get("due_step")?,
        overdue: due_at.is_some_and(|d| d <= now),
        due_at: due_at.map(rfc3339),
        publicity_ends_at: r
            .try_get::<Option<i64>, _>("publicity_ends_at")?
            .map(rfc3339),
        reject_reason: crate::privacy::text(&state.keys, r, "reject_reason")?,
        related_staff: r.try_get("related_staff")?,
        emergency_id: r.try_get("emergency_id")?,
        emergency_label: measures_label(&measures),
        emergency_measures: measures,
        commitment: r.try_get::<i64, _>("commitment")? != 0,
        commitment_verified: r
            .try_get::<Option<i64>, _>("commitment_verified_at")?
            .is_some(),
        beneficiary_id: r.try_get("beneficiary_id")?,
        note,
        created_by: r.try_get("created_by")?,
        created_at: rfc3339(r.try_get("created_at")?),
        channel: r.try_get("channel")?,
        public_no: r.try_get("public_no")?,
        public_flags_label: crate::assistance::public::flags_label(
            &r.try_get::<String, _>("public_flags")?,
        ),
        public_flags: r.try_get("public_flags")?,
        status,
        member_list: Vec::new(),
        steps: Vec::new(),
    })
}

pub(super) async fn application(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Application> {
    let sql = format!("SELECT {A_COLS} FROM {A_FROM} WHERE a.id = $1");
    let now = state.now_ms();
    let mut a = admitted_row(state, scope, sql, id, |r| {
        application_from_row(state, r, now)
    })
    .await?;
    let q = sqlx::query(
        "SELECT m.person_id, p.name, m.adult, m.income_enc, m.authorised_at, m.authorisation_version \
         FROM assistance_application_members m JOIN persons p ON p.id = m.person_id \
         WHERE m.application_id = $1 ORDER BY m.position",
    )
    .bind(id);
    a.member_list = all(state, q, |r| {
        let f: Figures =
            serde_json::from_str(&open_text(state, r.try_get("income_enc")?)).unwrap_or_default();
        Ok(Member {
            person_id: r.try_get("person_id")?,
            name: shown::name_in_list(&r.try_get::<String, _>("name")?),
            adult: r.try_get::<i64, _>("adult")? != 0,
            earned_12m_fen: f.earned,
            other_12m_fen: f.other,
            exempt_12m_fen: f.exempt,
            assets_fen: f.assets,
            supplement_percent: f.supplement_percent,
            authorised_at: r.try_get::<Option<i64>, _>("authorised_at")?.map(rfc3339),
            authorisation_version: r.try_get("authorisation_version")?,
        })
    })
    .await?;
    let q = sqlx::query(
        "SELECT step, from_status, to_status, actor, at, note, note_enc FROM assistance_application_steps \
         WHERE application_id = $1 ORDER BY id",
    )
    .bind(id);
    a.steps = all(state, q, |r| {
        Ok(Step {
            step: r.try_get("step")?,
            from_status: r.try_get("from_status")?,
            to_status: r.try_get("to_status")?,
            actor: r.try_get("actor")?,
            at: rfc3339(r.try_get("at")?),
            note: crate::privacy::text(&state.keys, r, "note")?,
        })
    })
    .await?;
    Ok(a)
}

pub(super) async fn applications(
    state: &AppState,
    scope: &Scoped<'_>,
    status: Option<&str>,
) -> AppResult<Vec<Application>> {
    let mut sql =
        format!("SELECT {A_COLS} FROM {A_FROM} WHERE a.region_code >= $1 AND a.region_code < $2");
    if status.is_some() {
        sql.push_str(" AND a.status = $3");
    }
    sql.push_str(" ORDER BY a.id DESC LIMIT 1000");
    let mut q = ranged(scope, sql);
    if let Some(s) = status {
        q = q.bind(s.to_string());
    }
    let now = state.now_ms();
    all(state, q, |r| application_from_row(state, r, now)).await
}

pub(super) async fn overdue(
    state: &AppState,
    scope: &Scoped<'_>,
    level: Option<&str>,
) -> AppResult<Vec<Application>> {
    let now = state.now_ms();
    let mut sql = format!(
        "SELECT {A_COLS} FROM {A_FROM} WHERE a.region_code >= $1 AND a.region_code < $2 \
         AND a.due_at IS NOT NULL AND a.due_at <= $3 AND a.status NOT IN ('approved', 'rejected')"
    );
    if level.is_some() {
        sql.push_str(" AND a.due_step = $4");
    }
    sql.push_str(" ORDER BY a.due_at, a.id LIMIT 2000");
    let mut q = ranged(scope, sql).bind(now);
    if let Some(l) = level {
        q = q.bind(l.to_string());
    }
    all(state, q, |r| application_from_row(state, r, now)).await
}

pub(super) async fn commitments_due(
    state: &AppState,
    scope: &Scoped<'_>,
    today: &str,
) -> AppResult<Vec<Application>> {
    let sql = format!(
        "SELECT {A_COLS} FROM {A_FROM} JOIN assistance_emergencies e ON e.id = a.emergency_id \
         WHERE a.region_code >= $1 AND a.region_code < $2 AND a.commitment = 1 \
         AND a.commitment_verified_at IS NULL AND (e.status = 'ended' OR e.ends_on < $3) ORDER BY a.id"
    );
    let now = state.now_ms();
    all(state, ranged(scope, sql).bind(today.to_string()), |r| {
        application_from_row(state, r, now)
    })
    .await
}

pub(super) async fn due_at(state: &AppState, id: i64) -> AppResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT due_at FROM assistance_applications WHERE id = $1")
            .bind(id)
            .fetch_one(state.db.pool())
            .await?,
    )
}

pub(super) async fn publicity_ends(state: &AppState, id: i64) -> AppResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT publicity_ends_at FROM assistance_applications WHERE id = $1")
            .bind(id)
            .fetch_one(state.db.pool())
            .await?,
    )
}

pub(super) async fn member_figures(state: &AppState, id: i64) -> AppResult<Vec<Figures>> {
    let q = sqlx::query(
        "SELECT income_enc FROM assistance_application_members WHERE application_id = $1 ORDER BY position",
    )
    .bind(id);
    all(state, q, |r| {
        let text = open_text(state, r.try_get("income_enc")?);
        Ok(serde_json::from_str(&text).unwrap_or_default())
    })
    .await
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn set_status(
    tx: &mut Tx,
    keys: &KeyRing,
    id: i64,
    to: &str,
    due_step: &str,
    due_at: Option<i64>,
    publicity_ends: Option<i64>,
    reason: &str,
) -> AppResult<()> {
    let now = tx.now();
    let reject = if to == "rejected" { reason } else { "" };
    sqlx::query(
        "UPDATE assistance_applications SET status = $1, due_step = $2, due_at = $3, \
         publicity_ends_at = COALESCE($4, publicity_ends_at), reject_reason = '', reject_reason_enc = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(to.to_string())
    .bind(due_step.to_string())
    .bind(due_at)
    .bind(publicity_ends)
    .bind(crate::privacy::seal(keys, reject))
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(super) async fn set_amount(
    tx: &mut Tx,
    id: i64,
    monthly: i64,
    detail: &str,
    bid: i64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE assistance_applications SET monthly_amount_fen = $1, amount_detail = $2, beneficiary_id = $3 WHERE id = $4",
    )
    .bind(monthly)
    .bind(detail.to_string())
    .bind(bid)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(super) async fn verify_commitment(tx: &mut Tx, id: i64, by: &str) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE assistance_applications SET commitment_verified_by = $1, commitment_verified_at = $2, updated_at = $2 WHERE id = $3",
    )
    .bind(by.to_string())
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(super) async fn user_exists(state: &AppState, name: &str) -> AppResult<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM users WHERE username = $1")
            .bind(name.to_string())
            .fetch_one(state.db.pool())
            .await?;
    Ok(n > 0)
}

pub(super) async fn set_related(tx: &mut Tx, id: i64, staff: &str, by: &str) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE assistance_applications SET related_staff = $1, related_marked_by = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(staff.to_string())
    .bind(by.to_string())
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}
