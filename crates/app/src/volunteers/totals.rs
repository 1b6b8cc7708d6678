//! Confirmed hours, totalled per volunteer, organisation and region (the region's children,
//! each the sum of everything under it), and the same as an Excel workbook (text cells
//! through `SafeCells`, so a name cannot become a formula). Only confirmed minutes count;
//! volunteers' names are masked.

use std::collections::BTreeMap;

use backstop_core::mask::mask_name;
use backstop_core::region::{RegionCode, Scope};
use rust_xlsxwriter::{Format, Workbook};
use serde::Serialize;

use super::hours_text;
use super::queries::{self, Credited};
use crate::kernel::actor::Actor;
use crate::kernel::cells::SafeCells;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// One line of the totals.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct TotalLine {
    /// Region code, organisation id or volunteer id (empty for "none").
    pub key: String,
    pub name: String,
    /// Confirmed minutes.
    pub minutes: i64,
    /// The same as people read it.
    pub hours: String,
    /// Confirmed shifts.
    pub shifts: i64,
    /// Distinct volunteers.
    pub volunteers: i64,
}

/// Confirmed hours under a region.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub region_code: String,
    pub region_name: String,
    pub total: TotalLine,
    /// The region's children (and the region itself, "本级", when tasks were posted there).
    pub regions: Vec<TotalLine>,
    pub orgs: Vec<TotalLine>,
    pub volunteers: Vec<TotalLine>,
}

fn line(key: String, name: String, rows: &[&Credited]) -> TotalLine {
    let minutes = rows.iter().map(|c| c.minutes).sum();
    let mut ids: Vec<i64> = rows.iter().map(|c| c.volunteer_id).collect();
    ids.sort_unstable();
    ids.dedup();
    TotalLine {
        key,
        name,
        hours: hours_text(minutes),
        minutes,
        shifts: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        volunteers: i64::try_from(ids.len()).unwrap_or(i64::MAX),
    }
}

/// Group `rows` by `key`, one line each, most minutes first.
fn grouped(rows: &[Credited], key: impl Fn(&Credited) -> (String, String)) -> Vec<TotalLine> {
    let mut groups: BTreeMap<String, (String, Vec<&Credited>)> = BTreeMap::new();
    for c in rows {
        let (k, name) = key(c);
        groups
            .entry(k)
            .or_insert_with(|| (name, Vec::new()))
            .1
            .push(c);
    }
    let mut out: Vec<TotalLine> = groups
        .into_iter()
        .map(|(k, (name, rows))| line(k, name, &rows))
        .collect();
    out.sort_by(|a, b| b.minutes.cmp(&a.minutes).then(a.key.cmp(&b.key)));
    out
}

/// Totals of confirmed hours in the actor's scope, or one region of it.
pub async fn totals(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<Totals> {
    actor.require(backstop_core::role::Permission::VolunteersManage)?;
    let scope = actor.within_opt(region)?;
    let code = match (region, &actor.scope) {
        (Some(c), _) => Some(c.clone()),
        (None, Scope::Region(c)) => Some(c.clone()),
        (None, Scope::National) => None,
    };
    let rows = queries::credited(state, &scope).await?;
    let (region_code, region_name) = match &code {
        Some(c) => (
            c.as_str().to_string(),
            crate::regions::find(state, c.as_str())
                .await?
                .map(|r| r.name)
                .unwrap_or_default(),
        ),
        None => (String::new(), "全国".to_string()),
    };
    let children = crate::regions::public_children(state, code.as_ref()).await?;
    let regions = {
        let mut lines = Vec::new();
        let own: Vec<&Credited> = rows
            .iter()
            .filter(|c| c.region_code == region_code)
            .collect();
        if !own.is_empty() {
            lines.push(line(region_code.clone(), "本级".to_string(), &own));
        }
        let mut placed = own.len();
        for ch in &children {
            let under: Vec<&Credited> = rows
                .iter()
                .filter(|c| c.region_code.starts_with(&ch.code) && c.region_code != region_code)
                .collect();
            placed += under.len();
            lines.push(line(ch.code.clone(), ch.name.clone(), &under));
        }
        if placed < rows.len() {
            // Codes under no listed child (a region not in the table): kept, so the lines add up.
            let rest: Vec<&Credited> = rows
                .iter()
                .filter(|c| {
                    c.region_code != region_code
                        && !children
                            .iter()
                            .any(|ch| c.region_code.starts_with(&ch.code))
                })
                .collect();
            lines.push(line(String::new(), "其他".to_string(), &rest));
        }
        lines
    };
    let all: Vec<&Credited> = rows.iter().collect();
    Ok(Totals {
        total: line(region_code.clone(), region_name.clone(), &all),
        region_code,
        region_name,
        regions,
        orgs: grouped(&rows, |c| match c.org_id {
            Some(id) => (id.to_string(), c.org_name.clone()),
            None => (String::new(), "未加入组织".to_string()),
        }),
        volunteers: grouped(&rows, |c| {
            (c.volunteer_id.to_string(), mask_name(&c.volunteer_name))
        }),
    })
}

/// The totals as an Excel workbook: (file name, bytes).
pub async fn export_xlsx(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
) -> AppResult<(String, Vec<u8>)> {
    let t = totals(state, actor, region).await?;
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal("xlsx", e);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("志愿服务时长").map_err(x)?;
    let head = Format::new().set_bold();
    let title = format!("志愿服务时长（已确认）：{}", t.region_name);
    ws.text(0, 0, &title, &head).map_err(x)?;
    let mut r = 2u32;
    for (section, lines) in [
        ("区划", &t.regions),
        ("社会组织", &t.orgs),
        ("志愿者", &t.volunteers),
    ] {
        ws.text(r, 0, section, &head).map_err(x)?;
        for (c, h) in ["名称", "时长（分钟）", "时长", "人次", "人数"]
            .iter()
            .enumerate()
        {
            let col = u16::try_from(c + 1).map_err(|e| AppError::internal("xlsx", e))?;
            ws.text(r, col, h, &head).map_err(x)?;
        }
        r += 1;
        for l in lines.iter().chain(std::iter::once(&t.total)) {
            ws.text_plain(r, 1, &l.name).map_err(x)?;
            // Minutes and counts are far below 2^53: exact as f64.
            #[allow(clippy::cast_precision_loss)]
            let nums = [l.minutes as f64, l.shifts as f64, l.volunteers as f64];
            ws.write_number(r, 2, nums[0]).map_err(x)?;
            ws.text_plain(r, 3, &l.hours).map_err(x)?;
            ws.write_number(r, 4, nums[1]).map_err(x)?;
            ws.write_number(r, 5, nums[2]).map_err(x)?;
            r += 1;
        }
        r += 1;
    }
    let bytes = wb.save_to_buffer().map_err(x)?;
    let code = if t.region_code.is_empty() {
        "all".to_string()
    } else {
        t.region_code.clone()
    };
    Ok((format!("volunteer-hours-{code}.xlsx"), bytes))
}
