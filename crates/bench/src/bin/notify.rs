//! The 10:00 deadline for the whole country (issue 15): load the real village table, move the
//! clock to 10:01 Beijing time, run the deadline step the scheduler runs
//! (`reports::run_deadlines`: one `report_reminder` per village that has not reported, through
//! the template in force, in one audited transaction) and hand every reminder to a local fake
//! gateway through the notification worker's own steps (`notify::dispatch` into delivery
//! rows, then `notify::send_due`: claim a batch, send it with a bounded number of requests in
//! flight, record the outcomes). Then the public pages are flooded by many clients while a
//! staff request is timed, compared with the same staff requests alone.
//!
//! ```sh
//! cargo run --release -p backstop-bench --bin notify -- [--database-url URL] \
//!     [--data ../shared/data/regions] [--send-secs 0] [--before-secs 0] [--send-batch 500] \
//!     [--send-concurrency 8] [--flood-clients 64] [--flood-secs 20] [--flood-addresses 0] \
//!     [--staff 400]
//! ```
//! `--send-secs N` stops the hand-off after N seconds (0: until every reminder is sent) and
//! reports the rate over what was sent. `--before-secs N` first sends for N seconds one
//! message at a time (batch 1, one request in flight: the shape of the sender before batching,
//! two write transactions and a due query per message) and prints that rate, so both are
//! measured in the same run on the same rows. `--flood-addresses N` (N > 0) makes the flood
//! come through a configured trusted proxy (127.0.0.1, `--trusted-proxy`) with
//! `X-Forwarded-For` naming one of N client addresses in turn, as a flood from many clients
//! behind a load balancer reaches the public face, after a first flood from the bench's one
//! address (the last line then reports the many-address flood); 0 floods from the one
//! address only. On
//! PostgreSQL the run ends with the plans of the send step's statements (`EXPLAIN ANALYZE`,
//! rolled back). Last line: `notify: <N> messages queued in <S> s, sent
//! <R>/s; staff p99 under public flood <P> ms (vs <Q> ms quiet)`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::routing::post;
use backstop_app::Config;
use backstop_app::kernel::actor::Actor;
use backstop_app::notify::{Gateways, SendSettings, WebhookGateway};
use backstop_bench::{agent, die, login, percentile, ready_official, serve};
use backstop_core::clock::Clock;
use chrono::{DateTime, TimeDelta, Utc};

const TIMEOUT: Duration = Duration::from_secs(60);

struct Args {
    database_url: Option<String>,
    data: PathBuf,
    send_secs: u64,
    flood_clients: usize,
    flood_secs: u64,
    flood_addresses: u32,
    staff: usize,
    before_secs: u64,
    send_batch: i64,
    send_concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        database_url: None,
        data: PathBuf::from("../shared/data/regions"),
        send_secs: 0,
        flood_clients: 64,
        flood_secs: 20,
        flood_addresses: 0,
        staff: 400,
        before_secs: 0,
        send_batch: 500,
        send_concurrency: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--database-url" => a.database_url = Some(v),
            "--data" => a.data = PathBuf::from(v),
            "--send-secs" => a.send_secs = v.parse().unwrap_or(0),
            "--flood-clients" => a.flood_clients = v.parse().unwrap_or(64),
            "--flood-secs" => a.flood_secs = v.parse().unwrap_or(20),
            "--staff" => a.staff = v.parse().unwrap_or(400),
            "--flood-addresses" => a.flood_addresses = v.parse().unwrap_or(0),
            "--before-secs" => a.before_secs = v.parse().unwrap_or(0),
            "--send-batch" => a.send_batch = v.parse().unwrap_or(500),
            "--send-concurrency" => a.send_concurrency = v.parse().unwrap_or(8),
            other => die(format!("unknown argument {other}")),
        }
    }
    a
}

/// The real clock moved by an offset the benchmark sets (to reach the deadline, then back).
#[derive(Default)]
struct ShiftedClock {
    offset_ms: AtomicI64,
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }
}

/// The fake gateway: answers 200 to every POST and counts the requests and distinct keys.
#[derive(Default)]
struct Fake {
    requests: AtomicUsize,
    keys: std::sync::Mutex<std::collections::HashSet<String>>,
}

async fn fake_gateway() -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake::default());
    let shared = fake.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: axum::http::HeaderMap| {
            let shared = shared.clone();
            async move {
                shared.requests.fetch_add(1, Ordering::Relaxed);
                if let Some(k) = headers.get("idempotency-key").and_then(|v| v.to_str().ok())
                    && let Ok(mut keys) = shared.keys.lock()
                {
                    keys.insert(k.to_string());
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| die(format!("bind: {e}")));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| die(format!("addr: {e}")));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (fake, format!("http://{addr}/hook"))
}

/// `clients` threads call `job` until `stop`; the latencies (ms) of the answers that passed.
fn timed_loop<F>(
    clients: usize,
    stop: Arc<AtomicBool>,
    job: F,
) -> Vec<std::thread::JoinHandle<Vec<u32>>>
where
    F: Fn(&ureq::Agent, u64) -> bool + Send + Sync + 'static,
{
    let job = Arc::new(job);
    (0..clients)
        .map(|c| {
            let (job, stop) = (job.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = agent(TIMEOUT);
                let mut lat = Vec::new();
                let mut i = c as u64;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    if job(&agent, i) {
                        lat.push(t.elapsed().as_millis().min(u32::MAX as u128) as u32);
                    }
                    i += clients as u64;
                }
                lat
            })
        })
        .collect()
}

/// `n` staff requests one after another; their latencies (ms).
fn staff_requests(agent: &ureq::Agent, url: &str, token: &str, n: usize) -> Vec<u32> {
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let ok = agent
            .get(url)
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .map(|r| r.status().as_u16() == 200)
            .unwrap_or(false);
        if !ok {
            die(format!("staff request refused: {url}"));
        }
        lat.push(t.elapsed().as_millis().min(u32::MAX as u128) as u32);
    }
    lat
}

fn p99(v: &mut [u32]) -> u32 {
    percentile(v, 0.99, |a, b| a.cmp(b))
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap_or_else(|e| die(format!("tempdir: {e}")));
    let url = a
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| die(format!("runtime: {e}")));
    println!("database: {}", backstop_store::redact_url(&url));
    let clock = Arc::new(ShiftedClock::default());
    let (fake, hook) = rt.block_on(fake_gateway());
    let config = Config {
        gateways: Gateways {
            webhook: Some(WebhookGateway {
                url: hook,
                secret: "bench-webhook-secret".into(),
            }),
            timeout: Some(Duration::from_secs(10)),
            ..Gateways::default()
        },
        sender: SendSettings {
            batch: a.send_batch,
            concurrency: a.send_concurrency,
        },
        trusted_proxies: if a.flood_addresses > 0 {
            vec![std::net::IpAddr::from([127, 0, 0, 1])]
        } else {
            Vec::new()
        },
        ..Config::default()
    };
    let state = rt.block_on(async {
        let t = Instant::now();
        let state = backstop_app::open(
            &url,
            &dir.path().join("keys/master.key"),
            clock.clone(),
            config,
        )
        .await
        .unwrap_or_else(|e| die(format!("open: {e}")));
        backstop_app::regions::import::import_dir(&state, &Actor::operator(), &a.data, &mut |_| {})
            .await
            .unwrap_or_else(|e| die(format!("import regions: {}", e.message)));
        println!("regions imported in {:.1} s", t.elapsed().as_secs_f64());
        ready_official(&state, "bench.nation", "0")
            .await
            .unwrap_or_else(|e| die(e));
        state
    });

    // 1. The deadline: 10:01 Beijing time today (02:01 UTC), the scheduler's step.
    let now = Utc::now();
    let target = now
        .date_naive()
        .and_hms_opt(2, 1, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    let target =
        if backstop_core::clock::beijing_date(now) != backstop_core::clock::beijing_date(target) {
            target + TimeDelta::days(1)
        } else {
            target
        };
    clock
        .offset_ms
        .store((target - now).num_milliseconds(), Ordering::Relaxed);
    let t = Instant::now();
    let queued = rt
        .block_on(backstop_app::reports::run_deadlines(&state))
        .unwrap_or_else(|e| die(format!("deadlines: {e}")));
    let queue_secs = t.elapsed().as_secs_f64();
    println!("queued {queued} reminders in {queue_secs:.1} s");

    // 2. The hand-off, the worker's two steps: dispatch every reminder into a delivery row,
    //    then send (claim, POST, mark) until nothing is due (or the time given is up).
    let t = Instant::now();
    let dispatched = rt
        .block_on(backstop_app::notify::dispatch(&state))
        .unwrap_or_else(|e| die(format!("dispatch: {e}")));
    let dispatch_secs = t.elapsed().as_secs_f64();
    if a.before_secs > 0 {
        // One message at a time, on a copy of the state with the old shape's settings.
        let one = SendSettings {
            batch: 1,
            concurrency: 1,
        };
        let (sent, secs, _) = send_for(&rt, &state, one, a.before_secs);
        println!(
            "before (batch 1, one in flight): {sent} sent in {secs:.1} s = {:.0}/s",
            sent as f64 / secs.max(1e-9)
        );
    }
    let settings = state.config.sender;
    let (sent, send_secs, failed) = send_for(&rt, &state, settings, a.send_secs);
    let rate = sent as f64 / send_secs.max(1e-9);
    let distinct = fake.keys.lock().map(|k| k.len()).unwrap_or(0);
    println!(
        "handed off: {dispatched} deliveries written in {dispatch_secs:.1} s; {sent} sent in {send_secs:.1} s = {rate:.0}/s (batch {}, {} in flight), {failed} failed or retried; gateway saw {} requests, {distinct} distinct keys",
        a.send_batch,
        a.send_concurrency,
        fake.requests.load(Ordering::Relaxed)
    );
    if state.db.backend() == backstop_store::Backend::Postgres {
        rt.block_on(explain_send(&state));
    }
    clock.offset_ms.store(0, Ordering::Relaxed);

    // 3. Staff requests quiet, then under a flood of the public pages.
    let addr = rt
        .block_on(serve(&state))
        .unwrap_or_else(|e| die(format!("serve: {e}")));
    let base = format!("http://{addr}");
    let staff_agent = agent(TIMEOUT);
    let token = login(&staff_agent, &base, "bench.nation").unwrap_or_else(|| die("login failed"));
    let staff_url = format!("{base}/api/v1/notifications/deliveries?region=44");
    let _ = staff_requests(&staff_agent, &staff_url, &token, 20);
    let mut quiet = staff_requests(&staff_agent, &staff_url, &token, a.staff);
    let public = Arc::new([
        format!("{base}/public"),
        format!("{base}/public/regions/44"),
        format!("{base}/public/regions/440115"),
        format!("{base}/public/login"),
    ]);
    let staff = (&staff_agent, staff_url.as_str(), token.as_str());
    // From the bench's one address first; then, with --flood-addresses, through the proxy.
    let mut flooded = flood(&a, &public, staff, 0);
    if a.flood_addresses > 0 {
        let mut one = flooded;
        println!("staff p99 under the one-address flood {} ms", p99(&mut one));
        flooded = flood(&a, &public, staff, a.flood_addresses);
    }
    let (p, q) = (p99(&mut flooded), p99(&mut quiet));
    if a.flood_addresses > 0 {
        println!(
            "(the last line's flood: {} forwarded addresses)",
            a.flood_addresses
        );
    }
    println!(
        "notify: {queued} messages queued in {queue_secs:.1} s, sent {rate:.0}/s; staff p99 under public flood {p} ms (vs {q} ms quiet)"
    );
}

/// Run the send step until nothing is due or `secs` (0: no limit) have passed: (sent,
/// seconds, failed or retried).
fn send_for(
    rt: &tokio::runtime::Runtime,
    state: &backstop_app::AppState,
    settings: SendSettings,
    secs: u64,
) -> (i64, f64, i64) {
    let t = Instant::now();
    let (mut sent, mut failed) = (0i64, 0i64);
    loop {
        let r = rt
            .block_on(backstop_app::notify::send_with(state, settings))
            .unwrap_or_else(|e| die(format!("send: {e}")));
        sent += r.sent;
        failed += r.failed + r.retried;
        if r.sent == 0 && r.failed == 0 && r.retried == 0 {
            break;
        }
        if secs > 0 && t.elapsed().as_secs() >= secs {
            break;
        }
    }
    (sent, t.elapsed().as_secs_f64(), failed)
}

/// PostgreSQL: the plans of the send step's statements on the bench's rows, and of the
/// one-at-a-time sender's `UPDATE … WHERE id = $1` (by id alone), each `EXPLAIN ANALYZE`d in a
/// transaction that is rolled back.
async fn explain_send(state: &backstop_app::AppState) {
    let pool = state.db.pool();
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, province FROM notify_deliveries WHERE state = 'queued' ORDER BY id LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .ok()
    .flatten();
    let Some((id, province)) = row else {
        println!("explain: nothing queued left");
        return;
    };
    let now = state.now_ms();
    let statements = [
        (
            "due (batch 500)",
            format!(
                "SELECT id, province FROM notify_deliveries WHERE state = 'queued' \
                 AND next_attempt_at <= {now} ORDER BY next_attempt_at, id LIMIT 500"
            ),
        ),
        (
            "mark sent by id alone (the one-at-a-time sender)",
            format!(
                "UPDATE notify_deliveries SET state = 'sent', attempts = 1, sent_at = {now}, \
                 last_error = '' WHERE id = {id}"
            ),
        ),
        (
            "mark sent by (province, id) (the batched sender)",
            format!(
                "UPDATE notify_deliveries SET state = 'sent', attempts = 1, sent_at = {now}, \
                 last_error = '' WHERE province = '{province}' AND id = {id}"
            ),
        ),
    ];
    for (what, sql) in statements {
        let Ok(mut tx) = pool.begin().await else {
            return;
        };
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN (ANALYZE, BUFFERS) {sql}"
        )))
        .fetch_all(&mut *tx)
        .await
        .unwrap_or_default();
        let _ = tx.rollback().await;
        println!("explain {what}:");
        for l in plan {
            println!("    {l}");
        }
    }
}

/// Flood the public pages from `a.flood_clients` threads — from the bench's one address
/// (`addresses` 0) or through the trusted proxy for one of `addresses` forwarded addresses in
/// turn (10.x.y.z) — while staff requests are timed one after another for at least
/// `a.flood_secs`; their latencies (ms).
fn flood(
    a: &Args,
    public: &Arc<[String; 4]>,
    (staff_agent, staff_url, token): (&ureq::Agent, &str, &str),
    addresses: u32,
) -> Vec<u32> {
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let limited = Arc::new(AtomicUsize::new(0));
    let flooders = {
        let (answered, limited, public) = (answered.clone(), limited.clone(), public.clone());
        timed_loop(a.flood_clients, stop.clone(), move |agent, i| {
            let url = &public[(i as usize) % public.len()];
            let mut req = agent.get(url);
            if addresses > 0 {
                let k = (i % u64::from(addresses)) as u32;
                let ip = std::net::Ipv4Addr::from(0x0a00_0000 | (k & 0x00ff_ffff));
                req = req.header("X-Forwarded-For", &ip.to_string());
            }
            match req.call() {
                Ok(r) if r.status().as_u16() == 200 => {
                    answered.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Ok(r) if r.status().as_u16() == 429 => {
                    limited.fetch_add(1, Ordering::Relaxed);
                    true
                }
                _ => false,
            }
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let flood_start = Instant::now();
    let mut flooded = Vec::new();
    while flood_start.elapsed().as_secs() < a.flood_secs || flooded.len() < a.staff {
        flooded.extend(staff_requests(staff_agent, staff_url, token, 10));
    }
    stop.store(true, Ordering::Relaxed);
    let flood_secs = flood_start.elapsed().as_secs_f64() + 2.0;
    let mut public_lat: Vec<u32> = flooders
        .into_iter()
        .filter_map(|h| h.join().ok())
        .flatten()
        .collect();
    let (ok, lim) = (
        answered.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed),
    );
    let mut sorted = flooded.clone();
    println!(
        "public flood: {} clients from {}, {:.0} requests/s ({ok} answered 200, {lim} answered 429), public p99 {} ms; staff {} requests, p99 {} ms",
        a.flood_clients,
        if addresses > 0 {
            format!("{addresses} forwarded addresses")
        } else {
            "one address".to_string()
        },
        (ok + lim) as f64 / flood_secs,
        p99(&mut public_lat),
        flooded.len(),
        p99(&mut sorted)
    );
    flooded
}
