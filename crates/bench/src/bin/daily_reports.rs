//! Daily-report burst benchmark (issue 3): load the real village table, then every village
//! submits `village_daily` for one day over HTTP from many concurrent clients, while a reader
//! polls the national and a provincial summary. The rate is compared with the same clients
//! against a no-op endpoint (`/healthz`) of the same server in the same run.
//!
//! ```sh
//! cargo run --release -p backstop-bench --bin daily_reports -- [--database-url URL] \
//!     [--data ../shared/data/regions] [--clients 32] [--limit N [--spread]] [--noop 20000] \
//!     [--history 1] [--write-lanes N]
//! ```
//! `--limit N` takes the first N villages by code (all in the first provinces); with `--spread`
//! it takes N villages evenly spaced over the whole national list (about every k-th), so every
//! province reports in proportion to its villages (what a distributed database needs to see).
//! Last line: `daily-reports: <N> submissions in <S> s = <R>/s, p99 <P> ms, noop-ratio <Q>,
//! summary p99 <M> ms`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backstop_app::Config;
use backstop_app::kernel::actor::Actor;
use backstop_bench::{agent, login, percentile, ready_official, serve};
use serde_json::json;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(60);

struct Args {
    database_url: Option<String>,
    data: PathBuf,
    clients: usize,
    limit: Option<usize>,
    /// `--limit` picks villages evenly over the national list instead of the first N.
    spread: bool,
    noop: usize,
    pg_group_commit: bool,
    /// `--write-lanes` (0 = the engine's default).
    write_lanes: usize,
    /// Days of earlier reports already on file (a province's ordinary morning, statistics
    /// gathered); 0 = the first morning of a fresh database.
    history: u32,
}

fn args() -> Args {
    let mut a = Args {
        database_url: None,
        data: PathBuf::from("../shared/data/regions"),
        clients: 32,
        limit: None,
        spread: false,
        noop: 20_000,
        pg_group_commit: true,
        write_lanes: 0,
        history: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--spread" {
            a.spread = true;
            continue;
        }
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--database-url" => a.database_url = Some(v),
            "--data" => a.data = PathBuf::from(v),
            "--clients" => a.clients = v.parse().unwrap_or(32),
            "--limit" => a.limit = v.parse().ok(),
            "--noop" => a.noop = v.parse().unwrap_or(20_000),
            "--pg-group-commit" => a.pg_group_commit = v != "off" && v != "false",
            "--history" => a.history = v.parse().unwrap_or(1),
            "--write-lanes" => a.write_lanes = v.parse().unwrap_or(0),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    a
}

/// Run `clients` threads over `n` jobs (the shared [`backstop_bench::burst`]); the latencies
/// of the jobs that succeeded and at most five error texts per client.
fn burst<F>(clients: usize, n: usize, job: F) -> (Duration, Vec<u32>, Vec<String>)
where
    F: Fn(&ureq::Agent, usize) -> Result<(), String> + Send + Sync + 'static,
{
    let b = backstop_bench::burst(clients, n, TIMEOUT, job);
    let mut lat = Vec::with_capacity(b.results.len());
    let mut errs = Vec::new();
    for (ms, r) in b.results {
        match r {
            Ok(()) => lat.push(ms),
            Err(e) if errs.len() < 5 * clients.max(1) => errs.push(e),
            Err(_) => {}
        }
    }
    (b.wall, lat, errs)
}

/// `n` of `all` evenly spaced over the whole list (the `i·len/n`-th for i in 0..n: every k-th
/// when `n` divides the length), in their order; all of them if `n` is not smaller.
fn spread(all: Vec<String>, n: usize) -> Vec<String> {
    let len = all.len();
    if n >= len {
        return all;
    }
    let mut picks = (0..n).map(|i| i * len / n).peekable();
    all.into_iter()
        .enumerate()
        .filter_map(|(j, v)| {
            if picks.peek() == Some(&j) {
                picks.next();
                Some(v)
            } else {
                None
            }
        })
        .collect()
}

/// One village's report of `period` per job, as a phone sends it (with its Idempotency-Key).
fn submit(
    base: &str,
    token: &str,
    villages: &Arc<Vec<String>>,
    period: &str,
    accepted: &Arc<AtomicUsize>,
) -> impl Fn(&ureq::Agent, usize) -> Result<(), String> + Send + Sync + 'static {
    let url = format!("{base}/api/v1/reports");
    let (vs, tok, day) = (villages.clone(), token.to_string(), period.to_string());
    let accepted = accepted.clone();
    move |agent, i| {
        let v = &vs[i];
        let body = json!({"template": "village_daily", "unit": v, "period": day, "values": {
            "households_screened": 40 + (i % 60), "people_screened": 120 + (i % 200), "close_contacts": i % 3,
            "home_observation": i % 5, "released": i % 2, "fever_referred": i % 2, "entrance_registrations": 30,
            "volunteers_on_duty": 4}});
        let mut r = agent
            .post(&url)
            .header("Authorization", &format!("Bearer {tok}"))
            .header("Idempotency-Key", &format!("bench-{v}-{day}"))
            .send_json(body)
            .map_err(|e| e.to_string())?;
        if r.status().as_u16() == 201 {
            accepted.fetch_add(1, Ordering::Relaxed);
            Ok(())
        } else {
            // The answer's body says why (`{code, message, fields}`).
            let text = r.body_mut().read_to_string().unwrap_or_default();
            Err(format!("village {v}: status {}: {text}", r.status()))
        }
    }
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let url = a
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    println!("database: {}", backstop_store::redact_url(&url));
    let (state, villages, addr, today) = rt.block_on(async {
        let t = Instant::now();
        let state = backstop_app::open(
            &url,
            &dir.path().join("keys/master.key"),
            Arc::new(backstop_core::clock::SystemClock),
            Config {
                pg_group_commit: a.pg_group_commit,
                write_lanes: a.write_lanes,
                ..Config::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("open: {e}"));
        backstop_app::regions::import::import_dir(&state, &Actor::operator(), &a.data, &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("import regions: {}", e.message));
        println!("regions imported in {:.1} s", t.elapsed().as_secs_f64());
        ready_official(&state, "bench.nation", "0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let villages: Vec<String> =
            sqlx::query_scalar("SELECT code FROM regions WHERE level = 'village' ORDER BY code")
                .fetch_all(state.db.pool())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        let addr = serve(&state).await.unwrap_or_else(|e| panic!("serve: {e}"));
        let today = backstop_core::clock::beijing_date(backstop_core::clock::Clock::now(
            &backstop_core::clock::SystemClock,
        ));
        (state, villages, addr, today)
    });
    let base = format!("http://{addr}");
    let villages: Arc<Vec<String>> = Arc::new(match a.limit {
        Some(n) if a.spread => spread(villages, n),
        Some(n) => villages.into_iter().take(n).collect(),
        None => villages,
    });
    let n = villages.len();
    let provinces: std::collections::BTreeSet<&str> =
        villages.iter().filter_map(|v| v.get(..2)).collect();
    println!("villages: {n} in {} province(s)", provinces.len());
    let token =
        login(&agent(TIMEOUT), &base, "bench.nation").unwrap_or_else(|| panic!("login failed"));

    let day = |back: i64| {
        (today - chrono::Duration::days(back))
            .format("%Y-%m-%d")
            .to_string()
    };
    // 0. Earlier mornings, through the same path, then the statistics autovacuum would have
    // gathered overnight: a province's ordinary morning. Without them PostgreSQL plans the
    // burst's look-ups on tables it believes empty and keeps those plans until autovacuum
    // next analyses them (`--history 0` measures that first morning; ADR 0016).
    if a.history > 0 {
        let t = Instant::now();
        for back in (1..=i64::from(a.history)).rev() {
            let (_, ok, errs) = burst(
                a.clients,
                n,
                submit(&base, &token, &villages, &day(back), &Arc::default()),
            );
            if ok.len() != n {
                panic!(
                    "history day -{back}: {} of {n} accepted: {:?}",
                    ok.len(),
                    errs.first()
                );
            }
        }
        rt.block_on(sqlx::query("ANALYZE").execute(state.db.pool()))
            .unwrap_or_else(|e| panic!("analyze: {e}"));
        println!(
            "history: {} earlier day(s) of {n} reports submitted and analysed in {:.1} s",
            a.history,
            t.elapsed().as_secs_f64()
        );
    }

    // 1. The same clients against a no-op endpoint.
    let noop_url = format!("{base}/healthz");
    let (noop_time, _, noop_errs) = burst(a.clients, a.noop, move |agent, _| {
        let r = agent.get(&noop_url).call().map_err(|e| e.to_string())?;
        if r.status().as_u16() == 200 {
            Ok(())
        } else {
            Err(format!("{}", r.status()))
        }
    });
    let noop_rate = a.noop as f64 / noop_time.as_secs_f64();
    println!(
        "noop: {} requests in {:.1} s = {:.0}/s ({} errors)",
        a.noop,
        noop_time.as_secs_f64(),
        noop_rate,
        noop_errs.len()
    );

    // 2. The burst, with a reader polling summaries.
    let done = Arc::new(AtomicBool::new(false));
    let summary_lat = Arc::new(Mutex::new(Vec::<u32>::new()));
    let reader = {
        let (done, summary_lat, base, token, today) = (
            done.clone(),
            summary_lat.clone(),
            base.clone(),
            token.clone(),
            day(0),
        );
        std::thread::spawn(move || {
            let agent = agent(TIMEOUT);
            let mut i = 0u64;
            while !done.load(Ordering::Relaxed) {
                let region = if i.is_multiple_of(2) { "0" } else { "44" };
                i += 1;
                let t = Instant::now();
                let ok = agent
                    .get(&format!("{base}/api/v1/reports/summary?template=village_daily&period={today}&region={region}"))
                    .header("Authorization", &format!("Bearer {token}"))
                    .call()
                    .map(|r| r.status().as_u16() == 200)
                    .unwrap_or(false);
                if ok && let Ok(mut l) = summary_lat.lock() {
                    l.push(t.elapsed().as_millis().min(u32::MAX as u128) as u32);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let accepted = Arc::new(AtomicUsize::new(0));
    let progress = {
        let (done, accepted) = (done.clone(), accepted.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(1));
                if start.elapsed().as_secs().is_multiple_of(15) {
                    let c = accepted.load(Ordering::Relaxed);
                    eprintln!(
                        "  … {:.0} s, {c} reports accepted so far",
                        start.elapsed().as_secs_f64()
                    );
                }
            }
        })
    };
    let (time, mut lat, errs) = burst(
        a.clients,
        n,
        submit(&base, &token, &villages, &day(0), &accepted),
    );
    done.store(true, Ordering::Relaxed);
    let _ = reader.join();
    let _ = progress.join();
    // The first five failures (at most five per client thread are kept), with their bodies.
    for e in errs.iter().take(5) {
        eprintln!("error: {e}");
    }
    // Correctness: the national summary counts every accepted submission. Summed: since
    // migration 0064 the nation's rollup is one row per province (one row before it).
    let received = rt.block_on(async {
        let r: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(received), 0) AS BIGINT) FROM report_rollup_counts WHERE template_key = 'village_daily' AND period = $1 AND code = '0'",
        )
        .bind(day(0))
        .fetch_optional(state.db.pool())
        .await
        .unwrap_or_else(|e| {
            eprintln!("error: national rollup: {e}");
            None
        });
        r.unwrap_or(0)
    });
    let ok = lat.len();
    let rate = ok as f64 / time.as_secs_f64();
    let p99 = percentile(&mut lat, 0.99, u32::cmp);
    let p50 = percentile(&mut lat, 0.50, u32::cmp);
    let mut sl = summary_lat.lock().map(|l| l.clone()).unwrap_or_default();
    let s99 = percentile(&mut sl, 0.99, u32::cmp);
    let s50 = percentile(&mut sl, 0.50, u32::cmp);
    println!(
        "accepted {ok} of {n} (errors {}), national rollup received {received}; p50 {p50} ms; summary polls {} (p50 {s50} ms)",
        n - ok,
        sl.len()
    );
    println!(
        "daily-reports: {ok} submissions in {:.1} s = {:.0}/s, p99 {p99} ms, noop-ratio {:.3}, summary p99 {s99} ms",
        time.as_secs_f64(),
        rate,
        rate / noop_rate
    );
    rt.block_on(async { state.db.close().await });
}
