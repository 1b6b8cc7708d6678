//! Organisation pages: the list with filters (`/orgs?region=&kind=`), the creation form
//! (`/orgs/new`, `POST /orgs`, re-shown with the Chinese message and the entered values on a
//! validation error) and the detail page (`/orgs/{id}`). Reads and writes go through the
//! scoped service functions of `orgs`.

use askama::Template;
use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::region::Scope;
use backstop_core::role::Permission;
use serde::Deserialize;

use super::{NewOrg, Org, OrgKind, OrgPatch};
use crate::kernel::extract::{Page, region_param};
use crate::kernel::form::Kept;
use crate::kernel::handler::{PageCaller, PageId};
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, clip, render, render_status};

pub fn routes() -> Routes {
    vec![
        ("/orgs", get(list).post(create)),
        ("/orgs/new", get(new_form)),
        ("/orgs/{id}", get(show)),
        ("/orgs/{id}/edit", get(edit_form).post(edit)),
        ("/orgs/{id}/disable", post(disable)),
        ("/orgs/{id}/enable", post(enable)),
    ]
}

/// One `<option>` of a select.
struct Opt {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

fn kind_options(selected: &str) -> Vec<Opt> {
    OrgKind::ALL
        .into_iter()
        .map(|k| Opt {
            value: k.as_str(),
            label: k.label_zh(),
            selected: k.as_str() == selected,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "orgs_list.html")]
struct ListPage {
    nav: Option<Nav>,
    region: String,
    kinds: Vec<Opt>,
    orgs: Vec<Org>,
    error: Option<String>,
    can_create: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    region: Option<String>,
    kind: Option<String>,
}

async fn list(PageCaller(s, a): PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::OrgsRead)?;
    let region: String = q
        .region
        .unwrap_or_default()
        .trim()
        .chars()
        .take(20)
        .collect();
    let kind: String = q.kind.unwrap_or_default().trim().chars().take(40).collect();
    let listed = match (region_param(Some(&region)), OrgKind::param(Some(&kind))) {
        (Ok(r), Ok(k)) => super::list(&s, actor, r.as_ref(), k).await,
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let (orgs, error) = match listed {
        Ok(v) => (v, None),
        Err(e) if e.status() == StatusCode::NOT_FOUND => (
            Vec::new(),
            Some(format!("区划“{region}”不存在或不在您的管辖范围内")),
        ),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => (Vec::new(), Some(e.message)),
        Err(e) => return Err(e.into()),
    };
    Ok(render(&ListPage {
        nav: Some(Nav::for_actor(actor, "/orgs")),
        kinds: kind_options(&kind),
        region,
        orgs,
        error,
        can_create: actor.can(Permission::OrgsManage),
    }))
}

#[derive(Template)]
#[template(path = "orgs_new.html")]
struct NewPage {
    nav: Option<Nav>,
    heading: String,
    action: String,
    kinds: Vec<Opt>,
    form: OrgForm,
    error: Option<String>,
    /// Which field the refusal is about, for the reason beside it.
    refusal: Kept,
}

/// The creation form as posted (every field optional so a partial post is a validation
/// message, never a plain-text rejection).
#[derive(Deserialize, Default)]
#[serde(default)]
struct OrgForm {
    name: String,
    kind: String,
    region_code: String,
    contact_person: String,
    contact_phone: String,
    address: String,
}

#[derive(Deserialize, Default)]
struct NewQuery {
    #[serde(default)]
    region: Option<String>,
}

async fn new_form(Page(a): Page, Query(q): Query<NewQuery>) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::OrgsManage)?;
    let region_code = match (q.region, &actor.scope) {
        (Some(r), _) => r.trim().chars().take(20).collect(),
        (None, Scope::Region(c)) => c.as_str().to_string(),
        (None, Scope::National) => String::new(),
    };
    Ok(render(&NewPage {
        nav: Some(Nav::for_actor(actor, "/orgs")),
        heading: "新建机构".into(),
        action: "/orgs".into(),
        kinds: kind_options(""),
        form: OrgForm {
            region_code,
            ..OrgForm::default()
        },
        error: None,
        refusal: Kept::none(),
    }))
}

async fn create(PageCaller(s, a): PageCaller, Form(f): Form<OrgForm>) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::OrgsManage)?;
    let input = NewOrg {
        name: f.name.clone(),
        kind: f.kind.clone(),
        region_code: f.region_code.trim().to_string(),
        contact_person: f.contact_person.clone(),
        contact_phone: f.contact_phone.clone(),
        address: f.address.clone(),
    };
    match super::create(&s, actor, &input).await {
        Ok(org) => Ok(Redirect::to(&format!("/orgs/{}", org.id)).into_response()),
        Err(e) => Ok(refused(actor, "新建机构", "/orgs".into(), &f, e)),
    }
}

/// The form shown again with what was typed and the reason it was refused.
fn refused(
    actor: &crate::kernel::actor::Actor,
    heading: &str,
    action: String,
    f: &OrgForm,
    e: crate::kernel::error::AppError,
) -> axum::response::Response {
    let status = e.status();
    // A region outside the scope answers "not found": say so next to the field.
    let message = if status == StatusCode::NOT_FOUND {
        "所属区划：区划不存在或不在您的管辖范围内".to_string()
    } else {
        e.message.clone()
    };
    let form = OrgForm {
        name: clip(&f.name, 100),
        kind: clip(&f.kind, 40),
        region_code: clip(&f.region_code, 20),
        contact_person: clip(&f.contact_person, 50),
        contact_phone: clip(&f.contact_phone, 20),
        address: clip(&f.address, 200),
    };
    let page = NewPage {
        nav: Some(Nav::for_actor(actor, "/orgs")),
        heading: heading.to_string(),
        action,
        kinds: kind_options(&form.kind),
        form,
        // The reason beside the field it is about (kernel::form::Kept).
        refusal: if status == StatusCode::NOT_FOUND {
            Kept::none().refuse_msg(Some("region_code"), "区划不存在或不在您的管辖范围内")
        } else {
            Kept::none().refuse(&e)
        },
        error: Some(message),
    };
    let status = if status == StatusCode::NOT_FOUND {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        status
    };
    render_status(&page, status)
}

/// At most `n` characters of what the visitor typed, to show it again.
#[derive(Template)]
#[template(path = "orgs_show.html")]
struct ShowPage {
    nav: Option<Nav>,
    org: Org,
    can_manage: bool,
}

async fn show(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    let org = super::get(&s, &a.actor, id).await?;
    Ok(render(&ShowPage {
        nav: Some(Nav::for_actor(&a.actor, "/orgs")),
        org,
        can_manage: a.actor.can(Permission::OrgsManage),
    }))
}

async fn edit_form(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::OrgsManage)?;
    let org = super::get(&s, actor, id).await?;
    Ok(render(&NewPage {
        nav: Some(Nav::for_actor(actor, "/orgs")),
        heading: format!("编辑机构：{}", org.name),
        action: format!("/orgs/{id}/edit"),
        kinds: kind_options(&org.kind),
        form: OrgForm {
            name: org.name,
            kind: org.kind,
            region_code: org.region_code,
            contact_person: org.contact_person,
            contact_phone: org.contact_phone,
            address: org.address,
        },
        error: None,
        refusal: Kept::none(),
    }))
}

async fn edit(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(f): Form<OrgForm>,
) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::OrgsManage)?;
    // The organisation itself out of scope is the not-found page, not a form message.
    super::get(&s, actor, id).await?;
    let patch = OrgPatch {
        name: Some(f.name.clone()),
        kind: Some(f.kind.clone()),
        region_code: Some(f.region_code.trim().to_string()),
        contact_person: Some(f.contact_person.clone()),
        contact_phone: Some(f.contact_phone.clone()),
        address: Some(f.address.clone()),
    };
    match super::update(&s, actor, id, &patch).await {
        Ok(_) => Ok(Redirect::to(&format!("/orgs/{id}")).into_response()),
        Err(e) if e.status() == StatusCode::FORBIDDEN => Err(e.into()),
        Err(e) => Ok(refused(
            actor,
            "编辑机构",
            format!("/orgs/{id}/edit"),
            &f,
            e,
        )),
    }
}

async fn disable(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    super::set_disabled(&s, &a.actor, id, true).await?;
    Ok(Redirect::to(&format!("/orgs/{id}")).into_response())
}

async fn enable(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    super::set_disabled(&s, &a.actor, id, false).await?;
    Ok(Redirect::to(&format!("/orgs/{id}")).into_response())
}
