//! Cross-check conflicts sealed at rest (issue 13, migration 0034): the facts of a conflict
//! name the care categories a person is in (and the rule that names them), so they are sealed
//! like the categories: after a run the raw `crosschecks.detail` is blank, the database file
//! (SQLite with its WAL) and the PostgreSQL rows hold no category key, label or rule text, the
//! list still shows them; a conflict stored in clear by an earlier version is sealed at the
//! next open (audited once) and reads the same.

use backstop_core::care_category::CATEGORIES;
use serde_json::{Value, json};

use crate::support::{T, cid, count, created_id, each_backend, pg_column_texts, sqlite_bytes};

const V1: &str = "130110100001";
/// The rule a 低保 + 分散供养特困 overlap breaks (names both groups).
const RULE: &str = "特困供养人员不同时享受低保";

/// What may not be at rest: every category key and label, and the rule's text.
fn words() -> Vec<&'static str> {
    CATEGORIES
        .iter()
        .flat_map(|(id, label)| [*id, *label])
        .chain([RULE])
        .collect()
}

/// The text at rest that may hold a category: the SQLite file, or on PostgreSQL the
/// conflicts table's rows.
async fn at_rest(t: &T) -> String {
    if t.backend == "sqlite" {
        String::from_utf8_lossy(&sqlite_bytes(t).await).into_owned()
    } else {
        pg_column_texts(t, &["crosschecks"])
            .await
            .into_iter()
            .map(|(_, v)| v)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The summaries of the county's open conflicts, by kind.
async fn summaries(t: &T, token: &str) -> Vec<(String, String)> {
    let (s, l) = t.get("/api/v1/crosschecks", token).await;
    assert_eq!(s, axum::http::StatusCode::OK, "{l}");
    let mut v: Vec<(String, String)> = l["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| (str_of(c, "kind"), str_of(c, "summary")))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn str_of(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn crosscheck_facts_hold_no_category_at_rest() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        // What a fresh database already holds (seeded names of standards, say) is not a leak.
        let baseline = at_rest(&t).await;
        let county = t.user("xs_county", &["official"], "130110").await;
        let w = t.user("xs_w", &["community_worker"], V1).await;
        let member = |pid: i64, cat: &'static str| {
            let (t, w) = (&t, w.clone());
            async move {
                let path = format!("/api/v1/care/persons/{pid}/memberships");
                let body = json!({"category": cat, "start_date": "2025-01-01", "deciding_body": "鹿泉区民政局"});
                created_id(t, &path, &w, body).await
            }
        };
        let a = created_id(&t, "/api/v1/persons", &w,
            json!({"id_number": cid("130110", "19500101", 1), "name": "赵一", "region_code": V1})).await;
        member(a, "dibao").await;
        member(a, "tekun_dispersed").await;
        let b = created_id(&t, "/api/v1/persons", &w,
            json!({"id_number": cid("130110", "19400202", 2), "name": "钱二", "region_code": V1})).await;
        member(b, "severely_disabled").await;
        let (s, p) = t.call("PATCH", &format!("/api/v1/persons/{b}"), Some(&w), Some(json!({"deceased": true}))).await;
        assert_eq!(s, axum::http::StatusCode::OK, "{p}");

        let (s, r) = t.post("/api/v1/crosschecks/run", &county, json!({})).await;
        assert_eq!(s, axum::http::StatusCode::OK, "{r}");
        assert_eq!(r["created"], 2, "{r}");
        // Shown to those allowed, opened from the ciphertext.
        let shown = summaries(&t, &county).await;
        let ex = &shown.iter().find(|(k, _)| k == "exclusive_groups").expect("exclusive").1;
        assert!(ex.contains("低保") && ex.contains("特困（分散供养）") && ex.contains(RULE), "{ex}");
        let dp = &shown.iter().find(|(k, _)| k == "deceased_paid").expect("deceased").1;
        assert!(dp.contains("重度残疾人"), "{dp}");

        // At rest: the clear column blank, every row sealed, no category anywhere.
        let clear = "SELECT CAST(COUNT(*) AS BIGINT) FROM crosschecks WHERE detail <> '' OR detail_enc IS NULL";
        assert_eq!(count(&t, clear).await, 0, "every conflict's facts sealed");
        let rest = at_rest(&t).await;
        for w in words() {
            assert!(baseline.contains(w) || !rest.contains(w), "{w} at rest after a cross-check run");
        }
        // A run that finds the same conflicts again rewrites them sealed as well.
        let (s, r) = t.post("/api/v1/crosschecks/run", &county, json!({})).await;
        assert_eq!((s, r["created"].as_i64()), (axum::http::StatusCode::OK, Some(0)), "{r}");
        assert_eq!(count(&t, clear).await, 0, "sealed when found again");

        // A conflict an earlier version stored in clear: sealed at the next open, read the same.
        let mut wtx = t.state.db.begin_write().await.expect("tx");
        let legacy = json!({"rule": RULE, "memberships": [
            {"id": 1, "category": "dibao", "start_date": "2025-01-01", "end_date": ""},
            {"id": 2, "category": "tekun_dispersed", "start_date": "2025-01-01", "end_date": ""}]});
        sqlx::query("UPDATE crosschecks SET detail = $1, detail_enc = NULL WHERE kind = 'exclusive_groups'")
            .bind(legacy.to_string())
            .execute(wtx.conn())
            .await
            .expect("unseal");
        sqlx::query("DELETE FROM privacy_sealing WHERE step = 3")
            .execute(wtx.conn())
            .await
            .expect("forget");
        wtx.commit().await.expect("commit");
        assert_eq!(summaries(&t, &county).await, shown, "a clear row reads the same");
        let reopened = t.reopen().await;
        reopened.db.close().await;
        assert_eq!(count(&t, clear).await, 0, "sealed at open");
        assert_eq!(summaries(&t, &county).await, shown);
        let audited = "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = 'privacy.seal' \
                       AND object_id = 'crosschecks.detail'";
        assert_eq!(count(&t, audited).await, 1);
        let rest = at_rest(&t).await;
        for w in words() {
            assert!(baseline.contains(w) || !rest.contains(w), "{w} at rest after the open-time step");
        }
    })
    .await;
}
