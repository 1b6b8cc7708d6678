//! Issue 13, item 4 (device credentials), on every backend: a field worker gives the TOTP code
//! once on a browser, which then logs in with the password alone for 30 days; an official
//! gives it every time; a credential works only for its own account, only on the login page,
//! and dies when revoked by its user, by the account's official or by the security
//! administrator, by a password reset, a second-factor reset, disabling, or after 30 days.
//! Nobody else lists or revokes it, and every step is audited.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    PW, T, audit_count, each_backend, location, login_form_body, page, set_cookie_pair, totp_step,
};

const V1: &str = "130110100001";

/// The `name=value` of the device cookie a response sets, with its attributes.
fn device_cookie(h: &HeaderMap) -> Option<(String, String)> {
    h.get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("backstop_dev_"))
        .map(|c| {
            let pair = c.split(';').next().unwrap_or("").to_string();
            (pair, c.to_string())
        })
}

/// The password step of the web login, with the cookies the browser holds: where it leads
/// and the session cookie.
async fn password_step(t: &T, username: &str, held: Option<&str>) -> (String, String) {
    let (s, h, _) = t
        .raw_form("POST", "/login", held, &login_form_body(username))
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "login {username}");
    (location(&h), set_cookie_pair(&h))
}

/// A full first login on a new browser: the device cookie it receives, if any.
async fn first_login(t: &T, username: &str) -> Option<(String, String)> {
    let (to, session) = password_step(t, username, None).await;
    assert_eq!(
        to, "/login/totp",
        "{username}: first login on a browser asks for the code"
    );
    device_cookie(&totp_step(t, username, &session).await)
}

/// Does a login with this device cookie skip the TOTP step?
async fn skips_totp(t: &T, username: &str, device: &str) -> bool {
    let (to, session) = password_step(t, username, Some(device)).await;
    if to == "/login/totp" {
        return false;
    }
    // The session is complete: a page answers.
    let (s, _) = page(t, "/account", &session).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "{username}: session after a device login"
    );
    true
}

async fn device_ids(t: &T, username: &str) -> Vec<i64> {
    let id = t.user_id(username).await;
    sqlx::query_scalar(
        "SELECT id FROM device_credentials WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id",
    )
    .bind(id)
    .fetch_all(t.state.db.pool())
    .await
    .expect("devices")
}

#[tokio::test]
async fn a_field_worker_gives_the_code_once_per_browser() {
    each_backend(|t| async move {
        t.import_fixture().await;
        t.make_user("cw.dev", &["community_worker"], V1).await;
        t.make_user("cw.other", &["community_worker"], V1).await;

        let (pair, attrs) = first_login(&t, "cw.dev").await.expect("a device cookie");
        // Sent back only to the login page, for 30 days, not to scripts.
        assert!(attrs.contains("Path=/login"), "{attrs}");
        assert!(
            attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict"),
            "{attrs}"
        );
        assert!(
            attrs.contains(&format!("Max-Age={}", 30 * 24 * 3600)),
            "{attrs}"
        );
        assert_eq!(audit_count(&t, "auth.device_issue").await, 1);
        // Only the hash is stored.
        let token = pair.split_once('=').expect("pair").1.to_string();
        let stored: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM device_credentials WHERE token_hash = $1",
        )
        .bind(&token)
        .fetch_one(t.state.db.pool())
        .await
        .expect("count");
        assert_eq!(stored, 0, "the credential itself is never stored");

        // The same browser: password only. The login is audited with the device.
        assert!(skips_totp(&t, "cw.dev", &pair).await);
        let detail: String = sqlx::query_scalar(
            "SELECT detail FROM audit_log WHERE action = 'auth.login' AND outcome = 'success' \
             ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(t.state.db.pool())
        .await
        .expect("login entry");
        assert!(detail.contains("\"device\""), "{detail}");
        // Another browser (no cookie) gives the code again.
        let (to, _) = password_step(&t, "cw.dev", None).await;
        assert_eq!(to, "/login/totp");
        // Another account on the same phone: the cookie is not theirs.
        let (to, _) = password_step(&t, "cw.other", Some(&pair)).await;
        assert_eq!(to, "/login/totp", "a credential opens only its own account");
        // A forged credential is nothing.
        let forged = format!("backstop_dev_{}=d_forged", t.user_id("cw.dev").await);
        assert!(!skips_totp(&t, "cw.dev", &forged).await);
        // The credential is not a session: pages and the API refuse it.
        let (s, _) = page(&t, "/account", &pair).await;
        assert_ne!(s, StatusCode::OK);
        let (s, _) = t.get("/api/v1/me", &token).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        // A wrong password with the credential is still a failure.
        let (s, _, _) = t
            .raw_form(
                "POST",
                "/login",
                Some(&pair),
                "username=cw.dev&password=wrong",
            )
            .await;
        assert_ne!(s, StatusCode::SEE_OTHER);

        // 30 days later it has expired.
        t.clock.advance(chrono::Duration::days(31));
        assert!(
            !skips_totp(&t, "cw.dev", &pair).await,
            "expired after 30 days"
        );
    })
    .await;
}

#[tokio::test]
async fn officials_give_the_code_at_every_login() {
    each_backend(|t| async move {
        t.import_fixture().await;
        t.make_user("off.dev", &["official"], "130110").await;
        assert!(
            first_login(&t, "off.dev").await.is_none(),
            "no device credential for an official"
        );
        let (to, _) = password_step(&t, "off.dev", None).await;
        assert_eq!(to, "/login/totp");
        assert_eq!(audit_count(&t, "auth.device_issue").await, 0);
    })
    .await;
}

#[tokio::test]
async fn devices_are_listed_and_revoked_by_the_user_the_official_and_the_secadmin() {
    each_backend(|t| async move {
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], "130110").await;
        let off_b = t.user("off.b", &["official"], "130111").await;
        let sec = t.user("sec.a", &["secadmin"], "130110").await;
        let peer = t.user("cw.peer", &["community_worker"], V1).await;
        let uid = t.make_user("cw.dev", &["community_worker"], V1).await;
        let me = t.login("cw.dev").await;

        let (d1, _) = first_login(&t, "cw.dev").await.expect("device 1");
        let (d2, _) = first_login(&t, "cw.dev").await.expect("device 2");
        let (d3, _) = first_login(&t, "cw.dev").await.expect("device 3");
        let ids = device_ids(&t, "cw.dev").await;
        assert_eq!(ids.len(), 3);

        // The user lists their own, as JSON and on the page.
        let (s, own) = t.get("/api/v1/auth/devices", &me).await;
        assert_eq!(s, StatusCode::OK, "{own}");
        assert_eq!(own.as_array().map(Vec::len), Some(3), "{own}");
        assert!(own[0]["label"].as_str().is_some_and(|l| l.contains('·')));
        // A peer in the same village, the other county's official: nothing.
        let path = format!("/api/v1/users/{uid}/devices");
        let (s, b) = t.get(&path, &peer).await;
        assert!(matches!(s.as_u16(), 403 | 404), "peer: {s} {b}");
        let (s, b) = t.get(&path, &off_b).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "other county: {b}");
        assert!(!b.to_string().contains("label"));
        // The account's official and the security administrator see them.
        for tok in [&off, &sec] {
            let (s, b) = t.get(&path, tok).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            assert_eq!(b.as_array().map(Vec::len), Some(3));
        }

        // The user revokes the first; someone else's id is not found.
        let (s, _) = t
            .post(
                &format!("/api/v1/auth/devices/{}/revoke", ids[0]),
                &peer,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "another's device");
        let (s, b) = t
            .post(
                &format!("/api/v1/auth/devices/{}/revoke", ids[0]),
                &me,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(!skips_totp(&t, "cw.dev", &d1).await, "revoked by its user");
        // The other county's official cannot revoke; the official of the account can.
        let p2 = format!("/api/v1/users/{uid}/devices/{}/revoke", ids[1]);
        let (s, _) = t.post(&p2, &off_b, json!({})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(
            skips_totp(&t, "cw.dev", &d2).await,
            "a refused revocation changed nothing"
        );
        let (s, _) = t.post(&p2, &off, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            !skips_totp(&t, "cw.dev", &d2).await,
            "revoked by the official"
        );
        // The security administrator, from the page.
        let sec_cookie = crate::support::web_login(&t, "sec.a").await;
        let (s, html) = page(&t, &format!("/users/{uid}/devices"), &sec_cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains(&format!("device-revoke-{}", ids[2])),
            "{html}"
        );
        assert!(html.contains("user-reset-totp"));
        let (s, h, _) = t
            .raw_form(
                "POST",
                &format!("/users/{uid}/devices/{}/revoke", ids[2]),
                Some(&sec_cookie),
                "",
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(location(&h).ends_with("done=revoked"));
        assert!(
            !skips_totp(&t, "cw.dev", &d3).await,
            "revoked by the secadmin"
        );
        assert_eq!(audit_count(&t, "auth.device_revoke").await, 3);
        // The user's page shows them all as revoked.
        let cw_cookie = crate::support::web_login(&t, "cw.dev").await;
        let (s, html) = page(&t, "/account/devices", &cw_cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("已注销"), "{html}");
    })
    .await;
}

#[tokio::test]
async fn resets_and_disabling_revoke_every_device() {
    each_backend(|t| async move {
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], "130110").await;
        let sec = t.user("sec.a", &["secadmin"], "130110").await;
        let uid = t.make_user("cw.dev", &["community_worker"], V1).await;

        // A password reset by the official.
        let (d, _) = first_login(&t, "cw.dev").await.expect("device");
        let (s, b) = t
            .post(
                &format!("/api/v1/users/{uid}/reset-password"),
                &off,
                json!({"password": PW}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(
            device_ids(&t, "cw.dev").await.is_empty(),
            "reset revokes devices"
        );
        assert!(!skips_totp(&t, "cw.dev", &d).await);

        // A second-factor reset by the security administrator.
        // (First log in fully so the account has its code again.)
        let _ = t.login("cw.dev").await;
        let (d, _) = first_login(&t, "cw.dev").await.expect("device");
        let (s, b): (StatusCode, Value) = t
            .post(&format!("/api/v1/users/{uid}/reset-totp"), &sec, json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(
            device_ids(&t, "cw.dev").await.is_empty(),
            "TOTP reset revokes devices"
        );
        let (to, _) = password_step(&t, "cw.dev", Some(&d)).await;
        assert_ne!(to, "/", "no complete login after a second-factor reset");

        // Disabling, then enabling: the device stays revoked.
        let id = t.user_id("cw.dev").await;
        t.enrol_known_totp(id, "cw.dev").await;
        let (d, _) = first_login(&t, "cw.dev").await.expect("device");
        for disabled in [true, false] {
            let (s, b) = t
                .patch(
                    &format!("/api/v1/users/{uid}"),
                    &off,
                    json!({"disabled": disabled}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        assert!(
            device_ids(&t, "cw.dev").await.is_empty(),
            "disable revokes devices"
        );
        assert!(
            !skips_totp(&t, "cw.dev", &d).await,
            "and enabling does not bring them back"
        );
    })
    .await;
}

/// Issue 14, item 9: after logging in, the person lands on the page they asked for — never on
/// another site.
#[tokio::test]
async fn login_returns_to_the_page_asked_for() {
    each_backend(|t| async move {
        t.import_fixture().await;
        t.make_user("off.back", &["official"], "130110").await;
        // Asking for a page without a session: to the login page, carrying the page along.
        let (s, h, _) = t.raw_form("GET", "/users?region=130110", None, "").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(location(&h), "/login?next=%2Fusers%3Fregion%3D130110");
        let (_, _, b) = t.raw_form("GET", &location(&h), None, "").await;
        let html = String::from_utf8_lossy(&b);
        assert!(
            html.contains(r#"name="next" value="/users?region=130110""#),
            "{html}"
        );

        // Password, then the TOTP step, then the page.
        let next = "&next=%2Fusers%3Fregion%3D130110";
        let (s, h, _) = t
            .raw_form(
                "POST",
                "/login",
                None,
                &format!("{}{next}", login_form_body("off.back")),
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(location(&h), "/login/totp?next=%2Fusers%3Fregion%3D130110");
        let session = set_cookie_pair(&h);
        t.clock.advance(chrono::Duration::seconds(31));
        let code = t.totp_now("off.back");
        let (_, h, _) = t
            .raw_form(
                "POST",
                "/login/totp",
                Some(&session),
                &format!("code={code}{next}"),
            )
            .await;
        assert_eq!(location(&h), "/users?region=130110");

        // Another site, a protocol-relative address, a login step: home instead.
        for evil in [
            "https%3A%2F%2Fevil.example%2F",
            "%2F%2Fevil.example",
            "%2F%5Cevil.example",
            "%2Flogout",
        ] {
            let (_, h, _) = t
                .raw_form(
                    "POST",
                    "/login",
                    None,
                    &format!("{}&next={evil}", login_form_body("off.back")),
                )
                .await;
            assert_eq!(location(&h), "/login/totp", "{evil}");
            let session = set_cookie_pair(&h);
            t.clock.advance(chrono::Duration::seconds(31));
            let code = t.totp_now("off.back");
            let (_, h, _) = t
                .raw_form(
                    "POST",
                    "/login/totp",
                    Some(&session),
                    &format!("code={code}&next={evil}"),
                )
                .await;
            assert_eq!(location(&h), "/", "{evil}");
        }
    })
    .await;
}
