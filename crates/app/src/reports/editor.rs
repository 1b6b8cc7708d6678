//! The form editor (报表模板管理): officials with `reports.manage` list the forms, open one
//! and change its fields, rules, period, deadline and who must report, or start a new form.
//! Saving an existing form makes a new version (old submissions keep theirs); the service
//! (`reports::save_form`) validates and audits.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form as FormBody, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use backstop_core::role::Permission;
use serde_json::Value;

use super::form::{Field, FieldType, Form, FormSpec, Period, Rule, UnitType};
use crate::kernel::extract::Page;
use crate::kernel::web::{Nav, PageError, PageResult, render};
use crate::orgs::OrgKind;
use crate::state::AppState;

const TYPES: [(&str, &str); 7] = [
    ("integer", "整数"),
    ("decimal", "小数"),
    ("text", "文字"),
    ("choice", "选项"),
    ("yes_no", "是/否"),
    ("date", "日期"),
    ("temperature", "体温"),
];

fn type_str(t: FieldType) -> &'static str {
    match t {
        FieldType::Integer => "integer",
        FieldType::Decimal => "decimal",
        FieldType::Text => "text",
        FieldType::Choice => "choice",
        FieldType::YesNo => "yes_no",
        FieldType::Date => "date",
        FieldType::Temperature => "temperature",
    }
}

fn parse_type(s: &str) -> Option<FieldType> {
    Some(match s {
        "integer" => FieldType::Integer,
        "decimal" => FieldType::Decimal,
        "text" => FieldType::Text,
        "choice" => FieldType::Choice,
        "yes_no" => FieldType::YesNo,
        "date" => FieldType::Date,
        "temperature" => FieldType::Temperature,
        _ => return None,
    })
}

struct FormRow {
    key: String,
    name: String,
    version: i64,
    period: &'static str,
    deadline: String,
}

#[derive(Template)]
#[template(path = "reports_forms.html")]
struct ListPage {
    nav: Option<Nav>,
    forms: Vec<FormRow>,
    can_edit: bool,
}

pub async fn list(State(s): State<AppState>, Page(a): Page) -> PageResult {
    let forms = super::list_forms(&s, &a.actor).await?;
    Ok(render(&ListPage {
        nav: Some(Nav::for_actor(&a.actor, "/reports")),
        can_edit: a.actor.can(Permission::ReportsManage),
        forms: forms
            .into_iter()
            .map(|f| FormRow {
                key: f.key,
                name: f.name,
                version: f.version,
                period: f.period.label_zh(),
                deadline: f.deadline.unwrap_or_default(),
            })
            .collect(),
    }))
}

struct FieldRow {
    i: usize,
    key: String,
    label: String,
    kind: String,
    unit: String,
    required: bool,
    min: String,
    max: String,
    options: String,
}

struct RuleRow {
    i: usize,
    left: String,
    op: String,
    right: String,
    message: String,
}

#[derive(Template)]
#[template(path = "reports_form_edit.html")]
struct EditPage {
    nav: Option<Nav>,
    is_new: bool,
    key: String,
    name: String,
    version: i64,
    period: String,
    deadline: String,
    unit_type: String,
    scope: String,
    kinds: Vec<(&'static str, &'static str, bool)>,
    fields: Vec<FieldRow>,
    rules: Vec<RuleRow>,
    types: &'static [(&'static str, &'static str)],
    error: Option<String>,
}

fn num(v: Option<f64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

fn edit_page(
    a: &crate::kernel::auth::Authed,
    f: &Form,
    is_new: bool,
    error: Option<String>,
) -> Response {
    let mut fields: Vec<FieldRow> = f
        .spec
        .fields
        .iter()
        .enumerate()
        .map(|(i, x)| FieldRow {
            i,
            key: x.key.clone(),
            label: x.label.clone(),
            kind: type_str(x.kind).to_string(),
            unit: x.unit.clone(),
            required: x.required,
            min: num(x.min),
            max: num(x.max),
            options: x.options.join(","),
        })
        .collect();
    for i in fields.len()..fields.len() + 5 {
        fields.push(FieldRow {
            i,
            key: String::new(),
            label: String::new(),
            kind: "integer".into(),
            unit: String::new(),
            required: false,
            min: String::new(),
            max: String::new(),
            options: String::new(),
        });
    }
    let mut rules: Vec<RuleRow> = f
        .spec
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| RuleRow {
            i,
            left: r.left.clone(),
            op: r.op.clone(),
            right: match &r.right {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            },
            message: r.message.clone(),
        })
        .collect();
    for i in rules.len()..rules.len() + 3 {
        rules.push(RuleRow {
            i,
            left: String::new(),
            op: "<=".into(),
            right: String::new(),
            message: String::new(),
        });
    }
    render(&EditPage {
        nav: Some(Nav::for_actor(&a.actor, "/reports")),
        is_new,
        key: f.key.clone(),
        name: f.name.clone(),
        version: f.version,
        period: f.period.as_str().to_string(),
        deadline: f.deadline.clone().unwrap_or_default(),
        unit_type: f.unit_type.as_str().to_string(),
        scope: f.scope.clone(),
        kinds: OrgKind::ALL
            .iter()
            .map(|k| {
                (
                    k.as_str(),
                    k.label_zh(),
                    f.org_kinds.iter().any(|x| x == k.as_str()),
                )
            })
            .collect(),
        fields,
        rules,
        types: &TYPES,
        error,
    })
}

pub async fn edit(State(s): State<AppState>, Page(a): Page, Path(key): Path<String>) -> PageResult {
    a.actor.require(Permission::ReportsManage)?;
    let f = super::get_form(&s, &a.actor, &key, None).await?;
    Ok(edit_page(&a, &f, false, None))
}

pub async fn new(Page(a): Page) -> PageResult {
    a.actor.require(Permission::ReportsManage)?;
    let f = Form {
        key: String::new(),
        version: 0,
        name: String::new(),
        period: Period::Daily,
        deadline: Some("10:00".into()),
        unit_type: UnitType::Village,
        org_kinds: Vec::new(),
        scope: a.actor.scope.as_str().to_string(),
        spec: FormSpec::default(),
    };
    Ok(edit_page(&a, &f, true, None))
}

/// Build a form from the posted rows; problems in Chinese.
fn form_from_post(body: &HashMap<String, String>, kinds: Vec<String>) -> Result<Form, String> {
    let g = |k: &str| {
        body.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let period = Period::parse(&g("period")).ok_or("请选择报送周期")?;
    let unit_type = UnitType::parse(&g("unit_type")).ok_or("请选择填报单位")?;
    let mut fields = Vec::new();
    for i in 0..200 {
        let key = g(&format!("f{i}_key"));
        if !body.contains_key(&format!("f{i}_key")) {
            break;
        }
        if key.is_empty() {
            continue;
        }
        let kind = parse_type(&g(&format!("f{i}_type"))).ok_or(format!("字段“{key}”的类型无效"))?;
        let number = |name: &str| -> Result<Option<f64>, String> {
            let v = g(&format!("f{i}_{name}"));
            if v.is_empty() {
                Ok(None)
            } else {
                v.parse::<f64>()
                    .map(Some)
                    .map_err(|_| format!("字段“{key}”的{name}不是数字"))
            }
        };
        fields.push(Field {
            label: {
                let l = g(&format!("f{i}_label"));
                if l.is_empty() { key.clone() } else { l }
            },
            kind,
            unit: g(&format!("f{i}_unit")),
            required: body.contains_key(&format!("f{i}_required")),
            min: number("min")?,
            max: number("max")?,
            options: g(&format!("f{i}_options"))
                .split([',', '，'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            key,
        });
    }
    let mut rules = Vec::new();
    for i in 0..100 {
        if !body.contains_key(&format!("r{i}_left")) {
            break;
        }
        let left = g(&format!("r{i}_left"));
        if left.is_empty() {
            continue;
        }
        let right = g(&format!("r{i}_right"));
        rules.push(Rule {
            left,
            op: g(&format!("r{i}_op")),
            right: right
                .parse::<f64>()
                .map(Value::from)
                .unwrap_or(Value::from(right)),
            message: g(&format!("r{i}_message")),
        });
    }
    Ok(Form {
        key: g("key"),
        version: 0,
        name: g("name"),
        period,
        deadline: (period != Period::Immediate).then(|| g("deadline")),
        unit_type,
        org_kinds: kinds,
        scope: g("scope"),
        spec: FormSpec { fields, rules },
    })
}

pub async fn save(
    State(s): State<AppState>,
    Page(a): Page,
    FormBody(pairs): FormBody<Vec<(String, String)>>,
) -> Response {
    if let Err(e) = a.actor.require(Permission::ReportsManage) {
        return PageError(e).into_response();
    }
    // Repeated checkbox names (org kinds) come as repeated pairs.
    let kinds: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "org_kinds")
        .map(|(_, v)| v.clone())
        .collect();
    let map: HashMap<String, String> = pairs
        .into_iter()
        .filter(|(k, _)| k != "org_kinds")
        .collect();
    let is_new = map.get("is_new").is_some_and(|v| v == "1");
    let form = match form_from_post(&map, kinds) {
        Ok(f) => f,
        Err(m) => {
            let mut r = edit_page(&a, &fallback(&map), is_new, Some(m));
            *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            return r;
        }
    };
    if is_new
        && super::load_form(&s, form.key.trim(), None)
            .await
            .ok()
            .flatten()
            .is_some()
    {
        let mut r = edit_page(&a, &form, true, Some("该标识已被其他报表使用".into()));
        *r.status_mut() = axum::http::StatusCode::CONFLICT;
        return r;
    }
    match super::save_form(&s, &a.actor, &form).await {
        Ok(saved) => Redirect::to(&format!(
            "/reports/forms/{}/edit?saved={}",
            saved.key, saved.version
        ))
        .into_response(),
        Err(e) if e.code == backstop_core::error::ErrorCode::NotFound => {
            PageError(e).into_response()
        }
        Err(e) => {
            let mut r = edit_page(&a, &form, is_new, Some(e.message.clone()));
            *r.status_mut() = e.status();
            r
        }
    }
}

/// A form to re-show when the post could not be read at all.
fn fallback(map: &HashMap<String, String>) -> Form {
    Form {
        key: map.get("key").cloned().unwrap_or_default(),
        version: 0,
        name: map.get("name").cloned().unwrap_or_default(),
        period: Period::Daily,
        deadline: Some("10:00".into()),
        unit_type: UnitType::Village,
        org_kinds: Vec::new(),
        scope: map.get("scope").cloned().unwrap_or_default(),
        spec: FormSpec::default(),
    }
}
