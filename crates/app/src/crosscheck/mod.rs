//! Cross-checks (数据比对, issue 4): comparing the rolls so nobody is missed or paid twice.
//!
//! This module owns the rules that decide what counts as a conflict, the run that finds them
//! and stores them idempotently, their scope, and their resolution. A run (page button,
//! `POST /api/v1/crosschecks/run`, or `backstop crosscheck run [--region CODE]`) looks at the
//! persons of one region (the caller's scope by default) and finds:
//!
//! * **(a) one person on rolls in two regions, or recorded twice**
//!   - `observation_region`: an *active* home observation (居家医学观察) whose region (where it
//!     was opened, where its four responsible people are) is not the person's current region;
//!   - `screening_region`: a screening record (摸排) of a campaign that has not ended (its last
//!     day is today or later) made in a region other than the person's current region;
//!   - `possible_duplicate`: two person records with the same name and the same (known) birth
//!     date in *different* regions, at least one of them without an ID number (two records
//!     that both carry an ID number are two people: the number is unique). Care memberships
//!     hang off a person record, so the same person paid in two regions shows up here as two
//!     records.
//! * **(b) `exclusive_groups`**: two group memberships (困难群众类别) of one person whose periods
//!   overlap (an empty end date is open-ended) and which the rule table [`EXCLUSIONS`] says are
//!   not enjoyed together: 特困供养 (either form) excludes 低保; 集中供养 excludes 分散供养;
//!   孤儿 (either form) excludes 事实无人抚养儿童; 散居 and 家庭寄养 孤儿 exclude each other; and any
//!   payment group recorded twice for overlapping periods (paid twice).
//! * **(c) `deceased_paid`**: a person marked deceased with a membership of a payment group
//!   ([`PAYMENT_GROUPS`]: 低保, 特困 (both), 孤儿 (both), 事实无人抚养儿童, 困难残疾人生活补贴,
//!   重度残疾人护理补贴) that has not ended (no end date, or one today or later).
//!
//! **Idempotent storage.** Each conflict has a fingerprint, SHA-256 of its kind and the facts
//! that make it (the ids of the records involved, and for duplicates the shared name and birth
//! date). A rerun that finds the same facts updates the row (last seen, detail) instead of
//! adding one; an *open* conflict that a run covering it no longer finds becomes `cleared`; a
//! cleared one found again reopens; a `resolved` one stays resolved as long as the same facts
//! are found. Changed facts (another membership, another observation, a renamed person) are a
//! new fingerprint, hence a new open conflict.
//!
//! **Scope.** A conflict is stored with the lowest region containing all its persons. It is
//! visible (in lists, counts, resolution) only to a caller whose scope contains that region,
//! i.e. contains *every* person of the conflict: a person outside the caller's scope never
//! appears, not even masked, so existence never leaks across scopes. A conflict between two
//! counties is therefore handled by the city above both. A run only finds conflicts all of
//! whose persons lie in the region run over, and only clears conflicts stored inside it. The
//! *roll* region of an observation or screening record (not a person) is named when it lies in
//! the caller's scope and shown as 辖区外 otherwise. A person who moved out of the caller's
//! scope after the last run is shown as 辖区外 until the next run re-files the conflict.
//!
//! **Roles.** `Permission::CrosschecksManage` (officials and township staff) runs, reads and
//! resolves. Resolution needs a note and is audited (who, when, note); each run is audited with
//! its counts. Persons are shown masked (name, ID number per role) and link to their records.

pub mod pages;
pub mod web;

use std::collections::{HashMap, HashSet};

use backstop_core::clock::{beijing_date, format_beijing, from_millis};
use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use crate::audit::{self, Entry, Who};
use crate::care::category_label;
use crate::kernel::actor::Actor;
use crate::kernel::crypto::sha256_hex;
use crate::kernel::error::{AppError, AppResult, FieldError};
use crate::people::shown;
use crate::state::AppState;

/// Kinds of conflict, with stable identifiers and Chinese labels.
pub const KINDS: [(&str, &str); 5] = [
    ("observation_region", "居家观察登记地与现住地不一致"),
    ("screening_region", "摸排登记地与现住地不一致"),
    ("possible_duplicate", "疑似重复登记"),
    ("exclusive_groups", "互斥类别同时享受"),
    ("deceased_paid", "已故人员仍在发放名单"),
];

/// Chinese label of a kind (empty if unknown).
pub fn kind_label(id: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// Groups that carry a payment (care category identifiers).
pub const PAYMENT_GROUPS: [&str; 8] = [
    "dibao",
    "tekun_dispersed",
    "tekun_institution",
    "orphan_scattered",
    "orphan_foster",
    "de_facto_unattended",
    "disabled_in_difficulty",
    "severely_disabled",
];

/// Pairs of groups not enjoyed together for overlapping periods, with the rule in words.
/// (The same payment group twice is checked as well; see [`exclusion`].)
pub const EXCLUSIONS: [(&str, &str, &str); 6] = [
    ("tekun_dispersed", "dibao", "特困供养人员不同时享受低保"),
    ("tekun_institution", "dibao", "特困供养人员不同时享受低保"),
    (
        "tekun_institution",
        "tekun_dispersed",
        "集中供养与分散供养不能同时登记",
    ),
    (
        "orphan_scattered",
        "de_facto_unattended",
        "孤儿不再认定为事实无人抚养儿童",
    ),
    (
        "orphan_foster",
        "de_facto_unattended",
        "孤儿不再认定为事实无人抚养儿童",
    ),
    (
        "orphan_scattered",
        "orphan_foster",
        "散居孤儿与家庭寄养孤儿不能同时登记",
    ),
];

/// The rule two overlapping memberships break, if any.
pub fn exclusion(a: &str, b: &str) -> Option<&'static str> {
    if a == b && PAYMENT_GROUPS.contains(&a) {
        return Some("同一类别重复登记，可能重复发放");
    }
    EXCLUSIONS
        .iter()
        .find(|(x, y, _)| (*x == a && *y == b) || (*x == b && *y == a))
        .map(|(_, _, why)| *why)
}

fn status_label(s: &str) -> &'static str {
    match s {
        "open" => "待处理",
        "resolved" => "已处理",
        "cleared" => "已消除",
        _ => "",
    }
}

/// The lowest region containing all `codes` (`""` when they lie in different provinces).
pub fn common_region(codes: &[&str]) -> String {
    let parsed: Vec<RegionCode> = codes
        .iter()
        .filter_map(|c| RegionCode::parse(c).ok())
        .collect();
    let Some(first) = parsed.first() else {
        return String::new();
    };
    first
        .lineage()
        .into_iter()
        .rev()
        .find(|anc| parsed.iter().all(|c| anc.contains(c)))
        .map(|c| c.as_str().to_string())
        .unwrap_or_default()
}

/// Is a stored conflict region inside the caller's scope?
fn visible(actor: &Actor, region: &str) -> bool {
    let (lo, hi) = actor.scope_bounds();
    lo.as_str() <= region && region < hi.as_str()
}

/// One conflict found by a run.
#[derive(Debug, Clone)]
struct Found {
    kind: &'static str,
    /// Canonical facts; the fingerprint is SHA-256 of `kind|facts`.
    facts: String,
    persons: Vec<(i64, String)>,
    detail: Value,
}

impl Found {
    fn fingerprint(&self) -> String {
        sha256_hex(format!("{}|{}", self.kind, self.facts).as_bytes())
    }

    fn region(&self) -> String {
        let codes: Vec<&str> = self.persons.iter().map(|(_, r)| r.as_str()).collect();
        common_region(&codes)
    }
}

/// What a run did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunReport {
    /// The region run over (`0` = national).
    pub region: String,
    /// Conflicts found by this run.
    pub found: i64,
    /// Of those, new.
    pub created: i64,
    /// Of those, earlier cleared and found again.
    pub reopened: i64,
    /// Open conflicts of the region no longer found.
    pub cleared: i64,
    /// Open conflicts in the region after the run.
    pub open: i64,
}

/// Body of `POST /api/v1/crosschecks/run`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RunRequest {
    /// Region to run over; default the caller's whole scope.
    #[serde(default)]
    pub region: Option<String>,
}

/// The region a run or list covers: the given one (must be in scope, else 404) or the
/// caller's scope. Returns (label code, lo, hi).
fn region_bounds(actor: &Actor, region: Option<&str>) -> AppResult<(String, String, String)> {
    match region.map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => {
            let code = RegionCode::parse(r).map_err(|_| AppError::not_found())?;
            actor.check_region(&code)?;
            let (lo, hi) = code.scope_bounds();
            Ok((code.as_str().to_string(), lo, hi))
        }
        None => {
            let (lo, hi) = actor.scope_bounds();
            Ok((actor.scope.as_str().to_string(), lo, hi))
        }
    }
}

fn quoted(list: &[&str]) -> String {
    list.iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every conflict whose persons all lie in `[lo, hi)` (see the module doc for the rules).
async fn find_all(
    conn: &mut AnyConnection,
    lo: &str,
    hi: &str,
    today: &str,
) -> AppResult<Vec<Found>> {
    let mut out = Vec::new();

    // (a) active home observations held in another region.
    let rows = sqlx::query(
        "SELECT o.id AS oid, o.person_id, o.region_code AS roll_region, o.ends_on, \
         p.region_code AS person_region \
         FROM observations o JOIN persons p ON p.id = o.person_id \
         WHERE o.status = 'active' AND o.region_code <> p.region_code \
         AND p.region_code >= $1 AND p.region_code < $2 ORDER BY o.id",
    )
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await?;
    for r in &rows {
        let oid: i64 = r.try_get("oid")?;
        let pid: i64 = r.try_get("person_id")?;
        let roll: String = r.try_get("roll_region")?;
        let home: String = r.try_get("person_region")?;
        out.push(Found {
            kind: "observation_region",
            facts: format!("o{oid}|{roll}|{home}"),
            persons: vec![(pid, home.clone())],
            detail: json!({"observation_id": oid, "roll_region": roll, "person_region": home,
                           "ends_on": r.try_get::<String, _>("ends_on")?}),
        });
    }

    // (a) screening records of running campaigns made in another region.
    let rows = sqlx::query(
        "SELECT sp.id AS sid, sp.person_id, sp.region_code AS roll_region, \
         p.region_code AS person_region, c.id AS campaign_id, c.name AS campaign, c.ends_on \
         FROM screening_persons sp JOIN screening_campaigns c ON c.id = sp.campaign_id \
         JOIN persons p ON p.id = sp.person_id \
         WHERE c.ends_on >= $3 AND sp.region_code <> p.region_code \
         AND p.region_code >= $1 AND p.region_code < $2 ORDER BY sp.id",
    )
    .bind(lo)
    .bind(hi)
    .bind(today)
    .fetch_all(&mut *conn)
    .await?;
    for r in &rows {
        let sid: i64 = r.try_get("sid")?;
        let pid: i64 = r.try_get("person_id")?;
        let roll: String = r.try_get("roll_region")?;
        let home: String = r.try_get("person_region")?;
        out.push(Found {
            kind: "screening_region",
            facts: format!("s{sid}|{roll}|{home}"),
            persons: vec![(pid, home.clone())],
            detail: json!({"screening_id": sid, "campaign_id": r.try_get::<i64, _>("campaign_id")?,
                           "campaign": r.try_get::<String, _>("campaign")?,
                           "roll_region": roll, "person_region": home}),
        });
    }

    // (a) possible duplicates: same name and birth date, different regions, one without ID.
    let rows = sqlx::query(
        "SELECT a.id AS a_id, a.region_code AS a_region, b.id AS b_id, b.region_code AS b_region, \
         a.name, a.birth_date, \
         CAST(CASE WHEN b.id_index IS NULL THEN 0 ELSE 1 END AS BIGINT) AS b_has_id \
         FROM persons a JOIN persons b ON b.name = a.name AND b.birth_date = a.birth_date \
         WHERE a.id_index IS NULL AND (b.id_index IS NOT NULL OR a.id < b.id) \
         AND a.birth_date <> '' AND a.region_code <> b.region_code \
         AND a.region_code >= $1 AND a.region_code < $2 \
         AND b.region_code >= $1 AND b.region_code < $2 ORDER BY a.id, b.id",
    )
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await?;
    for r in &rows {
        let a: i64 = r.try_get("a_id")?;
        let b: i64 = r.try_get("b_id")?;
        let ar: String = r.try_get("a_region")?;
        let br: String = r.try_get("b_region")?;
        let name: String = r.try_get("name")?;
        let birth: String = r.try_get("birth_date")?;
        let with_id = r.try_get::<i64, _>("b_has_id")? != 0;
        let mut persons = vec![(a, ar), (b, br)];
        persons.sort();
        out.push(Found {
            kind: "possible_duplicate",
            facts: format!("p{}|p{}|{name}|{birth}", persons[0].0, persons[1].0),
            detail: json!({"birth_date": birth, "ids_recorded": if with_id { 1 } else { 0 },
                           "regions": persons.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>()}),
            persons,
        });
    }

    // (b) overlapping memberships of groups that exclude each other.
    let mut involved: Vec<&str> = PAYMENT_GROUPS.to_vec();
    for (a, b, _) in EXCLUSIONS {
        for c in [a, b] {
            if !involved.contains(&c) {
                involved.push(c);
            }
        }
    }
    let sql = format!(
        "SELECT m1.id AS m1, m1.category AS c1, m1.start_date AS s1, m1.end_date AS e1, \
         m2.id AS m2, m2.category AS c2, m2.start_date AS s2, m2.end_date AS e2, \
         p.id AS pid, p.region_code \
         FROM care_memberships m1 \
         JOIN care_memberships m2 ON m2.person_id = m1.person_id AND m2.id > m1.id \
         JOIN persons p ON p.id = m1.person_id \
         WHERE m1.category IN ({cats}) AND m2.category IN ({cats}) \
         AND m1.start_date <= (CASE WHEN m2.end_date = '' THEN '9999-12-31' ELSE m2.end_date END) \
         AND m2.start_date <= (CASE WHEN m1.end_date = '' THEN '9999-12-31' ELSE m1.end_date END) \
         AND p.region_code >= $1 AND p.region_code < $2 ORDER BY m1.id, m2.id",
        cats = quoted(&involved)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lo)
        .bind(hi)
        .fetch_all(&mut *conn)
        .await?;
    for r in &rows {
        let c1: String = r.try_get("c1")?;
        let c2: String = r.try_get("c2")?;
        let Some(rule) = exclusion(&c1, &c2) else {
            continue;
        };
        let m1: i64 = r.try_get("m1")?;
        let m2: i64 = r.try_get("m2")?;
        let pid: i64 = r.try_get("pid")?;
        let region: String = r.try_get("region_code")?;
        out.push(Found {
            kind: "exclusive_groups",
            facts: format!("m{m1}|m{m2}|{c1}|{c2}"),
            persons: vec![(pid, region)],
            detail: json!({
                "rule": rule,
                "memberships": [
                    {"id": m1, "category": c1, "start_date": r.try_get::<String, _>("s1")?,
                     "end_date": r.try_get::<String, _>("e1")?},
                    {"id": m2, "category": c2, "start_date": r.try_get::<String, _>("s2")?,
                     "end_date": r.try_get::<String, _>("e2")?},
                ],
            }),
        });
    }

    // (c) deceased persons still in a payment group.
    let sql = format!(
        "SELECT m.id AS mid, m.category, m.start_date, m.end_date, p.id AS pid, p.region_code \
         FROM care_memberships m JOIN persons p ON p.id = m.person_id \
         WHERE p.deceased = 1 AND m.category IN ({}) AND (m.end_date = '' OR m.end_date >= $3) \
         AND p.region_code >= $1 AND p.region_code < $2 ORDER BY m.id",
        quoted(&PAYMENT_GROUPS)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lo)
        .bind(hi)
        .bind(today)
        .fetch_all(&mut *conn)
        .await?;
    for r in &rows {
        let mid: i64 = r.try_get("mid")?;
        let pid: i64 = r.try_get("pid")?;
        let category: String = r.try_get("category")?;
        out.push(Found {
            kind: "deceased_paid",
            facts: format!("m{mid}|p{pid}"),
            persons: vec![(pid, r.try_get("region_code")?)],
            detail: json!({"membership_id": mid, "category": category,
                           "start_date": r.try_get::<String, _>("start_date")?,
                           "end_date": r.try_get::<String, _>("end_date")?}),
        });
    }
    Ok(out)
}

/// Run the cross-checks over `region` (default the caller's scope) and store what they find
/// (see the module doc). One write transaction, audited with the counts.
pub async fn run(state: &AppState, actor: &Actor, region: Option<&str>) -> AppResult<RunReport> {
    actor.require(Permission::CrosschecksManage)?;
    let (label, lo, hi) = region_bounds(actor, region)?;
    if region.is_some_and(|r| !r.trim().is_empty())
        && crate::regions::find(state, &label).await?.is_none()
    {
        return Err(AppError::field(
            ErrorCode::UnknownRegion,
            "region",
            "区划代码不存在",
        ));
    }
    let now = state.now_ms();
    let today = beijing_date(state.clock.now())
        .format("%Y-%m-%d")
        .to_string();
    let backend = state.db.backend();
    let mut w = state.db.begin_write().await?;
    if backend == backstop_store::Backend::Postgres {
        // Two runs at once must not both insert the same fingerprint.
        sqlx::query("SELECT pg_advisory_xact_lock(7261011)")
            .execute(w.conn())
            .await?;
    }
    let found = find_all(w.conn(), &lo, &hi, &today).await?;
    let (mut created, mut reopened) = (0i64, 0i64);
    let mut seen: HashSet<i64> = HashSet::new();
    for f in &found {
        let fp = f.fingerprint();
        let region = f.region();
        let detail = f.detail.to_string();
        let existing = sqlx::query("SELECT id, status FROM crosschecks WHERE fingerprint = $1")
            .bind(&fp)
            .fetch_optional(w.conn())
            .await?;
        match existing {
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO crosschecks (kind, fingerprint, region_code, status, detail, \
                     first_seen_at, last_seen_at) VALUES ($1, $2, $3, 'open', $4, $5, $5) \
                     RETURNING id",
                )
                .bind(f.kind)
                .bind(&fp)
                .bind(&region)
                .bind(&detail)
                .bind(now)
                .fetch_one(w.conn())
                .await?;
                for (pid, _) in &f.persons {
                    sqlx::query(
                        "INSERT INTO crosscheck_persons (crosscheck_id, person_id) VALUES ($1, $2)",
                    )
                    .bind(id)
                    .bind(*pid)
                    .execute(w.conn())
                    .await?;
                }
                created += 1;
                seen.insert(id);
            }
            Some(row) => {
                let id: i64 = row.try_get("id")?;
                let status: String = row.try_get("status")?;
                let new_status = if status == "cleared" {
                    reopened += 1;
                    "open".to_string()
                } else {
                    status
                };
                sqlx::query(
                    "UPDATE crosschecks SET status = $1, region_code = $2, detail = $3, \
                     last_seen_at = $4, cleared_at = NULL WHERE id = $5",
                )
                .bind(&new_status)
                .bind(&region)
                .bind(&detail)
                .bind(now)
                .bind(id)
                .execute(w.conn())
                .await?;
                seen.insert(id);
            }
        }
    }
    let open_before: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM crosschecks WHERE status = 'open' AND region_code >= $1 AND region_code < $2",
    )
    .bind(&lo)
    .bind(&hi)
    .fetch_all(w.conn())
    .await?;
    let mut cleared = 0i64;
    for id in open_before.iter().filter(|id| !seen.contains(id)) {
        sqlx::query("UPDATE crosschecks SET status = 'cleared', cleared_at = $1 WHERE id = $2")
            .bind(now)
            .bind(*id)
            .execute(w.conn())
            .await?;
        cleared += 1;
    }
    // `open_before` was read after the upserts: it holds the new and reopened ones.
    let open = open_before.len() as i64 - cleared;
    let report = RunReport {
        region: label.clone(),
        found: found.len() as i64,
        created,
        reopened,
        cleared,
        open,
    };
    sqlx::query(
        "INSERT INTO crosscheck_runs (region_code, run_by, run_at, found, created, reopened, \
         cleared) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&label)
    .bind(&actor.username)
    .bind(now)
    .bind(report.found)
    .bind(created)
    .bind(reopened)
    .bind(cleared)
    .execute(w.conn())
    .await?;
    audit::append(
        w.conn(),
        backend,
        now,
        &Who::from(actor),
        Entry {
            action: "crosscheck.run",
            object_type: "crosscheck_run",
            object_id: label.clone(),
            region_code: label,
            outcome: "success",
            detail: json!({"found": report.found, "created": created, "reopened": reopened,
                           "cleared": cleared, "open": open}),
        },
    )
    .await?;
    w.commit().await?;
    Ok(report)
}

/// A person of a conflict, masked for the caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConflictPerson {
    /// Absent when the person is outside the caller's scope (shown as 辖区外).
    pub id: Option<i64>,
    /// `张*`; `辖区外` for a person outside the caller's scope.
    pub name_masked: String,
    /// Masked as on the person's record for the caller's role.
    pub id_number_masked: String,
    pub region_code: String,
    pub region_name: String,
    pub deceased: bool,
}

/// A conflict as the caller may see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Conflict {
    pub id: i64,
    /// `observation_region`, `screening_region`, `possible_duplicate`, `exclusive_groups`,
    /// `deceased_paid`.
    pub kind: String,
    pub kind_label: String,
    /// `open`, `resolved` or `cleared` (no longer found by a run).
    pub status: String,
    pub status_label: String,
    /// What was found, in Chinese.
    pub summary: String,
    pub persons: Vec<ConflictPerson>,
    /// Beijing time.
    pub first_seen: String,
    pub last_seen: String,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    pub resolve_note: String,
}

/// Conflicts per kind.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KindCount {
    pub kind: String,
    pub label: String,
    pub count: i64,
}

/// A page of conflicts with the counts per kind (same status and region, all kinds).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConflictList {
    pub total: i64,
    pub counts: Vec<KindCount>,
    pub items: Vec<Conflict>,
}

/// Filters of `GET /api/v1/crosschecks`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ConflictQuery {
    /// `open` (default), `resolved`, `cleared` or `all`.
    pub status: Option<String>,
    /// One kind only.
    pub kind: Option<String>,
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// Page size (default 50, at most 200).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The last run over the caller's scope or a region inside it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LastRun {
    pub region: String,
    pub run_by: String,
    pub run_at: String,
    pub found: i64,
    pub created: i64,
    pub reopened: i64,
    pub cleared: i64,
}

fn verr(field: &str, label: &str, message: &str) -> AppError {
    AppError {
        code: ErrorCode::Validation,
        message: format!("{label}：{message}"),
        fields: vec![FieldError {
            field: field.to_string(),
            message: message.to_string(),
        }],
    }
}

const CONFLICT_COLS: &str = "c.id, c.kind, c.status, c.detail, c.region_code, c.first_seen_at, \
    c.last_seen_at, c.resolved_by, c.resolved_at, c.resolve_note";

struct Region {
    name: String,
    visible: bool,
}

/// Names of region codes (for summaries), and whether the caller sees them.
async fn region_names(
    state: &AppState,
    actor: &Actor,
    codes: &HashSet<String>,
) -> AppResult<HashMap<String, Region>> {
    let mut out = HashMap::new();
    for code in codes {
        let visible = RegionCode::parse(code).is_ok_and(|c| actor.sees(&c));
        let name = if visible {
            crate::regions::find(state, code)
                .await?
                .map(|r| r.name)
                .unwrap_or_else(|| code.clone())
        } else {
            "辖区外".to_string()
        };
        out.insert(code.clone(), Region { name, visible });
    }
    Ok(out)
}

fn summary(kind: &str, d: &Value, regions: &HashMap<String, Region>) -> String {
    let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
    let place = |code: &str| match regions.get(code) {
        Some(r) if r.visible => format!("{}（{code}）", r.name),
        _ => "辖区外".to_string(),
    };
    let period = |m: &Value| {
        let start = m["start_date"].as_str().unwrap_or("");
        match m["end_date"].as_str().unwrap_or("") {
            "" => format!("{start} 起"),
            end => format!("{start} 至 {end}"),
        }
    };
    match kind {
        "observation_region" => format!(
            "居家医学观察（编号 {}，至 {}）登记在 {}，本人现住 {}",
            d["observation_id"],
            s("ends_on"),
            place(&s("roll_region")),
            place(&s("person_region"))
        ),
        "screening_region" => format!(
            "摸排活动“{}”在 {} 登记了此人，本人现住 {}",
            s("campaign"),
            place(&s("roll_region")),
            place(&s("person_region"))
        ),
        "possible_duplicate" => format!(
            "两条人员记录姓名相同、出生日期同为 {}，分别登记在不同地区，{}；请核实是否同一人",
            s("birth_date"),
            if d["ids_recorded"].as_i64() == Some(1) {
                "其中一条未登记身份证号"
            } else {
                "两条都未登记身份证号"
            }
        ),
        "exclusive_groups" => {
            let ms = d["memberships"].as_array().cloned().unwrap_or_default();
            let parts: Vec<String> = ms
                .iter()
                .map(|m| {
                    format!(
                        "{}（{}）",
                        category_label(m["category"].as_str().unwrap_or("")),
                        period(m)
                    )
                })
                .collect();
            format!("同时登记 {}：{}", parts.join(" 与 "), s("rule"))
        }
        "deceased_paid" => format!(
            "已标记死亡，仍在 {}（{}）名单中",
            category_label(&s("category")),
            period(d)
        ),
        _ => String::new(),
    }
}

fn ms_text(ms: Option<i64>) -> Option<String> {
    ms.map(|m| format_beijing(from_millis(m)))
}

/// Turn stored rows into conflicts as the caller sees them (persons masked, regions named).
async fn views(
    state: &AppState,
    actor: &Actor,
    rows: &[sqlx::any::AnyRow],
) -> AppResult<Vec<Conflict>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<Result<_, _>>()?;
    let in_list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT cp.crosscheck_id, p.id, p.name, p.region_code, p.id_masked, p.deceased, \
         r.name AS region_name FROM crosscheck_persons cp JOIN persons p ON p.id = cp.person_id \
         LEFT JOIN regions r ON r.code = p.region_code \
         WHERE cp.crosscheck_id IN ({in_list}) ORDER BY cp.crosscheck_id, p.id"
    );
    let prow = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(state.db.pool())
        .await?;
    let mut persons: HashMap<i64, Vec<ConflictPerson>> = HashMap::new();
    for r in &prow {
        let region: String = r.try_get("region_code")?;
        let seen = RegionCode::parse(&region).is_ok_and(|c| actor.sees(&c));
        let p = if seen {
            let masked: String = r.try_get("id_masked")?;
            ConflictPerson {
                id: Some(r.try_get("id")?),
                name_masked: shown::name_in_list(&r.try_get::<String, _>("name")?),
                id_number_masked: shown::id_number(actor, &masked),
                region_name: r
                    .try_get::<Option<String>, _>("region_name")?
                    .unwrap_or_default(),
                region_code: region,
                deceased: r.try_get::<i64, _>("deceased")? != 0,
            }
        } else {
            ConflictPerson {
                id: None,
                name_masked: "辖区外".to_string(),
                id_number_masked: String::new(),
                region_code: String::new(),
                region_name: "辖区外".to_string(),
                deceased: false,
            }
        };
        persons
            .entry(r.try_get("crosscheck_id")?)
            .or_default()
            .push(p);
    }
    let mut details = Vec::with_capacity(rows.len());
    let mut codes = HashSet::new();
    for r in rows {
        let d: Value = serde_json::from_str(&r.try_get::<String, _>("detail")?).unwrap_or_default();
        for k in ["roll_region", "person_region"] {
            if let Some(c) = d[k].as_str() {
                codes.insert(c.to_string());
            }
        }
        details.push(d);
    }
    let names = region_names(state, actor, &codes).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (r, d) in rows.iter().zip(details) {
        let id: i64 = r.try_get("id")?;
        let kind: String = r.try_get("kind")?;
        let status: String = r.try_get("status")?;
        out.push(Conflict {
            id,
            kind_label: kind_label(&kind).to_string(),
            summary: summary(&kind, &d, &names),
            kind,
            status_label: status_label(&status).to_string(),
            status,
            persons: persons.remove(&id).unwrap_or_default(),
            first_seen: format_beijing(from_millis(r.try_get("first_seen_at")?)),
            last_seen: format_beijing(from_millis(r.try_get("last_seen_at")?)),
            resolved_by: r.try_get("resolved_by")?,
            resolved_at: ms_text(r.try_get("resolved_at")?),
            resolve_note: r.try_get("resolve_note")?,
        });
    }
    Ok(out)
}

/// Conflicts in the caller's scope (or a region inside it), newest first, with counts per kind.
pub async fn list(state: &AppState, actor: &Actor, q: &ConflictQuery) -> AppResult<ConflictList> {
    actor.require(Permission::CrosschecksManage)?;
    let (_, lo, hi) = region_bounds(actor, q.region.as_deref())?;
    let status = q
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("open");
    if !["open", "resolved", "cleared", "all"].contains(&status) {
        return Err(verr(
            "status",
            "状态",
            "应为 open、resolved、cleared 或 all",
        ));
    }
    let kind = q.kind.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(k) = kind
        && kind_label(k).is_empty()
    {
        return Err(verr("kind", "类型", "未知的冲突类型"));
    }
    let mut where_ = String::from("c.region_code >= $1 AND c.region_code < $2");
    let mut args = vec![lo, hi];
    if status != "all" {
        args.push(status.to_string());
        where_.push_str(&format!(" AND c.status = ${}", args.len()));
    }
    let count_sql = format!(
        "SELECT c.kind, CAST(COUNT(*) AS BIGINT) AS n FROM crosschecks c WHERE {where_} GROUP BY c.kind"
    );
    let mut cq = sqlx::query(sqlx::AssertSqlSafe(count_sql));
    for a in &args {
        cq = cq.bind(a.clone());
    }
    let by_kind: HashMap<String, i64> = cq
        .fetch_all(state.db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("kind")?, r.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    let counts: Vec<KindCount> = KINDS
        .iter()
        .map(|(k, l)| KindCount {
            kind: (*k).to_string(),
            label: (*l).to_string(),
            count: by_kind.get(*k).copied().unwrap_or(0),
        })
        .collect();
    let total = match kind {
        Some(k) => by_kind.get(k).copied().unwrap_or(0),
        None => counts.iter().map(|c| c.count).sum(),
    };
    if let Some(k) = kind {
        args.push(k.to_string());
        where_.push_str(&format!(" AND c.kind = ${}", args.len()));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let offset = q.offset.unwrap_or(0).max(0);
    let sql = format!(
        "SELECT {CONFLICT_COLS} FROM crosschecks c WHERE {where_} \
         ORDER BY c.id DESC LIMIT {limit} OFFSET {offset}"
    );
    let mut lq = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in &args {
        lq = lq.bind(a.clone());
    }
    let rows = lq.fetch_all(state.db.pool()).await?;
    Ok(ConflictList {
        total,
        counts,
        items: views(state, actor, &rows).await?,
    })
}

async fn load_row(conn: &mut AnyConnection, id: i64) -> AppResult<Option<sqlx::any::AnyRow>> {
    let sql = format!("SELECT {CONFLICT_COLS} FROM crosschecks c WHERE c.id = $1");
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// One conflict, if visible to the caller.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Conflict> {
    actor.require(Permission::CrosschecksManage)?;
    let mut conn = state.db.pool().acquire().await?;
    let row = load_row(&mut conn, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    drop(conn);
    if !visible(actor, &row.try_get::<String, _>("region_code")?) {
        return Err(AppError::not_found());
    }
    views(state, actor, &[row])
        .await?
        .pop()
        .ok_or_else(AppError::not_found)
}

/// Body of `POST /api/v1/crosschecks/{id}/resolve`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ResolveRequest {
    /// What was found and done (required, 2 to 500 characters).
    #[serde(default)]
    pub note: String,
}

/// Resolve an open conflict with a note (audited: who, when, note). A conflict already
/// resolved or cleared answers 409.
pub async fn resolve(state: &AppState, actor: &Actor, id: i64, note: &str) -> AppResult<Conflict> {
    actor.require(Permission::CrosschecksManage)?;
    let note = note.trim();
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let row = load_row(w.conn(), id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let region: String = row.try_get("region_code")?;
    if !visible(actor, &region) {
        return Err(AppError::not_found());
    }
    if note.chars().count() < 2 {
        return Err(verr("note", "处理说明", "请填写处理说明"));
    }
    if note.chars().count() > 500 {
        return Err(verr("note", "处理说明", "不能超过 500 个字"));
    }
    let status: String = row.try_get("status")?;
    if status != "open" {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!("该冲突{}，无需再处理", status_label(&status)),
        ));
    }
    sqlx::query(
        "UPDATE crosschecks SET status = 'resolved', resolved_by = $1, resolved_at = $2, \
         resolve_note = $3 WHERE id = $4 AND status = 'open'",
    )
    .bind(&actor.username)
    .bind(now)
    .bind(note)
    .bind(id)
    .execute(w.conn())
    .await?;
    let kind: String = row.try_get("kind")?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "crosscheck.resolve",
            object_type: "crosscheck",
            object_id: id.to_string(),
            region_code: if region.is_empty() {
                "0".to_string()
            } else {
                region
            },
            outcome: "success",
            detail: json!({"kind": kind, "note": note,
                           "status": {"before": "open", "after": "resolved"}}),
        },
    )
    .await?;
    w.commit().await?;
    get(state, actor, id).await
}

/// The last run over the caller's scope or a region inside it.
pub async fn last_run(state: &AppState, actor: &Actor) -> AppResult<Option<LastRun>> {
    actor.require(Permission::CrosschecksManage)?;
    let (lo, hi) = actor.scope_bounds();
    let row = sqlx::query(
        "SELECT region_code, run_by, run_at, found, created, reopened, cleared \
         FROM crosscheck_runs WHERE region_code >= $1 AND region_code < $2 \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(lo)
    .bind(hi)
    .fetch_optional(state.db.pool())
    .await?;
    row.map(|r| {
        Ok(LastRun {
            region: r.try_get("region_code")?,
            run_by: r.try_get("run_by")?,
            run_at: format_beijing(from_millis(r.try_get("run_at")?)),
            found: r.try_get("found")?,
            created: r.try_get("created")?,
            reopened: r.try_get("reopened")?,
            cleared: r.try_get("cleared")?,
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_regions() {
        assert!(exclusion("dibao", "tekun_dispersed").is_some());
        assert!(exclusion("tekun_institution", "dibao").is_some());
        assert!(exclusion("tekun_dispersed", "tekun_institution").is_some());
        assert!(exclusion("de_facto_unattended", "orphan_foster").is_some());
        assert!(exclusion("dibao", "dibao").is_some(), "paid twice");
        assert!(exclusion("low_income", "low_income").is_none());
        assert!(exclusion("dibao", "severely_disabled").is_none());
        assert!(exclusion("dibao", "left_behind").is_none());
        for (a, b, _) in EXCLUSIONS {
            assert!(!category_label(a).is_empty() && !category_label(b).is_empty());
        }
        for g in PAYMENT_GROUPS {
            assert!(!category_label(g).is_empty(), "{g}");
        }
        assert_eq!(
            common_region(&["130110100001", "130110100002"]),
            "130110100"
        );
        assert_eq!(common_region(&["130110100001", "130111100003"]), "1301");
        assert_eq!(common_region(&["130110100001"]), "130110100001");
        assert_eq!(common_region(&["130110100001", "440115001001"]), "");
        assert_eq!(common_region(&[]), "");
    }
}
