//! Children without care (监护缺失儿童, issue 17 item 1 and the children's part of items 4–5):
//! case management from the lead or the report to closure.
//!
//! A case is a child — a person of the registry, or a quick record (name, sex, birth year)
//! completed later by linking it to a registry person — with where the child is now, why care
//! is missing ([`REASONS`]), the child's own health status and contact history. Guardianship
//! ([`GUARDIANSHIPS`]) and placement ([`PLACEMENTS`]) are recorded separately, each change kept
//! in the case's history; an institution placement must name an organisation of the matching
//! kind. Classification (the placement decision) is due by `classify_due_at`; a named case
//! worker and supervisor; a care plan; contacts and visits with the next contact due; needs as
//! tasks with an owner and a due date; hand-over between the village, township, county and
//! city (the holder moves, and with it who may read the case); closure when a guardian resumes
//! care, with a reason and a follow-up visit due after it. Leads opened by the system (a
//! parent under observation, confirmed or suspected, or with a fever alert) are in [`leads`];
//! the escalation engine chases them (`child_lead`).
//!
//! Confidentiality: roles without `children.read` get *not found* for everything (cases must
//! not appear to exist); a case is read through the holder's scope, or by its named worker and
//! supervisor; a social worker (case-bound) reads only the cases naming it. Free text (where
//! the child is, health, contact history, care plan, visit notes, the carer's name, the closure
//! reason) and the quick record's name are sealed at rest; lists carry none of it and the name
//! masked. Every view of a case detail is audited (`children.view`), with a reason when the
//! viewer is neither the worker nor the supervisor.

mod actions;
pub mod forms;
pub mod leads;
mod money;
pub mod pages;
mod queries;
pub mod stats;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use actions::*;
pub use leads::{HotlineChildLead, open_from_hotline};
pub use money::*;

use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

pub(crate) const HOUR_MS: i64 = 3600 * 1000;
/// A lead is due this long after it opens (an urgent hotline lead: one hour).
pub const LEAD_DUE_MS: i64 = 2 * HOUR_MS;
/// The placement decision is due this long after the case opens (or the lead is taken).
pub const CLASSIFY_DUE_MS: i64 = 12 * HOUR_MS;

/// Why care is missing.
pub const REASONS: [(&str, &str); 7] = [
    ("parent_infected", "父母（监护人）确诊感染"),
    ("parent_suspected", "父母（监护人）疑似感染"),
    ("parent_isolated", "父母（监护人）集中隔离"),
    ("parent_observation", "父母（监护人）医学观察"),
    ("parent_frontline", "父母（监护人）在一线工作"),
    ("parent_deceased", "父母（监护人）去世"),
    ("other", "其他原因"),
];

/// The coarse group of a reason, kept in clear for lists, filters and the one-lead rule: it
/// does not tell a parent infected from suspected, isolated or observed (the reason itself is
/// sealed).
pub const REASON_GROUPS: [(&str, &str); 4] = [
    ("parent_health", "父母（监护人）因疫情无法照料"),
    ("parent_frontline", "父母（监护人）在一线工作"),
    ("parent_deceased", "父母（监护人）去世"),
    ("other", "其他原因"),
];

/// The group of a reason key (see [`REASON_GROUPS`]).
pub fn reason_group(reason: &str) -> &'static str {
    match reason {
        "parent_infected" | "parent_suspected" | "parent_isolated" | "parent_observation" => {
            "parent_health"
        }
        "parent_frontline" => "parent_frontline",
        "parent_deceased" => "parent_deceased",
        _ => "other",
    }
}

/// The child's own health status.
pub const HEALTH: [(&str, &str); 6] = [
    ("healthy", "健康"),
    ("symptoms", "有症状"),
    ("close_contact", "密切接触者"),
    ("suspected", "疑似"),
    ("confirmed", "确诊"),
    ("unknown", "不详"),
];

/// Who holds guardianship.
pub const GUARDIANSHIPS: [(&str, &str); 2] = [
    ("parents", "父母继续监护"),
    ("temporary", "民政部门临时监护"),
];

/// Where the child is placed.
pub const PLACEMENTS: [(&str, &str); 6] = [
    ("medical_observation", "医学观察（有接触史，跟踪）"),
    ("kin", "亲属照料"),
    ("village_carer", "村（居）委会指定照料人"),
    ("foster_family", "家庭寄养"),
    ("minor_protection_institution", "未成年人救助保护机构"),
    ("child_welfare_institution", "儿童福利机构"),
];

/// Needs turned into tasks.
pub const NEEDS: [(&str, &str); 4] = [
    ("food", "生活物资"),
    ("medicine", "药品"),
    ("schooling", "学习"),
    ("psychological", "心理支持"),
];

/// Kinds of contact logged.
pub const CONTACT_KINDS: [(&str, &str); 3] = [
    ("visit", "入户探访"),
    ("phone", "电话联系"),
    ("follow_up", "结案后回访"),
];

/// Case states.
pub const STATUSES: [(&str, &str); 3] = [
    ("lead", "待接收线索"),
    ("open", "跟踪中"),
    ("closed", "已结案"),
];

/// The Chinese label of a key in a list (empty for an unknown or empty key).
pub fn label(list: &[(&'static str, &'static str)], key: &str) -> &'static str {
    list.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// A key of `list` (or its Chinese label), else a Chinese error on `field` naming the choices.
pub fn choice(
    list: &[(&'static str, &'static str)],
    field: &str,
    value: &str,
) -> AppResult<&'static str> {
    let v = value.trim();
    list.iter()
        .find(|(k, l)| *k == v || *l == v)
        .map(|(k, _)| *k)
        .ok_or_else(|| {
            let names = list
                .iter()
                .map(|(k, l)| format!("{k}（{l}）"))
                .collect::<Vec<_>>()
                .join("、");
            AppError::field(ErrorCode::Validation, field, format!("应为：{names}"))
        })
}

/// The organisation kind an institution placement needs.
pub fn institution_kind(placement: &str) -> Option<&'static str> {
    match placement {
        "minor_protection_institution" => Some("minor_protection"),
        "child_welfare_institution" => Some("child_welfare"),
        _ => None,
    }
}

/// A case in a list: no sealed text, the name masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseLine {
    pub id: i64,
    /// The child's village.
    pub region_code: String,
    pub region_name: String,
    /// The level that holds the case now (village, township, county or city).
    pub holder_code: String,
    /// `lead`, `open` or `closed`.
    pub status: String,
    pub status_label: String,
    pub person_id: Option<i64>,
    /// Masked (`张*`).
    pub name_masked: String,
    pub sex: String,
    pub birth_year: Option<i64>,
    /// Why care is missing: only on a case's detail (sealed at rest; empty in lists).
    pub reason: String,
    pub reason_label: String,
    /// The coarse group of the reason (lists and filters): `parent_health`,
    /// `parent_frontline`, `parent_deceased`, `other`.
    pub reason_group: String,
    pub reason_group_label: String,
    pub guardianship: String,
    pub guardianship_label: String,
    pub placement: String,
    pub placement_label: String,
    pub worker_id: Option<i64>,
    pub worker: String,
    pub supervisor_id: Option<i64>,
    pub supervisor: String,
    /// `report`, `observation`, `screening`, `entrance_alert`, `hotline` or `health_event`
    /// (an institution's or hospital's report of a parent's health).
    pub source: String,
    /// RFC 3339: when a lead must be taken.
    pub lead_due_at: Option<String>,
    pub lead_overdue: bool,
    /// RFC 3339: when the placement decision is due.
    pub classify_due_at: String,
    pub classified_at: Option<String>,
    pub classify_overdue: bool,
    pub next_contact_at: Option<String>,
    pub contact_overdue: bool,
    pub follow_up_due_at: Option<String>,
    pub application_id: Option<i64>,
    /// The aid-first grant (先行救助) started from the case.
    pub aid_grant_id: Option<i64>,
    pub created_at: String,
    /// Beijing time opened, for pages.
    #[serde(skip)]
    pub shown_at: String,
}

/// One entry of a case's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseEvent {
    /// `open`, `take`, `guardianship`, `placement`, `assign`, `handover`, `link_person`,
    /// `assistance`, `aid_grant`, `hotline_call` (a call that refers to the case: `call|time`),
    /// `close`.
    pub kind: String,
    pub from_value: String,
    pub to_value: String,
    pub actor: String,
    pub at: String,
}

/// A contact or visit logged.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: i64,
    pub kind: String,
    pub kind_label: String,
    pub note: String,
    pub next_due_at: Option<String>,
    pub by: String,
    pub at: String,
}

/// A need turned into a task.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Task {
    pub id: i64,
    pub case_id: i64,
    pub need: String,
    pub need_label: String,
    pub owner_id: i64,
    pub owner: String,
    /// `YYYY-MM-DD` (Beijing).
    pub due_date: String,
    /// `open` or `done`.
    pub status: String,
    pub overdue: bool,
    pub done_by: Option<String>,
    pub done_at: Option<String>,
}

/// The temporary-assistance application started from the case.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkedApplication {
    pub id: i64,
    pub programme: String,
    pub status: String,
    pub status_label: String,
}

/// The aid-first grant (先行救助: temporary assistance paid at once) started from the case.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkedGrant {
    pub id: i64,
    pub amount_fen: i64,
    /// The amount in yuan (`300.00`), for pages.
    pub amount_yuan: String,
    /// `granted`, `confirmed` or `refused`.
    pub status: String,
    pub status_label: String,
}

/// A case as its detail shows it (every view audited).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChildCase {
    #[serde(flatten)]
    pub line: CaseLine,
    /// In full on the detail.
    pub name: String,
    pub where_now: String,
    pub health: String,
    pub health_label: String,
    pub contact_history: String,
    /// The village carer's name (`village_carer`).
    pub carer_name: String,
    pub placement_org_id: Option<i64>,
    pub placement_org_name: String,
    pub care_plan: String,
    pub source_ref: String,
    pub taken_at: Option<String>,
    pub closed_at: Option<String>,
    pub close_reason: String,
    pub opened_by: String,
    pub application: Option<LinkedApplication>,
    pub grant: Option<LinkedGrant>,
    pub events: Vec<CaseEvent>,
    pub contacts: Vec<Contact>,
    pub tasks: Vec<Task>,
    /// Whether the viewer is the case's worker or supervisor.
    pub mine: bool,
}

/// Body of `POST /api/v1/child-cases` (report a child).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewCase {
    /// A person of the registry; or leave out and give `name` (a quick record).
    #[serde(default)]
    pub person_id: Option<i64>,
    /// The quick record: the child's name.
    #[serde(default)]
    pub name: Option<String>,
    /// `male` / `female` (or 男 / 女).
    #[serde(default)]
    pub sex: Option<String>,
    #[serde(default)]
    pub birth_year: Option<i64>,
    /// The child's village (default: the registry person's region).
    #[serde(default)]
    pub region_code: Option<String>,
    /// Where the child is now.
    pub where_now: String,
    /// One of [`REASONS`].
    pub reason: String,
    /// One of [`HEALTH`]; default `unknown`.
    #[serde(default)]
    pub health: Option<String>,
    /// The child's contact history (free text).
    #[serde(default)]
    pub contact_history: Option<String>,
}

/// Filters of `GET /api/v1/child-cases`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct CaseQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// `lead`, `open`, `closed`; default all but closed.
    pub status: Option<String>,
}

/// `?reason=` of a case detail (required unless the viewer is the worker or supervisor).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ViewQuery {
    /// Why the case is read (查看事由), kept in the audit log.
    pub reason: Option<String>,
}

/// Not found unless the actor holds `children.read`: a case must not appear to exist to a
/// role that has no business with it.
pub(crate) fn may_read(actor: &Actor) -> AppResult<()> {
    if actor.can(Permission::ChildrenRead) {
        Ok(())
    } else {
        Err(AppError::not_found())
    }
}

/// `children.read` and then `p` (forbidden without `p`, not found without reading).
pub(crate) fn may(actor: &Actor, p: Permission) -> AppResult<()> {
    may_read(actor)?;
    actor.require(p)
}

pub(crate) use backstop_core::region::province_of;

/// Cases in the actor's scope (optionally one region of it), newest first.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    status: Option<&str>,
) -> AppResult<Vec<CaseLine>> {
    may_read(actor)?;
    let status = match status.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(choice(&STATUSES, "status", s)?),
    };
    queries::cases(state, &actor.within_opt(region)?, status).await
}

/// Filters of the case list page (`/children/cases`).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// `lead`, `open`, `closed`, or empty for all but closed.
    pub status: String,
    /// One of [`REASON_GROUPS`], or empty.
    pub reason: String,
    /// Only leads, classifications or contacts past due.
    pub overdue: bool,
    /// Only cases naming the actor as worker or supervisor.
    pub mine: bool,
}

/// Cases in the actor's scope matching `f`, newest first (names masked, no sealed text).
pub async fn filtered(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    f: &ListFilter,
) -> AppResult<Vec<CaseLine>> {
    let reason = match f.reason.trim() {
        "" => None,
        r => Some(choice(&REASON_GROUPS, "reason", r)?),
    };
    let all = list(state, actor, region, Some(f.status.as_str())).await?;
    Ok(all
        .into_iter()
        .filter(|c| reason.is_none_or(|r| c.reason_group == r))
        .filter(|c| !f.overdue || c.lead_overdue || c.classify_overdue || c.contact_overdue)
        .filter(|c| !f.mine || is_mine(actor, c))
        .collect())
}

/// What waits on the actor now, for the home page's to-do line: leads to take, and open cases
/// with the classification or the next contact overdue (0 for roles without `children.read`).
pub async fn due_total(state: &AppState, actor: &Actor) -> AppResult<usize> {
    if !actor.can(Permission::ChildrenRead) {
        return Ok(0);
    }
    Ok(queries::cases(state, &actor.everywhere(), None)
        .await?
        .iter()
        .filter(|c| c.status == "lead" || c.classify_overdue || c.contact_overdue)
        .count())
}

/// A case as a service reads it (no view audited): for the actions.
pub(crate) async fn line(state: &AppState, actor: &Actor, id: i64) -> AppResult<CaseLine> {
    may_read(actor)?;
    queries::case_line(state, &actor.everywhere(), id).await
}

/// Is the actor the case's worker or supervisor?
pub(crate) fn is_mine(actor: &Actor, c: &CaseLine) -> bool {
    actor.user_id.is_some() && (c.worker_id == actor.user_id || c.supervisor_id == actor.user_id)
}

/// One case with its history, contacts and tasks. The view is audited (`children.view`); a
/// viewer who is neither the worker nor the supervisor must give a reason.
pub async fn view(
    state: &AppState,
    actor: &Actor,
    id: i64,
    reason: Option<&str>,
) -> AppResult<ChildCase> {
    let line = line(state, actor, id).await?;
    let mine = is_mine(actor, &line);
    let reason = text_field("reason", reason.unwrap_or(""), 200, false)?;
    if !mine && reason.is_empty() {
        return Err(AppError::field(
            ErrorCode::ReasonRequired,
            "reason",
            "您不是该个案的工作者或督导员，查看前请填写查看事由",
        ));
    }
    let case = queries::case_full(state, &actor.everywhere(), id, mine).await?;
    let tx = Tx::begin(state, actor).await?;
    tx.commit(
        Change::new("children.view", "child_case", id, &case.line.region_code)
            .detail(json!({"reason": reason, "mine": mine})),
    )
    .await?;
    Ok(case)
}

/// A case detail after a write by its actor (the write is audited; no second view entry).
pub(crate) async fn after_write(state: &AppState, actor: &Actor, id: i64) -> AppResult<ChildCase> {
    let mine = match queries::case_line(state, &actor.everywhere(), id).await {
        Ok(l) => is_mine(actor, &l),
        // Handed over out of the actor's reach: it answered, nothing more to show.
        Err(e) => return Err(e),
    };
    queries::case_full(state, &actor.everywhere(), id, mine).await
}

/// Report a child (open a case): a registry person or a quick record, where the child is,
/// why care is missing, health and contact history. The reporter becomes the case worker.
pub async fn open(
    state: &AppState,
    actor: &Actor,
    input: &NewCase,
    idem: Option<&str>,
) -> AppResult<ChildCase> {
    may(actor, Permission::ChildrenManage)?;
    if let Some(id) = crate::assistance::replayed(state, actor, idem, "child_cases").await? {
        return after_write(state, actor, id).await;
    }
    let child = child_of(state, actor, input).await?;
    let region = RegionCode::parse(&child.region).map_err(|_| AppError::not_found())?;
    actor.within(&region)?;
    let where_now = text_field("where_now", &input.where_now, 200, true)?;
    let reason = choice(&REASONS, "reason", &input.reason)?;
    let health = match input.health.as_deref().map(str::trim) {
        Some(h) if !h.is_empty() => choice(&HEALTH, "health", h)?,
        _ => "unknown",
    };
    let history = text_field(
        "contact_history",
        input.contact_history.as_deref().unwrap_or(""),
        2000,
        false,
    )?;
    let now = state.now_ms();
    let keys = &state.keys;
    let row = queries::NewCaseRow {
        region_code: &child.region,
        status: "open",
        person_id: child.person_id,
        name_enc: crate::privacy::seal(keys, &child.name),
        name_masked: crate::people::shown::name_in_list(&child.name),
        sex: child.sex,
        birth_year: child.birth_year,
        where_enc: Some(crate::privacy::seal(keys, &where_now)),
        reason,
        reason_enc: crate::privacy::seal(keys, reason),
        health_enc: Some(crate::privacy::seal(keys, health)),
        history_enc: Some(crate::privacy::seal(keys, &history)),
        classify_due_at: now + CLASSIFY_DUE_MS,
        worker_id: actor.user_id,
        source: "report",
        source_ref: String::new(),
        lead_due_at: None,
        opened_by: &actor.username,
    };
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_case(&mut tx, &row).await?;
    queries::insert_event(
        &mut tx,
        &child.region,
        id,
        "open",
        "",
        "report",
        &actor.username,
    )
    .await?;
    crate::assistance::remember(&mut tx, actor, idem, "child_cases", id).await?;
    tx.commit(
        Change::new("child_case.open", "child_case", id, &child.region).detail(json!({
            "person_id": child.person_id,
            "name": {"before": null, "after": row.name_masked},
            "reason_group": {"before": null, "after": reason_group(reason)},
            // Where the child is, health and history are sealed in the row, not copied here.
        })),
    )
    .await?;
    after_write(state, actor, id).await
}

/// The child of a new case, checked.
pub(crate) struct Child {
    pub person_id: Option<i64>,
    pub name: String,
    pub sex: String,
    pub birth_year: Option<i64>,
    pub region: String,
}

async fn child_of(state: &AppState, actor: &Actor, input: &NewCase) -> AppResult<Child> {
    if let Some(pid) = input.person_id {
        let p = registry_person(state, actor, pid).await?;
        let region = match input.region_code.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => crate::regions::parse_code("region_code", r)?
                .as_str()
                .to_string(),
            _ => p.region_code.clone(),
        };
        return Ok(Child {
            person_id: Some(p.id),
            name: p.name,
            sex: p.sex,
            birth_year: p.birth_year,
            region,
        });
    }
    let name = text_field("name", input.name.as_deref().unwrap_or(""), 50, false)?;
    if name.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "name",
            "请选择人员库中的儿童，或填写儿童姓名",
        ));
    }
    let sex = match input.sex.as_deref() {
        Some(s) => crate::people::parse_sex(s)
            .map_err(|m| AppError::field(ErrorCode::Validation, "sex", m))?
            .map(|s| s.as_str())
            .unwrap_or(""),
        None => "",
    };
    let year = state
        .today()
        .format("%Y")
        .to_string()
        .parse::<i64>()
        .unwrap_or(2026);
    if let Some(y) = input.birth_year
        && (y > year || y < year - 18)
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "birth_year",
            "出生年份应为近 18 年内",
        ));
    }
    let region = text_field(
        "region_code",
        input.region_code.as_deref().unwrap_or(""),
        12,
        true,
    )?;
    let region = crate::regions::parse_code("region_code", &region)?;
    crate::regions::on_record(state, &region, "region_code", "区划不存在").await?;
    Ok(Child {
        person_id: None,
        name,
        sex: sex.to_string(),
        birth_year: input.birth_year,
        region: region.as_str().to_string(),
    })
}

/// A registry person the actor may read (else a Chinese error on `person_id`).
pub(crate) async fn registry_person(
    state: &AppState,
    actor: &Actor,
    pid: i64,
) -> AppResult<crate::people::Person> {
    match crate::people::get(state, actor, pid).await {
        Ok(p) => Ok(p),
        Err(e) if matches!(e.code, ErrorCode::NotFound | ErrorCode::Forbidden) => {
            Err(AppError::field(
                ErrorCode::Validation,
                "person_id",
                "人员库中没有这名儿童（或不在您的辖区内）",
            ))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_take_keys_or_labels() {
        assert_eq!(
            choice(&REASONS, "reason", "parent_frontline").ok(),
            Some("parent_frontline")
        );
        assert_eq!(
            choice(&PLACEMENTS, "placement", "亲属照料").ok(),
            Some("kin")
        );
        assert!(choice(&PLACEMENTS, "placement", "orphanage").is_err());
        assert_eq!(
            institution_kind("child_welfare_institution"),
            Some("child_welfare")
        );
        assert_eq!(institution_kind("kin"), None);
        assert_eq!(label(&STATUSES, "lead"), "待接收线索");
    }
}
