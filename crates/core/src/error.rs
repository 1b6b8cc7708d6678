//! Stable API error codes.
//!
//! This module owns the machine-readable codes every JSON error carries, their HTTP status and
//! a default Chinese message, so pages, API and CLI speak the same vocabulary and clients can
//! rely on the codes never changing. Deciding *which* code to answer (for instance the same
//! `invalid_credentials` for an unknown user as for a wrong password, to avoid user
//! enumeration) is the app layer's job.

use std::fmt;

/// A stable error code. The serde and [`ErrorCode::as_str`] forms are the same snake_case
/// identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    InvalidJson,
    Validation,
    InvalidRegionCode,
    UnknownRegion,
    InvalidIdNumber,
    ReasonRequired,
    UnknownRole,
    RoleNotGrantable,
    WeakPassword,
    Unauthenticated,
    InvalidCredentials,
    AccountLocked,
    TotpRequired,
    InvalidTotp,
    PasswordChangeRequired,
    Forbidden,
    NotFound,
    Conflict,
    DuplicateUsername,
    CsrfRejected,
    PayloadTooLarge,
    FileTooLarge,
    XlsxUnsafe,
    BadColumns,
    UnreadableFile,
    Interrupted,
    RateLimited,
    Busy,
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 30] = [
        ErrorCode::BadRequest,
        ErrorCode::InvalidJson,
        ErrorCode::Validation,
        ErrorCode::InvalidRegionCode,
        ErrorCode::UnknownRegion,
        ErrorCode::InvalidIdNumber,
        ErrorCode::ReasonRequired,
        ErrorCode::UnknownRole,
        ErrorCode::RoleNotGrantable,
        ErrorCode::WeakPassword,
        ErrorCode::Unauthenticated,
        ErrorCode::InvalidCredentials,
        ErrorCode::AccountLocked,
        ErrorCode::TotpRequired,
        ErrorCode::InvalidTotp,
        ErrorCode::PasswordChangeRequired,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::DuplicateUsername,
        ErrorCode::CsrfRejected,
        ErrorCode::PayloadTooLarge,
        ErrorCode::FileTooLarge,
        ErrorCode::XlsxUnsafe,
        ErrorCode::BadColumns,
        ErrorCode::UnreadableFile,
        ErrorCode::Interrupted,
        ErrorCode::RateLimited,
        ErrorCode::Busy,
        ErrorCode::Internal,
    ];

    /// snake_case identifier, e.g. `"invalid_region_code"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::Validation => "validation",
            ErrorCode::InvalidRegionCode => "invalid_region_code",
            ErrorCode::UnknownRegion => "unknown_region",
            ErrorCode::InvalidIdNumber => "invalid_id_number",
            ErrorCode::ReasonRequired => "reason_required",
            ErrorCode::UnknownRole => "unknown_role",
            ErrorCode::RoleNotGrantable => "role_not_grantable",
            ErrorCode::WeakPassword => "weak_password",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::AccountLocked => "account_locked",
            ErrorCode::TotpRequired => "totp_required",
            ErrorCode::InvalidTotp => "invalid_totp",
            ErrorCode::PasswordChangeRequired => "password_change_required",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::DuplicateUsername => "duplicate_username",
            ErrorCode::CsrfRejected => "csrf_rejected",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::FileTooLarge => "file_too_large",
            ErrorCode::XlsxUnsafe => "xlsx_unsafe",
            ErrorCode::BadColumns => "bad_columns",
            ErrorCode::UnreadableFile => "unreadable_file",
            ErrorCode::Interrupted => "interrupted",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
        }
    }

    /// Parse [`ErrorCode::as_str`] back.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The HTTP status to answer with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidJson => 400,
            ErrorCode::Validation
            | ErrorCode::InvalidRegionCode
            | ErrorCode::UnknownRegion
            | ErrorCode::InvalidIdNumber
            | ErrorCode::ReasonRequired
            | ErrorCode::UnknownRole
            | ErrorCode::WeakPassword
            | ErrorCode::BadColumns
            | ErrorCode::UnreadableFile => 422,
            ErrorCode::Unauthenticated
            | ErrorCode::InvalidCredentials
            | ErrorCode::InvalidTotp
            | ErrorCode::TotpRequired => 401,
            ErrorCode::AccountLocked => 423,
            ErrorCode::RoleNotGrantable
            | ErrorCode::PasswordChangeRequired
            | ErrorCode::Forbidden
            | ErrorCode::CsrfRejected => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict | ErrorCode::DuplicateUsername => 409,
            ErrorCode::PayloadTooLarge | ErrorCode::FileTooLarge | ErrorCode::XlsxUnsafe => 413,
            ErrorCode::Interrupted | ErrorCode::Busy => 503,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
        }
    }

    /// Default Chinese message.
    pub fn message_zh(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "请求无效",
            ErrorCode::InvalidJson => "请求内容不是有效的 JSON",
            ErrorCode::Validation => "提交的数据未通过校验",
            ErrorCode::InvalidRegionCode => "区划代码格式无效",
            ErrorCode::UnknownRegion => "区划不存在",
            ErrorCode::InvalidIdNumber => "身份证号码无效",
            ErrorCode::ReasonRequired => "请填写事由",
            ErrorCode::UnknownRole => "未知角色",
            ErrorCode::RoleNotGrantable => "无权授予该角色",
            ErrorCode::WeakPassword => "密码强度不足",
            ErrorCode::Unauthenticated => "请先登录",
            ErrorCode::InvalidCredentials => "用户名或密码错误",
            ErrorCode::AccountLocked => {
                "登录失败次数过多，账号已暂时锁定，请稍后再试或联系安全管理员"
            }
            ErrorCode::TotpRequired => "请输入动态验证码",
            ErrorCode::InvalidTotp => "动态验证码错误",
            ErrorCode::PasswordChangeRequired => "请先修改密码",
            ErrorCode::Forbidden => "没有权限执行此操作",
            ErrorCode::NotFound => "记录不存在",
            ErrorCode::Conflict => "数据已被修改或存在冲突，请刷新后重试",
            ErrorCode::DuplicateUsername => "用户名已存在",
            ErrorCode::CsrfRejected => "页面已过期，请刷新后重试",
            ErrorCode::PayloadTooLarge => "提交的内容过大",
            ErrorCode::FileTooLarge => "文件过大，请拆分后分批导入",
            ErrorCode::XlsxUnsafe => "Excel 文件解压后异常膨胀（疑似压缩炸弹），已拒绝",
            ErrorCode::BadColumns => "文件的列不符合要求（缺少身份证号或姓名列等）",
            ErrorCode::UnreadableFile => "无法读取文件：不是有效的 CSV 或 Excel (.xlsx) 文件",
            ErrorCode::Interrupted => "服务重启，任务被中断，未写入任何数据；请重新提交",
            ErrorCode::RateLimited => "请求过于频繁，请稍后再试",
            ErrorCode::Busy => "数据库正忙（可能正在批量导入），本次操作未保存，请稍后重试",
            ErrorCode::Internal => "系统内部错误，请稍后再试",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn identifiers_unique_and_roundtrip() {
        let mut ids = HashSet::new();
        let mut msgs = HashSet::new();
        for c in ErrorCode::ALL {
            assert!(ids.insert(c.as_str()), "{c}");
            assert!(msgs.insert(c.message_zh()), "{c}");
            assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
            assert!(
                c.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
            assert!(!c.message_zh().is_empty());
            assert!(!c.message_zh().is_ascii());
        }
        assert_eq!(ids.len(), 30);
        assert_eq!(ErrorCode::parse("nope"), None);
    }

    #[test]
    fn statuses() {
        use ErrorCode as E;
        let expect = [
            (E::BadRequest, 400),
            (E::InvalidJson, 400),
            (E::Validation, 422),
            (E::InvalidRegionCode, 422),
            (E::UnknownRegion, 422),
            (E::InvalidIdNumber, 422),
            (E::ReasonRequired, 422),
            (E::UnknownRole, 422),
            (E::WeakPassword, 422),
            (E::RoleNotGrantable, 403),
            (E::Unauthenticated, 401),
            (E::InvalidCredentials, 401),
            (E::InvalidTotp, 401),
            (E::TotpRequired, 401),
            (E::AccountLocked, 423),
            (E::PasswordChangeRequired, 403),
            (E::Forbidden, 403),
            (E::NotFound, 404),
            (E::Conflict, 409),
            (E::DuplicateUsername, 409),
            (E::CsrfRejected, 403),
            (E::PayloadTooLarge, 413),
            (E::FileTooLarge, 413),
            (E::XlsxUnsafe, 413),
            (E::BadColumns, 422),
            (E::UnreadableFile, 422),
            (E::Interrupted, 503),
            (E::RateLimited, 429),
            (E::Busy, 503),
            (E::Internal, 500),
        ];
        assert_eq!(expect.len(), ErrorCode::ALL.len());
        for (c, s) in expect {
            assert_eq!(c.http_status(), s, "{c}");
        }
    }
}
