//! Outcomes and statistics (issue 19 items 5 and 6). Staff mark a booking done or a no-show
//! (on or after its day); a cancellation within N hours of its slot counts as late (N a
//! setting per organisation, default 24, judged from the time it was cancelled). Statistics per
//! registry (or funeral home) and day — booked (bookings now on the day, any status), done,
//! cancelled, late-cancelled, rebooked (moved off the day by a block or lower cap), no-show —
//! rolled up the region tree; and the funeral rollup: deaths handled (requests with a job done,
//! on the day of the first), epidemic-related, vehicle-hours and cremator slots used, per
//! funeral home and day and per region. Epidemic deaths from 1 to 4 are shown as `<5` in rows
//! below county level (and for homes there), so a village's figure does not identify a family.
//! Both as Excel workbooks (text cells through `SafeCells`: formula-neutralised).

use std::collections::BTreeMap;

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel};
use backstop_core::role::Permission;
use rust_xlsxwriter::{Format, Workbook};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::book::Booking;
use super::queries;
use crate::kernel::access::{Change, Scoped, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::cells::SafeCells;
use crate::kernel::error::{AppError, AppResult, date_field};
use crate::state::AppState;

/// Default hours before the slot within which a cancellation is late.
pub const LATE_CANCEL_HOURS: i64 = 24;

/// `?region=&from=&to=` of the statistics.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct StatsQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// `YYYY-MM-DD`; default today.
    pub from: Option<String>,
    /// `YYYY-MM-DD`; default `from` (at most 92 days).
    pub to: Option<String>,
}

/// Body of `POST /api/v1/bookings/{id}/outcome`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct Outcome {
    /// `done` or `no_show`.
    pub outcome: String,
}

/// Body and answer of `POST /api/v1/bookings/orgs/{id}/late-cancel`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LateCancel {
    /// Hours before the slot (0–168).
    pub hours: i64,
}

/// One row of booking statistics: a region, an organisation's day, or the total.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct BookingRow {
    /// Region code, `org:ID:DAY`, or the asked region for the total.
    pub key: String,
    pub name: String,
    /// The day (organisation rows), else empty.
    pub day: String,
    pub booked: i64,
    pub done: i64,
    pub cancelled: i64,
    pub late_cancelled: i64,
    pub rebooked: i64,
    pub no_show: i64,
}

/// Booking statistics.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BookingStats {
    pub region_code: String,
    pub region_name: String,
    pub from: String,
    pub to: String,
    pub regions: Vec<BookingRow>,
    pub orgs: Vec<BookingRow>,
    pub total: BookingRow,
}

/// One row of the funeral rollup.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FuneralRow {
    pub key: String,
    pub name: String,
    pub day: String,
    /// Epidemic counts 1–4 shown as `<5`.
    pub masked: bool,
    pub deaths: i64,
    /// Epidemic-related deaths (`<5` where masked).
    pub epidemic: String,
    pub vehicle_hours: i64,
    pub cremator_slots: i64,
}

/// The funeral rollup.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FuneralStats {
    pub region_code: String,
    pub region_name: String,
    pub from: String,
    pub to: String,
    pub regions: Vec<FuneralRow>,
    pub homes: Vec<FuneralRow>,
    pub total: FuneralRow,
}

fn bad(field: &str, m: impl Into<String>) -> AppError {
    AppError::field(ErrorCode::Validation, field, m)
}

/// Mark a booked booking done or a no-show (bookings.manage, on or after its day).
pub async fn mark(state: &AppState, actor: &Actor, id: i64, input: &Outcome) -> AppResult<Booking> {
    actor.require(Permission::BookingsManage)?;
    let b = super::book::get(state, actor, id).await?;
    let outcome = input.outcome.trim();
    if !matches!(outcome, "done" | "no_show") {
        return Err(bad("outcome", "应为 done（已办理）或 no_show（未到）"));
    }
    if b.status != "booked" {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!("该预约{}，不能再登记", b.status_label),
        ));
    }
    if b.day > state.today().format("%Y-%m-%d").to_string() {
        return Err(AppError::msg(ErrorCode::Conflict, "预约日尚未到"));
    }
    let mut tx = Tx::begin(state, actor).await?;
    if queries::mark_outcome(&mut tx, &b, outcome).await? != 1 {
        return Err(AppError::msg(ErrorCode::Conflict, "该预约状态已变化"));
    }
    let divorce = match outcome {
        "done" => super::divorce::on_done(state, &mut tx, &b).await?,
        _ => None,
    };
    tx.commit(
        Change::new("booking.outcome", "booking", b.id, &b.region_code)
            .detail(json!({"status": {"before": b.status, "after": outcome}, "divorce": divorce})),
    )
    .await?;
    super::book::get(state, actor, id).await
}

/// Set an organisation's late-cancel hours (bookings.manage).
pub async fn set_late_cancel(
    state: &AppState,
    actor: &Actor,
    org_id: i64,
    input: &LateCancel,
) -> AppResult<LateCancel> {
    actor.require(Permission::BookingsManage)?;
    let o = super::org(state, actor, org_id).await?;
    if !(0..=168).contains(&input.hours) {
        return Err(bad("hours", "应在 0 到 168 小时之间"));
    }
    let before = queries::late_cancel_hours(state)
        .await?
        .get(&o.id)
        .copied()
        .unwrap_or(LATE_CANCEL_HOURS);
    let mut tx = Tx::begin(state, actor).await?;
    queries::set_late_cancel(&mut tx, o.id, input.hours, &actor.username).await?;
    tx.commit(
        Change::new("booking.late_cancel", "org", o.id, &o.region_code)
            .detail(json!({"hours": {"before": before, "after": input.hours}})),
    )
    .await?;
    Ok(input.clone())
}

/// The handle, period and names a report reads with.
struct Frame<'a> {
    scope: Scoped<'a>,
    node: String,
    from: String,
    to: String,
    names: BTreeMap<i64, String>,
}

async fn frame<'a>(state: &AppState, actor: &'a Actor, q: &StatsQuery) -> AppResult<Frame<'a>> {
    super::may_read(actor)?;
    let region = crate::kernel::extract::region_param(q.region.as_deref())?;
    let scope = actor.within_opt(region.as_ref())?;
    let pick = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let from = match pick(&q.from) {
        Some(d) => date_field("from", &d)?,
        None => state.today(),
    };
    let to = match pick(&q.to) {
        Some(d) => date_field("to", &d)?,
        None => from,
    };
    if to < from || (to - from).num_days() > 92 {
        return Err(bad("to", "结束日期应不早于开始日期，且相隔不超过 92 天"));
    }
    let names = queries::orgs(state, &scope)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    Ok(Frame {
        node: scope.node().as_str().to_string(),
        scope,
        from: from.format("%Y-%m-%d").to_string(),
        to: to.format("%Y-%m-%d").to_string(),
        names,
    })
}

impl Frame<'_> {
    /// Does a row of this organisation count for the actor (one tied to an organisation: its
    /// own only)?
    fn counts(&self, org: i64) -> bool {
        self.scope.org().is_none_or(|mine| mine == org)
    }

    /// The row a region code rolls up into: its ancestor one level below the node (the node
    /// itself for codes at its own level).
    fn child_of(&self, code: &str) -> String {
        let child = if self.node == "0" {
            Some(RegionLevel::Province)
        } else {
            RegionCode::parse(&self.node)
                .ok()
                .and_then(|c| c.level().child())
        };
        match (child, RegionCode::parse(code)) {
            (Some(l), Ok(c)) => c
                .prefix_at(l)
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| self.node.clone()),
            _ => self.node.clone(),
        }
    }

    fn org_name(&self, id: i64) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("机构 {id}"))
    }
}

/// Unix ms of `day` `HH:MM` in Beijing.
fn slot_ms(day: &str, starts: &str) -> Option<i64> {
    let t =
        chrono::NaiveDateTime::parse_from_str(&format!("{day} {starts}"), "%Y-%m-%d %H:%M").ok()?;
    Some(t.and_utc().timestamp_millis() - 8 * 3_600_000)
}

/// Booking statistics for a region of the caller's scope and a period.
pub async fn bookings(state: &AppState, actor: &Actor, q: &StatsQuery) -> AppResult<BookingStats> {
    let f = frame(state, actor, q).await?;
    let late = queries::late_cancel_hours(state).await?;
    let mut regions: BTreeMap<String, BookingRow> = BTreeMap::new();
    let mut orgs: BTreeMap<(String, i64), BookingRow> = BTreeMap::new();
    let mut total = BookingRow::default();
    let mut each = |code: &str, org: i64, day: &str, add: &dyn Fn(&mut BookingRow)| {
        add(regions.entry(f.child_of(code)).or_default());
        add(orgs.entry((day.to_string(), org)).or_default());
        add(&mut total);
    };
    for b in queries::booking_facts(state, &f.scope, &f.from, &f.to).await? {
        if !f.counts(b.org_id) {
            continue;
        }
        let hours = late.get(&b.org_id).copied().unwrap_or(LATE_CANCEL_HOURS);
        let is_late = b.status == "cancelled"
            && slot_ms(&b.day, &b.starts).is_some_and(|s| b.updated_at >= s - hours * 3_600_000);
        each(&b.region_code, b.org_id, &b.day, &|r: &mut BookingRow| {
            r.booked += 1;
            match b.status.as_str() {
                "done" => r.done += 1,
                "no_show" => r.no_show += 1,
                "cancelled" => {
                    r.cancelled += 1;
                    r.late_cancelled += i64::from(is_late);
                }
                _ => {}
            }
        });
    }
    for (code, org, day, n) in queries::rebooked(state, &f.scope, &f.from, &f.to).await? {
        if f.counts(org) {
            each(&code, org, &day, &|r: &mut BookingRow| r.rebooked += n);
        }
    }
    let mut region_rows = Vec::new();
    for (code, mut r) in regions {
        r.name = crate::regions::scope_name(state, &code).await?;
        r.key = code;
        region_rows.push(r);
    }
    let org_rows = orgs
        .into_iter()
        .map(|((day, org), mut r)| {
            r.key = format!("org:{org}:{day}");
            r.name = f.org_name(org);
            r.day = day;
            r
        })
        .collect();
    let name = crate::regions::scope_name(state, &f.node).await?;
    total.key = f.node.clone();
    total.name = name.clone();
    Ok(BookingStats {
        region_code: f.node,
        region_name: name,
        from: f.from,
        to: f.to,
        regions: region_rows,
        orgs: org_rows,
        total,
    })
}

/// Raw sums of a funeral row.
#[derive(Debug, Clone, Default)]
struct Tally {
    deaths: i64,
    epidemic: i64,
    vehicle_hours: i64,
    cremator_slots: i64,
}

impl Tally {
    fn row(&self, key: String, name: String, day: String, masked: bool) -> FuneralRow {
        FuneralRow {
            key,
            name,
            day,
            masked,
            deaths: self.deaths,
            epidemic: if masked && (1..5).contains(&self.epidemic) {
                "<5".to_string()
            } else {
                self.epidemic.to_string()
            },
            vehicle_hours: self.vehicle_hours,
            cremator_slots: self.cremator_slots,
        }
    }
}

/// The funeral rollup for a region of the caller's scope and a period.
pub async fn funeral(state: &AppState, actor: &Actor, q: &StatsQuery) -> AppResult<FuneralStats> {
    let f = frame(state, actor, q).await?;
    let mut regions: BTreeMap<String, Tally> = BTreeMap::new();
    let mut homes: BTreeMap<(String, i64), (String, Tally)> = BTreeMap::new();
    let mut total = Tally::default();
    let mut each = |code: &str, org: i64, day: &str, add: &dyn Fn(&mut Tally)| {
        add(regions.entry(f.child_of(code)).or_default());
        add(&mut homes
            .entry((day.to_string(), org))
            .or_insert_with(|| (code.to_string(), Tally::default()))
            .1);
        add(&mut total);
    };
    for (code, org, day, epidemic) in queries::handled(state, &f.scope, &f.from, &f.to).await? {
        if f.counts(org) {
            each(&code, org, &day, &|t: &mut Tally| {
                t.deaths += 1;
                t.epidemic += i64::from(epidemic);
            });
        }
    }
    for (code, org, day, kind, n, h) in queries::used(state, &f.scope, &f.from, &f.to).await? {
        if f.counts(org) {
            each(&code, org, &day, &|t: &mut Tally| match kind.as_str() {
                "collection" => t.vehicle_hours += h,
                _ => t.cremator_slots += n,
            });
        }
    }
    let mut region_rows = Vec::new();
    for (code, t) in &regions {
        let name = crate::regions::scope_name(state, code).await?;
        region_rows.push(t.row(
            code.clone(),
            name,
            String::new(),
            crate::regions::below_county(code),
        ));
    }
    let home_rows = homes
        .iter()
        .map(|((day, org), (code, t))| {
            t.row(
                format!("org:{org}:{day}"),
                f.org_name(*org),
                day.clone(),
                crate::regions::below_county(code),
            )
        })
        .collect();
    let name = crate::regions::scope_name(state, &f.node).await?;
    Ok(FuneralStats {
        total: total.row(
            f.node.clone(),
            name.clone(),
            String::new(),
            crate::regions::below_county(&f.node),
        ),
        region_code: f.node,
        region_name: name,
        from: f.from,
        to: f.to,
        regions: region_rows,
        homes: home_rows,
    })
}

/// A workbook of one sheet: a title, a header row and text or number cells.
fn workbook(sheet: &str, title: &str, head: &[&str], rows: &[Vec<String>]) -> AppResult<Vec<u8>> {
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal("xlsx", e);
    let col = |i: usize| u16::try_from(i).map_err(|e| AppError::internal("xlsx", e));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(sheet).map_err(x)?;
    let bold = Format::new().set_bold();
    ws.text(0, 0, title, &bold).map_err(x)?;
    for (i, h) in head.iter().enumerate() {
        ws.text(2, col(i)?, h, &bold).map_err(x)?;
    }
    for (r, row) in (3u32..).zip(rows) {
        for (i, v) in row.iter().enumerate() {
            match v.parse::<i32>() {
                Ok(n) if i >= 3 => {
                    ws.write_number(r, col(i)?, f64::from(n)).map_err(x)?;
                }
                _ => ws.text_plain(r, col(i)?, v).map_err(x)?,
            }
        }
    }
    wb.save_to_buffer().map_err(x)
}

/// Booking statistics as a workbook: (file name, bytes).
pub async fn bookings_xlsx(
    state: &AppState,
    actor: &Actor,
    q: &StatsQuery,
) -> AppResult<(String, Vec<u8>)> {
    let st = bookings(state, actor, q).await?;
    let lines = st.regions.iter().chain(&st.orgs).chain([&st.total]);
    let span = [&st.region_code, &st.region_name, &st.from, &st.to];
    let head = "代码 名称 日期 预约 已办理 取消 临近取消 改约 未到";
    download("bookings", "预约统计", span, head, lines, |r| {
        let counts = [
            r.booked,
            r.done,
            r.cancelled,
            r.late_cancelled,
            r.rebooked,
            r.no_show,
        ];
        let mut cells = vec![r.key.clone(), r.name.clone(), r.day.clone()];
        cells.extend(counts.iter().map(i64::to_string));
        cells
    })
}

/// The funeral rollup as a workbook: (file name, bytes), masked as on screen.
pub async fn funeral_xlsx(
    state: &AppState,
    actor: &Actor,
    q: &StatsQuery,
) -> AppResult<(String, Vec<u8>)> {
    let st = funeral(state, actor, q).await?;
    let lines = st.regions.iter().chain(&st.homes).chain([&st.total]);
    let span = [&st.region_code, &st.region_name, &st.from, &st.to];
    let head = "代码 名称 日期 处理遗体 其中疫情相关 车辆使用(小时) 火化炉使用(炉次)";
    download("funeral", "殡葬服务统计", span, head, lines, |r| {
        vec![
            r.key.clone(),
            r.name.clone(),
            r.day.clone(),
            r.deaths.to_string(),
            r.epidemic.clone(),
            r.vehicle_hours.to_string(),
            r.cremator_slots.to_string(),
        ]
    })
}

/// One statistics table as a download: a row per line through `cells`, titled
/// "<sheet>（<region name>，<from> 至 <to>）" and named `<file>-<region>-<from>-<to>.xlsx`;
/// `span` is (region code, region name, from, to), `head` the column titles between spaces.
fn download<'a, R: 'a>(
    file: &str,
    sheet: &str,
    span: [&String; 4],
    head: &str,
    lines: impl Iterator<Item = &'a R>,
    cells: impl Fn(&R) -> Vec<String>,
) -> AppResult<(String, Vec<u8>)> {
    let [code, name, from, to] = span;
    let rows: Vec<Vec<String>> = lines.map(cells).collect();
    let bytes = workbook(
        sheet,
        &format!("{sheet}（{name}，{from} 至 {to}）"),
        &head.split(' ').collect::<Vec<_>>(),
        &rows,
    )?;
    Ok((format!("{file}-{code}-{from}-{to}.xlsx"), bytes))
}
