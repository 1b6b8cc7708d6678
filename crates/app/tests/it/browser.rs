//! The staff pages: in a real browser, and in-process.
//!
//! `staff_pages_in_a_real_browser` serves the whole application over real HTTP (SQLite, system
//! clock) and drives headless Chromium through chromedriver (see `webdriver.rs`): on a desktop
//! window the first administrator logs in, changes the initial password, enrols TOTP, browses
//! the region tree, creates a grid, an organisation (after a rejected phone number) and an
//! official's account; on a phone-size window that official logs in, changes the password,
//! sees its own county only (a sibling county is the 404 page) and its organisation. It is
//! skipped (loudly) when `BACKSTOP_TEST_CHROMEDRIVER` is unset, unless
//! `BACKSTOP_TEST_REQUIRE_BROWSER=1`.
//!
//! `staff_pages_in_process` sends the same kind of form posts to the router on every backend,
//! so the pages are covered on PostgreSQL and without a browser too.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use backstop_app::kernel::actor::Actor;
use backstop_app::kernel::web::encode_query_value;
use backstop_app::{Config, accounts};

use crate::support::{T, each_backend};
use crate::webdriver::Driver;

const ADMIN_INITIAL: &str = "Init!Kw7#Lp2z";
const ADMIN_NEW: &str = "Hn4!sK9#wQ2xL";
const OFFICIAL_INITIAL: &str = "Tq8#Rv2!mZ5pW";
const OFFICIAL_NEW: &str = "Bx6%Jd3@nV7cY";
const ORG_NAME: &str = "鹿泉区社会福利中心";

fn fixtures_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/regions")
}

// --- the real browser --------------------------------------------------------------------

/// A phone-sized browser and the application, on `clock`, sending through a fake SMS gateway
/// that runs on a runtime of its own for the whole test (keep the runtime until the test ends):
/// (browser, gateway runtime, gateway record, application); `None` without a browser.
pub(crate) fn phone_with_gateway(
    clock: Arc<dyn backstop_core::clock::Clock>,
) -> Option<(
    Driver,
    tokio::runtime::Runtime,
    crate::notify::Shared,
    Server,
)> {
    let d = driver(390, 844)?;
    let gw_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (fake, base) = gw_rt.block_on(crate::notify::fake_gateway());
    let server = Server::start_with_clock(crate::notify::config(&base), clock);
    Some((d, gw_rt, fake, server))
}

/// Start a driver or explain loudly why the test does not run.
pub(crate) fn driver(width: u32, height: u32) -> Option<Driver> {
    let d = Driver::start(width, height);
    if d.is_none() {
        if std::env::var("BACKSTOP_TEST_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("BACKSTOP_TEST_REQUIRE_BROWSER=1 but BACKSTOP_TEST_CHROMEDRIVER is not set");
        }
        eprintln!(
            "\n######## BROWSER TEST SKIPPED: BACKSTOP_TEST_CHROMEDRIVER is not set. Set \
             BACKSTOP_TEST_CHROMEDRIVER=/usr/bin/chromedriver BACKSTOP_TEST_CHROMIUM=/usr/bin/chromium \
             to run it. ########\n"
        );
    }
    d
}

/// The application served on 127.0.0.1 by a multi-threaded runtime (its workers are the
/// background threads; the blocking WebDriver calls stay on the test thread).
pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) rt: Option<tokio::runtime::Runtime>,
    db: backstop_store::Db,
    pub(crate) state: backstop_app::AppState,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        Server::start_with(Config::default())
    }

    /// The application with a configuration of the test's own (e.g. notification gateways).
    pub(crate) fn start_with(config: Config) -> Server {
        Server::start_with_clock(config, Arc::new(backstop_core::clock::SystemClock))
    }

    /// The application on a clock of the test's own (a `ManualClock` a walk can move past a
    /// publicity period); [`log_in`] answers the second factor on this clock.
    pub(crate) fn start_with_clock(
        config: Config,
        clock: Arc<dyn backstop_core::clock::Clock>,
    ) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("b.db").display());
        let key = dir.path().join("keys").join("master.key");
        let (state, listener) = rt.block_on(async {
            let state = backstop_app::open(&url, &key, clock, config)
                .await
                .expect("open app");
            backstop_app::regions::import::import_dir(
                &state,
                &Actor::operator(),
                &fixtures_dir(),
                &mut |_| {},
            )
            .await
            .expect("import region fixture");
            accounts::ensure_initial_admin(&state, Some(ADMIN_INITIAL))
                .await
                .expect("initial admin");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            (state, listener)
        });
        let addr = listener.local_addr().expect("local addr");
        let db = state.db.clone();
        let app = backstop_app::router(state.clone());
        rt.spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .expect("serve");
        });
        Server {
            base: format!("http://{addr}"),
            rt: Some(rt),
            db,
            state,
            _dir: dir,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            let db = self.db.clone();
            rt.block_on(async move { db.close().await });
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

pub(crate) fn fill(d: &Driver, css: &str, text: &str) {
    let e = d.find(css);
    e.clear();
    e.send_keys(text);
}

/// Wait until the browser is on a page whose path satisfies `pred`.
pub(crate) fn wait_path(d: &Driver, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = d.current_url();
        let path = url
            .splitn(4, '/')
            .nth(3)
            .map(|p| format!("/{p}"))
            .unwrap_or_default();
        if pred(&path) {
            return path;
        }
        if Instant::now() >= deadline {
            panic!(
                "expected to be on {what}, but the browser is on {url}\n{}",
                excerpt(&d.page_source())
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn excerpt(s: &str) -> String {
    s.chars().take(3000).collect()
}

fn totp_now(secret_base32: &str) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32.trim())
        .unwrap_or_else(|e| panic!("#totp-secret {secret_base32:?} is not base32: {e:?}"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    backstop_app::kernel::auth::totp_code(secret.as_bytes(), now).expect("totp code")
}

/// Log in with the form; returns once the browser left the login page.
pub(crate) fn log_in(d: &Driver, server: &Server, username: &str, password: &str) {
    d.goto(&server.url("/login"));
    fill(d, "#username", username);
    fill(d, "#password", password);
    d.find("#login-submit").click();
    std::thread::sleep(Duration::from_millis(300));
    if d.page_source().contains("页面已过期") {
        panic!(
            "the CSRF guard refused the browser's same-origin login form (Chromium sends \
             `Origin: null` with `Sec-Fetch-Site: same-origin` under `Referrer-Policy: \
             no-referrer`; see kernel::web::same_origin)"
        );
    }
    // The second factor (issue 13): an enrolled test account answers with its known code.
    let path = wait_path(d, "a page after the password", |p| p != "/login");
    if path.starts_with("/login/totp") {
        // The server's clock decides the step (a walk may have moved it).
        let now = u64::try_from(server.state.now_ms() / 1000).unwrap_or(0);
        let code =
            backstop_app::kernel::auth::totp_code(&crate::support::totp_secret(username), now)
                .expect("totp code");
        fill(d, "#code", &code);
        d.find("#totp-submit").click();
    }
    wait_path(d, "a page after the login", |p| !p.starts_with("/login"));
}

/// The TOTP enrolment a first login leads to: the shown secret's code confirms it.
fn enrol_totp(d: &Driver) {
    wait_path(d, "the TOTP enrolment", |p| p.starts_with("/account/totp"));
    let secret = d.find("#totp-secret").text();
    fill(d, "#code", &totp_now(&secret));
    d.find("#totp-confirm").click();
}

/// The forced password change after the first login.
fn change_password(d: &Driver, old: &str, new: &str) {
    wait_path(d, "the forced password change", |p| {
        p.starts_with("/account/password")
    });
    d.wait_for_text("main .notice", "请先修改密码");
    fill(d, "#old_password", old);
    fill(d, "#new_password", new);
    fill(d, "#confirm", new);
    d.find("#password-submit").click();
    wait_path(d, "the page after the password change", |p| {
        !p.starts_with("/account/password")
    });
}

/// Nothing on the page is wider than the viewport (no sideways scrolling on a phone).
pub(crate) fn assert_fits(d: &Driver, page: &str) {
    let v = d.execute(
        "return [document.documentElement.scrollWidth, window.innerWidth]",
        vec![],
    );
    let (scroll, inner) = (v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(0));
    assert!(
        scroll <= inner,
        "{page}: the page is {scroll}px wide in a {inner}px viewport"
    );
}

#[test]
fn staff_pages_in_a_real_browser() {
    let Some(d) = driver(1280, 900) else {
        return;
    };
    let server = Server::start();

    // 1. The first administrator: initial password → new password → TOTP enrolment → home.
    log_in(&d, &server, "admin", ADMIN_INITIAL);
    change_password(&d, ADMIN_INITIAL, ADMIN_NEW);
    wait_path(&d, "the TOTP enrolment", |p| p.starts_with("/account/totp"));
    d.wait_for_text("main", "管理员账户必须使用动态验证码登录");
    let secret = d.find("#totp-secret").text();
    fill(&d, "#code", &totp_now(&secret));
    d.find("#totp-confirm").click();
    wait_path(&d, "the home page", |p| p == "/");
    d.wait_for_text("main h1", "全国");
    d.wait_for_text(".stats", "县（区）");
    d.wait_for_text(".stats", "31");
    assert_eq!(d.find("#count-orgs").text(), "0");

    // 2. Regions: 全国 → 河北省 → 石家庄市 → 鹿泉区, by clicking.
    d.goto(&server.url("/regions"));
    d.wait_for_text("#region-children", "河北省");
    d.find("#region-children a[href='/regions/13']").click();
    d.wait_for_text("#region-name", "河北省");
    d.find("#region-children a[href='/regions/1301']").click();
    d.wait_for_text("#region-name", "石家庄市");
    d.find("#region-children a[href='/regions/130110']").click();
    d.wait_for_text("#region-name", "鹿泉区");
    d.wait_for_text("#region-trail", "河北省");
    d.wait_for_text("#region-trail", "石家庄市");
    d.wait_for_text("#region-children", "获鹿镇");
    assert_eq!(d.find_all("#region-children li").len(), 13);

    // A grid under a community.
    d.goto(&server.url("/regions/130110100001"));
    d.wait_for_text("#region-name", "旱码头社区");
    d.wait_for_text("#grid-empty", "尚未划分网格");
    fill(&d, "#grid-name", "第一网格");
    d.find("#grid-submit").click();
    d.wait_for_text("#grid-created", "第一网格");
    d.wait_for_text("#grid-list", "130110100001001");

    // 3. An organisation in 鹿泉区, from the region page (the region is filled in).
    d.goto(&server.url("/regions/130110"));
    d.find("#region-new-org").click();
    wait_path(&d, "the new organisation form", |p| {
        p.starts_with("/orgs/new")
    });
    assert_eq!(
        d.find("#org-region").prop("value").as_deref(),
        Some("130110")
    );
    fill(&d, "#org-name", ORG_NAME);
    d.find("#org-kind option[value='elderly_care']").click();
    fill(&d, "#org-contact-person", "王主任");
    fill(&d, "#org-contact-phone", "0311-8abc");
    d.find("#org-submit").click();
    // Rejected: the message in Chinese, and what was typed is still there.
    d.wait_for_text("#org-error", "联系电话");
    assert_eq!(d.find("#org-name").prop("value").as_deref(), Some(ORG_NAME));
    assert_eq!(
        d.find("#org-kind").prop("value").as_deref(),
        Some("elderly_care")
    );
    fill(&d, "#org-contact-phone", "0311-82012345");
    d.find("#org-submit").click();
    let org_path = wait_path(&d, "the organisation page", |p| {
        p.strip_prefix("/orgs/")
            .is_some_and(|id| id.parse::<i64>().is_ok())
    });
    d.wait_for_text("#org-title", ORG_NAME);
    d.wait_for_text("#org-kind-label", "养老机构");
    d.wait_for_text("#org-facts", "鹿泉区");
    d.goto(&server.url("/orgs?region=130110"));
    d.wait_for_text("#org-table", ORG_NAME);

    // 4. An official of 鹿泉区, belonging to that organisation — opened by a national official
    //    (issue 13: no administrator opens accounts; the first official comes from the CLI).
    d.find(".who button[type='submit']").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));
    ready_user(&server, "nat.browser", "official", "0", OFFICIAL_INITIAL);
    log_in(&d, &server, "nat.browser", OFFICIAL_INITIAL);
    d.goto(&server.url("/users/new"));
    fill(&d, "#user-username", "lq.official");
    fill(&d, "#user-display-name", "鹿泉干部");
    fill(&d, "#user-password", OFFICIAL_INITIAL);
    d.find("#role-official").click();
    // The region by name through the picker (issue 14, item 7): typing lists the matches in
    // scope; choosing one puts its code into the field and its name beside it.
    fill(&d, "#user-region", "鹿泉");
    d.wait_for_text("#user-region-choices", "鹿泉区");
    d.find("#user-region-choices li.pick-item").click();
    assert_eq!(
        d.find("#user-region").prop("value").as_deref(),
        Some("130110")
    );
    d.wait_for_text("#user-region-chosen", "鹿泉区");
    let org_id = org_path.trim_start_matches("/orgs/").to_string();
    d.find(&format!("#user-org option[value='{org_id}']"))
        .click();
    d.find("#user-submit").click();
    wait_path(&d, "the new user's page", |p| {
        p.starts_with("/users/") && p.contains("done=created")
    });
    d.wait_for_text("#user-notice", "账户已创建");
    d.wait_for_text("#user-roles-label", "民政干部");
    d.wait_for_text("#user-facts", ORG_NAME);
    d.goto(&server.url("/users"));
    d.wait_for_text("#user-table", "lq.official");
    d.wait_for_text("#user-table", "鹿泉区");

    // Log out.
    d.find(".who button[type='submit']").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));
    drop(d);

    // 5. On a phone: the official sees 鹿泉区 and nothing beside it.
    let Some(p) = driver(390, 844) else {
        return;
    };
    log_in(&p, &server, "lq.official", OFFICIAL_INITIAL);
    change_password(&p, OFFICIAL_INITIAL, OFFICIAL_NEW);
    enrol_totp(&p);
    wait_path(&p, "the home page", |x| x == "/");
    p.wait_for_text("main h1", "鹿泉区");
    p.wait_for_text("#region-tree", "获鹿镇");
    p.wait_for_text("#count-orgs", "1");
    assert_fits(&p, "home");

    p.goto(&server.url("/regions/130111"));
    p.wait_for_text("main h1", "未找到");
    assert!(
        !p.page_source().contains("栾城区"),
        "the 404 page names the region outside the scope"
    );
    p.goto(&server.url("/regions"));
    wait_path(&p, "the own region", |x| x == "/regions/130110");
    p.wait_for_text("#region-name", "鹿泉区");
    p.wait_for_text("#region-children", "铜冶镇");
    assert_fits(&p, "/regions/130110");

    p.goto(&server.url("/orgs"));
    p.wait_for_text("#org-table", ORG_NAME);
    p.wait_for_text("#org-table", "养老机构");
    assert_fits(&p, "/orgs");

    // My account: a personal token, shown once, then revoked.
    p.goto(&server.url("/account"));
    p.wait_for_text("#account-scope", "鹿泉区");
    p.wait_for_text("#account-roles", "民政干部");
    fill(&p, "#token-name", "同步脚本");
    p.find("#token-submit").click();
    p.wait_for_text("#token-result", "只显示这一次");
    assert!(!p.find("#new-token").text().is_empty(), "no token shown");
    p.wait_for_text("#token-table", "同步脚本");
    assert_fits(&p, "/account");
    drop(p);
    drop(server);
}

// --- in-process --------------------------------------------------------------------------

/// A page visitor: a session cookie for the router.
struct Visitor<'a> {
    t: &'a T,
    cookie: String,
}

impl<'a> Visitor<'a> {
    async fn new(t: &'a T, username: &str, roles: &[&str], region: &str) -> Visitor<'a> {
        let token = t.user(username, roles, region).await;
        Visitor {
            t,
            cookie: format!("backstop={token}"),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        form: Option<&str>,
    ) -> (StatusCode, String, String) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "backstop.test")
            .header(header::COOKIE, &self.cookie);
        if form.is_some() {
            req = req
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ORIGIN, "http://backstop.test");
        }
        let req = req
            .body(
                form.map(|f| Body::from(f.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .expect("request");
        let (status, headers, bytes) = self.t.send(req).await;
        let location = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (
            status,
            location,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// GET a page: expect `status`, return the HTML.
    async fn page(&self, path: &str, status: StatusCode) -> String {
        let (s, _, html) = self.send("GET", path, None).await;
        assert_eq!(
            s,
            status,
            "GET {path} ({}):\n{}",
            self.t.backend,
            excerpt(&html)
        );
        html
    }

    /// POST a form that must redirect; returns the location.
    async fn post_redirect(&self, path: &str, form: &str) -> String {
        let (s, loc, html) = self.send("POST", path, Some(form)).await;
        assert_eq!(
            s,
            StatusCode::SEE_OTHER,
            "POST {path} {form} ({}):\n{}",
            self.t.backend,
            excerpt(&html)
        );
        loc
    }

    /// POST a form that answers with a page.
    async fn post_page(&self, path: &str, form: &str, status: StatusCode) -> String {
        let (s, _, html) = self.send("POST", path, Some(form)).await;
        assert_eq!(
            s,
            status,
            "POST {path} {form} ({}):\n{}",
            self.t.backend,
            excerpt(&html)
        );
        html
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn staff_pages_in_process() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let sys = Visitor::new(&t, "sys1", &["sysadmin"], "0").await;
        let ok = StatusCode::OK;

        // Regions.
        let html = sys.page("/regions", ok).await;
        assert!(html.contains("河北省") && html.contains("广东省"));
        let html = sys.page("/regions/130110", ok).await;
        assert!(html.contains("获鹿镇") && html.contains("id=\"region-trail\""));
        let loc = sys
            .post_redirect("/regions/130110100001/grids", &form(&[("name", "一网格")]))
            .await;
        assert_eq!(loc, "/regions/130110100001?created=130110100001001");
        assert!(sys.page(&loc, ok).await.contains("已创建网格"));
        let html = sys
            .post_page(
                "/regions/130110100001/grids",
                &form(&[("name", "一网格")]),
                StatusCode::CONFLICT,
            )
            .await;
        assert!(html.contains("同名网格已存在"), "{}", excerpt(&html));
        // Grids only under villages: the township page has no grid form.
        assert!(
            !sys.page("/regions/130110100", ok)
                .await
                .contains("grid-submit")
        );
        sys.page("/regions/99", StatusCode::NOT_FOUND).await;

        // Organisations.
        let org_form = |phone: &str, region: &str| {
            form(&[
                ("name", ORG_NAME),
                ("kind", "elderly_care"),
                ("region_code", region),
                ("contact_person", "王主任"),
                ("contact_phone", phone),
                ("address", ""),
            ])
        };
        let html = sys
            .post_page(
                "/orgs",
                &org_form("abc", "130110"),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert!(html.contains("联系电话") && html.contains(ORG_NAME));
        let html = sys
            .post_page(
                "/orgs",
                &org_form("", "999999"),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert!(html.contains("id=\"org-error\""), "{}", excerpt(&html));
        let loc = sys
            .post_redirect("/orgs", &org_form("0311-1234", "130110"))
            .await;
        let org_id: i64 = loc
            .strip_prefix("/orgs/")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("redirect to {loc}"));
        assert!(sys.page(&loc, ok).await.contains("养老机构"));
        assert!(
            sys.page("/orgs?kind=elderly_care", ok)
                .await
                .contains(ORG_NAME)
        );
        assert!(!sys.page("/orgs?kind=charity", ok).await.contains(ORG_NAME));
        assert!(
            sys.page("/orgs?region=12x", ok)
                .await
                .contains("org-list-error")
        );
        sys.page("/orgs/999999", StatusCode::NOT_FOUND).await;
        sys.page("/orgs/abc", StatusCode::NOT_FOUND).await;
        assert!(
            sys.page("/orgs/new?region=130110", ok)
                .await
                .contains("value=\"130110\"")
        );

        // Users: create, with the roles as repeated checkboxes — by a national official (issue
        // 13: no administrator opens, changes or resets accounts; the sysadmin has no form).
        sys.page("/users/new", StatusCode::FORBIDDEN).await;
        let man = Visitor::new(&t, "nat1", &["official"], "0").await;
        let html = man.page("/users/new", ok).await;
        assert!(html.contains("id=\"role-official\"") && html.contains(ORG_NAME));
        let org = org_id.to_string();
        let user_form = |username: &str, password: &str| {
            form(&[
                ("username", username),
                ("display_name", "鹿泉干部"),
                ("password", password),
                ("roles", "official"),
                ("roles", "inspector"),
                ("region_code", "130110"),
                ("org_id", &org),
            ])
        };
        let html = man
            .post_page(
                "/users",
                &user_form("lq.off", "short"),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert!(html.contains("value=\"lq.off\"") && html.contains("checked"));
        let loc = man
            .post_redirect("/users", &user_form("lq.off", OFFICIAL_INITIAL))
            .await;
        assert!(loc.ends_with("?done=created"), "{loc}");
        let user_path = loc.trim_end_matches("?done=created").to_string();
        let html = man.page(&loc, ok).await;
        assert!(
            html.contains("民政干部") && html.contains("督导检查员") && html.contains(ORG_NAME)
        );
        // Edit: drop a role, disable.
        let edit = form(&[
            ("display_name", "鹿泉干部二"),
            ("roles", "official"),
            ("region_code", "130110"),
            ("org_id", &org),
            ("disabled", "1"),
        ]);
        let loc = man.post_redirect(&user_path, &edit).await;
        let html = man.page(&loc, ok).await;
        assert!(
            html.contains("鹿泉干部二")
                && html.contains("已停用")
                && html.contains("id=\"user-roles-label\">民政干部</dd>"),
            "{}",
            excerpt(&html)
        );
        // A region outside the tree is a message on the form.
        let bad = form(&[
            ("display_name", "x"),
            ("roles", "official"),
            ("region_code", "99"),
        ]);
        let html = man
            .post_page(&user_path, &bad, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
        assert!(html.contains("id=\"user-error\""), "{}", excerpt(&html));
        // One's own roles cannot change.
        let me = accounts::id_by_username(&t.state, &Actor::operator(), "nat1")
            .await
            .expect("nat1");
        let html = man
            .post_page(
                &format!("/users/{me}"),
                &form(&[
                    ("display_name", "管理员"),
                    ("roles", "official"),
                    ("roles", "inspector"),
                    ("region_code", "0"),
                ]),
                StatusCode::FORBIDDEN,
            )
            .await;
        assert!(html.contains("不能修改自己的角色"));
        assert!(man.page("/users", ok).await.contains("lq.off"));
        sys.page("/audit", StatusCode::FORBIDDEN).await;

        // The security administrator unlocks, and resets no password (issue 13); the
        // account's official does (the one-time password shown once).
        let sec = Visitor::new(&t, "sec1", &["secadmin"], "0").await;
        let html = sec.page(&user_path, ok).await;
        assert!(!html.contains("user-reset-password") && !html.contains("user-edit-form"));
        sec.post_page(
            &format!("{user_path}/reset-password"),
            "",
            StatusCode::FORBIDDEN,
        )
        .await;
        let html = man
            .post_page(&format!("{user_path}/reset-password"), "", ok)
            .await;
        assert!(html.contains("id=\"reset-password-value\""));
        let loc = sec.post_redirect(&format!("{user_path}/unlock"), "").await;
        assert!(sec.page(&loc, ok).await.contains("账户已解锁"));

        // A county official sees its county only.
        let off = Visitor::new(&t, "off2", &["official"], "130110").await;
        let html = off.page("/regions", StatusCode::SEE_OTHER).await;
        assert!(html.is_empty());
        off.page("/regions/130111", StatusCode::NOT_FOUND).await;
        off.page("/regions/440115", StatusCode::NOT_FOUND).await;
        assert!(off.page("/orgs", ok).await.contains(ORG_NAME));
        assert!(
            off.page("/orgs?region=130111", ok)
                .await
                .contains("不在您的管辖范围内")
        );
        let html = off.page("/users/new", ok).await;
        assert!(!html.contains("role-sysadmin") && html.contains("role-official"));
        off.page(&format!("/users/{me}"), StatusCode::NOT_FOUND)
            .await;

        // My account: tokens.
        let html = off.page("/account", ok).await;
        assert!(html.contains("鹿泉区") && html.contains("token-form"));
        let html = off
            .post_page(
                "/account/tokens",
                &form(&[("name", "脚本"), ("days", "30")]),
                ok,
            )
            .await;
        assert!(html.contains("id=\"new-token\""));
        let html = off
            .post_page(
                "/account/tokens",
                &form(&[("name", "脚本2"), ("days", "99999")]),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert!(html.contains("有效期"));
        let id: i64 = html
            .split("id=\"token-revoke-")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|n| n.parse().ok())
            .expect("a revoke button");
        let loc = off
            .post_redirect(&format!("/account/tokens/{id}/revoke"), "")
            .await;
        assert!(off.page(&loc, ok).await.contains("已吊销"));

        // The auditor.
        let aud = Visitor::new(&t, "aud1", &["auditor"], "0").await;
        let html = aud.page("/audit", ok).await;
        assert!(html.contains(">新建用户<") && html.contains(">新建机构<"));
        let html = aud.page("/audit?action=org.&outcome=success", ok).await;
        assert!(html.contains(">新建机构<") && !html.contains(">新建用户<"));
        aud.page("/audit?before_id=abc&from=nonsense", ok).await;
        let html = aud.page("/audit?username=nobody", ok).await;
        assert!(html.contains("audit-empty"));
    })
    .await;
}

// --- reports in the real browser ------------------------------------------------------------

/// A ready account (password change done, TOTP enrolled with the test's known secret of its
/// username) made by the console operator.
pub(crate) fn ready_user(
    server: &Server,
    username: &str,
    role: &str,
    region: &str,
    password: &str,
) {
    ready_user_in(server, username, role, region, None, password);
}

/// [`ready_user`] for an account tied to organisation `org` (or to none).
pub(crate) fn ready_user_in(
    server: &Server,
    username: &str,
    role: &str,
    region: &str,
    org: Option<i64>,
    password: &str,
) {
    let Some(rt) = server.rt.as_ref() else { return };
    let state = server.state.clone();
    let (username, role, region, password) = (
        username.to_string(),
        role.to_string(),
        region.to_string(),
        password.to_string(),
    );
    rt.block_on(async move {
        let u = accounts::create_user(
            &state,
            &Actor::operator(),
            &accounts::NewUser {
                username,
                password,
                roles: vec![role],
                region_code: region,
                org_id: org,
                display_name: String::new(),
                phone: String::new(),
            },
        )
        .await
        .expect("create user");
        let secret = state
            .keys
            .encrypt(&crate::support::totp_secret(&u.username));
        let mut w = state.db.begin_write().await.expect("tx");
        sqlx::query("UPDATE users SET must_change_password = 0, totp_secret = $1, totp_enabled = 1 WHERE id = $2")
            .bind(secret)
            .bind(u.id)
            .execute(w.conn())
            .await
            .expect("ready");
        w.commit().await.expect("commit");
    });
}

/// A phone-sized and a desk-sized browser and a running server with two ready accounts
/// (`(username, role, region)`): the phone's with [`OFFICIAL_INITIAL`], the desk's with
/// [`OFFICIAL_NEW`]. `None` (the test skips) without a browser.
fn phone_and_desk(
    phone_user: (&str, &str, &str),
    desk_user: (&str, &str, &str),
) -> Option<(Driver, Driver, Server)> {
    let phone = driver(390, 844)?;
    let desk = driver(1280, 900)?;
    let server = Server::start();
    let (name, role, region) = phone_user;
    ready_user(&server, name, role, region, OFFICIAL_INITIAL);
    let (name, role, region) = desk_user;
    ready_user(&server, name, role, region, OFFICIAL_NEW);
    Some((phone, desk, server))
}

/// A community worker files the village daily report on a phone; the county official sees
/// the township's sum change and the village leave the missing list.
#[test]
fn village_daily_report_in_a_real_browser() {
    let Some((phone, desk, server)) = phone_and_desk(
        ("cw.browser", "community_worker", "130110100001"),
        ("county.browser", "official", "130110"),
    ) else {
        return;
    };
    let summary = "/reports/summary?template=village_daily&region=130110100";
    let missing = "/reports/missing?template=village_daily&region=130110100";

    // The county official: nothing reported yet.
    log_in(&desk, &server, "county.browser", OFFICIAL_NEW);
    desk.goto(&server.url(summary));
    desk.wait_for_text("#sum-received", "0");
    desk.goto(&server.url(missing));
    desk.wait_for_text("#missing-list", "130110100001");

    // The community worker, on a phone: today's form, fill, submit.
    log_in(&phone, &server, "cw.browser", OFFICIAL_INITIAL);
    phone.goto(&server.url("/reports"));
    phone.wait_for_text("#todo", "未报");
    assert_fits(&phone, "/reports");
    phone.find("#fill-village_daily").click();
    wait_path(&phone, "the report form", |p| {
        p.starts_with("/reports/fill/village_daily")
    });
    assert_fits(&phone, "the report form");
    fill_village_daily(&phone);
    wait_path(&phone, "the saved report", |p| {
        p.starts_with("/reports/view/")
    });
    phone.wait_for_text("#saved", "已提交");
    phone.goto(&server.url("/reports"));
    phone.wait_for_text("#todo", "已报");

    // The county official sees it at once.
    desk.goto(&server.url(summary));
    desk.wait_for_text("#sum-received", "1");
    desk.wait_for_text("#summary-table", "240");
    desk.goto(&server.url(missing));
    let list = desk.find("#missing-list").text();
    assert!(
        !list.contains("130110100001"),
        "the village that reported is still missing: {list}"
    );
    assert!(list.contains("130110100002"), "{list}");

    // The official chases every village still missing, and sees the chase in the history.
    desk.find("#chase-all").click();
    desk.wait_for_text("#chased", "已向");
    desk.wait_for_text("#chase-history", "county.browser");

    // The official corrects the village's report; the worker sees it marked on the phone,
    // with the value before, and on the home page's to-do list.
    desk.goto(&server.url("/reports/fill/village_daily?unit=130110100001"));
    desk.wait_for_text("#correct-other", "上级更正");
    fill(&desk, "#f-people_screened", "250");
    desk.find("#report-submit").click();
    wait_path(&desk, "the corrected report", |p| {
        p.starts_with("/reports/view/")
    });
    let view = desk.current_url();
    let path = view
        .find("/reports/view/")
        .map(|at| view[at..].split('?').next().unwrap_or("").to_string())
        .unwrap_or_else(|| panic!("not a report page: {view}"));
    phone.goto(&server.url(&path));
    phone.wait_for_text("#corrected-note", "上级");
    phone.wait_for_text("#corrections", "240");
    phone.wait_for_text("#corrections", "250");
    phone.wait_for_text("#original", "240");
    assert_fits(&phone, "the corrected report");
    phone.goto(&server.url("/"));
    phone.wait_for_text("#todo", "被上级更正");
}

/// A grid worker on a phone records the screening of a household (ticks who is home, enters
/// temperatures, one POST), starts a home observation with four responsible people for the
/// close contact, and the township sees the observation (name masked) on its list.
#[test]
fn screening_and_home_observation_in_a_real_browser() {
    use backstop_app::{people, screening};
    let Some((phone, desk, server)) = phone_and_desk(
        ("grid.browser", "community_worker", "130110100001"),
        ("town.browser", "township_staff", "130110100"),
    ) else {
        return;
    };
    let Some(rt) = server.rt.as_ref() else { return };
    let state = server.state.clone();
    let (camp, hid, a, b) = rt.block_on(async move {
        let op = Actor::operator();
        let today = backstop_core::clock::beijing_date(chrono::Utc::now());
        let c = screening::create_campaign(
            &state,
            &op,
            &screening::NewCampaign {
                name: "获鹿镇入户摸排".into(),
                purpose: String::new(),
                starts_on: (today - chrono::Duration::days(1))
                    .format("%Y-%m-%d")
                    .to_string(),
                ends_on: (today + chrono::Duration::days(7))
                    .format("%Y-%m-%d")
                    .to_string(),
                region_code: "130110100".into(),
                ask_history: true,
                ask_symptoms: true,
                ask_temperature: true,
            },
        )
        .await
        .expect("campaign");
        let mut ids = Vec::new();
        for name in ["赵六", "赵小六"] {
            let p = people::create(
                &state,
                &op,
                &people::NewPerson {
                    name: name.into(),
                    region_code: "130110100001".into(),
                    ..Default::default()
                },
            )
            .await
            .expect("person");
            match p {
                people::Created::New(p) => ids.push(p.id),
                people::Created::Existing(id) => ids.push(id),
            }
        }
        let h = people::create_household(
            &state,
            &op,
            &people::NewHousehold {
                region_code: "130110100001".into(),
                address: "旱码头 8 号".into(),
                members: vec![
                    people::NewMember {
                        person_id: ids[0],
                        relationship: "head".into(),
                    },
                    people::NewMember {
                        person_id: ids[1],
                        relationship: "child".into(),
                    },
                ],
            },
        )
        .await
        .expect("household");
        (c.id, h.id, ids[0], ids[1])
    });

    // The grid worker, on a phone: find the household, tick, enter temperatures, save.
    log_in(&phone, &server, "grid.browser", OFFICIAL_INITIAL);
    phone.goto(&server.url(&format!("/screening/campaigns/{camp}")));
    phone.wait_for_text("#coverage-total", "0");
    assert_fits(&phone, "the campaign page");
    phone.find(&format!("#household-{hid}")).click();
    wait_path(&phone, "the household form", |p| {
        p.ends_with(&format!("/households/{hid}"))
    });
    assert_fits(&phone, "the household form");
    fill(&phone, &format!("#temp-{a}"), "36.5");
    fill(&phone, &format!("#temp-{b}"), "37.9");
    fill(&phone, &format!("#hist-{b}"), "2 月 20 日自武汉返回");
    phone
        .find(&format!("#risk-{b} option[value=close_contact]"))
        .click();
    phone
        .find(&format!("#disp-{b} option[value=home_observation]"))
        .click();
    phone.find("#visit-submit").click();
    wait_path(&phone, "the saved household", |p| p.contains("saved=1"));
    phone.wait_for_text("#visit-saved", "已保存");
    phone.goto(&server.url(&format!("/screening/campaigns/{camp}")));
    phone.wait_for_text("#coverage-total", "1");

    // Start the home observation with the four responsible people.
    phone.goto(&server.url(&format!("/screening/campaigns/{camp}/households/{hid}")));
    phone.find(&format!("#observe-{b}")).click();
    wait_path(&phone, "the observation form", |p| {
        p.starts_with("/observations/new")
    });
    assert_fits(&phone, "the observation form");
    for i in 1..=4 {
        fill(&phone, &format!("#keeper-name-{i}"), &format!("责任人{i}"));
        fill(
            &phone,
            &format!("#keeper-phone-{i}"),
            &format!("1380000000{i}"),
        );
    }
    phone.find("#observation-submit").click();
    wait_path(&phone, "the observation", |p| {
        p.starts_with("/observations/") && !p.starts_with("/observations/new")
    });
    // The worker who started it is responsible: the four's numbers in full, to call them.
    phone.wait_for_text("#observation-keepers", "13800000004");
    assert_fits(&phone, "the observation");

    // The township's list shows it, name masked.
    log_in(&desk, &server, "town.browser", OFFICIAL_NEW);
    desk.goto(&server.url("/observations"));
    desk.wait_for_text("#observation-total", "1");
    let list = desk.find("#observation-table").text();
    assert!(list.contains("赵**") && !list.contains("赵小六"), "{list}");
}

// --- phone layouts (issue 14, item 4) -----------------------------------------------------

/// Every `<td>` of the tables on the page carries its column's label (the card label on a
/// phone), and on a phone the header row is hidden while each cell shows its label.
fn assert_cells_labelled(d: &Driver, page: &str) {
    let v = d.execute(
        "const tds = [...document.querySelectorAll('.table-wrap td')];\
         const bare = tds.filter(td => !td.hasAttribute('data-label')).length;\
         const shown = tds.filter(td => getComputedStyle(td, '::before').content.replace(/\"/g, '') === td.getAttribute('data-label')).length;\
         return [tds.length, bare, shown];",
        vec![],
    );
    let (n, bare, shown) = (
        v[0].as_u64().unwrap_or(0),
        v[1].as_u64().unwrap_or(0),
        v[2].as_u64().unwrap_or(0),
    );
    assert!(n > 0, "{page}: no table cells");
    assert_eq!(bare, 0, "{page}: {bare} of {n} cells have no data-label");
    assert_eq!(
        shown, n,
        "{page}: only {shown} of {n} cells show their label on a phone"
    );
}

/// No button of the page lies under another element: at the centre of each visible button
/// (scrolled into view) the topmost element is that button (or something inside it).
fn assert_buttons_clear(d: &Driver, page: &str) {
    let bad = covered_buttons(d);
    assert!(
        bad.is_empty(),
        "{page}: buttons covered by other elements: {bad:?}"
    );
}

/// The buttons of the page (text and what covers each) that lie under another element.
fn covered_buttons(d: &Driver) -> Vec<serde_json::Value> {
    let v = d.execute(
        "const bad = [];\
         for (const b of document.querySelectorAll('main button, main a.button')) {\
           const r0 = b.getBoundingClientRect();\
           if (r0.width === 0 || r0.height === 0) continue;\
           b.scrollIntoView({block: 'center'});\
           const r = b.getBoundingClientRect();\
           const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);\
           if (!top || !(top === b || b.contains(top))) bad.push(b.textContent.trim() + ' under ' + (top ? top.tagName + '.' + top.className : 'nothing'));\
         }\
         return bad;",
        vec![],
    );
    v.as_array().cloned().unwrap_or_default()
}

/// A community worker with a pending fever alert walks the pages it uses on a phone 390 px
/// wide, then again at 360 and 414 px: none scrolls sideways, and the report summary's and
/// missing list's cells keep their column labels as cards. A county official's pages are then
/// walked at 390 px too.
#[test]
fn worker_pages_fit_a_phone_in_a_real_browser() {
    use backstop_app::{entrance, people, screening};
    let Some(phone) = driver(390, 844) else {
        return;
    };
    let server = Server::start();
    ready_user(
        &server,
        "cw.fit",
        "community_worker",
        "130110100001",
        OFFICIAL_INITIAL,
    );
    let Some(rt) = server.rt.as_ref() else { return };
    let state = server.state.clone();
    let (gate, obs, hh) = rt.block_on(async move {
        let op = Actor::operator();
        let gate = entrance::create_gate(
            &state,
            &op,
            &entrance::NewGate {
                name: "旱码头社区东门外来人员测温登记卡口DongmenKakouWaiLaiRenYuanCeWen".into(),
                region_code: Some("130110100001".into()),
                org_id: None,
            },
        )
        .await
        .expect("gate");
        entrance::add_entry(
            &state,
            &op,
            gate.id,
            &entrance::EntryInput {
                name: "欧阳娜娜娜".into(),
                phone: "13800001111".into(),
                // A long unbroken token (an address typed in pinyin) must wrap, not widen.
                from: "湖北省武汉市HubeiWuhanJianghanHuananHaixianPifaShichangFujinXiaoqu".into(),
                reason: "返乡探亲并居家观察".into(),
                direction: None,
                temperature: 38.6,
                id_number: None,
            },
        )
        .await
        .expect("fever entry");
        let p = match people::create(
            &state,
            &op,
            &people::NewPerson {
                name: "赵七".into(),
                region_code: "130110100001".into(),
                ..Default::default()
            },
        )
        .await
        .expect("person")
        {
            people::Created::New(p) => p.id,
            people::Created::Existing(id) => id,
        };
        let h = people::create_household(
            &state,
            &op,
            &people::NewHousehold {
                region_code: "130110100001".into(),
                address: "旱码头社区第三居民小组幸福路一百二十八号院二单元".into(),
                members: vec![people::NewMember {
                    person_id: p,
                    relationship: "head".into(),
                }],
            },
        )
        .await
        .expect("household");
        let keepers = ["社区干部", "医生", "民警", "志愿者"]
            .iter()
            .enumerate()
            .map(|(i, r)| screening::KeeperInput {
                role: r.to_string(),
                name: format!("责任人{i}"),
                phone: format!("1390000000{i}"),
            })
            .collect();
        let o = screening::start_observation(
            &state,
            &op,
            &screening::NewObservation {
                person_id: p,
                keepers,
                ends_on: None,
                reason: "密切接触者".into(),
            },
        )
        .await
        .expect("observation");
        (gate.id, o.id, h.id)
    });

    log_in(&phone, &server, "cw.fit", OFFICIAL_INITIAL);
    let pages = [
        "/".to_string(),
        format!("/gates/{gate}"),
        "/reports".to_string(),
        "/reports/fill/village_daily?unit=130110100001".to_string(),
        "/reports/summary?template=village_daily".to_string(),
        "/reports/missing?template=village_daily".to_string(),
        "/households".to_string(),
        format!("/households/{hh}"),
        "/observations".to_string(),
        format!("/observations/{obs}"),
    ];
    phone.goto(&server.url("/"));
    phone.wait_for_text("#entrance-alerts", "发热预警");
    // `BROWSER_SHOTS=<dir>` keeps a screenshot of each page, for looking at the layouts.
    let shots = std::env::var_os("BROWSER_SHOTS").map(std::path::PathBuf::from);
    for (i, p) in pages.iter().enumerate() {
        phone.goto(&server.url(p));
        if let Some(dir) = &shots {
            std::fs::write(dir.join(format!("phone-{i}.png")), phone.screenshot_png())
                .expect("write screenshot");
        }
        assert_fits(&phone, p);
        assert_buttons_clear(&phone, p);
    }
    // The check itself: something wider than the phone is caught.
    phone.execute(
        "const w = document.createElement('div'); w.style.width = '600px'; w.style.height = '1px'; \
         document.querySelector('main').appendChild(w); return 0;",
        vec![],
    );
    let v = phone.execute(
        "return [document.documentElement.scrollWidth, window.innerWidth]",
        vec![],
    );
    assert!(
        v[0].as_u64() > v[1].as_u64(),
        "the width check sees a wide element: {v}"
    );
    // … and so is a button under another element.
    phone.goto(&server.url("/"));
    phone.execute(
        "const c = document.createElement('div'); c.style.position = 'fixed'; c.style.inset = '0'; \
         c.style.zIndex = '9999'; document.querySelector('main').appendChild(c); return 0;",
        vec![],
    );
    assert!(
        !covered_buttons(&phone).is_empty(),
        "the button check sees a covered button"
    );
    phone.goto(&server.url("/reports/summary?template=village_daily"));
    assert_cells_labelled(&phone, "the summary");
    phone.goto(&server.url("/reports/missing?template=village_daily"));
    assert_cells_labelled(&phone, "the missing list");
    // The narrowest and the widest phones, on every page again.
    for width in [360, 414] {
        phone.resize(width, 800);
        for p in &pages {
            phone.goto(&server.url(p));
            assert_fits(&phone, &format!("{p} at {width} px"));
            assert_buttons_clear(&phone, &format!("{p} at {width} px"));
        }
    }
    // A county official's pages on the same phone.
    ready_user(&server, "county.fit", "official", "130110", OFFICIAL_NEW);
    phone.resize(390, 844);
    phone.goto(&server.url("/"));
    phone.find(".who button[type='submit']").click();
    std::thread::sleep(Duration::from_millis(300));
    log_in(&phone, &server, "county.fit", OFFICIAL_NEW);
    phone.goto(&server.url("/"));
    phone.wait_for_text("main h1", "鹿泉区");
    phone.wait_for_text("#todo", "今日未报单位");
    let official_pages = [
        "/",
        "/reports/dashboard",
        "/reports/summary?template=village_daily&region=130110100",
        "/reports/missing?template=village_daily&region=130110100",
        "/reports/incidents",
        "/reports/forms",
        "/persons",
        "/households",
        "/observations",
        "/screening",
        "/care",
        "/inspections",
        "/inspections/rectifications",
        "/institutions",
        "/gates",
        "/orgs",
        "/users",
        "/regions/130110",
        "/crosscheck",
        "/persons/import",
    ];
    for p in official_pages {
        phone.goto(&server.url(p));
        assert_fits(&phone, p);
    }
}

/// Fill the village's daily report form with the walk's figures and submit it.
pub(crate) fn fill_village_daily(d: &Driver) {
    for (field, value) in [
        ("households_screened", "86"),
        ("people_screened", "240"),
        ("close_contacts", "3"),
        ("home_observation", "5"),
        ("released", "1"),
        ("fever_referred", "2"),
        ("entrance_registrations", "57"),
        ("volunteers_on_duty", "6"),
    ] {
        fill(d, &format!("#f-{field}"), value);
    }
    d.find("#report-submit").click();
}

/// On the public login page, the phone 13912345678 asks for a code and enters the one the
/// fake SMS gateway received.
pub(crate) fn verify_phone(
    d: &Driver,
    server: &Server,
    rt: &tokio::runtime::Runtime,
    fake: &crate::notify::Shared,
) {
    fill(d, "#public-phone", "13912345678");
    d.find("#public-send").click();
    d.wait_for_text("#public-sent", "139****5678");
    rt.block_on(backstop_app::notify::step(&server.state))
        .expect("send the code");
    let code = crate::public::last_code(fake, "13912345678");
    fill(d, "#public-code", &code);
    d.find("#public-verify").click();
}
