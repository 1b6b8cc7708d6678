//! Submissions (`report_submissions`), their idempotency records and the incident notices an
//! immediate report sends. The write-side functions take the connection of the group-commit
//! job (`Db::write`) and keep the statements ADR 0006 counts: one look-up, the insert (or one
//! read of the report being corrected), one script, the audit entry (appended by the job).
//!
//! A report's values are sealed: an immediate report's (即报: what happened, to whom, what was
//! done) since migration 0025, a periodic report's (its remarks are free text about people)
//! and a correction's before/after bodies since migration 0047 — `body` is `''` and
//! `body_enc` holds the ciphertext. The figures the rollups need are in the rollup tables,
//! never read back from the body. An idempotency record's stored answer (which repeats the
//! values) is sealed the same way for every form. Readers open them with `privacy::text`,
//! which also reads rows of earlier versions.

use backstop_store::{Arg, Backend, Script, repeat_list};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::kernel::access::Scoped;
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::AppResult;
use crate::kernel::queries::admitted;
use crate::privacy;
use crate::reports::form::{Form, Period};
use crate::reports::rollup::rollup_codes;
use crate::reports::submit::Submission;
use crate::reports::units::{Unit, unit_is_region};
use crate::state::AppState;

const SUB_COLS: &str = "id, template_key, template_version, unit, region_code, period, body, body_enc, \
    late, submitted_at, submitted_by, corrections";

fn submission_from_row(
    keys: &KeyRing,
    r: &AnyRow,
    unit_name: String,
) -> Result<Submission, sqlx::Error> {
    let body = privacy::text(keys, r, "body")?;
    let at: i64 = r.try_get("submitted_at")?;
    Ok(Submission {
        id: r.try_get("id")?,
        template: r.try_get("template_key")?,
        template_version: r.try_get("template_version")?,
        unit: r.try_get("unit")?,
        unit_name,
        region_code: r.try_get("region_code")?,
        period: r.try_get("period")?,
        values: serde_json::from_str(&body).unwrap_or_default(),
        late: r.try_get::<i64, _>("late")? != 0,
        submitted_at: backstop_core::clock::from_millis(at).to_rfc3339(),
        submitted_by: r.try_get("submitted_by")?,
        corrections: r.try_get("corrections")?,
        history: Vec::new(),
    })
}

/// What the write must know before deciding, read in one statement.
pub(in crate::reports) struct LookUp {
    /// `(request_hash, response)` stored under the idempotency key.
    pub idem: Option<(String, String)>,
    /// The unit region's name (region units only; `None` when there is no such region).
    pub region_name: Option<String>,
    /// A lock on the period at the unit's level or above.
    pub locked: bool,
    /// The unit's report of the period (periodic forms).
    pub existing: Option<i64>,
    /// How many immediate reports the unit already made in the period (immediate forms).
    pub immediate_count: Option<i64>,
    /// PostgreSQL: the head of the unit's province's audit chain, locked by this statement
    /// (ADR 0016), and the id a new report will take — so the rest of the write is one
    /// statement ([`push_report`]). `None` on SQLite.
    pub chain_head: Option<String>,
    pub next_id: Option<i64>,
}

pub(in crate::reports) async fn look_up(
    conn: &mut AnyConnection,
    keys: &KeyRing,
    backend: Backend,
    form: &Form,
    unit: &Unit,
    period: &str,
    idem: Option<&(String, i64, String)>,
) -> Result<LookUp, sqlx::Error> {
    let mut sql = String::new();
    let mut args: Vec<Arg> = Vec::new();
    if backend == Backend::Postgres {
        // The chain's lock and head, and the new report's id, in the same round trip.
        sql.push_str("WITH h AS (");
        sql.push_str(crate::audit::LOCK_HEAD);
        sql.push_str(
            ") SELECT (SELECT hash FROM h) AS chain_head, \
             nextval(pg_get_serial_sequence('report_submissions', 'id')) AS next_id, ",
        );
        args.extend([
            Arg::from(crate::audit::chain_of(unit.region.as_str())),
            Arg::from(crate::audit::GENESIS),
        ]);
    } else {
        sql.push_str("SELECT CAST(NULL AS TEXT) AS chain_head, CAST(NULL AS BIGINT) AS next_id, ");
    }
    match idem {
        Some((province, uid, k)) => {
            sql.push_str(
                "(SELECT request_hash FROM idempotency_keys WHERE province = ? AND user_id = ? \
                 AND idem_key = ?) AS idem_hash, \
                 (SELECT response FROM idempotency_keys WHERE province = ? AND user_id = ? \
                 AND idem_key = ?) AS idem_response, \
                 (SELECT response_enc FROM idempotency_keys WHERE province = ? AND user_id = ? \
                 AND idem_key = ?) AS idem_response_enc, ",
            );
            for _ in 0..3 {
                args.extend([Arg::from(province), Arg::Int(*uid), Arg::from(k)]);
            }
        }
        None => {
            sql.push_str("CAST(NULL AS TEXT) AS idem_hash, CAST(NULL AS TEXT) AS idem_response, ")
        }
    }
    if unit_is_region(unit) {
        sql.push_str("(SELECT name FROM regions WHERE code = ?) AS region_name, ");
        args.push(Arg::from(unit.region.as_str()));
    } else {
        sql.push_str("CAST(NULL AS TEXT) AS region_name, ");
    }
    let codes = rollup_codes(&unit.region);
    sql.push_str(
        "(SELECT region_code FROM report_locks WHERE template_key = ? AND period = ? AND region_code IN (",
    );
    sql.push_str(&repeat_list("?", codes.len()));
    sql.push_str(") LIMIT 1) AS locked, ");
    args.extend([Arg::from(&form.key), Arg::from(period)]);
    args.extend(codes.into_iter().map(Arg::Text));
    if form.period == Period::Immediate {
        sql.push_str(
            "CAST(NULL AS BIGINT) AS existing, (SELECT CAST(COUNT(*) AS BIGINT) FROM report_submissions \
             WHERE province = ? AND template_key = ? AND unit = ? AND period = ?) AS immediate_count",
        );
    } else {
        sql.push_str(
            "(SELECT id FROM report_submissions WHERE province = ? AND template_key = ? AND unit = ? \
             AND period = ? AND seq = 0) AS existing, \
             CAST(NULL AS BIGINT) AS immediate_count",
        );
    }
    args.extend([
        Arg::from(province_of(unit)),
        Arg::from(&form.key),
        Arg::from(&unit.key),
        Arg::from(period),
    ]);
    let row = backstop_store::bind_all(sqlx::query(sqlx::AssertSqlSafe(backend.sql(&sql))), args)
        .fetch_one(&mut *conn)
        .await?;
    let hash: Option<String> = row.try_get("idem_hash")?;
    let response: Option<String> = match (idem, &hash) {
        (Some(_), Some(_)) => Some(privacy::text(keys, &row, "idem_response")?),
        _ => None,
    };
    let locked: Option<String> = row.try_get("locked")?;
    Ok(LookUp {
        idem: hash.zip(response),
        region_name: row.try_get("region_name")?,
        locked: locked.is_some(),
        existing: row.try_get("existing")?,
        immediate_count: row.try_get("immediate_count")?,
        chain_head: row.try_get("chain_head")?,
        next_id: row.try_get("next_id")?,
    })
}

/// The province a unit's reports, rollup rows and audit entries belong to (migration 0064):
/// its region's 2-digit prefix, `00` for a national unit.
pub(in crate::reports) fn province_of(unit: &Unit) -> &str {
    crate::audit::chain_of(unit.region.as_str())
}

/// The report a correction replaces, read inside the write (its id came from [`look_up`]),
/// with the time its current values were written (`updated_at`).
pub(in crate::reports) async fn existing_report(
    conn: &mut AnyConnection,
    keys: &KeyRing,
    (province, id): (&str, i64),
    unit_name: String,
) -> Result<(Submission, i64), sqlx::Error> {
    let sql = format!(
        "SELECT {SUB_COLS}, updated_at FROM report_submissions WHERE province = $1 AND id = $2"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(province.to_string())
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok((
        submission_from_row(keys, &row, unit_name)?,
        row.try_get("updated_at")?,
    ))
}

/// A new submission row.
pub(in crate::reports) struct NewReport<'a> {
    pub keys: &'a KeyRing,
    pub form: &'a Form,
    pub unit: &'a Unit,
    pub period: &'a str,
    pub body: &'a str,
    pub late: bool,
    pub now: i64,
    pub by: &'a str,
    pub seq: i64,
}

/// Add the insert of a submission with the id it takes (`id`, from [`LookUp::next_id`]) to the
/// job's script (PostgreSQL: one statement with the rest of the write).
pub(in crate::reports) fn push_report(script: &mut Script, n: &NewReport<'_>, id: i64) {
    script.push(
        "INSERT INTO report_submissions (id, province, template_key, template_version, unit, \
         region_code, period, body, body_enc, late, submitted_at, submitted_by, updated_at, seq) \
         VALUES (?,?,?,?,?,?,?,'',?,?,?,?,?,?)",
        vec![
            Arg::Int(id),
            Arg::from(province_of(n.unit)),
            Arg::from(&n.form.key),
            Arg::Int(n.form.version),
            Arg::from(&n.unit.key),
            Arg::from(n.unit.region.as_str()),
            Arg::from(n.period),
            Arg::Blob(privacy::seal(n.keys, n.body)),
            Arg::Int(i64::from(n.late)),
            Arg::Int(n.now),
            Arg::from(n.by),
            Arg::Int(n.now),
            Arg::Int(n.seq),
        ],
    );
}

/// Insert a submission; returns its id.
pub(in crate::reports) async fn insert_report(
    conn: &mut AnyConnection,
    n: &NewReport<'_>,
) -> Result<i64, sqlx::Error> {
    // Every report's values are sealed (the rollups keep their own figures).
    sqlx::query_scalar(
        "INSERT INTO report_submissions (template_key, template_version, unit, region_code, period, body, \
         body_enc, late, submitted_at, submitted_by, updated_at, seq, province) \
         VALUES ($1,$2,$3,$4,$5,'',$10,$6,$7,$8,$7,$9,$11) RETURNING id",
    )
    .bind(&n.form.key)
    .bind(n.form.version)
    .bind(&n.unit.key)
    .bind(n.unit.region.as_str())
    .bind(n.period)
    .bind(i64::from(n.late))
    .bind(n.now)
    .bind(n.by)
    .bind(n.seq)
    .bind(privacy::seal(n.keys, n.body))
    .bind(province_of(n.unit).to_string())
    .fetch_one(&mut *conn)
    .await
}

/// Add the correction of report `id` to the job's script (its values sealed).
pub(in crate::reports) fn push_correction(
    script: &mut Script,
    keys: &KeyRing,
    (province, id): (&str, i64),
    body: &str,
    version: i64,
    now: i64,
    by: &str,
) {
    script.push(
        "UPDATE report_submissions SET body = '', body_enc = ?, template_version = ?, updated_at = ?, \
         corrections = corrections + 1, submitted_by = ? WHERE province = ? AND id = ?",
        vec![
            Arg::Blob(privacy::seal(keys, body)),
            Arg::Int(version),
            Arg::Int(now),
            Arg::from(by),
            Arg::from(province),
            Arg::Int(id),
        ],
    );
}

/// Add the idempotency record (the answer given, for a retry) to the job's script.
pub(in crate::reports) fn push_idempotency(
    script: &mut Script,
    keys: &KeyRing,
    (province, uid, key): (&str, i64, &str),
    request_hash: &str,
    status: i64,
    response: &Submission,
    now: i64,
) {
    script.push(
        "INSERT INTO idempotency_keys (province, user_id, idem_key, request_hash, status, response, \
         response_enc, created_at) VALUES (?,?,?,?,?,'',?,?)",
        vec![
            Arg::from(province),
            Arg::Int(uid),
            Arg::from(key),
            Arg::from(request_hash),
            Arg::Int(status),
            Arg::Blob(privacy::seal(
                keys,
                &serde_json::to_string(response).unwrap_or_default(),
            )),
            Arg::Int(now),
        ],
    );
}

/// Run the job's script (one round trip, but on Citus: see `Script::execute_on`).
pub(in crate::reports) async fn run_script(
    conn: &mut AnyConnection,
    script: Script,
    db: &backstop_store::Db,
) -> Result<(), sqlx::Error> {
    script.execute_on(conn, db).await
}

/// An immediate report goes at once to every level above the unit (notification outbox), its
/// text the template `incident_report` in force (recorded with its key and version).
pub(in crate::reports) async fn notify_incident(
    conn: &mut AnyConnection,
    form: &Form,
    unit: &Unit,
    id: i64,
    values: &Map<String, Value>,
    now: i64,
) -> AppResult<()> {
    let kind = values
        .get("event_kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    let fields = [
        ("unit", unit.name.clone()),
        ("event", kind.to_string()),
        ("form", form.name.clone()),
        ("id", id.to_string()),
    ];
    let text = crate::notify::templates::render(&mut *conn, "incident_report", &fields).await?;
    for code in unit.region.ancestors() {
        sqlx::query(
            "INSERT INTO notifications (region_code, unit, kind, title, body, created_at, \
             template_key, template_version) VALUES ($1,$2,'incident',$3,$4,$5,$6,$7)",
        )
        .bind(code.as_str())
        .bind(&unit.key)
        .bind(&text.title)
        .bind(&text.body)
        .bind(now)
        .bind(text.key)
        .bind(text.version)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// `(request_hash, response)` stored under a user's idempotency key.
pub(in crate::reports) async fn idempotency_record(
    state: &AppState,
    (province, user_id): (&str, i64),
    key: &str,
) -> AppResult<Option<(String, String)>> {
    let row = sqlx::query(
        "SELECT request_hash, response, response_enc FROM idempotency_keys \
         WHERE province = $1 AND user_id = $2 AND idem_key = $3",
    )
    .bind(province)
    .bind(user_id)
    .bind(key)
    .fetch_optional(state.db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some((
        row.try_get("request_hash")?,
        privacy::text(&state.keys, &row, "response")?,
    )))
}

/// One submission under the handle (else *not found*), without its unit's name.
pub(in crate::reports) async fn report(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Submission> {
    let sql = format!("SELECT {SUB_COLS} FROM report_submissions WHERE id = $1");
    let map = |r: &AnyRow| submission_from_row(&state.keys, r, String::new());
    admitted(state, scope, sql, id, map, |s| &s.region_code).await
}

/// The current report `(id, body)` of a unit for a periodic form's period, if the unit's
/// region is under the handle (the body opened).
pub(in crate::reports) async fn current_report(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    unit: &str,
    period: &str,
) -> AppResult<Option<(i64, String)>> {
    let (lo, hi) = scope.range();
    let row = sqlx::query(
        "SELECT id, body, body_enc FROM report_submissions WHERE template_key = $1 AND unit = $2 AND period = $3 AND seq = 0 \
         AND region_code >= $4 AND region_code < $5",
    )
    .bind(template)
    .bind(unit)
    .bind(period)
    .bind(lo)
    .bind(hi)
    .fetch_optional(state.db.pool())
    .await?;
    match row {
        Some(r) => Ok(Some((
            r.try_get("id")?,
            privacy::text(&state.keys, &r, "body")?,
        ))),
        None => Ok(None),
    }
}

/// The single reports of a form and period filed in the handle's own region (the bottom of
/// the summary's drill-down): `(id, unit, period, late)`.
pub(in crate::reports) async fn reports_at(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
) -> AppResult<Vec<(i64, String, String, bool)>> {
    let rows = sqlx::query_as::<_, (i64, String, String, i64)>(
        "SELECT id, unit, period, late FROM report_submissions WHERE template_key = $1 AND period = $2 \
         AND region_code = $3 ORDER BY id",
    )
    .bind(template)
    .bind(period)
    .bind(scope.node().as_str())
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, unit, period, late)| (id, unit, period, late != 0))
        .collect())
}

/// An organisation's name (empty when there is none).
pub(in crate::reports) async fn org_name(state: &AppState, id: i64) -> AppResult<String> {
    let n: Option<String> = sqlx::query_scalar("SELECT name FROM orgs WHERE id = $1")
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(n.unwrap_or_default())
}

/// Add a correction's record (what it replaced, what it wrote, both sealed) to the job's
/// script.
pub(in crate::reports) fn push_correction_record(
    script: &mut Script,
    keys: &KeyRing,
    r: &crate::reports::corrections::Recorded<'_>,
) {
    let region = r.unit.region.as_str();
    script.push(
        "INSERT INTO report_corrections (province, report_id, n, region_code, unit, before_body, \
         before_body_enc, before_by, before_at, after_body, after_body_enc, corrected_by, corrected_at, \
         by_unit) VALUES (?,?,?,?,?,'',?,?,?,'',?,?,?,?)",
        vec![
            Arg::from(&region[..2.min(region.len())]),
            Arg::Int(r.report_id),
            Arg::Int(r.n),
            Arg::from(region),
            Arg::from(&r.unit.key),
            Arg::Blob(privacy::seal(
                keys,
                &Value::Object(r.before.clone()).to_string(),
            )),
            Arg::from(r.before_by),
            Arg::Int(r.before_at),
            Arg::Blob(privacy::seal(keys, r.after)),
            Arg::from(r.by),
            Arg::Int(r.now),
            Arg::Int(i64::from(r.by_unit)),
        ],
    );
}

/// Add one notification to the job's script (the outbox of `notices`, written in the job),
/// its text rendered from a template (recorded with its key and version).
pub(in crate::reports) fn push_notification(
    script: &mut Script,
    region: &str,
    unit: &str,
    kind: &str,
    text: &crate::notify::templates::Rendered,
    now: i64,
) {
    script.push(
        "INSERT INTO notifications (region_code, unit, kind, title, body, created_at, \
         template_key, template_version) VALUES (?,?,?,?,?,?,?,?)",
        vec![
            Arg::from(region),
            Arg::from(unit),
            Arg::from(kind),
            Arg::from(text.title.as_str()),
            Arg::from(text.body.as_str()),
            Arg::Int(now),
            Arg::from(text.key),
            Arg::Int(text.version),
        ],
    );
}

/// The corrections of report `id` (whose region `region` the caller admitted under the
/// handle), oldest first; limited to the handle's range all the same.
pub(in crate::reports) async fn corrections_of(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
    region: &str,
) -> AppResult<Vec<crate::reports::corrections::Correction>> {
    let sql = "SELECT n, before_body, before_body_enc, before_by, before_at, after_body, after_body_enc, \
         corrected_by, corrected_at, by_unit \
         FROM report_corrections WHERE region_code >= $1 AND region_code < $2 AND province = $3 AND report_id = $4 \
         ORDER BY n";
    let q = crate::kernel::queries::ranged(scope, sql)
        .bind(region.get(..2).unwrap_or(region).to_string())
        .bind(id);
    crate::kernel::queries::all(state, q, |r| {
        let body = |c: &str| -> Result<Map<String, Value>, sqlx::Error> {
            let t = privacy::text(&state.keys, r, c)?;
            Ok(serde_json::from_str(&t).unwrap_or_default())
        };
        let at = |c: &str| -> Result<String, sqlx::Error> {
            Ok(backstop_core::clock::from_millis(r.try_get(c)?).to_rfc3339())
        };
        Ok(crate::reports::corrections::Correction {
            n: r.try_get("n")?,
            corrected_by: r.try_get("corrected_by")?,
            corrected_at: at("corrected_at")?,
            by_unit: r.try_get::<i64, _>("by_unit")? != 0,
            before_by: r.try_get("before_by")?,
            before_at: at("before_at")?,
            before: body("before_body")?,
            after: body("after_body")?,
        })
    })
    .await
}
