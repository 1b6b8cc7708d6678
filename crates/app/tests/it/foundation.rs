//! Regions, organisations, users, scope matrix, audit chain, API conventions.

use axum::http::StatusCode;
use backstop_app::kernel::actor::Actor;
use serde_json::json;

use crate::support::{PW, T, count, each_backend};

#[tokio::test]
async fn regions_api_and_grids() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let tok = t.user("off1301", &["official"], "1301").await;
        let (s, b) = t.get("/api/v1/regions/130110", &tok).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            b,
            json!({"code": "130110", "name": "鹿泉区", "level": "county", "parent": "1301"})
        );
        let (s, b) = t.get("/api/v1/regions/130110/children", &tok).await;
        assert_eq!(s, StatusCode::OK);
        let kids = b.as_array().expect("list");
        assert_eq!(kids.len(), 13, "townships of 130110 in the fixture");
        assert!(
            kids.iter()
                .all(|k| k["parent"] == "130110" && k["level"] == "township")
        );
        // Out of scope reads as 404.
        let (s, b) = t.get("/api/v1/regions/4401", &tok).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        // The parent of one's scope is outside it too.
        let (s, _) = t.get("/api/v1/regions/13", &tok).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Grids under a village (township staff may create them in their township).
        let tw = t.user("tw1", &["township_staff"], "130110100").await;
        // Numbered in order; a name taken in the village is a conflict.
        for (name, status, code) in [
            ("第一网格", StatusCode::CREATED, "130110100001001"),
            ("第二网格", StatusCode::CREATED, "130110100001002"),
            ("第一网格", StatusCode::CONFLICT, "conflict"),
        ] {
            let (s, g) = t
                .post(
                    "/api/v1/regions/130110100001/grids",
                    &tw,
                    json!({"name": name}),
                )
                .await;
            assert_eq!((s, g["code"].as_str()), (status, Some(code)), "{name}: {g}");
            if s == StatusCode::CREATED {
                assert_eq!(g["level"], "grid");
            }
        }
        // Not under a township: 422; outside scope: 404.
        let (s, _) = t
            .post("/api/v1/regions/130110100/grids", &tw, json!({"name": "x"}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = t
            .post(
                "/api/v1/regions/130111100003/grids",
                &tw,
                json!({"name": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, b) = t.get("/api/v1/regions/130110100001/children", &tok).await;
        assert_eq!((s, b.as_array().map(Vec::len)), (StatusCode::OK, Some(2)));
    })
    .await;
}

#[tokio::test]
async fn embedded_regions_are_loaded() {
    each_backend(|t: T| async move {
        let n: i64 = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM regions").await;
        assert_eq!(n, 31 + 342 + 2978);
        // Loading again changes nothing.
        assert_eq!(
            backstop_app::regions::load_embedded(&t.state)
                .await
                .expect("again"),
            0
        );
    })
    .await;
}

#[tokio::test]
async fn region_import_is_idempotent_and_all_or_nothing() {
    each_backend(|t: T| async move {
        let fixtures =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/regions");
        let op = Actor::operator();
        let mut seen = 0u64;
        let s =
            backstop_app::regions::import::import_dir(&t.state, &op, &fixtures, &mut |_| seen += 1)
                .await
                .expect("import");
        assert_eq!((s.townships, s.villages, s.changed), (29, 581, 610));
        assert!(seen > 0, "progress reported");
        let s = backstop_app::regions::import::import_dir(&t.state, &op, &fixtures, &mut |_| {})
            .await
            .expect("import again");
        assert_eq!(s.changed, 0, "second import changes nothing");
        let before: i64 = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM regions").await;
        let err = backstop_app::regions::import::import_dir(
            &t.state,
            &op,
            &fixtures.join("bad"),
            &mut |_| {},
        )
        .await
        .expect_err("bad file refused");
        assert_eq!(err.code.as_str(), "validation");
        assert!(err.message.contains("第 3 行"), "{}", err.message);
        assert!(err.message.contains("第 4 行"), "{}", err.message);
        let after: i64 = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM regions").await;
        assert_eq!(before, after, "nothing half-written");
    })
    .await;
}

#[tokio::test]
async fn orgs_create_get_list_scoped() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let county = t.user("off130110", &["official"], "130110").await;
        let other = t.user("off130111", &["official"], "130111").await;
        let (s, o) = t
            .post("/api/v1/orgs", &county, json!({"name": "鹿泉区社会福利中心", "kind": "elderly_care", "region_code": "130110100", "contact_person": "王敏", "contact_phone": "0311-88886666"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        let id = o["id"].as_i64().expect("id");
        assert_eq!(o["kind"], "elderly_care");
        let (s, g) = t.get(&format!("/api/v1/orgs/{id}"), &county).await;
        assert_eq!((s, g["name"].as_str()), (StatusCode::OK, Some("鹿泉区社会福利中心")));
        // 130111 never sees 130110's organisation: 404, absent from lists.
        let (s, _) = t.get(&format!("/api/v1/orgs/{id}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, l) = t.get("/api/v1/orgs", &other).await;
        assert_eq!(l.as_array().map(Vec::len), Some(0));
        let (_, l) = t.get("/api/v1/orgs?region=130110", &county).await;
        assert_eq!(l.as_array().map(Vec::len), Some(1));
        let (s, _) = t.get("/api/v1/orgs?region=130111", &county).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Creating in another county: 404; bad kind / unknown region / too long: 422.
        let (s, _) = t.post("/api/v1/orgs", &county, json!({"name": "x", "kind": "charity", "region_code": "130111"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, e) = t.post("/api/v1/orgs", &county, json!({"name": "x", "kind": "bank", "region_code": "130110"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")));
        let (s, e) = t.post("/api/v1/orgs", &county, json!({"name": "x", "kind": "charity", "region_code": "130110999"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_region")));
        let (s, e) = t.post("/api/v1/orgs", &county, json!({"name": "长".repeat(101), "kind": "charity", "region_code": "130110"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")));
        let (s, e) = t.post("/api/v1/orgs", &county, json!({"name": "x", "kind": "charity", "region_code": "13011"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_region_code")));
        // A community worker may read but not create.
        let cw = t.user("cw1", &["community_worker"], "130110100001").await;
        let (s, _) = t.post("/api/v1/orgs", &cw, json!({"name": "x", "kind": "charity", "region_code": "130110100001"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let n = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM orgs").await;
        assert_eq!(n, 1, "no refused write left a row");
    })
    .await;
}

#[tokio::test]
async fn users_create_grant_rules_and_me() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        // Accounts are opened by officials (issue 13: no administrator opens any account).
        let admin = t.user("root", &["official"], "0").await;
        let (s, u) = t
            .post("/api/v1/users", &admin, json!({"username": "zhang.wei", "password": "Lq9$vT3nW8e", "roles": ["official"], "region_code": "130110", "org_id": null}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        assert_eq!(u["must_change_password"], true);
        // Duplicate username, unknown role, unknown region, weak password, bad JSON.
        let (s, e) = t.post("/api/v1/users", &admin, json!({"username": "zhang.wei", "password": "Lq9$vT3nW8e", "roles": ["official"], "region_code": "130110"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("duplicate_username")));
        let (s, e) = t.post("/api/v1/users", &admin, json!({"username": "a.b", "password": "Lq9$vT3nW8e", "roles": ["king"], "region_code": "130110"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_role")));
        let (s, e) = t.post("/api/v1/users", &admin, json!({"username": "a.b", "password": "Lq9$vT3nW8e", "roles": ["official"], "region_code": "130110999"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_region")));
        let (s, e) = t.post("/api/v1/users", &admin, json!({"username": "a.b", "password": "password123", "roles": ["official"], "region_code": "130110"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password")));
        let (s, _, body) = t.raw("POST", "/api/v1/users", Some(&admin), Some("{\"username\":".to_string()), &[]).await;
        let e: serde_json::Value = serde_json::from_slice(&body).expect("json error body");
        assert_eq!((s, e["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")));
        // A county official may create community workers in its county, not officials
        // elsewhere, and never administrator roles or roles beyond its own.
        let off = t.user("off", &["official"], "130110").await;
        let (s, _) = t.post("/api/v1/users", &off, json!({"username": "cw.one", "password": "Lq9$vT3nW8e", "roles": ["community_worker"], "region_code": "130110100001"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = t.post("/api/v1/users", &off, json!({"username": "cw.two", "password": "Lq9$vT3nW8e", "roles": ["community_worker"], "region_code": "130111"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, e) = t.post("/api/v1/users", &off, json!({"username": "sa.two", "password": "Lq9$vT3nW8e", "roles": ["secadmin"], "region_code": "130110"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("role_not_grantable")));
        let (s, e) = t.post("/api/v1/users", &off, json!({"username": "ch.one", "password": "Lq9$vT3nW8e", "roles": ["charity_finance"], "region_code": "130110"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("role_not_grantable")));
        // Administrator roles are exclusive.
        let (s, _) = t.post("/api/v1/users", &admin, json!({"username": "mixed", "password": "Lq9$vT3nW8e", "roles": ["auditor", "official"], "region_code": "0"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        // me
        let (s, me) = t.get("/api/v1/me", &off).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(me["username"], "off");
        assert_eq!(me["roles"], json!(["official"]));
        assert_eq!(me["region_code"], "130110");
        assert_eq!(me["region_name"], "鹿泉区");
        let _ = PW;
    })
    .await;
}

/// Each role × own / child / sibling / parent region × read, list, update.
#[tokio::test]
async fn scope_matrix() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        // Targets: an org and a user in each of: own (130110), child (130110100),
        // sibling (130111), parent (1301).
        let op = Actor::operator();
        let places = [
            ("own", "130110"),
            ("child", "130110100"),
            ("sibling", "130111"),
            ("parent", "1301"),
        ];
        let mut orgs = Vec::new();
        let mut users = Vec::new();
        for (label, code) in places {
            let o = backstop_app::orgs::create(
                &t.state,
                &op,
                &backstop_app::orgs::NewOrg {
                    name: format!("机构-{label}"),
                    kind: "civil_affairs".into(),
                    region_code: code.into(),
                    ..Default::default()
                },
            )
            .await
            .expect("org");
            orgs.push((label, o.id));
            let uid = t
                .make_user(&format!("target.{label}"), &["community_worker"], code)
                .await;
            users.push((label, uid));
        }
        let roles = [
            "sysadmin",
            "secadmin",
            "auditor",
            "official",
            "township_staff",
            "community_worker",
            "institution_reporter",
            "social_worker",
            "charity_finance",
            "inspector",
        ];
        for role in roles {
            let name = format!("actor.{role}");
            let tok = t.user(&name, &[role], "130110").await;
            for ((label, oid), (_, uid)) in orgs.iter().zip(users.iter()) {
                let visible = matches!(*label, "own" | "child");
                // read org
                let (s, _) = t.get(&format!("/api/v1/orgs/{oid}"), &tok).await;
                assert_eq!(s == StatusCode::OK, visible, "{role} read org {label}: {s}");
                if !visible {
                    assert_eq!(s, StatusCode::NOT_FOUND, "{role} org {label}");
                }
                // read region
                let code = places
                    .iter()
                    .find(|p| p.0 == *label)
                    .map(|p| p.1)
                    .unwrap_or("");
                let (s, _) = t.get(&format!("/api/v1/regions/{code}"), &tok).await;
                assert_eq!(
                    s == StatusCode::OK,
                    visible,
                    "{role} read region {label}: {s}"
                );
                // read user (needs users.read)
                let (s, _) = t.get(&format!("/api/v1/users/{uid}"), &tok).await;
                let can_read_users = [
                    "sysadmin",
                    "secadmin",
                    "auditor",
                    "official",
                    "township_staff",
                ]
                .contains(&role);
                if !visible {
                    assert!(
                        s == StatusCode::NOT_FOUND
                            || (s == StatusCode::FORBIDDEN && !can_read_users),
                        "{role} user {label}: {s}"
                    );
                } else if can_read_users {
                    assert_eq!(s, StatusCode::OK, "{role} user {label}");
                } else {
                    assert_eq!(s, StatusCode::FORBIDDEN, "{role} user {label}");
                }
                // update user (needs users.manage; township_staff scope is 130110 here)
                let (s, _) = t
                    .patch_user(&tok, *uid, json!({"display_name": "改名"}))
                    .await;
                // No administrator manages accounts (issue 13, 三权分立).
                let can_manage = ["official", "township_staff"].contains(&role);
                if can_manage && visible {
                    assert_eq!(s, StatusCode::OK, "{role} update user {label}");
                } else if can_manage {
                    assert_eq!(s, StatusCode::NOT_FOUND, "{role} update user {label}");
                } else {
                    assert!(
                        s == StatusCode::FORBIDDEN,
                        "{role} update user {label}: {s}"
                    );
                }
            }
            // lists never contain out-of-scope rows
            let (s, l) = t.get("/api/v1/orgs", &tok).await;
            assert_eq!(s, StatusCode::OK, "{role} list orgs");
            let names: Vec<&str> = l
                .as_array()
                .expect("list")
                .iter()
                .filter_map(|o| o["name"].as_str())
                .collect();
            assert_eq!(names, vec!["机构-own", "机构-child"], "{role} org list");
            let (s, l) = t.get("/api/v1/users", &tok).await;
            if s == StatusCode::OK {
                for u in l.as_array().expect("list") {
                    let rc = u["region_code"].as_str().unwrap_or("");
                    assert!(rc.starts_with("130110"), "{role} sees user scoped {rc}");
                }
            }
        }
    })
    .await;
}

/// Create a charity named `name` in `region` as `token` (and see it created).
async fn create_charity(t: &T, token: &str, name: &str, region: &str) {
    let body = json!({"name": name, "kind": "charity", "region_code": region});
    let (s, b) = t.post("/api/v1/orgs", token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

#[tokio::test]
async fn audit_chain_verifies_and_detects_tampering() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let admin = t.user("root", &["sysadmin"], "0").await;
        let auditor = t.user("aud", &["auditor"], "0").await;
        for i in 0..3 {
            create_charity(&t, &admin, &format!("机构{i}"), "130110").await;
        }
        // Failed login is recorded too.
        let s = t.failed_login("root").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, rows) = t.get("/api/v1/audit?action=org.create", &auditor).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(rows.as_array().map(Vec::len), Some(3));
        assert_eq!(rows[0]["username"], "root");
        assert_eq!(rows[0]["detail"]["name"]["after"], "机构2");
        let (_, rows) = t
            .get(
                "/api/v1/audit?action=auth.login&outcome=failure&username=root",
                &auditor,
            )
            .await;
        assert_eq!(rows.as_array().map(Vec::len), Some(1));
        // Only the auditor reads the log (三权分立).
        let (s, _) = t.get("/api/v1/audit", &admin).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let report = backstop_app::audit::verify(&t.state.db)
            .await
            .expect("verify");
        assert!(report.first_broken.is_none(), "{report:?}");
        assert!(report.entries >= 8);
        // The database refuses edits.
        let r = sqlx::query("UPDATE audit_log SET outcome = 'x' WHERE id = 2")
            .execute(t.state.db.pool())
            .await;
        assert!(r.is_err(), "append-only");
        let r = sqlx::query("DELETE FROM audit_log WHERE id = 2")
            .execute(t.state.db.pool())
            .await;
        assert!(r.is_err(), "append-only");
        // Someone with the database owner's power drops the guard and edits a row.
        let target: i64 = sqlx::query_scalar(
            "SELECT id FROM audit_log WHERE action = 'org.create' ORDER BY id LIMIT 1",
        )
        .fetch_one(t.state.db.pool())
        .await
        .expect("id");
        crate::support::unguard_audit(&t).await;
        sqlx::query("UPDATE audit_log SET detail = '{}' WHERE id = $1")
            .bind(target)
            .execute(t.state.db.pool())
            .await
            .expect("tamper");
        let report = backstop_app::audit::verify(&t.state.db)
            .await
            .expect("verify");
        assert_eq!(
            report.first_broken.as_ref().map(|b| b.0),
            Some(target),
            "{report:?}"
        );
    })
    .await;
}

/// The auditor's search and the region filters of the lists go through the scoped handle: a
/// regional auditor reads the entries of its region only (not a sibling's, not the national
/// ones), and a `?region=` outside the scope, or malformed, is *not found* — never a list.
#[tokio::test]
async fn audit_search_and_region_filters_stay_in_scope() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let admin = t.user("root", &["sysadmin"], "0").await;
        for (name, code) in [("本区机构", "130110"), ("邻区机构", "130111")] {
            create_charity(&t, &admin, name, code).await;
        }
        // A failed login of an unknown account is recorded nationally ("0").
        let s = t.failed_login("nobody").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let national = t.user("aud.all", &["auditor"], "0").await;
        let regional = t.user("aud.130110", &["auditor"], "130110").await;
        let regions_of = |rows: &serde_json::Value| -> Vec<String> {
            rows.as_array()
                .expect("list")
                .iter()
                .filter_map(|r| r["region_code"].as_str().map(str::to_string))
                .collect()
        };
        let (s, rows) = t.get("/api/v1/audit?action=org.create", &national).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(regions_of(&rows), vec!["130111", "130110"]);
        let (s, rows) = t.get("/api/v1/audit?action=org.create", &regional).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(regions_of(&rows), vec!["130110"]);
        let (_, rows) = t
            .get("/api/v1/audit?action=auth.login&outcome=failure", &national)
            .await;
        assert!(regions_of(&rows).contains(&"0".to_string()));
        let (_, rows) = t.get("/api/v1/audit", &regional).await;
        for rc in regions_of(&rows) {
            assert!(rc.starts_with("130110"), "regional auditor sees {rc}");
        }
        // Region filters: outside the scope or malformed is not found; inside, a list.
        let official = t.user("off.130110", &["official"], "130110").await;
        for path in [
            "/api/v1/orgs?region=130111",
            "/api/v1/orgs?region=1301",
            "/api/v1/orgs?region=13x",
            "/api/v1/users?region=130111",
            "/api/v1/users?region=13x",
        ] {
            let (s, _) = t.get(path, &official).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        }
        let (s, l) = t.get("/api/v1/orgs?region=130110", &official).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(l.as_array().map(Vec::len), Some(1));
        let (s, _) = t.get("/api/v1/orgs?kind=nonsense", &official).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
}

#[tokio::test]
async fn api_conventions_openapi_health_and_headers() {
    each_backend(|t: T| async move {
        let (s, doc) = t.call("GET", "/api/v1/openapi.json", None, None).await;
        assert_eq!(s, StatusCode::OK);
        for p in [
            "/api/v1/auth/login",
            "/api/v1/users",
            "/api/v1/orgs",
            "/api/v1/regions/{code}",
            "/api/v1/regions/{code}/children",
            "/api/v1/me",
            "/api/v1/audit",
        ] {
            assert!(doc["paths"][p].is_object(), "openapi lacks {p}");
        }
        let (s, h, body) = t.raw("GET", "/api/docs", None, None, &[]).await;
        assert_eq!(s, StatusCode::OK);
        let html = String::from_utf8(body).expect("utf8");
        assert!(html.contains("/assets/swagger/swagger-ui-bundle.js") && !html.contains("http"));
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(
            h.get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff")
        );
        let (s, _, _) = t
            .raw(
                "GET",
                "/assets/swagger/swagger-ui-bundle.js",
                None,
                None,
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _, _) = t.raw("GET", "/healthz", None, None, &[]).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _, _) = t.raw("GET", "/readyz", None, None, &[]).await;
        assert_eq!(s, StatusCode::OK);
        // Without a configured token /metrics is not served (hardening::metrics_need_a_token).
        let (s, _, _) = t.raw("GET", "/metrics", None, None, &[]).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Errors are {code, message} in Chinese; unknown API paths are JSON 404s.
        let (s, e) = t.call("GET", "/api/v1/nothing-here", None, None).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        let (s, e) = t.call("GET", "/api/v1/me", None, None).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
        );
        assert!(
            e["message"]
                .as_str()
                .is_some_and(|m| m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))
        );
    })
    .await;
}
