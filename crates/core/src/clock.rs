//! Time sources and time formatting.
//!
//! This module owns the [`Clock`] abstraction so that lockouts, session expiry, password age
//! and "who has not reported today" can be tested by moving a [`ManualClock`] instead of
//! sleeping, plus the conversions used for storage (UTC milliseconds) and display (Beijing
//! time, UTC+8; China has no daylight saving time, so a fixed offset is exact).

use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

/// Seconds east of UTC for Asia/Shanghai.
pub const BEIJING_OFFSET_SECS: i32 = 8 * 3600;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests can move.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// Jump to `t`.
    pub fn set(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }

    /// Move forward (or back, for a negative `d`).
    pub fn advance(&self, d: chrono::Duration) {
        let mut g = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *g = g.checked_add_signed(d).unwrap_or(*g);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Milliseconds since the Unix epoch (the stored form of timestamps).
pub fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Inverse of [`to_millis`]; values outside chrono's range clamp to its limits.
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// Wall-clock Beijing time of `t`.
pub fn beijing_naive(t: DateTime<Utc>) -> NaiveDateTime {
    let n = t.naive_utc();
    n.checked_add_signed(TimeDelta::seconds(i64::from(BEIJING_OFFSET_SECS)))
        .unwrap_or(n)
}

/// The calendar date in Beijing at `t` (the "today" of daily reports and birth-date checks).
pub fn beijing_date(t: DateTime<Utc>) -> NaiveDate {
    beijing_naive(t).date()
}

/// Beijing time for display: `"2026-11-23 14:05"`.
pub fn format_beijing(t: DateTime<Utc>) -> String {
    beijing_naive(t).format("%Y-%m-%d %H:%M").to_string()
}

/// Beijing time with seconds: `"2026-11-23 14:05:09"`.
pub fn format_beijing_secs(t: DateTime<Utc>) -> String {
    beijing_naive(t).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A stored timestamp as RFC 3339 (UTC), the API's form of instants.
pub fn rfc3339(ms: i64) -> String {
    from_millis(ms).to_rfc3339()
}

/// Unix milliseconds at which the Beijing date `d` ends (the next Beijing midnight): a
/// deadline "by day d" has passed when the clock reaches this.
pub fn end_of_beijing_day_ms(d: NaiveDate) -> i64 {
    let next = d.succ_opt().unwrap_or(d);
    let midnight = next.and_time(chrono::NaiveTime::MIN);
    midnight
        .checked_sub_signed(TimeDelta::seconds(i64::from(BEIJING_OFFSET_SECS)))
        .unwrap_or(midnight)
        .and_utc()
        .timestamp_millis()
}

/// A date as people type it in forms and the API: `YYYY-MM-DD`, surrounding spaces ignored.
pub fn parse_ymd(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn manual_clock_moves() {
        let t0 = utc("2026-11-23T06:05:00Z");
        let c = ManualClock::new(t0);
        assert_eq!(c.now(), t0);
        c.advance(chrono::Duration::minutes(15));
        assert_eq!(c.now(), utc("2026-11-23T06:20:00Z"));
        c.advance(chrono::Duration::seconds(-60));
        assert_eq!(c.now(), utc("2026-11-23T06:19:00Z"));
        c.set(t0);
        assert_eq!(c.now(), t0);
        // Usable as a shared trait object.
        let shared: Arc<dyn Clock> = Arc::new(c);
        assert_eq!(shared.now(), t0);
    }

    #[test]
    fn system_clock_is_recent() {
        let now = SystemClock.now();
        assert!(now > utc("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn millis_roundtrip() {
        let t = utc("2026-11-23T06:05:09.123Z");
        let ms = to_millis(t);
        assert_eq!(ms % 1000, 123);
        assert_eq!(from_millis(ms), t);
        assert_eq!(from_millis(0), DateTime::<Utc>::UNIX_EPOCH);
        assert_eq!(from_millis(i64::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(from_millis(i64::MIN), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn beijing_display() {
        assert_eq!(
            format_beijing_secs(utc("2026-11-23T06:05:09Z")),
            "2026-11-23 14:05:09"
        );
        for (at, shown) in [
            ("2026-11-23T06:05:09Z", "2026-11-23 14:05"),
            // Crosses midnight: 17:30 UTC is 01:30 next day in Beijing.
            ("2026-12-31T17:30:00Z", "2027-01-01 01:30"),
            // No DST: summer and winter both +8.
            ("2026-07-01T00:00:00Z", "2026-07-01 08:00"),
            ("2026-01-01T00:00:00Z", "2026-01-01 08:00"),
        ] {
            assert_eq!(format_beijing(utc(at)), shown, "{at}");
        }
        for (at, (y, m, d)) in [
            ("2026-12-31T17:30:00Z", (2027, 1, 1)),
            ("2026-12-31T15:59:59Z", (2026, 12, 31)),
        ] {
            assert_eq!(
                beijing_date(utc(at)),
                NaiveDate::from_ymd_opt(y, m, d).unwrap(),
                "{at}"
            );
        }
    }
}
