//! Errors of the service: one type for every area, with a stable code (from `backstop_core`),
//! a Chinese message, and optional per-field messages. The API renders it as
//! `{code, message, fields?}` with the code's HTTP status; pages render it as a Chinese page
//! (see `kernel::web::PageError`). Database details never reach the client or the log text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use backstop_core::error::ErrorCode;
use serde::Serialize;

/// One field's problem, for forms and JSON bodies.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    pub fields: Vec<FieldError>,
}

/// The JSON body of every API error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `not_found`, `validation`, `invalid_credentials`.
    pub code: String,
    /// Chinese message for people.
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// A local change to what the parent deployment sent down (issue 20): 409, the same words
    /// in every area; `what` names it (`表`, `应急期`, `区划的公开信息`).
    pub fn parent_owned(what: &str) -> AppError {
        AppError::msg(
            ErrorCode::Conflict,
            format!("该{what}由上级部署下发，本级不能修改；如需调整请联系上级"),
        )
    }

    pub fn new(code: ErrorCode) -> Self {
        AppError {
            code,
            message: code.message_zh().to_string(),
            fields: Vec::new(),
        }
    }
    pub fn msg(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound)
    }
    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden)
    }
    /// A validation error on one field.
    pub fn field(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        AppError {
            code,
            message: format!("{}：{}", field_label(field), message),
            fields: vec![FieldError {
                field: field.to_string(),
                message,
            }],
        }
    }
    /// An unexpected failure: logged (without data), answered as `internal`.
    pub fn internal(what: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(what, error = %err, "internal error");
        Self::new(ErrorCode::Internal)
    }
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.as_str().to_string(),
            message: self.message.clone(),
            fields: self.fields.clone(),
        }
    }
}

/// Chinese label of a field name, for messages (issue 14, item 3: no field name ever reaches a
/// person). A list element `problems[1].deadline` reads "第 2 条问题的整改期限" (counted from
/// 1); a name without a label reads as "填写内容" rather than leaking the name — the test
/// `every_validated_field_has_a_label` fails for a field used in the code without one.
pub fn field_label(field: &str) -> String {
    if let Some((list, rest)) = field.split_once('[')
        && let Some((idx, sub)) = rest.split_once(']')
    {
        let n = idx.trim().parse::<usize>().map(|i| i + 1).unwrap_or(0);
        let what = base_label(list).unwrap_or("项目");
        let sub = sub.trim_start_matches('.');
        return match base_label(sub) {
            Some(l) if !sub.is_empty() => format!("第 {n} 条{what}的{l}"),
            _ => format!("第 {n} 条{what}"),
        };
    }
    base_label(field).unwrap_or("填写内容").to_string()
}

/// The label table behind [`field_label`]: every field name a validation message names.
pub fn base_label(field: &str) -> Option<&'static str> {
    Some(match field {
        "username" => "用户名",
        "events" => "上报事件",
        "body" => "事件内容",
        "parent_url" => "上级部署地址",
        "credential" => "节点凭据",
        "ca_pem" => "上级部署的根证书",
        "version" => "表单版本",
        "related_case_id" => "关联个案编号",
        "needed_by" => "需要日期",
        "province" => "省份",
        "amount" => "金额",
        "applied_on" => "申请日期",
        "commitment" => "个人承诺",
        "component" => "标准组成",
        "covered" => "保障人数",
        "decision" => "审批意见",
        "effective_from" => "执行日期",
        "level" => "环节",
        "measures" => "应急措施",
        "month" => "月份",
        "verify_days" => "入户核查时限",
        "review_days" => "审核时限",
        "publicity_days" => "公示时限",
        "approve_days" => "审批时限",
        "aid_first_days" => "先行救助补审批时限",
        "programme" => "救助项目",
        "self_care" => "生活自理能力",
        "settlement" => "处理方式",
        "staff_username" => "工作人员账号",
        "step" => "步骤",
        "area_kind" => "城乡类别",
        "earned_12m" => "近 12 个月工资经营收入",
        "other_12m" => "近 12 个月其他收入",
        "exempt_12m" => "不计入收入的项目",
        "assets" => "家庭财产",
        "supplement_percent" => "分类施保比例",
        "authorisation_version" => "授权书版本",
        "relationship" => "与申请人关系",
        "authorised" => "电子授权",
        "password" | "new_password" => "密码",
        "old_password" => "原密码",
        "roles" => "角色",
        "region_code" | "region" => "区划代码",
        "org_id" => "所属机构",
        "name" => "名称",
        "kind" => "类型",
        "display_name" => "姓名",
        "contact_person" => "联系人",
        "contact_phone" => "联系电话",
        "address" => "地址",
        "totp" | "code" => "动态验证码",
        "action" => "操作",
        "answer" => "答复",
        "closed_management" => "封闭管理",
        "date" => "日期",
        "days" | "days_left" => "可用天数",
        "deadline" => "整改期限",
        "description" => "问题描述",
        "requirement" => "整改要求",
        "ends_on" => "结束日期",
        "starts_on" => "开始日期",
        "fields" => "字段",
        "file" => "文件",
        "findings" => "督导发现",
        "handling" => "处置情况",
        "history" => "流行病学史",
        "item" | "items" => "物资",
        "keeper_name" => "姓名",
        "role" => "职责",
        "keeper_phone" => "包保人电话",
        "keeper_role" => "包保人职责",
        "keepers" => "责任人",
        "key" => "编号",
        "mapping" => "列对应",
        "members" => "家庭成员",
        "mode" => "督导方式",
        "note" => "说明",
        "outcome" => "结果",
        "person_id" => "人员",
        "phone" => "联系电话",
        "period" => "报告期",
        "problems" => "问题",
        "purpose" => "目的",
        "quantity" => "数量",
        "reached" => "是否入户",
        "reason" => "原因",
        "response" => "整改情况",
        "room" => "房间",
        "round" => "测温轮次",
        "rules" => "校验规则",
        "scope" => "管辖范围",
        "second_factor_waived_roles" => "免动态验证码的角色",
        "status" | "state" => "状态",
        "hotlines" => "服务热线",
        "visiting" => "机构探视规定",
        "assistance" => "救助申请办法",
        "password_min_len" => "密码最短长度",
        "password_min_classes" => "密码字符类别数",
        "password_max_age_days" => "密码有效期",
        "max_failures" => "锁定前允许的失败次数",
        "lockout_minutes" => "锁定时长",
        "session_idle_minutes" => "无操作自动退出时间",
        "session_absolute_minutes" => "登录最长有效时间",
        "temperature" | "temperatures" => "体温",
        "template" => "报表",
        // Escalation rules (notify::escalate).
        "repeats" => "重复提醒",
        "escalate_after_min" => "升级时间",
        // A user's channels (notify).
        "channels" => "接收渠道",
        "token_max_days" => "令牌最长有效天数",
        "unit" => "单位",
        "Idempotency-Key" => "提交编号",
        "form" | "form_key" => "报表",
        "id" => "编号",
        // Hotlines (hotline/).
        "number" => "号码",
        "hours" => "服务时间",
        "starts_at" => "开始时间",
        "ends_at" => "结束时间",
        "line_id" => "热线线路",
        "called_at" => "来电时间",
        "caller_category" => "来电人类别",
        "issues" => "问题类别",
        "risk" => "风险等级",
        "actions" => "处置措施",
        "duration_s" => "通话时长",
        "caller_region" => "来电人所在地",
        "flag_kind" => "预警类型",
        "report_to" => "强制报告对象",
        // Bookings (bookings/).
        "open_days" => "办理日",
        "opens" => "开始时间",
        "closes" => "结束时间",
        "slot_minutes" => "每时段分钟数",
        "per_slot" => "每时段名额",
        "window_days" => "可预约天数",
        "resource_id" => "受限资源",
        "units" => "数量",
        "day" => "日期",
        "day_cap" => "当日上限",
        "org_kind" => "机构类别",
        "daily_cap" => "每日上限",
        "attendance_cap" => "每场人数上限",
        "suspended" => "暂停的服务",
        "questions" => "健康问题",
        "parties" => "当事人",
        "starts" => "时段",
        "attendance" => "参加人数",
        "ceremony" => "颁证仪式",
        "service_id" => "服务",
        "answers_fever" => "发热等症状",
        "answers_contact" => "接触史",
        "report_at" => "强制报告时间",
        "report_ref" => "强制报告编号",
        "child" => "儿童线索",
        "child_region" => "儿童所在村（社区）",
        "child_name" => "儿童姓名",
        "child_where" => "儿童现在何处",
        "child_reason" => "儿童监护缺失原因",
        "followup_due" => "回访时间",
        "due_at" => "回访时间",
        "score" => "效果评分",
        "text" => "咨询记录",
        "id_number" => "身份证号",
        "birth_date" => "出生日期",
        "gender" => "性别",
        "relation" => "与户主关系",
        "household_id" => "家庭户",
        "category" => "类别",
        "from" => "开始日期",
        "to" => "结束日期",
        "ack_note" => "处理说明",
        // Children's cases (children).
        "where_now" => "儿童现在何处",
        "health" => "儿童健康状况",
        "contact_history" => "接触史",
        "guardianship" => "监护方式",
        "placement" => "安置方式",
        "carer_name" => "照料人姓名",
        "worker_id" => "个案工作者",
        "supervisor_id" => "督导员",
        "care_plan" => "照护方案",
        "next_due" => "下次联系日期",
        "need" => "需求",
        "owner_id" => "负责人",
        "due_date" => "期限",
        "follow_up_days" => "回访天数",
        "birth_year" => "出生年份",
        "sex" => "性别",
        // Marriage registration (bookings::register, precheck).
        "id_type" => "证件类型",
        "household_region" => "户口所在县（区）",
        "nationality" => "国籍",
        "ethnicity" => "民族",
        "occupation" => "职业",
        "education" => "文化程度",
        "documents" => "携带材料",
        "missing" => "需补充的材料",
        "rule" => "婚姻登记地规则",
        "designated" => "涉外婚姻登记指定",
        "earliest" => "最早可领证日期",
        "latest" => "最晚可领证日期",
        "call_ref" => "来电编号",
        "licence_no" => "免税进口批准文号",
        "credit_code" => "统一社会信用代码",
        "filing_no" => "公开募捐方案备案编号",
        "campaign_id" => "募捐活动",
        "receipt_no" => "收据编号",
        "bill_no" => "捐赠票据号",
        "received_on" => "接收日期",
        "donor_kind" => "捐赠人类型",
        "donor_name" => "捐赠人名称",
        "directed_kind" => "定向方式",
        "directed_org_id" => "定向受赠单位",
        "directed_region" => "定向地区",
        "directed_purpose" => "定向用途",
        "currency" => "币种",
        "rate" => "汇率",
        "goods" => "捐赠物资",
        "spec" => "规格",
        "unit_value" => "单价",
        "expiry_on" => "有效期至",
        "tax_free_import" => "免税进口",
        "warehouse" => "仓库",
        "receipt_line_id" => "捐赠明细",
        "recipient_org_id" => "接收单位",
        "vehicle" => "运输车辆",
        "received_qty" => "实收数量",
        "discrepancy" => "差异说明",
        "note_ref" => "签收单编号",
        "amount_fen" => "金额（分）",
        "memo" => "摘要",
        "skills" => "技能",
        "availability" => "可服务时间",
        "health_declaration" => "健康申报",
        "title" => "任务名称",
        "ends" => "结束时间",
        "needed" => "需要人数",
        "volunteer_id" => "志愿者",
        "minutes" => "时长（分钟）",
        "place" => "所在位置",
        _ => return None,
    })
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for AppError {}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return AppError::new(ErrorCode::Conflict);
            }
            if db.is_foreign_key_violation() {
                return AppError::msg(ErrorCode::Validation, "引用的记录不存在");
            }
        }
        // A lock held elsewhere, or no connection free within the pool's wait (a burst on a
        // loaded machine): the request wrote nothing and may be retried with its key.
        if backstop_store::is_busy(&e) || matches!(e, sqlx::Error::PoolTimedOut) {
            tracing::warn!(error = %e, "database busy; the request wrote nothing");
            return AppError::new(ErrorCode::Busy);
        }
        AppError::internal("database", e)
    }
}

/// A group-commit write's failure: the job's own error, the database's, or busy (503).
impl<E: Into<AppError>> From<backstop_store::WriteError<E>> for AppError {
    fn from(e: backstop_store::WriteError<E>) -> Self {
        match e {
            backstop_store::WriteError::Job(e) => e.into(),
            backstop_store::WriteError::Db(e) => e.into(),
            backstop_store::WriteError::Busy => AppError::new(ErrorCode::Busy),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut resp = (status, axum::Json(self.body())).into_response();
        if self.code == ErrorCode::Busy {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        resp
    }
}

/// Parse a `YYYY-MM-DD` field, or a validation error naming it.
pub fn date_field(field: &str, value: &str) -> AppResult<chrono::NaiveDate> {
    backstop_core::clock::parse_ymd(value)
        .ok_or_else(|| AppError::field(ErrorCode::Validation, field, "日期格式应为 YYYY-MM-DD"))
}

/// Parse a `starts_on`–`ends_on` pair of `YYYY-MM-DD` fields, the end not before the start.
pub fn date_range(
    starts_on: &str,
    ends_on: &str,
) -> AppResult<(chrono::NaiveDate, chrono::NaiveDate)> {
    let starts = date_field("starts_on", starts_on)?;
    let ends = date_field("ends_on", ends_on)?;
    if ends < starts {
        return Err(AppError::field(
            ErrorCode::Validation,
            "ends_on",
            "结束日期不能早于开始日期",
        ));
    }
    Ok((starts, ends))
}

/// Check the length of a text field (in characters), trimming it.
pub fn text_field(field: &str, value: &str, max_chars: usize, required: bool) -> AppResult<String> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(AppError::field(ErrorCode::Validation, field, "不能为空"));
    }
    if v.chars().count() > max_chars {
        return Err(AppError::field(
            ErrorCode::Validation,
            field,
            format!("不能超过 {max_chars} 个字符"),
        ));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(AppError::field(
            ErrorCode::Validation,
            field,
            "含有控制字符",
        ));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field name the source passes to a validation helper, read the way a reviewer
    /// would grep for it.
    fn validated_fields() -> std::collections::BTreeSet<String> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let calls = [
            "AppError::field(ErrorCode::Validation,",
            "AppError::field(ErrorCode::UnknownRegion,",
            "AppError::field(ErrorCode::InvalidRegionCode,",
            "text_field(",
            "date_field(",
            "parse_code(",
        ];
        let mut out = std::collections::BTreeSet::new();
        for f in files {
            let text: String = std::fs::read_to_string(&f)
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join("");
            for call in calls {
                let call: String = call.split_whitespace().collect();
                for rest in text.split(&call).skip(1) {
                    if let Some(lit) = rest.strip_prefix('"').and_then(|r| r.split('"').next())
                        && lit.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        && !lit.is_empty()
                    {
                        out.insert(lit.to_string());
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_validated_field_has_a_label() {
        let fields = validated_fields();
        assert!(
            fields.contains("ends_on") && fields.contains("quantity"),
            "{fields:?}"
        );
        let missing: Vec<&String> = fields.iter().filter(|f| base_label(f).is_none()).collect();
        assert!(
            missing.is_empty(),
            "fields without a Chinese label: {missing:?}"
        );
        assert_eq!(field_label("problems[1].deadline"), "第 2 条问题的整改期限");
        assert_eq!(field_label("no_such_field"), "填写内容");
    }
}
