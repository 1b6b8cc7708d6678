//! Where each table lives on a Citus cluster (ADR 0003, issue 22).
//!
//! The migrations run on the coordinator as on PostgreSQL (with `BIGSERIAL` ids, see
//! `migrate::render`); then [`distribute`] places the tables: the small, read-mostly ones become
//! *reference tables* (a copy on every node), the large ones that carry `province` in every key
//! are *distributed* by it (all co-located, so a province's rows of every table sit on one shard
//! and join there). Everything else stays on the coordinator (Citus turns a table with a foreign
//! key to a reference table into a "Citus local table" there): correct, not yet spread out; each
//! area moves into [`DISTRIBUTED`] once its tables carry the province (ADR 0003's order of work).
//!
//! Citus cannot distribute a table while a foreign key ties it to one that is not distributed
//! yet (in either direction), so the foreign keys around the tables being placed are dropped,
//! the tables placed, and the same keys added again, in one transaction. It runs after every
//! migration run and does only what is not done yet, so a later migration's new table is
//! placed by adding its name here.

use sqlx::Row;

use crate::{Db, StoreError};

/// Small, read-mostly tables copied to every node. A reference table may only point at
/// reference tables.
pub const REFERENCE: &[&str] = &[
    "regions",
    "orgs",
    "users",
    "kv_settings",
    "report_templates",
    // The hotline numbers: a few per county, read with every call.
    "hotline_lines",
    // What a registry or funeral home offers and with what: set up once, read with every booking.
    "booking_resources",
    "booking_services",
    // Who locked which period of a form at which level: read with every submission.
    "report_locks",
];

/// Tables distributed by `province`: every primary key and unique constraint includes it, and
/// each foreign key goes to a reference table or, with the province, to another table here
/// (`tests/it/citus.rs` checks both against the migrations, on PostgreSQL too).
///
/// Not yet here, though they carry the province in every key (ADR 0003 lists why and what
/// each needs): volunteers (a volunteer of one province may serve in another: the join needs
/// a decision, not only the province), donations, payments, the ledger and assistance
/// beneficiaries (joined with tables still on the coordinator in statements Citus cannot plan
/// that way), the federation's tables, and the assistance and child-case tables that point at
/// `persons`, which has no province yet.
///
/// Reports (migration 0064): a submission, its incident acknowledgement, corrections and
/// chases, and the rollup rows all carry the unit's province; the nation's rollup row is one
/// row per province, added up when read. A submission's statement script runs one statement
/// at a time on Citus (`Script::execute_on`). Idempotency records (migration 0066) are kept
/// under their user's province: a unit's own staff's beside its reports.
pub const DISTRIBUTED: &[&str] = &[
    "assistance_application_steps",
    "booking_dates",
    "booking_days",
    "booking_divorces",
    "booking_parties",
    "booking_prechecks",
    "booking_rebookings",
    "booking_slots",
    "bookings",
    "child_case_contacts",
    "child_case_events",
    "child_case_tasks",
    "escalations",
    "funeral_claims",
    "funeral_jobs",
    "funeral_requests",
    "health_events",
    "hotline_calls",
    "hotline_followups",
    "hotline_notes",
    "hotline_referrals",
    "hotline_shifts",
    "idempotency_keys",
    "incident_acks",
    "notify_deliveries",
    "public_info",
    "report_chases",
    "report_corrections",
    "report_rollup_counts",
    "report_rollup_sums",
    "report_submissions",
];

/// Tables distributed by `chain` rather than `province`: the audit chains (ADR 0003, migration
/// 0065). A chain is named by its province's prefix (`00` national, `''` before migration
/// 0063), so a province's chain shares the shard of the province's rows (the same text,
/// hashed alike in the one co-location group), and is appended there.
pub const BY_CHAIN: &[&str] = &["audit_heads", "audit_log"];

/// Tables distributed by a person's blind-indexed ID number (migration 0067): the national
/// register of numbers, which keeps one person per number across provinces once `persons` is
/// distributed by province. A claim is one row on the number's shard, wherever the person is.
pub const BY_NUMBER: &[&str] = &["person_numbers"];

/// Every distributed table with the column it is distributed by.
pub fn distributed() -> impl Iterator<Item = (&'static str, &'static str)> {
    DISTRIBUTED
        .iter()
        .map(|t| (*t, "province"))
        .chain(BY_CHAIN.iter().map(|t| (*t, "chain")))
        .chain(BY_NUMBER.iter().map(|t| (*t, "id_index")))
}

/// `'a', 'b', …` for an `IN` list of our own table names (constants, never input).
fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Place the tables not yet placed; returns what was done (`reference regions`,
/// `distributed bookings`, …), empty when the cluster already matches the plan.
pub(crate) async fn distribute(db: &Db) -> Result<Vec<String>, StoreError> {
    let mut tx = db.pool().begin().await?;
    let placed: Vec<(String, String)> =
        sqlx::query("SELECT table_name::text, citus_table_type FROM citus_tables")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()?;
    let is = |table: &str, kind: &str| placed.iter().any(|(t, k)| t == table && k == kind);
    let refs: Vec<&str> = REFERENCE
        .iter()
        .copied()
        .filter(|t| !is(t, "reference"))
        .collect();
    let dists: Vec<(&str, &str)> = distributed()
        .filter(|(t, _)| !is(t, "distributed"))
        .collect();
    if refs.is_empty() && dists.is_empty() {
        return Ok(Vec::new());
    }
    let dist_names: Vec<&str> = dists.iter().map(|(t, _)| *t).collect();
    let todo = quoted(&[refs.as_slice(), dist_names.as_slice()].concat());
    let keys: Vec<(String, String, String)> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT conname::text, conrelid::regclass::text, pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE contype = 'f' \
         AND (conrelid::regclass::text IN ({todo}) OR confrelid::regclass::text IN ({todo})) \
         ORDER BY conrelid::regclass::text, conname"
    )))
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
    .collect::<Result<_, sqlx::Error>>()?;
    // Placing tables that foreign keys tie to reference tables must use one connection per
    // node, or Citus refuses the later steps of the transaction.
    // The audit log's triggers (append-only: they refuse UPDATE, DELETE and TRUNCATE and touch
    // nothing) go with it to every shard; Citus calls triggers on distributed tables "unsafe"
    // for those that write other tables.
    let mut run = vec![
        "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'".to_string(),
        "SET LOCAL citus.enable_unsafe_triggers TO on".to_string(),
    ];
    for (name, table, _) in &keys {
        run.push(format!("ALTER TABLE {table} DROP CONSTRAINT {name}"));
    }
    for t in &refs {
        run.push(format!("SELECT create_reference_table('{t}')"));
    }
    for (t, column) in &dists {
        run.push(format!(
            "SELECT create_distributed_table('{t}', '{column}', colocate_with => 'default')"
        ));
    }
    for (name, table, def) in &keys {
        run.push(format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"));
    }
    for sql in run {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut *tx)
            .await
            .map_err(|source| StoreError::Citus { sql, source })?;
    }
    tx.commit().await?;
    let mut done: Vec<String> = refs.iter().map(|t| format!("reference {t}")).collect();
    done.extend(dists.iter().map(|(t, c)| format!("distributed {t} by {c}")));
    Ok(done)
}
