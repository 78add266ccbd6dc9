//! `Setup`: the connections of one lobby run, to a `Lobby` hub hosted in
//! this process or to a channel on an IRC server, and their teardown. The
//! only blocking reads here are the IRC registration's, under a timeout.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::unbounded;
use p2pchat::conn::MemberConn;
use p2pchat::lobby::{Lobby, LobbyConfig};
use p2pchat::trace::Trace;

use super::proto::Proto;
use super::{CHANNEL, IrcTarget};
use crate::BenchError;

/// The connections of one run, ready to measure.
pub(super) struct Setup {
    pub(super) proto: Proto,
    pub(super) target: String,
    pub(super) memory_of: String,
    pub(super) sender: TcpStream,
    pub(super) receivers: Vec<TcpStream>,
    pub(super) lobby: Option<Lobby>,
    /// Reads and discards what arrives for the sender.
    pub(super) drain: Option<JoinHandle<()>>,
    pub(super) flood_exempt: Option<bool>,
}

impl Setup {
    pub(super) fn hub(members: usize) -> Result<Setup, BenchError> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        // The leader's notices are not read: the benchmark has no user
        // interface, and a dropped receiver makes each notice a no-op.
        let (notices, _) = unbounded();
        let lobby = Lobby::start(LobbyConfig::new("leader"), notices)?;
        let admit = |name: String| -> io::Result<TcpStream> {
            let client = TcpStream::connect(addr)?;
            let (server, _) = listener.accept()?;
            lobby.admit(name.clone(), MemberConn::new(server, &name, Trace::off())?);
            Ok(client)
        };
        let sender = admit("sender".into())?;
        let mut receivers = Vec::with_capacity(members - 1);
        for i in 1..members {
            receivers.push(admit(format!("m{i}"))?);
        }
        let drain = Some(spawn_drain(&sender)?);
        Ok(Setup {
            proto: Proto::Hub,
            target: "p2pchat".into(),
            memory_of: "bench process (hosts the hub and the load)".into(),
            sender,
            receivers,
            lobby: Some(lobby),
            drain,
            flood_exempt: None,
        })
    }

    pub(super) fn irc(target: &IrcTarget, members: usize) -> Result<Setup, BenchError> {
        let (sender, flood_exempt) = irc_sender(target)?;
        let mut receivers = Vec::with_capacity(members - 1);
        for i in 1..members {
            let stream = TcpStream::connect(target.addr)?;
            // The nick stays within RFC 2812's nine characters.
            let nick = format!("r{i}");
            let hello = format!("NICK {nick}\r\nUSER {nick} 0 * :bench\r\nJOIN {CHANNEL}\r\n");
            (&stream).write_all(hello.as_bytes())?;
            receivers.push(stream);
        }
        let drain = Some(spawn_drain(&sender)?);
        Ok(Setup {
            proto: Proto::Irc,
            target: format!("irc {}", target.addr),
            memory_of: match target.pid {
                Some(pid) => format!("IRC server process {pid}"),
                None => "IRC server (no --irc-pid given)".into(),
            },
            sender,
            receivers,
            lobby: None,
            drain,
            flood_exempt: Some(flood_exempt),
        })
    }

    /// Closes every connection and waits for the threads of the run.
    pub(super) fn finish(&mut self) {
        if let Some(lobby) = self.lobby.take() {
            lobby.close("BENCH_OVER");
        }
        let _ = self.sender.shutdown(Shutdown::Both);
        for stream in &self.receivers {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
    }
}

/// The IRC sender, registered, an operator with mode `+F` if it can be,
/// and in the channel; and whether it got `+F`.
fn irc_sender(target: &IrcTarget) -> Result<(TcpStream, bool), BenchError> {
    let sender = TcpStream::connect(target.addr)?;
    sender.set_nodelay(true)?;
    sender.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(sender.try_clone()?);
    let nick = "bsend";
    (&sender).write_all(format!("NICK {nick}\r\nUSER {nick} 0 * :bench\r\n").as_bytes())?;
    irc_wait(&mut reader, &[" 001 "], &[" 433 ", "ERROR"])?;
    let mut flood_exempt = false;
    if let Some((name, password)) = &target.oper {
        (&sender).write_all(format!("OPER {name} {password}\r\n").as_bytes())?;
        let got = irc_wait(&mut reader, &[" 381 ", " 464 ", " 491 "], &["ERROR"])?;
        if got.contains(" 381 ") {
            (&sender).write_all(format!("MODE {nick} +F\r\n").as_bytes())?;
            let got = irc_wait(&mut reader, &[" MODE ", " 481 ", " 501 "], &["ERROR"])?;
            flood_exempt = got.contains(" MODE ") && got.contains('F');
        }
    }
    (&sender).write_all(format!("JOIN {CHANNEL}\r\n").as_bytes())?;
    irc_wait(&mut reader, &[" 366 "], &["ERROR", " 471 ", " 405 "])?;
    drop(reader);
    sender.set_read_timeout(None)?;
    Ok((sender, flood_exempt))
}

/// Reads IRC lines until one holds a string of `wanted` (returned) or of
/// `fatal` (an error), under the socket's read timeout.
fn irc_wait(
    reader: &mut BufReader<TcpStream>,
    wanted: &[&str],
    fatal: &[&str],
) -> Result<String, BenchError> {
    // Registration sends a few dozen lines; a server that sends a thousand
    // without the one we wait for is not going to send it.
    for _ in 0..1000 {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => {
                return Err(BenchError::Setup(
                    "the IRC server closed the connection".into(),
                ));
            }
            Ok(_) => {}
            Err(err) => return Err(BenchError::Setup(format!("waiting for {wanted:?}: {err}"))),
        }
        if let Some(rest) = line.strip_prefix("PING") {
            let pong = format!("PONG{rest}");
            reader.get_ref().write_all(pong.as_bytes())?;
            continue;
        }
        if wanted.iter().any(|w| line.contains(w)) {
            return Ok(line);
        }
        if fatal.iter().any(|f| line.contains(f)) {
            return Err(BenchError::Setup(format!(
                "the IRC server said: {}",
                line.trim_end()
            )));
        }
    }
    Err(BenchError::Setup(format!(
        "no {wanted:?} from the IRC server"
    )))
}

/// A thread that reads and discards what arrives on `stream` until it ends.
fn spawn_drain(stream: &TcpStream) -> io::Result<JoinHandle<()>> {
    let mut stream = stream.try_clone()?;
    thread::Builder::new()
        .name("bench-drain".into())
        .spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(1..) = io::Read::read(&mut stream, &mut buf) {}
        })
}
