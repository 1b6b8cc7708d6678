//! Issue 19 items 5 and 6 on every backend: body collection requests from a hospital and from a
//! family; the epidemic flow refused with a vehicle that is not designated, a later hour, a
//! farewell or people attending, a cremation on another day; a vehicle never booked twice, also
//! by two schedulers at once; a vehicle out of service; the day's plan; a cremation done marking
//! the registry person deceased and the next roll leaving them out; the rollup equal to an
//! independent count, "<5" below county level; booking outcomes (done, no-show), late
//! cancellations and the statistics equal to independent counts; XLSX exports; scope (another
//! county's funeral home is not found).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::payments::{ben, beneficiary};
use crate::support::{T, audit_count, cid, count, each_backend, org_user};

/// The test clock: 2026-03-02 09:00 in Beijing.
const TODAY: &str = "2026-03-02";
const TOMORROW: &str = "2026-03-03";

struct Home {
    off: String,
    org: i64,
    staff: String,
    staff2: String,
    hospital: String,
    vehicle: i64,
    special: i64,
    cremator: i64,
}

async fn resource(t: &T, staff: &str, org: i64, kind: &str, name: &str) -> i64 {
    let (s, r) = t
        .post(
            &format!("/api/v1/bookings/orgs/{org}/resources"),
            staff,
            json!({"kind": kind, "name": name, "units": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    r["id"].as_i64().expect("resource")
}

/// A funeral home in 获鹿镇 with two vehicles (one designated) and a cremator, two of its staff,
/// and a hospital's staff.
async fn home(t: &T) -> Home {
    t.import_fixture().await;
    let off = t.user("off.f", &["official"], "130110").await;
    let (s, o) = t
        .post(
            "/api/v1/orgs",
            &off,
            json!({"name": "鹿泉区殡仪馆", "kind": "funeral_home", "region_code": "130110100"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let org = o["id"].as_i64().expect("org");
    let (s, h) = t
        .post(
            "/api/v1/orgs",
            &off,
            json!({"name": "鹿泉区人民医院", "kind": "hospital", "region_code": "130110100"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    let hid = h["id"].as_i64().expect("hospital");
    let staff = org_user(t, "fh.a", &["service_staff"], "130110100", org).await;
    let staff2 = org_user(t, "fh.b", &["service_staff"], "130110100", org).await;
    let hospital = org_user(t, "hos.a", &["service_staff"], "130110100", hid).await;
    let vehicle = resource(t, &staff, org, "vehicle", "殡仪车一号").await;
    let special = resource(t, &staff, org, "vehicle", "专用车").await;
    let cremator = resource(t, &staff, org, "cremator", "一号炉").await;
    let (s, u) = t
        .post(
            &format!("/api/v1/bookings/funeral/resources/{special}"),
            &staff,
            json!({"designated": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["designated"], true);
    Home {
        off,
        org,
        staff,
        staff2,
        hospital,
        vehicle,
        special,
        cremator,
    }
}

fn family(org: i64, seq: u32, epidemic: bool) -> Value {
    json!({"org_id": org, "name": "王老汉", "id_number": cid("130110", "19400101", seq),
        "place": "获鹿镇某村家中", "died_at": "2026-03-02 06:30", "phone": "13912345678",
        "epidemic": epidemic})
}

async fn new_request(t: &T, token: &str, body: Value) -> i64 {
    let (s, r) = t
        .post("/api/v1/bookings/funeral/requests", token, body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    r["id"].as_i64().expect("request")
}

fn job_id(r: &Value, kind: &str) -> i64 {
    r["jobs"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|j| j["kind"] == kind && j["status"] != "cancelled")
        })
        .and_then(|j| j["id"].as_i64())
        .expect("job")
}

#[tokio::test]
async fn epidemic_flow_plan_cremation_marks_deceased_and_rollup() {
    each_backend(|t: T| async move {
        let h = home(&t).await;
        let base = "/api/v1/bookings/funeral/requests";

        // A person of the registry, on the 低保 roll, and another.
        let dead = crate::payments::person(&t, &h.off, 31, "赵疫故", "130110100001").await;
        let alive = crate::payments::person(&t, &h.off, 32, "钱健在", "130110100001").await;
        beneficiary(&t, &ben("dibao", dead, 50_000, "active")).await;
        beneficiary(&t, &ben("dibao", alive, 40_000, "active")).await;

        // The epidemic flow: no farewell, nobody attending.
        let mut e = family(h.org, 31, true);
        e["id_number"] = json!(cid("130110", "19600101", 31));
        let mut bad = e.clone();
        bad["farewell"] = json!(true);
        let (s, b) = t.post(base, &h.staff, bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["fields"][0]["field"], "farewell", "{b}");
        let mut bad = e.clone();
        bad["attendance"] = json!(3);
        let (s, b) = t.post(base, &h.staff, bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM funeral_requests").await, 0);
        // From the hospital (its staff): linked to the registry person by the ID number.
        let rid = new_request(&t, &h.hospital, e.clone()).await;
        let (s, r) = t.get(&format!("{base}/{rid}"), &h.staff).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!((r["source"].as_str(), r["person_id"].as_i64()), (Some("hospital"), Some(dead)));
        assert!(!r.to_string().contains(&cid("130110", "19600101", 31)), "{r}");
        // The hospital's staff see their request; they cannot schedule it.
        let (s, _) = t.get(&format!("{base}/{rid}"), &h.hospital).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = t.post(&format!("{base}/{rid}/collection"), &h.hospital, json!({"resource_id": h.special})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Refused: an ordinary vehicle; later than the next hour; then the designated vehicle now.
        let (s, b) = t.post(&format!("{base}/{rid}/collection"), &h.staff, json!({"resource_id": h.vehicle})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b["message"].as_str().unwrap_or("").contains("专用车辆"), "{b}");
        let (s, b) = t.post(&format!("{base}/{rid}/collection"), &h.staff,
            json!({"resource_id": h.special, "day": TODAY, "hour": 15})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b["message"].as_str().unwrap_or("").contains("立即接运"), "{b}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM funeral_jobs").await, 0);
        let (s, r) = t.post(&format!("{base}/{rid}/collection"), &h.staff, json!({"resource_id": h.special})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "scheduled");
        let col = job_id(&r, "collection");
        assert_eq!(r["jobs"][0]["hour"], 9);
        // Cremation: not another day; not before the collection ends; then 11:00.
        let (s, b) = t.post(&format!("{base}/{rid}/cremation"), &h.staff,
            json!({"resource_id": h.cremator, "day": TOMORROW, "hour": 9})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b["message"].as_str().unwrap_or("").contains("当日火化"), "{b}");
        let (s, b) = t.post(&format!("{base}/{rid}/cremation"), &h.staff,
            json!({"resource_id": h.cremator, "hour": 10})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let (s, r) = t.post(&format!("{base}/{rid}/cremation"), &h.staff,
            json!({"resource_id": h.cremator, "hour": 11})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let cre = job_id(&r, "cremation");

        // A family's ordinary request the same day: the cremator at 11 is taken (409, nothing
        // written); 12 is free.
        let fid = new_request(&t, &h.staff, json!({"org_id": h.org, "name": "孙某", "id_number": cid("130110", "19500101", 41),
            "place": "家中", "died_at": "2026-03-02 05:00", "phone": "13912345679", "farewell": true, "attendance": 20})).await;
        let (s, r) = t.post(&format!("{base}/{fid}/collection"), &h.staff,
            json!({"resource_id": h.vehicle, "day": TODAY, "hour": 9})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let jobs_before = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM funeral_jobs").await;
        let (s, b) = t.post(&format!("{base}/{fid}/cremation"), &h.staff,
            json!({"resource_id": h.cremator, "day": TODAY, "hour": 11})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM funeral_jobs").await, jobs_before);
        let (s, r) = t.post(&format!("{base}/{fid}/cremation"), &h.staff,
            json!({"resource_id": h.cremator, "day": TODAY, "hour": 12})).await;
        assert_eq!(s, StatusCode::OK, "{r}");

        // The day's plan: each unit, its jobs by hour, free hours; the epidemic jobs marked.
        let (s, p) = t.get(&format!("/api/v1/bookings/funeral/orgs/{}/plan?day={TODAY}", h.org), &h.staff).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(p["epidemic_jobs"], 2, "{p}");
        let unit = |list: &str, id: i64| p[list].as_array().and_then(|a| a.iter().find(|u| u["unit"]["id"] == id)).cloned().expect("unit");
        assert_eq!((unit("vehicles", h.special)["used_hours"].as_i64(), unit("vehicles", h.special)["free_hours"].as_i64()), (Some(2), Some(22)));
        let c = unit("cremators", h.cremator);
        assert_eq!(c["used_hours"], 2);
        let hours: Vec<i64> = c["jobs"].as_array().expect("jobs").iter().map(|j| j["hour"].as_i64().unwrap_or(-1)).collect();
        assert_eq!(hours, vec![11, 12]);
        assert_eq!(c["jobs"][0]["epidemic"], true);

        // Out of service: nothing more scheduled on it.
        let (s, b) = t.post(&format!("/api/v1/bookings/funeral/resources/{}", h.vehicle), &h.staff,
            json!({"out_of_service": true})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let (s, _) = t.post(&format!("/api/v1/bookings/funeral/resources/{}", h.vehicle), &h.staff,
            json!({"out_of_service": true, "note": "更换轮胎"})).await;
        assert_eq!(s, StatusCode::OK);
        let gid = new_request(&t, &h.staff, family(h.org, 43, false)).await;
        let (s, b) = t.post(&format!("{base}/{gid}/collection"), &h.staff,
            json!({"resource_id": h.vehicle, "day": TOMORROW, "hour": 8})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert!(b["message"].as_str().unwrap_or("").contains("停用"), "{b}");

        // Cremation before the collection is done: refused. Then both done: the person is
        // deceased, audited as a change of the person.
        let rec = |id: i64, st: &str| (format!("/api/v1/bookings/funeral/jobs/{id}"), json!({"status": st}));
        let (u, b) = rec(cre, "done");
        let (s, _) = t.post(&u, &h.staff, b).await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (u, b) = rec(col, "done");
        let (s, j) = t.post(&u, &h.staff, b).await;
        assert_eq!(s, StatusCode::OK, "{j}");
        let person_updates = audit_count(&t, "person.update").await;
        let (u, b) = rec(cre, "done");
        let (s, j) = t.post(&u, &h.staff, b).await;
        assert_eq!(s, StatusCode::OK, "{j}");
        assert_eq!(j["status"], "done");
        let (_, r) = t.get(&format!("{base}/{rid}"), &h.staff).await;
        assert_eq!(r["status"], "cremated");
        let (s, pv) = t.get(&format!("/api/v1/persons/{dead}"), &h.off).await;
        assert_eq!(s, StatusCode::OK, "{pv}");
        assert_eq!(pv["deceased"], true);
        assert_eq!(audit_count(&t, "person.update").await, person_updates + 1);
        let (u, b) = rec(cre, "done");
        let (s, _) = t.post(&u, &h.staff, b).await;
        assert_eq!(s, StatusCode::CONFLICT);
        // The next roll leaves the deceased out (counted as such), the living on it.
        let (s, d) = t.post("/api/v1/payments/rolls", &h.off,
            json!({"county": "130110", "programme": "dibao", "month": "2020-02", "pay_date": "2020-01-21"})).await;
        assert_eq!(s, StatusCode::CREATED, "{d}");
        let on: Vec<i64> = d["lines"].as_array().expect("lines").iter().filter_map(|l| l["person_id"].as_i64()).collect();
        assert_eq!(on, vec![alive], "{d}");
        assert_eq!(d["roll"]["left_summary"], "未列入：已故 1");

        // Cancelling gives the hours back: the ordinary cremation at 12 cancelled, then 12 free.
        let (_, fr) = t.get(&format!("{base}/{fid}"), &h.staff).await;
        let (u, b) = rec(job_id(&fr, "cremation"), "cancelled");
        let (s, _) = t.post(&u, &h.staff, b).await;
        assert_eq!(s, StatusCode::OK);
        let (s, r) = t.post(&format!("{base}/{fid}/cremation"), &h.staff,
            json!({"resource_id": h.cremator, "day": TODAY, "hour": 12})).await;
        assert_eq!(s, StatusCode::OK, "{r}");

        // Rollup: one death handled (the epidemic one, jobs done), capacity used as planned;
        // equal to an independent count. The town's epidemic figure is "<5".
        let (s, st) = t.get(&format!("/api/v1/bookings/funeral/rollup?region=130110&from={TODAY}&to={TOMORROW}"), &h.off).await;
        assert_eq!(s, StatusCode::OK, "{st}");
        let handled = count(&t, "SELECT CAST(COUNT(DISTINCT request_id) AS BIGINT) FROM funeral_jobs WHERE status = 'done'").await;
        let vh = count(&t, "SELECT CAST(SUM(hours) AS BIGINT) FROM funeral_jobs WHERE kind = 'collection' AND status <> 'cancelled'").await;
        let cs = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM funeral_jobs WHERE kind = 'cremation' AND status <> 'cancelled'").await;
        assert_eq!((st["total"]["deaths"].as_i64(), st["total"]["vehicle_hours"].as_i64(), st["total"]["cremator_slots"].as_i64()),
            (Some(handled), Some(vh), Some(cs)), "{st}");
        assert_eq!((handled, vh, cs), (1, 4, 2));
        assert_eq!(st["total"]["epidemic"], "1", "county level: not masked");
        let town = st["regions"].as_array().and_then(|a| a.iter().find(|r| r["key"] == "130110100")).cloned().expect("town");
        assert_eq!((town["deaths"].as_i64(), town["epidemic"].as_str()), (Some(1), Some("<5")), "{st}");
        let (s, _) = t.get("/api/v1/bookings/funeral/rollup?region=130111", &h.off).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // The export: a workbook.
        let req = Request::builder().uri(format!("/api/v1/bookings/funeral/rollup/export?region=130110&from={TODAY}"))
            .header(header::HOST, "backstop.test").header(header::AUTHORIZATION, format!("Bearer {}", h.off))
            .body(Body::empty()).expect("request");
        let (s, hd, bytes) = t.send(req).await;
        assert_eq!(s, StatusCode::OK);
        assert!(hd[header::CONTENT_TYPE].to_str().unwrap_or("").contains("spreadsheetml"));
        assert!(bytes.starts_with(b"PK"));

        // Scope: another county's official and another county's funeral home are not found.
        let other = t.user("off.x", &["official"], "130111").await;
        let (s, _) = t.get(&format!("{base}/{rid}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.get(&format!("/api/v1/bookings/funeral/orgs/{}/plan", h.org), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, o2) = t.post("/api/v1/orgs", &other, json!({"name": "井陉殡仪馆", "kind": "funeral_home", "region_code": "130111100"})).await;
        assert_eq!(s, StatusCode::CREATED, "{o2}");
        let o2 = o2["id"].as_i64().expect("org");
        let (s, _) = t.post(base, &h.hospital, family(o2, 44, false)).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t.get(&format!("/api/v1/bookings/funeral/orgs/{o2}/plan"), &h.off).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(audit_count(&t, "funeral.request").await, 3);
    })
    .await;
}

#[tokio::test]
async fn two_schedulers_never_double_book_a_vehicle() {
    each_backend(|t: T| async move {
        let h = home(&t).await;
        // 24 requests; two schedulers ask for the same vehicle at overlapping hours at once.
        let mut ids = Vec::new();
        for i in 0..24u32 {
            ids.push(new_request(&t, if i % 2 == 0 { &h.staff } else { &h.staff2 }, family(h.org, 100 + i, false)).await);
        }
        let mut jobs = tokio::task::JoinSet::new();
        for (i, id) in ids.iter().enumerate() {
            let app = t.app.clone();
            let token = if i % 2 == 0 { h.staff.clone() } else { h.staff2.clone() };
            // Windows 10–12 and 11–13 all overlap at 11.
            let body = json!({"resource_id": h.vehicle, "day": TOMORROW, "hour": 10 + (i % 2), "hours": 2});
            let uri = format!("/api/v1/bookings/funeral/requests/{id}/collection");
            jobs.spawn(async move {
                let req = Request::builder()
                    .method("POST")
                    .uri(uri)
                    .header(header::HOST, "backstop.test")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .expect("request");
                app.oneshot(req).await.expect("response").status()
            });
        }
        let (mut ok, mut taken, mut other) = (0, 0, Vec::new());
        while let Some(r) = jobs.join_next().await {
            match r.expect("task") {
                StatusCode::OK => ok += 1,
                StatusCode::CONFLICT => taken += 1,
                s => other.push(s),
            }
        }
        assert!(other.is_empty(), "{other:?}");
        assert_eq!((ok, taken), (1, 23), "{}", t.backend);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM funeral_jobs").await, 1);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM funeral_claims").await, 2);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM funeral_requests WHERE status = 'scheduled'").await, 1);
        // The other hours of the vehicle are still free.
        let mut free = 0;
        for id in &ids {
            let (_, r) = t.get(&format!("/api/v1/bookings/funeral/requests/{id}"), &h.staff).await;
            if r["status"] == "requested" {
                free = *id;
                break;
            }
        }
        let (s, r) = t.post(&format!("/api/v1/bookings/funeral/requests/{free}/collection"), &h.staff,
            json!({"resource_id": h.vehicle, "day": TOMORROW, "hour": 14})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
    })
    .await;
}

#[tokio::test]
async fn outcomes_late_cancels_and_statistics() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let off = t.user("off.s", &["official"], "130110").await;
        let (s, o) = t
            .post("/api/v1/orgs", &off, json!({"name": "鹿泉区婚姻登记处", "kind": "marriage_registry", "region_code": "130110100"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        let org = o["id"].as_i64().expect("org");
        let staff = org_user(&t, "win.s", &["service_staff"], "130110100", org).await;
        let (s, v) = t.post(&format!("/api/v1/bookings/orgs/{org}/services"), &staff,
            json!({"kind": "certificate_replacement", "opens": "09:00", "closes": "17:00", "slot_minutes": 60, "per_slot": 10, "open_days": "1234567"})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let sid = v["id"].as_i64().expect("service");
        let mut ids = Vec::new();
        for i in 0..7u32 {
            let day = if i == 6 { "2026-03-04" } else { TOMORROW };
            let (s, b) = t.post("/api/v1/bookings", &staff, json!({"service_id": sid, "day": day,
                "starts": "10:00", "phone": "13912345678",
                "parties": [{"name": "王五", "id_number": cid("130110", "19800101", 200 + i)}]})).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            ids.push(b["id"].as_i64().expect("booking"));
        }
        // Late cancel within 26 hours: tomorrow 10:00 is 25 hours away (late), the day after's
        // 49 (not late).
        let (s, b) = t.post(&format!("/api/v1/bookings/orgs/{org}/late-cancel"), &staff, json!({"hours": 999})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let (s, _) = t.post(&format!("/api/v1/bookings/orgs/{org}/late-cancel"), &staff, json!({"hours": 26})).await;
        assert_eq!(s, StatusCode::OK);
        for id in [ids[0], ids[6]] {
            let (s, _) = t.post(&format!("/api/v1/bookings/{id}/cancel"), &staff, json!({})).await;
            assert_eq!(s, StatusCode::OK);
        }
        // Not before the day.
        let (s, b) = t.post(&format!("/api/v1/bookings/{}/outcome", ids[2]), &staff, json!({"outcome": "done"})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        // Four bookings of today (moved there in the database): two done, one no-show, one open.
        for id in &ids[2..6] {
            sqlx::query("UPDATE bookings SET day = $1 WHERE id = $2")
                .bind(TODAY).bind(*id).execute(t.state.db.pool()).await.expect("today");
        }
        for (id, oc) in [(ids[2], "done"), (ids[3], "done"), (ids[4], "no_show")] {
            let (s, b) = t.post(&format!("/api/v1/bookings/{id}/outcome"), &staff, json!({"outcome": oc})).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            assert_eq!(b["status"], oc);
        }
        let (s, b) = t.post(&format!("/api/v1/bookings/{}/outcome", ids[4]), &staff, json!({"outcome": "done"})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        let (s, b) = t.post(&format!("/api/v1/bookings/{}/outcome", ids[0]), &staff, json!({"outcome": "gone"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(audit_count(&t, "booking.outcome").await, 3);

        let (s, st) = t.get(&format!("/api/v1/bookings/stats?region=130110&from={TODAY}&to=2026-03-04"), &off).await;
        assert_eq!(s, StatusCode::OK, "{st}");
        let tot = &st["total"];
        let booked = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings").await;
        let done = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings WHERE status = 'done'").await;
        let cancelled = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings WHERE status = 'cancelled'").await;
        let no_show = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM bookings WHERE status = 'no_show'").await;
        assert_eq!(
            (tot["booked"].as_i64(), tot["done"].as_i64(), tot["cancelled"].as_i64(), tot["no_show"].as_i64()),
            (Some(booked), Some(done), Some(cancelled), Some(no_show)), "{st}");
        assert_eq!((booked, done, cancelled, no_show), (7, 2, 2, 1));
        assert_eq!(tot["late_cancelled"], 1, "{st}");
        let town = st["regions"].as_array().and_then(|a| a.iter().find(|r| r["key"] == "130110100")).cloned().expect("town");
        assert_eq!(town["booked"], 7);
        let row = st["orgs"].as_array().and_then(|a| a.first()).cloned().expect("org row");
        assert_eq!((row["day"].as_str(), row["name"].as_str(), row["done"].as_i64(), row["no_show"].as_i64()),
            (Some(TODAY), Some("鹿泉区婚姻登记处"), Some(2), Some(1)), "{st}");
        assert_eq!(st["orgs"].as_array().map(Vec::len), Some(3), "one row per day");
        // The registry's staff see their own; another county's official none of it.
        let (s, mine) = t.get(&format!("/api/v1/bookings/stats?from={TODAY}&to=2026-03-04"), &staff).await;
        assert_eq!(s, StatusCode::OK, "{mine}");
        assert_eq!(mine["total"]["booked"], 7);
        let other = t.user("off.y", &["official"], "130111").await;
        let (s, _) = t.get("/api/v1/bookings/stats?region=130110", &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, e) = t.get(&format!("/api/v1/bookings/stats?from={TOMORROW}&to={TODAY}"), &off).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let req = Request::builder().uri(format!("/api/v1/bookings/stats/export?region=130110&from={TODAY}"))
            .header(header::HOST, "backstop.test").header(header::AUTHORIZATION, format!("Bearer {off}"))
            .body(Body::empty()).expect("request");
        let (s, _, bytes) = t.send(req).await;
        assert_eq!(s, StatusCode::OK);
        assert!(bytes.starts_with(b"PK"));
    })
    .await;
}
