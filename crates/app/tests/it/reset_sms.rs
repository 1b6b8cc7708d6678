//! Issue 13 item 3, the rest: a user's registered mobile phone (sealed, shown masked, a
//! mainland mobile) set on create and edit, and the official's reset whose one-time password
//! goes to that phone through the notification system — it reaches the fake SMS gateway, the
//! reset's API answer and page do not contain it, and the user logs in with it and must set a
//! new password. Without a phone the password is shown once, as before.

use axum::http::StatusCode;
use backstop_app::notify;
use serde_json::{Value, json};
use sqlx::Row;

use crate::notify::{Shared, config, each_backend_with_gateway};
use crate::support::{T, api_login, audit_count, deliveries_containing, page, web_login};

const PHONE: &str = "13800131234";
const MASKED: &str = "138****1234";

/// The one-time passwords the fake SMS gateway received for `phone`, oldest first.
fn codes_sent(fake: &Shared, phone: &str) -> Vec<String> {
    let g = fake.lock().expect("fake");
    let mut keys = std::collections::HashSet::new();
    g.seen
        .iter()
        .filter(|(path, key, _, body)| {
            path == "/sms" && body["mobile"] == phone && keys.insert(key.clone())
        })
        .filter_map(|(_, _, _, body)| {
            let text = body["content"].as_str()?;
            let rest = text.split("一次性密码：").nth(1)?;
            Some(rest.split('。').next()?.to_string())
        })
        .collect()
}

/// The official `by` resets user `id`'s password through the API.
async fn reset(t: &T, by: &str, id: i64, body: Value) -> (StatusCode, Value) {
    t.post(&format!("/api/v1/users/{id}/reset-password"), by, body)
        .await
}

#[tokio::test]
async fn a_reset_sends_the_code_to_the_registered_phone_and_not_to_the_resetter() {
    each_backend_with_gateway(config, |t, fake| async move {
        // One fake gateway serves both backends: start each run from an empty record.
        fake.lock().expect("fake").seen.clear();
        t.import_fixture().await;
        let county = t.user("rs.county", &["official"], "130110").await;

        // Create with a phone: validated, sealed, shown masked.
        let body = |phone: &str| {
            json!({"username": "rs.cw", "password": "Xy7!kq2#Lm9$wz", "roles": ["community_worker"],
                       "region_code": "130110100001", "phone": phone})
        };
        let (s, b) = t.post("/api/v1/users", &county, body("12345")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b.to_string().contains("phone"), "{b}");
        let (s, b) = t
            .post("/api/v1/users", &county, body("138-0013-1234"))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["phone_masked"], MASKED);
        let cw = b["id"].as_i64().expect("id");
        let row = sqlx::query("SELECT phone_enc, phone_masked FROM users WHERE id = $1")
            .bind(cw)
            .fetch_one(t.state.db.pool())
            .await
            .expect("row");
        let enc: Vec<u8> = row.get("phone_enc");
        assert!(!String::from_utf8_lossy(&enc).contains("0013"), "sealed");
        assert_eq!(row.get::<String, _>("phone_masked"), MASKED);
        // The user sets its own password and second factor (the test's known ones).
        let (s, b) = reset(&t, &county, cw, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        notify::step(&t.state).await.expect("step");
        let first = codes_sent(&fake, PHONE);
        assert_eq!(first.len(), 1, "the first reset's code arrived");

        // A resetter may not choose the password of an account with a phone.
        let (s, b) = reset(&t, &county, cw, json!({"password": "Ab3$dEf6!hJk9"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

        // The reset: the answer names the masked phone, never the code.
        let (s, b) = reset(&t, &county, cw, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["sent_to"], MASKED, "{b}");
        assert!(b["password"].is_null(), "{b}");
        let r = notify::step(&t.state).await.expect("step");
        assert!(r.sent >= 1, "{r:?}");
        let codes = codes_sent(&fake, PHONE);
        assert_eq!(codes.len(), 2, "the code reached the SMS gateway");
        let code = codes[1].clone();
        assert!(code.len() >= 8, "{code}");
        assert!(!b.to_string().contains(&code));
        // The SMS carries the code only: no account name, no other personal data.
        {
            let g = fake.lock().expect("fake");
            let sms = g
                .seen
                .iter()
                .rev()
                .find(|(p, ..)| p == "/sms")
                .expect("sms");
            let text = sms.3["content"].as_str().unwrap_or("");
            assert!(
                !text.contains("rs.cw") && !text.contains("130110"),
                "{text}"
            );
        }
        // Neither the outbox nor the audit log holds the code in clear.
        assert_eq!(deliveries_containing(&t, &code).await, 0);
        assert_eq!(audit_count(&t, "user.password_reset").await, 2);

        // The user logs in with the code and must set a new password.
        t.enrol_known_totp(cw, "rs.cw").await;
        let (s, l) = api_login(&t, "rs.cw", &code).await;
        assert_eq!(
            (s, l["stage"].as_str()),
            (StatusCode::OK, Some("need_password_change")),
            "{l}"
        );

        // The page: "sent to" the masked phone, no code.
        let cookie = web_login(&t, "rs.county").await;
        let (s, _, html) = t
            .raw_form(
                "POST",
                &format!("/users/{cw}/reset-password"),
                Some(&cookie),
                "",
            )
            .await;
        let html = String::from_utf8_lossy(&html).to_string();
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(html.contains(&format!("已发送至 {MASKED}")), "{html}");
        notify::step(&t.state).await.expect("step");
        let page_code = codes_sent(&fake, PHONE).pop().expect("third code");
        assert!(!html.contains(&page_code), "the page never shows the code");
        let (_, shown) = page(&t, &format!("/users/{cw}"), &cookie).await;
        assert!(
            shown.contains(MASKED) && !shown.contains(PHONE),
            "masked on the page"
        );

        // Edit: remove the phone; the next reset shows the password once, as before.
        let (s, b) = t.patch_user(&county, cw, json!({"phone": ""})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["phone_masked"], "");
        let (s, b) = reset(&t, &county, cw, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let shown_pw = b["password"].as_str().expect("shown once").to_string();
        assert!(b["sent_to"].is_null());
        let (s, l) = api_login(&t, "rs.cw", &shown_pw).await;
        assert_eq!(
            (s, l["stage"].as_str()),
            (StatusCode::OK, Some("need_password_change")),
            "{l}"
        );
        // And set again through the edit page form.
        let (s, h, _) = t
            .raw_form(
                "POST",
                &format!("/users/{cw}"),
                Some(&cookie),
                &format!(
                    "display_name=&region_code=130110100001&roles=community_worker&phone={PHONE}"
                ),
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{h:?}");
        let (_, v) = t.get(&format!("/api/v1/users/{cw}"), &county).await;
        assert_eq!(v["phone_masked"], MASKED);
    })
    .await;
}
