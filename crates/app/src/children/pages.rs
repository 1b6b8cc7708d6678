//! Pages of children's cases, phone-first for the children's director: the hub (`/children`:
//! leads to take, cases followed with what is overdue, and the short report form), and the
//! case page (`/children/cases/{id}`: a small reason form first when the viewer is neither the
//! worker nor the supervisor, then the case with its timeline and one form per action —
//! classify and place, assign, care plan, contacts, tasks, hand-over, closure, linking a
//! registry person, starting assistance). Each form carries the view's reason back, so the
//! page after the write is the same audited view. Rules live in `children`; roles without
//! `children.read` get the not-found page.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::forms::Pickers;
use super::{
    AssignInput, AssistInput, CONTACT_KINDS, CaseLine, ChildCase, ClassifyInput, CloseInput,
    ContactInput, GUARDIANSHIPS, HEALTH, HandoverInput, LinkInput, NEEDS, NewCase, PLACEMENTS,
    PlanInput, REASONS, TaskInput,
};
use crate::kernel::auth::Authed;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::form::Kept;
use crate::kernel::handler::{PageCaller, PageId};
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, PeriodFilter, render, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/children", get(hub).post(report)),
        ("/children/cases", get(cases)),
        ("/children/stats", get(statistics)),
        ("/children/cases/{id}", get(case)),
        ("/children/cases/{id}/take", post(take)),
        ("/children/cases/{id}/classify", post(classify)),
        ("/children/cases/{id}/assign", post(assign)),
        ("/children/cases/{id}/plan", post(plan)),
        ("/children/cases/{id}/contacts", post(contact)),
        ("/children/cases/{id}/tasks", post(task)),
        ("/children/cases/{id}/tasks/{task_id}/done", post(task_done)),
        ("/children/cases/{id}/handover", post(handover)),
        ("/children/cases/{id}/close", post(close)),
        ("/children/cases/{id}/person", post(link_person)),
        ("/children/cases/{id}/assistance", post(assistance)),
    ]
}

const AREA: &str = "/children";

#[derive(Template)]
#[template(path = "children_hub.html")]
struct HubPage {
    nav: Option<Nav>,
    leads: Vec<CaseLine>,
    open: Vec<CaseLine>,
    can_manage: bool,
    home_region: String,
    reasons: &'static [(&'static str, &'static str)],
    health: &'static [(&'static str, &'static str)],
    reported: Option<i64>,
    form: Kept,
}

#[derive(Debug, Default, Deserialize)]
struct HubQuery {
    reported: Option<i64>,
}

async fn hub_page(s: &AppState, a: &Authed, form: Kept, reported: Option<i64>) -> PageResult {
    let leads = super::list(s, &a.actor, None, Some("lead")).await?;
    let open = super::list(s, &a.actor, None, Some("open")).await?;
    let status = form.status();
    Ok(render_status(
        &HubPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            leads,
            open,
            can_manage: a.actor.can(Permission::ChildrenManage),
            home_region: a
                .actor
                .scope
                .region()
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            reasons: &REASONS,
            health: &HEALTH,
            reported,
            form,
        },
        status,
    ))
}

async fn hub(PageCaller(s, a): PageCaller, Query(q): Query<HubQuery>) -> PageResult {
    hub_page(&s, &a, Kept::none(), q.reported).await
}

async fn report(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("child", pairs);
    let opt = |k: &str| Some(form.get(k).to_string()).filter(|v| !v.trim().is_empty());
    let birth_year = match opt("birth_year") {
        None => None,
        Some(y) => match y.trim().parse::<i64>() {
            Ok(y) => Some(y),
            // Kept and refused beside the field like any other bad input.
            Err(_) => Some(-1),
        },
    };
    let input = NewCase {
        person_id: None,
        name: opt("name"),
        sex: opt("sex"),
        birth_year,
        region_code: opt("region_code"),
        where_now: form.get("where_now").to_string(),
        reason: form.get("reason").to_string(),
        health: opt("health"),
        contact_history: opt("contact_history"),
    };
    let result = super::open(&s, &a.actor, &input, None).await;
    match form.outcome_as(result, |f| f.to_string())? {
        Ok(c) => Ok(Redirect::to(&format!("/children?reported={}", c.line.id)).into_response()),
        Err(form) => hub_page(&s, &a, form, None).await,
    }
}

async fn take(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    super::take(&s, &a.actor, id).await?;
    Ok(Redirect::to(AREA).into_response())
}

// ------------------------------------------------------------------------------ the case

type Choices = &'static [(&'static str, &'static str)];

#[derive(Template)]
#[template(path = "children_case.html")]
struct CasePage {
    nav: Option<Nav>,
    c: ChildCase,
    p: Pickers,
    /// The view's reason, carried by every form.
    reason: String,
    /// The worker's and supervisor's ids as the pickers' values ("" when none).
    worker_now: String,
    supervisor_now: String,
    can_manage: bool,
    can_supervise: bool,
    can_assist: bool,
    /// An emergency period with aid_first covers the child's village today: money at once.
    aid_first: bool,
    guardianships: Choices,
    placements: Choices,
    needs: Choices,
    contact_kinds: Choices,
    done: Option<String>,
    events: Vec<ShownEvent>,
    form: Kept,
}

/// An entry of the case's timeline in words.
struct ShownEvent {
    at: String,
    what: &'static str,
    change: String,
    actor: String,
}

const SOURCES: [(&str, &str); 6] = [
    ("report", "报告"),
    ("observation", "医学观察"),
    ("screening", "排查"),
    ("entrance_alert", "卡口预警"),
    ("hotline", "热线"),
    ("health_event", "机构/医院报告"),
];

/// `Some(12)` / `None` of an assignment entry, as words.
fn someone(v: &str) -> String {
    match v.strip_prefix("Some(").and_then(|r| r.strip_suffix(')')) {
        Some(id) => format!("用户 {id}"),
        None => "无".to_string(),
    }
}

fn shown_event(e: &super::CaseEvent) -> ShownEvent {
    let value = |v: &str| -> String {
        match e.kind.as_str() {
            "open" => super::label(&SOURCES, v).to_string(),
            "take" | "close" => super::label(&super::STATUSES, v).to_string(),
            "guardianship" => super::label(&GUARDIANSHIPS, v).to_string(),
            "placement" => match v.split_once(":org:") {
                Some((p, org)) => format!("{}（机构 {org}）", super::label(&PLACEMENTS, p)),
                None => super::label(&PLACEMENTS, v).to_string(),
            },
            "assign" => match v.split_once('/') {
                Some((w, s)) => format!("工作者 {}，督导员 {}", someone(w), someone(s)),
                None => String::new(),
            },
            "link_person" if !v.is_empty() => format!("人员 {v}"),
            "assistance" if !v.is_empty() => format!("救助申请 {v}"),
            "aid_grant" if !v.is_empty() => format!("先行救助 {v}"),
            "hotline_call" => match v.split_once('|') {
                Some((call, at)) => format!("来电 {call}（{at}）"),
                None => v.to_string(),
            },
            _ => v.to_string(),
        }
    };
    let what = match e.kind.as_str() {
        "open" => "立案",
        "take" => "接收线索",
        "guardianship" => "监护",
        "placement" => "安置",
        "assign" => "指派",
        "handover" => "移交",
        "link_person" => "关联人员库",
        "assistance" => "救助",
        "aid_grant" => "先行救助",
        "hotline_call" => "热线来电关联",
        "close" => "结案",
        _ => "其他",
    };
    let (from, to) = (value(&e.from_value), value(&e.to_value));
    ShownEvent {
        at: e.at.clone(),
        what,
        change: if from.is_empty() {
            to
        } else {
            format!("{from} → {to}")
        },
        actor: if e.actor == "system" {
            "系统".to_string()
        } else {
            e.actor.clone()
        },
    }
}

#[derive(Template)]
#[template(path = "children_case_reason.html")]
struct ReasonPage {
    nav: Option<Nav>,
    id: i64,
    form: Kept,
}

#[derive(Debug, Default, Deserialize)]
struct CaseQuery {
    reason: Option<String>,
    done: Option<String>,
}

/// What a write did, for the line above the case after it.
fn done_label(key: &str) -> Option<String> {
    let l = match key {
        "classify" => "已保存分类安置",
        "assign" => "已保存指派",
        "plan" => "已保存照护计划",
        "contacts" => "已记录联系探访",
        "tasks" => "已添加需求任务",
        "task_done" => "任务已完成",
        "handover" => "已移交",
        "close" => "已结案",
        "person" => "已关联人员库",
        "assistance" => "已发起救助",
        _ => return None,
    };
    Some(l.to_string())
}

async fn case_page(
    s: &AppState,
    a: &Authed,
    id: i64,
    reason: &str,
    done: Option<String>,
    form: Kept,
) -> PageResult {
    let nav = Some(Nav::for_actor(&a.actor, AREA));
    let c = match super::view(s, &a.actor, id, Some(reason)).await {
        Ok(c) => c,
        Err(e) if e.code == backstop_core::error::ErrorCode::ReasonRequired => {
            // The small form first: why the case is read.
            let form = if reason.trim().is_empty() {
                Kept::none()
            } else {
                Kept::input("reason", vec![("reason".into(), reason.into())]).refuse(&e)
            };
            let status = form.status();
            return Ok(render_status(&ReasonPage { nav, id, form }, status));
        }
        Err(e) => return Err(e.into()),
    };
    let p = super::forms::pickers(s, &a.actor, &c.line).await?;
    let events = c.events.iter().map(shown_event).collect();
    let aid_first = super::aid_first_today(s, &c.line).await?;
    let id_of = |u: Option<i64>| u.map(|w| w.to_string()).unwrap_or_default();
    let (worker_now, supervisor_now) = (id_of(c.line.worker_id), id_of(c.line.supervisor_id));
    let status = form.status();
    Ok(render_status(
        &CasePage {
            nav,
            c,
            p,
            reason: reason.to_string(),
            worker_now,
            supervisor_now,
            can_manage: a.actor.can(Permission::ChildrenManage),
            can_supervise: a.actor.can(Permission::ChildrenSupervise),
            can_assist: a.actor.can(if aid_first {
                Permission::AssistanceReview
            } else {
                Permission::AssistanceApply
            }),
            aid_first,
            guardianships: &GUARDIANSHIPS,
            placements: &PLACEMENTS,
            needs: &NEEDS,
            contact_kinds: &CONTACT_KINDS,
            done,
            events,
            form,
        },
        status,
    ))
}

async fn case(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Query(q): Query<CaseQuery>,
) -> PageResult {
    let done = q.done.as_deref().and_then(done_label);
    case_page(
        &s,
        &a,
        id,
        q.reason.as_deref().unwrap_or(""),
        done,
        Kept::none(),
    )
    .await
}

/// Answer a case form: after the write, the case page again (the same reason); refused, the
/// page with the form kept and the reason beside the field.
async fn answer<T>(
    s: &AppState,
    a: &Authed,
    id: i64,
    what: &str,
    form: Kept,
    result: AppResult<T>,
) -> PageResult {
    let reason = form.get("view_reason").to_string();
    match form.outcome(result)? {
        Ok(_) => Ok(Redirect::to(&format!(
            "/children/cases/{id}?done={what}&reason={}",
            crate::kernel::web::encode_query_value(&reason)
        ))
        .into_response()),
        Err(form) => case_page(s, a, id, &reason, None, form).await,
    }
}

fn opt(form: &Kept, k: &str) -> Option<String> {
    Some(form.get(k).trim().to_string()).filter(|v| !v.is_empty())
}

/// A whole number typed in a form; a bad one is refused beside its field.
fn number(form: &Kept, k: &str, what: &str) -> AppResult<Option<i64>> {
    match opt(form, k) {
        None => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
            AppError::field(
                backstop_core::error::ErrorCode::Validation,
                k,
                format!("请选择{what}"),
            )
        }),
    }
}

type Pairs = Form<Vec<(String, String)>>;

async fn classify(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(pairs): Pairs,
) -> PageResult {
    let form = Kept::input("classify", pairs);
    let result = async {
        let input = ClassifyInput {
            guardianship: form.get("guardianship").to_string(),
            placement: form.get("placement").to_string(),
            carer_name: opt(&form, "carer_name"),
            org_id: number(&form, "org_id", "机构")?,
        };
        super::classify(&s, &a.actor, id, &input).await
    }
    .await;
    answer(&s, &a, id, "classify", form, result).await
}

async fn assign(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(pairs): Pairs,
) -> PageResult {
    let form = Kept::input("assign", pairs);
    let result = async {
        let input = AssignInput {
            worker_id: number(&form, "worker_id", "个案工作者")?,
            supervisor_id: number(&form, "supervisor_id", "督导员")?,
        };
        super::assign(&s, &a.actor, id, &input).await
    }
    .await;
    answer(&s, &a, id, "assign", form, result).await
}

async fn plan(PageCaller(s, a): PageCaller, PageId(id): PageId, Form(pairs): Pairs) -> PageResult {
    let form = Kept::input("plan", pairs);
    let input = PlanInput {
        care_plan: form.get("care_plan").to_string(),
    };
    let result = super::set_plan(&s, &a.actor, id, &input).await;
    answer(&s, &a, id, "plan", form, result).await
}

async fn contact(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(pairs): Pairs,
) -> PageResult {
    let form = Kept::input("contact", pairs);
    let input = ContactInput {
        kind: form.get("kind").to_string(),
        note: form.get("note").to_string(),
        next_due: opt(&form, "next_due"),
    };
    let result = super::log_contact(&s, &a.actor, id, &input).await;
    answer(&s, &a, id, "contacts", form, result).await
}

async fn task(PageCaller(s, a): PageCaller, PageId(id): PageId, Form(pairs): Pairs) -> PageResult {
    let form = Kept::input("task", pairs);
    let result = async {
        let input = TaskInput {
            need: form.get("need").to_string(),
            owner_id: number(&form, "owner_id", "负责人")?.unwrap_or(0),
            due_date: form.get("due_date").to_string(),
        };
        super::add_task(&s, &a.actor, id, &input).await
    }
    .await;
    answer(&s, &a, id, "tasks", form, result).await
}

async fn task_done(
    PageCaller(s, a): PageCaller,
    Path((id, task_id)): Path<(i64, i64)>,
    Form(pairs): Pairs,
) -> PageResult {
    let form = Kept::input(&format!("done-{task_id}"), pairs);
    let result = super::task_done(&s, &a.actor, id, task_id).await;
    answer(&s, &a, id, "task_done", form, result).await
}

async fn handover(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(pairs): Pairs,
) -> PageResult {
    let form = Kept::input("handover", pairs);
    let input = HandoverInput {
        to: form.get("to").to_string(),
        note: opt(&form, "note"),
    };
    match super::hand_over(&s, &a.actor, id, &input).await {
        // Handed out of the viewer's reach: written; back to the hub.
        Err(e)
            if e.code == backstop_core::error::ErrorCode::NotFound
                && e.message.contains("已移交") =>
        {
            Ok(Redirect::to(AREA).into_response())
        }
        result => answer(&s, &a, id, "handover", form, result).await,
    }
}

async fn close(PageCaller(s, a): PageCaller, PageId(id): PageId, Form(pairs): Pairs) -> PageResult {
    let form = Kept::input("close", pairs);
    let result = async {
        let input = CloseInput {
            reason: form.get("reason").to_string(),
            follow_up_days: number(&form, "follow_up_days", "回访天数")?,
        };
        super::close(&s, &a.actor, id, &input).await
    }
    .await;
    answer(&s, &a, id, "close", form, result).await
}

async fn link_person(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(pairs): Pairs,
) -> PageResult {
    let form = Kept::input("person", pairs);
    let result = async {
        let input = LinkInput {
            person_id: number(&form, "person_id", "人员")?.unwrap_or(0),
        };
        super::link_person(&s, &a.actor, id, &input).await
    }
    .await;
    answer(&s, &a, id, "person", form, result).await
}

async fn assistance(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(pairs): Pairs,
) -> PageResult {
    let form = Kept::input("assist", pairs);
    let input = AssistInput {
        programme: opt(&form, "programme"),
        area_kind: form.get("area_kind").to_string(),
        amount: opt(&form, "amount"),
        authorised: form.has("authorised"),
        note: opt(&form, "note"),
    };
    let result = super::start_assistance(&s, &a.actor, id, &input, None).await;
    answer(&s, &a, id, "assistance", form, result).await
}

// ------------------------------------------------------------------ the list and the figures

/// Cases shown on one page of the list.
const PAGE_SIZE: usize = 30;

#[derive(Template)]
#[template(path = "children_cases.html")]
struct CasesPage {
    nav: Option<Nav>,
    rows: Vec<CaseLine>,
    total: usize,
    page: usize,
    pages: usize,
    q: ListQuery,
    statuses: Choices,
    reasons: Choices,
    /// The filters as a query string, for the paging links.
    query: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    region: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    overdue: Option<String>,
    #[serde(default)]
    mine: Option<String>,
    #[serde(default)]
    page: Option<usize>,
}

async fn cases(PageCaller(s, a): PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    let region = crate::kernel::extract::region_param(Some(q.region.as_str()))?;
    let filter = super::ListFilter {
        status: q.status.clone(),
        reason: q.reason.clone(),
        overdue: q.overdue.is_some(),
        mine: q.mine.is_some(),
    };
    let all = super::filtered(&s, &a.actor, region.as_ref(), &filter).await?;
    let total = all.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let rows = all
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    let flag = |v: &Option<String>| if v.is_some() { "1" } else { "" };
    let query = crate::kernel::web::query_string(&[
        ("region", &q.region),
        ("status", &q.status),
        ("reason", &q.reason),
        ("overdue", flag(&q.overdue)),
        ("mine", flag(&q.mine)),
    ]);
    Ok(render(&CasesPage {
        nav: Some(Nav::for_actor(&a.actor, AREA)),
        rows,
        total,
        page,
        pages,
        q,
        statuses: &super::STATUSES,
        reasons: &super::REASON_GROUPS,
        query,
    }))
}

/// One bar of the chart: a region's name, its cases opened as shown, the bar's width (0–100).
struct Bar {
    name: String,
    value: String,
    width: i64,
}

#[derive(Template)]
#[template(path = "children_stats.html")]
struct StatsPage {
    nav: Option<Nav>,
    st: super::stats::Statistics,
    bars: Vec<Bar>,
    filter: PeriodFilter,
}

/// The chart's bars: cases opened per region; a masked "<5" drawn as a sliver.
fn bars(lines: &[super::stats::StatLine]) -> Vec<Bar> {
    let value = |l: &super::stats::StatLine| -> i64 {
        let v = l.shown.first().map(String::as_str).unwrap_or("0");
        v.parse().unwrap_or(if v == "<5" { 1 } else { 0 })
    };
    let max = lines.iter().map(value).max().unwrap_or(0).max(1);
    lines
        .iter()
        .map(|l| Bar {
            name: l.region_name.clone(),
            value: l.shown.first().cloned().unwrap_or_default(),
            width: value(l) * 100 / max,
        })
        .collect()
}

async fn statistics(
    PageCaller(s, a): PageCaller,
    Query(q): Query<super::stats::StatsQuery>,
) -> PageResult {
    let region = q.region.clone().unwrap_or_default();
    let code = crate::kernel::extract::region_param(Some(region.as_str()))?;
    let st = super::stats::statistics(
        &s,
        &a.actor,
        code.as_ref(),
        q.period.as_deref(),
        q.date.as_deref(),
    )
    .await?;
    let filter = PeriodFilter::new(
        "/api/v1/child-cases/statistics/export",
        region,
        st.period.clone(),
        q.date.clone().unwrap_or_default(),
    );
    Ok(render(&StatsPage {
        nav: Some(Nav::for_actor(&a.actor, AREA)),
        bars: bars(&st.lines),
        st,
        filter,
    }))
}
