//! Issue 20, on every backend (the province) with a county on SQLite: the assistance totals of a
//! county whose beneficiaries stay on its own laptop reach the province as figures (no person
//! goes up), and the province's statistics then equal the county's at the county, at each
//! township and village inside it, and in the city line above it; a change replaces the
//! figures rather than adding to them, and everything sent again changes nothing. The same for
//! the people under home observation, in the province's roll-up by region.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::federation::{county_for, linked, lose_answers, send, sync};
use crate::support::{T, audit_count, count, each_backend};

/// (households, persons, paid fen) of a statistics line.
fn figures(l: &Value) -> (i64, i64, i64) {
    (
        l["households"].as_i64().unwrap_or(-1),
        l["persons"].as_i64().unwrap_or(-1),
        l["paid_fen"].as_i64().unwrap_or(-1),
    )
}

/// The total and each line's figures of the statistics of `region` for `month`.
async fn stats(t: &T, tok: &str, region: &str, month: &str) -> Vec<(String, (i64, i64, i64))> {
    let (s, st) = t
        .get(
            &format!("/api/v1/assistance/statistics?region={region}&month={month}"),
            tok,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{st}");
    let mut out = vec![("total".to_string(), figures(&st["total"]))];
    for l in st["lines"].as_array().into_iter().flatten() {
        let f = figures(l);
        if f != (0, 0, 0) {
            out.push((l["region_code"].as_str().unwrap_or("").to_string(), f));
        }
    }
    out
}

async fn beneficiary(t: &T, region: &str, programme: &str, person: i64, members: i64, month: &str) {
    sqlx::query(
        "INSERT INTO assistance_beneficiaries (province, programme, county_code, region_code, \
         person_id, members, area_kind, monthly_amount_fen, status, since_month, exit_held, \
         created_at, updated_at) VALUES ('13', $1, '130110', $2, $3, $4, 'rural', 61200, 'active', $5, 0, 0, 0)",
    )
    .bind(programme.to_string())
    .bind(region.to_string())
    .bind(person)
    .bind(members)
    .bind(month.to_string())
    .execute(t.state.db.pool())
    .await
    .expect("beneficiary");
}

#[tokio::test]
async fn assistance_totals_of_a_county_reach_its_province_as_figures() {
    each_backend(|parent: T| async move {
        let (county, issued) = county_for(&parent).await;
        let up = linked(&parent, &county, &issued).await;
        // Nothing to report yet: no snapshot goes.
        let r = sync(&county).await;
        assert_eq!((r.applied, r.error.as_deref()), (0, None), "{r:?}");

        let month = county.state.today().format("%Y-%m").to_string();
        let off_c = county.user("off.c", &["official"], "130110").await;
        let cw = county.user("cw.c", &["community_worker"], "130110").await;
        let mut people = Vec::new();
        for (name, region) in [
            ("赵一", "130110100001"),
            ("钱二", "130110100002"),
            ("孙三", "130110101001"),
        ] {
            let (s, p) = county
                .post(
                    "/api/v1/persons",
                    &cw,
                    json!({"name": name, "region_code": region,
                    "birth_date": "1950-01-01"}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{p}");
            people.push((p["id"].as_i64().expect("id"), region));
        }
        beneficiary(&county, people[0].1, "dibao", people[0].0, 3, &month).await;
        beneficiary(&county, people[1].1, "tekun", people[1].0, 1, &month).await;
        beneficiary(&county, people[2].1, "dibao", people[2].0, 2, &month).await;
        // Kept at the township itself (本级 of 获鹿镇).
        beneficiary(&county, "130110100", "tekun", people[2].0, 1, &month).await;

        let r = sync(&county).await;
        assert_eq!((r.applied, r.rejected), (1, 0), "one snapshot: {r:?}");
        let off_p = parent.user("off.p", &["official"], "130110").await;
        for region in ["130110", "130110100", "130110100001", "130110101"] {
            let at_county = stats(&county, &off_c, region, &month).await;
            assert_ne!(at_county[0].1, (0, 0, 0), "{region}: something to compare");
            assert_eq!(
                stats(&parent, &off_p, region, &month).await,
                at_county,
                "{region}"
            );
        }
        let prov = parent.user("off.prov", &["official"], "13").await;
        let at_province = stats(&parent, &prov, "13", &month).await;
        let at_county = stats(&county, &off_c, "130110", &month).await;
        assert_eq!(at_province[0].1, at_county[0].1, "the province's total");
        assert_eq!(
            at_province.iter().find(|(c, _)| c == "1301").map(|l| l.1),
            Some(at_county[0].1),
            "石家庄市's line carries the county"
        );
        assert_eq!(
            count(
                &parent,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM assistance_beneficiaries"
            )
            .await,
            0,
            "no person went up"
        );

        // Unchanged: nothing queued; changed: replaced, not added.
        let r = sync(&county).await;
        assert_eq!(r.applied, 0, "{r:?}");
        beneficiary(
            &county,
            people[0].1,
            "orphan_allowance",
            people[1].0,
            1,
            &month,
        )
        .await;
        let r = sync(&county).await;
        assert_eq!(r.applied, 1, "{r:?}");
        let at_county = stats(&county, &off_c, "130110", &month).await;
        assert_eq!(stats(&parent, &off_p, "130110", &month).await, at_county);
        // Everything sent again: the older snapshot does not overwrite the newer one.
        lose_answers(&county).await;
        let r = sync(&county).await;
        assert_eq!((r.applied, r.duplicate, r.rejected), (0, 2, 0), "{r:?}");
        assert_eq!(stats(&parent, &off_p, "130110", &month).await, at_county);
        assert_eq!(audit_count(&parent, "federation.figures").await, 2);

        // People under home observation at the county: the province's roll-up counts them.
        for (person, region) in [
            (people[0].0, "130110100001"),
            (people[1].0, "130110100002"),
            (people[2].0, "130110101"),
        ] {
            sqlx::query(
                "INSERT INTO observations (person_id, region_code, started_at, ends_on, status, \
                 created_by, created_at) VALUES ($1, $2, 0, '2099-01-01', 'active', 'cw.c', 0)",
            )
            .bind(person)
            .bind(region.to_string())
            .execute(county.state.db.pool())
            .await
            .expect("observation");
        }
        let r = sync(&county).await;
        assert_eq!(
            (r.applied, r.rejected),
            (1, 0),
            "one observation snapshot: {r:?}"
        );
        for region in ["130110", "130110100", "130110101"] {
            let path = format!("/api/v1/observations/summary?region={region}");
            let (_, at_county) = county.get(&path, &off_c).await;
            let (_, at_parent) = parent.get(&path, &off_p).await;
            assert!(
                at_county["under_observation"].as_i64() > Some(0),
                "{at_county}"
            );
            assert_eq!(
                at_parent["under_observation"], at_county["under_observation"],
                "{region}"
            );
            assert_eq!(at_parent["children"], at_county["children"], "{region}");
        }
        let (_, nation) = parent
            .get("/api/v1/observations/summary?region=13", &prov)
            .await;
        let city = nation["children"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["code"] == "1301"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (nation["under_observation"].as_i64(), city["count"].as_i64()),
            (Some(3), Some(3)),
            "{nation}"
        );
        up.abort();
        county.state.db.close().await;
    })
    .await;
}

/// (households, reached, children with something) of a campaign's coverage.
async fn coverage(t: &T, tok: &str, camp: i64, region: &str) -> (i64, i64, Vec<Value>) {
    let path = format!("/api/v1/screening/campaigns/{camp}/coverage?region={region}");
    let (s, c) = t.get(&path, tok).await;
    assert_eq!(s, StatusCode::OK, "{path}: {c}");
    let kids = c["children"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| k["households"] != 0 || k["reached"] != 0)
        .cloned()
        .collect();
    (
        c["households"].as_i64().unwrap_or(-1),
        c["reached"].as_i64().unwrap_or(-1),
        kids,
    )
}

/// Issue 20, the "four full coverages": a campaign the province opens comes down to the county
/// (one for another county does not), the county's workers visit its households against it,
/// and the province's coverage of the campaign then equals the county's at every level, with
/// no household going up; a later visit replaces the figures; a coverage snapshot naming a
/// campaign the node has no business with is refused.
#[tokio::test]
async fn a_province_campaign_comes_down_and_its_coverage_goes_back_up() {
    each_backend(|parent: T| async move {
        let (county, issued) = county_for(&parent).await;
        let up = linked(&parent, &county, &issued).await;
        let prov = parent.user("off.prov", &["official"], "13").await;
        let campaign = |name: &str, region: &str| {
            json!({"name": name, "purpose": "四个全覆盖", "starts_on": "2026-03-01",
                "ends_on": "2026-03-10", "region_code": region})
        };
        let (s, c) = parent
            .post(
                "/api/v1/screening/campaigns",
                &prov,
                campaign("全省拉网式排查", "13"),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let camp = c["id"].as_i64().expect("id");
        let (s, other) = parent
            .post(
                "/api/v1/screening/campaigns",
                &prov,
                campaign("邻县排查", "130111"),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{other}");

        let r = sync(&county).await;
        assert_eq!((r.campaigns, r.error.as_deref()), (1, None), "{r:?}");
        let off_c = county.user("off.c", &["official"], "130110").await;
        let (_, list) = county.get("/api/v1/screening/campaigns", &off_c).await;
        let list = list.as_array().cloned().unwrap_or_default();
        assert_eq!(
            list.len(),
            1,
            "only the campaign concerning the county: {list:?}"
        );
        assert_eq!(
            (list[0]["name"].as_str(), list[0]["from_parent"].as_bool()),
            (Some("全省拉网式排查"), Some(true))
        );
        let here = list[0]["id"].as_i64().expect("id");
        let r = sync(&county).await;
        assert_eq!(r.campaigns, 0, "taken once: {r:?}");
        assert_eq!(
            audit_count(&county, "screening.campaign_from_parent").await,
            1
        );

        // Four households in three villages of two townships, visited against it at the county.
        let cw = county.user("cw.c", &["community_worker"], "130110").await;
        let mut homes = Vec::new();
        for (i, region) in [
            "130110100001",
            "130110100001",
            "130110100002",
            "130110101001",
        ]
        .into_iter()
        .enumerate()
        {
            let (s, p) = county
                .post(
                    "/api/v1/persons",
                    &cw,
                    json!({"name": format!("户主{i}"), "region_code": region,
                        "birth_date": "1960-01-01"}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{p}");
            let (s, h) = county
                .post(
                    "/api/v1/households",
                    &cw,
                    json!({"region_code": region, "address": format!("{region} {i} 号"),
                        "members": [{"person_id": p["id"], "relationship": "head"}]}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{h}");
            homes.push(h["id"].as_i64().expect("household"));
        }
        let visit = |home: i64, reached: bool| {
            let path = format!("/api/v1/screening/campaigns/{here}/households/{home}");
            (path, json!({"reached": reached}))
        };
        for (home, reached) in [(homes[0], true), (homes[2], true), (homes[3], false)] {
            let (path, body) = visit(home, reached);
            let (s, v) = county.post(&path, &cw, body).await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        // A campaign of the county's own, visited too: it stays at the county.
        let (s, own) = county
            .post(
                "/api/v1/screening/campaigns",
                &off_c,
                campaign("区内复查", "130110"),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{own}");
        let own_path = format!(
            "/api/v1/screening/campaigns/{}/households/{}",
            own["id"], homes[1]
        );
        let (s, _) = county.post(&own_path, &cw, json!({"reached": true})).await;
        assert_eq!(s, StatusCode::OK);

        let r = sync(&county).await;
        assert_eq!(
            (r.applied, r.rejected),
            (1, 0),
            "one coverage snapshot: {r:?}"
        );
        let off_p = parent.user("off.p", &["official"], "130110").await;
        for region in ["130110", "130110100", "130110100001", "130110101"] {
            let at_county = coverage(&county, &off_c, here, region).await;
            assert!(at_county.0 > 0, "{region}: something to compare");
            assert_eq!(
                coverage(&parent, &off_p, camp, region).await,
                at_county,
                "{region}"
            );
        }
        let (h, reached, _) = coverage(&county, &off_c, here, "130110").await;
        assert_eq!(
            (h, reached),
            (4, 2),
            "four households, two reached, at the county"
        );
        let (h, reached, kids) = coverage(&parent, &prov, camp, "13").await;
        assert_eq!((h, reached), (4, 2), "the province's whole campaign");
        assert_eq!(
            kids.iter()
                .find(|k| k["code"] == "1301")
                .map(|k| (k["households"].as_i64(), k["reached"].as_i64())),
            Some((Some(4), Some(2))),
            "石家庄市's line carries the county: {kids:?}"
        );
        assert_eq!(
            count(&parent, "SELECT CAST(COUNT(*) AS BIGINT) FROM households").await,
            0,
            "no household went up"
        );
        assert_eq!(
            count(
                &parent,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM fed_figures WHERE kind = 'coverage'"
            )
            .await,
            3,
            "three villages, the county's own campaign not among them"
        );

        // A later visit: replaced, not added.
        let (path, body) = visit(homes[3], true);
        let (s, _) = county.post(&path, &cw, body).await;
        assert_eq!(s, StatusCode::OK);
        let r = sync(&county).await;
        assert_eq!((r.applied, r.rejected), (1, 0), "{r:?}");
        let (h, reached, _) = coverage(&parent, &prov, camp, "13").await;
        assert_eq!(
            (h, reached),
            (4, 3),
            "the newer snapshot replaced the older"
        );

        // Coverage of a campaign of another county, or of none: refused, nothing kept.
        for period in [other["id"].to_string(), "999999".to_string()] {
            let (s, a) = send(
                &parent,
                &issued.credential,
                json!([{"key": format!("cov-{period}"), "kind": "figures",
                    "created_at": "2026-03-02T08:00:00Z",
                    "body": {"kind": "coverage", "period": period, "as_of": 1,
                        "lines": [{"region_code": "130110100001", "own_level": false,
                            "households": 9, "reached": 9}]}}]),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{a}");
            assert_eq!(a["results"][0]["status"], "rejected", "{period}: {a}");
        }
        assert_eq!(
            count(
                &parent,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM fed_figures WHERE kind = 'coverage'"
            )
            .await,
            3
        );
        let (_, doc) = parent.call("GET", "/api/v1/openapi.json", None, None).await;
        for p in [
            "/api/v1/federation/campaigns",
            "/api/v1/federation/assistance",
            "/api/v1/federation/public-info",
        ] {
            assert!(doc["paths"][p].is_object(), "openapi lacks {p}");
        }
        up.abort();
        county.state.db.close().await;
    })
    .await;
}
