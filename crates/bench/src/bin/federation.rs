//! Federation benchmark (issue 20): a county of `--villages` villages (real codes of
//! `--county`, default 420902 孝南区) runs its own deployment (SQLite) for `--days` days without
//! a network — every village reports every day and `--corrections` of them correct their report —
//! then reconnects to its province's deployment (SQLite, or PostgreSQL with `--database-url` an
//! administrator URL: a fresh database is made) and synchronises. Timed: the sync, from the
//! first batch to an empty outbox (`federation::child::sync_once` until nothing is pending, over
//! HTTP to the province served in this process). Checked: for every day, the province's summary
//! of the county (received, and the sums of two fields) equals the county's own and an
//! independent recount of the values the villages last sent.
//!
//! ```sh
//! cargo build --release -p backstop-bench --bin federation
//! target/release/federation [--county 420902] [--villages 300] [--days 7] [--corrections 30] \
//!     [--data ../shared/data/regions] [--database-url postgres://ADMIN@HOST/postgres]
//! ```
//! Last line: `federation: <N> events in <S> s, parent rollups exact`.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use backstop_app::federation::{self, NewNode, child};
use backstop_app::kernel::actor::Actor;
use backstop_app::reports::{self, SubmitInput};
use backstop_app::{AppState, Config};
use backstop_bench::die;
use backstop_bench::run::fresh_pg;
use backstop_core::clock::{Clock, ManualClock, SystemClock, beijing_date};
use backstop_core::region::RegionCode;
use serde_json::json;

struct Args {
    county: String,
    villages: usize,
    days: i64,
    corrections: usize,
    data: PathBuf,
    database_url: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        county: "420902".into(),
        villages: 300,
        days: 7,
        corrections: 30,
        data: PathBuf::from("../shared/data/regions"),
        database_url: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        let num = |v: &str| -> usize { backstop_bench::number(&k, v) };
        match k.as_str() {
            "--county" => a.county = v,
            "--villages" => a.villages = num(&v),
            "--days" => a.days = num(&v) as i64,
            "--corrections" => a.corrections = num(&v),
            "--data" => a.data = PathBuf::from(v),
            "--database-url" => a.database_url = Some(v),
            other => die(format!("unknown argument {other}")),
        }
    }
    if a.county.len() != 6 || !a.county.bytes().all(|b| b.is_ascii_digit()) {
        die("--county: a 6-digit county code");
    }
    a
}

/// The region tables with only the county's streets and villages (the first `n` villages).
fn county_tables(data: &Path, county: &str, n: usize, out: &Path) -> Vec<String> {
    std::fs::create_dir_all(out).unwrap_or_else(|e| die(e));
    for f in ["provinces.csv", "cities.csv", "areas.csv"] {
        std::fs::copy(data.join(f), out.join(f)).unwrap_or_else(|e| die(format!("{f}: {e}")));
    }
    let mut villages = Vec::new();
    // The county code's column counted from the end (a quoted name may hold a comma).
    for (f, from_end) in [("streets.csv", 3), ("villages.csv", 1)] {
        let src = std::fs::File::open(data.join(f)).unwrap_or_else(|e| die(format!("{f}: {e}")));
        let mut dst = std::fs::File::create(out.join(f)).unwrap_or_else(|e| die(e));
        let mut kept = 0;
        for (i, line) in std::io::BufReader::new(src).lines().enumerate() {
            let line = line.unwrap_or_else(|e| die(e));
            let cols: Vec<&str> = line.split(',').collect();
            let ours = cols
                .len()
                .checked_sub(from_end)
                .and_then(|i| cols.get(i))
                .is_some_and(|c| *c == county);
            if i == 0 || (ours && (f == "streets.csv" || kept < n)) {
                writeln!(dst, "{line}").unwrap_or_else(|e| die(e));
                if i > 0 && f == "villages.csv" {
                    kept += 1;
                    villages.push(cols[0].to_string());
                }
            }
        }
    }
    if villages.is_empty() {
        die(format!("no villages of {county} in {}", data.display()));
    }
    villages
}

async fn open(url: &str, dir: &Path, clock: Arc<dyn Clock>, regions: &Path) -> AppState {
    let state = backstop_app::open(url, &dir.join("keys/master.key"), clock, Config::default())
        .await
        .unwrap_or_else(|e| die(format!("open: {e}")));
    backstop_app::regions::import::import_dir(&state, &Actor::operator(), regions, &mut |_| {})
        .await
        .unwrap_or_else(|e| die(format!("regions: {}", e.message)));
    state
}

/// Serve on 127.0.0.1:`port` (0: any); the task is the deployment being up.
async fn serve_on(state: &AppState, port: u16) -> (u16, tokio::task::JoinHandle<()>) {
    let (addr, task) = backstop_bench::serve_on(state, port)
        .await
        .unwrap_or_else(|e| die(format!("serve: {e}")));
    (addr.port(), task)
}

/// (received, households screened, people screened) of the county on a day.
async fn figures(state: &AppState, county: &str, day: &str) -> (i64, i64, i64) {
    let op = Actor::operator();
    let code = RegionCode::parse(county).unwrap_or_else(|e| die(e));
    let scope = op.within(&code).unwrap_or_else(|e| die(e.message));
    let s = reports::summary(state, &scope, "village_daily", day)
        .await
        .unwrap_or_else(|e| die(format!("summary {day}: {}", e.message)));
    let n = |k: &str| s.sums.get(k).and_then(|v| v.as_i64()).unwrap_or(-1);
    (s.received, n("households_screened"), n("people_screened"))
}

fn values(n: i64) -> serde_json::Value {
    json!({"households_screened": n, "people_screened": n * 3, "close_contacts": n % 3,
        "home_observation": n % 5, "released": 0, "fever_referred": 0})
}

#[tokio::main]
async fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap_or_else(|e| die(e));
    let villages = county_tables(&a.data, &a.county, a.villages, &dir.path().join("regions"));
    let regions = dir.path().join("regions");
    println!(
        "county {}: {} villages, {} days offline, {} corrections a day",
        a.county,
        villages.len(),
        a.days,
        a.corrections
    );

    // The province (parent) and the county (child, its own clock from the first offline day).
    let parent_url = match &a.database_url {
        Some(admin) => fresh_pg(admin, &["bench_fed_parent"]).await.remove(0),
        None => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("parent.db").display()
        ),
    };
    std::fs::create_dir_all(dir.path().join("p")).unwrap_or_else(|e| die(e));
    std::fs::create_dir_all(dir.path().join("c")).unwrap_or_else(|e| die(e));
    let parent = open(
        &parent_url,
        &dir.path().join("p"),
        Arc::new(SystemClock),
        &regions,
    )
    .await;
    let today = beijing_date(SystemClock.now());
    let first = today - chrono::Duration::days(a.days - 1);
    let start = first
        .and_hms_opt(2, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_else(|| die("date"));
    let clock = Arc::new(ManualClock::new(start));
    let county_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("county.db").display()
    );
    let county = open(&county_url, &dir.path().join("c"), clock.clone(), &regions).await;
    let op = Actor::operator();
    let node = federation::issue(
        &parent,
        &op,
        &NewNode {
            region_code: a.county.clone(),
            name: "县民政局".into(),
        },
    )
    .await
    .unwrap_or_else(|e| die(e.message));
    let (port, up) = serve_on(&parent, 0).await;
    child::register(
        &county,
        &op,
        &format!("http://127.0.0.1:{port}"),
        &node.credential,
        None,
    )
    .await
    .unwrap_or_else(|e| die(e.message));
    // The network goes.
    up.abort();
    let _ = up.await;

    // A week at the county: every village reports every day; some correct.
    let t = Instant::now();
    let mut expect: HashMap<String, (i64, i64, i64)> = HashMap::new();
    let mut days = Vec::new();
    for d in 0..a.days {
        let day = (first + chrono::Duration::days(d))
            .format("%Y-%m-%d")
            .to_string();
        let mut last: HashMap<&str, i64> = HashMap::new();
        for (i, v) in villages.iter().enumerate() {
            let n = 10 + ((i as i64 * 7 + d * 13) % 40);
            submit(&county, v, &day, n).await;
            last.insert(v, n);
        }
        for v in villages.iter().take(a.corrections) {
            let n = last.get(v.as_str()).copied().unwrap_or(0) + 1;
            submit(&county, v, &day, n).await;
            last.insert(v, n);
        }
        let hh: i64 = last.values().sum();
        expect.insert(day.clone(), (last.len() as i64, hh, hh * 3));
        days.push(day);
        clock.advance(chrono::Duration::days(1));
    }
    let failed = child::sync_once(&county)
        .await
        .unwrap_or_else(|e| die(e.message));
    let queued = failed.pending;
    println!(
        "offline: {} reports and corrections queued in {:.1} s; a sync while offline: {}",
        queued,
        t.elapsed().as_secs_f64(),
        failed.error.unwrap_or_default()
    );

    // Back online: synchronise until nothing is pending.
    let (_, up) = serve_on(&parent, port).await;
    let t = Instant::now();
    let (mut sent, mut batches) = (0, 0);
    loop {
        let r = child::sync_once(&county)
            .await
            .unwrap_or_else(|e| die(e.message));
        if let Some(e) = r.error {
            die(format!("sync: {e}"));
        }
        sent += r.applied + r.duplicate;
        batches += r.batches;
        if r.rejected > 0 {
            die(format!("{} events rejected", r.rejected));
        }
        if r.pending == 0 {
            break;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "sync: {sent} events in {batches} batches, {secs:.1} s = {:.0}/s",
        sent as f64 / secs.max(1e-9)
    );

    // Exact: the province's summaries = the county's = an independent recount.
    let mut exact = true;
    for day in &days {
        let (p, c) = (
            figures(&parent, &a.county, day).await,
            figures(&county, &a.county, day).await,
        );
        let e = expect.get(day).copied().unwrap_or_default();
        if p != c || p != e {
            exact = false;
            println!("{day}: province {p:?}, county {c:?}, recount {e:?}");
        }
    }
    up.abort();
    println!(
        "federation: {sent} events in {secs:.1} s, parent rollups {}",
        if exact { "exact" } else { "NOT EXACT" }
    );
    if !exact || sent as i64 != queued {
        die(format!("sent {sent} of {queued} queued, exact {exact}"));
    }
}

async fn submit(state: &AppState, village: &str, day: &str, n: i64) {
    let input = SubmitInput {
        template: "village_daily".into(),
        unit: json!(village),
        period: day.to_string(),
        values: values(n),
        version: None,
    };
    reports::submit(state, &Actor::operator(), &input, None)
        .await
        .unwrap_or_else(|e| die(format!("submit {village} {day}: {}", e.message)));
}
