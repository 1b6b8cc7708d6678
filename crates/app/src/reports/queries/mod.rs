//! Every SQL statement of reports, and the only place in the area that runs one.
//!
//! Reading functions that read rows belonging to a region take a [`Scoped`] handle: lists are
//! limited to its code range in SQL, and a row fetched by id is let through [`Scoped::admit`]
//! (outside the handle: *not found*). Writing functions take the open [`Tx`], whose commit
//! appends the audit entry — except the submission, which is one job of the group commit
//! (`Db::write`, ADR 0006) and is handed the job's connection: its statements, round trips
//! and batching are exactly those the ADR describes, and the job appends its own audit entry.
//!
//! [`Scoped`]: crate::kernel::access::Scoped
//! [`Scoped::admit`]: crate::kernel::access::Scoped::admit
//! [`Tx`]: crate::kernel::access::Tx

mod chases;
mod forms;
mod incidents;
mod notices;
mod rollup;
mod submit;
mod summary;

pub(super) use chases::*;
pub(super) use forms::*;
pub(super) use incidents::*;
pub(super) use notices::*;
pub(super) use rollup::*;
pub(super) use submit::*;
pub(super) use summary::*;
