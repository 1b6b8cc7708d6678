//! Correcting and disabling a gate (issue 14, item 5): renamed in place, or disabled instead
//! of deleted (its entries and alerts point to it). A disabled gate takes no entries and is
//! marked in the lists; it is enabled again the same way. Who may do either is who may set the
//! gate up (`gates::gate_for_write`); each change is one audited transaction whose entry
//! carries before → after.

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::Deserialize;
use serde_json::json;

use super::gates::{Gate, gate_for_write};
use super::{ferr, get_gate, queries, text};
use crate::audit::diff;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// Body of `PATCH /api/v1/gates/{id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct GatePatch {
    /// The new name, e.g. 东门卡口.
    pub name: Option<String>,
}

/// Rename a gate (unique at its place).
pub async fn update_gate(
    state: &AppState,
    actor: &Actor,
    id: i64,
    patch: &GatePatch,
) -> AppResult<Gate> {
    actor.require(Permission::ReportsSubmit)?;
    let gate = gate_for_write(state, actor, id).await?;
    let Some(name) = &patch.name else {
        return Ok(gate);
    };
    let name = text("gate_name", name, 50, true)?;
    if name == gate.name {
        return Ok(gate);
    }
    let mut tx = Tx::begin(state, actor).await?;
    if queries::gate_named(&mut tx, &gate.region_code, gate.org_id, &name).await? {
        return Err(ferr(ErrorCode::Conflict, "gate_name", "该处已有同名卡口"));
    }
    queries::rename_gate(&mut tx, id, &name).await?;
    tx.commit(
        Change::new("gate.update", "gate", id, &gate.region_code).detail(diff(&[(
            "name",
            json!(gate.name),
            json!(name),
        )])),
    )
    .await?;
    get_gate(state, actor, id).await
}

/// Disable (`true`) or enable (`false`) a gate. Doing what is already done changes nothing.
pub async fn set_gate_disabled(
    state: &AppState,
    actor: &Actor,
    id: i64,
    disabled: bool,
) -> AppResult<Gate> {
    actor.require(Permission::ReportsSubmit)?;
    let gate = gate_for_write(state, actor, id).await?;
    if gate.disabled == disabled {
        return Ok(gate);
    }
    let mut tx = Tx::begin(state, actor).await?;
    queries::set_gate_disabled(&mut tx, id, disabled).await?;
    let action = if disabled {
        "gate.disable"
    } else {
        "gate.enable"
    };
    tx.commit(
        Change::new(action, "gate", id, &gate.region_code).detail(diff(&[(
            "disabled",
            json!(gate.disabled),
            json!(disabled),
        )])),
    )
    .await?;
    get_gate(state, actor, id).await
}
