//! Backstop core: the pure domain types every other crate shares.
//!
//! This crate owns the rules that must be identical wherever they are applied — region codes
//! and data scopes, citizen ID numbers and masking, roles and the permission matrix, the
//! password policy, stable API error codes and the clock — and does no I/O, so each rule is
//! tested once, here, and the store, the service and the CLI cannot disagree.

pub mod benefit;
pub mod care_category;
pub mod citizen_id;
pub mod clock;
pub mod error;
pub mod mask;
pub mod money;
pub mod password;
pub mod price_subsidy;
pub mod programme;
pub mod region;
pub mod role;
pub mod temperature;

pub use citizen_id::{CitizenId, CitizenIdError, Sex};
pub use clock::{Clock, ManualClock, SystemClock, format_beijing, from_millis, to_millis};
pub use error::ErrorCode;
pub use mask::{mask_name, mask_phone};
pub use money::{Fen, MoneyError};
pub use password::{PasswordError, PasswordPolicy};
pub use programme::{PaidPer, Programme};
pub use region::{RegionCode, RegionCodeError, RegionLevel, Scope};
pub use role::{Permission, Role, RoleError, RoleSet, check_grant, permission_matrix_markdown};
