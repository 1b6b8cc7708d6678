//! Roster import from uploads (issue 4, item 3): XLSX end to end (cells, an ID stored as a
//! number rejected with its line, date serials), a zip bomb refused with nothing imported, a
//! too-large upload refused in Chinese, wrong columns, a GBK CSV through the upload page with
//! masked preview, a mapping saved as a template and offered again, the web flow up to the
//! rejects.xlsx download, jobs private to their owner, the API flow, and the encrypted
//! upload deleted afterwards — on both backends.

use std::io::{Cursor, Read, Write};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use backstop_app::Config;
use backstop_app::kernel::actor::Actor;
use backstop_app::people::import::{ImportError, ImportOptions, Progress, import_file};
use serde_json::{Value, json};

use crate::support::{T, cid, each_backend, each_backend_with};

const V1: &str = "130110100001";
const V2: &str = "130110100002";

pub(crate) async fn person_count(t: &T) -> i64 {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM persons")
        .fetch_one(t.state.db.pool())
        .await
        .expect("count")
}

/// A multipart body: text fields and an optional file field named `file`.
pub(crate) fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----backstopTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (k, v) in fields {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        )
        .expect("write");
    }
    if let Some((name, data)) = file {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .expect("write");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").expect("write");
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// POST a multipart body, as an API client (`token`) or a browser (`cookie`).
pub(crate) async fn post_multipart(
    t: &T,
    path: &str,
    token: Option<&str>,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let (ctype, body) = multipart(fields, file);
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::HOST, "backstop.test")
        .header(header::CONTENT_TYPE, ctype)
        .header(header::CONTENT_LENGTH, body.len());
    if let Some(tok) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {tok}"));
    }
    if let Some(c) = cookie {
        req = req
            .header(header::COOKIE, c)
            .header(header::ORIGIN, "http://backstop.test");
    }
    t.send(req.body(Body::from(body)).expect("request")).await
}

pub(crate) async fn page(t: &T, path: &str, cookie: &str) -> (StatusCode, String) {
    let (s, _, b) = t.raw_form("GET", path, Some(cookie), "").await;
    (s, String::from_utf8_lossy(&b).into_owned())
}

/// Poll a job through the API until it is no longer running.
pub(crate) async fn wait_job(t: &T, token: &str, id: i64) -> Value {
    for _ in 0..1200 {
        let (s, b) = t.get(&format!("/api/v1/persons/imports/{id}"), token).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        if b["status"] != "running" {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

pub(crate) async fn api_import(
    t: &T,
    token: &str,
    fields: &[(&str, &str)],
    name: &str,
    data: &[u8],
) -> (StatusCode, Value) {
    let (s, _, b) = post_multipart(
        t,
        "/api/v1/persons/imports",
        Some(token),
        None,
        fields,
        Some((name, data)),
    )
    .await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn uploads_left(t: &T) -> usize {
    let dir = backstop_app::people::import_pages::upload_dir(&t.state);
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// A roster workbook: a title row, the header on row 2, then data rows.
fn roster_xlsx(rows: &[(&str, Cell, Cell, Cell)]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "低保花名册").expect("title");
    for (c, h) in ["姓名", "身份证号", "出生日期", "联系电话", "区划代码"]
        .iter()
        .enumerate()
    {
        ws.write_string(1, c as u16, *h).expect("header");
    }
    for (i, (name, id, birth, phone)) in rows.iter().enumerate() {
        let r = 2 + i as u32;
        ws.write_string(r, 0, *name).expect("name");
        for (c, cell) in [(1u16, id), (2, birth), (3, phone)] {
            match cell {
                Cell::Text(s) => ws.write_string(r, c, s.as_str()).map(|_| ()),
                Cell::Number(n) => ws.write_number(r, c, *n).map(|_| ()),
                Cell::Empty => Ok(()),
            }
            .expect("cell");
        }
        ws.write_string(r, 4, V1).expect("region");
    }
    wb.save_to_buffer().expect("xlsx")
}

enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

#[tokio::test]
async fn xlsx_import_end_to_end_with_numbers_and_dates() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let a = cid("130110", "19800101", 11);
        let b = cid("130110", "19750615", 22);
        let c = cid("130110", "19900202", 31);
        let file = roster_xlsx(&[
            // Excel date serial 29221 = 1980-01-01; phone stored as a number.
            (
                "甲",
                Cell::Text(a.clone()),
                Cell::Number(29221.0),
                Cell::Number(13812345678.0),
            ),
            // The ID stored as a number: precision lost, rejected on its row (4).
            (
                "乙",
                Cell::Number(b.parse::<f64>().unwrap_or(0.0)),
                Cell::Empty,
                Cell::Empty,
            ),
            (
                "丙",
                Cell::Text(c.clone()),
                Cell::Text("1990-02-02".into()),
                Cell::Empty,
            ),
        ]);
        let opts = ImportOptions {
            good_rows: true,
            ..ImportOptions::default()
        };
        let r = import_file(
            &t.state,
            &Actor::operator(),
            Cursor::new(file.clone()),
            &opts,
            &mut |_| {},
        )
        .await
        .expect("import");
        assert_eq!(r.encoding, "xlsx");
        assert_eq!((r.rows, r.imported, r.rejected), (3, 2, 1), "{r:?}");
        assert!(r.committed);
        assert_eq!(r.rejects[0].line, 4, "{:?}", r.rejects);
        assert!(
            r.rejects[0].reason.contains("文本"),
            "{}",
            r.rejects[0].reason
        );
        assert!(!r.rejects[0].id_masked.is_empty());
        let official = t.user("x_off", &["official"], "130110").await;
        let (s, p) = t
            .post("/api/v1/persons/search", &official, json!({"id_number": a}))
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(p["birth_year"], 1980);
        assert_eq!(p["phone_masked"], "138****5678");
        assert_eq!(p["region_code"], V1);
        // All or nothing: the same file without --good-rows changes nothing.
        let before = person_count(&t).await;
        let r = import_file(
            &t.state,
            &Actor::operator(),
            Cursor::new(file),
            &ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .expect("import");
        assert!(!r.committed);
        assert_eq!(person_count(&t).await, before);
    })
    .await;
}

#[tokio::test]
async fn zip_bomb_and_too_large_uploads_are_refused() {
    let keep = tempfile::tempdir().expect("dir");
    let config = Config {
        max_upload_bytes: 2 * 1024 * 1024,
        upload_dir: Some(keep.path().to_path_buf()),
        ..Config::default()
    };
    each_backend_with(config, |t: T| async move {
        t.import_fixture().await;
        let token = t.user("b_off", &["official"], "130110").await;
        // A 300 MB sheet of one repeated byte, a few hundred KB compressed.
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(false);
        z.start_file("xl/worksheets/sheet1.xml", opts)
            .expect("entry");
        let block = vec![b' '; 1024 * 1024];
        for _ in 0..300 {
            z.write_all(&block).expect("write");
        }
        let bomb = z.finish().expect("zip").into_inner();
        assert!(bomb.len() < 2 * 1024 * 1024, "bomb is {} bytes", bomb.len());
        let before = person_count(&t).await;
        let (s, b) = api_import(&t, &token, &[("region", V1)], "bomb.xlsx", &bomb).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        let job = wait_job(&t, &token, b["id"].as_i64().expect("id")).await;
        assert_eq!(job["status"], "failed", "{job}");
        assert_eq!(job["error_code"], "xlsx_unsafe", "{job}");
        assert!(
            job["error"].as_str().unwrap_or("").contains("已拒绝"),
            "{job}"
        );
        assert_eq!(person_count(&t).await, before);

        // Over the configured upload limit: a clear Chinese 413, never a 500, nothing kept.
        let big = vec![b'a'; 3 * 1024 * 1024];
        let (s, b) = api_import(&t, &token, &[], "big.csv", &big).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
        assert_eq!(b["code"], "file_too_large");
        assert!(
            b["message"].as_str().unwrap_or("").contains("文件过大"),
            "{b}"
        );
        let cookie = format!("backstop={token}");
        let (s, _, body) = post_multipart(
            &t,
            "/persons/import",
            None,
            Some(&cookie),
            &[],
            Some(("big.csv", &big)),
        )
        .await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains("文件过大") && html.contains("2 MB"), "{html}");
        // Just over the limit without a Content-Length shortcut: refused while streaming.
        let near = vec![b'a'; 2 * 1024 * 1024 + 10];
        let (s, _) = api_import(&t, &token, &[], "near.csv", &near).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(uploads_left(&t), 0, "no upload left behind");
    })
    .await;
}

#[tokio::test]
async fn api_flow_wrong_columns_and_privacy() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let token = t.user("a_off", &["official"], "130110").await;
        let other = t.user("a_other", &["official"], "130110").await;
        let worker = t.user("a_insp", &["inspector"], "130110").await;
        let a = cid("130110", "19600101", 41);
        let csv = format!("证件号,名字,备注\n{a},赵大,x\n1234,钱二,y\n");
        // Unrecognised columns: the job fails with the columns found and needed.
        let (s, b) = api_import(&t, &token, &[("region", V1)], "r.csv", csv.as_bytes()).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        let id = b["id"].as_i64().expect("id");
        let job = wait_job(&t, &token, id).await;
        assert_eq!(job["status"], "failed");
        assert_eq!(job["error_code"], "bad_columns");
        let msg = job["error"].as_str().unwrap_or("");
        assert!(
            msg.contains("证件号、名字、备注") && msg.contains("身份证号"),
            "{msg}"
        );

        // With a mapping: imported in the background, with the bad row's line.
        let mapping = json!({"证件号": "id_number", "名字": "name", "备注": "ignore"}).to_string();
        let (s, b) = api_import(
            &t,
            &token,
            &[("region", V2), ("good_rows", "true"), ("mapping", &mapping)],
            "r.csv",
            csv.as_bytes(),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        let id = b["id"].as_i64().expect("id");
        let job = wait_job(&t, &token, id).await;
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!(
            (
                job["rows"].as_i64(),
                job["imported"].as_i64(),
                job["rejected"].as_i64()
            ),
            (Some(2), Some(1), Some(1))
        );
        assert_eq!(job["issues"][0]["line"], 3);
        assert_eq!(job["issues"][0]["kind"], "reject");
        assert!(
            job["issues"][0]["reason"]
                .as_str()
                .unwrap_or("")
                .contains("身份证号")
        );
        // The owner's job only: others get 404, roles without persons.write 403.
        let (s, _) = t
            .get(&format!("/api/v1/persons/imports/{id}"), &other)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t
            .get(&format!("/api/v1/persons/imports/{id}"), &worker)
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, _) = t
            .raw(
                "GET",
                &format!("/api/v1/persons/imports/{id}/rejects.xlsx"),
                Some(&other),
                None,
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, b) = api_import(&t, &worker, &[("region", V1)], "r.csv", csv.as_bytes()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        // Bad settings are refused at once.
        let (s, b) = api_import(&t, &token, &[("region", "130111")], "r.csv", csv.as_bytes()).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "outside scope: {b}");
        let (s, b) = api_import(
            &t,
            &token,
            &[("mapping", "{\"a\": \"nope\"}")],
            "r.csv",
            csv.as_bytes(),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let (s, _, _) = post_multipart(
            &t,
            "/api/v1/persons/imports",
            Some(&token),
            None,
            &[("region", V1)],
            None,
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        // One summary audit entry per job, none with the plaintext number.
        let entries: Vec<(String, String)> = sqlx::query_as(
            "SELECT outcome, detail FROM audit_log WHERE action = 'person.import' ORDER BY id",
        )
        .fetch_all(t.state.db.pool())
        .await
        .expect("audit");
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0].0, "failure");
        assert_eq!(entries[1].0, "success");
        assert!(entries.iter().all(|e| !e.1.contains(&a)));
        // The OpenAPI document lists the routes.
        let (_, doc) = t.call("GET", "/api/v1/openapi.json", None, None).await;
        for p in ["/api/v1/persons/imports", "/api/v1/persons/imports/{id}"] {
            assert!(doc["paths"][p].is_object(), "openapi lacks {p}");
        }
    })
    .await;
}

/// Read the text of a cell-ish search: all `<t>` and `<v>` contents of a worksheet.
fn sheet_text(xlsx: &[u8]) -> String {
    let mut z = zip::ZipArchive::new(Cursor::new(xlsx.to_vec())).expect("rejects.xlsx is a zip");
    let mut out = String::new();
    for name in ["xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"] {
        if let Ok(mut f) = z.by_name(name) {
            f.read_to_string(&mut out).expect("read");
        }
    }
    out
}

#[tokio::test]
async fn web_flow_gbk_preview_template_progress_and_rejects() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let token = t.user("w_off", &["official"], "130110").await;
        let cookie = format!("backstop={token}");
        let (s, html) = page(&t, "/persons", &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("/persons/import"), "link on the persons list");
        let (s, html) = page(&t, "/persons/import", &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("multipart/form-data"));

        let good = cid("130110", "19700303", 51);
        let good2 = cid("130110", "19700404", 61);
        let text = format!(
            "编号,名字,公民证件,手机\n1,孙一,{good},13900001111\n2,李二,110105194912310021,\n3,周三,{good2},\n"
        );
        let gbk = encoding_rs::GBK.encode(&text).0.into_owned();
        let upload = |data: Vec<u8>| {
            let t = &t;
            let cookie = cookie.clone();
            async move {
                let (s, h, _) = post_multipart(t, "/persons/import", None, Some(&cookie), &[], Some(("花名册.csv", &data))).await;
                assert_eq!(s, StatusCode::SEE_OTHER);
                let loc = h.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let id: i64 = loc.rsplit('/').next().and_then(|x| x.parse().ok()).expect("job id");
                id
            }
        };
        let id = upload(gbk.clone()).await;
        assert_eq!(uploads_left_of(&t, id).await, 1, "the encrypted upload exists");
        assert!(!file_contains(&t, id, good.as_bytes()).await, "no plaintext at rest");

        // Preview: columns not recognised, IDs and phones masked.
        let (s, html) = page(&t, &format!("/persons/import/{id}"), &cookie).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(html.contains("名字") && html.contains("公民证件"), "{html}");
        assert!(!html.contains(&good), "full ID in the preview");
        assert!(!html.contains("13900001111"), "full phone in the preview");
        assert!(html.contains(&format!("{}****************{}", &good[..1], &good[17..])) || html.contains("130110********"), "{html}");
        assert!(html.contains("139****1111"));
        assert!(html.contains("缺少必需的列"), "column problem shown");

        // Start with a wrong mapping: re-shown with the message, nothing started.
        let (s, _, body) = t
            .raw_form("POST", &format!("/persons/import/{id}/start"), Some(&cookie), "col_0=ignore&col_1=name&col_2=ignore&col_3=phone&region=130110100001&mode=good")
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(String::from_utf8_lossy(&body).contains("身份证号"));

        // Start properly, saving the mapping as a template.
        let form = "col_0=ignore&col_1=name&col_2=id_number&col_3=phone&region=130110100001&confirm_region=1&mode=good&template_name=%E4%BD%8E%E4%BF%9D%E8%8A%B1%E5%90%8D%E5%86%8C";
        let (s, h, _) = t.raw_form("POST", &format!("/persons/import/{id}/start"), Some(&cookie), form).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(h.get("location").and_then(|v| v.to_str().ok()), Some(format!("/persons/import/{id}").as_str()));
        let job = wait_job(&t, &token, id).await;
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!((job["imported"].as_i64(), job["rejected"].as_i64()), (Some(2), Some(1)));
        for _ in 0..100 {
            if uploads_left_of(&t, id).await == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(uploads_left_of(&t, id).await, 0, "upload deleted when the job ended");
        // The progress page and its htmx fragment.
        let (s, html) = page(&t, &format!("/persons/import/{id}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("import-bar") && html.contains("导入完成"), "{html}");
        let (s, frag) = page(&t, &format!("/persons/import/{id}/progress"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(frag.contains("id=\"import-progress\"") && !frag.contains("hx-get"), "finished: polling stops");
        assert!(!frag.contains("<html"));
        assert!(frag.contains("第") || frag.contains("3"));
        // Rejected rows as Excel: a zip with the sheet, the line number and the exporter.
        let (s, h, xlsx) = t.raw_form("GET", &format!("/persons/import/{id}/rejects.xlsx"), Some(&cookie), "").await;
        assert_eq!(s, StatusCode::OK);
        assert!(h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").contains("spreadsheetml"));
        let sheet = sheet_text(&xlsx);
        assert!(sheet.contains("被拒绝的行") && sheet.contains("w_off") && sheet.contains("校验"), "{sheet}");
        assert!(sheet.contains("<v>3</v>"), "line number 3: {sheet}");
        // The rejected row as uploaded (issue 14 item 11: fix it and upload it again); the
        // file is its importer's only (others: 404 below).
        assert!(sheet.contains("110105194912310021") && sheet.contains("李二"), "{sheet}");
        // Another user: 404 on the pages too.
        let other = t.user("w_other", &["official"], "130110").await;
        let ocookie = format!("backstop={other}");
        for p in ["", "/progress", "/rejects.xlsx"] {
            let (s, _) = page(&t, &format!("/persons/import/{id}{p}"), &ocookie).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
        }

        // The same header again: the saved template is offered and applied.
        let id2 = upload(gbk.clone()).await;
        let (s, html) = page(&t, &format!("/persons/import/{id2}"), &cookie).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("已套用模板“低保花名册”"), "{html}");
        assert!(!html.contains("缺少必需的列"), "{html}");
        assert!(html.contains("<option value=\"id_number\" selected>"), "{html}");
        // Abandon it: the file goes.
        let (s, _, _) = t.raw_form("POST", &format!("/persons/import/{id2}/discard"), Some(&cookie), "").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(uploads_left_of(&t, id2).await, 0);
        let (_, b) = t.get(&format!("/api/v1/persons/imports/{id2}"), &token).await;
        assert_eq!(b["status"], "abandoned");
        // An upload left at the preview for over an hour is swept.
        let id3 = upload(gbk).await;
        t.clock.advance(chrono::Duration::hours(2));
        let token = t.login("w_off").await;
        backstop_app::people::import_pages::sweep(&t.state, false).await.expect("sweep");
        let (_, b) = t.get(&format!("/api/v1/persons/imports/{id3}"), &token).await;
        assert_eq!(b["status"], "abandoned");
        assert_eq!(uploads_left_of(&t, id3).await, 0);
    })
    .await;
}

async fn job_token(t: &T, id: i64) -> String {
    sqlx::query_scalar("SELECT token FROM person_import_jobs WHERE id = $1")
        .bind(id)
        .fetch_one(t.state.db.pool())
        .await
        .expect("token")
}

async fn uploads_left_of(t: &T, id: i64) -> usize {
    let token = job_token(t, id).await;
    let dir = backstop_app::people::import_pages::upload_dir(&t.state);
    usize::from(dir.join(format!("{token}.sealed")).exists())
}

async fn file_contains(t: &T, id: i64, needle: &[u8]) -> bool {
    let token = job_token(t, id).await;
    let dir = backstop_app::people::import_pages::upload_dir(&t.state);
    let bytes = std::fs::read(dir.join(format!("{token}.sealed"))).expect("sealed file");
    bytes.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn interrupted_jobs_are_ended_at_start() {
    let keep = tempfile::tempdir().expect("dir");
    let config = Config {
        upload_dir: Some(keep.path().to_path_buf()),
        ..Config::default()
    };
    each_backend_with(config, |t: T| async move {
        t.import_fixture().await;
        let token = t.user("s_off", &["official"], "130110").await;
        let cookie = format!("backstop={token}");
        let (s, h, _) = post_multipart(
            &t,
            "/persons/import",
            None,
            Some(&cookie),
            &[],
            Some(("a.csv", "身份证号,姓名\n".as_bytes())),
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let id: i64 = h
            .get("location")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.rsplit('/').next())
            .and_then(|x| x.parse().ok())
            .expect("id");
        // Pretend the process died while it ran, after its first chunk of 1,000 rows was
        // committed (the chunk wrote these counts into the job row, ADR 0017).
        sqlx::query(
            "UPDATE person_import_jobs SET status = 'running', committed = 1, rows_read = 1000, \
             imported = 990, merged = 10 WHERE id = $1",
        )
        .bind(id)
        .execute(t.state.db.pool())
        .await
        .expect("update");
        let n = backstop_app::people::import_pages::sweep(&t.state, true)
            .await
            .expect("sweep");
        assert!(n >= 1);
        let (_, b) = t
            .get(&format!("/api/v1/persons/imports/{id}"), &token)
            .await;
        assert_eq!(b["status"], "failed");
        assert_eq!(b["error_code"], "interrupted");
        let msg = b["error"].as_str().unwrap_or_default();
        assert!(
            msg.contains("已保存文件前 1000 行（新增 990 人，合并 10 人）")
                && msg.contains("重新导入同一文件"),
            "{msg}"
        );
        assert_eq!(b["imported"], 990, "{b}");
        assert_eq!(uploads_left(&t), 0);
    })
    .await;
}

/// A roster of `n` new persons of village V1 (birth dates from 1960, so no clash with the
/// numbers tests register by hand), the row at `fault` (0-based, if any) named `断点`.
fn chunked_roster(n: u32, fault: Option<u32>) -> Vec<u8> {
    let base = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).expect("date");
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let d = base + chrono::Days::new(u64::from(i / 900));
            let id = cid("130110", &d.format("%Y%m%d").to_string(), i % 900 + 1);
            let name = if Some(i) == fault {
                "断点".to_string()
            } else {
                format!("人员{i}")
            };
            format!("{id},{name},,{V1}")
        })
        .collect();
    format!("身份证号,姓名,联系电话,区划代码\n{}\n", rows.join("\n")).into_bytes()
}

/// Import options for the county 130110 (the import's chain is province 13's, the same as an
/// official's save there), committing after every batch.
fn chunked_options() -> ImportOptions {
    ImportOptions {
        region: Some("130110".to_string()),
        chunk: Duration::ZERO,
        ..ImportOptions::default()
    }
}

/// The ids an audit query (`SELECT id FROM audit_log …`) returns, as written.
async fn audit_ids(t: &T, sql: &str) -> Vec<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(t.state.db.pool())
        .await
        .expect("audit ids")
}

/// ADR 0017: a roster import commits in chunks, and another official's save made while it runs
/// goes in between two of them — not after the whole file. The save's audit entry lands
/// between the import's on the province's chain, the committed chunk is visible to everyone
/// while the import is still running, and the import still ends whole with an intact chain.
/// (Before, the import was one transaction: the save waited for the end of the file — here it
/// would wait forever, since the import waits for the save, and the timeout fails the test.)
#[tokio::test]
async fn an_import_commits_in_chunks_and_another_save_goes_in_between() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let other = t.user("k_off", &["official"], "130110").await;
        let before = person_count(&t).await;
        const N: u32 = 2500;
        let (committed_tx, mut committed_rx) = tokio::sync::mpsc::unbounded_channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let state = t.state.clone();
        let handle = tokio::runtime::Handle::current();
        // On a thread of its own (as an import job runs), so it can be held at a chunk's end.
        let import = tokio::task::spawn_blocking(move || {
            let mut first = true;
            let mut progress = |p: Progress<'_>| {
                if let Progress::Committed { rows, imported, .. } = p
                    && std::mem::take(&mut first)
                {
                    let _ = committed_tx.send((rows, imported));
                    let _ = go_rx.recv();
                }
            };
            handle.block_on(import_file(
                &state,
                &Actor::operator(),
                Cursor::new(chunked_roster(N, None)),
                &chunked_options(),
                &mut progress,
            ))
        });
        let (rows, imported) = tokio::time::timeout(Duration::from_secs(120), committed_rx.recv())
            .await
            .expect("a chunk committed")
            .expect("the import's signal");
        assert_eq!((rows, imported), (1000, 1000), "the first chunk is one batch");
        assert_eq!(person_count(&t).await, before + 1000, "committed rows are there");
        // Another official's save while the import is part-way through its file.
        let saved_id = cid("130110", "19500101", 7);
        let (s, b) = tokio::time::timeout(
            Duration::from_secs(60),
            t.post(
                "/api/v1/persons",
                &other,
                json!({"id_number": saved_id, "name": "插队", "region_code": V1}),
            ),
        )
        .await
        .expect("the save waited for the import");
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let person = b["id"].as_i64().expect("id");
        go_tx.send(()).expect("resume");
        let r = import.await.expect("join").expect("import");
        assert!(r.committed);
        assert_eq!((r.rows, r.imported, r.merged), (u64::from(N), u64::from(N), 0));
        assert_eq!(person_count(&t).await, before + i64::from(N) + 1);
        // On the chain of province 13: the import's first entries, the save, the import's rest.
        let imports = audit_ids(
            &t,
            "SELECT id FROM audit_log WHERE chain = '13' AND \
             (action = 'person.import' OR (action = 'person.create' AND detail LIKE '%\"import\"%')) \
             ORDER BY id",
        )
        .await;
        assert_eq!(imports.len(), N as usize + 1, "one entry per person and the summary");
        let save = audit_ids(
            &t,
            &format!(
                "SELECT id FROM audit_log WHERE action = 'person.create' AND object_id = '{person}'"
            ),
        )
        .await;
        assert_eq!(save.len(), 1);
        let (first, last) = (imports[0], imports[imports.len() - 1]);
        assert!(
            first < save[0] && save[0] < last,
            "the save's entry {} lies between the import's {first} and {last}",
            save[0]
        );
        let report = backstop_app::audit::verify(&t.state.db)
            .await
            .expect("verify");
        assert!(report.first_broken.is_none(), "{report:?}");
    })
    .await;
}

/// ADR 0017: a fault part-way through the write (here the database refuses the 1,501st row)
/// rolls back its own chunk only. The chunks before it stay, each whole — every saved person
/// with its creation entry, the chain intact — and the error says what was saved and that the
/// same file completes it; importing it again registers nobody twice.
#[tokio::test]
async fn an_import_that_fails_part_way_keeps_its_whole_chunks_and_the_same_file_completes_it() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let before = person_count(&t).await;
        const N: u32 = 2500;
        let pool = t.state.db.pool();
        let fault = if t.backend == "sqlite" {
            vec![
                "CREATE TRIGGER import_fault BEFORE INSERT ON persons WHEN NEW.name = '断点' \
                 BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END",
            ]
        } else {
            vec![
                "CREATE FUNCTION import_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.name = '断点' THEN RAISE EXCEPTION 'disk full (test)'; END IF; \
                 RETURN NEW; END $$",
                "CREATE TRIGGER import_fault BEFORE INSERT ON persons FOR EACH ROW \
                 EXECUTE FUNCTION import_fault()",
            ]
        };
        for sql in fault {
            sqlx::raw_sql(sql).execute(pool).await.expect("fault");
        }
        let r = import_file(
            &t.state,
            &Actor::operator(),
            Cursor::new(chunked_roster(N, Some(1500))),
            &chunked_options(),
            &mut |_| {},
        )
        .await;
        let e = r.expect_err("the fault stops the import");
        let ImportError::Interrupted {
            rows,
            imported,
            merged,
            ..
        } = &e
        else {
            panic!("not an interruption: {e:?}");
        };
        assert_eq!((*rows, *imported, *merged), (1000, 1000, 0));
        assert_eq!(e.code(), "interrupted");
        assert!(
            e.message().contains("已保存文件前 1000 行") && e.message().contains("重新导入同一文件"),
            "{}",
            e.message()
        );
        assert_eq!(person_count(&t).await, before + 1000, "the first chunk stays");
        let created = audit_ids(
            &t,
            "SELECT id FROM audit_log WHERE action = 'person.create' AND detail LIKE '%\"import\"%'",
        )
        .await;
        assert_eq!(created.len(), 1000, "every saved person has its creation entry");
        let report = backstop_app::audit::verify(&t.state.db)
            .await
            .expect("verify");
        assert!(report.first_broken.is_none(), "{report:?}");

        // The fault mended, the same file again: the rest is registered, the saved rows are
        // recognised by their numbers, nobody twice.
        let mend = if t.backend == "sqlite" {
            vec!["DROP TRIGGER import_fault"]
        } else {
            vec![
                "DROP TRIGGER import_fault ON persons",
                "DROP FUNCTION import_fault()",
            ]
        };
        for sql in mend {
            sqlx::raw_sql(sql).execute(pool).await.expect("mend");
        }
        let r = import_file(
            &t.state,
            &Actor::operator(),
            Cursor::new(chunked_roster(N, Some(1500))),
            &chunked_options(),
            &mut |_| {},
        )
        .await
        .expect("import again");
        assert!(r.committed);
        assert_eq!((r.imported, r.merged, r.rejected), (u64::from(N) - 1000, 1000, 0));
        assert_eq!(person_count(&t).await, before + i64::from(N));
        let report = backstop_app::audit::verify(&t.state.db)
            .await
            .expect("verify");
        assert!(report.first_broken.is_none(), "{report:?}");
    })
    .await;
}
