//! Integration tests of the `backstop` binary: every test runs the real executable in a fresh
//! temporary working directory (so the default `./backstop-data` is used) on SQLite, and on
//! PostgreSQL too when `BACKSTOP_TEST_PG_URL` is set (a superuser URL; each test gets a fresh
//! database). `BACKSTOP_TEST_REQUIRE_PG=1` turns a missing PostgreSQL into a failure.
//!
//! No timings are asserted; every child process is bounded by a generous timeout so that a
//! hang fails the test instead of blocking the run.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use backstop_store::sqlx;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_backstop");
/// A password every policy check accepts.
const PW: &str = "Zq7#mK2p!vR9";
const PW2: &str = "Lw4$tN8x@cE2";
/// Upper bound for one command (a hang fails the test rather than blocking the run).
const TIMEOUT: Duration = Duration::from_secs(120);

/// Environment variables of the binary that must not leak in from the caller.
const SCRUB: &[&str] = &[
    "BACKSTOP_DATABASE_URL",
    "BACKSTOP_DATA_DIR",
    "BACKSTOP_KEY_FILE",
    "BACKSTOP_INITIAL_ADMIN_PASSWORD",
    "BACKSTOP_LISTEN",
    "BACKSTOP_LOG",
    "BACKSTOP_SECURE_COOKIES",
    "BACKSTOP_PASSWORD_MIN_LENGTH",
    "BACKSTOP_PASSWORD_MIN_CLASSES",
];

static WARNED: AtomicBool = AtomicBool::new(false);
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/tests/fixtures/regions")
}

// ---------------------------------------------------------------------------------------------
// Backends

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

/// One test environment: a temporary working directory and, on PostgreSQL, a fresh database.
struct Env {
    kind: Kind,
    dir: tempfile::TempDir,
    /// PostgreSQL: (admin URL, database name, URL of the database).
    pg: Option<(String, String, String)>,
}

/// The environments a test runs in: SQLite always, PostgreSQL when configured.
fn envs() -> Vec<Env> {
    let mut out = vec![Env::new(Kind::Sqlite, None)];
    match std::env::var("BACKSTOP_TEST_PG_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!(
                "bt_cli_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0)
            );
            block_on(async {
                let mut c = connect(&admin).await;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut c)
                    .await
                    .expect("CREATE DATABASE on BACKSTOP_TEST_PG_URL");
            });
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or_else(|| admin.clone());
            let url = format!("{base}/{name}");
            out.push(Env::new(Kind::Postgres, Some((admin, name, url))));
        }
        _ => {
            if std::env::var("BACKSTOP_TEST_REQUIRE_PG").as_deref() == Ok("1") {
                panic!("BACKSTOP_TEST_REQUIRE_PG=1 but BACKSTOP_TEST_PG_URL is not set");
            }
            if !WARNED.swap(true, Ordering::SeqCst) {
                eprintln!(
                    "\n######## PostgreSQL SKIPPED: BACKSTOP_TEST_PG_URL is not set; the CLI tests \
                     ran on SQLite only. Run scripts/pg-throwaway.sh -- cargo test -p backstop \
                     --test cli to include PostgreSQL. ########\n"
                );
            }
        }
    }
    out
}

impl Env {
    fn new(kind: Kind, pg: Option<(String, String, String)>) -> Env {
        Env {
            kind,
            dir: tempfile::tempdir().expect("tempdir"),
            pg,
        }
    }

    fn label(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The URL the binary uses (on SQLite: the default file under ./backstop-data).
    fn db_url(&self) -> String {
        match &self.pg {
            Some((_, _, url)) => url.clone(),
            None => format!(
                "sqlite://{}",
                self.path().join("backstop-data/backstop.db").display()
            ),
        }
    }

    /// The binary with a clean environment, run in the working directory; on PostgreSQL the
    /// database is given through BACKSTOP_DATABASE_URL.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.path()).args(args);
        for v in SCRUB {
            c.env_remove(v);
        }
        if let Some((_, _, url)) = &self.pg {
            c.env("BACKSTOP_DATABASE_URL", url);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Out {
        run(self.cmd(args), None)
    }

    fn run_stdin(&self, args: &[&str], stdin: &str) -> Out {
        run(self.cmd(args), Some(stdin))
    }

    /// `backstop regions import` of the small fixture (130110, 130111, 440115).
    fn import_fixture(&self) {
        self.run(&["regions", "import", fixtures().to_str().expect("utf-8")])
            .ok();
    }

    /// `backstop user create` with the password on standard input.
    fn create_user(&self, username: &str, role: &str, region: &str, password: &str) -> Out {
        let args = [
            "user",
            "create",
            "--username",
            username,
            "--role",
            role,
            "--region",
            region,
            "--password-stdin",
        ];
        self.run_stdin(&args, password)
    }

    /// `backstop user reset-password` with the new password on standard input.
    fn reset_password(&self, username: &str, password: &str) -> Out {
        let args = [
            "user",
            "reset-password",
            "--username",
            username,
            "--password-stdin",
        ];
        self.run_stdin(&args, password)
    }

    fn scalar(&self, sql: &str) -> i64 {
        let url = self.db_url();
        block_on(async {
            let mut c = connect(&url).await;
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        })
    }

    fn exec(&self, sql: &str) -> Result<u64, String> {
        let url = self.db_url();
        block_on(async {
            let mut c = connect(&url).await;
            sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut c)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| e.to_string())
        })
    }

    fn region_count(&self) -> i64 {
        self.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM regions")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some((admin, name, _)) = self.pg.take() {
            block_on(async {
                if let Ok(mut c) = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await
                {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                }
            });
        }
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

async fn connect(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Running the binary

/// What a finished command left.
struct Out {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Out {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }
    #[track_caller]
    fn ok(&self) -> &Self {
        assert!(self.status.success(), "expected success: {self}");
        self
    }
    #[track_caller]
    fn failed(&self) -> &Self {
        assert!(
            !self.status.success() && self.code().is_some(),
            "expected a non-zero exit: {self}"
        );
        self
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

fn reader<R: Read + Send + 'static>(r: Option<R>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut r) = r {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            s = String::from_utf8_lossy(&buf).into_owned();
        }
        s
    })
}

/// Wait for a child for at most `limit`; kill it and panic if it does not end.
fn wait_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return s,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("backstop did not exit within {limit:?}");
            }
            Err(e) => panic!("waiting for backstop: {e}"),
        }
    }
}

fn run(mut cmd: Command, stdin: Option<&str>) -> Out {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn backstop");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let status = wait_timeout(&mut child, TIMEOUT);
    Out {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A running `backstop serve`; killed on drop if the test did not stop it.
struct Server {
    child: Child,
    port: u16,
    lines: Receiver<String>,
    /// stdout lines read so far.
    seen: Vec<String>,
    stderr: Option<JoinHandle<String>>,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

impl Env {
    /// Start `serve` on a free port and wait until it listens (retrying if the port was taken).
    fn serve(&self, extra: &[&str], envs: &[(&str, &str)]) -> Server {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let listen = format!("127.0.0.1:{port}");
            let mut args = extra.to_vec();
            args.extend(["serve", "--listen", &listen]);
            let mut cmd = self.cmd(&args);
            for (k, v) in envs {
                cmd.env(k, v);
            }
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("spawn backstop serve");
            let (tx, rx) = channel();
            let stdout = child.stdout.take().expect("stdout");
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let stderr = reader(child.stderr.take());
            let mut s = Server {
                child,
                port,
                lines: rx,
                seen: Vec::new(),
                stderr: Some(stderr),
            };
            if s.wait_line(|l| l.contains("Backstop 已启动")).is_some() {
                return s;
            }
            let status = wait_timeout(&mut s.child, TIMEOUT);
            let err = s
                .stderr
                .take()
                .and_then(|h| h.join().ok())
                .unwrap_or_default();
            last = format!("status {status:?}\nstdout: {:?}\nstderr: {err}", s.seen);
            if !err.contains("无法监听") {
                break;
            }
        }
        panic!("backstop serve did not start:\n{last}");
    }
}

impl Server {
    /// Read stdout until a line matches; `None` if stdout closed (the process ended) first.
    fn wait_line(&mut self, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return Some(line);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no matching line from serve; stdout so far: {:?}",
                        self.seen
                    )
                }
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGTERM, then wait: the exit status, all stdout lines and stderr.
    fn stop(mut self) -> (ExitStatus, Vec<String>, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let status = wait_timeout(&mut self.child, TIMEOUT);
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let err = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        (status, std::mem::take(&mut self.seen), err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// GET: (status, body).
fn get(agent: &ureq::Agent, url: &str) -> (u16, String) {
    let mut r = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    (status, body)
}

/// POST a JSON body: (status, JSON answer).
fn post_json(agent: &ureq::Agent, url: &str, body: Value) -> (u16, Value) {
    let mut r = agent
        .post(url)
        .send_json(body)
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = r.status().as_u16();
    let v = r.body_mut().read_json::<Value>().unwrap_or(Value::Null);
    (status, v)
}

fn login(agent: &ureq::Agent, s: &Server, user: &str, password: &str) -> (u16, Value) {
    post_json(
        agent,
        &s.url("/api/v1/auth/login"),
        json!({"username": user, "password": password}),
    )
}

/// RFC 4648 base32 (no padding) to bytes, for the TOTP secret an enrolment shows.
fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut buf, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in s.trim().trim_end_matches('=').bytes() {
        let v = ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .expect("base32 character") as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}

/// The TOTP code of `secret` `offset_s` seconds from now (the server runs on the real clock).
fn code_now(secret: &[u8], offset_s: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    backstop_app::kernel::auth::totp_code(secret, now + offset_s).expect("totp code")
}

/// Enrol TOTP for a session that must (issue 13: officials give a second factor); the
/// session is complete afterwards. Returns the secret.
fn enrol_totp(agent: &ureq::Agent, s: &Server, token: &str) -> Vec<u8> {
    let mut r = agent
        .post(&s.url("/api/v1/auth/totp/enroll"))
        .header("Authorization", &format!("Bearer {token}"))
        .send_empty()
        .expect("enrol");
    assert_eq!(r.status().as_u16(), 200);
    let v = r.body_mut().read_json::<Value>().expect("json");
    let secret = base32_decode(v["secret_base32"].as_str().expect("secret"));
    let r = agent
        .post(&s.url("/api/v1/auth/totp/confirm"))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(json!({"code": code_now(&secret, 0)}))
        .expect("confirm");
    assert_eq!(r.status().as_u16(), 204);
    secret
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn migrate_is_idempotent_and_creates_the_data_dir() {
    for env in envs() {
        let l = env.label();
        let first = env.run(&["migrate"]);
        first.ok();
        assert!(first.stdout.contains("已应用迁移"), "{l}: {first}");
        let second = env.run(&["migrate"]);
        second.ok();
        assert!(second.stdout.contains("数据库已是最新"), "{l}: {second}");
        assert!(!second.stdout.contains("已应用迁移"), "{l}: {second}");
        if env.kind == Kind::Sqlite {
            assert!(
                env.path().join("backstop-data/backstop.db").is_file(),
                "{l}: the database is created under ./backstop-data"
            );
        }
        // A command that opens the application creates the master key under ./backstop-data.
        env.run(&["regions", "import", "does-not-exist"]).failed();
        let key = env.path().join("backstop-data/keys/master.key");
        assert!(key.is_file(), "{l}: key file {} missing", key.display());
        let text = std::fs::read_to_string(&key).expect("read key");
        assert_eq!(text.trim().len(), 64, "{l}: 32 bytes in hex");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key)
                .expect("stat key")
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "{l}: key file readable by others: {mode:o}"
            );
        }
        // The key is kept, not replaced, on the next open.
        env.run(&["regions", "import", "does-not-exist"]).failed();
        assert_eq!(
            std::fs::read_to_string(&key).expect("read key"),
            text,
            "{l}"
        );
    }
}

#[test]
fn unsupported_database_urls_are_refused_clearly() {
    let env = Env::new(Kind::Sqlite, None);
    for args in [
        vec!["--database-url", "mysql://x", "migrate"],
        vec!["--database-url", "mysql://x", "regions", "import", "."],
        vec!["--database-url", "mysql://u:secret@h/db", "audit", "verify"],
        vec!["--database-url", "mysql://x", "backup", "b.db"],
    ] {
        let out = env.run(&args);
        out.failed();
        assert!(out.stderr.contains("不支持的数据库地址"), "{args:?}: {out}");
        assert!(out.stderr.contains("mysql://"), "{args:?}: {out}");
        assert!(!out.stderr.contains("secret"), "password leaked: {out}");
    }
    // Also through the environment variable.
    let mut c = env.cmd(&["migrate"]);
    c.env("BACKSTOP_DATABASE_URL", "mysql://x");
    let out = run(c, None);
    out.failed();
    assert!(out.stderr.contains("不支持的数据库地址"), "{out}");
    assert!(
        !env.path().join("backstop-data/backstop.db").exists(),
        "no SQLite database may be created for a refused URL"
    );
    assert!(!env.path().join("b.db").exists());
}

#[test]
fn read_only_commands_refuse_a_missing_sqlite_database() {
    // Run in the wrong directory, `backup` must not create an empty database and "back it up".
    let env = Env::new(Kind::Sqlite, None);
    for args in [&["backup", "snap.db"][..], &["audit", "verify"][..]] {
        let out = env.run(args);
        out.failed();
        assert!(out.stderr.contains("不存在"), "{args:?}: {out}");
        assert!(out.stderr.contains("backstop.db"), "{args:?}: {out}");
        assert!(!env.path().join("backstop-data").exists(), "{args:?}");
        assert!(!env.path().join("snap.db").exists(), "{args:?}");
    }
}

#[test]
fn regions_import_counts_rejects_bad_files_and_is_idempotent() {
    let good = fixtures();
    let bad = good.join("bad");
    let (good, bad) = (
        good.to_str().expect("utf-8 path"),
        bad.to_str().expect("utf-8 path"),
    );
    for env in envs() {
        let l = env.label();
        let out = env.run(&["regions", "import", good]);
        out.ok();
        assert!(
            out.stdout.contains("乡镇（街道）29 个")
                && out.stdout.contains("村（社区）581 个")
                && out.stdout.contains("新增或更名 610 条"),
            "{l}: {out}"
        );
        let after = env.region_count();
        assert_eq!(
            env.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM regions WHERE level = 'village'"),
            581,
            "{l}"
        );
        assert_eq!(
            env.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM regions WHERE level = 'township'"),
            29,
            "{l}"
        );

        let out = env.run(&["regions", "import", bad]);
        out.failed();
        assert!(out.stderr.contains("第 3 行"), "{l}: {out}");
        assert!(out.stderr.contains("第 4 行"), "{l}: {out}");
        assert!(
            !out.stderr.contains("第 2 行"),
            "{l}: line 2 is valid: {out}"
        );
        assert_eq!(
            env.region_count(),
            after,
            "{l}: a bad import writes nothing"
        );

        let out = env.run(&["regions", "import", good]);
        out.ok();
        assert!(out.stdout.contains("新增或更名 0 条"), "{l}: {out}");
        assert_eq!(env.region_count(), after, "{l}");

        let out = env.run(&["regions", "import", "no-such-dir"]);
        out.failed();
        assert!(out.stderr.contains("无法打开"), "{l}: {out}");
    }
}

#[test]
fn bad_import_on_a_fresh_database_writes_nothing() {
    let bad = fixtures().join("bad");
    for env in envs() {
        env.run(&["migrate"]).ok();
        // The embedded provinces/cities/counties are loaded on open; count after one open.
        env.run(&["regions", "import", "no-such-dir"]).failed();
        let before = env.region_count();
        assert!(before > 3000, "{}: embedded regions loaded", env.label());
        let out = env.run(&["regions", "import", bad.to_str().expect("utf-8")]);
        out.failed();
        assert_eq!(env.region_count(), before, "{}: {out}", env.label());
        assert_eq!(
            env.scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = 'region.import'"
            ),
            0,
            "{}",
            env.label()
        );
    }
}

#[test]
fn user_create_and_reset_password() {
    for env in envs() {
        let l = env.label();
        let create = |user: &str, roles: &str, pw: &str| {
            env.run_stdin(
                &[
                    "user",
                    "create",
                    "--username",
                    user,
                    "--role",
                    roles,
                    "--region",
                    "130110",
                    "--display-name",
                    "张三",
                    "--password-stdin",
                ],
                pw,
            )
        };
        let out = create("zhang.san", "official,inspector", &format!("{PW}\n"));
        out.ok();
        assert!(out.stdout.contains("已创建用户 zhang.san"), "{l}: {out}");
        let hash = |u: &str| {
            let url = env.db_url();
            let u = u.to_string();
            block_on(async move {
                let mut c = connect(&url).await;
                sqlx::query_scalar::<_, String>(
                    "SELECT password_hash FROM users WHERE username = $1",
                )
                .bind(u)
                .fetch_one(&mut c)
                .await
                .expect("user row")
            })
        };
        let h1 = hash("zhang.san");
        assert!(h1.starts_with("$argon2"), "{l}: {h1}");
        assert!(!h1.contains(PW), "{l}");
        assert_eq!(
            env.scalar("SELECT must_change_password FROM users WHERE username = 'zhang.san'"),
            1,
            "{l}"
        );

        // Weak password: refused with the reason.
        let out = create("li.si", "official", "abc\n");
        out.failed();
        assert!(out.stderr.contains("密码"), "{l}: {out}");
        assert!(out.stderr.contains("weak_password"), "{l}: {out}");
        // Unknown role.
        let out = create("li.si", "wizard", &format!("{PW}\n"));
        out.failed();
        assert!(out.stderr.contains("unknown_role"), "{l}: {out}");
        // Duplicate username.
        let out = create("zhang.san", "official", &format!("{PW}\n"));
        out.failed();
        assert!(out.stderr.contains("duplicate_username"), "{l}: {out}");
        // No password on stdin.
        let out = create("li.si", "official", "");
        out.failed();
        assert!(out.stderr.contains("标准输入中没有密码"), "{l}: {out}");
        // --password-stdin is required.
        env.run(&[
            "user",
            "create",
            "--username",
            "li.si",
            "--role",
            "official",
            "--region",
            "130110",
        ])
        .failed();
        assert_eq!(
            env.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM users WHERE username = 'li.si'"),
            0,
            "{l}: no failed attempt created a user"
        );

        // Reset: a new hash, must change again.
        let reset = |user: &str, pw: &str| env.reset_password(user, pw);
        let out = reset("zhang.san", &format!("{PW2}\r\n"));
        out.ok();
        assert!(out.stdout.contains("zhang.san"), "{l}: {out}");
        let h2 = hash("zhang.san");
        assert_ne!(h1, h2, "{l}: the hash changed");
        assert_eq!(
            env.scalar("SELECT must_change_password FROM users WHERE username = 'zhang.san'"),
            1,
            "{l}"
        );
        // An administrator account is reset here only, and its second factor with it (issue
        // 13): the user sets its own password and enrols a new TOTP at the next login.
        create("aud.cli", "auditor", &format!("{PW}\n")).ok();
        {
            let url = env.db_url();
            block_on(async move {
                let mut c = connect(&url).await;
                sqlx::query("UPDATE users SET totp_enabled = 1, totp_secret = $1 WHERE username = 'aud.cli'")
                    .bind(vec![1u8; 40])
                    .execute(&mut c)
                    .await
                    .expect("enrol");
            });
        }
        let out = reset("aud.cli", &format!("{PW2}\n"));
        out.ok();
        assert!(out.stdout.contains("动态验证码"), "{l}: {out}");
        assert_eq!(
            env.scalar("SELECT totp_enabled FROM users WHERE username = 'aud.cli'"),
            0,
            "{l}: the administrator enrols again"
        );
        // A lost phone: `user reset-totp`.
        let out = env.run(&["user", "reset-totp", "--username", "zhang.san"]);
        out.ok();
        assert!(out.stdout.contains("zhang.san"), "{l}: {out}");
        let out = reset("zhang.san", "short\n");
        out.failed();
        assert!(out.stderr.contains("weak_password"), "{l}: {out}");
        assert_eq!(
            hash("zhang.san"),
            h2,
            "{l}: a refused reset changes nothing"
        );
        let out = reset("nobody", &format!("{PW}\n"));
        out.failed();
        assert!(!out.stderr.is_empty(), "{l}: {out}");
    }
}

#[test]
fn serve_prints_admin_password_once_and_shuts_down_gracefully() {
    for env in envs() {
        let l = env.label();
        // A weak BACKSTOP_INITIAL_ADMIN_PASSWORD is refused before anything listens.
        let mut c = env.cmd(&["serve", "--listen", "127.0.0.1:0"]);
        c.env("BACKSTOP_INITIAL_ADMIN_PASSWORD", "short");
        let out = run(c, None);
        out.failed();
        assert!(
            out.stderr.contains("BACKSTOP_INITIAL_ADMIN_PASSWORD"),
            "{l}: {out}"
        );

        let s = env.serve(&[], &[("BACKSTOP_METRICS_TOKEN", "scrape-token-1")]);
        let line = s
            .seen
            .iter()
            .find(|x| x.contains("admin"))
            .cloned()
            .unwrap_or_else(|| panic!("{l}: no admin password line in {:?}", s.seen));
        let password = line
            .split_whitespace()
            .last()
            .expect("password on the line")
            .to_string();
        assert!(password.len() >= 12, "{l}: {line}");

        let a = agent();
        assert_eq!(get(&a, &s.url("/healthz")), (200, "ok".to_string()), "{l}");
        assert_eq!(get(&a, &s.url("/readyz")).0, 200, "{l}");
        let (st, v) = login(&a, &s, "admin", "wrong-Password-1");
        assert_eq!(st, 401, "{l}: {v}");
        assert_eq!(v["code"], "invalid_credentials", "{l}: {v}");
        let (st, v) = login(&a, &s, "admin", &password);
        assert_eq!(st, 200, "{l}: {v}");
        assert_eq!(v["must_change_password"], true, "{l}: {v}");
        let stage = v["stage"].as_str().unwrap_or_default();
        assert!(
            stage == "need_password_change" || stage == "need_totp_enrollment",
            "{l}: {v}"
        );
        assert!(
            v["token"].as_str().is_some_and(|t| t.len() > 20),
            "{l}: {v}"
        );
        // /metrics only for the configured token (hardening: not served publicly).
        assert_eq!(get(&a, &s.url("/metrics")).0, 401, "{l}");
        let mut r = a
            .get(&s.url("/metrics"))
            .header("Authorization", "Bearer scrape-token-1")
            .call()
            .unwrap_or_else(|e| panic!("{l}: GET /metrics: {e}"));
        let st = r.status().as_u16();
        let metrics = r.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(st, 200, "{l}");
        // One series per route, method and status: their sum is every request answered.
        let requests: u64 = metrics
            .lines()
            .filter(|x| x.starts_with("backstop_http_requests_total{"))
            .filter_map(|x| x.rsplit_once(' ')?.1.trim().parse::<u64>().ok())
            .sum();
        assert!(requests >= 4, "{l}: {metrics}");
        assert!(
            metrics.contains("backstop_http_requests_total{method=\"POST\",route=\"/api/v1/auth/login\",status=\"200\"}"),
            "{l}: {metrics}"
        );

        let (status, lines, stderr) = s.stop();
        assert!(status.success(), "{l}: {status:?}\n{stderr}");
        assert!(stderr.contains("backstop stopped"), "{l}: {stderr}");
        assert_eq!(
            lines.iter().filter(|x| x.contains("admin")).count(),
            1,
            "{l}: {lines:?}"
        );

        // Second start, JSON logs: no new password, every stderr line is a JSON object.
        let s = env.serve(&["--log-format", "json"], &[]);
        assert!(
            !s.seen.iter().any(|x| x.contains("admin")),
            "{l}: {:?}",
            s.seen
        );
        assert_eq!(get(&a, &s.url("/healthz")).0, 200, "{l}");
        let (st, v) = login(&a, &s, "admin", &password);
        assert_eq!(st, 200, "{l}: the first password still works: {v}");
        let (status, lines, stderr) = s.stop();
        assert!(status.success(), "{l}: {status:?}\n{stderr}");
        assert!(!lines.iter().any(|x| x.contains("admin")), "{l}: {lines:?}");
        let mut messages = Vec::new();
        for line in stderr.lines().filter(|x| !x.trim().is_empty()) {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{l}: stderr line is not JSON ({e}): {line}"));
            assert!(v.is_object(), "{l}: {line}");
            if let Some(m) = v["fields"]["message"].as_str() {
                messages.push(m.to_string());
            }
        }
        assert!(
            messages.iter().any(|m| m == "backstop serving"),
            "{l}: {stderr}"
        );
        assert!(
            messages.iter().any(|m| m == "backstop stopped"),
            "{l}: {stderr}"
        );
        assert!(
            !stderr.contains(&password),
            "{l}: the password is never logged"
        );
        assert_eq!(
            env.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM users WHERE username = 'admin'"),
            1,
            "{l}"
        );
    }
}

#[test]
fn audit_verify_detects_tampering() {
    for env in envs() {
        let l = env.label();
        env.import_fixture();
        env.create_user("wang.wu", "auditor", "0", PW).ok();
        env.reset_password("wang.wu", PW2).ok();
        let n = env.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log");
        assert!(n >= 3, "{l}: {n} audit entries");
        let out = env.run(&["audit", "verify"]);
        out.ok();
        assert!(out.stdout.contains("审计链完整"), "{l}: {out}");
        assert!(out.stdout.contains(&format!("{n} 条")), "{l}: {out}");

        // The middle entry: the one the user was created by.
        let id =
            env.scalar("SELECT id FROM audit_log WHERE action = 'user.create' ORDER BY id LIMIT 1");
        let tamper =
            format!("UPDATE audit_log SET detail = '{{\"tampered\":true}}' WHERE id = {id}");
        // The database refuses the update while the append-only trigger is there.
        assert!(
            env.exec(&tamper).is_err(),
            "{l}: audit_log must be append-only"
        );
        env.run(&["audit", "verify"]).ok();
        match env.kind {
            Kind::Sqlite => env.exec("DROP TRIGGER audit_log_no_update"),
            Kind::Postgres => env.exec("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"),
        }
        .unwrap_or_else(|e| panic!("{l}: {e}"));
        assert_eq!(env.exec(&tamper), Ok(1), "{l}");

        let out = env.run(&["audit", "verify"]);
        assert_eq!(out.code(), Some(2), "{l}: {out}");
        assert!(out.stdout.contains("审计链断裂"), "{l}: {out}");
        assert!(out.stdout.contains(&format!("id={id}")), "{l}: {out}");
    }
}

#[test]
fn initial_admin_password_from_env_and_backup() {
    for env in envs() {
        let l = env.label();
        let s = env.serve(&[], &[("BACKSTOP_INITIAL_ADMIN_PASSWORD", PW)]);
        assert!(
            !s.seen.iter().any(|x| x.contains("admin") || x.contains(PW)),
            "{l}: a given password is not printed: {:?}",
            s.seen
        );
        let a = agent();
        let (st, v) = login(&a, &s, "admin", PW);
        assert_eq!(st, 200, "{l}: {v}");
        assert_eq!(v["must_change_password"], true, "{l}: {v}");

        match env.kind {
            Kind::Sqlite => {
                // Online backup while the service runs.
                let out = env.run(&["backup", "snap.db"]);
                out.ok();
                let snap = env.path().join("snap.db");
                assert!(snap.is_file(), "{l}: {out}");
                let (status, _, stderr) = s.stop();
                assert!(status.success(), "{l}: {stderr}");

                let url = format!("sqlite://{}?mode=ro", snap.display());
                block_on(async {
                    let mut c = connect(&url).await;
                    let users: Vec<String> = sqlx::query_scalar("SELECT username FROM users")
                        .fetch_all(&mut c)
                        .await
                        .expect("users in the backup");
                    assert_eq!(users, vec!["admin".to_string()], "{l}");
                    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
                        .fetch_one(&mut c)
                        .await
                        .expect("integrity_check");
                    assert_eq!(check, "ok", "{l}");
                });

                // Never overwrites.
                let before = std::fs::read(&snap).expect("read backup");
                let out = env.run(&["backup", "snap.db"]);
                out.failed();
                assert!(out.stderr.contains("已存在"), "{l}: {out}");
                assert_eq!(std::fs::read(&snap).expect("read backup"), before, "{l}");
            }
            Kind::Postgres => {
                let (status, _, stderr) = s.stop();
                assert!(status.success(), "{l}: {stderr}");
                let out = env.run(&["backup", "snap.db"]);
                assert_eq!(out.code(), Some(2), "{l}: {out}");
                assert!(out.stdout.contains("pg_dump"), "{l}: {out}");
                assert!(!env.path().join("snap.db").exists(), "{l}");
            }
        }
    }
}

/// POST a report with a bearer token and an idempotency key; `None` when the connection
/// failed (the server was killed).
fn post_report(
    agent: &ureq::Agent,
    url: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> Option<(u16, Value)> {
    let mut r = agent
        .post(url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Idempotency-Key", key)
        .send_json(body)
        .ok()?;
    let status = r.status().as_u16();
    Some((
        status,
        r.body_mut().read_json::<Value>().unwrap_or(Value::Null),
    ))
}

/// Accepted means durable: `kill -9` of the server in the middle of a burst of submissions
/// loses none that was answered 2xx, the rollups still match the stored rows, and retries with
/// the same idempotency keys after the restart never create a second submission.
#[test]
fn kill_9_during_a_report_burst_loses_no_acknowledged_submission() {
    for env in envs() {
        let label = env.label();
        env.import_fixture();
        env.create_user("county.k", "official", "130110", PW).ok();
        let villages: Vec<String> = block_on(async {
            let mut c = connect(&env.db_url()).await;
            sqlx::query_scalar("SELECT code FROM regions WHERE level = 'village' AND code >= '130110' AND code < '130110:' ORDER BY code")
                .fetch_all(&mut c)
                .await
                .expect("villages")
        });
        assert_eq!(villages.len(), 232, "{label}");
        let mut server = env.serve(&[], &[("BACKSTOP_INITIAL_ADMIN_PASSWORD", PW2)]);
        let http = agent();
        let (s, b) = login(&http, &server, "county.k", PW);
        assert_eq!(s, 200, "{label}: {b}");
        let first = b["token"].as_str().expect("token").to_string();
        let mut r = http
            .post(&server.url("/api/v1/auth/password"))
            .header("Authorization", &format!("Bearer {first}"))
            .send_json(json!({"old_password": PW, "new_password": PW2}))
            .expect("change password");
        assert_eq!(r.status().as_u16(), 200, "{label}");
        let token = r.body_mut().read_json::<Value>().expect("json")["token"]
            .as_str()
            .expect("token")
            .to_string();
        let secret = enrol_totp(&http, &server, &token);
        let today = chrono_today();
        let url = server.url("/api/v1/reports");
        let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, i64)>::new()));
        let mut workers = Vec::new();
        for part in 0..4 {
            let mine: Vec<String> = villages.iter().skip(part).step_by(4).cloned().collect();
            let (url, token, acked, today) =
                (url.clone(), token.clone(), acked.clone(), today.clone());
            workers.push(std::thread::spawn(move || {
                let agent = agent();
                for v in mine {
                    let body = json!({"template": "village_daily", "unit": v, "period": today, "values": {
                        "households_screened": 10, "people_screened": 30, "close_contacts": 1, "home_observation": 1,
                        "released": 0, "fever_referred": 0}});
                    match post_report(&agent, &url, &token, &format!("crash-{v}"), &body) {
                        Some((201, b)) => acked.lock().expect("lock").push((v, b["id"].as_i64().unwrap_or(0))),
                        Some((s, b)) => panic!("unexpected {s}: {b}"),
                        None => return,
                    }
                }
            }));
        }
        // Let part of the burst through, then kill the server without warning.
        let start = Instant::now();
        while acked.lock().expect("lock").len() < 30 && start.elapsed() < TIMEOUT {
            std::thread::sleep(Duration::from_millis(5));
        }
        server.child.kill().expect("kill -9");
        let _ = server.child.wait();
        for w in workers {
            w.join().expect("worker");
        }
        drop(server);
        let acked = acked.lock().expect("lock").clone();
        assert!(
            acked.len() >= 30,
            "{label}: burst too small ({})",
            acked.len()
        );
        assert!(
            acked.len() < villages.len(),
            "{label}: the kill came too late to test anything"
        );
        // Every acknowledged submission is there, with the id it was given.
        let stored: Vec<(String, i64)> = block_on(async {
            let mut c = connect(&env.db_url()).await;
            sqlx::query_as(
                "SELECT unit, id FROM report_submissions WHERE template_key = 'village_daily'",
            )
            .fetch_all(&mut c)
            .await
            .expect("stored")
        });
        let rolled_sql = "SELECT CAST(SUM(received) AS BIGINT) FROM report_rollup_counts WHERE template_key = 'village_daily' AND code = '0'";
        let rolled = env.scalar(rolled_sql);
        for a in &acked {
            assert!(
                stored.contains(a),
                "{label}: acknowledged submission {a:?} lost"
            );
        }
        assert_eq!(
            rolled,
            stored.len() as i64,
            "{label}: rollup matches stored rows"
        );
        // After a restart, retrying everything with the same keys completes the set, once.
        let server = env.serve(&[], &[]);
        let http = agent();
        // The next step's code (the enrolment used this one; one step of skew is accepted).
        let (s, b) = post_json(
            &http,
            &server.url("/api/v1/auth/login"),
            json!({"username": "county.k", "password": PW2, "totp": code_now(&secret, 30)}),
        );
        assert_eq!(s, 200, "{label}: {b}");
        let token = b["token"].as_str().expect("token").to_string();
        for v in &villages {
            let body = json!({"template": "village_daily", "unit": v, "period": today, "values": {
                "households_screened": 10, "people_screened": 30, "close_contacts": 1, "home_observation": 1,
                "released": 0, "fever_referred": 0}});
            let (s, b) = post_report(
                &http,
                &server.url("/api/v1/reports"),
                &token,
                &format!("crash-{v}"),
                &body,
            )
            .expect("answer");
            assert!(s == 200 || s == 201, "{label}: retry {v}: {s} {b}");
            if let Some((_, id)) = acked.iter().find(|(u, _)| u == v) {
                assert_eq!(
                    b["id"].as_i64(),
                    Some(*id),
                    "{label}: retry of an acknowledged report returns it"
                );
            }
        }
        let n = env.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM report_submissions");
        let rolled = env.scalar(rolled_sql);
        assert_eq!(
            n,
            villages.len() as i64,
            "{label}: one submission per village"
        );
        assert_eq!(rolled, n, "{label}");
        let (status, _, _) = server.stop();
        assert!(status.success(), "{label}");
    }
}

/// Today's date in Beijing (the server's reporting day).
fn chrono_today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + 8 * 3600;
    let days = secs.div_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

#[test]
fn persons_import_reads_an_xlsx_roster() {
    let roster = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/roster.xlsx");
    let roster = roster.to_str().expect("utf-8 path");
    let regions = fixtures();
    for env in envs() {
        let l = env.label();
        env.run(&["regions", "import", regions.to_str().expect("utf-8")])
            .ok();
        // Row 2 is good (its birth date an Excel serial); row 3's ID was stored as a number.
        let out = env.run(&["persons", "import", roster, "--good-rows"]);
        assert_eq!(out.code(), Some(2), "{l}: {out}");
        assert!(
            out.stdout.contains("格式 xlsx") && out.stdout.contains("新增 1"),
            "{l}: {out}"
        );
        assert!(
            out.stderr.contains("第 3 行") && out.stderr.contains("文本"),
            "{l}: {out}"
        );
        assert_eq!(
            env.scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM persons WHERE birth_year = 1980 AND birth_date = ''"
            ),
            1,
            "{l}"
        );
    }
}

/// `backstop payments generate` makes the month's roll once (a second one is refused in
/// Chinese), counting who was left out; `payments export` holds the operator to the same
/// separation of duties (not the roll's generator, only once approved) and refuses a roll
/// whose people have no confirmed account; nothing is overwritten.
#[test]
fn payments_generate_and_export() {
    for env in envs() {
        let l = env.label();
        env.import_fixture();
        for (id, name, status) in [
            (1, "甲", "active"),
            (2, "乙", "active"),
            (3, "丙", "suspended"),
        ] {
            env.exec(&format!(
                "INSERT INTO persons (id, region_code, name, created_at, updated_at) \
                 VALUES ({id}, '130110100001', '{name}', 0, 0)"
            ))
            .expect("person");
            env.exec(&format!(
                "INSERT INTO assistance_beneficiaries (province, programme, county_code, \
                 region_code, person_id, members, area_kind, monthly_amount_fen, status, \
                 since_month, created_at, updated_at) VALUES ('13', 'dibao', '130110', \
                 '130110100001', {id}, 1, 'urban', {}, '{status}', '2019-01', 0, 0)",
                10_000 * id
            ))
            .expect("beneficiary");
        }
        let gen_args = [
            "payments",
            "generate",
            "--county",
            "130110",
            "--programme",
            "dibao",
            "--month",
            "2020-02",
            "--pay-date",
            "2020-01-21",
        ];
        let out = env.run(&gen_args);
        out.ok();
        assert!(
            out.stdout.contains("2 笔") && out.stdout.contains("300.00"),
            "{l}: {out}"
        );
        assert!(
            out.stdout.contains("提前发放") && out.stdout.contains("暂停 1"),
            "{l}: {out}"
        );
        let again = env.run(&gen_args);
        again.failed();
        assert!(again.stderr.contains("已经生成"), "{l}: {again}");
        assert_eq!(
            env.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM payment_rolls"),
            1,
            "{l}"
        );
        let roll = env.scalar("SELECT MAX(id) FROM payment_rolls").to_string();
        let file = env.path().join("bank.csv");
        let file_s = file.to_str().expect("utf-8");
        let export = [
            "payments",
            "export",
            "--roll",
            roll.as_str(),
            "--out",
            file_s,
        ];
        let out = env.run(&export);
        out.failed();
        assert!(out.stderr.contains("不能由您导出"), "{l}: {out}");
        env.exec("UPDATE payment_rolls SET generated_by = 'lq_off'")
            .expect("update");
        let out = env.run(&export);
        out.failed();
        assert!(out.stderr.contains("审批后"), "{l}: {out}");
        env.exec("UPDATE payment_rolls SET status = 'approved'")
            .expect("update");
        let out = env.run(&export);
        out.failed();
        assert!(out.stderr.contains("收款账户"), "{l}: {out}");
        assert!(!file.exists(), "{l}");
    }
}

/// `backstop node issue` for 鹿泉区; the credential it printed once.
fn issue_node(env: &Env) -> String {
    let out = env.run(&[
        "node",
        "issue",
        "--region",
        "130110",
        "--name",
        "鹿泉区民政局",
    ]);
    out.ok();
    out.stdout
        .split_whitespace()
        .find_map(|w| w.split('：').find(|p| p.starts_with("bsn_")))
        .unwrap_or_else(|| panic!("{}: no credential in {out}", env.label()))
        .to_string()
}

/// `backstop node …` (issue 20, first slice): a parent issues a child node for a county (the
/// credential printed once, only its hash stored), lists it, refuses a second for the same
/// county, rotates and revokes it; an unknown region is refused in Chinese.
#[test]
fn node_issue_list_rotate_revoke() {
    for env in envs() {
        let l = env.label();
        env.import_fixture();
        let cred = issue_node(&env);
        assert_eq!(
            env.scalar(&format!(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM fed_nodes WHERE secret_hash = '{cred}'"
            )),
            0,
            "{l}: the credential itself is not stored"
        );
        let out = env.run(&["node", "list"]);
        out.ok();
        assert!(
            out.stdout.contains("鹿泉区民政局") && out.stdout.contains("从未"),
            "{l}: {out}"
        );
        let out = env.run(&["node", "issue", "--region", "130110", "--name", "再一个"]);
        out.failed();
        assert!(out.stderr.contains("已有有效的下级节点"), "{l}: {out}");
        env.run(&["node", "issue", "--region", "999999", "--name", "x"])
            .failed();
        let out = env.run(&["node", "rotate", "--id", "1"]);
        out.ok();
        assert!(
            out.stdout.contains("bsn_1_") && !out.stdout.contains(&cred),
            "{l}: {out}"
        );
        env.run(&["node", "revoke", "--id", "1"]).ok();
        env.run(&["node", "revoke", "--id", "1"]).failed();
        assert!(env.run(&["node", "list"]).stdout.contains("已吊销"), "{l}");
        assert_eq!(
            env.scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action LIKE 'federation.node_%'"
            ),
            3,
            "{l}"
        );
    }
}

/// `backstop node register|status|sync` at a child (issue 20): a county on SQLite registers
/// the parent (this backend, served) with the credential the parent issued — a wrong one, an
/// unreadable or non-PEM root certificate refused in Chinese, nothing stored — then shows the link and syncs. The
/// data flow itself (reports up, an outage, nothing counted twice) is tested in the app's
/// `federation` tests.
#[test]
fn node_register_status_sync_at_a_child() {
    for parent in envs() {
        let l = parent.label();
        parent.import_fixture();
        let cred = issue_node(&parent);
        let server = parent.serve(&[], &[]);
        let url = format!("http://127.0.0.1:{}", server.port);
        let county = Env::new(Kind::Sqlite, None);
        county.import_fixture();
        let out = county.run(&["node", "status"]);
        out.ok();
        assert!(out.stdout.contains("未登记上级部署"), "{l}: {out}");
        let out = county.run(&[
            "node",
            "register",
            "--parent",
            "https://province.example",
            "--credential",
            &cred,
            "--ca-file",
            "/nonexistent/ca.pem",
        ]);
        out.failed();
        assert!(out.stderr.contains("无法读取根证书文件"), "{l}: {out}");
        let not_pem = county.dir.path().join("not-a-ca.pem");
        std::fs::write(&not_pem, "这不是证书").expect("write");
        let out = county.run(&[
            "node",
            "register",
            "--parent",
            &url,
            "--credential",
            &cred,
            "--ca-file",
            &not_pem.display().to_string(),
        ]);
        out.failed();
        assert!(out.stderr.contains("PEM"), "{l}: {out}");
        let mut wrong = cred.clone();
        wrong.pop();
        wrong.push('x');
        let out = county.run(&["node", "register", "--parent", &url, "--credential", &wrong]);
        out.failed();
        assert!(out.stderr.contains("节点凭据无效"), "{l}: {out}");
        assert_eq!(
            county.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM fed_parent"),
            0,
            "{l}"
        );
        let out = county.run(&["node", "register", "--parent", &url, "--credential", &cred]);
        out.ok();
        assert!(
            out.stdout.contains("已登记上级部署") && out.stdout.contains("鹿泉区民政局"),
            "{l}: {out}"
        );
        let out = county.run(&["node", "status"]);
        out.ok();
        assert!(
            out.stdout.contains(&url) && out.stdout.contains("待上报 0 条"),
            "{l}: {out}"
        );
        let out = county.run(&["node", "sync"]);
        out.ok();
        assert!(
            out.stdout.contains("已同步") && out.stdout.contains("待上报 0 条"),
            "{l}: {out}"
        );
        let out = county.run(&["node", "status"]);
        assert!(
            !out.stdout.contains("最近成功：从未"),
            "{l}: a successful sync is recorded: {out}"
        );
        drop(server);
    }
}

/// `backstop bookings …` (issue 19): an operator blocks a registry's day (the second time is
/// refused in Chinese), designates the registry for marriages involving foreigners or residents
/// of Hong Kong, Macao and Taiwan and withdraws it, and sets where couples may register in a
/// county (an unknown rule or region refused, nothing written); each change is audited.
#[test]
fn bookings_block_designate_and_place_rule() {
    for env in envs() {
        let l = env.label();
        env.import_fixture();
        env.exec(
            "INSERT INTO orgs (id, name, kind, region_code, created_at, updated_at) \
             VALUES (901, '鹿泉区婚姻登记处', 'marriage_registry', '130110100', 0, 0)",
        )
        .unwrap_or_else(|e| panic!("{l}: {e}"));
        let out = env.run(&[
            "bookings",
            "block",
            "--org",
            "901",
            "--date",
            "2030-01-15",
            "--reason",
            "疫情防控暂停办理",
        ]);
        out.ok();
        assert!(out.stdout.contains("0 件预约移入改约"), "{l}: {out}");
        let out = env.run(&[
            "bookings",
            "block",
            "--org",
            "901",
            "--date",
            "2030-01-15",
            "--reason",
            "再次",
        ]);
        out.failed();
        assert!(out.stderr.contains("已停办"), "{l}: {out}");

        env.run(&["bookings", "designate", "--org", "901"]).ok();
        let out = env.run(&["bookings", "designate", "--org", "901", "--withdraw"]);
        out.ok();
        assert!(out.stdout.contains("已撤销指定"), "{l}: {out}");
        assert_eq!(
            env.scalar(
                "SELECT CAST(designated AS BIGINT) FROM booking_designations WHERE org_id = 901"
            ),
            0,
            "{l}"
        );

        let out = env.run(&[
            "bookings",
            "place-rule",
            "--region",
            "130110",
            "--rule",
            "province",
        ]);
        out.failed();
        assert!(
            out.stderr.contains("婚姻登记地规则") || out.stderr.contains("全国通办"),
            "{l}: {out}"
        );
        env.run(&[
            "bookings",
            "place-rule",
            "--region",
            "999999",
            "--rule",
            "household",
        ])
        .failed();
        assert_eq!(
            env.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM booking_place_rules"),
            0,
            "{l}"
        );
        let out = env.run(&[
            "bookings",
            "place-rule",
            "--region",
            "130110",
            "--rule",
            "household",
        ]);
        out.ok();
        assert!(out.stdout.contains("一方常住户口所在地"), "{l}: {out}");
        assert_eq!(
            env.scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM booking_place_rules \
                 WHERE region_code = '130110' AND rule = 'household'"
            ),
            1,
            "{l}"
        );
        assert_eq!(
            env.scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action IN \
                 ('booking.block', 'booking.designation', 'booking.place_rule')"
            ),
            4,
            "{l}"
        );
    }
}

/// `backstop ledger verify` (issue 18): a small consistent donation ledger verifies; a
/// deliberately corrupted ledger line makes it exit 2 naming the unbalanced entry.
#[test]
fn ledger_verify_detects_a_corrupted_line() {
    for env in envs() {
        let l = env.label();
        env.import_fixture();
        for sql in [
            "INSERT INTO donation_campaigns (id, region_code, name, starts_on, ends_on, no_fee, directed_only, \
             created_by, created_at, updated_at) VALUES (1, '130110', '抗疫', '2026-01-01', '2026-12-31', 1, 1, 't', 0, 0)",
            "INSERT INTO donation_receipts (province, id, campaign_id, org_id, region_code, receipt_no, received_on, \
             donor_kind, publish_consent, money_fen, goods_value_fen, created_by, created_at) \
             VALUES ('13', 1, 1, 1, '130110', 'R1', '2026-03-01', 'anonymous', 0, 0, 35000, 't', 0)",
            "INSERT INTO donation_lines (province, id, receipt_id, campaign_id, org_id, region_code, kind, category, \
             quantity, unit, unit_value_fen, value_fen, created_at) \
             VALUES ('13', 1, 1, 1, 1, '130110', 'goods', 'mask_n95', 100, '只', 350, 35000, 0)",
            "INSERT INTO ledger_entries (province, id, campaign_id, seq, org_id, region_code, kind, receipt_id, \
             entered_by, created_at) VALUES ('13', 1, 1, 1, 1, '130110', 'receive', 1, 't', 0)",
            "INSERT INTO ledger_lines (province, id, entry_id, line_id, account, quantity, value_fen) \
             VALUES ('13', 1, 1, 1, 'donor', -100, -35000)",
            "INSERT INTO ledger_lines (province, id, entry_id, line_id, account, quantity, value_fen) \
             VALUES ('13', 2, 1, 1, 'stock', 100, 35000)",
        ] {
            env.exec(sql).unwrap_or_else(|e| panic!("{l}: {sql}: {e}"));
        }
        let out = env.run(&["ledger", "verify"]);
        out.ok();
        assert!(out.stdout.contains("核验通过"), "{l}: {out}");
        assert_eq!(
            env.exec("UPDATE ledger_lines SET quantity = 190 WHERE id = 2"),
            Ok(1),
            "{l}"
        );
        let out = env.run(&["ledger", "verify"]);
        assert_eq!(out.code(), Some(2), "{l}: {out}");
        assert!(out.stdout.contains("记账不平"), "{l}: {out}");
    }
}

/// `backstop ledger verify --feed … --head …` (issue 18 item 6): from the public feed alone
/// (no database), an intact feed — fetched from the server's URL, or saved to a file —
/// verifies against the head signed by `ledger sign-head` (which first publishes the entries
/// loaded in bulk); a saved feed with a published entry altered, or one removed, exits 2
/// naming the entry.
#[test]
fn ledger_verify_feed_detects_an_altered_or_removed_entry() {
    for env in envs() {
        let l = env.label();
        env.import_fixture();
        let mut sqls = vec![
            "INSERT INTO orgs (id, name, kind, region_code, created_at, updated_at) \
             VALUES (1, '鹿泉区红十字会', 'charity', '130110', 0, 0)"
                .to_string(),
            "INSERT INTO donation_campaigns (id, region_code, name, starts_on, ends_on, no_fee, directed_only, \
             created_by, created_at, updated_at) VALUES (1, '130110', '抗疫', '2026-01-01', '2026-12-31', 1, 1, 't', 0, 0)"
                .to_string(),
            "INSERT INTO ledger_seqs (province, campaign_id, last_seq) VALUES ('13', 1, 2)".to_string(),
        ];
        for (n, qty) in [(1, 100), (2, 40)] {
            let value = qty * 350;
            sqls.extend([
                format!(
                    "INSERT INTO donation_receipts (province, id, campaign_id, org_id, region_code, receipt_no, \
                     received_on, donor_kind, publish_consent, money_fen, goods_value_fen, created_by, created_at) \
                     VALUES ('13', {n}, 1, 1, '130110', 'R{n}', '2026-03-01', 'anonymous', 0, 0, {value}, 't', 0)"
                ),
                format!(
                    "INSERT INTO donation_lines (province, id, receipt_id, campaign_id, org_id, region_code, kind, \
                     category, quantity, unit, unit_value_fen, value_fen, created_at) \
                     VALUES ('13', {n}, {n}, 1, 1, '130110', 'goods', 'mask_n95', {qty}, '只', 350, {value}, 0)"
                ),
                format!(
                    "INSERT INTO ledger_entries (province, id, campaign_id, seq, org_id, region_code, kind, \
                     receipt_id, entered_by, created_at) VALUES ('13', {n}, 1, {n}, 1, '130110', 'receive', {n}, 't', 0)"
                ),
                format!(
                    "INSERT INTO ledger_lines (province, id, entry_id, line_id, account, quantity, value_fen) \
                     VALUES ('13', {}, {n}, {n}, 'donor', -{qty}, -{value})",
                    2 * n - 1
                ),
                format!(
                    "INSERT INTO ledger_lines (province, id, entry_id, line_id, account, quantity, value_fen) \
                     VALUES ('13', {}, {n}, {n}, 'stock', {qty}, {value})",
                    2 * n
                ),
            ]);
        }
        for sql in &sqls {
            env.exec(sql).unwrap_or_else(|e| panic!("{l}: {sql}: {e}"));
        }
        let out = env.run(&["ledger", "sign-head"]);
        out.ok();
        assert!(out.stdout.contains("已公开 2 条"), "{l}: {out}");
        let server = env.serve(&[], &[]);
        let agent = agent();
        let feed_url = server.url("/public/donations/1/feed");
        let (s, feed) = get(&agent, &feed_url);
        assert_eq!(s, 200, "{l}: {feed}");
        let (s, heads) = get(&agent, &server.url("/public/donations/1/heads"));
        assert_eq!(s, 200, "{l}: {heads}");
        let (s, key) = get(&agent, &server.url("/public/donations/key"));
        assert_eq!(s, 200, "{l}: {key}");
        let write = |name: &str, text: &str| -> String {
            let p = env.path().join(name);
            std::fs::write(&p, text).expect("write");
            p.to_str().expect("utf-8").to_string()
        };
        let head_file = write("head.json", &heads);
        let key_file = write("key.json", &key);
        // Intact, from the URL (the key fetched from the same server) and from a saved file.
        let out = env.run(&[
            "ledger", "verify", "--feed", &feed_url, "--head", &head_file,
        ]);
        out.ok();
        assert!(
            out.stdout.contains("核验通过") && out.stdout.contains("2 条记账"),
            "{l}: {out}"
        );
        let saved = write("feed.json", &feed);
        let args = |f: &str| -> Vec<String> {
            [
                "ledger", "verify", "--feed", f, "--head", &head_file, "--key", &key_file,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let run = |f: &str| {
            let a = args(f);
            env.run(&a.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let out = run(&saved);
        out.ok();
        assert!(out.stdout.contains("核验通过"), "{l}: {out}");
        let feed: Value = serde_json::from_str(&feed).expect("feed json");
        assert_eq!(
            feed["entries"].as_array().map(Vec::len),
            Some(2),
            "{l}: {feed}"
        );
        // A published quantity quietly changed: exit 2 naming entry 1.
        let mut altered = feed.clone();
        altered["entries"][0]["entry"]["lines"][1]["quantity"] = json!(1000);
        let out = run(&write("altered.json", &altered.to_string()));
        assert_eq!(out.code(), Some(2), "{l}: {out}");
        assert!(
            out.stdout.contains("第 1 条记账内容与其哈希不符"),
            "{l}: {out}"
        );
        // Entry 1 removed: exit 2 naming it as missing.
        let mut removed = feed.clone();
        if let Some(a) = removed["entries"].as_array_mut() {
            a.remove(0);
        }
        let out = run(&write("removed.json", &removed.to_string()));
        assert_eq!(out.code(), Some(2), "{l}: {out}");
        assert!(out.stdout.contains("第 1 条记账缺失"), "{l}: {out}");
        // The last entry removed (the feed stops short of the signed head): exit 2.
        let mut cut = feed.clone();
        if let Some(a) = cut["entries"].as_array_mut() {
            a.pop();
        }
        let out = run(&write("cut.json", &cut.to_string()));
        assert_eq!(out.code(), Some(2), "{l}: {out}");
        assert!(
            out.stdout.contains("第 2 条") && out.stdout.contains("删除"),
            "{l}: {out}"
        );
        drop(server);
    }
}
