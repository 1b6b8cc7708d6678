//! Household rows of a campaign: the household admitted by the handle, its members, the visit
//! with its screened persons (written in one transaction), and the roll for the finder.

use backstop_core::region::RegionCode;
use sqlx::Row;

use super::super::{DISPOSITIONS, RISKS, RollHousehold, Visit, VisitMember, fmt_ms, label};
use crate::kernel::access::{Scoped, Tx};
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::{AppError, AppResult};
use crate::privacy;
use crate::state::AppState;

/// A household let through a handle: only [`household`] makes one.
pub(in crate::screening) struct Household {
    pub id: i64,
    pub region: RegionCode,
}

/// The household `id`, if it exists and lies under the handle.
pub(in crate::screening) async fn household(
    state: &AppState,
    scope: &Scoped<'_>,
    id: i64,
) -> AppResult<Household> {
    let region: String = sqlx::query_scalar("SELECT region_code FROM households WHERE id = $1")
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(AppError::not_found)?;
    let region = scope.admit(&region, region.clone())?;
    let region = RegionCode::parse(&region).map_err(|_| AppError::not_found())?;
    Ok(Household { id, region })
}

/// Ids of the persons of an admitted household.
pub(in crate::screening) async fn household_member_ids(
    state: &AppState,
    h: &Household,
) -> AppResult<Vec<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM persons WHERE household_id = $1 ORDER BY id")
            .bind(h.id)
            .fetch_all(state.db.pool())
            .await?,
    )
}

/// The visit row itself.
pub(in crate::screening) struct VisitRow<'a> {
    pub reached: bool,
    pub note: &'a str,
    pub visited_by: &'a str,
}

/// One validated screened person.
pub(in crate::screening) struct ScreenedRow {
    pub person_id: i64,
    pub at_home: bool,
    pub history: String,
    pub symptoms: bool,
    pub temperature: Option<i64>,
    pub risk: &'static str,
    pub disposition: &'static str,
}

/// Write the visit of a household (replacing an earlier one and its persons); returns whether
/// the earlier one had reached the household (`None` when there was none). The note and every
/// person's health fields are sealed (`privacy`), one encryption per field.
pub(in crate::screening) async fn save_visit(
    tx: &mut Tx,
    keys: &KeyRing,
    campaign_id: i64,
    h: &Household,
    v: &VisitRow<'_>,
    persons: &[ScreenedRow],
) -> AppResult<Option<bool>> {
    let now = tx.now();
    let region = h.region.as_str();
    let note_enc = privacy::seal(keys, v.note);
    let before: Option<(i64, i64)> = sqlx::query(
        "SELECT id, reached FROM screening_visits WHERE campaign_id = $1 AND household_id = $2",
    )
    .bind(campaign_id)
    .bind(h.id)
    .fetch_optional(tx.conn())
    .await?
    .map(|r| -> Result<(i64, i64), sqlx::Error> { Ok((r.try_get("id")?, r.try_get("reached")?)) })
    .transpose()?;
    let visit_id =
        match before {
            Some((vid, _)) => {
                sqlx::query("DELETE FROM screening_persons WHERE visit_id = $1")
                    .bind(vid)
                    .execute(tx.conn())
                    .await?;
                sqlx::query(
                    "UPDATE screening_visits SET reached = $1, note = '', note_enc = $2, \
                 visited_by = $3, visited_at = $4, region_code = $5 WHERE id = $6",
                )
                .bind(i64::from(v.reached))
                .bind(note_enc)
                .bind(v.visited_by)
                .bind(now)
                .bind(region)
                .bind(vid)
                .execute(tx.conn())
                .await?;
                vid
            }
            None => sqlx::query_scalar(
                "INSERT INTO screening_visits (campaign_id, household_id, region_code, reached, \
                 note, note_enc, visited_by, visited_at) \
                 VALUES ($1, $2, $3, $4, '', $5, $6, $7) RETURNING id",
            )
            .bind(campaign_id)
            .bind(h.id)
            .bind(region)
            .bind(i64::from(v.reached))
            .bind(note_enc)
            .bind(v.visited_by)
            .bind(now)
            .fetch_one(tx.conn())
            .await?,
        };
    for p in persons {
        sqlx::query(
            "INSERT INTO screening_persons (visit_id, campaign_id, person_id, region_code, \
             at_home, history, symptoms, temperature, risk, disposition, history_enc, \
             symptoms_enc, temperature_enc, risk_enc, disposition_enc) \
             VALUES ($1, $2, $3, $4, $5, '', 0, NULL, '', '', $6, $7, $8, $9, $10)",
        )
        .bind(visit_id)
        .bind(campaign_id)
        .bind(p.person_id)
        .bind(region)
        .bind(i64::from(p.at_home))
        .bind(privacy::seal(keys, &p.history))
        .bind(privacy::seal_flag(keys, p.symptoms))
        .bind(privacy::seal_opt_int(keys, p.temperature))
        .bind(privacy::seal(keys, p.risk))
        .bind(privacy::seal(keys, p.disposition))
        .execute(tx.conn())
        .await?;
    }
    Ok(before.map(|(_, r)| r != 0))
}

/// The recorded visit of an admitted household in a campaign, with its persons (opened).
pub(in crate::screening) async fn visit(
    state: &AppState,
    campaign_id: i64,
    h: &Household,
) -> AppResult<Option<Visit>> {
    let Some(v) = sqlx::query(
        "SELECT id, region_code, reached, note, note_enc, visited_by, visited_at \
         FROM screening_visits \
         WHERE campaign_id = $1 AND household_id = $2",
    )
    .bind(campaign_id)
    .bind(h.id)
    .fetch_optional(state.db.pool())
    .await?
    else {
        return Ok(None);
    };
    let vid: i64 = v.try_get("id")?;
    let rows = sqlx::query(
        "SELECT s.person_id, p.name, s.at_home, s.history, s.history_enc, s.symptoms, \
         s.symptoms_enc, s.temperature, s.temperature_enc, s.risk, s.risk_enc, s.disposition, \
         s.disposition_enc FROM screening_persons s JOIN persons p ON p.id = s.person_id \
         WHERE s.visit_id = $1 ORDER BY s.person_id",
    )
    .bind(vid)
    .fetch_all(state.db.pool())
    .await?;
    let mut members = Vec::with_capacity(rows.len());
    for r in rows {
        let keys = &state.keys;
        let risk = privacy::text(keys, &r, "risk")?;
        let disposition = privacy::text(keys, &r, "disposition")?;
        members.push(VisitMember {
            person_id: r.try_get("person_id")?,
            name: r.try_get("name")?,
            at_home: r.try_get::<i64, _>("at_home")? != 0,
            history: privacy::text(keys, &r, "history")?,
            symptoms: privacy::flag(keys, &r, "symptoms")?,
            temperature: privacy::opt_int(keys, &r, "temperature")?,
            risk_label: label(&RISKS, &risk).to_string(),
            risk,
            disposition_label: label(&DISPOSITIONS, &disposition).to_string(),
            disposition,
        });
    }
    Ok(Some(Visit {
        campaign_id,
        household_id: h.id,
        region_code: v.try_get("region_code")?,
        reached: v.try_get::<i64, _>("reached")? != 0,
        note: privacy::text(&state.keys, &v, "note")?,
        visited_by: v.try_get("visited_by")?,
        visited_at: fmt_ms(v.try_get("visited_at")?),
        members,
    }))
}

/// Households under the handle matching `q` (a household number, or part of the address or
/// of a member's name; empty: all), not-yet-reached first, at most 50.
pub(in crate::screening) async fn roll(
    state: &AppState,
    scope: &Scoped<'_>,
    campaign_id: i64,
    q: &str,
) -> AppResult<Vec<RollHousehold>> {
    let (lo, hi) = scope.range();
    let like = format!(
        "%{}%",
        q.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let by_id: i64 = q.parse().unwrap_or(-1);
    let rows = sqlx::query(
        "SELECT h.id, h.region_code, h.address, v.reached FROM households h \
         LEFT JOIN screening_visits v ON v.household_id = h.id AND v.campaign_id = $1 \
         WHERE h.region_code >= $2 AND h.region_code < $3 AND ($4 = '' OR h.id = $5 \
         OR h.address LIKE $6 ESCAPE '\\' OR EXISTS (SELECT 1 FROM persons p \
         WHERE p.household_id = h.id AND p.name LIKE $6 ESCAPE '\\')) \
         ORDER BY CASE WHEN v.reached = 1 THEN 1 ELSE 0 END, h.id LIMIT 50",
    )
    .bind(campaign_id)
    .bind(lo)
    .bind(hi)
    .bind(q)
    .bind(by_id)
    .bind(&like)
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM persons WHERE household_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(state.db.pool())
                .await?;
        out.push(RollHousehold {
            id,
            region_code: r.try_get("region_code")?,
            address: r.try_get("address")?,
            members: names.join("、"),
            reached: r.try_get::<Option<i64>, _>("reached")?.map(|v| v != 0),
        });
    }
    Ok(out)
}
