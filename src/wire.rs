//! The wire protocol: every line the registry and the peers exchange, as typed
//! values that parse from a `&str` and format back with `Display`.
//!
//! This module owns the grammar of the protocol. It must never do I/O: it does
//! not import `std::net` sockets or `std::io`, so every rule here can be tested
//! with plain strings. Framing bytes into lines is `decode_line`'s job; reading
//! those bytes from a socket belongs to `line.rs`.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The longest line either side accepts, in bytes, without its line ending.
pub const MAX_LINE: usize = 1024;
/// The longest user name, in characters (names are ASCII, so also bytes).
pub const MAX_NAME: usize = 32;
/// The shortest and longest password, in characters.
pub const MIN_PASSWORD: usize = 4;
pub const MAX_PASSWORD: usize = 128;
/// The longest chat message text: a relayed `MSG <from> <text>` line must fit
/// in `MAX_LINE` whatever the sender's name is.
pub const MAX_TEXT: usize = MAX_LINE - "MSG ".len() - MAX_NAME - 1;

/// What the registry says when asked for `HELP`.
pub const HELP_TEXT: &str = "REGISTER <name> <password> | JOIN <name> <password> <port> | HELLO | LIST | SEARCH <name> | LOGOUT | HELP";

/// Why a run of bytes is not a protocol line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// More than `MAX_LINE` bytes came before the newline.
    TooLong,
    /// The bytes are not UTF-8.
    BadEncoding,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::TooLong => write!(f, "line is longer than {MAX_LINE} bytes"),
            LineError::BadEncoding => f.write_str("line is not valid UTF-8"),
        }
    }
}

/// Turns the bytes of one line (without its `\n`) into text: drops a trailing
/// `\r` as telnet sends it, then checks the length and the encoding.
pub fn decode_line(raw: &[u8]) -> Result<&str, LineError> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.len() > MAX_LINE {
        return Err(LineError::TooLong);
    }
    std::str::from_utf8(raw).map_err(|_| LineError::BadEncoding)
}

/// Checks a user name: 1 to 32 characters of `A-Z a-z 0-9 _ . -`.
pub fn check_name(name: &str) -> Result<(), ParseError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(ok_char) {
        return Err(ParseError::new(
            ErrorCode::BadName,
            format!("a name is 1 to {MAX_NAME} characters of A-Z a-z 0-9 _ . -"),
        ));
    }
    Ok(())
}

/// Checks a password: 4 to 128 printable characters, no spaces.
pub fn check_password(password: &str) -> Result<(), ParseError> {
    let count = password.chars().count();
    let printable = password
        .chars()
        .all(|c| !c.is_control() && !c.is_whitespace());
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&count) || !printable {
        return Err(ParseError::new(
            ErrorCode::BadPassword,
            format!(
                "a password is {MIN_PASSWORD} to {MAX_PASSWORD} printable characters without spaces"
            ),
        ));
    }
    Ok(())
}

/// Checks the text of a chat message: not blank, no line breaks, short enough
/// to be relayed.
pub fn check_text(text: &str) -> Result<(), ParseError> {
    if text.trim().is_empty() {
        return Err(ParseError::new(
            ErrorCode::BadArgs,
            "a message needs some text",
        ));
    }
    if text.starts_with(' ') || text.contains(['\r', '\n']) {
        return Err(ParseError::new(
            ErrorCode::BadArgs,
            "message text must not start with a space or hold a line break",
        ));
    }
    if text.len() > MAX_TEXT {
        return Err(ParseError::new(
            ErrorCode::TextTooLong,
            format!("a message is at most {MAX_TEXT} bytes"),
        ));
    }
    Ok(())
}

/// A copy of a line that is safe to print: the password of `REGISTER` and
/// `JOIN` is shown as `****`. Works on any line, parsed or not.
pub fn redact(line: &str) -> Cow<'_, str> {
    let mut words = line.split(' ');
    let keyword = words.next().unwrap_or("");
    let secret_at = ["REGISTER", "JOIN"]
        .iter()
        .any(|k| keyword.eq_ignore_ascii_case(k));
    if !secret_at || line.split(' ').filter(|w| !w.is_empty()).count() < 3 {
        return Cow::Borrowed(line);
    }
    let mut seen = 0;
    let redacted: Vec<&str> = line
        .split(' ')
        .map(|w| {
            if w.is_empty() {
                return w;
            }
            seen += 1;
            if seen == 3 { "****" } else { w }
        })
        .collect();
    Cow::Owned(redacted.join(" "))
}

/// The codes of every `ERR <CODE> <text>` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    NameTaken,
    BadName,
    BadPassword,
    BadCredentials,
    BadPort,
    AlreadyJoined,
    NotJoined,
    UnknownCommand,
    BadArgs,
    BadEncoding,
    LineTooLong,
    Offline,
    NotFound,
    TextTooLong,
    Internal,
}

const ERROR_CODES: &[(ErrorCode, &str)] = &[
    (ErrorCode::NameTaken, "NAME_TAKEN"),
    (ErrorCode::BadName, "BAD_NAME"),
    (ErrorCode::BadPassword, "BAD_PASSWORD"),
    (ErrorCode::BadCredentials, "BAD_CREDENTIALS"),
    (ErrorCode::BadPort, "BAD_PORT"),
    (ErrorCode::AlreadyJoined, "ALREADY_JOINED"),
    (ErrorCode::NotJoined, "NOT_JOINED"),
    (ErrorCode::UnknownCommand, "UNKNOWN_COMMAND"),
    (ErrorCode::BadArgs, "BAD_ARGS"),
    (ErrorCode::BadEncoding, "BAD_ENCODING"),
    (ErrorCode::LineTooLong, "LINE_TOO_LONG"),
    (ErrorCode::Offline, "OFFLINE"),
    (ErrorCode::NotFound, "NOT_FOUND"),
    (ErrorCode::TextTooLong, "TEXT_TOO_LONG"),
    (ErrorCode::Internal, "INTERNAL"),
];

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        ERROR_CODES
            .iter()
            .find(|(code, _)| *code == self)
            .map(|(_, word)| *word)
            .expect("every error code has a word in ERROR_CODES")
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        ERROR_CODES
            .iter()
            .find(|(_, word)| word.eq_ignore_ascii_case(s))
            .map(|(code, _)| *code)
            .ok_or_else(|| ParseError::new(ErrorCode::BadArgs, format!("unknown error code {s}")))
    }
}

/// Why a line could not be parsed. It carries the code and text of the
/// `ERR` reply the other side should get, so a handler can answer it as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub code: ErrorCode,
    pub text: String,
}

impl ParseError {
    pub fn new(code: ErrorCode, text: impl Into<String>) -> ParseError {
        ParseError {
            code,
            text: text.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.text, self.code)
    }
}

impl std::error::Error for ParseError {}

/// Why the registry ends a connection on its own: the `BYE <REASON>` line,
/// always the last one on that connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByeReason {
    /// The server is shutting down.
    Shutdown,
    /// Nothing arrived within the hello timeout.
    Timeout,
    /// The same user joined from another connection.
    Replaced,
}

impl ByeReason {
    fn as_str(self) -> &'static str {
        match self {
            ByeReason::Shutdown => "SHUTDOWN",
            ByeReason::Timeout => "TIMEOUT",
            ByeReason::Replaced => "REPLACED",
        }
    }
}

impl fmt::Display for ByeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ByeReason {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        [ByeReason::Shutdown, ByeReason::Timeout, ByeReason::Replaced]
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseError::new(ErrorCode::BadArgs, format!("unknown BYE reason {s}")))
    }
}

/// One user's contact details: where their chat port listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub ip: IpAddr,
    pub port: u16,
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.name, self.ip, self.port)
    }
}

/// A request from a peer to the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Register {
        name: String,
        password: String,
    },
    Join {
        name: String,
        password: String,
        port: u16,
    },
    Hello,
    List,
    Search {
        name: String,
    },
    Logout,
    Help,
}

impl Request {
    /// The line as it may be printed: the password shown as `****`.
    pub fn redacted(&self) -> String {
        redact(&self.to_string()).into_owned()
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Register { name, password } => write!(f, "REGISTER {name} {password}"),
            Request::Join {
                name,
                password,
                port,
            } => write!(f, "JOIN {name} {password} {port}"),
            Request::Hello => f.write_str("HELLO"),
            Request::List => f.write_str("LIST"),
            Request::Search { name } => write!(f, "SEARCH {name}"),
            Request::Logout => f.write_str("LOGOUT"),
            Request::Help => f.write_str("HELP"),
        }
    }
}

/// The registry's requests: keyword, usage, and how many arguments.
const USAGE: &[(&str, &str)] = &[
    ("REGISTER", "REGISTER <name> <password>"),
    ("JOIN", "JOIN <name> <password> <port>"),
    ("HELLO", "HELLO"),
    ("LIST", "LIST"),
    ("SEARCH", "SEARCH <name>"),
    ("LOGOUT", "LOGOUT"),
    ("HELP", "HELP"),
];

fn usage(keyword: &str) -> ParseError {
    let text = USAGE
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
        .map_or(keyword, |(_, usage)| usage);
    ParseError::new(ErrorCode::BadArgs, format!("usage: {text}"))
}

/// Splits a line into its keyword and the words after it.
fn words(line: &str) -> (&str, Vec<&str>) {
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let keyword = words.next().unwrap_or("");
    (keyword, words.collect())
}

/// Splits off the first word of `s` and returns it with the rest, which
/// starts after the spaces that follow the word.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches(' ');
    match s.split_once(' ') {
        Some((word, rest)) => (word, rest.trim_start_matches(' ')),
        None => (s, ""),
    }
}

fn parse_port(word: &str) -> Result<u16, ParseError> {
    match word.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(ParseError::new(
            ErrorCode::BadPort,
            format!("{word} is not a port; give a number from 1 to 65535"),
        )),
    }
}

fn parse_ip(word: &str) -> Result<IpAddr, ParseError> {
    word.parse()
        .map_err(|_| ParseError::new(ErrorCode::BadArgs, format!("{word} is not an IP address")))
}

fn parse_name(word: &str) -> Result<String, ParseError> {
    check_name(word)?;
    Ok(word.to_string())
}

fn unknown(keyword: &str) -> ParseError {
    ParseError::new(
        ErrorCode::UnknownCommand,
        format!("unknown command {keyword}; try HELP"),
    )
}

impl FromStr for Request {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<Self, ParseError> {
        let (keyword, args) = words(line);
        let upper = keyword.to_ascii_uppercase();
        let arity = match upper.as_str() {
            "REGISTER" => 2,
            "JOIN" => 3,
            "SEARCH" => 1,
            "HELLO" | "LIST" | "LOGOUT" | "HELP" => 0,
            _ => return Err(unknown(keyword)),
        };
        if args.len() != arity {
            return Err(usage(keyword));
        }
        Ok(match upper.as_str() {
            "REGISTER" => {
                let name = parse_name(args[0])?;
                check_password(args[1])?;
                Request::Register {
                    name,
                    password: args[1].to_string(),
                }
            }
            "JOIN" => {
                let name = parse_name(args[0])?;
                check_password(args[1])?;
                Request::Join {
                    name,
                    password: args[1].to_string(),
                    port: parse_port(args[2])?,
                }
            }
            "SEARCH" => Request::Search {
                name: parse_name(args[0])?,
            },
            "HELLO" => Request::Hello,
            "LIST" => Request::List,
            "LOGOUT" => Request::Logout,
            _ => Request::Help,
        })
    }
}

/// A line from the registry to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `OK REGISTERED <name>`
    Registered(String),
    /// `OK JOINED <name> <ip> <port>`: the address the registry sees.
    Joined(Contact),
    /// `OK HELLO`
    Hello,
    /// `OK LIST <n>`, followed by `n` `Row` lines.
    List(usize),
    /// `USER <name> <ip> <port>`: one row of a list.
    Row(Contact),
    /// `OK USER <name> <ip> <port>`: the answer to `SEARCH`.
    Found(Contact),
    /// `OK BYE`: the answer to `LOGOUT`.
    LoggedOut,
    /// `OK HELP <text>`
    Help(String),
    /// `ERR <CODE> <text>`
    Err(ErrorCode, String),
    /// `BYE <REASON>`: the server closes the connection after this line.
    Bye(ByeReason),
}

impl From<ParseError> for Reply {
    fn from(err: ParseError) -> Reply {
        Reply::Err(err.code, err.text)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Registered(name) => write!(f, "OK REGISTERED {name}"),
            Reply::Joined(contact) => write!(f, "OK JOINED {contact}"),
            Reply::Hello => f.write_str("OK HELLO"),
            Reply::List(n) => write!(f, "OK LIST {n}"),
            Reply::Row(contact) => write!(f, "USER {contact}"),
            Reply::Found(contact) => write!(f, "OK USER {contact}"),
            Reply::LoggedOut => f.write_str("OK BYE"),
            Reply::Help(text) => write!(f, "OK HELP {text}"),
            Reply::Err(code, text) => write!(f, "ERR {code} {text}"),
            Reply::Bye(reason) => write!(f, "BYE {reason}"),
        }
    }
}

fn parse_contact(args: &[&str]) -> Result<Contact, ParseError> {
    match args {
        [name, ip, port] => Ok(Contact {
            name: parse_name(name)?,
            ip: parse_ip(ip)?,
            port: parse_port(port)?,
        }),
        _ => Err(ParseError::new(
            ErrorCode::BadArgs,
            "expected <name> <ip> <port>",
        )),
    }
}

fn bad_reply(line: &str) -> ParseError {
    ParseError::new(ErrorCode::BadArgs, format!("not a registry reply: {line}"))
}

impl FromStr for Reply {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<Self, ParseError> {
        let (keyword, rest) = split_word(line);
        let (_, args) = words(rest);
        match keyword.to_ascii_uppercase().as_str() {
            "USER" => Ok(Reply::Row(parse_contact(&args)?)),
            "BYE" => match args.as_slice() {
                [reason] => Ok(Reply::Bye(reason.parse()?)),
                _ => Err(bad_reply(line)),
            },
            "ERR" => {
                let (code, text) = split_word(rest);
                Ok(Reply::Err(code.parse()?, text.to_string()))
            }
            "OK" => {
                let (what, rest) = split_word(rest);
                let (_, args) = words(rest);
                match (what.to_ascii_uppercase().as_str(), args.as_slice()) {
                    ("REGISTERED", [name]) => Ok(Reply::Registered(parse_name(name)?)),
                    ("JOINED", args) => Ok(Reply::Joined(parse_contact(args)?)),
                    ("HELLO", []) => Ok(Reply::Hello),
                    ("LIST", [n]) => n.parse().map(Reply::List).map_err(|_| bad_reply(line)),
                    ("USER", args) => Ok(Reply::Found(parse_contact(args)?)),
                    ("BYE", []) => Ok(Reply::LoggedOut),
                    ("HELP", _) => Ok(Reply::Help(rest.to_string())),
                    _ => Err(bad_reply(line)),
                }
            }
            _ => Err(bad_reply(line)),
        }
    }
}

/// A line from a lobby leader to an invitee or member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToMember {
    /// `CHAT_REQUEST <leader>`: the first line on a chat connection.
    ChatRequest(String),
    /// `MEMBERS <name> ...`: everyone in the lobby, the leader first.
    Members(Vec<String>),
    /// `JOINED <name>`
    Joined(String),
    /// `MSG <from> <text>`
    Msg { from: String, text: String },
    /// `LEFT <name>`
    Left(String),
    /// `CLOSED <reason>`: the lobby is over; the last line.
    Closed(String),
    /// `ERR <CODE> <text>`
    Err(ErrorCode, String),
}

impl fmt::Display for ToMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToMember::ChatRequest(leader) => write!(f, "CHAT_REQUEST {leader}"),
            ToMember::Members(names) => write!(f, "MEMBERS {}", names.join(" ")),
            ToMember::Joined(name) => write!(f, "JOINED {name}"),
            ToMember::Msg { from, text } => write!(f, "MSG {from} {text}"),
            ToMember::Left(name) => write!(f, "LEFT {name}"),
            ToMember::Closed(reason) => write!(f, "CLOSED {reason}"),
            ToMember::Err(code, text) => write!(f, "ERR {code} {text}"),
        }
    }
}

fn one_name(keyword: &str, args: &[&str]) -> Result<String, ParseError> {
    match args {
        [name] => parse_name(name),
        _ => Err(ParseError::new(
            ErrorCode::BadArgs,
            format!("usage: {keyword} <name>"),
        )),
    }
}

impl FromStr for ToMember {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<Self, ParseError> {
        let (keyword, rest) = split_word(line);
        let (_, args) = words(rest);
        match keyword.to_ascii_uppercase().as_str() {
            "CHAT_REQUEST" => Ok(ToMember::ChatRequest(one_name("CHAT_REQUEST", &args)?)),
            "MEMBERS" if !args.is_empty() => Ok(ToMember::Members(
                args.iter()
                    .map(|n| parse_name(n))
                    .collect::<Result<_, _>>()?,
            )),
            "JOINED" => Ok(ToMember::Joined(one_name("JOINED", &args)?)),
            "LEFT" => Ok(ToMember::Left(one_name("LEFT", &args)?)),
            "MSG" => {
                let (from, text) = split_word(rest);
                let from = parse_name(from)?;
                check_text(text)?;
                Ok(ToMember::Msg {
                    from,
                    text: text.to_string(),
                })
            }
            "CLOSED" if !rest.is_empty() => Ok(ToMember::Closed(rest.to_string())),
            "ERR" => {
                let (code, text) = split_word(rest);
                Ok(ToMember::Err(code.parse()?, text.to_string()))
            }
            "MEMBERS" | "CLOSED" => Err(ParseError::new(
                ErrorCode::BadArgs,
                format!("{keyword} needs an argument"),
            )),
            _ => Err(unknown(keyword)),
        }
    }
}

/// A line from an invitee or member to the lobby leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToLeader {
    /// `OK`: the invitation is accepted.
    Accept,
    /// `REJECT`: the user said no.
    Reject,
    /// `BUSY`: the peer is in a lobby or already has a request waiting.
    Busy,
    /// `MSG <text>`: the leader adds the sender's name when relaying.
    Msg(String),
    /// `LEAVE`: the member leaves the lobby.
    Leave,
}

impl fmt::Display for ToLeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToLeader::Accept => f.write_str("OK"),
            ToLeader::Reject => f.write_str("REJECT"),
            ToLeader::Busy => f.write_str("BUSY"),
            ToLeader::Msg(text) => write!(f, "MSG {text}"),
            ToLeader::Leave => f.write_str("LEAVE"),
        }
    }
}

impl FromStr for ToLeader {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<Self, ParseError> {
        let (keyword, rest) = split_word(line);
        let bare = |msg: ToLeader| {
            if rest.is_empty() {
                Ok(msg)
            } else {
                Err(ParseError::new(
                    ErrorCode::BadArgs,
                    format!("usage: {}", keyword.to_ascii_uppercase()),
                ))
            }
        };
        match keyword.to_ascii_uppercase().as_str() {
            "OK" => bare(ToLeader::Accept),
            "REJECT" => bare(ToLeader::Reject),
            "BUSY" => bare(ToLeader::Busy),
            "LEAVE" => bare(ToLeader::Leave),
            "MSG" => {
                check_text(rest)?;
                Ok(ToLeader::Msg(rest.to_string()))
            }
            _ => Err(unknown(keyword)),
        }
    }
}
