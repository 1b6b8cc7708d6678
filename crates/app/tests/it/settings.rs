//! Issue 14, item 12: the security administrator sets the password, lockout and session rules
//! on a page (and through the API); they take effect at once, stay within 等保 bounds, are
//! refused in Chinese next to the field with the typed values kept, and are audited. Nobody
//! else reaches the page.

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::json;

use crate::support::{PW, api_login, audit_count, each_backend, page, post_page, web_login};

#[tokio::test]
async fn the_security_administrator_sets_the_login_rules_on_a_page() {
    each_backend(|t| async move {
        t.import_fixture().await;
        t.make_user("sec.a", &["secadmin"], "0").await;
        t.make_user("off.a", &["official"], "130110").await;
        let sec = web_login(&t, "sec.a").await;
        let off = web_login(&t, "off.a").await;

        // The page shows the rules in force (the configuration's defaults).
        let (s, html) = page(&t, "/security", &sec).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains(r#"id="security-max_failures" type="number" min="3" max="10" inputmode="numeric" value="5""#), "{html}");
        assert!(html.contains(r#"id="security-session_idle_minutes""#));
        // Not for an official.
        let (s, _) = page(&t, "/security", &off).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, _) = t
            .raw_form("POST", "/security", Some(&off), "token_max_days=90&max_failures=3")
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // Out of bounds: refused in Chinese beside the field, what was typed kept, nothing saved.
        let (s, html) = post_page(&t, "/security", &sec, "token_max_days=30&max_failures=20&lockout_minutes=7&session_idle_minutes=10").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("锁定前允许的连续失败次数应为 3–10"), "{html}");
        assert!(html.contains(r#"value="20" aria-invalid="true""#), "{html}");
        assert!(html.contains(r#"id="security-lockout_minutes" type="number" min="5" max="1440" inputmode="numeric" value="7""#));
        assert_eq!(audit_count(&t, "security.settings").await, 0);
        // A session shorter in total than idle: refused too.
        let (s, _, _) = t
            .raw_form(
                "POST",
                "/security",
                Some(&sec),
                "token_max_days=30&session_idle_minutes=60&session_absolute_minutes=30",
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

        // Saved: three failures lock, for 7 minutes; a session idle 11 minutes is gone.
        let (s, h, _) = t
            .raw_form(
                "POST",
                "/security",
                Some(&sec),
                "token_max_days=30&max_failures=3&lockout_minutes=7&session_idle_minutes=10&password_min_len=12",
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(h.get("location").and_then(|v| v.to_str().ok()), Some("/security?done=saved"));
        assert_eq!(audit_count(&t, "security.settings").await, 1);
        let (_, b) = t.get("/api/v1/security/settings", &t.login("sec.a").await).await;
        assert_eq!(b["max_failures"], 3, "{b}");
        assert_eq!(b["session_idle_minutes"], 10);
        assert_eq!(b["password_min_len"], 12);
        assert_eq!(b["token_max_days"], 30);

        t.make_user("cw.lock", &["community_worker"], "130110100001").await;
        for _ in 0..3 {
            let (s, _) = api_login(&t, "cw.lock", "Wrong#Pass9x").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
        }
        let (s, b) = api_login(&t, "cw.lock", PW).await;
        assert_eq!(s.as_u16(), 423, "locked after 3 failures: {b}");
        assert!(b["message"].as_str().is_some_and(|m| m.contains("7 分钟")), "{b}");

        let tok = t.login("off.a").await;
        t.clock.advance(Duration::minutes(11));
        let (s, _) = t.get("/api/v1/me", &tok).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "idle 11 of 10 minutes");

        // The new password rule: 11 characters are now too short.
        let uid = t.user_id("cw.lock").await;
        let off_tok = t.login("off.a").await;
        let (s, b) = t
            .post(&format!("/api/v1/users/{uid}/reset-password"), &off_tok, json!({"password": "Ab3#efgh9Kq"}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

        // Through the API: the same bounds, as a field error.
        let (s, b) = t
            .call("PUT", "/api/v1/security/settings", Some(&t.login("sec.a").await),
                Some(json!({"token_max_days": 30, "password_min_len": 6})))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["fields"][0]["field"], "password_min_len", "{b}");
    })
    .await;
}
