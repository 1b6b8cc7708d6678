//! Supply–demand matching (issue 18 item 5): a hospital's user and an official (for the
//! county's civil-affairs department) post needs, with bad input refused and nothing written;
//! who sees a need (the charity, the county's official; not the sibling county nor another
//! hospital); proposals ranked (directed here first, expiry first-out) and never a gift
//! directed elsewhere nor expired goods; accepting a match is an ordinary allocation (entry,
//! audit, invariants) that (partly) meets the need, reversing it un-meets it; unmet needs by
//! region; two charities accepting matches for the last stock — one wins, never below zero.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::donations::{new_campaign, receiver};
use crate::support::{
    T, audit_count, count, each_backend, org, org_user, page, web_login, xlsx_text,
};

const A: &str = "130110";
const B: &str = "130111";
const T1: &str = "130110100";

struct World {
    off: String,
    off_b: String,
    fin: String,
    fin_b: String,
    hosp: String,
    hosp2: String,
    hospital: i64,
    hospital2: i64,
    civil: i64,
    charity: i64,
    campaign: i64,
}

async fn world(t: &T) -> World {
    t.import_fixture().await;
    let off = t.user("off.a", &["official"], A).await;
    let off_b = t.user("off.b", &["official"], B).await;
    let charity = org(t, &off, "鹿泉区红十字会", "charity", A).await;
    let charity_b = org(t, &off, "鹿泉区慈善基金会", "charity", A).await;
    let hospital = org(t, &off, "获鹿镇卫生院", "hospital", T1).await;
    let hospital2 = org(t, &off, "鹿泉区人民医院", "hospital", A).await;
    let civil = org(t, &off, "鹿泉区民政局", "civil_affairs", A).await;
    let fin = org_user(t, "fin.a", &["charity_finance"], A, charity).await;
    let fin_b = org_user(t, "fin.b", &["charity_finance"], A, charity_b).await;
    let hosp = org_user(t, "hosp.a", &["institution_reporter"], T1, hospital).await;
    let hosp2 = org_user(t, "hosp.b", &["institution_reporter"], A, hospital2).await;
    let c = new_campaign(t, &fin, "2026-06-30", true).await;
    // Both charities are registered receivers (a receipt needs it).
    for who in [&fin, &fin_b] {
        receiver(
            t,
            who,
            json!({"tax_free_imports": false, "credit_code": "53130100MJ0000000X"}),
        )
        .await;
    }
    World {
        off,
        off_b,
        fin,
        fin_b,
        hosp,
        hosp2,
        hospital,
        hospital2,
        civil,
        charity,
        campaign: c,
    }
}

/// A receipt of one goods line; `extra` merged into the body; the line's id.
#[allow(clippy::too_many_arguments)]
async fn goods(
    t: &T,
    who: &str,
    c: i64,
    no: &str,
    qty: i64,
    spec: &str,
    expiry: &str,
    extra: Value,
) -> i64 {
    let mut body = json!({"campaign_id": c, "receipt_no": no, "donor_kind": "anonymous",
        "goods": [{"category": "mask_n95", "spec": spec, "quantity": qty, "unit_value": "3.50",
            "expiry_on": expiry, "warehouse": "一号仓库"}]});
    for (k, v) in extra.as_object().expect("obj") {
        body[k] = v.clone();
    }
    let (s, r) = t.post("/api/v1/donations/receipts", who, body).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    r["lines"][0]["id"].as_i64().expect("line")
}

fn need_body(c: i64, qty: i64, urgency: &str) -> Value {
    json!({"campaign_id": c, "category": "mask_n95", "spec": "KN95", "quantity": qty,
        "urgency": urgency, "needed_by": "2026-03-20", "note": "发热门诊"})
}

async fn post_need(t: &T, who: &str, body: Value) -> Value {
    let (s, n) = t.post("/api/v1/needs", who, body).await;
    assert_eq!(s, StatusCode::CREATED, "{n}");
    n
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|p| p["receipt_line_id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn needs_posted_proposed_accepted_and_met() {
    each_backend(|t| async move {
        let w = world(&t).await;
        let c = w.campaign;
        // Bad input: clear Chinese errors, nothing written.
        let bad = [
            (json!({"quantity": 0}), "quantity"),
            (json!({"urgency": "soon"}), "urgency"),
            (json!({"category": "rocket"}), "category"),
            (json!({"needed_by": "2026-03-01"}), "needed_by"),
            (json!({"needed_by": "明天"}), "needed_by"),
            (json!({"region_code": B}), "region_code"),
        ];
        for (extra, field) in bad {
            let mut body = need_body(c, 100, "urgent");
            for (k, v) in extra.as_object().expect("obj") {
                body[k] = v.clone();
            }
            let (s, e) = t.post("/api/v1/needs", &w.hosp, body).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {e}");
            assert_eq!(e["fields"][0]["field"], field, "{e}");
            assert!(e["message"].as_str().is_some_and(|m| !m.is_ascii()), "{e}");
        }
        let mut other = need_body(c, 100, "urgent");
        other["recipient_org_id"] = json!(w.hospital2);
        let (s, _) = t.post("/api/v1/needs", &w.hosp, other).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "a hospital posts for itself only");
        let (s, _) = t.post("/api/v1/needs", &w.fin, need_body(c, 100, "urgent")).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "a charity does not post needs");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_needs").await, 0);

        // The township hospital needs 500 KN95 urgently; the official posts for the county's
        // civil-affairs department.
        let n = post_need(&t, &w.hosp, need_body(c, 500, "urgent")).await;
        let nid = n["id"].as_i64().expect("need");
        assert_eq!((n["region_code"].as_str(), n["unit"].as_str(), n["state_label"].as_str()),
            (Some(T1), Some("只"), Some("未满足")));
        let mut civ = need_body(c, 2000, "normal");
        civ["recipient_org_id"] = json!(w.civil);
        let civ = post_need(&t, &w.off, civ).await;
        assert_eq!(civ["recipient_org_id"], w.civil);

        // Who sees it.
        for who in [&w.fin, &w.off, &w.hosp] {
            let (s, _) = t.get(&format!("/api/v1/needs/{nid}"), who).await;
            assert_eq!(s, StatusCode::OK);
        }
        for who in [&w.off_b, &w.hosp2] {
            let (s, _) = t.get(&format!("/api/v1/needs/{nid}"), who).await;
            assert_eq!(s, StatusCode::NOT_FOUND);
        }
        let (s, l) = t.get(&format!("/api/v1/needs?campaign_id={c}"), &w.hosp2).await;
        assert_eq!((s, l.as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{l}");
        let (s, l) = t.get(&format!("/api/v1/needs?campaign_id={c}"), &w.fin).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(l[0]["id"], nid, "urgent first: {l}");
        assert_eq!(l.as_array().map(Vec::len), Some(2));

        // Stock: plain (late expiry), directed to this hospital, directed elsewhere, another
        // spec, one expiring soon, another charity's.
        let plain = goods(&t, &w.fin, c, "R-1", 300, "KN95", "2028-12-31", json!({})).await;
        let here = goods(&t, &w.fin, c, "R-2", 100, "KN95", "2028-12-31",
            json!({"directed_kind": "org", "directed_org_id": w.hospital})).await;
        let elsewhere = goods(&t, &w.fin, c, "R-3", 100, "KN95", "2028-12-31",
            json!({"directed_kind": "org", "directed_org_id": w.hospital2})).await;
        let spec = goods(&t, &w.fin, c, "R-4", 100, "N95 1860", "2028-12-31", json!({})).await;
        let soon = goods(&t, &w.fin, c, "R-5", 50, "KN95", "2026-03-05", json!({})).await;
        let theirs = goods(&t, &w.fin_b, c, "R-6", 100, "KN95", "2028-12-31", json!({})).await;
        let (s, p) = t.get(&format!("/api/v1/needs/{nid}/proposals"), &w.fin).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(ids(&p), vec![here, soon, plain, spec], "{p}");
        assert!(!ids(&p).contains(&elsewhere) && !ids(&p).contains(&theirs));
        assert_eq!(p[2]["suggested"], 300);
        // The county's official sees every charity's lines.
        let (_, po) = t.get(&format!("/api/v1/needs/{nid}/proposals"), &w.off).await;
        assert!(ids(&po).contains(&theirs), "{po}");
        // Five days on the soon-expiring masks are never proposed.
        t.clock.advance(chrono::Duration::days(5));
        let w = World { fin: t.login("fin.a").await, fin_b: t.login("fin.b").await, off: t.login("off.a").await,
            off_b: t.login("off.b").await, hosp: t.login("hosp.a").await, hosp2: t.login("hosp.b").await, ..w };
        let (_, p) = t.get(&format!("/api/v1/needs/{nid}/proposals"), &w.fin).await;
        assert_eq!(ids(&p), vec![here, plain, spec], "{p}");

        // Accept: an ordinary allocation; the need is partly met.
        let entries = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries").await;
        let accept = |line: i64, qty: i64| json!({"receipt_line_id": line, "quantity": qty});
        let path = format!("/api/v1/needs/{nid}/accept");
        let (s, a1) = t.post(&path, &w.fin, accept(here, 100)).await;
        assert_eq!(s, StatusCode::CREATED, "{a1}");
        assert_eq!((a1["recipient_org_id"].as_i64(), a1["status"].as_str()), (Some(w.hospital), Some("allocated")));
        assert!(a1["purpose"].as_str().is_some_and(|p| p.contains("供需对接")));
        // Refused: another charity's line, another campaign's need, beyond the need, beyond
        // the stock, a gift directed elsewhere; nothing written.
        // (another charity's line reads as one that does not exist: nothing about it is told)
        let (s, e) = t.post(&path, &w.fin, accept(theirs, 10)).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("receipt_line_id")), "{e}");
        let (s, e) = t.post(&path, &w.fin, accept(plain, 401)).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert!(e["message"].as_str().is_some_and(|m| m.contains("尚缺 400")), "{e}");
        let (s, e) = t.post(&path, &w.fin, accept(spec, 101)).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert!(e["message"].as_str().is_some_and(|m| m.contains("库存不足")), "{e}");
        let (s, e) = t.post(&path, &w.fin, accept(elsewhere, 10)).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert!(e["message"].as_str().is_some_and(|m| m.contains("定向")), "{e}");
        let (s, e) = t.post(&path, &w.fin, accept(plain, 0)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, e) = t.post(&path, &w.hosp, accept(plain, 10)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries").await, entries + 1);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_need_matches").await, 1);
        let (s, a2) = t.post(&path, &w.fin, accept(plain, 300)).await;
        assert_eq!(s, StatusCode::CREATED, "{a2}");
        let (_, n) = t.get(&format!("/api/v1/needs/{nid}"), &w.hosp).await;
        assert_eq!((n["met"].as_i64(), n["remaining"].as_i64(), n["state_label"].as_str()),
            (Some(400), Some(100), Some("部分满足")), "{n}");
        // Met equals an independent sum over the allocations.
        let raw = count(&t, &format!("SELECT CAST(SUM(quantity) AS BIGINT) FROM donation_allocations WHERE recipient_org_id = {}", w.hospital)).await;
        assert_eq!(raw, 400);

        // Reversing an accepted allocation un-meets the need.
        let (_, ex) = t.get(&format!("/api/v1/ledger/entries?campaign_id={c}"), &w.fin).await;
        let e2 = ex.as_array().expect("entries").iter()
            .find(|e| e["kind"] == "allocate" && e["allocation_id"] == a2["id"]).expect("entry")["id"].as_i64().expect("id");
        let (s, _) = t.post(&format!("/api/v1/ledger/entries/{e2}/reverse"), &w.fin, json!({"reason": "改从他处调拨"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (_, n) = t.get(&format!("/api/v1/needs/{nid}"), &w.fin).await;
        assert_eq!((n["met"].as_i64(), n["remaining"].as_i64()), (Some(100), Some(400)), "{n}");

        // The accepted allocation goes on as any other: dispatch, the hospital signs.
        let aid = a1["id"].as_i64().expect("id");
        let (s, _) = t.post(&format!("/api/v1/donations/allocations/{aid}/dispatch"), &w.fin, json!({"vehicle": "冀A·12345"})).await;
        assert_eq!(s, StatusCode::OK);
        let (s, d) = t.post(&format!("/api/v1/donations/allocations/{aid}/confirm"), &w.hosp, json!({"received_qty": 100})).await;
        assert_eq!(s, StatusCode::OK, "{d}");

        // Unmet needs by region: the township's urgent need first, then the county's.
        let (s, u) = t.get(&format!("/api/v1/needs/unmet?campaign_id={c}"), &w.off).await;
        assert_eq!(s, StatusCode::OK, "{u}");
        assert_eq!((u[0]["region_code"].as_str(), u[0]["urgent"].as_i64()), (Some(T1), Some(1)), "{u}");
        assert_eq!(u[0]["remaining"][0]["quantity"], 400);
        assert_eq!(u[1]["region_code"], A);
        let (s, _) = t.get(&format!("/api/v1/needs/unmet?campaign_id={c}"), &w.off_b).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "the sibling county does not see the campaign");
        // The same figures on the allocation page, next to the allocation forms (item 4).
        let cookie = web_login(&t, "fin.a").await;
        let (s, html) = page(&t, &format!("/donations/campaigns/{c}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        let unmet = html.find("id=\"unmet\"").expect("the unmet needs table");
        let alloc = html.find("class=\"stack alloc-form\"").expect("an allocation form");
        let table = &html[unmet..html[unmet..].find("</table>").map_or(html.len(), |e| unmet + e)];
        assert!(table.contains("获鹿镇") && table.contains("医用防护口罩（N95） 400只"), "{table}");
        assert!(table.contains("鹿泉区"), "the county's need too: {table}");
        assert!(unmet < alloc, "shown before the allocation choice");

        // Cancel: only the need's own organisation (or an official); then never proposed.
        let (s, _) = t.post(&format!("/api/v1/needs/{nid}/cancel"), &w.hosp2, json!({})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, n) = t.post(&format!("/api/v1/needs/{nid}/cancel"), &w.hosp, json!({})).await;
        assert_eq!((s, n["state_label"].as_str()), (StatusCode::OK, Some("已撤销")), "{n}");
        let (_, p) = t.get(&format!("/api/v1/needs/{nid}/proposals"), &w.fin).await;
        assert_eq!(p, json!([]));
        let (s, _) = t.post(&path, &w.fin, accept(plain, 10)).await;
        assert_eq!(s, StatusCode::CONFLICT);

        let (_, v) = t.get("/api/v1/ledger/verify", &w.off).await;
        assert_eq!(v["breaches"], json!([]), "{v}");
        for (action, n) in [("donation.need_create", 2), ("donation.need_match", 2), ("donation.need_cancel", 1), ("donation.allocate", 2)] {
            assert_eq!(audit_count(&t, action).await, n, "{action}");
        }
    })
    .await;
}

#[tokio::test]
async fn two_charities_accept_matches_for_the_last_stock() {
    each_backend(|t| async move {
        let w = world(&t).await;
        let c = w.campaign;
        // Two keepers of the same charity, each accepting a match for the same last 100.
        let fin2 = org_user(&t, "fin.a2", &["charity_finance"], A, w.charity).await;
        for round in 0..3 {
            let line = goods(&t, &w.fin, c, &format!("R-LAST-{round}"), 100, "KN95", "2028-12-31", json!({})).await;
            let n1 = post_need(&t, &w.hosp, need_body(c, 100, "urgent")).await["id"].as_i64().expect("id");
            let n2 = post_need(&t, &w.hosp2, need_body(c, 100, "high")).await["id"].as_i64().expect("id");
            let body = json!({"receipt_line_id": line, "quantity": 100});
            let (p1, p2) = (format!("/api/v1/needs/{n1}/accept"), format!("/api/v1/needs/{n2}/accept"));
            let (x, y) = tokio::join!(t.post(&p1, &w.fin, body.clone()), t.post(&p2, &fin2, body.clone()));
            let mut got = [x.0, y.0];
            got.sort();
            assert_eq!(got, [StatusCode::CREATED, StatusCode::CONFLICT], "{x:?} {y:?}");
            let loser = if x.0 == StatusCode::CONFLICT { &x.1 } else { &y.1 };
            assert!(loser["message"].as_str().is_some_and(|m| m.contains("库存不足")), "{loser}");
            let stock = count(&t, &format!("SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM ledger_lines WHERE line_id = {line} AND account = 'stock'")).await;
            assert_eq!(stock, 0, "never -100");
            let met = count(&t, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM donation_need_matches WHERE need_id IN ({n1}, {n2})")).await;
            assert_eq!(met, 1, "only the winner's need is met");
        }
        let (_, v) = t.get("/api/v1/ledger/verify", &w.off).await;
        assert_eq!(v["breaches"], json!([]), "{v}");
        let _ = (&w.fin_b, &w.off_b, w.civil, w.hospital2);
    })
    .await;
}

/// The figures from reports beside the allocation choice (item 4): the institutions' daily
/// reports of the day by township — most pressing first — read by the charity's allocator,
/// who still reads no report; the sibling county's official sees nothing of the campaign.
#[tokio::test]
async fn report_figures_beside_the_allocation_choice() {
    each_backend(|t| async move {
        let w = world(&t).await;
        let c = w.campaign;
        // Two homes in 获鹿镇 (one case, masks for 2 and 5 days), one in 铜冶镇 (12 days).
        let day = t.state.today().format("%Y-%m-%d").to_string();
        for (i, region, mask_days, suspected) in [(1, T1, 2, 1), (2, T1, 5, 0), (3, "130110101", 12, 0)] {
            let home = org(&t, &w.off, &format!("敬老院{i}"), "elderly_care", region).await;
            let rep = org_user(&t, &format!("rep.{i}"), &["institution_reporter"], region, home).await;
            let values = json!({"residents": 40, "staff_on_duty": 10, "closed_management": "是",
                "new_admissions": 0, "resident_fever": suspected, "staff_fever": 0, "suspected": suspected,
                "confirmed": 0, "isolated": suspected, "mask_days": mask_days, "disinfectant_days": 30});
            let (s, r) = t.post("/api/v1/reports", &rep, json!({"template": "institution_daily",
                "unit": home, "period": day, "values": values})).await;
            assert_eq!(s, StatusCode::CREATED, "{r}");
        }
        let url = format!("/api/v1/needs/report-figures?campaign_id={c}");
        let (s, f) = t.get(&url, &w.fin).await;
        assert_eq!(s, StatusCode::OK, "{f}");
        let rows = f.as_array().expect("rows");
        assert_eq!(rows.len(), 2, "{f}");
        assert_eq!(rows[0]["region_code"], T1, "the township with a case first: {f}");
        assert_eq!((rows[0]["reported"].as_i64(), rows[0]["expected"].as_i64()), (Some(2), Some(2)));
        assert_eq!((rows[0]["cases"].as_i64(), rows[0]["fever"].as_i64(), rows[0]["residents"].as_i64()), (Some(1), Some(1), Some(80)));
        assert_eq!(rows[0]["mask_days_avg_tenths"], 35, "(2 + 5) / 2 days");
        assert_eq!(rows[1]["mask_days_avg_tenths"], 120);
        // The allocator reads region sums only, never a report.
        let (s, _) = t.get(&format!("/api/v1/reports/summary?template=institution_daily&period={day}&region={A}"), &w.fin).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t.get(&url, &w.off_b).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.get(&url, &w.hosp).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "a recipient does not read the allocation figures");
        // On the campaign page, beside the unmet needs.
        let cookie = web_login(&t, "fin.a").await;
        let (s, html) = page(&t, &format!("/donations/campaigns/{c}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        let at = html.find("各地机构今日报告").expect("the report figures");
        assert!(html[at..].contains("获鹿镇") && html[at..].contains("3.5"), "the township and its mask days");
    })
    .await;
}

#[tokio::test]
async fn dashboard_days_in_stock_and_a_safe_export() {
    each_backend(|t| async move {
        let w = world(&t).await;
        let c = w.campaign;
        // A donor who consents to publication, named like a formula; a person who does not.
        let (s, r) = t.post("/api/v1/donations/receipts", &w.fin, json!({"campaign_id": c, "receipt_no": "R-F",
            "donor_kind": "org", "donor_name": "=HYPERLINK(\"http://x/\",\"点击\")", "publish_consent": true,
            "money": {"amount": "500.00"},
            "goods": [{"category": "mask_n95", "spec": "KN95", "quantity": 100, "unit_value": "3.50", "expiry_on": "2028-12-31"}]})).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        let (s, r2) = t.post("/api/v1/donations/receipts", &w.fin, json!({"campaign_id": c, "receipt_no": "R-P",
            "donor_kind": "person", "donor_name": "李四光", "publish_consent": false,
            "goods": [{"category": "mask_n95", "spec": "KN95", "quantity": 300, "unit_value": "3.50", "expiry_on": "2028-12-31"}]})).await;
        assert_eq!(s, StatusCode::CREATED, "{r2}");
        post_need(&t, &w.hosp, need_body(c, 50, "urgent")).await;
        t.clock.advance(chrono::Duration::days(8));
        let off = t.login("off.a").await;
        let (s, d) = t.get(&format!("/api/v1/donations/campaigns/{c}/dashboard"), &off).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["totals"]["received_fen"], 50_000 + 400 * 350);
        let age = d["stock_age"].as_array().expect("ages").iter().find(|a| a["category"] == "mask_n95").cloned().expect("masks");
        assert_eq!((age["in_stock"].as_i64(), age["oldest_days"].as_i64(), age["average_days"].as_i64()), (Some(400), Some(8), Some(8)));
        assert_eq!(d["unmet"][0]["urgent"], 1);
        let (s, d) = t.get(&format!("/api/v1/donations/campaigns/{c}/dashboard?region={T1}"), &off).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["totals"]["received_fen"], 0, "the charity is of the county, not the township");
        let (s, _) = t.get(&format!("/api/v1/donations/campaigns/{c}/dashboard"), &t.login("off.b").await).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        let (s, _, bytes) = t.raw("GET", &format!("/api/v1/donations/campaigns/{c}/export"), Some(&off), None, &[]).await;
        assert_eq!(s, StatusCode::OK);
        let text = xlsx_text(&bytes);
        assert!(text.contains("'=HYPERLINK"), "formula neutralised");
        assert!(!text.contains(">=HYPERLINK"), "never a bare formula");
        assert!(text.contains("爱心人士"), "no consent: not named");
        assert!(!text.contains("李四光") && !text.contains("李**"));
        assert!(text.contains("接收明细") || text.contains("500.00"));
        let hosp = t.login("hosp.a").await;
        let (s, _, _) = t.raw("GET", &format!("/api/v1/donations/campaigns/{c}/export"), Some(&hosp), None, &[]).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "a recipient does not read the ledger");
    })
    .await;
}

/// An .xlsx of rows under the template's header.
fn sheet(rows: &[&[&str]]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in backstop_app::donations::import::COLUMNS.iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("head");
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r as u32 + 1, c as u16, *v).expect("cell");
            }
        }
    }
    wb.save_to_buffer().expect("xlsx")
}

async fn upload(t: &T, path: &str, tok: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "backstop.test")
        .header("authorization", format!("Bearer {tok}"))
        .header(
            "content-type",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        .body(axum::body::Body::from(bytes))
        .expect("request");
    let (s, _, b) = t.send(req).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

#[tokio::test]
async fn bulk_entry_all_or_nothing() {
    each_backend(|t| async move {
        let w = world(&t).await;
        let c = w.campaign;
        let path = format!("/api/v1/donations/campaigns/{c}/import");
        // A file with bad rows: nothing written, each error with its row number.
        let bad = sheet(&[
            &[
                "2026-03-01",
                "X-1",
                "",
                "单位",
                "某公司",
                "是",
                "",
                "医用防护口罩（N95）",
                "KN95",
                "100",
                "",
                "3.50",
                "2028-12-31",
                "一号仓库",
                "",
            ],
            &[
                "2026-03-01",
                "X-2",
                "",
                "单位",
                "某公司",
                "是",
                "",
                "火箭",
                "",
                "5",
                "",
                "1",
                "",
                "",
                "",
            ],
            &[
                "2026-03-01",
                "X-3",
                "",
                "个人",
                "",
                "否",
                "100.00",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ],
            &[
                "2026-03-01",
                "X-4",
                "",
                "匿名",
                "",
                "",
                "",
                "医用外科口罩",
                "",
                "-5",
                "",
                "1",
                "",
                "",
                "",
            ],
        ]);
        let (s, r) = upload(&t, &path, &w.fin, bad).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["written"], 0, "{r}");
        let rows: Vec<i64> = r["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["row"].as_i64().unwrap_or(0))
            .collect();
        assert!(
            rows.contains(&3) && rows.contains(&4) && rows.contains(&5),
            "{r}"
        );
        assert!(!rows.contains(&2), "{r}");
        assert!(
            r["errors"]
                .as_array()
                .expect("e")
                .iter()
                .all(|e| e["message"].as_str().is_some_and(|m| !m.is_ascii())),
            "{r}"
        );
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts").await,
            0
        );
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries").await,
            0
        );

        // A good file: two rows of one receipt (money and goods) and one of another.
        let good = sheet(&[
            &[
                "2026-03-01",
                "G-1",
                "冀捐票 001",
                "单位",
                "某某医疗器械公司",
                "是",
                "500.00",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ],
            &[
                "2026-03-01",
                "G-1",
                "",
                "",
                "",
                "",
                "",
                "医用防护口罩（N95）",
                "KN95",
                "1000",
                "",
                "3.50",
                "2028-12-31",
                "一号仓库",
                "",
            ],
            &[
                "2026-03-02",
                "G-2",
                "",
                "个人",
                "王五",
                "否",
                "",
                "protective_suit",
                "",
                "20",
                "件",
                "45.00",
                "",
                "",
                "一线医护",
            ],
        ]);
        let (s, r) = upload(&t, &path, &w.fin, good.clone()).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(
            (r["written"].as_i64(), r["errors"].as_array().map(Vec::len)),
            (Some(2), Some(0)),
            "{r}"
        );
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts").await,
            2
        );
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_lines").await,
            3
        );
        let sum = count(
            &t,
            "SELECT CAST(SUM(money_fen + goods_value_fen) AS BIGINT) FROM donation_receipts",
        )
        .await;
        assert_eq!(sum, 50_000 + 1000 * 350 + 20 * 4500);
        assert_eq!(audit_count(&t, "donation.receipt_create").await, 2);
        // The same file again: skipped by receipt number, nothing doubled.
        let (_, r) = upload(&t, &path, &w.fin, good).await;
        assert_eq!(
            (r["written"].as_i64(), r["skipped"].as_array().map(Vec::len)),
            (Some(0), Some(2)),
            "{r}"
        );
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts").await,
            2
        );
        // Not an .xlsx: a clear refusal; officials and recipients do not enter receipts.
        let (s, _) = upload(&t, &path, &w.fin, b"not a workbook".to_vec()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = upload(&t, &path, &w.off, sheet(&[])).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = upload(&t, &path, &w.off_b, sheet(&[])).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, tpl) = t
            .raw(
                "GET",
                "/api/v1/donations/import-template",
                Some(&w.fin),
                None,
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(xlsx_text(&tpl).contains("收据编号"));
    })
    .await;
}
