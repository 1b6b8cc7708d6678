//! `backstop node …` at a parent deployment (issue 20, ADR 0015, first slice): issue a child
//! node for a region (the credential is printed once, for the child's operator), list the
//! nodes with their last contact, rotate a credential (the old one keeps working for a day),
//! revoke one. Through `backstop_app::federation`, so the rules and audit entries are the
//! service's. The child's side (`register`, `status`, `sync`) follows with the sync client.

use std::process::ExitCode;

use backstop_app::AppState;
use backstop_app::federation::{self, NewNode};
use backstop_app::kernel::actor::Actor;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum NodeCommand {
    /// Issue a child node for a region; prints the credential once.
    Issue {
        /// The region the child reports for (e.g. a county's code).
        #[arg(long)]
        region: String,
        /// A name for people (e.g. 鹿泉区民政局).
        #[arg(long)]
        name: String,
    },
    /// The child nodes, with their status and last contact.
    List,
    /// A new credential for a node (the old one works for 24 more hours).
    Rotate {
        #[arg(long)]
        id: i64,
    },
    /// Revoke a node: its credentials stop working at once.
    Revoke {
        #[arg(long)]
        id: i64,
    },
}

pub async fn run(state: &AppState, command: NodeCommand) -> Result<ExitCode, String> {
    let actor = Actor::operator();
    match command {
        NodeCommand::Issue { region, name } => {
            let n = federation::issue(
                state,
                &actor,
                &NewNode {
                    region_code: region,
                    name,
                },
            )
            .await
            .map_err(crate::failed)?;
            println!(
                "已签发下级节点 {}：{}（{}）",
                n.node.id, n.node.name, n.node.region_name
            );
            println!(
                "节点凭据（只显示这一次，请交下级部署保存）：{}",
                n.credential
            );
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::List => {
            for n in federation::list(state, &actor)
                .await
                .map_err(crate::failed)?
            {
                println!(
                    "{}\t{}\t{}（{}）\t{}\t最近联系：{}",
                    n.id,
                    n.name,
                    n.region_name,
                    n.region_code,
                    n.status_label,
                    n.last_seen_at.as_deref().unwrap_or("从未")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Rotate { id } => {
            let n = federation::rotate(state, &actor, id)
                .await
                .map_err(crate::failed)?;
            println!(
                "节点 {id} 的新凭据（旧凭据 24 小时内仍有效）：{}",
                n.credential
            );
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Revoke { id } => {
            let n = federation::revoke(state, &actor, id)
                .await
                .map_err(crate::failed)?;
            println!("已吊销节点 {}：{}", n.id, n.name);
            Ok(ExitCode::SUCCESS)
        }
    }
}
