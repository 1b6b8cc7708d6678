//! The SQL of federation: the nodes a parent accepts data from (`fed_nodes`, migration 0054)
//! and their service accounts; the child's side (its parent and outbox) in [`child`].

pub(super) mod child;
pub(super) mod figures;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Node, status_label};
use crate::kernel::access::Tx;
use crate::kernel::error::AppResult;
use crate::state::AppState;
use backstop_core::clock::rfc3339;

const COLS: &str = "n.id, n.region_code, r.name AS region_name, n.name, n.status, n.issued_by, \
    n.created_at, n.rotated_at, n.revoked_at, n.last_seen_at";

fn opt_time(r: &AnyRow, col: &str) -> Result<Option<String>, sqlx::Error> {
    Ok(r.try_get::<Option<i64>, _>(col)?.map(rfc3339))
}

fn node_from_row(r: &AnyRow) -> Result<Node, sqlx::Error> {
    let status: String = r.try_get("status")?;
    Ok(Node {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        region_name: r.try_get("region_name")?,
        name: r.try_get("name")?,
        status_label: status_label(&status).to_string(),
        status,
        issued_by: r.try_get("issued_by")?,
        created_at: rfc3339(r.try_get("created_at")?),
        rotated_at: opt_time(r, "rotated_at")?,
        revoked_at: opt_time(r, "revoked_at")?,
        last_seen_at: opt_time(r, "last_seen_at")?,
    })
}

/// Is there an active node for the region?
pub(super) async fn active_in(tx: &mut Tx, region: &str) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM fed_nodes WHERE region_code = $1 AND status = 'active'",
    )
    .bind(region.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(n > 0)
}

pub(super) async fn insert(
    tx: &mut Tx,
    region: &str,
    name: &str,
    secret_hash: &str,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    tx.insert(
        sqlx::query(
            "INSERT INTO fed_nodes (region_code, name, secret_hash, status, issued_by, created_at) \
             VALUES ($1, $2, $3, 'active', $4, $5) RETURNING id",
        )
        .bind(region.to_string())
        .bind(name.to_string())
        .bind(secret_hash.to_string())
        .bind(by.to_string())
        .bind(now),
    )
    .await
}

/// Set the node's secret; with `prev`, the old hash and until when it still works.
pub(super) async fn set_secret(
    tx: &mut Tx,
    id: i64,
    hash: &str,
    prev: Option<&str>,
    prev_valid_until: Option<i64>,
) -> AppResult<()> {
    let rotated = prev.map(|_| tx.now());
    tx.exec(
        sqlx::query(
            "UPDATE fed_nodes SET secret_hash = $1, prev_secret_hash = $2, prev_valid_until = $3, \
             rotated_at = COALESCE($4, rotated_at) WHERE id = $5",
        )
        .bind(hash.to_string())
        .bind(prev.map(str::to_string))
        .bind(prev_valid_until)
        .bind(rotated)
        .bind(id),
    )
    .await
}

pub(super) async fn secret_hash(tx: &mut Tx, id: i64) -> AppResult<String> {
    Ok(
        sqlx::query_scalar("SELECT secret_hash FROM fed_nodes WHERE id = $1")
            .bind(id)
            .fetch_one(tx.conn())
            .await?,
    )
}

/// Revoke an active node; rows changed (0: already revoked).
pub(super) async fn revoke(tx: &mut Tx, id: i64, by: &str) -> AppResult<u64> {
    let now = tx.now();
    tx.changed(
        sqlx::query(
            "UPDATE fed_nodes SET status = 'revoked', revoked_at = $1, revoked_by = $2 \
             WHERE id = $3 AND status = 'active'",
        )
        .bind(now)
        .bind(by.to_string())
        .bind(id),
    )
    .await
}

pub(super) async fn node(state: &AppState, id: i64) -> AppResult<Option<Node>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM fed_nodes n JOIN regions r ON r.code = n.region_code WHERE n.id = $1"
    )))
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(r.as_ref().map(node_from_row).transpose()?)
}

pub(super) async fn nodes(state: &AppState) -> AppResult<Vec<Node>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM fed_nodes n JOIN regions r ON r.code = n.region_code \
         ORDER BY n.region_code, n.id"
    )))
    .fetch_all(state.db.pool())
    .await?;
    rows.iter()
        .map(node_from_row)
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(Into::into)
}

/// The active node `id` if `hash` is its current secret's, or its previous one's within the
/// grace period.
pub(super) async fn valid(
    state: &AppState,
    id: i64,
    hash: &str,
    now: i64,
) -> AppResult<Option<Node>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM fed_nodes n JOIN regions r ON r.code = n.region_code \
         WHERE n.id = $1 AND n.status = 'active' AND (n.secret_hash = $2 \
         OR (n.prev_secret_hash = $2 AND n.prev_valid_until > $3))"
    )))
    .bind(id)
    .bind(hash.to_string())
    .bind(now)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(r.as_ref().map(node_from_row).transpose()?)
}

/// Record the node's last authenticated contact (no audit entry: not a change of data).
pub(super) async fn seen(state: &AppState, id: i64, now: i64) -> AppResult<()> {
    sqlx::query("UPDATE fed_nodes SET last_seen_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(state.db.pool())
        .await?;
    Ok(())
}

/// The node's service account (ADR 0015): `node:<id>`, role `federation_node`, scope = the
/// node's region, no usable password (and login refuses the role whatever the password).
pub(super) async fn insert_service_user(tx: &mut Tx, node_id: i64, region: &str) -> AppResult<i64> {
    let now = tx.now();
    tx.insert(
        sqlx::query(
            "INSERT INTO users (username, display_name, scope, roles, password_hash, \
             password_changed_at, must_change_password, created_at, updated_at) \
             VALUES ($1, $2, $3, 'federation_node', '!', $4, 0, $4, $4) RETURNING id",
        )
        .bind(super::service_username(node_id))
        .bind(format!("下级部署节点 {node_id}"))
        .bind(region.to_string())
        .bind(now),
    )
    .await
}

/// Disable the node's service account (revocation).
pub(super) async fn disable_service_user(tx: &mut Tx, node_id: i64) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query("UPDATE users SET disabled = 1, updated_at = $1 WHERE username = $2")
            .bind(now)
            .bind(super::service_username(node_id)),
    )
    .await?;
    Ok(())
}

/// The id of the node's service account, if it exists and is enabled.
pub(super) async fn service_user(state: &AppState, node_id: i64) -> AppResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM users WHERE username = $1 AND disabled = 0 AND roles = 'federation_node'",
    )
    .bind(super::service_username(node_id))
    .fetch_optional(state.db.pool())
    .await?)
}

/// A node's last contact in milliseconds (the page's late warning), from its RFC 3339 text.
pub(super) fn last_seen_ms(n: &Node) -> Option<i64> {
    n.last_seen_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
}

/// Log what an event from a node became (once: a duplicate changes nothing).
#[allow(clippy::too_many_arguments)]
pub(super) async fn received(
    state: &AppState,
    node: &Node,
    event_key: &str,
    kind: &str,
    status: &str,
    object_id: Option<i64>,
    code: Option<&str>,
    child_created_at: Option<&str>,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO fed_received (province, node_id, event_key, kind, status, object_id, code, \
         child_created_at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (province, node_id, event_key) DO NOTHING",
    )
    .bind(node.region_code.get(..2).unwrap_or("00").to_string())
    .bind(node.id)
    .bind(event_key.to_string())
    .bind(kind.chars().take(40).collect::<String>())
    .bind(status.to_string())
    .bind(object_id)
    .bind(code.map(str::to_string))
    .bind(child_created_at.map(|t| t.chars().take(40).collect::<String>()))
    .bind(state.now_ms())
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// The parent's organisation that the node's organisation `child_org` became, if any.
pub(super) async fn org_map(
    state: &AppState,
    node: &Node,
    child_org: i64,
) -> AppResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT org_id FROM fed_org_map WHERE province = $1 AND node_id = $2 AND child_org_id = $3",
    )
    .bind(backstop_core::region::province_of(&node.region_code))
    .bind(node.id)
    .bind(child_org)
    .fetch_optional(state.db.pool())
    .await?)
}

/// Remember that the node's organisation `child_org` is the parent's `org` (a replay keeps the
/// first).
pub(super) async fn map_org(
    state: &AppState,
    node: &Node,
    child_org: i64,
    org: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO fed_org_map (province, node_id, child_org_id, org_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(backstop_core::region::province_of(&node.region_code))
    .bind(node.id)
    .bind(child_org)
    .bind(org)
    .bind(state.now_ms())
    .execute(state.db.pool())
    .await?;
    Ok(())
}
