//! Organisations: civil-affairs departments at every level, service institutions, charities,
//! social-work agencies and village/community committees. Each has a kind with a stable
//! identifier, the region it belongs to, and contacts. Reads and lists are scoped by region.
//! An organisation is corrected or disabled, never deleted (`edit`).

mod edit;
pub mod federated;
pub mod pages;
mod queries;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::regions;
use crate::state::AppState;

pub use edit::{OrgPatch, set_disabled, update};

/// Kinds of organisation, with stable identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    CivilAffairs,
    ElderlyCare,
    ChildWelfare,
    MinorProtection,
    ReliefStation,
    MentalHealth,
    FuneralHome,
    MarriageRegistry,
    Charity,
    SocialWork,
    CommunityCommittee,
    Hospital,
    SocialOrganisation,
}

impl OrgKind {
    pub const ALL: [OrgKind; 13] = [
        OrgKind::CivilAffairs,
        OrgKind::ElderlyCare,
        OrgKind::ChildWelfare,
        OrgKind::MinorProtection,
        OrgKind::ReliefStation,
        OrgKind::MentalHealth,
        OrgKind::FuneralHome,
        OrgKind::MarriageRegistry,
        OrgKind::Charity,
        OrgKind::SocialWork,
        OrgKind::CommunityCommittee,
        OrgKind::Hospital,
        OrgKind::SocialOrganisation,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::CivilAffairs => "civil_affairs",
            OrgKind::ElderlyCare => "elderly_care",
            OrgKind::ChildWelfare => "child_welfare",
            OrgKind::MinorProtection => "minor_protection",
            OrgKind::ReliefStation => "relief_station",
            OrgKind::MentalHealth => "mental_health",
            OrgKind::FuneralHome => "funeral_home",
            OrgKind::MarriageRegistry => "marriage_registry",
            OrgKind::Charity => "charity",
            OrgKind::SocialWork => "social_work",
            OrgKind::CommunityCommittee => "community_committee",
            OrgKind::Hospital => "hospital",
            OrgKind::SocialOrganisation => "social_organisation",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            OrgKind::CivilAffairs => "民政部门",
            OrgKind::ElderlyCare => "养老机构",
            OrgKind::ChildWelfare => "儿童福利机构",
            OrgKind::MinorProtection => "未成年人救助保护机构",
            OrgKind::ReliefStation => "救助管理站",
            OrgKind::MentalHealth => "精神卫生福利机构",
            OrgKind::FuneralHome => "殡仪馆",
            OrgKind::MarriageRegistry => "婚姻登记机关",
            OrgKind::Charity => "慈善组织（红十字会、慈善会、基金会）",
            OrgKind::SocialWork => "社会工作服务机构",
            OrgKind::CommunityCommittee => "村（居）委会",
            OrgKind::Hospital => "医疗机构（接收捐赠物资）",
            OrgKind::SocialOrganisation => "社会组织（志愿服务）",
        }
    }
    pub fn parse(s: &str) -> Option<OrgKind> {
        OrgKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
    /// A kind filter as given in a query string: blank is none, unknown is 422.
    pub fn param(s: Option<&str>) -> AppResult<Option<OrgKind>> {
        match s.map(str::trim).filter(|s| !s.is_empty()) {
            Some(k) => OrgKind::parse(k)
                .map(Some)
                .ok_or_else(|| AppError::field(ErrorCode::Validation, "kind", "未知的机构类型")),
            None => Ok(None),
        }
    }
}

/// An organisation as shown by the API and pages (read from a row of `orgs` with its region's
/// name; the label is added from the kind).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Org {
    pub id: i64,
    pub name: String,
    pub kind: String,
    #[sqlx(skip)]
    pub kind_label: String,
    pub region_code: String,
    pub region_name: String,
    pub contact_person: String,
    pub contact_phone: String,
    pub address: String,
    /// Disabled: no longer a unit that must report; kept for the records pointing to it.
    #[sqlx(skip)]
    pub disabled: bool,
}

/// Body of `POST /api/v1/orgs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewOrg {
    pub name: String,
    /// One of the stable kind identifiers, e.g. `elderly_care`.
    pub kind: String,
    pub region_code: String,
    #[serde(default)]
    pub contact_person: String,
    #[serde(default)]
    pub contact_phone: String,
    #[serde(default)]
    pub address: String,
}

fn check_phone(p: &str) -> AppResult<String> {
    let p = text_field("contact_phone", p, 20, false)?;
    if !p
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ' || c == '+')
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "contact_phone",
            "只能包含数字、空格、+ 和 -",
        ));
    }
    Ok(p)
}

/// Create an organisation in a region of the actor's scope.
pub async fn create(state: &AppState, actor: &Actor, input: &NewOrg) -> AppResult<Org> {
    actor.require(Permission::OrgsManage)?;
    create_in_scope(state, actor, input).await
}

/// [`create`] once the permission is settled: the region must be in the actor's scope (a child
/// deployment's organisation arrives through here as its node, [`federated`]).
async fn create_in_scope(state: &AppState, actor: &Actor, input: &NewOrg) -> AppResult<Org> {
    let name = text_field("name", &input.name, 100, true)?;
    let kind = OrgKind::parse(&input.kind)
        .ok_or_else(|| AppError::field(ErrorCode::Validation, "kind", "未知的机构类型"))?;
    let code = regions::existing_in_scope(state, actor, "region_code", &input.region_code).await?;
    let contact_person = text_field("contact_person", &input.contact_person, 50, false)?;
    let contact_phone = check_phone(&input.contact_phone)?;
    let address = text_field("address", &input.address, 200, false)?;
    let mut tx = Tx::begin(state, actor).await?;
    let row = queries::NewRow {
        name: &name,
        kind,
        region_code: code.as_str(),
        contact_person: &contact_person,
        contact_phone: &contact_phone,
        address: &address,
    };
    let id = queries::insert(&mut tx, &row).await?;
    // Up to the parent deployment, when there is one (issue 20).
    let snapshot = federated::NodeOrg::written(id, &row, false);
    federated::push(&mut tx, &state.keys, &snapshot).await?;
    tx.commit(
        Change::new("org.create", "org", id, code.as_str()).detail(
            json!({"name": {"before": null, "after": name}, "kind": {"before": null, "after": kind.as_str()}}),
        ),
    )
    .await?;
    state.caches.invalidate();
    get(state, actor, id).await
}

/// One organisation, if in scope.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Org> {
    actor.require(Permission::OrgsRead)?;
    queries::org(state, &actor.everywhere(), id).await
}

/// Organisations in a region of the scope (default: the whole scope), optionally one kind.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    kind: Option<OrgKind>,
) -> AppResult<Vec<Org>> {
    actor.require(Permission::OrgsRead)?;
    queries::orgs(state, &actor.within_opt(region)?, kind).await
}

/// Number of organisations in the actor's scope.
pub async fn count_in_scope(state: &AppState, actor: &Actor) -> AppResult<i64> {
    queries::count(state, &actor.everywhere()).await
}
