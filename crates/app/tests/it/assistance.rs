//! Social assistance (issue 16 items 1–3): standards (inherited, history, no past date, tekun
//! floor), the normal path of an application end to end with due times on the injected clock
//! and the overdue list, amounts for households of several sizes against an independent
//! recomputation, close relatives and cross-checks blocking, each emergency measure on and off
//! (a refused aid-first grant, frozen exits released at the end, the commitment list,
//! same-month approval), scope for every role and bad input with nothing written.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{T, audit_count, count, each_backend};

const A: &str = "130110";
const T1: &str = "130110100";
const V1: &str = "130110100001";
const VB: &str = "130111100003";

async fn person(t: &T, tok: &str, name: &str, region: &str, birth: &str) -> i64 {
    let (s, b) = t
        .post(
            "/api/v1/persons",
            tok,
            json!({"name": name, "region_code": region, "birth_date": birth}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["id"].as_i64().expect("id")
}

async fn household(t: &T, tok: &str, region: &str, head: i64, others: &[i64]) -> i64 {
    let mut members = vec![json!({"person_id": head, "relationship": "head"})];
    for o in others {
        members.push(json!({"person_id": o, "relationship": "child"}));
    }
    let (s, b) = t
        .post(
            "/api/v1/households",
            tok,
            json!({"region_code": region, "address": "测试户", "members": members}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["id"].as_i64().expect("id")
}

async fn standard(
    t: &T,
    tok: &str,
    region: &str,
    programme: &str,
    area: &str,
    comp: &str,
    amount: &str,
) {
    let (s, b) = t
        .post("/api/v1/assistance/standards", tok, json!({"region_code": region, "programme": programme,
            "area_kind": area, "component": comp, "amount": amount, "effective_from": "2026-03-02"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

async fn apply(t: &T, tok: &str, key: Option<&str>, body: Value) -> (StatusCode, Value) {
    let headers: Vec<(&str, &str)> = key
        .map(|k| vec![("idempotency-key", k)])
        .unwrap_or_default();
    let (s, _, b) = t
        .raw(
            "POST",
            "/api/v1/assistance/applications",
            Some(tok),
            Some(body.to_string()),
            &headers,
        )
        .await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn step(t: &T, tok: &str, id: i64, step: &str) -> (StatusCode, Value) {
    t.post(
        &format!("/api/v1/assistance/applications/{id}/steps"),
        tok,
        json!({"step": step, "reason": "同意"}),
    )
    .await
}

fn msg(b: &Value) -> String {
    b["message"].as_str().unwrap_or("").to_string()
}

/// The dibao amount recomputed independently: yearly incomes summed, divided by 12 with the
/// remainder dropped, subtracted from the standard total, supplements half-up to the fen.
fn dibao(standard: i64, incomes_12m: &[i64], supplements_pct: &[i64]) -> Option<i64> {
    let income = incomes_12m.iter().sum::<i64>().div_euclid(12);
    let total = standard * incomes_12m.len() as i64;
    if income >= total {
        return None;
    }
    let sup: i64 = supplements_pct
        .iter()
        .map(|p| (standard * p * 100 + 5_000) / 10_000)
        .sum();
    Some(total - income + sup)
}

#[tokio::test]
async fn standards_inherit_keep_history_and_refuse_the_past() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], A).await;
        let off_b = t.user("off.b", &["official"], "130111").await;
        let prov = t.user("off.p", &["official"], "13").await;
        let cw = t.user("cw.a", &["community_worker"], V1).await;
        let body = json!({"region_code": A, "programme": "dibao", "area_kind": "urban", "component": "base",
            "amount": "750.00", "effective_from": "2026-03-02"});
        assert_eq!(t.post("/api/v1/assistance/standards", &cw, body.clone()).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.post("/api/v1/assistance/standards", &off_b, body.clone()).await.0, StatusCode::NOT_FOUND);
        for (field, value, want) in [
            ("effective_from", "2026-03-01", "补发"),
            ("amount", "-1", "负数"),
            ("amount", "750.005", "分"),
            ("programme", "xiaokang", "未知的救助项目"),
            ("component", "bonus", "未知的标准组成"),
        ] {
            let mut b = body.clone();
            b[field] = json!(value);
            let (s, e) = t.post("/api/v1/assistance/standards", &off, b).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {e}");
            assert!(msg(&e).contains(want), "{field}: {e}");
        }
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_standards").await, 0);
        let (s, b) = t.post("/api/v1/assistance/standards", &off, body.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["amount_fen"], 75_000);
        assert_eq!(t.post("/api/v1/assistance/standards", &off, body.clone()).await.0, StatusCode::CONFLICT);
        // A later standard is history beside the first.
        let mut later = body.clone();
        later["effective_from"] = json!("2026-07-01");
        later["amount"] = json!("800");
        assert_eq!(t.post("/api/v1/assistance/standards", &off, later).await.0, StatusCode::CREATED);
        // The province sets the rural standard; the county inherits it (listed for the county).
        standard(&t, &prov, "13", "dibao", "rural", "base", "500").await;
        let (s, list) = t.get("/api/v1/assistance/standards?programme=dibao", &off).await;
        assert_eq!(s, StatusCode::OK);
        let rows = list.as_array().expect("list");
        assert_eq!(rows.len(), 3, "{list}");
        assert!(rows.iter().any(|r| r["region_code"] == "13" && r["amount_fen"] == 50_000));
        let (_, list_b) = t.get("/api/v1/assistance/standards", &off_b).await;
        assert!(list_b.as_array().expect("list").iter().all(|r| r["region_code"] != A), "{list_b}");
        // Tekun basic below 1.3 × the dibao standard in force (750 → 975) is refused.
        let (s, e) = t.post("/api/v1/assistance/standards", &off, json!({"region_code": A, "programme": "tekun",
            "area_kind": "urban", "component": "base", "amount": "974.99", "effective_from": "2026-03-02"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(msg(&e).contains("1.3 倍"), "{e}");
        standard(&t, &off, A, "tekun", "urban", "base", "975").await;
        assert_eq!(audit_count(&t, "assistance.standard_set").await, 4);
    })
    .await;
}

#[tokio::test]
async fn the_normal_path_with_due_times_amounts_and_scope() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], A).await;
        let off_b = t.user("off.b", &["official"], "130111").await;
        t.make_user("ts.a", &["township_staff"], T1).await;
        let ts_c = t.user("ts.c", &["township_staff"], "130110101").await;
        let cw = t.user("cw.a", &["community_worker"], V1).await;
        let cw_b = t.user("cw.b", &["community_worker"], VB).await;
        let fin = t.user("fin.a", &["charity_finance"], A).await;
        standard(&t, &off, A, "dibao", "urban", "base", "750").await;
        let p1 = person(&t, &cw, "王大", V1, "1970-01-01").await;
        let p2 = person(&t, &cw, "李二", V1, "1972-02-02").await;
        let p3 = person(&t, &cw, "王小", V1, "2015-05-05").await;
        let hh = household(&t, &cw, V1, p1, &[p2, p3]).await;
        let body = json!({"programme": "dibao", "household_id": hh, "area_kind": "urban", "note": "因病致贫",
            "members": [{"person_id": p1, "earned_12m": "12,000.00", "authorised": true},
                        {"person_id": p2, "other_12m": "600", "exempt_12m": "600", "authorised": true},
                        {"person_id": p3, "supplement_percent": 20}]});

        // Bad input: a Chinese error, nothing written.
        let mut bad = Vec::new();
        let mut b = body.clone();
        b["members"][1]["authorised"] = json!(false);
        bad.push((b, "电子授权"));
        let mut b = body.clone();
        b["members"][2]["person_id"] = json!(999_999);
        bad.push((b, "人员库中不存在这名成员"));
        let mut b = body.clone();
        b["members"][0]["earned_12m"] = json!("100.001");
        bad.push((b, "分"));
        let mut b = body.clone();
        b["members"][0]["earned_12m"] = json!("-5");
        bad.push((b, "负数"));
        let mut b = body.clone();
        b["programme"] = json!("unknown");
        bad.push((b, "未知的救助项目"));
        let mut b = body.clone();
        b["commitment"] = json!(true);
        bad.push((b, "个人承诺"));
        for (b, want) in bad {
            let (s, e) = apply(&t, &cw, None, b).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert!(msg(&e).contains(want), "{want}: {e}");
        }
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_applications").await, 0);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_application_members").await, 0);
        // Scope and roles: another county's worker does not find the household; no permission.
        assert_eq!(apply(&t, &cw_b, None, body.clone()).await.0, StatusCode::NOT_FOUND);
        assert_eq!(apply(&t, &fin, None, body.clone()).await.0, StatusCode::FORBIDDEN);

        // Entered on a phone, sent twice with one key: one application.
        let (s, app) = apply(&t, &cw, Some("phone-retry-0001"), body.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{app}");
        let (s, again) = apply(&t, &cw, Some("phone-retry-0001"), body.clone()).await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(again["id"], app["id"]);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_applications").await, 1);
        let id = app["id"].as_i64().expect("id");
        assert_eq!(app["status"], "submitted");
        assert_eq!(app["applicant_name"], "王*");
        assert_eq!(app["note"], "因病致贫");
        let want = dibao(75_000, &[1_200_000, 0, 0], &[20]).expect("entitled");
        assert_eq!(app["monthly_amount_fen"], want, "{app}");
        assert_eq!(want, 75_000 * 3 - 100_000 + 15_000);
        assert_eq!(app["member_list"][0]["authorisation_version"], "电子授权书 2026 版 v1");
        assert!(app["member_list"][0]["authorised_at"].is_string());
        assert!(app["member_list"][2]["authorised_at"].is_null());
        // The income is sealed at rest: no clear figure in the row.
        let clear = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_application_members WHERE income_enc IS NULL").await;
        assert_eq!(clear, 0);
        // Scope: the sibling county and a township not holding it do not find it.
        for tok in [&off_b, &cw_b, &ts_c] {
            assert_eq!(t.get(&format!("/api/v1/assistance/applications/{id}"), tok).await.0, StatusCode::NOT_FOUND);
            let (_, l) = t.get("/api/v1/assistance/applications", tok).await;
            assert!(l.as_array().is_none_or(|a| a.is_empty()), "{l}");
        }
        assert_eq!(t.get("/api/v1/assistance/applications?region=130111", &off).await.0, StatusCode::NOT_FOUND);

        // Due in 5 days: not overdue yet; after 6 days it is, at the verify level.
        let (_, o) = t.get("/api/v1/assistance/overdue", &off).await;
        assert_eq!(o.as_array().map(|a| a.len()), Some(0), "{o}");
        t.clock.advance(chrono::Duration::days(6));
        let off = t.login("off.a").await;
        let ts = t.login("ts.a").await;
        let cw = t.login("cw.a").await;
        let off_b = t.login("off.b").await;
        let (_, o) = t.get("/api/v1/assistance/overdue?level=verify", &off).await;
        assert_eq!(o.as_array().map(|a| a.len()), Some(1), "{o}");
        assert_eq!(o[0]["id"], id);
        let (_, o) = t.get("/api/v1/assistance/overdue?level=review", &off).await;
        assert_eq!(o.as_array().map(|a| a.len()), Some(0));
        let (_, o) = t.get("/api/v1/assistance/overdue", &off_b).await;
        assert_eq!(o.as_array().map(|a| a.len()), Some(0));

        // Each step by its role.
        assert_eq!(step(&t, &off_b, id, "verify").await.0, StatusCode::NOT_FOUND);
        assert_eq!(step(&t, &cw, id, "review").await.0, StatusCode::FORBIDDEN);
        let (s, a) = step(&t, &cw, id, "verify").await;
        assert_eq!(s, StatusCode::OK, "{a}");
        assert_eq!(a["status"], "verified");
        assert_eq!(a["due_step"], "review");
        assert_eq!(a["overdue"], false);
        assert_eq!(step(&t, &cw, id, "verify").await.0, StatusCode::CONFLICT);
        assert_eq!(step(&t, &ts, id, "review").await.1["status"], "reviewed");
        let (s, a) = step(&t, &ts, id, "publicise").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(a["status"], "publicised");
        // The publicity list: name, household size and amount only.
        let (_, pl) = t.get(&format!("/api/v1/assistance/publicity?region={V1}"), &cw).await;
        let line = pl[0].as_object().expect("line");
        let mut keys: Vec<&String> = line.keys().collect();
        keys.sort();
        assert_eq!(keys, ["household_size", "monthly_amount_fen", "name", "publicity_ends_at"]);
        assert_eq!(pl[0]["name"], "王*");
        assert_eq!(pl[0]["household_size"], 3);
        // Approval by the county only, after the publicity.
        assert_eq!(step(&t, &ts, id, "approve").await.0, StatusCode::FORBIDDEN);
        let (s, e) = step(&t, &off, id, "approve").await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(msg(&e).contains("公示期未满"), "{e}");
        t.clock.advance(chrono::Duration::days(7));
        let off = t.login("off.a").await;
        let cw = t.login("cw.a").await;
        let (s, a) = step(&t, &off, id, "approve").await;
        assert_eq!(s, StatusCode::OK, "{a}");
        assert_eq!(a["status"], "approved");
        let bid = a["beneficiary_id"].as_i64().expect("beneficiary");
        let (_, bl) = t.get("/api/v1/assistance/beneficiaries", &off).await;
        let ben = bl.as_array().expect("list").iter().find(|b| b["id"] == bid).expect("row").clone();
        assert_eq!(ben["status"], "active");
        assert_eq!(ben["monthly_amount_fen"], want);
        assert_eq!(ben["since_month"], "2026-04", "from the month after approval");
        assert!(ben["amount_detail"].as_str().unwrap_or("").contains("保障标准 750.00 元 × 3 人"), "{ben}");
        assert_eq!(audit_count(&t, "assistance.application_create").await, 1);
        assert_eq!(audit_count(&t, "assistance.application_step").await, 4);
        assert_eq!(a["steps"].as_array().map(|s| s.len()), Some(5));

        // Households of several sizes and incomes, against the independent recomputation.
        for (n, incomes) in [(1usize, vec![0i64]), (2, vec![600_000, 0]), (4, vec![1_800_000, 360_001, 0, 0]), (5, vec![1, 2, 3, 4, 5])] {
            let mut ids = Vec::new();
            for i in 0..n {
                ids.push(person(&t, &cw, &format!("户{n}员{i}"), V1, "1980-01-01").await);
            }
            let h = household(&t, &cw, V1, ids[0], &ids[1..]).await;
            let members: Vec<Value> = ids.iter().zip(&incomes).map(|(p, inc)| json!({"person_id": p,
                "other_12m": format!("{}.{:02}", inc / 100, inc % 100), "authorised": true})).collect();
            let (s, a) = apply(&t, &cw, None, json!({"programme": "dibao", "household_id": h, "area_kind": "urban", "members": members})).await;
            assert_eq!(s, StatusCode::CREATED, "{a}");
            assert_eq!(a["monthly_amount_fen"].as_i64(), dibao(75_000, &incomes, &[]), "{n}: {a}");
        }
    })
    .await;
}

#[tokio::test]
async fn close_relatives_and_crosschecks_block() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], A).await;
        let ts = t.user("ts.a", &["township_staff"], T1).await;
        let cw = t.user("cw.a", &["community_worker"], V1).await;
        standard(&t, &off, A, "tekun", "rural", "care_full", "300").await;
        let (s, e) = apply(&t, &cw, None, json!({})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
        let p = person(&t, &cw, "赵老", V1, "1940-01-01").await;
        let h = household(&t, &cw, V1, p, &[]).await;
        let body = json!({"programme": "tekun", "household_id": h, "area_kind": "rural", "self_care": "care_full",
            "members": [{"person_id": p, "authorised": true}]});
        let (s, a) = apply(&t, &cw, None, body).await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        let id = a["id"].as_i64().expect("id");
        assert!(a["monthly_amount_fen"].is_null(), "no standard yet: {a}");
        assert!(a["amount_detail"].as_str().unwrap_or("").contains("尚未设定"), "{a}");
        // The township staff's close relative: marked by the worker, the staff cannot act.
        let (s, e) = t.post(&format!("/api/v1/assistance/applications/{id}/related"), &cw, json!({"staff_username": "nobody"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, a) = t.post(&format!("/api/v1/assistance/applications/{id}/related"), &cw, json!({"staff_username": "ts.a"})).await;
        assert_eq!(s, StatusCode::OK, "{a}");
        assert_eq!(a["related_staff"], "ts.a");
        assert_eq!(step(&t, &cw, id, "verify").await.0, StatusCode::OK);
        let (s, e) = step(&t, &ts, id, "review").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(msg(&e).contains("近亲属"), "{e}");
        assert_eq!(step(&t, &off, id, "review").await.0, StatusCode::OK);
        assert_eq!(step(&t, &off, id, "publicise").await.0, StatusCode::OK);
        t.clock.advance(chrono::Duration::days(8));
        let off = t.login("off.a").await;
        let cw = t.login("cw.a").await;
        // No standard: approval refused with the reason.
        let (s, e) = step(&t, &off, id, "approve").await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(msg(&e).contains("尚未设定"), "{e}");
        for (prog, comp, amt) in [("dibao", "base", "600"), ("tekun", "base", "780")] {
            let (s, b) = t.post("/api/v1/assistance/standards", &off, json!({"region_code": A, "programme": prog,
                "area_kind": "rural", "component": comp, "amount": amt, "effective_from": "2026-03-10"})).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
        }
        // An open cross-check conflict of the member blocks approval until resolved.
        let now = t.clock_now_ms();
        let cid: i64 = sqlx::query_scalar("INSERT INTO crosschecks (kind, fingerprint, region_code, status, detail, first_seen_at, last_seen_at) \
            VALUES ('possible_duplicate', 'fp-assist', $1, 'open', '{}', $2, $2) RETURNING id")
            .bind(V1).bind(now).fetch_one(t.state.db.pool()).await.expect("conflict");
        sqlx::query("INSERT INTO crosscheck_persons (crosscheck_id, person_id) VALUES ($1, $2)")
            .bind(cid).bind(p).execute(t.state.db.pool()).await.expect("person");
        let (s, e) = step(&t, &off, id, "approve").await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(msg(&e).contains("数据比对"), "{e}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_beneficiaries").await, 0);
        let (s, r) = t.post(&format!("/api/v1/crosschecks/{cid}/resolve"), &off, json!({"note": "已核实非同一人"})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let (s, a) = step(&t, &off, id, "approve").await;
        assert_eq!(s, StatusCode::OK, "{a}");
        // Tekun: basic 780 (≥ 1.3 × 600) + full care 300.
        assert_eq!(a["monthly_amount_fen"], 108_000);
        // Rejection needs a reason.
        let p2 = person(&t, &cw, "钱某", V1, "1950-01-01").await;
        let h2 = household(&t, &cw, V1, p2, &[]).await;
        let (_, a2) = apply(&t, &cw, None, json!({"programme": "dibao", "household_id": h2, "area_kind": "rural",
            "members": [{"person_id": p2, "authorised": true}]})).await;
        let id2 = a2["id"].as_i64().expect("id");
        let (s, _) = t.post(&format!("/api/v1/assistance/applications/{id2}/steps"), &off, json!({"step": "reject"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, r) = t.post(&format!("/api/v1/assistance/applications/{id2}/steps"), &off, json!({"step": "reject", "reason": "有机动车辆"})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(r["status"], "rejected");
        assert_eq!(r["reject_reason"], "有机动车辆");
    })
    .await;
}

#[tokio::test]
async fn emergency_measures_on_and_off() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], A).await;
        let off_b = t.user("off.b", &["official"], "130111").await;
        let ts = t.user("ts.a", &["township_staff"], T1).await;
        let ts_b = t.user("ts.b", &["township_staff"], "130111100").await;
        let cw = t.user("cw.a", &["community_worker"], V1).await;
        let cw_b = t.user("cw.b", &["community_worker"], VB).await;
        standard(&t, &off, A, "dibao", "urban", "base", "700").await;
        standard(&t, &off, A, "temporary", "urban", "temporary_cap", "1000").await;
        standard(&t, &off_b, "130111", "temporary", "urban", "temporary_cap", "1000").await;
        let p = person(&t, &cw, "孙甲", V1, "1960-01-01").await;
        let h = household(&t, &cw, V1, p, &[]).await;
        let pb = person(&t, &cw_b, "周乙", VB, "1960-01-01").await;

        // No period: no aid-first grant, no commitment.
        let grant = json!({"person_id": p, "amount": "500", "reason": "突发疾病"});
        let (s, e) = t.post("/api/v1/assistance/aid-grants", &ts, grant.clone()).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        let decl = json!({"region_code": A, "name": "新冠疫情应急期", "starts_on": "2026-03-01", "ends_on": "2026-04-30",
            "measures": ["aid_first", "commitment", "same_month", "freeze_exits"]});
        assert_eq!(t.post("/api/v1/assistance/emergencies", &cw, decl.clone()).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.post("/api/v1/assistance/emergencies", &off_b, decl.clone()).await.0, StatusCode::NOT_FOUND);
        let mut bad = decl.clone();
        bad["measures"] = json!(["global_switch"]);
        assert_eq!(t.post("/api/v1/assistance/emergencies", &off, bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, period) = t.post("/api/v1/assistance/emergencies", &off, decl.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{period}");
        let eid = period["id"].as_i64().expect("id");
        assert_eq!(period["measures_label"], "应急：先行救助、个人承诺、当月审批当月发放、暂缓退出");
        assert_eq!(t.get(&format!("/api/v1/assistance/emergencies/{eid}"), &off_b).await.0, StatusCode::NOT_FOUND);
        let (_, cwv) = t.get(&format!("/api/v1/assistance/emergencies/{eid}"), &cw).await;
        assert_eq!(cwv["id"], eid, "a village sees the county's period: {cwv}");

        // aid_first: granted at once up to the cap; not in the sibling county (no period there).
        let mut over = grant.clone();
        over["amount"] = json!("1000.01");
        let (s, e) = t.post("/api/v1/assistance/aid-grants", &ts, over).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(msg(&e).contains("上限"), "{e}");
        let (s, g) = t.post("/api/v1/assistance/aid-grants", &ts, grant.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        assert_eq!(g["amount_fen"], 50_000);
        assert_eq!(g["emergency_label"], "应急：先行救助");
        let gid = g["id"].as_i64().expect("id");
        assert_eq!(t.post("/api/v1/assistance/aid-grants", &ts_b, json!({"person_id": pb, "amount": "500", "reason": "x"})).await.0, StatusCode::CONFLICT);
        assert_eq!(t.get("/api/v1/assistance/aid-grants", &off_b).await.1.as_array().map(|a| a.len()), Some(0));
        // The county refuses later: the grant stays, marked for recovery.
        assert_eq!(t.post(&format!("/api/v1/assistance/aid-grants/{gid}/decision"), &ts, json!({"decision": "confirm"})).await.0, StatusCode::FORBIDDEN);
        let (s, _) = t.post(&format!("/api/v1/assistance/aid-grants/{gid}/decision"), &off, json!({"decision": "refuse", "reason": "有赡养人"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, d) = t.post(&format!("/api/v1/assistance/aid-grants/{gid}/decision"), &off,
            json!({"decision": "refuse", "reason": "有赡养人", "settlement": "recovery"})).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["status"], "refused");
        assert_eq!(d["settlement"], "recovery");
        assert_eq!(d["amount_fen"], 50_000);
        assert_eq!(d["reason"], "突发疾病");

        // commitment + same_month: an application on a personal commitment, approved this month.
        let (s, a) = apply(&t, &cw, None, json!({"programme": "dibao", "household_id": h, "area_kind": "urban",
            "commitment": true, "members": [{"person_id": p, "authorised": true}]})).await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        let id = a["id"].as_i64().expect("id");
        assert_eq!(a["emergency_id"], eid);
        assert!(a["emergency_label"].as_str().unwrap_or("").contains("个人承诺"), "{a}");
        for (tok, st) in [(&cw, "verify"), (&ts, "review"), (&ts, "publicise")] {
            assert_eq!(step(&t, tok, id, st).await.0, StatusCode::OK);
        }
        t.clock.advance(chrono::Duration::days(8));
        let off = t.login("off.a").await;
        let cw = t.login("cw.a").await;
        let (s, a) = step(&t, &off, id, "approve").await;
        assert_eq!(s, StatusCode::OK, "{a}");
        let bid = a["beneficiary_id"].as_i64().expect("bid");
        let (_, bl) = t.get("/api/v1/assistance/beneficiaries", &off).await;
        assert_eq!(bl[0]["since_month"], "2026-03", "same month: {bl}");
        assert!(bl[0]["emergency_label"].as_str().unwrap_or("").contains("当月审批"), "{bl}");
        // The commitment list waits for the period's end.
        assert_eq!(t.get("/api/v1/assistance/commitments", &off).await.1.as_array().map(|a| a.len()), Some(0));

        // freeze_exits: the exit is held and listed.
        let st = format!("/api/v1/assistance/beneficiaries/{bid}/status");
        let (s, b) = t.post(&st, &off, json!({"status": "exited", "reason": "收入超过标准"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["status"], "active");
        assert_eq!(b["exit_held"], true);
        assert!(b["emergency_label"].as_str().unwrap_or("").contains("暂缓退出"), "{b}");
        let (_, held) = t.get("/api/v1/assistance/beneficiaries?held=true", &off).await;
        assert_eq!(held.as_array().map(|a| a.len()), Some(1));
        assert_eq!(audit_count(&t, "assistance.exit_held").await, 1);

        // Changed (audited), then ended: held exits come back for review, commitments listed.
        let mut ch = decl.clone();
        ch["ends_on"] = json!("2026-03-31");
        let (s, c) = t.call("PUT", &format!("/api/v1/assistance/emergencies/{eid}"), Some(&off), Some(ch)).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["ends_on"], "2026-03-31");
        let (s, e) = t.post(&format!("/api/v1/assistance/emergencies/{eid}/end"), &off, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{e}");
        assert_eq!(e["status"], "ended");
        let (_, held) = t.get("/api/v1/assistance/beneficiaries?held=true", &off).await;
        assert_eq!(held[0]["exit_held"], false);
        assert_eq!(held[0]["exit_to_review"], true);
        let (_, cl) = t.get("/api/v1/assistance/commitments", &cw).await;
        assert_eq!(cl.as_array().map(|a| a.len()), Some(1), "{cl}");
        assert_eq!(step(&t, &cw, id, "verify_commitment").await.0, StatusCode::OK);
        assert_eq!(t.get("/api/v1/assistance/commitments", &cw).await.1.as_array().map(|a| a.len()), Some(0));
        // Off: the exit goes through now; no aid-first grant, no commitment.
        let (s, b) = t.post(&st, &off, json!({"status": "exited", "reason": "收入超过标准"})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["status"], "exited");
        assert_eq!(b["until_month"], "2026-03");
        let ts = t.login("ts.a").await;
        assert_eq!(t.post("/api/v1/assistance/aid-grants", &ts, grant.clone()).await.0, StatusCode::CONFLICT);
        let (s, _) = apply(&t, &cw, None, json!({"programme": "dibao", "household_id": h, "area_kind": "urban",
            "commitment": true, "members": [{"person_id": p, "authorised": true}]})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        for a in ["assistance.emergency_declare", "assistance.emergency_change", "assistance.emergency_end", "assistance.aid_grant", "assistance.aid_decide"] {
            assert_eq!(audit_count(&t, a).await, 1, "{a}");
        }
    })
    .await;
}
