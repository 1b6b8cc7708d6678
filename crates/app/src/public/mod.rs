//! The public face (issue 15, item 4): pages under `/public` for people without an account —
//! a region's information page (hotlines, institutions' visiting rules, how to apply for
//! assistance), a phone-verified session, and "my requests", which the later areas
//! (assistance, donations, bookings) fill.
//!
//! Rules it keeps:
//! - its own layout (`public_base.html`, no staff navigation) and its own cookie
//!   (`backstop_pub`, `Path=/public`); staff cookies are never read or set here, and the staff
//!   pages never read the public one;
//! - a one-time code (6 digits, only its hash kept, 5 minutes, 5 tries) is sent as a sealed SMS
//!   through `notify`; asking for one answers the same whatever the number (Backstop never
//!   looks the phone up anywhere), and the answer to a wrong, spent or expired code is one;
//! - limits: per address (`limits`: every public request, code requests, code tries) and per
//!   phone (one code a minute, five an hour), answered 429 `rate_limited` — the same for every
//!   phone; the client address is the TCP peer, or `X-Forwarded-For` only when the peer is a
//!   configured proxy (`--trusted-proxy`);
//! - strict headers from the shell (CSP without inline script, `no-store`, no framing).
//!
//! The information texts are maintained by officials (`orgs.manage`) within their scope
//! (`staff.rs`), audited like every change.

mod api;
mod apply;
pub mod federated;
mod limits;
mod pages;
mod queries;
pub mod staff;

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use rand::Rng;

pub use api::PublicApiDoc;
pub use limits::{PublicLimits, limit_public};
pub(crate) use pages::{PublicAddr, citizen_of, public_error};

/// Every route of the public face: pages, the application pages, the public API.
pub fn routes() -> crate::kernel::web::Routes {
    let mut r = pages::routes();
    r.extend(apply::routes());
    r.extend(api::routes());
    r
}

use crate::kernel::crypto::{random_token, token_hash};
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// How long a code is valid.
const CODE_MINUTES: i64 = 5;
/// Tries of one code.
const CODE_TRIES: i64 = 5;
/// How long a public session lasts.
const SESSION_MINUTES: i64 = 120;
const MINUTE_MS: i64 = 60_000;
/// Prefix of a public session token.
const PUBLIC_PREFIX: &str = "p_";

/// The texts officials publish for a region.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct PublicInfo {
    /// Where the text was set (the region itself or the nearest one above it).
    #[serde(default)]
    pub region_code: String,
    pub hotlines: String,
    pub visiting: String,
    pub assistance: String,
}

/// The information shown for a region: its own, else that of the nearest region above it.
pub async fn info_for(state: &AppState, code: &RegionCode) -> AppResult<Option<PublicInfo>> {
    // The region itself first, then the regions above it, nearest first.
    let codes = std::iter::once(code.clone()).chain(code.ancestors().into_iter().rev());
    for c in codes {
        if let Some(i) = queries::info(state, c.as_str()).await? {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// A mainland mobile number (11 digits starting 13–19), spaces and dashes removed.
pub fn mobile(raw: &str) -> AppResult<String> {
    let p: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let p = p.strip_prefix("+86").unwrap_or(&p).to_string();
    let ok = p.len() == 11
        && p.starts_with('1')
        && p.as_bytes()[1].is_ascii_digit()
        && p.as_bytes()[1] >= b'3'
        && p.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(p)
    } else {
        Err(AppError::field(
            ErrorCode::Validation,
            "phone",
            "请输入 11 位手机号码",
        ))
    }
}

fn phone_index(state: &AppState, phone: &str) -> String {
    state.keys.blind_index("public_phone", phone)
}

/// Keyed: six digits are a million guesses, too few for a plain hash.
fn code_hash(state: &AppState, index: &str, code: &str) -> String {
    state
        .keys
        .keyed_hash("public_code", format!("{index}:{code}").as_bytes())
}

/// Send a one-time code to a phone (through an SMS delivery). The same answer whatever the
/// number; limited per phone (one a minute, five an hour) and per address.
pub async fn request_code(state: &AppState, raw_phone: &str, addr: &str) -> AppResult<()> {
    let phone = mobile(raw_phone)?;
    let now = state.now_ms();
    if !state.public_limits.code_request(addr, now) {
        return Err(AppError::new(ErrorCode::RateLimited));
    }
    let index = phone_index(state, &phone);
    let (last_minute, last_hour) = queries::recent_codes(state, &index, now).await?;
    if last_minute > 0 || last_hour >= 5 {
        return Err(AppError::new(ErrorCode::RateLimited));
    }
    let code = {
        let mut rng = rand::rng();
        format!("{:06}", rng.random_range(0..1_000_000))
    };
    let mut w = state.db.begin_write().await?;
    let id = queries::insert_code(
        w.conn(),
        &index,
        &code_hash(state, &index, &code),
        now,
        now + CODE_MINUTES * MINUTE_MS,
        addr,
    )
    .await?;
    crate::notify::queue_secret_sms(
        state,
        w.conn(),
        &phone,
        "public_code",
        &format!("【兜底】您的验证码是 {code}，{CODE_MINUTES} 分钟内有效。如非本人操作，请忽略。"),
        &format!("code-{id}"),
    )
    .await?;
    w.commit().await?;
    Ok(())
}

/// Check a code; on success open a public session and return its token. One answer for a
/// wrong, spent, expired or over-tried code.
pub async fn verify_code(
    state: &AppState,
    raw_phone: &str,
    code: &str,
    addr: &str,
) -> AppResult<String> {
    let wrong = || AppError::msg(ErrorCode::Validation, "验证码错误或已失效，请重新获取");
    let phone = mobile(raw_phone)?;
    let now = state.now_ms();
    if !state.public_limits.code_try(addr, now) {
        return Err(AppError::new(ErrorCode::RateLimited));
    }
    let index = phone_index(state, &phone);
    let Some((id, hash, tries)) = queries::live_code(state, &index, now).await? else {
        return Err(wrong());
    };
    let mut w = state.db.begin_write().await?;
    queries::count_try(w.conn(), id).await?;
    let code = code.trim();
    let ok = tries < CODE_TRIES && code.len() == 6 && code_hash(state, &index, code) == hash;
    if !ok {
        w.commit().await?;
        return Err(wrong());
    }
    queries::spend_code(w.conn(), id, now).await?;
    let token = random_token(PUBLIC_PREFIX);
    queries::insert_session(
        w.conn(),
        &token_hash(&token),
        &index,
        state.keys.encrypt(phone.as_bytes()),
        now,
        now + SESSION_MINUTES * MINUTE_MS,
    )
    .await?;
    w.commit().await?;
    Ok(token)
}

/// A verified member of the public.
#[derive(Debug, Clone)]
pub struct Citizen {
    pub session_id: i64,
    /// The blind index of their phone: how their own requests are found.
    pub phone_index: String,
    pub phone_masked: String,
    /// The phone, sealed as the session keeps it (what a public application stores).
    pub phone_enc: Vec<u8>,
}

/// The public session a token names, if live.
pub async fn citizen(state: &AppState, token: &str) -> AppResult<Option<Citizen>> {
    if !token.starts_with(PUBLIC_PREFIX) || token.len() > 100 {
        return Ok(None);
    }
    let Some((id, index, enc)) =
        queries::live_session(state, &token_hash(token), state.now_ms()).await?
    else {
        return Ok(None);
    };
    let phone = state
        .keys
        .decrypt(&enc)
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    Ok(Some(Citizen {
        session_id: id,
        phone_index: index,
        phone_masked: backstop_core::mask::mask_phone(&phone),
        phone_enc: enc,
    }))
}

/// End a public session.
pub async fn end_session(state: &AppState, c: &Citizen) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    queries::end_session(w.conn(), c.session_id, state.now_ms()).await?;
    w.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::mobile;

    #[test]
    fn mainland_mobiles_only() {
        assert_eq!(mobile("139 1234 5678").ok().as_deref(), Some("13912345678"));
        assert_eq!(
            mobile("+8613912345678").ok().as_deref(),
            Some("13912345678")
        );
        for bad in [
            "12912345678",
            "1391234567",
            "020-12345678",
            "1391234567a",
            "",
        ] {
            assert!(mobile(bad).is_err(), "{bad}");
        }
    }
}
