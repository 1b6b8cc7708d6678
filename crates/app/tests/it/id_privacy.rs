//! Issue 13, items 1 and 2: what each role sees of a person leaves at least 10,000 possible ID
//! numbers (counted, not guessed: every number consistent with every mask, the birth year and
//! the sex a role can see, with a valid check character); the database without the key holds
//! no birth date; old clear rows are sealed at start; exact lookups are metered — on both
//! backends.

use axum::http::StatusCode;
use backstop_core::citizen_id::check_char;
use chrono::Datelike;
use serde_json::json;

use crate::support::{T, cid, each_backend, page, web_login};

const V1: &str = "130110100001";
const BIRTH: &str = "19830719";

/// Every run of exactly 18 characters from `[0-9X*]` holding a `*`: the masked ID numbers a
/// text shows.
fn masks_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || c == 'X' || c == '*' {
            run.push(c);
        } else {
            if run.chars().count() == 18 && run.contains('*') {
                out.push(run.clone());
            }
            run.clear();
        }
    }
    out
}

/// How many 18-character ID numbers agree with everything seen: each mask's shown
/// characters, the region (always shown), the birth year and the sex (assumed shown).
fn candidates(region6: &str, year: i32, male: bool, masks: &[String]) -> usize {
    let known: Vec<Option<char>> = (0..18)
        .map(|i| {
            masks
                .iter()
                .filter_map(|m| m.chars().nth(i))
                .find(|c| *c != '*')
        })
        .collect();
    let mut n = 0;
    let mut d = chrono::NaiveDate::from_ymd_opt(year, 1, 1).expect("date");
    while d.year() == year {
        let date = d.format("%Y%m%d").to_string();
        for seq in 0..1000u32 {
            if (seq % 2 == 1) != male {
                continue;
            }
            let body = format!("{region6}{date}{seq:03}");
            let Some(check) = check_char(&body) else {
                continue;
            };
            let full: Vec<char> = format!("{body}{check}").chars().collect();
            if known
                .iter()
                .zip(&full)
                .all(|(k, c)| k.is_none_or(|k| k == *c))
            {
                n += 1;
            }
        }
        d = d.succ_opt().expect("next day");
    }
    n
}

#[tokio::test]
async fn what_each_role_sees_leaves_ten_thousand_numbers() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let id = cid("130110", BIRTH, 35); // seq 035: male
        let official = t.user("c_off", &["official"], "1301").await;
        let (s, b) = t
            .post("/api/v1/persons", &official, json!({"id_number": id, "name": "候选人", "region_code": V1, "phone": "13812340000"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let pid = b["id"].as_i64().expect("id");
        let roles: [(&str, &str, &str); 4] = [
            ("c_off", "official", "1301"),
            ("c_town", "township_staff", "130110100"),
            ("c_cw", "community_worker", V1),
            ("c_sw", "social_worker", V1),
        ];
        for (user, role, scope) in roles {
            let token = if user == "c_off" { official.clone() } else { t.user(user, &[role], scope).await };
            let mut seen = String::new();
            for path in [format!("/api/v1/persons/{pid}"), "/api/v1/persons".to_string(), "/api/v1/persons?q=hxr".to_string()] {
                let (s, b) = t.get(&path, &token).await;
                assert_eq!(s, StatusCode::OK, "{role} {path}: {b}");
                seen.push_str(&b.to_string());
            }
            let (_, b) = t.post("/api/v1/persons/search", &token, json!({"id_number": id})).await;
            seen.push_str(&b.to_string());
            let cookie = web_login(&t, user).await;
            for path in [format!("/persons/{pid}"), "/persons".to_string(), format!("/care/persons/{pid}")] {
                let (_, html) = page(&t, &path, &cookie).await;
                seen.push_str(&html);
            }
            let (s, _, xlsx) = t
                .raw("POST", "/api/v1/persons/export", Some(&token), Some(json!({"reason": "核对名单"}).to_string()), &[])
                .await;
            if s == StatusCode::OK {
                seen.push_str(&String::from_utf8_lossy(&xlsx));
            }
            for shown in ["1983-07-19", "19830719", "1983/07/19", "1983年7月19日"] {
                assert!(!seen.contains(shown), "{role} sees the birth date ({shown})");
            }
            assert!(!seen.contains(&id), "{role} sees the whole number");
            let masks = masks_in(&seen);
            assert!(!masks.is_empty(), "{role}: the search found no mask, so it looked at nothing");
            let n = candidates("130110", 1983, true, &masks);
            eprintln!("{role}: {n} candidate numbers ({} masks seen)", masks.len());
            assert!(n >= 10_000, "{role}: only {n} numbers fit what it sees ({masks:?})");
            assert!(n <= 200_000, "{role}: the count is implausibly large ({n})");
        }

        // The database without the key: masks, year and sex, never the date.
        let (masked, year, sex, clear): (String, Option<i64>, String, String) = sqlx::query_as(
            "SELECT id_masked, birth_year, sex, birth_date FROM persons WHERE id = $1",
        )
        .bind(pid)
        .fetch_one(t.state.db.pool())
        .await
        .expect("row");
        assert_eq!((year, sex.as_str(), clear.as_str()), (Some(1983), "male", ""));
        let n = candidates("130110", 1983, true, &[masked]);
        assert!(n >= 10_000, "the stored forms leave only {n}");
        // The old "6+4" mask with a shown year left a few hundred: the counter can tell.
        let old = format!("{}********{}", &id[..6], &id[14..]);
        assert!(candidates("130110", 1983, true, &[old]) < 400);
    })
    .await;
}

#[tokio::test]
async fn clear_rows_of_earlier_versions_are_sealed_at_start() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let id = cid("130110", "19700506", 12);
        let old_mask = format!("{}********{}", &id[..6], &id[14..]);
        let pid: i64 = sqlx::query_scalar(
            "INSERT INTO persons (region_code, name, sex, birth_date, id_masked, created_at, updated_at) \
             VALUES ($1, '旧记录', 'female', '1970-05-06', $2, 0, 0) RETURNING id",
        )
        .bind(V1)
        .bind(&old_mask)
        .fetch_one(t.state.db.pool())
        .await
        .expect("insert");
        let sealed = backstop_app::people::privacy::seal_clear_rows(&t.state).await.expect("seal");
        assert_eq!(sealed, 1);
        assert_eq!(backstop_app::people::privacy::seal_clear_rows(&t.state).await.expect("again"), 0, "idempotent");
        let (masked, year, clear): (String, Option<i64>, String) =
            sqlx::query_as("SELECT id_masked, birth_year, birth_date FROM persons WHERE id = $1")
                .bind(pid)
                .fetch_one(t.state.db.pool())
                .await
                .expect("row");
        assert_eq!((masked.as_str(), year, clear.as_str()), (format!("{}{}{}", &id[..6], "*".repeat(11), &id[17..]).as_str(), Some(1970), ""));
        let official = t.user("s_off", &["official"], "1301").await;
        let (s, b) = t
            .post(&format!("/api/v1/persons/{pid}/reveal"), &official, json!({"reason": "核对身份"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["birth_date"], "1970-05-06", "the sealed date opens with the key");
    })
    .await;
}

#[tokio::test]
async fn exact_lookups_are_metered_and_a_burst_alerts() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let worker = t.user("m_cw", &["community_worker"], V1).await;
        let limit = backstop_app::people::links::LOOKUPS_PER_HOUR;
        for i in 0..limit {
            let n = cid("130110", "19600101", 100 + u32::try_from(i).expect("small"));
            let (s, b) = t.post("/api/v1/persons/search", &worker, json!({"id_number": n})).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "lookup {i}: {b}");
        }
        let alerts = |t: &T| {
            let pool = t.state.db.pool().clone();
            async move {
                sqlx::query_scalar::<_, i64>(
                    "SELECT CAST(COUNT(*) AS BIGINT) FROM notifications WHERE kind = 'security_lookup_burst'",
                )
                .fetch_one(&pool)
                .await
                .expect("count")
            }
        };
        assert_eq!(alerts(&t).await, 0);
        for _ in 0..2 {
            let (s, b) = t
                .post("/api/v1/persons/search", &worker, json!({"id_number": cid("130110", "19600101", 900)}))
                .await;
            assert_eq!((s, b["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{b}");
        }
        assert_eq!(alerts(&t).await, 1, "one alert per burst");
        let refused: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = 'person.lookup' AND username = 'm_cw'",
        )
        .fetch_one(t.state.db.pool())
        .await
        .expect("audit");
        assert_eq!(refused, limit + 2, "refusals audited too");
        // Another user is not held back; the worker is again after an hour.
        let other = t.user("m_cw2", &["community_worker"], V1).await;
        let (s, _) = t.post("/api/v1/persons/search", &other, json!({"id_number": cid("130110", "19600101", 901)})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        t.clock.advance(chrono::Duration::minutes(61));
        let worker = t.login("m_cw").await;
        let (s, _) = t.post("/api/v1/persons/search", &worker, json!({"id_number": cid("130110", "19600101", 902)})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await;
}
