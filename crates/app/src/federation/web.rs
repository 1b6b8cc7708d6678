//! The federation API a child deployment calls (ADR 0015): `POST /api/v1/federation/events`
//! and `GET /api/v1/federation/whoami` (the node a credential names, checked at registration)
//! and `GET /api/v1/federation/forms`, `…/assistance`, `…/public-info` and `…/campaigns` (the
//! report forms, the assistance standards and emergency periods, the public information pages
//! and the screening campaigns going down),
//! authenticated by the node's credential (`Authorization: Node bsn_<id>_<secret>`), never by a
//! person's session or token. A missing, malformed, unknown, revoked or expired credential is
//! 401 `unauthenticated` without saying which. The rules live in [`super::events`].

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use backstop_core::error::ErrorCode;

use super::child::WhoAmI;
use super::events::{self, BatchAnswer, EventBatch};
use crate::assistance::federated::{OwnedPolicy, owned_since};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::extract::{JsonBody, Source};
use crate::kernel::web::Routes;
use crate::reports::OwnedForm;
use crate::state::AppState;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/federation/events", post(post_events)),
        ("/api/v1/federation/whoami", get(whoami)),
        ("/api/v1/federation/forms", get(forms)),
        ("/api/v1/federation/assistance", get(assistance)),
        ("/api/v1/federation/public-info", get(public_info)),
        ("/api/v1/federation/campaigns", get(campaigns)),
    ]
}

/// The node a request's credential belongs to (valid now), else 401 `unauthenticated`.
async fn node_of(s: &AppState, headers: &HeaderMap) -> AppResult<super::Node> {
    let refused = || AppError::msg(ErrorCode::Unauthenticated, "节点凭据无效、已吊销或已过期");
    let cred = node_credential(headers).ok_or_else(refused)?;
    super::authenticate(s, cred).await?.ok_or_else(refused)
}

/// `?since=` (ms) of the forms sent down.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct FormsQuery {
    /// The child's cursor: versions made at or after this time (ms).
    pub since: i64,
}

/// The report form versions the parent owns that concern the node's region (the nation's, its
/// ancestors', its own and those inside it), made at or after `since`, oldest first: what the
/// child takes on each sync and cannot edit.
#[utoipa::path(get, path = "/api/v1/federation/forms", tag = "federation", params(FormsQuery),
    responses((status = 200, body = Vec<OwnedForm>),
        (status = 401, body = crate::kernel::error::ErrorBody)))]
pub async fn forms(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<FormsQuery>,
) -> AppResult<Json<Vec<OwnedForm>>> {
    let n = node_of(&s, &headers).await?;
    Ok(Json(
        crate::reports::owned_since(&s, &n.region_code, q.since).await?,
    ))
}

/// The assistance standards and emergency periods the parent owns that concern the node's
/// region (set at it, above it or inside it), changed at or after `since`, oldest first: what
/// the child takes on each sync and cannot change.
#[utoipa::path(get, path = "/api/v1/federation/assistance", tag = "federation", params(FormsQuery),
    responses((status = 200, body = OwnedPolicy),
        (status = 401, body = crate::kernel::error::ErrorBody)))]
pub async fn assistance(
    State(s): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<FormsQuery>,
) -> AppResult<Json<OwnedPolicy>> {
    let node = node_of(&s, &headers).await?;
    let actor = super::node_actor(&s, &node, &source).await?;
    Ok(Json(owned_since(&s, &actor, q.since).await?))
}

/// The public information pages the parent publishes for the node's region, the regions above
/// it and those inside it, written at or after `since`, oldest first.
#[utoipa::path(get, path = "/api/v1/federation/public-info", tag = "federation", params(FormsQuery),
    responses((status = 200, body = Vec<crate::public::federated::OwnedInfo>),
        (status = 401, body = crate::kernel::error::ErrorBody)))]
pub async fn public_info(
    State(s): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<FormsQuery>,
) -> AppResult<Json<Vec<crate::public::federated::OwnedInfo>>> {
    let node = node_of(&s, &headers).await?;
    let actor = super::node_actor(&s, &node, &source).await?;
    Ok(Json(
        crate::public::federated::owned_since(&s, &actor, q.since).await?,
    ))
}

/// The screening campaigns the parent opened at the node's region, above it or inside it,
/// opened at or after `since`, oldest first: the child opens them as the parent's and sends
/// their coverage up.
#[utoipa::path(get, path = "/api/v1/federation/campaigns", tag = "federation", params(FormsQuery),
    responses((status = 200, body = Vec<crate::screening::federated::OwnedCampaign>),
        (status = 401, body = crate::kernel::error::ErrorBody)))]
pub async fn campaigns(
    State(s): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<FormsQuery>,
) -> AppResult<Json<Vec<crate::screening::federated::OwnedCampaign>>> {
    let node = node_of(&s, &headers).await?;
    let actor = super::node_actor(&s, &node, &source).await?;
    Ok(Json(
        crate::screening::federated::owned_since(&s, &actor, q.since).await?,
    ))
}

/// The node a credential belongs to: what a child checks before it stores the credential.
#[utoipa::path(get, path = "/api/v1/federation/whoami", tag = "federation",
    responses((status = 200, body = WhoAmI),
        (status = 401, body = crate::kernel::error::ErrorBody)))]
pub async fn whoami(State(s): State<AppState>, headers: HeaderMap) -> AppResult<Json<WhoAmI>> {
    let n = node_of(&s, &headers).await?;
    Ok(Json(WhoAmI {
        node_id: n.id,
        region_code: n.region_code,
        region_name: n.region_name,
        name: n.name,
    }))
}

/// The credential of `Authorization: Node <credential>`.
fn node_credential(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, cred) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("node").then(|| cred.trim())
}

/// Apply a batch of events from a child deployment, each as the node's service account within
/// the node's region; the answer says per event `applied`, `duplicate` or `rejected`.
#[utoipa::path(post, path = "/api/v1/federation/events", tag = "federation",
    request_body = EventBatch,
    responses((status = 200, body = BatchAnswer),
        (status = 401, body = crate::kernel::error::ErrorBody),
        (status = 422, body = crate::kernel::error::ErrorBody)))]
pub async fn post_events(
    State(s): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    JsonBody(batch): JsonBody<EventBatch>,
) -> AppResult<Json<BatchAnswer>> {
    let node = node_of(&s, &headers).await?;
    let actor = super::node_actor(&s, &node, &source).await?;
    Ok(Json(events::apply(&s, &node, &actor, &batch).await?))
}
