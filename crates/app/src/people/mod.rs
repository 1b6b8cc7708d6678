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

pub mod export;
pub mod import;
pub mod import_pages;
pub mod pages;
pub mod pinyin;
pub mod shown;
pub mod web;
pub mod xlsx;

use backstop_core::citizen_id::{CitizenId, Sex};
use backstop_core::clock::beijing_date;
use backstop_core::error::ErrorCode;
use backstop_core::mask::mask_phone;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use backstop_store::Backend;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, FieldError, text_field};
use crate::regions;
use crate::state::AppState;

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
    /// `YYYY-MM-DD` or empty when unknown.
    pub birth_date: String,
    /// Masked for the caller (`130110********1234` with the reveal permission, else
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

/// A validation error on a person field, with the Chinese field label.
pub(crate) fn ferr(code: ErrorCode, field: &str, message: impl Into<String>) -> AppError {
    let message = message.into();
    let label = match field {
        "id_number" => "身份证号",
        "name" => "姓名",
        "sex" => "性别",
        "birth_date" => "出生日期",
        "phone" => "联系电话",
        "region_code" => "区划代码",
        "address" => "现住址",
        "hukou_address" => "户籍地址",
        "reason" => "查看原因",
        "relationship" => "与户主关系",
        "members" => "家庭成员",
        "masked" => "证件号或电话片段",
        "group" => "类别",
        other => other,
    };
    AppError {
        code,
        message: format!("{label}：{message}"),
        fields: vec![FieldError {
            field: field.to_string(),
            message,
        }],
    }
}

fn text(field: &str, v: &str, max: usize, required: bool) -> AppResult<String> {
    text_field(field, v, max, required).map_err(|e| {
        let msg = e
            .fields
            .first()
            .map(|f| f.message.clone())
            .unwrap_or(e.message);
        ferr(ErrorCode::Validation, field, msg)
    })
}

/// `男`/`女`/`male`/`female`/`m`/`f`/`1`/`2`; empty is unknown.
pub fn parse_sex(s: &str) -> Result<Option<Sex>, &'static str> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "male" | "m" | "男" | "1" => Ok(Some(Sex::Male)),
        "female" | "f" | "女" | "2" => Ok(Some(Sex::Female)),
        _ => Err("应为“男”或“女”"),
    }
}

/// `YYYY-MM-DD`, `YYYY/M/D`, `YYYY.MM.DD` or `YYYYMMDD`; empty is unknown.
pub fn parse_date(s: &str) -> Result<Option<NaiveDate>, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    for f in ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Ok(Some(d));
        }
    }
    Err("日期格式应为 YYYY-MM-DD")
}

/// Normalise a phone number: spaces and `-` removed, digits only (an optional leading `+`),
/// 7 to 15 digits; a mobile number (starting with 1) must have 11. Empty is none.
pub fn normalise_phone(s: &str) -> Result<Option<String>, &'static str> {
    let p: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{3000}'))
        .collect();
    if p.is_empty() {
        return Ok(None);
    }
    let digits = p.strip_prefix('+').unwrap_or(&p);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("只能包含数字、空格、+ 和 -");
    }
    if !(7..=15).contains(&digits.len()) {
        return Err("位数不对（应为 7 到 15 位数字）");
    }
    if digits.starts_with('1') && digits.len() != 11 && !p.starts_with('+') {
        return Err("手机号码应为 11 位");
    }
    Ok(Some(p))
}

/// The personal fields of a person, as typed (API body, form or file row).
#[derive(Debug, Clone, Default)]
pub(crate) struct RawFields<'a> {
    pub id_number: &'a str,
    pub name: &'a str,
    pub sex: &'a str,
    pub birth_date: &'a str,
    pub phone: &'a str,
    pub address: &'a str,
    pub hukou_address: &'a str,
}

/// Validated fields, ready to be sealed and stored.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub id: Option<CitizenId>,
    pub name: String,
    pub sex: Option<Sex>,
    pub birth: Option<NaiveDate>,
    pub phone: Option<String>,
    pub address: String,
    pub hukou_address: String,
}

/// Parse an ID number (422 `invalid_id_number` with the Chinese reason).
pub(crate) fn parse_id(s: &str, today: NaiveDate) -> AppResult<CitizenId> {
    CitizenId::parse_on(s, today)
        .map_err(|e| ferr(ErrorCode::InvalidIdNumber, "id_number", e.to_string()))
}

/// Validate the personal fields (no database access).
pub(crate) fn check_fields(raw: &RawFields<'_>, today: NaiveDate) -> AppResult<Checked> {
    let id = if raw.id_number.trim().is_empty() {
        None
    } else {
        Some(parse_id(raw.id_number, today)?)
    };
    let name = text("name", raw.name, 50, true)?;
    let sex = parse_sex(raw.sex).map_err(|m| ferr(ErrorCode::Validation, "sex", m))?;
    let birth =
        parse_date(raw.birth_date).map_err(|m| ferr(ErrorCode::Validation, "birth_date", m))?;
    if let Some(b) = birth
        && b > today
    {
        return Err(ferr(ErrorCode::Validation, "birth_date", "不能晚于今天"));
    }
    let (sex, birth) = match &id {
        Some(cid) => {
            if sex.is_some_and(|s| s != cid.sex()) {
                return Err(ferr(ErrorCode::Validation, "sex", "与身份证号不符"));
            }
            if birth.is_some_and(|b| b != cid.birth_date()) {
                return Err(ferr(
                    ErrorCode::Validation,
                    "birth_date",
                    "与身份证号中的出生日期不符",
                ));
            }
            (Some(cid.sex()), Some(cid.birth_date()))
        }
        None => (sex, birth),
    };
    let phone = normalise_phone(raw.phone).map_err(|m| ferr(ErrorCode::Validation, "phone", m))?;
    Ok(Checked {
        id,
        name,
        sex,
        birth,
        phone,
        address: text("address", raw.address, 200, false)?,
        hukou_address: text("hukou_address", raw.hukou_address, 200, false)?,
    })
}

/// What is stored for an ID number and a phone: ciphertext, blind index, masked form.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sealed {
    pub id_enc: Option<Vec<u8>>,
    pub id_index: Option<String>,
    pub id_masked: String,
    pub phone_enc: Option<Vec<u8>>,
    pub phone_index: Option<String>,
    pub phone_masked: String,
}

/// Blind index of a canonical ID number.
pub(crate) fn id_index(state: &AppState, id: &CitizenId) -> String {
    state.keys.blind_index("id", id.as_str())
}

fn phone_index(state: &AppState, phone: &str) -> String {
    state.keys.blind_index("phone", phone)
}

pub(crate) fn seal(state: &AppState, id: Option<&CitizenId>, phone: Option<&str>) -> Sealed {
    let mut s = Sealed::default();
    if let Some(id) = id {
        s.id_enc = Some(state.keys.encrypt(id.as_str().as_bytes()));
        s.id_index = Some(id_index(state, id));
        s.id_masked = id.masked();
    }
    if let Some(p) = phone {
        s.phone_enc = Some(state.keys.encrypt(p.as_bytes()));
        s.phone_index = Some(phone_index(state, p));
        s.phone_masked = mask_phone(p);
    }
    s
}

/// A person row as stored (masked forms only; ciphertext is read only by `reveal`).
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub id: i64,
    pub region_code: String,
    pub region_name: String,
    pub name: String,
    pub sex: String,
    pub birth_date: String,
    pub id_masked: String,
    pub phone_masked: String,
    pub phone_index: Option<String>,
    pub hukou_address: String,
    pub address: String,
    pub household_id: Option<i64>,
    pub relationship: String,
    pub deceased: bool,
    pub created_at: i64,
}

const COLS: &str = "p.id, p.region_code, r.name AS region_name, p.name, p.sex, p.birth_date, \
    p.id_masked, p.phone_masked, p.phone_index, p.hukou_address, p.address, p.household_id, \
    p.relationship, p.deceased, p.created_at";

fn stored_from_row(r: &sqlx::any::AnyRow) -> Result<Stored, sqlx::Error> {
    Ok(Stored {
        id: r.try_get("id")?,
        region_code: r.try_get("region_code")?,
        region_name: r
            .try_get::<Option<String>, _>("region_name")?
            .unwrap_or_default(),
        name: r.try_get("name")?,
        sex: r.try_get("sex")?,
        birth_date: r.try_get("birth_date")?,
        id_masked: r.try_get("id_masked")?,
        phone_masked: r.try_get("phone_masked")?,
        phone_index: r.try_get("phone_index")?,
        hukou_address: r.try_get("hukou_address")?,
        address: r.try_get("address")?,
        household_id: r.try_get("household_id")?,
        relationship: r.try_get("relationship")?,
        deceased: r.try_get::<i64, _>("deceased")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

impl Stored {
    /// The person as `actor` may see it.
    pub(crate) fn view(&self, actor: &Actor) -> Person {
        let id_number_masked = shown::id_number(actor, &self.id_masked);
        Person {
            id: self.id,
            region_code: self.region_code.clone(),
            region_name: self.region_name.clone(),
            name: self.name.clone(),
            sex_label: match self.sex.as_str() {
                "male" => "男",
                "female" => "女",
                _ => "",
            }
            .to_string(),
            sex: self.sex.clone(),
            birth_date: self.birth_date.clone(),
            id_number_masked,
            phone_masked: self.phone_masked.clone(),
            hukou_address: self.hukou_address.clone(),
            address: self.address.clone(),
            household_id: self.household_id,
            relationship_label: relationship_label(&self.relationship).to_string(),
            relationship: self.relationship.clone(),
            deceased: self.deceased,
        }
    }

    fn in_scope(&self, actor: &Actor) -> bool {
        RegionCode::parse(&self.region_code).is_ok_and(|c| actor.sees(&c))
    }
}

async fn load(conn: &mut AnyConnection, id: i64) -> AppResult<Option<Stored>> {
    let sql = format!(
        "SELECT {COLS} FROM persons p LEFT JOIN regions r ON r.code = p.region_code WHERE p.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(stored_from_row).transpose()?)
}

/// The stored person holding a blind-indexed ID number, whatever the scope (internal).
pub(crate) async fn load_by_index(
    conn: &mut AnyConnection,
    index: &str,
) -> AppResult<Option<Stored>> {
    let sql = format!(
        "SELECT {COLS} FROM persons p LEFT JOIN regions r ON r.code = p.region_code \
         WHERE p.id_index = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(index)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(stored_from_row).transpose()?)
}

/// Parse a region code, require it in scope (404 otherwise) and existing (422 unknown_region).
async fn region_in_scope(
    state: &AppState,
    actor: &Actor,
    field: &str,
    code: &str,
) -> AppResult<RegionCode> {
    let code = regions::parse_code(field, code)?;
    actor.check_region(&code)?;
    if regions::find(state, code.as_str()).await?.is_none() {
        return Err(ferr(ErrorCode::UnknownRegion, field, "区划代码不存在"));
    }
    Ok(code)
}

fn sex_str(s: Option<Sex>) -> &'static str {
    s.map(Sex::as_str).unwrap_or("")
}

fn date_str(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Insert a validated person and its audit entry inside the caller's write transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    backend: Backend,
    now: i64,
    who: &Who,
    region: &str,
    c: &Checked,
    s: &Sealed,
    via: &str,
) -> AppResult<i64> {
    let (name_pinyin, name_initials) = pinyin::keys(&c.name);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO persons (region_code, name, sex, birth_date, id_enc, id_index, id_masked, \
         phone_enc, phone_index, phone_masked, hukou_address, address, deceased, created_at, \
         updated_at, name_pinyin, name_initials) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $13, $14, $15) \
         RETURNING id",
    )
    .bind(region)
    .bind(&c.name)
    .bind(sex_str(c.sex))
    .bind(date_str(c.birth))
    .bind(s.id_enc.clone())
    .bind(s.id_index.clone())
    .bind(&s.id_masked)
    .bind(s.phone_enc.clone())
    .bind(s.phone_index.clone())
    .bind(&s.phone_masked)
    .bind(&c.hukou_address)
    .bind(&c.address)
    .bind(now)
    .bind(name_pinyin)
    .bind(name_initials)
    .fetch_one(&mut *conn)
    .await?;
    audit::append(
        conn,
        backend,
        now,
        who,
        created_entry(id, region, c, s, via),
    )
    .await?;
    Ok(id)
}

/// The audit entry of a person's creation (numbers masked).
pub(crate) fn created_entry(
    id: i64,
    region: &str,
    c: &Checked,
    s: &Sealed,
    via: &str,
) -> Entry<'static> {
    Entry {
        action: "person.create",
        object_type: "person",
        object_id: id.to_string(),
        region_code: region.to_string(),
        outcome: "success",
        detail: json!({
            "via": via,
            "name": {"before": null, "after": c.name},
            "id_number": {"before": null, "after": s.id_masked},
            "phone": {"before": null, "after": s.phone_masked},
            "region_code": {"before": null, "after": region},
        }),
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
    let code = region_in_scope(state, actor, "region_code", &input.region_code).await?;
    let sealed = seal(state, c.id.as_ref(), c.phone.as_deref());
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    if let Some(idx) = &sealed.id_index
        && let Some(existing) = load_by_index(w.conn(), idx).await?
    {
        w.rollback().await?;
        return if existing.in_scope(actor) {
            Ok(Created::Existing(existing.id))
        } else {
            Err(AppError::not_found())
        };
    }
    let inserted = insert(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        code.as_str(),
        &c,
        &sealed,
        "api",
    )
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) if e.code == ErrorCode::Conflict => {
            // Lost a race with a concurrent insert of the same number (PostgreSQL).
            w.rollback().await?;
            let idx = sealed.id_index.as_deref().unwrap_or("");
            let mut conn = state.db.pool().acquire().await?;
            return match load_by_index(&mut conn, idx).await? {
                Some(x) if x.in_scope(actor) => Ok(Created::Existing(x.id)),
                _ => Err(AppError::not_found()),
            };
        }
        Err(e) => return Err(e),
    };
    w.commit().await?;
    Ok(Created::New(Box::new(get(state, actor, id).await?)))
}

/// One person, if in scope.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Person> {
    actor.require(Permission::PersonsRead)?;
    let mut conn = state.db.pool().acquire().await?;
    let p = load(&mut conn, id)
        .await?
        .filter(|p| p.in_scope(actor))
        .ok_or_else(AppError::not_found)?;
    Ok(p.view(actor))
}

/// Exact lookup by ID number through the blind index (the number travels only in a body).
pub async fn find_by_id_number(
    state: &AppState,
    actor: &Actor,
    id_number: &str,
) -> AppResult<Person> {
    actor.require(Permission::PersonsRead)?;
    let today = beijing_date(state.clock.now());
    let cid = parse_id(id_number, today)?;
    let mut conn = state.db.pool().acquire().await?;
    let p = load_by_index(&mut conn, &id_index(state, &cid))
        .await?
        .filter(|p| p.in_scope(actor))
        .ok_or_else(AppError::not_found)?;
    Ok(p.view(actor))
}

/// `%`, `_` and `\` escaped for `LIKE … ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// A person search as SQL: a `WHERE` clause over `persons p` (always inside the caller's
/// scope) and its text arguments, numbered `$1..`. Shared by the list and the export.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub where_: String,
    pub args: Vec<String>,
}

impl Filter {
    fn push(&mut self, arg: String) -> usize {
        self.args.push(arg);
        self.args.len()
    }

    /// A masked fragment (`1234`, `130110`, `*1234`): the 6+4 masked ID number only for roles
    /// that may see it, the masked phone (3+4) for everyone.
    fn masked(&mut self, actor: &Actor, m: &str) -> AppResult<()> {
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
        let n = self.push(format!("%{frag}%"));
        if actor.can(Permission::PersonsRevealId) {
            self.where_.push_str(&format!(
                " AND (p.id_masked LIKE ${n} OR p.phone_masked LIKE ${n})"
            ));
        } else {
            self.where_
                .push_str(&format!(" AND p.phone_masked LIKE ${n}"));
        }
        Ok(())
    }

    fn name_part(&mut self, name: &str) {
        let name: String = name.chars().take(50).collect();
        let n = self.push(format!("%{}%", like_escape(&name)));
        self.where_
            .push_str(&format!(" AND p.name LIKE ${n} ESCAPE '\\'"));
    }
}

/// Build the search of `q` in the caller's scope (404 for a region outside it, 422 for a bad
/// fragment or an unknown group).
pub(crate) fn filter(state: &AppState, actor: &Actor, q: &PersonQuery) -> AppResult<Filter> {
    actor.require(Permission::PersonsRead)?;
    let (lo, hi) = match q.region.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => {
            let code = RegionCode::parse(r).map_err(|_| AppError::not_found())?;
            actor.check_region(&code)?;
            code.scope_bounds()
        }
        None => actor.scope_bounds(),
    };
    let mut f = Filter {
        where_: String::from("p.region_code >= $1 AND p.region_code < $2"),
        args: vec![lo, hi],
    };
    if let Some(name) = q.name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        f.name_part(name);
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let text: String = text.chars().take(50).collect();
        if let Some(key) = pinyin::query_key(&text) {
            // Keys are [a-z0-9] only: no wildcard to escape, and no ESCAPE clause, so both
            // engines can use the prefix indexes of migration 0010.
            let n = f.push(format!("{key}%"));
            f.where_.push_str(&format!(
                " AND (p.name_pinyin LIKE ${n} OR p.name_initials LIKE ${n})"
            ));
        } else if text.chars().any(|c| c.is_ascii_digit())
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, 'x' | 'X' | '*' | ' '))
        {
            f.masked(actor, &text)?;
        } else {
            f.name_part(&text);
        }
    }
    if let Some(m) = q.masked.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        f.masked(actor, m)?;
    }
    if let Some(g) = q.group.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let cat = crate::care::parse_category(g).ok_or_else(|| {
            ferr(
                ErrorCode::Validation,
                "group",
                format!("未知的类别“{}”", g.chars().take(30).collect::<String>()),
            )
        })?;
        let today = date_str(Some(beijing_date(state.clock.now())));
        let c = f.push(cat.to_string());
        let d = f.push(today);
        f.where_.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM care_memberships m WHERE m.person_id = p.id \
             AND m.category = ${c} AND m.start_date <= ${d} \
             AND (m.end_date = '' OR m.end_date >= ${d}))"
        ));
    }
    Ok(f)
}

/// Search persons in the caller's scope by region, name part, pinyin or initials, masked
/// fragment and group.
pub async fn list(state: &AppState, actor: &Actor, q: &PersonQuery) -> AppResult<PersonList> {
    let Filter { where_, args } = filter(state, actor, q)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let offset = q.offset.unwrap_or(0).max(0);
    let count_sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM persons p WHERE {where_}");
    let mut cq = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql));
    for a in &args {
        cq = cq.bind(a.clone());
    }
    let total: i64 = cq.fetch_one(state.db.pool()).await?;
    let sql = format!(
        "SELECT {COLS} FROM persons p LEFT JOIN regions r ON r.code = p.region_code \
         WHERE {where_} ORDER BY p.region_code, p.name, p.id LIMIT {limit} OFFSET {offset}"
    );
    let mut lq = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in &args {
        lq = lq.bind(a.clone());
    }
    let rows = lq.fetch_all(state.db.pool()).await?;
    let items = rows
        .iter()
        .map(|r| stored_from_row(r).map(|s| s.view(actor)))
        .collect::<Result<_, _>>()?;
    Ok(PersonList { total, items })
}

/// Number of persons in the actor's scope.
pub async fn count_in_scope(state: &AppState, actor: &Actor) -> AppResult<i64> {
    actor.require(Permission::PersonsRead)?;
    let (lo, hi) = actor.scope_bounds();
    Ok(sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM persons WHERE region_code >= $1 AND region_code < $2",
    )
    .bind(lo)
    .bind(hi)
    .fetch_one(state.db.pool())
    .await?)
}

/// The full ID number and phone, for a role holding `PersonsRevealId`, with a reason. The
/// reveal is written to the audit log (with the reason, never the values) before the values
/// are returned; a refused attempt on an in-scope person is audited as a failure.
pub async fn reveal(state: &AppState, actor: &Actor, id: i64, reason: &str) -> AppResult<Revealed> {
    actor.require(Permission::PersonsRead)?;
    let mut conn = state.db.pool().acquire().await?;
    let p = load(&mut conn, id)
        .await?
        .filter(|p| p.in_scope(actor))
        .ok_or_else(AppError::not_found)?;
    let entry = |outcome: &'static str, reason: &str| Entry {
        action: "person.reveal",
        object_type: "person",
        object_id: id.to_string(),
        region_code: p.region_code.clone(),
        outcome,
        detail: json!({"reason": reason, "fields": ["id_number", "phone"]}),
    };
    if !actor.can(Permission::PersonsRevealId) {
        drop(conn);
        audit::append_alone(state, &Who::from(actor), entry("failure", "无权限")).await?;
        return Err(AppError::forbidden());
    }
    let reason = text("reason", reason, 200, true)?;
    if reason.chars().count() < 2 {
        return Err(ferr(ErrorCode::Validation, "reason", "请说明查看原因"));
    }
    let row = sqlx::query("SELECT id_enc, phone_enc FROM persons WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    drop(conn);
    let open = |col: &str| -> AppResult<Option<String>> {
        let enc: Option<Vec<u8>> = row.try_get(col)?;
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
    };
    let out = Revealed {
        id,
        id_number: open("id_enc")?,
        phone: open("phone_enc")?,
    };
    audit::append_alone(state, &Who::from(actor), entry("success", &reason)).await?;
    Ok(out)
}

/// Decrypt the stored ID number of a person (internal; for checks, never shown).
async fn stored_id(
    state: &AppState,
    conn: &mut AnyConnection,
    id: i64,
) -> AppResult<Option<CitizenId>> {
    let enc: Option<Vec<u8>> = sqlx::query_scalar("SELECT id_enc FROM persons WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await?;
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
    let mut w = state.db.begin_write().await?;
    let cur = load(w.conn(), id)
        .await?
        .filter(|p| p.in_scope(actor))
        .ok_or_else(AppError::not_found)?;
    let new_region = match patch.region_code.as_deref() {
        Some(r) if r.trim() != cur.region_code => {
            region_in_scope(state, actor, "region_code", r).await?
        }
        _ => RegionCode::parse(&cur.region_code).map_err(|_| AppError::not_found())?,
    };
    let mut id_sealed: Option<Sealed> = None;
    let cid = match patch
        .id_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(n) => {
            let new = parse_id(n, today)?;
            if !cur.id_masked.is_empty() {
                let old = stored_id(state, w.conn(), id).await?;
                if old.as_ref() != Some(&new) {
                    return Err(ferr(
                        ErrorCode::Validation,
                        "id_number",
                        "已登记身份证号，不能直接修改（如登记有误请联系县级民政部门）",
                    ));
                }
                old
            } else {
                if let Some(other) = load_by_index(w.conn(), &id_index(state, &new)).await? {
                    return Err(if other.in_scope(actor) {
                        AppError::msg(
                            ErrorCode::Conflict,
                            format!("该身份证号已登记（人员编号 {}），请合并记录", other.id),
                        )
                    } else {
                        AppError::not_found()
                    });
                }
                id_sealed = Some(seal(state, Some(&new), None));
                Some(new)
            }
        }
        None if !cur.id_masked.is_empty() => stored_id(state, w.conn(), id).await?,
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
    let mut birth = match &patch.birth_date {
        Some(d) => {
            date_str(parse_date(d).map_err(|m| ferr(ErrorCode::Validation, "birth_date", m))?)
        }
        None => cur.birth_date.clone(),
    };
    if let Some(c) = &cid {
        if !sex.is_empty() && sex != c.sex().as_str() {
            return Err(ferr(ErrorCode::Validation, "sex", "与身份证号不符"));
        }
        let b = date_str(Some(c.birth_date()));
        if !birth.is_empty() && birth != b {
            return Err(ferr(
                ErrorCode::Validation,
                "birth_date",
                "与身份证号中的出生日期不符",
            ));
        }
        sex = c.sex().as_str().to_string();
        birth = b;
    }
    let address = match &patch.address {
        Some(a) => text("address", a, 200, false)?,
        None => cur.address.clone(),
    };
    let hukou = match &patch.hukou_address {
        Some(a) => text("hukou_address", a, 200, false)?,
        None => cur.hukou_address.clone(),
    };
    let deceased = patch.deceased.unwrap_or(cur.deceased);
    let now = state.now_ms();
    let backend = state.db.backend();
    let (name_pinyin, name_initials) = pinyin::keys(&name);
    let mut q_set = String::from(
        "UPDATE persons SET name = $1, region_code = $2, sex = $3, birth_date = $4, \
         address = $5, hukou_address = $6, deceased = $7, updated_at = $8, \
         name_pinyin = $81, name_initials = $82",
    );
    let mut phone_after = cur.phone_masked.clone();
    let phone_sealed = match patch.phone.as_deref() {
        Some(p) => {
            let p = normalise_phone(p).map_err(|m| ferr(ErrorCode::Validation, "phone", m))?;
            let s = seal(state, None, p.as_deref());
            phone_after = s.phone_masked.clone();
            q_set.push_str(", phone_enc = $9, phone_index = $10, phone_masked = $11");
            Some(s)
        }
        None => None,
    };
    if id_sealed.is_some() {
        q_set.push_str(", id_enc = $12, id_index = $13, id_masked = $14");
    }
    q_set.push_str(" WHERE id = $15");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(renumber(&q_set)))
        .bind(&name)
        .bind(new_region.as_str())
        .bind(&sex)
        .bind(&birth)
        .bind(&address)
        .bind(&hukou)
        .bind(i64::from(deceased))
        .bind(now)
        .bind(name_pinyin)
        .bind(name_initials);
    if let Some(s) = &phone_sealed {
        q = q
            .bind(s.phone_enc.clone())
            .bind(s.phone_index.clone())
            .bind(s.phone_masked.clone());
    }
    if let Some(s) = &id_sealed {
        q = q
            .bind(s.id_enc.clone())
            .bind(s.id_index.clone())
            .bind(s.id_masked.clone());
    }
    q.bind(id).execute(w.conn()).await?;
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
        ("birth_date", json!(cur.birth_date), json!(birth)),
        ("id_number", json!(cur.id_masked), json!(id_after)),
        ("phone", json!(cur.phone_masked), json!(phone_after)),
        ("address", json!(cur.address), json!(address)),
        ("hukou_address", json!(cur.hukou_address), json!(hukou)),
        ("deceased", json!(cur.deceased), json!(deceased)),
    ]);
    audit::append(
        w.conn(),
        backend,
        now,
        &Who::from(actor),
        Entry {
            action: "person.update",
            object_type: "person",
            object_id: id.to_string(),
            region_code: new_region.to_string(),
            outcome: "success",
            detail,
        },
    )
    .await?;
    w.commit().await?;
    get(state, actor, id).await
}

/// Renumber `$n` placeholders in order of appearance, so optional SET clauses can be written
/// with fixed numbers and bound in the same order.
fn renumber(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// One member of a new household.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewMember {
    pub person_id: i64,
    /// `head`, `spouse`, `child`, `parent`, `grandparent`, `grandchild`, `sibling`, `other`
    /// (or the Chinese label).
    pub relationship: String,
}

/// Body of `POST /api/v1/households`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewHousehold {
    pub region_code: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub members: Vec<NewMember>,
}

/// A household with its members (masked for the caller).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Household {
    pub id: i64,
    pub region_code: String,
    pub address: String,
    pub members: Vec<Person>,
}

/// Group persons of the caller's scope into a household. A person belongs to at most one
/// household; adding one who already has a household is refused.
pub async fn create_household(
    state: &AppState,
    actor: &Actor,
    input: &NewHousehold,
) -> AppResult<Household> {
    actor.require(Permission::PersonsWrite)?;
    let code = region_in_scope(state, actor, "region_code", &input.region_code).await?;
    let address = text("address", &input.address, 200, false)?;
    if input.members.len() > 50 {
        return Err(ferr(ErrorCode::Validation, "members", "一户最多 50 人"));
    }
    let mut members = Vec::with_capacity(input.members.len());
    for m in &input.members {
        let rel = parse_relationship(&m.relationship).ok_or_else(|| {
            ferr(
                ErrorCode::Validation,
                "relationship",
                format!(
                    "未知的关系“{}”",
                    m.relationship.chars().take(20).collect::<String>()
                ),
            )
        })?;
        if members.iter().any(|(id, _)| *id == m.person_id) {
            return Err(ferr(
                ErrorCode::Validation,
                "members",
                format!("人员 {} 重复", m.person_id),
            ));
        }
        members.push((m.person_id, rel));
    }
    if members.iter().filter(|(_, r)| *r == "head").count() > 1 {
        return Err(ferr(ErrorCode::Validation, "members", "一户只能有一个户主"));
    }
    let now = state.now_ms();
    let mut w = state.db.begin_write().await?;
    for (pid, _) in &members {
        let p = load(w.conn(), *pid)
            .await?
            .filter(|p| p.in_scope(actor))
            .ok_or_else(AppError::not_found)?;
        if let Some(h) = p.household_id {
            return Err(ferr(
                ErrorCode::Validation,
                "members",
                format!("{}（人员 {}）已属于户 {h}", p.name, p.id),
            ));
        }
    }
    let hid: i64 = sqlx::query_scalar(
        "INSERT INTO households (region_code, address, created_at, updated_at) \
         VALUES ($1, $2, $3, $3) RETURNING id",
    )
    .bind(code.as_str())
    .bind(&address)
    .bind(now)
    .fetch_one(w.conn())
    .await?;
    for (pid, rel) in &members {
        sqlx::query(
            "UPDATE persons SET household_id = $1, relationship = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(hid)
        .bind(*rel)
        .bind(now)
        .bind(*pid)
        .execute(w.conn())
        .await?;
    }
    let detail: Value = json!({
        "address": {"before": null, "after": address},
        "members": members.iter().map(|(p, r)| json!({"person_id": p, "relationship": r})).collect::<Vec<_>>(),
    });
    audit::append(
        w.conn(),
        state.db.backend(),
        now,
        &Who::from(actor),
        Entry {
            action: "household.create",
            object_type: "household",
            object_id: hid.to_string(),
            region_code: code.to_string(),
            outcome: "success",
            detail,
        },
    )
    .await?;
    w.commit().await?;
    get_household(state, actor, hid).await
}

/// A household in scope, with its members in scope.
pub async fn get_household(state: &AppState, actor: &Actor, id: i64) -> AppResult<Household> {
    actor.require(Permission::PersonsRead)?;
    let row = sqlx::query("SELECT id, region_code, address FROM households WHERE id = $1")
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let region_code: String = row.try_get("region_code")?;
    let code = RegionCode::parse(&region_code).map_err(|_| AppError::not_found())?;
    actor.check_region(&code)?;
    let sql = format!(
        "SELECT {COLS} FROM persons p LEFT JOIN regions r ON r.code = p.region_code \
         WHERE p.household_id = $1 ORDER BY p.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_all(state.db.pool())
        .await?;
    let mut members = Vec::new();
    for r in &rows {
        let s = stored_from_row(r)?;
        if s.in_scope(actor) {
            members.push(s.view(actor));
        }
    }
    Ok(Household {
        id,
        region_code,
        address: row.try_get("address")?,
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_helpers() {
        assert_eq!(parse_sex("男"), Ok(Some(Sex::Male)));
        assert_eq!(parse_sex(" Female "), Ok(Some(Sex::Female)));
        assert_eq!(parse_sex(""), Ok(None));
        assert!(parse_sex("x").is_err());
        let d = NaiveDate::from_ymd_opt(1980, 1, 5);
        assert_eq!(parse_date("1980-01-05"), Ok(d));
        assert_eq!(parse_date("1980/1/5"), Ok(d));
        assert_eq!(parse_date("19800105"), Ok(d));
        assert!(parse_date("05.01.1980").is_err());
        assert_eq!(
            normalise_phone("138 1234-5678"),
            Ok(Some("13812345678".into()))
        );
        assert!(normalise_phone("1381234567").is_err());
        assert!(normalise_phone("abc").is_err());
        assert_eq!(normalise_phone(""), Ok(None));
        assert_eq!(parse_relationship("户主"), Some("head"));
        assert_eq!(parse_relationship("祖父母"), Some("grandparent"));
        assert_eq!(parse_relationship("child"), Some("child"));
        assert_eq!(like_escape("a%_\\"), "a\\%\\_\\\\");
        assert_eq!(
            renumber("a = $1, b = $9 WHERE c = $15"),
            "a = $1, b = $2 WHERE c = $3"
        );
    }
}
