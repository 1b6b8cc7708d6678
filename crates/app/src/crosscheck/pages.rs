//! Cross-check pages: `/crosscheck?status=open&kind=&region=` lists the conflicts visible to
//! the caller, by kind with counts (and a bar per kind), each with its persons masked and
//! linked to their records; `POST /crosscheck/run` runs the checks over the caller's scope (or
//! a region inside it) and comes back to the list; `POST /crosscheck/{id}/resolve` resolves a
//! conflict with a required note (re-shown with the Chinese message, 422, without one). All
//! reads and writes go through the scoped service functions of `crosscheck`.

use askama::Template;
use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::{ConflictList, ConflictQuery, KINDS, LastRun};
use crate::kernel::auth::Authed;
use crate::kernel::extract::region_param;
use crate::kernel::form::Kept;
use crate::kernel::handler::{PageCaller, PageId};
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, clip, render};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/crosscheck", get(list)),
        ("/crosscheck/run", post(run)),
        ("/crosscheck/{id}/resolve", post(resolve)),
    ]
}

/// A status tab.
struct Tab {
    id: &'static str,
    label: &'static str,
}

const TABS: [Tab; 4] = [
    Tab {
        id: "open",
        label: "待处理",
    },
    Tab {
        id: "resolved",
        label: "已处理",
    },
    Tab {
        id: "cleared",
        label: "已消除",
    },
    Tab {
        id: "all",
        label: "全部",
    },
];

#[derive(Template)]
#[template(path = "crosscheck_list.html")]
struct ListPage {
    nav: Option<Nav>,
    status: String,
    kind: String,
    region: String,
    tabs: &'static [Tab],
    kinds: Vec<(String, String)>,
    list: Option<ConflictList>,
    /// Largest count per kind (the bars' maximum, at least 1).
    max_count: i64,
    last: Option<LastRun>,
    notice: Option<String>,
    error: Option<String>,
    /// The run or resolve form sent from this page, kept with its reason when refused.
    form: Kept,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListForm {
    status: String,
    kind: String,
    region: String,
    ran: String,
    resolved: String,
}

async fn list_page(
    s: &AppState,
    a: &Authed,
    f: ListForm,
    error: Option<(StatusCode, String)>,
    form: Kept,
) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::CrosschecksManage)?;
    let status = match clip(&f.status, 10) {
        x if x.is_empty() => "open".to_string(),
        x => x,
    };
    let kind = clip(&f.kind, 40);
    let region = clip(&f.region, 20);
    let q = ConflictQuery {
        status: Some(status.clone()),
        kind: Some(kind.clone()),
        region: Some(region.clone()),
        limit: Some(100),
        offset: None,
    };
    let listed = match region_param(Some(&region)) {
        Ok(r) => super::list(s, actor, r.as_ref(), &q).await,
        Err(e) => Err(e),
    };
    let (list, err) = match listed {
        Ok(l) => (Some(l), None),
        Err(e) if e.status() == StatusCode::NOT_FOUND => (
            None,
            Some((
                StatusCode::NOT_FOUND,
                format!("区划“{region}”不存在或不在您的管辖范围内"),
            )),
        ),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            (None, Some((e.status(), e.message)))
        }
        Err(e) => return Err(e.into()),
    };
    let max_count = list
        .as_ref()
        .and_then(|l| l.counts.iter().map(|c| c.count).max())
        .unwrap_or(0)
        .max(1);
    let notice = if !f.ran.is_empty() {
        Some("比对完成，结果如下。".to_string())
    } else if !f.resolved.is_empty() {
        Some(format!("已将冲突 {} 标记为已处理。", clip(&f.resolved, 20)))
    } else {
        None
    };
    let (code, error) = match error.or(err) {
        Some((c, m)) => (c, Some(m)),
        None => (StatusCode::OK, None),
    };
    let mut resp = render(&ListPage {
        nav: Some(Nav::for_actor(actor, "/crosscheck")),
        status,
        kind,
        region,
        tabs: &TABS,
        kinds: KINDS
            .iter()
            .map(|(k, l)| ((*k).to_string(), (*l).to_string()))
            .collect(),
        list,
        max_count,
        last: super::last_run(s, actor).await?,
        notice,
        error,
        form,
    });
    *resp.status_mut() = code;
    Ok(resp)
}

async fn list(PageCaller(s, a): PageCaller, Query(f): Query<ListForm>) -> PageResult {
    list_page(&s, &a, f, None, Kept::none()).await
}

async fn run(PageCaller(s, a): PageCaller, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    let form = Kept::input("run", pairs);
    let region = clip(form.get("region"), 20);
    let ran = match region_param(Some(&region)) {
        Ok(r) => super::run_in(&s, &a.actor, r.as_ref()).await,
        Err(e) => Err(e),
    };
    match ran {
        Ok(_) => Ok(Redirect::to("/crosscheck?ran=1").into_response()),
        Err(e)
            if e.status() == StatusCode::NOT_FOUND
                || e.status() == StatusCode::UNPROCESSABLE_ENTITY =>
        {
            let msg = format!("区划“{region}”不存在或不在您的管辖范围内");
            let form = form.refuse_msg(Some("region"), &msg);
            list_page(&s, &a, ListForm::default(), Some((e.status(), msg)), form).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn resolve(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("resolve-{id}"), pairs);
    let note = form.get("note").to_string();
    match form.outcome(super::resolve(&s, &a.actor, id, &note).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/crosscheck?resolved={id}")).into_response()),
        Err(form) => {
            let error = form
                .message()
                .map(|m| (StatusCode::UNPROCESSABLE_ENTITY, format!("冲突 {id}：{m}")));
            list_page(&s, &a, ListForm::default(), error, form).await
        }
    }
}
