//! Blocks that show what a program printed rather than what crossed a
//! connection: a trace and a log as they come (`output=`), and a peer's
//! chat log once it has quit (`log=`). Each line is checked as the doc
//! shows it, with the session's placeholders.

use std::time::Duration;

use super::{Bindings, Block, PEER_WAIT, RunSpec, ServerProcess, Session};
use crate::support::{Netns, strip_comment, temp_dir};

/// Who `output=` names for the session's registry.
const REGISTRY: &str = "registry";

/// A trace line: what a program received (`<<`) or sent (`>>`).
fn is_trace(line: &str) -> bool {
    line.starts_with("<< ") || line.starts_with(">> ")
}

impl Session {
    /// An `output=` or `log=` block, after what its marker asks for first.
    pub(super) fn play_output(&mut self, block: &Block, spec: &RunSpec) -> Result<(), String> {
        self.prepare(block, spec)?;
        if let Some(name) = &spec.log {
            return self.play_log(block, name);
        }
        let who = spec.output.as_deref().expect("an output= or log= block");
        let lines: Vec<(usize, &str)> = block
            .lines
            .iter()
            .map(|(number, line)| (*number, strip_comment(line)))
            .collect();
        let (trace, log): (Vec<_>, Vec<_>) = lines.into_iter().partition(|(_, l)| is_trace(l));
        if who == REGISTRY {
            let server = &mut self.server;
            follow(&trace, "its trace", &mut self.bindings, |wait| {
                server.error_line_within(wait)
            })?;
            return follow(&log, "its log", &mut self.bindings, |wait| {
                server.line_within(wait)
            });
        }
        if let Some((number, line)) = log.first() {
            return Err(format!(
                "{number}: `{line}` is not a trace line, and a peer's output block shows its trace only"
            ));
        }
        let peer = self
            .peers
            .iter()
            .map(|(_, peer)| peer)
            .find(|peer| peer.name == who)
            .ok_or_else(|| format!("{}: no peer {who} runs", block.fence_line))?;
        follow(&trace, "its trace", &mut self.bindings, |wait| {
            peer.error_line_within(wait)
        })
    }

    /// The peer `name` quits, its input closed; its one chat log must be
    /// the block, line by line.
    fn play_log(&mut self, block: &Block, name: &str) -> Result<(), String> {
        let at = block.fence_line;
        let index = self
            .peers
            .iter()
            .position(|(_, peer)| peer.name == name)
            .ok_or_else(|| format!("{at}: no peer {name} runs"))?;
        let (_, peer) = self.peers.remove(index);
        let (status, _, _) = peer.wait();
        if !status.success() {
            return Err(format!("{at}: {name}'s peer quit with {status}"));
        }
        let folder = self._dir.path().join("logs").join(name);
        let logs: Vec<_> = std::fs::read_dir(&folder)
            .map_err(|err| format!("{at}: {}: {err}", folder.display()))?
            .map(|entry| entry.expect("a readable folder").path())
            .collect();
        let [log] = logs.as_slice() else {
            return Err(format!(
                "{at}: {name} has {} chat logs, not one: {logs:?}",
                logs.len()
            ));
        };
        let text = std::fs::read_to_string(log).map_err(|err| format!("{at}: {err}"))?;
        let mut actual = text.lines();
        for (number, expected) in &block.lines {
            let expected = strip_comment(expected);
            match actual.next() {
                Some(line) if self.bindings.matches(expected, line) => {}
                Some(line) => {
                    return Err(format!(
                        "{number}: expected `{expected}`, the log has `{line}`"
                    ));
                }
                None => return Err(format!("{number}: expected `{expected}`, the log ends")),
            }
        }
        match actual.next() {
            Some(more) => Err(format!("{at}: the log goes on: `{more}`")),
            None => Ok(()),
        }
    }
}

/// A `started=` block: the first lines of a registry started with
/// `options` in a folder and a network namespace of its own, as the doc's
/// command starts it (its own port, its own `--db` file, announced on the
/// LAN, which is the namespace's `lo` alone).
pub(super) fn play_start(block: &Block, options: &[String]) -> Result<(), String> {
    let at = block.fence_line;
    let Some(netns) = Netns::new(&format!("the registry's first lines, line {at}")) else {
        return Ok(());
    };
    let dir = temp_dir();
    let mut command = netns.command(env!("CARGO_BIN_EXE_server"));
    command.current_dir(dir.path()).args(options);
    let mut server = ServerProcess::spawn(command);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_err(|err| format!("{at}: the machine's name: {err}"))?;
    let mut first = Some(server.first_line().to_string());
    // The registry's fingerprint is a placeholder (its key is new).
    let mut bindings = Bindings::default();
    for (number, line) in &block.lines {
        let expected = strip_comment(line)
            .replace("\"<host>\"", &format!("{:?}", host.trim()))
            .replace(", <interface> <address>", "");
        let actual = first.take().or_else(|| server.line_within(PEER_WAIT));
        match actual {
            Some(actual) if bindings.matches(&expected, &actual) => {}
            Some(actual) => {
                return Err(format!("{number}: expected `{expected}`, got `{actual}`"));
            }
            None => return Err(format!("{number}: expected `{expected}`, nothing came")),
        }
    }
    Ok(())
}

/// Checks that the doc's `lines` of one stream come in order, one after
/// another, from the first of them on: lines before it are earlier parts
/// of the story and are passed over. `next` waits up to its argument for
/// the stream's next line.
fn follow(
    lines: &[(usize, &str)],
    stream: &str,
    bindings: &mut Bindings,
    mut next: impl FnMut(Duration) -> Option<String>,
) -> Result<(), String> {
    let Some(((first_number, first), rest)) = lines.split_first() else {
        return Ok(());
    };
    let mut passed = Vec::new();
    loop {
        match next(PEER_WAIT) {
            Some(line) if bindings.matches(first, &line) => break,
            Some(line) => passed.push(line),
            None => {
                return Err(format!(
                    "{first_number}: expected `{first}` in {stream}, which had only {passed:#?}"
                ));
            }
        }
    }
    for (number, expected) in rest {
        match next(PEER_WAIT) {
            Some(line) if bindings.matches(expected, &line) => {}
            Some(line) => {
                return Err(format!(
                    "{number}: expected `{expected}` in {stream}, got `{line}`"
                ));
            }
            None => {
                return Err(format!(
                    "{number}: expected `{expected}` in {stream}, nothing came"
                ));
            }
        }
    }
    Ok(())
}
