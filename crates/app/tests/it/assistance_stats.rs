//! Assistance statistics, per-county due times and emergency periods that end themselves
//! (issue 16 item 8 and items 2–3's leftovers), on both backends: the month's figures per
//! region against an independent recomputation from the rows written (totals = sum of the
//! lines), drill-down to the records, scope (out of scope 404) and bad input, the Excel export
//! in the monthly-statistics layout and the page; due times set at province and county,
//! inherited, audited and used by a new application; a period whose end date passed ending
//! itself once — across repeated ticks and a restart — with its held exits back for review
//! and its commitments listed.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{T, audit_count, count, each_backend, page, post_page, web_login, xlsx_text};

const A: &str = "130110";
const T1: &str = "130110100";
const T2: &str = "130110101";
const V1: &str = "130110100001";
const V2: &str = "130110100002";
const V3: &str = "130110101001";
const VB: &str = "130111100003";
const M: &str = "2026-03";
const DAY_MS: i64 = 24 * 3600 * 1000;

async fn person(t: &T, tok: &str, name: &str, region: &str) -> i64 {
    let (s, b) = t
        .post(
            "/api/v1/persons",
            tok,
            json!({"name": name, "region_code": region, "birth_date": "1960-01-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["id"].as_i64().expect("id")
}

async fn household(t: &T, tok: &str, region: &str, head: i64) -> i64 {
    let (s, b) = t
        .post(
            "/api/v1/households",
            tok,
            json!({"region_code": region, "address": "测试户",
                "members": [{"person_id": head, "relationship": "head"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["id"].as_i64().expect("id")
}

/// A NULL bound as text (`{}`), where `null` binds a NULL integer: PostgreSQL checks the type.
fn text_null() -> Value {
    json!({})
}

async fn exec(t: &T, sql: &str, binds: Vec<Value>) {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for b in binds {
        q = match b {
            Value::Null => q.bind(None::<i64>),
            Value::Number(n) => q.bind(n.as_i64().expect("int")),
            Value::String(s) => q.bind(s),
            Value::Object(_) => q.bind(None::<String>),
            other => panic!("bind {other}"),
        };
    }
    q.execute(t.state.db.pool()).await.expect("insert");
}

/// A beneficiary row as the test writes it.
struct Ben {
    region: &'static str,
    programme: &'static str,
    household: Option<i64>,
    person: i64,
    members: i64,
    status: &'static str,
    since: &'static str,
    until: Option<&'static str>,
    held: bool,
}

async fn insert_ben(t: &T, b: &Ben, emergency: Option<i64>) {
    exec(
        t,
        "INSERT INTO assistance_beneficiaries (province, programme, county_code, region_code, household_id, \
         person_id, members, area_kind, monthly_amount_fen, status, since_month, until_month, exit_held, \
         held_emergency_id, created_at, updated_at) VALUES ('13', $1, $2, $3, $4, $5, $6, 'urban', 70000, $7, $8, \
         $9, $10, $11, 0, 0)",
        vec![
            json!(b.programme),
            json!(&b.region[..6]),
            json!(b.region),
            b.household.map(|h| json!(h)).unwrap_or(Value::Null),
            json!(b.person),
            json!(b.members),
            json!(b.status),
            json!(b.since),
            b.until.map(|u| json!(u)).unwrap_or_else(text_null),
            json!(i64::from(b.held)),
            emergency.map(|e| json!(e)).unwrap_or(Value::Null),
        ],
    )
    .await;
}

/// Expected figures of one line, recomputed from the rows (independently of the service).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Want {
    households: i64,
    persons: i64,
    paid: i64,
    sent: i64,
    other_paid: i64,
    overdue: i64,
    aid: i64,
    held: i64,
}

fn covered(b: &Ben, month: &str) -> bool {
    b.since <= month && b.until.is_none_or(|u| u >= month) && b.status != "suspended"
}

fn recompute(bens: &[Ben], month: &str, prefix: &str, len: usize) -> BTreeMap<String, Want> {
    let mut out: BTreeMap<String, Want> = BTreeMap::new();
    let mut households: BTreeMap<(String, &str), BTreeSet<i64>> = BTreeMap::new();
    for b in bens.iter().filter(|b| b.region.starts_with(prefix)) {
        let key = b.region[..len.min(b.region.len())].to_string();
        let w = out.entry(key.clone()).or_default();
        if b.held {
            w.held += 1;
        }
        if !covered(b, month) {
            continue;
        }
        w.persons += b.members;
        if b.programme == "dibao" {
            w.households += 1;
        } else {
            match b.household {
                // a household is counted once per programme and line
                Some(h) => {
                    households.entry((key, b.programme)).or_default().insert(h);
                }
                None => w.households += 1,
            }
        }
    }
    for ((key, _), set) in households {
        out.entry(key).or_default().households += set.len() as i64;
    }
    out
}

fn line_of<'a>(st: &'a Value, code: &str) -> &'a Value {
    st["lines"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["region_code"] == code))
        .unwrap_or_else(|| panic!("no line {code}: {st}"))
}

fn got(l: &Value) -> Want {
    Want {
        households: l["households"].as_i64().expect("households"),
        persons: l["persons"].as_i64().expect("persons"),
        paid: l["paid_fen"].as_i64().expect("paid"),
        sent: l["sent_fen"].as_i64().expect("sent"),
        other_paid: l["other_paid_fen"].as_i64().expect("other"),
        overdue: l["overdue_total"].as_i64().expect("overdue"),
        aid: l["aid_pending"].as_i64().expect("aid"),
        held: l["exits_held"].as_i64().expect("held"),
    }
}

/// The sum of the lines' figures, as the test adds them.
fn sum_lines(st: &Value) -> Want {
    let mut w = Want::default();
    for l in st["lines"].as_array().expect("lines") {
        let g = got(l);
        w.households += g.households;
        w.persons += g.persons;
        w.paid += g.paid;
        w.sent += g.sent;
        w.other_paid += g.other_paid;
        w.overdue += g.overdue;
        w.aid += g.aid;
        w.held += g.held;
    }
    w
}

#[tokio::test]
async fn statistics_add_up_drill_down_and_stay_in_scope() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], A).await;
        let off_b = t.user("off.b", &["official"], "130111").await;
        let ts = t.user("ts.a", &["township_staff"], T1).await;
        let cw = t.user("cw.a", &["community_worker"], V1).await;
        let cw3 = t.user("cw.c", &["community_worker"], V3).await;
        let cwb = t.user("cw.b", &["community_worker"], VB).await;
        let p1 = person(&t, &cw, "赵一", V1).await;
        let p2 = person(&t, &cw, "钱二", V1).await;
        let p3 = person(&t, &cw3, "孙三", V3).await;
        let pb = person(&t, &cwb, "李四", VB).await;
        let h1 = household(&t, &cw, V1, p1).await;
        let h3 = household(&t, &cw3, V3, p3).await;

        // Beneficiaries of several programmes, months and states, in two townships and in
        // the neighbouring county (which must not count).
        let bens = vec![
            Ben { region: V1, programme: "dibao", household: Some(h1), person: p1, members: 3, status: "active", since: "2026-01", until: None, held: false },
            Ben { region: V1, programme: "tekun", household: Some(h1), person: p2, members: 1, status: "active", since: "2026-02", until: None, held: true },
            Ben { region: V1, programme: "tekun", household: Some(h1), person: p1, members: 1, status: "active", since: "2026-03", until: None, held: false },
            Ben { region: V1, programme: "orphan_allowance", household: None, person: p2, members: 1, status: "active", since: "2026-03", until: None, held: false },
            Ben { region: V2, programme: "dibao", household: None, person: p2, members: 2, status: "exited", since: "2025-06", until: Some("2026-03"), held: false },
            Ben { region: V2, programme: "dibao", household: None, person: p1, members: 4, status: "exited", since: "2025-06", until: Some("2026-02"), held: false },
            Ben { region: V2, programme: "dibao", household: None, person: p2, members: 5, status: "active", since: "2026-04", until: None, held: false },
            Ben { region: V3, programme: "dibao", household: Some(h3), person: p3, members: 2, status: "active", since: "2026-03", until: None, held: false },
            Ben { region: V3, programme: "disability_allowances", household: Some(h3), person: p3, members: 1, status: "suspended", since: "2026-01", until: None, held: false },
            Ben { region: T2, programme: "tekun", household: None, person: p3, members: 1, status: "active", since: "2026-01", until: None, held: false },
            Ben { region: VB, programme: "dibao", household: None, person: pb, members: 6, status: "active", since: "2026-01", until: None, held: false },
        ];
        for b in &bens {
            insert_ben(&t, b, None).await;
        }

        // Rolls: (county, programme, month, batch, status, lines as (region, fen, outcome)).
        type RollLines = Vec<(&'static str, i64, &'static str)>;
        let rolls: Vec<(&str, &str, &str, &str, &str, RollLines)> = vec![
            (A, "dibao", M, "", "reconciled", vec![(V1, 70_001, "paid"), (V1, 50_000, "failed"), (V3, 33_333, "paid"), (T2, 1_234, "paid")]),
            (A, "tekun", M, "", "exported", vec![(V1, 90_000, ""), (V2, 10_000, "")]),
            (A, "temporary", M, "", "draft", vec![(V1, 99_999, "")]),
            (A, "dibao", "2026-02", "", "reconciled", vec![(V1, 77_777, "paid")]),
            (A, "grant", M, "grant:1", "reconciled", vec![(V2, 20_000, "paid"), (V3, 20_000, "failed")]),
            ("130111", "dibao", M, "", "reconciled", vec![(VB, 88_888, "paid")]),
        ];
        let mut want_paid: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
        let mut pid = 9_000;
        for (rid, (county, prog, month, batch, status, lines)) in rolls.iter().enumerate() {
            let rid = rid as i64 + 1;
            exec(&t, "INSERT INTO payment_rolls (province, id, county_code, programme, month, batch, kind, pay_date, status, \
                 generated_by, generated_at) VALUES ('13', $1, $2, $3, $4, $5, 'monthly', '2026-03-01', $6, 'x', 0)",
                vec![json!(rid), json!(county), json!(prog), json!(month), json!(batch), json!(status)]).await;
            for (region, fen, outcome) in lines {
                pid += 1;
                exec(&t, "INSERT INTO payment_roll_lines (province, roll_id, programme, month, batch, person_id, region_code, \
                     amount_fen, outcome) VALUES ('13', $1, $2, $3, $4, $5, $6, $7, $8)",
                    vec![json!(rid), json!(prog), json!(month), json!(batch), json!(pid), json!(region), json!(fen), json!(outcome)]).await;
                // Independent reading of the basis: paid = reconciled and paid; sent = exported
                // or reconciled; grants apart.
                if *month != M || !region.starts_with(A) || !matches!(*status, "exported" | "reconciled") {
                    continue;
                }
                let key = region[..9].to_string();
                let e = want_paid.entry(key).or_default();
                let paid = if *status == "reconciled" && *outcome == "paid" { *fen } else { 0 };
                if *prog == "grant" {
                    e.2 += paid;
                } else {
                    e.0 += paid;
                    e.1 += fen;
                }
            }
        }

        // Applications: two this month (one overdue now), one last month; aid grants pending.
        let now = t.clock_now_ms();
        for (region, status, applied, due) in [
            (V1, "submitted", "2026-03-01", Some(now - DAY_MS)),
            (V1, "approved", "2026-03-02", None),
            (V3, "reviewed", "2026-02-20", Some(now - 2 * DAY_MS)),
            (VB, "submitted", "2026-03-01", Some(now - DAY_MS)),
        ] {
            let (hh, ap) = if region == V3 { (h3, p3) } else if region == VB { (h1, pb) } else { (h1, p1) };
            exec(&t, "INSERT INTO assistance_applications (province, programme, county_code, region_code, household_id, \
                 applicant_person_id, area_kind, members, covered, status, applied_on, due_at, due_step, created_by, \
                 created_at, updated_at) VALUES ('13', 'dibao', $1, $2, $3, $4, 'urban', 1, 1, $5, $6, $7, 'verify', 'x', 0, 0)",
                vec![json!(&region[..6]), json!(region), json!(hh), json!(ap), json!(status), json!(applied),
                    due.map(|d| json!(d)).unwrap_or(Value::Null)]).await;
        }
        for (region, person, status, fen) in [(V1, p1, "granted", 30_000), (V3, p3, "granted", 12_345), (V3, p3, "confirmed", 500)] {
            exec(&t, "INSERT INTO assistance_aid_grants (province, county_code, region_code, person_id, emergency_id, amount_fen, \
                 status, due_at, granted_by, created_at, updated_at) VALUES ('13', $1, $2, $3, 1, $4, $5, 0, 'x', 0, 0)",
                vec![json!(&region[..6]), json!(region), json!(person), json!(fen), json!(status)]).await;
        }

        // The county: one line per township (every township of the county, most empty).
        let (s, st) = t.get(&format!("/api/v1/assistance/statistics?region={A}&month={M}"), &off).await;
        assert_eq!(s, StatusCode::OK, "{st}");
        assert_eq!(st["month"], M);
        assert!(st["lines"].as_array().map(|l| l.len()).unwrap_or(0) >= 13, "{st}");
        let cov = recompute(&bens, M, A, 9);
        for code in [T1, T2] {
            let mut w = cov.get(code).cloned().unwrap_or_default();
            let (paid, sent, other) = want_paid.get(code).copied().unwrap_or_default();
            w.paid = paid;
            w.sent = sent;
            w.other_paid = other;
            w.overdue = if code == T1 { 1 } else { 0 };
            w.aid = 1;
            w.held = if code == T1 { 1 } else { 0 };
            if code == T2 {
                w.overdue = 1;
            }
            assert_eq!(got(line_of(&st, code)), w, "{code}");
        }
        // Hand-checked too: T1 covers dibao h1 (3) + tekun h1 (2 persons, 1 household) +
        // orphan without household (1); V2's exit in March still counts (2), February's not.
        assert_eq!(got(line_of(&st, T1)).persons, 3 + 2 + 1 + 2);
        assert_eq!(got(line_of(&st, T1)).households, 1 + 1 + 1 + 1);
        assert_eq!(got(line_of(&st, T1)).paid, 70_001);
        assert_eq!(got(line_of(&st, T1)).sent, 70_001 + 50_000 + 100_000);
        // The total is the sum of the lines, and of the independent recomputation.
        let total = got(&st["total"]);
        assert_eq!(total, sum_lines(&st));
        let all = recompute(&bens, M, A, 6);
        assert_eq!(total.persons, all[A].persons);
        assert_eq!(total.households, all[A].households);
        assert_eq!(total.paid, 70_001 + 33_333 + 1_234);
        assert_eq!(total.other_paid, 20_000);
        assert_eq!(total.aid, 2);
        assert_eq!(st["total"]["aid_pending_fen"], 42_345);
        let apps: BTreeMap<String, i64> = st["total"]["applications"].as_array().expect("apps").iter()
            .map(|a| (a["key"].as_str().unwrap_or("").to_string(), a["count"].as_i64().unwrap_or(0))).collect();
        assert_eq!((apps["submitted"], apps["approved"], apps["reviewed"]), (1, 1, 0), "{apps:?}");
        // Per programme, the columns add up to the line.
        for l in st["lines"].as_array().expect("lines") {
            let ps = l["programmes"].as_array().expect("programmes");
            assert_eq!(ps.len(), 6);
            assert_eq!(ps.iter().map(|p| p["persons"].as_i64().unwrap_or(0)).sum::<i64>(), l["persons"].as_i64().unwrap_or(-1));
            assert_eq!(ps.iter().map(|p| p["paid_fen"].as_i64().unwrap_or(0)).sum::<i64>(), l["paid_fen"].as_i64().unwrap_or(-1));
        }

        // Drill-down: the township's villages, then a village's records (masked).
        let (s, st1) = t.get(&format!("/api/v1/assistance/statistics?region={T1}&month={M}"), &ts).await;
        assert_eq!(s, StatusCode::OK, "{st1}");
        let by_village = recompute(&bens, M, T1, 12);
        assert_eq!(got(line_of(&st1, V1)).persons, by_village[V1].persons);
        assert_eq!(got(line_of(&st1, V2)).persons, by_village[V2].persons);
        assert_eq!(got(&st1["total"]), sum_lines(&st1));
        assert_eq!(got(&st1["total"]).persons, got(line_of(&st, T1)).persons);
        // T2 keeps a record at the township itself: a line "本级".
        let (_, st2) = t.get(&format!("/api/v1/assistance/statistics?region={T2}&month={M}"), &off).await;
        let own = line_of(&st2, T2);
        assert_eq!(own["own_level"], true);
        assert_eq!(own["persons"], 1);
        assert_eq!(got(&st2["total"]), sum_lines(&st2));
        let (s, recs) = t.get(&format!("/api/v1/assistance/statistics/records?region={V1}&month={M}"), &cw).await;
        assert_eq!(s, StatusCode::OK, "{recs}");
        assert_eq!(recs.as_array().map(|r| r.len()), Some(4), "{recs}");
        assert!(!recs.to_string().contains("赵一"), "masked: {recs}");
        let (_, recs) = t.get(&format!("/api/v1/assistance/statistics/records?region={V1}&month={M}&programme=tekun"), &cw).await;
        assert_eq!(recs.as_array().map(|r| r.len()), Some(2));

        // Scope: out of scope is not found; a village sees only itself.
        for (tok, region) in [(&off_b, A), (&ts, T2), (&cw, T1), (&cw, V2)] {
            let (s, _) = t.get(&format!("/api/v1/assistance/statistics?region={region}&month={M}"), tok).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{region}");
            let (s, _) = t.get(&format!("/api/v1/assistance/statistics/records?region={region}&month={M}"), tok).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{region}");
        }
        let (_, own_b) = t.get(&format!("/api/v1/assistance/statistics?month={M}"), &off_b).await;
        assert_eq!(own_b["region_code"], "130111");
        assert_eq!(own_b["total"]["persons"], 6);
        assert_eq!(own_b["total"]["paid_fen"], 88_888);
        // Bad input: a clear Chinese error.
        for bad in ["2026-13", "202603", "2026-3", "x"] {
            let (s, e) = t.get(&format!("/api/v1/assistance/statistics?region={A}&month={bad}"), &off).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {e}");
            assert!(e["message"].as_str().unwrap_or("").contains("月份"), "{e}");
        }
        let (s, _) = t.get(&format!("/api/v1/assistance/statistics/records?region={A}&programme=xiaokang"), &off).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        // Default month: this month on the clock.
        let (_, d) = t.get(&format!("/api/v1/assistance/statistics?region={A}"), &off).await;
        assert_eq!(d["month"], M);

        // Excel: the monthly-statistics layout, totals row equal to the API's.
        let (s, h, x) = t.raw("GET", &format!("/api/v1/assistance/statistics/export?region={A}&month={M}"), Some(&off), None, &[]).await;
        assert_eq!(s, StatusCode::OK);
        assert!(h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").contains("spreadsheetml"));
        let text = xlsx_text(&x);
        for want in ["社会救助统计月报", "最低生活保障", "户数", "人数", "支出金额(元)", "合计", "获鹿镇", "1045.68"] {
            assert!(text.contains(want), "{want} in the workbook");
        }
        let (s, _, _) = t.raw("GET", &format!("/api/v1/assistance/statistics/export?region={A}&month={M}"), Some(&off_b), None, &[]).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // The page: lines, charts, drill links, the export; out of scope 404.
        let cookie = web_login(&t, "off.a").await;
        let (s, html) = page(&t, &format!("/assistance/statistics?region={A}&month={M}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        for want in ["救助统计", "id=\"chart-persons\"", "id=\"chart-paid\"", "<rect", "合计", "1045.68",
            &format!("/assistance/statistics?region={T1}&#38;month={M}"), "/assistance/statistics/export.xlsx?"] {
            assert!(html.contains(want), "{want}: {}", &html[html.find("stats-lines").unwrap_or(0)..][..600.min(html.len())]);
        }
        let (s, html) = page(&t, &format!("/assistance/statistics?region={V1}&month={M}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("id=\"stats-records\""), "records at a village");
        assert!(!html.contains("赵一"), "names masked");
        let (s, _) = page(&t, &format!("/assistance/statistics?region=130111&month={M}"), &cookie).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = page(&t, &format!("/assistance/statistics/export.xlsx?region={A}&month={M}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn due_times_per_county_inherit_and_are_audited() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let prov = t.user("off.p", &["official"], "13").await;
        let off = t.user("off.a", &["official"], A).await;
        let off_b = t.user("off.b", &["official"], "130111").await;
        let ts = t.user("ts.a", &["township_staff"], T1).await;
        let cw = t.user("cw.a", &["community_worker"], V1).await;
        let (s, d) = t.get(&format!("/api/v1/assistance/settings?region={A}"), &off).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["set_at"], Value::Null);
        assert_eq!(d["settings"]["review_days"], 10);
        let body = |region: &str, verify: i64| {
            json!({"region_code": region, "verify_days": verify, "review_days": 8, "publicity_days": 7,
                "approve_days": 6, "aid_first_days": 5})
        };
        // Who may set, where, and bad input: nothing written.
        assert_eq!(t.call("PUT", "/api/v1/assistance/settings", Some(&cw), Some(body(A, 3))).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.call("PUT", "/api/v1/assistance/settings", Some(&off_b), Some(body(A, 3))).await.0, StatusCode::NOT_FOUND);
        for (b, field) in [(body(T1, 3), "region_code"), (body(A, 0), "verify_days"), (body(A, 91), "verify_days")] {
            let (s, e) = t.call("PUT", "/api/v1/assistance/settings", Some(&off), Some(b)).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert!(e.to_string().contains(field), "{e}");
        }
        let (s, e) = t.call("PUT", "/api/v1/assistance/settings", Some(&off), Some(json!({"region_code": A, "verify_days": "x"}))).await;
        assert!(s.is_client_error(), "{e}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_settings").await, 0);
        // The province sets; the county inherits.
        let (s, d) = t.call("PUT", "/api/v1/assistance/settings", Some(&prov), Some(body("13", 4))).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["own"], true);
        let (_, d) = t.get(&format!("/api/v1/assistance/settings?region={A}"), &off).await;
        assert_eq!((d["set_at"].clone(), d["own"].clone(), d["settings"]["verify_days"].clone()), (json!("13"), json!(false), json!(4)));
        let (_, d) = t.get("/api/v1/assistance/settings", &ts).await;
        assert_eq!(d["settings"]["verify_days"], 4, "a township reads its county's: {d}");
        // The county sets its own; the neighbour still inherits the province's.
        let (s, d) = t.call("PUT", "/api/v1/assistance/settings", Some(&off), Some(body(A, 3))).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!((d["set_at"].clone(), d["settings"]["verify_days"].clone()), (json!(A), json!(3)));
        let (_, d) = t.get("/api/v1/assistance/settings", &off_b).await;
        assert_eq!(d["settings"]["verify_days"], 4);
        assert_eq!(audit_count(&t, "assistance.settings_set").await, 2);

        // A new application is due by the county's own verify time.
        let (s, _) = t.post("/api/v1/assistance/standards", &off, json!({"region_code": A, "programme": "dibao",
            "area_kind": "urban", "component": "base", "amount": "700", "effective_from": "2026-03-02"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let p = person(&t, &cw, "吴甲", V1).await;
        let h = household(&t, &cw, V1, p).await;
        let (s, a) = t.post("/api/v1/assistance/applications", &cw, json!({"programme": "dibao", "household_id": h,
            "area_kind": "urban", "members": [{"person_id": p, "authorised": true}]})).await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        let due: i64 = sqlx::query_scalar("SELECT due_at FROM assistance_applications WHERE id = $1")
            .bind(a["id"].as_i64().expect("id")).fetch_one(t.state.db.pool()).await.expect("due");
        assert_eq!(due, t.clock_now_ms() + 3 * DAY_MS);

        // The page: where the times come from, the form; a refusal keeps the input (422).
        let cookie = web_login(&t, "off.a").await;
        let (s, html) = page(&t, &format!("/assistance/settings?region={A}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("本级已设定") && html.contains("id=\"settings-form\""), "{html}");
        let form = format!("region_code={A}&verify_days=2&review_days=999&publicity_days=7&approve_days=6&aid_first_days=5");
        let (s, html) = post_page(&t, "/assistance/settings", &cookie, &form).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("value=\"999\"") && html.contains("1 到 90"), "{html}");
        let form = format!("region_code={A}&verify_days=2&review_days=9&publicity_days=7&approve_days=6&aid_first_days=5");
        let (s, _) = post_page(&t, "/assistance/settings", &cookie, &form).await;
        assert!(s.is_redirection(), "{s}");
        let (_, d) = t.get(&format!("/api/v1/assistance/settings?region={A}"), &off).await;
        assert_eq!(d["settings"]["verify_days"], 2);
        assert_eq!(audit_count(&t, "assistance.settings_set").await, 3);
        let cw_cookie = web_login(&t, "cw.a").await;
        let (s, html) = page(&t, "/assistance/settings", &cw_cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(!html.contains("id=\"settings-form\""), "no form for a community worker");
    })
    .await;
}

#[tokio::test]
async fn periods_end_themselves_once() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], A).await;
        let cw = t.user("cw.a", &["community_worker"], V1).await;
        let decl = json!({"region_code": A, "name": "疫情应急期", "starts_on": "2026-03-01", "ends_on": "2026-03-03",
            "measures": ["commitment", "freeze_exits"]});
        let (s, period) = t.post("/api/v1/assistance/emergencies", &off, decl).await;
        assert_eq!(s, StatusCode::CREATED, "{period}");
        let eid = period["id"].as_i64().expect("id");
        // Another, still running, must stay.
        let (_, later) = t.post("/api/v1/assistance/emergencies", &off, json!({"region_code": A, "name": "后续",
            "starts_on": "2026-03-01", "ends_on": "2026-04-30", "measures": ["aid_first"]})).await;
        let p = person(&t, &cw, "郑甲", V1).await;
        let h = household(&t, &cw, V1, p).await;
        insert_ben(&t, &Ben { region: V1, programme: "dibao", household: Some(h), person: p, members: 1,
            status: "active", since: "2026-03", until: None, held: true }, Some(eid)).await;
        exec(&t, "INSERT INTO assistance_applications (province, programme, county_code, region_code, household_id, \
             applicant_person_id, area_kind, members, covered, status, applied_on, emergency_id, emergency_measures, \
             commitment, created_by, created_at, updated_at) VALUES ('13', 'dibao', $1, $2, $3, $4, 'urban', 1, 1, \
             'approved', '2026-03-02', $5, 'commitment,freeze_exits', 1, 'x', 0, 0)",
            vec![json!(A), json!(V1), json!(h), json!(p), json!(eid)]).await;
        let end = backstop_app::assistance::emergency::end_lapsed;

        // On its last day: nothing ends.
        t.clock.advance(chrono::Duration::days(1));
        assert_eq!(end(&t.state).await.expect("tick").ended, 0);
        let cw = t.login("cw.a").await;
        assert_eq!(t.get("/api/v1/assistance/commitments", &cw).await.1.as_array().map(|a| a.len()), Some(0));
        // The day after: it ends, the held exit comes back for review, the commitment is listed.
        t.clock.advance(chrono::Duration::days(1));
        let r = end(&t.state).await.expect("tick");
        assert_eq!((r.ended, r.exits_released, r.commitments_to_verify), (1, 1, 1));
        let off = t.login("off.a").await;
        let cw = t.login("cw.a").await;
        let (_, e) = t.get(&format!("/api/v1/assistance/emergencies/{eid}"), &off).await;
        assert_eq!((e["status"].clone(), e["ended_by"].clone()), (json!("ended"), json!("system")));
        let (_, l) = t.get(&format!("/api/v1/assistance/emergencies/{}", later["id"]), &off).await;
        assert_eq!(l["status"], "declared");
        let (_, held) = t.get("/api/v1/assistance/beneficiaries?held=true", &off).await;
        assert_eq!((held[0]["exit_held"].clone(), held[0]["exit_to_review"].clone()), (json!(false), json!(true)), "{held}");
        assert_eq!(t.get("/api/v1/assistance/commitments", &cw).await.1.as_array().map(|a| a.len()), Some(1));
        assert_eq!(audit_count(&t, "assistance.emergency_lapse").await, 1);
        // Again, and after a restart: nothing more.
        assert_eq!(end(&t.state).await.expect("tick"), Default::default());
        let again = t.reopen().await;
        assert_eq!(end(&again).await.expect("tick").ended, 0);
        again.db.close().await;
        assert_eq!(audit_count(&t, "assistance.emergency_lapse").await, 1);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_beneficiaries WHERE exit_review = 1").await, 1);
        // Ended by hand earlier: the tick leaves it alone (no second audit entry).
        let (_, p2) = t.post("/api/v1/assistance/emergencies", &off, json!({"region_code": A, "name": "短期",
            "starts_on": "2026-03-04", "ends_on": "2026-03-04", "measures": ["commitment"]})).await;
        let (s, _) = t.post(&format!("/api/v1/assistance/emergencies/{}/end", p2["id"]), &off, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        t.clock.advance(chrono::Duration::days(1));
        assert_eq!(end(&t.state).await.expect("tick").ended, 0);
        assert_eq!(audit_count(&t, "assistance.emergency_lapse").await, 1);
    })
    .await;
}

/// The statistics and settings pages on a phone-sized window: no sideways scrolling, no
/// English words; drill down from the county to a township; set the county's due times.
#[test]
fn statistics_and_settings_pages_on_a_phone() {
    use crate::browser::{Server, assert_fits, driver, fill, log_in, ready_user, wait_path};
    const PASSWORD: &str = "Tq8#Rv2!mZ5pW";
    let Some(d) = driver(390, 844) else { return };
    let server = Server::start_with(backstop_app::Config::default());
    ready_user(&server, "county.stats", "official", A, PASSWORD);
    log_in(&d, &server, "county.stats", PASSWORD);
    let english = |d: &crate::webdriver::Driver, page: &str| {
        let v = d.execute(
            "return (document.body.innerText.match(/[A-Za-z][A-Za-z_]+/g) || [])",
            vec![],
        );
        let words: Vec<String> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|w| w.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let words: Vec<&String> = words
            .iter()
            .filter(|w| !["Backstop", "Excel", "county", "stats"].contains(&w.as_str()))
            .collect();
        assert!(words.is_empty(), "{page}: English on the page: {words:?}");
    };
    d.goto(&server.url(&format!("/assistance/statistics?region={A}&month={M}")));
    assert!(
        d.page_source().contains("id=\"chart-persons\""),
        "charts drawn"
    );
    assert_fits(&d, "statistics");
    english(&d, "statistics");
    d.find("#stats-lines a").click();
    wait_path(&d, "township statistics", |p| {
        p.contains(&format!("region={T1}"))
    });
    assert_fits(&d, "township statistics");
    assert!(
        d.page_source().contains("stats-records"),
        "records at a township"
    );
    d.goto(&server.url(&format!("/assistance/settings?region={A}")));
    assert_fits(&d, "settings");
    english(&d, "settings");
    fill(&d, "#settings-form input[name=verify_days]", "3");
    d.find("#settings-form button[type=submit]").click();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(d.page_source().contains("本级已设定"), "saved");
    assert_eq!(d.find("#days-verify_days").text(), "3");
}
