//! Every SQL statement of authentication, and the only file of `kernel::auth` that runs one:
//! reading an account and a credential, the failure counters, sessions, passwords and TOTP.
//!
//! Writes that are audited take the open [`Tx`] (the caller commits it with its entry); the
//! few that are not audited today — consuming a TOTP step, storing a not yet confirmed TOTP
//! secret, recording when a credential was last used — run their own small transaction here.

use sqlx::{AnyConnection, Row};

use super::UserAuth;
use crate::kernel::access::Tx;
use crate::kernel::authcache::{Cached, Credential};
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

const USER_AUTH_COLS: &str = "id, username, display_name, org_id, scope, roles, password_hash, \
    password_changed_at, must_change_password, totp_secret, totp_enabled, totp_last_step, \
    disabled, failed_count, first_failed_at, locked_until";

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<UserAuth, sqlx::Error> {
    Ok(UserAuth {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        org_id: r.try_get("org_id")?,
        scope: r.try_get("scope")?,
        roles: r.try_get("roles")?,
        password_hash: r.try_get("password_hash")?,
        password_changed_at: r.try_get("password_changed_at")?,
        must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
        totp_secret: r.try_get("totp_secret")?,
        totp_enabled: r.try_get::<i64, _>("totp_enabled")? != 0,
        totp_last_step: r.try_get("totp_last_step")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        failed_count: r.try_get("failed_count")?,
        first_failed_at: r.try_get("first_failed_at")?,
        locked_until: r.try_get("locked_until")?,
    })
}

pub async fn load_user_by_name(state: &AppState, username: &str) -> AppResult<Option<UserAuth>> {
    let sql = format!("SELECT {USER_AUTH_COLS} FROM users WHERE username = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(username)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(row.as_ref().map(user_from_row).transpose()?)
}

pub async fn load_user(state: &AppState, id: i64) -> AppResult<Option<UserAuth>> {
    let sql = format!("SELECT {USER_AUTH_COLS} FROM users WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(row.as_ref().map(user_from_row).transpose()?)
}

/// The stored credential behind a token hash and its user; `None` if unknown, revoked, or
/// its user is gone.
pub(super) async fn load_credential(
    state: &AppState,
    hash: &str,
    is_api: bool,
) -> AppResult<Option<Cached>> {
    let sql = if is_api {
        "SELECT id, user_id, revoked_at, expires_at, last_used_at AS last_at \
         FROM api_tokens WHERE token_hash = $1"
    } else {
        "SELECT id, user_id, revoked_at, expires_at, last_seen_at AS last_at, mfa_passed \
         FROM sessions WHERE token_hash = $1"
    };
    let row = sqlx::query(sql)
        .bind(hash)
        .fetch_optional(state.db.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Ok(None);
    }
    let id: i64 = row.try_get("id")?;
    let credential = if is_api {
        Credential::ApiToken {
            id,
            expires_at: row.try_get("expires_at")?,
            last_used_at: row.try_get("last_at")?,
        }
    } else {
        Credential::Session {
            id,
            mfa_passed: row.try_get::<i64, _>("mfa_passed")? != 0,
            expires_at: row.try_get("expires_at")?,
            last_seen_at: row.try_get("last_at")?,
        }
    };
    let user_id: i64 = row.try_get("user_id")?;
    Ok(load_user(state, user_id)
        .await?
        .map(|user| Cached { credential, user }))
}

/// Which credential's last use to record.
#[derive(Debug, Clone, Copy)]
pub(super) enum Used {
    ApiToken(i64),
    Session(i64),
}

/// Record when a session or token was last used (one small write, joining the group commit
/// on SQLite).
pub(super) async fn record_use(state: &AppState, used: Used, now: i64) -> AppResult<()> {
    let (sql, id) = match used {
        Used::ApiToken(id) => ("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2", id),
        Used::Session(id) => ("UPDATE sessions SET last_seen_at = $1 WHERE id = $2", id),
    };
    state
        .db
        // One row of its own: any lane will do; the sessions' one keeps them together.
        .write("sessions", move |conn, _deferred| {
            Box::pin(async move {
                sqlx::query(sql)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map(|_| ())
            })
        })
        .await
        .map_err(AppError::from)
}

/// A new session row.
pub(super) struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub mfa_passed: bool,
    pub now: i64,
    pub expires_at: i64,
    pub source: &'a str,
}

pub(super) async fn insert_session(tx: &mut Tx, s: &NewSession<'_>) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, mfa_passed, created_at, last_seen_at, expires_at, source) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(s.token_hash)
    .bind(s.user_id)
    .bind(i64::from(s.mfa_passed))
    .bind(s.now)
    .bind(s.now)
    .bind(s.expires_at)
    .bind(s.source)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A complete login: the failure count and any lock are cleared.
pub(super) async fn clear_failures_and_lock(tx: &mut Tx, user_id: i64) -> AppResult<()> {
    sqlx::query(
        "UPDATE users SET failed_count = 0, first_failed_at = NULL, locked_until = NULL WHERE id = $1",
    )
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The TOTP step of a pending login passed: the failure count is cleared (a lock stays).
pub(super) async fn clear_failures(tx: &mut Tx, user_id: i64) -> AppResult<()> {
    sqlx::query("UPDATE users SET failed_count = 0, first_failed_at = NULL WHERE id = $1")
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The failure count and the start of its window, read inside the write transaction so
/// concurrent failures all count.
pub(super) async fn failures(tx: &mut Tx, user_id: i64) -> AppResult<(i64, Option<i64>)> {
    let row = sqlx::query("SELECT failed_count, first_failed_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(tx.conn())
        .await?;
    Ok((
        row.try_get("failed_count")?,
        row.try_get("first_failed_at")?,
    ))
}

/// The window filled: lock until `until` and start counting afresh.
pub(super) async fn lock(tx: &mut Tx, user_id: i64, until: i64) -> AppResult<()> {
    sqlx::query(
        "UPDATE users SET failed_count = 0, first_failed_at = NULL, locked_until = $1 WHERE id = $2",
    )
    .bind(until)
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(super) async fn set_failures(
    tx: &mut Tx,
    user_id: i64,
    count: i64,
    first: i64,
) -> AppResult<()> {
    sqlx::query("UPDATE users SET failed_count = $1, first_failed_at = $2 WHERE id = $3")
        .bind(count)
        .bind(first)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Remember the TOTP step just used, unless it (or a later one) was used already; true when
/// it was not. Its own transaction, not audited (as the login it belongs to is).
pub(super) async fn consume_totp_step(
    state: &AppState,
    user_id: i64,
    step: i64,
) -> AppResult<bool> {
    let mut w = state.db.begin_write().await?;
    let done =
        sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
            .bind(step)
            .bind(user_id)
            .execute(w.conn())
            .await?
            .rows_affected();
    w.commit().await?;
    Ok(done == 1)
}

/// Store a new, not yet confirmed TOTP secret (encrypted). Its own transaction, not audited:
/// nothing is switched on until the enrolment is confirmed.
pub(super) async fn store_totp_secret(
    state: &AppState,
    user_id: i64,
    encrypted: Vec<u8>,
) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    sqlx::query("UPDATE users SET totp_secret = $1, totp_enabled = 0 WHERE id = $2")
        .bind(encrypted)
        .bind(user_id)
        .execute(w.conn())
        .await?;
    w.commit().await?;
    Ok(())
}

pub(super) async fn enable_totp(tx: &mut Tx, user_id: i64) -> AppResult<()> {
    let now = tx.now();
    sqlx::query("UPDATE users SET totp_enabled = 1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The session has given its second factor.
pub(super) async fn session_mfa_passed(tx: &mut Tx, session_id: i64) -> AppResult<()> {
    sqlx::query("UPDATE sessions SET mfa_passed = 1 WHERE id = $1")
        .bind(session_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub(super) async fn revoke_session(tx: &mut Tx, session_id: i64, now: i64) -> AppResult<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(session_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Revoke every session of a user (password change, disable, reset), inside a transaction.
pub async fn revoke_all_sessions(
    conn: &mut AnyConnection,
    user_id: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(conn)
        .await?
        .rows_affected(),
    )
}

/// A new own password: the change is done, `must_change_password` cleared.
pub(super) async fn set_own_password(
    tx: &mut Tx,
    user_id: i64,
    hash: &str,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE users SET password_hash = $1, password_changed_at = $2, must_change_password = 0, updated_at = $2 WHERE id = $3",
    )
    .bind(hash)
    .bind(now)
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Revoke every personal API token of a user (a password change or reset, disabling).
pub async fn revoke_all_tokens(conn: &mut AnyConnection, user_id: i64, now: i64) -> AppResult<u64> {
    Ok(sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Forget a user's second factor: the TOTP secret, so the next login enrols a new one.
pub async fn clear_second_factor(tx: &mut Tx, user_id: i64) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_enabled = 0, totp_last_step = 0, \
         updated_at = $1 WHERE id = $2",
    )
    .bind(now)
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Replace a user's recovery codes with new ones (their hashes), inside the audited change.
pub(super) async fn replace_recovery_codes(
    tx: &mut Tx,
    user_id: i64,
    hashes: &[String],
) -> AppResult<()> {
    let now = tx.now();
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    for h in hashes {
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(user_id)
        .bind(h)
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Spend an unused recovery code of the user with this hash; whether one was spent. Its own
/// small transaction (like a TOTP step), so a code opens at most one login even when two
/// attempts race.
pub(super) async fn spend_recovery_code(
    state: &AppState,
    user_id: i64,
    hash: &str,
    now: i64,
) -> AppResult<bool> {
    let mut w = state.db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1          WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(hash)
    .execute(w.conn())
    .await?
    .rows_affected();
    w.commit().await?;
    Ok(n > 0)
}

/// How many unused recovery codes a user has.
pub(super) async fn recovery_codes_left(state: &AppState, user_id: i64) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(state.db.pool())
    .await?)
}

/// A deployment setting (`kv_settings`).
pub(super) async fn setting(state: &AppState, key: &str) -> AppResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT value FROM kv_settings WHERE key = $1")
            .bind(key)
            .fetch_optional(state.db.pool())
            .await?,
    )
}

/// Set a deployment setting (`kv_settings`), inside the caller's audited transaction.
pub(super) async fn put_setting(tx: &mut Tx, key: &str, value: &str) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO kv_settings (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Has this session given its second factor?
pub(super) async fn session_passed_mfa(state: &AppState, session_id: i64) -> AppResult<bool> {
    let v: Option<i64> =
        sqlx::query_scalar("SELECT mfa_passed FROM sessions WHERE id = $1 AND revoked_at IS NULL")
            .bind(session_id)
            .fetch_optional(state.db.pool())
            .await?;
    Ok(v.is_some_and(|v| v != 0))
}

/// A live (not revoked, not expired) device credential of the user with this hash.
pub(super) async fn live_device(
    state: &AppState,
    user_id: i64,
    hash: &str,
    now: i64,
) -> AppResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM device_credentials WHERE token_hash = $1 AND user_id = $2 \
         AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(hash)
    .bind(user_id)
    .bind(now)
    .fetch_optional(state.db.pool())
    .await?)
}

/// Record that a device credential opened a login.
pub(super) async fn device_used(tx: &mut Tx, device_id: i64, now: i64) -> AppResult<()> {
    sqlx::query("UPDATE device_credentials SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(device_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A new device credential (its hash), inside the caller's audited transaction.
pub(super) async fn insert_device(
    tx: &mut Tx,
    user_id: i64,
    hash: &str,
    label: &str,
    now: i64,
    expires_at: i64,
) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO device_credentials (user_id, token_hash, label, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(hash)
    .bind(label)
    .bind(now)
    .bind(expires_at)
    .fetch_one(tx.conn())
    .await?)
}

/// The device credentials of a user, newest first.
pub(super) async fn devices_of(
    state: &AppState,
    user_id: i64,
    now: i64,
) -> AppResult<Vec<super::devices::DeviceView>> {
    let rows = sqlx::query(
        "SELECT id, user_id, label, created_at, expires_at, last_used_at, revoked_at, revoked_by \
         FROM device_credentials WHERE user_id = $1 ORDER BY id DESC",
    )
    .bind(user_id)
    .fetch_all(state.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let revoked_at: Option<i64> = r.try_get("revoked_at")?;
            let expires_at: i64 = r.try_get("expires_at")?;
            Ok(super::devices::DeviceView {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                label: r.try_get("label")?,
                created_at: r.try_get("created_at")?,
                expires_at,
                last_used_at: r.try_get("last_used_at")?,
                revoked_at,
                revoked_by: r.try_get("revoked_by")?,
                active: revoked_at.is_none() && expires_at > now,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Revoke one (`Some(id)`) or every live device credential of a user; how many were live.
pub(super) async fn revoke_device(
    tx: &mut Tx,
    user_id: i64,
    device_id: Option<i64>,
    by: &str,
    now: i64,
) -> AppResult<u64> {
    let q = match device_id {
        Some(id) => sqlx::query(
            "UPDATE device_credentials SET revoked_at = $1, revoked_by = $2 \
             WHERE user_id = $3 AND id = $4 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(by)
        .bind(user_id)
        .bind(id),
        None => sqlx::query(
            "UPDATE device_credentials SET revoked_at = $1, revoked_by = $2 \
             WHERE user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(by)
        .bind(user_id),
    };
    Ok(q.execute(tx.conn()).await?.rows_affected())
}

/// One more wrong password while the account is locked (the lock set the count to 0).
pub(super) async fn count_guess_while_locked(tx: &mut Tx, user_id: i64) -> AppResult<()> {
    sqlx::query("UPDATE users SET failed_count = failed_count + 1 WHERE id = $1")
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}
