//! The public application pages (一次不用跑, issue 16 item 7): with a verified phone, choose
//! the village (province → … → village, links only: no script), then the programme, the
//! household's members with ID numbers and income, agree to the e-authorisation shown, and
//! submit; the answer is the application number. "My requests" lists it; its page shows the
//! status to the same phone only. Following an application later: its number and a new code
//! sent to the same phone (`/public/track`). The rules are the service's
//! (`assistance::public`); a refused form comes back through [`Kept`] with the reason beside
//! the field.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use backstop_core::region::RegionCode;
use serde::Deserialize;

use super::pages::{PublicAddr, citizen_of, public_error};
use crate::assistance::applications::AUTHORISATION_VERSION;
use crate::assistance::public::{self as apply, PublicApplication, PublicMember, PublicStatus};
use crate::kernel::crypto::random_token;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::form::Kept;
use crate::kernel::web::{Routes, encode_query_value, render, with_status};
use crate::people::RELATIONSHIPS;
use crate::regions::{self, Region};
use crate::state::AppState;

/// Member rows on the form (the applicant and up to five more).
const ROWS: usize = 6;

pub(super) fn routes() -> Routes {
    vec![
        ("/public/apply", get(apply_page).post(submit)),
        ("/public/applications/{number}", get(one)),
        ("/public/track", get(track_form).post(track)),
    ]
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RegionQuery {
    region: String,
}

/// The login page, coming back to `next` once verified.
fn to_login(next: &str) -> Response {
    Redirect::to(&format!("/public/login?next={}", encode_query_value(next))).into_response()
}

#[derive(Template)]
#[template(path = "public_apply_pick.html")]
struct PickPage {
    trail: Vec<Region>,
    children: Vec<Region>,
}

/// A member row of the form, as shown.
struct RowView {
    i: usize,
    name: String,
    id_number: String,
    relationship: String,
    earned: String,
    other: String,
    assets: String,
    /// The reason beside one of the row's inputs: (input name, message).
    error: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "public_apply.html")]
struct ApplyPage {
    trail: Vec<Region>,
    region: Region,
    form: Kept,
    rows: Vec<RowView>,
    programmes: Vec<(&'static str, &'static str)>,
    relationships: Vec<(&'static str, &'static str)>,
    authorisation: String,
    version: &'static str,
    idem: String,
    phone_masked: String,
}

async fn trail_of(s: &AppState, code: &RegionCode) -> AppResult<Vec<Region>> {
    let mut trail = Vec::new();
    for a in code.ancestors() {
        if let Some(r) = regions::find(s, a.as_str()).await? {
            trail.push(r);
        }
    }
    Ok(trail)
}

async fn form_page(
    s: &AppState,
    region_code: &str,
    form: Kept,
    phone_masked: String,
) -> AppResult<Response> {
    let code = RegionCode::parse(region_code.trim()).map_err(|_| AppError::not_found())?;
    let region = regions::find(s, code.as_str())
        .await?
        .filter(|r| r.level != "grid")
        .ok_or_else(AppError::not_found)?;
    let mut trail = trail_of(s, &code).await?;
    trail.retain(|r| r.code != region.code);
    if region.level != "village" {
        trail.push(region);
        let children = regions::public_children(s, Some(&code)).await?;
        return Ok(render(&PickPage { trail, children }));
    }
    let rows = (0..ROWS)
        .map(|i| {
            let v = |f: &str| form.value(&format!("m{i}_{f}")).to_string();
            let error = [
                "name",
                "id_number",
                "relationship",
                "earned_12m",
                "other_12m",
                "assets",
            ]
            .iter()
            .find_map(|f| {
                let n = format!("m{i}_{f}");
                form.error(&n).map(|m| (n, m.to_string()))
            });
            RowView {
                i,
                name: v("name"),
                id_number: v("id_number"),
                relationship: v("relationship"),
                earned: v("earned_12m"),
                other: v("other_12m"),
                assets: v("assets"),
                error,
            }
        })
        .collect();
    let status = form.status();
    let idem = match form.get("idem") {
        "" => random_token("pa_"),
        k => k.to_string(),
    };
    let page = ApplyPage {
        trail,
        region,
        rows,
        programmes: apply::programmes(),
        relationships: RELATIONSHIPS
            .iter()
            .copied()
            .filter(|(k, _)| *k != "head")
            .collect(),
        authorisation: apply::authorisation().text,
        version: AUTHORISATION_VERSION,
        idem,
        phone_masked,
        form,
    };
    Ok(with_status(render(&page), status))
}

async fn apply_page(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<RegionQuery>,
) -> Response {
    let here = if q.region.is_empty() {
        "/public/apply".to_string()
    } else {
        format!("/public/apply?region={}", encode_query_value(&q.region))
    };
    let c = match citizen_of(&s, &headers).await {
        Ok(Some(c)) => c,
        Ok(None) => return to_login(&here),
        Err(e) => return public_error(&e),
    };
    if q.region.trim().is_empty() {
        return match regions::public_children(&s, None).await {
            Ok(children) => render(&PickPage {
                trail: Vec::new(),
                children,
            }),
            Err(e) => public_error(&e),
        };
    }
    form_page(&s, &q.region, Kept::none(), c.phone_masked)
        .await
        .unwrap_or_else(|e| public_error(&e))
}

/// The application a form describes; `rows[k]` is the form row of member `k` (empty rows
/// are left out).
fn from_form(f: &Kept) -> (PublicApplication, Vec<usize>) {
    let mut members = Vec::new();
    let mut rows = Vec::new();
    for i in 0..ROWS {
        let g = |n: &str| f.get(&format!("m{i}_{n}")).to_string();
        let opt = |n: &str| Some(g(n)).filter(|v| !v.trim().is_empty());
        if i > 0 && g("name").trim().is_empty() && g("id_number").trim().is_empty() {
            continue;
        }
        rows.push(i);
        members.push(PublicMember {
            name: g("name"),
            id_number: g("id_number"),
            relationship: g("relationship"),
            earned_12m: opt("earned_12m"),
            other_12m: opt("other_12m"),
            assets: opt("assets"),
        });
    }
    let app = PublicApplication {
        programme: f.get("programme").to_string(),
        region_code: f.get("region_code").to_string(),
        area_kind: f.get("area_kind").to_string(),
        address: f.get("address").to_string(),
        members,
        authorised: f.has("authorised"),
        authorisation_version: f.get("authorisation_version").to_string(),
        note: Some(f.get("note").to_string()),
    };
    (app, rows)
}

/// The page's input for a service field (`members[1].id_number` → `m1_id_number`).
fn input_name(field: &str, rows: &[usize]) -> String {
    if let Some(rest) = field.strip_prefix("members[")
        && let Some((k, sub)) = rest.split_once("].")
        && let Some(i) = k.parse::<usize>().ok().and_then(|k| rows.get(k))
    {
        return format!("m{i}_{sub}");
    }
    field.to_string()
}

async fn submit(
    State(s): State<AppState>,
    PublicAddr(addr): PublicAddr,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let form = Kept::input("apply", pairs);
    let region = form.get("region_code").to_string();
    let c = match citizen_of(&s, &headers).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return to_login(&format!(
                "/public/apply?region={}",
                encode_query_value(&region)
            ));
        }
        Err(e) => return public_error(&e),
    };
    let (input, rows) = from_form(&form);
    let idem = form.get("idem").to_string();
    let phone_masked = c.phone_masked.clone();
    match apply::submit(&s, c.phone_enc, &c.phone_index, &addr, &input, Some(&idem)).await {
        Ok(st) => Redirect::to(&format!("/public/applications/{}", st.number)).into_response(),
        Err(e) if matches!(e.status().as_u16(), 409 | 422) => {
            let form = form.refuse_as(&e, |f| input_name(f, &rows));
            form_page(&s, &region, form, phone_masked)
                .await
                .unwrap_or_else(|e| public_error(&e))
        }
        Err(e) => public_error(&e),
    }
}

#[derive(Template)]
#[template(path = "public_application.html")]
struct StatusPage {
    a: PublicStatus,
}

async fn one(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    let c = match citizen_of(&s, &headers).await {
        Ok(Some(c)) => c,
        Ok(None) => return Redirect::to("/public/track").into_response(),
        Err(e) => return public_error(&e),
    };
    match apply::status(&s, &c.phone_index, &number).await {
        Ok(a) => render(&StatusPage { a }),
        Err(e) => public_error(&e),
    }
}

#[derive(Template)]
#[template(path = "public_track.html")]
struct TrackPage {
    number: String,
    phone: String,
    /// The code step: the number a code was sent to, masked.
    sent_to: String,
    error: Option<String>,
}

async fn track_form() -> Response {
    render(&TrackPage {
        number: String::new(),
        phone: String::new(),
        sent_to: String::new(),
        error: None,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TrackForm {
    number: String,
    phone: String,
}

/// Follow an application: its number and the phone it was made with; a new code is sent to
/// the phone (the same answer whatever the number), and once verified the application's
/// page opens — if that phone made it.
async fn track(
    State(s): State<AppState>,
    PublicAddr(addr): PublicAddr,
    Form(f): Form<TrackForm>,
) -> Response {
    let number: String = f
        .number
        .chars()
        .filter(char::is_ascii_digit)
        .take(30)
        .collect();
    let outcome = if number.len() < 10 {
        Err(AppError::field(
            backstop_core::error::ErrorCode::Validation,
            "number",
            "请输入申请编号（提交申请后显示的数字）",
        ))
    } else {
        super::request_code(&s, &f.phone, &addr).await
    };
    match outcome {
        Ok(()) => {
            let phone = super::mobile(&f.phone).unwrap_or_default();
            render(&TrackPage {
                sent_to: backstop_core::mask::mask_phone(&phone),
                phone,
                number,
                error: None,
            })
        }
        Err(e) => with_status(
            render(&TrackPage {
                number,
                phone: f.phone.chars().take(20).collect(),
                sent_to: String::new(),
                error: Some(e.message.clone()),
            }),
            e.status(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::input_name;

    #[test]
    fn service_fields_map_to_form_rows() {
        // Rows 0 and 2 filled, row 1 left empty.
        let rows = [0, 2];
        assert_eq!(input_name("members[1].id_number", &rows), "m2_id_number");
        assert_eq!(input_name("members[0].name", &rows), "m0_name");
        assert_eq!(input_name("programme", &rows), "programme");
        assert_eq!(input_name("members[5].name", &rows), "members[5].name");
    }
}
