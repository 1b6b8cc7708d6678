//! Federation between deployments (issue 20, ADR 0015). This first slice is the parent's side
//! of the trust: the child deployments (*nodes*) it accepts data from. The security
//! administrator issues a node for one region in scope (`security.manage`): a 256-bit secret is
//! shown once and only its SHA-256 is kept; the credential can be rotated (the old one keeps
//! working for a grace period so the child switches without a gap) and revoked. A request from
//! a node is authenticated by [`authenticate`], which answers the node and its region — the
//! scope every event it sends will be held to. Every change is audited (`federation.node_*`).
//! Each node has a service account (`node:<id>`, role `federation_node`, scope = its region)
//! created with it and disabled on revocation: [`events`] applies what the node sends as that
//! actor through the ordinary services. The outbox, the sync client and the owned documents
//! going down follow in later slices.

pub mod child;
pub mod events;
pub mod figures;
pub mod pages;
mod queries;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::region::Scope;
use backstop_core::role::{Permission, Role, RoleSet};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::{Actor, Via};
use crate::kernel::crypto::{random_token, token_hash};
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

pub use figures::figures_under;

/// How long a rotated-out secret keeps working (the child's next sync picks up the new one).
pub const ROTATION_GRACE_MS: i64 = 24 * 3600 * 1000;

/// A node as the parent knows it (never the secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Node {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub name: String,
    /// `active` or `revoked`.
    pub status: String,
    pub status_label: String,
    pub issued_by: String,
    pub created_at: String,
    pub rotated_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The last authenticated request from the node (its last synchronisation).
    pub last_seen_at: Option<String>,
}

/// A child deployment reporting (part of) a region, as the parent's summaries show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NodeSync {
    pub node_id: i64,
    pub region_code: String,
    pub region_name: String,
    /// Its last synchronisation (authenticated request); none yet when never.
    pub last_seen_at: Option<String>,
    /// No contact for longer than [`LATE_AFTER_MS`] (or never).
    pub late: bool,
}

/// A child not heard from for longer than this is late (滞后).
pub const LATE_AFTER_MS: i64 = 2 * 3600 * 1000;

/// Is an active node late at `now`?
pub fn is_late(n: &Node, now: i64) -> bool {
    n.status == "active" && queries::last_seen_ms(n).is_none_or(|t| now - t > LATE_AFTER_MS)
}

/// The active nodes through which (part of) `region` reports — inside it, or the node whose
/// region contains it — with their last synchronisation (issue 20 item 4: the only thing that
/// tells a summary fed by a node from one fed directly). `region` is one the caller may read.
/// The nodes as [`syncs_for`] last read them (every summary asks; forgotten on every change
/// to a node, its last contact included).
const NODES_CACHE: &str = "fed_nodes";

pub async fn syncs_for(state: &AppState, region: &str) -> AppResult<Vec<NodeSync>> {
    let now = state.now_ms();
    let inside = |n: &Node| {
        region == "0" || n.region_code.starts_with(region) || region.starts_with(&n.region_code)
    };
    let nodes = state
        .caches
        .get_or_load(NODES_CACHE, async || queries::nodes(state).await)
        .await?;
    Ok(nodes
        .into_iter()
        .filter(|n| n.status == "active" && inside(n))
        .map(|n| NodeSync {
            late: is_late(&n, now),
            node_id: n.id,
            region_code: n.region_code,
            region_name: n.region_name,
            last_seen_at: n.last_seen_at,
        })
        .collect())
}

/// A node just issued or rotated, with its credential — shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedNode {
    pub node: Node,
    /// `bsn_<id>_<secret>`: what the child stores with its key file.
    pub credential: String,
}

/// Input of issuing a node.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewNode {
    /// The region the node reports for (a county, a province).
    pub region_code: String,
    /// A name for people (e.g. 鹿泉区民政局).
    pub name: String,
}

/// The Chinese name of a node status.
pub fn status_label(s: &str) -> &'static str {
    match s {
        "active" => "有效",
        "revoked" => "已吊销",
        _ => "",
    }
}

/// The username of a node's service account (`:` is never in a person's username).
pub(crate) fn service_username(node_id: i64) -> String {
    format!("node:{node_id}")
}

/// The actor a node's events are applied as: its service account, scoped to the node's region,
/// holding only `federation_node` (ADR 0015). An account missing or disabled is *unauthenticated*.
pub async fn node_actor(state: &AppState, node: &Node, source: &str) -> AppResult<Actor> {
    let uid = queries::service_user(state, node.id)
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::Unauthenticated))?;
    let scope = Scope::parse(&node.region_code)
        .map_err(|_| AppError::internal("federation", "node region unreadable"))?;
    Ok(Actor {
        user_id: Some(uid),
        username: service_username(node.id),
        roles: RoleSet::new([Role::FederationNode]),
        scope,
        org_id: None,
        source: source.to_string(),
        via: Via::Node(node.id),
    })
}

fn credential(id: i64) -> String {
    format!("bsn_{id}_{}", random_token(""))
}

/// The node id a credential names (`bsn_<id>_…`), if well formed.
fn credential_id(credential: &str) -> Option<i64> {
    let rest = credential.trim().strip_prefix("bsn_")?;
    let (id, secret) = rest.split_once('_')?;
    if secret.len() < 40 {
        return None;
    }
    id.parse().ok()
}

/// Issue a node for a region in scope (`security.manage`). One active node per region.
pub async fn issue(state: &AppState, actor: &Actor, input: &NewNode) -> AppResult<IssuedNode> {
    actor.require(Permission::SecurityManage)?;
    let code =
        crate::regions::existing_in_scope(state, actor, "region_code", input.region_code.trim())
            .await?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "name",
            "请填写节点名称（不超过 60 字）",
        ));
    }
    let mut tx = Tx::begin(state, actor).await?;
    if queries::active_in(&mut tx, code.as_str()).await? {
        return Err(AppError::field(
            ErrorCode::Conflict,
            "region_code",
            "该区划已有有效的下级节点，请先吊销或轮换其凭据",
        ));
    }
    // The id is known only after the insert: insert with a placeholder hash, then set it.
    let placeholder = token_hash(&random_token("pending"));
    let id = queries::insert(&mut tx, code.as_str(), name, &placeholder, &actor.username).await?;
    let cred = credential(id);
    queries::set_secret(&mut tx, id, &token_hash(&cred), None, None).await?;
    let user_id = queries::insert_service_user(&mut tx, id, code.as_str()).await?;
    tx.commit(
        Change::new("federation.node_issue", "fed_node", id, code.as_str())
            .detail(json!({"name": name, "service_account": {"id": user_id,
                "username": service_username(id), "roles": "federation_node"}})),
    )
    .await?;
    state.caches.forget(NODES_CACHE);
    Ok(IssuedNode {
        node: get(state, actor, id).await?,
        credential: cred,
    })
}

/// A node in scope (`security.manage`; out of scope: not found).
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Node> {
    actor.require(Permission::SecurityManage)?;
    let n = queries::node(state, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    actor.everywhere().admit(&n.region_code.clone(), n)
}

/// The nodes in scope, by region.
pub async fn list(state: &AppState, actor: &Actor) -> AppResult<Vec<Node>> {
    actor.require(Permission::SecurityManage)?;
    let scoped = actor.everywhere();
    Ok(queries::nodes(state)
        .await?
        .into_iter()
        .filter(|n| scoped.contains(&n.region_code))
        .collect())
}

/// A new credential for an active node; the old one works for [`ROTATION_GRACE_MS`] more.
pub async fn rotate(state: &AppState, actor: &Actor, id: i64) -> AppResult<IssuedNode> {
    let n = get(state, actor, id).await?;
    if n.status != "active" {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "该节点已吊销，不能轮换凭据",
        ));
    }
    let cred = credential(id);
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    let old = queries::secret_hash(&mut tx, id).await?;
    queries::set_secret(
        &mut tx,
        id,
        &token_hash(&cred),
        Some(&old),
        Some(now + ROTATION_GRACE_MS),
    )
    .await?;
    tx.commit(Change::new(
        "federation.node_rotate",
        "fed_node",
        id,
        &n.region_code,
    ))
    .await?;
    state.caches.forget(NODES_CACHE);
    Ok(IssuedNode {
        node: get(state, actor, id).await?,
        credential: cred,
    })
}

/// Revoke a node: its credentials stop working at once.
pub async fn revoke(state: &AppState, actor: &Actor, id: i64) -> AppResult<Node> {
    let n = get(state, actor, id).await?;
    let mut tx = Tx::begin(state, actor).await?;
    if queries::revoke(&mut tx, id, &actor.username).await? != 1 {
        return Err(AppError::msg(ErrorCode::Conflict, "该节点已吊销"));
    }
    queries::disable_service_user(&mut tx, id).await?;
    tx.commit(Change::new(
        "federation.node_revoke",
        "fed_node",
        id,
        &n.region_code,
    ))
    .await?;
    state.caches.forget(NODES_CACHE);
    get(state, actor, id).await
}

/// The node a credential belongs to, if it is valid now (active; the current secret, or the
/// previous one within its grace period). Records the time as the node's last contact.
/// Anything else — malformed, unknown, revoked, expired — is `None`: the caller answers 401
/// without saying which.
pub async fn authenticate(state: &AppState, credential: &str) -> AppResult<Option<Node>> {
    let Some(id) = credential_id(credential) else {
        return Ok(None);
    };
    let now = state.now_ms();
    let hash = token_hash(credential.trim());
    let Some(n) = queries::valid(state, id, &hash, now).await? else {
        return Ok(None);
    };
    queries::seen(state, id, now).await?;
    state.caches.forget(NODES_CACHE);
    Ok(Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_name_their_node() {
        let c = credential(42);
        assert_eq!(credential_id(&c), Some(42));
        assert_eq!(credential_id("bsn_42_short"), None);
        assert_eq!(
            credential_id("bst_42_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            None
        );
        assert_ne!(credential(42), c, "random");
    }
}
