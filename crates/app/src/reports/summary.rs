//! Summaries: the live figures of a form for a period at one region and each of its children
//! (expected units, received, on time, sums), read from the rollup rows by primary key, with
//! the expected counts cached. The region is the node of a scoped handle.

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use serde::Serialize;
use serde_json::{Map, Value};

use super::form::{Form, UnitType};
use super::rollup::sums_map;
use super::{NATION, form_and_period, form_to_read, queries};
use crate::kernel::access::Scoped;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// Figures for one region.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub code: String,
    pub name: String,
    /// Units that must report (null for immediate reports).
    pub expected: Option<i64>,
    pub received: i64,
    pub on_time: i64,
    #[schema(value_type = Object)]
    pub sums: Map<String, Value>,
}

/// `GET /api/v1/reports/summary`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub template: String,
    pub name: String,
    pub period: String,
    pub code: String,
    pub region_name: String,
    pub expected: Option<i64>,
    pub received: i64,
    pub on_time: i64,
    #[schema(value_type = Object)]
    pub sums: Map<String, Value>,
    pub children: Vec<Figures>,
    /// Cumulative sums (累计) over `from..=until`, when asked for (`from` of the API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cumulative: Option<Cumulative>,
    /// Child deployments through which (part of) the region reports, with their last
    /// synchronisation and whether they are late (issue 20); filled by the summary API and page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<crate::federation::NodeSync>,
}

/// Cumulative sums (累计) of a daily form over a date range: the region's and its children's.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Cumulative {
    pub from: String,
    pub until: String,
    #[schema(value_type = Object)]
    pub sums: Map<String, Value>,
    /// Child region code → its sums.
    #[schema(value_type = Object)]
    pub children: Map<String, Value>,
}

impl Summary {
    /// The region's own figures (the totals row of a table of its children).
    pub fn totals(&self) -> Figures {
        Figures {
            code: self.code.clone(),
            name: self.region_name.clone(),
            expected: self.expected,
            received: self.received,
            on_time: self.on_time,
            sums: self.sums.clone(),
        }
    }
}

fn child_len(code: &str) -> Option<usize> {
    if code == NATION {
        return Some(2);
    }
    RegionCode::parse(code)
        .ok()?
        .level()
        .child()
        .map(|l| l.code_len())
}

/// Expected units under the handle (and in the form's scope), and per child prefix of
/// length `clen`.
pub(super) async fn expected(
    state: &AppState,
    form: &Form,
    scope: &Scoped<'_>,
    clen: Option<usize>,
) -> AppResult<(i64, Vec<(String, i64)>)> {
    let clen = clen.unwrap_or(99) as i64;
    let (lo, hi) = scope.range();
    let cache_key = format!(
        "expected|{}|{}|{}|{lo}|{hi}|{clen}",
        form.unit_type.as_str(),
        form.org_kinds.join(","),
        form.scope
    );
    match state
        .caches
        .get_aged::<crate::state::CachedCounts>(&cache_key)
    {
        Some((hit, true)) => return Ok(hit),
        Some((hit, false)) => {
            // Past its minute: answered at once and recounted in the background (counting the
            // villages under the nation takes long enough to show in a summary's p99 while
            // the morning's reports pour in). Kept fresh meanwhile so only one recount runs.
            state.caches.put(cache_key.clone(), hit.clone());
            let (st, form, node) = (state.clone(), form.clone(), scope.node().clone());
            tokio::spawn(async move {
                let op = crate::kernel::actor::Actor::operator();
                let scope = match &node {
                    backstop_core::region::Scope::Region(c) => op.within(c),
                    backstop_core::region::Scope::National => Ok(op.everywhere()),
                };
                if let Ok(scope) = scope
                    && let Ok(v) = count_expected(&st, &form, &scope, clen).await
                {
                    st.caches.put(cache_key, v);
                }
            });
            return Ok(hit);
        }
        None => {}
    }
    let v = count_expected(state, form, scope, clen).await?;
    state.caches.put(cache_key, v.clone());
    Ok(v)
}

async fn count_expected(
    state: &AppState,
    form: &Form,
    scope: &Scoped<'_>,
    clen: i64,
) -> AppResult<crate::state::CachedCounts> {
    let mut total = 0;
    let mut per = Vec::new();
    for (p, n) in queries::expected_counts(state, form, scope, clen).await? {
        total += n;
        if p.len() as i64 == clen {
            per.push((p, n));
        }
    }
    Ok((total, per))
}

/// Live summary of a form for a period at the handle's region, with its children.
pub async fn summary(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
) -> AppResult<Summary> {
    let (form, period) = form_and_period(state, scope, template, period).await?;
    summary_of(state, scope, form, period).await
}

/// The region sums of a form for a period under the handle (the same figures as [`summary`]:
/// expected, received and sums per child region, never a unit's own report), for another
/// area's own permission: the donations allocation shows institutions' daily figures to a
/// charity's allocator, who holds no `reports.read` (issue 18 item 4, docs/PERMISSIONS.md).
/// The region scope still holds through the handle.
pub(crate) async fn region_sums(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
) -> AppResult<Summary> {
    let form = super::load_form(state, template, None)
        .await?
        .ok_or_else(AppError::not_found)?;
    let (period, _) = super::parse_period(form.period, period, state.today())
        .map_err(|m| AppError::field(ErrorCode::Validation, "period", m))?;
    summary_of(state, scope, form, period).await
}

async fn summary_of(
    state: &AppState,
    scope: &Scoped<'_>,
    form: Form,
    period: String,
) -> AppResult<Summary> {
    let code = scope.node().as_str().to_string();
    let (exp_total, exp_children) = expected(state, &form, scope, child_len(&code)).await?;
    // The region's children, then their rollup rows and the region's own, by primary key
    // (an exact code list: a range over codes would also walk every row below the children).
    // The children change only with the regions (which invalidate the caches).
    let key = format!("children|{code}");
    let children_regions = state
        .caches
        .get_or_load(&key, async || queries::child_regions(state, scope).await)
        .await?;
    let mut codes: Vec<String> = vec![code.clone()];
    codes.extend(children_regions.iter().map(|(c, _)| c.clone()));
    let (counts, sums) = queries::rollups_of(state, &form.key, &period, &codes).await?;
    let has_expected = form.unit_type != UnitType::Any;
    let mut children = Vec::new();
    for (c, name) in children_regions {
        let (received, on_time) = counts.get(&c).copied().unwrap_or((0, 0));
        children.push(Figures {
            expected: has_expected.then(|| {
                exp_children
                    .iter()
                    .find(|(p, _)| *p == c)
                    .map(|(_, n)| *n)
                    .unwrap_or(0)
            }),
            received,
            on_time,
            sums: sums_map(&form, sums.get(&c).map(Vec::as_slice).unwrap_or(&[])),
            name,
            code: c,
        });
    }
    let (received, on_time) = counts.get(&code).copied().unwrap_or((0, 0));
    Ok(Summary {
        template: form.key.clone(),
        name: form.name.clone(),
        period,
        region_name: crate::regions::scope_name(state, &code).await?,
        expected: has_expected.then_some(exp_total),
        received,
        on_time,
        sums: sums_map(&form, sums.get(&code).map(Vec::as_slice).unwrap_or(&[])),
        code,
        children,
        cumulative: None,
        nodes: Vec::new(),
    })
}

/// Attach the cumulative sums from `from` to the summary's own day (a daily form's period).
pub async fn with_cumulative(
    state: &AppState,
    scope: &Scoped<'_>,
    mut sum: Summary,
    from: &str,
) -> AppResult<Summary> {
    let from = crate::kernel::error::date_field("from", from.trim())?;
    let until = chrono::NaiveDate::parse_from_str(&sum.period, "%Y-%m-%d")
        .map_err(|_| AppError::field(ErrorCode::Validation, "from", "只有日报可以累计"))?;
    let mut by_code = cumulative(state, scope, &sum.template, from, until).await?;
    let sums = by_code.remove(&sum.code).unwrap_or_default();
    let children = sum
        .children
        .iter()
        .map(|c| {
            let m = by_code.remove(&c.code).unwrap_or_default();
            (c.code.clone(), Value::Object(m))
        })
        .collect();
    sum.cumulative = Some(Cumulative {
        from: from.format("%Y-%m-%d").to_string(),
        until: sum.period.clone(),
        sums,
        children,
    });
    Ok(sum)
}

/// The single reports of a form's period filed at the handle's own region (the bottom of
/// the drill-down): `(id, unit name, period, late)`.
pub(super) async fn reports_here(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    period: &str,
) -> AppResult<Vec<(i64, String, String, bool)>> {
    let mut out = Vec::new();
    for (id, unit, period, late) in queries::reports_at(state, scope, template, period).await? {
        let name = super::units::unit_name(state, &unit)
            .await
            .unwrap_or_default();
        out.push((id, name, period, late));
    }
    Ok(out)
}

/// Cumulative sums (累计) of a daily form from `from` to `until` at the handle's region and
/// each of its children: `code → sums` (the same shape as a summary's `sums`). At most 366
/// days; `from` after `until` is a field error.
pub async fn cumulative(
    state: &AppState,
    scope: &Scoped<'_>,
    template: &str,
    from: chrono::NaiveDate,
    until: chrono::NaiveDate,
) -> AppResult<std::collections::HashMap<String, Map<String, Value>>> {
    let form = form_to_read(state, scope, template).await?;
    if from > until || (until - from).num_days() > 366 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "from",
            "累计起始日期不能晚于统计日期，且区间不超过一年",
        ));
    }
    let mut codes = vec![scope.node().as_str().to_string()];
    codes.extend(
        queries::child_regions(state, scope)
            .await?
            .into_iter()
            .map(|(c, _)| c),
    );
    let (f, u) = (
        from.format("%Y-%m-%d").to_string(),
        until.format("%Y-%m-%d").to_string(),
    );
    let sums = queries::sums_between(state, &form.key, (&f, &u), &codes).await?;
    Ok(sums
        .into_iter()
        .map(|(code, rows)| (code, sums_map(&form, &rows)))
        .collect())
}
