//! Screening campaigns across a federation link (issue 20, ADR 0015) — the "four full
//! coverages" a province asks of its counties.
//!
//! Down: at the parent, [`owned_since`] lists the campaigns that concern a node's region
//! (opened at it, above it or inside it) opened at or after a time; at the child, [`take`]
//! opens each here as the parent's (`origin = 'parent'`, the parent's id kept; a campaign is
//! never edited, so taking one twice is a no-op), and the child's workers visit households
//! against it as against any campaign. Up: the coverage of each parent campaign still running,
//! or ended within [`REPORT_AFTER_END_DAYS`] (late visits still count), goes up as figures of
//! kind [`COVERAGE_KIND`] under the parent's id — households on the roll and reached, per
//! village, and those kept above the villages ([`node_lines`]); the parent's
//! [`super::coverage`] adds them to its own counts. Only counts go up, no household.

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::coverage::coverage_of;
use super::queries;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// The kind of the coverage figures a child deployment sends up; the period is the parent's
/// campaign id.
pub const COVERAGE_KIND: &str = "coverage";

/// A campaign's coverage keeps going up this many days after it ends.
pub const REPORT_AFTER_END_DAYS: i64 = 30;

/// A campaign as it goes down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnedCampaign {
    /// The parent's id.
    pub id: i64,
    pub region_code: String,
    pub name: String,
    pub purpose: String,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    pub ends_on: String,
    /// Ask for history, symptoms, temperature.
    pub ask: [bool; 3],
    pub created_by: String,
    /// The parent's time (ms).
    pub created_at: i64,
}

/// The campaigns at, above or inside the node's region opened at or after `since` (ms), oldest
/// first. `node` is the node's service account (its scope is the node's region).
pub async fn owned_since(
    state: &AppState,
    node: &Actor,
    since: i64,
) -> AppResult<Vec<OwnedCampaign>> {
    queries::campaigns_since(state, &node.everywhere(), since).await
}

/// Take the parent's campaigns (the federation sync, as the system): each new one is one
/// transaction with its audit entry. Returns how many were new.
pub async fn take(state: &AppState, rows: &[OwnedCampaign]) -> AppResult<usize> {
    let mut taken = 0;
    for c in rows {
        if queries::campaign_from_parent(state, c.id).await?.is_some() {
            continue;
        }
        if crate::regions::find(state, &c.region_code).await?.is_none() {
            return Err(AppError::field(
                ErrorCode::UnknownRegion,
                "region_code",
                format!("上级部署的摸排活动「{}」的区划代码本地不存在", c.name),
            ));
        }
        let mut tx = Tx::begin_as(state, crate::audit::Who::system("federation")).await?;
        let id = queries::insert_parent_campaign(&mut tx, c).await?;
        tx.commit(
            Change::new(
                "screening.campaign_from_parent",
                "screening_campaign",
                id,
                &c.region_code,
            )
            .detail(
                json!({"parent_id": c.id, "name": c.name, "starts_on": c.starts_on,
                "ends_on": c.ends_on, "created_by": c.created_by}),
            ),
        )
        .await?;
        taken += 1;
    }
    Ok(taken)
}

/// One line of a campaign's coverage a child sends up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageLine {
    pub region_code: String,
    /// Households kept at this region itself rather than in a village below it.
    pub own_level: bool,
    pub households: i64,
    pub reached: i64,
}

/// For each parent campaign whose coverage still goes up, the parent's id (the figures'
/// period) and its lines inside the node's `region` (the system reads).
pub async fn node_lines(
    state: &AppState,
    region: &RegionCode,
) -> AppResult<Vec<(String, Vec<CoverageLine>)>> {
    let since = (state.today() - Duration::days(REPORT_AFTER_END_DAYS))
        .format("%Y-%m-%d")
        .to_string();
    let mut out = Vec::new();
    for (id, origin_id, camp) in queries::parent_campaigns_open(state, &since).await? {
        let Ok(camp) = RegionCode::parse(&camp) else {
            continue;
        };
        let start = if camp.contains(region) {
            region.clone()
        } else if region.contains(&camp) {
            camp
        } else {
            continue;
        };
        out.push((origin_id.to_string(), lines_of(state, id, &start).await?));
    }
    Ok(out)
}

/// The finest lines of campaign `id` (here) under `start`: per village, and what is kept above.
async fn lines_of(state: &AppState, id: i64, start: &RegionCode) -> AppResult<Vec<CoverageLine>> {
    let system = Actor::operator();
    let mut out = Vec::new();
    let mut todo = vec![start.clone()];
    while let Some(code) = todo.pop() {
        let c = coverage_of(state, &system.within(&code)?, id).await?;
        let below = c
            .children
            .iter()
            .fold((0, 0), |(h, r), k| (h + k.households, r + k.reached));
        if (c.households, c.reached) != below {
            out.push(CoverageLine {
                region_code: code.to_string(),
                own_level: true,
                households: c.households - below.0,
                reached: c.reached - below.1,
            });
        }
        for k in c.children {
            if k.households == 0 && k.reached == 0 {
                continue;
            }
            match RegionCode::parse(&k.code) {
                Ok(r) if r.level() < RegionLevel::Village => todo.push(r),
                _ => out.push(CoverageLine {
                    region_code: k.code,
                    own_level: false,
                    households: k.households,
                    reached: k.reached,
                }),
            }
        }
    }
    out.sort_by(|a, b| a.region_code.cmp(&b.region_code));
    Ok(out)
}

/// At the parent: a coverage snapshot's period must name a campaign here that overlaps the
/// node's region (else the event is rejected as *not found*).
pub async fn check_period(state: &AppState, node: &Actor, period: &str) -> AppResult<()> {
    let id: i64 = period.parse().map_err(|_| AppError::not_found())?;
    queries::campaign(state, &node.everywhere(), id).await?;
    Ok(())
}
