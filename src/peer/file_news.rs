//! The core's side of what reaches it about files: the `FILE` lines a
//! lobby relays, a peer's `FETCH`, and what the driver's files report
//! (room made for a file, a transfer's start, quarters and end). The
//! commands a user types are `files.rs`.

use std::path::PathBuf;

use crate::crypto::{IdentityKey, PeerKey};
use crate::files::{Answer, PartFile};
use crate::lobby::Seat;
use crate::progress::Progress;
use crate::screen::ScreenLine;
use crate::wire::{ErrorCode, Fetch, FileLine, FileOffer, OfferId};

use super::app::App;
use super::effect::{FetchJob, FileOrder, LogId};
use super::file_book::{Full, size};
use super::files::Route;
use super::msg::{Done, Failure, FileNews, TransferId, Way};

impl App {
    /// Room is made for an accepted file: `ACCEPT` goes to the sender and
    /// the driver fetches it.
    fn on_prepared(&mut self, from: String, offer: FileOffer, part: PartFile, resume: u64) {
        self.with_route(|app, route| app.fetch_prepared(route, from, offer, (part, resume)));
    }

    fn fetch_prepared(
        &mut self,
        route: Option<Route<'_>>,
        from: String,
        offer: FileOffer,
        (part, resume): (PartFile, u64),
    ) {
        let Some(route) = route else {
            return self.say(format!(
                "Not accepted: the lobby of {} has ended.",
                offer.name
            ));
        };
        let Some(seat) = self.seat_of(route, &from) else {
            let why = format!("{from} has no seat in this lobby to fetch it from");
            return self.decline_with(route, &from, &offer, &why);
        };
        let into = part.part();
        if self.files.part_in_use(&into) {
            // The same file is on its way already (another offer of it):
            // the offer waits until that transfer ends.
            let (name, shown) = (&offer.name, into.display().to_string());
            let _ = self.files.incoming.add(&from, offer.clone(), self.now.at);
            return self.say(format!(
                "Not accepted yet: {shown} is in use by another transfer of {name}; /accept again when it ends."
            ));
        }
        self.send_file_line(route, &from, FileLine::Accept(offer.id));
        self.note_in(route.log(), accepted(&from, &offer, &part, resume));
        let transfer = TransferId {
            id: offer.id,
            peer: from.clone(),
            way: Way::Receiving,
        };
        self.files.begin(transfer.clone(), &offer.name, offer.size);
        if let Some(moving) = self.files.find(&transfer) {
            moving.part = Some(into);
        }
        let me = self.my_name();
        let job = FetchJob {
            me,
            from,
            seat,
            offer,
            part,
            resume,
        };
        self.order(FileOrder::Fetch(job));
    }

    /// A `FILE` line from `from`, relayed by the lobby, with the sender's
    /// seat if the hub we lead named it.
    pub(super) fn on_file_line(&mut self, from: String, line: FileLine, seat: Option<Seat>) {
        if let Some(seat) = seat {
            self.files.seats.insert(from.clone(), seat);
        }
        self.expire_offers(self.log_in_use());
        match line {
            FileLine::Offer(offer) => self.on_offer(from, offer),
            FileLine::Accept(id) => self.on_answer(id, &from, Answer::Accepted),
            FileLine::Decline(id) => {
                self.on_answer(id, &from, Answer::Declined);
                if self.files.outgoing.all_declined(id) {
                    self.files.outgoing.remove(id);
                }
            }
            FileLine::Cancel(id) => self.on_cancelled(&from, id, None),
            FileLine::Refused { id, why } => self.on_cancelled(&from, id, Some(&why)),
        }
    }

    fn on_answer(&mut self, id: OfferId, from: &str, answer: Answer) {
        let name = self.our_offer_name(id);
        if self.files.outgoing.answered(id, from, answer) {
            let word = match answer {
                Answer::Declined => "declined",
                Answer::Accepted | Answer::Waiting => "accepted",
            };
            self.file_note(format!("{from} {word} {name}."));
        }
    }

    /// `from` withdrew its offer, stopped a transfer, or declined ours;
    /// `why`, when a recipient refused what we sent.
    fn on_cancelled(&mut self, from: &str, id: OfferId, why: Option<&str>) {
        if let Some(held) = self.files.incoming.withdraw(from, id) {
            let name = held.offer.name;
            return self.file_note(format!("{from} withdrew the offer of {name}."));
        }
        let moving = self.files.moving_of(Some(id), Some(from));
        let because = why.map_or_else(String::new, |why| format!(": {why}"));
        for moving in &moving {
            self.order(FileOrder::Cancel(moving.transfer.clone()));
            let name = &moving.name;
            let word = if why.is_some() {
                "refused"
            } else {
                "cancelled"
            };
            self.file_note(format!("{from} {word} the transfer of {name}{because}."));
        }
        let name = self.our_offer_name(id);
        if moving.is_empty() && self.files.outgoing.answered(id, from, Answer::Declined) {
            let line = match why {
                Some(_) => format!("{from} refused {name}{because}."),
                None => format!("{from} cancelled offer {id}."),
            };
            self.file_note(line);
        }
    }

    /// `name` left the lobby (or was kicked or dropped): its offers are
    /// withdrawn at once, ours to it cancelled, and our transfers with it
    /// stopped, rather than waiting for them to expire.
    pub(super) fn member_gone(&mut self, name: &str, log: Option<LogId>) {
        self.files.seats.remove(name);
        for held in self.files.incoming.withdraw_all(name) {
            let line = format!(
                "{name} left: its offer of {} is withdrawn.",
                held.offer.name
            );
            self.note_in(log, line);
        }
        for offer in self.files.outgoing.drop_recipient(name) {
            let line = format!(
                "{name} left: your offer of {} to it is cancelled.",
                offer.name
            );
            self.note_in(log, line);
        }
        for moving in self.files.moving_of(None, Some(name)) {
            self.order(FileOrder::Cancel(moving.transfer.clone()));
            let line = format!("{name} left: {} stopped.", moving.what());
            self.note_in(log, line);
        }
    }

    fn our_offer_name(&self, id: OfferId) -> String {
        let found = self.files.outgoing.iter().find(|o| o.offer.id == id);
        found.map_or_else(|| format!("offer {id}"), |o| o.offer.name.clone())
    }

    fn on_offer(&mut self, from: String, offer: FileOffer) {
        let (name, size, sum, id) = (&offer.name, size(offer.size), &offer.sum, offer.id);
        let line =
            format!("{from} offers {name} ({size}, {sum}): /accept or /decline (offer {id}).");
        let kept = if offer.size > self.files.config.max_file_size {
            Err("it is larger than --max-file-size".to_string())
        } else {
            let now = self.now.at;
            let added = self.files.incoming.add(&from, offer.clone(), now);
            added.map_err(|e| e.to_string())
        };
        match (kept, self.route()) {
            (Ok(()), _) => self.file_note(line),
            (Err(why), Some(route)) => self.decline_with(route, &from, &offer, &why),
            (Err(_), None) => {}
        }
    }

    /// What the driver's files reported.
    pub(super) fn on_file_news(&mut self, news: FileNews) {
        match news {
            FileNews::Hashed { path, to, result } => self.on_hashed(path, to, result),
            FileNews::Prepared {
                from,
                offer,
                part,
                resume,
            } => {
                self.on_prepared(from, offer, part, resume);
            }
            FileNews::Unprepared { from, offer, why } => match self.route() {
                Some(route) => self.decline_with(route, &from, &offer, &why),
                None => self.say(format!("Declined {} from {from}: {why}.", offer.name)),
            },
            FileNews::Started { transfer, at } => {
                let what = self.what(&transfer);
                self.file_note(format!("{what}: started at byte {at}."));
            }
            FileNews::Quarter { transfer, pct } => {
                if let Some(moving) = self.files.find(&transfer) {
                    moving.pct = pct;
                }
                let what = self.what(&transfer);
                let line = format!("{what}: {pct} %.");
                // A bar shows the quarters already.
                match self.bars {
                    true => self.out.log(self.log_in_use(), line),
                    false => self.file_note(line),
                }
            }
            FileNews::Progress { transfer, done } => self.show_progress(&transfer, done, false),
            FileNews::Ended { transfer, result } => self.on_ended(&transfer, result),
        }
    }

    /// Where a transfer stands, for a terminal's bar: `done` bytes, or
    /// `ended`, when its bar goes away.
    fn show_progress(&mut self, transfer: &TransferId, done: u64, ended: bool) {
        if !self.bars {
            return;
        }
        let Some(moving) = self.files.find(transfer) else {
            return;
        };
        let (name, peer) = (&moving.name, &transfer.peer);
        let label = match transfer.way {
            Way::Receiving => format!("↓ {name} from {peer}"),
            Way::Sending => format!("↑ {name} to {peer}"),
        };
        let progress = Progress {
            key: format!("{:?} {} {peer}", transfer.way, transfer.id),
            label,
            done,
            total: moving.size,
            ended,
        };
        self.say(ScreenLine::Progress(progress));
    }

    /// A transfer in words, by what the core knows of it.
    fn what(&mut self, transfer: &TransferId) -> String {
        match self.files.find(transfer) {
            Some(moving) => moving.what(),
            None => format!("Offer {} with {}", transfer.id, transfer.peer),
        }
    }

    /// A transfer ended: said on both sides; a receipt that failed tells
    /// the sender `CANCEL`.
    fn on_ended(&mut self, transfer: &TransferId, result: Result<Done, Failure>) {
        self.show_progress(transfer, 0, true);
        let what = self.what(transfer);
        let moving = self.files.end(transfer);
        let (name, size) = moving.map_or_else(|| (String::new(), 0), |m| (m.name, m.size));
        let peer = &transfer.peer;
        let line = match result {
            Ok(Done::Saved(path)) => format!(
                "Saved {name} from {peer} at {} ({size} bytes, checksum verified).",
                path.display()
            ),
            Ok(Done::Sent(count)) => format!("{what}: done ({count} bytes sent)."),
            Err(Failure { why, to_sender }) => {
                if let (Way::Receiving, Some(route)) = (transfer.way, self.route()) {
                    let id = transfer.id;
                    let line = match to_sender {
                        Some(why) => FileLine::Refused { id, why },
                        None => FileLine::Cancel(id),
                    };
                    self.send_file_line(route, peer, line);
                }
                format!("{what} failed: {why}.")
            }
        };
        self.file_note(line);
    }

    /// A peer's `FETCH` of offer `request.id`: it must be ours, made to
    /// the fetcher and not declined, not expired, and (under TLS) fetched
    /// by the key its seat names; then the driver sends it.
    pub(super) fn on_fetch(&mut self, fetch: u64, request: Fetch, proved: Option<IdentityKey>) {
        self.expire_offers(self.log_in_use());
        let who = request.who.clone();
        let checked = self.check_fetch(&request, proved);
        let (path, offer) = match checked {
            Ok(found) => found,
            Err((code, text)) => return self.order(FileOrder::Refuse { fetch, code, text }),
        };
        let transfer = TransferId {
            id: offer.id,
            peer: who.clone(),
            way: Way::Sending,
        };
        self.files.begin(transfer, &offer.name, offer.size);
        // A fetch is an acceptance, whether or not its `ACCEPT` came first.
        let _ = self
            .files
            .outgoing
            .answered(offer.id, &who, Answer::Accepted);
        let from = request.from;
        self.order(FileOrder::Serve {
            fetch,
            to: who,
            path,
            offer,
            from,
        });
    }

    fn check_fetch(
        &self,
        fetch: &Fetch,
        proved: Option<IdentityKey>,
    ) -> Result<(PathBuf, FileOffer), (ErrorCode, String)> {
        let found = self
            .files
            .outgoing
            .fetchable(fetch.id, &fetch.who, self.now.at);
        let found = found.ok_or((
            ErrorCode::NotFound,
            "no such offer accepted by you".to_string(),
        ))?;
        let expected = found.keys.get(&fetch.who).cloned().flatten();
        key_matches(proved, expected, &fetch.who)?;
        let running = Way::Sending;
        let busy = self.files.moving.iter().any(|m| {
            m.transfer.way == running && m.transfer.id == fetch.id && m.transfer.peer == fetch.who
        });
        if busy {
            return Err((
                ErrorCode::BadArgs,
                "that offer is being sent to you already".into(),
            ));
        }
        if fetch.from > found.offer.size {
            return Err((
                ErrorCode::BadArgs,
                "that byte is past the end of the file".into(),
            ));
        }
        let full = match self.files.full_for(&fetch.who) {
            None => return Ok((found.path.clone(), found.offer.clone())),
            Some(Full::InAll(most)) => format!("{most} transfers run at once already"),
            Some(Full::WithPeer(most)) => format!("{most} transfers with you run already"),
        };
        Err((
            ErrorCode::ServerFull,
            format!("{full}; ask for the file again when one ends"),
        ))
    }
}

/// What the user hears of an offer accepted.
fn accepted(from: &str, offer: &FileOffer, part: &PartFile, resume: u64) -> String {
    let resumed = match resume {
        0 => String::new(),
        n => format!(", resuming at byte {n}"),
    };
    let (name, into) = (&offer.name, part.part());
    let into = into.display();
    format!("Accepted {name} from {from}: receiving into {into}{resumed}.")
}

/// Whether a fetch proved the key its seat names: under TLS it must; in
/// plain text nothing is proved.
fn key_matches(
    proved: Option<IdentityKey>,
    expected: Option<PeerKey>,
    who: &str,
) -> Result<(), (ErrorCode, String)> {
    match (proved, expected) {
        (None, _) => Ok(()),
        (Some(proved), Some(key)) if proved == key.identity => Ok(()),
        (Some(proved), Some(key)) => {
            let (want, got) = (key.identity.fingerprint(), proved.fingerprint());
            let text = format!("the key presented is {got}, not {want}");
            Err((ErrorCode::BadKey, text))
        }
        (Some(_), None) => Err((ErrorCode::BadKey, format!("{who} has no key in this lobby"))),
    }
}
