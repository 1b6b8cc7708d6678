//! Accounts API: login, logout, password change, TOTP enrolment, `me`, users, personal API
//! tokens. Pages are in `accounts::pages`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::{ApiTokenView, Me, NewUser, UserPatch, UserView};
use crate::kernel::auth::{self, TotpEnrollment};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{ApiAnyStage, JsonBody, Source, region_param};
use crate::kernel::handler::{ApiCaller, api_handler};
use crate::kernel::web::Routes;
use crate::state::AppState;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/auth/login", post(login)),
        ("/api/v1/auth/logout", post(logout)),
        ("/api/v1/auth/password", post(change_password)),
        ("/api/v1/auth/totp/enroll", post(totp_enroll)),
        ("/api/v1/auth/totp/confirm", post(totp_confirm)),
        ("/api/v1/me", get(me)),
        ("/api/v1/users", get(list_users).post(create_user)),
        ("/api/v1/users/{id}", get(get_user).patch(update_user)),
        ("/api/v1/users/{id}/unlock", post(unlock_user)),
        ("/api/v1/users/{id}/disable", post(disable_user)),
        ("/api/v1/users/{id}/enable", post(enable_user)),
        ("/api/v1/users/{id}/reset-password", post(reset_password)),
        ("/api/v1/tokens", get(list_tokens).post(create_token)),
        ("/api/v1/tokens/{id}", axum::routing::delete(revoke_token)),
    ]
    .into_iter()
    .chain(super::security_web::api_routes())
    .collect()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
    /// Six-digit code, required when the account has TOTP.
    pub totp: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// Bearer token for `Authorization: Bearer …`.
    pub token: String,
    /// UTC, RFC 3339 (absolute expiry; idle expiry also applies).
    pub expires_at: String,
    pub must_change_password: bool,
    /// full, need_password_change or need_totp_enrollment.
    pub stage: auth::Stage,
}

fn token_response(r: auth::LoginResult) -> TokenResponse {
    TokenResponse {
        token: r.token,
        expires_at: backstop_core::clock::from_millis(r.expires_at_ms).to_rfc3339(),
        must_change_password: r.must_change_password,
        stage: r.stage,
    }
}

/// Log in. The same `invalid_credentials` answer for an unknown user, a wrong password, and a
/// locked or disabled account.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody)))]
pub async fn login(
    State(s): State<AppState>,
    Source(src): Source,
    JsonBody(b): JsonBody<LoginBody>,
) -> AppResult<axum::Json<TokenResponse>> {
    let r = auth::login(&s, &b.username, &b.password, b.totp.as_deref(), false, &src).await?;
    Ok(axum::Json(token_response(r)))
}

/// End this session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(
    State(s): State<AppState>,
    ApiAnyStage(a): ApiAnyStage,
) -> AppResult<StatusCode> {
    auth::logout(&s, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordBody {
    pub old_password: String,
    pub new_password: String,
}

/// Change one's password. All sessions end; the answer carries a fresh token.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordBody,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_password(
    State(s): State<AppState>,
    ApiAnyStage(a): ApiAnyStage,
    JsonBody(b): JsonBody<PasswordBody>,
) -> AppResult<axum::Json<TokenResponse>> {
    if a.stage == auth::Stage::NeedTotp {
        return Err(a.stage.error());
    }
    let r = auth::change_password(&s, &a, &b.old_password, &b.new_password).await?;
    Ok(axum::Json(token_response(r)))
}

/// Start TOTP enrolment: a new secret (shown once) to put in an authenticator app.
#[utoipa::path(post, path = "/api/v1/auth/totp/enroll", tag = "auth",
    responses((status = 200, body = TotpEnrollment), (status = 409, body = ErrorBody)))]
pub async fn totp_enroll(
    State(s): State<AppState>,
    ApiAnyStage(a): ApiAnyStage,
) -> AppResult<axum::Json<TotpEnrollment>> {
    if matches!(
        a.stage,
        auth::Stage::NeedTotp | auth::Stage::NeedPasswordChange
    ) {
        return Err(a.stage.error());
    }
    Ok(axum::Json(auth::begin_totp_enrollment(&s, &a).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CodeBody {
    pub code: String,
}

/// Confirm TOTP enrolment with a first code.
#[utoipa::path(post, path = "/api/v1/auth/totp/confirm", tag = "auth", request_body = CodeBody,
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn totp_confirm(
    State(s): State<AppState>,
    ApiAnyStage(a): ApiAnyStage,
    JsonBody(b): JsonBody<CodeBody>,
) -> AppResult<StatusCode> {
    if matches!(
        a.stage,
        auth::Stage::NeedTotp | auth::Stage::NeedPasswordChange
    ) {
        return Err(a.stage.error());
    }
    auth::confirm_totp_enrollment(&s, &a, &b.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who am I: `{username, roles, region_code, …}`.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(
    State(s): State<AppState>,
    ApiAnyStage(a): ApiAnyStage,
) -> AppResult<axum::Json<Me>> {
    Ok(axum::Json(super::me(&s, &a).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UserQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
}

api_handler! {
    /// Accounts in the caller's scope.
    get "/api/v1/users", tag "users", ok(Vec<UserView>), params(UserQuery), errors(403);
    fn list_users(s, a, Query(q): Query<UserQuery>) {
        super::list_users(&s, &a.actor, region_param(q.region.as_deref())?.as_ref()).await?
    }
}

api_handler! {
    /// Create an account (must change its password at first login).
    post "/api/v1/users", tag "users", created(UserView), json(b: NewUser), errors(403, 409, 422);
    fn create_user(s, a) { super::create_user(&s, &a.actor, &b).await? }
}

api_handler! {
    /// One account.
    get "/api/v1/users/{id}", tag "users", ok(UserView), params(("id" = i64, Path)), errors(404);
    fn get_user(s, a, Path(id): Path<i64>) { super::get_user(&s, &a.actor, id).await? }
}

api_handler! {
    /// Change an account's name, roles, scope, organisation or enabled state.
    patch "/api/v1/users/{id}", tag "users", ok(UserView), params(("id" = i64, Path)),
        json(b: UserPatch), errors(403, 404);
    fn update_user(s, a, Path(id): Path<i64>) { super::update_user(&s, &a.actor, id, &b).await? }
}

api_handler! {
    /// Disable an account: it can no longer log in; its sessions and tokens end.
    post "/api/v1/users/{id}/disable", tag "users", ok(UserView), params(("id" = i64, Path)),
        errors(403, 404);
    fn disable_user(s, a, Path(id): Path<i64>) { super::set_user_disabled(&s, &a.actor, id, true).await? }
}

api_handler! {
    /// Enable a disabled account again.
    post "/api/v1/users/{id}/enable", tag "users", ok(UserView), params(("id" = i64, Path)),
        errors(403, 404);
    fn enable_user(s, a, Path(id): Path<i64>) { super::set_user_disabled(&s, &a.actor, id, false).await? }
}

api_handler! {
    /// Unlock a locked account (security administrator).
    post "/api/v1/users/{id}/unlock", tag "users", ok(UserView), params(("id" = i64, Path)),
        errors(403);
    fn unlock_user(s, a, Path(id): Path<i64>) { super::unlock_user(&s, &a.actor, id).await? }
}

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct ResetBody {
    /// New password; generated when omitted.
    pub password: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResetResponse {
    /// The new password, to hand over; it must be changed at next login. Absent when it was
    /// sent to the account's registered phone.
    pub password: Option<String>,
    /// The masked phone the one-time password was sent to, if it was.
    pub sent_to: Option<String>,
}

api_handler! {
    /// Reset an account's password (security administrator).
    post "/api/v1/users/{id}/reset-password", tag "users", ok(ResetResponse),
        params(("id" = i64, Path)), json(b: ResetBody), errors(403);
    fn reset_password(s, a, Path(id): Path<i64>) {
        match super::reset_password(&s, &a.actor, id, b.password.as_deref()).await? {
            super::Reset::Shown(p) => ResetResponse { password: Some(p), sent_to: None },
            super::Reset::Sent(m) => ResetResponse { password: None, sent_to: Some(m) },
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    pub name: String,
    /// Days of validity (default and maximum: the security setting, 90 days unless changed).
    pub days: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// Shown once; only its hash is stored.
    pub token: String,
    pub info: ApiTokenView,
}

api_handler! {
    /// Personal API tokens of the caller.
    get "/api/v1/tokens", tag "auth", ok(Vec<ApiTokenView>);
    fn list_tokens(s, a) { super::list_tokens(&s, &a.actor).await? }
}

api_handler! {
    /// Create a personal API token (same roles and scope as the caller; from a login session).
    post "/api/v1/tokens", tag "auth", created(CreatedToken), json(b: NewToken), errors(403);
    fn create_token(s, a) {
        let (info, token) = super::create_token(&s, &a.actor, &b.name, b.days).await?;
        CreatedToken { token, info }
    }
}

/// Revoke one of the caller's API tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    ApiCaller(s, a): ApiCaller,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    super::revoke_token(&s, &a.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
