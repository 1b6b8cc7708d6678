//! Donations API (`/api/v1/donations/…`, `/api/v1/ledger/…`). Handlers are thin: the rules
//! live in the service functions of `donations`. Entering a receipt takes an
//! `Idempotency-Key` header: a retry with the same key answers the first receipt.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;

use super::ledger::{
    self, Allocation, ConfirmInput, DispatchInput, Entry, FeeInput, NewAllocation, ReverseInput,
};
use super::{
    Campaign, CampaignDetail, LedgerReport, NewCampaign, NewReceipt, Receipt, Receiver,
    ReceiverInput, receipts,
};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{JsonBody, region_param};
use crate::kernel::handler::{ApiCaller, api_handler, idem};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        (
            "/api/v1/donations/campaigns",
            get(campaigns).post(create_campaign),
        ),
        ("/api/v1/donations/campaigns/{id}", get(campaign)),
        (
            "/api/v1/donations/receivers",
            get(receivers).post(set_receiver),
        ),
        (
            "/api/v1/donations/receipts",
            get(list_receipts).post(create_receipt),
        ),
        ("/api/v1/donations/receipts/{id}", get(receipt)),
        (
            "/api/v1/donations/receipts/{id}/withdraw-consent",
            post(withdraw_consent),
        ),
        (
            "/api/v1/donations/allocations",
            get(allocations).post(allocate),
        ),
        ("/api/v1/donations/allocations/{id}", get(allocation)),
        (
            "/api/v1/donations/allocations/{id}/dispatch",
            post(dispatch),
        ),
        ("/api/v1/donations/allocations/{id}/confirm", post(confirm)),
        (
            "/api/v1/donations/allocations/{id}/delivery-note",
            post(delivery_note),
        ),
        ("/api/v1/donations/pending", get(pending)),
        ("/api/v1/ledger/entries", get(entries)),
        ("/api/v1/ledger/entries/{id}", get(entry)),
        ("/api/v1/ledger/entries/{id}/reverse", post(reverse)),
        ("/api/v1/ledger/fees", post(fee)),
        ("/api/v1/ledger/verify", get(verify)),
    ]
}

/// `?campaign_id=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CampaignQuery {
    pub campaign_id: i64,
}

/// `?region=` of a campaign's totals.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TotalsQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
}

api_handler! {
    /// Campaigns the caller sees (their region contains the caller's scope or lies inside it).
    get "/api/v1/donations/campaigns", tag "donations", ok(Vec<Campaign>), errors(403);
    fn campaigns(s, a) { super::campaigns(&s, &a.actor).await? }
}

api_handler! {
    /// Create a campaign with its rules (donations.manage).
    post "/api/v1/donations/campaigns", tag "donations", created(Campaign), json(body: NewCampaign),
        errors(403, 404, 422);
    fn create_campaign(s, a) { super::create_campaign(&s, &a.actor, &body).await? }
}

api_handler! {
    /// A campaign with its totals (received, allocated, delivered, in stock) over the ledgers
    /// the caller reads — sums of ledger lines.
    get "/api/v1/donations/campaigns/{id}", tag "donations", ok(CampaignDetail),
        params(("id" = i64, Path), TotalsQuery), errors(403, 404);
    fn campaign(s, a, Path(id): Path<i64>, Query(q): Query<TotalsQuery>) {
        let region = region_param(q.region.as_deref())?;
        super::campaign_detail(&s, &a.actor, id, region.as_ref()).await?
    }
}

api_handler! {
    /// Receiving charities in the caller's scope.
    get "/api/v1/donations/receivers", tag "donations", ok(Vec<Receiver>), errors(403);
    fn receivers(s, a) { super::receivers(&s, &a.actor).await? }
}

api_handler! {
    /// Register a receiving charity (own organisation): tax-free import designation and licence.
    post "/api/v1/donations/receivers", tag "donations", ok(Receiver), json(body: ReceiverInput),
        errors(403, 404, 422);
    fn set_receiver(s, a) { super::set_receiver(&s, &a.actor, &body).await? }
}

api_handler! {
    /// Receipts of a campaign the caller reads, newest first, with lines and balances.
    get "/api/v1/donations/receipts", tag "donations", ok(Vec<Receipt>), params(CampaignQuery),
        errors(403);
    fn list_receipts(s, a, Query(q): Query<CampaignQuery>) {
        receipts::list(&s, &a.actor, q.campaign_id).await?
    }
}

/// Enter a receipt of money and/or goods with its receive entry (donations.manage, own
/// charity). Send an `Idempotency-Key` header: a retry answers the first receipt.
#[utoipa::path(post, path = "/api/v1/donations/receipts", tag = "donations", request_body = NewReceipt,
    params(("Idempotency-Key" = Option<String>, Header, description = "重试时保持不变的唯一键")),
    responses((status = 201, body = Receipt), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_receipt(
    ApiCaller(s, a): ApiCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewReceipt>,
) -> AppResult<(StatusCode, axum::Json<Receipt>)> {
    let r = receipts::create(&s, &a.actor, &body, idem(&headers)).await?;
    Ok((StatusCode::CREATED, axum::Json(r)))
}

api_handler! {
    /// One receipt with its lines and their balances.
    get "/api/v1/donations/receipts/{id}", tag "donations", ok(Receipt), params(("id" = i64, Path)),
        errors(403, 404);
    fn receipt(s, a, Path(id): Path<i64>) { receipts::get(&s, &a.actor, id).await? }
}

api_handler! {
    /// Allocations of a campaign the caller reads, newest first.
    get "/api/v1/donations/allocations", tag "donations", ok(Vec<Allocation>), params(CampaignQuery),
        errors(403);
    fn allocations(s, a, Query(q): Query<CampaignQuery>) {
        ledger::allocations(&s, &a.actor, q.campaign_id).await?
    }
}

api_handler! {
    /// Allocate a quantity of a receipt line to a recipient organisation. Refused beyond the
    /// balance, away from a directed gift's target, or for expired goods (409).
    post "/api/v1/donations/allocations", tag "donations", created(Allocation),
        json(body: NewAllocation), errors(403, 404, 409, 422);
    fn allocate(s, a) { ledger::allocate(&s, &a.actor, &body).await? }
}

api_handler! {
    /// One allocation with its dispatch and delivery (the charity's readers, or the recipient).
    get "/api/v1/donations/allocations/{id}", tag "donations", ok(Allocation),
        params(("id" = i64, Path)), errors(404);
    fn allocation(s, a, Path(id): Path<i64>) { ledger::allocation(&s, &a.actor, id).await? }
}

api_handler! {
    /// Dispatch an allocation (vehicle; now).
    post "/api/v1/donations/allocations/{id}/dispatch", tag "donations", ok(Allocation),
        params(("id" = i64, Path)), json(body: DispatchInput), errors(403, 404, 409, 422);
    fn dispatch(s, a, Path(id): Path<i64>) { ledger::dispatch(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// The recipient's user confirms the delivery with the quantity received and any
    /// discrepancy (donations.confirm, of the recipient).
    post "/api/v1/donations/allocations/{id}/confirm", tag "donations", ok(Allocation),
        params(("id" = i64, Path)), json(body: ConfirmInput), errors(403, 404, 409, 422);
    fn confirm(s, a, Path(id): Path<i64>) { ledger::confirm(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// The dispatcher records a signed delivery note (marked as such).
    post "/api/v1/donations/allocations/{id}/delivery-note", tag "donations", ok(Allocation),
        params(("id" = i64, Path)), json(body: ConfirmInput), errors(403, 404, 409, 422);
    fn delivery_note(s, a, Path(id): Path<i64>) {
        ledger::delivery_note(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// Deliveries waiting for the caller's organisation to sign (待签收).
    get "/api/v1/donations/pending", tag "donations", ok(Vec<Allocation>), errors(403);
    fn pending(s, a) { ledger::pending(&s, &a.actor).await? }
}

api_handler! {
    /// Journal entries of a campaign the caller reads, in sequence order, with their lines.
    get "/api/v1/ledger/entries", tag "donations", ok(Vec<Entry>), params(CampaignQuery),
        errors(403);
    fn entries(s, a, Query(q): Query<CampaignQuery>) {
        ledger::entries(&s, &a.actor, q.campaign_id).await?
    }
}

api_handler! {
    /// One journal entry with its lines.
    get "/api/v1/ledger/entries/{id}", tag "donations", ok(Entry), params(("id" = i64, Path)),
        errors(403, 404);
    fn entry(s, a, Path(id): Path<i64>) { ledger::entry(&s, &a.actor, id).await? }
}

api_handler! {
    /// Reverse an entry (receipt, allocation not yet dispatched, fee) with a reversing entry.
    post "/api/v1/ledger/entries/{id}/reverse", tag "donations", created(Entry),
        params(("id" = i64, Path)), json(body: ReverseInput), errors(403, 404, 409, 422);
    fn reverse(s, a, Path(id): Path<i64>) { ledger::reverse(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Take a fee or administrative cost from a money line (refused on a no-fee campaign).
    post "/api/v1/ledger/fees", tag "donations", created(Entry), json(body: FeeInput),
        errors(403, 404, 409, 422);
    fn fee(s, a) { ledger::fee(&s, &a.actor, &body).await? }
}

api_handler! {
    /// The donor withdraws consent to publication: the name and its salt are deleted, the
    /// public chain (which holds only the salted hash) stays intact; 爱心人士 is shown.
    post "/api/v1/donations/receipts/{id}/withdraw-consent", tag "donations", ok(Receipt),
        params(("id" = i64, Path)), errors(403, 404);
    fn withdraw_consent(s, a, Path(id): Path<i64>) {
        super::disclosure::withdraw_consent(&s, &a.actor, id).await?;
        receipts::get(&s, &a.actor, id).await?
    }
}

api_handler! {
    /// Recompute every balance of the ledgers the caller reads and check every invariant.
    get "/api/v1/ledger/verify", tag "donations", ok(LedgerReport), errors(403);
    fn verify(s, a) { super::verify::verify(&s, &a.actor).await? }
}
