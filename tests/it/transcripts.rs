//! Docs that run: every block of README.md, docs/PROTOCOL.md and
//! docs/LAB.md marked `<!-- run: ... -->` is played against the real
//! `server` binary (`support::transcript` says how a block is marked), and
//! every other block either says why it is not run or is listed below as
//! not run yet. The runner's own rules are tested as data.

use std::path::PathBuf;

use crate::support::{
    Bindings, Block, HandStep, Marker, Program, RunSpec, Step, blocks, hand_steps, parse_marker,
    registry_steps, run_document, screen_steps,
};

/// The documents whose transcripts must run.
const DOCS: [&str; 3] = ["README.md", "docs/PROTOCOL.md", "docs/LAB.md"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(file: &str) -> String {
    std::fs::read_to_string(root().join(file)).unwrap_or_else(|err| panic!("{file}: {err}"))
}

#[track_caller]
fn runs(file: &str) {
    let failures = run_document(file, &read(file));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_readme_transcripts_run() {
    runs("README.md");
}

#[test]
fn the_protocol_transcripts_run() {
    runs("docs/PROTOCOL.md");
}

#[test]
fn the_lab_transcripts_run() {
    runs("docs/LAB.md");
}

/// Invariant: each block of the three docs is run or says why it is not.
#[test]
fn every_block_is_run_or_says_why_not() {
    let mut unmarked = Vec::new();
    for file in DOCS {
        let found = blocks(&read(file)).unwrap_or_else(|why| panic!("{file}: {why}"));
        for block in found.iter().filter(|b| b.marker == Marker::Unmarked) {
            unmarked.push(format!("{file}:{} ({})", block.fence_line, block.heading));
        }
    }
    assert!(
        unmarked.is_empty(),
        "blocks with neither `<!-- run: ... -->` nor `<!-- not run: why -->`:\n{}",
        unmarked.join("\n")
    );
}

#[test]
fn markers_say_what_to_start() {
    let spec = |text: &str| match parse_marker(text).unwrap() {
        Marker::Run(spec) => spec,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        spec(
            "<!-- run: session=reg conn=bob server=tls args=--hello-timeout,5 registered=alice:s3cret peer=bob:6001 screen=carol:7001 typed=2,3 action=interrupt occupy=1 -->"
        ),
        RunSpec {
            session: "reg".into(),
            conn: "bob".into(),
            tls: true,
            args: vec!["--hello-timeout".into(), "5".into()],
            registered: vec![("alice".into(), "s3cret".into())],
            peers: vec![("bob".into(), "6001".into())],
            screen: Some(("carol".into(), Some("7001".into()))),
            typed: Some(vec![2, 3]),
            interrupt: true,
            occupy: 1,
            hand: Default::default(),
            ..RunSpec::default()
        }
    );
    assert_eq!(
        spec("<!-- run: session=w capture=tls -->")
            .capture
            .as_deref(),
        Some("tls")
    );
    assert!(parse_marker("<!-- run: session=w capture=udp -->").is_err());
    let more = spec(
        "<!-- run: session=a output=registry log=bob peer-args=bob:--trace,--invite-timeout,5 -->",
    );
    assert_eq!(
        (more.output, more.log, more.peer_args),
        (
            Some("registry".into()),
            Some("bob".into()),
            vec![(
                "bob".into(),
                vec!["--trace".into(), "--invite-timeout".into(), "5".into()]
            )]
        )
    );
    assert_eq!(spec("<!-- run: session=a -->").conn, "1");
    assert_eq!(
        spec("<!-- run: session=a screen=bob -->").screen,
        Some(("bob".into(), None))
    );
    assert_eq!(
        parse_marker("<!-- not run: a grammar, not a session -->"),
        Ok(Marker::NotRun("a grammar, not a session".into()))
    );
    assert_eq!(
        parse_marker("<!-- a comment for the reader -->"),
        Ok(Marker::Unmarked)
    );
    for bad in [
        "<!-- run: conn=1 -->",
        "<!-- run: session=a server=udp -->",
        "<!-- run: session=a colour=red -->",
        "<!-- run: session=a typed=one -->",
        "<!-- run: session=a peer=bob -->",
        "<!-- run: session=a peer-args=--trace -->",
        "<!-- not run: -->",
        "<!-- run: session=a",
    ] {
        assert!(parse_marker(bad).is_err(), "{bad}");
    }
}

#[test]
fn blocks_carry_their_marker_heading_and_line_numbers() {
    let doc = "# Title\n\n## Part 1\n\n<!-- not run: a shell command -->\n```sh\ncargo build\n```\n\ntext\n```text\nOK\n```\n";
    let found = blocks(doc).unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].marker, Marker::NotRun("a shell command".into()));
    assert_eq!(
        (found[0].fence_line, found[0].heading.as_str()),
        (6, "Part 1")
    );
    assert_eq!(found[0].lines, vec![(7, "cargo build".to_string())]);
    assert_eq!(found[1].marker, Marker::Unmarked);
    assert!(blocks("```text\nnever closed\n").is_err());
}

#[test]
fn typed_lines_are_what_the_registry_would_take_as_requests() {
    let steps = |marker: &str, body: &[&str]| {
        let Marker::Run(spec) = parse_marker(marker).unwrap() else {
            panic!()
        };
        let block = Block {
            fence_line: 1,
            heading: String::new(),
            marker: Marker::Run(spec.clone()),
            lines: body
                .iter()
                .enumerate()
                .map(|(i, l)| (i + 2, l.to_string()))
                .collect(),
        };
        registry_steps(&block, &spec)
            .unwrap()
            .into_iter()
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
    };
    let t = |s: &str| Step::Type(s.into());
    let e = |s: &str| Step::Expect(s.into());
    assert_eq!(
        steps(
            "<!-- run: session=a -->",
            &[
                "$ nc 127.0.0.1 7777          # second terminal",
                "help",
                "OK HELLO",
                "DANCE",
                "USER bob 127.0.0.1 6001",
                "BYE REPLACED                 # the connection closes",
                "> OK"
            ],
        ),
        vec![
            Step::Open(Program::Nc {
                port: "7777".into()
            }),
            t("help"),
            e("OK HELLO"),
            t("DANCE"),
            e("USER bob 127.0.0.1 6001"),
            e("BYE REPLACED"),
            t("OK"),
        ]
    );
    // openssl's own lines come before the first request, and are openssl's.
    assert_eq!(
        steps(
            "<!-- run: session=a -->",
            &[
                "$ openssl s_client -quiet -connect 127.0.0.1:7777",
                "Can't use SSL_get_servername",
                "depth=0 CN = rcgen self signed cert",
                "verify error:num=18:self-signed certificate",
                "verify return:1",
                "HELLO",
                "verify return:1"
            ],
        ),
        vec![
            Step::Open(Program::Openssl {
                port: "7777".into()
            }),
            Step::Openssl,
            Step::Openssl,
            Step::Openssl,
            Step::Openssl,
            t("HELLO"),
            t("verify return:1"),
        ]
    );
    // The marker says which lines are typed where the parser cannot.
    assert_eq!(
        steps(
            "<!-- run: session=a typed=2 -->",
            &["$ nc 127.0.0.1 7777", "HELP", "this port speaks TLS"]
        ),
        vec![
            Step::Open(Program::Nc {
                port: "7777".into()
            }),
            t("HELP"),
            e("this port speaks TLS")
        ]
    );
}

#[test]
fn a_screen_types_the_lines_after_a_prompt_and_the_password_unseen() {
    let block = Block {
        fence_line: 1,
        heading: String::new(),
        marker: Marker::Unmarked,
        lines: [
            "Password:",
            "",
            "> hi bob",
            "[alice] hi bob",
            "",
            "> 2  # search",
        ]
        .iter()
        .enumerate()
        .map(|(i, l)| (i + 2, l.to_string()))
        .collect(),
    };
    let e = |s: &str| Step::Expect(s.into());
    assert_eq!(
        screen_steps(&block),
        vec![
            (2, e("Password:")),
            (3, Step::Password),
            (4, Step::Type("hi bob".into())),
            (5, e("[alice] hi bob")),
            // Only right after `Password:` is an empty line typed.
            (6, e("")),
            (7, Step::Type("2".into())),
        ]
    );
}

#[test]
fn placeholders_bind_on_first_sight_and_nothing_else_varies() {
    let mut bindings = Bindings::default();
    bindings.bind("7777", "40123");
    let ticket = "ae4d1215258757576d3ad81ec9a38066";
    let real = "0123456789abcdef0123456789abcdef";
    let other = "fedcba9876543210fedcba9876543210";
    assert!(bindings.matches(&format!("OK TICKET {ticket}"), &format!("OK TICKET {real}")));
    // The same doc value stands for the same real one from then on, both
    // ways: in what is expected and in what is typed.
    assert!(!bindings.matches(
        &format!("OK TICKET {ticket}"),
        &format!("OK TICKET {other}")
    ));
    assert_eq!(
        bindings.real(&format!("CHECK {ticket}")),
        format!("CHECK {real}")
    );
    // Another doc value cannot stand for a real value bound already.
    assert!(!bindings.matches(
        "OK TICKET 11111111111111111111111111111111",
        &format!("OK TICKET {real}")
    ));
    // The port is bound inside a word too.
    assert!(bindings.matches(
        "connect with `-connect 127.0.0.1:7777`, or",
        "connect with `-connect 127.0.0.1:40123`, or"
    ));
    // Times and fingerprints match by shape.
    assert!(bindings.matches(
        "HISTORY 2026-12-03T07:38:43Z alice hi",
        "HISTORY 2027-01-01T00:00:00Z alice hi"
    ));
    assert!(bindings.matches(
        "fingerprint SHA256:7TKlWsQQehuImrtH3Mggiog1NYYKcfF7OhPg11Zoc7I",
        "fingerprint SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
    ));
    let key = |c: char| format!("{}.{}", c.to_string().repeat(43), c.to_string().repeat(43));
    assert!(bindings.matches(
        &format!("SEAT alice 127.0.0.1 5001 {}", key('A')),
        &format!("SEAT alice 127.0.0.1 5001 {}", key('b'))
    ));
    assert!(!bindings.matches(
        &format!("SEAT bob 127.0.0.1 6001 {}", key('A')),
        &format!("SEAT bob 127.0.0.1 6001 {}", key('c'))
    ));
    // A connecting socket's address binds like a ticket; the registry's
    // own address is no placeholder.
    assert!(bindings.matches(
        "<< 127.0.0.1:35880 NAME alice",
        "<< 127.0.0.1:51234 NAME alice"
    ));
    assert!(!bindings.matches(
        "<< 127.0.0.1:35880 JOIN alice",
        "<< 127.0.0.1:51235 JOIN alice"
    ));
    assert!(bindings.matches(">> 127.0.0.1:7777 CHECK", ">> 127.0.0.1:40123 CHECK"));
    assert!(!bindings.matches(">> 127.0.0.1:7777 CHECK", ">> 127.0.0.1:51236 CHECK"));
    // A log's local times match any time, each line its own.
    assert!(bindings.matches(
        "2026-11-24 13:35:39 [alice] hi",
        "2027-01-02 09:00:01 [alice] hi"
    ));
    assert!(bindings.matches(
        "2026-11-24 13:35:39 [bob] hello",
        "2027-01-02 09:00:02 [bob] hello"
    ));
    assert!(!bindings.matches(
        "2026-11-24 13:35:39 [bob] hello",
        "2027-01-02 9:00:02 [bob] hello"
    ));
    // Everything else is exact: names, words, ports other than the registry's, spacing.
    for (doc, actual) in [
        (
            "OK JOINED alice 127.0.0.1 5001",
            "OK JOINED alice 127.0.0.1 5002",
        ),
        (
            "OK JOINED alice 127.0.0.1 5001",
            "OK JOINED bob 127.0.0.1 5001",
        ),
        (
            "ERR OFFLINE alice is offline",
            "ERR OFFLINE alice is  offline",
        ),
        ("OK HELLO", "OK HELLO extra"),
        (
            "OK TICKET 22222222222222222222222222222222",
            "OK TICKET 2222222222222222222222222222222Z",
        ),
    ] {
        assert!(!bindings.matches(doc, actual), "{doc} matched {actual}");
    }
}

/// A block that differs from what the registry says fails, naming the
/// file, the line, what the doc expected and what came.
/// `<port>` in tshark's columns is any port a connecting socket got, each
/// time another, and never one the doc names.
#[test]
fn a_picked_port_is_any_port_of_a_connecting_socket() {
    let mut bindings = Bindings::default();
    bindings.bind("7777", "40001");
    assert!(bindings.matches("<port> 7777 HELLO", "51234 40001 HELLO"));
    assert!(bindings.matches("<port> 7777 HELLO", "51235 40001 HELLO"));
    assert!(!bindings.matches("<port> 7777 HELLO", "40001 40001 HELLO"));
    assert!(!bindings.matches("<port> 7777 HELLO", "5001 40001 HELLO"));
    assert!(!bindings.matches("<port> 7777 HELLO", "x 40001 HELLO"));
}

#[test]
fn a_block_that_differs_fails_with_its_line() {
    let doc = "## By hand\n\n<!-- run: session=s -->\n```text\n$ nc 127.0.0.1 7777\nHELLO\nERR NOT_JOINED join first\n```\n";
    let failures = run_document("DOC.md", doc);
    assert_eq!(failures.len(), 1, "{failures:?}");
    let failure = &failures[0];
    assert!(
        failure.starts_with("DOC.md:7: expected `ERR NOT_JOINED join first`, got `ERR NOT_JOINED JOIN first: JOIN <name> <password> <port>`"),
        "{failure}"
    );
    // And the right one passes, at a TLS registry too.
    let right = doc.replace("join first", "JOIN first: JOIN <name> <password> <port>");
    assert_eq!(run_document("DOC.md", &right), Vec::<String>::new());
    let tls = right.replace("session=s", "session=s server=tls").replace(
        "$ nc 127.0.0.1 7777",
        "$ openssl s_client -quiet -connect 127.0.0.1:7777\ndepth=0 CN = rcgen self signed cert",
    );
    assert_eq!(run_document("DOC.md", &tls), Vec::<String>::new());
}

/// A trace block that differs from what the registry printed fails too,
/// naming its line; the right one passes.
#[test]
fn a_trace_that_differs_fails_with_its_line() {
    let doc = "## By hand\n\n<!-- run: session=s args=--trace -->\n```text\n$ nc 127.0.0.1 7777\nNAME alice\nOK NAME_FREE alice\n```\n\n<!-- run: session=s output=registry -->\n```text\n<< 127.0.0.1:35880 NAME alice\n>> 127.0.0.1:35880 OK NAME_TAKEN alice\n```\n";
    let failures = run_document("DOC.md", doc);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].starts_with("DOC.md:13: expected `>> 127.0.0.1:35880 OK NAME_TAKEN alice` in its trace, got `>> 127.0.0.1:"),
        "{}",
        failures[0]
    );
    let right = doc.replace("OK NAME_TAKEN", "OK NAME_FREE");
    assert_eq!(run_document("DOC.md", &right), Vec::<String>::new());
}

#[test]
fn a_hand_types_the_marked_lines_and_comments_say_who_else_typed() {
    let Marker::Run(spec) = parse_marker(
        "<!-- run: session=a leads=alice:bob,carol hand=carol:5002 says=alice:hello+bob file=a.txt:hi+there -->",
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        spec.hand.leads,
        Some(("alice".into(), vec!["bob".into(), "carol".into()]))
    );
    assert_eq!(spec.hand.hand, vec![("carol".into(), "5002".into())]);
    assert_eq!(spec.hand.says, vec![("alice".into(), "hello bob".into())]);
    assert_eq!(spec.hand.files, vec![("a.txt".into(), "hi there".into())]);
    assert!(parse_marker("<!-- run: session=a leads=alice -->").is_err());
    let block = |lines: &[&str]| Block {
        fence_line: 1,
        heading: String::new(),
        marker: Marker::Unmarked,
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, l)| (i + 2, l.to_string()))
            .collect(),
    };
    let t = |s: &str| HandStep::Type(s.into());
    let e = |s: &str| HandStep::Expect(s.into());
    let steps = |lines: &[&str], typed: Option<&[usize]>| {
        hand_steps(&block(lines), typed)
            .unwrap()
            .into_iter()
            .map(|(_, step)| step)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        steps(
            &[
                "$ nc -l 5002                 # alice types: /invite carol",
                "CHAT_REQUEST alice 4140952bd94f50b0553b46b710b6328d",
                "> OK",
                "MSG bob hi all  # bob types: hi all",
                "HELLO",
            ],
            None
        ),
        vec![
            HandStep::PeerTypes {
                name: "alice".into(),
                text: "/invite carol".into()
            },
            HandStep::Listen("5002".into()),
            e("CHAT_REQUEST alice 4140952bd94f50b0553b46b710b6328d"),
            t("OK"),
            HandStep::PeerTypes {
                name: "bob".into(),
                text: "hi all".into()
            },
            e("MSG bob hi all"),
            // Without a mark, a line is one the terminal shows.
            e("HELLO"),
        ]
    );
    // `typed=` names the typed lines of a block that has no marks.
    assert_eq!(
        steps(
            &["$ nc -l -p 5002", "OK", "MEMBERS alice carol"],
            Some(&[2])
        ),
        vec![
            HandStep::Listen("5002".into()),
            t("OK"),
            e("MEMBERS alice carol")
        ]
    );
    assert_eq!(
        steps(&["$ nc 127.0.0.1 15003", "> PROVE x"], None),
        vec![HandStep::Connect("15003".into()), t("PROVE x")]
    );
    assert!(hand_steps(&block(&["$ socat - TCP:127.0.0.1:5002"]), None).is_err());
}

#[test]
fn offer_ids_nonces_and_signatures_match_by_shape() {
    let mut bindings = Bindings::default();
    let nonce = |c: char| c.to_string().repeat(43);
    let sig = |c: char| c.to_string().repeat(86);
    assert!(bindings.matches(
        "SENDING 3f2a9c0d11e4b7a5 0 6",
        "SENDING 8f4f47c999059257 0 6"
    ));
    assert!(!bindings.matches(
        "SENDING 3f2a9c0d11e4b7a5 0 6",
        "SENDING 8f4f47c99905925 0 6"
    ));
    assert!(bindings.matches(
        &format!("PROOF bob {} {}", nonce('a'), sig('b')),
        &format!("PROOF bob {} {}", nonce('c'), sig('d'))
    ));
    // A nonce does not stand for a signature, nor a key for either.
    assert!(!bindings.matches(
        &format!("PROVE {}", nonce('e')),
        &format!("PROVE {}", sig('f'))
    ));
    assert!(!bindings.matches(
        &format!("PROVE {}", nonce('g')),
        &format!("PROVE {}.{}", nonce('h'), nonce('h'))
    ));
}
