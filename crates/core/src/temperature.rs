//! Body temperatures as recorded by screening, home observation and institutions' daily
//! health checks: whole tenths of a degree Celsius (`365` = 36.5 ℃), accepted from 34.0 to
//! 43.0 ℃. One rule, so a reading one area takes is never refused by another.

/// Lowest temperature accepted, tenths of a degree (34.0 ℃).
pub const MIN_TENTHS: i64 = 340;

/// Highest temperature accepted, tenths of a degree (43.0 ℃).
pub const MAX_TENTHS: i64 = 430;

/// Is a reading in tenths of a degree inside the accepted range?
pub fn plausible(tenths: i64) -> bool {
    (MIN_TENTHS..=MAX_TENTHS).contains(&tenths)
}

/// `365` → `36.5`.
pub fn label(tenths: i64) -> String {
    format!("{}.{}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_and_label() {
        assert!(!plausible(339) && !plausible(431));
        assert!(plausible(340) && plausible(430));
        assert_eq!(label(365), "36.5");
        assert_eq!(label(400), "40.0");
    }
}
