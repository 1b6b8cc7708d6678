//! Pickers (issue 14, item 7): choosing a region, an organisation, a reporting unit or a
//! person by typing part of its name or its pinyin initials, instead of a numeric code
//! ("org:机构编号"). This area owns the four scoped look-ups behind the search-as-you-type
//! component (`assets/picker.js`, on inputs marked `data-pick="regions|orgs|units|persons"`):
//! each answers at most [`LIMIT`] choices inside the actor's scope (the [`Scoped`] handle's
//! code range in SQL), ordered by level then name, each with the value the plain input takes
//! (a region code, an organisation id, a unit key `code` / `org:ID`, a person id) — so the
//! page still works without the script, by typing the code. Disabled organisations and
//! persons are not offered. Persons go through the existing person search
//! (`people::list`, masked by `people::shown`).
//!
//! Region initials are stored (`regions.initials`, computed at import); organisation names are
//! few per scope, so their initials are computed here from a bounded candidate list.
//!
//! [`Scoped`]: crate::kernel::access::Scoped

mod queries;
pub mod web;

use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};

use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::orgs::OrgKind;
use crate::people::pinyin::{place_initials, query_key};
use crate::reports::form::UnitType;
use crate::state::AppState;

/// At most this many choices per answer.
pub const LIMIT: usize = 20;

/// One choice of a picker.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Pick {
    /// What the input takes: a region code, an organisation id, a unit key or a person id.
    pub value: String,
    /// The name shown.
    pub label: String,
    /// A second line: level and parent, region, masked ID number.
    pub hint: String,
}

/// `?q=` (and for units `&template=`) of the pickers.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PickQuery {
    /// Part of the name, the start of its pinyin initials (`nsq` for 南沙区), or of its code.
    pub q: Option<String>,
    /// For units: the report form's key; only the units that fill it.
    pub template: Option<String>,
    /// For organisations: only this kind, e.g. `elderly_care`.
    pub kind: Option<String>,
}

/// What was typed: the text (at most 30 characters), and its pinyin key when pinyin-like.
pub(crate) struct Typed {
    pub text: String,
    pub initials: Option<String>,
}

fn typed(q: Option<&str>) -> Option<Typed> {
    let text: String = q?.trim().chars().take(30).collect();
    if text.is_empty() {
        return None;
    }
    let initials = query_key(&text);
    Some(Typed { text, initials })
}

/// Regions of the actor's scope whose name contains, initials start with, or code starts
/// with what was typed.
pub async fn regions(state: &AppState, actor: &Actor, q: &PickQuery) -> AppResult<Vec<Pick>> {
    actor.require(Permission::RegionsRead)?;
    let Some(t) = typed(q.q.as_deref()) else {
        return Ok(Vec::new());
    };
    queries::regions(state, &actor.everywhere(), &t).await
}

/// Organisations (in use) of the actor's scope by name or pinyin initials, optionally of one
/// kind; an actor tied to an organisation is offered its own.
pub async fn orgs(state: &AppState, actor: &Actor, q: &PickQuery) -> AppResult<Vec<Pick>> {
    actor.require(Permission::OrgsRead)?;
    let kind = OrgKind::param(q.kind.as_deref())?;
    let Some(t) = typed(q.q.as_deref()) else {
        return Ok(Vec::new());
    };
    let kinds: Vec<String> = kind
        .map(|k| vec![k.as_str().to_string()])
        .unwrap_or_default();
    let found = org_picks(state, actor, &t, &kinds, false).await?;
    Ok(found)
}

async fn org_picks(
    state: &AppState,
    actor: &Actor,
    t: &Typed,
    kinds: &[String],
    as_unit: bool,
) -> AppResult<Vec<Pick>> {
    let scope = actor.everywhere();
    let rows = queries::org_candidates(state, &scope, t, kinds).await?;
    let mut out = Vec::new();
    for (id, name, region_name) in rows {
        let hit = name.contains(&t.text)
            || id.to_string() == t.text
            || t.initials
                .as_deref()
                .is_some_and(|k| place_initials(&name).starts_with(k));
        if !hit {
            continue;
        }
        out.push(Pick {
            value: if as_unit {
                format!("org:{id}")
            } else {
                id.to_string()
            },
            label: name,
            hint: format!("{region_name} · 机构编号 {id}"),
        });
        if out.len() == LIMIT {
            break;
        }
    }
    Ok(out)
}

/// Reporting units of the actor's scope as the report forms define them: villages (key = the
/// 12-digit code) and organisations (key = `org:ID`); with `template`, only the units of that
/// form (its unit type and organisation kinds).
pub async fn units(state: &AppState, actor: &Actor, q: &PickQuery) -> AppResult<Vec<Pick>> {
    actor.require(Permission::ReportsRead)?;
    let (unit_type, kinds) = match q
        .template
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(key) => {
            let form = crate::reports::get_form(state, actor, key, None).await?;
            (form.unit_type, form.org_kinds)
        }
        None => (UnitType::Any, Vec::new()),
    };
    let Some(t) = typed(q.q.as_deref()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    if unit_type != UnitType::Org {
        out = queries::villages(state, &actor.everywhere(), &t).await?;
    }
    // An organisation form without kinds has no units.
    let no_orgs =
        unit_type == UnitType::Village || (unit_type == UnitType::Org && kinds.is_empty());
    if !no_orgs && out.len() < LIMIT {
        let mut orgs = org_picks(state, actor, &t, &kinds, true).await?;
        if let Some(mine) = actor.org_id {
            orgs.retain(|p| p.value == format!("org:{mine}"));
        }
        out.extend(orgs.into_iter().take(LIMIT - out.len()));
    }
    Ok(out)
}

/// Persons (in use) of the actor's scope by name, pinyin or initials, through the person
/// search; the ID number masked for the actor.
pub async fn persons(state: &AppState, actor: &Actor, q: &PickQuery) -> AppResult<Vec<Pick>> {
    actor.require(Permission::PersonsRead)?;
    let Some(t) = typed(q.q.as_deref()) else {
        return Ok(Vec::new());
    };
    let query = crate::people::PersonQuery {
        q: Some(t.text),
        limit: Some(LIMIT as i64),
        ..Default::default()
    };
    let list = crate::people::list(state, actor, &query).await?;
    Ok(list
        .items
        .into_iter()
        .map(|p| Pick {
            value: p.id.to_string(),
            hint: [p.region_name.as_str(), p.id_number_masked.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" · "),
            label: p.name,
        })
        .collect())
}
