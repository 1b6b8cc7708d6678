//! The SQL of applications made by the applicant on the public page (split from
//! `queries/mod.rs`). The applicant has no region scope: what they read is bounded by the
//! blind index of the phone they verified, never by anything they type alone.

use sqlx::Row;

use super::province_of;
use crate::assistance::public::{PublicStatus, public_status_label};
use crate::kernel::access::Tx;
use crate::kernel::error::AppResult;
use crate::kernel::queries::{region_name, text_or_empty};
use crate::state::AppState;
use backstop_core::Programme;

/// Is any of `persons` on an application of `programme` not rejected, or on its roll and not
/// exited? (For the staff flag only: the applicant's answer never depends on it.)
pub(in crate::assistance) async fn already_covered(
    tx: &mut Tx,
    programme: &str,
    persons: &[i64],
) -> AppResult<bool> {
    let list = super::placeholders(2, persons.len());
    let sql = format!(
        "SELECT CAST((SELECT COUNT(*) FROM assistance_application_members m \
         JOIN assistance_applications a ON a.id = m.application_id \
         WHERE a.programme = $1 AND a.status <> 'rejected' AND m.person_id IN ({list})) \
         + (SELECT COUNT(*) FROM assistance_beneficiaries b WHERE b.programme = $1 \
         AND b.status <> 'exited' AND b.person_id IN ({list})) AS BIGINT)"
    );
    let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(programme.to_string());
    for p in persons {
        q = q.bind(*p);
    }
    Ok(q.fetch_one(tx.conn()).await? > 0)
}

/// Is an application number already given in the province?
pub(in crate::assistance) async fn number_taken(
    tx: &mut Tx,
    province: &str,
    number: &str,
) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_applications WHERE province = $1 AND public_no = $2",
    )
    .bind(province.to_string())
    .bind(number.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(n > 0)
}

/// What makes an application a public one.
pub(in crate::assistance) struct PublicMark<'a> {
    pub number: &'a str,
    pub phone_index: &'a str,
    pub phone_enc: Vec<u8>,
    pub flags: &'a str,
    pub idem: Option<&'a str>,
}

pub(in crate::assistance) async fn mark_public(
    tx: &mut Tx,
    id: i64,
    m: &PublicMark<'_>,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE assistance_applications SET channel = 'public', public_no = $1, phone_index = $2, \
         phone_enc = $3, public_flags = $4, public_idem = $5 WHERE id = $6",
    )
    .bind(m.number.to_string())
    .bind(m.phone_index.to_string())
    .bind(m.phone_enc.clone())
    .bind(m.flags.to_string())
    .bind(m.idem.map(str::to_string))
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The applications of a verified phone (one of them when `number` is given), newest first.
pub(in crate::assistance) async fn public_by_phone(
    state: &AppState,
    phone_index: &str,
    number: Option<&str>,
) -> AppResult<Vec<PublicStatus>> {
    let mut sql = String::from(
        "SELECT a.public_no, a.programme, r.name AS region_name, a.status, a.applied_on, a.reject_reason, a.reject_reason_enc \
         FROM assistance_applications a LEFT JOIN regions r ON r.code = a.region_code \
         WHERE a.phone_index = $1 AND a.channel = 'public'",
    );
    if number.is_some() {
        sql.push_str(" AND a.province = $2 AND a.public_no = $3");
    }
    sql.push_str(" ORDER BY a.created_at DESC, a.id DESC LIMIT 100");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(phone_index.to_string());
    if let Some(n) = number {
        q = q.bind(province_of(n)).bind(n.to_string());
    }
    let rows = q.fetch_all(state.db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let programme: String = r.try_get("programme")?;
        let status: String = r.try_get("status")?;
        out.push(PublicStatus {
            number: text_or_empty(r, "public_no")?,
            programme_label: Programme::parse(&programme)
                .map(|p| p.label())
                .unwrap_or("")
                .to_string(),
            programme,
            region_name: region_name(r)?,
            status_label: public_status_label(&status).to_string(),
            status,
            applied_on: r.try_get("applied_on")?,
            reject_reason: crate::privacy::text(&state.keys, r, "reject_reason")?,
        });
    }
    Ok(out)
}

/// The number of the application a phone already sent under `idem`, if any.
pub(in crate::assistance) async fn number_for_key(
    state: &AppState,
    phone_index: &str,
    idem: &str,
) -> AppResult<Option<String>> {
    let n: Option<Option<String>> = sqlx::query_scalar(
        "SELECT public_no FROM assistance_applications WHERE phone_index = $1 AND public_idem = $2 \
         AND channel = 'public' ORDER BY id LIMIT 1",
    )
    .bind(phone_index.to_string())
    .bind(idem.to_string())
    .fetch_optional(state.db.pool())
    .await?;
    Ok(n.flatten())
}
