//! Money as integer fen (分), never a float. Every amount Backstop stores, sums or shows —
//! assistance standards, incomes, roll lines, grants, donations — is a [`Fen`]; amounts typed
//! by people arrive as yuan text (`"1,234.5"`, `"1234.50元"`) and are parsed here once, exactly,
//! so no area rounds on its own.

use std::fmt;

/// An amount in fen (1 yuan = 100 fen). Signed so that deductions and recoveries can be
/// expressed; inputs that must not be negative are checked with [`Fen::parse_non_negative`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fen(pub i64);

/// Why a yuan text is not an amount (the message is Chinese, for the page and the API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MoneyError {
    Empty,
    Malformed,
    FractionOfFen,
    Negative,
    TooLarge,
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MoneyError::Empty => "金额不能为空",
            MoneyError::Malformed => "金额格式不正确，请填写以元为单位的数字，如 1234.56",
            MoneyError::FractionOfFen => "金额最多精确到分（小数点后两位）",
            MoneyError::Negative => "金额不能为负数",
            MoneyError::TooLarge => "金额过大",
        })
    }
}

impl std::error::Error for MoneyError {}

/// The largest amount accepted from text: one hundred billion yuan, far above any roll total,
/// far below `i64::MAX` so sums of millions of lines cannot overflow.
const MAX_FEN: i64 = 10_000_000_000_000;

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// Whole yuan.
    pub const fn yuan(y: i64) -> Fen {
        Fen(y * 100)
    }

    /// Parses yuan text exactly: optional sign, digits with optional `,`/`，` thousands
    /// separators, at most two decimals, an optional trailing `元`. No float is involved.
    pub fn parse_yuan(s: &str) -> Result<Fen, MoneyError> {
        let t = s.trim();
        let t = t.strip_suffix('元').unwrap_or(t).trim();
        if t.is_empty() {
            return Err(MoneyError::Empty);
        }
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let cleaned: String = t.chars().filter(|c| *c != ',' && *c != '，').collect();
        let (whole, frac) = match cleaned.split_once('.') {
            Some((w, f)) => (w, f),
            None => (cleaned.as_str(), ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err(MoneyError::Malformed);
        }
        if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(MoneyError::Malformed);
        }
        if frac.len() > 2 {
            if frac[2..].chars().all(|c| c == '0') {
                // "12.500" is still exact.
            } else {
                return Err(MoneyError::FractionOfFen);
            }
        }
        if whole.len() > 15 {
            return Err(MoneyError::TooLarge);
        }
        let w: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| MoneyError::Malformed)?
        };
        let f2: String = frac.chars().chain("00".chars()).take(2).collect();
        let f: i64 = f2.parse().map_err(|_| MoneyError::Malformed)?;
        let v = w
            .checked_mul(100)
            .and_then(|x| x.checked_add(f))
            .ok_or(MoneyError::TooLarge)?;
        if v > MAX_FEN {
            return Err(MoneyError::TooLarge);
        }
        Ok(Fen(if neg { -v } else { v }))
    }

    /// As [`Fen::parse_yuan`], refusing a negative amount.
    pub fn parse_non_negative(s: &str) -> Result<Fen, MoneyError> {
        let v = Fen::parse_yuan(s)?;
        if v.0 < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(v)
    }

    /// The amount as yuan text with two decimals, e.g. `1234.50` (no separators: for files).
    pub fn to_yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", a / 100, a % 100)
    }

    /// Checked sum of amounts (None on overflow).
    pub fn checked_sum<I: IntoIterator<Item = Fen>>(it: I) -> Option<Fen> {
        it.into_iter()
            .try_fold(0i64, |acc, x| acc.checked_add(x.0))
            .map(Fen)
    }
}

impl fmt::Display for Fen {
    /// Yuan with thousands separators, for pages: `1,234.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        let whole = (a / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "{sign}{grouped}.{:02}", a % 100)
    }
}

impl std::ops::Add for Fen {
    type Output = Fen;
    fn add(self, o: Fen) -> Fen {
        Fen(self.0 + o.0)
    }
}

impl std::ops::Sub for Fen {
    type Output = Fen;
    fn sub(self, o: Fen) -> Fen {
        Fen(self.0 - o.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yuan_exactly() {
        assert_eq!(Fen::parse_yuan("1234.56"), Ok(Fen(123_456)));
        assert_eq!(Fen::parse_yuan("1,234.5元"), Ok(Fen(123_450)));
        assert_eq!(Fen::parse_yuan(" 0.07 "), Ok(Fen(7)));
        assert_eq!(Fen::parse_yuan(".5"), Ok(Fen(50)));
        assert_eq!(Fen::parse_yuan("12.500"), Ok(Fen(1250)));
        assert_eq!(Fen::parse_yuan("-3"), Ok(Fen(-300)));
        assert_eq!(Fen::parse_yuan("0.001"), Err(MoneyError::FractionOfFen));
        assert_eq!(Fen::parse_yuan("1e3"), Err(MoneyError::Malformed));
        assert_eq!(Fen::parse_yuan(""), Err(MoneyError::Empty));
        assert_eq!(Fen::parse_yuan("."), Err(MoneyError::Malformed));
        assert_eq!(Fen::parse_non_negative("-1"), Err(MoneyError::Negative));
        assert_eq!(
            Fen::parse_yuan("9999999999999999"),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn shows_yuan() {
        assert_eq!(Fen(123_456_789).to_string(), "1,234,567.89");
        assert_eq!(Fen(5).to_string(), "0.05");
        assert_eq!(Fen(-120).to_yuan_string(), "-1.20");
        assert_eq!(Fen(100_000).to_yuan_string(), "1000.00");
    }

    #[test]
    fn round_trips_every_small_amount() {
        for v in -1000..=100_000i64 {
            let s = Fen(v).to_yuan_string();
            assert_eq!(Fen::parse_yuan(&s), Ok(Fen(v)), "{s}");
        }
    }
}
