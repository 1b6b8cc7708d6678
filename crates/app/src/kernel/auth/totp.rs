//! The TOTP second factor: codes (SHA-1, 6 digits, 30 s, one step of skew), replay protection
//! (a step is accepted once), and enrolment — a secret stored encrypted and shown once, switched
//! on only when a first code confirms it.

use backstop_core::error::ErrorCode;
use rand::RngCore;
use serde_json::json;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::queries;
use super::{Authed, Stage, UserAuth};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Via;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

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
pub(super) async fn check_and_consume_totp(
    state: &AppState,
    user: &UserAuth,
    code: &str,
) -> AppResult<bool> {
    let secret = decrypt_secret(state, user)?;
    let now_s = u64::try_from(state.now_ms() / 1000).unwrap_or(0);
    let Some(step) = totp_for(&secret)?.check(code, now_s) else {
        return Ok(false);
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let done = queries::consume_totp_step(state, user.id, step).await?;
    state.auth_cache.invalidate();
    Ok(done)
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
    queries::store_totp_secret(state, authed.user.id, state.keys.encrypt(&secret)).await?;
    state.auth_cache.invalidate();
    Ok(enrollment_view(&authed.user.username, &secret))
}

/// The enrolment in progress (a stored secret not yet confirmed), if any. Reading it changes
/// nothing, so the enrolment page can be shown on GET.
pub async fn pending_totp_enrollment(
    state: &AppState,
    user_id: i64,
) -> AppResult<Option<TotpEnrollment>> {
    let Some(user) = queries::load_user(state, user_id).await? else {
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
    let user = queries::load_user(state, authed.user.id)
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
    let mut tx = Tx::begin(state, &authed.actor).await?;
    queries::enable_totp(&mut tx, user.id).await?;
    if let Via::Session(sid) = authed.actor.via {
        queries::session_mfa_passed(&mut tx, sid).await?;
    }
    tx.commit(
        Change::new("auth.totp_enroll", "user", user.id, user.scope.clone()).detail(json!({})),
    )
    .await?;
    state.auth_cache.invalidate();
    Ok(())
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
