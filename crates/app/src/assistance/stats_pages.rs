//! Assistance statistics and due-time settings pages: `/assistance/statistics` (the month's
//! figures per region below the one chosen, bar charts drawn as inline SVG on the server —
//! no script, nothing from outside — drill-down to the regions below and, at a township or
//! village, to the beneficiaries; the Excel export) and `/assistance/settings` (the due times
//! in force for a region and where they come from; a form to set them). Thin: the rules are
//! in [`super::stats`] and [`super::due_times`].

use askama::Template;
use axum::extract::{Form, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use backstop_core::region::{RegionCode, RegionLevel};
use backstop_core::role::Permission;

use super::due_times::{self, DueTimes, DueTimesInput};
use super::stats::{StatLine, Statistics, StatsQuery};
use super::steps::Beneficiary;
use crate::kernel::auth::Authed;
use crate::kernel::extract::region_param;
use crate::kernel::form::Kept;
use crate::kernel::handler::{PageCaller, RegionQuery};
use crate::kernel::web::{Nav, PageResult, Routes, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/assistance/statistics", get(statistics)),
        ("/assistance/statistics/export.xlsx", get(export)),
        ("/assistance/settings", get(settings).post(save_settings)),
    ]
}

const AREA: &str = "/assistance";

/// One bar of a chart: the line's name, the bar's length (0–100) and the figure shown.
struct Bar {
    name: String,
    width: i64,
    value: String,
}

fn bars(
    lines: &[StatLine],
    value: impl Fn(&StatLine) -> i64,
    shown: impl Fn(i64) -> String,
) -> Vec<Bar> {
    let max = lines.iter().map(&value).max().unwrap_or(0).max(1);
    lines
        .iter()
        .map(|l| Bar {
            name: l.region_name.clone(),
            width: value(l).max(0) * 100 / max,
            value: shown(value(l)),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "assistance_stats.html")]
struct StatsPage {
    nav: Option<Nav>,
    st: Statistics,
    /// `region=…&month=…` of this view, for links.
    query: String,
    persons_chart: Vec<Bar>,
    paid_chart: Vec<Bar>,
    records: Vec<Beneficiary>,
    show_records: bool,
    parent: Option<String>,
}

impl StatsPage {
    fn programme_label(&self, key: &str) -> &'static str {
        backstop_core::Programme::parse(key)
            .map(|p| p.label())
            .unwrap_or("")
    }
    fn status_label(&self, status: &str) -> &'static str {
        match status {
            "active" => "享受中",
            "suspended" => "暂停",
            "exited" => "已退出",
            _ => "",
        }
    }
    fn yuan<T: std::borrow::Borrow<i64>>(&self, fen: T) -> String {
        backstop_core::money::Fen(*fen.borrow()).to_yuan_string()
    }
    fn drill(&self, l: &StatLine) -> String {
        format!(
            "/assistance/statistics?region={}&month={}",
            l.region_code, self.st.month
        )
    }
}

async fn statistics(PageCaller(s, a): PageCaller, Query(q): Query<StatsQuery>) -> PageResult {
    let region = region_param(q.region.as_deref())?;
    let st = super::stats::statistics(&s, &a.actor, region.as_ref(), q.month.as_deref()).await?;
    let level = RegionCode::parse(&st.region_code).ok().map(|c| c.level());
    let show_records = level.is_some_and(|l| l >= RegionLevel::Township);
    let records = if show_records {
        super::stats::records(&s, &a.actor, region.as_ref(), Some(&st.month), None).await?
    } else {
        Vec::new()
    };
    let parent = RegionCode::parse(&st.region_code)
        .ok()
        .and_then(|c| c.parent())
        .filter(|p| a.actor.sees(p))
        .map(|p| p.as_str().to_string());
    let lines = &st.lines;
    let persons_chart = bars(lines, |l| l.persons, |v| format!("{v} 人"));
    let paid_chart = bars(
        lines,
        |l| l.paid_fen + l.other_paid_fen,
        |v| format!("{} 元", backstop_core::money::Fen(v).to_yuan_string()),
    );
    let query = format!("region={}&month={}", st.region_code, st.month);
    Ok(render_status(
        &StatsPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            query,
            persons_chart,
            paid_chart,
            records,
            show_records,
            parent,
            st,
        },
        axum::http::StatusCode::OK,
    ))
}

async fn export(PageCaller(s, a): PageCaller, Query(q): Query<StatsQuery>) -> PageResult {
    let region = region_param(q.region.as_deref())?;
    let (name, bytes) =
        super::stats::export_xlsx(&s, &a.actor, region.as_ref(), q.month.as_deref()).await?;
    Ok(crate::kernel::cells::xlsx_download(&name, bytes))
}

#[derive(Template)]
#[template(path = "assistance_settings.html")]
struct SettingsPage {
    nav: Option<Nav>,
    due: DueTimes,
    /// (input name, Chinese name, days in force)
    steps: Vec<(&'static str, &'static str, String)>,
    can_set: bool,
    form: Kept,
}

async fn settings_page(
    s: &AppState,
    a: &Authed,
    region: Option<&RegionCode>,
    form: Kept,
) -> PageResult {
    let due = due_times::get(s, &a.actor, region).await?;
    let steps = due_times::STEPS
        .iter()
        .map(|(k, l)| (*k, *l, due.settings.days(k).to_string()))
        .collect();
    let can_set = a.actor.can(Permission::AssistanceStandards)
        && RegionCode::parse(&due.region_code).is_ok_and(|c| c.level() <= RegionLevel::County);
    let status = form.status();
    Ok(render_status(
        &SettingsPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            due,
            steps,
            can_set,
            form,
        },
        status,
    ))
}

async fn settings(PageCaller(s, a): PageCaller, Query(q): Query<RegionQuery>) -> PageResult {
    let region = q.region()?;
    settings_page(&s, &a, region.as_ref(), Kept::none()).await
}

fn days(form: &Kept, name: &str) -> i64 {
    // Not a whole number: 0, which the service refuses beside the field.
    form.get(name).trim().parse().unwrap_or(0)
}

async fn save_settings(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("settings", pairs);
    let input = DueTimesInput {
        region_code: form.get("region_code").to_string(),
        verify_days: days(&form, "verify_days"),
        review_days: days(&form, "review_days"),
        publicity_days: days(&form, "publicity_days"),
        approve_days: days(&form, "approve_days"),
        aid_first_days: days(&form, "aid_first_days"),
    };
    let r = due_times::set(&s, &a.actor, &input).await;
    match form.outcome(r)? {
        Ok(d) => Ok(
            Redirect::to(&format!("/assistance/settings?region={}", d.region_code)).into_response(),
        ),
        Err(form) => {
            let region = RegionCode::parse(form.get("region_code")).ok();
            settings_page(&s, &a, region.as_ref(), form).await
        }
    }
}
