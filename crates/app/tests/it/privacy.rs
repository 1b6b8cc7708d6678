//! Sensitive personal data at rest (issue 13 item 5, `docs/PRIVACY.md`): every built area is
//! filled through the API with recognisable marker values (a travel history, a symptom note,
//! a visit finding, a temperature, a resident's name…); the API shows them back to those
//! allowed, while the raw SQLite file (with its WAL) and, on PostgreSQL, every row of every
//! table hold none of them, and every sealed column of `privacy::every_sealed` is blank in clear.
//! Rows written in clear before migration 0016 (rebuilt here from the ciphertexts) are sealed
//! by the open-time step, idempotently, leaving the file clean and the API unchanged.

use axum::http::StatusCode;
use backstop_app::privacy::{self, Kind, every_sealed};
use serde_json::{Value, json};
use sqlx::Row;

use crate::support::{T, cid, count, created_id, each_backend, org_user, text_at_rest};

const V1: &str = "130110100001";
const TOWN: &str = "130110100";

/// Free-text markers: none may appear in the database's bytes.
const MARKERS: &[&str] = &[
    "隐私标记入户备注",
    "隐私标记武汉旅居史",
    "隐私标记观察原因",
    "隐私标记打卡咳嗽",
    "隐私标记解除说明",
    "隐私标记照料发烧",
    "隐私标记走访发现",
    "隐私标记修缮需求",
    "隐私标记帮助内容",
    "隐私标记任务办结",
    "隐私标记卡口来源",
    "隐私标记卡口事由",
    "隐私标记预警处置",
    "隐私标记探视事由",
    "隐私标记院民姓名",
    "隐私标记即报地点",
    "隐私标记即报措施",
    "隐私标记处置经过",
    "隐私标记转介原因",
    "隐私标记拒绝原因",
    "隐私标记转介结果",
    "隐私标记回访结果",
    "隐私标记报告编号",
    "隐私标记核查意见",
    "隐私标记不予批准",
    "隐私标记暂缓退出",
    "隐私标记日报说明",
    "隐私标记更正说明",
];

/// Free text a row may keep readable (a household's address, an inspection's findings and
/// requirement, a shortage's answer, a conflict's resolution note, a hand-over note) and
/// persons' names, shown in clear or masked: none may reach the audit log, which is stored in
/// clear and hash-chained (`kernel::access::Change::free_text`: lengths only; names masked).
/// Checked against `audit_log` only, with every marker above.
const NOT_IN_AUDIT: &[&str] = &[
    "隐私标记户籍住址",
    "隐私标记督导发现",
    "隐私标记整改要求",
    "隐私标记短缺答复",
    "隐私标记比对说明",
    "隐私标记移交说明",
    "赵甲",
    "赵乙",
    "责任人0",
];

/// Values sealed when written, with no clear column to fall back to (issue 13's "done when":
/// no ID number, phone, birth date, health status, note or case text in a copy of the
/// database without the key), from every other area: the ID number and birth date of a
/// person, the phones of a carer, a gate entrant, an institution's visitor and a keeper, an
/// application's note, a bank account, a child's case, a counselling note, a member of the
/// public's phone and one-time code message. None may appear at rest; they are not in
/// [`privacy::every_sealed`], so the open-time test leaves them alone.
const SEALED_AT_WRITE: &[&str] = &[
    "13912345670",
    "13812340001",
    "13812340002",
    "13900000010",
    "1961-07-15",
    "19610715",
    "隐私标记救助备注",
    "6222020212345678901",
    "隐私标记儿童姓名",
    "隐私标记儿童去向",
    "隐私标记儿童接触史",
    "隐私标记咨询记录",
    "13900139123",
    "您的验证码是",
];

/// The readable views of what was filled: (path, token) pairs read before and after.
struct Filled {
    reads: Vec<(String, String)>,
}

/// Fill every area through the API; returns the reads that show the values back.
async fn fill(t: &T) -> Filled {
    t.import_fixture().await;
    let off = t.user("p_off", &["official"], "130110").await;
    let cw = t.user("p_cw", &["community_worker"], V1).await;
    let p = created_id(
        t,
        "/api/v1/persons",
        &off,
        json!({"id_number": cid("130110", "19450101", 71), "name": "赵甲", "region_code": V1}),
    )
    .await;
    let h = created_id(
        t,
        "/api/v1/households",
        &cw,
        json!({"region_code": V1, "address": NOT_IN_AUDIT[0], "members": [{"person_id": p, "relationship": "head"}]}),
    )
    .await;
    let mut reads = Vec::new();

    // Screening: a visit with history, symptoms, temperature, risk; an observation.
    let camp = created_id(
        t,
        "/api/v1/screening/campaigns",
        &off,
        json!({"name": "摸排", "starts_on": "2026-03-01", "ends_on": "2026-03-10", "region_code": TOWN}),
    )
    .await;
    let visit = format!("/api/v1/screening/campaigns/{camp}/households/{h}");
    let (s, v) = t
        .post(
            &visit,
            &cw,
            json!({"reached": true, "note": MARKERS[0], "members": [
            {"person_id": p, "at_home": true, "history": MARKERS[1], "symptoms": true,
             "temperature": 383, "risk": "suspected", "disposition": "fever_clinic"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["members"][0]["history"], MARKERS[1]);
    assert_eq!(v["members"][0]["temperature"], 383);
    reads.push((visit, cw.clone()));
    let keepers: Vec<Value> = ["社区干部", "医生", "民警", "志愿者"]
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"role": r, "name": format!("责任人{i}"), "phone": format!("1390000001{i}")}))
        .collect();
    let obs = created_id(
        t,
        "/api/v1/observations",
        &cw,
        json!({"person_id": p, "keepers": keepers, "reason": MARKERS[2]}),
    )
    .await;
    let (s, o) = t
        .post(
            &format!("/api/v1/observations/{obs}/checkins"),
            &cw,
            json!({"temperature": 377, "symptoms": true, "note": MARKERS[3]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let (s, o) = t
        .post(
            &format!("/api/v1/observations/{obs}/close"),
            &cw,
            json!({"outcome": "hospital", "note": MARKERS[4]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(
        (o["status"].as_str(), o["close_note"].as_str()),
        (Some("hospital"), Some(MARKERS[4]))
    );
    assert_eq!(o["checkins"][0]["note"], MARKERS[3]);
    reads.push((format!("/api/v1/observations/{obs}"), cw.clone()));
    reads.push(("/api/v1/observations?status=all".to_string(), cw.clone()));

    // Care: a dispersed 特困 person's carer check, a visit, its tasks.
    let care = |what: &str| format!("/api/v1/care/persons/{p}/{what}");
    let (s, b) = t
        .post(
            &care("memberships"),
            &off,
            json!({"category": "tekun_dispersed",
            "start_date": "2026-01-01", "deciding_body": "鹿泉区民政局"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = t
        .call(
            "PUT",
            &care("carer"),
            Some(&cw),
            Some(json!({"name": "赵乙", "phone": "13912345670", "relationship": "侄子"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = t
        .post(
            &care("checks"),
            &cw,
            json!({"status": "needs_help", "note": MARKERS[5]}),
        )
        .await;
    assert!(s.is_success(), "{b}");
    let (s, cv) = t
        .post(
            &care("visits"),
            &cw,
            json!({"method": "home", "findings": MARKERS[6],
            "needs": [MARKERS[7]], "help_given": MARKERS[8]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cv}");
    let vid = cv["id"].as_i64().expect("visit id");
    let task = created_id(
        t,
        &format!("/api/v1/care/visits/{vid}/tasks"),
        &off,
        json!({"need_index": 0, "owner": "p_cw", "due_date": "2026-03-05"}),
    )
    .await;
    let (s, b) = t
        .post(
            &format!("/api/v1/care/tasks/{task}/close"),
            &cw,
            json!({"note": MARKERS[9]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, rec) = t.get(&format!("/api/v1/care/persons/{p}"), &cw).await;
    let text = rec.to_string();
    for m in &MARKERS[5..10] {
        assert!(text.contains(m), "{m} shown back: {text}");
    }
    reads.push((format!("/api/v1/care/persons/{p}"), cw.clone()));
    reads.push((format!("/api/v1/care/visits/{vid}"), off.clone()));
    reads.push(("/api/v1/care/tasks?status=all".to_string(), off.clone()));

    // Entrance: a fever at a gate raises an alert, acknowledged with a note.
    let gate = created_id(
        t,
        "/api/v1/gates",
        &cw,
        json!({"name": "东门", "region_code": V1}),
    )
    .await;
    let entries = format!("/api/v1/gates/{gate}/entries");
    let (s, e) = t
        .post(
            &entries,
            &cw,
            json!({"name": "钱丙", "phone": "13812340001", "from": MARKERS[10],
            "reason": MARKERS[11], "direction": "in", "temperature": 38.4}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(
        (e["from"].as_str(), e["temperature"].as_f64()),
        (Some(MARKERS[10]), Some(38.4))
    );
    let alert = e["alert_id"].as_i64().expect("alert");
    let (s, a) = t
        .post(
            &format!("/api/v1/entrance-alerts/{alert}/ack"),
            &cw,
            json!({"disposition": "other", "note": MARKERS[12]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(
        (a["note"].as_str(), a["disposition"].as_str()),
        (Some(MARKERS[12]), Some("other"))
    );
    reads.push((entries, cw.clone()));
    reads.push((format!("/api/v1/entrance-alerts/{alert}"), cw.clone()));

    // Institutions: an entrance, a resident (a child's name), a temperature round.
    let org = created_id(
        t,
        "/api/v1/orgs",
        &off,
        json!({"name": "获鹿镇儿童福利院", "kind": "child_welfare", "region_code": TOWN}),
    )
    .await;
    let rep = org_user(t, "p_rep", &["institution_reporter"], TOWN, org).await;
    let ie = format!("/api/v1/institutions/{org}/entries");
    let (s, b) = t
        .post(&ie, &rep, json!({"name": "孙丁", "phone": "13812340002", "reason": MARKERS[13], "temperature": 37.6}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, r) = t
        .post(
            &format!("/api/v1/institutions/{org}/residents"),
            &rep,
            json!({"name": MARKERS[14], "room": "201"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["name"], MARKERS[14], "own staff see the name");
    let rid = r["id"].as_i64().expect("resident");
    let rounds = format!("/api/v1/institutions/{org}/rounds");
    let (s, v) = t
        .post(&rounds, &rep, json!({"round": "morning", "temperatures": [{"resident_id": rid, "temperature": 37.9}]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["rows"][0]["morning"]["temperature"], 37.9);
    reads.push((ie, rep.clone()));
    reads.push((format!("/api/v1/institutions/{org}/residents"), rep.clone()));
    reads.push((rounds, rep.clone()));
    reads.push(("/api/v1/institutions".to_string(), off.clone()));

    // An immediate report (即报) sent with an idempotency key, acknowledged by the county.
    let inc = json!({"template": "incident", "unit": V1, "period": "2026-03-01", "values": {
        "event_kind": "走失", "occurred_at": "07:10", "place": MARKERS[15], "people_affected": 1,
        "measures": MARKERS[16]}});
    let (s, _, bytes) = t
        .raw(
            "POST",
            "/api/v1/reports",
            Some(&cw),
            Some(inc.to_string()),
            &[("idempotency-key", "inc-1")],
        )
        .await;
    let sub: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    assert_eq!(sub["values"]["place"], MARKERS[15]);
    let iid = sub["id"].as_i64().expect("incident id");
    let (s, b) = t
        .post(
            &format!("/api/v1/incidents/{iid}/ack"),
            &off,
            json!({"handling": MARKERS[17]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["ack"]["handling"], MARKERS[17]);
    assert_eq!(b["values"]["measures"], MARKERS[16]);
    reads.push(("/api/v1/incidents".to_string(), off.clone()));
    reads.push((format!("/api/v1/reports/{iid}"), off.clone()));
    // The retry is answered with the first answer, opened from its sealed record.
    let (s, _, bytes) = t
        .raw(
            "POST",
            "/api/v1/reports",
            Some(&cw),
            Some(inc.to_string()),
            &[("idempotency-key", "inc-1")],
        )
        .await;
    let again: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert!(s.is_success(), "{again}");
    assert_eq!(
        (again["id"].as_i64(), again["values"]["place"].as_str()),
        (Some(iid), Some(MARKERS[15]))
    );

    // Cross-check: 低保 overlapping the dispersed 特困 above, a conflict whose facts name both.
    let (s, b) = t
        .post(
            &care("memberships"),
            &off,
            json!({"category": "dibao", "start_date": "2026-01-01", "deciding_body": "鹿泉区民政局"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = t.post("/api/v1/crosschecks/run", &off, json!({})).await;
    assert!(
        s == StatusCode::OK && b["created"].as_i64() >= Some(1),
        "{b}"
    );
    reads.push(("/api/v1/crosschecks".to_string(), off.clone()));
    let (_, list) = t.get("/api/v1/crosschecks", &off).await;
    let conflict = list["items"]
        .as_array()
        .and_then(|l| l.first())
        .and_then(|c| c["id"].as_i64())
        .expect("a conflict");
    let (s, b) = t
        .post(
            &format!("/api/v1/crosschecks/{conflict}/resolve"),
            &off,
            json!({"note": NOT_IN_AUDIT[4]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    reads.extend(fill_periodic_report(t, &off, &cw).await);
    fill_audit_free_text(t, &off).await;
    reads.extend(fill_hotline(t, &off).await);
    reads.extend(fill_assistance(t, &off, &cw).await);
    fill_sealed_at_write(t, &off, &cw, p).await;

    // A child case: why the child's care is missing is a health fact about the parent.
    let dir = t.user("p_kdir", &["children_director"], V1).await;
    let kid = created_id(t, "/api/v1/child-cases", &dir,
        json!({"name": "钱小童", "region_code": V1, "where_now": "家中", "reason": "parent_suspected"})).await;
    reads.push((
        format!("/api/v1/child-cases/{kid}?reason=%E6%A0%B8%E5%AE%9E"),
        dir,
    ));
    Filled { reads }
}

/// A village's daily report with a remark (情况说明), corrected by the county with another:
/// the body, the correction's before and after bodies are sealed; the audit entry of the
/// correction records the remark's length.
async fn fill_periodic_report(t: &T, off: &str, cw: &str) -> Vec<(String, String)> {
    let values = |notes: &str, people: i64| {
        json!({"template": "village_daily", "unit": V1, "period": "2026-03-01", "values": {
            "households_screened": 3, "people_screened": people, "close_contacts": 0,
            "home_observation": 0, "released": 0, "fever_referred": 0, "notes": notes}})
    };
    let (s, b) = t.post("/api/v1/reports", cw, values(MARKERS[26], 5)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let id = b["id"].as_i64().expect("report id");
    let (s, b) = t.post("/api/v1/reports", off, values(MARKERS[27], 6)).await;
    assert!(s.is_success(), "{b}");
    let (s, r) = t.get(&format!("/api/v1/reports/{id}"), off).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["values"]["notes"], MARKERS[27], "{r}");
    assert_eq!(r["history"][0]["before"]["notes"], MARKERS[26], "{r}");
    assert_eq!(r["history"][0]["after"]["notes"], MARKERS[27], "{r}");
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'report.correct' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(t.state.db.pool())
    .await
    .expect("the correction's entry");
    let d: Value = serde_json::from_str(&detail).expect("json");
    let len = |m: &str| json!({"len": m.chars().count()});
    assert_eq!(
        d["changes"]["notes"],
        json!({"before": len(MARKERS[26]), "after": len(MARKERS[27])}),
        "{d}"
    );
    assert_eq!(
        d["changes"]["people_screened"],
        json!({"before": 5, "after": 6})
    );
    // The village's figures stay readable where the rollups keep them.
    let people = count(
        t,
        &format!(
            "SELECT total FROM report_rollup_sums WHERE template_key = 'village_daily' \
             AND period = '2026-03-01' AND code = '{V1}' AND field = 'people_screened'"
        ),
    )
    .await;
    assert_eq!(people, 6);
    vec![(format!("/api/v1/reports/{id}"), off.to_string())]
}

/// Areas whose free text stays readable in its own row but must reach the audit log only by
/// its length ([`NOT_IN_AUDIT`]): an inspection's findings and requirement, a shortage's
/// answer, a child case's hand-over note.
async fn fill_audit_free_text(t: &T, off: &str) {
    let insp = t.user("p_insp", &["inspector"], "130110").await;
    let (s, b) = t
        .post(
            "/api/v1/inspections",
            &insp,
            json!({"unit": V1, "mode": "unannounced", "date": "2026-03-02", "findings": NOT_IN_AUDIT[1],
            "problems": [{"description": "入口无人值守", "requirement": NOT_IN_AUDIT[2], "deadline": "2026-03-04"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let org = created_id(
        t,
        "/api/v1/orgs",
        off,
        json!({"name": "获鹿镇敬老院", "kind": "elderly_care", "region_code": TOWN}),
    )
    .await;
    let rep = org_user(t, "p_rep2", &["institution_reporter"], TOWN, org).await;
    let sh = created_id(
        t,
        &format!("/api/v1/institutions/{org}/shortages"),
        &rep,
        json!({"item": "masks", "quantity": 500, "note": "口罩仅够两天"}),
    )
    .await;
    let (s, b) = t
        .post(
            &format!("/api/v1/shortages/{sh}/answer"),
            off,
            json!({"answer": NOT_IN_AUDIT[3]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let ts = t.user("p_ts", &["township_staff"], TOWN).await;
    let kid = created_id(
        t,
        "/api/v1/child-cases",
        &ts,
        json!({"name": "孙小童", "region_code": V1, "where_now": "家中", "reason": "parent_isolated"}),
    )
    .await;
    let (s, b) = t
        .post(
            &format!("/api/v1/child-cases/{kid}/handover"),
            &ts,
            json!({"to": "130110", "note": NOT_IN_AUDIT[5]}),
        )
        .await;
    assert!(s.is_success(), "{b}");
}

/// The markers found in any audit entry's detail (the log is stored in clear).
async fn in_audit(t: &T, list: &[&str]) -> Vec<String> {
    let details: Vec<String> = sqlx::query_scalar("SELECT detail FROM audit_log")
        .fetch_all(t.state.db.pool())
        .await
        .expect("audit");
    let all = details.join("\n");
    list.iter()
        .filter(|m| all.contains(*m))
        .map(|m| m.to_string())
        .collect()
}

/// Hotlines: a red flag with its report's reference and a referral (accepted, closed with an
/// outcome), a second referral declined with a reason, a follow-up done with an outcome.
async fn fill_hotline(t: &T, off: &str) -> Vec<(String, String)> {
    let org = created_id(
        t,
        "/api/v1/orgs",
        off,
        json!({"name": "获鹿镇社工站", "kind": "social_work", "region_code": TOWN}),
    )
    .await;
    let hw = t.user("p_hw", &["hotline_worker"], "130110").await;
    let sw = org_user(t, "p_sw", &["social_worker"], TOWN, org).await;
    let line = created_id(
        t,
        "/api/v1/hotline/lines",
        off,
        json!({"region_code": "130110", "name": "鹿泉区心理援助热线", "number": "0311-82012345",
            "kind": "psychological", "org_id": org}),
    )
    .await;
    let (s, c) = t
        .post(
            "/api/v1/hotline/calls",
            &hw,
            json!({"line_id": line, "caller_category": "quarantined", "issues": ["anxiety"],
            "risk": "red_flag", "actions": ["referral"], "duration_s": 600, "flag_kind": "suicide",
            "report_to": "police", "report_ref": MARKERS[22],
            "referral": {"org_id": org, "reason": MARKERS[18]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let call = c["id"].as_i64().expect("call");
    let first = c["referrals"][0]["id"].as_i64().expect("referral");
    let (s, n) = t
        .post(
            &format!("/api/v1/hotline/calls/{call}/notes"),
            &hw,
            json!({"text": SEALED_AT_WRITE[11]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{n}");
    let second = created_id(
        t,
        &format!("/api/v1/hotline/calls/{call}/referrals"),
        &hw,
        json!({"org_id": org, "reason": "再次转介"}),
    )
    .await;
    let decide = |id: i64, body: Value| {
        let sw = sw.clone();
        async move {
            let path = format!("/api/v1/hotline/referrals/{id}/decision");
            let (s, b) = t.post(&path, &sw, body).await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
    };
    decide(second, json!({"accept": false, "reason": MARKERS[19]})).await;
    decide(first, json!({"accept": true})).await;
    let (s, b) = t
        .post(
            &format!("/api/v1/hotline/referrals/{first}/outcome"),
            &sw,
            json!({"outcome": MARKERS[20]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let fu = created_id(
        t,
        &format!("/api/v1/hotline/calls/{call}/followups"),
        &hw,
        json!({"due_at": "2026-03-09 09:00"}),
    )
    .await;
    let (s, b) = t
        .post(
            &format!("/api/v1/hotline/followups/{fu}/done"),
            &hw,
            json!({"outcome": MARKERS[21], "score": 4}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    vec![
        (format!("/api/v1/hotline/calls/{call}"), hw.clone()),
        (format!("/api/v1/hotline/referrals/{first}"), sw.clone()),
    ]
}

/// Assistance: an application with a note (sealed at write) verified with an opinion, and a
/// second one rejected with a reason; the applicant's birth date; a beneficiary's exit held
/// by an emergency period, with its reason.
async fn fill_assistance(t: &T, off: &str, cw: &str) -> Vec<(String, String)> {
    let (s, b) = t
        .post("/api/v1/assistance/standards", off, json!({"region_code": "130110", "programme": "dibao",
            "area_kind": "rural", "component": "base", "amount": "600", "effective_from": "2026-03-02"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let mut reads = Vec::new();
    for (i, (step, by, reason)) in [("verify", cw, MARKERS[23]), ("reject", off, MARKERS[24])]
        .into_iter()
        .enumerate()
    {
        let (s, b) = t
            .post(
                "/api/v1/persons",
                cw,
                json!({"name": format!("救助申请人{i}"), "region_code": V1,
                "birth_date": if i == 0 { SEALED_AT_WRITE[4] } else { "1958-02-02" }}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let person = b["id"].as_i64().expect("person");
        let h = created_id(
            t,
            "/api/v1/households",
            cw,
            json!({"region_code": V1, "address": "二号院", "members": [{"person_id": person, "relationship": "head"}]}),
        )
        .await;
        let app = created_id(
            t,
            "/api/v1/assistance/applications",
            cw,
            json!({"programme": "dibao", "household_id": h, "area_kind": "rural", "note": SEALED_AT_WRITE[6],
            "members": [{"person_id": person, "authorised": true}]}),
        )
        .await;
        let (s, b) = t
            .post(
                &format!("/api/v1/assistance/applications/{app}/steps"),
                by,
                json!({"step": step, "reason": reason}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        reads.push((
            format!("/api/v1/assistance/applications/{app}"),
            off.to_string(),
        ));
        if i == 0 {
            reads.push(hold_an_exit(t, off, person).await);
        }
    }
    reads
}

/// A beneficiary (rolled in directly: the approval's publicity takes a week) whose exit,
/// asked for during a period that freezes exits, is held with a reason.
async fn hold_an_exit(t: &T, off: &str, person: i64) -> (String, String) {
    let mut w = t.state.db.begin_write().await.expect("tx");
    let bid: i64 = sqlx::query_scalar(
        "INSERT INTO assistance_beneficiaries (province, programme, county_code, region_code, person_id, \
         area_kind, monthly_amount_fen, status, since_month, created_at, updated_at) \
         VALUES ('13', 'dibao', '130110', $1, $2, 'rural', 60000, 'active', '2026-03', 0, 0) RETURNING id",
    )
    .bind(V1)
    .bind(person)
    .fetch_one(w.conn())
    .await
    .expect("a beneficiary");
    w.commit().await.expect("commit");
    let (s, b) = t
        .post(
            "/api/v1/assistance/emergencies",
            off,
            json!({"region_code": "130110", "name": "应急期", "starts_on": "2026-03-01",
            "ends_on": "2026-04-30", "measures": ["freeze_exits"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = t
        .post(
            &format!("/api/v1/assistance/beneficiaries/{bid}/status"),
            off,
            json!({"status": "exited", "reason": MARKERS[25]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["exit_held"], true, "{b}");
    (
        "/api/v1/assistance/beneficiaries?held=true".to_string(),
        off.to_string(),
    )
}

/// The rest of the areas, sealed when written: a bank account, a child's case (its reason a
/// code from a list: see [`child_reason_in_clear`]), a member of the public's code request.
async fn fill_sealed_at_write(t: &T, off: &str, cw: &str, person: i64) {
    let (s, b) = t
        .post(
            &format!("/api/v1/payments/persons/{person}/accounts"),
            off,
            json!({"bank_name": "河北农信", "account_number": SEALED_AT_WRITE[7], "holder": "本人"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let director = t.user("p_dir", &["children_director"], V1).await;
    let (s, b) = t
        .post(
            "/api/v1/child-cases",
            &director,
            json!({"name": SEALED_AT_WRITE[8], "sex": "男", "birth_year": 2016, "region_code": V1,
            "where_now": SEALED_AT_WRITE[9], "reason": CHILD_REASON, "health": "close_contact",
            "contact_history": SEALED_AT_WRITE[10]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    backstop_app::public::request_code(&t.state, SEALED_AT_WRITE[12], "198.51.100.7")
        .await
        .expect("a code requested");
    let _ = cw;
}

/// The reason of the child's case: a code of a closed list (`children::REASONS`).
const CHILD_REASON: &str = "parent_deceased";

/// Is `table.column` in the schema?
async fn has_column(t: &T, table: &str, column: &str) -> bool {
    let sql = if t.backend == "sqlite" {
        format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM pragma_table_info('{table}') WHERE name = '{column}'"
        )
    } else {
        format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{table}' AND column_name = '{column}'"
        )
    };
    count(t, &sql).await > 0
}

/// Rows of `child_cases` whose reason (why the child is without care: a parent infected,
/// isolated, deceased… — a health fact about the parent) is stored in clear. Checked as soon as
/// the case reason is sealed (`child_cases.reason_enc` exists, the children's change); until
/// then reported, as the open item of `docs/PRIVACY.md` it is.
async fn child_reason_in_clear(t: &T) -> i64 {
    let n = count(
        t,
        &format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM child_cases WHERE reason = '{CHILD_REASON}'"
        ),
    )
    .await;
    if has_column(t, "child_cases", "reason_enc").await {
        assert_eq!(n, 0, "child_cases.reason is sealed: no clear value");
    } else {
        eprintln!(
            "NOTE ({}): child_cases.reason stays in clear ({n} rows) until its sealing lands",
            t.backend
        );
    }
    n
}

/// What the API shows for every read.
async fn shown(t: &T, f: &Filled) -> Vec<String> {
    let mut out = Vec::new();
    for (path, token) in &f.reads {
        let (s, v) = t.get(path, token).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        out.push(v.to_string());
    }
    out
}

/// Markers of `list` found at rest: in the SQLite file and its WAL, or in any value of any
/// column of any PostgreSQL table (`support::text_at_rest`).
async fn at_rest(t: &T, list: &[&str]) -> Vec<String> {
    let hay = text_at_rest(t).await;
    list.iter()
        .filter(|m| hay.contains(*m))
        .map(|m| m.to_string())
        .collect()
}

/// The markers of the sealed columns found at rest.
async fn markers_at_rest(t: &T) -> Vec<String> {
    at_rest(t, MARKERS).await
}

/// Rows of a sealed column whose clear value is not blank, or that lack the ciphertext.
async fn clear_rows(t: &T) -> Vec<String> {
    let mut out = Vec::new();
    for f in every_sealed() {
        let c = f.column;
        let not_blank = match f.kind {
            Kind::Text => format!("{c} <> ''"),
            Kind::OptText | Kind::OptInt => format!("{c} IS NOT NULL"),
            Kind::Int => format!("{c} <> 0"),
            Kind::Outcome => format!("{c} NOT IN ('active', 'closed')"),
        };
        let missing = if f.kind == Kind::Outcome {
            format!("{c} = 'closed' AND {c}_enc IS NULL")
        } else {
            format!("{c}_enc IS NULL")
        };
        let only = if f.only.is_empty() { "1 = 1" } else { f.only };
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM {} WHERE (({not_blank}) OR ({missing})) AND ({only})",
            f.table
        );
        let n = count(t, &sql).await;
        let rows = count(
            t,
            &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {}", f.table),
        )
        .await;
        assert!(rows > 0, "{}: the test must fill it", f.table);
        if n > 0 {
            out.push(format!("{}.{c}: {n}", f.table));
        }
    }
    out
}

/// Put every sealed value back in clear and drop its ciphertext, as a database written
/// before migration 0016 holds it; forget that the sealing step ran.
async fn unseal_everything(t: &T) {
    let keys = &t.state.keys;
    let mut w = t.state.db.begin_write().await.expect("tx");
    for f in every_sealed() {
        let c = f.column;
        let key_list = f.keys.join(", ");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {key_list}, {c}_enc FROM {} WHERE {c}_enc IS NOT NULL",
            f.table
        )))
        .fetch_all(w.conn())
        .await
        .expect("sealed rows");
        let key_match: Vec<String> = f
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = ${}", i + 2))
            .collect();
        let update = format!(
            "UPDATE {} SET {c} = $1, {c}_enc = NULL WHERE {}",
            f.table,
            key_match.join(" AND ")
        );
        for r in rows {
            let enc: Vec<u8> = r.get(format!("{c}_enc").as_str());
            let text = String::from_utf8(keys.decrypt(&enc).expect("opens")).expect("utf-8");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(update.clone()));
            q = match f.kind {
                Kind::Text | Kind::Outcome => q.bind(text),
                Kind::OptText => q.bind(Some(text).filter(|s| !s.is_empty())),
                Kind::Int => q.bind(text.parse::<i64>().expect("number")),
                Kind::OptInt => q.bind(text.parse::<i64>().ok()),
            };
            for k in f.keys {
                q = if f.text_keys.contains(k) {
                    q.bind(r.get::<String, _>(*k))
                } else {
                    q.bind(r.get::<i64, _>(*k))
                };
            }
            q.execute(w.conn()).await.expect("unseal");
        }
    }
    sqlx::query("DELETE FROM privacy_sealing")
        .execute(w.conn())
        .await
        .expect("forget the step");
    w.commit().await.expect("commit");
}

#[tokio::test]
async fn sensitive_values_are_sealed_at_rest_and_shown_to_those_allowed() {
    each_backend(|t: T| async move {
        let filled = fill(&t).await;
        let before = shown(&t, &filled).await;
        let all = before.join("\n");
        for m in MARKERS {
            assert!(all.contains(m), "{m} is shown back by the API");
        }
        assert_eq!(
            clear_rows(&t).await,
            Vec::<String>::new(),
            "every sealed column blank in clear"
        );
        assert_eq!(
            markers_at_rest(&t).await,
            Vec::<String>::new(),
            "no marker at rest"
        );
        // Nor any value sealed when written, of every other area (issue 13's "done when").
        assert_eq!(
            at_rest(&t, SEALED_AT_WRITE).await,
            Vec::<String>::new(),
            "no ID number, phone, birth date, note or case text at rest"
        );
        // The scan sees what is in clear: a person's name is (docs/PRIVACY.md), and so is the
        // line's name.
        assert_eq!(at_rest(&t, &["赵甲", "鹿泉区心理援助热线"]).await.len(), 2);
        let id_number = cid("130110", "19450101", 71);
        assert_eq!(
            at_rest(&t, &[id_number.as_str()]).await,
            Vec::<String>::new()
        );
        child_reason_in_clear(&t).await;
        // The audit log (clear, hash-chained) holds none of the free text, sealed or not, and
        // no person's name in full.
        for list in [MARKERS, SEALED_AT_WRITE, NOT_IN_AUDIT] {
            assert_eq!(
                in_audit(&t, list).await,
                Vec::<String>::new(),
                "no free text in the audit log"
            );
        }
        assert_eq!(
            in_audit(&t, &["parent_suspected", "parent_isolated"]).await,
            Vec::<String>::new(),
            "a child case's sealed reason is not copied to the log"
        );
        // The derived fields keep counting: the fevers and the open/closed status.
        let fevers = "SELECT CAST(COUNT(*) AS BIGINT) FROM gate_entries WHERE fever = 1";
        assert_eq!(count(&t, fevers).await, 1);
        assert_eq!(
            count(
                &t,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM observations WHERE status = 'closed'"
            )
            .await,
            1
        );
        // A fresh database had nothing to seal or rekey at open: every step ran and left no entry.
        assert_eq!(
            count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM privacy_sealing").await,
            8,
            "seven sealing steps and the keying of cross-check fingerprints"
        );
        assert_eq!(
            count(
                &t,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action LIKE 'privacy.%'"
            )
            .await,
            0
        );
        // A value that does not open under the key reads as unreadable, not as garbage.
        let mut w = t.state.db.begin_write().await.expect("tx");
        sqlx::query("UPDATE care_visits SET findings_enc = $1")
            .bind(privacy::seal(
                &backstop_app::kernel::crypto::KeyRing::from_master([9; 32]),
                "x",
            ))
            .execute(w.conn())
            .await
            .expect("foreign key");
        w.commit().await.expect("commit");
        let (_, v) = t.get(&filled.reads[4].0, &filled.reads[4].1).await;
        assert_eq!(v["findings"], privacy::UNREADABLE, "{v}");
    })
    .await;
}

#[tokio::test]
async fn rows_stored_in_clear_are_sealed_at_open_once() {
    each_backend(|t: T| async move {
        let filled = fill(&t).await;
        let before = shown(&t, &filled).await;
        unseal_everything(&t).await;
        assert!(!clear_rows(&t).await.is_empty());
        assert_eq!(
            markers_at_rest(&t).await.len(),
            MARKERS.len(),
            "the check sees clear rows"
        );
        assert_eq!(shown(&t, &filled).await, before, "clear rows read the same");

        // The service starts again on this database: the open-time step seals every row.
        let reopened = t.reopen().await;
        reopened.db.close().await;
        assert_eq!(clear_rows(&t).await, Vec::<String>::new());
        assert_eq!(
            markers_at_rest(&t).await,
            Vec::<String>::new(),
            "no clear copy left behind"
        );
        assert_eq!(
            shown(&t, &filled).await,
            before,
            "the API shows the same after sealing"
        );
        let audited =
            "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = 'privacy.seal'";
        assert_eq!(
            count(&t, audited).await,
            every_sealed().count() as i64,
            "one audited entry per column"
        );

        // Idempotent: recorded, so the next open does nothing; and even without the record a
        // second pass finds nothing to seal.
        assert_eq!(privacy::seal_clear_rows(&t.state).await.expect("again"), 0);
        let mut w = t.state.db.begin_write().await.expect("tx");
        sqlx::query("DELETE FROM privacy_sealing")
            .execute(w.conn())
            .await
            .expect("forget");
        w.commit().await.expect("commit");
        assert_eq!(privacy::seal_clear_rows(&t.state).await.expect("again"), 0);
        assert_eq!(count(&t, audited).await, every_sealed().count() as i64);
        assert_eq!(shown(&t, &filled).await, before);
    })
    .await;
}
