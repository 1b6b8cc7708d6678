//! The person search as SQL, shared by the list (`people::list`) and the Excel export: a
//! `WHERE` clause over `persons p` that always starts with the handle's code range, and its
//! text arguments. Name parts, full pinyin or initials, masked fragments and groups are added
//! as conditions here and nowhere else.

use sqlx::any::AnyRow;

use super::{COLS, Stored, stored_from_row};
use crate::kernel::access::Scoped;
use crate::kernel::error::AppResult;
use crate::kernel::queries::like_escape;
use crate::state::AppState;

/// A person search as SQL: a `WHERE` clause over `persons p` (always inside the handle) and
/// its text arguments, numbered `$1..`.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    where_: String,
    args: Vec<String>,
}

impl Filter {
    /// Everyone under the handle.
    pub(crate) fn new(scope: &Scoped<'_>) -> Filter {
        let (lo, hi) = scope.range();
        Filter {
            where_: String::from("p.region_code >= $1 AND p.region_code < $2"),
            args: vec![lo.to_string(), hi.to_string()],
        }
    }

    fn push(&mut self, arg: String) -> usize {
        self.args.push(arg);
        self.args.len()
    }

    /// A masked fragment (digits and `X`, already checked): the 6+4 masked ID number only when
    /// `id_too` (roles that may see it), the masked phone (3+4) always.
    pub(crate) fn masked(&mut self, frag: &str, id_too: bool) {
        let n = self.push(format!("%{frag}%"));
        if id_too {
            self.where_.push_str(&format!(
                " AND (p.id_masked LIKE ${n} OR p.phone_masked LIKE ${n})"
            ));
        } else {
            self.where_
                .push_str(&format!(" AND p.phone_masked LIKE ${n}"));
        }
    }

    /// A part of the name (at most 50 characters are used).
    pub(crate) fn name_part(&mut self, name: &str) {
        let name: String = name.chars().take(50).collect();
        let n = self.push(format!("%{}%", like_escape(&name)));
        self.where_
            .push_str(&format!(" AND p.name LIKE ${n} ESCAPE '\\'"));
    }

    /// The start of the full pinyin or of the initials (`pinyin::query_key`).
    pub(crate) fn pinyin(&mut self, key: &str) {
        // Keys are [a-z0-9] only: no wildcard to escape, and no ESCAPE clause, so both
        // engines can use the prefix indexes of migration 0010.
        let n = self.push(format!("{key}%"));
        self.where_.push_str(&format!(
            " AND (p.name_pinyin LIKE ${n} OR p.name_initials LIKE ${n})"
        ));
    }

    /// Only disabled persons (`true`) or only those in use (`false`).
    pub(crate) fn disabled(&mut self, disabled: bool) {
        self.where_.push_str(if disabled {
            " AND p.disabled = 1"
        } else {
            " AND p.disabled = 0"
        });
    }

    /// A membership in `category` active on `today` (`YYYY-MM-DD`). The category is sealed
    /// (migration 0025): the memberships active on that day under the handle's range are
    /// read, opened and matched here, and the persons found become an id list (integers
    /// only) in the clause — a county's thousands, not millions.
    pub(crate) async fn group(
        &mut self,
        state: &AppState,
        category: &str,
        today: &str,
    ) -> AppResult<()> {
        use sqlx::Row;
        let rows = sqlx::query(
            "SELECT m.person_id, m.category, m.category_enc FROM care_memberships m \
             JOIN persons p ON p.id = m.person_id \
             WHERE p.region_code >= $1 AND p.region_code < $2 \
             AND m.start_date <= $3 AND (m.end_date = '' OR m.end_date >= $3)",
        )
        .bind(self.args[0].clone())
        .bind(self.args[1].clone())
        .bind(today)
        .fetch_all(state.db.pool())
        .await?;
        let mut ids: Vec<i64> = Vec::new();
        for r in &rows {
            if crate::care::category_of(&state.keys, r)? == category {
                ids.push(r.try_get("person_id")?);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            self.where_.push_str(" AND 1 = 0");
        } else {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            self.where_
                .push_str(&format!(" AND p.id IN ({})", list.join(",")));
        }
        Ok(())
    }
}

/// How many persons match.
pub(crate) async fn count(state: &AppState, f: &Filter) -> AppResult<i64> {
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM persons p WHERE {}",
        f.where_
    );
    let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
    for a in &f.args {
        q = q.bind(a.clone());
    }
    Ok(q.fetch_one(state.db.pool()).await?)
}

/// One page of the matches, by region code, name and id.
pub(crate) async fn page(
    state: &AppState,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<Stored>> {
    let sql = format!(
        "SELECT {COLS} FROM persons p LEFT JOIN regions r ON r.code = p.region_code \
         WHERE {} ORDER BY p.region_code, p.name, p.id LIMIT {limit} OFFSET {offset}",
        f.where_
    );
    let mut lq = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in &f.args {
        lq = lq.bind(a.clone());
    }
    let rows = lq.fetch_all(state.db.pool()).await?;
    Ok(rows.iter().map(stored_from_row).collect::<Result<_, _>>()?)
}

/// Number of persons under the handle.
pub(crate) async fn count_all(state: &AppState, scope: &Scoped<'_>) -> AppResult<i64> {
    let (lo, hi) = scope.range();
    Ok(sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM persons WHERE region_code >= $1 AND region_code < $2",
    )
    .bind(lo)
    .bind(hi)
    .fetch_one(state.db.pool())
    .await?)
}

/// One person of an export page: the stored row, and with `full` the ciphertexts of the ID
/// number and phone (decrypted only into the file).
pub(crate) struct ExportRow {
    pub stored: Stored,
    pub id_enc: Option<Vec<u8>>,
    pub phone_enc: Option<Vec<u8>>,
}

fn export_row(r: &AnyRow, full: bool) -> Result<ExportRow, sqlx::Error> {
    use sqlx::Row;
    Ok(ExportRow {
        stored: stored_from_row(r)?,
        id_enc: if full { r.try_get("id_enc")? } else { None },
        phone_enc: if full { r.try_get("phone_enc")? } else { None },
    })
}

/// The export's pages: `page` rows after the keyset `after` (region code, name, id).
pub(crate) struct ExportPages<'f> {
    f: &'f Filter,
    sql: String,
    full: bool,
}

impl<'f> ExportPages<'f> {
    pub(crate) fn new(f: &'f Filter, full: bool, page: i64) -> Self {
        let extra = if full { ", p.id_enc, p.phone_enc" } else { "" };
        let n = f.args.len();
        let sql = format!(
            "SELECT {COLS}{extra} FROM persons p LEFT JOIN regions r ON r.code = p.region_code \
             WHERE {} AND (p.region_code > ${a} OR (p.region_code = ${a} AND (p.name > ${b} \
             OR (p.name = ${b} AND p.id > ${c})))) \
             ORDER BY p.region_code, p.name, p.id LIMIT {page}",
            f.where_,
            a = n + 1,
            b = n + 2,
            c = n + 3,
        );
        ExportPages { f, sql, full }
    }

    pub(crate) async fn after(
        &self,
        state: &AppState,
        after: &(String, String, i64),
    ) -> AppResult<Vec<ExportRow>> {
        let mut lq = sqlx::query(sqlx::AssertSqlSafe(self.sql.clone()));
        for a in &self.f.args {
            lq = lq.bind(a.clone());
        }
        let page = lq
            .bind(after.0.clone())
            .bind(after.1.clone())
            .bind(after.2)
            .fetch_all(state.db.pool())
            .await?;
        Ok(page
            .iter()
            .map(|r| export_row(r, self.full))
            .collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_escape("a%_\\"), "a\\%\\_\\\\");
    }
}
