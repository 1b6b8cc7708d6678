//! The child's side of federation (issue 20 items 1, 2 and 5; ADR 0015): registering the
//! parent with the credential its security administrator issued ([`register`], checked against
//! the parent's `whoami` before anything is stored), the outbox that other areas append to in
//! their own write job ([`push_report`], only while a parent is registered), and the sync that
//! sends it up in batches of [`BATCH`] ([`sync_once`]: run by the service every
//! [`SYNC_EVERY_MS`] and by `backstop node sync`). An outage leaves events pending — the sync
//! resumes from them, and the parent's idempotency keys make a batch sent twice count once;
//! a rejected event is kept with the parent's reason and not sent again.
//!
//! The child always calls, so a node behind a proxy or without inbound access works. Between
//! deployments the link is HTTPS: the client carries rustls with the public roots, and a
//! province whose certificate comes from its own CA gives that CA's certificate (PEM) at
//! registration (`--ca-file`), which is then the only root trusted for the parent. Plain
//! `http://` stays accepted for a parent on the same machine or behind a local TLS proxy.

use std::time::Duration;

use backstop_core::clock::rfc3339;
use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use backstop_store::Script;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::events::{BatchAnswer, EventResult};
use super::queries::child as q;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Events per batch sent up.
pub const BATCH: i64 = 500;
/// How often the service syncs while a parent is registered.
pub const SYNC_EVERY_MS: i64 = 30_000;
/// A request to the parent gives up after this long (the next sync tries again).
const TIMEOUT: Duration = Duration::from_secs(30);

/// What `whoami` answers: the node a credential belongs to at the parent.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WhoAmI {
    pub node_id: i64,
    pub region_code: String,
    pub region_name: String,
    pub name: String,
}

/// An event the parent rejected, as the child shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RejectedEvent {
    pub event_key: String,
    pub kind: String,
    pub created_at: String,
    pub code: String,
    pub message: String,
}

/// The state of the link to the parent.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct LinkStatus {
    pub registered: bool,
    pub parent_url: String,
    pub node_id: i64,
    pub region_code: String,
    pub node_name: String,
    pub registered_by: String,
    pub registered_at: Option<String>,
    pub last_attempt_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// Events waiting to go up, acknowledged, and rejected by the parent.
    pub pending: i64,
    pub sent: i64,
    pub rejected: i64,
    /// The most recent rejected events (at most 50).
    pub rejected_recent: Vec<RejectedEvent>,
    /// The parent is reached over HTTPS; `custom_ca`: checked against the CA given at
    /// registration rather than the public roots.
    pub tls: bool,
    pub custom_ca: bool,
}

/// What one sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub registered: bool,
    pub batches: usize,
    pub applied: usize,
    pub duplicate: usize,
    pub rejected: usize,
    /// Still pending after the sync.
    pub pending: i64,
    /// Report form versions taken from the parent.
    pub forms: usize,
    /// Assistance standards and emergency periods taken (new or changed) from the parent.
    pub standards: usize,
    pub emergencies: usize,
    /// Public information pages taken (new or changed) from the parent.
    pub public_pages: usize,
    /// Screening campaigns taken (new) from the parent.
    pub campaigns: usize,
    /// Why the sync stopped early (the parent unreachable, the credential refused…).
    pub error: Option<String>,
}

fn field(f: &str, m: impl Into<String>) -> AppError {
    AppError::field(ErrorCode::Validation, f, m)
}

fn check_url(url: &str) -> AppResult<String> {
    let u = url.trim().trim_end_matches('/');
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .unwrap_or_default();
    if rest.is_empty() || rest.contains(char::is_whitespace) || u.chars().count() > 300 {
        return Err(field(
            "parent_url",
            "上级部署的地址应为 https://主机[:端口]（本机或本机 TLS 代理可用 http://）",
        ));
    }
    Ok(u.to_string())
}

/// The certificates of a PEM text (a CA the parent's HTTPS is checked against).
fn ca_certs(pem: &str) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let certs: Vec<_> = ureq::tls::parse_pem(pem.as_bytes())
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err("根证书应为 PEM 格式的证书（-----BEGIN CERTIFICATE-----）".to_string());
    }
    Ok(certs)
}

/// One blocking HTTP call to the parent, off the async threads; over HTTPS the parent's
/// certificate is checked against `ca` (PEM) when given, else the public roots.
async fn call(
    method: &'static str,
    url: String,
    credential: String,
    body: Option<Value>,
    ca: Option<String>,
) -> Result<(u16, String), String> {
    tokio::task::spawn_blocking(move || {
        let roots = match ca.as_deref() {
            Some(pem) => ureq::tls::RootCerts::new_with_certs(&ca_certs(pem)?),
            None => ureq::tls::RootCerts::WebPki,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
            .build()
            .into();
        let auth = format!("Node {credential}");
        let resp = match (method, body) {
            ("POST", Some(b)) => agent.post(&url).header("Authorization", &auth).send_json(b),
            _ => agent.get(&url).header("Authorization", &auth).call(),
        };
        let mut resp = resp.map_err(|e| {
            let e = e.to_string();
            let hint = if e.contains("certificate") || e.contains("Certificate") {
                "（上级部署的证书不受信任：上级使用自建 CA 时，登记时须提供其根证书）"
            } else {
                ""
            };
            format!("无法连接上级部署：{e}{hint}")
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| format!("读取上级部署的回复失败：{e}"))?;
        Ok((status, text))
    })
    .await
    .map_err(|e| format!("同步任务失败：{e}"))?
}

/// The parent's message in an error answer, else the status.
fn refusal(status: u16, text: &str) -> String {
    let msg = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_default();
    format!("上级部署拒绝（HTTP {status}）：{msg}")
}

/// Register the parent (`security.manage`): the credential is checked with the parent's
/// `whoami` first, and the node's region must be one this deployment knows and the actor sees.
/// Replaces a previous registration; the outbox is kept.
pub async fn register(
    state: &AppState,
    actor: &Actor,
    parent_url: &str,
    credential: &str,
    ca_pem: Option<&str>,
) -> AppResult<LinkStatus> {
    actor.require(Permission::SecurityManage)?;
    let url = check_url(parent_url)?;
    let cred = credential.trim();
    if !cred.starts_with("bsn_") || cred.len() > 200 {
        return Err(field("credential", "节点凭据格式错误（应以 bsn_ 开头）"));
    }
    let ca = ca_pem.map(str::trim).filter(|p| !p.is_empty());
    if let Some(pem) = ca {
        if pem.len() > 64 * 1024 {
            return Err(field("ca_pem", "根证书过大（不超过 64 KB）"));
        }
        ca_certs(pem).map_err(|e| field("ca_pem", e))?;
    }
    let (status, text) = call(
        "GET",
        format!("{url}/api/v1/federation/whoami"),
        cred.to_string(),
        None,
        ca.map(str::to_string),
    )
    .await
    .map_err(|e| field("parent_url", e))?;
    if status != 200 {
        return Err(field("credential", refusal(status, &text)));
    }
    let who: WhoAmI = serde_json::from_str(&text)
        .map_err(|_| field("parent_url", "该地址不是 Backstop 上级部署"))?;
    crate::regions::existing_in_scope(state, actor, "credential", &who.region_code).await?;
    let orgs = crate::orgs::federated::all_in(state, actor, &who.region_code).await?;
    let mut tx = Tx::begin(state, actor).await?;
    let parent = q::NewParent {
        url: &url,
        node_id: who.node_id,
        credential: cred,
        region: &who.region_code,
        name: &who.name,
        by: &actor.username,
        ca_pem: ca,
    };
    q::set_parent(&mut tx, &state.keys, &parent).await?;
    // The organisations kept so far go up first, so that their reports find them.
    for o in &orgs {
        let body = serde_json::to_string(o).unwrap_or_default();
        push_org(&mut tx, &state.keys, o.id, &o.org.region_code, &body).await?;
    }
    tx.commit(
        Change::new(
            "federation.parent_register",
            "fed_parent",
            1,
            &who.region_code,
        )
        .detail(
            json!({"parent_url": url, "node_id": who.node_id, "node_name": who.name,
            "custom_ca": ca.is_some()}),
        ),
    )
    .await?;
    status_of(state).await
}

/// The link's state (`security.manage`).
pub async fn status(state: &AppState, actor: &Actor) -> AppResult<LinkStatus> {
    actor.require(Permission::SecurityManage)?;
    status_of(state).await
}

async fn status_of(state: &AppState) -> AppResult<LinkStatus> {
    let (pending, sent, rejected) = q::counts(state).await?;
    let rejected_recent = q::rejected(state, 50)
        .await?
        .into_iter()
        .map(|r| RejectedEvent {
            event_key: r.event_key,
            kind: r.kind,
            created_at: rfc3339(r.created_at),
            code: r.result_code.unwrap_or_default(),
            message: r.result_message.unwrap_or_default(),
        })
        .collect();
    let base = LinkStatus {
        pending,
        sent,
        rejected,
        rejected_recent,
        ..LinkStatus::default()
    };
    Ok(match q::parent(state).await? {
        None => base,
        Some(p) => LinkStatus {
            registered: true,
            tls: p.parent_url.starts_with("https://"),
            custom_ca: p.ca_pem.is_some(),
            parent_url: p.parent_url,
            node_id: p.node_id,
            region_code: p.region_code,
            node_name: p.node_name,
            registered_by: p.registered_by,
            registered_at: Some(rfc3339(p.registered_at)),
            last_attempt_at: p.last_attempt_at.map(rfc3339),
            last_success_at: p.last_success_at.map(rfc3339),
            last_error: p.last_error,
            last_error_at: p.last_error_at.map(rfc3339),
            ..base
        },
    })
}

/// Append a report submitted or corrected here to the outbox, inside the submission's own
/// write job (`event_key` `report:<id>:<n>`, n the correction count). An organisation's report
/// names it by this deployment's id; the parent turns it into its own
/// ([`crate::orgs::federated`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn push_report(
    script: &mut Script,
    keys: &KeyRing,
    report_id: i64,
    corrections: i64,
    template: &str,
    version: i64,
    unit: &str,
    region: &str,
    period: &str,
    values: &serde_json::Map<String, Value>,
    now: i64,
) {
    // The version it was filled against: the parent accepts it against that version even if it
    // has a newer one the child has not yet received (and says so).
    let body = json!({"template": template, "unit": unit, "period": period, "values": values,
        "version": version});
    q::push_outbox(
        script,
        keys,
        &backstop_core::region::province_of(region),
        &format!("report:{report_id}:{corrections}"),
        "report.submit",
        &body.to_string(),
        now,
    );
}

/// Append the acknowledgement of an incident made here to the outbox, in the acknowledgement's
/// own transaction (`event_key` `incident_ack:<id>`): the parent finds the incident by the key
/// of the event that brought it (ids differ between deployments) and records the handling with
/// who did it here.
pub(crate) async fn push_incident_ack(
    tx: &mut Tx,
    keys: &KeyRing,
    inc: &crate::reports::incidents::Incident,
    by: &str,
    handling: &str,
) -> AppResult<()> {
    // The incident's own event key (an immediate report is never corrected: `:0`).
    let body = json!({"report_key": format!("report:{}:0", inc.id), "unit": inc.unit,
        "period": inc.period, "handling": handling, "by": by, "at": rfc3339(tx.now())});
    q::push_outbox_tx(
        tx,
        keys,
        &backstop_core::region::province_of(&inc.region_code),
        &format!("incident_ack:{}", inc.id),
        "incident.acknowledge",
        &body.to_string(),
    )
    .await
}

/// Append an organisation made, corrected or disabled here to the outbox, in the change's own
/// transaction (`event_key` `org:<id>:<time>:<random>`: one per change; see
/// [`crate::orgs::federated`]).
pub(crate) async fn push_org(
    tx: &mut Tx,
    keys: &KeyRing,
    id: i64,
    region: &str,
    body: &str,
) -> AppResult<()> {
    let key = format!("org:{id}:{}:{:08x}", tx.now(), rand::random::<u32>());
    q::push_outbox_tx(
        tx,
        keys,
        &backstop_core::region::province_of(region),
        &key,
        "org.upsert",
        body,
    )
    .await
}

/// Send what is pending, oldest first, in batches of [`BATCH`], until nothing is left or the
/// parent cannot be reached. Each acknowledged event is marked `sent` (applied or duplicate) or
/// `rejected` with the parent's reason; a failure leaves the rest pending for the next sync.
pub async fn sync_once(state: &AppState) -> AppResult<SyncReport> {
    let Some(p) = q::parent(state).await? else {
        return Ok(SyncReport::default());
    };
    let mut r = SyncReport {
        registered: true,
        ..SyncReport::default()
    };
    // Down first: the forms the parent owns (a submission then uses the parent's latest), then
    // its policy, public pages and campaigns; the first failure stops the rest.
    let down = async {
        take_forms(state, &p, &mut r).await?;
        take_policy(state, &p, &mut r).await?;
        take_public(state, &p, &mut r).await?;
        take_campaigns(state, &p, &mut r).await
    };
    if let Err(e) = down.await {
        r.error = Some(e);
    }
    // The aggregate figures of this month, queued when they changed, go up with the events.
    if let Err(e) = super::figures::queue_snapshots(state, &p.region_code).await {
        tracing::warn!(code = e.code.as_str(), "federation figures not computed");
    }
    let url = format!("{}/api/v1/federation/events", p.parent_url);
    while r.error.is_none() {
        let rows = q::pending(state, BATCH).await?;
        if rows.is_empty() {
            break;
        }
        let events: Vec<Value> = rows
            .iter()
            .map(|e| {
                json!({"key": e.event_key, "kind": e.kind, "created_at": rfc3339(e.created_at),
                    "body": serde_json::from_str::<Value>(&e.body).unwrap_or(Value::Null)})
            })
            .collect();
        let sent = call(
            "POST",
            url.clone(),
            p.credential.clone(),
            Some(json!({ "events": events })),
            p.ca_pem.clone(),
        )
        .await
        .and_then(|(status, text)| {
            if status == 200 {
                serde_json::from_str::<BatchAnswer>(&text)
                    .map_err(|e| format!("上级部署的回复无法解析：{e}"))
            } else {
                Err(refusal(status, &text))
            }
        });
        let answer = match sent {
            Ok(a) => a,
            Err(e) => {
                r.error = Some(e);
                break;
            }
        };
        let now = state.now_ms();
        let by_key: std::collections::HashMap<&str, &EventResult> =
            answer.results.iter().map(|x| (x.key.as_str(), x)).collect();
        for row in &rows {
            let Some(res) = by_key.get(row.event_key.as_str()) else {
                continue;
            };
            match res.status.as_str() {
                "applied" | "duplicate" => {
                    // A note (accepted against an older form version) is kept with the row.
                    let note = res.note.as_deref();
                    q::mark(state, &row.province, row.id, "sent", None, note, now).await?;
                }
                "rejected" => {
                    q::mark(
                        state,
                        &row.province,
                        row.id,
                        "rejected",
                        res.code.as_deref(),
                        res.message.as_deref(),
                        now,
                    )
                    .await?;
                }
                _ => {}
            }
        }
        r.batches += 1;
        r.applied += answer.applied;
        r.duplicate += answer.duplicate;
        r.rejected += answer.rejected;
        if (rows.len() as i64) < BATCH {
            break;
        }
    }
    q::attempted(state, state.now_ms(), r.error.as_deref()).await?;
    r.pending = q::counts(state).await?.0;
    Ok(r)
}

/// The service's own sync: every [`SYNC_EVERY_MS`], while a parent is registered (checked each
/// time, so a registration by `backstop node register` is picked up without a restart).
pub fn spawn_sync(state: AppState) {
    tokio::spawn(async move {
        let every = Duration::from_millis(SYNC_EVERY_MS.unsigned_abs());
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match sync_once(&state).await {
                Ok(r) if r.error.is_some() => tracing::warn!(
                    pending = r.pending,
                    error = r.error.as_deref().unwrap_or_default(),
                    "federation sync stopped"
                ),
                Ok(r) if r.batches > 0 => tracing::info!(
                    applied = r.applied,
                    duplicate = r.duplicate,
                    rejected = r.rejected,
                    pending = r.pending,
                    "federation sync"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(code = e.code.as_str(), "federation sync failed"),
            }
        }
    });
}

/// What the parent owns and sends down at `path`, changed at or after `since` (its clock).
async fn fetch_down<T: serde::de::DeserializeOwned>(
    p: &q::ParentRow,
    path: &str,
    since: i64,
    what: &str,
) -> Result<T, String> {
    let (status, text) = call(
        "GET",
        format!("{}/api/v1/federation/{path}?since={since}", p.parent_url),
        p.credential.clone(),
        None,
        p.ca_pem.clone(),
    )
    .await?;
    if status != 200 {
        return Err(refusal(status, &text));
    }
    serde_json::from_str(&text).map_err(|e| format!("上级部署的{what}无法解析：{e}"))
}

/// Take the parent's form versions made since the last time; a version that conflicts with
/// one made here stops the sync with the reason (nothing else is taken past it).
async fn take_forms(state: &AppState, p: &q::ParentRow, r: &mut SyncReport) -> Result<(), String> {
    let forms: Vec<crate::reports::OwnedForm> =
        fetch_down(p, "forms", p.forms_since, "表单").await?;
    let mut since = p.forms_since;
    for f in &forms {
        match crate::reports::take_from_parent(state, &f.form).await {
            Ok(taken) => r.forms += usize::from(taken),
            Err(e) => return Err(e.message),
        }
        since = since.max(f.created_at);
    }
    advance(state, q::Down::Forms, p.forms_since, since).await
}

/// Take the parent's assistance standards and emergency periods changed since the last time
/// (they take effect here with their own dates; see [`crate::assistance::federated`]).
async fn take_policy(state: &AppState, p: &q::ParentRow, r: &mut SyncReport) -> Result<(), String> {
    let policy: crate::assistance::federated::OwnedPolicy =
        fetch_down(p, "assistance", p.assistance_since, "救助标准").await?;
    let taken = crate::assistance::federated::take(state, &policy)
        .await
        .map_err(|e| e.message)?;
    r.standards += taken.standards;
    r.emergencies += taken.emergencies;
    let since = policy.until(p.assistance_since);
    advance(state, q::Down::Assistance, p.assistance_since, since).await
}

/// Take the parent's public information pages written since the last time.
async fn take_public(state: &AppState, p: &q::ParentRow, r: &mut SyncReport) -> Result<(), String> {
    let rows: Vec<crate::public::federated::OwnedInfo> =
        fetch_down(p, "public-info", p.public_since, "公开信息").await?;
    r.public_pages += crate::public::federated::take(state, &rows)
        .await
        .map_err(|e| e.message)?;
    let since = rows
        .iter()
        .map(|o| o.updated_at)
        .fold(p.public_since, i64::max);
    advance(state, q::Down::Public, p.public_since, since).await
}

/// Take the parent's screening campaigns opened since the last time (see
/// [`crate::screening::federated`]).
async fn take_campaigns(
    state: &AppState,
    p: &q::ParentRow,
    r: &mut SyncReport,
) -> Result<(), String> {
    let rows: Vec<crate::screening::federated::OwnedCampaign> =
        fetch_down(p, "campaigns", p.campaigns_since, "摸排活动").await?;
    r.campaigns += crate::screening::federated::take(state, &rows)
        .await
        .map_err(|e| e.message)?;
    let since = rows
        .iter()
        .map(|c| c.created_at)
        .fold(p.campaigns_since, i64::max);
    advance(state, q::Down::Campaigns, p.campaigns_since, since).await
}

/// Move the cursor of `what` from `was` to `until` (the parent's latest time taken), if it moved.
async fn advance(state: &AppState, what: q::Down, was: i64, until: i64) -> Result<(), String> {
    if until == was {
        return Ok(());
    }
    q::set_since(state, what, until)
        .await
        .map_err(|e| e.message)
}
