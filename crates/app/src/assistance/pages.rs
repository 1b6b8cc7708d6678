//! Social assistance pages (社会救助).
use crate::kernel::web::Routes;

pub fn routes() -> Routes {
    vec![]
}
