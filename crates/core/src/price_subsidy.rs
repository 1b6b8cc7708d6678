//! The price-subsidy linkage rule (社会救助和保障标准与物价上涨挂钩联动机制, 价格临时补贴), pure and
//! in one place so the service, the CLI and the tests cannot disagree on it.
//!
//! A month is triggered when the year-on-year CPI rise reaches its threshold (national 3.5 %)
//! or the food-CPI rise reaches its own (national 6 %); a province may set lower thresholds,
//! never higher. Per person per month the subsidy is the beneficiary's own urban or rural
//! dibao standard times the rise of the index that triggered (the higher rise if both did),
//! rounded by the local rule, raised to the local minimum, then multiplied by an emergency
//! multiplier (in 2020 the amount was doubled for a time). Index values are integers in
//! tenths of a percent (`35` = 3.5 %): no float touches money or the trigger.

use crate::money::Fen;

/// National CPI threshold, tenths of a percent (3.5 %).
pub const NATIONAL_CPI_TENTHS: i64 = 35;
/// National food-CPI threshold, tenths of a percent (6 %).
pub const NATIONAL_FOOD_TENTHS: i64 = 60;

/// How the local rule rounds the per-person amount (half up, to the unit named).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// To the fen (分).
    Fen,
    /// To the jiao (角, 10 fen).
    Jiao,
    /// To the whole yuan (元).
    Yuan,
}

impl Rounding {
    pub fn parse(s: &str) -> Option<Rounding> {
        match s.trim() {
            "fen" | "分" => Some(Rounding::Fen),
            "jiao" | "角" => Some(Rounding::Jiao),
            "yuan" | "元" => Some(Rounding::Yuan),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Rounding::Fen => "fen",
            Rounding::Jiao => "jiao",
            Rounding::Yuan => "yuan",
        }
    }

    fn unit(self) -> i64 {
        match self {
            Rounding::Fen => 1,
            Rounding::Jiao => 10,
            Rounding::Yuan => 100,
        }
    }
}

/// A province's rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub cpi_tenths: i64,
    pub food_tenths: i64,
    pub rounding: Rounding,
    pub minimum: Fen,
}

impl Default for Rule {
    /// The national mechanism: 3.5 % / 6 %, rounded to the jiao, no minimum.
    fn default() -> Rule {
        Rule {
            cpi_tenths: NATIONAL_CPI_TENTHS,
            food_tenths: NATIONAL_FOOD_TENTHS,
            rounding: Rounding::Jiao,
            minimum: Fen::ZERO,
        }
    }
}

impl Rule {
    /// A province's thresholds may be lower than the national ones, never higher, and
    /// positive; the minimum is not negative.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.cpi_tenths <= 0 || self.food_tenths <= 0 {
            return Err("触发阈值必须大于 0");
        }
        if self.cpi_tenths > NATIONAL_CPI_TENTHS || self.food_tenths > NATIONAL_FOOD_TENTHS {
            return Err("省级触发阈值只能低于或等于国家标准（CPI 3.5%，食品 CPI 6%），不能更高");
        }
        if self.minimum.0 < 0 {
            return Err("最低补贴额不能为负数");
        }
        Ok(())
    }
}

/// The month's year-on-year rises, tenths of a percent (may be negative).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Indices {
    pub cpi_tenths: i64,
    pub food_tenths: i64,
}

/// Which index triggered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    Cpi,
    Food,
}

impl Index {
    pub fn label(self) -> &'static str {
        match self {
            Index::Cpi => "CPI",
            Index::Food => "食品 CPI",
        }
    }
}

/// Whether the month triggered, with the rise that counts, and the reason in Chinese.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The index whose rise is paid, when triggered.
    pub index: Option<Index>,
    /// The rise paid, tenths of a percent (0 when not triggered).
    pub rise_tenths: i64,
    pub reason: String,
}

impl Decision {
    pub fn triggered(&self) -> bool {
        self.index.is_some()
    }
}

/// `35` → `3.5%`.
pub fn percent(tenths: i64) -> String {
    let sign = if tenths < 0 { "-" } else { "" };
    let a = tenths.unsigned_abs();
    format!("{sign}{}.{}%", a / 10, a % 10)
}

/// Does the month trigger under `rule`, and why (or why not).
pub fn decide(ind: Indices, rule: &Rule) -> Decision {
    let cpi = ind.cpi_tenths >= rule.cpi_tenths;
    let food = ind.food_tenths >= rule.food_tenths;
    let shown = format!(
        "CPI 同比 {}（阈值 {}），食品 CPI 同比 {}（阈值 {}）",
        percent(ind.cpi_tenths),
        percent(rule.cpi_tenths),
        percent(ind.food_tenths),
        percent(rule.food_tenths)
    );
    let pick = match (cpi, food) {
        (false, false) => None,
        (true, false) => Some(Index::Cpi),
        (false, true) => Some(Index::Food),
        (true, true) if ind.food_tenths > ind.cpi_tenths => Some(Index::Food),
        (true, true) => Some(Index::Cpi),
    };
    match pick {
        None => Decision {
            index: None,
            rise_tenths: 0,
            reason: format!("未触发：{shown}，均未达到阈值"),
        },
        Some(i) => {
            let rise = match i {
                Index::Cpi => ind.cpi_tenths,
                Index::Food => ind.food_tenths,
            };
            let both = if cpi && food {
                "两项均达到阈值，按涨幅较高者"
            } else {
                "达到阈值"
            };
            Decision {
                index: Some(i),
                rise_tenths: rise,
                reason: format!(
                    "已触发：{shown}；{both}，按{}涨幅 {} 计发",
                    i.label(),
                    percent(rise)
                ),
            }
        }
    }
}

/// Per person per month: `standard × rise` (rise in tenths of a percent, so `/ 1000`),
/// rounded half up to the rule's unit, at least the rule's minimum, times `multiplier`
/// (1 normally, 2 when an emergency doubled it). Negative inputs give zero.
pub fn amount(standard: Fen, rise_tenths: i64, rule: &Rule, multiplier: i64) -> Fen {
    if standard.0 <= 0 || rise_tenths <= 0 || multiplier <= 0 {
        return Fen::ZERO;
    }
    // standard (fen) × rise / 1000, rounded half up to `unit` fen, in integers:
    // exact = standard × rise / 1000 fen; units = round(exact / unit).
    let unit = rule.rounding.unit();
    let num = i128::from(standard.0) * i128::from(rise_tenths);
    let den = 1000 * i128::from(unit);
    let units = (num * 2 + den) / (den * 2);
    let rounded = i64::try_from(units * i128::from(unit)).unwrap_or(i64::MAX);
    let base = rounded.max(rule.minimum.0);
    Fen(base.saturating_mul(multiplier))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Rule {
        Rule::default()
    }

    #[test]
    fn triggers_on_either_index_and_picks_the_higher() {
        let d = decide(
            Indices {
                cpi_tenths: 54,
                food_tenths: 201,
            },
            &rule(),
        );
        assert_eq!((d.index, d.rise_tenths), (Some(Index::Food), 201));
        assert!(
            d.reason.contains("已触发") && d.reason.contains("20.1%"),
            "{}",
            d.reason
        );
        let d = decide(
            Indices {
                cpi_tenths: 35,
                food_tenths: 10,
            },
            &rule(),
        );
        assert_eq!((d.index, d.rise_tenths), (Some(Index::Cpi), 35));
        let d = decide(
            Indices {
                cpi_tenths: 70,
                food_tenths: 60,
            },
            &rule(),
        );
        assert_eq!((d.index, d.rise_tenths), (Some(Index::Cpi), 70));
        let d = decide(
            Indices {
                cpi_tenths: 34,
                food_tenths: 59,
            },
            &rule(),
        );
        assert!(!d.triggered());
        assert_eq!(d.rise_tenths, 0);
        assert!(
            d.reason.starts_with("未触发") && d.reason.contains("3.4%"),
            "{}",
            d.reason
        );
        let d = decide(
            Indices {
                cpi_tenths: -5,
                food_tenths: -12,
            },
            &rule(),
        );
        assert!(!d.triggered() && d.reason.contains("-1.2%"), "{}", d.reason);
    }

    #[test]
    fn a_province_may_lower_thresholds_never_raise_them() {
        let lower = Rule {
            cpi_tenths: 30,
            food_tenths: 50,
            ..rule()
        };
        assert!(lower.validate().is_ok());
        assert!(
            decide(
                Indices {
                    cpi_tenths: 30,
                    food_tenths: 0
                },
                &lower
            )
            .triggered()
        );
        assert!(
            !decide(
                Indices {
                    cpi_tenths: 30,
                    food_tenths: 0
                },
                &rule()
            )
            .triggered()
        );
        assert!(
            Rule {
                cpi_tenths: 36,
                ..rule()
            }
            .validate()
            .is_err()
        );
        assert!(
            Rule {
                food_tenths: 61,
                ..rule()
            }
            .validate()
            .is_err()
        );
        assert!(
            Rule {
                cpi_tenths: 0,
                ..rule()
            }
            .validate()
            .is_err()
        );
        assert!(
            Rule {
                minimum: Fen(-1),
                ..rule()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn amounts_round_by_the_local_rule_with_a_minimum_and_multiplier() {
        // 600 yuan × 20.1 % = 120.60 yuan.
        let std = Fen::yuan(600);
        assert_eq!(amount(std, 201, &rule(), 1), Fen(12_060));
        // 555.55 yuan × 5.4 % = 29.9997 yuan: fen 30.00, jiao 30.00, yuan 30.
        let s = Fen(55_555);
        let fen = Rule {
            rounding: Rounding::Fen,
            ..rule()
        };
        assert_eq!(amount(s, 54, &fen, 1), Fen(3_000));
        // 512.34 × 3.5 % = 17.9319: fen 17.93, jiao 17.90, yuan 18.
        let s = Fen(51_234);
        assert_eq!(amount(s, 35, &fen, 1), Fen(1_793));
        assert_eq!(amount(s, 35, &rule(), 1), Fen(1_790));
        let yuan = Rule {
            rounding: Rounding::Yuan,
            ..rule()
        };
        assert_eq!(amount(s, 35, &yuan, 1), Fen(1_800));
        // Half up: 100.00 × 3.5 % = 3.50 → yuan 4.
        assert_eq!(amount(Fen::yuan(100), 35, &yuan, 1), Fen(400));
        // Minimum, then the emergency multiplier.
        let min = Rule {
            minimum: Fen::yuan(20),
            ..rule()
        };
        assert_eq!(amount(s, 35, &min, 1), Fen(2_000));
        assert_eq!(amount(s, 35, &min, 2), Fen(4_000));
        assert_eq!(amount(std, 201, &rule(), 2), Fen(24_120));
        // Nothing for nothing.
        assert_eq!(amount(std, 0, &min, 1), Fen::ZERO);
        assert_eq!(amount(Fen::ZERO, 50, &rule(), 1), Fen::ZERO);
    }

    #[test]
    fn percent_text() {
        assert_eq!(percent(35), "3.5%");
        assert_eq!(percent(201), "20.1%");
        assert_eq!(percent(-3), "-0.3%");
    }
}
