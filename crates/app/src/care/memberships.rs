//! Group memberships (困难群众身份): recording one for a person in scope (category, start date,
//! optional end date not before the start, deciding body) and setting or correcting its end.

use backstop_core::role::Permission;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{category_label, date, opt_date, parse_category, queries, text, verr, ymd};
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// A group membership.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Membership {
    pub id: i64,
    pub person_id: i64,
    pub category: String,
    pub category_label: String,
    pub start_date: String,
    /// Empty while still a member.
    pub end_date: String,
    pub deciding_body: String,
}

/// Body of `POST /api/v1/care/persons/{id}/memberships`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewMembership {
    /// A category identifier (`dibao`, `tekun_dispersed`, …) or its Chinese label.
    pub category: String,
    /// `YYYY-MM-DD`.
    pub start_date: String,
    /// `YYYY-MM-DD`, not before the start; omit while still a member.
    #[serde(default)]
    pub end_date: Option<String>,
    /// The deciding body (认定机关), e.g. 鹿泉区民政局.
    pub deciding_body: String,
}

/// Body of `POST /api/v1/care/memberships/{id}/end`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct EndMembership {
    /// `YYYY-MM-DD`, not before the start date.
    pub end_date: String,
}

/// Record a group membership for a person in scope.
pub async fn add_membership(
    state: &AppState,
    actor: &Actor,
    person_id: i64,
    input: &NewMembership,
) -> AppResult<Membership> {
    actor.require(Permission::PersonsWrite)?;
    let category = parse_category(&input.category).ok_or_else(|| {
        verr(
            "category",
            format!(
                "未知的类别“{}”",
                input.category.chars().take(30).collect::<String>()
            ),
        )
    })?;
    let start = date("start_date", &input.start_date)?;
    let end = match opt_date("end_date", input.end_date.as_deref())? {
        Some(e) if e < start => return Err(verr("end_date", "不能早于开始日期")),
        Some(e) => ymd(e),
        None => String::new(),
    };
    let body = text("deciding_body", &input.deciding_body, 100, true)?;
    let mut tx = Tx::begin(state, actor).await?;
    let person = queries::person(tx.conn(), &actor.everywhere(), person_id).await?;
    let m = Membership {
        id: 0,
        person_id,
        category: category.to_string(),
        category_label: category_label(category).to_string(),
        start_date: ymd(start),
        end_date: end,
        deciding_body: body,
    };
    let id = queries::insert_membership(&mut tx, &state.keys, &m, &actor.username).await?;
    tx.commit(
        Change::new(
            "care.membership.create",
            "care_membership",
            id,
            &person.region_code,
        )
        .detail(json!({"person_id": person_id,
                "start_date": m.start_date, "end_date": m.end_date,
                "deciding_body": m.deciding_body})),
    )
    .await?;
    Ok(Membership { id, ..m })
}

/// Set (or correct) the end date of a membership of a person in scope.
pub async fn end_membership(
    state: &AppState,
    actor: &Actor,
    id: i64,
    input: &EndMembership,
) -> AppResult<Membership> {
    actor.require(Permission::PersonsWrite)?;
    let end = ymd(date("end_date", &input.end_date)?);
    let mut tx = Tx::begin(state, actor).await?;
    let (mut m, person) =
        queries::membership(tx.conn(), &state.keys, &actor.everywhere(), id).await?;
    if end < m.start_date {
        return Err(verr("end_date", "不能早于开始日期"));
    }
    queries::set_membership_end(&mut tx, id, &end).await?;
    tx.commit(
        Change::new(
            "care.membership.end",
            "care_membership",
            id,
            &person.region_code,
        )
        .detail(
            json!({"person_id": m.person_id, "end_date": {"before": m.end_date, "after": end}}),
        ),
    )
    .await?;
    m.end_date = end;
    Ok(m)
}
