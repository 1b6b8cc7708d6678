//! Periods and deadlines: the period strings of each period type (`YYYY-MM-DD`, `YYYY-Www`,
//! `YYYY-MM`), checked against today, and the deadline of a period.

use chrono::{Datelike, NaiveDate};

use super::form::{Form, Period};

/// Parse and check a period string for a form's period type; `today` is Beijing's date.
pub fn parse_period(p: Period, s: &str, today: NaiveDate) -> Result<(String, NaiveDate), String> {
    let s = s.trim();
    let (start, end) = match p {
        Period::Daily | Period::Immediate => {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| "日期应为 YYYY-MM-DD".to_string())?;
            (d, d)
        }
        Period::Weekly => {
            let (y, w) = s.split_once("-W").ok_or("周应为 YYYY-Www，例如 2020-W06")?;
            let (y, w): (i32, u32) = (
                y.parse().map_err(|_| "周格式错误")?,
                w.parse().map_err(|_| "周格式错误")?,
            );
            let d = NaiveDate::from_isoywd_opt(y, w, chrono::Weekday::Mon).ok_or("不存在这一周")?;
            (d, d + chrono::Duration::days(6))
        }
        Period::Monthly => {
            let d = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
                .map_err(|_| "月份应为 YYYY-MM")?;
            let next = if d.month() == 12 {
                NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
            }
            .ok_or("月份错误")?;
            (d, next - chrono::Duration::days(1))
        }
    };
    if start > today {
        return Err("不能填报未来的时段".to_string());
    }
    if (today - start).num_days() > 400 {
        return Err("时段过早（超过 400 天）".to_string());
    }
    let canonical = match p {
        Period::Daily | Period::Immediate => start.format("%Y-%m-%d").to_string(),
        Period::Weekly => format!(
            "{}-W{:02}",
            start.iso_week().year(),
            start.iso_week().week()
        ),
        Period::Monthly => start.format("%Y-%m").to_string(),
    };
    Ok((canonical, end))
}

/// The deadline of a period in Unix ms: daily on the day at the deadline time; weekly and
/// monthly on the day after the period ends, at the deadline time (Beijing).
pub fn deadline_ms(form: &Form, period_end: NaiveDate) -> Option<i64> {
    let minutes = form.deadline_minutes()?;
    let day = match form.period {
        Period::Daily => period_end,
        Period::Weekly | Period::Monthly => period_end.succ_opt()?,
        Period::Immediate => return None,
    };
    let local = day.and_hms_opt(0, 0, 0)? + chrono::Duration::minutes(minutes);
    Some(
        (local - chrono::Duration::hours(8))
            .and_utc()
            .timestamp_millis(),
    )
}
