//! Issue 20, first slice, on every backend: the parent's security administrator issues a child
//! node for a region in scope (the credential shown once, only its hash kept), at most one
//! active node per region; a node authenticates with its credential (a wrong, malformed or
//! revoked one is refused without saying which); a rotated credential keeps the old one for a
//! day; out of scope reads as not found, other roles are refused; every change is audited.
//! Second slice: a node's events (`POST /api/v1/federation/events`) are applied at the parent
//! as the node's service account within its region — another county's unit is rejected, a
//! batch sent again counts nothing twice, a correction replaces — and the service account can
//! neither sign in nor be granted to a person.

use backstop_app::federation::{self, NewNode};
use backstop_app::kernel::error::AppError;
use backstop_core::error::ErrorCode;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{T, audit_count, count, each_backend, page, web_login};

fn code<R>(r: Result<R, AppError>) -> Option<ErrorCode> {
    r.err().map(|e| e.code)
}

/// An actor with one role and a scope, for calling the service directly.
pub(crate) fn actor(name: &str, role: &str, scope: &str) -> backstop_app::kernel::actor::Actor {
    use backstop_app::kernel::actor::{Actor, Via};
    use backstop_core::region::Scope;
    use backstop_core::role::{Role, RoleSet};
    Actor {
        user_id: None,
        username: name.to_string(),
        roles: RoleSet::new([Role::parse(role).expect("role")]),
        scope: Scope::parse(scope).expect("scope"),
        org_id: None,
        source: "test".to_string(),
        via: Via::Session(0),
    }
}

#[tokio::test]
async fn nodes_are_issued_authenticated_rotated_and_revoked() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let sec = actor("sec.a", "secadmin", "13");
        let sec_b = actor("sec.b", "secadmin", "14");
        let off = actor("off.a", "official", "130110");
        let s = &t.state;
        let new = |region: &str| NewNode { region_code: region.into(), name: "鹿泉区民政局".into() };

        assert_eq!(code(federation::issue(s, &off, &new("130110")).await), Some(ErrorCode::Forbidden));
        assert_eq!(code(federation::issue(s, &sec_b, &new("130110")).await), Some(ErrorCode::NotFound));
        let bad = NewNode { region_code: "130110".into(), name: " ".into() };
        assert_eq!(code(federation::issue(s, &sec, &bad).await), Some(ErrorCode::Validation));
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM fed_nodes").await, 0);

        let issued = federation::issue(s, &sec, &new("130110")).await.expect("issue");
        let id = issued.node.id;
        assert_eq!((issued.node.status.as_str(), issued.node.region_name.as_str()), ("active", "鹿泉区"));
        assert!(issued.credential.starts_with(&format!("bsn_{id}_")));
        // Only the hash is stored.
        let secret = issued.credential.rsplit('_').next().expect("secret").to_string();
        assert_eq!(count(&t, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM fed_nodes WHERE secret_hash LIKE '%{secret}%'")).await, 0);
        assert_eq!(code(federation::issue(s, &sec, &new("130110")).await), Some(ErrorCode::Conflict), "one active node per region");

        // Authentication.
        let n = federation::authenticate(s, &issued.credential).await.expect("auth").expect("valid");
        assert_eq!((n.id, n.region_code.as_str()), (id, "130110"));
        assert!(federation::get(s, &sec, id).await.expect("get").last_seen_at.is_some());
        let mut wrong = issued.credential.clone();
        wrong.pop();
        wrong.push('x');
        for c in [wrong.as_str(), "bsn_1_short", "garbage", ""] {
            assert!(federation::authenticate(s, c).await.expect("auth").is_none(), "{c}");
        }
        assert_eq!(code(federation::get(s, &sec_b, id).await), Some(ErrorCode::NotFound));
        assert!(federation::list(s, &sec_b).await.expect("list").is_empty());
        assert_eq!(federation::list(s, &sec).await.expect("list").len(), 1);

        // Rotation: both work for a day, then only the new one.
        let rotated = federation::rotate(s, &sec, id).await.expect("rotate");
        assert_ne!(rotated.credential, issued.credential);
        assert!(federation::authenticate(s, &rotated.credential).await.expect("a").is_some());
        assert!(federation::authenticate(s, &issued.credential).await.expect("a").is_some(), "grace");
        t.clock.advance(chrono::Duration::hours(25));
        assert!(federation::authenticate(s, &issued.credential).await.expect("a").is_none(), "grace over");
        assert!(federation::authenticate(s, &rotated.credential).await.expect("a").is_some());

        // Revocation: refused at once; twice is a conflict; the region may have a new node.
        let r = federation::revoke(s, &sec, id).await.expect("revoke");
        assert_eq!(r.status_label, "已吊销");
        assert!(federation::authenticate(s, &rotated.credential).await.expect("a").is_none());
        assert_eq!(code(federation::revoke(s, &sec, id).await), Some(ErrorCode::Conflict));
        assert_eq!(code(federation::rotate(s, &sec, id).await), Some(ErrorCode::Conflict));
        federation::issue(s, &sec, &new("130110")).await.expect("a new node");

        assert_eq!(audit_count(&t, "federation.node_issue").await, 2);
        assert_eq!(audit_count(&t, "federation.node_rotate").await, 1);
        assert_eq!(audit_count(&t, "federation.node_revoke").await, 1);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE detail LIKE '%bsn_%'").await, 0, "no credential in the audit log");
    })
    .await;
}

/// POST a batch with `Authorization: Node <cred>`.
pub(crate) async fn send(t: &T, cred: &str, events: Value) -> (StatusCode, Value) {
    let auth = format!("Node {cred}");
    let (s, _, body) = t
        .raw(
            "POST",
            "/api/v1/federation/events",
            None,
            Some(json!({"events": events}).to_string()),
            &[("authorization", auth.as_str())],
        )
        .await;
    (s, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn village(unit: &str, screened: i64, key: &str) -> Value {
    json!({"key": key, "kind": "report.submit", "created_at": "2026-03-02T08:00:00Z",
        "body": {"template": "village_daily", "unit": unit, "period": "2026-03-02",
        "values": {"households_screened": screened, "people_screened": screened * 3, "close_contacts": 0,
            "home_observation": 1, "released": 0, "fever_referred": 0}}})
}

fn statuses(a: &Value) -> Vec<String> {
    a["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["status"].as_str().unwrap_or(""),
                r["code"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn node_events_apply_within_the_node_region_and_never_twice() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let sec = actor("sec.a", "secadmin", "13");
        let issued = federation::issue(&t.state, &sec, &NewNode { region_code: "130110".into(), name: "鹿泉区民政局".into() })
            .await.expect("issue");
        let cred = issued.credential.clone();
        let id = issued.node.id;
        let off = t.user("off.a", &["official"], "130110").await;
        let summary = "/api/v1/reports/summary?template=village_daily&period=2026-03-02&region=130110";

        // A batch: one village of the county, the same event twice, a village of the sibling
        // county, an unknown kind, an organisation unit.
        let batch = json!([
            village("130110100001", 10, "e1"),
            village("130110100001", 10, "e1"),
            village("130111100003", 7, "e2"),
            {"key": "e3", "kind": "person.create", "body": {}},
            {"key": "e4", "kind": "report.submit", "body": {"template": "institution_daily", "unit": 5,
                "period": "2026-03-02", "values": {}}},
        ]);
        let (s, a) = send(&t, &cred, batch.clone()).await;
        assert_eq!(s, StatusCode::OK, "{a}");
        assert_eq!(statuses(&a), ["applied:", "duplicate:", "rejected:not_found", "rejected:validation", "rejected:validation"], "{a}");
        assert_eq!((a["applied"].as_i64(), a["duplicate"].as_i64(), a["rejected"].as_i64()), (Some(1), Some(1), Some(3)));
        let report_id = a["results"][0]["object_id"].as_i64().expect("report id");
        assert_eq!(a["results"][1]["object_id"].as_i64(), Some(report_id));
        let (_, sm) = t.get(summary, &off).await;
        assert_eq!((sm["received"].as_i64(), sm["sums"]["households_screened"].as_i64()), (Some(1), Some(10)), "{sm}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM report_submissions WHERE unit = '130111100003'").await, 0, "never another county's figures");

        // The whole batch again (a cut connection): nothing counted twice.
        let (_, a2) = send(&t, &cred, batch).await;
        assert_eq!(statuses(&a2)[..3], ["duplicate:", "duplicate:", "rejected:not_found"], "{a2}");
        let (_, sm) = t.get(summary, &off).await;
        assert_eq!((sm["received"].as_i64(), sm["sums"]["households_screened"].as_i64()), (Some(1), Some(10)), "{sm}");

        // A correction at the county goes up as a new event and replaces the figures.
        let (_, a3) = send(&t, &cred, json!([village("130110100001", 12, "e5")])).await;
        assert_eq!(statuses(&a3), ["applied:"], "{a3}");
        let (_, sm) = t.get(summary, &off).await;
        assert_eq!((sm["received"].as_i64(), sm["sums"]["households_screened"].as_i64()), (Some(1), Some(12)), "{sm}");
        let (_, r) = t.get(&format!("/api/v1/reports/{report_id}"), &off).await;
        assert_eq!((r["corrections"].as_i64(), r["submitted_by"].as_str()), (Some(1), Some(format!("node:{id}").as_str())), "{r}");

        // Bad batches and bad credentials: refused whole, nothing written.
        let (s, e) = send(&t, &cred, json!([])).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")), "{e}");
        let (s, e) = send(&t, &cred, json!([{"key": "", "kind": "report.submit", "body": {}}])).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let mut wrong = cred.clone();
        wrong.pop();
        wrong.push('x');
        let (s, e) = send(&t, &wrong, json!([village("130110100002", 3, "w1")])).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{e}");
        assert!(e["message"].as_str().is_some_and(|m| m.contains("节点凭据")));
        // A person's token is not a node credential.
        let (s, _, _) = t.raw("POST", "/api/v1/federation/events", Some(&off),
            Some(json!({"events": [village("130110100002", 3, "w2")]}).to_string()), &[]).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM report_submissions WHERE unit = '130110100002'").await, 0);

        // The service account never signs in and is granted to no one.
        let (s, e) = t.call("POST", "/api/v1/auth/login", None,
            Some(json!({"username": format!("node:{id}"), "password": "!"}))).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{e}");
        let (s, e) = t.post("/api/v1/users", &off, json!({"username": "fake.node", "display_name": "假节点",
            "roles": ["federation_node"], "region_code": "130110", "password": "Correct-Horse-9-Battery"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("role_not_grantable")), "{e}");

        // Revoked: refused at once, the service account disabled.
        federation::revoke(&t.state, &sec, id).await.expect("revoke");
        let (s, _) = send(&t, &cred, json!([village("130110100002", 3, "r1")])).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(count(&t, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM users WHERE username = 'node:{id}' AND disabled = 1")).await, 1);

        assert_eq!(audit_count(&t, "federation.events_rejected").await, 2, "one entry per batch with rejections");
        // The parent's log: each event once (a duplicate is not logged again), the child's time
        // beside the parent's.
        assert_eq!(count(&t, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM fed_received WHERE node_id = {id}")).await, 5);
        assert_eq!(count(&t, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM fed_received WHERE node_id = {id} \
            AND event_key = 'e1' AND status = 'applied' AND object_id = {report_id} \
            AND child_created_at = '2026-03-02T08:00:00Z' AND received_at > 0")).await, 1);
        assert_eq!(count(&t, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM fed_received WHERE node_id = {id} \
            AND event_key = 'e2' AND status = 'rejected' AND code = 'not_found'")).await, 1);
        assert_eq!(audit_count(&t, "report.submit").await, 1);
        assert_eq!(audit_count(&t, "report.correct").await, 1);
    })
    .await;
}

/// Serve a deployment on 127.0.0.1 (`port` 0 for any); the task is the deployment being up.
pub(crate) async fn serve_on(t: &T, port: u16) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = backstop_app::router(t.state.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    (port, task)
}

/// A county deployment on SQLite beside `parent` (fixture imported on both) and the node the
/// province issued for it (鹿泉区, 130110).
/// One sync round of the county with its parent (it must not fail).
pub(crate) async fn sync(county: &T) -> federation::child::SyncReport {
    federation::child::sync_once(&county.state)
        .await
        .expect("sync")
}

pub(crate) async fn county_for(parent: &T) -> (T, federation::IssuedNode) {
    parent.import_fixture().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("county.db").display());
    let county = T::open("sqlite", &url, Some(dir), backstop_app::Config::default()).await;
    county.import_fixture().await;
    let issued = federation::issue(
        &parent.state,
        &actor("sec.p", "secadmin", "13"),
        &NewNode {
            region_code: "130110".into(),
            name: "鹿泉区民政局".into(),
        },
    )
    .await
    .expect("issue");
    (county, issued)
}

/// `parent` served on 127.0.0.1 and registered at `county` as its parent over HTTP.
pub(crate) async fn linked(
    parent: &T,
    county: &T,
    issued: &federation::IssuedNode,
) -> tokio::task::JoinHandle<()> {
    let (port, up) = serve_on(parent, 0).await;
    federation::child::register(
        &county.state,
        &actor("sec.c", "secadmin", "130110"),
        &format!("http://127.0.0.1:{port}"),
        &issued.credential,
        None,
    )
    .await
    .expect("register");
    up
}

/// Every event of `county`'s outbox pending again, as if the parent's answers were lost.
pub(crate) async fn lose_answers(county: &T) {
    sqlx::query("UPDATE fed_outbox SET status = 'pending'")
        .execute(county.state.db.pool())
        .await
        .expect("lose the acknowledgements");
}

/// A county's summary of the day: (received, households screened, people screened).
pub(crate) async fn county_figures(t: &T, tok: &str) -> (i64, i64, i64) {
    let (s, sm) = t
        .get(
            "/api/v1/reports/summary?template=village_daily&period=2026-03-02&region=130110",
            tok,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sm}");
    let n = |k: &str| sm["sums"][k].as_i64().unwrap_or(-1);
    (
        sm["received"].as_i64().unwrap_or(-1),
        n("households_screened"),
        n("people_screened"),
    )
}

/// Issue 20 end to end, two deployments: the province (this backend) issues a node for 鹿泉区;
/// the county runs its own deployment on SQLite, registers the province with that credential
/// and its villages report there. The sync brings the county's figures to the province exactly;
/// while the province is down the county keeps working and queues, and catches up after; an
/// acknowledgement lost (everything sent again) counts nothing twice; an incident queued in the
/// outage arrives; a form the province makes for the province reaches the county, which cannot
/// edit it, and the sibling county's form does not; a correction after the
/// province locked the day is rejected by the province's rule and shown at the county.
#[tokio::test]
async fn a_county_reports_up_resumes_after_an_outage_and_counts_once() {
    each_backend(|parent: T| async move {
        let (county, issued) = county_for(&parent).await;
        let (port, up) = serve_on(&parent, 0).await;
        let parent_url = format!("http://127.0.0.1:{port}");
        let sec_c = actor("sec.c", "secadmin", "130110");

        // Registration checks the credential with the parent first; a wrong one stores nothing.
        let mut wrong = issued.credential.clone();
        wrong.pop();
        wrong.push('x');
        let e = federation::child::register(&county.state, &sec_c, &parent_url, &wrong, None)
            .await
            .expect_err("refused");
        assert_eq!(e.code, ErrorCode::Validation);
        assert!(
            !federation::child::status(&county.state, &sec_c)
                .await
                .expect("status")
                .registered
        );
        let e = federation::child::register(
            &county.state,
            &sec_c,
            "ftp://province.example",
            &issued.credential,
            None,
        )
        .await
        .expect_err("not http(s)");
        assert_eq!(e.fields[0].field, "parent_url", "{e:?}");
        let link = federation::child::register(
            &county.state,
            &sec_c,
            &parent_url,
            &issued.credential,
            None,
        )
        .await
        .expect("register");
        assert_eq!(
            (link.node_id, link.region_code.as_str()),
            (issued.node.id, "130110")
        );

        let off_c = county.user("off.c", &["official"], "130110").await;
        let off_p = parent.user("off.p", &["official"], "130110").await;
        let submit = |unit: &str, n: i64| {
            let body = json!({"template": "village_daily", "unit": unit, "period": "2026-03-02",
                "values": {"households_screened": n, "people_screened": n * 3, "close_contacts": 0,
                    "home_observation": 0, "released": 0, "fever_referred": 0}});
            let (c, tok) = (&county, off_c.clone());
            async move {
                let (s, r) = c.post("/api/v1/reports", &tok, body).await;
                assert!(s == StatusCode::CREATED || s == StatusCode::OK, "{r}");
            }
        };
        for (i, v) in ["130110100001", "130110100002", "130110100003"]
            .iter()
            .enumerate()
        {
            submit(v, 10 + i as i64).await;
        }
        assert_eq!(
            federation::child::status(&county.state, &sec_c)
                .await
                .expect("status")
                .pending,
            3
        );
        let r = sync(&county).await;
        assert_eq!(
            (
                r.applied,
                r.duplicate,
                r.rejected,
                r.pending,
                r.error.is_none()
            ),
            (3, 0, 0, 0, true),
            "{r:?}"
        );
        let at_county = county_figures(&county, &off_c).await;
        assert_eq!(at_county, (3, 33, 99));
        assert_eq!(
            county_figures(&parent, &off_p).await,
            at_county,
            "the province sees the county's figures exactly"
        );

        // Down: a form the province makes for the whole province reaches the county, which
        // cannot edit it; a form of the sibling county does not.
        let off_prov = parent.user("off.prov", &["official"], "13").await;
        let off_b = parent.user("off.b", &["official"], "130111").await;
        let (_, template) = parent.get("/api/v1/report-templates/village_daily", &off_p).await;
        for (who, key, name, scope) in [(&off_prov, "hb_supplies", "河北省防疫物资日报", "13"),
            (&off_b, "lc_only", "栾城区专报", "130111")] {
            let mut f = template.clone();
            f["key"] = json!(key);
            f["name"] = json!(name);
            f["scope"] = json!(scope);
            let (s, e) = parent.post("/api/v1/report-templates", who, f).await;
            assert_eq!(s, StatusCode::CREATED, "{e}");
        }
        let r = sync(&county).await;
        assert_eq!((r.forms, r.error.is_none()), (1, true), "{r:?}");
        let (s, f) = county.get("/api/v1/report-templates/hb_supplies", &off_c).await;
        assert_eq!((s, f["name"].as_str()), (StatusCode::OK, Some("河北省防疫物资日报")), "{f}");
        let (s, _) = county.get("/api/v1/report-templates/lc_only", &off_c).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Not even the county's operator edits it (a county official does not see its scope).
        let mut edit: backstop_app::reports::form::Form =
            serde_json::from_value(f.clone()).expect("form");
        edit.name = "县里改的名字".into();
        let op = backstop_app::kernel::actor::Actor::operator();
        let e = backstop_app::reports::save_form(&county.state, &op, &edit).await.expect_err("the province's");
        assert_eq!(e.code, ErrorCode::Conflict);
        assert!(e.message.contains("上级部署下发"), "{}", e.message);
        let r = sync(&county).await;
        assert_eq!(r.forms, 0, "taking the same versions again changes nothing");
        assert_eq!(audit_count(&county, "report_form.from_parent").await, 1);

        // The province goes down: the county keeps working and queues.
        up.abort();
        let _ = up.await;
        submit("130110100001", 20).await; // a correction
        submit("130110100004", 5).await;
        let (s, e) = county.post("/api/v1/reports", &off_c, json!({"template": "incident",
            "unit": "130110100003", "period": "2026-03-02", "values": {"event_kind": "物资短缺",
            "occurred_at": "2026-03-02 09:00", "place": "村委会", "people_affected": 3,
            "measures": "已联系乡镇"}})).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let r = sync(&county).await;
        assert_eq!((r.applied, r.pending), (0, 3), "{r:?}");
        let st = federation::child::status(&county.state, &sec_c)
            .await
            .expect("status");
        assert!(
            st.last_error
                .as_deref()
                .is_some_and(|e| e.contains("无法连接上级部署")),
            "{st:?}"
        );
        assert_eq!(
            county_figures(&parent, &off_p).await,
            (3, 33, 99),
            "nothing arrived while down"
        );

        // Back up: the county catches up from its queue.
        let (_, up) = serve_on(&parent, port).await;
        let r = sync(&county).await;
        assert_eq!(
            (r.applied, r.pending, r.error.is_none()),
            (3, 0, true),
            "{r:?}"
        );
        assert_eq!(
            count(&parent, "SELECT CAST(COUNT(*) AS BIGINT) FROM report_submissions WHERE template_key = 'incident' AND unit = '130110100003'").await,
            1,
            "the incident reached the province"
        );
        let at_county = county_figures(&county, &off_c).await;
        assert_eq!(at_county, (4, 48, 144));
        assert_eq!(county_figures(&parent, &off_p).await, at_county);

        // An acknowledgement lost: everything is sent again and nothing counts twice.
        lose_answers(&county).await;
        let r = sync(&county).await;
        assert_eq!((r.applied, r.duplicate), (0, 6), "{r:?}");
        assert_eq!(county_figures(&parent, &off_p).await, at_county);

        // The province locks the day; a later correction at the county is rejected there by
        // the province's rule, kept and shown at the county, and not sent again.
        let (s, e) = parent
            .post(
                "/api/v1/reports/locks",
                &off_p,
                json!({"template": "village_daily", "period": "2026-03-02", "region": "130110"}),
            )
            .await;
        assert!(s.is_success(), "{e}");
        submit("130110100002", 30).await;
        let r = sync(&county).await;
        assert_eq!((r.rejected, r.pending), (1, 0), "{r:?}");
        let st = federation::child::status(&county.state, &sec_c)
            .await
            .expect("status");
        assert_eq!((st.rejected, st.rejected_recent.len()), (1, 1));
        assert_eq!(st.rejected_recent[0].code, "conflict");
        assert!(
            st.rejected_recent[0].message.contains("锁定"),
            "{:?}",
            st.rejected_recent[0]
        );
        assert_eq!(
            county_figures(&parent, &off_p).await,
            at_county,
            "the locked day unchanged at the province"
        );
        let r = sync(&county).await;
        assert_eq!(r.batches, 0, "a rejected event is not sent again");

        // The province's summary and missing list say the county reports through a node, when it
        // last synchronised, and warn once it is late.
        let url = "/api/v1/reports/summary?template=village_daily&period=2026-03-02&region=130110";
        let (_, sm) = parent.get(url, &off_p).await;
        assert_eq!((sm["nodes"][0]["region_code"].as_str(), sm["nodes"][0]["late"].as_bool()), (Some("130110"), Some(false)), "{sm}");
        let (_, sm) = parent.get("/api/v1/reports/summary?template=village_daily&period=2026-03-02&region=130111", &off_b).await;
        assert!(sm.get("nodes").is_none(), "the sibling county reports directly: {sm}");
        let cookie = web_login(&parent, "off.p").await;
        let (_, html) = page(&parent, "/reports/summary?template=village_daily&period=2026-03-02&region=130110", &cookie).await;
        assert!(html.contains("经下级部署") && !html.contains("滞后"), "summary page");
        parent.clock.advance(chrono::Duration::hours(3));
        let off_p = parent.login("off.p").await;
        let (_, sm) = parent.get(url, &off_p).await;
        assert_eq!(sm["nodes"][0]["late"].as_bool(), Some(true), "{sm}");
        let cookie = web_login(&parent, "off.p").await;
        let (_, html) = page(&parent, "/reports/missing?template=village_daily&period=2026-03-02&region=130110", &cookie).await;
        assert!(html.contains("经下级部署") && html.contains("滞后"), "missing list");
        let (_, html) = page(&parent, "/reports/dashboard?region=130110&date=2026-03-02", &cookie).await;
        assert!(html.contains("经下级部署") && html.contains("滞后"), "trend dashboard");

        // The province's page shows the node's last contact; the county's shows the link.
        assert!(
            federation::get(
                &parent.state,
                &actor("sec.p", "secadmin", "13"),
                issued.node.id
            )
            .await
            .expect("node")
            .last_seen_at
            .is_some()
        );
        assert_eq!(audit_count(&county, "federation.parent_register").await, 1);
        assert_eq!(
            count(
                &county,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE detail LIKE '%bsn_%'"
            )
            .await,
            0,
            "no credential in the audit log"
        );
        up.abort();
        county.state.db.close().await;
    })
    .await;
}
