//! Test support: one fresh database per test on each backend (SQLite always; PostgreSQL when
//! `BACKSTOP_TEST_PG_URL` is set, which `scripts/test.sh` does), an injected clock, and
//! helpers to call the HTTP application in-process and to make users.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use backstop_app::kernel::actor::Actor;
use backstop_app::kernel::crypto::KeyRing;
use backstop_app::{AppState, Config, accounts};
use backstop_core::clock::ManualClock;
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The password every test user gets.
pub const PW: &str = "Zq7#mK2p!vR9";

static WARNED: AtomicBool = AtomicBool::new(false);

/// What keeps a test's database alive until the test ends: its SQLite folder, or its lease
/// of a Citus database (PostgreSQL's is dropped by name).
pub enum Hold {
    Nothing,
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Citus(#[allow(dead_code)] crate::citus_pool::Lease),
}

/// Whether `backend` is among `BACKSTOP_TEST_BACKENDS` (comma-separated; all when unset).
fn wanted(backend: &str) -> bool {
    match std::env::var("BACKSTOP_TEST_BACKENDS") {
        Ok(list) if !list.trim().is_empty() => list.split(',').any(|b| b.trim() == backend),
        _ => true,
    }
}

/// Database URLs to run a test against: a fresh SQLite file, a fresh PostgreSQL database if a
/// server is configured, and a clean database of the Citus pool if a cluster is
/// (`BACKSTOP_TEST_BACKENDS` narrows the list, e.g. `citus` for the suite's Citus pass).
pub async fn backends() -> Vec<(String, String, Hold)> {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    sqlx::any::install_default_drivers();
    let mut out = Vec::new();
    if wanted("sqlite") {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        out.push(("sqlite".to_string(), url, Hold::Dir(dir)));
    }
    match std::env::var("BACKSTOP_TEST_PG_URL") {
        _ if !wanted("postgres") => {}
        Ok(admin) if !admin.is_empty() => {
            let name = format!("bt_{}", uuidish());
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                .await
                .expect("connect to BACKSTOP_TEST_PG_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create database");
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(admin.clone());
            out.push((
                "postgres".to_string(),
                format!("{base}/{name}"),
                Hold::Nothing,
            ));
        }
        _ => {
            if std::env::var("BACKSTOP_TEST_REQUIRE_PG").as_deref() == Ok("1") {
                panic!("BACKSTOP_TEST_REQUIRE_PG=1 but BACKSTOP_TEST_PG_URL is not set");
            }
            if !WARNED.swap(true, Ordering::SeqCst) {
                eprintln!(
                    "\n######## PostgreSQL SKIPPED: BACKSTOP_TEST_PG_URL is not set; these tests ran on SQLite only. \
                     Run ./scripts/test.sh to include PostgreSQL. ########\n"
                );
            }
        }
    }
    match std::env::var("BACKSTOP_TEST_CITUS_URL") {
        _ if !wanted("citus") => {}
        Ok(admin) if !admin.is_empty() => {
            let (url, lease) = crate::citus_pool::lease(&admin).await;
            out.push(("citus".to_string(), url, Hold::Citus(lease)));
        }
        _ => {
            if std::env::var("BACKSTOP_TEST_REQUIRE_CITUS").as_deref() == Ok("1") {
                panic!("BACKSTOP_TEST_REQUIRE_CITUS=1 but BACKSTOP_TEST_CITUS_URL is not set");
            }
        }
    }
    out
}

fn uuidish() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The clock every test starts at (2026-03-02 09:00 in Beijing).
pub fn start_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0)
            .single()
            .expect("date"),
    ))
}

/// One application on one backend.
pub struct T {
    pub backend: String,
    /// The database URL (tests that need a connection of their own, outside the service).
    #[allow(dead_code)]
    pub url: String,
    pub state: AppState,
    pub app: Router,
    pub clock: Arc<ManualClock>,
    _dir: Option<tempfile::TempDir>,
    _keys: tempfile::TempDir,
}

/// Run `f` on every backend, each with a fresh database.
pub async fn each_backend<F, Fut>(f: F)
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    each_backend_with(Config::default(), f).await
}

/// Like [`each_backend`], with a configuration of the test's own.
pub async fn each_backend_with<F, Fut>(config: Config, f: F)
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for (name, url, dir) in backends().await {
        eprintln!("-- backend: {name}");
        let t = T::open(&name, &url, None, config.clone()).await;
        let db = t.state.db.clone();
        f(t).await;
        // Close every connection before the files go: SQLite's VFS keys its lock and
        // shared-memory state by inode, and a deleted-but-open file's inode can be reused by
        // the next test's database, which then fails to open ("unable to open database file").
        db.close().await;
        drop(dir);
        drop_pg_database(&name, &url).await;
    }
}

/// Drop a test's PostgreSQL database once the test has passed (a failed test panics before
/// this and leaves its database to look at). Keeps a long local run from filling the disk.
pub async fn drop_pg_database(backend: &str, url: &str) {
    if backend != "postgres" {
        return;
    }
    let (Ok(admin), Some((_, name))) =
        (std::env::var("BACKSTOP_TEST_PG_URL"), url.rsplit_once('/'))
    else {
        return;
    };
    if !name.starts_with("bt_") {
        return;
    }
    if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

impl T {
    /// The id of the account `username`.
    pub async fn user_id(&self, username: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_one(self.state.db.pool())
            .await
            .expect("user id")
    }

    pub async fn open(name: &str, url: &str, dir: Option<tempfile::TempDir>, config: Config) -> T {
        let keys = tempfile::tempdir().expect("tempdir");
        let clock = start_clock();
        let state = backstop_app::open(url, &keys.path().join("master.key"), clock.clone(), config)
            .await
            .expect("open app");
        T {
            backend: name.to_string(),
            url: url.to_string(),
            app: backstop_app::router(state.clone()),
            state,
            clock,
            _dir: dir,
            _keys: keys,
        }
    }

    /// Send a request; returns status and JSON body (Null if none or not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, bytes) = self
            .raw(method, path, token, body.map(|b| b.to_string()), &[])
            .await;
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, v)
    }

    /// Send a request with extra headers; returns status, headers and body bytes.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "backstop.test");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .expect("request");
        self.send(req).await
    }

    /// A browser-like request: optional session cookie (`name=value`), a form-encoded body
    /// for POST, and a same-origin `Origin` header.
    #[allow(dead_code)]
    pub async fn raw_form(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: &str,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "backstop.test");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        if method != "GET" {
            req = req
                .header(header::ORIGIN, "http://backstop.test")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let req = req.body(Body::from(body.to_string())).expect("request");
        self.send(req).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }

    /// Create a user as the console operator, ready to log in (password change done; TOTP
    /// enrolled with a known secret — every role has a second factor, issue 13). Returns its id.
    pub async fn make_user(&self, username: &str, roles: &[&str], region: &str) -> i64 {
        self.make_user_in(username, roles, region, None).await
    }

    /// Give an account the test's known TOTP secret of its username, enrolled (what a user
    /// does once with an authenticator app), so logins can answer the second factor.
    pub async fn enrol_known_totp(&self, id: i64, username: &str) {
        let mut w = self.state.db.begin_write().await.expect("tx");
        sqlx::query("UPDATE users SET totp_secret = $1, totp_enabled = 1 WHERE id = $2")
            .bind(self.state.keys.encrypt(&totp_secret(username)))
            .bind(id)
            .execute(w.conn())
            .await
            .expect("enrol totp");
        w.commit().await.expect("commit");
        self.state.auth_cache.invalidate();
    }

    /// Log in through the API (with a TOTP code when the user has one); returns the token. An
    /// account made through the API that has not enrolled TOTP yet is enrolled with the test's
    /// known secret first (as its user would at the first login), then logged in.
    pub async fn login(&self, username: &str) -> String {
        let mut enrolled = false;
        loop {
            self.clock.advance(chrono::Duration::seconds(31));
            let code = self.totp_now(username);
            let (status, body) = self
                .call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"username": username, "password": PW, "totp": code})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "login {username}: {body}");
            let needs = body["stage"] == "need_totp_enrollment"
                || (body["stage"] == "need_password_change" && !self.totp_enabled(username).await);
            if needs && !enrolled {
                enrolled = true;
                let id = self.user_id(username).await;
                self.enrol_known_totp(id, username).await;
                continue;
            }
            return body["token"].as_str().expect("token").to_string();
        }
    }

    async fn totp_enabled(&self, username: &str) -> bool {
        let v: i64 = sqlx::query_scalar("SELECT totp_enabled FROM users WHERE username = $1")
            .bind(username)
            .fetch_one(self.state.db.pool())
            .await
            .expect("totp_enabled");
        v != 0
    }

    /// The TOTP code of a test user's known secret at the injected time.
    pub fn totp_now(&self, username: &str) -> String {
        let secs = u64::try_from(self.clock_now_ms() / 1000).expect("time");
        backstop_app::kernel::auth::totp_code(&totp_secret(username), secs).expect("totp")
    }

    pub fn clock_now_ms(&self) -> i64 {
        self.state.now_ms()
    }

    /// Make a user and log in.
    pub async fn user(&self, username: &str, roles: &[&str], region: &str) -> String {
        self.make_user(username, roles, region).await;
        self.login(username).await
    }

    /// Import the small township/village fixture (130110, 130111, 440115).
    pub async fn import_fixture(&self) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/regions");
        backstop_app::regions::import::import_dir(
            &self.state,
            &Actor::operator(),
            &dir,
            &mut |_| {},
        )
        .await
        .expect("import fixture");
    }
}

/// A deterministic 20-byte TOTP secret per test user.
pub fn totp_secret(username: &str) -> Vec<u8> {
    let mut s = username.as_bytes().to_vec();
    s.resize(20, b'#');
    s
}

#[allow(dead_code)]
pub fn keyring() -> KeyRing {
    KeyRing::from_master([1u8; 32])
}

// --- added by the dedup-screencare helper: shared request shapes ------------------------

impl T {
    /// `PATCH path` with a JSON body as `token`.
    #[allow(dead_code)]
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call("PATCH", path, Some(token), Some(body)).await
    }

    /// `PATCH /api/v1/users/{id}` with a JSON body as `token`.
    #[allow(dead_code)]
    pub async fn patch_user(&self, token: &str, id: i64, body: Value) -> (StatusCode, Value) {
        self.patch(&format!("/api/v1/users/{id}"), token, body)
            .await
    }

    /// Send a built request to the app; status, headers and body bytes.
    #[allow(dead_code)]
    pub async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let resp = self.app.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
            .await
            .expect("body");
        (status, headers, bytes.to_vec())
    }

    /// A JSON login with a wrong password for `username`; the status of the answer.
    #[allow(dead_code)]
    pub async fn failed_login(&self, username: &str) -> StatusCode {
        let body = serde_json::json!({"username": username, "password": "wrong"});
        self.call("POST", "/api/v1/auth/login", None, Some(body))
            .await
            .0
    }
}

// --- Shared by the institutions, entrance, care, screening and crosscheck tests (added by the
// --- dedup-instent helper).

/// A valid 18-digit ID number: region, birth date, sequence and its check character.
#[allow(dead_code)]
pub fn cid(region: &str, ymd: &str, seq: u32) -> String {
    let body = format!("{region}{ymd}{seq:03}");
    let c = backstop_core::citizen_id::check_char(&body).expect("17 digits");
    format!("{body}{c}")
}

/// Run a `SELECT CAST(COUNT(*) AS BIGINT) …` and return the count.
#[allow(dead_code)]
pub async fn count(t: &T, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(t.state.db.pool())
        .await
        .expect("count")
}

/// The running memberships as (person name, category), categories opened with the key (they
/// are sealed at rest, migration 0025), sorted.
#[allow(dead_code)]
pub async fn running_memberships(t: &T) -> Vec<(String, String)> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT p.name, m.category, m.category_enc FROM care_memberships m \
         JOIN persons p ON p.id = m.person_id WHERE m.end_date = ''",
    )
    .fetch_all(t.state.db.pool())
    .await
    .expect("memberships");
    let mut out: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            let name: String = r.get("name");
            let cat = backstop_app::privacy::text(&t.state.keys, r, "category").expect("opens");
            (name, cat)
        })
        .collect();
    out.sort();
    out
}

/// How many audit entries have this action.
#[allow(dead_code)]
pub async fn audit_count(t: &T, action: &str) -> i64 {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(t.state.db.pool())
        .await
        .expect("audit")
}

/// The login form's body for a test user with the test password.
pub fn login_form_body(username: &str) -> String {
    format!(
        "username={username}&password={}",
        backstop_app::kernel::web::encode_query_value(PW)
    )
}

/// Log in through the login page; returns the session cookie (`name=value`).
#[allow(dead_code)]
pub async fn web_login(t: &T, username: &str) -> String {
    let (s, h, _) = t
        .raw_form("POST", "/login", None, &login_form_body(username))
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "web login {username}");
    let cookie = set_cookie_pair(&h);
    // The second factor (issue 13): the login's TOTP step with the user's known code.
    if h.get("location").and_then(|v| v.to_str().ok()) == Some("/login/totp") {
        totp_step(t, username, &cookie).await;
    }
    cookie
}

/// The login's TOTP step for the session `session`, 31 s on, with the user's code: the
/// headers of its answer (a redirect that is not back to the step).
#[allow(dead_code)]
pub async fn totp_step(t: &T, username: &str, session: &str) -> axum::http::HeaderMap {
    t.clock.advance(chrono::Duration::seconds(31));
    let code = t.totp_now(username);
    let (s, h, _) = t
        .raw_form(
            "POST",
            "/login/totp",
            Some(session),
            &format!("code={code}"),
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "login {username}: TOTP step");
    assert_ne!(
        h.get("location").and_then(|v| v.to_str().ok()),
        Some("/login/totp"),
        "login {username}: TOTP refused"
    );
    h
}

/// The four keepers (包保责任人) of a home observation, as its API takes them.
#[allow(dead_code)]
pub fn keepers() -> Vec<serde_json::Value> {
    ["社区干部", "医生", "民警", "志愿者"]
        .iter()
        .enumerate()
        .map(|(i, r)| serde_json::json!({"role": r, "name": format!("责任人{i}"), "phone": format!("1390000000{i}")}))
        .collect()
}

/// GET a page with a session cookie; returns the status and the body as text.
#[allow(dead_code)]
pub async fn page(t: &T, path: &str, cookie: &str) -> (StatusCode, String) {
    let (s, _, b) = t.raw_form("GET", path, Some(cookie), "").await;
    (s, String::from_utf8_lossy(&b).to_string())
}

/// POST a page form (url-encoded `body`) with a session cookie; the status and the body as
/// text (a refused form's page, or empty after a redirect).
#[allow(dead_code)]
pub async fn post_page(t: &T, path: &str, cookie: &str, body: &str) -> (StatusCode, String) {
    let (s, _, b) = t.raw_form("POST", path, Some(cookie), body).await;
    (s, String::from_utf8_lossy(&b).to_string())
}

/// POST `body` to `path`, expect *201 Created*, and return the new record's `id`.
#[allow(dead_code)]
pub async fn created_id(t: &T, path: &str, token: &str, body: Value) -> i64 {
    let (s, b) = t.post(path, token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["id"].as_i64().expect("id")
}

/// Assert how many audit entries each action has.
#[allow(dead_code)]
pub async fn assert_audit_counts(t: &T, expected: &[(&str, i64)]) {
    for (action, n) in expected {
        assert_eq!(audit_count(t, action).await, *n, "{action}");
    }
}

// --- Added by the qdedup helper (issue 12, "repeated code halved"): test setup shared by the
// --- institutions, inspections, entrance, people, reports and browser tests.

impl T {
    /// [`T::make_user`] for a user tied to organisation `org_id` (or to none); returns its id.
    pub async fn make_user_in(
        &self,
        username: &str,
        roles: &[&str],
        region: &str,
        org_id: Option<i64>,
    ) -> i64 {
        let u = accounts::create_user(
            &self.state,
            &Actor::operator(),
            &accounts::NewUser {
                username: username.to_string(),
                password: PW.to_string(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                region_code: region.to_string(),
                org_id,
                display_name: String::new(),
                phone: String::new(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("make_user {username}: {e}"));
        let mut w = self.state.db.begin_write().await.expect("tx");
        sqlx::query("UPDATE users SET must_change_password = 0 WHERE id = $1")
            .bind(u.id)
            .execute(w.conn())
            .await
            .expect("prepare user");
        w.commit().await.expect("commit");
        self.enrol_known_totp(u.id, username).await;
        u.id
    }
}

/// Make a user tied to an organisation (an institution reporter) and log it in (API token).
#[allow(dead_code)]
pub async fn org_user(t: &T, name: &str, roles: &[&str], region: &str, org_id: i64) -> String {
    t.make_user_in(name, roles, region, Some(org_id)).await;
    t.login(name).await
}

/// The `id` of every element of a JSON array.
#[allow(dead_code)]
pub fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .filter_map(|x| x["id"].as_i64())
        .collect()
}

/// The SQLite database as it lies on disk: the main file followed by its write-ahead log.
#[allow(dead_code)]
pub async fn sqlite_bytes(t: &T) -> Vec<u8> {
    let file: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(t.state.db.pool())
            .await
            .expect("db file");
    let mut bytes = std::fs::read(&file).expect("read db");
    if let Ok(wal) = std::fs::read(format!("{file}-wal")) {
        bytes.extend_from_slice(&wal);
    }
    bytes
}

/// On PostgreSQL, every non-null value of every column of `tables` as text (`bytea` read as
/// escaped bytes), with `table.column`; each table must have columns.
#[allow(dead_code)]
pub async fn pg_column_texts(t: &T, tables: &[&str]) -> Vec<(String, String)> {
    use sqlx::Row;
    let mut out = Vec::new();
    for table in tables {
        let cols: Vec<(String, String)> = sqlx::query(
            "SELECT column_name::text AS c, data_type::text AS d FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(table)
        .fetch_all(t.state.db.pool())
        .await
        .expect("columns")
        .iter()
        .map(|r| (r.get::<String, _>("c"), r.get::<String, _>("d")))
        .collect();
        assert!(!cols.is_empty(), "{table} has no columns");
        for (c, d) in cols {
            let expr = if d == "bytea" {
                format!("encode(\"{c}\", 'escape')")
            } else {
                format!("\"{c}\"::text")
            };
            let texts: Vec<Option<String>> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {expr} FROM {table}")))
                    .fetch_all(t.state.db.pool())
                    .await
                    .expect("select");
            out.extend(
                texts
                    .into_iter()
                    .flatten()
                    .map(|v| (format!("{table}.{c}"), v)),
            );
        }
    }
    out
}

// ---- issue 13 item 5 (sensitive data at rest): reopening a test database.

impl T {
    /// Open the same database with the same key file again, as the service does when it
    /// starts (migrations, then the open-time steps); the caller closes it.
    pub async fn reopen(&self) -> AppState {
        backstop_app::open(
            &self.url,
            &self._keys.path().join("master.key"),
            self.clock.clone(),
            Config::default(),
        )
        .await
        .expect("reopen app")
    }
}

// --- added by the wt-admins helper (issue 13): the second factor in test logins ------------

/// `name=value` of the cookie a response sets.
#[allow(dead_code)]
pub fn set_cookie_pair(h: &axum::http::HeaderMap) -> String {
    h.get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_string()
}

// --- added by the wt-hotseal helper (issue 13, "done when"): everything stored, as text -------

/// Everything the database holds at rest, to search for markers: on SQLite the file with its
/// WAL (bytes, read as lossy UTF-8); on PostgreSQL every non-null value of every column of
/// every table of the schema, found through `information_schema` (text-like columns cast to
/// text, `bytea` read as raw bytes so that clear bytes in a ciphertext column would show).
#[allow(dead_code)]
pub async fn text_at_rest(t: &T) -> String {
    if t.backend == "sqlite" {
        return String::from_utf8_lossy(&sqlite_bytes(t).await).into_owned();
    }
    let cols: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text \
         FROM information_schema.columns c JOIN information_schema.tables tb \
         ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND tb.table_type = 'BASE TABLE' \
         ORDER BY 1, 2",
    )
    .fetch_all(t.state.db.pool())
    .await
    .expect("columns");
    assert!(cols.len() > 100, "the schema's columns: {}", cols.len());
    let mut all = String::new();
    for (table, col, ty) in cols {
        if ty == "bytea" {
            let values: Vec<Option<Vec<u8>>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT \"{col}\" FROM \"{table}\""
            )))
            .fetch_all(t.state.db.pool())
            .await
            .expect("bytes");
            for v in values.into_iter().flatten() {
                all.push_str(&String::from_utf8_lossy(&v));
                all.push('\n');
            }
        } else {
            let values: Vec<Option<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT CAST(\"{col}\" AS TEXT) FROM \"{table}\""
            )))
            .fetch_all(t.state.db.pool())
            .await
            .expect("texts");
            for v in values.into_iter().flatten() {
                all.push_str(&v);
                all.push('\n');
            }
        }
    }
    all
}

/// Make an organisation through the API as `who`; returns its id.
#[allow(dead_code)]
pub async fn org(t: &T, who: &str, name: &str, kind: &str, region: &str) -> i64 {
    let (s, o) = t
        .post(
            "/api/v1/orgs",
            who,
            json!({"name": name, "kind": kind, "region_code": region}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    o["id"].as_i64().expect("org id")
}

/// The text of every worksheet (and the shared strings) of an xlsx file.
#[allow(dead_code)]
pub fn xlsx_text(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("zip");
    let mut out = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("entry");
        let name = f.name().map(|n| n.to_string()).unwrap_or_default();
        if name.starts_with("xl/worksheets/") || name == "xl/sharedStrings.xml" {
            f.read_to_string(&mut out).expect("read");
        }
    }
    out
}

/// A value encoded for a query string or a form body.
#[allow(dead_code)]
pub fn enc(s: &str) -> String {
    backstop_app::kernel::web::encode_query_value(s)
}

/// Send a form (or a bare request) with [`T::raw_form`]; the answer's body as text.
#[allow(dead_code)]
pub async fn form_text(
    t: &T,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let (s, h, b) = t.raw_form(method, path, cookie, body).await;
    (s, h, String::from_utf8_lossy(&b).to_string())
}

/// Log in through the API with `password` and the user's current one-time code, the clock
/// moved on past the last code first.
#[allow(dead_code)]
pub async fn api_login(t: &T, username: &str, password: &str) -> (StatusCode, Value) {
    t.clock.advance(chrono::Duration::seconds(31));
    let code = t.totp_now(username);
    t.call(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"username": username, "password": password, "totp": code})),
    )
    .await
}

/// The `Location` header of an answer, or "" without one.
#[allow(dead_code)]
pub fn location(h: &axum::http::HeaderMap) -> String {
    h.get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// How many notifications in the outbox hold `text` in their body.
#[allow(dead_code)]
pub async fn deliveries_containing(t: &T, text: &str) -> i64 {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM notify_deliveries WHERE body LIKE $1")
        .bind(format!("%{text}%"))
        .fetch_one(t.state.db.pool())
        .await
        .expect("count")
}

/// Drop the database's append-only guard on the audit log (someone with the owner's power), to
/// show that tampering is found. On Citus the shards' copies of the trigger too (`DISABLE
/// TRIGGER` is not passed on to them); the changed schema sets the database aside.
pub async fn unguard_audit(t: &T) {
    let sql: &[&str] = match t.backend.as_str() {
        "sqlite" => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ],
        "citus" => &[
            "SET citus.enable_unsafe_triggers TO on",
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
            "SELECT count(*) FROM run_command_on_shards('audit_log', \
             'ALTER TABLE %s DISABLE TRIGGER USER') WHERE success",
        ],
        _ => &["ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"],
    };
    // One connection: the setting holds for the statements after it.
    let mut conn = t.state.db.pool().acquire().await.expect("connection");
    for s in sql {
        sqlx::raw_sql(sqlx::AssertSqlSafe(s.to_string()))
            .execute(&mut *conn)
            .await
            .expect("unguard");
    }
}
