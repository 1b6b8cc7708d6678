//! Citus (issue 22): the placement plan in `backstop_store::citus` fits the migrated schema
//! (checked on PostgreSQL too, so a migration that breaks it fails before any cluster runs),
//! and on a cluster the plan is what the coordinator holds and a province's query goes to one
//! shard while a national one fans out.

use backstop_store::citus::{REFERENCE, distributed};
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
        let dist: Vec<&str> = distributed().map(|(t, _)| t).collect();
        for (table, column) in distributed() {
            // Every unique index (the primary key included) must contain the column the table
            // is distributed by (the province; the chain for the audit log).
            let without: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE i.indrelid = 'public.{table}'::regclass AND i.indisunique \
                 AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid \
                 AND a.attname = '{column}' AND a.attnum = ANY(i.indkey))"
            )))
            .fetch_all(pool)
            .await
            .expect("indexes");
            for index in without {
                problems.push(format!("{table}: unique index {index} lacks {column}"));
            }
        }
        for (from, to, def) in foreign_keys(&t).await {
            let (from_d, to_d) = (dist.contains(&from.as_str()), dist.contains(&to.as_str()));
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
        for (tables, kind) in [(dist.as_slice(), "distributed"), (REFERENCE, "reference")] {
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
        // A claim of an ID number, and the look-up of its province, go to the number's shard
        // (the register is distributed by the number, whatever the person's province).
        for sql in [
            "INSERT INTO person_numbers (id_index, province, created_at) VALUES ('ab12', '13', 1) \
             ON CONFLICT (id_index) DO NOTHING",
            "SELECT province FROM person_numbers WHERE id_index = 'ab12'",
        ] {
            let p = plan(&t, sql).await;
            assert!(p.contains("Task Count: 1"), "{sql}: {p}");
        }
        // The nation's count fans out over every shard (4 in the test cluster) and adds up.
        let all = plan(&t, "SELECT count(*) FROM notify_deliveries").await;
        assert!(all.contains("Task Count: 4"), "{all}");
    })
    .await;
}

/// A counter of every shard of `table` from the workers' own statistics (`pg_stat_user_tables`
/// of the shard's table): shard id → value of `expr`.
async fn shard_counters(t: &T, table: &str, expr: &str) -> std::collections::BTreeMap<i64, i64> {
    let sql = format!(
        "SELECT shardid, result FROM run_command_on_shards('{table}', \
         $cmd$SELECT COALESCE((SELECT {expr} FROM pg_stat_user_tables WHERE relname = '%s'), 0)$cmd$)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(t.state.db.pool())
        .await
        .expect("shard counters")
        .iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let v: String = r.get(1);
            (id, v.parse().expect("number"))
        })
        .collect()
}

/// The shard of `table` that holds province `p`.
async fn shard_of(t: &T, table: &str, p: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT get_shard_id_for_distribution_column('{table}', '{p}')"
    )))
    .fetch_one(t.state.db.pool())
    .await
    .expect("shard")
}

/// How far each shard's counter moved while `act` ran: the workers flush their statistics a
/// moment after each statement, so this waits (at most 20 s) until the home shard's moved
/// and then reads every shard once more.
async fn moved<F: std::future::Future<Output = ()>>(
    t: &T,
    table: &str,
    expr: &str,
    home: i64,
    act: F,
) -> std::collections::BTreeMap<i64, i64> {
    let before = shard_counters(t, table, expr).await;
    act.await;
    let delta = |after: &std::collections::BTreeMap<i64, i64>| {
        after
            .iter()
            .map(|(id, v)| (*id, v - before.get(id).copied().unwrap_or(0)))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    for _ in 0..200 {
        let d = delta(&shard_counters(t, table, expr).await);
        if d.get(&home).copied().unwrap_or(0) > 0 {
            // One more second for any other shard's flush to land, then the final reading.
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            return delta(&shard_counters(t, table, expr).await);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{table}: the home shard {home} never moved");
}

/// Issue 22 items 2 and 3, on the service's own statements: a village's submission writes its
/// report, all six of its rollup rows (village, town, county, city, province and its share of
/// the nation's) and its audit entry on its province's shard and nowhere else, and a county's
/// summary reads the rollups of that shard alone — read from the workers' statistics, not from a hand-written
/// copy of the statements.
#[tokio::test]
async fn a_submission_and_a_county_summary_stay_on_the_province_s_shard() {
    each_backend(|t: T| async move {
        if t.backend != "citus" {
            return;
        }
        t.import_fixture().await;
        let off = t.user("off.citus", &["official"], "0").await;
        let home = shard_of(&t, "report_submissions", "13").await;
        let rollup_home = shard_of(&t, "report_rollup_counts", "13").await;
        let values = serde_json::json!({"households_screened": 3, "people_screened": 9, "close_contacts": 0,
            "home_observation": 0, "released": 0, "fever_referred": 0, "entrance_registrations": 1,
            "volunteers_on_duty": 1});
        let body_of = |unit: &str| {
            serde_json::json!({"template": "village_daily", "unit": unit, "period": "2026-03-02"})
        };
        let mut body = body_of("130110100001");
        body["values"] = values.clone();
        let rollups_before = shard_counters(&t, "report_rollup_counts", "n_tup_ins + n_tup_upd").await;
        let audit_home = shard_of(&t, "audit_log", "13").await;
        let audit_before = shard_counters(&t, "audit_log", "n_tup_ins").await;
        let inserted = moved(&t, "report_submissions", "n_tup_ins", home, async {
            let (s, r) = t.post("/api/v1/reports", &off, body).await;
            assert_eq!(s, axum::http::StatusCode::CREATED, "{r}");
        })
        .await;
        for (shard, d) in &inserted {
            assert_eq!(*d, i64::from(*shard == home), "report_submissions shard {shard}: {inserted:?}");
        }
        let rollups_after = shard_counters(&t, "report_rollup_counts", "n_tup_ins + n_tup_upd").await;
        for (shard, v) in &rollups_after {
            let d = v - rollups_before.get(shard).copied().unwrap_or(0);
            assert_eq!(d, if *shard == rollup_home { 6 } else { 0 }, "rollup shard {shard}");
        }
        // Its audit entry went to the province's chain, on the province's shard alone (issue 22
        // item 3): the same shard as its report (one co-location group).
        let range = |shard: i64| {
            sqlx::query_scalar::<_, String>(
                "SELECT shardminvalue || '..' || shardmaxvalue FROM pg_dist_shard WHERE shardid = $1",
            )
            .bind(shard)
            .fetch_one(t.state.db.pool())
        };
        assert_eq!(range(audit_home).await.expect("range"), range(home).await.expect("range"));
        // (Other shards may move meanwhile: the service's own background work appends to the
        // national chain.)
        let audit_after = shard_counters(&t, "audit_log", "n_tup_ins").await;
        let d = audit_after[&audit_home] - audit_before.get(&audit_home).copied().unwrap_or(0);
        assert_eq!(d, 1, "audit_log: {audit_before:?} → {audit_after:?}");
        let chain: String =
            sqlx::query_scalar("SELECT chain FROM audit_log WHERE action = 'report.submit'")
                .fetch_one(t.state.db.pool())
                .await
                .expect("entry");
        assert_eq!(chain, "13");
        let read = moved(&t, "report_rollup_counts", "COALESCE(idx_scan, 0) + COALESCE(seq_scan, 0)", rollup_home, async {
            let (s, sum) = t
                .get("/api/v1/reports/summary?template=village_daily&period=2026-03-02&region=130110", &off)
                .await;
            assert_eq!(s, axum::http::StatusCode::OK, "{sum}");
            assert_eq!(sum["received"], 1, "{sum}");
        })
        .await;
        for (shard, d) in &read {
            assert!((*shard == rollup_home) == (*d > 0), "summary read shard {shard}: {read:?}");
        }
        // A village worker's submission with an idempotency key (how phones send it): the record
        // a retry gets back is kept under the worker's province (migration 0066), on the same
        // shard as the report, so the whole write stays on that shard — and a retry is answered
        // from there.
        let cw = t.user("cw.citus", &["community_worker"], "130110100002").await;
        let idem_home = shard_of(&t, "idempotency_keys", "13").await;
        assert_eq!(range(idem_home).await.expect("range"), range(home).await.expect("range"));
        let mut body = body_of("130110100002");
        body["values"] = values.clone();
        let (t, cw) = (&t, &cw);
        let send = |b: serde_json::Value| async move {
            let (s, _, bytes) = t
                .raw("POST", "/api/v1/reports", Some(cw), Some(b.to_string()), &[("idempotency-key", "citus-k1")])
                .await;
            (s, serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default())
        };
        let stored = moved(t, "idempotency_keys", "n_tup_ins", idem_home, async {
            let (s, r) = send(body.clone()).await;
            assert_eq!(s, axum::http::StatusCode::CREATED, "{r}");
        })
        .await;
        for (shard, d) in &stored {
            assert_eq!(*d, i64::from(*shard == idem_home), "idempotency_keys shard {shard}: {stored:?}");
        }
        let (s, again) = send(body.clone()).await;
        assert_eq!(s, axum::http::StatusCode::OK, "a retry is answered from the record: {again}");
    })
    .await;
}
