//! Closed management (封闭管理) of an institution: beginning and lifting it, with the history
//! of every period kept. A period in force has no end date; at most one is in force.

use backstop_core::error::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{InstitutionDetail, get, load_for_write, queries};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// One period of closed management.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Closure {
    pub id: i64,
    pub start_date: String,
    /// None while in force.
    pub end_date: Option<String>,
    pub note: String,
    pub started_by: String,
    pub ended_by: Option<String>,
}

/// Body of `POST /api/v1/institutions/{id}/closure`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ClosureInput {
    /// `start` (begin closed management) or `end` (lift it).
    pub action: String,
    /// `YYYY-MM-DD`; default today.
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// Begin or lift closed management; the history is kept.
pub async fn set_closure(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &ClosureInput,
) -> AppResult<InstitutionDetail> {
    let scope = actor.everywhere();
    let org = load_for_write(state, &scope, id).await?;
    let date = super::day_param("date", input.date.as_deref())
        .and_then(|d| super::day_or_today(state, "date", d))?;
    let date = super::ymd(date);
    let note = text_field("note", &input.note, 500, false)?;
    let mut tx = Tx::begin(state, actor).await?;
    let current = queries::closure_in_force(&mut tx, org.id).await?;
    let (action, object_id, detail) = match input.action.trim() {
        "start" => {
            if current.is_some() {
                return Err(AppError::msg(ErrorCode::Conflict, "该机构已处于封闭管理中"));
            }
            let cid = queries::start_closure(&mut tx, &org, &date, &note, &actor.username).await?;
            (
                "institution.closure_start",
                cid,
                json!({"closed": {"before": false, "after": true}, "start_date": {"before": null, "after": date}, "note": {"before": null, "after": note}}),
            )
        }
        "end" => {
            let Some((cid, start)) = current else {
                return Err(AppError::msg(ErrorCode::Conflict, "该机构未处于封闭管理中"));
            };
            if date < start {
                return Err(AppError::field(
                    ErrorCode::Validation,
                    "date",
                    "解除日期不能早于开始日期",
                ));
            }
            queries::end_closure(&mut tx, cid, &date, &actor.username).await?;
            (
                "institution.closure_end",
                cid,
                json!({"closed": {"before": true, "after": false}, "end_date": {"before": null, "after": date}}),
            )
        }
        _ => {
            return Err(AppError::field(
                ErrorCode::Validation,
                "action",
                "应为 start 或 end",
            ));
        }
    };
    tx.commit(
        Change::new(action, "institution_closure", object_id, &org.region_code)
            .detail(json!({"org_id": org.id, "changes": detail})),
    )
    .await?;
    get(state, actor, id).await
}
