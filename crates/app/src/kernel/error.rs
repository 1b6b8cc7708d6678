//! Errors of the service: one type for every area, with a stable code (from `backstop_core`),
//! a Chinese message, and optional per-field messages. The API renders it as
//! `{code, message, fields?}` with the code's HTTP status; pages render it as a Chinese page
//! (see `kernel::web::PageError`). Database details never reach the client or the log text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use backstop_core::error::ErrorCode;
use serde::Serialize;

/// One field's problem, for forms and JSON bodies.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    pub fields: Vec<FieldError>,
}

/// The JSON body of every API error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `not_found`, `validation`, `invalid_credentials`.
    pub code: String,
    /// Chinese message for people.
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: ErrorCode) -> Self {
        AppError {
            code,
            message: code.message_zh().to_string(),
            fields: Vec::new(),
        }
    }
    pub fn msg(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound)
    }
    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden)
    }
    /// A validation error on one field.
    pub fn field(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        AppError {
            code,
            message: format!("{}：{}", field_label(field), message),
            fields: vec![FieldError {
                field: field.to_string(),
                message,
            }],
        }
    }
    /// An unexpected failure: logged (without data), answered as `internal`.
    pub fn internal(what: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(what, error = %err, "internal error");
        Self::new(ErrorCode::Internal)
    }
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.as_str().to_string(),
            message: self.message.clone(),
            fields: self.fields.clone(),
        }
    }
}

/// Chinese label of a common field name, for messages.
pub fn field_label(field: &str) -> &str {
    match field {
        "username" => "用户名",
        "password" | "new_password" => "密码",
        "old_password" => "原密码",
        "roles" => "角色",
        "region_code" | "region" => "区划代码",
        "org_id" => "所属机构",
        "name" => "名称",
        "kind" => "类型",
        "display_name" => "姓名",
        "contact_person" => "联系人",
        "contact_phone" => "联系电话",
        "address" => "地址",
        "totp" | "code" => "动态验证码",
        other => other,
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for AppError {}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return AppError::new(ErrorCode::Conflict);
            }
            if db.is_foreign_key_violation() {
                return AppError::msg(ErrorCode::Validation, "引用的记录不存在");
            }
        }
        if backstop_store::is_busy(&e) {
            tracing::warn!(error = %e, "database busy; the request wrote nothing");
            return AppError::new(ErrorCode::Busy);
        }
        AppError::internal("database", e)
    }
}

/// A group-commit write's failure: the job's own error, the database's, or busy (503).
impl<E: Into<AppError>> From<backstop_store::WriteError<E>> for AppError {
    fn from(e: backstop_store::WriteError<E>) -> Self {
        match e {
            backstop_store::WriteError::Job(e) => e.into(),
            backstop_store::WriteError::Db(e) => e.into(),
            backstop_store::WriteError::Busy => AppError::new(ErrorCode::Busy),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut resp = (status, axum::Json(self.body())).into_response();
        if self.code == ErrorCode::Busy {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        resp
    }
}

/// Parse a `YYYY-MM-DD` field, or a validation error naming it.
pub fn date_field(field: &str, value: &str) -> AppResult<chrono::NaiveDate> {
    backstop_core::clock::parse_ymd(value)
        .ok_or_else(|| AppError::field(ErrorCode::Validation, field, "日期格式应为 YYYY-MM-DD"))
}

/// Check the length of a text field (in characters), trimming it.
pub fn text_field(field: &str, value: &str, max_chars: usize, required: bool) -> AppResult<String> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(AppError::field(ErrorCode::Validation, field, "不能为空"));
    }
    if v.chars().count() > max_chars {
        return Err(AppError::field(
            ErrorCode::Validation,
            field,
            format!("不能超过 {max_chars} 个字符"),
        ));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(AppError::field(
            ErrorCode::Validation,
            field,
            "含有控制字符",
        ));
    }
    Ok(v.to_string())
}
