//! Slows down password and token guessing. Failed sign-ins are counted per
//! account *from one address* and per address; past a few free failures, the
//! next attempt waits for a delay that doubles with each failure (the right
//! password included: a guesser learns nothing from a refused attempt), answered
//! 429 with `Retry-After`. The account is never locked as such: failures from
//! one address do not hold back the same admin signing in from another, so a
//! guesser cannot lock anyone out. The counts live in memory, bounded, and are
//! forgotten an hour after the last failure.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The account every API token attempt counts against, in the portal's
/// sign-in and in the API: guessing tokens from one address.
pub const TOKEN_ACCOUNT: &str = "api token";

/// Failures of one account from one address before attempts wait.
pub const FREE_ACCOUNT_FAILURES: u32 = 5;
/// Failures from one address (any account, or any API token) before attempts wait.
pub const FREE_ADDRESS_FAILURES: u32 = 20;
/// The first wait; it doubles with each further failure.
const FIRST_DELAY: Duration = Duration::from_secs(10);
/// The longest wait.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// A key whose last failure is this old is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// The most keys kept; past it, the oldest are forgotten first.
const MAX_KEYS: usize = 100_000;

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// One account (its lowercased name) from one address.
    Account(String, Option<IpAddr>),
    /// One address, whatever it tried.
    Address(Option<IpAddr>),
}

impl ThrottleKey {
    fn free_failures(&self) -> u32 {
        match self {
            ThrottleKey::Account(..) => FREE_ACCOUNT_FAILURES,
            ThrottleKey::Address(_) => FREE_ADDRESS_FAILURES,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    wait_until: Option<Instant>,
}

/// The failure counts of sign-ins and API tokens, shared by the portal and the API.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<ThrottleKey, Failures>>,
}

impl SignInThrottle {
    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<ThrottleKey, Failures>> {
        // A panic elsewhere while holding the lock leaves usable counts.
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long an attempt under `keys` must still wait, if it must.
    pub fn retry_after(&self, keys: &[ThrottleKey]) -> Option<Duration> {
        let now = Instant::now();
        let failures = self.failures();
        keys.iter()
            .filter_map(|k| failures.get(k)?.wait_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Counts a failed attempt under every key; past a key's free failures, the
    /// next attempt waits.
    pub fn failed(&self, keys: &[ThrottleKey]) {
        let now = Instant::now();
        let mut failures = self.failures();
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if failures.len() >= MAX_KEYS {
                // Still full of recent failures: forget the older half.
                let mut lasts: Vec<Instant> = failures.values().map(|f| f.last).collect();
                lasts.sort_unstable();
                let cutoff = lasts[lasts.len() / 2];
                failures.retain(|_, f| f.last > cutoff);
            }
        }
        for key in keys {
            let f = failures.entry(key.clone()).or_insert(Failures { count: 0, last: now, wait_until: None });
            if now.duration_since(f.last) >= FORGET_AFTER {
                *f = Failures { count: 0, last: now, wait_until: None };
            }
            f.count += 1;
            f.last = now;
            if f.count >= key.free_failures() {
                let doublings = (f.count - key.free_failures()).min(16);
                f.wait_until = Some(now + FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY));
            }
        }
    }

    /// A successful sign-in forgets the failures of that account from that address.
    pub fn succeeded(&self, key: &ThrottleKey) {
        self.failures().remove(key);
    }
}

/// `Retry-After` seconds for a wait, rounded up.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn waits_start_after_the_free_failures_and_double() {
        let t = SignInThrottle::default();
        let key = ThrottleKey::Account("ops".into(), ip("10.0.0.1"));
        for _ in 0..FREE_ACCOUNT_FAILURES - 1 {
            t.failed(std::slice::from_ref(&key));
            assert!(t.retry_after(std::slice::from_ref(&key)).is_none());
        }
        t.failed(std::slice::from_ref(&key));
        let first = t.retry_after(std::slice::from_ref(&key)).expect("a wait");
        assert!(first <= FIRST_DELAY && first > FIRST_DELAY / 2, "{first:?}");
        t.failed(std::slice::from_ref(&key));
        let second = t.retry_after(std::slice::from_ref(&key)).expect("a wait");
        assert!(second > FIRST_DELAY, "{second:?}");
    }

    #[test]
    fn one_address_does_not_hold_back_another_or_another_account() {
        let t = SignInThrottle::default();
        let guessed = ThrottleKey::Account("ops".into(), ip("10.0.0.1"));
        for _ in 0..FREE_ACCOUNT_FAILURES {
            t.failed(&[guessed.clone(), ThrottleKey::Address(ip("10.0.0.1"))]);
        }
        assert!(t.retry_after(&[guessed]).is_some());
        assert!(t.retry_after(&[ThrottleKey::Account("ops".into(), ip("10.0.0.2"))]).is_none());
        assert!(t
            .retry_after(&[ThrottleKey::Account("dev".into(), ip("10.0.0.1")), ThrottleKey::Address(ip("10.0.0.1"))])
            .is_none());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(10)), 10);
    }
}
