//! A few seconds' memory of resolved credentials (session or API token → user), so a burst of
//! requests from the same logged-in clients does not read `sessions` and `users` each time.
//!
//! Why: during the daily-report burst every `POST /api/v1/reports` first authenticated with two
//! reads, each a round trip to a database worker thread (on SQLite, a thread hand-off that costs
//! more than the read). What it owns: only credentials whose login is complete (`Stage::Full`);
//! sessions in the middle of a login step (TOTP, password change) are always read afresh.
//!
//! Correctness rules:
//! - every write to `users`, `sessions` or `api_tokens` in this process calls
//!   [`AuthCache::invalidate`] after its commit (logout, password change or reset, disable,
//!   role/scope change, TOTP, lockout counters, token revocation), so such a change applies to
//!   the very next request;
//! - a reader that started before an invalidation cannot put its (older) result back: entries
//!   carry the generation they were read under and [`AuthCache::put`] refuses a stale one;
//! - expiry and idle time are still checked on every request against the injected clock;
//! - a change made by another process (the CLI, a second server on the same PostgreSQL) is
//!   seen within [`AuthCache::TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::kernel::auth::UserAuth;

/// What a token resolved to.
#[derive(Debug, Clone)]
pub enum Credential {
    Session {
        id: i64,
        mfa_passed: bool,
        expires_at: i64,
        last_seen_at: i64,
    },
    ApiToken {
        id: i64,
        expires_at: Option<i64>,
        last_used_at: Option<i64>,
    },
}

#[derive(Debug, Clone)]
pub struct Cached {
    pub credential: Credential,
    pub user: UserAuth,
}

struct Entry {
    generation: u64,
    loaded: Instant,
    loaded_ms: i64,
    value: Cached,
}

/// Keyed by the token's hash (never the token).
#[derive(Default)]
pub struct AuthCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
    /// Failed-login counts per source address and overall (`kernel::auth::throttle`); kept
    /// here because this is the per-service memory of authentication.
    pub throttle: crate::kernel::auth::LoginThrottle,
}

impl AuthCache {
    /// How long an entry is used (wall time, and also on the injected clock).
    pub const TTL: Duration = Duration::from_secs(5);
    const MAX_ENTRIES: usize = 100_000;

    /// Read before looking a token up in the database; pass to [`AuthCache::put`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, token_hash: &str, now_ms: i64) -> Option<Cached> {
        let generation = self.generation();
        let map = self.entries.lock().ok()?;
        let e = map.get(token_hash)?;
        let ttl_ms = Self::TTL.as_millis() as i64;
        (e.generation == generation
            && e.loaded.elapsed() < Self::TTL
            && (now_ms - e.loaded_ms).abs() < ttl_ms)
            .then(|| e.value.clone())
    }

    /// Remember a credential read from the database under `generation`; ignored if anything
    /// was invalidated since.
    pub fn put(&self, token_hash: &str, generation: u64, now_ms: i64, value: Cached) {
        let Ok(mut map) = self.entries.lock() else {
            return;
        };
        // Checked under the lock `invalidate` also takes: no stale entry survives it.
        if generation != self.generation() {
            return;
        }
        if map.len() >= Self::MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            token_hash.to_string(),
            Entry {
                generation,
                loaded: Instant::now(),
                loaded_ms: now_ms,
                value,
            },
        );
    }

    /// Should this request record the credential's use now? True for the first request that
    /// finds the last recorded use older than `every_ms`; the entry is marked at once so
    /// concurrent requests with the same token do not all write it. Without an entry, `fallback`
    /// (the stored time) decides.
    pub fn claim_touch(&self, token_hash: &str, now_ms: i64, every_ms: i64, fallback: i64) -> bool {
        let Ok(mut map) = self.entries.lock() else {
            return now_ms - fallback > every_ms;
        };
        let Some(e) = map.get_mut(token_hash) else {
            return now_ms - fallback > every_ms;
        };
        let last = match &mut e.value.credential {
            Credential::Session { last_seen_at, .. } => last_seen_at,
            Credential::ApiToken { last_used_at, .. } => {
                if last_used_at.is_some_and(|l| now_ms - l <= every_ms) {
                    return false;
                }
                *last_used_at = Some(now_ms);
                return true;
            }
        };
        if now_ms - *last > every_ms {
            *last = now_ms;
            true
        } else {
            false
        }
    }

    /// Forget everything (after any change to users, sessions or API tokens).
    pub fn invalidate(&self) {
        if let Ok(mut map) = self.entries.lock() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            map.clear();
        } else {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached() -> Cached {
        Cached {
            credential: Credential::Session {
                id: 1,
                mfa_passed: false,
                expires_at: i64::MAX,
                last_seen_at: 0,
            },
            user: UserAuth {
                id: 7,
                username: "u".into(),
                display_name: String::new(),
                org_id: None,
                scope: "0".into(),
                roles: "official".into(),
                password_hash: String::new(),
                password_changed_at: 0,
                must_change_password: false,
                totp_secret: None,
                totp_enabled: false,
                totp_last_step: 0,
                disabled: false,
                failed_count: 0,
                first_failed_at: None,
                locked_until: None,
            },
        }
    }

    #[test]
    fn a_read_from_before_an_invalidation_is_not_kept() {
        let c = AuthCache::default();
        let g = c.generation();
        // The change commits and invalidates while the reader is still reading …
        c.invalidate();
        // … so what the reader saw must not be cached.
        c.put("h", g, 1_000, cached());
        assert!(c.get("h", 1_000).is_none());
        c.put("h", c.generation(), 1_000, cached());
        assert!(c.get("h", 1_000).is_some());
        c.invalidate();
        assert!(c.get("h", 1_000).is_none());
    }

    #[test]
    fn entries_expire_on_the_injected_clock_and_touches_are_claimed_once() {
        let c = AuthCache::default();
        c.put("h", c.generation(), 1_000, cached());
        assert!(c.get("h", 5_999).is_some());
        assert!(c.get("h", 6_000).is_none());
        // Last seen at 0: the first request after 15 s records the use, the next ones do not.
        assert!(c.claim_touch("h", 16_000, 15_000, 0));
        assert!(!c.claim_touch("h", 16_001, 15_000, 0));
        assert!(!c.claim_touch("missing", 1_000, 15_000, 0));
        assert!(c.claim_touch("missing", 16_000, 15_000, 0));
    }
}
