//! Shortage requests (物资短缺申请): an institution raises one; it shows at every level above
//! the institution; the county level (or above) answers it; the institution, or whoever may
//! answer, closes it.

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Item, county_or_above, load_for_write, may_write, queries};
use crate::kernel::access::{Change, Tx, text_len};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// A shortage request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Shortage {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub region_code: String,
    pub item: String,
    pub item_label: String,
    pub quantity: i64,
    pub unit: String,
    pub note: String,
    /// `open`, `answered` or `closed`.
    pub status: String,
    pub answer: String,
    pub answered_by: Option<String>,
    pub answered_at: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

/// Body of `POST /api/v1/institutions/{id}/shortages`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ShortageInput {
    pub item: String,
    /// How much is needed.
    pub quantity: i64,
    #[serde(default)]
    pub note: String,
}

/// Body of `POST /api/v1/shortages/{id}/answer`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AnswerInput {
    pub answer: String,
}

/// Raise a shortage request; it shows at every level above the institution.
pub async fn create_shortage(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &ShortageInput,
) -> AppResult<Shortage> {
    let org = load_for_write(state, &actor.everywhere(), id).await?;
    let item = Item::parse(&input.item)
        .ok_or_else(|| AppError::field(ErrorCode::Validation, "item", "未知的物资类别"))?;
    if !(1..=100_000_000).contains(&input.quantity) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "quantity",
            "数量应在 1–100000000 之间",
        ));
    }
    let note = text_field("note", &input.note, 500, false)?;
    let mut tx = Tx::begin(state, actor).await?;
    let new = queries::NewShortage {
        item: item.as_str(),
        quantity: input.quantity,
        note: &note,
        by: &actor.username,
    };
    let sid = queries::insert_shortage(&mut tx, &org, &new).await?;
    tx.commit(
        Change::new("shortage.create", "shortage", sid, &org.region_code).detail(
            json!({"org_id": org.id, "item": {"before": null, "after": item.as_str()},
                "quantity": {"before": null, "after": input.quantity}, "status": {"before": null, "after": "open"}}),
        ),
    )
    .await?;
    get_shortage(state, actor, sid).await
}

/// Shortage requests in the actor's scope, newest first; optionally one status or institution.
pub async fn list_shortages(
    state: &AppState,
    actor: &Actor,
    status: Option<&str>,
    org_id: Option<i64>,
) -> AppResult<Vec<Shortage>> {
    actor.require(Permission::ReportsRead)?;
    let status = super::status_filter(
        status,
        &["open", "answered", "closed"],
        "应为 open、answered 或 closed",
    )?;
    queries::shortages(state, &actor.everywhere(), status, org_id).await
}

/// One shortage request in scope.
pub async fn get_shortage(state: &AppState, actor: &Actor, id: i64) -> AppResult<Shortage> {
    actor.require(Permission::ReportsRead)?;
    queries::shortage(state, &actor.everywhere(), id).await
}

/// May the actor answer shortage requests (county level or above, `ReportsManage`)?
pub fn may_answer(actor: &Actor) -> bool {
    actor.can(Permission::ReportsManage) && county_or_above(actor)
}

/// Answer a shortage request (county level or above).
pub async fn answer_shortage(
    state: &AppState,
    actor: &Actor,
    id: i64,
    answer: &str,
) -> AppResult<Shortage> {
    let s = get_shortage(state, actor, id).await?;
    if !may_answer(actor) {
        return Err(AppError::msg(
            ErrorCode::Forbidden,
            "物资短缺须由县级及以上民政部门答复",
        ));
    }
    if s.status == "closed" {
        return Err(AppError::msg(ErrorCode::Conflict, "该申请已关闭"));
    }
    let answer = text_field("answer", answer, 1000, true)?;
    let mut tx = Tx::begin(state, actor).await?;
    queries::answer_shortage(&mut tx, id, &answer, &actor.username).await?;
    tx.commit(
        Change::new("shortage.answer", "shortage", id, &s.region_code).detail(
            json!({"status": {"before": s.status, "after": "answered"}, "answer": {"before": text_len(&s.answer), "after": text_len(&answer)}}),
        ),
    )
    .await?;
    get_shortage(state, actor, id).await
}

/// Close a shortage request (the institution, or whoever may answer it).
pub async fn close_shortage(state: &AppState, actor: &Actor, id: i64) -> AppResult<Shortage> {
    let s = get_shortage(state, actor, id).await?;
    if !(may_answer(actor) || may_write(actor, s.org_id)) {
        return Err(AppError::forbidden());
    }
    if s.status == "closed" {
        return Err(AppError::msg(ErrorCode::Conflict, "该申请已关闭"));
    }
    let mut tx = Tx::begin(state, actor).await?;
    queries::close_shortage(&mut tx, id).await?;
    tx.commit(
        Change::new("shortage.close", "shortage", id, &s.region_code)
            .detail(json!({"status": {"before": s.status, "after": "closed"}})),
    )
    .await?;
    get_shortage(state, actor, id).await
}
