//! Request extractors: the client's address, and the authenticated actor for the API
//! (bearer token or session cookie) and for pages (session cookie, redirecting to the login
//! page or to the unfinished login step). They only resolve who is calling; what that caller
//! may do is decided in the services.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::kernel::auth::{self, Authed, Stage};
use crate::kernel::error::AppError;
use crate::state::AppState;
use backstop_core::error::ErrorCode;

/// Name of the session cookie: `__Host-` prefixed (and `Secure`) when served over HTTPS.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-backstop"
    } else {
        "backstop"
    }
}

/// `Set-Cookie` value for a session token.
pub fn session_cookie(state: &AppState, token: &str) -> String {
    let secure = state.config.secure_cookies;
    format!(
        "{}={}; Path=/; HttpOnly; SameSite=Lax{}",
        cookie_name(secure),
        token,
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_cookie(state: &AppState) -> String {
    let secure = state.config.secure_cookies;
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        cookie_name(secure),
        if secure { "; Secure" } else { "" }
    )
}

fn cookie_token(headers: &HeaderMap, secure: bool) -> Option<String> {
    let name = cookie_name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        // Only a login session is a cookie: a personal API token is a bearer credential and
        // is never accepted in its place (issue 13, item 6).
        .filter(|v| v.starts_with(crate::kernel::auth::SESSION_PREFIX))
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// The client's address (the socket peer; no proxy header is trusted).
#[derive(Debug, Clone)]
pub struct Source(pub String);

impl Source {
    /// The peer address recorded in a request's extensions (`local` without one: tests, the
    /// in-process router).
    pub fn of(extensions: &axum::http::Extensions) -> Source {
        Source(
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "local".to_string()),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Source::of(&parts.extensions))
    }
}

async fn resolve(
    parts: &mut Parts,
    state: &AppState,
    allow_bearer: bool,
) -> Result<Authed, AppError> {
    let Source(source) = Source::from_request_parts(parts, state)
        .await
        .unwrap_or_else(|e| match e {});
    let token = if allow_bearer {
        bearer_token(&parts.headers)
    } else {
        None
    }
    .or_else(|| cookie_token(&parts.headers, state.config.secure_cookies))
    .ok_or_else(|| AppError::new(ErrorCode::Unauthenticated))?;
    auth::authenticate(state, &token, &source).await
}

/// API caller whose login is complete.
pub struct Api(pub Authed);

impl FromRequestParts<AppState> for Api {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let a = resolve(parts, state, true).await?;
        if a.stage != Stage::Full {
            return Err(a.stage.error());
        }
        Ok(Api(a))
    }
}

/// API caller at any stage of login (password change, TOTP, logout, `me`).
pub struct ApiAnyStage(pub Authed);

impl FromRequestParts<AppState> for ApiAnyStage {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Ok(ApiAnyStage(resolve(parts, state, true).await?))
    }
}

/// Page visitor whose login is complete; otherwise redirected to log in or finish a step.
pub struct Page(pub Authed);

pub struct PageRejection(Response);

impl From<AppError> for PageRejection {
    /// Not logged in: to the login page ([`crate::kernel::web::PageError`] sends it there);
    /// any other failure: the error page.
    fn from(e: AppError) -> Self {
        PageRejection(crate::kernel::web::PageError(e).into_response())
    }
}

impl IntoResponse for PageRejection {
    fn into_response(self) -> Response {
        self.0
    }
}

impl FromRequestParts<AppState> for Page {
    type Rejection = PageRejection;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, PageRejection> {
        match resolve(parts, state, false).await {
            Ok(a) if a.stage == Stage::Full => Ok(Page(a)),
            Ok(a) => Err(PageRejection(Redirect::to(a.stage.page()).into_response())),
            // Not logged in, asking for a page: to the login page, and back here afterwards.
            Err(e) if e.code == ErrorCode::Unauthenticated && parts.method == Method::GET => {
                let here = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                Err(PageRejection(
                    Redirect::to(&login_then(here)).into_response(),
                ))
            }
            Err(e) => Err(PageRejection::from(e)),
        }
    }
}

/// Page visitor at any stage of login.
pub struct PageAnyStage(pub Authed);

impl FromRequestParts<AppState> for PageAnyStage {
    type Rejection = PageRejection;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, PageRejection> {
        resolve(parts, state, false)
            .await
            .map(PageAnyStage)
            .map_err(PageRejection::from)
    }
}

/// A JSON body whose rejections are answered in the API's error shape
/// (`invalid_json` 400, `payload_too_large` 413), never as plain text.
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(JsonRejection::BytesRejection(_)) => Err(AppError::new(ErrorCode::PayloadTooLarge)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::msg(
                ErrorCode::InvalidJson,
                "请求体必须是 JSON（Content-Type: application/json）",
            )),
            // serde's own text is English: say it in Chinese, naming a missing field by its
            // label (kernel::rejection, the same words as for every other rejection).
            Err(e) => Err(crate::kernel::rejection::translate(
                e.status(),
                &e.body_text(),
            )),
        }
    }
}

/// A region code from a query string (`?region=`), typed where the request enters: absent or
/// empty is `None`; anything that is not a region code reads as *not found*, like a code
/// outside the caller's scope.
pub fn region_param(
    value: Option<&str>,
) -> Result<Option<backstop_core::region::RegionCode>, AppError> {
    match value.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => backstop_core::region::RegionCode::parse(s)
            .map(Some)
            .map_err(|_| AppError::not_found()),
    }
}

/// Page forms (and query strings) whose percent-decoded bytes are not UTF-8 are refused with
/// 400 before any handler runs, as the API refuses a JSON body that is not UTF-8: axum's form
/// and query parsing would otherwise turn the bad bytes into `�` and store that silently.
/// Pages get a Chinese error page, `/api/` paths the JSON error; nothing is written.
pub async fn utf8_guard(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let refuse = |e: AppError| {
        if api {
            e.into_response()
        } else {
            crate::kernel::web::PageError(e).into_response()
        }
    };
    let bad = || {
        AppError::msg(
            ErrorCode::BadRequest,
            "提交的内容不是有效的 UTF-8 编码文字，未保存",
        )
    };
    if !req
        .uri()
        .query()
        .is_none_or(|q| decodes_to_utf8(q.as_bytes()))
    {
        return refuse(bad());
    }
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !form {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, state.config.max_body_bytes).await else {
        return refuse(AppError::new(ErrorCode::PayloadTooLarge));
    };
    if !decodes_to_utf8(&bytes) {
        return refuse(bad());
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// Do the `application/x-www-form-urlencoded` bytes (`+` for space, `%XX` escapes) decode to
/// UTF-8? A `%` not followed by two hex digits stays as it is, as the form parser keeps it.
pub fn decodes_to_utf8(encoded: &[u8]) -> bool {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        let b = encoded[i];
        let esc = (b == b'%')
            .then(|| Some((hex(*encoded.get(i + 1)?)?, hex(*encoded.get(i + 2)?)?)))
            .flatten();
        match esc {
            Some((h, l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(0));
                i += 3;
            }
            None => {
                out.push(if b == b'+' { b' ' } else { b });
                i += 1;
            }
        }
    }
    std::str::from_utf8(&out).is_ok()
}

/// The page to return to after logging in, if `next` is one: a path of this site (`/…`, not
/// `//host` nor `/\\host`, no control characters), not a step of the login itself. Anything
/// else is dropped, so the login page never sends anyone to another site.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 500
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && !["/login", "/logout", "/account/password", "/account/totp"]
            .iter()
            .any(|p| next.starts_with(p));
    (ok && next != "/").then_some(next)
}

/// The login page's address that returns to `next` afterwards.
pub fn login_then(next: &str) -> String {
    match safe_next(next) {
        Some(n) => format!("/login?next={}", crate::kernel::web::encode_query_value(n)),
        None => "/login".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::decodes_to_utf8;

    #[test]
    fn malformed_utf8_in_forms_is_seen() {
        assert!(decodes_to_utf8(b"name=%E5%BC%A0%E4%B8%89&x=a+b&y=100%"));
        assert!(decodes_to_utf8("name=张三".as_bytes()));
        assert!(!decodes_to_utf8(b"name=%E5%BC"));
        assert!(!decodes_to_utf8(b"name=%FF"));
        assert!(!decodes_to_utf8(b"a=%E4&b=%B8%AD"));
        assert!(!decodes_to_utf8(b"name=\xff"));
    }
}
