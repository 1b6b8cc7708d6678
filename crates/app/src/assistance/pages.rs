//! Social assistance pages (社会救助, issue 16): the area's hub (`/assistance`, what the
//! signed-in role must do now), applications (list with filters, the phone-friendly new
//! application form, one application with its members, amount computation line by line, steps,
//! measures in force, cross-check blocks and the step forms the actor may use), the publicity,
//! overdue and commitments lists, standards, emergency periods with aid-first grants, and the
//! beneficiaries with their status forms. Handlers are thin: the rules live in the service
//! functions of `assistance`; every form is kept and shown again when refused
//! (`kernel::form::Kept`) and marked `data-resend` (sent again with the same `Idempotency-Key`
//! by the page script after a dropped connection).

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::Programme;
use backstop_core::error::ErrorCode;
use backstop_core::money::Fen;
use backstop_core::role::Permission;
use serde::Deserialize;

use super::applications::{AUTHORISATION_VERSION, Application, NewApplication, NewMember};
use super::emergency::{AidDecision, AidGrant, Measure, NewAidGrant, Period, PeriodInput};
use super::standards::{COMPONENTS, NewStandard, Standard};
use super::steps::{Beneficiary, RelatedInput, StatusInput, StepInput};
use crate::kernel::actor::Actor;
use crate::kernel::auth::Authed;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::extract::region_param;
use crate::kernel::form::{Kept, is_refusal};
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, Routes, render, render_status};
use crate::state::AppState;

mod rules;
use rules::{
    beneficiaries, beneficiary_status, change_emergency, create_standard, decide, declare,
    emergencies, end_emergency, grant, grants, standards,
};

pub fn routes() -> Routes {
    vec![
        ("/assistance", get(hub)),
        ("/assistance/aid-grants", get(grants).post(grant)),
        ("/assistance/aid-grants/{id}/decision", post(decide)),
        ("/assistance/applications", get(applications).post(create)),
        ("/assistance/applications/new", get(new_application)),
        ("/assistance/applications/{id}", get(show)),
        ("/assistance/applications/{id}/related", post(related)),
        ("/assistance/applications/{id}/steps", post(step)),
        ("/assistance/beneficiaries", get(beneficiaries)),
        (
            "/assistance/beneficiaries/{id}/status",
            post(beneficiary_status),
        ),
        ("/assistance/commitments", get(commitments)),
        ("/assistance/emergencies", get(emergencies).post(declare)),
        ("/assistance/emergencies/{id}", post(change_emergency)),
        ("/assistance/emergencies/{id}/end", post(end_emergency)),
        ("/assistance/overdue", get(overdue)),
        ("/assistance/publicity", get(publicity)),
        (
            "/assistance/standards",
            get(standards).post(create_standard),
        ),
    ]
}

const AREA: &str = "/assistance";

fn nav(a: &Authed) -> Option<Nav> {
    Some(Nav::for_actor(&a.actor, AREA))
}

/// Yuan text of an amount in fen (`1,234.50` style as `Fen` writes it).
fn yuan(fen: i64) -> String {
    Fen(fen).to_yuan_string()
}

/// The Chinese name of a programme key.
fn programme_label(key: &str) -> &'static str {
    Programme::parse(key).map(|p| p.label()).unwrap_or("")
}

/// The programmes a form offers: `(key, label)`.
fn programmes() -> Vec<(&'static str, &'static str)> {
    Programme::ALL
        .iter()
        .map(|p| (p.key(), p.label()))
        .collect()
}

/// The states of an application, `(key, label)`.
const STATUSES: [(&str, &str); 6] = [
    ("submitted", "已受理"),
    ("verified", "已核查"),
    ("reviewed", "已审核"),
    ("publicised", "公示中"),
    ("approved", "已审批"),
    ("rejected", "不予批准"),
];

/// The Chinese name of a step.
fn step_label(s: &str) -> &'static str {
    match s {
        "submit" => "受理",
        "verify" => "核查",
        "review" => "审核",
        "publicise" => "公示",
        "approve" => "审批通过",
        "reject" => "不予批准",
        "verify_commitment" => "核实个人承诺",
        _ => "",
    }
}

/// The Chinese name of a beneficiary's status.
fn beneficiary_status_label(s: &str) -> &'static str {
    match s {
        "active" => "享受中",
        "suspended" => "暂停",
        "exited" => "已退出",
        _ => "",
    }
}

/// An application as a list row shows it.
struct AppRow {
    a: Application,
    programme: &'static str,
    amount: String,
}

fn app_rows(list: Vec<Application>) -> Vec<AppRow> {
    list.into_iter()
        .map(|a| AppRow {
            programme: programme_label(&a.programme),
            amount: a.monthly_amount_fen.map(yuan).unwrap_or_default(),
            a,
        })
        .collect()
}

// ---------------------------------------------------------------- hub

#[derive(Template)]
#[template(path = "assistance_hub.html")]
struct HubPage {
    nav: Option<Nav>,
    due: Vec<super::todo::Due>,
    can_apply: bool,
    can_standards: bool,
    can_emergency: bool,
    periods: Vec<Period>,
}

async fn hub(PageCaller(s, a): PageCaller) -> PageResult {
    a.actor.require(Permission::AssistanceRead)?;
    let periods = super::emergency::list(&s, &a.actor)
        .await?
        .into_iter()
        .filter(|p| p.status == "declared")
        .collect();
    Ok(render(&HubPage {
        nav: nav(&a),
        due: super::todo::due(&s, &a.actor).await?,
        can_apply: a.actor.can(Permission::AssistanceApply),
        can_standards: a.actor.can(Permission::AssistanceStandards),
        can_emergency: a.actor.can(Permission::AssistanceEmergency),
        periods,
    }))
}

// ---------------------------------------------------------------- applications

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    programme: String,
    #[serde(default)]
    region: String,
}

#[derive(Template)]
#[template(path = "assistance_applications.html")]
struct ListPage {
    nav: Option<Nav>,
    rows: Vec<AppRow>,
    status: String,
    programme: String,
    region: String,
    statuses: [(&'static str, &'static str); 6],
    programmes: Vec<(&'static str, &'static str)>,
    can_apply: bool,
}

async fn applications(PageCaller(s, a): PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    let region = region_param(Some(q.region.as_str()))?;
    let mut list =
        super::applications::list(&s, &a.actor, region.as_ref(), Some(q.status.as_str())).await?;
    let programme = q.programme.trim().to_string();
    if !programme.is_empty() {
        list.retain(|x| x.programme == programme);
    }
    Ok(render(&ListPage {
        nav: nav(&a),
        rows: app_rows(list),
        status: q.status.trim().to_string(),
        programme,
        region: q.region.trim().to_string(),
        statuses: STATUSES,
        programmes: programmes(),
        can_apply: a.actor.can(Permission::AssistanceApply),
    }))
}

/// The member slots of the new application form (`m1_…` to `m8_…`).
const SLOTS: [usize; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

#[derive(Template)]
#[template(path = "assistance_new.html")]
struct NewPage {
    nav: Option<Nav>,
    programmes: Vec<(&'static str, &'static str)>,
    /// Member person ids to start with (from `?household=`), by slot.
    start: Vec<String>,
    household: String,
    /// The measures in force in the actor's scope today (a hint above the form).
    measures: String,
    commitment_allowed: bool,
    version: &'static str,
    today: String,
    form: Kept,
}

#[derive(Deserialize, Default)]
struct NewQuery {
    #[serde(default)]
    household: String,
}

async fn new_page(s: &AppState, a: &Authed, household: Option<i64>, form: Kept) -> PageResult {
    a.actor.require(Permission::AssistanceApply)?;
    let mut start = Vec::new();
    if let Some(h) = household {
        let hh = crate::people::get_household(s, &a.actor, h).await?;
        // The head first: the applicant.
        let mut members = hh.members;
        members.sort_by_key(|p| p.relationship != "head");
        start = members.into_iter().map(|p| p.id.to_string()).collect();
    }
    let region = match a.actor.scope.as_str() {
        "" => None,
        c => crate::regions::parse_code("region", c).ok(),
    };
    let period = match region {
        Some(r) => super::emergency::in_force(s, &r, s.today()).await?,
        None => None,
    };
    let status = form.status();
    Ok(render_status(
        &NewPage {
            nav: nav(a),
            programmes: programmes(),
            start,
            household: household.map(|h| h.to_string()).unwrap_or_default(),
            measures: period
                .as_ref()
                .map(|p| format!("{}（{}）", p.name, p.measures_label))
                .unwrap_or_default(),
            commitment_allowed: period
                .as_ref()
                .is_some_and(|p| p.measures.contains(&Measure::Commitment)),
            version: AUTHORISATION_VERSION,
            today: super::ymd(s.today()),
            form,
        },
        status,
    ))
}

impl NewPage {
    /// The person id slot `n` starts with (from the household chosen), else empty.
    fn start_of(&self, n: &usize) -> &str {
        self.start
            .get(n.wrapping_sub(1))
            .map(String::as_str)
            .unwrap_or("")
    }
}

async fn new_application(PageCaller(s, a): PageCaller, Query(q): Query<NewQuery>) -> PageResult {
    let household = q.household.trim().parse::<i64>().ok();
    new_page(&s, &a, household, Kept::none()).await
}

/// A service field of a member (`members[k].x`) renamed to the form's slot input (`mN_x`).
fn member_input(field: &str, slots: &[usize]) -> String {
    field
        .strip_prefix("members[")
        .and_then(|r| r.split_once("]."))
        .and_then(|(k, sub)| {
            let k = k.parse::<usize>().ok()?;
            Some(format!("m{}_{sub}", slots.get(k).copied().unwrap_or(k + 1)))
        })
        .unwrap_or_else(|| match field {
            "members" => "m1_person_id".to_string(),
            f => f.to_string(),
        })
}

async fn create(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("application", pairs);
    let mut members = Vec::new();
    let mut slots = Vec::new();
    let mut bad: Option<(String, String)> = None;
    let mut id_numbers = Vec::new();
    for n in SLOTS {
        let get = |k: &str| form.get(&format!("m{n}_{k}")).trim().to_string();
        let pid = get("person_id");
        if pid.is_empty() {
            continue;
        }
        let field = format!("m{n}_person_id");
        // A person chosen from the picker is its id; an ID number typed whole is looked up
        // exactly (metered and audited by the registry) and never shown again.
        let person_id = if pid.len() >= 15 {
            id_numbers.push(field.clone());
            match crate::people::find_by_id_number(&s, &a.actor, &pid).await {
                Ok(p) => p.id,
                Err(e) if is_refusal(&e) || e.code == ErrorCode::NotFound => {
                    let msg = if e.code == ErrorCode::NotFound {
                        "人员库中没有这个身份证号的人员，请先在人员信息中登记".to_string()
                    } else {
                        e.message
                    };
                    bad.get_or_insert((field, msg));
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        } else if let Ok(id) = pid.parse::<i64>() {
            id
        } else {
            bad.get_or_insert((
                field,
                "请从人员库中选择成员（输入姓名、拼音首字母或完整身份证号）".to_string(),
            ));
            continue;
        };
        let opt = |k: &str| Some(get(k)).filter(|v| !v.is_empty());
        let pct = get("supplement_percent");
        let supplement_percent = if pct.is_empty() {
            None
        } else {
            match pct.parse::<u32>() {
                Ok(p) => Some(p),
                Err(_) => {
                    bad.get_or_insert((
                        format!("m{n}_supplement_percent"),
                        "分类施保比例应为 0 到 100 的整数".to_string(),
                    ));
                    None
                }
            }
        };
        slots.push(n);
        members.push(NewMember {
            person_id,
            earned_12m: opt("earned_12m"),
            other_12m: opt("other_12m"),
            exempt_12m: opt("exempt_12m"),
            assets: opt("assets"),
            supplement_percent,
            authorised: form.has(&format!("m{n}_authorised")),
        });
    }
    let mut form = form;
    for f in &id_numbers {
        form = form.without(f);
    }
    if let Some((field, msg)) = bad {
        let form = form.refuse_msg(Some(&field), &msg);
        return new_page(&s, &a, None, form).await;
    }
    // The household: as chosen, else the applicant's (the first member's) own.
    let household_id = match form.get("household_id").trim().parse::<i64>() {
        Ok(h) => Ok(h),
        Err(_) => match members.first() {
            None => Err(AppError::field(
                ErrorCode::Validation,
                "members",
                "须有 1 至 30 名家庭成员",
            )),
            Some(m) => match crate::people::get(&s, &a.actor, m.person_id).await {
                Ok(p) => p.household_id.ok_or_else(|| {
                    AppError::field(
                        ErrorCode::Validation,
                        "members[0].person_id",
                        "申请人尚未登记家庭户，请先在人员信息中登记家庭",
                    )
                }),
                Err(e) if e.code == ErrorCode::NotFound => Err(AppError::field(
                    ErrorCode::Validation,
                    "members[0].person_id",
                    "人员库中不存在这名成员，请先在人员信息中登记",
                )),
                Err(e) => Err(e),
            },
        },
    };
    let input = household_id.map(|household_id| NewApplication {
        programme: form.get("programme").to_string(),
        household_id,
        area_kind: form.get("area_kind").to_string(),
        members,
        covered: form.get("covered").trim().parse::<i64>().ok(),
        self_care: Some(form.get("self_care").to_string()),
        applied_on: Some(form.get("applied_on").to_string()),
        commitment: form.has("commitment"),
        note: Some(form.get("note").to_string()),
    });
    let result = match input {
        Ok(input) => super::applications::create(&s, &a.actor, &input, None).await,
        Err(e) => Err(e),
    };
    // A household out of scope reads as not found: say so beside the applicant.
    let result = match result {
        Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => Err(AppError::field(
            ErrorCode::Validation,
            "members[0].person_id",
            "家庭不存在或不在您的管辖范围内",
        )),
        r => r,
    };
    let household = form.get("household_id").trim().parse::<i64>().ok();
    match form.outcome_as(result, |f| member_input(f, &slots))? {
        Ok(app) => {
            Ok(Redirect::to(&format!("/assistance/applications/{}", app.id)).into_response())
        }
        Err(form) => new_page(&s, &a, household, form).await,
    }
}

struct MemberView {
    name: String,
    adult: bool,
    earned: String,
    other: String,
    exempt: String,
    assets: String,
    supplement_percent: u32,
    authorised_at: String,
    version: String,
}

struct StepView {
    label: &'static str,
    from: &'static str,
    to: &'static str,
    actor: String,
    at: String,
    note: String,
}

#[derive(Template)]
#[template(path = "assistance_show.html")]
struct ShowPage {
    nav: Option<Nav>,
    a: Application,
    programme: &'static str,
    amount: String,
    detail: Vec<String>,
    members: Vec<MemberView>,
    steps: Vec<StepView>,
    blocks: Vec<String>,
    /// Steps the actor may take now: `(step, button label)`.
    actions: Vec<(&'static str, &'static str)>,
    can_reject: bool,
    can_mark_related: bool,
    /// The actor is the recorded close relative: no step forms.
    related_to_me: bool,
    /// A refusal of a form the page no longer shows (a step taken by someone else meanwhile).
    stray_error: Option<String>,
    form: Kept,
}

/// The steps `actor` may take on `a` as it stands: `(step, label)`.
fn actions(actor: &Actor, a: &Application) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    let can = |p| actor.can(p);
    match a.status.as_str() {
        "submitted" if can(Permission::AssistanceApply) => out.push(("verify", "核查通过")),
        "verified" if can(Permission::AssistanceReview) => out.push(("review", "审核通过")),
        "reviewed" if can(Permission::AssistanceReview) => out.push(("publicise", "开始公示")),
        "publicised" if can(Permission::AssistanceApprove) => out.push(("approve", "批准")),
        _ => {}
    }
    if a.commitment
        && !a.commitment_verified
        && a.status == "approved"
        && can(Permission::AssistanceApply)
    {
        out.push(("verify_commitment", "个人承诺已核实"));
    }
    out
}

async fn show_page(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    let app = super::applications::get(s, &a.actor, id).await?;
    let persons: Vec<i64> = app.member_list.iter().map(|m| m.person_id).collect();
    let blocks = if matches!(
        app.status.as_str(),
        "submitted" | "verified" | "reviewed" | "publicised"
    ) {
        crate::crosscheck::open_conflicts_of(s, &persons).await?
    } else {
        Vec::new()
    };
    let related_to_me = app.related_staff.as_deref() == Some(a.actor.username.as_str());
    let acts = if related_to_me {
        Vec::new()
    } else {
        actions(&a.actor, &app)
    };
    let can_reject = !related_to_me
        && a.actor.can(Permission::AssistanceApprove)
        && matches!(
            app.status.as_str(),
            "submitted" | "verified" | "reviewed" | "publicised"
        );
    let can_mark_related = a.actor.can(Permission::AssistanceApply);
    let shown = acts
        .iter()
        .any(|(k, _)| form.of(&format!("step-{k}")).refused())
        || (can_reject && form.of("step-reject").refused())
        || (can_mark_related && form.of("related").refused());
    let stray_error = (!shown)
        .then(|| form.message().map(str::to_string))
        .flatten();
    let status = form.status();
    Ok(render_status(
        &ShowPage {
            nav: nav(a),
            programme: programme_label(&app.programme),
            amount: app.monthly_amount_fen.map(yuan).unwrap_or_default(),
            detail: app
                .amount_detail
                .split('；')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            members: app
                .member_list
                .iter()
                .map(|m| MemberView {
                    name: m.name.clone(),
                    adult: m.adult,
                    earned: yuan(m.earned_12m_fen),
                    other: yuan(m.other_12m_fen),
                    exempt: yuan(m.exempt_12m_fen),
                    assets: yuan(m.assets_fen),
                    supplement_percent: m.supplement_percent,
                    authorised_at: m.authorised_at.clone().unwrap_or_default(),
                    version: m.authorisation_version.clone().unwrap_or_default(),
                })
                .collect(),
            steps: app
                .steps
                .iter()
                .map(|st| StepView {
                    label: step_label(&st.step),
                    from: super::applications::status_label(&st.from_status),
                    to: super::applications::status_label(&st.to_status),
                    actor: st.actor.clone(),
                    at: st.at.clone(),
                    note: st.note.clone(),
                })
                .collect(),
            blocks,
            actions: acts,
            can_reject,
            can_mark_related,
            stray_error,
            related_to_me,
            a: app,
            form,
        },
        status,
    ))
}

async fn show(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    show_page(&s, &a, id, Kept::none()).await
}

async fn step(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let step = pairs
        .iter()
        .find(|(k, _)| k == "step")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let form = Kept::input(&format!("step-{step}"), pairs);
    let input = StepInput {
        step: step.clone(),
        reason: form.get("reason").to_string(),
    };
    let r = super::steps::step(&s, &a.actor, id, &input, None).await;
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to(&format!("/assistance/applications/{id}")).into_response()),
        Err(form) => show_page(&s, &a, id, form).await,
    }
}

async fn related(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("related", pairs);
    let input = RelatedInput {
        staff_username: form.get("staff_username").to_string(),
    };
    let r = super::steps::mark_related(&s, &a.actor, id, &input).await;
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to(&format!("/assistance/applications/{id}")).into_response()),
        Err(form) => show_page(&s, &a, id, form).await,
    }
}

// ---------------------------------------------------------------- lists

struct PublicityRow {
    name: String,
    household_size: i64,
    amount: String,
    ends: String,
}

#[derive(Template)]
#[template(path = "assistance_publicity.html")]
struct PublicityPage {
    nav: Option<Nav>,
    rows: Vec<PublicityRow>,
    region: String,
}

#[derive(Deserialize, Default)]
struct RegionOnly {
    #[serde(default)]
    region: String,
}

async fn publicity(PageCaller(s, a): PageCaller, Query(q): Query<RegionOnly>) -> PageResult {
    let region = region_param(Some(q.region.as_str()))?;
    let rows = super::steps::publicity(&s, &a.actor, region.as_ref())
        .await?
        .into_iter()
        .map(|l| PublicityRow {
            name: l.name,
            household_size: l.household_size,
            amount: l.monthly_amount_fen.map(yuan).unwrap_or_default(),
            ends: l.publicity_ends_at.unwrap_or_default(),
        })
        .collect();
    Ok(render(&PublicityPage {
        nav: nav(&a),
        rows,
        region: q.region.trim().to_string(),
    }))
}

#[derive(Template)]
#[template(path = "assistance_due_list.html")]
struct DueListPage {
    nav: Option<Nav>,
    title: &'static str,
    /// Which list: `overdue` (with the level tabs) or `commitments`.
    kind: &'static str,
    level: String,
    rows: Vec<AppRow>,
    empty: &'static str,
}

#[derive(Deserialize, Default)]
struct LevelQuery {
    #[serde(default)]
    level: String,
}

async fn overdue(PageCaller(s, a): PageCaller, Query(q): Query<LevelQuery>) -> PageResult {
    let list = super::steps::overdue(&s, &a.actor, Some(q.level.as_str())).await?;
    Ok(render(&DueListPage {
        nav: nav(&a),
        title: "逾期未办",
        kind: "overdue",
        level: q.level.trim().to_string(),
        rows: app_rows(list),
        empty: "没有逾期未办的环节。",
    }))
}

async fn commitments(PageCaller(s, a): PageCaller) -> PageResult {
    let list = super::steps::commitments(&s, &a.actor).await?;
    Ok(render(&DueListPage {
        nav: nav(&a),
        title: "待核实的个人承诺",
        kind: "commitments",
        level: String::new(),
        rows: app_rows(list),
        empty: "没有待核实的个人承诺。",
    }))
}
