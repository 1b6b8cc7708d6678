//! Notification templates (issue 15 item 1): every text an area sends is a template — a Chinese
//! title and body with named fields (`{form}`, `{period}` …) — that a national official
//! (`reports.manage`, national scope, like the escalation rules) edits on
//! `/notifications/templates` or through `/api/v1/notifications/templates/{key}`.
//!
//! Templates are versioned: version 1 of each is built into the code ([`BUILTIN`]) and never
//! stored; each edit stores the next version, audited (`notify.template`), and older versions
//! stay readable. A notification records the key and version it was written with. A text that
//! names a field the template does not offer, or has a brace that opens no field, is refused in
//! Chinese, so no edit can pull other data into a message: the fields of the templates about
//! home observation (and the escalation texts about care tasks) are references, masked names
//! and times only — no temperature, health, case or amount detail ([`PRIVATE_FIELDS`] is
//! checked by a unit test).

use backstop_core::error::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::queries;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Longest title and body an edit may save (characters).
pub const MAX_TITLE: usize = 60;
pub const MAX_BODY: usize = 500;

/// A built-in template: its key, Chinese name, the fields it offers (name, meaning) and the
/// text of version 1.
pub struct Builtin {
    pub key: &'static str,
    pub label: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
    pub title: &'static str,
    pub body: &'static str,
}

const ESCALATION_FIELDS: &[(&str, &str)] = &[
    ("label", "事项类别"),
    ("n", "已提醒次数"),
    ("unit_name", "单位名称"),
    ("what", "事项（仅编号与期限）"),
];

/// Every template, in the order the settings page shows them.
pub const BUILTIN: &[Builtin] = &[
    Builtin {
        key: "report_reminder",
        label: "报表截止催报",
        fields: &[
            ("form", "报表名称"),
            ("period", "期次"),
            ("deadline", "截止时间"),
        ],
        title: "催报：{form}",
        body: "{period} 的《{form}》尚未填报，截止时间 {deadline}，请尽快填报。",
    },
    Builtin {
        key: "report_chase",
        label: "人工催报",
        fields: &[
            ("form", "报表名称"),
            ("period", "期次"),
            ("by", "催报人账号"),
            ("at", "催报时间"),
        ],
        title: "催报：{form}",
        body: "{period} 的《{form}》尚未填报，{by} 于 {at} 催报，请尽快填报。",
    },
    Builtin {
        key: "incident_report",
        label: "即报送达上级",
        fields: &[
            ("unit", "填报单位"),
            ("event", "事件类别"),
            ("form", "报表名称"),
            ("id", "报告编号"),
        ],
        title: "即报：{unit}（{event}）",
        body: "{form} 报告编号 {id}",
    },
    Builtin {
        key: "report_corrected",
        label: "报表被上级更正",
        fields: &[
            ("form", "报表名称"),
            ("period", "期次"),
            ("id", "报告编号"),
            ("by", "更正人账号"),
            ("changed", "更正项（仅项目名称）"),
        ],
        title: "报表已被上级更正：{form}",
        body: "{period} 的《{form}》（报告编号 {id}）由 {by} 更正，更正项：{changed}。原填报内容仍可在报表页查看。",
    },
    Builtin {
        key: "escalation_repeat",
        label: "逾期重复提醒",
        fields: ESCALATION_FIELDS,
        title: "{label}提醒（第 {n} 次）",
        body: "{unit_name}：{what}，请尽快处理。",
    },
    Builtin {
        key: "escalation_notice",
        label: "逾期升级通知",
        fields: ESCALATION_FIELDS,
        title: "{label}升级",
        body: "{unit_name}：{what}，已提醒 {n} 次仍未处理，请督促。",
    },
    Builtin {
        key: "observation_missed",
        label: "居家观察漏报（通知四包一责任人）",
        fields: &[
            ("role", "责任人角色"),
            ("keeper", "责任人姓名"),
            ("name", "观察人员（姓名已遮蔽）"),
            ("id", "观察编号"),
            ("when", "漏报时段"),
        ],
        title: "居家观察漏报：{name}",
        body: "{role} {keeper}：居家医学观察人员 {name}（观察编号 {id}）{when} 未按时报告，请立即联系核实。",
    },
    Builtin {
        key: "observation_missed_leader",
        label: "居家观察漏报升级（通知村（居）委会负责人）",
        fields: &[
            ("name", "观察人员（姓名已遮蔽）"),
            ("id", "观察编号"),
            ("region", "所在区划代码"),
            ("when", "漏报时段"),
        ],
        title: "居家观察漏报未处理：{name}",
        body: "居家医学观察人员 {name}（观察编号 {id}，{region}）{when} 未报告，四包一责任人已通知但仍未补报，请村（居）委会负责人督促处置。",
    },
    Builtin {
        key: "observation_fever",
        label: "居家观察发热预警",
        fields: &[
            ("name", "观察人员（姓名已遮蔽）"),
            ("id", "观察编号"),
            ("place", "所在村（社区）"),
            ("when", "报告时段"),
        ],
        title: "发热预警：居家观察人员 {name}",
        body: "居家医学观察人员 {name}（观察编号 {id}，{place}）{when} 的报告需要立即处置，请到场核实（送发热门诊或转运），并在系统中登记结果。",
    },
    Builtin {
        key: "hotline_red_flag",
        label: "热线红色预警",
        fields: &[
            ("line", "热线线路"),
            ("kind", "预警类型"),
            ("id", "来电编号"),
        ],
        title: "热线红色预警：{line}",
        body: "{line}接到{kind}来电（来电编号 {id}），已登记强制报告并发起紧急转介，请立即督导跟进。",
    },
    Builtin {
        key: "entrance_fever",
        label: "卡口发热预警",
        fields: &[
            ("when", "登记时间"),
            ("place", "卡口"),
            ("name", "人员（姓名已遮蔽）"),
            ("temperature", "体温"),
            ("direction", "进出方向"),
            ("id", "预警编号"),
        ],
        title: "发热预警：{place}",
        body: "{when} {place}登记到发热人员 {name}（{temperature} ℃，{direction}），请立即到场处置，并在系统中登记处置结果（预警编号 {id}）。",
    },
    Builtin {
        key: "person_linked",
        label: "辖区人员在外地登记",
        fields: &[
            ("name", "人员（姓名已遮蔽）"),
            ("id_masked", "身份证号（已遮蔽）"),
            ("id", "人员编号"),
            ("whence", "登记地"),
            ("link", "登记类别"),
        ],
        title: "辖区人员在外地登记",
        body: "您辖区登记的人员 {name}（{id_masked}，编号 {id}）已在 {whence} 登记为{link}。",
    },
    Builtin {
        key: "booking_rebook",
        label: "预约停办改约通知",
        fields: &[
            ("org", "办理机构"),
            ("number", "预约编号"),
            ("old", "原预约时段"),
            ("reason", "停办原因"),
            ("proposal", "新时段安排"),
        ],
        title: "预约改约：{org}",
        body: "您在{org}的预约（编号 {number}，{old}）因{reason}无法办理，{proposal}。请凭预约编号和手机验证码确认、另选时段或取消。",
    },
    Builtin {
        key: "booking_divorce",
        label: "离婚冷静期提醒",
        fields: &[
            ("org", "婚姻登记机关"),
            ("number", "申请预约编号"),
            ("earliest", "可领证起始日"),
            ("latest", "可领证截止日"),
            ("state", "提醒内容"),
        ],
        title: "离婚登记冷静期提醒：{org}",
        body: "您在{org}提交的离婚登记申请（预约编号 {number}）{state}。可领证期间：{earliest} 至 {latest}，须双方共同预约并亲自到场；逾期未申请的，视为撤回离婚登记申请。",
    },
    Builtin {
        key: "booking_precheck",
        label: "婚姻登记预审结果",
        fields: &[
            ("org", "婚姻登记机关"),
            ("number", "预约编号"),
            ("result", "预审结果"),
        ],
        title: "预审结果：{org}",
        body: "您在{org}的预约（编号 {number}）预审结果：{result}。请凭预约编号和手机验证码查看详情。",
    },
    Builtin {
        key: "security_lookup_burst",
        label: "身份证号查询过于频繁",
        fields: &[("user", "账号"), ("limit", "每小时上限")],
        title: "身份证号查询过于频繁",
        body: "用户 {user} 在一小时内按身份证号精确查询已达 {limit} 次，已暂停其查询。请核实是否存在批量试探。",
    },
];

/// Field names that would carry health, case or amount detail: no template about observation,
/// children, hotline calls or assistance may offer them.
pub const PRIVATE_FIELDS: &[&str] = &[
    "temperature",
    "symptoms",
    "diagnosis",
    "amount",
    "case",
    "need",
];

/// The built-in template of a key.
pub fn builtin(key: &str) -> Option<&'static Builtin> {
    BUILTIN.iter().find(|b| b.key == key)
}

/// A template's text as written into a notification.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub key: &'static str,
    pub version: i64,
    pub title: String,
    pub body: String,
}

/// One version of a template.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Version {
    pub version: i64,
    pub title: String,
    pub body: String,
    /// Who saved it (`内置` for version 1).
    pub created_by: String,
    /// When (Beijing time); empty for version 1.
    pub created_at: String,
}

/// A field a template offers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Field {
    pub name: String,
    pub label: String,
}

/// A template as listed: the version in force and every earlier one, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Template {
    pub key: String,
    pub label: String,
    pub fields: Vec<Field>,
    pub current: Version,
    pub versions: Vec<Version>,
}

/// Body of `PUT /api/v1/notifications/templates/{key}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TemplateInput {
    pub title: String,
    pub body: String,
}

/// Check a text against the fields a template offers: every `{name}` must be one of them and
/// every brace must belong to a field. The Chinese error names `field` (`title`, `body`).
pub fn check(b: &Builtin, field: &str, text: &str) -> AppResult<()> {
    let known = || {
        b.fields
            .iter()
            .map(|(n, _)| format!("{{{n}}}"))
            .collect::<Vec<_>>()
            .join("、")
    };
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        let close = tail.find('}');
        let name = match (tail.starts_with('{'), close) {
            (true, Some(end)) => &tail[1..end],
            _ => {
                return Err(AppError::field(
                    ErrorCode::Validation,
                    field,
                    format!("花括号只能用来写字段，如 {{form}}；可用字段：{}", known()),
                ));
            }
        };
        if !b.fields.iter().any(|(n, _)| *n == name) {
            return Err(AppError::field(
                ErrorCode::Validation,
                field,
                format!(
                    "模板中有未知字段 {{{name}}}；“{}”可用的字段：{}",
                    b.label,
                    known()
                ),
            ));
        }
        rest = &tail[name.len() + 2..];
    }
    Ok(())
}

/// Put the fields' values into a text (a field without a value is left empty).
pub fn fill(text: &str, fields: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match tail.find('}') {
            Some(end) => {
                let name = &tail[1..end];
                if let Some((_, v)) = fields.iter().find(|(n, _)| *n == name) {
                    out.push_str(v);
                }
                rest = &tail[end + 1..];
            }
            None => {
                out.push_str(tail);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of a template in force (the newest stored version, else the built-in one) filled
/// with the fields, read on the caller's connection (inside its write transaction).
pub async fn render(
    conn: &mut sqlx::AnyConnection,
    key: &'static str,
    fields: &[(&str, String)],
) -> AppResult<Rendered> {
    let (version, title, body) = match queries::template_current(conn, key).await? {
        Some(v) => v,
        None => {
            let b = builtin(key).ok_or_else(|| AppError::msg(ErrorCode::Internal, "模板不存在"))?;
            (1, b.title.to_string(), b.body.to_string())
        }
    };
    Ok(Rendered {
        key,
        version,
        title: fill(&title, fields),
        body: fill(&body, fields),
    })
}

fn builtin_version(b: &Builtin) -> Version {
    Version {
        version: 1,
        title: b.title.to_string(),
        body: b.body.to_string(),
        created_by: "内置".to_string(),
        created_at: String::new(),
    }
}

fn assemble(b: &Builtin, stored: Vec<Version>) -> Template {
    let mut versions = stored;
    versions.push(builtin_version(b));
    Template {
        key: b.key.to_string(),
        label: b.label.to_string(),
        fields: b
            .fields
            .iter()
            .map(|(n, l)| Field {
                name: (*n).to_string(),
                label: (*l).to_string(),
            })
            .collect(),
        current: versions[0].clone(),
        versions,
    }
}

/// Every template with its versions (for those who read reports).
pub async fn list(state: &AppState, actor: &Actor) -> AppResult<Vec<Template>> {
    actor.require(backstop_core::role::Permission::ReportsRead)?;
    let mut stored = queries::template_versions(state, None).await?;
    Ok(BUILTIN
        .iter()
        .map(|b| {
            let mine = stored
                .iter()
                .filter(|(k, _)| k == b.key)
                .map(|(_, v)| v.clone())
                .collect();
            stored.retain(|(k, _)| k != b.key);
            assemble(b, mine)
        })
        .collect())
}

fn unknown_template() -> AppError {
    AppError::msg(ErrorCode::NotFound, "没有这个消息模板")
}

/// One template with its versions.
pub async fn get(state: &AppState, actor: &Actor, key: &str) -> AppResult<Template> {
    actor.require(backstop_core::role::Permission::ReportsRead)?;
    let b = builtin(key).ok_or_else(unknown_template)?;
    let stored = queries::template_versions(state, Some(b.key)).await?;
    Ok(assemble(b, stored.into_iter().map(|(_, v)| v).collect()))
}

/// Save a new version of a template (audited); refused in Chinese when a field is unknown, a
/// text is empty or too long. Saving the text in force again changes nothing.
pub async fn save(
    state: &AppState,
    actor: &Actor,
    key: &str,
    input: &TemplateInput,
) -> AppResult<Template> {
    if !super::escalate::may_edit(actor) {
        return Err(AppError::forbidden());
    }
    let b = builtin(key).ok_or_else(unknown_template)?;
    let title = input.title.trim();
    let body = input.body.trim();
    for (field, text, max, name) in [
        ("title", title, MAX_TITLE, "标题"),
        ("body", body, MAX_BODY, "正文"),
    ] {
        if text.is_empty() || text.chars().count() > max {
            return Err(AppError::field(
                ErrorCode::Validation,
                field,
                format!("{name}不能为空，且不超过 {max} 字"),
            ));
        }
        check(b, field, text)?;
    }
    let now_tpl = get(state, actor, key).await?;
    if now_tpl.current.title == title && now_tpl.current.body == body {
        return Ok(now_tpl);
    }
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    let version =
        queries::insert_template_version(&mut tx, b.key, title, body, &actor.username, now).await?;
    tx.commit(
        Change::new("notify.template", "notify_template", b.key, "0").detail(json!({
            "version": version,
            "before": {"title": now_tpl.current.title, "body": now_tpl.current.body},
            "after": {"title": title, "body": body},
        })),
    )
    .await?;
    get(state, actor, key).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_texts_name_only_their_fields() {
        for b in BUILTIN {
            assert!(check(b, "title", b.title).is_ok(), "{}", b.key);
            assert!(check(b, "body", b.body).is_ok(), "{}", b.key);
        }
    }

    #[test]
    fn private_templates_offer_no_health_or_amount_field() {
        for b in BUILTIN
            .iter()
            .filter(|b| b.key.starts_with("observation") || b.key.starts_with("escalation"))
        {
            for (n, _) in b.fields {
                assert!(!PRIVATE_FIELDS.contains(n), "{} offers {n}", b.key);
            }
        }
    }

    #[test]
    fn unknown_fields_and_stray_braces_are_refused() {
        let b = builtin("report_chase").expect("chase");
        assert!(check(b, "body", "《{form}》{period} 请填报").is_ok());
        for bad in ["{temperature}", "{form", "form}", "{}"] {
            assert!(check(b, "body", bad).is_err(), "{bad}");
        }
        let e = check(b, "body", "{amount}").expect_err("unknown");
        assert!(e.to_string().contains("未知字段 {amount}"), "{e}");
    }

    #[test]
    fn fields_are_filled() {
        let f = [
            ("form", "村日报".to_string()),
            ("period", "12-05".to_string()),
        ];
        assert_eq!(fill("《{form}》{period}{by}", &f), "《村日报》12-05");
    }
}
