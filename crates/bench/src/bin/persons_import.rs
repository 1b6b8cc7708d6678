//! Roster-import benchmark (issue 4): a generated roster of valid persons imported through
//! `backstop persons import`, against the raw engine bulk-loading the same file into an
//! equivalent table with the same unique index, in the same run; and, with `--lookup-persons`,
//! exact ID lookup and name search latency over HTTP on a table of that many persons.
//!
//! ```sh
//! cargo build --release -p backstop -p backstop-bench
//! target/release/persons_import [--rows 1000000] [--data ../shared/data/regions] \
//!     [--database-url postgres://ADMIN@HOST/postgres] [--work DIR] [--bin target/release/backstop]
//! target/release/persons_import --lookup-persons 10000000 [--chunk 1000000] [--work DIR] \
//!     [--lookups 2000] [--name-lookups 200] [--national-name-lookups 20] [--database-url …]
//! ```
//!
//! The roster: `身份证号,姓名,联系电话,区划代码`, UTF-8. Row `i` is a pure function of `i`
//! (and `--seed`): a GB 11643 number whose first 6 digits are a real county (an `areaCode` of
//! `villages.csv`) with a valid birth date (1940–2019) and check character, unique over the
//! whole space (a bijection of `i`), a name from common surnames and given-name characters, a
//! mobile number, and a real village code of that county as region. The same rows can be
//! regenerated, so lookups use numbers and names that are on record.
//!
//! Import mode: `backstop regions import DATA` into a fresh data directory (townships and
//! villages), then `backstop persons import FILE` timed (wall clock) with its peak RSS (from
//! the kernel's `wait4` accounting, read through `/usr/bin/time -v`); then the raw load of the
//! same file: `sqlite3` `.import` (WAL, `synchronous=FULL`, `foreign_keys=ON`, as the service)
//! or `psql` `\copy` into a table with the roster's columns, the same unique index on the ID
//! column and the other indexes `persons` has on these columns. Both row counts are checked.
//! Then the engine floor: the rows the import stored (`persons` and its `person.create` audit
//! entries) written again by the engine alone, `INSERT … SELECT` from staging tables into
//! copies of both tables (same columns, indexes, unique constraint, region foreign key) — the
//! least time any import into this schema could take, so `raw s ÷ floor s` is the best
//! raw-ratio the schema allows on that engine (printed with how close the import came to it).
//! Last line: `persons-import: <N> rows in <S> s = <R> rows/s, raw-ratio <Q>, peak RSS <M> MB`
//! (raw-ratio = our rows/s ÷ the raw load's).
//!
//! Lookup mode: persons are loaded through the same import path in chunks (each chunk timed,
//! which also shows whether the import slows as the table grows), then the service is opened
//! on that database in this process and one client measures `POST /api/v1/persons/search`
//! (exact ID, on record and not) and `GET /api/v1/persons?name=` (a full name or a surname, by
//! a county official; a full name by a national official) p50/p99.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backstop_app::Config;
use backstop_bench::roster::{Roster, SURNAMES, load_regions, splitmix};
use backstop_bench::run::{Measured, fresh_pg, measure, rt, scalar_i64};
use backstop_bench::{agent, percentile, ready_official, serve};
use serde_json::json;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(300);

struct Args {
    rows: u64,
    data: PathBuf,
    bin: PathBuf,
    database_url: Option<String>,
    work: Option<PathBuf>,
    lookup_persons: Option<u64>,
    chunk: u64,
    lookups: usize,
    name_lookups: usize,
    national_name_lookups: usize,
    seed: u64,
}

fn args() -> Args {
    let mut a = Args {
        rows: 1_000_000,
        data: PathBuf::from("../shared/data/regions"),
        bin: backstop_bench::backstop_bin(),
        database_url: None,
        work: None,
        lookup_persons: None,
        chunk: 1_000_000,
        lookups: 2000,
        name_lookups: 200,
        national_name_lookups: 20,
        seed: 20_200_124,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        let num = |v: &str| -> u64 {
            v.replace('_', "").parse().unwrap_or_else(|_| {
                eprintln!("{k}: not a number: {v}");
                std::process::exit(2)
            })
        };
        match k.as_str() {
            "--rows" => a.rows = num(&v),
            "--data" => a.data = PathBuf::from(v),
            "--bin" => a.bin = PathBuf::from(v),
            "--database-url" => a.database_url = Some(v),
            "--work" => a.work = Some(PathBuf::from(v)),
            "--lookup-persons" => a.lookup_persons = Some(num(&v)),
            "--chunk" => a.chunk = num(&v).max(1),
            "--lookups" => a.lookups = num(&v) as usize,
            "--name-lookups" => a.name_lookups = num(&v) as usize,
            "--national-name-lookups" => a.national_name_lookups = num(&v) as usize,
            "--seed" => a.seed = num(&v),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    a
}

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("persons-import: {msg}");
    std::process::exit(1)
}

/// The raw table: the roster's columns, the unique index on the ID column and the indexes
/// `persons` has on the same columns (migration 0003: region+name, name, phone).
const RAW_DDL: &str = "CREATE TABLE raw_persons (id_number TEXT NOT NULL, name TEXT NOT NULL, \
     phone TEXT, region_code TEXT NOT NULL);\n\
     CREATE UNIQUE INDEX raw_persons_id ON raw_persons(id_number);\n\
     CREATE INDEX raw_persons_region_name ON raw_persons(region_code, name);\n\
     CREATE INDEX raw_persons_name ON raw_persons(name);\n\
     CREATE INDEX raw_persons_phone ON raw_persons(phone);\n";

struct Outcome {
    rows: u64,
    secs: f64,
    peak_kb: u64,
    raw_secs: f64,
    raw_peak_kb: u64,
    floor_secs: f64,
}

/// The engine floor: how long the engine alone takes to write the rows the import stored —
/// `persons` and the import's `audit_log` entries, already validated, encrypted, indexed and
/// hashed — into copies of both tables with the same columns, indexes, unique constraint and
/// region foreign key, from staging tables (`INSERT … SELECT`, one transaction, committed;
/// on SQLite with the settings of the service's bulk-write connection).
/// No parsing, no client, no network: no import of this schema can be faster, so
/// `raw_secs / floor` is the best raw-ratio this schema allows on this engine.
async fn engine_floor(url: &str) -> f64 {
    use sqlx::Connection;
    const TABLES: [&str; 4] = ["floor_p", "floor_a", "floor_src_p", "floor_src_a"];
    async fn exec(c: &mut sqlx::AnyConnection, sql: &str) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(c)
            .await
            .unwrap_or_else(|e| die(format!("{sql}: {e}")));
    }
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url)
        .await
        .unwrap_or_else(|e| die(format!("connect {}: {e}", backstop_store::redact_url(url))));
    let pg = c.backend_name().eq_ignore_ascii_case("postgresql");
    let mut setup: Vec<String> = TABLES
        .iter()
        .map(|t| format!("DROP TABLE IF EXISTS {t}"))
        .collect();
    setup.push("CREATE TABLE floor_src_p AS SELECT * FROM persons".into());
    setup.push(
        "CREATE TABLE floor_src_a AS SELECT * FROM audit_log WHERE action = 'person.create'".into(),
    );
    if pg {
        setup.push("CREATE TABLE floor_p (LIKE persons INCLUDING ALL)".into());
        setup.push(
            "ALTER TABLE floor_p ADD FOREIGN KEY (region_code) REFERENCES regions(code)".into(),
        );
        setup.push("CREATE TABLE floor_a (LIKE audit_log INCLUDING ALL)".into());
        setup.push("CHECKPOINT".into());
    } else {
        // The tables' and their indexes' own DDL, renamed (triggers left out).
        for (table, copy) in [("persons", "floor_p"), ("audit_log", "floor_a")] {
            let ddl: Vec<String> = sqlx::query_scalar(
                "SELECT sql FROM sqlite_master WHERE tbl_name = $1 AND sql IS NOT NULL \
                 AND type IN ('table', 'index') ORDER BY type DESC",
            )
            .bind(table)
            .fetch_all(&mut c)
            .await
            .unwrap_or_else(|e| die(format!("{table} DDL: {e}")));
            setup.extend(ddl.into_iter().map(|d| d.replace(table, copy)));
        }
        // As the service's bulk-write connection (`Db::begin_bulk_write`): its page cache,
        // statement journals in memory, references checked by the import itself.
        setup.push("PRAGMA wal_checkpoint(TRUNCATE)".into());
        setup.push(format!(
            "PRAGMA cache_size = -{}; PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = OFF",
            backstop_store::BULK_CACHE_KIB
        ));
    }
    for sql in &setup {
        exec(&mut c, sql).await;
    }
    let start = Instant::now();
    for sql in [
        "BEGIN",
        "INSERT INTO floor_p SELECT * FROM floor_src_p",
        "INSERT INTO floor_a SELECT * FROM floor_src_a",
        "COMMIT",
    ] {
        exec(&mut c, sql).await;
    }
    let secs = start.elapsed().as_secs_f64();
    for t in TABLES {
        exec(&mut c, &format!("DROP TABLE {t}")).await;
    }
    let _ = c.close().await;
    secs
}

/// `backstop persons import` of the file (after the regions) and the raw load, one backend.
fn import_run(a: &Args, work: &Path, roster: &Path, rows: u64) -> Outcome {
    let bin = a.bin.to_string_lossy().to_string();
    let data = a.data.to_string_lossy().to_string();
    let file = roster.to_string_lossy().to_string();
    let bs_dir = work.join("bs").to_string_lossy().to_string();
    let rt = rt();
    let (bs_url, raw_url) = match &a.database_url {
        Some(admin) => {
            let urls = rt.block_on(fresh_pg(admin, &["bench_persons", "bench_persons_raw"]));
            (Some(urls[0].clone()), Some(urls[1].clone()))
        }
        None => (None, None),
    };
    let mut base: Vec<String> = vec![bin, "--data-dir".into(), bs_dir.clone()];
    if let Some(u) = &bs_url {
        base.extend(["--database-url".to_string(), u.clone()]);
    }
    let with = |extra: &[&str]| -> Vec<String> {
        let mut v = base.clone();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let regions_cmd = with(&["regions", "import", &data]);
    let r = measure(
        "backstop regions import",
        work,
        &regions_cmd.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    eprintln!(
        "    (regions loaded in {:.1} s; not part of the result)",
        r.secs
    );
    let import_cmd = with(&["persons", "import", &file]);
    let m = measure(
        "backstop persons import",
        work,
        &import_cmd.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let bs_db_url = bs_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{bs_dir}/backstop.db"));
    let stored = rt.block_on(scalar_i64(
        &bs_db_url,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM persons",
    ));
    if stored as u64 != rows {
        die(format!(
            "backstop stored {stored} persons, expected {rows}: {}",
            m.stdout
        ));
    }
    // The raw load of the same file.
    let raw = match &raw_url {
        None => {
            let script = work.join("raw.sql");
            let sql = format!(
                "PRAGMA journal_mode=WAL;\nPRAGMA synchronous=FULL;\nPRAGMA foreign_keys=ON;\n{RAW_DDL}\
                 .import --csv --skip 1 {file} raw_persons\n"
            );
            if std::fs::write(&script, sql).is_err() {
                die("writing raw.sql");
            }
            let db = work.join("raw.db").to_string_lossy().to_string();
            let read = format!(".read {}", script.display());
            let m = measure(
                "raw sqlite3 .import",
                work,
                &["sqlite3", "-bail", &db, &read],
            );
            let n = rt.block_on(scalar_i64(
                &format!("sqlite://{db}"),
                "SELECT CAST(COUNT(*) AS BIGINT) FROM raw_persons",
            ));
            (m, n)
        }
        Some(url) => {
            let script = work.join("raw.psql");
            let sql = format!(
                "{RAW_DDL}\\copy raw_persons FROM '{file}' WITH (FORMAT csv, HEADER true)\n"
            );
            if std::fs::write(&script, sql).is_err() {
                die("writing raw.psql");
            }
            let s = script.to_string_lossy().to_string();
            let m = measure(
                "raw psql \\copy",
                work,
                &["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-f", &s],
            );
            let n = rt.block_on(scalar_i64(
                url,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM raw_persons",
            ));
            (m, n)
        }
    };
    if raw.1 as u64 != rows {
        die(format!("raw load stored {}, expected {rows}", raw.1));
    }
    eprintln!("==> engine floor: the stored rows written again by the engine alone");
    let floor_secs = rt.block_on(engine_floor(&bs_db_url));
    eprintln!("    {floor_secs:.2} s");
    Outcome {
        rows,
        secs: m.secs,
        peak_kb: m.peak_kb,
        raw_secs: raw.0.secs,
        raw_peak_kb: raw.0.peak_kb,
        floor_secs,
    }
}

// ---------------------------------------------------------------------------------------------
// Lookups at scale

async fn make_user(state: &backstop_app::AppState, name: &str, region: &str) {
    ready_official(state, name, region)
        .await
        .unwrap_or_else(|e| die(e));
}

fn login(agent: &ureq::Agent, base: &str, user: &str) -> String {
    backstop_bench::login(agent, base, user).unwrap_or_else(|| die(format!("login {user} failed")))
}

/// Time `n` requests made by `f` (sequential, one client); returns sorted-able latencies in
/// ms and how many answered as expected.
fn timed<F: FnMut(usize) -> bool>(n: usize, mut f: F) -> (Vec<f64>, usize) {
    let mut lat = Vec::with_capacity(n);
    let mut ok = 0;
    for i in 0..n {
        let t = Instant::now();
        if f(i) {
            ok += 1;
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (lat, ok)
}

fn report_latency(what: &str, mut lat: Vec<f64>, ok: usize) -> String {
    let n = lat.len();
    let p50 = percentile(&mut lat, 0.50, f64::total_cmp);
    let p99 = percentile(&mut lat, 0.99, f64::total_cmp);
    let max = lat.last().copied().unwrap_or(0.0);
    let line = format!(
        "{what}: {n} requests ({ok} as expected), p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms"
    );
    println!("{line}");
    line
}

fn lookup_mode(a: &Args, work: &Path, roster: &Roster, target: u64) {
    let bin = a.bin.to_string_lossy().to_string();
    let data = a.data.to_string_lossy().to_string();
    let bs_dir = work.join("bs");
    let rt = rt();
    let bs_url = match &a.database_url {
        Some(admin) => {
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or_else(|| admin.clone());
            format!("{base}/bench_persons_lookup")
        }
        None => format!("sqlite://{}/backstop.db", bs_dir.display()),
    };
    let fresh = !bs_dir.join("keys/master.key").exists();
    if fresh && let Some(admin) = &a.database_url {
        rt.block_on(fresh_pg(admin, &["bench_persons_lookup"]));
    }
    let mut base: Vec<String> = vec![
        bin,
        "--data-dir".into(),
        bs_dir.to_string_lossy().to_string(),
    ];
    if a.database_url.is_some() {
        base.extend(["--database-url".to_string(), bs_url.clone()]);
    }
    let run = |label: &str, extra: &[&str]| -> Measured {
        let mut v = base.clone();
        v.extend(extra.iter().map(|s| s.to_string()));
        measure(
            label,
            work,
            &v.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    if fresh {
        run("backstop regions import", &["regions", "import", &data]);
    }
    let mut have = rt.block_on(scalar_i64(
        &bs_url,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM persons",
    )) as u64;
    eprintln!("persons on record: {have}; target {target}");
    println!("| chunk | rows before | rows | seconds | rows/s | peak RSS MB |");
    println!("|--:|--:|--:|--:|--:|--:|");
    let file = work.join("chunk.csv");
    while have < target {
        let to = (have + a.chunk).min(target);
        roster.write(&file, have, to);
        let f = file.to_string_lossy().to_string();
        let m = run(
            "backstop persons import (chunk)",
            &["persons", "import", &f],
        );
        println!(
            "| {} | {have} | {} | {:.1} | {:.0} | {:.1} |",
            have / a.chunk + 1,
            to - have,
            m.secs,
            (to - have) as f64 / m.secs,
            m.peak_kb as f64 / 1024.0
        );
        have = to;
    }
    let _ = std::fs::remove_file(&file);

    // Serve the database in this process and measure over HTTP.
    let (state, addr) = rt.block_on(async {
        let state = backstop_app::open(
            &bs_url,
            &backstop_app::key_path(&bs_dir),
            Arc::new(backstop_core::clock::SystemClock),
            Config::default(),
        )
        .await
        .unwrap_or_else(|e| die(format!("open: {e}")));
        let probe = roster.person(0);
        make_user(&state, "bench.nation", "0").await;
        make_user(&state, "bench.county", &probe.county).await;
        let addr = serve(&state)
            .await
            .unwrap_or_else(|e| die(format!("serve: {e}")));
        (state, addr)
    });
    let base_url = format!("http://{addr}");
    let ag = agent(TIMEOUT);
    let nation = login(&ag, &base_url, "bench.nation");
    let county = login(&ag, &base_url, "bench.county");
    let probe_county = roster.person(0).county;
    let pick = |k: usize, salt: u64| splitmix(k as u64 ^ salt) % target;
    let auth = |t: &str| format!("Bearer {t}");
    let mut lines = Vec::new();

    // Exact ID: numbers on record (found) and valid numbers not on record (404).
    let exact = |id: &str, status: u16| {
        ag.post(&format!("{base_url}/api/v1/persons/search"))
            .header("Authorization", &auth(&nation))
            .send_json(json!({"id_number": id}))
            .map(|r| r.status().as_u16() == status)
            .unwrap_or(false)
    };
    let (lat, ok) = timed(a.lookups, |k| exact(&roster.person(pick(k, 0xA1)).id, 200));
    lines.push(report_latency(
        "exact ID lookup (national official, on record)",
        lat,
        ok,
    ));
    // Same county and date space, sequence numbers beyond the roster: not on record.
    let (lat, ok) = timed(a.lookups / 4, |k| {
        exact(&roster.person(target + pick(k, 0xA2)).id, 404)
    });
    lines.push(report_latency(
        "exact ID lookup (not on record → 404)",
        lat,
        ok,
    ));

    // Name search (`?name=`, a part of the name: `LIKE '%…%'`, a page of 50 and the total in
    // scope): a full name of someone on record, by a county official and by a national one,
    // and a surname alone (many matches) by the county official.
    let search = |token: &str, name: &str| -> bool {
        ag.get(&format!("{base_url}/api/v1/persons"))
            .query("name", name)
            .query("limit", "50")
            .header("Authorization", &auth(token))
            .call()
            .map(|r| r.status().as_u16() == 200)
            .unwrap_or(false)
    };
    let county_people: Vec<u64> = (0..target.min(3_000_000))
        .filter(|i| roster.person(*i).county == probe_county)
        .take(a.name_lookups)
        .collect();
    let (lat, ok) = timed(county_people.len(), |k| {
        search(&county, &roster.person(county_people[k]).name)
    });
    lines.push(report_latency(
        &format!("name search, full name, county official ({probe_county})"),
        lat,
        ok,
    ));
    let (lat, ok) = timed(a.name_lookups.min(SURNAMES.len() * 4), |k| {
        search(&county, SURNAMES[k % SURNAMES.len()])
    });
    lines.push(report_latency(
        &format!("name search, surname only, county official ({probe_county})"),
        lat,
        ok,
    ));
    let (lat, ok) = timed(a.national_name_lookups, |k| {
        search(&nation, &roster.person(pick(k, 0xB1)).name)
    });
    lines.push(report_latency(
        "name search, full name, national official",
        lat,
        ok,
    ));
    let persons = rt.block_on(scalar_i64(
        &bs_url,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM persons",
    ));
    println!("persons-lookup: {persons} persons; {}", lines.join("; "));
    rt.block_on(async { state.db.close().await });
}

fn main() {
    let a = args();
    let (_tmp, work) = backstop_bench::work_dir(&a.bin, a.work.as_ref());
    let t = Instant::now();
    let roster = Roster::new(load_regions(&a.data, ""), a.seed);
    eprintln!(
        "regions: {} counties with villages; ID space {} numbers",
        roster.regions.counties.len(),
        roster.space
    );
    if let Some(target) = a.lookup_persons {
        lookup_mode(&a, &work, &roster, target);
        return;
    }
    if a.work.is_some() && work.join("bs").exists() {
        die(format!(
            "{} already holds a run; use an empty --work",
            work.display()
        ));
    }
    let file = work.join("roster.csv");
    roster.write(&file, 0, a.rows);
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "roster: {} rows, {:.1} MB, written in {:.1} s",
        a.rows,
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let backend = if a.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let o = import_run(&a, &work, &file, a.rows);
    let rate = o.rows as f64 / o.secs;
    let raw_rate = o.rows as f64 / o.raw_secs;
    println!(
        "backend {backend}: backstop {:.2} s ({:.0} rows/s, peak RSS {:.1} MB); raw {:.2} s ({:.0} rows/s, peak RSS {:.1} MB)",
        o.secs,
        rate,
        o.peak_kb as f64 / 1024.0,
        o.raw_secs,
        raw_rate,
        o.raw_peak_kb as f64 / 1024.0
    );
    println!(
        "engine floor {backend}: the engine alone writes the stored rows (persons and their \
         audit entries) into copies of both tables in {:.2} s: best raw-ratio this schema allows \
         {:.3}; this import ran at {:.0} % of the floor's speed",
        o.floor_secs,
        o.raw_secs / o.floor_secs,
        100.0 * o.floor_secs / o.secs
    );
    println!(
        "persons-import: {} rows in {:.1} s = {:.0} rows/s, raw-ratio {:.3}, peak RSS {:.1} MB",
        o.rows,
        o.secs,
        rate,
        rate / raw_rate,
        o.peak_kb as f64 / 1024.0
    );
}
