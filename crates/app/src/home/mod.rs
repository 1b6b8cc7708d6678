//! The home page of the web shell (`/`): first a to-do list of what needs doing now for the
//! visitor's roles (issue 14, item 9) — today's reports not yet sent, fever alerts and
//! immediate reports to acknowledge, reports corrected by the level above, observations whose
//! check-in is due, rectifications due,
//! units still to chase, roster imports finished — each a link with a count; then the
//! visitor's scope, its regions by level, the organisations and accounts in it. In `login`,
//! the login flow. This area reads only through the other areas' small named interfaces
//! (`reports::todo`, `screening::todo`, `inspections::todo`, `entrance::alerts_to_handle`,
//! the import jobs of the visitor), so it runs no SQL of its own.

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
    todo: Vec<TodoItem>,
}

/// One line of the to-do list: what, how many, where to do it.
struct TodoItem {
    /// A stable id for the line (`todo-reports`, …).
    id: String,
    label: String,
    count: usize,
    href: String,
}

/// How long a finished roster import (or a correction by the level above) stays on the
/// to-do list.
const IMPORT_SHOWN_MS: i64 = 3 * 24 * 3600 * 1000;

/// What needs doing now, for the visitor's roles; only lines with something to do.
async fn todo_list(
    s: &crate::state::AppState,
    actor: &crate::kernel::actor::Actor,
    alerts: usize,
) -> crate::kernel::error::AppResult<Vec<TodoItem>> {
    use crate::kernel::web::encode_query_value as enc;
    let mut out = Vec::new();
    let mut add = |id: String, label: String, count: usize, href: String| {
        if count > 0 {
            out.push(TodoItem {
                id,
                label,
                count,
                href,
            });
        }
    };
    for r in crate::reports::todo::today_reports(s, actor).await? {
        if !r.done {
            add(
                format!("todo-report-{}", r.form_key),
                format!(
                    "今日待报：{} · {}（{} 截止）",
                    r.form_name, r.unit_name, r.deadline
                ),
                1,
                format!(
                    "/reports/fill/{}?unit={}&period={}",
                    enc(&r.form_key),
                    enc(&r.unit),
                    r.period
                ),
            );
        }
    }
    add(
        "todo-alerts".into(),
        "发热预警待处置".into(),
        alerts,
        "#entrance-alerts".into(),
    );
    let incidents = crate::reports::todo::incidents_to_ack(s, actor).await?;
    add(
        "todo-incidents".into(),
        "即报待确认处置".into(),
        incidents,
        "/reports/incidents".into(),
    );
    let now = s.now_ms();
    let corrected =
        crate::reports::todo::notes_since(s, actor, "report_corrected", now - IMPORT_SHOWN_MS)
            .await?;
    add(
        "todo-corrected".into(),
        "本单位报表近日被上级更正，请核对".into(),
        corrected,
        "/reports".into(),
    );
    let due = crate::screening::todo::checkins_due(s, actor).await?;
    add(
        "todo-checkins".into(),
        "居家观察本时段待测温打卡".into(),
        due.len(),
        "/observations".into(),
    );
    let rect = crate::inspections::todo::rectifications_due(s, actor).await?;
    add(
        "todo-rectifications".into(),
        "督导整改待办".into(),
        rect.len(),
        "/inspections/rectifications".into(),
    );
    add(
        "todo-donations".into(),
        "捐赠款物待签收".into(),
        crate::donations::pending_count(s, actor).await?,
        "/donations/pending".into(),
    );
    add(
        "todo-children".into(),
        "困境儿童：待接收线索与逾期事项".into(),
        crate::children::due_total(s, actor).await?,
        "/children".into(),
    );
    add(
        "todo-hotline".into(),
        "热线待办（逾期回访、待接收转介）".into(),
        crate::hotline::referrals::todo_count(s, actor).await?,
        if crate::hotline::hotline_staff(actor) {
            "/hotline"
        } else {
            "/hotline/referrals"
        }
        .into(),
    );
    add(
        "todo-assistance".into(),
        "社会救助待办".into(),
        crate::assistance::todo::due_total(s, actor).await?,
        "/assistance".into(),
    );
    for (key, name, period, n) in crate::reports::todo::missing_today(s, actor).await? {
        add(
            format!("todo-missing-{key}"),
            format!("今日未报单位（{name}），可催报"),
            n,
            format!("/reports/missing?template={}&period={period}", enc(&key)),
        );
    }
    let finished = crate::people::import::jobs::my_jobs(s, actor)
        .await?
        .into_iter()
        .filter(|j| matches!(j.status.as_str(), "done" | "rolled_back" | "failed"))
        .filter(|j| j.finished_at.is_some_and(|t| now - t < IMPORT_SHOWN_MS))
        .count();
    add(
        "todo-imports".into(),
        "名册导入已完成，请查看结果".into(),
        finished,
        "/persons/import".into(),
    );
    Ok(out)
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
    let entrance_alerts = crate::entrance::alerts_to_handle(&s, actor).await?;
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
        todo: todo_list(&s, actor, entrance_alerts.len()).await?,
        entrance_alerts,
    }))
}
