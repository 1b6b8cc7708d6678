//! Bulk entry of receipts from the Excel sheet charities keep (issue 18 item 2). One row is a
//! line of a receipt; rows sharing a receipt number are one receipt (its donor and date taken
//! from the first). Every receipt goes through the receipt service's own rules
//! ([`receipts::validate`], [`receipts::write`]); an error names the row (the sheet's row
//! number) and the field, as in the roster import. All or nothing per file: when any row is
//! refused nothing is written; otherwise every receipt is written in one transaction.
//! Idempotent per receipt number: a receipt number the charity has already entered is skipped
//! (reported), so uploading the same file twice writes it once. The workbook is read by the
//! roster import's bounded reader (`people::xlsx`: zip-bomb safe, bounded memory); a file that
//! is not a zip is read as CSV (`people::import::CsvSource`: UTF-8 with or without BOM, or
//! GBK). [`import_with_progress`] reports its steps to the upload page's job
//! (`import_pages`).

use std::io::Cursor;

use backstop_core::role::Permission;
use rust_xlsxwriter::{Format, Workbook};
use serde::Serialize;

use super::receipts::{self, GoodsInput, MoneyInput, NewReceipt};
use super::{CATALOGUE, queries};
use crate::kernel::access::Tx;
use crate::kernel::actor::Actor;
use crate::kernel::cells::SafeCells;
use crate::kernel::error::{AppError, AppResult, field_label};
use crate::people::import::{CsvSource, Kind, Record, RowSource};
use crate::people::xlsx::{Book, Limits};
use crate::state::AppState;
use backstop_core::error::ErrorCode;

/// The columns of the sheet, in order (the template's header row).
pub const COLUMNS: &[&str] = &[
    "接收日期",
    "收据编号",
    "捐赠票据号",
    "捐赠人类型",
    "捐赠人",
    "同意公开姓名",
    "资金金额（元）",
    "物资类别",
    "规格",
    "数量",
    "单位",
    "单价（元）",
    "有效期",
    "仓库",
    "定向用途",
    "币种",
    "汇率",
    "免税进口",
    "定向地区代码",
    "定向单位编号",
];

/// At most this many data rows per file.
pub const MAX_ROWS: usize = 5_000;

/// A refused row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// The sheet's row number (the header is row 1).
    pub row: u64,
    pub field: String,
    pub message: String,
}

/// What an upload did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: usize,
    /// Receipts written (0 when any row was refused).
    pub written: usize,
    /// Receipt numbers already entered, skipped.
    pub skipped: Vec<String>,
    /// Refused rows; when any, nothing was written.
    pub errors: Vec<RowError>,
}

struct Group {
    first_row: u64,
    rows: Vec<u64>,
    input: NewReceipt,
}

fn cell(rec: &Record, i: usize, date1904: bool) -> String {
    let (kind, text) = rec.get(i);
    let text = text.trim();
    // A date column written as an Excel date serial.
    if kind == Kind::Number
        && matches!(i, 0 | 12)
        && let Some(d) = text
            .parse::<f64>()
            .ok()
            .and_then(|f| crate::people::xlsx::excel_date(f, date1904))
    {
        return d.format("%Y-%m-%d").to_string();
    }
    text.to_string()
}

fn donor_kind(s: &str) -> String {
    match s {
        "个人" | "person" => "person",
        "单位" | "企业" | "组织" | "org" => "org",
        "匿名" | "" | "anonymous" => "anonymous",
        _ => "unknown",
    }
    .to_string()
}

fn category_key(s: &str) -> String {
    CATALOGUE
        .iter()
        .find(|(k, l, _)| *k == s || *l == s)
        .map(|(k, _, _)| (*k).to_string())
        .unwrap_or_else(|| s.to_string())
}

/// A yes/no cell: 是 / 同意 / Y.
fn yes(s: &str) -> bool {
    matches!(s.trim(), "是" | "同意" | "Y" | "y")
}

fn file_error(m: String) -> AppError {
    AppError::field(ErrorCode::Validation, "file", m)
}

/// Read the file into receipts grouped by receipt number; row-level errors for what cannot
/// even be read (a quantity that is not a number). An .xlsx (its first worksheet) is told
/// from its first bytes (a zip); anything else is read as CSV (UTF-8, with or without BOM, or
/// GBK), as in the roster import.
fn read_groups(bytes: &[u8], campaign_id: i64) -> AppResult<(Vec<Group>, usize, Vec<RowError>)> {
    if crate::people::xlsx::is_zip(bytes) {
        let mut book =
            Book::open(Cursor::new(bytes), Limits::default()).map_err(|e| file_error(e.message))?;
        let date1904 = book.date1904();
        let mut sheet = book.rows().map_err(|e| file_error(e.message))?;
        read_rows(&mut sheet, date1904, campaign_id)
    } else {
        let max = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let mut csv = CsvSource::open(Cursor::new(bytes), max.saturating_add(1))
            .map_err(|e| file_error(e.message))?;
        read_rows(&mut csv, false, campaign_id)
    }
}

fn read_rows(
    sheet: &mut dyn RowSource,
    date1904: bool,
    campaign_id: i64,
) -> AppResult<(Vec<Group>, usize, Vec<RowError>)> {
    let file = file_error;
    let mut rec = Record::default();
    let mut groups: Vec<Group> = Vec::new();
    let mut errors = Vec::new();
    let mut rows = 0usize;
    let mut header = true;
    while sheet.next_record(&mut rec).map_err(|e| file(e.message))? {
        if rec.texts().all(|t| t.trim().is_empty()) {
            continue;
        }
        if header {
            header = false;
            if cell(&rec, 1, false) != COLUMNS[1] {
                return Err(file(
                    "表头应与模板一致（第二列为“收据编号”），请下载模板填写".into(),
                ));
            }
            continue;
        }
        rows += 1;
        if rows > MAX_ROWS {
            return Err(file(format!("每个文件最多 {MAX_ROWS} 行，请分批上传")));
        }
        let line = rec.line;
        let c = |i: usize| cell(&rec, i, date1904);
        let no = c(1);
        let amount = c(6);
        let category = c(7);
        let goods = (!category.is_empty()).then(|| {
            let qty = c(9);
            GoodsInput {
                category: category_key(&category),
                spec: c(8),
                quantity: qty.parse().unwrap_or(-1),
                unit: c(10),
                unit_value: c(11),
                expiry_on: Some(c(12)),
                tax_free_import: yes(&c(17)),
                warehouse: c(13),
            }
        });
        if let Some(g) = &goods
            && g.quantity < 0
        {
            errors.push(RowError {
                row: line,
                field: "数量".into(),
                message: "数量应为正整数".into(),
            });
        }
        let pos = groups
            .iter()
            .position(|g| g.input.receipt_no == no && !no.is_empty());
        match pos {
            Some(p) => {
                let g = &mut groups[p];
                g.rows.push(line);
                if !amount.is_empty() {
                    if g.input.money.is_some() {
                        errors.push(RowError {
                            row: line,
                            field: "资金金额（元）".into(),
                            message: "同一收据只能有一笔资金".into(),
                        });
                    }
                    g.input.money = Some(MoneyInput {
                        amount,
                        currency: c(15),
                        rate: c(16),
                    });
                }
                g.input.goods.extend(goods);
            }
            None => {
                let purpose = c(14);
                let (region, org) = (c(18), c(19));
                // A gift directed to an organisation, else to a region, else to a purpose.
                let directed_kind = if !org.is_empty() {
                    "org"
                } else if !region.is_empty() {
                    "region"
                } else if !purpose.is_empty() {
                    "purpose"
                } else {
                    ""
                };
                let directed_org_id = match org.parse::<i64>() {
                    Ok(id) => Some(id),
                    Err(_) if org.is_empty() => None,
                    Err(_) => {
                        errors.push(RowError {
                            row: line,
                            field: "定向单位编号".into(),
                            message: "定向单位编号应为机构编号（数字）".into(),
                        });
                        None
                    }
                };
                groups.push(Group {
                    first_row: line,
                    rows: vec![line],
                    input: NewReceipt {
                        campaign_id,
                        org_id: None,
                        receipt_no: no,
                        bill_no: c(2),
                        received_on: Some(c(0)).filter(|s| !s.is_empty()),
                        donor_kind: donor_kind(&c(3)),
                        donor_name: c(4),
                        publish_consent: yes(&c(5)),
                        directed_kind: directed_kind.into(),
                        directed_org_id,
                        directed_region: Some(region).filter(|r| !r.is_empty()),
                        directed_purpose: purpose,
                        money: (!amount.is_empty()).then(|| MoneyInput {
                            amount,
                            currency: c(15),
                            rate: c(16),
                        }),
                        goods: goods.into_iter().collect(),
                    },
                });
            }
        }
    }
    Ok((groups, rows, errors))
}

/// The sheet's column of a service field (`goods[1].quantity` → 数量 of the group's 2nd row).
fn locate(g: &Group, field: &str) -> (u64, String) {
    let (idx, sub) = match field
        .strip_prefix("goods[")
        .and_then(|r| r.split_once("]."))
    {
        Some((k, sub)) => (k.parse::<usize>().ok(), sub),
        None => (None, field),
    };
    let col = match sub {
        "received_on" => "接收日期",
        "receipt_no" => "收据编号",
        "bill_no" => "捐赠票据号",
        "donor_kind" => "捐赠人类型",
        "donor_name" => "捐赠人",
        "amount" => "资金金额（元）",
        "currency" => "币种",
        "rate" => "汇率",
        "tax_free_import" => "免税进口",
        "directed_region" => "定向地区代码",
        "directed_org_id" | "directed_kind" => "定向单位编号",
        "category" => "物资类别",
        "spec" => "规格",
        "quantity" => "数量",
        "unit" => "单位",
        "unit_value" => "单价（元）",
        "expiry_on" => "有效期",
        "warehouse" => "仓库",
        "directed_purpose" => "定向用途",
        other => return (g.first_row, field_label(other)),
    };
    // The n-th goods line is on the n-th row of the group that has goods.
    let row = idx
        .and_then(|k| g.rows.get(k).copied())
        .unwrap_or(g.first_row);
    (row, col.to_string())
}

/// May the actor import into this campaign? `DonationsManage`, an own charity, and the
/// campaign in scope (another region's campaign is *not found*). Checked again by the import.
pub async fn may_import(state: &AppState, actor: &Actor, campaign_id: i64) -> AppResult<()> {
    actor.require(Permission::DonationsManage)?;
    super::campaign(state, actor, campaign_id).await?;
    super::own_charity(state, actor, None).await?;
    Ok(())
}

/// Import a sheet (.xlsx or CSV) into a campaign (`DonationsManage`, own charity): all or
/// nothing.
pub async fn import_xlsx(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    bytes: &[u8],
) -> AppResult<ImportReport> {
    import_with_progress(state, actor, campaign_id, bytes, &|_| {}).await
}

/// Where an import stands, for the upload page's progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The file is read: this many receipts (groups of rows) to check.
    Read { receipts: usize, rows: usize },
    /// This many receipts checked.
    Checked(usize),
    /// Writing the receipts (one transaction).
    Writing,
}

/// [`import_xlsx`], reporting each step to `progress`.
pub async fn import_with_progress(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
    bytes: &[u8],
    progress: &(dyn Fn(Step) + Send + Sync),
) -> AppResult<ImportReport> {
    may_import(state, actor, campaign_id).await?;
    let (groups, rows, mut errors) = read_groups(bytes, campaign_id)?;
    progress(Step::Read {
        receipts: groups.len(),
        rows,
    });
    let mut report = ImportReport {
        rows,
        ..Default::default()
    };
    let mut valid = Vec::new();
    let org = super::own_charity(state, actor, None).await?;
    for (k, g) in groups.iter().enumerate() {
        progress(Step::Checked(k));
        if !g.input.receipt_no.is_empty()
            && queries::receipt_no_entered(state, org.id, &g.input.receipt_no).await?
        {
            report.skipped.push(g.input.receipt_no.clone());
            continue;
        }
        match receipts::validate(state, actor, &g.input).await {
            Ok(v) => valid.push(v),
            Err(e) => {
                let (field, message) = e
                    .fields
                    .first()
                    .map(|f| (f.field.clone(), f.message.clone()))
                    .unwrap_or_else(|| (String::new(), e.message.clone()));
                let (row, col) = locate(g, &field);
                errors.push(RowError {
                    row,
                    field: col,
                    message,
                });
            }
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        report.errors = errors;
        return Ok(report);
    }
    if valid.is_empty() {
        return Ok(report);
    }
    progress(Step::Writing);
    let mut tx = Tx::begin(state, actor).await?;
    let mut last = None;
    for (row, lines, name) in &valid {
        let (_, change) = receipts::write(&mut tx, actor, row, lines, name.as_deref()).await?;
        if let Some(prev) = last.replace(change) {
            tx.also(prev);
        }
    }
    if let Some(change) = last {
        tx.commit(change).await?;
    }
    report.written = valid.len();
    Ok(report)
}

/// The template workbook: the header row and one example row.
pub fn template() -> AppResult<Vec<u8>> {
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal("xlsx", e);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("捐赠接收登记").map_err(x)?;
    let head = Format::new().set_bold();
    for (i, h) in COLUMNS.iter().enumerate() {
        let col = u16::try_from(i).map_err(|e| AppError::internal("xlsx", e))?;
        ws.text(0, col, h, &head).map_err(x)?;
    }
    let example = [
        "2026-03-02",
        "JZ-0001",
        "",
        "单位",
        "某某医疗器械公司",
        "是",
        "",
        "医用防护口罩（N95）",
        "KN95",
        "1000",
        "只",
        "3.50",
        "2028-12-31",
        "一号仓库",
        "",
        "",
        "",
        "否",
        "",
        "",
    ];
    for (i, v) in example.iter().enumerate() {
        let col = u16::try_from(i).map_err(|e| AppError::internal("xlsx", e))?;
        ws.text_plain(1, col, v).map_err(x)?;
    }
    wb.save_to_buffer().map_err(x)
}
