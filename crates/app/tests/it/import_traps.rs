//! Roster import without traps (issue 14 item 11): the village column recognised by its usual
//! headers and placed by name (short forms, shared names refused), the category column into
//! care groups, region codes unmasked in the preview, the page asking before every row lands
//! on the import's region, and the rejected-rows file carrying the original rows — downloaded,
//! fixed and uploaded again, the rows import — on both backends.

use std::io::Cursor;

use axum::http::StatusCode;
use backstop_app::people::import::{Record, RowSource};
use backstop_app::people::xlsx;

use crate::imports::{api_import, page, post_multipart, wait_job};
use crate::support::{T, audit_count, cid, count, each_backend, running_memberships};

const V1: &str = "130110100001";
const V2: &str = "130110100002";
const V3: &str = "130110100003";

/// Every non-empty row of the first sheet of a workbook, as texts.
fn sheet_rows(data: &[u8]) -> Vec<Vec<String>> {
    let mut book =
        xlsx::Book::open(Cursor::new(data.to_vec()), xlsx::Limits::default()).expect("xlsx");
    let mut sheet = book.rows().expect("sheet");
    let mut out = Vec::new();
    let mut rec = Record::default();
    while sheet.next_record(&mut rec).expect("row") {
        if rec.texts().any(|c| !c.trim().is_empty()) {
            out.push(rec.texts().map(str::to_string).collect());
        }
    }
    out
}

#[tokio::test]
async fn village_column_categories_and_rejected_rows_fixed_and_uploaded_again() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let token = t.user("tr_off", &["official"], "130110").await;
        let (a, b, c, d) = (
            cid("130110", "19800101", 71),
            cid("130110", "19800202", 72),
            cid("130110", "19800303", 73),
            cid("130110", "19800404", 74),
        );
        let e = cid("130110", "19800505", 75);
        // The same number with a wrong check character.
        let bad_e = format!("{}{}", &e[..17], if e.ends_with('0') { "1" } else { "0" });
        let csv = format!(
            "身份证号,姓名,所属社区,人员类别,备注\n\
             {a},张一,旱码头社区,低保,130110100001\n\
             {b},张二,镇宁,特困（分散供养）、低保,\n\
             {c},张三,西营村,,\n\
             {d},张四,旱码头社区居民委员会,富户,\n\
             {bad_e},张五,南苑社区,,\n"
        );
        let (s, j) = api_import(&t, &token, &[("region", "130110"), ("good_rows", "true")], "村.csv", csv.as_bytes()).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{j}");
        let id = j["id"].as_i64().expect("id");
        let job = wait_job(&t, &token, id).await;
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!((job["imported"].as_i64(), job["rejected"].as_i64()), (Some(2), Some(3)), "{job}");
        let region_of = |name: &'static str| {
            let t = &t;
            async move {
                sqlx::query_scalar::<_, String>("SELECT region_code FROM persons WHERE name = $1")
                    .bind(name)
                    .fetch_one(t.state.db.pool())
                    .await
                    .expect("person")
            }
        };
        assert_eq!(region_of("张一").await, V1, "placed by the village name");
        assert_eq!(region_of("张二").await, V2, "by its short form");
        let cats = running_memberships(&t).await;
        let want = [("张一", "dibao"), ("张二", "dibao"), ("张二", "tekun_dispersed")];
        assert_eq!(cats, want.iter().map(|(n, c)| (n.to_string(), c.to_string())).collect::<Vec<_>>());
        let reasons: Vec<String> = job["issues"].as_array().expect("issues").iter().map(|i| i["reason"].as_str().unwrap_or("").to_string()).collect();
        assert!(reasons.iter().any(|r| r.contains("西营村") && r.contains("不在导入区划")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("富户")), "{reasons:?}");
        // The API report never carries the full numbers; they are sealed at rest.
        assert!(!job.to_string().contains(&c), "{job}");
        let clear = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM person_import_jobs WHERE issues LIKE '%{}%'", &c[6..14]);
        assert_eq!(count(&t, &clear).await, 0);

        // The rejected rows as uploaded, with the reason: download, fix, upload again.
        let (s, h, file) = {
            let req = axum::http::Request::builder()
                .uri(format!("/api/v1/persons/imports/{id}/rejects.xlsx"))
                .header(axum::http::header::HOST, "backstop.test")
                .header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .expect("request");
            t.send(req).await
        };
        assert_eq!(s, StatusCode::OK);
        assert!(h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").contains("spreadsheetml"));
        let rows = sheet_rows(&file);
        let head = rows.iter().position(|r| r.iter().any(|c| c == "身份证号")).expect("header row");
        assert_eq!(rows[head], ["原因", "原行号", "身份证号", "姓名", "所属社区", "人员类别", "备注"]);
        let data = &rows[head + 1..];
        assert_eq!(data.len(), 3, "{data:?}");
        assert!(data.iter().any(|r| r[2] == c && r[4] == "西营村"), "original cells: {data:?}");
        assert!(data.iter().any(|r| r[2] == bad_e), "{data:?}");
        // Fix the three rows in the downloaded sheet and upload it again, as it is.
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (i, row) in rows.iter().enumerate() {
            for (j, cell) in row.iter().enumerate() {
                let v = match cell.as_str() {
                    "西营村" => "南苑社区".to_string(),
                    "富户" => "低保边缘".to_string(),
                    x if x == bad_e => e.clone(),
                    x => x.to_string(),
                };
                ws.write_string(i as u32, j as u16, &v).expect("cell");
            }
        }
        let fixed = wb.save_to_buffer().expect("xlsx");
        let (s, j) = api_import(&t, &token, &[("region", "130110")], "被拒绝的行.xlsx", &fixed).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{j}");
        let job = wait_job(&t, &token, j["id"].as_i64().expect("id")).await;
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!((job["imported"].as_i64(), job["rejected"].as_i64()), (Some(3), Some(0)), "{job}");
        assert_eq!(region_of("张三").await, V3);
        assert_eq!(region_of("张四").await, V1);
        assert_eq!(region_of("张五").await, V3);
        let low = running_memberships(&t).await.into_iter().filter(|(_, c)| c == "low_income").count();
        assert_eq!(low, 1, "低保边缘 into 低收入");
        assert_eq!(audit_count(&t, "person.import_rejects_export").await, 1);

        // A merged row brings its category to the record on file, once.
        let again = format!("身份证号,姓名,村,类别\n{a},张一,旱码头,低保、独居老人\n");
        let (_, j) = api_import(&t, &token, &[("region", "130110")], "again.csv", again.as_bytes()).await;
        let job = wait_job(&t, &token, j["id"].as_i64().expect("id")).await;
        assert_eq!((job["merged"].as_i64(), job["rejected"].as_i64()), (Some(1), Some(0)), "{job}");
        let mine = "SELECT CAST(COUNT(*) AS BIGINT) FROM care_memberships m JOIN persons p ON p.id = m.person_id WHERE p.name = '张一'";
        assert_eq!(count(&t, mine).await, 2, "低保 not twice, 独居老人 added");
        assert_eq!(audit_count(&t, "care.membership.create").await, 1);
    })
    .await;
}

#[tokio::test]
async fn preview_shows_region_codes_and_asks_when_no_village_column() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let token = t.user("tp_off", &["official"], "130110").await;
        let cookie = format!("backstop={token}");
        let a = cid("130110", "19800101", 81);
        let upload = |csv: String| {
            let (t, cookie) = (&t, cookie.clone());
            async move {
                let (s, h, _) = post_multipart(
                    t,
                    "/persons/import",
                    None,
                    Some(&cookie),
                    &[],
                    Some(("r.csv", csv.as_bytes())),
                )
                .await;
                assert_eq!(s, StatusCode::SEE_OTHER);
                let loc = h
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                loc.rsplit('/')
                    .next()
                    .and_then(|x| x.parse::<i64>().ok())
                    .expect("job id")
            }
        };
        // Start an upload's import with the columns and region of `form`: status and body.
        let start = |id: i64, form: &'static str| {
            let (t, cookie) = (&t, cookie.clone());
            async move {
                let (s, _, body) = t
                    .raw_form(
                        "POST",
                        &format!("/persons/import/{id}/start"),
                        Some(&cookie),
                        form,
                    )
                    .await;
                (s, String::from_utf8_lossy(&body).into_owned())
            }
        };
        // A village column by a usual header: read as the village, no question asked.
        let id = upload(format!(
            "身份证号,姓名,村（社区）,区划\n{a},王一,旱码头社区,{V1}\n"
        ))
        .await;
        let (s, html) = page(&t, &format!("/persons/import/{id}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("<option value=\"village\" selected>"),
            "{html}"
        );
        assert!(!html.contains("import-no-place"), "{html}");
        assert!(
            html.contains(&format!("<td>{V1}</td>")),
            "region code unmasked: {html}"
        );
        let _ = t
            .raw_form(
                "POST",
                &format!("/persons/import/{id}/discard"),
                Some(&cookie),
                "",
            )
            .await;

        // No village nor region column: the page says so and asks before starting.
        let id = upload(format!("身份证号,姓名,住处\n{a},王一,旱码头社区\n")).await;
        let (s, html) = page(&t, &format!("/persons/import/{id}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("import-no-place")
                && html.contains("没有识别出“村（社区）”或“区划代码”列"),
            "{html}"
        );
        let (s, body) = start(
            id,
            "col_0=id_number&col_1=name&col_2=ignore&region=130110&mode=all",
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.contains("全部登记到导入区划"), "{body}");
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM persons").await,
            0
        );
        // Choosing the village for the column imports each person into it.
        let (s, _) = start(
            id,
            "col_0=id_number&col_1=name&col_2=village&region=130110&mode=all",
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let job = wait_job(&t, &token, id).await;
        assert_eq!(job["status"], "done", "{job}");
        let code: String =
            sqlx::query_scalar("SELECT region_code FROM persons WHERE name = '王一'")
                .fetch_one(t.state.db.pool())
                .await
                .expect("person");
        assert_eq!(code, V1);
    })
    .await;
}

/// Issue 14 item 1: households from the roster — by household number (户号) with the
/// relationship to the head, by address when asked, and a later file joining a numbered
/// household already on record.
#[tokio::test]
async fn households_from_the_roster_by_number_and_by_address() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let token = t.user("th_off", &["official"], "130110").await;
        let id = |seq: u32| cid("130110", "19900101", seq);
        let hh = |name: &'static str| {
            let t = &t;
            async move {
                sqlx::query_as::<_, (Option<i64>, String)>(
                    "SELECT household_id, relationship FROM persons WHERE name = $1",
                )
                .bind(name)
                .fetch_one(t.state.db.pool())
                .await
                .expect("person")
            }
        };
        let csv = format!(
            "身份证号,姓名,村,户号,与户主关系,现住址\n\
             {},李一,旱码头,H001,户主,一巷1号\n{},李二,旱码头,H001,配偶,一巷1号\n\
             {},李三,镇宁,H002,户主,二巷2号\n{},李四,镇宁,H002,户主,二巷2号\n\
             {},李五,旱码头,,,一巷9号\n{},李七,旱码头,H001,邻居,一巷1号\n",
            id(1), id(2), id(3), id(4), id(5), id(6)
        );
        let (s, j) = api_import(&t, &token, &[("region", "130110"), ("good_rows", "1")], "户.csv", csv.as_bytes()).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{j}");
        let job = wait_job(&t, &token, j["id"].as_i64().expect("id")).await;
        assert_eq!((job["imported"].as_i64(), job["rejected"].as_i64()), (Some(5), Some(1)), "{job}");
        assert!(job.to_string().contains("邻居"), "bad relationship named: {job}");
        assert!(job.to_string().contains("同一户已有户主"), "second head warned: {job}");
        let (h1, r1) = hh("李一").await;
        let (h2, r2) = hh("李二").await;
        assert!(h1.is_some() && h1 == h2, "one household by number");
        assert_eq!((r1.as_str(), r2.as_str()), ("head", "spouse"));
        let (h3, r3) = hh("李三").await;
        let (h4, r4) = hh("李四").await;
        assert!(h3.is_some() && h3 == h4 && h3 != h1);
        assert_eq!((r3.as_str(), r4.as_str()), ("head", ""), "one head per household");
        assert_eq!(hh("李五").await.0, None, "no number, no grouping asked");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM households").await, 2);
        let (s, h) = t.get(&format!("/api/v1/households/{}", h1.unwrap_or(0)), &token).await;
        assert_eq!(s, StatusCode::OK, "{h}");
        assert_eq!(h["members"].as_array().map(Vec::len), Some(2), "{h}");
        assert_eq!(h["region_code"], V1);
        assert_eq!(h["address"], "一巷1号", "a numbered household takes its first member's address");
        assert_eq!(audit_count(&t, "household.create").await, 2);

        // One household per address, when asked (no household column).
        let csv = format!(
            "身份证号,姓名,村,与户主关系,现住址\n{},赵一,南苑,户主,三巷3号\n{},赵二,南苑,子女,三巷3号\n{},赵三,南苑,,四巷4号\n",
            id(11), id(12), id(13)
        );
        let (_, j) = api_import(&t, &token, &[("region", "130110"), ("households", "address")], "址.csv", csv.as_bytes()).await;
        let job = wait_job(&t, &token, j["id"].as_i64().expect("id")).await;
        assert_eq!((job["imported"].as_i64(), job["rejected"].as_i64()), (Some(3), Some(0)), "{job}");
        let (z1, _) = hh("赵一").await;
        let (z2, zr2) = hh("赵二").await;
        let (z3, _) = hh("赵三").await;
        assert!(z1.is_some() && z1 == z2 && z3.is_some() && z3 != z1);
        assert_eq!(zr2, "child");
        let addr: String = sqlx::query_scalar("SELECT address FROM households WHERE id = $1")
            .bind(z1.unwrap_or(0))
            .fetch_one(t.state.db.pool())
            .await
            .expect("household");
        assert_eq!(addr, "三巷3号");

        // A later roster with a number on record joins that household.
        let csv = format!("身份证号,姓名,村,户号,与户主关系\n{},李六,旱码头,H001,子女\n", id(21));
        let (_, j) = api_import(&t, &token, &[("region", "130110")], "补.csv", csv.as_bytes()).await;
        let job = wait_job(&t, &token, j["id"].as_i64().expect("id")).await;
        assert_eq!(job["imported"].as_i64(), Some(1), "{job}");
        assert_eq!(hh("李六").await, (h1, "child".to_string()));
        // A person on file without a household joins the one the row names (merged).
        let csv = format!("身份证号,姓名,村,户号,与户主关系\n{},李五,旱码头,H001,子女\n", id(5));
        let (_, j) = api_import(&t, &token, &[("region", "130110")], "并.csv", csv.as_bytes()).await;
        let job = wait_job(&t, &token, j["id"].as_i64().expect("id")).await;
        assert_eq!(job["merged"].as_i64(), Some(1), "{job}");
        assert_eq!(hh("李五").await, (h1, "child".to_string()));
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM households").await, 4);
        assert_eq!(audit_count(&t, "household.add_member").await, 2);
    })
    .await;
}
