//! Issue 15 leftovers, on every backend, against the fake gateway the test starts: message
//! templates (versioned, an unknown field refused in Chinese, a notification records its
//! version, the page keeps a refused text); users' channels (a user who refuses SMS is not
//! texted, WeChat goes through the template-message relay, no channel left shows as in-app
//! only); missed home-observation check-ins under the escalation rule table (the four keepers,
//! a repeat, then the community's leader, by SMS, with no health detail).

use std::time::Duration;

use axum::http::StatusCode;
use backstop_app::Config;
use backstop_app::notify::{self, Gateways, SmsGateway, WebhookGateway, WechatGateway};
use serde_json::{Value, json};

use crate::notify::{Shared, each_backend_with_gateway};
use crate::support::{T, audit_count, cid, count, created_id, keepers, page, post_page, web_login};

const V1: &str = "130110100001";
const TOWN: &str = "130110100";
const PHONE: &str = "13800138000";

fn config(base: &str) -> Config {
    Config {
        gateways: Gateways {
            webhook: Some(WebhookGateway {
                url: format!("{base}/hook"),
                secret: "tpl-secret".to_string(),
            }),
            sms: Some(SmsGateway {
                url: format!("{base}/sms"),
                token: None,
                phone_field: "mobile".to_string(),
                text_field: "content".to_string(),
            }),
            wechat: Some(WechatGateway {
                url: format!("{base}/wechat"),
                token: Some("wx-token".to_string()),
                template_id: "TPL-1".to_string(),
                user_field: "touser".to_string(),
                text_field: "content".to_string(),
            }),
            log_only: false,
            timeout: Some(Duration::from_millis(500)),
        },
        ..Config::default()
    }
}

/// Requests the fake gateway received on `path` (`/sms`, `/wechat`): key and body.
fn seen(fake: &Shared, path: &str) -> Vec<(String, Value)> {
    let g = fake.lock().expect("fake");
    g.seen
        .iter()
        .filter(|s| s.0 == path)
        .map(|s| (s.1.clone(), s.3.clone()))
        .collect()
}

async fn drain(t: &T) {
    for _ in 0..20 {
        let r = notify::step(&t.state).await.expect("step");
        if r.dispatched == 0 && r.sent == 0 && r.retried == 0 {
            break;
        }
    }
}

/// Queue a notification to `user:ID` as an area does.
async fn queue_to_user(t: &T, uid: i64) {
    let mut w = t.state.db.begin_write().await.expect("tx");
    sqlx::query(
        "INSERT INTO notifications (region_code, unit, kind, title, body, created_at) \
         VALUES ($1, $2, 'entrance_fever', '发热预警', '请到场处置（预警编号 1）', $3)",
    )
    .bind(V1)
    .bind(format!("user:{uid}"))
    .bind(t.clock_now_ms())
    .execute(w.conn())
    .await
    .expect("notification");
    w.commit().await.expect("commit");
}

#[tokio::test]
async fn templates_are_versioned_and_refuse_unknown_fields() {
    each_backend_with_gateway(config, |t, _fake| async move {
            t.import_fixture().await;
            let nat = t.user("nat.tpl", &["official"], "0").await;
            let county = t.user("cty.tpl", &["official"], "130110").await;

            // Every template, version 1 built in, with the fields it offers.
            let (s, list) = t.get("/api/v1/notifications/templates", &county).await;
            assert_eq!(s, StatusCode::OK, "{list}");
            let rem = list.as_array().expect("list").iter().find(|x| x["key"] == "report_reminder").cloned().expect("reminder");
            assert_eq!(rem["current"]["version"], 1);
            assert_eq!(rem["current"]["created_by"], "内置");
            assert!(rem["fields"].to_string().contains("deadline"), "{rem}");
            // The observation templates offer no health field.
            let obs = list.as_array().expect("list").iter().find(|x| x["key"] == "observation_fever").cloned().expect("fever");
            assert!(!obs["fields"].to_string().contains("temperature"), "{obs}");

            // Only a national official saves; an unknown field or a stray brace is refused.
            let path = "/api/v1/notifications/templates/report_reminder";
            let good = json!({"title": "截止催报：{form}", "body": "《{form}》{period} 还没有填报（截止 {deadline}），请抓紧。"});
            let (s, _) = t.call("PUT", path, Some(&county), Some(good.clone())).await;
            assert_eq!(s, StatusCode::FORBIDDEN);
            let (s, e) = t.call("PUT", path, Some(&nat), Some(json!({"title": "催报", "body": "{form} 体温 {amount}"}))).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert_eq!(e["fields"][0]["field"], "body");
            assert!(e["message"].as_str().unwrap_or("").contains("未知字段 {amount}"), "{e}");
            let (s, e) = t.call("PUT", path, Some(&nat), Some(json!({"title": "催报 {form", "body": "请填报"}))).await;
            assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("title")));
            let (s, _) = t.call("PUT", "/api/v1/notifications/templates/no_such", Some(&nat), Some(good.clone())).await;
            assert_eq!(s, StatusCode::NOT_FOUND);
            assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM notify_templates").await, 0, "nothing half-written");

            let (s, v2) = t.call("PUT", path, Some(&nat), Some(good.clone())).await;
            assert_eq!(s, StatusCode::OK, "{v2}");
            assert_eq!(v2["current"]["version"], 2);
            assert_eq!(v2["versions"].as_array().map(Vec::len), Some(2));
            assert_eq!(v2["versions"][1]["version"], 1, "the built-in text stays readable");
            // Saving the same text again is no new version.
            let (_, same) = t.call("PUT", path, Some(&nat), Some(good)).await;
            assert_eq!(same["current"]["version"], 2);
            assert_eq!(audit_count(&t, "notify.template").await, 1);

            // The 10:00 reminders use version 2 and record it.
            t.clock.advance(chrono::Duration::minutes(61));
            assert!(backstop_app::reports::run_deadlines(&t.state).await.expect("deadlines") > 0);
            let q = "SELECT CAST(COUNT(*) AS BIGINT) FROM notifications WHERE kind = 'report_reminder'";
            let all = count(&t, q).await;
            assert!(all > 0);
            assert_eq!(count(&t, &format!("{q} AND template_key = 'report_reminder' AND template_version = 2 AND title LIKE '截止催报：%'")).await, all);

            // The page: the version shown; a refused text kept beside its reason (422).
            let nat_cookie = web_login(&t, "nat.tpl").await;
            let (s, html) = page(&t, "/notifications/templates", &nat_cookie).await;
            assert_eq!(s, StatusCode::OK);
            assert!(html.contains("第 2 版") && html.contains("历史版本"), "version shown");
            let (s, html) = post_page(&t, "/notifications/templates", &nat_cookie,
                "key=report_chase&title=%E5%82%AC%E6%8A%A5&body=%E8%AF%B7%E5%A1%AB%E6%8A%A5%7Bdiagnosis%7D").await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(html.contains("请填报{diagnosis}") && html.contains("未知字段 {diagnosis}"), "kept and explained");
            let (s, _) = post_page(&t, "/notifications/templates", &nat_cookie,
                "key=report_chase&title=%E5%82%AC%E5%8A%9E%EF%BC%9A%7Bform%7D&body=%E8%AF%B7%E5%A1%AB%E6%8A%A5%E3%80%8A%7Bform%7D%E3%80%8B").await;
            assert_eq!(s, StatusCode::SEE_OTHER);
            assert_eq!(audit_count(&t, "notify.template").await, 2);

            let (_, doc) = t.call("GET", "/api/v1/openapi.json", None, None).await;
            for p in ["/api/v1/notifications/templates", "/api/v1/notifications/templates/{key}", "/api/v1/notifications/channels"] {
                assert!(doc["paths"][p].is_object(), "openapi lacks {p}");
            }
    })
    .await;
}

#[tokio::test]
async fn users_channels_decide_sms_and_wechat_and_in_app_only_is_visible() {
    each_backend_with_gateway(config, |t, fake| async move {
        fake.lock().expect("fake").seen.clear();
        t.import_fixture().await;
        let county = t.user("cty.ch", &["official"], "130110").await;
        let uid = t.make_user("cw.ch", &["community_worker"], V1).await;
        let mut w = t.state.db.begin_write().await.expect("tx");
        sqlx::query("UPDATE users SET phone_enc = $1, phone_masked = '138****8000' WHERE id = $2")
            .bind(t.state.keys.encrypt(PHONE.as_bytes()))
            .bind(uid)
            .execute(w.conn())
            .await
            .expect("phone");
        w.commit().await.expect("commit");
        let cw = t.login("cw.ch").await;

        // Never chosen: every channel.
        let (s, p) = t.get("/api/v1/notifications/channels", &cw).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(p["channels"], json!(["in_app", "sms", "wechat", "webhook"]));
        assert_eq!(
            (p["chosen"].as_bool(), p["in_app_only"].as_bool()),
            (Some(false), Some(false))
        );
        queue_to_user(&t, uid).await;
        drain(&t).await;
        let sms = seen(&fake, "/sms");
        assert_eq!(sms.len(), 1, "{sms:?}");
        assert_eq!(sms[0].1["mobile"], PHONE);
        let wx = seen(&fake, "/wechat");
        assert_eq!(wx.len(), 1, "{wx:?}");
        assert_eq!(
            (wx[0].1["touser"].as_str(), wx[0].1["template_id"].as_str()),
            (Some(PHONE), Some("TPL-1"))
        );
        assert!(wx[0].0.contains("-wechat-user"), "keyed: {}", wx[0].0);
        assert_eq!(wx[0].1["key"].as_str(), Some(wx[0].0.as_str()));

        // Refuses SMS: not texted, WeChat still.
        let (s, e) = t
            .call(
                "PUT",
                "/api/v1/notifications/channels",
                Some(&cw),
                Some(json!({"channels": ["sms", "pigeon"]})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(
            e["message"].as_str().unwrap_or("").contains("没有这种渠道"),
            "{e}"
        );
        let (s, p) = t
            .call(
                "PUT",
                "/api/v1/notifications/channels",
                Some(&cw),
                Some(json!({"channels": ["wechat"]})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(
            p["channels"],
            json!(["in_app", "wechat"]),
            "in-app always kept"
        );
        queue_to_user(&t, uid).await;
        drain(&t).await;
        assert_eq!(seen(&fake, "/sms").len(), 1, "no second SMS");
        assert_eq!(seen(&fake, "/wechat").len(), 2);

        // Nothing outside Backstop: in-app only, shown to the user and in the delivery list.
        let (_, p) = t
            .call(
                "PUT",
                "/api/v1/notifications/channels",
                Some(&cw),
                Some(json!({"channels": []})),
            )
            .await;
        assert_eq!(p["in_app_only"], true);
        queue_to_user(&t, uid).await;
        drain(&t).await;
        assert_eq!(
            (seen(&fake, "/sms").len(), seen(&fake, "/wechat").len()),
            (1, 2)
        );
        let (s, list) = t
            .get(
                &format!("/api/v1/notifications/deliveries?region={V1}"),
                &county,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{list}");
        let in_app: Vec<&Value> = list
            .as_array()
            .expect("list")
            .iter()
            .filter(|d| d["channel"] == "in_app" && d["recipient"] == format!("user:{uid}"))
            .collect();
        assert_eq!(in_app.len(), 1, "{list}");
        assert_eq!(in_app[0]["state"], "sent");
        // The user's own messages are still there.
        let (_, mine) = t.get("/api/v1/notifications", &cw).await;
        assert!(mine.as_array().is_some_and(|m| m.len() >= 3), "{mine}");
        assert!(
            !list.to_string().contains(PHONE),
            "phones masked in the list"
        );

        // The account page's section: the state shown, the form saves (audited).
        let cookie = web_login(&t, "cw.ch").await;
        let (s, html) = page(&t, "/account", &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("接收消息的渠道")
                && html.contains("仅站内消息")
                && html.contains("138****8000"),
            "section shown"
        );
        let (s, _) = post_page(
            &t,
            "/account/channels",
            &cookie,
            "channels=sms&channels=webhook",
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, p) = t.get("/api/v1/notifications/channels", &cw).await;
        assert_eq!(p["channels"], json!(["in_app", "sms", "webhook"]));
        assert_eq!(audit_count(&t, "notify.channels").await, 3);
    })
    .await;
}

#[tokio::test]
async fn a_missed_checkin_alerts_the_four_then_the_communitys_leader_under_the_rule() {
    each_backend_with_gateway(config, |t, fake| async move {
            fake.lock().expect("fake").seen.clear();
            t.import_fixture().await;
            let nat = t.user("nat.obs", &["official"], "0").await;
            let county = t.user("cty.obs", &["official"], "130110").await;
            let w1 = t.user("w1.obs", &["community_worker"], V1).await;

            // The rule is in the one table, shown on the settings page.
            let (_, rules) = t.get("/api/v1/notifications/escalation-rules", &county).await;
            let rule = rules.as_array().expect("rules").iter().find(|r| r["kind"] == "observation_checkin").cloned().expect("rule");
            assert_eq!((rule["escalate_after_min"].as_i64(), rule["label"].as_str()), (Some(720), Some("居家观察漏报")));
            let cookie = web_login(&t, "cty.obs").await;
            let (_, html) = page(&t, "/notifications/escalation", &cookie).await;
            assert!(html.contains("居家观察漏报") && html.contains("rule-observation_checkin"), "on the settings page");
            let (s, r) = t.call("PUT", "/api/v1/notifications/escalation-rules/observation_checkin", Some(&nat),
                Some(json!({"repeats": [60], "escalate_after_min": 120}))).await;
            assert_eq!(s, StatusCode::OK, "{r}");

            // The community's leader: V1's committee with a contact phone.
            let (s, o) = t.post("/api/v1/orgs", &county, json!({"name": "旱码头社区居委会", "kind": "community_committee",
                "region_code": V1, "contact_person": "王主任", "contact_phone": "13700001111"})).await;
            assert_eq!(s, StatusCode::CREATED, "{o}");
            let p = created_id(&t, "/api/v1/persons", &w1,
                json!({"id_number": cid("130110", "19800101", 21), "name": "张三", "region_code": V1})).await;
            let (s, o) = t.post("/api/v1/observations", &w1, json!({"person_id": p, "keepers": keepers()})).await;
            assert_eq!(s, StatusCode::CREATED, "{o}");
            let missed = "SELECT CAST(COUNT(*) AS BIGINT) FROM notifications WHERE kind = 'observation_missed'";

            // 09:00 → 00:30 next day: the afternoon went by without a check-in: the four.
            t.clock.advance(chrono::Duration::minutes(15 * 60 + 30));
            notify::escalate::tick(&t.state).await.expect("tick");
            assert_eq!(count(&t, missed).await, 4);
            assert_eq!(count(&t, &format!("{missed} AND unit LIKE 'observation:%:keeper:%' AND template_key = 'observation_missed'")).await, 4);
            // 01:10: the rule's repeat (60 min after the slot ended), the four again.
            t.clock.advance(chrono::Duration::minutes(40));
            notify::escalate::tick(&t.state).await.expect("tick");
            assert_eq!(count(&t, missed).await, 8);
            // 02:10: two hours after: the leader, shown to the township; once.
            t.clock.advance(chrono::Duration::minutes(60));
            notify::escalate::tick(&t.state).await.expect("tick");
            notify::escalate::tick(&t.state).await.expect("again");
            assert_eq!(count(&t, missed).await, 9);
            assert_eq!(count(&t, &format!("{missed} AND unit = 'leader:{V1}' AND region_code = '{TOWN}' AND template_key = 'observation_missed_leader'")).await, 1);

            // By SMS: each keeper twice, the leader once; a reference, no health detail.
            drain(&t).await;
            let sms = seen(&fake, "/sms");
            let sms: Vec<_> = sms.into_iter().filter(|s| s.1["content"].as_str().unwrap_or("").contains("观察")).collect();
            let to = |phone: &str| sms.iter().filter(|s| s.1["mobile"] == phone).count();
            assert_eq!((to("13900000000"), to("13900000003"), to("13700001111")), (2, 2, 1), "{sms:?}");
            for (_, b) in &sms {
                let text = b["content"].as_str().unwrap_or("");
                assert!(text.contains("张*") && !text.contains("张三") && !text.contains("℃") && !text.contains("体温"), "{text}");
            }

            // Switched off: no more alerts.
            let nat = t.login("nat.obs").await;
            let (s, _) = t.call("PUT", "/api/v1/notifications/escalation-rules/observation_checkin", Some(&nat),
                Some(json!({"repeats": [], "escalate_after_min": 120, "enabled": false}))).await;
            assert_eq!(s, StatusCode::OK);
            t.clock.advance(chrono::Duration::hours(24));
            assert_eq!(backstop_app::screening::run_observation_checks(&t.state).await.expect("sweep"), 0);
            assert_eq!(count(&t, missed).await, 9);
    })
    .await;
}
