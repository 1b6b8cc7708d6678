//! Hotline pages (phone-first for hotline staff).

use crate::kernel::web::Routes;

pub fn routes() -> Routes {
    vec![]
}
