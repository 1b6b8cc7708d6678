//! The public donation pages and feed (`/public/donations…`, issue 18 item 6; no login, the
//! public face's layout and per-address limits). A campaign's page shows the totals received,
//! allocated, delivered, in stock and the fee taken (from the chain heads' running totals —
//! the ledger is never scanned), a chart, and the receipts and the allocations and deliveries,
//! paged; a charity's page its numbers and latest entries. The JSON feed, the signed heads and
//! the disclosure key are what `backstop ledger verify --feed` and
//! `scripts/verify-disclosure.py` check. Pages are cached per campaign and chain heads.
//! Nothing personal is shown: a donor's name only with consent (else 爱心人士), recipients are
//! organisations, no phone, no staff name.

use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::disclosure::{self, FeedEntry, PublicKey, RunningTotals};
use super::queries;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::web::Routes;
use crate::public::public_error;
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/public/donations", get(index)),
        ("/public/donations/key", get(key)),
        ("/public/donations/key.pem", get(key_pem)),
        ("/public/donations/charities/{id}", get(charity)),
        ("/public/donations/{campaign}", get(campaign)),
        ("/public/donations/{campaign}/feed", get(feed)),
        ("/public/donations/{campaign}/heads", get(heads)),
    ]
}

fn yuan(fen: i64) -> String {
    backstop_core::money::Fen(fen).to_yuan_string()
}

/// A published entry as a row of a public list.
pub(crate) struct PubRow {
    pub seq: i64,
    pub province: String,
    pub date: String,
    pub kind: &'static str,
    /// The donor as shown (receipts) or the recipient organisation.
    pub party: String,
    pub items: String,
    pub uses: String,
    pub charity: String,
    pub charity_id: i64,
}

fn kind_label(k: &str) -> &'static str {
    match k {
        "receive" => "接收",
        "allocate" => "拨付",
        "dispatch" => "发运",
        "deliver" => "签收",
        "fee" => "管理费",
        "reverse" => "冲销",
        _ => "记账",
    }
}

fn row_of(province: &str, e: &FeedEntry) -> PubRow {
    let v = &e.entry;
    let kind = v["kind"].as_str().unwrap_or_default();
    let shown = match kind {
        "receive" => "stock",
        "allocate" => "allocated",
        "dispatch" => "in_transit",
        "deliver" => "delivered",
        "fee" => "fee",
        _ => "",
    };
    let mut items = Vec::new();
    let mut party = String::new();
    for l in v["lines"].as_array().into_iter().flatten() {
        if l["account"].as_str() != Some(shown) {
            continue;
        }
        let q = l["quantity"].as_i64().unwrap_or_default();
        let value = l["value_fen"].as_i64().unwrap_or_default();
        if l["category"].as_str() == Some(super::MONEY) {
            items.push(format!("资金 {} 元", yuan(value)));
        } else {
            items.push(format!(
                "{}{} {} {}（折款 {} 元）",
                l["item"].as_str().unwrap_or_default(),
                l["spec"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(|s| format!(" {s}"))
                    .unwrap_or_default(),
                q,
                l["unit"].as_str().unwrap_or_default(),
                yuan(value)
            ));
        }
        if let Some(n) = l["recipient"]["name"].as_str() {
            party = n.to_string();
        }
    }
    if kind == "reverse" {
        items.push(format!(
            "冲销第 {} 条",
            v["reverses_seq"].as_i64().unwrap_or_default()
        ));
    }
    let directed = &v["receipt"]["directed"];
    let uses = match directed["kind"].as_str() {
        Some("org") => format!("定向：{}", directed["org"].as_str().unwrap_or_default()),
        Some("region") => format!(
            "定向地区：{}",
            directed["region"].as_str().unwrap_or_default()
        ),
        Some("purpose") => format!(
            "定向用途：{}",
            directed["purpose"].as_str().unwrap_or_default()
        ),
        _ => v["use"].as_str().unwrap_or_default().to_string(),
    };
    PubRow {
        seq: e.seq,
        province: province.to_string(),
        date: v["date"].as_str().unwrap_or_default().to_string(),
        kind: kind_label(kind),
        party: e.donor.clone().unwrap_or(party),
        items: items.join("；"),
        uses,
        charity: v["charity"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        charity_id: v["charity"]["org_id"].as_i64().unwrap_or_default(),
    }
}

async fn rows(state: &AppState, chain: &[disclosure::ChainRow]) -> AppResult<Vec<PubRow>> {
    let entries = disclosure::published(state, chain).await?;
    Ok(entries
        .iter()
        .zip(chain)
        .map(|(e, c)| row_of(&c.province, e))
        .collect())
}

#[derive(Template)]
#[template(path = "public_donations_index.html")]
struct IndexPage {
    campaigns: Vec<(i64, String)>,
}

async fn index(State(s): State<AppState>) -> Response {
    match queries::public_campaigns(&s).await {
        Ok(campaigns) => crate::kernel::web::render(&IndexPage { campaigns }),
        Err(e) => public_error(&e),
    }
}

struct Bar {
    label: &'static str,
    value: String,
    width: i64,
}

#[derive(Template)]
#[template(path = "public_donations_campaign.html")]
struct CampaignPage {
    id: i64,
    name: String,
    starts_on: String,
    ends_on: String,
    no_fee: bool,
    totals: RunningTotals,
    bars: Vec<Bar>,
    receipts: Vec<PubRow>,
    receipts_next: Option<i64>,
    moves: Vec<PubRow>,
    moves_next: Option<i64>,
    heads: Vec<(String, String, i64, String)>,
    key_id: String,
}

impl CampaignPage {
    fn yuan(&self, fen: &i64) -> String {
        yuan(*fen)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PageQuery {
    /// Receipts before this seq.
    r: Option<i64>,
    /// Allocations and deliveries before this seq.
    a: Option<i64>,
}

/// Rows per public list page.
const PAGE: i64 = 20;

/// The campaign's totals over its provinces' chain heads, and the heads' stamp (cache key).
pub(crate) async fn campaign_totals(
    state: &AppState,
    id: i64,
) -> AppResult<(RunningTotals, String)> {
    let tips = queries::tips(state, id).await?;
    let mut t = RunningTotals::default();
    let mut stamp = String::new();
    for c in &tips {
        t.received_fen += c.totals.received_fen;
        t.allocated_fen += c.totals.allocated_fen;
        t.delivered_fen += c.totals.delivered_fen;
        t.fee_fen += c.totals.fee_fen;
        t.in_stock_fen += c.totals.in_stock_fen;
        stamp.push_str(&format!("{}:{}:{};", c.province, c.seq, c.hash));
    }
    Ok((t, stamp))
}

async fn campaign_page(s: &AppState, id: i64, q: &PageQuery) -> AppResult<Arc<String>> {
    let (id, name, _, starts_on, ends_on, no_fee) = queries::public_campaign(s, id).await?;
    let (totals, stamp) = campaign_totals(s, id).await?;
    let slot = format!("campaign:{id}:{:?}:{:?}", q.r, q.a);
    if let Some(html) = s.disclosure.cached(&slot, &stamp) {
        return Ok(html);
    }
    let top = i64::MAX;
    let rchain = queries::of_kind(s, id, &["receive"], q.r.unwrap_or(top), PAGE + 1).await?;
    let achain = queries::of_kind(
        s,
        id,
        &["allocate", "deliver"],
        q.a.unwrap_or(top),
        PAGE + 1,
    )
    .await?;
    let mut receipts = rows(s, &rchain).await?;
    let receipts_next = (receipts.len() as i64 > PAGE).then(|| receipts[PAGE as usize - 1].seq);
    receipts.truncate(PAGE as usize);
    let mut moves = rows(s, &achain).await?;
    let moves_next = (moves.len() as i64 > PAGE).then(|| moves[PAGE as usize - 1].seq);
    moves.truncate(PAGE as usize);
    let max = totals.received_fen.max(1);
    let bars = [
        ("接收", totals.received_fen),
        ("已拨付", totals.allocated_fen),
        ("已签收", totals.delivered_fen),
        ("库存", totals.in_stock_fen),
        ("管理费", totals.fee_fen),
    ]
    .into_iter()
    .map(|(label, v)| Bar {
        label,
        value: yuan(v),
        width: (i128::from(v.max(0)) * 100 / i128::from(max)) as i64,
    })
    .collect();
    let heads = queries::heads(s, id, 5)
        .await?
        .into_iter()
        .rev()
        .map(|h| (h.day, h.province, h.seq, h.hash))
        .collect();
    let page = CampaignPage {
        id,
        name,
        starts_on,
        ends_on,
        no_fee,
        totals,
        bars,
        receipts,
        receipts_next,
        moves,
        moves_next,
        heads,
        key_id: s
            .disclosure
            .public()
            .map(|k| disclosure::key_id(&k))
            .unwrap_or_default(),
    };
    let html = Arc::new(
        page.render()
            .map_err(|e| AppError::internal("template", e))?,
    );
    s.disclosure.keep(slot, stamp, html.clone());
    Ok(html)
}

async fn campaign(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return public_error(&AppError::not_found());
    };
    match campaign_page(&s, id, &q).await {
        Ok(html) => Html(html.as_str().to_string()).into_response(),
        Err(e) => public_error(&e),
    }
}

#[derive(Template)]
#[template(path = "public_donations_charity.html")]
struct CharityPage {
    name: String,
    region_code: String,
    credit_code: String,
    filing_no: String,
    entries: Vec<PubRow>,
}

async fn charity(State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let page = async {
        let (name, region_code, credit_code, filing_no) = queries::public_charity(&s, id).await?;
        let chain = queries::of_charity(&s, id, 50).await?;
        Ok::<_, AppError>(CharityPage {
            name,
            region_code,
            credit_code,
            filing_no,
            entries: rows(&s, &chain).await?,
        })
    };
    match page.await {
        Ok(p) => crate::kernel::web::render(&p),
        Err(e) => public_error(&e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FeedQuery {
    after: i64,
    province: Option<String>,
    limit: Option<i64>,
}

fn json_error(e: &AppError) -> Response {
    e.clone().into_response()
}

async fn feed(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<FeedQuery>,
) -> Response {
    let page = super::feed::feed(
        &s,
        id,
        q.province.as_deref(),
        q.after,
        q.limit.unwrap_or(disclosure::FEED_PAGE),
    )
    .await
    .and_then(|p| p.to_json());
    match page {
        Ok(body) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => json_error(&e),
    }
}

async fn heads(State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    match disclosure::heads(&s, id).await {
        Ok(h) => {
            let (totals, _) = match campaign_totals(&s, id).await {
                Ok(t) => t,
                Err(e) => return json_error(&e),
            };
            Json(serde_json::json!({"campaign_id": id, "heads": h, "current_totals": totals}))
                .into_response()
        }
        Err(e) => json_error(&e),
    }
}

async fn key(State(s): State<AppState>) -> Response {
    match s.disclosure.public() {
        Some(k) => Json(PublicKey::of(&k)).into_response(),
        None => json_error(&AppError::not_found()),
    }
}

async fn key_pem(State(s): State<AppState>) -> Response {
    match s.disclosure.public() {
        Some(k) => (
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            disclosure::public_pem(&k),
        )
            .into_response(),
        None => json_error(&AppError::not_found()),
    }
}
