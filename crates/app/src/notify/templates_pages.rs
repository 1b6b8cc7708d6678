//! The message templates page (`/notifications/templates`): every template's text in force,
//! the fields it offers and its earlier versions, for everyone who reads reports; a national
//! official (`reports.manage`) saves a new version here. The checks and the audit entry are in
//! `templates::save`; a refused text keeps what was typed and names the field (422). Also the
//! form of the account page's channels section (`/account/channels`).

use askama::Template;
use axum::extract::{Form, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;

use super::templates::{self, TemplateInput};
use crate::kernel::error::AppResult;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{DoneQuery, Nav, PageResult, Routes, render, with_status};

pub fn routes() -> Routes {
    vec![
        ("/notifications/templates", get(show).post(save)),
        ("/account/channels", post(save_channels)),
    ]
}

struct Card {
    tpl: templates::Template,
    fields: String,
    title: String,
    body: String,
    error: Option<String>,
    error_field: String,
}

#[derive(Template)]
#[template(path = "notify_templates.html")]
struct TemplatesPage {
    nav: Option<Nav>,
    cards: Vec<Card>,
    can_edit: bool,
    notice: Option<&'static str>,
}

async fn cards(
    s: &crate::state::AppState,
    a: &crate::kernel::actor::Actor,
) -> AppResult<Vec<Card>> {
    Ok(templates::list(s, a)
        .await?
        .into_iter()
        .map(|t| Card {
            fields: t
                .fields
                .iter()
                .map(|f| format!("{{{}}} {}", f.name, f.label))
                .collect::<Vec<_>>()
                .join("；"),
            title: t.current.title.clone(),
            body: t.current.body.clone(),
            tpl: t,
            error: None,
            error_field: String::new(),
        })
        .collect())
}

fn page(
    a: &crate::kernel::actor::Actor,
    cards: Vec<Card>,
    notice: Option<&'static str>,
) -> TemplatesPage {
    TemplatesPage {
        nav: Some(Nav::for_actor(a, "/notifications/escalation")),
        cards,
        can_edit: super::escalate::may_edit(a),
        notice,
    }
}

async fn show(PageCaller(s, a): PageCaller, Query(q): Query<DoneQuery>) -> PageResult {
    let cards = cards(&s, &a.actor).await?;
    let notice = (q.done.as_deref() == Some("saved"))
        .then_some("已保存为新版本，此后发出的消息使用新文本。");
    Ok(render(&page(&a.actor, cards, notice)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TemplateForm {
    key: String,
    title: String,
    body: String,
}

async fn save(PageCaller(s, a): PageCaller, Form(f): Form<TemplateForm>) -> PageResult {
    let input = TemplateInput {
        title: f.title.clone(),
        body: f.body.clone(),
    };
    match templates::save(&s, &a.actor, &f.key, &input).await {
        Ok(_) => Ok(Redirect::to("/notifications/templates?done=saved").into_response()),
        Err(e) if e.code == backstop_core::error::ErrorCode::Validation => {
            let mut cards = cards(&s, &a.actor).await?;
            if let Some(c) = cards.iter_mut().find(|c| c.tpl.key == f.key) {
                c.title = f.title.chars().take(templates::MAX_TITLE * 2).collect();
                c.body = f.body.chars().take(templates::MAX_BODY * 2).collect();
                c.error_field = e
                    .fields
                    .first()
                    .map(|x| x.field.clone())
                    .unwrap_or_default();
                c.error = Some(e.message.clone());
            }
            Ok(with_status(
                render(&page(&a.actor, cards, None)),
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn save_channels(
    PageCaller(s, a): PageCaller,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let channels = f
        .into_iter()
        .filter(|(k, _)| k == "channels")
        .map(|(_, v)| v)
        .collect();
    super::set_my_channels(&s, &a.actor, &super::ChannelInput { channels }).await?;
    Ok(Redirect::to("/account?done=channels#channels").into_response())
}
