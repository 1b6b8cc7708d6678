//! Accounts: users, their roles and scope region, their organisation; administration of
//! accounts under the separation of the three administrator duties (三权分立); personal API
//! tokens; the first administrator created on an empty database.
//!
//! Rules enforced here (for pages, API and CLI alike):
//! - a user is seen and changed only by actors whose scope contains the user's scope;
//! - roles given must pass `backstop_core::role::check_grant` for the actor's roles (never
//!   more than the actor holds, administrator roles exclusive) — both the roles the target has
//!   now and the roles it will have;
//! - nobody changes their own roles, scope or enabled state;
//! - disabling, a password reset and a password change end every session of the account.

pub mod pages;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::region::Scope;
use backstop_core::role::{Permission, Role, RoleSet, check_grant};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Entry, Who, diff};
use crate::kernel::actor::Actor;
use crate::kernel::auth::{self, API_TOKEN_PREFIX, Authed};
use crate::kernel::crypto::{random_token, token_hash};
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
}

/// Body of `PATCH /api/v1/users/{id}`: the fields to change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub region_code: Option<String>,
    pub org_id: Option<Option<i64>>,
    pub disabled: Option<bool>,
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
    use backstop_core::role::RoleError;
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

/// May the actor give these roles? (The console operator may give any valid set.)
fn check_roles(actor: &Actor, target: &RoleSet) -> AppResult<()> {
    let grantor = if actor.is_operator() {
        RoleSet::new([Role::Sysadmin])
    } else {
        actor.roles.clone()
    };
    check_grant(&grantor, target).map_err(grant_error)
}

async fn check_scope_target(
    state: &AppState,
    actor: &Actor,
    region_code: &str,
) -> AppResult<Scope> {
    let scope = Scope::parse(region_code)
        .map_err(|e| AppError::field(ErrorCode::InvalidRegionCode, "region_code", e.to_string()))?;
    if !actor.scope.contains_scope(&scope) {
        return Err(AppError::not_found());
    }
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
        orgs::get(state, actor, org_id)
            .await
            .map_err(|_| AppError::field(ErrorCode::Validation, "org_id", "机构不存在"))?;
    }
    state
        .config
        .policy
        .check(&input.password, &[username.as_str(), display_name.as_str()])
        .map_err(|e| AppError::field(ErrorCode::WeakPassword, "password", e.to_string()))?;
    let hash = auth::hash_password(&input.password)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(&username)
        .fetch_optional(w.conn())
        .await?;
    if exists.is_some() {
        return Err(AppError::field(
            ErrorCode::DuplicateUsername,
            "username",
            "用户名已被使用",
        ));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, display_name, org_id, scope, roles, password_hash, \
         password_changed_at, must_change_password, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $7, $7) RETURNING id",
    )
    .bind(&username)
    .bind(&display_name)
    .bind(input.org_id)
    .bind(scope.as_str())
    .bind(roles.to_csv())
    .bind(&hash)
    .bind(now)
    .fetch_one(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "user.create",
            object_type: "user",
            object_id: id.to_string(),
            region_code: scope.as_str().to_string(),
            outcome: "success",
            detail: json!({
                "username": {"before": null, "after": username},
                "roles": {"before": null, "after": roles.to_csv()},
                "scope": {"before": null, "after": scope.as_str()},
                "org_id": {"before": null, "after": input.org_id},
            }),
        },
    )
    .await?;
    w.commit().await?;
    get_user(state, actor, id).await
}

const VIEW_COLS: &str = "u.id, u.username, u.display_name, u.roles, u.scope, u.org_id, u.disabled, \
    u.locked_until, u.totp_enabled, u.must_change_password, r.name AS region_name";

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
            r.try_get::<Option<String>, _>("region_name")?
                .unwrap_or_default()
        },
        region_code: scope,
        org_id: r.try_get("org_id")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        locked: locked.is_some_and(|t| t > now),
        totp_enabled: r.try_get::<i64, _>("totp_enabled")? != 0,
        must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
    })
}

/// One account, if in scope.
pub async fn get_user(state: &AppState, actor: &Actor, id: i64) -> AppResult<UserView> {
    actor.require(Permission::UsersRead)?;
    let sql = format!(
        "SELECT {VIEW_COLS} FROM users u LEFT JOIN regions r ON r.code = u.scope WHERE u.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let v = view_from_row(&row, state.now_ms())?;
    if !actor.sees_scope_str(&v.region_code) {
        return Err(AppError::not_found());
    }
    Ok(v)
}

/// Accounts whose scope lies inside `region` (default: the actor's scope).
pub async fn list_users(
    state: &AppState,
    actor: &Actor,
    region: Option<&str>,
) -> AppResult<Vec<UserView>> {
    actor.require(Permission::UsersRead)?;
    let region = region.map(str::trim).filter(|s| !s.is_empty());
    let (lo, hi) = match region {
        Some(r) => {
            let code =
                backstop_core::region::RegionCode::parse(r).map_err(|_| AppError::not_found())?;
            actor.check_region(&code)?;
            code.scope_bounds()
        }
        None => match actor.scope {
            Scope::National => ("0".to_string(), "~".to_string()),
            _ => actor.scope_bounds(),
        },
    };
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

pub async fn count_in_scope(state: &AppState, actor: &Actor) -> AppResult<i64> {
    let (lo, hi) = match actor.scope {
        Scope::National => ("0".to_string(), "~".to_string()),
        _ => actor.scope_bounds(),
    };
    Ok(sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM users WHERE scope >= $1 AND scope < $2",
    )
    .bind(lo)
    .bind(hi)
    .fetch_one(state.db.pool())
    .await?)
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
            orgs::get(state, actor, o)
                .await
                .map_err(|_| AppError::field(ErrorCode::Validation, "org_id", "机构不存在"))?;
            Some(o)
        }
        Some(None) => None,
        None => before.org_id,
    };
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE users SET display_name = $1, roles = $2, scope = $3, org_id = $4, disabled = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(&display_name)
    .bind(roles.to_csv())
    .bind(&scope_str)
    .bind(org_id)
    .bind(i64::from(disabled))
    .bind(now)
    .bind(id)
    .execute(w.conn())
    .await?;
    if disabled && !before.disabled || scope_str != before.region_code || roles != before_roles {
        auth::revoke_all_sessions(w.conn(), id, now).await?;
    }
    let permission_change = roles != before_roles || scope_str != before.region_code;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: if permission_change {
                "user.permission_change"
            } else {
                "user.update"
            },
            object_type: "user",
            object_id: id.to_string(),
            region_code: scope_str.clone(),
            outcome: "success",
            detail: diff(&[
                (
                    "display_name",
                    json!(before.display_name),
                    json!(display_name),
                ),
                ("roles", json!(before_roles.to_csv()), json!(roles.to_csv())),
                ("scope", json!(before.region_code), json!(scope_str)),
                ("org_id", json!(before.org_id), json!(org_id)),
                ("disabled", json!(before.disabled), json!(disabled)),
            ]),
        },
    )
    .await?;
    w.commit().await?;
    state.auth_cache.invalidate();
    get_user(state, actor, id).await
}

/// Unlock a locked account (security administrator).
pub async fn unlock_user(state: &AppState, actor: &Actor, id: i64) -> AppResult<UserView> {
    actor.require(Permission::SecurityManage)?;
    let target = get_user(state, actor, id).await?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    sqlx::query("UPDATE users SET locked_until = NULL, failed_count = 0, first_failed_at = NULL WHERE id = $1")
        .bind(id)
        .execute(w.conn())
        .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "user.unlock",
            object_type: "user",
            object_id: id.to_string(),
            region_code: target.region_code.clone(),
            outcome: "success",
            detail: json!({"locked": {"before": target.locked, "after": false}}),
        },
    )
    .await?;
    w.commit().await?;
    state.auth_cache.invalidate();
    get_user(state, actor, id).await
}

/// Set a new password that must be changed at next login (security administrator, or the
/// operator). Without a password one is generated and returned. Sessions are revoked.
pub async fn reset_password(
    state: &AppState,
    actor: &Actor,
    id: i64,
    password: Option<&str>,
) -> AppResult<String> {
    actor.require(Permission::SecurityManage)?;
    let target = get_user(state, actor, id).await?;
    let password = match password {
        Some(p) => p.to_string(),
        None => auth::generate_password(),
    };
    state
        .config
        .policy
        .check(
            &password,
            &[target.username.as_str(), target.display_name.as_str()],
        )
        .map_err(|e| AppError::field(ErrorCode::WeakPassword, "password", e.to_string()))?;
    let hash = auth::hash_password(&password)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE users SET password_hash = $1, password_changed_at = $2, must_change_password = 1, \
         locked_until = NULL, failed_count = 0, first_failed_at = NULL, updated_at = $2 WHERE id = $3",
    )
    .bind(&hash)
    .bind(now)
    .bind(id)
    .execute(w.conn())
    .await?;
    auth::revoke_all_sessions(w.conn(), id, now).await?;
    // A reset answers a lost or compromised password: personal API tokens end too.
    let tokens_revoked = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(w.conn())
    .await?
    .rows_affected();
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "user.password_reset",
            object_type: "user",
            object_id: id.to_string(),
            region_code: target.region_code.clone(),
            outcome: "success",
            detail: json!({"must_change_password": true, "api_tokens_revoked": tokens_revoked}),
        },
    )
    .await?;
    w.commit().await?;
    state.auth_cache.invalidate();
    Ok(password)
}

/// Find a user id by username, in scope.
pub async fn id_by_username(state: &AppState, actor: &Actor, username: &str) -> AppResult<i64> {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username.trim())
        .fetch_optional(state.db.pool())
        .await?;
    let id = id.ok_or_else(AppError::not_found)?;
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

/// A personal API token as listed (the secret itself is shown only once, at creation).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiTokenView {
    pub id: i64,
    pub name: String,
    /// First characters, to recognise it.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub revoked: bool,
}

/// Create a personal API token (same roles and scope as the user). Returns the token once.
pub async fn create_token(
    state: &AppState,
    actor: &Actor,
    name: &str,
    days: Option<i64>,
) -> AppResult<(ApiTokenView, String)> {
    let user_id = actor.user_id.ok_or_else(AppError::forbidden)?;
    if !matches!(actor.via, crate::kernel::actor::Via::Session(_)) {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "只能在登录会话中创建令牌",
        ));
    }
    let name = text_field("name", name, 50, true)?;
    let days = days.unwrap_or(365);
    if !(1..=3650).contains(&days) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "days",
            "有效期应为 1–3650 天",
        ));
    }
    let token = random_token(API_TOKEN_PREFIX);
    let prefix: String = token.chars().take(10).collect();
    let now = state.now_ms();
    let expires = now + days * 24 * 3600 * 1000;
    let mut w = state.db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (token_hash, user_id, name, prefix, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(&name)
    .bind(&prefix)
    .bind(now)
    .bind(expires)
    .fetch_one(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "token.create",
            object_type: "api_token",
            object_id: id.to_string(),
            region_code: actor.scope.as_str().to_string(),
            outcome: "success",
            detail: json!({"name": name, "days": days}),
        },
    )
    .await?;
    w.commit().await?;
    let view = list_tokens(state, actor)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(AppError::not_found)?;
    Ok((view, token))
}

pub async fn list_tokens(state: &AppState, actor: &Actor) -> AppResult<Vec<ApiTokenView>> {
    let user_id = actor.user_id.ok_or_else(AppError::forbidden)?;
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

pub async fn revoke_token(state: &AppState, actor: &Actor, id: i64) -> AppResult<()> {
    let user_id = actor.user_id.ok_or_else(AppError::forbidden)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let n = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .bind(user_id)
        .execute(w.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(AppError::not_found());
    }
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "token.revoke",
            object_type: "api_token",
            object_id: id.to_string(),
            region_code: actor.scope.as_str().to_string(),
            outcome: "success",
            detail: json!({}),
        },
    )
    .await?;
    w.commit().await?;
    state.auth_cache.invalidate();
    Ok(())
}

/// On an empty database, create `admin` (sysadmin, national). Returns the generated password
/// when none was given (the caller prints it once), `None` otherwise or if users exist.
pub async fn ensure_initial_admin(
    state: &AppState,
    given: Option<&str>,
) -> AppResult<Option<String>> {
    let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM users")
        .fetch_one(state.db.pool())
        .await?;
    if n > 0 {
        return Ok(None);
    }
    let generated = given.is_none();
    let password = given
        .map(str::to_string)
        .unwrap_or_else(auth::generate_password);
    state
        .config
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
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, display_name, scope, roles, password_hash, password_changed_at, \
         must_change_password, created_at, updated_at) VALUES ('admin', '系统管理员', '0', 'sysadmin', $1, $2, 1, $2, $2) RETURNING id",
    )
    .bind(&hash)
    .bind(now)
    .fetch_one(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(&Actor::operator()),
        Entry {
            action: "user.create",
            object_type: "user",
            object_id: id.to_string(),
            region_code: "0".to_string(),
            outcome: "success",
            detail: json!({"username": {"before": null, "after": "admin"}, "roles": {"before": null, "after": "sysadmin"}, "initial": true}),
        },
    )
    .await?;
    w.commit().await?;
    Ok(generated.then_some(password))
}
