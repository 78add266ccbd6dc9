//! The driver of the app's core: the app thread's loop. It owns the screen,
//! the registry worker and the worker threads it starts; it waits for the
//! next input (a typed line, a worker's event, a lobby's line, a registry
//! notice, a timer), hands it to the core (`App`), and carries out the
//! effects the core returns.
//!
//! Only this loop waits; the core never does, and never waits on a socket.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use chrono::Utc;

use crossbeam_channel::{Receiver, Sender, after, at, never, select};

use crate::chatlog::ChatLog;
use crate::client::LinkNotice;
use crate::conn::MemberConn;
use crate::trace::Trace;
use crate::wire::{Contact, ToMember};

use super::app::{App, Flow};
use super::effect::{Effect, Incoming, LogFailure, LogId, Now, Walk, Worker};
use super::file_desk::FileDesk;
use super::inviter::Inviter;
use super::keys::Keyring;
use super::links::Links;
use super::lobbies::Lobbies;
use super::migration::Rejoiner;
use super::msg::{Event, FromLeader, Outcome, Rejoined};
use super::registry_worker::RegistryWorker;
use super::screen::Screen;
use super::tls::PeerTls;
use super::{CANCEL_CHECK, Console, Input, SCREEN_RETRY};

/// What the driver owns besides the core.
pub(super) struct Driver {
    pub(super) screen: Screen,
    pub(super) registry: RegistryWorker,
    /// Where the workers it starts report.
    pub(super) events: Sender<Event>,
    pub(super) invite_timeout: std::time::Duration,
    pub(super) trace: Trace,
    /// The worker threads it started, joined as the peer quits.
    pub(super) workers: Vec<JoinHandle<()>>,
    /// The user's keys and the known peers' (none: this peer keeps no keys).
    pub(super) keys: Option<Arc<Keyring>>,
    /// Plain text or TLS, for the inviters.
    pub(super) tls: PeerTls,
    /// Where chat logs go.
    pub(super) log_dir: PathBuf,
    /// The chat logs open, by the core's number for each.
    pub(super) logs: HashMap<LogId, ChatLog>,
    /// The lobby hubs the core leads, by its number for each.
    pub(super) lobbies: Lobbies,
    /// The open chat requests and the memberships' links to their leaders.
    pub(super) links: Links,
    /// What stops each rejoiner, by the core's number of its membership.
    pub(super) walks: HashMap<u64, Arc<AtomicBool>>,
    /// The files' threads and the fetch connections waiting.
    pub(super) files: FileDesk,
}

/// What woke the app thread.
// One value per wake-up, moved once into the core: boxing it would buy
// nothing but an allocation per input.
#[allow(clippy::large_enum_variant)]
enum Woken {
    ScreenRetry,
    /// An input for the core.
    Core(Incoming),
    /// A worker's event, which the driver turns into an input.
    Heard(Event),
    /// The keyboard ended, or the user pressed Ctrl-C.
    End,
    /// A channel that ended: nothing to do.
    Nothing,
}

impl Driver {
    /// Carries out what the core's last input caused, in order. What an
    /// effect answers at once (a chat log that failed) goes back to the
    /// core at once, and the effects of that come before the rest.
    pub(super) fn carry_out(&mut self, app: &mut App, effects: Vec<Effect>, now: Now) {
        let mut queue = VecDeque::from(effects);
        while let Some(effect) = queue.pop_front() {
            // A line logged reaches its file before anything leaves for
            // another peer or reaches the screen, so nobody, the user
            // included, can hear of it before it is on disk.
            let flushed = is_seen(&effect).then(|| self.flush_logs());
            let reply = if let Some(Some(failed)) = flushed {
                queue.push_front(effect);
                failed
            } else if let Some(reply) = self.carry(effect) {
                reply
            } else {
                continue;
            };
            let (_, more) = app.handle(reply, now);
            for effect in more.into_iter().rev() {
                queue.push_front(effect);
            }
        }
        let in_use = app.log_in_use();
        self.logs.retain(|log, _| Some(*log) == in_use);
        self.lobbies.keep_only(app.lobby_in_use());
        self.links.keep_only(app.link_in_use());
        self.links.drop_unclaimed();
        self.files.drop_unclaimed();
        let walking = app.walk_in_use();
        self.walks.retain(|lobby, cancel| {
            let wanted = Some(*lobby) == walking;
            if !wanted {
                cancel.store(true, Ordering::SeqCst);
            }
            wanted
        });
    }

    /// Carries out one effect; returns what the core is to hear at once.
    fn carry(&mut self, effect: Effect) -> Option<Incoming> {
        match effect {
            Effect::Show(line) => self.screen.show(line),
            Effect::Chat(line) => self.screen.chat(line),
            Effect::ToRegistry(ask) => self.registry.ask(ask),
            Effect::Start(worker) => return self.start(worker),
            Effect::Answer(request, answer) => return self.links.answer(request, answer),
            Effect::ToLeader(membership, line) => self.links.to_leader(membership, line),
            Effect::TurnAway(conn, line) => {
                if let Some((conn, _)) = self.links.take_member(conn) {
                    turn_away(conn, &line);
                }
            }
            Effect::OpenLog { log, me, leader } => return self.open_log(log, &me, &leader),
            Effect::Log { log, line } => return self.write_log(log, &line),
            Effect::Lobby(lobby, command) => {
                return self
                    .lobbies
                    .carry(lobby, command, &mut self.links)
                    .map(Incoming::Lobby);
            }
            Effect::File(order) => return self.files.carry(order),
            Effect::Verify(name) => {
                let line = match &self.keys {
                    Some(keys) => keys.verify(&name),
                    None => "This peer keeps no keys.".to_string(),
                };
                self.screen.show(line.into());
            }
        }
        None
    }

    fn open_log(&mut self, log: LogId, me: &str, leader: &str) -> Option<Incoming> {
        match ChatLog::create(&self.log_dir, me, leader) {
            Ok(file) => {
                self.logs.insert(log, file);
                None
            }
            Err(err) => Some(Incoming::LogFailed(LogFailure::Create {
                dir: self.log_dir.display().to_string(),
                why: err.to_string(),
            })),
        }
    }

    fn write_log(&mut self, log: LogId, line: &str) -> Option<Incoming> {
        let file = self.logs.get_mut(&log)?;
        let err = file.write(line).err()?;
        self.log_failed(log, &err)
    }

    /// Writes what the chat logs gathered to their files: the app thread
    /// does before it waits, so a burst of lines costs one write.
    fn flush_logs(&mut self) -> Option<Incoming> {
        let (log, err) = self
            .logs
            .iter_mut()
            .find_map(|(log, file)| file.flush().err().map(|err| (*log, err)))?;
        self.log_failed(log, &err)
    }

    /// Closes a chat log that could not be written, and says so to the core.
    fn log_failed(&mut self, log: LogId, err: &std::io::Error) -> Option<Incoming> {
        let file = self.logs.remove(&log)?;
        Some(Incoming::LogFailed(LogFailure::Write {
            path: file.path().display().to_string(),
            why: err.to_string(),
        }))
    }

    fn start(&mut self, worker: Worker) -> Option<Incoming> {
        match worker {
            Worker::Inviter {
                lobby,
                me,
                contact,
                ticket,
            } => self.start_inviter(lobby, me, contact, ticket),
            Worker::Rejoiner(walk) => self.start_rejoiner(walk),
            Worker::MemberLink {
                membership,
                leader,
                conn,
                timing,
            } => {
                let (handle, linked) = self.links.start(membership, &leader, conn, timing);
                self.workers.extend(handle);
                return Some(linked);
            }
        }
        None
    }

    /// Starts a rejoiner, and keeps what stops it.
    fn start_rejoiner(&mut self, walk: Walk) {
        let Walk {
            lobby,
            walk,
            claim,
            deadline,
            identity,
        } = walk;
        let cancel = Arc::new(AtomicBool::new(false));
        self.walks.insert(lobby, cancel.clone());
        let rejoiner = Rejoiner {
            lobby,
            walk,
            claim,
            deadline,
            cancel,
            events: self.events.clone(),
            tls: self.tls.clone(),
            trace: self.trace,
            identity,
        };
        self.spawned(rejoiner.spawn(), |err| Event::Rejoined {
            lobby,
            outcome: Rejoined::NoThread(err.to_string()),
        });
    }

    /// Keeps the handle of a worker started, or tells the core (as the
    /// worker's own report) that it could not start.
    fn spawned(
        &mut self,
        started: std::io::Result<JoinHandle<()>>,
        failed: impl FnOnce(std::io::Error) -> Event,
    ) {
        self.workers.retain(|h| !h.is_finished());
        match started {
            Ok(handle) => self.workers.push(handle),
            Err(err) => {
                let _ = self.events.send(failed(err));
            }
        }
    }

    fn start_inviter(&mut self, lobby: u64, me: String, contact: Contact, ticket: String) {
        let name = contact.name.clone();
        let job = Inviter {
            lobby,
            me,
            contact,
            ticket,
            timeout: self.invite_timeout,
            cancel: self.lobbies.cancel(lobby),
            events: self.events.clone(),
            tls: self.tls.clone(),
            trace: self.trace,
        };
        let started = thread::Builder::new()
            .name("inviter".into())
            .spawn(move || job.run());
        // The core hears of a failure as of any invitee out of reach.
        self.spawned(started, |err| Event::Invited {
            lobby,
            name,
            outcome: Outcome::Unreachable(format!("cannot send a chat request: {err}")),
        });
    }

    /// A worker's event as the core's input: a chat request by number (its
    /// answer channel stays with the driver); `PROVE` answered at once
    /// from the core's `seat_held`.
    fn heard(&mut self, app: &App, event: Event) -> Option<Incoming> {
        let event = match event {
            Event::Prove { reply } => {
                let _ = reply.send(app.seat_held());
                return None;
            }
            Event::File(news) => return Some(self.files.heard(news)),
            Event::Fetch {
                fetch,
                proved,
                conn,
            } => return Some(self.files.fetched(fetch, proved, *conn)),
            other => other,
        };
        self.links.heard(event)
    }

    /// The core leaves its lobby and answers the chat requests waiting;
    /// that is carried out.
    pub(super) fn quit(&mut self, app: &mut App) {
        app.quit();
        let effects = app.out.take();
        self.carry_out(app, effects, now());
    }

    /// Joins the workers, lets the registry worker log out, and says goodbye.
    pub(super) fn finish(mut self) {
        self.files.finish();
        for handle in self.workers {
            let _ = handle.join();
        }
        self.registry.stop();
        self.screen.say("Bye.");
        self.screen.finish();
    }
}

/// The app thread's loop: one input at a time, until the user quits or the
/// input ends.
pub(super) fn drive(
    app: &mut App,
    driver: &mut Driver,
    console: &Console,
    events_rx: &Receiver<Event>,
    link_rx: &Receiver<LinkNotice>,
) {
    greet(app, driver, link_rx);
    let mut asked = false;
    loop {
        if let (Some(wants), false, Some(want)) = (&console.wants, asked, app.want()) {
            let _ = wants.send(want);
            asked = true;
        }
        let woken = match driver.flush_logs() {
            Some(failed) => Woken::Core(failed),
            None => wait(app, driver, console, events_rx, link_rx),
        };
        let input = match woken {
            Woken::ScreenRetry => {
                driver.screen.pump();
                continue;
            }
            Woken::Core(input) => input,
            Woken::Heard(event) => match driver.heard(app, event) {
                Some(input) => input,
                None => continue,
            },
            Woken::End => break,
            Woken::Nothing => continue,
        };
        asked &= !matches!(input, Incoming::Line(_) | Incoming::Stale(_));
        let now = now();
        let (flow, effects) = app.handle(input, now);
        // Before the effects, so that Tab knows everyone on the screen.
        if let Some(names) = &console.names {
            names.set(super::names::in_stage(&app.stage));
        }
        if let Some(prompt) = &console.prompt {
            prompt.set(app.prompt_text());
        }
        driver.carry_out(app, effects, now);
        if let Flow::Quit = flow {
            break;
        }
    }
}

/// The first question, after what the link found at start (a registry
/// not reachable yet).
fn greet(app: &mut App, driver: &mut Driver, link_rx: &Receiver<LinkNotice>) {
    for notice in link_rx.try_iter() {
        app.on_link(notice);
    }
    app.prompt();
    let effects = app.out.take();
    driver.carry_out(app, effects, now());
}

/// True for an effect that sends a line to another peer or to the screen.
fn is_seen(effect: &Effect) -> bool {
    matches!(
        effect,
        Effect::ToLeader(..)
            | Effect::TurnAway(..)
            | Effect::Answer(..)
            | Effect::Lobby(..)
            | Effect::Show(..)
            | Effect::Chat(..)
    )
}

/// Writes `line` on a connection turned away; it closes as it is dropped.
fn turn_away(mut conn: MemberConn, line: &ToMember) {
    // A fresh socket takes one short line at once; the timeout only bounds
    // a peer that is not reading at all.
    let _ = conn.socket().set_write_timeout(Some(CANCEL_CHECK));
    let _ = conn.send(line);
}

/// The time, read once per input.
pub(super) fn now() -> Now {
    Now {
        at: Instant::now(),
        utc: Utc::now(),
    }
}

/// Waits for the next input.
fn wait(
    app: &App,
    driver: &Driver,
    console: &Console,
    events_rx: &Receiver<Event>,
    link_rx: &Receiver<LinkNotice>,
) -> Woken {
    // Lines held back for a full screen are tried again now and then.
    let screen_retry = if driver.screen.is_idle() {
        never()
    } else {
        after(SCREEN_RETRY)
    };
    let repeats = app.repeats.due().map_or_else(never, at);
    let offers = app.files.next_expiry().map_or_else(never, at);
    let lobby_notices = driver.lobbies.notices(app.lobby_in_use());
    let leader_lines = driver.links.feed(app.link_in_use());
    let core = |input| Woken::Core(input);
    select! {
        recv(screen_retry) -> _ => Woken::ScreenRetry,
        recv(repeats) -> _ => core(Incoming::Repeats),
        recv(offers) -> _ => core(Incoming::OffersDue),
        // A reader that ended without a word is a leader gone.
        recv(leader_lines) -> line => {
            core(Incoming::Feed(line.unwrap_or(FromLeader::Gone { silent: false })))
        }
        recv(console.input) -> input => match input {
            Ok(Input::Line(line)) => core(Incoming::Line(line)),
            Ok(Input::Typed { line, seen }) => core(typed(line, seen, driver.screen.asked())),
            Ok(Input::Stale(line)) => core(Incoming::Stale(line)),
            Ok(Input::Eof | Input::Interrupt) | Err(_) => Woken::End,
        },
        recv(events_rx) -> event => event.map_or(Woken::Nothing, Woken::Heard),
        recv(lobby_notices) -> notice => {
            notice.map_or(Woken::Nothing, |n| core(Incoming::Notice(n)))
        }
        recv(link_rx) -> notice => notice.map_or(Woken::Nothing, |n| core(Incoming::Link(n))),
    }
}

/// A line typed at a terminal that had shown `seen` questions when Enter
/// was pressed, after `asked` were handed to it: one that had not seen the
/// newest question was meant for an older one (the stage changed in the
/// moment before the new question was drawn), so it is stale, never that
/// question's answer.
fn typed(line: String, seen: u64, asked: u64) -> Incoming {
    if seen < asked {
        Incoming::Stale(line)
    } else {
        Incoming::Line(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `typed` makes a line with `seen` after `asked` stale; the
    /// line itself is kept either way.
    fn stale(seen: u64, asked: u64) -> bool {
        let (stale, line) = match typed("1".to_string(), seen, asked) {
            Incoming::Stale(line) => (true, line),
            Incoming::Line(line) => (false, line),
            _ => panic!("a typed line stays a line"),
        };
        assert_eq!(line, "1");
        stale
    }

    #[test]
    fn a_line_typed_before_the_newest_question_was_shown_is_stale() {
        assert!(!stale(0, 0));
        assert!(!stale(3, 3));
        assert!(stale(3, 4));
        assert!(stale(0, 1));
        assert!(stale(2, 5));
        // More seen than asked cannot happen; it is no reason to drop a line.
        assert!(!stale(4, 3));
    }
}
