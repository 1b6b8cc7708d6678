//! Body temperature: the range a reading may take and the fever threshold, one rule for every
//! place that measures people (door-to-door screening, home observation check-ins, an
//! institution's entrance log and resident rounds, the gates' entrance checks). Readings are
//! kept in whole tenths of a degree Celsius so that comparisons are exact (`365` = 36.5 ℃,
//! 37.3 ℃ is 373), accepted from 34.0 to 43.0 ℃, so a reading one area takes is never refused
//! by another.

/// Fever threshold, tenths of a degree: 37.3 ℃ and above is a fever.
pub const FEVER_TENTHS: i64 = 373;
/// Lowest reading accepted, tenths of a degree (34.0 ℃).
pub const MIN_TENTHS: i64 = 340;
/// Highest reading accepted, tenths of a degree (43.0 ℃).
pub const MAX_TENTHS: i64 = 430;

/// Is a reading in tenths of a degree inside the accepted range?
pub fn plausible(tenths: i64) -> bool {
    (MIN_TENTHS..=MAX_TENTHS).contains(&tenths)
}

/// Tenths of a degree from a reading in ℃ (rounded to one decimal), or `None` when it is
/// not a number or outside 34.0–43.0 ℃.
pub fn tenths(celsius: f64) -> Option<i64> {
    if !celsius.is_finite() || !(34.0..=43.0).contains(&celsius) {
        return None;
    }
    let t = (celsius * 10.0).round() as i64;
    plausible(t).then_some(t)
}

/// ℃ from tenths.
pub fn celsius(tenths: i64) -> f64 {
    tenths as f64 / 10.0
}

/// `365` → `36.5`.
pub fn label(tenths: i64) -> String {
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// The threshold as pages show it (`37.3`): pages say what the rule does, from the rule.
pub fn fever_label() -> String {
    label(FEVER_TENTHS)
}

/// Is a reading (tenths) a fever?
pub fn is_fever(tenths: i64) -> bool {
    tenths >= FEVER_TENTHS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_rounding_threshold_and_label() {
        assert_eq!(tenths(36.5), Some(365));
        assert_eq!(tenths(34.0), Some(MIN_TENTHS));
        assert_eq!(tenths(43.0), Some(MAX_TENTHS));
        assert_eq!(tenths(37.3), Some(FEVER_TENTHS));
        assert_eq!(tenths(33.9), None);
        assert_eq!(tenths(43.1), None);
        assert_eq!(tenths(f64::NAN), None);
        assert!(!plausible(339) && !plausible(431));
        assert!(plausible(340) && plausible(430));
        assert!(is_fever(373) && !is_fever(372));
        assert_eq!(celsius(378), 37.8);
        assert_eq!(label(365), "36.5");
        assert_eq!(label(400), "40.0");
        assert_eq!(fever_label(), "37.3");
    }
}
