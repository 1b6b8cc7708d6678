//! The security settings of a deployment that the security administrator sets (kv_settings,
//! keys `security.*`): the longest lifetime of a personal API token (default 90 days), the
//! roles for which the second factor is waived — only roles that see no personal data
//! (`RoleSet::second_factor() == PerDeviceWaivable`) may be listed — and the password,
//! lockout and session rules, each within bounds that keep 等保 level 3 (a password of at
//! least 8 characters of 3 classes, a lock after at most 10 failures, a session idle at most
//! 2 hours).
//!
//! The rules in force ([`Rules`]) are the service's configuration (command-line flags) with
//! the stored settings on top. They are held in memory ([`LiveRules`]): loaded when the
//! service opens, replaced at once when this process changes them, and read again at a login
//! once they are a minute old, so another process (a second node, the CLI) is followed within
//! a minute.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use backstop_core::error::ErrorCode;
use backstop_core::password::PasswordPolicy;
use backstop_core::role::{Permission, Role, RoleSet, SecondFactor};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries;
use crate::audit::diff;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::{AppState, Config};

const TOKEN_MAX_DAYS: &str = "security.token_max_days";
/// The settable rules: key, field name, Chinese label, bounds.
const RULES: [(&str, &str, &str, i64, i64); 7] = [
    (
        "security.password_min_len",
        "password_min_len",
        "密码最短长度",
        8,
        64,
    ),
    (
        "security.password_min_classes",
        "password_min_classes",
        "密码至少包含的字符类别数",
        3,
        4,
    ),
    (
        "security.password_max_age_days",
        "password_max_age_days",
        "密码有效期（天，0 为不过期）",
        0,
        365,
    ),
    (
        "security.max_failures",
        "max_failures",
        "锁定前允许的连续失败次数",
        3,
        10,
    ),
    (
        "security.lockout_minutes",
        "lockout_minutes",
        "锁定时长（分钟）",
        5,
        1440,
    ),
    (
        "security.session_idle_minutes",
        "session_idle_minutes",
        "无操作自动退出（分钟）",
        5,
        120,
    ),
    (
        "security.session_absolute_minutes",
        "session_absolute_minutes",
        "登录最长有效（分钟）",
        30,
        1440,
    ),
];
const WAIVED_ROLES: &str = "security.second_factor_waived_roles";
/// The default and the ceiling of `token_max_days`.
pub const DEFAULT_TOKEN_MAX_DAYS: i64 = 90;
const CEILING_TOKEN_MAX_DAYS: i64 = 3650;

/// `GET`/`PUT /api/v1/security/settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecuritySettings {
    /// Longest lifetime of a personal API token, in days.
    pub token_max_days: i64,
    /// Roles that log in without a second factor (only roles that see no personal data). A
    /// `PUT` without it waives nothing.
    #[serde(default)]
    pub second_factor_waived_roles: Vec<String>,
    /// Shortest password, characters (8–64). Omitted in a `PUT`: unchanged.
    #[serde(default)]
    pub password_min_len: Option<i64>,
    /// Classes (lower, upper, digit, symbol) a password must mix (3–4).
    #[serde(default)]
    pub password_min_classes: Option<i64>,
    /// Days until a password must be changed (0–365; 0: never).
    #[serde(default)]
    pub password_max_age_days: Option<i64>,
    /// Consecutive failed logins that lock the account (3–10).
    #[serde(default)]
    pub max_failures: Option<i64>,
    /// How long a lock lasts, minutes (5–1440).
    #[serde(default)]
    pub lockout_minutes: Option<i64>,
    /// A web session ends after this many minutes without use (5–120).
    #[serde(default)]
    pub session_idle_minutes: Option<i64>,
    /// A web session ends this many minutes after login (30–1440, not below the idle time).
    #[serde(default)]
    pub session_absolute_minutes: Option<i64>,
}

impl SecuritySettings {
    /// The value of a settable rule by its field name (`None` when left out).
    pub fn rule(&self, field: &str) -> Option<i64> {
        match field {
            "password_min_len" => self.password_min_len,
            "password_min_classes" => self.password_min_classes,
            "password_max_age_days" => self.password_max_age_days,
            "max_failures" => self.max_failures,
            "lockout_minutes" => self.lockout_minutes,
            "session_idle_minutes" => self.session_idle_minutes,
            "session_absolute_minutes" => self.session_absolute_minutes,
            _ => None,
        }
    }
}

/// The password, lockout and session rules in force.
#[derive(Debug, Clone)]
pub struct Rules {
    pub policy: PasswordPolicy,
    pub session_idle_minutes: i64,
    pub session_absolute_minutes: i64,
}

impl Rules {
    fn value(&self, field: &str) -> i64 {
        let p = &self.policy;
        match field {
            "password_min_len" => i64::try_from(p.min_len).unwrap_or(i64::MAX),
            "password_min_classes" => i64::try_from(p.min_classes).unwrap_or(i64::MAX),
            "password_max_age_days" => p.max_age_days,
            "max_failures" => i64::from(p.max_failures),
            "lockout_minutes" => p.lockout_minutes,
            "session_idle_minutes" => self.session_idle_minutes,
            "session_absolute_minutes" => self.session_absolute_minutes,
            _ => 0,
        }
    }

    fn set(&mut self, field: &str, v: i64) {
        let p = &mut self.policy;
        match field {
            "password_min_len" => p.min_len = usize::try_from(v).unwrap_or(p.min_len),
            "password_min_classes" => p.min_classes = usize::try_from(v).unwrap_or(p.min_classes),
            "password_max_age_days" => p.max_age_days = v,
            "max_failures" => p.max_failures = u32::try_from(v).unwrap_or(p.max_failures),
            "lockout_minutes" => p.lockout_minutes = v,
            "session_idle_minutes" => self.session_idle_minutes = v,
            "session_absolute_minutes" => self.session_absolute_minutes = v,
            _ => {}
        }
    }
}

/// The rules in force, in memory (see the module documentation).
pub struct LiveRules {
    base: Rules,
    current: RwLock<(Rules, Option<Instant>)>,
}

impl LiveRules {
    pub fn new(config: &Config) -> Self {
        let base = Rules {
            policy: config.policy.clone(),
            session_idle_minutes: config.session_idle_minutes,
            session_absolute_minutes: config.session_absolute_minutes,
        };
        LiveRules {
            current: RwLock::new((base.clone(), None)),
            base,
        }
    }

    pub fn get(&self) -> Rules {
        match self.current.read() {
            Ok(g) => g.0.clone(),
            Err(_) => self.base.clone(),
        }
    }

    fn stale(&self) -> bool {
        self.current
            .read()
            .map(|g| g.1.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)))
            .unwrap_or(true)
    }

    fn replace(&self, rules: Rules) {
        if let Ok(mut g) = self.current.write() {
            *g = (rules, Some(Instant::now()));
        }
    }
}

/// Read the stored rules into memory (at open, after a change, and when a minute old).
pub async fn load_rules(state: &AppState) -> AppResult<()> {
    let mut rules = state.live_rules.base.clone();
    for (key, field, _, lo, hi) in RULES {
        if let Some(v) = queries::setting(state, key)
            .await?
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|v| (lo..=hi).contains(v))
        {
            rules.set(field, v);
        }
    }
    state.live_rules.replace(rules);
    Ok(())
}

/// [`load_rules`] when the rules in memory are a minute old.
pub(super) async fn refresh_rules_if_stale(state: &AppState) -> AppResult<()> {
    if state.live_rules.stale() {
        load_rules(state).await?;
    }
    Ok(())
}

/// The settings in force.
pub async fn security_settings(state: &AppState) -> AppResult<SecuritySettings> {
    let days = queries::setting(state, TOKEN_MAX_DAYS)
        .await?
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|d| (1..=CEILING_TOKEN_MAX_DAYS).contains(d))
        .unwrap_or(DEFAULT_TOKEN_MAX_DAYS);
    let waived = queries::setting(state, WAIVED_ROLES)
        .await?
        .map(|v| waivable(&v))
        .unwrap_or_default();
    refresh_rules_if_stale(state).await?;
    let rules = state.rules();
    let mut out = SecuritySettings {
        token_max_days: days,
        second_factor_waived_roles: waived.iter().map(|r| r.as_str().to_string()).collect(),
        password_min_len: None,
        password_min_classes: None,
        password_max_age_days: None,
        max_failures: None,
        lockout_minutes: None,
        session_idle_minutes: None,
        session_absolute_minutes: None,
    };
    for (_, field, ..) in RULES {
        let v = Some(rules.value(field));
        match field {
            "password_min_len" => out.password_min_len = v,
            "password_min_classes" => out.password_min_classes = v,
            "password_max_age_days" => out.password_max_age_days = v,
            "max_failures" => out.max_failures = v,
            "lockout_minutes" => out.lockout_minutes = v,
            "session_idle_minutes" => out.session_idle_minutes = v,
            _ => out.session_absolute_minutes = v,
        }
    }
    Ok(out)
}

/// The Chinese label and bounds of each settable rule, for the settings page.
pub fn rule_fields() -> Vec<(&'static str, &'static str, i64, i64)> {
    RULES
        .iter()
        .map(|(_, f, l, lo, hi)| (*f, *l, *lo, *hi))
        .collect()
}

/// The roles of a stored list that may be waived (anything else is ignored).
fn waivable(csv: &str) -> Vec<Role> {
    csv.split(',')
        .filter_map(Role::parse)
        .filter(|r| RoleSet::new([*r]).second_factor() == SecondFactor::PerDeviceWaivable)
        .collect()
}

/// Is the second factor waived for every role of this set?
pub(super) async fn waived_for(state: &AppState, roles: &RoleSet) -> AppResult<bool> {
    if roles.second_factor() != SecondFactor::PerDeviceWaivable || roles.is_empty() {
        return Ok(false);
    }
    let Some(v) = queries::setting(state, WAIVED_ROLES).await? else {
        return Ok(false);
    };
    let waived = waivable(&v);
    Ok(roles.roles().iter().all(|r| waived.contains(r)))
}

/// Change the settings (security administrator, or the operator). Audited.
pub async fn set_security_settings(
    state: &AppState,
    actor: &Actor,
    input: &SecuritySettings,
) -> AppResult<SecuritySettings> {
    actor.require(Permission::SecurityManage)?;
    if !(1..=CEILING_TOKEN_MAX_DAYS).contains(&input.token_max_days) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "token_max_days",
            "令牌最长有效期应为 1–3650 天",
        ));
    }
    let mut roles = Vec::new();
    for r in &input.second_factor_waived_roles {
        let role = Role::parse(r).ok_or_else(|| {
            AppError::field(
                ErrorCode::UnknownRole,
                "second_factor_waived_roles",
                format!("未知角色“{}”", r.chars().take(40).collect::<String>()),
            )
        })?;
        if RoleSet::new([role]).second_factor() != SecondFactor::PerDeviceWaivable {
            return Err(AppError::field(
                ErrorCode::Validation,
                "second_factor_waived_roles",
                format!("{}能看到个人信息，不能免除第二因素", role.label_zh()),
            ));
        }
        roles.push(role);
    }
    let roles = RoleSet::new(roles);
    let before = security_settings(state).await?;
    let mut rules = Vec::new();
    for (key, field, label, lo, hi) in RULES {
        let Some(v) = input.rule(field) else { continue };
        if !(lo..=hi).contains(&v) {
            return Err(AppError::field(
                ErrorCode::Validation,
                field,
                format!("{label}应为 {lo}–{hi}"),
            ));
        }
        rules.push((key, field, before.rule(field), v));
    }
    let idle = input.session_idle_minutes.or(before.session_idle_minutes);
    let absolute = input
        .session_absolute_minutes
        .or(before.session_absolute_minutes);
    if let (Some(i), Some(a)) = (idle, absolute)
        && a < i
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "session_absolute_minutes",
            "登录最长有效时间不能短于无操作自动退出时间",
        ));
    }
    let mut changes = vec![
        (
            "token_max_days",
            json!(before.token_max_days),
            json!(input.token_max_days),
        ),
        (
            "second_factor_waived_roles",
            json!(before.second_factor_waived_roles.join(",")),
            json!(roles.to_csv()),
        ),
    ];
    let mut tx = Tx::begin(state, actor).await?;
    queries::put_setting(&mut tx, TOKEN_MAX_DAYS, &input.token_max_days.to_string()).await?;
    queries::put_setting(&mut tx, WAIVED_ROLES, &roles.to_csv()).await?;
    for (key, field, old, new) in rules {
        queries::put_setting(&mut tx, key, &new.to_string()).await?;
        changes.push((field, json!(old), json!(new)));
    }
    tx.commit(Change::new("security.settings", "setting", "security", "0").detail(diff(&changes)))
        .await?;
    state.auth_cache.invalidate();
    load_rules(state).await?;
    security_settings(state).await
}
