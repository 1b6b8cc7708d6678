//! The escalation settings page (`/notifications/escalation`): the rules of the escalation
//! engine (`escalate`) in Chinese, one row per kind (and per form with its own rule), for
//! everyone who reads reports; a national official (`reports.manage`) changes them here. The
//! checks and the audit entry are in `escalate::set_rule`; a refused value keeps what was
//! typed and names the field.

use askama::Template;
use axum::extract::{Form, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use serde::Deserialize;

use super::escalate::{self, RuleInput};
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{DoneQuery, Nav, PageResult, Routes, render, with_status};

pub fn routes() -> Routes {
    vec![("/notifications/escalation", get(show).post(save))]
}

struct Row {
    kind: String,
    label: String,
    repeats: String,
    escalate: String,
    enabled: bool,
    updated_by: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "notify_escalation.html")]
struct EscalationPage {
    nav: Option<Nav>,
    rows: Vec<Row>,
    can_edit: bool,
    notice: Option<&'static str>,
}

async fn rows(
    s: &crate::state::AppState,
    a: &crate::kernel::actor::Actor,
) -> crate::kernel::error::AppResult<Vec<Row>> {
    Ok(escalate::rules(s, a)
        .await?
        .into_iter()
        .map(|r| Row {
            kind: r.kind,
            label: r.label,
            repeats: r
                .repeats
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(","),
            escalate: r.escalate_after_min.to_string(),
            enabled: r.enabled,
            updated_by: r.updated_by,
            error: None,
        })
        .collect())
}

async fn show(PageCaller(s, a): PageCaller, Query(q): Query<DoneQuery>) -> PageResult {
    let rows = rows(&s, &a.actor).await?;
    Ok(render(&EscalationPage {
        nav: Some(Nav::for_actor(&a.actor, "/notifications/escalation")),
        rows,
        can_edit: escalate::may_edit(&a.actor),
        notice: (q.done.as_deref() == Some("saved"))
            .then_some("已保存，新的规则在下一次检查时生效。"),
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RuleForm {
    kind: String,
    repeats: String,
    escalate_after_min: String,
    enabled: Option<String>,
}

async fn save(PageCaller(s, a): PageCaller, Form(f): Form<RuleForm>) -> PageResult {
    let parsed = escalate::parse_minutes(&f.repeats).and_then(|repeats| {
        let escalate_after_min = f.escalate_after_min.trim().parse::<i64>().map_err(|_| {
            crate::kernel::error::AppError::field(
                backstop_core::error::ErrorCode::Validation,
                "escalate_after_min",
                "请填写分钟数",
            )
        })?;
        Ok(RuleInput {
            repeats,
            escalate_after_min,
            enabled: f.enabled.is_some(),
        })
    });
    let result = match parsed {
        Ok(input) => escalate::set_rule(&s, &a.actor, &f.kind, &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/notifications/escalation?done=saved").into_response()),
        Err(e) if e.code == backstop_core::error::ErrorCode::Validation => {
            let mut rows = rows(&s, &a.actor).await?;
            if let Some(r) = rows.iter_mut().find(|r| r.kind == f.kind.trim()) {
                r.repeats = f.repeats.chars().take(60).collect();
                r.escalate = f.escalate_after_min.chars().take(12).collect();
                r.error = Some(e.message.clone());
            }
            Ok(with_status(
                render(&EscalationPage {
                    nav: Some(Nav::for_actor(&a.actor, "/notifications/escalation")),
                    rows,
                    can_edit: escalate::may_edit(&a.actor),
                    notice: None,
                }),
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
        Err(e) => Err(e.into()),
    }
}
