//! Care memberships' category sealed at rest (issue 13, migration 0025): the raw column holds
//! no category word or key, the ciphertext opens to it, and what reads it — the care record,
//! the coverage view, the not-contacted filter, the persons' group filter, the carer rule of
//! dispersed 特困 — behaves as before; a row stored in clear is sealed at the next open.

use axum::http::StatusCode;
use backstop_core::care_category::CATEGORIES;
use serde_json::{Value, json};
use sqlx::Row;

use crate::support::{T, cid, count, created_id, each_backend, running_memberships, sqlite_bytes};

const V1: &str = "130110100001";

/// The raw rows: (clear category, ciphertext).
async fn raw(t: &T) -> Vec<(String, Option<Vec<u8>>)> {
    sqlx::query("SELECT category, category_enc FROM care_memberships ORDER BY id")
        .fetch_all(t.state.db.pool())
        .await
        .expect("rows")
        .iter()
        .map(|r| (r.get("category"), r.get("category_enc")))
        .collect()
}

fn members(cov: &Value, cat: &str) -> i64 {
    cov["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["category"] == cat))
        .and_then(|r| r["members"].as_i64())
        .unwrap_or(-1)
}

#[tokio::test]
async fn membership_categories_are_sealed_and_still_group() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("sc_off", &["official"], "130110").await;
        let person = |n: u32, name: &'static str| {
            let (t, off) = (&t, off.clone());
            async move {
                created_id(
                    t,
                    "/api/v1/persons",
                    &off,
                    json!({"id_number": cid("130110", "19500101", n), "name": name, "region_code": V1}),
                )
                .await
            }
        };
        let (p1, p2) = (person(11, "钱一").await, person(12, "钱二").await);
        for (p, cat) in [(p1, "tekun_dispersed"), (p1, "dibao"), (p2, "orphan_scattered")] {
            let (s, b) = t
                .post(
                    &format!("/api/v1/care/persons/{p}/memberships"),
                    &off,
                    json!({"category": cat, "start_date": "2026-01-01", "deciding_body": "鹿泉区民政局"}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            assert_eq!(b["category"], cat, "shown back");
        }
        // At rest: the clear column blank, the ciphertext holds no identifier or label.
        let rows = raw(&t).await;
        assert_eq!(rows.len(), 3);
        for (clear, enc) in &rows {
            assert_eq!(clear, "", "no clear category");
            let enc = enc.as_ref().expect("sealed");
            let text = String::from_utf8_lossy(enc);
            for (id, label) in CATEGORIES {
                assert!(!text.contains(id) && !text.contains(label), "{id} in the ciphertext");
            }
        }
        if t.backend == "sqlite" {
            let file = String::from_utf8_lossy(&sqlite_bytes(&t).await).into_owned();
            assert!(!file.contains("orphan_scattered"), "no category key in the database file");
        }

        // Behaviour through the sealed column.
        let (_, rec) = t.get(&format!("/api/v1/care/persons/{p1}"), &off).await;
        assert_eq!(rec["dispersed_tekun"], true, "{rec}");
        let (_, cov) = t
            .get("/api/v1/care/coverage?region=130110&from=2026-03-01&to=2026-03-31", &off)
            .await;
        assert_eq!((members(&cov, "dibao"), members(&cov, "orphan_scattered")), (1, 1), "{cov}");
        assert_eq!(members(&cov, "homeless"), 0);
        let nc = "/api/v1/care/not-contacted?region=130110&from=2026-03-01&to=2026-03-31";
        let (_, all) = t.get(nc, &off).await;
        assert_eq!(all.as_array().map(Vec::len), Some(2), "{all}");
        let (_, orphans) = t.get(&format!("{nc}&category=orphan_scattered"), &off).await;
        assert_eq!(orphans.as_array().map(Vec::len), Some(1), "{orphans}");
        assert_eq!(orphans[0]["person_id"], p2);
        let (s, listed) = t.get("/api/v1/persons?group=dibao", &off).await;
        assert_eq!(s, StatusCode::OK, "{listed}");
        assert_eq!(listed["total"], 1, "{listed}");
        assert_eq!(listed["items"][0]["id"], p1);
        let (_, none) = t.get("/api/v1/persons?group=homeless", &off).await;
        assert_eq!(none["total"], 0);
        // Only a dispersed 特困 person gets a carer.
        let carer = json!({"name": "钱丙", "phone": "13912345671", "relationship": "邻居"});
        let (s, b) = t
            .call("PUT", &format!("/api/v1/care/persons/{p2}/carer"), Some(&off), Some(carer.clone()))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let (s, b) = t
            .call("PUT", &format!("/api/v1/care/persons/{p1}/carer"), Some(&off), Some(carer))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");

        // A row of an earlier version, in clear: sealed at the next open, read the same.
        let before = running_memberships(&t).await;
        let mut w = t.state.db.begin_write().await.expect("tx");
        sqlx::query("UPDATE care_memberships SET category = 'orphan_scattered', category_enc = NULL WHERE person_id = $1")
            .bind(p2)
            .execute(w.conn())
            .await
            .expect("unseal");
        sqlx::query("DELETE FROM privacy_sealing WHERE step = 2")
            .execute(w.conn())
            .await
            .expect("forget");
        w.commit().await.expect("commit");
        assert_eq!(running_memberships(&t).await, before, "a clear row reads the same");
        let reopened = t.reopen().await;
        reopened.db.close().await;
        let clear = "SELECT CAST(COUNT(*) AS BIGINT) FROM care_memberships WHERE category <> '' OR category_enc IS NULL";
        assert_eq!(count(&t, clear).await, 0, "sealed at open");
        assert_eq!(running_memberships(&t).await, before);
        let audited = "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = 'privacy.seal' \
                       AND object_id = 'care_memberships.category'";
        assert_eq!(count(&t, audited).await, 1);
    })
    .await;
}
