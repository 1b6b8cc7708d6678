//! `backstop bookings …`: what an operator at the server does with bookings — block a day of
//! a registry or funeral home and start the rebooking of every booking of it — through the
//! same service function as the API and the page (`backstop_app::bookings::rebook::block`), so
//! the rules (proposals in order of booking time, notices through the outbox, the audit entry)
//! are the same. Also where couples may register in a region (`place-rule`) and the
//! registries designated for marriages involving foreigners or residents of Hong Kong, Macao
//! and Taiwan (`designate`), through `backstop_app::bookings::register`.

use std::process::ExitCode;

use backstop_app::AppState;
use backstop_app::bookings::rebook::{self, BlockInput};
use backstop_app::bookings::register::{self, Designation, SetPlaceRule};
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
    /// Set where couples may register in a region: household (一方常住户口所在地) or anywhere
    /// (全国通办).
    PlaceRule {
        /// The region's code.
        #[arg(long)]
        region: String,
        /// household | anywhere.
        #[arg(long)]
        rule: String,
    },
    /// Designate a marriage registry for marriages involving foreigners or residents of Hong
    /// Kong, Macao and Taiwan (or withdraw the designation with --withdraw).
    Designate {
        /// The registry's id.
        #[arg(long)]
        org: i64,
        #[arg(long)]
        withdraw: bool,
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
        BookingsCommand::PlaceRule { region, rule } => {
            let r = register::set_place_rule(
                state,
                &actor,
                &SetPlaceRule {
                    region_code: region,
                    rule,
                },
            )
            .await
            .map_err(crate::failed)?;
            println!(
                "{}（{}）婚姻登记地：{}",
                r.region_name, r.region_code, r.rule_label
            );
            Ok(ExitCode::SUCCESS)
        }
        BookingsCommand::Designate { org, withdraw } => {
            let d = register::set_designation(
                state,
                &actor,
                org,
                &Designation {
                    designated: !withdraw,
                },
            )
            .await
            .map_err(crate::failed)?;
            println!(
                "机构 {org}：{}",
                if d.designated {
                    "已指定为涉外及涉港澳台婚姻登记机关"
                } else {
                    "已撤销指定"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
