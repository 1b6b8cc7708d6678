//! Reporting (心理援助工作报告制度, issue 17 item 5): for a region of the caller's scope and a
//! day or a week (Beijing, weeks from Monday): calls by caller category and risk, referrals
//! made and what became of them, calls that opened a lead about a child, follow-ups due and done on time, average handling time and
//! the mean effect score — one row per region below (rolled up the region tree from the lines'
//! regions), one per line, and the total. Counts from 1 to 4 are shown as `<5` in rows below
//! county level, so a village's figures do not identify a caller; those rows' averages are
//! withheld with them. Counts, never notes. Also as an Excel workbook.

use std::collections::BTreeMap;

use backstop_core::clock::end_of_beijing_day_ms;
use backstop_core::region::{RegionCode, RegionLevel};
use chrono::{Datelike, Duration};
use rust_xlsxwriter::{Format, Workbook};
use serde::{Deserialize, Serialize};

use super::{CALLER_CATEGORIES, Labels, RISKS, label, queries, staff_only};
use crate::kernel::actor::Actor;
use crate::kernel::cells::SafeCells;
use crate::kernel::error::{AppError, AppResult, date_field};
use crate::state::AppState;

/// `?region=&period=&date=` of the statistics.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct StatsQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// `day` (default) or `week` (Monday to Sunday containing `date`).
    pub period: Option<String>,
    /// `YYYY-MM-DD` (Beijing); default today.
    pub date: Option<String>,
}

/// One count as shown: the number, or `<5` where a small count would identify someone.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Count {
    pub key: String,
    pub label: String,
    pub value: String,
}

/// The figures of one region, one line or the total.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Row {
    /// A region code, `line:ID`, or the requested region for the total.
    pub key: String,
    pub name: String,
    /// Counts 1–4 shown as `<5` (a row below county level).
    pub masked: bool,
    pub calls: String,
    pub by_category: Vec<Count>,
    pub by_risk: Vec<Count>,
    /// Calls that opened a lead about a child (from the call's own child-lead record).
    pub child_leads: String,
    pub referrals: String,
    pub referrals_accepted: String,
    pub referrals_declined: String,
    pub referrals_closed: String,
    pub followups_due: String,
    pub followups_on_time: String,
    /// Average handling time in seconds (`—` withheld or none).
    pub avg_duration_s: String,
    /// Mean effect score 1–5 with one decimal (`—` withheld or none).
    pub mean_score: String,
    /// The raw call count, for the chart (0 in masked rows with a small count).
    pub chart_calls: i64,
}

/// The report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub region_code: String,
    pub region_name: String,
    /// `day` or `week`.
    pub period: String,
    /// First and last day (Beijing), `YYYY-MM-DD`.
    pub from: String,
    pub to: String,
    pub regions: Vec<Row>,
    pub lines: Vec<Row>,
    pub total: Row,
}

/// Raw sums of one row.
#[derive(Debug, Clone, Default)]
struct Tally {
    calls: i64,
    by_category: BTreeMap<String, i64>,
    by_risk: BTreeMap<String, i64>,
    child_leads: i64,
    duration: i64,
    referrals: i64,
    accepted: i64,
    declined: i64,
    closed: i64,
    followups_due: i64,
    on_time: i64,
    score_sum: i64,
    scores: i64,
}

fn shown(n: i64, masked: bool) -> String {
    if masked && (1..5).contains(&n) {
        "<5".to_string()
    } else {
        n.to_string()
    }
}

fn counts(table: Labels, m: &BTreeMap<String, i64>, masked: bool) -> Vec<Count> {
    table
        .iter()
        .map(|(k, l)| Count {
            key: (*k).to_string(),
            label: (*l).to_string(),
            value: shown(m.get(*k).copied().unwrap_or(0), masked),
        })
        .collect()
}

impl Tally {
    fn row(&self, key: String, name: String, masked: bool) -> Row {
        let small = masked && self.calls < 5;
        let avg = if self.calls > 0 && !small {
            (self.duration / self.calls).to_string()
        } else {
            "—".to_string()
        };
        let mean = if self.scores > 0 && !(masked && self.scores < 5) {
            // One decimal, rounded half up, from integers.
            let tenths = (self.score_sum * 20 + self.scores) / (self.scores * 2);
            format!("{}.{}", tenths / 10, tenths % 10)
        } else {
            "—".to_string()
        };
        Row {
            key,
            name,
            masked,
            calls: shown(self.calls, masked),
            by_category: counts(CALLER_CATEGORIES, &self.by_category, masked),
            by_risk: counts(RISKS, &self.by_risk, masked),
            child_leads: shown(self.child_leads, masked),
            referrals: shown(self.referrals, masked),
            referrals_accepted: shown(self.accepted, masked),
            referrals_declined: shown(self.declined, masked),
            referrals_closed: shown(self.closed, masked),
            followups_due: shown(self.followups_due, masked),
            followups_on_time: shown(self.on_time, masked),
            avg_duration_s: avg,
            mean_score: mean,
            chart_calls: if small { 0 } else { self.calls },
        }
    }
}

/// The period asked for: (`day`|`week`, first day, start ms, end ms).
fn period_of(
    state: &AppState,
    q: &StatsQuery,
) -> AppResult<(&'static str, chrono::NaiveDate, i64, i64)> {
    let date = match q.date.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(d) => date_field("date", d)?,
        None => state.today(),
    };
    let (period, first, days) = match q.period.as_deref().map(str::trim).unwrap_or("day") {
        "" | "day" => ("day", date, 1),
        "week" => (
            "week",
            date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
            7,
        ),
        _ => {
            return Err(AppError::field(
                backstop_core::error::ErrorCode::Validation,
                "period",
                "应为 day（日报）或 week（周报）",
            ));
        }
    };
    let start = end_of_beijing_day_ms(first - Duration::days(1));
    let end = end_of_beijing_day_ms(first + Duration::days(days - 1));
    Ok((period, first, start, end))
}

/// The report for a region of the caller's scope (hotline staff).
pub async fn report(state: &AppState, actor: &Actor, q: &StatsQuery) -> AppResult<Stats> {
    staff_only(actor)?;
    let region = crate::kernel::extract::region_param(q.region.as_deref())?;
    let scope = actor.within_opt(region.as_ref())?;
    let (period, first, start, end) = period_of(state, q)?;
    let node = scope.node().as_str().to_string();
    let child_level = RegionCode::parse(&node)
        .ok()
        .and_then(|c| c.level().child());
    // The row a region code rolls up into: its ancestor one level below the node (or the node
    // itself for a line registered at the node's own level).
    let child_of = |code: &str| -> String {
        match (child_level, RegionCode::parse(code)) {
            (Some(l), Ok(c)) => c
                .prefix_at(l)
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| node.clone()),
            (None, Ok(c)) if node == "0" => c
                .prefix_at(RegionLevel::Province)
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| node.clone()),
            _ => node.clone(),
        }
    };
    let mut regions: BTreeMap<String, Tally> = BTreeMap::new();
    let mut lines: BTreeMap<i64, Tally> = BTreeMap::new();
    let mut total = Tally::default();
    let mut each = |code: &str, line: i64, f: &dyn Fn(&mut Tally)| {
        f(regions.entry(child_of(code)).or_default());
        f(lines.entry(line).or_default());
        f(&mut total);
    };
    for (code, line, cat, risk, n, d, k) in queries::call_tallies(state, &scope, start, end).await?
    {
        each(&code, line, &|t: &mut Tally| {
            t.calls += n;
            t.duration += d;
            t.child_leads += k;
            *t.by_category.entry(cat.clone()).or_default() += n;
            *t.by_risk.entry(risk.clone()).or_default() += n;
        });
    }
    for (code, line, status, n) in queries::referral_tallies(state, &scope, start, end).await? {
        each(&code, line, &|t: &mut Tally| {
            t.referrals += n;
            match status.as_str() {
                "accepted" => t.accepted += n,
                "declined" => t.declined += n,
                "closed" => {
                    t.accepted += n;
                    t.closed += n;
                }
                _ => {}
            }
        });
    }
    for (code, line, on_time, score) in queries::followup_facts(state, &scope, start, end).await? {
        each(&code, line, &|t: &mut Tally| {
            t.followups_due += 1;
            t.on_time += i64::from(on_time);
            if let Some(s) = score {
                t.score_sum += s;
                t.scores += 1;
            }
        });
    }
    let mut region_rows = Vec::new();
    for (code, t) in &regions {
        let name = crate::regions::scope_name(state, code).await?;
        region_rows.push(t.row(code.clone(), name, crate::regions::below_county(code)));
    }
    let names: BTreeMap<i64, (String, String)> = queries::lines(state, &scope)
        .await?
        .into_iter()
        .map(|l| (l.id, (l.name, l.region_code)))
        .collect();
    let line_rows = lines
        .iter()
        .map(|(id, t)| {
            let (name, code) = names
                .get(id)
                .cloned()
                .unwrap_or_else(|| (format!("线路 {id}"), node.clone()));
            t.row(
                format!("line:{id}"),
                name,
                crate::regions::below_county(&code),
            )
        })
        .collect();
    let region_name_ = crate::regions::scope_name(state, &node).await?;
    Ok(Stats {
        total: total.row(
            node.clone(),
            region_name_.clone(),
            crate::regions::below_county(&node),
        ),
        region_code: node,
        region_name: region_name_,
        period: period.to_string(),
        from: first.format("%Y-%m-%d").to_string(),
        to: (first + Duration::days(if period == "week" { 6 } else { 0 }))
            .format("%Y-%m-%d")
            .to_string(),
        regions: region_rows,
        lines: line_rows,
    })
}

/// The report as an Excel workbook: (file name, bytes). Counts only, masked as on screen.
pub async fn export_xlsx(
    state: &AppState,
    actor: &Actor,
    q: &StatsQuery,
) -> AppResult<(String, Vec<u8>)> {
    let st = report(state, actor, q).await?;
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal("xlsx", e);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("心理援助工作报告").map_err(x)?;
    let head = Format::new().set_bold();
    let title = format!(
        "热线工作报告（{}，{} 至 {}）",
        st.region_name, st.from, st.to
    );
    ws.text(0, 0, &title, &head).map_err(x)?;
    let mut cols: Vec<String> = vec!["代码".into(), "名称".into(), "来电".into()];
    cols.extend(CALLER_CATEGORIES.iter().map(|(_, l)| (*l).to_string()));
    cols.extend(RISKS.iter().map(|(_, l)| format!("风险：{l}")));
    cols.extend(
        [
            "儿童线索",
            "转介",
            "已接收",
            "已拒绝",
            "已办结",
            "应回访",
            "按时回访",
            "平均通话(秒)",
            "平均效果评分",
        ]
        .iter()
        .map(|s| (*s).to_string()),
    );
    for (i, c) in cols.iter().enumerate() {
        let col = u16::try_from(i).map_err(|e| AppError::internal("xlsx", e))?;
        ws.text(2, col, c, &head).map_err(x)?;
    }
    for (r, row) in (3u32..).zip(
        st.regions
            .iter()
            .chain(st.lines.iter())
            .chain(std::iter::once(&st.total)),
    ) {
        let mut cells = vec![row.key.clone(), row.name.clone(), row.calls.clone()];
        cells.extend(row.by_category.iter().map(|c| c.value.clone()));
        cells.extend(row.by_risk.iter().map(|c| c.value.clone()));
        cells.extend([
            row.child_leads.clone(),
            row.referrals.clone(),
            row.referrals_accepted.clone(),
            row.referrals_declined.clone(),
            row.referrals_closed.clone(),
            row.followups_due.clone(),
            row.followups_on_time.clone(),
            row.avg_duration_s.clone(),
            row.mean_score.clone(),
        ]);
        for (i, v) in cells.iter().enumerate() {
            let col = u16::try_from(i).map_err(|e| AppError::internal("xlsx", e))?;
            match v.parse::<i64>() {
                Ok(n) if i >= 2 => {
                    // Counts are small integers: exact as f64.
                    #[allow(clippy::cast_precision_loss)]
                    let f = n as f64;
                    ws.write_number(r, col, f).map_err(x)?;
                }
                _ => ws.text_plain(r, col, v).map_err(x)?,
            }
        }
    }
    let bytes = wb.save_to_buffer().map_err(x)?;
    Ok((
        format!("hotline-{}-{}-{}.xlsx", st.region_code, st.period, st.from),
        bytes,
    ))
}

/// Label of a caller category or risk key (for pages).
pub fn category_label(key: &str) -> String {
    label(CALLER_CATEGORIES, key)
}
