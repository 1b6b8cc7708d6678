//! Every SQL statement of the roster import, and the only place in `people::import` that runs
//! one. The bulk pipeline (ADR 0008, `write`) hands its statements the connection of its one
//! write transaction; what they are, how rows are batched into them and in which order they
//! run is the pipeline's and is kept exactly. Jobs and templates read and write their own
//! tables here too.

use std::collections::{HashMap, HashSet};

use backstop_store::repeat_list;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::ImportReport;
use super::columns::SavedTemplate;
use super::jobs::ImportJob;
use super::upload::Upload;
use super::write::Pending;
use crate::audit::AppendQuery;
use crate::kernel::access::Tx;
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::AppResult;
use crate::kernel::queries::all;
use crate::people::queries::{COLS, Stored, stored_from_row};
use crate::people::{Sealed, pinyin, sex_str};
use crate::state::AppState;

/// A multi-row statement with its arguments bound, ready to run on the import's connection.
pub(super) type Statement = sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>;

/// `INSERT` of the rows at `positions`, whose numbers the batch has claimed
/// (`people::queries::numbers::claim_many`), returning the ids of the rows written.
pub(super) fn insert_statement(
    state: &AppState,
    now: i64,
    rows: &[Pending],
    positions: impl ExactSizeIterator<Item = usize>,
) -> Statement {
    let mut sql = String::from(state.db.backend().bulk_insert());
    sql.push_str(
        " INTO persons (region_code, name, sex, birth_enc, birth_year, birth_index, id_enc, \
         id_index, id_masked, phone_enc, phone_index, phone_masked, hukou_address, address, \
         deceased, created_at, updated_at, name_pinyin, name_initials) VALUES ",
    );
    sql.push_str(&repeat_list(
        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?,?,?)",
        positions.len(),
    ));
    sql.push_str(" RETURNING id, id_index");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(state.db.sql(&sql)));
    for p in positions {
        let (r, s) = (&rows[p], &rows[p].sealed);
        let (name_pinyin, name_initials) = pinyin::keys(&r.fields.name);
        q = q
            .bind(r.code.as_str().to_string())
            .bind(r.fields.name.clone())
            .bind(sex_str(r.fields.sex))
            .bind(s.birth.enc.clone())
            .bind(s.birth.year)
            .bind(s.birth.index.clone())
            .bind(s.id_enc.clone())
            .bind(s.id_index.clone())
            .bind(s.id_masked.clone())
            .bind(s.phone_enc.clone())
            .bind(s.phone_index.clone())
            .bind(s.phone_masked.clone())
            .bind(r.fields.hukou_address.clone())
            .bind(r.fields.address.clone())
            .bind(now)
            .bind(now)
            .bind(name_pinyin)
            .bind(name_initials);
    }
    q
}

/// Run a batch's `INSERT` (built by [`insert_statement`]): the rows written, `id, id_index`.
pub(super) async fn insert_rows(
    conn: &mut AnyConnection,
    insert: Statement,
) -> Result<Vec<AnyRow>, sqlx::Error> {
    insert.fetch_all(conn).await
}

/// Run the audit chain's prepared appends, in order.
pub(super) async fn append_prepared(
    conn: &mut AnyConnection,
    audit: Vec<AppendQuery>,
) -> Result<(), sqlx::Error> {
    for q in audit {
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Every region code in `[lo, hi)`.
pub(super) async fn region_codes_in(
    conn: &mut AnyConnection,
    lo: &str,
    hi: &str,
) -> AppResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT code FROM regions WHERE code >= $1 AND code < $2")
            .bind(lo)
            .bind(hi)
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// `(code, name)` of every village in `[lo, hi)` (the import's village column).
pub(super) async fn villages_in(
    state: &AppState,
    lo: &str,
    hi: &str,
) -> AppResult<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT code, name FROM regions WHERE code >= $1 AND code < $2 AND level = 'village'",
    )
    .bind(lo)
    .bind(hi)
    .fetch_all(state.db.pool())
    .await?)
}

/// The households of these keys already on record: `(id, (region, ref_no, address))` —
/// matched by number, or (no number) by address among the households without one.
pub(super) async fn find_households(
    state: &AppState,
    conn: &mut AnyConnection,
    keys: &[&super::households::Key],
) -> AppResult<Vec<(i64, super::households::Key)>> {
    let mut regions: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    let refs: Vec<&str> = keys
        .iter()
        .filter(|k| !k.1.is_empty())
        .map(|k| k.1.as_str())
        .collect();
    let addrs: Vec<&str> = keys
        .iter()
        .filter(|k| k.1.is_empty())
        .map(|k| k.2.as_str())
        .collect();
    let mut cond = Vec::new();
    if !refs.is_empty() {
        cond.push(format!("ref_no IN ({})", repeat_list("?", refs.len())));
    }
    if !addrs.is_empty() {
        cond.push(format!(
            "(ref_no = '' AND address IN ({}))",
            repeat_list("?", addrs.len())
        ));
    }
    let sql = format!(
        "SELECT id, region_code, ref_no, address FROM households WHERE region_code IN ({}) AND ({})",
        repeat_list("?", regions.len()),
        cond.join(" OR ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(state.db.sql(&sql)));
    for v in regions.iter().chain(refs.iter()).chain(addrs.iter()) {
        q = q.bind(*v);
    }
    let wanted: HashSet<&super::households::Key> = keys.iter().copied().collect();
    let mut out = Vec::new();
    for r in q.fetch_all(&mut *conn).await? {
        let (region, ref_no, address): (String, String, String) = (
            r.try_get("region_code")?,
            r.try_get("ref_no")?,
            r.try_get("address")?,
        );
        let key = if ref_no.is_empty() {
            (region, String::new(), address)
        } else {
            (region, ref_no, String::new())
        };
        if wanted.contains(&key) {
            out.push((r.try_get("id")?, key));
        }
    }
    Ok(out)
}

/// New households `(region, ref_no, address)` in one statement: `(id, the same triple)`.
pub(super) async fn insert_households(
    state: &AppState,
    conn: &mut AnyConnection,
    rows: &[(String, String, String)],
    now: i64,
) -> AppResult<Vec<(i64, super::households::Key)>> {
    let sql = format!(
        "INSERT INTO households (region_code, ref_no, address, created_at, updated_at) VALUES {} \
         RETURNING id, region_code, ref_no, address",
        repeat_list("(?,?,?,?,?)", rows.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(state.db.sql(&sql)));
    for (region, ref_no, address) in rows {
        q = q
            .bind(region)
            .bind(ref_no)
            .bind(address)
            .bind(now)
            .bind(now);
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in q.fetch_all(&mut *conn).await? {
        out.push((
            r.try_get("id")?,
            (
                r.try_get("region_code")?,
                r.try_get("ref_no")?,
                r.try_get("address")?,
            ),
        ));
    }
    Ok(out)
}

/// Put persons in households with their relationship, one statement: `(person, household,
/// relationship)`.
pub(super) async fn set_households(
    state: &AppState,
    conn: &mut AnyConnection,
    rows: &[(i64, i64, &str)],
    now: i64,
) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let when = repeat_list("WHEN ? THEN ?", rows.len()).replace(',', " ");
    let sql = format!(
        "UPDATE persons SET household_id = CASE id {when} END, relationship = CASE id {when} END, \
         updated_at = ? WHERE id IN ({})",
        repeat_list("?", rows.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(state.db.sql(&sql)));
    for (p, h, _) in rows {
        q = q.bind(*p).bind(*h);
    }
    for (p, _, r) in rows {
        q = q.bind(*p).bind(r.to_string());
    }
    q = q.bind(now);
    for (p, _, _) in rows {
        q = q.bind(*p);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Who decided a membership recorded from a roster (the roster is the record of it).
pub(super) const ROSTER_BODY: &str = "花名册导入";

/// Care memberships (`care_memberships`, the care area's table: people ← care) of persons
/// this import created, one multi-row statement per batch: `(person, category)`.
pub(super) async fn insert_memberships(
    state: &AppState,
    conn: &mut AnyConnection,
    rows: &[(i64, &'static str)],
    today: &str,
    by: &str,
    now: i64,
) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO care_memberships (person_id, category, category_enc, start_date, end_date, \
         deciding_body, created_by, created_at, updated_at) VALUES {}",
        repeat_list("(?,'',?,?,'',?,?,?,?)", rows.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(state.db.sql(&sql)));
    for (p, c) in rows {
        q = q
            .bind(*p)
            .bind(crate::privacy::seal(&state.keys, c))
            .bind(today)
            .bind(ROSTER_BODY)
            .bind(by)
            .bind(now)
            .bind(now);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// A membership of a person already on record (a merged row), unless one in that category is
/// still running; `true` when added. The category is sealed (migration 0025): the person's
/// running memberships are opened and compared here.
pub(super) async fn add_membership_if_absent(
    conn: &mut AnyConnection,
    keys: &KeyRing,
    person: i64,
    category: &str,
    today: &str,
    (by, now): (&str, i64),
) -> AppResult<bool> {
    let running = sqlx::query(
        "SELECT category, category_enc FROM care_memberships WHERE person_id = $1 \
         AND (end_date = '' OR end_date >= $2)",
    )
    .bind(person)
    .bind(today)
    .fetch_all(&mut *conn)
    .await?;
    for r in &running {
        if crate::care::category_of(keys, r)? == category {
            return Ok(false);
        }
    }
    sqlx::query(
        "INSERT INTO care_memberships (person_id, category, category_enc, start_date, end_date, \
         deciding_body, created_by, created_at, updated_at) \
         VALUES ($1, '', $2, $3, '', $4, $5, $6, $6)",
    )
    .bind(person)
    .bind(crate::privacy::seal(keys, category))
    .bind(today)
    .bind(ROSTER_BODY)
    .bind(by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// Which of `codes` are regions, in one query.
pub(super) async fn existing_regions(
    state: &AppState,
    conn: &mut AnyConnection,
    codes: &[&str],
) -> AppResult<HashSet<String>> {
    let sql = format!(
        "SELECT code FROM regions WHERE code IN ({})",
        repeat_list("?", codes.len())
    );
    let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(state.db.sql(&sql)));
    for c in codes {
        q = q.bind(*c);
    }
    Ok(q.fetch_all(&mut *conn).await?.into_iter().collect())
}

/// The persons on record holding any of these (sorted, unique) blind indexes, whatever their
/// region: the pipeline decides per row whether the holder is in the importer's scope.
pub(super) async fn holders(
    state: &AppState,
    conn: &mut AnyConnection,
    idx: &[&str],
) -> AppResult<HashMap<String, Stored>> {
    let sql = format!(
        "SELECT {COLS}, p.id_index FROM persons p LEFT JOIN regions r ON r.code = p.region_code \
         WHERE p.id_index IN ({})",
        repeat_list("?", idx.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(state.db.sql(&sql)));
    for i in idx {
        q = q.bind(*i);
    }
    let mut out = HashMap::new();
    for r in q.fetch_all(&mut *conn).await? {
        let s = stored_from_row(&r)?;
        let key: Option<String> = sqlx::Row::try_get(&r, "id_index")?;
        if let Some(k) = key {
            out.insert(k, s);
        }
    }
    Ok(out)
}

/// Fill a person's empty fields from a merged row (the phone only when given, sealed).
pub(super) async fn merge_fill(
    conn: &mut AnyConnection,
    id: i64,
    phone: Option<&Sealed>,
    phone_masked: &str,
    address: &str,
    hukou_address: &str,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE persons SET phone_enc = COALESCE($1, phone_enc), \
         phone_index = COALESCE($2, phone_index), phone_masked = $3, address = $4, \
         hukou_address = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(phone.and_then(|s| s.phone_enc.clone()))
    .bind(phone.and_then(|s| s.phone_index.clone()))
    .bind(phone_masked)
    .bind(address)
    .bind(hukou_address)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Jobs (`person_import_jobs`): bookkeeping of one upload, read only by the user who made it.

const JOB_COLS: &str = "id, user_id, token, file_name, format, region_code, good_rows, mapping, \
    status, committed, bytes_total, bytes_done, rows_read, imported, merged, rejected, warnings, \
    issues, error_code, error, created_at, finished_at, households";

fn job_from_row(r: &AnyRow) -> Result<ImportJob, sqlx::Error> {
    let issues: String = r.try_get("issues")?;
    Ok(ImportJob {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        token: r.try_get("token")?,
        file_name: r.try_get("file_name")?,
        format: r.try_get("format")?,
        region_code: r.try_get("region_code")?,
        good_rows: r.try_get::<i64, _>("good_rows")? != 0,
        mapping: serde_json::from_str(&r.try_get::<String, _>("mapping")?).unwrap_or_default(),
        status: r.try_get("status")?,
        committed: r.try_get::<i64, _>("committed")? != 0,
        bytes_total: r.try_get("bytes_total")?,
        bytes_done: r.try_get("bytes_done")?,
        rows: r.try_get("rows_read")?,
        imported: r.try_get("imported")?,
        merged: r.try_get("merged")?,
        rejected: r.try_get("rejected")?,
        warnings: r.try_get("warnings")?,
        issues: serde_json::from_str(&issues).unwrap_or_default(),
        error_code: r.try_get("error_code")?,
        error: r.try_get("error")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
        households: r.try_get("households")?,
        phase: String::new(),
    })
}

/// A job by id, whoever it belongs to (the caller checks the owner).
pub(super) async fn job(state: &AppState, id: i64) -> AppResult<Option<ImportJob>> {
    let sql = format!("SELECT {JOB_COLS} FROM person_import_jobs WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(row.as_ref().map(job_from_row).transpose()?)
}

/// A user's latest 10 jobs.
pub(super) async fn jobs_of(state: &AppState, user_id: i64) -> AppResult<Vec<ImportJob>> {
    let sql = format!(
        "SELECT {JOB_COLS} FROM person_import_jobs WHERE user_id = $1 ORDER BY id DESC LIMIT 10"
    );
    all(
        state,
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id),
        job_from_row,
    )
    .await
}

/// Write a finished import's result into its job row (`issues` as JSON).
pub(super) async fn record_report(
    conn: &mut AnyConnection,
    job: i64,
    report: &ImportReport,
    issues: &str,
    rejected_enc: Option<Vec<u8>>,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE person_import_jobs SET status = $1, committed = $2, bytes_done = bytes_total, \
         rows_read = $3, imported = $4, merged = $5, rejected = $6, warnings = $7, issues = $8, \
         error_code = '', error = '', finished_at = $9, rejected_enc = $11 WHERE id = $10",
    )
    .bind(if report.committed {
        "done"
    } else {
        "rolled_back"
    })
    .bind(i64::from(report.committed))
    .bind(report.rows as i64)
    .bind(report.imported as i64)
    .bind(report.merged as i64)
    .bind(report.rejected as i64)
    .bind(report.warnings_total as i64)
    .bind(issues)
    .bind(now)
    .bind(job)
    .bind(rejected_enc)
    .execute(conn)
    .await?;
    Ok(())
}

/// Mark a job failed; the caller commits with the failure's audit entry.
pub(super) async fn mark_failed(tx: &mut Tx, job: i64, code: &str, message: &str) -> AppResult<()> {
    let now = tx.now();
    sqlx::query(
        "UPDATE person_import_jobs SET status = 'failed', error_code = $1, \
         error = $2, finished_at = $3 WHERE id = $4",
    )
    .bind(code)
    .bind(message.chars().take(2000).collect::<String>())
    .bind(now)
    .bind(job)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A new job row for a stored upload; returns its id. Bookkeeping only (the import and its
/// outcome are audited), in a short transaction of its own.
#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_job(
    state: &AppState,
    user_id: i64,
    up: &Upload,
    status: &str,
    region: &str,
    good_rows: bool,
    mapping: &str,
    now: i64,
) -> AppResult<i64> {
    let mut w = state.db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO person_import_jobs (user_id, token, file_name, format, region_code, \
         good_rows, mapping, status, bytes_total, created_at, started_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(user_id)
    .bind(&up.token)
    .bind(&up.file_name)
    .bind(up.format)
    .bind(region)
    .bind(i64::from(good_rows))
    .bind(mapping)
    .bind(status)
    .bind(up.size as i64)
    .bind(now)
    .bind((status == "running").then_some(now))
    .fetch_one(w.conn())
    .await?;
    w.commit().await?;
    Ok(id)
}

/// Write a rolled-back import's result into its job row, in a transaction of its own.
pub(super) async fn record_report_alone(
    state: &AppState,
    job: i64,
    report: &ImportReport,
    issues: &str,
    rejected_enc: Option<Vec<u8>>,
) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    record_report(w.conn(), job, report, issues, rejected_enc, state.now_ms()).await?;
    w.commit().await?;
    Ok(())
}

/// Record in a running job's row what its committed chunks hold so far (in the chunk's own
/// transaction, so after a crash the row tells exactly what was saved).
pub(super) async fn record_committed(
    conn: &mut AnyConnection,
    job: i64,
    report: &ImportReport,
    bytes: u64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE person_import_jobs SET committed = 1, rows_read = $1, imported = $2, \
         merged = $3, rejected = $4, warnings = $5, bytes_done = $6 WHERE id = $7",
    )
    .bind(report.rows as i64)
    .bind(report.imported as i64)
    .bind(report.merged as i64)
    .bind(report.rejected as i64)
    .bind(report.warnings_total as i64)
    .bind(bytes as i64)
    .bind(job)
    .execute(conn)
    .await?;
    Ok(())
}

/// What a job's committed chunks saved: (rows, imported, merged), zeros when none was.
pub(super) async fn committed_counts(state: &AppState, job: i64) -> AppResult<(u64, u64, u64)> {
    let row = sqlx::query(
        "SELECT committed, rows_read, imported, merged FROM person_import_jobs WHERE id = $1",
    )
    .bind(job)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(row.as_ref().map(saved).transpose()?.unwrap_or_default())
}

fn saved(r: &sqlx::any::AnyRow) -> Result<(u64, u64, u64), sqlx::Error> {
    if r.try_get::<i64, _>("committed")? == 0 {
        return Ok((0, 0, 0));
    }
    let n = |c: &str| r.try_get::<i64, _>(c).map(|v| v.max(0) as u64);
    Ok((n("rows_read")?, n("imported")?, n("merged")?))
}

/// A job still `uploaded` or `running`: id, token, status, created_at, and what its committed
/// chunks saved.
type OpenJob = (i64, String, String, i64, (u64, u64, u64));

/// Jobs still `uploaded` or `running`.
pub(super) async fn open_jobs(state: &AppState) -> AppResult<Vec<OpenJob>> {
    let rows = sqlx::query(
        "SELECT id, token, status, created_at, committed, rows_read, imported, merged \
         FROM person_import_jobs WHERE status = 'uploaded' OR status = 'running'",
    )
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("token")?,
                r.try_get("status")?,
                r.try_get("created_at")?,
                saved(r)?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

pub(super) async fn end_job(
    state: &AppState,
    id: i64,
    status: &str,
    new_status: &str,
    code: &str,
    msg: &str,
    now: i64,
) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE person_import_jobs SET status = $1, error_code = $2, error = $3, \
         finished_at = $4 WHERE id = $5 AND status = $6",
    )
    .bind(new_status)
    .bind(code)
    .bind(msg)
    .bind(now)
    .bind(id)
    .bind(status)
    .execute(w.conn())
    .await?;
    w.commit().await?;
    Ok(())
}

/// Start an uploaded job with its settings; `false` when it was no longer `uploaded`.
pub(super) async fn start_job(
    state: &AppState,
    id: i64,
    region: &str,
    good_rows: bool,
    mapping: &str,
    now: i64,
) -> AppResult<bool> {
    let mut w = state.db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE person_import_jobs SET status = 'running', region_code = $1, good_rows = $2, \
         mapping = $3, started_at = $4 WHERE id = $5 AND status = 'uploaded'",
    )
    .bind(region)
    .bind(i64::from(good_rows))
    .bind(mapping)
    .bind(now)
    .bind(id)
    .execute(w.conn())
    .await?
    .rows_affected();
    w.commit().await?;
    Ok(n > 0)
}

/// A job's household grouping (`address` or empty), before it runs.
pub(super) async fn set_job_households(state: &AppState, id: i64, mode: &str) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    sqlx::query("UPDATE person_import_jobs SET households = $1 WHERE id = $2")
        .bind(mode)
        .bind(id)
        .execute(w.conn())
        .await?;
    w.commit().await?;
    Ok(())
}

/// Give up an uploaded job.
pub(super) async fn abandon_job(state: &AppState, id: i64, now: i64) -> AppResult<()> {
    let mut w = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE person_import_jobs SET status = 'abandoned', finished_at = $1 \
         WHERE id = $2 AND status = 'uploaded'",
    )
    .bind(now)
    .bind(id)
    .execute(w.conn())
    .await?;
    w.commit().await?;
    Ok(())
}

/// A job's sealed rejected rows (its owner is checked by the caller).
pub(super) async fn rejected_rows(state: &AppState, id: i64) -> AppResult<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar("SELECT rejected_enc FROM person_import_jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(state.db.pool())
            .await?
            .flatten(),
    )
}

// ---------------------------------------------------------------------------------------
// Templates (`person_import_templates`): saved column mappings per owner.

/// An owner's templates, newest first (at most 100).
pub(super) async fn templates(state: &AppState, owner: &str) -> AppResult<Vec<SavedTemplate>> {
    let rows = sqlx::query(
        "SELECT id, name, header_key, mapping FROM person_import_templates WHERE owner = $1 \
         ORDER BY updated_at DESC, id DESC LIMIT 100",
    )
    .bind(owner)
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let m: String = r.try_get("mapping")?;
        out.push(SavedTemplate {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            header_key: r.try_get("header_key")?,
            mapping: serde_json::from_str(&m).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Save (or replace) an owner's named template; returns its id.
pub(super) async fn save_template(
    tx: &mut Tx,
    owner: &str,
    name: &str,
    header_key: &str,
    mapping: &str,
    by: &str,
) -> AppResult<i64> {
    let now = tx.now();
    let existing: Option<i64> =
        sqlx::query_scalar("SELECT id FROM person_import_templates WHERE owner = $1 AND name = $2")
            .bind(owner)
            .bind(name)
            .fetch_optional(tx.conn())
            .await?;
    Ok(match existing {
        Some(id) => {
            sqlx::query(
                "UPDATE person_import_templates SET header_key = $1, mapping = $2, \
                 updated_at = $3 WHERE id = $4",
            )
            .bind(header_key)
            .bind(mapping)
            .bind(now)
            .bind(id)
            .execute(tx.conn())
            .await?;
            id
        }
        None => {
            sqlx::query_scalar(
                "INSERT INTO person_import_templates (owner, name, header_key, mapping, \
                 created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 RETURNING id",
            )
            .bind(owner)
            .bind(name)
            .bind(header_key)
            .bind(mapping)
            .bind(by)
            .bind(now)
            .fetch_one(tx.conn())
            .await?
        }
    })
}
