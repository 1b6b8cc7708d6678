//! Every SQL statement of the pickers, and the only file of the area that runs one. Each
//! reads under the [`Scoped`] handle's code range; the typed text is bound, never spliced
//! (`LIKE` wildcards in it are escaped).

use backstop_core::region::RegionCode;
use sqlx::Row;

use super::{LIMIT, Pick, Typed};
use crate::kernel::access::Scoped;
use crate::kernel::error::AppResult;
use crate::kernel::queries::{like_escape, ranged};
use crate::state::AppState;

/// The name contains the text, the initials start with its pinyin key, or the code starts
/// with it (digits): `$3` name pattern, `$4` initials pattern, `$5` code pattern.
fn binds(t: &Typed) -> (String, String, String) {
    let name = format!("%{}%", like_escape(&t.text));
    // A pattern that matches nothing when the text is not pinyin-like.
    let initials = t
        .initials
        .as_ref()
        .map(|k| format!("{k}%"))
        .unwrap_or_else(|| "\u{1}".to_string());
    let code = if t.text.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}%", t.text)
    } else {
        "\u{1}".to_string()
    };
    (name, initials, code)
}

async fn region_rows(
    state: &AppState,
    scope: &Scoped<'_>,
    t: &Typed,
    villages_only: bool,
) -> AppResult<Vec<Pick>> {
    let (name, initials, code) = binds(t);
    let level = if villages_only {
        " AND r.level = 'village'"
    } else {
        " AND r.level <> 'grid'"
    };
    let sql = format!(
        "SELECT r.code, r.name, COALESCE(p.name, '') AS parent FROM regions r \
         LEFT JOIN regions p ON p.code = r.parent_code \
         WHERE r.code >= $1 AND r.code < $2{level} \
         AND (r.name LIKE $3 ESCAPE '\\' OR r.initials LIKE $4 OR r.code LIKE $5) \
         ORDER BY LENGTH(r.code), r.name, r.code LIMIT {LIMIT}"
    );
    let rows = ranged(scope, sql)
        .bind(name)
        .bind(initials)
        .bind(code)
        .fetch_all(state.db.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let code: String = r.try_get("code")?;
        let level = RegionCode::parse(&code)
            .map(|c| c.level().label_zh())
            .unwrap_or("");
        let parent: String = r.try_get("parent")?;
        out.push(Pick {
            label: r.try_get("name")?,
            hint: [level, parent.as_str(), code.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" · "),
            value: code,
        });
    }
    Ok(out)
}

/// Regions (not grids) under the handle matching what was typed.
pub(super) async fn regions(
    state: &AppState,
    scope: &Scoped<'_>,
    t: &Typed,
) -> AppResult<Vec<Pick>> {
    region_rows(state, scope, t, false).await
}

/// Villages (reporting units) under the handle matching what was typed.
pub(super) async fn villages(
    state: &AppState,
    scope: &Scoped<'_>,
    t: &Typed,
) -> AppResult<Vec<Pick>> {
    region_rows(state, scope, t, true).await
}

/// Organisations in use under the handle, optionally of the given kinds, that may match what
/// was typed: by name when it is not pinyin-like, else every one (at most 5,000, by region and
/// name) for the caller to match by initials. `(id, name, region name)`.
pub(super) async fn org_candidates(
    state: &AppState,
    scope: &Scoped<'_>,
    t: &Typed,
    kinds: &[String],
) -> AppResult<Vec<(i64, String, String)>> {
    let mut sql = String::from(
        "SELECT o.id, o.name, COALESCE(r.name, '') AS region_name FROM orgs o \
         LEFT JOIN regions r ON r.code = o.region_code \
         WHERE o.region_code >= $1 AND o.region_code < $2 AND o.disabled = 0",
    );
    let mut n = 2;
    let by_name = t.initials.is_none();
    if by_name {
        n += 1;
        sql.push_str(&format!(
            " AND (o.name LIKE ${n} ESCAPE '\\' OR CAST(o.id AS TEXT) = ${})",
            n + 1
        ));
        n += 1;
    }
    if !kinds.is_empty() {
        let list: Vec<String> = (0..kinds.len())
            .map(|i| format!("${}", n + 1 + i))
            .collect();
        sql.push_str(&format!(" AND o.kind IN ({})", list.join(", ")));
    }
    sql.push_str(" ORDER BY LENGTH(o.region_code), o.name, o.id LIMIT 5000");
    let mut q = ranged(scope, sql);
    if by_name {
        q = q
            .bind(format!("%{}%", like_escape(&t.text)))
            .bind(t.text.clone());
    }
    for k in kinds {
        q = q.bind(k.clone());
    }
    let rows = q.fetch_all(state.db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((
            r.try_get("id")?,
            r.try_get("name")?,
            r.try_get("region_name")?,
        ));
    }
    Ok(out)
}
