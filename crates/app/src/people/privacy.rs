//! Sealing what earlier versions kept in clear (issue 13), run at every start after the SQL
//! migrations, where the key is at hand: a person's birth date moves from the clear
//! `birth_date` column into `birth_enc` / `birth_year` / `birth_index`, and a stored ID mask of
//! the old "6+4" form (which hid exactly the birth date) becomes "6+1". Idempotent and batched;
//! a database written by this version has nothing to seal and costs one indexed query.
//!
//! As `crate::privacy`'s step for the sensitive columns, each batch is one transaction with a
//! `privacy.seal` audit entry (as the system, with the count), and when anything was sealed
//! the old clear bytes are scrubbed from the database files. Audit entries written before it
//! may hold a birth date in their before/after detail: the audit log is append-only and stays
//! as it was (`docs/PRIVACY.md`).

use chrono::NaiveDate;

use super::queries::privacy as queries;
use super::seal_birth;
use crate::kernel::access::{Change, Tx};
use crate::kernel::error::AppResult;
use crate::state::AppState;

const BATCH: i64 = 500;

/// Seal every clear birth date and re-mask every old ID mask; returns how many rows changed.
pub async fn seal_clear_rows(state: &AppState) -> AppResult<u64> {
    let mut done = 0u64;
    loop {
        let rows = queries::clear_rows(state, BATCH).await?;
        if rows.is_empty() {
            if done > 0 {
                crate::privacy::scrub(state, &["persons"]).await?;
            }
            return Ok(done);
        }
        let sealed: Vec<queries::Resealed> = rows
            .into_iter()
            .map(|r| queries::Resealed {
                id: r.id,
                birth: seal_birth(
                    state,
                    NaiveDate::parse_from_str(&r.birth_date, "%Y-%m-%d").ok(),
                ),
                keep_birth: r.birth_date.is_empty(),
                id_masked: remask(&r.id_masked),
            })
            .collect();
        done += sealed.len() as u64;
        let mut tx = Tx::begin_as(state, crate::privacy::system()).await?;
        queries::write_sealed(&mut tx, &sealed).await?;
        tx.commit(
            Change::new("privacy.seal", "column", "persons.birth_date", "0")
                .detail(serde_json::json!({"rows": sealed.len()})),
        )
        .await?;
    }
}

/// An old "6+4" mask (`440115********4418`) as "6+1" (`440115***********8`); anything else
/// as it was.
pub fn remask(m: &str) -> String {
    let c: Vec<char> = m.chars().collect();
    if c.len() == 18 && c[14] != '*' {
        format!(
            "{}{}{}",
            c[..6].iter().collect::<String>(),
            "*".repeat(11),
            c[17]
        )
    } else {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::remask;

    #[test]
    fn old_masks_lose_the_sequence() {
        assert_eq!(remask("440115********4418"), "440115***********8");
        assert_eq!(remask("440115***********8"), "440115***********8");
        assert_eq!(remask(""), "");
    }
}
