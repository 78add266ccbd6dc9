//! The transcripts of README.md, docs/PROTOCOL.md and docs/LAB.md as data:
//! their fenced blocks, the marker before each (`<!-- run: ... -->` or
//! `<!-- not run: why -->`), which lines of a block are typed and which
//! the program shows, and the placeholders that stand for what varies
//! from run to run. No I/O: `transcript_play` runs what this reads.
//!
//! A marker is an HTML comment on the last non-blank line before a fence,
//! so a reader of the rendered page never sees it:
//!
//! ```text
//! <!-- run: session=registry conn=bob server=plaintext args=--hello-timeout,5 -->
//! ```
//!
//! - `session=NAME`: the blocks of one story on a page share a registry,
//!   its accounts, and the values bound to placeholders; they run in the
//!   order of the page. The first block of a session starts its registry.
//! - `server=plaintext|tls`: how that registry speaks (plain text unless
//!   told); `args=A,B`: more options for it, comma separated.
//! - `conn=NAME`: which terminal the block plays (default `1`). A
//!   `$ nc HOST PORT` or `$ openssl s_client ... -connect HOST:PORT` line
//!   opens it; a block without one goes on with that terminal, or opens a
//!   plain connection if it has none yet.
//! - `registered=NAME:PASSWORD,...`: accounts the story assumes exist.
//! - `typed=N,M`: the lines (counted from 1, the `$` line included) that
//!   are typed; every other line is then one the program shows. Without
//!   it, a line starting `> ` is typed, a line the registry's own reply
//!   parser takes is shown, and any other line is typed.
//! - `peer=NAME:PORT`: a real `peer` binary, piped, registered and joined
//!   as NAME at the session's registry before the block; the doc's PORT
//!   stands for its chat port, so `$ nc 127.0.0.1 PORT` reaches it.
//! - `screen=NAME` or `screen=NAME:PORT`: the block is what the piped
//!   peer NAME prints, and `> ` starts a line typed into it; an empty line
//!   after `Password:` is the password typed (its account's), not shown.
//!   With PORT the runner starts NAME's peer for the block, not joined,
//!   and PORT stands for its chat port; without, NAME is a `peer=` already
//!   started. Consecutive screen blocks of a session, of different peers,
//!   are one story's terminals: they run side by side, each waiting for
//!   its own lines.
//! - `action=interrupt`: the registry gets Ctrl-C before the block's lines.
//! - `occupy=N`: N more connections are opened and held first.
//! - `output=registry` or `output=NAME`: the block is what the session's
//!   registry, or its peer NAME, prints as it runs: a line starting `<< `
//!   or `>> ` is its `--trace`, on standard error, any other line its log,
//!   on standard output (a peer's block shows its trace only). Each
//!   stream's lines come in the block's order, one after another, from
//!   the block's first line of that stream on (earlier lines are earlier
//!   parts of the story); the two streams may interleave. Each line
//!   waits for its line to come: nothing needs to stop first.
//! - `started=A,B`: the block is the first lines a registry prints when
//!   started with these options as the doc's command shows them, in a
//!   folder of its own and in a network namespace of its own (its `lo`
//!   the only interface, so its port and its announcement on the LAN
//!   stay there; making one needs root, else the block is skipped with
//!   one line). `"<host>"` stands for the machine's name, and
//!   `, <interface> <address>` for the machine's other interfaces, which
//!   the namespace has none of; a fingerprint is a placeholder, as
//!   everywhere. `started=` alone: no options.
//! - `check=fingerprint`: the block is a shell pipeline that prints, with
//!   the openssl tools, the fingerprint of the session's TLS registry; it
//!   runs with `sh` (`127.0.0.1:7777` standing for the registry) and must
//!   print the registry's (skipped with one line without openssl).
//! - `peer-args=NAME:A,B`: more options for the peer NAME (`--trace`, say),
//!   wherever in the session it is started.
//! - `log=NAME`: the peer NAME quits (its input ends, as Ctrl-D), and the
//!   block is its one chat log, line by line, whole.
//!
//! - `capture=plain|tls`: the block is what the doc's tshark command, the
//!   last of the block before it, prints of a capture of Part 1's story:
//!   `transcript_play::wire` says what runs and how lines compare.
//!
//! - `leads=`, `hand=`, `says=`: a peer played by hand and
//!   the piped peers around it (`transcript_hand` says how).
//!
//! Text after two spaces and `#` is a comment for the reader. In a block
//! played with openssl, the lines openssl itself prints about the
//! certificate (`depth=0 CN = ...`, `verify return:1`, ...) are taken as
//! openssl's and not checked.

use std::collections::BTreeMap;

/// One fenced block of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The number of the fence's line, counted from 1.
    pub fence_line: usize,
    /// The heading the block sits under (`## Part 2: ...`), without `#`s.
    pub heading: String,
    pub marker: Marker,
    /// The lines between the fences, each with its line number.
    pub lines: Vec<(usize, String)>,
}

/// What the line before a block says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
// A few dozen markers per document, read once: boxing the large variant
// would save nothing worth its noise in every match.
#[allow(clippy::large_enum_variant)]
pub enum Marker {
    Run(RunSpec),
    NotRun(String),
    Unmarked,
}

/// What a `<!-- run: ... -->` marker asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunSpec {
    pub session: String,
    pub conn: String,
    pub tls: bool,
    pub args: Vec<String>,
    pub registered: Vec<(String, String)>,
    /// Real peers to start: a name and the chat port the doc shows.
    pub peers: Vec<(String, String)>,
    /// The peer whose screen the block is, and the chat port the doc
    /// shows for it when the runner starts it for the block.
    pub screen: Option<(String, Option<String>)>,
    pub typed: Option<Vec<usize>>,
    pub interrupt: bool,
    pub occupy: usize,
    /// Whose printed output the block is: `registry` or a peer's name.
    pub output: Option<String>,
    /// The peer whose chat log the block is.
    pub log: Option<String>,
    /// The options of a registry whose first lines the block is.
    pub started: Option<Vec<String>>,
    /// More options for the named peers, whichever block starts them.
    pub peer_args: Vec<(String, Vec<String>)>,
    /// How the registry and peers of a captured story speak (`capture=`).
    pub capture: Option<String>,
    /// The doc's tshark command for a `capture=` block: the last command
    /// of the block before it, which `run_document` fills in.
    pub command: Option<String>,
    /// The block is a shell pipeline that prints the registry's
    /// fingerprint with openssl (`check=fingerprint`).
    pub fingerprint: bool,
    /// The keys of a block played by hand (`transcript_hand`), boxed:
    /// most blocks have none.
    pub hand: Box<super::transcript_hand::HandSpec>,
}

/// Reads the fenced blocks of `text` and the marker before each.
pub fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut found = Vec::new();
    let mut heading = String::new();
    let mut last_text: Option<&str> = None;
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
    while let Some((number, line)) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(title) = trimmed.strip_prefix('#').filter(|_| line.starts_with('#')) {
            heading = title.trim_start_matches('#').trim().to_string();
        }
        if !trimmed.starts_with("```") {
            if !trimmed.is_empty() {
                last_text = Some(trimmed);
            }
            continue;
        }
        let marker = match last_text {
            Some(before) if before.starts_with("<!--") => {
                parse_marker(before).map_err(|why| format!("line {}: {why}", number - 1))?
            }
            _ => Marker::Unmarked,
        };
        let mut body = Vec::new();
        loop {
            match lines.next() {
                Some((_, end)) if end.trim() == "```" => break,
                Some((n, inner)) => body.push((n, inner.to_string())),
                None => return Err(format!("line {number}: the block never ends")),
            }
        }
        found.push(Block {
            fence_line: number,
            heading: heading.clone(),
            marker,
            lines: body,
        });
        last_text = None;
    }
    Ok(found)
}

/// Reads `<!-- run: key=value ... -->` or `<!-- not run: why -->`.
pub fn parse_marker(comment: &str) -> Result<Marker, String> {
    let inner = comment
        .strip_prefix("<!--")
        .and_then(|rest| rest.trim_end().strip_suffix("-->"))
        .map(str::trim)
        .ok_or_else(|| format!("not a one-line HTML comment: {comment}"))?;
    if let Some(why) = inner.strip_prefix("not run:") {
        let why = why.trim();
        if why.is_empty() {
            return Err("`not run:` needs a reason".into());
        }
        return Ok(Marker::NotRun(why.to_string()));
    }
    let Some(options) = inner.strip_prefix("run:") else {
        return Ok(Marker::Unmarked);
    };
    let mut spec = RunSpec {
        conn: "1".into(),
        ..RunSpec::default()
    };
    for option in options.split_whitespace() {
        let (key, value) = option
            .split_once('=')
            .ok_or_else(|| format!("`{option}` is not key=value"))?;
        let list = || value.split(',').map(str::to_string);
        match key {
            "session" => spec.session = value.into(),
            "conn" => spec.conn = value.into(),
            "server" => {
                spec.tls = match value {
                    "tls" => true,
                    "plaintext" => false,
                    _ => return Err(format!("server={value}: plaintext or tls")),
                }
            }
            "args" => spec.args = list().collect(),
            "registered" => {
                for account in list() {
                    let (name, password) = account
                        .split_once(':')
                        .ok_or_else(|| format!("registered={account}: NAME:PASSWORD"))?;
                    spec.registered.push((name.into(), password.into()));
                }
            }
            "peer" => {
                let (name, port) = value
                    .split_once(':')
                    .ok_or_else(|| format!("peer={value}: NAME:PORT"))?;
                spec.peers.push((name.into(), port.into()));
            }
            "screen" => {
                spec.screen = Some(match value.split_once(':') {
                    Some((name, port)) => (name.into(), Some(port.into())),
                    None => (value.into(), None),
                })
            }
            "typed" => {
                let numbers = list()
                    .map(|n| {
                        n.parse()
                            .map_err(|_| format!("typed={value}: line numbers"))
                    })
                    .collect::<Result<_, _>>()?;
                spec.typed = Some(numbers);
            }
            "action" if value == "interrupt" => spec.interrupt = true,
            "occupy" => spec.occupy = value.parse().map_err(|_| format!("occupy={value}"))?,
            "output" => spec.output = Some(value.into()),
            "log" => spec.log = Some(value.into()),
            "check" => match value {
                "fingerprint" => spec.fingerprint = true,
                _ => return Err(format!("check={value}: only check=fingerprint")),
            },
            "capture" => match value {
                "plain" | "tls" => spec.capture = Some(value.into()),
                _ => return Err(format!("capture={value}: plain or tls")),
            },
            "started" => spec.started = Some(list().filter(|a| !a.is_empty()).collect()),
            "peer-args" => {
                let (name, args) = value
                    .split_once(':')
                    .ok_or_else(|| format!("peer-args={value}: NAME:A,B"))?;
                let args = args.split(',').map(str::to_string).collect();
                spec.peer_args.push((name.into(), args));
            }
            _ => match super::transcript_hand::parse_hand_option(key, value, &mut spec.hand) {
                Some(result) => result?,
                None => return Err(format!("unknown option `{option}`")),
            },
        }
    }
    if spec.session.is_empty() {
        return Err("a run marker needs session=NAME".into());
    }
    Ok(Marker::Run(spec))
}

/// The program a `$` line starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// `nc HOST PORT`: plain TCP.
    Nc { port: String },
    /// `openssl s_client -quiet -connect HOST:PORT`: TLS.
    Openssl { port: String },
}

/// One line of a registry transcript, as the runner plays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Open(Program),
    Type(String),
    Expect(String),
    /// A line openssl prints of its own, not the program's.
    Openssl,
    /// The account's password, typed at `Password:` and not shown.
    Password,
}

/// What the lines of a peer's screen mean, each with its line number: a
/// line after `> ` is typed, an empty line after `Password:` is the
/// password typed, and every other line is one the peer prints.
pub fn screen_steps(block: &Block) -> Vec<(usize, Step)> {
    let mut steps = Vec::new();
    let mut asked_password = false;
    for (number, raw) in &block.lines {
        let line = strip_comment(raw);
        let step = if let Some(typed) = line.strip_prefix("> ") {
            Step::Type(typed.to_string())
        } else if line.is_empty() && asked_password {
            Step::Password
        } else {
            Step::Expect(line.to_string())
        };
        asked_password = line.ends_with("Password:");
        steps.push((*number, step));
    }
    steps
}

/// What the lines of a block played at a registry mean, each with its line
/// number.
pub fn registry_steps(block: &Block, spec: &RunSpec) -> Result<Vec<(usize, Step)>, String> {
    let mut steps = Vec::new();
    let mut openssl = false;
    let mut typed_yet = false;
    for (index, (number, raw)) in block.lines.iter().enumerate() {
        let line = strip_comment(raw);
        let step = if let Some(command) = line.strip_prefix("$ ") {
            let program = parse_command(command).map_err(|why| format!("line {number}: {why}"))?;
            openssl = matches!(program, Program::Openssl { .. });
            Step::Open(program)
        } else if openssl && !typed_yet && is_openssl_noise(line) {
            Step::Openssl
        } else if let Some(typed) = &spec.typed {
            if typed.contains(&(index + 1)) {
                Step::Type(line.to_string())
            } else {
                Step::Expect(line.to_string())
            }
        } else if let Some(typed) = line.strip_prefix("> ") {
            Step::Type(typed.to_string())
        } else if line.parse::<p2pchat::wire::Reply>().is_ok() {
            Step::Expect(line.to_string())
        } else {
            Step::Type(line.to_string())
        };
        typed_yet |= matches!(step, Step::Type(_));
        steps.push((*number, step));
    }
    Ok(steps)
}

/// The line without a reader's comment: text after two spaces and `#`.
pub fn strip_comment(line: &str) -> &str {
    match line.find("  #") {
        Some(at) => line[..at].trim_end(),
        None => line,
    }
}

fn parse_command(command: &str) -> Result<Program, String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    match words.as_slice() {
        ["nc", _host, port] => Ok(Program::Nc {
            port: port.to_string(),
        }),
        ["openssl", "s_client", options @ ..] => {
            let at = options
                .iter()
                .position(|word| *word == "-connect")
                .and_then(|at| options.get(at + 1))
                .ok_or("openssl s_client without -connect")?;
            let (_, port) = at.rsplit_once(':').ok_or("-connect without a port")?;
            Ok(Program::Openssl {
                port: port.to_string(),
            })
        }
        _ => Err(format!("the runner does not know `$ {command}`")),
    }
}

/// The lines openssl s_client prints on standard error about a self-signed
/// certificate before the first request, which are openssl's own and vary
/// with its version.
fn is_openssl_noise(line: &str) -> bool {
    line == "Can't use SSL_get_servername"
        || line.starts_with("depth=")
        || line.starts_with("verify error:")
        || line.starts_with("verify return:")
}

/// The kinds of value that vary from run to run and match by their shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A ticket or a lobby id: 32 lowercase hex digits.
    Hex32,
    /// A file offer's id: 16 lowercase hex digits.
    Hex16,
    /// A nonce: 43 characters of base64 (32 bytes).
    Nonce,
    /// A signature: 86 characters of base64 (64 bytes).
    Signature,
    /// A time on the wire, `2026-12-03T07:38:43Z`.
    Time,
    /// `SHA256:` and 43 characters of base64.
    Fingerprint,
    /// A user's public keys, `identity.seal`, 43 characters of base64 each.
    Key,
    /// A loopback address with a port the system picked for a connecting
    /// socket, `127.0.0.1:35880`: a port in the range Linux picks from
    /// (32768 and up), so a port the doc means (`7777`, `5001`) is never
    /// taken for one.
    Connection,
    /// A local date and time of day in a log, `2026-11-24` and `13:35:39`:
    /// a time is when something happened, not who, so it binds nothing.
    Date,
    Clock,
}

impl Shape {
    /// Whether a doc value of this shape stands for one real value
    /// wherever it comes again.
    fn binds(self) -> bool {
        !matches!(self, Shape::Date | Shape::Clock)
    }
}

fn shape(word: &str) -> Option<Shape> {
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let base64 = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    };
    if word.len() == 32 && hex(word) {
        return Some(Shape::Hex32);
    }
    if let Some(port) = word.strip_prefix("127.0.0.1:") {
        let picked = port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|port| port >= 32768);
        return picked.then_some(Shape::Connection);
    }
    if word.len() == 16 && hex(word) {
        return Some(Shape::Hex16);
    }
    if !word.contains('.') && base64(word) {
        match word.len() {
            43 => return Some(Shape::Nonce),
            86 => return Some(Shape::Signature),
            _ => {}
        }
    }
    if let Some(key) = word.strip_prefix("SHA256:") {
        return (key.len() == 43 && base64(key)).then_some(Shape::Fingerprint);
    }
    if let Some((identity, seal)) = word.split_once('.') {
        let half = |s: &str| s.len() == 43 && base64(s);
        return (half(identity) && half(seal)).then_some(Shape::Key);
    }
    let digits_at = |positions: &[usize]| {
        positions
            .iter()
            .all(|&i| word.as_bytes()[i].is_ascii_digit())
    };
    let shaped = |pattern: &str| {
        word.len() == pattern.len()
            && word.bytes().zip(pattern.bytes()).all(|(w, p)| {
                if p == b'0' {
                    w.is_ascii_digit()
                } else {
                    w == p
                }
            })
    };
    if shaped("0000-00-00") {
        return Some(Shape::Date);
    }
    if shaped("00:00:00") {
        return Some(Shape::Clock);
    }
    if word.len() == 20
        && word.as_bytes()[10] == b'T'
        && word.ends_with('Z')
        && digits_at(&[0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
    {
        return Some(Shape::Time);
    }
    None
}

/// The doc's word for a port the system picked for a connecting socket,
/// in tshark's columns: any such port, each time another.
pub const PICKED_PORT: &str = "<port>";

/// What the doc's placeholders stand for in this run: each doc value is
/// bound to the real one on first sight, and must stand for that same
/// value wherever it comes again. Nothing that is not a placeholder
/// matches anything but itself.
#[derive(Debug, Default, Clone)]
pub struct Bindings {
    doc_to_real: BTreeMap<String, String>,
}

impl Bindings {
    /// Binds a doc value to its real one from the start (the doc's `7777`
    /// is wherever the test's registry listens).
    pub fn bind(&mut self, doc: &str, real: &str) {
        self.doc_to_real.insert(doc.into(), real.into());
    }

    /// The doc's line with every bound value replaced by the real one.
    pub fn real(&self, doc_line: &str) -> String {
        let mut line = doc_line.to_string();
        for (doc, real) in &self.doc_to_real {
            line = line.replace(doc.as_str(), real);
        }
        line
    }

    /// Whether `actual` is the doc's `expected`, binding the placeholders
    /// it meets for the first time (only if the whole line matches).
    pub fn matches(&mut self, expected: &str, actual: &str) -> bool {
        let (want, got): (Vec<&str>, Vec<&str>) =
            (expected.split(' ').collect(), actual.split(' ').collect());
        if want.len() != got.len() {
            return false;
        }
        let mut new: Vec<(&str, &str)> = Vec::new();
        for (doc, real) in want.into_iter().zip(got) {
            if let Some(bound) = self.doc_to_real.get(doc) {
                if bound != real {
                    return false;
                }
                continue;
            }
            if self.real(doc) == real {
                continue;
            }
            let taken = |value: &str| {
                self.doc_to_real.values().any(|v| v == value)
                    || new.iter().any(|(_, r)| *r == value)
            };
            if doc == PICKED_PORT {
                // A connecting socket's own port, never one the doc names.
                let picked = real.bytes().all(|b| b.is_ascii_digit())
                    && real.parse::<u16>().is_ok_and(|port| port >= 32768);
                if picked && !taken(real) {
                    continue;
                }
                return false;
            }
            match new.iter().find(|(d, _)| *d == doc) {
                Some((_, bound)) if *bound == real => continue,
                Some(_) => return false,
                None => {}
            }
            match shape(doc) {
                Some(kind) if shape(real) != Some(kind) => return false,
                Some(kind) if !kind.binds() => {}
                Some(_) if !taken(real) => new.push((doc, real)),
                _ => return false,
            }
        }
        for (doc, real) in new {
            self.bind(doc, real);
        }
        true
    }
}
