//! Where officials write what the public pages show for a region
//! (`/regions/{code}/public-info`): `orgs.manage`, inside their scope, audited
//! (`public.info`, the texts before → after).

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::Deserialize;
use serde_json::json;

use super::PublicInfo;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, Routes, render, with_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![("/regions/{code}/public-info", get(show).post(save))]
}

/// Set the texts of a region in the actor's scope.
pub async fn set_info(
    state: &AppState,
    actor: &Actor,
    input: &PublicInfo,
) -> AppResult<PublicInfo> {
    actor.require(Permission::OrgsManage)?;
    let code =
        crate::regions::existing_in_scope(state, actor, "region_code", &input.region_code).await?;
    let clean = PublicInfo {
        region_code: code.as_str().to_string(),
        hotlines: text_field("hotlines", &input.hotlines, 500, false)?,
        visiting: text_field("visiting", &input.visiting, 2000, false)?,
        assistance: text_field("assistance", &input.assistance, 2000, false)?,
    };
    if clean.hotlines.is_empty() && clean.visiting.is_empty() && clean.assistance.is_empty() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "hotlines",
            "请至少填写一项",
        ));
    }
    let had = super::queries::info_with_origin(state, code.as_str()).await?;
    if had.as_ref().is_some_and(|h| h.origin == "parent") {
        return Err(AppError::parent_owned("区划的公开信息"));
    }
    let before = had.map(|h| h.info).unwrap_or_default();
    let mut tx = Tx::begin(state, actor).await?;
    super::queries::put_info(&mut tx, &clean, &actor.username, "local").await?;
    tx.commit(
        Change::new("public.info", "region", code.as_str(), code.as_str()).detail(json!({
            "before": {"hotlines": before.hotlines, "visiting": before.visiting, "assistance": before.assistance},
            "after": {"hotlines": clean.hotlines, "visiting": clean.visiting, "assistance": clean.assistance},
        })),
    )
    .await?;
    Ok(clean)
}

#[derive(Template)]
#[template(path = "regions_public_info.html")]
struct InfoPage {
    nav: Option<Nav>,
    code: String,
    name: String,
    info: PublicInfo,
    error: Option<String>,
    saved: bool,
    /// Published by the parent deployment (issue 20): shown, not editable here.
    from_parent: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SavedQuery {
    saved: Option<String>,
}

async fn show(
    PageCaller(s, a): PageCaller,
    Path(code): Path<String>,
    Query(q): Query<SavedQuery>,
) -> PageResult {
    a.actor.require(Permission::OrgsManage)?;
    let region = crate::regions::get(&s, &a.actor, &code).await?;
    let row = super::queries::info_with_origin(&s, &region.code).await?;
    let from_parent = row.as_ref().is_some_and(|r| r.origin == "parent");
    Ok(render(&InfoPage {
        nav: Some(Nav::for_actor(&a.actor, "/regions")),
        code: region.code,
        name: region.name,
        info: row.map(|r| r.info).unwrap_or_default(),
        error: None,
        saved: q.saved.is_some(),
        from_parent,
    }))
}

async fn save(
    PageCaller(s, a): PageCaller,
    Path(code): Path<String>,
    Form(f): Form<PublicInfo>,
) -> PageResult {
    let region = crate::regions::get(&s, &a.actor, &code).await?;
    let input = PublicInfo {
        region_code: region.code.clone(),
        ..f
    };
    match set_info(&s, &a.actor, &input).await {
        Ok(_) => Ok(
            Redirect::to(&format!("/regions/{}/public-info?saved=1", region.code)).into_response(),
        ),
        Err(e) if matches!(e.status().as_u16(), 409 | 422) => Ok(with_status(
            render(&InfoPage {
                nav: Some(Nav::for_actor(&a.actor, "/regions")),
                code: region.code,
                name: region.name,
                info: input,
                error: Some(e.message.clone()),
                saved: false,
                from_parent: e.status().as_u16() == 409,
            }),
            e.status(),
        )),
        Err(e) => Err(e.into()),
    }
}
