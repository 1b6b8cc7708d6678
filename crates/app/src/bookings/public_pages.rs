//! Public pages of bookings.

use crate::kernel::web::Routes;

pub fn routes() -> Routes {
    vec![]
}
