//! Payment-roll benchmark (issue 16): the monthly 低保 rolls of one province's counties for
//! 1,000,000 active beneficiaries, generated, approved (a second user) and exported (the bank
//! file, CSV) through the service functions, against the raw engine computing and inserting the
//! same lines with one `INSERT … SELECT` per county, in the same run and the same database.
//!
//! ```sh
//! cargo build --release -p backstop -p backstop-bench
//! target/release/payment_roll [--persons 1000000] [--province 42] [--data ../shared/data/regions] \
//!     [--database-url postgres://ADMIN@HOST/postgres] [--bin target/release/backstop] [--work DIR]
//! ```
//!
//! Set-up (not timed in the result): the generated roster of `roster` restricted to the
//! province's counties (real county and village codes from `villages.csv`) is loaded through
//! the import path (`backstop regions import`, then `backstop persons import`, child processes);
//! the service is opened on that database in this process on a clock set to 15 January 2020;
//! the province sets its dibao standards (urban and rural, from 1 February 2020) through
//! `assistance::standards::create`; every person becomes an active dibao beneficiary (one
//! `INSERT … SELECT`, as the tests make beneficiaries: 1–4 members, the standard times the
//! members less a recorded income) with a confirmed bank account, sealed with the service's key
//! (multi-row inserts); on PostgreSQL the filled tables are analysed (as autovacuum would have
//! them). Then the peak-RSS mark is reset (`/proc/self/clear_refs`), so the
//! reported peak is the roll work's.
//!
//! Timed: for each county, `payments::generate` (February 2020, paid early on 21 January),
//! `payments::approve` by a second official, `payments::export` (CSV, full account numbers,
//! totals row and checksum) by the approver. Then the raw baseline: per county, one
//! `INSERT … SELECT` of the same lines (same join of beneficiaries and persons, the confirmed
//! account looked up per line through its index, same conditions) into a copy of
//! `payment_roll_lines` with the same keys and indexes, each in its own committed write
//! transaction on the service's own pool; before it, untimed in the ratio, the same with the
//! accounts joined (as the service did before 2026-12-06) into another copy, for comparison.
//! Both sides are checked against each other and against an independent sum over the
//! beneficiaries.
//!
//! Last line: `payment-roll: <N> lines in <S> s, raw-ratio <Q>, peak RSS <M> MB` (raw-ratio =
//! raw seconds ÷ Backstop seconds, higher is better; peak RSS = `VmHWM` of this process).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use backstop_app::kernel::actor::{Actor, Via};
use backstop_app::{AppState, Config, assistance, payments};
use backstop_bench::roster::{Roster, load_regions};
use backstop_bench::run::{fresh_pg, measure, rt, scalar_i64};
use backstop_bench::{die, ready_official};
use backstop_core::clock::ManualClock;
use backstop_core::region::{RegionCode, Scope};
use backstop_core::role::{Role, RoleSet};
use chrono::{TimeZone, Utc};
use sqlx::Row;

/// The roll's month and pay date (early payment, as Qianjiang paid February on 21 January).
const MONTH: &str = "2020-02";
const PAY_DATE: &str = "2020-01-21";
/// Dibao standards in force from February 2020, fen per person per month (urban, rural).
const STANDARD: (i64, i64) = (62_000, 48_000);
/// Rows per multi-row insert of accounts.
const ACCOUNT_BATCH: usize = 500;

struct Args {
    persons: u64,
    province: String,
    data: PathBuf,
    bin: PathBuf,
    database_url: Option<String>,
    work: Option<PathBuf>,
    seed: u64,
}

fn args() -> Args {
    let mut a = Args {
        persons: 1_000_000,
        province: "42".into(),
        data: PathBuf::from("../shared/data/regions"),
        bin: backstop_bench::backstop_bin(),
        database_url: None,
        work: None,
        seed: 20_200_121,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        let num = |v: &str| -> u64 { backstop_bench::number(&k, v) };
        match k.as_str() {
            "--persons" => a.persons = num(&v),
            "--province" => a.province = v,
            "--data" => a.data = PathBuf::from(v),
            "--bin" => a.bin = PathBuf::from(v),
            "--database-url" => a.database_url = Some(v),
            "--work" => a.work = Some(PathBuf::from(v)),
            "--seed" => a.seed = num(&v),
            other => die(format!("unknown argument {other}")),
        }
    }
    if a.province.len() != 2 || !a.province.bytes().all(|b| b.is_ascii_digit()) {
        die("--province: a 2-digit province code, e.g. 42");
    }
    a
}

/// `VmHWM` (peak resident set) of this process, in kB.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// Reset `VmHWM` to the current resident set (Linux ≥ 4.0); false if the kernel refused.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// An official of the benchmark, acting through the service functions as a signed-in user.
async fn official(state: &AppState, name: &str, province: &str) -> Actor {
    ready_official(state, name, province)
        .await
        .unwrap_or_else(|e| die(e));
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(name)
        .fetch_one(state.db.pool())
        .await
        .unwrap_or_else(|e| die(format!("user {name}: {e}")));
    let code = RegionCode::parse(province).unwrap_or_else(|e| die(format!("{province}: {e}")));
    Actor {
        user_id: Some(id),
        username: name.to_string(),
        roles: RoleSet::new([Role::Official]),
        scope: Scope::Region(code),
        org_id: None,
        source: "bench".into(),
        via: Via::Session(0),
    }
}

/// The province's dibao standards, urban and rural, in force from the roll's month.
async fn standards(state: &AppState, actor: &Actor, province: &str) {
    for (area, fen) in [("urban", STANDARD.0), ("rural", STANDARD.1)] {
        let s = assistance::standards::NewStandard {
            region_code: province.to_string(),
            programme: "dibao".into(),
            area_kind: area.into(),
            component: "base".into(),
            amount: backstop_core::Fen(fen).to_yuan_string(),
            effective_from: format!("{MONTH}-01"),
        };
        assistance::standards::create(state, actor, &s)
            .await
            .unwrap_or_else(|e| die(format!("standard {area}: {e}")));
    }
}

/// Every person an active dibao beneficiary of their county: 1–4 members, urban (a third) or
/// rural, the standard times the members less a recorded monthly income (0–190 yuan).
async fn beneficiaries(state: &AppState, province: &str) -> u64 {
    let sql = format!(
        "INSERT INTO assistance_beneficiaries (province, programme, county_code, region_code, \
         household_id, person_id, members, area_kind, monthly_amount_fen, amount_detail, status, \
         since_month, until_month, exit_held, created_at, updated_at) \
         SELECT $1, 'dibao', SUBSTR(region_code, 1, 6), region_code, NULL, id, 1 + id % 4, \
         CASE WHEN id % 3 = 0 THEN 'urban' ELSE 'rural' END, \
         (CASE WHEN id % 3 = 0 THEN {u} ELSE {r} END) * (1 + id % 4) - (id % 20) * 1000, \
         'bench', 'active', '2019-06', NULL, 0, 0, 0 FROM persons WHERE region_code LIKE $2",
        u = STANDARD.0,
        r = STANDARD.1
    );
    let mut w = state.db.begin_write().await.unwrap_or_else(|e| die(e));
    let n = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(province)
        .bind(format!("{province}%"))
        .execute(w.conn())
        .await
        .unwrap_or_else(|e| die(format!("beneficiaries: {e}")))
        .rows_affected();
    w.commit().await.unwrap_or_else(|e| die(e));
    n
}

/// A confirmed bank account for every beneficiary person, the number sealed with the service's
/// key like an account entered through the API, in multi-row inserts of one transaction.
async fn accounts(state: &AppState, province: &str, entered: &str, confirmed: &str) -> u64 {
    let cols = "(province, person_id, region_code, bank_name, holder, account_enc, \
                account_masked, status, entered_by, confirmed_by, created_at, confirmed_at)";
    let row = "(?, ?, ?, '湖北农信', '本人', ?, ?, 'confirmed', ?, ?, 0, 0)";
    let mut w = state.db.begin_write().await.unwrap_or_else(|e| die(e));
    let (mut after, mut n) = (0_i64, 0_u64);
    loop {
        let rows = sqlx::query(
            "SELECT person_id, region_code FROM assistance_beneficiaries \
             WHERE province = $1 AND person_id > $2 ORDER BY person_id LIMIT $3",
        )
        .bind(province)
        .bind(after)
        .bind(ACCOUNT_BATCH as i64)
        .fetch_all(w.conn())
        .await
        .unwrap_or_else(|e| die(format!("beneficiaries: {e}")));
        if rows.is_empty() {
            break;
        }
        let sql = state.db.sql(&format!(
            "INSERT INTO payment_accounts {cols} VALUES {}",
            vec![row; rows.len()].join(", ")
        ));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in &rows {
            let pid: i64 = r.try_get("person_id").unwrap_or_else(|e| die(e));
            let region: String = r.try_get("region_code").unwrap_or_else(|e| die(e));
            let number = format!("622200{:013}", pid);
            let masked = format!("6222 **** {}", &number[number.len() - 4..]);
            q = q
                .bind(province.to_string())
                .bind(pid)
                .bind(region)
                .bind(state.keys.encrypt(number.as_bytes()))
                .bind(masked)
                .bind(entered.to_string())
                .bind(confirmed.to_string());
            after = pid;
        }
        n += q
            .execute(w.conn())
            .await
            .unwrap_or_else(|e| die(format!("accounts: {e}")))
            .rows_affected();
    }
    w.commit().await.unwrap_or_else(|e| die(e));
    n
}

/// PostgreSQL: statistics for the tables the set-up just filled in bulk, as autovacuum would
/// have them on a database in use. Without them the first counties' rolls were planned on
/// "4 accounts" and joined the province's 300,000–1,000,000 accounts by a nested loop over a
/// materialised scan (185 s for one county of 2,857 lines), until autovacuum's ANALYZE came by:
/// the "unexplained" PostgreSQL generate time of the first measurement.
async fn analyze(state: &AppState) {
    if state.db.backend() != backstop_store::Backend::Postgres {
        return;
    }
    for t in ["persons", "assistance_beneficiaries", "payment_accounts"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ANALYZE {t}")))
            .execute(state.db.pool())
            .await
            .unwrap_or_else(|e| die(format!("ANALYZE {t}: {e}")));
    }
}

/// Seconds spent in each service step, and what came out.
#[derive(Default)]
struct Backstop {
    generate: f64,
    approve: f64,
    export: f64,
    rolls: u64,
    lines: u64,
    total_fen: i64,
    file_bytes: u64,
}

/// Generate, approve and export the month's dibao roll of every county.
async fn backstop_rolls(
    state: &AppState,
    gen_: &Actor,
    appr: &Actor,
    counties: &[String],
) -> Backstop {
    let mut b = Backstop::default();
    for county in counties {
        let t = Instant::now();
        let req = payments::GenerateRequest {
            county: county.clone(),
            programme: "dibao".into(),
            month: MONTH.into(),
            pay_date: Some(PAY_DATE.into()),
        };
        let roll = payments::generate(state, gen_, &req)
            .await
            .unwrap_or_else(|e| die(format!("generate {county}: {e}")));
        let id = roll.roll.id;
        drop(roll);
        b.generate += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let approved = payments::approve(state, appr, id)
            .await
            .unwrap_or_else(|e| die(format!("approve {county}: {e}")));
        b.lines += approved.roll.line_count as u64;
        b.total_fen += approved.roll.total_fen;
        drop(approved);
        b.approve += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let file = payments::export(state, appr, id, &payments::ExportRequest::default())
            .await
            .unwrap_or_else(|e| die(format!("export {county}: {e}")));
        if file.checksum.len() != 64 {
            die(format!("export {county}: checksum {}", file.checksum));
        }
        b.file_bytes += file.bytes.len() as u64;
        drop(file);
        b.export += t.elapsed().as_secs_f64();
        b.rolls += 1;
    }
    b
}

/// A copy of `payment_roll_lines` (columns, keys, indexes) named `name`.
async fn raw_table(state: &AppState, name: &str) {
    let pool = state.db.pool();
    let mut ddl: Vec<String> = vec![format!("DROP TABLE IF EXISTS {name}")];
    if state.db.backend() == backstop_store::Backend::Postgres {
        ddl.push(format!(
            "CREATE TABLE {name} (LIKE payment_roll_lines INCLUDING ALL)"
        ));
    } else {
        let src: Vec<String> = sqlx::query_scalar(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'payment_roll_lines' \
             AND sql IS NOT NULL AND type IN ('table', 'index') ORDER BY type DESC",
        )
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| die(format!("DDL: {e}")));
        ddl.extend(src.into_iter().map(|d| {
            d.replace("payment_roll_lines", name)
                .replace("CREATE INDEX ", &format!("CREATE INDEX {name}_"))
                .replace(
                    "CREATE UNIQUE INDEX ",
                    &format!("CREATE UNIQUE INDEX {name}_"),
                )
        }));
    }
    for sql in ddl {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(pool)
            .await
            .unwrap_or_else(|e| die(format!("{sql}: {e}")));
    }
}

/// The account columns of a raw line: looked up per line through the
/// `payment_accounts_confirmed` index, as `payments/queries/generate.rs` does since
/// 2026-12-06 (`lookup`), or joined, as it did before (PostgreSQL hashes the province's
/// accounts for each county).
fn account_cols(lookup: bool) -> (String, String) {
    let on = "a.province = b.province AND a.person_id = b.person_id AND a.status = 'confirmed'";
    let changed =
        "CASE WHEN a.replaces_id IS NOT NULL AND a.first_roll_id IS NULL THEN 1 ELSE 0 END";
    if lookup {
        (
            format!(
                "(SELECT a.id FROM payment_accounts a WHERE {on}), \
                 COALESCE((SELECT {changed} FROM payment_accounts a WHERE {on}), 0)"
            ),
            String::new(),
        )
    } else {
        (
            format!("a.id, {changed}"),
            format!("LEFT JOIN payment_accounts a ON {on}"),
        )
    }
}

/// The raw engine: per county, one `INSERT … SELECT` into `table` of the same lines the
/// service generates (same conditions as `payments/queries/generate.rs`; the accounts looked
/// up or joined, see [`account_cols`]), each committed.
async fn raw_rolls(
    state: &AppState,
    (table, lookup): (&str, bool),
    province: &str,
    counties: &[String],
) -> (f64, u64) {
    let (cols, join) = account_cols(lookup);
    let sql = format!(
        "INSERT INTO {table} (province, roll_id, programme, month, batch, \
         person_id, household_id, beneficiary_id, region_code, members, amount_fen, account_id, \
         account_changed, exit_held) \
         SELECT b.province, $1, b.programme, $2, '', b.person_id, b.household_id, b.id, \
         b.region_code, b.members, b.monthly_amount_fen, {cols}, \
         CASE WHEN b.status = 'exited' THEN 1 ELSE 0 END \
         FROM assistance_beneficiaries b JOIN persons p ON p.id = b.person_id {join} \
         WHERE b.province = $3 AND b.county_code = $4 AND b.programme = 'dibao' \
         AND b.since_month <= $2 AND p.deceased = 0 \
         AND (b.status = 'active' OR (b.status = 'exited' AND b.exit_held = 1))"
    );
    let t = Instant::now();
    let mut n = 0;
    for (i, county) in counties.iter().enumerate() {
        let mut w = state.db.begin_write().await.unwrap_or_else(|e| die(e));
        n += sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(i as i64 + 1)
            .bind(MONTH)
            .bind(province)
            .bind(county.as_str())
            .execute(w.conn())
            .await
            .unwrap_or_else(|e| die(format!("raw {county}: {e}")))
            .rows_affected();
        w.commit().await.unwrap_or_else(|e| die(e));
    }
    (t.elapsed().as_secs_f64(), n)
}

async fn one_i64(state: &AppState, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(state.db.pool())
        .await
        .unwrap_or_else(|e| die(format!("{sql}: {e}")))
}

fn main() {
    let a = args();
    let (_tmp, work) = backstop_bench::work_dir(&a.bin, a.work.as_ref());
    let bs_dir = work.join("bs");
    if bs_dir.exists() {
        die(format!(
            "{} already holds a run; use an empty --work",
            work.display()
        ));
    }
    let roster = Roster::new(load_regions(&a.data, &a.province), a.seed);
    let county_count = roster.regions.counties.len();
    eprintln!(
        "province {}: {county_count} counties with villages",
        a.province
    );
    let file = work.join("roster.csv");
    roster.write(&file, 0, a.persons);
    let rt = rt();
    let (url, backend) = match &a.database_url {
        Some(admin) => (
            rt.block_on(fresh_pg(admin, &["bench_roll"]))[0].clone(),
            "postgres",
        ),
        None => (
            format!("sqlite://{}/backstop.db", bs_dir.display()),
            "sqlite",
        ),
    };
    let mut base: Vec<String> = vec![
        a.bin.to_string_lossy().to_string(),
        "--data-dir".into(),
        bs_dir.to_string_lossy().to_string(),
    ];
    if a.database_url.is_some() {
        base.extend(["--database-url".to_string(), url.clone()]);
    }
    let data = a.data.to_string_lossy().to_string();
    let f = file.to_string_lossy().to_string();
    for (label, extra) in [
        (
            "backstop regions import",
            ["regions", "import", data.as_str()],
        ),
        ("backstop persons import", ["persons", "import", f.as_str()]),
    ] {
        let mut cmd: Vec<&str> = base.iter().map(String::as_str).collect();
        cmd.extend(extra);
        measure(label, &work, &cmd);
    }
    let _ = std::fs::remove_file(&file);
    let persons = rt.block_on(scalar_i64(
        &url,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM persons",
    ));
    if persons as u64 != a.persons {
        die(format!("{persons} persons stored, expected {}", a.persons));
    }

    let province = a.province.clone();
    let last = rt.block_on(async move {
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2020, 1, 15, 2, 0, 0)
                .single()
                .unwrap_or_else(|| die("clock")),
        ));
        let state = backstop_app::open(
            &url,
            &backstop_app::key_path(&bs_dir),
            clock,
            Config::default(),
        )
        .await
        .unwrap_or_else(|e| die(format!("open: {e}")));
        let gen_ = official(&state, "roll.gen", &province).await;
        let appr = official(&state, "roll.appr", &province).await;
        let t = Instant::now();
        standards(&state, &gen_, &province).await;
        let n_ben = beneficiaries(&state, &province).await;
        let n_acc = accounts(&state, &province, &gen_.username, &appr.username).await;
        analyze(&state).await;
        eprintln!(
            "==> set-up: standards, {n_ben} beneficiaries, {n_acc} confirmed accounts in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let counties: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT county_code FROM assistance_beneficiaries ORDER BY county_code",
        )
        .fetch_all(state.db.pool())
        .await
        .unwrap_or_else(|e| die(e));
        let expected_fen = one_i64(
            &state,
            "SELECT CAST(SUM(monthly_amount_fen) AS BIGINT) FROM assistance_beneficiaries \
             WHERE status = 'active'",
        )
        .await;
        let setup_peak = peak_rss_kb();
        let reset = reset_peak_rss();
        eprintln!(
            "==> backstop: generate, approve, export for {} counties",
            counties.len()
        );
        let t = Instant::now();
        let b = backstop_rolls(&state, &gen_, &appr, &counties).await;
        let secs = t.elapsed().as_secs_f64();
        let peak = peak_rss_kb();
        eprintln!("    {secs:.2} s");
        eprintln!("==> raw: one INSERT … SELECT per county, the accounts joined (as before)");
        raw_table(&state, "raw_join_lines").await;
        let (join_secs, _) =
            raw_rolls(&state, ("raw_join_lines", false), &province, &counties).await;
        eprintln!("    {join_secs:.2} s");
        eprintln!(
            "==> raw: one INSERT … SELECT per county, the accounts looked up (as the service)"
        );
        raw_table(&state, "raw_roll_lines").await;
        let (raw_secs, raw_n) =
            raw_rolls(&state, ("raw_roll_lines", true), &province, &counties).await;
        eprintln!("    {raw_secs:.2} s");
        let raw_fen = one_i64(
            &state,
            "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM raw_roll_lines",
        )
        .await;
        let stored_lines = one_i64(
            &state,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM payment_roll_lines",
        )
        .await;
        if b.lines != n_ben
            || raw_n != n_ben
            || stored_lines as u64 != n_ben
            || b.total_fen != expected_fen
            || raw_fen != expected_fen
        {
            die(format!(
                "mismatch: beneficiaries {n_ben} ({expected_fen} fen); backstop {} lines \
                 ({} fen, {stored_lines} stored); raw {raw_n} lines ({raw_fen} fen)",
                b.lines, b.total_fen
            ));
        }
        println!(
            "backend {backend}: {} rolls, {} lines, {} fen (= the beneficiaries' sum, = raw); \
             bank files {:.1} MB",
            b.rolls,
            b.lines,
            b.total_fen,
            b.file_bytes as f64 / 1e6
        );
        println!(
            "backstop {secs:.2} s: generate {:.2} s, approve {:.2} s, export {:.2} s; \
             raw INSERT … SELECT {raw_secs:.2} s (accounts joined instead: {join_secs:.2} s)",
            b.generate, b.approve, b.export
        );
        println!(
            "peak RSS of the roll work {:.1} MB{}; of the set-up before it {:.1} MB",
            peak as f64 / 1024.0,
            if reset {
                ""
            } else {
                " (mark not reset: includes the set-up)"
            },
            setup_peak as f64 / 1024.0
        );
        state.db.close().await;
        format!(
            "payment-roll: {} lines in {secs:.1} s, raw-ratio {:.3}, peak RSS {:.1} MB",
            b.lines,
            raw_secs / secs,
            peak as f64 / 1024.0
        )
    });
    if let Some(admin) = &a.database_url {
        rt.block_on(drop_pg(admin, "bench_roll"));
    }
    println!("{last}");
}

/// Drop the benchmark's PostgreSQL database.
async fn drop_pg(admin: &str, name: &str) {
    use sqlx::Connection;
    if let Ok(mut c) = sqlx::AnyConnection::connect(admin).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut c)
        .await;
        let _ = c.close().await;
    }
}
