//! `HubHost`: a real `Lobby` hub and the listener that admits its members,
//! as a leader's chat listener does: a TLS handshake that requires the
//! member's key (`ClientAuth::Required`, the leader's own key presented),
//! or plain TCP under `--plaintext`; then `Lobby::admit`. It runs in the
//! bench process (`Target::Hub`) or alone in a child process
//! (`bench serve-lobby`, `serve_child`), whose memory is then the hub's.
//!
//! Members are named by the order they connect in: `sender`, then `m1`,
//! `m2`… The load connects them one at a time, in that order.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::unbounded;
use p2pchat::conn::{MemberConn, Stream};
use p2pchat::crypto::{self, ClientAuth, Identity};
use p2pchat::lobby::{Lobby, LobbyConfig};
use p2pchat::trace::Trace;

use crate::{BenchError, Security};

/// How long a member's TLS handshake may take on a busy machine.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// A hub and the thread that admits its members.
pub struct HubHost {
    addr: SocketAddr,
    security: Security,
    stop: Arc<AtomicBool>,
    /// Gives the hub back once it has admitted everyone or was stopped.
    acceptor: JoinHandle<Lobby>,
}

impl HubHost {
    /// Starts a hub on `127.0.0.1:0` that admits at most `members`
    /// members, over TLS with a fresh leader key if `tls`.
    pub fn start(members: usize, tls: bool) -> Result<HubHost, BenchError> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (security, server) = if tls {
            let leader = Identity::generate()
                .map_err(|err| BenchError::Setup(format!("the leader's key: {err}")))?;
            let config = crypto::server_config(leader.tls(), ClientAuth::Required)
                .map_err(|err| BenchError::Setup(format!("TLS configuration: {err}")))?;
            (Security::Tls(leader.tls().fingerprint()), Some(config))
        } else {
            (Security::Plain, None)
        };
        // The leader's notices are not read: the benchmark has no user
        // interface, and a dropped receiver makes each notice a no-op.
        let (notices, _) = unbounded();
        let lobby = Lobby::start(LobbyConfig::new("leader"), notices)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let acceptor = thread::Builder::new()
            .name("bench-hub-accept".into())
            .spawn(move || {
                for index in 0..members {
                    let Ok((tcp, _)) = listener.accept() else {
                        break;
                    };
                    if stopped.load(Ordering::SeqCst) {
                        break;
                    }
                    // A member that fails its handshake is not admitted;
                    // the load sees it never got in and says so.
                    if let Ok(conn) = handshake(tcp, server.as_ref()) {
                        lobby.admit(member_name(index), conn);
                    }
                }
                lobby
            })?;
        Ok(HubHost {
            addr,
            security,
            stop,
            acceptor,
        })
    }

    /// Where members connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How members must talk to it.
    pub fn security(&self) -> Security {
        self.security
    }

    /// Stops admitting, closes the lobby and waits for its threads.
    pub fn close(self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes an `accept` still waiting for a member that never came.
        if !self.acceptor.is_finished() {
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5));
        }
        if let Ok(lobby) = self.acceptor.join() {
            lobby.close("BENCH_OVER");
        }
    }
}

/// The name of the member that connected `index`-th.
fn member_name(index: usize) -> String {
    match index {
        0 => "sender".into(),
        i => format!("m{i}"),
    }
}

/// The leader's side of a member's connection: TLS with the member's key
/// required, or plain text when there is no `server` configuration.
fn handshake(
    tcp: TcpStream,
    server: Option<&Arc<rustls::ServerConfig>>,
) -> Result<MemberConn, BenchError> {
    let name = tcp.peer_addr()?.to_string();
    let stream = match server {
        None => Stream::from(tcp),
        Some(config) => {
            let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
            let tls = crypto::accept(tcp, Arc::clone(config), deadline)
                .map_err(|err| BenchError::Setup(format!("a member's handshake: {err}")))?;
            // A leader compares the key with the one the registry vouched
            // for; here any key will do, but there must be one.
            if tls.peer_key().is_none() {
                return Err(BenchError::Setup("a member presented no key".into()));
            }
            Stream::from(tls)
        }
    };
    Ok(MemberConn::new(stream, &name, Trace::off())?)
}

/// The body of `bench serve-lobby`: a hub for `members` members, its
/// address on the first line of stdout and its key's fingerprint (or
/// `plaintext`) on the second; it closes when stdin closes.
pub fn serve_child(members: usize, tls: bool) -> Result<(), BenchError> {
    let host = HubHost::start(members, tls)?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "{}", host.addr())?;
        match host.security() {
            Security::Tls(fingerprint) => writeln!(out, "{fingerprint}")?,
            Security::Plain => writeln!(out, "plaintext")?,
        }
        out.flush()?;
    }
    // The parent's end of stdin closing (even if it crashed) stops us.
    let mut sink = String::new();
    while let Ok(1..) = io::stdin().read_line(&mut sink) {
        sink.clear();
    }
    host.close();
    Ok(())
}
