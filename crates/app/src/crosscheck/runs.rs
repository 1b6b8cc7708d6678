//! A run of the cross-checks: find every conflict whose persons lie in the region run over,
//! store them idempotently by fingerprint (new ones open, cleared ones found again reopen,
//! resolved ones stay resolved), clear the open ones no longer found, and record the run with
//! its counts — one write transaction, audited.

use std::collections::HashSet;

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde_json::json;

use super::{LastRun, RunReport, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::extract::region_param;
use crate::state::AppState;

/// Run the cross-checks over `region` (a region code; default the caller's scope). For the
/// CLI, which passes the code as typed: a code that is not one is *not found*.
pub async fn run(state: &AppState, actor: &Actor, region: Option<&str>) -> AppResult<RunReport> {
    actor.require(Permission::CrosschecksManage)?;
    run_in(state, actor, region_param(region)?.as_ref()).await
}

/// Run the cross-checks over `region` (default the caller's scope) and store what they find
/// (see the module doc). One write transaction, audited with the counts.
pub async fn run_in(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<RunReport> {
    actor.require(Permission::CrosschecksManage)?;
    let scope = actor.within_opt(region)?;
    let label = scope.node().as_str().to_string();
    if region.is_some() && crate::regions::find(state, &label).await?.is_none() {
        return Err(AppError::field(
            ErrorCode::UnknownRegion,
            "region",
            "区划代码不存在",
        ));
    }
    let today = state.today().format("%Y-%m-%d").to_string();
    let mut tx = Tx::begin(state, actor).await?;
    queries::lock_runs(&mut tx, state.db.backend()).await?;
    let found = queries::find_all(&mut tx, &state.keys, &scope, &today).await?;
    let (mut created, mut reopened) = (0i64, 0i64);
    let mut seen: HashSet<i64> = HashSet::new();
    for f in &found {
        let fp = f.fingerprint(&state.keys);
        let region = f.region();
        // The facts name care categories: sealed like the categories themselves.
        let detail = crate::privacy::seal(&state.keys, &f.detail.to_string());
        match queries::by_fingerprint(&mut tx, &fp).await? {
            None => {
                let id = queries::insert_conflict(&mut tx, f, &fp, &region, &detail).await?;
                created += 1;
                seen.insert(id);
            }
            Some((id, status)) => {
                let new_status = if status == "cleared" {
                    reopened += 1;
                    "open".to_string()
                } else {
                    status
                };
                queries::seen_again(&mut tx, id, &new_status, &region, &detail).await?;
                seen.insert(id);
            }
        }
    }
    let open_before = queries::open_ids(&mut tx, &scope).await?;
    let mut cleared = 0i64;
    for id in open_before.iter().filter(|id| !seen.contains(id)) {
        queries::clear(&mut tx, *id).await?;
        cleared += 1;
    }
    // `open_before` was read after the upserts: it holds the new and reopened ones.
    let open = open_before.len() as i64 - cleared;
    let report = RunReport {
        region: label.clone(),
        found: found.len() as i64,
        created,
        reopened,
        cleared,
        open,
    };
    queries::insert_run(&mut tx, &label, &actor.username, &report).await?;
    tx.commit(
        Change::new("crosscheck.run", "crosscheck_run", &label, label.clone()).detail(
            json!({"found": report.found, "created": created, "reopened": reopened,
                   "cleared": cleared, "open": open}),
        ),
    )
    .await?;
    Ok(report)
}

/// The last run over the caller's scope or a region inside it.
pub async fn last_run(state: &AppState, actor: &Actor) -> AppResult<Option<LastRun>> {
    actor.require(Permission::CrosschecksManage)?;
    queries::last_run(state, &actor.everywhere()).await
}
