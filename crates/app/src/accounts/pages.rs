//! Account pages: the user list (`/users`), the creation form (`/users/new`, `POST /users`),
//! a user's page with the edit form (`/users/{id}`, `POST /users/{id}`) and the security
//! administrator's actions (`POST /users/{id}/unlock`, `POST /users/{id}/reset-password`, which
//! shows the generated password once); and "my account" (`/account`) with personal API tokens
//! (`POST /account/tokens` shows the new token once, `POST /account/tokens/{id}/revoke`).
//!
//! The role checkboxes offer only the roles the visitor may grant
//! (`backstop_core::role::grantable_roles`); the service checks every rule again.

use askama::Template;
use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use backstop_core::region::Scope;
use backstop_core::role::{Permission, Role, RoleSet, check_grant, grantable_roles};
use serde::Deserialize;

use super::{ApiTokenView, NewUser, UserPatch, UserView};
use crate::kernel::actor::Actor;
use crate::kernel::auth::Authed;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::extract::region_param;
use crate::kernel::form::{Kept, is_refusal};
use crate::kernel::handler::{PageCaller, PageId};
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, clip, render, with_status};
use crate::orgs::{self, Org};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/users", get(list).post(create)),
        ("/users/new", get(new_form)),
        ("/users/{id}", get(show).post(update)),
        ("/users/{id}/unlock", post(unlock)),
        ("/users/{id}/disable", post(disable)),
        ("/users/{id}/enable", post(enable)),
        ("/users/{id}/reset-password", post(reset_password)),
        ("/account", get(account)),
        ("/account/tokens", post(create_token)),
        ("/account/tokens/{id}/revoke", post(revoke_token)),
    ]
}

// --- form helpers ------------------------------------------------------------------------

/// A posted form as name/value pairs (repeated names such as `roles` are kept).
type Pairs = Vec<(String, String)>;

fn value(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn values(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

/// An optional organisation id as posted ("" = none).
fn parse_org(s: &str) -> AppResult<Option<i64>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|_| {
        AppError::field(
            backstop_core::error::ErrorCode::Validation,
            "org_id",
            "机构不存在",
        )
    })
}

/// A role checkbox.
struct RoleOpt {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

fn grantable(actor: &Actor) -> Vec<Role> {
    if actor.is_operator() {
        Role::ALL.to_vec()
    } else {
        grantable_roles(&actor.roles)
    }
}

fn role_options(actor: &Actor, checked: &[String]) -> Vec<RoleOpt> {
    grantable(actor)
        .into_iter()
        .map(|r| RoleOpt {
            value: r.as_str(),
            label: r.label_zh(),
            checked: checked.iter().any(|c| c == r.as_str()),
        })
        .collect()
}

/// An organisation `<option>`.
struct OrgOpt {
    id: i64,
    label: String,
    selected: bool,
}

/// The organisations in the visitor's scope (empty without `OrgsRead`).
async fn scope_orgs(s: &AppState, actor: &Actor) -> Vec<Org> {
    if !actor.can(Permission::OrgsRead) {
        return Vec::new();
    }
    orgs::list(s, actor, None, None).await.unwrap_or_default()
}

fn org_options(orgs: &[Org], selected: &str) -> Vec<OrgOpt> {
    orgs.iter()
        .map(|o| OrgOpt {
            id: o.id,
            label: format!("{}（{}）", o.name, o.region_name),
            selected: o.id.to_string() == selected,
        })
        .collect()
}

fn role_set(list: &[String]) -> RoleSet {
    RoleSet::new(list.iter().filter_map(|r| Role::parse(r)))
}

/// Errors that are pages of their own (not found, forbidden, …) rather than form messages.
fn is_page_error(e: &AppError) -> bool {
    matches!(
        e.status(),
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::INTERNAL_SERVER_ERROR
    ) || e.status() == StatusCode::UNAUTHORIZED
}

// --- the user list -----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "users_list.html")]
struct ListPage {
    nav: Option<Nav>,
    region: String,
    users: Vec<UserView>,
    error: Option<String>,
    can_create: bool,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    region: Option<String>,
}

async fn list(PageCaller(s, a): PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::UsersRead)?;
    let region = clip(q.region.unwrap_or_default().trim(), 20);
    let listed = match region_param(Some(&region)) {
        Ok(r) => super::list_users(&s, actor, r.as_ref()).await,
        Err(e) => Err(e),
    };
    let (users, error) = match listed {
        Ok(v) => (v, None),
        Err(e) if e.status() == StatusCode::NOT_FOUND => (
            Vec::new(),
            Some(format!("区划“{region}”不存在或不在您的管辖范围内")),
        ),
        Err(e) => return Err(e.into()),
    };
    Ok(render(&ListPage {
        nav: Some(Nav::for_actor(actor, "/users")),
        region,
        users,
        error,
        can_create: actor.can(Permission::UsersManage),
    }))
}

// --- creating a user ---------------------------------------------------------------------

/// A user form's starting values (what the form shows before anything was typed).
#[derive(Default)]
struct UserForm {
    display_name: String,
    region_code: String,
    org_id: String,
}

/// The roles to tick: as sent when the form is shown again, else `initial`.
fn checked_roles(form: &Kept, initial: &[String]) -> Vec<String> {
    if form.refused() {
        form.all("roles").into_iter().map(str::to_string).collect()
    } else {
        initial.to_vec()
    }
}

/// A refused user form (issue 14: no form loses input): the input kept, the reason beside its
/// field, and the status to answer. A region or organisation outside the visitor's scope
/// answers "not found": said beside that field (422). `keep_forbidden`: a rule the visitor
/// may not break on an account it manages (its own roles, a role beyond its own) keeps the
/// form too, with its 403. `None`: not a refusal of the input (the error page).
fn refusal(form: Kept, e: &AppError, keep_forbidden: bool) -> Option<(Kept, StatusCode)> {
    match e.status() {
        StatusCode::NOT_FOUND => {
            let field = e
                .fields
                .first()
                .map(|f| f.field.as_str())
                .unwrap_or("region_code");
            let message = if field == "org_id" {
                "机构不存在或不在您的管辖范围内"
            } else {
                "区划不存在或不在您的管辖范围内"
            };
            let label = if field == "org_id" {
                "所属机构"
            } else {
                "管辖区划"
            };
            let form = form.refuse_msg(Some(field), message);
            let form = form.refuse_msg(None, &format!("{label}：{message}"));
            Some((form, StatusCode::UNPROCESSABLE_ENTITY))
        }
        StatusCode::FORBIDDEN if keep_forbidden => Some((form.refuse(e), StatusCode::FORBIDDEN)),
        _ if is_refusal(e) => {
            let form = form.refuse(e);
            let status = form.status();
            Some((form, status))
        }
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "users_new.html")]
struct NewPage {
    nav: Option<Nav>,
    /// What was typed (never the password) and why it was refused, if it was.
    form: Kept,
    initial: UserForm,
    roles: Vec<RoleOpt>,
    orgs: Vec<OrgOpt>,
    min_len: usize,
}

/// The creation form, with `form` shown again when it was refused.
async fn new_page(s: &AppState, actor: &Actor, form: Kept, status: StatusCode) -> Response {
    let orgs = scope_orgs(s, actor).await;
    let initial = UserForm {
        region_code: match &actor.scope {
            Scope::Region(c) => c.as_str().to_string(),
            Scope::National => String::new(),
        },
        ..UserForm::default()
    };
    let page = NewPage {
        nav: Some(Nav::for_actor(actor, "/users")),
        roles: role_options(actor, &checked_roles(&form, &[])),
        orgs: org_options(&orgs, form.value_or("org_id", &initial.org_id)),
        initial,
        form,
        min_len: s.rules().policy.min_len,
    };
    with_status(render(&page), status)
}

async fn new_form(PageCaller(s, a): PageCaller) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::UsersManage)?;
    Ok(new_page(&s, actor, Kept::none(), StatusCode::OK).await)
}

async fn create(PageCaller(s, a): PageCaller, Form(f): Form<Pairs>) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::UsersManage)?;
    let password = value(&f, "password");
    // The password is never shown again.
    let form = Kept::input("user", f).without("password");
    let result = async {
        let input = NewUser {
            username: form.get("username").trim().to_string(),
            password,
            roles: values(form.pairs(), "roles"),
            region_code: form.get("region_code").trim().to_string(),
            org_id: parse_org(form.get("org_id"))?,
            display_name: form.get("display_name").to_string(),
            phone: form.get("phone").trim().to_string(),
        };
        super::create_user(&s, actor, &input).await
    }
    .await;
    match result {
        Ok(u) => Ok(Redirect::to(&format!("/users/{}?done=created", u.id)).into_response()),
        Err(e) => match refusal(form, &e, false) {
            Some((form, status)) => Ok(new_page(&s, actor, form, status).await),
            None => Err(e.into()),
        },
    }
}

// --- one user ----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "users_show.html")]
struct ShowPage {
    nav: Option<Nav>,
    user: UserView,
    org_name: String,
    /// Edit form shown (UsersManage and every current role grantable by the visitor).
    can_edit: bool,
    /// UsersManage, but the account's roles are beyond the visitor's.
    roles_beyond: bool,
    is_self: bool,
    can_security: bool,
    /// May reset this account's password (an official over it; never an administrator).
    can_reset: bool,
    /// The edit form's starting values (the account as it is).
    initial: UserForm,
    /// The edit form as sent and why it was refused, if it was.
    form: Kept,
    roles: Vec<RoleOpt>,
    orgs: Vec<OrgOpt>,
    notice: Option<&'static str>,
    new_password: Option<String>,
    /// The masked phone a reset's one-time password was sent to.
    sent_to: Option<String>,
}

struct ShowArgs {
    form: Kept,
    status: StatusCode,
    notice: Option<&'static str>,
    new_password: Option<String>,
    sent_to: Option<String>,
}

impl ShowArgs {
    fn plain() -> ShowArgs {
        ShowArgs {
            form: Kept::none(),
            status: StatusCode::OK,
            notice: None,
            new_password: None,
            sent_to: None,
        }
    }
}

async fn show_page(s: &AppState, actor: &Actor, user: UserView, args: ShowArgs) -> Response {
    let orgs = scope_orgs(s, actor).await;
    let org_name = match user.org_id {
        None => String::new(),
        Some(id) => orgs
            .iter()
            .find(|o| o.id == id)
            .map(|o| o.name.clone())
            .unwrap_or_else(|| format!("机构 #{id}")),
    };
    let grantor = if actor.is_operator() {
        RoleSet::new([Role::Sysadmin])
    } else {
        actor.roles.clone()
    };
    let manage = actor.can(Permission::UsersManage);
    let grantable_now = check_grant(&grantor, &role_set(&user.roles)).is_ok();
    let initial = UserForm {
        display_name: user.display_name.clone(),
        region_code: user.region_code.clone(),
        org_id: user.org_id.map(|o| o.to_string()).unwrap_or_default(),
    };
    let form = args.form;
    let page = ShowPage {
        nav: Some(Nav::for_actor(actor, "/users")),
        org_name,
        can_edit: manage && grantable_now,
        roles_beyond: manage && !grantable_now,
        is_self: actor.user_id == Some(user.id),
        can_security: actor.can(Permission::SecurityManage),
        can_reset: actor.user_id != Some(user.id) && super::may_manage(actor, &user.roles),
        roles: role_options(actor, &checked_roles(&form, &user.roles)),
        orgs: org_options(&orgs, form.value_or("org_id", &initial.org_id)),
        initial,
        form,
        user,
        notice: args.notice,
        new_password: args.new_password,
        sent_to: args.sent_to,
    };
    with_status(render(&page), args.status)
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    #[serde(default)]
    done: Option<String>,
}

async fn show(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Query(q): Query<ShowQuery>,
) -> PageResult {
    let user = super::get_user(&s, &a.actor, id).await?;
    let notice = match q.done.as_deref() {
        Some("created") => Some("账户已创建。首次登录时须修改密码。"),
        Some("saved") => Some("已保存。"),
        Some("unlocked") => Some("账户已解锁。"),
        _ => None,
    };
    let args = ShowArgs {
        notice,
        ..ShowArgs::plain()
    };
    Ok(show_page(&s, &a.actor, user, args).await)
}

async fn update(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(f): Form<Pairs>,
) -> PageResult {
    let actor = &a.actor;
    let before = super::get_user(&s, actor, id).await?;
    let form = Kept::input("user", f);
    let roles = values(form.pairs(), "roles");
    let disabled = form.has("disabled");
    let region_code = form.get("region_code").trim().to_string();
    let org_id = form.get("org_id").trim().to_string();
    let phone = form.get("phone").trim().to_string();
    // Send only what changed, so an unchanged field never trips a rule (e.g. one's own roles).
    let result = async {
        let before_org = before.org_id.map(|o| o.to_string()).unwrap_or_default();
        let patch = UserPatch {
            display_name: Some(form.get("display_name").to_string()),
            roles: (role_set(&roles) != role_set(&before.roles)
                || roles.iter().any(|r| Role::parse(r).is_none()))
            .then(|| roles.clone()),
            region_code: (region_code != before.region_code).then(|| region_code.clone()),
            org_id: if org_id == before_org {
                None
            } else {
                Some(parse_org(&org_id)?)
            },
            disabled: (disabled != before.disabled).then_some(disabled),
            phone: if form.has("phone_clear") {
                Some(String::new())
            } else {
                Some(phone.clone()).filter(|p| !p.is_empty())
            },
        };
        super::update_user(&s, actor, id, &patch).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/users/{id}?done=saved")).into_response()),
        // The account itself is in scope (read above): a "not found" is the new region or
        // organisation, said beside it.
        Err(e) => match refusal(form, &e, true) {
            Some((form, status)) => {
                let args = ShowArgs {
                    form,
                    status,
                    ..ShowArgs::plain()
                };
                Ok(show_page(&s, actor, before, args).await)
            }
            None => Err(e.into()),
        },
    }
}

async fn disable(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    super::set_user_disabled(&s, &a.actor, id, true).await?;
    Ok(Redirect::to(&format!("/users/{id}?done=saved")).into_response())
}

async fn enable(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    super::set_user_disabled(&s, &a.actor, id, false).await?;
    Ok(Redirect::to(&format!("/users/{id}?done=saved")).into_response())
}

async fn unlock(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    super::unlock_user(&s, &a.actor, id).await?;
    Ok(Redirect::to(&format!("/users/{id}?done=unlocked")).into_response())
}

async fn reset_password(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    let reset = super::reset_password(&s, &a.actor, id, None).await?;
    let user = super::get_user(&s, &a.actor, id).await?;
    let (new_password, sent_to) = match reset {
        super::Reset::Shown(p) => (Some(p), None),
        super::Reset::Sent(m) => (None, Some(m)),
    };
    let args = ShowArgs {
        new_password,
        sent_to,
        ..ShowArgs::plain()
    };
    Ok(show_page(&s, &a.actor, user, args).await)
}

// --- my account --------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "account_show.html")]
struct AccountPage {
    nav: Option<Nav>,
    me: super::Me,
    role_labels: String,
    org_name: String,
    tokens: Vec<ApiTokenView>,
    new_token: Option<String>,
    token_name: String,
    token_days: String,
    error: Option<String>,
    notice: Option<&'static str>,
    /// The channels the user accepts (`notify`), a section of the page.
    channels: crate::notify::ChannelPrefs,
    channel_rows: Vec<crate::notify::ChannelRow>,
}

struct AccountArgs {
    new_token: Option<String>,
    token_name: String,
    token_days: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

async fn account_page(s: &AppState, a: &Authed, args: AccountArgs) -> PageResult {
    let me = super::me(s, a).await?;
    let org_name = match me.org_id {
        None => String::new(),
        Some(id) => orgs::get(s, &a.actor, id)
            .await
            .map(|o| o.name)
            .unwrap_or_else(|_| format!("机构 #{id}")),
    };
    let channels = crate::notify::my_channels(s, &a.actor).await?;
    Ok(render(&AccountPage {
        nav: Some(Nav::for_actor(&a.actor, "/account")),
        channel_rows: crate::notify::channel_rows(&channels),
        channels,
        role_labels: a.actor.roles.labels_zh(),
        org_name,
        tokens: super::list_tokens(s, &a.actor).await?,
        me,
        new_token: args.new_token,
        token_name: args.token_name,
        token_days: args.token_days,
        error: args.error,
        notice: args.notice,
    }))
}

async fn account(PageCaller(s, a): PageCaller, Query(q): Query<ShowQuery>) -> PageResult {
    let notice = match q.done.as_deref() {
        Some("revoked") => Some("令牌已吊销。"),
        Some("channels") => Some("接收渠道已保存。"),
        _ => None,
    };
    let args = AccountArgs {
        new_token: None,
        token_name: String::new(),
        token_days: "90".to_string(),
        error: None,
        notice,
    };
    account_page(&s, &a, args).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TokenForm {
    name: String,
    days: String,
}

async fn create_token(PageCaller(s, a): PageCaller, Form(f): Form<TokenForm>) -> PageResult {
    let days_text = f.days.trim();
    let days = if days_text.is_empty() {
        Ok(None)
    } else {
        days_text.parse::<i64>().map(Some).map_err(|_| {
            AppError::field(
                backstop_core::error::ErrorCode::Validation,
                "days",
                "有效期应为 1–3650 天",
            )
        })
    };
    let result = match days {
        Ok(days) => super::create_token(&s, &a.actor, &f.name, days).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((_, token)) => {
            let args = AccountArgs {
                new_token: Some(token),
                token_name: String::new(),
                token_days: "90".to_string(),
                error: None,
                notice: None,
            };
            account_page(&s, &a, args).await
        }
        Err(e) if is_page_error(&e) => Err(e.into()),
        Err(e) => {
            let status = e.status();
            let args = AccountArgs {
                new_token: None,
                token_name: clip(&f.name, 50),
                token_days: clip(days_text, 5),
                error: Some(e.message.clone()),
                notice: None,
            };
            Ok(with_status(account_page(&s, &a, args).await?, status))
        }
    }
}

async fn revoke_token(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    super::revoke_token(&s, &a.actor, id).await?;
    Ok(Redirect::to("/account?done=revoked").into_response())
}
