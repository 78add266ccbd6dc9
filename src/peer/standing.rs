//! What a member keeps so that its lobby can outlive the leader: its
//! credential (the lobby's id; its key is its proof), the roster with every
//! member's key, the numbered messages it has (to lead, if it comes
//! to that), and its own messages no leader has numbered yet (to send again
//! to the next one). A plain type: it reads the leader's lines and answers
//! questions; the app thread does the I/O.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::lobby::{Inheritance, KEPT_FOR_RETURNS, Roster, Said};
use crate::wire::{MAX_TEXT, Rejoin, Succession, ToMember};

/// The most of its own lines a member keeps for a leader that has not
/// numbered them: a gap longer than this loses the oldest while connected,
/// and refuses new ones while reconnecting.
pub(super) const MAX_UNSENT: usize = 100;

/// The most seats a member keeps: a leader cannot grow its memory without
/// bound with `SEAT` lines.
pub(super) const MAX_SEATS: usize = 1024;

/// The most bytes of one message a member joins from `HISTORY` pieces:
/// a message is at most `MAX_TEXT` bytes, so pieces past that come from a
/// leader that is not replaying one, and are left out.
pub(super) const MAX_HEARD: usize = MAX_TEXT;

/// A member's side of its lobby's succession.
#[derive(Debug, Default)]
pub(super) struct Standing {
    /// The lobby id, once `CREDENTIAL` came.
    credential: Option<String>,
    pub(super) roster: Roster,
    /// The number of the last message this member has.
    pub(super) last_seq: u64,
    said: VecDeque<Said>,
    /// The message whose `SEQ` is expected next, its pieces joined.
    heard: Option<(DateTime<Utc>, String, String)>,
    /// This member's own messages that no leader has numbered yet.
    unsent: VecDeque<String>,
}

impl Standing {
    /// Follows one line from the leader, heard at `now`.
    pub(super) fn hear(&mut self, line: &ToMember, me: &str, now: DateTime<Utc>) {
        match line {
            // A fresh roster follows `MEMBERS`, on admission and on return.
            ToMember::Members(_) => self.roster.clear(),
            ToMember::Left { name, .. } | ToMember::Kicked { name, .. } => {
                self.roster.remove(name);
            }
            ToMember::Msg { from, text } => {
                self.heard = Some((now, from.clone(), text.clone()));
            }
            ToMember::History { at, from, text } => match &mut self.heard {
                Some((when, who, said)) if when == at && who == from => {
                    if said.len() + text.len() <= MAX_HEARD {
                        said.push_str(text);
                    }
                }
                _ => self.heard = Some((*at, from.clone(), text.clone())),
            },
            ToMember::Succession(Succession::Credential { lobby }) => {
                self.roster.lobby = lobby.clone();
                self.credential = Some(lobby.clone());
            }
            ToMember::Succession(Succession::Seat { name, .. })
                if self.roster.seats().len() >= MAX_SEATS && self.roster.seat(name).is_none() => {}
            ToMember::Succession(Succession::Seat {
                name,
                ip,
                port,
                key,
            }) => self.roster.add(crate::lobby::Seat {
                name: name.clone(),
                addr: (*ip, *port).into(),
                key: *key,
            }),
            ToMember::Succession(Succession::Seq(seq)) => self.numbered(*seq, me, now),
            _ => {}
        }
    }

    /// `SEQ <seq>`: numbers the message just heard, or else our own oldest
    /// unnumbered one.
    fn numbered(&mut self, seq: u64, me: &str, now: DateTime<Utc>) {
        let said = match self.heard.take() {
            Some((at, from, text)) => Some((at, from, text)),
            None => self
                .unsent
                .pop_front()
                .map(|text| (now, me.to_string(), text)),
        };
        if let Some((at, from, text)) = said {
            if self.said.len() >= KEPT_FOR_RETURNS {
                self.said.pop_front();
            }
            self.said.push_back(Said {
                seq,
                at,
                from,
                text,
            });
        }
        self.last_seq = self.last_seq.max(seq);
    }

    /// Our own line, sent or to be sent: kept until a leader numbers it.
    /// False if too many wait already and `reconnecting` says the line
    /// cannot go now; while connected the oldest is forgotten instead (a
    /// leader that numbers nothing is one without succession).
    pub(super) fn sent(&mut self, text: &str, reconnecting: bool) -> bool {
        if self.unsent.len() >= MAX_UNSENT {
            if reconnecting {
                return false;
            }
            self.unsent.pop_front();
        }
        self.unsent.push_back(text.to_string());
        true
    }

    /// Our lines no leader has numbered, oldest first: for the next one.
    pub(super) fn unsent(&self) -> Vec<String> {
        self.unsent.iter().cloned().collect()
    }

    /// True if the leader gave us what it takes to come back.
    pub(super) fn can_rejoin(&self) -> bool {
        self.credential.is_some() && !self.roster.seats().is_empty()
    }

    /// The lobby's id, once the leader gave it.
    pub(super) fn lobby(&self) -> Option<&str> {
        self.credential.as_deref()
    }

    /// The `REJOIN` line that brings `me` back, before its signature,
    /// which binds it to the exchange with the seat it goes to.
    pub(super) fn claim(&self, me: &str) -> Option<Rejoin> {
        Some(Rejoin {
            lobby: self.credential.clone()?,
            name: me.to_string(),
            seq: self.last_seq,
            sig: None,
        })
    }

    /// What `me` brings to the hub of a lobby it takes over from a leader
    /// that was `lost` (whose seat goes) or handed it on (whose seat stays).
    pub(super) fn inheritance(&self, me: &str, lost: Option<&str>) -> Option<Inheritance> {
        self.credential.as_ref()?;
        let mut roster = self.roster.clone();
        if let Some(old) = lost.filter(|old| !old.eq_ignore_ascii_case(me)) {
            roster.remove(old);
        }
        roster.lead(me);
        Some(Inheritance {
            roster,
            said: self.said.iter().cloned().collect(),
        })
    }

    /// The standing of a leader that handed its lobby on and becomes a
    /// member of it.
    pub(super) fn handed(handed: crate::lobby::Handed) -> Standing {
        let last_seq = handed.said.last().map_or(0, |s| s.seq);
        Standing {
            credential: Some(handed.roster.lobby.clone()),
            roster: handed.roster,
            last_seq,
            said: handed.said.into_iter().collect(),
            heard: None,
            unsent: VecDeque::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    /// A member's key, as a `SEAT` line carries it.
    fn key(n: u8) -> String {
        crate::crypto::PeerKey {
            identity: crate::crypto::IdentityKey::from_bytes([n; 32]),
            seal: crate::crypto::SealKey::from_bytes([n; 32]),
        }
        .to_string()
    }

    fn lines(standing: &mut Standing, text: &[&str]) {
        for line in text {
            standing.hear(&line.parse().unwrap(), "me", DateTime::UNIX_EPOCH);
        }
    }

    fn said(standing: &Standing) -> Vec<String> {
        let said = standing.said.iter();
        said.map(|s| format!("{} {} {}", s.seq, s.from, s.text))
            .collect()
    }

    #[track_caller]
    fn check(typed: &[&str], heard: &[&str], expected_said: &[&str], last: u64, unsent: &[&str]) {
        let mut standing = Standing::default();
        for text in typed {
            assert!(standing.sent(text, false));
        }
        lines(&mut standing, heard);
        assert_eq!(said(&standing), expected_said);
        assert_eq!(standing.last_seq, last);
        assert_eq!(standing.unsent(), unsent);
    }

    #[test]
    fn messages_are_numbered_as_the_leader_says() {
        check(&[], &["MSG bob hi", "SEQ 1"], &["1 bob hi"], 1, &[]);
        check(&["mine"], &["SEQ 4"], &["4 me mine"], 4, &[]);
        check(
            &["a", "b"],
            &["SEQ 1", "MSG bob hi", "SEQ 2"],
            &["1 me a", "2 bob hi"],
            2,
            &["b"],
        );
        // A leader without succession numbers nothing.
        check(&["a"], &["MSG bob hi", "MSG bob ho"], &[], 0, &["a"]);
        // Replayed pieces of one message make one message.
        check(
            &[],
            &[
                "HISTORY 2026-12-03T07:30:05Z bob he",
                "HISTORY 2026-12-03T07:30:05Z bob llo",
                "SEQ 9",
            ],
            &["9 bob hello"],
            9,
            &[],
        );
    }

    #[test]
    fn the_roster_and_credential_come_from_the_leader() {
        let mut standing = Standing::default();
        assert!(!standing.can_rejoin());
        lines(
            &mut standing,
            &[
                "MEMBERS alice bob me",
                &format!("CREDENTIAL {ID}"),
                &format!("SEAT alice 127.0.0.1 4000 {}", key(1)),
                &format!("SEAT bob 127.0.0.1 4001 {}", key(2)),
                &format!("SEAT me 127.0.0.1 4002 {}", key(3)),
                "MSG bob x",
                "SEQ 3",
            ],
        );
        assert!(standing.can_rejoin());
        assert_eq!(
            standing.claim("me").unwrap().to_string(),
            format!("REJOIN {ID} me 3")
        );
        // Every seat keeps its member's key: what a walk checks it by.
        let bob = standing.roster.seat("bob").unwrap();
        assert_eq!(bob.key.to_string(), key(2));
        lines(&mut standing, &["LEFT bob"]);
        let names: Vec<&str> = standing
            .roster
            .seats()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["alice", "me"]);
        let inherited = standing.inheritance("me", Some("alice")).unwrap();
        assert_eq!(inherited.roster.seats().len(), 1);
        assert_eq!(inherited.roster.seats()[0].name, "me");
        assert_eq!(inherited.said.len(), 1);
    }

    #[test]
    fn a_leader_cannot_grow_the_roster_without_bound() {
        let mut standing = Standing::default();
        let v = key(1);
        for i in 0..MAX_SEATS + 10 {
            lines(&mut standing, &[&format!("SEAT m{i} 127.0.0.1 4000 {v}")]);
        }
        assert_eq!(standing.roster.seats().len(), MAX_SEATS);
        // A seat it has already may still move (a member who came back).
        lines(&mut standing, &[&format!("SEAT m0 127.0.0.1 4000 {v}")]);
        assert_eq!(standing.roster.seats().last().unwrap().name, "m0");
    }

    #[test]
    fn pieces_of_one_message_are_joined_up_to_the_longest_message() {
        let piece = "x".repeat(100);
        let line = format!("HISTORY 2026-01-01T00:00:00Z mallory {piece}");
        let mut standing = Standing::default();
        for _ in 0..10_000 {
            lines(&mut standing, &[&line]);
        }
        lines(&mut standing, &["SEQ 1"]);
        let longest = MAX_HEARD / piece.len() * piece.len();
        assert_eq!(standing.said[0].text.len(), longest);
        // A message as long as a message may be is still joined whole.
        let mut standing = Standing::default();
        let half = "y".repeat(MAX_HEARD / 2);
        let rest = "z".repeat(MAX_HEARD - half.len());
        lines(
            &mut standing,
            &[
                &format!("HISTORY 2026-01-01T00:00:00Z bob {half}"),
                &format!("HISTORY 2026-01-01T00:00:00Z bob {rest}"),
                "SEQ 2",
            ],
        );
        assert_eq!(standing.said[0].text, format!("{half}{rest}"));
    }

    #[test]
    fn lines_typed_in_a_gap_are_bounded() {
        let mut standing = Standing::default();
        for i in 0..MAX_UNSENT {
            assert!(standing.sent(&i.to_string(), true));
        }
        assert!(!standing.sent("one too many", true));
        assert!(standing.sent("connected", false));
        assert_eq!(standing.unsent().len(), MAX_UNSENT);
        assert_eq!(standing.unsent()[0], "1");
    }
}
