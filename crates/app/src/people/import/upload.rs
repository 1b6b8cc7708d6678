//! Receiving an upload (multipart, pages and API alike): the file streamed into encrypted
//! storage with the size limit (`Config::max_upload_bytes`, a Chinese 413 message beyond it,
//! never a 500), its format sniffed from the first bytes, and the form's other fields.

use std::collections::HashMap;
use std::path::Path as FsPath;

use axum::extract::Multipart;
use axum::http::{HeaderMap, header};
use backstop_core::error::ErrorCode;
use rand::RngCore;

use super::storage::*;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// A stored upload and the other multipart fields.
pub(super) struct Upload {
    pub(super) token: String,
    pub(super) file_name: String,
    pub(super) size: u64,
    pub(super) format: &'static str,
    pub(super) fields: HashMap<String, String>,
}

pub(super) fn too_large(max: u64) -> AppError {
    AppError::msg(
        ErrorCode::FileTooLarge,
        format!(
            "文件过大：上传的文件不能超过 {} MB，请拆分后分批导入",
            max / (1024 * 1024)
        ),
    )
}

pub(super) fn clean_name(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .take(100)
        .collect()
}

/// Stream the multipart body: the `file` field into an encrypted file, other fields (at most
/// 64 KiB each) into a map. On any failure the partial file is removed.
pub(super) async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Upload> {
    let max = state.config.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max.saturating_add(1024 * 1024)) {
        return Err(too_large(max));
    }
    let mut multipart = multipart.map_err(|_| {
        AppError::msg(
            ErrorCode::BadRequest,
            "请以 multipart/form-data 方式上传文件（字段名 file）",
        )
    })?;
    let dir = upload_dir(state);
    ensure_dir(&dir)
        .await
        .map_err(|e| AppError::internal("upload dir", e))?;
    let token = hex::encode({
        let mut b = [0u8; 16];
        rand::rng().fill_bytes(&mut b);
        b
    });
    let path = dir.join(format!("{token}.sealed"));
    let result = receive_into(state, &mut multipart, &path, max).await;
    match result {
        Ok((Some((file_name, size, format)), fields)) => Ok(Upload {
            token,
            file_name,
            size,
            format,
            fields,
        }),
        Ok((None, _)) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(AppError::field(
                ErrorCode::Validation,
                "file",
                "请选择要导入的文件（CSV 或 Excel .xlsx）",
            ))
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(e)
        }
    }
}

pub(super) type Received = (Option<(String, u64, &'static str)>, HashMap<String, String>);

pub(super) async fn receive_into(
    state: &AppState,
    multipart: &mut Multipart,
    path: &FsPath,
    max: u64,
) -> AppResult<Received> {
    use tokio::io::AsyncWriteExt;
    let broken = |_| AppError::msg(ErrorCode::BadRequest, "上传中断或格式错误，请重新上传");
    let mut fields = HashMap::new();
    let mut file = None;
    while let Some(mut field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" && file.is_none() {
            let file_name = clean_name(field.file_name().unwrap_or(""));
            let mut out = create_file(path)
                .await
                .map_err(|e| AppError::internal("upload file", e))?;
            let (mut sealer, head) = Sealer::new(state.keys.clone());
            let werr = |e| AppError::internal("upload write", e);
            out.write_all(&head).await.map_err(werr)?;
            let mut size = 0u64;
            let mut first = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(broken)? {
                size += chunk.len() as u64;
                if size > max {
                    return Err(too_large(max));
                }
                if first.len() < 4 {
                    first.extend_from_slice(&chunk[..chunk.len().min(4)]);
                }
                let sealed = sealer.push(&chunk);
                if !sealed.is_empty() {
                    out.write_all(&sealed).await.map_err(werr)?;
                }
            }
            out.write_all(&sealer.finish()).await.map_err(werr)?;
            out.sync_all().await.map_err(werr)?;
            let format = if super::xlsx::is_zip(&first) {
                "xlsx"
            } else {
                "csv"
            };
            file = Some((file_name, size, format));
        } else {
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(broken)? {
                text.extend_from_slice(&chunk);
                if text.len() > 64 * 1024 {
                    return Err(AppError::msg(
                        ErrorCode::BadRequest,
                        format!("字段 {name} 过长"),
                    ));
                }
            }
            fields.insert(name, String::from_utf8_lossy(&text).into_owned());
        }
    }
    Ok((file, fields))
}
