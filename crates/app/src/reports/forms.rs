//! The form store: the built-in forms installed at start-up, listing and loading forms (the
//! latest version through [`FormCache`]), and saving a form as a new version, audited. The
//! forms themselves (fields, rules, validation) are described in `form`.

use backstop_core::error::ErrorCode;
use backstop_core::region::Scope;
use backstop_core::role::Permission;
use serde_json::json;

use super::form::{self, Form, Period};
use super::periods::parse_period;
use super::{queries, require_reports};
use crate::kernel::access::{Change, Scoped, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Install the built-in forms (version 1) if absent. Idempotent.
pub async fn ensure_builtin_forms(state: &AppState) -> AppResult<()> {
    queries::install_missing(state, &form::builtin_forms(), state.now_ms()).await
}

/// Does the actor see a form of scope `form_scope`? When the form covers the actor (the
/// units below fill it in) or the actor covers the form (the offices above manage and read
/// it) — never a sibling region's form.
fn visible(actor: &Actor, form_scope: &str) -> bool {
    Scope::parse(form_scope).is_ok_and(|f| {
        actor.is_operator() || f.contains_scope(&actor.scope) || actor.scope.contains_scope(&f)
    })
}

/// The latest version of every form the actor sees.
pub async fn list_forms(state: &AppState, actor: &Actor) -> AppResult<Vec<Form>> {
    require_reports(actor)?;
    let mut forms = queries::latest_forms(state, false).await?;
    forms.retain(|f| visible(actor, &f.scope));
    Ok(forms)
}

/// One form: the latest version, or a given one.
pub async fn get_form(
    state: &AppState,
    actor: &Actor,
    key: &str,
    version: Option<i64>,
) -> AppResult<Form> {
    require_reports(actor)?;
    load_form(state, key, version)
        .await?
        .filter(|f| visible(actor, &f.scope))
        .ok_or_else(AppError::not_found)
}

/// The latest version of each form, kept in memory for a few seconds: every submission needs
/// it, and forms change rarely. `save_form` clears it; another process's change (a second
/// server on the same PostgreSQL) is seen within `FormCache::TTL`. Only found forms are kept.
#[derive(Default)]
pub struct FormCache(
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Form)>>,
);

impl FormCache {
    const TTL: std::time::Duration = std::time::Duration::from_secs(5);

    fn get(&self, key: &str) -> Option<Form> {
        let map = self.0.lock().ok()?;
        let (at, form) = map.get(key)?;
        (at.elapsed() < Self::TTL).then(|| form.clone())
    }

    fn put(&self, form: &Form) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(form.key.clone(), (std::time::Instant::now(), form.clone()));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }
}

/// The latest form a reader of reports asks for by key (trimmed), after checking the handle's
/// actor may read reports: *not found* when there is no such form.
pub(crate) async fn form_to_read(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
) -> AppResult<Form> {
    scope.require(Permission::ReportsRead)?;
    load_form(state, template.trim(), None)
        .await?
        .ok_or_else(AppError::not_found)
}

/// [`form_to_read`] and the period asked for, parsed for the form's period type (a field
/// error on `period` when it is not one).
pub(crate) async fn form_and_period(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
) -> AppResult<(Form, String)> {
    let form = form_to_read(state, scope, template).await?;
    let (period, _) = parse_period(form.period, period, state.today())
        .map_err(|m| AppError::field(ErrorCode::Validation, "period", m))?;
    Ok((form, period))
}

/// A form by key: a given version, or the latest (from the cache when fresh).
pub(crate) async fn load_form(
    state: &AppState,
    key: &str,
    version: Option<i64>,
) -> AppResult<Option<Form>> {
    if version.is_none()
        && let Some(hit) = state.forms.get(key)
    {
        return Ok(Some(hit));
    }
    let form = queries::form(state, key, version).await?;
    if let (None, Some(f)) = (version, form.as_ref()) {
        state.forms.put(f);
    }
    Ok(form)
}

/// Save a form: a new key starts at version 1; a change to an existing key makes a new
/// version (old submissions keep theirs).
pub async fn save_form(state: &AppState, actor: &Actor, input: &Form) -> AppResult<Form> {
    actor.require(Permission::ReportsManage)?;
    let key = input.key.trim();
    if key.is_empty()
        || key.len() > 40
        || !key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "key",
            "只能用小写字母、数字和下划线，最多 40 个字符",
        ));
    }
    let name = crate::kernel::error::text_field("name", &input.name, 100, true)?;
    let scope = Scope::parse(&input.scope)
        .map_err(|e| AppError::field(ErrorCode::InvalidRegionCode, "scope", e.to_string()))?;
    if !actor.scope.contains_scope(&scope) {
        return Err(AppError::not_found());
    }
    if input.period != Period::Immediate && input.deadline_minutes().is_none() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "deadline",
            "应为 HH:MM",
        ));
    }
    if input.spec.fields.is_empty() || input.spec.fields.len() > 100 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "fields",
            "字段数应为 1–100",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for f in &input.spec.fields {
        if f.key.is_empty() || f.key.len() > 40 || !seen.insert(f.key.as_str()) {
            return Err(AppError::field(
                ErrorCode::Validation,
                "fields",
                format!("字段标识“{}”为空、过长或重复", f.key),
            ));
        }
    }
    for r in &input.spec.rules {
        if input.field(&r.left).is_none() || !["<=", "<", ">=", ">", "=="].contains(&r.op.as_str())
        {
            return Err(AppError::field(
                ErrorCode::Validation,
                "rules",
                format!("规则“{}”无效", r.message),
            ));
        }
    }
    // A new version of an existing form only by someone who manages its present scope: a
    // sibling region cannot take another's form over (it reads as not found).
    if let Some(existing) = queries::form(state, key, None).await?
        && !actor.is_operator()
        && !Scope::parse(&existing.scope).is_ok_and(|s| actor.scope.contains_scope(&s))
    {
        return Err(AppError::not_found());
    }
    // A form the parent deployment sent down is the parent's (issue 20): not edited here.
    if queries::latest_origin(state, key).await?.as_deref() == Some("parent") {
        return Err(AppError::parent_owned("表"));
    }
    let mut tx = Tx::begin(state, actor).await?;
    let current = queries::max_version(&mut tx, key).await?;
    let mut f = input.clone();
    f.key = key.to_string();
    f.name = name;
    f.scope = scope.as_str().to_string();
    f.version = current.unwrap_or(0) + 1;
    queries::insert_version(&mut tx, &f, &actor.username).await?;
    let action = if f.version == 1 {
        "report_form.create"
    } else {
        "report_form.version"
    };
    tx.commit(
        Change::new(action, "report_form", format!("{}@{}", f.key, f.version), f.scope.clone())
            .detail(json!({"version": {"before": current, "after": f.version}, "fields": f.spec.fields.len()})),
    )
    .await?;
    state.forms.clear();
    Ok(f)
}

/// A form version with when it was made (what a parent sends down).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct OwnedForm {
    pub form: Form,
    /// When the version was made at the parent (ms): the child's cursor.
    pub created_at: i64,
}

/// The form versions made here at or after `since` (ms) that concern `region` — the nation's,
/// those of a region above it, and those of a region inside it — for a child deployment of
/// that region (issue 20 item 3). The caller has authenticated the node.
pub async fn owned_since(state: &AppState, region: &str, since: i64) -> AppResult<Vec<OwnedForm>> {
    Ok(queries::versions_since(state, since)
        .await?
        .into_iter()
        .filter(|(f, _)| {
            f.scope == "0" || region.starts_with(&f.scope) || f.scope.starts_with(region)
        })
        .map(|(form, created_at)| OwnedForm { form, created_at })
        .collect())
}

/// Take a form version sent down by the parent (the federation sync, as the system): added
/// and marked as the parent's; `false` when this very version is here already (taking it twice
/// changes nothing); a conflict when a different version of that number was made here.
pub async fn take_from_parent(state: &AppState, f: &Form) -> AppResult<bool> {
    if let Some(have) = queries::form(state, &f.key, Some(f.version)).await? {
        let same = serde_json::to_value(&have).ok() == serde_json::to_value(f).ok();
        return if same {
            Ok(false)
        } else {
            Err(AppError::msg(
                ErrorCode::Conflict,
                format!(
                    "本级已有报表“{}”第 {} 版，与上级下发的不同",
                    f.key, f.version
                ),
            ))
        };
    }
    let system = crate::audit::Who::system("federation");
    let mut tx = Tx::begin_as(state, system).await?;
    queries::insert_from_parent(&mut tx, f, "parent").await?;
    tx.commit(
        Change::new(
            "report_form.from_parent",
            "report_form",
            format!("{}@{}", f.key, f.version),
            f.scope.clone(),
        )
        .detail(json!({"version": f.version, "fields": f.spec.fields.len()})),
    )
    .await?;
    state.forms.clear();
    Ok(true)
}
