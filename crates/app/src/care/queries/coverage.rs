//! SQL of the coverage view (走访覆盖): the memberships of the handle's range active in a
//! period, with whether their person was visited in it. The category is sealed (migration
//! 0025), so the rows are read without filtering on it and grouped or filtered here, in
//! memory, after opening it: a county holds thousands of memberships, not millions, and a
//! blind index would reveal who shares a category.

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::category_of;
use crate::care::{NotContacted, category_label};
use crate::kernel::access::Scoped;
use crate::kernel::error::AppResult;
use crate::kernel::queries::text_or_empty;
use crate::people::shown;
use crate::state::AppState;

/// A membership active at some time in the period `$3`..`$4`.
const ACTIVE: &str = "m.start_date <= $4 AND (m.end_date = '' OR m.end_date >= $3)";
/// Its person visited in the period.
const CONTACTED: &str = "EXISTS (SELECT 1 FROM care_visits v WHERE v.person_id = m.person_id \
    AND v.visited_on >= $3 AND v.visited_on <= $4)";

/// The rows of `sql` (`$1`–`$2` the handle's range, `$3`–`$4` the period).
async fn in_period(
    state: &AppState,
    scope: &Scoped<'_>,
    sql: String,
    from: &str,
    to: &str,
) -> AppResult<Vec<sqlx::any::AnyRow>> {
    let (lo, hi) = scope.range();
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lo)
        .bind(hi)
        .bind(from)
        .bind(to)
        .fetch_all(state.db.pool())
        .await?)
}

/// Per category under the handle: (members active in the period, of them contacted).
pub(in crate::care) async fn coverage_counts(
    state: &AppState,
    scope: &Scoped<'_>,
    from: &str,
    to: &str,
) -> AppResult<HashMap<String, (i64, i64)>> {
    let sql = format!(
        "SELECT m.person_id, m.category, m.category_enc, \
         CASE WHEN {CONTACTED} THEN 1 ELSE 0 END AS contacted \
         FROM care_memberships m JOIN persons p ON p.id = m.person_id \
         WHERE p.region_code >= $1 AND p.region_code < $2 AND {ACTIVE}"
    );
    let rows = in_period(state, scope, sql, from, to).await?;
    let mut sets: HashMap<String, (HashSet<i64>, HashSet<i64>)> = HashMap::new();
    for r in &rows {
        let pid: i64 = r.try_get("person_id")?;
        let contacted = r.try_get::<i64, _>("contacted")? != 0;
        let (members, reached) = sets.entry(category_of(&state.keys, r)?).or_default();
        members.insert(pid);
        if contacted {
            reached.insert(pid);
        }
    }
    Ok(sets
        .into_iter()
        .map(|(c, (m, k))| (c, (m.len() as i64, k.len() as i64)))
        .collect())
}

/// One membership row of the not-contacted list.
struct Listed {
    region_code: String,
    person_id: i64,
    category: String,
    name: String,
    region_name: String,
}

/// Members under the handle active in the period and not visited in it, optionally of one
/// category; at most 5000 persons, by region and id, each with its categories.
pub(in crate::care) async fn not_contacted(
    state: &AppState,
    scope: &Scoped<'_>,
    from: &str,
    to: &str,
    category: Option<&str>,
) -> AppResult<Vec<NotContacted>> {
    let sql = format!(
        "SELECT m.person_id, m.category, m.category_enc, p.name, p.region_code, \
         r.name AS region_name \
         FROM care_memberships m JOIN persons p ON p.id = m.person_id \
         LEFT JOIN regions r ON r.code = p.region_code \
         WHERE p.region_code >= $1 AND p.region_code < $2 AND {ACTIVE} AND NOT {CONTACTED}"
    );
    let rows = in_period(state, scope, sql, from, to).await?;
    let mut listed = Vec::with_capacity(rows.len());
    for r in &rows {
        let cat = category_of(&state.keys, r)?;
        if category.is_some_and(|c| c != cat) {
            continue;
        }
        listed.push(Listed {
            region_code: r.try_get("region_code")?,
            person_id: r.try_get("person_id")?,
            category: cat,
            name: r.try_get("name")?,
            region_name: text_or_empty(r, "region_name")?,
        });
    }
    listed.sort_by(|a, b| {
        (&a.region_code, a.person_id, &a.category).cmp(&(&b.region_code, b.person_id, &b.category))
    });
    let mut out: Vec<NotContacted> = Vec::new();
    for m in listed {
        let label = category_label(&m.category).to_string();
        match out.last_mut() {
            Some(last) if last.person_id == m.person_id => {
                if !last.categories.contains(&label) {
                    last.categories.push(label);
                }
            }
            _ => {
                if out.len() >= 5000 {
                    break;
                }
                out.push(NotContacted {
                    person_id: m.person_id,
                    name_masked: shown::name_in_list(&m.name),
                    region_code: m.region_code,
                    region_name: m.region_name,
                    categories: vec![label],
                });
            }
        }
    }
    Ok(out)
}
