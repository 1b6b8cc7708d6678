//! Device credentials (issue 13, item 4): how a field worker on a (possibly shared) phone
//! proves the second factor without a TOTP code at every login.
//!
//! An account whose roles need the second factor once per device (`SecondFactor::PerDevice`,
//! every role but the administrators and the officials) gives its TOTP code — or a recovery
//! code — at the first login on a browser; the browser then receives a credential for
//! [`DEVICE_DAYS`] days in a cookie of its own per account (`backstop_dev_<user id>`, so
//! several workers can share one phone), sent only to `/login`. At a later password login on
//! that browser the credential stands in for the TOTP code. Only its SHA-256 is stored.
//!
//! A credential is listed and revoked by its user (`/account`), by the officials who may manage
//! the account and by the security administrator (`accounts::devices`); a password reset by
//! someone else, a reset of the second factor and disabling the account revoke all of them.
//! A credential never works for an account that must give TOTP at every login, so a field worker
//! promoted to official gives codes again. Issuing, using and revoking are audited.

use axum::http::{HeaderMap, header};
use backstop_core::role::SecondFactor;
use serde::Serialize;
use serde_json::json;

use super::{Authed, UserAuth, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Via;
use crate::kernel::crypto::{random_token, token_hash};
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// How long a device credential lasts.
pub const DEVICE_DAYS: i64 = 30;
/// The prefix of a device credential (never accepted as a session or an API token).
pub const DEVICE_PREFIX: &str = "d_";
/// The cookie name's prefix; the account id follows.
const COOKIE_PREFIX: &str = "backstop_dev_";
/// At most this many device cookies are looked at in one login request.
const MAX_PRESENTED: usize = 8;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A device credential as its user and their managers see it (never the credential itself).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    pub id: i64,
    pub user_id: i64,
    /// The browser and system it was issued to, e.g. "Android · Chrome".
    pub label: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Who revoked it (a username, or the reason for a revocation of all).
    pub revoked_by: Option<String>,
    /// Not revoked and not expired.
    pub active: bool,
}

/// A credential just issued: the cookie that carries it.
#[derive(Debug, Clone)]
pub struct IssuedDevice {
    pub id: i64,
    pub set_cookie: String,
}

/// Does this account hold device credentials (rather than giving TOTP at every login)?
pub fn per_device(user: &UserAuth) -> bool {
    matches!(
        user.role_set().second_factor(),
        SecondFactor::PerDevice | SecondFactor::PerDeviceWaivable
    )
}

/// The device credentials a request presents (the values of its `backstop_dev_*` cookies).
pub fn presented(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(k, v)| {
            k.starts_with(COOKIE_PREFIX) && v.starts_with(DEVICE_PREFIX) && v.len() <= 100
        })
        .map(|(_, v)| v.to_string())
        .take(MAX_PRESENTED)
        .collect()
}

/// A short, non-identifying name of the browser a `User-Agent` describes.
pub fn label_of(user_agent: &str) -> String {
    let ua = user_agent;
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("HarmonyOS", "鸿蒙"),
        ("Windows", "Windows"),
        ("Mac OS", "Mac"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map_or("未知系统", |(_, v)| v);
    let browser = [
        ("MicroMessenger", "微信"),
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map_or("浏览器", |(_, v)| v);
    format!("{system} · {browser}")
}

/// The id of a live credential of this user among those presented, if any.
pub(super) async fn admitted(
    state: &AppState,
    user: &UserAuth,
    presented: &[String],
    now: i64,
) -> AppResult<Option<i64>> {
    if !per_device(user) {
        return Ok(None);
    }
    for token in presented {
        if let Some(id) = queries::live_device(state, user.id, &token_hash(token), now).await? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// After the session's user proved the second factor on this browser: issue a device
/// credential if the account uses them (audited `auth.device_issue`). `None` for accounts that
/// give TOTP at every login, and for a session that has not passed its second factor.
pub async fn remember_device(
    state: &AppState,
    authed: &Authed,
    user_agent: &str,
) -> AppResult<Option<IssuedDevice>> {
    // Re-read the account: the session was resolved before its TOTP step or enrolment.
    let Some(user) = queries::load_user(state, authed.user.id).await? else {
        return Ok(None);
    };
    let Via::Session(sid) = authed.actor.via else {
        return Ok(None);
    };
    if !per_device(&user) || !user.totp_enabled {
        return Ok(None);
    }
    if !queries::session_passed_mfa(state, sid).await? {
        return Ok(None);
    }
    let now = state.now_ms();
    let token = random_token(DEVICE_PREFIX);
    let label = label_of(user_agent);
    let expires_at = now + DEVICE_DAYS * DAY_MS;
    let mut tx = Tx::begin(state, &authed.actor).await?;
    let id = queries::insert_device(
        &mut tx,
        user.id,
        &token_hash(&token),
        &label,
        now,
        expires_at,
    )
    .await?;
    tx.commit(
        Change::new("auth.device_issue", "user", user.id, user.scope.clone())
            .detail(json!({"device": id, "label": label, "days": DEVICE_DAYS})),
    )
    .await?;
    Ok(Some(IssuedDevice {
        id,
        set_cookie: cookie(state.config.secure_cookies, user.id, &token),
    }))
}

/// The `Set-Cookie` value carrying a device credential: only sent back to `/login`.
fn cookie(secure: bool, user_id: i64, token: &str) -> String {
    format!(
        "{COOKIE_PREFIX}{user_id}={token}; Path=/login; Max-Age={}; HttpOnly; SameSite=Strict{}",
        DEVICE_DAYS * 24 * 60 * 60,
        if secure { "; Secure" } else { "" }
    )
}

/// The device credentials of an account, newest first (the caller checks who may see them).
pub async fn devices_of(state: &AppState, user_id: i64) -> AppResult<Vec<DeviceView>> {
    queries::devices_of(state, user_id, state.now_ms()).await
}

/// Revoke one credential of an account in the caller's transaction; whether it was live.
pub async fn revoke_device(tx: &mut Tx, user_id: i64, device_id: i64, by: &str) -> AppResult<bool> {
    let now = tx.now();
    queries::revoke_device(tx, user_id, Some(device_id), by, now)
        .await
        .map(|n| n > 0)
}

/// Revoke every credential of an account in the caller's transaction; how many were live.
pub async fn revoke_all_devices(tx: &mut Tx, user_id: i64, by: &str) -> AppResult<u64> {
    let now = tx.now();
    queries::revoke_device(tx, user_id, None, by, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_system_and_browser_only() {
        let ua = "Mozilla/5.0 (Linux; Android 12; V2055A) AppleWebKit/537.36 (KHTML, like Gecko) \
                  Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0";
        assert_eq!(label_of(ua), "Android · 微信");
        assert_eq!(
            label_of("Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 Safari/537.36 Edg/120.0"),
            "Windows · Edge"
        );
        assert_eq!(label_of(""), "未知系统 · 浏览器");
    }

    #[test]
    fn presented_reads_only_device_cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "backstop=s_abc; backstop_dev_7=d_xyz; backstop_dev_8=s_nope; other=d_no"
                .parse()
                .expect("header"),
        );
        assert_eq!(presented(&h), vec!["d_xyz".to_string()]);
    }
}
