//! The actions on a case after it opens, one service function each: take a lead, classify
//! and place, assign, care plan, contacts, needs as tasks, hand-over, closure, linking the
//! quick record to a registry person, and starting temporary assistance. Each is one write
//! transaction with its audit entry; the history of guardianship, placement, assignment and
//! hand-over is kept in `child_case_events`.

use backstop_core::clock::end_of_beijing_day_ms;
use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel};
use backstop_core::role::{Permission, RoleSet};
use serde::Deserialize;
use serde_json::json;

use super::{
    CLASSIFY_DUE_MS, CONTACT_KINDS, CaseLine, ChildCase, GUARDIANSHIPS, NEEDS, PLACEMENTS,
    after_write, choice, institution_kind, line, may, queries,
};
use crate::kernel::access::{Change, Tx, text_len};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field, text_field};
use crate::privacy::seal;
use crate::state::AppState;

const DAY_MS: i64 = 24 * super::HOUR_MS;

/// Body of `POST /api/v1/child-cases/{id}/classify`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ClassifyInput {
    /// `parents` or `temporary` (民政临时监护).
    pub guardianship: String,
    /// One of `medical_observation`, `kin`, `village_carer`, `foster_family`,
    /// `minor_protection_institution`, `child_welfare_institution`.
    pub placement: String,
    /// The village carer's name (`village_carer`; a kin or foster carer may be named too).
    #[serde(default)]
    pub carer_name: Option<String>,
    /// The institution (`minor_protection` or `child_welfare` organisation) for an
    /// institution placement.
    #[serde(default)]
    pub org_id: Option<i64>,
}

/// Body of `POST /api/v1/child-cases/{id}/assign`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AssignInput {
    /// A user holding `children.manage` who may read the case.
    #[serde(default)]
    pub worker_id: Option<i64>,
    /// A user holding `children.supervise` who may read the case.
    #[serde(default)]
    pub supervisor_id: Option<i64>,
}

/// Body of `POST /api/v1/child-cases/{id}/plan`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PlanInput {
    pub care_plan: String,
}

/// Body of `POST /api/v1/child-cases/{id}/contacts`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ContactInput {
    /// `visit`, `phone` or `follow_up` (the visit after closure).
    pub kind: String,
    pub note: String,
    /// `YYYY-MM-DD` (Beijing): the next contact is due by the end of that day.
    #[serde(default)]
    pub next_due: Option<String>,
}

/// Body of `POST /api/v1/child-cases/{id}/tasks`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct TaskInput {
    /// `food`, `medicine`, `schooling` or `psychological`.
    pub need: String,
    /// The user who sees to it (holding `children.manage`, able to read the case).
    pub owner_id: i64,
    /// `YYYY-MM-DD` (Beijing), today or later.
    pub due_date: String,
}

/// Body of `POST /api/v1/child-cases/{id}/handover`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct HandoverInput {
    /// The village, township, county or city the case moves to (on the child's village's path).
    pub to: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Body of `POST /api/v1/child-cases/{id}/close`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CloseInput {
    /// How a guardian resumed care (e.g. 父亲解除隔离返家).
    pub reason: String,
    /// Days until the follow-up visit (1–90, default 14).
    #[serde(default)]
    pub follow_up_days: Option<i64>,
}

/// Body of `POST /api/v1/child-cases/{id}/person`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct LinkInput {
    pub person_id: i64,
}

pub(super) fn conflict(msg: &str) -> AppError {
    AppError::msg(ErrorCode::Conflict, msg)
}

pub(super) fn not_closed(c: &CaseLine) -> AppResult<()> {
    if c.status == "closed" {
        Err(conflict("该个案已结案"))
    } else {
        Ok(())
    }
}

pub(super) fn taken(c: &CaseLine) -> AppResult<()> {
    not_closed(c)?;
    if c.status == "lead" {
        Err(conflict("该线索尚未接收，请先接收"))
    } else {
        Ok(())
    }
}

/// Write one change of a case with its audit entry, and read the case back.
pub(super) async fn write<F>(
    state: &AppState,
    actor: &Actor,
    c: &CaseLine,
    change: Change,
    f: F,
) -> AppResult<ChildCase>
where
    F: AsyncFnOnce(&mut Tx) -> AppResult<()>,
{
    let mut tx = Tx::begin(state, actor).await?;
    f(&mut tx).await?;
    tx.commit(change).await?;
    after_write(state, actor, c.id).await
}

pub(super) fn change(action: &'static str, c: &CaseLine) -> Change {
    Change::new(action, "child_case", c.id, &c.region_code)
}

/// Take a lead: it becomes an open case with the actor as its worker; the placement decision
/// is due [`CLASSIFY_DUE_MS`] later.
pub async fn take(state: &AppState, actor: &Actor, id: i64) -> AppResult<ChildCase> {
    may(actor, Permission::ChildrenManage)?;
    let c = line(state, actor, id).await?;
    if c.status != "lead" {
        return Err(conflict("该线索已被接收"));
    }
    let uid = actor.user_id.ok_or_else(AppError::forbidden)?;
    let who = actor.username.clone();
    let detail = json!({"status": {"before": "lead", "after": "open"}, "worker_id": uid});
    write(
        state,
        actor,
        &c,
        change("child_case.take", &c).detail(detail),
        async |tx| {
            let now = tx.now();
            if !queries::take(tx, id, uid, now, now + CLASSIFY_DUE_MS).await? {
                return Err(conflict("该线索已被接收"));
            }
            queries::insert_event(tx, &c.region_code, id, "take", "lead", "open", &who).await
        },
    )
    .await
}

/// Classify and place: guardianship and placement, each change kept in the history. An
/// institution placement must name an organisation of the matching kind (else 422).
pub async fn classify(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &ClassifyInput,
) -> AppResult<ChildCase> {
    may(actor, Permission::ChildrenSupervise)?;
    let c = line(state, actor, id).await?;
    taken(&c)?;
    let guardianship = choice(&GUARDIANSHIPS, "guardianship", &input.guardianship)?;
    let placement = choice(&PLACEMENTS, "placement", &input.placement)?;
    let carer = text_field(
        "carer_name",
        input.carer_name.as_deref().unwrap_or(""),
        50,
        false,
    )?;
    if placement == "village_carer" && carer.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "carer_name",
            "请填写村（居）委会指定的照料人姓名",
        ));
    }
    let org = match institution_kind(placement) {
        None => None,
        Some(kind) => Some(placement_org(state, actor, input.org_id, kind).await?),
    };
    let who = actor.username.clone();
    let detail = json!({
        "guardianship": {"before": c.guardianship, "after": guardianship},
        "placement": {"before": c.placement, "after": placement},
        "org_id": org.as_ref().map(|o| o.0),
        "carer_named": !carer.is_empty(),
    });
    let carer_enc = (!carer.is_empty()).then(|| seal(&state.keys, &carer));
    write(
        state,
        actor,
        &c,
        change("child_case.classify", &c).detail(detail),
        async |tx| {
            let now = tx.now();
            let org_id = org.as_ref().map(|o| o.0);
            queries::classify(tx, id, guardianship, placement, carer_enc, org_id, now).await?;
            if c.guardianship != guardianship {
                queries::insert_event(
                    tx,
                    &c.region_code,
                    id,
                    "guardianship",
                    &c.guardianship,
                    guardianship,
                    &who,
                )
                .await?;
            }
            let to = match &org {
                Some((oid, _)) => format!("{placement}:org:{oid}"),
                None => placement.to_string(),
            };
            queries::insert_event(tx, &c.region_code, id, "placement", &c.placement, &to, &who)
                .await
        },
    )
    .await
}

/// The institution of a placement: an organisation the actor may read, of kind `kind`.
async fn placement_org(
    state: &AppState,
    actor: &Actor,
    org_id: Option<i64>,
    kind: &str,
) -> AppResult<(i64, String)> {
    let wrong = |msg: &str| AppError::field(ErrorCode::Validation, "org_id", msg);
    let kind_label = if kind == "child_welfare" {
        "儿童福利机构"
    } else {
        "未成年人救助保护机构"
    };
    let Some(oid) = org_id else {
        return Err(wrong(&format!("机构安置须选择一家{kind_label}")));
    };
    let org = match crate::orgs::get(state, actor, oid).await {
        Ok(o) => o,
        Err(e) if matches!(e.code, ErrorCode::NotFound | ErrorCode::Forbidden) => {
            return Err(wrong("机构不存在或不在您的辖区内"));
        }
        Err(e) => return Err(e),
    };
    if org.kind != kind || org.disabled {
        return Err(wrong(&format!(
            "所选机构（{}）不是{kind_label}，请选择类型相符的机构",
            org.kind_label
        )));
    }
    Ok((org.id, org.name))
}

/// A user who may work on a case: active, holding `perm`, whose scope contains the child's
/// village and lies inside the actor's scope. Returns the user's id.
async fn case_user(
    state: &AppState,
    actor: &Actor,
    c: &CaseLine,
    field: &str,
    uid: i64,
    perm: Permission,
) -> AppResult<i64> {
    let bad = || {
        AppError::field(
            ErrorCode::Validation,
            field,
            "该用户不存在、已停用、没有相应权限或不在本个案的辖区内",
        )
    };
    let Some((roles, scope, disabled)) = queries::user(state, uid).await? else {
        return Err(bad());
    };
    let holds = RoleSet::parse_list(&roles).is_ok_and(|r| r.has(perm));
    let scope_ok = backstop_core::region::Scope::parse(&scope)
        .is_ok_and(|s| RegionCode::parse(&c.region_code).is_ok_and(|v| s.contains(&v)))
        && actor.sees_scope_str(&scope);
    if disabled || !holds || !scope_ok {
        return Err(bad());
    }
    Ok(uid)
}

/// Name the case worker and / or the supervisor.
pub async fn assign(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &AssignInput,
) -> AppResult<ChildCase> {
    may(actor, Permission::ChildrenSupervise)?;
    let c = line(state, actor, id).await?;
    not_closed(&c)?;
    if input.worker_id.is_none() && input.supervisor_id.is_none() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "worker_id",
            "请指定个案工作者或督导员",
        ));
    }
    let worker = match input.worker_id {
        Some(u) => {
            Some(case_user(state, actor, &c, "worker_id", u, Permission::ChildrenManage).await?)
        }
        None => c.worker_id,
    };
    let supervisor = match input.supervisor_id {
        Some(u) => Some(
            case_user(
                state,
                actor,
                &c,
                "supervisor_id",
                u,
                Permission::ChildrenSupervise,
            )
            .await?,
        ),
        None => c.supervisor_id,
    };
    let who = actor.username.clone();
    let detail = json!({"worker_id": {"before": c.worker_id, "after": worker},
        "supervisor_id": {"before": c.supervisor_id, "after": supervisor}});
    write(
        state,
        actor,
        &c,
        change("child_case.assign", &c).detail(detail),
        async |tx| {
            let now = tx.now();
            queries::assign(tx, id, worker, supervisor, now).await?;
            let from = format!("{:?}/{:?}", c.worker_id, c.supervisor_id);
            let to = format!("{worker:?}/{supervisor:?}");
            queries::insert_event(tx, &c.region_code, id, "assign", &from, &to, &who).await
        },
    )
    .await
}

/// Write the care plan (sealed).
pub async fn set_plan(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &PlanInput,
) -> AppResult<ChildCase> {
    may(actor, Permission::ChildrenManage)?;
    let c = line(state, actor, id).await?;
    taken(&c)?;
    let plan = text_field("care_plan", &input.care_plan, 4000, true)?;
    let enc = seal(&state.keys, &plan);
    // The plan is sealed in the row; the log says only that it changed.
    let detail = json!({"care_plan": "changed"});
    write(
        state,
        actor,
        &c,
        change("child_case.plan", &c).detail(detail),
        async |tx| {
            let now = tx.now();
            queries::set_plan(tx, id, enc, now).await
        },
    )
    .await
}

/// Log a contact or visit (the note sealed) and the next contact due. After closure only
/// the follow-up visit is logged, and it clears the follow-up due.
pub async fn log_contact(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &ContactInput,
) -> AppResult<ChildCase> {
    may(actor, Permission::ChildrenManage)?;
    let c = line(state, actor, id).await?;
    let kind = choice(&CONTACT_KINDS, "kind", &input.kind)?;
    match (c.status.as_str(), kind) {
        ("lead", _) => return Err(conflict("该线索尚未接收，请先接收")),
        ("closed", k) if k != "follow_up" => {
            return Err(conflict("个案已结案，只能登记结案后回访"));
        }
        ("open", "follow_up") => {
            return Err(AppError::field(
                ErrorCode::Validation,
                "kind",
                "结案后回访只能在结案后登记",
            ));
        }
        _ => {}
    }
    let note = text_field("note", &input.note, 2000, true)?;
    let next = match input.next_due.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => {
            let d = date_field("next_due", s)?;
            if d < state.today() {
                return Err(AppError::field(
                    ErrorCode::Validation,
                    "next_due",
                    "下次联系日期不能早于今天",
                ));
            }
            Some(end_of_beijing_day_ms(d))
        }
        _ => None,
    };
    let enc = seal(&state.keys, &note);
    let who = actor.username.clone();
    let region = c.region_code.clone();
    let detail = json!({"kind": kind, "next_due_at": next});
    write(
        state,
        actor,
        &c,
        change("child_case.contact", &c).detail(detail),
        async |tx| {
            let now = tx.now();
            queries::insert_contact(tx, &region, id, kind, enc, next, &who, now).await
        },
    )
    .await
}

/// Turn a need into a task with an owner and a due date.
pub async fn add_task(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &TaskInput,
) -> AppResult<ChildCase> {
    may(actor, Permission::ChildrenManage)?;
    let c = line(state, actor, id).await?;
    taken(&c)?;
    let need = choice(&NEEDS, "need", &input.need)?;
    let owner = case_user(
        state,
        actor,
        &c,
        "owner_id",
        input.owner_id,
        Permission::ChildrenManage,
    )
    .await?;
    let d = date_field("due_date", &input.due_date)?;
    if d < state.today() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "due_date",
            "期限不能早于今天",
        ));
    }
    let due = d.format("%Y-%m-%d").to_string();
    let who = actor.username.clone();
    let detail = json!({"need": need, "owner_id": owner, "due_date": due});
    let mut tx = Tx::begin(state, actor).await?;
    let row = queries::NewTask {
        region: &c.region_code,
        case_id: id,
        need,
        owner_id: owner,
        due_date: &due,
        due_ms: end_of_beijing_day_ms(d),
        by: &who,
    };
    let tid = queries::insert_task(&mut tx, &row).await?;
    tx.commit(
        Change::new("child_case.task", "child_case_task", tid, &c.region_code)
            .detail(json!({"case_id": id, "task": detail})),
    )
    .await?;
    after_write(state, actor, id).await
}

/// Mark a task done.
pub async fn task_done(
    state: &AppState,
    actor: &Actor,
    id: i64,
    task_id: i64,
) -> AppResult<ChildCase> {
    may(actor, Permission::ChildrenManage)?;
    let c = line(state, actor, id).await?;
    let who = actor.username.clone();
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    match queries::task_done(&mut tx, id, task_id, &who, now).await? {
        None => return Err(AppError::not_found()),
        Some(false) => return Err(conflict("该任务已完成")),
        Some(true) => {}
    }
    tx.commit(
        Change::new(
            "child_case.task_done",
            "child_case_task",
            task_id,
            &c.region_code,
        )
        .detail(json!({"case_id": id, "status": {"before": "open", "after": "done"}})),
    )
    .await?;
    after_write(state, actor, id).await
}

/// Hand the case over to another level on the child's village's path (village, township,
/// county or city). Who may read it moves with it; the worker and supervisor named keep it.
pub async fn hand_over(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &HandoverInput,
) -> AppResult<ChildCase> {
    may(actor, Permission::ChildrenSupervise)?;
    let c = line(state, actor, id).await?;
    not_closed(&c)?;
    let to = crate::regions::parse_code("to", &input.to)?;
    let village = RegionCode::parse(&c.region_code).map_err(|_| AppError::not_found())?;
    let on_path = to.contains(&village)
        && matches!(
            to.level(),
            RegionLevel::City | RegionLevel::County | RegionLevel::Township | RegionLevel::Village
        );
    if !on_path {
        return Err(AppError::field(
            ErrorCode::Validation,
            "to",
            "只能移交给儿童所在村（社区）、乡镇（街道）、县级或市级",
        ));
    }
    if to.as_str() == c.holder_code {
        return Err(AppError::field(
            ErrorCode::Validation,
            "to",
            "个案已在该级办理",
        ));
    }
    let note = text_field("note", input.note.as_deref().unwrap_or(""), 500, false)?;
    let who = actor.username.clone();
    let detail = json!({"holder_code": {"before": c.holder_code, "after": to.as_str()}, "note": text_len(&note)});
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    queries::hand_over(&mut tx, id, to.as_str(), now).await?;
    queries::insert_event(
        &mut tx,
        &c.region_code,
        id,
        "handover",
        &c.holder_code,
        to.as_str(),
        &who,
    )
    .await?;
    tx.commit(change("child_case.handover", &c).detail(detail))
        .await?;
    // Handed out of the actor's reach: the case as it stood, with the new holder.
    match after_write(state, actor, id).await {
        Ok(v) => Ok(v),
        Err(e) if e.code == ErrorCode::NotFound => Err(AppError::msg(
            ErrorCode::NotFound,
            "个案已移交，您不再办理该个案",
        )),
        Err(e) => Err(e),
    }
}

/// Close the case when a guardian resumes care: the reason (sealed) and a follow-up visit due.
pub async fn close(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &CloseInput,
) -> AppResult<ChildCase> {
    may(actor, Permission::ChildrenSupervise)?;
    let c = line(state, actor, id).await?;
    taken(&c)?;
    let reason = text_field("reason", &input.reason, 500, true)?;
    let days = input.follow_up_days.unwrap_or(14);
    if !(1..=90).contains(&days) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "follow_up_days",
            "回访应在结案后 1 至 90 天内",
        ));
    }
    let enc = seal(&state.keys, &reason);
    let who = actor.username.clone();
    let detail = json!({"status": {"before": c.status, "after": "closed"}, "follow_up_days": days});
    write(
        state,
        actor,
        &c,
        change("child_case.close", &c).detail(detail),
        async |tx| {
            let now = tx.now();
            queries::close(tx, id, enc, now, now + days * DAY_MS).await?;
            queries::insert_event(tx, &c.region_code, id, "close", &c.status, "closed", &who).await
        },
    )
    .await
}

/// Complete a quick record by linking it to a registry person.
pub async fn link_person(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &LinkInput,
) -> AppResult<ChildCase> {
    may(actor, Permission::ChildrenManage)?;
    let c = line(state, actor, id).await?;
    if c.person_id.is_some() {
        return Err(conflict("该个案已关联人员库中的儿童"));
    }
    let p = super::registry_person(state, actor, input.person_id).await?;
    let name_enc = seal(&state.keys, &p.name);
    let masked = crate::people::shown::name_in_list(&p.name);
    let who = actor.username.clone();
    let detail = json!({"person_id": {"before": null, "after": p.id}});
    write(
        state,
        actor,
        &c,
        change("child_case.link_person", &c).detail(detail),
        async |tx| {
            let now = tx.now();
            let row = queries::LinkRow {
                person_id: p.id,
                name_enc,
                name_masked: &masked,
                sex: &p.sex,
                birth_year: p.birth_year,
            };
            queries::link_person(tx, id, &row, now).await?;
            queries::insert_event(
                tx,
                &c.region_code,
                id,
                "link_person",
                "",
                &p.id.to_string(),
                &who,
            )
            .await
        },
    )
    .await
}
