//! One person, one record, across regions (issue 13), and the exact ID lookup that must not be
//! an oracle.
//!
//! A person registered in one region and registered again in another (a worker back from
//! Wuhan, registered by the village where they now live) stays one record: the registering
//! region gets a *link* — a `persons` row with `link_of` = the record holding the ID number and
//! `link_kind` 居住地 or 户籍地 — that carries only what that region entered itself. The
//! registering region sees nothing of the holder's data (not even that it exists: the answer is
//! the same 201 as for a new person), and the holding region is notified and sees, on the
//! person's page, where else the person is registered. The roster import does the same.
//!
//! The exact lookup by ID number is metered: every lookup is audited (who, when, the masked
//! number, how many it found), a user may make [`LOOKUPS_PER_HOUR`] in an hour, and the first
//! refusal in an hour alerts the region's security administrator through the notification
//! outbox. The answer "not found in your area" is the same whether the number exists
//! elsewhere or not.

use serde::Serialize;
use serde_json::json;
use sqlx::AnyConnection;

use backstop_core::citizen_id::CitizenId;
use backstop_core::error::ErrorCode;
use backstop_core::mask::mask_name;
use backstop_core::role::Permission;

use super::queries::{self, Holder};
use super::{Checked, Person, Sealed, Stored, id_index, parse_id};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::reports::{NewNotification, queue_notification_on};
use crate::state::AppState;

/// Exact ID lookups a user may make in an hour (a brute force of the hidden digits needs
/// thousands; a worker checking returned travellers needs a few dozen).
pub const LOOKUPS_PER_HOUR: i64 = 60;
const HOUR_MS: i64 = 3_600_000;

/// What a link says about where the person is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// 居住地: the person lives here now.
    Residence,
    /// 户籍地: the person's household registration is here.
    Hukou,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Residence => "residence",
            LinkKind::Hukou => "hukou",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LinkKind::Residence => "居住地",
            LinkKind::Hukou => "户籍地",
        }
    }

    /// `residence`/`居住地` or `hukou`/`户籍地`; empty is residence.
    pub fn parse(s: &str) -> Option<LinkKind> {
        match s.trim() {
            "" | "residence" | "居住地" => Some(LinkKind::Residence),
            "hukou" | "户籍地" => Some(LinkKind::Hukou),
            _ => None,
        }
    }

    pub(crate) fn from_stored(s: &str) -> Option<LinkKind> {
        match s {
            "residence" => Some(LinkKind::Residence),
            "hukou" => Some(LinkKind::Hukou),
            _ => None,
        }
    }
}

/// Where else a person is registered, as the holding region sees it on the person's page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonLink {
    pub region_code: String,
    pub region_name: String,
    /// `residence` (居住地) or `hukou` (户籍地).
    pub kind: String,
    pub kind_label: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

/// Write a link for a person whose ID number is held by `holder` outside the registering
/// region, on `conn` (a service's transaction or the import's), and queue the notice to the
/// holder's region in the same transaction. The caller audits it (`person.link`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_link(
    conn: &mut AnyConnection,
    now: i64,
    region: &str,
    region_name: &str,
    c: &Checked,
    sealed: &Sealed,
    holder: &Stored,
    kind: LinkKind,
) -> AppResult<i64> {
    let id = queries::insert(conn, now, region, c, sealed, Some((holder.id, kind))).await?;
    notify_holder(conn, now, region, region_name, holder, kind).await?;
    Ok(id)
}

/// Tell the region holding a person's record that another region registered the person.
pub(crate) async fn notify_holder(
    conn: &mut AnyConnection,
    now: i64,
    region: &str,
    region_name: &str,
    holder: &Stored,
    kind: LinkKind,
) -> AppResult<()> {
    let whence = if region_name.is_empty() {
        region.to_string()
    } else {
        format!("{region_name}（{region}）")
    };
    let fields = [
        ("name", mask_name(&holder.name)),
        ("id_masked", holder.id_masked.clone()),
        ("id", holder.id.to_string()),
        ("whence", whence),
        ("link", kind.label().to_string()),
    ];
    queue_notification_on(
        conn,
        &NewNotification {
            region: &holder.region_code,
            unit: "",
            kind: "person_linked",
            template: "person_linked",
            fields: &fields,
        },
        now,
    )
    .await
}

/// The audit detail of a link: what the registering region entered (masked) and the record
/// it links to.
pub(crate) fn link_detail(
    region: &str,
    c: &Checked,
    s: &Sealed,
    holder: i64,
    via: &str,
) -> serde_json::Value {
    let mut d = super::created_detail(region, c, s, via);
    d["link_of"] = json!(holder);
    d
}

/// Exact lookup by ID number for a person: metered, audited, and the same *not found* for a
/// number held elsewhere as for one held nowhere. A link in the caller's scope answers for a
/// record held elsewhere.
pub async fn find_by_id_number(
    state: &AppState,
    actor: &Actor,
    id_number: &str,
) -> AppResult<Person> {
    actor.require(Permission::PersonsRead)?;
    let cid = parse_id(id_number, state.today())?;
    let mut tx = Tx::begin(state, actor).await?;
    let now = tx.now();
    let since = now - HOUR_MS;
    let used = queries::lookups_since(tx.conn(), &actor.username, since).await?;
    let change = |found: usize| {
        Change::new("person.lookup", "person", "", actor.scope.as_str())
            .detail(json!({"id_number": cid.masked_strict(), "results": found}))
    };
    if used >= LOOKUPS_PER_HOUR {
        if used == LOOKUPS_PER_HOUR {
            let fields = [
                ("user", actor.username.clone()),
                ("limit", LOOKUPS_PER_HOUR.to_string()),
            ];
            queue_notification_on(
                tx.conn(),
                &NewNotification {
                    region: actor.scope.as_str(),
                    unit: "",
                    kind: "security_lookup_burst",
                    template: "security_lookup_burst",
                    fields: &fields,
                },
                now,
            )
            .await?;
        }
        tx.commit(change(0).failed()).await?;
        return Err(AppError::msg(
            ErrorCode::RateLimited,
            "按身份证号查询过于频繁，请一小时后再试（已通知安全管理员）",
        ));
    }
    let found = in_scope(state, &mut tx, actor, &cid).await?;
    // A lookup that finds nobody is recorded as a failed one (it changed nothing).
    let entry = match &found {
        Some(_) => change(1),
        None => change(0).failed(),
    };
    tx.commit(entry).await?;
    found.map(|s| s.view(actor)).ok_or_else(AppError::not_found)
}

/// The record (or link) in the caller's scope for an ID number, unmetered: for a write that
/// is itself audited (a gate entry linking its visitor) — never to show a person.
pub(crate) async fn person_id_for(
    state: &AppState,
    actor: &Actor,
    id_number: &str,
) -> AppResult<Option<i64>> {
    actor.require(Permission::PersonsRead)?;
    let cid = parse_id(id_number, state.today())?;
    let mut tx = Tx::begin(state, actor).await?;
    let found = in_scope(state, &mut tx, actor, &cid).await?;
    tx.rollback().await?;
    Ok(found.map(|s| s.id))
}

async fn in_scope(
    state: &AppState,
    tx: &mut Tx,
    actor: &Actor,
    cid: &CitizenId,
) -> AppResult<Option<Stored>> {
    let scope = actor.everywhere();
    Ok(
        match queries::holder(tx.conn(), &scope, &id_index(state, cid)).await? {
            Holder::Nobody => None,
            Holder::Here(p) => Some(*p),
            Holder::Elsewhere(h) => queries::link_here(tx.conn(), &scope, h.id).await?,
        },
    )
}

/// Where else the person `id` (already admitted) is registered.
pub(crate) async fn links_of(state: &AppState, id: i64) -> AppResult<Vec<PersonLink>> {
    let mut conn = state.db.pool().acquire().await?;
    queries::links_of(&mut conn, id).await
}
