//! Completeness: the regions and units a summary counts (children of a region, units that
//! must report under it, those that have not).

use sqlx::Row;

use backstop_core::region::Scope;

use crate::kernel::access::Scoped;
use crate::kernel::error::AppResult;
use crate::reports::NATION;
use crate::reports::form::{Form, UnitType};
use crate::reports::missing::MissingUnit;
use crate::state::AppState;

/// The children of the handle's region (the nation's: the provinces), without grids:
/// `(code, name)`.
pub(in crate::reports) async fn child_regions(
    state: &AppState,
    scope: &Scoped<'_>,
) -> AppResult<Vec<(String, String)>> {
    let code = scope.node().as_str();
    let rows = if code == crate::reports::NATION {
        sqlx::query("SELECT code, name FROM regions WHERE parent_code IS NULL ORDER BY code")
            .fetch_all(state.db.reader())
            .await?
    } else {
        sqlx::query(
            "SELECT code, name FROM regions WHERE parent_code = $1 AND level <> 'grid' ORDER BY code",
        )
        .bind(code)
        .fetch_all(state.db.reader())
        .await?
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((r.try_get("code")?, r.try_get("name")?));
    }
    Ok(out)
}

/// The organisation kinds of an organisation form as an SQL list (`'a','b'`), only the
/// well-formed ones; `None` when none is left.
fn kinds_list(form: &Form) -> Option<String> {
    let kinds: Vec<String> = form
        .org_kinds
        .iter()
        .filter(|k| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .map(|k| format!("'{k}'"))
        .collect();
    (!kinds.is_empty()).then(|| kinds.join(","))
}

/// The codes both under the handle and in the form's scope: `[lo, hi)`, `None` when empty.
fn form_range(form: &Form, scope: &Scoped<'_>) -> Option<(String, String)> {
    let (lo, hi) = scope.range();
    let form_scope = Scope::parse(&form.scope).unwrap_or(Scope::National);
    let (flo, fhi) = form_scope
        .sql_bounds()
        .unwrap_or((String::new(), "~".to_string()));
    let (lo, hi) = (lo.to_string().max(flo), hi.to_string().min(fhi));
    (lo < hi).then_some((lo, hi))
}

/// Units under the handle that must report a form, counted per code prefix of length `clen`:
/// `(prefix, n)`.
pub(in crate::reports) async fn expected_counts(
    state: &AppState,
    form: &Form,
    scope: &Scoped<'_>,
    clen: i64,
) -> AppResult<Vec<(String, i64)>> {
    let Some((lo, hi)) = form_range(form, scope) else {
        return Ok(Vec::new());
    };
    let (table, filter) = match form.unit_type {
        UnitType::Village => (
            "SELECT code AS c FROM regions WHERE level = 'village'",
            String::new(),
        ),
        UnitType::Org => {
            let Some(kinds) = kinds_list(form) else {
                return Ok(Vec::new());
            };
            (
                "SELECT region_code AS c FROM orgs WHERE disabled = 0",
                format!(" AND kind IN ({kinds})"),
            )
        }
        UnitType::Any => return Ok(Vec::new()),
    };
    let col = if form.unit_type == UnitType::Village {
        "code"
    } else {
        "region_code"
    };
    let sql = format!(
        "SELECT substr(c, 1, CAST($3 AS INTEGER)) AS p, CAST(COUNT(*) AS BIGINT) AS n FROM ({table}{filter} AND {col} >= $1 AND {col} < $2) x GROUP BY 1"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&lo)
        .bind(&hi)
        .bind(clen)
        .fetch_all(state.db.reader())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((r.try_get("p")?, r.try_get("n")?));
    }
    Ok(out)
}

/// Units under the handle (and in the form's scope) that have not reported a form for a
/// period, at most `limit`.
pub(in crate::reports) async fn missing_units(
    state: &AppState,
    form: &Form,
    period: &str,
    scope: &Scoped<'_>,
    limit: i64,
) -> AppResult<Vec<MissingUnit>> {
    let (lo, hi) = form_range(form, scope).unwrap_or_default();
    // The reports of the period in the range, as a sub-query the units are anti-joined with
    // (`LEFT JOIN … IS NULL`): one hash anti-join on PostgreSQL, and on Citus a sub-query it
    // runs on the shards (the province's one when the handle lies in a province) before
    // joining the reference table `regions`/`orgs` on the coordinator — a correlated
    // `NOT EXISTS` beside a reference table is refused there.
    let province = match scope.node().as_str() {
        NATION => String::new(),
        code => format!(" AND province = '{}'", crate::audit::chain_of(code)),
    };
    let filed = format!(
        "(SELECT unit FROM report_submissions WHERE template_key = $3 AND period = $4 \
         AND region_code >= $1 AND region_code < $2{province}) s"
    );
    let sql = match form.unit_type {
        UnitType::Village => format!(
            "SELECT r.code AS unit, r.name, r.code AS region_code, '' AS contact_person, '' AS contact_phone \
             FROM regions r LEFT JOIN {filed} ON s.unit = r.code WHERE r.level = 'village' \
             AND r.code >= $1 AND r.code < $2 AND s.unit IS NULL ORDER BY r.code LIMIT $5"
        ),
        UnitType::Org => {
            let Some(kinds) = kinds_list(form) else {
                return Ok(Vec::new());
            };
            format!(
                "SELECT 'org:' || CAST(o.id AS TEXT) AS unit, o.name, o.region_code, o.contact_person, o.contact_phone \
                 FROM orgs o LEFT JOIN {filed} ON s.unit = 'org:' || CAST(o.id AS TEXT) \
                 WHERE o.kind IN ({kinds}) AND o.disabled = 0 \
                 AND o.region_code >= $1 AND o.region_code < $2 AND s.unit IS NULL \
                 ORDER BY o.region_code, o.id LIMIT $5"
            )
        }
        UnitType::Any => return Ok(Vec::new()),
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&lo)
        .bind(&hi)
        .bind(&form.key)
        .bind(period)
        .bind(limit)
        .fetch_all(state.db.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(MissingUnit {
            unit: r.try_get("unit")?,
            name: r.try_get("name")?,
            region_code: r.try_get("region_code")?,
            contact_person: r.try_get("contact_person")?,
            contact_phone: r.try_get("contact_phone")?,
            escalated: false,
        });
    }
    Ok(out)
}
