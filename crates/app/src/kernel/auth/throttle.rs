//! Login throttling beyond the per-account lockout: failed logins are counted per source
//! address and over the whole service in a sliding window, and while either count is full
//! every login attempt (right or wrong) is answered 429 `rate_limited` before any password is
//! checked. An account lockout stops guessing one account; this stops one address trying many
//! accounts (password spraying) and a distributed attack on all of them.
//!
//! The counts live in memory (one process; a restart forgets them) on the injected clock.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How many failures are allowed inside the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failed logins from one source address.
    pub per_source: usize,
    /// Failed logins over the whole service.
    pub global: usize,
    pub window_ms: i64,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            per_source: 30,
            global: 1_000,
            window_ms: 15 * 60_000,
        }
    }
}

#[derive(Default)]
struct Counts {
    limits: ThrottleLimits,
    per_source: HashMap<String, VecDeque<i64>>,
    global: VecDeque<i64>,
}

fn prune(q: &mut VecDeque<i64>, since: i64) {
    while q.front().is_some_and(|t| *t <= since) {
        q.pop_front();
    }
}

/// The failure counts (kept in [`crate::kernel::authcache::AuthCache`], one per service).
#[derive(Default)]
pub struct LoginThrottle {
    counts: Mutex<Counts>,
}

/// Why a login is refused before it is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    Source,
    Global,
}

impl LoginThrottle {
    /// Change the limits (a deployment's configuration, or a test).
    pub fn set_limits(&self, limits: ThrottleLimits) {
        if let Ok(mut c) = self.counts.lock() {
            c.limits = limits;
        }
    }

    /// Is a login from `source` refused now?
    pub fn check(&self, source: &str, now_ms: i64) -> Option<Throttled> {
        let mut c = self.counts.lock().ok()?;
        let since = now_ms - c.limits.window_ms;
        let limits = c.limits;
        prune(&mut c.global, since);
        if c.global.len() >= limits.global {
            return Some(Throttled::Global);
        }
        let q = c.per_source.get_mut(source)?;
        prune(q, since);
        (q.len() >= limits.per_source).then_some(Throttled::Source)
    }

    /// Count a failed login from `source`.
    pub fn failed(&self, source: &str, now_ms: i64) {
        let Ok(mut c) = self.counts.lock() else {
            return;
        };
        let since = now_ms - c.limits.window_ms;
        // Bound the memory an attack from many addresses can take.
        if c.per_source.len() > 100_000 {
            c.per_source
                .retain(|_, q| q.back().is_some_and(|t| *t > since));
        }
        c.global.push_back(now_ms);
        let cap = c.limits.global.max(1);
        while c.global.len() > cap {
            c.global.pop_front();
        }
        let per = c.limits.per_source.max(1);
        let q = c.per_source.entry(source.to_string()).or_default();
        q.push_back(now_ms);
        while q.len() > per {
            q.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_source_then_global_and_the_window_slides() {
        let t = LoginThrottle::default();
        t.set_limits(ThrottleLimits {
            per_source: 2,
            global: 3,
            window_ms: 1000,
        });
        assert_eq!(t.check("a", 0), None);
        t.failed("a", 0);
        assert_eq!(t.check("a", 1), None);
        t.failed("a", 1);
        assert_eq!(t.check("a", 2), Some(Throttled::Source));
        assert_eq!(t.check("b", 2), None);
        t.failed("b", 2);
        assert_eq!(t.check("c", 3), Some(Throttled::Global));
        assert_eq!(
            t.check("a", 1001),
            None,
            "the window slid past a's failures"
        );
    }
}
