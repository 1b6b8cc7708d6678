//! The senders: a generic HTTP webhook and an SMS sender for the usual SMS HTTP API shape,
//! configured by the operator (`backstop serve --webhook-url … --sms-url …`, secrets from the
//! environment or a file, never logged), and a `log-only` sender for development that records
//! that a message would go out, without its text or phone.
//!
//! Both post JSON over HTTP with a timeout and carry the delivery's stable key twice (the
//! `Idempotency-Key` header and the `key` field) so a gateway deduplicates retries. The webhook
//! signs the body: `X-Backstop-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. The SMS body
//! names its fields as the operator's API expects (`--sms-phone-field`, `--sms-text-field`,
//! default `phone` and `content`), with `Authorization: Bearer <token>` when a token is set.
//! The WeChat sender has the same shape: a template message posted to the operator's relay
//! (`--wechat-url`), the recipient (the user's registered mobile, which the relay maps to
//! the official account's user), the template id and the text under configurable field names
//! (`--wechat-user-field`, `--wechat-text-field`, default `touser` and `content`), the token
//! from the environment or a file, never logged.
//! Plain HTTP only: a provider's HTTPS endpoint is reached through a local relay the operator
//! runs (docs/OPERATIONS.md) — no TLS stack is built into the service.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::queries::DueRow;

/// The operator's webhook.
#[derive(Debug, Clone)]
pub struct WebhookGateway {
    pub url: String,
    pub secret: String,
}

/// The operator's SMS HTTP API.
#[derive(Debug, Clone)]
pub struct SmsGateway {
    pub url: String,
    pub token: Option<String>,
    pub phone_field: String,
    pub text_field: String,
}

/// The operator's WeChat template-message relay.
#[derive(Debug, Clone)]
pub struct WechatGateway {
    pub url: String,
    pub token: Option<String>,
    pub template_id: String,
    pub user_field: String,
    pub text_field: String,
}

/// The gateways of this deployment (none by default).
#[derive(Clone, Default)]
pub struct Gateways {
    pub webhook: Option<WebhookGateway>,
    pub sms: Option<SmsGateway>,
    pub wechat: Option<WechatGateway>,
    /// Development: the configured channels "send" to the log (kind, channel, key; no text
    /// or phone). Without a configured channel nothing is dispatched.
    pub log_only: bool,
    /// How long one request may take (default 10 s).
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for Gateways {
    /// Never prints a secret or a token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateways")
            .field("webhook", &self.webhook.as_ref().map(|w| &w.url))
            .field("sms", &self.sms.as_ref().map(|s| &s.url))
            .field("wechat", &self.wechat.as_ref().map(|s| &s.url))
            .field("log_only", &self.log_only)
            .finish()
    }
}

/// Why a send did not go through, and whether trying later may help.
#[derive(Debug, Clone)]
pub struct SendError {
    pub retryable: bool,
    /// A short Chinese description for the delivery list (no personal data).
    pub message: String,
}

impl Gateways {
    /// Is any channel configured?
    pub fn any(&self) -> bool {
        self.webhook.is_some() || self.sms.is_some() || self.wechat.is_some()
    }

    pub fn timeout_ms(&self) -> i64 {
        i64::try_from(self.timeout().as_millis()).unwrap_or(10_000)
    }

    fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(10))
    }

    /// Send one delivery through its channel's gateway. `permit` is the channel's concurrency
    /// slot: it moves into the blocking request and is released when the request ends, not
    /// when this future is dropped — a sender cancelled mid-request (a shutdown, an aborted
    /// step) must not free a slot while its request is still at the gateway.
    pub(super) async fn send(
        &self,
        d: &DueRow,
        phone: Option<&str>,
        secret_text: Option<&str>,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<(), SendError> {
        if d.channel == "in_app" {
            // Nothing to hand on: the message is in the recipient's list already.
            return Ok(());
        }
        if self.log_only {
            tracing::info!(kind = %d.kind, channel = %d.channel, key = %d.dedup_key, "notify (log-only)");
            return Ok(());
        }
        let (url, body, headers) = match d.channel.as_str() {
            "webhook" => {
                let Some(w) = &self.webhook else {
                    return Err(not_configured());
                };
                let body = json!({
                    "key": d.dedup_key, "notification_id": d.notification_id, "kind": d.kind,
                    "region_code": d.region_code, "recipient": d.recipient, "text": d.body,
                })
                .to_string();
                let sig = sign(&w.secret, &body);
                (
                    w.url.clone(),
                    body,
                    vec![("X-Backstop-Signature".to_string(), sig)],
                )
            }
            "sms" => {
                let Some(s) = &self.sms else {
                    return Err(not_configured());
                };
                let Some(phone) = phone else {
                    return Err(no_phone());
                };
                let mut m = serde_json::Map::new();
                m.insert(s.phone_field.clone(), json!(phone));
                m.insert(s.text_field.clone(), json!(secret_text.unwrap_or(&d.body)));
                m.insert("key".to_string(), json!(d.dedup_key));
                (
                    s.url.clone(),
                    serde_json::Value::Object(m).to_string(),
                    bearer(s.token.as_deref()),
                )
            }
            "wechat" => {
                let Some(w) = &self.wechat else {
                    return Err(not_configured());
                };
                let Some(phone) = phone else {
                    return Err(no_phone());
                };
                let mut m = serde_json::Map::new();
                m.insert(w.user_field.clone(), json!(phone));
                m.insert("template_id".to_string(), json!(w.template_id));
                m.insert(w.text_field.clone(), json!(d.body));
                m.insert("key".to_string(), json!(d.dedup_key));
                (
                    w.url.clone(),
                    serde_json::Value::Object(m).to_string(),
                    bearer(w.token.as_deref()),
                )
            }
            _ => return Err(not_configured()),
        };
        let key = d.dedup_key.clone();
        let timeout = self.timeout();
        tokio::task::spawn_blocking(move || {
            let _slot = permit;
            post(&url, &body, &key, &headers, timeout)
        })
        .await
        .unwrap_or_else(|_| {
            Err(SendError {
                retryable: true,
                message: "发送中断".to_string(),
            })
        })
    }
}

/// The `Authorization` header of a token, if any.
fn bearer(token: Option<&str>) -> Vec<(String, String)> {
    token
        .map(|t| vec![("Authorization".to_string(), format!("Bearer {t}"))])
        .unwrap_or_default()
}

fn not_configured() -> SendError {
    SendError {
        retryable: false,
        message: "该渠道未配置网关".to_string(),
    }
}

/// The delivery's phone did not open under the key: never retried.
fn no_phone() -> SendError {
    SendError {
        retryable: false,
        message: "号码无法解密".to_string(),
    }
}

/// `sha256=<hex>` of the body under the secret.
pub fn sign(secret: &str, body: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One blocking POST; the answer's status decides success and whether to retry.
fn post(
    url: &str,
    body: &str,
    key: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<(), SendError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", key);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    match req.send(body) {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match status {
                200..=299 => Ok(()),
                408 | 429 | 500..=599 => Err(SendError {
                    retryable: true,
                    message: format!("网关返回 {status}"),
                }),
                _ => Err(SendError {
                    retryable: false,
                    message: format!("网关拒绝（{status}）"),
                }),
            }
        }
        Err(ureq::Error::Timeout(_)) => Err(SendError {
            retryable: true,
            message: "网关超时".to_string(),
        }),
        Err(_) => Err(SendError {
            retryable: true,
            message: "无法连接网关".to_string(),
        }),
    }
}
