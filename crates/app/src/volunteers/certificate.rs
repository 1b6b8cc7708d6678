//! The certificate of service hours (志愿服务时长证明): a volunteer's confirmed tasks with the
//! minutes, the organisation and the confirming region's name. The volunteer prints their own
//! on the public face; staff print one for a volunteer of their scope (lines of tasks in their
//! scope only).

use serde::Serialize;

use super::queries::{self, VolunteerRow};
use super::{Shift, hours_text};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::public::Citizen;
use crate::state::AppState;

/// One confirmed task on a certificate.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertLine {
    pub task_title: String,
    pub kind_label: String,
    /// Beijing `YYYY-MM-DD HH:MM`.
    pub starts: String,
    /// The region that posted and confirmed the task.
    pub region_name: String,
    pub minutes: i64,
    pub hours: String,
}

/// A certificate of service hours.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Certificate {
    pub volunteer_id: i64,
    /// The volunteer's name (in full: it is their certificate).
    pub name: String,
    pub phone_masked: String,
    pub org_name: String,
    pub region_name: String,
    pub lines: Vec<CertLine>,
    pub total_minutes: i64,
    pub total_hours: String,
    /// `YYYY-MM-DD` (Beijing).
    pub issued_on: String,
}

fn build(state: &AppState, v: VolunteerRow, shifts: Vec<Shift>) -> Certificate {
    let lines: Vec<CertLine> = shifts
        .into_iter()
        .filter(|s| s.status == "confirmed")
        .map(|s| {
            let minutes = s.confirmed_minutes.unwrap_or(0);
            CertLine {
                task_title: s.task_title,
                kind_label: s.task_kind_label,
                starts: s.task_starts,
                region_name: s.task_region_name,
                hours: hours_text(minutes),
                minutes,
            }
        })
        .collect();
    let total_minutes = lines.iter().map(|l| l.minutes).sum();
    Certificate {
        volunteer_id: v.id,
        phone_masked: backstop_core::mask::mask_phone(&v.phone),
        name: v.name,
        org_name: v.org_name,
        region_name: v.region_name,
        lines,
        total_hours: hours_text(total_minutes),
        total_minutes,
        issued_on: state.today().format("%Y-%m-%d").to_string(),
    }
}

/// The verified phone's own certificate.
pub async fn own(state: &AppState, c: &Citizen) -> AppResult<Certificate> {
    let v = queries::volunteer_by_phone(state, &c.phone_index)
        .await?
        .ok_or_else(AppError::not_found)?;
    let shifts = queries::shifts_of_volunteer(state, v.id).await?;
    Ok(build(state, v, shifts))
}

/// A volunteer's certificate for staff (`volunteers.manage`, the volunteer in scope; lines of
/// tasks in scope).
pub async fn for_staff(state: &AppState, actor: &Actor, id: i64) -> AppResult<Certificate> {
    actor.require(backstop_core::role::Permission::VolunteersManage)?;
    let scope = actor.everywhere();
    let v = queries::volunteer_scoped(state, &scope, id).await?;
    let mut shifts = queries::shifts_of_volunteer(state, v.id).await?;
    shifts.retain(|s| scope.contains(&s.task_region_code));
    Ok(build(state, v, shifts))
}
