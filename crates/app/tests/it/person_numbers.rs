//! One person per ID number across provinces (issue 22 item 3, migration 0067): the national
//! register `person_numbers`, not an index on `persons`, holds each number once, so that
//! `persons` can be distributed by province. On PostgreSQL and Citus `persons` has no unique
//! index on the number any more: two registrations of one number in two provinces at once
//! would both be written but for the register. (SQLite keeps `persons`' unique index as its
//! register; the same tests check its records.) Tested here: registrations racing in pairs, a
//! registration that must wait for another's uncommitted claim (PostgreSQL), the roster
//! import's claims across a province's border, and a move taking its claim along.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use crate::imports::{api_import, wait_job};
use crate::support::*;

const HEBEI: &str = "130110100001"; // 旱码头社区 (鹿泉区, 河北)
const GUANGDONG: &str = "440115001001"; // 南沙社区 (南沙区, 广东)

/// Every number held: blind index → (the province the register says, the provinces of the
/// `persons` rows holding it). SQLite has no register (its unique index on `persons` holds):
/// there the claim is read as the first record's province, so only the records are checked.
async fn holders(t: &T) -> BTreeMap<String, (String, Vec<String>)> {
    let pool = t.state.db.pool();
    let register = if t.backend == "sqlite" {
        "SELECT id_index, MIN(substr(region_code, 1, 2)) FROM persons \
         WHERE id_index IS NOT NULL GROUP BY id_index"
    } else {
        "SELECT id_index, province FROM person_numbers"
    };
    let claims: Vec<(String, String)> = sqlx::query_as(register)
        .fetch_all(pool)
        .await
        .expect("register");
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id_index, region_code FROM persons WHERE id_index IS NOT NULL ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("persons");
    let mut out: BTreeMap<String, (String, Vec<String>)> = claims
        .into_iter()
        .map(|(i, p)| (i, (p, Vec::new())))
        .collect();
    for (index, region) in rows {
        out.entry(index)
            .or_insert_with(|| ("(not claimed)".into(), Vec::new()))
            .1
            .push(region[..2].to_string());
    }
    out
}

/// Each number is claimed once, by exactly one record, in that record's province.
fn assert_one_holder_each(h: &BTreeMap<String, (String, Vec<String>)>) {
    for (index, (claimed, held)) in h {
        assert_eq!(
            held,
            &vec![claimed.clone()],
            "number {index}: claimed for {claimed}, held by records in {held:?}"
        );
    }
}

#[tokio::test]
async fn one_number_registered_in_two_provinces_at_once_has_one_holder() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let hebei = t.user("n_he", &["official"], "13").await;
        let guangdong = t.user("n_gd", &["official"], "44").await;
        const PAIRS: u32 = 12;
        for k in 1..=PAIRS {
            let n = cid("130110", "19800101", k);
            let a = t.post(
                "/api/v1/persons",
                &hebei,
                json!({"id_number": n, "name": "甲", "region_code": HEBEI}),
            );
            let b = t.post(
                "/api/v1/persons",
                &guangdong,
                json!({"id_number": n, "name": "乙", "region_code": GUANGDONG}),
            );
            let ((sa, ba), (sb, bb)) = tokio::join!(a, b);
            // Both registrations are answered as any new person's: one holds the number, the
            // other is its region's link to it (nothing tells either which came first).
            assert_eq!(sa, StatusCode::CREATED, "{ba}");
            assert_eq!(sb, StatusCode::CREATED, "{bb}");
        }
        let h = holders(&t).await;
        assert_eq!(h.len(), PAIRS as usize, "{h:?}");
        assert_one_holder_each(&h);
        assert_eq!(
            count(
                &t,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM persons WHERE link_of IS NOT NULL"
            )
            .await,
            i64::from(PAIRS),
            "the registration that came second is a link"
        );
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM persons").await,
            i64::from(2 * PAIRS)
        );
    })
    .await;
}

#[tokio::test]
async fn a_registration_waits_for_an_uncommitted_claim_and_becomes_a_link() {
    each_backend(|t: T| async move {
        if t.backend != "postgres" {
            // SQLite has one writer; on Citus the wait is on a worker, where the coordinator's
            // `pg_stat_activity` does not show it (the race above runs there).
            return;
        }
        t.import_fixture().await;
        let guangdong = t.user("w_gd", &["official"], "44").await;
        let n = cid("130110", "19750505", 3);
        let index = t.state.keys.blind_index("id", &n);
        let pool = t.state.db.pool();
        // Another registration in Hebei has claimed the number and not yet committed.
        let mut other = pool.begin().await.expect("begin");
        sqlx::query(
            "INSERT INTO person_numbers (id_index, province, created_at) VALUES ($1, '13', 1)",
        )
        .bind(&index)
        .execute(&mut *other)
        .await
        .expect("claim");
        let register = t.post(
            "/api/v1/persons",
            &guangdong,
            json!({"id_number": n, "name": "乙", "region_code": GUANGDONG}),
        );
        let finish_other = async {
            // Wait until the Guangdong registration is blocked on the claim, then commit.
            let mut seen = false;
            for _ in 0..500 {
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                     AND query LIKE '%person_numbers%' AND datname = current_database()",
                )
                .fetch_one(pool)
                .await
                .expect("activity");
                if waiting > 0 {
                    seen = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(seen, "the registration never waited for the claim");
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO persons (region_code, name, id_index, created_at, updated_at) \
                 VALUES ($1, '甲', $2, 1, 1) RETURNING id",
            )
            .bind(HEBEI)
            .bind(&index)
            .fetch_one(&mut *other)
            .await
            .expect("holder");
            other.commit().await.expect("commit");
            id
        };
        let ((s, b), holder) = tokio::join!(register, finish_other);
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let link: Option<i64> = sqlx::query_scalar("SELECT link_of FROM persons WHERE id = $1")
            .bind(b["id"].as_i64().expect("id"))
            .fetch_one(pool)
            .await
            .expect("link");
        assert_eq!(link, Some(holder), "Guangdong's record links to Hebei's");
        let h = holders(&t).await;
        assert_eq!(h.len(), 1);
        assert_one_holder_each(&h);
    })
    .await;
}

#[tokio::test]
async fn the_import_claims_its_numbers_and_a_move_takes_the_claim_along() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let hebei = t.user("i_he", &["official"], "13").await;
        let guangdong = t.user("i_gd", &["official"], "44").await;
        let nation = t.user("i_nat", &["official"], "0").await;
        let held = cid("130110", "19600101", 1);
        let (s, b) = t
            .post(
                "/api/v1/persons",
                &hebei,
                json!({"id_number": held, "name": "甲", "region_code": HEBEI}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let held_id = b["id"].as_i64().expect("id");
        // Guangdong's roster: a number held in Hebei, two new ones, one of them twice.
        let new1 = cid("440115", "19900101", 1);
        let new2 = cid("440115", "19900101", 2);
        let csv = format!(
            "姓名,身份证号,区划代码\n乙,{held},{GUANGDONG}\n丙,{new1},{GUANGDONG}\n丁,{new2},{GUANGDONG}\n丙,{new1},{GUANGDONG}\n"
        );
        let (s, b) = api_import(&t, &guangdong, &[], "roster.csv", csv.as_bytes()).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        let job = wait_job(&t, &guangdong, b["id"].as_i64().expect("id")).await;
        assert_eq!(job["status"], "done", "{job}");
        let h = holders(&t).await;
        assert_eq!(h.len(), 3, "{h:?}");
        assert_one_holder_each(&h);
        let provinces: Vec<&str> = h.values().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            provinces.iter().filter(|p| **p == "44").count(),
            2,
            "{h:?}"
        );
        let index = t.state.keys.blind_index("id", &held);
        assert_eq!(h[&index].0, "13", "the number held in Hebei stays Hebei's");
        // The nation moves the Hebei record to Guangdong: the claim follows.
        let (s, b) = t
            .patch(
                &format!("/api/v1/persons/{held_id}"),
                &nation,
                json!({"region_code": "440115001002"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let h = holders(&t).await;
        assert_eq!(h[&index].0, "44", "{h:?}");
        assert_one_holder_each(&h);
    })
    .await;
}
