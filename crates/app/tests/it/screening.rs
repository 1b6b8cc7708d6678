//! Screening campaigns (摸排) and home observation with 四包一 (issue 4, items 4 and 6): who may
//! open a campaign, household visits in one write with validation and scope, live coverage by
//! child region (furthest behind first), the observation lifecycle (four responsible people,
//! extend never shorten, check-ins, close), missed check-ins notifying the four and then the
//! township on the injected clock, counts by region, the pages, and audit — on both backends.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    T, assert_audit_counts, audit_count, cid, count, created_id, each_backend, page, web_login,
};

const TOWN: &str = "130110100"; // 获鹿镇
const V1: &str = "130110100001";
const V2: &str = "130110100002";

/// Create a person through the API; returns its id.
async fn person(t: &T, token: &str, name: &str, region: &str, seq: u32) -> i64 {
    let body =
        json!({"id_number": cid("130110", "19800101", seq), "name": name, "region_code": region});
    created_id(t, "/api/v1/persons", token, body).await
}

async fn household(t: &T, token: &str, region: &str, members: &[i64]) -> i64 {
    let members: Vec<Value> = members
        .iter()
        .enumerate()
        .map(
            |(i, p)| json!({"person_id": p, "relationship": if i == 0 { "head" } else { "child" }}),
        )
        .collect();
    let body =
        json!({"region_code": region, "address": format!("{region} 1 号"), "members": members});
    created_id(t, "/api/v1/households", token, body).await
}

fn keepers(n: usize) -> Vec<Value> {
    ["社区干部", "医生", "民警", "志愿者"]
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, r)| json!({"role": r, "name": format!("责任人{i}"), "phone": format!("1390000000{i}")}))
        .collect()
}

#[tokio::test]
async fn screening_campaign_visits_coverage_and_scope() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let official = t.user("s_off", &["official"], "130110").await;
        let w1 = t.user("s_w1", &["community_worker"], V1).await;
        let w2 = t.user("s_w2", &["community_worker"], V2).await;
        let other = t.user("s_other", &["official"], "130111").await;

        // A village worker cannot open a campaign; an official cannot outside its scope.
        let body = json!({"name": "获鹿镇拉网式排查", "purpose": "四个全覆盖", "starts_on": "2026-03-01",
                          "ends_on": "2026-03-10", "region_code": TOWN});
        let (s, _) = t.post("/api/v1/screening/campaigns", &w1, body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t
            .post(
                "/api/v1/screening/campaigns",
                &official,
                json!({"name": "x", "starts_on": "2026-03-01", "ends_on": "2026-03-10", "region_code": "130111"}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, b) = t
            .post(
                "/api/v1/screening/campaigns",
                &official,
                json!({"name": "x", "starts_on": "2026-03-05", "ends_on": "2026-03-01", "region_code": TOWN}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let (s, c) = t.post("/api/v1/screening/campaigns", &official, body).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let camp = c["id"].as_i64().expect("id");
        assert_eq!(c["ask_temperature"], true);

        let a = person(&t, &w1, "张三", V1, 1).await;
        let b = person(&t, &w1, "张小三", V1, 2).await;
        let c2 = person(&t, &w2, "李四", V2, 3).await;
        let d = person(&t, &w1, "王五", V1, 4).await;
        let h1 = household(&t, &w1, V1, &[a, b]).await;
        let h2 = household(&t, &w2, V2, &[c2]).await;
        let _h3 = household(&t, &w1, V1, &[d]).await;

        // The village worker sees the township's campaign.
        let (s, list) = t.get("/api/v1/screening/campaigns", &w1).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(list.as_array().map(Vec::len), Some(1));
        // 130111 sees nothing of 130110.
        let (_, list) = t.get("/api/v1/screening/campaigns", &other).await;
        assert_eq!(list.as_array().map(Vec::len), Some(0));
        let (s, _) = t.get(&format!("/api/v1/screening/campaigns/{camp}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t
            .get(&format!("/api/v1/screening/campaigns/{camp}/coverage"), &other)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        let visit = |temp: i64| {
            json!({"reached": true, "members": [
                {"person_id": a, "at_home": true, "temperature": 365, "risk": "none"},
                {"person_id": b, "at_home": true, "temperature": temp, "symptoms": true,
                 "history": "2 月 20 日自武汉返回", "risk": "close_contact", "disposition": "home_observation"}]})
        };
        // Validation: temperature out of range → 422, nothing stored.
        for bad in [339, 431, 3650] {
            let (s, e) = t
                .post(&format!("/api/v1/screening/campaigns/{camp}/households/{h1}"), &w1, visit(bad))
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {e}");
            assert_eq!(e["code"], "validation");
        }
        let (s, _) = t
            .post(
                &format!("/api/v1/screening/campaigns/{camp}/households/{h1}"),
                &w1,
                json!({"reached": true, "members": [{"person_id": a, "at_home": true, "risk": "unknown"}]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = t
            .post(
                &format!("/api/v1/screening/campaigns/{camp}/households/{h1}"),
                &w1,
                json!({"reached": true, "members": [{"person_id": c2, "at_home": true}]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "not a member of the household");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM screening_visits").await, 0);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM screening_persons").await, 0);
        assert_eq!(audit_count(&t, "screening.visit").await, 0);

        // Scope: a worker of one village cannot record a household of another.
        let (s, _) = t
            .post(
                &format!("/api/v1/screening/campaigns/{camp}/households/{h2}"),
                &w1,
                json!({"reached": false}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        let (s, v) = t
            .post(&format!("/api/v1/screening/campaigns/{camp}/households/{h1}"), &w1, visit(381))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["reached"], true);
        assert_eq!(v["members"][1]["risk_label"], "密切接触者");
        assert_eq!(v["members"][1]["disposition"], "home_observation");
        assert_eq!(v["members"][1]["temperature"], 381);
        let (s, _) = t
            .post(
                &format!("/api/v1/screening/campaigns/{camp}/households/{h2}"),
                &w2,
                json!({"reached": false, "note": "家中无人"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);

        // Coverage: the township's villages, furthest behind first.
        let (s, cov) = t
            .get(&format!("/api/v1/screening/campaigns/{camp}/coverage?region={TOWN}"), &official)
            .await;
        assert_eq!(s, StatusCode::OK, "{cov}");
        assert_eq!((cov["region"].as_str(), cov["households"].as_i64(), cov["reached"].as_i64()),
                   (Some(TOWN), Some(3), Some(1)));
        let kids = cov["children"].as_array().expect("children");
        assert_eq!(kids[0]["code"], V2, "0 of 1 reached comes first: {cov}");
        assert_eq!((kids[0]["households"].as_i64(), kids[0]["reached"].as_i64()), (Some(1), Some(0)));
        assert_eq!(kids[1]["code"], V1);
        assert_eq!((kids[1]["households"].as_i64(), kids[1]["reached"].as_i64()), (Some(2), Some(1)));
        assert_eq!(kids[2]["households"], 0);
        // The worker's default view is its own village.
        let (_, cov) = t.get(&format!("/api/v1/screening/campaigns/{camp}/coverage"), &w1).await;
        assert_eq!((cov["region"].as_str(), cov["households"].as_i64(), cov["reached"].as_i64()),
                   (Some(V1), Some(2), Some(1)));
        let (s, _) = t
            .get(&format!("/api/v1/screening/campaigns/{camp}/coverage?region={V2}"), &w1)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Visiting again replaces the earlier visit: coverage is live.
        let (s, _) = t
            .post(
                &format!("/api/v1/screening/campaigns/{camp}/households/{h2}"),
                &w2,
                json!({"reached": true, "members": [{"person_id": c2, "at_home": false}]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, cov) = t
            .get(&format!("/api/v1/screening/campaigns/{camp}/coverage?region={TOWN}"), &official)
            .await;
        assert_eq!(cov["reached"], 2);
        assert_eq!(cov["children"][0]["code"], V1, "now V1 is behind: {cov}");
        let (_, found) = t
            .get(&format!("/api/v1/screening/campaigns/{camp}/households?q=%E7%8E%8B"), &w1)
            .await;
        assert_eq!(found.as_array().map(Vec::len), Some(1), "王 finds h3: {found}");

        let (_, doc) = t.call("GET", "/api/v1/openapi.json", None, None).await;
        for p in [
            "/api/v1/screening/campaigns",
            "/api/v1/screening/campaigns/{id}/coverage",
            "/api/v1/screening/campaigns/{id}/households/{household_id}",
            "/api/v1/observations",
            "/api/v1/observations/summary",
            "/api/v1/observations/{id}/extend",
        ] {
            assert!(doc["paths"][p].is_object(), "openapi lacks {p}");
        }
        assert_eq!(audit_count(&t, "screening.campaign_create").await, 1);
        assert_eq!(audit_count(&t, "screening.visit").await, 3);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM screening_visits").await, 2);
    })
    .await;
}

#[tokio::test]
async fn home_observation_lifecycle_missed_checkins_and_rollup() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        t.make_user("o_off", &["official"], "130110").await;
        let w1 = t.user("o_w1", &["community_worker"], V1).await;
        let other = t.user("o_other", &["official"], "130111").await;
        t.make_user("o_town", &["township_staff"], TOWN).await;
        let p = person(&t, &w1, "张三", V1, 11).await;

        // Four responsible people, exactly.
        let (s, e) = t
            .post("/api/v1/observations", &w1, json!({"person_id": p, "keepers": keepers(3)}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, _) = t
            .post("/api/v1/observations", &other, json!({"person_id": p, "keepers": keepers(4)}))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "person out of scope");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM observations").await, 0);
        let (s, o) = t
            .post(
                "/api/v1/observations",
                &w1,
                json!({"person_id": p, "keepers": keepers(4), "reason": "密切接触者"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        let oid = o["id"].as_i64().expect("id");
        assert_eq!(o["ends_on"], "2026-03-16", "14 days by default");
        assert_eq!(o["name_masked"], "张*");
        assert_eq!(o["keepers"].as_array().map(Vec::len), Some(4));
        assert_eq!(o["keepers"][2]["role"], "民警");
        assert_eq!(o["keepers"][0]["phone_masked"], "139****0000");
        let (s, _) = t
            .post("/api/v1/observations", &w1, json!({"person_id": p, "keepers": keepers(4)}))
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "one active observation per person");
        let (s, _) = t.get(&format!("/api/v1/observations/{oid}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, l) = t.get("/api/v1/observations", &other).await;
        assert_eq!(l.as_array().map(Vec::len), Some(0));
        // No keeper phone in plain text at rest.
        let masked = "SELECT CAST(COUNT(*) AS BIGINT) FROM observation_keepers WHERE phone_masked LIKE '139****%'";
        assert_eq!(count(&t, masked).await, 4);

        // Extend, never shorten.
        for bad in ["2026-03-10", "2026-03-16"] {
            let (s, e) = t
                .post(&format!("/api/v1/observations/{oid}/extend"), &w1, json!({"ends_on": bad}))
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {e}");
        }
        let (_, o) = t.get(&format!("/api/v1/observations/{oid}"), &w1).await;
        assert_eq!(o["ends_on"], "2026-03-16", "unchanged");
        let (s, o) = t
            .post(&format!("/api/v1/observations/{oid}/extend"), &w1, json!({"ends_on": "2026-03-20"}))
            .await;
        assert_eq!((s, o["ends_on"].as_str()), (StatusCode::OK, Some("2026-03-20")));

        // Check-ins: started 09:00 Beijing; the first slot counted is the afternoon.
        let (s, _) = t
            .post(&format!("/api/v1/observations/{oid}/checkins"), &w1, json!({"temperature": 300}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        t.clock.advance(chrono::Duration::hours(4)); // 13:00
        let w1 = t.login("o_w1").await;
        let (s, o) = t
            .post(&format!("/api/v1/observations/{oid}/checkins"), &w1, json!({"temperature": 366}))
            .await;
        assert_eq!(s, StatusCode::OK, "{o}");
        assert_eq!(o["checkins"][0]["slot"], "2026-03-02 下午");
        assert_eq!(backstop_app::screening::run_observation_checks(&t.state).await.expect("sweep"), 0);

        // The next morning passes without a check-in: the four are told.
        t.clock.advance(chrono::Duration::hours(24)); // 03-03 13:00
        let missed = "SELECT CAST(COUNT(*) AS BIGINT) FROM notifications WHERE kind = 'observation_missed'";
        assert_eq!(backstop_app::screening::run_observation_checks(&t.state).await.expect("sweep"), 4);
        assert_eq!(count(&t, &format!("{missed} AND region_code = '{V1}'")).await, 4);
        assert_eq!(count(&t, &format!("{missed} AND region_code = '{TOWN}'")).await, 0);
        assert_eq!(backstop_app::screening::run_observation_checks(&t.state).await.expect("sweep"), 0, "once");
        // 12 hours after the slot ended, the township; the missed afternoon goes to the four.
        t.clock.advance(chrono::Duration::hours(12)); // 03-04 01:00
        assert_eq!(backstop_app::screening::run_observation_checks(&t.state).await.expect("sweep"), 5);
        assert_eq!(count(&t, &format!("{missed} AND region_code = '{V1}'")).await, 8);
        assert_eq!(count(&t, &format!("{missed} AND region_code = '{TOWN}'")).await, 1);
        let town = t.login("o_town").await;
        let (_, notes) = t.get("/api/v1/notifications", &town).await;
        assert!(
            notes.as_array().is_some_and(|n| n.iter().any(|x| x["kind"] == "observation_missed")),
            "township sees it: {notes}"
        );
        assert_eq!(audit_count(&t, "observation.missed").await, 3);

        // Counts roll up by region; the township's list shows masked names.
        let official = t.login("o_off").await;
        let (s, sum) = t.get("/api/v1/observations/summary?region=130110", &official).await;
        assert_eq!(s, StatusCode::OK, "{sum}");
        assert_eq!(sum["under_observation"], 1);
        assert_eq!(sum["children"][0]["code"], TOWN);
        assert_eq!(sum["children"][0]["count"], 1);
        let (_, sum) = t.get("/api/v1/observations/summary", &town).await;
        assert_eq!(sum["region"], TOWN);
        assert_eq!(sum["children"][0]["code"], V1);
        let (_, l) = t.get("/api/v1/observations", &town).await;
        assert_eq!(l[0]["name_masked"], "张*");
        let other = t.login("o_other").await;
        let (s, _) = t.get("/api/v1/observations/summary?region=130110", &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Closing ends it: no more check-ins, no more alerts, counts drop.
        let w1 = t.login("o_w1").await;
        let (s, e) = t
            .post(&format!("/api/v1/observations/{oid}/close"), &w1, json!({"outcome": "discharged"}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, o) = t
            .post(&format!("/api/v1/observations/{oid}/close"), &w1, json!({"outcome": "central_isolation", "note": "转至隔离点"}))
            .await;
        assert_eq!((s, o["status"].as_str()), (StatusCode::OK, Some("central_isolation")));
        let (s, _) = t
            .post(&format!("/api/v1/observations/{oid}/checkins"), &w1, json!({"temperature": 365}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        t.clock.advance(chrono::Duration::hours(24));
        assert_eq!(backstop_app::screening::run_observation_checks(&t.state).await.expect("sweep"), 0);
        let town = t.login("o_town").await;
        let (_, sum) = t.get("/api/v1/observations/summary", &town).await;
        assert_eq!(sum["under_observation"], 0);

        let audited = [("observation.start", 1), ("observation.extend", 1),
                       ("observation.checkin", 1), ("observation.close", 1)];
        assert_audit_counts(&t, &audited).await;
    })
    .await;
}

/// Every region or id from the path or the query string goes through the caller's scope: a
/// campaign of a sibling county is not listed nor readable, and `?region=` of the observation
/// list, the summary and coverage outside the scope (or above it, or malformed) is *not found*.
#[tokio::test]
async fn screening_query_regions_and_campaigns_are_scoped() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let official = t.user("q_off", &["official"], "130110").await;
        let w1 = t.user("q_w1", &["community_worker"], V1).await;
        let other = t.user("q_other", &["official"], "130111").await;
        let camp = |region: &str| {
            json!({"name": "排查", "starts_on": "2026-03-01", "ends_on": "2026-03-10", "region_code": region})
        };
        let (s, c) = t.post("/api/v1/screening/campaigns", &official, camp(TOWN)).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let mine = c["id"].as_i64().expect("id");
        let (s, c) = t.post("/api/v1/screening/campaigns", &other, camp("130111")).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let theirs = c["id"].as_i64().expect("id");

        // The village worker lists the township's campaign only, and cannot open the other.
        let (s, list) = t.get("/api/v1/screening/campaigns", &w1).await;
        assert_eq!(s, StatusCode::OK);
        let ids: Vec<i64> = list.as_array().expect("list").iter().filter_map(|c| c["id"].as_i64()).collect();
        assert_eq!(ids, vec![mine]);
        let (s, _) = t.get(&format!("/api/v1/screening/campaigns/{theirs}"), &w1).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.get(&format!("/api/v1/screening/campaigns/{theirs}/households"), &official).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Coverage of a region of the campaign the worker does not hold, or above it.
        for region in [V2, TOWN, "x"] {
            let (s, _) = t
                .get(&format!("/api/v1/screening/campaigns/{mine}/coverage?region={region}"), &w1)
                .await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{region}");
        }
        let (s, cov) = t.get(&format!("/api/v1/screening/campaigns/{mine}/coverage"), &w1).await;
        assert_eq!((s, cov["region"].as_str()), (StatusCode::OK, Some(V1)), "{cov}");

        // Observation list and summary: another county, above the scope, malformed: 404;
        // empty or 0 is the caller's own scope.
        for path in ["/api/v1/observations", "/api/v1/observations/summary"] {
            for region in ["130110", "1301", "13011x"] {
                let (s, _) = t.get(&format!("{path}?region={region}"), &other).await;
                assert_eq!(s, StatusCode::NOT_FOUND, "{path} {region}");
            }
            let (s, _) = t.get(&format!("{path}?region={TOWN}"), &w1).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}: above the worker's village");
        }
        let (s, sum) = t.get("/api/v1/observations/summary?region=0", &other).await;
        assert_eq!((s, sum["region"].as_str()), (StatusCode::OK, Some("130111")), "{sum}");
        let (s, b) = t.get("/api/v1/observations?status=nope", &other).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    })
    .await;
}
#[tokio::test]
async fn screening_pages_household_form_and_township_list() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let official = t.user("g_off", &["official"], "130110").await;
        let w1 = t.user("g_w1", &["community_worker"], V1).await;
        t.make_user("g_town", &["township_staff"], TOWN).await;
        let (_, c) = t
            .post(
                "/api/v1/screening/campaigns",
                &official,
                json!({"name": "鹿泉区摸排", "starts_on": "2026-03-01", "ends_on": "2026-03-10", "region_code": "130110"}),
            )
            .await;
        let camp = c["id"].as_i64().expect("id");
        let a = person(&t, &w1, "赵六", V1, 21).await;
        let b = person(&t, &w1, "赵小六", V1, 22).await;
        let h = household(&t, &w1, V1, &[a, b]).await;

        let cookie = web_login(&t, "g_w1").await;
        let (s, body) = page(&t, "/screening", &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains("摸排与观察") && body.contains("鹿泉区摸排"));
        assert!(!body.contains("campaign-form"), "a village worker does not open campaigns");
        let (s, body) = page(&t, &format!("/screening/campaigns/{camp}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains(&format!("household-{h}")), "{body}");
        let (s, body) = page(&t, &format!("/screening/campaigns/{camp}/households/{h}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains(&format!("temp-{a}")) && !body.contains("style="));

        let path = format!("/screening/campaigns/{camp}/households/{h}");
        let bad = format!("reached=1&home_{a}=1&temp_{a}=45.2&risk_{a}=none&disp_{a}=none&temp_{b}=36.9&note=%E5%A4%87%E6%B3%A8%E4%B9%99");
        let (s, _, rb) = t.raw_form("POST", &path, Some(&cookie), &bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let html = String::from_utf8_lossy(&rb);
        assert!(html.contains("value=\"45.2\"") && html.contains("value=\"36.9\"") && html.contains("备注乙"),
            "the household form is shown again as typed: {html}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM screening_visits").await, 0);
        let good = format!(
            "reached=1&home_{a}=1&temp_{a}=36.4&risk_{a}=none&disp_{a}=none&home_{b}=1&temp_{b}=37.9&sym_{b}=1&hist_{b}=%E6%AD%A6%E6%B1%89&risk_{b}=close_contact&disp_{b}=home_observation&note="
        );
        let (s, hd, _) = t.raw_form("POST", &path, Some(&cookie), &good).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let loc = hd.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let (_, body) = page(&t, &loc, &cookie).await;
        assert!(body.contains("visit-saved") && body.contains(&format!("/observations/new?person={b}")), "{body}");

        let (s, body) = page(&t, &format!("/observations/new?person={b}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains("keeper-name-4"));
        let mut form = format!("person_id={b}&ends_on=&reason=");
        for i in 1..=4 {
            form.push_str(&format!("&role_{i}=r{i}&name_{i}=n{i}&phone_{i}=1380000000{i}"));
        }
        let (s, hd, _) = t.raw_form("POST", "/observations", Some(&cookie), &form).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let loc = hd.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let (s, body) = page(&t, &loc, &cookie).await;
        assert_eq!(s, StatusCode::OK);
        // The worker who started it is responsible: the four's phones in full (item 14.10).
        assert!(body.contains("tel:13800000001") && body.contains("checkin-form"));
        let oid = loc.rsplit('/').next().unwrap_or("").to_string();
        let (s, _, _) = t
            .raw_form("POST", &format!("/observations/{oid}/extend"), Some(&cookie), "ends_on=2026-03-05")
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "never shortened");

        let town = web_login(&t, "g_town").await;
        let (s, body) = page(&t, "/observations", &town).await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains("赵**") && body.contains(&format!("/observations/{oid}")), "{body}");
        assert!(!body.contains("赵小六"), "names masked on the list");
    })
    .await;
}
