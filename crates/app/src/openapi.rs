//! The OpenAPI document of the JSON API (`/api/v1/openapi.json`, generated from the handlers'
//! annotations) and the browsable docs at `/api/docs` (Swagger UI, vendored and embedded).

use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::kernel::web::Routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Backstop (兜底) API", version = "1", description = "民政应急平台 JSON API。错误统一为 {code, message}，code 为稳定标识，message 为中文说明。认证：Authorization: Bearer <token>（登录令牌或个人 API 令牌）。"),
    paths(
        crate::accounts::web::login, crate::accounts::web::logout, crate::accounts::web::change_password,
        crate::accounts::web::totp_enroll, crate::accounts::web::totp_confirm, crate::accounts::web::me,
        crate::accounts::web::list_users, crate::accounts::web::create_user, crate::accounts::web::get_user,
        crate::accounts::web::update_user, crate::accounts::web::unlock_user,
        crate::accounts::web::disable_user, crate::accounts::web::enable_user, crate::accounts::web::reset_password,
        crate::accounts::web::list_tokens, crate::accounts::web::create_token, crate::accounts::web::revoke_token,
        crate::accounts::security_web::get_settings, crate::accounts::security_web::put_settings, crate::accounts::security_web::reset_totp, crate::accounts::security_web::recovery_codes, crate::accounts::security_web::own_devices, crate::accounts::security_web::revoke_own_device, crate::accounts::security_web::user_devices, crate::accounts::security_web::revoke_user_device, crate::notify::web::deliveries, crate::notify::web::summary, crate::notify::web::delivered, crate::notify::web::retry, crate::notify::web::escalation_rules, crate::notify::web::put_escalation_rule, crate::notify::web::channels, crate::notify::web::put_channels, crate::notify::web::templates, crate::notify::web::template, crate::notify::web::put_template,
        crate::regions::web::roots, crate::regions::web::one, crate::regions::web::children, crate::regions::web::create_grid,
        crate::orgs::web::list, crate::orgs::web::create, crate::orgs::web::one,
        crate::orgs::web::update, crate::orgs::web::disable, crate::orgs::web::enable,
        crate::audit::web::search,
        crate::reports::web::list_forms, crate::reports::web::get_form, crate::reports::web::save_form,
        crate::reports::web::submit, crate::reports::web::get_submission, crate::reports::web::summary,
        crate::reports::web::missing, crate::reports::web::chase, crate::reports::web::list_chases, crate::reports::web::lock, crate::reports::web::notifications,
        crate::reports::web::list_incidents, crate::reports::web::ack_incident, crate::reports::web::trend, crate::reports::web::outbox, crate::reports::web::delivered,
        crate::institutions::web::list, crate::institutions::web::one, crate::institutions::web::closure,
        crate::institutions::web::list_entries, crate::institutions::web::add_entry,
        crate::institutions::web::list_residents, crate::institutions::web::add_resident,
        crate::institutions::web::one_resident, crate::institutions::web::update_resident,
        crate::institutions::web::disable_resident, crate::institutions::web::enable_resident,
        crate::institutions::web::get_rounds, crate::institutions::web::record_round,
        crate::institutions::web::set_supplies, crate::institutions::web::create_shortage,
        crate::institutions::web::list_shortages, crate::institutions::web::get_shortage,
        crate::institutions::web::answer_shortage, crate::institutions::web::close_shortage,
        crate::institutions::web::list_health_events, crate::institutions::web::record_health_event,
        crate::bookings::web::create, crate::bookings::web::orgs, crate::bookings::web::setup,
        crate::bookings::web::add_service, crate::bookings::web::add_resource,
        crate::bookings::web::set_date, crate::bookings::web::block, crate::bookings::web::day,
        crate::bookings::web::rebookings, crate::bookings::web::emergencies,
        crate::bookings::web::declare, crate::bookings::web::end, crate::bookings::web::one,
        crate::bookings::web::change, crate::bookings::web::cancel, crate::bookings::web::accept,
        crate::bookings::funeral_web::record, crate::bookings::funeral_web::plan,
        crate::bookings::funeral_web::request, crate::bookings::funeral_web::one,
        crate::bookings::funeral_web::collection, crate::bookings::funeral_web::cremation,
        crate::bookings::funeral_web::unit, crate::bookings::funeral_web::rollup,
        crate::bookings::funeral_web::rollup_export, crate::bookings::funeral_web::late_cancel,
        crate::bookings::funeral_web::stats, crate::bookings::funeral_web::stats_export,
        crate::bookings::funeral_web::outcome,
        crate::bookings::register_web::place_rules, crate::bookings::register_web::set_place_rule,
        crate::bookings::register_web::designation, crate::bookings::register_web::set_designation,
        crate::bookings::register_web::divorces, crate::bookings::register_web::withdraw,
        crate::bookings::register_web::prechecks, crate::bookings::register_web::precheck,
        crate::bookings::register_web::submit_precheck, crate::bookings::register_web::answer,
        crate::hotline::web::lines, crate::hotline::web::create_line, crate::hotline::web::line,
        crate::hotline::web::shifts, crate::hotline::web::add_shift, crate::hotline::web::calls,
        crate::hotline::web::record_call, crate::hotline::web::call, crate::hotline::web::refer,
        crate::hotline::web::schedule, crate::hotline::web::notes, crate::hotline::web::add_note,
        crate::hotline::web::view_note, crate::hotline::web::referrals, crate::hotline::web::referral,
        crate::hotline::web::decide, crate::hotline::web::outcome, crate::hotline::web::followups,
        crate::hotline::web::followup_done, crate::hotline::web::statistics, crate::hotline::web::export,
        crate::donations::web::campaigns, crate::donations::web::create_campaign, crate::donations::web::campaign,
        crate::donations::web::receivers, crate::donations::web::set_receiver, crate::donations::web::list_receipts,
        crate::donations::web::create_receipt, crate::donations::web::receipt, crate::donations::web::withdraw_consent, crate::donations::web::allocations,
        crate::donations::web::allocate, crate::donations::web::allocation, crate::donations::web::dispatch,
        crate::donations::web::confirm, crate::donations::web::delivery_note, crate::donations::web::pending,
        crate::donations::web::entries, crate::donations::web::entry, crate::donations::web::reverse,
        crate::donations::web::fee, crate::donations::web::verify,
        crate::donations::needs_web::list, crate::donations::needs_web::create, crate::donations::needs_web::unmet, crate::donations::needs_web::report_figures, crate::federation::web::post_events, crate::federation::web::whoami, crate::federation::web::forms,
        crate::federation::web::assistance, crate::federation::web::public_info, crate::federation::web::campaigns,
        crate::donations::needs_web::one, crate::donations::needs_web::proposals, crate::donations::needs_web::accept,
        crate::donations::needs_web::cancel, crate::donations::dashboard_web::show, crate::donations::dashboard_web::export,
        crate::donations::dashboard_web::import, crate::donations::dashboard_web::template,
        crate::inspections::web::list, crate::inspections::web::create, crate::inspections::web::one,
        crate::inspections::web::add_problem, crate::inspections::web::rectifications,
        crate::inspections::web::one_rectification, crate::inspections::web::respond,
        crate::inspections::web::close, crate::inspections::web::reopen,
        crate::people::web::create, crate::people::web::list, crate::people::web::search, crate::people::web::one,
        crate::people::web::update, crate::people::web::reveal, crate::people::web::create_household, crate::people::web::household,
        crate::people::web::households, crate::people::web::update_household, crate::people::web::add_member,
        crate::people::web::remove_member, crate::people::web::disable_person, crate::people::web::enable_person,
        crate::people::web::disable_household, crate::people::web::enable_household,
        crate::people::import_pages::api_create, crate::people::import_pages::api_get, crate::people::import_pages::api_rejects,
        crate::people::web::export,
        crate::crosscheck::web::run, crate::crosscheck::web::list, crate::crosscheck::web::one, crate::crosscheck::web::resolve,
        crate::screening::web::create_campaign, crate::screening::web::list_campaigns, crate::screening::web::campaign,
        crate::screening::web::coverage, crate::screening::web::households, crate::screening::web::visit,
        crate::screening::web::record_visit, crate::screening::web::start_observation,
        crate::screening::web::list_observations, crate::screening::web::summary, crate::screening::web::observation,
        crate::screening::web::extend, crate::screening::web::checkin, crate::screening::web::close,
        crate::care::web::list_categories, crate::care::web::person_record, crate::care::web::add_membership,
        crate::care::web::end_membership,
        crate::care::web::set_carer, crate::care::web::record_check, crate::care::web::add_visit,
        crate::care::web::one_visit, crate::care::web::add_task, crate::care::web::list_tasks,
        crate::care::web::close_task, crate::care::web::coverage, crate::care::web::not_contacted,
        crate::children::web::list, crate::children::web::open, crate::children::web::one,
        crate::children::web::take, crate::children::web::classify, crate::children::web::assign,
        crate::children::web::plan, crate::children::web::contact, crate::children::web::task,
        crate::children::web::task_done, crate::children::web::handover, crate::children::web::close,
        crate::children::web::link_person, crate::children::web::assistance,
        crate::children::web::statistics, crate::children::web::export,
        crate::entrance::web::list_gates, crate::entrance::web::create_gate, crate::entrance::web::gate, crate::entrance::web::list_entries, crate::entrance::web::add_entry, crate::entrance::web::list_alerts, crate::entrance::web::alert, crate::entrance::web::ack_alert,
        crate::pick::web::regions, crate::pick::web::orgs, crate::pick::web::units, crate::pick::web::persons,
        crate::entrance::web::update_gate, crate::entrance::web::disable_gate, crate::entrance::web::enable_gate,
        crate::payments::web::list_rolls, crate::payments::web::generate, crate::payments::web::one_roll,
        crate::payments::web::approve, crate::payments::web::export, crate::payments::web::reconcile,
        crate::payments::web::reconcile_file, crate::payments::web::list_grants,
        crate::payments::web::list_indices, crate::payments::web::list_rules,
        crate::payments::web::person_accounts, crate::payments::web::enter_account, crate::payments::web::confirm_account,
        crate::payments::web::create_grant, crate::payments::web::grant_roll, crate::payments::web::record_index,
        crate::payments::web::set_rule, crate::payments::web::generate_subsidy,
        crate::assistance::web::standards, crate::assistance::web::create_standard,
        crate::assistance::web::applications, crate::assistance::web::create_application,
        crate::assistance::web::application, crate::assistance::web::step, crate::assistance::web::related,
        crate::assistance::web::overdue, crate::assistance::web::publicity, crate::assistance::web::commitments,
        crate::assistance::web::beneficiaries, crate::assistance::web::beneficiary_status,
        crate::assistance::web::emergencies, crate::assistance::web::declare, crate::assistance::web::emergency,
        crate::assistance::web::change_emergency, crate::assistance::web::end_emergency,
        crate::assistance::web::aid_grants, crate::assistance::web::grant, crate::assistance::web::decide,
        crate::assistance::stats_web::statistics, crate::assistance::stats_web::export, crate::assistance::stats_web::records,
        crate::assistance::stats_web::due_times, crate::assistance::stats_web::set_due_times,
        crate::volunteers::web::volunteers, crate::volunteers::web::certificate,
        crate::volunteers::web::tasks, crate::volunteers::web::create_task, crate::volunteers::web::task,
        crate::volunteers::web::assign, crate::volunteers::web::confirm, crate::volunteers::web::totals,
        crate::volunteers::web::export,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "auth", description = "登录、密码、动态验证码、个人令牌"),
        (name = "users", description = "用户与角色"),
        (name = "regions", description = "行政区划与网格"),
        (name = "orgs", description = "机构"),
        (name = "audit", description = "审计日志"),
        (name = "reports", description = "日报、即报、汇总、催报"),
        (name = "institutions", description = "机构监测：封闭管理、出入登记、体温、物资与短缺申请"),
        (name = "federation", description = "上下级部署：下级节点上报事件（报表），按节点区划受理，逐条回复已受理、重复或拒绝"),
        (name = "donations", description = "慈善捐赠：募捐活动、接收（资金与物资）、复式记账台账、拨付、发运、签收、台账核验"),
        (name = "bookings", description = "预约：婚姻登记、殡葬服务的时段与资源、预约（数据库保证不超约）、疫情防控措施、停办与批量改约"),
        (name = "hotline", description = "热线：来电记录、红色预警、转介、回访、保密咨询记录、工作报告"),
        (name = "inspections", description = "督导检查与整改"),
        (name = "volunteers", description = "志愿者与社会组织：任务发布、报名与指派（数据库保证不超员）、签到签退、时长确认、统计与服务时长证明"),
        (name = "assistance", description = "社会救助：救助标准、申请与审核审批（核查、审核、公示、审批）、保障对象、应急措施（先行救助、个人承诺、当月审批、暂缓退出）"),
        (name = "people", description = "人员与家庭户（身份证号、电话加密存储，按权限脱敏显示）"),
        (name = "screening", description = "摸排（入户覆盖）与居家医学观察（四包一、每日两次报告、漏报提醒）"),
        (name = "care", description = "困难群众：类别、照料责任人与每日探视、走访、帮扶任务、走访覆盖"),
        (name = "children", description = "监护缺失儿童：线索、报告、分类安置、个案跟踪、需求任务、移交、结案、临时救助（个案内容加密存储，每次查看留痕）"),
        (name = "crosschecks", description = "数据比对：两地登记、疑似重复、互斥类别、已故仍在发放名单；运行、查看与处理"),
        (name = "pick", description = "选择器：按名称或拼音首字母查找管辖范围内的区划、机构、填报单位和人员"),
        (name = "payments", description = "发放：名册生成、审批、银行代发文件导出与回盘对账、补发名册、收款账户（双人确认）、一次性生活补贴、价格临时补贴"),
        (name = "entrance", description = "卡口测温登记：村（社区）与机构卡口、来访登记（电话加密、脱敏显示）、发热预警与处置"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn routes() -> Routes {
    vec![
        ("/api/v1/openapi.json", get(openapi_json)),
        ("/api/docs", get(docs)),
    ]
}

async fn openapi_json() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}

async fn docs() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Backstop API 文档</title>\
         <link rel=\"stylesheet\" href=\"/assets/swagger/swagger-ui.css\"></head>\
         <body><div id=\"swagger-ui\"></div>\
         <script src=\"/assets/swagger/swagger-ui-bundle.js\"></script>\
         <script src=\"/assets/swagger/init.js\"></script></body></html>",
    )
}
