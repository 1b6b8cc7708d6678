//! Applications made by the applicant (一次不用跑, issue 16 item 7): without an account, on the
//! public page or the public API, after the phone was verified with a one-time code
//! (`crate::public`). The application enters the normal path (`submitted`, due for
//! verification by the village's township) like one a worker entered, with channel `public`
//! and the verified phone sealed on it (its blind index finds the applicant's own requests).
//!
//! The same-answer rule: nothing the applicant sees depends on whether a member is already in
//! the registry, on a roll or on another application. Every member is looked up and every
//! check runs the same way for known and unknown ID numbers, in one transaction; a member
//! already on an open application or an active roll of the programme is *accepted* and the
//! application flagged for staff (`public_flags`), never refused publicly. Members not yet in
//! the registry are recorded through the registry's own path (`people::intake`).

use backstop_core::Programme;
use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use chrono::Datelike;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::applications::{AUTHORISATION_VERSION, AmountCase, Figures, MemberRow, status_label};
use super::emergency;
use super::{DAY_MS, area_kind_field, county_of, opt_amount_field, programme_field, queries, ymd};
use crate::audit::Who;
use crate::kernel::access::{Change, Tx};
use crate::kernel::error::{AppError, AppResult, text_field};
use crate::people::intake::{intake, record_household};
use crate::people::{Checked, RawFields, check_fields, parse_relationship};
use crate::state::AppState;

/// The text of the e-authorisation (电子授权) shown to the applicant, of version
/// [`AUTHORISATION_VERSION`]; what they agree to is recorded with that version.
pub const AUTHORISATION_TEXT: &str = "本人及共同生活的成年家庭成员同意并授权民政部门，为办理本次社会救助申请，\
向公安、人力资源社会保障、住房城乡建设、自然资源、市场监管、税务、银行、证券、保险等部门和机构\
查询、核对本家庭成员的户籍、收入、财产等经济状况信息。查询结果仅用于本次救助审核，依法保密。";

/// Most members a public application may name.
const MAX_MEMBERS: usize = 10;

/// A member of a public application (the applicant first).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PublicMember {
    pub name: String,
    /// 18-digit ID number (居民身份证号码).
    pub id_number: String,
    /// Relation to the applicant (the head): `spouse`, `child`, `parent`, `grandparent`,
    /// `grandchild`, `sibling`, `other` (or the Chinese label); ignored for the applicant.
    #[serde(default)]
    pub relationship: String,
    /// Wage and business income over the past 12 months, yuan text.
    #[serde(default)]
    pub earned_12m: Option<String>,
    /// Other income over the past 12 months, yuan text.
    #[serde(default)]
    pub other_12m: Option<String>,
    /// Assets (存款、有价证券等), yuan text.
    #[serde(default)]
    pub assets: Option<String>,
}

/// Body of `POST /public/api/applications`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PublicApplication {
    /// `dibao`, `tekun`, `orphan_allowance`, `de_facto_orphan_allowance` or
    /// `disability_allowances`.
    pub programme: String,
    /// The village or community (村/社区) the household lives in.
    pub region_code: String,
    /// `urban` or `rural`.
    pub area_kind: String,
    /// Address (现住址).
    #[serde(default)]
    pub address: String,
    pub members: Vec<PublicMember>,
    /// The applicant agrees to the e-authorisation for every adult member.
    #[serde(default)]
    pub authorised: bool,
    /// The version of the text agreed to (`GET /public/api/authorisation`).
    #[serde(default)]
    pub authorisation_version: String,
    /// Free text (sealed at rest).
    #[serde(default)]
    pub note: Option<String>,
}

/// What the applicant is told about an application of theirs: the same shape for every one.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicStatus {
    /// The application number (申请编号).
    pub number: String,
    pub programme: String,
    pub programme_label: String,
    pub region_name: String,
    /// submitted | verified | reviewed | publicised | approved | rejected
    pub status: String,
    pub status_label: String,
    /// `YYYY-MM-DD`.
    pub applied_on: String,
    /// The reason, once not approved.
    pub reject_reason: String,
}

/// The e-authorisation text and its version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Authorisation {
    pub version: String,
    pub text: String,
}

/// The e-authorisation currently shown.
pub fn authorisation() -> Authorisation {
    Authorisation {
        version: AUTHORISATION_VERSION.to_string(),
        text: AUTHORISATION_TEXT.to_string(),
    }
}

/// Programmes a person may apply for on the public page (key, Chinese label).
pub fn programmes() -> Vec<(&'static str, &'static str)> {
    [
        Programme::Dibao,
        Programme::Tekun,
        Programme::OrphanAllowance,
        Programme::DeFactoOrphanAllowance,
        Programme::DisabilityAllowances,
    ]
    .into_iter()
    .map(|p| (p.key(), p.label()))
    .collect()
}

/// A member checked without the database.
struct CheckedMember {
    fields: Checked,
    relationship: &'static str,
    figures: Figures,
}

fn member_err(i: usize, e: AppError) -> AppError {
    match e.fields.first() {
        Some(f) => AppError::field(e.code, &format!("members[{i}].{}", f.field), &f.message),
        None => e,
    }
}

/// Every check that needs no database: the same for any ID number.
fn check_members(state: &AppState, input: &PublicApplication) -> AppResult<Vec<CheckedMember>> {
    if input.members.is_empty() || input.members.len() > MAX_MEMBERS {
        return Err(AppError::field(
            ErrorCode::Validation,
            "members",
            format!("须有 1 至 {MAX_MEMBERS} 名家庭成员（申请人在前）"),
        ));
    }
    let today = state.today();
    let mut out: Vec<CheckedMember> = Vec::new();
    for (i, m) in input.members.iter().enumerate() {
        let f = |name: &str| format!("members[{i}].{name}");
        if m.id_number.trim().is_empty() {
            return Err(AppError::field(
                ErrorCode::Validation,
                &f("id_number"),
                "请填写身份证号",
            ));
        }
        let raw = RawFields {
            id_number: &m.id_number,
            name: &m.name,
            ..RawFields::default()
        };
        let fields = check_fields(&raw, today).map_err(|e| member_err(i, e))?;
        if out.iter().any(|o| o.fields.id == fields.id) {
            return Err(AppError::field(
                ErrorCode::Validation,
                &f("id_number"),
                "同一身份证号不能重复填写",
            ));
        }
        let relationship = if i == 0 {
            "head"
        } else {
            match parse_relationship(&m.relationship) {
                Some(r) if r != "head" => r,
                _ => {
                    return Err(AppError::field(
                        ErrorCode::Validation,
                        &f("relationship"),
                        "请选择与申请人的关系（配偶、子女、父母等）",
                    ));
                }
            }
        };
        let figures = Figures {
            earned: opt_amount_field(&f("earned_12m"), m.earned_12m.as_deref())?.0,
            other: opt_amount_field(&f("other_12m"), m.other_12m.as_deref())?.0,
            exempt: 0,
            assets: opt_amount_field(&f("assets"), m.assets.as_deref())?.0,
            supplement_percent: 0,
        };
        out.push(CheckedMember {
            fields,
            relationship,
            figures,
        });
    }
    Ok(out)
}

/// The region an application is made in: an existing village or community under a county.
async fn village(state: &AppState, code: &str) -> AppResult<(RegionCode, RegionCode)> {
    let bad = || {
        AppError::field(
            ErrorCode::Validation,
            "region_code",
            "请选择所在的村（社区）",
        )
    };
    let code = RegionCode::parse(code.trim()).map_err(|_| bad())?;
    let region = crate::regions::find(state, code.as_str())
        .await?
        .ok_or_else(bad)?;
    if region.level != "village" {
        return Err(bad());
    }
    let county = county_of(&code).ok_or_else(bad)?;
    Ok((code, county))
}

/// A fresh application number: the province, the date (`YYMMDD`) and eight random digits.
fn new_number(province: &str, today: chrono::NaiveDate) -> String {
    let n: u32 = rand::rng().random_range(0..100_000_000);
    format!(
        "{province}{:02}{:02}{:02}{n:08}",
        today.year() % 100,
        today.month(),
        today.day()
    )
}

/// Submit an application for the verified phone (`phone_enc` sealed, its blind index `phone_index`),
/// from address `source`. One transaction: members recorded, household, application,
/// members, first step, audit. The answer is the application's status as the applicant sees
/// it, the same for any members. Sent again under the same `idem` key (a phone retrying), the
/// first application's answer.
pub async fn submit(
    state: &AppState,
    phone_enc: Vec<u8>,
    phone_index: &str,
    source: &str,
    input: &PublicApplication,
    idem: Option<&str>,
) -> AppResult<PublicStatus> {
    let idem = idem.map(str::trim).filter(|k| !k.is_empty());
    if let Some(k) = idem {
        if !(8..=100).contains(&k.len())
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(AppError::field(
                ErrorCode::Validation,
                "Idempotency-Key",
                "应为 8 到 100 个字母、数字、- 或 _",
            ));
        }
        if let Some(n) = queries::number_for_key(state, phone_index, k).await? {
            return status(state, phone_index, &n).await;
        }
    }
    let programme = programme_field("programme", &input.programme)?;
    if !programmes().iter().any(|(k, _)| *k == programme.key()) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "programme",
            "临时救助请向所在乡镇（街道）或拨打服务热线申请",
        ));
    }
    let (region, county) = village(state, &input.region_code).await?;
    let area_kind = area_kind_field("area_kind", &input.area_kind)?;
    let address = text_field("address", &input.address, 200, false)?;
    let members = check_members(state, input)?;
    if !input.authorised {
        return Err(AppError::field(
            ErrorCode::Validation,
            "authorised",
            "须阅读并同意电子授权书（核对家庭经济状况）",
        ));
    }
    if input.authorisation_version.trim() != AUTHORISATION_VERSION {
        return Err(AppError::field(
            ErrorCode::Validation,
            "authorisation_version",
            "授权书已更新，请重新阅读并同意",
        ));
    }
    let note = text_field("note", input.note.as_deref().unwrap_or(""), 500, false)?;
    let today = state.today();
    let figures: Vec<Figures> = members.iter().map(|m| m.figures.clone()).collect();
    let amount = super::applications::compute_amount(
        state,
        &AmountCase {
            region: &region,
            programme,
            area_kind,
            covered: members.len(),
            self_care: if programme == Programme::Tekun {
                "care_full"
            } else {
                ""
            },
            figures: &figures,
            date: today,
        },
    )
    .await;
    let (amount_fen, detail) = match amount {
        Ok(Some(a)) => (Some(a.monthly.0), a.detail),
        Ok(None) => (None, "家庭人均收入不低于保障标准".to_string()),
        Err(e) => (None, e.message),
    };
    let period = emergency::in_force(state, &region, today).await?;
    let measure_keys = period
        .as_ref()
        .map(|p| emergency::measure_keys(&p.measures))
        .unwrap_or_default();
    let settings = super::settings(state, county.as_str()).await?;
    let province = super::province_of(region.as_str());
    let who = Who {
        user_id: None,
        username: "public".to_string(),
        source: source.to_string(),
    };
    let mut tx = Tx::begin_as(state, who).await?;
    // Every member looked up (and the new ones recorded) the same way.
    let mut rows = Vec::with_capacity(members.len());
    let mut flags: Vec<&str> = Vec::new();
    let mut household_members: Vec<(i64, &'static str)> = Vec::new();
    for m in &members {
        let p = intake(state, &mut tx, &region, &m.fields).await?;
        if p.known {
            if !flags.contains(&"registry") {
                flags.push("registry");
            }
            if p.deceased && !flags.contains(&"deceased") {
                flags.push("deceased");
            }
        } else {
            household_members.push((p.id, m.relationship));
        }
        let birth_year = m.fields.birth.map(|b| i64::from(b.year())).or(p.birth_year);
        rows.push(MemberRow {
            person_id: p.id,
            adult: birth_year.is_none_or(|y| i64::from(today.year()) - y >= 18),
            figures: m.figures.clone(),
            authorised: true,
        });
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.person_id).collect();
    if queries::already_covered(&mut tx, programme.key(), &ids).await? {
        flags.insert(0, "duplicate");
    }
    let household =
        record_household(&mut tx, region.as_str(), &address, &household_members).await?;
    let content = json!({"note": note}).to_string();
    let id = queries::insert_application(
        &mut tx,
        &queries::ApplicationRow {
            programme: programme.key(),
            county_code: county.as_str(),
            region_code: region.as_str(),
            household_id: household,
            applicant: rows[0].person_id,
            area_kind,
            members: rows.len() as i64,
            covered: rows.len() as i64,
            self_care: if programme == Programme::Tekun {
                "care_full"
            } else {
                ""
            },
            applied_on: &ymd(today),
            content_enc: crate::privacy::seal(&state.keys, &content),
            amount_fen,
            amount_detail: &detail,
            due_at: state.now_ms() + settings.verify_days * DAY_MS,
            emergency_id: period.as_ref().map(|p| p.id),
            emergency_measures: &measure_keys,
            commitment: false,
            by: "public",
        },
    )
    .await?;
    let submitted = super::applications::Submitted {
        region: region.as_str(),
        id,
        by: "public",
        note: "申请人在线提交（手机已验证）",
    };
    super::applications::insert_members_and_submit(&mut tx, state, &submitted, &rows, |m| m.adult)
        .await?;
    let mut number = new_number(&province, today);
    for _ in 0..5 {
        if !queries::number_taken(&mut tx, &province, &number).await? {
            break;
        }
        number = new_number(&province, today);
    }
    queries::mark_public(
        &mut tx,
        id,
        &queries::PublicMark {
            number: &number,
            phone_index,
            phone_enc,
            flags: &flags.join(","),
            idem,
        },
    )
    .await?;
    tx.commit(
        Change::new(
            "assistance.application_public",
            "assistance_application",
            id,
            region.as_str(),
        )
        .detail(
            json!({"programme": programme.key(), "channel": "public", "members": rows.len(),
            "status": {"before": null, "after": "submitted"}, "flags": flags,
            "emergency_measures": measure_keys}),
        ),
    )
    .await?;
    status(state, phone_index, &number).await
}

/// The applicant's own applications (by the verified phone), newest first.
pub async fn mine(state: &AppState, phone_index: &str) -> AppResult<Vec<PublicStatus>> {
    queries::public_by_phone(state, phone_index, None).await
}

/// One application of the verified phone by its number; *not found* alike for an unknown
/// number and for one made with another phone.
pub async fn status(state: &AppState, phone_index: &str, number: &str) -> AppResult<PublicStatus> {
    let number = number.trim();
    if number.is_empty() || number.len() > 30 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::not_found());
    }
    queries::public_by_phone(state, phone_index, Some(number))
        .await?
        .into_iter()
        .next()
        .ok_or_else(AppError::not_found)
}

/// The Chinese label of a status, for the applicant.
pub fn public_status_label(s: &str) -> &'static str {
    match s {
        "approved" => "已批准",
        s => status_label(s),
    }
}

/// What staff are told about a public application's flags.
pub fn flags_label(flags: &str) -> String {
    flags
        .split(',')
        .filter_map(|f| match f {
            "duplicate" => Some("疑似重复申请或已在保"),
            "registry" => Some("部分成员已在人员库，请核对家庭户"),
            "deceased" => Some("有成员已登记为死亡"),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("；")
}
