//! The audit page (`/audit`, auditors only): a GET form of filters (username, action prefix,
//! outcome, from/to dates) over `audit::search`, the entries newest first with the time in
//! Beijing time, and an "older" link that pages backwards with `before_id`. Actions, objects and
//! details are shown in Chinese (`audit::labels`); the action filter takes Chinese words (登录);
//! `/audit/export` gives the same search as an Excel file (every cell through
//! `kernel::cells`), itself audited.

use askama::Template;
use axum::extract::Query;
use axum::routing::get;
use backstop_core::role::Permission;
use serde::Deserialize;

use super::{AuditQuery, AuditRow};

use crate::kernel::access::{Change, Tx};
use crate::kernel::error::AppError;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, clip, query_string, render};

/// Entries per page.
const PAGE_SIZE: i64 = 50;

pub fn routes() -> Routes {
    vec![("/audit", get(search)), ("/audit/export", get(export))]
}

/// Entries in one export at most.
const EXPORT_ROWS: i64 = 1000;

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
    action_label: String,
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
            (false, true) => super::labels::object_label(&r.object_type).to_string(),
            (false, false) => format!(
                "{} {}",
                super::labels::object_label(&r.object_type),
                r.object_id
            ),
        };
        let detail = super::labels::detail_text(&r.detail);
        Line {
            id: r.id,
            at,
            username: r.username,
            source: r.source,
            action_label: super::labels::action_label(&r.action).to_string(),
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

/// The filters cleaned, and the search they make.
fn query_of(f: Filters, limit: i64) -> (Filters, AuditQuery) {
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
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let q = AuditQuery {
        username: opt(&f.username),
        action: opt(&f.action),
        object_type: None,
        object_id: None,
        outcome: opt(&f.outcome),
        from: opt(&f.from),
        to: opt(&f.to),
        before_id: f.before_id.parse::<i64>().ok(),
        limit: Some(limit),
    };
    (f, q)
}

async fn search(PageCaller(s, a): PageCaller, Query(f): Query<Filters>) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::AuditRead)?;
    let (f, q) = query_of(f, PAGE_SIZE);
    let before_id = q.before_id;
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

/// The search as an Excel file: the same filters, newest first, at most [`EXPORT_ROWS`].
async fn export(PageCaller(s, a): PageCaller, Query(f): Query<Filters>) -> PageResult {
    use crate::kernel::cells::SafeCells;
    use rust_xlsxwriter::{Format, Workbook};
    let actor = &a.actor;
    actor.require(Permission::AuditRead)?;
    let (_, q) = query_of(f, EXPORT_ROWS);
    let rows = super::search(&s, actor, &q).await?;
    let xerr = |e: rust_xlsxwriter::XlsxError| AppError::internal("xlsx", e);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let bold = Format::new().set_bold();
    let heads = [
        "编号",
        "时间",
        "用户",
        "来源",
        "操作",
        "操作代码",
        "对象",
        "区划",
        "结果",
        "详情",
    ];
    for (col, h) in (0u16..).zip(heads) {
        ws.text(0, col, h, &bold).map_err(xerr)?;
    }
    let n = rows.len();
    for (row, r) in (1u32..).zip(rows) {
        let code = r.action.clone();
        let l = Line::from(r);
        let cells = [
            l.id.to_string(),
            l.at,
            l.username,
            l.source,
            l.action_label,
            code,
            l.object,
            l.region_code,
            l.outcome,
            l.detail,
        ];
        for (col, v) in (0u16..).zip(cells) {
            ws.text_plain(row, col, &v).map_err(xerr)?;
        }
    }
    let bytes = wb.save_to_buffer().map_err(xerr)?;
    let scope = match &actor.scope {
        backstop_core::region::Scope::National => "0".to_string(),
        backstop_core::region::Scope::Region(c) => c.to_string(),
    };
    Tx::begin(&s, actor)
        .await?
        .commit(
            Change::new("audit.export", "audit_log", "", scope.clone())
                .detail(serde_json::json!({"rows": n, "format": "xlsx"})),
        )
        .await?;
    Ok(crate::kernel::cells::xlsx_download(
        &format!("audit-{scope}.xlsx"),
        bytes,
    ))
}
