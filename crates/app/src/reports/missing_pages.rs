//! The missing-reports page (未报清单): the units that have not reported, with their contact
//! (in full or masked, `chase::show_contact`), a 催报 button per unit and one for all, the
//! history of chasing, and the list as Excel (issue 14, item 8). Thin: each handler parses
//! the query or form and calls one service function.

use askama::Template;
use axum::extract::{Form as FormBody, Query};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

use super::chase::{Chase, ChaseInput, may_chase};
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, encode_query_value, render_status};

#[derive(Deserialize)]
pub(super) struct MissingQuery {
    template: String,
    period: Option<String>,
    region: Option<String>,
    /// How many units the last chase reached (after the redirect).
    chased: Option<i64>,
}

impl MissingQuery {
    /// The day asked for, default today.
    fn period_or_today(&self, s: &crate::state::AppState) -> String {
        self.period
            .clone()
            .unwrap_or_else(|| s.today().format("%Y-%m-%d").to_string())
    }
}

/// One chase as the page lists it.
struct ChaseRow {
    unit_name: String,
    seq: i64,
    by: String,
    at: String,
}

#[derive(Template)]
#[template(path = "reports_missing.html")]
struct MissingPage {
    nav: Option<Nav>,
    form_key: String,
    form_name: String,
    period: String,
    code: String,
    region_name: String,
    rows: Vec<super::MissingUnit>,
    can_chase: bool,
    chased: Option<i64>,
    error: Option<String>,
    history: Vec<ChaseRow>,
    /// Child deployments reporting (part of) the region (issue 20): a late one explains gaps.
    nodes: Vec<crate::federation::NodeSync>,
}

fn chase_rows(list: Vec<Chase>) -> Vec<ChaseRow> {
    list.into_iter()
        .map(|c| ChaseRow {
            at: chrono::DateTime::parse_from_rfc3339(&c.chased_at)
                .map(|t| backstop_core::clock::format_beijing(t.with_timezone(&chrono::Utc)))
                .unwrap_or_default(),
            unit_name: c.unit_name,
            seq: c.seq,
            by: c.chased_by,
        })
        .collect()
}

async fn render_missing(
    s: &crate::state::AppState,
    a: &crate::kernel::auth::Authed,
    q: &MissingQuery,
    error: Option<crate::kernel::error::AppError>,
) -> PageResult {
    let period = q.period_or_today(s);
    let scope = super::area(&a.actor, q.region.as_deref())?;
    let rows = super::missing(s, &scope, &q.template, &period).await?;
    let sum = super::summary(s, &scope, &q.template, &period).await?;
    let history = chase_rows(super::chase::chases(s, &scope, &q.template, &period).await?);
    let nodes = crate::federation::syncs_for(s, &sum.code).await?;
    let status = error
        .as_ref()
        .map_or(axum::http::StatusCode::OK, |e| e.status());
    Ok(render_status(
        &MissingPage {
            nodes,
            nav: Some(Nav::for_actor(&a.actor, "/reports")),
            form_key: sum.template,
            form_name: sum.name,
            period: sum.period,
            code: sum.code,
            region_name: sum.region_name,
            rows,
            can_chase: may_chase(&a.actor),
            chased: q.chased,
            error: error.map(|e| e.message),
            history,
        },
        status,
    ))
}

pub(super) async fn missing_page(
    PageCaller(s, a): PageCaller,
    Query(q): Query<MissingQuery>,
) -> PageResult {
    render_missing(&s, &a, &q, None).await
}

#[derive(Deserialize)]
pub(super) struct ChaseForm {
    template: String,
    period: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    unit: String,
}

/// `POST /reports/missing/chase`: chase one unit (`unit`) or all, then back to the list.
pub(super) async fn chase_page(
    PageCaller(s, a): PageCaller,
    FormBody(f): FormBody<ChaseForm>,
) -> PageResult {
    let scope = super::area(&a.actor, Some(&f.region))?;
    let input = ChaseInput {
        template: f.template.clone(),
        period: f.period.clone(),
        region: f.region.clone(),
        unit: f.unit.clone(),
    };
    let q = MissingQuery {
        template: f.template,
        period: Some(f.period),
        region: Some(f.region),
        chased: None,
    };
    match super::chase::chase(&s, &scope, &input).await {
        Ok(done) => Ok(Redirect::to(&format!(
            "/reports/missing?template={}&period={}&region={}&chased={}",
            encode_query_value(&q.template),
            encode_query_value(q.period.as_deref().unwrap_or_default()),
            encode_query_value(q.region.as_deref().unwrap_or_default()),
            done.len()
        ))
        .into_response()),
        Err(e)
            if e.code == backstop_core::error::ErrorCode::Validation
                || e.code == backstop_core::error::ErrorCode::Conflict =>
        {
            render_missing(&s, &a, &q, Some(e)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /reports/missing.xlsx`: the missing list as Excel.
pub(super) async fn missing_export(
    PageCaller(s, a): PageCaller,
    Query(q): Query<MissingQuery>,
) -> PageResult {
    let period = q.period_or_today(&s);
    let scope = super::area(&a.actor, q.region.as_deref())?;
    let (name, bytes) = super::missing_xlsx(&s, &scope, &q.template, &period).await?;
    Ok(crate::kernel::cells::xlsx_download(&name, bytes))
}
