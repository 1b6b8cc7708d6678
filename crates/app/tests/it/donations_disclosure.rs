//! Public disclosure of the donation ledger (issue 18 item 6): every entry published in a hash
//! chain as it is written; heads signed with the deployment's key; the public feed, heads, key
//! and pages without login, showing no personal data (no donor name without consent, no phone,
//! no staff or person); the feed verifies from itself alone (Rust and the Python script), and
//! fails after an entry is altered or removed — in the saved feed or in the database; a donor
//! withdrawing consent removes the name and leaves the chain verifiable.

use axum::http::StatusCode;
use backstop_app::donations::disclosure::{self, Feed, SignedHead};
use backstop_app::kernel::actor::Actor;
use serde_json::{Value, json};

use crate::donations::{new_campaign, receiver};
use crate::support::{T, audit_count, count, each_backend, org, org_user};

const A: &str = "130110";
const T1: &str = "130110100";

async fn public(t: &T, path: &str) -> (StatusCode, String) {
    let (s, _, b) = t.raw("GET", path, None, None, &[]).await;
    (s, String::from_utf8_lossy(&b).to_string())
}

async fn feed(t: &T, c: i64) -> Feed {
    let (s, body) = public(t, &format!("/public/donations/{c}/feed")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    serde_json::from_str(&body).expect("feed")
}

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/verify-disclosure.py")
}

/// Run the stand-alone script on a saved feed and head: its exit code and output.
fn python(feed: &Feed, head: &SignedHead) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("feed.json");
    let h = dir.path().join("head.json");
    std::fs::write(&f, serde_json::to_string(feed).expect("json")).expect("write");
    std::fs::write(&h, serde_json::to_string(head).expect("json")).expect("write");
    let out = std::process::Command::new("python3")
        .arg(script())
        .arg("--feed")
        .arg(&f)
        .arg("--head")
        .arg(&h)
        .output()
        .expect("python3");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn the_public_feed_verifies_shows_nothing_personal_and_detects_any_change() {
    each_backend(|t| async move {
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], A).await;
        let charity = org(&t, &off, "鹿泉区慈善总会", "charity", A).await;
        let hospital = org(&t, &off, "获鹿镇卫生院", "hospital", T1).await;
        let fin = org_user(&t, "fin.a", &["charity_finance"], A, charity).await;
        let hosp = org_user(&t, "hosp.a", &["institution_reporter"], T1, hospital).await;
        let c = new_campaign(&t, &fin, "2026-12-31", true).await;
        receiver(&t, &fin, json!({"credit_code": "53130100MJ0000000X", "filing_no": "53130100MJ0000000X-2026-001"})).await;
        // Three receipts: a person who consents, a person who does not, a company.
        let mut ids = Vec::new();
        for body in [
            json!({"campaign_id": c, "receipt_no": "S-1", "donor_kind": "person", "donor_name": "张三丰",
                "publish_consent": true, "money": {"amount": "1000.00"}}),
            json!({"campaign_id": c, "receipt_no": "S-2", "donor_kind": "person", "donor_name": "李四光",
                "money": {"amount": "200.50"}, "directed_kind": "purpose", "directed_purpose": "一线医护"}),
            json!({"campaign_id": c, "receipt_no": "S-3", "donor_kind": "org", "donor_name": "某某医疗器械公司",
                "publish_consent": true, "goods": [{"category": "mask_n95", "spec": "KN95", "quantity": 1000,
                "unit_value": "3.50", "expiry_on": "2028-12-31"}]}),
        ] {
            let (s, r) = t.post("/api/v1/donations/receipts", &fin, body).await;
            assert_eq!(s, StatusCode::CREATED, "{r}");
            ids.push((r["id"].as_i64().expect("id"), r["lines"][0]["id"].as_i64().expect("line")));
        }
        let masks = ids[2].1;
        let (s, al) = t
            .post(
                "/api/v1/donations/allocations",
                &fin,
                json!({"receipt_line_id": masks, "recipient_org_id": hospital, "quantity": 400, "purpose": "一线医护防护"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{al}");
        let al = al["id"].as_i64().expect("allocation");
        // A refused allocation leaves no chain row (it rolls back with its entry).
        let (s, _) = t
            .post(
                "/api/v1/donations/allocations",
                &fin,
                json!({"receipt_line_id": masks, "recipient_org_id": hospital, "quantity": 5000}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, d) = t
            .post(&format!("/api/v1/donations/allocations/{al}/dispatch"), &fin, json!({"vehicle": "冀A·12345"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{d}");
        let (s, d) = t
            .post(&format!("/api/v1/donations/allocations/{al}/confirm"), &hosp, json!({"received_qty": 400}))
            .await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_chain").await, 6);

        // Sign today's head (the daily job signs yesterday's; the CLI today's).
        let today = t.state.today().format("%Y-%m-%d").to_string();
        assert_eq!(disclosure::sign_due(&t.state, &today).await.expect("sign"), 1);
        assert_eq!(disclosure::sign_due(&t.state, &today).await.expect("sign"), 0, "nothing moved");
        assert_eq!(audit_count(&t, "ledger.head_sign").await, 1);

        // The feed, the heads and the key, without login.
        let f = feed(&t, c).await;
        assert_eq!(f.entries.len(), 6);
        assert_eq!(f.province, "13");
        let (s, heads) = public(&t, &format!("/public/donations/{c}/heads")).await;
        assert_eq!(s, StatusCode::OK, "{heads}");
        let heads: Value = serde_json::from_str(&heads).expect("heads");
        let head: SignedHead =
            serde_json::from_value(heads["heads"][0].clone()).expect("signed head");
        let (s, key) = public(&t, "/public/donations/key").await;
        assert_eq!(s, StatusCode::OK);
        let key = disclosure::parse_public_key(&key).expect("key");
        let (s, pem) = public(&t, "/public/donations/key.pem").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(disclosure::parse_public_key(&pem), Some(key));
        let r = disclosure::verify_feed(&f.entries, &head, &key);
        assert!(r.ok(), "{:?}", r.problems);
        // Totals equal an independent recomputation from the ledger's lines.
        let received = -count(&t, "SELECT CAST(SUM(value_fen) AS BIGINT) FROM ledger_lines WHERE account = 'donor'").await;
        assert_eq!(received, 100_000 + 20_050 + 350_000);
        assert_eq!(r.totals.received_fen, received);
        assert_eq!(r.totals.delivered_fen, 140_000);
        assert_eq!(r.totals.allocated_fen, 140_000);
        assert_eq!(r.totals.fee_fen, 0);
        assert_eq!(r.totals.in_stock_fen, received - 140_000);
        assert_eq!(heads["current_totals"]["received_fen"], received);

        // Nothing personal: a name only with consent, no staff, no phone.
        let text = serde_json::to_string(&f).expect("json");
        assert!(text.contains("张三丰") && text.contains("某某医疗器械公司"), "{text}");
        assert!(text.contains(disclosure::ANONYMOUS_DONOR));
        for banned in ["李四光", "fin.a", "hosp.a", "off.a", "1390000", "冀A·12345"] {
            assert!(!text.contains(banned), "{banned} published: {text}");
        }
        assert!(text.contains("53130100MJ0000000X-2026-001") && text.contains("获鹿镇卫生院"));
        let (s, page) = public(&t, &format!("/public/donations/{c}")).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        assert!(page.contains("张三丰") && page.contains("爱心人士") && page.contains("获鹿镇卫生院"));
        assert!(page.contains("本活动不提取管理费") && page.contains("id=\"total-fee\">0.00 元"), "{page}");
        for banned in ["李四光", "fin.a", "hosp.a", "1390000"] {
            assert!(!page.contains(banned), "{banned} on the page");
        }
        let (s, ch) = public(&t, &format!("/public/donations/charities/{charity}")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(ch.contains("53130100MJ0000000X") && !ch.contains("李四光"));
        let (s, idx) = public(&t, "/public/donations").await;
        assert_eq!(s, StatusCode::OK);
        assert!(idx.contains("抗击新冠肺炎疫情"));
        assert_eq!(public(&t, "/public/donations/999999").await.0, StatusCode::NOT_FOUND);
        assert_eq!(public(&t, "/public/donations/999999/feed").await.0, StatusCode::NOT_FOUND);
        let bad = public(&t, &format!("/public/donations/{c}/feed?province=x")).await;
        assert_eq!(bad.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.1);

        // The stand-alone script agrees.
        let (code, out) = python(&f, &head);
        assert_eq!(code, 0, "{out}");

        // The donor of S-1 withdraws consent: the name is gone, the chain still verifies.
        let (s, rc) = t
            .post(&format!("/api/v1/donations/receipts/{}/withdraw-consent", ids[0].0), &fin, json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{rc}");
        assert_eq!(rc["publish_consent"], false);
        assert_eq!(
            count(&t, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts WHERE id = {} \
                AND donor_name_enc IS NULL AND donor_salt = '' AND donor_name_hash <> ''", ids[0].0)).await,
            1
        );
        assert_eq!(audit_count(&t, "donation.consent_withdraw").await, 1);
        let (s, _) = t
            .post(&format!("/api/v1/donations/receipts/{}/withdraw-consent", ids[0].0), &hosp, json!({}))
            .await;
        assert!(s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND, "{s}");
        let f2 = feed(&t, c).await;
        let text = serde_json::to_string(&f2).expect("json");
        assert!(!text.contains("张三丰"), "{text}");
        let (_, page) = public(&t, &format!("/public/donations/{c}")).await;
        assert!(!page.contains("张三丰"), "the cached page was not refreshed");
        assert!(disclosure::verify_feed(&f2.entries, &head, &key).ok());
        let db = backstop_app::donations::verify::verify(&t.state, &Actor::operator()).await.expect("verify");
        assert!(db.ok(), "{:?}", db.breaches);

        // Altering a published entry in the saved feed fails (Rust and Python).
        let mut altered = f.clone();
        altered.entries[3].entry["lines"][1]["quantity"] = json!(300);
        let r = disclosure::verify_feed(&altered.entries, &head, &key);
        assert!(!r.ok() && r.problems.iter().any(|p| p.contains("第 4 条")), "{:?}", r.problems);
        let (code, out) = python(&altered, &head);
        assert_eq!(code, 2, "{out}");
        // Removing one fails.
        let mut removed = f.clone();
        removed.entries.remove(1);
        assert!(!disclosure::verify_feed(&removed.entries, &head, &key).ok());
        assert_eq!(python(&removed, &head).0, 2);
        // Cutting the feed short of the head fails.
        let mut short = f.clone();
        short.entries.truncate(3);
        assert!(!disclosure::verify_feed(&short.entries, &head, &key).ok());
        // A head signed by another key fails.
        let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]).verifying_key();
        assert!(!disclosure::verify_feed(&f.entries, &head, &other).ok());

        // Altering a published entry in the database: the served feed no longer matches the
        // saved head, and `ledger verify` reports it.
        sqlx::query("UPDATE ledger_chain SET canonical = REPLACE(canonical, '\"quantity\":400', '\"quantity\":300') WHERE seq = 4")
            .execute(t.state.db.pool())
            .await
            .expect("tamper");
        let f3 = feed(&t, c).await;
        let r = disclosure::verify_feed(&f3.entries, &head, &key);
        assert!(!r.ok(), "an altered entry verified");
        let db = backstop_app::donations::verify::verify(&t.state, &Actor::operator()).await.expect("verify");
        assert!(db.breaches.iter().any(|b| b.contains("第 4 条")), "{:?}", db.breaches);
        // Even with every later hash recomputed, the signed head catches it.
        let mut forged = f3.clone();
        let mut prev = disclosure::GENESIS.to_string();
        for e in &mut forged.entries {
            e.prev_hash = prev.clone();
            e.hash = disclosure::chain_hash(&prev, &disclosure::canonical(&e.entry));
            prev = e.hash.clone();
        }
        let r = disclosure::verify_feed(&forged.entries, &head, &key);
        assert!(r.problems.iter().any(|p| p.contains("签名链头")), "{:?}", r.problems);
        // Removing one in the database.
        sqlx::query("DELETE FROM ledger_chain WHERE seq = 2")
            .execute(t.state.db.pool())
            .await
            .expect("delete");
        let f4 = feed(&t, c).await;
        let r = disclosure::verify_feed(&f4.entries, &head, &key);
        assert!(r.problems.iter().any(|p| p.contains("删除")), "{:?}", r.problems);
    })
    .await;
}
