//! Every SQL statement of the cross-checks, and the only place in the area that runs one.
//!
//! Reading functions take a [`Scoped`] handle: a run reads the persons (and their
//! observations, screening records and memberships) inside the handle's code range; stored
//! conflicts are listed inside it and a conflict fetched by id is let through
//! [`Scoped::admit`] (outside: *not found*). Writing functions take the [`Tx`] that commits a
//! run or a resolution with its audit entry.

use std::collections::HashMap;

use backstop_core::clock::{format_beijing, from_millis};
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::rules::{Found, PAYMENT_GROUPS, exclusion};
use super::{ConflictPerson, LastRun};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{all, ranged, region_name};
use crate::people::shown;
use crate::privacy;
use crate::state::AppState;

// ---------------------------------------------------------------------------------- the run

/// Rows of one check over `[lo, hi)` (`$1`, `$2`), with today's date as `$3` when it uses it.
async fn scan(
    tx: &mut Tx,
    sql: String,
    lo: &str,
    hi: &str,
    today: Option<&str>,
) -> AppResult<Vec<AnyRow>> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lo.to_string())
        .bind(hi.to_string());
    if let Some(t) = today {
        q = q.bind(t.to_string());
    }
    Ok(q.fetch_all(tx.conn()).await?)
}

/// Two runs at once must not both insert the same fingerprint (PostgreSQL; SQLite has one
/// writer anyway).
pub(super) async fn lock_runs(tx: &mut Tx, backend: backstop_store::Backend) -> AppResult<()> {
    if backend == backstop_store::Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7261011)")
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// A roll record (a home observation, a screening record) held in a region other than its
/// person's: `id` names its fact prefix, id column and detail key; `extra` adds to the detail.
fn misplaced(
    r: &AnyRow,
    kind: &'static str,
    id: (&str, &str, &str),
    extra: Value,
) -> Result<Found, sqlx::Error> {
    let (prefix, col, key) = id;
    let rid: i64 = r.try_get(col)?;
    let pid: i64 = r.try_get("person_id")?;
    let roll: String = r.try_get("roll_region")?;
    let home: String = r.try_get("person_region")?;
    let mut detail = json!({key: rid, "roll_region": roll, "person_region": home});
    if let (Some(d), Value::Object(more)) = (detail.as_object_mut(), extra) {
        d.extend(more);
    }
    Ok(Found {
        kind,
        facts: format!("{prefix}{rid}|{roll}|{home}"),
        persons: vec![(pid, home)],
        detail,
    })
}

/// [`misplaced`] for each row of a roll check; `extra` reads what a row adds to its detail.
fn misplaced_rows(
    rows: &[AnyRow],
    kind: &'static str,
    id: (&str, &str, &str),
    extra: impl Fn(&AnyRow) -> Result<Value, sqlx::Error>,
) -> Result<Vec<Found>, sqlx::Error> {
    rows.iter()
        .map(|r| misplaced(r, kind, id, extra(r)?))
        .collect()
}

/// Every conflict whose persons all lie under the handle (see the module doc for the rules).
pub(super) async fn find_all(
    tx: &mut Tx,
    keys: &KeyRing,
    scope: &Scoped<'_>,
    today: &str,
) -> AppResult<Vec<Found>> {
    let (lo, hi) = scope.range();
    let conn = tx;
    let mut out = Vec::new();

    // (a) active home observations held in another region.
    let rows = scan(
        conn,
        "SELECT o.id AS oid, o.person_id, o.region_code AS roll_region, o.ends_on, \
         p.region_code AS person_region \
         FROM observations o JOIN persons p ON p.id = o.person_id \
         WHERE o.status = 'active' AND o.region_code <> p.region_code \
         AND p.region_code >= $1 AND p.region_code < $2 ORDER BY o.id"
            .to_string(),
        lo,
        hi,
        None,
    )
    .await?;
    out.extend(misplaced_rows(
        &rows,
        "observation_region",
        ("o", "oid", "observation_id"),
        |r| Ok(json!({"ends_on": r.try_get::<String, _>("ends_on")?})),
    )?);

    // (a) screening records of running campaigns made in another region.
    let rows = scan(
        conn,
        "SELECT sp.id AS sid, sp.person_id, sp.region_code AS roll_region, \
         p.region_code AS person_region, c.id AS campaign_id, c.name AS campaign, c.ends_on \
         FROM screening_persons sp JOIN screening_campaigns c ON c.id = sp.campaign_id \
         JOIN persons p ON p.id = sp.person_id \
         WHERE c.ends_on >= $3 AND sp.region_code <> p.region_code \
         AND p.region_code >= $1 AND p.region_code < $2 ORDER BY sp.id"
            .to_string(),
        lo,
        hi,
        Some(today),
    )
    .await?;
    out.extend(misplaced_rows(
        &rows,
        "screening_region",
        ("s", "sid", "screening_id"),
        |r| {
            Ok(json!({"campaign_id": r.try_get::<i64, _>("campaign_id")?,
                      "campaign": r.try_get::<String, _>("campaign")?}))
        },
    )?);

    // (a) possible duplicates: same name and birth date, different regions, one without ID.
    let rows = scan(
        conn,
        "SELECT a.id AS a_id, a.region_code AS a_region, b.id AS b_id, b.region_code AS b_region, \
         a.name, a.birth_index, a.birth_year, \
         CAST(CASE WHEN b.id_index IS NULL THEN 0 ELSE 1 END AS BIGINT) AS b_has_id \
         FROM persons a JOIN persons b ON b.name = a.name AND b.birth_index = a.birth_index \
         WHERE a.id_index IS NULL AND a.link_of IS NULL AND b.link_of IS NULL \
         AND (b.id_index IS NOT NULL OR a.id < b.id) \
         AND a.birth_index IS NOT NULL AND a.region_code <> b.region_code \
         AND a.region_code >= $1 AND a.region_code < $2 \
         AND b.region_code >= $1 AND b.region_code < $2 ORDER BY a.id, b.id"
            .to_string(),
        lo,
        hi,
        None,
    )
    .await?;
    for r in &rows {
        let a: i64 = r.try_get("a_id")?;
        let b: i64 = r.try_get("b_id")?;
        let ar: String = r.try_get("a_region")?;
        let br: String = r.try_get("b_region")?;
        let name: String = r.try_get("name")?;
        // The blind index names the shared birth date without saying it; the year is shown.
        let birth: String = r.try_get("birth_index")?;
        let year: Option<i64> = r.try_get("birth_year")?;
        let with_id = r.try_get::<i64, _>("b_has_id")? != 0;
        let mut persons = vec![(a, ar), (b, br)];
        persons.sort();
        out.push(Found {
            kind: "possible_duplicate",
            facts: format!("p{}|p{}|{name}|{birth}", persons[0].0, persons[1].0),
            detail: json!({"birth_year": year, "ids_recorded": if with_id { 1 } else { 0 },
                           "regions": persons.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>()}),
            persons,
        });
    }

    // (b) overlapping memberships of groups that exclude each other. The category is sealed
    // (migration 0025): every overlapping pair under the range is read and its categories
    // opened and compared here.
    let sql = "SELECT m1.id AS m1, m1.category AS c1, m1.category_enc AS c1_enc, \
         m1.start_date AS s1, m1.end_date AS e1, \
         m2.id AS m2, m2.category AS c2, m2.category_enc AS c2_enc, \
         m2.start_date AS s2, m2.end_date AS e2, \
         p.id AS pid, p.region_code \
         FROM care_memberships m1 \
         JOIN care_memberships m2 ON m2.person_id = m1.person_id AND m2.id > m1.id \
         JOIN persons p ON p.id = m1.person_id \
         WHERE m1.start_date <= (CASE WHEN m2.end_date = '' THEN '9999-12-31' ELSE m2.end_date END) \
         AND m2.start_date <= (CASE WHEN m1.end_date = '' THEN '9999-12-31' ELSE m1.end_date END) \
         AND p.region_code >= $1 AND p.region_code < $2 ORDER BY m1.id, m2.id"
        .to_string();
    let rows = scan(conn, sql, lo, hi, None).await?;
    for r in &rows {
        let c1 = privacy::text(keys, r, "c1")?;
        let c2 = privacy::text(keys, r, "c2")?;
        let Some(rule) = exclusion(&c1, &c2) else {
            continue;
        };
        let m1: i64 = r.try_get("m1")?;
        let m2: i64 = r.try_get("m2")?;
        let pid: i64 = r.try_get("pid")?;
        let region: String = r.try_get("region_code")?;
        out.push(Found {
            kind: "exclusive_groups",
            facts: format!("m{m1}|m{m2}|{c1}|{c2}"),
            persons: vec![(pid, region)],
            detail: json!({
                "rule": rule,
                "memberships": [
                    {"id": m1, "category": c1, "start_date": r.try_get::<String, _>("s1")?,
                     "end_date": r.try_get::<String, _>("e1")?},
                    {"id": m2, "category": c2, "start_date": r.try_get::<String, _>("s2")?,
                     "end_date": r.try_get::<String, _>("e2")?},
                ],
            }),
        });
    }

    // (c) deceased persons still in a payment group (the sealed category opened here).
    let sql = "SELECT m.id AS mid, m.category, m.category_enc, m.start_date, m.end_date, \
         p.id AS pid, p.region_code \
         FROM care_memberships m JOIN persons p ON p.id = m.person_id \
         WHERE p.deceased = 1 AND (m.end_date = '' OR m.end_date >= $3) \
         AND p.region_code >= $1 AND p.region_code < $2 ORDER BY m.id"
        .to_string();
    let rows = scan(conn, sql, lo, hi, Some(today)).await?;
    for r in &rows {
        let category = privacy::text(keys, r, "category")?;
        if !PAYMENT_GROUPS.contains(&category.as_str()) {
            continue;
        }
        let mid: i64 = r.try_get("mid")?;
        let pid: i64 = r.try_get("pid")?;
        out.push(Found {
            kind: "deceased_paid",
            facts: format!("m{mid}|p{pid}"),
            persons: vec![(pid, r.try_get("region_code")?)],
            detail: json!({"membership_id": mid, "category": category,
                           "start_date": r.try_get::<String, _>("start_date")?,
                           "end_date": r.try_get::<String, _>("end_date")?}),
        });
    }
    Ok(out)
}

/// The stored conflict with this fingerprint: (id, status).
pub(super) async fn by_fingerprint(tx: &mut Tx, fp: &str) -> AppResult<Option<(i64, String)>> {
    Ok(
        sqlx::query_as("SELECT id, status FROM crosschecks WHERE fingerprint = $1")
            .bind(fp)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// Store a newly found conflict with its persons; returns its id. `detail` is the sealed
/// facts (`detail_enc`; the clear `detail` stays '').
pub(super) async fn insert_conflict(
    tx: &mut Tx,
    f: &Found,
    fp: &str,
    region: &str,
    detail: &[u8],
) -> AppResult<i64> {
    let now = tx.now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO crosschecks (kind, fingerprint, region_code, status, detail, detail_enc, \
         first_seen_at, last_seen_at) VALUES ($1, $2, $3, 'open', '', $4, $5, $5) \
         RETURNING id",
    )
    .bind(f.kind)
    .bind(fp)
    .bind(region)
    .bind(detail)
    .bind(now)
    .fetch_one(tx.conn())
    .await?;
    for (pid, _) in &f.persons {
        sqlx::query("INSERT INTO crosscheck_persons (crosscheck_id, person_id) VALUES ($1, $2)")
            .bind(id)
            .bind(*pid)
            .execute(tx.conn())
            .await?;
    }
    Ok(id)
}

/// A conflict found again: its status, region and (sealed) detail as of now.
pub(super) async fn seen_again(
    tx: &mut Tx,
    id: i64,
    status: &str,
    region: &str,
    detail: &[u8],
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "UPDATE crosschecks SET status = $1, region_code = $2, detail = '', detail_enc = $3, \
         last_seen_at = $4, cleared_at = NULL WHERE id = $5",
        )
        .bind(status)
        .bind(region)
        .bind(detail)
        .bind(now)
        .bind(id),
    )
    .await
}

/// Ids of the open conflicts stored under the handle.
pub(super) async fn open_ids(tx: &mut Tx, scope: &Scoped<'_>) -> AppResult<Vec<i64>> {
    let (lo, hi) = scope.range();
    Ok(sqlx::query_scalar(
        "SELECT id FROM crosschecks WHERE status = 'open' AND region_code >= $1 AND region_code < $2",
    )
    .bind(lo.to_string())
    .bind(hi.to_string())
    .fetch_all(tx.conn())
    .await?)
}

pub(super) async fn clear(tx: &mut Tx, id: i64) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query("UPDATE crosschecks SET status = 'cleared', cleared_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id),
    )
    .await
}

/// Record a run and its counts.
pub(super) async fn insert_run(
    tx: &mut Tx,
    region: &str,
    by: &str,
    r: &super::RunReport,
) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "INSERT INTO crosscheck_runs (region_code, run_by, run_at, found, created, reopened, \
         cleared) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(region)
        .bind(by)
        .bind(now)
        .bind(r.found)
        .bind(r.created)
        .bind(r.reopened)
        .bind(r.cleared),
    )
    .await
}

/// The last run over the handle's region or a region inside it.
pub(super) async fn last_run(state: &AppState, scope: &Scoped<'_>) -> AppResult<Option<LastRun>> {
    let row = ranged(
        scope,
        "SELECT region_code, run_by, run_at, found, created, reopened, cleared \
         FROM crosscheck_runs WHERE region_code >= $1 AND region_code < $2 \
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(state.db.pool())
    .await?;
    row.map(|r| {
        Ok(LastRun {
            region: r.try_get("region_code")?,
            run_by: r.try_get("run_by")?,
            run_at: format_beijing(from_millis(r.try_get("run_at")?)),
            found: r.try_get("found")?,
            created: r.try_get("created")?,
            reopened: r.try_get("reopened")?,
            cleared: r.try_get("cleared")?,
        })
    })
    .transpose()
}

// ------------------------------------------------------------------------ stored conflicts

pub(super) const CONFLICT_COLS: &str = "c.id, c.kind, c.status, c.detail, c.detail_enc, c.region_code, c.first_seen_at, \
    c.last_seen_at, c.resolved_by, c.resolved_at, c.resolve_note";

/// Filters of a list: status (`all` for any) and kind (empty for any).
pub(super) struct Filter<'a> {
    pub status: &'a str,
    pub kind: Option<&'a str>,
    pub limit: i64,
    pub offset: i64,
}

/// Counts per kind of the conflicts under the handle with the filter's status.
pub(super) async fn counts(
    state: &AppState,
    scope: &Scoped<'_>,
    f: &Filter<'_>,
) -> AppResult<HashMap<String, i64>> {
    let status = if f.status == "all" { "" } else { f.status };
    let sql = "SELECT c.kind, CAST(COUNT(*) AS BIGINT) AS n FROM crosschecks c \
         WHERE c.region_code >= $1 AND c.region_code < $2 AND ($3 = '' OR c.status = $3) GROUP BY c.kind";
    let q = ranged(scope, sql).bind(status);
    let pairs = all(state, q, |r| Ok((r.try_get("kind")?, r.try_get("n")?))).await?;
    Ok(pairs.into_iter().collect())
}

/// A page of conflicts under the handle, newest first.
pub(super) async fn conflicts(
    state: &AppState,
    scope: &Scoped<'_>,
    f: &Filter<'_>,
) -> AppResult<Vec<AnyRow>> {
    let status = if f.status == "all" { "" } else { f.status };
    let sql = format!(
        "SELECT {CONFLICT_COLS} FROM crosschecks c WHERE c.region_code >= $1 AND c.region_code < $2 \
         AND ($3 = '' OR c.status = $3) AND ($4 = '' OR c.kind = $4) \
         ORDER BY c.id DESC LIMIT {} OFFSET {}",
        f.limit, f.offset
    );
    let q = ranged(scope, sql).bind(status).bind(f.kind.unwrap_or(""));
    Ok(q.fetch_all(state.db.pool()).await?)
}

/// One stored conflict under the handle.
pub(super) async fn conflict(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<AnyRow> {
    let sql = format!("SELECT {CONFLICT_COLS} FROM crosschecks c WHERE c.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let region: String = row.try_get("region_code")?;
    scope.admit(&region, row)
}

/// The conflict to resolve, read in the resolving transaction: (kind, status, region).
pub(super) async fn conflict_for_update(
    tx: &mut Tx,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<(String, String, String)> {
    let row: (String, String, String) =
        sqlx::query_as("SELECT kind, status, region_code FROM crosschecks WHERE id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(AppError::not_found)?;
    let region = row.2.clone();
    scope.admit(&region, row)
}

pub(super) async fn set_resolved(tx: &mut Tx, id: i64, by: &str, note: &str) -> AppResult<()> {
    let now = tx.now();
    tx.exec(
        sqlx::query(
            "UPDATE crosschecks SET status = 'resolved', resolved_by = $1, resolved_at = $2, \
         resolve_note = $3 WHERE id = $4 AND status = 'open'",
        )
        .bind(by)
        .bind(now)
        .bind(note)
        .bind(id),
    )
    .await
}

/// The persons of the given conflicts (already let through the handle), by conflict then
/// person, shown as the actor may see them: masked (`people::shown`) and linked when the
/// person lies under the handle, else only `辖区外` (a person outside never appears, not even
/// masked).
pub(super) async fn persons_of(
    state: &AppState,
    scope: &Scoped<'_>,
    ids: &[i64],
) -> AppResult<HashMap<i64, Vec<ConflictPerson>>> {
    let in_list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT cp.crosscheck_id, p.id, p.name, p.region_code, p.id_masked, p.deceased, \
         r.name AS region_name FROM crosscheck_persons cp JOIN persons p ON p.id = cp.person_id \
         LEFT JOIN regions r ON r.code = p.region_code \
         WHERE cp.crosscheck_id IN ({in_list}) ORDER BY cp.crosscheck_id, p.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(state.db.pool())
        .await?;
    let mut persons: HashMap<i64, Vec<ConflictPerson>> = HashMap::new();
    for r in &rows {
        let region: String = r.try_get("region_code")?;
        let p = if scope.contains(&region) {
            let masked: String = r.try_get("id_masked")?;
            ConflictPerson {
                id: Some(r.try_get("id")?),
                name_masked: shown::name_in_list(&r.try_get::<String, _>("name")?),
                id_number_masked: shown::id_number(scope.actor(), &masked),
                region_name: region_name(r)?,
                region_code: region,
                deceased: r.try_get::<i64, _>("deceased")? != 0,
            }
        } else {
            ConflictPerson {
                id: None,
                name_masked: "辖区外".to_string(),
                id_number_masked: String::new(),
                region_code: String::new(),
                region_name: "辖区外".to_string(),
                deceased: false,
            }
        };
        persons
            .entry(r.try_get("crosscheck_id")?)
            .or_default()
            .push(p);
    }
    Ok(persons)
}

// ------------------------------------------------------------------ for other areas' rules

/// `(id, kind)` of the open conflicts involving any of `persons` (assistance approval asks).
pub(super) async fn open_of_persons(
    state: &AppState,
    persons: &[i64],
) -> AppResult<Vec<(i64, String)>> {
    let mut out = Vec::new();
    for p in persons {
        let rows = sqlx::query(
            "SELECT c.id, c.kind FROM crosschecks c JOIN crosscheck_persons cp ON cp.crosscheck_id = c.id \
             WHERE cp.person_id = $1 AND c.status = 'open' ORDER BY c.id",
        )
        .bind(*p)
        .fetch_all(state.db.pool())
        .await?;
        for r in rows {
            let id: i64 = r.try_get("id")?;
            if !out.iter().any(|(i, _)| *i == id) {
                out.push((id, r.try_get("kind")?));
            }
        }
    }
    Ok(out)
}
