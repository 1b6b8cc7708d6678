//! Hotlines (issue 17 items 2–5): lines and shifts; a call with each risk; a red flag refused
//! without its mandatory report, and with it opening an urgent referral, notifying the line's
//! supervisors and (a child in danger) handing the lead to the children's cases; an unknown line 422 with
//! nothing written; idempotent retries; referrals accepted and declined by the receiving
//! organisation, one out of reach refused; follow-ups overdue on the injected clock;
//! confidential notes for every role (each view and each refused attempt audited); roles
//! without hotline.* find nothing; statistics equal an independent count with "<5" masking.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{T, audit_count, count, each_backend, org, org_user};

const A: &str = "130110";
const T1: &str = "130110100";
const V1: &str = "130110100001";

struct World {
    off: String,
    off_b: String,
    hw: String,
    hw2: String,
    cw: String,
    insp: String,
    ts: String,
    fin: String,
    sw: String,
    mh: String,
    line: i64,
    line_b: i64,
    sw_org: i64,
    mh_org: i64,
    org_b: i64,
    funeral: i64,
}

async fn world(t: &T) -> World {
    t.import_fixture().await;
    let off = t.user("off.a", &["official"], A).await;
    let off_b = t.user("off.b", &["official"], "130111").await;
    let hw = t.user("hw.a", &["hotline_worker"], A).await;
    let hw2 = t.user("hw.b", &["hotline_worker"], A).await;
    let cw = t.user("cw.a", &["community_worker"], V1).await;
    let insp = t.user("insp.a", &["inspector"], A).await;
    let ts = t.user("ts.a", &["township_staff"], T1).await;
    let fin = t.user("fin.a", &["charity_finance"], A).await;
    let sw_org = org(t, &off, "鹿泉区阳光社工站", "social_work", T1).await;
    let mh_org = org(t, &off, "鹿泉区精神卫生中心", "mental_health", A).await;
    let funeral = org(t, &off, "鹿泉区殡仪馆", "funeral_home", A).await;
    let org_b = org(t, &off_b, "栾城区社工站", "social_work", "130111").await;
    let sw = org_user(t, "sw.a", &["social_worker"], T1, sw_org).await;
    let mh = org_user(t, "mh.a", &["institution_reporter"], A, mh_org).await;
    let body = json!({"region_code": A, "name": "鹿泉区心理援助热线", "number": "0311-82012345",
        "kind": "psychological", "org_id": sw_org, "hours": "24 小时"});
    let (s, l) = t.post("/api/v1/hotline/lines", &off, body).await;
    assert_eq!(s, StatusCode::CREATED, "{l}");
    let line = l["id"].as_i64().expect("line");
    let body = json!({"region_code": "130111", "name": "栾城区热线", "number": "0311-85000000",
        "kind": "civil_affairs", "org_id": org_b});
    let (s, l) = t.post("/api/v1/hotline/lines", &off_b, body).await;
    assert_eq!(s, StatusCode::CREATED, "{l}");
    let line_b = l["id"].as_i64().expect("line b");
    World {
        off,
        off_b,
        hw,
        hw2,
        cw,
        insp,
        ts,
        fin,
        sw,
        mh,
        line,
        line_b,
        sw_org,
        mh_org,
        org_b,
        funeral,
    }
}

fn call_body(line: i64, risk: &str) -> Value {
    json!({"line_id": line, "caller_category": "quarantined", "issues": ["anxiety"], "risk": risk,
        "actions": ["emotional_support"], "duration_s": 600})
}

async fn record(t: &T, who: &str, body: Value) -> Value {
    let (s, c) = t.post("/api/v1/hotline/calls", who, body).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c
}

async fn calls(t: &T) -> i64 {
    count(t, "SELECT CAST(COUNT(*) AS BIGINT) FROM hotline_calls").await
}

#[tokio::test]
async fn lines_calls_red_flags_and_retries() {
    each_backend(|t: T| async move {
        let w = world(&t).await;
        // Lines: supervisors only; roles without hotline.* find nothing.
        let body = json!({"region_code": A, "name": "x", "number": "1", "kind": "psychological", "org_id": w.sw_org});
        assert_eq!(t.post("/api/v1/hotline/lines", &w.hw, body.clone()).await.0, StatusCode::FORBIDDEN);
        assert_eq!(t.post("/api/v1/hotline/lines", &w.cw, body.clone()).await.0, StatusCode::NOT_FOUND);
        let mut b = body.clone();
        b["kind"] = json!("radio");
        assert_eq!(t.post("/api/v1/hotline/lines", &w.off, b).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, ls) = t.get("/api/v1/hotline/lines", &w.hw).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(ls.as_array().map(Vec::len), Some(1), "{ls}");
        assert_eq!(t.get(&format!("/api/v1/hotline/lines/{}", w.line_b), &w.hw).await.0, StatusCode::NOT_FOUND);
        // Shifts: a hotline answerer covering the line; not a community worker.
        let shift = json!({"username": "hw.a", "starts_at": "2026-03-02 08:00", "ends_at": "2026-03-02 20:00"});
        let (s, sh) = t.post(&format!("/api/v1/hotline/lines/{}/shifts", w.line), &w.off, shift).await;
        assert_eq!(s, StatusCode::CREATED, "{sh}");
        let bad = json!({"username": "cw.a", "starts_at": "2026-03-02 08:00", "ends_at": "2026-03-02 20:00"});
        assert_eq!(t.post(&format!("/api/v1/hotline/lines/{}/shifts", w.line), &w.off, bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, shs) = t.get(&format!("/api/v1/hotline/lines/{}/shifts", w.line), &w.hw).await;
        assert_eq!(shs[0]["username"], "hw.a", "{shs}");

        // A call with each risk below red flag.
        for risk in ["low", "medium", "high"] {
            let c = record(&t, &w.hw, call_body(w.line, risk)).await;
            assert_eq!(c["risk"], risk);
            assert!(c["red_flag"].is_null() && c["referrals"].as_array().is_some_and(Vec::is_empty), "{c}");
            assert_eq!(c["anonymous"], true);
        }
        assert_eq!(calls(&t).await, 3);
        // An unknown line, a line out of scope, a red flag without its report: 422, nothing.
        for line in [99_999, w.line_b] {
            let (s, e) = t.post("/api/v1/hotline/calls", &w.hw, call_body(line, "low")).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert_eq!(e["code"], "validation");
            assert!(e["message"].as_str().is_some_and(|m| m.contains("热线线路")), "{e}");
        }
        let mut red = call_body(w.line, "red_flag");
        red["flag_kind"] = json!("suicide");
        let (s, e) = t.post("/api/v1/hotline/calls", &w.hw, red.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e.to_string().contains("强制报告"), "{e}");
        assert_eq!(calls(&t).await, 3, "nothing written by refused calls");
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM hotline_referrals").await, 0);
        // Other roles cannot record.
        assert_eq!(t.post("/api/v1/hotline/calls", &w.cw, call_body(w.line, "low")).await.0, StatusCode::NOT_FOUND);
        assert_eq!(t.post("/api/v1/hotline/calls", &w.fin, call_body(w.line, "low")).await.0, StatusCode::NOT_FOUND);

        // Red flag (suicide) with the report: urgent referral to the line's organisation, the
        // county's supervisors notified (not the sibling county's).
        red["report_to"] = json!("police");
        red["report_ref"] = json!("JJ-2026-0302-17");
        red["phone"] = json!("13800001234");
        let c = record(&t, &w.hw, red.clone()).await;
        assert_eq!(c["red_flag"]["kind"], "suicide");
        assert_eq!(c["red_flag"]["report_to"], "police");
        assert_eq!(c["phone"], "138****1234");
        assert_eq!(c["anonymous"], false);
        let refs = c["referrals"].as_array().expect("referrals");
        assert_eq!(refs.len(), 1, "{c}");
        assert_eq!(refs[0]["urgent"], true);
        assert_eq!(refs[0]["status"], "open");
        assert_eq!(refs[0]["org_id"], w.sw_org);
        let off_id = t.user_id("off.a").await;
        let off_b_id = t.user_id("off.b").await;
        let units: Vec<(String,)> = sqlx::query_as("SELECT unit FROM notifications WHERE kind = 'hotline_red_flag'")
            .fetch_all(t.state.db.pool())
            .await
            .expect("notes");
        let units: Vec<String> = units.into_iter().map(|u| u.0).collect();
        assert!(units.contains(&format!("user:{off_id}")), "{units:?}");
        assert!(!units.contains(&format!("user:{off_b_id}")), "{units:?}");
        // The phone is sealed: no clear digits stored.
        let clear = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM hotline_calls WHERE phone_masked = '13800001234'").await;
        assert_eq!(clear, 0);
        let sealed = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM hotline_calls WHERE phone_enc IS NOT NULL").await;
        assert_eq!(sealed, 1);

        // A child in danger: the child required; then the pending lead, masked.
        let mut child = call_body(w.line, "red_flag");
        child["caller_category"] = json!("child");
        child["flag_kind"] = json!("child_danger");
        child["report_to"] = json!("civil_affairs");
        child["report_ref"] = json!("MZ-17");
        assert_eq!(t.post("/api/v1/hotline/calls", &w.hw, child.clone()).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        child["child"] = json!({"region_code": V1, "child_name": "王小明", "where_now": "家中独自一人",
            "reason": "父母均在隔离点"});
        let c = record(&t, &w.hw, child).await;
        assert_eq!(c["child_lead"]["status"], "handed");
        assert!(c["child_lead"]["case_id"].is_i64(), "{c}");
        assert_eq!(c["child_lead"]["region_code"], V1);
        assert_eq!(c["child_lead"]["child_name"], "王**");
        assert!(!c.to_string().contains("王小明") && !c.to_string().contains("隔离点"), "{c}");
        assert_eq!(c["referrals"][0]["urgent"], true);
        let pending = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM hotline_calls WHERE child_lead_status = 'handed' AND child_case_id IS NOT NULL AND child_name_enc IS NOT NULL").await;
        assert_eq!(pending, 1);

        // Idempotency: a retry with the same key is one call.
        let before = calls(&t).await;
        let headers = [("idempotency-key", "hotline-call-0001")];
        let mut ids = Vec::new();
        for _ in 0..2 {
            let (s, _, b) = t
                .raw("POST", "/api/v1/hotline/calls", Some(&w.hw), Some(call_body(w.line, "low").to_string()), &headers)
                .await;
            assert_eq!(s, StatusCode::CREATED);
            let v: Value = serde_json::from_slice(&b).expect("json");
            ids.push(v["id"].as_i64().expect("id"));
        }
        assert_eq!(ids[0], ids[1]);
        assert_eq!(calls(&t).await, before + 1);
        assert_eq!(audit_count(&t, "hotline.call_record").await, before + 1);

        // Reads: hotline staff of the county; the sibling county and other roles find nothing.
        let (s, list) = t.get("/api/v1/hotline/calls", &w.hw2).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(list.as_array().map(Vec::len), Some(usize::try_from(before + 1).expect("n")));
        let id = ids[0];
        assert_eq!(t.get(&format!("/api/v1/hotline/calls/{id}"), &w.off_b).await.0, StatusCode::NOT_FOUND);
        for who in [&w.cw, &w.insp, &w.ts, &w.fin] {
            for path in ["/api/v1/hotline/lines", "/api/v1/hotline/calls", "/api/v1/hotline/followups",
                "/api/v1/hotline/statistics", "/api/v1/hotline/referrals"] {
                assert_eq!(t.get(path, who).await.0, StatusCode::NOT_FOUND, "{path}");
            }
            assert_eq!(t.get(&format!("/api/v1/hotline/calls/{id}"), who).await.0, StatusCode::NOT_FOUND);
        }
    })
    .await;
}

#[tokio::test]
async fn referrals_accepted_declined_and_followups_overdue() {
    each_backend(|t: T| async move {
        let w = world(&t).await;
        let c = record(&t, &w.hw, call_body(w.line, "high")).await;
        let id = c["id"].as_i64().expect("call");
        let path = format!("/api/v1/hotline/calls/{id}/referrals");
        // Out of reach (another county's organisation): not found; the wrong kind: 422.
        assert_eq!(
            t.post(&path, &w.hw, json!({"org_id": w.org_b})).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            t.post(&path, &w.hw, json!({"org_id": w.funeral})).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM hotline_referrals").await,
            0
        );
        let (s, r1) = t
            .post(
                &path,
                &w.hw,
                json!({"org_id": w.sw_org, "reason": "需要持续心理陪伴"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r1}");
        let (s, r2) = t
            .post(
                &path,
                &w.hw,
                json!({"org_id": w.mh_org, "reason": "评估就医"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r2}");
        let (r1, r2) = (
            r1["id"].as_i64().expect("r1"),
            r2["id"].as_i64().expect("r2"),
        );

        // The supervisor's open referrals.
        let (_, open) = t.get("/api/v1/hotline/referrals?open=true", &w.off).await;
        let ids: Vec<i64> = open
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|r| r["id"].as_i64())
            .collect();
        assert!(ids.contains(&r1) && ids.contains(&r2), "{open}");
        // The receiving organisation's inbox: only what is addressed to it.
        let (s, inbox) = t.get("/api/v1/hotline/referrals", &w.sw).await;
        assert_eq!(s, StatusCode::OK, "{inbox}");
        let ids: Vec<i64> = inbox
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|r| r["id"].as_i64())
            .collect();
        assert_eq!(ids, vec![r1]);
        assert_eq!(
            t.get(&format!("/api/v1/hotline/referrals/{r2}"), &w.sw)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        // Another organisation may not decide; the hotline worker may not either.
        let dec = format!("/api/v1/hotline/referrals/{r1}/decision");
        assert_eq!(
            t.post(&dec, &w.mh, json!({"accept": true})).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            t.post(&dec, &w.hw, json!({"accept": true})).await.0,
            StatusCode::FORBIDDEN
        );
        let (s, r) = t.post(&dec, &w.sw, json!({"accept": true})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "accepted");
        assert_eq!(
            t.post(&dec, &w.sw, json!({"accept": false, "reason": "x"}))
                .await
                .0,
            StatusCode::CONFLICT
        );
        let (s, r) = t
            .post(
                &format!("/api/v1/hotline/referrals/{r1}/outcome"),
                &w.sw,
                json!({"outcome": "已开展三次陪伴，情绪平稳"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "closed");
        // Declined with a reason (required).
        let dec2 = format!("/api/v1/hotline/referrals/{r2}/decision");
        assert_eq!(
            t.post(&dec2, &w.mh, json!({"accept": false})).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let (s, r) = t
            .post(
                &dec2,
                &w.mh,
                json!({"accept": false, "reason": "床位已满，请转市精神卫生中心"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "declined");
        assert_eq!(r["decline_reason"], "床位已满，请转市精神卫生中心");
        let (_, open) = t.get("/api/v1/hotline/referrals?open=true", &w.off).await;
        assert_eq!(open.as_array().map(Vec::len), Some(0), "{open}");
        assert_eq!(audit_count(&t, "hotline.referral_decide").await, 2);
        assert_eq!(audit_count(&t, "hotline.referral_outcome").await, 1);

        // Follow-ups: due at noon; overdue once the clock passes it; done with a score.
        let fpath = format!("/api/v1/hotline/calls/{id}/followups");
        assert_eq!(
            t.post(&fpath, &w.hw, json!({"due_at": "2026-03-01 09:00"}))
                .await
                .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let (s, f) = t
            .post(&fpath, &w.hw, json!({"due_at": "2026-03-02 12:00"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{f}");
        let fid = f["id"].as_i64().expect("followup");
        let (_, over) = t
            .get("/api/v1/hotline/followups?overdue=true", &w.off)
            .await;
        assert_eq!(over.as_array().map(Vec::len), Some(0), "{over}");
        t.clock.advance(chrono::Duration::hours(4));
        // Sessions idle that long end: log in again.
        let (off, hw, off_b) = (
            t.login("off.a").await,
            t.login("hw.a").await,
            t.login("off.b").await,
        );
        let (_, over) = t.get("/api/v1/hotline/followups?overdue=true", &off).await;
        assert_eq!(over[0]["id"], fid, "{over}");
        assert_eq!(over[0]["overdue"], true);
        let done = format!("/api/v1/hotline/followups/{fid}/done");
        assert_eq!(
            t.post(&done, &hw, json!({"outcome": "已回访", "score": 6}))
                .await
                .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let (s, f) = t
            .post(&done, &hw, json!({"outcome": "情绪好转", "score": 4}))
            .await;
        assert_eq!(s, StatusCode::OK, "{f}");
        assert_eq!(f["status"], "done");
        let (_, over) = t.get("/api/v1/hotline/followups?overdue=true", &off).await;
        assert_eq!(over.as_array().map(Vec::len), Some(0));
        assert_eq!(
            t.get("/api/v1/hotline/followups", &off_b)
                .await
                .1
                .as_array()
                .map(Vec::len),
            Some(0)
        );
    })
    .await;
}

#[tokio::test]
async fn counselling_notes_are_confidential() {
    each_backend(|t: T| async move {
        let w = world(&t).await;
        let c = record(&t, &w.hw, call_body(w.line, "medium")).await;
        let id = c["id"].as_i64().expect("call");
        let secret = "来电者丈夫确诊住院，自述夜不能寐";
        let (s, n) = t
            .post(
                &format!("/api/v1/hotline/calls/{id}/notes"),
                &w.hw,
                json!({"text": secret}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{n}");
        let nid = n["id"].as_i64().expect("note");
        // Lists and the call show a count, never the note.
        let (_, call) = t.get(&format!("/api/v1/hotline/calls/{id}"), &w.hw2).await;
        assert_eq!(call["notes"], 1);
        assert!(!call.to_string().contains("夜不能寐"));
        let (_, list) = t.get("/api/v1/hotline/calls", &w.off).await;
        assert!(!list.to_string().contains("夜不能寐"));
        let (_, refs) = t
            .get(&format!("/api/v1/hotline/calls/{id}/notes"), &w.hw2)
            .await;
        assert_eq!(refs[0]["written_by"], "hw.a");
        assert!(!refs.to_string().contains("夜不能寐"));
        // Sealed at rest.
        let stored: Vec<u8> =
            sqlx::query_scalar("SELECT body_enc FROM hotline_notes WHERE id = $1")
                .bind(nid)
                .fetch_one(t.state.db.pool())
                .await
                .expect("stored");
        assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()));

        let view = format!("/api/v1/hotline/notes/{nid}/view");
        let why = json!({"reason": "督导复核"});
        // The writer (a reason is required).
        assert_eq!(
            t.post(&view, &w.hw, json!({"reason": ""})).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let (s, v) = t.post(&view, &w.hw, why.clone()).await;
        assert_eq!(
            (s, v["text"].as_str()),
            (StatusCode::OK, Some(secret)),
            "{v}"
        );
        // The line's supervisor.
        let (s, v) = t.post(&view, &w.off, why.clone()).await;
        assert_eq!((s, v["text"].as_str()), (StatusCode::OK, Some(secret)));
        // The social worker of the receiving organisation: only once assigned (accepted).
        let (s, r) = t
            .post(
                &format!("/api/v1/hotline/calls/{id}/referrals"),
                &w.hw,
                json!({"org_id": w.sw_org}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        assert_eq!(
            t.post(&view, &w.sw, why.clone()).await.0,
            StatusCode::NOT_FOUND
        );
        let notes_path = format!("/api/v1/hotline/calls/{id}/notes");
        assert_eq!(t.get(&notes_path, &w.sw).await.0, StatusCode::NOT_FOUND);
        let rid = r["id"].as_i64().expect("referral");
        let dec = t
            .post(
                &format!("/api/v1/hotline/referrals/{rid}/decision"),
                &w.sw,
                json!({"accept": true}),
            )
            .await;
        assert_eq!(dec.0, StatusCode::OK);
        // The assignee finds the call's notes (not the call) and opens one.
        let (s, refs) = t.get(&notes_path, &w.sw).await;
        assert_eq!(
            (s, refs[0]["id"].as_i64()),
            (StatusCode::OK, Some(nid)),
            "{refs}"
        );
        assert_eq!(
            t.get(&format!("/api/v1/hotline/calls/{id}"), &w.sw).await.0,
            StatusCode::NOT_FOUND
        );
        let (s, v) = t.post(&view, &w.sw, why.clone()).await;
        assert_eq!((s, v["text"].as_str()), (StatusCode::OK, Some(secret)));
        assert_eq!(audit_count(&t, "hotline.note_view").await, 3);
        // Everyone else: not found, and each attempt audited.
        let denied_before = audit_count(&t, "hotline.note_denied").await;
        assert_eq!(
            denied_before, 1,
            "the social worker's attempt before assignment"
        );
        let others = [&w.hw2, &w.cw, &w.insp, &w.ts, &w.fin, &w.off_b, &w.mh];
        for who in others {
            let (s, b) = t.post(&view, who, why.clone()).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
            assert!(!b.to_string().contains("夜不能寐"));
        }
        let denied = audit_count(&t, "hotline.note_denied").await;
        assert_eq!(
            denied,
            denied_before + i64::try_from(others.len()).expect("n")
        );
        assert_eq!(audit_count(&t, "hotline.note_view").await, 3);
        // The view's audit entry names who and why, never the note.
        let detail: Vec<(String,)> =
            sqlx::query_as("SELECT detail FROM audit_log WHERE action = 'hotline.note_view'")
                .fetch_all(t.state.db.pool())
                .await
                .expect("audit");
        assert!(
            detail
                .iter()
                .all(|d| d.0.contains("督导复核") && !d.0.contains("夜不能寐")),
            "{detail:?}"
        );
        // A note that does not exist: not found.
        assert_eq!(
            t.post("/api/v1/hotline/notes/999999/view", &w.off, why)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
    })
    .await;
}

/// Count the calls of the day independently, by region prefix.
async fn independent(t: &T, prefix: &str) -> i64 {
    let (lo, hi) = (prefix.to_string(), format!("{prefix}\u{7f}"));
    sqlx::query_scalar::<_, i64>(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM hotline_calls WHERE region_code >= $1 AND region_code < $2",
    )
    .bind(lo)
    .bind(hi)
    .fetch_one(t.state.db.pool())
    .await
    .expect("count")
}

#[tokio::test]
async fn statistics_equal_independent_counts_with_small_counts_masked() {
    each_backend(|t: T| async move {
        let w = world(&t).await;
        let body = json!({"region_code": T1, "name": "获鹿镇红棉守护热线", "number": "0311-82010000",
            "kind": "child_protection", "org_id": w.sw_org});
        let (s, l) = t.post("/api/v1/hotline/lines", &w.off, body).await;
        assert_eq!(s, StatusCode::CREATED, "{l}");
        let town_line = l["id"].as_i64().expect("line");
        let cats = ["resident", "quarantined", "patient_family", "frontline_worker", "resident", "other"];
        for (i, cat) in cats.iter().enumerate() {
            let mut b = call_body(w.line, if i % 2 == 0 { "low" } else { "medium" });
            b["caller_category"] = json!(cat);
            b["duration_s"] = json!(300 + 60 * i64::try_from(i).expect("i"));
            record(&t, &w.hw, b).await;
        }
        for _ in 0..3 {
            record(&t, &w.hw, call_body(town_line, "high")).await;
        }
        let (s, st) = t.get(&format!("/api/v1/hotline/statistics?region={A}&period=day"), &w.off).await;
        assert_eq!(s, StatusCode::OK, "{st}");
        assert_eq!(st["total"]["calls"], independent(&t, A).await.to_string());
        assert_eq!(st["total"]["calls"], "9");
        let row = |key: &str| {
            st["regions"].as_array().expect("rows").iter().find(|r| r["key"] == key).cloned().unwrap_or(Value::Null)
        };
        // The county's own line: county level, shown as is; the township's: 3 calls → "<5".
        assert_eq!(row(A)["calls"], "6");
        assert_eq!(row(A)["masked"], false);
        assert_eq!(row(T1)["calls"], "<5");
        assert_eq!(row(T1)["avg_duration_s"], "—");
        // Categories and risks add up to the independent counts.
        let cat = |r: &Value, k: &str| r["by_category"].as_array().expect("c").iter().find(|c| c["key"] == k).map(|c| c["value"].clone());
        assert_eq!(cat(&st["total"], "resident"), Some(json!("2")));
        let risk = |r: &Value, k: &str| r["by_risk"].as_array().expect("r").iter().find(|c| c["key"] == k).map(|c| c["value"].clone());
        assert_eq!(risk(&st["total"], "low"), Some(json!("3")));
        assert_eq!(risk(&st["total"], "high"), Some(json!("3")));
        // Average handling time of the county line: (300+360+…+600)/6 = 450 s.
        assert_eq!(row(A)["avg_duration_s"], "450");
        // The township itself: below county level, small counts masked; a week includes today.
        let (_, st) = t.get(&format!("/api/v1/hotline/statistics?region={T1}&period=week"), &w.off).await;
        assert_eq!(st["total"]["calls"], "<5", "{st}");
        assert_eq!(st["from"], "2026-03-02");
        // Another day: nothing.
        let (_, st) = t.get(&format!("/api/v1/hotline/statistics?region={A}&date=2026-03-05"), &w.off).await;
        assert_eq!(st["total"]["calls"], "0");
        // Out of scope and bad input.
        assert_eq!(t.get("/api/v1/hotline/statistics?region=130111", &w.off).await.0, StatusCode::NOT_FOUND);
        assert_eq!(t.get("/api/v1/hotline/statistics?period=year", &w.off).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        // The workbook.
        let (s, h, b) = t.raw("GET", &format!("/api/v1/hotline/statistics/export?region={A}"), Some(&w.off), None, &[]).await;
        assert_eq!(s, StatusCode::OK);
        assert!(h.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("spreadsheetml")));
        assert!(b.starts_with(b"PK"));
        let _ = (&w.hw2, w.mh_org);
    })
    .await;
}

#[tokio::test]
async fn pages_call_form_refusal_note_view_and_inbox() {
    use crate::support::{page, post_page, web_login};
    use backstop_app::kernel::web::encode_query_value as enc;
    each_backend(|t: T| async move {
        let w = world(&t).await;
        let hw = web_login(&t, "hw.a").await;
        let (s, hub) = page(&t, "/hotline", &hw).await;
        assert_eq!(s, StatusCode::OK);
        assert!(hub.contains("今日来电") && hub.contains("href=\"/hotline\""), "nav entry 热线");
        let (s, form) = page(&t, "/hotline/calls/new", &hw).await;
        assert_eq!(s, StatusCode::OK);
        assert!(form.contains("鹿泉区心理援助热线") && form.contains("鹿泉区阳光社工站"));
        // A red flag without the report: 422, the input kept, the reason beside the field.
        let body = format!(
            "line_id={}&caller_category=resident&issues=anxiety&risk=red_flag&flag_kind=suicide&duration_min=12&referral_reason={}",
            w.line,
            enc("需要陪伴标记")
        );
        let (s, html) = post_page(&t, "/hotline/calls", &hw, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("强制报告") && html.contains("需要陪伴标记") && html.contains("data-field=\"report_to\""));
        assert_eq!(calls(&t).await, 0);
        // Saved with a referral: on to the call's page.
        let body = format!(
            "line_id={}&caller_category=resident&issues=anxiety&actions=referral&risk=medium&duration_min=12&referral_org={}&referral_reason={}",
            w.line, w.sw_org, enc("需要陪伴")
        );
        let (s, _) = post_page(&t, "/hotline/calls", &hw, &body).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, list) = t.get("/api/v1/hotline/calls", &w.hw).await;
        let id = list[0]["id"].as_i64().expect("call");
        let (s, n) = t.post(&format!("/api/v1/hotline/calls/{id}/notes"), &w.hw, json!({"text": "页面保密记录"})).await;
        assert_eq!(s, StatusCode::CREATED, "{n}");
        let nid = n["id"].as_i64().expect("note");
        let (s, html) = page(&t, &format!("/hotline/calls/{id}"), &hw).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("查看记录") && !html.contains("页面保密记录"));
        // Viewing needs a reason; with one, the note is shown and the view audited.
        let view = format!("/hotline/notes/{nid}/view");
        let (s, html) = post_page(&t, &view, &hw, &format!("call_id={id}&reason=")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!html.contains("页面保密记录"));
        let (s, html) = post_page(&t, &view, &hw, &format!("call_id={id}&reason={}", enc("回访准备"))).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("页面保密记录"));
        assert_eq!(audit_count(&t, "hotline.note_view").await, 1);
        let hw2 = web_login(&t, "hw.b").await;
        let (s, html) = post_page(&t, &view, &hw2, &format!("call_id={id}&reason={}", enc("好奇"))).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(!html.contains("页面保密记录"));
        assert_eq!(audit_count(&t, "hotline.note_denied").await, 1);
        // The receiving organisation's inbox: decline without a reason is refused, then accept.
        let sw = web_login(&t, "sw.a").await;
        let (s, inbox) = page(&t, "/hotline/referrals", &sw).await;
        assert_eq!(s, StatusCode::OK);
        assert!(inbox.contains("需要陪伴") && inbox.contains("接收"));
        let (_, refs) = t.get("/api/v1/hotline/referrals", &w.sw).await;
        let rid = refs[0]["id"].as_i64().expect("referral");
        let (s, html) = post_page(&t, &format!("/hotline/referrals/{rid}/decision"), &sw, "accept=0&reason=").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        let (s, _) = post_page(&t, &format!("/hotline/referrals/{rid}/decision"), &sw, "accept=1&reason=").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        // The organisation records the outcome; the worker completes a follow-up on the call.
        let (s, _) = post_page(&t, &format!("/hotline/referrals/{rid}/outcome"), &sw, &format!("outcome={}", enc("已陪伴三次"))).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, r) = t.get(&format!("/api/v1/hotline/referrals/{rid}"), &w.sw).await;
        assert_eq!(r["status"], "closed");
        let (_, f) = t.post(&format!("/api/v1/hotline/calls/{id}/followups"), &w.hw, json!({"due_at": "2026-03-03 09:00"})).await;
        let fid = f["id"].as_i64().expect("followup");
        let (s, html) = post_page(&t, &format!("/hotline/followups/{fid}/done"), &hw, "outcome=&score=4").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains(&format!("id=\"done-{fid}\"")));
        let (s, _) = post_page(&t, &format!("/hotline/followups/{fid}/done"), &hw, &format!("outcome={}&score=4", enc("好转"))).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        // Lines and shifts: the supervisor adds a line and a shift; a shift for a community
        // worker is refused beside the field.
        let off = web_login(&t, "off.a").await;
        let body = format!("region_code={T1}&name={}&number=0311-1&kind=civil_affairs&org_id={}", enc("获鹿镇民政热线"), w.sw_org);
        let (s, _) = post_page(&t, "/hotline/lines", &off, &body).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let shift = format!("/hotline/lines/{}/shifts", w.line);
        let (s, html) = post_page(&t, &shift, &off, "username=cw.a&starts_at=2026-03-02T08:00&ends_at=2026-03-02T20:00").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("data-field=\"username\""));
        let (s, _) = post_page(&t, &shift, &off, "username=hw.a&starts_at=2026-03-02T08:00&ends_at=2026-03-02T20:00").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(&t, "/hotline/lines", &hw).await;
        assert!(html.contains("获鹿镇民政热线") && html.contains("hw.a") && !html.contains("新建线路"));
        // Statistics page with its chart; other roles find no hotline page.
        let (s, html) = page(&t, &format!("/hotline/statistics?region={A}"), &off).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("chart-calls") && html.contains("<svg"));
        let cw = web_login(&t, "cw.a").await;
        for p in ["/hotline", "/hotline/calls/new", "/hotline/statistics", &format!("/hotline/calls/{id}")] {
            assert_eq!(page(&t, p, &cw).await.0, StatusCode::NOT_FOUND, "{p}");
        }
        let (_, home) = page(&t, "/", &cw).await;
        assert!(!home.contains("href=\"/hotline\""));
    })
    .await;
}

/// The hotline's free text besides the notes (a referral's reason, decline reason and outcome,
/// a follow-up's outcome, the mandatory report's reference) is sealed: shown back by the API
/// and pages to those who read the referral or the call, nowhere at rest (the audit log
/// included). A referral's page lists its call's notes to the assignee once accepted and opens
/// one with a reason (audited); before, and for anyone else entitled to the page but not to
/// the note, the view is *not found* and audited. The hub names the lines of the shifts, and
/// the report counts the calls that opened a child lead, "<5" below county level.
#[tokio::test]
async fn referral_texts_sealed_referral_page_shift_names_and_child_leads() {
    use crate::support::{page, post_page, text_at_rest, web_login};
    use backstop_app::kernel::web::encode_query_value as enc;
    const MARKS: [&str; 6] = [
        "转介原因封存标记",
        "再转介原因封存标记",
        "拒绝原因封存标记",
        "转介结果封存标记",
        "回访结果封存标记",
        "JJ-封存标记-01",
    ];
    each_backend(|t: T| async move {
        let w = world(&t).await;
        // The hub names the line of a shift, not its number.
        let shift = json!({"username": "hw.a", "starts_at": "2026-03-03 08:00", "ends_at": "2026-03-03 20:00"});
        let (s, b) = t.post(&format!("/api/v1/hotline/lines/{}/shifts", w.line), &w.off, shift).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let hw = web_login(&t, "hw.a").await;
        let (_, hub) = page(&t, "/hotline", &hw).await;
        assert!(hub.contains("<td data-label=\"线路\">鹿泉区心理援助热线</td>"), "{hub}");

        // A red flag with its report's reference and a referral; a second referral, declined.
        let mut red = call_body(w.line, "red_flag");
        red["flag_kind"] = json!("suicide");
        red["report_to"] = json!("police");
        red["report_ref"] = json!(MARKS[5]);
        red["referral"] = json!({"org_id": w.sw_org, "reason": MARKS[0]});
        let c = record(&t, &w.hw, red).await;
        let id = c["id"].as_i64().expect("call");
        assert_eq!(c["red_flag"]["report_ref"], MARKS[5]);
        assert_eq!(c["referrals"][0]["reason"], MARKS[0]);
        let rid = c["referrals"][0]["id"].as_i64().expect("referral");
        let (s, r2) = t.post(&format!("/api/v1/hotline/calls/{id}/referrals"), &w.hw, json!({"org_id": w.sw_org, "reason": MARKS[1]})).await;
        assert_eq!(s, StatusCode::CREATED, "{r2}");
        let r2 = r2["id"].as_i64().expect("referral 2");
        let (s, d) = t.post(&format!("/api/v1/hotline/referrals/{r2}/decision"), &w.sw, json!({"accept": false, "reason": MARKS[2]})).await;
        assert_eq!((s, d["decline_reason"].as_str()), (StatusCode::OK, Some(MARKS[2])), "{d}");
        let (s, n) = t.post(&format!("/api/v1/hotline/calls/{id}/notes"), &w.hw, json!({"text": "咨询记录封存标记"})).await;
        assert_eq!(s, StatusCode::CREATED, "{n}");
        let nid = n["id"].as_i64().expect("note");

        // The referral's page: the receiving organisation reads the referral; before it
        // accepts, no note is offered and a view is not found (audited).
        let sw = web_login(&t, "sw.a").await;
        let rpage = format!("/hotline/referrals/{rid}");
        let view = format!("{rpage}/notes/{nid}/view");
        let (s, html) = page(&t, &rpage, &sw).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(html.contains(MARKS[0]) && html.contains("id=\"no-notes\"") && !html.contains("咨询记录封存标记"));
        let (s, html) = post_page(&t, &view, &sw, &format!("reason={}", enc("复核"))).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(!html.contains("咨询记录封存标记"));
        assert_eq!(audit_count(&t, "hotline.note_denied").await, 1);
        let (s, inbox) = page(&t, "/hotline/referrals", &sw).await;
        assert_eq!(s, StatusCode::OK);
        assert!(inbox.contains(&format!("href=\"{rpage}\"")), "the inbox links the referral's page");
        // Accepted: the assignee is offered the note, needs a reason, and the view is audited.
        let (s, _) = t.post(&format!("/api/v1/hotline/referrals/{rid}/decision"), &w.sw, json!({"accept": true})).await;
        assert_eq!(s, StatusCode::OK);
        let (_, html) = page(&t, &rpage, &sw).await;
        assert!(html.contains(&format!("id=\"view-{nid}\"")) && !html.contains("咨询记录封存标记"), "{html}");
        let (s, html) = post_page(&t, &view, &sw, "reason=").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!html.contains("咨询记录封存标记"));
        let (s, html) = post_page(&t, &view, &sw, &format!("reason={}", enc("承办跟进"))).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("咨询记录封存标记") && html.contains("id=\"note-opened\""));
        assert_eq!(audit_count(&t, "hotline.note_view").await, 1);
        // Another hotline worker of the county reads the referral but not the note; the
        // sibling county's official and a community worker find no page at all.
        let hw2 = web_login(&t, "hw.b").await;
        assert_eq!(page(&t, &rpage, &hw2).await.0, StatusCode::OK);
        let (s, html) = post_page(&t, &view, &hw2, &format!("reason={}", enc("好奇"))).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(!html.contains("咨询记录封存标记"));
        assert_eq!(audit_count(&t, "hotline.note_denied").await, 2);
        for who in ["off.b", "cw.a", "fin.a"] {
            let cookie = web_login(&t, who).await;
            assert_eq!(page(&t, &rpage, &cookie).await.0, StatusCode::NOT_FOUND, "{who}");
            assert_eq!(post_page(&t, &view, &cookie, "reason=x").await.0, StatusCode::NOT_FOUND, "{who}");
        }
        // A note of another call through this referral: not found, audited.
        let other = record(&t, &w.hw, call_body(w.line, "low")).await;
        let (_, n2) = t.post(&format!("/api/v1/hotline/calls/{}/notes", other["id"]), &w.hw, json!({"text": "别的来电记录"})).await;
        let n2 = n2["id"].as_i64().expect("note 2");
        let (s, html) = post_page(&t, &format!("{rpage}/notes/{n2}/view"), &sw, &format!("reason={}", enc("复核"))).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(!html.contains("别的来电记录"));
        assert_eq!(audit_count(&t, "hotline.note_denied").await, 3 + 3);

        // The outcome and a follow-up's outcome; shown back to those who read them.
        let (s, o) = t.post(&format!("/api/v1/hotline/referrals/{rid}/outcome"), &w.sw, json!({"outcome": MARKS[3]})).await;
        assert_eq!((s, o["outcome"].as_str()), (StatusCode::OK, Some(MARKS[3])), "{o}");
        let (_, f) = t.post(&format!("/api/v1/hotline/calls/{id}/followups"), &w.hw, json!({"due_at": "2026-03-09 09:00"})).await;
        let fid = f["id"].as_i64().expect("followup");
        let (s, f) = t.post(&format!("/api/v1/hotline/followups/{fid}/done"), &w.hw, json!({"outcome": MARKS[4], "score": 4})).await;
        assert_eq!((s, f["outcome"].as_str()), (StatusCode::OK, Some(MARKS[4])), "{f}");
        let (_, call) = t.get(&format!("/api/v1/hotline/calls/{id}"), &w.hw).await;
        let shown = call.to_string();
        for m in MARKS {
            assert!(shown.contains(m), "{m} shown on the call: {shown}");
        }
        let (_, html) = page(&t, &rpage, &sw).await;
        assert!(html.contains(MARKS[3]), "the outcome on the referral's page");
        // At rest: none of them, nor the note, anywhere (the audit entries carry lengths).
        let hay = text_at_rest(&t).await;
        for m in MARKS.iter().chain(["咨询记录封存标记", "别的来电记录"].iter()) {
            assert!(!hay.contains(m), "{m} at rest");
        }
        let (s, _) = t.get(&format!("/api/v1/hotline/referrals/{r2}"), &w.sw).await;
        assert_eq!(s, StatusCode::OK);

        // Child leads on the report: a child in danger on the county's line and on a township's.
        let body = json!({"region_code": T1, "name": "获鹿镇儿童保护热线", "number": "0311-82010001",
            "kind": "child_protection", "org_id": w.sw_org});
        let (s, l) = t.post("/api/v1/hotline/lines", &w.off, body).await;
        assert_eq!(s, StatusCode::CREATED, "{l}");
        let town_line = l["id"].as_i64().expect("line");
        for line in [w.line, town_line] {
            let mut b = call_body(line, "red_flag");
            b["flag_kind"] = json!("child_danger");
            b["report_to"] = json!("civil_affairs");
            b["report_ref"] = json!("MZ-1");
            b["child"] = json!({"region_code": V1, "child_name": "王小明", "where_now": "家中", "reason": "父母隔离"});
            record(&t, &w.hw, b).await;
        }
        let (s, st) = t.get(&format!("/api/v1/hotline/statistics?region={A}&period=week"), &w.off).await;
        assert_eq!(s, StatusCode::OK, "{st}");
        let independent = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM hotline_calls WHERE flag_kind = 'child_danger'").await;
        assert_eq!(st["total"]["child_leads"], independent.to_string());
        assert_eq!(st["total"]["child_leads"], "2");
        let row = |key: &str| st["regions"].as_array().expect("rows").iter().find(|r| r["key"] == key).cloned().unwrap_or(Value::Null);
        assert_eq!(row(A)["child_leads"], "1", "the county's own line, shown as is");
        assert_eq!(row(T1)["child_leads"], "<5", "the township's: masked");
        let line_row = st["lines"].as_array().expect("lines").iter().find(|r| r["key"] == format!("line:{}", w.line)).cloned().unwrap_or(Value::Null);
        assert_eq!(line_row["child_leads"], "1");
        let (_, html) = page(&t, &format!("/hotline/statistics?region={A}&period=week"), &web_login(&t, "off.a").await).await;
        assert!(html.contains("id=\"total-child-leads\">2<"), "{html}");
    })
    .await;
}

/// 关联个案编号 (issue 17): a call may refer to an existing child case whose village lies in the
/// line's region and the worker's scope — the case gets a timeline entry ("热线来电关联", the
/// call's id and time, no call text), audited; a case out of reach and one that does not exist
/// get the same 422 "个案不存在", nothing written; the call page shows the reference.
#[tokio::test]
async fn a_call_refers_to_a_child_case_in_reach_only() {
    use crate::support::{created_id, page, post_page, web_login};
    each_backend(|t: T| async move {
        let w = world(&t).await;
        const VB: &str = "130111100003";
        let dir = t.user("dir.a", &["children_director"], V1).await;
        let dir_b = t.user("dir.b", &["children_director"], VB).await;
        let case = |region: &str| {
            json!({"name": "李小明", "sex": "男", "birth_year": 2016, "region_code": region,
                "where_now": "邻居张家", "reason": "parent_frontline"})
        };
        let here = created_id(&t, "/api/v1/child-cases", &dir, case(V1)).await;
        let there = created_id(&t, "/api/v1/child-cases", &dir_b, case(VB)).await;
        let linked = |id: i64| {
            format!("SELECT CAST(COUNT(*) AS BIGINT) FROM child_case_events WHERE case_id = {id} AND kind = 'hotline_call'")
        };
        // Out of reach (another county's village) and nonexistent: one answer, nothing written.
        let mut answers = Vec::new();
        for id in [there, here + there + 1000] {
            let mut b = call_body(w.line, "low");
            b["related_case_id"] = json!(id);
            let (s, e) = t.post("/api/v1/hotline/calls", &w.hw, b).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert_eq!(e["fields"][0]["field"], "related_case_id", "{e}");
            answers.push((e["code"].clone(), e["message"].clone(), e["fields"].clone()));
        }
        assert_eq!(answers[0], answers[1], "the same answer whether the case exists elsewhere or not");
        assert_eq!(answers[0].1, "关联个案编号：个案不存在");
        assert_eq!(calls(&t).await, 0);
        assert_eq!(count(&t, &linked(there)).await, 0);
        assert_eq!(audit_count(&t, "child_case.hotline_call").await, 0);

        // In reach: stored on the call, a timeline entry on the case, audited.
        let mut b = call_body(w.line, "medium");
        b["related_case_id"] = json!(here);
        let c = record(&t, &w.hw, b).await;
        assert_eq!(c["related_case_id"], here, "{c}");
        let call_id = c["id"].as_i64().expect("call id");
        assert_eq!(count(&t, &linked(here)).await, 1);
        assert_eq!(audit_count(&t, "child_case.hotline_call").await, 1);
        let (s, detail) = t.get(&format!("/api/v1/child-cases/{here}"), &dir).await;
        assert_eq!(s, StatusCode::OK, "{detail}");
        let ev = detail["events"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["kind"] == "hotline_call").cloned())
            .expect("timeline entry");
        assert!(ev["to_value"].as_str().is_some_and(|v| v.starts_with(&format!("{call_id}|"))), "{ev}");
        let (s, again) = t.get(&format!("/api/v1/hotline/calls/{call_id}"), &w.hw).await;
        assert_eq!((s, again["related_case_id"].as_i64()), (StatusCode::OK, Some(here)));

        // Pages: the form refuses an unknown case with the input kept; the call page links the
        // case; the case page shows the entry.
        let hw = web_login(&t, "hw.a").await;
        let body = format!(
            "line_id={}&caller_category=resident&issues=anxiety&risk=low&duration_min=5&related_case_id={there}",
            w.line
        );
        let (s, html) = post_page(&t, "/hotline/calls", &hw, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("个案不存在") && html.contains("data-field=\"related_case_id\""), "{html}");
        assert_eq!(calls(&t).await, 1);
        let (s, html) = page(&t, &format!("/hotline/calls/{call_id}"), &hw).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains(&format!("href=\"/children/cases/{here}\"")) && html.contains(&format!("关联个案 {here}")), "{html}");
        let d = web_login(&t, "dir.a").await;
        let (s, html) = page(&t, &format!("/children/cases/{here}"), &d).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("热线来电关联") && html.contains(&format!("来电 {call_id}（")), "case timeline");
    })
    .await;
}
