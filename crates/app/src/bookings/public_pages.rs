//! The public booking pages (`/public/bookings…`, on the public face: its own layout and
//! session, never the staff one). Choose the region, then the registry or funeral home; its
//! page shows the emergency setting in force with its reason, the services, a day's slots
//! with the places left, and — with a verified phone — the booking form (parties, health
//! questions). The booking's page (its number, the same phone) shows it and lets the person
//! change or cancel it, or answer a rebooking (accept the proposed slot, choose another,
//! cancel). Following a booking later: its number and a new code sent to the phone
//! (`/public/bookings/find`). A refused form comes back through [`Kept`].

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use backstop_core::region::RegionCode;
use serde::Deserialize;

use super::book::{Booking, NewBooking, NewParty};
use super::{Offer, Service, Setup};
use crate::audit::Who;
use crate::kernel::crypto::random_token;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::form::Kept;
use crate::kernel::web::{Routes, encode_query_value, render, with_status};
use crate::public::{Citizen, PublicAddr, citizen_of, public_error};
use crate::regions::{self, Region};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/public/bookings", get(index)),
        ("/public/bookings/find", get(find_form).post(find)),
        ("/public/bookings/orgs/{id}", get(org).post(book)),
        ("/public/bookings/{number}", get(one)),
        ("/public/bookings/{number}/{action}", post(act)),
    ]
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RegionQuery {
    region: String,
}

#[derive(Template)]
#[template(path = "public_bookings.html")]
struct IndexPage {
    trail: Vec<Region>,
    children: Vec<Region>,
    orgs: Vec<super::OrgInfo>,
}

async fn index_page(s: &AppState, region: &str) -> AppResult<Response> {
    if region.trim().is_empty() {
        return Ok(render(&IndexPage {
            trail: Vec::new(),
            children: regions::public_children(s, None).await?,
            orgs: Vec::new(),
        }));
    }
    let code = RegionCode::parse(region.trim()).map_err(|_| AppError::not_found())?;
    let mut trail = Vec::new();
    for a in code
        .ancestors()
        .into_iter()
        .chain(std::iter::once(code.clone()))
    {
        if let Some(r) = regions::find(s, a.as_str()).await?
            && !trail.iter().any(|t: &Region| t.code == r.code)
        {
            trail.push(r);
        }
    }
    Ok(render(&IndexPage {
        children: regions::public_children(s, Some(&code)).await?,
        orgs: super::public_orgs(s, &code).await?,
        trail,
    }))
}

async fn index(State(s): State<AppState>, Query(q): Query<RegionQuery>) -> Response {
    index_page(&s, &q.region)
        .await
        .unwrap_or_else(|e| public_error(&e))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OrgQuery {
    service: String,
    day: String,
}

#[derive(Template)]
#[template(path = "public_booking_org.html")]
struct OrgPage {
    setup: Setup,
    service: Option<Service>,
    day: String,
    offer: Option<Offer>,
    /// Parties on the form (2 for marriage and divorce).
    parties: Vec<usize>,
    questions: Vec<(String, &'static str)>,
    phone_masked: Option<String>,
    idem: String,
    form: Kept,
}

async fn org_page(
    s: &AppState,
    id: i64,
    service: &str,
    day: &str,
    citizen: Option<&Citizen>,
    form: Kept,
) -> AppResult<Response> {
    let setup = super::public_setup(s, id).await?;
    let service = match service.trim().parse::<i64>() {
        Ok(sid) => setup.services.iter().find(|v| v.id == sid).cloned(),
        Err(_) => setup.services.first().cloned(),
    };
    let day = crate::kernel::error::date_field("day", day)
        .unwrap_or_else(|_| s.today() + chrono::Duration::days(1));
    let offer = match &service {
        Some(v) => Some(super::offer(s, &setup.org, v, day).await?),
        None => None,
    };
    let n = match service.as_ref().map(|v| v.kind.as_str()) {
        Some(
            "marriage_registration"
            | "divorce_registration"
            | "divorce_certificate"
            | "certificate_replacement",
        ) => 2,
        _ => 1,
    };
    let questions = offer
        .as_ref()
        .map(|o| {
            o.rule
                .questions
                .iter()
                .map(|q| (q.key.clone(), super::rules::question_text(&q.key)))
                .collect()
        })
        .unwrap_or_default();
    let status = form.status();
    let idem = match form.get("idem") {
        "" => random_token("bk_"),
        k => k.to_string(),
    };
    let page = OrgPage {
        setup,
        service,
        day: day.format("%Y-%m-%d").to_string(),
        offer,
        parties: (0..n).collect(),
        questions,
        phone_masked: citizen.map(|c| c.phone_masked.clone()),
        idem,
        form,
    };
    Ok(with_status(render(&page), status))
}

async fn org(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<OrgQuery>,
) -> Response {
    let c = citizen_of(&s, &headers).await.ok().flatten();
    org_page(&s, id, &q.service, &q.day, c.as_ref(), Kept::none())
        .await
        .unwrap_or_else(|e| public_error(&e))
}

/// The page's input for a service field (`parties[1].id_number` → `p1_id_number`).
pub(super) fn input_name(field: &str) -> String {
    if let Some(rest) = field.strip_prefix("parties[")
        && let Some((k, sub)) = rest.split_once("].")
    {
        return format!("p{k}_{sub}");
    }
    field.replace('.', "_")
}

pub(super) fn from_form(f: &Kept) -> NewBooking {
    let mut parties = Vec::new();
    for i in 0..2 {
        let name = f.get(&format!("p{i}_name")).to_string();
        let id_number = f.get(&format!("p{i}_id_number")).to_string();
        if i > 0 && name.trim().is_empty() && id_number.trim().is_empty() {
            continue;
        }
        parties.push(NewParty {
            name,
            id_number,
            id_type: f.get(&format!("p{i}_id_type")).to_string(),
            sex: f.get(&format!("p{i}_sex")).to_string(),
            birth_date: f.get(&format!("p{i}_birth_date")).to_string(),
            household_region: f.get(&format!("p{i}_household_region")).to_string(),
        });
    }
    let answers = super::rules::QUESTIONS
        .iter()
        .filter_map(|(k, _)| match f.get(&format!("answers_{k}")) {
            "yes" => Some(((*k).to_string(), true)),
            "no" => Some(((*k).to_string(), false)),
            _ => None,
        })
        .collect();
    NewBooking {
        service_id: f.get("service_id").trim().parse().unwrap_or(0),
        day: f.get("day").to_string(),
        starts: f.get("starts").to_string(),
        phone: String::new(),
        parties,
        attendance: f.get("attendance").trim().parse().ok(),
        ceremony: f.has("ceremony"),
        answers,
    }
}

fn to_login(next: &str) -> Response {
    Redirect::to(&format!("/public/login?next={}", encode_query_value(next))).into_response()
}

async fn book(
    State(s): State<AppState>,
    PublicAddr(addr): PublicAddr,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let form = Kept::input("book", pairs);
    let c = match citizen_of(&s, &headers).await {
        Ok(Some(c)) => c,
        Ok(None) => return to_login(&format!("/public/bookings/orgs/{id}")),
        Err(e) => return public_error(&e),
    };
    let input = from_form(&form);
    let idem = form.get("idem").to_string();
    let result = match super::book::service_at(&s, id, input.service_id).await {
        Ok(()) => super::book::create_public(&s, &c, &addr, &input, Some(&idem)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(b) => Redirect::to(&format!("/public/bookings/{}", b.number)).into_response(),
        Err(e) if matches!(e.status().as_u16(), 409 | 422) => {
            let service = form.get("service_id").to_string();
            let day = form.get("day").to_string();
            let form = form.refuse_as(&e, input_name);
            org_page(&s, id, &service, &day, Some(&c), form)
                .await
                .unwrap_or_else(|e| public_error(&e))
        }
        Err(e) => public_error(&e),
    }
}

#[derive(Template)]
#[template(path = "public_booking.html")]
struct BookingPage {
    b: Booking,
    /// The service's start times (for the change form).
    starts: Vec<String>,
    /// The pre-check's documents for the service (empty: no pre-check for it).
    documents: &'static [(&'static str, &'static str)],
    /// The pre-check's status and answer (never the data: it is not shown back).
    precheck: Option<super::precheck::Precheck>,
    form: Kept,
}

async fn booking_page(s: &AppState, b: Booking, form: Kept) -> AppResult<Response> {
    let starts = super::queries::service(s, b.service_id)
        .await?
        .map(|v| super::rules::starts(&v))
        .unwrap_or_default();
    let status = form.status();
    let documents = super::precheck::documents_for(&b.service_kind);
    let precheck = super::precheck::public_get(s, &b).await?;
    Ok(with_status(
        render(&BookingPage {
            b,
            starts,
            documents,
            precheck,
            form,
        }),
        status,
    ))
}

/// The booking a verified visitor asks for, or where to go.
async fn mine(
    s: &AppState,
    headers: &HeaderMap,
    number: &str,
) -> Result<(Citizen, Booking), Response> {
    let c = match citizen_of(s, headers).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(Redirect::to(&format!(
                "/public/bookings/find?number={}",
                encode_query_value(number)
            ))
            .into_response());
        }
        Err(e) => return Err(public_error(&e)),
    };
    match super::book::public_get(s, &c.phone_index, number).await {
        Ok(b) => Ok((c, b)),
        Err(e) => Err(public_error(&e)),
    }
}

async fn one(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    match mine(&s, &headers, &number).await {
        Ok((_, b)) => booking_page(&s, b, Kept::none())
            .await
            .unwrap_or_else(|e| public_error(&e)),
        Err(r) => r,
    }
}

fn public_who(addr: &str) -> Who {
    Who {
        user_id: None,
        username: "public".to_string(),
        source: addr.to_string(),
    }
}

/// Answer a write on the booking's page: to the page again when done, the form again with its
/// reason when refused.
async fn answer(s: &AppState, number: &str, form: Kept, r: AppResult<Booking>) -> Response {
    match r {
        Ok(b) => Redirect::to(&format!("/public/bookings/{}", b.number)).into_response(),
        Err(e) if matches!(e.status().as_u16(), 409 | 422) => {
            let n: String = number.chars().filter(char::is_ascii_digit).collect();
            match super::queries::booking_by_number(s, &n).await {
                Ok(Some(b)) => booking_page(s, b, form.refuse_as(&e, input_name))
                    .await
                    .unwrap_or_else(|e| public_error(&e)),
                _ => public_error(&e),
            }
        }
        Err(e) => public_error(&e),
    }
}

/// The writes a visitor makes on their own booking, by the path's last segment.
const ACTIONS: [&str; 4] = ["change", "cancel", "accept", "precheck"];

/// A write on the verified visitor's own booking: `change` (`day`, `starts`), `cancel`,
/// `accept` (the new slot offered after a block) or `precheck` (the couple's registration data
/// and the documents they will bring: `pN_nationality`, …, `documents`); anything else is not
/// found.
async fn act(
    State(s): State<AppState>,
    PublicAddr(addr): PublicAddr,
    headers: HeaderMap,
    Path((number, action)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    if !ACTIONS.contains(&action.as_str()) {
        return public_error(&AppError::not_found());
    }
    let (_, b) = match mine(&s, &headers, &number).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let who = public_who(&addr);
    let form = Kept::input(&action, pairs);
    let r = match action.as_str() {
        "change" => super::book::change(&s, who, &b, form.get("day"), form.get("starts")).await,
        "cancel" => super::book::cancel(&s, who, &b).await,
        "accept" => super::rebook::accept(&s, who, &b).await,
        _ => {
            let input = precheck_input(&b, &form);
            super::precheck::submit(&s, who, &b, &input)
                .await
                .map(|_| b)
        }
    };
    answer(&s, &number, form, r).await
}

/// The pre-check form as entered: one party's data per `pN_…` field group.
fn precheck_input(b: &Booking, form: &Kept) -> super::precheck::PrecheckInput {
    super::precheck::PrecheckInput {
        parties: (0..b.parties.len())
            .map(|i| super::precheck::PartyData {
                nationality: form.get(&format!("p{i}_nationality")).to_string(),
                ethnicity: form.get(&format!("p{i}_ethnicity")).to_string(),
                occupation: form.get(&format!("p{i}_occupation")).to_string(),
                education: form.get(&format!("p{i}_education")).to_string(),
                address: form.get(&format!("p{i}_address")).to_string(),
            })
            .collect(),
        documents: form
            .all("documents")
            .into_iter()
            .map(str::to_string)
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "public_booking_find.html")]
struct FindPage {
    number: String,
    phone: String,
    sent_to: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FindForm {
    number: String,
    phone: String,
}

async fn find_form(Query(q): Query<FindForm>) -> Response {
    render(&FindPage {
        number: q
            .number
            .chars()
            .filter(char::is_ascii_digit)
            .take(20)
            .collect(),
        phone: String::new(),
        sent_to: String::new(),
        error: None,
    })
}

/// Follow a booking: its number and the phone it was made with; a new code goes to the phone
/// (the same answer whatever the number), and once verified the booking's page opens — if
/// that phone made it.
async fn find(
    State(s): State<AppState>,
    PublicAddr(addr): PublicAddr,
    Form(f): Form<FindForm>,
) -> Response {
    let number: String = f
        .number
        .chars()
        .filter(char::is_ascii_digit)
        .take(20)
        .collect();
    let outcome = if number.len() != 12 {
        Err(AppError::field(
            backstop_core::error::ErrorCode::Validation,
            "number",
            "请输入 12 位预约编号",
        ))
    } else {
        crate::public::request_code(&s, &f.phone, &addr).await
    };
    match outcome {
        Ok(()) => {
            let phone = crate::public::mobile(&f.phone).unwrap_or_default();
            render(&FindPage {
                sent_to: backstop_core::mask::mask_phone(&phone),
                phone,
                number,
                error: None,
            })
        }
        Err(e) => with_status(
            render(&FindPage {
                number,
                phone: f.phone.chars().take(20).collect(),
                sent_to: String::new(),
                error: Some(e.message.clone()),
            }),
            e.status(),
        ),
    }
}
