//! The SQL of finding children (lead recipients, a household's children, the escalation
//! sweep's due leads and classifications), the statistics' groups and the user pickers.
//! Split from the area's `queries` along that seam; the same rules hold (reads are for the
//! service layer, which scopes them; writes take the open [`Tx`]).

use sqlx::Row;

use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::AppResult;
use crate::kernel::queries::all;
use crate::state::AppState;

/// The village's children's directors and community workers (`user:ID` units).
pub(in crate::children) async fn lead_recipients(
    tx: &mut Tx,
    region: &str,
) -> AppResult<Vec<(String, String)>> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, roles FROM users WHERE scope = $1 AND disabled = 0 ORDER BY id")
            .bind(region.to_string())
            .fetch_all(tx.conn())
            .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, roles)| {
            backstop_core::role::RoleSet::parse_list(roles).is_ok_and(|r| {
                r.has_role(backstop_core::role::Role::ChildrenDirector)
                    || r.has_role(backstop_core::role::Role::CommunityWorker)
            })
        })
        .map(|(id, _)| (region.to_string(), format!("user:{id}")))
        .collect())
}

/// A member of a person's household, as the lead check reads it.
pub(in crate::children) struct Kid {
    pub id: i64,
    pub region_code: String,
    pub name: String,
    pub sex: String,
    pub birth_enc: Option<Vec<u8>>,
    pub birth_year: Option<i64>,
}

/// The living members of `person_id`'s household other than the person (none when the person
/// has no household), and the living persons whose recorded carer (照料责任人, `care_carers`)
/// is this person — the carer's phone's blind index equals the person's (a carer is a name and
/// a phone, not a registry link). Each once, by id.
pub(in crate::children) async fn dependants(tx: &mut Tx, person_id: i64) -> AppResult<Vec<Kid>> {
    let rows = sqlx::query(
        "SELECT m.id, m.region_code, m.name, m.sex, m.birth_enc, m.birth_year FROM persons p \
         JOIN persons m ON m.household_id = p.household_id \
         WHERE p.id = $1 AND m.id <> p.id AND m.deceased = 0 \
         UNION \
         SELECT m.id, m.region_code, m.name, m.sex, m.birth_enc, m.birth_year FROM persons p \
         JOIN care_carers c ON c.phone_index = p.phone_index \
         JOIN persons m ON m.id = c.person_id \
         WHERE p.id = $2 AND m.id <> p.id AND m.deceased = 0 ORDER BY 1",
    )
    .bind(person_id)
    .bind(person_id)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Kid {
                id: r.try_get("id")?,
                region_code: r.try_get("region_code")?,
                name: r.try_get("name")?,
                sex: r.try_get("sex")?,
                birth_enc: r.try_get("birth_enc")?,
                birth_year: r.try_get("birth_year")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Has the child a lead or open case for this reason?
pub(in crate::children) async fn has_active_case(
    tx: &mut Tx,
    person_id: i64,
    reason: &str,
) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases WHERE person_id = $1 AND reason_group = $2 AND status <> 'closed'",
    )
    .bind(person_id)
    .bind(reason.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(n > 0)
}

/// Things only looked at this far back.
const LOOK_BACK_MS: i64 = 30 * 24 * 3600 * 1000;

/// Leads not taken and due by `now`: (id, village, due).
pub(in crate::children) async fn leads_due(
    state: &AppState,
    now: i64,
) -> AppResult<Vec<(i64, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT id, region_code, lead_due_at FROM child_cases WHERE status = 'lead' AND lead_due_at <= $1 \
         AND lead_due_at > $2 ORDER BY id LIMIT 50000",
    )
    .bind(now)
    .bind(now - LOOK_BACK_MS)
    .fetch_all(state.db.pool())
    .await?)
}

/// Open cases not classified by their deadline: (id, village, due).
pub(in crate::children) async fn classifications_due(
    state: &AppState,
    now: i64,
) -> AppResult<Vec<(i64, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT id, region_code, classify_due_at FROM child_cases WHERE status = 'open' AND classified_at IS NULL \
         AND classify_due_at <= $1 AND classify_due_at > $2 ORDER BY id LIMIT 50000",
    )
    .bind(now)
    .bind(now - LOOK_BACK_MS)
    .fetch_all(state.db.pool())
    .await?)
}

/// One group of the statistics: a region prefix and a placement, with its counts.
pub(in crate::children) struct StatGroup {
    pub key: String,
    pub placement: String,
    pub opened: i64,
    pub on_time: i64,
    pub late: i64,
    pub closed: i64,
    pub leads_overdue: i64,
    /// Classified in the period (`on_time + late`), under this placement.
    pub placed: i64,
}

/// Counts per region prefix of `len` characters and placement, under the handle: opened,
/// classified on time / late and closed in `[start, end)`, leads overdue at `now`.
pub(in crate::children) async fn stat_groups(
    state: &AppState,
    scope: &Scoped<'_>,
    len: usize,
    start: i64,
    end: i64,
    now: i64,
) -> AppResult<Vec<StatGroup>> {
    let within = "BETWEEN $3 AND $4";
    let sql = format!(
        "SELECT SUBSTR(region_code, 1, {len}) AS k, placement, \
         CAST(SUM(CASE WHEN created_at {within} THEN 1 ELSE 0 END) AS BIGINT) AS opened, \
         CAST(SUM(CASE WHEN classified_at {within} AND classified_at <= classify_due_at THEN 1 ELSE 0 END) AS BIGINT) AS on_time, \
         CAST(SUM(CASE WHEN classified_at {within} AND classified_at > classify_due_at THEN 1 ELSE 0 END) AS BIGINT) AS late, \
         CAST(SUM(CASE WHEN closed_at {within} THEN 1 ELSE 0 END) AS BIGINT) AS closed, \
         CAST(SUM(CASE WHEN status = 'lead' AND lead_due_at <= $5 THEN 1 ELSE 0 END) AS BIGINT) AS leads_overdue \
         FROM child_cases WHERE region_code >= $1 AND region_code < $2 GROUP BY SUBSTR(region_code, 1, {len}), placement"
    );
    // BETWEEN is inclusive: the period's end is the last millisecond inside it.
    let q = crate::kernel::queries::ranged(scope, sql)
        .bind(start)
        .bind(end - 1)
        .bind(now);
    all(state, q, |r| {
        let on_time: i64 = r.try_get("on_time")?;
        let late: i64 = r.try_get("late")?;
        Ok(StatGroup {
            key: r.try_get("k")?,
            placement: r.try_get("placement")?,
            opened: r.try_get("opened")?,
            on_time,
            late,
            closed: r.try_get("closed")?,
            leads_overdue: r.try_get("leads_overdue")?,
            placed: on_time + late,
        })
    })
    .await
}

/// An active user whose scope is one of `scopes` (for the case page's pickers).
pub(in crate::children) struct PickUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub roles: String,
    pub scope: String,
}

pub(in crate::children) async fn users_in(
    state: &AppState,
    scopes: &[String],
) -> AppResult<Vec<PickUser>> {
    let marks = (1..=scopes.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT id, username, display_name, roles, scope FROM users \
         WHERE disabled = 0 AND scope IN ({marks}) ORDER BY username"
    );
    // Only `$n` placeholders are formatted in; the scopes are bound.
    let mut q =
        sqlx::query_as::<_, (i64, String, String, String, String)>(sqlx::AssertSqlSafe(sql));
    for s in scopes {
        q = q.bind(s.clone());
    }
    let rows = q.fetch_all(state.db.pool()).await?;
    Ok(rows
        .into_iter()
        .map(|(id, username, display_name, roles, scope)| PickUser {
            id,
            username,
            display_name,
            roles,
            scope,
        })
        .collect())
}

/// The child's village of case `id`, read in the caller's transaction whatever the scope
/// (the service decides who may refer to it); `None` when there is no such case.
pub(in crate::children) async fn case_region(tx: &mut Tx, id: i64) -> AppResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT region_code FROM child_cases WHERE id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?,
    )
}
