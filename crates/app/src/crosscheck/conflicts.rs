//! Stored conflicts as the caller may see them: the scoped list with its counts per kind, one
//! conflict, each with its persons masked (or 辖区外) and a summary in Chinese naming only the
//! regions inside the caller's scope.

use std::collections::{HashMap, HashSet};

use backstop_core::clock::{format_beijing, from_millis};
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::queries::{self, Filter};
use super::{
    Conflict, ConflictList, ConflictQuery, KINDS, KindCount, kind_label, status_label, verr,
};
use crate::care::category_label;
use crate::kernel::access::Scoped;
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::privacy;
use crate::state::AppState;

struct Region {
    name: String,
    visible: bool,
}

/// Names of region codes (for summaries), and whether the caller sees them.
async fn region_names(
    state: &AppState,
    scope: &Scoped<'_>,
    codes: &HashSet<String>,
) -> AppResult<HashMap<String, Region>> {
    let mut out = HashMap::new();
    for code in codes {
        let visible = RegionCode::parse(code).is_ok() && scope.contains(code);
        let name = if visible {
            crate::regions::find(state, code)
                .await?
                .map(|r| r.name)
                .unwrap_or_else(|| code.clone())
        } else {
            "辖区外".to_string()
        };
        out.insert(code.clone(), Region { name, visible });
    }
    Ok(out)
}

fn summary(kind: &str, d: &Value, regions: &HashMap<String, Region>) -> String {
    let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
    let place = |code: &str| match regions.get(code) {
        Some(r) if r.visible => format!("{}（{code}）", r.name),
        _ => "辖区外".to_string(),
    };
    let period = |m: &Value| {
        let start = m["start_date"].as_str().unwrap_or("");
        match m["end_date"].as_str().unwrap_or("") {
            "" => format!("{start} 起"),
            end => format!("{start} 至 {end}"),
        }
    };
    match kind {
        "observation_region" => format!(
            "居家医学观察（编号 {}，至 {}）登记在 {}，本人现住 {}",
            d["observation_id"],
            s("ends_on"),
            place(&s("roll_region")),
            place(&s("person_region"))
        ),
        "screening_region" => format!(
            "摸排活动“{}”在 {} 登记了此人，本人现住 {}",
            s("campaign"),
            place(&s("roll_region")),
            place(&s("person_region"))
        ),
        "possible_duplicate" => format!(
            "两条人员记录姓名相同、出生日期相同（{} 年出生），分别登记在不同地区，{}；请核实是否同一人",
            d["birth_year"]
                .as_i64()
                .map(|y| y.to_string())
                .unwrap_or_else(|| s("birth_date").chars().take(4).collect()),
            if d["ids_recorded"].as_i64() == Some(1) {
                "其中一条未登记身份证号"
            } else {
                "两条都未登记身份证号"
            }
        ),
        "exclusive_groups" => {
            let ms = d["memberships"].as_array().cloned().unwrap_or_default();
            let parts: Vec<String> = ms
                .iter()
                .map(|m| {
                    format!(
                        "{}（{}）",
                        category_label(m["category"].as_str().unwrap_or("")),
                        period(m)
                    )
                })
                .collect();
            format!("同时登记 {}：{}", parts.join(" 与 "), s("rule"))
        }
        "deceased_paid" => format!(
            "已标记死亡，仍在 {}（{}）名单中",
            category_label(&s("category")),
            period(d)
        ),
        _ => String::new(),
    }
}

fn ms_text(ms: Option<i64>) -> Option<String> {
    ms.map(|m| format_beijing(from_millis(m)))
}

/// Turn stored rows (already let through the handle) into conflicts as the caller sees them.
async fn views(state: &AppState, scope: &Scoped<'_>, rows: &[AnyRow]) -> AppResult<Vec<Conflict>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<Result<_, _>>()?;
    let mut persons = queries::persons_of(state, scope, &ids).await?;
    let mut details = Vec::with_capacity(rows.len());
    let mut codes = HashSet::new();
    for r in rows {
        let d: Value =
            serde_json::from_str(&privacy::text(&state.keys, r, "detail")?).unwrap_or_default();
        for k in ["roll_region", "person_region"] {
            if let Some(c) = d[k].as_str() {
                codes.insert(c.to_string());
            }
        }
        details.push(d);
    }
    let names = region_names(state, scope, &codes).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (r, d) in rows.iter().zip(details) {
        let id: i64 = r.try_get("id")?;
        let kind: String = r.try_get("kind")?;
        let status: String = r.try_get("status")?;
        out.push(Conflict {
            id,
            kind_label: kind_label(&kind).to_string(),
            summary: summary(&kind, &d, &names),
            kind,
            status_label: status_label(&status).to_string(),
            status,
            persons: persons.remove(&id).unwrap_or_default(),
            first_seen: format_beijing(from_millis(r.try_get("first_seen_at")?)),
            last_seen: format_beijing(from_millis(r.try_get("last_seen_at")?)),
            resolved_by: r.try_get("resolved_by")?,
            resolved_at: ms_text(r.try_get("resolved_at")?),
            resolve_note: r.try_get("resolve_note")?,
        });
    }
    Ok(out)
}

/// Conflicts in the caller's scope (or `region` inside it), newest first, with counts per kind.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    q: &ConflictQuery,
) -> AppResult<ConflictList> {
    actor.require(Permission::CrosschecksManage)?;
    let within = actor.within_opt(region)?;
    let status = q
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("open");
    if !["open", "resolved", "cleared", "all"].contains(&status) {
        return Err(verr(
            "status",
            "状态",
            "应为 open、resolved、cleared 或 all",
        ));
    }
    let kind = q.kind.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(k) = kind
        && kind_label(k).is_empty()
    {
        return Err(verr("kind", "类型", "未知的冲突类型"));
    }
    let filter = Filter {
        status,
        kind,
        limit: q.limit.unwrap_or(50).clamp(1, 200),
        offset: q.offset.unwrap_or(0).max(0),
    };
    let by_kind = queries::counts(state, &within, &filter).await?;
    let counts: Vec<KindCount> = KINDS
        .iter()
        .map(|(k, l)| KindCount {
            kind: (*k).to_string(),
            label: (*l).to_string(),
            count: by_kind.get(*k).copied().unwrap_or(0),
        })
        .collect();
    let total = match kind {
        Some(k) => by_kind.get(k).copied().unwrap_or(0),
        None => counts.iter().map(|c| c.count).sum(),
    };
    let rows = queries::conflicts(state, &within, &filter).await?;
    Ok(ConflictList {
        total,
        counts,
        items: views(state, &actor.everywhere(), &rows).await?,
    })
}

/// One conflict, if visible to the caller.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Conflict> {
    actor.require(Permission::CrosschecksManage)?;
    let scope = actor.everywhere();
    let row = queries::conflict(state, &scope, id).await?;
    views(state, &scope, &[row])
        .await?
        .pop()
        .ok_or_else(AppError::not_found)
}
