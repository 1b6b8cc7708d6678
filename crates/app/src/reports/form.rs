//! Report forms (报表模板): fields, rules, period and deadline, who must report — and the
//! validation of submitted values against them. Pure: no I/O. The four built-in forms drawn
//! from the 2020 sources are defined here with stable keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Integer,
    Decimal,
    Text,
    Choice,
    YesNo,
    Date,
    Temperature,
}

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Field {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Choices, for `choice` fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// A cross-field rule: `left op right`, `right` a field key or a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rule {
    pub left: String,
    /// One of `<=`, `<`, `>=`, `>`, `==`.
    pub op: String,
    pub right: Value,
    pub message: String,
}

/// Reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
    Immediate,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Immediate => "immediate",
        }
    }
    pub fn parse(s: &str) -> Option<Period> {
        [
            Period::Daily,
            Period::Weekly,
            Period::Monthly,
            Period::Immediate,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Period::Daily => "日报",
            Period::Weekly => "周报",
            Period::Monthly => "月报",
            Period::Immediate => "即报",
        }
    }
}

/// Who must report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnitType {
    /// Every village or community (12-digit region code).
    Village,
    /// Every organisation of the form's kinds.
    Org,
    /// Any village or organisation (immediate reports).
    Any,
}

impl UnitType {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitType::Village => "village",
            UnitType::Org => "org",
            UnitType::Any => "any",
        }
    }
    pub fn parse(s: &str) -> Option<UnitType> {
        [UnitType::Village, UnitType::Org, UnitType::Any]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// The stored part of a form that versions change: fields and rules.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FormSpec {
    pub fields: Vec<Field>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// A form definition (one version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Form {
    pub key: String,
    pub version: i64,
    pub name: String,
    pub period: Period,
    /// "HH:MM" Beijing time, or null for immediate reports.
    pub deadline: Option<String>,
    pub unit_type: UnitType,
    /// Organisation kinds that must report (for `org` forms).
    #[serde(default)]
    pub org_kinds: Vec<String>,
    /// Region whose units must report ("0" = the nation).
    pub scope: String,
    #[serde(flatten)]
    pub spec: FormSpec,
}

impl Form {
    /// Deadline as minutes after midnight (Beijing).
    pub fn deadline_minutes(&self) -> Option<i64> {
        let d = self.deadline.as_deref()?;
        let (h, m) = d.split_once(':')?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
    }

    pub fn field(&self, key: &str) -> Option<&Field> {
        self.spec.fields.iter().find(|f| f.key == key)
    }

    /// Fields whose values are added up in rollups (numbers and yes/no counts).
    pub fn summable(&self) -> impl Iterator<Item = &Field> {
        self.spec.fields.iter().filter(|f| {
            matches!(
                f.kind,
                FieldType::Integer | FieldType::Decimal | FieldType::YesNo
            )
        })
    }
}

/// A problem with one field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

fn problem(field: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Scale of decimal values in rollups: sums are kept in thousandths.
pub const DECIMAL_SCALE: f64 = 1000.0;

/// Check submitted values against a form; returns the normalised values or every problem.
pub fn validate(form: &Form, values: &Value) -> Result<Map<String, Value>, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let Some(obj) = values.as_object() else {
        return Err(vec![problem("values", "应为对象 {字段: 值}")]);
    };
    for k in obj.keys() {
        if form.field(k).is_none() {
            problems.push(problem(k, "表单中没有这个字段"));
        }
    }
    let mut out = Map::new();
    let mut numbers: BTreeMap<&str, f64> = BTreeMap::new();
    for f in &form.spec.fields {
        let v = obj.get(&f.key).filter(|v| !v.is_null());
        let v = match v {
            None => {
                if f.required {
                    problems.push(problem(&f.key, format!("“{}”必须填写", f.label)));
                }
                continue;
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                if f.required {
                    problems.push(problem(&f.key, format!("“{}”必须填写", f.label)));
                }
                continue;
            }
            Some(v) => v,
        };
        match check_value(f, v) {
            Ok(norm) => {
                if let Some(n) = norm.as_f64() {
                    numbers.insert(f.key.as_str(), n);
                } else if let Some(b) = norm.as_bool() {
                    numbers.insert(f.key.as_str(), if b { 1.0 } else { 0.0 });
                }
                out.insert(f.key.clone(), norm);
            }
            Err(m) => problems.push(problem(&f.key, format!("“{}”{m}", f.label))),
        }
    }
    if problems.is_empty() {
        for r in &form.spec.rules {
            let Some(&l) = numbers.get(r.left.as_str()) else {
                continue;
            };
            let rv = match &r.right {
                Value::String(k) => numbers.get(k.as_str()).copied(),
                v => v.as_f64(),
            };
            let Some(rv) = rv else { continue };
            let ok = match r.op.as_str() {
                "<=" => l <= rv,
                "<" => l < rv,
                ">=" => l >= rv,
                ">" => l > rv,
                "==" => (l - rv).abs() < 1e-9,
                _ => true,
            };
            if !ok {
                problems.push(problem(&r.left, r.message.clone()));
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn check_range(f: &Field, n: f64) -> Result<(), String> {
    if let Some(min) = f.min
        && n < min
    {
        return Err(format!("不能小于 {min}"));
    }
    if let Some(max) = f.max
        && n > max
    {
        return Err(format!("不能大于 {max}"));
    }
    Ok(())
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

fn check_value(f: &Field, v: &Value) -> Result<Value, String> {
    match f.kind {
        FieldType::Integer => {
            let n = as_number(v).ok_or("应为整数")?;
            if n.fract() != 0.0 || !n.is_finite() || n.abs() > 1e15 {
                return Err("应为整数".to_string());
            }
            check_range(f, n)?;
            Ok(Value::from(n as i64))
        }
        FieldType::Decimal | FieldType::Temperature => {
            let n = as_number(v).ok_or("应为数字")?;
            if !n.is_finite() || n.abs() > 1e12 {
                return Err("应为数字".to_string());
            }
            if f.kind == FieldType::Temperature && !(34.0..=43.0).contains(&n) {
                return Err("体温应在 34–43 ℃ 之间".to_string());
            }
            check_range(f, n)?;
            let rounded = (n * 100.0).round() / 100.0;
            Ok(serde_json::Number::from_f64(rounded)
                .map(Value::Number)
                .unwrap_or(Value::Null))
        }
        FieldType::Text => {
            let s = v.as_str().ok_or("应为文字")?.trim();
            if s.chars().count() > 2000 {
                return Err("不能超过 2000 个字符".to_string());
            }
            if s.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                return Err("含有控制字符".to_string());
            }
            Ok(Value::from(s))
        }
        FieldType::Choice => {
            let s = v.as_str().ok_or("应为选项之一")?.trim();
            if f.options.iter().any(|o| o == s) {
                Ok(Value::from(s))
            } else {
                Err(format!("应为以下之一：{}", f.options.join("、")))
            }
        }
        FieldType::YesNo => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if ["是", "yes", "true", "1"].contains(&s.trim()) => {
                Ok(Value::Bool(true))
            }
            Value::String(s) if ["否", "no", "false", "0"].contains(&s.trim()) => {
                Ok(Value::Bool(false))
            }
            _ => Err("应为“是”或“否”".to_string()),
        },
        FieldType::Date => {
            let s = v.as_str().ok_or("应为日期 YYYY-MM-DD")?.trim();
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| "应为日期 YYYY-MM-DD".to_string())?;
            Ok(Value::from(s))
        }
    }
}

/// The value a field adds to rollups: integers as is, decimals in thousandths, yes = 1.
pub fn rollup_value(f: &Field, v: &Value) -> Option<i64> {
    match f.kind {
        FieldType::Integer => v.as_i64(),
        FieldType::Decimal => v.as_f64().map(|n| (n * DECIMAL_SCALE).round() as i64),
        FieldType::YesNo => v.as_bool().map(i64::from),
        _ => None,
    }
}

fn int(key: &str, label: &str, unit: &str, required: bool) -> Field {
    Field {
        key: key.to_string(),
        label: label.to_string(),
        kind: FieldType::Integer,
        unit: unit.to_string(),
        required,
        min: Some(0.0),
        max: Some(10_000_000.0),
        options: Vec::new(),
    }
}

fn other(key: &str, label: &str, kind: FieldType, required: bool) -> Field {
    Field {
        key: key.to_string(),
        label: label.to_string(),
        kind,
        unit: String::new(),
        required,
        min: None,
        max: None,
        options: Vec::new(),
    }
}

/// The rule `left <= right` between two fields, with its message.
fn at_most(left: &str, right: &str, message: &str) -> Rule {
    Rule {
        left: left.to_string(),
        op: "<=".to_string(),
        right: Value::from(right),
        message: message.to_string(),
    }
}

/// A built-in form (version 1, national, no organisation kinds): daily ones are due at 10:00.
fn builtin(
    key: &str,
    name: &str,
    period: Period,
    unit_type: UnitType,
    fields: Vec<Field>,
    rules: Vec<Rule>,
) -> Form {
    Form {
        key: key.into(),
        version: 1,
        name: name.into(),
        deadline: (period == Period::Daily).then(|| "10:00".into()),
        period,
        unit_type,
        org_kinds: vec![],
        scope: "0".into(),
        spec: FormSpec { fields, rules },
    }
}

/// The four forms that ship with the system.
pub fn builtin_forms() -> Vec<Form> {
    let village_daily = builtin(
        "village_daily",
        "村（社区）疫情防控日报",
        Period::Daily,
        UnitType::Village,
        vec![
            int("households_screened", "今日排查户数", "户", true),
            int("people_screened", "今日排查人数", "人", true),
            int("close_contacts", "新发现密切接触者", "人", true),
            int("home_observation", "居家医学观察人数", "人", true),
            int("released", "解除观察人数", "人", true),
            int("fever_referred", "发热分流就诊人数", "人", true),
            int("entrance_registrations", "出入登记人次", "人次", false),
            int("volunteers_on_duty", "在岗志愿者", "人", false),
            other("notes", "情况说明", FieldType::Text, false),
        ],
        vec![
            at_most(
                "fever_referred",
                "people_screened",
                "发热分流人数不能超过排查人数",
            ),
            at_most(
                "close_contacts",
                "people_screened",
                "密切接触者不能超过排查人数",
            ),
        ],
    );
    let mut closed = other("closed_management", "是否封闭管理", FieldType::YesNo, true);
    closed.unit = String::new();
    let mut institution_daily = builtin(
        "institution_daily",
        "民政服务机构疫情防控日报",
        Period::Daily,
        UnitType::Org,
        vec![
            int("residents", "在院（站）人数", "人", true),
            int("staff_on_duty", "在岗工作人员", "人", true),
            closed,
            int("new_admissions", "新入住人数", "人", true),
            int("resident_fever", "服务对象发热人数", "人", true),
            int("staff_fever", "工作人员发热人数", "人", true),
            int("suspected", "疑似病例", "人", true),
            int("confirmed", "确诊病例", "人", true),
            int("isolated", "隔离观察人数", "人", true),
            int("mask_days", "口罩可用天数", "天", false),
            int("disinfectant_days", "消毒用品可用天数", "天", false),
            other("problems", "存在问题和困难", FieldType::Text, false),
        ],
        vec![
            at_most("confirmed", "residents", "确诊人数不能超过在院人数"),
            at_most("resident_fever", "residents", "发热人数不能超过在院人数"),
            at_most("new_admissions", "residents", "新入住人数不能超过在院人数"),
        ],
    );
    institution_daily.org_kinds = vec![
        "elderly_care".into(),
        "child_welfare".into(),
        "minor_protection".into(),
        "relief_station".into(),
        "mental_health".into(),
    ];
    let tekun = builtin(
        "tekun_care_daily",
        "散居特困人员疫情防控与照料服务情况表",
        Period::Daily,
        UnitType::Village,
        vec![
            int("checked", "今日探访特困人员", "人", true),
            int("fever", "其中发热", "人", true),
            int("needing_help", "需要帮助", "人", true),
            int("helped", "已提供帮助", "人", true),
            other("notes", "情况说明", FieldType::Text, false),
        ],
        vec![
            at_most("fever", "checked", "发热人数不能超过探访人数"),
            at_most("helped", "needing_help", "已帮助人数不能超过需要帮助人数"),
        ],
    );
    let mut kind = other("event_kind", "事件类型", FieldType::Choice, true);
    kind.options = vec![
        "疑似病例".into(),
        "死亡".into(),
        "走失".into(),
        "物资短缺".into(),
        "其他".into(),
    ];
    let incident = builtin(
        "incident",
        "即报（突发情况报告）",
        Period::Immediate,
        UnitType::Any,
        vec![
            kind,
            other("occurred_at", "发生时间", FieldType::Text, true),
            other("place", "地点", FieldType::Text, true),
            int("people_affected", "涉及人数", "人", true),
            other("measures", "已采取措施", FieldType::Text, true),
            other("help_needed", "需要支持", FieldType::Text, false),
        ],
        vec![],
    );
    vec![village_daily, institution_daily, tekun, incident]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(key: &str) -> Form {
        builtin_forms()
            .into_iter()
            .find(|f| f.key == key)
            .expect("form")
    }

    #[test]
    fn validates_types_ranges_rules() {
        let f = form("institution_daily");
        let ok = json!({"residents": 108, "staff_on_duty": 30, "closed_management": true, "new_admissions": 0,
            "resident_fever": 1, "staff_fever": 0, "suspected": 0, "confirmed": 0, "isolated": 1});
        assert!(validate(&f, &ok).is_ok());
        let mut bad = ok.clone();
        bad["confirmed"] = json!(200);
        let e = validate(&f, &bad).expect_err("rule");
        assert_eq!(e[0].field, "confirmed");
        assert!(e[0].message.contains("不能超过在院人数"));
        let mut bad = ok.clone();
        bad["residents"] = json!(-1);
        assert!(validate(&f, &bad).is_err());
        let mut bad = ok.clone();
        bad["residents"] = json!(1.5);
        assert!(validate(&f, &bad).is_err());
        let mut bad = ok.clone();
        bad["unknown"] = json!(1);
        let e = validate(&f, &bad).expect_err("unknown");
        assert_eq!(e[0].field, "unknown");
        let mut bad = ok;
        bad.as_object_mut().expect("o").remove("residents");
        assert!(validate(&f, &bad).is_err());
    }

    #[test]
    fn deadlines_and_rollup_values() {
        assert_eq!(form("village_daily").deadline_minutes(), Some(600));
        assert_eq!(form("incident").deadline_minutes(), None);
        let f = form("institution_daily");
        let closed = f.field("closed_management").expect("f");
        assert_eq!(rollup_value(closed, &json!(true)), Some(1));
        assert_eq!(f.summable().count(), 11);
    }
}
