//! The security administrator's settings page (`/security`): the password, lockout and session
//! rules, the longest personal-token lifetime and the roles whose second factor is waived —
//! what `docs/OPERATIONS.md` describes, changed without a restart. Every rule, bound and the
//! audit entry are in `kernel::auth::settings`; the page shows the values in force and sends
//! the form there, keeping what was typed when a value is refused.

use askama::Template;
use axum::extract::{Form, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use backstop_core::role::{Permission, Role, RoleSet, SecondFactor};

use crate::kernel::auth::{self, SecuritySettings};
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{DoneQuery, Nav, PageResult, Routes, render, with_status};

pub fn routes() -> Routes {
    vec![("/security", get(show).post(save))]
}

struct Field {
    name: &'static str,
    label: &'static str,
    lo: i64,
    hi: i64,
    value: String,
}

struct RoleBox {
    id: &'static str,
    label: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "security_settings.html")]
struct SettingsPage {
    nav: Option<Nav>,
    fields: Vec<Field>,
    token_max_days: String,
    roles: Vec<RoleBox>,
    error: Option<String>,
    error_field: String,
    notice: Option<&'static str>,
}

/// The page, with the given values in the fields (the settings in force, or what was typed).
fn page(
    a: &auth::Authed,
    values: &dyn Fn(&str) -> String,
    waived: &[String],
    error: Option<(String, String)>,
    notice: Option<&'static str>,
) -> SettingsPage {
    let (error, error_field) = match error {
        Some((m, f)) => (Some(m), f),
        None => (None, String::new()),
    };
    SettingsPage {
        nav: Some(Nav::for_actor(&a.actor, "/security")),
        fields: auth::rule_fields()
            .into_iter()
            .map(|(name, label, lo, hi)| Field {
                name,
                label,
                lo,
                hi,
                value: values(name),
            })
            .collect(),
        token_max_days: values("token_max_days"),
        roles: Role::ALL
            .iter()
            .filter(|r| {
                !r.is_service()
                    && RoleSet::new([**r]).second_factor() == SecondFactor::PerDeviceWaivable
            })
            .map(|r| RoleBox {
                id: r.as_str(),
                label: r.label_zh(),
                checked: waived.iter().any(|w| w == r.as_str()),
            })
            .collect(),
        error,
        error_field,
        notice,
    }
}

fn in_force(s: &SecuritySettings, name: &str) -> String {
    let v = if name == "token_max_days" {
        Some(s.token_max_days)
    } else {
        s.rule(name)
    };
    v.map(|v| v.to_string()).unwrap_or_default()
}

async fn show(PageCaller(s, a): PageCaller, Query(q): Query<DoneQuery>) -> PageResult {
    a.actor.require(Permission::SecurityManage)?;
    let now = auth::security_settings(&s).await?;
    let notice = (q.done.as_deref() == Some("saved")).then_some("已保存，新的规则立即生效。");
    Ok(render(&page(
        &a,
        &|n| in_force(&now, n),
        &now.second_factor_waived_roles,
        None,
        notice,
    )))
}

async fn save(PageCaller(s, a): PageCaller, Form(f): Form<Vec<(String, String)>>) -> PageResult {
    a.actor.require(Permission::SecurityManage)?;
    let typed = |n: &str| {
        f.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.trim().chars().take(12).collect::<String>())
            .unwrap_or_default()
    };
    let waived: Vec<String> = f
        .iter()
        .filter(|(k, _)| k == "waived")
        .map(|(_, v)| v.clone())
        .collect();
    let number = |n: &str| -> Result<Option<i64>, (String, String)> {
        let t = typed(n);
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<i64>()
            .map(Some)
            .map_err(|_| ("请填写整数".to_string(), n.to_string()))
    };
    let parsed = (|| {
        Ok::<_, (String, String)>(SecuritySettings {
            token_max_days: number("token_max_days")?.ok_or_else(|| {
                (
                    "请填写令牌最长有效期".to_string(),
                    "token_max_days".to_string(),
                )
            })?,
            second_factor_waived_roles: waived.clone(),
            password_min_len: number("password_min_len")?,
            password_min_classes: number("password_min_classes")?,
            password_max_age_days: number("password_max_age_days")?,
            max_failures: number("max_failures")?,
            lockout_minutes: number("lockout_minutes")?,
            session_idle_minutes: number("session_idle_minutes")?,
            session_absolute_minutes: number("session_absolute_minutes")?,
        })
    })();
    let result = match parsed {
        Ok(input) => auth::set_security_settings(&s, &a.actor, &input)
            .await
            .map_err(|e| {
                let field = e
                    .fields
                    .first()
                    .map(|f| f.field.clone())
                    .unwrap_or_default();
                (e.message.clone(), field)
            }),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/security?done=saved").into_response()),
        Err(err) => Ok(with_status(
            render(&page(&a, &typed, &waived, Some(err), None)),
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        )),
    }
}
