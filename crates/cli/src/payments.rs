//! `backstop payments …`: what an operator at the server does with payment rolls — generate a
//! county's monthly roll and export a roll's bank file — through the same service functions
//! as the API (`backstop_app::payments`), so the rules (one roll per county, programme and
//! month; separation of duties; the checksum stored on the roll; the audit entry) are the same.

use std::path::PathBuf;
use std::process::ExitCode;

use backstop_app::AppState;
use backstop_app::kernel::actor::Actor;
use backstop_app::payments::{self, ExportRequest, GenerateRequest};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum PaymentsCommand {
    /// Generate the monthly roll (发放名册) of a county and programme, as a draft.
    Generate {
        /// County code (6 digits).
        #[arg(long)]
        county: String,
        /// Programme key or Chinese name (dibao, tekun, orphan_allowance, …).
        #[arg(long)]
        programme: String,
        /// Month, YYYY-MM.
        #[arg(long)]
        month: String,
        /// Pay date, YYYY-MM-DD (default the first of the month; may be in the previous
        /// month for early payment).
        #[arg(long)]
        pay_date: Option<String>,
    },
    /// Export the bank file of an approved roll (full account numbers; audited) into FILE;
    /// `.xlsx` gives Excel, anything else CSV. Refuses to overwrite.
    Export {
        #[arg(long)]
        roll: i64,
        #[arg(long)]
        out: PathBuf,
    },
}

fn err(e: backstop_app::kernel::error::AppError) -> String {
    format!("{}（{}）", e.message, e.code.as_str())
}

pub async fn run(state: &AppState, command: PaymentsCommand) -> Result<ExitCode, String> {
    let actor = Actor::operator();
    match command {
        PaymentsCommand::Generate {
            county,
            programme,
            month,
            pay_date,
        } => {
            let req = GenerateRequest {
                county,
                programme,
                month,
                pay_date,
            };
            let d = payments::generate(state, &actor, &req).await.map_err(err)?;
            let r = &d.roll;
            println!(
                "已生成名册 {}：{} {} {} 月，{} 笔，合计 {} 元，发放日期 {}{}；{}",
                r.id,
                r.county_code,
                r.programme_label,
                r.month,
                r.line_count,
                r.total_yuan,
                r.pay_date,
                if r.early { "（提前发放）" } else { "" },
                r.left_summary
            );
            Ok(ExitCode::SUCCESS)
        }
        PaymentsCommand::Export { roll, out } => {
            if out.exists() {
                return Err(format!("{} 已存在，不会覆盖", out.display()));
            }
            let xlsx = out.extension().is_some_and(|e| e == "xlsx");
            let req = ExportRequest {
                format: Some(if xlsx { "xlsx" } else { "csv" }.to_string()),
            };
            let f = payments::export(state, &actor, roll, &req)
                .await
                .map_err(err)?;
            std::fs::write(&out, &f.bytes)
                .map_err(|e| format!("无法写入 {}：{e}", out.display()))?;
            println!(
                "已导出名册 {roll} 的银行代发文件到 {}，校验码 {}",
                out.display(),
                f.checksum
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
