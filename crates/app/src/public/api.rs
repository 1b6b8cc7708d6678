//! The public JSON API (`/public/api/…`, issue 15 item 5): what the public pages do, for an
//! app or a mini-program — ask for a one-time code, verify it (a public session token,
//! `Authorization: Bearer p_…`), submit an application, follow one's applications — with the
//! same `{code, message}` errors as the staff API, and its own OpenAPI document
//! (`/public/api/openapi.json`, [`PublicApiDoc`]), built by the same machinery (utoipa) but
//! never mixed with the staff one. Staff tokens and cookies mean nothing here.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::Citizen;
use super::pages::PublicAddr;
use crate::assistance::public::{self as apply, Authorisation, PublicApplication, PublicStatus};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::extract::JsonBody;
use crate::kernel::web::Routes;
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/public/api/openapi.json", get(openapi_json)),
        ("/public/api/programmes", get(programmes)),
        ("/public/api/authorisation", get(authorisation)),
        ("/public/api/regions", get(regions)),
        ("/public/api/code", post(code)),
        ("/public/api/session", post(session)),
        ("/public/api/applications", get(mine).post(submit)),
        ("/public/api/applications/{number}", get(one)),
    ]
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Backstop (兜底) 公众服务 API", version = "1", description = "面向公众（无需账号）的接口：获取手机验证码、验证、在线申请社会救助（一次不用跑）、查询本人申请进度。错误统一为 {code, message}，code 为稳定标识，message 为中文说明。认证：先 POST /public/api/code 获取验证码，再 POST /public/api/session 换取公众令牌，之后以 Authorization: Bearer <令牌> 调用。工作人员令牌在此无效。"),
    paths(programmes, authorisation, regions, code, session, submit, mine, one),
    modifiers(&PublicBearer),
    tags((name = "public", description = "公众服务：验证码、在线申请、进度查询")),
)]
pub struct PublicApiDoc;

struct PublicBearer;

impl utoipa::Modify for PublicBearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "public_session",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(PublicApiDoc::openapi())
}

/// The public session of an API request (`Authorization: Bearer p_…`), else 401.
async fn caller(s: &AppState, headers: &HeaderMap) -> AppResult<Citizen> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let citizen = match token {
        Some(t) => super::citizen(s, t).await?,
        None => None,
    };
    citizen.ok_or_else(|| {
        AppError::msg(
            ErrorCode::Unauthenticated,
            "请先验证手机号码（获取验证码并验证）",
        )
    })
}

/// A programme one may apply for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProgrammeItem {
    pub key: String,
    pub label: String,
}

/// The programmes one may apply for on the public page.
#[utoipa::path(get, path = "/public/api/programmes", tag = "public",
    responses((status = 200, body = Vec<ProgrammeItem>)))]
pub async fn programmes() -> Json<Vec<ProgrammeItem>> {
    Json(
        apply::programmes()
            .into_iter()
            .map(|(k, l)| ProgrammeItem {
                key: k.to_string(),
                label: l.to_string(),
            })
            .collect(),
    )
}

/// The e-authorisation (电子授权) text to show, and its version (sent back on submission).
#[utoipa::path(get, path = "/public/api/authorisation", tag = "public",
    responses((status = 200, body = Authorisation)))]
pub async fn authorisation() -> Json<Authorisation> {
    Json(apply::authorisation())
}

/// `?parent=` of the region picker.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ParentQuery {
    /// A region code; omitted: the provinces.
    pub parent: Option<String>,
}

/// A region of the picker.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicRegion {
    pub code: String,
    pub name: String,
    /// province, city, county, township or village (an application names a village).
    pub level: String,
}

/// The regions under `parent` (the provinces without one), down to villages: the picker.
#[utoipa::path(get, path = "/public/api/regions", tag = "public", params(ParentQuery),
    responses((status = 200, body = Vec<PublicRegion>), (status = 404, body = crate::kernel::error::ErrorBody)))]
pub async fn regions(
    State(s): State<AppState>,
    Query(q): Query<ParentQuery>,
) -> AppResult<Json<Vec<PublicRegion>>> {
    let parent = match q.parent.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Some(RegionCode::parse(p).map_err(|_| AppError::not_found())?),
        None => None,
    };
    let list = crate::regions::public_children(&s, parent.as_ref()).await?;
    Ok(Json(
        list.into_iter()
            .map(|r| PublicRegion {
                code: r.code,
                name: r.name,
                level: r.level,
            })
            .collect(),
    ))
}

/// Body of `POST /public/api/code`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CodeRequest {
    /// A mainland mobile number.
    pub phone: String,
}

/// The answer to a code request: the same for every number.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeSent {
    pub message: String,
}

/// Send a 6-digit one-time code to a phone (valid 5 minutes). The same answer whatever the
/// number; limited per phone and per address (429 `rate_limited`).
#[utoipa::path(post, path = "/public/api/code", tag = "public", request_body = CodeRequest,
    responses((status = 202, body = CodeSent), (status = 422, body = crate::kernel::error::ErrorBody),
        (status = 429, body = crate::kernel::error::ErrorBody)))]
pub async fn code(
    State(s): State<AppState>,
    PublicAddr(addr): PublicAddr,
    JsonBody(body): JsonBody<CodeRequest>,
) -> AppResult<(StatusCode, Json<CodeSent>)> {
    super::request_code(&s, &body.phone, &addr).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSent {
            message: "如号码无误，验证码已发送，5 分钟内有效".to_string(),
        }),
    ))
}

/// Body of `POST /public/api/session`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct SessionRequest {
    pub phone: String,
    /// The 6-digit code received.
    pub code: String,
}

/// A public session.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicSession {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_in_seconds: i64,
    /// The verified phone, masked.
    pub phone_masked: String,
}

/// Verify a code: a public session for the phone. One answer (422) for a wrong, spent or
/// expired code; tries limited.
#[utoipa::path(post, path = "/public/api/session", tag = "public", request_body = SessionRequest,
    responses((status = 201, body = PublicSession), (status = 422, body = crate::kernel::error::ErrorBody),
        (status = 429, body = crate::kernel::error::ErrorBody)))]
pub async fn session(
    State(s): State<AppState>,
    PublicAddr(addr): PublicAddr,
    JsonBody(body): JsonBody<SessionRequest>,
) -> AppResult<(StatusCode, Json<PublicSession>)> {
    let token = super::verify_code(&s, &body.phone, &body.code, &addr).await?;
    let phone = super::mobile(&body.phone)?;
    Ok((
        StatusCode::CREATED,
        Json(PublicSession {
            token,
            expires_in_seconds: super::SESSION_MINUTES * 60,
            phone_masked: backstop_core::mask::mask_phone(&phone),
        }),
    ))
}

/// Apply for social assistance (一次不用跑): programme, village, household members with ID
/// numbers and income, the e-authorisation agreed. The answer is the application number and
/// its status — the same whoever the members are. With an `Idempotency-Key` already used by
/// this phone, the first answer.
#[utoipa::path(post, path = "/public/api/applications", tag = "public", request_body = PublicApplication,
    params(("Idempotency-Key" = Option<String>, Header, description = "8–100 个字母、数字、- 或 _；重发时相同")),
    security(("public_session" = [])),
    responses((status = 201, body = PublicStatus), (status = 401, body = crate::kernel::error::ErrorBody),
        (status = 422, body = crate::kernel::error::ErrorBody), (status = 429, body = crate::kernel::error::ErrorBody)))]
pub async fn submit(
    State(s): State<AppState>,
    PublicAddr(addr): PublicAddr,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PublicApplication>,
) -> AppResult<(StatusCode, Json<PublicStatus>)> {
    let c = caller(&s, &headers).await?;
    let idem = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let st = apply::submit(&s, c.phone_enc, &c.phone_index, &addr, &body, idem).await?;
    Ok((StatusCode::CREATED, Json(st)))
}

/// The applications made with the verified phone, newest first.
#[utoipa::path(get, path = "/public/api/applications", tag = "public",
    security(("public_session" = [])),
    responses((status = 200, body = Vec<PublicStatus>), (status = 401, body = crate::kernel::error::ErrorBody)))]
pub async fn mine(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> AppResult<Json<Vec<PublicStatus>>> {
    let c = caller(&s, &headers).await?;
    Ok(Json(apply::mine(&s, &c.phone_index).await?))
}

/// One application by its number, if it was made with the verified phone (404 alike for an
/// unknown number and another phone's).
#[utoipa::path(get, path = "/public/api/applications/{number}", tag = "public",
    params(("number" = String, Path)), security(("public_session" = [])),
    responses((status = 200, body = PublicStatus), (status = 401, body = crate::kernel::error::ErrorBody),
        (status = 404, body = crate::kernel::error::ErrorBody)))]
pub async fn one(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> AppResult<Json<PublicStatus>> {
    let c = caller(&s, &headers).await?;
    Ok(Json(apply::status(&s, &c.phone_index, &number).await?))
}
