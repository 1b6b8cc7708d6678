//! The home page of the web shell (`/`: the visitor's scope, its regions by level, the
//! organisations and accounts in it, the alerts to handle) and, in `login`, the login flow.
//! Every area adds its own pages through its `pages` module; this area reads only through the
//! other areas' scoped service functions, so it runs no SQL of its own.

mod login;

use askama::Template;
use axum::routing::get;
use backstop_core::region::Scope;

use crate::kernel::handler::PageCaller;
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, render};
use crate::regions::Region;
use crate::{accounts, orgs, regions};

/// The region levels counted on the home page of a national visitor, in the order shown.
const LEVELS: [&str; 6] = ["province", "city", "county", "township", "village", "grid"];

pub fn routes() -> Routes {
    let mut r = vec![("/", get(home))];
    r.extend(login::routes());
    r
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Option<Nav>,
    scope_name: String,
    scope_code: String,
    display: String,
    roles: String,
    orgs: i64,
    users: i64,
    region_counts: Vec<(&'static str, i64)>,
    children: Vec<Region>,
    entrance_alerts: Vec<crate::entrance::Alert>,
}

async fn home(PageCaller(s, a): PageCaller) -> PageResult {
    let actor = &a.actor;
    let nav = Nav::for_actor(actor, "/");
    let scope_code = actor.scope.as_str().to_string();
    let children = match &actor.scope {
        Scope::National => regions::roots(&s, actor).await.unwrap_or_default(),
        Scope::Region(c) => regions::children(&s, actor, c.as_str())
            .await
            .unwrap_or_default(),
    };
    let mut region_counts = Vec::new();
    let counts = regions::count_by_level(&s, actor, &LEVELS).await?;
    for (level, n) in counts {
        let label = match level.as_str() {
            "province" => "省",
            "city" => "市",
            "county" => "县（区）",
            "township" => "乡镇（街道）",
            "village" => "村（社区）",
            "grid" => "网格",
            _ => continue,
        };
        if n > 0 {
            region_counts.push((label, n));
        }
    }
    Ok(render(&HomePage {
        nav: Some(nav),
        scope_name: regions::scope_name(&s, &scope_code).await?,
        scope_code,
        display: if a.user.display_name.is_empty() {
            a.user.username.clone()
        } else {
            a.user.display_name.clone()
        },
        roles: actor.roles.labels_zh(),
        orgs: orgs::count_in_scope(&s, actor).await?,
        users: accounts::count_in_scope(&s, actor).await?,
        region_counts,
        children,
        entrance_alerts: crate::entrance::alerts_to_handle(&s, actor).await?,
    }))
}
