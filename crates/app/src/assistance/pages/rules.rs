//! The rule side of the assistance pages: standards (救助标准), emergency periods with their
//! measures, aid-first grants (先行救助) and the county's decisions, and the beneficiaries with
//! their status forms. Split from `pages` (the applications side) to keep each file readable;
//! the shared page helpers live there.

use super::*;

// ---------------------------------------------------------------- standards

pub(super) struct StandardRow {
    s: Standard,
    in_force: bool,
    inherited: bool,
}

#[derive(Template)]
#[template(path = "assistance_standards.html")]
pub(super) struct StandardsPage {
    nav: Option<Nav>,
    rows: Vec<StandardRow>,
    programme: String,
    programmes: Vec<(&'static str, &'static str)>,
    components: [(&'static str, &'static str); 10],
    can_set: bool,
    today: String,
    form: Kept,
}

#[derive(Deserialize, Default)]
pub(super) struct ProgrammeQuery {
    #[serde(default)]
    programme: String,
}

pub(super) async fn standards_page(
    s: &AppState,
    a: &Authed,
    programme: &str,
    form: Kept,
) -> PageResult {
    let programme = programme.trim();
    let list = crate::assistance::standards::list(
        s,
        &a.actor,
        None,
        Some(programme).filter(|p| !p.is_empty()),
    )
    .await?;
    let today = crate::assistance::ymd(s.today());
    let scope = a.actor.scope.as_str().to_string();
    // In force: per region, programme, area and component, the latest one started by today.
    let mut seen = std::collections::HashSet::new();
    let mut sorted = list;
    sorted.sort_by(|x, y| y.effective_from.cmp(&x.effective_from));
    let rows = sorted
        .into_iter()
        .map(|st| {
            let key = (
                st.region_code.clone(),
                st.programme.clone(),
                st.area_kind.clone(),
                st.component.clone(),
            );
            let in_force = st.effective_from <= today && seen.insert(key);
            StandardRow {
                inherited: st.region_code.len() < scope.len(),
                in_force,
                s: st,
            }
        })
        .collect();
    let status = form.status();
    Ok(render_status(
        &StandardsPage {
            nav: nav(a),
            rows,
            programme: programme.to_string(),
            programmes: programmes(),
            components: COMPONENTS,
            can_set: a.actor.can(Permission::AssistanceStandards),
            today,
            form,
        },
        status,
    ))
}

pub(super) async fn standards(
    PageCaller(s, a): PageCaller,
    Query(q): Query<ProgrammeQuery>,
) -> PageResult {
    a.actor.require(Permission::AssistanceRead)?;
    standards_page(&s, &a, &q.programme, Kept::none()).await
}

pub(super) async fn create_standard(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("standard", pairs);
    let input = NewStandard {
        region_code: form.get("region_code").to_string(),
        programme: form.get("programme").to_string(),
        area_kind: form.get("area_kind").to_string(),
        component: form.get("component").to_string(),
        amount: form.get("amount").to_string(),
        effective_from: form.get("effective_from").to_string(),
    };
    let r = out_of_scope_as_field(
        crate::assistance::standards::create(&s, &a.actor, &input).await,
        "region_code",
    );
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to("/assistance/standards").into_response()),
        Err(form) => standards_page(&s, &a, "", form).await,
    }
}

/// A region outside the caller's scope reads as not found: beside the region field.
pub(super) fn out_of_scope_as_field<T>(r: AppResult<T>, field: &str) -> AppResult<T> {
    match r {
        Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => Err(AppError::field(
            ErrorCode::Validation,
            field,
            "区划不存在或不在您的管辖范围内",
        )),
        r => r,
    }
}

// ---------------------------------------------------------------- emergencies

#[derive(Template)]
#[template(path = "assistance_emergencies.html")]
pub(super) struct EmergenciesPage {
    nav: Option<Nav>,
    periods: Vec<Period>,
    measures: Vec<(&'static str, &'static str)>,
    can_declare: bool,
    today: String,
    form: Kept,
}

impl EmergenciesPage {
    /// Is the measure `k` ticked in a period's change form: as sent after a refusal, else as
    /// the period has it.
    fn period_has(&self, f: &Kept, p: &Period, k: &str) -> bool {
        if f.refused() {
            self.sent(f, k)
        } else {
            p.measure_list.iter().any(|m| m == k)
        }
    }

    /// Was the measure `k` sent with the form?
    fn sent(&self, f: &Kept, k: &str) -> bool {
        f.all("measures").contains(&k)
    }
}

pub(super) fn measure_choices() -> Vec<(&'static str, &'static str)> {
    Measure::ALL.iter().map(|m| (m.key(), m.label())).collect()
}

pub(super) async fn emergencies_page(s: &AppState, a: &Authed, form: Kept) -> PageResult {
    let periods = crate::assistance::emergency::list(s, &a.actor).await?;
    let status = form.status();
    Ok(render_status(
        &EmergenciesPage {
            nav: nav(a),
            periods,
            measures: measure_choices(),
            can_declare: a.actor.can(Permission::AssistanceEmergency),
            today: crate::assistance::ymd(s.today()),
            form,
        },
        status,
    ))
}

pub(super) async fn emergencies(PageCaller(s, a): PageCaller) -> PageResult {
    emergencies_page(&s, &a, Kept::none()).await
}

pub(super) fn period_input(form: &Kept) -> PeriodInput {
    PeriodInput {
        region_code: form.get("region_code").to_string(),
        name: form.get("name").to_string(),
        starts_on: form.get("starts_on").to_string(),
        ends_on: form.get("ends_on").to_string(),
        measures: form
            .all("measures")
            .into_iter()
            .map(str::to_string)
            .collect(),
    }
}

pub(super) async fn declare(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("declare", pairs);
    let r = out_of_scope_as_field(
        crate::assistance::emergency::declare(&s, &a.actor, &period_input(&form)).await,
        "region_code",
    );
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to("/assistance/emergencies").into_response()),
        Err(form) => emergencies_page(&s, &a, form).await,
    }
}

pub(super) async fn change_emergency(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("change-{id}"), pairs);
    // The region is the period's own (a hidden input): out of scope stays not found.
    let r = crate::assistance::emergency::change(&s, &a.actor, id, &period_input(&form)).await;
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to("/assistance/emergencies").into_response()),
        Err(form) => emergencies_page(&s, &a, form).await,
    }
}

pub(super) async fn end_emergency(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    let form = Kept::input(&format!("end-{id}"), Vec::new());
    let r = crate::assistance::emergency::end(&s, &a.actor, id).await;
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to("/assistance/emergencies").into_response()),
        Err(form) => emergencies_page(&s, &a, form).await,
    }
}

// ---------------------------------------------------------------- aid-first grants

pub(super) struct GrantRow {
    g: AidGrant,
    amount: String,
    status_label: &'static str,
    settlement_label: &'static str,
}

pub(super) fn grant_status_label(s: &str) -> &'static str {
    match s {
        "granted" => "已发放，待县级确认",
        "confirmed" => "已确认",
        "refused" => "不予确认",
        _ => "",
    }
}

#[derive(Template)]
#[template(path = "assistance_grants.html")]
pub(super) struct GrantsPage {
    nav: Option<Nav>,
    rows: Vec<GrantRow>,
    pending: bool,
    can_grant: bool,
    can_decide: bool,
    form: Kept,
}

#[derive(Deserialize, Default)]
pub(super) struct PendingQuery {
    #[serde(default)]
    pending: String,
}

pub(super) async fn grants_page(s: &AppState, a: &Authed, pending: bool, form: Kept) -> PageResult {
    let rows = crate::assistance::emergency::grants(s, &a.actor, pending)
        .await?
        .into_iter()
        .map(|g| GrantRow {
            amount: yuan(g.amount_fen),
            status_label: grant_status_label(&g.status),
            settlement_label: match g.settlement.as_str() {
                "recovery" => "追回",
                "write_off" => "核销",
                _ => "",
            },
            g,
        })
        .collect();
    let status = form.status();
    Ok(render_status(
        &GrantsPage {
            nav: nav(a),
            rows,
            pending,
            can_grant: a.actor.can(Permission::AssistanceReview),
            can_decide: a.actor.can(Permission::AssistanceApprove),
            form,
        },
        status,
    ))
}

pub(super) async fn grants(
    PageCaller(s, a): PageCaller,
    Query(q): Query<PendingQuery>,
) -> PageResult {
    let pending = !q.pending.is_empty() && q.pending != "0";
    grants_page(&s, &a, pending, Kept::none()).await
}

pub(super) async fn grant(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("grant", pairs);
    let r = match form.get("person_id").trim().parse::<i64>() {
        Err(_) => Err(AppError::field(
            ErrorCode::Validation,
            "person_id",
            "请从人员库中选择救助对象",
        )),
        Ok(person_id) => {
            let input = NewAidGrant {
                person_id,
                amount: form.get("amount").to_string(),
                reason: form.get("reason").to_string(),
            };
            match crate::assistance::emergency::grant(&s, &a.actor, &input).await {
                Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => Err(AppError::field(
                    ErrorCode::Validation,
                    "person_id",
                    "人员不存在或不在您的管辖范围内",
                )),
                r => r,
            }
        }
    };
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to("/assistance/aid-grants").into_response()),
        Err(form) => grants_page(&s, &a, false, form).await,
    }
}

pub(super) async fn decide(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("decide-{id}"), pairs);
    let input = AidDecision {
        decision: form.get("decision").to_string(),
        reason: form.get("reason").to_string(),
        settlement: form.get("settlement").to_string(),
    };
    let r = crate::assistance::emergency::decide(&s, &a.actor, id, &input).await;
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to("/assistance/aid-grants?pending=1").into_response()),
        Err(form) => grants_page(&s, &a, true, form).await,
    }
}

// ---------------------------------------------------------------- beneficiaries

pub(super) struct BeneficiaryRow {
    b: Beneficiary,
    programme: &'static str,
    amount: String,
    status_label: &'static str,
}

#[derive(Template)]
#[template(path = "assistance_beneficiaries.html")]
pub(super) struct BeneficiariesPage {
    nav: Option<Nav>,
    rows: Vec<BeneficiaryRow>,
    held: bool,
    can_change: bool,
    /// Whether the rows link to the person's bank accounts (the roll is paid to them).
    can_accounts: bool,
    form: Kept,
}

#[derive(Deserialize, Default)]
pub(super) struct HeldQuery {
    #[serde(default)]
    held: String,
}

pub(super) async fn beneficiaries_page(
    s: &AppState,
    a: &Authed,
    held: bool,
    form: Kept,
) -> PageResult {
    let rows = crate::assistance::steps::beneficiaries(s, &a.actor, held)
        .await?
        .into_iter()
        .map(|b| BeneficiaryRow {
            programme: programme_label(&b.programme),
            amount: yuan(b.monthly_amount_fen),
            status_label: beneficiary_status_label(&b.status),
            b,
        })
        .collect();
    let status = form.status();
    Ok(render_status(
        &BeneficiariesPage {
            nav: nav(a),
            rows,
            held,
            can_change: a.actor.can(Permission::AssistanceApprove),
            can_accounts: a.actor.can(Permission::PaymentsRead),
            form,
        },
        status,
    ))
}

pub(super) async fn beneficiaries(
    PageCaller(s, a): PageCaller,
    Query(q): Query<HeldQuery>,
) -> PageResult {
    let held = !q.held.is_empty() && q.held != "0";
    beneficiaries_page(&s, &a, held, Kept::none()).await
}

pub(super) async fn beneficiary_status(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("status-{id}"), pairs);
    let input = StatusInput {
        status: form.get("status").to_string(),
        reason: form.get("reason").to_string(),
    };
    let r = crate::assistance::steps::set_beneficiary_status(&s, &a.actor, id, &input).await;
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to("/assistance/beneficiaries").into_response()),
        Err(form) => beneficiaries_page(&s, &a, false, form).await,
    }
}
