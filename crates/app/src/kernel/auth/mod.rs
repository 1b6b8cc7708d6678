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
//!   password or enrol TOTP, is in a `Stage` other than `Full` and can do nothing but finish
//!   that step or log out;
//! - every account enrols TOTP (`RoleSet::second_factor`): administrators and officials give
//!   a code at every login; the other roles give it once per browser, which then holds a
//!   30-day revocable device credential (`devices`); the security administrator may waive it
//!   only for roles that see no personal data (`settings`); ten one-time recovery codes
//!   (`recovery`) stand in for a lost phone;
//! - failed logins are also counted per source address and over the service (`throttle`),
//!   and a full count answers 429 `rate_limited` before any password is checked.

//!
//! Where it lives: `login` (the password login, the failure count and lockout, the TOTP step of
//! a pending login), `sessions` (resolving a token, logout), `password` (hashing, changing
//! one's own), `totp` (codes, enrolment) and `queries` (every SQL statement, the only file here
//! that runs one). Every audited change commits through `kernel::access::Tx`.

mod devices;
mod login;
mod password;
mod queries;
mod recovery;
mod sessions;
mod settings;
mod throttle;
mod totp;

use backstop_core::error::ErrorCode;
use backstop_core::region::Scope;
use backstop_core::role::RoleSet;

use crate::audit::Who;
use crate::kernel::actor::{Actor, Via};
use crate::kernel::error::AppError;

pub use devices::{
    DEVICE_DAYS, DeviceView, IssuedDevice, devices_of, per_device, presented as presented_devices,
    remember_device, revoke_all_devices, revoke_device,
};
pub use login::{LoginResult, login, login_web, verify_session_totp};
pub use password::{change_password, generate_password, hash_password, verify_password};
pub use queries::{
    clear_second_factor, load_user, load_user_by_name, revoke_all_sessions, revoke_all_tokens,
};
pub use recovery::{RECOVERY_CODES, RecoveryCodes, new_recovery_codes, recovery_codes_left};
pub use sessions::{Authed, authenticate, logout};
pub use settings::{
    DEFAULT_TOKEN_MAX_DAYS, LiveRules, Rules, SecuritySettings, load_rules, rule_fields,
    security_settings, set_security_settings,
};
pub use throttle::{LoginThrottle, ThrottleLimits, Throttled};
pub use totp::{
    TotpEnrollment, authenticate_stage_after_totp, begin_totp_enrollment, confirm_totp_enrollment,
    pending_totp_enrollment, totp_code, totp_for,
};

pub const SESSION_PREFIX: &str = "s_";
pub const API_TOKEN_PREFIX: &str = "bsk_";
const MINUTE_MS: i64 = 60_000;

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
            Stage::NeedTotpEnrollment => {
                AppError::msg(ErrorCode::TotpRequired, "必须先绑定动态验证码（TOTP）")
            }
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
        } else if !self.totp_enabled {
            // Every role enrols; `settle` lifts this for roles whose second factor is waived.
            Stage::NeedTotpEnrollment
        } else {
            Stage::Full
        }
    }

    /// The stage once the deployment's waiver is applied: a session that would have to enrol
    /// TOTP is complete if the second factor is waived for all of the account's roles.
    pub(crate) async fn settle(&self, state: &crate::state::AppState, stage: Stage) -> Stage {
        if stage == Stage::NeedTotpEnrollment
            && settings::waived_for(state, &self.role_set())
                .await
                .unwrap_or(false)
        {
            Stage::Full
        } else {
            stage
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

    pub(crate) fn who(&self, source: &str) -> Who {
        Who {
            user_id: Some(self.id),
            username: self.username.clone(),
            source: source.to_string(),
        }
    }
}
