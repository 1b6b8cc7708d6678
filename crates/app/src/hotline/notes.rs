//! Confidential counselling notes (保密, issue 17 item 4).
//!
//! A note on a call is sealed at rest (`hotline_notes.body_enc`, never clear). It is readable
//! only by its writer, the line's supervisors (`hotline.supervise` with the line's region in
//! scope) and the assignee of a referral of the call (the user who accepted it). Everyone else
//! gets *not found*, and the attempt is audited (`hotline.note_denied`); every successful view
//! is audited with its reason (`hotline.note_view`: who, when, why). Lists and exports show
//! how many notes a call has, never a note.

use backstop_core::error::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{queries, staff_only, supervises, text_field};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Body of `POST /api/v1/hotline/calls/{id}/notes`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewNote {
    pub text: String,
}

/// Body of `POST /api/v1/hotline/notes/{id}/view`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ViewInput {
    /// Why the note is read (audited).
    pub reason: String,
}

/// A note as written (answer to its writer) or opened for a reader.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Note {
    pub id: i64,
    pub call_id: i64,
    pub written_by: String,
    pub created_at: String,
    pub text: String,
}

/// A note listed without its text.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NoteRef {
    pub id: i64,
    pub written_by: String,
    pub created_at: String,
}

/// A note's facts without its text (who may read it is decided from these).
#[derive(Debug, Clone)]
pub(crate) struct NoteMeta {
    pub id: i64,
    pub call_id: i64,
    pub region_code: String,
    pub written_by: String,
    pub written_by_id: Option<i64>,
    pub created_at: i64,
}

/// Write a note on a call (hotline.answer or hotline.supervise, in scope of the call's line).
pub async fn add(
    state: &AppState,
    actor: &Actor,
    call_id: i64,
    input: &NewNote,
) -> AppResult<Note> {
    staff_only(actor)?;
    let c = super::call(state, actor, call_id).await?;
    let text = text_field("text", &input.text, 8000, true)?;
    let enc = crate::privacy::seal(&state.keys, &text);
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_note(&mut tx, &c, &enc, actor).await?;
    // The audit entry says a note was written, never what it says.
    tx.commit(
        Change::new("hotline.note_create", "hotline_note", id, &c.region_code)
            .detail(json!({"call_id": c.id}))
            .free_text("text", &text),
    )
    .await?;
    Ok(Note {
        id,
        call_id: c.id,
        written_by: actor.username.clone(),
        created_at: backstop_core::clock::rfc3339(state.now_ms()),
        text,
    })
}

/// May the actor read the note? Its writer, the line's supervisors, a referral's assignee.
async fn entitled(state: &AppState, actor: &Actor, n: &NoteMeta) -> AppResult<bool> {
    if actor.user_id.is_some() && actor.user_id == n.written_by_id {
        return Ok(true);
    }
    if supervises(actor, &n.region_code) {
        return Ok(true);
    }
    match actor.user_id {
        Some(uid) => queries::is_assignee(state, n.call_id, uid).await,
        None => Ok(false),
    }
}

/// Audit a refused attempt to read a note (its own transaction), then answer *not found*.
async fn refuse(state: &AppState, actor: &Actor, id: i64, region: &str, reason: &str) -> AppError {
    let change = Change::new("hotline.note_denied", "hotline_note", id, region)
        .detail(json!({"reason": reason}))
        .failed();
    match Tx::begin(state, actor).await {
        Ok(tx) => {
            if let Err(e) = tx.commit(change).await {
                return e;
            }
        }
        Err(e) => return e,
    }
    AppError::not_found()
}

/// Open a note for reading, with the reason (required). Not entitled: *not found*, audited.
pub async fn view(state: &AppState, actor: &Actor, id: i64, input: &ViewInput) -> AppResult<Note> {
    let reason = input.reason.trim();
    let Some(meta) = queries::note_meta(state, id).await? else {
        return Err(AppError::not_found());
    };
    if !entitled(state, actor, &meta).await? {
        return Err(refuse(state, actor, id, &meta.region_code, reason).await);
    }
    if reason.is_empty() {
        return Err(AppError::field(
            ErrorCode::ReasonRequired,
            "reason",
            "请填写查看记录的事由",
        ));
    }
    let reason = text_field("reason", reason, 200, true)?;
    let text = queries::note_text(state, id).await?;
    let tx = Tx::begin(state, actor).await?;
    tx.commit(
        Change::new("hotline.note_view", "hotline_note", id, &meta.region_code)
            .detail(json!({"call_id": meta.call_id, "reason": reason})),
    )
    .await?;
    Ok(Note {
        id: meta.id,
        call_id: meta.call_id,
        written_by: meta.written_by,
        created_at: backstop_core::clock::rfc3339(meta.created_at),
        text,
    })
}

/// The notes of a call without their text (id, writer, time) for a reader of the call — or for
/// the assignee of an accepted referral of it, who reads no call but may open its notes — so
/// the page can offer "查看记录"; the text is only ever opened by [`view`].
pub async fn list(state: &AppState, actor: &Actor, call_id: i64) -> AppResult<Vec<NoteRef>> {
    let metas = match super::call(state, actor, call_id).await {
        Ok(c) => queries::notes_of(state, &actor.everywhere(), c.id).await?,
        Err(e) => match actor.user_id {
            Some(uid) if queries::is_assignee(state, call_id, uid).await? => {
                queries::notes_assigned(state, call_id, uid).await?
            }
            _ => return Err(e),
        },
    };
    Ok(metas
        .into_iter()
        .map(|n| NoteRef {
            id: n.id,
            written_by: n.written_by,
            created_at: backstop_core::clock::rfc3339(n.created_at),
        })
        .collect())
}

/// The notes of a referral's call without their text, for a reader of the referral (its
/// page): what [`list`] gives a reader of the call or an assignee of a referral of it; nothing
/// for the others (the receiving organisation before it accepts). A referral the actor may
/// not read is *not found*.
pub async fn of_referral(
    state: &AppState,
    actor: &Actor,
    referral_id: i64,
) -> AppResult<(super::Referral, Vec<NoteRef>)> {
    let r = super::referrals::referral(state, actor, referral_id).await?;
    match list(state, actor, r.call_id).await {
        Ok(notes) => Ok((r, notes)),
        Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => Ok((r, Vec::new())),
        Err(e) => Err(e),
    }
}

/// Open a note of a referral's call from the referral's page: the referral must be readable
/// and the note one of its call's; then the rule of [`view`] (its writer, the line's
/// supervisors, the referral's assignee), each view audited with its reason. Anyone else gets
/// *not found*, and the attempt on an existing note is audited (`hotline.note_denied`).
pub async fn view_for_referral(
    state: &AppState,
    actor: &Actor,
    referral_id: i64,
    id: i64,
    input: &ViewInput,
) -> AppResult<Note> {
    let Some(meta) = queries::note_meta(state, id).await? else {
        return Err(AppError::not_found());
    };
    let of_referral = match super::referrals::referral(state, actor, referral_id).await {
        Ok(r) => r.call_id == meta.call_id,
        Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => false,
        Err(e) => return Err(e),
    };
    if !of_referral {
        return Err(refuse(state, actor, id, &meta.region_code, input.reason.trim()).await);
    }
    view(state, actor, id, input).await
}
