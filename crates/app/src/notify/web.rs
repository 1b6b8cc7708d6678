//! Delivery API: the deliveries of notifications under a region, their counts by kind, channel
//! and state, a gateway's delivery receipt, sending a failed one again; and the escalation
//! rules (read by those who read reports, set by a national official); the message templates
//! and their versions (the same); the caller's own channels.

use axum::extract::{Path, Query};
use serde::Deserialize;

use super::escalate::{Rule, RuleInput};
use super::templates::{Template, TemplateInput};
use super::{ChannelInput, ChannelPrefs, Delivery, DeliveryCount, DeliveryFilter};
use crate::kernel::extract::region_param;
use crate::kernel::handler::api_handler;
use crate::kernel::web::Routes;
use axum::routing::{get, post, put};

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/notifications/deliveries", get(deliveries)),
        ("/api/v1/notifications/deliveries/summary", get(summary)),
        (
            "/api/v1/notifications/deliveries/{id}/delivered",
            post(delivered),
        ),
        ("/api/v1/notifications/deliveries/{id}/retry", post(retry)),
        (
            "/api/v1/notifications/escalation-rules",
            get(escalation_rules),
        ),
        (
            "/api/v1/notifications/escalation-rules/{kind}",
            put(put_escalation_rule),
        ),
        (
            "/api/v1/notifications/channels",
            get(channels).put(put_channels),
        ),
        ("/api/v1/notifications/templates", get(templates)),
        (
            "/api/v1/notifications/templates/{key}",
            get(template).put(put_template),
        ),
    ]
}

/// `?region=` of the summary.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[serde(default)]
pub struct SummaryQuery {
    pub region: Option<String>,
}

api_handler! {
    /// Deliveries of notifications (SMS, webhook) under a region, newest first; phones masked.
    get "/api/v1/notifications/deliveries", tag "reports", ok(Vec<Delivery>),
        params(DeliveryFilter), errors(403, 404, 422);
    fn deliveries(s, a, Query(q): Query<DeliveryFilter>) { super::deliveries(&s, &a.actor, &q).await? }
}

api_handler! {
    /// How many deliveries are queued, sent, delivered and failed, by kind and channel.
    get "/api/v1/notifications/deliveries/summary", tag "reports", ok(Vec<DeliveryCount>),
        params(SummaryQuery), errors(403, 404);
    fn summary(s, a, Query(q): Query<SummaryQuery>) {
        super::summary(&s, &a.actor, region_param(q.region.as_deref())?.as_ref()).await?
    }
}

api_handler! {
    /// The gateway reports a sent message delivered (idempotent).
    post "/api/v1/notifications/deliveries/{id}/delivered", tag "reports", ok(Delivery),
        params(("id" = i64, Path)), errors(403, 404, 409);
    fn delivered(s, a, Path(id): Path<i64>) { super::mark_delivered(&s, &a.actor, id).await? }
}

api_handler! {
    /// Send a failed delivery again from its first attempt.
    post "/api/v1/notifications/deliveries/{id}/retry", tag "reports", ok(Delivery),
        params(("id" = i64, Path)), errors(403, 404, 409);
    fn retry(s, a, Path(id): Path<i64>) { super::retry(&s, &a.actor, id).await? }
}

api_handler! {
    /// The escalation rules in force (催报升级): per kind, when reminders repeat and when a
    /// thing still outstanding escalates to its leader and the level above.
    get "/api/v1/notifications/escalation-rules", tag "reports", ok(Vec<Rule>), errors(403);
    fn escalation_rules(s, a) { super::escalate::rules(&s, &a.actor).await? }
}

api_handler! {
    /// Set the escalation rule of a kind (`report`, `report:<form key>`, `rectification`,
    /// `shortage`, `care_task`): a national official (`reports.manage`). Audited.
    put "/api/v1/notifications/escalation-rules/{kind}", tag "reports", ok(Rule),
        params(("kind" = String, Path)), json(input: RuleInput), errors(403, 422);
    fn put_escalation_rule(s, a, Path(kind): Path<String>) {
        super::escalate::set_rule(&s, &a.actor, &kind, &input).await?
    }
}

api_handler! {
    /// The channels the caller accepts (in-app, SMS, WeChat, webhook) and whether only in-app
    /// messages reach them.
    get "/api/v1/notifications/channels", tag "reports", ok(ChannelPrefs), errors(403);
    fn channels(s, a) { super::my_channels(&s, &a.actor).await? }
}

api_handler! {
    /// Set the channels the caller accepts (in-app is always kept). Audited.
    put "/api/v1/notifications/channels", tag "reports", ok(ChannelPrefs),
        json(input: ChannelInput), errors(403, 422);
    fn put_channels(s, a) { super::set_my_channels(&s, &a.actor, &input).await? }
}

api_handler! {
    /// The message templates: the text in force, the fields each offers, every version.
    get "/api/v1/notifications/templates", tag "reports", ok(Vec<Template>), errors(403);
    fn templates(s, a) { super::templates::list(&s, &a.actor).await? }
}

api_handler! {
    /// One message template with its versions, newest first.
    get "/api/v1/notifications/templates/{key}", tag "reports", ok(Template),
        params(("key" = String, Path)), errors(403, 404);
    fn template(s, a, Path(key): Path<String>) { super::templates::get(&s, &a.actor, &key).await? }
}

api_handler! {
    /// Save a new version of a template (a national official, `reports.manage`); a field the
    /// template does not offer is refused. Audited.
    put "/api/v1/notifications/templates/{key}", tag "reports", ok(Template),
        params(("key" = String, Path)), json(input: TemplateInput), errors(403, 404, 422);
    fn put_template(s, a, Path(key): Path<String>) {
        super::templates::save(&s, &a.actor, &key, &input).await?
    }
}
