//! Hotline pages, phone-first for the people answering: the hub (`/hotline`: my shifts, calls
//! today, follow-ups due, open referrals), the one-screen call form (`/hotline/calls/new`), a
//! call (`/hotline/calls/{id}`: its referrals and follow-ups, and each note behind a "查看记录"
//! form that asks why), the referrals inbox of the receiving organisation and the supervisor
//! (`/hotline/referrals`: accept or decline), a referral with the notes of its call behind the
//! same "查看记录" form (`/hotline/referrals/{id}`, for the receiving organisation's assignee,
//! who reads no call), and the statistics with a chart
//! (`/hotline/statistics`). Forms are kept and shown again with the reason when refused; the
//! rules live in the service functions of `hotline`.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;

use super::notes::{Note, NoteRef, ViewInput};
use super::referrals::{Decision, FollowupDone, NewReferral};
use super::stats::{Row, Stats, StatsQuery};
use super::{
    Call, Followup, Labels, Line, NewCall, NewChildLead, NewLine, NewShift, Referral, Shift,
};
use crate::kernel::auth::Authed;
use crate::kernel::form::Kept;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, PeriodFilter, Routes, render, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/hotline", get(hub)),
        ("/hotline/calls", post(create_call)),
        ("/hotline/calls/new", get(new_call)),
        ("/hotline/calls/{id}", get(show_call)),
        ("/hotline/followups/{id}/done", post(followup_done)),
        ("/hotline/lines", get(lines).post(create_line)),
        ("/hotline/lines/{id}/shifts", post(add_shift)),
        ("/hotline/notes/{id}/view", post(view_note)),
        ("/hotline/referrals", get(referrals)),
        ("/hotline/referrals/{id}", get(show_referral)),
        ("/hotline/referrals/{id}/decision", post(decide)),
        (
            "/hotline/referrals/{id}/notes/{note}/view",
            post(view_referral_note),
        ),
        ("/hotline/referrals/{id}/outcome", post(outcome)),
        ("/hotline/statistics", get(statistics)),
    ]
}

const AREA: &str = "/hotline";

#[derive(Template)]
#[template(path = "hotline_hub.html")]
struct HubPage {
    nav: Option<Nav>,
    shifts: Vec<Shift>,
    calls_today: usize,
    red_flags_today: usize,
    due: Vec<Followup>,
    open: Vec<Referral>,
    can_answer: bool,
    can_supervise: bool,
}

async fn hub(PageCaller(s, a): PageCaller) -> PageResult {
    let mut shifts = super::my_shifts(&s, &a.actor).await?;
    bj_shifts(&mut shifts);
    let today = s.today().format("%Y-%m-%d").to_string();
    let calls: Vec<Call> = super::calls(&s, &a.actor, None)
        .await?
        .into_iter()
        .filter(|c| beijing_day(&c.called_at) == today)
        .collect();
    let mut due = super::referrals::followups(&s, &a.actor, true).await?;
    bj_followups(&mut due);
    let open = super::referrals::referrals(&s, &a.actor, true).await?;
    Ok(render(&HubPage {
        nav: Some(Nav::for_actor(&a.actor, AREA)),
        shifts,
        red_flags_today: calls.iter().filter(|c| c.risk == "red_flag").count(),
        calls_today: calls.len(),
        due,
        open,
        can_answer: a.actor.can(Permission::HotlineAnswer),
        can_supervise: a.actor.can(Permission::HotlineSupervise),
    }))
}

/// An RFC 3339 time of the API as pages show it: Beijing, `YYYY-MM-DD HH:MM`.
fn bj(t: &mut String) {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        *t = backstop_core::clock::format_beijing(d.with_timezone(&chrono::Utc));
    }
}

fn bj_shifts(list: &mut [Shift]) {
    for sh in list {
        bj(&mut sh.starts_at);
        bj(&mut sh.ends_at);
    }
}

fn bj_followups(list: &mut [Followup]) {
    for f in list {
        bj(&mut f.due_at);
    }
}

/// The times of listed notes and of the note just opened, in Beijing.
fn bj_notes(notes: &mut [NoteRef], opened: Option<Note>) -> Option<Note> {
    for n in notes {
        bj(&mut n.created_at);
    }
    opened.map(|mut n| {
        bj(&mut n.created_at);
        n
    })
}

/// The Beijing date of an RFC 3339 time.
fn beijing_day(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| {
            backstop_core::clock::beijing_date(d.with_timezone(&chrono::Utc))
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "hotline_call_form.html")]
struct CallFormPage {
    nav: Option<Nav>,
    lines: Vec<Line>,
    orgs: Vec<(i64, String)>,
    categories: Labels,
    issues: Labels,
    risks: Labels,
    actions: Labels,
    flag_kinds: Labels,
    report_to: Labels,
    form: Kept,
}

async fn call_form(s: &AppState, a: &Authed, form: Kept) -> PageResult {
    let lines = super::lines(s, &a.actor).await?;
    let orgs = crate::orgs::list(s, &a.actor, None, None)
        .await?
        .into_iter()
        .filter(|o| super::referrals::takes_referrals(&o.kind))
        .map(|o| (o.id, o.name))
        .collect();
    let status = form.status();
    Ok(render_status(
        &CallFormPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            lines,
            orgs,
            categories: super::CALLER_CATEGORIES,
            issues: super::ISSUES,
            risks: super::RISKS,
            actions: super::ACTIONS,
            flag_kinds: super::FLAG_KINDS,
            report_to: super::REPORT_TO,
            form,
        },
        status,
    ))
}

async fn new_call(PageCaller(s, a): PageCaller) -> PageResult {
    a.actor
        .require(Permission::HotlineAnswer)
        .map_err(|_| crate::kernel::error::AppError::not_found())?;
    call_form(&s, &a, Kept::none()).await
}

/// `YYYY-MM-DDTHH:MM` of a `datetime-local` input as the service reads it (blank: none).
fn opt(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|v| !v.is_empty())
}

async fn create_call(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("call", pairs);
    let line_id = form.get("line_id").trim().parse().unwrap_or(0);
    let org_id: i64 = form.get("referral_org").trim().parse().unwrap_or(0);
    let risk = form.get("risk").to_string();
    let red = risk == "red_flag";
    let child = (red && form.get("flag_kind") == "child_danger").then(|| NewChildLead {
        region_code: form.get("child_region").to_string(),
        child_name: form.get("child_name").to_string(),
        where_now: form.get("child_where").to_string(),
        reason: form.get("child_reason").to_string(),
    });
    let input = NewCall {
        line_id,
        called_at: None,
        caller_category: form.get("caller_category").to_string(),
        issues: form.all("issues").into_iter().map(str::to_string).collect(),
        risk,
        actions: form
            .all("actions")
            .into_iter()
            .map(str::to_string)
            .collect(),
        duration_s: form
            .get("duration_min")
            .trim()
            .parse::<i64>()
            .map(|m| m * 60)
            .unwrap_or(-1),
        caller_region: opt(form.get("caller_region")),
        phone: opt(form.get("phone")),
        flag_kind: opt(form.get("flag_kind")).filter(|_| red),
        report_to: opt(form.get("report_to")).filter(|_| red),
        report_at: None,
        report_ref: opt(form.get("report_ref")).filter(|_| red),
        child,
        referral: (org_id > 0).then(|| NewReferral {
            org_id,
            reason: form.get("referral_reason").to_string(),
        }),
        followup_due: opt(form.get("followup_due")),
        related_case_id: match form.get("related_case_id").trim() {
            "" => None,
            // Not a number: no case has it (the same answer as an unknown one).
            v => Some(v.parse().unwrap_or(-1)),
        },
    };
    let r = super::record_call(&s, &a.actor, &input, None).await;
    let name = |f: &str| match f {
        "duration_s" => "duration_min".to_string(),
        "org_id" => "referral_org".to_string(),
        other => other.to_string(),
    };
    match form.outcome_as(r, name)? {
        Ok(c) => Ok(Redirect::to(&format!("/hotline/calls/{}", c.id)).into_response()),
        Err(form) => call_form(&s, &a, form).await,
    }
}

#[derive(Template)]
#[template(path = "hotline_call.html")]
struct CallPage {
    nav: Option<Nav>,
    c: Call,
    notes: Vec<NoteRef>,
    opened: Option<Note>,
    note_action: String,
    note_call: i64,
    form: Kept,
}

async fn call_page(
    s: &AppState,
    a: &Authed,
    id: i64,
    opened: Option<Note>,
    form: Kept,
) -> PageResult {
    let mut c = super::call(s, &a.actor, id).await?;
    bj(&mut c.called_at);
    if let Some(r) = c.red_flag.as_mut() {
        bj(&mut r.report_at);
    }
    bj_followups(&mut c.followups);
    let mut notes = super::notes::list(s, &a.actor, id).await?;
    let opened = bj_notes(&mut notes, opened);
    let status = form.status();
    Ok(render_status(
        &CallPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            note_action: "/hotline/notes".to_string(),
            note_call: c.id,
            c,
            notes,
            opened,
            form,
        },
        status,
    ))
}

async fn show_call(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    call_page(&s, &a, id, None, Kept::none()).await
}

async fn view_note(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("view-{id}"), pairs);
    let input = ViewInput {
        reason: form.get("reason").to_string(),
    };
    let call_id: i64 = form.get("call_id").trim().parse().unwrap_or(0);
    match form.outcome(super::notes::view(&s, &a.actor, id, &input).await)? {
        Ok(note) => {
            let call = note.call_id;
            call_page(&s, &a, call, Some(note), Kept::none()).await
        }
        Err(form) => call_page(&s, &a, call_id, None, form).await,
    }
}

#[derive(Template)]
#[template(path = "hotline_referrals.html")]
struct ReferralsPage {
    nav: Option<Nav>,
    rows: Vec<Referral>,
    my_org: Option<i64>,
    form: Kept,
}

async fn referrals_page(s: &AppState, a: &Authed, form: Kept) -> PageResult {
    let rows = super::referrals::referrals(s, &a.actor, false).await?;
    let status = form.status();
    Ok(render_status(
        &ReferralsPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            rows,
            my_org: a.actor.org_id,
            form,
        },
        status,
    ))
}

#[derive(Template)]
#[template(path = "hotline_referral.html")]
struct ReferralPage {
    nav: Option<Nav>,
    r: Referral,
    notes: Vec<NoteRef>,
    opened: Option<Note>,
    note_action: String,
    note_call: i64,
    form: Kept,
}

async fn referral_page(
    s: &AppState,
    a: &Authed,
    id: i64,
    opened: Option<Note>,
    form: Kept,
) -> PageResult {
    let (mut r, mut notes) = super::notes::of_referral(s, &a.actor, id).await?;
    bj(&mut r.created_at);
    if let Some(t) = r.decided_at.as_mut() {
        bj(t);
    }
    let opened = bj_notes(&mut notes, opened);
    let status = form.status();
    Ok(render_status(
        &ReferralPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            note_action: format!("/hotline/referrals/{id}/notes"),
            note_call: r.call_id,
            r,
            notes,
            opened,
            form,
        },
        status,
    ))
}

async fn show_referral(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    referral_page(&s, &a, id, None, Kept::none()).await
}

async fn view_referral_note(
    PageCaller(s, a): PageCaller,
    Path((id, note)): Path<(i64, i64)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("view-{note}"), pairs);
    let input = ViewInput {
        reason: form.get("reason").to_string(),
    };
    let r = super::notes::view_for_referral(&s, &a.actor, id, note, &input).await;
    match form.outcome(r)? {
        Ok(n) => referral_page(&s, &a, id, Some(n), Kept::none()).await,
        Err(form) => referral_page(&s, &a, id, None, form).await,
    }
}

async fn referrals(PageCaller(s, a): PageCaller) -> PageResult {
    referrals_page(&s, &a, Kept::none()).await
}

async fn decide(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("decide-{id}"), pairs);
    let d = Decision {
        accept: form.get("accept") == "1",
        reason: form.get("reason").to_string(),
    };
    match form.outcome(super::referrals::decide(&s, &a.actor, id, &d).await)? {
        Ok(_) => Ok(Redirect::to("/hotline/referrals").into_response()),
        Err(form) => referrals_page(&s, &a, form).await,
    }
}

/// One bar of the chart: a row's name, its calls and the bar's width (0–100).
struct Bar {
    name: String,
    value: String,
    width: i64,
}

#[derive(Template)]
#[template(path = "hotline_stats.html")]
struct StatsPage {
    nav: Option<Nav>,
    st: Stats,
    bars: Vec<Bar>,
    filter: PeriodFilter,
}

fn bars(rows: &[Row]) -> Vec<Bar> {
    let max = rows.iter().map(|r| r.chart_calls).max().unwrap_or(0).max(1);
    rows.iter()
        .map(|r| Bar {
            name: r.name.clone(),
            value: r.calls.clone(),
            width: r.chart_calls * 100 / max,
        })
        .collect()
}

async fn statistics(PageCaller(s, a): PageCaller, Query(q): Query<StatsQuery>) -> PageResult {
    let st = super::stats::report(&s, &a.actor, &q).await?;
    let region = q.region.clone().unwrap_or_default();
    let filter = PeriodFilter::new(
        "/api/v1/hotline/statistics/export",
        region,
        st.period.clone(),
        q.date.clone().unwrap_or_default(),
    );
    Ok(render(&StatsPage {
        nav: Some(Nav::for_actor(&a.actor, AREA)),
        bars: bars(&st.regions),
        st,
        filter,
    }))
}

async fn outcome(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("outcome-{id}"), pairs);
    let r = super::referrals::record_outcome(&s, &a.actor, id, form.get("outcome")).await;
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to("/hotline/referrals").into_response()),
        Err(form) => referrals_page(&s, &a, form).await,
    }
}

async fn followup_done(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("done-{id}"), pairs);
    let input = FollowupDone {
        outcome: form.get("outcome").to_string(),
        score: form.get("score").trim().parse().unwrap_or(0),
    };
    let f = super::referrals::followup(&s, &a.actor, id).await?;
    match form.outcome(super::referrals::complete(&s, &a.actor, id, &input).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/hotline/calls/{}", f.call_id)).into_response()),
        Err(form) => call_page(&s, &a, f.call_id, None, form).await,
    }
}

#[derive(Template)]
#[template(path = "hotline_lines.html")]
struct LinesPage {
    nav: Option<Nav>,
    lines: Vec<(Line, Vec<Shift>)>,
    kinds: Labels,
    orgs: Vec<(i64, String)>,
    can_supervise: bool,
    form: Kept,
}

async fn lines_page(s: &AppState, a: &Authed, form: Kept) -> PageResult {
    let mut lines = Vec::new();
    for l in super::lines(s, &a.actor).await? {
        let mut shifts = super::shifts(s, &a.actor, l.id).await?;
        bj_shifts(&mut shifts);
        lines.push((l, shifts));
    }
    let status = form.status();
    Ok(render_status(
        &LinesPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            lines,
            kinds: super::LINE_KINDS,
            orgs: crate::orgs::list(s, &a.actor, None, None)
                .await?
                .into_iter()
                .map(|o| (o.id, o.name))
                .collect(),
            can_supervise: a.actor.can(Permission::HotlineSupervise),
            form,
        },
        status,
    ))
}

async fn lines(PageCaller(s, a): PageCaller) -> PageResult {
    lines_page(&s, &a, Kept::none()).await
}

async fn create_line(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("line", pairs);
    let input = NewLine {
        region_code: form.get("region_code").to_string(),
        name: form.get("name").to_string(),
        number: form.get("number").to_string(),
        kind: form.get("kind").to_string(),
        org_id: form.get("org_id").trim().parse().unwrap_or(0),
        hours: form.get("hours").to_string(),
    };
    // A region or organisation out of scope reads as not found: say so beside the field.
    let r = match super::create_line(&s, &a.actor, &input).await {
        Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => {
            Err(crate::kernel::error::AppError::field(
                backstop_core::error::ErrorCode::Validation,
                "region_code",
                "区划或运营机构不存在或不在您的管辖范围内",
            ))
        }
        r => r,
    };
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to("/hotline/lines").into_response()),
        Err(form) => lines_page(&s, &a, form).await,
    }
}

async fn add_shift(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("shift-{id}"), pairs);
    let input = NewShift {
        username: form.get("username").to_string(),
        starts_at: form.get("starts_at").to_string(),
        ends_at: form.get("ends_at").to_string(),
    };
    match form.outcome(super::add_shift(&s, &a.actor, id, &input).await)? {
        Ok(_) => Ok(Redirect::to("/hotline/lines").into_response()),
        Err(form) => lines_page(&s, &a, form).await,
    }
}
