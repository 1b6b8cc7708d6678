//! Household pages (家庭户): the list (`/households?region=`), the creation form
//! (`/households/new?person=` — from a person's page, that person as head), and a household's
//! page (`/households/{id}`) where a worker corrects the address, adds the people of the
//! village who are in no household yet (or anyone by their person number, moving them from
//! another household only when asked), changes a relationship and takes a member out. Every
//! form re-renders with what was typed and the Chinese message on a refusal. All through the
//! scoped service functions of `people::households`.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::region::Scope;
use backstop_core::role::Permission;
use serde::Deserialize;

use super::{
    Household, HouseholdPatch, HouseholdQuery, HouseholdSummary, MemberInput, NewHousehold,
    NewMember, Person, RELATIONSHIPS,
};
use crate::kernel::error::AppError;
use crate::kernel::extract::Page;
use crate::kernel::form::Kept;
use crate::kernel::web::{Nav, PageResult, Routes, clip, render, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/households", get(list).post(create)),
        ("/households/new", get(new_form)),
        ("/households/{id}", get(show).post(update)),
        ("/households/{id}/members", post(add)),
        ("/households/{id}/members/{person_id}/remove", post(remove)),
    ]
}

fn id_of(s: &str) -> Result<i64, AppError> {
    s.parse().map_err(|_| AppError::not_found())
}

#[derive(Template)]
#[template(path = "households_list.html")]
struct ListPage {
    nav: Option<Nav>,
    region: String,
    total: i64,
    households: Vec<HouseholdSummary>,
    /// Listing the disabled households.
    disabled: bool,
    can_create: bool,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    region: String,
    /// `1`: the disabled (停用) households.
    #[serde(default)]
    disabled: String,
}

async fn list(State(s): State<AppState>, Page(a): Page, Query(q): Query<ListQuery>) -> PageResult {
    let region = clip(q.region.trim(), 20);
    let query = HouseholdQuery {
        region: Some(region.clone()).filter(|r| !r.is_empty()),
        disabled: Some(q.disabled == "1"),
        limit: Some(200),
        offset: None,
    };
    let (list, error) = match super::list_households(&s, &a.actor, &query).await {
        Ok(l) => (l, None),
        Err(e) if e.status() == StatusCode::NOT_FOUND => (
            super::HouseholdList {
                total: 0,
                items: Vec::new(),
            },
            Some(format!("区划“{region}”不存在或不在您的管辖范围内")),
        ),
        Err(e) => return Err(e.into()),
    };
    Ok(render(&ListPage {
        nav: Some(Nav::for_actor(&a.actor, "/persons")),
        region,
        total: list.total,
        households: list.items,
        disabled: q.disabled == "1",
        can_create: a.actor.can(Permission::PersonsWrite),
        error,
    }))
}

/// The creation form as typed.
#[derive(Deserialize, Default, Clone)]
struct NewForm {
    #[serde(default)]
    region_code: String,
    #[serde(default)]
    address: String,
    /// The first member (the head), when the form was opened from a person's page.
    #[serde(default)]
    person: String,
}

#[derive(Template)]
#[template(path = "households_new.html")]
struct NewPage {
    nav: Option<Nav>,
    form: NewForm,
    head: Option<Person>,
    error: Option<String>,
    /// Which field the refusal is about, for the reason beside it (kernel::form::Kept).
    refusal: Kept,
}

async fn new_page(
    s: &AppState,
    a: &crate::kernel::auth::Authed,
    form: NewForm,
    error: Option<(StatusCode, String)>,
    refusal: Kept,
) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::PersonsWrite)?;
    let head = match form.person.trim().parse::<i64>() {
        Ok(id) => Some(super::get(s, actor, id).await?),
        Err(_) => None,
    };
    let mut form = form;
    if form.region_code.is_empty() {
        form.region_code = match (&head, &actor.scope) {
            (Some(p), _) => p.region_code.clone(),
            (None, Scope::Region(c)) => c.as_str().to_string(),
            (None, Scope::National) => String::new(),
        };
    }
    if form.address.is_empty()
        && let Some(p) = &head
    {
        form.address = p.address.clone();
    }
    let (status, error) = match error {
        Some((st, m)) => (st, Some(m)),
        None => (StatusCode::OK, None),
    };
    let page = NewPage {
        nav: Some(Nav::for_actor(actor, "/persons")),
        form,
        head,
        error,
        refusal,
    };
    Ok(render_status(&page, status))
}

async fn new_form(
    State(s): State<AppState>,
    Page(a): Page,
    Query(f): Query<NewForm>,
) -> PageResult {
    new_page(&s, &a, f, None, Kept::none()).await
}

async fn create(State(s): State<AppState>, Page(a): Page, Form(f): Form<NewForm>) -> PageResult {
    let members = match f.person.trim().parse::<i64>() {
        Ok(id) => vec![NewMember {
            person_id: id,
            relationship: "head".to_string(),
        }],
        Err(_) => Vec::new(),
    };
    let input = NewHousehold {
        region_code: f.region_code.trim().to_string(),
        address: f.address.clone(),
        members,
    };
    match super::create_household(&s, &a.actor, &input).await {
        Ok(h) => Ok(Redirect::to(&format!("/households/{}", h.id)).into_response()),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let form = NewForm {
                region_code: clip(&f.region_code, 20),
                address: clip(&f.address, 200),
                person: clip(&f.person, 20),
            };
            let refusal = Kept::none().refuse(&e);
            new_page(&s, &a, form, Some((e.status(), e.message)), refusal).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The member form as typed (kept on a refusal).
#[derive(Deserialize, Default, Clone)]
struct MemberForm {
    #[serde(default)]
    person_id: String,
    #[serde(default)]
    relationship: String,
    /// The "从原户移出" checkbox.
    #[serde(default)]
    move_from_other: Option<String>,
}

#[derive(Template)]
#[template(path = "households_show.html")]
struct ShowPage {
    nav: Option<Nav>,
    household: Household,
    candidates: Vec<Person>,
    relationships: Vec<(&'static str, &'static str)>,
    can_write: bool,
    address: String,
    member: MemberForm,
    error: Option<String>,
    /// Which field the refusal is about, for the reason beside it (kernel::form::Kept).
    refusal: Kept,
}

async fn show_page(
    s: &AppState,
    a: &crate::kernel::auth::Authed,
    id: i64,
    address: Option<String>,
    member: MemberForm,
    error: Option<(StatusCode, String)>,
    refusal: Kept,
) -> PageResult {
    let actor = &a.actor;
    let household = super::get_household(s, actor, id).await?;
    let can_write = actor.can(Permission::PersonsWrite);
    let candidates = if can_write {
        super::candidates(s, actor, id).await?
    } else {
        Vec::new()
    };
    let (status, error) = match error {
        Some((st, m)) => (st, Some(m)),
        None => (StatusCode::OK, None),
    };
    let page = ShowPage {
        nav: Some(Nav::for_actor(actor, "/persons")),
        address: address.unwrap_or_else(|| household.address.clone()),
        household,
        candidates,
        relationships: RELATIONSHIPS.to_vec(),
        can_write,
        member,
        error,
        refusal,
    };
    Ok(render_status(&page, status))
}

async fn show(State(s): State<AppState>, Page(a): Page, Path(id): Path<String>) -> PageResult {
    show_page(
        &s,
        &a,
        id_of(&id)?,
        None,
        MemberForm::default(),
        None,
        Kept::none(),
    )
    .await
}

#[derive(Deserialize, Default)]
struct AddressForm {
    #[serde(default)]
    address: String,
}

/// Correct the address; back to the household's page.
async fn update(
    State(s): State<AppState>,
    Page(a): Page,
    Path(id): Path<String>,
    Form(f): Form<AddressForm>,
) -> PageResult {
    let id = id_of(&id)?;
    let patch = HouseholdPatch {
        address: Some(f.address.clone()),
    };
    match super::update_household(&s, &a.actor, id, &patch).await {
        Ok(_) => Ok(Redirect::to(&format!("/households/{id}")).into_response()),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let kept = Some(clip(&f.address, 200));
            show_page(
                &s,
                &a,
                id,
                kept,
                MemberForm::default(),
                Some((e.status(), e.message.clone())),
                Kept::none().refuse(&e),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Add a member (or change a relationship); a refusal keeps the choice and says why.
async fn add(
    State(s): State<AppState>,
    Page(a): Page,
    Path(id): Path<String>,
    Form(f): Form<MemberForm>,
) -> PageResult {
    let id = id_of(&id)?;
    // The household itself out of scope reads as not found; a person out of scope is a
    // message on the form.
    super::get_household(&s, &a.actor, id).await?;
    let refuse = |m: &str| Some((StatusCode::UNPROCESSABLE_ENTITY, m.to_string()));
    let Ok(person_id) = f.person_id.trim().parse::<i64>() else {
        return show_page(
            &s,
            &a,
            id,
            None,
            f,
            refuse("人员编号：请填写人员编号（数字）"),
            Kept::none().refuse_msg(Some("person_id"), "请填写人员编号（数字）"),
        )
        .await;
    };
    let input = MemberInput {
        person_id,
        relationship: f.relationship.clone(),
        move_from_other: f.move_from_other.as_deref().is_some_and(|v| !v.is_empty()),
    };
    match super::add_member(&s, &a.actor, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/households/{id}")).into_response()),
        Err(e)
            if matches!(
                e.status(),
                StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT | StatusCode::NOT_FOUND
            ) =>
        {
            // A person out of scope reads as not found, as everywhere.
            let (message, refusal) = if e.status() == StatusCode::NOT_FOUND {
                let m = format!("没有找到人员 {person_id}（或不在您的管辖范围内）");
                let r = Kept::none().refuse_msg(Some("person_id"), &m);
                (m, r)
            } else {
                (e.message.clone(), Kept::none().refuse(&e))
            };
            let kept = MemberForm {
                person_id: clip(&f.person_id, 20),
                relationship: clip(&f.relationship, 20),
                move_from_other: f.move_from_other.clone(),
            };
            show_page(
                &s,
                &a,
                id,
                None,
                kept,
                Some((StatusCode::UNPROCESSABLE_ENTITY, message)),
                refusal,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Take a member out; back to the household's page.
async fn remove(
    State(s): State<AppState>,
    Page(a): Page,
    Path((id, person_id)): Path<(String, String)>,
) -> PageResult {
    let (id, person_id) = (id_of(&id)?, id_of(&person_id)?);
    super::remove_member(&s, &a.actor, id, person_id).await?;
    Ok(Redirect::to(&format!("/households/{id}")).into_response())
}
