//! The campaign dashboard page (`/donations/campaigns/{id}/dashboard?region=`): the totals as a
//! bar chart (inline SVG, no script), stock by category with its days in stock, the unmet
//! needs by region, and the Excel download (`…/dashboard.xlsx`).

use askama::Template;
use axum::extract::{Path, Query};
use axum::routing::get;

use super::dashboard::{self, Dashboard};
use super::web::TotalsQuery;
use crate::kernel::extract::region_param;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, Routes, render};

pub fn routes() -> Routes {
    vec![
        ("/donations/campaigns/{id}/dashboard", get(show)),
        ("/donations/campaigns/{id}/dashboard.xlsx", get(export)),
    ]
}

/// One bar: label, yuan text, width 0–100.
struct Bar {
    label: &'static str,
    value: String,
    width: i64,
}

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

fn bars(d: &Dashboard) -> Vec<Bar> {
    let t = &d.totals;
    let rows = [
        ("接收", t.received_fen),
        ("已拨付", t.allocated_fen),
        ("已签收", t.delivered_fen),
        ("库存", t.in_stock_fen),
    ];
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    rows.iter()
        .map(|(label, v)| Bar {
            label,
            value: backstop_core::money::Fen(*v).to_yuan_string(),
            width: (*v).max(0) * 100 / max,
        })
        .collect()
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
        bars: bars(&d),
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
