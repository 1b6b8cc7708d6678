//! The bank file (银行代发文件) and its return (回盘): export with full account numbers, a totals
//! row and the keyed checksum of the canonical lines ([`checksum`]; stored on the roll; needs
//! `payments.export`, audited, not by the roll's generator); the return must match the export
//! line by line, in totals and checksum, or is refused naming the mismatch; reconciliation
//! records each line paid or failed and puts the failed ones on a supplementary roll (补发名册)
//! of the same month — all in one transaction.

use backstop_core::Fen;
use backstop_core::role::Permission;
use rust_xlsxwriter::{Format, Workbook};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries::{self, BankLine, generate as g};
use super::rolls::not_the_generator;
use super::{Roll, conflict, verr};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::cells::{SafeCells, neutralise};
use crate::kernel::crypto::sha256_hex;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Body of `POST /api/v1/payments/rolls/{id}/export`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ExportRequest {
    /// `csv` (default) or `xlsx`.
    #[serde(default)]
    pub format: Option<String>,
}

/// An exported bank file.
pub struct BankFile {
    pub file_name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    pub checksum: String,
}

/// Body of `POST /api/v1/payments/rolls/{id}/return`: the bank's return file (CSV text).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ReturnFile {
    /// The exported CSV with two more columns, `结果` (成功/失败) and `失败原因`.
    pub content: String,
}

/// A reconciled roll and the supplementary roll of its failed lines, if any.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reconciled {
    pub roll: Roll,
    pub supplementary: Option<Roll>,
}

const HEADER: [&str; 7] = [
    "明细号",
    "姓名",
    "开户银行",
    "账号",
    "户名",
    "金额（元）",
    "备注",
];

/// A bank line with its account number opened.
struct Open {
    line: BankLine,
    account: String,
}

/// The checksum of the canonical lines: HMAC-SHA256 under the service's index key (64 hex
/// characters). Keyed, as the lines hold full account numbers: a plain SHA-256 of a short
/// roll would let anyone with the database test guesses of an account.
fn checksum(state: &AppState, canonical: &str) -> String {
    state.keys.keyed_hash("bankfile", canonical.as_bytes())
}

/// `id|account|amount_fen` per line, in line order: what the checksum covers.
fn canonical<'a>(lines: impl Iterator<Item = (i64, &'a str, i64)>) -> String {
    let mut s = String::new();
    for (id, account, amount) in lines {
        s.push_str(&format!("{id}|{account}|{amount}\n"));
    }
    s
}

fn note(l: &BankLine) -> String {
    let mut n = Vec::new();
    if l.account_changed {
        n.push("账户变更");
    }
    if l.exit_held {
        n.push("冻结退出");
    }
    n.join("；")
}

/// The lines of the roll with the account numbers opened; refused when someone has no
/// confirmed account (the bank could not pay them).
async fn open_lines(
    state: &AppState,
    tx: &mut Tx,
    roll: &queries::Admitted,
) -> AppResult<Vec<Open>> {
    let lines = queries::bank_lines(tx, roll).await?;
    let missing = lines.iter().filter(|l| l.account_enc.is_none()).count();
    if missing > 0 {
        return Err(conflict(format!(
            "名册中有 {missing} 人没有已确认的收款账户，请先录入并由另一人确认后再导出"
        )));
    }
    lines
        .into_iter()
        .map(|line| {
            let enc = line.account_enc.as_deref().unwrap_or_default();
            let account = state
                .keys
                .decrypt(enc)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| AppError::internal("account", "cannot open a sealed account"))?;
            Ok(Open { line, account })
        })
        .collect()
}

fn rows(lines: &[Open], total: Fen, checksum: &str) -> Vec<Vec<String>> {
    let mut out = vec![HEADER.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for o in lines {
        let l = &o.line;
        out.push(vec![
            l.id.to_string(),
            l.name.clone(),
            l.bank_name.clone(),
            o.account.clone(),
            l.holder.clone(),
            Fen(l.amount_fen).to_yuan_string(),
            note(l),
        ]);
    }
    let blank = || String::new();
    out.push(vec![
        "合计".into(),
        format!("{} 笔", lines.len()),
        blank(),
        blank(),
        blank(),
        total.to_yuan_string(),
        blank(),
    ]);
    out.push(vec![
        "校验码".into(),
        checksum.to_string(),
        blank(),
        blank(),
        blank(),
        blank(),
        blank(),
    ]);
    out
}

fn csv_bytes(rows: &[Vec<String>]) -> AppResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(r.iter().map(|c| neutralise(c).into_owned()))
            .map_err(|e| AppError::internal("csv", e))?;
    }
    w.into_inner().map_err(|e| AppError::internal("csv", e))
}

fn xlsx_bytes(rows: &[Vec<String>], title: &str) -> AppResult<Vec<u8>> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let bold = Format::new().set_bold();
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal("xlsx", e);
    ws.set_name("发放名册").map_err(x)?;
    ws.text(0, 0, title, &bold).map_err(x)?;
    for (i, r) in rows.iter().enumerate() {
        let row = u32::try_from(i + 1).map_err(|e| AppError::internal("xlsx", e))?;
        for (j, c) in r.iter().enumerate() {
            let col = u16::try_from(j).map_err(|e| AppError::internal("xlsx", e))?;
            if i == 0 {
                ws.text(row, col, c, &bold).map_err(x)?;
            } else {
                ws.text_plain(row, col, c).map_err(x)?;
            }
        }
    }
    wb.save_to_buffer().map_err(x)
}

/// Export the bank file of an approved (or already exported) roll: full account numbers, a
/// totals row and the checksum, which is stored on the roll; audited.
pub async fn export(
    state: &AppState,
    actor: &Actor,
    id: i64,
    req: &ExportRequest,
) -> AppResult<BankFile> {
    actor.require(Permission::PaymentsExport)?;
    let xlsx = match req.format.as_deref().map(str::trim).unwrap_or("csv") {
        "" | "csv" => false,
        "xlsx" => true,
        _ => return Err(verr("format", "应为 csv 或 xlsx")),
    };
    let mut tx = Tx::begin(state, actor).await?;
    let roll = queries::roll_in(tx.conn(), &actor.everywhere(), id).await?;
    not_the_generator(&roll.0, actor, "导出")?;
    if !matches!(roll.0.status.as_str(), "approved" | "exported") {
        return Err(conflict(format!(
            "名册当前为“{}”，审批后才能导出银行文件",
            roll.0.status_label
        )));
    }
    let lines = open_lines(state, &mut tx, &roll).await?;
    let checksum = checksum(
        state,
        &canonical(
            lines
                .iter()
                .map(|o| (o.line.id, o.account.as_str(), o.line.amount_fen)),
        ),
    );
    let total = Fen::checked_sum(lines.iter().map(|o| Fen(o.line.amount_fen)))
        .ok_or_else(|| AppError::internal("sum", "overflow"))?;
    if total.0 != roll.0.total_fen || lines.len() as i64 != roll.0.line_count {
        return Err(AppError::internal("roll", "lines and totals disagree"));
    }
    if roll.0.status == "approved"
        && !queries::transition(
            &mut tx,
            id,
            "approved",
            "exported",
            "exported",
            &actor.username,
        )
        .await?
    {
        return Err(conflict("名册已被他人处理，请刷新后再试"));
    }
    queries::set_checksum(&mut tx, id, &checksum).await?;
    let r = &roll.0;
    let table = rows(&lines, total, &checksum);
    let base = format!(
        "roll-{}-{}-{}-{}",
        r.county_code, r.programme, r.month, r.id
    );
    let (bytes, file_name, content_type) = if xlsx {
        let title = format!(
            "{} {} {} 发放日期 {}",
            r.county_code, r.programme_label, r.month, r.pay_date
        );
        (
            xlsx_bytes(&table, &title)?,
            format!("{base}.xlsx"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    } else {
        (
            csv_bytes(&table)?,
            format!("{base}.csv"),
            "text/csv; charset=utf-8",
        )
    };
    tx.commit(
        Change::new("payments.roll.export", "payment_roll", id, &r.county_code).detail(json!({
            "format": if xlsx { "xlsx" } else { "csv" }, "lines": r.line_count,
            "total_fen": r.total_fen, "checksum": checksum, "full_accounts": true,
        })),
    )
    .await?;
    Ok(BankFile {
        file_name,
        content_type,
        bytes,
        checksum,
    })
}

/// One line of a return file.
struct Returned {
    row: usize,
    id: i64,
    account: String,
    amount: Fen,
    paid: bool,
    reason: String,
}

/// A parsed return file: its lines, its totals row (count, total) and its checksum row.
type Parsed = (Vec<Returned>, Option<(i64, Fen)>, Option<String>);

fn bad(message: impl Into<String>) -> AppError {
    verr("file", message)
}

/// Parse the return file: its lines, its totals row (count, total) and its checksum row.
fn parse_return(text: &str) -> AppResult<Parsed> {
    let text = text.trim_start_matches('\u{feff}');
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|_| bad("无法读取表头"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect::<Vec<_>>();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(c_id), Some(c_acc), Some(c_amt), Some(c_res)) =
        (col("明细号"), col("账号"), col("金额（元）"), col("结果"))
    else {
        return Err(bad("表头应含“明细号”“账号”“金额（元）”“结果”列"));
    };
    let c_reason = col("失败原因");
    let (mut lines, mut totals, mut checksum) = (Vec::new(), None, None);
    for (i, rec) in rdr.records().enumerate() {
        let row = i + 2;
        let rec = rec.map_err(|_| bad(format!("第 {row} 行无法读取")))?;
        let get = |c: usize| {
            rec.get(c)
                .unwrap_or("")
                .trim()
                .trim_start_matches('\'')
                .to_string()
        };
        let first = get(0);
        if first == "合计" {
            let n: i64 = get(1)
                .trim_end_matches('笔')
                .trim()
                .parse()
                .map_err(|_| bad("合计行的笔数不正确"))?;
            let t = Fen::parse_yuan(&get(c_amt)).map_err(|e| bad(format!("合计行金额：{e}")))?;
            totals = Some((n, t));
            continue;
        }
        if first == "校验码" {
            checksum = Some(get(1));
            continue;
        }
        let id: i64 = get(c_id)
            .parse()
            .map_err(|_| bad(format!("第 {row} 行明细号不正确")))?;
        let amount =
            Fen::parse_yuan(&get(c_amt)).map_err(|e| bad(format!("第 {row} 行金额：{e}")))?;
        let paid = match get(c_res).as_str() {
            "成功" | "paid" => true,
            "失败" | "failed" => false,
            _ => return Err(bad(format!("第 {row} 行结果应为“成功”或“失败”"))),
        };
        let reason = c_reason.map(get).unwrap_or_default();
        if !paid && reason.is_empty() {
            return Err(bad(format!("第 {row} 行发放失败，须写明失败原因")));
        }
        lines.push(Returned {
            row,
            id,
            account: get(c_acc),
            amount,
            paid,
            reason: reason.chars().take(200).collect(),
        });
    }
    Ok((lines, totals, checksum))
}

/// Does the return match the export? The first mismatch, named, or `Ok`.
fn check_match(
    state: &AppState,
    ret: &[Returned],
    totals: Option<(i64, Fen)>,
    sum: Option<&str>,
    exp: &[Open],
    roll: &Roll,
) -> AppResult<()> {
    let by_id: std::collections::HashMap<i64, &Open> = exp.iter().map(|o| (o.line.id, o)).collect();
    let mut seen = std::collections::HashSet::new();
    for r in ret {
        let Some(o) = by_id.get(&r.id) else {
            return Err(bad(format!(
                "回盘与导出文件不一致：第 {} 行明细号 {} 不在名册中",
                r.row, r.id
            )));
        };
        if !seen.insert(r.id) {
            return Err(bad(format!(
                "回盘与导出文件不一致：明细号 {} 出现了两次",
                r.id
            )));
        }
        if r.amount.0 != o.line.amount_fen {
            return Err(bad(format!(
                "回盘与导出文件不一致：第 {} 行明细号 {} 金额为 {} 元，导出为 {} 元",
                r.row,
                r.id,
                r.amount.to_yuan_string(),
                Fen(o.line.amount_fen).to_yuan_string()
            )));
        }
        if r.account != o.account {
            return Err(bad(format!(
                "回盘与导出文件不一致：第 {} 行明细号 {} 的账号与导出不同",
                r.row, r.id
            )));
        }
    }
    if let Some(o) = exp.iter().find(|o| !seen.contains(&o.line.id)) {
        return Err(bad(format!(
            "回盘与导出文件不一致：缺少明细号 {}（回盘 {} 笔，导出 {} 笔）",
            o.line.id,
            ret.len(),
            exp.len()
        )));
    }
    match totals {
        None => return Err(bad("回盘文件缺少合计行")),
        Some((n, t)) if n != roll.line_count || t.0 != roll.total_fen => {
            return Err(bad(format!(
                "回盘与导出文件不一致：合计为 {} 笔 {} 元，导出为 {} 笔 {} 元",
                n,
                t.to_yuan_string(),
                roll.line_count,
                Fen(roll.total_fen).to_yuan_string()
            )));
        }
        Some(_) => {}
    }
    let mut sorted: Vec<&Returned> = ret.iter().collect();
    sorted.sort_by_key(|r| r.id);
    let lines = canonical(
        sorted
            .iter()
            .map(|r| (r.id, r.account.as_str(), r.amount.0)),
    );
    // A roll exported before the checksum was keyed kept a plain SHA-256.
    let matches =
        checksum(state, &lines) == roll.checksum || sha256_hex(lines.as_bytes()) == roll.checksum;
    if sum != Some(roll.checksum.as_str()) || !matches {
        return Err(bad(
            "回盘与导出文件不一致：校验码不符（文件不是本名册导出的文件，或已被改动）",
        ));
    }
    Ok(())
}

/// Reconcile an exported roll with the bank's return file, in one transaction: each line paid
/// or failed with its reason, the roll reconciled, the failed lines on a supplementary roll.
pub async fn reconcile(
    state: &AppState,
    actor: &Actor,
    id: i64,
    file: &ReturnFile,
) -> AppResult<Reconciled> {
    actor.require(Permission::PaymentsReconcile)?;
    let (ret, totals, sum) = parse_return(&file.content)?;
    let mut tx = Tx::begin(state, actor).await?;
    let roll = queries::roll_in(tx.conn(), &actor.everywhere(), id).await?;
    if roll.0.status != "exported" {
        return Err(conflict(format!(
            "名册当前为“{}”，导出银行文件后才能导入回盘",
            roll.0.status_label
        )));
    }
    let exp = open_lines(state, &mut tx, &roll).await?;
    check_match(state, &ret, totals, sum.as_deref(), &exp, &roll.0)?;
    let failed: Vec<(i64, String)> = ret
        .iter()
        .filter(|r| !r.paid)
        .map(|r| (r.id, r.reason.clone()))
        .collect();
    queries::record_outcomes(&mut tx, id, &failed).await?;
    if !queries::transition(
        &mut tx,
        id,
        "exported",
        "reconciled",
        "reconciled",
        &actor.username,
    )
    .await?
    {
        return Err(conflict("名册已被他人处理，请刷新后再试"));
    }
    let r = &roll.0;
    let mut supp_id = None;
    if !failed.is_empty() {
        let batch = format!("supp:{id}");
        let pay = state.today().format("%Y-%m-%d").to_string();
        let note = format!("补发：名册 {} 发放失败 {} 笔", r.id, failed.len());
        let new = g::NewRoll {
            province: &r.province,
            county: &r.county_code,
            programme: &r.programme,
            month: &r.month,
            batch: &batch,
            kind: "supplementary",
            parent_roll_id: Some(id),
            grant_id: r.grant_id,
            pay_date: &pay,
            note: &note,
            generated_by: &actor.username,
        };
        let sid = g::insert_roll(&mut tx, &new).await?;
        g::supplementary_lines(&mut tx, sid, id, &batch).await?;
        g::finish_roll(&mut tx, sid, (0, 0, 0)).await?;
        tx.also(super::roll_generated(sid, &r.county_code).detail(json!({
            "kind": "supplementary", "parent": id, "lines": failed.len(),
        })));
        supp_id = Some(sid);
    }
    let done = queries::roll_in(tx.conn(), &actor.everywhere(), id).await?;
    let supplementary = match supp_id {
        Some(s) => Some(queries::roll_in(tx.conn(), &actor.everywhere(), s).await?.0),
        None => None,
    };
    tx.commit(
        Change::new(
            "payments.roll.reconcile",
            "payment_roll",
            id,
            &r.county_code,
        )
        .detail(json!({
            "paid": done.0.paid_count, "paid_fen": done.0.paid_fen, "failed": done.0.failed_count,
            "failed_fen": done.0.failed_fen, "supplementary": supp_id,
        })),
    )
    .await?;
    Ok(Reconciled {
        roll: done.0,
        supplementary,
    })
}
