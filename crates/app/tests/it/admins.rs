//! Issue 13, items 3, 4 (TOTP part), 6 (tokens) and 7 (login throttling), on every backend:
//! the administrator matrix (who can create, reset, enrol and use whom), the second factor per
//! role and its waiver, the security administrator's second-factor reset, personal API tokens
//! that die with the password and stay dead and are no page cookie, their longest lifetime, and
//! login throttling per source address and over the service.

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
    let id = t.make_user(username, roles, region).await;
    let mut w = t.state.db.begin_write().await.expect("tx");
    sqlx::query("UPDATE users SET totp_enabled = 0, totp_secret = NULL WHERE id = $1")
        .bind(id)
        .execute(w.conn())
        .await
        .expect("no second factor");
    w.commit().await.expect("commit");
    t.state.auth_cache.invalidate();
    id
}

/// A password-only API login: status and body.
async fn password_login(t: &T, username: &str, password: &str) -> (StatusCode, Value) {
    t.call(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await
}

async fn user_flags(t: &T, id: i64) -> (bool, bool) {
    let (m, e): (i64, i64) =
        sqlx::query_as("SELECT must_change_password, totp_enabled FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(t.state.db.pool())
            .await
            .expect("flags");
    (m != 0, e != 0)
}

#[tokio::test]
async fn no_administrator_creates_resets_or_grants_anyone() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let sys = t.user("adm.sys", &["sysadmin"], "0").await;
        let sec = t.user("adm.sec", &["secadmin"], "0").await;
        let aud = t.user("adm.aud", &["auditor"], "0").await;
        let nation = t.user("nat.off", &["official"], "0").await;
        let county = t.user("cty.off", &["official"], "130110").await;
        let cw = t.make_user("cw.one", &["community_worker"], "130110").await;
        let cw_other = t.make_user("cw.two", &["community_worker"], "130111").await;
        let auditor_id = t.user_id("adm.aud").await;
        let nation_id = t.user_id("nat.off").await;
        let users_before = crate::support::count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM users").await;

        // Create: no administrator opens any account, administrator or business.
        for (who, tok) in [("sysadmin", &sys), ("secadmin", &sec), ("auditor", &aud)] {
            for role in ["auditor", "secadmin", "sysadmin", "official", "community_worker"] {
                let (s, e) = t
                    .post(
                        "/api/v1/users",
                        tok,
                        json!({"username": format!("x.{role}"), "password": NEW_PW,
                               "roles": [role], "region_code": "0"}),
                    )
                    .await;
                assert_eq!(s, StatusCode::FORBIDDEN, "{who} created {role}: {e}");
            }
        }
        // An official never grants an administrator role either.
        let (s, _) = t
            .post(
                "/api/v1/users",
                &nation,
                json!({"username": "x.aud", "password": NEW_PW, "roles": ["auditor"], "region_code": "0"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(
            crate::support::count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM users").await,
            users_before
        );

        // Grant: no administrator changes anyone's roles.
        for tok in [&sys, &sec, &aud] {
            let (s, _) = t.patch_user(tok, cw, json!({"roles": ["official"]})).await;
            assert_eq!(s, StatusCode::FORBIDDEN);
            let (s, _) = t.patch_user(tok, nation_id, json!({"disabled": true})).await;
            assert_eq!(s, StatusCode::FORBIDDEN);
        }

        // Reset: no administrator resets a password, of an administrator or of anyone.
        for tok in [&sys, &sec, &aud] {
            for id in [auditor_id, nation_id, cw] {
                let (s, _) = t
                    .post(&format!("/api/v1/users/{id}/reset-password"), tok, json!({}))
                    .await;
                assert_eq!(s, StatusCode::FORBIDDEN, "reset {id}");
            }
        }
        // An official cannot reset an administrator, resets in its scope only.
        let (s, _) = t
            .post(&format!("/api/v1/users/{auditor_id}/reset-password"), &nation, json!({}))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t
            .post(&format!("/api/v1/users/{cw_other}/reset-password"), &county, json!({}))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(audit_count(&t, "user.password_reset").await, 0);

        // The official's reset forces the user's own password at the next login.
        let (s, b) = t
            .post(&format!("/api/v1/users/{cw}/reset-password"), &county, json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let given = b["password"].as_str().expect("one-time password").to_string();
        assert_eq!(user_flags(&t, cw).await, (true, true), "TOTP kept, password forced");
        t.clock.advance(chrono::Duration::seconds(31));
        let code = t.totp_now("cw.one");
        let (s, l) = t
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "cw.one", "password": given, "totp": code})),
            )
            .await;
        assert_eq!((s, l["stage"].as_str()), (StatusCode::OK, Some("need_password_change")));

        // Administrator accounts are reset by the operator (CLI) only, and the reset forces a
        // new second factor as well as a new password.
        accounts::reset_password(&t.state, &Actor::operator(), auditor_id, Some(NEW_PW))
            .await
            .expect("operator reset");
        assert_eq!(user_flags(&t, auditor_id).await, (true, false));
        let (s, l) = password_login(&t, "adm.aud", NEW_PW).await;
        assert_eq!((s, l["stage"].as_str()), (StatusCode::OK, Some("need_password_change")));
        let (s, e) = t.get("/api/v1/audit", l["token"].as_str().expect("tok")).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        assert_eq!(audit_count(&t, "user.password_reset").await, 2);
    })
    .await;
}

#[tokio::test]
async fn the_second_factor_per_role_and_its_waiver() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let sec = t.user("sec.sf", &["secadmin"], "0").await;
        for (name, role) in [
            ("sf.off", "official"),
            ("sf.cw", "community_worker"),
            ("sf.town", "township_staff"),
            ("sf.sw", "social_worker"),
            ("sf.insp", "inspector"),
            ("sf.inst", "institution_reporter"),
        ] {
            fresh_user(&t, name, &[role], "130110").await;
            // Not enrolled: a password opens nothing but the enrolment.
            let (s, l) = password_login(&t, name, PW).await;
            assert_eq!(
                (s, l["stage"].as_str()),
                (StatusCode::OK, Some("need_totp_enrollment")),
                "{role}"
            );
            let (s, e) = t.get("/api/v1/regions/130110", l["token"].as_str().expect("t")).await;
            assert_eq!((s, code_of(&e)), (StatusCode::UNAUTHORIZED, "totp_required"), "{role}");
        }
        // Enrolled: the code is asked at every API login, for a field role too.
        t.make_user("sf.cw2", &["community_worker"], "130110").await;
        let (s, e) = password_login(&t, "sf.cw2", PW).await;
        assert_eq!((s, code_of(&e)), (StatusCode::UNAUTHORIZED, "totp_required"));

        // The waiver: only roles that see no personal data.
        let (s, e) = t
            .call("PUT", "/api/v1/security/settings", Some(&sec),
                  Some(json!({"token_max_days": 90, "second_factor_waived_roles": ["community_worker"]})))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, e) = t
            .call("PUT", "/api/v1/security/settings", Some(&sec),
                  Some(json!({"token_max_days": 90, "second_factor_waived_roles": ["official"]})))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let off = t.user("sf.boss", &["official"], "0").await;
        let (s, _) = t
            .call("PUT", "/api/v1/security/settings", Some(&off),
                  Some(json!({"token_max_days": 90, "second_factor_waived_roles": ["inspector"]})))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, b) = t
            .call("PUT", "/api/v1/security/settings", Some(&sec),
                  Some(json!({"token_max_days": 90, "second_factor_waived_roles": ["inspector"]})))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(audit_count(&t, "security.settings").await, 1);
        let (s, l) = password_login(&t, "sf.insp", PW).await;
        assert_eq!((s, l["stage"].as_str()), (StatusCode::OK, Some("full")));
        for name in ["sf.inst", "sf.cw", "sf.off"] {
            let (_, l) = password_login(&t, name, PW).await;
            assert_eq!(l["stage"].as_str(), Some("need_totp_enrollment"), "{name}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_security_administrator_resets_business_second_factors_only() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let sec = t.user("sec.r", &["secadmin"], "0").await;
        let sys = t.user("sys.r", &["sysadmin"], "0").await;
        let cw = t.make_user("cw.r", &["community_worker"], "130110").await;
        let aud = t.make_user("aud.r", &["auditor"], "0").await;
        let (s, _) = t
            .post(&format!("/api/v1/users/{cw}/reset-totp"), &sys, json!({}))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t
            .post(&format!("/api/v1/users/{aud}/reset-totp"), &sec, json!({}))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(user_flags(&t, aud).await, (false, true));
        let (s, b) = t
            .post(&format!("/api/v1/users/{cw}/reset-totp"), &sec, json!({}))
            .await;
        assert_eq!(
            (s, b["totp_enabled"].as_bool()),
            (StatusCode::OK, Some(false)),
            "{b}"
        );
        assert_eq!(audit_count(&t, "user.totp_reset").await, 1);
        let (s, l) = password_login(&t, "cw.r", PW).await;
        assert_eq!(
            (s, l["stage"].as_str()),
            (StatusCode::OK, Some("need_totp_enrollment"))
        );
    })
    .await;
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
        let (s, _) = t
            .post(
                &format!("/api/v1/users/{cw_id}/reset-password"),
                &county,
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

#[tokio::test]
async fn recovery_codes_open_one_login_each() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let id = t.make_user("rc.off", &["official"], "130110").await;
        let session = t.login("rc.off").await;
        let (s, b) = t
            .post("/api/v1/auth/recovery-codes", &session, json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let codes: Vec<String> = b["codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().expect("code").to_string())
            .collect();
        assert_eq!(codes.len(), 10);
        assert_eq!(audit_count(&t, "auth.recovery_codes").await, 1);
        // Stored only as hashes.
        let stored: Vec<String> =
            sqlx::query_scalar("SELECT code_hash FROM recovery_codes WHERE user_id = $1")
                .bind(id)
                .fetch_all(t.state.db.pool())
                .await
                .expect("hashes");
        assert_eq!(stored.len(), 10);
        assert!(
            stored
                .iter()
                .all(|h| !codes.iter().any(|c| h.contains(c.as_str())))
        );
        // A code stands in for the TOTP code once; a second use fails like a wrong code.
        let with = |code: String| {
            let t = &t;
            async move {
                t.call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"username": "rc.off", "password": PW, "totp": code})),
                )
                .await
            }
        };
        let (s, l) = with(codes[0].to_lowercase()).await;
        assert_eq!(
            (s, l["stage"].as_str()),
            (StatusCode::OK, Some("full")),
            "{l}"
        );
        let (s, e) = with(codes[0].clone()).await;
        assert_eq!((s, code_of(&e)), (StatusCode::UNAUTHORIZED, "invalid_totp"));
        let (s, e) = with("ABCD-EFGH".to_string()).await;
        assert_eq!((s, code_of(&e)), (StatusCode::UNAUTHORIZED, "invalid_totp"));
        // The web TOTP step takes one too.
        let (s, h, _) = t
            .raw_form(
                "POST",
                "/login",
                None,
                &format!("username=rc.off&password={}", "Zq7%23mK2p%21vR9"),
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let cookie = crate::support::set_cookie_pair(&h);
        let (s, h, _) = t
            .raw_form(
                "POST",
                "/login/totp",
                Some(&cookie),
                &format!("code={}", codes[1]),
            )
            .await;
        assert_eq!(
            (s, h.get("location").and_then(|v| v.to_str().ok())),
            (StatusCode::SEE_OTHER, Some("/"))
        );
        assert_eq!(
            backstop_app::kernel::auth::recovery_codes_left(&t.state, id)
                .await
                .expect("left"),
            8
        );
        // A second-factor reset ends them.
        accounts::reset_second_factor(&t.state, &Actor::operator(), id)
            .await
            .expect("reset");
        assert_eq!(
            backstop_app::kernel::auth::recovery_codes_left(&t.state, id)
                .await
                .expect("left"),
            0
        );
    })
    .await;
}
