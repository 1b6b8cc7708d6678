//! Screening and home-observation pages: the campaign list and opening form (`/screening`),
//! a campaign's live coverage with the household finder (`/screening/campaigns/{id}`), the
//! phone-friendly household form — tick who is home, enter temperatures, one POST for the
//! whole household (`/screening/campaigns/{id}/households/{hid}`) — and the observation
//! pages: the township's list with counts by region (`/observations`), the start form with
//! the four responsible people (`/observations/new?person=`) and one observation with its
//! check-in, extend and close forms (`/observations/{id}`). Every read and write goes through
//! the scoped service functions of `screening`; no inline style or script (CSP).

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionLevel, Scope};
use backstop_core::role::Permission;
use chrono::Duration;
use serde::Deserialize;

use super::{
    Campaign, CloseObservation, Coverage, KEEPER_ROLES, KeeperInput, MemberInput, NewCampaign,
    NewCheckin, NewObservation, Observation, ObservationSummary, RollHousehold, Visit, VisitInput,
};
use crate::kernel::auth::Authed;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::form::Kept;
use crate::kernel::handler::{PageCaller, form_status};
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, clip, render};
use crate::people::{self, Person};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/screening", get(list)),
        ("/screening/campaigns", post(create_campaign)),
        ("/screening/campaigns/{id}", get(campaign)),
        (
            "/screening/campaigns/{id}/households/{hid}",
            get(visit_form).post(visit_submit),
        ),
        ("/observations", get(observations).post(start)),
        ("/observations/new", get(new_observation)),
        ("/observations/{id}", get(observation)),
        ("/observations/{id}/checkin", post(checkin)),
        ("/observations/{id}/extend", post(extend)),
        ("/observations/{id}/close", post(close)),
    ]
}

const NAV: &str = "/screening";

fn pid(s: &str) -> AppResult<i64> {
    s.parse().map_err(|_| AppError::not_found())
}

/// Re-render with a 422 on a validation error; other errors become error pages.
fn with_status(mut resp: Response, status: StatusCode) -> Response {
    *resp.status_mut() = status;
    resp
}

fn can_open(actor: &crate::kernel::actor::Actor) -> bool {
    actor.can(Permission::PersonsWrite)
        && match &actor.scope {
            Scope::National => true,
            Scope::Region(c) => c.level() < RegionLevel::Village,
        }
}

// ------------------------------------------------------------------------------- campaigns

#[derive(Template)]
#[template(path = "screening_list.html")]
struct ListPage {
    nav: Option<Nav>,
    campaigns: Vec<Campaign>,
    can_open: bool,
    region: String,
    today: String,
    until: String,
    /// The opening form as typed and why it was refused, when it was.
    form: Kept,
}

async fn list_page(s: &AppState, a: &Authed, form: Kept) -> PageResult {
    let actor = &a.actor;
    let campaigns = super::list_campaigns(s, actor).await?;
    let today = s.today();
    let region = match &actor.scope {
        Scope::Region(c) => c.to_string(),
        Scope::National => String::new(),
    };
    let status = form.status();
    Ok(with_status(
        render(&ListPage {
            nav: Some(Nav::for_actor(actor, NAV)),
            campaigns,
            can_open: can_open(actor),
            region,
            today: today.format("%Y-%m-%d").to_string(),
            until: (today + Duration::days(7)).format("%Y-%m-%d").to_string(),
            form,
        }),
        status,
    ))
}

async fn list(PageCaller(s, a): PageCaller) -> PageResult {
    list_page(&s, &a, Kept::none()).await
}

async fn create_campaign(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("campaign", pairs);
    let input = NewCampaign {
        name: form.get("name").to_string(),
        purpose: form.get("purpose").to_string(),
        starts_on: form.get("starts_on").to_string(),
        ends_on: form.get("ends_on").to_string(),
        region_code: form.get("region_code").to_string(),
        ask_history: form.has("ask_history"),
        ask_symptoms: form.has("ask_symptoms"),
        ask_temperature: form.has("ask_temperature"),
    };
    let r = match super::create_campaign(&s, &a.actor, &input).await {
        // A region outside the scope: said beside the field, the form kept.
        Err(e) if e.status() == StatusCode::NOT_FOUND => Err(AppError::field(
            ErrorCode::Validation,
            "region_code",
            "区划不存在或不在您的管辖范围内",
        )),
        r => r,
    };
    match form.outcome(r)? {
        Ok(c) => Ok(Redirect::to(&format!("/screening/campaigns/{}", c.id)).into_response()),
        Err(form) => list_page(&s, &a, form).await,
    }
}

#[derive(Template)]
#[template(path = "screening_campaign.html")]
struct CampaignPage {
    nav: Option<Nav>,
    campaign: Campaign,
    coverage: Coverage,
    rows: Vec<CovRow>,
    q: String,
    households: Vec<RollHousehold>,
}

/// A child region of the coverage table, with its share reached.
struct CovRow {
    code: String,
    name: String,
    households: i64,
    reached: i64,
    pct: String,
    class: &'static str,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CampaignQuery {
    region: Option<String>,
    q: Option<String>,
}

async fn campaign(
    PageCaller(s, a): PageCaller,
    Path(id): Path<String>,
    Query(q): Query<CampaignQuery>,
) -> PageResult {
    let id = pid(&id)?;
    let actor = &a.actor;
    let campaign = super::get_campaign(&s, actor, id).await?;
    let region = super::region_query(q.region.map(|r| clip(&r, 20)).as_deref())?;
    let coverage = super::coverage(&s, actor, id, region.as_ref()).await?;
    let query = clip(&q.q.unwrap_or_default(), 50);
    let households = super::find_households(&s, actor, id, &query).await?;
    let rows = coverage
        .children
        .iter()
        .map(|c| {
            let (pct, class) = crate::reports::pages_rate(c.reached, Some(c.households));
            CovRow {
                code: c.code.clone(),
                name: c.name.clone(),
                households: c.households,
                reached: c.reached,
                pct,
                class,
            }
        })
        .collect();
    Ok(render(&CampaignPage {
        nav: Some(Nav::for_actor(actor, NAV)),
        campaign,
        coverage,
        rows,
        q: query,
        households,
    }))
}

// ---------------------------------------------------------------------------- household form

/// One member row of the household form.
struct MemberRow {
    person: Person,
    at_home: bool,
    temperature: String,
    symptoms: bool,
    history: String,
    risk: String,
    disposition: String,
}

impl MemberRow {
    fn risk_is(&self, k: &str) -> bool {
        self.risk == k
    }

    fn disposition_is(&self, k: &str) -> bool {
        self.disposition == k
    }
}

#[derive(Template)]
#[template(path = "screening_visit.html")]
struct VisitPage {
    nav: Option<Nav>,
    campaign: Campaign,
    household_id: i64,
    address: String,
    reached: bool,
    rows: Vec<MemberRow>,
    visit: Option<Visit>,
    risks: Vec<(&'static str, &'static str)>,
    dispositions: Vec<(&'static str, &'static str)>,
    saved: bool,
    error: Option<String>,
    /// The note as typed, when the form is shown again.
    note: String,
    can_write: bool,
}

#[derive(Deserialize, Default)]
struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn visit_page(
    s: &AppState,
    a: &Authed,
    id: i64,
    hid: i64,
    saved: bool,
    form: Kept,
) -> PageResult {
    let error = form.message().map(str::to_string);
    let actor = &a.actor;
    let campaign = super::get_campaign(s, actor, id).await?;
    let visit = super::get_visit(s, actor, id, hid).await?;
    let household = people::get_household(s, actor, hid).await?;
    let rows = household
        .members
        .into_iter()
        .map(|p| {
            // Refused: the rows as they were typed, not as stored.
            if form.refused() {
                let k = |what: &str| format!("{what}_{}", p.id);
                return MemberRow {
                    at_home: form.has(&k("home")),
                    temperature: form.get(&k("temp")).to_string(),
                    symptoms: form.has(&k("sym")),
                    history: form.get(&k("hist")).to_string(),
                    risk: form.get(&k("risk")).to_string(),
                    disposition: form.get(&k("disp")).to_string(),
                    person: p,
                };
            }
            let rec = visit
                .as_ref()
                .and_then(|v| v.members.iter().find(|m| m.person_id == p.id));
            MemberRow {
                at_home: rec.is_none_or(|m| m.at_home),
                temperature: rec
                    .and_then(|m| m.temperature)
                    .map(super::temp_label)
                    .unwrap_or_default(),
                symptoms: rec.is_some_and(|m| m.symptoms),
                history: rec.map(|m| m.history.clone()).unwrap_or_default(),
                risk: rec.map(|m| m.risk.clone()).unwrap_or_else(|| "none".into()),
                disposition: rec
                    .map(|m| m.disposition.clone())
                    .unwrap_or_else(|| "none".into()),
                person: p,
            }
        })
        .collect();
    let status = form_status(&error);
    Ok(with_status(
        render(&VisitPage {
            nav: Some(Nav::for_actor(actor, NAV)),
            campaign,
            household_id: hid,
            address: household.address,
            reached: if form.refused() {
                form.has("reached")
            } else {
                visit.as_ref().is_none_or(|v| v.reached)
            },
            note: form.value("note").to_string(),
            rows,
            visit,
            risks: super::RISKS.to_vec(),
            dispositions: super::DISPOSITIONS.to_vec(),
            saved,
            error,
            can_write: actor.can(Permission::PersonsWrite),
        }),
        status,
    ))
}

async fn visit_form(
    PageCaller(s, a): PageCaller,
    Path((id, hid)): Path<(String, String)>,
    Query(q): Query<SavedQuery>,
) -> PageResult {
    visit_page(
        &s,
        &a,
        pid(&id)?,
        pid(&hid)?,
        q.saved.is_some(),
        Kept::none(),
    )
    .await
}

/// `36.5` → 365; empty is not measured.
fn parse_temp(s: &str) -> AppResult<Option<i64>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let v: f64 = s.parse().map_err(|_| {
        AppError::field(
            ErrorCode::Validation,
            "temperature",
            "体温应为数字，如 36.5",
        )
    })?;
    if !v.is_finite() || !(0.0..1000.0).contains(&v) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "temperature",
            "体温应在 34.0 到 43.0 ℃ 之间",
        ));
    }
    Ok(Some((v * 10.0).round() as i64))
}

async fn visit_submit(
    PageCaller(s, a): PageCaller,
    Path((id, hid)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let (id, hid) = (pid(&id)?, pid(&hid)?);
    let actor = &a.actor;
    let form = Kept::input("visit", pairs.clone());
    let field =
        |k: &str| -> Option<&str> { pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()) };
    let reached = field("reached").is_some();
    let household = people::get_household(&s, actor, hid).await?;
    let mut members = Vec::new();
    let mut parse_error = None;
    if reached {
        for p in &household.members {
            let temperature = match parse_temp(field(&format!("temp_{}", p.id)).unwrap_or("")) {
                Ok(t) => t,
                Err(e) => {
                    parse_error = Some(format!("{}：{}", p.name, e.message));
                    None
                }
            };
            members.push(MemberInput {
                person_id: p.id,
                at_home: field(&format!("home_{}", p.id)).is_some(),
                history: field(&format!("hist_{}", p.id)).unwrap_or("").to_string(),
                symptoms: field(&format!("sym_{}", p.id)).is_some(),
                temperature,
                risk: field(&format!("risk_{}", p.id))
                    .unwrap_or("none")
                    .to_string(),
                disposition: field(&format!("disp_{}", p.id))
                    .unwrap_or("none")
                    .to_string(),
            });
        }
    }
    if let Some(e) = parse_error {
        return visit_page(&s, &a, id, hid, false, form.refuse_msg(None, &e)).await;
    }
    let input = VisitInput {
        reached,
        note: field("note").unwrap_or("").to_string(),
        members,
    };
    match form.outcome(super::record_visit(&s, actor, id, hid, &input).await)? {
        Ok(_) => Ok(Redirect::to(&format!(
            "/screening/campaigns/{id}/households/{hid}?saved=1"
        ))
        .into_response()),
        Err(form) => visit_page(&s, &a, id, hid, false, form).await,
    }
}

// ------------------------------------------------------------------------------ observations

#[derive(Template)]
#[template(path = "screening_observations.html")]
struct ObservationsPage {
    nav: Option<Nav>,
    region: String,
    summary: ObservationSummary,
    observations: Vec<Observation>,
}

#[derive(Deserialize, Default)]
struct RegionQuery {
    #[serde(default)]
    region: Option<String>,
}

async fn observations(PageCaller(s, a): PageCaller, Query(q): Query<RegionQuery>) -> PageResult {
    let actor = &a.actor;
    let region = clip(&q.region.unwrap_or_default(), 20);
    let code = super::region_query(Some(&region))?;
    let summary = super::summary(&s, actor, code.as_ref()).await?;
    let observations =
        super::list_observations(&s, actor, code.as_ref(), super::Listed::Active).await?;
    Ok(render(&ObservationsPage {
        nav: Some(Nav::for_actor(actor, NAV)),
        region,
        summary,
        observations,
    }))
}

#[derive(Template)]
#[template(path = "screening_observation_new.html")]
struct NewObservationPage {
    nav: Option<Nav>,
    person: Person,
    roles: Vec<KeeperSlot>,
    until: String,
    /// The form as typed and why it was refused, when it was.
    form: Kept,
}

/// One of the four responsible people's rows of the start form: its number, default role and
/// input names.
struct KeeperSlot {
    n: usize,
    role: &'static str,
    rn: String,
    nn: String,
    pn: String,
}

#[derive(Deserialize, Default)]
struct PersonQuery {
    #[serde(default)]
    person: Option<String>,
    /// Name, pinyin or initials: the person to observe, when none is chosen yet.
    #[serde(default)]
    q: Option<String>,
}

/// `/observations/new` without a person: find the person first (by name, within scope).
#[derive(Template)]
#[template(path = "screening_observation_pick.html")]
struct PickPersonPage {
    nav: Option<Nav>,
    q: String,
    found: Vec<Person>,
    searched: bool,
}

async fn pick_person(s: &AppState, a: &Authed, q: Option<&str>) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::PersonsWrite)?;
    let q: String = q.unwrap_or("").trim().chars().take(50).collect();
    let found = if q.is_empty() {
        Vec::new()
    } else {
        let query = people::PersonQuery {
            q: Some(q.clone()),
            limit: Some(50),
            ..people::PersonQuery::default()
        };
        people::list(s, actor, &query).await?.items
    };
    Ok(render(&PickPersonPage {
        nav: Some(Nav::for_actor(actor, NAV)),
        searched: !q.is_empty(),
        q,
        found,
    }))
}

async fn new_page(s: &AppState, a: &Authed, person_id: i64, form: Kept) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::PersonsWrite)?;
    let person = people::get(s, actor, person_id).await?;
    let until = s.today() + Duration::days(super::DEFAULT_DAYS);
    let status = form.status();
    Ok(with_status(
        render(&NewObservationPage {
            nav: Some(Nav::for_actor(actor, NAV)),
            person,
            roles: (1..)
                .zip(KEEPER_ROLES)
                .map(|(n, role)| KeeperSlot {
                    n,
                    role,
                    rn: format!("role_{n}"),
                    nn: format!("name_{n}"),
                    pn: format!("phone_{n}"),
                })
                .collect(),
            until: until.format("%Y-%m-%d").to_string(),
            form,
        }),
        status,
    ))
}

async fn new_observation(PageCaller(s, a): PageCaller, Query(q): Query<PersonQuery>) -> PageResult {
    match q.person.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => new_page(&s, &a, pid(p)?, Kept::none()).await,
        None => pick_person(&s, &a, q.q.as_deref()).await,
    }
}

/// The start form's input name of a service field: `keepers[i].name` → `name_{i+1}`.
fn keeper_input(field: &str) -> String {
    field
        .strip_prefix("keepers[")
        .and_then(|r| r.split_once("]."))
        .and_then(|(i, what)| {
            let n = i.parse::<usize>().ok()? + 1;
            let what = match what {
                "keeper_name" => "name",
                w => w,
            };
            Some(format!("{what}_{n}"))
        })
        .unwrap_or_else(|| field.to_string())
}

async fn start(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("observation", pairs);
    let person_id = pid(form.get("person_id").trim())?;
    let keepers = (1..=4)
        .map(|i| KeeperInput {
            role: form.get(&format!("role_{i}")).to_string(),
            name: form.get(&format!("name_{i}")).to_string(),
            phone: form.get(&format!("phone_{i}")).to_string(),
        })
        .collect();
    let input = NewObservation {
        person_id,
        keepers,
        ends_on: Some(form.get("ends_on").to_string()),
        reason: form.get("reason").to_string(),
    };
    let r = super::start_observation(&s, &a.actor, &input).await;
    match form.outcome_as(r, keeper_input)? {
        Ok(o) => Ok(Redirect::to(&format!("/observations/{}", o.id)).into_response()),
        Err(form) => new_page(&s, &a, person_id, form).await,
    }
}

#[derive(Template)]
#[template(path = "screening_observation.html")]
struct ObservationPage {
    nav: Option<Nav>,
    o: Observation,
    can_write: bool,
    outcomes: Vec<(&'static str, &'static str)>,
    /// The form sent from this page (checkin, extend or close), kept with its reason.
    form: Kept,
}

async fn obs_page(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    let actor = &a.actor;
    let o = super::get_observation(s, actor, id).await?;
    let status = form.status();
    Ok(with_status(
        render(&ObservationPage {
            nav: Some(Nav::for_actor(actor, NAV)),
            can_write: actor.can(Permission::PersonsWrite) && o.status == "active",
            o,
            outcomes: super::OUTCOMES.to_vec(),
            form,
        }),
        status,
    ))
}

async fn observation(PageCaller(s, a): PageCaller, Path(id): Path<String>) -> PageResult {
    obs_page(&s, &a, pid(&id)?, Kept::none()).await
}

/// After a write: back to the page, or the page again with the form kept and the reason.
async fn after(
    s: &AppState,
    a: &Authed,
    id: i64,
    form: Kept,
    r: AppResult<Observation>,
) -> PageResult {
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to(&format!("/observations/{id}")).into_response()),
        Err(form) => obs_page(s, a, id, form).await,
    }
}

async fn checkin(
    PageCaller(s, a): PageCaller,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = pid(&id)?;
    let form = Kept::input("checkin", pairs);
    let r = match parse_temp(form.get("temperature")) {
        Ok(Some(t)) => {
            let input = NewCheckin {
                temperature: t,
                symptoms: form.has("symptoms"),
                note: form.get("note").to_string(),
            };
            super::checkin(&s, &a.actor, id, &input).await
        }
        Ok(None) => Err(AppError::field(
            ErrorCode::Validation,
            "temperature",
            "请填写体温",
        )),
        Err(e) => Err(e),
    };
    after(&s, &a, id, form, r).await
}

async fn extend(
    PageCaller(s, a): PageCaller,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = pid(&id)?;
    let form = Kept::input("extend", pairs);
    let r = super::extend(&s, &a.actor, id, form.get("ends_on")).await;
    after(&s, &a, id, form, r).await
}

async fn close(
    PageCaller(s, a): PageCaller,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = pid(&id)?;
    let form = Kept::input("close", pairs);
    let input = CloseObservation {
        outcome: form.get("outcome").to_string(),
        note: form.get("note").to_string(),
    };
    let r = super::close(&s, &a.actor, id, &input).await;
    after(&s, &a, id, form, r).await
}
