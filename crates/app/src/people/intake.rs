//! The registry's path for an applicant's own application (the public page, 一次不用跑): the
//! applicant has no account and no scope, so nothing here answers with anything about a
//! person already on record. A member whose ID number is known anywhere is taken as that
//! person (nothing of them read out or changed); anyone else is recorded like any new person
//! (checked fields, sealed ID number and birth date, pinyin keys) in the caller's open
//! transaction, with the registry's own audit entries queued on it.

use backstop_core::region::RegionCode;
use serde_json::{Value, json};

use super::queries::households as hq;
use super::{Checked, created_detail, queries, seal_person};
use crate::kernel::access::{Change, Tx};
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// A member named on an applicant's own application, as the registry knows them.
#[derive(Debug, Clone)]
pub(crate) struct Intake {
    pub id: i64,
    /// The ID number was already on record (wherever).
    pub known: bool,
    pub birth_year: Option<i64>,
    pub deceased: bool,
}

/// The person holding a checked ID number anywhere, or a new person recorded at `region` in
/// the open transaction, with its `person.create` entry queued on `tx`.
pub(crate) async fn intake(
    state: &AppState,
    tx: &mut Tx,
    region: &RegionCode,
    c: &Checked,
) -> AppResult<Intake> {
    let sealed = seal_person(state, c);
    if let Some(idx) = &sealed.id_index
        && let Some(p) = queries::load_by_index(tx.conn(), idx).await?
    {
        return Ok(Intake {
            id: p.id,
            known: true,
            birth_year: p.birth_year,
            deceased: p.deceased,
        });
    }
    let now = tx.now();
    let id = queries::insert(tx.conn(), now, region.as_str(), c, &sealed, None).await?;
    tx.also(
        Change::new("person.create", "person", id, region.as_str()).detail(created_detail(
            region.as_str(),
            c,
            &sealed,
            "public",
        )),
    );
    Ok(Intake {
        id,
        known: false,
        birth_year: sealed.birth.year,
        deceased: false,
    })
}

/// A household recorded for an applicant's own application at `region`, with the persons
/// given (none of whom belongs to a household yet), its `household.create` entry queued on
/// `tx`.
pub(crate) async fn record_household(
    tx: &mut Tx,
    region: &str,
    address: &str,
    members: &[(i64, &'static str)],
) -> AppResult<i64> {
    let hid = hq::insert_household(tx, region, address, members).await?;
    let detail: Value = json!({
        "address": {"before": null, "after": crate::kernel::access::text_len(address)},
        "members": members.iter().map(|(p, r)| json!({"person_id": p, "relationship": r})).collect::<Vec<_>>(),
        "via": "public",
    });
    tx.also(Change::new("household.create", "household", hid, region.to_string()).detail(detail));
    Ok(hid)
}
