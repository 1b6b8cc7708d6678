//! Charity donations (issue 18, first slice): a campaign and its receiver; receipts of money
//! (CNY and foreign currency) and goods with every bad input refused and nothing written; an
//! idempotent retry; the ledger followed from receipt through allocation, dispatch and the
//! recipient's signature (and a dispatcher's delivery note); every invariant refused (beyond
//! the balance, directed elsewhere, fee on a no-fee campaign, expired goods, confirmation by
//! another organisation); reversals; balances and totals equal an independent recomputation;
//! two allocators racing for the last 100 masks; `ledger verify` clean, then failing on a
//! deliberately corrupted line.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{T, audit_count, count, created_id, each_backend, org, org_user};

const A: &str = "130110";
const B: &str = "130111";
const T1: &str = "130110100";

struct World {
    off: String,
    off_b: String,
    fin: String,
    fin2: String,
    hosp: String,
    hosp2: String,
    charity: i64,
    hospital: i64,
    hospital2: i64,
}

async fn world(t: &T) -> World {
    t.import_fixture().await;
    let off = t.user("off.a", &["official"], A).await;
    let off_b = t.user("off.b", &["official"], B).await;
    let charity = org(t, &off, "鹿泉区慈善总会", "charity", A).await;
    let hospital = org(t, &off, "获鹿镇卫生院", "hospital", T1).await;
    let hospital2 = org(t, &off, "鹿泉区人民医院", "hospital", A).await;
    let fin = org_user(t, "fin.a", &["charity_finance"], A, charity).await;
    let fin2 = org_user(t, "fin.a2", &["charity_finance"], A, charity).await;
    let hosp = org_user(t, "hosp.a", &["institution_reporter"], T1, hospital).await;
    let hosp2 = org_user(t, "hosp.b", &["institution_reporter"], A, hospital2).await;
    World {
        off,
        off_b,
        fin,
        fin2,
        hosp,
        hosp2,
        charity,
        hospital,
        hospital2,
    }
}

/// As `fin`, a campaign in the county from 20 January 2026 to `ends_on`; its id.
pub(crate) async fn new_campaign(t: &T, fin: &str, ends_on: &str, no_fee: bool) -> i64 {
    created_id(
        t,
        "/api/v1/donations/campaigns",
        fin,
        json!({"name": "抗击新冠肺炎疫情", "region_code": A, "starts_on": "2026-01-20",
            "ends_on": ends_on, "no_fee": no_fee}),
    )
    .await
}

/// `who`'s charity registered as a receiver (`body`: its licence and codes).
pub(crate) async fn receiver(t: &T, who: &str, body: Value) {
    let (s, r) = t.post("/api/v1/donations/receivers", who, body).await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

async fn campaign(t: &T, w: &World, no_fee: bool) -> i64 {
    let c = new_campaign(t, &w.fin, "2026-06-30", no_fee).await;
    receiver(t, &w.fin, json!({"tax_free_imports": true, "licence_no": "冀民函〔2026〕5号", "credit_code": "53130100MJ0000000X"})).await;
    c
}

async fn receipt(t: &T, who: &str, body: Value) -> Value {
    let (s, r) = t.post("/api/v1/donations/receipts", who, body).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    r
}

fn masks(campaign: i64, no: &str, qty: i64) -> Value {
    json!({"campaign_id": campaign, "receipt_no": no, "donor_kind": "org", "donor_name": "某某医疗器械公司",
        "goods": [{"category": "mask_n95", "spec": "KN95 独立包装", "quantity": qty, "unit_value": "3.50",
            "expiry_on": "2028-12-31", "warehouse": "一号仓库"}]})
}

async fn allocate(t: &T, who: &str, line: i64, to: i64, qty: i64) -> (StatusCode, Value) {
    t.post(
        "/api/v1/donations/allocations",
        who,
        json!({"receipt_line_id": line, "recipient_org_id": to, "quantity": qty, "purpose": "一线医护防护"}),
    )
    .await
}

/// Independent recomputation: the raw sum of one account of one line.
async fn raw_balance(t: &T, line: i64, account: &str) -> i64 {
    count(
        t,
        &format!(
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM ledger_lines WHERE line_id = {line} AND account = '{account}'"
        ),
    )
    .await
}

async fn verify(t: &T, who: &str) -> Value {
    let (s, v) = t.get("/api/v1/ledger/verify", who).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test]
async fn goods_from_receipt_to_signature_with_every_rule() {
    each_backend(|t| async move {
        let w = world(&t).await;
        let c = campaign(&t, &w, true).await;
        // Bad input: clear Chinese errors, nothing written.
        let bad = [
            (json!({"goods": [{"category": "mask_n95", "quantity": -5, "unit_value": "3.50"}]}), "goods[0].quantity"),
            (json!({"goods": [{"category": "mask_n95", "quantity": 5, "unit_value": ""}]}), "goods[0].unit_value"),
            (json!({"goods": [{"category": "rocket", "quantity": 5, "unit_value": "1"}]}), "goods[0].category"),
            (json!({"money": {"amount": "-100"}}), "amount"),
            (json!({"money": {"amount": "100", "currency": "USD"}}), "rate"),
            (json!({"received_on": "2025-01-01", "money": {"amount": "100"}}), "received_on"),
            (json!({"donor_kind": "person", "donor_name": "", "money": {"amount": "100"}}), "donor_name"),
        ];
        for (extra, field) in bad {
            let mut body = json!({"campaign_id": c, "receipt_no": "R-BAD", "donor_kind": "anonymous"});
            for (k, v) in extra.as_object().expect("obj") {
                body[k] = v.clone();
            }
            let (s, e) = t.post("/api/v1/donations/receipts", &w.fin, body).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {e}");
            assert_eq!(e["fields"][0]["field"], field, "{e}");
            assert!(e["message"].as_str().is_some_and(|m| !m.is_ascii()), "{e}");
        }
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts").await, 0);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries").await, 0);

        // A gift of money and goods from a person, with an Idempotency-Key sent twice.
        let body = json!({"campaign_id": c, "receipt_no": "R-0001", "bill_no": "冀捐票 0000123",
            "donor_kind": "person", "donor_name": "张三丰", "publish_consent": false,
            "money": {"amount": "10000.00"},
            "goods": [{"category": "mask_n95", "spec": "KN95", "quantity": 1000, "unit_value": "3.50",
                "expiry_on": "2028-12-31", "warehouse": "一号仓库"},
                {"category": "protective_suit", "quantity": 200, "unit_value": "45.00", "tax_free_import": true}]});
        let key = [("idempotency-key", "receipt-key-0001")];
        let (s1, _, b1) = t.raw("POST", "/api/v1/donations/receipts", Some(&w.fin), Some(body.to_string()), &key).await;
        let (s2, _, b2) = t.raw("POST", "/api/v1/donations/receipts", Some(&w.fin), Some(body.to_string()), &key).await;
        assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
        let r: Value = serde_json::from_slice(&b1).expect("json");
        let r2: Value = serde_json::from_slice(&b2).expect("json");
        assert_eq!(r["id"], r2["id"]);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts").await, 1);
        // The same receipt number again without the key: refused.
        let (s, e) = t.post("/api/v1/donations/receipts", &w.fin, body.clone()).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts").await, 1);
        // Totals are sums of the lines.
        assert_eq!(r["money_fen"], 1_000_000);
        assert_eq!(r["goods_value_fen"], 1000 * 350 + 200 * 4500);
        let lines = r["lines"].as_array().expect("lines");
        let sum: i64 = lines.iter().filter(|l| l["kind"] == "goods").map(|l| l["value_fen"].as_i64().unwrap_or(0)).sum();
        assert_eq!(r["goods_value_fen"], sum);
        assert_eq!(r["donor"], "张**", "person's name masked: {r}");
        let stored = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts WHERE donor_name_enc IS NOT NULL AND donor_name_hash <> '' AND donor_salt <> ''").await;
        assert_eq!(stored, 1, "name sealed with a salted hash");
        let mask = lines.iter().find(|l| l["category"] == "mask_n95").expect("masks");
        let line = mask["id"].as_i64().expect("id");
        assert_eq!(mask["in_stock"], 1000);

        // Allocate 600 to the hospital; 500 more is beyond the balance.
        let (s, a) = allocate(&t, &w.fin, line, w.hospital, 600).await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        let aid = a["id"].as_i64().expect("id");
        let entries = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries").await;
        let (s, e) = allocate(&t, &w.fin, line, w.hospital2, 500).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert!(e["message"].as_str().is_some_and(|m| m.contains("库存不足")), "{e}");
        // A fee on a no-fee campaign: refused, nothing written.
        let money = lines.iter().find(|l| l["kind"] == "money").expect("money")["id"].as_i64().expect("id");
        let (s, e) = t.post("/api/v1/ledger/fees", &w.fin, json!({"receipt_line_id": money, "amount_fen": 100})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries").await, entries);

        // Reversal of an allocation not yet dispatched gives the stock back.
        let (s, extra) = allocate(&t, &w.fin, line, w.hospital2, 100).await;
        assert_eq!(s, StatusCode::CREATED, "{extra}");
        let (_, ex) = t.get(&format!("/api/v1/ledger/entries?campaign_id={c}"), &w.fin).await;
        let alloc_entry = ex.as_array().expect("entries").iter()
            .find(|e| e["kind"] == "allocate" && e["allocation_id"] == extra["id"]).expect("entry")["id"].as_i64().expect("id");
        let (s, rev) = t.post(&format!("/api/v1/ledger/entries/{alloc_entry}/reverse"), &w.fin, json!({"reason": "录错接收单位"})).await;
        assert_eq!(s, StatusCode::CREATED, "{rev}");
        let (s, _) = t.post(&format!("/api/v1/ledger/entries/{alloc_entry}/reverse"), &w.fin, json!({"reason": "再次"})).await;
        assert_eq!(s, StatusCode::CONFLICT);

        // Dispatch, then the hospital's user signs for 590 with the discrepancy.
        let (s, d) = t.post(&format!("/api/v1/donations/allocations/{aid}/dispatch"), &w.fin, json!({"vehicle": "冀A·12345"})).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["status"], "dispatched");
        let (s, p) = t.get("/api/v1/donations/pending", &w.hosp).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(p.as_array().map(Vec::len), Some(1), "{p}");
        let (s, p2) = t.get("/api/v1/donations/pending", &w.hosp2).await;
        assert_eq!((s, p2.as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
        // Someone not of the recipient cannot confirm; nothing written.
        let path = format!("/api/v1/donations/allocations/{aid}/confirm");
        let (s, e) = t.post(&path, &w.hosp2, json!({"received_qty": 600})).await;
        assert!(s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND, "{s} {e}");
        let (s, e) = t.post(&path, &w.fin, json!({"received_qty": 600})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        let (s, e) = t.post(&path, &w.hosp, json!({"received_qty": 590})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["fields"][0]["field"], "discrepancy");
        t.clock.advance(chrono::Duration::hours(30));
        let hosp = t.login("hosp.a").await;
        let (s, done) = t.post(&path, &hosp, json!({"received_qty": 590, "discrepancy": "一箱（10 只）破损"})).await;
        assert_eq!(s, StatusCode::OK, "{done}");
        assert_eq!(done["status"], "delivered");
        assert_eq!(done["delivery"]["by_note"], false);
        assert_eq!(done["delivery"]["hours_from_receipt"], 30);
        let (s, _) = t.post(&path, &hosp, json!({"received_qty": 590, "discrepancy": "x"})).await;
        let w = World { fin: t.login("fin.a").await, off: t.login("off.a").await, off_b: t.login("off.b").await, ..w };
        assert_eq!(s, StatusCode::CONFLICT, "signed once");

        // Balances: the ledger's figures equal an independent recomputation.
        let expect_stock = 1000 - 600 - 100 + 100;
        assert_eq!(raw_balance(&t, line, "stock").await, expect_stock);
        assert_eq!(raw_balance(&t, line, "delivered").await, 590);
        assert_eq!(raw_balance(&t, line, "discrepancy").await, 10);
        assert_eq!(raw_balance(&t, line, "allocated").await + raw_balance(&t, line, "in_transit").await, 0);
        let (_, rr) = t.get(&format!("/api/v1/donations/receipts/{}", r["id"]), &w.fin).await;
        let ml = rr["lines"].as_array().expect("lines").iter().find(|l| l["id"] == line).cloned().expect("line");
        assert_eq!((ml["in_stock"].as_i64(), ml["delivered"].as_i64()), (Some(expect_stock), Some(590)));
        let (s, cd) = t.get(&format!("/api/v1/donations/campaigns/{c}"), &w.off).await;
        assert_eq!(s, StatusCode::OK, "{cd}");
        let tot = &cd["totals"];
        let received = 1_000_000 + 1000 * 350 + 200 * 4500;
        assert_eq!(tot["received_fen"], received);
        assert_eq!(tot["delivered_fen"], 590 * 350);
        assert_eq!(tot["allocated_fen"], 600 * 350);
        assert_eq!(tot["in_stock_fen"], received - 600 * 350);
        assert_eq!(tot["fee_fen"], 0);
        let cat = tot["categories"].as_array().expect("cats").iter().find(|c| c["category"] == "mask_n95").cloned().expect("cat");
        assert_eq!((cat["received"].as_i64(), cat["allocated"].as_i64(), cat["delivered"].as_i64(), cat["in_stock"].as_i64()),
            (Some(1000), Some(600), Some(590), Some(expect_stock)));

        // Scope: the county's official reads (name masked), the sibling county's does not.
        let (s, seen) = t.get(&format!("/api/v1/donations/receipts/{}", r["id"]), &w.off).await;
        assert_eq!(s, StatusCode::OK);
        assert!(!seen.to_string().contains("张三丰"));
        let (s, _) = t.get(&format!("/api/v1/donations/receipts/{}", r["id"]), &w.off_b).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.get(&format!("/api/v1/donations/allocations/{aid}"), &w.off_b).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.post("/api/v1/donations/receipts", &w.off, masks(c, "R-OFF", 1)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "officials read, they do not keep the ledger");

        // Verify: clean; then a deliberately corrupted line is found.
        let v = verify(&t, &w.off).await;
        assert_eq!(v["breaches"], json!([]), "{v}");
        let report = backstop_app::donations::verify::verify(&t.state, &backstop_app::kernel::actor::Actor::operator()).await.expect("verify");
        assert!(report.ok() && report.entries >= 6, "{report:?}");
        let mut wtx = t.state.db.begin_write().await.expect("tx");
        sqlx::query("UPDATE ledger_lines SET quantity = quantity + 100 WHERE line_id = $1 AND account = 'stock' AND quantity > 0")
            .bind(line).execute(wtx.conn()).await.expect("corrupt");
        wtx.commit().await.expect("commit");
        let report = backstop_app::donations::verify::verify(&t.state, &backstop_app::kernel::actor::Actor::operator()).await.expect("verify");
        assert!(!report.ok(), "{report:?}");
        assert!(report.breaches.iter().any(|b| b.contains("记账不平")), "{report:?}");

        for (action, n) in [("donation.campaign_create", 1), ("donation.receiver_set", 1), ("donation.receipt_create", 1),
            ("donation.allocate", 2), ("donation.dispatch", 1), ("donation.delivery_confirm", 1), ("ledger.reverse", 1), ("ledger.fee", 0)] {
            assert_eq!(audit_count(&t, action).await, n, "{action}");
        }
        let _ = &w.fin2;
        let _ = w.charity;
    })
    .await;
}

#[tokio::test]
async fn directed_expired_and_foreign_money() {
    each_backend(|t| async move {
        let w = world(&t).await;
        let c = campaign(&t, &w, false).await;
        // Directed to the township hospital: not to the county hospital.
        let mut body = masks(c, "R-D1", 100);
        body["directed_kind"] = json!("org");
        body["directed_org_id"] = json!(w.hospital);
        let r = receipt(&t, &w.fin, body).await;
        let line = r["lines"][0]["id"].as_i64().expect("line");
        let (s, e) = allocate(&t, &w.fin, line, w.hospital2, 10).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert!(
            e["message"].as_str().is_some_and(|m| m.contains("定向")),
            "{e}"
        );
        let (s, _) = allocate(&t, &w.fin, line, w.hospital, 10).await;
        assert_eq!(s, StatusCode::CREATED);
        // Directed to a region: only organisations inside it.
        let mut body = masks(c, "R-D2", 100);
        body["directed_kind"] = json!("region");
        body["directed_region"] = json!(T1);
        let r = receipt(&t, &w.fin, body).await;
        let line2 = r["lines"][0]["id"].as_i64().expect("line");
        let (s, _) = allocate(&t, &w.fin, line2, w.hospital2, 10).await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, _) = allocate(&t, &w.fin, line2, w.hospital, 10).await;
        assert_eq!(s, StatusCode::CREATED);
        // Expired goods cannot be allocated.
        let mut body = masks(c, "R-E", 50);
        body["goods"][0]["expiry_on"] = json!("2026-03-10");
        let r = receipt(&t, &w.fin, body).await;
        let line3 = r["lines"][0]["id"].as_i64().expect("line");
        t.clock.advance(chrono::Duration::days(10));
        let w = World {
            fin: t.login("fin.a").await,
            fin2: t.login("fin.a2").await,
            off: t.login("off.a").await,
            hosp: t.login("hosp.a").await,
            hosp2: t.login("hosp.b").await,
            ..w
        };
        let before = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries").await;
        let (s, e) = allocate(&t, &w.fin, line3, w.hospital, 10).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert!(
            e["message"].as_str().is_some_and(|m| m.contains("有效期")),
            "{e}"
        );
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries").await,
            before
        );
        // Foreign money: stored as received and converted; a fee is allowed on this campaign.
        let r = receipt(
            &t,
            &w.fin,
            json!({"campaign_id": c, "receipt_no": "R-USD", "donor_kind": "anonymous",
            "money": {"currency": "USD", "amount": "100.00", "rate": "7.1234"}}),
        )
        .await;
        assert_eq!(
            (
                r["currency"].as_str(),
                r["amount"].as_str(),
                r["rate"].as_str(),
                r["money_fen"].as_i64()
            ),
            (Some("USD"), Some("100.00"), Some("7.1234"), Some(71_234))
        );
        let m = r["lines"][0]["id"].as_i64().expect("line");
        let (s, f) = t
            .post(
                "/api/v1/ledger/fees",
                &w.fin,
                json!({"receipt_line_id": m, "amount_fen": 1_234, "memo": "银行手续费"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{f}");
        let (s, a) = allocate(&t, &w.fin, m, w.hospital2, 70_000).await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        let (s, _) = allocate(&t, &w.fin, m, w.hospital2, 1).await;
        assert_eq!(s, StatusCode::CONFLICT, "nothing left after the fee");
        let aid = a["id"].as_i64().expect("id");
        let (s, _) = t
            .post(
                &format!("/api/v1/donations/allocations/{aid}/dispatch"),
                &w.fin2,
                json!({"vehicle": "银行转账"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        // The dispatcher records the signed delivery note; it is marked as such.
        let (s, e) = t
            .post(
                &format!("/api/v1/donations/allocations/{aid}/delivery-note"),
                &w.fin,
                json!({"received_qty": 70_000}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, d) = t
            .post(
                &format!("/api/v1/donations/allocations/{aid}/delivery-note"),
                &w.fin,
                json!({"received_qty": 70_000, "note_ref": "QS-2026-001"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["delivery"]["by_note"], true);
        assert_eq!(raw_balance(&t, m, "fee").await, 1_234);
        assert_eq!(raw_balance(&t, m, "stock").await, 0);
        let v = verify(&t, &w.off).await;
        assert_eq!(v["breaches"], json!([]), "{v}");
        // The county hospital's user sees it as an allocation to itself.
        let (s, _) = t
            .get(&format!("/api/v1/donations/allocations/{aid}"), &w.hosp2)
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = t
            .get(&format!("/api/v1/donations/allocations/{aid}"), &w.hosp)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(audit_count(&t, "donation.delivery_note").await, 1);
        assert_eq!(audit_count(&t, "ledger.fee").await, 1);
        let _ = w.charity;
    })
    .await;
}

#[tokio::test]
async fn two_allocators_race_for_the_last_hundred_masks() {
    each_backend(|t| async move {
        let w = world(&t).await;
        let c = campaign(&t, &w, true).await;
        for round in 0..3 {
            let r = receipt(&t, &w.fin, masks(c, &format!("R-RACE-{round}"), 100)).await;
            let line = r["lines"][0]["id"].as_i64().expect("line");
            let (x, y) = tokio::join!(
                allocate(&t, &w.fin, line, w.hospital, 100),
                allocate(&t, &w.fin2, line, w.hospital2, 100),
            );
            let mut got = [x.0, y.0];
            got.sort();
            assert_eq!(
                got,
                [StatusCode::CREATED, StatusCode::CONFLICT],
                "{x:?} {y:?}"
            );
            let loser = if x.0 == StatusCode::CONFLICT {
                &x.1
            } else {
                &y.1
            };
            assert!(
                loser["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("库存不足")),
                "{loser}"
            );
            assert_eq!(raw_balance(&t, line, "stock").await, 0, "never -100");
            assert_eq!(raw_balance(&t, line, "allocated").await, 100);
        }
        let v = verify(&t, &w.off).await;
        assert_eq!(v["breaches"], json!([]), "{v}");
    })
    .await;
}
