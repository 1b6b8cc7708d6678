//! Events up from a child deployment (issue 20 item 2, ADR 0015 §4): a batch of at most
//! [`MAX_BATCH`] events, each applied at the parent through the parent's own service as the
//! node's actor ([`super::node_actor`]: scope = the node's region, role `federation_node`), so
//! the access layer refuses a unit outside the node's region exactly as it refuses a person, and
//! rollups, missing lists, corrections after a lock and the audit entry are the parent's own.
//! Each event's key becomes the idempotency key `node:<id>:<key>` of the service account: a
//! batch sent again (a cut connection, a retry after days offline) answers `duplicate` for what
//! was applied and counts nothing twice. The answer is per event — `applied`, `duplicate` or
//! `rejected` with a stable code and a Chinese message — and the rejected ones of a batch are
//! recorded in one audit entry at the parent (`federation.events_rejected`); one bad event
//! never stops the others. Every event applied or rejected is logged once (`fed_received`,
//! migration 0057) with the child's stated time beside the parent's receive time.
//!
//! Kinds: `org.upsert` (an organisation of the child, made, corrected or disabled: mapped to
//! one of the parent's, [`crate::orgs::federated`]), `report.submit` (a report submitted or
//! corrected at the child; an organisation's report names the child's id, turned into the
//! parent's) and `incident.acknowledge`
//! (an incident acknowledged at the child, with its handling: found at the parent through the
//! key of the event that brought it, recorded as the node's with the child's handler named in
//! the text), and `figures` (a snapshot of aggregate figures whose records stay at the child:
//! [`super::figures`]).

use backstop_core::error::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Node;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::reports::{self, Outcome, SubmitInput};
use crate::state::AppState;

/// At most this many events in one batch.
pub const MAX_BATCH: usize = 500;

/// Body of `POST /api/v1/federation/events`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct EventBatch {
    pub events: Vec<Event>,
}

/// One event from the child's outbox.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// Unique per node and never reused (the child's outbox key); 1–120 characters.
    pub key: String,
    /// `report.submit` or `incident.acknowledge`.
    pub kind: String,
    /// When the child recorded it (RFC 3339), kept for the record beside the parent's own time.
    #[serde(default)]
    pub created_at: Option<String>,
    /// The kind's body: for `report.submit`, the body of `POST /api/v1/reports`.
    #[schema(value_type = Object)]
    pub body: Value,
}

/// The body of an `incident.acknowledge` event.
#[derive(Debug, Clone, Deserialize)]
struct AckBody {
    /// The child's event key of the incident's own `report.submit`.
    report_key: String,
    handling: String,
    #[serde(default)]
    by: String,
    #[serde(default)]
    at: String,
}

/// What became of one event.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventResult {
    pub key: String,
    /// `applied`, `duplicate` (applied before: nothing done again) or `rejected`.
    pub status: String,
    /// The record the event wrote at the parent (a report's id), when applied or duplicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<i64>,
    /// A rejected event's stable error code and Chinese message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Said of an applied event worth knowing about: a report accepted against an older form
    /// version than the parent's latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The answer to a batch, in the batch's order.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchAnswer {
    pub node_id: i64,
    pub region_code: String,
    pub applied: usize,
    pub duplicate: usize,
    pub rejected: usize,
    pub results: Vec<EventResult>,
}

fn result(key: &str, status: &str, object_id: Option<i64>, e: Option<&AppError>) -> EventResult {
    EventResult {
        key: key.to_string(),
        status: status.to_string(),
        object_id,
        code: e.map(|e| e.code.as_str().to_string()),
        message: e.map(|e| e.message.clone()),
        note: None,
    }
}

/// Apply a batch from `node` as `actor` (its service account). The batch itself is refused
/// (nothing applied) when it is empty, too long, or a key is malformed.
pub async fn apply(
    state: &AppState,
    node: &Node,
    actor: &Actor,
    batch: &EventBatch,
) -> AppResult<BatchAnswer> {
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        return Err(AppError::field(
            ErrorCode::Validation,
            "events",
            format!("每批应有 1–{MAX_BATCH} 条事件"),
        ));
    }
    if let Some(bad) = batch
        .events
        .iter()
        .position(|e| e.key.trim().is_empty() || e.key.chars().count() > 120)
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "events",
            format!("第 {} 条事件的 key 应为 1–120 个字符", bad + 1),
        ));
    }
    let mut results = Vec::with_capacity(batch.events.len());
    for e in &batch.events {
        let r = match apply_one(state, node, actor, e).await {
            Ok((Outcome::Replayed, id, _)) => result(&e.key, "duplicate", Some(id), None),
            Ok((_, id, note)) => EventResult {
                note,
                ..result(&e.key, "applied", Some(id), None)
            },
            // A fault of the parent (not of the event) fails the batch: the child sends it again
            // and what was applied answers `duplicate`.
            Err(err) if matches!(err.code, ErrorCode::Internal | ErrorCode::Busy) => {
                return Err(err);
            }
            Err(err) => result(&e.key, "rejected", None, Some(&err)),
        };
        if r.status != "duplicate" {
            super::queries::received(
                state,
                node,
                e.key.trim(),
                &e.kind,
                &r.status,
                r.object_id,
                r.code.as_deref(),
                e.created_at.as_deref(),
            )
            .await?;
        }
        results.push(r);
    }
    let rejected: Vec<Value> = batch
        .events
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.status == "rejected")
        .map(|(e, r)| {
            json!({"key": e.key, "kind": e.kind, "created_at": e.created_at,
            "code": r.code, "message": r.message})
        })
        .collect();
    if !rejected.is_empty() {
        let tx = Tx::begin(state, actor).await?;
        tx.commit(
            Change::new(
                "federation.events_rejected",
                "fed_node",
                node.id,
                &node.region_code,
            )
            .detail(json!({"rejected": rejected})),
        )
        .await?;
    }
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    Ok(BatchAnswer {
        node_id: node.id,
        region_code: node.region_code.clone(),
        applied: count("applied"),
        duplicate: count("duplicate"),
        rejected: count("rejected"),
        results,
    })
}

/// An event that changed something is `applied`; one that changed nothing, `duplicate`.
fn changed_or_replayed(changed: bool) -> Outcome {
    if changed {
        Outcome::Created
    } else {
        Outcome::Replayed
    }
}

async fn apply_one(
    state: &AppState,
    node: &Node,
    actor: &Actor,
    e: &Event,
) -> AppResult<(Outcome, i64, Option<String>)> {
    match e.kind.as_str() {
        "report.submit" => {
            let input: SubmitInput = serde_json::from_value(e.body.clone()).map_err(|err| {
                AppError::field(
                    ErrorCode::Validation,
                    "body",
                    format!("报表事件格式错误：{err}"),
                )
            })?;
            let mut input = input;
            // An organisation is named by the child's id: the parent's own is the one it became.
            let child_org = match &input.unit {
                Value::Number(n) => n.as_i64(),
                Value::String(u) => u.trim().strip_prefix("org:").and_then(|x| x.parse().ok()),
                _ => None,
            };
            if let Some(child_org) = child_org {
                let org = super::queries::org_map(state, node, child_org)
                    .await?
                    .ok_or_else(|| {
                        AppError::field(
                            ErrorCode::Validation,
                            "unit",
                            "该机构尚未同步到上级部署（机构信息先于其报表上报）",
                        )
                    })?;
                input.unit = Value::from(format!("org:{org}"));
            }
            let key = format!("node:{}:{}", node.id, e.key.trim());
            let (outcome, sub) = reports::submit(state, actor, &input, Some(&key)).await?;
            // Without a version named the latest was used: nothing to say.
            let latest = match input.version {
                Some(_) => reports::load_form(state, &sub.template, None)
                    .await?
                    .map_or(sub.template_version, |f| f.version),
                None => sub.template_version,
            };
            let note = (sub.template_version < latest).then(|| {
                format!(
                    "按下级所用的第 {} 版表单受理（本级现行第 {latest} 版）",
                    sub.template_version
                )
            });
            Ok((outcome, sub.id, note))
        }
        "incident.acknowledge" => {
            let body: AckBody = serde_json::from_value(e.body.clone()).map_err(|err| {
                AppError::field(
                    ErrorCode::Validation,
                    "body",
                    format!("即报确认事件格式错误：{err}"),
                )
            })?;
            let key = format!("node:{}:{}", node.id, body.report_key.trim());
            let inc = reports::incidents::get_by_key(state, actor, &key).await?;
            if inc.ack.as_ref().is_some_and(|a| a.by == actor.username) {
                return Ok((Outcome::Replayed, inc.id, None));
            }
            let handling = format!(
                "{}（{}，{}，经{}上报）",
                body.handling.trim(),
                body.by,
                body.at,
                node.name
            );
            let handling: String = handling.chars().take(1000).collect();
            let inc = reports::incidents::acknowledge(state, actor, inc.id, &handling).await?;
            Ok((Outcome::Created, inc.id, None))
        }
        "figures" => {
            let changed = super::figures::apply(state, node, actor, &e.body).await?;
            Ok((changed_or_replayed(changed), node.id, None))
        }
        "org.upsert" => {
            let o: crate::orgs::federated::NodeOrg = serde_json::from_value(e.body.clone())
                .map_err(|err| {
                    AppError::field(
                        ErrorCode::Validation,
                        "body",
                        format!("机构事件格式错误：{err}"),
                    )
                })?;
            let mapped = super::queries::org_map(state, node, o.id).await?;
            let (org, changed) =
                crate::orgs::federated::take_from_node(state, actor, &o, mapped).await?;
            if mapped.is_none() {
                super::queries::map_org(state, node, o.id, org).await?;
            }
            Ok((changed_or_replayed(changed), org, None))
        }
        other => Err(AppError::field(
            ErrorCode::Validation,
            "kind",
            format!(
                "不支持的事件类型：{}",
                other.chars().take(40).collect::<String>()
            ),
        )),
    }
}
