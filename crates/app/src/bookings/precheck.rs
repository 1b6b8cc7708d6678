//! The pre-check (网上预审) of a marriage registry booking (issue 19 item 3): before coming,
//! the couple enters the registration data (for each party: nationality, ethnic group,
//! occupation, education, address) and ticks the documents they will bring from the
//! registry's checklist; staff pre-check it online and answer *approved* or what is missing,
//! and the answer goes to the booking's phone. The data is sealed at rest and shown only to
//! staff who may manage the registry's bookings; the audit records which documents were
//! ticked and the answer, never the data.

use backstop_core::error::ErrorCode;
use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::book::Booking;
use super::queries;
use crate::audit::Who;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::state::AppState;

/// The documents to bring, per service kind: key and text.
pub fn documents_for(kind: &str) -> &'static [(&'static str, &'static str)] {
    match kind {
        "marriage_registration" => &[
            ("hukou", "本人的户口簿"),
            ("id_card", "本人的居民身份证（或其他有效身份证件）"),
            ("photos", "3 张 2 寸近期半身免冠合影照片"),
            (
                "declaration",
                "本人无配偶以及与对方没有直系血亲和三代以内旁系血亲关系的签字声明",
            ),
        ],
        "divorce_registration" => &[
            ("hukou", "本人的户口簿"),
            ("id_card", "本人的居民身份证（或其他有效身份证件）"),
            ("marriage_cert", "本人的结婚证"),
            ("agreement", "双方共同签署的离婚协议书"),
        ],
        "divorce_certificate" => &[
            ("hukou", "本人的户口簿"),
            ("id_card", "本人的居民身份证（或其他有效身份证件）"),
            ("marriage_cert", "本人的结婚证"),
            ("photos", "2 张 2 寸近期半身免冠照片"),
        ],
        "certificate_replacement" => &[
            ("hukou", "本人的户口簿"),
            ("id_card", "本人的居民身份证（或其他有效身份证件）"),
            ("photos", "近期半身免冠照片"),
        ],
        _ => &[],
    }
}

/// The registration data of one party.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PartyData {
    /// 国籍.
    #[serde(default)]
    pub nationality: String,
    /// 民族.
    #[serde(default)]
    pub ethnicity: String,
    /// 职业.
    #[serde(default)]
    pub occupation: String,
    /// 文化程度.
    #[serde(default)]
    pub education: String,
    /// 住址.
    #[serde(default)]
    pub address: String,
}

/// Body of `PUT /api/v1/bookings/{id}/precheck` (and the public page's form).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PrecheckInput {
    /// One per party of the booking, in order.
    pub parties: Vec<PartyData>,
    /// The keys of the documents they will bring.
    #[serde(default)]
    pub documents: Vec<String>,
}

/// Body of `POST /api/v1/bookings/{id}/precheck/answer`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PrecheckAnswer {
    pub approved: bool,
    /// What is missing or wrong (required when not approved).
    #[serde(default)]
    pub missing: String,
}

/// A booking's pre-check.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Precheck {
    pub id: i64,
    pub booking_id: i64,
    pub org_id: i64,
    pub region_code: String,
    /// The registration data (staff who manage the registry's bookings only; else empty).
    pub data: Vec<PartyData>,
    pub documents: Vec<String>,
    /// `submitted`, `approved` or `missing`.
    pub status: String,
    pub status_label: String,
    pub missing: String,
    pub answered_by: Option<String>,
    pub answered_at: Option<String>,
    pub submitted_at: String,
}

/// The Chinese name of a pre-check status.
pub fn status_label(s: &str) -> &'static str {
    match s {
        "submitted" => "待预审",
        "approved" => "预审通过",
        "missing" => "需补充材料",
        _ => "",
    }
}

/// The Chinese text of a document key of a service kind.
pub fn document_label(kind: &str, key: &str) -> &'static str {
    documents_for(kind)
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, t)| *t)
        .unwrap_or("")
}

fn checked(b: &Booking, input: &PrecheckInput) -> AppResult<(Vec<PartyData>, Vec<String>)> {
    let list = documents_for(&b.service_kind);
    if list.is_empty() {
        return Err(AppError::msg(ErrorCode::Validation, "该服务不需要预审"));
    }
    if !matches!(b.status.as_str(), "booked" | "rebooking") {
        return Err(AppError::msg(
            ErrorCode::Conflict,
            format!("该预约{}，不能再提交预审", b.status_label),
        ));
    }
    if input.parties.len() != b.parties.len() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "parties",
            format!("须填写 {} 位当事人的登记信息", b.parties.len()),
        ));
    }
    let mut parties = Vec::new();
    for (i, p) in input.parties.iter().enumerate() {
        let f = |n: &str| format!("parties[{i}].{n}");
        parties.push(PartyData {
            nationality: text_field(&f("nationality"), &p.nationality, 40, true)?,
            ethnicity: text_field(&f("ethnicity"), &p.ethnicity, 20, false)?,
            occupation: text_field(&f("occupation"), &p.occupation, 40, true)?,
            education: text_field(&f("education"), &p.education, 20, true)?,
            address: text_field(&f("address"), &p.address, 100, true)?,
        });
    }
    let mut documents = Vec::new();
    for d in &input.documents {
        let d = d.trim();
        if !list.iter().any(|(k, _)| *k == d) {
            return Err(AppError::field(
                ErrorCode::Validation,
                "documents",
                "请从材料清单中选择",
            ));
        }
        if !documents.iter().any(|x: &String| x == d) {
            documents.push(d.to_string());
        }
    }
    Ok((parties, documents))
}

/// Submit (or resubmit) the pre-check of a booking, as `who`.
pub(crate) async fn submit(
    state: &AppState,
    who: Who,
    b: &Booking,
    input: &PrecheckInput,
) -> AppResult<Precheck> {
    let (parties, documents) = checked(b, input)?;
    let org = queries::org_public(state, b.org_id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let data = serde_json::to_vec(&parties).map_err(|e| AppError::internal("precheck data", e))?;
    let mut tx = Tx::begin_as(state, who).await?;
    queries::submit_precheck(
        &mut tx,
        &org,
        b.id,
        state.keys.encrypt(&data),
        &documents.join(","),
    )
    .await?;
    tx.commit(
        Change::new("booking.precheck_submit", "booking", b.id, &b.region_code)
            .detail(json!({"documents": documents})),
    )
    .await?;
    let (p, _) = queries::precheck(state, b.id)
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(p)
}

/// The couple's data is opened only for the registry's own staff (organisation scope): an
/// official of the region with `bookings.manage` sees the status and the answer, not the data.
fn may_open(actor: &Actor, org_id: i64) -> bool {
    actor.can(Permission::BookingsManage) && actor.org_id == Some(org_id)
}

/// Opened for the registry's own staff, else the status alone.
fn shown(state: &AppState, actor: &Actor, org_id: i64, row: (Precheck, Vec<u8>)) -> Precheck {
    if may_open(actor, org_id) {
        opened(state, row)
    } else {
        row.0
    }
}

fn opened(state: &AppState, (mut p, enc): (Precheck, Vec<u8>)) -> Precheck {
    p.data = state
        .keys
        .decrypt(&enc)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    p
}

/// The pre-check of a booking in the actor's scope (the data only for `bookings.manage`).
pub async fn get(state: &AppState, actor: &Actor, booking_id: i64) -> AppResult<Option<Precheck>> {
    let b = super::book::get(state, actor, booking_id).await?;
    let found = queries::precheck(state, b.id).await?;
    Ok(found.map(|row| shown(state, actor, b.org_id, row)))
}

/// The pre-check of a public booking (no data: the person entered it).
pub(crate) async fn public_get(state: &AppState, b: &Booking) -> AppResult<Option<Precheck>> {
    Ok(queries::precheck(state, b.id).await?.map(|r| r.0))
}

/// The booking's pre-check as staff see it.
async fn current(state: &AppState, actor: &Actor, b: &Booking) -> AppResult<Precheck> {
    Ok(shown(
        state,
        actor,
        b.org_id,
        queries::precheck(state, b.id)
            .await?
            .ok_or_else(AppError::not_found)?,
    ))
}

/// Staff enter the pre-check on behalf of the couple (on the phone).
pub async fn staff_submit(
    state: &AppState,
    actor: &Actor,
    booking_id: i64,
    input: &PrecheckInput,
) -> AppResult<Precheck> {
    actor.require(Permission::BookingsManage)?;
    let b = super::book::get(state, actor, booking_id).await?;
    submit(state, Who::from(actor), &b, input).await?;
    current(state, actor, &b).await
}

/// The pre-checks of a registry waiting for an answer, oldest first (`bookings.manage`).
pub async fn waiting(state: &AppState, actor: &Actor, org_id: i64) -> AppResult<Vec<Precheck>> {
    actor.require(Permission::BookingsManage)?;
    let o = super::org(state, actor, org_id).await?;
    Ok(queries::prechecks_at(state, o.id, "submitted")
        .await?
        .into_iter()
        .map(|r| shown(state, actor, o.id, r))
        .collect())
}

/// Staff answer a pre-check: approved, or what is missing; the answer goes to the booking's
/// phone.
pub async fn answer(
    state: &AppState,
    actor: &Actor,
    booking_id: i64,
    input: &PrecheckAnswer,
) -> AppResult<Precheck> {
    actor.require(Permission::BookingsManage)?;
    let b = super::book::get(state, actor, booking_id).await?;
    let (p, _) = queries::precheck(state, b.id)
        .await?
        .ok_or_else(|| AppError::msg(ErrorCode::NotFound, "该预约尚未提交预审"))?;
    let missing = text_field("missing", &input.missing, 300, !input.approved)?;
    let (status, result) = if input.approved {
        (
            "approved",
            "已通过，请按预约时间携带所列材料原件到场".to_string(),
        )
    } else {
        ("missing", format!("需补充或更正：{missing}"))
    };
    let mut tx = Tx::begin(state, actor).await?;
    if queries::answer_precheck(&mut tx, &p, status, &missing, &actor.username).await? != 1 {
        return Err(AppError::msg(ErrorCode::Conflict, "该预审已答复"));
    }
    // One answer per submission: the status tells a "missing" answer from the approval that
    // may follow it within the same instant.
    let key = format!(
        "precheck-{}-{}-{status}-{}",
        super::province_of(&b.region_code),
        p.id,
        tx.now()
    );
    if let Some(phone) = queries::phone_of(&mut tx, b.id)
        .await?
        .and_then(|enc| state.keys.decrypt(&enc))
        .and_then(|x| String::from_utf8(x).ok())
    {
        let fields = [
            ("org", b.org_name.clone()),
            ("number", b.number.clone()),
            ("result", result),
        ];
        let text = crate::notify::templates::render(tx.conn(), "booking_precheck", &fields).await?;
        crate::notify::queue_secret_sms(
            state,
            tx.conn(),
            &phone,
            "booking_precheck",
            &format!("【兜底】{}", text.body),
            &key,
        )
        .await?;
    }
    tx.commit(
        Change::new("booking.precheck_answer", "booking", b.id, &b.region_code)
            .detail(json!({"status": {"before": p.status, "after": status}}))
            .free_text("missing", &missing),
    )
    .await?;
    current(state, actor, &b).await
}
