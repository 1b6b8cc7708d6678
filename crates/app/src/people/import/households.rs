//! Households from a roster (issue 14 item 1): rows with the same household number (户号) in a
//! village are one household — an existing one with that number, else a new one — and, when
//! the file has no household column and the importer asked for it, rows of a village with the
//! same current address. Each member gets its relationship to the head where a column gives
//! one; a second head in one household keeps no relationship and the row gets a warning. New
//! persons are placed, and persons on file without a household; one already in a household
//! keeps it (moving is explicit, on the household page). Batched like
//! the rest of the write (ADR 0008): per batch one lookup, one multi-row insert of the new
//! households and one update of the members, with an audit entry per household touched.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::json;

use super::queries;
use super::*;

/// How a row names its household: `(region, ref_no, address)` — a household number, or
/// (`ref_no` empty) an address.
pub(super) type Key = (String, String, String);

/// A new person to place in a household.
pub(super) struct Placement {
    pub person: i64,
    pub key: Key,
    pub relationship: Option<&'static str>,
    /// The row's current address (a numbered household takes its first member's).
    pub address: String,
    pub line: u64,
    pub id_masked: String,
}

/// The households of one import: those found or made so far, and their heads.
#[derive(Default)]
pub(super) struct Households {
    pub by_address: bool,
    ids: HashMap<Key, i64>,
    heads: HashSet<i64>,
    pub pending: Vec<Placement>,
}

impl Households {
    pub(super) fn new(by_address: bool) -> Self {
        Households {
            by_address,
            ..Households::default()
        }
    }

    /// The household key of a row, if it names one.
    pub(super) fn key(&self, region: &str, household: &str, address: &str) -> Option<Key> {
        if !household.is_empty() {
            Some((region.to_string(), household.to_string(), String::new()))
        } else if self.by_address && !address.is_empty() {
            Some((region.to_string(), String::new(), address.to_string()))
        } else {
            None
        }
    }

    /// Place this batch's new persons: find or make their households, set the members, and
    /// return the audit entries (one per household) and the warnings.
    pub(super) async fn flush(
        &mut self,
        state: &AppState,
        conn: &mut sqlx::AnyConnection,
        now: i64,
    ) -> AppResult<(Vec<Entry<'static>>, Vec<RowIssue>)> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let unknown: Vec<&Key> = {
            let mut u: Vec<&Key> = pending
                .iter()
                .map(|p| &p.key)
                .filter(|k| !self.ids.contains_key(*k))
                .collect();
            u.sort_unstable();
            u.dedup();
            u
        };
        let mut created: HashSet<i64> = HashSet::new();
        if !unknown.is_empty() {
            for (id, key) in queries::find_households(state, conn, &unknown).await? {
                self.ids.insert(key, id);
            }
            let fresh: Vec<&Key> = unknown
                .into_iter()
                .filter(|k| !self.ids.contains_key(*k))
                .collect();
            if !fresh.is_empty() {
                // A numbered household takes its first member's address.
                let rows: Vec<(String, String, String)> = fresh
                    .iter()
                    .map(|k| {
                        let address = if k.1.is_empty() {
                            k.2.clone()
                        } else {
                            pending
                                .iter()
                                .find(|p| &p.key == *k)
                                .map(|p| p.address.clone())
                                .unwrap_or_default()
                        };
                        (k.0.clone(), k.1.clone(), address)
                    })
                    .collect();
                for (id, key) in queries::insert_households(state, conn, &rows, now).await? {
                    let key = if key.1.is_empty() {
                        key
                    } else {
                        (key.0, key.1, String::new())
                    };
                    created.insert(id);
                    self.ids.insert(key, id);
                }
            }
        }
        let mut sets = Vec::with_capacity(pending.len());
        let mut warnings = Vec::new();
        let mut members: BTreeMap<i64, Vec<serde_json::Value>> = BTreeMap::new();
        for p in &pending {
            let Some(&hid) = self.ids.get(&p.key) else {
                continue;
            };
            let mut rel = p.relationship;
            if rel == Some("head") && !self.heads.insert(hid) {
                rel = None;
                warnings.push(RowIssue {
                    line: p.line,
                    reason: "同一户已有户主，本行的“与户主关系”未记录，请在家庭户页面更正"
                        .to_string(),
                    id_masked: p.id_masked.clone(),
                    raw: String::new(),
                });
            }
            sets.push((p.person, hid, rel.unwrap_or("")));
            members
                .entry(hid)
                .or_default()
                .push(json!({"person_id": p.person, "relationship": rel.unwrap_or("")}));
        }
        queries::set_households(state, conn, &sets, now).await?;
        let region_of: HashMap<i64, &str> =
            self.ids.iter().map(|(k, v)| (*v, k.0.as_str())).collect();
        let entries = members
            .into_iter()
            .map(|(hid, m)| Entry {
                action: if created.contains(&hid) {
                    "household.create"
                } else {
                    "household.add_member"
                },
                object_type: "household",
                object_id: hid.to_string(),
                region_code: region_of.get(&hid).copied().unwrap_or_default().to_string(),
                outcome: "success",
                detail: json!({"members": m, "source": "import"}),
            })
            .collect();
        Ok((entries, warnings))
    }
}
