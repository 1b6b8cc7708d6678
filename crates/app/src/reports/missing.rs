//! Completeness: the units under a region that have not reported a form for a period (the
//! list officials chase, and the reminders' addressees), with each unit's contact, and the
//! list as an Excel file.

use serde::Serialize;
use serde_json::json;

use super::{form_and_period, queries};
use crate::kernel::access::{Change, Scoped, Tx};
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// A unit that has not reported.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MissingUnit {
    /// Region code or `org:ID`.
    pub unit: String,
    pub name: String,
    pub region_code: String,
    /// The unit's contact person and phone (an organisation's; for a village, its community
    /// workers' names, shown only to those who may chase): in full for those who may chase,
    /// masked for everyone else (`chase::may_chase`).
    pub contact_person: String,
    pub contact_phone: String,
    /// Still missing after every reminder: escalated to its leader (`notify::escalate`),
    /// shown in red.
    pub escalated: bool,
}

/// Units under the handle's region that have not reported a form for a period.
pub async fn missing(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
) -> AppResult<Vec<MissingUnit>> {
    let (form, period) = form_and_period(state, scope, template, period).await?;
    let mut rows = queries::missing_units(state, &form, &period, scope, 10_000).await?;
    super::chase::village_contacts(state, scope.actor(), &mut rows).await?;
    super::chase::mark_escalated(state, &form.key, &period, &mut rows).await?;
    for m in &mut rows {
        super::chase::show_contact(scope.actor(), m);
    }
    Ok(rows)
}

/// The missing list as an Excel file `(file name, bytes)`: unit, code, contact person and
/// phone (as the actor may see them, `chase::show_contact`) and how often each was chased.
/// Every text cell goes through `kernel::cells`; the export is audited.
pub async fn missing_xlsx(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
) -> AppResult<(String, Vec<u8>)> {
    use crate::kernel::cells::SafeCells;
    use rust_xlsxwriter::{Format, FormatBorder, Workbook};
    let rows = missing(state, scope, template, period).await?;
    let sum = super::summary(state, scope, template, period).await?;
    let chases = super::chase::chases(state, scope, template, period).await?;
    let xerr = |e: rust_xlsxwriter::XlsxError| AppError::internal("xlsx", e);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("未报清单").map_err(xerr)?;
    let bold = Format::new().set_bold();
    let head = Format::new().set_bold().set_border(FormatBorder::Thin);
    let cell = Format::new().set_border(FormatBorder::Thin);
    let title = format!(
        "未报清单 · {} · {} · {}（共 {} 个单位）",
        sum.name,
        sum.region_name,
        sum.period,
        rows.len()
    );
    ws.text(0, 0, &title, &bold).map_err(xerr)?;
    let heads = [
        "单位",
        "区划代码",
        "联系人",
        "联系电话",
        "已催报次数",
        "最近催报",
    ];
    for (i, h) in heads.iter().enumerate() {
        ws.text(2, i as u16, h, &head).map_err(xerr)?;
        ws.set_column_width(i as u16, if i == 0 { 28 } else { 16 })
            .map_err(xerr)?;
    }
    for (r, m) in (3u32..).zip(&rows) {
        let mine: Vec<&super::chase::Chase> = chases.iter().filter(|c| c.unit == m.unit).collect();
        let last = mine
            .first()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(&c.chased_at).ok())
            .map(|t| backstop_core::clock::format_beijing(t.with_timezone(&chrono::Utc)))
            .unwrap_or_default();
        ws.text(r, 0, &m.name, &cell).map_err(xerr)?;
        ws.text(r, 1, &m.region_code, &cell).map_err(xerr)?;
        ws.text(r, 2, &m.contact_person, &cell).map_err(xerr)?;
        ws.text(r, 3, &m.contact_phone, &cell).map_err(xerr)?;
        ws.write_number_with_format(r, 4, mine.len() as f64, &cell)
            .map_err(xerr)?;
        ws.text(r, 5, &last, &cell).map_err(xerr)?;
    }
    let bytes = wb.save_to_buffer().map_err(xerr)?;
    Tx::begin(state, scope.actor())
        .await?
        .commit(
            Change::new(
                "report.missing_export",
                "report_period",
                format!("{}/{}", sum.template, sum.period),
                sum.code.clone(),
            )
            .detail(json!({"rows": rows.len(), "format": "xlsx"})),
        )
        .await?;
    Ok((
        format!("missing-{}-{}-{}.xlsx", sum.template, sum.code, sum.period),
        bytes,
    ))
}
