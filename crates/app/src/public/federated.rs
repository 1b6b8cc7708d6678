//! Public information pages across a federation link (issue 20 item 3, ADR 0015): what a parent
//! deployment publishes for the node's region, the regions above it and those inside it comes
//! down ([`owned_since`] at the parent, [`take`] at the child), is shown on the child's public
//! pages like its own (a village shows the nearest region's text), and cannot be edited at the
//! child ([`super::staff::set_info`] refuses it, 409).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::PublicInfo;
use super::queries;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// A region's texts as they go down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnedInfo {
    pub region_code: String,
    pub hotlines: String,
    pub visiting: String,
    pub assistance: String,
    pub updated_by: String,
    /// The parent's time (ms): the child's next cursor.
    pub updated_at: i64,
}

/// The texts at, above or inside the node's region written at or after `since` (ms); `node`
/// is the node's service account (the caller authenticated the credential).
pub async fn owned_since(state: &AppState, node: &Actor, since: i64) -> AppResult<Vec<OwnedInfo>> {
    let scope = node.everywhere();
    let above = scope.above();
    Ok(queries::infos_since(state, &scope, &above, since)
        .await?
        .into_iter()
        .map(|r| OwnedInfo {
            region_code: r.info.region_code,
            hotlines: r.info.hotlines,
            visiting: r.info.visiting,
            assistance: r.info.assistance,
            updated_by: r.updated_by,
            updated_at: r.updated_at,
        })
        .collect())
}

/// Take the parent's texts (the federation sync, as the system): each one that changes
/// anything is one transaction with its audit entry. Returns how many changed.
pub async fn take(state: &AppState, rows: &[OwnedInfo]) -> AppResult<usize> {
    let mut taken = 0;
    for o in rows {
        let info = PublicInfo {
            region_code: o.region_code.clone(),
            hotlines: o.hotlines.clone(),
            visiting: o.visiting.clone(),
            assistance: o.assistance.clone(),
        };
        let had = queries::info_with_origin(state, &o.region_code).await?;
        if had
            .as_ref()
            .is_some_and(|h| h.origin == "parent" && h.info == info)
        {
            continue;
        }
        let system = crate::audit::Who::system("federation");
        let mut tx = Tx::begin_as(state, system).await?;
        queries::put_info(&mut tx, &info, &o.updated_by, "parent").await?;
        tx.commit(
            Change::new(
                "public.info_from_parent",
                "region",
                &o.region_code,
                &o.region_code,
            )
            .detail(json!({"updated_by": o.updated_by,
                    "before": had.map(|h| json!({"hotlines": h.info.hotlines,
                        "visiting": h.info.visiting, "assistance": h.info.assistance})),
                    "after": {"hotlines": o.hotlines, "visiting": o.visiting,
                        "assistance": o.assistance}})),
        )
        .await?;
        taken += 1;
    }
    Ok(taken)
}
