//! Applications (救助申请): entered by a community worker for an applicant household; members
//! are persons of the registry (one record each, an unknown one is refused), each with the
//! income of the past 12 months and assets (sealed at rest), and each adult with the
//! e-authorisation (电子授权) to verify economic status, its time and the text version. The
//! measures of the emergency period in force for the application's region and date are
//! recorded on it; a personal commitment (个人承诺) instead of documents is allowed only while a
//! period with `commitment` is in force. The proposed amount is computed at once from the
//! standards in force (`backstop_core::benefit`) and again at approval.

use backstop_core::benefit::{self, DibaoRules, MemberIncome, SelfCare};
use backstop_core::error::ErrorCode;
use backstop_core::money::Fen;
use backstop_core::region::RegionCode;
use backstop_core::role::Permission;
use backstop_core::{PaidPer, Programme};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::emergency::{self, Measure};
use super::{DAY_MS, area_kind_field, county_of, opt_amount_field, programme_field, queries, ymd};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult, date_field, text_field};
use crate::state::AppState;

/// The e-authorisation text version applicants agree to (shown with the record).
pub const AUTHORISATION_VERSION: &str = "电子授权书 2026 版 v1";

/// A member of `POST /api/v1/assistance/applications`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewMember {
    /// A person of the registry.
    pub person_id: i64,
    /// Wage and business income over the past 12 months, yuan text.
    #[serde(default)]
    pub earned_12m: Option<String>,
    /// Other income over the past 12 months, yuan text.
    #[serde(default)]
    pub other_12m: Option<String>,
    /// Exempt items included above (不计入收入的项目), yuan text.
    #[serde(default)]
    pub exempt_12m: Option<String>,
    /// Assets (存款、有价证券等), yuan text.
    #[serde(default)]
    pub assets: Option<String>,
    /// 分类施保: percent of the standard for this member (0–100).
    #[serde(default)]
    pub supplement_percent: Option<u32>,
    /// The member agreed to the e-authorisation (required for adults).
    #[serde(default)]
    pub authorised: bool,
}

/// Body of `POST /api/v1/assistance/applications`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewApplication {
    pub programme: String,
    pub household_id: i64,
    /// `urban` or `rural`.
    pub area_kind: String,
    /// Members, the applicant first; for 单人保 the covered members first.
    pub members: Vec<NewMember>,
    /// Persons covered (单人保 when fewer than the members); default all.
    #[serde(default)]
    pub covered: Option<i64>,
    /// Tekun: `care_self`, `care_partial` or `care_full`.
    #[serde(default)]
    pub self_care: Option<String>,
    /// `YYYY-MM-DD`, default today; not in the future.
    #[serde(default)]
    pub applied_on: Option<String>,
    /// A personal commitment replaces the documents (only during a period with `commitment`).
    #[serde(default)]
    pub commitment: bool,
    /// Free text (sealed at rest).
    #[serde(default)]
    pub note: Option<String>,
}

/// A member as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub person_id: i64,
    /// Masked (`张*`).
    pub name: String,
    pub adult: bool,
    pub earned_12m_fen: i64,
    pub other_12m_fen: i64,
    pub exempt_12m_fen: i64,
    pub assets_fen: i64,
    pub supplement_percent: u32,
    /// RFC 3339, when the member agreed to the e-authorisation.
    pub authorised_at: Option<String>,
    pub authorisation_version: Option<String>,
}

/// One step taken.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Step {
    pub step: String,
    pub from_status: String,
    pub to_status: String,
    pub actor: String,
    pub at: String,
    pub note: String,
}

/// An application as shown to staff.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Application {
    pub id: i64,
    pub programme: String,
    pub programme_label: String,
    pub county_code: String,
    pub region_code: String,
    pub household_id: i64,
    pub applicant_person_id: i64,
    /// Masked.
    pub applicant_name: String,
    pub area_kind: String,
    pub members: i64,
    pub covered: i64,
    pub self_care: String,
    /// submitted | verified | reviewed | publicised | approved | rejected
    pub status: String,
    pub status_label: String,
    pub applied_on: String,
    pub monthly_amount_fen: Option<i64>,
    pub amount_detail: String,
    /// The level that must act next (`verify`, `review`, `approve`) and by when (RFC 3339).
    pub due_step: String,
    pub due_at: Option<String>,
    pub overdue: bool,
    pub publicity_ends_at: Option<String>,
    pub reject_reason: String,
    /// 近亲属备案: the staff account the applicant is a close relative of.
    pub related_staff: Option<String>,
    pub emergency_id: Option<i64>,
    /// What the period in force switched on (`aid_first,commitment,…`).
    pub emergency_measures: String,
    /// Chinese, e.g. `应急：个人承诺、当月审批`; empty when none.
    pub emergency_label: String,
    pub commitment: bool,
    pub commitment_verified: bool,
    pub beneficiary_id: Option<i64>,
    pub note: String,
    pub created_by: String,
    pub created_at: String,
    /// `staff` (entered by a worker) or `public` (by the applicant, phone verified).
    pub channel: String,
    /// The number the applicant was given (public applications).
    pub public_no: Option<String>,
    /// For staff: `duplicate` (a member is already on an open application or the roll of
    /// the programme), `registry` (members already on record: check the household),
    /// `deceased`; comma-separated, never shown to the applicant.
    pub public_flags: String,
    /// The flags in Chinese.
    pub public_flags_label: String,
    pub member_list: Vec<Member>,
    pub steps: Vec<Step>,
}

/// The Chinese name of a status.
pub fn status_label(s: &str) -> &'static str {
    match s {
        "submitted" => "已受理",
        "verified" => "已核查",
        "reviewed" => "已审核",
        "publicised" => "公示中",
        "approved" => "已审批",
        "rejected" => "不予批准",
        _ => "",
    }
}

/// The sealed per-member figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Figures {
    pub earned: i64,
    pub other: i64,
    pub exempt: i64,
    pub assets: i64,
    pub supplement_percent: u32,
}

/// A validated member ready to store.
pub(crate) struct MemberRow {
    pub person_id: i64,
    pub adult: bool,
    pub figures: Figures,
    pub authorised: bool,
}

/// Whether a birth year makes an adult in `year` (unknown: adult, so authorisation is asked).
fn adult(birth_year: Option<i64>, year: i32) -> bool {
    birth_year.is_none_or(|y| i64::from(year) - y >= 18)
}

async fn member_rows(
    state: &AppState,
    actor: &Actor,
    input: &NewApplication,
) -> AppResult<Vec<MemberRow>> {
    if input.members.is_empty() || input.members.len() > 30 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "members",
            "须有 1 至 30 名家庭成员",
        ));
    }
    let year = state.today().year();
    let mut out: Vec<MemberRow> = Vec::new();
    for (i, m) in input.members.iter().enumerate() {
        let f = |name: &str| format!("members[{i}].{name}");
        if out.iter().any(|r| r.person_id == m.person_id) {
            return Err(AppError::field(
                ErrorCode::Validation,
                &f("person_id"),
                "同一人不能重复列入",
            ));
        }
        let person = match crate::people::get(state, actor, m.person_id).await {
            Ok(p) => p,
            Err(e) if e.code == ErrorCode::NotFound => {
                return Err(AppError::field(
                    ErrorCode::Validation,
                    &f("person_id"),
                    "人员库中不存在这名成员，请先在人员信息中登记",
                ));
            }
            Err(e) => return Err(e),
        };
        if person.deceased {
            return Err(AppError::field(
                ErrorCode::Validation,
                &f("person_id"),
                "该成员已登记为死亡",
            ));
        }
        let pct = m.supplement_percent.unwrap_or(0);
        if pct > 100 {
            return Err(AppError::field(
                ErrorCode::Validation,
                &f("supplement_percent"),
                "分类施保比例应在 0 到 100 之间",
            ));
        }
        let figures = Figures {
            earned: opt_amount_field(&f("earned_12m"), m.earned_12m.as_deref())?.0,
            other: opt_amount_field(&f("other_12m"), m.other_12m.as_deref())?.0,
            exempt: opt_amount_field(&f("exempt_12m"), m.exempt_12m.as_deref())?.0,
            assets: opt_amount_field(&f("assets"), m.assets.as_deref())?.0,
            supplement_percent: pct,
        };
        if figures.exempt > figures.earned + figures.other {
            return Err(AppError::field(
                ErrorCode::Validation,
                &f("exempt_12m"),
                "豁免项目不能超过收入合计",
            ));
        }
        let is_adult = adult(person.birth_year, year);
        if is_adult && !m.authorised {
            return Err(AppError::field(
                ErrorCode::Validation,
                &f("authorised"),
                "成年家庭成员须签署电子授权（核对家庭经济状况）",
            ));
        }
        out.push(MemberRow {
            person_id: m.person_id,
            adult: is_adult,
            figures,
            authorised: m.authorised,
        });
    }
    Ok(out)
}

/// The amount of an application under the standards in force on `date`, or a Chinese reason
/// why none can be computed. `Ok(None)`: the household's income is not below the line.
/// What an amount is computed from.
pub(crate) struct AmountCase<'a> {
    pub region: &'a RegionCode,
    pub programme: Programme,
    pub area_kind: &'a str,
    pub covered: usize,
    pub self_care: &'a str,
    pub figures: &'a [Figures],
    pub date: NaiveDate,
}

pub(crate) async fn compute_amount(
    state: &AppState,
    c: &AmountCase<'_>,
) -> AppResult<Option<benefit::Amount>> {
    use super::standards::in_force;
    let AmountCase {
        region,
        programme,
        area_kind,
        covered,
        self_care,
        figures,
        date,
    } = *c;
    let need = |c: &str| {
        AppError::msg(
            ErrorCode::Conflict,
            format!(
                "该地区尚未设定{}（{}）的{}，请先设定救助标准",
                programme.label(),
                if area_kind == "urban" {
                    "城市"
                } else {
                    "农村"
                },
                super::standards::component_label(c)
            ),
        )
    };
    let get = |prog: Programme, c: &'static str| in_force(state, region, prog, area_kind, c, date);
    let bad = |e: benefit::BenefitError| AppError::msg(ErrorCode::Validation, e.to_string());
    match programme {
        Programme::Dibao => {
            let standard = get(Programme::Dibao, "base")
                .await?
                .ok_or_else(|| need("base"))?;
            let ded = get(Programme::Dibao, "employment_deduction").await?;
            let min = get(Programme::Dibao, "min_per_person").await?;
            let rules = DibaoRules {
                standard: standard.amount,
                employment_deduction: ded.map(|d| d.amount).unwrap_or(Fen::ZERO),
                min_per_person: min.map(|d| d.amount).unwrap_or(Fen::ZERO),
            };
            let members: Vec<MemberIncome> = figures
                .iter()
                .map(|f| MemberIncome {
                    earned_12m: Fen(f.earned),
                    other_12m: Fen(f.other),
                    exempt_12m: Fen(f.exempt),
                    supplement_bp: f.supplement_percent * 100,
                })
                .collect();
            benefit::dibao_monthly(&members, covered, &rules).map_err(bad)
        }
        Programme::Tekun => {
            let level = SelfCare::parse(self_care).unwrap_or(SelfCare::Full);
            let basic = get(Programme::Tekun, "base")
                .await?
                .ok_or_else(|| need("base"))?;
            let dibao = get(Programme::Dibao, "base")
                .await?
                .ok_or_else(|| need("base"))?;
            let care = in_force(
                state,
                region,
                Programme::Tekun,
                area_kind,
                level.component(),
                date,
            )
            .await?
            .map(|c| c.amount)
            .unwrap_or(Fen::ZERO);
            benefit::tekun_monthly(basic.amount, dibao.amount, care, level)
                .map(Some)
                .map_err(bad)
        }
        Programme::Temporary => Err(AppError::field(
            ErrorCode::Validation,
            "programme",
            "临时救助不按月申请：应急期间请用先行救助，平时按临时救助程序办理",
        )),
        p => {
            let base = get(p, "base").await?.ok_or_else(|| need("base"))?;
            let n = if p.paid_per() == PaidPer::Person {
                covered
            } else {
                1
            };
            let monthly = Fen(base.amount.0 * n as i64);
            Ok(Some(benefit::Amount {
                monthly,
                income: Fen::ZERO,
                detail: format!(
                    "{} 标准 {} 元 × {} 人 = {} 元",
                    p.label(),
                    base.amount,
                    n,
                    monthly
                ),
            }))
        }
    }
}

/// Enter an application (201), or with an `Idempotency-Key` already used, the first answer.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: &NewApplication,
    idem: Option<&str>,
) -> AppResult<Application> {
    actor.require(Permission::AssistanceApply)?;
    if let Some(id) = super::replayed(state, actor, idem, "applications").await? {
        return get(state, actor, id).await;
    }
    let programme = programme_field("programme", &input.programme)?;
    let area_kind = area_kind_field("area_kind", &input.area_kind)?;
    // Out of scope or unknown: not found, like any record outside the caller's scope.
    let household = crate::people::get_household(state, actor, input.household_id).await?;
    let region = crate::regions::parse_code("household_id", &household.region_code)?;
    actor.within(&region)?;
    let county = county_of(&region).ok_or_else(|| {
        AppError::field(
            ErrorCode::Validation,
            "household_id",
            "家庭须登记在县级以下区划",
        )
    })?;
    let members = member_rows(state, actor, input).await?;
    let covered = input.covered.unwrap_or(members.len() as i64);
    if covered < 1 || covered > members.len() as i64 {
        return Err(AppError::field(
            ErrorCode::Validation,
            "covered",
            "保障人数应在 1 与家庭成员人数之间",
        ));
    }
    let self_care = match (programme, input.self_care.as_deref().map(str::trim)) {
        (Programme::Tekun, Some(s)) if !s.is_empty() => SelfCare::parse(s)
            .ok_or_else(|| {
                AppError::field(
                    ErrorCode::Validation,
                    "self_care",
                    "应为 care_self（全自理）、care_partial（半护理）或 care_full（全护理）",
                )
            })?
            .component(),
        (Programme::Tekun, _) => SelfCare::Full.component(),
        _ => "",
    };
    let applied_on = match input
        .applied_on
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => state.today(),
        Some(s) => date_field("applied_on", s)?,
    };
    if applied_on > state.today() {
        return Err(AppError::field(
            ErrorCode::Validation,
            "applied_on",
            "申请日期不能晚于今天",
        ));
    }
    let note = text_field("note", input.note.as_deref().unwrap_or(""), 2000, false)?;
    let period = emergency::in_force(state, &region, applied_on).await?;
    let measures = period
        .as_ref()
        .map(|p| p.measures.clone())
        .unwrap_or_default();
    if input.commitment && !measures.contains(&Measure::Commitment) {
        return Err(AppError::field(
            ErrorCode::Validation,
            "commitment",
            "该地区此日期不在启用“个人承诺”的应急期内，须提交证明材料",
        ));
    }
    let figures: Vec<Figures> = members.iter().map(|m| m.figures.clone()).collect();
    let amount = compute_amount(
        state,
        &AmountCase {
            region: &region,
            programme,
            area_kind,
            covered: covered as usize,
            self_care,
            figures: &figures,
            date: applied_on,
        },
    )
    .await;
    let (amount_fen, detail) = match amount {
        Ok(Some(a)) => (Some(a.monthly.0), a.detail),
        Ok(None) => (None, "家庭人均收入不低于保障标准".to_string()),
        Err(e) if e.code == ErrorCode::Conflict => (None, e.message),
        Err(e) => return Err(e),
    };
    let settings = super::settings(state, county.as_str()).await?;
    let now = state.now_ms();
    let content = json!({"note": note}).to_string();
    let measure_keys = emergency::measure_keys(&measures);
    let mut tx = Tx::begin(state, actor).await?;
    let id = queries::insert_application(
        &mut tx,
        &queries::ApplicationRow {
            programme: programme.key(),
            county_code: county.as_str(),
            region_code: region.as_str(),
            household_id: household.id,
            applicant: members[0].person_id,
            area_kind,
            members: members.len() as i64,
            covered,
            self_care,
            applied_on: &ymd(applied_on),
            content_enc: crate::privacy::seal(&state.keys, &content),
            amount_fen,
            amount_detail: &detail,
            due_at: now + settings.verify_days * DAY_MS,
            emergency_id: period.as_ref().map(|p| p.id),
            emergency_measures: &measure_keys,
            commitment: input.commitment,
            by: &actor.username,
        },
    )
    .await?;
    let submitted = Submitted {
        region: region.as_str(),
        id,
        by: &actor.username,
        note: "",
    };
    insert_members_and_submit(&mut tx, state, &submitted, &members, |m| m.authorised).await?;
    super::remember(&mut tx, actor, idem, "applications", id).await?;
    tx.commit(
        Change::new("assistance.application_create", "assistance_application", id, region.as_str())
            .detail(json!({"programme": programme.key(), "household_id": household.id,
                "members": members.len(), "covered": covered, "status": {"before": null, "after": "submitted"},
                "emergency_measures": measure_keys, "commitment": input.commitment})),
    )
    .await?;
    get(state, actor, id).await
}

/// One application in scope, with members and steps.
pub async fn get(state: &AppState, actor: &Actor, id: i64) -> AppResult<Application> {
    actor.require(Permission::AssistanceRead)?;
    queries::application(state, &actor.everywhere(), id).await
}

/// Applications in scope (optionally one status), newest first.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    region: Option<&RegionCode>,
    status: Option<&str>,
) -> AppResult<Vec<Application>> {
    actor.require(Permission::AssistanceRead)?;
    let status = status.map(str::trim).filter(|s| !s.is_empty());
    if let Some(s) = status
        && status_label(s).is_empty()
    {
        return Err(AppError::field(
            ErrorCode::Validation,
            "status",
            "未知的申请状态",
        ));
    }
    queries::applications(state, &actor.within_opt(region)?, status).await
}

/// Who submitted a new application, and the note of its first step.
pub(super) struct Submitted<'a> {
    pub region: &'a str,
    pub id: i64,
    pub by: &'a str,
    pub note: &'a str,
}

/// The members of a new application (each one's figures sealed; the e-authorisation version
/// recorded for those `authorised` says agreed) and its first step, `submit`.
pub(super) async fn insert_members_and_submit(
    tx: &mut Tx,
    state: &AppState,
    s: &Submitted<'_>,
    members: &[MemberRow],
    authorised: impl Fn(&MemberRow) -> bool,
) -> AppResult<()> {
    for (pos, m) in members.iter().enumerate() {
        let sealed = crate::privacy::seal(
            &state.keys,
            &serde_json::to_string(&m.figures).unwrap_or_default(),
        );
        queries::insert_member(
            tx,
            s.region,
            s.id,
            m,
            pos as i64,
            sealed,
            authorised(m).then_some(AUTHORISATION_VERSION),
        )
        .await?;
    }
    queries::insert_step(
        tx,
        &state.keys,
        s.region,
        s.id,
        "submit",
        "",
        "submitted",
        s.by,
        s.note,
    )
    .await
}
