//! The chat connections the driver keeps for the core by number: where the
//! answer to each open chat request goes (the chat connection's thread
//! waits on it), each membership's connection to its leader (the outbox
//! its writer sends from, the leader's lines its reader forwards), and the
//! connections a worker hands over (an invitee that accepted, a `REJOIN`,
//! a peer that took us back) while the core decides what becomes of them.
//! The core names them by number (`Effect::Answer`, `Effect::ToLeader`,
//! `ConnId`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded, never};

use crate::conn::{LeaderConn, MemberConn};
use crate::crypto::PeerKey;
use crate::wire::ToLeader;

use super::effect::{Answer, ChatRequest, ConnId, Incoming};
use super::migration::start_link;
use super::msg::{ChatAnswer, Event, FromLeader, Outcome, Timing};
use super::{FEED_CAPACITY, OUTBOX_CAPACITY};

/// Where an invitee that accepted was reached, and its public keys.
pub(super) type Invitee = (SocketAddr, Option<PeerKey>);

/// One membership's connection to its leader.
struct Link {
    outbox: Sender<ToLeader>,
    /// This membership's lines from the leader, and no other's.
    feed: Receiver<FromLeader>,
}

/// The open chat requests and the memberships' links.
#[derive(Default)]
pub(super) struct Links {
    /// Where the answer to each open chat request goes, by its number.
    requests: HashMap<u64, Sender<ChatAnswer>>,
    /// The last chat request's number.
    next_request: u64,
    links: HashMap<u64, Link>,
    /// The last connection's number.
    next_conn: u64,
    /// Connections to members (an invitee that accepted, with where its
    /// invitation reached it and its keys; a `REJOIN`), by number.
    members: HashMap<ConnId, (MemberConn, Option<Invitee>)>,
    /// Connections to a leader that took us back, by number.
    leaders: HashMap<ConnId, LeaderConn>,
}

impl Links {
    /// What a worker's event is to the core: a chat request or its
    /// withdrawal by number (its answer channel stays here); `None` for a
    /// withdrawal of a request already answered.
    pub(super) fn heard(&mut self, event: Event) -> Option<Incoming> {
        Some(match event {
            Event::Invitation {
                from,
                ticket,
                proved,
                answer,
            } => {
                self.next_request += 1;
                let request = self.next_request;
                self.requests.insert(request, answer);
                let asked = ChatRequest {
                    request,
                    from,
                    ticket,
                    proved,
                };
                Incoming::Request(asked)
            }
            Event::Withdrawn { answer, expired } => self.withdrawn(&answer, expired)?,
            Event::Registry(reply) => Incoming::Registry(reply),
            Event::Keys(news) => Incoming::Keys(news),
            // Answered by the driver itself (`Driver::heard`).
            Event::Prove { .. } => return None,
            with_conn => return self.keep_conn(with_conn),
        })
    }

    /// An event that hands over a connection, with the connection kept
    /// here and named by number.
    fn keep_conn(&mut self, event: Event) -> Option<Incoming> {
        Some(match event {
            Event::Invited {
                lobby,
                name,
                outcome,
            } => {
                let outcome = self.keep_invitee(outcome);
                Incoming::Invited {
                    lobby,
                    name,
                    outcome,
                }
            }
            Event::Rejoin {
                claim,
                proven,
                conn,
            } => {
                let conn = self.keep_member(conn, None);
                Incoming::Rejoin {
                    claim,
                    proven,
                    conn,
                }
            }
            Event::Rejoined { lobby, outcome } => {
                let outcome = outcome.map_conn(|conn| self.keep_leader(*conn));
                Incoming::Rejoined { lobby, outcome }
            }
            // Events without a connection (`heard`).
            Event::Invitation { .. }
            | Event::Withdrawn { .. }
            | Event::Registry(_)
            | Event::Keys(_)
            | Event::Prove { .. }
            | Event::File(_)
            | Event::Fetch { .. } => return None,
        })
    }

    /// The request `answer` would answer, withdrawn; `None` if it was
    /// answered already.
    fn withdrawn(&mut self, answer: &Sender<ChatAnswer>, expired: bool) -> Option<Incoming> {
        let request = self
            .requests
            .iter()
            .find(|(_, sender)| sender.same_channel(answer))
            .map(|(request, _)| *request)?;
        self.requests.remove(&request);
        Some(Incoming::Withdrawn { request, expired })
    }

    /// An invitee's answer, with its connection kept here if it accepted.
    fn keep_invitee(&mut self, outcome: Outcome) -> Outcome<ConnId> {
        let invitee = match &outcome {
            Outcome::Accepted { addr, key, .. } => Some((*addr, *key)),
            _ => None,
        };
        outcome.map_conn(|conn| self.keep_member(*conn, invitee))
    }

    fn keep_member(&mut self, conn: MemberConn, invitee: Option<Invitee>) -> ConnId {
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        self.members.insert(id, (conn, invitee));
        id
    }

    fn keep_leader(&mut self, conn: LeaderConn) -> ConnId {
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        self.leaders.insert(id, conn);
        id
    }

    /// Member connection `id`, handed on: with where its invitation reached
    /// it and its keys, if it is an invitee's.
    pub(super) fn take_member(&mut self, id: ConnId) -> Option<(MemberConn, Option<Invitee>)> {
        self.members.remove(&id)
    }

    /// Closes the connections the core handed on to nothing.
    pub(super) fn drop_unclaimed(&mut self) {
        self.members.clear();
        self.leaders.clear();
    }

    /// Sends the answer to chat request `request`. An accepted one becomes
    /// membership `membership`'s link; the core hears at once whether the
    /// request was still open.
    pub(super) fn answer(&mut self, request: u64, answer: Answer) -> Option<Incoming> {
        let sender = self.requests.remove(&request);
        let (chat_answer, membership) = match answer {
            Answer::Reject => (ChatAnswer::Reject, None),
            Answer::Busy(reason) => (ChatAnswer::Busy(reason), None),
            Answer::Accept { membership } => {
                let (outbox, outbox_rx) = bounded(OUTBOX_CAPACITY);
                // Bounded, so a flooding lobby waits in TCP rather than in
                // memory.
                let (feed, feed_rx) = bounded(FEED_CAPACITY);
                let link = Link {
                    outbox,
                    feed: feed_rx,
                };
                self.links.insert(membership, link);
                let accept = ChatAnswer::Accept {
                    outbox: outbox_rx,
                    feed,
                };
                (accept, Some(membership))
            }
        };
        let sent = sender.is_some_and(|sender| sender.send(chat_answer).is_ok());
        let membership = membership?;
        let result = if sent {
            Ok(())
        } else {
            self.links.remove(&membership);
            Err("the chat request was withdrawn".to_string())
        };
        Some(Incoming::Linked { membership, result })
    }

    /// Starts the link of membership `membership` over `conn`, which
    /// `leader` took back; returns the `member-writer`'s handle, if it
    /// started, and what the core hears at once.
    pub(super) fn start(
        &mut self,
        membership: u64,
        leader: &str,
        conn: ConnId,
        timing: Timing,
    ) -> (Option<JoinHandle<()>>, Incoming) {
        let Some(conn) = self.leaders.remove(&conn) else {
            let result = Err("the connection is gone".to_string());
            return (None, Incoming::Linked { membership, result });
        };
        let (feed, feed_rx) = bounded(FEED_CAPACITY);
        let (handle, result) = match start_link(conn, leader, feed, timing) {
            Ok((outbox, handle)) => {
                let link = Link {
                    outbox,
                    feed: feed_rx,
                };
                self.links.insert(membership, link);
                (Some(handle), Ok(()))
            }
            Err(err) => (None, Err(err.to_string())),
        };
        (handle, Incoming::Linked { membership, result })
    }

    /// Sends `line` to the leader of membership `membership`, if it has a
    /// link. A full outbox means the leader has stopped reading: the line
    /// is dropped rather than kept (the writer's write timeout then ends
    /// the link, and what the user typed and the leader never numbered is
    /// sent again to whoever leads next, as after any lost link).
    pub(super) fn to_leader(&self, membership: u64, line: ToLeader) {
        if let Some(link) = self.links.get(&membership) {
            let _ = link.outbox.try_send(line);
        }
    }

    /// The leader's lines of membership `membership`, if it has a link;
    /// `never` otherwise.
    pub(super) fn feed(&self, membership: Option<u64>) -> Receiver<FromLeader> {
        membership
            .and_then(|id| self.links.get(&id))
            .map_or_else(never, |link| link.feed.clone())
    }

    /// Closes every link but `in_use`'s (its writer ends with its outbox).
    pub(super) fn keep_only(&mut self, in_use: Option<u64>) {
        self.links.retain(|id, _| Some(*id) == in_use);
    }
}
