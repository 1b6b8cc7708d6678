//! Password policy: strength rules and lockout parameters.
//!
//! This module owns what counts as an acceptable password (length, character classes, a
//! built-in block list of common passwords with leet normalisation, no username/real name/org
//! name inside) and the lockout numbers the service layer enforces. The security administrator
//! can change the numbers; the checks themselves are pure so every entry point (web, API, CLI)
//! applies the same rule. Hashing lives in the app, not here.

/// Longest accepted password, in characters.
pub const MAX_LEN: usize = 128;

/// Common passwords and words, lower case, compared after leet normalisation. Words of 4 or
/// more characters block any password *containing* them; shorter ones only an exact match.
pub const BUILTIN_BLOCKLIST: &[&str] = &[
    "password",
    "passw0rd",
    "p@ssw0rd",
    "passwd",
    "pass",
    "qwerty",
    "qwertyuiop",
    "asdfgh",
    "asdf",
    "zxcvbn",
    "zxcv",
    "1qaz2wsx",
    "qazwsx",
    "1q2w3e4r",
    "q1w2e3r4",
    "123456",
    "12345678",
    "123456789",
    "1234",
    "4321",
    "123123",
    "111111",
    "000000",
    "666666",
    "888888",
    "987654",
    "654321",
    "112233",
    "abc123",
    "abcd",
    "abcdef",
    "aaaa",
    "admin",
    "administrator",
    "root",
    "system",
    "welcome",
    "letmein",
    "iloveyou",
    "woaini",
    "5201314",
    "1314520",
    "520520",
    "monkey",
    "dragon",
    "master",
    "shadow",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "superman",
    "trustno1",
    "login",
    "test",
    "guest",
    "default",
    "changeme",
    "secret",
    "china",
    "zhongguo",
    "beijing",
    "huawei",
    "backstop",
    "doudi",
    "minzheng",
    "mz",
    "mzj",
    "mzt",
    "mzb",
];

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("密码至少 {0} 个字符")]
    TooShort(usize),
    #[error("密码需包含小写字母、大写字母、数字、符号中的至少 {0} 类")]
    TooFewClasses(usize),
    #[error("密码过于常见或包含常见弱口令，请换一个")]
    Blocked,
    #[error("密码不能包含用户名、姓名或单位名称")]
    ContainsContext,
    #[error("密码不能超过 128 个字符")]
    TooLong,
}

/// Strength and lockout rules.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PasswordPolicy {
    /// Minimum length in characters (default 10).
    pub min_len: usize,
    /// Minimum number of classes among lower, upper, digit, symbol (default 3).
    pub min_classes: usize,
    /// Days until a password must be changed (default 90).
    pub max_age_days: i64,
    /// Consecutive failed logins before lockout (default 5).
    pub max_failures: u32,
    /// Lockout duration (default 15).
    pub lockout_minutes: i64,
    /// Extra blocked words, on top of [`BUILTIN_BLOCKLIST`].
    pub blocklist: Vec<String>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_len: 10,
            min_classes: 3,
            max_age_days: 90,
            max_failures: 5,
            lockout_minutes: 15,
            blocklist: Vec::new(),
        }
    }
}

/// Number of character classes present: lower-case ASCII, upper-case ASCII, ASCII digit, and
/// anything else (symbols, spaces, non-ASCII).
pub fn char_classes(password: &str) -> usize {
    let (mut lower, mut upper, mut digit, mut other) = (false, false, false, false);
    for c in password.chars() {
        if c.is_ascii_lowercase() {
            lower = true;
        } else if c.is_ascii_uppercase() {
            upper = true;
        } else if c.is_ascii_digit() {
            digit = true;
        } else {
            other = true;
        }
    }
    [lower, upper, digit, other]
        .into_iter()
        .filter(|b| *b)
        .count()
}

/// Lower-case and undo common leet substitutions. `one` is what `1` becomes (`l` or `i`).
fn normalise(s: &str, one: char) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            '0' => 'o',
            '1' => one,
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            _ => c,
        })
        .collect()
}

/// Is `password` blocked by `word`?
fn blocked_by(password: &str, word: &str) -> bool {
    let word = word.trim();
    let n = word.chars().count();
    if n == 0 {
        return false;
    }
    let lower_pw = password.to_lowercase();
    let lower_word = word.to_lowercase();
    let forms = [
        (lower_pw, lower_word),
        (normalise(password, 'l'), normalise(word, 'l')),
        (normalise(password, 'i'), normalise(word, 'i')),
    ];
    forms.iter().any(|(p, w)| {
        if n >= 4 {
            p.contains(w.as_str())
        } else {
            p == w
        }
    })
}

impl PasswordPolicy {
    /// Check a new password. `context` holds words the password must not contain (username,
    /// real name, organisation name…); words shorter than 3 characters are ignored. Errors
    /// come in this order: too long, too short, too few classes, blocked, contains context.
    pub fn check(&self, password: &str, context: &[&str]) -> Result<(), PasswordError> {
        let len = password.chars().count();
        if len > MAX_LEN {
            return Err(PasswordError::TooLong);
        }
        if len < self.min_len {
            return Err(PasswordError::TooShort(self.min_len));
        }
        if char_classes(password) < self.min_classes {
            return Err(PasswordError::TooFewClasses(self.min_classes));
        }
        let extra = self.blocklist.iter().map(String::as_str);
        if BUILTIN_BLOCKLIST
            .iter()
            .copied()
            .chain(extra)
            .any(|w| blocked_by(password, w))
        {
            return Err(PasswordError::Blocked);
        }
        let lower = password.to_lowercase();
        if context
            .iter()
            .map(|w| w.trim())
            .filter(|w| w.chars().count() >= 3)
            .any(|w| lower.contains(&w.to_lowercase()))
        {
            return Err(PasswordError::ContainsContext);
        }
        Ok(())
    }

    /// Has a password set at `changed_at` expired at `now`? (`max_age_days <= 0` disables.)
    pub fn is_expired(
        &self,
        changed_at: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        self.max_age_days > 0 && now - changed_at >= chrono::Duration::days(self.max_age_days)
    }

    /// How long an account stays locked after `max_failures` failures.
    pub fn lockout_duration(&self) -> chrono::Duration {
        chrono::Duration::minutes(self.lockout_minutes.max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PasswordPolicy {
        PasswordPolicy::default()
    }

    #[test]
    fn defaults() {
        let d = p();
        assert_eq!(
            (
                d.min_len,
                d.min_classes,
                d.max_age_days,
                d.max_failures,
                d.lockout_minutes
            ),
            (10, 3, 90, 5, 15)
        );
        assert!(BUILTIN_BLOCKLIST.len() >= 60);
        assert_eq!(d.lockout_duration(), chrono::Duration::minutes(15));
    }

    #[test]
    fn accepts_good_passwords() {
        assert_eq!(p().check("Tg7#kLm9xQ", &[]), Ok(()));
        assert_eq!(p().check("river-Kite-82", &["zhangsan"]), Ok(()));
        assert_eq!(p().check("长城Kv8-wq91z", &[]), Ok(()));
        assert_eq!(p().check(&"Ab1-".repeat(32), &[]), Ok(()));
    }

    #[test]
    fn length_rules() {
        assert_eq!(p().check("Ab1-xyz", &[]), Err(PasswordError::TooShort(10)));
        assert_eq!(p().check("", &[]), Err(PasswordError::TooShort(10)));
        assert_eq!(
            p().check(&"Ab1-".repeat(33), &[]),
            Err(PasswordError::TooLong)
        );
        // Counted in characters, not bytes: 9 Chinese characters are too short.
        assert_eq!(
            p().check("长城长城长城长城A", &[]),
            Err(PasswordError::TooShort(10))
        );
        assert!(
            PasswordError::TooShort(10)
                .to_string()
                .contains("密码至少 10 个字符")
        );
    }

    #[test]
    fn class_rules() {
        assert_eq!(
            p().check("abcxyzqrtuv", &[]),
            Err(PasswordError::TooFewClasses(3))
        );
        assert_eq!(
            p().check("kvmtrwqzx9281", &[]),
            Err(PasswordError::TooFewClasses(3))
        );
        assert_eq!(char_classes("aA1-"), 4);
        assert_eq!(char_classes("长"), 1);
        let lax = PasswordPolicy {
            min_classes: 1,
            ..p()
        };
        assert_eq!(lax.check("kvmtrwqzxhg", &[]), Ok(()));
    }

    #[test]
    fn block_list() {
        assert_eq!(p().check("Password123!", &[]), Err(PasswordError::Blocked));
        assert_eq!(p().check("P@ssw0rd2024", &[]), Err(PasswordError::Blocked));
        assert_eq!(p().check("Pa55w0rd!xyz", &[]), Err(PasswordError::Blocked));
        assert_eq!(p().check("Qwerty!9876x", &[]), Err(PasswordError::Blocked));
        assert_eq!(p().check("Xy-12345678", &[]), Err(PasswordError::Blocked));
        assert_eq!(p().check("W0aini!Kvmq", &[]), Err(PasswordError::Blocked));
        assert_eq!(p().check("Tg#5201314Z", &[]), Err(PasswordError::Blocked));
        assert_eq!(p().check("Adm1n#Tgkvq", &[]), Err(PasswordError::Blocked));
        assert_eq!(p().check("1qaz2WSX!tg", &[]), Err(PasswordError::Blocked));
        assert_eq!(p().check("Backst0p#99", &[]), Err(PasswordError::Blocked));
        assert_eq!(p().check("M1nzheng#99", &[]), Err(PasswordError::Blocked));
        assert_eq!(p().check("Welc0me#Tgv", &[]), Err(PasswordError::Blocked));
        // "l3tm3in" → "letmein" with 1→i.
        assert_eq!(p().check("L3tm31n#Tgv", &[]), Err(PasswordError::Blocked));
        // Short words only block exact matches.
        let short = PasswordPolicy {
            min_len: 1,
            min_classes: 1,
            ..p()
        };
        assert_eq!(short.check("MZ", &[]), Err(PasswordError::Blocked));
        assert_eq!(short.check("mzkvtq", &[]), Ok(()));
        // Extra words from the policy.
        let extra = PasswordPolicy {
            blocklist: vec!["Guangzhou".to_owned()],
            ..p()
        };
        assert_eq!(
            extra.check("Guangzh0u#2020", &[]),
            Err(PasswordError::Blocked)
        );
        assert_eq!(p().check("Guangzh0u#2020", &[]), Ok(()));
    }

    #[test]
    fn context_words() {
        assert_eq!(
            p().check("Zhangsan#Tg7", &["zhangsan", "张三"]),
            Err(PasswordError::ContainsContext)
        );
        assert_eq!(
            p().check("ZHANGSAN#Tg7", &["ZhangSan"]),
            Err(PasswordError::ContainsContext)
        );
        assert_eq!(
            p().check("南沙区民政局Tg7#", &["南沙区民政局"]),
            Err(PasswordError::ContainsContext)
        );
        // Context words shorter than 3 characters are ignored.
        assert_eq!(p().check("Tg7#kLm9xQ张三", &["张三", "li"]), Ok(()));
        assert_eq!(p().check("Tg7#kLm9xQ", &["", "  "]), Ok(()));
    }

    #[test]
    fn expiry() {
        let t0 = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(!p().is_expired(t0, t0 + chrono::Duration::days(89)));
        assert!(p().is_expired(t0, t0 + chrono::Duration::days(90)));
        let never = PasswordPolicy {
            max_age_days: 0,
            ..p()
        };
        assert!(!never.is_expired(t0, t0 + chrono::Duration::days(9000)));
    }
}
