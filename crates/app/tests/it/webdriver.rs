//! A tiny blocking W3C WebDriver client for the browser test: chromedriver + headless Chromium.
//!
//! `Driver::start` returns `None` when `BACKSTOP_TEST_CHROMEDRIVER` is unset (scripts/test.sh
//! sets it, and `BACKSTOP_TEST_CHROMIUM`, when chromium and chromium-driver are installed), so a
//! test can skip itself. Every other method panics with a readable message on failure: this is
//! test code. Only `ureq` and `serde_json` are used.

// A helper module of the integration-test binary: not every test uses every method.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::fmt;
use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The W3C key under which an element reference is returned.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const FIND_TIMEOUT: Duration = Duration::from_secs(5);
const TEXT_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);

/// A chromedriver process with one open browser session.
pub struct Driver {
    child: Child,
    agent: ureq::Agent,
    /// `http://127.0.0.1:PORT`
    base: String,
    session: String,
    /// Temporary directory holding the Chromium profile and the chromedriver log.
    dir: PathBuf,
}

/// An element of the current page, found by [`Driver::find`] or [`Driver::find_all`].
pub struct Element<'a> {
    driver: &'a Driver,
    id: String,
    /// The selector it was found with, for error messages.
    css: String,
}

/// A failed WebDriver command.
#[derive(Debug)]
struct WdError {
    /// The W3C error code ("no such element", "stale element reference", ...) or "transport".
    error: String,
    message: String,
}

impl fmt::Display for WdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first_line = self.message.lines().next().unwrap_or_default();
        if first_line.starts_with(&self.error) {
            f.write_str(first_line)
        } else {
            write!(f, "{}: {}", self.error, first_line)
        }
    }
}

impl Driver {
    /// Starts chromedriver (`BACKSTOP_TEST_CHROMEDRIVER`) on a free port and opens a headless
    /// Chromium session (`BACKSTOP_TEST_CHROMIUM` if set) with a fresh profile and a window
    /// whose viewport (`window.innerWidth` x `window.innerHeight`) is `width`x`height` CSS
    /// pixels. Returns `None` if `BACKSTOP_TEST_CHROMEDRIVER` is unset.
    pub fn start(width: u32, height: u32) -> Option<Driver> {
        let chromedriver =
            std::env::var_os("BACKSTOP_TEST_CHROMEDRIVER").filter(|v| !v.is_empty())?;
        let chromium = std::env::var("BACKSTOP_TEST_CHROMIUM")
            .ok()
            .filter(|v| !v.is_empty());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();

        // Pick a free port, then start chromedriver on it; retry if someone else grabbed it.
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let dir = fresh_temp_dir();
            let port = free_port();
            let log_path = dir.join("chromedriver.log");
            let log = std::fs::File::create(&log_path).expect("create chromedriver log file");
            let log_err = log.try_clone().expect("clone chromedriver log file");
            let child = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run chromedriver {chromedriver:?}: {e}"));
            // From here on, dropping `driver` kills chromedriver and removes `dir`.
            let mut driver = Driver {
                child,
                agent: agent.clone(),
                base: format!("http://127.0.0.1:{port}"),
                session: String::new(),
                dir,
            };
            match driver.wait_ready() {
                Ok(()) => {
                    driver.open_session(chromium.as_deref(), width, height);
                    return Some(driver);
                }
                Err(e) => last_err = format!("{e}\n{}", driver.log_tail()),
            }
        }
        panic!("chromedriver {chromedriver:?} did not become ready: {last_err}");
    }

    /// Navigates to `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.cmd_ok(
            "POST",
            "/url",
            Some(json!({ "url": url })),
            &format!("goto {url}"),
        );
    }

    pub fn current_url(&self) -> String {
        as_string(self.cmd_ok("GET", "/url", None, "current_url"))
    }

    /// Finds the first element matching `css`, polling for up to 5 s.
    pub fn find(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + FIND_TIMEOUT;
        loop {
            match self.cmd("POST", "/element", Some(by_css(css))) {
                Ok(v) => return self.element(&v, css),
                Err(e) if e.error == "no such element" && Instant::now() < deadline => sleep(POLL),
                Err(e) => panic!(
                    "find({css:?}) failed after {FIND_TIMEOUT:?}: {e}\n{}",
                    self.context()
                ),
            }
        }
    }

    /// All elements matching `css` right now (no waiting).
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        match self.cmd_ok(
            "POST",
            "/elements",
            Some(by_css(css)),
            &format!("find_all({css:?})"),
        ) {
            Value::Array(items) => items.iter().map(|v| self.element(v, css)).collect(),
            other => panic!("find_all({css:?}): unexpected response {other}"),
        }
    }

    /// Whether an element matches `css` right now (no waiting).
    pub fn exists(&self, css: &str) -> bool {
        !self.find_all(css).is_empty()
    }

    /// Polls for up to 10 s until an element matching `css` has text containing `needle`.
    pub fn wait_for_text(&self, css: &str, needle: &str) {
        let deadline = Instant::now() + TEXT_TIMEOUT;
        let mut seen: Vec<String>;
        loop {
            seen = Vec::new();
            if let Ok(Value::Array(items)) = self.cmd("POST", "/elements", Some(by_css(css))) {
                for item in &items {
                    let Some(id) = item.get(ELEMENT_KEY).and_then(Value::as_str) else {
                        continue;
                    };
                    // The page may change under us: a stale element is just skipped.
                    if let Ok(v) = self.cmd("GET", &format!("/element/{id}/text"), None) {
                        let text = as_string(v);
                        if text.contains(needle) {
                            return;
                        }
                        seen.push(text);
                    }
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            sleep(POLL);
        }
        let seen = if seen.is_empty() {
            "no element matched".to_owned()
        } else {
            seen.iter()
                .map(|t| format!("  {:?}", excerpt(t, 300)))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "wait_for_text({css:?}, {needle:?}): not found within {TEXT_TIMEOUT:?}; saw:\n{seen}\n{}",
            self.context()
        );
    }

    pub fn page_source(&self) -> String {
        as_string(self.cmd_ok("GET", "/source", None, "page_source"))
    }

    /// Runs `script` (a function body: use `return` and `arguments[i]`) in the page.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        let body = json!({ "script": script, "args": args });
        self.cmd_ok(
            "POST",
            "/execute/sync",
            Some(body),
            &format!("execute({})", excerpt(script, 80)),
        )
    }

    /// A PNG screenshot of the viewport.
    pub fn screenshot_png(&self) -> Vec<u8> {
        let b64 = as_string(self.cmd_ok("GET", "/screenshot", None, "screenshot"));
        base64_decode(&b64).expect("screenshot is not valid base64")
    }

    // --- internals -----------------------------------------------------------------------

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("chromedriver exited with {status}"));
            }
            if let Ok(v) = self.raw("GET", &format!("{}/status", self.base), None)
                && v.get("ready").and_then(Value::as_bool) == Some(true)
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err("timed out waiting for /status".to_owned());
            }
            sleep(POLL);
        }
    }

    fn open_session(&mut self, chromium: Option<&str>, width: u32, height: u32) {
        let profile = self.dir.join("profile");
        let mut options = json!({
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--password-store=basic",
                format!("--user-data-dir={}", profile.display()),
                format!("--window-size={width},{height}"),
            ],
        });
        if let Some(binary) = chromium {
            options["binary"] = json!(binary);
        }
        // Downloads land in the session's own directory, without asking (see `downloaded`).
        options["prefs"] = json!({
            "download.default_directory": self.downloads().display().to_string(),
            "download.prompt_for_download": false,
        });
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": options,
                }
            }
        });
        let url = format!("{}/session", self.base);
        let v = self
            .raw("POST", &url, Some(caps))
            .unwrap_or_else(|e| panic!("cannot open a Chromium session: {e}\n{}", self.log_tail()));
        self.session = v
            .get("sessionId")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no sessionId in new-session response: {v}"))
            .to_owned();
        // --window-size is the outer size, and headless Chromium still reserves room for browser
        // chrome: grow the window by the difference so that the viewport is width x height.
        self.resize(width, height);
    }

    /// Where this session's downloads are saved.
    fn downloads(&self) -> PathBuf {
        self.dir.join("downloads")
    }

    /// The file the browser finished downloading whose name ends with `suffix` (waits up to
    /// ten seconds; Chromium writes `*.crdownload` until it is complete): its bytes.
    pub fn downloaded(&self, suffix: &str) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = std::fs::read_dir(self.downloads())
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .find(|p| p.display().to_string().ends_with(suffix));
            if let Some(path) = found {
                return std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            }
            if Instant::now() >= deadline {
                panic!(
                    "no download ending in {suffix} in {}",
                    self.downloads().display()
                );
            }
            sleep(POLL);
        }
    }

    /// Deletes every cookie of the current page's origin: the next page is seen as by a
    /// visitor without a session.
    pub fn delete_all_cookies(&self) {
        self.cmd_ok("DELETE", "/cookie", None, "delete all cookies");
    }

    /// The names of the cookies the browser holds for the current page.
    pub fn cookie_names(&self) -> Vec<String> {
        self.cmd_ok("GET", "/cookie", None, "get cookies")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Resizes the window so that the viewport is `width` x `height` CSS pixels (another phone
    /// size in the same session, without logging in again).
    pub fn resize(&self, width: u32, height: u32) {
        let inner = self.execute(
            "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]",
            vec![],
        );
        let extra = |i: usize| inner.get(i).and_then(Value::as_u64).unwrap_or(0);
        let rect =
            json!({ "width": u64::from(width) + extra(0), "height": u64::from(height) + extra(1) });
        self.cmd_ok("POST", "/window/rect", Some(rect), "set window size");
    }

    fn element(&self, v: &Value, css: &str) -> Element<'_> {
        let id = v
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("not an element reference for {css:?}: {v}"));
        Element {
            driver: self,
            id: id.to_owned(),
            css: css.to_owned(),
        }
    }

    /// A session command, panicking on failure with `what` and the page context.
    fn cmd_ok(&self, method: &str, path: &str, body: Option<Value>, what: &str) -> Value {
        self.cmd(method, path, body)
            .unwrap_or_else(|e| panic!("webdriver {what} failed: {e}\n{}", self.context()))
    }

    /// A session command (`path` relative to `/session/{id}`); returns the `value` member.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        self.raw(method, &url, body)
    }

    /// One HTTP round trip. W3C responses are `{"value": ...}`; errors carry
    /// `{"value": {"error", "message"}}` with a 4xx/5xx status.
    fn raw(&self, method: &str, url: &str, body: Option<Value>) -> Result<Value, WdError> {
        let transport = |e: ureq::Error| WdError {
            error: "transport".into(),
            message: e.to_string(),
        };
        let response = match method {
            "GET" => self.agent.get(url).call(),
            "DELETE" => self.agent.delete(url).call(),
            "POST" => self
                .agent
                .post(url)
                .send_json(body.unwrap_or_else(|| json!({}))),
            _ => panic!("unsupported method {method}"),
        }
        .map_err(transport)?;
        let status = response.status();
        let mut body = response.into_body();
        let json: Value = body
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_json()
            .map_err(transport)?;
        let mut value = match json {
            Value::Object(mut map) => map.remove("value").unwrap_or(Value::Null),
            other => other,
        };
        if status.is_success() {
            return Ok(value);
        }
        Err(WdError {
            error: value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown error")
                .to_owned(),
            message: match value.get_mut("message").map(Value::take) {
                Some(Value::String(s)) => s,
                _ => format!("HTTP {status}: {value}"),
            },
        })
    }

    /// Current URL and an excerpt of the page source, for panic messages. Never panics.
    fn context(&self) -> String {
        let url = self
            .cmd("GET", "/url", None)
            .map(as_string)
            .unwrap_or_default();
        let source = self
            .cmd("GET", "/source", None)
            .map(as_string)
            .unwrap_or_default();
        format!(
            "current url: {url}\npage source (excerpt):\n{}",
            excerpt(&source, 3000)
        )
    }

    fn log_tail(&self) -> String {
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().ends_with(".log") {
                    let mut s = String::new();
                    if let Ok(mut f) = std::fs::File::open(entry.path()) {
                        let _ = f.read_to_string(&mut s);
                    }
                    out.push_str(&excerpt(&s, 3000));
                }
            }
        }
        format!("chromedriver log:\n{out}")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Closes Chromium. Ignore errors: we may be unwinding from a failed test.
            let url = format!("{}/session/{}", self.base, self.session);
            let _ = self.raw("DELETE", &url, None);
        }
        if !self.session.is_empty() {
            // chromedriver's own shutdown endpoint (only once we know the port is ours).
            let _ = self.raw("GET", &format!("{}/shutdown", self.base), None);
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    break;
                }
                sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Element<'_> {
    pub fn click(&self) {
        self.post("click", json!({}));
    }

    /// Types `text` into the element (appends to what is there; see [`Element::clear`]).
    pub fn send_keys(&self, text: &str) {
        self.post("value", json!({ "text": text }));
    }

    pub fn clear(&self) {
        self.post("clear", json!({}));
    }

    /// The rendered (visible) text.
    pub fn text(&self) -> String {
        as_string(self.get("text"))
    }

    /// The HTML attribute as written in the markup (W3C "Get Element Attribute"), or `None` if
    /// absent. For an input's *current* value use [`Element::prop`]`("value")`.
    pub fn attr(&self, name: &str) -> Option<String> {
        opt_string(self.get(&format!("attribute/{name}")))
    }

    /// The DOM property (`value`, `checked`, `selectedIndex`, ...) as a string (non-strings
    /// as JSON text, e.g. `"true"`), or `None` if undefined/null.
    pub fn prop(&self, name: &str) -> Option<String> {
        opt_string(self.get(&format!("property/{name}")))
    }

    fn post(&self, what: &str, body: Value) {
        let path = format!("/element/{}/{what}", self.id);
        let d = self.driver;
        if let Err(e) = d.cmd("POST", &path, Some(body)) {
            panic!("{what} on {:?} failed: {e}\n{}", self.css, d.context());
        }
    }

    fn get(&self, what: &str) -> Value {
        let path = format!("/element/{}/{what}", self.id);
        let d = self.driver;
        d.cmd("GET", &path, None)
            .unwrap_or_else(|e| panic!("{what} of {:?} failed: {e}\n{}", self.css, d.context()))
    }
}

fn by_css(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

fn as_string(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn opt_string(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

fn excerpt(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}… [{} more bytes]", &s[..i], s.len() - i),
        None => s.to_owned(),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free TCP port on 127.0.0.1")
}

fn fresh_temp_dir() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "backstop-webdriver-{}-{n}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Standard base64 (with or without padding); `None` on invalid input.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= sextet(c)? << (18 - 6 * i);
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            3 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8]),
            2 => out.push((acc >> 16) as u8),
            _ => return None,
        }
    }
    Some(out)
}
