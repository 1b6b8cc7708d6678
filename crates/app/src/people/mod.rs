//! People and households (issue 4, part 1): one person record per citizen ID number, which
//! every other area links to instead of keeping its own copy (DESIGN principle 2).
//!
//! This module owns the rules about a person: validation (GB 11643 ID number, 15 → 18 digits,
//! sex and birth date checked against the number, phone, region), the protection of personal
//! data at rest (ID number and phone encrypted with AES-256-GCM, found through an HMAC blind
//! index, shown from a stored masked form; no plaintext number is ever written to the database
//! or a log), masking per role on every read (first 6 + 8 stars + last 4 for roles holding
//! `PersonsRevealId`, first 1 + 16 stars + last 1 for everyone else), the audited reveal of a
//! full value, and the region scope (a person outside the caller's scope does not exist: 404,
//! never in lists or counts). Pages (`pages`), the API (`web`) and the roster import (`import`)
//! all go through these functions. The search (`filter`, shared by `list` and the Excel
//! `export`) takes a name part, full pinyin or initials (keys kept by `pinyin` on every insert
//! and name change), a masked fragment and a group.
//!
//! Layout: the types and service functions (permission, validation, the write transaction and
//! its audit `Change`) are here; validation and sealing of fields in `fields`; every SQL
//! statement in `queries` (reads take a `Scoped` handle); how a person is shown in `shown`;
//! households in `households`; the roster import in `import` (its upload pages, API and jobs
//! under `import` too, re-exported as `import_pages`).

pub mod edit_pages;
pub mod export;
mod fields;
pub mod household_pages;
mod households;
pub mod import;
pub(crate) mod intake;
pub mod links;
pub mod pages;
pub mod pinyin;
pub mod privacy;
pub(crate) mod queries;
pub mod shown;
pub mod status;
pub mod web;
pub mod xlsx;

pub(crate) use fields::{
    Checked, RawFields, Sealed, SealedBirth, check_fields, created_detail, date_str, ferr,
    id_index, parse_id, seal, seal_birth, seal_person, sex_str, text,
};
pub use fields::{normalise_phone, parse_date, parse_sex};
pub use households::{
    Household, HouseholdList, HouseholdPatch, HouseholdQuery, HouseholdSummary, MemberInput,
    NewHousehold, NewMember, add_member, candidates, create_household, get_household,
    list_households, remove_member, update_household,
};
pub use links::{LinkKind, PersonLink, find_by_id_number};
pub(crate) use queries::Stored;

/// The roster upload (pages, API, background jobs), at the path other crates and the API
/// documentation know it by; the code lives under `import`.
pub mod import_pages {
    pub use super::import::api::{
        __path_api_create, __path_api_get, __path_api_rejects, ImportAccepted, ImportUpload,
        api_create, api_get, api_rejects, api_routes,
    };
    pub use super::import::columns::{SavedTemplate, save_template, templates};
    pub use super::import::jobs::{ImportJob, JobIssue, get_job, rejects_xlsx, sweep};
    pub use super::import::pages::routes;
    pub use super::import::storage::{SealedReader, upload_dir};
}

use backstop_core::citizen_id::CitizenId;
use backstop_core::clock::beijing_date;
use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit;
use crate::kernel::access::{Change, Scoped, Tx, text_len};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::extract::region_param;
use crate::regions;
use crate::state::AppState;
use queries::Holder;

/// A person as the API and pages show it: ID number and phone masked for the caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Person {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub name: String,
    /// `male`, `female` or empty when unknown.
    pub sex: String,
    pub sex_label: String,
    /// The birth year (the full date is stored encrypted and shown only by the audited
    /// reveal); `None` when unknown.
    pub birth_year: Option<i64>,
    /// Masked for the caller (`130110***********4` with the reveal permission, else
    /// `1****************4`); empty when no ID number is recorded.
    pub id_number_masked: String,
    /// `138****5678`; empty when none.
    pub phone_masked: String,
    pub hukou_address: String,
    pub address: String,
    pub household_id: Option<i64>,
    /// Relationship to the household's head (`head`, `spouse`, `child`, …).
    pub relationship: String,
    pub relationship_label: String,
    pub deceased: bool,
    /// Disabled (停用): left out of the default lists; the record and what points to it stay.
    pub disabled: bool,
    /// For a region's own registration of a person whose record is held elsewhere:
    /// `residence` (居住地) or `hukou` (户籍地); empty for a record of its own.
    pub link_kind: String,
    /// Where else this record's person is registered (on one person's read only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<PersonLink>,
    /// What to check about the ID number just registered (an old county code, a 15-digit
    /// number of the centenarians' range): on the answer to a create only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<IdNotice>,
}

/// A warning about an accepted ID number: a stable code and the Chinese message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IdNotice {
    /// `id_county_not_on_record` or `id_fifteen_digit_review`.
    pub code: String,
    pub message: String,
}

impl IdNotice {
    fn of(id: Option<&CitizenId>) -> Vec<IdNotice> {
        id.map(CitizenId::warnings)
            .unwrap_or_default()
            .into_iter()
            .map(|w| IdNotice {
                code: w.as_str().to_string(),
                message: w.message_zh().to_string(),
            })
            .collect()
    }

    /// The message of a code (for a page reached by redirect after a create).
    pub fn message_of(code: &str) -> Option<&'static str> {
        use backstop_core::citizen_id::IdWarning;
        [IdWarning::CountyNotOnRecord, IdWarning::FifteenDigitReview]
            .into_iter()
            .find(|w| w.as_str() == code)
            .map(IdWarning::message_zh)
    }
}

/// Body of `POST /api/v1/persons`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewPerson {
    /// 18 digits (or the old 15); omit for a person without one (newborn, homeless).
    #[serde(default)]
    pub id_number: Option<String>,
    pub name: String,
    /// Current region, down to village or grid.
    pub region_code: String,
    /// `male`/`female` (or 男/女); checked against the ID number, derived from it if omitted.
    #[serde(default)]
    pub sex: Option<String>,
    /// `YYYY-MM-DD`; checked against the ID number, derived from it if omitted.
    #[serde(default)]
    pub birth_date: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Current address (现住址).
    #[serde(default)]
    pub address: Option<String>,
    /// Household-registration address (户籍地址).
    #[serde(default)]
    pub hukou_address: Option<String>,
    /// When the ID number turns out to be registered by another region: what this region is to
    /// the person, `residence` (居住地, the default) or `hukou` (户籍地). The answer is the same
    /// either way; the other region's data is never shown.
    #[serde(default)]
    pub link_kind: Option<String>,
}

/// Body of `PATCH /api/v1/persons/{id}`: only the fields given change. An empty `phone`
/// clears it. `id_number` may only be set on a person recorded without one (linking later).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PersonPatch {
    pub name: Option<String>,
    pub region_code: Option<String>,
    pub sex: Option<String>,
    pub birth_date: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub hukou_address: Option<String>,
    pub deceased: Option<bool>,
    pub id_number: Option<String>,
}

/// The full values, for a caller permitted to see them (each reveal is audited).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Revealed {
    pub id: i64,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    /// `YYYY-MM-DD`, when recorded.
    pub birth_date: Option<String>,
}

/// Result of a create: the new person, or the id of the in-scope person already holding the
/// ID number (answered 409 by the API).
#[derive(Debug, Clone)]
pub enum Created {
    New(Box<Person>),
    Existing(i64),
}

/// A page of search results with the total count in scope.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonList {
    pub total: i64,
    pub items: Vec<Person>,
}

/// Filters of a person search.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct PersonQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// Part of the name.
    pub name: Option<String>,
    /// Name, full pinyin or initials: Chinese characters match a part of the name; Latin
    /// letters (spaces and apostrophes ignored, any case) match the start of the full pinyin
    /// (`zhangsan`, `zhang san`, `zhangs`) or of the initials (`zs`); a surname is read as a
    /// surname (`单` shan, `曾` zeng). Digits (with `X`, `*`) are a masked fragment, as `masked`.
    pub q: Option<String>,
    /// Group (困难群众类别) identifier or label: only persons with a membership in it that is
    /// active today.
    pub group: Option<String>,
    /// Fragment of the masked ID number (e.g. its last 4 characters, or `130110`; only for
    /// roles that may see the 6+4 form) or of the masked phone (e.g. its last 4 digits).
    pub masked: Option<String>,
    /// `true`: only disabled (停用) persons; default: only those in use.
    pub disabled: Option<bool>,
    /// Page size (default 50, at most 500).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Relationships to the head of a household, with stable identifiers.
pub const RELATIONSHIPS: [(&str, &str); 8] = [
    ("head", "户主"),
    ("spouse", "配偶"),
    ("child", "子女"),
    ("parent", "父母"),
    ("grandparent", "（外）祖父母"),
    ("grandchild", "（外）孙子女"),
    ("sibling", "兄弟姐妹"),
    ("other", "其他"),
];

/// Parse a relationship given as identifier or Chinese label.
pub fn parse_relationship(s: &str) -> Option<&'static str> {
    let s = s.trim();
    RELATIONSHIPS
        .iter()
        .find(|(id, label)| *id == s || *label == s || label.trim_start_matches("（外）") == s)
        .map(|(id, _)| *id)
}

fn relationship_label(id: &str) -> &'static str {
    RELATIONSHIPS
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// Parse a region code, require it in scope (404 otherwise) and existing (422 unknown_region).
pub(crate) async fn region_in_scope(
    state: &AppState,
    actor: &Actor,
    field: &str,
    code: &str,
) -> AppResult<RegionCode> {
    let code = regions::parse_code(field, code)?;
    actor.within(&code)?;
    if regions::find(state, code.as_str()).await?.is_none() {
        return Err(ferr(ErrorCode::UnknownRegion, field, "区划代码不存在"));
    }
    Ok(code)
}

/// The audit entry of a person's creation by the roster import (numbers masked), for the
/// import's own audit chain.
pub(crate) fn created_entry(
    id: i64,
    region: &str,
    c: &Checked,
    s: &Sealed,
    via: &str,
) -> audit::Entry<'static> {
    audit::Entry {
        action: "person.create",
        object_type: "person",
        object_id: id.to_string(),
        region_code: region.to_string(),
        outcome: "success",
        detail: created_detail(region, c, s, via),
    }
}

/// Record a person. An ID number already on record answers `Created::Existing` with its id
/// when that person is in the caller's scope, and *not found* when it is not.
pub async fn create(state: &AppState, actor: &Actor, input: &NewPerson) -> AppResult<Created> {
    actor.require(Permission::PersonsWrite)?;
    let today = beijing_date(state.clock.now());
    let raw = RawFields {
        id_number: input.id_number.as_deref().unwrap_or(""),
        name: &input.name,
        sex: input.sex.as_deref().unwrap_or(""),
        birth_date: input.birth_date.as_deref().unwrap_or(""),
        phone: input.phone.as_deref().unwrap_or(""),
        address: input.address.as_deref().unwrap_or(""),
        hukou_address: input.hukou_address.as_deref().unwrap_or(""),
    };
    let c = check_fields(&raw, today)?;
    let kind = LinkKind::parse(input.link_kind.as_deref().unwrap_or(""))
        .ok_or_else(|| ferr(ErrorCode::Validation, "link_kind", "应为“居住地”或“户籍地”"))?;
    let code = region_in_scope(state, actor, "region_code", &input.region_code).await?;
    let scope = actor.everywhere();
    let sealed = seal_person(state, &c);
    let mut tx = Tx::begin(state, actor).await?;
    if let Some(idx) = &sealed.id_index {
        match queries::holder(tx.conn(), &scope, idx).await? {
            Holder::Nobody => {}
            Holder::Here(existing) => {
                tx.rollback().await?;
                return Ok(Created::Existing(existing.id));
            }
            Holder::Elsewhere(holder) => {
                if let Some(link) = queries::link_here(tx.conn(), &scope, holder.id).await? {
                    tx.rollback().await?;
                    return Ok(Created::Existing(link.id));
                }
                let region_name = regions::find(state, code.as_str())
                    .await?
                    .map(|r| r.name)
                    .unwrap_or_default();
                let now = tx.now();
                let id = links::write_link(
                    tx.conn(),
                    now,
                    code.as_str(),
                    &region_name,
                    &c,
                    &sealed,
                    &holder,
                    kind,
                )
                .await?;
                tx.commit(
                    Change::new("person.link", "person", id, code.as_str()).detail(
                        links::link_detail(code.as_str(), &c, &sealed, holder.id, "api"),
                    ),
                )
                .await?;
                let mut p = get(state, actor, id).await?;
                p.warnings = IdNotice::of(c.id.as_ref());
                return Ok(Created::New(Box::new(p)));
            }
        }
    }
    let now = tx.now();
    let id = match queries::insert(tx.conn(), now, code.as_str(), &c, &sealed, None).await {
        Ok(id) => id,
        Err(e) if e.code == ErrorCode::Conflict => {
            // Lost the claim of the number to a registration that committed while this one
            // waited (PostgreSQL, Citus; possibly in another province). Answered as if it had
            // come second: the record in scope, or this region's link to the one elsewhere
            // (the same answer as for any new person, so the race tells nothing either).
            tx.rollback().await?;
            let idx = sealed.id_index.as_deref().unwrap_or("");
            let mut conn = state.db.pool().acquire().await?;
            return match queries::holder(&mut conn, &scope, idx).await? {
                Holder::Here(x) => Ok(Created::Existing(x.id)),
                Holder::Elsewhere(_) => {
                    drop(conn);
                    Box::pin(create(state, actor, input)).await
                }
                Holder::Nobody => Err(AppError::msg(
                    ErrorCode::Conflict,
                    "同一身份证号正在被同时登记，请稍后重试",
                )),
            };
        }
        Err(e) => return Err(e),
    };
    tx.commit(
        Change::new("person.create", "person", id, code.as_str()).detail(created_detail(
            code.as_str(),
            &c,
            &sealed,
            "api",
        )),
    )
    .await?;
    let mut p = get(state, actor, id).await?;
    p.warnings = IdNotice::of(c.id.as_ref());
    Ok(Created::New(Box::new(p)))
}

/// One person, if in scope, with where else the person is registered (for the record that
/// holds the ID number; a link shows nothing of the record it links to).
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Person> {
    actor.require(Permission::PersonsRead)?;
    let stored = queries::person_now(state, &actor.everywhere(), id).await?;
    let mut p = stored.view(actor);
    if stored.link_of.is_none() {
        p.links = links::links_of(state, id).await?;
    }
    Ok(p)
}

/// The handle a search reads through: the query's region (404 when bad or outside the
/// caller's scope), else the caller's whole scope.
fn search_scope<'a>(actor: &'a Actor, q: &PersonQuery) -> AppResult<Scoped<'a>> {
    actor.within_opt(region_param(q.region.as_deref())?.as_ref())
}

/// Build the search of `q` in the caller's scope (404 for a region outside it, 422 for a bad
/// fragment or an unknown group). Shared by the list and the export.
pub(crate) async fn filter(
    state: &AppState,
    actor: &Actor,
    q: &PersonQuery,
) -> AppResult<queries::search::Filter> {
    actor.require(Permission::PersonsRead)?;
    let mut f = queries::search::Filter::new(&search_scope(actor, q)?);
    f.disabled(q.disabled.unwrap_or(false));
    let masked = |f: &mut queries::search::Filter, m: &str| -> AppResult<()> {
        let frag: String = m
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '*')
            .map(|c| c.to_ascii_uppercase())
            .take(18)
            .collect();
        if frag.is_empty() || !frag.chars().all(|c| c.is_ascii_digit() || c == 'X') {
            return Err(ferr(
                ErrorCode::Validation,
                "masked",
                "只能包含数字、X 和 *",
            ));
        }
        f.masked(&frag, actor.can(Permission::PersonsRevealId));
        Ok(())
    };
    if let Some(name) = q.name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        f.name_part(name);
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let text: String = text.chars().take(50).collect();
        if let Some(key) = pinyin::query_key(&text) {
            f.pinyin(&key);
        } else if text.chars().any(|c| c.is_ascii_digit())
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, 'x' | 'X' | '*' | ' '))
        {
            masked(&mut f, &text)?;
        } else {
            f.name_part(&text);
        }
    }
    if let Some(m) = q.masked.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        masked(&mut f, m)?;
    }
    if let Some(g) = q.group.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let cat = crate::care::parse_category(g).ok_or_else(|| {
            ferr(
                ErrorCode::Validation,
                "group",
                format!("未知的类别“{}”", g.chars().take(30).collect::<String>()),
            )
        })?;
        f.group(state, cat, &date_str(Some(state.today()))).await?;
    }
    Ok(f)
}

/// Search persons in the caller's scope by region, name part, pinyin or initials, masked
/// fragment and group.
pub async fn list(state: &AppState, actor: &Actor, q: &PersonQuery) -> AppResult<PersonList> {
    let f = filter(state, actor, q).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let offset = q.offset.unwrap_or(0).max(0);
    let total = queries::search::count(state, &f).await?;
    let items = queries::search::page(state, &f, limit, offset)
        .await?
        .iter()
        .map(|s| s.view(actor))
        .collect();
    Ok(PersonList { total, items })
}

/// Number of persons in the actor's scope.
pub async fn count_in_scope(state: &AppState, actor: &Actor) -> AppResult<i64> {
    actor.require(Permission::PersonsRead)?;
    queries::search::count_all(state, &actor.everywhere()).await
}

/// Decrypt a stored ciphertext (a full value, never logged or stored in plain text).
pub(crate) fn open_sealed(state: &AppState, enc: Option<Vec<u8>>) -> AppResult<Option<String>> {
    match enc {
        None => Ok(None),
        Some(b) => {
            let plain = state
                .keys
                .decrypt(&b)
                .ok_or_else(|| AppError::internal("decrypt", "ciphertext rejected"))?;
            String::from_utf8(plain)
                .map(Some)
                .map_err(|_| AppError::internal("decrypt", "not utf-8"))
        }
    }
}

/// The full ID number and phone, for a role holding `PersonsRevealId`, with a reason. The
/// reveal is written to the audit log (with the reason, never the values) before the values
/// are returned; a refused attempt on an in-scope person is audited as a failure.
pub async fn reveal(state: &AppState, actor: &Actor, id: i64, reason: &str) -> AppResult<Revealed> {
    actor.require(Permission::PersonsRead)?;
    let mut conn = state.db.pool().acquire().await?;
    let p = queries::person(&mut conn, &actor.everywhere(), id).await?;
    let change = |reason: &str| {
        Change::new("person.reveal", "person", id, p.region_code.clone())
            .detail(json!({"reason": reason, "fields": ["id_number", "phone", "birth_date"]}))
    };
    if !actor.can(Permission::PersonsRevealId) {
        drop(conn);
        Tx::begin(state, actor)
            .await?
            .commit(change("无权限").failed())
            .await?;
        return Err(AppError::forbidden());
    }
    let reason = text("reason", reason, 200, true)?;
    if reason.chars().count() < 2 {
        return Err(ferr(ErrorCode::Validation, "reason", "请说明查看原因"));
    }
    let sealed = queries::ciphertexts(&mut conn, &p).await?;
    drop(conn);
    let out = Revealed {
        id,
        id_number: open_sealed(state, sealed.id)?,
        phone: open_sealed(state, sealed.phone)?,
        birth_date: open_sealed(state, sealed.birth)?,
    };
    Tx::begin(state, actor)
        .await?
        .commit(change(&reason))
        .await?;
    Ok(out)
}

/// The stored ID number of an admitted person, decrypted (internal; for checks, never shown).
async fn stored_id(state: &AppState, tx: &mut Tx, p: &Stored) -> AppResult<Option<CitizenId>> {
    let enc = queries::ciphertexts(tx.conn(), p).await?.id;
    Ok(enc
        .and_then(|b| state.keys.decrypt(&b))
        .and_then(|p| String::from_utf8(p).ok())
        .and_then(|s| CitizenId::parse(&s).ok()))
}

/// Change a person. Moving to another region needs both regions in scope. The ID number can
/// only be added to a person recorded without one; correcting a recorded number is refused
/// (it would silently re-key the person). Audited with masked before → after.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: i64,
    patch: &PersonPatch,
) -> AppResult<Person> {
    actor.require(Permission::PersonsWrite)?;
    let today = beijing_date(state.clock.now());
    let scope = actor.everywhere();
    let mut tx = Tx::begin(state, actor).await?;
    let cur = queries::person(tx.conn(), &scope, id).await?;
    let new_region = match patch.region_code.as_deref() {
        Some(r) if r.trim() != cur.region_code => {
            region_in_scope(state, actor, "region_code", r).await?
        }
        _ => RegionCode::parse(&cur.region_code).map_err(|_| AppError::not_found())?,
    };
    let mut id_sealed: Option<Sealed> = None;
    // Adding a number held by another region makes this record that region's link.
    let mut link: Option<Box<Stored>> = None;
    let cid = match patch
        .id_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(n) => {
            let new = parse_id(n, today)?;
            if !cur.id_masked.is_empty() {
                let old = stored_id(state, &mut tx, &cur).await?;
                if old.as_ref() != Some(&new) {
                    return Err(ferr(
                        ErrorCode::Validation,
                        "id_number",
                        "已登记身份证号，不能直接修改（如登记有误请联系县级民政部门）",
                    ));
                }
                old
            } else {
                let here = match queries::holder(tx.conn(), &scope, &id_index(state, &new)).await? {
                    Holder::Nobody => None,
                    Holder::Here(other) => Some(other.id),
                    Holder::Elsewhere(holder) => {
                        let l = queries::link_here(tx.conn(), &scope, holder.id).await?;
                        link = Some(holder);
                        l.map(|l| l.id)
                    }
                };
                if let Some(other) = here {
                    return Err(AppError::msg(
                        ErrorCode::Conflict,
                        format!("该身份证号已登记（人员编号 {other}），请合并记录"),
                    ));
                }
                let mut sealed = seal(state, Some(&new), None);
                if link.is_some() {
                    sealed.id_index = None;
                }
                id_sealed = Some(sealed);
                Some(new)
            }
        }
        None if !cur.id_masked.is_empty() => stored_id(state, &mut tx, &cur).await?,
        None => None,
    };
    let name = match &patch.name {
        Some(n) => text("name", n, 50, true)?,
        None => cur.name.clone(),
    };
    let mut sex = match &patch.sex {
        Some(s) => {
            sex_str(parse_sex(s).map_err(|m| ferr(ErrorCode::Validation, "sex", m))?).to_string()
        }
        None => cur.sex.clone(),
    };
    let patch_birth = match &patch.birth_date {
        Some(d) => Some(parse_date(d).map_err(|m| ferr(ErrorCode::Validation, "birth_date", m))?),
        None => None,
    };
    if let Some(c) = &cid {
        if !sex.is_empty() && sex != c.sex().as_str() {
            return Err(ferr(ErrorCode::Validation, "sex", "与身份证号不符"));
        }
        if let Some(Some(b)) = patch_birth
            && b != c.birth_date()
        {
            return Err(ferr(
                ErrorCode::Validation,
                "birth_date",
                "与身份证号中的出生日期不符",
            ));
        }
        sex = c.sex().as_str().to_string();
    }
    // The birth date is sealed again only when given or implied by a number being added.
    let birth = match (&cid, patch_birth) {
        (Some(c), Some(_)) => Some(seal_birth(state, Some(c.birth_date()))),
        (Some(c), None) if id_sealed.is_some() => Some(seal_birth(state, Some(c.birth_date()))),
        (None, Some(b)) => Some(seal_birth(state, b)),
        _ => None,
    };
    let birth_year_after = birth.as_ref().map_or(cur.birth_year, |b| b.year);
    let address = match &patch.address {
        Some(a) => text("address", a, 200, false)?,
        None => cur.address.clone(),
    };
    let hukou = match &patch.hukou_address {
        Some(a) => text("hukou_address", a, 200, false)?,
        None => cur.hukou_address.clone(),
    };
    let deceased = patch.deceased.unwrap_or(cur.deceased);
    let phone_sealed = match patch.phone.as_deref() {
        Some(p) => {
            let p = normalise_phone(p).map_err(|m| ferr(ErrorCode::Validation, "phone", m))?;
            Some(seal(state, None, p.as_deref()))
        }
        None => None,
    };
    queries::update(
        &mut tx,
        id,
        &queries::PersonUpdate {
            name: &name,
            was_region: &cur.region_code,
            region_code: new_region.as_str(),
            sex: &sex,
            birth: birth.as_ref(),
            address: &address,
            hukou_address: &hukou,
            deceased,
            phone: phone_sealed.as_ref(),
            id: id_sealed.as_ref(),
            link: link.as_ref().map(|h| (h.id, LinkKind::Residence)),
        },
    )
    .await?;
    if let Some(holder) = &link {
        let region_name = regions::find(state, new_region.as_str())
            .await?
            .map(|r| r.name)
            .unwrap_or_default();
        let now = tx.now();
        links::notify_holder(
            tx.conn(),
            now,
            new_region.as_str(),
            &region_name,
            holder,
            LinkKind::Residence,
        )
        .await?;
    }
    let phone_after = phone_sealed
        .as_ref()
        .map(|s| s.phone_masked.clone())
        .unwrap_or_else(|| cur.phone_masked.clone());
    let id_after = id_sealed
        .as_ref()
        .map(|s| s.id_masked.clone())
        .unwrap_or_else(|| cur.id_masked.clone());
    let detail = audit::diff(&[
        ("name", json!(cur.name), json!(name)),
        (
            "region_code",
            json!(cur.region_code),
            json!(new_region.as_str()),
        ),
        ("sex", json!(cur.sex), json!(sex)),
        ("birth_year", json!(cur.birth_year), json!(birth_year_after)),
        ("id_number", json!(cur.id_masked), json!(id_after)),
        ("phone", json!(cur.phone_masked), json!(phone_after)),
        ("address", text_len(&cur.address), text_len(&address)),
        (
            "hukou_address",
            text_len(&cur.hukou_address),
            text_len(&hukou),
        ),
        ("deceased", json!(cur.deceased), json!(deceased)),
    ]);
    tx.commit(Change::new("person.update", "person", id, new_region.to_string()).detail(detail))
        .await?;
    get(state, actor, id).await
}
