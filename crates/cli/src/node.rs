//! `backstop node …` at a parent deployment (issue 20, ADR 0015, first slice): issue a child
//! node for a region (the credential is printed once, for the child's operator), list the
//! nodes with their last contact, rotate a credential (the old one keeps working for a day),
//! revoke one. At a child: register the parent with that credential (checked with the parent
//! first), show the link's state (queue, last success, last error, rejected events), and sync
//! now (the service also syncs every 30 s). Through `backstop_app::federation`, so the rules
//! and audit entries are the service's.

use std::process::ExitCode;

use backstop_app::AppState;
use backstop_app::federation::{self, NewNode, child};
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
    /// At a child: register the parent deployment with the credential it issued.
    Register {
        /// The parent's address, `https://host[:port]` (`http://` for a parent on this
        /// machine or behind a local TLS proxy).
        #[arg(long)]
        parent: String,
        /// The node credential (`bsn_…`) the parent's security administrator issued.
        #[arg(long)]
        credential: String,
        /// The parent's root certificate (PEM), when its HTTPS certificate comes from a CA of
        /// its own; without it the public roots are used.
        #[arg(long)]
        ca_file: Option<std::path::PathBuf>,
    },
    /// At a child: the link to the parent — queue length, last success, last error.
    Status,
    /// At a child: send what is pending to the parent now.
    Sync,
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
        NodeCommand::Register {
            parent,
            credential,
            ca_file,
        } => {
            let ca = match &ca_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| format!("无法读取根证书文件 {}：{e}", path.display()))?,
                ),
                None => None,
            };
            let l = child::register(state, &actor, &parent, &credential, ca.as_deref())
                .await
                .map_err(crate::failed)?;
            println!(
                "已登记上级部署 {}：本部署为其下级节点 {}（{}，{}）；待上报 {} 条",
                l.parent_url, l.node_id, l.node_name, l.region_code, l.pending
            );
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Status => {
            let l = child::status(state, &actor).await.map_err(crate::failed)?;
            if !l.registered {
                println!("未登记上级部署（本部署不向上级上报）");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "上级部署：{}（节点 {}，{}，{}）",
                l.parent_url, l.node_id, l.node_name, l.region_code
            );
            println!(
                "连接：{}",
                match (l.tls, l.custom_ca) {
                    (true, true) => "HTTPS，按登记的根证书验证",
                    (true, false) => "HTTPS，按公共根证书验证",
                    _ => "HTTP 明文（仅限本机或本机 TLS 代理）",
                }
            );
            println!(
                "待上报 {} 条，已上报 {} 条，被拒绝 {} 条",
                l.pending, l.sent, l.rejected
            );
            println!(
                "最近成功：{}",
                l.last_success_at.as_deref().unwrap_or("从未")
            );
            if let Some(e) = &l.last_error {
                println!(
                    "最近错误（{}）：{e}",
                    l.last_error_at.as_deref().unwrap_or("")
                );
            }
            for r in &l.rejected_recent {
                println!("被拒绝：{}\t{}\t{}", r.event_key, r.code, r.message);
            }
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Sync => {
            let r = child::sync_once(state).await.map_err(crate::failed)?;
            if !r.registered {
                println!("未登记上级部署，无需同步");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "已同步：{} 批，受理 {} 条，重复 {} 条，拒绝 {} 条；待上报 {} 条",
                r.batches, r.applied, r.duplicate, r.rejected, r.pending
            );
            let down = r.forms + r.standards + r.emergencies + r.public_pages + r.campaigns;
            if down > 0 {
                println!(
                    "已接收上级下发：表单版本 {} 个，救助标准 {} 条，应急期 {} 个，公开信息 {} 篇，摸排活动 {} 个",
                    r.forms, r.standards, r.emergencies, r.public_pages, r.campaigns
                );
            }
            match r.error {
                Some(e) => {
                    println!("同步中断：{e}");
                    Ok(ExitCode::from(2))
                }
                None => Ok(ExitCode::SUCCESS),
            }
        }
    }
}
