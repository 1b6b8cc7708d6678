//! Person pages: the list with search (`/persons?region=&q=&masked=&group=`, `q` being a name,
//! its full pinyin or its initials; plus an exact search by ID number posted in a form so the
//! number never lands in a URL or a log line), the export form (`/persons/export` with the
//! same filters: the count first, then a required reason and, for roles that may, "显示完整号码";
//! `POST /persons/export` answers the .xlsx file), the
//! creation form (`/persons/new`, `POST /persons`, re-shown with the Chinese message on a
//! validation error) and the detail page (`/persons/{id}`) with masked values and, for roles
//! that may, a "查看完整证件号" form that posts a reason (`POST /persons/{id}/reveal`). All
//! reads and writes go through the scoped service functions of `people`.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::region::Scope;
use backstop_core::role::Permission;
use serde::Deserialize;

use super::{Created, NewPerson, Person, PersonQuery, Revealed};
use crate::kernel::error::AppError;
use crate::kernel::extract::Page;
use crate::kernel::form::Kept;
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, clip, query_string, render, render_status, with_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/persons", get(list).post(create)),
        ("/persons/new", get(new_form)),
        ("/persons/search", post(search)),
        ("/persons/export", get(export_form).post(export)),
        ("/persons/{id}", get(show)),
        ("/persons/{id}/reveal", post(reveal)),
    ]
}

#[derive(Template)]
#[template(path = "people_list.html")]
struct ListPage {
    nav: Option<Nav>,
    region: String,
    name: String,
    q: String,
    masked: String,
    group: String,
    /// Listing the disabled persons.
    disabled: bool,
    categories: Vec<crate::care::Category>,
    /// The list's filters as a query string, for the export link.
    filter_query: String,
    total: i64,
    persons: Vec<Person>,
    error: Option<String>,
    can_create: bool,
}

/// The list's filters, as typed in the search form (also the export form's).
#[derive(Deserialize, Default, Clone)]
struct ListQuery {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    masked: Option<String>,
    #[serde(default)]
    group: Option<String>,
    /// `1`: the disabled (停用) persons instead of those in use.
    #[serde(default)]
    disabled: Option<String>,
}

/// Clipped filter values: region, name, q, masked, group, disabled.
struct Filters {
    region: String,
    name: String,
    q: String,
    masked: String,
    group: String,
    disabled: String,
}

impl Filters {
    fn from(q: &ListQuery) -> Filters {
        let c = |v: &Option<String>, n| clip(v.as_deref().unwrap_or(""), n);
        Filters {
            region: c(&q.region, 20),
            name: c(&q.name, 50),
            q: c(&q.q, 50),
            masked: c(&q.masked, 20),
            group: c(&q.group, 40),
            disabled: if q.disabled.as_deref() == Some("1") {
                "1".into()
            } else {
                String::new()
            },
        }
    }

    fn query(&self) -> PersonQuery {
        PersonQuery {
            region: Some(self.region.clone()),
            name: Some(self.name.clone()),
            q: Some(self.q.clone()),
            masked: Some(self.masked.clone()),
            group: Some(self.group.clone()),
            disabled: Some(self.disabled == "1"),
            limit: None,
            offset: None,
        }
    }

    fn query_string(&self) -> String {
        query_string(&[
            ("region", &self.region),
            ("name", &self.name),
            ("q", &self.q),
            ("masked", &self.masked),
            ("group", &self.group),
            ("disabled", &self.disabled),
        ])
    }
}

async fn list_page(
    s: &AppState,
    a: &crate::kernel::auth::Authed,
    q: ListQuery,
    error: Option<String>,
) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::PersonsRead)?;
    let f = Filters::from(&q);
    let query = PersonQuery {
        limit: Some(200),
        ..f.query()
    };
    let region = f.region.clone();
    let (total, persons, err) = match super::list(s, actor, &query).await {
        Ok(l) => (l.total, l.items, None),
        Err(e) if e.status() == StatusCode::NOT_FOUND => (
            0,
            Vec::new(),
            Some(format!("区划“{region}”不存在或不在您的管辖范围内")),
        ),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            (0, Vec::new(), Some(e.message))
        }
        Err(e) => return Err(e.into()),
    };
    let page = ListPage {
        nav: Some(Nav::for_actor(actor, "/persons")),
        filter_query: f.query_string(),
        region: f.region,
        name: f.name,
        q: f.q,
        masked: f.masked,
        group: f.group,
        disabled: f.disabled == "1",
        categories: crate::care::categories(),
        total,
        persons,
        error: error.clone().or(err),
        can_create: actor.can(Permission::PersonsWrite),
    };
    Ok(if error.is_some() {
        render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
    } else {
        render(&page)
    })
}

async fn list(State(s): State<AppState>, Page(a): Page, Query(q): Query<ListQuery>) -> PageResult {
    list_page(&s, &a, q, None).await
}

#[derive(Deserialize, Default)]
struct SearchForm {
    #[serde(default)]
    id_number: String,
}

/// Exact search by ID number, posted (the number never appears in a URL).
async fn search(State(s): State<AppState>, Page(a): Page, Form(f): Form<SearchForm>) -> PageResult {
    match super::find_by_id_number(&s, &a.actor, &f.id_number).await {
        Ok(p) => Ok(Redirect::to(&format!("/persons/{}", p.id)).into_response()),
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            list_page(
                &s,
                &a,
                ListQuery::default(),
                Some("没有找到该身份证号的人员（或不在您的管辖范围内）".to_string()),
            )
            .await
        }
        Err(e)
            if matches!(
                e.status(),
                StatusCode::UNPROCESSABLE_ENTITY | StatusCode::TOO_MANY_REQUESTS
            ) =>
        {
            list_page(&s, &a, ListQuery::default(), Some(e.message)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "people_new.html")]
struct NewPage {
    nav: Option<Nav>,
    form: PersonForm,
    error: Option<String>,
    existing_id: Option<i64>,
    /// Which field the refusal is about, for the reason beside it (kernel::form::Kept).
    refusal: Kept,
}

/// The creation form as posted; every field optional so a partial post is a message.
#[derive(Deserialize, Default)]
struct PersonForm {
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    region_code: String,
    #[serde(default)]
    sex: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    hukou_address: String,
    #[serde(default)]
    link_kind: String,
}

async fn new_form(Page(a): Page) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::PersonsWrite)?;
    let region_code = match &actor.scope {
        Scope::Region(c) => c.as_str().to_string(),
        Scope::National => String::new(),
    };
    Ok(render(&NewPage {
        nav: Some(Nav::for_actor(actor, "/persons")),
        form: PersonForm {
            region_code,
            ..PersonForm::default()
        },
        error: None,
        existing_id: None,
        refusal: Kept::none(),
    }))
}

async fn create(State(s): State<AppState>, Page(a): Page, Form(f): Form<PersonForm>) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::PersonsWrite)?;
    let opt = |v: &str| Some(v.to_string()).filter(|v| !v.trim().is_empty());
    let input = NewPerson {
        id_number: opt(&f.id_number),
        name: f.name.clone(),
        region_code: f.region_code.trim().to_string(),
        sex: opt(&f.sex),
        birth_date: opt(&f.birth_date),
        phone: opt(&f.phone),
        address: opt(&f.address),
        hukou_address: opt(&f.hukou_address),
        link_kind: opt(&f.link_kind),
    };
    let (status, message, existing_id, refusal) = match super::create(&s, actor, &input).await {
        Ok(Created::New(p)) => {
            let warn: Vec<&str> = p.warnings.iter().map(|w| w.code.as_str()).collect();
            let to = if warn.is_empty() {
                format!("/persons/{}", p.id)
            } else {
                format!("/persons/{}?warn={}", p.id, warn.join(","))
            };
            return Ok(Redirect::to(&to).into_response());
        }
        Ok(Created::Existing(id)) => (
            StatusCode::CONFLICT,
            "该身份证号已登记，请查看已有记录".to_string(),
            Some(id),
            Kept::none().refuse_msg(Some("id_number"), "该身份证号已登记"),
        ),
        Err(e) if e.status() == StatusCode::NOT_FOUND => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "无法登记：区划不存在或不在您的管辖范围内，或该身份证号已在其他地区登记".to_string(),
            None,
            Kept::none().refuse_msg(None, ""),
        ),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let refusal = Kept::none().refuse(&e);
            (e.status(), e.message, None, refusal)
        }
        Err(e) => return Err(e.into()),
    };
    // The ID number and phone typed are not echoed back into the page.
    let form = PersonForm {
        id_number: String::new(),
        phone: String::new(),
        name: clip(&f.name, 50),
        region_code: clip(&f.region_code, 20),
        sex: clip(&f.sex, 10),
        birth_date: clip(&f.birth_date, 10),
        address: clip(&f.address, 200),
        hukou_address: clip(&f.hukou_address, 200),
        link_kind: clip(&f.link_kind, 20),
    };
    let page = NewPage {
        nav: Some(Nav::for_actor(actor, "/persons")),
        form,
        error: Some(message),
        existing_id,
        refusal,
    };
    Ok(render_status(&page, status))
}

#[derive(Template)]
#[template(path = "people_show.html")]
struct ShowPage {
    nav: Option<Nav>,
    person: Person,
    /// Warnings about the ID number just registered (after the create's redirect).
    notices: Vec<&'static str>,
    can_reveal: bool,
    can_write: bool,
    /// Sees the person's bank accounts (收款账户, payments).
    can_payments: bool,
    revealed: Option<Revealed>,
    error: Option<String>,
}

async fn show_page(
    s: &AppState,
    a: &crate::kernel::auth::Authed,
    id: i64,
    revealed: Option<Revealed>,
    error: Option<String>,
) -> PageResult {
    show_with(s, a, id, revealed, error, Vec::new()).await
}

async fn show_with(
    s: &AppState,
    a: &crate::kernel::auth::Authed,
    id: i64,
    revealed: Option<Revealed>,
    error: Option<String>,
    notices: Vec<&'static str>,
) -> PageResult {
    let person = super::get(s, &a.actor, id).await?;
    Ok(render(&ShowPage {
        nav: Some(Nav::for_actor(&a.actor, "/persons")),
        notices,
        can_reveal: a.actor.can(Permission::PersonsRevealId),
        can_write: a.actor.can(Permission::PersonsWrite),
        can_payments: a.actor.can(Permission::PaymentsRead),
        person,
        revealed,
        error,
    }))
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    #[serde(default)]
    warn: String,
}

async fn show(
    State(s): State<AppState>,
    Page(a): Page,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> PageResult {
    let id: i64 = id.parse().map_err(|_| AppError::not_found())?;
    let notices = q
        .warn
        .split(',')
        .filter_map(super::IdNotice::message_of)
        .collect();
    show_with(&s, &a, id, None, None, notices).await
}

#[derive(Deserialize, Default)]
struct RevealForm {
    #[serde(default)]
    reason: String,
}

async fn reveal(
    State(s): State<AppState>,
    Page(a): Page,
    Path(id): Path<String>,
    Form(f): Form<RevealForm>,
) -> PageResult {
    let id: i64 = id.parse().map_err(|_| AppError::not_found())?;
    match super::reveal(&s, &a.actor, id, &f.reason).await {
        Ok(r) => show_page(&s, &a, id, Some(r), None).await,
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let page = show_page(&s, &a, id, None, Some(e.message)).await?;
            Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "people_export.html")]
struct ExportPage {
    nav: Option<Nav>,
    region: String,
    name: String,
    q: String,
    masked: String,
    group: String,
    back_query: String,
    preview: Option<super::export::ExportPreview>,
    reason: String,
    full: bool,
    error: Option<String>,
}

async fn export_page(
    s: &AppState,
    a: &crate::kernel::auth::Authed,
    q: &ListQuery,
    reason: String,
    full: bool,
    error: Option<(StatusCode, String)>,
) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::PersonsRead)?;
    let f = Filters::from(q);
    let (preview, err) = match super::export::preview(s, actor, &f.query()).await {
        Ok(p) => (Some(p), None),
        Err(e) if e.status() == StatusCode::NOT_FOUND => (
            None,
            Some((
                StatusCode::NOT_FOUND,
                format!("区划“{}”不存在或不在您的管辖范围内", f.region),
            )),
        ),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            (None, Some((e.status(), e.message)))
        }
        Err(e) => return Err(e.into()),
    };
    let (status, error) = match error.or(err) {
        Some((st, m)) => (st, Some(m)),
        None => (StatusCode::OK, None),
    };
    let page = ExportPage {
        nav: Some(Nav::for_actor(actor, "/persons")),
        back_query: f.query_string(),
        region: f.region,
        name: f.name,
        q: f.q,
        masked: f.masked,
        group: f.group,
        preview,
        reason: clip(&reason, 200),
        full,
        error,
    };
    Ok(render_status(&page, status))
}

/// The export form: the filters carried over from the list, the count, reason and options.
async fn export_form(
    State(s): State<AppState>,
    Page(a): Page,
    Query(q): Query<ListQuery>,
) -> PageResult {
    export_page(&s, &a, &q, String::new(), false, None).await
}

#[derive(Deserialize, Default)]
struct ExportForm {
    #[serde(default)]
    region: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    masked: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    reason: String,
    /// The "显示完整号码" checkbox (`1` when ticked).
    #[serde(default)]
    full: Option<String>,
}

/// Produce the file, or re-show the form with the message (422) when the reason is missing.
async fn export(State(s): State<AppState>, Page(a): Page, Form(f): Form<ExportForm>) -> PageResult {
    let full = f.full.as_deref().is_some_and(|v| !v.is_empty() && v != "0");
    let lq = ListQuery {
        region: Some(f.region),
        name: Some(f.name),
        q: Some(f.q),
        masked: Some(f.masked),
        group: Some(f.group),
        disabled: None,
    };
    let fl = Filters::from(&lq);
    let req = super::export::ExportRequest {
        region: Some(fl.region),
        name: Some(fl.name),
        q: Some(fl.q),
        masked: Some(fl.masked),
        group: Some(fl.group),
        reason: f.reason.clone(),
        full,
    };
    match super::export::export(&s, &a.actor, &req).await {
        Ok(x) => Ok(super::web::xlsx_response(x)),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            export_page(&s, &a, &lq, f.reason, full, Some((e.status(), e.message))).await
        }
        Err(e) => Err(e.into()),
    }
}
