//! Issue 13, items 6 (tokens) and 7 (login throttling), on every backend: personal API tokens
//! that die with the password and stay dead and are no page cookie, their longest lifetime set
//! by the security administrator, and login throttling per source address and over the service.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use backstop_app::accounts;
use backstop_app::kernel::actor::Actor;
use backstop_app::kernel::auth::ThrottleLimits;
use serde_json::{Value, json};

use crate::support::{PW, T, audit_count, each_backend};

const NEW_PW: &str = "Tr4%Kq8zLm2x";

fn code_of(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

/// An account made by the operator, never logged in and without a second factor.
async fn fresh_user(t: &T, username: &str, roles: &[&str], region: &str) -> i64 {
    let u = accounts::create_user(
        &t.state,
        &Actor::operator(),
        &accounts::NewUser {
            username: username.to_string(),
            password: PW.to_string(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            region_code: region.to_string(),
            org_id: None,
            display_name: String::new(),
        },
    )
    .await
    .expect("create");
    let mut w = t.state.db.begin_write().await.expect("tx");
    sqlx::query("UPDATE users SET must_change_password = 0 WHERE id = $1")
        .bind(u.id)
        .execute(w.conn())
        .await
        .expect("prepare");
    w.commit().await.expect("commit");
    u.id
}

#[tokio::test]
async fn personal_tokens_die_with_the_password_and_stay_dead() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let county = t.user("tok.boss", &["official"], "130110").await;
        let cw_id = t.make_user("tok.cw", &["community_worker"], "130110").await;
        let new_token = |session: String| {
            let t = &t;
            async move {
                let (s, b) = t
                    .post(
                        "/api/v1/tokens",
                        &session,
                        json!({"name": "脚本", "days": 30}),
                    )
                    .await;
                assert_eq!(s, StatusCode::CREATED, "{b}");
                let tok = b["token"].as_str().expect("token").to_string();
                assert_eq!(t.get("/api/v1/me", &tok).await.0, StatusCode::OK);
                tok
            }
        };
        // A password change ends the tokens.
        let session = t.login("tok.cw").await;
        let tok = new_token(session.clone()).await;
        let (s, b) = t
            .post(
                "/api/v1/auth/password",
                &session,
                json!({"old_password": PW, "new_password": NEW_PW}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(t.get("/api/v1/me", &tok).await.0, StatusCode::UNAUTHORIZED);
        let session = b["token"].as_str().expect("session").to_string();

        // Disabling ends them, and enabling again does not bring them back.
        let tok = new_token(session).await;
        let (s, _) = t
            .patch_user(&county, cw_id, json!({"disabled": true}))
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = t
            .patch_user(&county, cw_id, json!({"disabled": false}))
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(t.get("/api/v1/me", &tok).await.0, StatusCode::UNAUTHORIZED);

        // A reset ends them.
        t.clock.advance(chrono::Duration::seconds(31));
        let code = t.totp_now("tok.cw");
        let (_, l) = t
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "tok.cw", "password": NEW_PW, "totp": code})),
            )
            .await;
        let tok = new_token(l["token"].as_str().expect("session").to_string()).await;
        let sec = t.user("tok.sec", &["secadmin"], "0").await;
        let (s, _) = t
            .post(
                &format!("/api/v1/users/{cw_id}/reset-password"),
                &sec,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(t.get("/api/v1/me", &tok).await.0, StatusCode::UNAUTHORIZED);

        // A token is no page cookie.
        let tok = new_token(t.login("tok.boss").await).await;
        let name = backstop_app::kernel::extract::cookie_name(false);
        let (s, h, _) = t
            .raw_form("GET", "/", Some(&format!("{name}={tok}")), "")
            .await;
        let loc = h
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            s == StatusCode::SEE_OTHER && loc.starts_with("/login"),
            "{s} {loc}"
        );
        let (s, _, _) = t
            .raw(
                "GET",
                "/api/v1/me",
                None,
                None,
                &[("cookie", &format!("{name}={tok}"))],
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn personal_token_lifetime_has_a_maximum() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let sec = t.user("life.sec", &["secadmin"], "0").await;
        let session = t
            .login(&{
                t.make_user("life.off", &["official"], "130110").await;
                "life.off".to_string()
            })
            .await;
        // Not the security administrator's to set by anyone else.
        let (s, _) = t
            .call(
                "PUT",
                "/api/v1/security/settings",
                Some(&session),
                Some(json!({"token_max_days": 3000})),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // Default maximum 90 days: above it refused, the default is the maximum.
        let (s, e) = t
            .post("/api/v1/tokens", &session, json!({"name": "a", "days": 91}))
            .await;
        assert_eq!(
            (s, code_of(&e)),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation")
        );
        let (s, b) = t
            .post("/api/v1/tokens", &session, json!({"name": "b"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let life: i64 =
            sqlx::query_scalar("SELECT expires_at - created_at FROM api_tokens WHERE id = $1")
                .bind(b["info"]["id"].as_i64().expect("id"))
                .fetch_one(t.state.db.pool())
                .await
                .expect("lifetime");
        assert_eq!(life, 90 * 24 * 3600 * 1000);
        // The security administrator lowers it.
        let (s, _) = t
            .call(
                "PUT",
                "/api/v1/security/settings",
                Some(&sec),
                Some(json!({"token_max_days": 7})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = t
            .post("/api/v1/tokens", &session, json!({"name": "c", "days": 8}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = t
            .post("/api/v1/tokens", &session, json!({"name": "d", "days": 7}))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(audit_count(&t, "security.settings").await, 1);
        let (s, b) = t.get("/api/v1/security/settings", &sec).await;
        assert_eq!((s, b["token_max_days"].as_i64()), (StatusCode::OK, Some(7)));
    })
    .await;
}

/// A JSON login from a given source address.
async fn login_from(t: &T, ip: &str, username: &str, password: &str) -> (StatusCode, Value) {
    let addr: SocketAddr = format!("{ip}:40000").parse().expect("addr");
    let mut req = Request::builder()
        .method("POST")
        .uri("/api/v1/auth/login")
        .header(header::HOST, "backstop.test")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"username": username, "password": password}).to_string(),
        ))
        .expect("request");
    req.extensions_mut().insert(ConnectInfo(addr));
    let (s, _, b) = t.send(req).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

#[tokio::test]
async fn logins_are_throttled_per_source_and_globally() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        fresh_user(&t, "thr.in", &["inspector"], "130110").await;
        t.state.auth_cache.throttle.set_limits(ThrottleLimits {
            per_source: 3,
            global: 5,
            window_ms: 15 * 60_000,
        });
        // Three different (unknown) accounts from one address: the address is throttled,
        // even for a right password, while another address still logs in.
        for n in 0..3 {
            let (s, _) = login_from(&t, "10.0.0.1", &format!("nobody{n}"), "x").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
        }
        let (s, e) = login_from(&t, "10.0.0.1", "thr.in", PW).await;
        assert_eq!(
            (s, code_of(&e)),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        assert!(
            e["message"].as_str().is_some_and(|m| m.contains("频繁")),
            "{e}"
        );
        let (s, _) = login_from(&t, "10.0.0.2", "thr.in", PW).await;
        assert_eq!(s, StatusCode::OK);
        // Two more failures elsewhere fill the service-wide count: every address waits.
        for ip in ["10.0.0.3", "10.0.0.4"] {
            let (s, _) = login_from(&t, ip, "nobody", "x").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
        }
        let (s, e) = login_from(&t, "10.0.0.9", "thr.in", PW).await;
        assert_eq!(
            (s, code_of(&e)),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        // The login page says so in Chinese, with 429.
        let (s, _, page) = t
            .raw_form("POST", "/login", None, "username=thr.in&password=x")
            .await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        assert!(String::from_utf8_lossy(&page).contains("请求过于频繁"));
        // The window passes.
        t.clock.advance(chrono::Duration::minutes(16));
        let (s, _) = login_from(&t, "10.0.0.1", "thr.in", PW).await;
        assert_eq!(s, StatusCode::OK);
    })
    .await;
}
