//! The lobby hub over real TCP on 127.0.0.1: each test member is the client
//! end of a loopback connection whose server end is admitted to the hub.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use p2pchat::conn::MemberConn;
use p2pchat::lobby::{InvitePolicy, Lobby, LobbyConfig, Notice};
use p2pchat::trace::Trace;
use p2pchat::wire::{ErrorCode, InviteStatus};

/// The leader's end of a member's connection, as the hub takes it.
fn member_conn(server: TcpStream) -> MemberConn {
    MemberConn::new(server, "member", Trace::off()).unwrap()
}

/// How long a test waits for a line or a notice before it fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// The test's end of one member's connection.
struct Peer {
    label: String,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Peer {
    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next line the hub sent, or `None` at the end of the stream.
    #[track_caller]
    fn next_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line.strip_suffix('\n').expect("a whole line").to_string()),
            Err(err) => panic!("{}: reading failed: {err}", self.label),
        }
    }

    #[track_caller]
    fn expect(&mut self, expected: &str) {
        let got = self.next_line();
        assert_eq!(got.as_deref(), Some(expected), "{} read", self.label);
    }

    #[track_caller]
    fn expect_eof(&mut self) {
        let got = self.next_line();
        assert_eq!(got, None, "{} expected the end of the stream", self.label);
    }

    /// Reads until `expected`, returning how many other lines came first.
    #[track_caller]
    fn read_until(&mut self, expected: &str) -> usize {
        let mut skipped = 0;
        loop {
            match self.next_line() {
                Some(line) if line == expected => return skipped,
                Some(_) => skipped += 1,
                None => panic!("{}: the stream ended before {expected:?}", self.label),
            }
        }
    }
}

/// One listener hands out both ends of as many loopback connections as a
/// test needs.
struct Net {
    listener: TcpListener,
}

impl Net {
    fn new() -> Net {
        Net {
            listener: TcpListener::bind("127.0.0.1:0").unwrap(),
        }
    }

    /// Connects a member, admits its server end as `name`, and returns the
    /// client end for the test to play the member with.
    fn join(&self, lobby: &Lobby, name: &str, label: &str) -> Peer {
        let (client, server) = self.pair();
        lobby.admit(name.to_string(), member_conn(server));
        peer(client, label)
    }

    fn pair(&self) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(self.listener.local_addr().unwrap()).unwrap();
        let (server, _) = self.listener.accept().unwrap();
        (client, server)
    }
}

fn peer(client: TcpStream, label: &str) -> Peer {
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    Peer {
        label: label.to_string(),
        reader: BufReader::new(client.try_clone().unwrap()),
        stream: client,
    }
}

fn start(config: LobbyConfig) -> (Lobby, Receiver<Notice>) {
    let (notices, ui) = crossbeam_channel::unbounded();
    (Lobby::start(config, notices).unwrap(), ui)
}

#[track_caller]
fn expect_notice(ui: &Receiver<Notice>, expected: Notice) {
    let got = ui.recv_timeout(PATIENCE).expect("a notice for the leader");
    assert_eq!(got, expected);
}

fn show(notice: &Notice) -> String {
    match notice {
        Notice::Joined(name) => format!("joined {name}"),
        Notice::Msg { from, text } => format!("msg {from} {text}"),
        Notice::Left(name) => format!("left {name}"),
        Notice::Lost(name) => format!("lost {name}"),
        Notice::Dropped(name) => format!("dropped {name}"),
        Notice::Silent(name) => format!("silent {name}"),
        Notice::TooLong(name) => format!("too long {name}"),
        other => format!("{other:?}"),
    }
}

/// Runs a script against a lobby led by `leader`. Each step is one of:
///
/// - `+NAME` or `+NAME as LABEL`: a new connection is admitted as `NAME`;
/// - `LABEL> LINE`: that member sends `LINE`; the `LINE`s `<bad utf-8>`,
///   `<long>` and `<hangup>` send invalid UTF-8, an over-long line, or close
///   the connection without `LEAVE`;
/// - `LABEL< LINE`: that member's next line is `LINE`; `<eof>` is the end;
/// - `ui: NOTICE`: the leader's next notice, as `show` writes it;
/// - `leader> TEXT`: the leader says `TEXT`;
/// - `members: NAMES`: `Lobby::members`, joined with spaces;
/// - `close REASON` or `drop`: the lobby ends.
#[track_caller]
fn check(script: &[&str]) {
    let net = Net::new();
    let mut config = LobbyConfig::new("leader");
    // Trace output is captured by the test harness, and running it here
    // makes sure tracing never changes what goes over the wire.
    config.trace = p2pchat::trace::Trace::new(true);
    let (lobby, ui) = start(config);
    let mut lobby = Some(lobby);
    let mut peers: Vec<Peer> = Vec::new();
    for step in script {
        let lobby_ref = || lobby.as_ref().expect("no step after the lobby ended");
        if let Some(admission) = step.strip_prefix('+') {
            let (name, label) = admission
                .split_once(" as ")
                .unwrap_or((admission, admission));
            peers.push(net.join(lobby_ref(), name, label));
        } else if let Some(notice) = step.strip_prefix("ui: ") {
            let got = ui.recv_timeout(PATIENCE).expect("a notice for the leader");
            assert_eq!(show(&got), notice, "step {step:?}");
        } else if let Some(text) = step.strip_prefix("leader> ") {
            lobby_ref().say(text.to_string());
        } else if let Some(names) = step.strip_prefix("members: ") {
            assert_eq!(lobby_ref().members().join(" "), names, "step {step:?}");
        } else if let Some(reason) = step.strip_prefix("close ") {
            lobby.take().expect("the lobby ends once").close(reason);
        } else if *step == "drop" {
            drop(lobby.take().expect("the lobby ends once"));
        } else if let Some((label, line)) = step.split_once("> ") {
            let peer = find(&mut peers, label);
            match line {
                "<bad utf-8>" => peer.send(b"MSG caf\xe9\n"),
                "<long>" => peer.send(format!("MSG {}\n", "a".repeat(2000)).as_bytes()),
                "<hangup>" => peer.stream.shutdown(Shutdown::Both).unwrap(),
                _ => peer.send(format!("{line}\n").as_bytes()),
            }
        } else if let Some((label, line)) = step.split_once("< ") {
            let peer = find(&mut peers, label);
            match line {
                "<eof>" => peer.expect_eof(),
                _ => peer.expect(line),
            }
        } else {
            panic!("not a step: {step:?}");
        }
    }
}

#[track_caller]
fn find<'a>(peers: &'a mut [Peer], label: &str) -> &'a mut Peer {
    peers
        .iter_mut()
        .find(|p| p.label == label)
        .unwrap_or_else(|| panic!("no member labelled {label}"))
}

/// Alice, Bob and Carol join and have read everything their joining caused.
const THREE: &[&str] = &[
    "+alice",
    "alice< MEMBERS leader alice",
    "ui: joined alice",
    "+bob",
    "bob< MEMBERS leader alice bob",
    "alice< JOINED bob",
    "ui: joined bob",
    "+carol",
    "carol< MEMBERS leader alice bob carol",
    "alice< JOINED carol",
    "bob< JOINED carol",
    "ui: joined carol",
];

#[track_caller]
fn check_three(script: &[&str]) {
    check(&[THREE, script].concat());
}

#[test]
fn admission_lists_the_leader_first_and_tells_the_others() {
    check_three(&["members: leader alice bob carol"]);
    check(&["members: leader"]);
}

#[test]
fn messages_are_relayed_to_everyone_else_with_the_senders_name() {
    check_three(&[
        "alice> MSG hello there",
        "bob< MSG alice hello there",
        "carol< MSG alice hello there",
        "ui: msg alice hello there",
        // Alice's next line is Bob's message: her own never came back.
        "bob> MSG hi alice",
        "alice< MSG bob hi alice",
        "carol< MSG bob hi alice",
        "ui: msg bob hi alice",
    ]);
}

#[test]
fn a_member_cannot_speak_as_someone_else() {
    check_three(&[
        "alice> MSG bob hi",
        "bob< MSG alice bob hi",
        "carol< MSG alice bob hi",
        "ui: msg alice bob hi",
    ]);
}

#[test]
fn the_leader_speaks_to_everyone() {
    check_three(&[
        "leader> hello all",
        "alice< MSG leader hello all",
        "bob< MSG leader hello all",
        "carol< MSG leader hello all",
        // Text that would break the framing is never sent.
        "leader> ",
        "leader> two\nlines",
        "leader> still one line",
        "alice< MSG leader still one line",
    ]);
}

#[test]
fn members_leave_by_leave_or_by_hanging_up() {
    check_three(&[
        "alice> LEAVE",
        "alice< <eof>",
        "bob< LEFT alice LEFT",
        "carol< LEFT alice LEFT",
        "ui: left alice",
        "members: leader bob carol",
        "carol> <hangup>",
        "bob< LEFT carol LOST",
        "ui: lost carol",
        "members: leader bob",
    ]);
}

#[test]
fn a_bad_line_gets_an_err_for_its_sender_only() {
    check_three(&[
        "alice> JOIN",
        "alice< ERR UNKNOWN_COMMAND unknown command JOIN",
        "alice> MSG",
        "alice< ERR BAD_ARGS a message needs some text",
        "alice> LEAVE now",
        "alice< ERR BAD_ARGS usage: LEAVE",
        "alice> OK",
        "alice< ERR BAD_ARGS not expected in a lobby",
        "alice> REJECT",
        "alice< ERR BAD_ARGS not expected in a lobby",
        "alice> BUSY",
        "alice< ERR BAD_ARGS not expected in a lobby",
        "alice> <bad utf-8>",
        "alice< ERR BAD_ENCODING line is not valid UTF-8",
        // Alice is still a member, and Bob's next line is her message, so he
        // saw none of her errors.
        "alice> MSG still here",
        "bob< MSG alice still here",
        "ui: msg alice still here",
    ]);
}

#[test]
fn an_over_long_line_ends_that_member() {
    check_three(&[
        "alice> <long>",
        "alice< ERR LINE_TOO_LONG line is longer than 1024 bytes",
        "alice< <eof>",
        "bob< LEFT alice TOO_LONG",
        "carol< LEFT alice TOO_LONG",
        "ui: too long alice",
        "members: leader bob carol",
    ]);
}

#[test]
fn a_duplicate_name_is_turned_away() {
    check_three(&[
        "+alice as alice2",
        "alice2< CLOSED DUPLICATE",
        "alice2< <eof>",
        "+leader as fake",
        "fake< CLOSED DUPLICATE",
        "fake< <eof>",
        "members: leader alice bob carol",
        // Nobody heard of the turned-away connections.
        "alice> MSG no news",
        "bob< MSG alice no news",
        "ui: msg alice no news",
    ]);
}

#[test]
fn close_sends_closed_as_the_last_line() {
    check_three(&[
        "alice> MSG bye",
        "bob< MSG alice bye",
        "carol< MSG alice bye",
        "close SHUTDOWN",
        "alice< CLOSED SHUTDOWN",
        "alice< <eof>",
        "bob< CLOSED SHUTDOWN",
        "bob< <eof>",
        "carol< CLOSED SHUTDOWN",
        "carol< <eof>",
    ]);
    check(&["close SHUTDOWN"]);
}

#[test]
fn dropping_the_lobby_closes_it_with_leader_left() {
    check_three(&[
        "drop",
        "alice< CLOSED LEADER_LEFT",
        "alice< <eof>",
        "bob< CLOSED LEADER_LEFT",
        "bob< <eof>",
        "carol< CLOSED LEADER_LEFT",
        "carol< <eof>",
    ]);
}

#[test]
fn one_message_reaches_two_hundred_members() {
    let net = Net::new();
    let (lobby, ui) = start(LobbyConfig::new("leader"));
    let names: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    let mut peers: Vec<Peer> = names.iter().map(|n| net.join(&lobby, n, n)).collect();
    for name in &names {
        expect_notice(&ui, Notice::Joined(name.clone()));
    }
    assert_eq!(lobby.members().len(), 201);

    peers[0].send(b"MSG hello everyone\n");
    for peer in &mut peers[1..] {
        // The `JOINED` lines of later members come first.
        peer.read_until("MSG m0 hello everyone");
    }
    expect_notice(
        &ui,
        Notice::Msg {
            from: "m0".to_string(),
            text: "hello everyone".to_string(),
        },
    );
    lobby.close("SHUTDOWN");
    for peer in &mut peers {
        peer.read_until("CLOSED SHUTDOWN");
        peer.expect_eof();
    }
}

/// The numbers of the lines `MSG <from> <prefix><n>` among `lines`, in the
/// order they came.
fn numbers(lines: &[String], from: &str, prefix: &str) -> Vec<u32> {
    let head = format!("MSG {from} {prefix}");
    lines
        .iter()
        .filter_map(|line| line.strip_prefix(&head)?.parse().ok())
        .collect()
}

#[test]
fn members_coming_and_going_during_a_flood_miss_nothing_and_keep_order() {
    // More members than the hub serves between looks at its inbox, so its
    // flush passes are broken up by new lines, leavers and a newcomer.
    const LINES: u32 = 300;
    let net = Net::new();
    // Heartbeats far off, so that no timer wakes the hub: every line must
    // go out because the hub's own passes send it.
    let mut config = LobbyConfig::new("leader");
    config.hello_interval = Duration::from_secs(600);
    config.silence_timeout = Duration::from_secs(600);
    let (lobby, _ui) = start(config);
    let mut peers: Vec<Peer> = (0..100)
        .map(|i| {
            let name = format!("m{i}");
            net.join(&lobby, &name, &name)
        })
        .collect();
    let flood =
        |prefix: &str| -> String { (0..LINES).map(|n| format!("MSG {prefix}{n}\n")).collect() };
    peers[0].send(flood("a").as_bytes());
    peers[1].send(flood("b").as_bytes());
    for peer in &mut peers[90..] {
        peer.send(b"LEAVE\n");
    }
    let mut late = net.join(&lobby, "late", "late");

    let last_a = format!("MSG m0 a{}", LINES - 1);
    let last_b = format!("MSG m1 b{}", LINES - 1);
    let all: Vec<u32> = (0..LINES).collect();
    for peer in &mut peers[2..90] {
        let mut lines = Vec::new();
        let mut left = 0;
        while !(lines.contains(&last_a) && lines.contains(&last_b) && left == 10) {
            let line = peer.next_line().expect("the lobby is still open");
            left += usize::from(line.starts_with("LEFT m9"));
            lines.push(line);
        }
        assert_eq!(
            numbers(&lines, "m0", "a"),
            all,
            "{}: m0's lines",
            peer.label
        );
        assert_eq!(
            numbers(&lines, "m1", "b"),
            all,
            "{}: m1's lines",
            peer.label
        );
    }
    // The newcomer gets whatever was relayed after it came: a tail of each
    // flood, in order and without a gap. It may have come after both
    // floods ended, so it cannot wait for their last lines; it waits for a
    // marker instead, sent once it is surely in (its first line, the
    // member list, is written when the hub admits it) and once every
    // flood line has been relayed (m2 has read both last lines above).
    let welcome = late.next_line().expect("the lobby is still open");
    assert!(
        welcome.starts_with("MEMBERS "),
        "late got {welcome:?} first"
    );
    peers[2].send(b"MSG marker\n");
    let mut lines = Vec::new();
    loop {
        let line = late.next_line().expect("the lobby is still open");
        if line == "MSG m2 marker" {
            break;
        }
        lines.push(line);
    }
    for (from, prefix) in [("m0", "a"), ("m1", "b")] {
        let got = numbers(&lines, from, prefix);
        let first = got.first().copied().unwrap_or(LINES);
        assert_eq!(
            got,
            (first..LINES).collect::<Vec<_>>(),
            "late: {from}'s lines"
        );
    }
    lobby.close("SHUTDOWN");
}

#[test]
fn a_flood_of_long_lines_drops_nobody_who_reads() {
    // One member sends more than the 1 MiB backlog limit as fast as it can to
    // a lobby big enough that the hub falls behind it; the hub must not let
    // so much pile up for anyone between two of its sends that a member who
    // keeps reading is taken for a slow one.
    const LINES: usize = 3000;
    const MEMBERS: usize = 300;
    let net = Net::new();
    let (lobby, ui) = start(LobbyConfig::new("leader"));
    let mut peers: Vec<Peer> = (0..MEMBERS)
        .map(|i| {
            let name = format!("m{i}");
            net.join(&lobby, &name, &name)
        })
        .collect();
    let text = "x".repeat(390);
    let flood: String = (0..LINES).map(|n| format!("MSG {n} {text}\n")).collect();
    assert!(flood.len() > 1 << 20);
    let last = format!("MSG m0 {} {text}", LINES - 1);
    let readers: Vec<_> = peers
        .drain(1..)
        .map(|mut peer| {
            let last = last.clone();
            std::thread::spawn(move || {
                let mut numbers = Vec::new();
                while let Some(line) = peer.next_line() {
                    if let Some(rest) = line.strip_prefix("MSG m0 ") {
                        numbers.push(rest.split(' ').next().unwrap().parse::<usize>().unwrap());
                    }
                    if line == last {
                        break;
                    }
                }
                (peer.label, numbers)
            })
        })
        .collect();
    peers[0].send(flood.as_bytes());
    for reader in readers {
        let (label, numbers) = reader.join().unwrap();
        assert!(
            numbers.iter().copied().eq(0..LINES),
            "{label} got {} lines, the last {:?}, of {LINES} in order",
            numbers.len(),
            numbers.last()
        );
    }
    lobby.close("SHUTDOWN");
    let dropped: Vec<String> = ui
        .try_iter()
        .filter_map(|notice| match notice {
            Notice::Dropped(name) => Some(name),
            _ => None,
        })
        .collect();
    assert_eq!(dropped, Vec::<String>::new(), "nobody was dropped");
}

/// Shrinks a socket's kernel buffer, so that a member who does not read fills
/// it after a few kilobytes rather than a few megabytes.
fn shrink_buffer(stream: &TcpStream, option: libc::c_int) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 4096;
    // SAFETY: the descriptor is open while `stream` is borrowed, and the
    // option value is a live `c_int` whose size is passed along with it.
    let status = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&raw const size).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(status, 0, "setsockopt: {}", std::io::Error::last_os_error());
}

#[test]
fn a_member_that_never_reads_is_dropped_without_stalling_the_others() {
    const ROUNDS: usize = 40;
    const PER_ROUND: usize = 100;

    let net = Net::new();
    let mut config = LobbyConfig::new("leader");
    config.max_queued_bytes = 64 * 1024;
    let (lobby, ui) = start(config);

    let mut talker = net.join(&lobby, "talker", "talker");
    let mut fast = net.join(&lobby, "fast", "fast");
    let (slow_client, slow_server) = net.pair();
    shrink_buffer(&slow_server, libc::SO_SNDBUF);
    shrink_buffer(&slow_client, libc::SO_RCVBUF);
    lobby.admit("slow".to_string(), member_conn(slow_server));
    for name in ["talker", "fast", "slow"] {
        expect_notice(&ui, Notice::Joined(name.to_string()));
    }
    talker.expect("MEMBERS leader talker");
    talker.expect("JOINED fast");
    talker.expect("JOINED slow");
    fast.expect("MEMBERS leader talker fast");
    fast.expect("JOINED slow");

    // The talker sends in rounds the fast member reads in between, so that
    // only the member who never reads can fall behind by more than the limit.
    let padding = "x".repeat(480);
    let text = |i: usize| format!("{i:05} {padding}");
    let mut saw_left = false;
    for round in 0..ROUNDS {
        let mut batch = Vec::new();
        for i in round * PER_ROUND..(round + 1) * PER_ROUND {
            batch.extend_from_slice(format!("MSG {}\n", text(i)).as_bytes());
        }
        talker.send(&batch);
        let mut i = round * PER_ROUND;
        while i < (round + 1) * PER_ROUND {
            let line = fast.next_line().expect("the fast member stays in");
            if line == "LEFT slow SLOW" && !saw_left {
                saw_left = true;
                continue;
            }
            assert_eq!(line, format!("MSG talker {}", text(i)));
            i += 1;
        }
    }
    assert!(saw_left, "the slow member was never dropped");
    talker.expect("LEFT slow SLOW");

    let mut notices = Vec::new();
    for _ in 0..ROUNDS * PER_ROUND + 1 {
        notices.push(ui.recv_timeout(PATIENCE).unwrap());
    }
    assert_eq!(
        notices
            .iter()
            .filter(|n| **n == Notice::Dropped("slow".to_string()))
            .count(),
        1
    );

    // The slow member gets what its small buffers held, then the end.
    let mut slow = slow_client;
    slow.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut rest = Vec::new();
    match slow.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(err) => assert_eq!(err.kind(), ErrorKind::ConnectionReset),
    }
    assert!(rest.len() < ROUNDS * PER_ROUND * 500);

    lobby.close("SHUTDOWN");
    talker.expect("CLOSED SHUTDOWN");
    fast.expect("CLOSED SHUTDOWN");
}

#[test]
fn idle_members_hear_hello_and_silent_ones_are_dropped() {
    let mut config = LobbyConfig::new("lead");
    // The silence timeout is many heartbeats long, so that the live
    // member's answers, however slowly a loaded machine runs this test,
    // always come in time. The rule itself, at every boundary, is tested as
    // data in `lobby::state`; this is the same rule over real sockets.
    config.hello_interval = Duration::from_millis(25);
    config.silence_timeout = Duration::from_millis(400);
    let silence = config.silence_timeout;
    let (lobby, ui) = start(config);
    let net = Net::new();
    let mut alive = net.join(&lobby, "alive", "alive");
    alive.expect("MEMBERS lead alive");
    expect_notice(&ui, Notice::Joined("alive".into()));
    // This member neither sends nor reads, and never closes its socket, as
    // if its machine had died.
    let mut dead = net.join(&lobby, "dead", "dead");
    expect_notice(&ui, Notice::Joined("dead".into()));
    alive.expect("JOINED dead");

    // The live member answers every HELLO with its own, as a peer does;
    // the silent one is dropped and the live one told.
    let mut hellos = 0;
    loop {
        let line = alive.next_line().expect("the lobby goes on");
        match line.as_str() {
            "HELLO" => {
                hellos += 1;
                alive.send(b"HELLO\n");
            }
            "LEFT dead SILENT" => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(hellos >= 1, "no HELLO before the silent member was dropped");
    expect_notice(&ui, Notice::Silent("dead".into()));
    dead.read_until("HELLO");
    // The live member is still in, past two silence timeouts' worth of
    // HELLOs: answering them is what keeps it.
    let kept_until = Instant::now() + 2 * silence;
    while Instant::now() < kept_until {
        alive.expect("HELLO");
        alive.send(b"HELLO\n");
    }
    assert_eq!(lobby.members(), ["lead", "alive"]);
}

/// The next line is `HISTORY <time> <rest>`.
#[track_caller]
fn expect_history(peer: &mut Peer, rest: &str) {
    let line = peer.next_line().expect("a HISTORY line");
    let mut words = line.splitn(3, ' ');
    assert_eq!(words.next(), Some("HISTORY"), "{line}");
    let time = words.next().unwrap();
    assert!(p2pchat::wire::parse_stamp(time).is_ok(), "{line}");
    assert_eq!(words.next(), Some(rest), "{line}");
}

#[test]
fn a_running_lobby_replays_history_relays_private_messages_and_kicks() {
    let mut config = LobbyConfig::new("alice");
    config.history = 2;
    config.invites = InvitePolicy::Leader;
    let (lobby, ui) = start(config);
    let net = Net::new();
    let mut bob = net.join(&lobby, "bob", "bob");
    bob.expect("MEMBERS alice bob");
    expect_notice(&ui, Notice::Joined("bob".into()));
    lobby.say("one".into());
    bob.expect("MSG alice one");
    bob.send(b"MSG two\n");
    expect_notice(
        &ui,
        Notice::Msg {
            from: "bob".into(),
            text: "two".into(),
        },
    );
    bob.send(b"PM alice psst\n");
    expect_notice(
        &ui,
        Notice::Private {
            from: "bob".into(),
            text: "psst".into(),
        },
    );
    lobby.say("three".into());
    bob.expect("MSG alice three");

    // The last two messages, oldest first, right after MEMBERS; no PM.
    let mut carol = net.join(&lobby, "carol", "carol");
    carol.expect("MEMBERS alice bob carol");
    expect_history(&mut carol, "bob two");
    expect_history(&mut carol, "alice three");
    bob.expect("JOINED carol");
    expect_notice(&ui, Notice::Joined("carol".into()));

    assert_eq!(lobby.tell("Carol".into(), "hi".into()), Ok("carol".into()));
    carol.expect("PM alice hi");
    let err = lobby.tell("dave".into(), "hi".into()).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotInLobby);
    bob.send(b"PM carol just you\n");
    carol.expect("PM bob just you");
    bob.send(b"PM dave hi\n");
    bob.expect("ERR NOT_IN_LOBBY dave is not in this lobby");
    bob.send(b"INVITE dave\n");
    bob.expect("ERR LEADER_ONLY only the leader invites in this lobby; ask alice");
    expect_notice(
        &ui,
        Notice::InviteDenied {
            by: "bob".into(),
            name: "dave".into(),
        },
    );
    lobby.invitation("dave".into(), InviteStatus::Sent { by: "alice".into() });
    bob.expect("INVITATION dave SENT alice");
    carol.expect("INVITATION dave SENT alice");
    lobby.refuse("carol".into(), ErrorCode::TooManyInvites, "wait".into());
    carol.expect("ERR TOO_MANY_INVITES wait");

    assert_eq!(
        lobby.kick("BOB".into(), Some("be nice".into())),
        Some("bob".into())
    );
    bob.expect("CLOSED KICKED be nice");
    bob.expect_eof();
    carol.expect("KICKED bob be nice");
    carol.expect("LEFT bob KICKED");
    expect_notice(
        &ui,
        Notice::Kicked {
            name: "bob".into(),
            reason: Some("be nice".into()),
        },
    );
    assert_eq!(lobby.kick("bob".into(), None), None);
    assert_eq!(lobby.members(), ["alice", "carol"]);
    // Members admitted without their chat address have no contact here.
    assert_eq!(lobby.contacts(), []);
    lobby.close("SHUTDOWN");
    carol.expect("CLOSED SHUTDOWN");
}

#[test]
fn members_may_ask_for_invitations_unless_the_policy_says_no() {
    let (lobby, ui) = start(LobbyConfig::new("alice"));
    let net = Net::new();
    let mut bob = net.join(&lobby, "bob", "bob");
    bob.expect("MEMBERS alice bob");
    expect_notice(&ui, Notice::Joined("bob".into()));
    bob.send(b"INVITE dave\n");
    expect_notice(
        &ui,
        Notice::InviteAsked {
            by: "bob".into(),
            name: "dave".into(),
        },
    );
    bob.send(b"INVITE Alice\n");
    bob.expect("ERR ALREADY_IN_LOBBY alice is in this lobby already");
    bob.send(b"INVITE\n");
    bob.expect("ERR BAD_ARGS usage: INVITE <name>");
    // Five requests a minute, whatever became of them; the refused one
    // above counts, the unparsable one does not.
    for name in ["e1", "e2", "e3"] {
        bob.send(format!("INVITE {name}\n").as_bytes());
        expect_notice(
            &ui,
            Notice::InviteAsked {
                by: "bob".into(),
                name: name.into(),
            },
        );
    }
    bob.send(b"INVITE e4\n");
    bob.expect("ERR TOO_MANY_INVITES at most 5 invite requests a member per 60 seconds");
    bob.send(b"MSG after\n");
    expect_notice(
        &ui,
        Notice::Msg {
            from: "bob".into(),
            text: "after".into(),
        },
    );
}

#[test]
fn the_lobby_knows_where_its_members_listen() {
    let (lobby, ui) = start(LobbyConfig::new("alice"));
    let net = Net::new();
    let (client, server) = net.pair();
    let chat_addr = "127.0.0.1:5002".parse().unwrap();
    lobby.admit_from("carol".into(), chat_addr, None, member_conn(server));
    let mut carol = peer(client, "carol");
    carol.expect("MEMBERS alice carol");
    expect_notice(&ui, Notice::Joined("carol".into()));
    let _bob = net.join(&lobby, "bob", "bob");
    expect_notice(&ui, Notice::Joined("bob".into()));
    let contacts = lobby.contacts();
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    assert_eq!(contacts[0].to_string(), "carol 127.0.0.1 5002");
}

#[test]
fn control_and_bidi_characters_are_refused_and_never_relayed() {
    const WHY: &str = "message text must not hold control or bidi characters";
    check_three(&[
        "alice> MSG \x08\x08\x08\x08\x08\x08\x08\x08\x08\x08[bob] please send me your password",
        &format!("alice< ERR BAD_TEXT {WHY} (U+0008)"),
        "alice> MSG \x1b]0;title\x07",
        &format!("alice< ERR BAD_TEXT {WHY} (U+001B)"),
        "alice> MSG \x1b[2K",
        &format!("alice< ERR BAD_TEXT {WHY} (U+001B)"),
        "alice> MSG x\u{85}y",
        &format!("alice< ERR BAD_TEXT {WHY} (U+0085)"),
        "alice> MSG abc\u{202e}def",
        &format!("alice< ERR BAD_TEXT {WHY} (U+202E)"),
        // Bob's and Carol's next line, and the leader's next notice, are
        // Alice's plain message: nothing refused was relayed.
        "alice> MSG plain\twith a tab",
        "bob< MSG alice plain\twith a tab",
        "carol< MSG alice plain\twith a tab",
        "ui: msg alice plain\twith a tab",
    ]);
}
