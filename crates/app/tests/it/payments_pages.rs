//! Payments pages (issue 16 items 4–6) on both backends: the rolls list and generate form
//! (a refused month shown again in Chinese, nothing written), the roll page (masked names and
//! accounts, totals equal to the sum of the lines recomputed here, state history), scope (a
//! roll of another county is 404), separation of duties (the generator sees no approve or
//! export button and is refused when posting), the bank-file download (audited), the return
//! file uploaded on the page and on the API (a file that does not match: a Chinese reason,
//! nothing written; a matching one reconciles and links the supplementary roll), a person's
//! accounts (masked; the enterer cannot confirm), the grants and price pages and the new list
//! APIs (a second index for a month refused in Chinese).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::payments::{A, B, Ben, V1, account, ben, beneficiary, person, return_file};
use crate::support::{T, audit_count, count, each_backend, page, post_page, web_login};

/// A multipart upload of `content` as the field `file`, on the page (session cookie) or the
/// API (bearer token).
async fn upload(
    t: &T,
    path: &str,
    cookie: Option<&str>,
    token: Option<&str>,
    content: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let b = "payBoundary7";
    let body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"return.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{content}\r\n--{b}--\r\n"
    );
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::HOST, "backstop.test")
        .header(header::ORIGIN, "http://backstop.test")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={b}"),
        );
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    if let Some(tk) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {tk}"));
    }
    let (s, h, bytes) = t.send(req.body(Body::from(body)).expect("request")).await;
    (s, h, String::from_utf8_lossy(&bytes).to_string())
}

fn location(h: &axum::http::HeaderMap) -> String {
    h.get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn outcomes(t: &T) -> i64 {
    count(
        t,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM payment_roll_lines WHERE outcome <> ''",
    )
    .await
}

#[tokio::test]
async fn payments_pages_roll_through_reconciliation() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let gen_tok = t.user("pp_gen", &["official"], A).await;
        let appr_tok = t.user("pp_appr", &["official"], A).await;
        t.user("pp_other", &["official"], B).await;
        let prov_tok = t.user("pp_prov", &["official"], "13").await;
        let p1 = person(&t, &gen_tok, 1, "王大山", V1).await;
        let p2 = person(&t, &gen_tok, 2, "李小花", V1).await;
        beneficiary(&t, &Ben { members: 2, ..ben("dibao", p1, 90_000, "active") }).await;
        beneficiary(&t, &Ben { area: "rural", ..ben("dibao", p2, 45_050, "active") }).await;
        account(&t, &gen_tok, &appr_tok, p1, "6222000011110001").await;
        account(&t, &gen_tok, &appr_tok, p2, "6222000011110002").await;
        let gen_ = web_login(&t, "pp_gen").await;
        let appr = web_login(&t, "pp_appr").await;
        let other = web_login(&t, "pp_other").await;

        // The list with the nav entry and the generate form.
        let (s, html) = page(&t, "/payments", &gen_).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("href=\"/payments\"") && html.contains("资金发放"), "nav entry");
        assert!(html.contains("id=\"generate-form\""));
        // A bad month: the form again in Chinese, nothing written.
        let (s, html) = post_page(&t, "/payments", &gen_,
            "county=130110&programme=dibao&month=2020-13&pay_date=").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("格式应为 YYYY-MM") && html.contains("value=\"2020-13\""), "{html}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM payment_rolls").await, 0);
        // February paid early, on 21 January.
        let (s, h, _) = t.raw_form("POST", "/payments", Some(&gen_),
            "county=130110&programme=dibao&month=2020-02&pay_date=2020-01-21").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let roll_path = location(&h);
        assert!(roll_path.starts_with("/payments/rolls/"), "{roll_path}");
        let id: i64 = roll_path.rsplit('/').next().and_then(|x| x.parse().ok()).expect("id");
        let (_, html) = page(&t, "/payments", &gen_).await;
        assert!(html.contains(&roll_path) && html.contains("提前发放") && html.contains("1350.50"), "{html}");

        // The roll page: masked, totals = the lines, the generator sees no approve/export.
        let (s, html) = page(&t, &roll_path, &gen_).await;
        assert_eq!(s, StatusCode::OK);
        assert!(!html.contains("王大山") && !html.contains("6222000011110001"), "masked");
        assert!(html.contains("6222 **** 0001"));
        let independent = 90_000 + 45_050;
        assert_eq!(independent, 135_050);
        assert!(html.contains("id=\"roll-total\">1350.50<") && html.contains("id=\"roll-lines-total\">1350.50<"), "{html}");
        assert!(html.contains("id=\"roll-own\"") && !html.contains("id=\"roll-approve\"") && !html.contains("id=\"roll-export\""));
        assert!(html.contains("生成：pp_gen"), "history");
        let (s, _) = post_page(&t, &format!("{roll_path}/approve"), &gen_, "").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "the generator cannot approve");
        // Scope: another county's official gets not found.
        let (s, _) = page(&t, &roll_path, &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = post_page(&t, &format!("{roll_path}/approve"), &other, "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // A second officer approves and downloads the bank file (audited).
        let (_, html) = page(&t, &roll_path, &appr).await;
        assert!(html.contains("id=\"roll-approve\""));
        let (s, _) = post_page(&t, &format!("{roll_path}/approve"), &appr, "").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(&t, &roll_path, &appr).await;
        assert!(html.contains("id=\"roll-export\"") && html.contains("审批：pp_appr"), "{html}");
        let (s, _, _) = t.raw_form("POST", &format!("{roll_path}/export"), Some(&gen_), "format=csv").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "the generator cannot export");
        assert_eq!(audit_count(&t, "payments.roll.export").await, 0);
        let (s, h, bytes) = t.raw_form("POST", &format!("{roll_path}/export"), Some(&appr), "format=csv").await;
        assert_eq!(s, StatusCode::OK);
        assert!(h.get(header::CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("attachment")));
        let csv = String::from_utf8(bytes).expect("utf-8");
        assert!(csv.contains("6222000011110002") && csv.contains("合计,2 笔"), "{csv}");
        assert_eq!(audit_count(&t, "payments.roll.export").await, 1);

        // The return file: one failed line. Not matching → Chinese reason, nothing written.
        let (_, d) = t.get(&format!("/api/v1/payments/rolls/{id}"), &appr_tok).await;
        let l2 = d["lines"].as_array().and_then(|ls| ls.iter().find(|l| l["person_id"] == p2))
            .and_then(|l| l["id"].as_i64()).expect("line").to_string();
        let good = return_file(&csv, |lid| if lid == l2 { ("失败", "账户已冻结") } else { ("成功", "") });
        let tampered = good.replacen("900.00", "800.00", 1);
        let (s, _, html) = upload(&t, &format!("{roll_path}/return"), Some(&appr), None, &tampered).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("回盘与导出文件不一致"), "{html}");
        let api = format!("/api/v1/payments/rolls/{id}/return-file");
        let (s, _, b) = upload(&t, &api, None, Some(&appr_tok), &tampered).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b.contains("回盘与导出文件不一致"), "{b}");
        assert_eq!(outcomes(&t).await, 0);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM payment_rolls").await, 1);
        let (_, d) = t.get(&format!("/api/v1/payments/rolls/{id}"), &appr_tok).await;
        assert_eq!(d["roll"]["status"], "exported");
        // A matching one reconciles; the page shows the result and the supplementary roll.
        let (s, h, _) = upload(&t, &format!("{roll_path}/return"), Some(&appr), None, &good).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(location(&h).starts_with(&roll_path));
        let (_, html) = page(&t, &roll_path, &appr).await;
        assert!(html.contains("id=\"reconciled\"") && html.contains("账户已冻结"), "{html}");
        assert!(html.contains("id=\"paid-count\">1<") && html.contains("id=\"failed-count\">1<"));
        assert!(html.contains("id=\"supplementary-link\"") && html.contains("450.50"), "{html}");
        assert_eq!(outcomes(&t).await, 2);

        // A person's accounts: masked; the one who entered a change cannot confirm it.
        let acc = format!("/payments/persons/{p1}/accounts");
        let (s, html) = page(&t, &acc, &gen_).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("6222 **** 0001") && !html.contains("6222000011110001"));
        let (s, _) = post_page(&t, &acc, &gen_, "bank_name=河北农信&account_number=12ab&holder=王大山").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = post_page(&t, &acc, &gen_, "bank_name=%E6%B2%B3%E5%8C%97&account_number=6222000099990001&holder=%E7%8E%8B").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(&t, &acc, &gen_).await;
        assert!(html.contains("待他人确认") && html.contains("6222 **** 0001") && !html.contains("6222000099990001"));
        let (_, list) = t.get(&format!("/api/v1/payments/persons/{p1}/accounts"), &appr_tok).await;
        let pending = list[0]["id"].as_i64().expect("id");
        let (s, _) = post_page(&t, &format!("/payments/accounts/{pending}/confirm"), &gen_, &format!("person={p1}")).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = post_page(&t, &format!("/payments/accounts/{pending}/confirm"), &appr, &format!("person={p1}")).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, _) = page(&t, &acc, &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, html) = page(&t, &format!("/persons/{p1}"), &gen_).await;
        assert!(html.contains(&acc), "reachable from the person's page");

        // Grants: define on the page, listed by the page and the API, a county's roll.
        let (s, _) = post_page(&t, "/payments/grants", &gen_,
            "name=%E6%98%A5%E8%8A%82%E8%A1%A5%E8%B4%B4&region_code=130110&per=household&amount=0.001&as_of=2020-01-20&programmes=dibao").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = post_page(&t, "/payments/grants", &gen_,
            "name=%E6%98%A5%E8%8A%82%E8%A1%A5%E8%B4%B4&region_code=130110&per=household&amount=500&as_of=2020-01-20&programmes=dibao").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, grants) = t.get("/api/v1/payments/grants", &gen_tok).await;
        assert_eq!((s, grants.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{grants}");
        let gid = grants[0]["id"].as_i64().expect("grant id");
        let (_, html) = page(&t, "/payments/grants", &gen_).await;
        assert!(html.contains("春节补贴") && html.contains("500.00"));
        let (s, h, _) = t.raw_form("POST", &format!("/payments/grants/{gid}/rolls"), Some(&gen_), "county=130110&pay_date=").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(&t, &location(&h), &gen_).await;
        assert!(html.contains("id=\"roll-total\">1000.00<"), "two persons at 500: {html}");

        // Prices (the province records them): an index, a second one for the month refused in
        // Chinese, why each month did or did not trigger; a county sees its province's.
        let prov = web_login(&t, "pp_prov").await;
        let (s, _) = post_page(&t, "/payments/prices/indices", &prov, "region_code=13&month=2020-01&cpi=5.4&food_cpi=20.6").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, html) = post_page(&t, "/payments/prices/indices", &prov, "region_code=13&month=2020-01&cpi=5.0&food_cpi=2").await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(html.contains("不能重复录入"), "{html}");
        let (s, html) = post_page(&t, "/payments/prices/rule", &prov, "province=13&cpi=4&food_cpi=6&rounding=jiao&minimum=").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "higher than national: {html}");
        let (s, _) = post_page(&t, "/payments/prices/indices", &prov, "region_code=13&month=2020-03&cpi=1.0&food_cpi=2.0").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(&t, "/payments/prices", &prov).await;
        assert!(html.contains("id=\"price-chart\"") && html.contains("已触发") && html.contains("未触发"), "{html}");
        let (s, html) = post_page(&t, "/payments/prices/subsidy", &prov, "county=130110&month=2020-03&multiplier=1&pay_date=").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("id=\"subsidy-outcome\"") && html.contains("未触发"), "{html}");
        let (s, list) = t.get("/api/v1/payments/price-indices", &prov_tok).await;
        assert_eq!((s, list.as_array().map(Vec::len)), (StatusCode::OK, Some(2)));
        let (s, list) = t.get("/api/v1/payments/price-indices", &gen_tok).await;
        assert_eq!((s, list.as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "the county sees its province's");
        let (s, list) = t.get("/api/v1/payments/price-rules", &prov_tok).await;
        assert_eq!((s, list.as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
    })
    .await;
}
