//! The answer to each request on a registry connection: `handle`
//! dispatches, and each request has its method, which asks the hub (or a
//! hashing thread) and maps the domain result it gets to wire replies. It
//! never touches the socket: `talk` reads the request and writes the
//! answer.

use std::net::IpAddr;
use std::sync::OnceLock;

use crossbeam_channel::{Sender, bounded};

use super::{Connection, wait_for_the_database};
use crate::crypto::{IdentityKey, PeerKey};
use crate::db::Account;
use crate::password::Slot;
use crate::registry::answers::{JoinRefused, KeyRefused, stopping};
use crate::registry::event::{Bye, RegistryEvent};
use crate::wire::{Contact, ErrorCode, HELP_TEXT, KeyWord, Reply, Request};

/// Asks the hub something and waits for the answer; `None` once the hub
/// has stopped.
fn ask<T>(
    events: &Sender<RegistryEvent>,
    make: impl FnOnce(Sender<T>) -> RegistryEvent,
) -> Option<T> {
    let (tx, rx) = bounded(1);
    events.send(make(tx)).ok()?;
    rx.recv().ok()
}

/// What handling one line leads to.
pub(super) enum Next {
    Continue,
    Close,
}

/// The answer to one request.
pub(super) enum Answer {
    /// These lines, and the connection goes on.
    Reply(Vec<Reply>),
    /// This line, and the connection ends (`LOGOUT`).
    Last(Reply),
    /// The hub has told this connection to close, so the request was not
    /// acted on.
    Closing,
}

impl Answer {
    fn one(reply: Reply) -> Answer {
        Answer::Reply(vec![reply])
    }

    /// The lines to write, and whether the connection goes on after them.
    pub(super) fn into_replies(self, bye: &OnceLock<Bye>) -> (Vec<Reply>, Next) {
        match self {
            Answer::Reply(replies) => (replies, Next::Continue),
            Answer::Last(reply) => (vec![reply], Next::Close),
            // A JOIN that came in just as the hub told this connection to
            // close (it had been silent for the whole timeout) was not
            // acted on: the client hears the BYE, not a refusal, so that it
            // knows to send the JOIN again on a new connection.
            Answer::Closing => match bye.get() {
                Some(bye) => {
                    wait_for_the_database(&bye.written);
                    (vec![Reply::Bye(bye.reason)], Next::Close)
                }
                None => (vec![stopping()], Next::Continue),
            },
        }
    }
}

/// Where a request comes from: the client's address, and the key of the
/// client certificate it proved in the TLS handshake (none in plain text,
/// or from a client that has no certificate yet).
#[derive(Clone, Copy)]
pub(super) struct Origin {
    pub(super) ip: IpAddr,
    pub(super) certificate: Option<IdentityKey>,
}

/// Whether this connection holds a user online.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Joined {
    No,
    Yes,
}

impl Connection {
    /// Asks the hub something and waits for the answer.
    fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> RegistryEvent) -> Option<T> {
        ask(&self.events, make)
    }

    /// The answer to one request.
    pub(super) fn handle(&self, request: Request, joined: &mut Joined, origin: Origin) -> Answer {
        let ip = origin.ip;
        let needs_join = !matches!(
            request,
            Request::Name { .. } | Request::Register { .. } | Request::Join { .. } | Request::Help
        );
        if needs_join && *joined == Joined::No {
            let err = Reply::Err(
                ErrorCode::NotJoined,
                "JOIN first: JOIN <name> <password> <port>".into(),
            );
            return Answer::one(err);
        }
        let id = self.id;
        Answer::one(match request {
            Request::Name { name } => {
                let asked = name.clone();
                self.ask_hub(
                    |reply| RegistryEvent::NameFree { name, ip, reply },
                    |()| Reply::NameFree(asked),
                )
            }
            Request::Register { name, password } => self.register(name, &password, ip),
            Request::Join {
                name,
                password,
                port,
                key,
            } => return self.join_once(joined, name, &password, (port, key), origin),
            Request::Hello => Reply::Hello,
            Request::List => return Answer::Reply(self.list()),
            Request::Search { name } => {
                self.ask_hub(|reply| RegistryEvent::Search { name, reply }, Reply::Found)
            }
            Request::Invite { name } => self.ask_hub(
                |reply| RegistryEvent::Invite { id, name, reply },
                Reply::Ticket,
            ),
            Request::Check { ticket } => self.ask_hub(
                |reply| RegistryEvent::Check { id, ticket, reply },
                Reply::from,
            ),
            Request::Away(text) => {
                let away = Some(text.clone());
                self.ask_hub(
                    |reply| RegistryEvent::Away { id, away, reply },
                    |()| Reply::Away(text),
                )
            }
            Request::Back => self.ask_hub(
                |reply| RegistryEvent::Away {
                    id,
                    away: None,
                    reply,
                },
                |()| Reply::Back,
            ),
            Request::Logout => return Answer::Last(self.logout()),
            Request::Help => Reply::Help(HELP_TEXT.into()),
        })
    }

    /// Asks the hub, and answers its result: `ok` makes the reply of a
    /// success, and a refusal's reply is its own.
    fn ask_hub<T, E: Into<Reply>>(
        &self,
        make: impl FnOnce(Sender<Result<T, E>>) -> RegistryEvent,
        ok: impl FnOnce(T) -> Reply,
    ) -> Reply {
        match self.ask(make) {
            Some(Ok(value)) => ok(value),
            Some(Err(refused)) => refused.into(),
            None => stopping(),
        }
    }

    fn list(&self) -> Vec<Reply> {
        let Some(contacts) = self.ask(|reply| RegistryEvent::List { reply }) else {
            return vec![stopping()];
        };
        let mut lines = Vec::with_capacity(contacts.len() + 1);
        lines.push(Reply::List(contacts.len()));
        lines.extend(contacts.into_iter().map(Reply::Row));
        lines
    }

    fn logout(&self) -> Reply {
        // Offline first, in memory and (tried) on disk, so that whoever
        // sees `OK BYE` can rely on it.
        let (done, written) = bounded(0);
        let id = self.id;
        let logged_out = self.ask(|reply| RegistryEvent::Logout { id, reply, done });
        wait_for_the_database(&written);
        logged_out.map_or_else(stopping, |()| Reply::LoggedOut)
    }

    /// A JOIN, unless this connection has joined already.
    fn join_once(
        &self,
        joined: &mut Joined,
        name: String,
        password: &str,
        (port, key): (u16, Option<KeyWord>),
        origin: Origin,
    ) -> Answer {
        if *joined == Joined::Yes {
            return Answer::one(Reply::Err(
                ErrorCode::AlreadyJoined,
                "this connection has joined already".into(),
            ));
        }
        // Before the password is hashed: a refused key costs no hashing.
        if let Err(refused) = check_announced_key(key.as_ref(), origin.certificate) {
            return Answer::one(refused.into());
        }
        match self.join(name, password, port, key, origin.ip) {
            Some(Ok(contact)) => {
                *joined = Joined::Yes;
                Answer::one(Reply::Joined(contact))
            }
            Some(Err(JoinRefused::Closing)) => Answer::Closing,
            Some(Err(refused)) => Answer::one(refused.into()),
            None => Answer::one(stopping()),
        }
    }

    fn register(&self, name: String, password: &str, ip: IpAddr) -> Reply {
        // Asked before the hash, so a refused REGISTER costs no hashing.
        match self.ask(|reply| RegistryEvent::MayRegister { ip, reply }) {
            Some(Ok(())) => {}
            Some(Err(refused)) => return refused.into(),
            None => return stopping(),
        }
        match self.hashes.hash(password) {
            Ok(hash) => self.accounts.add(name, hash).unwrap_or_else(stopping),
            Err(err) => JoinRefused::Hashing(err).into(),
        }
    }

    /// `None` once the hub has stopped.
    fn join(
        &self,
        name: String,
        password: &str,
        port: u16,
        key: Option<KeyWord>,
        ip: IpAddr,
    ) -> Option<Result<Contact, JoinRefused>> {
        // The whole JOIN runs as one job on a hashing thread. The hub counts
        // the attempt as a failure when it lets it through, and it is asked
        // only once a hashing thread has taken the job: so at most as many
        // attempts as there are hashing threads are ever undecided, and a
        // burst of guesses meets the cool-down at once. (It also keeps the
        // connection thread's own stack, thousands of them, shallow.)
        let events = self.events.clone();
        let password = password.to_string();
        let id = self.id;
        let (done, written) = bounded(0);
        let joined = self
            .hashes
            .run(move |slot| {
                let account = match verified_account(slot, &events, name, ip, &password)? {
                    Ok(account) => account,
                    Err(refused) => return Some(Err(refused)),
                };
                ask(&events, |reply| RegistryEvent::Join {
                    id,
                    ip,
                    name: account.name,
                    port,
                    key,
                    reply,
                    done,
                })
            })
            .flatten();
        // Here, not on the hashing thread: the disk holds up only this
        // client, and no hash.
        wait_for_the_database(&written);
        joined
    }
}

/// On a hashing thread: the account named `name`, once `password` has
/// checked out against it. A name nobody has costs a hash all the same, so
/// that the time taken does not tell which names exist. `None` once the hub
/// has stopped.
fn verified_account(
    slot: &mut Slot,
    events: &Sender<RegistryEvent>,
    name: String,
    ip: IpAddr,
    password: &str,
) -> Option<Result<Account, JoinRefused>> {
    let asked = name.clone();
    let account = match ask(events, |reply| RegistryEvent::Account { name, ip, reply })? {
        Ok(Some(account)) => Some(account),
        Ok(None) => {
            slot.verify_nobody(password);
            None
        }
        Err(refused) => return Some(Err(refused)),
    };
    match account {
        Some(account) if slot.verify(password, &account.password_hash) => Some(Ok(account)),
        _ => {
            // Told to the hub's log, which the operator reads for guessing.
            let _ = events.send(RegistryEvent::JoinFailed { name: asked, ip });
            Some(Err(JoinRefused::BadCredentials))
        }
    }
}

/// Whether a JOIN may announce `announced`: a valid key, and under TLS with
/// a client certificate, that certificate's key (a peer vouched for must
/// be able to prove the key in every handshake). Without a certificate
/// (plain text, or a client that has none yet) a valid key passes: a peer
/// that announces a key it does not hold fails every handshake with it,
/// and so can pose as no one. The peer's link presents no certificate
/// (its user is chosen after it connects, and TLS 1.3 as rustls speaks it
/// has no authentication after the handshake), so today this check fires
/// only for a client that presents one; what a wrong key gains is nothing
/// (`tls_peers::a_key_announced_by_one_who_does_not_hold_it_reaches_no_one_as_them`).
fn check_announced_key(
    announced: Option<&KeyWord>,
    certificate: Option<IdentityKey>,
) -> Result<(), KeyRefused> {
    let announced = announced
        .map(|word| word.as_str().parse::<PeerKey>())
        .transpose()
        .map_err(|_| KeyRefused::NotAKey)?;
    match (announced, certificate) {
        (Some(key), Some(proved)) if key.identity != proved => Err(KeyRefused::NotTheCertificates),
        (None, Some(_)) => Err(KeyRefused::NotTheCertificates),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Identity, SealKey};

    fn word(key: &PeerKey) -> KeyWord {
        key.to_string().parse().unwrap()
    }

    #[test]
    fn a_joins_key_must_be_a_key_and_the_certificates() {
        let alice = Identity::generate().unwrap().public();
        let mallory = Identity::generate().unwrap().public();
        #[track_caller]
        fn check(
            announced: Option<&KeyWord>,
            cert: Option<IdentityKey>,
            expected: Result<(), KeyRefused>,
        ) {
            assert_eq!(check_announced_key(announced, cert), expected);
        }
        let (a, m) = (word(&alice), word(&mallory));
        // Plain text: any valid key, or none.
        check(Some(&a), None, Ok(()));
        check(None, None, Ok(()));
        // TLS with a certificate: that certificate's key only.
        check(Some(&a), Some(alice.identity), Ok(()));
        check(
            Some(&m),
            Some(alice.identity),
            Err(KeyRefused::NotTheCertificates),
        );
        check(
            None,
            Some(alice.identity),
            Err(KeyRefused::NotTheCertificates),
        );
        // Only the identity half is in the certificate: another seal key
        // with the proved identity passes the handshake check, and is the
        // user's own choice.
        let resealed = PeerKey {
            identity: alice.identity,
            seal: SealKey::from_bytes([7; 32]),
        };
        check(Some(&word(&resealed)), Some(alice.identity), Ok(()));
        // A word of a key's shape that holds no key (bits past the 32
        // bytes set) is refused in every mode.
        let text = a.to_string();
        let bent = format!("{}B{}", &text[..42], &text[43..]);
        let bent: KeyWord = bent.parse().unwrap();
        check(Some(&bent), None, Err(KeyRefused::NotAKey));
    }
}
