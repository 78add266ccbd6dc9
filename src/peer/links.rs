//! The chat connections the driver keeps for the core by number: where the
//! answer to each open chat request goes (the chat connection's thread
//! waits on it), and each membership's connection to its leader (the
//! outbox its writer sends from, the leader's lines its reader forwards).
//! The core names them by number (`Effect::Answer`, `Effect::ToLeader`).

use std::collections::HashMap;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded, never, unbounded};

use crate::conn::LeaderConn;
use crate::wire::ToLeader;

use super::FEED_CAPACITY;
use super::effect::{Answer, ChatRequest, Incoming};
use super::migration::start_link;
use super::msg::{ChatAnswer, Event, FromLeader, Timing};

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
                Incoming::Request(ChatRequest {
                    request,
                    from,
                    ticket,
                    proved,
                })
            }
            Event::Withdrawn { answer, expired } => {
                let request = self
                    .requests
                    .iter()
                    .find(|(_, sender)| sender.same_channel(&answer))
                    .map(|(request, _)| *request)?;
                self.requests.remove(&request);
                Incoming::Withdrawn { request, expired }
            }
            other => Incoming::Event(other),
        })
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
                let (outbox, outbox_rx) = unbounded();
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
        conn: LeaderConn,
        timing: Timing,
    ) -> (Option<JoinHandle<()>>, Incoming) {
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
    /// link.
    pub(super) fn to_leader(&self, membership: u64, line: ToLeader) {
        if let Some(link) = self.links.get(&membership) {
            let _ = link.outbox.send(line);
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
