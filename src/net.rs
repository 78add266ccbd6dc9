//! Socket helpers both servers share: waking a thread blocked in `accept`,
//! and an accept loop that outlives a failing `accept`.
//!
//! This module owns no protocol and no connection: it hands each accepted
//! stream to its caller and never reads or writes one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use crate::trace;

/// How long a wake-up connection to our own listener may take: it goes
/// through loopback, so a second means the listener is gone.
const WAKE_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long the accept loop pauses after a failed `accept`.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Wakes a thread blocked in `accept` on `addr` by connecting to it; the
/// thread then sees its stop flag and drops the connection. A listener on
/// an unspecified address (`0.0.0.0`, `::`) is reached through loopback. If
/// the connection fails, the listener is gone already.
pub(crate) fn wake_acceptor(mut addr: SocketAddr) {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let _ = TcpStream::connect_timeout(&addr, WAKE_CONNECT_TIMEOUT);
}

/// Accepts connections on `listener` and hands each to `serve` until
/// `stopped` says so; it is checked after every `accept` returns, so a
/// `wake_acceptor` makes the loop end. The connection that woke the loop is
/// dropped unserved.
pub(crate) fn accept_until(
    listener: &TcpListener,
    stopped: impl Fn() -> bool,
    mut serve: impl FnMut(TcpStream),
) {
    for stream in listener.incoming() {
        if stopped() {
            return;
        }
        match stream {
            Ok(stream) => serve(stream),
            // A client that gave up before we accepted it, or a brief
            // shortage of file descriptors: neither should stop the server.
            Err(err) => {
                trace::err(format_args!("accept failed: {err}"));
                // Out of descriptors, accept fails at once until a
                // connection closes: pause rather than spin.
                thread::sleep(ACCEPT_ERROR_PAUSE);
            }
        }
    }
}
