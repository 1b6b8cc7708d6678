//! Live rollups (ADR 0005): a submission adds its counts and the values of its summable
//! fields to the rollup rows of its region, every region above it and the nation, in the same
//! transaction; a correction adds the difference. A summary reads them back by primary key.
//! This file says which rows and which numbers; `queries::rollup` writes and reads them.

use backstop_core::region::RegionCode;
use serde_json::{Map, Value};

use super::NATION;
use super::form::{self, Form};

/// The regions whose rollups a unit feeds: every level of its region, and the nation.
pub(super) fn rollup_codes(region: &RegionCode) -> Vec<String> {
    let mut v = region.lineage_strings();
    v.push(NATION.to_string());
    v
}

/// The rollup value of each summable field of a report (0 when absent).
pub(super) fn rollup_values(form: &Form, values: &Map<String, Value>) -> Vec<(String, i64)> {
    form.summable()
        .map(|f| {
            (
                f.key.clone(),
                values
                    .get(&f.key)
                    .and_then(|v| form::rollup_value(f, v))
                    .unwrap_or(0),
            )
        })
        .collect()
}

/// Rollup totals as the figures of a summary: every summable field, decimals scaled back.
pub(crate) fn sums_map(form: &Form, rows: &[(String, i64)]) -> Map<String, Value> {
    let mut m = Map::new();
    for f in form.summable() {
        let total = rows
            .iter()
            .find(|(k, _)| *k == f.key)
            .map(|(_, v)| *v)
            .unwrap_or(0);
        let v = if f.kind == form::FieldType::Decimal {
            serde_json::Number::from_f64(total as f64 / form::DECIMAL_SCALE)
                .map(Value::Number)
                .unwrap_or(Value::Null)
        } else {
            Value::from(total)
        };
        m.insert(f.key.clone(), v);
    }
    m
}
