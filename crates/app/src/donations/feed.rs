//! The public feed as served (`/public/donations/{id}/feed`, issue 18 item 6): a page of one
//! province's chain of a campaign, each entry's stored canonical text embedded as it is — the
//! exact bytes its hash covers, neither parsed nor written again (at 1,000 entries a page that
//! parse and re-serialisation was most of the page's cost) — with the running totals and, on
//! receipts, the donor as shown. Clients read it as [`super::disclosure::Feed`] (the shape in the API document).

use std::collections::HashMap;

use backstop_core::error::ErrorCode;
use serde::Serialize;
use serde_json::value::RawValue;

use super::disclosure::{ChainRow, FEED_PAGE, RunningTotals, donor_names, donor_shown};
use super::{province, queries};
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// One entry as served (the [`super::disclosure::FeedEntry`] shape).
#[derive(Serialize)]
struct EntryOut<'a> {
    seq: i64,
    prev_hash: &'a str,
    hash: &'a str,
    entry: &'a RawValue,
    totals: RunningTotals,
    #[serde(skip_serializing_if = "Option::is_none")]
    donor: Option<String>,
}

/// A page as served (the [`super::disclosure::Feed`] shape), serialised by [`FeedPage::to_json`].
pub struct FeedPage {
    pub campaign_id: i64,
    pub province: String,
    pub after: i64,
    rows: Vec<ChainRow>,
    names: HashMap<(String, i64), String>,
    pub next_after: Option<i64>,
    pub provinces: Vec<String>,
}

impl FeedPage {
    /// The page's JSON text.
    pub fn to_json(&self) -> AppResult<String> {
        #[derive(Serialize)]
        struct Out<'a> {
            campaign_id: i64,
            province: &'a str,
            after: i64,
            entries: Vec<EntryOut<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_after: Option<i64>,
            provinces: &'a [String],
        }
        let entries = self
            .rows
            .iter()
            .map(|r| {
                let entry = serde_json::from_str::<&RawValue>(&r.canonical)
                    .map_err(|_| AppError::internal("disclosure", "stored entry unreadable"))?;
                Ok(EntryOut {
                    seq: r.seq,
                    prev_hash: &r.prev_hash,
                    hash: &r.hash,
                    entry,
                    totals: r.totals,
                    donor: donor_shown(r, &self.names),
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        serde_json::to_string(&Out {
            campaign_id: self.campaign_id,
            province: &self.province,
            after: self.after,
            entries,
            next_after: self.next_after,
            provinces: &self.provinces,
        })
        .map_err(|e| AppError::internal("disclosure", e))
    }
}

/// A page of a campaign's feed (`province` default: the only or first chain), at most
/// [`FEED_PAGE`] entries after `after`.
pub async fn feed(
    state: &AppState,
    campaign_id: i64,
    province_opt: Option<&str>,
    after: i64,
    limit: i64,
) -> AppResult<FeedPage> {
    let (_, _, region, ..) = queries::public_campaign(state, campaign_id).await?;
    let tips = queries::tips(state, campaign_id).await?;
    let provinces: Vec<String> = tips.iter().map(|t| t.province.clone()).collect();
    let prov = match province_opt.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) if p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()) => p.to_string(),
        Some(_) => {
            return Err(AppError::field(
                ErrorCode::Validation,
                "province",
                "省份应为两位数字代码",
            ));
        }
        None => provinces
            .first()
            .cloned()
            .unwrap_or_else(|| province(&region)),
    };
    let limit = limit.clamp(1, FEED_PAGE);
    let mut rows = queries::feed(state, &prov, campaign_id, after.max(0), limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let names = donor_names(state, &rows).await?;
    Ok(FeedPage {
        campaign_id,
        province: prov,
        after: after.max(0),
        next_after: more.then(|| rows.last().map_or(after, |r| r.seq)),
        rows,
        names,
        provinces,
    })
}
