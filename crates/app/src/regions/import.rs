//! Import of the township and village tables (`streets.csv`, `villages.csv` in the format of
//! `shared/data/regions/`), idempotent and all-or-nothing.
//!
//! Two passes over each file keep memory small (a set of 8-byte code keys, no rows held):
//! the first validates every row (code shape, parent code consistent with the code, parent
//! known, name present) and collects every error with its line number; only if there is none
//! does the second pass write, in one transaction, in multi-row batches, upserting names.

use std::collections::HashSet;
use std::path::Path;

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionLevel;
use serde_json::json;

pub use super::queries::insert_rows;
use super::queries::{self, BATCH};
use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// One row to write into `regions`.
#[derive(Debug, Clone)]
pub struct RegionRow {
    pub code: String,
    pub name: String,
    pub level: RegionLevel,
    pub parent: Option<String>,
}

/// Progress of an import, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Validating `file`: rows read so far.
    Checking { file: &'static str, rows: u64 },
    /// Writing: rows written so far of `total`.
    Writing { done: u64, total: u64 },
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportStats {
    pub townships: u64,
    pub villages: u64,
    /// Rows inserted or renamed (0 when the same files are imported again).
    pub changed: u64,
}

const MAX_ERRORS: usize = 50;

struct FileSpec {
    file: &'static str,
    level: RegionLevel,
    parent_col: usize,
}

const STREETS: FileSpec = FileSpec {
    file: "streets.csv",
    level: RegionLevel::Township,
    parent_col: 2,
};
const VILLAGES: FileSpec = FileSpec {
    file: "villages.csv",
    level: RegionLevel::Village,
    parent_col: 2,
};

fn open(dir: &Path, spec: &FileSpec) -> AppResult<csv::Reader<std::fs::File>> {
    let path = dir.join(spec.file);
    let f = std::fs::File::open(&path).map_err(|e| {
        AppError::msg(
            ErrorCode::Validation,
            format!("无法打开 {}：{e}", path.display()),
        )
    })?;
    Ok(csv::ReaderBuilder::new().flexible(true).from_reader(f))
}

/// A code as a number, for the validation pass's sets (an 8-byte key instead of a String keeps
/// the set of 620,573 village codes small). Codes within one set all have the same length, so
/// the number identifies the code.
fn code_key(code: &str) -> u64 {
    code.parse().unwrap_or(u64::MAX)
}

/// Check one row; returns (code, name, parent) or the reason in Chinese.
fn check_row(
    rec: &csv::StringRecord,
    width: usize,
    spec: &FileSpec,
    parents: &HashSet<u64>,
) -> Result<RegionRow, String> {
    let len = spec.level.code_len();
    let plen = match spec.level {
        RegionLevel::Township => 6,
        _ => 9,
    };
    let code = rec.get(0).map(str::trim).unwrap_or("");
    let name = rec.get(1).map(str::trim).unwrap_or("");
    let parent = rec.get(spec.parent_col).map(str::trim).unwrap_or("");
    if rec.len() != width || rec.len() <= spec.parent_col {
        return Err(format!("应有 {width} 列，实际 {} 列", rec.len()));
    }
    if code.len() != len || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("代码“{code}”应为 {len} 位数字"));
    }
    if name.is_empty() || name.chars().count() > 64 {
        return Err("名称为空或超过 64 个字符".to_string());
    }
    if parent != &code[..plen] {
        return Err(format!("上级代码“{parent}”与代码“{code}”不符"));
    }
    if !parents.contains(&code_key(parent)) {
        return Err(format!("上级区划“{parent}”不存在"));
    }
    Ok(RegionRow {
        code: code.to_string(),
        name: name.to_string(),
        level: spec.level,
        parent: Some(parent.to_string()),
    })
}

/// Validate a file completely. Returns the codes it defines and the row count.
fn check_file(
    dir: &Path,
    spec: &FileSpec,
    parents: &HashSet<u64>,
    errors: &mut Vec<String>,
    progress: &mut dyn FnMut(Progress),
) -> AppResult<(HashSet<u64>, u64)> {
    let mut rdr = open(dir, spec)?;
    let width = rdr
        .headers()
        .map_err(|e| {
            AppError::msg(
                ErrorCode::Validation,
                format!("{} 无法读取表头：{e}", spec.file),
            )
        })?
        .len();
    let mut codes = HashSet::new();
    let mut n = 0u64;
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        n += 1;
        if n.is_multiple_of(20_000) {
            progress(Progress::Checking {
                file: spec.file,
                rows: n,
            });
        }
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                push_err(
                    errors,
                    format!("{} 第 {line} 行：无法解析（{e}）", spec.file),
                );
                continue;
            }
        };
        match check_row(&rec, width, spec, parents) {
            Ok(row) => {
                if !codes.insert(code_key(&row.code)) {
                    push_err(errors, format!("{} 第 {line} 行：代码重复", spec.file));
                }
            }
            Err(reason) => push_err(errors, format!("{} 第 {line} 行：{reason}", spec.file)),
        }
    }
    progress(Progress::Checking {
        file: spec.file,
        rows: n,
    });
    Ok((codes, n))
}

fn push_err(errors: &mut Vec<String>, e: String) {
    if errors.len() < MAX_ERRORS {
        errors.push(e);
    } else if errors.len() == MAX_ERRORS {
        errors.push("……更多错误从略".to_string());
    }
}

/// Import `streets.csv` and `villages.csv` from `dir`. A missing `villages.csv` imports the
/// townships only. Any bad row: nothing is written and every problem is listed.
pub async fn import_dir(
    state: &AppState,
    actor: &Actor,
    dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> AppResult<ImportStats> {
    actor.require(backstop_core::role::Permission::RegionsManage)?;
    let counties = queries::codes_of_level(state, RegionLevel::County).await?;
    let counties: HashSet<u64> = counties.iter().map(|c| code_key(c)).collect();
    let mut errors = Vec::new();
    let (streets, n_streets) = check_file(dir, &STREETS, &counties, &mut errors, progress)?;
    let has_villages = dir.join(VILLAGES.file).exists();
    let mut n_villages = 0;
    if has_villages {
        let mut parents = streets.clone();
        let known = queries::codes_of_level(state, RegionLevel::Township).await?;
        parents.extend(known.iter().map(|c| code_key(c)));
        let (_, n) = check_file(dir, &VILLAGES, &parents, &mut errors, progress)?;
        n_villages = n;
    }
    if !errors.is_empty() {
        let mut e = AppError::msg(
            ErrorCode::Validation,
            format!("区划文件有误，未导入任何数据：\n{}", errors.join("\n")),
        );
        e.fields = errors
            .iter()
            .map(|m| crate::kernel::error::FieldError {
                field: "file".to_string(),
                message: m.clone(),
            })
            .collect();
        return Err(e);
    }
    let total = n_streets + n_villages;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let mut changed = 0;
    let mut written = 0u64;
    let mut specs = vec![&STREETS];
    if has_villages {
        specs.push(&VILLAGES);
    }
    for spec in specs {
        let mut rdr = open(dir, spec)?;
        let mut batch = Vec::with_capacity(BATCH);
        let mut records = rdr.records().peekable();
        while let Some(rec) = records.next() {
            let rec = rec.map_err(|e| AppError::internal("region import", e))?;
            // Already validated: take the fields as they are.
            let code = rec.get(0).unwrap_or("").trim().to_string();
            let name = rec.get(1).unwrap_or("").trim().to_string();
            let parent = rec.get(spec.parent_col).unwrap_or("").trim().to_string();
            batch.push(RegionRow {
                code,
                name,
                level: spec.level,
                parent: Some(parent),
            });
            // A full batch, or the file's last rows.
            if batch.len() == BATCH || records.peek().is_none() {
                let base = written;
                changed += insert_rows(w.conn(), state.db.backend(), &batch, now, &mut |d| {
                    progress(Progress::Writing {
                        done: base + d,
                        total,
                    })
                })
                .await?;
                written += batch.len() as u64;
                batch.clear();
            }
        }
    }
    let stats = ImportStats {
        townships: n_streets,
        villages: n_villages,
        changed,
    };
    audit::append(
        w.conn(),
        &state.db,
        now,
        &Who::from(actor),
        Entry {
            action: "region.import",
            object_type: "region",
            object_id: dir
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default(),
            region_code: "0".to_string(),
            outcome: "success",
            detail: json!({"townships": n_streets, "villages": n_villages, "changed": changed}),
        },
    )
    .await?;
    w.commit().await?;
    state.caches.invalidate();
    Ok(stats)
}
