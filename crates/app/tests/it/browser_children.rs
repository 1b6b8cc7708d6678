//! Children's cases in a real browser (issue 17, the walk): a children's director
//! reports a child on a 390 px phone; the township's child supervisor opens the case page
//! (the reason form first: not yet the supervisor of the case), classifies and places the
//! child on the phone, and at desk width assigns the director as the case worker from the
//! picker; a hotline worker logs a red-flag call about a child in danger and the call's page
//! shows the reference of the case it opened in the child's village; a second call refers to
//! the director's case (关联个案编号), its page shows the reference, and the supervisor finds
//! the call on the case's timeline ("热线来电关联"). Every page fits and
//! shows no English outside the allow-list (`browser_day`'s checks).

use serde_json::json;

use crate::browser::{Server, driver, fill, log_in, ready_user, wait_path};
use crate::browser_day::{check, id_in_path, visit};

const PASSWORD: &str = "Tq8#Rv2!mZ5pW";
const A: &str = "130110";
const T1: &str = "130110100";
const V1: &str = "130110100001";
/// The county's child-protection line: name, number, kind.
const LINE: (&str, &str, &str) = ("鹿泉区儿童保护热线", "0311-82012346", "child_protection");
const TYPED: &[&str] = &["cw.ch", "ts.ch", "hw.ch", "刘小雨", "MZ-2026-17"];

/// Set a select's value by script (the phone's native pickers are not clickable by driver).
fn pick(d: &crate::webdriver::Driver, css: &str, value: &str) {
    d.execute(
        "document.querySelector(arguments[0]).value = arguments[1];",
        vec![json!(css), json!(value)],
    );
}

#[test]
fn a_director_reports_a_child_on_a_phone() {
    let Some(d) = driver(390, 844) else { return };
    let server = Server::start_with(backstop_app::Config::default());
    ready_user(&server, "cw.ch", "children_director", V1, PASSWORD);
    ready_user(&server, "ts.ch", "child_supervisor", T1, PASSWORD);
    ready_user(&server, "hw.ch", "hotline_worker", A, PASSWORD);
    // The county's child-protection line, run by the township's social-work agency.
    crate::browser_hotline::seed_line(&server, LINE);

    log_in(&d, &server, "cw.ch", PASSWORD);
    visit(&d, &server, "/children", TYPED);
    fill(&d, "#child-name", "刘小雨");
    fill(&d, "#child-birth-year", "2017");
    fill(&d, "#child-where", "邻居王奶奶家");
    d.find("#child-reason option[value='parent_isolated']")
        .click();
    d.find("#child-submit").click();
    wait_path(&d, "the hub after the report", |p| {
        p.starts_with("/children")
    });
    d.wait_for_text("#child-reported", "已报告");
    check(&d, "the hub after the report", TYPED);
    d.wait_for_text("#child-open", "刘*");
    d.find("#logout").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));

    // The township's supervisor, on the phone: the case from the hub, the reason first.
    log_in(&d, &server, "ts.ch", PASSWORD);
    visit(&d, &server, "/children", TYPED);
    d.wait_for_text("#child-open", "待分类安置");
    d.find("#child-open a").click();
    wait_path(&d, "the case", |p| p.starts_with("/children/cases/"));
    let case = id_in_path(&d);
    check(&d, "the reason form", TYPED);
    fill(&d, "#case-reason", "督导核实分类");
    d.find("#case-reason-submit").click();
    d.wait_for_text("#case-facts", "邻居王奶奶家");
    check(&d, "the case page at 390 px", TYPED);
    // Classify and place: temporary guardianship, with kin.
    pick(&d, "#classify-guardianship", "temporary");
    pick(&d, "#classify-placement", "kin");
    d.find("#classify-submit").click();
    d.wait_for_text("#case-done", "已保存分类安置");
    d.wait_for_text("#case-placement", "亲属照料");
    d.wait_for_text("#case-guardianship", "民政部门临时监护");
    check(&d, "the classified case at 390 px", TYPED);

    // At desk width: assign the director from the picker.
    d.resize(1280, 900);
    let director = d
        .execute(
            "return [...document.querySelectorAll('#assign-worker option')].find(o => o.textContent.includes('cw.ch')).value",
            vec![],
        )
        .as_str()
        .map(String::from)
        .expect("the director in the picker");
    pick(&d, "#assign-worker", &director);
    d.find("#assign-submit").click();
    d.wait_for_text("#case-done", "已保存指派");
    d.wait_for_text("#case-worker", "cw.ch");
    d.wait_for_text("#case-events", "指派");
    check(&d, "the assigned case at desk width", TYPED);
    d.goto(&server.url("/children/cases"));
    d.wait_for_text("#cases-list", "刘*");
    check(&d, "the list", TYPED);
    d.goto(&server.url("/children/stats"));
    d.wait_for_text("#stats-table", "合计");
    check(&d, "the statistics", TYPED);
    d.find("#logout").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));

    // The hotline worker on the phone: a red flag about a child in danger; the call's page
    // shows the case it opened.
    d.resize(390, 844);
    log_in(&d, &server, "hw.ch", PASSWORD);
    visit(&d, &server, "/hotline/calls/new", TYPED);
    d.find("#issue-anxiety").click();
    d.find("#action-emotional_support").click();
    fill(&d, "#call-duration", "12");
    pick(&d, "#call-risk", "red_flag");
    pick(&d, "select[name=flag_kind]", "child_danger");
    pick(&d, "select[name=report_to]", "civil_affairs");
    fill(&d, "input[name=report_ref]", "MZ-2026-17");
    fill(&d, "input[name=child_region]", V1);
    fill(&d, "input[name=child_name]", "刘小雨");
    fill(&d, "input[name=child_where]", "邻居王奶奶家");
    fill(&d, "input[name=child_reason]", "父母隔离，无人照看");
    d.find("#call-save").click();
    wait_path(&d, "the call", |p| {
        p.starts_with("/hotline/calls/") && !p.ends_with("/new")
    });
    d.wait_for_text("#child-lead", "已转儿童个案");
    let reference = d.find("#child-case-ref").text();
    assert!(
        reference.trim().parse::<i64>().is_ok_and(|r| r > case),
        "the call's case reference: {reference}"
    );
    check(&d, "the call with the case reference", TYPED);

    // A second call that refers to the case the director reported (关联个案编号): the call's
    // page shows the reference.
    visit(&d, &server, "/hotline/calls/new", TYPED);
    d.find("#issue-child_care").click();
    d.find("#action-advice").click();
    fill(&d, "#call-duration", "6");
    pick(&d, "#call-risk", "low");
    fill(&d, "#call-related-case", &case.to_string());
    check(&d, "the call form with the case reference at 390 px", TYPED);
    d.find("#call-save").click();
    wait_path(&d, "the referring call", |p| {
        p.starts_with("/hotline/calls/") && !p.ends_with("/new")
    });
    d.wait_for_text("#related-case", &format!("关联个案 {case}"));
    let call = id_in_path(&d);
    check(&d, "the call referring to the case at 390 px", TYPED);
    d.find("#logout").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));

    // The supervisor sees the call on the case's timeline.
    log_in(&d, &server, "ts.ch", PASSWORD);
    d.goto(&server.url(&format!("/children/cases/{case}")));
    let asks_reason = d
        .execute("return !!document.querySelector('#case-reason');", vec![])
        .as_bool()
        .unwrap_or(false);
    if asks_reason {
        fill(&d, "#case-reason", "督导查看来电关联");
        d.find("#case-reason-submit").click();
    }
    d.wait_for_text("#case-events", "热线来电关联");
    d.wait_for_text("#case-events", &format!("来电 {call}"));
    check(&d, "the case with the hotline call on its timeline", TYPED);
}
