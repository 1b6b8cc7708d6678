//! The framework's own rejections in Chinese (issue 14, item 3). axum's extractors (`Query`,
//! `Form`, `Path`, `Json`, `Multipart`) answer a request they cannot parse with English plain
//! text ("Failed to deserialize query string: missing field `period`") before any handler
//! runs. This layer, the innermost of the router, turns every such answer into the service's
//! own shape: `{code, message}` with a stable code under `/api/`, the Chinese error page
//! elsewhere; a field the text names is shown by its Chinese label. A path segment that does
//! not parse (`/api/v1/persons/abc`) reads as *not found*, like an id outside the scope.
//! One place, so no handler and no new area can forget it.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backstop_core::error::ErrorCode;

use crate::kernel::error::{AppError, field_label};
use crate::kernel::web::PageError;

/// The longest rejection text read (axum's are one line).
const MAX_TEXT: usize = 4096;

/// Rewrite an extractor's plain-text rejection (see the module documentation).
pub async fn chinese_rejections(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with("/assets/") {
        return next.run(req).await;
    }
    let api = path.starts_with("/api/");
    let resp = next.run(req).await;
    if !is_plain_rejection(&resp) {
        return resp;
    }
    let status = resp.status();
    let text = match axum::body::to_bytes(resp.into_body(), MAX_TEXT).await {
        Ok(b) => String::from_utf8_lossy(&b).to_string(),
        Err(_) => String::new(),
    };
    let e = translate(status, &text);
    if api {
        e.into_response()
    } else {
        PageError(e).into_response()
    }
}

/// An extractor's status answered as plain text: only the framework answers so (the service's
/// own errors are JSON or pages; `/metrics` answers its 401 itself).
fn is_plain_rejection(resp: &Response) -> bool {
    matches!(
        resp.status(),
        StatusCode::BAD_REQUEST
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY
    ) && resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"))
}

/// The text between the first pair of backticks after `after`.
fn quoted<'a>(text: &'a str, after: &str) -> Option<&'a str> {
    let rest = &text[text.find(after)? + after.len()..];
    let rest = rest.strip_prefix('`')?;
    rest.split('`').next()
}

/// The Chinese error for an extractor's rejection text.
pub fn translate(status: StatusCode, text: &str) -> AppError {
    let lower = text.to_ascii_lowercase();
    if status == StatusCode::PAYLOAD_TOO_LARGE || lower.contains("length limit") {
        return AppError::new(ErrorCode::PayloadTooLarge);
    }
    if lower.starts_with("invalid url") || lower.contains("path argument") {
        return AppError::not_found();
    }
    let json = lower.contains("json");
    let (code, what) = if json {
        (ErrorCode::InvalidJson, "请求内容（JSON）")
    } else if lower.contains("query string") {
        (ErrorCode::BadRequest, "查询参数")
    } else if lower.contains("multipart") || lower.contains("boundary") {
        (ErrorCode::BadRequest, "上传的内容")
    } else {
        (ErrorCode::BadRequest, "提交的内容")
    };
    let message = if let Some(f) = quoted(text, "missing field ") {
        format!("{what}缺少“{}”", field_label(f))
    } else if let Some(v) = quoted(text, "unknown variant ") {
        format!(
            "{what}中的取值“{}”无效",
            v.chars().take(20).collect::<String>()
        )
    } else if lower.contains("content-type") {
        if json {
            "请求体必须是 JSON（Content-Type: application/json）".to_string()
        } else {
            format!("{what}的格式不对，请从页面重新提交")
        }
    } else if lower.contains("invalid digit")
        || lower.contains("invalid type")
        || lower.contains("invalid value")
        || lower.contains("invalid float")
        || lower.contains("cannot parse")
    {
        format!("{what}中有一项不是有效的数字或取值")
    } else if json {
        "请求内容不是有效的 JSON".to_string()
    } else {
        format!("{what}有误，无法识别")
    };
    AppError::msg(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axum_texts_become_chinese() {
        let e = translate(
            StatusCode::BAD_REQUEST,
            "Failed to deserialize query string: missing field `period`",
        );
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert_eq!(e.message, "查询参数缺少“报告期”");
        let e = translate(
            StatusCode::BAD_REQUEST,
            "Invalid URL: Cannot parse `abc` to a `i64`",
        );
        assert_eq!(e.code, ErrorCode::NotFound);
        let e = translate(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Failed to deserialize form body: invalid digit found in string",
        );
        assert_eq!(e.message, "提交的内容中有一项不是有效的数字或取值");
        for t in [
            "Form requests must have `Content-Type: application/x-www-form-urlencoded`",
            "Failed to deserialize query string: unknown variant `x`, expected `a`",
            "Failed to parse the request body as JSON: expected value at line 1 column 1",
        ] {
            let m = translate(StatusCode::BAD_REQUEST, t).message;
            for english in [
                "Failed",
                "deserialize",
                "Form requests",
                "expected",
                "parse",
            ] {
                assert!(!m.contains(english), "{m}");
            }
        }
    }
}
