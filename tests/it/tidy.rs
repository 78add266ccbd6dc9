//! Invariants that grep can check, checked (rust-analyzer's tidy tests):
//! the wire grammar does no I/O, the plain types ARCHITECTURE.md lists take
//! `now` and do no I/O, framing knows no keyword, the database never sees a
//! plain password, and ARCHITECTURE.md is the one map of every file in
//! `src/`. docs/ARCHITECTURE.md states them; these tests keep them true.
//!
//! The checks read the source files as text. Comments are blanked out first
//! (a doc comment may well say "this module never imports `std::io`"), but
//! string literals are kept, since that is where a keyword would hide.

use std::fs;
use std::path::{Path, PathBuf};

/// Invariant: the grammar module does no I/O. It may be `src/wire.rs` or,
/// once split, a `src/wire/` folder; every file of whichever exists is read.
/// What the programs and docs/LAB.md's exercises leave in the working
/// directory (`registry.db`, `logs/`, every `--db`, `--log-dir` and
/// `--data-dir` the lab names) is kept out of the repository.
#[test]
fn gitignore_keeps_out_what_running_leaves_behind() {
    let ignore = read(&root().join(".gitignore"));
    let patterns: Vec<&str> = ignore
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let lab = read(&root().join("docs/LAB.md"));
    let mut made = vec!["registry.db".to_string(), "registry.db-wal".into()];
    made.extend(["logs/", "registry-key/", "lab-tls.pcapng"].map(String::from));
    for option in ["--db", "--log-dir", "--data-dir"] {
        for (at, _) in lab.match_indices(&format!("{option} ")) {
            let word = lab[at + option.len() + 1..]
                .split([' ', '`', '\n', ')'])
                .next();
            match word {
                Some(w) if !w.is_empty() && !w.starts_with(['<', '/']) && w != "of" => {
                    made.push(if option == "--db" {
                        w.to_string()
                    } else {
                        format!("{w}/")
                    });
                }
                _ => {}
            }
        }
    }
    for path in &made {
        assert!(
            patterns.iter().any(|p| ignored_by(p, path)),
            ".gitignore does not keep out {path}"
        );
    }
}

/// Whether the `.gitignore` pattern `pattern` (a name or a `dir/`, with
/// `*`s) covers `path`, a file or a `dir/` in the working directory.
fn ignored_by(pattern: &str, path: &str) -> bool {
    fn glob(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
            Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
        }
    }
    let pattern = pattern.trim_start_matches('/');
    pattern.ends_with('/') == path.ends_with('/') && glob(pattern.as_bytes(), path.as_bytes())
}

#[test]
fn wire_imports_no_io_and_no_socket() {
    let files = wire_files();
    assert!(
        !files.is_empty(),
        "neither src/wire.rs nor src/wire/ exists"
    );
    for file in files {
        let found = io_uses(&code_of(&read(&file)));
        assert!(
            found.is_empty(),
            "{} does I/O, which the grammar must leave to line.rs and its callers:\n{}",
            file.display(),
            found.join("\n")
        );
    }
}

/// A registry hashes new passwords with the production parameters unless
/// told otherwise, and those are the ones ARCHITECTURE.md documents; so is
/// the wait of a presence write on a locked database, which tests shorten.
#[test]
fn the_production_hash_parameters_are_the_documented_ones() {
    use p2pchat::password::HashParams;
    use p2pchat::registry::{DEFAULT_PRESENCE_BUSY_TIMEOUT, RegistryConfig};
    use std::time::Duration;

    let config = RegistryConfig::new(([127, 0, 0, 1], 0).into(), "registry.db");
    assert_eq!(config.password, HashParams::PRODUCTION);
    let documented = HashParams::PRODUCTION.to_string();
    let doc = read(&root().join("docs/ARCHITECTURE.md"));
    assert!(
        doc.contains(&format!("`{documented}`")),
        "docs/ARCHITECTURE.md does not state the production parameters `{documented}`"
    );
    assert_eq!(config.presence_busy_timeout, DEFAULT_PRESENCE_BUSY_TIMEOUT);
    assert_eq!(DEFAULT_PRESENCE_BUSY_TIMEOUT, Duration::from_secs(1));
    assert!(
        doc.contains("`presence_busy_timeout` (1 s, `DEFAULT_PRESENCE_BUSY_TIMEOUT`)"),
        "docs/ARCHITECTURE.md does not state the presence write's wait"
    );
}

/// Files ARCHITECTURE.md lists as plain types that still break the rule,
/// each with the line that breaks it. The rule is checked for the rest of
/// the file, and the test fails once the line is gone, so that the entry
/// is removed and the file is held to the whole rule.
const KNOWN_BREAKS: &[(&str, &str)] = &[];

/// Invariant: every file docs/ARCHITECTURE.md lists under "Plain types and
/// sans-IO code" takes `now` (and randomness) from its caller and does no
/// I/O: it reads no clock, and names no file system, `std::io`, thread,
/// channel or socket. Its unit tests may, so only the code before
/// `#[cfg(test)]` is checked, and a folder's `tests.rs` not at all.
#[test]
fn plain_types_read_no_clock_and_do_no_io() {
    let listed = plain_files();
    assert!(
        listed.len() >= 10,
        "ARCHITECTURE.md's plain types section lists only {listed:?}"
    );
    let mut breaks_seen = Vec::new();
    for listed in listed {
        let path = root().join(&listed);
        assert!(
            path.exists(),
            "ARCHITECTURE.md lists {listed}, which does not exist"
        );
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files_under(&path, &mut files);
        } else {
            files.push(path);
        }
        for file in files.into_iter().filter(|file| !file.ends_with("tests.rs")) {
            let name = relative(&file);
            let code = code_of(&read(&file));
            let mut found = effects(without_tests(&code));
            for (known, line) in KNOWN_BREAKS {
                if *known == name && found.iter().any(|f| f.contains(line)) {
                    breaks_seen.push(*known);
                    found.retain(|f| !f.contains(line));
                }
            }
            assert!(
                found.is_empty(),
                "{name} is a plain type in ARCHITECTURE.md, but reads the clock or does I/O:\n{}",
                found.join("\n")
            );
        }
    }
    for (known, line) in KNOWN_BREAKS {
        assert!(
            breaks_seen.contains(known),
            "{known} no longer has {line}: remove it from KNOWN_BREAKS"
        );
    }
}

/// Invariant: docs/ARCHITECTURE.md names every file in `src/`, by its path
/// (`src/db.rs`) or, in the section of its folder (`### \`src/lobby/\``),
/// by its path from there (`hub/flush.rs`). A new file gets its line in the
/// code map.
#[test]
fn architecture_md_names_every_file_in_src() {
    let doc = read(&root().join("docs/ARCHITECTURE.md"));
    let mut files = Vec::new();
    rust_files_under(&root().join("src"), &mut files);
    let missing: Vec<String> = files
        .iter()
        .map(|file| relative(file))
        .filter(|file| !names_file(&doc, file))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/ARCHITECTURE.md's code map does not name:\n{}",
        missing.join("\n")
    );
}

/// Invariant: the file map lives in ARCHITECTURE.md only. A module's own
/// `//!` says what it owns and must never do, and lists no files: no
/// `//! - \`name\`: ...` lines in `lib.rs`, a `mod.rs`, or a module file
/// with a folder of its own.
#[test]
fn module_docs_list_no_files() {
    let mut files = Vec::new();
    rust_files_under(&root().join("src"), &mut files);
    for file in files.iter().filter(|file| is_module_root(file)) {
        let found = file_lists(&read(file));
        assert!(
            found.is_empty(),
            "{} lists files in its docs; the code map is ARCHITECTURE.md's:\n{}",
            relative(file),
            found.join("\n")
        );
    }
}

/// Invariant: no secret crosses the wire for a lobby's succession: the
/// succession lines, the roster and a member's standing name no secret or
/// verifier (a seat holds a public key; a claim, a signature over nonces),
/// and the sealed-message helpers stay plain.
#[test]
fn succession_carries_no_secret() {
    for file in [
        "src/wire/succession.rs",
        "src/lobby/roster.rs",
        "src/peer/standing.rs",
    ] {
        let code = code_of(&read(&root().join(file)));
        for word in ["secret", "verifier", "blake2"] {
            assert!(
                !code.to_lowercase().contains(word),
                "{file} names {word}: a seat holds a public key, not a secret"
            );
        }
    }
    let sealed = code_of(&read(&root().join("src/peer/sealed.rs")));
    let found = io_uses(&sealed);
    assert!(
        found.is_empty(),
        "sealed.rs does I/O:\n{}",
        found.join("\n")
    );
}

/// Invariant: the key rules are plain: the keys' text, the pins and their
/// decisions, sealing and seat proofs read no clock and open no socket or
/// file, so each rule is a test of data. Files, sockets and handshakes
/// are the other files' of `src/crypto/`.
#[test]
fn key_rules_do_no_io() {
    for file in [
        "src/crypto/keys.rs",
        "src/crypto/pins.rs",
        "src/crypto/proof.rs",
        "src/crypto/seal.rs",
    ] {
        let code = code_of(&read(&root().join(file)));
        let mut found = io_uses(&code);
        found.extend(sans_io_uses(&code));
        assert!(found.is_empty(), "{file} does I/O:\n{}", found.join("\n"));
    }
}

/// Invariant: TLS is 1.3 only, and nothing in the tree needs aws-lc-rs
/// (which needs cmake and nasm to build for Windows).
#[test]
fn tls_is_1_3_with_ring_only() {
    let lock = read(&root().join("Cargo.lock"));
    assert!(
        !lock.contains("name = \"aws-lc"),
        "Cargo.lock has aws-lc-rs; give rustls default-features = false and the ring feature"
    );
    let mut files = Vec::new();
    rust_files_under(&root().join("src/crypto"), &mut files);
    for file in files {
        let found = offending_lines(&code_of(&read(&file)), |line| line.contains("TLS12"));
        assert!(
            found.is_empty(),
            "{} names TLS 1.2:\n{}",
            file.display(),
            found.join("\n")
        );
    }
}

/// Invariant: only `src/discovery/` names `mdns_sd`, and its plain types
/// (the announcement's record, the choice of a registry) not at all: the
/// multicast stays behind the announcer and the browser.
#[test]
fn only_discovery_speaks_multicast_dns() {
    let plain = ["src/discovery/txt.rs", "src/discovery/choice.rs"];
    let mut files = Vec::new();
    rust_files_under(&root().join("src"), &mut files);
    for file in files {
        let name = relative(&file);
        let allowed = name.starts_with("src/discovery/") && !plain.contains(&name.as_str());
        let found = offending_lines(&code_of(&read(&file)), |line| line.contains("mdns_sd"));
        assert!(
            allowed || found.is_empty(),
            "{name} names mdns_sd:\n{}",
            found.join("\n")
        );
    }
}

/// Invariant: `src/peer/` has no import circles. Its messages between
/// threads sit at the bottom (`msg.rs`, which imports no sibling); the
/// workers and the app depend on them, and nothing depends back. `mod.rs`
/// is the folder's surface: it declares every child, and a child may use
/// its public items, so it is not a node of this graph.
#[test]
fn peer_modules_import_no_circle() {
    let graph = module_graph(&root().join("src/peer"));
    assert!(graph.len() > 5, "too few modules found in src/peer");
    if let Some(circle) = find_circle(&graph) {
        panic!("src/peer imports in a circle: {}", circle.join(" -> "));
    }
    let bottom = graph
        .iter()
        .find(|(name, _)| name == "msg")
        .expect("src/peer/msg.rs exists");
    assert!(
        bottom.1.is_empty(),
        "msg.rs imports {:?}; it must import no other peer module",
        bottom.1
    );
}

/// Invariant: no folder of `src/` imports in a circle: in each, the
/// modules form layers, messages between threads at the bottom. A folder's
/// `mod.rs` is its surface and no node, as for the peer above.
#[test]
fn no_folder_in_src_imports_in_a_circle() {
    let mut folders = vec![root().join("src")];
    let mut checked = 0;
    while let Some(dir) = folders.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.ends_with("bin") {
                folders.push(path.clone());
                let graph = module_graph(&path);
                if let Some(circle) = find_circle(&graph) {
                    panic!(
                        "{} imports in a circle: {}",
                        path.display(),
                        circle.join(" -> ")
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "only {checked} folders found under src/");
}

/// Invariant: the peer's plain types take the time as an argument and do
/// no I/O: no clock, no file, no socket, no thread, no channel.
#[test]
fn peer_plain_types_take_now() {
    for file in PEER_PLAIN {
        // A unit test may take a real `now` to start its clock from.
        let code = code_of(&read(&root().join(file)));
        let code = without_tests(&code);
        let mut found = io_uses(code);
        found.extend(sans_io_uses(code));
        assert!(
            found.is_empty(),
            "{file} is not plain:\n{}",
            found.join("\n")
        );
    }
}

/// Invariant: the lobby's rules are plain types: the sans-IO core
/// (`lobby/state/`) and the types it is built on (roster, history, rules)
/// read no clock, open no socket or file, start no thread and hold no
/// channel; the hub thread does all of that. A `tests.rs` may read the
/// clock once, for the base its made-up times count from.
#[test]
fn lobby_rules_do_no_io() {
    let mut files: Vec<PathBuf> = ["roster.rs", "history.rs", "rules.rs"]
        .iter()
        .map(|file| root().join("src/lobby").join(file))
        .collect();
    let mut state = Vec::new();
    rust_files_under(&root().join("src/lobby/state"), &mut state);
    assert!(!state.is_empty(), "src/lobby/state/ is gone");
    files.extend(state.into_iter().filter(|f| !f.ends_with("tests.rs")));
    for file in files {
        let code = code_of(&read(&file));
        let mut found = io_uses(without_tests(&code));
        found.extend(sans_io_uses(without_tests(&code)));
        assert!(
            found.is_empty(),
            "{} does I/O, which the hub thread must do:\n{}",
            file.display(),
            found.join("\n")
        );
    }
}

/// Invariant: the rules of files sent between peers are plain types:
/// offers, names and a `.part`'s worth read no clock and do no I/O; only
/// `files/transfer.rs` and `files/disk.rs` touch files.
#[test]
fn file_rules_do_no_io() {
    for file in ["names.rs", "offers.rs", "partial.rs"] {
        let file = root().join("src/files").join(file);
        let code = code_of(&read(&file));
        let mut found = io_uses(without_tests(&code));
        found.extend(sans_io_uses(without_tests(&code)));
        assert!(
            found.is_empty(),
            "{} does I/O, which the transfer and the peer must do:\n{}",
            file.display(),
            found.join("\n")
        );
    }
}

/// The files of `src/peer/` that ARCHITECTURE.md calls plain types.
const PEER_PLAIN: &[&str] = &[
    "src/peer/standing.rs",
    "src/peer/invitations.rs",
    "src/peer/commands.rs",
    "src/peer/render.rs",
    "src/peer/repeats.rs",
    "src/peer/missed.rs",
    "src/peer/effect.rs",
    "src/peer/files.rs",
    "src/peer/file_news.rs",
    "src/peer/file_book.rs",
];

/// Invariant: framing knows no keyword; what a line means is the grammar's
/// business. Its unit tests may feed real-looking lines, so only the code
/// before `#[cfg(test)]` is checked.
#[test]
fn line_names_no_protocol_keyword() {
    let file = root().join("src/line.rs");
    let code = code_of(&read(&file));
    let found = keywords_named(without_tests(&code));
    assert!(
        found.is_empty(),
        "{} names protocol keywords, which belong in the grammar:\n{}",
        file.display(),
        found.join("\n")
    );
}

/// Invariant: framing sits below the grammar: line.rs takes the longest
/// line as a parameter and imports nothing from `wire`, tests included.
#[test]
fn line_imports_nothing_from_the_grammar() {
    let file = root().join("src/line.rs");
    let code = code_of(&read(&file));
    let found: Vec<&str> = code
        .lines()
        .filter(|line| line.contains("wire::") || line.contains("crate::{"))
        .collect();
    assert!(
        found.is_empty(),
        "{} uses the grammar, which sits above it:\n{}",
        file.display(),
        found.join("\n")
    );
}

/// Invariant: one connection type owns the bytes of every connection:
/// outside line.rs and the conn module, nobody frames or writes a line by
/// hand.
#[test]
fn only_the_connection_type_frames_and_writes_lines() {
    let mut found = Vec::new();
    let mut files = Vec::new();
    rust_files_under(&root().join("src"), &mut files);
    for file in files {
        let rel = file
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "src/line.rs" || rel.starts_with("src/conn/") {
            continue;
        }
        for line in code_of(&read(&file)).lines() {
            if line.contains("LineReader") || line.contains("write_line") {
                found.push(format!("{rel}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "lines framed or written outside conn:\n{}",
        found.join("\n")
    );
}

/// Invariant: every connection from one peer to another (an invitation,
/// a rejoin) is opened through `peer/tls.rs`, which makes it TLS with both
/// ends' keys unless the peer speaks plain text: no other peer module
/// connects a socket itself.
#[test]
fn peers_connect_to_peers_only_through_tls_rs() {
    let mut found = Vec::new();
    let mut files = Vec::new();
    rust_files_under(&root().join("src/peer"), &mut files);
    for file in files {
        let rel = file
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "src/peer/tls.rs" {
            continue;
        }
        for line in code_of(&read(&file)).lines() {
            if line.contains("TcpStream::connect") {
                found.push(format!("{rel}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "peer connections opened outside peer/tls.rs:\n{}",
        found.join("\n")
    );
}

/// Invariant: the database never sees a plain password; callers hand it
/// PHC strings. So outside comments the word "password" appears only as
/// `password_hash` (the column, the field, the parameter), and db.rs never
/// reaches the `password` module.
#[test]
fn db_sees_only_password_hashes() {
    let file = root().join("src/db.rs");
    let found = plain_passwords(&code_of(&read(&file)));
    assert!(
        found.is_empty(),
        "{} handles something other than a password hash:\n{}",
        file.display(),
        found.join("\n")
    );
}

/// The checks themselves catch what they are for, and let through what
/// they must not flag.
#[test]
fn the_checks_catch_what_they_are_for() {
    check(io_uses, "use std::fmt;\nuse std::net::IpAddr;", &[]);
    check(io_uses, "use std::io::Write;", &["1: use std::io::Write;"]);
    check(io_uses, "use std::{fmt, io};", &["1: use std::{fmt, io};"]);
    check(
        io_uses,
        "fn f(s: std::net::TcpStream) {}",
        &["1: fn f(s: std::net::TcpStream) {}"],
    );
    check(
        io_uses,
        "use std::net::{IpAddr,\n    TcpListener};",
        &["2:     TcpListener};"],
    );

    check(sans_io_uses, "fn f(now: Instant, at: SocketAddr) {}", &[]);
    check(
        sans_io_uses,
        "let t = Instant::now();",
        &["1: let t = Instant::now();"],
    );
    check(
        sans_io_uses,
        "use std::net::SocketAddr;",
        &["1: use std::net::SocketAddr;"],
    );
    check(
        sans_io_uses,
        "use crossbeam_channel::Sender;",
        &["1: use crossbeam_channel::Sender;"],
    );
    check(
        sans_io_uses,
        "std::thread::spawn(f);",
        &["1: std::thread::spawn(f);"],
    );

    check(keywords_named, "let n = buf.len();", &[]);
    check(
        keywords_named,
        "if line == \"HELLO\" {}",
        &["1: if line == \"HELLO\" {}"],
    );
    check(
        keywords_named,
        "x.starts_with(\"CHAT_REQUEST \")",
        &["1: x.starts_with(\"CHAT_REQUEST \")"],
    );
    // A longer word that contains a keyword is not that keyword.
    check(keywords_named, "let LISTEN = 1; let joined_at = 2;", &[]);

    check(
        plain_passwords,
        "fn add_user(name: &str, password_hash: &str) {}",
        &[],
    );
    check(
        plain_passwords,
        "fn add_user(name: &str, password: &str) {}",
        &["1: fn add_user(name: &str, password: &str) {}"],
    );
    check(
        plain_passwords,
        "use crate::password::Hasher;",
        &["1: use crate::password::Hasher;"],
    );
    check(
        plain_passwords,
        "\"SELECT Password FROM users\"",
        &["1: \"SELECT Password FROM users\""],
    );
}

/// The plain-types rule and the doc parsing catch what they are for.
#[test]
fn the_architecture_checks_catch_what_they_are_for() {
    check(effects, "fn f(now: Instant) -> bool { now > self.at }", &[]);
    check(effects, "use std::net::IpAddr;", &[]);
    check(
        effects,
        "let now = Instant::now();",
        &["1: let now = Instant::now();"],
    );
    check(
        effects,
        "stamp: chrono::Utc::now(),",
        &["1: stamp: chrono::Utc::now(),"],
    );
    check(effects, "use std::fs::File;", &["1: use std::fs::File;"]);
    check(
        effects,
        "use std::{fmt, thread};",
        &["1: use std::{fmt, thread};"],
    );
    check(
        effects,
        "use crossbeam_channel::Sender;",
        &["1: use crossbeam_channel::Sender;"],
    );
    check(
        effects,
        "let a = host.to_socket_addrs();",
        &["1: let a = host.to_socket_addrs();"],
    );

    let doc = "## Code map\n\n### `src/lobby/`\n\n`mod.rs`: the handle. `hub/flush.rs`: passes.\n\n\
               ### `src/db.rs`\n\n`Store`.\n\n## Plain types and sans-IO code\n\n\
               - `src/wire/`\n- `src/registry/tickets.rs`: tickets\n\n## Threads\n\n`src/net.rs`\n";
    assert!(names_file(doc, "src/lobby/mod.rs"));
    assert!(names_file(doc, "src/lobby/hub/flush.rs"));
    assert!(names_file(doc, "src/db.rs"));
    assert!(names_file(doc, "src/net.rs"));
    assert!(!names_file(doc, "src/lobby/flush.rs"));
    assert!(!names_file(doc, "src/lobby/member.rs"));
    assert!(
        !names_file(doc, "src/wire/mod.rs"),
        "a list item is not a code map"
    );
    assert_eq!(
        plain_files_in(doc),
        ["src/wire/", "src/registry/tickets.rs"]
    );

    check(file_lists, "//! The hub.\n//!\n//! It owns `Lobby`.", &[]);
    check(
        file_lists,
        "//! The hub.\n//! - `flush`: the pass.\nmod flush;",
        &["2: //! - `flush`: the pass."],
    );
}

/// The import graph's parsing and its circle search.
#[test]
fn the_import_check_finds_circles() {
    let siblings = ["app", "msg", "menu"].map(String::from);
    let got = sibling_imports(
        "use super::app::{App, Stage};\nuse super::{FEED, msg::{Event, Move}};\nuse crate::peer::menu::X;\nuse super::CANCEL;",
        &siblings,
        "crate::peer::",
    );
    assert_eq!(got, ["app", "menu", "msg"]);
    let graph = |edges: &[(&str, &[&str])]| -> Vec<(String, Vec<String>)> {
        edges
            .iter()
            .map(|(from, to)| (from.to_string(), to.iter().map(|t| t.to_string()).collect()))
            .collect()
    };
    assert_eq!(
        find_circle(&graph(&[("a", &["b"]), ("b", &["c"]), ("c", &[])])),
        None
    );
    assert_eq!(
        find_circle(&graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

/// Comments go, strings stay, lines keep their numbers.
#[test]
fn code_of_blanks_comments_only() {
    #[track_caller]
    fn blanked(source: &str, expected: &str) {
        assert_eq!(code_of(source), expected, "code_of({source:?})");
    }
    blanked("a // b\nc", "a     \nc");
    blanked("//! doc\nx", "       \nx");
    blanked("a /* b\n c */ d", "a     \n      d");
    blanked("/* a /* b */ c */x", "                 x");
    blanked("\"http://x\" // y", "\"http://x\"     ");
    blanked("\"a \\\" // b\"", "\"a \\\" // b\"");
    blanked("r#\"say \"// no\"\"#", "r#\"say \"// no\"\"#");
    blanked("br\"\\\" // x", "br\"\\\"     ");
    blanked("'\"' // q", "'\"'     ");
    blanked("fn f<'a>(x: &'a str) // c", "fn f<'a>(x: &'a str)     ");
}

#[track_caller]
fn check(rule: fn(&str) -> Vec<String>, code: &str, expected: &[&str]) {
    assert_eq!(rule(code), expected, "on {code:?}");
}

/// Every line that imports or names `std::io` or a socket type.
fn io_uses(code: &str) -> Vec<String> {
    const FORBIDDEN: [&str; 4] = ["std::io", "TcpStream", "TcpListener", "UdpSocket"];
    let mut found = offending_lines(code, |line| {
        FORBIDDEN.iter().any(|name| line.contains(name))
    });
    // `use std::{fmt, io}` names `io` apart from `std::`.
    for (at, _) in code.match_indices("std::{") {
        let group = &code[at + "std::{".len()..];
        let group = &group[..group.find('}').unwrap_or(group.len())];
        if group
            .split([',', ' ', '\n'])
            .any(|part| part == "io" || part.starts_with("io::"))
        {
            let number = code[..at].matches('\n').count();
            let line = format!("{}: {}", number + 1, code.lines().nth(number).unwrap_or(""));
            if !found.contains(&line) {
                found.push(line);
            }
        }
    }
    found
}

/// Every line that reads a clock or names the file system, `std::io`,
/// threads, channels or sockets. Addresses (`IpAddr`, `SocketAddr`) are
/// values, not I/O; resolving a name (`to_socket_addrs`) is I/O.
fn effects(code: &str) -> Vec<String> {
    const FORBIDDEN: [&str; 9] = [
        "::now(",
        "std::fs",
        "std::io",
        "std::thread",
        "crossbeam",
        "TcpStream",
        "TcpListener",
        "UdpSocket",
        "to_socket_addrs",
    ];
    let mut found = offending_lines(code, |line| {
        FORBIDDEN.iter().any(|name| line.contains(name))
    });
    // `use std::{fmt, thread}` names the module apart from `std::`.
    for (at, _) in code.match_indices("std::{") {
        let group = &code[at + "std::{".len()..];
        let group = &group[..group.find('}').unwrap_or(group.len())];
        if group.split([',', ' ', '\n']).any(|part| {
            ["fs", "io", "thread"]
                .iter()
                .any(|module| part == *module || part.starts_with(&format!("{module}::")))
        }) {
            let number = code[..at].matches('\n').count();
            let line = format!("{}: {}", number + 1, code.lines().nth(number).unwrap_or(""));
            if !found.contains(&line) {
                found.push(line);
            }
        }
    }
    found
}

/// The heading of ARCHITECTURE.md's list of plain types and sans-IO code.
const PLAIN_HEADING: &str = "## Plain types and sans-IO code";

/// The paths ARCHITECTURE.md lists as plain types and sans-IO code.
fn plain_files() -> Vec<String> {
    plain_files_in(&read(&root().join("docs/ARCHITECTURE.md")))
}

/// The paths listed (`- \`src/...\``) in `doc`'s plain types section.
fn plain_files_in(doc: &str) -> Vec<String> {
    doc.lines()
        .skip_while(|line| line.trim() != PLAIN_HEADING)
        .skip(1)
        .take_while(|line| !line.starts_with('#'))
        .filter_map(|line| line.strip_prefix("- `"))
        .filter_map(|item| item.split('`').next())
        .filter(|path| path.starts_with("src/"))
        .map(str::to_string)
        .collect()
}

/// Whether `doc` names `file` (a path from the package root): anywhere as
/// `` `src/...` ``, or, in a section whose heading names a folder it is in,
/// by its path from that folder.
fn names_file(doc: &str, file: &str) -> bool {
    if doc.contains(&format!("`{file}`")) {
        return true;
    }
    let mut folders: Vec<&str> = Vec::new();
    for line in doc.lines() {
        if line.starts_with('#') {
            folders = line
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|name| name.ends_with('/'))
                .collect();
        } else if folders.iter().any(|folder| {
            file.strip_prefix(folder)
                .is_some_and(|rest| line.contains(&format!("`{rest}`")))
        }) {
            return true;
        }
    }
    false
}

/// `lib.rs`, a `mod.rs`, or `x.rs` beside a folder `x/`.
fn is_module_root(file: &Path) -> bool {
    let name = file.file_name().and_then(|name| name.to_str());
    matches!(name, Some("lib.rs" | "mod.rs") | Some("main.rs")) || file.with_extension("").is_dir()
}

/// The `//!` lines that are list items starting with a name in backticks.
fn file_lists(source: &str) -> Vec<String> {
    offending_lines(source, |line| {
        line.strip_prefix("//!")
            .is_some_and(|doc| doc.trim_start().starts_with("- `"))
    })
}

/// `file`'s path from the package root, with `/` between its parts.
fn relative(file: &Path) -> String {
    let path = file.strip_prefix(root()).unwrap_or(file);
    path.components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every line that reads a clock, or names a socket, a file, a thread or a
/// channel: what a sans-IO core leaves to its driver.
fn sans_io_uses(code: &str) -> Vec<String> {
    const FORBIDDEN: [&str; 6] = [
        "::now()",
        "std::net",
        "std::fs",
        "std::thread",
        "crossbeam",
        "std::sync::mpsc",
    ];
    offending_lines(code, |line| {
        FORBIDDEN.iter().any(|name| line.contains(name))
    })
}

/// The protocol's commands and replies, as whole words.
const KEYWORDS: &[&str] = &[
    "REGISTER",
    "REGISTERED",
    "JOIN",
    "JOINED",
    "HELLO",
    "LIST",
    "USER",
    "SEARCH",
    "INVITE",
    "TICKET",
    "CHECK",
    "LOGOUT",
    "QUIT",
    "HELP",
    "CHAT_REQUEST",
    "MSG",
    "LEAVE",
    "LEFT",
    "MEMBERS",
    "CLOSED",
    "BYE",
    "REJECT",
    "OK",
    "ERR",
    "PM",
    "HISTORY",
    "KICKED",
    "INVITATION",
];

/// Every line that names a protocol keyword as a word of its own.
fn keywords_named(code: &str) -> Vec<String> {
    offending_lines(code, |line| {
        words(line).any(|word| KEYWORDS.contains(&word))
    })
}

/// Every line with a word containing "password" (in any case) that is not
/// exactly `password_hash`.
fn plain_passwords(code: &str) -> Vec<String> {
    offending_lines(code, |line| {
        words(line).any(|word| word.to_lowercase().contains("password") && word != "password_hash")
    })
}

/// The lines for which `bad` holds, as "NUMBER: TEXT".
fn offending_lines(code: &str, bad: impl Fn(&str) -> bool) -> Vec<String> {
    code.lines()
        .enumerate()
        .filter(|(_, line)| bad(line))
        .map(|(i, line)| format!("{}: {}", i + 1, line.trim_end()))
        .collect()
}

/// The identifier-like words of `text`.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|word| !word.is_empty())
}

/// `code` up to its `#[cfg(test)]` module, if it has one.
fn without_tests(code: &str) -> &str {
    &code[..code.find("#[cfg(test)]").unwrap_or(code.len())]
}

/// `source` with every comment replaced by spaces, keeping newlines, so line
/// numbers and string literals stay as they were.
fn code_of(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let is_word = |at: usize| chars[at].is_alphanumeric() || chars[at] == '_';
        // Whether `c` continues an identifier; the `b` of `br"..."` does not count.
        let word_before =
            i > 0 && is_word(i - 1) && !(chars[i - 1] == 'b' && (i == 1 || !is_word(i - 2)));
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
        } else if c == 'r' && !word_before && matches!(next, Some('"' | '#')) {
            // A raw string: r"..." or r#"..."#, where `\` escapes nothing.
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let start = i;
            i += 2 + hashes;
            while i < chars.len()
                && !(chars[i] == '"'
                    && chars[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&c| c == '#')
                        .count()
                        == hashes)
            {
                i += 1;
            }
            i = (i + 1 + hashes).min(chars.len());
            out.extend(&chars[start..i]);
        } else if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(chars.len());
            out.extend(&chars[start..i]);
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal, such as '"' or '\''; otherwise a lifetime.
            let start = i;
            i += if next == Some('\\') { 3 } else { 2 };
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i = (i + 1).min(chars.len());
            out.extend(&chars[start..i]);
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Each `.rs` file directly in `dir` but `mod.rs`, by module name, with the
/// sibling modules it imports (outside its tests).
fn module_graph(dir: &Path) -> Vec<(String, Vec<String>)> {
    let relative = dir.strip_prefix(root().join("src")).unwrap_or(dir);
    let path: Vec<String> = relative
        .components()
        .filter_map(|c| c.as_os_str().to_str().map(str::to_string))
        .collect();
    let crate_prefix = format!("crate::{}::", path.join("::"));
    let mut files = Vec::new();
    rust_files_under(dir, &mut files);
    let module = |path: &Path| -> Option<String> {
        let relative = path.strip_prefix(dir).ok()?;
        let first = relative.components().next()?.as_os_str().to_str()?;
        Some(first.trim_end_matches(".rs").to_string())
    };
    let mut names: Vec<String> = files.iter().filter_map(|f| module(f)).collect();
    names.retain(|name| name != "mod");
    names.dedup();
    let mut graph: Vec<(String, Vec<String>)> = names.iter().map(|n| (n.clone(), vec![])).collect();
    for file in &files {
        let Some(name) = module(file) else { continue };
        let Some(node) = graph.iter_mut().find(|(n, _)| *n == name) else {
            continue;
        };
        let code = code_of(&read(file));
        let mut imports = sibling_imports(without_tests(&code), &names, &crate_prefix);
        imports.retain(|m| *m != name);
        node.1.extend(imports);
        node.1.sort();
        node.1.dedup();
    }
    graph
}

/// The names among `siblings` that `code` reaches with `super::NAME` or
/// `crate::FOLDER::NAME` (`crate_prefix`), `use super::{NAME::.., ..}`
/// groups included; sorted.
fn sibling_imports(code: &str, siblings: &[String], crate_prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["super::", crate_prefix] {
        for (at, _) in code.match_indices(prefix) {
            let rest = &code[at + prefix.len()..];
            let heads: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => top_level_items(group),
                None => vec![rest],
            };
            for head in heads {
                let word = head.trim_start();
                let end = word
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(word.len());
                if siblings.iter().any(|s| s == &word[..end]) {
                    found.push(word[..end].to_string());
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The comma-separated items of a `{ .. }` group whose opening brace has
/// been read, up to its closing brace.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

/// A circle in `graph`, as the path that closes it, if there is one.
fn find_circle(graph: &[(String, Vec<String>)]) -> Option<Vec<String>> {
    fn visit(
        graph: &[(String, Vec<String>)],
        node: &str,
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.iter().any(|n| n == node) {
            return None;
        }
        path.push(node.to_string());
        let edges = graph.iter().find(|(n, _)| n == node).map(|(_, e)| e);
        for next in edges.into_iter().flatten() {
            if let Some(circle) = visit(graph, next, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.push(node.to_string());
        None
    }
    let mut done = Vec::new();
    graph
        .iter()
        .find_map(|(node, _)| visit(graph, node, &mut Vec::new(), &mut done))
}

/// `src/wire.rs` and every `.rs` file under `src/wire/`, whichever exist.
fn wire_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let single = root().join("src/wire.rs");
    if single.is_file() {
        files.push(single);
    }
    rust_files_under(&root().join("src/wire"), &mut files);
    files
}

fn rust_files_under(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            rust_files_under(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// docs/SECURITY.md names, for each promise, the test that checks it
/// (`tls::a_relay_...` for `tests/it/tls.rs`, `crypto::seal::tests::...`
/// for a unit test in `src/crypto/seal.rs`): every one it names exists
/// where it says, so a test renamed or removed cannot leave a promise
/// unchecked in silence.
#[test]
fn every_test_security_md_names_exists_where_it_says() {
    let doc = read(&root().join("docs/SECURITY.md"));
    let cited: Vec<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| {
            span.contains("::")
                && span
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':')
        })
        .collect();
    assert!(
        cited.len() > 40,
        "docs/SECURITY.md names only {} tests",
        cited.len()
    );
    let mut missing = Vec::new();
    for path in cited {
        let segments: Vec<&str> = path.split("::").collect();
        let (name, module) = segments.split_last().expect("a path has segments");
        let integration = root().join("tests/it").join(format!("{}.rs", module[0]));
        let files = if module.len() == 1 && integration.is_file() {
            vec![integration]
        } else {
            // A unit test's module is its file's, or a file under its
            // module's `tests/` folder (`peer::app::tests::files`).
            let unit: Vec<&str> = module.iter().copied().filter(|s| *s != "tests").collect();
            let mut files = Vec::new();
            for base in [unit.join("/"), module.join("/")] {
                let base = root().join("src").join(base);
                if base.is_dir() {
                    rust_files_under(&base, &mut files);
                }
                files.push(base.with_extension("rs"));
            }
            files
        };
        let defined = files
            .iter()
            .filter(|file| file.is_file())
            .any(|file| read(file).contains(&format!("fn {name}(")));
        if !defined {
            missing.push(path);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/SECURITY.md names tests that do not exist where it says: {missing:#?}"
    );
}
