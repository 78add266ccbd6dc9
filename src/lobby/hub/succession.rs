//! The hub's side of a lobby that outlives its leader: the credential and
//! roster a member gets at admission, the numbers of the messages, members
//! who come back with `REJOIN`, and a handover. The rules are the plain
//! `Roster` (`lobby/roster.rs`) and `History`; this applies them to the
//! hub's state and queues the lines they call for. It never blocks on a
//! socket.
//!
//! All of it is off unless `LobbyConfig::succession` is set, so a lobby
//! started without it (the bench, library tests) sends exactly what it sent
//! before.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::Instant;

use chrono::Utc;

use crate::conn::MemberConn;
use crate::wire::{Rejoin, Succession, ToMember};

use super::super::member::{Exit, MemberId, encode, send_nonblocking};
use super::super::roster::{self, Roster, Seat};
use super::super::{Handed, Inheritance};
use super::Hub;

impl Hub {
    /// Sets up the roster: a fresh lobby id and the leader's seat, or the
    /// one a successor inherits. Fails only if the system has no randomness.
    pub(in crate::lobby) fn succeed(&mut self, inheritance: Option<Inheritance>) -> io::Result<()> {
        let Some(addr) = self.config.succession else {
            return Ok(());
        };
        if let Some(inheritance) = inheritance {
            self.roster = inheritance.roster;
            self.secret = inheritance.secret;
            self.history.inherit(inheritance.said);
            return Ok(());
        }
        let random = |_| io::Error::other("the system has no randomness to offer");
        self.roster = Roster::new(roster::secret().map_err(random)?);
        self.secret = roster::secret().map_err(random)?;
        self.roster.add(Seat {
            name: self.config.leader.clone(),
            addr,
            verifier: roster::verifier(&self.secret),
        });
        Ok(())
    }

    /// A message said in the lobby: numbered, kept, relayed to everyone but
    /// its sender, and, in a lobby with succession, followed by `SEQ` for
    /// everyone, the sender included (its only sign of the number).
    pub(super) fn relay(&mut self, sender: Option<MemberId>, from: String, text: String) {
        let seq = self.history.record(Utc::now(), &from, &text);
        self.broadcast(&ToMember::Msg { from, text }, sender);
        if self.config.succession.is_some() {
            self.broadcast(&ToMember::Succession(Succession::Seq(seq)), None);
        }
    }

    /// What a member admitted to a lobby with succession gets after
    /// `MEMBERS`: a newcomer its credential, the roster and the last
    /// messages; a member who came back the roster and what it missed.
    /// Everyone else hears `JOINED` and the new seat.
    pub(super) fn welcome(
        &mut self,
        id: MemberId,
        name: &str,
        chat_addr: Option<SocketAddr>,
        back: Option<Comeback>,
    ) {
        // A member whose old connection the hub still held never left, as
        // far as the others know: they hear only its new seat.
        let announce = !back.as_ref().is_some_and(|b| b.replaced);
        let (seat, after) = match back {
            Some(back) => (Some(back.seat), Some(back.after)),
            None => (self.credential(id, name, chat_addr), None),
        };
        if let Some(seat) = &seat {
            self.roster.add(seat.clone());
        }
        for line in self.roster.seats.clone().into_iter().map(seat_line) {
            self.send_to(id, &line);
        }
        // Half the backlog limit: the rest is room for the live lines that
        // follow while the member reads what it missed.
        let budget = self.config.max_queued_bytes / 2;
        for line in self.history.replay_numbered(after, budget) {
            self.send_to(id, &line);
        }
        if announce {
            self.broadcast(&ToMember::Joined(name.to_string()), Some(id));
        }
        if let Some(seat) = seat {
            self.broadcast(&seat_line(seat), Some(id));
        }
    }

    /// A newcomer's secret, sent to it alone, and its seat. A member whose
    /// chat address the leader does not know (admitted by `Lobby::admit`)
    /// cannot be reached to lead, and gets none.
    fn credential(
        &mut self,
        id: MemberId,
        name: &str,
        chat_addr: Option<SocketAddr>,
    ) -> Option<Seat> {
        let addr = chat_addr?;
        let secret = roster::secret().ok()?;
        let line = Succession::Credential {
            lobby: self.roster.lobby.clone(),
            secret: secret.clone(),
        };
        self.send_to(id, &ToMember::Succession(line));
        Some(Seat {
            name: name.to_string(),
            addr,
            verifier: roster::verifier(&secret),
        })
    }

    /// A member comes back: admitted if its credential holds for a seat in
    /// the roster or one left by a broken connection not long ago; its old
    /// connection, if the hub still holds it, is closed without a word.
    pub(super) fn rejoin(&mut self, claim: Rejoin, mut conn: MemberConn) {
        let away = Roster {
            lobby: self.roster.lobby.clone(),
            seats: self.away.iter().map(|(_, seat)| seat.clone()).collect(),
        };
        let seat = match self.roster.check(&claim).or_else(|_| away.check(&claim)) {
            Ok(seat) if !seat.name.eq_ignore_ascii_case(&self.config.leader) => seat.clone(),
            Ok(_) | Err(_) => {
                let refused = ToMember::Err(
                    crate::wire::ErrorCode::BadCredentials,
                    "not a member of this lobby".to_string(),
                );
                conn.set_peer(&claim.name);
                conn.set_trace(self.config.trace);
                let mut bytes = Vec::new();
                conn.writer().queue(&encode(&refused), &mut bytes);
                let _ = send_nonblocking(conn.get_ref(), &bytes);
                let _ = conn.get_ref().shutdown(Shutdown::Both);
                return;
            }
        };
        self.away
            .retain(|(_, s)| !s.name.eq_ignore_ascii_case(&seat.name));
        let old = self.id_of(&seat.name);
        if let Some(old) = old {
            self.doomed.push((old, Exit::Replaced));
            if let Some(member) = self.members.get_mut(&old) {
                member.doomed = true;
            }
            self.reap();
        }
        let addr = seat.addr;
        self.admit_as(
            seat.name.clone(),
            Some(addr),
            conn,
            Some(Comeback {
                seat,
                after: claim.seq,
                replaced: old.is_some(),
            }),
        );
    }

    /// A member is gone: its seat leaves the roster, and if its connection
    /// broke (rather than it leaving or being removed) the seat is kept
    /// aside for a while, so that it can come back.
    pub(super) fn unseat(&mut self, name: &str, exit: &Exit) {
        let Some(seat) = self.roster.remove(name) else {
            return;
        };
        if matches!(exit, Exit::Lost | Exit::Dropped | Exit::Silent) {
            self.away.retain(|(_, s)| s.name != seat.name);
            self.away.push((Instant::now(), seat));
        }
    }

    /// Forgets the seats of members away for longer than they may be.
    pub(super) fn forget_away(&mut self, now: Instant) {
        let keep = self.config.silence_timeout;
        self.away
            .retain(|(since, _)| now.duration_since(*since) < keep);
    }

    /// Hands the lobby to `to`, or to the member admitted earliest.
    pub(super) fn handover(&mut self, to: Option<&str>) -> Result<Handed, String> {
        if self.config.succession.is_none() {
            return Err("this lobby cannot be handed on".to_string());
        }
        let seat = match to {
            Some(name) => self.roster.seat(name).cloned(),
            None => self.roster.successor().cloned(),
        };
        let Some(seat) = seat.filter(|s| !s.name.eq_ignore_ascii_case(&self.config.leader)) else {
            return Err(match to {
                Some(name) => format!("{name} is not a member who can lead this lobby"),
                None => "nobody in this lobby can lead it".to_string(),
            });
        };
        let line = ToMember::Succession(Succession::Handover(seat.name.clone()));
        self.broadcast(&line, None);
        self.handed_over = true;
        let mut roster = self.roster.clone();
        roster.lead(&seat.name);
        Ok(Handed {
            to: seat,
            roster,
            secret: self.secret.clone(),
            said: self.history.said(),
        })
    }
}

/// A member who came back: its seat, the last message it has, and whether
/// it replaced a connection the hub still held.
pub(super) struct Comeback {
    pub(super) seat: Seat,
    pub(super) after: u64,
    pub(super) replaced: bool,
}

fn seat_line(seat: Seat) -> ToMember {
    ToMember::Succession(Succession::Seat {
        name: seat.name,
        ip: seat.addr.ip(),
        port: seat.addr.port(),
        verifier: seat.verifier,
    })
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::super::{Event, Inboxes};
    use super::*;
    use crate::conn::MemberConn;
    use crate::lobby::LobbyConfig;
    use crate::trace::Trace;
    use crate::wire::CloseReason;

    struct Client(BufReader<TcpStream>);

    impl Client {
        fn next(&mut self) -> String {
            let mut line = String::new();
            self.0.read_line(&mut line).unwrap();
            line.trim_end().to_string()
        }

        /// The next `n` lines, each cut to its first `words` words, and the
        /// lines whole.
        fn lines(&mut self, n: usize, words: usize) -> (Vec<String>, Vec<String>) {
            let whole: Vec<String> = (0..n).map(|_| self.next()).collect();
            let cut = |l: &String| l.split(' ').take(words).collect::<Vec<_>>().join(" ");
            (whole.iter().map(cut).collect(), whole)
        }
    }

    /// A connection to the hub: its reader and writer for the hub, and
    /// the other end for the test.
    fn connect(listener: &TcpListener) -> (MemberConn, Client) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let (server, _) = listener.accept().unwrap();
        let conn = MemberConn::new(server, "member", Trace::off()).unwrap();
        (conn, Client(BufReader::new(client)))
    }

    fn addr(port: u16) -> Option<SocketAddr> {
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    #[test]
    fn members_get_credentials_strangers_are_refused_and_a_member_comes_back_once() {
        let (events, readers) = crossbeam_channel::bounded(64);
        let (_control_tx, control) = crossbeam_channel::unbounded();
        let inbox = Inboxes { control, readers };
        let (notices, _ui) = crossbeam_channel::unbounded();
        let mut config = LobbyConfig::new("leader");
        config.succession = addr(7000);
        let mut hub = Hub::new(config, notices, events);
        hub.succeed(None).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();

        let (conn, mut bob) = connect(&listener);
        hub.admit("bob".into(), addr(7001), conn);
        let (conn, mut carol) = connect(&listener);
        hub.admit("carol".into(), addr(7002), conn);
        hub.handle(Event::Say("one".into()));
        hub.handle(Event::Say("two".into()));
        hub.flush(&inbox);
        let (lines, whole) = bob.lines(10, 2);
        assert_eq!(
            lines
                .iter()
                .map(|l| l.split(' ').next().unwrap())
                .collect::<Vec<_>>(),
            [
                "MEMBERS",
                "CREDENTIAL",
                "SEAT",
                "SEAT",
                "JOINED",
                "SEAT",
                "MSG",
                "SEQ",
                "MSG",
                "SEQ",
            ]
        );
        assert_eq!(
            lines,
            [
                "MEMBERS leader",
                &lines[1],
                "SEAT leader",
                "SEAT bob",
                "JOINED carol",
                "SEAT carol",
                "MSG leader",
                "SEQ 1",
                "MSG leader",
                "SEQ 2",
            ]
        );
        let secret = whole[1].split(' ').nth(2).unwrap().to_string();

        // A stranger with a made-up secret.
        let lobby = hub.roster.lobby.clone();
        let (conn, mut stranger) = connect(&listener);
        let claim = |name: &str, secret: &str, seq| Rejoin {
            lobby: lobby.clone(),
            name: name.into(),
            secret: secret.into(),
            seq,
        };
        hub.handle(Event::Rejoin {
            claim: claim("bob", &"0".repeat(32), 0),
            conn,
        });
        assert_eq!(
            stranger.next(),
            "ERR BAD_CREDENTIALS not a member of this lobby"
        );
        assert_eq!(stranger.next(), "", "and the connection closes");

        // Bob comes back on a new connection, having only message 1.
        let (conn, mut bob_again) = connect(&listener);
        hub.handle(Event::Rejoin {
            claim: claim("bob", &secret, 1),
            conn,
        });
        hub.flush(&inbox);
        let (_, again) = bob_again.lines(6, 0);
        let cut = |l: &String| {
            let words: Vec<&str> = l.split(' ').collect();
            match words[0] {
                "HISTORY" => format!("HISTORY {} {}", words[2], words[3]),
                "SEAT" => words[..2].join(" "),
                _ => l.clone(),
            }
        };
        assert_eq!(
            again.iter().map(cut).collect::<Vec<_>>(),
            [
                "MEMBERS leader carol bob",
                "SEAT leader",
                "SEAT carol",
                "SEAT bob",
                "HISTORY leader two",
                "SEQ 2",
            ],
            "once, in order, without a new credential"
        );
        assert_eq!(bob.next(), "", "the old connection is closed");
        // Carol's admission, the messages, then only bob's new seat: bob
        // never left, as far as she can tell.
        let (heard, _) = carol.lines(10, 2);
        assert_eq!(
            heard[5..],
            ["MSG leader", "SEQ 1", "MSG leader", "SEQ 2", "SEAT bob"]
        );

        // The member admitted earliest still there is carol now.
        let (reply, answer) = crossbeam_channel::bounded(1);
        let end = hub.handle(Event::Handover { to: None, reply });
        assert_eq!(end, Some(CloseReason::LeaderLeft));
        let handed = answer.recv().unwrap().unwrap();
        assert_eq!(handed.to.name, "carol");
        assert_eq!(handed.said.len(), 2);
        hub.finish(CloseReason::LeaderLeft, inbox);
        assert_eq!(carol.next(), "HANDOVER carol");
        assert_eq!(carol.next(), "", "no CLOSED after a handover");
    }
}
