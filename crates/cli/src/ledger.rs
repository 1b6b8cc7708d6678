//! `backstop ledger …`: `verify` recomputes every balance of the donation ledger from its
//! journal lines and checks every invariant and the public chain
//! (`backstop_app::donations::verify`), as the operator; `verify --feed <URL or file> --head
//! <saved head>` checks the public disclosure from the feed alone, without the database
//! (`backstop_app::donations::disclosure::verify_feed`); `sign-head` signs the chain heads
//! now. Problems are printed in Chinese and exit 2.

use std::path::PathBuf;
use std::process::ExitCode;

use backstop_app::AppState;
use backstop_app::donations::disclosure::{self, Feed, SignedHead};
use backstop_app::kernel::actor::Actor;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Recompute every balance from the entries and check every invariant and the public
    /// chain; exits non-zero on a breach. With --feed and --head: verify the public
    /// disclosure from its feed alone (no database).
    Verify {
        /// The public feed: `http(s)://…/public/donations/{campaign}/feed[?province=NN]`
        /// (every page is fetched) or a saved feed file (one page with every entry, or a
        /// JSON list of pages).
        #[arg(long, requires = "head")]
        feed: Option<String>,
        /// A signed head saved earlier (one element of `…/heads`, or the whole answer: its
        /// last head of the feed's province is used).
        #[arg(long, requires = "feed")]
        head: Option<PathBuf>,
        /// The published key (`/public/donations/key` JSON, PEM, or 64 hex characters; a
        /// file or URL). Default: fetched from the feed's server.
        #[arg(long)]
        key: Option<String>,
    },
    /// Publish entries not yet on the public chain (loaded in bulk), then sign the public
    /// chain heads now (every chain that moved since its last head, through today); the
    /// service signs daily and on start.
    SignHead,
}

/// The commands that need no database (`verify --feed`): their result, else `None`.
pub fn offline(command: &LedgerCommand) -> Option<Result<ExitCode, String>> {
    match command {
        LedgerCommand::Verify {
            feed: Some(feed),
            head: Some(head),
            key,
        } => Some(verify_feed(feed, head, key.as_deref())),
        _ => None,
    }
}

pub async fn run(state: &AppState, command: LedgerCommand) -> Result<ExitCode, String> {
    match command {
        LedgerCommand::Verify { .. } => verify_db(state).await,
        LedgerCommand::SignHead => {
            let today = state.today().format("%Y-%m-%d").to_string();
            let published = disclosure::publish_pending(state)
                .await
                .map_err(|e| format!("{}（{}）", e.message, e.code.as_str()))?;
            if published > 0 {
                println!("已公开 {published} 条尚未公开的记账（批量导入的记账）");
            }
            let n = disclosure::sign_due(state, &today)
                .await
                .map_err(|e| format!("{}（{}）", e.message, e.code.as_str()))?;
            println!("已签署 {n} 个公开链头（截至 {today}）");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn verify_db(state: &AppState) -> Result<ExitCode, String> {
    let r = backstop_app::donations::verify::verify(state, &Actor::operator())
        .await
        .map_err(|e| format!("{}（{}）", e.message, e.code.as_str()))?;
    if r.ok() {
        println!(
            "捐赠台账核验通过：{} 条记账、{} 条记账明细、{} 张收据，余额均由记账重新计算，公开链完整，规则无违反",
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

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// The text of a URL or a file.
fn read(src: &str) -> Result<String, String> {
    if is_url(src) {
        ureq::get(src)
            .call()
            .map_err(|e| format!("无法获取 {src}：{e}"))?
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("无法读取 {src}：{e}"))
    } else {
        std::fs::read_to_string(src).map_err(|e| format!("无法读取文件 {src}：{e}"))
    }
}

fn with_after(url: &str, after: i64) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}after={after}")
}

/// The pages of a feed: a saved file (one page, or a list of pages) or every page of a URL,
/// fetched one at a time.
struct Pages {
    url: Option<String>,
    saved: std::vec::IntoIter<Feed>,
    after: Option<i64>,
}

impl Pages {
    fn open(feed: &str) -> Result<Pages, String> {
        if is_url(feed) {
            return Ok(Pages {
                url: Some(feed.to_string()),
                saved: Vec::new().into_iter(),
                after: Some(0),
            });
        }
        let text = read(feed)?;
        let pages: Vec<Feed> = match serde_json::from_str::<Feed>(&text) {
            Ok(f) => vec![f],
            Err(_) => serde_json::from_str(&text).map_err(|e| format!("公开数据格式错误：{e}"))?,
        };
        Ok(Pages {
            url: None,
            saved: pages.into_iter(),
            after: None,
        })
    }

    fn next(&mut self) -> Result<Option<Feed>, String> {
        let Some(url) = &self.url else {
            return Ok(self.saved.next());
        };
        let Some(after) = self.after else {
            return Ok(None);
        };
        let page: Feed = serde_json::from_str(&read(&with_after(url, after))?)
            .map_err(|e| format!("公开数据格式错误：{e}"))?;
        self.after = page.next_after.filter(|n| *n > after);
        Ok(Some(page))
    }
}

fn head_of(path: &std::path::Path, province: &str) -> Result<SignedHead, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("无法读取链头文件 {}：{e}", path.display()))?;
    if let Ok(h) = serde_json::from_str::<SignedHead>(&text) {
        return Ok(h);
    }
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("链头文件格式错误：{e}"))?;
    let list = v.get("heads").cloned().unwrap_or(v);
    let heads: Vec<SignedHead> =
        serde_json::from_value(list).map_err(|e| format!("链头文件格式错误：{e}"))?;
    heads
        .into_iter()
        .rev()
        .find(|h| h.payload.contains(&format!("\"province\":\"{province}\"")))
        .ok_or_else(|| format!("链头文件中没有省 {province} 的链头"))
}

fn verify_feed(feed: &str, head: &std::path::Path, key: Option<&str>) -> Result<ExitCode, String> {
    let mut pages = Pages::open(feed)?;
    let first = pages.next()?.ok_or("公开数据为空")?;
    let head = head_of(head, &first.province)?;
    let key_src = match key {
        Some(k) => k.to_string(),
        None if is_url(feed) => match feed.find("/public/donations/") {
            Some(i) => format!("{}/public/donations/key", &feed[..i]),
            None => return Err("无法从公开数据地址推出公开密钥地址，请用 --key 指定".into()),
        },
        None => return Err("从文件核验时请用 --key 指定所公布的公开密钥".into()),
    };
    let key_text = if is_url(&key_src) || std::path::Path::new(&key_src).exists() {
        read(&key_src)?
    } else {
        key_src.clone()
    };
    let key = disclosure::parse_public_key(&key_text)
        .ok_or_else(|| format!("公开密钥格式错误：{key_src}"))?;
    let mut v = disclosure::FeedVerifier::new(&head, &key);
    let whole = first.entries.iter().all(|e| v.push(e));
    let r = if whole {
        disclosure::verify_pages(v, || pages.next())?
    } else {
        v.finish()
    };
    if r.ok() {
        println!(
            "公开数据核验通过：{} 条记账的哈希链完整；签名链头（{}，第 {} 条，密钥 {}）签名有效；由记账重新计算的累计数相符：接收 {} 元、拨付 {} 元、签收 {} 元、管理费 {} 元、库存 {} 元",
            r.entries,
            r.head_date,
            r.head_seq,
            disclosure::key_id(&key),
            yuan(r.totals.received_fen),
            yuan(r.totals.allocated_fen),
            yuan(r.totals.delivered_fen),
            yuan(r.totals.fee_fen),
            yuan(r.totals.in_stock_fen),
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "公开数据核验失败（签名链头 {}，第 {} 条）：",
            r.head_date, r.head_seq
        );
        for p in &r.problems {
            println!("  - {p}");
        }
        Ok(ExitCode::from(2))
    }
}

fn yuan(fen: i64) -> String {
    backstop_core::money::Fen(fen).to_yuan_string()
}
