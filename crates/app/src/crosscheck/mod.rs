//! Cross-checks (数据比对, issue 4): comparing the rolls so nobody is missed or paid twice.
//!
//! This module owns the rules that decide what counts as a conflict, the run that finds them
//! and stores them idempotently, their scope, and their resolution. A run (page button,
//! `POST /api/v1/crosschecks/run`, or `backstop crosscheck run [--region CODE]`) looks at the
//! persons of one region (the caller's scope by default) and finds:
//!
//! * **(a) one person on rolls in two regions, or recorded twice**
//!   - `observation_region`: an *active* home observation (居家医学观察) whose region (where it
//!     was opened, where its four responsible people are) is not the person's current region;
//!   - `screening_region`: a screening record (摸排) of a campaign that has not ended (its last
//!     day is today or later) made in a region other than the person's current region;
//!   - `possible_duplicate`: two person records with the same name and the same (known) birth
//!     date in *different* regions, at least one of them without an ID number (two records
//!     that both carry an ID number are two people: the number is unique). Care memberships
//!     hang off a person record, so the same person paid in two regions shows up here as two
//!     records.
//! * **(b) `exclusive_groups`**: two group memberships (困难群众类别) of one person whose periods
//!   overlap (an empty end date is open-ended) and which the rule table [`EXCLUSIONS`] says are
//!   not enjoyed together: 特困供养 (either form) excludes 低保; 集中供养 excludes 分散供养;
//!   孤儿 (either form) excludes 事实无人抚养儿童; 散居 and 家庭寄养 孤儿 exclude each other; and any
//!   payment group recorded twice for overlapping periods (paid twice).
//! * **(c) `deceased_paid`**: a person marked deceased with a membership of a payment group
//!   ([`PAYMENT_GROUPS`]: 低保, 特困 (both), 孤儿 (both), 事实无人抚养儿童, 困难残疾人生活补贴,
//!   重度残疾人护理补贴) that has not ended (no end date, or one today or later).
//!
//! **Idempotent storage.** Each conflict has a fingerprint, a keyed blind index (HMAC under
//! the service key, [`rules::fingerprint_of`]) of its kind and the facts that make it (the ids
//! of the records involved, and for duplicates the shared name and birth date): without the
//! key file it cannot be tested against guesses. A rerun that finds the same facts updates the row (last seen, detail) instead of
//! adding one; an *open* conflict that a run covering it no longer finds becomes `cleared`; a
//! cleared one found again reopens; a `resolved` one stays resolved as long as the same facts
//! are found. Changed facts (another membership, another observation, a renamed person) are a
//! new fingerprint, hence a new open conflict.
//!
//! **Scope.** A conflict is stored with the lowest region containing all its persons. It is
//! visible (in lists, counts, resolution) only to a caller whose scope contains that region,
//! i.e. contains *every* person of the conflict: a person outside the caller's scope never
//! appears, not even masked, so existence never leaks across scopes. A conflict between two
//! counties is therefore handled by the city above both. A run only finds conflicts all of
//! whose persons lie in the region run over, and only clears conflicts stored inside it. The
//! *roll* region of an observation or screening record (not a person) is named when it lies in
//! the caller's scope and shown as 辖区外 otherwise. A person who moved out of the caller's
//! scope after the last run is shown as 辖区外 until the next run re-files the conflict.
//!
//! **Roles.** `Permission::CrosschecksManage` (officials and township staff) runs, reads and
//! resolves. Resolution needs a note and is audited (who, when, note); each run is audited with
//! its counts. Persons are shown masked (name, ID number per role) and link to their records.
//!
//! **Files.** [`rules`] decides what is a conflict (kinds, payment groups, exclusions, the
//! common region, fingerprints); `runs` runs the checks and stores what they find; `conflicts`
//! shows stored conflicts as the caller may see them; `resolve` resolves one; `queries` holds
//! every SQL statement of the area and is the only file that runs one.

mod conflicts;
pub mod pages;
mod queries;
mod resolve;
pub mod rules;
mod runs;
pub mod web;

use backstop_core::error::ErrorCode;
use serde::{Deserialize, Serialize};

pub use conflicts::{get, list};
pub use resolve::resolve;
pub use rules::{EXCLUSIONS, KINDS, PAYMENT_GROUPS, common_region, exclusion, kind_label};
pub use runs::{last_run, run, run_in};

/// The open conflicts (数据比对 problems not resolved) involving any of these persons, as
/// Chinese lines "编号 N：kind": social assistance refuses approval while one is open.
pub async fn open_conflicts_of(
    state: &crate::state::AppState,
    persons: &[i64],
) -> crate::kernel::error::AppResult<Vec<String>> {
    Ok(queries::open_of_persons(state, persons)
        .await?
        .into_iter()
        .map(|(id, kind)| format!("比对编号 {id}：{}", kind_label(&kind)))
        .collect())
}

use crate::kernel::error::{AppError, FieldError};

/// What a run did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunReport {
    /// The region run over (`0` = national).
    pub region: String,
    /// Conflicts found by this run.
    pub found: i64,
    /// Of those, new.
    pub created: i64,
    /// Of those, earlier cleared and found again.
    pub reopened: i64,
    /// Open conflicts of the region no longer found.
    pub cleared: i64,
    /// Open conflicts in the region after the run.
    pub open: i64,
}

/// Body of `POST /api/v1/crosschecks/run`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RunRequest {
    /// Region to run over; default the caller's whole scope.
    #[serde(default)]
    pub region: Option<String>,
}

/// A person of a conflict, masked for the caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConflictPerson {
    /// Absent when the person is outside the caller's scope (shown as 辖区外).
    pub id: Option<i64>,
    /// `张*`; `辖区外` for a person outside the caller's scope.
    pub name_masked: String,
    /// Masked as on the person's record for the caller's role.
    pub id_number_masked: String,
    pub region_code: String,
    pub region_name: String,
    pub deceased: bool,
}

/// A conflict as the caller may see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Conflict {
    pub id: i64,
    /// `observation_region`, `screening_region`, `possible_duplicate`, `exclusive_groups`,
    /// `deceased_paid`.
    pub kind: String,
    pub kind_label: String,
    /// `open`, `resolved` or `cleared` (no longer found by a run).
    pub status: String,
    pub status_label: String,
    /// What was found, in Chinese.
    pub summary: String,
    pub persons: Vec<ConflictPerson>,
    /// Beijing time.
    pub first_seen: String,
    pub last_seen: String,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    pub resolve_note: String,
}

/// Conflicts per kind.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KindCount {
    pub kind: String,
    pub label: String,
    pub count: i64,
}

/// A page of conflicts with the counts per kind (same status and region, all kinds).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConflictList {
    pub total: i64,
    pub counts: Vec<KindCount>,
    pub items: Vec<Conflict>,
}

/// Filters of `GET /api/v1/crosschecks`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ConflictQuery {
    /// `open` (default), `resolved`, `cleared` or `all`.
    pub status: Option<String>,
    /// One kind only.
    pub kind: Option<String>,
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// Page size (default 50, at most 200).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The last run over the caller's scope or a region inside it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LastRun {
    pub region: String,
    pub run_by: String,
    pub run_at: String,
    pub found: i64,
    pub created: i64,
    pub reopened: i64,
    pub cleared: i64,
}

/// Body of `POST /api/v1/crosschecks/{id}/resolve`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ResolveRequest {
    /// What was found and done (required, 2 to 500 characters).
    #[serde(default)]
    pub note: String,
}

fn verr(field: &str, label: &str, message: &str) -> AppError {
    AppError {
        code: ErrorCode::Validation,
        message: format!("{label}：{message}"),
        fields: vec![FieldError {
            field: field.to_string(),
            message: message.to_string(),
        }],
    }
}

fn status_label(s: &str) -> &'static str {
    match s {
        "open" => "待处理",
        "resolved" => "已处理",
        "cleared" => "已消除",
        _ => "",
    }
}
