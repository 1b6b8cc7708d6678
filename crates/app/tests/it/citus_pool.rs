//! Test databases on a Citus cluster (`BACKSTOP_TEST_CITUS_URL`, the coordinator's admin
//! database; `scripts/test.sh` starts a 3-node cluster with 4 shards for it).
//!
//! A database per test, as on PostgreSQL, would mean the extension on every node and the
//! workers registered again each time, and 63 migrations creating shards: far too slow. So
//! the suite keeps one pre-migrated database per test thread and hands it out in turn: a test
//! leases a free one (made on first need: created on every node, `citus` extension, workers
//! added, migrated by the service, what the first start wrote copied aside into `_seed`), the
//! lease truncates every table and puts the seed rows back, and the database returns to the
//! pool when the test ends. Ids start again as in a fresh database. A
//! test that changed the schema (a few drop a table or switch a trigger off to prove a
//! failure is handled) leaves a database whose fingerprint no longer matches: it is set aside
//! and a new one made.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::{AnyConnection, Connection, Row};

/// Databases made and free to lease (name, schema fingerprint when made), across the test
/// threads of this process.
static FREE: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
static MADE: AtomicUsize = AtomicUsize::new(0);

/// A database of the pool, leased by one test; back in the pool when dropped.
pub struct Lease {
    name: String,
    fingerprint: String,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Ok(mut free) = FREE.lock() {
            free.push((
                std::mem::take(&mut self.name),
                std::mem::take(&mut self.fingerprint),
            ));
        }
    }
}

/// The schema as the tests could change it: relations and their options, columns, triggers
/// and whether they are enabled.
async fn fingerprint(c: &mut AnyConnection) -> String {
    sqlx::query_scalar(
        "SELECT md5(string_agg(x, ',' ORDER BY x)) FROM ( \
           SELECT c.relname || ':' || c.relkind::text || ':' || coalesce(array_to_string(c.reloptions, ';'), '') AS x \
             FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace \
           UNION ALL SELECT c.relname || '.' || a.attname FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped \
           UNION ALL SELECT t.tgname || ':' || t.tgenabled::text FROM pg_trigger t WHERE NOT t.tgisinternal \
         ) s",
    )
    .fetch_one(&mut *c)
    .await
    .expect("schema fingerprint")
}

/// `admin` with its database replaced by `db` (same host, port and user).
fn with_db(admin: &str, db: &str) -> String {
    let (base, _) = admin.rsplit_once('/').unwrap_or((admin, ""));
    format!("{base}/{db}")
}

async fn exec(conn: &mut AnyConnection, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("citus: {sql}: {e}"));
}

/// Lease a clean database: its URL and the lease that holds it.
pub async fn lease(admin: &str) -> (String, Lease) {
    loop {
        let free = FREE.lock().ok().and_then(|mut f| f.pop());
        let (name, made) = match free {
            Some(x) => x,
            None => create(admin).await,
        };
        let url = with_db(admin, &name);
        let mut c = AnyConnection::connect(&url).await.expect("connect");
        if fingerprint(&mut c).await != made {
            // Changed by the test that had it: set aside (dropped with the cluster).
            continue;
        }
        reset(&mut c).await;
        return (
            url,
            Lease {
                name,
                fingerprint: made,
            },
        );
    }
}

/// A new database on every node of the cluster, with the extension, the workers added and
/// the schema migrated; its start-up rows kept in `_seed`.
async fn create(admin: &str) -> (String, String) {
    let name = format!("bt_citus_{}", MADE.fetch_add(1, Ordering::SeqCst));
    let mut coord = AnyConnection::connect(admin)
        .await
        .expect("connect to BACKSTOP_TEST_CITUS_URL");
    let rows = sqlx::query(
        "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeport",
    )
    .fetch_all(&mut coord)
    .await
    .expect("citus workers (is BACKSTOP_TEST_CITUS_URL a Citus coordinator?)");
    let workers: Vec<(String, i32)> = rows
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<i32, _>(1)))
        .collect();
    assert!(!workers.is_empty(), "citus: the coordinator has no workers");
    let admin_db = admin.rsplit_once('/').map(|(_, d)| d).unwrap_or("postgres");
    let (coord_host, coord_port) = host_port(admin);
    let mut nodes = vec![(coord_host.clone(), coord_port)];
    nodes.extend(workers.iter().cloned());
    for (host, port) in &nodes {
        let node_admin = format!("postgres://postgres@{host}:{port}/{admin_db}");
        let mut c = AnyConnection::connect(&node_admin)
            .await
            .unwrap_or_else(|e| panic!("citus: connect {node_admin}: {e}"));
        // A database of an earlier run on a reused cluster goes first.
        exec(
            &mut c,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await;
        exec(&mut c, &format!("CREATE DATABASE {name}")).await;
        let mut d = AnyConnection::connect(&with_db(&node_admin, &name))
            .await
            .expect("connect to the new database");
        exec(&mut d, "CREATE EXTENSION citus").await;
    }
    let url = with_db(admin, &name);
    let mut c = AnyConnection::connect(&url).await.expect("connect");
    exec(
        &mut c,
        &format!("SELECT citus_set_coordinator_host('{coord_host}', {coord_port})"),
    )
    .await;
    for (host, port) in &workers {
        exec(&mut c, &format!("SELECT citus_add_node('{host}', {port})")).await;
    }
    // The service's own first start migrates and writes its start-up rows.
    let keys = tempfile::tempdir().expect("tempdir");
    let state = backstop_app::open(
        &url,
        &keys.path().join("master.key"),
        // The tests' own start time: rows written at start carry it, as in a fresh database.
        crate::support::start_clock(),
        backstop_app::Config::default(),
    )
    .await
    .expect("open app on citus");
    state.db.close().await;
    exec(&mut c, "CREATE SCHEMA _seed").await;
    for table in tables(&mut c).await {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM public.{table}"
        )))
        .fetch_one(&mut c)
        .await
        .expect("count");
        if n > 0 {
            exec(
                &mut c,
                &format!("CREATE TABLE _seed.{table} AS SELECT * FROM public.{table}"),
            )
            .await;
        }
    }
    let made = fingerprint(&mut c).await;
    (name, made)
}

/// Every table of the schema but the migrations' own record.
async fn tables(c: &mut AnyConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
         AND tablename <> 'schema_migrations' ORDER BY tablename",
    )
    .fetch_all(&mut *c)
    .await
    .expect("tables")
}

/// Empty every table in one statement and put the start-up rows back.
async fn reset(c: &mut AnyConnection) {
    let all = tables(&mut *c).await;
    let seeded: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = '_seed' ORDER BY tablename",
    )
    .fetch_all(&mut *c)
    .await
    .expect("seed tables");
    // The audit log refuses TRUNCATE by trigger; a test database is emptied with it off, on
    // the coordinator's table and on every shard (Citus does not pass `DISABLE TRIGGER` on to
    // the shards). (Not `session_replication_role = replica`: that also silences the trigger
    // by which Citus truncates the shards.)
    let shards = |on: &str| {
        format!(
            "SELECT count(*) FROM run_command_on_shards('audit_log', \
             'ALTER TABLE %s {on} TRIGGER USER') WHERE success"
        )
    };
    exec(&mut *c, "SET citus.enable_unsafe_triggers TO on").await;
    exec(
        &mut *c,
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate",
    )
    .await;
    exec(&mut *c, &shards("DISABLE")).await;
    exec(
        &mut *c,
        &format!("TRUNCATE {} RESTART IDENTITY CASCADE", all.join(", ")),
    )
    .await;
    exec(&mut *c, &shards("ENABLE")).await;
    exec(
        &mut *c,
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_truncate",
    )
    .await;
    for table in seeded {
        exec(
            &mut *c,
            &format!(
                "INSERT INTO public.{table} OVERRIDING SYSTEM VALUE SELECT * FROM _seed.{table}"
            ),
        )
        .await;
        // Ids start where a fresh database's would (tests name rows by them).
        let sequence: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT pg_get_serial_sequence('public.{table}', a.attname) FROM pg_attribute a \
             WHERE a.attrelid = 'public.{table}'::regclass AND a.attname = 'id'"
        )))
        .fetch_optional(&mut *c)
        .await
        .expect("sequence")
        .flatten();
        if let Some(seq) = sequence {
            exec(
                &mut *c,
                &format!(
                    "SELECT setval('{seq}', max(id)) FROM public.{table} HAVING max(id) IS NOT NULL"
                ),
            )
            .await;
        }
    }
}

/// The host and port of a `postgres://user@host:port/db` URL.
fn host_port(url: &str) -> (String, i32) {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    let hostport = rest.split('/').next().unwrap_or(rest);
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(5432)),
        None => (hostport.to_string(), 5432),
    }
}
