//! Citus (issue 22): the placement plan in `backstop_store::citus` fits the migrated schema
//! (checked on PostgreSQL too, so a migration that breaks it fails before any cluster runs),
//! and on a cluster the plan is what the coordinator holds and a province's query goes to one
//! shard while a national one fans out.

use backstop_store::citus::{DISTRIBUTED, REFERENCE};
use sqlx::Row;

use crate::support::*;

/// Foreign keys as (table, referenced table, the key's definition).
async fn foreign_keys(t: &T) -> Vec<(String, String, String)> {
    sqlx::query(
        "SELECT conrelid::regclass::text, confrelid::regclass::text, pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace",
    )
    .fetch_all(t.state.db.pool())
    .await
    .expect("foreign keys")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

#[tokio::test]
async fn the_distribution_plan_fits_the_schema() {
    each_backend(|t: T| async move {
        if t.backend == "sqlite" {
            return;
        }
        let pool = t.state.db.pool();
        let mut problems = Vec::new();
        for table in DISTRIBUTED {
            // Every unique index (the primary key included) must contain the province.
            let without: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE i.indrelid = 'public.{table}'::regclass AND i.indisunique \
                 AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid \
                 AND a.attname = 'province' AND a.attnum = ANY(i.indkey))"
            )))
            .fetch_all(pool)
            .await
            .expect("indexes");
            for index in without {
                problems.push(format!("{table}: unique index {index} lacks province"));
            }
        }
        for (from, to, def) in foreign_keys(&t).await {
            let (from_d, to_d) = (
                DISTRIBUTED.contains(&from.as_str()),
                DISTRIBUTED.contains(&to.as_str()),
            );
            let to_r = REFERENCE.contains(&to.as_str());
            let with_province = def.starts_with("FOREIGN KEY (province,");
            if from_d && !(to_r || (to_d && with_province)) {
                problems.push(format!("{from} → {to}: {def}"));
            }
            if to_d && !from_d {
                problems.push(format!("{from} (not distributed) → {to}: {def}"));
            }
            if REFERENCE.contains(&from.as_str()) && !to_r {
                problems.push(format!("reference {from} → {to}: {def}"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));

        if t.backend != "citus" {
            return;
        }
        // On the cluster: what the coordinator holds is the plan.
        let placed: Vec<(String, String)> =
            sqlx::query("SELECT table_name::text, citus_table_type FROM citus_tables")
                .fetch_all(pool)
                .await
                .expect("citus_tables")
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        for (tables, kind) in [(DISTRIBUTED, "distributed"), (REFERENCE, "reference")] {
            for table in tables {
                assert!(
                    placed.iter().any(|(t, k)| t == table && k == kind),
                    "{table} is not a {kind} table: {placed:?}"
                );
            }
        }
        // The shards of the distributed tables are spread over both workers.
        let nodes: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT nodeport) FROM pg_dist_shard_placement p \
             JOIN pg_dist_shard s ON s.shardid = p.shardid \
             WHERE s.logicalrelid = 'notify_deliveries'::regclass",
        )
        .fetch_one(pool)
        .await
        .expect("placements");
        assert_eq!(nodes, 2, "notify_deliveries' shards on both workers");
    })
    .await;
}

/// Citus's plan of `sql`, as text.
async fn plan(t: &T, sql: &str) -> String {
    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
        .fetch_all(t.state.db.pool())
        .await
        .expect("explain")
        .join("\n")
}

#[tokio::test]
async fn a_province_s_query_goes_to_one_shard_and_the_nation_s_to_all() {
    each_backend(|t: T| async move {
        if t.backend != "citus" {
            return;
        }
        // A city's deliveries with the province beside the code range: one task, one shard.
        let one = plan(
            &t,
            "SELECT count(*) FROM notify_deliveries \
             WHERE province = '13' AND region_code >= '1301' AND region_code < '1302'",
        )
        .await;
        assert!(one.contains("Task Count: 1"), "{one}");
        // A write carries it too.
        let write = plan(
            &t,
            "UPDATE notify_deliveries SET state = 'sent' WHERE province = '13' AND id = 1",
        )
        .await;
        assert!(write.contains("Task Count: 1"), "{write}");
        // The nation's count fans out over every shard (4 in the test cluster) and adds up.
        let all = plan(&t, "SELECT count(*) FROM notify_deliveries").await;
        assert!(all.contains("Task Count: 4"), "{all}");
    })
    .await;
}
