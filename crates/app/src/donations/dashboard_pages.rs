//! The campaign dashboard page (`/donations/campaigns/{id}/dashboard?region=`): the totals as a
//! bar chart (inline SVG, no script), stock by category with its days in stock, the unmet
//! needs by region, and the Excel download (`…/dashboard.xlsx`).

use askama::Template;
use axum::extract::{Path, Query};
use axum::routing::get;

use super::dashboard::{self, Dashboard};
use super::pages::{Bar, bars};
use super::web::TotalsQuery;
use crate::kernel::extract::region_param;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, Routes, render};

#[derive(Template)]
#[template(path = "donations_dashboard.html")]
struct DashboardPage {
    nav: Option<Nav>,
    d: Dashboard,
    bars: Vec<Bar>,
    unmet: Vec<super::needs::RegionNeeds>,
    unmet_campaign: i64,
    region: String,
}

pub fn routes() -> Routes {
    vec![
        ("/donations/campaigns/{id}/dashboard", get(show)),
        ("/donations/campaigns/{id}/dashboard.xlsx", get(export)),
    ]
}

async fn show(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<TotalsQuery>,
) -> PageResult {
    let region = region_param(q.region.as_deref())?;
    let d = dashboard::dashboard(&s, &a.actor, id, region.as_ref()).await?;
    Ok(render(&DashboardPage {
        nav: Some(Nav::for_actor(&a.actor, "/donations")),
        bars: bars(&d.totals),
        unmet: d.unmet.clone(),
        unmet_campaign: id,
        region: q.region.unwrap_or_default(),
        d,
    }))
}

async fn export(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<TotalsQuery>,
) -> PageResult {
    let region = region_param(q.region.as_deref())?;
    let (name, bytes) = dashboard::export_xlsx(&s, &a.actor, id, region.as_ref()).await?;
    Ok(super::dashboard_web::xlsx(&name, bytes))
}
