//! Needs pages (供需对接, Chinese, phone-first): a campaign's needs with the unmet needs by
//! region and the form a recipient (or an official, for an organisation of its region) posts
//! a need with (`/donations/campaigns/{id}/needs`); one need with the stock lines proposed for
//! it and, for a charity's keeper, a form to accept each (`/donations/needs/{id}`). Changes are
//! POST forms; refused ones are shown again through [`Kept`]; the rules live in
//! [`super::needs`].

use askama::Template;
use axum::extract::{Form, Path};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;

use super::needs::{self, AcceptInput, Need, NewNeed, Proposal, RegionNeeds, URGENCY};
use super::{CATALOGUE, Campaign};
use crate::kernel::auth::Authed;
use crate::kernel::form::Kept;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, Routes, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/donations/campaigns/{id}/needs", get(list).post(create)),
        ("/donations/needs/{id}", get(show)),
        ("/donations/needs/{id}/accept", post(accept)),
        ("/donations/needs/{id}/cancel", post(cancel)),
    ]
}

const AREA: &str = "/donations";

#[derive(Template)]
#[template(path = "donations_needs.html")]
struct NeedsPage {
    nav: Option<Nav>,
    campaign: Campaign,
    needs: Vec<Need>,
    unmet: Vec<RegionNeeds>,
    unmet_campaign: i64,
    /// May post a need.
    can_post: bool,
    /// Posts for an organisation it names (an official not tied to one).
    choose_recipient: bool,
    recipients: Vec<(i64, String)>,
    catalogue: Vec<(&'static str, &'static str, &'static str)>,
    urgency: Vec<(&'static str, &'static str)>,
    today: String,
    form: Kept,
}

async fn list_page(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    let campaign = super::campaign(s, &a.actor, id).await?;
    let list = needs::list(s, &a.actor, id, None).await?;
    let can_post = a.actor.can(Permission::DonationsConfirm);
    let choose_recipient = can_post && a.actor.org_id.is_none();
    let status = form.status();
    Ok(render_status(
        &NeedsPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            unmet: needs::group_unmet(&list),
            unmet_campaign: id,
            needs: list,
            recipients: if choose_recipient {
                needs::recipient_choices(s, &a.actor).await?
            } else {
                Vec::new()
            },
            campaign,
            can_post,
            choose_recipient,
            catalogue: CATALOGUE.to_vec(),
            urgency: URGENCY.to_vec(),
            today: s.today().format("%Y-%m-%d").to_string(),
            form,
        },
        status,
    ))
}

async fn list(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    list_page(&s, &a, id, Kept::none()).await
}

async fn create(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("need", pairs);
    let input = NewNeed {
        campaign_id: id,
        recipient_org_id: form.get("recipient_org_id").trim().parse().ok(),
        category: form.get("category").to_string(),
        spec: form.get("spec").to_string(),
        quantity: form.get("quantity").trim().parse().unwrap_or(0),
        unit: form.get("unit").to_string(),
        urgency: form.get("urgency").to_string(),
        needed_by: form.get("needed_by").to_string(),
        region_code: form.get("region_code").to_string(),
        note: form.get("note").to_string(),
    };
    match form.outcome(needs::create(&s, &a.actor, &input).await)? {
        Ok(n) => Ok(Redirect::to(&format!("/donations/needs/{}", n.id)).into_response()),
        Err(form) => list_page(&s, &a, id, form).await,
    }
}

#[derive(Template)]
#[template(path = "donations_need.html")]
struct NeedPage {
    nav: Option<Nav>,
    n: Need,
    proposals: Vec<Proposal>,
    can_accept: bool,
    can_cancel: bool,
    form: Kept,
}

async fn show_page(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    let n = needs::get(s, &a.actor, id).await?;
    let readers =
        a.actor.can(Permission::DonationsRead) || a.actor.can(Permission::DonationsManage);
    let proposals = if readers {
        needs::propose(s, &a.actor, id).await?
    } else {
        Vec::new()
    };
    let status = form.status();
    Ok(render_status(
        &NeedPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            can_accept: a.actor.can(Permission::DonationsManage) && n.is_unmet(),
            can_cancel: a.actor.can(Permission::DonationsConfirm)
                && n.status == "open"
                && a.actor.org_id.is_none_or(|o| o == n.recipient_org_id),
            n,
            proposals,
            form,
        },
        status,
    ))
}

async fn show(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    show_page(&s, &a, id, Kept::none()).await
}

async fn accept(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let line: i64 = pairs
        .iter()
        .find(|(k, _)| k == "receipt_line_id")
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let form = Kept::input(&format!("accept-{line}"), pairs);
    let input = AcceptInput {
        receipt_line_id: line,
        quantity: form.get("quantity").trim().parse().unwrap_or(0),
    };
    match form.outcome(needs::accept(&s, &a.actor, id, &input).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/donations/needs/{id}?matched=1")).into_response()),
        Err(form) => show_page(&s, &a, id, form).await,
    }
}

async fn cancel(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("cancel", pairs);
    match form.outcome(needs::cancel(&s, &a.actor, id).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/donations/needs/{id}")).into_response()),
        Err(form) => show_page(&s, &a, id, form).await,
    }
}
