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

/// Why a ticket was not issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InviteRefused {
    /// A user cannot invite themselves.
    Yourself,
    /// The leader holds this many live tickets already, the most allowed.
    TooMany(usize),
}

/// The live tickets: at most one per (leader, invitee) pair, and at most
/// `max_per_leader` per leader, so no client can make the table grow
/// without bound.
#[derive(Debug)]
pub(crate) struct Tickets {
    ttl: Duration,
    max_per_leader: usize,
    /// Keyed by the ticket itself.
    live: HashMap<String, Ticket>,
    /// The tickets of each leader, keyed by the lower-case leader name.
    by_leader: HashMap<String, Vec<String>>,
}

impl Tickets {
    pub(crate) fn new(ttl: Duration, max_per_leader: usize) -> Tickets {
        Tickets {
            ttl,
            max_per_leader,
            live: HashMap::new(),
            by_leader: HashMap::new(),
        }
    }

    /// Issues a ticket for `leader` to invite `invitee`, made of `random`.
    /// It replaces a ticket the leader holds for the same invitee.
    pub(crate) fn issue(
        &mut self,
        leader: &str,
        invitee: &str,
        now: Instant,
        random: TicketBytes,
    ) -> Result<String, InviteRefused> {
        if leader.eq_ignore_ascii_case(invitee) {
            return Err(InviteRefused::Yourself);
        }
        self.make_room(leader, invitee, now)?;
        let ticket: String = random.iter().map(|b| format!("{b:02x}")).collect();
        self.live.insert(
            ticket.clone(),
            Ticket {
                leader: leader.to_string(),
                invitee: invitee.to_string(),
                expires: now + self.ttl,
            },
        );
        let key = leader.to_lowercase();
        self.by_leader.entry(key).or_default().push(ticket.clone());
        Ok(ticket)
    }

    /// Makes room for one more ticket of `leader`'s: its ticket for the
    /// same invitee goes (a new one replaces it), or, at the cap, its
    /// expired ones; a leader at the cap with none expired is refused.
    fn make_room(
        &mut self,
        leader: &str,
        invitee: &str,
        now: Instant,
    ) -> Result<(), InviteRefused> {
        let held = self
            .by_leader
            .get(&leader.to_lowercase())
            .cloned()
            .unwrap_or_default();
        let same_pair = held.iter().find(|t| {
            self.live
                .get(*t)
                .is_some_and(|t| t.invitee.eq_ignore_ascii_case(invitee))
        });
        if let Some(old) = same_pair.cloned() {
            self.remove(&old);
        } else if held.len() >= self.max_per_leader {
            // Only this leader's expired tickets are forgotten here, so a
            // leader at the cap costs the hub 64 checks, not a full sweep.
            let expired: Vec<String> = held
                .into_iter()
                .filter(|t| self.live.get(t).is_none_or(|t| t.expires <= now))
                .collect();
            if expired.is_empty() {
                return Err(InviteRefused::TooMany(self.max_per_leader));
            }
            for t in &expired {
                self.remove(t);
            }
        }
        Ok(())
    }

    /// Uses up `ticket` if it is live and was issued for `me` (ignoring
    /// case). A ticket shown by anyone else stays good for its invitee.
    pub(crate) fn check(&mut self, ticket: &str, me: &str, now: Instant) -> Option<Valid> {
        match self.live.get(ticket) {
            Some(t) if t.expires > now && t.invitee.eq_ignore_ascii_case(me) => {}
            _ => return None,
        }
        self.remove(ticket).map(|t| Valid {
            leader: t.leader,
            invitee: t.invitee,
        })
    }

    /// Forgets the tickets that have expired.
    pub(crate) fn sweep(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .live
            .iter()
            .filter(|(_, t)| t.expires <= now)
            .map(|(ticket, _)| ticket.clone())
            .collect();
        for t in &expired {
            self.remove(t);
        }
    }

    fn remove(&mut self, ticket: &str) -> Option<Ticket> {
        let removed = self.live.remove(ticket)?;
        let key = removed.leader.to_lowercase();
        if let Some(held) = self.by_leader.get_mut(&key) {
            held.retain(|t| t != ticket);
            if held.is_empty() {
                self.by_leader.remove(&key);
            }
        }
        Some(removed)
    }

    /// How many tickets are live (or expired and not yet swept), checking
    /// that the index by leader agrees.
    #[cfg(test)]
    fn len(&self) -> usize {
        let indexed: usize = self.by_leader.values().map(Vec::len).sum();
        assert_eq!(indexed, self.live.len(), "the index by leader is off");
        self.live.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);
    const MAX: usize = 2;

    /// One thing that happens to the table, at a second from the start.
    enum Step {
        /// Issue a ticket from the bytes `[n; 16]` for leader to invitee.
        Issue(u64, u8, &'static str, &'static str),
        /// An INVITE the table refuses.
        Refuse(u64, &'static str, &'static str, InviteRefused),
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
        let mut tickets = Tickets::new(TTL, MAX);
        for (n, step) in steps.iter().enumerate() {
            match *step {
                Issue(secs, bytes, leader, invitee) => {
                    let made = tickets.issue(leader, invitee, at(secs), [bytes; 16]);
                    assert_eq!(made, Ok(ticket(bytes)), "step {n}");
                }
                Refuse(secs, leader, invitee, why) => {
                    let made = tickets.issue(leader, invitee, at(secs), [0xee; 16]);
                    assert_eq!(made, Err(why), "step {n}");
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
            Sweep(1, 0),
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
            Issue(0, 2, "alice", "carol"),
            Check(59, 1, "bob", Some(("alice", "bob"))),
            Check(60, 2, "carol", None),
        ]);
    }

    #[test]
    fn unknown_tickets_are_refused() {
        check(&[Issue(0, 1, "alice", "bob"), Check(0, 2, "bob", None)]);
    }

    #[test]
    fn a_new_invite_replaces_the_pairs_old_ticket() {
        check(&[
            Issue(0, 1, "alice", "bob"),
            Issue(1, 2, "Alice", "BOB"),
            Sweep(1, 1),
            Check(1, 1, "bob", None),
            Check(1, 2, "bob", Some(("Alice", "BOB"))),
            // Bob may invite Alice all the same: another pair.
            Issue(2, 3, "alice", "bob"),
            Issue(2, 4, "bob", "alice"),
            Sweep(2, 2),
        ]);
    }

    #[test]
    fn a_leader_holds_at_most_the_cap() {
        check(&[
            Issue(0, 1, "alice", "bob"),
            Issue(0, 2, "alice", "carol"),
            Refuse(0, "ALICE", "dave", InviteRefused::TooMany(MAX)),
            // Renewing a pair at the cap is fine; another leader has its own.
            Issue(0, 3, "alice", "carol"),
            Issue(0, 4, "bob", "dave"),
            // A used ticket frees its place.
            Check(0, 1, "bob", Some(("alice", "bob"))),
            Issue(0, 5, "alice", "dave"),
            Refuse(0, "alice", "erin", InviteRefused::TooMany(MAX)),
            // So does an expired one, swept or not.
            Issue(60, 6, "alice", "erin"),
            Sweep(60, 1),
        ]);
    }

    #[test]
    fn nobody_invites_themselves() {
        check(&[
            Refuse(0, "alice", "alice", InviteRefused::Yourself),
            Refuse(0, "alice", "ALICE", InviteRefused::Yourself),
            Sweep(0, 0),
        ]);
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
