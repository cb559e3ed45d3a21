//! Slows down password guessing.
//!
//! After [`FAILURES_ALLOWED`] failed logins in a row for one name, further attempts for that name
//! are refused for [`LOCKOUT`] without checking the password, so a guesser gets a handful of
//! tries a minute and does not make the server compute an argon2 hash per try. A success clears
//! the count; failures older than [`FORGET_AFTER`] are forgotten. Counted per name (whatever the
//! address, so spreading the guesses over many addresses does not help) and per process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins in a row a name may have before it must wait.
pub const FAILURES_ALLOWED: u32 = 5;
/// How long a name that failed too often waits before the next attempt is checked.
pub const LOCKOUT: Duration = Duration::from_secs(60);
/// Failures this old no longer count.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Names remembered before the forgotten ones are swept out, so that guessing many made-up
/// names cannot grow the table without bound.
const SWEEP_ABOVE: usize = 10_000;

/// Failed logins by name.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    in_a_row: u32,
    last: Instant,
}

impl LoginThrottle {
    /// `Err(wait)` while `name` must wait before its next attempt.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wangge::auth::throttle::{LoginThrottle, FAILURES_ALLOWED, LOCKOUT};
    /// let throttle = LoginThrottle::default();
    /// let t0 = Instant::now();
    /// for _ in 0..FAILURES_ALLOWED {
    ///     assert!(throttle.check("li", t0).is_ok());
    ///     throttle.failed("li", t0);
    /// }
    /// assert_eq!(throttle.check("li", t0 + Duration::from_secs(10)), Err(LOCKOUT - Duration::from_secs(10)));
    /// assert!(throttle.check("zhang", t0).is_ok()); // other names are not held up
    /// assert!(throttle.check("li", t0 + LOCKOUT).is_ok()); // one more try after the wait
    /// ```
    pub fn check(&self, name: &str, now: Instant) -> Result<(), Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(name) {
            Some(f) if f.in_a_row >= FAILURES_ALLOWED => {
                let waited = now.saturating_duration_since(f.last);
                if waited < LOCKOUT {
                    Err(LOCKOUT - waited)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed login for `name`.
    pub fn failed(&self, name: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= SWEEP_ABOVE {
            failures.retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
        }
        let entry = failures.entry(name.to_string()).or_insert(Failures {
            in_a_row: 0,
            last: now,
        });
        if now.saturating_duration_since(entry.last) >= FORGET_AFTER {
            entry.in_a_row = 0;
        }
        entry.in_a_row += 1;
        entry.last = now;
    }

    /// Clears the count of `name` after a successful login.
    pub fn succeeded(&self, name: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail_times(throttle: &LoginThrottle, name: &str, n: u32, at: Instant) {
        for _ in 0..n {
            throttle.failed(name, at);
        }
    }

    #[test]
    fn a_failure_after_the_wait_locks_again_and_a_success_clears() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        fail_times(&throttle, "li", FAILURES_ALLOWED, t0);
        let after = t0 + LOCKOUT;
        assert!(throttle.check("li", after).is_ok());
        throttle.failed("li", after);
        assert_eq!(throttle.check("li", after), Err(LOCKOUT));
        throttle.succeeded("li");
        assert!(throttle.check("li", after).is_ok());
    }

    #[test]
    fn fewer_failures_than_allowed_never_wait_and_old_ones_are_forgotten() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        fail_times(&throttle, "li", FAILURES_ALLOWED - 1, t0);
        assert!(throttle.check("li", t0).is_ok());
        // Much later, one more failure starts a new count instead of completing the old one.
        let later = t0 + FORGET_AFTER;
        throttle.failed("li", later);
        assert!(throttle.check("li", later).is_ok());
    }

    #[test]
    fn made_up_names_are_swept_once_forgotten() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..SWEEP_ABOVE {
            throttle.failed(&format!("guess{i}"), t0);
        }
        throttle.failed("li", t0 + FORGET_AFTER);
        let remembered = throttle.failures.lock().unwrap().len();
        assert_eq!(remembered, 1);
    }
}
