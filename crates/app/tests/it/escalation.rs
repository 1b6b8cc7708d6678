//! Issue 15, item 3 (the escalation engine, 催报升级), on every backend with the injected
//! clock and an SMS gateway (the fake the delivery tests start): the rules are shown to those
//! who read reports and changed only by a national official, with Chinese errors; for a daily
//! report, a village still missing after the deadline reminder and its repeat escalates to
//! its 村（居）委会's contact (an SMS keyed per leader) and shows in red on the township's
//! missing list, while a village that reported in between is left alone; a form's own rule
//! (disabled) overrides the kind's; an inspection problem past its deadline is reminded by the
//! engine, repeated, then escalated to the institution's contact, and an answer stops it.

use axum::http::StatusCode;
use backstop_app::Config;
use backstop_app::notify;
use backstop_app::notify::escalate::tick;
use serde_json::{Value, json};

use crate::notify::{Shared, each_backend_with_gateway};
use crate::support::{T, count, page, web_login};

const DAY: &str = "2026-03-02";
const V1: &str = "130110100001";
const V2: &str = "130110100002";

fn sms_only(base: &str) -> Config {
    let mut c = crate::notify::config(base);
    c.gateways.webhook = None;
    c
}

async fn notes(t: &T, kind: &str, unit: &str) -> i64 {
    count(
        t,
        &format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM notifications WHERE kind = '{kind}' AND unit = '{unit}'"
        ),
    )
    .await
}

fn sms_to(fake: &Shared, phone: &str) -> Vec<(String, Value)> {
    let g = fake.lock().expect("fake");
    g.seen
        .iter()
        .filter(|s| s.0 == "/sms" && s.3["mobile"] == phone)
        .map(|s| (s.1.clone(), s.3.clone()))
        .collect()
}

#[tokio::test]
async fn a_missing_village_is_reminded_again_then_escalated_to_its_leader() {
    each_backend_with_gateway(sms_only, |t, fake| async move {
            t.import_fixture().await;
            fake.lock().expect("fake").seen.clear();
            let nat = t.user("nat.esc", &["official"], "0").await;
            let county = t.user("cty.esc", &["official"], "130110").await;
            t.make_user("town.esc", &["official"], "130110100").await;

            // The rules: shown to a county official, changed only by the national one.
            let (s, rules) = t.get("/api/v1/notifications/escalation-rules", &county).await;
            assert_eq!(s, StatusCode::OK, "{rules}");
            let report = rules.as_array().expect("rules").iter().find(|r| r["kind"] == "report").cloned().expect("report rule");
            assert_eq!((report["repeats"].clone(), report["escalate_after_min"].clone()), (json!([120]), json!(180)));
            let body = json!({"repeats": [], "escalate_after_min": 60, "enabled": false});
            let (s, _) = t.call("PUT", "/api/v1/notifications/escalation-rules/report:tekun_care_daily", Some(&county), Some(body.clone())).await;
            assert_eq!(s, StatusCode::FORBIDDEN);
            let (s, e) = t.call("PUT", "/api/v1/notifications/escalation-rules/report:tekun_care_daily", Some(&nat),
                Some(json!({"repeats": [120, 60], "escalate_after_min": 180}))).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(e["fields"][0]["field"], "repeats");
            assert!(e["message"].as_str().unwrap_or("").contains("逐次递增"), "{e}");
            let (s, e) = t.call("PUT", "/api/v1/notifications/escalation-rules/report:no_such_form", Some(&nat), Some(body.clone())).await;
            assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("kind")));
            // This form's own rule: off (only village_daily escalates below).
            let (s, r) = t.call("PUT", "/api/v1/notifications/escalation-rules/report:tekun_care_daily", Some(&nat), Some(body)).await;
            assert_eq!(s, StatusCode::OK, "{r}");
            assert_eq!(r["updated_by"], "nat.esc");
            assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = 'notify.escalation_rule'").await, 1);

            // V1's leader: its 村（居）委会 with a contact phone.
            let (s, o) = t.post("/api/v1/orgs", &county, json!({"name": "旱码头社区居委会", "kind": "community_committee",
                "region_code": V1, "contact_person": "王主任", "contact_phone": "13700001111"})).await;
            assert_eq!(s, StatusCode::CREATED, "{o}");

            // 09:00 Beijing: nothing is due.
            assert_eq!(tick(&t.state).await.expect("tick").reminded, 0);
            // 10:01: the deadline reminder (the area's own); the engine has nothing to add.
            t.clock.advance(chrono::Duration::minutes(61));
            assert!(backstop_app::reports::run_deadlines(&t.state).await.expect("deadlines") > 0);
            let r = tick(&t.state).await.expect("tick");
            assert_eq!((r.reminded, r.escalated), (0, 0));
            // V2 reports before the repeat (sessions expire as the clock moves: log in again).
            let cw2 = t.user("cw.esc2", &["community_worker"], V2).await;
            let (s, _, b) = t.raw("POST", "/api/v1/reports", Some(&cw2), Some(json!({"template": "village_daily", "unit": V2, "period": DAY,
                "values": {"households_screened": 10, "people_screened": 30, "close_contacts": 1, "home_observation": 1,
                "released": 0, "fever_referred": 1, "entrance_registrations": 5, "volunteers_on_duty": 2, "notes": "正常"}}).to_string()), &[]).await;
            assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));

            // 12:01: the repeat, for every village still missing village_daily (not tekun's).
            t.clock.advance(chrono::Duration::minutes(120));
            let r = tick(&t.state).await.expect("tick");
            assert!(r.reminded > 100, "{r:?}");
            assert_eq!(r.escalated, 0);
            assert_eq!(notes(&t, "report_repeat", V1).await, 1);
            assert_eq!(notes(&t, "report_repeat", V2).await, 0, "V2 reported");
            let again = tick(&t.state).await.expect("again");
            assert_eq!((again.reminded, again.escalated), (0, 0), "a tick repeated sends nothing twice");

            // 13:01: still missing after the second reminder: escalated to the leader.
            t.clock.advance(chrono::Duration::minutes(60));
            let r2 = tick(&t.state).await.expect("tick");
            assert_eq!(r2.escalated, r.reminded, "every village reminded twice escalates");
            assert_eq!(notes(&t, "report_escalation", &format!("leader:{V1}")).await, 1);
            assert_eq!(notes(&t, "report_escalation", &format!("leader:{V2}")).await, 0);
            let region: String = sqlx::query_scalar("SELECT region_code FROM notifications WHERE unit = $1")
                .bind(format!("leader:{V1}")).fetch_one(t.state.db.pool()).await.expect("note");
            assert_eq!(region, "130110100", "addressed to the level above");
            assert_eq!(tick(&t.state).await.expect("again").escalated, 0);

            // The leader's SMS: once, keyed per leader; the phone masked in the list.
            let town = t.login("town.esc").await;
            for _ in 0..20 {
                if notify::step(&t.state).await.expect("step").dispatched == 0 { break; }
            }
            let sms = sms_to(&fake, "13700001111");
            assert_eq!(sms.len(), 1, "{sms:?}");
            assert!(sms[0].0.ends_with(&format!("-sms-leader{V1}")), "{}", sms[0].0);
            assert!(sms[0].1["content"].as_str().unwrap_or("").contains("升级"), "{}", sms[0].1);
            let (_, d) = t.get("/api/v1/notifications/deliveries?region=130110100", &town).await;
            let row = d.as_array().expect("d").iter().find(|r| r["kind"] == "report_escalation").cloned().expect("delivery");
            assert_eq!(row["phone_masked"], "137****1111");

            // Red on the township's missing list: V1 escalated; in the API and on the page.
            let (s, m) = t.get(&format!("/api/v1/reports/missing?template=village_daily&period={DAY}&region=130110100"), &town).await;
            assert_eq!(s, StatusCode::OK, "{m}");
            let v1 = m.as_array().expect("m").iter().find(|u| u["unit"] == V1).cloned().expect("V1 missing");
            assert_eq!(v1["escalated"], true);
            let cookie = web_login(&t, "town.esc").await;
            let (s, html) = page(&t, &format!("/reports/missing?template=village_daily&period={DAY}&region=130110100"), &cookie).await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains(&format!("id=\"escalated-{V1}\"")), "red mark");
            // The settings page in Chinese, read-only for the township.
            let (s, html) = page(&t, "/notifications/escalation", &cookie).await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains("催报升级规则") && html.contains("只有全国范围的民政干部可以修改"));
    })
    .await;
}

#[tokio::test]
async fn an_overdue_rectification_is_repeated_then_escalated_until_answered() {
    each_backend_with_gateway(sms_only, |t, fake| async move {
            t.import_fixture().await;
            let off = t.user("off.rect", &["official"], "130110").await;
            let insp = t.user("insp.rect", &["inspector"], "130110").await;
            let nat = t.user("nat.rect", &["official"], "0").await;
            let (_, o) = t.post("/api/v1/orgs", &off, json!({"name": "获鹿镇敬老院", "kind": "elderly_care",
                "region_code": "130110100", "contact_person": "李院长", "contact_phone": "13911112222"})).await;
            let home = o["id"].as_i64().expect("org");
            let (_, o2) = t.post("/api/v1/orgs", &off, json!({"name": "获鹿镇儿童之家", "kind": "child_welfare",
                "region_code": "130110100", "contact_person": "赵主任", "contact_phone": "13933334444"})).await;
            let home2 = o2["id"].as_i64().expect("org");
            // Hours, so the test's clock moves little: at the deadline, +1 h, escalate +2 h.
            let (s, r) = t.call("PUT", "/api/v1/notifications/escalation-rules/rectification", Some(&nat),
                Some(json!({"repeats": [60], "escalate_after_min": 120}))).await;
            assert_eq!(s, StatusCode::OK, "{r}");
            for (unit, findings) in [(home, "消防通道堵塞"), (home2, "台账缺失")] {
                let (s, i) = t.post("/api/v1/inspections", &insp, json!({"unit": format!("org:{unit}"), "mode": "open", "date": DAY,
                    "findings": findings, "problems": [{"description": findings, "requirement": "立即整改", "deadline": "2026-03-03"}]})).await;
                assert_eq!(s, StatusCode::CREATED, "{i}");
            }
            let deadline: i64 = sqlx::query_scalar("SELECT MIN(deadline_ms) FROM inspection_problems")
                .fetch_one(t.state.db.pool()).await.expect("deadline");
            assert_eq!(tick(&t.state).await.expect("tick").reminded, 0, "not yet due");
            let now = t.clock_now_ms();
            t.clock.advance(chrono::Duration::milliseconds(deadline - now + 1000));
            let r = tick(&t.state).await.expect("tick");
            assert_eq!((r.reminded, r.escalated), (2, 0), "the first notice, by the engine");
            assert_eq!(notes(&t, "rectification_repeat", &format!("org:{home}")).await, 1);
            // The second institution answers; the first does not.
            let pid2: i64 = sqlx::query_scalar("SELECT p.id FROM inspection_problems p JOIN inspections i ON i.id = p.inspection_id WHERE i.unit = $1")
                .bind(format!("org:{home2}")).fetch_one(t.state.db.pool()).await.expect("pid");
            let rep2 = crate::support::org_user(&t, "rep.rect", &["institution_reporter"], "130110100", home2).await;
            let (s, a) = t.post(&format!("/api/v1/rectifications/{pid2}/respond"), &rep2, json!({"response": "已整改"})).await;
            assert_eq!(s, StatusCode::OK, "{a}");
            t.clock.advance(chrono::Duration::minutes(60));
            let r = tick(&t.state).await.expect("tick");
            assert_eq!((r.reminded, r.escalated), (1, 0), "the repeat, for the unanswered one only");
            t.clock.advance(chrono::Duration::minutes(60));
            let r = tick(&t.state).await.expect("tick");
            assert_eq!((r.reminded, r.escalated), (0, 1));
            assert_eq!(tick(&t.state).await.expect("again").escalated, 0);
            assert_eq!(notes(&t, "rectification_escalation", &format!("leader:org:{home}")).await, 1);
            let masked: String = sqlx::query_scalar("SELECT leader_masked FROM escalations WHERE kind = 'rectification' AND escalated_at IS NOT NULL")
                .fetch_one(t.state.db.pool()).await.expect("row");
            assert_eq!(masked, "139****2222");
            fake.lock().expect("fake").seen.clear();
            for _ in 0..5 {
                notify::step(&t.state).await.expect("step");
            }
            let sms = sms_to(&fake, "13911112222");
            // The institution's own two reminders and its leader's escalation (its contact).
            assert_eq!(sms.len(), 3, "{sms:?}");
            assert!(sms.iter().any(|(k, _)| k.ends_with(&format!("-sms-leaderorg{home}"))));
            assert!(sms.iter().all(|(_, b)| !b["content"].as_str().unwrap_or("").contains("消防通道")), "a reference, not the finding");
    })
    .await;
}
