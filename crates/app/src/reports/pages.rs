//! Report pages: the reporting unit's "today" page and phone-friendly fill-in form, the
//! summary with drill-down from the user's region to the village and the single report, the
//! list of units that have not reported, and the open immediate reports (refreshed in place
//! with htmx polling) with their acknowledgement.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form as FormBody, Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use backstop_core::region::{RegionCode, RegionLevel, Scope};
use backstop_core::role::Permission;
use serde::Deserialize;
use serde_json::Value;

use super::form::{FieldType, Form, Period};
use crate::kernel::crypto::random_token;
use crate::kernel::error::AppError;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, render};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/reports", get(hub)),
        ("/reports/fill/{key}", get(fill_form).post(fill_submit)),
        ("/reports/summary", get(summary_page)),
        ("/reports/missing", get(super::missing_pages::missing_page)),
        (
            "/reports/missing/chase",
            post(super::missing_pages::chase_page),
        ),
        (
            "/reports/missing.xlsx",
            get(super::missing_pages::missing_export),
        ),
        ("/reports/incidents", get(incidents_page)),
        ("/reports/incidents/live", get(incidents_live)),
        ("/reports/incidents/{id}/ack", post(ack)),
        ("/reports/view/{id}", get(super::view::show)),
        ("/reports/dashboard", get(super::dashboard::dashboard_page)),
        ("/reports/forms", get(super::editor::list)),
        ("/reports/forms/new", get(super::editor::new)),
        ("/reports/forms/save", post(super::editor::save)),
        ("/reports/forms/{key}/edit", get(super::editor::edit)),
        ("/reports/export.xlsx", get(super::dashboard::export_page)),
    ]
}

fn today(state: &AppState) -> String {
    state.today().format("%Y-%m-%d").to_string()
}

struct FormLink {
    key: String,
    name: String,
    period_label: &'static str,
}

struct NoteRow {
    kind: String,
    title: String,
    body: String,
    at: String,
}

#[derive(Template)]
#[template(path = "reports_hub.html")]
struct HubPage {
    nav: Option<Nav>,
    today: String,
    todo: Vec<super::todo::DueReport>,
    can_read: bool,
    can_submit: bool,
    incident_unit: String,
    forms: Vec<FormLink>,
    open_incidents: usize,
    notes: Vec<NoteRow>,
}

async fn hub(PageCaller(s, a): PageCaller) -> PageResult {
    let actor = &a.actor;
    let can_submit = actor.can(Permission::ReportsSubmit);
    let can_read = actor.can(Permission::ReportsRead);
    if !can_submit && !can_read {
        return Err(AppError::forbidden().into());
    }
    let forms = super::list_forms(&s, actor).await?;
    let day = today(&s);
    let todo = super::todo::today_reports(&s, actor).await?;
    let units = if can_submit {
        super::todo::my_units(&s, actor).await
    } else {
        Vec::new()
    };
    let open_incidents = if can_read {
        super::incidents::list(&s, actor, true, 1000).await?.len()
    } else {
        0
    };
    let notes = super::notifications(&s, actor, 20)
        .await?
        .into_iter()
        .map(|n| NoteRow {
            kind: n.kind,
            title: n.title,
            body: n.body,
            at: chrono::DateTime::parse_from_rfc3339(&n.created_at)
                .map(|t| backstop_core::clock::format_beijing(t.with_timezone(&chrono::Utc)))
                .unwrap_or_default(),
        })
        .collect();
    Ok(render(&HubPage {
        nav: Some(Nav::for_actor(actor, "/reports")),
        today: day,
        todo,
        can_read,
        can_submit,
        incident_unit: units.first().map(|u| u.0.clone()).unwrap_or_default(),
        forms: forms
            .iter()
            .filter(|f| f.period != Period::Immediate)
            .map(|f| FormLink {
                key: f.key.clone(),
                name: f.name.clone(),
                period_label: f.period.label_zh(),
            })
            .collect(),
        open_incidents,
        notes,
    }))
}

/// One input of the fill-in form.
struct InputRow {
    key: String,
    label: String,
    unit: String,
    input: &'static str,
    min: String,
    max: String,
    step: &'static str,
    required: bool,
    options: Vec<String>,
    value: String,
    error: String,
}

#[derive(Template)]
#[template(path = "reports_fill.html")]
struct FillPage {
    nav: Option<Nav>,
    form_key: String,
    form_name: String,
    unit: String,
    unit_name: String,
    period: String,
    idem: String,
    inputs: Vec<InputRow>,
    error: Option<String>,
    /// Correcting another unit's report: it will be marked and the unit told.
    for_other: bool,
}

fn inputs(
    form: &Form,
    values: &HashMap<String, String>,
    errors: &HashMap<String, String>,
) -> Vec<InputRow> {
    form.spec
        .fields
        .iter()
        .map(|f| {
            let (input, step) = match f.kind {
                FieldType::Integer => ("number", "1"),
                FieldType::Decimal => ("number", "any"),
                FieldType::Temperature => ("number", "0.1"),
                FieldType::Text => ("textarea", ""),
                FieldType::Choice => ("select", ""),
                FieldType::YesNo => ("yesno", ""),
                FieldType::Date => ("date", ""),
            };
            InputRow {
                key: f.key.clone(),
                label: f.label.clone(),
                unit: f.unit.clone(),
                input,
                min: f.min.map(|m| m.to_string()).unwrap_or_default(),
                max: f.max.map(|m| m.to_string()).unwrap_or_default(),
                step,
                required: f.required,
                options: f.options.clone(),
                value: values.get(&f.key).cloned().unwrap_or_default(),
                error: errors.get(&f.key).cloned().unwrap_or_default(),
            }
        })
        .collect()
}

#[derive(Deserialize)]
struct FillQuery {
    unit: String,
    period: Option<String>,
}

async fn fill_form(
    PageCaller(s, a): PageCaller,
    Path(key): Path<String>,
    Query(q): Query<FillQuery>,
) -> PageResult {
    a.actor.require(Permission::ReportsSubmit)?;
    let form = super::get_form(&s, &a.actor, &key, None).await?;
    let period = q.period.unwrap_or_else(|| today(&s));
    // Only a unit the visitor may report for (the submission's rule), else not found; its
    // current report prefills a correction.
    let (unit, unit_name, current) =
        super::units::current_values(&s, &a.actor, &form, &q.unit, &period).await?;
    let for_other = !current.is_empty() && !super::corrections::own_unit_key(&a.actor, &unit);
    let values: HashMap<String, String> = current
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(x) => x,
                Value::Bool(true) => "是".to_string(),
                Value::Bool(false) => "否".to_string(),
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    Ok(render(&FillPage {
        nav: Some(Nav::for_actor(&a.actor, "/reports")),
        inputs: inputs(&form, &values, &HashMap::new()),
        form_key: form.key.clone(),
        form_name: form.name.clone(),
        unit_name,
        unit,
        period,
        idem: random_token("f_"),
        error: None,
        for_other,
    }))
}

async fn fill_submit(
    PageCaller(s, a): PageCaller,
    Path(key): Path<String>,
    FormBody(body): FormBody<HashMap<String, String>>,
) -> PageResult {
    let form = super::get_form(&s, &a.actor, &key, None).await?;
    let unit = body.get("_unit").cloned().unwrap_or_default();
    let period = body.get("_period").cloned().unwrap_or_default();
    let idem = body.get("_idem").cloned().filter(|k| !k.is_empty());
    let mut values = serde_json::Map::new();
    for f in &form.spec.fields {
        if let Some(v) = body.get(&f.key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            values.insert(f.key.clone(), Value::from(v));
        }
    }
    let input = super::SubmitInput {
        template: key.clone(),
        unit: Value::from(unit.clone()),
        period: period.clone(),
        values: Value::Object(values),
        version: None,
    };
    match super::submit(&s, &a.actor, &input, idem.as_deref()).await {
        Ok((_, sub)) => {
            Ok(Redirect::to(&format!("/reports/view/{}?saved=1", sub.id)).into_response())
        }
        Err(e) if e.code == backstop_core::error::ErrorCode::NotFound => Err(e.into()),
        Err(e) => {
            let errors: HashMap<String, String> = e
                .fields
                .iter()
                .map(|f| (f.field.clone(), f.message.clone()))
                .collect();
            let mut resp = render(&FillPage {
                nav: Some(Nav::for_actor(&a.actor, "/reports")),
                inputs: inputs(&form, &body, &errors),
                form_key: form.key.clone(),
                form_name: form.name.clone(),
                unit_name: super::units::reportable_name(&s, &a.actor, &form, &unit).await,
                unit,
                period,
                idem: idem.unwrap_or_else(|| random_token("f_")),
                error: Some(e.message.clone()),
                for_other: false,
            });
            *resp.status_mut() = e.status();
            Ok(resp)
        }
    }
}

pub(super) fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "是".to_string(),
        Value::Bool(false) => "否".to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
struct SummaryQuery {
    template: String,
    period: Option<String>,
    region: Option<String>,
    sort: Option<String>,
    /// First day of the cumulative (累计) range of a daily form; default the 1st of the month.
    from: Option<String>,
}

/// One figure of a summary row: its column label (the card label on a phone), the day's
/// value and, for a daily form, the cumulative value over the chosen range.
struct Cell {
    label: String,
    day: String,
    cum: String,
}

struct ChildRow {
    code: String,
    name: String,
    expected: String,
    received: i64,
    on_time: i64,
    rate: String,
    rate_class: &'static str,
    values: Vec<Cell>,
    drill: bool,
}

struct Crumb {
    code: String,
    name: String,
}

#[derive(Template)]
#[template(path = "reports_summary.html")]
struct SummaryPage {
    nav: Option<Nav>,
    form_key: String,
    form_name: String,
    period: String,
    code: String,
    region_name: String,
    expected: String,
    received: i64,
    on_time: i64,
    rate: String,
    headers: Vec<String>,
    totals: Vec<Cell>,
    children: Vec<ChildRow>,
    /// The cumulative range `(from, until)`, for a daily form.
    cum_range: Option<(String, String)>,
    crumbs: Vec<Crumb>,
    by_timeliness: bool,
    reports: Vec<(i64, String, String, bool)>,
    /// Child deployments reporting (part of) the region (issue 20).
    nodes: Vec<crate::federation::NodeSync>,
}

fn rate(received: i64, expected: Option<i64>) -> (String, &'static str) {
    super::pages_rate(received, expected)
}

/// How many reports are expected, or "—" where no unit is expected to report.
fn expected_text(expected: Option<i64>) -> String {
    expected.map_or_else(|| "—".into(), |e| e.to_string())
}

fn fmt_value(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => show_value(other),
        None => "0".to_string(),
    }
}

async fn summary_page(PageCaller(s, a): PageCaller, Query(q): Query<SummaryQuery>) -> PageResult {
    let period = q.period.clone().unwrap_or_else(|| today(&s));
    let scope = super::area(&a.actor, q.region.as_deref())?;
    let sum = super::summary(&s, &scope, &q.template, &period).await?;
    let form = super::get_form(&s, &a.actor, &q.template, None).await?;
    let shown: Vec<&super::form::Field> = form.summable().take(6).collect();
    // 累计: a daily form's sums from `from` (default the 1st of the month) to the day.
    let day = chrono::NaiveDate::parse_from_str(&sum.period, "%Y-%m-%d").ok();
    let (cum, cum_range) = match (form.period, day) {
        (Period::Daily, Some(until)) => {
            let from = match q.from.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
                Some(f) => crate::kernel::error::date_field("from", f)?,
                None => chrono::Datelike::with_day(&until, 1).unwrap_or(until),
            };
            let c = super::summary::cumulative(&s, &scope, &form.key, from, until).await?;
            (
                c,
                Some((from.format("%Y-%m-%d").to_string(), sum.period.clone())),
            )
        }
        _ => (Default::default(), None),
    };
    let cells = |code: &str, sums: &serde_json::Map<String, Value>| -> Vec<Cell> {
        shown
            .iter()
            .map(|f| Cell {
                label: f.label.clone(),
                day: fmt_value(sums.get(&f.key)),
                cum: if cum_range.is_some() {
                    fmt_value(cum.get(code).and_then(|m| m.get(&f.key)))
                } else {
                    String::new()
                },
            })
            .collect()
    };
    let by_timeliness = q.sort.as_deref() == Some("timely");
    let mut children: Vec<ChildRow> = sum
        .children
        .iter()
        .map(|c| {
            let (r, class) = rate(c.received, c.expected);
            ChildRow {
                code: c.code.clone(),
                name: c.name.clone(),
                expected: expected_text(c.expected),
                received: c.received,
                on_time: c.on_time,
                rate: r,
                rate_class: class,
                values: cells(&c.code, &c.sums),
                drill: c.expected.unwrap_or(1) > 0 || c.received > 0,
            }
        })
        .collect();
    if by_timeliness {
        let key = |c: &ChildRow| -> i64 {
            let e: i64 = c.expected.parse().unwrap_or(0);
            if e == 0 {
                -1
            } else {
                c.on_time * 1_000_000 / e
            }
        };
        children.sort_by_key(|c| std::cmp::Reverse(key(c)));
    }
    let mut crumbs = Vec::new();
    if let Ok(code) = RegionCode::parse(&sum.code) {
        for r in crate::regions::trail(&s, &a.actor, &code).await? {
            crumbs.push(Crumb {
                code: r.code,
                name: r.name,
            });
        }
    } else if matches!(a.actor.scope, Scope::National) {
        // nation: no crumbs
    }
    // At the bottom of the tree, list the single reports.
    let reports = if sum.children.is_empty() && sum.code != "0" {
        super::summary::reports_here(&s, &scope, &sum.template, &sum.period).await?
    } else {
        Vec::new()
    };
    let (r, _) = rate(sum.received, sum.expected);
    let nodes = crate::federation::syncs_for(&s, &sum.code).await?;
    Ok(render(&SummaryPage {
        nodes,
        nav: Some(Nav::for_actor(&a.actor, "/reports")),
        form_key: sum.template.clone(),
        form_name: sum.name.clone(),
        period: sum.period.clone(),
        code: sum.code.clone(),
        region_name: sum.region_name.clone(),
        expected: expected_text(sum.expected),
        received: sum.received,
        on_time: sum.on_time,
        rate: r,
        headers: shown.iter().map(|f| f.label.clone()).collect(),
        totals: cells(&sum.code, &sum.sums),
        cum_range,
        children,
        crumbs,
        by_timeliness,
        reports,
    }))
}

struct IncidentRow {
    id: i64,
    unit_name: String,
    kind: String,
    place: String,
    people: String,
    measures: String,
    help: String,
    at: String,
    acked: bool,
    ack_text: String,
}

fn incident_rows(list: Vec<super::incidents::Incident>) -> Vec<IncidentRow> {
    list.into_iter()
        .map(|i| {
            let g = |k: &str| i.values.get(k).map(show_value).unwrap_or_default();
            IncidentRow {
                id: i.id,
                unit_name: i.unit_name.clone(),
                kind: g("event_kind"),
                place: g("place"),
                people: g("people_affected"),
                measures: g("measures"),
                help: g("help_needed"),
                at: chrono::DateTime::parse_from_rfc3339(&i.submitted_at)
                    .map(|t| backstop_core::clock::format_beijing(t.with_timezone(&chrono::Utc)))
                    .unwrap_or_default(),
                acked: i.ack.is_some(),
                ack_text: i
                    .ack
                    .map(|a| format!("{}：{}", a.by, a.handling))
                    .unwrap_or_default(),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "reports_incidents.html")]
struct IncidentsPage {
    nav: Option<Nav>,
    rows: Vec<IncidentRow>,
    can_ack: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "reports_incidents_live.html")]
struct IncidentsLive {
    rows: Vec<IncidentRow>,
    can_ack: bool,
}

fn can_ack(a: &crate::kernel::actor::Actor) -> bool {
    a.can(Permission::ReportsRead)
        && match &a.scope {
            Scope::National => true,
            Scope::Region(c) => c.level() <= RegionLevel::County,
        }
}

async fn incidents_page(PageCaller(s, a): PageCaller) -> PageResult {
    let rows = incident_rows(super::incidents::list(&s, &a.actor, false, 200).await?);
    Ok(render(&IncidentsPage {
        nav: Some(Nav::for_actor(&a.actor, "/reports")),
        rows,
        can_ack: can_ack(&a.actor),
        error: None,
    }))
}

async fn incidents_live(PageCaller(s, a): PageCaller) -> PageResult {
    let rows = incident_rows(super::incidents::list(&s, &a.actor, false, 200).await?);
    Ok(render(&IncidentsLive {
        rows,
        can_ack: can_ack(&a.actor),
    }))
}

#[derive(Deserialize)]
struct AckForm {
    handling: String,
}

async fn ack(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    FormBody(f): FormBody<AckForm>,
) -> Response {
    match super::incidents::acknowledge(&s, &a.actor, id, &f.handling).await {
        Ok(_) => Redirect::to("/reports/incidents").into_response(),
        Err(e) if e.code == backstop_core::error::ErrorCode::NotFound => {
            crate::kernel::web::PageError(e).into_response()
        }
        Err(e) => {
            let rows = incident_rows(
                super::incidents::list(&s, &a.actor, false, 200)
                    .await
                    .unwrap_or_default(),
            );
            let mut r = render(&IncidentsPage {
                nav: Some(Nav::for_actor(&a.actor, "/reports")),
                rows,
                can_ack: can_ack(&a.actor),
                error: Some(e.message.clone()),
            });
            *r.status_mut() = e.status();
            r
        }
    }
}
