//! The audit page (`/audit`, auditors only): a GET form of filters (username, action prefix,
//! outcome, from/to dates) over `audit::search`, the entries newest first with the time in
//! Beijing time, and an "older" link that pages backwards with `before_id`.

use askama::Template;
use axum::extract::Query;
use axum::routing::get;
use backstop_core::role::Permission;
use serde::Deserialize;

use super::{AuditQuery, AuditRow};
use crate::kernel::handler::PageCaller;
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, clip, query_string, render};

/// Entries per page.
const PAGE_SIZE: i64 = 50;

pub fn routes() -> Routes {
    vec![("/audit", get(search))]
}

/// The filters as typed (all text, so a malformed value never rejects the request).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Filters {
    username: String,
    action: String,
    outcome: String,
    from: String,
    to: String,
    before_id: String,
}

/// One entry as shown.
struct Line {
    id: i64,
    at: String,
    username: String,
    source: String,
    action: String,
    object: String,
    region_code: String,
    failure: bool,
    outcome: String,
    detail: String,
}

impl From<AuditRow> for Line {
    fn from(r: AuditRow) -> Line {
        let at = chrono::DateTime::parse_from_rfc3339(&r.at)
            .map(|t| backstop_core::clock::format_beijing_secs(t.with_timezone(&chrono::Utc)))
            .unwrap_or_else(|_| r.at.clone());
        let object = match (r.object_type.is_empty(), r.object_id.is_empty()) {
            (true, _) => String::new(),
            (false, true) => r.object_type.clone(),
            (false, false) => format!("{} {}", r.object_type, r.object_id),
        };
        let detail = match &r.detail {
            serde_json::Value::Null => String::new(),
            serde_json::Value::Object(m) if m.is_empty() => String::new(),
            v => v.to_string(),
        };
        Line {
            id: r.id,
            at,
            username: r.username,
            source: r.source,
            action: r.action,
            object,
            region_code: r.region_code,
            failure: r.outcome != "success",
            outcome: match r.outcome.as_str() {
                "success" => "成功".to_string(),
                "failure" => "失败".to_string(),
                other => other.to_string(),
            },
            detail,
        }
    }
}

#[derive(Template)]
#[template(path = "audit_search.html")]
struct SearchPage {
    nav: Option<Nav>,
    f: Filters,
    lines: Vec<Line>,
    /// Link to the next (older) page, if this page is full.
    older: Option<String>,
    /// Link back to the newest entries, when paging.
    paged: bool,
    base_query: String,
}

async fn search(PageCaller(s, a): PageCaller, Query(f): Query<Filters>) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::AuditRead)?;
    let f = Filters {
        username: clip(f.username.trim(), 64),
        action: clip(f.action.trim(), 64),
        outcome: match f.outcome.trim() {
            o @ ("success" | "failure") => o.to_string(),
            _ => String::new(),
        },
        from: clip(f.from.trim(), 10),
        to: clip(f.to.trim(), 10),
        before_id: clip(f.before_id.trim(), 20),
    };
    let before_id = f.before_id.parse::<i64>().ok();
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let q = AuditQuery {
        username: opt(&f.username),
        action: opt(&f.action),
        object_type: None,
        object_id: None,
        outcome: opt(&f.outcome),
        from: opt(&f.from),
        to: opt(&f.to),
        before_id,
        limit: Some(PAGE_SIZE),
    };
    let rows = super::search(&s, actor, &q).await?;
    let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= PAGE_SIZE;
    let last_id = rows.last().map(|r| r.id);
    let base_query = query_string(&[
        ("username", &f.username),
        ("action", &f.action),
        ("outcome", &f.outcome),
        ("from", &f.from),
        ("to", &f.to),
    ]);
    let older = match (full, last_id) {
        (true, Some(id)) => Some(format!(
            "/audit?{}{}before_id={id}",
            base_query,
            if base_query.is_empty() { "" } else { "&" }
        )),
        _ => None,
    };
    Ok(render(&SearchPage {
        nav: Some(Nav::for_actor(actor, "/audit")),
        paged: before_id.is_some(),
        f,
        lines: rows.into_iter().map(Line::from).collect(),
        older,
        base_query,
    }))
}
