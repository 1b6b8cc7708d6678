//! Region pages: `/regions` (the top of the visitor's tree) and `/regions/{code}` (breadcrumb,
//! the region, its children; under a village its grids and, with `RegionsManage`, a form to
//! create one: `POST /regions/{code}/grids`). Everything is read through the scoped service
//! functions, so a region outside the visitor's scope is a 404 page.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::region::{RegionCode, RegionLevel, Scope};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::Region;
use crate::kernel::actor::Actor;
use crate::kernel::error::AppError;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, render, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/regions", get(top)),
        ("/regions/{code}", get(show)),
        ("/regions/{code}/grids", post(create_grid)),
    ]
}

#[derive(Template)]
#[template(path = "regions_show.html")]
struct RegionPage {
    nav: Option<Nav>,
    /// Links above the region shown (the top of the visitor's scope first).
    trail: Vec<Region>,
    /// Breadcrumb starts with 全国 (national visitors only).
    national_root: bool,
    /// `None`: the national top (the list of provinces).
    region: Option<Region>,
    children: Vec<Region>,
    children_title: String,
    is_village: bool,
    can_add_grid: bool,
    can_add_org: bool,
    grid_name: String,
    error: Option<String>,
    created: Option<String>,
}

impl RegionPage {
    fn new(actor: &Actor) -> RegionPage {
        RegionPage {
            nav: Some(Nav::for_actor(actor, "/regions")),
            trail: Vec::new(),
            national_root: matches!(actor.scope, Scope::National),
            region: None,
            children: Vec::new(),
            children_title: String::new(),
            is_village: false,
            can_add_grid: false,
            can_add_org: actor.can(Permission::OrgsManage),
            grid_name: String::new(),
            error: None,
            created: None,
        }
    }
}

/// `/regions`: the provinces for a national visitor, else a redirect to its own region.
async fn top(PageCaller(s, a): PageCaller) -> PageResult {
    let actor = &a.actor;
    match &actor.scope {
        Scope::Region(c) => Ok(Redirect::to(&format!("/regions/{}", c.as_str())).into_response()),
        Scope::National => {
            let mut page = RegionPage::new(actor);
            page.children = super::roots(&s, actor).await?;
            page.children_title = format!("省级区划（{}）", page.children.len());
            page.national_root = false;
            Ok(render(&page))
        }
    }
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    #[serde(default)]
    created: Option<String>,
}

async fn region_page(s: &AppState, actor: &Actor, code: &str) -> Result<RegionPage, AppError> {
    let region = super::get(s, actor, code).await?;
    let parsed = RegionCode::parse(&region.code).map_err(|_| AppError::not_found())?;
    let mut page = RegionPage::new(actor);
    page.trail = super::trail(s, actor, &parsed).await?;
    page.children = super::children(s, actor, &region.code).await?;
    let level = parsed.level();
    page.is_village = level == RegionLevel::Village;
    page.can_add_grid = page.is_village && actor.can(Permission::RegionsManage);
    page.children_title = match level.child() {
        Some(child) => format!("下级{}（{}）", child.label_zh(), page.children.len()),
        None => String::new(),
    };
    page.region = Some(region);
    Ok(page)
}

async fn show(
    PageCaller(s, a): PageCaller,
    Path(code): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ShowQuery>,
) -> PageResult {
    let mut page = region_page(&s, &a.actor, &code).await?;
    // Name the grid just created (only if it really is a child shown here).
    page.created = q
        .created
        .and_then(|c| page.children.iter().find(|r| r.code == c))
        .map(|r| format!("已创建网格“{}”（{}）", r.name, r.code));
    Ok(render(&page))
}

#[derive(Deserialize, Default)]
struct GridForm {
    #[serde(default)]
    name: String,
}

async fn create_grid(
    PageCaller(s, a): PageCaller,
    Path(code): Path<String>,
    Form(f): Form<GridForm>,
) -> PageResult {
    match super::create_grid(&s, &a.actor, &code, &f.name).await {
        Ok(g) => Ok(Redirect::to(&format!("/regions/{code}?created={}", g.code)).into_response()),
        // Not found / forbidden are error pages; validation problems re-show the form.
        Err(e) if matches!(e.status(), StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) => {
            Err(e.into())
        }
        Err(e) => {
            let mut page = region_page(&s, &a.actor, &code).await?;
            page.grid_name = f.name.chars().take(64).collect();
            page.error = Some(e.message.clone());
            Ok(render_status(&page, e.status()))
        }
    }
}
