//! Files as data: the core's offers, answers, fetches and transfers, each
//! an `Effect::File` or a `FILE` line through the lobby, with the driver's
//! news fed back and the time injected.

use std::path::PathBuf;
use std::time::Duration;

use crate::crypto::Identity;
use crate::files::PartFile;
use crate::lobby::{Notice, Seat};
use crate::wire::{Checksum, Fetch, FileLine, FileOffer, OfferId, ParseError};

use crate::peer::app::App;
use crate::peer::effect::{Effect, FileOrder, Incoming, LobbyAnswer, Now};
use crate::peer::msg::{Done, Failure, FileNews, TransferId, Way};

use super::leader::leading;
use super::{describe, line, now};

fn offer(id: u64, size: u64, name: &str) -> FileOffer {
    FileOffer {
        id: OfferId(id),
        size,
        sum: Checksum([7; 32]),
        name: name.into(),
    }
}

fn seat(name: &str, identity: &Identity) -> Seat {
    Seat {
        name: name.into(),
        addr: "127.0.0.1:6003".parse().unwrap(),
        key: identity.public(),
    }
}

/// A file order in short, the rest as the other tests describe them.
fn short(effect: &Effect) -> String {
    let Effect::File(order) = effect else {
        return describe(effect);
    };
    match order {
        FileOrder::Hash { path, to } => format!("hash {} for {to:?}", path.display()),
        FileOrder::Prepare { from, offer, .. } => format!("prepare {} from {from}", offer.name),
        FileOrder::Fetch(job) => format!(
            "fetch {} from {} at {} from byte {}",
            job.offer.name, job.from, job.seat.addr, job.resume
        ),
        FileOrder::Serve {
            fetch,
            to,
            offer,
            from,
            ..
        } => format!("serve {fetch}: {} to {to} from byte {from}", offer.name),
        FileOrder::Refuse { fetch, code, text } => format!("refuse {fetch}: {code:?} {text}"),
        FileOrder::Cancel(t) => format!("cancel {} with {} {:?}", t.id, t.peer, t.way),
    }
}

#[track_caller]
fn check_at(app: &mut App, input: Incoming, at: Now, expected: &[&str]) {
    let (_, effects) = app.handle(input, at);
    let got: Vec<String> = effects.iter().map(short).collect();
    assert_eq!(got, expected);
}

#[track_caller]
fn check(app: &mut App, input: Incoming, expected: &[&str]) {
    check_at(app, input, now(), expected);
}

fn news(news: FileNews) -> Incoming {
    Incoming::File(news)
}

fn from_carol(line: FileLine, seat: Option<Seat>) -> Incoming {
    Incoming::Notice(Notice::File {
        from: "carol".into(),
        line,
        seat,
    })
}

fn receiving(id: u64) -> TransferId {
    TransferId {
        id: OfferId(id),
        peer: "carol".into(),
        way: Way::Receiving,
    }
}

const SUM: &str = "sha256:0707070707070707070707070707070707070707070707070707070707070707";

/// Bob leads; carol, seated, offers `x` (5 bytes, id 1) and bob accepts,
/// with 2 bytes kept from an earlier try.
fn accepting_x() -> (App, Vec<String>) {
    let mut app = leading();
    let carol = Identity::generate().unwrap();
    let offered = from_carol(
        FileLine::Offer(offer(1, 5, "x")),
        Some(seat("carol", &carol)),
    );
    let mut got: Vec<String> = app.handle(offered, now()).1.iter().map(short).collect();
    got.extend(app.handle(line("/accept"), now()).1.iter().map(short));
    let prepared = FileNews::Prepared {
        from: "carol".into(),
        offer: offer(1, 5, "x"),
        part: PartFile {
            dir: PathBuf::from("/downloads"),
            name: "x".into(),
            tag: "0707070707070707".into(),
        },
        resume: 2,
    };
    got.extend(app.handle(news(prepared), now()).1.iter().map(short));
    (app, got)
}

#[test]
fn a_leader_accepts_an_offer_from_a_seated_member_and_fetches_from_its_seat() {
    let offered =
        format!("carol offers x (5 bytes, {SUM}): /accept or /decline (offer 0000000000000001).");
    let (_, got) = accepting_x();
    assert_eq!(
        got,
        [
            format!("log 1: {offered}"),
            format!("notice: {offered}"),
            "prepare x from carol".into(),
            "lobby 1: File(carol, ACCEPT 0000000000000001)".into(),
            "log 1: Accepted x from carol: receiving into /downloads/x.0707070707070707.part, resuming at byte 2."
                .into(),
            "notice: Accepted x from carol: receiving into /downloads/x.0707070707070707.part, resuming at byte 2."
                .into(),
            "fetch x from carol at 127.0.0.1:6003 from byte 2".to_string(),
        ]
    );
}

#[test]
fn a_transfer_is_told_by_quarters_and_listed_until_it_ends() {
    let (mut app, _) = accepting_x();
    let quarter = FileNews::Quarter {
        transfer: receiving(1),
        pct: 75,
    };
    check(
        &mut app,
        news(quarter),
        &[
            "log 1: Receiving x from carol: 75 %.",
            "notice: Receiving x from carol: 75 %.",
        ],
    );
    check(
        &mut app,
        line("/files"),
        &["Files:\n  Receiving x from carol: 0000000000000001 75 %"],
    );
    let saved = FileNews::Ended {
        transfer: receiving(1),
        result: Ok(Done::Saved(PathBuf::from("/downloads/x (1)"))),
    };
    check(
        &mut app,
        news(saved),
        &[
            "log 1: Saved x from carol at /downloads/x (1) (5 bytes, checksum verified).",
            "notice: Saved x from carol at /downloads/x (1) (5 bytes, checksum verified).",
        ],
    );
    check(&mut app, line("/files"), &["No files offered or moving."]);
}

#[test]
fn at_a_terminal_transfers_both_ways_are_bars_and_quarters_only_logged() {
    let (mut app, _) = accepting_x();
    app.bars = true;
    let progress = FileNews::Progress {
        transfer: receiving(1),
        done: 3,
    };
    check(&mut app, news(progress), &["↓ x from carol: 3 of 5 bytes"]);
    let quarter = FileNews::Quarter {
        transfer: receiving(1),
        pct: 50,
    };
    check(
        &mut app,
        news(quarter),
        &["log 1: Receiving x from carol: 50 %."],
    );
    let saved = FileNews::Ended {
        transfer: receiving(1),
        result: Ok(Done::Saved(PathBuf::from("/downloads/x"))),
    };
    let said = "Saved x from carol at /downloads/x (5 bytes, checksum verified).";
    let (log, notice) = (format!("log 1: {said}"), format!("notice: {said}"));
    check(
        &mut app,
        news(saved),
        &["↓ x from carol: ended", log.as_str(), notice.as_str()],
    );
    // The sender's side has its bar too.
    let carol = Identity::generate().unwrap();
    let (mut app, _) = offering_report(&carol);
    app.bars = true;
    let _ = app.handle(fetch("carol", 0, &carol), now());
    let sending = TransferId {
        way: Way::Sending,
        ..receiving(9)
    };
    let progress = FileNews::Progress {
        transfer: sending,
        done: 10,
    };
    check(
        &mut app,
        news(progress),
        &["↑ report.pdf to carol: 10 of 10 bytes"],
    );
}

#[test]
fn offers_too_large_or_from_a_member_without_a_seat_are_declined() {
    let mut app = leading();
    app.files.config.max_file_size = 4;
    check(
        &mut app,
        from_carol(FileLine::Offer(offer(1, 5, "big")), None),
        &[
            "lobby 1: File(carol, DECLINE 0000000000000001)",
            "log 1: Declined big from carol: it is larger than --max-file-size.",
            "notice: Declined big from carol: it is larger than --max-file-size.",
        ],
    );
    // No seat is known for carol: there is nowhere to fetch from.
    let _ = app.handle(from_carol(FileLine::Offer(offer(2, 4, "y")), None), now());
    check(
        &mut app,
        line("/accept 0000000000000002"),
        &[
            "lobby 1: File(carol, DECLINE 0000000000000002)",
            "log 1: Declined y from carol: carol has no seat in this lobby to fetch it from.",
            "notice: Declined y from carol: carol has no seat in this lobby to fetch it from.",
        ],
    );
}

#[test]
fn a_transfer_the_sender_cancels_stops_and_a_failed_one_tells_the_sender() {
    let (mut app, _) = accepting_x();
    check(
        &mut app,
        from_carol(FileLine::Cancel(OfferId(1)), None),
        &[
            "cancel 0000000000000001 with carol Receiving",
            "log 1: carol cancelled the transfer of x.",
            "notice: carol cancelled the transfer of x.",
        ],
    );
    let cut = FileNews::Ended {
        transfer: receiving(1),
        result: Err("cancelled; /downloads/x.0707070707070707.part kept to resume".into()),
    };
    check(
        &mut app,
        news(cut),
        &[
            "lobby 1: File(carol, CANCEL 0000000000000001)",
            "log 1: Receiving x from carol failed: cancelled; /downloads/x.0707070707070707.part kept to resume.",
            "notice: Receiving x from carol failed: cancelled; /downloads/x.0707070707070707.part kept to resume.",
        ],
    );
}

#[test]
fn a_receipt_refused_for_the_senders_bytes_tells_the_sender_why_and_no_path() {
    let (mut app, _) = accepting_x();
    let wrong = FileNews::Ended {
        transfer: receiving(1),
        result: Err(Failure {
            why: "the bytes do not match the offered checksum".into(),
            to_sender: Some("the bytes do not match the offered checksum".into()),
        }),
    };
    check(
        &mut app,
        news(wrong),
        &[
            "lobby 1: File(carol, CANCEL 0000000000000001 the bytes do not match the offered checksum)",
            "log 1: Receiving x from carol failed: the bytes do not match the offered checksum.",
            "notice: Receiving x from carol failed: the bytes do not match the offered checksum.",
        ],
    );
}

/// Bob leads and has offered carol `report.pdf` (10 bytes, id 9) at the
/// time returned, carol's seat holding `carol`'s key.
fn offering_report(carol: &Identity) -> (App, Now) {
    let mut app = leading();
    check(
        &mut app,
        line("/send carol /tmp/report.pdf"),
        &[
            "Reading /tmp/report.pdf to offer it...",
            "hash /tmp/report.pdf for Some(\"carol\")",
        ],
    );
    let t0 = now();
    let hashed = FileNews::Hashed {
        path: PathBuf::from("/tmp/report.pdf"),
        to: Some("carol".into()),
        result: Ok(offer(9, 10, "report.pdf")),
    };
    let offered = format!("lobby 1: File(carol, OFFER 0000000000000009 10 {SUM} report.pdf)");
    check_at(&mut app, news(hashed), t0, &[offered.as_str()]);
    let sent = LobbyAnswer::FileSent {
        lobby: 1,
        line: FileLine::Offer(offer(9, 10, "report.pdf")),
        result: Ok::<_, ParseError>(("carol".into(), Some(seat("carol", carol)))),
    };
    let _ = app.handle(Incoming::Lobby(sent), t0);
    (app, t0)
}

/// `who`'s `FETCH` of offer 9 from byte `from`, on connection `100 + from`,
/// proving `key`.
fn fetch(who: &str, from: u64, key: &Identity) -> Incoming {
    Incoming::Fetch {
        fetch: from + 100,
        request: Fetch {
            who: who.into(),
            id: OfferId(9),
            from,
        },
        proved: Some(key.public().identity),
    }
}

#[test]
fn a_fetch_is_refused_to_a_stranger_a_wrong_key_or_a_byte_past_the_end() {
    let (carol, mallory) = (Identity::generate().unwrap(), Identity::generate().unwrap());
    let (mut app, _) = offering_report(&carol);
    check(
        &mut app,
        fetch("dave", 0, &carol),
        &["refuse 100: NotFound no such offer accepted by you"],
    );
    let refused = app.handle(fetch("carol", 0, &mallory), now()).1;
    let refused = short(&refused[0]);
    assert!(
        refused.starts_with("refuse 100: BadKey the key presented is "),
        "{refused}"
    );
    check(
        &mut app,
        fetch("carol", 11, &carol),
        &["refuse 111: BadArgs that byte is past the end of the file"],
    );
}

#[test]
fn a_fetch_is_served_to_its_recipient_until_the_offer_expires() {
    let carol = Identity::generate().unwrap();
    let (mut app, t0) = offering_report(&carol);
    check(
        &mut app,
        fetch("carol", 4, &carol),
        &["serve 104: report.pdf to carol from byte 4"],
    );
    // The offer waits `--offer-timeout`; after that nobody may fetch it.
    let later = Now {
        at: t0.at + app.files.config.offer_timeout + Duration::from_secs(1),
        utc: t0.utc,
    };
    check_at(
        &mut app,
        fetch("carol", 0, &carol),
        later,
        &["refuse 100: NotFound no such offer accepted by you"],
    );
}

#[test]
fn offers_both_ways_expire_when_their_time_comes_and_say_so() {
    let carol = Identity::generate().unwrap();
    let (mut app, t0) = offering_report(&carol);
    let _ = app.handle(from_carol(FileLine::Offer(offer(1, 5, "x")), None), t0);
    let ttl = app.files.config.offer_timeout;
    assert_eq!(app.files.next_expiry(), Some(t0.at + ttl));
    let at = |after: Duration| Now {
        at: t0.at + after,
        utc: t0.utc,
    };
    check_at(&mut app, Incoming::OffersDue, at(ttl / 2), &[]);
    check_at(
        &mut app,
        Incoming::OffersDue,
        at(ttl),
        &[
            "log 1: The offer of x from carol expired unanswered.",
            "notice: The offer of x from carol expired unanswered.",
            "log 1: Your offer of report.pdf expired.",
            "notice: Your offer of report.pdf expired.",
        ],
    );
    assert_eq!(app.files.next_expiry(), None);
}

#[test]
fn offers_both_ways_are_forgotten_when_the_lobby_is_left() {
    let carol = Identity::generate().unwrap();
    let (mut app, t0) = offering_report(&carol);
    let offered = from_carol(
        FileLine::Offer(offer(1, 5, "x")),
        Some(seat("carol", &carol)),
    );
    let _ = app.handle(offered, t0);
    let (_, effects) = app.handle(line("/leave"), t0);
    let got: Vec<String> = effects.iter().map(short).collect();
    assert_eq!(
        got.last().map(String::as_str),
        Some("notice: Forgot the 2 file offers of the lobby."),
        "{got:?}"
    );
    assert_eq!(app.files.next_expiry(), None);
    assert!(app.files.seats.is_empty());
    // Carol's fetch of the report, come late, finds no offer.
    check_at(
        &mut app,
        fetch("carol", 0, &carol),
        t0,
        &["refuse 100: NotFound no such offer accepted by you"],
    );
}

#[test]
fn a_second_offer_of_a_file_whose_part_is_in_use_waits_for_it() {
    let (mut app, _) = accepting_x();
    let carol = Identity::generate().unwrap();
    let again = from_carol(
        FileLine::Offer(offer(2, 5, "x")),
        Some(seat("carol", &carol)),
    );
    let _ = app.handle(again, now());
    check(&mut app, line("/accept"), &["prepare x from carol"]);
    let prepared = FileNews::Prepared {
        from: "carol".into(),
        offer: offer(2, 5, "x"),
        part: PartFile {
            dir: PathBuf::from("/downloads"),
            name: "x".into(),
            tag: "0707070707070707".into(),
        },
        resume: 2,
    };
    check(
        &mut app,
        news(prepared),
        &[
            "Not accepted yet: /downloads/x.0707070707070707.part is in use by another transfer of x; /accept again when it ends.",
        ],
    );
    // The offer waits to be accepted again.
    assert_eq!(app.files.incoming.iter().count(), 1);
}

#[test]
fn a_second_fetch_of_an_offer_being_sent_to_the_same_recipient_is_refused() {
    let carol = Identity::generate().unwrap();
    let (mut app, _) = offering_report(&carol);
    check(
        &mut app,
        fetch("carol", 0, &carol),
        &["serve 100: report.pdf to carol from byte 0"],
    );
    check(
        &mut app,
        fetch("carol", 4, &carol),
        &["refuse 104: BadArgs that offer is being sent to you already"],
    );
    let sent = FileNews::Ended {
        transfer: TransferId {
            id: OfferId(9),
            peer: "carol".into(),
            way: Way::Sending,
        },
        result: Ok(Done::Sent(10)),
    };
    let _ = app.handle(news(sent), now());
    check(
        &mut app,
        fetch("carol", 4, &carol),
        &["serve 104: report.pdf to carol from byte 4"],
    );
}

/// Carol, seated, offers `name` (5 bytes, id `id`), and bob accepts it
/// and starts fetching it.
fn receive_from_carol(app: &mut App, id: u64, name: &str) {
    let carol = Identity::generate().unwrap();
    let offered = from_carol(
        FileLine::Offer(offer(id, 5, name)),
        Some(seat("carol", &carol)),
    );
    let _ = app.handle(offered, now());
    check(
        app,
        line("/accept"),
        &[&format!("prepare {name} from carol")],
    );
    let prepared = FileNews::Prepared {
        from: "carol".into(),
        offer: offer(id, 5, name),
        part: PartFile {
            dir: PathBuf::from("/downloads"),
            name: name.into(),
            tag: format!("{id:016x}"),
        },
        resume: 0,
    };
    let (_, effects) = app.handle(news(prepared), now());
    let fetching = format!("fetch {name} from carol at 127.0.0.1:6003 from byte 0");
    assert!(effects.iter().any(|e| short(e) == fetching), "{name}");
}

#[test]
fn one_peer_cannot_take_every_transfer_slot_and_hears_why() {
    let carol = Identity::generate().unwrap();
    let (mut app, _) = offering_report(&carol);
    assert_eq!(app.files.config.max_transfers_per_peer, 2);
    receive_from_carol(&mut app, 1, "x");
    receive_from_carol(&mut app, 2, "y");
    // Two transfers with carol run (both ways count): her fetch of our
    // report is refused, and so is our accept of a third file of hers.
    check(
        &mut app,
        fetch("carol", 0, &carol),
        &[
            "refuse 100: ServerFull 2 transfers with you run already; ask for the file again when one ends",
        ],
    );
    let _ = app.handle(from_carol(FileLine::Offer(offer(3, 5, "z")), None), now());
    check(
        &mut app,
        line("/accept 0000000000000003"),
        &["Not accepted yet: 2 transfers with carol run already; /accept again when one ends."],
    );
    // The offer waits; once one transfer ends, carol's fetch is served.
    assert_eq!(app.files.incoming.iter().count(), 1);
    let ended = FileNews::Ended {
        transfer: receiving(1),
        result: Err(Failure::from("cut off")),
    };
    let _ = app.handle(news(ended), now());
    check(
        &mut app,
        fetch("carol", 0, &carol),
        &["serve 100: report.pdf to carol from byte 0"],
    );
    // The limit in all holds too, whoever asks.
    app.files.config.max_transfers_per_peer = 8;
    app.files.config.max_transfers = 2;
    check(
        &mut app,
        line("/accept"),
        &["Not accepted yet: 2 transfers run already; /accept again when one ends."],
    );
}

#[test]
fn a_member_who_leaves_or_is_kicked_loses_its_offers_and_transfers_at_once() {
    for gone in [
        Notice::Left("carol".into()),
        Notice::Kicked {
            name: "carol".into(),
            reason: None,
        },
    ] {
        let carol = Identity::generate().unwrap();
        let (mut app, t0) = offering_report(&carol);
        receive_from_carol(&mut app, 1, "x");
        let _ = app.handle(from_carol(FileLine::Offer(offer(2, 5, "y")), None), t0);
        let (_, effects) = app.handle(Incoming::Notice(gone), t0);
        let got: Vec<String> = effects.iter().map(short).collect();
        for line in [
            "notice: carol left: its offer of y is withdrawn.",
            "notice: carol left: your offer of report.pdf to it is cancelled.",
            "cancel 0000000000000001 with carol Receiving",
            "notice: carol left: Receiving x from carol stopped.",
        ] {
            assert!(got.iter().any(|g| g == line), "{line} not in {got:?}");
        }
        // Nothing of carol's can be accepted, and she can fetch nothing,
        // though neither offer has expired.
        assert_eq!(app.files.incoming.iter().count(), 0);
        check_at(
            &mut app,
            fetch("carol", 0, &carol),
            t0,
            &["refuse 100: NotFound no such offer accepted by you"],
        );
        assert!(!app.files.seats.contains_key("carol"));
    }
}
