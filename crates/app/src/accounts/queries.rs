//! Every SQL statement of accounts, and the only file of the area that runs one.
//!
//! An account belongs where its scope is (`users.scope`, a region code or `"0"` for the whole
//! nation): reading functions take a [`Scoped`] handle, lists are limited to its range in SQL
//! and an account fetched by id is let through [`Scoped::admit`] on its scope (outside: *not
//! found*). Writing functions take the open [`Tx`]; the service commits it with its entry.

use sqlx::Row;

use super::{ApiTokenView, UserView};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::text_or_empty;
use crate::state::AppState;

const VIEW_COLS: &str = "u.id, u.username, u.display_name, u.roles, u.scope, u.org_id, u.disabled, \
    u.locked_until, u.totp_enabled, u.must_change_password, u.phone_masked, r.name AS region_name";

fn view_from_row(r: &sqlx::any::AnyRow, now: i64) -> Result<UserView, sqlx::Error> {
    let roles: String = r.try_get("roles")?;
    let scope: String = r.try_get("scope")?;
    let locked: Option<i64> = r.try_get("locked_until")?;
    Ok(UserView {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        roles: roles
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        region_name: if scope == "0" {
            "全国".to_string()
        } else {
            text_or_empty(r, "region_name")?
        },
        region_code: scope,
        org_id: r.try_get("org_id")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        locked: locked.is_some_and(|t| t > now),
        totp_enabled: r.try_get::<i64, _>("totp_enabled")? != 0,
        must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
        phone_masked: r.try_get("phone_masked")?,
    })
}

/// One account under the handle.
pub(super) async fn user(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<UserView> {
    let sql = format!(
        "SELECT {VIEW_COLS} FROM users u LEFT JOIN regions r ON r.code = u.scope WHERE u.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let v = view_from_row(&row, state.now_ms())?;
    scope.admit(&v.region_code.clone(), v)
}

/// Accounts whose scope lies under the handle, by scope and username.
pub(super) async fn users(state: &AppState, scope: &Scoped<'_>) -> AppResult<Vec<UserView>> {
    let (lo, hi) = scope.range();
    let sql = format!(
        "SELECT {VIEW_COLS} FROM users u LEFT JOIN regions r ON r.code = u.scope \
         WHERE u.scope >= $1 AND u.scope < $2 ORDER BY u.scope, u.username LIMIT 2000"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lo)
        .bind(hi)
        .fetch_all(state.db.pool())
        .await?;
    let now = state.now_ms();
    Ok(rows
        .iter()
        .map(|r| view_from_row(r, now))
        .collect::<Result<_, _>>()?)
}

/// Number of accounts under the handle.
pub(super) async fn count(state: &AppState, scope: &Scoped<'_>) -> AppResult<i64> {
    let (lo, hi) = scope.range();
    Ok(sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM users WHERE scope >= $1 AND scope < $2",
    )
    .bind(lo)
    .bind(hi)
    .fetch_one(state.db.pool())
    .await?)
}

/// The id of an account by username, wherever it is (the caller admits it by scope).
pub(super) async fn id_by_username(state: &AppState, username: &str) -> AppResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(state.db.pool())
            .await?,
    )
}

/// Is the username taken (read inside the write transaction that would take it)?
pub(super) async fn username_taken(tx: &mut Tx, username: &str) -> AppResult<bool> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(tx.conn())
        .await?;
    Ok(exists.is_some())
}

/// Number of accounts of the whole database (the first administrator is made on none).
pub(super) async fn count_all(state: &AppState) -> AppResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM users")
            .fetch_one(state.db.pool())
            .await?,
    )
}

/// A new account row (must change its password at first login); returns its id.
pub(super) struct NewRow<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub org_id: Option<i64>,
    pub scope: &'a str,
    pub roles: &'a str,
    pub password_hash: &'a str,
}

pub(super) async fn insert_user(tx: &mut Tx, n: &NewRow<'_>) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO users (username, display_name, org_id, scope, roles, password_hash, \
         password_changed_at, must_change_password, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $7, $7) RETURNING id",
    )
    .bind(n.username)
    .bind(n.display_name)
    .bind(n.org_id)
    .bind(n.scope)
    .bind(n.roles)
    .bind(n.password_hash)
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

/// Set (`Some((ciphertext, masked))`) or clear (`None`) an account's registered phone.
pub(super) async fn set_phone(
    tx: &mut Tx,
    id: i64,
    phone: Option<(Vec<u8>, String)>,
) -> AppResult<()> {
    let (enc, masked) = match phone {
        Some((e, m)) => (Some(e), m),
        None => (None, String::new()),
    };
    sqlx::query("UPDATE users SET phone_enc = $1, phone_masked = $2 WHERE id = $3")
        .bind(enc)
        .bind(masked)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The sealed registered phone of an account, read inside the write that uses it.
pub(super) async fn phone_enc(tx: &mut Tx, id: i64) -> AppResult<Option<Vec<u8>>> {
    let row: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT phone_enc FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    Ok(row.flatten())
}

/// The first administrator (`admin`, sysadmin, national); returns its id.
pub(super) async fn insert_initial_admin(tx: &mut Tx, password_hash: &str) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO users (username, display_name, scope, roles, password_hash, password_changed_at, \
         must_change_password, created_at, updated_at) VALUES ('admin', '系统管理员', '0', 'sysadmin', $1, $2, 1, $2, $2) RETURNING id",
    )
    .bind(password_hash)
    .bind(now)
    .fetch_one(tx.conn())
    .await?)
}

/// The administered fields of an account, as they will be.
pub(super) struct Admin<'a> {
    pub display_name: &'a str,
    pub roles: &'a str,
    pub scope: &'a str,
    pub org_id: Option<i64>,
    pub disabled: bool,
}

pub(super) async fn update_user(tx: &mut Tx, id: i64, a: &Admin<'_>) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE users SET display_name = $1, roles = $2, scope = $3, org_id = $4, disabled = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(a.display_name)
    .bind(a.roles)
    .bind(a.scope)
    .bind(a.org_id)
    .bind(i64::from(a.disabled))
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(super) async fn unlock(tx: &mut Tx, id: i64) -> AppResult<()> {
    sqlx::query(
        "UPDATE users SET locked_until = NULL, failed_count = 0, first_failed_at = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A reset password (to be changed at next login); the lock and failure count cleared.
pub(super) async fn reset_password(tx: &mut Tx, id: i64, hash: &str) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE users SET password_hash = $1, password_changed_at = $2, must_change_password = 1, \
         locked_until = NULL, failed_count = 0, first_failed_at = NULL, updated_at = $2 WHERE id = $3",
    )
    .bind(hash)
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A new personal API token row; returns its id.
pub(super) struct NewToken<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub name: &'a str,
    pub prefix: &'a str,
    pub expires_at: i64,
}

pub(super) async fn insert_token(tx: &mut Tx, t: &NewToken<'_>) -> AppResult<i64> {
    let now = tx.now();
    Ok(sqlx::query_scalar(
        "INSERT INTO api_tokens (token_hash, user_id, name, prefix, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(t.token_hash)
    .bind(t.user_id)
    .bind(t.name)
    .bind(t.prefix)
    .bind(now)
    .bind(t.expires_at)
    .fetch_one(tx.conn())
    .await?)
}

/// The tokens of one user (its own; never another's), newest first.
pub(super) async fn tokens(state: &AppState, user_id: i64) -> AppResult<Vec<ApiTokenView>> {
    let rows = sqlx::query(
        "SELECT id, name, prefix, created_at, last_used_at, expires_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY id DESC",
    )
    .bind(user_id)
    .fetch_all(state.db.pool())
    .await?;
    let fmt = |ms: i64| backstop_core::clock::format_beijing(backstop_core::clock::from_millis(ms));
    let mut out = Vec::new();
    for r in rows {
        out.push(ApiTokenView {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            prefix: r.try_get("prefix")?,
            created_at: fmt(r.try_get("created_at")?),
            last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(fmt),
            expires_at: r.try_get::<Option<i64>, _>("expires_at")?.map(fmt),
            revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        });
    }
    Ok(out)
}

/// Revoke one of the user's own live tokens; returns how many (0 or 1).
pub(super) async fn revoke_token(tx: &mut Tx, id: i64, user_id: i64) -> AppResult<u64> {
    let now = tx.now();
    Ok(sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .bind(user_id)
    .execute(tx.conn())
    .await?
    .rows_affected())
}
