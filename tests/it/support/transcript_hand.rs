//! Transcripts where the reader plays a peer by hand, as data: the marker
//! keys that set up the real peers around that hand, and what the lines of
//! such a block mean. No I/O: `transcript_hand_play` runs them.
//!
//! - `leads=LEADER:NAME,...`: before the block, the piped peer LEADER
//!   searches and adds each NAME, then starts a chat (`3`); each NAME that
//!   is a piped peer accepts (`OK`) and is in the lobby before the block
//!   begins. A NAME played by hand answers in the block.
//! - `hand=NAME:PORT`: NAME is played by hand: the runner registers it and
//!   joins it with the chat port the doc shows as PORT (a `$ nc -l PORT`
//!   of the session), on a registry connection it holds.
//! - `file=NAME:TEXT`: a file NAME holding the line TEXT (`+` stands
//!   for a space), made in the session's folder; where a piped peer types
//!   NAME (a comment `# NAME types: ...`), it types the file's path.
//! - `says=NAME:TEXT,...`: before the block, each piped peer NAME types
//!   TEXT (`+` stands for a space) in turn, and every piped peer in the
//!   lobby of `leads=` shows `[NAME] TEXT` before the next. A member
//!   that shows a line has taken every line its leader sent before it
//!   (the `CREDENTIAL` and `SEAT` of its admission too).
//!
//! A block played by hand opens its terminal with `$ nc -l PORT` (a port
//! the runner listens on in place of the doc's, for a whole session) or
//! `$ nc HOST PORT` to a piped peer's chat port, and goes on with it.
//! There, a line after `> ` is typed and every other line is one the
//! terminal shows (or, with `typed=`, the lines it names are typed). A reader's comment `# NAME types: TEXT` says what
//! another person typed to make that line come: the runner has the piped
//! peer NAME type TEXT first.

use super::transcript::{Block, strip_comment};

/// What the hand keys of a `<!-- run: ... -->` marker ask for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HandSpec {
    pub leads: Option<(String, Vec<String>)>,
    pub hand: Vec<(String, String)>,
    pub says: Vec<(String, String)>,
    pub files: Vec<(String, String)>,
}

/// Reads one marker option if it is a hand key: `None` if it is not one.
pub fn parse_hand_option(
    key: &str,
    value: &str,
    spec: &mut HandSpec,
) -> Option<Result<(), String>> {
    let pair = |item: &str| {
        item.split_once(':')
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .ok_or_else(|| format!("{key}={value}: NAME:..."))
    };
    let result = match key {
        "leads" => pair(value).map(|(leader, names)| {
            spec.leads = Some((leader, names.split(',').map(str::to_string).collect()));
        }),
        "hand" => pair(value).map(|named| spec.hand.push(named)),
        "file" => pair(value).map(|(name, text)| spec.files.push((name, text.replace('+', " ")))),
        "says" => value.split(',').try_for_each(|item| {
            let (name, text) = pair(item)?;
            spec.says.push((name, text.replace('+', " ")));
            Ok(())
        }),
        _ => return None,
    };
    Some(result)
}

/// One line of a block played by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandStep {
    /// `$ nc -l PORT`: the connection made to the port the runner listens
    /// on for the doc's PORT.
    Listen(String),
    /// `$ nc HOST PORT`: a connection to a piped peer's chat port.
    Connect(String),
    /// The piped peer types a line (a comment `# NAME types: TEXT`).
    PeerTypes {
        name: String,
        text: String,
    },
    Type(String),
    Expect(String),
}

/// The `$ nc -l PORT` lines of `block`, by the doc's port.
pub fn listened_ports(block: &Block) -> Vec<String> {
    block
        .lines
        .iter()
        .filter_map(|(_, line)| listen_port(strip_comment(line)))
        .collect()
}

fn listen_port(line: &str) -> Option<String> {
    match line.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["$", "nc", "-l", port] | ["$", "nc", "-l", "-p", port] => Some(port.to_string()),
        _ => None,
    }
}

/// Whether the block opens a terminal played by hand.
pub fn opens_by_hand(block: &Block) -> bool {
    !listened_ports(block).is_empty()
}

/// What the lines of a block played by hand mean, each with its number;
/// `typed` (the marker's `typed=`) names the typed lines where the block
/// does not mark them with `> `.
pub fn hand_steps(
    block: &Block,
    typed: Option<&[usize]>,
) -> Result<Vec<(usize, HandStep)>, String> {
    let mut steps = Vec::new();
    for (index, (number, raw)) in block.lines.iter().enumerate() {
        if let Some(at) = raw.find("  #") {
            let comment = raw[at + 3..].trim();
            if let Some((name, text)) = comment.split_once(" types: ") {
                steps.push((
                    *number,
                    HandStep::PeerTypes {
                        name: name.trim().to_string(),
                        text: text.trim().to_string(),
                    },
                ));
            }
        }
        let line = strip_comment(raw);
        let step = if let Some(port) = listen_port(line) {
            HandStep::Listen(port)
        } else if let Some(command) = line.strip_prefix("$ ") {
            match command.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["nc", _host, port] => HandStep::Connect(port.to_string()),
                _ => return Err(format!("line {number}: the runner does not know `{line}`")),
            }
        } else if let Some(typed) = typed {
            match typed.contains(&(index + 1)) {
                true => HandStep::Type(line.to_string()),
                false => HandStep::Expect(line.to_string()),
            }
        } else if let Some(typed) = line.strip_prefix("> ") {
            HandStep::Type(typed.to_string())
        } else if line == ">" {
            HandStep::Type(String::new())
        } else {
            HandStep::Expect(line.to_string())
        };
        steps.push((*number, step));
    }
    Ok(steps)
}
