//! Socket helpers both servers share: waking a thread blocked in `accept`,
//! an accept loop that outlives a failing `accept`, and waiting until a
//! non-blocking socket can be read.
//!
//! This module owns no protocol and no connection: it hands each accepted
//! stream to its caller and never reads or writes one.

use std::io;
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

/// Waits, without a timeout, until `stream` can be read without blocking:
/// bytes have arrived, the other end has closed, or the socket has failed
/// or been shut down (by the lobby's hub, dropping a member). For a reader
/// of a non-blocking socket, which has no blocking read to wait in: the
/// lobby's member sockets on Windows (`lobby/member.rs`, `SendMode`). It
/// waits on the socket, below any TLS, so it must only be called when the
/// layers above have nothing buffered: the TLS reader calls it just before
/// it reads ciphertext.
#[cfg(unix)]
pub(crate) fn wait_readable(stream: &TcpStream) -> io::Result<()> {
    use std::os::fd::AsRawFd;

    let mut fd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: `fd` is one live `pollfd`, and the count says one; the
        // descriptor stays open while `stream` is borrowed. A timeout of -1
        // waits until the socket is ready.
        let ready = unsafe { libc::poll(&mut fd, 1, -1) };
        if ready >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(windows)]
pub(crate) fn wait_readable(stream: &TcpStream) -> io::Result<()> {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{
        POLLRDNORM, SOCKET, SOCKET_ERROR, WSAGetLastError, WSAPOLLFD, WSAPoll,
    };

    let socket = SOCKET::try_from(stream.as_raw_socket())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // `POLLRDNORM` is what `POLLIN` means for a TCP socket; an end, a reset
    // or a failure come back in `revents` whatever was asked.
    let mut fd = WSAPOLLFD {
        fd: socket,
        events: POLLRDNORM,
        revents: 0,
    };
    // SAFETY: `fd` is one live `WSAPOLLFD`, and the count says one; the
    // socket stays open while `stream` is borrowed. A timeout of -1 waits
    // until the socket is ready.
    let ready = unsafe { WSAPoll(&mut fd, 1, -1) };
    if ready == SOCKET_ERROR {
        // SAFETY: reads the calling thread's last Winsock error, no memory.
        return Err(io::Error::from_raw_os_error(unsafe { WSAGetLastError() }));
    }
    Ok(())
}
