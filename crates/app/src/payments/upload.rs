//! The bank's return file received as an upload (multipart/form-data, field `file`), for the
//! page and the API alike: read into memory (a return file is small; at most
//! [`MAX_RETURN_BYTES`]) and decoded as UTF-8 (with or without BOM) or, failing that, GBK as
//! banks' systems often write it. Other fields of the form are ignored.

use axum::extract::Multipart;
use axum::extract::multipart::MultipartRejection;
use backstop_core::error::ErrorCode;

use super::{ReturnFile, verr};
use crate::kernel::error::{AppError, AppResult};

/// The largest return file accepted (8 MiB: some 100,000 lines).
pub const MAX_RETURN_BYTES: usize = 8 * 1024 * 1024;

/// UTF-8 text, else GBK (GB 18030) decoded; never an error for odd bytes (the parser will
/// name what it cannot read).
pub(crate) fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    }
}

/// The `file` field of a multipart body as a return file.
pub(crate) async fn return_file(
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<ReturnFile> {
    let mut multipart = multipart.map_err(|_| {
        AppError::msg(
            ErrorCode::BadRequest,
            "请以 multipart/form-data 方式上传回盘文件（字段名 file）",
        )
    })?;
    let broken = |_| AppError::msg(ErrorCode::BadRequest, "上传中断或格式错误，请重新上传");
    while let Some(mut field) = multipart.next_field().await.map_err(broken)? {
        if field.name() != Some("file") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(broken)? {
            if bytes.len() + chunk.len() > MAX_RETURN_BYTES {
                return Err(verr("file", "文件过大（回盘文件最大 8 MB）"));
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.is_empty() {
            return Err(verr("file", "请选择银行回盘文件（CSV）"));
        }
        return Ok(ReturnFile {
            content: decode(&bytes),
        });
    }
    Err(verr("file", "请选择银行回盘文件（CSV）"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_and_gbk_are_read() {
        assert_eq!(decode("明细号,结果".as_bytes()), "明细号,结果");
        let (gbk, _, _) = encoding_rs::GBK.encode("明细号,结果");
        assert_eq!(decode(&gbk), "明细号,结果");
    }
}
