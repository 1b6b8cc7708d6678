//! Locks: the level above the units (township or higher) closes a period for a region, after
//! which units at or below it can no longer correct (the submission's look-up reads the lock).

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionLevel, Scope};
use backstop_core::role::Permission;
use serde_json::json;

use super::periods::parse_period;
use super::{load_form, queries};
use crate::kernel::access::{Change, Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Lock a period for the handle's region: units at or below it can no longer correct.
pub async fn lock(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
) -> AppResult<()> {
    let actor = scope.actor();
    actor.require(Permission::ReportsRead)?;
    let form = load_form(state, template, None)
        .await?
        .ok_or_else(AppError::not_found)?;
    let village = |s: &Scope| matches!(s, Scope::Region(c) if c.level() == RegionLevel::Village);
    let at_or_below_village =
        matches!(&actor.scope, Scope::Region(c) if c.level() >= RegionLevel::Village);
    if village(scope.node()) || at_or_below_village {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "锁定由上一级（乡镇及以上）进行",
        ));
    }
    let (period, _) = parse_period(form.period, period, state.today())
        .map_err(|m| AppError::field(ErrorCode::Validation, "period", m))?;
    let mut tx = Tx::begin(state, actor).await?;
    queries::insert_lock(&mut tx, scope, &form.key, &period).await?;
    tx.commit(
        Change::new(
            "report.lock",
            "report_period",
            format!("{}/{}", form.key, period),
            scope.node().as_str(),
        )
        .detail(json!({})),
    )
    .await
}
