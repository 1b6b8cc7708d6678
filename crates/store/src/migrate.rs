//! Migrations: one SQL file per step, shared by both backends.
//!
//! The few type spellings that differ are written as tokens and replaced per backend:
//! `{{ID}}` (auto-increment primary key) and `{{BLOB}}` (bytes). A table that grows with the
//! country carries the province in its keys (ADR 0003): `id {{PROVINCE_ID}}` is the
//! auto-increment id, and `{{PROVINCE_PK}}` after the last column makes `(province, id)` the
//! primary key on PostgreSQL (Citus needs the distribution column in every key); SQLite keeps
//! its rowid key, one node needs nothing more. Triggers are written per
//! backend between `-- sqlite:begin`/`-- sqlite:end` and `-- postgres:begin`/`-- postgres:end`
//! markers. Each step runs in its own transaction and is recorded in `schema_migrations`.

use crate::{Backend, Db, StoreError};

/// (version, name, sql)
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/0001_foundation.sql"),
    ),
    (2, "reports", include_str!("../migrations/0002_reports.sql")),
    (3, "people", include_str!("../migrations/0003_people.sql")),
    (
        4,
        "incidents",
        include_str!("../migrations/0004_incidents.sql"),
    ),
    (
        5,
        "institutions",
        include_str!("../migrations/0005_institutions.sql"),
    ),
    (
        6,
        "inspections",
        include_str!("../migrations/0006_inspections.sql"),
    ),
    (7, "care", include_str!("../migrations/0007_care.sql")),
    (
        8,
        "screening",
        include_str!("../migrations/0008_screening.sql"),
    ),
    (9, "imports", include_str!("../migrations/0009_imports.sql")),
    (
        10,
        "people_search",
        include_str!("../migrations/0010_people_search.sql"),
    ),
    (
        11,
        "crosschecks",
        include_str!("../migrations/0011_crosschecks.sql"),
    ),
    (
        12,
        "entrance",
        include_str!("../migrations/0012_entrance.sql"),
    ),
    (
        13,
        "compact_indexes",
        include_str!("../migrations/0013_compact_indexes.sql"),
    ),
    (
        14,
        "account_security",
        include_str!("../migrations/0014_account_security.sql"),
    ),
    (
        15,
        "people_privacy",
        include_str!("../migrations/0015_people_privacy.sql"),
    ),
    (
        16,
        "sensitive_data",
        include_str!("../migrations/0016_sensitive_data.sql"),
    ),
    (
        17,
        "device_credentials",
        include_str!("../migrations/0017_device_credentials.sql"),
    ),
    (
        19,
        "report_followup",
        include_str!("../migrations/0019_report_followup.sql"),
    ),
    (
        20,
        "import_rejects",
        include_str!("../migrations/0020_import_rejects.sql"),
    ),
    (
        21,
        "edit_disable",
        include_str!("../migrations/0021_edit_disable.sql"),
    ),
    (
        22,
        "notify_deliveries",
        include_str!("../migrations/0022_notify_deliveries.sql"),
    ),
    (
        23,
        "public_face",
        include_str!("../migrations/0023_public_face.sql"),
    ),
    (
        24,
        "assistance_base",
        include_str!("../migrations/0024_assistance_base.sql"),
    ),
    (
        25,
        "privacy_rest",
        include_str!("../migrations/0025_privacy_rest.sql"),
    ),
    (
        26,
        "escalation",
        include_str!("../migrations/0026_escalation.sql"),
    ),
    (
        27,
        "assistance_applications",
        include_str!("../migrations/0027_assistance_applications.sql"),
    ),
    (
        28,
        "payments",
        include_str!("../migrations/0028_payments.sql"),
    ),
    (
        31,
        "public_applications",
        include_str!("../migrations/0031_public_applications.sql"),
    ),
    (
        33,
        "notify_templates",
        include_str!("../migrations/0033_notify_templates.sql"),
    ),
    (
        34,
        "crosscheck_detail",
        include_str!("../migrations/0034_crosscheck_detail.sql"),
    ),
    (
        35,
        "child_cases",
        include_str!("../migrations/0035_child_cases.sql"),
    ),
    (
        36,
        "hotline",
        include_str!("../migrations/0036_hotline.sql"),
    ),
    (
        37,
        "notify_due_order",
        include_str!("../migrations/0037_notify_due_order.sql"),
    ),
    (
        38,
        "children_links",
        include_str!("../migrations/0038_children_links.sql"),
    ),
    (
        39,
        "hotline_sealed",
        include_str!("../migrations/0039_hotline_sealed.sql"),
    ),
    (
        41,
        "donations",
        include_str!("../migrations/0041_donations.sql"),
    ),
    (
        43,
        "bookings",
        include_str!("../migrations/0043_bookings.sql"),
    ),
    (
        44,
        "booking_rebookings",
        include_str!("../migrations/0044_booking_rebookings.sql"),
    ),
    (
        45,
        "held_reason_sealed",
        include_str!("../migrations/0045_held_reason_sealed.sql"),
    ),
    (
        46,
        "health_events",
        include_str!("../migrations/0046_health_events.sql"),
    ),
    (
        47,
        "report_bodies_sealed",
        include_str!("../migrations/0047_report_bodies_sealed.sql"),
    ),
    (
        48,
        "ledger_chain",
        include_str!("../migrations/0048_ledger_chain.sql"),
    ),
    (
        49,
        "donation_needs",
        include_str!("../migrations/0049_donation_needs.sql"),
    ),
    (
        50,
        "funeral",
        include_str!("../migrations/0050_funeral.sql"),
    ),
    (
        52,
        "volunteers",
        include_str!("../migrations/0052_volunteers.sql"),
    ),
    (
        53,
        "booking_registration",
        include_str!("../migrations/0053_booking_registration.sql"),
    ),
    (
        54,
        "federation_nodes",
        include_str!("../migrations/0054_federation_nodes.sql"),
    ),
    (
        55,
        "federation_outbox",
        include_str!("../migrations/0055_federation_outbox.sql"),
    ),
    (
        56,
        "federation_owned_forms",
        include_str!("../migrations/0056_federation_owned_forms.sql"),
    ),
    (
        57,
        "federation_received",
        include_str!("../migrations/0057_federation_received.sql"),
    ),
    (
        58,
        "federation_assistance_down",
        include_str!("../migrations/0058_federation_assistance_down.sql"),
    ),
    (
        59,
        "federation_orgs",
        include_str!("../migrations/0059_federation_orgs.sql"),
    ),
    (
        60,
        "federation_figures",
        include_str!("../migrations/0060_federation_figures.sql"),
    ),
    (
        61,
        "federation_public_info",
        include_str!("../migrations/0061_federation_public_info.sql"),
    ),
    (
        62,
        "federation_campaigns",
        include_str!("../migrations/0062_federation_campaigns.sql"),
    ),
    (
        63,
        "audit_chains",
        include_str!("../migrations/0063_audit_chains.sql"),
    ),
    (
        64,
        "reports_province",
        include_str!("../migrations/0064_reports_province.sql"),
    ),
    (
        65,
        "audit_on_shards",
        include_str!("../migrations/0065_audit_on_shards.sql"),
    ),
    (
        66,
        "idempotency_province",
        include_str!("../migrations/0066_idempotency_province.sql"),
    ),
    (
        67,
        "person_numbers",
        include_str!("../migrations/0067_person_numbers.sql"),
    ),
];

/// The SQL of a migration as the given backend must run it; `citus` when the PostgreSQL
/// server is a Citus coordinator. On Citus, `-- citus:begin`/`-- citus:end` sections run too
/// (after the PostgreSQL ones they sit beside), and ids are `BIGSERIAL` rather than identity
/// columns: Citus cannot move a table with an identity column once a foreign key to a
/// reference table has made it a "Citus local table" (ADR 0003), and the tables are
/// distributed after the migrations (`citus::distribute`).
pub fn render(sql: &str, backend: Backend, citus: bool) -> String {
    let (id, blob, pid, ppk) = match (backend, citus) {
        (Backend::Sqlite, _) => (
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "BLOB",
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "",
        ),
        (Backend::Postgres, false) => (
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            "BYTEA",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY",
            ",\n    PRIMARY KEY (province, id)",
        ),
        (Backend::Postgres, true) => (
            "BIGSERIAL PRIMARY KEY",
            "BYTEA",
            "BIGSERIAL",
            ",\n    PRIMARY KEY (province, id)",
        ),
    };
    let keep = |section: &str| match backend {
        Backend::Sqlite => section == "sqlite",
        Backend::Postgres => section == "postgres" || (citus && section == "citus"),
    };
    let mut out = String::with_capacity(sql.len());
    let mut skipping = false;
    for line in sql.lines() {
        let t = line.trim();
        let marker = t
            .strip_prefix("-- ")
            .and_then(|m| m.split_once(':'))
            .filter(|(section, edge)| {
                ["sqlite", "postgres", "citus"].contains(section) && ["begin", "end"].contains(edge)
            });
        if let Some((section, edge)) = marker {
            if !keep(section) {
                skipping = edge == "begin";
            }
            continue;
        }
        if skipping {
            continue;
        }
        out.push_str(
            &line
                .replace("{{ID}}", id)
                .replace("{{BLOB}}", blob)
                .replace("{{PROVINCE_ID}}", pid)
                .replace("{{PROVINCE_PK}}", ppk),
        );
        out.push('\n');
    }
    out
}

pub(crate) async fn run(db: &Db) -> Result<Vec<String>, StoreError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )",
    )
    .execute(db.pool())
    .await?;
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        let mut w = db.begin_write().await?;
        if db.backend() == Backend::Postgres {
            // Two processes starting at once must not both migrate.
            sqlx::query("SELECT pg_advisory_xact_lock(7261001)")
                .execute(w.conn())
                .await?;
        }
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(w.conn())
                .await?;
        if done.is_some() {
            continue;
        }
        let rendered = render(sql, db.backend(), db.is_citus());
        sqlx::raw_sql(sqlx::AssertSqlSafe(rendered))
            .execute(w.conn())
            .await
            .map_err(|source| StoreError::Migration {
                version: *version,
                source,
            })?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(*version)
        .bind(*name)
        .bind(now_text())
        .execute(w.conn())
        .await?;
        w.commit().await?;
        tracing::info!(version, name, "migration applied");
        applied.push(format!("{version:04}_{name}"));
    }
    if db.is_citus() {
        for placed in crate::citus::distribute(db).await? {
            tracing::info!(%placed, "citus");
            applied.push(format!("citus: {placed}"));
        }
    }
    Ok(applied)
}

fn now_text() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{secs}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_tokens_and_sections() {
        let sql = "CREATE TABLE t (id {{ID}}, b {{BLOB}});\n-- sqlite:begin\nS;\n-- sqlite:end\n-- postgres:begin\nP;\n-- postgres:end\n";
        let s = render(sql, Backend::Sqlite, false);
        assert!(s.contains("INTEGER PRIMARY KEY AUTOINCREMENT") && s.contains("BLOB"));
        assert!(s.contains("S;") && !s.contains("P;"));
        let p = render(sql, Backend::Postgres, false);
        assert!(p.contains("IDENTITY") && p.contains("BYTEA"));
        assert!(p.contains("P;") && !p.contains("S;"));
        let sql = format!("{sql}-- citus:begin\nC;\n-- citus:end\nafter;\n");
        let p = render(&sql, Backend::Postgres, false);
        assert!(!p.contains("C;") && p.contains("after;"));
        let c = render(&sql, Backend::Postgres, true);
        assert!(c.contains("BIGSERIAL PRIMARY KEY") && !c.contains("IDENTITY"));
        assert!(c.contains("P;") && c.contains("C;") && !c.contains("S;") && c.contains("after;"));
        assert!(!render(&sql, Backend::Sqlite, false).contains("C;"));
    }
}

#[cfg(test)]
mod upgrade_tests {
    use super::*;
    use sqlx::Connection;

    /// A SQLite deployment from before migration 0064 keeps its figures: its reports get the
    /// province of their region, and the nation's rollup total (one row then) stays whole
    /// under `00`, so the per-province rows added later sum with it. Its idempotency records
    /// (0066) are carried over too.
    #[tokio::test]
    async fn reports_from_before_0064_keep_their_province_and_totals() {
        let path = std::env::temp_dir().join(format!(
            "backstop-upgrade-{}-{}.db",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        sqlx::any::install_default_drivers();
        {
            let mut c = sqlx::AnyConnection::connect(&url).await.expect("connect");
            sqlx::raw_sql(
                "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
                 applied_at TEXT NOT NULL)",
            )
            .execute(&mut c)
            .await
            .expect("schema_migrations");
            for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v < 64) {
                sqlx::raw_sql(sqlx::AssertSqlSafe(render(sql, Backend::Sqlite, false)))
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("migration {version}: {e}"));
                sqlx::query("INSERT INTO schema_migrations VALUES ($1, $2, 'then')")
                    .bind(*version)
                    .bind(*name)
                    .execute(&mut c)
                    .await
                    .expect("record");
            }
            sqlx::raw_sql(
                "INSERT INTO report_submissions (template_key, template_version, unit, region_code, \
                 period, body, late, submitted_at, submitted_by, updated_at) VALUES \
                 ('village_daily', 1, '130110100001', '130110100001', '2026-03-01', '', 0, 1, 'a', 1), \
                 ('village_daily', 1, '440103001001', '440103001001', '2026-03-01', '', 0, 1, 'a', 1); \
                 INSERT INTO report_rollup_counts (template_key, period, code, received, on_time) VALUES \
                 ('village_daily', '2026-03-01', '0', 2, 2), ('village_daily', '2026-03-01', '13', 1, 1), \
                 ('village_daily', '2026-03-01', '44', 1, 1); \
                 INSERT INTO report_rollup_sums (template_key, period, code, field, total) VALUES \
                 ('village_daily', '2026-03-01', '0', 'people_screened', 50); \
                 INSERT INTO users (id, username, scope, roles, password_hash, password_changed_at, \
                 created_at, updated_at) VALUES (7, 'cw', '130110100001', 'community_worker', 'x', 1, 1, 1), \
                 (8, 'nat', '0', 'official', 'x', 1, 1, 1); \
                 INSERT INTO idempotency_keys (user_id, idem_key, request_hash, status, response, created_at) \
                 VALUES (7, 'k', 'h', 201, '{}', 1), (8, 'k', 'h', 201, '{}', 1), (9, 'k', 'h', 201, '{}', 1)",
            )
            .execute(&mut c)
            .await
            .expect("old rows");
        }
        let db = Db::connect(&url).await.expect("connect");
        db.migrate().await.expect("upgrade");
        let provinces: Vec<(String, String)> =
            sqlx::query_as("SELECT unit, province FROM report_submissions ORDER BY unit")
                .fetch_all(db.pool())
                .await
                .expect("submissions");
        assert_eq!(
            provinces,
            vec![
                ("130110100001".to_string(), "13".to_string()),
                ("440103001001".to_string(), "44".to_string())
            ]
        );
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT code, province, received FROM report_rollup_counts ORDER BY code",
        )
        .fetch_all(db.pool())
        .await
        .expect("counts");
        assert_eq!(
            rows,
            vec![
                ("0".to_string(), "00".to_string(), 2),
                ("13".to_string(), "13".to_string(), 1),
                ("44".to_string(), "44".to_string(), 1)
            ]
        );
        // A new report's share of the nation lands beside the old total; the sum holds both.
        sqlx::query(
            "INSERT INTO report_rollup_counts (template_key, period, code, province, received, on_time) \
             VALUES ('village_daily', '2026-03-01', '0', '13', 1, 1) \
             ON CONFLICT (template_key, period, code, province) DO UPDATE SET \
             received = report_rollup_counts.received + excluded.received",
        )
        .execute(db.pool())
        .await
        .expect("new share");
        let nation: i64 = sqlx::query_scalar(
            "SELECT CAST(SUM(received) AS BIGINT) FROM report_rollup_counts WHERE code = '0'",
        )
        .fetch_one(db.pool())
        .await
        .expect("nation");
        assert_eq!(nation, 3);
        let sum: (String, i64) =
            sqlx::query_as("SELECT province, total FROM report_rollup_sums WHERE code = '0'")
                .fetch_one(db.pool())
                .await
                .expect("sums");
        assert_eq!(sum, ("00".to_string(), 50));
        // Idempotency records (0066) take their user's province: a village worker's '13', a
        // national official's and an unknown user's '00'.
        let idem: Vec<(i64, String)> =
            sqlx::query_as("SELECT user_id, province FROM idempotency_keys ORDER BY user_id")
                .fetch_all(db.pool())
                .await
                .expect("idempotency");
        assert_eq!(
            idem,
            vec![
                (7, "13".to_string()),
                (8, "00".to_string()),
                (9, "00".to_string())
            ]
        );
        db.pool().close().await;
        let _ = std::fs::remove_file(&path);
    }
}
