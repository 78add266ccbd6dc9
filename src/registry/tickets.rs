//! Invitation tickets: a single-use permission, for a while, for one
//! leader to invite one invitee.
//!
//! A plain type: every method takes `now`, and the randomness a ticket is
//! made of comes in as an argument, so the rules are unit-tested without a
//! clock or a random source. The hub owns the one `Tickets`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The random bytes a ticket is made of.
pub(crate) type TicketBytes = [u8; 16];

/// A single-use permission for `leader` to invite `invitee`.
#[derive(Debug)]
struct Ticket {
    leader: String,
    invitee: String,
    expires: Instant,
}

/// A ticket that checked out, with the names as they were registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Valid {
    pub(crate) leader: String,
    pub(crate) invitee: String,
}

/// The live tickets.
#[derive(Debug)]
pub(crate) struct Tickets {
    ttl: Duration,
    /// Keyed by the ticket itself.
    live: HashMap<String, Ticket>,
}

impl Tickets {
    pub(crate) fn new(ttl: Duration) -> Tickets {
        Tickets {
            ttl,
            live: HashMap::new(),
        }
    }

    /// Issues a ticket for `leader` to invite `invitee`, made of `random`.
    pub(crate) fn issue(
        &mut self,
        leader: &str,
        invitee: &str,
        now: Instant,
        random: TicketBytes,
    ) -> String {
        let ticket: String = random.iter().map(|b| format!("{b:02x}")).collect();
        self.live.insert(
            ticket.clone(),
            Ticket {
                leader: leader.to_string(),
                invitee: invitee.to_string(),
                expires: now + self.ttl,
            },
        );
        ticket
    }

    /// Uses up `ticket` if it is live and was issued for `me` (ignoring
    /// case). A ticket shown by anyone else stays good for its invitee.
    pub(crate) fn check(&mut self, ticket: &str, me: &str, now: Instant) -> Option<Valid> {
        match self.live.get(ticket) {
            Some(t) if t.expires > now && t.invitee.to_lowercase() == me.to_lowercase() => {}
            _ => return None,
        }
        self.live.remove(ticket).map(|t| Valid {
            leader: t.leader,
            invitee: t.invitee,
        })
    }

    /// Forgets the tickets that have expired.
    pub(crate) fn sweep(&mut self, now: Instant) {
        self.live.retain(|_, t| t.expires > now);
    }

    /// How many tickets are live (or expired and not yet swept).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.live.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    /// One thing that happens to the table, at a second from the start.
    enum Step {
        /// Issue a ticket from the bytes `[n; 16]` for leader to invitee.
        Issue(u64, u8, &'static str, &'static str),
        /// Show the ticket from `[n; 16]` as a user; what it checks out as.
        Check(u64, u8, &'static str, Option<(&'static str, &'static str)>),
        /// Sweep, and how many tickets are left.
        Sweep(u64, usize),
    }
    use Step::*;

    fn ticket(n: u8) -> String {
        format!("{n:02x}").repeat(16)
    }

    #[track_caller]
    fn check(steps: &[Step]) {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut tickets = Tickets::new(TTL);
        for (n, step) in steps.iter().enumerate() {
            match *step {
                Issue(secs, bytes, leader, invitee) => {
                    let made = tickets.issue(leader, invitee, at(secs), [bytes; 16]);
                    assert_eq!(made, ticket(bytes), "step {n}");
                }
                Check(secs, bytes, me, expected) => {
                    let got = tickets.check(&ticket(bytes), me, at(secs));
                    let expected = expected.map(|(leader, invitee)| Valid {
                        leader: leader.into(),
                        invitee: invitee.into(),
                    });
                    assert_eq!(
                        got, expected,
                        "step {n}: {me} shows ticket {bytes} at {secs} s"
                    );
                }
                Sweep(secs, left) => {
                    tickets.sweep(at(secs));
                    assert_eq!(tickets.len(), left, "step {n}: sweep at {secs} s");
                }
            }
        }
    }

    #[test]
    fn a_ticket_is_good_once_for_its_invitee() {
        check(&[
            Issue(0, 1, "Alice", "Bob"),
            Check(1, 1, "bob", Some(("Alice", "Bob"))),
            Check(1, 1, "bob", None),
        ]);
    }

    #[test]
    fn a_ticket_shown_by_someone_else_is_refused_and_stays_good() {
        check(&[
            Issue(0, 1, "alice", "bob"),
            Check(0, 1, "carol", None),
            Check(0, 1, "alice", None),
            Check(0, 1, "bob", Some(("alice", "bob"))),
        ]);
    }

    #[test]
    fn tickets_expire() {
        check(&[
            Issue(0, 1, "alice", "bob"),
            Issue(0, 2, "alice", "bob"),
            Check(59, 1, "bob", Some(("alice", "bob"))),
            Check(60, 2, "bob", None),
        ]);
    }

    #[test]
    fn unknown_tickets_are_refused() {
        check(&[Issue(0, 1, "alice", "bob"), Check(0, 2, "bob", None)]);
    }

    #[test]
    fn sweep_forgets_expired_tickets() {
        check(&[
            Issue(0, 1, "alice", "bob"),
            Issue(30, 2, "alice", "carol"),
            Sweep(59, 2),
            Sweep(60, 1),
            Sweep(90, 0),
        ]);
    }
}
