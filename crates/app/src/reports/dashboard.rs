//! Dashboards and exports: trends of a form's key figures over the last weeks (from the
//! rollup tables, one range read), the dashboard page for a region and a date, and the Excel
//! export of a summary laid out as officials expect (title and date on top, one row per child
//! region, a totals row). Exports are audited.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use backstop_core::role::Permission;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::form::{FieldType, Period};
use crate::kernel::access::{Change, Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::extract::Page;
use crate::kernel::web::{Nav, PageResult, render};
use crate::state::AppState;

/// One day of a trend.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrendPoint {
    pub period: String,
    pub expected: Option<i64>,
    pub received: i64,
    pub on_time: i64,
    #[schema(value_type = Object)]
    pub sums: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Trend {
    pub template: String,
    pub code: String,
    pub points: Vec<TrendPoint>,
}

/// Daily figures of a form for the handle's region over the last `days` days up to `until`.
pub async fn trend(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    days: i64,
    until: Option<NaiveDate>,
) -> AppResult<Trend> {
    let form = super::form_to_read(state, scope, template).await?;
    if form.period != Period::Daily {
        return Err(AppError::field(
            backstop_core::error::ErrorCode::Validation,
            "template",
            "趋势只适用于日报",
        ));
    }
    let days = days.clamp(1, 120);
    let end = until.unwrap_or_else(|| state.today());
    let start = end - chrono::Duration::days(days - 1);
    let (lo, hi) = (
        start.format("%Y-%m-%d").to_string(),
        end.format("%Y-%m-%d").to_string(),
    );
    let (expected, _) = super::summary::expected(state, &form, scope, None).await?;
    let (counts, sums) = super::queries::rollups_over(state, scope, &form.key, &lo, &hi).await?;
    let mut points = Vec::new();
    let mut d = start;
    while d <= end {
        let p = d.format("%Y-%m-%d").to_string();
        let (received, on_time) = counts.get(&p).copied().unwrap_or((0, 0));
        let rows = sums.get(&p).map(Vec::as_slice).unwrap_or(&[]);
        points.push(TrendPoint {
            expected: Some(expected),
            received,
            on_time,
            sums: super::sums_map(&form, rows),
            period: p,
        });
        d = d.succ_opt().unwrap_or(end + chrono::Duration::days(1));
    }
    Ok(Trend {
        template: form.key,
        code: scope.node().as_str().to_string(),
        points,
    })
}

/// An Excel workbook of a summary: title, date and region on top, one row per child region,
/// a totals row. The export is audited.
pub async fn export_xlsx(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
) -> AppResult<(String, Vec<u8>)> {
    use crate::kernel::cells::SafeCells;
    use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};
    let actor = scope.actor();
    let sum = super::summary(state, scope, template, period).await?;
    let form = super::load_form(state, &sum.template, None)
        .await?
        .ok_or_else(AppError::not_found)?;
    let fields: Vec<&super::form::Field> = form.summable().collect();
    let xerr = |e: rust_xlsxwriter::XlsxError| AppError::internal("xlsx", e);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("汇总").map_err(xerr)?;
    let title = Format::new()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center);
    let head = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_text_wrap();
    let cell = Format::new().set_border(FormatBorder::Thin);
    let total = Format::new().set_bold().set_border(FormatBorder::Thin);
    let ncols = (5 + fields.len()) as u16;
    ws.merged_text((0, 0), (0, ncols - 1), &sum.name, &title)
        .map_err(xerr)?;
    let sub = format!(
        "填报单位：{}    统计日期：{}    导出人：{}",
        sum.region_name, sum.period, actor.username
    );
    ws.merged_text((1, 1), (0, ncols - 1), &sub, &Format::new())
        .map_err(xerr)?;
    let mut headers = vec![
        "区划".to_string(),
        "区划代码".into(),
        "应报".into(),
        "已报".into(),
        "按时".into(),
    ];
    headers.extend(fields.iter().map(|f| {
        if f.unit.is_empty() {
            f.label.clone()
        } else {
            format!("{}（{}）", f.label, f.unit)
        }
    }));
    for (i, h) in headers.iter().enumerate() {
        ws.text(2, i as u16, h, &head).map_err(xerr)?;
        ws.set_column_width(i as u16, if i == 0 { 22 } else { 12 })
            .map_err(xerr)?;
    }
    let num = |v: Option<&Value>| v.and_then(Value::as_f64).unwrap_or(0.0);
    // One row: region name and code, expected, received, on time, then each field's sum.
    let mut write = |row: u32, name: &str, f: &super::Figures, format: &Format| {
        ws.text(row, 0, name, format)?;
        ws.text(row, 1, &f.code, format)?;
        let counts = [f.expected.unwrap_or(0), f.received, f.on_time];
        for (col, n) in (2u16..).zip(counts) {
            ws.write_number_with_format(row, col, n as f64, format)?;
        }
        for (col, field) in (5u16..).zip(&fields) {
            ws.write_number_with_format(row, col, num(f.sums.get(&field.key)), format)?;
        }
        Ok::<(), rust_xlsxwriter::XlsxError>(())
    };
    let mut row = 3u32;
    for c in &sum.children {
        write(row, &c.name, c, &cell).map_err(xerr)?;
        row += 1;
    }
    write(row, "合计", &sum.totals(), &total).map_err(xerr)?;
    let bytes = wb.save_to_buffer().map_err(xerr)?;
    Tx::begin(state, actor)
        .await?
        .commit(
            Change::new(
                "report.export",
                "report_summary",
                format!("{}/{}", sum.template, sum.period),
                sum.code.clone(),
            )
            .detail(json!({"rows": sum.children.len(), "format": "xlsx"})),
        )
        .await?;
    Ok((
        format!("{}-{}-{}.xlsx", sum.template, sum.code, sum.period),
        bytes,
    ))
}

#[derive(Deserialize)]
pub struct ExportQuery {
    template: String,
    period: Option<String>,
    region: Option<String>,
}

pub async fn export_page(
    State(s): State<AppState>,
    Page(a): Page,
    Query(q): Query<ExportQuery>,
) -> PageResult {
    let period = q
        .period
        .unwrap_or_else(|| s.today().format("%Y-%m-%d").to_string());
    let scope = super::area(&a.actor, q.region.as_deref())?;
    let (name, bytes) = export_xlsx(&s, &scope, &q.template, &period).await?;
    Ok(crate::kernel::cells::xlsx_download(&name, bytes))
}

struct FormCard {
    key: String,
    name: String,
    expected: String,
    received: i64,
    on_time: i64,
    rate: String,
    figures: Vec<(String, String)>,
    chart_fields: String,
    chart_labels: String,
}

struct MapRow {
    code: String,
    name: String,
    expected: String,
    received: i64,
    rate: String,
    class: &'static str,
}

#[derive(Template)]
#[template(path = "reports_dashboard.html")]
struct DashboardPage {
    /// Child deployments this region reports through (issue 20), with a warning when late.
    nodes: Vec<crate::federation::NodeSync>,
    nav: Option<Nav>,
    region: String,
    region_name: String,
    date: String,
    cards: Vec<FormCard>,
    map: Vec<MapRow>,
    incidents: Vec<(i64, String, String)>,
    open_incidents: usize,
    overdue_rectifications: i64,
    open_shortages: usize,
}

#[derive(Deserialize)]
pub struct DashQuery {
    region: Option<String>,
    date: Option<String>,
}

pub async fn dashboard_page(
    State(s): State<AppState>,
    Page(a): Page,
    Query(q): Query<DashQuery>,
) -> Response {
    match dashboard(&s, &a, q).await {
        Ok(r) => r,
        Err(e) => crate::kernel::web::PageError(e).into_response(),
    }
}

async fn dashboard(
    s: &AppState,
    a: &crate::kernel::auth::Authed,
    q: DashQuery,
) -> AppResult<Response> {
    let actor = &a.actor;
    actor.require(Permission::ReportsRead)?;
    let date = q
        .date
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| s.today().format("%Y-%m-%d").to_string());
    let scope = super::area(actor, q.region.as_deref())?;
    let region = scope.node().as_str().to_string();
    let forms = super::list_forms(s, actor).await?;
    let mut cards = Vec::new();
    let mut map = Vec::new();
    let mut region_name = String::new();
    for f in forms.iter().filter(|f| f.period == Period::Daily) {
        let sum = super::summary(s, &scope, &f.key, &date).await?;
        region_name = sum.region_name.clone();
        let (rate, _) = super::pages_rate(sum.received, sum.expected);
        let shown: Vec<&super::form::Field> = f
            .summable()
            .filter(|x| x.kind != FieldType::YesNo)
            .take(4)
            .collect();
        if f.key == "village_daily"
            || (map.is_empty() && f.unit_type == super::form::UnitType::Village)
        {
            map = sum
                .children
                .iter()
                .map(|c| {
                    let (r, class) = super::pages_rate(c.received, c.expected);
                    MapRow {
                        code: c.code.clone(),
                        name: c.name.clone(),
                        expected: c.expected.map(|e| e.to_string()).unwrap_or_default(),
                        received: c.received,
                        rate: r,
                        class,
                    }
                })
                .collect();
        }
        cards.push(FormCard {
            key: f.key.clone(),
            name: f.name.clone(),
            expected: sum
                .expected
                .map(|e| e.to_string())
                .unwrap_or_else(|| "—".into()),
            received: sum.received,
            on_time: sum.on_time,
            rate,
            figures: shown
                .iter()
                .map(|x| {
                    (
                        x.label.clone(),
                        sum.sums
                            .get(&x.key)
                            .map(|v| v.to_string())
                            .unwrap_or_else(|| "0".into()),
                    )
                })
                .collect(),
            chart_fields: shown
                .iter()
                .map(|x| x.key.clone())
                .collect::<Vec<_>>()
                .join(","),
            chart_labels: shown
                .iter()
                .map(|x| x.label.replace(',', "，"))
                .collect::<Vec<_>>()
                .join(","),
        });
    }
    let open = super::incidents::list(s, actor, true, 200).await?;
    let incidents = open
        .iter()
        .take(5)
        .map(|i| {
            (
                i.id,
                i.unit_name.clone(),
                i.values
                    .get("event_kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    // Overdue rectifications and open shortage requests in the visitor's scope (roles that
    // may not read them count none).
    let overdue_rectifications = crate::inspections::overdue_count(s, actor)
        .await
        .unwrap_or(0);
    let open_shortages = crate::institutions::list_shortages(s, actor, Some("open"), None)
        .await
        .map(|v| v.len())
        .unwrap_or(0);
    let nodes = crate::federation::syncs_for(s, &region).await?;
    Ok(render(&DashboardPage {
        nodes,
        nav: Some(Nav::for_actor(actor, "/reports")),
        overdue_rectifications,
        open_shortages,
        region,
        region_name,
        date,
        cards,
        map,
        open_incidents: open.len(),
        incidents,
    }))
}
