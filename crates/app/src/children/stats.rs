//! Statistics of children's cases (issue 17 item 5, the children's part): per region below the
//! one asked and per day or week (the seven days ending on the date), cases opened, classified
//! on time and late, by placement, closed, and — as they stand now — leads overdue; rolled up
//! the region tree (a line per child region, the asked region's own cases in a 本级 line, the
//! total the sum of the lines). So that a small village's figures do not identify a child, a
//! count from 1 to 4 of a line below county level is shown as "<5"; the exact figures stay in
//! the sums. Exported as XLSX with the same masking.

use std::collections::BTreeMap;

use backstop_core::clock::end_of_beijing_day_ms;
use backstop_core::region::{RegionCode, Scope};
use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::{PLACEMENTS, may_read, queries};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field};
use crate::state::AppState;

/// Query of the statistics routes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct StatsQuery {
    /// Region code; default the caller's scope.
    pub region: Option<String>,
    /// `day` (default) or `week` (the seven days ending on `date`).
    pub period: Option<String>,
    /// `YYYY-MM-DD` (Beijing), default today.
    pub date: Option<String>,
}

/// The figures of one region.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub opened: i64,
    pub classified_on_time: i64,
    pub classified_late: i64,
    pub closed: i64,
    /// Leads not taken past their due time, now.
    pub leads_overdue: i64,
    /// Cases classified in the period, by their placement (in [`PLACEMENTS`] order).
    pub by_placement: Vec<i64>,
}

/// One line: a region and its figures, exact and as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatLine {
    pub region_code: String,
    pub region_name: String,
    /// The asked region's own cases (本级).
    pub own_level: bool,
    /// Below county level: counts 1–4 are shown as "<5".
    pub masked: bool,
    /// Exact figures: only for lines at county level or above (zeros otherwise).
    pub figures: Figures,
    /// Each figure as shown (`opened`, `classified_on_time`, …, then the placements).
    pub shown: Vec<String>,
}

/// The statistics of a region for a period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Statistics {
    pub region_code: String,
    pub region_name: String,
    /// `day` or `week`.
    pub period: String,
    /// First and last day (Beijing).
    pub from: String,
    pub to: String,
    /// The columns of `shown`, in Chinese.
    pub columns: Vec<String>,
    pub lines: Vec<StatLine>,
    pub total: StatLine,
}

impl Figures {
    fn empty() -> Figures {
        Figures {
            by_placement: vec![0; PLACEMENTS.len()],
            ..Default::default()
        }
    }
    fn add(&mut self, o: &Figures) {
        self.opened += o.opened;
        self.classified_on_time += o.classified_on_time;
        self.classified_late += o.classified_late;
        self.closed += o.closed;
        self.leads_overdue += o.leads_overdue;
        for (a, b) in self.by_placement.iter_mut().zip(&o.by_placement) {
            *a += b;
        }
    }
    fn values(&self) -> Vec<i64> {
        let mut v = vec![
            self.opened,
            self.classified_on_time,
            self.classified_late,
            self.closed,
            self.leads_overdue,
        ];
        v.extend(&self.by_placement);
        v
    }
}

/// A count as shown: "<5" for 1–4 when masked.
pub fn shown(n: i64, masked: bool) -> String {
    if masked && (1..5).contains(&n) {
        "<5".to_string()
    } else {
        n.to_string()
    }
}

fn finish(code: &str, name: &str, own: bool, f: Figures) -> StatLine {
    let masked = crate::regions::below_county(code);
    let shown = f.values().iter().map(|n| shown(*n, masked)).collect();
    StatLine {
        region_code: code.to_string(),
        region_name: name.to_string(),
        own_level: own,
        masked,
        figures: if masked { Figures::empty() } else { f },
        shown,
    }
}

/// The statistics of `region` (default: the caller's scope).
pub async fn statistics(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    period: Option<&str>,
    date: Option<&str>,
) -> AppResult<Statistics> {
    may_read(actor)?;
    let scope = actor.within_opt(region)?;
    let week = match period.map(str::trim).unwrap_or("") {
        "" | "day" => false,
        "week" => true,
        _ => {
            return Err(AppError::field(
                backstop_core::error::ErrorCode::Validation,
                "period",
                "应为 day（按日）或 week（按周）",
            ));
        }
    };
    let to = match date.map(str::trim).filter(|s| !s.is_empty()) {
        Some(d) => date_field("date", d)?,
        None => state.today(),
    };
    let from = if week { to - Duration::days(6) } else { to };
    let (start, end) = (
        end_of_beijing_day_ms(from - Duration::days(1)),
        end_of_beijing_day_ms(to),
    );
    let node = scope.node().clone();
    let code = node.as_str().to_string();
    let region_name = crate::regions::scope_name(state, &code).await?;
    let len = node.child_code_len();
    let children = match &node {
        Scope::National => crate::regions::roots(state, actor).await?,
        Scope::Region(r) => crate::regions::children(state, actor, r.as_str()).await?,
    };
    let mut figures: BTreeMap<String, (String, bool, Figures)> = children
        .into_iter()
        .filter(|r| r.level != "grid")
        .map(|r| (r.code, (r.name, false, Figures::empty())))
        .collect();
    let now = state.now_ms();
    for g in queries::stat_groups(state, &scope, len, start, end, now).await? {
        let entry = figures
            .entry(g.key.clone())
            .or_insert_with(|| (format!("{region_name}（本级）"), true, Figures::empty()));
        let f = &mut entry.2;
        f.opened += g.opened;
        f.classified_on_time += g.on_time;
        f.classified_late += g.late;
        f.closed += g.closed;
        f.leads_overdue += g.leads_overdue;
        if let Some(i) = PLACEMENTS.iter().position(|(k, _)| *k == g.placement) {
            f.by_placement[i] += g.placed;
        }
    }
    let mut total = Figures::empty();
    let mut own = Vec::new();
    let mut rest = Vec::new();
    for (c, (name, is_own, f)) in figures {
        total.add(&f);
        let line = finish(&c, &name, is_own, f);
        if is_own {
            own.push(line)
        } else {
            rest.push(line)
        }
    }
    own.extend(rest);
    let mut columns: Vec<String> = ["新开个案", "按时分类", "逾期分类", "结案", "逾期未接收线索"]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
    columns.extend(PLACEMENTS.iter().map(|(_, l)| format!("安置：{l}")));
    Ok(Statistics {
        total: finish(&code, "合计", false, total),
        region_code: code,
        region_name,
        period: if week { "week" } else { "day" }.to_string(),
        from: from.format("%Y-%m-%d").to_string(),
        to: to.format("%Y-%m-%d").to_string(),
        columns,
        lines: own,
    })
}

/// The statistics as an Excel workbook (masked as shown): file name and bytes.
pub async fn export_xlsx(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    period: Option<&str>,
    date: Option<&str>,
) -> AppResult<(String, Vec<u8>)> {
    use crate::kernel::cells::SafeCells;
    use rust_xlsxwriter::{Format, Workbook};
    let st = statistics(state, actor, region, period, date).await?;
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal("xlsx", e);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("困境儿童个案统计").map_err(x)?;
    let bold = Format::new().set_bold();
    ws.text(
        0,
        0,
        &format!("{} {} 至 {}", st.region_name, st.from, st.to),
        &bold,
    )
    .map_err(x)?;
    ws.text(1, 0, "区划", &bold).map_err(x)?;
    for (i, c) in st.columns.iter().enumerate() {
        ws.text(1, (i + 1) as u16, c, &bold).map_err(x)?;
    }
    for (r, l) in st
        .lines
        .iter()
        .chain(std::iter::once(&st.total))
        .enumerate()
    {
        let row = (r + 2) as u32;
        ws.text_plain(row, 0, &l.region_name).map_err(x)?;
        for (i, v) in l.shown.iter().enumerate() {
            match v.parse::<f64>() {
                Ok(n) => ws
                    .write_number(row, (i + 1) as u16, n)
                    .map(|_| ())
                    .map_err(x)?,
                // "<5": a masked count, written as text.
                Err(_) => ws.text_plain(row, (i + 1) as u16, v).map_err(x)?,
            };
        }
    }
    let bytes = wb.save_to_buffer().map_err(x)?;
    Ok((
        format!("child-cases-{}-{}.xlsx", st.region_code, st.to),
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_below_county_are_masked() {
        assert_eq!(shown(3, true), "<5");
        assert_eq!(shown(0, true), "0");
        assert_eq!(shown(5, true), "5");
        assert_eq!(shown(3, false), "3");
        assert!(crate::regions::below_county("130110100"));
        assert!(!crate::regions::below_county("130110"));
    }
}
