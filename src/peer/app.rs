//! The app's core: its state (the stage it is at, in `stage.rs`) and the
//! dispatch of one input (a typed line, an event, a registry notice, a
//! hub's answer) to the menu (`menu.rs`) or the lobby (`leading.rs`,
//! `lobby_stage.rs`).
//!
//! Only the app thread holds an `App`; it must never block on a socket.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::lobby::Notice;
use crate::screen::ScreenLine;
use crate::wire::{BusyReason, Contact, ToMember};

use super::effect::{Answer, Effect, Effects, Incoming, LogFailure, LogId, Now};
use super::file_book::FileBook;
use super::keys::Keyring;
use super::missed::Missed;
use super::msg::{Asker, FromLeader};
use super::place::Place;
use super::repeats::Repeats;
use super::sealed::Replays;
use super::stage::{Leading, Pending, Stage, Start, Starting, Wait};
use super::{ADD_PROMPT, MENU_PROMPT, PeerConfig, WELCOME_PROMPT, Want};

pub(super) enum Flow {
    Go,
    Quit,
}

pub(super) struct App {
    pub(super) config: PeerConfig,
    pub(super) chat_port: u16,
    /// What the input being handled causes, for the driver to carry out.
    pub(super) out: Effects,
    /// Ask a new password twice (it is typed without echo).
    pub(super) confirm_password: bool,
    /// The next line is to be read afresh (`Want::Afresh`): what was
    /// typed before its question may be a password (a name was taken, or
    /// a line came stale before logging in).
    pub(super) afresh: bool,
    /// Ask before `/end` ends a lobby for everyone: a person at a
    /// terminal is asked, a script is not.
    pub(super) confirm_end: bool,
    /// Show transfers as bars (`ScreenLine::Progress`), redrawn in place
    /// at a terminal, rather than as a line at each quarter (kept in the
    /// log either way).
    pub(super) bars: bool,
    pub(super) me: Option<Contact>,
    pub(super) contacts: Vec<Contact>,
    pub(super) stage: Stage,
    pub(super) pending: Option<Pending>,
    /// Chat requests whose tickets the registry checks; the user is not
    /// asked about them yet.
    pub(super) checking: Vec<Pending>,
    /// Lines typed while a request is with the registry, oldest first.
    pub(super) held: VecDeque<String>,
    pub(super) next_lobby: u64,
    /// The last chat log's number.
    pub(super) next_log: u64,
    pub(super) repeats: Repeats,
    /// The sealed messages opened lately, so a replay is not shown as new.
    pub(super) replays: Replays,
    /// The logged-in user's keys (`identity()`); none until `Peer::run`
    /// gives the keyring, or when the peer keeps no keys.
    pub(super) keys: Option<Arc<Keyring>>,
    /// When the input being handled came.
    pub(super) now: Now,
    /// The files offered both ways and moving (`files.rs`).
    pub(super) files: FileBook,
    /// Chat requests answered busy, to tell the user at the menu.
    pub(super) missed: Missed,
    /// What the prompt says besides the stage (`place.rs`).
    pub(super) place: Place,
    /// The user's away text while away (empty: none), `None` while here
    /// (`away.rs`).
    pub(super) away: Option<String>,
    /// A lobby was told we are away, and has not been told we are back
    /// since an admission: the next admission says `BACK` if we are.
    pub(super) away_told: bool,
}

impl App {
    /// The core at the first menu.
    pub(super) fn new(config: PeerConfig, chat_port: u16, confirm_password: bool, now: Now) -> App {
        App {
            files: FileBook::new(config.files.clone()),
            config,
            chat_port,
            out: Effects::default(),
            confirm_password,
            afresh: false,
            confirm_end: false,
            bars: false,
            me: None,
            contacts: Vec::new(),
            stage: Stage::Welcome,
            pending: None,
            checking: Vec::new(),
            held: VecDeque::new(),
            next_lobby: 0,
            next_log: 0,
            repeats: Repeats::default(),
            replays: Replays::default(),
            keys: None,
            now,
            missed: Missed::default(),
            place: Place::default(),
            away: None,
            away_told: false,
        }
    }

    /// Handles one input at `now`; returns what should happen, in order,
    /// and whether the user quits.
    pub(super) fn handle(&mut self, input: Incoming, now: Now) -> (Flow, Vec<Effect>) {
        self.now = now;
        let flow = self.dispatch(input);
        self.forget_offers_out_of_lobby();
        self.tell_missed();
        let me = self.my_name();
        let effects = self.out.take();
        (flow, effects.into_iter().map(|e| mention(e, &me)).collect())
    }

    /// Hands one input to what handles it; each arm is one call.
    fn dispatch(&mut self, input: Incoming) -> Flow {
        match input {
            Incoming::Line(line) => return self.on_line(&line),
            Incoming::Stale(line) => self.on_stale(&line),
            Incoming::Registry(reply) => self.on_registry(reply),
            Incoming::Keys(news) => self.on_key_news(news),
            Incoming::Invited {
                lobby,
                name,
                outcome,
            } => self.on_invited(lobby, name, outcome),
            Incoming::Rejoin {
                claim,
                proven,
                conn,
            } => self.on_rejoin(claim, proven, conn),
            Incoming::Rejoined { lobby, outcome } => self.on_rejoined(lobby, outcome),
            Incoming::Feed(line) => self.on_feed(line),
            Incoming::Notice(Notice::File { from, line, seat }) => {
                self.on_file_line(from, line, seat);
            }
            Incoming::Notice(notice) => self.on_notice(notice),
            Incoming::Link(notice) => self.on_link(notice),
            Incoming::Repeats => self.show_repeats(),
            Incoming::OffersDue => self.expire_offers(self.log_in_use()),
            Incoming::LogFailed(failure) => self.log_failed(failure),
            Incoming::Lobby(answer) => self.on_lobby(answer),
            Incoming::Request(request) => self.on_invitation(request),
            Incoming::Withdrawn { request, expired } => self.on_withdrawn(request, expired),
            Incoming::Linked { membership, result } => self.on_linked(membership, result),
            Incoming::File(news) => self.on_file_news(news),
            Incoming::Fetch {
                fetch,
                request,
                proved,
            } => self.on_fetch(fetch, request, proved),
        }
        Flow::Go
    }

    pub(super) fn say(&self, text: impl Into<ScreenLine>) {
        self.out.show(text.into());
    }

    /// Says what the system has to say about the lobby or the registry,
    /// which a terminal shows dimmed.
    pub(super) fn notice(&self, text: String) {
        self.say(ScreenLine::Notice(text));
    }

    /// The prompt a terminal shows for the next line: where the user is.
    pub(super) fn prompt_text(&self) -> String {
        self.place
            .prompt(&self.stage, &self.my_name(), self.contacts.len())
    }

    pub(super) fn my_name(&self) -> String {
        self.me
            .as_ref()
            .map_or_else(String::new, |me| me.name.clone())
    }

    /// What the keyboard is to read next: a line, or a password without
    /// echo. A query rather than an effect: the driver asks it once before
    /// each read, whatever the last input was (a worker's event may change
    /// the answer as much as a typed line), so as an effect every input
    /// would have to say it again, and the driver would still keep the last.
    /// `None` while a name to register is being checked: the next line is
    /// the password (without echo) or the name again (with it), and which
    /// one only the registry's answer tells, so nothing is read until then.
    pub(super) fn want(&self) -> Option<Want> {
        Some(match self.stage {
            Stage::Waiting(Wait::NameFree(_)) => return None,
            Stage::Welcome | Stage::Name(_) if self.afresh => Want::Afresh,
            Stage::Password(..) | Stage::Repeat { .. } if self.pending.is_none() => Want::Secret,
            Stage::Leading(_) | Stage::Member(_) if self.pending.is_none() => Want::Chat,
            _ => Want::Line,
        })
    }

    /// Shows the question the current stage waits on, as a `Prompt`: a
    /// line the user began before it shows is not taken as its answer.
    pub(super) fn prompt(&mut self) {
        // A lobby left after the registry logged this peer out ends at the
        // first menu: the joined menu's choices would all fail.
        if self.me.is_none() && matches!(self.stage, Stage::Menu) {
            self.stage = Stage::Welcome;
        }
        if let Some(question) = self.question() {
            self.say(ScreenLine::Prompt(question));
        }
    }

    /// Shows the question on screen again, under a notice that came in
    /// between, as the same question it is, not a new one: a line begun
    /// for it still answers it. What others cause (a forged chat request)
    /// reminds; only what changes the question asks anew.
    pub(super) fn remind(&mut self) {
        if let Some(question) = self.question() {
            self.say(question);
        }
    }

    /// The question the current stage waits on, if it waits on one.
    fn question(&self) -> Option<String> {
        if let Some(pending) = &self.pending {
            return Some(format!(
                "Chat request from '{}'. Accept? ['OK', 'REJECT']",
                pending.from
            ));
        }
        let question = match &self.stage {
            Stage::Welcome => WELCOME_PROMPT,
            Stage::Name(_) => "User name:",
            Stage::Password(..) => "Password:",
            Stage::Repeat { .. } => "Password again:",
            Stage::Menu => MENU_PROMPT,
            Stage::Search => "User name to search:",
            Stage::ConfirmAdd(_) => ADD_PROMPT,
            Stage::Waiting(_) | Stage::Starting(_) | Stage::Leading(_) | Stage::Member(_) => {
                return None;
            }
        };
        Some(question.to_string())
    }

    /// A line the user began before the question now on screen was asked:
    /// meant for something else, so never taken as its answer, and shown
    /// back so that nothing typed is lost.
    fn on_stale(&mut self, line: &str) {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            return;
        }
        self.say(format!(
            "Not used: \"{line}\" was typed before the question above, so it is not taken as its answer. Type it again if you meant it."
        ));
        // Before logging in, what was typed after it may be a password
        // typed ahead of its question: it is dropped unread, never shown
        // or taken for a name.
        if self.me.is_none() {
            self.afresh = true;
        }
        self.prompt();
    }

    /// True while typed lines must wait for the registry's reply.
    fn holds_lines(&self) -> bool {
        match &self.stage {
            Stage::Waiting(_) | Stage::Starting(_) => true,
            Stage::Leading(leading) => leading.opening.is_some(),
            _ => false,
        }
    }

    /// Handles the lines typed while the registry was asked, until they
    /// are done or one asks it again.
    pub(super) fn replay_held(&mut self) {
        while !self.holds_lines() {
            let Some(line) = self.held.pop_front() else {
                return;
            };
            self.on_line(&line);
        }
    }

    pub(super) fn on_line(&mut self, line: &str) -> Flow {
        self.afresh = false;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim() == "/quit" {
            return Flow::Quit;
        }
        if let Some(pending) = self.pending.take() {
            self.answer_request(pending, line.trim());
            return Flow::Go;
        }
        if self.holds_lines() {
            self.held.push_back(line.to_string());
            return Flow::Go;
        }
        if self.verify_command(line) {
            return Flow::Go;
        }
        let stage = std::mem::replace(&mut self.stage, Stage::Welcome);
        self.stage = match stage {
            Stage::Welcome => self.welcome(line.trim()),
            Stage::Name(purpose) => self.name(purpose, line.trim()),
            Stage::Password(purpose, name) => self.password(purpose, name, line),
            Stage::Repeat { name, password } => self.repeat_password(name, password, line),
            Stage::Menu => self.menu(line.trim()),
            Stage::Search => self.search(line.trim(), Asker::Menu),
            Stage::ConfirmAdd(contact) => self.confirm_add(contact, line.trim()),
            Stage::Waiting(wait) => Stage::Waiting(wait),
            Stage::Starting(starting) => Stage::Starting(starting),
            Stage::Leading(leading) => self.lead(leading, line),
            Stage::Member(membership) => self.member(membership, line),
        };
        self.prompt();
        Flow::Go
    }

    /// The membership whose connection to its leader the driver keeps
    /// (and whose leader's lines it waits for); it closes the others.
    pub(super) fn link_in_use(&self) -> Option<u64> {
        match &self.stage {
            Stage::Member(membership) if membership.is_linked() => Some(membership.id),
            _ => None,
        }
    }

    /// The lobby whose hub the current stage leads or starts, which the
    /// driver keeps (and whose notices it waits for); it ends the others.
    pub(super) fn lobby_in_use(&self) -> Option<u64> {
        match &self.stage {
            Stage::Leading(Leading { id, .. }) | Stage::Starting(Starting { id, .. }) => Some(*id),
            _ => None,
        }
    }

    /// What the member reader of the current membership sent.
    pub(super) fn on_feed(&mut self, feed: FromLeader) {
        let Stage::Member(membership) = &self.stage else {
            return;
        };
        let id = membership.id;
        match feed {
            FromLeader::Line(ToMember::File { from, line }) => self.on_file_line(from, line, None),
            FromLeader::Line(line) => self.on_leader_line(id, line),
            FromLeader::Gone { silent } => self.on_leader_gone(id, silent),
        }
    }

    /// The chat request waiting for the user is gone: the user is told,
    /// and nothing is logged, as no lobby was joined.
    fn on_withdrawn(&mut self, request: u64, expired: bool) {
        // A request still under check was never shown: it goes quietly.
        self.checking.retain(|c| c.request != request);
        let Some(pending) = &self.pending else {
            return;
        };
        if pending.request != request {
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

    /// Shows `warning`, unless it is counted as a repeat of the last one;
    /// true if it was shown.
    pub(super) fn warn(&mut self, warning: String) -> bool {
        let lines = self.repeats.warn(warning, self.now.at);
        let shown = !lines.is_empty();
        for line in lines {
            self.say(line);
        }
        shown
    }

    /// A chat log could not be kept: the user is told, and the lobby goes
    /// on without it.
    fn log_failed(&self, failure: LogFailure) {
        match failure {
            LogFailure::Create { dir, why } => {
                self.say(format!("Cannot create a chat log in {dir}: {why}"));
            }
            LogFailure::Write { path, why } => {
                self.notice(format!("Cannot write the chat log {path}: {why}"));
            }
        }
    }

    /// The membership whose rejoiner the current stage waits for; the
    /// driver stops the others.
    pub(super) fn walk_in_use(&self) -> Option<u64> {
        match &self.stage {
            Stage::Member(membership) if membership.is_rejoining() => Some(membership.id),
            _ => None,
        }
    }

    /// The chat log the current stage writes, which the driver keeps open;
    /// it closes the others.
    pub(super) fn log_in_use(&self) -> Option<LogId> {
        match &self.stage {
            Stage::Leading(leading) => leading.log,
            Stage::Member(membership) => membership.log,
            Stage::Starting(Starting {
                then: Start::TakeOver { membership, .. },
                ..
            }) => membership.log,
            _ => None,
        }
    }

    /// Shows how often the last warning came again since it was shown.
    pub(super) fn show_repeats(&mut self) {
        if let Some(count) = self.repeats.count_shown(self.now.at) {
            self.say(count);
        }
    }

    /// Leaves any lobby, answers a waiting chat request, and waits for
    /// the threads it started; the driver then logs out.
    pub(super) fn quit(&mut self) {
        let checking: Vec<Pending> = self.checking.drain(..).collect();
        for pending in self.pending.take().into_iter().chain(checking) {
            self.answer(pending.request, Answer::Busy(BusyReason::Unsaid));
        }
        match std::mem::replace(&mut self.stage, Stage::Welcome) {
            Stage::Leading(leading) => self.leave_lobby(leading),
            Stage::Member(membership) => self.leave_membership(membership),
            _ => {}
        }
    }

    /// The answer to chat request `request`.
    pub(super) fn answer(&self, request: u64, answer: Answer) {
        self.out.push(Effect::Answer(request, answer));
    }
}

/// A chat line from someone else that names the user (`me`) becomes a
/// `Mention`, which a terminal highlights and rings for.
fn mention(effect: Effect, me: &str) -> Effect {
    match effect {
        Effect::Chat(ScreenLine::Chat { from, text })
            if !from.eq_ignore_ascii_case(me) && crate::screen::names(&text, me) =>
        {
            Effect::Chat(ScreenLine::Mention { from, text })
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;
