//! The bulk-entry pages (issue 18 item 2): a charity's staff download the template, upload a
//! sheet (here CSV; .xlsx in donation_needs::bulk_entry_all_or_nothing) for a campaign and
//! follow the import on its job page, whose progress fragment is polled; refused rows are
//! listed with their row number, column and Chinese reason and nothing is written; a good
//! sheet writes its receipts; the same sheet again skips them. Scope: a charity of another
//! county gets *not found* for the campaign (page and API) and for the job; an official
//! (no `donations.manage`) is forbidden.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::donations::{new_campaign, receiver};
use crate::support::{T, count, each_backend, org_user, page, web_login};

const A: &str = "130110";
const B: &str = "130111";
const BOUNDARY: &str = "donImportBoundary42";

fn csv(rows: &[&str]) -> String {
    let mut out = backstop_app::donations::import::COLUMNS.join(",");
    for r in rows {
        out.push('\n');
        out.push_str(r);
    }
    out.push('\n');
    out
}

/// POST the sheet to the upload page as a browser would: the status and `Location`.
async fn upload(t: &T, campaign: i64, cookie: &str, data: &str) -> (StatusCode, String, String) {
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"接收登记.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{data}\r\n--{BOUNDARY}--\r\n"
    );
    let req = Request::builder()
        .method("POST")
        .uri(format!("/donations/campaigns/{campaign}/import"))
        .header(header::HOST, "backstop.test")
        .header(header::ORIGIN, "http://backstop.test")
        .header(header::COOKIE, cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .expect("request");
    let (s, h, b) = t.send(req).await;
    let loc = h
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (s, loc, String::from_utf8_lossy(&b).to_string())
}

/// Poll the job's progress fragment until it has finished; its final HTML.
async fn finished(t: &T, job: &str, cookie: &str) -> String {
    for _ in 0..400 {
        let (s, html) = page(t, &format!("{job}/progress"), cookie).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        if !html.contains("data-status=\"running\"") {
            assert!(!html.contains("hx-get"), "no polling once finished: {html}");
            return html;
        }
        assert!(html.contains("hx-get=\"{job}/progress\"".replace("{job}", job).as_str()));
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the import did not finish");
}

#[tokio::test]
async fn bulk_entry_page_shows_progress_row_errors_and_is_scoped() {
    each_backend(|t| async move {
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], A).await;
        let off_b = t.user("off.b", &["official"], B).await;
        let mut orgs = Vec::new();
        for (who, name, region) in [(&off, "鹿泉区红十字会", A), (&off_b, "栾城区慈善会", B)] {
            let (s, o) = t
                .post(
                    "/api/v1/orgs",
                    who,
                    json!({"name": name, "kind": "charity", "region_code": region}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{o}");
            orgs.push(o["id"].as_i64().expect("org"));
        }
        let fin = org_user(&t, "fin.a", &["charity_finance"], A, orgs[0]).await;
        let fin_b = org_user(&t, "fin.b", &["charity_finance"], B, orgs[1]).await;
        let c = new_campaign(&t, &fin, "2026-06-30", true).await;
        for who in [&fin, &fin_b] {
            receiver(&t, who, json!({"credit_code": "53130100MJ0000000X", "tax_free_imports": true,
                        "licence_no": "冀民函〔2026〕5号"})).await;
        }
        let cookie = web_login(&t, "fin.a").await;

        // The campaign page links to the upload page; it offers the template and the form.
        let (s, html) = page(&t, &format!("/donations/campaigns/{c}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains(&format!("/donations/campaigns/{c}/import")), "link");
        let (s, html) = page(&t, &format!("/donations/campaigns/{c}/import"), &cookie).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(html.contains("/donations/import-template.xlsx") && html.contains("id=\"import-upload\""));
        let (s, h, tpl) = t
            .raw_form("GET", "/donations/import-template.xlsx", Some(&cookie), "")
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(tpl.starts_with(b"PK"), "an .xlsx");
        assert!(
            h.get(header::CONTENT_DISPOSITION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains(".xlsx"))
        );

        // Bad rows: each listed with its row, column and reason; nothing written.
        let bad = csv(&[
            "2026-03-01,B-1,,单位,某公司,是,,医用防护口罩（N95）,KN95,100,只,3.50,2028-12-31,一号仓库,",
            "2026-03-01,B-2,,单位,某公司,是,,火箭,,5,,1,,,",
            "2026-03-01,B-3,,匿名,,,,医用外科口罩,,-5,,1,,,",
        ]);
        let (s, job, body) = upload(&t, c, &cookie, &bad).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
        assert!(job.starts_with("/donations/imports/"), "{job}");
        let (s, html) = page(&t, &job, &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("id=\"import-progress\"") && html.contains("id=\"import-bar\""), "{html}");
        let html = finished(&t, &job, &cookie).await;
        assert!(html.contains("data-status=\"rejected\"") && html.contains("未写入任何记录"), "{html}");
        assert!(html.contains("<td data-label=\"行号\">3</td>"), "row 3 (火箭): {html}");
        assert!(html.contains("<td data-label=\"行号\">4</td>"), "row 4 (-5): {html}");
        assert!(!html.contains("<td data-label=\"行号\">2</td>"), "row 2 is good: {html}");
        assert!(html.contains("物资类别") && html.contains("数量应为正整数"), "{html}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts").await, 0);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries").await, 0);

        // A good sheet: two receipts (one of money and goods over two rows).
        let good = csv(&[
            "2026-03-01,G-1,冀捐票 001,单位,某某医疗器械公司,是,500.00,,,,,,,,",
            "2026-03-01,G-1,,,,,,医用防护口罩（N95）,KN95,1000,,3.50,2028-12-31,一号仓库,",
            "2026-03-02,G-2,,个人,王五,否,,protective_suit,,20,件,45.00,,,一线医护",
            // Money in US dollars at the rate used; tax-free imported goods for a region.
            "2026-03-02,G-3,,单位,海外华侨联合会,是,1000.00,,,,,,,,,USD,7.1000,,130110100,",
            "2026-03-02,G-3,,,,,,ventilator,X5,2,台,80000.00,,,,,,是,,",
        ]);
        let (s, job2, _) = upload(&t, c, &cookie, &good).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let html = finished(&t, &job2, &cookie).await;
        assert!(html.contains("data-status=\"done\"") && html.contains("写入 3 张收据"), "{html}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts").await, 3);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_lines").await, 5);
        // 1,000 USD at 7.1 = 7,100 yuan; the ventilators tax-free; directed to 获鹿镇.
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts WHERE receipt_no = 'G-3' \
            AND money_fen = 710000 AND directed_kind = 'region' AND directed_region = '130110100'").await, 1);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_lines WHERE category = 'ventilator' \
            AND tax_free_import = 1").await, 1);
        // Again: skipped by receipt number, nothing doubled.
        let (_, job3, _) = upload(&t, c, &cookie, &good).await;
        let html = finished(&t, &job3, &cookie).await;
        assert!(html.contains("写入 0 张收据") && html.contains("G-1") && html.contains("G-2"), "{html}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts").await, 3);
        // The upload page lists the user's imports.
        let (_, html) = page(&t, &format!("/donations/campaigns/{c}/import"), &cookie).await;
        assert!(html.contains(&job2) && html.contains("已完成"), "{html}");

        // No file: the form again with a Chinese reason.
        let (s, _, html) = upload(&t, c, &cookie, "").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("请选择要导入的文件"), "{html}");

        // Scope: county B's charity does not see A's campaign (page and API) nor the job.
        let cookie_b = web_login(&t, "fin.b").await;
        let (s, _) = page(&t, &format!("/donations/campaigns/{c}/import"), &cookie_b).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _, _) = upload(&t, c, &cookie_b, &good).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = page(&t, &job2, &cookie_b).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = page(&t, &format!("{job2}/progress"), &cookie_b).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let req = Request::builder()
            .method("POST")
            .uri(format!("/api/v1/donations/campaigns/{c}/import"))
            .header(header::HOST, "backstop.test")
            .header(header::AUTHORIZATION, format!("Bearer {fin_b}"))
            .header(header::CONTENT_TYPE, "text/csv")
            .body(Body::from(good.clone()))
            .expect("request");
        let (s, _, _) = t.send(req).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "another county's campaign is not found");
        // An official reads the ledger but does not enter receipts.
        let cookie_off = web_login(&t, "off.a").await;
        let (s, _) = page(&t, &format!("/donations/campaigns/{c}/import"), &cookie_off).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, _) = upload(&t, c, &cookie_off, &good).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = page(&t, &job2, &cookie_off).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts").await, 3);
    })
    .await;
}
