//! The send step ([`send_due`]): the due deliveries handed to the gateways in batches.
//!
//! A batch of up to [`SendSettings::batch`] due deliveries is read, then **claimed in one
//! write transaction** (each row's next attempt moved to a lease past the batch's worst case,
//! so a second worker leaves them alone and a crash in the middle only delays them until the
//! lease runs out — then they are sent again with the same key, and a gateway that
//! deduplicates on it delivers one message). The claimed rows are **sent concurrently**, at
//! most [`SendSettings::concurrency`] requests in flight per channel (the webhook, the SMS
//! API and the WeChat relay are different services with their own limits), and their
//! outcomes are **recorded in one write transaction** per batch, with exactly the rules of
//! one-at-a-time sending: `queued → sent` on a 2xx answer; a timeout, a 5xx or a 429 retried
//! after [`backoff_ms`](super::backoff_ms) up to [`MAX_ATTEMPTS`](super::MAX_ATTEMPTS), then
//! `failed`; other 4xx `failed` at once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::queries::{self, Outcome};
use super::{MAX_ATTEMPTS, SECOND_MS, StepReport, backoff_ms};
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// How the sender works through the due deliveries (`backstop serve --notify-batch …
/// --notify-concurrency …`, docs/OPERATIONS.md).
#[derive(Debug, Clone, Copy)]
pub struct SendSettings {
    /// Deliveries claimed, sent and recorded together (default 500).
    pub batch: i64,
    /// Requests in flight at once per channel (default 8).
    pub concurrency: usize,
}

impl Default for SendSettings {
    fn default() -> Self {
        SendSettings {
            batch: 500,
            concurrency: 8,
        }
    }
}

impl SendSettings {
    /// The settings with both numbers at least 1.
    fn sane(self) -> Self {
        SendSettings {
            batch: self.batch.max(1),
            concurrency: self.concurrency.max(1),
        }
    }
}

/// A claimed delivery with its phone and secret text opened.
struct Claimed {
    d: queries::DueRow,
    phone: Option<String>,
    secret: Option<String>,
}

/// Send one batch of the deliveries that are due (see the module documentation), with the
/// service's settings (`Config::sender`).
pub async fn send_due(state: &AppState) -> AppResult<StepReport> {
    send_with(state, state.config.sender).await
}

/// [`send_due`] with other settings (the benchmark compares them in one run).
pub async fn send_with(state: &AppState, settings: SendSettings) -> AppResult<StepReport> {
    let settings = settings.sane();
    let gw = Arc::new(state.config.gateways.clone());
    let mut report = StepReport::default();
    let now = state.now_ms();
    let due = queries::due(state, now, settings.batch).await?;
    if due.is_empty() {
        return Ok(report);
    }
    // Messages to one recipient on one channel go out one after the other, in the order they
    // fell due (a second one-time code arrives after the first); different recipients in
    // parallel.
    let mut groups: Vec<Vec<Claimed>> = Vec::new();
    let mut group_of: HashMap<(String, String), usize> = HashMap::new();
    let mut per_channel: HashMap<String, i64> = HashMap::new();
    for d in due {
        let open = |b: &Option<Vec<u8>>| {
            b.as_deref()
                .and_then(|b| state.keys.decrypt(b))
                .and_then(|b| String::from_utf8(b).ok())
        };
        let phone = open(&d.phone_enc);
        let secret = open(&d.body_enc);
        *per_channel.entry(d.channel.clone()).or_default() += 1;
        let who = (
            d.channel.clone(),
            phone.clone().unwrap_or_else(|| d.recipient.clone()),
        );
        let i = *group_of.entry(who).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[i].push(Claimed { d, phone, secret });
    }
    // The lease covers the batch's worst case: every request timing out, the busiest channel
    // `concurrency` at a time (or its longest line of messages to one recipient), and one
    // timeout more.
    let conc = i64::try_from(settings.concurrency).unwrap_or(i64::MAX);
    let busiest = per_channel.values().copied().max().unwrap_or(1);
    let longest = groups
        .iter()
        .map(|g| i64::try_from(g.len()).unwrap_or(i64::MAX))
        .max()
        .unwrap_or(1);
    let waves = ((busiest + conc - 1) / conc).max(longest);
    let lease = now + gw.timeout_ms().saturating_mul(waves + 1) + SECOND_MS;
    let rows: Vec<&queries::DueRow> = groups.iter().flatten().map(|c| &c.d).collect();
    let held: HashSet<i64> = queries::claim(state, &rows, now, lease)
        .await?
        .into_iter()
        .collect();
    for g in &mut groups {
        g.retain(|c| held.contains(&c.d.id));
    }
    let mut limits: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    for group in groups {
        let Some(first) = group.first() else {
            continue;
        };
        let limit = limits
            .entry(first.d.channel.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(settings.concurrency)))
            .clone();
        let gw = gw.clone();
        let state = state.clone();
        tasks.spawn(async move {
            let mut out = Vec::with_capacity(group.len());
            for c in group {
                let outcome = match limit.clone().acquire_owned().await {
                    Ok(permit) => {
                        gw.send(&c.d, c.phone.as_deref(), c.secret.as_deref(), permit)
                            .await
                    }
                    Err(_) => Err(super::gateway::SendError {
                        retryable: true,
                        message: "发送中断".to_string(),
                    }),
                };
                out.push((c.d, outcome, state.now_ms()));
            }
            out
        });
    }

    let mut outcomes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        // A task that panicked took its deliveries with it: it stays claimed and is sent again
        // when the lease runs out.
        let Ok(sent) = done else {
            continue;
        };
        for (d, outcome, at) in sent {
            let attempts = d.attempts + 1;
            let outcome = match outcome {
                Ok(()) => {
                    report.sent += 1;
                    Outcome::Sent { at }
                }
                Err(e) if e.retryable && attempts < MAX_ATTEMPTS => {
                    report.retried += 1;
                    Outcome::Retry {
                        error: e.message,
                        at: at + backoff_ms(attempts),
                    }
                }
                Err(e) => {
                    report.failed += 1;
                    Outcome::Failed { error: e.message }
                }
            };
            outcomes.push((d.province, d.id, attempts, outcome));
        }
    }
    queries::record(state, &outcomes).await?;
    Ok(report)
}
