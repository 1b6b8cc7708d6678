//! Authentication: password hashing (argon2id), the login procedure with lockout, TOTP second
//! factor, web sessions and personal API tokens, and the "stage" a session is in.
//!
//! Rules (等保 level 3), all measured on the injected clock:
//! - the same answer for an unknown user, a wrong password, a disabled or a locked account;
//!   an argon2 verification runs in every case so timing does not tell them apart;
//! - `max_failures` failures inside `lockout_minutes` lock the account for `lockout_minutes`;
//! - a session token is 256 random bits, stored only as its SHA-256; it expires after
//!   `session_idle_minutes` without use and `session_absolute_minutes` after login, and is
//!   revoked by logout, by a password change (all sessions of the user) and by disabling;
//! - a session that has the password but not yet the TOTP code, or must still change its
//!   password or enrol TOTP (mandatory for the three administrator roles), is in a `Stage`
//!   other than `Full` and can do nothing but finish that step or log out.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use backstop_core::error::ErrorCode;
use backstop_core::region::Scope;
use backstop_core::role::RoleSet;
use rand::RngCore;
use serde_json::json;
use sqlx::Row;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::audit::{self, Entry, Who};
use crate::kernel::actor::{Actor, Via};
use crate::kernel::authcache::{Cached, Credential};
use crate::kernel::crypto::{random_token, token_hash};
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

pub const SESSION_PREFIX: &str = "s_";
pub const API_TOKEN_PREFIX: &str = "bsk_";
const MINUTE_MS: i64 = 60_000;

/// Hash a password with argon2id (default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> AppResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h: PasswordHash| h.to_string())
        .map_err(|e| AppError::internal("argon2", e))
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A real hash of a random password, verified against when the user does not exist.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password(&random_token("dummy")).unwrap_or_default())
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Full,
    NeedTotp,
    NeedPasswordChange,
    NeedTotpEnrollment,
}

impl Stage {
    /// The page that finishes this stage.
    pub fn page(self) -> &'static str {
        match self {
            Stage::Full => "/",
            Stage::NeedTotp => "/login/totp",
            Stage::NeedPasswordChange => "/account/password",
            Stage::NeedTotpEnrollment => "/account/totp",
        }
    }
    pub fn error(self) -> AppError {
        match self {
            Stage::Full => AppError::forbidden(),
            Stage::NeedTotp => AppError::new(ErrorCode::TotpRequired),
            Stage::NeedPasswordChange => AppError::new(ErrorCode::PasswordChangeRequired),
            Stage::NeedTotpEnrollment => AppError::msg(
                ErrorCode::TotpRequired,
                "管理员账户必须先绑定动态验证码（TOTP）",
            ),
        }
    }
}

/// The columns of `users` that authentication needs.
#[derive(Debug, Clone)]
pub struct UserAuth {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub org_id: Option<i64>,
    pub scope: String,
    pub roles: String,
    pub password_hash: String,
    pub password_changed_at: i64,
    pub must_change_password: bool,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled: bool,
    pub totp_last_step: i64,
    pub disabled: bool,
    pub failed_count: i64,
    pub first_failed_at: Option<i64>,
    pub locked_until: Option<i64>,
}

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

impl UserAuth {
    pub fn role_set(&self) -> RoleSet {
        RoleSet::parse_list(&self.roles).unwrap_or_default()
    }

    /// The stage of a session of this user, `mfa_passed` telling whether the session gave a
    /// TOTP code.
    pub fn stage(&self, mfa_passed: bool, now_ms: i64, max_age_days: i64) -> Stage {
        // `max_age_days <= 0` disables expiry, as `PasswordPolicy::is_expired` documents.
        let expired = max_age_days > 0
            && now_ms - self.password_changed_at >= max_age_days * 24 * 60 * MINUTE_MS;
        if self.totp_enabled && !mfa_passed {
            Stage::NeedTotp
        } else if self.must_change_password || expired {
            Stage::NeedPasswordChange
        } else if self.role_set().needs_totp() && !self.totp_enabled {
            Stage::NeedTotpEnrollment
        } else {
            Stage::Full
        }
    }

    pub fn actor(&self, source: &str, via: Via) -> Actor {
        Actor {
            user_id: Some(self.id),
            username: self.username.clone(),
            roles: self.role_set(),
            scope: Scope::parse(&self.scope).unwrap_or(Scope::Region(
                // An unparsable stored scope must never widen access: a code nobody has.
                backstop_core::region::RegionCode::parse("99").unwrap_or_else(|_| unreachable!()),
            )),
            org_id: self.org_id,
            source: source.to_string(),
            via,
        }
    }

    fn who(&self, source: &str) -> Who {
        Who {
            user_id: Some(self.id),
            username: self.username.clone(),
            source: source.to_string(),
        }
    }
}

/// What a successful login gives.
#[derive(Debug, Clone)]
pub struct LoginResult {
    pub token: String,
    pub expires_at_ms: i64,
    pub must_change_password: bool,
    pub stage: Stage,
    pub user_id: i64,
}

fn credentials_error() -> AppError {
    AppError::new(ErrorCode::InvalidCredentials)
}

/// Log in with a password and, if the account has TOTP, a code. With `allow_pending_totp`
/// (web login) a missing code yields a session in `Stage::NeedTotp`; without it (API) a
/// missing code is answered `totp_required` and no session is made.
pub async fn login(
    state: &AppState,
    username: &str,
    password: &str,
    totp: Option<&str>,
    allow_pending_totp: bool,
    source: &str,
) -> AppResult<LoginResult> {
    let now = state.now_ms();
    let username = username.trim();
    let policy = &state.config.policy;
    let user = if username.is_empty() || username.chars().count() > 64 {
        None
    } else {
        load_user_by_name(state, username).await?
    };
    let Some(user) = user else {
        let _ = verify_password(dummy_hash(), password);
        let who = Who {
            user_id: None,
            username: username.chars().take(64).collect(),
            source: source.to_string(),
        };
        audit::append_alone(
            state,
            &who,
            login_entry("failure", json!({"reason": "unknown_user"}), "0"),
        )
        .await?;
        return Err(credentials_error());
    };
    let password_ok = verify_password(&user.password_hash, password);
    let locked = user.locked_until.is_some_and(|t| t > now);
    if user.disabled || locked {
        let reason = if user.disabled { "disabled" } else { "locked" };
        audit::append_alone(
            state,
            &user.who(source),
            login_entry("failure", json!({"reason": reason}), &user.scope),
        )
        .await?;
        return Err(credentials_error());
    }
    if !password_ok {
        register_failure(state, &user, source, "bad_password").await?;
        return Err(credentials_error());
    }
    let mut mfa_passed = false;
    if user.totp_enabled {
        match totp.map(str::trim).filter(|c| !c.is_empty()) {
            Some(code) => {
                if !check_and_consume_totp(state, &user, code).await? {
                    register_failure(state, &user, source, "bad_totp").await?;
                    return Err(AppError::new(ErrorCode::InvalidTotp));
                }
                mfa_passed = true;
            }
            None if !allow_pending_totp => {
                return Err(AppError::new(ErrorCode::TotpRequired));
            }
            None => {}
        }
    }
    let token = random_token(SESSION_PREFIX);
    let expires_at = now + state.config.session_absolute_minutes * MINUTE_MS;
    let mut w = state.db.begin_write().await?;
    // Only a complete login clears the failure count: a password-only (TOTP pending) session
    // must not reset it, or TOTP codes could be guessed without ever reaching the lockout.
    if !user.totp_enabled || mfa_passed {
        sqlx::query(
            "UPDATE users SET failed_count = 0, first_failed_at = NULL, locked_until = NULL WHERE id = $1",
        )
        .bind(user.id)
        .execute(w.conn())
        .await?;
    }
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, mfa_passed, created_at, last_seen_at, expires_at, source) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token_hash(&token))
    .bind(user.id)
    .bind(i64::from(mfa_passed))
    .bind(now)
    .bind(now)
    .bind(expires_at)
    .bind(source)
    .execute(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &user.who(source),
        login_entry("success", json!({"totp": mfa_passed}), &user.scope),
    )
    .await?;
    w.commit().await?;
    state.auth_cache.invalidate();
    let stage = user.stage(mfa_passed, now, policy.max_age_days);
    Ok(LoginResult {
        token,
        expires_at_ms: expires_at,
        must_change_password: stage == Stage::NeedPasswordChange,
        stage,
        user_id: user.id,
    })
}

fn login_entry(outcome: &'static str, detail: serde_json::Value, scope: &str) -> Entry<'static> {
    Entry {
        action: "auth.login",
        object_type: "session",
        object_id: String::new(),
        region_code: scope.to_string(),
        outcome,
        detail,
    }
}

/// Count a failed attempt; lock the account when the window fills.
async fn register_failure(
    state: &AppState,
    user: &UserAuth,
    source: &str,
    reason: &str,
) -> AppResult<()> {
    let now = state.now_ms();
    let policy = &state.config.policy;
    let window = policy.lockout_minutes * MINUTE_MS;
    let mut w = state.db.begin_write().await?;
    // Re-read inside the write transaction so concurrent failures all count.
    let row = sqlx::query("SELECT failed_count, first_failed_at FROM users WHERE id = $1")
        .bind(user.id)
        .fetch_one(w.conn())
        .await?;
    let count: i64 = row.try_get("failed_count")?;
    let first: Option<i64> = row.try_get("first_failed_at")?;
    let (count, first) = match first {
        Some(f) if now - f <= window => (count + 1, f),
        _ => (1, now),
    };
    let lock = count >= i64::from(policy.max_failures);
    if lock {
        sqlx::query(
            "UPDATE users SET failed_count = 0, first_failed_at = NULL, locked_until = $1 WHERE id = $2",
        )
        .bind(now + window)
        .bind(user.id)
        .execute(w.conn())
        .await?;
    } else {
        sqlx::query("UPDATE users SET failed_count = $1, first_failed_at = $2 WHERE id = $3")
            .bind(count)
            .bind(first)
            .bind(user.id)
            .execute(w.conn())
            .await?;
    }
    let who = user.who(source);
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &who,
        login_entry(
            "failure",
            json!({"reason": reason, "failures": count}),
            &user.scope,
        ),
    )
    .await?;
    if lock {
        audit::append(
            w.conn(),
            state.db.backend(),
            now,
            &who,
            Entry {
                action: "auth.lockout",
                object_type: "user",
                object_id: user.id.to_string(),
                region_code: user.scope.clone(),
                outcome: "success",
                detail: json!({"minutes": policy.lockout_minutes}),
            },
        )
        .await?;
    }
    w.commit().await?;
    state.auth_cache.invalidate();
    Ok(())
}

/// The TOTP generator for a secret (SHA-1, 6 digits, 30 s, one step of skew).
pub fn totp_for(secret: &[u8]) -> AppResult<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(Secret::from(secret.to_vec()))
        .build()
        .map_err(|e| AppError::internal("totp", format!("{e:?}")))
}

/// The current code for a secret at a time (for tests and tooling).
pub fn totp_code(secret: &[u8], unix_secs: u64) -> AppResult<String> {
    Ok(totp_for(secret)?.generate(unix_secs).to_string())
}

fn decrypt_secret(state: &AppState, user: &UserAuth) -> AppResult<Vec<u8>> {
    user.totp_secret
        .as_deref()
        .and_then(|c| state.keys.decrypt(c))
        .ok_or_else(|| AppError::internal("totp", "secret missing or undecryptable"))
}

/// Check a code and, if right, remember its step so it cannot be replayed.
async fn check_and_consume_totp(state: &AppState, user: &UserAuth, code: &str) -> AppResult<bool> {
    let secret = decrypt_secret(state, user)?;
    let now_s = u64::try_from(state.now_ms() / 1000).unwrap_or(0);
    let Some(step) = totp_for(&secret)?.check(code, now_s) else {
        return Ok(false);
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let mut w = state.db.begin_write().await?;
    let done =
        sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
            .bind(step)
            .bind(user.id)
            .execute(w.conn())
            .await?
            .rows_affected();
    w.commit().await?;
    state.auth_cache.invalidate();
    Ok(done == 1)
}

/// A resolved credential: who, how far through login, and the session behind it.
#[derive(Debug, Clone)]
pub struct Authed {
    pub actor: Actor,
    pub stage: Stage,
    pub user: UserAuth,
}

/// Resolve a session token or a personal API token. Unknown, expired, revoked or belonging to
/// a disabled account: `unauthenticated`.
///
/// A credential whose login is complete is remembered for a few seconds (`AuthCache`), so a
/// burst of requests does not read `sessions` and `users` each time; every change to users,
/// sessions or tokens in this process clears that memory at once.
pub async fn authenticate(state: &AppState, token: &str, source: &str) -> AppResult<Authed> {
    let now = state.now_ms();
    let unauth = || AppError::new(ErrorCode::Unauthenticated);
    if token.len() > 200 {
        return Err(unauth());
    }
    let is_api = token.starts_with(API_TOKEN_PREFIX);
    if !is_api && !token.starts_with(SESSION_PREFIX) {
        return Err(unauth());
    }
    let hash = token_hash(token);
    let cache = &state.auth_cache;
    let (found, fresh) = match cache.get(&hash, now) {
        Some(c) => (c, None),
        None => {
            let generation = cache.generation();
            let c = load_credential(state, &hash, is_api)
                .await?
                .ok_or_else(unauth)?;
            (c, Some(generation))
        }
    };
    if found.user.disabled {
        return Err(unauth());
    }
    match found.credential {
        Credential::ApiToken {
            id,
            expires_at,
            last_used_at,
        } => {
            if expires_at.is_some_and(|e| e <= now) {
                return Err(unauth());
            }
            if let Some(generation) = fresh {
                cache.put(&hash, generation, now, found.clone());
            }
            if cache.claim_touch(&hash, now, MINUTE_MS, last_used_at.unwrap_or(i64::MIN / 2)) {
                record_use(
                    state,
                    "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2",
                    now,
                    id,
                )
                .await?;
            }
            Ok(Authed {
                actor: found.user.actor(source, Via::ApiToken(id)),
                stage: Stage::Full,
                user: found.user,
            })
        }
        Credential::Session {
            id,
            mfa_passed,
            expires_at,
            last_seen_at,
        } => {
            let idle = state.config.session_idle_minutes * MINUTE_MS;
            if now >= expires_at || now - last_seen_at > idle {
                return Err(unauth());
            }
            let stage = found
                .user
                .stage(mfa_passed, now, state.config.policy.max_age_days);
            // Only complete logins are remembered: a session in the middle of a login step
            // (TOTP, password change) is read afresh each time.
            if let Some(generation) = fresh
                && stage == Stage::Full
            {
                cache.put(&hash, generation, now, found.clone());
            }
            if cache.claim_touch(&hash, now, 15_000, last_seen_at) {
                record_use(
                    state,
                    "UPDATE sessions SET last_seen_at = $1 WHERE id = $2",
                    now,
                    id,
                )
                .await?;
            }
            Ok(Authed {
                actor: found.user.actor(source, Via::Session(id)),
                stage,
                user: found.user,
            })
        }
    }
}

/// The stored credential behind a token hash and its user; `None` if unknown, revoked, or
/// its user is gone.
async fn load_credential(state: &AppState, hash: &str, is_api: bool) -> AppResult<Option<Cached>> {
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

/// Record when a session or token was last used (one small write, joining the group commit
/// on SQLite).
async fn record_use(state: &AppState, sql: &'static str, now: i64, id: i64) -> AppResult<()> {
    state
        .db
        .write(move |conn| {
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

/// End a session (logout).
pub async fn logout(state: &AppState, authed: &Authed) -> AppResult<()> {
    let Via::Session(sid) = authed.actor.via else {
        return Ok(());
    };
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(sid)
        .execute(w.conn())
        .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(&authed.actor),
        Entry {
            action: "auth.logout",
            object_type: "session",
            object_id: sid.to_string(),
            region_code: authed.user.scope.clone(),
            outcome: "success",
            detail: json!({}),
        },
    )
    .await?;
    w.commit().await?;
    state.auth_cache.invalidate();
    Ok(())
}

/// Revoke every session of a user (password change, disable, reset), inside a transaction.
pub async fn revoke_all_sessions(
    conn: &mut sqlx::AnyConnection,
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

/// Change one's own password. Every session of the user is revoked; the caller gets a fresh
/// session token (its TOTP state carried over) so it can go on working.
pub async fn change_password(
    state: &AppState,
    authed: &Authed,
    old_password: &str,
    new_password: &str,
) -> AppResult<LoginResult> {
    let user = &authed.user;
    if !verify_password(&user.password_hash, old_password) {
        register_failure(state, user, &authed.actor.source, "bad_old_password").await?;
        return Err(AppError::field(
            ErrorCode::InvalidCredentials,
            "old_password",
            "原密码错误",
        ));
    }
    if old_password == new_password {
        return Err(AppError::field(
            ErrorCode::WeakPassword,
            "new_password",
            "新密码不能与原密码相同",
        ));
    }
    let context = [user.username.as_str(), user.display_name.as_str()];
    state
        .config
        .policy
        .check(new_password, &context)
        .map_err(|e| AppError::field(ErrorCode::WeakPassword, "new_password", e.to_string()))?;
    let hash = hash_password(new_password)?;
    let now = state.now_ms();
    let mfa_passed = match authed.actor.via {
        Via::Session(_) => authed.stage != Stage::NeedTotp,
        _ => false,
    };
    let token = random_token(SESSION_PREFIX);
    let expires_at = now + state.config.session_absolute_minutes * MINUTE_MS;
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE users SET password_hash = $1, password_changed_at = $2, must_change_password = 0, updated_at = $2 WHERE id = $3",
    )
    .bind(&hash)
    .bind(now)
    .bind(user.id)
    .execute(w.conn())
    .await?;
    let revoked = revoke_all_sessions(w.conn(), user.id, now).await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, mfa_passed, created_at, last_seen_at, expires_at, source) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token_hash(&token))
    .bind(user.id)
    .bind(i64::from(mfa_passed))
    .bind(now)
    .bind(now)
    .bind(expires_at)
    .bind(&authed.actor.source)
    .execute(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(&authed.actor),
        Entry {
            action: "auth.password_change",
            object_type: "user",
            object_id: user.id.to_string(),
            region_code: user.scope.clone(),
            outcome: "success",
            detail: json!({"sessions_revoked": revoked}),
        },
    )
    .await?;
    w.commit().await?;
    state.auth_cache.invalidate();
    let mut fresh = user.clone();
    fresh.must_change_password = false;
    fresh.password_changed_at = now;
    let stage = fresh.stage(mfa_passed, now, state.config.policy.max_age_days);
    Ok(LoginResult {
        token,
        expires_at_ms: expires_at,
        must_change_password: false,
        stage,
        user_id: user.id,
    })
}

/// A TOTP enrolment in progress: the secret to show once, as text and as a QR code.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TotpEnrollment {
    pub secret_base32: String,
    pub otpauth_uri: String,
    #[serde(skip)]
    pub qr_svg: String,
}

/// Start (or restart) TOTP enrolment: a new secret is stored encrypted, not yet enabled.
pub async fn begin_totp_enrollment(state: &AppState, authed: &Authed) -> AppResult<TotpEnrollment> {
    if authed.user.totp_enabled {
        return Err(AppError::msg(ErrorCode::Conflict, "已绑定动态验证码"));
    }
    let mut secret = [0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    let mut w = state.db.begin_write().await?;
    sqlx::query("UPDATE users SET totp_secret = $1, totp_enabled = 0 WHERE id = $2")
        .bind(state.keys.encrypt(&secret))
        .bind(authed.user.id)
        .execute(w.conn())
        .await?;
    w.commit().await?;
    state.auth_cache.invalidate();
    Ok(enrollment_view(&authed.user.username, &secret))
}

/// The enrolment in progress (a stored secret not yet confirmed), if any. Reading it changes
/// nothing, so the enrolment page can be shown on GET.
pub async fn pending_totp_enrollment(
    state: &AppState,
    user_id: i64,
) -> AppResult<Option<TotpEnrollment>> {
    let Some(user) = load_user(state, user_id).await? else {
        return Ok(None);
    };
    if user.totp_enabled {
        return Ok(None);
    }
    Ok(user
        .totp_secret
        .as_deref()
        .and_then(|c| state.keys.decrypt(c))
        .map(|secret| enrollment_view(&user.username, &secret)))
}

fn enrollment_view(username: &str, secret: &[u8]) -> TotpEnrollment {
    let b32 = Secret::from(secret.to_vec()).to_base32();
    let label = username.replace([':', '?', '&', '#', '/', ' '], "_");
    let uri = format!(
        "otpauth://totp/Backstop:{label}?secret={b32}&issuer=Backstop&algorithm=SHA1&digits=6&period=30"
    );
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .map(|c| {
            c.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default();
    TotpEnrollment {
        secret_base32: b32,
        otpauth_uri: uri,
        qr_svg,
    }
}

/// Confirm enrolment with a first code: TOTP is switched on and this session counts as having
/// given its second factor.
pub async fn confirm_totp_enrollment(
    state: &AppState,
    authed: &Authed,
    code: &str,
) -> AppResult<()> {
    let user = load_user(state, authed.user.id)
        .await?
        .ok_or_else(AppError::not_found)?;
    if user.totp_enabled {
        return Err(AppError::msg(ErrorCode::Conflict, "已绑定动态验证码"));
    }
    if user.totp_secret.is_none() {
        return Err(AppError::msg(ErrorCode::Validation, "请先开始绑定"));
    }
    if !check_and_consume_totp(state, &user, code.trim()).await? {
        return Err(AppError::new(ErrorCode::InvalidTotp));
    }
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    sqlx::query("UPDATE users SET totp_enabled = 1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user.id)
        .execute(w.conn())
        .await?;
    if let Via::Session(sid) = authed.actor.via {
        sqlx::query("UPDATE sessions SET mfa_passed = 1 WHERE id = $1")
            .bind(sid)
            .execute(w.conn())
            .await?;
    }
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(&authed.actor),
        Entry {
            action: "auth.totp_enroll",
            object_type: "user",
            object_id: user.id.to_string(),
            region_code: user.scope.clone(),
            outcome: "success",
            detail: json!({}),
        },
    )
    .await?;
    w.commit().await?;
    state.auth_cache.invalidate();
    Ok(())
}

/// Give the TOTP code for a session that has the password only.
pub async fn verify_session_totp(state: &AppState, authed: &Authed, code: &str) -> AppResult<()> {
    let Via::Session(sid) = authed.actor.via else {
        return Err(AppError::forbidden());
    };
    if authed.stage != Stage::NeedTotp {
        return Ok(());
    }
    let now = state.now_ms();
    // A locked account's pending session accepts no code (no guessing past the lockout).
    if authed.user.locked_until.is_some_and(|t| t > now) {
        audit::append_alone(
            state,
            &authed.user.who(&authed.actor.source),
            login_entry("failure", json!({"reason": "locked"}), &authed.user.scope),
        )
        .await?;
        return Err(AppError::new(ErrorCode::InvalidTotp));
    }
    if !check_and_consume_totp(state, &authed.user, code.trim()).await? {
        register_failure(state, &authed.user, &authed.actor.source, "bad_totp").await?;
        return Err(AppError::new(ErrorCode::InvalidTotp));
    }
    let mut w = state.db.begin_write().await?;
    sqlx::query("UPDATE sessions SET mfa_passed = 1 WHERE id = $1")
        .bind(sid)
        .execute(w.conn())
        .await?;
    // The login is now complete: clear the failure count.
    sqlx::query("UPDATE users SET failed_count = 0, first_failed_at = NULL WHERE id = $1")
        .bind(authed.user.id)
        .execute(w.conn())
        .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(&authed.actor),
        Entry {
            action: "auth.totp_verify",
            object_type: "session",
            object_id: sid.to_string(),
            region_code: authed.user.scope.clone(),
            outcome: "success",
            detail: json!({}),
        },
    )
    .await?;
    w.commit().await?;
    state.auth_cache.invalidate();
    Ok(())
}

/// A strong random password meeting the default policy (initial admin, resets).
pub fn generate_password() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGIT: &[u8] = b"23456789";
    const SYM: &[u8] = b"#%+-=@";
    let mut rng = rand::rng();
    let mut pick = |set: &[u8]| set[(rng.next_u32() as usize) % set.len()] as char;
    let mut s = String::new();
    for i in 0..16 {
        let set = match i % 4 {
            0 => LOWER,
            1 => UPPER,
            2 => DIGIT,
            _ => SYM,
        };
        s.push(pick(set));
    }
    s
}

/// The stage a session reaches once its TOTP code is accepted.
pub fn authenticate_stage_after_totp(a: &Authed) -> Stage {
    let mut u = a.user.clone();
    u.totp_enabled = true;
    // mfa now passed: recompute without the TOTP step (password age is checked on next request).
    if u.must_change_password {
        Stage::NeedPasswordChange
    } else {
        Stage::Full
    }
}
