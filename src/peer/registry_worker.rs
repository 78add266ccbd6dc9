//! The registry worker: the one thread that asks the registry for the app
//! thread. It takes `RegistryAsk`s in order, asks the typed client
//! (`RegistryLink`), and sends each reply back as `Event::Registry`, so the
//! app thread never waits on the registry's socket.
//!
//! It owns the `RegistryLink` and closes it (`LOGOUT`) when the app drops
//! its sender; it never touches the app's state.
//!
//! Keys: at `JOIN` it loads the user's identity into the keyring and
//! announces its public key; every key the registry vouches for in a
//! reply goes through the keyring (remembered, a change reported as
//! `Event::Keys` before the reply), so no key reaches a worker unseen.

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::client::{Refused, RegistryLink};
use crate::wire::{Contact, ErrorCode, KeyWord};

use super::keys::Keyring;
use super::msg::{Event, KeyNews, NotInvited, RegistryAsk, RegistryReply};

/// The app thread's handle on the registry worker.
pub(super) struct RegistryWorker {
    asks: Sender<RegistryAsk>,
    handle: JoinHandle<()>,
}

impl RegistryWorker {
    /// Starts the worker, which owns `link` from now on.
    pub(super) fn start(
        link: RegistryLink,
        keys: Option<Arc<Keyring>>,
        events: Sender<Event>,
    ) -> io::Result<RegistryWorker> {
        let (asks, asks_rx) = unbounded();
        let handle = thread::Builder::new()
            .name("registry-worker".into())
            .spawn(move || work(link, keys.as_deref(), &asks_rx, &events))?;
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

fn work(
    link: RegistryLink,
    keys: Option<&Keyring>,
    asks: &Receiver<RegistryAsk>,
    events: &Sender<Event>,
) {
    for ask in asks.iter() {
        let reply = answer(&link, keys, ask);
        if let Some(keys) = keys {
            remember_vouched(keys, &reply, events);
        }
        // An app that is gone no longer needs the reply.
        let _ = events.send(Event::Registry(reply));
    }
    link.close();
}

/// Asks the registry `ask`, and waits for its reply.
fn answer(link: &RegistryLink, keys: Option<&Keyring>, ask: RegistryAsk) -> RegistryReply {
    match ask {
        RegistryAsk::NameFree(name) => RegistryReply::NameFree {
            result: link.name_free(&name),
            name,
        },
        RegistryAsk::Register { name, password } => {
            RegistryReply::Registered(link.register(&name, &password))
        }
        RegistryAsk::Join {
            name,
            password,
            port,
        } => RegistryReply::Joined(join(link, keys, &name, &password, port)),
        RegistryAsk::List(asker) => RegistryReply::List {
            asker,
            result: link.list(),
        },
        RegistryAsk::Search { name, asker } => RegistryReply::Search {
            result: link.search(&name),
            name,
            asker,
        },
        RegistryAsk::Ticket { lobby, name, by } => RegistryReply::Ticket {
            result: ticket_for(link, &name),
            lobby,
            name,
            by,
        },
        RegistryAsk::Away(away) => RegistryReply::Away(link.set_away(away.as_deref())),
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
        Err(Refused::Err(ErrorCode::NotFound, _)) => return Err(NotInvited::NotRegistered),
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

/// Logs in, announcing the key of `name`'s identity (loaded, or made on
/// first use); without a keyring, with no key.
fn join(
    link: &RegistryLink,
    keys: Option<&Keyring>,
    name: &str,
    password: &str,
    port: u16,
) -> Result<Contact, Refused> {
    let Some(keys) = keys else {
        return link.join(name, password, port);
    };
    let public = keys
        .log_in(name)
        .map_err(|err| Refused::Err(ErrorCode::Internal, err.to_string()))?;
    let word: KeyWord = public
        .to_string()
        .parse()
        .expect("a key's text is a key word");
    link.join_with_key(name, password, port, Some(word))
}

/// Every key the registry vouched for in `reply`, by user name.
fn vouched_keys(reply: &RegistryReply) -> Vec<(&str, &KeyWord)> {
    fn of(contact: &Contact) -> Option<(&str, &KeyWord)> {
        contact.key.as_ref().map(|key| (contact.name.as_str(), key))
    }
    match reply {
        RegistryReply::List {
            result: Ok(rows), ..
        } => rows.iter().filter_map(of).collect(),
        RegistryReply::Search {
            result: Ok(contact),
            ..
        }
        | RegistryReply::Ticket {
            result: Ok((contact, _)),
            ..
        } => of(contact).into_iter().collect(),
        RegistryReply::Checked {
            verdict: Ok(vouched),
            ..
        } => vouched
            .leader_key
            .as_ref()
            .map(|key| (vouched.leader.as_str(), key))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// Remembers the keys in `reply`; a change, or a file that cannot be
/// written, is told to the app before the reply.
fn remember_vouched(keys: &Keyring, reply: &RegistryReply, events: &Sender<Event>) {
    let vouched = vouched_keys(reply);
    if vouched.is_empty() {
        return;
    }
    let news = match keys.vouched(&vouched) {
        Ok(changes) => changes.into_iter().map(KeyNews::Changed).collect(),
        Err(err) => vec![KeyNews::Trouble(err.to_string())],
    };
    for news in news {
        let _ = events.send(Event::Keys(news));
    }
}
