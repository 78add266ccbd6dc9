//! `Client`: one TCP connection that speaks in lines, and never waits for a
//! line longer than `READ_TIMEOUT`. It knows lines, not what they mean.

use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::READ_TIMEOUT;

/// One TCP connection that speaks in lines.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// What a read brought, for the helpers that accept more than a line.
enum Got {
    Line(String),
    Eof,
    TimedOut,
}

impl Client {
    /// Connects to `addr` with a read timeout of `READ_TIMEOUT`.
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr)
            .unwrap_or_else(|err| panic!("cannot connect to {addr}: {err}"));
        Client::on(stream)
    }

    /// The next connection to `listener`, as a client: for a test that plays
    /// the side that is connected to, such as an invitee.
    pub fn accept(listener: &std::net::TcpListener) -> Client {
        let (stream, _) = listener.accept().expect("a connection arrives");
        Client::on(stream)
    }

    /// A client on a connected `stream`, with the read timeout set.
    fn on(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let writer = stream.try_clone().unwrap();
        Client {
            reader: BufReader::new(stream),
            writer,
        }
    }

    /// The local address of this connection (the server sees this port).
    pub fn local_addr(&self) -> SocketAddr {
        self.writer.local_addr().unwrap()
    }

    /// Sends `line` followed by `\n`.
    #[track_caller]
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    /// Sends bytes exactly as given: partial lines, CRLF, invalid UTF-8.
    #[track_caller]
    pub fn send_raw(&mut self, bytes: &[u8]) {
        if let Err(err) = self.try_send_raw(bytes) {
            panic!("cannot send {:?}: {err}", String::from_utf8_lossy(bytes));
        }
    }

    /// Sends bytes, for a test that expects the server may have closed.
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// The next line, without its line ending. Panics if none comes within
    /// `READ_TIMEOUT` or the connection closes first.
    #[track_caller]
    pub fn recv(&mut self) -> String {
        match self.read_one() {
            Got::Line(line) => line,
            Got::Eof => panic!("expected a line, but the server closed the connection"),
            Got::TimedOut => panic!("expected a line, but none came within {READ_TIMEOUT:?}"),
        }
    }

    /// Sends `line` and returns the first line of the answer.
    #[track_caller]
    pub fn ask(&mut self, line: &str) -> String {
        self.send(line);
        self.recv()
    }

    /// Asserts that the server closes the connection without sending
    /// anything more.
    #[track_caller]
    pub fn expect_eof(&mut self) {
        match self.read_one() {
            Got::Eof => {}
            Got::Line(line) => panic!("expected the connection to close, got {line:?}"),
            Got::TimedOut => {
                panic!("expected the connection to close, but it stayed open for {READ_TIMEOUT:?}")
            }
        }
    }

    /// Asserts that nothing arrives for `quiet`. This is also how a test lets
    /// time pass: it is a read under a timeout, not a sleep.
    #[track_caller]
    pub fn expect_silence(&mut self, quiet: Duration) {
        match self.read_within(quiet) {
            Got::TimedOut => {}
            Got::Line(line) => panic!("expected silence for {quiet:?}, got {line:?}"),
            Got::Eof => panic!("expected silence for {quiet:?}, but the connection closed"),
        }
    }

    /// Waits up to `wait` for a line: `None` if none came. The caller's own
    /// pacing for loops that send something between reads.
    #[track_caller]
    pub fn recv_within(&mut self, wait: Duration) -> Option<String> {
        match self.read_within(wait) {
            Got::Line(line) => Some(line),
            Got::TimedOut => None,
            Got::Eof => panic!("expected a line or nothing, but the connection closed"),
        }
    }

    /// Closes only the sending half, as a client that is done talking.
    pub fn shutdown_write(&self) {
        let _ = self.writer.shutdown(Shutdown::Write);
    }

    /// Reads under the timeout `wait` instead of `READ_TIMEOUT`.
    fn read_within(&mut self, wait: Duration) -> Got {
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let got = self.read_one();
        self.reader
            .get_ref()
            .set_read_timeout(Some(READ_TIMEOUT))
            .unwrap();
        got
    }

    fn read_one(&mut self) -> Got {
        // Read byte-wise through the BufReader so that a timeout in the
        // middle of a line keeps nothing half-read in a local buffer.
        let mut line = Vec::new();
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    assert!(
                        line.is_empty(),
                        "a read timed out in the middle of a line: {:?}",
                        String::from_utf8_lossy(&line)
                    );
                    return Got::TimedOut;
                }
                // The server closing with bytes of ours unread resets the
                // connection; for a test that is the same as an orderly close.
                Err(err) if is_reset(&err) => return Got::Eof,
                Err(err) => panic!("reading from the server failed: {err}"),
            };
            if available.is_empty() {
                assert!(
                    line.is_empty(),
                    "the connection closed in the middle of a line: {:?}",
                    String::from_utf8_lossy(&line)
                );
                return Got::Eof;
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    line.extend_from_slice(&available[..end]);
                    self.reader.consume(end + 1);
                    let text = String::from_utf8(line).expect("the server sends UTF-8");
                    return Got::Line(text.strip_suffix('\r').unwrap_or(&text).to_string());
                }
                None => {
                    let taken = available.len();
                    line.extend_from_slice(available);
                    self.reader.consume(taken);
                }
            }
        }
    }
}

fn is_reset(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    )
}

/// Sends `request` on `client` until the reply is `expected`, for state that
/// another connection's thread changes a moment after that connection saw
/// its own answer (a disconnect). Fails after `READ_TIMEOUT`.
#[track_caller]
pub fn ask_until(client: &mut Client, request: &str, expected: &str) {
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        last = client.ask(request);
        if last == expected {
            return;
        }
    }
    panic!("{request} never answered {expected:?}; the last answer was {last:?}");
}

impl Client {
    /// Connects to `addr` from the loopback address `source`, so that the
    /// server sees another client machine: on Linux every address of
    /// `127.0.0.0/8` is the local host, and the throttle counts each apart.
    #[cfg(target_os = "linux")]
    pub fn connect_from(source: std::net::Ipv4Addr, addr: SocketAddr) -> Client {
        let stream = connect_from(source, addr)
            .unwrap_or_else(|err| panic!("cannot connect to {addr} from {source}: {err}"));
        Client::on(stream)
    }
}

/// A TCP connection to `addr` from the address `source`: the socket is bound
/// before it connects, which `std::net` cannot do.
#[cfg(target_os = "linux")]
fn connect_from(source: std::net::Ipv4Addr, addr: SocketAddr) -> io::Result<TcpStream> {
    use std::os::fd::FromRawFd;

    let SocketAddr::V4(addr) = addr else {
        panic!("connect_from needs an IPv4 server address, not {addr}");
    };
    let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let ok = |result: libc::c_int| {
        if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(result)
        }
    };
    // SAFETY: a plain socket(2) call; the descriptor it returns is owned by
    // the `TcpStream` at once, which closes it on every path below.
    let stream = unsafe {
        let fd = ok(libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
        ))?;
        TcpStream::from_raw_fd(fd)
    };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
    let local = sockaddr(source, 0);
    let remote = sockaddr(*addr.ip(), addr.port());
    // SAFETY: both addresses are valid `sockaddr_in` values that live across
    // the calls, and `len` is their size.
    unsafe {
        ok(libc::bind(fd, (&raw const local).cast(), len))?;
        ok(libc::connect(fd, (&raw const remote).cast(), len))?;
    }
    Ok(stream)
}
