//! The need figures from reports beside the allocation choice (issue 18 item 4): for the
//! campaign's region (or the narrower scope of the reader), each child region's institutions'
//! daily report of the day (民政服务机构疫情防控日报) — how many reported, residents, fever,
//! suspected and confirmed cases, people isolated, and the days of masks and disinfectant
//! left on average — regions with cases first, then the fewest days of masks. Only the region
//! sums of the rollup are read (never a unit's report), under the reader's region scope, with
//! the donations permission: a charity's allocator holds no `reports.read`.

use backstop_core::region::RegionCode;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// The report the figures come from.
pub const FORM: &str = "institution_daily";

/// One region's institutions, from their daily reports of the day.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RegionReportFigures {
    pub region_code: String,
    pub region_name: String,
    /// Institutions that must report, and that have.
    pub expected: i64,
    pub reported: i64,
    pub residents: i64,
    /// Residents and staff with fever.
    pub fever: i64,
    /// Suspected and confirmed cases.
    pub cases: i64,
    pub isolated: i64,
    /// Days of masks left, summed over the reports ÷ reports (tenths of a day); none when
    /// nothing was reported.
    pub mask_days_avg_tenths: Option<i64>,
    pub disinfectant_days_avg_tenths: Option<i64>,
}

impl RegionReportFigures {
    /// A tenths value as "2.5".
    pub fn days_text(v: &Option<i64>) -> String {
        v.map_or_else(|| "—".to_string(), |t| format!("{}.{}", t / 10, t % 10))
    }

    /// The average days of masks left, as text.
    pub fn mask_days_text(&self) -> String {
        Self::days_text(&self.mask_days_avg_tenths)
    }

    /// The average days of disinfectant left, as text.
    pub fn disinfectant_days_text(&self) -> String {
        Self::days_text(&self.disinfectant_days_avg_tenths)
    }

    /// Few days of masks left (under three on average).
    pub fn short_of_masks(&self) -> bool {
        self.mask_days_avg_tenths.is_some_and(|t| t < 30)
    }
}

/// The institutions' figures of the day, per child region of the campaign's region (or of the
/// reader's scope when that is narrower), most pressing first; empty when the reader's scope
/// and the campaign's region do not meet or no institution must report there.
pub async fn by_region(
    state: &AppState,
    actor: &Actor,
    campaign_id: i64,
) -> AppResult<Vec<RegionReportFigures>> {
    super::may_read(actor)?;
    let c = super::campaign(state, actor, campaign_id).await?;
    let region = RegionCode::parse(&c.region_code).map_err(|_| AppError::not_found())?;
    let scope = if actor.sees(&region) {
        actor.within(&region)?
    } else {
        actor.everywhere()
    };
    let today = state.today().format("%Y-%m-%d").to_string();
    let s = crate::reports::region_sums(state, &scope, FORM, &today).await?;
    let mut out: Vec<RegionReportFigures> = s
        .children
        .iter()
        .filter(|f| f.expected.unwrap_or(0) > 0 || f.received > 0)
        .map(|f| figures(&f.code, &f.name, f.expected, f.received, &f.sums))
        .collect();
    out.sort_by(|a, b| {
        (
            b.cases,
            a.mask_days_avg_tenths.unwrap_or(i64::MAX),
            &a.region_code,
        )
            .cmp(&(
                a.cases,
                b.mask_days_avg_tenths.unwrap_or(i64::MAX),
                &b.region_code,
            ))
    });
    Ok(out)
}

fn figures(
    code: &str,
    name: &str,
    expected: Option<i64>,
    reported: i64,
    sums: &Map<String, Value>,
) -> RegionReportFigures {
    let n = |k: &str| sums.get(k).and_then(Value::as_i64).unwrap_or(0);
    let avg = |k: &str| (reported > 0).then(|| n(k) * 10 / reported);
    RegionReportFigures {
        region_code: code.to_string(),
        region_name: name.to_string(),
        expected: expected.unwrap_or(0),
        reported,
        residents: n("residents"),
        fever: n("resident_fever") + n("staff_fever"),
        cases: n("suspected") + n("confirmed"),
        isolated: n("isolated"),
        mask_days_avg_tenths: avg("mask_days"),
        disinfectant_days_avg_tenths: avg("disinfectant_days"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn figures_add_fields_and_average_days() {
        let sums = json!({"residents": 120, "resident_fever": 2, "staff_fever": 1, "suspected": 1,
            "confirmed": 2, "isolated": 4, "mask_days": 7, "disinfectant_days": 20});
        let f = figures("420102", "江岸区", Some(3), 2, sums.as_object().unwrap());
        assert_eq!((f.fever, f.cases, f.isolated, f.residents), (3, 3, 4, 120));
        assert_eq!(f.mask_days_avg_tenths, Some(35));
        assert_eq!(
            RegionReportFigures::days_text(&f.mask_days_avg_tenths),
            "3.5"
        );
        assert!(!f.short_of_masks());
        let none = figures("420103", "江汉区", Some(1), 0, &Map::new());
        assert_eq!(none.mask_days_avg_tenths, None);
        assert_eq!(RegionReportFigures::days_text(&None), "—");
    }
}
