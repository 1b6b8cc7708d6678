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

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backstop_app::kernel::actor::Actor;
use backstop_app::{Config, accounts};
use backstop_core::citizen_id::check_char;
use serde_json::{Value, json};

const PASSWORD: &str = "Bench#Rp7!qZ2x";

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
    let bin = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("backstop")))
        .unwrap_or_else(|| PathBuf::from("target/release/backstop"));
    let mut a = Args {
        rows: 1_000_000,
        data: PathBuf::from("../shared/data/regions"),
        bin,
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

// ---------------------------------------------------------------------------------------------
// The roster

/// Real villages grouped by their county (`areaCode`), from `villages.csv`.
struct Regions {
    counties: Vec<(String, Vec<String>)>,
}

fn load_regions(data: &Path) -> Regions {
    let path = data.join("villages.csv");
    let f = std::fs::File::open(&path).unwrap_or_else(|e| die(format!("{}: {e}", path.display())));
    let mut by_county: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.unwrap_or_else(|e| die(format!("{}: {e}", path.display())));
        if n == 0 {
            continue;
        }
        // code,"name",streetCode,provinceCode,cityCode,areaCode — names hold no commas.
        let cols: Vec<&str> = line.split(',').collect();
        if let (Some(code), Some(area)) = (cols.first(), cols.last())
            && code.len() == 12
            && area.len() == 6
        {
            by_county
                .entry(area.trim().to_string())
                .or_default()
                .push(code.trim().to_string());
        }
    }
    if by_county.is_empty() {
        die(format!("no villages in {}", path.display()));
    }
    Regions {
        counties: by_county.into_iter().collect(),
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀", "英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "兰", "霞", "平", "刚", "桂", "华", "建", "国", "玉", "红", "文", "辉", "鹏",
    "飞", "波", "宁", "斌", "萍", "琴", "云", "燕", "春", "海", "林", "晨", "阳", "佳", "欣", "宇",
];

/// Generates row `i` of the roster, a pure function of `i` and the seed.
struct Roster {
    regions: Regions,
    days: u64,
    space: u128,
    mult: u128,
    offset: u128,
    seed: u64,
}

struct Person {
    id: String,
    name: String,
    phone: String,
    village: String,
    county: String,
}

impl Roster {
    fn new(regions: Regions, seed: u64) -> Roster {
        let days = (days_from_civil(2019, 12, 31) - days_from_civil(1940, 1, 1) + 1) as u64;
        // (county, birth day, 3-digit sequence): every combination is a distinct ID number.
        let space = regions.counties.len() as u128 * u128::from(days) * 1000;
        let mut mult: u128 = 2_654_435_761;
        while gcd(mult, space) != 1 {
            mult += 2;
        }
        Roster {
            regions,
            days,
            space,
            mult,
            offset: u128::from(splitmix(seed)) % space,
            seed,
        }
    }

    fn person(&self, i: u64) -> Person {
        // j = (i * mult + offset) mod space is a bijection: distinct rows, distinct numbers.
        let j = (u128::from(i) * self.mult + self.offset) % self.space;
        let per_county = u128::from(self.days) * 1000;
        let (county_idx, rest) = ((j / per_county) as usize, (j % per_county) as u64);
        let (day, seq) = (rest / 1000, rest % 1000);
        let (county, villages) = &self.regions.counties[county_idx];
        let h = splitmix(i ^ self.seed.rotate_left(17));
        let village = &villages[(h % villages.len() as u64) as usize];
        let (y, m, d) = civil_from_days(days_from_civil(1940, 1, 1) + day as i64);
        let body = format!("{county}{y:04}{m:02}{d:02}{seq:03}");
        let id = match check_char(&body) {
            Some(c) => format!("{body}{c}"),
            None => die(format!("bad ID body {body}")),
        };
        let g = h >> 8;
        let mut name = SURNAMES[(g % SURNAMES.len() as u64) as usize].to_string();
        name.push_str(GIVEN[((g >> 8) % GIVEN.len() as u64) as usize]);
        if !(g >> 16).is_multiple_of(3) {
            name.push_str(GIVEN[((g >> 20) % GIVEN.len() as u64) as usize]);
        }
        let prefix = ["13", "15", "17", "18", "19"][((g >> 28) % 5) as usize];
        let phone = format!("{prefix}{:09}", (g >> 32) % 1_000_000_000);
        Person {
            id,
            name,
            phone,
            village: village.clone(),
            county: county.clone(),
        }
    }

    /// Write rows `from..to` as a roster CSV.
    fn write(&self, path: &Path, from: u64, to: u64) {
        let f =
            std::fs::File::create(path).unwrap_or_else(|e| die(format!("{}: {e}", path.display())));
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut ok = writeln!(w, "身份证号,姓名,联系电话,区划代码").is_ok();
        for i in from..to {
            let p = self.person(i);
            ok &= writeln!(w, "{},{},{},{}", p.id, p.name, p.phone, p.village).is_ok();
        }
        if !ok || w.flush().is_err() {
            die(format!("writing {}", path.display()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running and measuring a child process

struct Measured {
    secs: f64,
    peak_kb: u64,
    stdout: String,
}

/// Run a command under `/usr/bin/time -v` (GNU time reports the child's `wait4` rusage):
/// wall time measured here, peak RSS from the kernel. Exits on failure.
fn measure(label: &str, work: &Path, cmd: &[&str]) -> Measured {
    let tag: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let time_file = work.join(format!("{tag}.time"));
    eprintln!("==> {label}: {}", cmd.join(" "));
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg("-o")
        .arg(&time_file)
        .args(cmd)
        .env("BACKSTOP_LOG", "warn")
        .output()
        .unwrap_or_else(|e| {
            die(format!(
                "{label}: /usr/bin/time: {e} (apt-get install time)"
            ))
        });
    let secs = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        die(format!("{label} failed: {}", out.status));
    }
    let time = std::fs::read_to_string(&time_file).unwrap_or_default();
    let peak_kb = time
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes):")
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    for l in stdout.lines() {
        eprintln!("    {l}");
    }
    eprintln!(
        "    {secs:.2} s, peak RSS {:.1} MB",
        peak_kb as f64 / 1024.0
    );
    Measured {
        secs,
        peak_kb,
        stdout,
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| die(format!("runtime: {e}")))
}

async fn scalar_i64(url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url)
        .await
        .unwrap_or_else(|e| die(format!("connect {}: {e}", backstop_store::redact_url(url))));
    let v: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut c)
        .await
        .unwrap_or_else(|e| die(format!("{sql}: {e}")));
    let _ = c.close().await;
    v
}

/// Fresh PostgreSQL databases from an administrator URL; returns their URLs.
async fn fresh_pg(admin: &str, names: &[&str]) -> Vec<String> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(admin)
        .await
        .unwrap_or_else(|e| die(format!("connect: {e}")));
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or_else(|| admin.to_string());
    let mut out = Vec::new();
    for n in names {
        for sql in [
            format!("DROP DATABASE IF EXISTS {n}"),
            format!("CREATE DATABASE {n}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| die(format!("{n}: {e}")));
        }
        out.push(format!("{base}/{n}"));
    }
    let _ = c.close().await;
    out
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

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into()
}

async fn make_user(state: &backstop_app::AppState, name: &str, region: &str) {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(name)
        .fetch_optional(state.db.pool())
        .await
        .unwrap_or_else(|e| die(e));
    let id = match exists {
        Some(id) => id,
        None => {
            accounts::create_user(
                state,
                &Actor::operator(),
                &accounts::NewUser {
                    username: name.into(),
                    password: PASSWORD.into(),
                    roles: vec!["official".into()],
                    region_code: region.into(),
                    org_id: None,
                    display_name: String::new(),
                },
            )
            .await
            .unwrap_or_else(|e| die(format!("user {name}: {e}")))
            .id
        }
    };
    let mut w = state.db.begin_write().await.unwrap_or_else(|e| die(e));
    sqlx::query(
        "UPDATE users SET must_change_password = 0, totp_secret = $1, totp_enabled = 1 WHERE id = $2",
    )
    .bind(state.keys.encrypt(TOTP_SECRET))
        .bind(id)
        .execute(w.conn())
        .await
        .unwrap_or_else(|e| die(e));
    w.commit().await.unwrap_or_else(|e| die(e));
}

fn login(agent: &ureq::Agent, base: &str, user: &str) -> String {
    let r = agent
        .post(&format!("{base}/api/v1/auth/login"))
        .send_json(json!({"username": user, "password": PASSWORD, "totp": totp_now()}));
    match r {
        Ok(mut r) => r
            .body_mut()
            .read_json::<Value>()
            .ok()
            .and_then(|v| v["token"].as_str().map(str::to_string)),
        Err(_) => None,
    }
    .unwrap_or_else(|| die(format!("login {user} failed")))
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
    let p50 = percentile(&mut lat, 0.50);
    let p99 = percentile(&mut lat, 0.99);
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| die(format!("bind: {e}")));
        let addr = listener.local_addr().unwrap_or_else(|e| die(e));
        let app = backstop_app::router(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        (state, addr)
    });
    let base_url = format!("http://{addr}");
    let ag = agent();
    let nation = login(&ag, &base_url, "bench.nation");
    let county = login(&ag, &base_url, "bench.county");
    let probe_county = roster.person(0).county;
    let pick = |k: usize, salt: u64| splitmix(k as u64 ^ salt) % target;
    let auth = |t: &str| format!("Bearer {t}");
    let mut lines = Vec::new();

    // Exact ID: numbers on record (found) and valid numbers not on record (404).
    let (lat, ok) = timed(a.lookups, |k| {
        let p = roster.person(pick(k, 0xA1));
        ag.post(&format!("{base_url}/api/v1/persons/search"))
            .header("Authorization", &auth(&nation))
            .send_json(json!({"id_number": p.id}))
            .map(|r| r.status().as_u16() == 200)
            .unwrap_or(false)
    });
    lines.push(report_latency(
        "exact ID lookup (national official, on record)",
        lat,
        ok,
    ));
    let (lat, ok) = timed(a.lookups / 4, |k| {
        // Same county and date space, sequence numbers beyond the roster: not on record.
        let p = roster.person(target + pick(k, 0xA2));
        ag.post(&format!("{base_url}/api/v1/persons/search"))
            .header("Authorization", &auth(&nation))
            .send_json(json!({"id_number": p.id}))
            .map(|r| r.status().as_u16() == 404)
            .unwrap_or(false)
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
    if !a.bin.exists() {
        die(format!(
            "no backstop binary at {} (cargo build --release -p backstop, or --bin)",
            a.bin.display()
        ));
    }
    let tmp = tempfile::tempdir_in(std::env::temp_dir()).unwrap_or_else(|e| die(e));
    let work = match &a.work {
        Some(w) => {
            std::fs::create_dir_all(w).unwrap_or_else(|e| die(format!("{}: {e}", w.display())));
            w.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    let t = Instant::now();
    let roster = Roster::new(load_regions(&a.data), a.seed);
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

/// The bench accounts' TOTP secret (every account gives a second factor, issue 13).
const TOTP_SECRET: &[u8; 20] = b"bench-totp-secret-20";

/// The current TOTP code of the bench accounts.
fn totp_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    backstop_app::kernel::auth::totp_code(TOTP_SECRET, now).unwrap_or_default()
}
