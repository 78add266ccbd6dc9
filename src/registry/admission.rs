//! Which new connections the acceptor takes: at most so many in all, and at
//! most so many from one address (an IPv6 client counts by its /64).
//!
//! A plain type with no I/O, owned by the acceptor thread: a connection
//! thread that ends sends its site back on a channel, and the acceptor
//! releases it before the next decision.

use std::collections::HashMap;

use super::throttle::Site;

/// Why a connection was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// The server holds this many connections, its most.
    Server(usize),
    /// This many come from the same address, the most one may hold.
    Site(usize),
}

/// The connections being served, in all and per site.
#[derive(Debug)]
pub(crate) struct Admission {
    max_total: usize,
    max_per_site: usize,
    total: usize,
    per_site: HashMap<Site, usize>,
}

impl Admission {
    pub(crate) fn new(max_total: usize, max_per_site: usize) -> Admission {
        Admission {
            max_total,
            max_per_site,
            total: 0,
            per_site: HashMap::new(),
        }
    }

    /// Counts a new connection from `site`, or says why it is refused.
    pub(crate) fn admit(&mut self, site: Site) -> Result<(), Full> {
        if self.total >= self.max_total {
            return Err(Full::Server(self.max_total));
        }
        let held = self.per_site.entry(site).or_default();
        if *held >= self.max_per_site {
            return Err(Full::Site(self.max_per_site));
        }
        *held += 1;
        self.total += 1;
        Ok(())
    }

    /// A connection from `site` has ended.
    pub(crate) fn release(&mut self, site: Site) {
        if let Some(held) = self.per_site.get_mut(&site) {
            *held -= 1;
            self.total -= 1;
            if *held == 0 {
                self.per_site.remove(&site);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Step {
        Admit(&'static str, Result<(), Full>),
        Release(&'static str),
    }
    use Step::*;

    #[track_caller]
    fn check(max_total: usize, max_per_site: usize, steps: &[Step]) {
        let mut admission = Admission::new(max_total, max_per_site);
        for (n, step) in steps.iter().enumerate() {
            match *step {
                Admit(ip, expected) => assert_eq!(
                    admission.admit(Site::of(ip.parse().unwrap())),
                    expected,
                    "step {n}: {ip}"
                ),
                Release(ip) => admission.release(Site::of(ip.parse().unwrap())),
            }
        }
    }

    #[test]
    fn one_address_holds_at_most_its_share() {
        check(
            10,
            2,
            &[
                Admit("10.0.0.1", Ok(())),
                Admit("10.0.0.1", Ok(())),
                Admit("10.0.0.1", Err(Full::Site(2))),
                Admit("10.0.0.2", Ok(())),
                Release("10.0.0.1"),
                Admit("10.0.0.1", Ok(())),
                Admit("::ffff:10.0.0.1", Err(Full::Site(2))),
            ],
        );
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_prefix() {
        check(
            10,
            2,
            &[
                Admit("2001:db8::1", Ok(())),
                Admit("2001:db8::2", Ok(())),
                Admit("2001:db8::3", Err(Full::Site(2))),
                Admit("2001:db8:0:1::1", Ok(())),
            ],
        );
    }

    #[test]
    fn the_server_holds_at_most_its_total() {
        check(
            2,
            2,
            &[
                Admit("10.0.0.1", Ok(())),
                Admit("10.0.0.2", Ok(())),
                Admit("10.0.0.3", Err(Full::Server(2))),
                Release("10.0.0.2"),
                Admit("10.0.0.3", Ok(())),
                // A release of a site that holds nothing changes nothing.
                Release("10.0.0.9"),
                Admit("10.0.0.4", Err(Full::Server(2))),
            ],
        );
    }
}
