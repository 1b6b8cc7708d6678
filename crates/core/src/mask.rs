//! On-screen masking of personal data other than ID numbers (those live in
//! [`crate::citizen_id`]).
//!
//! One place decides how a phone number or a name is shown to someone who may not see it in
//! full, so pages, API, exports and logs all agree (DESIGN principle 5).

/// `13812345678` → `138****5678` for an 11-digit number; anything else keeps its first and
/// last character only (`020-1234567` → `0*********7`); one or two characters become all `*`.
/// Surrounding whitespace is ignored.
pub fn mask_phone(s: &str) -> String {
    let s = s.trim();
    if s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit()) {
        return format!("{}****{}", &s[..3], &s[7..]);
    }
    keep_ends(s)
}

/// `张三` → `张*`, `欧阳娜娜` → `欧***`: keep the first character, mask the rest; a
/// one-character name becomes `*`. Surrounding whitespace is ignored.
pub fn mask_name(s: &str) -> String {
    let s = s.trim();
    let mut chars = s.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count();
            if rest == 0 {
                "*".to_owned()
            } else {
                format!("{first}{}", "*".repeat(rest))
            }
        }
    }
}

/// First and last character kept, the middle masked; short strings fully masked.
fn keep_ends(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        [] => String::new(),
        [first, middle @ .., last] if !middle.is_empty() => {
            format!("{first}{}{last}", "*".repeat(middle.len()))
        }
        short => "*".repeat(short.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone(" 13812345678 "), "138****5678");
        assert_eq!(mask_phone("020-1234567"), "0*********7");
        assert_eq!(mask_phone("12345"), "1***5");
        assert_eq!(mask_phone("12"), "**");
        assert_eq!(mask_phone("1"), "*");
        assert_eq!(mask_phone(""), "");
        assert_eq!(mask_phone("１３８１２３４５６７８"), "１*********８");
    }

    #[test]
    fn names() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("李"), "*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name(" 王小明 "), "王**");
    }
}
