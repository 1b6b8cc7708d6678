//! What the audit page shows a person instead of codes (issue 14, item 3): the Chinese name of
//! every action code the service writes, of the kinds of object, and of the keys of an entry's
//! detail; and the reverse, so an auditor who types 登录 finds the `auth.login` entries.
//! `tests/it/forms.rs::every_audit_action_has_a_chinese_label` reads the source for every action
//! code and fails when one is missing here.

/// `(action code, Chinese label)` for every action the service audits.
pub const ACTIONS: &[(&str, &str)] = &[
    ("assistance.aid_decide", "审批先行救助（确认或不予认可）"),
    ("assistance.aid_grant", "先行救助发放"),
    ("assistance.application_create", "受理社会救助申请"),
    (
        "assistance.application_public",
        "申请人在线提交社会救助申请",
    ),
    ("assistance.application_step", "办理社会救助申请环节"),
    ("assistance.beneficiary_status", "变更救助对象状态"),
    ("assistance.commitment_verify", "核实承诺制申请"),
    ("assistance.emergency_change", "变更应急状态措施"),
    ("assistance.emergency_declare", "宣布应急状态"),
    ("assistance.emergency_end", "结束应急状态"),
    ("assistance.emergency_lapse", "应急期到期自动结束"),
    ("assistance.exit_held", "应急期间暂缓退出"),
    ("assistance.related_mark", "登记近亲属备案"),
    ("assistance.settings_set", "设定救助办理时限"),
    ("assistance.standard_set", "设定救助标准"),
    ("booking.block", "停办日期并批量改约"),
    ("booking.cancel", "取消预约"),
    ("booking.change", "改约（变更预约时段）"),
    ("booking.create", "新建预约"),
    (
        "booking.date_set",
        "设置预约特殊日期（休息、特别开放、限量）",
    ),
    ("booking.emergency_create", "宣布预约疫情防控措施"),
    ("booking.emergency_end", "结束预约疫情防控措施"),
    ("booking.late_cancel", "设定临近取消时限"),
    ("booking.outcome", "登记预约办理结果（已办理、未到）"),
    ("booking.rebook_accept", "确认改约时段"),
    ("booking.rebook_propose", "提出改约时段并通知"),
    (
        "booking.resource_create",
        "新增预约资源（窗口、车辆、火化炉、告别厅）",
    ),
    ("booking.service_create", "新增预约服务"),
    ("funeral.record", "登记接运、火化完成或取消"),
    ("funeral.request", "受理遗体接运申请"),
    ("funeral.schedule", "安排接运车辆或火化炉"),
    ("funeral.unit", "设定车辆、火化炉状态（专用、停用维修）"),
    ("payments.account.confirm", "复核收款账户"),
    ("payments.account.enter", "录入收款账户"),
    ("payments.grant.create", "新建一次性生活补贴"),
    ("payments.price_index.create", "登记价格指数"),
    ("payments.price_rule.set", "设定价格临时补贴联动规则"),
    ("payments.roll.approve", "审批发放名册"),
    ("payments.roll.export", "导出银行代发文件"),
    ("payments.roll.generate", "生成发放名册"),
    ("payments.roll.reconcile", "银行回盘对账"),
    ("access.denied", "越权访问被拒绝"),
    ("audit.export", "导出审计日志"),
    ("auth.device_issue", "记住登录设备（免输动态验证码 30 天）"),
    ("auth.device_revoke", "注销记住的登录设备"),
    ("auth.lockout", "登录失败次数过多，账户锁定"),
    ("auth.login", "登录"),
    ("auth.logout", "退出登录"),
    ("auth.password_change", "修改密码"),
    ("auth.recovery_codes", "生成动态验证码备用码"),
    ("auth.totp_enroll", "绑定动态验证码"),
    ("auth.totp_verify", "动态验证码验证"),
    ("care.carer.create", "登记特困人员照料人"),
    ("care.carer.update", "修改特困人员照料人"),
    ("care.check.create", "登记照料人每日探视"),
    ("care.check.update", "修改照料人每日探视"),
    ("care.membership.create", "认定困难群众类别"),
    ("care.membership.end", "终止困难群众类别"),
    ("care.task.close", "办结帮扶任务"),
    ("care.task.create", "新建帮扶任务"),
    ("care.visit.create", "登记走访"),
    ("child_case.assign", "指派困境儿童个案工作者或督导员"),
    ("child_case.assistance", "从困境儿童个案发起临时救助申请"),
    (
        "child_case.classify",
        "困境儿童分类与安置（监护、安置方式）",
    ),
    ("child_case.close", "困境儿童个案结案"),
    ("child_case.contact", "登记困境儿童探访或联系"),
    ("child_case.handover", "移交困境儿童个案"),
    ("child_case.hotline_call", "热线来电关联困境儿童个案"),
    ("child_case.lead", "生成困境儿童线索"),
    ("child_case.link_person", "困境儿童关联人员库"),
    ("child_case.open", "报告困境儿童（新建个案）"),
    ("child_case.plan", "填写困境儿童照护方案"),
    ("child_case.take", "接收困境儿童线索"),
    ("child_case.task", "新建困境儿童需求任务"),
    ("child_case.task_done", "完成困境儿童需求任务"),
    ("children.view", "查看困境儿童个案"),
    ("crosscheck.resolve", "处理比对疑点"),
    ("crosscheck.run", "运行数据比对"),
    ("entrance_alert.ack", "处置卡口发热预警"),
    ("entrance_alert.raise", "卡口发热预警"),
    ("gate.create", "新建卡口"),
    ("gate.disable", "停用卡口"),
    ("gate.enable", "启用卡口"),
    ("gate.entry", "卡口测温登记"),
    ("gate.update", "修改卡口"),
    ("household.add_member", "家庭户添加成员"),
    ("household.create", "新建家庭户"),
    ("household.disable", "停用家庭户"),
    ("household.enable", "启用家庭户"),
    ("household.remove_member", "家庭户移出成员"),
    ("household.update", "修改家庭户"),
    ("incident.acknowledge", "签收即报事件"),
    ("donation.allocate", "拨付捐赠款物"),
    ("donation.campaign_create", "新建募捐活动"),
    ("donation.consent_withdraw", "捐赠人撤回公开姓名的同意"),
    ("donation.delivery_confirm", "接收单位签收捐赠款物"),
    ("donation.delivery_note", "补录捐赠物资签收单"),
    ("donation.dispatch", "发运捐赠物资"),
    ("donation.need_cancel", "撤销物资需求"),
    ("donation.need_create", "发布物资需求"),
    ("donation.need_match", "供需对接（需求获拨付）"),
    ("donation.receipt_create", "登记接收捐赠"),
    ("donation.receiver_set", "登记接收捐赠单位"),
    ("hotline.call_record", "记录热线来电"),
    ("hotline.followup_done", "完成热线回访"),
    ("hotline.followup_schedule", "安排热线回访"),
    ("hotline.line_create", "新建热线线路"),
    ("hotline.note_create", "写入热线咨询记录（保密）"),
    ("hotline.note_denied", "查看热线咨询记录被拒绝"),
    ("hotline.note_view", "查看热线咨询记录（保密）"),
    ("hotline.referral_create", "热线转介"),
    ("hotline.referral_decide", "接收或拒绝热线转介"),
    ("hotline.referral_outcome", "登记热线转介结果"),
    ("hotline.shift_create", "安排热线班次"),
    ("inspection.create", "记录督导检查"),
    ("institution.closure_end", "解除封闭管理"),
    ("institution.closure_start", "开始封闭管理"),
    ("institution.entry", "机构出入登记"),
    ("institution.health_event", "机构/医院报告人员健康事件"),
    ("institution.resident_add", "登记在院人员"),
    ("institution.resident_disable", "停用在院人员"),
    ("institution.resident_enable", "启用在院人员"),
    ("institution.resident_update", "修改在院人员"),
    ("institution.supplies", "更新防护物资库存"),
    ("institution.temperature_round", "登记在院人员体温"),
    ("ledger.chain_publish", "补充公开捐赠台账记账"),
    ("ledger.fee", "提取管理费用（记账）"),
    ("ledger.head_sign", "签署捐赠公开链头"),
    ("ledger.reverse", "冲销捐赠台账记账"),
    ("notify.channels", "修改接收消息的渠道"),
    ("notify.delivered", "消息已送达"),
    ("notify.escalate", "催报升级（自动提醒、升级）"),
    ("notify.escalation_rule", "修改升级规则"),
    ("notify.retry", "重新发送消息"),
    ("notify.template", "修改消息模板（新版本）"),
    ("observation.checkin", "居家观察打卡"),
    ("observation.close", "结束居家观察"),
    ("observation.extend", "延长居家观察"),
    ("observation.fever_alert", "居家观察发热预警"),
    ("observation.missed", "居家观察漏打卡"),
    ("observation.start", "开始居家观察"),
    ("org.create", "新建机构"),
    ("org.disable", "停用机构"),
    ("org.enable", "启用机构"),
    ("org.update", "修改机构"),
    ("person.create", "新建人员"),
    ("person.disable", "停用人员"),
    ("person.enable", "启用人员"),
    ("person.export", "导出人员名单"),
    ("person.import", "导入人员名单"),
    ("person.import_rejects_export", "导出导入未通过的行"),
    ("person.link", "关联其他地区的人员记录"),
    ("person.lookup", "按证件号精确查找人员"),
    ("person.merge", "合并人员记录"),
    ("person.reveal", "查看完整证件号或电话"),
    ("person.update", "修改人员信息"),
    ("person_import_template.save", "保存导入列对应"),
    ("privacy.rekey", "比对指纹改为加密索引"),
    ("privacy.seal", "加密保存敏感信息"),
    ("public.info", "发布公众服务信息"),
    ("rectification.close", "整改销号"),
    ("rectification.create", "新增整改事项"),
    ("rectification.reopen", "退回重新整改"),
    ("rectification.respond", "反馈整改情况"),
    ("region.grid_create", "新建网格"),
    ("region.import", "导入乡镇、村（社区）区划"),
    ("report.chase", "人工催报"),
    ("report.correct", "更正报表"),
    ("report.export", "导出报表汇总"),
    ("report.lock", "锁定报表"),
    ("report.missing_export", "导出未报单位名单"),
    ("report.remind", "催报提醒"),
    ("report.submit", "报送报表"),
    ("report_form.create", "新建报表表样"),
    ("report_form.version", "修改报表表样"),
    ("request.csrf_rejected", "跨站请求被拒绝"),
    ("screening.campaign_create", "发起摸排"),
    ("screening.visit", "登记入户摸排"),
    ("security.lockout_minutes", "设置锁定时长"),
    ("security.max_failures", "设置锁定前允许的失败次数"),
    ("security.password_max_age_days", "设置密码有效期"),
    ("security.password_min_classes", "设置密码字符类别数"),
    ("security.password_min_len", "设置密码最短长度"),
    (
        "security.second_factor_waived_roles",
        "设置免动态验证码的角色",
    ),
    ("security.session_absolute_minutes", "设置登录最长有效时间"),
    ("security.session_idle_minutes", "设置无操作自动退出时间"),
    ("security.settings", "修改安全设置"),
    ("security.token_max_days", "设置令牌最长有效天数"),
    ("shortage.answer", "答复物资短缺申请"),
    ("shortage.close", "关闭物资短缺申请"),
    ("shortage.create", "提交物资短缺申请"),
    ("token.create", "创建接口令牌"),
    ("token.revoke", "吊销接口令牌"),
    ("user.create", "新建用户"),
    ("user.password_reset", "重置用户密码"),
    ("user.permission_change", "变更用户权限"),
    ("user.totp_reset", "重置动态验证码"),
    ("user.unlock", "解锁用户"),
    ("user.update", "修改用户"),
    ("volunteer.assign", "指派志愿者"),
    ("volunteer.checkin", "志愿者签到"),
    ("volunteer.checkout", "志愿者签退"),
    ("volunteer.hours_confirm", "确认志愿服务时长"),
    ("volunteer.register", "登记志愿者"),
    ("volunteer.signup", "志愿者报名任务"),
    ("volunteer_task.create", "发布志愿服务任务"),
];

/// The Chinese label of an action code (the code itself for one written by an older version).
pub fn action_label(code: &str) -> &str {
    ACTIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, l)| *l)
        .unwrap_or(code)
}

/// The action codes whose label contains `words` (an auditor's Chinese search).
pub fn actions_matching(words: &str) -> Vec<&'static str> {
    let w = words.trim();
    ACTIONS
        .iter()
        .filter(|(_, l)| !w.is_empty() && l.contains(w))
        .map(|(c, _)| *c)
        .collect()
}

/// The Chinese name of a kind of object.
pub fn object_label(kind: &str) -> &str {
    match kind {
        "person" => "人员",
        "household" => "家庭户",
        "user" => "用户",
        "org" => "机构",
        "region" | "grid" => "区划",
        "report" | "report_submission" => "报表",
        "report_summary" => "报表汇总",
        "report_form" => "报表表样",
        "hotline_line" | "hotline_shift" => "热线线路",
        "hotline_call" => "热线来电",
        "hotline_referral" => "热线转介",
        "hotline_followup" => "热线回访",
        "hotline_note" => "热线咨询记录",
        "inspection" => "督导检查",
        "booking" => "预约",
        "booking_service" | "booking_resource" | "booking_date" => "预约设置",
        "booking_emergency" => "预约疫情防控措施",
        "funeral_request" => "遗体接运申请",
        "funeral_job" => "接运、火化安排",
        "rectification" => "整改事项",
        "child_case" => "困境儿童个案",
        "child_case_task" => "困境儿童需求任务",
        "shortage" => "物资短缺申请",
        "institution" | "institution_closure" => "机构监测",
        "health_event" => "人员健康事件",
        "gate" => "卡口",
        "entrance_alert" => "发热预警",
        "observation" => "居家观察",
        "campaign" | "screening_campaign" => "摸排",
        "crosscheck" | "crosscheck_run" | "conflict" => "数据比对",
        "token" | "api_token" => "接口令牌",
        "session" => "会话",
        "request" => "请求",
        "audit_log" => "审计日志",
        "import" | "person_import" => "人员导入",
        "incident" => "即报事件",
        "settings" => "设置",
        "volunteer" => "志愿者",
        "volunteer_task" => "志愿服务任务",
        "volunteer_shift" => "志愿服务记录",
        other => other,
    }
}

/// An entry's detail in words: `标签：值` per key (labels from the field table), a change
/// shown as `前 → 后`.
pub fn detail_text(v: &serde_json::Value) -> String {
    use serde_json::Value;
    let plain = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "（空）".to_string(),
        Value::Bool(true) => "是".to_string(),
        Value::Bool(false) => "否".to_string(),
        other => other.to_string(),
    };
    match v {
        Value::Null => String::new(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                let label = crate::kernel::error::base_label(k)
                    .map(str::to_string)
                    .unwrap_or_else(|| k.clone());
                let value = match v {
                    Value::Object(c) if c.contains_key("before") || c.contains_key("after") => {
                        format!(
                            "{} → {}",
                            plain(c.get("before").unwrap_or(&Value::Null)),
                            plain(c.get("after").unwrap_or(&Value::Null))
                        )
                    }
                    Value::Array(a) if a.len() == 2 && k.ends_with("change") => {
                        format!("{} → {}", plain(&a[0]), plain(&a[1]))
                    }
                    other => plain(other),
                };
                format!("{label}：{value}")
            })
            .collect::<Vec<_>>()
            .join("；"),
        other => plain(other),
    }
}
