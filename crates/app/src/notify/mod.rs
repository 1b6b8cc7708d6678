//! Delivery of notifications (issue 15, items 1–2): what makes a queued notification reach a
//! phone or another system, and shows when it did not.
//!
//! Areas queue notifications as before (`reports::queue_notification`, in their own write
//! transaction, so a notification exists before the request answers). This area hands them
//! on, in two steps run by a background worker ([`spawn_worker`]) and callable directly (tests,
//! the CLI):
//!
//! 1. [`dispatch`] reads the notifications not yet dispatched and writes one delivery row per
//!    configured channel and recipient — the webhook gets every notification; an SMS goes to
//!    an institution's contact phone (sealed, stored masked) — and marks them dispatched, in
//!    one transaction, so a crash neither loses nor doubles a delivery (a flag, not a cursor
//!    over ids: PostgreSQL may commit ids out of order).
//! 2. [`send_due`] sends the deliveries that are due through the gateways (`gateway`), a
//!    batch at a time: claimed in one write transaction, sent with a bounded number of
//!    requests in flight per channel, recorded in one write transaction (`send`):
//!    `queued → sent` on a 2xx answer; a timeout, a 5xx or a 429 is retried with exponential
//!    back-off (30 s, 1 min, 2 min … at most 1 h) up to [`MAX_ATTEMPTS`], then `failed`; other
//!    4xx fail at once. Each request carries the row's `dedup_key`, stable across retries and
//!    restarts: the hand-off is at-least-once and a gateway that deduplicates on the key sends
//!    one message. `sent → delivered` when the gateway reports it (API).
//!
//! A notification addressed to a user (`user:ID`) goes by SMS and WeChat to the user's
//! registered phone, on the channels the user accepts ([`my_channels`], set on the security
//! page): a user who refuses SMS is not texted, and when no channel outside Backstop remains
//! the delivery list shows an `in_app` row (站内消息) for that user, so nobody wonders. Other
//! recipients (an institution, a unit's leader) have no account and get what is configured.
//!
//! The body is the notification's text, from its template (`templates`, versioned), which
//! carries no health, case or amount detail (the areas give only a masked name and a
//! reference). Lists of deliveries are scoped by region
//! like every read, need `reports.manage`, and show phones masked. With no gateway configured
//! nothing is dispatched and the outbox API stays the way an operator's own gateway reads.

pub mod escalate;
pub mod escalate_pages;
mod gateway;
pub mod pages;
mod queries;
mod send;
pub mod templates;
pub mod templates_pages;
pub mod web;

use std::time::Duration;

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use gateway::{Gateways, SmsGateway, WebhookGateway, WechatGateway, sign};
pub use send::{SendSettings, send_due, send_with};

use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Attempts before a delivery is given up as failed.
pub const MAX_ATTEMPTS: i64 = 8;
/// Notifications read per dispatch step (the send step's batch is [`SendSettings::batch`]).
const BATCH: i64 = 500;
const SECOND_MS: i64 = 1000;

/// A channel a notification can go out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    InApp,
    Sms,
    Wechat,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::InApp,
        Channel::Sms,
        Channel::Wechat,
        Channel::Webhook,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InApp => "in_app",
            Channel::Sms => "sms",
            Channel::Wechat => "wechat",
            Channel::Webhook => "webhook",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Channel::InApp => "站内消息",
            Channel::Sms => "短信",
            Channel::Wechat => "微信",
            Channel::Webhook => "接口推送",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s.trim())
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Queued,
    Sent,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            DeliveryState::Queued,
            DeliveryState::Sent,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            DeliveryState::Queued => "待发送",
            DeliveryState::Sent => "已发送",
            DeliveryState::Delivered => "已送达",
            DeliveryState::Failed => "发送失败",
        }
    }
}

/// One delivery as listed (the phone masked, never the sealed value).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub notification_id: i64,
    pub region_code: String,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub phone_masked: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: String,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub delivered_at: Option<i64>,
}

/// Counts of deliveries by kind, channel and state under a region.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryCount {
    pub kind: String,
    pub channel: String,
    pub state: String,
    pub count: i64,
}

/// What one worker step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// Delivery rows written by dispatch.
    pub dispatched: i64,
    pub sent: i64,
    pub retried: i64,
    pub failed: i64,
}

/// A notification as dispatch reads it.
pub(crate) struct Pending {
    pub id: i64,
    pub region_code: String,
    pub unit: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: i64,
}

/// A notification older than this when first dispatched (queued while no gateway was
/// configured) is marked dispatched without being sent: news of last week is no news.
const STALE_MS: i64 = 24 * 3600 * SECOND_MS;

/// A delivery row to write.
pub(crate) struct NewDelivery {
    pub notification_id: i64,
    pub region_code: String,
    pub kind: String,
    pub channel: Channel,
    pub recipient: String,
    pub phone_enc: Option<Vec<u8>>,
    pub phone_masked: String,
    pub body: String,
    pub dedup_key: String,
}

/// Step 1: turn notifications past the cursor into delivery rows for the configured
/// channels, moving the cursor in the same transaction. Returns the rows written.
pub async fn dispatch(state: &AppState) -> AppResult<i64> {
    let gw = &state.config.gateways;
    if !gw.any() {
        return Ok(0);
    }
    let mut written = 0;
    loop {
        let batch = queries::pending(state, BATCH).await?;
        if batch.is_empty() {
            return Ok(written);
        }
        let mut rows = Vec::new();
        let now = state.now_ms();
        let fresh: Vec<&Pending> = batch
            .iter()
            .filter(|n| now - n.created_at < STALE_MS)
            .collect();
        // The phones of the whole batch in one lookup: an institution's contact for its own
        // notifications, a unit's leader for an escalation (`leader:<unit>`).
        let phones = if gw.sms.is_some() {
            let units: Vec<String> = fresh.iter().filter_map(|n| sms_unit(&n.unit)).collect();
            let mut phones = queries::leader_phones(state, &units).await?;
            phones.extend(queries::keeper_phones(state, &units).await?);
            phones
        } else {
            Default::default()
        };
        let users = {
            let ids: Vec<i64> = fresh.iter().filter_map(|n| user_of(&n.unit)).collect();
            queries::user_targets(state, &ids).await?
        };
        for n in fresh {
            let text = format!("【{}】{}", n.title, n.body);
            let user = user_of(&n.unit).and_then(|id| users.get(&id).map(|u| (id, u)));
            let accepts =
                |c: Channel| user.is_none_or(|(_, u)| accepted(u.channels.as_deref()).contains(&c));
            if let Some((uid, u)) = user {
                rows.extend(user_rows(state, n, uid, u, &text));
            }
            if gw.webhook.is_some() && accepts(Channel::Webhook) {
                rows.push(NewDelivery {
                    notification_id: n.id,
                    region_code: n.region_code.clone(),
                    kind: n.kind.clone(),
                    channel: Channel::Webhook,
                    recipient: format!("unit:{}", n.unit),
                    phone_enc: None,
                    phone_masked: String::new(),
                    body: text.clone(),
                    dedup_key: format!("n{}-webhook", n.id),
                });
            }
            if gw.sms.is_some()
                && let Some(unit) = sms_unit(&n.unit)
                && let Some(phone) = phones.get(&unit)
            {
                let recipient = if n.unit.starts_with("leader:") {
                    format!("leader:{unit}")
                } else {
                    unit.clone()
                };
                let key = recipient.replace(':', "");
                rows.push(NewDelivery {
                    notification_id: n.id,
                    region_code: n.region_code.clone(),
                    kind: n.kind.clone(),
                    channel: Channel::Sms,
                    recipient,
                    phone_enc: Some(state.keys.encrypt(phone.as_bytes())),
                    phone_masked: backstop_core::mask::mask_phone(phone),
                    body: text.clone(),
                    dedup_key: format!("n{}-sms-{key}", n.id),
                });
            }
        }
        let mut w = state.db.begin_write().await?;
        for r in &rows {
            written += queries::insert_delivery(w.conn(), r, now).await?;
        }
        let ids: Vec<i64> = batch.iter().map(|p| p.id).collect();
        queries::mark_dispatched(w.conn(), &ids, now).await?;
        w.commit().await?;
    }
}

/// The user a notification is addressed to (`user:ID`).
fn user_of(unit: &str) -> Option<i64> {
    unit.strip_prefix("user:").and_then(|u| u.parse().ok())
}

/// The channels a stored preference accepts (every channel when never set); in-app always.
fn accepted(stored: Option<&str>) -> Vec<Channel> {
    match stored {
        None => Channel::ALL.to_vec(),
        Some(s) => {
            let mut out: Vec<Channel> = s.split(',').filter_map(Channel::parse).collect();
            if !out.contains(&Channel::InApp) {
                out.insert(0, Channel::InApp);
            }
            out
        }
    }
}

/// The SMS and WeChat rows of a notification addressed to a user: to the user's registered
/// phone on the channels the user accepts. When SMS or WeChat is configured but none of them
/// reaches the user (refused, or no phone), an `in_app` row says so in the delivery list.
fn user_rows(
    state: &AppState,
    n: &Pending,
    uid: i64,
    u: &queries::UserTarget,
    text: &str,
) -> Vec<NewDelivery> {
    let gw = &state.config.gateways;
    let ok = accepted(u.channels.as_deref());
    let phone = u
        .phone_enc
        .as_deref()
        .and_then(|b| state.keys.decrypt(b))
        .and_then(|b| String::from_utf8(b).ok());
    let row = |channel: Channel, phone: Option<&str>| NewDelivery {
        notification_id: n.id,
        region_code: n.region_code.clone(),
        kind: n.kind.clone(),
        channel,
        recipient: format!("user:{uid}"),
        phone_enc: phone.map(|p| state.keys.encrypt(p.as_bytes())),
        phone_masked: phone
            .map(backstop_core::mask::mask_phone)
            .unwrap_or_default(),
        body: text.to_string(),
        dedup_key: format!("n{}-{}-user{uid}", n.id, channel.as_str()),
    };
    let mut out = Vec::new();
    for (channel, configured) in [
        (Channel::Sms, gw.sms.is_some()),
        (Channel::Wechat, gw.wechat.is_some()),
    ] {
        if configured
            && ok.contains(&channel)
            && let Some(p) = phone.as_deref()
        {
            out.push(row(channel, Some(p)));
        }
    }
    if out.is_empty() && (gw.sms.is_some() || gw.wechat.is_some()) {
        out.push(row(Channel::InApp, None));
    }
    out
}

/// The unit whose phone an SMS of a notification goes to: an institution (`org:ID`), one of
/// the four keepers of a home observation (`observation:ID:keeper:N`), or the leader of the
/// unit an escalation names (`leader:org:ID`, `leader:<village code>`).
fn sms_unit(unit: &str) -> Option<String> {
    match unit.strip_prefix("leader:") {
        Some(u) => Some(u.to_string()),
        None => {
            (unit.starts_with("org:") || unit.starts_with("observation:")).then(|| unit.to_string())
        }
    }
}

/// The wait after the `attempts`-th failed attempt: 30 s, doubled per attempt, at most an hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from((attempts - 1).clamp(0, 7)).unwrap_or(7);
    (30 * SECOND_MS * 2_i64.pow(exp)).min(3600 * SECOND_MS)
}

/// One worker step: dispatch, then send what is due.
pub async fn step(state: &AppState) -> AppResult<StepReport> {
    let dispatched = dispatch(state).await?;
    let mut r = send_due(state).await?;
    r.dispatched = dispatched;
    // `/metrics`: what the gateways took, what waits for another try, what was given up.
    let backend = state.db.engine();
    for (result, n) in [
        ("sent", r.sent),
        ("retried", r.retried),
        ("failed", r.failed),
    ] {
        metrics::counter!("backstop_notifications_total", "backend" => backend, "result" => result)
            .increment(u64::try_from(n).unwrap_or(0));
    }
    Ok(r)
}

/// Run [`step`] every few seconds for as long as the service runs (started by `serve` when a
/// gateway is configured). Errors are logged without personal data and the loop goes on.
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match step(&state).await {
                Ok(r) if r.sent + r.failed + r.retried > 0 => {
                    tracing::info!(
                        sent = r.sent,
                        retried = r.retried,
                        failed = r.failed,
                        "notify step"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(code = ?e.code, "notify step failed"),
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
}

/// Filter of the delivery list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct DeliveryFilter {
    /// Region code (default: the caller's whole scope).
    pub region: Option<String>,
    /// queued, sent, delivered or failed.
    pub state: Option<String>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<i64>,
}

use backstop_core::region::RegionCode;

/// Deliveries under a region in the caller's scope, newest first.
pub async fn deliveries(
    state: &AppState,
    actor: &Actor,
    filter: &DeliveryFilter,
) -> AppResult<Vec<Delivery>> {
    actor.require(Permission::ReportsManage)?;
    let region = crate::kernel::extract::region_param(filter.region.as_deref())?;
    let scope = actor.within_opt(region.as_ref())?;
    let st = match filter.state.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(DeliveryState::parse(s).ok_or_else(|| {
            AppError::field(
                ErrorCode::Validation,
                "state",
                "状态应为 待发送、已发送、已送达 或 发送失败",
            )
        })?),
        None => None,
    };
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    queries::list(state, &scope, st, limit).await
}

/// Counts by kind, channel and state under a region in the caller's scope.
pub async fn summary(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<Vec<DeliveryCount>> {
    actor.require(Permission::ReportsManage)?;
    let scope = actor.within_opt(region)?;
    queries::counts(state, &scope).await
}

/// The gateway reported a message delivered (`sent → delivered`, idempotent). Audited.
pub async fn mark_delivered(state: &AppState, actor: &Actor, id: i64) -> AppResult<Delivery> {
    actor.require(Permission::ReportsManage)?;
    let d = queries::get(state, &actor.everywhere(), id).await?;
    if d.state == "delivered" {
        return Ok(d);
    }
    if d.state != "sent" {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "只有已发送的消息才能标记为已送达",
        ));
    }
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    queries::mark_delivered(&mut tx, id, now).await?;
    tx.commit(
        Change::new("notify.delivered", "delivery", id, d.region_code.clone()).detail(json!({})),
    )
    .await?;
    queries::get(state, &actor.everywhere(), id).await
}

/// Send a failed delivery again from the start (a person fixed the number or the gateway).
pub async fn retry(state: &AppState, actor: &Actor, id: i64) -> AppResult<Delivery> {
    actor.require(Permission::ReportsManage)?;
    let scope = actor.everywhere();
    let d = queries::get(state, &scope, id).await?;
    if d.state != "failed" {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "只有发送失败的消息才能重新发送",
        ));
    }
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    queries::requeue(&mut tx, id, now).await?;
    tx.commit(Change::new("notify.retry", "delivery", id, d.region_code.clone()).detail(json!({})))
        .await?;
    queries::get(state, &scope, id).await
}

/// Queue an SMS whose text is a secret (a one-time code) to a phone, in the caller's write
/// transaction: the phone and the text are sealed, the row says only what kind it is. Sent
/// by the next step like any delivery; `key` must be unique per message.
pub async fn queue_secret_sms(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    phone: &str,
    kind: &str,
    text: &str,
    key: &str,
) -> AppResult<()> {
    queries::insert_secret_sms(
        conn,
        state.keys.encrypt(phone.as_bytes()),
        &backstop_core::mask::mask_phone(phone),
        kind,
        state.keys.encrypt(text.as_bytes()),
        key,
        state.now_ms(),
    )
    .await
}

/// The channels a user accepts, as shown on the security page and the API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelPrefs {
    /// `in_app`, `sms`, `wechat`, `webhook` (in-app always).
    pub channels: Vec<String>,
    /// Has the user chosen (else every channel is accepted)?
    pub chosen: bool,
    /// No SMS or WeChat reaches the user (refused, or no registered phone): messages stay
    /// in Backstop.
    pub in_app_only: bool,
    /// The registered phone, masked (empty: none).
    pub phone_masked: String,
}

/// Body of `PUT /api/v1/notifications/channels`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ChannelInput {
    /// Any of `in_app`, `sms`, `wechat`, `webhook`; in-app is kept whatever is sent.
    pub channels: Vec<String>,
}

/// One checkbox of the channels section of the account page.
pub struct ChannelRow {
    pub id: &'static str,
    pub label: &'static str,
    pub checked: bool,
    /// In-app is always on (shown checked and disabled).
    pub fixed: bool,
}

/// The checkboxes of the channels section.
pub fn channel_rows(p: &ChannelPrefs) -> Vec<ChannelRow> {
    Channel::ALL
        .into_iter()
        .map(|c| ChannelRow {
            id: c.as_str(),
            label: c.label_zh(),
            checked: p.channels.iter().any(|x| x == c.as_str()),
            fixed: c == Channel::InApp,
        })
        .collect()
}

fn own_user(actor: &Actor) -> AppResult<i64> {
    actor
        .user_id
        .ok_or_else(|| AppError::msg(ErrorCode::Forbidden, "只有登录的用户才能设置自己的接收渠道"))
}

/// The caller's own channels.
pub async fn my_channels(state: &AppState, actor: &Actor) -> AppResult<ChannelPrefs> {
    let uid = own_user(actor)?;
    let stored = queries::user_channels(state, uid).await?;
    let phone_masked = queries::user_phone_masked(state, uid).await?;
    let channels = accepted(stored.as_deref());
    Ok(ChannelPrefs {
        in_app_only: phone_masked.is_empty()
            || !channels
                .iter()
                .any(|c| matches!(c, Channel::Sms | Channel::Wechat)),
        channels: channels.iter().map(|c| c.as_str().to_string()).collect(),
        chosen: stored.is_some(),
        phone_masked,
    })
}

/// Set the caller's own channels (audited); an unknown channel is refused in Chinese.
pub async fn set_my_channels(
    state: &AppState,
    actor: &Actor,
    input: &ChannelInput,
) -> AppResult<ChannelPrefs> {
    let uid = own_user(actor)?;
    let mut chosen = vec![Channel::InApp];
    for c in &input.channels {
        let ch = Channel::parse(c).ok_or_else(|| {
            AppError::field(
                ErrorCode::Validation,
                "channels",
                format!("没有这种渠道：{c}（可选：站内消息 in_app、短信 sms、微信 wechat、接口推送 webhook）"),
            )
        })?;
        if !chosen.contains(&ch) {
            chosen.push(ch);
        }
    }
    chosen.sort_by_key(|c| Channel::ALL.iter().position(|a| a == c));
    let list = chosen
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let before = my_channels(state, actor).await?;
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    queries::put_user_channels(&mut tx, uid, &list, now).await?;
    tx.commit(
        Change::new("notify.channels", "user", uid, actor.scope.as_str()).detail(json!({
            "before": before.channels, "after": list.split(',').collect::<Vec<_>>(),
        })),
    )
    .await?;
    my_channels(state, actor).await
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_from_half_a_minute_to_an_hour() {
        let waits: Vec<i64> = (1..=9).map(|a| backoff_ms(a) / 1000).collect();
        assert_eq!(waits, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
