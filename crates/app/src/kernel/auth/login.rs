//! The login procedure: a password (and, when the account has one, a TOTP code) gives a
//! session; failures are counted and fill a window that locks the account; a session that
//! has the password only gives its TOTP code later. Every attempt, successful or not, leaves
//! an `auth.login` entry; a lock leaves `auth.lockout`.

use backstop_core::error::ErrorCode;
use serde_json::{Value, json};

use super::password::{dummy_hash, verify_password};
use super::queries;
use super::sessions::open_session;
use super::totp::check_and_consume_totp;
use super::{MINUTE_MS, Stage, UserAuth};
use crate::audit::Who;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Via;
use crate::kernel::auth::Authed;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

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

/// The `auth.login` entry (a session, no id yet), recorded where the account's scope is.
fn login_change(failed: bool, detail: Value, scope: &str) -> Change {
    let c = Change::new("auth.login", "session", "", scope).detail(detail);
    if failed { c.failed() } else { c }
}

/// Record a refused login in its own transaction.
async fn refuse(state: &AppState, who: Who, detail: Value, scope: &str) -> AppResult<()> {
    Tx::begin_as(state, who)
        .await?
        .commit(login_change(true, detail, scope))
        .await
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
    login_inner(
        state,
        username,
        password,
        totp,
        allow_pending_totp,
        &[],
        source,
    )
    .await
}

/// The web login: a password, and the device credentials the browser presents (cookies sent
/// to `/login`). A live credential of the account stands in for the TOTP code when the
/// account's roles need the second factor only once per device (`devices`); otherwise the
/// session waits for the TOTP step.
pub async fn login_web(
    state: &AppState,
    username: &str,
    password: &str,
    devices: &[String],
    source: &str,
) -> AppResult<LoginResult> {
    login_inner(state, username, password, None, true, devices, source).await
}

async fn login_inner(
    state: &AppState,
    username: &str,
    password: &str,
    totp: Option<&str>,
    allow_pending_totp: bool,
    devices: &[String],
    source: &str,
) -> AppResult<LoginResult> {
    let now = state.now_ms();
    let username = username.trim();
    super::settings::refresh_rules_if_stale(state).await?;
    let rules = state.rules();
    let policy = &rules.policy;
    if let Some(why) = state.auth_cache.throttle.check(source, now) {
        let who = Who {
            user_id: None,
            username: username.chars().take(64).collect(),
            source: source.to_string(),
        };
        let reason = match why {
            super::Throttled::Source => "rate_limited_source",
            super::Throttled::Global => "rate_limited_global",
        };
        refuse(state, who, json!({"reason": reason}), "0").await?;
        return Err(AppError::new(ErrorCode::RateLimited));
    }
    let user = if username.is_empty() || username.chars().count() > 64 {
        None
    } else {
        queries::load_user_by_name(state, username).await?
    };
    let Some(user) = user else {
        let _ = verify_password(dummy_hash(), password);
        let who = Who {
            user_id: None,
            username: username.chars().take(64).collect(),
            source: source.to_string(),
        };
        refuse(state, who, json!({"reason": "unknown_user"}), "0").await?;
        state.auth_cache.throttle.failed(source, now);
        return Err(credentials_error());
    };
    let password_ok = verify_password(&user.password_hash, password);
    let locked = user.locked_until.is_some_and(|t| t > now);
    // A child deployment's service account never signs in (issue 20), whatever its password.
    let service =
        backstop_core::role::RoleSet::parse_list(&user.roles).is_ok_and(|r| r.is_service());
    if user.disabled || service {
        refuse(
            state,
            user.who(source),
            json!({"reason": if service { "service_account" } else { "disabled" }}),
            &user.scope,
        )
        .await?;
        state.auth_cache.throttle.failed(source, now);
        return Err(credentials_error());
    }
    if locked {
        state.auth_cache.throttle.failed(source, now);
        return Err(locked_answer(state, &user, password_ok, source).await?);
    }
    if !password_ok {
        register_failure(state, &user, source, "bad_password").await?;
        return Err(credentials_error());
    }
    let mut mfa_passed = false;
    let code = totp.map(str::trim).filter(|c| !c.is_empty());
    let device = if user.totp_enabled && code.is_none() && !devices.is_empty() {
        super::devices::admitted(state, &user, devices, now).await?
    } else {
        None
    };
    if device.is_some() {
        mfa_passed = true;
    } else if user.totp_enabled {
        match code {
            Some(code) => {
                if !second_factor_ok(state, &user, code).await? {
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
    let mut tx = Tx::begin_as(state, user.who(source)).await?;
    // Only a complete login clears the failure count: a password-only (TOTP pending) session
    // must not reset it, or TOTP codes could be guessed without ever reaching the lockout.
    if !user.totp_enabled || mfa_passed {
        queries::clear_failures_and_lock(&mut tx, user.id).await?;
    }
    if let Some(id) = device {
        queries::device_used(&mut tx, id, now).await?;
    }
    let (token, expires_at) =
        open_session(state, &mut tx, user.id, mfa_passed, now, source).await?;
    let detail = match device {
        Some(id) => json!({"totp": false, "device": id}),
        None => json!({"totp": mfa_passed}),
    };
    tx.commit(login_change(false, detail, &user.scope)).await?;
    state.auth_cache.invalidate();
    let stage = user.stage(mfa_passed, now, policy.max_age_days);
    let stage = user.settle(state, stage).await;
    Ok(LoginResult {
        token,
        expires_at_ms: expires_at,
        must_change_password: stage == Stage::NeedPasswordChange,
        stage,
        user_id: user.id,
    })
}

/// The answer to a login of a locked account. Its own user (the right password) is told that
/// the account is locked and for how long; a wrong password gets the answer of any wrong
/// password, so a guesser learns nothing new. The guesses made during the lock are counted
/// (the lock reset the failure count): once there have been as many as the lockout allows,
/// the right password too gets the wrong-password answer until the lock ends, so the lock is
/// never a faster oracle than the unlocked account.
async fn locked_answer(
    state: &AppState,
    user: &UserAuth,
    password_ok: bool,
    source: &str,
) -> AppResult<AppError> {
    let max = i64::from(state.rules().policy.max_failures);
    let mut tx = Tx::begin_as(state, user.who(source)).await?;
    let reason = if password_ok {
        "locked"
    } else {
        queries::count_guess_while_locked(&mut tx, user.id).await?;
        "guess_while_locked"
    };
    tx.commit(login_change(true, json!({"reason": reason}), &user.scope))
        .await?;
    state.auth_cache.invalidate();
    if !password_ok || user.failed_count >= max {
        return Ok(credentials_error());
    }
    let until = user.locked_until.unwrap_or(0);
    let minutes = ((until - state.now_ms()) + MINUTE_MS - 1) / MINUTE_MS;
    Ok(AppError::msg(
        ErrorCode::AccountLocked,
        format!(
            "登录失败次数过多，账户已暂时锁定，请 {} 分钟后再试，或联系安全管理员解锁",
            minutes.max(1)
        ),
    ))
}

/// A TOTP code, or one of the user's unused recovery codes (spent by this answer).
async fn second_factor_ok(state: &AppState, user: &UserAuth, code: &str) -> AppResult<bool> {
    if super::recovery::is_recovery_code(code) {
        super::recovery::spend(state, user, code).await
    } else {
        check_and_consume_totp(state, user, code).await
    }
}

/// Count a failed attempt; lock the account when the window fills.
pub(super) async fn register_failure(
    state: &AppState,
    user: &UserAuth,
    source: &str,
    reason: &str,
) -> AppResult<()> {
    let now = state.now_ms();
    state.auth_cache.throttle.failed(source, now);
    let rules = state.rules();
    let policy = &rules.policy;
    let window = policy.lockout_minutes * MINUTE_MS;
    let mut tx = Tx::begin_as(state, user.who(source)).await?;
    let (count, first) = queries::failures(&mut tx, user.id).await?;
    let (count, first) = match first {
        Some(f) if now - f <= window => (count + 1, f),
        _ => (1, now),
    };
    let lock = count >= i64::from(policy.max_failures);
    if lock {
        queries::lock(&mut tx, user.id, now + window).await?;
    } else {
        queries::set_failures(&mut tx, user.id, count, first).await?;
    }
    let failure = login_change(
        true,
        json!({"reason": reason, "failures": count}),
        &user.scope,
    );
    if lock {
        tx.also(failure);
        tx.commit(
            Change::new("auth.lockout", "user", user.id, user.scope.clone())
                .detail(json!({"minutes": policy.lockout_minutes})),
        )
        .await?;
    } else {
        tx.commit(failure).await?;
    }
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
    let user = &authed.user;
    if state
        .auth_cache
        .throttle
        .check(&authed.actor.source, now)
        .is_some()
    {
        return Err(AppError::new(ErrorCode::RateLimited));
    }
    // A locked account's pending session accepts no code (no guessing past the lockout).
    if user.locked_until.is_some_and(|t| t > now) {
        let who = user.who(&authed.actor.source);
        refuse(state, who, json!({"reason": "locked"}), &user.scope).await?;
        return Err(AppError::new(ErrorCode::InvalidTotp));
    }
    if !second_factor_ok(state, user, code.trim()).await? {
        register_failure(state, user, &authed.actor.source, "bad_totp").await?;
        return Err(AppError::new(ErrorCode::InvalidTotp));
    }
    let mut tx = Tx::begin(state, &authed.actor).await?;
    queries::session_mfa_passed(&mut tx, sid).await?;
    // The login is now complete: clear the failure count.
    queries::clear_failures(&mut tx, user.id).await?;
    tx.commit(
        Change::new("auth.totp_verify", "session", sid, user.scope.clone()).detail(json!({})),
    )
    .await?;
    state.auth_cache.invalidate();
    Ok(())
}
