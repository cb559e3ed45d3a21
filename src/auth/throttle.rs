//! Slows down password guessing, without letting a guesser lock a user out from elsewhere.
//!
//! Every login attempt spends from two budgets *before* its password is checked (it reserves
//! its slot; a right password gives the slot back), so a burst of parallel guesses cannot slip
//! through while earlier ones are still being hashed: of 300 guesses sent at once for one name
//! from one address, [`FREE_ATTEMPTS`] are checked and the others get 429 at once.
//!
//! 1. **Per (name, client address)**, the fast budget: [`FREE_ATTEMPTS`] (5) attempts, then the
//!    pair waits [`FIRST_WAIT`] (60 s) between attempts, doubling after each further failure up to
//!    [`MAX_WAIT`] (1 h). One address therefore gets at most 10 guesses at a name in its first
//!    hour (5 at once, then after 1, 2, 4, 8 and 16 minutes) and about one an hour after that.
//! 2. **Per name**, whatever the address, the slow budget: a leaky bucket of [`NAME_BURST`] (30)
//!    attempts that drains one every [`NAME_DRAIN`] (2 minutes), i.e. 30 an hour, 720 a day.
//!    It is three times what one address can spend on a name in an hour, so a single address
//!    hammering a name is held back by its own pair budget and never empties the name's: the
//!    user's right password from their own phone still logs in. Guesses spread over many
//!    addresses are capped at 30 an hour per name; an attacker with that many addresses can
//!    make everyone (the user too) wait for the next drained slot, the price of the cap.
//!
//! Names are the login names as sent (already length-limited by the login handler), so known
//! and unknown names follow the same rules and a 429 tells nothing about whether a name exists.
//! IPv6 clients are counted per /64 network, the block one subscriber usually gets, so rotating
//! addresses inside it does not help. Both tables are [`moka`] caches bounded in entries
//! ([`CAPACITY`]) and forget entries idle for [`FORGET_AFTER`]; state is per process.

use moka::ops::compute::Op;
use moka::sync::Cache;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Attempts a (name, address) pair may make before it must wait.
pub const FREE_ATTEMPTS: u32 = 5;
/// The wait after the free attempts are spent; doubles with each further failure.
pub const FIRST_WAIT: Duration = Duration::from_secs(60);
/// The longest wait between two attempts of one (name, address) pair.
pub const MAX_WAIT: Duration = Duration::from_secs(60 * 60);
/// Attempts at one name, from all addresses together, that may come in a burst.
pub const NAME_BURST: u32 = 30;
/// The per-name bucket frees one attempt per this interval (30 an hour).
pub const NAME_DRAIN: Duration = Duration::from_secs(2 * 60);
/// Attempts (of a pair) or a full bucket (of a name) idle this long are forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// Entries each table keeps at most; beyond, the least used are evicted. About 100 bytes plus
/// the name each (names are at most 64 characters), so a few tens of MiB at worst.
pub const CAPACITY: u64 = 100_000;

/// Attempts of one (name, address) pair.
#[derive(Debug, Clone, Copy)]
struct Pair {
    /// Attempts reserved and not given back by a success.
    attempts: u32,
    /// When the last one was reserved.
    last: Instant,
}

impl Pair {
    /// When the next attempt may be checked.
    fn next_allowed(&self) -> Instant {
        match self.attempts.checked_sub(FREE_ATTEMPTS) {
            None => self.last,
            Some(extra) => {
                let wait = FIRST_WAIT
                    .checked_mul(1u32.checked_shl(extra).unwrap_or(u32::MAX))
                    .unwrap_or(MAX_WAIT)
                    .min(MAX_WAIT);
                self.last + wait
            }
        }
    }
}

/// The per-name leaky bucket: `level` attempts in it at `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn level_at(&self, now: Instant) -> f64 {
        let drained =
            now.saturating_duration_since(self.at).as_secs_f64() / NAME_DRAIN.as_secs_f64();
        (self.level - drained).max(0.0)
    }
}

/// Login attempts by (name, address) and by name; see the module documentation.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    pairs: Cache<(String, IpAddr), Pair>,
    names: Cache<String, Bucket>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            pairs: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(FORGET_AFTER)
                .build(),
            names: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(FORGET_AFTER)
                .build(),
        }
    }
}

/// The address an attempt is counted under: IPv6 by its /64 network.
fn address_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
        v4 => v4,
    }
}

impl LoginThrottle {
    /// Reserves an attempt of `name` from `addr` at `now`, or `Err(wait)` while it must wait.
    /// A reserved attempt counts as a failure unless [`LoginThrottle::succeeded`] follows.
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use std::time::{Duration, Instant};
    /// use wangge::auth::throttle::{LoginThrottle, FREE_ATTEMPTS, FIRST_WAIT};
    /// let throttle = LoginThrottle::default();
    /// let (guesser, phone): (IpAddr, IpAddr) = ("198.51.100.9".parse().unwrap(), "203.0.113.7".parse().unwrap());
    /// let t0 = Instant::now();
    /// for _ in 0..FREE_ATTEMPTS {
    ///     assert!(throttle.attempt("li", guesser, t0).is_ok());
    /// }
    /// let later = t0 + Duration::from_secs(10);
    /// assert_eq!(throttle.attempt("li", guesser, later), Err(FIRST_WAIT - Duration::from_secs(10)));
    /// assert!(throttle.attempt("li", phone, later).is_ok()); // li's own phone is not held up
    /// throttle.succeeded("li", phone);
    /// assert!(throttle.attempt("li", guesser, t0 + FIRST_WAIT).is_ok()); // one more try after the wait
    /// ```
    pub fn attempt(&self, name: &str, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = (name.to_string(), address_key(addr));
        let mut outcome = Ok(());
        self.pairs.entry(key.clone()).and_compute_with(|entry| {
            let mut pair = match entry.map(|e| e.into_value()) {
                Some(p) if now.saturating_duration_since(p.last) < FORGET_AFTER => p,
                _ => Pair {
                    attempts: 0,
                    last: now,
                },
            };
            // Parallel attempts take their `now` before they queue for this entry, so one may
            // arrive with an instant older than the last reservation; it waits as if it came
            // then, never longer than the pair's wait.
            let now = now.max(pair.last);
            let allowed = pair.next_allowed();
            if pair.attempts >= FREE_ATTEMPTS && now < allowed {
                outcome = Err(allowed - now);
                return Op::Nop;
            }
            pair.attempts += 1;
            pair.last = now;
            Op::Put(pair)
        });
        outcome?;
        let mut outcome = Ok(());
        self.names.entry(key.0.clone()).and_compute_with(|entry| {
            let level = entry.map_or(0.0, |e| e.into_value().level_at(now));
            if level + 1.0 > f64::from(NAME_BURST) {
                let over = level + 1.0 - f64::from(NAME_BURST);
                outcome = Err(NAME_DRAIN.mul_f64(over));
                return Op::Nop;
            }
            Op::Put(Bucket {
                level: level + 1.0,
                at: now,
            })
        });
        if outcome.is_err() {
            // Refused by the name's budget: the pair's reservation was not used.
            self.pairs.entry(key).and_compute_with(|entry| match entry {
                Some(e) => {
                    let mut pair = e.into_value();
                    pair.attempts = pair.attempts.saturating_sub(1);
                    Op::Put(pair)
                }
                None => Op::Nop,
            });
        }
        outcome
    }

    /// Gives back the attempt of a successful login: the pair starts afresh and the name's
    /// bucket gets its slot back.
    pub fn succeeded(&self, name: &str, addr: IpAddr) {
        self.pairs
            .invalidate(&(name.to_string(), address_key(addr)));
        self.names
            .entry(name.to_string())
            .and_compute_with(|entry| match entry {
                Some(e) => {
                    let mut bucket = e.into_value();
                    bucket.level = (bucket.level - 1.0).max(0.0);
                    Op::Put(bucket)
                }
                None => Op::Nop,
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const GUESSER: &str = "198.51.100.9";

    #[test]
    fn waits_double_after_the_free_attempts_up_to_the_cap() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_ATTEMPTS {
            assert!(throttle.attempt("li", ip(GUESSER), t0).is_ok());
        }
        // Reserved before any password is checked: the next one waits at once.
        assert_eq!(throttle.attempt("li", ip(GUESSER), t0), Err(FIRST_WAIT));
        let mut t = t0;
        let mut wait = FIRST_WAIT;
        let mut tries_in_first_hour = FREE_ATTEMPTS;
        for _ in 0..10 {
            t += wait;
            let just_before = t - Duration::from_secs(1);
            assert_eq!(
                throttle.attempt("li", ip(GUESSER), just_before),
                Err(Duration::from_secs(1))
            );
            assert!(throttle.attempt("li", ip(GUESSER), t).is_ok());
            if t - t0 < Duration::from_secs(3600) {
                tries_in_first_hour += 1;
            }
            wait = (wait * 2).min(MAX_WAIT);
        }
        assert_eq!(tries_in_first_hour, 10, "the numbers in the module docs");
        assert_eq!(throttle.attempt("li", ip(GUESSER), t), Err(MAX_WAIT));
    }

    #[test]
    fn an_attempt_that_queued_behind_a_later_one_waits_no_longer_than_the_first_wait() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        let later = t0 + Duration::from_millis(3);
        for _ in 0..FREE_ATTEMPTS {
            throttle.attempt("li", ip(GUESSER), later).unwrap();
        }
        assert_eq!(throttle.attempt("li", ip(GUESSER), t0), Err(FIRST_WAIT));
    }

    #[test]
    fn a_success_clears_the_pair_and_other_names_and_addresses_are_not_held_up() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_ATTEMPTS {
            throttle.attempt("li", ip(GUESSER), t0).unwrap();
        }
        assert!(throttle.attempt("li", ip(GUESSER), t0).is_err());
        assert!(throttle.attempt("zhang", ip(GUESSER), t0).is_ok());
        assert!(throttle.attempt("li", ip("203.0.113.7"), t0).is_ok());
        throttle.succeeded("li", ip(GUESSER));
        assert!(throttle.attempt("li", ip(GUESSER), t0).is_ok());
    }

    #[test]
    fn one_address_hammering_for_a_day_never_empties_the_names_budget() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        let mut t = t0;
        let mut refused_elsewhere = 0;
        while t < t0 + Duration::from_secs(24 * 3600) {
            // The guesser tries every 10 s; the owner's phone logs in every hour.
            let _ = throttle.attempt("li", ip(GUESSER), t);
            if (t - t0).as_secs().is_multiple_of(3600) {
                match throttle.attempt("li", ip("203.0.113.7"), t) {
                    Ok(()) => throttle.succeeded("li", ip("203.0.113.7")),
                    Err(_) => refused_elsewhere += 1,
                }
            }
            t += Duration::from_secs(10);
        }
        assert_eq!(refused_elsewhere, 0);
    }

    #[test]
    fn guesses_spread_over_many_addresses_are_capped_per_name() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        let accepted = (0..1000u32)
            .filter(|i| {
                let addr = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
                throttle.attempt("li", addr, t0).is_ok()
            })
            .count();
        assert_eq!(accepted, NAME_BURST as usize);
        // Another address now waits for the bucket to drain one slot, not for the pair.
        let fresh = ip("203.0.113.7");
        assert_eq!(throttle.attempt("li", fresh, t0), Err(NAME_DRAIN));
        // The refusal did not use up one of the fresh pair's free attempts.
        let attempts = || {
            throttle
                .pairs
                .get(&("li".to_string(), fresh))
                .unwrap()
                .attempts
        };
        assert_eq!(attempts(), 0);
        assert!(throttle.attempt("li", fresh, t0 + NAME_DRAIN).is_ok());
        assert_eq!(attempts(), 1);
    }

    #[test]
    fn ipv6_addresses_count_per_64_network_and_old_attempts_are_forgotten() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..FREE_ATTEMPTS {
            let addr = ip(&format!("2001:db8:1:2::{}", i + 1));
            throttle.attempt("li", addr, t0).unwrap();
        }
        assert!(
            throttle
                .attempt("li", ip("2001:db8:1:2::ffff"), t0)
                .is_err()
        );
        assert!(throttle.attempt("li", ip("2001:db8:1:3::1"), t0).is_ok());
        assert!(
            throttle
                .attempt("li", ip("2001:db8:1:2::1"), t0 + FORGET_AFTER)
                .is_ok()
        );
    }
}
