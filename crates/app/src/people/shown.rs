//! How a person is shown: the one place that decides what of a person's name, ID number and
//! phone an actor sees. Every area that puts a person on a page, in the API or in an export
//! (people, care, screening, entrance, institutions, cross-checks) takes these functions;
//! none masks on its own. A full value is one audited action away (`people::reveal`).
//!
//! Today's rules: the ID number as "6+1" (`440115***********8`) for roles holding
//! `PersonsRevealId`, "1+1" (`4****************8`) for everyone else; the birth year, never the
//! date (the full date is part of the audited reveal); names in full on the person's own
//! record, masked (`张*`) in the lists of other areas; phones as `138****5678`.
//!
//! Why "6+1" and a year: the 8 birth-date digits and the 3 sequence digits stay hidden
//! together, so with everything a role sees (region, birth year, sex, the check character)
//! about 16,600 numbers remain possible for each person — the test
//! `people::id_candidates_per_role` counts them for every role and requires at least 10,000.
//! The old "6+4" form hid exactly the birth date that lists showed.

use backstop_core::citizen_id::CitizenId;
use backstop_core::mask::{mask_name, mask_phone};
use backstop_core::role::Permission;

use super::{Person, Stored, relationship_label};
use crate::kernel::actor::Actor;

/// `130110***********4` → `1****************4` (first 1 + 16 stars + last 1).
pub fn strict_mask(masked: &str) -> String {
    let chars: Vec<char> = masked.chars().collect();
    match (chars.first(), chars.last()) {
        (Some(f), Some(l)) if chars.len() > 2 => format!("{f}{}{l}", "*".repeat(16)),
        _ => String::new(),
    }
}

/// The ID number as `actor` may see it, from the stored "6+1" masked form.
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

/// An ID number cell as shown to the importer: first 6 + stars + last 1 for roles that may
/// see that much, else first 1 + stars + last 1; short values all stars.
pub fn id_text(s: &str, reveal: bool) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    let n = chars.len();
    if n >= 15 && reveal {
        let head: String = chars[..6].iter().collect();
        format!("{head}{}{}", "*".repeat(n - 7), chars[n - 1])
    } else if n >= 3 {
        format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1])
    } else {
        "*".repeat(n)
    }
}

/// A phone number as typed (a preview cell), as `138****5678`.
pub fn phone_text(p: &str) -> String {
    mask_phone(p)
}

/// A checked ID number shown to the one who typed it (a roster row's report): "6+1" when
/// `reveal` (the actor holds `PersonsRevealId`), else "1+1".
pub fn citizen_id(id: &CitizenId, reveal: bool) -> String {
    if reveal {
        id.masked()
    } else {
        id.masked_strict()
    }
}

/// Every person read comes out of the access layer as a [`Stored`] row and is shown only
/// through this view.
impl Stored {
    /// The person as `actor` may see it.
    pub(crate) fn view(&self, actor: &Actor) -> Person {
        let id_number_masked = id_number(actor, &self.id_masked);
        Person {
            id: self.id,
            region_code: self.region_code.clone(),
            region_name: self.region_name.clone(),
            name: self.name.clone(),
            sex_label: match self.sex.as_str() {
                "male" => "男",
                "female" => "女",
                _ => "",
            }
            .to_string(),
            sex: self.sex.clone(),
            birth_year: self.birth_year,
            id_number_masked,
            phone_masked: self.phone_masked.clone(),
            hukou_address: self.hukou_address.clone(),
            address: self.address.clone(),
            household_id: self.household_id,
            relationship_label: relationship_label(&self.relationship).to_string(),
            relationship: self.relationship.clone(),
            deceased: self.deceased,
            disabled: self.disabled,
            link_kind: self.link_kind.clone(),
            links: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_mask_keeps_one_and_one() {
        assert_eq!(strict_mask("130110***********4"), "1****************4");
        assert_eq!(strict_mask(""), "");
    }
}
