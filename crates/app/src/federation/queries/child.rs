//! The SQL of the child's side of federation (migration 0055): the registered parent
//! (`fed_parent`, one row) and the outbox (`fed_outbox`) — appended inside another area's
//! write job ([`push_outbox`]), read and marked by the sync.

use backstop_store::{Arg, Script};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::kernel::access::Tx;
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::AppResult;
use crate::privacy;
use crate::state::AppState;

/// The registered parent, the credential opened.
#[derive(Debug, Clone)]
pub(crate) struct ParentRow {
    pub parent_url: String,
    pub node_id: i64,
    pub credential: String,
    pub region_code: String,
    pub node_name: String,
    pub registered_by: String,
    pub registered_at: i64,
    pub last_attempt_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    /// The parent's forms are taken up to this time (ms, the parent's clock).
    pub forms_since: i64,
    /// The parent's assistance standards and emergency periods likewise.
    pub assistance_since: i64,
    /// The root certificate (PEM) the parent's HTTPS is checked against, else the public roots.
    pub ca_pem: Option<String>,
    /// The parent's public information pages are taken up to this time (ms, its clock).
    pub public_since: i64,
    /// The parent's screening campaigns likewise.
    pub campaigns_since: i64,
}

/// One event waiting to go up.
#[derive(Debug, Clone)]
pub(crate) struct OutboxRow {
    pub province: String,
    pub id: i64,
    pub event_key: String,
    pub kind: String,
    pub body: String,
    pub created_at: i64,
    pub result_code: Option<String>,
    pub result_message: Option<String>,
}

/// Append an event to the outbox in the caller's write job — only while a parent is
/// registered (otherwise the statement inserts nothing), so a deployment that is no one's child
/// keeps no outbox.
pub(crate) fn push_outbox(
    script: &mut Script,
    keys: &KeyRing,
    province: &str,
    event_key: &str,
    kind: &str,
    body: &str,
    now: i64,
) {
    script.push(
        "INSERT INTO fed_outbox (province, event_key, kind, body_enc, created_at, status) \
         SELECT ?, ?, ?, ?, ?, 'pending' WHERE EXISTS (SELECT 1 FROM fed_parent)",
        vec![
            Arg::from(province),
            Arg::from(event_key),
            Arg::from(kind),
            Arg::Blob(privacy::seal(keys, body)),
            Arg::Int(now),
        ],
    );
}

/// The outbox row of an event, written only while a parent is registered ($1 province, $2 key,
/// $3 kind, $4 sealed body, $5 time).
pub(crate) const PUSH_OUTBOX: &str = "INSERT INTO fed_outbox (province, event_key, kind, body_enc, created_at, status) \
     SELECT $1, $2, $3, $4, $5, 'pending' WHERE EXISTS (SELECT 1 FROM fed_parent)";

/// [`push_outbox`] in an open transaction (a write that goes through [`Tx`], not a job).
pub(crate) async fn push_outbox_tx(
    tx: &mut Tx,
    keys: &KeyRing,
    province: &str,
    event_key: &str,
    kind: &str,
    body: &str,
) -> AppResult<()> {
    let now = tx.now();
    let q = sqlx::query(PUSH_OUTBOX)
        .bind(province.to_string())
        .bind(event_key.to_string())
        .bind(kind.to_string())
        .bind(privacy::seal(keys, body))
        .bind(now);
    tx.exec(q).await
}

fn parent_from_row(keys: &KeyRing, r: &AnyRow) -> Result<ParentRow, sqlx::Error> {
    Ok(ParentRow {
        parent_url: r.try_get("parent_url")?,
        node_id: r.try_get("node_id")?,
        credential: privacy::text(keys, r, "credential")?,
        region_code: r.try_get("region_code")?,
        node_name: r.try_get("node_name")?,
        registered_by: r.try_get("registered_by")?,
        registered_at: r.try_get("registered_at")?,
        last_attempt_at: r.try_get("last_attempt_at")?,
        last_success_at: r.try_get("last_success_at")?,
        last_error: r.try_get("last_error")?,
        last_error_at: r.try_get("last_error_at")?,
        forms_since: r.try_get("forms_since")?,
        assistance_since: r.try_get("assistance_since")?,
        ca_pem: r.try_get("ca_pem")?,
        public_since: r.try_get("public_since")?,
        campaigns_since: r.try_get("campaigns_since")?,
    })
}

pub(crate) async fn parent(state: &AppState) -> AppResult<Option<ParentRow>> {
    let r = sqlx::query(
        "SELECT parent_url, node_id, credential_enc, region_code, node_name, registered_by, \
         registered_at, last_attempt_at, last_success_at, last_error, last_error_at, forms_since, \
         assistance_since, ca_pem, public_since, campaigns_since FROM fed_parent WHERE id = 1",
    )
    .fetch_optional(state.db.pool())
    .await?;
    Ok(r.as_ref()
        .map(|r| parent_from_row(&state.keys, r))
        .transpose()?)
}

/// A parent to register.
pub(crate) struct NewParent<'a> {
    pub url: &'a str,
    pub node_id: i64,
    pub credential: &'a str,
    pub region: &'a str,
    pub name: &'a str,
    pub by: &'a str,
    pub ca_pem: Option<&'a str>,
}

/// Register (or replace) the parent.
pub(crate) async fn set_parent(tx: &mut Tx, keys: &KeyRing, p: &NewParent<'_>) -> AppResult<()> {
    let now = tx.now();
    tx.exec(sqlx::query("DELETE FROM fed_parent")).await?;
    tx.exec(
        sqlx::query(
            "INSERT INTO fed_parent (id, parent_url, node_id, credential_enc, region_code, \
             node_name, registered_by, registered_at, ca_pem) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(p.url.to_string())
        .bind(p.node_id)
        .bind(privacy::seal(keys, p.credential))
        .bind(p.region.to_string())
        .bind(p.name.to_string())
        .bind(p.by.to_string())
        .bind(now)
        .bind(p.ca_pem.map(str::to_string)),
    )
    .await
}

/// The oldest pending events, at most `limit`.
pub(crate) async fn pending(state: &AppState, limit: i64) -> AppResult<Vec<OutboxRow>> {
    outbox_where(state, "status = 'pending' ORDER BY id", limit).await
}

/// The most recently rejected events, at most `limit`.
pub(crate) async fn rejected(state: &AppState, limit: i64) -> AppResult<Vec<OutboxRow>> {
    outbox_where(state, "status = 'rejected' ORDER BY id DESC", limit).await
}

async fn outbox_where(state: &AppState, clause: &str, limit: i64) -> AppResult<Vec<OutboxRow>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT province, id, event_key, kind, body_enc, created_at, result_code, \
         result_message FROM fed_outbox WHERE {clause} LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(state.db.pool())
    .await?;
    let keys = &state.keys;
    let row = |r: &AnyRow| -> Result<OutboxRow, sqlx::Error> {
        Ok(OutboxRow {
            province: r.try_get("province")?,
            id: r.try_get("id")?,
            event_key: r.try_get("event_key")?,
            kind: r.try_get("kind")?,
            body: privacy::text(keys, r, "body")?,
            created_at: r.try_get("created_at")?,
            result_code: r.try_get("result_code")?,
            result_message: r.try_get("result_message")?,
        })
    };
    Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
}

/// Mark an event as acknowledged by the parent: `sent` (applied or duplicate) or `rejected`
/// with the parent's code and message.
pub(crate) async fn mark(
    state: &AppState,
    province: &str,
    id: i64,
    status: &str,
    code: Option<&str>,
    message: Option<&str>,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE fed_outbox SET status = $1, sent_at = $2, result_code = $3, result_message = $4 \
         WHERE province = $5 AND id = $6 AND status = 'pending'",
    )
    .bind(status.to_string())
    .bind(now)
    .bind(code.map(str::to_string))
    .bind(message.map(str::to_string))
    .bind(province.to_string())
    .bind(id)
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// Record a sync attempt: its time, and either success or the error.
pub(crate) async fn attempted(state: &AppState, now: i64, error: Option<&str>) -> AppResult<()> {
    let q = match error {
        None => sqlx::query(
            "UPDATE fed_parent SET last_attempt_at = $1, last_success_at = $1 WHERE id = 1",
        )
        .bind(now),
        Some(e) => sqlx::query(
            "UPDATE fed_parent SET last_attempt_at = $1, last_error = $2, last_error_at = $1 \
             WHERE id = 1",
        )
        .bind(now)
        .bind(e.chars().take(500).collect::<String>()),
    };
    q.execute(state.db.pool()).await?;
    Ok(())
}

/// Events per status: (pending, sent, rejected).
pub(crate) async fn counts(state: &AppState) -> AppResult<(i64, i64, i64)> {
    let rows =
        sqlx::query("SELECT status, CAST(COUNT(*) AS BIGINT) AS n FROM fed_outbox GROUP BY status")
            .fetch_all(state.db.pool())
            .await?;
    let mut out = (0, 0, 0);
    for r in rows {
        let (s, n): (String, i64) = (r.try_get("status")?, r.try_get("n")?);
        match s.as_str() {
            "pending" => out.0 = n,
            "sent" => out.1 = n,
            _ => out.2 += n,
        }
    }
    Ok(out)
}

/// What the child takes from the parent, each with its cursor column in `fed_parent`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Down {
    Forms,
    Assistance,
    Public,
    Campaigns,
}

/// Remember up to when (the parent's clock, ms) `what` is taken.
pub(crate) async fn set_since(state: &AppState, what: Down, since: i64) -> AppResult<()> {
    let sql = match what {
        Down::Forms => "UPDATE fed_parent SET forms_since = $1 WHERE id = 1",
        Down::Assistance => "UPDATE fed_parent SET assistance_since = $1 WHERE id = 1",
        Down::Public => "UPDATE fed_parent SET public_since = $1 WHERE id = 1",
        Down::Campaigns => "UPDATE fed_parent SET campaigns_since = $1 WHERE id = 1",
    };
    sqlx::query(sql)
        .bind(since)
        .execute(state.db.pool())
        .await?;
    Ok(())
}
