//! Cross-checks (数据比对): each rule (observation and screening rolls in another region,
//! possible duplicates, groups that exclude each other, deceased persons still paid), idempotent
//! reruns (no duplicates; resolved stays resolved; gone → cleared; back → reopened; changed
//! facts → a new conflict), scope (visible only when all persons are in scope; an out-of-scope
//! roll region shown as 辖区外), roles, audited resolution with a note, pages, and the CLI
//! entry point — on both backends.

use axum::http::StatusCode;
use backstop_app::kernel::actor::Actor;
use serde_json::{Value, json};
use sqlx::Row;

use crate::support::{T, cid, count, created_id, each_backend, keepers};

const V1: &str = "130110100001"; // 旱码头社区 (获鹿镇, 鹿泉区)
const V2: &str = "130110100002"; // 镇宁社区 (获鹿镇, 鹿泉区)
const V3: &str = "130111100003"; // 赵李庄社区 (栾城区)
const TOWN: &str = "130110100";

async fn person(t: &T, token: &str, body: Value) -> i64 {
    created_id(t, "/api/v1/persons", token, body).await
}

async fn member(
    t: &T,
    token: &str,
    pid: i64,
    category: &str,
    start: &str,
    end: Option<&str>,
) -> i64 {
    let path = format!("/api/v1/care/persons/{pid}/memberships");
    let body = json!({"category": category, "start_date": start, "end_date": end, "deciding_body": "鹿泉区民政局"});
    created_id(t, &path, token, body).await
}

async fn end_membership(t: &T, token: &str, mid: i64, end: &str) {
    let (s, b) = t
        .post(
            &format!("/api/v1/care/memberships/{mid}/end"),
            token,
            json!({"end_date": end}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn patch(t: &T, token: &str, pid: i64, body: Value) {
    let (s, b) = t
        .call(
            "PATCH",
            &format!("/api/v1/persons/{pid}"),
            Some(token),
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn observe(t: &T, token: &str, pid: i64) -> i64 {
    let (s, o) = t
        .post(
            "/api/v1/observations",
            token,
            json!({"person_id": pid, "keepers": keepers(), "reason": "密切接触者"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    o["id"].as_i64().expect("id")
}

async fn run(t: &T, token: &str, body: Value) -> Value {
    let (s, r) = t.post("/api/v1/crosschecks/run", token, body).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    r
}

async fn list(t: &T, token: &str, query: &str) -> Value {
    let (s, l) = t.get(&format!("/api/v1/crosschecks?{query}"), token).await;
    assert_eq!(s, StatusCode::OK, "{l}");
    l
}

/// The conflict of `kind` involving `pid` in a list.
fn pick<'a>(l: &'a Value, kind: &str, pid: i64) -> &'a Value {
    l["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| {
            c["kind"] == kind
                && c["persons"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["id"] == pid))
        })
        .unwrap_or_else(|| panic!("no {kind} for {pid} in {l}"))
}

fn count_of(l: &Value, kind: &str) -> i64 {
    l["counts"]
        .as_array()
        .expect("counts")
        .iter()
        .find(|c| c["kind"] == kind)
        .and_then(|c| c["count"].as_i64())
        .expect("count")
}

#[tokio::test]
async fn crosschecks_rules_idempotence_scope_and_resolution() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let county = t.user("x_county", &["official"], "130110").await;
        let town = t.user("x_town", &["township_staff"], TOWN).await;
        let w1 = t.user("x_w1", &["community_worker"], V1).await;
        let luan = t.user("x_luan", &["official"], "130111").await;
        let city = t.user("x_city", &["official"], "1301").await;

        // (b) 低保 and 分散供养特困 for overlapping periods.
        let a = person(&t, &w1, json!({"id_number": cid("130110", "19500101", 1), "name": "赵一", "region_code": V1})).await;
        let a_dibao = member(&t, &w1, a, "dibao", "2025-01-01", None).await;
        member(&t, &w1, a, "tekun_dispersed", "2025-06-01", None).await;
        // (c) deceased, still on the 重度残疾人护理补贴 roll; an ended 低保 and a non-payment group don't count.
        let b = person(&t, &w1, json!({"id_number": cid("130110", "19400202", 2), "name": "钱二", "region_code": V1})).await;
        let b_care = member(&t, &w1, b, "severely_disabled", "2024-01-01", None).await;
        member(&t, &w1, b, "dibao", "2020-01-01", Some("2025-12-31")).await;
        member(&t, &w1, b, "elderly_alone", "2024-01-01", None).await;
        patch(&t, &w1, b, json!({"deceased": true})).await;
        // No overlap: 孤儿 ended before 事实无人抚养 began.
        let c = person(&t, &w1, json!({"name": "孙三", "region_code": V1, "birth_date": "2015-03-03"})).await;
        member(&t, &w1, c, "orphan_scattered", "2024-01-01", Some("2025-01-01")).await;
        member(&t, &w1, c, "de_facto_unattended", "2025-02-01", None).await;
        // (a) an observation opened in V1, the person since moved to V2 (both in the township).
        let d = person(&t, &w1, json!({"id_number": cid("130110", "19800404", 4), "name": "李四", "region_code": V1})).await;
        let d_obs = observe(&t, &w1, d).await;
        patch(&t, &town, d, json!({"region_code": V2})).await;
        // (a) an observation opened in 栾城区, the person since moved into 鹿泉区 (by the city).
        let g = person(&t, &luan, json!({"id_number": cid("130111", "19700707", 7), "name": "郑七", "region_code": V3})).await;
        observe(&t, &luan, g).await;
        patch(&t, &city, g, json!({"region_code": V1})).await;
        // (a) possible duplicates: one pair inside the township, one across two counties.
        let e3 = person(&t, &w1, json!({"id_number": cid("130110", "19600606", 6), "name": "吴六", "region_code": V1})).await;
        let e4 = person(&t, &county, json!({"name": "吴六", "region_code": V2, "birth_date": "1960-06-06"})).await;
        let e1 = person(&t, &w1, json!({"name": "周五", "region_code": V1, "birth_date": "1950-05-05"})).await;
        let e2 = person(&t, &luan, json!({"name": "周五", "region_code": V3, "birth_date": "1950-05-05"})).await;
        // Not a duplicate: same name, another birth date.
        person(&t, &w1, json!({"name": "吴六", "region_code": V1, "birth_date": "1961-06-06"})).await;
        // (a) a screening record of a running campaign made in V1; the person since moved to V2.
        let (s, camp) = t
            .post("/api/v1/screening/campaigns", &county,
                  json!({"name": "获鹿镇排查", "starts_on": "2026-03-01", "ends_on": "2026-03-10", "region_code": TOWN}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{camp}");
        let camp = camp["id"].as_i64().expect("id");
        let f = person(&t, &w1, json!({"id_number": cid("130110", "19900909", 9), "name": "冯九", "region_code": V1})).await;
        let (s, h) = t
            .post("/api/v1/households", &w1,
                  json!({"region_code": V1, "members": [{"person_id": f, "relationship": "head"}]}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{h}");
        let h = h["id"].as_i64().expect("id");
        let (s, v) = t
            .post(&format!("/api/v1/screening/campaigns/{camp}/households/{h}"), &w1,
                  json!({"reached": true, "members": [{"person_id": f, "at_home": true, "temperature": 365, "risk": "none"}]}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        patch(&t, &town, f, json!({"region_code": V2})).await;

        // Roles: community workers neither run nor read.
        let (s, _) = t.post("/api/v1/crosschecks/run", &w1, json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t.get("/api/v1/crosschecks", &w1).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t.post("/api/v1/crosschecks/run", &county, json!({"region": "130111"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "a region outside the scope");
        let (s, e) = t.post("/api/v1/crosschecks/run", &county, json!({"region": "130110999"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_region")), "{e}");

        // The county's run: everything inside 鹿泉区, not the cross-county duplicate.
        let r = run(&t, &county, json!({})).await;
        assert_eq!((r["found"].as_i64(), r["created"].as_i64(), r["cleared"].as_i64()), (Some(6), Some(6), Some(0)), "{r}");
        assert_eq!(r["open"], 6);
        let l = list(&t, &county, "").await;
        assert_eq!(l["total"], 6, "{l}");
        assert_eq!(count_of(&l, "exclusive_groups"), 1);
        assert_eq!(count_of(&l, "deceased_paid"), 1);
        assert_eq!(count_of(&l, "observation_region"), 2);
        assert_eq!(count_of(&l, "possible_duplicate"), 1);
        assert_eq!(count_of(&l, "screening_region"), 1);
        let ex = pick(&l, "exclusive_groups", a);
        assert_eq!(ex["status"], "open");
        assert_eq!(ex["persons"][0]["name_masked"], "赵*");
        assert!(ex["persons"][0]["id_number_masked"].as_str().is_some_and(|m| m.contains("********")));
        let summary = ex["summary"].as_str().unwrap_or("");
        assert!(summary.contains("低保") && summary.contains("特困（分散供养）"), "{summary}");
        let dp = pick(&l, "deceased_paid", b);
        assert!(dp["summary"].as_str().unwrap_or("").contains("重度残疾人"), "{dp}");
        assert_eq!(dp["persons"][0]["deceased"], true);
        let ob = pick(&l, "observation_region", d);
        let s_ob = ob["summary"].as_str().unwrap_or("");
        assert!(s_ob.contains(V1) && s_ob.contains(V2), "{s_ob}");
        assert!(s_ob.contains(&format!("编号 {d_obs}")), "{s_ob}");
        let og = pick(&l, "observation_region", g);
        let s_og = og["summary"].as_str().unwrap_or("");
        assert!(s_og.contains("辖区外") && !s_og.contains(V3), "the other county's roll is not named: {s_og}");
        let dup = pick(&l, "possible_duplicate", e3);
        let ids: Vec<i64> = dup["persons"].as_array().expect("persons").iter().filter_map(|p| p["id"].as_i64()).collect();
        assert_eq!(ids, vec![e3, e4]);
        assert!(pick(&l, "screening_region", f)["summary"].as_str().unwrap_or("").contains("获鹿镇排查"));
        let raw = l.to_string();
        assert!(!raw.contains(&format!("\"id\":{e1}")) && !raw.contains(&format!("\"id\":{e2}")));
        assert!(!raw.contains("赵一") && !raw.contains(&cid("130110", "19500101", 1)), "names and numbers masked");

        // Idempotent: a rerun adds nothing.
        let r = run(&t, &county, json!({})).await;
        assert_eq!((r["found"].as_i64(), r["created"].as_i64(), r["reopened"].as_i64(), r["cleared"].as_i64()),
                   (Some(6), Some(0), Some(0), Some(0)), "{r}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM crosschecks").await, 6);
        // The CLI entry point (national operator) over the township: same rows.
        let r = backstop_app::crosscheck::run(&t.state, &Actor::operator(), Some(TOWN)).await.expect("cli run");
        assert_eq!((r.found, r.created), (6, 0));
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM crosschecks").await, 6);

        // Scope: 栾城区 sees none of them (all persons must be in scope), not even by id.
        let r = run(&t, &luan, json!({})).await;
        assert_eq!(r["found"], 0, "{r}");
        let l2 = list(&t, &luan, "status=all").await;
        assert_eq!(l2["total"], 0);
        let ex_id = ex["id"].as_i64().expect("id");
        let (s, _) = t.get(&format!("/api/v1/crosschecks/{ex_id}"), &luan).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.post(&format!("/api/v1/crosschecks/{ex_id}/resolve"), &luan, json!({"note": "已核实"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // The city covers both counties: the cross-county duplicate appears there only.
        let r = run(&t, &city, json!({})).await;
        assert_eq!((r["found"].as_i64(), r["created"].as_i64()), (Some(7), Some(1)), "{r}");
        let lc = list(&t, &city, "kind=possible_duplicate").await;
        assert_eq!(lc["total"], 2);
        let cross = pick(&lc, "possible_duplicate", e1);
        assert!(cross["summary"].as_str().unwrap_or("").contains("两条都未登记身份证号"));
        assert_eq!(list(&t, &county, "").await["total"], 6, "still invisible to the county");
        // The township sees what lies inside it (G's roll region is outside: 辖区外).
        let lt = list(&t, &town, "").await;
        assert_eq!(lt["total"], 6);
        let (s, _) = t.get("/api/v1/crosschecks?status=bogus", &town).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

        // Resolution: a note is required; audited; only once.
        let (s, e) = t.post(&format!("/api/v1/crosschecks/{ex_id}/resolve"), &town, json!({"note": " "})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")), "{e}");
        let (s, done) = t
            .post(&format!("/api/v1/crosschecks/{ex_id}/resolve"), &town, json!({"note": "已核实，停发低保"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{done}");
        assert_eq!(done["status"], "resolved");
        assert_eq!(done["resolved_by"], "x_town");
        assert_eq!(done["resolve_note"], "已核实，停发低保");
        let (s, _) = t
            .post(&format!("/api/v1/crosschecks/{ex_id}/resolve"), &town, json!({"note": "再次处理"}))
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        let audit: Vec<(String, String)> = sqlx::query("SELECT username, detail FROM audit_log WHERE action = 'crosscheck.resolve'")
            .fetch_all(t.state.db.pool())
            .await
            .expect("audit")
            .iter()
            .map(|r| (r.get("username"), r.get("detail")))
            .collect();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].0, "x_town");
        // The note is free text: the log records its length only (`Change::free_text`).
        assert!(!audit[0].1.contains("已核实，停发低保") && audit[0].1.contains(r#""note":{"len":8}"#), "{}", audit[0].1);
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = 'crosscheck.run'").await,
            5
        );

        // Rerun: the resolved conflict stays resolved while the facts hold.
        let r = run(&t, &county, json!({})).await;
        assert_eq!((r["created"].as_i64(), r["open"].as_i64()), (Some(0), Some(5)), "{r}");
        let lr = list(&t, &county, "status=resolved").await;
        assert_eq!(lr["total"], 1);
        assert_eq!(pick(&lr, "exclusive_groups", a)["id"], ex_id);
        // Changed facts are a new conflict: 低保 ended, then granted again.
        end_membership(&t, &w1, a_dibao, "2025-05-31").await;
        let r = run(&t, &county, json!({})).await;
        assert_eq!((r["created"].as_i64(), r["cleared"].as_i64()), (Some(0), Some(0)), "resolved is not cleared: {r}");
        member(&t, &w1, a, "dibao", "2026-01-01", None).await;
        let r = run(&t, &county, json!({})).await;
        assert_eq!(r["created"], 1, "{r}");
        let lo = list(&t, &county, "kind=exclusive_groups").await;
        assert_eq!(lo["total"], 1);
        assert_ne!(pick(&lo, "exclusive_groups", a)["id"], ex_id);

        // Gone → cleared; back (same membership) → reopened.
        end_membership(&t, &w1, b_care, "2026-03-01").await;
        let r = run(&t, &county, json!({})).await;
        assert_eq!(r["cleared"], 1, "{r}");
        let lcl = list(&t, &county, "status=cleared").await;
        let dp_id = pick(&lcl, "deceased_paid", b)["id"].clone();
        end_membership(&t, &w1, b_care, "2026-12-31").await;
        let r = run(&t, &county, json!({})).await;
        assert_eq!((r["reopened"].as_i64(), r["created"].as_i64()), (Some(1), Some(0)), "{r}");
        assert_eq!(pick(&list(&t, &county, "").await, "deceased_paid", b)["id"], dp_id);

        // Pages.
        let cookie = format!("backstop={county}");
        let (s, _, body) = t.raw_form("GET", "/crosscheck", Some(&cookie), "").await;
        assert_eq!(s, StatusCode::OK);
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains("href=\"/crosscheck\""), "nav link");
        assert!(html.contains("已故人员仍在发放名单") && html.contains("赵*"));
        assert!(html.contains(&format!("href=\"/persons/{a}\"")));
        assert!(html.contains("<progress") && !html.contains("style="));
        assert!(!html.contains("赵一"));
        let (s, h, _) = t.raw_form("POST", "/crosscheck/run", Some(&cookie), "region=").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(h.get("location").and_then(|v| v.to_str().ok()), Some("/crosscheck?ran=1"));
        let dp_id = dp_id.as_i64().expect("id");
        let (s, _, body) = t.raw_form("POST", &format!("/crosscheck/{dp_id}/resolve"), Some(&cookie), "note=").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(String::from_utf8_lossy(&body).contains("请填写处理说明"));
        let (s, _, _) = t
            .raw_form("POST", &format!("/crosscheck/{dp_id}/resolve"), Some(&cookie), "note=%E5%B7%B2%E5%81%9C%E5%8F%91")
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, _, body) = t.raw_form("GET", "/crosscheck?status=resolved", Some(&cookie), "").await;
        assert_eq!(s, StatusCode::OK);
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains("已停发") && html.contains("x_county"));
        let wcookie = format!("backstop={w1}");
        let (s, _, body) = t.raw_form("GET", "/persons", Some(&wcookie), "").await;
        assert_eq!(s, StatusCode::OK);
        assert!(!String::from_utf8_lossy(&body).contains("href=\"/crosscheck\""), "no nav link without the permission");
        let (s, _, _) = t.raw_form("GET", "/crosscheck", Some(&wcookie), "").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    })
    .await;
}
