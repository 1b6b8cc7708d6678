//! The staff page of deliveries (`/notifications/deliveries`): how many messages were queued,
//! sent, delivered and failed under a region, by kind and channel, and the failed ones listed
//! for someone to follow up by phone, each with a button to send it again.

use askama::Template;
use axum::extract::Query;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};

use super::{Delivery, DeliveryFilter, DeliveryState};
use crate::kernel::extract::region_param;
use crate::kernel::handler::{PageCaller, PageId};
use crate::kernel::web::{Nav, PageResult, Routes, render};

pub fn routes() -> Routes {
    vec![
        ("/notifications/deliveries", get(page)),
        ("/notifications/deliveries/{id}/retry", post(retry)),
    ]
}

/// The Chinese name of a notification kind (the code itself when unknown).
pub fn kind_label(kind: &str) -> &str {
    match kind {
        "report_reminder" => "报表催报（到期）",
        "report_chase" => "报表催报（人工）",
        "report_corrected" => "报表被更正",
        "incident" => "即报",
        "entrance_fever" => "卡口发热预警",
        "observation_missed" => "居家观察漏报",
        "observation_fever" => "居家观察发热",
        "person_linked" => "人员关联",
        "security_lookup_burst" => "查询异常",
        "public_code" => "公众验证码",
        "booking_rebook" => "预约改约通知",
        "booking_divorce" => "离婚冷静期提醒",
        "booking_precheck" => "婚姻登记预审结果",
        other => other,
    }
}

/// One line of the counts: a kind and channel with its counts per state.
struct Line {
    kind: String,
    channel: &'static str,
    queued: i64,
    sent: i64,
    delivered: i64,
    failed: i64,
}

struct FailedRow {
    id: i64,
    kind: String,
    channel: &'static str,
    recipient: String,
    phone: String,
    error: String,
    attempts: i64,
    created: String,
}

fn channel_label(c: &str) -> &'static str {
    match c {
        "sms" => "短信",
        "webhook" => "接口推送",
        _ => "其他",
    }
}

#[derive(Template)]
#[template(path = "notify_deliveries.html")]
struct DeliveriesPage {
    nav: Option<Nav>,
    region: String,
    lines: Vec<Line>,
    failed: Vec<FailedRow>,
    total: i64,
    retried: bool,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct PageQuery {
    region: Option<String>,
    retried: Option<String>,
}

async fn page(PageCaller(s, a): PageCaller, Query(q): Query<PageQuery>) -> PageResult {
    let region = region_param(q.region.as_deref())?;
    let counts = super::summary(&s, &a.actor, region.as_ref()).await?;
    let mut lines: Vec<Line> = Vec::new();
    for c in &counts {
        let channel = channel_label(&c.channel);
        let kind = kind_label(&c.kind).to_string();
        let i = match lines
            .iter()
            .position(|l| l.kind == kind && l.channel == channel)
        {
            Some(i) => i,
            None => {
                lines.push(Line {
                    kind,
                    channel,
                    queued: 0,
                    sent: 0,
                    delivered: 0,
                    failed: 0,
                });
                lines.len() - 1
            }
        };
        let l = &mut lines[i];
        match DeliveryState::parse(&c.state) {
            Some(DeliveryState::Queued) => l.queued += c.count,
            Some(DeliveryState::Sent) => l.sent += c.count,
            Some(DeliveryState::Delivered) => l.delivered += c.count,
            Some(DeliveryState::Failed) => l.failed += c.count,
            None => {}
        }
    }
    let failed: Vec<Delivery> = super::deliveries(
        &s,
        &a.actor,
        &DeliveryFilter {
            region: q.region.clone(),
            state: Some("failed".to_string()),
            limit: Some(200),
        },
    )
    .await?;
    let at = |ms: i64| backstop_core::clock::format_beijing(backstop_core::clock::from_millis(ms));
    Ok(render(&DeliveriesPage {
        nav: Some(Nav::for_actor(&a.actor, "/notifications/deliveries")),
        region: region.map(|r| r.as_str().to_string()).unwrap_or_default(),
        total: counts.iter().map(|c| c.count).sum(),
        lines,
        failed: failed
            .into_iter()
            .map(|d| FailedRow {
                id: d.id,
                kind: kind_label(&d.kind).to_string(),
                channel: channel_label(&d.channel),
                recipient: d.recipient,
                phone: d.phone_masked,
                error: d.last_error,
                attempts: d.attempts,
                created: at(d.created_at),
            })
            .collect(),
        retried: q.retried.is_some(),
    }))
}

async fn retry(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    super::retry(&s, &a.actor, id).await?;
    Ok(Redirect::to("/notifications/deliveries?retried=1").into_response())
}
