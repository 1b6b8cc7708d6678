//! Children's cases in a real browser (issue 17): a children's director reports a child on a
//! 390 px phone — the short form sent — and the township's child supervisor sees it on the hub at desk width. Every page
//! fits and shows no English outside the allow-list (`browser_day`'s checks).

use crate::browser::{Server, driver, fill, log_in, ready_user, wait_path};
use crate::browser_day::{check, visit};

const PASSWORD: &str = "Tq8#Rv2!mZ5pW";
const T1: &str = "130110100";
const V1: &str = "130110100001";

#[test]
fn a_director_reports_a_child_on_a_phone() {
    let Some(d) = driver(390, 844) else { return };
    let server = Server::start_with(backstop_app::Config::default());
    ready_user(&server, "cw.ch", "children_director", V1, PASSWORD);
    ready_user(&server, "ts.ch", "child_supervisor", T1, PASSWORD);

    log_in(&d, &server, "cw.ch", PASSWORD);
    visit(&d, &server, "/children", &["cw.ch"]);
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
    check(&d, "the hub after the report", &["刘小雨", "cw.ch"]);
    d.wait_for_text("#child-open", "刘*");
    d.find("#logout").click();
    wait_path(&d, "the login page", |p| p.starts_with("/login"));

    // The township's supervisor at desk width sees the case to classify.
    d.resize(1280, 900);
    log_in(&d, &server, "ts.ch", PASSWORD);
    visit(&d, &server, "/children", &["ts.ch"]);
    d.wait_for_text("#child-open", "待分类安置");
}
