//! `Setup`: the connections of one lobby run, to a `Lobby` hub (in this
//! process or in one of its own) or to a channel on an IRC server, and
//! their teardown. Every connection is opened by `link::connect`, plain or
//! TLS; the only blocking reads here are the IRC registration's, under a
//! timeout.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use p2pchat::conn::{ReadHalf, WriteHalf};
use p2pchat::crypto::Identity;

use super::hub::HubHost;
use super::proto::Proto;
use super::{CHANNEL, IrcTarget};
use crate::link::{Link, connect};
use crate::{BenchError, Security};

/// The connections of one run, ready to measure.
pub(super) struct Setup {
    pub(super) proto: Proto,
    pub(super) target: String,
    pub(super) security: Security,
    pub(super) memory_of: String,
    pub(super) sender: WriteHalf,
    /// Taken by the reader threads when they start; they write to a
    /// receiver only for an IRC `PONG`.
    pub(super) receivers: Vec<Link>,
    /// The hub, when this process hosts it.
    pub(super) host: Option<HubHost>,
    /// Reads and discards what arrives for the sender.
    pub(super) drain: Option<JoinHandle<()>>,
    pub(super) flood_exempt: Option<bool>,
}

impl Setup {
    /// Members for the hub at `addr`, connected in the order the hub names
    /// them (`sender` first); over TLS each presents a key of its own, as
    /// a member's peer does.
    pub(super) fn hub(
        addr: SocketAddr,
        security: Security,
        members: usize,
        host: Option<HubHost>,
    ) -> Result<Setup, BenchError> {
        let join = || -> Result<Link, BenchError> {
            let key = match security {
                Security::Tls(_) => Some(
                    Identity::generate()
                        .map_err(|err| BenchError::Setup(format!("a member's key: {err}")))?,
                ),
                Security::Plain => None,
            };
            connect(addr, security, key.as_ref().map(Identity::tls))
        };
        let sender = join()?;
        let mut receivers = Vec::with_capacity(members - 1);
        for _ in 1..members {
            receivers.push(join()?);
        }
        let drain = Some(spawn_drain(sender.read)?);
        let memory_of = match host {
            Some(_) => "bench process (hosts the hub and the load)",
            None => "hub process (bench serve-lobby)",
        };
        Ok(Setup {
            proto: Proto::Hub,
            target: format!("p2pchat {}", security.label()),
            security,
            memory_of: memory_of.into(),
            sender: sender.write,
            receivers,
            host,
            drain,
            flood_exempt: None,
        })
    }

    pub(super) fn irc(target: &IrcTarget, members: usize) -> Result<Setup, BenchError> {
        let (sender, flood_exempt) = irc_sender(target)?;
        let mut receivers = Vec::with_capacity(members - 1);
        for i in 1..members {
            let mut member = connect(target.addr, target.security, None)?;
            // The nick stays within RFC 2812's nine characters.
            let nick = format!("r{i}");
            let hello = format!("NICK {nick}\r\nUSER {nick} 0 * :bench\r\nJOIN {CHANNEL}\r\n");
            member.write.write_all(hello.as_bytes())?;
            receivers.push(member);
        }
        let drain = Some(spawn_drain(sender.read)?);
        Ok(Setup {
            proto: Proto::Irc,
            target: format!("irc {} {}", target.addr, target.security.label()),
            security: target.security,
            memory_of: match target.pid {
                Some(pid) => format!("IRC server process {pid}"),
                None => "IRC server (no --irc-pid given)".into(),
            },
            sender: sender.write,
            receivers,
            host: None,
            drain,
            flood_exempt: Some(flood_exempt),
        })
    }

    /// Closes every connection and waits for the threads of the run.
    pub(super) fn finish(&mut self) {
        if let Some(host) = self.host.take() {
            host.close();
        }
        let _ = self.sender.socket().shutdown(Shutdown::Both);
        for member in &self.receivers {
            let _ = member.read.socket().shutdown(Shutdown::Both);
        }
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
    }
}

/// The IRC sender, registered, an operator with mode `+F` if it can be,
/// and in the channel; and whether it got `+F`.
fn irc_sender(target: &IrcTarget) -> Result<(Link, bool), BenchError> {
    let Link {
        read,
        write: mut sender,
    } = connect(target.addr, target.security, None)?;
    read.socket()
        .set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(read);
    let nick = "bsend";
    sender.write_all(format!("NICK {nick}\r\nUSER {nick} 0 * :bench\r\n").as_bytes())?;
    irc_wait(&mut reader, &mut sender, &[" 001 "], &[" 433 ", "ERROR"])?;
    let mut flood_exempt = false;
    if let Some((name, password)) = &target.oper {
        sender.write_all(format!("OPER {name} {password}\r\n").as_bytes())?;
        let got = irc_wait(
            &mut reader,
            &mut sender,
            &[" 381 ", " 464 ", " 491 "],
            &["ERROR"],
        )?;
        if got.contains(" 381 ") {
            sender.write_all(format!("MODE {nick} +F\r\n").as_bytes())?;
            let got = irc_wait(
                &mut reader,
                &mut sender,
                &[" MODE ", " 481 ", " 501 "],
                &["ERROR"],
            )?;
            flood_exempt = got.contains(" MODE ") && got.contains('F');
        }
    }
    sender.write_all(format!("JOIN {CHANNEL}\r\n").as_bytes())?;
    irc_wait(
        &mut reader,
        &mut sender,
        &[" 366 "],
        &["ERROR", " 471 ", " 405 "],
    )?;
    // What the reader buffered past the reply is only for the drain, which
    // discards it anyway.
    let read = reader.into_inner();
    read.socket().set_read_timeout(None)?;
    Ok((
        Link {
            read,
            write: sender,
        },
        flood_exempt,
    ))
}

/// Reads IRC lines until one holds a string of `wanted` (returned) or of
/// `fatal` (an error), under the socket's read timeout; a `PING` is
/// answered on `writer`.
fn irc_wait(
    reader: &mut BufReader<ReadHalf>,
    writer: &mut WriteHalf,
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
            writer.write_all(pong.as_bytes())?;
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
fn spawn_drain(mut stream: ReadHalf) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("bench-drain".into())
        .spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(1..) = io::Read::read(&mut stream, &mut buf) {}
        })
}
