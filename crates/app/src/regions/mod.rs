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
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, RegionLevel, Scope};
use backstop_core::role::Permission;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// A region as the API shows it: `{code, name, level, parent}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Region {
    pub code: String,
    pub name: String,
    /// province, city, county, township, village or grid.
    pub level: String,
    pub parent: Option<String>,
}

impl Region {
    pub fn level_zh(&self) -> &'static str {
        RegionCode::parse(&self.code)
            .map(|c| c.level().label_zh())
            .unwrap_or("")
    }
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Region, sqlx::Error> {
    Ok(Region {
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        level: r.try_get("level")?,
        parent: r.try_get("parent_code")?,
    })
}

/// Parse a code given by a user (422 `invalid_region_code` if malformed).
pub fn parse_code(field: &str, s: &str) -> AppResult<RegionCode> {
    RegionCode::parse(s)
        .map_err(|e| AppError::field(ErrorCode::InvalidRegionCode, field, e.to_string()))
}

/// Look a region up without scope (internal use).
pub async fn find(state: &AppState, code: &str) -> AppResult<Option<Region>> {
    let row = sqlx::query("SELECT code, name, level, parent_code FROM regions WHERE code = $1")
        .bind(code)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Name of a stored scope ('0' = 全国).
pub async fn scope_name(state: &AppState, scope: &str) -> AppResult<String> {
    if scope == "0" {
        return Ok("全国".to_string());
    }
    Ok(find(state, scope)
        .await?
        .map(|r| r.name)
        .unwrap_or_else(|| scope.to_string()))
}

/// One region, if it is in the actor's scope.
pub async fn get(state: &AppState, actor: &Actor, code: &str) -> AppResult<Region> {
    actor.require(Permission::RegionsRead)?;
    let code = RegionCode::parse(code).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    find(state, code.as_str())
        .await?
        .ok_or_else(AppError::not_found)
}

/// The children of a region in scope, ordered by code.
pub async fn children(state: &AppState, actor: &Actor, code: &str) -> AppResult<Vec<Region>> {
    let parent = get(state, actor, code).await?;
    let rows = sqlx::query(
        "SELECT code, name, level, parent_code FROM regions WHERE parent_code = $1 ORDER BY code",
    )
    .bind(&parent.code)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// The top of the actor's tree: the provinces for national scope, else its own region.
pub async fn roots(state: &AppState, actor: &Actor) -> AppResult<Vec<Region>> {
    actor.require(Permission::RegionsRead)?;
    match &actor.scope {
        Scope::National => {
            let rows = sqlx::query(
                "SELECT code, name, level, parent_code FROM regions WHERE parent_code IS NULL ORDER BY code",
            )
            .fetch_all(state.db.pool())
            .await?;
            Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
        }
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

/// Counts below a region (for the home page): regions by level.
pub async fn count_below(state: &AppState, code: &RegionCode) -> AppResult<Vec<(String, i64)>> {
    let (lo, hi) = code.scope_bounds();
    let rows = sqlx::query(
        "SELECT level, CAST(COUNT(*) AS BIGINT) AS n FROM regions WHERE code > $1 AND code < $2 GROUP BY level",
    )
    .bind(&lo)
    .bind(&hi)
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        out.push((r.try_get::<String, _>("level")?, r.try_get::<i64, _>("n")?));
    }
    Ok(out)
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
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let max: Option<String> =
        sqlx::query_scalar("SELECT MAX(code) FROM regions WHERE parent_code = $1")
            .bind(&parent.code)
            .fetch_one(w.conn())
            .await?;
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
    let dup: Option<String> =
        sqlx::query_scalar("SELECT code FROM regions WHERE parent_code = $1 AND name = $2")
            .bind(&parent.code)
            .bind(&name)
            .fetch_optional(w.conn())
            .await?;
    if dup.is_some() {
        return Err(AppError::field(
            ErrorCode::Conflict,
            "name",
            "同名网格已存在",
        ));
    }
    sqlx::query("INSERT INTO regions (code, name, level, parent_code, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&code)
        .bind(&name)
        .bind(RegionLevel::Grid.as_str())
        .bind(&parent.code)
        .bind(now)
        .execute(w.conn())
        .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "region.grid_create",
            object_type: "region",
            object_id: code.clone(),
            region_code: code.clone(),
            outcome: "success",
            detail: json!({"name": {"before": null, "after": name}}),
        },
    )
    .await?;
    w.commit().await?;
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
    let have: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM regions WHERE level = 'county'")
            .fetch_one(state.db.pool())
            .await?;
    if have > 0 {
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
