//! `backstop bookings …`: what an operator at the server does with bookings — block a day of
//! a registry or funeral home and start the rebooking of every booking of it — through the
//! same service function as the API and the page (`backstop_app::bookings::rebook::block`), so
//! the rules (proposals in order of booking time, notices through the outbox, the audit entry)
//! are the same.

use std::process::ExitCode;

use backstop_app::AppState;
use backstop_app::bookings::rebook::{self, BlockInput};
use backstop_app::kernel::actor::Actor;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BookingsCommand {
    /// Block a day (停办) of an organisation: its bookings go to rebooking, each party is
    /// proposed the nearest free slot and notified.
    Block {
        /// The organisation's id.
        #[arg(long)]
        org: i64,
        /// YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// The explanation sent to every party.
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(state: &AppState, command: BookingsCommand) -> Result<ExitCode, String> {
    let actor = Actor::operator();
    match command {
        BookingsCommand::Block { org, date, reason } => {
            let o = rebook::block(state, &actor, org, &BlockInput { day: date, reason })
                .await
                .map_err(|e| format!("{}（{}）", e.message, e.code.as_str()))?;
            println!(
                "已停办机构 {} 的 {}：{} 件预约移入改约，{} 件已预留新时段并通知，{} 件无可用时段（请电话联系）",
                o.org_id, o.day, o.moved, o.proposed, o.unplaced
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
