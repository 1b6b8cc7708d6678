//! The donation ledger at Hubei's scale (issue 18): the service's own entry rate (receipts
//! entered through `donations::receipts::create`, each with its receive entry and its chain
//! row, one audited transaction each), then a campaign of `--receipts` receipts (half money,
//! half masks) and twice as many ledger entries (each receipt received and half of it
//! allocated to a hospital) loaded in bulk — large multi-row inserts of the same rows the
//! service writes, then published by the service's own chain code
//! (`disclosure::catch_up`, which builds each entry's canonical text, hash and running totals
//! exactly as `ledger::post` does) — its heads signed, then the public campaign page and the
//! totals (`/heads`) read by concurrent clients (p99), and the whole feed verified over HTTP
//! page by page (`FeedVerifier`, what `backstop ledger verify --feed` runs).
//!
//! ```sh
//! cargo run --release -p backstop-bench --bin donations -- [--receipts 1000000] \
//!     [--service 100000] [--readers 32] [--read-secs 20] [--database-url URL] [--verify-baseline]
//! ```
//! Last line: `donations: <N> entries in <S> s = <R>/s, public page p99 <P> ms, verify <V> s`
//! (N, S: the bulk load with its chain).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use backstop_app::Config;
use backstop_app::donations::disclosure::{self, Feed, FeedVerifier, SignedHead};
use backstop_app::donations::{self as don, MoneyInput, NewReceipt};
use backstop_app::kernel::actor::Actor;
use backstop_bench::{agent, die, percentile, serve};
use backstop_core::clock::SystemClock;

const PROV: &str = "42";
const BASE: i64 = 100_000_000;

struct Args {
    receipts: i64,
    service: i64,
    readers: usize,
    read_secs: u64,
    database_url: Option<String>,
    /// Also verify one page at a time first (the baseline of the pipelined verifier).
    verify_baseline: bool,
}

fn args() -> Args {
    let mut a = Args {
        receipts: 1_000_000,
        service: 100_000,
        readers: 32,
        read_secs: 20,
        database_url: None,
        verify_baseline: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--verify-baseline" {
            a.verify_baseline = true;
            continue;
        }
        let v = it.next().unwrap_or_default();
        let num = |v: &str| -> i64 { backstop_bench::number(&k, v) };
        match k.as_str() {
            "--receipts" => a.receipts = num(&v),
            "--service" => a.service = num(&v),
            "--readers" => a.readers = num(&v) as usize,
            "--read-secs" => a.read_secs = num(&v) as u64,
            "--database-url" => a.database_url = Some(v),
            other => die(format!("unknown argument {other}")),
        }
    }
    a
}

async fn exec(state: &backstop_app::AppState, w: &mut backstop_store::WriteTx, sql: String) {
    let _ = state;
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(w.conn())
        .await
        .unwrap_or_else(|e| die(format!("bulk insert: {e}")));
}

#[tokio::main]
async fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap_or_else(|e| die(e));
    let url = a.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let config = Config {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap_or_else(|e| die(e))],
        ..Config::default()
    };
    let state = backstop_app::open(
        &url,
        &dir.path().join("keys").join("master.key"),
        Arc::new(SystemClock),
        config,
    )
    .await
    .unwrap_or_else(|e| die(e));
    let op = Actor::operator();
    let org = |name: &str, kind: &str| backstop_app::orgs::NewOrg {
        name: name.into(),
        kind: kind.into(),
        region_code: PROV.into(),
        ..Default::default()
    };
    let charity = backstop_app::orgs::create(&state, &op, &org("湖北省慈善总会", "charity"))
        .await
        .unwrap_or_else(|e| die(format!("charity: {e}")))
        .id;
    let hospital = backstop_app::orgs::create(&state, &op, &org("武汉市金银潭医院", "hospital"))
        .await
        .unwrap_or_else(|e| die(format!("hospital: {e}")))
        .id;
    don::set_receiver(
        &state,
        &op,
        &don::ReceiverInput {
            org_id: Some(charity),
            credit_code: "53420000MJ0000000X".into(),
            filing_no: "53420000MJ0000000X-2020-001".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| die(format!("receiver: {e}")));
    let today = state.today().format("%Y-%m-%d").to_string();
    let campaign = |name: &str| don::NewCampaign {
        name: name.into(),
        region_code: PROV.into(),
        starts_on: "2020-01-01".into(),
        ends_on: "2030-12-31".into(),
        no_fee: true,
        directed_only: true,
    };
    let svc = don::create_campaign(&state, &op, &campaign("服务录入速率"))
        .await
        .unwrap_or_else(|e| die(format!("campaign: {e}")))
        .id;
    let big = don::create_campaign(&state, &op, &campaign("抗击新冠肺炎疫情"))
        .await
        .unwrap_or_else(|e| die(format!("campaign: {e}")))
        .id;

    // 1. The service's own entry rate.
    let t0 = Instant::now();
    for i in 0..a.service {
        let r = NewReceipt {
            campaign_id: svc,
            org_id: Some(charity),
            receipt_no: format!("S{i}"),
            donor_kind: "anonymous".into(),
            money: Some(MoneyInput {
                amount: format!("{}.00", 100 + i % 900),
                ..Default::default()
            }),
            ..Default::default()
        };
        don::receipts::create(&state, &op, &r, None)
            .await
            .unwrap_or_else(|e| die(format!("receipt {i}: {e}")));
    }
    let svc_s = t0.elapsed().as_secs_f64();
    println!(
        "service: {} receipts (one entry and chain row each) in {svc_s:.1} s = {:.0}/s",
        a.service,
        a.service as f64 / svc_s.max(1e-9)
    );

    // 2. Bulk load: receipts, lines, entries, ledger lines; then the chain.
    let t1 = Instant::now();
    let now = state.now_ms();
    let chunk = 500;
    let mut i = 0;
    while i < a.receipts {
        let mut w = state.db.begin_write().await.unwrap_or_else(|e| die(e));
        let stop = (i + 50_000).min(a.receipts);
        while i < stop {
            let end = (i + chunk).min(stop);
            let (mut rs, mut ls, mut es, mut lls) = (vec![], vec![], vec![], vec![]);
            for k in i..end {
                let (rid, e1, e2) = (BASE + k, BASE + 2 * k, BASE + 2 * k + 1);
                let money = k % 2 == 0;
                let (q, unit_v) = if money {
                    (10_000 + (k % 1000) * 100, 1)
                } else {
                    (100 + k % 900, 350)
                };
                let v = q * unit_v;
                let (aq, av) = (q / 2, (q / 2) * unit_v);
                let (mf, gf) = if money { (v, 0) } else { (0, v) };
                rs.push(format!(
                    "('{PROV}', {rid}, {big}, {charity}, '{PROV}', 'B{k}', '{today}', 'anonymous', '', 0, {mf}, {gf}, 'bench', {now})"
                ));
                let (kind, cat, unit) = if money {
                    ("money", "money", "分")
                } else {
                    ("goods", "mask_n95", "只")
                };
                ls.push(format!(
                    "('{PROV}', {rid}, {rid}, {big}, {charity}, '{PROV}', '{kind}', '{cat}', {q}, '{unit}', {unit_v}, {v}, {now})"
                ));
                es.push(format!(
                    "('{PROV}', {e1}, {big}, {}, {charity}, '{PROV}', 'receive', {rid}, 'bench', {now})",
                    2 * k + 1
                ));
                es.push(format!(
                    "('{PROV}', {e2}, {big}, {}, {charity}, '{PROV}', 'allocate', {rid}, 'bench', {now})",
                    2 * k + 2
                ));
                lls.push(format!(
                    "('{PROV}', {e1}, {rid}, 'donor', NULL, {}, {})",
                    -q, -v
                ));
                lls.push(format!("('{PROV}', {e1}, {rid}, 'stock', NULL, {q}, {v})"));
                lls.push(format!(
                    "('{PROV}', {e2}, {rid}, 'stock', NULL, {}, {})",
                    -aq, -av
                ));
                lls.push(format!(
                    "('{PROV}', {e2}, {rid}, 'allocated', {hospital}, {aq}, {av})"
                ));
            }
            exec(&state, &mut w, format!(
                "INSERT INTO donation_receipts (province, id, campaign_id, org_id, region_code, receipt_no, received_on, \
                 donor_kind, donor_name_hash, publish_consent, money_fen, goods_value_fen, created_by, created_at) VALUES {}",
                rs.join(", "))).await;
            exec(&state, &mut w, format!(
                "INSERT INTO donation_lines (province, id, receipt_id, campaign_id, org_id, region_code, kind, category, \
                 quantity, unit, unit_value_fen, value_fen, created_at) VALUES {}",
                ls.join(", "))).await;
            exec(&state, &mut w, format!(
                "INSERT INTO ledger_entries (province, id, campaign_id, seq, org_id, region_code, kind, receipt_id, \
                 entered_by, created_at) VALUES {}",
                es.join(", "))).await;
            exec(&state, &mut w, format!(
                "INSERT INTO ledger_lines (province, entry_id, line_id, account, party_org_id, quantity, value_fen) VALUES {}",
                lls.join(", "))).await;
            i = end;
        }
        exec(&state, &mut w, format!(
            "INSERT INTO ledger_seqs (province, campaign_id, last_seq) VALUES ('{PROV}', {big}, {}) \
             ON CONFLICT (province, campaign_id) DO UPDATE SET last_seq = excluded.last_seq",
            2 * i)).await;
        w.commit().await.unwrap_or_else(|e| die(e));
    }
    let rows_s = t1.elapsed().as_secs_f64();
    let entries = 2 * a.receipts;
    println!(
        "bulk rows: {} receipts, {entries} entries in {rows_s:.1} s",
        a.receipts
    );
    let t2 = Instant::now();
    let published = disclosure::catch_up(&state, PROV, big, 20_000)
        .await
        .unwrap_or_else(|e| die(format!("chain: {e}")));
    let chain_s = t2.elapsed().as_secs_f64();
    println!(
        "chain: {published} entries published in {chain_s:.1} s = {:.0}/s",
        published as f64 / chain_s.max(1e-9)
    );
    let load_s = t1.elapsed().as_secs_f64();
    let heads = disclosure::sign_due(&state, &today)
        .await
        .unwrap_or_else(|e| die(format!("sign: {e}")));
    println!("signed {heads} heads");

    // 3. Public page and totals under concurrent readers.
    let addr = serve(&state).await.unwrap_or_else(|e| die(e));
    let base = format!("http://{addr}");
    let ag = agent(Duration::from_secs(60));
    let t3 = Instant::now();
    let first = ag
        .get(&format!("{base}/public/donations/{big}"))
        .header("X-Forwarded-For", "10.9.9.9")
        .call()
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|e| die(format!("page: {e}")));
    println!(
        "first (uncached) campaign page: {first} in {:.1} ms",
        t3.elapsed().as_secs_f64() * 1000.0
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for r in 0..a.readers {
        let (base, stop) = (base.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let ag = agent(Duration::from_secs(60));
            // (page or totals, latency in ms) of the answers 200; how many were not 200.
            let mut lat: Vec<(bool, f64)> = Vec::new();
            let mut refused = 0_u64;
            let mut n = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let is_page = n.is_multiple_of(2);
                let path = if is_page {
                    format!("{base}/public/donations/{big}")
                } else {
                    format!("{base}/public/donations/{big}/heads")
                };
                let ip = format!("10.{}.{}.{}", r % 250, (n / 250) % 250, n % 250);
                let t = Instant::now();
                let ok = ag
                    .get(&path)
                    .header("X-Forwarded-For", &ip)
                    .call()
                    .map(|mut resp| {
                        let _ = resp.body_mut().read_to_string();
                        resp.status().as_u16() == 200
                    })
                    .unwrap_or(false);
                if ok {
                    lat.push((is_page, t.elapsed().as_secs_f64() * 1000.0));
                } else {
                    refused += 1;
                }
            }
            (lat, refused)
        }));
    }
    tokio::time::sleep(Duration::from_secs(a.read_secs)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut all, mut refused) = (Vec::new(), 0);
    for h in handles {
        let (l, r) = h.join().unwrap_or_default();
        all.extend(l);
        refused += r;
    }
    let by = |page: bool| -> Vec<f64> {
        all.iter()
            .filter(|(p, _)| *p == page)
            .map(|(_, ms)| *ms)
            .collect()
    };
    let (mut pages, mut totals) = (by(true), by(false));
    let mut lat: Vec<f64> = all.iter().map(|(_, ms)| *ms).collect();
    let cmp = |a: &f64, b: &f64| a.total_cmp(b);
    let p99 = percentile(&mut lat, 0.99, cmp);
    let p50 = percentile(&mut lat, 0.50, cmp);
    println!(
        "public reads: {} in {} s by {} readers ({refused} not 200), p50 {p50:.1} ms, p99 {p99:.1} ms; \
         campaign page {} p50 {:.1} ms p99 {:.1} ms; /heads {} p50 {:.1} ms p99 {:.1} ms",
        lat.len(),
        a.read_secs,
        a.readers,
        pages.len(),
        percentile(&mut pages, 0.50, cmp),
        percentile(&mut pages, 0.99, cmp),
        totals.len(),
        percentile(&mut totals, 0.50, cmp),
        percentile(&mut totals, 0.99, cmp),
    );

    // 4. Verify the whole feed over HTTP against the signed head.
    // Each request from its own address (the public limit is per address and per minute: a
    // whole feed from one address would be answered 429 after 120 pages).
    let fetched = std::sync::atomic::AtomicU64::new(0);
    let get = |path: String| -> String {
        let k = fetched.fetch_add(1, Ordering::Relaxed);
        let ip = format!("10.251.{}.{}", (k / 250) % 250, k % 250);
        let mut resp = ag
            .get(&path)
            .header("X-Forwarded-For", &ip)
            .call()
            .unwrap_or_else(|e| die(format!("{path}: {e}")));
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(512 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_else(|e| die(e));
        if status != 200 {
            die(format!(
                "{path}: status {status}: {}",
                body.chars().take(200).collect::<String>()
            ));
        }
        body
    };
    let hv: serde_json::Value =
        serde_json::from_str(&get(format!("{base}/public/donations/{big}/heads")))
            .unwrap_or_else(|e| die(e));
    let head: SignedHead =
        serde_json::from_value(hv["heads"][0].clone()).unwrap_or_else(|e| die(e));
    let key = disclosure::parse_public_key(&get(format!("{base}/public/donations/key")))
        .unwrap_or_else(|| die("key"));
    let page = |after: &mut Option<i64>| -> Result<Option<Feed>, String> {
        let Some(a) = *after else { return Ok(None) };
        let f: Feed = serde_json::from_str(&get(format!(
            "{base}/public/donations/{big}/feed?after={a}&limit={}",
            disclosure::FEED_PAGE
        )))
        .map_err(|e| e.to_string())?;
        *after = f.next_after.filter(|n| *n > a);
        Ok(Some(f))
    };
    if a.verify_baseline {
        // The baseline: each page read, parsed and checked in turn on one thread.
        let t = Instant::now();
        let mut v = FeedVerifier::new(&head, &key);
        let mut after = Some(0);
        let (mut fetch, mut parse, mut check) = (0.0, 0.0, 0.0);
        while let Some(a) = after {
            let t0 = Instant::now();
            let text = get(format!(
                "{base}/public/donations/{big}/feed?after={a}&limit={}",
                disclosure::FEED_PAGE
            ));
            let t1 = Instant::now();
            let f: Feed = serde_json::from_str(&text).unwrap_or_else(|e| die(e));
            let t2 = Instant::now();
            for e in &f.entries {
                v.push(e);
            }
            after = f.next_after.filter(|n| *n > a);
            fetch += (t1 - t0).as_secs_f64();
            parse += (t2 - t1).as_secs_f64();
            check += t2.elapsed().as_secs_f64();
        }
        let r = v.finish();
        println!(
            "verify (baseline, one page at a time): {} entries in {:.1} s (server and transfer {fetch:.1} s, \
             parse {parse:.1} s, hashes and totals {check:.1} s){}",
            r.entries,
            t.elapsed().as_secs_f64(),
            if r.ok() { "" } else { " — FAILED" }
        );
    }
    let t4 = Instant::now();
    // Read and parsed on one thread while the verifier hashes on this one, as the CLI does.
    let mut after = Some(0);
    let r = disclosure::verify_pages(FeedVerifier::new(&head, &key), || page(&mut after))
        .unwrap_or_else(|e| die(e));
    let verify_s = t4.elapsed().as_secs_f64();
    if !r.ok() {
        die(format!("verification failed: {:?}", r.problems));
    }
    println!(
        "verify: {} entries, head seq {}, received {} fen, in {verify_s:.1} s",
        r.entries, r.head_seq, r.totals.received_fen
    );
    println!(
        "donations: {entries} entries in {load_s:.1} s = {:.0}/s, public page p99 {p99:.1} ms, verify {verify_s:.1} s",
        entries as f64 / load_s.max(1e-9)
    );
}
