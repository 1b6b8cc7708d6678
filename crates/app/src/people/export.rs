//! Export of a filtered person list to Excel (人员名单导出, issue 4).
//!
//! This module owns the rules of taking personal data out of the system in a file: the same
//! filters and scope as the person list (`people::filter`: region, name / pinyin / initials,
//! masked fragment, group), a required reason (导出事由; 422 `reason_required` without one),
//! ID numbers and phones masked exactly as the caller sees them on screen unless the caller
//! holds `PersonsRevealId` *and* asks for full numbers (the same rule as `people::reveal`;
//! asking without the permission is refused with 403 and recorded), full values decrypted only
//! into the file, and an audit entry for every export (who, reason, filter, row count, masked
//! or full) written before the file is handed out. The file carries its own header: title,
//! filter, exporting user, time, reason and whether numbers are masked.
//!
//! Memory stays bounded for large exports: rows are read from the database in pages of 1,000
//! by keyset (region code, name, id) and written to a `rust_xlsxwriter` worksheet in constant
//! memory mode (rows go to a temporary file, strings inline), so only the finished, compressed
//! file is held in memory. At most [`MAX_ROWS`] rows per file.

use backstop_core::clock::format_beijing;
use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries::search::{self, ExportPages};
use super::{PersonQuery, filter, open_sealed};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::cells::SafeCells;
use crate::kernel::error::{AppError, AppResult, FieldError};
use crate::state::AppState;

/// Most rows one export may hold (an Excel sheet holds 1,048,576).
pub const MAX_ROWS: i64 = 1_000_000;

const PAGE: i64 = 1_000;

/// Body of `POST /api/v1/persons/export` (and the export form).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ExportRequest {
    /// Region code; default the caller's whole scope.
    #[serde(default)]
    pub region: Option<String>,
    /// Part of the name.
    #[serde(default)]
    pub name: Option<String>,
    /// Name, full pinyin or initials (as `GET /api/v1/persons?q=`).
    #[serde(default)]
    pub q: Option<String>,
    /// Masked fragment of the ID number or phone.
    #[serde(default)]
    pub masked: Option<String>,
    /// Group (困难群众类别) identifier or label, membership active today.
    #[serde(default)]
    pub group: Option<String>,
    /// Why the list is exported (导出事由), recorded in the audit log. Required.
    #[serde(default)]
    pub reason: String,
    /// Full ID numbers and phones in the file (needs `persons.reveal_id`; audited).
    #[serde(default)]
    pub full: bool,
}

impl ExportRequest {
    pub fn query(&self) -> PersonQuery {
        PersonQuery {
            region: self.region.clone(),
            name: self.name.clone(),
            q: self.q.clone(),
            masked: self.masked.clone(),
            group: self.group.clone(),
            disabled: None,
            limit: None,
            offset: None,
        }
    }
}

/// A finished export.
#[derive(Debug, Clone)]
pub struct Exported {
    /// ASCII file name, e.g. `persons-20260302-0900.xlsx`.
    pub filename: String,
    pub bytes: Vec<u8>,
    pub rows: i64,
    pub full: bool,
}

/// What an export would hold, for the form shown before it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportPreview {
    pub count: i64,
    /// The filter in words (as written into the file's header).
    pub filter: String,
    /// May the caller ask for full numbers?
    pub can_full: bool,
    pub max_rows: i64,
}

/// The filter in words: `区划：鹿泉区（130110）；姓名/拼音：zs；类别：低保`.
async fn describe(state: &AppState, actor: &Actor, q: &PersonQuery) -> AppResult<String> {
    let opt = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(50).collect::<String>())
    };
    let mut parts = Vec::new();
    let region = match opt(&q.region) {
        Some(r) => r,
        None => actor.scope.as_str().to_string(),
    };
    let region_name = if region == "0" {
        "全国".to_string()
    } else {
        crate::regions::find(state, &region)
            .await?
            .map(|r| r.name)
            .unwrap_or_default()
    };
    parts.push(if opt(&q.region).is_some() {
        format!("区划：{region_name}（{region}）")
    } else {
        format!("区划：全部管辖范围 {region_name}（{region}）")
    });
    if let Some(n) = opt(&q.name) {
        parts.push(format!("姓名含：{n}"));
    }
    if let Some(t) = opt(&q.q) {
        parts.push(format!("姓名/拼音/首字母：{t}"));
    }
    if let Some(m) = opt(&q.masked) {
        parts.push(format!("证件号或电话片段：{m}"));
    }
    if let Some(g) = opt(&q.group) {
        let label = crate::care::parse_category(&g)
            .map(crate::care::category_label)
            .unwrap_or("");
        parts.push(format!("类别：{label}"));
    }
    Ok(parts.join("；"))
}

/// How many persons an export with these filters would hold, and the filter in words.
pub async fn preview(state: &AppState, actor: &Actor, q: &PersonQuery) -> AppResult<ExportPreview> {
    let f = filter(state, actor, q).await?;
    Ok(ExportPreview {
        count: search::count(state, &f).await?,
        filter: describe(state, actor, q).await?,
        can_full: actor.can(Permission::PersonsRevealId),
        max_rows: MAX_ROWS,
    })
}

fn reason_error(code: ErrorCode, message: &str) -> AppError {
    AppError {
        code,
        message: format!("导出事由：{message}"),
        fields: vec![FieldError {
            field: "reason".to_string(),
            message: message.to_string(),
        }],
    }
}

/// The reason, trimmed: 2 to 200 characters (422 `reason_required` when missing).
fn check_reason(reason: &str) -> AppResult<String> {
    let r = reason.trim();
    if r.chars().count() < 2 {
        return Err(reason_error(ErrorCode::ReasonRequired, "请填写导出事由"));
    }
    if r.chars().count() > 200 {
        return Err(reason_error(ErrorCode::Validation, "不能超过 200 个字"));
    }
    Ok(r.to_string())
}

fn xerr(e: XlsxError) -> AppError {
    AppError::internal("xlsx", e)
}

const HEADERS: [(&str, f64); 11] = [
    ("序号", 7.0),
    ("姓名", 12.0),
    ("性别", 6.0),
    ("出生年份", 10.0),
    ("身份证号", 22.0),
    ("联系电话", 15.0),
    ("所在区划", 18.0),
    ("区划代码", 15.0),
    ("现住址", 28.0),
    ("户籍地址", 28.0),
    ("状态", 8.0),
];

/// Export the filtered list as an .xlsx file (see the module doc for the rules).
pub async fn export(state: &AppState, actor: &Actor, req: &ExportRequest) -> AppResult<Exported> {
    actor.require(Permission::PersonsRead)?;
    let q = req.query();
    let f = filter(state, actor, &q).await?;
    let reason = check_reason(&req.reason)?;
    let scope_region = match q.region.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => r.to_string(),
        None => actor.scope.as_str().to_string(),
    };
    let filter_text = describe(state, actor, &q).await?;
    let filter_json = json!({
        "region": q.region, "name": q.name, "q": q.q, "masked": q.masked, "group": q.group,
    });
    if req.full && !actor.can(Permission::PersonsRevealId) {
        Tx::begin(state, actor)
            .await?
            .commit(
                Change::new("person.export", "person_list", "", scope_region)
                    .failed()
                    .detail(
                        json!({"reason": reason, "filter": filter_json, "numbers": "full",
                                   "refused": "无权限"}),
                    ),
            )
            .await?;
        return Err(AppError::forbidden());
    }
    let count = search::count(state, &f).await?;
    if count > MAX_ROWS {
        return Err(AppError::msg(
            ErrorCode::Validation,
            format!("共 {count} 人，超过单个文件上限 {MAX_ROWS} 人，请缩小范围后分批导出"),
        ));
    }
    let now = state.clock.now();
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet_with_constant_memory().map_err(xerr)?;
    ws.set_name("人员名单").map_err(xerr)?;
    let title = Format::new()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center);
    let note = Format::new().set_text_wrap();
    let head = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center);
    let cell = Format::new().set_border(FormatBorder::Thin);
    let last = (HEADERS.len() - 1) as u16;
    for (i, (_, w)) in HEADERS.iter().enumerate() {
        ws.set_column_width(i as u16, *w).map_err(xerr)?;
    }
    ws.merged_text((0, 0), (0, last), "人员名单", &title)
        .map_err(xerr)?;
    let numbers = if req.full {
        "身份证号、联系电话：完整号码（导出已记入审计，请妥善保管，用后及时销毁）"
    } else {
        "身份证号、联系电话：已脱敏"
    };
    let lines = [
        format!("筛选条件：{filter_text}"),
        format!(
            "导出人：{}    导出时间：{}（北京时间）    共 {count} 人",
            actor.username,
            format_beijing(now)
        ),
        format!("导出事由：{reason}"),
        numbers.to_string(),
    ];
    for (i, l) in lines.iter().enumerate() {
        let r = 1 + i as u32;
        ws.merged_text((r, r), (0, last), l, &note).map_err(xerr)?;
    }
    let header_row = 1 + lines.len() as u32;
    for (i, (h, _)) in HEADERS.iter().enumerate() {
        ws.text(header_row, i as u16, h, &head).map_err(xerr)?;
    }
    let pages = ExportPages::new(&f, req.full, PAGE);
    let mut row_no = header_row + 1;
    let mut rows = 0i64;
    let mut after: (String, String, i64) = (String::new(), String::new(), 0);
    'pages: loop {
        let page = pages.after(state, &after).await?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            if rows >= MAX_ROWS {
                break 'pages;
            }
            let p = r.stored.view(actor);
            let (id_number, phone) = if req.full {
                (
                    open_sealed(state, r.id_enc.clone())?.unwrap_or_default(),
                    open_sealed(state, r.phone_enc.clone())?.unwrap_or_default(),
                )
            } else {
                (p.id_number_masked.clone(), p.phone_masked.clone())
            };
            rows += 1;
            let values = [
                rows.to_string(),
                p.name.clone(),
                p.sex_label.clone(),
                p.birth_year.map(|y| y.to_string()).unwrap_or_default(),
                id_number,
                phone,
                p.region_name.clone(),
                p.region_code.clone(),
                p.address.clone(),
                p.hukou_address.clone(),
                if p.deceased {
                    "已故".to_string()
                } else {
                    String::new()
                },
            ];
            for (i, v) in values.iter().enumerate() {
                ws.text(row_no, i as u16, v, &cell).map_err(xerr)?;
            }
            row_no += 1;
            after = (
                r.stored.region_code.clone(),
                r.stored.name.clone(),
                r.stored.id,
            );
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    let bytes = tokio::task::spawn_blocking(move || wb.save_to_buffer())
        .await
        .map_err(|e| AppError::internal("xlsx", e))?
        .map_err(xerr)?;
    Tx::begin(state, actor)
        .await?
        .commit(
            Change::new("person.export", "person_list", "", scope_region).detail(
                json!({"reason": reason, "filter": filter_json, "rows": rows,
                       "numbers": if req.full { "full" } else { "masked" },
                       "format": "xlsx"}),
            ),
        )
        .await?;
    Ok(Exported {
        filename: format!(
            "persons-{}.xlsx",
            backstop_core::clock::beijing_naive(now).format("%Y%m%d-%H%M")
        ),
        bytes,
        rows,
        full: req.full,
    })
}
