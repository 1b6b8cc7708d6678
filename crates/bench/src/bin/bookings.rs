//! A city's booking opening (issue 19): the marriage registries of a city open one day for
//! booking and `--requests` couples ask for its `--places` places at once, over HTTP from
//! `--clients` concurrent clients, each request with its own `Idempotency-Key` (a client told
//! "busy", 503, sends the same request again with the same key, as a phone would). The
//! registries are those of the districts of 武汉市 (4201), one per district in code order
//! (`--registries`), each with a marriage-registration service of `--slots` half-hour slots
//! from 09:00 sharing its places; request *i* asks registry *i* mod *R* for slot (*i* div *R*)
//! mod *S*, with a couple of its own (valid resident ID numbers of the district, of age), so
//! every slot is asked for `requests / places` times over. Requests are made by each
//! registry's window staff through `POST /api/v1/bookings` (the API the bench can drive
//! without a phone's one-time code; the public form calls the same `book::place`).
//!
//! Baseline in the same run: the same number of `GET`s, by the same clients, of the public
//! page a couple looks at when the booking opens — the registry's services and the day's
//! slots with the places left (`/public/bookings/orgs/{id}?service=…&day=…`), each from its
//! own address behind a trusted proxy so the public limits do not answer 429.
//!
//! Checks afterwards: accepted = capacity, every other request told the slot is full (409),
//! the database holds exactly the accepted bookings and its slot counters never exceed a
//! slot's places; the first 100 accepted requests sent again with their keys answer the same
//! booking and book nothing more.
//!
//! ```sh
//! cargo build --release -p backstop-bench
//! target/release/bookings [--requests 10000] [--places 1000] [--registries 10] [--slots 10] \
//!     [--clients 32] [--database-url URL]
//! ```
//! Last line: `bookings: <N> requests in <S> s, accepted <A> (= capacity), p99 <P> ms`; the
//! exit status is 1 if accepted ≠ capacity or any request got another answer than 201 or 409.

use std::sync::Arc;
use std::time::Duration;

use backstop_app::Config;
use backstop_app::bookings::{self, NewService};
use backstop_app::kernel::actor::Actor;
use backstop_bench::{agent, burst, die, login, percentile, ready_user, serve};
use backstop_core::clock::SystemClock;
use serde_json::{Value, json};

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The city whose districts' registries open.
const CITY: &str = "4201";
/// How often a request told "busy" (503) is sent again with its key.
const RETRIES: u32 = 20;

struct Args {
    requests: usize,
    places: usize,
    registries: usize,
    slots: usize,
    clients: usize,
    database_url: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        requests: 10_000,
        places: 1_000,
        registries: 10,
        slots: 10,
        clients: 32,
        database_url: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        let num = |v: &str| -> usize { backstop_bench::number(&k, v) };
        match k.as_str() {
            "--requests" => a.requests = num(&v),
            "--places" => a.places = num(&v),
            "--registries" => a.registries = num(&v),
            "--slots" => a.slots = num(&v),
            "--clients" => a.clients = num(&v),
            "--database-url" => a.database_url = Some(v),
            other => die(format!("unknown argument {other}")),
        }
    }
    if a.registries == 0 || a.slots == 0 || a.slots > 28 {
        die("--registries must be at least 1 and --slots 1 to 28 (half hours from 09:00)");
    }
    if a.places == 0 || !a.places.is_multiple_of(a.registries * a.slots) {
        die("--places must be a positive multiple of registries × slots");
    }
    a
}

/// `HH:MM` of half-hour slot `k` from 09:00.
fn slot_start(k: usize) -> String {
    let m = 9 * 60 + 30 * k;
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// A valid resident ID number: `county`, birth date `base` + `day` days, sequence `seq`
/// (odd: a man, even: a woman).
fn id_number(county: &str, base: chrono::NaiveDate, day: usize, seq: usize) -> String {
    let birth = base + chrono::Duration::days(day as i64);
    let body = format!("{county}{}{seq:03}", birth.format("%Y%m%d"));
    let c = backstop_core::citizen_id::check_char(&body)
        .unwrap_or_else(|| die(format!("check digit of {body}")));
    format!("{body}{c}")
}

/// The couple of request `i` (distinct ID numbers for every request): the man born from
/// 1960, the woman from 1965, 400 couples per birth date.
fn couple(county: &str, i: usize) -> Value {
    let (day, k) = (i / 400, i % 400);
    let man = id_number(
        county,
        chrono::NaiveDate::from_ymd_opt(1960, 1, 1).unwrap_or_default(),
        day,
        2 * k + 1,
    );
    let woman = id_number(
        county,
        chrono::NaiveDate::from_ymd_opt(1965, 1, 1).unwrap_or_default(),
        day,
        2 * k + 2,
    );
    json!([{"name": "张建国", "id_number": man}, {"name": "李秀英", "id_number": woman}])
}

/// The answer to one booking request.
#[derive(Debug, Clone)]
enum Outcome {
    /// 201, the booking's id.
    Accepted(i64),
    /// 409 on `starts`: the slot is full.
    Full,
    /// Anything else: the status and the body.
    Other(String),
}

/// One registry of the run.
struct Registry {
    org: i64,
    service: i64,
    county: String,
    /// The registry's window staff account.
    user: String,
    /// Its API token (empty until logged in).
    token: String,
}

/// Send booking request `i` (with retries on 503); the answer and how many 503s it met.
fn book(
    agent: &ureq::Agent,
    base: &str,
    reg: &Registry,
    body: &Value,
    key: &str,
) -> (Outcome, u32) {
    let mut busy = 0;
    loop {
        let r = agent
            .post(&format!("{base}/api/v1/bookings"))
            .header("Authorization", &format!("Bearer {}", reg.token))
            .header("Idempotency-Key", key)
            .send_json(body);
        let mut r = match r {
            Ok(r) => r,
            Err(e) => return (Outcome::Other(e.to_string()), busy),
        };
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        match status {
            201 => {
                let id = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v["id"].as_i64())
                    .unwrap_or(0);
                return (Outcome::Accepted(id), busy);
            }
            // Full is 409 on the slot (`starts`); any other conflict is not "full".
            409 if serde_json::from_str::<Value>(&text)
                .is_ok_and(|v| v["fields"][0]["field"] == "starts") =>
            {
                return (Outcome::Full, busy);
            }
            503 if busy < RETRIES => {
                busy += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            s => return (Outcome::Other(format!("status {s}: {text}")), busy),
        }
    }
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap_or_else(|e| die(format!("tempdir: {e}")));
    let url = a.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let rt = backstop_bench::run::rt();
    println!("database: {}", backstop_store::redact_url(&url));
    let per_registry = a.places / a.registries;
    let per_slot = per_registry / a.slots;
    let (state, regs, addr, day) = rt.block_on(async {
        let config = Config {
            trusted_proxies: vec![std::net::IpAddr::from([127, 0, 0, 1])],
            ..Config::default()
        };
        let state = backstop_app::open(
            &url,
            &dir.path().join("keys").join("master.key"),
            Arc::new(SystemClock),
            config,
        )
        .await
        .unwrap_or_else(|e| die(format!("open: {e}")));
        let op = Actor::operator();
        let counties: Vec<(String, String)> =
            sqlx::query_as("SELECT code, name FROM regions WHERE parent_code = $1 ORDER BY code")
                .bind(CITY)
                .fetch_all(state.db.pool())
                .await
                .unwrap_or_else(|e| die(format!("districts: {e}")));
        if counties.is_empty() {
            die(format!("no districts under {CITY}"));
        }
        let mut regs = Vec::new();
        for r in 0..a.registries {
            let (county, name) = &counties[r % counties.len()];
            let round = r / counties.len();
            let org_name = match round {
                0 => format!("{name}婚姻登记处"),
                n => format!("{name}婚姻登记处第{}分处", n + 1),
            };
            let org = backstop_app::orgs::create(
                &state,
                &op,
                &backstop_app::orgs::NewOrg {
                    name: org_name,
                    kind: "marriage_registry".into(),
                    region_code: county.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| die(format!("registry {r}: {e}")))
            .id;
            let service = bookings::add_service(
                &state,
                &op,
                org,
                &NewService {
                    kind: "marriage_registration".into(),
                    open_days: "1234567".into(),
                    opens: slot_start(0),
                    closes: slot_start(a.slots),
                    slot_minutes: 30,
                    per_slot: per_slot as i64,
                    window_days: Some(30),
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| die(format!("service of registry {r}: {e}")))
            .id;
            let staff = format!("bench.reg{r}");
            ready_user(&state, &staff, "service_staff", county, Some(org))
                .await
                .unwrap_or_else(|e| die(e));
            regs.push(Registry {
                org,
                service,
                county: county.clone(),
                user: staff,
                token: String::new(),
            });
        }
        let addr = serve(&state)
            .await
            .unwrap_or_else(|e| die(format!("serve: {e}")));
        // A week ahead: inside every service's window, open every day of the week.
        let day = (state.today() + chrono::Duration::days(7))
            .format("%Y-%m-%d")
            .to_string();
        (state, regs, addr, day)
    });
    let base = format!("http://{addr}");
    let login_agent = agent(TIMEOUT);
    let regs: Arc<Vec<Registry>> = Arc::new(
        regs.into_iter()
            .map(|r| {
                let token = login(&login_agent, &base, &r.user)
                    .unwrap_or_else(|| die(format!("login {} failed", r.user)));
                Registry { token, ..r }
            })
            .collect(),
    );
    let n = a.requests;
    let capacity = a.places;
    println!(
        "{} registries of {CITY} × 1 day ({day}) × {} slots × {per_slot} places = {capacity} places; {n} requests, {} clients",
        a.registries, a.slots, a.clients
    );

    // 1. Baseline: the public page of a registry's services and the day's slots.
    let (b_regs, b_base, b_day) = (regs.clone(), base.clone(), day.clone());
    let page = burst(a.clients, n, TIMEOUT, move |agent, i| {
        let reg = &b_regs[i % b_regs.len()];
        let ip = format!("10.{}.{}.{}", 1 + (i >> 16) % 250, (i >> 8) & 255, i & 255);
        agent
            .get(&format!(
                "{b_base}/public/bookings/orgs/{}?service={}&day={b_day}",
                reg.org, reg.service
            ))
            .header("X-Forwarded-For", &ip)
            .call()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    });
    let page_ok = page.results.iter().filter(|(_, s)| *s == 200).count();
    let mut page_lat: Vec<u32> = page.results.iter().map(|(ms, _)| *ms).collect();
    let page_rate = n as f64 / page.wall.as_secs_f64();
    let (p50, p99) = (
        percentile(&mut page_lat, 0.50, u32::cmp),
        percentile(&mut page_lat, 0.99, u32::cmp),
    );
    println!(
        "baseline (public slots page): {n} GETs in {:.2} s = {page_rate:.0}/s, 200 for {page_ok}, p50 {p50} ms, p99 {p99} ms",
        page.wall.as_secs_f64()
    );
    if page_ok != n {
        let other: Vec<u16> = page
            .results
            .iter()
            .map(|(_, s)| *s)
            .filter(|s| *s != 200)
            .take(5)
            .collect();
        eprintln!("baseline: not 200: {other:?} …");
    }

    // 2. The opening: every request at once.
    let bodies: Arc<Vec<Value>> = Arc::new(
        (0..n)
            .map(|i| {
                let reg = &regs[i % regs.len()];
                json!({"service_id": reg.service, "day": day,
                    "starts": slot_start((i / regs.len()) % a.slots),
                    "phone": format!("139{:08}", i % 100_000_000), "parties": couple(&reg.county, i)})
            })
            .collect(),
    );
    let (o_regs, o_base, o_bodies) = (regs.clone(), base.clone(), bodies.clone());
    let opening = burst(a.clients, n, TIMEOUT, move |agent, i| {
        let reg = &o_regs[i % o_regs.len()];
        let (o, busy) = book(
            agent,
            &o_base,
            reg,
            &o_bodies[i],
            &format!("opening-{i:07}"),
        );
        (i, o, busy)
    });
    let wall = opening.wall.as_secs_f64();
    let mut lat: Vec<u32> = opening.results.iter().map(|(ms, _)| *ms).collect();
    let mut lat_ok: Vec<u32> = opening
        .results
        .iter()
        .filter(|(_, (_, o, _))| matches!(o, Outcome::Accepted(_)))
        .map(|(ms, _)| *ms)
        .collect();
    let accepted: Vec<(usize, i64)> = opening
        .results
        .iter()
        .filter_map(|(_, (i, o, _))| match o {
            Outcome::Accepted(id) => Some((*i, *id)),
            _ => None,
        })
        .collect();
    let full = opening
        .results
        .iter()
        .filter(|(_, (_, o, _))| matches!(o, Outcome::Full))
        .count();
    let others: Vec<String> = opening
        .results
        .iter()
        .filter_map(|(_, (i, o, _))| match o {
            Outcome::Other(e) => Some(format!("request {i}: {e}")),
            _ => None,
        })
        .collect();
    let busy: u32 = opening.results.iter().map(|(_, (_, _, b))| *b).sum();
    for e in others.iter().take(5) {
        eprintln!("error: {e}");
    }
    let rate = n as f64 / wall;
    let p50 = percentile(&mut lat, 0.50, u32::cmp);
    let p99 = percentile(&mut lat, 0.99, u32::cmp);
    let ok50 = percentile(&mut lat_ok, 0.50, u32::cmp);
    let ok99 = percentile(&mut lat_ok, 0.99, u32::cmp);
    println!(
        "opening: {n} requests in {wall:.2} s = {rate:.0}/s; accepted {}, full {full}, other {}; 503 retries {busy}; p50 {p50} ms, p99 {p99} ms (accepted: p50 {ok50} ms, p99 {ok99} ms)",
        accepted.len(),
        others.len()
    );
    println!(
        "ratio: booking requests/s ÷ public page GETs/s = {:.3}",
        rate / page_rate
    );

    // 3. The database agrees: exactly the accepted bookings, no slot over its places.
    let count = |sql: &'static str| {
        rt.block_on(async {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(state.db.pool())
                .await
                .unwrap_or_else(|e| die(format!("{sql}: {e}")))
        })
    };
    let held = count("SELECT CAST(COUNT(*) AS BIGINT) FROM bookings WHERE status = 'booked'");
    let slot_sum = count("SELECT CAST(COALESCE(SUM(booked), 0) AS BIGINT) FROM booking_slots");
    let slot_max = count("SELECT CAST(COALESCE(MAX(booked), 0) AS BIGINT) FROM booking_slots");
    let per_org_max = count(
        "SELECT CAST(COALESCE(MAX(c), 0) AS BIGINT) FROM (SELECT COUNT(*) AS c FROM bookings GROUP BY org_id) t",
    );
    println!(
        "database: {held} bookings held, slot counters sum {slot_sum}, fullest slot {slot_max} of {per_slot}, fullest registry {per_org_max} of {per_registry}"
    );
    let mut bad = Vec::new();
    if held != accepted.len() as i64 || slot_sum != held {
        bad.push(format!(
            "bookings held {held}, slot counters {slot_sum}, accepted {}",
            accepted.len()
        ));
    }
    if slot_max > per_slot as i64 || per_org_max > per_registry as i64 {
        bad.push("a slot or a registry over its places".to_string());
    }

    // 4. Retries with the same key answer the same booking and book nothing more.
    let again: Vec<(usize, i64)> = accepted.iter().take(100).copied().collect();
    let (r_regs, r_base, r_bodies, r_again) =
        (regs.clone(), base.clone(), bodies.clone(), again.clone());
    let replay = burst(a.clients, again.len(), TIMEOUT, move |agent, j| {
        let (i, id) = r_again[j];
        let reg = &r_regs[i % r_regs.len()];
        let (o, _) = book(
            agent,
            &r_base,
            reg,
            &r_bodies[i],
            &format!("opening-{i:07}"),
        );
        matches!(o, Outcome::Accepted(got) if got == id)
    });
    let same = replay.results.iter().filter(|(_, s)| *s).count();
    let held_after = count("SELECT CAST(COUNT(*) AS BIGINT) FROM bookings");
    println!(
        "replay: {} accepted requests sent again with their keys: {same} answered the same booking; bookings in the database {held_after}",
        again.len()
    );
    if same != again.len() || held_after != held {
        bad.push(format!(
            "replay: {same} of {} the same, bookings {held} → {held_after}",
            again.len()
        ));
    }
    if !others.is_empty() {
        bad.push(format!(
            "{} requests answered neither 201 nor 409",
            others.len()
        ));
    }
    rt.block_on(async { state.db.close().await });
    for b in &bad {
        eprintln!("bench: {b}");
    }
    let ok = accepted.len() == capacity;
    let versus = if ok {
        "= capacity".to_string()
    } else {
        format!("capacity {capacity}")
    };
    println!(
        "bookings: {n} requests in {wall:.1} s, accepted {} ({versus}), p99 {p99} ms",
        accepted.len()
    );
    if !ok || !bad.is_empty() {
        std::process::exit(1);
    }
}
