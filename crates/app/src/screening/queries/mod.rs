//! Every SQL statement of screening and home observation, and the only place in the area that
//! runs one.
//!
//! Reading functions take a [`Scoped`](crate::kernel::access::Scoped) handle: lists are limited
//! to its code range in SQL, and a row fetched by id is let through `Scoped::admit` (outside
//! the handle: *not found*); what a scoped fetch returns ([`Household`], an observation, a
//! campaign) is the proof later statements on its children rely on. Writing functions take the
//! open [`Tx`](crate::kernel::access::Tx); the service commits it with the audit entry. The
//! missed check-in sweep (`checks`) runs for the system, not for an actor, over every active
//! observation.

mod campaigns;
mod checks;
mod observations;
mod rollup;
mod visits;

pub(super) use campaigns::*;
pub(super) use checks::*;
pub(super) use observations::*;
pub(super) use rollup::*;
pub(super) use visits::*;
