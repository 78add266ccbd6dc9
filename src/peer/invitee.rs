//! The incoming side: the chat listener, its acceptor, and one thread per
//! incoming chat connection, which runs the invitee's handshake in phases
//! and then writes the member's lines to the leader.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, bounded, select};

use crate::conn::{Conn, LeaderConn, Stream};
use crate::crypto::{Identity, IdentityKey};
use crate::lobby::Proven;
use crate::net::accept_until;
use crate::trace::Trace;
use crate::wire::{BusyReason, ErrorCode, Fetch, ToLeader, ToMember, ToSeat};

use super::first_line::{FirstLine, read_first_line};
use super::keys::{Keyring, own_identity};
use super::member_link::MemberLink;
use super::msg::{ChatAnswer, Event, FileConn, FromLeader, Timing};
use super::tls::{HANDSHAKE_TIMEOUT, PeerTls};
use super::{CANCEL_CHECK, PeerConfig};

/// Accepts chat connections, each on its own thread.
pub(super) struct ChatListener {
    pub(super) addr: SocketAddr,
    pub(super) flag: Arc<AtomicBool>,
    /// Dropped to tell every chat connection thread to finish.
    pub(super) stop: Sender<()>,
    pub(super) handle: JoinHandle<()>,
}

impl ChatListener {
    pub(super) fn start(
        config: &PeerConfig,
        listen: SocketAddr,
        (tls, keys): (PeerTls, Option<Arc<Keyring>>),
        events: Sender<Event>,
    ) -> io::Result<ChatListener> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let flag = Arc::new(AtomicBool::new(false));
        let (stop, stop_rx) = bounded::<()>(0);
        let accept = Acceptor {
            listener,
            flag: flag.clone(),
            stop: stop_rx,
            events,
            tls,
            trace: config.trace,
            identity: config
                .identity
                .clone()
                .expect("Peer::start gives every peer its keys"),
            keys,
            timing: Timing {
                request: config.invite_timeout,
                hello: config.lobby_hello,
                silence: config.lobby_timeout,
            },
        };
        let handle = thread::Builder::new()
            .name("chat-listener".into())
            .spawn(move || accept.run())?;
        Ok(ChatListener {
            addr,
            flag,
            stop,
            handle,
        })
    }

    pub(super) fn stop(self) {
        self.flag.store(true, Ordering::SeqCst);
        drop(self.stop);
        crate::wake_acceptor(self.addr);
        let _ = self.handle.join();
    }
}

pub(super) struct Acceptor {
    pub(super) listener: TcpListener,
    pub(super) flag: Arc<AtomicBool>,
    pub(super) stop: Receiver<()>,
    pub(super) events: Sender<Event>,
    pub(super) tls: PeerTls,
    pub(super) trace: Trace,
    pub(super) timing: Timing,
    /// The keys made for this run, shown until a user logs in with keys
    /// of its own (`keys`).
    pub(super) identity: Arc<Identity>,
    pub(super) keys: Option<Arc<Keyring>>,
}

/// How many chat connections may wait for their first line at once. Each
/// is a thread and a descriptor, and nobody has said who they are yet: one
/// more is answered `BUSY` by the acceptor and closed.
pub(super) const MAX_WAITING: usize = 32;

/// Counts a connection as waiting for its first line until dropped.
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Acceptor {
    pub(super) fn run(self) {
        let mut connections: Vec<JoinHandle<()>> = Vec::new();
        let waiting = Arc::new(AtomicUsize::new(0));
        accept_until(
            &self.listener,
            || self.flag.load(Ordering::SeqCst),
            |stream| {
                connections.retain(|h| !h.is_finished());
                if let Some(handle) = self.serve(stream, &waiting) {
                    connections.push(handle);
                }
            },
        );
        for handle in connections {
            let _ = handle.join();
        }
    }

    /// Starts a thread for one chat connection, or answers it `BUSY` (in
    /// plain text; under TLS, closes it) when `MAX_WAITING` others are
    /// still waiting for their first line.
    fn serve(&self, stream: TcpStream, waiting: &Arc<AtomicUsize>) -> Option<JoinHandle<()>> {
        // Under TLS nothing can be said before a handshake, and there is no
        // key to shake hands with before the user logs in, nor a thread to
        // spare past the cap: such a connection is closed without a word.
        let tls_refused = self.tls.is_tls() && !self.tls.has_user();
        if tls_refused {
            return None;
        }
        if waiting.load(Ordering::SeqCst) >= MAX_WAITING {
            if !self.tls.is_tls() {
                self.refuse_busy(stream);
            }
            return None;
        }
        waiting.fetch_add(1, Ordering::SeqCst);
        let counted = Waiting(waiting.clone());
        let chat = ChatConnection {
            events: self.events.clone(),
            stop: self.stop.clone(),
            tls: self.tls.clone(),
            trace: self.trace,
            timing: self.timing,
            identity: own_identity(self.keys.as_deref(), Some(&self.identity))
                .unwrap_or_else(|| self.identity.clone()),
        };
        thread::Builder::new()
            .name("chat-connection".into())
            .spawn(move || chat.serve(stream, counted))
            .ok()
    }

    /// Answers `BUSY` without a thread and closes: one short line fits in
    /// a fresh socket's buffer, and a sender that does not read it loses
    /// nothing it was owed.
    fn refuse_busy(&self, stream: TcpStream) {
        let busy = ToLeader::Busy(BusyReason::Unsaid);
        let peer = stream
            .peer_addr()
            .map_or_else(|_| "?".to_string(), |addr| addr.to_string());
        let _ = stream.set_nonblocking(true);
        // Over the borrowed socket: no descriptor spent on a refusal.
        if let Ok(mut conn) = Conn::<&TcpStream, String, ToLeader>::new(&stream, peer, self.trace) {
            let _ = conn.send(&busy);
        }
    }
}

/// One incoming chat connection: the request, the answer, and if the user
/// accepted, this member's side of the lobby.
pub(super) struct ChatConnection {
    pub(super) events: Sender<Event>,
    pub(super) stop: Receiver<()>,
    pub(super) tls: PeerTls,
    pub(super) trace: Trace,
    pub(super) timing: Timing,
    /// Our keys: announced with `OK`, and proven to a member at our seat.
    pub(super) identity: Arc<Identity>,
}

/// The first phase's result: a leader's chat request, read and parsed.
struct Invitation {
    conn: LeaderConn,
    from: String,
    ticket: Option<String>,
    /// The key the leader proved in the TLS handshake; none in plain text.
    proved: Option<IdentityKey>,
}

/// The user said yes: the lobby the app opened for it and the outbox of
/// what the user will type there.
struct Accepted {
    invitation: Invitation,
    outbox: Receiver<ToLeader>,
    feed: Sender<FromLeader>,
}

/// The leader has our `OK`: a member reader forwards its lines, and this
/// thread writes ours.
struct Member {
    link: MemberLink,
    outbox: Receiver<ToLeader>,
}

impl ChatConnection {
    /// Runs the invitee's side in its phases, each handing the next what it
    /// needs; a phase that ends the connection returns `None`.
    fn serve(self, stream: TcpStream, counted: Waiting) {
        let invitation = self.await_request(stream);
        drop(counted);
        let Some(invitation) = invitation else {
            return;
        };
        let Some(accepted) = self.ask_user(invitation) else {
            return;
        };
        let Some(member) = self.accept(accepted) else {
            return;
        };
        self.relay_as_member(member);
    }

    /// Waits for `CHAT_REQUEST` under the request timeout; anything else
    /// gets `ERR` and ends the connection.
    fn await_request(&self, tcp: TcpStream) -> Option<Invitation> {
        let addr = tcp.peer_addr().ok()?;
        let deadline = Instant::now() + self.timing.request;
        // Under TLS the other end proves its key before any line: one that
        // cannot is dropped here, having been told nothing. A handshake
        // asks nobody, so it gets a short deadline of its own: a stalled
        // one holds up the peer's quitting no longer than that.
        let handshake = deadline.min(Instant::now() + HANDSHAKE_TIMEOUT);
        let stream = self.tls.accept(tcp, handshake).ok()?;
        let proved = stream.peer_key();
        // Short read timeouts let the wait for the first line notice that
        // the peer is stopping; a line never comes after `timing.request`.
        let _ = stream.socket().set_read_timeout(Some(CANCEL_CHECK));
        // The first line says which side of a lobby this connection is, so
        // it is read as text and parsed here.
        let mut conn: Conn<Stream, String, ToMember> = Conn::new(stream, addr, self.trace).ok()?;
        let stopping = || {
            !matches!(
                self.stop.try_recv(),
                Err(crossbeam_channel::TryRecvError::Empty)
            )
        };
        let FirstLine::Line(line) = read_first_line(&mut conn, deadline, stopping).ok()? else {
            return None;
        };
        // A member coming back to a lobby we lead (or should): it asks us
        // to prove our seat's key first, and the hub checks its proof. A
        // claim with no exchange before it proves nothing, and is refused.
        match line.parse::<ToSeat>() {
            Ok(ToSeat::Prove(nonce)) => {
                let deadline = Instant::now() + self.timing.request;
                let (identity, events) = (&self.identity, &self.events);
                super::seat::answer(conn, nonce, identity, events, deadline, stopping);
                return None;
            }
            Ok(ToSeat::Rejoin(claim)) => {
                let conn = conn.retype();
                let proven = Proven::Nothing;
                let _ = self.events.send(Event::Rejoin {
                    claim: Box::new(claim),
                    proven: Box::new(proven),
                    conn,
                });
                return None;
            }
            Err(_) => {}
        }
        self.chat_request(conn, &line, proved)
    }

    /// A first line that is neither `PROVE` nor `REJOIN`: a chat request,
    /// a `FETCH`, or a line refused.
    fn chat_request(
        &self,
        mut conn: Conn<Stream, String, ToMember>,
        line: &str,
        proved: Option<IdentityKey>,
    ) -> Option<Invitation> {
        // A peer fetching a file we offered: the app decides, and the
        // bytes go on a thread of the driver's.
        if let Ok(fetch) = line.parse::<Fetch>() {
            self.fetched(conn, fetch, proved);
            return None;
        }
        let refused = match line.parse::<ToMember>() {
            // The name is only a claim until the ticket is checked and the
            // user accepts, so the connection is traced by its address
            // until then (`MemberLink::open` names it).
            Ok(ToMember::ChatRequest { leader, ticket }) => {
                let conn: LeaderConn = conn.retype();
                return Some(Invitation {
                    conn,
                    from: leader,
                    ticket,
                    proved,
                });
            }
            Ok(_) => ToMember::Err(ErrorCode::BadArgs, "expected CHAT_REQUEST <name>".into()),
            Err(err) => ToMember::Err(err.code, err.text),
        };
        let _ = conn.send(&refused);
        None
    }

    /// Hands a `FETCH` and its connection to the app, named by the name it
    /// claims: the app checks it against the offer and the proved key.
    fn fetched(
        &self,
        conn: Conn<Stream, String, ToMember>,
        fetch: Fetch,
        proved: Option<IdentityKey>,
    ) {
        let mut conn: FileConn = conn.retype();
        conn.set_peer(&fetch.who);
        let conn = Box::new(conn);
        let _ = self.events.send(Event::Fetch {
            fetch,
            proved,
            conn,
        });
    }

    /// Asks the app, which asks the user (or answers `BUSY` itself), and
    /// writes a no to the leader here. The request is withdrawn if the
    /// leader closes the connection, or when the request timeout has passed
    /// since it came: the leader has given up by then.
    fn ask_user(&self, mut invitation: Invitation) -> Option<Accepted> {
        let deadline = Instant::now() + self.timing.request;
        let (answer_tx, answer_rx) = bounded(1);
        let asked = Event::Invitation {
            from: invitation.from.clone(),
            ticket: invitation.ticket.take(),
            proved: invitation.proved,
            answer: answer_tx.clone(),
        };
        self.events.send(asked).ok()?;
        let answer = loop {
            select! {
                recv(answer_rx) -> answer => break answer.ok()?,
                // The peer is quitting: it is busy for good.
                recv(self.stop) -> _ => break ChatAnswer::Busy(BusyReason::Unsaid),
                default(CANCEL_CHECK) => {
                    let expired = Instant::now() >= deadline;
                    if expired || leader_hung_up(invitation.conn.socket()) {
                        // Dropping `answer_rx` makes a late answer fail, so
                        // the app never opens a lobby for this request.
                        drop(answer_rx);
                        let withdrawn = Event::Withdrawn { answer: answer_tx, expired };
                        let _ = self.events.send(withdrawn);
                        return None;
                    }
                }
            }
        };
        let no = match answer {
            ChatAnswer::Accept { outbox, feed } => {
                return Some(Accepted {
                    invitation,
                    outbox,
                    feed,
                });
            }
            ChatAnswer::Reject => ToLeader::Reject,
            ChatAnswer::Busy(reason) => ToLeader::Busy(reason),
        };
        let _ = invitation.conn.send(&no);
        None
    }

    /// Starts the member reader and says `OK` to the leader. If either
    /// fails, the app hears that the leader is gone.
    fn accept(&self, accepted: Accepted) -> Option<Member> {
        let Accepted {
            invitation,
            outbox,
            feed,
        } = accepted;
        let Invitation { conn, from, .. } = invitation;
        let opened = MemberLink::open(conn, &from, feed.clone(), self.timing);
        let Ok(mut link) = opened else {
            let _ = feed.send(FromLeader::Gone { silent: false });
            return None;
        };
        if !link.send(&ToLeader::Accept(Some(self.identity.public()))) {
            // The reader hears the connection end and tells the app.
            link.close();
            return None;
        }
        Some(Member { link, outbox })
    }

    /// This thread stays the only writer of the socket: it sends what the
    /// user types until the user leaves or the peer stops, and `HELLO` when
    /// it has sent nothing for a while.
    fn relay_as_member(&self, member: Member) {
        member.link.relay(&member.outbox, &self.stop);
    }
}

/// True if the leader closed its end: a chat request's connection carries
/// nothing more until the answer, so any end of it is a hang-up. Data the
/// leader sent early is left for later.
fn leader_hung_up(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let hung_up = match stream.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(err) => !matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        ),
    };
    let _ = stream.set_nonblocking(false);
    hung_up
}
