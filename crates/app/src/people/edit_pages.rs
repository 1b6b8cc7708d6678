//! Correcting and disabling from the pages (issue 14, item 5): the person edit form
//! (`/persons/{id}/edit`, re-shown with the input kept and the Chinese message on a refusal),
//! and the 停用/启用 buttons of the person and household pages. Each calls one service function
//! (`people::update`, `people::status`), which checks the permission and the scope; the ID
//! number, phone and birth date typed are never echoed back into the page.

use askama::Template;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::status::{set_household_disabled, set_person_disabled};
use super::{Person, PersonPatch};
use crate::kernel::form::Kept;
use crate::kernel::handler::{PageCaller, PageId};
use crate::kernel::web::{Nav, PageResult, Routes, clip, render, render_status};

pub fn routes() -> Routes {
    vec![
        ("/persons/{id}/edit", get(edit_form).post(edit)),
        ("/persons/{id}/disable", post(disable_person)),
        ("/persons/{id}/enable", post(enable_person)),
        ("/households/{id}/disable", post(disable_household)),
        ("/households/{id}/enable", post(enable_household)),
    ]
}

/// The edit form as posted (every field optional so a partial post is a message).
#[derive(Deserialize, Default)]
#[serde(default)]
struct EditForm {
    name: String,
    region_code: String,
    id_number: String,
    sex: String,
    birth_date: String,
    phone: String,
    address: String,
    hukou_address: String,
    deceased: String,
}

/// What the form shows (never the ID number, phone or birth date).
struct Shown {
    name: String,
    region_code: String,
    sex: String,
    address: String,
    hukou_address: String,
    deceased: bool,
}

#[derive(Template)]
#[template(path = "people_edit.html")]
struct EditPage {
    nav: Option<Nav>,
    person: Person,
    form: Shown,
    error: Option<String>,
    /// Which field the refusal is about, for the reason beside it (kernel::form::Kept).
    refusal: Kept,
}

async fn edit_form(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::PersonsWrite)?;
    let person = super::get(&s, actor, id).await?;
    let form = Shown {
        name: person.name.clone(),
        region_code: person.region_code.clone(),
        sex: person.sex.clone(),
        address: person.address.clone(),
        hukou_address: person.hukou_address.clone(),
        deceased: person.deceased,
    };
    Ok(render(&EditPage {
        nav: Some(Nav::for_actor(actor, "/persons")),
        person,
        form,
        error: None,
        refusal: Kept::none(),
    }))
}

async fn edit(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(f): Form<EditForm>,
) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::PersonsWrite)?;
    // The person out of scope is the not-found page, not a form message.
    let person = super::get(&s, actor, id).await?;
    let opt = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let patch = PersonPatch {
        name: Some(f.name.clone()),
        region_code: Some(f.region_code.trim().to_string()),
        sex: Some(f.sex.clone()),
        birth_date: opt(&f.birth_date),
        phone: opt(&f.phone),
        address: Some(f.address.clone()),
        hukou_address: Some(f.hukou_address.clone()),
        deceased: Some(!f.deceased.is_empty()),
        id_number: opt(&f.id_number),
    };
    let (message, refusal) = match super::update(&s, actor, id, &patch).await {
        Ok(_) => return Ok(Redirect::to(&format!("/persons/{id}")).into_response()),
        // A region outside the scope answers "not found": say so next to the field.
        Err(e) if e.status() == StatusCode::NOT_FOUND => (
            "所在区划：区划不存在或不在您的管辖范围内".to_string(),
            Kept::none().refuse_msg(Some("region_code"), "区划不存在或不在您的管辖范围内"),
        ),
        Err(e) if e.status() == StatusCode::FORBIDDEN => return Err(e.into()),
        Err(e) => {
            let refusal = Kept::none().refuse(&e);
            (e.message, refusal)
        }
    };
    let page = EditPage {
        nav: Some(Nav::for_actor(actor, "/persons")),
        person,
        form: Shown {
            name: clip(&f.name, 50),
            region_code: clip(&f.region_code, 20),
            sex: clip(&f.sex, 10),
            address: clip(&f.address, 200),
            hukou_address: clip(&f.hukou_address, 200),
            deceased: !f.deceased.is_empty(),
        },
        error: Some(message),
        refusal,
    };
    Ok(render_status(&page, StatusCode::UNPROCESSABLE_ENTITY))
}

async fn disable_person(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    set_person_disabled(&s, &a.actor, id, true).await?;
    Ok(Redirect::to(&format!("/persons/{id}")).into_response())
}

async fn enable_person(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    set_person_disabled(&s, &a.actor, id, false).await?;
    Ok(Redirect::to(&format!("/persons/{id}")).into_response())
}

async fn disable_household(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    set_household_disabled(&s, &a.actor, id, true).await?;
    Ok(Redirect::to(&format!("/households/{id}")).into_response())
}

async fn enable_household(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    set_household_disabled(&s, &a.actor, id, false).await?;
    Ok(Redirect::to(&format!("/households/{id}")).into_response())
}
