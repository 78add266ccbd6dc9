//! The registry worker: the one thread that asks the registry for the app
//! thread. It takes `RegistryAsk`s in order, asks the typed client
//! (`RegistryLink`), and sends each reply back as `Event::Registry`, so the
//! app thread never waits on the registry's socket.
//!
//! It owns the `RegistryLink` and closes it (`LOGOUT`) when the app drops
//! its sender; it never touches the app's state.

use std::io;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::client::{Refused, RegistryLink};
use crate::wire::ErrorCode;

use super::msg::{Event, NotInvited, RegistryAsk, RegistryReply};

/// The app thread's handle on the registry worker.
pub(super) struct RegistryWorker {
    asks: Sender<RegistryAsk>,
    handle: JoinHandle<()>,
}

impl RegistryWorker {
    /// Starts the worker, which owns `link` from now on.
    pub(super) fn start(link: RegistryLink, events: Sender<Event>) -> io::Result<RegistryWorker> {
        let (asks, asks_rx) = unbounded();
        let handle = thread::Builder::new()
            .name("registry-worker".into())
            .spawn(move || work(link, &asks_rx, &events))?;
        Ok(RegistryWorker { asks, handle })
    }

    /// Queues one request; its reply comes back as `Event::Registry`.
    pub(super) fn ask(&self, ask: RegistryAsk) {
        // The worker ends only after this handle is dropped.
        let _ = self.asks.send(ask);
    }

    /// Lets the worker finish what it was asked, log out and end.
    pub(super) fn stop(self) {
        drop(self.asks);
        let _ = self.handle.join();
    }
}

fn work(link: RegistryLink, asks: &Receiver<RegistryAsk>, events: &Sender<Event>) {
    for ask in asks.iter() {
        let reply = answer(&link, ask);
        // An app that is gone no longer needs the reply.
        let _ = events.send(Event::Registry(reply));
    }
    link.close();
}

/// Asks the registry `ask`, and waits for its reply.
fn answer(link: &RegistryLink, ask: RegistryAsk) -> RegistryReply {
    match ask {
        RegistryAsk::Register { name, password } => {
            RegistryReply::Registered(link.register(&name, &password))
        }
        RegistryAsk::Join {
            name,
            password,
            port,
        } => RegistryReply::Joined(link.join(&name, &password, port)),
        RegistryAsk::List(asker) => RegistryReply::List {
            asker,
            result: link.list(),
        },
        RegistryAsk::Search { name, asker } => {
            let result = link.search(&name);
            RegistryReply::Search {
                name,
                asker,
                result,
            }
        }
        RegistryAsk::Ticket { lobby, name, by } => {
            let result = ticket_for(link, &name);
            RegistryReply::Ticket {
                lobby,
                name,
                by,
                result,
            }
        }
        RegistryAsk::Check {
            request,
            from,
            ticket,
        } => RegistryReply::Checked {
            request,
            from,
            verdict: link.check(&ticket),
        },
    }
}

/// Gets a ticket to invite `name`, and where `name` is now: the address on
/// the conversation list may be old.
fn ticket_for(
    link: &RegistryLink,
    name: &str,
) -> Result<(crate::wire::Contact, String), NotInvited> {
    let unreachable = |why: String| Err(NotInvited::Unreachable(why));
    let ticket = match link.invite(name) {
        Ok(ticket) => ticket,
        Err(Refused::Err(ErrorCode::Offline, _)) => return Err(NotInvited::Offline),
        Err(Refused::Err(_, text)) => return unreachable(text),
        Err(Refused::Link(err)) => return unreachable(err.to_string()),
        Err(other) => return unreachable(format!("the registry answered {other:?}")),
    };
    match link.search(name) {
        Ok(contact) => Ok((contact, ticket)),
        Err(Refused::Link(err)) => unreachable(err.to_string()),
        Err(_) => Err(NotInvited::Offline),
    }
}
