//! The limits on attempts: failed JOINs per name and per address (a
//! cool-down after too many in a window), and REGISTERs per address.
//!
//! A plain type: every method takes `now`, and nothing here reads a clock,
//! a socket or the database, so each rule is unit-tested in microseconds.
//! The hub owns the one `JoinThrottle` and asks it before a password is
//! checked.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use super::{RegistrationLimit, ThrottleConfig};
use crate::wire::AttemptLimit;

/// What a JOIN attempt is counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// The lower-case user name.
    Name(String),
    Addr(Site),
}

/// The two counters a JOIN attempt is throttled by.
fn keys(name: &str, ip: IpAddr) -> [Key; 2] {
    [Key::Name(name.to_lowercase()), Key::Addr(Site::of(ip))]
}

/// Where a client is, as far as limits per address go: an IPv4 address, or
/// the /64 prefix of an IPv6 one. One IPv6 host is usually given a whole
/// /64 and may pick any address in it, so counting full IPv6 addresses
/// would let it step around every limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Site {
    V4(Ipv4Addr),
    /// The first 64 bits of the address.
    V6Prefix(u64),
}

impl Site {
    pub(crate) fn of(ip: IpAddr) -> Site {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Site::V4(v4),
            IpAddr::V6(v6) => Site::V6Prefix((v6.to_bits() >> 64) as u64),
        }
    }
}

/// Recent failed JOINs for one name or one address.
#[derive(Debug, Default)]
struct Failures {
    recent: Vec<Instant>,
    blocked_until: Option<Instant>,
    /// A refusal during this cool-down was already reported, so the
    /// server logs one line per lockout, not one per refused attempt.
    reported: bool,
}

/// A JOIN the throttle refuses: seconds left of the cool-down, whose limit
/// it is, and whether it is the first refusal of this cool-down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) wait_secs: u64,
    pub(crate) limit: AttemptLimit,
    pub(crate) first: bool,
}

/// Failed JOINs, per name and per address.
#[derive(Debug)]
pub(crate) struct JoinThrottle {
    limits: ThrottleConfig,
    failures: HashMap<Key, Failures>,
}

impl JoinThrottle {
    pub(crate) fn new(limits: ThrottleConfig) -> JoinThrottle {
        JoinThrottle {
            limits,
            failures: HashMap::new(),
        }
    }

    /// Lets a JOIN for `name` from `ip` try its password, or says how many
    /// seconds are left of a cool-down and whose limit it is (the name's on
    /// a tie: that is the one to fix). An attempt let through counts as a
    /// failure at once: guesses sent at the same moment on many connections
    /// must not all pass while the first ones are still being hashed. (The
    /// caller holds a hashing slot, so few attempts are ever pending.)
    pub(crate) fn attempt(&mut self, name: &str, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let keys = keys(name, ip);
        // The keys are the name's, then the address's.
        let wait = keys
            .iter()
            .zip([AttemptLimit::Name, AttemptLimit::Address])
            .filter_map(|(key, limit)| Some((key, self.failures.get(key)?.blocked_until?, limit)))
            .filter(|(_, until, _)| *until > now)
            .map(|(key, until, limit)| (key, (until - now).as_secs_f64().ceil() as u64, limit))
            .min_by_key(|(_, secs, _)| std::cmp::Reverse(*secs));
        if let Some((key, wait_secs, limit)) = wait {
            let first = self
                .failures
                .get_mut(key)
                .is_some_and(|entry| !std::mem::replace(&mut entry.reported, true));
            return Err(Refusal {
                wait_secs,
                limit,
                first,
            });
        }
        let limits = self.limits;
        for key in keys {
            let entry = self.failures.entry(key).or_default();
            if entry.blocked_until.take().is_some() {
                // A cool-down that has passed wipes the slate clean.
                entry.recent.clear();
            }
            entry
                .recent
                .retain(|at| now.duration_since(*at) < limits.window);
            entry.recent.push(now);
            if entry.recent.len() >= limits.max_failures {
                entry.blocked_until = Some(now + limits.cooldown);
                entry.reported = false;
            }
        }
        Ok(())
    }

    /// The password of an attempt was right: the name starts afresh, and
    /// the address gets back the failure its attempt was counted as.
    pub(crate) fn succeeded(&mut self, name: &str, ip: IpAddr) {
        let [name_key, ip_key] = keys(name, ip);
        self.failures.remove(&name_key);
        if let Some(entry) = self.failures.get_mut(&ip_key) {
            entry.recent.pop();
            if entry.recent.len() < self.limits.max_failures {
                entry.blocked_until = None;
            }
        }
    }

    /// Forgets the counters that no longer limit anything.
    pub(crate) fn sweep(&mut self, now: Instant) {
        let window = self.limits.window;
        self.failures.retain(|_, f| {
            f.blocked_until.is_some_and(|until| until > now)
                || f.recent
                    .last()
                    .is_some_and(|at| now.duration_since(*at) < window)
        });
    }

    /// How many names and addresses are being counted.
    #[cfg(test)]
    fn counters(&self) -> usize {
        self.failures.len()
    }
}

/// How many addresses a `RegistrationThrottle` counts at once (at most
/// `max` instants each); a new one past this waits until some are swept.
/// A class, or a whole school, is far fewer.
const MAX_SITES: usize = 4096;

/// REGISTERs per address: at most `max` in any `window`, since each one
/// costs a hash and makes an account. (`NAME` checks are counted in one of
/// their own.)
#[derive(Debug)]
pub(crate) struct RegistrationThrottle {
    limit: RegistrationLimit,
    recent: HashMap<Site, VecDeque<Instant>>,
}

impl RegistrationThrottle {
    pub(crate) fn new(limit: RegistrationLimit) -> RegistrationThrottle {
        RegistrationThrottle {
            limit,
            recent: HashMap::new(),
        }
    }

    /// Lets a REGISTER from `ip` go ahead, and counts it, or says how many
    /// seconds are left until one may.
    pub(crate) fn attempt(&mut self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let window = self.limit.window;
        let site = Site::of(ip);
        // Addresses are counted one by one, but not without end: one host
        // with a large IPv6 prefix has many /64s to come from.
        if !self.recent.contains_key(&site) && self.recent.len() >= MAX_SITES {
            self.sweep(now);
            if self.recent.len() >= MAX_SITES {
                return Err(window.as_secs_f64().ceil() as u64);
            }
        }
        let recent = self.recent.entry(site).or_default();
        while recent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= window)
        {
            recent.pop_front();
        }
        if recent.len() >= self.limit.max {
            let wait = recent.front().map_or(window, |oldest| {
                (*oldest + window).saturating_duration_since(now)
            });
            return Err((wait.as_secs_f64().ceil() as u64).max(1));
        }
        recent.push_back(now);
        Ok(())
    }

    /// Forgets the addresses with no REGISTER in the window.
    pub(crate) fn sweep(&mut self, now: Instant) {
        let window = self.limit.window;
        self.recent.retain(|_, recent| {
            recent
                .back()
                .is_some_and(|at| now.duration_since(*at) < window)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Three failures in 10 s start a 30 s cool-down.
    const LIMITS: ThrottleConfig = ThrottleConfig {
        max_failures: 3,
        window: Duration::from_secs(10),
        cooldown: Duration::from_secs(30),
    };

    /// One thing that happens to the throttle, at a second from the start.
    enum Step {
        /// A JOIN for a name from an address, and what the throttle says.
        Try(u64, &'static str, &'static str, Result<(), u64>),
        /// That JOIN's password was right.
        Good(&'static str, &'static str),
        /// A sweep at a second, and how many counters are left after it.
        Sweep(u64, usize),
    }
    use Step::*;

    /// Seconds since the start of a test, as an `Instant`.
    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    #[track_caller]
    fn check(steps: &[Step]) {
        let start = Instant::now();
        let mut throttle = JoinThrottle::new(LIMITS);
        for (n, step) in steps.iter().enumerate() {
            match *step {
                Try(secs, name, ip, expected) => {
                    let got = throttle
                        .attempt(name, ip.parse().unwrap(), at(start, secs))
                        .map_err(|refusal| refusal.wait_secs);
                    assert_eq!(got, expected, "step {n}: {name} from {ip} at {secs} s");
                }
                Good(name, ip) => throttle.succeeded(name, ip.parse().unwrap()),
                Sweep(secs, left) => {
                    throttle.sweep(at(start, secs));
                    assert_eq!(throttle.counters(), left, "step {n}: sweep at {secs} s");
                }
            }
        }
    }

    #[test]
    fn failures_for_one_name_start_a_cool_down() {
        check(&[
            Try(0, "alice", "10.0.0.1", Ok(())),
            Try(1, "ALICE", "10.0.0.2", Ok(())),
            Try(2, "Alice", "10.0.0.3", Ok(())),
            // The third failure blocks the name for 30 s, from anywhere,
            // and says how long is left, rounded up.
            Try(3, "alice", "10.0.0.4", Err(29)),
            Try(31, "alice", "10.0.0.5", Err(1)),
            // Another name from a blocked-name address is let through.
            Try(31, "bob", "10.0.0.1", Ok(())),
        ]);
    }

    #[test]
    fn only_the_first_refusal_of_a_cool_down_is_reported() {
        let start = Instant::now();
        let mut throttle = JoinThrottle::new(LIMITS);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let mut first = |secs| {
            throttle
                .attempt("alice", ip, at(start, secs))
                .map_err(|refusal| refusal.first)
        };
        for _ in 0..3 {
            assert_eq!(first(0), Ok(()));
        }
        // Refused three times in the cool-down: reported once.
        assert_eq!(first(1), Err(true));
        assert_eq!(first(2), Err(false));
        assert_eq!(first(29), Err(false));
        // A new cool-down is reported anew.
        for _ in 0..3 {
            assert_eq!(first(30), Ok(()));
        }
        assert_eq!(first(31), Err(true));
        assert_eq!(first(32), Err(false));
    }

    #[test]
    fn failures_from_one_address_start_a_cool_down() {
        check(&[
            Try(0, "a", "10.0.0.1", Ok(())),
            Try(0, "b", "10.0.0.1", Ok(())),
            Try(0, "c", "10.0.0.1", Ok(())),
            Try(0, "d", "10.0.0.1", Err(30)),
            Try(0, "d", "10.0.0.2", Ok(())),
        ]);
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        check(&[
            Try(0, "alice", "10.0.0.1", Ok(())),
            Try(5, "alice", "10.0.0.2", Ok(())),
            // A failure exactly a window old no longer counts: at 10 s
            // the one at 0 s is gone, so this is the second.
            Try(10, "alice", "10.0.0.3", Ok(())),
            Try(11, "alice", "10.0.0.4", Ok(())),
            Try(11, "alice", "10.0.0.5", Err(30)),
        ]);
    }

    #[test]
    fn a_passed_cool_down_wipes_the_slate() {
        check(&[
            Try(0, "alice", "10.0.0.1", Ok(())),
            Try(0, "alice", "10.0.0.2", Ok(())),
            Try(0, "alice", "10.0.0.3", Ok(())),
            Try(30, "alice", "10.0.0.4", Ok(())),
            Try(30, "alice", "10.0.0.5", Ok(())),
            Try(30, "alice", "10.0.0.6", Ok(())),
            Try(30, "alice", "10.0.0.7", Err(30)),
        ]);
    }

    #[test]
    fn success_clears_the_name_and_returns_the_address_its_attempt() {
        check(&[
            Try(0, "alice", "10.0.0.1", Ok(())),
            Try(0, "alice", "10.0.0.1", Ok(())),
            Good("alice", "10.0.0.1"),
            // The name starts afresh; the address has one failure left.
            Try(0, "alice", "10.0.0.2", Ok(())),
            Try(0, "alice", "10.0.0.2", Ok(())),
            Try(0, "bob", "10.0.0.1", Ok(())),
            Try(0, "carol", "10.0.0.1", Ok(())),
            Try(0, "dave", "10.0.0.1", Err(30)),
        ]);
    }

    #[test]
    fn success_lifts_an_address_cool_down_its_own_attempt_started() {
        check(&[
            Try(0, "a", "10.0.0.1", Ok(())),
            Try(0, "b", "10.0.0.1", Ok(())),
            Try(0, "alice", "10.0.0.1", Ok(())),
            Good("alice", "10.0.0.1"),
            Try(0, "c", "10.0.0.1", Ok(())),
        ]);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_prefix() {
        check(&[
            Try(0, "a", "2001:db8:0:1::1", Ok(())),
            Try(0, "b", "2001:db8:0:1:ffff::2", Ok(())),
            Try(0, "c", "2001:db8:0:1:1:2:3:4", Ok(())),
            Try(0, "d", "2001:db8:0:1::9", Err(30)),
            // The next /64 is another site.
            Try(0, "d", "2001:db8:0:2::1", Ok(())),
        ]);
    }

    #[test]
    fn an_ipv4_mapped_client_is_its_ipv4_address() {
        check(&[
            Try(0, "a", "::ffff:10.0.0.1", Ok(())),
            Try(0, "b", "10.0.0.1", Ok(())),
            Try(0, "c", "::ffff:10.0.0.1", Ok(())),
            Try(0, "d", "10.0.0.1", Err(30)),
            Try(0, "d", "10.0.0.2", Ok(())),
        ]);
    }

    #[test]
    fn sites() {
        #[track_caller]
        fn check_site(ip: &str, site: Site) {
            assert_eq!(Site::of(ip.parse().unwrap()), site, "{ip}");
        }
        check_site("10.1.2.3", Site::V4(Ipv4Addr::new(10, 1, 2, 3)));
        check_site("::ffff:10.1.2.3", Site::V4(Ipv4Addr::new(10, 1, 2, 3)));
        check_site(
            "2001:db8:1:2:3:4:5:6",
            Site::V6Prefix(0x2001_0db8_0001_0002),
        );
        check_site("::1", Site::V6Prefix(0));
    }

    /// Three REGISTERs per 10 s from one address.
    const REGISTRATIONS: RegistrationLimit = RegistrationLimit {
        max: 3,
        window: Duration::from_secs(10),
    };

    #[track_caller]
    fn check_registrations(steps: &[(u64, &str, Result<(), u64>)]) {
        let start = Instant::now();
        let mut throttle = RegistrationThrottle::new(REGISTRATIONS);
        for (n, &(secs, ip, expected)) in steps.iter().enumerate() {
            let got = throttle.attempt(ip.parse().unwrap(), at(start, secs));
            assert_eq!(got, expected, "step {n}: REGISTER from {ip} at {secs} s");
        }
        throttle.sweep(at(start, 1000));
        assert!(throttle.recent.is_empty(), "a sweep forgets old addresses");
    }

    #[test]
    fn registrations_per_address_are_limited_in_a_sliding_window() {
        check_registrations(&[
            (0, "10.0.0.1", Ok(())),
            (1, "10.0.0.1", Ok(())),
            (2, "10.0.0.1", Ok(())),
            (3, "10.0.0.1", Err(7)),
            // Refusals do not count; others are not held back.
            (3, "10.0.0.2", Ok(())),
            (9, "10.0.0.1", Err(1)),
            // The one at 0 s leaves the window at 10 s.
            (10, "10.0.0.1", Ok(())),
            (10, "10.0.0.1", Err(1)),
            (11, "10.0.0.1", Ok(())),
            // An IPv6 client counts by its /64.
            (20, "2001:db8::1", Ok(())),
            (20, "2001:db8::2", Ok(())),
            (20, "2001:db8::3", Ok(())),
            (20, "2001:db8::4", Err(10)),
        ]);
    }

    #[test]
    fn registrations_count_a_bounded_number_of_addresses() {
        let start = Instant::now();
        let mut throttle = RegistrationThrottle::new(REGISTRATIONS);
        // Each /64 of a large IPv6 prefix is an address of its own.
        let site = |n: usize| format!("2001:db8:{:x}:{:x}::1", n >> 16, n & 0xffff);
        for n in 0..MAX_SITES {
            let ip = site(n).parse().unwrap();
            assert_eq!(throttle.attempt(ip, at(start, 0)), Ok(()));
        }
        let one_more: IpAddr = site(MAX_SITES).parse().unwrap();
        assert_eq!(throttle.attempt(one_more, at(start, 1)), Err(10));
        // Those already counted go on; once the window has passed, the
        // old ones are swept to make room.
        let first = site(0).parse().unwrap();
        assert_eq!(throttle.attempt(first, at(start, 1)), Ok(()));
        assert_eq!(throttle.recent.len(), MAX_SITES);
        assert_eq!(throttle.attempt(one_more, at(start, 10)), Ok(()));
        assert_eq!(throttle.recent.len(), 2);
    }

    #[test]
    fn sweep_forgets_what_no_longer_limits() {
        check(&[
            Try(0, "alice", "10.0.0.1", Ok(())),
            Sweep(9, 2),
            Sweep(10, 0),
            Try(10, "bob", "10.0.0.1", Ok(())),
            Try(10, "bob", "10.0.0.1", Ok(())),
            Try(10, "bob", "10.0.0.1", Ok(())),
            // Blocked until 40 s: kept through the window while blocked.
            Sweep(39, 2),
            Sweep(40, 0),
            Try(40, "bob", "10.0.0.1", Ok(())),
        ]);
    }
}
