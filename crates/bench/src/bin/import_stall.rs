//! Import-stall benchmark: other users' saves while a large roster import runs through the
//! service. Does a county's big import stop its colleagues from working?
//!
//! ```sh
//! cargo build --release -p backstop-bench
//! target/release/import_stall [--rows 1000000] [--region 420111] [--baseline-secs 20] \
//!     [--pause-ms 20] [--save-timeout 300] [--data ../shared/data/regions] [--work DIR] \
//!     [--seed 20200124] [--chunk-ms 0] [--database-url postgres://ADMIN@HOST/postgres]
//! ```
//!
//! One database: SQLite in a fresh work directory (a temporary one unless `--work`), or with
//! `--database-url` (an administrator URL) a fresh PostgreSQL database `bench_import_stall`.
//! The regions are imported (not timed), the service is opened in this process and served over
//! HTTP on 127.0.0.1, and two officials of `--region` (a county, 6 digits, or a province, 2
//! digits) are made: A imports, B saves.
//!
//! The roster (`身份证号,姓名,联系电话,区划代码`, rows `0..rows` of
//! `backstop_bench::roster::Roster` over the villages of `--region`, so every row is in A's
//! scope) is written before anything is measured. A save is what a community worker does all
//! day: `POST /api/v1/persons` with a new person (a valid GB 11643 number of the same
//! generator at an index past the roster's, so never one of the roster's), a village of the
//! region, a phone, and an `Idempotency-Key`; B makes them one at a time, back to back, with a
//! `--pause-ms` pause between them, each timed with its status (0: no answer within
//! `--save-timeout`).
//!
//! 1. Baseline: B saves alone for `--baseline-secs`.
//! 2. A uploads the roster (`POST /api/v1/persons/imports`, multipart, all or nothing), which
//!    starts the background job (answered 202), and polls `GET /api/v1/persons/imports/{id}`
//!    every second until it is no longer `running`; B keeps saving all along. The job's end is
//!    dated finely by reading its row's status every 50 ms (written when the import's last
//!    rows are committed). A save belongs to the import when it started between
//!    the upload's request and that end (the upload itself is short and counted in).
//!
//! Checked: the job is `done`, committed, with `imported` = the rows and nothing rejected or
//! merged; the persons on record = the rows + B's saves answered 201 (a save that timed out
//! may or may not have been written; the count must lie in between).
//! Printed: the import's rows/s over the job's time (from the 202 to the commit of its last
//! chunk, as B's client sees it), the saves' count, p50/p99/max and statuses of both
//! phases, and p99 during ÷ p99 baseline. Last line:
//! `import-stall: <N> rows in <S> s, saves during import p99 <P> ms (baseline <B> ms, <Q>x), <E> errors`
//! (`<E>`: saves during the import not answered 2xx, timeouts included).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use backstop_app::Config;
use backstop_app::kernel::actor::Actor;
use backstop_bench::roster::{Roster, load_regions};
use backstop_bench::run::{fresh_pg, rt, scalar_i64};
use backstop_bench::{agent, die, login, number, percentile, ready_official, serve};
use serde_json::{Value, json};

/// How long the upload and a status poll may take.
const TIMEOUT: Duration = Duration::from_secs(300);

struct Args {
    rows: u64,
    region: String,
    baseline_secs: u64,
    pause_ms: u64,
    save_timeout: u64,
    data: PathBuf,
    work: Option<PathBuf>,
    database_url: Option<String>,
    seed: u64,
    /// The service's `import_chunk_ms` (0 = its default).
    chunk_ms: u64,
}

fn args() -> Args {
    let mut a = Args {
        rows: 1_000_000,
        region: "420111".into(),
        baseline_secs: 20,
        pause_ms: 20,
        save_timeout: 300,
        data: PathBuf::from("../shared/data/regions"),
        work: None,
        database_url: None,
        seed: 20_200_124,
        chunk_ms: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--rows" => a.rows = number(&k, &v),
            "--region" => a.region = v,
            "--baseline-secs" => a.baseline_secs = number(&k, &v),
            "--pause-ms" => a.pause_ms = number(&k, &v),
            "--save-timeout" => a.save_timeout = number(&k, &v),
            "--data" => a.data = PathBuf::from(v),
            "--work" => a.work = Some(PathBuf::from(v)),
            "--database-url" => a.database_url = Some(v),
            "--seed" => a.seed = number(&k, &v),
            "--chunk-ms" => a.chunk_ms = number(&k, &v),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    if !(a.region.len() == 2 || a.region.len() == 6)
        || !a.region.bytes().all(|b| b.is_ascii_digit())
    {
        die("--region: a county (6 digits, e.g. 420111) or a province (2 digits, e.g. 42)");
    }
    if a.rows == 0 {
        die("--rows: at least 1");
    }
    a
}

/// One save by B: when it started, how long it took (ms), its status (0: no answer).
struct Save {
    start: Instant,
    ms: f64,
    status: u16,
}

/// B's loop: saves one at a time until `stop`, person `first + k` of the roster's generator
/// for the k-th save.
fn saver(
    base: String,
    token: String,
    roster: Arc<Roster>,
    first: u64,
    pause: Duration,
    timeout: Duration,
    stop: Arc<AtomicBool>,
) -> Vec<Save> {
    let ag = agent(timeout);
    let run = std::process::id();
    let mut out = Vec::new();
    let mut k = 0u64;
    while !stop.load(Ordering::Acquire) {
        let p = roster.person(first + k);
        let body = json!({
            "id_number": p.id,
            "name": p.name,
            "region_code": p.village,
            "phone": p.phone,
        });
        let start = Instant::now();
        let status = ag
            .post(&format!("{base}/api/v1/persons"))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Idempotency-Key", &format!("bench-save-{run}-{k:08}"))
            .send_json(body)
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        out.push(Save {
            start,
            ms: start.elapsed().as_secs_f64() * 1000.0,
            status,
        });
        k += 1;
        std::thread::sleep(pause);
    }
    out
}

/// Latency and outcome of one phase's saves.
struct Phase {
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
    /// Saves not answered 2xx (timeouts included).
    errors: usize,
    line: String,
}

fn phase(what: &str, saves: &[&Save], secs: f64) -> Phase {
    let mut lat: Vec<f64> = saves.iter().map(|s| s.ms).collect();
    let n = lat.len();
    let p50 = percentile(&mut lat, 0.50, f64::total_cmp);
    let p99 = percentile(&mut lat, 0.99, f64::total_cmp);
    let max = lat.last().copied().unwrap_or(0.0);
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for s in saves {
        *statuses.entry(s.status).or_default() += 1;
    }
    let errors = saves
        .iter()
        .filter(|s| !(200..300).contains(&s.status))
        .count();
    let listed: Vec<String> = statuses
        .iter()
        .map(|(s, c)| match s {
            0 => format!("{c} × timeout/no answer"),
            s => format!("{c} × {s}"),
        })
        .collect();
    let n503 = statuses.get(&503).copied().unwrap_or(0);
    let line = format!(
        "saves {what} ({secs:.1} s, {:.1}/s): n {n}, p50 {p50:.1} ms, p99 {p99:.1} ms, \
         max {max:.1} ms; non-2xx {errors} (503: {n503}); statuses: {}",
        n as f64 / secs.max(1e-9),
        listed.join(", ")
    );
    Phase {
        n,
        p50,
        p99,
        max,
        errors,
        line,
    }
}

/// A multipart body with the roster as its `file` field; its content type.
fn multipart(file_name: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("----backstop-bench-{:016x}", std::process::id());
    let mut body = Vec::with_capacity(data.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn main() {
    let a = args();
    let tmp = tempfile::tempdir().unwrap_or_else(|e| die(format!("tempdir: {e}")));
    let work = match &a.work {
        Some(w) => {
            std::fs::create_dir_all(w).unwrap_or_else(|e| die(format!("{}: {e}", w.display())));
            if w.join("backstop.db").exists() || w.join("keys").exists() {
                die(format!(
                    "{} already holds a run; use an empty --work",
                    w.display()
                ));
            }
            w.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    let rt = rt();
    let (url, backend) = match &a.database_url {
        Some(admin) => (
            rt.block_on(fresh_pg(admin, &["bench_import_stall"]))
                .into_iter()
                .next()
                .unwrap_or_else(|| die("no database")),
            "postgres",
        ),
        None => (
            format!("sqlite://{}", work.join("backstop.db").display()),
            "sqlite",
        ),
    };
    println!(
        "backend {backend}: {} (work {})",
        backstop_store::redact_url(&url),
        work.display()
    );

    // The roster of the region, written (and read back for the upload) before any timing.
    let t = Instant::now();
    let roster = Arc::new(Roster::new(load_regions(&a.data, &a.region), a.seed));
    let counties = roster.regions.counties.len();
    if u128::from(a.rows) * 2 > roster.space {
        die(format!(
            "--rows {}: the region's ID space holds {} numbers; half of it at most",
            a.rows, roster.space
        ));
    }
    let file = work.join("roster.csv");
    roster.write(&file, 0, a.rows);
    let data = std::fs::read(&file).unwrap_or_else(|e| die(format!("{}: {e}", file.display())));
    let (ctype, body) = multipart("roster.csv", &data);
    drop(data);
    eprintln!(
        "roster: {} rows over {counties} {} of {}, {:.1} MB, written in {:.1} s",
        a.rows,
        if counties == 1 { "county" } else { "counties" },
        a.region,
        body.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let (state, addr) = rt.block_on(async {
        let state = backstop_app::open(
            &url,
            &backstop_app::key_path(&work),
            Arc::new(backstop_core::clock::SystemClock),
            Config {
                upload_dir: Some(work.join("uploads")),
                max_upload_bytes: Config::default()
                    .max_upload_bytes
                    .max(body.len() as u64 * 2),
                import_chunk_ms: a.chunk_ms,
                ..Config::default()
            },
        )
        .await
        .unwrap_or_else(|e| die(format!("open: {e}")));
        let t = Instant::now();
        backstop_app::regions::import::import_dir(&state, &Actor::operator(), &a.data, &mut |_| {})
            .await
            .unwrap_or_else(|e| die(format!("import regions: {}", e.message)));
        eprintln!(
            "regions imported in {:.1} s (not part of the result)",
            t.elapsed().as_secs_f64()
        );
        for name in ["bench.importer", "bench.saver"] {
            ready_official(&state, name, &a.region)
                .await
                .unwrap_or_else(|e| die(e));
        }
        let addr = serve(&state)
            .await
            .unwrap_or_else(|e| die(format!("serve: {e}")));
        (state, addr)
    });
    let base = format!("http://{addr}");
    let ag = agent(TIMEOUT);
    let token_a =
        login(&ag, &base, "bench.importer").unwrap_or_else(|| die("login bench.importer failed"));
    let token_b =
        login(&ag, &base, "bench.saver").unwrap_or_else(|| die("login bench.saver failed"));
    let persons_before = rt.block_on(scalar_i64(
        &url,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM persons",
    ));

    // B saves from now on; the baseline first.
    let stop = Arc::new(AtomicBool::new(false));
    let b = {
        let (base, roster, stop) = (base.clone(), roster.clone(), stop.clone());
        let (first, pause) = (a.rows, Duration::from_millis(a.pause_ms));
        let timeout = Duration::from_secs(a.save_timeout);
        std::thread::spawn(move || saver(base, token_b, roster, first, pause, timeout, stop))
    };
    eprintln!("baseline: B saves alone for {} s", a.baseline_secs);
    let t_base = Instant::now();
    std::thread::sleep(Duration::from_secs(a.baseline_secs));

    // A uploads the roster, which starts the job, and polls it every second.
    eprintln!("import: A uploads the roster; B keeps saving");
    let t_up = Instant::now();
    let answer = ag
        .post(&format!("{base}/api/v1/persons/imports"))
        .header("Authorization", &format!("Bearer {token_a}"))
        .header("Content-Type", &ctype)
        .send(&body[..]);
    let upload_secs = t_up.elapsed().as_secs_f64();
    drop(body);
    let id = match answer {
        Ok(mut r) if r.status().as_u16() == 202 => r
            .body_mut()
            .read_json::<Value>()
            .ok()
            .and_then(|v| v["id"].as_i64())
            .unwrap_or_else(|| die("upload: no job id in the answer")),
        Ok(mut r) => {
            let status = r.status();
            let text = r.body_mut().read_to_string().unwrap_or_default();
            stop.store(true, Ordering::Release);
            die(format!("upload: status {status}: {text}"))
        }
        Err(e) => {
            stop.store(true, Ordering::Release);
            die(format!("upload: {e}"))
        }
    };
    // The job was spawned just before the 202: its time runs from here to the commit of its
    // last rows, which writes the job row's final status. That row is read here every
    // 50 ms (a small read, not the API) to date the end finely; A's own polls go through the
    // API every second, as the page does.
    let t_accepted = Instant::now();
    eprintln!("    job {id} accepted after {upload_secs:.1} s (upload)");
    let get_job = || -> Value {
        let r = ag
            .get(&format!("{base}/api/v1/persons/imports/{id}"))
            .header("Authorization", &format!("Bearer {token_a}"))
            .call();
        match r {
            Ok(mut r) if r.status().as_u16() == 200 => r
                .body_mut()
                .read_json::<Value>()
                .unwrap_or_else(|e| die(format!("job {id}: {e}"))),
            Ok(r) => die(format!("job {id}: status {}", r.status())),
            Err(e) => die(format!("job {id}: {e}")),
        }
    };
    let running = || -> bool {
        rt.block_on(async {
            sqlx::query_scalar::<_, String>("SELECT status FROM person_import_jobs WHERE id = $1")
                .bind(id)
                .fetch_one(state.db.pool())
                .await
                .unwrap_or_else(|e| die(format!("job {id}: {e}")))
        }) == "running"
    };
    let (mut next_poll, mut polls) = (t_accepted + Duration::from_secs(1), 0u64);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if !running() {
            break;
        }
        if Instant::now() >= next_poll {
            next_poll += Duration::from_secs(1);
            polls += 1;
            let job = get_job();
            if job["status"] != "running" {
                break;
            }
            if polls.is_multiple_of(10) {
                eprintln!(
                    "    {:.0} s: {} rows read, {} imported",
                    t_accepted.elapsed().as_secs_f64(),
                    job["rows"],
                    job["imported"]
                );
            }
        }
    }
    let t_done = Instant::now();
    stop.store(true, Ordering::Release);
    let job_secs = t_done.duration_since(t_accepted).as_secs_f64();
    let saves = b
        .join()
        .unwrap_or_else(|_| die("the saver thread panicked"));
    let window = t_done.duration_since(t_up).as_secs_f64();
    let base_secs = t_up.duration_since(t_base).as_secs_f64();

    // The import's result, as A sees it.
    let job = get_job();
    let imported = job["imported"].as_i64().unwrap_or(-1);
    if job["status"] != "done"
        || job["committed"] != true
        || imported != a.rows as i64
        || job["rejected"] != 0
        || job["merged"] != 0
    {
        die(format!(
            "import job {id} did not import the {} rows: {job}",
            a.rows
        ));
    }

    // The persons on record: the roster's and B's (a timed-out save may have been written).
    let saved = saves.iter().filter(|s| s.status == 201).count() as i64;
    let unknown = saves.iter().filter(|s| s.status == 0).count() as i64;
    let persons = rt.block_on(scalar_i64(
        &url,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM persons",
    ));
    let extra = persons - persons_before - imported;
    if extra < saved || extra > saved + unknown {
        die(format!(
            "{persons} persons on record: {persons_before} before + {imported} imported + \
             {extra}, but B's saves answered 201 {saved} times ({unknown} unanswered)"
        ));
    }

    let before: Vec<&Save> = saves.iter().filter(|s| s.start < t_up).collect();
    let during: Vec<&Save> = saves
        .iter()
        .filter(|s| s.start >= t_up && s.start < t_done)
        .collect();
    let pb = phase("baseline", &before, base_secs);
    let pd = phase("during import", &during, window);
    let rate = a.rows as f64 / job_secs;
    println!(
        "import: {} rows, job {job_secs:.2} s (accepted → committed) = {rate:.0} rows/s; \
         upload {upload_secs:.2} s; A polled the job {polls} times",
        a.rows
    );
    println!("{}", pb.line);
    println!("{}", pd.line);
    let ratio = pd.p99 / pb.p99.max(1e-9);
    println!(
        "p99 during ÷ p99 baseline: {ratio:.1}x (p50 {:.1}x, max {:.1} ms vs {:.1} ms)",
        pd.p50 / pb.p50.max(1e-9),
        pd.max,
        pb.max
    );
    println!(
        "persons on record: {persons} = {persons_before} before + {imported} imported + {extra} \
         saved by B ({saved} answered 201, {unknown} unanswered; {} saves in all, {} after the \
         import ended)",
        saves.len(),
        saves.len() - pb.n - pd.n
    );
    if pb.errors > 0 {
        println!(
            "warning: {} baseline saves failed without an import running",
            pb.errors
        );
    }
    println!(
        "import-stall: {} rows in {job_secs:.1} s, saves during import p99 {:.1} ms (baseline \
         {:.1} ms, {ratio:.1}x), {} errors",
        a.rows, pd.p99, pb.p99, pd.errors
    );
    rt.block_on(async { state.db.close().await });
}
