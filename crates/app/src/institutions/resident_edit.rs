//! Correcting and disabling an institution's residents (issue 14, item 5): a resident's name
//! and room are corrected in place; one who has left is disabled (停用, `active = 0`) rather
//! than deleted — the temperature rounds point to them — and drops out of the rounds; enabled
//! again the same way. Who may: the institution's writers (`load_for_write`). The audit entry
//! carries before → after with the name masked (residents of a children's home are children).
//! Pages: the residents page `/institutions/{id}/residents` (all, disabled ones marked) and
//! one resident's page with its edit form and 停用/启用 button.

use askama::Template;
use axum::extract::{Form, Path};
use axum::response::{IntoResponse, Redirect};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Institution, Resident, load, load_for_write, queries};
use crate::audit::diff;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppResult, text_field};
use crate::kernel::form::Kept;
use crate::kernel::handler::{PageCaller, page_id};
use crate::kernel::web::{Nav, PageResult, render, render_status};
use crate::people::shown;
use crate::state::AppState;

/// A resident with whether they are still in (active).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResidentState {
    pub id: i64,
    pub name: String,
    pub room: String,
    /// `false` once disabled (停用): left out of the rounds.
    pub active: bool,
}

/// Body of `PATCH /api/v1/institutions/{id}/residents/{rid}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ResidentPatch {
    pub name: Option<String>,
    pub room: Option<String>,
}

async fn state_of(
    state: &AppState,
    actor: &Actor,
    org: &Institution,
    rid: i64,
) -> AppResult<ResidentState> {
    let (name, room, active) = queries::resident_row(state, &actor.everywhere(), org, rid).await?;
    Ok(ResidentState {
        id: rid,
        name: shown::name_for_org(actor, org.id, &name),
        room,
        active,
    })
}

/// One resident of the institution (name masked unless the actor is its staff).
pub async fn get_resident(
    state: &AppState,
    actor: &Actor,
    id: i64,
    rid: i64,
) -> AppResult<ResidentState> {
    let org = load(state, &actor.everywhere(), id).await?;
    state_of(state, actor, &org, rid).await
}

/// Correct a resident's name or room.
pub async fn update_resident(
    state: &AppState,
    actor: &Actor,
    id: i64,
    rid: i64,
    patch: &ResidentPatch,
) -> AppResult<ResidentState> {
    let scope = actor.everywhere();
    let org = load_for_write(state, &scope, id).await?;
    let (cur_name, cur_room, _) = queries::resident_row(state, &scope, &org, rid).await?;
    let name = match &patch.name {
        Some(n) => text_field("name", n, 50, true)?,
        None => cur_name.clone(),
    };
    let room = match &patch.room {
        Some(r) => text_field("room", r, 30, false)?,
        None => cur_room.clone(),
    };
    if name != cur_name || room != cur_room {
        let mut tx = Tx::begin(state, actor).await?;
        queries::update_resident(&mut tx, &state.keys, rid, &name, &room).await?;
        let name_change = if name == cur_name {
            (json!(null), json!(null))
        } else {
            // Masked forms can be equal for different names: say that it changed.
            (
                json!(shown::name_in_list(&cur_name)),
                json!(format!("{}（已更正）", shown::name_in_list(&name))),
            )
        };
        tx.commit(
            Change::new(
                "institution.resident_update",
                "institution_resident",
                rid,
                &org.region_code,
            )
            .detail(diff(&[
                ("name", name_change.0, name_change.1),
                ("room", json!(cur_room), json!(room)),
            ])),
        )
        .await?;
    }
    state_of(state, actor, &org, rid).await
}

/// Disable (`false`: 停用, left out of the rounds) or enable (`true`) a resident.
pub async fn set_resident_active(
    state: &AppState,
    actor: &Actor,
    id: i64,
    rid: i64,
    active: bool,
) -> AppResult<ResidentState> {
    let scope = actor.everywhere();
    let org = load_for_write(state, &scope, id).await?;
    let (_, _, cur) = queries::resident_row(state, &scope, &org, rid).await?;
    if cur != active {
        let mut tx = Tx::begin(state, actor).await?;
        queries::set_resident_active(&mut tx, rid, active).await?;
        let action = if active {
            "institution.resident_enable"
        } else {
            "institution.resident_disable"
        };
        tx.commit(
            Change::new(action, "institution_resident", rid, &org.region_code).detail(diff(&[(
                "disabled",
                json!(!cur),
                json!(!active),
            )])),
        )
        .await?;
    }
    state_of(state, actor, &org, rid).await
}

// ------------------------------------------------------------------------------------ pages

#[derive(Template)]
#[template(path = "institutions_residents.html")]
struct ResidentsPage {
    nav: Option<Nav>,
    inst: Institution,
    residents: Vec<(Resident, bool)>,
}

/// `GET /institutions/{id}/residents`: every resident, the disabled ones marked.
pub(super) async fn residents_page(
    PageCaller(s, a): PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    let id = page_id(&id)?;
    let scope = a.actor.everywhere();
    let d = super::get(&s, &a.actor, id).await?;
    let residents = queries::all_residents(&s, &scope, &d.institution).await?;
    Ok(render(&ResidentsPage {
        nav: Some(Nav::for_actor(&a.actor, "/institutions")),
        inst: d.institution,
        residents,
    }))
}

#[derive(Template)]
#[template(path = "institutions_resident.html")]
struct ResidentPage {
    nav: Option<Nav>,
    inst: Institution,
    resident: ResidentState,
    can_write: bool,
    /// The edit form as typed and why it was refused, when it was.
    form: Kept,
}

async fn resident_page(s: &AppState, actor: &Actor, id: i64, rid: i64, form: Kept) -> PageResult {
    let d = super::get(s, actor, id).await?;
    let resident = state_of(s, actor, &d.institution, rid).await?;
    let status = form.status();
    let page = ResidentPage {
        nav: Some(Nav::for_actor(actor, "/institutions")),
        inst: d.institution,
        can_write: d.can_write,
        resident,
        form,
    };
    Ok(render_status(&page, status))
}

/// `GET /institutions/{id}/residents/{rid}`.
pub(super) async fn show_resident(
    PageCaller(s, a): PageCaller,
    Path((id, rid)): Path<(String, String)>,
) -> PageResult {
    resident_page(&s, &a.actor, page_id(&id)?, page_id(&rid)?, Kept::none()).await
}

/// `POST /institutions/{id}/residents/{rid}`: the edit form.
pub(super) async fn edit_resident(
    PageCaller(s, a): PageCaller,
    Path((id, rid)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let (id, rid) = (page_id(&id)?, page_id(&rid)?);
    let form = Kept::input("resident", pairs);
    let patch = ResidentPatch {
        name: Some(form.get("name").to_string()),
        room: Some(form.get("room").to_string()),
    };
    match form.outcome(update_resident(&s, &a.actor, id, rid, &patch).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/institutions/{id}/residents/{rid}")).into_response()),
        Err(form) => resident_page(&s, &a.actor, id, rid, form).await,
    }
}

async fn toggle(s: &AppState, actor: &Actor, id: &str, rid: &str, active: bool) -> PageResult {
    let (id, rid) = (page_id(id)?, page_id(rid)?);
    set_resident_active(s, actor, id, rid, active).await?;
    Ok(Redirect::to(&format!("/institutions/{id}/residents/{rid}")).into_response())
}

/// `POST /institutions/{id}/residents/{rid}/disable`.
pub(super) async fn disable_resident(
    PageCaller(s, a): PageCaller,
    Path((id, rid)): Path<(String, String)>,
) -> PageResult {
    toggle(&s, &a.actor, &id, &rid, false).await
}

/// `POST /institutions/{id}/residents/{rid}/enable`.
pub(super) async fn enable_resident(
    PageCaller(s, a): PageCaller,
    Path((id, rid)): Path<(String, String)>,
) -> PageResult {
    toggle(&s, &a.actor, &id, &rid, true).await
}
