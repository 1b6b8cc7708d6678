//! Organisations: civil-affairs departments at every level, service institutions, charities,
//! social-work agencies and village/community committees. Each has a kind with a stable
//! identifier, the region it belongs to, and contacts. Reads and lists are scoped by region.

pub mod pages;
pub mod web;

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::regions;
use crate::state::AppState;

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
}

impl OrgKind {
    pub const ALL: [OrgKind; 11] = [
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
        }
    }
    pub fn parse(s: &str) -> Option<OrgKind> {
        OrgKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// An organisation as shown by the API and pages.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Org {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub kind_label: String,
    pub region_code: String,
    pub region_name: String,
    pub contact_person: String,
    pub contact_phone: String,
    pub address: String,
}

/// Body of `POST /api/v1/orgs`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
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

const COLS: &str = "o.id, o.name, o.kind, o.region_code, r.name AS region_name, o.contact_person, \
    o.contact_phone, o.address";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Org, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    Ok(Org {
        id: r.try_get("id")?,
        kind_label: OrgKind::parse(&kind)
            .map(|k| k.label_zh())
            .unwrap_or("")
            .to_string(),
        kind,
        name: r.try_get("name")?,
        region_code: r.try_get("region_code")?,
        region_name: r
            .try_get::<Option<String>, _>("region_name")?
            .unwrap_or_default(),
        contact_person: r.try_get("contact_person")?,
        contact_phone: r.try_get("contact_phone")?,
        address: r.try_get("address")?,
    })
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
    let name = text_field("name", &input.name, 100, true)?;
    let kind = OrgKind::parse(&input.kind)
        .ok_or_else(|| AppError::field(ErrorCode::Validation, "kind", "未知的机构类型"))?;
    let code = regions::parse_code("region_code", &input.region_code)?;
    actor.check_region(&code)?;
    if regions::find(state, code.as_str()).await?.is_none() {
        return Err(AppError::field(
            ErrorCode::UnknownRegion,
            "region_code",
            "区划代码不存在",
        ));
    }
    let contact_person = text_field("contact_person", &input.contact_person, 50, false)?;
    let contact_phone = check_phone(&input.contact_phone)?;
    let address = text_field("address", &input.address, 200, false)?;
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO orgs (name, kind, region_code, contact_person, contact_phone, address, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(&name)
    .bind(kind.as_str())
    .bind(code.as_str())
    .bind(&contact_person)
    .bind(&contact_phone)
    .bind(&address)
    .bind(now)
    .fetch_one(w.conn())
    .await?;
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "org.create",
            object_type: "org",
            object_id: id.to_string(),
            region_code: code.to_string(),
            outcome: "success",
            detail: json!({"name": {"before": null, "after": name}, "kind": {"before": null, "after": kind.as_str()}}),
        },
    )
    .await?;
    w.commit().await?;
    state.caches.invalidate();
    get(state, actor, id).await
}

/// One organisation, if in scope.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Org> {
    actor.require(Permission::OrgsRead)?;
    let sql = format!(
        "SELECT {COLS} FROM orgs o LEFT JOIN regions r ON r.code = o.region_code WHERE o.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let org = from_row(&row)?;
    let code = RegionCode::parse(&org.region_code).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    Ok(org)
}

/// Organisations in a region of the scope (default: the whole scope), optionally one kind.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    region: Option<&str>,
    kind: Option<&str>,
) -> AppResult<Vec<Org>> {
    actor.require(Permission::OrgsRead)?;
    let (lo, hi) = match region.map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => {
            let code = RegionCode::parse(r).map_err(|_| AppError::not_found())?;
            actor.check_region(&code)?;
            code.scope_bounds()
        }
        None => actor.scope_bounds(),
    };
    let kind = match kind.map(str::trim).filter(|s| !s.is_empty()) {
        Some(k) => Some(
            OrgKind::parse(k)
                .ok_or_else(|| AppError::field(ErrorCode::Validation, "kind", "未知的机构类型"))?,
        ),
        None => None,
    };
    let mut sql = format!(
        "SELECT {COLS} FROM orgs o LEFT JOIN regions r ON r.code = o.region_code \
         WHERE o.region_code >= $1 AND o.region_code < $2"
    );
    if kind.is_some() {
        sql.push_str(" AND o.kind = $3");
    }
    sql.push_str(" ORDER BY o.region_code, o.id LIMIT 2000");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(lo).bind(hi);
    if let Some(k) = kind {
        q = q.bind(k.as_str());
    }
    let rows = q.fetch_all(state.db.pool()).await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Number of organisations in the actor's scope.
pub async fn count_in_scope(state: &AppState, actor: &Actor) -> AppResult<i64> {
    let (lo, hi) = actor.scope_bounds();
    Ok(sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM orgs WHERE region_code >= $1 AND region_code < $2",
    )
    .bind(lo)
    .bind(hi)
    .fetch_one(state.db.pool())
    .await?)
}
