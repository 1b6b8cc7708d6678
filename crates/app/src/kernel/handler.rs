//! What thin handlers share: one extractor for the state and the caller ([`ApiCaller`],
//! [`PageCaller`]), a page's numeric `{id}` ([`PageId`]), the `?region=` query
//! ([`RegionQuery`]), and [`api_handler!`], which writes a thin JSON API handler as one compact
//! declaration.
//!
//! Most API handlers do the same four things: take the application state and the calling
//! user, take the path, query and JSON body, call one service function, and answer its value
//! as JSON with 200 or 201; each also carries a `#[utoipa::path]` that says the same again.
//! [`api_handler!`] writes that shape once: a declaration names the method, path, tag, the
//! success body, the OpenAPI parameters, the JSON request body and the error statuses, then
//! the handler's extractors and the expression that produces the answer. The macro generates
//! the `#[utoipa::path(...)]` annotation (errors as `ErrorBody`) and the `pub async fn`, so the
//! OpenAPI document and the routes are exactly those of a hand-written handler. Handlers whose
//! logic differs (a status chosen at run time, no state, several bodies) stay hand-written.
//!
//! ```ignore
//! api_handler! {
//!     /// One gate with today's counts.
//!     get "/api/v1/gates/{id}", tag "entrance", ok(Gate), params(("id" = i64, Path)), errors(404);
//!     fn gate(s, a, Path(id): Path<i64>) { super::get_gate(&s, &a.actor, id).await? }
//! }
//! ```
//!
//! `ok(T)` answers 200, `created(T)` 201; `json(body: T)` adds the request body `T` (parsed by
//! [`crate::kernel::extract::JsonBody`], bound to `body`) and its `request_body` annotation.
//! `s` and `a` name the state and the authenticated caller ([`ApiCaller`]):
//! scope and roles are decided by the service function, as in every handler.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::kernel::auth::Authed;
use crate::kernel::error::AppError;
use crate::kernel::extract::{Api, Page, PageRejection};
use crate::state::AppState;

/// See the module documentation.
macro_rules! api_handler {
    (
        $(#[doc = $doc:literal])*
        $method:ident $path:literal, tag $tag:literal, ok($($ok:tt)+) $($rest:tt)*
    ) => {
        $crate::kernel::handler::api_handler! {
            @emit 200, OK; [$($doc)*] $method $path, $tag, [$($ok)+] $($rest)*
        }
    };
    (
        $(#[doc = $doc:literal])*
        $method:ident $path:literal, tag $tag:literal, created($($ok:tt)+) $($rest:tt)*
    ) => {
        $crate::kernel::handler::api_handler! {
            @emit 201, CREATED; [$($doc)*] $method $path, $tag, [$($ok)+] $($rest)*
        }
    };
    (
        @emit $code:literal, $status:ident; [$($doc:literal)*] $method:ident $path:literal,
        $tag:literal, [$($ok:tt)+]
        $(, params($($param:tt)*))?
        $(, json($body:ident: $req:ident))?
        $(, errors($($err:literal),*))?;
        fn $name:ident($s:ident, $a:ident $(, $ext:ident($($bind:tt)*): $wrap:ident<$inner:ty>)*)
            $call:block
    ) => {
        $(#[doc = $doc])*
        #[utoipa::path($method, path = $path, tag = $tag, $(params($($param)*),)?
            $(request_body = $req,)?
            responses((status = $code, body = $($ok)+)
                $($(, (status = $err, body = $crate::kernel::error::ErrorBody))*)?))]
        pub async fn $name(
            $crate::kernel::handler::ApiCaller($s, $a): $crate::kernel::handler::ApiCaller,
            $($ext($($bind)*): $wrap<$inner>,)*
            $($crate::kernel::extract::JsonBody($body): $crate::kernel::extract::JsonBody<$req>,)?
        ) -> $crate::kernel::error::AppResult<(axum::http::StatusCode, axum::Json<$($ok)+>)> {
            Ok((axum::http::StatusCode::$status, axum::Json($call)))
        }
    };
}

pub(crate) use api_handler;

/// The request's `Idempotency-Key` header, trimmed; `None` when absent or blank.
pub fn idem(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `?region=` of a list over the caller's scope (one definition, so every such list describes
/// the parameter alike in the OpenAPI document).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct RegionQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
}

impl RegionQuery {
    /// The region asked for, typed ([`crate::kernel::extract::region_param`]): `None` for the
    /// caller's whole scope; anything not a region code reads as *not found*.
    pub fn region(
        &self,
    ) -> Result<Option<backstop_core::region::RegionCode>, crate::kernel::error::AppError> {
        crate::kernel::extract::region_param(self.region.as_deref())
    }
}

/// The application state and the API caller whose login is complete
/// ([`crate::kernel::extract::Api`]), taken together as nearly every API handler takes them.
pub struct ApiCaller(pub AppState, pub Authed);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Api(a) = Api::from_request_parts(parts, state).await?;
        Ok(ApiCaller(state.clone(), a))
    }
}

/// The application state and the page visitor whose login is complete
/// ([`crate::kernel::extract::Page`]: otherwise redirected to log in or finish a step).
pub struct PageCaller(pub AppState, pub Authed);

impl FromRequestParts<AppState> for PageCaller {
    type Rejection = PageRejection;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, PageRejection> {
        let Page(a) = Page::from_request_parts(parts, state).await?;
        Ok(PageCaller(state.clone(), a))
    }
}

/// A page's numeric id from its path or form: anything that is not a number reads as *not
/// found*, like an id outside the caller's scope.
pub fn page_id(s: &str) -> Result<i64, AppError> {
    s.parse().map_err(|_| AppError::not_found())
}

/// A page's `{id}` path segment as a number ([`page_id`]; otherwise the *not found* page).
pub struct PageId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PageId {
    type Rejection = PageRejection;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageRejection> {
        let axum::extract::Path(id) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::not_found())?;
        Ok(PageId(page_id(&id)?))
    }
}

/// The status of a page that shows a form: 422 when it shows the form again with the reason its
/// input was refused (`error`), else 200. New pages use [`crate::kernel::form::Kept`], which
/// also keeps the input and puts the reason beside its field.
pub fn form_status(error: &Option<String>) -> axum::http::StatusCode {
    if error.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    }
}

/// A page form's write, split the way the page answers it: `Ok(Ok(value))` done;
/// `Ok(Err(reason))` refused as invalid (422), for the form shown again with the input kept and
/// the reason; `Err` any other failure, for the error page.
pub fn refusal<T>(
    result: crate::kernel::error::AppResult<T>,
) -> Result<Result<T, String>, crate::kernel::web::PageError> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.status() == axum::http::StatusCode::UNPROCESSABLE_ENTITY => Ok(Err(e.message)),
        Err(e) => Err(e.into()),
    }
}
