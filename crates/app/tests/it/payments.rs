//! Payments (issue 16 part B) on both backends: bank accounts with two-person confirmation,
//! a monthly roll generated from beneficiaries (frozen exits marked, the left-out counted),
//! early payment, separation of duties, a second roll and a person on two rolls refused with
//! nothing written, totals against an independent recomputation, the bank file (CSV and XLSX,
//! checksum, audit), return files that do not match refused naming the mismatch, reconciliation
//! with a supplementary roll; one-off grants; price indices, the province's rule, the subsidy
//! triggered and not triggered.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{T, audit_count, cid, count, created_id, each_backend};

pub(crate) const A: &str = "130110";
pub(crate) const B: &str = "130111";
pub(crate) const V1: &str = "130110100001";
const VB: &str = "130111100003";

pub(crate) async fn person(t: &T, token: &str, seq: u32, name: &str, region: &str) -> i64 {
    let county = &region[..6];
    let body =
        json!({"id_number": cid(county, "19600101", seq), "name": name, "region_code": region});
    created_id(t, "/api/v1/persons", token, body).await
}

/// A beneficiary row, as the applications of task ASSIST will make them.
pub(crate) struct Ben<'a> {
    pub(crate) programme: &'a str,
    pub(crate) county: &'a str,
    pub(crate) region: &'a str,
    pub(crate) person: i64,
    pub(crate) household: Option<i64>,
    pub(crate) members: i64,
    pub(crate) area: &'a str,
    pub(crate) amount: i64,
    pub(crate) status: &'a str,
    pub(crate) held: bool,
    pub(crate) until: Option<&'a str>,
}

pub(crate) fn ben<'a>(programme: &'a str, person: i64, amount: i64, status: &'a str) -> Ben<'a> {
    Ben {
        programme,
        county: A,
        region: V1,
        person,
        household: None,
        members: 1,
        area: "urban",
        amount,
        status,
        held: false,
        until: None,
    }
}

pub(crate) async fn beneficiary(t: &T, b: &Ben<'_>) {
    sqlx::query(
        "INSERT INTO assistance_beneficiaries (province, programme, county_code, region_code, \
         household_id, person_id, members, area_kind, monthly_amount_fen, status, since_month, \
         until_month, exit_held, created_at, updated_at) \
         VALUES ('13', $1, $2, $3, $4, $5, $6, $7, $8, $9, '2019-06', $10, $11, 0, 0)",
    )
    .bind(b.programme)
    .bind(b.county)
    .bind(b.region)
    .bind(b.household)
    .bind(b.person)
    .bind(b.members)
    .bind(b.area)
    .bind(b.amount)
    .bind(b.status)
    .bind(b.until)
    .bind(i64::from(b.held))
    .execute(t.state.db.pool())
    .await
    .expect("beneficiary");
}

/// Enter an account as `by` and confirm it as `confirmer`; the account id.
pub(crate) async fn account(t: &T, by: &str, confirmer: &str, person: i64, number: &str) -> i64 {
    let body = json!({"bank_name": "河北农信", "account_number": number, "holder": "本人"});
    let id = created_id(
        t,
        &format!("/api/v1/payments/persons/{person}/accounts"),
        by,
        body,
    )
    .await;
    let (s, b) = t
        .post(
            &format!("/api/v1/payments/accounts/{id}/confirm"),
            confirmer,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    id
}

async fn rolls_count(t: &T) -> i64 {
    count(t, "SELECT CAST(COUNT(*) AS BIGINT) FROM payment_rolls").await
}

async fn lines_count(t: &T) -> i64 {
    count(t, "SELECT CAST(COUNT(*) AS BIGINT) FROM payment_roll_lines").await
}

/// The export CSV turned into a return file: `result(line id)` gives (结果, 失败原因).
pub(crate) fn return_file(
    csv: &str,
    result: impl Fn(&str) -> (&'static str, &'static str),
) -> String {
    return_lines(csv, |line| result(line.split(',').next().unwrap_or("")))
}

/// The export CSV turned into a return file: `result(line)` gives (结果, 失败原因).
pub(crate) fn return_lines(
    csv: &str,
    result: impl Fn(&str) -> (&'static str, &'static str),
) -> String {
    let mut out = String::new();
    for (i, line) in csv.lines().enumerate() {
        if i == 0 {
            out.push_str(&format!("{line},结果,失败原因\n"));
        } else if line.starts_with("合计") || line.starts_with("校验码") {
            out.push_str(&format!("{line},,\n"));
        } else {
            let (r, why) = result(line);
            out.push_str(&format!("{line},{r},{why}\n"));
        }
    }
    out
}

#[tokio::test]
async fn monthly_roll_accounts_bank_file_and_reconciliation() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let gen_ = t.user("pay_gen", &["official"], A).await;
        let appr = t.user("pay_appr", &["official"], A).await;
        let other = t.user("pay_other", &["official"], B).await;
        let cw = t.user("pay_cw", &["community_worker"], V1).await;

        let p1 = person(&t, &gen_, 1, "王大山", V1).await;
        let p2 = person(&t, &gen_, 2, "李小花", V1).await;
        let p3 = person(&t, &gen_, 3, "赵老汉", V1).await;
        let p4 = person(&t, &gen_, 4, "钱暂停", V1).await;
        let p5 = person(&t, &gen_, 5, "孙退出", V1).await;
        let p6 = person(&t, &gen_, 6, "周已故", V1).await;
        let p7 = person(&t, &gen_, 7, "吴特困", V1).await;
        let hh = created_id(&t, "/api/v1/households", &gen_,
            json!({"region_code": V1, "members": [{"person_id": p1, "relationship": "head"}]})).await;
        sqlx::query("UPDATE persons SET deceased = 1 WHERE id = $1")
            .bind(p6).execute(t.state.db.pool()).await.expect("deceased");

        beneficiary(&t, &Ben { household: Some(hh), members: 3, ..ben("dibao", p1, 90_000, "active") }).await;
        beneficiary(&t, &Ben { area: "rural", ..ben("dibao", p2, 45_050, "active") }).await;
        beneficiary(&t, &Ben { held: true, ..ben("dibao", p3, 30_000, "exited") }).await;
        beneficiary(&t, &ben("dibao", p4, 20_000, "suspended")).await;
        beneficiary(&t, &Ben { until: Some("2020-01"), ..ben("dibao", p5, 20_000, "exited") }).await;
        beneficiary(&t, &ben("dibao", p6, 20_000, "active")).await;
        beneficiary(&t, &ben("tekun", p7, 70_000, "active")).await;

        // Accounts: entered by one, confirmed by another; the enterer cannot confirm.
        let body = json!({"bank_name": "河北农信", "account_number": "6222 0000 1111 0001", "holder": "王大山"});
        let a1 = created_id(&t, &format!("/api/v1/payments/persons/{p1}/accounts"), &gen_, body).await;
        let (s, b) = t.post(&format!("/api/v1/payments/accounts/{a1}/confirm"), &gen_, json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert!(b["message"].as_str().unwrap_or("").contains("另一名"), "{b}");
        let (s, _) = t.post(&format!("/api/v1/payments/accounts/{a1}/confirm"), &appr, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        let (s, b) = t.post(&format!("/api/v1/payments/accounts/{a1}/confirm"), &appr, json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        account(&t, &gen_, &appr, p2, "6222000011110002").await;
        account(&t, &gen_, &appr, p3, "6222000011110003").await;
        // p1 changes the account: the new one replaces the old once confirmed.
        let a1b = account(&t, &appr, &gen_, p1, "6222000099990001").await;
        let (s, accts) = t.get(&format!("/api/v1/payments/persons/{p1}/accounts"), &appr).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(accts[0]["id"], a1b);
        assert_eq!((accts[0]["status"].as_str(), accts[0]["replaces_id"].as_i64()), (Some("confirmed"), Some(a1)));
        assert_eq!(accts[1]["status"], "replaced");
        assert_eq!(accts[0]["account_masked"], "6222 **** 0001");
        assert!(!accts.to_string().contains("6222000099990001"), "{accts}");
        // Sealed at rest: the number is nowhere in the table's text.
        let plain = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM payment_accounts \
            WHERE account_masked LIKE '%99990001%' OR bank_name LIKE '%9999%'").await;
        assert_eq!(plain, 0);
        let (s, _) = t.post(&format!("/api/v1/payments/persons/{p2}/accounts"), &appr,
            json!({"bank_name": "x", "account_number": "12ab", "holder": "y"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = t.get(&format!("/api/v1/payments/persons/{p1}/accounts"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.get(&format!("/api/v1/payments/persons/{p1}/accounts"), &cw).await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // Bad requests write nothing.
        let gen_req = |month: &str, pay: &str| json!({"county": A, "programme": "dibao", "month": month, "pay_date": pay});
        for (body, want) in [
            (gen_req("2020-13", "2020-01-21"), StatusCode::UNPROCESSABLE_ENTITY),
            (gen_req("2020-02", "2020-03-05"), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"county": A, "programme": "temporary", "month": "2020-02"}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"county": A, "programme": "nope", "month": "2020-02"}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"county": B, "programme": "dibao", "month": "2020-02"}), StatusCode::NOT_FOUND),
        ] {
            let (s, b) = t.post("/api/v1/payments/rolls", &gen_, body.clone()).await;
            assert_eq!(s, want, "{body} → {b}");
            if s == StatusCode::UNPROCESSABLE_ENTITY {
                assert!(b["message"].as_str().is_some_and(|m| !m.is_ascii()), "{b}");
            }
        }
        let (s, _) = t.post("/api/v1/payments/rolls", &cw, gen_req("2020-02", "2020-01-21")).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(rolls_count(&t).await, 0);

        // February paid on 21 January.
        let (s, d) = t.post("/api/v1/payments/rolls", &gen_, gen_req("2020-02", "2020-01-21")).await;
        assert_eq!(s, StatusCode::CREATED, "{d}");
        let roll = &d["roll"];
        let id = roll["id"].as_i64().expect("id");
        assert_eq!((roll["status"].as_str(), roll["early"].as_bool()), (Some("draft"), Some(true)));
        assert_eq!(roll["left_summary"], "未列入：暂停 1，退出 1，已故 1");
        assert_eq!(roll["held_count"], 1);
        let lines = d["lines"].as_array().expect("lines");
        let mut on: Vec<i64> = lines.iter().map(|l| l["person_id"].as_i64().unwrap_or(0)).collect();
        on.sort();
        assert_eq!(on, vec![p1, p2, p3]);
        // Totals: the sum of the lines, and an independent recomputation from what was inserted.
        let expected = 90_000 + 45_050 + 30_000;
        let sum: i64 = lines.iter().map(|l| l["amount_fen"].as_i64().unwrap_or(0)).sum();
        assert_eq!((roll["total_fen"].as_i64(), sum), (Some(expected), expected));
        assert_eq!(roll["total_yuan"], "1650.50");
        let db_sum = count(&t, &format!("SELECT CAST(SUM(amount_fen) AS BIGINT) FROM payment_roll_lines WHERE roll_id = {id}")).await;
        assert_eq!(db_sum, expected);
        assert!(d["next_after"].is_null(), "{d}");
        // The lines paged: two then one, the same lines in line order; a limit out of range refused.
        let (s, p1d) = t.get(&format!("/api/v1/payments/rolls/{id}?limit=2"), &gen_).await;
        assert_eq!(s, StatusCode::OK, "{p1d}");
        let after = p1d["next_after"].as_i64().expect("a next page");
        let (_, p2d) = t.get(&format!("/api/v1/payments/rolls/{id}?limit=2&after={after}"), &gen_).await;
        assert!(p2d["next_after"].is_null(), "{p2d}");
        let paged: Vec<Value> = p1d["lines"].as_array().into_iter().chain(p2d["lines"].as_array()).flatten().cloned().collect();
        assert_eq!(paged.len(), 3);
        assert_eq!(paged.as_slice(), lines.as_slice());
        assert_eq!(paged[1]["id"].as_i64(), Some(after));
        let (s, e) = t.get(&format!("/api/v1/payments/rolls/{id}?limit=0"), &gen_).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("limit")));
        let line = |p: i64| lines.iter().find(|l| l["person_id"] == p).expect("line").clone();
        assert_eq!(line(p1)["account_changed"], true);
        assert_eq!(line(p2)["account_changed"], false);
        assert_eq!(line(p3)["exit_held"], true);
        assert_eq!(line(p1)["household_id"], hh);
        assert_eq!(line(p1)["name"], "王**");
        assert!(!d.to_string().contains("6222000099990001"));

        // A second roll for the month: refused, nothing written.
        let before = lines_count(&t).await;
        let (s, b) = t.post("/api/v1/payments/rolls", &appr, gen_req("2020-02", "2020-02-01")).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert!(b["message"].as_str().unwrap_or("").contains("已经生成"), "{b}");
        // A person already on February's dibao roll cannot be on county B's: the database says so.
        let pb = person(&t, &other, 8, "郑外县", VB).await;
        beneficiary(&t, &Ben { county: B, region: VB, ..ben("dibao", pb, 10_000, "active") }).await;
        beneficiary(&t, &Ben { county: B, region: VB, ..ben("dibao", p2, 10_000, "active") }).await;
        let (s, b) = t.post("/api/v1/payments/rolls", &other,
            json!({"county": B, "programme": "dibao", "month": "2020-02"})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert!(b["message"].as_str().unwrap_or("").contains("重复发放"), "{b}");
        assert_eq!((rolls_count(&t).await, lines_count(&t).await), (1, before));

        // Scope and permission.
        let (s, _) = t.get(&format!("/api/v1/payments/rolls/{id}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.get(&format!("/api/v1/payments/rolls/{id}"), &cw).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, list) = t.get("/api/v1/payments/rolls?month=2020-02", &appr).await;
        assert_eq!((s, list.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
        let (s, list) = t.get("/api/v1/payments/rolls", &other).await;
        assert_eq!((s, list.as_array().map(Vec::len)), (StatusCode::OK, Some(0)));

        // Separation of duties: the generator neither approves nor exports.
        let export = |tok: &str, fmt: &str| {
            let body = json!({"format": fmt}).to_string();
            let path = format!("/api/v1/payments/rolls/{id}/export");
            let tok = tok.to_string();
            let t = &t;
            async move { t.raw("POST", &path, Some(&tok), Some(body), &[]).await }
        };
        let (s, _, _) = export(&appr, "csv").await;
        assert_eq!(s, StatusCode::CONFLICT, "export before approval");
        let (s, b) = t.post(&format!("/api/v1/payments/rolls/{id}/approve"), &gen_, json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        let (s, b) = t.post(&format!("/api/v1/payments/rolls/{id}/approve"), &appr, json!({})).await;
        assert_eq!((s, b["roll"]["status"].as_str()), (StatusCode::OK, Some("approved")), "{b}");
        let (s, _, _) = export(&gen_, "csv").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(audit_count(&t, "payments.roll.export").await, 0);

        // The bank file: full numbers, totals row, checksum; audited.
        let (s, h, bytes) = export(&appr, "csv").await;
        assert_eq!(s, StatusCode::OK);
        let csv = String::from_utf8(bytes).expect("utf-8");
        assert!(csv.contains("6222000099990001") && csv.contains("6222000011110002"), "{csv}");
        assert!(!csv.contains("6222000011110001"), "the replaced account is not paid into");
        assert!(csv.contains("合计,3 笔,,,,1650.50,"), "{csv}");
        assert!(csv.contains("账户变更") && csv.contains("冻结退出"), "{csv}");
        let checksum = h.get("x-roll-checksum").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        assert_eq!(checksum.len(), 64);
        assert!(csv.contains(&format!("校验码,{checksum}")));
        let (_, d) = t.get(&format!("/api/v1/payments/rolls/{id}"), &appr).await;
        assert_eq!((d["roll"]["status"].as_str(), d["roll"]["checksum"].as_str()), (Some("exported"), Some(checksum.as_str())));
        let (s, _, x) = export(&appr, "xlsx").await;
        assert_eq!((s, x.get(..2)), (StatusCode::OK, Some(&b"PK"[..])));
        assert_eq!(audit_count(&t, "payments.roll.export").await, 2);

        // Return files that do not match the export are refused, naming the mismatch.
        let l2 = line(p2)["id"].as_i64().expect("id").to_string();
        let good = return_file(&csv, |lid| if lid == l2 { ("失败", "账户已销户") } else { ("成功", "") });
        let ret = |content: String| json!({"content": content});
        let path = format!("/api/v1/payments/rolls/{id}/return");
        let tampered = good.replacen("900.00", "800.00", 1);
        let dropped: String = good.lines().filter(|l| !l.starts_with(&l2)).map(|l| format!("{l}\n")).collect();
        let bad_sum = good.replace(&checksum, &"0".repeat(64));
        let bad_total = good.replace("1650.50", "1650.00");
        for (content, words) in [
            (tampered, "金额"),
            (dropped, "缺少明细号"),
            (bad_sum, "校验码"),
            (bad_total, "合计"),
            ("明细号,金额（元）\n1,2\n".to_string(), "表头"),
        ] {
            let (s, b) = t.post(&path, &appr, ret(content)).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
            assert!(b["message"].as_str().unwrap_or("").contains(words), "{words}: {b}");
        }
        let no_reason = return_file(&csv, |_| ("失败", ""));
        let (s, _) = t.post(&path, &appr, ret(no_reason)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM payment_roll_lines WHERE outcome <> ''").await, 0);
        assert_eq!(rolls_count(&t).await, 1);

        // Reconciled: two paid, one failed onto a supplementary roll of February.
        let (s, r) = t.post(&path, &appr, ret(good.clone())).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["roll"]["status"], "reconciled");
        assert_eq!((r["roll"]["paid_count"].as_i64(), r["roll"]["failed_count"].as_i64()), (Some(2), Some(1)));
        assert_eq!(r["roll"]["paid_fen"].as_i64(), Some(expected - 45_050));
        let supp = &r["supplementary"];
        assert_eq!((supp["kind"].as_str(), supp["month"].as_str(), supp["status"].as_str()),
            (Some("supplementary"), Some("2020-02"), Some("draft")));
        assert_eq!((supp["line_count"].as_i64(), supp["total_fen"].as_i64()), (Some(1), Some(45_050)));
        assert_eq!(supp["parent_roll_id"], id);
        let (_, d) = t.get(&format!("/api/v1/payments/rolls/{id}"), &appr).await;
        let failed = d["lines"].as_array().expect("lines").iter().find(|l| l["outcome"] == "failed").expect("failed").clone();
        assert_eq!((failed["person_id"].as_i64(), failed["fail_reason"].as_str()), (Some(p2), Some("账户已销户")));
        let (s, _) = t.post(&path, &appr, ret(good)).await;
        assert_eq!(s, StatusCode::CONFLICT, "reconciled once");
        // The reconciler generated the supplementary roll, so someone else approves it.
        let sid = supp["id"].as_i64().expect("id");
        let (s, _) = t.post(&format!("/api/v1/payments/rolls/{sid}/approve"), &appr, json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t.post(&format!("/api/v1/payments/rolls/{sid}/approve"), &gen_, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        for (action, n) in [("payments.roll.generate", 2), ("payments.roll.approve", 2), ("payments.roll.reconcile", 1),
            ("payments.account.enter", 4), ("payments.account.confirm", 4)] {
            assert_eq!(audit_count(&t, action).await, n, "{action}");
        }
    })
    .await;
}

#[tokio::test]
async fn grants_and_price_subsidies() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("ps_off", &["official"], "13").await;
        let cty = t.user("ps_cty", &["official"], A).await;
        let p1 = person(&t, &off, 11, "王城市", V1).await;
        let p2 = person(&t, &off, 12, "李农村", V1).await;
        let p3 = person(&t, &off, 13, "赵残疾", V1).await;
        let p4 = person(&t, &off, 14, "钱暂停", V1).await;
        let hh = created_id(&t, "/api/v1/households", &off,
            json!({"region_code": V1, "members": [{"person_id": p1, "relationship": "head"}]})).await;
        beneficiary(&t, &Ben { household: Some(hh), members: 3, ..ben("dibao", p1, 90_000, "active") }).await;
        beneficiary(&t, &Ben { area: "rural", ..ben("tekun", p2, 70_000, "active") }).await;
        beneficiary(&t, &ben("disability_allowances", p3, 10_000, "active")).await;
        beneficiary(&t, &ben("dibao", p4, 20_000, "suspended")).await;
        for (region, area, amount, from) in [
            ("13", "urban", 60_000, "2019-07-01"),
            ("13", "rural", 40_000, "2019-07-01"),
            (A, "urban", 62_000, "2020-01-01"),
            (A, "urban", 99_000, "2020-07-01"),
        ] {
            sqlx::query("INSERT INTO assistance_standards (region_code, programme, area_kind, component, \
                amount_fen, effective_from, created_by, created_at) VALUES ($1, 'dibao', $2, 'base', $3, $4, 't', 0)")
                .bind(region).bind(area).bind(amount).bind(from)
                .execute(t.state.db.pool()).await.expect("standard");
        }

        // Price indices: integers in tenths; once per month.
        let idx = |m: &str, cpi: &str, food: &str| json!({"region_code": "13", "month": m, "cpi": cpi, "food_cpi": food});
        let (s, b) = t.post("/api/v1/payments/price-indices", &off, idx("2020-01", "5.4", "20.6")).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!((b["cpi_tenths"].as_i64(), b["food_cpi_tenths"].as_i64()), (Some(54), Some(206)));
        let (s, b) = t.post("/api/v1/payments/price-indices", &off, idx("2020-01", "5.0", "20.0")).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert!(b["message"].as_str().unwrap_or("").contains("重复"), "{b}");
        let (s, _) = t.post("/api/v1/payments/price-indices", &off, idx("2020-02", "5.45", "1")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = t.post("/api/v1/payments/price-indices", &cty, idx("2020-03", "1", "1")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "a county official does not record the province's index");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM price_indices").await, 1);

        // The province's rule: never above the national thresholds.
        let rule = |cpi: &str| json!({"cpi": cpi, "food_cpi": "6", "rounding": "jiao", "minimum": "10"});
        let (s, b) = t.call("PUT", "/api/v1/payments/price-rules/13", Some(&off), Some(rule("4"))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let (s, b) = t.call("PUT", "/api/v1/payments/price-rules/13", Some(&off), Some(rule("3.0"))).await;
        assert_eq!(s, StatusCode::OK, "{b}");

        // January 2020 triggers on food CPI 20.6 %, doubled in the emergency. By hand:
        // urban 620.00 × 20.6 % = 127.72 → 127.70 (jiao) × 2 = 255.40, × 3 members = 766.20;
        // rural 400.00 × 20.6 % = 82.40 × 2 = 164.80. The disability allowance is not eligible,
        // the suspended dibao household is not paid.
        let sub = |m: &str| json!({"county": A, "month": m, "multiplier": 2});
        let (s, o) = t.post("/api/v1/payments/price-subsidies", &cty, sub("2020-01")).await;
        assert_eq!(s, StatusCode::OK, "{o}");
        assert_eq!(o["triggered"], true);
        assert!(o["reason"].as_str().unwrap_or("").contains("食品 CPI"), "{o}");
        assert_eq!((o["urban_fen"].as_i64(), o["rural_fen"].as_i64()), (Some(25_540), Some(16_480)));
        assert_eq!(o["roll"]["total_fen"].as_i64(), Some(76_620 + 16_480));
        assert_eq!(o["roll"]["line_count"].as_i64(), Some(2));
        let (s, _) = t.post("/api/v1/payments/price-subsidies", &cty, sub("2020-01")).await;
        assert_eq!(s, StatusCode::CONFLICT);
        // June: below both thresholds, no roll, and why.
        t.post("/api/v1/payments/price-indices", &off, idx("2020-06", "2.5", "5.0")).await;
        let (s, o) = t.post("/api/v1/payments/price-subsidies", &cty, sub("2020-06")).await;
        assert_eq!((s, o["triggered"].as_bool()), (StatusCode::OK, Some(false)), "{o}");
        assert!(o["reason"].as_str().unwrap_or("").starts_with("未触发"), "{o}");
        assert!(o["roll"].is_null());
        let (s, b) = t.post("/api/v1/payments/price-subsidies", &cty, sub("2020-09")).await;
        assert_eq!(s, StatusCode::CONFLICT, "no index yet: {b}");
        assert_eq!(rolls_count(&t).await, 1);

        // One-off grants: per household and per person.
        let grant = |per: &str, amount: &str| json!({"name": "春节一次性生活补贴", "region_code": "13",
            "programmes": ["dibao", "特困人员救助供养"], "per": per, "amount": amount, "as_of": "2020-01-15"});
        for bad in [grant("household", "-5"), grant("household", "0.001"), grant("each", "5")] {
            let (s, b) = t.post("/api/v1/payments/grants", &off, bad).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        }
        let g1 = created_id(&t, "/api/v1/payments/grants", &off, grant("household", "500")).await;
        let g2 = created_id(&t, "/api/v1/payments/grants", &off, grant("person", "100")).await;
        let (s, d) = t.post(&format!("/api/v1/payments/grants/{g1}/rolls"), &cty, json!({"county": A})).await;
        assert_eq!(s, StatusCode::CREATED, "{d}");
        assert_eq!((d["roll"]["line_count"].as_i64(), d["roll"]["total_fen"].as_i64()), (Some(2), Some(100_000)));
        assert_eq!(d["roll"]["pay_date"], "2020-01-15");
        let (s, _) = t.post(&format!("/api/v1/payments/grants/{g1}/rolls"), &cty, json!({"county": A})).await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, d) = t.post(&format!("/api/v1/payments/grants/{g2}/rolls"), &cty, json!({"county": A})).await;
        assert_eq!(s, StatusCode::CREATED, "{d}");
        assert_eq!(d["roll"]["total_fen"].as_i64(), Some(30_000 + 10_000));
        let sum: i64 = d["lines"].as_array().expect("lines").iter().map(|l: &Value| l["amount_fen"].as_i64().unwrap_or(0)).sum();
        assert_eq!(sum, 40_000);
        let (s, _) = t.post(&format!("/api/v1/payments/grants/{g1}/rolls"), &cty, json!({"county": B})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await;
}
