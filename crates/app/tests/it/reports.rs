//! Reports: the four built-in forms end to end, validation, idempotency, correction and
//! locking, rollups checked against an independent sum at every level, missing lists,
//! reminders at the deadline (injected clock), scope.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use backstop_app::kernel::actor::Actor;
use serde_json::{Value, json};

use crate::support::{T, count, each_backend, page, web_login};

/// 2026-03-02 in Beijing (the test clock starts at 09:00 Beijing).
const DAY: &str = "2026-03-02";

fn village_values(n: i64) -> Value {
    json!({"households_screened": 10 * n, "people_screened": 30 * n, "close_contacts": n, "home_observation": n,
           "released": 0, "fever_referred": 1, "entrance_registrations": 5, "volunteers_on_duty": 2, "notes": "正常"})
}

async fn submit(t: &T, tok: &str, body: Value, key: Option<&str>) -> (StatusCode, Value) {
    let b = body.to_string();
    let headers: Vec<(&str, &str)> = key
        .map(|k| vec![("idempotency-key", k)])
        .unwrap_or_default();
    let (s, _, bytes) = t
        .raw("POST", "/api/v1/reports", Some(tok), Some(b), &headers)
        .await;
    (s, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn count_submissions(t: &T) -> i64 {
    count(t, "SELECT CAST(COUNT(*) AS BIGINT) FROM report_submissions").await
}

/// The village daily report of 2 March 2026 for the township, as Excel.
pub(crate) const VILLAGE_EXPORT: &str =
    "/reports/export.xlsx?template=village_daily&period=2026-03-02&region=130110100";

#[tokio::test]
async fn forms_are_listed_with_fields() {
    each_backend(|t: T| async move {
        let tok = t.user("off", &["official"], "13").await;
        let (s, l) = t.get("/api/v1/report-templates", &tok).await;
        assert_eq!(s, StatusCode::OK);
        let keys: Vec<&str> = l
            .as_array()
            .expect("l")
            .iter()
            .filter_map(|f| f["key"].as_str())
            .collect();
        assert_eq!(
            keys,
            vec![
                "incident",
                "institution_daily",
                "tekun_care_daily",
                "village_daily"
            ]
        );
        let (s, f) = t.get("/api/v1/report-templates/village_daily", &tok).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(f["period"], "daily");
        assert_eq!(f["deadline"], "10:00");
        assert_eq!(f["fields"][0]["key"], "households_screened");
        assert_eq!(f["fields"][0]["type"], "integer");
        assert_eq!(f["fields"][0]["required"], true);
        let (s, _) = t.get("/api/v1/report-templates/nope", &tok).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // A new version keeps the old one.
        let mut nf = f.clone();
        nf["name"] = json!("村（社区）疫情防控日报（第二版）");
        nf["scope"] = json!("13");
        // A province cannot take the national form over (it would stop every other province
        // from being asked for it): the form it does not manage reads as not found.
        let (s, _) = t.post("/api/v1/report-templates", &tok, nf.clone()).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let nat = t.user("nat", &["official"], "0").await;
        let (s, saved) = t.post("/api/v1/report-templates", &nat, nf).await;
        assert_eq!(s, StatusCode::CREATED, "{saved}");
        assert_eq!(saved["version"], 2);
        let (_, v1) = t
            .get("/api/v1/report-templates/village_daily?version=1", &tok)
            .await;
        assert_eq!(v1["name"], "村（社区）疫情防控日报");
    })
    .await;
}

#[tokio::test]
async fn village_daily_validation_idempotency_correction_lock() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let cw = t.user("cw.a", &["community_worker"], "130110100001").await;
        let body = json!({"template": "village_daily", "unit": "130110100001", "period": DAY, "values": village_values(1)});
        // Bad input: nothing stored.
        let mut bad = body.clone();
        bad["values"]["fever_referred"] = json!(1000);
        let (s, e) = submit(&t, &cw, bad, None).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")), "{e}");
        assert_eq!(e["fields"][0]["field"], "fever_referred");
        let mut bad = body.clone();
        bad["values"]["bogus"] = json!(1);
        let (s, e) = submit(&t, &cw, bad, None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e["fields"][0]["field"], "bogus");
        let mut bad = body.clone();
        bad["period"] = json!("2026-03-03");
        let (s, e) = submit(&t, &cw, bad, None).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("period")));
        let mut bad = body.clone();
        bad["unit"] = json!("130110100002");
        let (s, _) = submit(&t, &cw, bad, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "another village is out of scope");
        let mut bad = body.clone();
        bad["template"] = json!("institution_daily");
        let (s, e) = submit(&t, &cw, bad, None).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unit")));
        assert_eq!(count_submissions(&t).await, 0);
        // Submit with an idempotency key; a retry returns the first answer.
        let (s, first) = submit(&t, &cw, body.clone(), Some("k-1")).await;
        assert_eq!(s, StatusCode::CREATED, "{first}");
        assert_eq!(first["late"], false);
        let (s, again) = submit(&t, &cw, body.clone(), Some("k-1")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(again["id"], first["id"]);
        assert_eq!(count_submissions(&t).await, 1);
        let mut other = body.clone();
        other["values"]["released"] = json!(3);
        let (s, _) = submit(&t, &cw, other.clone(), Some("k-1")).await;
        assert_eq!(s, StatusCode::CONFLICT, "same key, different body");
        // Correction (audited before → after), counted once.
        t.clock.advance(chrono::Duration::hours(2));
        let cw = t.login("cw.a").await;
        let (s, corr) = submit(&t, &cw, other, Some("k-2")).await;
        assert_eq!(s, StatusCode::OK, "{corr}");
        assert_eq!(corr["corrections"], 1);
        assert_eq!(corr["late"], false, "a correction keeps the on-time flag");
        let aud = t.user("aud", &["auditor"], "0").await;
        let (_, rows) = t.get("/api/v1/audit?action=report.correct", &aud).await;
        assert_eq!(rows[0]["detail"]["changes"]["released"], json!({"before": 0, "after": 3}));
        // The township locks the day: no more corrections.
        let tw = t.user("tw.a", &["township_staff"], "130110100").await;
        let (s, e) = t.post("/api/v1/reports/locks", &cw, json!({"template": "village_daily", "period": DAY, "region": "130110100001"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "a village cannot lock itself: {e}");
        let (s, _) = t.post("/api/v1/reports/locks", &tw, json!({"template": "village_daily", "period": DAY, "region": "130110100"})).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, e) = submit(&t, &cw, body.clone(), None).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        // Another village submitting after the deadline is marked late, not refused.
        let cw2 = t.user("cw.b", &["community_worker"], "130110100002").await;
        let (s, late) = submit(&t, &cw2, json!({"template": "village_daily", "unit": "130110100002", "period": DAY, "values": village_values(2)}), None).await;
        assert_eq!(s, StatusCode::CONFLICT, "township lock covers every village below it: {late}");
        let cw3 = t.user("cw.c", &["community_worker"], "130110101001").await;
        let (s, late) = submit(&t, &cw3, json!({"template": "village_daily", "unit": "130110101001", "period": DAY, "values": village_values(2)}), None).await;
        assert_eq!(s, StatusCode::CREATED, "{late}");
        assert_eq!(late["late"], true);
    })
    .await;
}

/// Rollups at every level equal an independent sum of the stored submissions.
#[tokio::test]
async fn rollups_match_independent_sums_at_every_level() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let villages: Vec<String> =
            sqlx::query_scalar("SELECT code FROM regions WHERE level = 'village' ORDER BY code")
                .fetch_all(t.state.db.pool())
                .await
                .expect("villages");
        assert_eq!(villages.len(), 581);
        let op = Actor::operator();
        let mut op = op;
        op.roles = backstop_core::role::RoleSet::new([backstop_core::role::Role::Official]);
        op.via = backstop_app::kernel::actor::Via::Cli;
        // Submit for every 3rd village, some late; correct some.
        for (i, v) in villages.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
            if i == 300 {
                t.clock.advance(chrono::Duration::hours(2)); // past 10:00 Beijing
            }
            let input = backstop_app::reports::SubmitInput {
                template: "village_daily".into(),
                unit: json!(v),
                period: DAY.into(),
                values: village_values((i % 7) as i64 + 1),
                version: None,
            };
            backstop_app::reports::submit(&t.state, &op, &input, None)
                .await
                .expect("submit");
            if i % 9 == 0 {
                let input = backstop_app::reports::SubmitInput {
                    values: village_values(2),
                    version: None,
                    ..input
                };
                backstop_app::reports::submit(&t.state, &op, &input, None)
                    .await
                    .expect("correct");
            }
        }
        // Independent sums from the stored submissions (their values sealed: opened here).
        let rows: Vec<(String, Vec<u8>, i64)> =
            sqlx::query_as("SELECT unit, body_enc, late FROM report_submissions")
                .fetch_all(t.state.db.pool())
                .await
                .expect("rows");
        let rows: Vec<(String, String, i64)> = rows
            .into_iter()
            .map(|(u, enc, l)| {
                let body = t.state.keys.decrypt(&enc).expect("opens");
                (u, String::from_utf8(body).expect("utf-8"), l)
            })
            .collect();
        let tok = t.user("nat", &["official"], "0").await;
        for code in [
            "0",
            "13",
            "1301",
            "130110",
            "130110100",
            "130111",
            "130110100001",
            "44",
            "440115",
        ] {
            let mut people = 0i64;
            let mut received = 0i64;
            let mut on_time = 0i64;
            for (unit, body, late) in &rows {
                if code == "0" || unit.starts_with(code) {
                    let b: Value = serde_json::from_str(body).expect("json");
                    people += b["people_screened"].as_i64().expect("n");
                    received += 1;
                    on_time += i64::from(*late == 0);
                }
            }
            let expected = villages
                .iter()
                .filter(|v| code == "0" || v.starts_with(code))
                .count() as i64;
            let (s, sum) = t
                .get(
                    &format!(
                        "/api/v1/reports/summary?template=village_daily&period={DAY}&region={code}"
                    ),
                    &tok,
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{sum}");
            assert_eq!(sum["sums"]["people_screened"], people, "people at {code}");
            assert_eq!(sum["received"], received, "received at {code}");
            assert_eq!(sum["on_time"], on_time, "on time at {code}");
            assert_eq!(sum["expected"], expected, "expected at {code}");
            // Children add up to the parent.
            let kids = sum["children"].as_array().expect("children");
            if !kids.is_empty() {
                let kid_people: i64 = kids
                    .iter()
                    .map(|k| k["sums"]["people_screened"].as_i64().unwrap_or(0))
                    .sum();
                assert_eq!(kid_people, people, "children of {code}");
                let kid_expected: i64 = kids
                    .iter()
                    .map(|k| k["expected"].as_i64().unwrap_or(0))
                    .sum();
                assert_eq!(kid_expected, expected, "children expected of {code}");
            }
            // Missing = expected − received.
            let (s, miss) = t
                .get(
                    &format!(
                        "/api/v1/reports/missing?template=village_daily&period={DAY}&region={code}"
                    ),
                    &tok,
                )
                .await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(
                miss.as_array().map(|a| a.len() as i64),
                Some(expected - received),
                "missing at {code}"
            );
        }
        // Scope: a county official cannot read another county's summary.
        let c = t.user("c1x", &["official"], "130110").await;
        let (s, _) = t
            .get(
                &format!(
                    "/api/v1/reports/summary?template=village_daily&period={DAY}&region=130111"
                ),
                &c,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, own) = t
            .get(
                &format!("/api/v1/reports/summary?template=village_daily&period={DAY}"),
                &c,
            )
            .await;
        assert_eq!((s, own["code"].as_str()), (StatusCode::OK, Some("130110")));
    })
    .await;
}

#[tokio::test]
async fn institution_tekun_and_incident_forms() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off", &["official"], "130110").await;
        let (_, home) = t.post("/api/v1/orgs", &off, json!({"name": "获鹿镇敬老院", "kind": "elderly_care", "region_code": "130110100"})).await;
        let (_, bureau) = t.post("/api/v1/orgs", &off, json!({"name": "鹿泉区民政局", "kind": "civil_affairs", "region_code": "130110"})).await;
        let home_id = home["id"].as_i64().expect("id");
        // institution_daily per organisation, yes/no summed as a count.
        let rep = t.user("rep", &["institution_reporter"], "130110100").await;
        let vals = json!({"residents": 108, "staff_on_duty": 31, "closed_management": "是", "new_admissions": 0,
            "resident_fever": 1, "staff_fever": 0, "suspected": 0, "confirmed": 0, "isolated": 1, "mask_days": 12});
        let (s, sub) = submit(&t, &rep, json!({"template": "institution_daily", "unit": home_id, "period": DAY, "values": vals}), Some("i-1")).await;
        assert_eq!(s, StatusCode::CREATED, "{sub}");
        let (s, e) = submit(&t, &rep, json!({"template": "institution_daily", "unit": bureau["id"], "period": DAY, "values": vals}), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "the county bureau is outside a township reporter's scope: {e}");
        let (s, e) = submit(&t, &off, json!({"template": "institution_daily", "unit": bureau["id"], "period": DAY, "values": vals}), None).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unit")), "a bureau does not file this form");
        let (_, sum) = t.get(&format!("/api/v1/reports/summary?template=institution_daily&period={DAY}&region=130110"), &off).await;
        assert_eq!(sum["expected"], 1);
        assert_eq!(sum["received"], 1);
        assert_eq!(sum["sums"]["residents"], 108);
        assert_eq!(sum["sums"]["closed_management"], 1);
        // tekun per village.
        let cw = t.user("cw.t", &["community_worker"], "130110100001").await;
        let (s, _) = submit(&t, &cw, json!({"template": "tekun_care_daily", "unit": "130110100001", "period": DAY,
            "values": {"checked": 12, "fever": 0, "needing_help": 2, "helped": 3}}), None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "helped > needing help");
        let (s, _) = submit(&t, &cw, json!({"template": "tekun_care_daily", "unit": "130110100001", "period": DAY,
            "values": {"checked": 12, "fever": 0, "needing_help": 2, "helped": 2}}), None).await;
        assert_eq!(s, StatusCode::CREATED);
        // Incidents: many per day, each notifying every level above.
        for i in 0..2 {
            let (s, inc) = submit(&t, &rep, json!({"template": "incident", "unit": home_id, "period": DAY, "values": {
                "event_kind": "疑似病例", "occurred_at": "08:30", "place": "二楼", "people_affected": 1 + i,
                "measures": "已隔离并送医", "help_needed": "防护服"}}), Some(&format!("inc-{i}"))).await;
            assert_eq!(s, StatusCode::CREATED, "{inc}");
        }
        let (s, e) = submit(&t, &rep, json!({"template": "incident", "unit": home_id, "period": DAY, "values": {
            "event_kind": "地震", "occurred_at": "08:30", "place": "x", "people_affected": 1, "measures": "x"}}), None).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("event_kind")));
        let county = t.user("county", &["official"], "130110").await;
        let (_, notes) = t.get("/api/v1/notifications", &county).await;
        let incidents = notes.as_array().expect("n").iter().filter(|n| n["kind"] == "incident").count();
        assert_eq!(incidents, 2);
        let (_, sum) = t.get(&format!("/api/v1/reports/summary?template=incident&period={DAY}&region=130110"), &off).await;
        assert_eq!(sum["received"], 2);
        assert_eq!(sum["expected"], Value::Null);
    })
    .await;
}

#[tokio::test]
async fn reminders_at_the_deadline() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let cw = t.user("cw.r", &["community_worker"], "130110100001").await;
        let (s, _) = submit(&t, &cw, json!({"template": "village_daily", "unit": "130110100001", "period": DAY, "values": village_values(1)}), None).await;
        assert_eq!(s, StatusCode::CREATED);
        // 09:00 Beijing: before the deadline nothing is sent.
        assert_eq!(backstop_app::reports::run_deadlines(&t.state).await.expect("tick"), 0);
        t.clock.advance(chrono::Duration::minutes(61)); // 10:01 Beijing
        let cw = t.login("cw.r").await;
        let sent = backstop_app::reports::run_deadlines(&t.state).await.expect("tick");
        // 581 villages, 1 reported; tekun_care_daily: none reported. institution_daily: no institutions.
        assert_eq!(sent, 580 + 581);
        assert_eq!(backstop_app::reports::run_deadlines(&t.state).await.expect("again"), 0, "once per day");
        let other = t.user("cw.s", &["community_worker"], "130110100002").await;
        let (_, notes) = t.get("/api/v1/notifications", &other).await;
        let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
        for n in notes.as_array().expect("n") {
            *by_kind.entry(n["title"].as_str().unwrap_or("").to_string()).or_default() += 1;
        }
        assert_eq!(by_kind.len(), 2, "{by_kind:?}");
        let (_, notes) = t.get("/api/v1/notifications", &cw).await;
        assert_eq!(notes.as_array().map(Vec::len), Some(1), "the village that reported only gets the tekun reminder");
        // A gateway (an official's integration account) pulls the outbox of its scope and
        // marks what it delivered; a community worker may not.
        let gw = t.user("gw.r", &["official"], "130110").await;
        let (s, out) = t.get("/api/v1/notifications/outbox?limit=1000", &gw).await;
        assert_eq!(s, StatusCode::OK);
        let out = out.as_array().expect("outbox").clone();
        assert_eq!(out.len(), (232 - 1) + 232, "130110's villages only: {}", out.len());
        let first = out[0]["id"].as_i64().expect("id");
        let (s, _) = t.post(&format!("/api/v1/notifications/{first}/delivered"), &gw, json!({})).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, again) = t.get("/api/v1/notifications/outbox?limit=1000", &gw).await;
        assert_eq!(again.as_array().map(Vec::len), Some(out.len() - 1));
        let (s, _) = t.get("/api/v1/notifications/outbox", &cw).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    })
    .await;
}

#[tokio::test]
async fn report_pages_fill_and_summary() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        t.make_user("cw.p", &["community_worker"], "130110100001")
            .await;
        t.make_user("cty.p", &["official"], "130110").await;
        let cw = web_login(&t, "cw.p").await;
        let (s, html) = page(&t, "/reports", &cw).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("村（社区）疫情防控日报") && html.contains("未报"),
            "{html}"
        );
        // A bad value re-shows the form with the Chinese message; nothing stored.
        let mut form = String::from("_unit=130110100001&_period=2026-03-02&_idem=abc123");
        for (k, v) in [
            ("households_screened", "12"),
            ("people_screened", "30"),
            ("close_contacts", "1"),
            ("home_observation", "1"),
            ("released", "0"),
            ("fever_referred", "40"),
        ] {
            form.push_str(&format!("&{k}={v}"));
        }
        let (s, _, body) = t
            .raw_form("POST", "/reports/fill/village_daily", Some(&cw), &form)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(String::from_utf8_lossy(&body).contains("发热分流人数不能超过排查人数"));
        assert_eq!(count_submissions(&t).await, 0);
        let form = form.replace("fever_referred=40", "fever_referred=2");
        let (s, h, _) = t
            .raw_form("POST", "/reports/fill/village_daily", Some(&cw), &form)
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let loc = h
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("location")
            .to_string();
        assert!(loc.starts_with("/reports/view/"), "{loc}");
        // The same form posted twice (double tap) is one submission.
        let (s, _, _) = t
            .raw_form("POST", "/reports/fill/village_daily", Some(&cw), &form)
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(count_submissions(&t).await, 1);
        let (s, view) = page(&t, &loc, &cw).await;
        assert_eq!(s, StatusCode::OK);
        assert!(view.contains("已提交"));
        // The county sees the number and the village gone from the missing list.
        let cty = web_login(&t, "cty.p").await;
        let q = "template=village_daily&period=2026-03-02";
        let (s, sum) = page(&t, &format!("/reports/summary?{q}&region=130110100"), &cty).await;
        assert_eq!(s, StatusCode::OK);
        assert!(sum.contains("id=\"sum-received\">1<"), "{sum}");
        let (_, miss) = page(&t, &format!("/reports/missing?{q}&region=130110100"), &cty).await;
        assert!(
            !miss.contains("130110100001<"),
            "reported village is not missing"
        );
        assert!(miss.contains("130110100002"));
        // Out of scope: 404 page.
        let (s, _) = page(&t, &format!("/reports/summary?{q}&region=130111"), &cty).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn incidents_are_acknowledged_by_the_county() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let cw = t.user("cw.i", &["community_worker"], "130110100001").await;
        let (s, inc) = submit(&t, &cw, json!({"template": "incident", "unit": "130110100001", "period": DAY, "values": {
            "event_kind": "走失", "occurred_at": "07:10", "place": "村口", "people_affected": 1, "measures": "组织寻找"}}), None).await;
        assert_eq!(s, StatusCode::CREATED);
        let id = inc["id"].as_i64().expect("id");
        let tw = t.user("tw.i", &["township_staff"], "130110100").await;
        let county = t.user("cty.i", &["official"], "130110").await;
        let (_, open) = t.get("/api/v1/incidents?open=true", &tw).await;
        assert_eq!(open.as_array().map(Vec::len), Some(1), "visible at once to the township");
        let (s, _) = t.post(&format!("/api/v1/incidents/{id}/ack"), &tw, json!({"handling": "已找到"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "township cannot close it");
        let other = t.user("cty.o", &["official"], "130111").await;
        let (s, _) = t.post(&format!("/api/v1/incidents/{id}/ack"), &other, json!({"handling": "x"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, done) = t.post(&format!("/api/v1/incidents/{id}/ack"), &county, json!({"handling": "已找到，送回家中"})).await;
        assert_eq!(s, StatusCode::OK, "{done}");
        assert_eq!(done["ack"]["by"], "cty.i");
        let (_, open) = t.get("/api/v1/incidents?open=true", &tw).await;
        assert_eq!(open.as_array().map(Vec::len), Some(0));
        let (s, _) = t.post(&format!("/api/v1/incidents/{id}/ack"), &county, json!({"handling": "again"})).await;
        assert_eq!(s, StatusCode::CONFLICT);
    })
    .await;
}

#[tokio::test]
async fn trend_dashboard_and_excel_export() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let op = {
            let mut op = Actor::operator();
            op.roles = backstop_core::role::RoleSet::new([backstop_core::role::Role::Official]);
            op
        };
        // Three days of reports from two villages.
        for (day, n) in [("2026-02-28", 1), ("2026-03-01", 2), ("2026-03-02", 3)] {
            for v in ["130110100001", "130110100002"] {
                let input = backstop_app::reports::SubmitInput {
                    template: "village_daily".into(),
                    unit: json!(v),
                    period: day.into(),
                    values: village_values(n),
                    version: None,
                };
                backstop_app::reports::submit(&t.state, &op, &input, None)
                    .await
                    .expect("submit");
            }
        }
        let tok = t.user("cty.d", &["official"], "130110").await;
        let (s, tr) = t
            .get(
                "/api/v1/reports/trend?template=village_daily&region=130110100&days=5",
                &tok,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{tr}");
        let pts = tr["points"].as_array().expect("points");
        assert_eq!(pts.len(), 5);
        assert_eq!(pts[4]["period"], DAY);
        let people: Vec<i64> = pts
            .iter()
            .map(|p| p["sums"]["people_screened"].as_i64().unwrap_or(-1))
            .collect();
        assert_eq!(people, vec![0, 0, 60, 120, 180]);
        assert_eq!(pts[4]["received"], 2);
        let (s, _) = t
            .get(
                "/api/v1/reports/trend?template=village_daily&region=130111&days=5",
                &tok,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Dashboard page and the Excel export (audited).
        t.make_user("cty.e", &["official"], "130110").await;
        let cookie = web_login(&t, "cty.e").await;
        let (s, html) = page(
            &t,
            "/reports/dashboard?region=130110100&date=2026-03-02",
            &cookie,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("class=\"chart\"") && html.contains("/assets/echarts.min.js"));
        assert!(html.contains("2/"), "received count shown: {html}");
        let (s, h, xlsx) = t.raw_form("GET", VILLAGE_EXPORT, Some(&cookie), "").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            h.get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .contains("spreadsheetml")
        );
        assert_eq!(&xlsx[..2], b"PK", "an xlsx is a zip");
        assert!(xlsx.len() > 2000);
        let aud = t.user("aud.d", &["auditor"], "0").await;
        let (_, rows) = t.get("/api/v1/audit?action=report.export", &aud).await;
        assert_eq!(rows.as_array().map(Vec::len), Some(1));
        assert_eq!(rows[0]["username"], "cty.e");
        let (s, _, _) = t.raw_form("GET", "/assets/echarts.min.js", None, "").await;
        assert_eq!(s, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn officials_edit_forms_in_the_ui_and_versions_are_kept() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        // The national form is versioned by the nation (a province editing it reads not found).
        t.make_user("prov.f", &["official"], "0").await;
        t.make_user("prov.g", &["official"], "13").await;
        t.make_user("cw.f", &["community_worker"], "130110100001").await;
        let off = web_login(&t, "prov.f").await;
        let (s, html) = page(&t, "/reports/forms/village_daily/edit", &off).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("value=\"households_screened\""));
        // A new version: renamed, one field added, scoped to the province.
        let mut body = String::from("is_new=0&key=village_daily&name=%E6%9D%91%E6%97%A5%E6%8A%A5v2&period=daily&deadline=09%3A30&unit_type=village&scope=13");
        body.push_str("&f0_key=people_screened&f0_label=%E6%8E%92%E6%9F%A5%E4%BA%BA%E6%95%B0&f0_type=integer&f0_unit=&f0_required=1&f0_min=0&f0_max=100000&f0_options=");
        body.push_str("&f1_key=masks_given&f1_label=%E5%8F%91%E6%94%BE%E5%8F%A3%E7%BD%A9&f1_type=integer&f1_unit=&f1_min=0&f1_max=&f1_options=");
        body.push_str("&f2_key=&f2_label=&f2_type=integer&f2_unit=&f2_min=&f2_max=&f2_options=");
        body.push_str("&r0_left=masks_given&r0_op=%3C%3D&r0_right=100000&r0_message=too+many");
        let province = web_login(&t, "prov.g").await;
        let (s, _, _) = t.raw_form("POST", "/reports/forms/save", Some(&province), &body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "a province does not version the national form");
        let (s, h, _) = t.raw_form("POST", "/reports/forms/save", Some(&off), &body).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "saved");
        assert!(h.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").contains("saved=2"));
        let tok = t.login("prov.f").await;
        let (_, f) = t.get("/api/v1/report-templates/village_daily", &tok).await;
        assert_eq!(f["version"], 2);
        assert_eq!(f["deadline"], "09:30");
        assert_eq!(f["fields"].as_array().map(Vec::len), Some(2));
        assert_eq!(f["fields"][1]["key"], "masks_given");
        assert_eq!(f["rules"][0]["right"], 100000.0);
        let (_, v1) = t.get("/api/v1/report-templates/village_daily?version=1", &tok).await;
        assert_eq!(v1["fields"].as_array().map(Vec::len), Some(9), "version 1 kept");
        // Bad input: a non-number bound → 422, nothing saved.
        let bad = body.replace("f0_max=100000", "f0_max=lots");
        let (s, _, page) = t.raw_form("POST", "/reports/forms/save", Some(&off), &bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(String::from_utf8_lossy(&page).contains("不是数字"));
        let (_, f) = t.get("/api/v1/report-templates/village_daily", &tok).await;
        assert_eq!(f["version"], 2);
        // A new form may not take an existing key; a community worker may not edit.
        let dup = body.replace("is_new=0", "is_new=1");
        let (s, _, _) = t.raw_form("POST", "/reports/forms/save", Some(&off), &dup).await;
        assert_eq!(s, StatusCode::CONFLICT);
        let cw = web_login(&t, "cw.f").await;
        let (s, _, _) = t.raw_form("POST", "/reports/forms/save", Some(&cw), &body).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, _) = t.raw_form("GET", "/reports/forms/village_daily/edit", Some(&cw), "").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    })
    .await;
}

/// The fill-in page prefills the unit's current report, so it must only open for a unit the
/// visitor may report for (its village, its organisation — the submission's rule). A
/// community worker asking for a sibling village or for an organisation of another region
/// gets 404 and none of that report's values (the leak of issue 12).
#[tokio::test]
async fn fill_page_opens_only_for_units_the_visitor_reports_for() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        // The sibling village's report, with values found nowhere else.
        let sib = t.user("cw.sib", &["community_worker"], "130110100002").await;
        let mut secret = village_values(777);
        secret["notes"] = json!("邻村机密记录");
        let (s, sib_report) = submit(&t, &sib, json!({"template": "village_daily", "unit": "130110100002", "period": DAY, "values": secret}), None).await;
        assert_eq!(s, StatusCode::CREATED, "{sib_report}");
        // An organisation of another province, with its report.
        let gz = t.user("gz.off", &["official"], "440115").await;
        let (_, home) = t.post("/api/v1/orgs", &gz, json!({"name": "南沙街敬老院", "kind": "elderly_care", "region_code": "440115001"})).await;
        let home_id = home["id"].as_i64().expect("org id");
        let vals = json!({"residents": 4321, "staff_on_duty": 31, "closed_management": "是", "new_admissions": 0,
            "resident_fever": 0, "staff_fever": 0, "suspected": 0, "confirmed": 0, "isolated": 0, "mask_days": 987});
        let (s, org_report) = submit(&t, &gz, json!({"template": "institution_daily", "unit": home_id, "period": DAY, "values": vals}), None).await;
        assert_eq!(s, StatusCode::CREATED, "{org_report}");
        // The visitor's own village, reported too: its page opens prefilled.
        t.make_user("cw.own", &["community_worker"], "130110100001").await;
        let own_tok = t.login("cw.own").await;
        let mut mine = village_values(3);
        mine["notes"] = json!("本村记录");
        let (s, _) = submit(&t, &own_tok, json!({"template": "village_daily", "unit": "130110100001", "period": DAY, "values": mine}), None).await;
        assert_eq!(s, StatusCode::CREATED);
        let cw = web_login(&t, "cw.own").await;
        let (s, html) = page(&t, &format!("/reports/fill/village_daily?unit=130110100001&period={DAY}"), &cw).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("本村记录"), "own report prefilled");
        let leaks = ["7770", "23310", "邻村机密记录", "4321", "987", "南沙街敬老院"];
        for url in [
            format!("/reports/fill/village_daily?unit=130110100002&period={DAY}"),
            "/reports/fill/village_daily?unit=130110100002".to_string(),
            format!("/reports/fill/institution_daily?unit=org:{home_id}&period={DAY}"),
            format!("/reports/fill/village_daily?unit=org:{home_id}&period={DAY}"),
            format!("/reports/fill/incident?unit=org:{home_id}&period={DAY}"),
            format!("/reports/view/{}", sib_report["id"]),
            format!("/reports/view/{}", org_report["id"]),
        ] {
            let (s, body) = page(&t, &url, &cw).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{url}");
            for v in leaks {
                assert!(!body.contains(v), "{url} shows {v}");
            }
        }
        // A refused submission for another unit does not name it either.
        let (s, _, body) = t
            .raw_form("POST", "/reports/fill/village_daily", Some(&cw), "_unit=130110100002&_period=2026-03-02&people_screened=1")
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(!String::from_utf8_lossy(&body).contains("镇宁社区"));
    })
    .await;
}

/// An institution reporter tied to its organisation files and reads its organisation's
/// reports only: another organisation's report in the same township is not found, on the
/// page and in the API, and so is its fill-in page.
#[tokio::test]
async fn institution_reporters_read_only_their_own_organisations_reports() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.o", &["official"], "130110").await;
        let mut ids = Vec::new();
        for name in ["获鹿镇敬老院", "获鹿镇福利院"] {
            let (_, org) = t.post("/api/v1/orgs", &off, json!({"name": name, "kind": "elderly_care", "region_code": "130110100"})).await;
            ids.push(org["id"].as_i64().expect("org id"));
        }
        let (a, b) = (ids[0], ids[1]);
        let rep_a = crate::support::org_user(&t, "rep.a", &["institution_reporter"], "130110100", a).await;
        let vals = |n: i64| json!({"residents": n, "staff_on_duty": 31, "closed_management": "是", "new_admissions": 0,
            "resident_fever": 0, "staff_fever": 0, "suspected": 0, "confirmed": 0, "isolated": 0, "mask_days": 12});
        let (s, mine) = submit(&t, &rep_a, json!({"template": "institution_daily", "unit": a, "period": DAY, "values": vals(101)}), None).await;
        assert_eq!(s, StatusCode::CREATED, "{mine}");
        let (s, theirs) = submit(&t, &off, json!({"template": "institution_daily", "unit": b, "period": DAY, "values": vals(5555)}), None).await;
        assert_eq!(s, StatusCode::CREATED, "{theirs}");
        let (s, e) = submit(&t, &rep_a, json!({"template": "institution_daily", "unit": b, "period": DAY, "values": vals(1)}), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "files for its own organisation only: {e}");
        let (s, got) = t.get(&format!("/api/v1/reports/{}", mine["id"]), &rep_a).await;
        assert_eq!((s, got["values"]["residents"].as_i64()), (StatusCode::OK, Some(101)));
        let (s, got) = t.get(&format!("/api/v1/reports/{}", theirs["id"]), &rep_a).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{got}");
        assert!(!got.to_string().contains("5555"));
        let (s, got) = t.get(&format!("/api/v1/reports/{}", theirs["id"]), &off).await;
        assert_eq!((s, got["values"]["residents"].as_i64()), (StatusCode::OK, Some(5555)), "officials read every organisation's");
    })
    .await;
}

/// Notifications (reminders, incidents) are for those who file or read reports: a social
/// worker or a charity's accountant of the same county gets 403 and no incident title.
#[tokio::test]
async fn notifications_need_a_reports_permission() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let cw = t.user("cw.n", &["community_worker"], "130110100001").await;
        let (s, inc) = submit(&t, &cw, json!({"template": "incident", "unit": "130110100001", "period": DAY, "values": {
            "event_kind": "走失", "occurred_at": "08:30", "place": "村口", "people_affected": 1, "measures": "已寻回"}}), None).await;
        assert_eq!(s, StatusCode::CREATED, "{inc}");
        let county = t.user("cty.n", &["official"], "130110").await;
        let (s, notes) = t.get("/api/v1/notifications", &county).await;
        assert_eq!(s, StatusCode::OK);
        assert!(notes.to_string().contains("即报"), "{notes}");
        for (name, role) in [("sw.n", "social_worker"), ("cf.n", "charity_finance")] {
            let tok = t.user(name, &[role], "130110").await;
            let (s, body) = t.get("/api/v1/notifications", &tok).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{role}: {body}");
            assert!(!body.to_string().contains("即报"));
        }
    })
    .await;
}

/// The value of one series in a Prometheus text answer (0 when absent).
fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// `/metrics` (issue 22 item 6): submissions counted by backend and outcome, requests by route
/// template (never the path with its ids), the pools and the group commit, all in the
/// Prometheus text format. The recorder is the process's, shared by the tests running beside
/// this one, so counts are compared as "grew by at least".
#[tokio::test]
async fn metrics_count_submissions_routes_pools_and_batches() {
    let config = backstop_app::Config {
        metrics_token: Some("m-token-0123456789".into()),
        ..backstop_app::Config::default()
    };
    crate::support::each_backend_with(config, |t: T| async move {
        t.import_fixture().await;
        let b = t.backend.clone();
        let scrape = || async {
            let (s, _, m) = t
                .raw("GET", "/metrics", Some("m-token-0123456789"), None, &[])
                .await;
            assert_eq!(s, StatusCode::OK);
            String::from_utf8_lossy(&m).to_string()
        };
        let created = format!("backstop_reports_submitted_total{{backend=\"{b}\",outcome=\"created\"}}");
        let replayed = format!("backstop_reports_submitted_total{{backend=\"{b}\",outcome=\"replayed\"}}");
        let refused = format!("backstop_reports_submitted_total{{backend=\"{b}\",outcome=\"refused\"}}");
        let before = scrape().await;
        let cw = t.user("cw.m", &["community_worker"], "130110100001").await;
        let body = json!({"template": "village_daily", "unit": "130110100001", "period": DAY, "values": village_values(1)});
        let (s, first) = submit(&t, &cw, body.clone(), Some("m-1")).await;
        assert_eq!(s, StatusCode::CREATED, "{first}");
        let (s, _) = submit(&t, &cw, body.clone(), Some("m-1")).await;
        assert_eq!(s, StatusCode::OK);
        let mut bad = body.clone();
        bad["values"]["fever_referred"] = json!(1000);
        let (s, _) = submit(&t, &cw, bad, None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let id = first["id"].as_i64().expect("id");
        let (s, _) = t.get(&format!("/api/v1/reports/{id}"), &cw).await;
        assert_eq!(s, StatusCode::OK);
        let after = scrape().await;
        for (series_name, grew) in [(&created, 1.0), (&replayed, 1.0), (&refused, 1.0)] {
            assert!(
                series(&after, series_name) >= series(&before, series_name) + grew,
                "{series_name} did not grow:\n{after}"
            );
        }
        // Requests by route template and status, with their latency histogram.
        assert!(
            after.contains("backstop_http_requests_total{method=\"POST\",route=\"/api/v1/reports\",status=\"201\"}"),
            "{after}"
        );
        assert!(after.contains("backstop_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/reports/{id}\",status=\"200\",le=\"0.002\"}"), "{after}");
        assert!(!after.contains(&format!("/api/v1/reports/{id}\"")), "a path with its id became a label");
        // The pools, and the group commit that carried the submission.
        assert!(after.contains(&format!("backstop_db_connections{{backend=\"{b}\",pool=\"main\"}}")), "{after}");
        assert!(after.contains(&format!("backstop_write_batch_jobs_count{{backend=\"{b}\"}}")), "{after}");
        assert!(after.contains(&format!("backstop_write_batch_seconds_bucket{{backend=\"{b}\",outcome=\"committed\",le=\"0.002\"}}")), "{after}");
    })
    .await;
}
