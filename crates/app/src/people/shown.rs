//! How a person is shown: the one place that decides what of a person's name, ID number and
//! phone an actor sees. Every area that puts a person on a page, in the API or in an export
//! (people, care, screening, entrance, institutions, cross-checks) takes these functions;
//! none masks on its own. A full value is one audited action away (`people::reveal`).
//!
//! Today's rules: the ID number as "6+4" (`440115********4418`) for roles holding
//! `PersonsRevealId`, "1+1" (`4****************8`) for everyone else; names in full on the
//! person's own record, masked (`张*`) in the lists of other areas; phones as `138****5678`.

use backstop_core::mask::mask_name;
use backstop_core::role::Permission;

use crate::kernel::actor::Actor;

/// `130110********1234` → `1****************4` (first 1 + 16 stars + last 1).
pub fn strict_mask(masked: &str) -> String {
    let chars: Vec<char> = masked.chars().collect();
    match (chars.first(), chars.last()) {
        (Some(f), Some(l)) if chars.len() > 2 => format!("{f}{}{l}", "*".repeat(16)),
        _ => String::new(),
    }
}

/// The ID number as `actor` may see it, from the stored "6+4" masked form.
pub fn id_number(actor: &Actor, stored_masked: &str) -> String {
    if actor.can(Permission::PersonsRevealId) {
        stored_masked.to_string()
    } else {
        strict_mask(stored_masked)
    }
}

/// A name in another area's list (a visit, an observation, a gate entry, a conflict).
pub fn name_in_list(name: &str) -> String {
    mask_name(name)
}

/// A name in an organisation's own records (an institution's residents and entries): in full
/// for that organisation's staff, masked for everyone else.
pub fn name_for_org(actor: &Actor, org_id: i64, name: &str) -> String {
    if actor.org_id == Some(org_id) {
        name.to_string()
    } else {
        mask_name(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_mask_keeps_one_and_one() {
        assert_eq!(strict_mask("130110********1234"), "1****************4");
        assert_eq!(strict_mask(""), "");
    }
}
