//! Assistance policy that a parent deployment owns and sends down a federation link (issue 20
//! item 3, ADR 0015): the standards money is computed from and the emergency periods with their
//! measures. At the parent, [`owned_since`] lists what concerns a node's region (set at the
//! region, above it or inside it) changed at or after a time; at the child, [`take`] makes each
//! the parent's own here — marked `origin = 'parent'`, in force from its own dates through the
//! same lookups as a local one ([`super::standards::in_force`], [`super::emergency::in_force`]),
//! and refused to local edits ([`refuse_parent_owned`]).
//!
//! A standard is immutable, so taking one twice is a no-op; one set here with the same region,
//! programme, area, component and date is replaced by the parent's amount (the province's
//! standard rules), with the before and after in the audit entry. A period is matched by the
//! parent's id (`origin_id`); its later changes and its end come down the same way, and ending
//! releases the exits it held here exactly as a local end does.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// A standard as it goes down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnedStandard {
    pub region_code: String,
    pub programme: String,
    pub area_kind: String,
    pub component: String,
    pub amount_fen: i64,
    pub effective_from: String,
    pub created_by: String,
    /// The parent's time (ms).
    pub created_at: i64,
}

/// An emergency period as it goes down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnedPeriod {
    /// The parent's id.
    pub id: i64,
    pub region_code: String,
    pub name: String,
    pub starts_on: String,
    pub ends_on: String,
    /// Comma list of measure keys.
    pub measures: String,
    /// `declared` or `ended`.
    pub status: String,
    pub declared_by: String,
    pub ended_by: Option<String>,
    /// The parent's time of the last change (ms).
    pub updated_at: i64,
}

/// What `GET /api/v1/federation/assistance` answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnedPolicy {
    pub standards: Vec<OwnedStandard>,
    pub emergencies: Vec<OwnedPeriod>,
}

impl OwnedPolicy {
    /// The latest parent time in the answer (the child's next cursor), else `since`.
    pub fn until(&self, since: i64) -> i64 {
        let s = self.standards.iter().map(|s| s.created_at);
        let e = self.emergencies.iter().map(|e| e.updated_at);
        s.chain(e).fold(since, i64::max)
    }
}

/// The standards and periods set here at, above or inside the node's region and changed at or
/// after `since` (ms), oldest first. `node` is the node's service account (the caller has
/// authenticated the credential): its scope is the node's region.
pub async fn owned_since(state: &AppState, node: &Actor, since: i64) -> AppResult<OwnedPolicy> {
    let scope = node.everywhere();
    let above = scope.above();
    Ok(OwnedPolicy {
        standards: queries::standards_since(state, &scope, &above, since).await?,
        emergencies: queries::periods_since(state, &scope, &above, since).await?,
    })
}

/// What one take changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Taken {
    pub standards: usize,
    pub emergencies: usize,
}

/// Take the parent's policy (the federation sync, as the system); each row that changes
/// anything is one transaction with its audit entry.
pub async fn take(state: &AppState, policy: &OwnedPolicy) -> AppResult<Taken> {
    let mut taken = Taken::default();
    for s in &policy.standards {
        let had = queries::standard_at(state, s).await?;
        if had.as_ref().is_some_and(|(_, amount, origin)| {
            *amount == s.amount_fen && origin.as_str() == "parent"
        }) {
            continue;
        }
        let mut tx = Tx::begin_as(state, crate::audit::Who::system("federation")).await?;
        let (id, before) = match had {
            Some((id, amount, _)) => {
                queries::standard_to_parent(&mut tx, id, s.amount_fen).await?;
                (id, Some(amount))
            }
            None => (queries::insert_parent_standard(&mut tx, s).await?, None),
        };
        tx.commit(
            Change::new(
                "assistance.standard_from_parent",
                "assistance_standard",
                id,
                &s.region_code,
            )
            .detail(json!({"programme": s.programme, "area_kind": s.area_kind,
                "component": s.component, "effective_from": s.effective_from,
                "amount_fen": {"before": before, "after": s.amount_fen}})),
        )
        .await?;
        taken.standards += 1;
    }
    for p in &policy.emergencies {
        let had = queries::period_from_parent(state, p.id).await?;
        let same = had.as_ref().is_some_and(|h| {
            (&h.name, &h.starts_on, &h.ends_on, &h.measures, &h.status)
                == (&p.name, &p.starts_on, &p.ends_on, &p.measures, &p.status)
        });
        if same {
            continue;
        }
        let mut tx = Tx::begin_as(state, crate::audit::Who::system("federation")).await?;
        let id = match &had {
            Some(h) => {
                queries::update_parent_period(&mut tx, h.id, p).await?;
                h.id
            }
            None => queries::insert_parent_period(&mut tx, p).await?,
        };
        let was_declared = had.as_ref().is_none_or(|h| h.status == "declared");
        let released = if p.status == "ended" && was_declared {
            queries::release_held(&mut tx, id).await?
        } else {
            0
        };
        tx.commit(
            Change::new(
                "assistance.emergency_from_parent",
                "assistance_emergency",
                id,
                &p.region_code,
            )
            .detail(json!({"parent_id": p.id, "name": p.name, "starts_on": p.starts_on,
                "ends_on": p.ends_on, "exits_released": released,
                "measures": {"before": had.as_ref().map(|h| h.measures.clone()), "after": p.measures},
                "status": {"before": had.as_ref().map(|h| h.status.clone()), "after": p.status}})),
        )
        .await?;
        taken.emergencies += 1;
    }
    Ok(taken)
}

/// Refuse a local change to what the parent deployment owns (409).
pub(super) fn refuse_parent_owned(origin: &str, what: &str) -> AppResult<()> {
    if origin == "parent" {
        return Err(AppError::parent_owned(what));
    }
    Ok(())
}
