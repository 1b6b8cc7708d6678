//! Reports under a burst: many concurrent submissions share group commits (on SQLite) — with
//! jobs that fail inside the write (locked period, unknown village), corrections racing first
//! reports, and retries racing their first attempt — and the rollups still equal an
//! independent sum of the stored submissions at every level. Also: NBS placeholder villages
//! (350527000000 金门县) can report, since they are counted as expected.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use backstop_app::kernel::actor::{Actor, Via};
use backstop_app::reports::{Outcome, SubmitInput, submit};
use backstop_core::role::{Role, RoleSet};
use serde_json::{Value, json};

use crate::support::{T, each_backend};

/// 2026-03-02 in Beijing (the test clock starts at 09:00 Beijing).
const DAY: &str = "2026-03-02";

const FIELDS: [&str; 8] = [
    "households_screened",
    "people_screened",
    "close_contacts",
    "home_observation",
    "released",
    "fever_referred",
    "entrance_registrations",
    "volunteers_on_duty",
];

fn values(n: i64) -> Value {
    json!({"households_screened": 10 * n, "people_screened": 30 * n, "close_contacts": n % 4,
           "home_observation": n % 5, "released": 0, "fever_referred": n % 2,
           "entrance_registrations": 5 + n, "volunteers_on_duty": 2})
}

/// A national official with a user id (idempotency keys are kept per user).
async fn official(t: &T) -> Actor {
    let id = t.make_user("off.burst", &["official"], "0").await;
    let user = backstop_app::kernel::auth::load_user(&t.state, id)
        .await
        .expect("load")
        .expect("user");
    let a = user.actor("test", Via::Cli);
    assert_eq!(a.roles, RoleSet::new([Role::Official]));
    a
}

#[tokio::test]
async fn concurrent_submissions_keep_rollups_exact() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let villages: Vec<String> = sqlx::query_scalar(
            "SELECT code FROM regions WHERE level = 'village' AND code LIKE '130110%' ORDER BY code",
        )
        .fetch_all(t.state.db.pool())
        .await
        .expect("villages");
        assert_eq!(villages.len(), 232);
        // The township 130110101 locks the day before anyone reports: its villages' jobs fail
        // inside the write, next to jobs that succeed.
        let tw = t.user("tw.lock", &["township_staff"], "130110101").await;
        let (s, e) = t
            .post("/api/v1/reports/locks", &tw, json!({"template": "village_daily", "period": DAY, "region": "130110101"}))
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{e}");

        let state = t.state.clone();
        let actor = official(&t).await;
        let mut jobs = tokio::task::JoinSet::new();
        let spawn = |jobs: &mut tokio::task::JoinSet<_>, tag: &'static str, unit: String, n: i64, key: Option<String>| {
            let (state, actor) = (state.clone(), actor.clone());
            jobs.spawn(async move {
                let input = SubmitInput {
                    template: "village_daily".into(),
                    unit: json!(unit),
                    period: DAY.into(),
                    values: values(n),
                    version: None,
                };
                let r = submit(&state, &actor, &input, key.as_deref()).await;
                (tag, unit, key, r.map(|(o, s)| (o, s.id)).map_err(|e| e.code.as_str().to_string()))
            });
        };
        for (i, v) in villages.iter().enumerate() {
            let n = i as i64 + 1;
            spawn(&mut jobs, "first", v.clone(), n, Some(format!("k-{v}")));
            if i % 5 == 0 {
                // The same request again, racing the first: answered with the first answer.
                spawn(&mut jobs, "retry", v.clone(), n, Some(format!("k-{v}")));
            }
            if i % 7 == 0 {
                // Another report for the same village: a correction (or the first report, if
                // it wins the race); counted once either way.
                spawn(&mut jobs, "other", v.clone(), n + 100, Some(format!("k2-{v}")));
            }
        }
        for unknown in ["130110100998", "130110100999"] {
            spawn(&mut jobs, "unknown", unknown.to_string(), 1, None);
        }
        // Villages with two requests in flight at once.
        let raced: BTreeSet<&String> = villages
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 5 == 0 || i % 7 == 0)
            .map(|(_, v)| v)
            .collect();
        let mut raced_conflicts = 0;
        let mut ids: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
        let mut by_key: BTreeMap<String, Vec<(Outcome, i64)>> = BTreeMap::new();
        while let Some(r) = jobs.join_next().await {
            let (tag, unit, key, r) = r.expect("task");
            let locked = unit.starts_with("130110101");
            match (tag, r) {
                ("unknown", Err(code)) => assert_eq!(code, "not_found", "{unit}"),
                (_, Err(code)) if locked => assert_eq!(code, "conflict", "{unit}"),
                // On PostgreSQL two transactions for one village can both find no report and
                // both insert: the unique key refuses the second (409, nothing stored twice;
                // the client's retry is then answered normally). SQLite's single writer
                // serialises them, so there it never happens.
                (_, Err(code))
                    if t.backend != "sqlite" && code == "conflict" && raced.contains(&unit) =>
                {
                    raced_conflicts += 1;
                }
                (tag, Ok((outcome, id))) if !locked && tag != "unknown" => {
                    ids.entry(unit).or_default().insert(id);
                    if let Some(k) = key {
                        by_key.entry(k).or_default().push((outcome, id));
                    }
                }
                (tag, r) => panic!("{tag} {unit}: unexpected {r:?}"),
            }
        }
        // One submission per village, whatever the races; a key's answers are one submission.
        for (unit, set) in &ids {
            assert_eq!(set.len(), 1, "{unit} has {set:?}");
        }
        for (k, answers) in &by_key {
            let created = answers.iter().filter(|(o, _)| *o == Outcome::Created).count();
            let ids: BTreeSet<i64> = answers.iter().map(|(_, id)| *id).collect();
            assert!(created <= 1, "{k}: {answers:?}");
            assert_eq!(ids.len(), 1, "{k}: {answers:?}");
        }
        if t.backend == "sqlite" {
            assert_eq!(raced_conflicts, 0);
        }
        let accepted = villages.iter().filter(|v| !v.starts_with("130110101")).count();
        assert_eq!(ids.len(), accepted);

        // Independent sums of what is stored, at every level above each village.
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT unit, body_enc FROM report_submissions WHERE period = $1")
                .bind(DAY)
                .fetch_all(t.state.db.pool())
                .await
                .expect("rows");
        // The values are sealed at rest (migration 0047): opened with the key.
        let rows: Vec<(String, String)> = rows
            .into_iter()
            .map(|(u, enc)| (u, String::from_utf8(t.state.keys.decrypt(&enc).expect("opens")).expect("utf-8")))
            .collect();
        assert_eq!(rows.len(), accepted);
        let mut want_counts: BTreeMap<String, i64> = BTreeMap::new();
        let mut want_sums: BTreeMap<(String, String), i64> = BTreeMap::new();
        for (unit, body) in &rows {
            let body: Value = serde_json::from_str(body).expect("body");
            let levels = ["0".to_string(), unit[..2].to_string(), unit[..4].to_string(), unit[..6].to_string(), unit[..9].to_string(), unit.clone()];
            for code in levels {
                *want_counts.entry(code.clone()).or_default() += 1;
                for f in FIELDS {
                    *want_sums.entry((code.clone(), f.to_string())).or_default() += body[f].as_i64().expect("int");
                }
            }
        }
        let counts: Vec<(String, i64)> = sqlx::query_as(
            "SELECT code, CAST(SUM(received) AS BIGINT) FROM report_rollup_counts \
             WHERE template_key = 'village_daily' AND period = $1 GROUP BY code",
        )
        .bind(DAY)
        .fetch_all(t.state.db.pool())
        .await
        .expect("counts");
        assert_eq!(counts.into_iter().collect::<BTreeMap<_, _>>(), want_counts);
        let sums: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT code, field, CAST(SUM(total) AS BIGINT) FROM report_rollup_sums \
             WHERE template_key = 'village_daily' AND period = $1 GROUP BY code, field",
        )
        .bind(DAY)
        .fetch_all(t.state.db.pool())
        .await
        .expect("sums");
        let sums: BTreeMap<(String, String), i64> =
            sums.into_iter().map(|(c, f, v)| ((c, f), v)).collect();
        want_sums.retain(|_, v| *v != 0);
        let sums: BTreeMap<_, _> = sums.into_iter().filter(|(_, v)| *v != 0).collect();
        assert_eq!(sums, want_sums);
        // One audit entry per stored report and per correction; refused jobs left none; the
        // chain built across shared transactions verifies.
        let corrected = by_key
            .values()
            .flatten()
            .filter(|(o, _)| *o == Outcome::Corrected)
            .count() as i64;
        let audited: Vec<(String, i64)> = sqlx::query_as(
            "SELECT action, CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action IN ('report.submit', 'report.correct') GROUP BY action ORDER BY action",
        )
        .fetch_all(t.state.db.pool())
        .await
        .expect("audit");
        let mut want = vec![("report.submit".to_string(), accepted as i64)];
        if corrected > 0 {
            want.insert(0, ("report.correct".to_string(), corrected));
        }
        assert_eq!(audited, want);
        let report = backstop_app::audit::verify(&t.state.db).await.expect("verify");
        assert!(report.first_broken.is_none(), "{report:?}");
    })
    .await;
}

#[tokio::test]
async fn placeholder_villages_can_report() {
    each_backend(|t: T| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("streets.csv"),
            "code,name,areaCode,provinceCode,cityCode\n350527000,\"金门县\",350527,35,3505\n",
        )
        .expect("streets");
        std::fs::write(
            dir.path().join("villages.csv"),
            "code,name,streetCode,provinceCode,cityCode,areaCode\n350527000000,\"金门县\",350527000,35,3505,350527\n",
        )
        .expect("villages");
        backstop_app::regions::import::import_dir(&t.state, &Actor::operator(), dir.path(), &mut |_| {})
            .await
            .expect("import");
        let off = t.user("off", &["official"], "35").await;
        let (s, sum) = t
            .get("/api/v1/reports/summary?template=village_daily&period=2026-03-02&region=350527", &off)
            .await;
        assert_eq!(s, StatusCode::OK, "{sum}");
        assert_eq!((sum["expected"].as_i64(), sum["received"].as_i64()), (Some(1), Some(0)));
        let body = json!({"template": "village_daily", "unit": "350527000000", "period": DAY, "values": values(1)});
        let (s, r) = t.post("/api/v1/reports", &off, body).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        assert_eq!((r["unit"].as_str(), r["unit_name"].as_str()), (Some("350527000000"), Some("金门县")));
        let (_, sum) = t
            .get("/api/v1/reports/summary?template=village_daily&period=2026-03-02&region=350527", &off)
            .await;
        assert_eq!((sum["expected"].as_i64(), sum["received"].as_i64()), (Some(1), Some(1)), "{sum}");
        assert_eq!(sum["children"][0]["code"], "350527000");
        assert_eq!(sum["children"][0]["received"], 1);
        let (s, missing) = t
            .get("/api/v1/reports/missing?template=village_daily&period=2026-03-02&region=350527", &off)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(missing.as_array().map(Vec::len), Some(0), "{missing}");
        // A padded code that is no village is still the village-code error.
        let body = json!({"template": "village_daily", "unit": "350500000000", "period": DAY, "values": values(1)});
        let (s, e) = t.post("/api/v1/reports", &off, body).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unit")), "{e}");
    })
    .await;
}

/// PostgreSQL plans a table that was empty at dawn as an empty table until its statistics are
/// gathered (a new deployment's first morning, a restore): the service gathers them for every
/// table that has doubled since its last analysis (`Db::analyze_grown`, every 10 s under
/// `serve`), and leaves a table alone once they are fresh. SQLite has nothing to gather. The
/// table is one kept on the node (on Citus a distributed table's rows are on the workers, whose
/// own autovacuum keeps the shards' statistics; the coordinator plans nothing inside them).
#[tokio::test]
async fn tables_that_doubled_get_fresh_statistics() {
    each_backend(|t: T| async move {
        let db = &t.state.db;
        let rows = backstop_store::GROWN_ROWS + 500;
        if t.backend != "sqlite" {
            // Autovacuum must not get there first (this is the service's own doing).
            sqlx::query("ALTER TABLE report_reminder_runs SET (autovacuum_enabled = false)")
                .execute(db.pool())
                .await
                .expect("autovacuum off");
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO report_reminder_runs (template_key, period, ran_at, reminded) \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
             SELECT 'village_daily', CAST(i AS TEXT), 1, 1 FROM n"
        )))
        .execute(db.pool())
        .await
        .expect("insert");
        if t.backend == "sqlite" {
            assert_eq!(db.analyze_grown().await.expect("analyze"), Vec::<String>::new());
            return;
        }
        let reltuples = || async {
            sqlx::query_scalar::<_, f64>(
                "SELECT CAST(reltuples AS DOUBLE PRECISION) FROM pg_class WHERE relname = 'report_reminder_runs'",
            )
            .fetch_one(db.pool())
            .await
            .expect("reltuples")
        };
        assert!(reltuples().await < 1.0, "not analysed before");
        // The writer's counts reach pg_stat_user_tables within a second or so of its commit.
        let mut analysed = Vec::new();
        for _ in 0..150 {
            analysed = db.analyze_grown().await.expect("analyze");
            if analysed.iter().any(|n| n == "report_reminder_runs") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert!(analysed.iter().any(|n| n == "report_reminder_runs"), "{analysed:?}");
        assert_eq!(reltuples().await, rows as f64, "statistics gathered");
        // Fresh now: not analysed again.
        let again = db.analyze_grown().await.expect("analyze");
        assert!(!again.iter().any(|n| n == "report_reminder_runs"), "{again:?}");
    })
    .await;
}
