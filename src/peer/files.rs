//! The core's side of files sent between peers: the file commands typed in
//! a lobby (`/send`, `/accept`, `/decline`, `/cancel`, `/files`), the
//! `FILE` lines a lobby relays, a peer's `FETCH`, and what the driver's
//! files report. It decides, and says what to do as effects: a `FILE` line
//! through the lobby (`Effect::Lobby` or `Effect::ToLeader`), a file to
//! read, room to make, a transfer to start or stop (`Effect::File`); the
//! threads and sockets are the driver's (`file_desk.rs`).

use std::path::PathBuf;

use crate::files::Answer;
use crate::lobby::Seat;
use crate::wire::{FileLine, FileOffer, OfferId, ParseError, ToLeader};

use super::app::App;
use super::effect::{Effect, FileOrder, LogId};
use super::file_book::{FileCommand, Full, size};
use super::stage::{Membership, Stage};

/// How this peer reaches the others in its lobby: as the leader, through
/// its hub (by the core's number for it); as a member, through its leader.
#[derive(Clone, Copy)]
pub(super) enum Route<'a> {
    Lead { id: u64, log: Option<LogId> },
    Member(&'a Membership),
}

impl Route<'_> {
    pub(super) fn log(&self) -> Option<LogId> {
        match self {
            Route::Lead { log, .. } => *log,
            Route::Member(membership) => membership.log,
        }
    }
}

impl App {
    /// The route of the lobby the current stage is in, if any.
    pub(super) fn route(&self) -> Option<Route<'_>> {
        match &self.stage {
            Stage::Leading(leading) => Some(Route::Lead {
                id: leading.id,
                log: leading.log,
            }),
            Stage::Member(membership) => Some(Route::Member(membership)),
            _ => None,
        }
    }

    /// Offers belong to a lobby: once we are in none (we left it, or it
    /// ended), those made to us and ours are forgotten, so none can be
    /// accepted, fetched or answered later through another lobby.
    pub(super) fn forget_offers_out_of_lobby(&mut self) {
        if self.route().is_some() {
            return;
        }
        match self.files.forget_offers() {
            0 => {}
            1 => self.notice("Forgot the file offer of the lobby.".into()),
            n => self.notice(format!("Forgot the {n} file offers of the lobby.")),
        }
    }

    /// Runs `act` with the route of the current stage's lobby, if any; the
    /// stage is out of `self` meanwhile, so `act` logs by `route.log()`.
    pub(super) fn with_route<T>(
        &mut self,
        act: impl FnOnce(&mut Self, Option<Route<'_>>) -> T,
    ) -> T {
        let stage = std::mem::replace(&mut self.stage, Stage::Menu);
        let route = match &stage {
            Stage::Leading(leading) => Some(Route::Lead {
                id: leading.id,
                log: leading.log,
            }),
            Stage::Member(membership) => Some(Route::Member(membership)),
            _ => None,
        };
        let result = act(self, route);
        self.stage = stage;
        result
    }

    /// Sends `line` to `to` through the lobby.
    pub(super) fn send_file_line(&self, route: Route<'_>, to: &str, line: FileLine) {
        let to = to.to_string();
        match route {
            Route::Lead { id, .. } => {
                self.to_lobby(id, super::effect::LobbyCommand::File { to, line });
            }
            Route::Member(membership) => membership.send(&self.out, ToLeader::File { to, line }),
        }
    }

    /// Where `name`'s files are fetched, and the key it proves.
    pub(super) fn seat_of(&self, route: Route<'_>, name: &str) -> Option<Seat> {
        match route {
            Route::Lead { .. } => self.files.seats.get(name).cloned(),
            Route::Member(membership) => membership.standing.roster.seat(name).cloned(),
        }
    }

    /// Shows `line` and writes it to `log`.
    pub(super) fn note_in(&self, log: Option<LogId>, line: String) {
        self.out.log(log, line.clone());
        self.notice(line);
    }

    /// Shows `line` and writes it to the current lobby's log.
    pub(super) fn file_note(&self, line: String) {
        self.note_in(self.log_in_use(), line);
    }

    pub(super) fn order(&self, order: FileOrder) {
        self.out.push(Effect::File(order));
    }

    /// A file command typed in a lobby, if `line` is one; true if it was.
    pub(super) fn file_command(&mut self, line: &str, route: Route<'_>) -> bool {
        let Some(command) = FileCommand::parse(line) else {
            return false;
        };
        self.expire_offers(route.log());
        match command {
            FileCommand::Send { to, path } => self.offer_file(to, path, route),
            FileCommand::Accept(id) => self.accept_file(id, route),
            FileCommand::Decline(id) => self.decline_file(id, route),
            FileCommand::Cancel(id) => self.cancel_file(id, route),
            FileCommand::List => self.list_files(),
            FileCommand::Usage(usage) => self.say(format!("Usage: {usage}.")),
        }
        true
    }

    /// Forgets the offers whose time has passed, and says so.
    pub(super) fn expire_offers(&mut self, log: Option<LogId>) {
        let now = self.now.at;
        for offer in self.files.incoming.expire(now) {
            let (name, from) = (&offer.offer.name, &offer.from);
            let line = format!("The offer of {name} from {from} expired unanswered.");
            self.note_in(log, line);
        }
        for offer in self.files.outgoing.expire(now) {
            if offer.to.values().any(|a| *a == Answer::Waiting) {
                self.note_in(log, format!("Your offer of {} expired.", offer.offer.name));
            }
        }
    }

    /// `/send`: the driver reads and sums the file; the offer goes out
    /// when it reports (`on_hashed`). A member checks the name here; a
    /// leader's hub says whether its member is there.
    fn offer_file(&mut self, to: Option<&str>, path: &str, route: Route<'_>) {
        let to = match (route, to) {
            (Route::Member(membership), Some(name)) => {
                let me = self.my_name();
                let found = membership
                    .members
                    .iter()
                    .find(|m| **m != me && m.eq_ignore_ascii_case(name));
                match found {
                    Some(member) => Some(member.clone()),
                    None => return self.say(format!("Not sent: {name} is not in this lobby.")),
                }
            }
            (_, to) => to.map(str::to_string),
        };
        let path = PathBuf::from(path);
        self.say(format!("Reading {} to offer it...", path.display()));
        self.order(FileOrder::Hash { path, to });
    }

    /// The newest offer waiting, or the one `id` names.
    fn offer_id(id: Option<&str>) -> Result<Option<OfferId>, String> {
        id.map(|id| id.parse::<OfferId>().map_err(|err| err.text))
            .transpose()
    }

    /// `/accept`: the offer is checked against the limits and the sender's
    /// seat, then the driver makes room for it (`on_prepared`).
    fn accept_file(&mut self, id: Option<&str>, route: Route<'_>) {
        let id = match Self::offer_id(id) {
            Ok(id) => id,
            Err(why) => return self.say(format!("Usage: /accept [<id>]: {why}.")),
        };
        let Some(held) = self.files.incoming.take(id) else {
            return self.say("No file offer is waiting.");
        };
        let (from, offer) = (held.from, held.offer);
        if let Some(full) = self.files.full_for(&from) {
            let _ = self.files.incoming.add(&from, offer, self.now.at);
            let why = match full {
                Full::InAll(most) => format!("{most} transfers run already"),
                Full::WithPeer(most) => format!("{most} transfers with {from} run already"),
            };
            return self.say(format!(
                "Not accepted yet: {why}; /accept again when one ends."
            ));
        }
        let max = self.files.config.max_file_size;
        let refused = if offer.size > max {
            let most = size(max);
            Some(format!(
                "it is larger than the most this peer accepts ({most}, --max-file-size)"
            ))
        } else if self.seat_of(route, &from).is_none() {
            Some(format!("{from} has no seat in this lobby to fetch it from"))
        } else {
            None
        };
        if let Some(why) = refused {
            return self.decline_with(route, &from, &offer, &why);
        }
        let dir = self.files.config.download_dir.clone();
        self.order(FileOrder::Prepare { from, offer, dir });
    }

    /// Declines `offer` from `from`, and says why.
    pub(super) fn decline_with(&self, route: Route<'_>, from: &str, offer: &FileOffer, why: &str) {
        self.send_file_line(route, from, FileLine::Decline(offer.id));
        self.note_in(
            route.log(),
            format!("Declined {} from {from}: {why}.", offer.name),
        );
    }

    fn decline_file(&mut self, id: Option<&str>, route: Route<'_>) {
        let id = match Self::offer_id(id) {
            Ok(id) => id,
            Err(why) => return self.say(format!("Usage: /decline [<id>]: {why}.")),
        };
        let Some(held) = self.files.incoming.take(id) else {
            return self.say("No file offer is waiting.");
        };
        self.send_file_line(route, &held.from, FileLine::Decline(held.offer.id));
        let line = format!("Declined {} from {}.", held.offer.name, held.from);
        self.note_in(route.log(), line);
    }

    /// `/cancel [<id>]`: a transfer running (either way), an offer of
    /// ours, or one made to us; without an id, everything of ours running
    /// or waiting.
    fn cancel_file(&mut self, id: Option<&str>, route: Route<'_>) {
        let id = match Self::offer_id(id) {
            Ok(id) => id,
            Err(why) => return self.say(format!("Usage: /cancel [<id>]: {why}.")),
        };
        let mut told = false;
        for moving in self.files.moving_of(id, None) {
            let peer = moving.transfer.peer.clone();
            self.order(FileOrder::Cancel(moving.transfer.clone()));
            self.send_file_line(route, &peer, FileLine::Cancel(moving.transfer.id));
            self.note_in(
                route.log(),
                format!("Cancelled {} with {peer}.", moving.name),
            );
            told = true;
        }
        told |= self.withdraw_ours(id, route);
        if let Some(id) = id
            && let Some(held) = self.files.incoming.take(Some(id))
        {
            self.send_file_line(route, &held.from, FileLine::Decline(id));
            let line = format!("Declined {} from {}.", held.offer.name, held.from);
            self.note_in(route.log(), line);
            told = true;
        }
        if !told {
            self.say("Nothing to cancel.");
        }
    }

    /// Withdraws our offer `id` (all of ours if none) from those who have
    /// not answered; whether there was one.
    fn withdraw_ours(&mut self, id: Option<OfferId>, route: Route<'_>) -> bool {
        let ours: Vec<OfferId> = self
            .files
            .outgoing
            .iter()
            .filter(|o| id.is_none_or(|id| id == o.offer.id))
            .map(|o| o.offer.id)
            .collect();
        for offer_id in &ours {
            let Some(offer) = self.files.outgoing.remove(*offer_id) else {
                continue;
            };
            for (name, answer) in &offer.to {
                if *answer == Answer::Waiting {
                    self.send_file_line(route, name, FileLine::Cancel(*offer_id));
                }
            }
            let line = format!("Withdrew your offer of {}.", offer.offer.name);
            self.note_in(route.log(), line);
        }
        !ours.is_empty()
    }

    fn list_files(&mut self) {
        let mut lines = Vec::new();
        for held in self.files.incoming.iter() {
            let o = &held.offer;
            let (from, id, name, size) = (&held.from, o.id, &o.name, size(o.size));
            lines.push(format!("offered by {from}: {id} {name} ({size})"));
        }
        for ours in self.files.outgoing.iter() {
            let o = &ours.offer;
            let to: Vec<String> = ours
                .to
                .iter()
                .map(|(name, answer)| format!("{name} {answer:?}"))
                .collect();
            let (id, name, size, to) = (o.id, &o.name, size(o.size), to.join(", "));
            lines.push(format!("your offer {id} {name} ({size}) to {to}"));
        }
        for moving in &self.files.moving {
            let (what, id, pct) = (moving.what(), moving.transfer.id, moving.pct);
            lines.push(format!("{what}: {id} {pct} %"));
        }
        if lines.is_empty() {
            return self.say("No files offered or moving.");
        }
        self.say(format!("Files:\n  {}", lines.join("\n  ")));
    }

    /// The file at `path` is summed: the offer goes to each recipient.
    pub(super) fn on_hashed(
        &mut self,
        path: PathBuf,
        to: Option<String>,
        result: Result<FileOffer, String>,
    ) {
        let offer = match result {
            Ok(offer) => offer,
            Err(why) => return self.say(format!("Not offered: {why}.")),
        };
        self.with_route(|app, route| app.offer_hashed(route, path, to, offer));
    }

    fn offer_hashed(
        &mut self,
        route: Option<Route<'_>>,
        path: PathBuf,
        to: Option<String>,
        offer: FileOffer,
    ) {
        let Some(route) = route else {
            return self.say(format!(
                "Not offered: {} was read after the lobby ended.",
                offer.name
            ));
        };
        let now = self.now.at;
        if let Err(why) = self.files.outgoing.add(path, offer.clone(), &[], now) {
            return self.say(format!("Not offered: {why}."));
        }
        match (route, to) {
            (Route::Lead { .. }, Some(name)) => {
                self.send_file_line(route, &name, FileLine::Offer(offer))
            }
            (Route::Lead { id, .. }, None) => {
                let what = super::effect::MembersFor::Offer(offer.id);
                self.to_lobby(id, super::effect::LobbyCommand::Members(what));
            }
            (Route::Member(membership), to) => {
                let me = self.my_name();
                let everyone = membership.members.iter().filter(|m| **m != me).cloned();
                let to: Vec<String> = to.map_or_else(|| everyone.collect(), |name| vec![name]);
                self.offer_to(route, &offer, &to);
            }
        }
    }

    /// A member's offer goes to `to`, each held to the key its seat names.
    fn offer_to(&mut self, route: Route<'_>, offer: &FileOffer, to: &[String]) {
        if to.is_empty() {
            self.files.outgoing.remove(offer.id);
            return self.say("Not offered: nobody else is here.");
        }
        for name in to {
            let key = self.seat_of(route, name).map(|seat| seat.key);
            self.files.outgoing.add_recipient(offer.id, name, key);
            self.send_file_line(route, name, FileLine::Offer(offer.clone()));
        }
        self.offered(route.log(), offer, &to.join(", "));
    }

    fn offered(&self, log: Option<LogId>, offer: &FileOffer, to: &str) {
        let (name, size, sum) = (&offer.name, size(offer.size), &offer.sum);
        self.note_in(log, format!("Offered {name} ({size}, {sum}) to {to}."));
    }

    /// The leader's `/send all`: the hub said who is in the lobby.
    pub(super) fn offer_to_everyone(&mut self, lobby: u64, id: OfferId, names: &[String]) {
        let Stage::Leading(leading) = &self.stage else {
            return;
        };
        let led = leading.id;
        let route = Route::Lead {
            id: led,
            log: leading.log,
        };
        let found = self.files.outgoing.iter().find(|o| o.offer.id == id);
        let Some(offer) = found.map(|o| o.offer.clone()).filter(|_| led == lobby) else {
            return;
        };
        let me = self.my_name();
        let others: Vec<&String> = names.iter().filter(|n| **n != me).collect();
        if others.is_empty() {
            self.files.outgoing.remove(id);
            return self.say("Not offered: nobody else is here.");
        }
        for name in others {
            self.send_file_line(route, name, FileLine::Offer(offer.clone()));
        }
    }

    /// The hub's answer to the leader's file line: an offer's recipient
    /// and the key its fetch must prove.
    pub(super) fn on_file_sent(
        &mut self,
        lobby: u64,
        line: FileLine,
        result: Result<(String, Option<Seat>), ParseError>,
    ) {
        let log = match &self.stage {
            Stage::Leading(leading) if leading.id == lobby => leading.log,
            _ => None,
        };
        match (line, result) {
            (FileLine::Offer(offer), Ok((name, seat))) => {
                let key = seat.map(|seat| seat.key);
                self.files.outgoing.add_recipient(offer.id, &name, key);
                self.offered(log, &offer, &name);
            }
            (_, Ok(_)) => {}
            (_, Err(err)) => self.say(format!("Not sent: {}.", err.text)),
        }
    }
}
