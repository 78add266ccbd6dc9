//! One client connection, served on its own thread: reads request lines,
//! asks the hub (or the hashing threads) and writes the replies.
//!
//! The thread is the only reader and writer of its socket. Its phases are
//! functions: `HubLink::connect` (tell the hub, which can then shut the
//! socket, ending a handshake under way), `secure` (over TLS: the sniff
//! that answers a person typing plain text, then the handshake under a
//! deadline, on a thread that ends with it; the client's key, if it
//! presented one, is then `conn.peer_key()`), `prepare` (the timeouts),
//! `talk` (one request after another until the client leaves or the hub
//! says BYE), and the goodbye to the hub, which `HubLink` sends on every way
//! out. It never
//! touches shared state except through `RegistryEvent`s, and nothing a
//! client sends may panic it.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use rustls::ServerConfig;

use super::accounts::AccountQueue;
use super::answers::{JoinRefused, KeyRefused, stopping};
use super::hub::{Bye, RegistryEvent, Socket};
use super::throttle::Site;
use crate::conn::{Conn, Received, Stream};
use crate::crypto::{
    IdentityKey, Opening, PeerKey, accept_aside, plain_text_notice, refuse_plain_text, sniff,
};
use crate::line::is_timeout;
use crate::password::HashQueue;
use crate::trace::Trace;
use crate::wire::{self, Contact, ErrorCode, HELP_TEXT, KeyWord, Reply, Request};

/// How long a person who typed plain text at the TLS port has to read the
/// one line that says what to do, before the connection closes.
const PLAIN_TEXT_LINGER: Duration = Duration::from_secs(2);

/// The read buffer of a registry connection: a few lines' worth.
const READ_BUFFER: usize = 512;

/// How often a connection thread looks for the hub's BYE reason where
/// shutting a socket's read side does not wake its reader.
#[cfg(not(unix))]
const BYE_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Tells the hub a connection is gone when dropped, on every way out of
/// the connection's thread, early returns included: a session the hub is
/// never told about would hold its user online for good.
struct HubLink<'a> {
    events: &'a Sender<RegistryEvent>,
    id: u64,
}

impl<'a> HubLink<'a> {
    /// Tells the hub about a new connection; `None` if the hub has stopped.
    fn connect(
        events: &'a Sender<RegistryEvent>,
        id: u64,
        addr: SocketAddr,
        socket: &Arc<Socket>,
    ) -> Option<HubLink<'a>> {
        let socket = socket.clone();
        events
            .send(RegistryEvent::Connected { id, addr, socket })
            .ok()?;
        Some(HubLink { events, id })
    }
}

impl Drop for HubLink<'_> {
    fn drop(&mut self) {
        let _ = self
            .events
            .send(RegistryEvent::Disconnected { id: self.id });
    }
}

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

/// How long a JOIN or LOGOUT waits for its presence change to be tried on
/// disk before it is answered anyway: the hub's memory is the truth, and a
/// change the disk refused is retried.
const PRESENCE_WAIT: Duration = Duration::from_secs(5);

/// Waits until the presence writer has tried this connection's change (it
/// drops the sender), so that a client told `OK JOINED` or `OK BYE` finds
/// the database agreeing, unless the disk is failing.
fn wait_for_the_database(written: &Receiver<()>) {
    let _ = written.recv_timeout(PRESENCE_WAIT);
}

fn too_long() -> Reply {
    Reply::Err(
        ErrorCode::LineTooLong,
        format!("lines are at most {} bytes; closing", wire::MAX_LINE),
    )
}

/// One client connection, served on its own thread.
pub(super) struct Connection {
    pub(super) id: u64,
    pub(super) events: Sender<RegistryEvent>,
    pub(super) hashes: HashQueue,
    pub(super) accounts: AccountQueue,
    pub(super) trace: Trace,
    pub(super) write_timeout: Duration,
    /// The TLS configuration, `None` in plain text.
    pub(super) tls: Option<Arc<ServerConfig>>,
    /// How long the client has to finish its TLS handshake.
    pub(super) handshake_timeout: Duration,
    /// Its place among the connections, given back when it is dropped.
    pub(super) _admitted: Admitted,
}

/// What handling one line leads to.
enum Next {
    Continue,
    Close,
}

/// The answer to one request.
enum Answer {
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
    fn into_replies(self, bye: &OnceLock<Bye>) -> (Vec<Reply>, Next) {
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
struct Origin {
    ip: IpAddr,
    certificate: Option<IdentityKey>,
}

/// Whether this connection holds a user online.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Joined {
    No,
    Yes,
}

impl Connection {
    /// Serves `stream` until the client leaves or the hub ends it.
    pub(super) fn serve(self, stream: TcpStream) {
        let Ok(addr) = stream.peer_addr() else {
            return;
        };
        // One descriptor per connection, shared with the hub (which only
        // shuts it down) and between the connection's halves, rather than a
        // `try_clone` for each: at ten thousand clients, descriptors run
        // out before anything else.
        let tcp = Arc::new(stream);
        let socket = Arc::new(Socket::new(Arc::clone(&tcp)));
        let Some(_hub) = HubLink::connect(&self.events, self.id, addr, &socket) else {
            return;
        };
        let stream = match self.secure(tcp, addr) {
            Ok(Some(stream)) => stream,
            Ok(None) => return,
            Err(err) => {
                self.trace_error(addr, &err);
                return;
            }
        };
        if let Err(err) = self.prepare(stream.socket()) {
            self.trace_error(addr, &err);
            return;
        }
        // Lines are short, so a small buffer will do: with thousands of
        // idle connections, buffer sizes are most of the server's memory.
        let conn = Conn::with_buffer(stream, addr, self.trace, READ_BUFFER);
        if let Err(err) = conn.and_then(|mut conn| self.talk(&mut conn, &socket.bye, addr)) {
            self.trace_error(addr, &err);
        }
    }

    /// The stream to talk over: the socket itself in plain text; over TLS,
    /// the session once the handshake is done. `None` when there is
    /// nothing to talk to: a person who typed plain text (they got one line
    /// saying what to do), or a client that left first.
    fn secure(&self, tcp: Arc<TcpStream>, addr: SocketAddr) -> io::Result<Option<Stream>> {
        let Some(config) = &self.tls else {
            return Ok(Some(Stream::Plain(tcp)));
        };
        let deadline = Instant::now() + self.handshake_timeout;
        match sniff(&tcp, deadline)? {
            Opening::Closed => return Ok(None),
            Opening::PlainText => {
                if self.trace.is_on() {
                    self.trace
                        .received(addr, "(plain text at the TLS port: told how to connect)");
                }
                let notice = plain_text_notice(tcp.local_addr()?);
                refuse_plain_text(&*tcp, &notice, PLAIN_TEXT_LINGER)?;
                return Ok(None);
            }
            Opening::Tls => {}
        }
        // On a thread of its own, so this thread's stack stays as shallow
        // as in plain text for as long as the client stays.
        match accept_aside(tcp, Arc::clone(config), deadline) {
            Ok(tls) => {
                if self.trace.is_on() {
                    let key = tls.peer_fingerprint();
                    let key = key.map_or("no client key".to_string(), |key| key.to_string());
                    self.trace
                        .received(addr, format_args!("(TLS handshake done; {key})"));
                }
                Ok(Some(Stream::from(tls)))
            }
            Err(err) => Err(io::Error::other(err)),
        }
    }

    fn trace_error(&self, addr: SocketAddr, err: &io::Error) {
        if self.trace.is_on() {
            self.trace
                .received(addr, format_args!("(connection error: {err})"));
        }
    }

    /// Sets the socket's timeouts.
    fn prepare(&self, stream: &TcpStream) -> io::Result<()> {
        // A client that stops reading must not hold this thread, and with
        // it a shutdown, for ever: a write that cannot finish in time ends
        // the connection.
        stream.set_write_timeout(Some(self.write_timeout))?;
        // Off unix, shutting the read side of a socket does not reliably
        // wake a thread blocked reading it (on Windows the blocked `recv`
        // may go on waiting), so there the thread reads with a timeout and
        // looks for the hub's BYE reason at each one. Linux and the BSDs
        // end the blocked read at once, and thousands of idle threads are
        // spared a wake-up each per interval.
        #[cfg(not(unix))]
        stream.set_read_timeout(Some(BYE_POLL))?;
        Ok(())
    }

    /// Answers one request after another until the client leaves, a line
    /// cannot be framed, or the hub leaves a reason to say `BYE`.
    fn talk(
        &self,
        conn: &mut Conn<Stream, Request, Reply>,
        bye: &OnceLock<Bye>,
        addr: SocketAddr,
    ) -> io::Result<()> {
        let mut joined = Joined::No;
        loop {
            let received = conn.recv();
            if let Some(bye) = bye.get() {
                wait_for_the_database(&bye.written);
                return conn.send(&Reply::Bye(bye.reason));
            }
            let request = match received {
                // Only with the read timeout that stands in for the hub's
                // wake-up where shutting the read side does not wake us.
                Err(err) if is_timeout(&err) => continue,
                Err(err) => return Err(err),
                Ok(Received::End) => return Ok(()),
                Ok(Received::TooLong) => return conn.send(&too_long()),
                Ok(Received::BadEncoding) => {
                    conn.send(&Reply::Err(
                        ErrorCode::BadEncoding,
                        "lines must be UTF-8".into(),
                    ))?;
                    continue;
                }
                Ok(Received::Line(request)) => Ok(request),
                Ok(Received::Malformed { err, .. }) => Err(err),
            };
            let _ = self.events.send(RegistryEvent::Activity {
                id: self.id,
                busy: true,
            });
            let answer = match request {
                Ok(request) => {
                    let origin = Origin {
                        ip: addr.ip().to_canonical(),
                        certificate: conn.peer_key(),
                    };
                    self.handle(request, &mut joined, origin)
                }
                Err(err) => Answer::Reply(vec![err.into()]),
            };
            let (replies, next) = answer.into_replies(bye);
            // All the lines of one answer (a LIST has one per user) go out
            // in one write.
            conn.send_all(&replies)?;
            // The silence the sweeper counts starts again once the answer
            // is out, however long it took.
            let _ = self.events.send(RegistryEvent::Activity {
                id: self.id,
                busy: false,
            });
            if let Next::Close = next {
                return Ok(());
            }
        }
    }

    /// Asks the hub something and waits for the answer.
    fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> RegistryEvent) -> Option<T> {
        ask(&self.events, make)
    }

    /// The answer to one request.
    fn handle(&self, request: Request, joined: &mut Joined, origin: Origin) -> Answer {
        let ip = origin.ip;
        let needs_join = !matches!(
            request,
            Request::Register { .. } | Request::Join { .. } | Request::Help
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
                let account =
                    match ask(&events, |reply| RegistryEvent::Account { name, ip, reply })? {
                        Ok(Some(account)) => account,
                        Ok(None) => {
                            slot.verify_nobody(&password);
                            return Some(Err(JoinRefused::BadCredentials));
                        }
                        Err(refused) => return Some(Err(refused)),
                    };
                if !slot.verify(&password, &account.password_hash) {
                    return Some(Err(JoinRefused::BadCredentials));
                }
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

/// Holds a connection's place in the acceptor's `Admission` for as long as
/// the connection exists, and gives it back when dropped. It lives here,
/// beside the connection that holds it, so the connection imports nothing
/// from the acceptor that starts it.
pub(super) struct Admitted {
    site: Site,
    gone: Sender<Site>,
}

impl Admitted {
    pub(super) fn new(site: Site, gone: Sender<Site>) -> Admitted {
        Admitted { site, gone }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        // Once the acceptor has stopped, nobody counts places any more.
        let _ = self.gone.send(self.site);
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
