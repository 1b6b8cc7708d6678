//! The few-seconds credential cache (`kernel::authcache`): it is really used — a change made
//! behind the service's back (another process) is seen only when the entry expires — and every
//! change made through the service (logout, disable, role change, password change and reset,
//! token revocation) applies to the very next request, though the credential was just cached.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{PW, T, each_backend};

/// A request that needs a complete login; its status.
/// The token is refused (401) at once; `what` says after what.
async fn assert_refused(t: &T, token: &str, what: &str) {
    assert_eq!(probe(t, token).await, StatusCode::UNAUTHORIZED, "{what}");
}

async fn probe(t: &T, tok: &str) -> StatusCode {
    t.get("/api/v1/orgs", tok).await.0
}

/// Use a token twice so it is certainly in the cache.
async fn prime(t: &T, tok: &str) {
    assert_eq!(probe(t, tok).await, StatusCode::OK);
    assert_eq!(probe(t, tok).await, StatusCode::OK);
}

#[tokio::test]
async fn cached_credentials_are_refused_at_once_after_a_change() {
    each_backend(|t: T| async move {
        // The account manager: an official (no administrator manages accounts, issue 13).
        let root = t.user("root", &["official"], "0").await;
        for u in [
            "w.cached",
            "w.logout",
            "w.disable",
            "w.role",
            "w.pass",
            "w.reset",
            "w.token",
        ] {
            t.make_user(u, &["official"], "130110").await;
        }
        // Every login invalidates the cache (it writes users and sessions); log in first.
        let cached = t.login("w.cached").await;
        let logout = t.login("w.logout").await;
        let disable = t.login("w.disable").await;
        let role = t.login("w.role").await;
        let pass_a = t.login("w.pass").await;
        let pass_b = t.login("w.pass").await;
        let reset = t.login("w.reset").await;
        let tok_session = t.login("w.token").await;
        let (s, k) = t
            .post("/api/v1/tokens", &tok_session, json!({"name": "script"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{k}");
        let api_token = k["token"].as_str().expect("api token").to_string();
        let api_token_id = k["info"]["id"].as_i64().expect("token id");
        t.state.auth_cache.invalidate();

        // The cache is in use: a session revoked behind the service's back still works until
        // its entry expires (within `AuthCache::TTL` on the injected clock too), then not.
        prime(&t, &cached).await;
        assert!(!t.state.auth_cache.is_empty());
        sqlx::query("UPDATE sessions SET revoked_at = 1 WHERE user_id = $1")
            .bind(t.user_id("w.cached").await)
            .execute(t.state.db.pool())
            .await
            .expect("revoke by hand");
        assert_eq!(
            probe(&t, &cached).await,
            StatusCode::OK,
            "served from the cache"
        );
        t.clock.advance(chrono::Duration::seconds(6));
        assert_refused(&t, &cached, "entry expired").await;

        // Logout: refused at once.
        prime(&t, &logout).await;
        let (s, _) = t
            .call("POST", "/api/v1/auth/logout", Some(&logout), None)
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_refused(&t, &logout, "logout").await;

        // Disabled by the account's official: refused at once.
        prime(&t, &disable).await;
        let id = t.user_id("w.disable").await;
        let (s, u) = t.patch_user(&root, id, json!({"disabled": true})).await;
        assert_eq!(s, StatusCode::OK, "{u}");
        assert_refused(&t, &disable, "disabled").await;

        // Role change: the old session ends at once.
        prime(&t, &role).await;
        let id = t.user_id("w.role").await;
        let (s, u) = t
            .patch_user(&root, id, json!({"roles": ["community_worker"]}))
            .await;
        assert_eq!(s, StatusCode::OK, "{u}");
        assert_refused(&t, &role, "role change").await;

        // Own password change: both sessions end at once; the fresh token works.
        prime(&t, &pass_a).await;
        prime(&t, &pass_b).await;
        let (s, r) = t
            .post(
                "/api/v1/auth/password",
                &pass_a,
                json!({"old_password": PW, "new_password": "Nw5#pQ8rT2vX"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_refused(&t, &pass_a, "password change (a)").await;
        assert_refused(&t, &pass_b, "password change (b)").await;
        let fresh = r["token"].as_str().expect("fresh token");
        assert_eq!(probe(&t, fresh).await, StatusCode::OK);

        // Reset by the account's official: refused at once.
        prime(&t, &reset).await;
        let id = t.user_id("w.reset").await;
        let (s, r) = t
            .post(
                &format!("/api/v1/users/{id}/reset-password"),
                &root,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_refused(&t, &reset, "password reset").await;

        // A revoked personal API token: refused at once.
        prime(&t, &api_token).await;
        let (s, _) = t
            .call(
                "DELETE",
                &format!("/api/v1/tokens/{api_token_id}"),
                Some(&tok_session),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_refused(&t, &api_token, "token revoked").await;
        assert_eq!(
            probe(&t, &tok_session).await,
            StatusCode::OK,
            "the session stays"
        );
    })
    .await;
}
