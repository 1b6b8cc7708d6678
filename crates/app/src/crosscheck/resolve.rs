//! Resolving a conflict: an open conflict visible to the caller is marked resolved with a
//! required note (2 to 500 characters), audited with who, when and the note.

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde_json::json;

use super::{Conflict, get, queries, status_label, verr};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Resolve an open conflict with a note (audited: who, when, note). A conflict already
/// resolved or cleared answers 409.
pub async fn resolve(state: &AppState, actor: &Actor, id: i64, note: &str) -> AppResult<Conflict> {
    actor.require(Permission::CrosschecksManage)?;
    let note = note.trim();
    let scope = actor.everywhere();
    let mut tx = Tx::begin(state, actor).await?;
    let (kind, status, region) = queries::conflict_for_update(&mut tx, &scope, id).await?;
    if note.chars().count() < 2 {
        return Err(verr("note", "处理说明", "请填写处理说明"));
    }
    if note.chars().count() > 500 {
        return Err(verr("note", "处理说明", "不能超过 500 个字"));
    }
    if status != "open" {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!("该冲突{}，无需再处理", status_label(&status)),
        ));
    }
    queries::set_resolved(&mut tx, id, &actor.username, note).await?;
    let region = if region.is_empty() {
        "0".to_string()
    } else {
        region
    };
    tx.commit(
        Change::new("crosscheck.resolve", "crosscheck", id, region)
            .detail(json!({"kind": kind, "status": {"before": "open", "after": "resolved"}}))
            .free_text("note", note),
    )
    .await?;
    get(state, actor, id).await
}
