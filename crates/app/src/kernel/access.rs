//! The one door to the rows: scoped handles for reading, audited transactions for writing.
//!
//! Three rules protect people in every area — region scope, masking of personal data, an
//! audit entry for every change — and none of them may depend on a service function
//! remembering it. So:
//!
//! - **Reading.** An area's queries module (`<area>/queries.rs`, the only file of the area
//!   allowed to run SQL; `tests/it/layout.rs` fails the build otherwise) takes a [`Scoped`]
//!   handle in every function that reads rows belonging somewhere. A handle can only be made
//!   here, from an [`Actor`]: [`Actor::within`] for one region (anything outside the actor's
//!   scope is *not found*, and the attempt is logged without personal data) or
//!   [`Actor::everywhere`] for the actor's whole scope. It carries the half-open code range
//!   every scoped SQL condition uses ([`Scoped::range`]), the organisation an actor tied to
//!   one is limited to ([`Scoped::org`]), and the user whose assignments bound the actor
//!   ([`Scoped::assignee`]). A row fetched by id is let through [`Scoped::admit`], which answers
//!   *not found* for a row outside the handle. Forgetting the scope therefore does not compile:
//!   there is no handle to pass.
//! - **Showing.** Records with personal data come out of the access layer already masked for
//!   the actor; the rule lives once, in `people::shown`.
//! - **Writing.** [`Tx::begin`] opens a write transaction for an actor; the only way to commit
//!   it is [`Tx::commit`], which takes the [`Change`] to audit and appends it in the same
//!   transaction. Dropping a `Tx` rolls it back. The group-commit path (`Db::write`, the daily
//!   report burst) and the bulk import keep their own transactions and append with
//!   `audit::append` / `audit::Chain` inside them, as ADRs 0006–0008 describe.
//! - **No free text in the log.** Audit entries are stored in clear and hash-chained: a note,
//!   reason, remark, answer or description copied into a [`Change`]'s detail could never be
//!   removed and would defeat the sealing of its row. Free text is recorded by its length only,
//!   through [`Change::free_text`] (or [`text_len`] inside a before → after); persons' names
//!   and phones by their masked forms (`people::shown`). `docs/PRIVACY.md` ("audit log").

use backstop_core::region::{RegionCode, Scope};
use backstop_core::role::{Permission, Role};
use backstop_store::WriteTx;
use serde_json::Value;
use sqlx::AnyConnection;

use crate::audit::{self, Entry, Who};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::queries::{self, AnyQuery};
use crate::state::AppState;

/// What an actor may read: a region node inside its scope, and the organisation and
/// assignment limits that come with who it is. Made only by [`Actor::within`] and
/// [`Actor::everywhere`].
#[derive(Debug, Clone)]
pub struct Scoped<'a> {
    actor: &'a Actor,
    node: Scope,
    lo: String,
    hi: String,
}

impl Actor {
    /// A handle for `region`, which must be inside the actor's scope (else *not found*).
    pub fn within(&self, region: &RegionCode) -> AppResult<Scoped<'_>> {
        if !self.sees(region) {
            tracing::info!(
                user = %self.username,
                region = region.as_str(),
                "out-of-scope region refused"
            );
            note_denial(self, region.as_str(), "region");
            return Err(AppError::not_found());
        }
        let (lo, hi) = region.scope_bounds();
        Ok(Scoped {
            actor: self,
            node: Scope::Region(region.clone()),
            lo,
            hi,
        })
    }

    /// A handle for `region` when given, else for the actor's whole scope.
    pub fn within_opt(&self, region: Option<&RegionCode>) -> AppResult<Scoped<'_>> {
        match region {
            Some(r) => self.within(r),
            None => Ok(self.everywhere()),
        }
    }

    /// A handle for the actor's whole scope.
    pub fn everywhere(&self) -> Scoped<'_> {
        let (lo, hi) = self.scope_bounds();
        Scoped {
            actor: self,
            node: self.scope.clone(),
            lo,
            hi,
        }
    }
}

impl<'a> Scoped<'a> {
    /// Who reads.
    pub fn actor(&self) -> &'a Actor {
        self.actor
    }

    /// The region node the handle covers (the actor's scope or a region inside it).
    pub fn node(&self) -> &Scope {
        &self.node
    }

    /// Half-open range `[lo, hi)` of region codes under the handle, for the condition
    /// `region_code >= lo AND region_code < hi` (an index range scan).
    pub fn range(&self) -> (&str, &str) {
        (&self.lo, &self.hi)
    }

    /// The codes of the regions above the handle's node (none for the nation): where what a
    /// region inherits is set — standards, emergency periods, public texts.
    pub fn above(&self) -> Vec<String> {
        self.node
            .region()
            .map(RegionCode::ancestors)
            .unwrap_or_default()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect()
    }

    /// Is the stored region code `code` under the handle?
    pub fn contains(&self, code: &str) -> bool {
        self.lo.as_str() <= code && code < self.hi.as_str()
    }

    /// Let a row fetched by id through, or answer *not found* when its region is outside the
    /// handle (the attempt is logged; the row's content is not).
    pub fn admit<T>(&self, region_code: &str, row: T) -> AppResult<T> {
        if self.contains(region_code) {
            Ok(row)
        } else {
            tracing::info!(
                user = %self.actor.username,
                region = region_code,
                "out-of-scope record refused"
            );
            note_denial(self.actor, region_code, "record");
            Err(AppError::not_found())
        }
    }

    /// Forbidden unless the actor holds `p`.
    pub fn require(&self, p: Permission) -> AppResult<&Self> {
        self.actor.require(p)?;
        Ok(self)
    }

    /// The organisation an actor tied to one is limited to for records an organisation owns
    /// (an institution's residents, a charity's ledger, a registry's bookings): `None` for
    /// actors not tied to an organisation, who read by region alone.
    pub fn org(&self) -> Option<i64> {
        self.actor.org_id
    }

    /// *Not found* unless a record owned by organisation `owner` may be read: by anyone when
    /// the actor is not tied to an organisation, else only by that organisation's people.
    pub fn admit_org<T>(&self, owner: i64, row: T) -> AppResult<T> {
        match self.org() {
            Some(mine) if mine != owner => {
                note_denial(self.actor, self.node.as_str(), "organisation");
                Err(AppError::not_found())
            }
            _ => Ok(row),
        }
    }

    /// The user whose assignments bound what the actor reads, for actors whose every role
    /// works case by case (a social worker reads the cases assigned to it, not every person
    /// of its region): `Some(user id)` for them, `None` for everyone else.
    pub fn assignee(&self) -> Option<i64> {
        let roles = self.actor.roles.roles();
        let case_bound = !roles.is_empty() && roles.iter().all(|r| *r == Role::SocialWorker);
        if case_bound { self.actor.user_id } else { None }
    }
}

/// An out-of-scope read refused while serving one request: who tried, where, and what kind of
/// refusal (`region`, `record`, `organisation`). No record content, no personal data.
#[derive(Debug, Clone)]
pub struct Denial {
    pub who: Who,
    /// The scope of the actor who tried (where its auditor looks).
    pub scope: String,
    /// The region code of what was refused.
    pub region: String,
    pub kind: &'static str,
}

type DenialSlot = std::sync::Arc<std::sync::Mutex<Option<Denial>>>;

tokio::task_local! {
    static DENIALS: DenialSlot;
}

/// Remember the first refusal of the request being served (outside
/// [`recording_denials`] — unit tests, the CLI — nothing is kept).
fn note_denial(actor: &Actor, region: &str, kind: &'static str) {
    let _ = DENIALS.try_with(|slot| {
        if let Ok(mut d) = slot.lock()
            && d.is_none()
        {
            *d = Some(Denial {
                who: Who::from(actor),
                scope: actor.scope.as_str().to_string(),
                region: region.to_string(),
                kind,
            });
        }
    });
}

/// Run `f` (a request's handling) and hand back the first out-of-scope refusal it met, so the
/// web shell can audit refusals once for every area (`kernel::web::audit_denials`) instead of
/// each area remembering to.
pub async fn recording_denials<F: std::future::Future>(f: F) -> (F::Output, Option<Denial>) {
    let slot = DenialSlot::default();
    let out = DENIALS.scope(slot.clone(), f).await;
    let denial = slot.lock().ok().and_then(|mut d| d.take());
    (out, denial)
}

/// Free text as the audit log may hold it: its length in characters, `{"len": n}`, never the
/// text (see "No free text in the log" above). For a before → after of a text field:
/// `{"before": text_len(old), "after": text_len(new)}`.
pub fn text_len(text: &str) -> Value {
    serde_json::json!({ "len": text.chars().count() })
}

/// One audit entry for a change: what was done to which object where, with before → after
/// of the changed fields (masked) in `detail`, and free text only by its length
/// ([`Change::free_text`]).
#[derive(Debug, Clone)]
pub struct Change {
    action: &'static str,
    object_type: &'static str,
    object_id: String,
    region_code: String,
    outcome: &'static str,
    detail: Value,
    /// Free-text fields, by length, merged into `detail` (whatever order the calls came in).
    free: Vec<(&'static str, Value)>,
}

impl Change {
    /// `action` is `<object>.<verb>` (e.g. `inspection.create`); `region_code` is where the
    /// object belongs (`"0"` for national objects), for the scoped audit search.
    pub fn new(
        action: &'static str,
        object_type: &'static str,
        object_id: impl ToString,
        region_code: impl Into<String>,
    ) -> Change {
        Change {
            action,
            object_type,
            object_id: object_id.to_string(),
            region_code: region_code.into(),
            outcome: "success",
            detail: Value::Object(Default::default()),
            free: Vec::new(),
        }
    }

    /// Record the free text `text` (a note, a reason, a remark, an answer…) under `key` by its
    /// length only: `"key": {"len": n}` in the detail, never the text.
    pub fn free_text(mut self, key: &'static str, text: &str) -> Change {
        self.free.push((key, text_len(text)));
        self
    }

    /// Before → after of changed fields (see `audit::diff`), or other context.
    pub fn detail(mut self, detail: Value) -> Change {
        self.detail = detail;
        self
    }

    /// Record a refused or failed attempt.
    pub fn failed(mut self) -> Change {
        self.outcome = "failure";
        self
    }

    /// The detail with the free-text lengths merged in.
    fn full_detail(&self) -> Value {
        if self.free.is_empty() {
            return self.detail.clone();
        }
        let mut map = match &self.detail {
            Value::Object(m) => m.clone(),
            Value::Null => Default::default(),
            other => [("detail".to_string(), other.clone())]
                .into_iter()
                .collect(),
        };
        for (k, v) in &self.free {
            map.insert((*k).to_string(), v.clone());
        }
        Value::Object(map)
    }

    fn entry(&self) -> Entry<'_> {
        Entry {
            action: self.action,
            object_type: self.object_type,
            object_id: self.object_id.clone(),
            region_code: self.region_code.clone(),
            outcome: self.outcome,
            detail: self.full_detail(),
        }
    }
}

/// A write transaction that commits only with its audit entry. Dropping it rolls back.
#[must_use = "a write transaction is rolled back unless committed with its audit entry"]
pub struct Tx {
    w: WriteTx,
    db: backstop_store::Db,
    who: Who,
    now: i64,
    pending: Vec<Change>,
}

impl Tx {
    /// Begin a write transaction on behalf of `actor`, at the injected clock's now.
    pub async fn begin(state: &AppState, actor: &Actor) -> AppResult<Tx> {
        Self::begin_as(state, Who::from(actor)).await
    }

    /// Begin for someone without a full actor (a failed login, the public face).
    pub async fn begin_as(state: &AppState, who: Who) -> AppResult<Tx> {
        Ok(Tx {
            w: state.db.begin_write().await?,
            db: state.db.clone(),
            who,
            now: state.now_ms(),
            pending: Vec::new(),
        })
    }

    /// The connection to run statements on.
    pub fn conn(&mut self) -> &mut AnyConnection {
        self.w.conn()
    }

    /// Run one write statement in the transaction.
    pub async fn exec(&mut self, q: AnyQuery<'_>) -> AppResult<()> {
        queries::exec(self.w.conn(), q).await
    }

    /// Run one write statement in the transaction; how many rows it changed.
    pub async fn changed(&mut self, q: AnyQuery<'_>) -> AppResult<u64> {
        queries::changed(self.w.conn(), q).await
    }

    /// Run an `INSERT … RETURNING id` in the transaction; the new row's id.
    pub async fn insert(&mut self, q: AnyQuery<'_>) -> AppResult<i64> {
        queries::new_id(self.w.conn(), q).await
    }

    /// The transaction's time (Unix ms), for `created_at` / `updated_at` columns.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Queue a further entry for a write that changes several objects; all are appended, in
    /// order, before the one given to [`Tx::commit`].
    pub fn also(&mut self, change: Change) {
        self.pending.push(change);
    }

    /// Append the audit entries and commit.
    pub async fn commit(mut self, change: Change) -> AppResult<()> {
        self.pending.push(change);
        let entries: Vec<Entry<'_>> = self.pending.iter().map(Change::entry).collect();
        audit::append_many(self.w.conn(), &self.db, self.now, &self.who, &entries).await?;
        drop(entries);
        self.w.commit().await?;
        Ok(())
    }

    /// Roll back now (and only then release SQLite's writer lock).
    pub async fn rollback(self) -> AppResult<()> {
        self.w.rollback().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::actor::Via;
    use backstop_core::role::RoleSet;

    fn actor(scope: &str, roles: &[Role], org: Option<i64>) -> Actor {
        Actor {
            user_id: Some(7),
            username: "u".into(),
            roles: RoleSet::new(roles.iter().copied()),
            scope: Scope::parse(scope).expect("scope"),
            org_id: org,
            source: "t".into(),
            via: Via::Session(1),
        }
    }

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).expect("code")
    }

    #[test]
    fn within_refuses_outside_and_bounds_inside() {
        let a = actor("440115", &[Role::Official], None);
        assert!(a.within(&code("440116")).is_err());
        assert!(a.within(&code("4401")).is_err());
        let s = a.within(&code("440115001")).expect("inside");
        assert!(s.contains("440115001002") && !s.contains("440115002001"));
        assert!(s.admit("440115001002", ()).is_ok());
        assert!(s.admit("440116001002", ()).is_err());
        let all = a.everywhere();
        assert!(all.contains("440115002001") && !all.contains("440116"));
        // 13011 never contains 130111: fixed-length prefixes.
        let b = actor("130110", &[Role::Official], None);
        assert!(!b.everywhere().contains("130111"));
    }

    #[tokio::test]
    async fn refusals_are_recorded_for_the_request_only() {
        let a = actor("440115", &[Role::Official], None);
        let ((), none) = recording_denials(async {
            assert!(a.within(&code("440115001")).is_ok());
        })
        .await;
        assert!(none.is_none());
        let ((), got) = recording_denials(async {
            assert!(a.everywhere().admit("440116001002", ()).is_err());
            assert!(a.within(&code("440117")).is_err());
        })
        .await;
        let got = got.expect("recorded");
        assert_eq!((got.kind, got.region.as_str()), ("record", "440116001002"));
        assert_eq!(got.scope, "440115");
        // Outside a request nothing is kept (and nothing fails).
        assert!(a.within(&code("440116")).is_err());
    }

    #[test]
    fn org_and_assignment_limits() {
        let staff = actor("440115", &[Role::InstitutionReporter], Some(3));
        let s = staff.everywhere();
        assert!(s.admit_org(3, ()).is_ok() && s.admit_org(4, ()).is_err());
        let official = actor("440115", &[Role::Official], None);
        assert!(official.everywhere().admit_org(4, ()).is_ok());
        let sw = actor("4401", &[Role::SocialWorker], None);
        assert_eq!(sw.everywhere().assignee(), Some(7));
        let mixed = actor("4401", &[Role::SocialWorker, Role::Official], None);
        assert_eq!(mixed.everywhere().assignee(), None);
    }
}
