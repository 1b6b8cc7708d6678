//! Pages of children's cases, phone-first for the children's director: the hub (`/children`:
//! leads to take, cases followed with what is overdue, and the short report form). Rules live
//! in `children`; roles without `children.read` get the not-found page.

use askama::Template;
use axum::extract::{Form, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::{CaseLine, HEALTH, NewCase, REASONS};
use crate::kernel::auth::Authed;
use crate::kernel::form::Kept;
use crate::kernel::handler::{PageCaller, PageId};
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/children", get(hub).post(report)),
        ("/children/cases/{id}/take", post(take)),
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
