//! Report forms (`report_templates`): every version is a row; the latest is the one in use.

use sqlx::{AnyConnection, Row};

use crate::kernel::access::Tx;
use crate::kernel::error::AppResult;
use crate::kernel::queries::all;
use crate::reports::form::{Form, FormSpec, Period, UnitType};
use crate::state::AppState;

fn form_from_row(r: &sqlx::any::AnyRow) -> Result<Form, sqlx::Error> {
    let spec: String = r.try_get("spec")?;
    let spec: FormSpec = serde_json::from_str(&spec).unwrap_or_default();
    let period: String = r.try_get("period")?;
    let unit: String = r.try_get("unit_type")?;
    let kinds: String = r.try_get("org_kinds")?;
    let deadline: Option<i64> = r.try_get("deadline_minutes")?;
    Ok(Form {
        key: r.try_get("template_key")?,
        version: r.try_get("version")?,
        name: r.try_get("name")?,
        period: Period::parse(&period).unwrap_or(Period::Daily),
        deadline: deadline.map(|m| format!("{:02}:{:02}", m / 60, m % 60)),
        unit_type: UnitType::parse(&unit).unwrap_or(UnitType::Village),
        org_kinds: kinds
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        scope: r.try_get("scope")?,
        spec,
    })
}

const FORM_COLS: &str =
    "template_key, version, name, period, deadline_minutes, unit_type, org_kinds, scope, spec";

async fn insert_form(
    conn: &mut AnyConnection,
    f: &Form,
    builtin: bool,
    now: i64,
    by: &str,
    origin: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO report_templates (template_key, version, name, period, deadline_minutes, unit_type, \
         org_kinds, scope, spec, builtin, created_at, created_by, origin) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
    )
    .bind(&f.key)
    .bind(f.version)
    .bind(&f.name)
    .bind(f.period.as_str())
    .bind(f.deadline_minutes())
    .bind(f.unit_type.as_str())
    .bind(f.org_kinds.join(","))
    .bind(&f.scope)
    .bind(serde_json::to_string(&f.spec).unwrap_or_default())
    .bind(i64::from(builtin))
    .bind(now)
    .bind(by)
    .bind(origin)
    .execute(conn)
    .await?;
    Ok(())
}

/// Insert each of `forms` whose key has no version yet, in one transaction (start-up; the
/// system's own forms, not audited).
pub(in crate::reports) async fn install_missing(
    state: &AppState,
    forms: &[Form],
    now: i64,
) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    for f in forms {
        let have: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM report_templates WHERE template_key = $1 LIMIT 1",
        )
        .bind(&f.key)
        .fetch_optional(w.conn())
        .await?;
        if have.is_none() {
            insert_form(w.conn(), f, true, now, "system", "local").await?;
        }
    }
    w.commit().await?;
    Ok(())
}

/// The latest version of every form (`daily_only`: of the daily ones), by key.
pub(in crate::reports) async fn latest_forms(
    state: &AppState,
    daily_only: bool,
) -> AppResult<Vec<Form>> {
    let sql = if daily_only {
        format!(
            "SELECT {FORM_COLS} FROM report_templates t WHERE period = 'daily' AND version = \
             (SELECT MAX(version) FROM report_templates u WHERE u.template_key = t.template_key)"
        )
    } else {
        format!(
            "SELECT {FORM_COLS} FROM report_templates t WHERE version = \
             (SELECT MAX(version) FROM report_templates u WHERE u.template_key = t.template_key) ORDER BY template_key"
        )
    };
    all(state, sqlx::query(sqlx::AssertSqlSafe(sql)), form_from_row).await
}

/// One form: a given version, or the latest.
pub(in crate::reports) async fn form(
    state: &AppState,
    key: &str,
    version: Option<i64>,
) -> AppResult<Option<Form>> {
    let sql = match version {
        Some(_) => format!(
            "SELECT {FORM_COLS} FROM report_templates WHERE template_key = $1 AND version = $2"
        ),
        None => format!(
            "SELECT {FORM_COLS} FROM report_templates WHERE template_key = $1 ORDER BY version DESC LIMIT 1"
        ),
    };
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key);
    if let Some(v) = version {
        q = q.bind(v);
    }
    let row = q.fetch_optional(state.db.pool()).await?;
    Ok(row.as_ref().map(form_from_row).transpose()?)
}

/// The highest version of a key, inside the write that adds the next one.
pub(in crate::reports) async fn max_version(tx: &mut Tx, key: &str) -> AppResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT MAX(version) FROM report_templates WHERE template_key = $1")
            .bind(key)
            .fetch_one(tx.conn())
            .await?,
    )
}

/// Add a version made by `by`.
pub(in crate::reports) async fn insert_version(tx: &mut Tx, f: &Form, by: &str) -> AppResult<()> {
    let now = tx.now();
    insert_form(tx.conn(), f, false, now, by, "local").await?;
    Ok(())
}

/// Every version made at or after `since` (ms), oldest first, with when it was made: what a
/// parent sends down to its child deployments (issue 20).
pub(in crate::reports) async fn versions_since(
    state: &AppState,
    since: i64,
) -> AppResult<Vec<(Form, i64)>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {FORM_COLS}, created_at FROM report_templates WHERE created_at >= $1 \
         ORDER BY created_at, template_key, version"
    )))
    .bind(since)
    .fetch_all(state.db.pool())
    .await?;
    let row = |r: &sqlx::any::AnyRow| -> Result<(Form, i64), sqlx::Error> {
        Ok((form_from_row(r)?, r.try_get("created_at")?))
    };
    Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
}

/// Where a key's latest version came from (`local` or `parent`), if the key exists.
pub(in crate::reports) async fn latest_origin(
    state: &AppState,
    key: &str,
) -> AppResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT origin FROM report_templates WHERE template_key = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(key)
    .fetch_optional(state.db.pool())
    .await?)
}

/// Add a version sent down by the parent, marked as the parent's.
pub(in crate::reports) async fn insert_from_parent(
    tx: &mut Tx,
    f: &Form,
    by: &str,
) -> AppResult<()> {
    let now = tx.now();
    insert_form(tx.conn(), f, false, now, by, "parent").await?;
    Ok(())
}
