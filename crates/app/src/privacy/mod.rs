//! Sensitive personal data at rest (PIPL art. 28; issue 13 item 5): the one way the areas seal
//! a health fact or a free-text note about a person (AES-256-GCM under the service's key
//! ring, as `people` seals ID numbers and phones) and open it again on read, and the
//! open-time steps that seal rows written in clear before migrations 0016, 0025, 0034, 0039,
//! 0045 and 0047 and key the cross-check fingerprints stored as plain SHA-256 before.
//!
//! Convention: a sealed column `x` has a companion `x_enc` (ciphertext of the value's text
//! form) and `x` itself holds a blank (`''`, `0` or `NULL`). Readers go through [`text`],
//! [`int`], [`opt_int`], [`flag`] and [`opt_text`], which take the ciphertext when present and
//! fall back to the clear column otherwise (a row not yet sealed). Which columns are sealed,
//! what stays readable and why is `docs/PRIVACY.md`; [`SEALED`] is the list the open-time step
//! walks and must match it.

mod queries;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::Who;
use crate::kernel::access::{Change, Tx};
use crate::kernel::crypto::KeyRing;
use crate::kernel::error::AppResult;
use crate::state::AppState;

/// Shown for a sealed value that does not open under this key (a database copied without
/// its key file, or damaged).
pub const UNREADABLE: &str = "〔无法解密〕";

/// Seal a text value.
pub fn seal(keys: &KeyRing, value: &str) -> Vec<u8> {
    keys.encrypt(value.as_bytes())
}

/// Seal a number (its decimal text).
pub fn seal_int(keys: &KeyRing, value: i64) -> Vec<u8> {
    keys.encrypt(value.to_string().as_bytes())
}

/// Seal an optional number (`None` as the empty text).
pub fn seal_opt_int(keys: &KeyRing, value: Option<i64>) -> Vec<u8> {
    keys.encrypt(value.map(|v| v.to_string()).unwrap_or_default().as_bytes())
}

/// Seal an optional text (`None` as the empty text).
pub fn seal_opt(keys: &KeyRing, value: Option<&str>) -> Vec<u8> {
    keys.encrypt(value.unwrap_or_default().as_bytes())
}

/// Seal a flag (`1` / `0`).
pub fn seal_flag(keys: &KeyRing, value: bool) -> Vec<u8> {
    seal_int(keys, i64::from(value))
}

fn enc_col(col: &str) -> String {
    format!("{col}_enc")
}

/// The opened text of `col_enc`, `None` when the row has no ciphertext; a ciphertext that
/// does not open reads as [`UNREADABLE`].
fn opened(keys: &KeyRing, r: &AnyRow, col: &str) -> Result<Option<String>, sqlx::Error> {
    let enc: Option<Vec<u8>> = r.try_get(enc_col(col).as_str())?;
    Ok(enc.map(|e| {
        keys.decrypt(&e)
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| UNREADABLE.to_string())
    }))
}

/// A sealed text column of a row (`col` and `col_enc` selected under these names).
pub fn text(keys: &KeyRing, r: &AnyRow, col: &str) -> Result<String, sqlx::Error> {
    match opened(keys, r, col)? {
        Some(t) => Ok(t),
        None => r.try_get(col),
    }
}

/// A sealed optional text column (empty sealed text is `None`).
pub fn opt_text(keys: &KeyRing, r: &AnyRow, col: &str) -> Result<Option<String>, sqlx::Error> {
    match opened(keys, r, col)? {
        Some(t) => Ok(Some(t).filter(|t| !t.is_empty())),
        None => r.try_get(col),
    }
}

/// A sealed number column (a ciphertext that does not open reads as 0).
pub fn int(keys: &KeyRing, r: &AnyRow, col: &str) -> Result<i64, sqlx::Error> {
    match opened(keys, r, col)? {
        Some(t) => Ok(t.parse().unwrap_or(0)),
        None => r.try_get(col),
    }
}

/// A sealed optional number column.
pub fn opt_int(keys: &KeyRing, r: &AnyRow, col: &str) -> Result<Option<i64>, sqlx::Error> {
    match opened(keys, r, col)? {
        Some(t) => Ok(t.parse().ok()),
        None => r.try_get(col),
    }
}

/// A sealed flag column.
pub fn flag(keys: &KeyRing, r: &AnyRow, col: &str) -> Result<bool, sqlx::Error> {
    Ok(int(keys, r, col)? != 0)
}

/// How the clear column of a sealed field is read and blanked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// TEXT NOT NULL, blanked to `''`.
    Text,
    /// TEXT, blanked to `NULL` (sealed as the empty text when `NULL`).
    OptText,
    /// BIGINT NOT NULL (a temperature, a flag), blanked to `0`.
    Int,
    /// BIGINT, blanked to `NULL`.
    OptInt,
    /// An observation's status: the outcome of a closed one is sealed and the clear column
    /// keeps only `active` / `closed` (what the lists and counts need).
    Outcome,
}

/// One sealed column: table, key columns (`BIGINT` unless named in `text_keys`), column, and
/// which rows are sealed (`only`: an SQL condition on the table's own columns, `""` for all).
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub table: &'static str,
    pub keys: &'static [&'static str],
    pub text_keys: &'static [&'static str],
    pub column: &'static str,
    pub kind: Kind,
    pub only: &'static str,
}

const fn f(table: &'static str, column: &'static str, kind: Kind) -> Field {
    Field {
        table,
        keys: &["id"],
        text_keys: &[],
        column,
        kind,
        only: "",
    }
}

/// Every sealed column of the built areas (migration 0016), as `docs/PRIVACY.md` lists them.
pub const SEALED: &[Field] = &[
    f("screening_visits", "note", Kind::Text),
    f("screening_persons", "history", Kind::Text),
    f("screening_persons", "symptoms", Kind::Int),
    f("screening_persons", "temperature", Kind::OptInt),
    f("screening_persons", "risk", Kind::Text),
    f("screening_persons", "disposition", Kind::Text),
    f("observations", "reason", Kind::Text),
    f("observations", "close_note", Kind::Text),
    f("observations", "status", Kind::Outcome),
    f("observation_checkins", "temperature", Kind::Int),
    f("observation_checkins", "symptoms", Kind::Int),
    f("observation_checkins", "note", Kind::Text),
    f("gate_entries", "origin", Kind::Text),
    f("gate_entries", "reason", Kind::Text),
    f("gate_entries", "temp_tenths", Kind::Int),
    f("gate_alerts", "temp_tenths", Kind::Int),
    f("gate_alerts", "disposition", Kind::OptText),
    f("gate_alerts", "note", Kind::Text),
    f("inst_entries", "reason", Kind::Text),
    f("inst_entries", "temp_tenths", Kind::Int),
    f("inst_residents", "name", Kind::Text),
    Field {
        table: "inst_temps",
        keys: &["resident_id", "day", "round"],
        text_keys: &["day", "round"],
        column: "temp_tenths",
        kind: Kind::Int,
        only: "",
    },
    f("care_daily_checks", "status", Kind::Text),
    f("care_daily_checks", "note", Kind::Text),
    f("care_visits", "findings", Kind::Text),
    f("care_visits", "needs", Kind::Text),
    f("care_visits", "help_given", Kind::Text),
    f("care_tasks", "need", Kind::Text),
    f("care_tasks", "close_note", Kind::Text),
];

/// Sealed by migration 0025 (issue 13, the rest): which vulnerable group a person is in; the
/// values of immediate reports (即报, `seq > 0`; periodic reports have `seq = 0`), the
/// handling of their acknowledgement and the answers kept for idempotent retries.
pub const SEALED_0025: &[Field] = &[
    f("care_memberships", "category", Kind::Text),
    Field {
        only: "seq > 0",
        ..f("report_submissions", "body", Kind::Text)
    },
    Field {
        keys: &["submission_id"],
        ..f("incident_acks", "handling", Kind::Text)
    },
    Field {
        // The province joined the key with migration 0066 (this runs after every migration).
        keys: &["province", "user_id", "idem_key"],
        text_keys: &["province", "idem_key"],
        ..f("idempotency_keys", "response", Kind::Text)
    },
];

/// Sealed by migration 0034: the facts of a cross-check conflict, which name the care
/// categories a person is in (and the rule that names them), as the categories are sealed.
pub const SEALED_0034: &[Field] = &[f("crosschecks", "detail", Kind::Text)];

/// Sealed by migration 0039: the hotline's free text besides the counselling notes (sealed
/// from the start) — a referral's reason, decline reason and outcome, a follow-up's outcome,
/// and the reference of a red flag's mandatory report; and the opinions written at the steps
/// of an assistance application and a rejection's reason (only rows that hold one: the
/// applications inserted without a step have no ciphertext until their first step).
pub const SEALED_0039: &[Field] = &[
    f("assistance_application_steps", "note", Kind::Text),
    Field {
        only: "reject_reason <> ''",
        ..f("assistance_applications", "reject_reason", Kind::Text)
    },
    f("hotline_referrals", "reason", Kind::Text),
    f("hotline_referrals", "decline_reason", Kind::Text),
    f("hotline_referrals", "outcome", Kind::Text),
    f("hotline_followups", "outcome", Kind::Text),
    f("hotline_calls", "report_ref", Kind::Text),
];

/// Sealed by migration 0038: why a child's care is missing (a parent infected, suspected,
/// isolated), the clear column left empty; lists keep the coarse `reason_group`.
pub const SEALED_0038: &[Field] = &[f("child_cases", "reason", Kind::Text)];

/// Sealed by migration 0045: why a beneficiary's exit is held during an emergency (a note about
/// the household's case; only rows that hold one, as for a rejection's reason).
pub const SEALED_0045: &[Field] = &[Field {
    only: "held_reason <> ''",
    ..f("assistance_beneficiaries", "held_reason", Kind::Text)
}];

/// Sealed by migration 0047: a periodic report's values (its remarks — 情况说明, 存在问题和困难
/// — are free text about the people of a village or an institution; the figures rollups need
/// are kept in the rollup tables) and the before/after bodies of its corrections, which repeat
/// them.
pub const SEALED_0047: &[Field] = &[
    Field {
        only: "seq = 0",
        ..f("report_submissions", "body", Kind::Text)
    },
    Field {
        keys: &["province", "report_id", "n"],
        text_keys: &["province"],
        ..f("report_corrections", "before_body", Kind::Text)
    },
    Field {
        keys: &["province", "report_id", "n"],
        text_keys: &["province"],
        ..f("report_corrections", "after_body", Kind::Text)
    },
];

/// Every sealed column, of every step.
pub fn every_sealed() -> impl Iterator<Item = &'static Field> {
    STEPS
        .iter()
        .chain(LATER_STEPS.iter())
        .flat_map(|(_, fields)| fields.iter())
}

/// The sealing steps in order: the step recorded in `privacy_sealing` once all its fields
/// are sealed, and those fields.
const STEPS: &[(i64, &[Field])] = &[(1, SEALED), (2, SEALED_0025), (3, SEALED_0034)];

/// The steps after the keying of the fingerprints (step 4): the hotline's and the assistance
/// steps' free text ([`SEALED_0039`]), a child case's reason ([`SEALED_0038`]), then why an
/// exit is held ([`SEALED_0045`]), then a periodic report's values and its corrections
/// ([`SEALED_0047`]).
const LATER_STEPS: &[(i64, &[Field])] = &[
    (5, SEALED_0039),
    (6, SEALED_0038),
    (7, SEALED_0045),
    (8, SEALED_0047),
];

/// The clear value of the open observation statuses, kept for lists and counts.
pub const STATUS_ACTIVE: &str = "active";
/// The clear value of every closed observation (its outcome is sealed).
pub const STATUS_CLOSED: &str = "closed";

/// The account the open-time steps write their audit entries as.
pub(crate) fn system() -> Who {
    Who {
        user_id: None,
        username: "system".into(),
        source: "open".into(),
    }
}

/// Scrub the old clear bytes of `tables` from the database files (after an open-time step
/// sealed values there): SQLite vacuumed and its WAL truncated, PostgreSQL's tables rewritten.
pub(crate) async fn scrub(state: &AppState, tables: &[&str]) -> AppResult<()> {
    queries::scrub(state, tables).await
}

/// Seal every row stored in clear before migrations 0016, 0025, 0034, 0039, 0045 and 0047 and blank its clear
/// columns; run at open, after the SQL migrations (the key is not available to them).
/// Idempotent: a row whose ciphertext is present is left alone, and once a step's pass has
/// completed it is recorded and later opens skip it. Returns how many values were sealed. One
/// audited transaction per field that had rows to seal (a fresh database gets no entry), so a
/// crash midway leaves whole fields sealed and the next open goes on. When anything was sealed
/// the old clear bytes are scrubbed from the files: SQLite is vacuumed and its WAL truncated;
/// PostgreSQL's sealed tables are rewritten (`VACUUM FULL`). Backups and PostgreSQL WAL
/// archives made before still hold them (`docs/PRIVACY.md`).
///
/// Step 4 ([`REKEY_STEP`]) replaces the plain SHA-256 fingerprints of cross-check conflicts
/// stored before by their keyed blind index ([`crate::crosscheck::rules::fingerprint_of`]),
/// in one audited transaction (`privacy.rekey`) when there were any; the count returned
/// includes them. Step 5 seals the hotline's free text of migration 0039 ([`SEALED_0039`]),
/// step 6 a child case's reason ([`SEALED_0038`]), step 7 why an exit is held ([`SEALED_0045`]),
/// step 8 a periodic report's values and its corrections ([`SEALED_0047`]).
pub async fn seal_clear_rows(state: &AppState) -> AppResult<u64> {
    let mut total = 0u64;
    for (step, fields) in STEPS {
        total += seal_step(state, *step, fields).await?;
    }
    total += rekey_fingerprints(state).await?;
    for (step, fields) in LATER_STEPS {
        total += seal_step(state, *step, fields).await?;
    }
    Ok(total)
}

/// The step recorded once every cross-check fingerprint is keyed.
pub const REKEY_STEP: i64 = 4;

async fn rekey_fingerprints(state: &AppState) -> AppResult<u64> {
    if queries::step_done(state, REKEY_STEP).await? {
        return Ok(0);
    }
    let mut tx = Tx::begin_as(state, system()).await?;
    let n = queries::rekey_fingerprints(&mut tx, &state.keys).await?;
    if n == 0 {
        tx.rollback().await?;
    } else {
        tx.commit(
            Change::new("privacy.rekey", "column", "crosschecks.fingerprint", "0")
                .detail(serde_json::json!({"rows": n})),
        )
        .await?;
        queries::scrub(state, &["crosschecks"]).await?;
        tracing::info!(rows = n, "cross-check fingerprints keyed");
    }
    queries::record_step(state, REKEY_STEP).await?;
    Ok(n)
}

async fn seal_step(state: &AppState, step: i64, fields: &[Field]) -> AppResult<u64> {
    if queries::step_done(state, step).await? {
        return Ok(0);
    }
    let who = system();
    let mut total = 0u64;
    for field in fields {
        let mut tx = Tx::begin_as(state, who.clone()).await?;
        let n = queries::seal_field(&mut tx, &state.keys, field).await?;
        if n == 0 {
            tx.rollback().await?;
            continue;
        }
        total += n;
        tx.commit(
            Change::new(
                "privacy.seal",
                "column",
                format!("{}.{}", field.table, field.column),
                "0",
            )
            .detail(serde_json::json!({"rows": n})),
        )
        .await?;
    }
    if total > 0 {
        // The clear values must not linger in free pages, the WAL or dead tuples.
        let tables: Vec<&str> = fields.iter().map(|f| f.table).collect();
        queries::scrub(state, &tables).await?;
    }
    queries::record_step(state, step).await?;
    if total > 0 {
        tracing::info!(
            values = total,
            step,
            "sealed sensitive values stored in clear"
        );
    }
    Ok(total)
}
