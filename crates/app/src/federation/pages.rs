//! The security administrator's page of the links between deployments (`/federation`, issue
//! 20 item 5): at a parent, the child nodes in scope with their last contact and a warning when
//! one is late; at a child, the link to the parent — registered where, queue length, last
//! success, the last error and the events the parent rejected — with the form that registers
//! the parent and a button that syncs now. The rules are in [`super`] and [`super::child`].

use askama::Template;
use axum::extract::{Form, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::Node;
use super::child::{self, LinkStatus};
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageError, PageResult, Routes, render, with_status};

pub fn routes() -> Routes {
    vec![
        ("/federation", get(show)),
        ("/federation/register", post(register)),
        ("/federation/sync", post(sync)),
    ]
}

struct NodeRow {
    n: Node,
    late: bool,
}

#[derive(Template)]
#[template(path = "federation.html")]
struct FederationPage {
    nav: Option<Nav>,
    nodes: Vec<NodeRow>,
    link: LinkStatus,
    parent_url: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoneQuery {
    done: Option<String>,
    synced: Option<String>,
}

async fn page(
    s: &crate::state::AppState,
    a: &crate::kernel::auth::Authed,
    parent_url: String,
    error: Option<String>,
    notice: Option<String>,
) -> Result<FederationPage, PageError> {
    a.actor.require(Permission::SecurityManage)?;
    let now = s.now_ms();
    let nodes = super::list(s, &a.actor)
        .await?
        .into_iter()
        .map(|n| NodeRow {
            late: super::is_late(&n, now),
            n,
        })
        .collect();
    let link = child::status(s, &a.actor).await?;
    Ok(FederationPage {
        nav: Some(Nav::for_actor(&a.actor, "/federation")),
        nodes,
        parent_url: if parent_url.is_empty() {
            link.parent_url.clone()
        } else {
            parent_url
        },
        link,
        error,
        notice,
    })
}

async fn show(PageCaller(s, a): PageCaller, Query(q): Query<DoneQuery>) -> PageResult {
    let notice = match (q.done.as_deref(), q.synced) {
        (Some("registered"), _) => Some("已登记上级部署，待上报的数据将自动同步。".to_string()),
        (Some("synced"), Some(m)) => Some(crate::kernel::web::clip(&m, 200)),
        _ => None,
    };
    Ok(render(&page(&s, &a, String::new(), None, notice).await?))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RegisterForm {
    parent_url: String,
    credential: String,
    ca_pem: String,
}

async fn register(PageCaller(s, a): PageCaller, Form(f): Form<RegisterForm>) -> PageResult {
    match child::register(&s, &a.actor, &f.parent_url, &f.credential, Some(&f.ca_pem)).await {
        Ok(_) => Ok(Redirect::to("/federation?done=registered").into_response()),
        Err(e) if matches!(e.code.http_status(), 404 | 409 | 422) => {
            let status = e.status();
            let p = page(&s, &a, f.parent_url.clone(), Some(e.message), None).await?;
            Ok(with_status(render(&p), status))
        }
        Err(e) => Err(e.into()),
    }
}

async fn sync(PageCaller(s, a): PageCaller) -> PageResult {
    a.actor.require(Permission::SecurityManage)?;
    let r = child::sync_once(&s).await?;
    let msg = match (&r.error, r.registered) {
        (_, false) => "未登记上级部署，无需同步".to_string(),
        (Some(e), _) => format!("同步中断：{e}；待上报 {} 条", r.pending),
        (None, _) => format!(
            "已同步：受理 {} 条，重复 {} 条，拒绝 {} 条；待上报 {} 条",
            r.applied, r.duplicate, r.rejected, r.pending
        ),
    };
    let q = crate::kernel::web::query_string(&[("done", "synced"), ("synced", msg.as_str())]);
    Ok(Redirect::to(&format!("/federation?{q}")).into_response())
}
