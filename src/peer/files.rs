//! The glue between the peer's core and files sent between peers: the file
//! commands typed in a lobby (`/send`, `/accept`, `/decline`, `/cancel`,
//! `/files`), the `FILE` lines a lobby relays, and what the transfer
//! threads report. The offers and transfers themselves are the
//! `FileDesk`'s; the rules are `crate::files`'.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::files::names::safe_name;
use crate::files::partial::resume_from;
use crate::files::{Answer, PartFile, disk};
use crate::lobby::Seat;
use crate::wire::{self, FileLine, FileOffer, OfferId, ToLeader};

use super::app::{App, Leading, Membership, Stage};
use super::effect::LogId;
use super::file_desk::{FetchJob, FileDesk, Way};
use super::msg::{Event, FileNews};

/// A file command typed in a lobby.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum FileCommand<'a> {
    /// `/send <name> <path>`, or `/send all <path>` (`to` is none).
    Send {
        to: Option<&'a str>,
        path: &'a str,
    },
    Accept(Option<&'a str>),
    Decline(Option<&'a str>),
    Cancel(Option<&'a str>),
    List,
    Usage(&'static str),
}

impl<'a> FileCommand<'a> {
    /// The file command `line` is, if it is one.
    pub(super) fn parse(line: &'a str) -> Option<FileCommand<'a>> {
        let command = line.trim().strip_prefix('/')?;
        let (word, rest) = command.split_once(' ').unwrap_or((command, ""));
        let rest = rest.trim();
        let id = (!rest.is_empty()).then_some(rest);
        Some(match word.to_ascii_lowercase().as_str() {
            "send" => match rest.split_once(' ') {
                Some((to, path)) if !path.trim().is_empty() => FileCommand::Send {
                    to: (!to.eq_ignore_ascii_case("all")).then_some(to),
                    path: path.trim(),
                },
                _ => FileCommand::Usage("/send <name> <path> or /send all <path>"),
            },
            "accept" => FileCommand::Accept(id),
            "decline" => FileCommand::Decline(id),
            "cancel" => FileCommand::Cancel(id),
            "files" => FileCommand::List,
            _ => return None,
        })
    }
}

/// How this peer reaches the others in its lobby: as the leader, through
/// its hub; as a member, through its leader.
pub(super) enum Route<'a> {
    Lead(&'a Leading),
    Member(&'a Membership),
}

impl Route<'_> {
    fn log(&self) -> Option<LogId> {
        match self {
            Route::Lead(leading) => leading.log,
            Route::Member(membership) => membership.log,
        }
    }

    fn send(&self, to: &str, line: FileLine) -> Result<(), String> {
        match self {
            Route::Lead(leading) => leading
                .lobby
                .tell_file(to.to_string(), line)
                .map(|_| ())
                .map_err(|err| err.text),
            Route::Member(membership) => {
                membership.send(ToLeader::File {
                    to: to.to_string(),
                    line,
                });
                Ok(())
            }
        }
    }

    fn seat(&self, name: &str) -> Option<Seat> {
        match self {
            Route::Lead(leading) => leading.lobby.seat(name).map(|(_, seat)| seat),
            Route::Member(membership) => membership.standing.roster.seat(name).cloned(),
        }
    }

    fn members(&self) -> Vec<String> {
        match self {
            Route::Lead(leading) => leading.lobby.members(),
            Route::Member(membership) => membership.members.clone(),
        }
    }
}

/// A byte count for people.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {} ({bytes} bytes)", UNITS[unit])
}

impl App {
    fn desk(&self) -> Arc<FileDesk> {
        Arc::clone(&self.files)
    }

    /// Shows `line` and writes it to the current lobby's log.
    fn file_note(&self, line: String) {
        self.note_in(self.log_in_use(), line);
    }

    /// Shows `line` and writes it to `log`: while a typed line is handled,
    /// the lobby is the route's, not the stage's.
    fn note_in(&self, log: Option<LogId>, line: String) {
        self.out.log(log, line.clone());
        self.notice(line);
    }

    /// The route of the lobby the app is in, if any.
    fn with_route<T>(&self, act: impl FnOnce(&Self, Route<'_>) -> T) -> Option<T> {
        match &self.stage {
            Stage::Leading(leading) => Some(act(self, Route::Lead(leading))),
            Stage::Member(membership) => Some(act(self, Route::Member(membership))),
            _ => None,
        }
    }

    /// A file command typed in a lobby, if `line` is one; true if it was.
    pub(super) fn file_command(&mut self, line: &str, route: Route<'_>) -> bool {
        let Some(command) = FileCommand::parse(line) else {
            return false;
        };
        self.expire_offers(route.log());
        match command {
            FileCommand::Send { to, path } => self.offer_file(to, path, &route),
            FileCommand::Accept(id) => self.accept_file(id, &route),
            FileCommand::Decline(id) => self.decline_file(id, &route),
            FileCommand::Cancel(id) => self.cancel_file(id, &route),
            FileCommand::List => self.list_files(),
            FileCommand::Usage(usage) => self.say(format!("Usage: {usage}.")),
        }
        true
    }

    /// Forgets the offers whose time has passed, and says so.
    fn expire_offers(&mut self, log: Option<LogId>) {
        let now = self.now.at;
        let gone = self.files.incoming().expire(now);
        for offer in gone {
            let (name, from) = (&offer.offer.name, &offer.from);
            let line = format!("The offer of {name} from {from} expired unanswered.");
            self.note_in(log, line);
        }
        let gone = self.files.outgoing().expire(now);
        for offer in gone {
            if offer.to.values().any(|a| *a == Answer::Waiting) {
                self.note_in(log, format!("Your offer of {} expired.", offer.offer.name));
            }
        }
    }

    /// `/send`: the file is read and summed on a thread of its own; the
    /// offer goes out when it reports (`on_file_news`).
    fn offer_file(&mut self, to: Option<&str>, path: &str, route: &Route<'_>) {
        let me = self.my_name();
        let members: Vec<String> = route.members().into_iter().filter(|m| *m != me).collect();
        let to: Vec<String> = match to {
            Some(name) => match members.iter().find(|m| m.eq_ignore_ascii_case(name)) {
                Some(member) => vec![member.clone()],
                None => return self.say(format!("Not sent: {name} is not in this lobby.")),
            },
            None if members.is_empty() => return self.say("Not sent: nobody else is here."),
            None => members,
        };
        let path = PathBuf::from(path);
        if !path.is_file() {
            return self.say(format!("Not sent: {} is not a file.", path.display()));
        }
        self.say(format!("Reading {} to offer it...", path.display()));
        self.desk().start_hash(path, to);
    }

    /// The newest offer waiting, or the one `id` names.
    fn offer_id(&self, id: Option<&str>) -> Result<Option<OfferId>, String> {
        id.map(|id| id.parse::<OfferId>().map_err(|err| err.text))
            .transpose()
    }

    fn accept_file(&mut self, id: Option<&str>, route: &Route<'_>) {
        let id = match self.offer_id(id) {
            Ok(id) => id,
            Err(why) => return self.say(format!("Usage: /accept [<id>]: {why}.")),
        };
        let Some(held) = self.files.incoming().take(id) else {
            return self.say("No file offer is waiting.");
        };
        let (from, offer) = (held.from, held.offer);
        match self.prepare_fetch(&from, &offer, route) {
            Ok(job) => {
                let Some(slot) = self.files.slot() else {
                    self.files.incoming().add(&from, offer, self.now.at).ok();
                    return self.say("Too many transfers run already; /accept again later.");
                };
                if let Err(why) = route.send(&from, FileLine::Accept(offer.id)) {
                    return self.say(format!("Not accepted: {why}."));
                }
                let resumed = match job.resume {
                    0 => String::new(),
                    n => format!(", resuming at byte {n}"),
                };
                self.note_in(
                    route.log(),
                    format!(
                        "Accepted {} from {from}: receiving into {}{resumed}.",
                        offer.name,
                        job.part.part().display()
                    ),
                );
                self.desk().start_fetch(self.tls.clone(), job, slot);
            }
            Err(why) => {
                let _ = route.send(&from, FileLine::Decline(offer.id));
                self.note_in(
                    route.log(),
                    format!("Declined {} from {from}: {why}.", offer.name),
                );
            }
        }
    }

    /// Everything a fetch needs, or why the file cannot be taken.
    fn prepare_fetch(
        &self,
        from: &str,
        offer: &FileOffer,
        route: &Route<'_>,
    ) -> Result<FetchJob, String> {
        let config = &self.files.config;
        if offer.size > config.max_file_size {
            return Err(format!(
                "it is larger than the most this peer accepts ({}, --max-file-size)",
                size(config.max_file_size)
            ));
        }
        let dir = &config.download_dir;
        std::fs::create_dir_all(dir).map_err(|err| {
            format!(
                "the download folder {} cannot be made: {err}",
                dir.display()
            )
        })?;
        let part = PartFile {
            dir: dir.clone(),
            name: safe_name(&offer.name),
        };
        let (note, len) = part.kept();
        let resume = resume_from(note.as_deref(), len, offer);
        let needed = offer.size - resume;
        if let Some(free) = disk::free_space(dir)
            && free < needed
        {
            return Err(format!("only {} are free in {}", size(free), dir.display()));
        }
        let seat = route
            .seat(from)
            .ok_or_else(|| format!("{from} has no seat in this lobby to fetch it from"))?;
        let key = Some(seat.key).filter(|_| self.tls.is_tls());
        Ok(FetchJob {
            me: self.my_name(),
            from: from.to_string(),
            addr: seat.addr,
            key,
            offer: offer.clone(),
            part,
            resume,
        })
    }

    fn decline_file(&mut self, id: Option<&str>, route: &Route<'_>) {
        let id = match self.offer_id(id) {
            Ok(id) => id,
            Err(why) => return self.say(format!("Usage: /decline [<id>]: {why}.")),
        };
        let Some(held) = self.files.incoming().take(id) else {
            return self.say("No file offer is waiting.");
        };
        let _ = route.send(&held.from, FileLine::Decline(held.offer.id));
        self.note_in(
            route.log(),
            format!("Declined {} from {}.", held.offer.name, held.from),
        );
    }

    /// `/cancel [<id>]`: a transfer running (either way), an offer of ours,
    /// or one made to us; without an id, everything of ours running or
    /// waiting.
    fn cancel_file(&mut self, id: Option<&str>, route: &Route<'_>) {
        let id = match self.offer_id(id) {
            Ok(id) => id,
            Err(why) => return self.say(format!("Usage: /cancel [<id>]: {why}.")),
        };
        let mut told = false;
        for running in self.files.running() {
            if id.is_some_and(|id| id != running.id) {
                continue;
            }
            self.files.cancel(running.id, Some(&running.peer));
            let _ = route.send(&running.peer, FileLine::Cancel(running.id));
            self.note_in(
                route.log(),
                format!("Cancelled {} with {}.", running.name, running.peer),
            );
            told = true;
        }
        let ours: Vec<_> = self
            .files
            .outgoing()
            .iter()
            .filter(|o| id.is_none_or(|id| id == o.offer.id))
            .map(|o| o.offer.id)
            .collect();
        for offer_id in ours {
            let Some(offer) = self.files.outgoing().remove(offer_id) else {
                continue;
            };
            for (name, answer) in &offer.to {
                if *answer == Answer::Waiting {
                    let _ = route.send(name, FileLine::Cancel(offer_id));
                }
            }
            self.note_in(
                route.log(),
                format!("Withdrew your offer of {}.", offer.offer.name),
            );
            told = true;
        }
        if let Some(id) = id
            && let Some(held) = self.files.incoming().take(Some(id))
        {
            let _ = route.send(&held.from, FileLine::Decline(id));
            self.note_in(
                route.log(),
                format!("Declined {} from {}.", held.offer.name, held.from),
            );
            told = true;
        }
        if !told {
            self.say("Nothing to cancel.");
        }
    }

    fn list_files(&mut self) {
        let mut lines = Vec::new();
        for held in self.files.incoming().iter() {
            let o = &held.offer;
            lines.push(format!(
                "offered by {}: {} {} ({})",
                held.from,
                o.id,
                o.name,
                size(o.size)
            ));
        }
        for ours in self.files.outgoing().iter() {
            let o = &ours.offer;
            let to: Vec<String> = ours
                .to
                .iter()
                .map(|(name, answer)| format!("{name} {answer:?}"))
                .collect();
            lines.push(format!(
                "your offer {} {} ({}) to {}",
                o.id,
                o.name,
                size(o.size),
                to.join(", ")
            ));
        }
        for running in self.files.running() {
            let done = running.done.load(std::sync::atomic::Ordering::Relaxed);
            let way = match running.way {
                Way::Sending => "sending to",
                Way::Receiving => "receiving from",
            };
            let pct = (u128::from(done) * 100)
                .checked_div(u128::from(running.size))
                .unwrap_or(100);
            lines.push(format!(
                "{way} {}: {} {} {pct} %",
                running.peer, running.id, running.name
            ));
        }
        if lines.is_empty() {
            return self.say("No files offered or moving.");
        }
        self.say(format!("Files:\n  {}", lines.join("\n  ")));
    }

    /// A `FILE` line from `from`, relayed by the lobby.
    pub(super) fn on_file_line(&mut self, from: String, line: FileLine) {
        self.expire_offers(self.log_in_use());
        match line {
            FileLine::Offer(offer) => self.on_offer(from, offer),
            FileLine::Accept(id) => {
                let name = self.our_offer_name(id);
                if self.files.outgoing().answered(id, &from, Answer::Accepted) {
                    self.file_note(format!("{from} accepted {name}."));
                }
            }
            FileLine::Decline(id) => {
                let name = self.our_offer_name(id);
                if self.files.outgoing().answered(id, &from, Answer::Declined) {
                    self.file_note(format!("{from} declined {name}."));
                }
                if self.files.outgoing().all_declined(id) {
                    self.files.outgoing().remove(id);
                }
            }
            FileLine::Cancel(id) => {
                if let Some(held) = self.files.incoming().withdraw(&from, id) {
                    let name = held.offer.name;
                    self.file_note(format!("{from} withdrew the offer of {name}."));
                } else if self.files.cancel(id, Some(&from)) {
                    self.file_note(format!("{from} cancelled the transfer of offer {id}."));
                } else if self.files.outgoing().answered(id, &from, Answer::Declined) {
                    self.file_note(format!("{from} cancelled offer {id}."));
                }
            }
        }
    }

    fn our_offer_name(&self, id: OfferId) -> String {
        let outgoing = self.files.outgoing();
        let found = outgoing.iter().find(|o| o.offer.id == id);
        found.map_or_else(|| format!("offer {id}"), |o| o.offer.name.clone())
    }

    fn on_offer(&mut self, from: String, offer: FileOffer) {
        let line = format!(
            "{from} offers {} ({}, {}): /accept or /decline (offer {}).",
            offer.name,
            size(offer.size),
            offer.sum,
            offer.id
        );
        let too_big = offer.size > self.files.config.max_file_size;
        let kept = if too_big {
            Err("it is larger than --max-file-size".to_string())
        } else {
            let now = self.now.at;
            self.files
                .incoming()
                .add(&from, offer.clone(), now)
                .map_err(|e| e.to_string())
        };
        match kept {
            Ok(()) => self.file_note(line),
            Err(why) => {
                self.with_route(|_, route| route.send(&from, FileLine::Decline(offer.id)));
                self.file_note(format!("Declined {} from {from}: {why}.", offer.name));
            }
        }
    }

    /// What a files thread reported.
    pub(super) fn on_file_news(&mut self, news: FileNews) {
        match news {
            FileNews::Note(line) => self.file_note(line),
            FileNews::Failed { peer, id, line } => {
                self.file_note(line);
                self.with_route(|_, route| route.send(&peer, FileLine::Cancel(id)));
            }
            FileNews::Hashed { path, to, offer } => self.send_offer(path, &to, offer),
        }
    }

    /// The file is summed: the offer goes to each recipient.
    fn send_offer(&mut self, path: PathBuf, to: &[String], offer: FileOffer) {
        let sent = self.with_route(|app, route| {
            let keyed: Vec<_> = to
                .iter()
                .map(|name| (name.clone(), route.seat(name).map(|seat| seat.key)))
                .collect();
            let now = app.now.at;
            app.files.outgoing().add(path, offer.clone(), &keyed, now)?;
            for name in to {
                let _ = route.send(name, FileLine::Offer(offer.clone()));
            }
            Ok::<_, crate::files::OfferRefused>(())
        });
        match sent {
            Some(Ok(())) => self.file_note(format!(
                "Offered {} ({}, {}) to {}.",
                offer.name,
                size(offer.size),
                offer.sum,
                to.join(", ")
            )),
            Some(Err(why)) => self.say(format!("Not offered: {why}.")),
            None => self.say(format!(
                "Not offered: {} was read after the lobby ended.",
                offer.name
            )),
        }
    }
}

impl FileDesk {
    /// Reads and sums `path` on a thread of its own, then reports
    /// `FileNews::Hashed` (or why not).
    pub(super) fn start_hash(self: &Arc<Self>, path: PathBuf, to: Vec<String>) {
        let events = self.events();
        self.spawn("file-hash", move || {
            let news = match offer_for(&path) {
                Ok(offer) => FileNews::Hashed { path, to, offer },
                Err(why) => FileNews::note(format!("Not offered: {why}.")),
            };
            let _ = events.send(Event::File(news));
        });
    }
}

/// The offer of the file at `path`: its safe name, size, checksum and a
/// fresh random id.
fn offer_for(path: &Path) -> Result<FileOffer, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|err| format!("{shown} cannot be read: {err}"))?;
    let (sum, size) = crate::files::transfer::checksum_of(std::io::BufReader::new(file))
        .map_err(|err| format!("{shown} cannot be read: {err}"))?;
    let offered = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = safe_name(&offered.unwrap_or_default());
    wire::check_file_name(&name).map_err(|err| err.text)?;
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|err| format!("no random offer id: {err}"))?;
    Ok(FileOffer {
        id: OfferId(u64::from_le_bytes(bytes)),
        size,
        sum,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::FileCommand;

    #[track_caller]
    fn check(line: &str, expected: Option<FileCommand<'_>>) {
        assert_eq!(FileCommand::parse(line), expected, "{line:?}");
    }

    #[test]
    fn file_commands() {
        check(
            "/send bob ./report 1.pdf",
            Some(FileCommand::Send {
                to: Some("bob"),
                path: "./report 1.pdf",
            }),
        );
        check(
            "/send ALL x",
            Some(FileCommand::Send {
                to: None,
                path: "x",
            }),
        );
        check(
            "/send bob",
            Some(FileCommand::Usage(
                "/send <name> <path> or /send all <path>",
            )),
        );
        check("/accept", Some(FileCommand::Accept(None)));
        check(
            "/accept 0123456789abcdef",
            Some(FileCommand::Accept(Some("0123456789abcdef"))),
        );
        check("/decline", Some(FileCommand::Decline(None)));
        check("/cancel", Some(FileCommand::Cancel(None)));
        check("/files", Some(FileCommand::List));
        check("/msg bob hi", None);
        check("hello", None);
        check("//send bob x", None);
    }
}
