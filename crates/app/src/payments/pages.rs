//! Payments pages (`/payments`) for county staff at the desk, readable on a phone: the rolls
//! in scope with the generate form; one roll with its lines (names and accounts masked,
//! changed accounts highlighted), totals, state history and the step its reader may take —
//! approve, export the bank file (CSV or XLSX, audited), upload the bank's return file — and
//! the reconciliation result with its supplementary roll; a person's bank accounts (enter,
//! confirm by a second person); one-off grants (list, define, generate a county's roll); and
//! price subsidies (indices with why each month did or did not trigger, a chart of the series
//! against the thresholds, the province's rule, the month's subsidy roll). Thin: every rule,
//! permission, scope and separation-of-duties check is in the service functions.

use askama::Template;
use axum::extract::{Form, Multipart, Path, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::Programme;
use backstop_core::price_subsidy::{NATIONAL_CPI_TENTHS, NATIONAL_FOOD_TENTHS};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::{
    Account, ExportRequest, Grant, GrantRollRequest, Line, LinePage, NewAccount, NewGrant,
    NewPriceIndex, PriceIndex, PriceRule, PriceRuleInput, Roll, SubsidyOutcome, SubsidyRequest,
};
use crate::kernel::auth::Authed;
use crate::kernel::form::Kept;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, Routes, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/payments", get(list).post(generate)),
        ("/payments/rolls/{id}", get(show)),
        ("/payments/rolls/{id}/approve", post(approve)),
        ("/payments/rolls/{id}/export", post(export)),
        ("/payments/rolls/{id}/return", post(upload_return)),
        (
            "/payments/persons/{id}/accounts",
            get(accounts).post(enter_account),
        ),
        ("/payments/accounts/{id}/confirm", post(confirm_account)),
        ("/payments/grants", get(grants).post(create_grant)),
        ("/payments/grants/{id}/rolls", post(grant_roll)),
        ("/payments/prices", get(prices)),
        ("/payments/prices/indices", post(record_index)),
        ("/payments/prices/rule", post(set_rule)),
        ("/payments/prices/subsidy", post(subsidy)),
    ]
}

const AREA: &str = "/payments";

fn nav(a: &Authed) -> Option<Nav> {
    Some(Nav::for_actor(&a.actor, AREA))
}

/// The programmes with a monthly roll, as (key, label) for a select.
fn monthly_programmes() -> Vec<(&'static str, &'static str)> {
    Programme::ALL
        .into_iter()
        .filter(|p| p.monthly())
        .map(|p| (p.key(), p.label()))
        .collect()
}

/// The caller's county when the scope is one (the generate form's default), else empty.
fn own_county(a: &Authed) -> String {
    let s = a.actor.scope.as_str();
    if s.len() >= 6 && s != "0" {
        s[..6].to_string()
    } else {
        String::new()
    }
}

// ---------------------------------------------------------------- rolls list and generate

#[derive(Template)]
#[template(path = "payments_list.html")]
struct ListPage {
    nav: Option<Nav>,
    rolls: Vec<Roll>,
    month: String,
    can_generate: bool,
    programmes: Vec<(&'static str, &'static str)>,
    county: String,
    form: Kept,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    month: String,
}

async fn list_page(s: &AppState, a: &Authed, month: &str, form: Kept) -> PageResult {
    let m = Some(month).filter(|m| !m.trim().is_empty());
    let rolls = super::list_rolls(s, &a.actor, None, m).await?;
    let status = form.status();
    Ok(render_status(
        &ListPage {
            nav: nav(a),
            rolls,
            month: month.to_string(),
            can_generate: a.actor.can(Permission::PaymentsGenerate),
            programmes: monthly_programmes(),
            county: own_county(a),
            form,
        },
        status,
    ))
}

async fn list(PageCaller(s, a): PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    list_page(&s, &a, &q.month, Kept::none()).await
}

async fn generate(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("generate", pairs);
    let req = super::GenerateRequest {
        county: form.get("county").to_string(),
        programme: form.get("programme").to_string(),
        month: form.get("month").to_string(),
        pay_date: Some(form.get("pay_date").to_string()),
    };
    let r = super::generate(&s, &a.actor, &req).await;
    match form.outcome(r)? {
        Ok(d) => Ok(Redirect::to(&format!("/payments/rolls/{}", d.roll.id)).into_response()),
        Err(form) => list_page(&s, &a, "", form).await,
    }
}

// ---------------------------------------------------------------- one roll

/// A step of the roll's history: what, who, when.
struct Step {
    label: &'static str,
    who: String,
    when: String,
}

fn history(r: &Roll) -> Vec<Step> {
    let mut out = vec![Step {
        label: "生成",
        who: r.generated_by.clone(),
        when: r.generated_at.clone(),
    }];
    for (label, who, when) in [
        ("审批", &r.approved_by, &r.approved_at),
        ("导出银行文件", &r.exported_by, &r.exported_at),
        ("回盘对账", &r.reconciled_by, &r.reconciled_at),
    ] {
        if let Some(who) = who {
            out.push(Step {
                label,
                who: who.clone(),
                when: when.clone().unwrap_or_default(),
            });
        }
    }
    out
}

#[derive(Template)]
#[template(path = "payments_roll.html")]
struct RollPage {
    nav: Option<Nav>,
    roll: Roll,
    /// A page of the lines (after line `after` of the query).
    lines: Vec<Line>,
    /// The next page starts after this line.
    next_after: Option<i64>,
    /// Not the first page.
    paged: bool,
    per_page: i64,
    history: Vec<Step>,
    /// Sum of all the lines, recomputed (equals the roll's total; shown beside it).
    lines_total: String,
    changed: i64,
    /// The reader generated this roll: approve and export are someone else's.
    own: bool,
    can_approve: bool,
    can_export: bool,
    can_reconcile: bool,
    /// Supplementary rolls made from this one's failed lines.
    supplementary: Vec<Roll>,
    form: Kept,
}

#[derive(Deserialize, Default)]
struct RollQuery {
    #[serde(default)]
    after: Option<i64>,
}

async fn show(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<RollQuery>,
) -> PageResult {
    roll_page(&s, &a, id, q.after, Kept::none()).await
}

async fn show_page(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    roll_page(s, a, id, None, form).await
}

async fn roll_page(
    s: &AppState,
    a: &Authed,
    id: i64,
    after: Option<i64>,
    form: Kept,
) -> PageResult {
    let page = LinePage { after, limit: None };
    let d = super::get_roll(s, &a.actor, id, &page).await?;
    let (lines_total, changed) = super::roll_lines_total(s, &a.actor, id).await?;
    let roll = d.roll;
    let own = roll.generated_by == a.actor.username;
    let lines_total = lines_total.to_yuan_string();
    let supplementary = if roll.failed_count > 0 {
        super::list_rolls(s, &a.actor, None, Some(&roll.month))
            .await?
            .into_iter()
            .filter(|r| r.parent_roll_id == Some(roll.id))
            .collect()
    } else {
        Vec::new()
    };
    let status = form.status();
    Ok(render_status(
        &RollPage {
            nav: nav(a),
            history: history(&roll),
            changed,
            lines_total,
            lines: d.lines,
            next_after: d.next_after,
            paged: after.unwrap_or(0) > 0,
            per_page: super::LINES_PER_PAGE,
            can_approve: !own && roll.status == "draft" && a.actor.can(Permission::PaymentsApprove),
            can_export: !own
                && matches!(roll.status.as_str(), "approved" | "exported")
                && a.actor.can(Permission::PaymentsExport),
            can_reconcile: roll.status == "exported" && a.actor.can(Permission::PaymentsReconcile),
            own,
            roll,
            supplementary,
            form,
        },
        status,
    ))
}

async fn approve(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    let form = Kept::input("approve", Vec::new());
    match form.outcome(super::approve(&s, &a.actor, id).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/payments/rolls/{id}")).into_response()),
        Err(form) => show_page(&s, &a, id, form).await,
    }
}

async fn export(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("export", pairs);
    let req = ExportRequest {
        format: Some(form.get("format").to_string()).filter(|f| !f.is_empty()),
    };
    match form.outcome(super::export(&s, &a.actor, id, &req).await)? {
        Ok(f) => Ok(super::web::bank_file_response(f)),
        Err(form) => show_page(&s, &a, id, form).await,
    }
}

async fn upload_return(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult {
    let form = Kept::input("return", Vec::new());
    let r = match super::upload::return_file(multipart).await {
        Ok(file) => super::reconcile(&s, &a.actor, id, &file).await,
        Err(e) => Err(e),
    };
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to(&format!("/payments/rolls/{id}#reconciled")).into_response()),
        Err(form) => show_page(&s, &a, id, form).await,
    }
}

// ---------------------------------------------------------------- a person's accounts

#[derive(Template)]
#[template(path = "payments_accounts.html")]
struct AccountsPage {
    nav: Option<Nav>,
    person_id: i64,
    accounts: Vec<Account>,
    can_enter: bool,
    me: String,
    form: Kept,
}

async fn accounts(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    accounts_page(&s, &a, id, Kept::none()).await
}

async fn accounts_page(s: &AppState, a: &Authed, person_id: i64, form: Kept) -> PageResult {
    let accounts = super::person_accounts(s, &a.actor, person_id).await?;
    let status = form.status();
    Ok(render_status(
        &AccountsPage {
            nav: nav(a),
            person_id,
            accounts,
            can_enter: a.actor.can(Permission::PaymentsAccounts),
            me: a.actor.username.clone(),
            form,
        },
        status,
    ))
}

async fn enter_account(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("account", pairs);
    let input = NewAccount {
        bank_name: form.get("bank_name").to_string(),
        account_number: form.get("account_number").to_string(),
        holder: form.get("holder").to_string(),
    };
    // The number typed is never shown again, refused or not.
    let r = super::enter_account(&s, &a.actor, id, &input).await;
    match form.without("account_number").outcome(r)? {
        Ok(_) => Ok(Redirect::to(&format!("/payments/persons/{id}/accounts")).into_response()),
        Err(form) => accounts_page(&s, &a, id, form).await,
    }
}

#[derive(Deserialize)]
struct ConfirmForm {
    person: i64,
}

async fn confirm_account(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(f): Form<ConfirmForm>,
) -> PageResult {
    let form = Kept::input(&format!("confirm-{id}"), Vec::new());
    match form.outcome(super::confirm_account(&s, &a.actor, id).await)? {
        Ok(acc) => Ok(
            Redirect::to(&format!("/payments/persons/{}/accounts", acc.person_id)).into_response(),
        ),
        Err(form) => accounts_page(&s, &a, f.person, form).await,
    }
}

// ---------------------------------------------------------------- one-off grants

#[derive(Template)]
#[template(path = "payments_grants.html")]
struct GrantsPage {
    nav: Option<Nav>,
    grants: Vec<Grant>,
    programmes: Vec<(&'static str, &'static str)>,
    can_generate: bool,
    county: String,
    form: Kept,
}

async fn grants(PageCaller(s, a): PageCaller) -> PageResult {
    grants_page(&s, &a, Kept::none()).await
}

async fn grants_page(s: &AppState, a: &Authed, form: Kept) -> PageResult {
    let grants = super::list_grants(s, &a.actor).await?;
    let status = form.status();
    Ok(render_status(
        &GrantsPage {
            nav: nav(a),
            grants,
            programmes: Programme::ALL
                .into_iter()
                .map(|p| (p.key(), p.label()))
                .collect(),
            can_generate: a.actor.can(Permission::PaymentsGenerate),
            county: own_county(a),
            form,
        },
        status,
    ))
}

async fn create_grant(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("grant", pairs);
    let input = NewGrant {
        name: form.get("name").to_string(),
        region_code: form.get("region_code").to_string(),
        programmes: form
            .all("programmes")
            .into_iter()
            .map(str::to_string)
            .collect(),
        per: form.get("per").to_string(),
        amount: form.get("amount").to_string(),
        as_of: form.get("as_of").to_string(),
    };
    let r = super::create_grant(&s, &a.actor, &input).await;
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to("/payments/grants").into_response()),
        Err(form) => grants_page(&s, &a, form).await,
    }
}

async fn grant_roll(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("grant-roll-{id}"), pairs);
    let req = GrantRollRequest {
        county: form.get("county").to_string(),
        pay_date: Some(form.get("pay_date").to_string()),
    };
    let r = super::generate_grant_roll(&s, &a.actor, id, &req).await;
    match form.outcome(r)? {
        Ok(d) => Ok(Redirect::to(&format!("/payments/rolls/{}", d.roll.id)).into_response()),
        Err(form) => grants_page(&s, &a, form).await,
    }
}

// ---------------------------------------------------------------- price subsidies

/// A recorded month with whether it triggers under its province's rule, and why.
struct IndexRow {
    i: PriceIndex,
    triggered: bool,
    reason: String,
}

/// One month's bars of the chart (heights in the SVG's units; thresholds as lines).
struct Bar {
    month: String,
    x: i64,
    cpi_y: i64,
    cpi_h: i64,
    food_y: i64,
    food_h: i64,
}

/// The chart of one region's series: CPI and food-CPI bars per month, threshold lines.
struct Chart {
    region: String,
    bars: Vec<Bar>,
    width: i64,
    cpi_line: i64,
    food_line: i64,
    cpi_threshold: String,
    food_threshold: String,
}

/// Chart height (SVG units) and the top of the scale, in tenths of a percent.
const CHART_H: i64 = 120;

fn chart(indices: &[PriceIndex], rules: &[PriceRule]) -> Option<Chart> {
    let region = indices.first()?.region_code.clone();
    let mut series: Vec<&PriceIndex> = indices
        .iter()
        .filter(|i| i.region_code == region)
        .take(12)
        .collect();
    series.reverse();
    let rule = super::prices::rule_of(rules, &super::province_of(&region));
    let top = series
        .iter()
        .map(|i| i.cpi_tenths.max(i.food_cpi_tenths))
        .chain([rule.cpi_tenths, rule.food_tenths])
        .max()
        .unwrap_or(1)
        .max(1);
    let scale = |v: i64| v.clamp(0, top) * CHART_H / top;
    let bars = series
        .iter()
        .enumerate()
        .map(|(k, i)| {
            let x = i64::try_from(k).unwrap_or(0) * 40 + 30;
            let (c, f) = (scale(i.cpi_tenths), scale(i.food_cpi_tenths));
            Bar {
                month: i.month.get(2..).unwrap_or(&i.month).to_string(),
                x,
                cpi_y: CHART_H - c + 10,
                cpi_h: c,
                food_y: CHART_H - f + 10,
                food_h: f,
            }
        })
        .collect::<Vec<_>>();
    Some(Chart {
        region,
        width: i64::try_from(bars.len()).unwrap_or(0) * 40 + 40,
        bars,
        cpi_line: CHART_H - scale(rule.cpi_tenths) + 10,
        food_line: CHART_H - scale(rule.food_tenths) + 10,
        cpi_threshold: backstop_core::price_subsidy::percent(rule.cpi_tenths),
        food_threshold: backstop_core::price_subsidy::percent(rule.food_tenths),
    })
}

#[derive(Template)]
#[template(path = "payments_prices.html")]
struct PricesPage {
    nav: Option<Nav>,
    rows: Vec<IndexRow>,
    rules: Vec<PriceRule>,
    chart: Option<Chart>,
    national_cpi: String,
    national_food: String,
    province: String,
    county: String,
    can_generate: bool,
    /// The last subsidy request's answer: triggered (and its roll) or why not.
    outcome: Option<SubsidyOutcome>,
    form: Kept,
}

async fn prices(PageCaller(s, a): PageCaller) -> PageResult {
    prices_page(&s, &a, None, Kept::none()).await
}

async fn prices_page(
    s: &AppState,
    a: &Authed,
    outcome: Option<SubsidyOutcome>,
    form: Kept,
) -> PageResult {
    let indices = super::list_indices(s, &a.actor).await?;
    let rules = super::list_rules(s, &a.actor).await?;
    let rows = indices
        .iter()
        .map(|i| {
            let (triggered, reason) = super::prices::explain(i, &rules);
            IndexRow {
                i: i.clone(),
                triggered,
                reason,
            }
        })
        .collect();
    let county = own_county(a);
    let scope = a.actor.scope.as_str();
    let province = if scope.len() >= 2 && scope != "0" {
        scope[..2].to_string()
    } else {
        String::new()
    };
    let status = form.status();
    Ok(render_status(
        &PricesPage {
            nav: nav(a),
            chart: chart(&indices, &rules),
            rows,
            rules,
            national_cpi: backstop_core::price_subsidy::percent(NATIONAL_CPI_TENTHS),
            national_food: backstop_core::price_subsidy::percent(NATIONAL_FOOD_TENTHS),
            province,
            county,
            can_generate: a.actor.can(Permission::PaymentsGenerate),
            outcome,
            form,
        },
        status,
    ))
}

async fn record_index(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("index", pairs);
    let input = NewPriceIndex {
        region_code: form.get("region_code").to_string(),
        month: form.get("month").to_string(),
        cpi: form.get("cpi").to_string(),
        food_cpi: form.get("food_cpi").to_string(),
    };
    match form.outcome(super::record_index(&s, &a.actor, &input).await)? {
        Ok(_) => Ok(Redirect::to("/payments/prices").into_response()),
        Err(form) => prices_page(&s, &a, None, form).await,
    }
}

async fn set_rule(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("rule", pairs);
    let input = PriceRuleInput {
        cpi: form.get("cpi").to_string(),
        food_cpi: form.get("food_cpi").to_string(),
        rounding: form.get("rounding").to_string(),
        minimum: form.get("minimum").to_string(),
    };
    let r = super::set_rule(&s, &a.actor, form.get("province"), &input).await;
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to("/payments/prices").into_response()),
        Err(form) => prices_page(&s, &a, None, form).await,
    }
}

async fn subsidy(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("subsidy", pairs);
    let multiplier = match form.get("multiplier").trim() {
        "" => None,
        m => Some(m.parse::<i64>().unwrap_or(0)),
    };
    let req = SubsidyRequest {
        county: form.get("county").to_string(),
        month: form.get("month").to_string(),
        multiplier,
        pay_date: Some(form.get("pay_date").to_string()),
    };
    match form.outcome(super::generate_subsidy(&s, &a.actor, &req).await)? {
        Ok(o) => match &o.roll {
            Some(r) => Ok(Redirect::to(&format!("/payments/rolls/{}", r.id)).into_response()),
            None => prices_page(&s, &a, Some(o), Kept::none()).await,
        },
        Err(form) => prices_page(&s, &a, None, form).await,
    }
}
