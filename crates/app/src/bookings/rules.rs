//! What holds for a service on a day, decided from its setup, the organisation's special
//! dates and the emergency setting in force for the organisation's region and that date
//! (never a global switch): open or not (and why), places per slot, the day's cap, whether
//! the service or ceremonies are suspended, the attendance cap and the health questions.
//! Pure functions: the callers load what they need once.

use chrono::{Datelike, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use super::emergency::Emergency;
use super::{Service, SpecialDate};

/// A health question an emergency setting asks on booking, and what a "yes" does.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema, PartialEq, Eq)]
pub struct Question {
    /// `fever` (发热、咳嗽等症状) or `contact` (接触史).
    pub key: String,
    /// `refuse` (no booking) or `defer` (the booking date must be at least `days` away).
    pub action: String,
    #[serde(default)]
    pub days: i64,
}

/// The questions that may be asked: key and the text shown.
pub const QUESTIONS: &[(&str, &str)] = &[
    ("fever", "近 14 天内是否有发热、咳嗽等症状？"),
    (
        "contact",
        "近 14 天内是否有中高风险地区旅居史或确诊、疑似病例接触史？",
    ),
];

/// The text of a question.
pub fn question_text(key: &str) -> &'static str {
    QUESTIONS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, t)| *t)
        .unwrap_or("")
}

/// What holds for one service on one day.
#[derive(Debug, Clone, Default)]
pub struct DayRule {
    /// Bookable that day (open day or specially opened, not closed, blocked or suspended).
    pub open: bool,
    /// Why not, or the notice of the day (shown to the public).
    pub reason: String,
    /// Places per slot.
    pub places: i64,
    /// The organisation's cap for the day (all services), if any.
    pub day_cap: Option<i64>,
    pub no_ceremony: bool,
    pub attendance_cap: Option<i64>,
    pub questions: Vec<Question>,
    /// The emergency setting in force, if any (its id and reason).
    pub emergency: Option<(i64, String)>,
}

/// The emergency setting in force for an organisation in `region` of kind `org_kind` on
/// `day`: of those covering it, the one set for the nearest region above (the longest code),
/// then the newest.
pub fn in_force<'a>(
    list: &'a [Emergency],
    region: &str,
    org_kind: &str,
    day: &str,
) -> Option<&'a Emergency> {
    list.iter()
        .filter(|e| {
            e.ended_at.is_none()
                && e.org_kind == org_kind
                && region.starts_with(&e.region_code)
                && e.starts_on.as_str() <= day
                && day <= e.ends_on.as_str()
        })
        .max_by_key(|e| (e.region_code.len(), e.id))
}

/// The rule for `service` (of an organisation of `org_kind`) on `day`.
pub fn rule(
    service: &Service,
    org_kind: &str,
    day: NaiveDate,
    dates: &[SpecialDate],
    emergencies: &[Emergency],
) -> DayRule {
    let day_s = day.format("%Y-%m-%d").to_string();
    let weekday = char::from(b'0' + u8::try_from(day.weekday().number_from_monday()).unwrap_or(0));
    let mut r = DayRule {
        open: service.open_days.contains(weekday),
        places: service.places,
        ..DayRule::default()
    };
    if !r.open {
        r.reason = "非办理日".to_string();
    }
    if let Some(d) = dates.iter().find(|d| d.day == day_s) {
        match d.kind.as_str() {
            "open" => {
                r.open = true;
                r.reason = d.reason.clone();
            }
            "cap" => {
                r.day_cap = d.day_cap;
                r.reason = d.reason.clone();
            }
            _ => {
                r.open = false;
                r.reason = if d.reason.is_empty() {
                    super::date_label(&d.kind).to_string()
                } else {
                    d.reason.clone()
                };
            }
        }
    }
    if let Some(e) = in_force(emergencies, &service.region_code, org_kind, &day_s) {
        r.emergency = Some((e.id, e.reason.clone()));
        if let Some(c) = e.daily_cap {
            r.day_cap = Some(r.day_cap.map_or(c, |d| d.min(c)));
        }
        if e.suspended.split(',').any(|k| k == service.kind) {
            r.open = false;
            r.reason = format!("疫情防控期间暂停办理：{}", e.reason);
        }
        r.no_ceremony = e.no_ceremony;
        r.attendance_cap = e.attendance_cap;
        r.questions = e.questions.clone();
    }
    r
}

/// The start times of a service's slots (`HH:MM`), from opening to the last slot that ends by
/// closing.
pub fn starts(service: &Service) -> Vec<String> {
    let parse = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").ok();
    let (Some(mut t), Some(end)) = (parse(&service.opens), parse(&service.closes)) else {
        return Vec::new();
    };
    let step = chrono::Duration::minutes(service.slot_minutes.max(1));
    let mut out = Vec::new();
    while t + step <= end && out.len() < 200 {
        out.push(t.format("%H:%M").to_string());
        t += step;
    }
    out
}

/// The counter lane of a service: its limiting resource (shared by the services it limits)
/// or the service itself.
pub fn lane(service: &Service) -> String {
    match service.resource_id {
        Some(r) => format!("r{r}"),
        None => format!("s{}", service.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        Service {
            id: 1,
            org_id: 1,
            region_code: "130110".into(),
            kind: "marriage_registration".into(),
            kind_label: String::new(),
            name: String::new(),
            open_days: "12345".into(),
            opens: "09:00".into(),
            closes: "11:30".into(),
            slot_minutes: 60,
            per_slot: 10,
            places: 10,
            window_days: 30,
            resource_id: None,
        }
    }

    fn emergency(id: i64, region: &str, cap: i64) -> Emergency {
        Emergency {
            id,
            region_code: region.into(),
            org_kind: "marriage_registry".into(),
            starts_on: "2020-02-01".into(),
            ends_on: "2020-02-29".into(),
            daily_cap: Some(cap),
            suspended: String::new(),
            no_ceremony: true,
            attendance_cap: None,
            questions: Vec::new(),
            reason: "疫情".into(),
            created_by: String::new(),
            created_at: String::new(),
            ended_at: None,
        }
    }

    #[test]
    fn slots_days_and_the_nearest_setting() {
        let s = service();
        assert_eq!(starts(&s), vec!["09:00", "10:00"]);
        let sunday = NaiveDate::from_ymd_opt(2020, 2, 2).expect("d");
        assert!(!rule(&s, "marriage_registry", sunday, &[], &[]).open);
        let open = SpecialDate {
            day: "2020-02-02".into(),
            kind: "open".into(),
            kind_label: String::new(),
            day_cap: None,
            reason: "特别开放".into(),
        };
        assert!(
            rule(
                &s,
                "marriage_registry",
                sunday,
                std::slice::from_ref(&open),
                &[]
            )
            .open
        );
        let list = [
            emergency(1, "13", 50),
            emergency(2, "130110", 20),
            emergency(3, "130111", 5),
        ];
        let r = rule(&s, "marriage_registry", sunday, &[open], &list);
        assert_eq!(
            r.day_cap,
            Some(20),
            "the county's setting, not the province's or a sibling's"
        );
        assert!(r.no_ceremony);
        let march = NaiveDate::from_ymd_opt(2020, 3, 2).expect("d");
        assert_eq!(
            rule(&s, "marriage_registry", march, &[], &list).day_cap,
            None
        );
        assert_eq!(rule(&s, "funeral_home", march, &[], &list).emergency, None);
    }
}
