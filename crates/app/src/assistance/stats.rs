//! Assistance statistics (救助统计, issue 16 item 8): per region and month, one line per region
//! directly below the one asked for (and a line "本级" for records kept at the region itself),
//! with the total computed as the sum of the lines — never by a query of its own.
//!
//! What each figure is:
//! - **covered** (保障户数 / 人数) per programme: beneficiaries whose first month is not after
//!   the month, not exited before it and not suspended now. Households: dibao rows (one per
//!   household); for the per-person programmes, distinct households (a person without one
//!   counts as one). Persons: the members each row covers.
//! - **paid** (支出金额) per programme: the month's roll lines the bank paid, on *reconciled*
//!   rolls (the bank's return file matched). **sent**: every line of the month's rolls that
//!   were exported to the bank or reconciled (paid or not). One-off grants and price
//!   subsidies are counted apart (`other_paid_fen`, `other_sent_fen`).
//! - **applications** by their current state, of those made in the month.
//! - **overdue** steps, aid-first grants **awaiting** the county, exits **held** (and back for
//!   review): as they stand now (not for the month).
//!
//! Reading needs `assistance.read`; the region must be in scope (else *not found*), and the
//! records behind a figure ([`records`]) are masked as every list is. The Excel export follows
//! the monthly civil-affairs statistics (民政统计月报): one row per region, three columns
//! (户数, 人数, 支出金额(元)) per programme, every text cell through `kernel::cells`.

use std::collections::BTreeMap;

use backstop_core::Programme;
use backstop_core::error::ErrorCode;
use backstop_core::money::Fen;
use backstop_core::region::{RegionCode, RegionLevel};
use backstop_core::role::Permission;
use rust_xlsxwriter::{Format, FormatAlign, Workbook};
use serde::{Deserialize, Serialize};

use super::applications::status_label;
use super::queries;
use super::steps::Beneficiary;
use crate::kernel::access::Scoped;
use crate::kernel::actor::Actor;
use crate::kernel::cells::SafeCells;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// The application states, in workflow order.
pub const STATES: [&str; 6] = [
    "submitted",
    "verified",
    "reviewed",
    "publicised",
    "approved",
    "rejected",
];

/// The levels a step may be overdue at, with their Chinese names.
pub const STEPS: [(&str, &str); 4] = [
    ("verify", "核查"),
    ("review", "审核"),
    ("publicity", "公示"),
    ("approve", "审批"),
];

/// What "paid" means in these statistics (shown with them).
pub const PAID_BASIS: &str =
    "支出金额：已对账名册中银行回盘为成功的明细；已报送：已导出或已对账名册的全部明细";

/// `?region=&month=` of the statistics.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct StatsQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// `YYYY-MM`; default this month.
    pub month: Option<String>,
    /// Records only: a programme key.
    pub programme: Option<String>,
}

/// One programme's figures on a line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProgrammeFigures {
    pub programme: String,
    pub programme_label: String,
    pub households: i64,
    pub persons: i64,
    /// Fen paid (reconciled rolls, lines paid).
    pub paid_fen: i64,
    /// Fen sent to the bank (exported or reconciled rolls).
    pub sent_fen: i64,
}

/// A count under a key (a state or a level).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyCount {
    pub key: String,
    pub label: String,
    pub count: i64,
}

/// One line of the statistics: a region below the one asked for (or the region itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatLine {
    pub region_code: String,
    pub region_name: String,
    /// Records kept at the asked region itself (本级), not below it.
    pub own_level: bool,
    /// Whether a drill-down below this line gives regions (else records).
    pub has_children: bool,
    /// One entry per programme, in [`Programme::ALL`] order.
    pub programmes: Vec<ProgrammeFigures>,
    pub households: i64,
    pub persons: i64,
    pub paid_fen: i64,
    pub sent_fen: i64,
    /// One-off grants and price subsidies.
    pub other_paid_fen: i64,
    pub other_sent_fen: i64,
    /// Applications made in the month, by state ([`STATES`] order).
    pub applications: Vec<KeyCount>,
    /// Steps overdue now, by level ([`STEPS`] order).
    pub overdue: Vec<KeyCount>,
    pub overdue_total: i64,
    pub aid_pending: i64,
    pub aid_pending_fen: i64,
    pub exits_held: i64,
    pub exits_to_review: i64,
}

/// The statistics of a region for a month.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Statistics {
    /// The region asked for (`0` for the whole country).
    pub region_code: String,
    pub region_name: String,
    /// `YYYY-MM`.
    pub month: String,
    pub paid_basis: String,
    pub lines: Vec<StatLine>,
    /// The sum of the lines.
    pub total: StatLine,
}

impl StatLine {
    fn empty(code: &str, name: &str) -> StatLine {
        StatLine {
            region_code: code.to_string(),
            region_name: name.to_string(),
            programmes: Programme::ALL
                .iter()
                .map(|p| ProgrammeFigures {
                    programme: p.key().to_string(),
                    programme_label: p.label().to_string(),
                    ..ProgrammeFigures::default()
                })
                .collect(),
            applications: STATES
                .iter()
                .map(|s| KeyCount {
                    key: (*s).to_string(),
                    label: status_label(s).to_string(),
                    count: 0,
                })
                .collect(),
            overdue: STEPS
                .iter()
                .map(|(k, l)| KeyCount {
                    key: (*k).to_string(),
                    label: (*l).to_string(),
                    count: 0,
                })
                .collect(),
            ..StatLine::default()
        }
    }

    fn programme(&mut self, key: &str) -> Option<&mut ProgrammeFigures> {
        self.programmes.iter_mut().find(|p| p.programme == key)
    }

    /// Add another line's figures to this one.
    fn add(&mut self, o: &StatLine) {
        for (p, q) in self.programmes.iter_mut().zip(&o.programmes) {
            p.households += q.households;
            p.persons += q.persons;
            p.paid_fen += q.paid_fen;
            p.sent_fen += q.sent_fen;
        }
        for (a, b) in self.applications.iter_mut().zip(&o.applications) {
            a.count += b.count;
        }
        for (a, b) in self.overdue.iter_mut().zip(&o.overdue) {
            a.count += b.count;
        }
        self.other_paid_fen += o.other_paid_fen;
        self.other_sent_fen += o.other_sent_fen;
        self.aid_pending += o.aid_pending;
        self.aid_pending_fen += o.aid_pending_fen;
        self.exits_held += o.exits_held;
        self.exits_to_review += o.exits_to_review;
        self.finish();
    }

    /// Nothing on the line at all.
    pub fn is_zero(&self) -> bool {
        self.households == 0
            && self.persons == 0
            && self.paid_fen == 0
            && self.sent_fen == 0
            && self.other_paid_fen == 0
            && self.other_sent_fen == 0
            && self.applications.iter().all(|a| a.count == 0)
            && self.overdue_total == 0
            && self.aid_pending == 0
            && self.aid_pending_fen == 0
            && self.exits_held == 0
            && self.exits_to_review == 0
    }

    /// The line's own totals from its programmes and levels.
    fn finish(&mut self) {
        self.households = self.programmes.iter().map(|p| p.households).sum();
        self.persons = self.programmes.iter().map(|p| p.persons).sum();
        self.paid_fen = self.programmes.iter().map(|p| p.paid_fen).sum();
        self.sent_fen = self.programmes.iter().map(|p| p.sent_fen).sum();
        self.overdue_total = self.overdue.iter().map(|o| o.count).sum();
    }

    /// Yuan text of the fen paid on programmes (for pages and the export).
    pub fn paid_yuan(&self) -> String {
        Fen(self.paid_fen).to_yuan_string()
    }
    pub fn other_paid_yuan(&self) -> String {
        Fen(self.other_paid_fen).to_yuan_string()
    }
    pub fn aid_pending_yuan(&self) -> String {
        Fen(self.aid_pending_fen).to_yuan_string()
    }
}

/// `YYYY-MM`, or a Chinese error on `month`.
pub fn month_field(s: &str) -> AppResult<String> {
    let s = s.trim();
    let ok = s.len() == 7
        && chrono::NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").is_ok()
        && s.as_bytes().get(4) == Some(&b'-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(AppError::field(
            ErrorCode::Validation,
            "month",
            "月份应为 YYYY-MM，例如 2026-03",
        ))
    }
}

fn month_or_now(state: &AppState, m: Option<&str>) -> AppResult<String> {
    match m.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => month_field(s),
        None => Ok(state.today().format("%Y-%m").to_string()),
    }
}

/// The line of a region prefix: a child's, else the asked region's own (本级).
fn line<'a>(lines: &'a mut BTreeMap<String, StatLine>, key: &str) -> &'a mut StatLine {
    lines.entry(key.to_string()).or_insert_with(|| {
        let mut l = StatLine::empty(key, "本级");
        l.own_level = true;
        l
    })
}

/// The statistics of `region` (default: the caller's scope) for `month` (default: this month).
pub async fn statistics(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    month: Option<&str>,
) -> AppResult<Statistics> {
    actor.require(Permission::AssistanceRead)?;
    let month = month_or_now(state, month)?;
    let scope = actor.within_opt(region)?;
    compute(state, &scope, &month).await
}

async fn compute(state: &AppState, scope: &Scoped<'_>, month: &str) -> AppResult<Statistics> {
    let node = scope.node().clone();
    let code = node.as_str().to_string();
    let region_name = crate::regions::scope_name(state, &code).await?;
    let len = node.child_code_len();
    let children = queries::child_regions(state, node.region().map(RegionCode::as_str)).await?;
    let mut lines: BTreeMap<String, StatLine> = BTreeMap::new();
    for (c, n) in &children {
        let mut l = StatLine::empty(c, n);
        l.has_children = RegionCode::parse(c)
            .map(|r| r.level() < RegionLevel::Village)
            .unwrap_or(false);
        lines.insert(c.clone(), l);
    }
    for g in queries::stat_coverage(state, scope, len, month).await? {
        let per_household = Programme::parse(&g.sub)
            .map(|p| p.paid_per() == backstop_core::programme::PaidPer::Household)
            .unwrap_or(false);
        if let Some(p) = line(&mut lines, &g.key).programme(&g.sub) {
            p.households += if per_household { g.a } else { g.c + g.d };
            p.persons += g.b;
        }
    }
    for g in queries::stat_paid(state, scope, len, month).await? {
        let l = line(&mut lines, &g.key);
        match l.programme(&g.sub) {
            Some(p) => {
                p.paid_fen += g.a;
                p.sent_fen += g.c;
            }
            None => {
                l.other_paid_fen += g.a;
                l.other_sent_fen += g.c;
            }
        }
    }
    for g in queries::stat_applications(state, scope, len, month).await? {
        if let Some(a) = line(&mut lines, &g.key)
            .applications
            .iter_mut()
            .find(|a| a.key == g.sub)
        {
            a.count += g.a;
        }
    }
    for g in queries::stat_overdue(state, scope, len, state.now_ms()).await? {
        if let Some(a) = line(&mut lines, &g.key)
            .overdue
            .iter_mut()
            .find(|a| a.key == g.sub)
        {
            a.count += g.a;
        }
    }
    for g in queries::stat_pending(state, scope, len).await? {
        let l = line(&mut lines, &g.key);
        l.aid_pending += g.a;
        l.aid_pending_fen += g.b;
        l.exits_held += g.c;
        l.exits_to_review += g.d;
    }
    // Figures of child deployments whose records stay with them (issue 20): each of their
    // finest lines onto the line of the region it lies in, as a local record would be.
    for f in crate::federation::figures_under(state, FIGURES_KIND, month, scope.range()).await? {
        let Ok(fl) = serde_json::from_str::<StatLine>(&f.body) else {
            continue;
        };
        let key = f.region_code.get(..len).unwrap_or(&code).to_string();
        line(&mut lines, &key).add(&fl);
    }
    let mut own = Vec::new();
    let mut rest = Vec::new();
    for (_, mut l) in lines {
        l.finish();
        if l.own_level {
            l.region_name = format!("{region_name}（本级）");
            own.push(l);
        } else {
            rest.push(l);
        }
    }
    own.extend(rest);
    let mut total = StatLine::empty(&code, "合计");
    for l in &own {
        total.add(l);
    }
    Ok(Statistics {
        region_code: code,
        region_name,
        month: month.to_string(),
        paid_basis: PAID_BASIS.to_string(),
        lines: own,
        total,
    })
}

/// The kind of the assistance figures a child deployment sends up.
pub const FIGURES_KIND: &str = "assistance";

/// What a child deployment sends up for `region` (its node's) and `month`: the finest lines —
/// each village's, and the records kept at each township and at the region itself (本级) — as
/// this deployment's own statistics compute them, lines of nothing left out (issue 20; the
/// system reads, no personal data).
pub async fn node_lines(
    state: &AppState,
    region: &RegionCode,
    month: &str,
) -> AppResult<Vec<StatLine>> {
    let system = Actor::operator();
    let top = compute(state, &system.within(region)?, month).await?;
    let mut out = Vec::new();
    for l in top.lines.into_iter().filter(|l| !l.is_zero()) {
        match RegionCode::parse(&l.region_code) {
            Ok(c) if !l.own_level && l.has_children => {
                let below = compute(state, &system.within(&c)?, month).await?.lines;
                out.extend(below.into_iter().filter(|l| !l.is_zero()));
            }
            _ => out.push(l),
        }
    }
    Ok(out)
}

/// The records behind the coverage figures of a region (drill-down to the records): the
/// beneficiaries covered in the month, masked, at most 2000.
pub async fn records(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    month: Option<&str>,
    programme: Option<&str>,
) -> AppResult<Vec<Beneficiary>> {
    actor.require(Permission::AssistanceRead)?;
    let month = month_or_now(state, month)?;
    let programme = match programme.map(str::trim).filter(|s| !s.is_empty()) {
        Some(p) => Some(super::programme_field("programme", p)?.key()),
        None => None,
    };
    let scope = actor.within_opt(region)?;
    queries::covered_records(state, &scope, &month, programme).await
}

/// The statistics as an Excel workbook in the layout of the monthly civil-affairs
/// statistics: file name and bytes.
pub async fn export_xlsx(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    month: Option<&str>,
) -> AppResult<(String, Vec<u8>)> {
    let st = statistics(state, actor, region, month).await?;
    let bytes = workbook(&st)?;
    Ok((
        format!("assistance-{}-{}.xlsx", st.region_code, st.month),
        bytes,
    ))
}

fn workbook(st: &Statistics) -> AppResult<Vec<u8>> {
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal("xlsx", e);
    let n = |e: std::num::TryFromIntError| AppError::internal("xlsx", e);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("民政统计月报").map_err(x)?;
    let head = Format::new()
        .set_bold()
        .set_border(rust_xlsxwriter::FormatBorder::Thin)
        .set_align(FormatAlign::Center);
    let cell = Format::new().set_border(rust_xlsxwriter::FormatBorder::Thin);
    let money = Format::new()
        .set_border(rust_xlsxwriter::FormatBorder::Thin)
        .set_align(FormatAlign::Right);
    let programmes = Programme::ALL.len();
    let last_col = u16::try_from(2 + programmes * 3 + 1).map_err(n)?;
    ws.merged_text(
        (0, 0),
        (0, last_col),
        &format!("社会救助统计月报（{}，{}）", st.region_name, st.month),
        &head,
    )
    .map_err(x)?;
    ws.merged_text((1, 2), (0, 0), "区划代码", &head)
        .map_err(x)?;
    ws.merged_text((1, 2), (1, 1), "区划名称", &head)
        .map_err(x)?;
    for (i, p) in Programme::ALL.iter().enumerate() {
        let c = u16::try_from(2 + i * 3).map_err(n)?;
        ws.merged_text((1, 1), (c, c + 2), p.label(), &head)
            .map_err(x)?;
        ws.text(2, c, "户数", &head).map_err(x)?;
        ws.text(2, c + 1, "人数", &head).map_err(x)?;
        ws.text(2, c + 2, "支出金额(元)", &head).map_err(x)?;
    }
    ws.merged_text(
        (1, 1),
        (last_col - 1, last_col),
        "一次性生活补贴、价格临时补贴",
        &head,
    )
    .map_err(x)?;
    ws.text(2, last_col - 1, "支出金额(元)", &head).map_err(x)?;
    ws.text(2, last_col, "已报送金额(元)", &head).map_err(x)?;
    let mut row = 3u32;
    for l in st.lines.iter().chain(std::iter::once(&st.total)) {
        let (code, name) = if std::ptr::eq(l, &st.total) {
            ("", "合计")
        } else {
            (l.region_code.as_str(), l.region_name.as_str())
        };
        ws.text(row, 0, code, &cell).map_err(x)?;
        ws.text(row, 1, name, &cell).map_err(x)?;
        for (i, p) in l.programmes.iter().enumerate() {
            let c = u16::try_from(2 + i * 3).map_err(n)?;
            ws.write_number_with_format(row, c, p.households as f64, &cell)
                .map_err(x)?;
            ws.write_number_with_format(row, c + 1, p.persons as f64, &cell)
                .map_err(x)?;
            ws.text(row, c + 2, &Fen(p.paid_fen).to_yuan_string(), &money)
                .map_err(x)?;
        }
        ws.text(row, last_col - 1, &l.other_paid_yuan(), &money)
            .map_err(x)?;
        ws.text(
            row,
            last_col,
            &Fen(l.sent_fen + l.other_sent_fen).to_yuan_string(),
            &money,
        )
        .map_err(x)?;
        row += 1;
    }
    ws.text_plain(row + 1, 0, st.paid_basis.as_str())
        .map_err(x)?;
    ws.set_column_width(1, 24).map_err(x)?;
    wb.save_to_buffer().map_err(x)
}
