//! Institution monitoring: scope (another county never sees an institution or its shortage
//! requests), roles (an institution reporter writes only for its own institution), validation
//! (temperatures outside 34–43 ℃ refused, nothing stored), masking of entrants (API, page,
//! database), fever flagging, the one-screen temperature rounds, supplies, shortage requests
//! rising to the county and answered there, closed-management history, audit entries.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{T, count, created_id, each_backend, ids, org_user, page, web_login};

async fn make_org(t: &T, tok: &str, name: &str, kind: &str, region: &str) -> i64 {
    let body = json!({"name": name, "kind": kind, "region_code": region});
    created_id(t, "/api/v1/orgs", tok, body).await
}

#[tokio::test]
async fn institution_monitoring_end_to_end() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.a", &["official"], "130110").await;
        let off_b = t.user("off.b", &["official"], "130111").await;
        let home = make_org(&t, &off, "获鹿镇敬老院", "elderly_care", "130110100").await;
        let home2 = make_org(&t, &off, "铜冶镇敬老院", "elderly_care", "130110101").await;
        let charity = make_org(&t, &off, "鹿泉区慈善会", "charity", "130110").await;
        let other = make_org(&t, &off_b, "栾城区儿童福利院", "child_welfare", "130111100").await;
        let rep = org_user(&t, "rep.a", &["institution_reporter"], "130110100", home).await;
        let ts = t.user("ts.a", &["township_staff"], "130110100").await;

        // Lists and scope: another county never sees the institution.
        let (s, list) = t.get("/api/v1/institutions", &off).await;
        assert_eq!(s, StatusCode::OK);
        let l = ids(&list);
        assert!(l.contains(&home) && l.contains(&home2));
        assert!(!l.contains(&charity) && !l.contains(&other), "{list}");
        let (_, list_b) = t.get("/api/v1/institutions", &off_b).await;
        assert_eq!(ids(&list_b), vec![other]);
        assert_eq!(t.get(&format!("/api/v1/institutions/{home}"), &off_b).await.0, StatusCode::NOT_FOUND);
        assert_eq!(t.get(&format!("/api/v1/institutions/{charity}"), &off).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            t.post(&format!("/api/v1/institutions/{home}/entries"), &off_b,
                json!({"name": "王五", "reason": "探视", "temperature": 36.5})).await.0,
            StatusCode::NOT_FOUND
        );

        // Closed management with history.
        let cl = format!("/api/v1/institutions/{home}/closure");
        let (s, d) = t.post(&cl, &rep, json!({"action": "start", "date": "2026-03-01", "note": "全封闭"})).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["institution"]["closed"], true);
        assert_eq!(d["institution"]["closed_since"], "2026-03-01");
        assert_eq!(t.post(&cl, &rep, json!({"action": "start"})).await.0, StatusCode::CONFLICT);
        assert_eq!(t.post(&cl, &rep, json!({"action": "end", "date": "2026-02-01"})).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(t.post(&cl, &rep, json!({"action": "start", "date": "2026-03-09"})).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, d) = t.post(&cl, &rep, json!({"action": "end", "date": "2026-03-02"})).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["institution"]["closed"], false);
        let (_, d) = t.post(&cl, &rep, json!({"action": "start"})).await;
        assert_eq!(d["institution"]["closed"], true);
        assert_eq!(d["closures"].as_array().map(Vec::len), Some(2));
        assert_eq!(d["closures"][1]["end_date"], "2026-03-02");
        assert_eq!(d["can_write"], true);

        // Role: the reporter writes only for its own institution (reads others in its scope).
        let home3 = make_org(&t, &off, "获鹿镇救助站", "relief_station", "130110100").await;
        assert_eq!(t.post(&format!("/api/v1/institutions/{home3}/closure"), &rep, json!({"action": "start"})).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.post(&format!("/api/v1/institutions/{home3}/shortages"), &rep, json!({"item": "food", "quantity": 1})).await.0, StatusCode::FORBIDDEN);
        let (s, d3) = t.get(&format!("/api/v1/institutions/{home3}"), &rep).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(d3["can_write"], false);
        assert_eq!(t.get(&format!("/api/v1/institutions/{home2}"), &rep).await.0, StatusCode::NOT_FOUND, "outside its township");

        // Entrance log: masked, phone encrypted, fever flagged, bad temperatures refused.
        let en = format!("/api/v1/institutions/{home}/entries");
        let (s, e) = t.post(&en, &rep, json!({"name": "张三丰", "phone": "13812345678", "reason": "送药", "temperature": 37.5})).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        assert_eq!(e["name_masked"], "张**");
        assert_eq!(e["phone_masked"], "138****5678");
        assert_eq!(e["fever"], true);
        let (s, e) = t.post(&en, &rep, json!({"name": "李四", "phone": "13900001111", "reason": "维修", "temperature": 36.4})).await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(e["fever"], false);
        for bad in [33.9, 43.1, -1.0] {
            let (s, b) = t.post(&en, &rep, json!({"name": "赵六", "reason": "探视", "temperature": bad})).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
            assert_eq!(b["fields"][0]["field"], "temperature");
        }
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM inst_entries").await, 2);
        let (s, list) = t.get(&en, &off).await;
        assert_eq!(s, StatusCode::OK);
        let text = list.to_string();
        assert!(!text.contains("张三丰") && !text.contains("13812345678") && !text.contains("13900001111"), "{text}");
        assert!(text.contains("张**") && text.contains("138****5678"));
        assert_eq!(list.as_array().map(|a| a.iter().filter(|e| e["fever"] == true).count()), Some(1));
        let phones: Vec<Vec<u8>> = sqlx::query_scalar("SELECT phone_enc FROM inst_entries")
            .fetch_all(t.state.db.pool())
            .await
            .expect("phones");
        for p in &phones {
            assert!(!p.windows(11).any(|w| w == b"13812345678" || w == b"13900001111"), "phone in plain text");
        }

        // Residents and one-screen rounds.
        let mut rids = Vec::new();
        for (name, room) in [("王秀英", "101"), ("刘建国", "102"), ("陈桂兰", "103")] {
            let (s, r) = t.post(&format!("/api/v1/institutions/{home}/residents"), &rep, json!({"name": name, "room": room})).await;
            assert_eq!(s, StatusCode::CREATED, "{r}");
            assert_eq!(r["name"], name, "own staff see the full name");
            rids.push(r["id"].as_i64().expect("id"));
        }
        let (_, rs) = t.get(&format!("/api/v1/institutions/{home}/residents"), &off).await;
        assert_eq!(rs[0]["name"], "王**", "others see residents masked");
        let ro = format!("/api/v1/institutions/{home}/rounds");
        let (s, v) = t.post(&ro, &rep, json!({"round": "morning", "temperatures": [
            {"resident_id": rids[0], "temperature": 36.5},
            {"resident_id": rids[1], "temperature": 37.8},
            {"resident_id": rids[2], "temperature": 36.9}]})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["day"], "2026-03-02");
        assert_eq!(v["fevers"].as_array().map(Vec::len), Some(1));
        assert_eq!(v["fevers"][0]["resident_id"], rids[1]);
        assert_eq!(v["fevers"][0]["temperature"], 37.8);
        assert_eq!(v["rows"][1]["morning"]["fever"], true);
        // One bad value refuses the whole round; nothing stored or changed.
        let (s, b) = t.post(&ro, &rep, json!({"round": "morning", "temperatures": [
            {"resident_id": rids[0], "temperature": 36.7},
            {"resident_id": rids[2], "temperature": 43.5}]})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["fields"][0]["field"], format!("t_{}", rids[2]));
        let (s, _) = t.post(&ro, &rep, json!({"round": "noon", "temperatures": [{"resident_id": rids[0], "temperature": 30}]})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = t.post(&ro, &rep, json!({"round": "dusk", "temperatures": [{"resident_id": rids[0], "temperature": 36.6}]})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = t.post(&ro, &rep, json!({"round": "noon", "day": "2026-03-03", "temperatures": [{"resident_id": rids[0], "temperature": 36.6}]})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "future day");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM inst_temps").await, 3);
        let (_, v) = t.get(&ro, &off).await;
        assert_eq!(v["rows"][0]["morning"]["temperature"], 36.5);
        assert!(v["rows"][0]["noon"].is_null());
        let (_, list) = t.get("/api/v1/institutions", &off).await;
        let h = list.as_array().and_then(|a| a.iter().find(|i| i["id"] == home)).cloned().expect("home");
        assert_eq!(h["fevers_today"], 1);
        assert_eq!(h["closed"], true);

        // Supplies and a shortage request rising to the county.
        let (s, sup) = t.post(&format!("/api/v1/institutions/{home}/supplies"), &rep, json!({"items": [
            {"item": "masks", "quantity": 500, "days_left": 2},
            {"item": "food", "quantity": 800, "days_left": 10}]})).await;
        assert_eq!(s, StatusCode::OK, "{sup}");
        assert_eq!(sup[0]["item"], "masks");
        assert_eq!(sup[0]["low"], true);
        assert_eq!(sup[1]["low"], false);
        assert_eq!(t.post(&format!("/api/v1/institutions/{home}/supplies"), &rep,
            json!({"items": [{"item": "masks", "quantity": -1, "days_left": 2}]})).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, sh) = t.post(&format!("/api/v1/institutions/{home}/shortages"), &rep,
            json!({"item": "masks", "quantity": 5000, "note": "口罩仅够两天"})).await;
        assert_eq!(s, StatusCode::CREATED, "{sh}");
        assert_eq!(sh["status"], "open");
        let sid = sh["id"].as_i64().expect("id");
        let (_, open) = t.get("/api/v1/shortages?status=open", &off).await;
        assert_eq!(ids(&open), vec![sid], "the county sees it");
        let (_, tl) = t.get("/api/v1/shortages", &ts).await;
        assert_eq!(ids(&tl), vec![sid], "the township sees it");
        let (_, bl) = t.get("/api/v1/shortages", &off_b).await;
        assert!(ids(&bl).is_empty(), "another county never does");
        assert_eq!(t.get(&format!("/api/v1/shortages/{sid}"), &off_b).await.0, StatusCode::NOT_FOUND);
        let ans = format!("/api/v1/shortages/{sid}/answer");
        assert_eq!(t.post(&ans, &off_b, json!({"answer": "x"})).await.0, StatusCode::NOT_FOUND);
        assert_eq!(t.post(&ans, &ts, json!({"answer": "x"})).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.post(&ans, &rep, json!({"answer": "x"})).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.post(&ans, &off, json!({"answer": "  "})).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, a) = t.post(&ans, &off, json!({"answer": "区民政局明日调拨口罩 5000 只"})).await;
        assert_eq!(s, StatusCode::OK, "{a}");
        assert_eq!(a["status"], "answered");
        assert_eq!(a["answered_by"], "off.a");
        let (_, mine) = t.get(&format!("/api/v1/shortages/{sid}"), &rep).await;
        assert_eq!(mine["answer"], "区民政局明日调拨口罩 5000 只");
        let (s, c) = t.post(&format!("/api/v1/shortages/{sid}/close"), &rep, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["status"], "closed");
        assert_eq!(t.post(&ans, &off, json!({"answer": "again"})).await.0, StatusCode::CONFLICT);

        // Every change audited.
        let actions: Vec<String> = sqlx::query_scalar(
            "SELECT action FROM audit_log WHERE action LIKE 'institution.%' OR action LIKE 'shortage.%' ORDER BY id",
        )
        .fetch_all(t.state.db.pool())
        .await
        .expect("audit");
        for want in ["institution.closure_start", "institution.closure_end", "institution.entry",
            "institution.resident_add", "institution.temperature_round", "institution.supplies",
            "shortage.create", "shortage.answer", "shortage.close"] {
            assert!(actions.iter().any(|a| a == want), "{want} missing from {actions:?}");
        }
        assert_eq!(actions.iter().filter(|a| *a == "institution.entry").count(), 2);
        let details: Vec<String> = sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'institution.entry'")
            .fetch_all(t.state.db.pool())
            .await
            .expect("detail");
        assert!(details.iter().all(|d| !d.contains("张三丰") && !d.contains("13812345678")), "{details:?}");
    })
    .await;
}

#[tokio::test]
async fn institution_pages_mask_rounds_and_shortages() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.p", &["official"], "130110").await;
        t.make_user("off.q", &["official"], "130111").await;
        let home = make_org(&t, &off, "获鹿镇敬老院", "elderly_care", "130110100").await;
        let rep = org_user(&t, "rep.p", &["institution_reporter"], "130110100", home).await;
        let (s, _) = t.post(&format!("/api/v1/institutions/{home}/entries"), &rep,
            json!({"name": "张三丰", "phone": "13812345678", "reason": "送药", "temperature": 38.1})).await;
        assert_eq!(s, StatusCode::CREATED);

        let c = web_login(&t, "rep.p").await;
        let (s, html) = page(&t, "/institutions", &c).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("获鹿镇敬老院") && html.contains("机构监测"));
        let (s, html) = page(&t, &format!("/institutions/{home}/entries"), &c).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("张**") && html.contains("138****5678") && html.contains("发热"));
        assert!(!html.contains("张三丰") && !html.contains("13812345678"));
        assert!(!html.contains("style=") && !html.contains("onclick"));

        // Entrance by form; a bad temperature is refused and nothing stored.
        let (s, _, _) = t.raw_form("POST", &format!("/institutions/{home}/entries"), Some(&c),
            "name=%E6%9D%8E%E5%9B%9B&phone=13900001111&reason=visit&temperature=36.6").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, _, b) = t.raw_form("POST", &format!("/institutions/{home}/entries"), Some(&c),
            "name=%E6%9D%8E%E4%BA%94&phone=&reason=visit&temperature=45").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let html = String::from_utf8_lossy(&b);
        assert!(html.contains("value=\"李五\"") && html.contains("value=\"45\"") && html.contains("体温："),
            "the entry form is shown again with the input kept: {html}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM inst_entries").await, 2);

        // Residents and the one-screen round.
        for (name, room) in [("%E7%8E%8B%E7%A7%80%E8%8B%B1", "101"), ("%E5%88%98%E5%BB%BA%E5%9B%BD", "102")] {
            let (s, _, _) = t.raw_form("POST", &format!("/institutions/{home}/residents"), Some(&c),
                &format!("name={name}&room={room}")).await;
            assert_eq!(s, StatusCode::SEE_OTHER);
        }
        let rids: Vec<i64> = sqlx::query_scalar("SELECT id FROM inst_residents ORDER BY id")
            .fetch_all(t.state.db.pool())
            .await
            .expect("residents");
        let (s, html) = page(&t, &format!("/institutions/{home}/rounds?round=noon"), &c).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("王秀英") && html.contains(&format!("name=\"t_{}\"", rids[1])));
        let (s, _, _) = t.raw_form("POST", &format!("/institutions/{home}/rounds"), Some(&c),
            &format!("day=2026-03-02&round=noon&t_{}=36.8&t_{}=37.3", rids[0], rids[1])).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(&t, &format!("/institutions/{home}/rounds?round=noon"), &c).await;
        assert!(html.contains("id=\"fevers\"") && html.contains("刘建国"), "{html}");
        assert!(html.contains("37.3"));
        let (s, _, _) = t.raw_form("POST", &format!("/institutions/{home}/rounds"), Some(&c),
            &format!("day=2026-03-02&round=evening&t_{}=36.8&t_{}=50", rids[0], rids[1])).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM inst_temps").await, 2);

        // Closure, supplies, shortage by form; the county answers on its page.
        let (s, _, _) = t.raw_form("POST", &format!("/institutions/{home}/closure"), Some(&c), "action=start&date=2026-03-02&note=").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, _, _) = t.raw_form("POST", &format!("/institutions/{home}/supplies"), Some(&c), "masks_quantity=100&masks_days=1&suits_quantity=&suits_days=").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, _, _) = t.raw_form("POST", &format!("/institutions/{home}/shortages"), Some(&c), "item=masks&quantity=3000&note=").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(&t, &format!("/institutions/{home}"), &c).await;
        assert!(html.contains("封闭中") && html.contains("不足 3 天") && html.contains("待答复"));

        let co = web_login(&t, "off.p").await;
        let (s, html) = page(&t, "/institutions/shortages?status=open", &co).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("获鹿镇敬老院") && html.contains("/answer"));
        let sid: i64 = sqlx::query_scalar("SELECT id FROM inst_shortages")
            .fetch_one(t.state.db.pool())
            .await
            .expect("sid");
        let (s, _, _) = t.raw_form("POST", &format!("/institutions/shortages/{sid}/answer"), Some(&co),
            "answer=ok&back=%2Finstitutions%2Fshortages").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let status: String = sqlx::query_scalar("SELECT status FROM inst_shortages")
            .fetch_one(t.state.db.pool())
            .await
            .expect("status");
        assert_eq!(status, "answered");

        // Another county: not found, and absent from its lists.
        let cq = web_login(&t, "off.q").await;
        assert_eq!(page(&t, &format!("/institutions/{home}"), &cq).await.0, StatusCode::NOT_FOUND);
        assert_eq!(page(&t, &format!("/institutions/{home}/entries"), &cq).await.0, StatusCode::NOT_FOUND);
        let (_, html) = page(&t, "/institutions", &cq).await;
        assert!(!html.contains("获鹿镇敬老院"));
        let (_, html) = page(&t, "/institutions/shortages", &cq).await;
        assert!(!html.contains("获鹿镇敬老院"));
        let (s, _, _) = t.raw_form("POST", &format!("/institutions/shortages/{sid}/close"), Some(&cq), "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await;
}

/// Leak closed (issue 12): someone tied to an organisation read the residents, the rounds and
/// the entrance log of another institution of its township (names masked, but another
/// organisation's people all the same). The people an institution keeps are now read, by
/// anyone tied to an organisation, only for that organisation; the institution itself (status,
/// supplies) stays readable in scope, and officials still read every institution's records.
#[tokio::test]
async fn tied_staff_read_only_their_own_institutions_people() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.l", &["official"], "130110").await;
        let home = make_org(&t, &off, "获鹿镇敬老院", "elderly_care", "130110100").await;
        let other = make_org(&t, &off, "获鹿镇救助站", "relief_station", "130110100").await;
        let rep = org_user(&t, "rep.l", &["institution_reporter"], "130110100", home).await;
        let staff = org_user(&t, "rep.o", &["institution_reporter"], "130110100", other).await;
        let (s, _) = t.post(&format!("/api/v1/institutions/{other}/residents"), &staff,
            json!({"name": "王秀英", "room": "101"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = t.post(&format!("/api/v1/institutions/{other}/entries"), &staff,
            json!({"name": "张三丰", "phone": "13812345678", "reason": "送药", "temperature": 36.5})).await;
        assert_eq!(s, StatusCode::CREATED);

        assert_eq!(t.get(&format!("/api/v1/institutions/{other}"), &rep).await.0, StatusCode::OK);
        for path in ["residents", "rounds", "entries"] {
            let (s, b) = t.get(&format!("/api/v1/institutions/{other}/{path}"), &rep).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {b}");
            let (s, b) = t.get(&format!("/api/v1/institutions/{home}/{path}"), &rep).await;
            assert_eq!(s, StatusCode::OK, "{path}: {b}");
            let (s, b) = t.get(&format!("/api/v1/institutions/{other}/{path}"), &off).await;
            assert_eq!(s, StatusCode::OK, "{path}: {b}");
        }
        let c = web_login(&t, "rep.l").await;
        assert_eq!(page(&t, &format!("/institutions/{other}/rounds"), &c).await.0, StatusCode::NOT_FOUND);
        assert_eq!(page(&t, &format!("/institutions/{other}/entries"), &c).await.0, StatusCode::NOT_FOUND);
        let (_, rs) = t.get(&format!("/api/v1/institutions/{other}/residents"), &staff).await;
        assert_eq!(rs[0]["name"], "王秀英", "its own staff read names in full");
    })
    .await;
}
