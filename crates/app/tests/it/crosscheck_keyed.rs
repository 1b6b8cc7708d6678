//! Cross-check fingerprints keyed (issue 13, the open item of item 5): the fingerprint of a
//! conflict covers sealed facts (the care categories of a person, the name and birth date of
//! a possible duplicate), so it is an HMAC blind index under the service key, not SHA-256 of
//! the facts: nobody with the database alone can test guesses against it. A run that finds
//! the same conflict again still matches it; a fingerprint stored unkeyed by an earlier
//! version is keyed at the next open (audited once) and still matches.

use axum::http::StatusCode;
use backstop_app::crosscheck::rules::fingerprint_of;
use backstop_app::kernel::crypto::sha256_hex;
use serde_json::json;

use crate::support::{T, cid, count, created_id, each_backend};

const V1: &str = "130110100001";

/// The stored fingerprints, by conflict id.
async fn fingerprints(t: &T) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT id, fingerprint FROM crosschecks ORDER BY id")
        .fetch_all(t.state.db.pool())
        .await
        .expect("fingerprints")
}

async fn run(t: &T, token: &str) -> i64 {
    let (s, r) = t.post("/api/v1/crosschecks/run", token, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    r["created"].as_i64().expect("created")
}

#[tokio::test]
async fn crosscheck_fingerprints_are_keyed_and_still_match() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let county = t.user("kf_county", &["official"], "130110").await;
        let w = t.user("kf_w", &["community_worker"], V1).await;
        let pid = created_id(&t, "/api/v1/persons", &w,
            json!({"id_number": cid("130110", "19500101", 1), "name": "孙三", "region_code": V1})).await;
        let path = format!("/api/v1/care/persons/{pid}/memberships");
        let mut mids = Vec::new();
        for cat in ["dibao", "tekun_dispersed"] {
            let body = json!({"category": cat, "start_date": "2025-01-01", "deciding_body": "鹿泉区民政局"});
            mids.push(created_id(&t, &path, &w, body).await);
        }
        assert_eq!(run(&t, &county).await, 1);

        // What an attacker with the database would compute: SHA-256 of the facts, trying
        // the few category pairs. It is not what is stored; the keyed index of it is.
        let plain = sha256_hex(format!("exclusive_groups|m{}|m{}|dibao|tekun_dispersed", mids[0], mids[1]).as_bytes());
        let stored = fingerprints(&t).await;
        assert_eq!(stored.len(), 1, "{stored:?}");
        let (cid_, fp) = stored[0].clone();
        assert_ne!(fp, plain, "the fingerprint is not SHA-256 of the facts");
        assert_eq!(fp.len(), 32);
        assert_eq!(fp, fingerprint_of(&t.state.keys, &plain), "keyed under the service key");
        let other = backstop_app::kernel::crypto::KeyRing::from_master([9; 32]);
        assert_ne!(fp, fingerprint_of(&other, &plain), "another key gives another index");

        // Matching still works: the same facts found again are the same conflict.
        assert_eq!(run(&t, &county).await, 0, "found again, not added");
        assert_eq!(fingerprints(&t).await, stored);

        // A fingerprint an earlier version stored unkeyed is keyed at the next open, once.
        let mut wtx = t.state.db.begin_write().await.expect("tx");
        sqlx::query("UPDATE crosschecks SET fingerprint = $1 WHERE id = $2")
            .bind(&plain).bind(cid_).execute(wtx.conn()).await.expect("legacy");
        sqlx::query("DELETE FROM privacy_sealing WHERE step = 4")
            .execute(wtx.conn()).await.expect("forget");
        wtx.commit().await.expect("commit");
        let reopened = t.reopen().await;
        reopened.db.close().await;
        assert_eq!(fingerprints(&t).await, stored, "rekeyed at open");
        let audited = "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = 'privacy.rekey' \
                       AND object_id = 'crosschecks.fingerprint'";
        assert_eq!(count(&t, audited).await, 1);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM crosschecks WHERE LENGTH(fingerprint) = 64").await, 0);
        // Idempotent: another pass (even without the record) changes nothing.
        assert_eq!(backstop_app::privacy::seal_clear_rows(&t.state).await.expect("again"), 0);
        let mut wtx = t.state.db.begin_write().await.expect("tx");
        sqlx::query("DELETE FROM privacy_sealing WHERE step = 4")
            .execute(wtx.conn()).await.expect("forget");
        wtx.commit().await.expect("commit");
        assert_eq!(backstop_app::privacy::seal_clear_rows(&t.state).await.expect("again"), 0);
        assert_eq!(count(&t, audited).await, 1);
        assert_eq!(run(&t, &county).await, 0, "the rekeyed conflict still matches");
        assert_eq!(fingerprints(&t).await, stored);
    })
    .await;
}
