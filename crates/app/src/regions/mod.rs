//! Regions: the national region tree (province → city → county → township → village) and
//! the grids (网格) under villages and communities.
//!
//! Provinces, cities and counties (NBS 2023) are compiled into the binary and loaded on first
//! start; townships and villages are imported from the files of `shared/data/regions/`
//! (`streets.csv`, `villages.csv`) with `backstop regions import DIR`. A grid's code is its
//! village's 12 digits plus 3, so the prefix rule of scope covers grids too.
//! Reading is scoped: outside the actor's scope a region does not exist (404).

pub mod import;
pub mod pages;
mod queries;
pub mod web;

pub use queries::backfill_initials;

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel, Scope};
use backstop_core::role::Permission;
use serde::Serialize;
use serde_json::json;

use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// A region as the API shows it: `{code, name, level, parent}` (read from a row of `regions`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Region {
    pub code: String,
    pub name: String,
    /// province, city, county, township, village or grid.
    pub level: String,
    #[sqlx(rename = "parent_code")]
    pub parent: Option<String>,
}

impl Region {
    pub fn level_zh(&self) -> &'static str {
        RegionCode::parse(&self.code)
            .map(|c| c.level().label_zh())
            .unwrap_or("")
    }
}

/// Parse a code given by a user (422 `invalid_region_code` if malformed).
pub fn parse_code(field: &str, s: &str) -> AppResult<RegionCode> {
    RegionCode::parse(s)
        .map_err(|e| AppError::field(ErrorCode::InvalidRegionCode, field, e.to_string()))
}

/// Look a region up without scope (internal use).
pub async fn find(state: &AppState, code: &str) -> AppResult<Option<Region>> {
    queries::find(state, code).await
}

/// The region a form or body names in `field`: a well-formed code (422), inside the actor's
/// scope (404 otherwise, so existence never leaks) and on record (422 `unknown_region`).
pub async fn existing_in_scope(
    state: &AppState,
    actor: &Actor,
    field: &str,
    raw: &str,
) -> AppResult<RegionCode> {
    let code = parse_code(field, raw)?;
    actor.within(&code)?;
    on_record(state, &code, field, "区划代码不存在").await?;
    Ok(code)
}

/// A region that must be on record: 422 `unknown_region` on `field`, saying `message`,
/// otherwise.
pub async fn on_record(
    state: &AppState,
    code: &RegionCode,
    field: &str,
    message: &'static str,
) -> AppResult<()> {
    if find(state, code.as_str()).await?.is_none() {
        return Err(AppError::field(ErrorCode::UnknownRegion, field, message));
    }
    Ok(())
}

/// Name of a stored scope ('0' = 全国).
pub async fn scope_name(state: &AppState, scope: &str) -> AppResult<String> {
    if scope == "0" {
        return Ok("全国".to_string());
    }
    // Asked by every summary; regions change only through this module (which invalidates).
    let key = format!("name|{scope}");
    state
        .caches
        .get_or_load(&key, async || {
            Ok(find(state, scope)
                .await?
                .map(|r| r.name)
                .unwrap_or_else(|| scope.to_string()))
        })
        .await
}

/// Is a region code below county level? Statistics show small counts there as "<5".
pub fn below_county(code: &str) -> bool {
    RegionCode::parse(code).is_ok_and(|c| c.level() > backstop_core::region::RegionLevel::County)
}

/// One region, if it is in the actor's scope.
pub async fn get(state: &AppState, actor: &Actor, code: &str) -> AppResult<Region> {
    actor.require(Permission::RegionsRead)?;
    let code = RegionCode::parse(code).map_err(|_| AppError::not_found())?;
    actor.within(&code)?;
    find(state, code.as_str())
        .await?
        .ok_or_else(AppError::not_found)
}

/// The children of a region in scope, ordered by code.
pub async fn children(state: &AppState, actor: &Actor, code: &str) -> AppResult<Vec<Region>> {
    let parent = get(state, actor, code).await?;
    let code = RegionCode::parse(&parent.code).map_err(|_| AppError::not_found())?;
    queries::children(state, &actor.within(&code)?).await
}

/// The children of a region (the provinces for `None`), for the public pages: the region
/// table is public information, so no account and no scope are involved. Grids (a
/// community's internal division) are left out.
pub async fn public_children(
    state: &AppState,
    parent: Option<&RegionCode>,
) -> AppResult<Vec<Region>> {
    let mut list = queries::children_of(state, parent.map(RegionCode::as_str)).await?;
    list.retain(|r| r.level != "grid");
    Ok(list)
}

/// The top of the actor's tree: the provinces for national scope, else its own region.
pub async fn roots(state: &AppState, actor: &Actor) -> AppResult<Vec<Region>> {
    actor.require(Permission::RegionsRead)?;
    match &actor.scope {
        Scope::National => queries::children(state, &actor.everywhere()).await,
        Scope::Region(c) => Ok(find(state, c.as_str()).await?.into_iter().collect()),
    }
}

/// The chain from the top of the actor's scope down to `code` (for breadcrumbs).
pub async fn trail(state: &AppState, actor: &Actor, code: &RegionCode) -> AppResult<Vec<Region>> {
    let mut out = Vec::new();
    for a in code.ancestors() {
        if actor.sees(&a)
            && let Some(r) = find(state, a.as_str()).await?
        {
            out.push(r);
        }
    }
    Ok(out)
}

/// Regions by level in the actor's scope (for the home page): every level of the nation, in
/// `levels` order, for national scope; else the regions below the actor's own.
pub async fn count_by_level(
    state: &AppState,
    actor: &Actor,
    levels: &[&str],
) -> AppResult<Vec<(String, i64)>> {
    queries::count_by_level(state, &actor.everywhere(), levels).await
}

/// Create a grid under a village or community.
pub async fn create_grid(
    state: &AppState,
    actor: &Actor,
    village: &str,
    name: &str,
) -> AppResult<Region> {
    actor.require(Permission::RegionsManage)?;
    let parent = get(state, actor, village).await?;
    if parent.level != RegionLevel::Village.as_str() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "region_code",
            "网格只能建在村（社区）之下",
        ));
    }
    let name = text_field("name", name, 64, true)?;
    let mut tx = Tx::begin(state, actor).await?;
    let max = queries::last_grid(&mut tx, &parent.code).await?;
    let next = max
        .as_deref()
        .and_then(|m| m.get(12..))
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(0)
        + 1;
    if next > 999 {
        return Err(AppError::msg(
            ErrorCode::Validation,
            "该村（社区）网格已满 999 个",
        ));
    }
    let code = format!("{}{next:03}", parent.code);
    if queries::grid_named(&mut tx, &parent.code, &name).await? {
        return Err(AppError::field(
            ErrorCode::Conflict,
            "name",
            "同名网格已存在",
        ));
    }
    queries::insert_grid(&mut tx, &code, &name, &parent.code).await?;
    tx.commit(
        Change::new("region.grid_create", "region", &code, code.clone())
            .detail(json!({"name": {"before": null, "after": name}})),
    )
    .await?;
    state.caches.invalidate();
    Ok(Region {
        code,
        name,
        level: RegionLevel::Grid.as_str().to_string(),
        parent: Some(parent.code),
    })
}

/// Load the embedded provinces, cities and counties if they are not there yet. Idempotent.
pub async fn load_embedded(state: &AppState) -> AppResult<usize> {
    if queries::count_level(state, RegionLevel::County).await? > 0 {
        return Ok(0);
    }
    let mut rows = Vec::new();
    for (text, level) in [
        (
            include_str!("../../../../assets/regions/provinces.csv"),
            RegionLevel::Province,
        ),
        (
            include_str!("../../../../assets/regions/cities.csv"),
            RegionLevel::City,
        ),
        (
            include_str!("../../../../assets/regions/areas.csv"),
            RegionLevel::County,
        ),
    ] {
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        for rec in rdr.records() {
            let rec = rec.map_err(|e| AppError::internal("embedded regions", e))?;
            let code = rec.get(0).unwrap_or("").trim().to_string();
            let name = rec.get(1).unwrap_or("").trim().to_string();
            let parent = if level == RegionLevel::Province {
                None
            } else {
                code.get(..level.parent_len()).map(str::to_string)
            };
            rows.push(import::RegionRow {
                code,
                name,
                level,
                parent,
            });
        }
    }
    let n = rows.len();
    let mut w = state.db.begin_write().await?;
    import::insert_rows(
        w.conn(),
        state.db.backend(),
        &rows,
        state.now_ms(),
        &mut |_| {},
    )
    .await?;
    w.commit().await?;
    state.caches.invalidate();
    Ok(n)
}

trait ParentLen {
    fn parent_len(self) -> usize;
}
impl ParentLen for RegionLevel {
    fn parent_len(self) -> usize {
        match self {
            RegionLevel::Province => 0,
            RegionLevel::City => 2,
            RegionLevel::County => 4,
            RegionLevel::Township => 6,
            RegionLevel::Village => 9,
            RegionLevel::Grid => 12,
        }
    }
}
