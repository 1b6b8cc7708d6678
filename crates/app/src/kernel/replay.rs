//! A page form sent twice is saved once (issue 14, item 2). On a phone whose connection drops
//! mid-send, the person cannot tell whether the form arrived; `assets/app.js` keeps a form
//! marked `data-resend` on the phone and sends it again, with the same `Idempotency-Key`
//! header, once the connection is back. This layer answers a repeat from the first answer: a
//! page form's success is a redirect (303), whose location is stored under the user and the
//! key (`idempotency_keys`, the table the API's report submissions use, keys prefixed `page:`)
//! with a hash of the route and the body; the same key again with the same body is sent to the
//! same place without running the handler, with a different body it is refused (409). While the
//! first send is still running, a repeat is told to wait (409) rather than run alongside it.
//! Refusals (422) are not stored: the form is shown again and may be corrected and resent.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use backstop_core::error::ErrorCode;

use crate::kernel::error::AppError;
use crate::kernel::extract::Page;
use crate::kernel::web::PageError;
use crate::state::AppState;

/// Keys being saved right now: `(user, key)`.
fn in_flight() -> &'static Mutex<HashSet<(i64, String)>> {
    static SET: OnceLock<Mutex<HashSet<(i64, String)>>> = OnceLock::new();
    SET.get_or_init(Default::default)
}

/// A key as the page script makes them: 8 to 100 letters, digits, `-` or `_`.
fn valid_key(k: &str) -> bool {
    (8..=100).contains(&k.len())
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Releases the in-flight mark however the request ends.
struct Running((i64, String));

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut set) = in_flight().lock() {
            set.remove(&self.0);
        }
    }
}

/// See the module documentation.
pub async fn page_form_replay(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| valid_key(k))
        .map(str::to_string);
    let Some(key) =
        key.filter(|_| req.method() == Method::POST && !req.uri().path().starts_with("/api/"))
    else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let Ok(Page(a)) = Page::from_request_parts(&mut parts, &state).await else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let Some(uid) = a.actor.user_id else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let Ok(bytes) = axum::body::to_bytes(body, state.config.max_body_bytes).await else {
        return PageError(AppError::new(ErrorCode::PayloadTooLarge)).into_response();
    };
    // Keyed: the body of a person's form holds an ID number, a phone, a name.
    let hash = state.keys.keyed_hash(
        "page_replay",
        &[parts.uri.path().as_bytes(), &[0u8], &bytes].concat(),
    );
    let stored_key = format!("page:{key}");
    match crate::kernel::queries::page_replay(&state, (a.actor.province(), uid), &stored_key).await
    {
        Ok(Some((h, location))) if h == hash => return replayed(&location),
        Ok(Some(_)) => {
            return PageError(AppError::msg(
                ErrorCode::Conflict,
                "这个提交编号已用于另一份内容，本次未保存，请重新打开页面填写",
            ))
            .into_response();
        }
        Ok(None) => {}
        Err(e) => return PageError(e).into_response(),
    }
    let mark = (uid, stored_key.clone());
    let newly = in_flight()
        .lock()
        .map(|mut set| set.insert(mark.clone()))
        .unwrap_or(false);
    if !newly {
        return PageError(AppError::msg(
            ErrorCode::Conflict,
            "这份内容正在保存，请稍候刷新页面查看，不必重复提交",
        ))
        .into_response();
    }
    let _running = Running(mark);
    let resp = next
        .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await;
    let location = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .filter(|l| l.starts_with('/') && !l.starts_with("//"))
        .map(str::to_string);
    if resp.status().is_redirection()
        && let Some(location) = location
        && let Err(e) = crate::kernel::queries::save_page_replay(
            &state,
            (a.actor.province(), uid),
            &stored_key,
            &hash,
            &location,
            state.now_ms(),
        )
        .await
    {
        // Saved, but a resend would save again: say so in the log (no data).
        tracing::warn!(code = e.code.as_str(), "recording a page form's key failed");
    }
    resp
}

/// The first answer again: to where the first send went.
fn replayed(location: &str) -> Response {
    let mut resp = Redirect::to(location).into_response();
    *resp.status_mut() = StatusCode::SEE_OTHER;
    resp.headers_mut()
        .insert("idempotent-replay", HeaderValue::from_static("true"));
    resp
}
