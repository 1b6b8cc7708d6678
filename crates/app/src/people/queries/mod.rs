//! Every SQL statement of people and households, and the only place in `people` (apart from
//! the roster import's own `import::queries`) that runs one.
//!
//! Reading functions take a [`Scoped`] handle: a person or household fetched by id is let
//! through [`Scoped::admit`] (outside the handle: *not found*), and lists are limited to the
//! handle's code range in SQL (`search`). A person comes out as a [`Stored`] row — masked forms
//! only — which is shown to an actor only through `Stored::view` (`people::shown`). Writing
//! functions take the open [`Tx`]; the service commits it with its audit entry. Ciphertext is
//! read only for the audited reveal and export, and for the ID number check of an update.

pub(crate) mod households;
pub(crate) mod numbers;
pub(crate) mod privacy;
pub(crate) mod search;

use backstop_store::Db;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Checked, Sealed, SealedBirth, pinyin, sex_str};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::region_name;
use crate::people::links::LinkKind;
use crate::state::AppState;

/// A person row as stored (masked forms only; ciphertext is read only by `reveal`).
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub name: String,
    pub sex: String,
    pub birth_year: Option<i64>,
    pub id_masked: String,
    pub phone_masked: String,
    pub phone_index: Option<String>,
    pub hukou_address: String,
    pub address: String,
    pub household_id: Option<i64>,
    pub relationship: String,
    pub deceased: bool,
    pub disabled: bool,
    pub created_at: i64,
    /// For a link: the record holding the ID number (never shown to the link's region).
    pub link_of: Option<i64>,
    /// `residence`, `hukou`, or empty for a record of its own.
    pub link_kind: String,
}

pub(crate) const COLS: &str = "p.id, p.region_code, r.name AS region_name, p.name, p.sex, \
    p.birth_year, p.id_masked, p.phone_masked, p.phone_index, p.hukou_address, p.address, \
    p.household_id, p.relationship, p.deceased, p.disabled, p.created_at, p.link_of, p.link_kind";

pub(crate) fn stored_from_row(r: &AnyRow) -> Result<Stored, sqlx::Error> {
    Ok(Stored {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        region_name: region_name(r)?,
        name: r.try_get("name")?,
        sex: r.try_get("sex")?,
        birth_year: r.try_get("birth_year")?,
        id_masked: r.try_get("id_masked")?,
        phone_masked: r.try_get("phone_masked")?,
        phone_index: r.try_get("phone_index")?,
        hukou_address: r.try_get("hukou_address")?,
        address: r.try_get("address")?,
        household_id: r.try_get("household_id")?,
        relationship: r.try_get("relationship")?,
        deceased: r.try_get::<i64, _>("deceased")? != 0,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_at: r.try_get("created_at")?,
        link_of: r.try_get("link_of")?,
        link_kind: r.try_get("link_kind")?,
    })
}

/// Let a stored person through the handle (outside it: *not found*).
fn admit(scope: &Scoped<'_>, s: Stored) -> AppResult<Stored> {
    let code = s.region_code.clone();
    scope.admit(&code, s)
}

async fn load(conn: &mut AnyConnection, id: i64) -> AppResult<Option<Stored>> {
    let sql = format!(
        "SELECT {COLS} FROM persons p LEFT JOIN regions r ON r.code = p.region_code WHERE p.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(stored_from_row).transpose()?)
}

/// One person under the handle, on `conn` (the pool's, or an open transaction's).
pub(crate) async fn person(
    conn: &mut AnyConnection,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Stored> {
    let s = load(conn, id).await?.ok_or_else(AppError::not_found)?;
    admit(scope, s)
}

/// One person under the handle, read from the pool.
pub(crate) async fn person_now(state: &AppState, scope: &Scoped<'_>, id: i64) -> AppResult<Stored> {
    let mut conn = state.db.pool().acquire().await?;
    person(&mut conn, scope, id).await
}

/// The stored person holding a blind-indexed ID number, whatever the scope: only for the
/// uniqueness of the number (the roster import's merge, which checks the scope per row).
pub(crate) async fn load_by_index(
    conn: &mut AnyConnection,
    index: &str,
) -> AppResult<Option<Stored>> {
    let sql = format!(
        "SELECT {COLS} FROM persons p LEFT JOIN regions r ON r.code = p.region_code \
         WHERE p.id_index = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(index)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(stored_from_row).transpose()?)
}

/// Who holds an ID number (by blind index), as the handle may know it.
pub(crate) enum Holder {
    Nobody,
    /// Held by a person under the handle.
    Here(Box<Stored>),
    /// Held by a person outside it: the caller answers as if nobody held it (a link, or *not
    /// found*), never shows this row, and never says where.
    Elsewhere(Box<Stored>),
}

pub(crate) async fn holder(
    conn: &mut AnyConnection,
    scope: &Scoped<'_>,
    index: &str,
) -> AppResult<Holder> {
    Ok(match load_by_index(conn, index).await? {
        None => Holder::Nobody,
        Some(s) if scope.contains(&s.region_code) => Holder::Here(Box::new(s)),
        Some(s) => Holder::Elsewhere(Box::new(s)),
    })
}

/// The link under the handle to the record `holder` (a region's own registration of a person
/// held elsewhere), if any.
pub(crate) async fn link_here(
    conn: &mut AnyConnection,
    scope: &Scoped<'_>,
    holder: i64,
) -> AppResult<Option<Stored>> {
    let (lo, hi) = scope.range();
    let sql = format!(
        "SELECT {COLS} FROM persons p LEFT JOIN regions r ON r.code = p.region_code \
         WHERE p.link_of = $1 AND p.region_code >= $2 AND p.region_code < $3 \
         ORDER BY p.id LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(holder)
        .bind(lo)
        .bind(hi)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(stored_from_row).transpose()?)
}

/// Where else the record `holder` (admitted by the caller) is registered: its links.
pub(crate) async fn links_of(
    conn: &mut AnyConnection,
    holder: i64,
) -> AppResult<Vec<crate::people::links::PersonLink>> {
    let rows = sqlx::query(
        "SELECT p.region_code, r.name AS region_name, p.link_kind, p.created_at \
         FROM persons p LEFT JOIN regions r ON r.code = p.region_code \
         WHERE p.link_of = $1 ORDER BY p.created_at, p.id",
    )
    .bind(holder)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("link_kind")?;
            Ok(crate::people::links::PersonLink {
                region_code: r.try_get("region_code")?,
                region_name: region_name(r)?,
                kind_label: LinkKind::from_stored(&kind)
                    .map(LinkKind::label)
                    .unwrap_or("")
                    .to_string(),
                kind,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Exact ID lookups `username` made (or was refused) since `since`, from the audit log.
pub(crate) async fn lookups_since(
    conn: &mut AnyConnection,
    username: &str,
    since: i64,
) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE username = $1 AND action = 'person.lookup' \
         AND at >= $2",
    )
    .bind(username)
    .bind(since)
    .fetch_one(conn)
    .await?)
}

/// Insert a validated person; its audit entry goes with the transaction's commit. A number is
/// claimed first (`numbers::claim`: *conflict* when another record holds it).
/// `link` is the record holding the ID number elsewhere and the link's kind, for a residence
/// link (the ID number's ciphertext is kept on the link for its own region's audited reveal;
/// its blind index is not, so the number still names one record).
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    now: i64,
    region: &str,
    c: &Checked,
    s: &Sealed,
    link: Option<(i64, LinkKind)>,
) -> AppResult<i64> {
    let b = &s.birth;
    let (name_pinyin, name_initials) = pinyin::keys(&c.name);
    let id_index = if link.is_some() {
        None
    } else {
        s.id_index.clone()
    };
    if let Some(index) = &id_index {
        numbers::claim(&mut *conn, index, region, now).await?;
    }
    Ok(sqlx::query_scalar(
        "INSERT INTO persons (region_code, name, sex, birth_enc, birth_year, birth_index, \
         id_enc, id_index, id_masked, phone_enc, phone_index, phone_masked, hukou_address, \
         address, deceased, created_at, updated_at, name_pinyin, name_initials, link_of, \
         link_kind) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, $15, $15, $16, \
         $17, $18, $19) RETURNING id",
    )
    .bind(region)
    .bind(&c.name)
    .bind(sex_str(c.sex))
    .bind(b.enc.clone())
    .bind(b.year)
    .bind(b.index.clone())
    .bind(s.id_enc.clone())
    .bind(id_index)
    .bind(&s.id_masked)
    .bind(s.phone_enc.clone())
    .bind(s.phone_index.clone())
    .bind(&s.phone_masked)
    .bind(&c.hukou_address)
    .bind(&c.address)
    .bind(now)
    .bind(name_pinyin)
    .bind(name_initials)
    .bind(link.map(|(of, _)| of))
    .bind(link.map(|(_, kind)| kind.as_str()).unwrap_or(""))
    .fetch_one(conn)
    .await?)
}

/// The ciphertexts of a person admitted earlier (ID number, phone, birth date), for the audited
/// reveal and the update's ID number check.
pub(crate) async fn ciphertexts(
    conn: &mut AnyConnection,
    admitted: &Stored,
) -> AppResult<Ciphertexts> {
    let row = sqlx::query("SELECT id_enc, phone_enc, birth_enc FROM persons WHERE id = $1")
        .bind(admitted.id)
        .fetch_one(conn)
        .await?;
    Ok(Ciphertexts {
        id: row.try_get("id_enc")?,
        phone: row.try_get("phone_enc")?,
        birth: row.try_get("birth_enc")?,
    })
}

/// A person's sealed values, read only for the audited reveal and the update's checks.
pub(crate) struct Ciphertexts {
    pub id: Option<Vec<u8>>,
    pub phone: Option<Vec<u8>>,
    pub birth: Option<Vec<u8>>,
}

/// A person's new values, validated (`update`); phone and ID number only when they change.
pub(crate) struct PersonUpdate<'a> {
    pub name: &'a str,
    /// The region the person was in before the change, and the new one.
    pub was_region: &'a str,
    pub region_code: &'a str,
    pub sex: &'a str,
    /// A new birth date, sealed; `None` keeps the stored one.
    pub birth: Option<&'a SealedBirth>,
    pub address: &'a str,
    pub hukou_address: &'a str,
    pub deceased: bool,
    pub phone: Option<&'a Sealed>,
    pub id: Option<&'a Sealed>,
    /// The record this one becomes a link to (a number added that another region holds).
    pub link: Option<(i64, LinkKind)>,
}

pub(crate) async fn update(tx: &mut Tx, id: i64, u: &PersonUpdate<'_>) -> AppResult<()> {
    let now = tx.now();
    numbers::moved(tx.conn(), id, u.was_region, u.region_code).await?;
    if let Some(index) = u.id.and_then(|s| s.id_index.as_deref()) {
        numbers::claim(tx.conn(), index, u.region_code, now).await?;
    }
    let (name_pinyin, name_initials) = pinyin::keys(u.name);
    let mut q_set = String::from(
        "UPDATE persons SET name = $1, region_code = $2, sex = $3, \
         address = $5, hukou_address = $6, deceased = $7, updated_at = $8, \
         name_pinyin = $81, name_initials = $82",
    );
    if u.birth.is_some() {
        q_set.push_str(", birth_enc = $41, birth_year = $42, birth_index = $43");
    }
    if u.phone.is_some() {
        q_set.push_str(", phone_enc = $9, phone_index = $10, phone_masked = $11");
    }
    if u.id.is_some() {
        q_set.push_str(", id_enc = $12, id_index = $13, id_masked = $14");
    }
    if u.link.is_some() {
        q_set.push_str(", link_of = $51, link_kind = $52");
    }
    q_set.push_str(" WHERE id = $15");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(renumber(&q_set)))
        .bind(u.name)
        .bind(u.region_code)
        .bind(u.sex)
        .bind(u.address)
        .bind(u.hukou_address)
        .bind(i64::from(u.deceased))
        .bind(now)
        .bind(name_pinyin)
        .bind(name_initials);
    if let Some(b) = u.birth {
        q = q.bind(b.enc.clone()).bind(b.year).bind(b.index.clone());
    }
    if let Some(s) = u.phone {
        q = q
            .bind(s.phone_enc.clone())
            .bind(s.phone_index.clone())
            .bind(s.phone_masked.clone());
    }
    if let Some(s) = u.id {
        q = q
            .bind(s.id_enc.clone())
            .bind(s.id_index.clone())
            .bind(s.id_masked.clone());
    }
    if let Some((of, kind)) = u.link {
        q = q.bind(of).bind(kind.as_str());
    }
    q.bind(id).execute(tx.conn()).await?;
    Ok(())
}

/// Renumber `$n` placeholders in order of appearance, so optional SET clauses can be written
/// with fixed numbers and bound in the same order.
fn renumber(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Persons written before the name keys existed (`name_pinyin IS NULL`), by id after `after`:
/// (id, name), at most 500. Maintenance, no actor.
pub(crate) async fn without_name_keys(
    db: &Db,
    after: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name FROM persons WHERE name_pinyin IS NULL AND id > $1 ORDER BY id LIMIT 500",
    )
    .bind(after)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .collect()
}

/// Set a person's name keys when still missing.
pub(crate) async fn set_name_keys(
    conn: &mut AnyConnection,
    id: i64,
    full: &str,
    initials: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE persons SET name_pinyin = $1, name_initials = $2 \
         WHERE id = $3 AND name_pinyin IS NULL",
    )
    .bind(full)
    .bind(initials)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered() {
        assert_eq!(
            renumber("a = $1, b = $9 WHERE c = $15"),
            "a = $1, b = $2 WHERE c = $3"
        );
    }
}
