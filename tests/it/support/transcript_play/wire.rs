//! Blocks that show what tshark prints of a capture (`capture=`): the
//! session's story is Part 1 of docs/LAB.md, played by the real binaries
//! while `dumpcap` records the registry's port and the two chat ports on
//! `lo`: alice and bob register and join, alice searches bob, adds him and
//! starts a chat, bob accepts, alice says `hi bob` and bob `hello alice`.
//! `capture=tls` plays it without `--plaintext`, each program writing its
//! TLS secrets to the key log the doc calls `/tmp/keys.log`. Then the
//! doc's own tshark command (the last of the block before) runs in a
//! folder holding the capture under the name the command reads and the
//! dissector under `contrib/wireshark/`, with `sh`, as this user or as
//! `nobody` where tshark refuses Lua to root.
//!
//! How its output compares: tabs and runs of spaces are one space; a
//! field's `\n` is a word of its own, so a placeholder before it binds;
//! a row whose last field holds several lines of one packet (`\n,`
//! between them, as the TCP segments fell) is one row per line, the
//! other fields repeated; `<port>` is a port the system picked for a
//! connecting socket. The block's lines come in order, each right after
//! the one before, save that a line `...` stands for any number of lines;
//! the output may begin and go on beyond them.
//!
//! Where tshark or dumpcap is missing, the session is skipped with one
//! line (a failure where `P2PCHAT_TSHARK=required`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{Bindings, Block, DOC_REGISTRY_PORT, PeerProcess, RunSpec, ServerProcess};
use crate::support::{
    Capture, Tshark, dissector, on_path, skipped, strip_comment, temp_dir, tools,
};

/// The doc's key log; it stands for the test's.
const DOC_KEY_LOG: &str = "/tmp/keys.log";
/// Where the doc's tshark command finds the dissector, from the
/// repository's root.
const DOC_DISSECTOR: &str = "contrib/wireshark/p2pchat.lua";
/// The accounts of Part 1, with the chat ports the doc gives them.
const PEOPLE: [(&str, &str, &str); 2] = [("alice", "s3cret", "5001"), ("bob", "hunter22", "6001")];

/// The last command of a `sh` block, its `\` continuations joined.
pub fn last_command(block: &Block) -> Option<String> {
    let mut commands = Vec::new();
    let mut open = false;
    for (_, line) in &block.lines {
        let (text, goes_on) = match line.trim_end().strip_suffix('\\') {
            Some(text) => (text.trim_end(), true),
            None => (line.trim(), false),
        };
        if open {
            let last: &mut String = commands.last_mut().expect("a command goes on");
            last.push(' ');
            last.push_str(text.trim_start());
        } else if !text.is_empty() {
            commands.push(text.to_string());
        }
        open = goes_on;
    }
    commands.pop()
}

/// A capture session: the story captured once, then each block's command.
pub fn play(file: &str, blocks: &[(Block, RunSpec)]) -> Result<(), String> {
    let (first, spec) = &blocks[0];
    let test = format!("{file}:{}", first.fence_line);
    let Some((dumpcap, tshark)) = tools(&test) else {
        return Ok(());
    };
    let Some(mergecap) = on_path("mergecap").or_else(|| skipped(&test, "mergecap not found"))
    else {
        return Ok(());
    };
    let tls = spec.capture.as_deref() == Some("tls");
    let dir = temp_dir();
    let (capture, mut bindings) = capture_story(&dumpcap, &mergecap, dir.path(), tls)
        .map_err(|why| format!("{test}: {why} (session {:?})", spec.session))?;
    for (block, spec) in blocks {
        let fail = |why| format!("{file}:{why} (session {:?})", spec.session);
        let command = spec.command.as_deref().ok_or_else(|| {
            fail(format!(
                "{}: no tshark command in the block before",
                block.fence_line
            ))
        })?;
        let printed = run_command(&tshark, command, &capture, dir.path()).map_err(fail)?;
        compare(block, &printed, &mut bindings).map_err(fail)?;
    }
    Ok(())
}

/// Plays the story under `dumpcap`; returns the capture and the doc's
/// ports bound to the real ones.
fn capture_story(
    dumpcap: &Path,
    mergecap: &Path,
    dir: &Path,
    tls: bool,
) -> Result<(Vec<u8>, Bindings), String> {
    let keys = dir.join("keys.log");
    let db = dir.join("registry.db");
    let mut server = if tls {
        ServerProcess::start_tls_logging_keys(&db, &keys)
    } else {
        ServerProcess::start(&db, &[])
    };
    let fingerprint = tls.then(|| server.next_line());
    let fingerprint = fingerprint
        .as_deref()
        .map(|line| line.strip_prefix("fingerprint ").unwrap_or(line));
    let registry = server.addr().to_string();
    let mut bindings = Bindings::default();
    bindings.bind(DOC_REGISTRY_PORT, &server.addr().port().to_string());
    // Two captures, merged once done: a TLS peer may reach the registry as
    // it starts, so its capture starts first; the chat ports are known
    // only once the peers have printed them.
    let registry_capture = Capture::start(dumpcap, &format!("tcp port {}", server.addr().port()))?;
    let mut peers = Vec::new();
    for (name, _, doc_port) in PEOPLE {
        let data = dir.join(name);
        let logs = dir.join("logs");
        let (data, logs) = (data.to_str().unwrap(), logs.to_str().unwrap());
        // No heartbeat falls inside the story, however slow the machine.
        let mut args = vec!["--server", &registry, "--log-dir", logs, "--port", "0"];
        args.extend(["--hello-interval", "3600"]);
        let mut peer = match fingerprint {
            Some(fingerprint) => {
                args.extend(["--data-dir", data, "--trust-registry", fingerprint]);
                PeerProcess::start_logging_keys(name, &args, &keys)
            }
            None => PeerProcess::start(name, &args),
        };
        bindings.bind(doc_port, &peer.chat_port().to_string());
        peers.push(peer);
    }
    let filter = format!(
        "tcp port {} or tcp port {}",
        bindings.real(PEOPLE[0].2),
        bindings.real(PEOPLE[1].2)
    );
    let chat_capture = Capture::start(dumpcap, &filter)?;
    let [alice, bob] = &mut peers[..] else {
        unreachable!("two people")
    };
    alice.join(PEOPLE[0].1);
    bob.join(PEOPLE[1].1);
    for line in ["2", "bob", "Yes", "3"] {
        alice.types(line);
    }
    bob.sees("Chat request from 'alice'");
    bob.types("OK");
    bob.sees("You are in alice's lobby");
    alice.sees("Client ('bob') connected");
    alice.types("hi bob");
    bob.sees("[alice] hi bob");
    bob.types("hello alice");
    alice.sees("[bob] hello alice");
    registry_capture.mark_end(server.addr());
    let bob_at = SocketAddr::from(([127, 0, 0, 1], bindings.real(PEOPLE[1].2).parse().unwrap()));
    chat_capture.mark_end(bob_at);
    let (registry, chat) = (dir.join("registry.pcapng"), dir.join("chat.pcapng"));
    std::fs::write(&registry, registry_capture.stop()).map_err(|err| err.to_string())?;
    std::fs::write(&chat, chat_capture.stop()).map_err(|err| err.to_string())?;
    let merged = dir.join("merged.pcapng");
    let output = Command::new(mergecap)
        .arg("-w")
        .args([&merged, &registry, &chat])
        .output()
        .map_err(|err| format!("mergecap: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "mergecap: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let bytes = std::fs::read(&merged).map_err(|err| err.to_string())?;
    Ok((bytes, bindings))
}

/// Runs the doc's `command` in a folder of its own holding `capture` under
/// the name the command reads (`-r NAME`), the key log and the dissector.
fn run_command(
    tshark: &Tshark,
    command: &str,
    capture: &[u8],
    dir: &Path,
) -> Result<String, String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    if words.first() != Some(&"tshark") {
        return Err(format!("`{command}` is not a tshark command"));
    }
    let read = words
        .windows(2)
        .find(|pair| pair[0] == "-r")
        .map(|pair| pair[1])
        .ok_or_else(|| format!("`{command}` reads no file (-r)"))?;
    let folder = dir.join("wire");
    let lua = folder.join(DOC_DISSECTOR);
    std::fs::create_dir_all(lua.parent().unwrap()).map_err(|err| err.to_string())?;
    std::fs::copy(dissector(), &lua).map_err(|err| err.to_string())?;
    std::fs::write(folder.join(read), capture).map_err(|err| err.to_string())?;
    let keys = dir.join("keys.log");
    if keys.exists() {
        std::fs::copy(&keys, folder.join("keys.log")).map_err(|err| err.to_string())?;
    }
    open_tree(dir, &folder);
    let command = command.replace(DOC_KEY_LOG, "keys.log");
    let mut run = tshark.shell(&command);
    let output = run
        .current_dir(&folder)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("sh: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{command}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|err| format!("tshark printed {err}"))
}

/// Lets anyone read `dir` (the test's own temporary folder), `folder`
/// in it and what `folder` holds, for a tshark run as `nobody`.
fn open_tree(dir: &Path, folder: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    mode(dir, 0o755);
    mode(folder, 0o755);
    let mut todo = vec![folder.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                mode(&path, 0o755);
                todo.push(path);
            } else {
                mode(&path, 0o644);
            }
        }
    }
}

/// tshark's output as rows to compare: one per protocol line, a row
/// whose last field holds several lines (`\n` after each, and `,`
/// between the packet's pieces where tshark parts them) made one row per
/// line, the other fields repeated.
fn rows(printed: &str) -> Vec<String> {
    let mut rows = Vec::new();
    for row in printed.lines() {
        let (fields, last) = match row.rsplit_once('\t') {
            Some((fields, last)) => (format!("{fields}\t"), last),
            None => (String::new(), row),
        };
        let mut rest = last;
        while let Some(at) = rest.find("\\n") {
            rows.push(words(&format!("{fields}{}", &rest[..at + 2])));
            rest = rest[at + 2..].strip_prefix(',').unwrap_or(&rest[at + 2..]);
        }
        if !rest.is_empty() || last.is_empty() {
            rows.push(words(&format!("{fields}{rest}")));
        }
    }
    rows
}

/// A row's words, one space between them, a `\n` a word of its own.
fn words(row: &str) -> String {
    row.replace("\\n", " \\n")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the block's lines come in tshark's output as the module doc
/// says.
fn compare(block: &Block, printed: &str, bindings: &mut Bindings) -> Result<(), String> {
    let got = rows(printed);
    let mut runs: Vec<Vec<(usize, String)>> = vec![Vec::new()];
    for (number, line) in &block.lines {
        let line = strip_comment(line);
        if line.trim() == "..." {
            runs.push(Vec::new());
        } else {
            runs.last_mut().unwrap().push((*number, words(line)));
        }
    }
    let mut from = 0;
    for run in runs.iter().filter(|run| !run.is_empty()) {
        let found = (from..got.len()).find_map(|start| {
            let mut trial = bindings.clone();
            let all = run.iter().enumerate().all(|(i, (_, want))| {
                got.get(start + i)
                    .is_some_and(|row| trial.matches(want, row))
            });
            all.then_some((start, trial))
        });
        let Some((start, trial)) = found else {
            let (number, want) = &run[0];
            return Err(format!(
                "{number}: tshark printed no `{want}` and the lines after it there (its rows from {from} on: {:?})",
                &got[from.min(got.len())..]
            ));
        };
        *bindings = trial;
        from = start + run.len();
    }
    Ok(())
}
