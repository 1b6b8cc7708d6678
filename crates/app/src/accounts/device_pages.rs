//! Pages of the device credentials and second factor of an account: "my devices"
//! (`/account/devices`, revoke one) and an account's devices for its managing officials and
//! the security administrator (`/users/{id}/devices`, revoke one; the security administrator
//! also resets the account's TOTP there). Every decision is in `accounts::devices` and
//! `accounts::reset_second_factor`; these handlers only show and forward.

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;

use crate::kernel::auth::{DeviceView, per_device};
use crate::kernel::handler::{PageCaller, PageId, page_id};
use crate::kernel::web::{DoneQuery, Nav, PageResult, Routes, render};

pub fn routes() -> Routes {
    vec![
        ("/account/devices", get(own)),
        ("/account/devices/{id}/revoke", post(revoke_own)),
        ("/users/{id}/devices", get(of_user)),
        (
            "/users/{id}/devices/{device_id}/revoke",
            post(revoke_of_user),
        ),
        ("/users/{id}/reset-totp", post(reset_totp)),
    ]
}

/// One credential as a row of the page (times in Beijing time).
struct Row {
    id: i64,
    label: String,
    created: String,
    expires: String,
    last_used: String,
    state: &'static str,
    active: bool,
}

fn rows(list: Vec<DeviceView>) -> Vec<Row> {
    let at = |ms: i64| backstop_core::clock::format_beijing(backstop_core::clock::from_millis(ms));
    list.into_iter()
        .map(|d| Row {
            id: d.id,
            created: at(d.created_at),
            expires: at(d.expires_at),
            last_used: d.last_used_at.map(at).unwrap_or_else(|| "—".to_string()),
            state: if d.active {
                "有效"
            } else if d.revoked_at.is_some() {
                "已注销"
            } else {
                "已过期"
            },
            active: d.active,
            label: d.label,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    nav: Option<Nav>,
    title: String,
    /// Where the revoke buttons post (`…/{id}/revoke` is appended).
    revoke_base: String,
    /// The account gives TOTP at every login (devices do not apply).
    every_login: bool,
    /// The security administrator may reset this account's TOTP here.
    reset_totp_for: Option<i64>,
    rows: Vec<Row>,
    notice: Option<&'static str>,
}

fn notice(q: &DoneQuery) -> Option<&'static str> {
    match q.done.as_deref() {
        Some("revoked") => Some("设备已注销：该浏览器下次登录须再输入动态验证码。"),
        Some("totp_reset") => Some("动态验证码已重置：该用户的登录已失效，下次登录须重新绑定。"),
        _ => None,
    }
}

async fn own(PageCaller(s, a): PageCaller, Query(q): Query<DoneQuery>) -> PageResult {
    let id = a
        .actor
        .user_id
        .ok_or_else(crate::kernel::error::AppError::forbidden)?;
    let list = super::list_devices(&s, &a.actor, id).await?;
    Ok(render(&DevicesPage {
        nav: Some(Nav::for_actor(&a.actor, "/account")),
        title: "我的登录设备".to_string(),
        revoke_base: "/account/devices".to_string(),
        every_login: !per_device(&a.user),
        reset_totp_for: None,
        rows: rows(list),
        notice: notice(&q),
    }))
}

async fn revoke_own(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    let me = a
        .actor
        .user_id
        .ok_or_else(crate::kernel::error::AppError::forbidden)?;
    super::revoke_device(&s, &a.actor, me, id).await?;
    Ok(Redirect::to("/account/devices?done=revoked").into_response())
}

async fn of_user(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let list = super::list_devices(&s, &a.actor, id).await?;
    let user = super::get_user(&s, &a.actor, id).await?;
    let roles = super::parse_roles(&user.roles).unwrap_or_default();
    let may_reset = a.actor.can(Permission::SecurityManage)
        && !roles.is_admin()
        && a.actor.user_id != Some(id)
        && user.totp_enabled;
    Ok(render(&DevicesPage {
        nav: Some(Nav::for_actor(&a.actor, "/users")),
        title: format!("{} 的登录设备", user.username),
        revoke_base: format!("/users/{id}/devices"),
        every_login: roles.second_factor() == backstop_core::role::SecondFactor::EveryLogin,
        reset_totp_for: may_reset.then_some(id),
        rows: rows(list),
        notice: notice(&q),
    }))
}

async fn revoke_of_user(
    PageCaller(s, a): PageCaller,
    Path((id, device_id)): Path<(String, String)>,
) -> PageResult {
    let (id, device_id) = (page_id(&id)?, page_id(&device_id)?);
    super::revoke_device(&s, &a.actor, id, device_id).await?;
    Ok(Redirect::to(&format!("/users/{id}/devices?done=revoked")).into_response())
}

async fn reset_totp(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    super::reset_second_factor(&s, &a.actor, id).await?;
    Ok(Redirect::to(&format!("/users/{id}/devices?done=totp_reset")).into_response())
}
