//! The page of one report (`/reports/view/{id}`): its values, and — when it was corrected —
//! every correction with who made it, when, whether the unit itself or someone above it, and
//! each changed value before → after, with the unit's own first submission kept in view
//! (issue 14, item 6). The data comes from `get_submission`, which reads the history.

use askama::Template;
use axum::extract::{Path, Query};
use backstop_core::role::Permission;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::form::Period;
use super::pages::show_value;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, render};

struct ValueRow {
    label: String,
    value: String,
}

/// One value a correction changed.
struct ChangeRow {
    label: String,
    before: String,
    after: String,
}

/// One correction as the page shows it.
struct CorrectionRow {
    n: i64,
    by: String,
    at: String,
    by_unit: bool,
    changes: Vec<ChangeRow>,
}

#[derive(Template)]
#[template(path = "reports_show.html")]
struct ShowPage {
    nav: Option<Nav>,
    saved: bool,
    id: i64,
    form_name: String,
    form_key: String,
    unit: String,
    unit_name: String,
    period: String,
    late: bool,
    submitted_at: String,
    submitted_by: String,
    corrections: i64,
    rows: Vec<ValueRow>,
    can_correct: bool,
    /// The unit's own first submission `(by, at, values)`, when the report was corrected.
    original: Option<(String, String, Vec<ValueRow>)>,
    history: Vec<CorrectionRow>,
}

#[derive(Deserialize)]
pub(super) struct SavedQuery {
    saved: Option<String>,
}

fn beijing(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| backstop_core::clock::format_beijing(t.with_timezone(&chrono::Utc)))
        .unwrap_or_default()
}

pub(super) async fn show(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<SavedQuery>,
) -> PageResult {
    let sub = super::get_submission(&s, &a.actor, id).await?;
    let form = super::get_form(&s, &a.actor, &sub.template, Some(sub.template_version)).await?;
    let labels: Vec<(String, String)> = form
        .spec
        .fields
        .iter()
        .map(|f| {
            let label = if f.unit.is_empty() {
                f.label.clone()
            } else {
                format!("{}（{}）", f.label, f.unit)
            };
            (f.key.clone(), label)
        })
        .collect();
    let rows_of = |values: &Map<String, Value>| -> Vec<ValueRow> {
        labels
            .iter()
            .map(|(k, l)| ValueRow {
                label: l.clone(),
                value: values.get(k).map(show_value).unwrap_or_default(),
            })
            .collect()
    };
    let rows = rows_of(&sub.values);
    let original = sub.history.first().map(|c| {
        (
            c.before_by.clone(),
            beijing(&c.before_at),
            rows_of(&c.before),
        )
    });
    let history = sub
        .history
        .iter()
        .map(|c| CorrectionRow {
            n: c.n,
            by: c.corrected_by.clone(),
            at: beijing(&c.corrected_at),
            by_unit: c.by_unit,
            changes: labels
                .iter()
                .filter(|(k, _)| c.before.get(k) != c.after.get(k))
                .map(|(k, l)| ChangeRow {
                    label: l.clone(),
                    before: c.before.get(k).map(show_value).unwrap_or_default(),
                    after: c.after.get(k).map(show_value).unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    Ok(render(&ShowPage {
        nav: Some(Nav::for_actor(&a.actor, "/reports")),
        saved: q.saved.is_some(),
        id: sub.id,
        form_name: form.name.clone(),
        can_correct: a.actor.can(Permission::ReportsSubmit) && form.period != Period::Immediate,
        form_key: form.key,
        unit: sub.unit,
        unit_name: sub.unit_name,
        period: sub.period,
        late: sub.late,
        submitted_at: beijing(&sub.submitted_at),
        submitted_by: sub.submitted_by,
        corrections: sub.corrections,
        rows,
        original,
        history,
    }))
}
