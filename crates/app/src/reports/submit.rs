//! Submitting a report: the checks before the write (form, unit and scope, period, values,
//! lateness), idempotency (a retry gets its first answer), corrections until a lock, and the
//! write itself — one job of the group commit (`Db::write`, ADR 0006) with the submission, its
//! rollup deltas (ADR 0005), the idempotency record and the audit entry in one transaction.

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use backstop_store::Script;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::corrections::{self, Correction};
use super::form::{self, FieldType, Form, Period};
use super::periods::{deadline_ms, parse_period};
use super::rollup::rollup_values;
use super::units::{Unit, may_report_for_org, resolve_unit, unit_is_region, unit_name};
use super::{load_form, queries, require_reports};
use crate::audit::{self, Entry, Who};
use crate::kernel::access::text_len;
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, FieldError};
use crate::state::AppState;

/// Body of `POST /api/v1/reports`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SubmitInput {
    /// Form key, e.g. `village_daily`.
    pub template: String,
    /// A 12-digit village code, or an organisation id, as the form requires.
    #[schema(value_type = Object)]
    pub unit: Value,
    /// `YYYY-MM-DD` (daily, immediate), `YYYY-Www` (weekly), `YYYY-MM` (monthly).
    pub period: String,
    #[schema(value_type = Object)]
    pub values: Value,
    /// The form version the values were filled against; default the latest. An older version
    /// (a phone or a child deployment that had not yet received the new one) is validated and
    /// stored against that version, and the submission says which (`template_version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// A stored submission.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Submission {
    pub id: i64,
    pub template: String,
    pub template_version: i64,
    pub unit: String,
    pub unit_name: String,
    pub region_code: String,
    pub period: String,
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
    pub late: bool,
    /// UTC, RFC 3339.
    pub submitted_at: String,
    pub submitted_by: String,
    pub corrections: i64,
    /// Every correction, oldest first, with the values it replaced (the first one's
    /// `before` is the unit's own submission). Filled when one report is read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Correction>,
}

/// What submitting did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Corrected,
    /// A retry with a known idempotency key: the first answer, unchanged.
    Replayed,
}

fn validation_error(problems: Vec<form::FieldProblem>) -> AppError {
    let msg = problems
        .iter()
        .map(|p| p.message.clone())
        .collect::<Vec<_>>()
        .join("；");
    AppError {
        code: ErrorCode::Validation,
        message: msg,
        fields: problems
            .into_iter()
            .map(|p| FieldError {
                field: p.field,
                message: p.message,
            })
            .collect(),
    }
}

/// Submit (or correct) a report. With an idempotency key, a retry returns the first answer
/// and never creates a second submission; the key is stored in the same transaction.
///
/// The write is one job of the group commit (ADR 0006; on PostgreSQL too, ADR 0016), and every
/// statement in it is a round trip (to the single writer's worker thread on SQLite, to the
/// server on PostgreSQL), so it is kept to a few: one read of everything the decision needs
/// (idempotency key, lock, an existing report, the unit region's name — on PostgreSQL also the
/// audit chain's lock and head and the new report's id), then one script with the rest — the
/// insert, the rollup upserts at every level, the outbox event, the idempotency record and the
/// audit entry — sent as one statement on PostgreSQL. On SQLite the insert (for its id) and
/// the chain's head are a statement each.
///
/// Counted in `/metrics` as `backstop_reports_submitted_total` by backend and outcome.
pub async fn submit(
    state: &AppState,
    actor: &Actor,
    input: &SubmitInput,
    idempotency_key: Option<&str>,
) -> AppResult<(Outcome, Submission)> {
    let r = submit_once(state, actor, input, idempotency_key).await;
    let outcome = match &r {
        Ok((Outcome::Created, _)) => "created",
        Ok((Outcome::Corrected, _)) => "corrected",
        Ok((Outcome::Replayed, _)) => "replayed",
        Err(_) => "refused",
    };
    metrics::counter!("backstop_reports_submitted_total",
        "backend" => state.db.engine(), "outcome" => outcome)
    .increment(1);
    r
}

async fn submit_once(
    state: &AppState,
    actor: &Actor,
    input: &SubmitInput,
    idempotency_key: Option<&str>,
) -> AppResult<(Outcome, Submission)> {
    actor.require(Permission::ReportsSubmit)?;
    // Keyed: an immediate report's values are sealed at rest, their hash must not be a test.
    let mut request = json!([input.template, input.unit, input.period, input.values]);
    if let (Some(v), Some(a)) = (input.version, request.as_array_mut()) {
        a.push(json!(v));
    }
    let request_hash = state
        .keys
        .keyed_hash("report_request", request.to_string().as_bytes());
    if let Some(k) = idempotency_key
        && (k.is_empty() || k.len() > 200)
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "Idempotency-Key",
            "长度应为 1–200",
        ));
    }
    let prepared = match prepare_submission(state, actor, input).await {
        Ok(p) => p,
        Err(e) => {
            // A retry is answered with its first answer even if the request would no longer
            // pass (the form changed, the unit left the form's scope, …); a key reused for
            // another body is a conflict.
            if let Some(k) = idempotency_key
                && let Some(prev) = replay(state, actor, k, &request_hash).await?
            {
                return Ok((Outcome::Replayed, prev));
            }
            return Err(e);
        }
    };
    let Prepared {
        form,
        mut unit,
        period,
        values,
        late,
        now,
    } = prepared;
    let body = Value::Object(values.clone()).to_string();
    let st = state.clone();
    let backend = state.db.backend();
    let who = Who::from(actor);
    let actor_name = actor.username.clone();
    let by_unit = corrections::by_own_unit(actor, &unit);
    // Kept under the user's own province (for a unit's own staff, the unit's: one shard).
    let idem = idempotency_key
        .zip(actor.user_id)
        .map(|(k, u)| (actor.province().to_string(), u, k.to_string()));
    // The province's lane: its jobs share a batch and its audit chain's lock (`Db::write`).
    let lane = queries::province_of(&unit).to_string();
    let job = state.db.write(&lane, move |conn, deferred| {
        Box::pin(async move {
            let look = queries::look_up(&mut *conn, &st.keys, backend, &form, &unit, &period, idem.as_ref()).await?;
            // A concurrent retry with the same key may have committed since.
            if let Some((hash, response)) = look.idem {
                if hash != request_hash {
                    return Err(AppError::msg(
                        ErrorCode::Conflict,
                        "该 Idempotency-Key 已用于另一份不同的报表",
                    ));
                }
                if let Ok(sub) = serde_json::from_str::<Submission>(&response) {
                    return Ok((Outcome::Replayed, sub));
                }
            }
            if unit_is_region(&unit) {
                unit.name = match look.region_name {
                    Some(n) => n,
                    None if unit.literal => {
                        return Err(AppError::field(
                            ErrorCode::Validation,
                            "unit",
                            "此表由村（社区）填报，请填写 12 位村（社区）代码",
                        ));
                    }
                    None => return Err(AppError::not_found()),
                };
            }
            if look.locked {
                return Err(AppError::msg(
                    ErrorCode::Conflict,
                    "上级已锁定该时段的报表，不能再修改；如需更正请联系上级解锁",
                ));
            }
            let mut script = Script::new();
            // The audit chain of the unit's province: locked and read by the look-up on
            // PostgreSQL, here on SQLite (under its writer lock); the entry goes in the script.
            let chain_name = audit::chain_of(unit.region.as_str()).to_string();
            let mut chain = match look.chain_head {
                Some(head) => audit::Chain::locked(&chain_name, head),
                None => {
                    let mut c = audit::Chain::default();
                    c.start(&mut *conn, &chain_name).await?;
                    c
                }
            };
            let (outcome, sub) = match look.existing {
                Some(existing_id) => {
                    let (old, old_at) =
                        queries::existing_report(&mut *conn, &st.keys, (queries::province_of(&unit), existing_id), unit.name.clone())
                            .await?;
                    // Rollups: subtract the old values (of the old version's fields) and add the new.
                    let old_form = if old.template_version == form.version {
                        form.clone()
                    } else {
                        load_form(&st, &form.key, Some(old.template_version))
                            .await?
                            .unwrap_or_else(|| form.clone())
                    };
                    let mut deltas = rollup_values(&form, &values);
                    for (k, v) in rollup_values(&old_form, &old.values) {
                        match deltas.iter_mut().find(|(f, _)| *f == k) {
                            Some(d) => d.1 -= v,
                            None => deltas.push((k, -v)),
                        }
                    }
                    queries::push_correction(
                        &mut script,
                        &st.keys,
                        (queries::province_of(&unit), old.id),
                        &body,
                        form.version,
                        now,
                        &actor_name,
                    );
                    queries::push_rollups(deferred, &form, &period, &unit.region, None, &deltas);
                    corrections::record(
                        &mut *conn,
                        &mut script,
                        &st.keys,
                        &corrections::Recorded {
                            form: &form,
                            unit: &unit,
                            report_id: old.id,
                            n: old.corrections + 1,
                            before: &old.values,
                            before_by: &old.submitted_by,
                            before_at: old_at,
                            after: &body,
                            by: &actor_name,
                            by_unit,
                            period: &period,
                            now,
                        },
                    )
                    .await?;
                    let changed = changed_values(&form, &old.values, &values);
                    let detail = json!({"template": form.key, "unit": unit.key, "period": period, "changes": changed});
                    let entry = report_entry("report.correct", old.id, &unit, detail);
                    chain.push(&mut script, backend, now, &who, &[entry])?;
                    let sub = Submission {
                        values: values.clone(),
                        template_version: form.version,
                        submitted_by: actor_name.clone(),
                        corrections: old.corrections + 1,
                        ..old
                    };
                    (Outcome::Corrected, sub)
                }
                None => {
                    let seq = look.immediate_count.map_or(0, |n| n + 1);
                    let new = queries::NewReport {
                        keys: &st.keys,
                        form: &form,
                        unit: &unit,
                        period: &period,
                        body: &body,
                        late,
                        now,
                        by: &actor_name,
                        seq,
                    };
                    // PostgreSQL: the id is known, the insert goes with the rest in one statement.
                    let id = match look.next_id {
                        Some(id) => {
                            queries::push_report(&mut script, &new, id);
                            id
                        }
                        None => queries::insert_report(&mut *conn, &new).await?,
                    };
                    queries::push_rollups(
                        deferred,
                        &form,
                        &period,
                        &unit.region,
                        Some((1, i64::from(!late))),
                        &rollup_values(&form, &values),
                    );
                    let detail = json!({"template": form.key, "unit": unit.key, "period": period, "late": late});
                    let entry = report_entry("report.submit", id, &unit, detail);
                    chain.push(&mut script, backend, now, &who, &[entry])?;
                    if form.period == Period::Immediate {
                        queries::notify_incident(&mut *conn, &form, &unit, id, &values, now).await?;
                    }
                    // What was just inserted; no need to read it back.
                    let sub = Submission {
                        id,
                        template: form.key.clone(),
                        template_version: form.version,
                        unit: unit.key.clone(),
                        unit_name: unit.name.clone(),
                        region_code: unit.region.to_string(),
                        period: period.clone(),
                        values: values.clone(),
                        late,
                        submitted_at: backstop_core::clock::from_millis(now).to_rfc3339(),
                        submitted_by: actor_name.clone(),
                        corrections: 0,
                        history: Vec::new(),
                    };
                    (Outcome::Created, sub)
                }
            };
            // Up to the parent deployment, when there is one (issue 20): in this same job.
            crate::federation::child::push_report(
                &mut script,
                &st.keys,
                sub.id,
                sub.corrections,
                &sub.template,
                sub.template_version,
                &sub.unit,
                &sub.region_code,
                &sub.period,
                &sub.values,
                now,
            );
            if let Some((province, uid, k)) = &idem {
                let status: i64 = if outcome == Outcome::Created { 201 } else { 200 };
                queries::push_idempotency(
                    &mut script,
                    &st.keys,
                    (province, *uid, k),
                    &request_hash,
                    status,
                    &sub,
                    now,
                );
            }
            queries::run_script(&mut *conn, script, &st.db).await?;
            Ok::<_, AppError>((outcome, sub))
        })
    });
    Ok(job.await?)
}

/// The audit entry of a report written for `unit` (appended inside the submission's job).
fn report_entry(action: &'static str, id: i64, unit: &Unit, detail: Value) -> Entry<'static> {
    Entry {
        action,
        object_type: "report",
        object_id: id.to_string(),
        region_code: unit.region.to_string(),
        outcome: "success",
        detail,
    }
}

/// What a correction changed, for its audit entry: before → after of each changed field; a
/// text field (a remark, free text about people, sealed in the row) only by its length.
fn changed_values(
    form: &Form,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Map<String, Value> {
    let text_fields: Vec<&str> = form
        .spec
        .fields
        .iter()
        .filter(|f| f.kind == FieldType::Text)
        .map(|f| f.key.as_str())
        .collect();
    let shown = |v: Option<&Value>, text: bool| match v {
        Some(Value::String(s)) if text => text_len(s),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    let mut changed = Map::new();
    for k in after.keys().chain(before.keys()) {
        let (b, a) = (before.get(k), after.get(k));
        if b != a {
            // Unknown keys are not in the form; treat them as text, to be safe.
            let text =
                text_fields.contains(&k.as_str()) || !form.spec.fields.iter().any(|f| &f.key == k);
            changed.insert(
                k.clone(),
                json!({"before": shown(b, text), "after": shown(a, text)}),
            );
        }
    }
    changed
}

/// A checked submission, ready to write.
struct Prepared {
    form: Form,
    unit: Unit,
    period: String,
    values: Map<String, Value>,
    late: bool,
    now: i64,
}

/// Everything checked before the write: the form, the unit (scope), the period, the values.
async fn prepare_submission(
    state: &AppState,
    actor: &Actor,
    input: &SubmitInput,
) -> AppResult<Prepared> {
    let mut form = load_form(state, input.template.trim(), None)
        .await?
        .ok_or_else(|| AppError::field(ErrorCode::Validation, "template", "没有这个报表"))?;
    if let Some(v) = input.version.filter(|v| *v != form.version) {
        form = load_form(state, &form.key, Some(v))
            .await?
            .filter(|f| f.version < form.version)
            .ok_or_else(|| {
                AppError::field(
                    ErrorCode::Validation,
                    "version",
                    format!("没有该报表的第 {v} 版"),
                )
            })?;
    }
    let unit = resolve_unit(state, actor, &form, &input.unit).await?;
    let now = state.now_ms();
    let (period, end) = parse_period(form.period, &input.period, state.today())
        .map_err(|m| AppError::field(ErrorCode::Validation, "period", m))?;
    let values = form::validate(&form, &input.values).map_err(validation_error)?;
    let late = deadline_ms(&form, end).is_some_and(|d| now > d);
    Ok(Prepared {
        form,
        unit,
        period,
        values,
        late,
        now,
    })
}

async fn replay(
    state: &AppState,
    actor: &Actor,
    key: &str,
    hash: &str,
) -> AppResult<Option<Submission>> {
    let Some(uid) = actor.user_id else {
        return Ok(None);
    };
    let Some((stored_hash, body)) =
        queries::idempotency_record(state, (actor.province(), uid), key).await?
    else {
        return Ok(None);
    };
    if stored_hash != hash {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            "该 Idempotency-Key 已用于另一份不同的报表",
        ));
    }
    Ok(serde_json::from_str(&body).ok())
}

/// One submission, if its unit is in scope.
pub async fn get_submission(state: &AppState, actor: &Actor, id: i64) -> AppResult<Submission> {
    require_reports(actor)?;
    let mut sub = queries::report(state, &actor.everywhere(), id).await?;
    let org = sub.unit.strip_prefix("org:").and_then(|o| o.parse().ok());
    if org.is_some_and(|o| !may_report_for_org(actor, o)) {
        return Err(AppError::not_found());
    }
    sub.unit_name = unit_name(state, &sub.unit).await?;
    if sub.corrections > 0 {
        let scope = actor.everywhere();
        sub.history = corrections::history(state, &scope, sub.id, &sub.region_code).await?;
    }
    Ok(sub)
}
