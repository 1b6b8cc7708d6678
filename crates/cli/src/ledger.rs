//! `backstop ledger verify`: recompute every balance of the donation ledger from its journal
//! lines and check every invariant (`backstop_app::donations::verify`), as the operator (every
//! charity). Prints each breach in Chinese and exits 2 when there is one.

use std::process::ExitCode;

use backstop_app::AppState;
use backstop_app::kernel::actor::Actor;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Recompute every balance from the entries and check every invariant; exits non-zero on
    /// a breach.
    Verify,
}

pub async fn run(state: &AppState, command: LedgerCommand) -> Result<ExitCode, String> {
    match command {
        LedgerCommand::Verify => {
            let r = backstop_app::donations::verify::verify(state, &Actor::operator())
                .await
                .map_err(|e| format!("{}（{}）", e.message, e.code.as_str()))?;
            if r.ok() {
                println!(
                    "捐赠台账核验通过：{} 条记账、{} 条记账明细、{} 张收据，余额均由记账重新计算，规则无违反",
                    r.entries, r.lines, r.receipts
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "捐赠台账核验发现 {} 处问题（{} 条记账、{} 张收据）：",
                    r.breaches.len(),
                    r.entries,
                    r.receipts
                );
                for b in &r.breaches {
                    println!("  - {b}");
                }
                Ok(ExitCode::from(2))
            }
        }
    }
}
