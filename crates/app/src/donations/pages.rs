//! Donation pages (Chinese, phone-first): filled in by the pages step.

use crate::kernel::web::Routes;

pub fn routes() -> Routes {
    Vec::new()
}
