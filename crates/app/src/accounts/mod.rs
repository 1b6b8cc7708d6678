//! Accounts: users, their roles and scope region, their organisation; administration of
//! accounts under the separation of the three administrator duties (三权分立); personal API
//! tokens; the first administrator created on an empty database.
//!
//! Rules enforced here (for pages, API and CLI alike):
//! - a user is seen and changed only by actors whose scope contains the user's scope;
//! - roles given must pass `backstop_core::role::check_grant` for the actor's roles (never
//!   more than the actor holds, administrator roles exclusive) — both the roles the target has
//!   now and the roles it will have;
//! - no administrator creates, resets or grants any account (三权分立): administrator accounts
//!   are made and reset only by the operator with the CLI on the server, and a reset of one
//!   forgets its second factor too, so the user sets both again at the next login;
//! - a password reset is done by whoever may grant the account's roles in its scope (an
//!   official, never more than it holds) and forces a new password at the next login; the
//!   security administrator resets second factors (TOTP) of business accounts, audited;
//! - nobody changes their own roles, scope or enabled state, nor resets their own password;
//! - disabling, a password reset and a password change end every session and every personal
//!   API token of the account (tokens stay revoked when it is enabled again);
//! - an account may have a registered mobile phone (sealed, shown masked); an official's reset
//!   of such an account sends the one-time password to it (`reset_sms`) and shows it to nobody.

pub mod device_pages;
mod devices;
pub mod pages;
mod queries;
mod reset_sms;
pub mod security_pages;
pub mod security_web;
mod tokens;
pub mod web;

pub use devices::{list_devices, revoke_device};
pub use tokens::{ApiTokenView, create_token, list_tokens, revoke_token};

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, Scope};
use backstop_core::role::{Permission, Role, RoleError, RoleSet, check_grant};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::diff;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::auth::{self, Authed};
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;
use crate::{orgs, regions};

/// A user as the API and pages show it (no secrets).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    /// The scope: a region code, or "0" for the whole nation.
    pub region_code: String,
    pub region_name: String,
    pub org_id: Option<i64>,
    pub disabled: bool,
    pub locked: bool,
    pub totp_enabled: bool,
    pub must_change_password: bool,
    /// The registered mobile phone, masked (`138****1234`); empty when none.
    pub phone_masked: String,
}

impl UserView {
    pub fn role_labels(&self) -> String {
        self.roles
            .iter()
            .filter_map(|r| Role::parse(r))
            .map(|r| r.label_zh())
            .collect::<Vec<_>>()
            .join("、")
    }
}

/// Body of `POST /api/v1/users`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub roles: Vec<String>,
    /// Scope region code ("0" for national).
    pub region_code: String,
    #[serde(default)]
    pub org_id: Option<i64>,
    #[serde(default)]
    pub display_name: String,
    /// Optional registered mobile phone (mainland, 11 digits): a reset's one-time password
    /// is sent there.
    #[serde(default)]
    pub phone: String,
}

/// Body of `PATCH /api/v1/users/{id}`: the fields to change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub region_code: Option<String>,
    pub org_id: Option<Option<i64>>,
    pub disabled: Option<bool>,
    /// The registered mobile phone; an empty text removes it.
    pub phone: Option<String>,
}

fn parse_roles(list: &[String]) -> AppResult<RoleSet> {
    let mut roles = Vec::new();
    for r in list {
        roles.push(Role::parse(r.trim()).ok_or_else(|| {
            AppError::field(
                ErrorCode::UnknownRole,
                "roles",
                format!("未知角色“{}”", r.chars().take(40).collect::<String>()),
            )
        })?);
    }
    let set = RoleSet::new(roles);
    if set.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "roles",
            "至少选择一个角色",
        ));
    }
    Ok(set)
}

fn grant_error(e: backstop_core::role::RoleError) -> AppError {
    match e {
        RoleError::AdminNotExclusive => {
            AppError::field(ErrorCode::Validation, "roles", e.to_string())
        }
        RoleError::Unknown(_) => AppError::field(ErrorCode::UnknownRole, "roles", e.to_string()),
        RoleError::Empty => AppError::field(ErrorCode::Validation, "roles", e.to_string()),
        RoleError::NotGrantable(_) => {
            AppError::field(ErrorCode::RoleNotGrantable, "roles", e.to_string())
        }
    }
}

/// May the actor give these roles, or reset an account holding them? The console operator may
/// give any valid set; administrators none (`check_grant`).
fn check_roles(actor: &Actor, target: &RoleSet) -> AppResult<()> {
    // A service account's role comes only with its node (federation::issue), for no one else.
    if let Some(r) = target.roles().iter().find(|r| r.is_service()) {
        return Err(grant_error(RoleError::NotGrantable(*r)));
    }
    if actor.is_operator() {
        return target.validate().map_err(grant_error);
    }
    check_grant(&actor.roles, target).map_err(grant_error)
}

/// [`check_roles`] as a yes/no, for pages that offer an action only to who may do it.
pub(crate) fn may_manage(actor: &Actor, target_roles: &[String]) -> bool {
    actor.can(Permission::UsersManage)
        && parse_roles(target_roles).is_ok_and(|r| check_roles(actor, &r).is_ok())
}

async fn check_scope_target(
    state: &AppState,
    actor: &Actor,
    region_code: &str,
) -> AppResult<Scope> {
    let scope = Scope::parse(region_code)
        .map_err(|e| AppError::field(ErrorCode::InvalidRegionCode, "region_code", e.to_string()))?;
    // A national scope ("0") is under the handle of national actors only.
    actor.everywhere().admit(scope.as_str(), ())?;
    if let Scope::Region(code) = &scope
        && regions::find(state, code.as_str()).await?.is_none()
    {
        return Err(AppError::field(
            ErrorCode::UnknownRegion,
            "region_code",
            "区划代码不存在",
        ));
    }
    Ok(scope)
}

fn check_username(u: &str) -> AppResult<String> {
    let u = u.trim();
    let ok = (3..=32).contains(&u.len())
        && u.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.' || b == b'-'
        });
    if !ok {
        return Err(AppError::field(
            ErrorCode::Validation,
            "username",
            "3–32 个字符，只能用小写字母、数字、下划线、点和连字符",
        ));
    }
    Ok(u.to_string())
}

/// Create an account.
pub async fn create_user(state: &AppState, actor: &Actor, input: &NewUser) -> AppResult<UserView> {
    actor.require(Permission::UsersManage)?;
    let username = check_username(&input.username)?;
    let display_name = text_field("display_name", &input.display_name, 50, false)?;
    let roles = parse_roles(&input.roles)?;
    check_roles(actor, &roles)?;
    let scope = check_scope_target(state, actor, &input.region_code).await?;
    if let Some(org_id) = input.org_id {
        check_org(state, actor, org_id).await?;
    }
    let phone = reset_sms::parse(state, &input.phone)?;
    state
        .rules()
        .policy
        .check(&input.password, &[username.as_str(), display_name.as_str()])
        .map_err(|e| AppError::field(ErrorCode::WeakPassword, "password", e.to_string()))?;
    let hash = auth::hash_password(&input.password)?;
    let mut tx = Tx::begin(state, actor).await?;
    if queries::username_taken(&mut tx, &username).await? {
        return Err(AppError::field(
            ErrorCode::DuplicateUsername,
            "username",
            "用户名已被使用",
        ));
    }
    let id = queries::insert_user(
        &mut tx,
        &queries::NewRow {
            username: &username,
            display_name: &display_name,
            org_id: input.org_id,
            scope: scope.as_str(),
            roles: &roles.to_csv(),
            password_hash: &hash,
        },
    )
    .await?;
    let phone_masked = phone.as_ref().map(|(_, m)| m.clone());
    if phone.is_some() {
        queries::set_phone(&mut tx, id, phone).await?;
    }
    tx.commit(
        Change::new("user.create", "user", id, scope.as_str()).detail(json!({
            "phone": {"before": null, "after": phone_masked},
            "username": {"before": null, "after": username},
            "roles": {"before": null, "after": roles.to_csv()},
            "scope": {"before": null, "after": scope.as_str()},
            "org_id": {"before": null, "after": input.org_id},
        })),
    )
    .await?;
    get_user(state, actor, id).await
}

/// The organisation given for an account must be one the actor can read.
async fn check_org(state: &AppState, actor: &Actor, org_id: i64) -> AppResult<()> {
    orgs::get(state, actor, org_id)
        .await
        .map(|_| ())
        .map_err(|_| AppError::field(ErrorCode::Validation, "org_id", "机构不存在"))
}

/// One account, if in scope.
pub async fn get_user(state: &AppState, actor: &Actor, id: i64) -> AppResult<UserView> {
    actor.require(Permission::UsersRead)?;
    queries::user(state, &actor.everywhere(), id).await
}

/// Accounts whose scope lies inside `region` (default: the actor's scope).
pub async fn list_users(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<Vec<UserView>> {
    actor.require(Permission::UsersRead)?;
    queries::users(state, &actor.within_opt(region)?).await
}

/// Number of accounts in the actor's scope.
pub async fn count_in_scope(state: &AppState, actor: &Actor) -> AppResult<i64> {
    queries::count(state, &actor.everywhere()).await
}

/// Change an account's name, roles, scope, organisation or enabled state.
pub async fn update_user(
    state: &AppState,
    actor: &Actor,
    id: i64,
    patch: &UserPatch,
) -> AppResult<UserView> {
    actor.require(Permission::UsersManage)?;
    let before = get_user(state, actor, id).await?;
    let before_roles = parse_roles(&before.roles).unwrap_or_default();
    check_roles(actor, &before_roles)?;
    let is_self = actor.user_id == Some(id);
    let mut roles = before_roles.clone();
    if let Some(r) = &patch.roles {
        roles = parse_roles(r)?;
        check_roles(actor, &roles)?;
    }
    let mut scope_str = before.region_code.clone();
    if let Some(rc) = &patch.region_code {
        scope_str = check_scope_target(state, actor, rc)
            .await?
            .as_str()
            .to_string();
    }
    let disabled = patch.disabled.unwrap_or(before.disabled);
    if is_self
        && (roles != before_roles || scope_str != before.region_code || disabled != before.disabled)
    {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "不能修改自己的角色、范围或启用状态",
        ));
    }
    let display_name = match &patch.display_name {
        Some(d) => text_field("display_name", d, 50, false)?,
        None => before.display_name.clone(),
    };
    let org_id = match patch.org_id {
        Some(Some(o)) => {
            check_org(state, actor, o).await?;
            Some(o)
        }
        Some(None) => None,
        None => before.org_id,
    };
    let phone = match &patch.phone {
        Some(p) => Some(reset_sms::parse(state, p)?),
        None => None,
    };
    let phone_after = match &phone {
        Some(p) => p.as_ref().map(|(_, m)| m.clone()).unwrap_or_default(),
        None => before.phone_masked.clone(),
    };
    let roles_csv = roles.to_csv();
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    if let Some(p) = phone {
        queries::set_phone(&mut tx, id, p).await?;
    }
    queries::update_user(
        &mut tx,
        id,
        &queries::Admin {
            display_name: &display_name,
            roles: &roles_csv,
            scope: &scope_str,
            org_id,
            disabled,
        },
    )
    .await?;
    if disabled && !before.disabled || scope_str != before.region_code || roles != before_roles {
        auth::revoke_all_sessions(tx.conn(), id, now).await?;
    }
    // Disabling ends the personal API tokens for good: enabling the account again does not
    // bring them back.
    if disabled && !before.disabled {
        auth::revoke_all_tokens(tx.conn(), id, now).await?;
        auth::revoke_all_devices(&mut tx, id, "停用账户").await?;
    }
    let permission_change = roles != before_roles || scope_str != before.region_code;
    let action = if permission_change {
        "user.permission_change"
    } else {
        "user.update"
    };
    tx.commit(
        Change::new(action, "user", id, scope_str.clone()).detail(diff(&[
            (
                "display_name",
                json!(before.display_name),
                json!(display_name),
            ),
            ("roles", json!(before_roles.to_csv()), json!(roles_csv)),
            ("scope", json!(before.region_code), json!(scope_str)),
            ("org_id", json!(before.org_id), json!(org_id)),
            ("disabled", json!(before.disabled), json!(disabled)),
            ("phone", json!(before.phone_masked), json!(phone_after)),
        ])),
    )
    .await?;
    state.auth_cache.invalidate();
    get_user(state, actor, id).await
}

/// Disable (`true`) or enable (`false`) an account: [`update_user`] with only the enabled
/// state (same checks; disabling ends its sessions and tokens).
pub async fn set_user_disabled(
    state: &AppState,
    actor: &Actor,
    id: i64,
    disabled: bool,
) -> AppResult<UserView> {
    let patch = UserPatch {
        disabled: Some(disabled),
        ..UserPatch::default()
    };
    update_user(state, actor, id, &patch).await
}

/// Unlock a locked account (security administrator).
pub async fn unlock_user(state: &AppState, actor: &Actor, id: i64) -> AppResult<UserView> {
    actor.require(Permission::SecurityManage)?;
    let target = get_user(state, actor, id).await?;
    let mut tx = Tx::begin(state, actor).await?;
    queries::unlock(&mut tx, id).await?;
    tx.commit(
        Change::new("user.unlock", "user", id, target.region_code.clone())
            .detail(json!({"locked": {"before": target.locked, "after": false}})),
    )
    .await?;
    state.auth_cache.invalidate();
    get_user(state, actor, id).await
}

/// What a reset gave: the one-time password to hand over, or the masked phone it was sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reset {
    /// Shown once to the resetter (no registered phone, or the operator's CLI).
    Shown(String),
    /// Sent to the account's registered phone (masked here); the resetter never sees it.
    Sent(String),
}

/// Set a new password that must be changed at next login: by whoever may grant the account's
/// roles in its scope (an official), or the operator — never an administrator. Resetting an
/// administrator account (operator only) also forgets its second factor. When an official
/// resets an account with a registered phone, a generated password goes to that phone by SMS
/// ([`Reset::Sent`]; choosing one is refused); otherwise, without a password one is generated
/// and returned. Sessions and personal API tokens are revoked.
pub async fn reset_password(
    state: &AppState,
    actor: &Actor,
    id: i64,
    password: Option<&str>,
) -> AppResult<Reset> {
    actor.require(Permission::UsersManage)?;
    let target = get_user(state, actor, id).await?;
    if actor.user_id == Some(id) {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "不能重置自己的密码，请使用“修改密码”",
        ));
    }
    let target_roles = parse_roles(&target.roles).unwrap_or_default();
    check_roles(actor, &target_roles)?;
    let second_factor_reset = target_roles.is_admin();
    let by_sms = !actor.is_operator() && !target.phone_masked.is_empty();
    if by_sms && password.is_some() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "password",
            "该账户登记了手机号码，一次性密码将发送到该手机，不能由重置人指定",
        ));
    }
    let password = match password {
        Some(p) => p.to_string(),
        None => auth::generate_password(),
    };
    state
        .rules()
        .policy
        .check(
            &password,
            &[target.username.as_str(), target.display_name.as_str()],
        )
        .map_err(|e| AppError::field(ErrorCode::WeakPassword, "password", e.to_string()))?;
    let hash = auth::hash_password(&password)?;
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    queries::reset_password(&mut tx, id, &hash).await?;
    auth::revoke_all_sessions(tx.conn(), id, now).await?;
    // A reset answers a lost or compromised password: personal API tokens end too.
    let tokens_revoked = auth::revoke_all_tokens(tx.conn(), id, now).await?;
    // …and so do the devices that skip the TOTP step: whoever holds the password may hold
    // the phone too.
    let devices_revoked = auth::revoke_all_devices(&mut tx, id, "重置密码").await?;
    if second_factor_reset {
        auth::clear_second_factor(&mut tx, id).await?;
    }
    if by_sms {
        reset_sms::send(state, &mut tx, id, &password).await?;
    }
    let sent_to = by_sms.then(|| target.phone_masked.clone());
    tx.commit(
        Change::new(
            "user.password_reset",
            "user",
            id,
            target.region_code.clone(),
        )
        .detail(
            json!({"must_change_password": true, "api_tokens_revoked": tokens_revoked,
            "devices_revoked": devices_revoked, "second_factor_reset": second_factor_reset,
            "sent_to_phone": sent_to}),
        ),
    )
    .await?;
    state.auth_cache.invalidate();
    Ok(match sent_to {
        Some(masked) => Reset::Sent(masked),
        None => Reset::Shown(password),
    })
}

/// Forget an account's second factor (TOTP), so that it enrols a new one at its next login:
/// the security administrator for a business account in its scope (a lost phone), the
/// operator for any. Administrator accounts are reset only by the operator. Sessions end.
pub async fn reset_second_factor(state: &AppState, actor: &Actor, id: i64) -> AppResult<UserView> {
    actor.require(Permission::SecurityManage)?;
    let target = get_user(state, actor, id).await?;
    let roles = parse_roles(&target.roles).unwrap_or_default();
    if !actor.is_operator() && (roles.is_admin() || actor.user_id == Some(id)) {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "管理员账户的第二因素只能由运维人员在服务器上用命令行重置",
        ));
    }
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    auth::clear_second_factor(&mut tx, id).await?;
    auth::revoke_all_sessions(tx.conn(), id, now).await?;
    let devices_revoked = auth::revoke_all_devices(&mut tx, id, "重置第二因素").await?;
    tx.commit(
        Change::new("user.totp_reset", "user", id, target.region_code.clone()).detail(
            json!({"totp_enabled": {"before": target.totp_enabled, "after": false},
                "devices_revoked": devices_revoked}),
        ),
    )
    .await?;
    state.auth_cache.invalidate();
    get_user(state, actor, id).await
}

/// Find a user id by username, in scope.
pub async fn id_by_username(state: &AppState, actor: &Actor, username: &str) -> AppResult<i64> {
    let id = queries::id_by_username(state, username.trim())
        .await?
        .ok_or_else(AppError::not_found)?;
    get_user(state, actor, id).await?;
    Ok(id)
}

/// `GET /api/v1/me`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub region_code: String,
    pub region_name: String,
    pub org_id: Option<i64>,
    pub totp_enabled: bool,
    /// full, need_totp, need_password_change or need_totp_enrollment.
    pub stage: auth::Stage,
}

pub async fn me(state: &AppState, authed: &Authed) -> AppResult<Me> {
    let u = &authed.user;
    let roles = u.role_set();
    Ok(Me {
        id: u.id,
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        roles: roles
            .roles()
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
        permissions: roles
            .permissions()
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        region_name: regions::scope_name(state, &u.scope).await?,
        region_code: u.scope.clone(),
        org_id: u.org_id,
        totp_enabled: u.totp_enabled,
        stage: authed.stage,
    })
}

/// On an empty database, create `admin` (sysadmin, national). Returns the generated password
/// when none was given (the caller prints it once), `None` otherwise or if users exist.
pub async fn ensure_initial_admin(
    state: &AppState,
    given: Option<&str>,
) -> AppResult<Option<String>> {
    if queries::count_all(state).await? > 0 {
        return Ok(None);
    }
    let generated = given.is_none();
    let password = given
        .map(str::to_string)
        .unwrap_or_else(auth::generate_password);
    state
        .rules()
        .policy
        .check(&password, &["admin"])
        .map_err(|e| {
            AppError::field(
                ErrorCode::WeakPassword,
                "password",
                format!("BACKSTOP_INITIAL_ADMIN_PASSWORD：{e}"),
            )
        })?;
    let hash = auth::hash_password(&password)?;
    let mut tx = Tx::begin(state, &Actor::operator()).await?;
    let id = queries::insert_initial_admin(&mut tx, &hash).await?;
    tx.commit(
        Change::new("user.create", "user", id, "0").detail(json!({"username": {"before": null, "after": "admin"}, "roles": {"before": null, "after": "sysadmin"}, "initial": true})),
    )
    .await?;
    Ok(generated.then_some(password))
}
