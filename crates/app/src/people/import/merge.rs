//! The merge rule of the bulk write: a row whose ID number is already on record in the
//! importer's scope fills the record's empty fields and warns about the ones that differ (see
//! the module docs of `people::import`). Split from `write`, which calls it per merged row.

use serde_json::json;

use super::queries;
use super::write::Batcher;
use super::*;
use crate::people::queries::Stored;
use crate::people::seal;

/// Merge a row into an existing person (see the module docs); returns the warnings and
/// whether the record was changed.
#[allow(clippy::too_many_arguments)]
pub(super) async fn merge(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    chain: &mut audit::Chain,
    who: &Who,
    now: i64,
    cur: &Stored,
    row: &Checked,
    region: &str,
) -> AppResult<(Vec<String>, bool)> {
    let mut notes = Vec::new();
    if row.name != cur.name {
        notes.push(format!("姓名与已登记的“{}”不一致，保留已登记值", cur.name));
    }
    if region != cur.region_code {
        notes.push(format!(
            "区划代码与已登记的 {} 不一致，保留已登记值",
            cur.region_code
        ));
    }
    let mut phone = None;
    if let Some(p) = row.phone.as_deref() {
        if cur.phone_masked.is_empty() {
            phone = Some(seal(state, None, Some(p)));
        } else if cur.phone_index.as_deref() != Some(&state.keys.blind_index("phone", p)) {
            notes.push("联系电话与已登记的不一致，保留已登记值".to_string());
        }
    }
    let mut fill = |label: &str, new: &str, old: &str| -> Option<String> {
        if new.is_empty() || new == old {
            None
        } else if old.is_empty() {
            Some(new.to_string())
        } else {
            notes.push(format!("{label}与已登记的不一致，保留已登记值"));
            None
        }
    };
    let address = fill("现住址", &row.address, &cur.address);
    let hukou = fill("户籍地址", &row.hukou_address, &cur.hukou_address);
    if phone.is_none() && address.is_none() && hukou.is_none() {
        return Ok((notes, false));
    }
    let phone_masked = phone
        .as_ref()
        .map(|s| s.phone_masked.clone())
        .unwrap_or_else(|| cur.phone_masked.clone());
    queries::merge_fill(
        conn,
        cur.id,
        phone.as_ref(),
        &phone_masked,
        address.as_deref().unwrap_or(&cur.address),
        hukou.as_deref().unwrap_or(&cur.hukou_address),
        now,
    )
    .await?;
    let detail = audit::diff(&[
        ("phone", json!(cur.phone_masked), json!(phone_masked)),
        (
            "address",
            json!(cur.address),
            json!(address.as_deref().unwrap_or(&cur.address)),
        ),
        (
            "hukou_address",
            json!(cur.hukou_address),
            json!(hukou.as_deref().unwrap_or(&cur.hukou_address)),
        ),
    ]);
    let entry = Entry {
        action: "person.merge",
        object_type: "person",
        object_id: cur.id.to_string(),
        region_code: cur.region_code.clone(),
        outcome: "success",
        detail,
    };
    chain
        .append(conn, &state.db, now, who, std::slice::from_ref(&entry))
        .await?;
    Ok((notes, true))
}

impl Batcher<'_> {
    /// A merged row's care categories: each added unless the person already has it (running),
    /// audited in the import's chain.
    pub(super) async fn merge_categories(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        person: i64,
        categories: &[&'static str],
        code: &RegionCode,
    ) -> AppResult<()> {
        let mut added = Vec::new();
        for c in categories {
            let today = &self.today;
            if queries::add_membership_if_absent(
                conn,
                &self.state.keys,
                person,
                c,
                today,
                (&self.who.username, self.now),
            )
            .await?
            {
                added.push(*c);
            }
        }
        if added.is_empty() {
            return Ok(());
        }
        let entry = Entry {
            action: "care.membership.create",
            object_type: "person",
            object_id: person.to_string(),
            region_code: code.to_string(),
            outcome: "success",
            detail: json!({"categories": added, "deciding_body": queries::ROSTER_BODY, "source": "import"}),
        };
        self.append(conn, std::slice::from_ref(&entry)).await
    }
}
