//! The app thread's state: the events background threads send it, the
//! stages of the user's session, and the event loop's dispatch of a typed
//! line, an event or a registry notice to the menu (`menu.rs`) or the lobby
//! (`lobby_stage.rs`).
//!
//! Only the app thread holds an `App`; it must never block on a socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, never};

use crate::chatlog::ChatLog;
use crate::client::{LinkNotice, RegistryLink};
use crate::conn::MemberConn;
use crate::lobby::{Lobby, Notice};
use crate::screen::ScreenLine;
use crate::wire::{BusyReason, Contact, Rejoin, ToLeader, ToMember};

use super::invitations::Invitations;
use super::migration::Rejoined;
use super::screen::Screen;
use super::standing::Standing;
use super::succession::Move;
use super::{ADD_PROMPT, MENU_PROMPT, PeerConfig, WELCOME_PROMPT, Want};

/// What background threads tell the app thread.
pub(super) enum Event {
    /// A chat request arrived; `answer` waits for the user's decision.
    Invitation {
        from: String,
        ticket: Option<String>,
        answer: Sender<ChatAnswer>,
    },
    /// An invitee answered one of our chat requests (or did not).
    Invited {
        lobby: u64,
        name: String,
        outcome: Outcome,
    },
    /// A member of a lobby came back (`REJOIN`) on our chat listener.
    Rejoin { claim: Rejoin, conn: MemberConn },
    /// A rejoiner's walk of the roster ended (`migration.rs`).
    Rejoined { lobby: u64, outcome: Rejoined },
    /// The chat request that `answer` would answer is no longer open: the
    /// leader closed the connection, or it `expired` unanswered.
    Withdrawn {
        answer: Sender<ChatAnswer>,
        expired: bool,
    },
}

/// What the member reader of a lobby we are a member of tells the app,
/// over that membership's own bounded channel.
pub(super) enum FromLeader {
    /// A line from the leader.
    Line(ToMember),
    /// The connection to the leader closed, or went `silent` too long.
    Gone { silent: bool },
}

/// The user's answer to a chat request.
pub(super) enum ChatAnswer {
    Accept {
        outbox: Receiver<ToLeader>,
        /// Where the member reader sends the leader's lines.
        feed: Sender<FromLeader>,
    },
    Reject,
    Busy(BusyReason),
}

/// How a chat request we sent ended.
pub(super) enum Outcome {
    Accepted { addr: SocketAddr, conn: MemberConn },
    Rejected,
    Busy(BusyReason),
    NoAnswer,
    Unreachable(String),
}

pub(super) enum Flow {
    Go,
    Quit,
}

#[derive(Clone, Copy)]
pub(super) enum Purpose {
    Register,
    Join,
}

pub(super) enum Stage {
    Welcome,
    Name(Purpose),
    Password(Purpose, String),
    /// A new password typed once without echo, asked again to be sure.
    Repeat {
        name: String,
        password: String,
    },
    Menu,
    Search,
    ConfirmAdd(Contact),
    Leading(Leading),
    Member(Membership),
}

pub(super) struct Leading {
    pub(super) id: u64,
    pub(super) lobby: Lobby,
    /// This lobby's notices, and no other's.
    pub(super) notices: Receiver<Notice>,
    pub(super) log: Option<ChatLog>,
    /// Chat requests not answered yet.
    pub(super) invitations: Invitations,
    pub(super) cancel: Arc<AtomicBool>,
}

pub(super) struct Membership {
    pub(super) id: u64,
    pub(super) leader: String,
    pub(super) outbox: Sender<ToLeader>,
    /// This membership's lines from the leader, and no other's.
    pub(super) feed: Receiver<FromLeader>,
    pub(super) members: Vec<String>,
    /// Opened when the leader admits us (`MEMBERS`): a request withdrawn
    /// before that leaves no log.
    pub(super) log: Option<ChatLog>,
    /// Set once the leader sent `MEMBERS`.
    pub(super) admitted: bool,
    /// True while the leader's `HISTORY` lines are being shown, so the
    /// first live line after them can say where they end.
    pub(super) earlier: bool,
    /// The credential, roster and numbered messages that let the lobby
    /// outlive its leader.
    pub(super) standing: Box<Standing>,
    /// True while a rejoiner looks for the lobby's leader: typed lines wait.
    pub(super) rejoining: bool,
    /// Set when the user leaves, so that a rejoiner under way gives up.
    pub(super) cancel: Arc<AtomicBool>,
}

pub(super) struct Pending {
    pub(super) from: String,
    pub(super) answer: Sender<ChatAnswer>,
}

pub(super) struct App {
    pub(super) config: PeerConfig,
    pub(super) chat_port: u16,
    pub(super) screen: Screen,
    /// Ask a new password twice (it is typed without echo).
    pub(super) confirm_password: bool,
    pub(super) link: RegistryLink,
    pub(super) events: Sender<Event>,
    pub(super) me: Option<Contact>,
    pub(super) contacts: Vec<Contact>,
    pub(super) stage: Stage,
    pub(super) pending: Option<Pending>,
    pub(super) next_lobby: u64,
    pub(super) inviters: Vec<JoinHandle<()>>,
    /// Why the rejoiner under way looks for a leader.
    pub(super) moving: Option<Move>,
    pub(super) repeats: Repeats,
}

/// A warning that keeps coming (a flood of forged chat requests) is shown
/// once; its repeats are counted and summed up in one line a little later.
#[derive(Default)]
pub(super) struct Repeats {
    /// The warning shown last, and when.
    last: Option<(String, Instant)>,
    count: u64,
    /// When the count is shown, if there is one.
    pub(super) due: Option<Instant>,
}

/// How long repeats of a warning are counted before the count is shown.
const REPEAT_WINDOW: Duration = Duration::from_secs(1);

pub(super) fn write_log(log: &mut Option<ChatLog>, screen: &Screen, event: &str) {
    if let Some(file) = log
        && let Err(err) = file.write(event)
    {
        screen.show(ScreenLine::Notice(format!(
            "Cannot write the chat log {}: {err}",
            file.path().display()
        )));
        *log = None;
    }
}

impl App {
    pub(super) fn say(&self, text: impl Into<ScreenLine>) {
        self.screen.show(text.into());
    }

    /// Says what the system has to say about the lobby or the registry,
    /// which a terminal shows dimmed.
    pub(super) fn notice(&self, text: String) {
        self.say(ScreenLine::Notice(text));
    }

    pub(super) fn my_name(&self) -> String {
        self.me
            .as_ref()
            .map_or_else(String::new, |me| me.name.clone())
    }

    pub(super) fn want(&self) -> Want {
        match self.stage {
            Stage::Password(..) | Stage::Repeat { .. } if self.pending.is_none() => Want::Secret,
            _ => Want::Line,
        }
    }

    /// Shows the question the current stage waits on.
    pub(super) fn prompt(&self) {
        if let Some(pending) = &self.pending {
            self.say(format!(
                "Chat request from '{}'. Accept? ['OK', 'REJECT']",
                pending.from
            ));
            return;
        }
        match &self.stage {
            Stage::Welcome => self.say(WELCOME_PROMPT),
            Stage::Name(_) => self.say("User name:"),
            Stage::Password(..) => self.say("Password:"),
            Stage::Repeat { .. } => self.say("Password again:"),
            Stage::Menu => self.say(MENU_PROMPT),
            Stage::Search => self.say("User name to search:"),
            Stage::ConfirmAdd(_) => self.say(ADD_PROMPT),
            Stage::Leading(_) | Stage::Member(_) => {}
        }
    }

    pub(super) fn on_line(&mut self, line: &str) -> Flow {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim() == "/quit" {
            return Flow::Quit;
        }
        if let Some(pending) = self.pending.take() {
            self.answer_request(pending, line.trim());
            return Flow::Go;
        }
        let stage = std::mem::replace(&mut self.stage, Stage::Welcome);
        self.stage = match stage {
            Stage::Welcome => self.welcome(line.trim()),
            Stage::Name(purpose) => self.name(purpose, line.trim()),
            Stage::Password(purpose, name) => self.password(purpose, name, line),
            Stage::Repeat { name, password } => self.repeat_password(name, password, line),
            Stage::Menu => self.menu(line.trim()),
            Stage::Search => self.search(line.trim()),
            Stage::ConfirmAdd(contact) => self.confirm_add(contact, line.trim()),
            Stage::Leading(leading) => self.lead(leading, line),
            Stage::Member(membership) => self.member(membership, line),
        };
        self.prompt();
        Flow::Go
    }

    /// Dispatches what a background thread reported; each arm is one call.
    pub(super) fn on_event(&mut self, event: Event) {
        match event {
            Event::Invitation {
                from,
                ticket,
                answer,
            } => self.on_invitation(from, ticket, answer),
            Event::Invited {
                lobby,
                name,
                outcome,
            } => self.on_invited(lobby, name, outcome),
            Event::Rejoin { claim, conn } => self.on_rejoin(claim, conn),
            Event::Rejoined { lobby, outcome } => self.on_rejoined(lobby, outcome),
            Event::Withdrawn { answer, expired } => self.on_withdrawn(&answer, expired),
        }
    }

    /// The receivers of the current lobby: its notices if we lead it, the
    /// leader's lines if we are a member; `never` otherwise.
    pub(super) fn lobby_feeds(&self) -> (Receiver<Notice>, Receiver<FromLeader>) {
        match &self.stage {
            Stage::Leading(leading) => (leading.notices.clone(), never()),
            Stage::Member(membership) => (never(), membership.feed.clone()),
            _ => (never(), never()),
        }
    }

    /// What the member reader of the current membership sent.
    pub(super) fn on_feed(&mut self, feed: FromLeader) {
        let Stage::Member(membership) = &self.stage else {
            return;
        };
        let id = membership.id;
        match feed {
            FromLeader::Line(line) => self.on_leader_line(id, line),
            FromLeader::Gone { silent } => self.on_leader_gone(id, silent),
        }
    }

    /// The chat request waiting for the user is gone: the user is told,
    /// and nothing is logged, as no lobby was joined.
    fn on_withdrawn(&mut self, answer: &Sender<ChatAnswer>, expired: bool) {
        let Some(pending) = &self.pending else {
            return;
        };
        if !pending.answer.same_channel(answer) {
            return;
        }
        let from = pending.from.clone();
        self.pending = None;
        let why = if expired {
            "it was not answered in time"
        } else {
            "the leader closed the connection"
        };
        self.say(format!(
            "The chat request from '{from}' was withdrawn: {why}."
        ));
        self.prompt();
    }

    /// Shows `warning`, or counts it if it is the one shown last.
    /// A warning that comes again soon after it was shown (or while its
    /// repeats are being counted) is counted instead.
    pub(super) fn warn(&mut self, warning: String) {
        let now = Instant::now();
        let repeat = match &self.repeats.last {
            Some((last, shown)) => {
                *last == warning
                    && (self.repeats.count > 0 || now.duration_since(*shown) < REPEAT_WINDOW)
            }
            None => false,
        };
        if repeat {
            self.repeats.count += 1;
            self.repeats.due.get_or_insert(now + REPEAT_WINDOW);
            return;
        }
        self.show_repeats();
        self.notice(warning.clone());
        self.repeats.last = Some((warning, now));
    }

    /// Shows how often the last warning came again since it was shown.
    pub(super) fn show_repeats(&mut self) {
        self.repeats.due = None;
        if let Some((_, shown)) = &mut self.repeats.last {
            // The count stands for the warning: the next one is a repeat
            // only if it comes soon after this.
            *shown = Instant::now();
        }
        let count = std::mem::take(&mut self.repeats.count);
        if count > 0 {
            let times = if count == 1 { "time" } else { "times" };
            self.say(format!("(The same warning came {count} more {times}.)"));
        }
    }

    /// A chat request arrived: busy unless the user is at a menu with no
    /// other request open; rejected if its ticket does not hold; otherwise
    /// the user is asked.
    fn on_invitation(&mut self, from: String, ticket: Option<String>, answer: Sender<ChatAnswer>) {
        let busy = if self.pending.is_some() {
            Some(BusyReason::Answering)
        } else {
            match self.stage {
                Stage::Menu | Stage::Search | Stage::ConfirmAdd(_) => None,
                Stage::Leading(_) | Stage::Member(_) => Some(BusyReason::InChat),
                Stage::Welcome | Stage::Name(_) | Stage::Password(..) | Stage::Repeat { .. } => {
                    Some(BusyReason::Unsaid)
                }
            }
        };
        if let Some(reason) = busy {
            let _ = answer.send(ChatAnswer::Busy(reason));
            return;
        }
        // Only a request the user would be asked about needs its
        // ticket checked; a busy answer tells a forger nothing.
        if let Err(why) = self.check_ticket(&from, ticket) {
            let _ = answer.send(ChatAnswer::Reject);
            let repeated = self.repeats.count;
            self.warn(format!(
                "Warning: refused a chat request claiming to be from '{from}': {why}."
            ));
            if self.repeats.count == repeated {
                self.prompt();
            }
            return;
        }
        self.pending = Some(Pending { from, answer });
        self.prompt();
    }

    /// The connection to the leader of lobby `lobby` ended; if we are still
    /// its member, the lobby is over for us.
    fn on_leader_gone(&mut self, lobby: u64, silent: bool) {
        let Stage::Member(membership) = &self.stage else {
            return;
        };
        if membership.id != lobby {
            return;
        }
        let Stage::Member(mut membership) = std::mem::replace(&mut self.stage, Stage::Menu) else {
            unreachable!("checked just above");
        };
        if !membership.admitted {
            // The leader went away before it let us in: no lobby was joined.
            self.say(format!(
                "The chat request from '{}' was withdrawn: the leader closed the connection.",
                membership.leader
            ));
            self.prompt();
            return;
        }
        let why = if silent {
            "the leader stopped answering"
        } else {
            "lost the connection to the leader"
        };
        if membership.admitted && membership.standing.can_rejoin() {
            self.stage = self.leader_lost(membership, why);
            self.prompt();
            return;
        }
        write_log(
            &mut membership.log,
            &self.screen,
            &format!("* lobby ended: {why}"),
        );
        self.notice(format!("The lobby has ended ({why})."));
        self.prompt();
    }

    pub(super) fn on_link(&mut self, notice: LinkNotice) {
        // Only a user who has joined has chats that could go on.
        let chats_go_on = if self.me.is_some() {
            "; chats go on"
        } else {
            ""
        };
        match notice {
            LinkNotice::NotYet(why) => self.say(format!(
                "The registry is not reachable yet {why}; trying again in the background."
            )),
            LinkNotice::Lost(why) => self.say(format!(
                "The registry is unreachable: {why}. Reconnecting in the background{chats_go_on}."
            )),
            LinkNotice::Stopped => self.say(format!(
                "The registry stopped. Reconnecting in the background{chats_go_on}."
            )),
            LinkNotice::Reachable => self.say("The registry is reachable now."),
            LinkNotice::Back(contact) => {
                self.notice(format!(
                    "Reconnected to the registry; you are online again as {}.",
                    contact.name
                ));
                self.me = Some(contact);
            }
            LinkNotice::Replaced => self.replaced(),
            LinkNotice::GaveUp(why) => {
                self.me = None;
                self.say(format!(
                    "Stopped rejoining the registry: {why}. Join again from the first menu."
                ));
                self.back_to_welcome();
            }
        }
    }

    /// The same user joined from somewhere else: this peer is logged out
    /// and goes back to the first menu (a lobby goes on until it ends).
    fn replaced(&mut self) {
        let name = self.my_name();
        self.me = None;
        self.say(format!(
            "You ({name}) joined from somewhere else, so the registry logged this peer out. \
             Join again with '2' to come back here."
        ));
        self.back_to_welcome();
    }

    /// Goes to the first menu if the user is at a menu now; in a lobby, the
    /// menu shows the first menu when the lobby ends.
    fn back_to_welcome(&mut self) {
        if matches!(
            self.stage,
            Stage::Menu | Stage::Search | Stage::ConfirmAdd(_)
        ) {
            self.stage = Stage::Welcome;
            self.prompt();
        }
    }

    /// Leaves any lobby, answers a waiting chat request, logs out.
    pub(super) fn quit(mut self) {
        if let Some(pending) = self.pending.take() {
            let _ = pending.answer.send(ChatAnswer::Busy(BusyReason::Unsaid));
        }
        match std::mem::replace(&mut self.stage, Stage::Welcome) {
            Stage::Leading(leading) => self.end_lobby(leading, "you quit"),
            Stage::Member(membership) => self.leave_membership(membership),
            _ => {}
        }
        for handle in self.inviters.drain(..) {
            let _ = handle.join();
        }
        self.link.close();
        self.screen.say("Bye.");
        self.screen.finish();
    }
}
