//! Citus benchmark of the daily-report burst (issue 22): the `daily_reports` burst with villages
//! spread over every province (`--limit N --spread`), first on a throwaway plain PostgreSQL, then
//! on a fresh Citus cluster of 1, 2 and 4 workers, all in one run on the same machine; after
//! each Citus burst it reads from the coordinator's metadata how the report tables' rows lie on
//! the shards and workers.
//!
//! ```sh
//! cargo build --release -p backstop-bench
//! flock /tmp/bench.lock target/release/citus_reports [--villages 40000] [--workers 1,2,4] \
//!     [--shards 32] [--base-port 9900] [--clients 32] [--history 1] [--noop 20000] \
//!     [--data ../shared/data/regions] [--daily-reports target/release/daily_reports] \
//!     [--pg-script scripts/pg-throwaway.sh] [--citus-script ../shared/tools/citus-cluster.sh]
//! ```
//!
//! `--placement URL` only prints the placement table of a running Citus coordinator and exits
//! (nothing is started or measured).
//!
//! Run from the workspace root as root (both scripts run the servers as the `postgres` user).
//! `--clients`, `--history`, `--noop`, `--data` and `--write-lanes` go to every `daily_reports` run
//! unchanged (its defaults when not given: 32 clients, one earlier day of history, 20,000 no-op
//! requests, one write lane).
//!
//! - PostgreSQL: `scripts/pg-throwaway.sh -- daily_reports --database-url …` (a fresh cluster,
//!   removed afterwards), with `BACKSTOP_TEST_PG_FSYNC=off`: the Citus nodes run with fsync,
//!   synchronous_commit and full_page_writes off, so the baseline does too, and both have
//!   shared_buffers 128MB and max_connections 300.
//! - Citus, per worker count W: `citus-cluster.sh start` with `CITUS_NODES=W+1` (a coordinator
//!   that holds no shards, W workers) on ports `--base-port`…`+W` in a fresh directory, the
//!   same burst against the coordinator (the service detects Citus and places its tables),
//!   then the placement read, then `destroy` — also when anything failed (a guard; Ctrl-C and
//!   SIGTERM are caught to the same end).
//! - Shards: `--shards 32` (`citus.shard_count`) by default, Citus's own default and what a
//!   deployment would use: shards are the unit Citus moves when workers are added, so 32 leave
//!   room to grow to many workers without splitting, and with 31 province values per
//!   distributed table fewer shards would only hash provinces into fewer, larger buckets. The
//!   test suite's 4 shards only make table creation and TRUNCATE faster.
//!
//! On 2 cores a cluster cannot be faster than one server (the coordinator, the workers, the
//! service and its clients share the cores); what this shows is the cost per request of the
//! extra hop (`ms/sub` = 1000 ÷ rate, machine time per submission, and its difference from
//! PostgreSQL's) and how evenly the rows spread: per table, rows per worker and the max/min
//! ratio over workers and over shards with rows (a table that is not distributed is reported as
//! such: it lives on the coordinator).
//!
//! Last line: `citus-reports: <N> submissions in <S> s = <R>/s, p99 <P> ms, vs postgres <Q>x`
//! for the 2-worker cluster (the deployment issue 22 describes; the first Citus run if 2 is not
//! in `--workers`), Q = its rate ÷ PostgreSQL's rate.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use backstop_bench::{die, number, sibling_bin};

/// The report tables whose placement is read after each Citus run.
const TABLES: &[&str] = &[
    "report_submissions",
    "report_rollup_counts",
    "report_rollup_sums",
];

struct Args {
    villages: usize,
    workers: Vec<usize>,
    shards: u32,
    base_port: u16,
    daily_reports: PathBuf,
    pg_script: PathBuf,
    citus_script: PathBuf,
    /// Only print the placement on this running coordinator.
    placement: Option<String>,
    /// Flags handed to every `daily_reports` run as they are.
    pass: Vec<String>,
}

fn args() -> Args {
    let mut a = Args {
        villages: 40_000,
        workers: vec![1, 2, 4],
        shards: 32,
        base_port: 9900,
        daily_reports: sibling_bin("daily_reports"),
        pg_script: PathBuf::from("scripts/pg-throwaway.sh"),
        citus_script: PathBuf::from("../shared/tools/citus-cluster.sh"),
        placement: None,
        pass: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--villages" => a.villages = number(&k, &v),
            "--workers" => {
                a.workers = v.split(',').map(|w| number(&k, w.trim())).collect();
            }
            "--shards" => a.shards = number(&k, &v),
            "--base-port" => a.base_port = number(&k, &v),
            "--daily-reports" => a.daily_reports = PathBuf::from(v),
            "--pg-script" => a.pg_script = PathBuf::from(v),
            "--citus-script" => a.citus_script = PathBuf::from(v),
            "--placement" => a.placement = Some(v),
            "--clients" | "--history" | "--noop" | "--data" | "--write-lanes" => {
                a.pass.extend([k, v])
            }
            other => die(format!("unknown argument {other}")),
        }
    }
    if a.placement.is_some() {
        return a;
    }
    if a.villages == 0 || a.workers.is_empty() || a.shards == 0 {
        die("--villages, --workers and --shards must not be empty or 0");
    }
    for (what, p) in [
        (
            "daily_reports binary (cargo build --release -p backstop-bench)",
            &a.daily_reports,
        ),
        ("PostgreSQL script", &a.pg_script),
        ("Citus script", &a.citus_script),
    ] {
        if !p.exists() {
            die(format!(
                "no {what} at {} (run from the workspace root)",
                p.display()
            ));
        }
    }
    a
}

/// What one `daily_reports` run printed.
#[derive(Clone, Default)]
struct Burst {
    villages: u64,
    accepted: u64,
    received: u64,
    secs: f64,
    rate: f64,
    p50: u64,
    p99: u64,
    noop_ratio: f64,
    summary_p99: u64,
}

/// The number right after the first `key` in `line` (`p99 140 ms` → 140; `= 645/s,` → 645).
fn field(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    let token = rest.split_whitespace().next()?;
    token
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()
}

/// The figures of a `daily_reports` run from its output: its last line
/// (`daily-reports: <N> submissions in <S> s = <R>/s, p99 <P> ms, noop-ratio <Q>, summary p99 <M> ms`)
/// and the lines before it that give the villages, the accepted count, the rollup and p50.
fn parse(lines: &[String]) -> Result<Burst, String> {
    let last = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("daily-reports:"))
        .ok_or("no `daily-reports:` line in its output")?;
    let f = |line: &str, key: &str| {
        field(line, key).ok_or_else(|| format!("no `{key}` figure in: {line}"))
    };
    let accepted_line = lines
        .iter()
        .find(|l| l.starts_with("accepted "))
        .ok_or("no `accepted` line in its output")?;
    Ok(Burst {
        villages: f(accepted_line, " of ")? as u64,
        accepted: f(last, "daily-reports:")? as u64,
        received: f(accepted_line, "received")? as u64,
        secs: f(last, " in ")?,
        rate: f(last, " = ")?,
        p50: f(accepted_line, "p50")? as u64,
        p99: f(last, "p99")? as u64,
        noop_ratio: f(last, "noop-ratio")?,
        summary_p99: f(last, "summary p99")? as u64,
    })
}

/// The child processes and clusters alive now, for the signal handler.
static LIVE_CHILD: Mutex<Option<u32>> = Mutex::new(None);
static LIVE_CLUSTERS: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

/// Run `cmd` (a `daily_reports` run, possibly inside a wrapper script), echoing its standard
/// output as `  [label] …` while it runs (standard error passes through); its figures.
fn run_burst(label: &str, mut cmd: Command) -> Result<Burst, String> {
    eprintln!("==> {label}: {cmd:?}");
    let mut child: Child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start: {e}"))?;
    if let Ok(mut c) = LIVE_CHILD.lock() {
        *c = Some(child.id());
    }
    let mut lines = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("  [{label}] {line}");
            lines.push(line);
        }
    }
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if let Ok(mut c) = LIVE_CHILD.lock() {
        *c = None;
    }
    if !status.success() {
        return Err(format!("daily_reports failed ({status})"));
    }
    parse(&lines)
}

/// A Citus cluster of this run, destroyed (servers stopped, directory removed) when dropped.
struct Cluster {
    script: PathBuf,
    dir: PathBuf,
    base_port: u16,
    nodes: usize,
    shards: u32,
    url: String,
}

impl Cluster {
    /// `citus-cluster.sh` with this cluster's settings and `action`.
    fn script(&self, action: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(&self.script)
            .arg(action)
            .env("CITUS_DIR", &self.dir)
            .env("CITUS_BASE_PORT", self.base_port.to_string())
            .env("CITUS_NODES", self.nodes.to_string())
            .env("CITUS_SHARD_COUNT", self.shards.to_string());
        c
    }

    /// Start a fresh cluster of a coordinator and `workers` workers.
    fn start(script: &Path, workers: usize, base_port: u16, shards: u32) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!(
            "backstop-citus-reports-{}-{workers}w",
            std::process::id()
        ));
        if dir.exists() {
            return Err(format!("{} exists already", dir.display()));
        }
        let mut c = Cluster {
            script: script.to_path_buf(),
            dir,
            base_port,
            nodes: workers + 1,
            shards,
            url: String::new(),
        };
        if let Ok(mut l) = LIVE_CLUSTERS.lock() {
            l.push((c.script.clone(), c.dir.clone()));
        }
        // The guard exists before the start: a half-started cluster is destroyed too.
        let out = c
            .script("start")
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("{}: {e}", c.script.display()))?;
        if !out.status.success() {
            return Err(format!("citus-cluster.sh start failed ({})", out.status));
        }
        c.url = String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .find(|l| l.starts_with("postgres://"))
            .ok_or("citus-cluster.sh start printed no URL")?
            .to_string();
        Ok(c)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        match self.script("destroy").stdout(Stdio::null()).status() {
            Ok(s) if s.success() => {}
            r => eprintln!(
                "bench: could not destroy the cluster in {} ({r:?}); remove it by hand: \
                 CITUS_DIR={} {} destroy",
                self.dir.display(),
                self.dir.display(),
                self.script.display()
            ),
        }
        if let Ok(mut l) = LIVE_CLUSTERS.lock() {
            l.retain(|(_, d)| d != &self.dir);
        }
    }
}

/// On Ctrl-C or SIGTERM: stop the running child (the PostgreSQL script cleans up after itself
/// on TERM), destroy the live clusters, exit 130.
fn on_signal_clean_up() {
    std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| die(format!("runtime: {e}")));
        rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = match signal(SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => die(format!("SIGTERM handler: {e}")),
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        });
        eprintln!("bench: interrupted; cleaning up");
        if let Some(pid) = LIVE_CHILD.lock().ok().and_then(|c| *c) {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            std::thread::sleep(std::time::Duration::from_secs(3));
        }
        let clusters = LIVE_CLUSTERS.lock().map(|l| l.clone()).unwrap_or_default();
        for (script, dir) in clusters {
            let _ = Command::new("bash")
                .arg(script)
                .arg("destroy")
                .env("CITUS_DIR", dir)
                .stdout(Stdio::null())
                .status();
        }
        std::process::exit(130);
    });
}

/// One shard of a distributed table: its worker (`host:port`), rows, distinct values of the
/// distribution column.
struct Shard {
    node: String,
    rows: i64,
    values: i64,
}

/// Where a table's rows lie on the cluster.
enum Placement {
    Distributed {
        column: String,
        shards: Vec<Shard>,
    },
    /// Not distributed: what it is (a sentence).
    Elsewhere(String),
}

/// Read from the coordinator at `url` how `table`'s rows lie on shards and workers.
async fn placement(url: &str, table: &str) -> Result<Placement, String> {
    use sqlx::{Connection, Row};
    let mut c = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let kind = sqlx::query(
        "SELECT citus_table_type, distribution_column FROM citus_tables WHERE table_name = to_regclass($1)",
    )
    .bind(table)
    .fetch_optional(&mut c)
    .await
    .map_err(|e| format!("citus_tables: {e}"))?;
    let (kind, column): (String, String) = match kind {
        Some(r) => (
            r.try_get(0).map_err(|e| e.to_string())?,
            r.try_get(1).map_err(|e| e.to_string())?,
        ),
        None => (String::new(), String::new()),
    };
    let p = match kind.as_str() {
        "distributed" => {
            let col = format!("\"{}\"", column.replace('"', "\"\""));
            let rows = sqlx::query(
                "SELECT s.nodename || ':' || s.nodeport, r.success, r.result \
                 FROM run_command_on_shards($1::regclass, $2) r JOIN citus_shards s USING (shardid) \
                 ORDER BY s.nodeport, r.shardid",
            )
            .bind(table)
            .bind(format!(
                "SELECT count(*) || ' ' || count(DISTINCT {col}) FROM %s"
            ))
            .fetch_all(&mut c)
            .await
            .map_err(|e| format!("run_command_on_shards({table}): {e}"))?;
            let mut shards = Vec::new();
            for r in rows {
                let node: String = r.try_get(0).map_err(|e| e.to_string())?;
                let ok: bool = r.try_get(1).map_err(|e| e.to_string())?;
                let result: String = r.try_get(2).map_err(|e| e.to_string())?;
                let mut n = result.split(' ').map(|x| x.parse::<i64>());
                match (ok, n.next(), n.next()) {
                    (true, Some(Ok(rows)), Some(Ok(values))) => {
                        shards.push(Shard { node, rows, values })
                    }
                    _ => return Err(format!("a shard of {table} on {node}: {result}")),
                }
            }
            Placement::Distributed { column, shards }
        }
        "reference" => Placement::Elsewhere("reference table (a copy on every node)".into()),
        _ => Placement::Elsewhere("not distributed (on the coordinator)".into()),
    };
    let _ = c.close().await;
    Ok(p)
}

/// `max / min` of `v` (None when empty or the least is 0).
fn ratio(v: impl Iterator<Item = i64>) -> Option<f64> {
    let v: Vec<i64> = v.collect();
    let (max, min) = (v.iter().max()?, v.iter().min()?);
    (*min > 0).then(|| *max as f64 / *min as f64)
}

/// One line of the placement table: per worker, rows (share) and shards with rows; the max/min
/// ratios over workers and over the shards that have rows.
fn placement_row(run: &str, table: &str, p: &Placement) -> String {
    let (column, shards) = match p {
        Placement::Distributed { column, shards } => (column, shards),
        Placement::Elsewhere(what) => return format!("| {run} | {table} | {what} | | | |"),
    };
    let total: i64 = shards.iter().map(|s| s.rows).sum();
    // worker → (shards, shards with rows, rows, distinct values)
    let mut per: BTreeMap<&str, (usize, usize, i64, i64)> = BTreeMap::new();
    for s in shards {
        let e = per.entry(&s.node).or_default();
        e.0 += 1;
        e.1 += usize::from(s.rows > 0);
        e.2 += s.rows;
        e.3 += s.values;
    }
    let workers = per
        .iter()
        .map(|(node, (n, full, rows, values))| {
            let port = node.rsplit(':').next().unwrap_or(node);
            format!(
                ":{port} {rows} ({:.0} %; {full}/{n} shards, {values} {column}s)",
                if total > 0 {
                    100.0 * *rows as f64 / total as f64
                } else {
                    0.0
                }
            )
        })
        .collect::<Vec<_>>()
        .join("<br>");
    let fmt = |r: Option<f64>| r.map_or("–".to_string(), |r| format!("{r:.2}"));
    let full = shards.iter().filter(|s| s.rows > 0).count();
    format!(
        "| {run} | {table} | by {column}, {} shards, {full} with rows | {workers} | {} | {} |",
        shards.len(),
        fmt(ratio(per.values().map(|w| w.2))),
        fmt(ratio(shards.iter().map(|s| s.rows).filter(|r| *r > 0))),
    )
}

/// The placement table's lines of every table of [`TABLES`] on the coordinator at `url`.
fn placement_rows(rt: &tokio::runtime::Runtime, run: &str, url: &str) -> Vec<String> {
    TABLES
        .iter()
        .map(|t| match rt.block_on(placement(url, t)) {
            Ok(p) => placement_row(run, t, &p),
            Err(e) => format!("| {run} | {t} | could not read: {e} | | | |"),
        })
        .collect()
}

/// The placement table's head.
fn placement_head() {
    println!(
        "| cluster | table | placement | rows per worker (share; shards with rows; distinct values) | workers max/min | shards max/min (with rows) |"
    );
    println!("|---|---|---|---|--:|--:|");
}

/// A finished run: its name, worker count (None: PostgreSQL), figures, placement lines.
struct Run {
    name: String,
    workers: Option<usize>,
    burst: Result<Burst, String>,
    placement: Vec<String>,
}

fn citus_run(a: &Args, rt: &tokio::runtime::Runtime, workers: usize) -> Run {
    let name = format!(
        "Citus, {workers} worker{}",
        if workers == 1 { "" } else { "s" }
    );
    let mut run = Run {
        name: name.clone(),
        workers: Some(workers),
        burst: Err("not run".into()),
        placement: Vec::new(),
    };
    eprintln!("==> {name}: starting the cluster ({} shards)", a.shards);
    let cluster = match Cluster::start(&a.citus_script, workers, a.base_port, a.shards) {
        Ok(c) => c,
        Err(e) => {
            run.burst = Err(e);
            return run;
        }
    };
    let mut cmd = Command::new(&a.daily_reports);
    cmd.arg("--database-url").arg(&cluster.url);
    cmd.args(["--limit", &a.villages.to_string(), "--spread"])
        .args(&a.pass);
    run.burst = run_burst(&name, cmd);
    if run.burst.is_ok() {
        run.placement = placement_rows(rt, &name, &cluster.url);
    }
    drop(cluster);
    run
}

fn main() {
    let a = args();
    let rt = backstop_bench::run::rt();
    if let Some(url) = &a.placement {
        placement_head();
        for l in placement_rows(&rt, &backstop_store::redact_url(url), url) {
            println!("{l}");
        }
        return;
    }
    on_signal_clean_up();
    let mut runs = Vec::new();

    // 1. Plain PostgreSQL, a throwaway cluster set up as the Citus nodes are.
    let mut cmd = Command::new("bash");
    cmd.arg(&a.pg_script)
        .args(["--", "bash", "-c"])
        .arg(r#"exec "$0" --database-url "$BACKSTOP_TEST_PG_URL" "$@""#)
        .arg(&a.daily_reports)
        .args(["--limit", &a.villages.to_string(), "--spread"])
        .args(&a.pass)
        .env("BACKSTOP_TEST_PG_FSYNC", "off");
    runs.push(Run {
        name: "PostgreSQL".into(),
        workers: None,
        burst: run_burst("PostgreSQL", cmd),
        placement: Vec::new(),
    });

    // 2. Citus with each number of workers, one cluster at a time.
    for &w in &a.workers {
        runs.push(citus_run(&a, &rt, w));
    }

    // 3. The tables.
    let pg = runs[0].burst.as_ref().ok().cloned();
    println!();
    println!(
        "Burst: {} villages spread over all provinces, Citus with {} shards (fsync off everywhere)",
        a.villages, a.shards
    );
    println!();
    println!(
        "| database | accepted | s | submissions/s | ms/sub | ms/sub over PostgreSQL | p50 ms | p99 ms | noop-ratio | summary p99 ms | vs PostgreSQL |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    let mut failed = Vec::new();
    for r in &runs {
        match &r.burst {
            Ok(b) => {
                let ms = 1000.0 / b.rate;
                let (over, vs) = match &pg {
                    Some(p) if r.workers.is_some() => (
                        format!("{:+.2}", ms - 1000.0 / p.rate),
                        format!("{:.2}x", b.rate / p.rate),
                    ),
                    _ => ("".into(), "".into()),
                };
                println!(
                    "| {} | {} of {} | {:.1} | {:.0} | {ms:.2} | {over} | {} | {} | {:.3} | {} | {vs} |",
                    r.name,
                    b.accepted,
                    b.villages,
                    b.secs,
                    b.rate,
                    b.p50,
                    b.p99,
                    b.noop_ratio,
                    b.summary_p99
                );
                if b.accepted != b.villages || b.received != b.accepted {
                    failed.push(format!(
                        "{}: {} of {} accepted, national rollup received {}",
                        r.name, b.accepted, b.villages, b.received
                    ));
                }
            }
            Err(e) => {
                println!("| {} | failed: {e} | | | | | | | | | |", r.name);
                failed.push(format!("{}: {e}", r.name));
            }
        }
    }
    println!();
    placement_head();
    for r in &runs {
        for l in &r.placement {
            println!("{l}");
        }
    }
    println!();
    for f in &failed {
        eprintln!("bench: {f}");
    }

    // 4. The last line: the 2-worker cluster (or the first Citus run) against PostgreSQL.
    let pick = runs
        .iter()
        .find(|r| r.workers == Some(2))
        .or_else(|| runs.iter().find(|r| r.workers.is_some()));
    match (pg, pick.and_then(|r| r.burst.as_ref().ok())) {
        (Some(p), Some(b)) if failed.is_empty() => println!(
            "citus-reports: {} submissions in {:.1} s = {:.0}/s, p99 {} ms, vs postgres {:.2}x",
            b.accepted,
            b.secs,
            b.rate,
            b.p99,
            b.rate / p.rate
        ),
        _ => die("some runs failed (above); no result line"),
    }
}
