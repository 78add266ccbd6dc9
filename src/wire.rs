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
pub const HELP_TEXT: &str = "REGISTER <name> <password> | JOIN <name> <password> <port> | HELLO | LIST | SEARCH <name> | INVITE <name> | CHECK <ticket> | LOGOUT | HELP";

/// The longest invitation ticket either side accepts.
pub const MAX_TICKET: usize = 64;

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

/// Checks an invitation ticket: 1 to 64 letters and digits.
pub fn check_ticket(ticket: &str) -> Result<(), ParseError> {
    if ticket.is_empty()
        || ticket.len() > MAX_TICKET
        || !ticket.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(ParseError::new(
            ErrorCode::BadTicket,
            format!("a ticket is 1 to {MAX_TICKET} letters and digits"),
        ));
    }
    Ok(())
}

/// A copy of a line that is safe to print: the password of `REGISTER` and
/// `JOIN` is shown as `****`. Works on any line, parsed or not.
pub fn redact(line: &str) -> Cow<'_, str> {
    // Any whitespace separates words here, though the parser splits on
    // spaces only: a tab must not smuggle a password into the trace.
    let mut words = line
        .split(char::is_whitespace)
        .filter(|w| !w.is_empty())
        .map(|w| (w.as_ptr() as usize - line.as_ptr() as usize, w.len()));
    let keyword = words.next().map_or("", |(at, len)| &line[at..at + len]);
    let secret = ["REGISTER", "JOIN"]
        .iter()
        .any(|k| keyword.eq_ignore_ascii_case(k));
    match (secret, words.nth(1)) {
        (true, Some((at, len))) => Cow::Owned(format!("{}****{}", &line[..at], &line[at + len..])),
        _ => Cow::Borrowed(line),
    }
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
    TooManyAttempts,
    ServerFull,
    BadTicket,
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
    (ErrorCode::TooManyAttempts, "TOO_MANY_ATTEMPTS"),
    (ErrorCode::ServerFull, "SERVER_FULL"),
    (ErrorCode::BadTicket, "BAD_TICKET"),
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
    /// Asks for a single-use ticket to invite `name` to a chat.
    Invite {
        name: String,
    },
    /// Asks whether a ticket shown by an inviting leader is good.
    Check {
        ticket: String,
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
            Request::Invite { name } => write!(f, "INVITE {name}"),
            Request::Check { ticket } => write!(f, "CHECK {ticket}"),
            Request::Logout => f.write_str("LOGOUT"),
            Request::Help => f.write_str("HELP"),
        }
    }
}

/// The registry's requests: keyword and usage, for `ERR BAD_ARGS`.
const USAGE: &[(&str, &str)] = &[
    ("REGISTER", "REGISTER <name> <password>"),
    ("JOIN", "JOIN <name> <password> <port>"),
    ("HELLO", "HELLO"),
    ("LIST", "LIST"),
    ("SEARCH", "SEARCH <name>"),
    ("INVITE", "INVITE <name>"),
    ("CHECK", "CHECK <ticket>"),
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
    let (keyword, rest) = split_word(line);
    (keyword, all_words(rest))
}

/// The words of `s`, however many spaces stand between them.
fn all_words(s: &str) -> Vec<&str> {
    s.split(' ').filter(|w| !w.is_empty()).collect()
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

/// Peers have no HELP to point to.
fn unknown_between_peers(keyword: &str) -> ParseError {
    ParseError::new(
        ErrorCode::UnknownCommand,
        format!("unknown command {keyword}"),
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
            "SEARCH" | "INVITE" | "CHECK" => 1,
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
            "INVITE" => Request::Invite {
                name: parse_name(args[0])?,
            },
            "CHECK" => {
                check_ticket(args[0])?;
                Request::Check {
                    ticket: args[0].to_string(),
                }
            }
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
    /// `OK TICKET <ticket>`: the answer to `INVITE`.
    Ticket(String),
    /// `OK TICKET <leader> <invitee>`: the answer to a good `CHECK`.
    Valid { leader: String, invitee: String },
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
            Reply::Ticket(ticket) => write!(f, "OK TICKET {ticket}"),
            Reply::Valid { leader, invitee } => write!(f, "OK TICKET {leader} {invitee}"),
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
        let args = all_words(rest);
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
                let args = all_words(rest);
                match (what.to_ascii_uppercase().as_str(), args.as_slice()) {
                    ("REGISTERED", [name]) => Ok(Reply::Registered(parse_name(name)?)),
                    ("JOINED", args) => Ok(Reply::Joined(parse_contact(args)?)),
                    ("HELLO", []) => Ok(Reply::Hello),
                    ("LIST", [n]) => n.parse().map(Reply::List).map_err(|_| bad_reply(line)),
                    ("USER", args) => Ok(Reply::Found(parse_contact(args)?)),
                    ("BYE", []) => Ok(Reply::LoggedOut),
                    ("TICKET", [ticket]) => {
                        check_ticket(ticket)?;
                        Ok(Reply::Ticket(ticket.to_string()))
                    }
                    ("TICKET", [leader, invitee]) => Ok(Reply::Valid {
                        leader: parse_name(leader)?,
                        invitee: parse_name(invitee)?,
                    }),
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
    /// `CHAT_REQUEST <leader> [<ticket>]`: the first line on a chat
    /// connection. The ticket, from the registry, proves who the leader is.
    ChatRequest {
        leader: String,
        ticket: Option<String>,
    },
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
    /// `HELLO`: the leader is still there.
    Hello,
}

impl fmt::Display for ToMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToMember::ChatRequest {
                leader,
                ticket: None,
            } => write!(f, "CHAT_REQUEST {leader}"),
            ToMember::ChatRequest {
                leader,
                ticket: Some(ticket),
            } => write!(f, "CHAT_REQUEST {leader} {ticket}"),
            ToMember::Members(names) => write!(f, "MEMBERS {}", names.join(" ")),
            ToMember::Joined(name) => write!(f, "JOINED {name}"),
            ToMember::Msg { from, text } => write!(f, "MSG {from} {text}"),
            ToMember::Left(name) => write!(f, "LEFT {name}"),
            ToMember::Closed(reason) => write!(f, "CLOSED {reason}"),
            ToMember::Err(code, text) => write!(f, "ERR {code} {text}"),
            ToMember::Hello => f.write_str("HELLO"),
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
        let args = all_words(rest);
        match keyword.to_ascii_uppercase().as_str() {
            "CHAT_REQUEST" => match args.as_slice() {
                [leader] => Ok(ToMember::ChatRequest {
                    leader: parse_name(leader)?,
                    ticket: None,
                }),
                [leader, ticket] => {
                    check_ticket(ticket)?;
                    Ok(ToMember::ChatRequest {
                        leader: parse_name(leader)?,
                        ticket: Some(ticket.to_string()),
                    })
                }
                _ => Err(ParseError::new(
                    ErrorCode::BadArgs,
                    "usage: CHAT_REQUEST <leader> [<ticket>]",
                )),
            },
            "HELLO" if args.is_empty() => Ok(ToMember::Hello),
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
            _ => Err(unknown_between_peers(keyword)),
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
    /// `HELLO`: the member is still there.
    Hello,
}

impl fmt::Display for ToLeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToLeader::Accept => f.write_str("OK"),
            ToLeader::Reject => f.write_str("REJECT"),
            ToLeader::Busy => f.write_str("BUSY"),
            ToLeader::Msg(text) => write!(f, "MSG {text}"),
            ToLeader::Leave => f.write_str("LEAVE"),
            ToLeader::Hello => f.write_str("HELLO"),
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
            "HELLO" => bare(ToLeader::Hello),
            "MSG" => {
                check_text(rest)?;
                Ok(ToLeader::Msg(rest.to_string()))
            }
            _ => Err(unknown_between_peers(keyword)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `line` parses to `expected`, `expected` formats back to `line`, and
    /// the formatted line parses to `expected` again.
    #[track_caller]
    fn check<T>(line: &str, expected: T)
    where
        T: FromStr<Err = ParseError> + fmt::Display + fmt::Debug + PartialEq,
    {
        assert_eq!(line.parse::<T>(), Ok(expected), "parsing {line:?}");
        let expected: T = line.parse().unwrap();
        assert_eq!(expected.to_string(), line, "formatting {expected:?}");
        assert_eq!(
            expected.to_string().parse::<T>(),
            Ok(expected),
            "round trip"
        );
    }

    /// `line` is not canonical (case, spacing) but parses to `expected`,
    /// which formats to `canonical`.
    #[track_caller]
    fn check_loose<T>(line: &str, expected: T, canonical: &str)
    where
        T: FromStr<Err = ParseError> + fmt::Display + fmt::Debug + PartialEq,
    {
        assert_eq!(line.parse::<T>(), Ok(expected), "parsing {line:?}");
        let parsed: T = line.parse().unwrap();
        assert_eq!(parsed.to_string(), canonical, "formatting {parsed:?}");
    }

    /// `line` does not parse, and the `ERR` reply its error makes is
    /// `expected`.
    #[track_caller]
    fn check_err<T>(line: &str, expected: &str)
    where
        T: FromStr<Err = ParseError> + fmt::Debug,
    {
        match line.parse::<T>() {
            Ok(value) => panic!("{line:?} parsed to {value:?}, expected {expected:?}"),
            Err(err) => assert_eq!(Reply::from(err).to_string(), expected, "parsing {line:?}"),
        }
    }

    fn contact(name: &str, ip: &str, port: u16) -> Contact {
        Contact {
            name: name.into(),
            ip: ip.parse().unwrap(),
            port,
        }
    }

    const BAD_NAME: &str = "ERR BAD_NAME a name is 1 to 32 characters of A-Z a-z 0-9 _ . -";
    const BAD_PASSWORD: &str =
        "ERR BAD_PASSWORD a password is 4 to 128 printable characters without spaces";

    #[test]
    fn requests() {
        check(
            "REGISTER alice s3cret",
            Request::Register {
                name: "alice".into(),
                password: "s3cret".into(),
            },
        );
        check(
            "JOIN alice s3cret 5000",
            Request::Join {
                name: "alice".into(),
                password: "s3cret".into(),
                port: 5000,
            },
        );
        check("HELLO", Request::Hello);
        check("LIST", Request::List);
        check("SEARCH bob", Request::Search { name: "bob".into() });
        check("LOGOUT", Request::Logout);
        check("HELP", Request::Help);
        check("INVITE bob", Request::Invite { name: "bob".into() });
        check(
            "CHECK abc123XYZ",
            Request::Check {
                ticket: "abc123XYZ".into(),
            },
        );
        check(
            &format!("CHECK {}", "t".repeat(MAX_TICKET)),
            Request::Check {
                ticket: "t".repeat(MAX_TICKET),
            },
        );
    }

    #[test]
    fn request_limits() {
        let longest_name = "n".repeat(MAX_NAME);
        check(
            &format!("SEARCH {longest_name}"),
            Request::Search {
                name: longest_name.clone(),
            },
        );
        check(
            "SEARCH A-z_0.9",
            Request::Search {
                name: "A-z_0.9".into(),
            },
        );
        for password in ["abcd", &"p".repeat(MAX_PASSWORD), "éééé", "p@ss:w0rd!"] {
            check(
                &format!("REGISTER bob {password}"),
                Request::Register {
                    name: "bob".into(),
                    password: password.into(),
                },
            );
        }
        for port in [1, 65535] {
            check(
                &format!("JOIN bob abcd {port}"),
                Request::Join {
                    name: "bob".into(),
                    password: "abcd".into(),
                    port,
                },
            );
        }
    }

    #[test]
    fn requests_ignore_keyword_case_and_extra_spaces() {
        check_loose("hello", Request::Hello, "HELLO");
        check_loose("List", Request::List, "LIST");
        check_loose("lOgOuT", Request::Logout, "LOGOUT");
        check_loose("help", Request::Help, "HELP");
        check_loose(
            "search  Bob",
            Request::Search { name: "Bob".into() },
            "SEARCH Bob",
        );
        check_loose(
            "register Alice PassWord",
            Request::Register {
                name: "Alice".into(),
                password: "PassWord".into(),
            },
            "REGISTER Alice PassWord",
        );
        check_loose(
            "  join   alice  s3cret   5000  ",
            Request::Join {
                name: "alice".into(),
                password: "s3cret".into(),
                port: 5000,
            },
            "JOIN alice s3cret 5000",
        );
    }

    #[test]
    fn request_usage_errors() {
        let cases = [
            ("REGISTER", "REGISTER <name> <password>"),
            ("REGISTER alice", "REGISTER <name> <password>"),
            ("register alice pw extra", "REGISTER <name> <password>"),
            ("JOIN alice s3cret", "JOIN <name> <password> <port>"),
            ("join a b c d", "JOIN <name> <password> <port>"),
            ("HELLO there", "HELLO"),
            ("LIST all", "LIST"),
            ("SEARCH", "SEARCH <name>"),
            ("search a b", "SEARCH <name>"),
            ("LOGOUT now", "LOGOUT"),
            ("HELP me", "HELP"),
            ("INVITE", "INVITE <name>"),
            ("check a b", "CHECK <ticket>"),
        ];
        for (line, usage) in cases {
            check_err::<Request>(line, &format!("ERR BAD_ARGS usage: {usage}"));
        }
    }

    #[test]
    fn request_unknown_commands() {
        check_err::<Request>("FOO", "ERR UNKNOWN_COMMAND unknown command FOO; try HELP");
        check_err::<Request>(
            "msg hello there",
            "ERR UNKNOWN_COMMAND unknown command msg; try HELP",
        );
        // A tab is not a separator, so it is part of the keyword.
        check_err::<Request>(
            "HELP\tme",
            "ERR UNKNOWN_COMMAND unknown command HELP\tme; try HELP",
        );
    }

    #[test]
    fn request_bad_names() {
        let too_long = "n".repeat(MAX_NAME + 1);
        for line in [
            "REGISTER bad!name s3cret".to_string(),
            "REGISTER café s3cret".to_string(),
            format!("REGISTER {too_long} s3cret"),
            "JOIN a/b s3cret 5000".to_string(),
            "SEARCH bad:name".to_string(),
            format!("SEARCH {too_long}"),
        ] {
            check_err::<Request>(&line, BAD_NAME);
        }
        // The name is checked before the password and the port.
        check_err::<Request>("JOIN b@d x 0", BAD_NAME);
    }

    #[test]
    fn request_bad_passwords() {
        let too_long = "p".repeat(MAX_PASSWORD + 1);
        for line in [
            "REGISTER alice abc".to_string(),
            "REGISTER alice ééé".to_string(),
            format!("REGISTER alice {too_long}"),
            "REGISTER alice pa\tss".to_string(),
            "REGISTER alice pass\u{7}".to_string(),
            "JOIN alice abc 5000".to_string(),
        ] {
            check_err::<Request>(&line, BAD_PASSWORD);
        }
        // The password is checked before the port.
        check_err::<Request>("JOIN alice abc 0", BAD_PASSWORD);
    }

    #[test]
    fn request_bad_tickets() {
        let too_long = "t".repeat(MAX_TICKET + 1);
        for ticket in ["abc-123", "tick_et", "é", too_long.as_str()] {
            check_err::<Request>(
                &format!("CHECK {ticket}"),
                "ERR BAD_TICKET a ticket is 1 to 64 letters and digits",
            );
        }
        check_err::<Request>("INVITE b!b", BAD_NAME);
    }

    #[test]
    fn request_bad_ports() {
        for port in ["0", "65536", "x", "-1", "5000.0", "99999999999"] {
            check_err::<Request>(
                &format!("JOIN alice s3cret {port}"),
                &format!("ERR BAD_PORT {port} is not a port; give a number from 1 to 65535"),
            );
        }
    }

    #[test]
    fn redacted_request() {
        let join = Request::Join {
            name: "alice".into(),
            password: "s3cret".into(),
            port: 5000,
        };
        assert_eq!(join.redacted(), "JOIN alice **** 5000");
        let register = Request::Register {
            name: "alice".into(),
            password: "s3cret".into(),
        };
        assert_eq!(register.redacted(), "REGISTER alice ****");
        assert_eq!(Request::List.redacted(), "LIST");
    }

    #[test]
    fn replies_without_arguments() {
        check("OK HELLO", Reply::Hello);
        check("OK BYE", Reply::LoggedOut);
        check(
            &format!("OK HELP {HELP_TEXT}"),
            Reply::Help(HELP_TEXT.into()),
        );
        check_loose("ok hello", Reply::Hello, "OK HELLO");
        check_loose("Ok Bye", Reply::LoggedOut, "OK BYE");
        check_loose(
            "err not_joined JOIN first",
            Reply::Err(ErrorCode::NotJoined, "JOIN first".into()),
            "ERR NOT_JOINED JOIN first",
        );
    }

    #[test]
    fn error_replies_of_every_code() {
        for (code, word) in ERROR_CODES {
            let line = format!("ERR {word} something went wrong");
            check(&line, Reply::Err(*code, "something went wrong".into()));
            assert_eq!(code.as_str(), *word);
            assert_eq!(word.to_lowercase().parse::<ErrorCode>(), Ok(*code));
        }
        assert_eq!(
            "NOPE".parse::<ErrorCode>(),
            Err(ParseError::new(
                ErrorCode::BadArgs,
                "unknown error code NOPE"
            ))
        );
    }

    #[test]
    fn reply_keeps_every_argument() {
        check("OK REGISTERED alice", Reply::Registered("alice".into()));
        check(
            "OK JOINED alice 127.0.0.1 5000",
            Reply::Joined(contact("alice", "127.0.0.1", 5000)),
        );
        check("OK LIST 0", Reply::List(0));
        check("OK LIST 12", Reply::List(12));
        check(
            "USER bob 10.0.0.2 6000",
            Reply::Row(contact("bob", "10.0.0.2", 6000)),
        );
        check("USER bob ::1 6000", Reply::Row(contact("bob", "::1", 6000)));
        check(
            "OK USER Bob 192.168.1.9 65535",
            Reply::Found(contact("Bob", "192.168.1.9", 65535)),
        );
        check("BYE SHUTDOWN", Reply::Bye(ByeReason::Shutdown));
        check("BYE TIMEOUT", Reply::Bye(ByeReason::Timeout));
        check("BYE REPLACED", Reply::Bye(ByeReason::Replaced));
        check_loose(
            "bye replaced",
            Reply::Bye(ByeReason::Replaced),
            "BYE REPLACED",
        );
        check_loose(
            "user  bob 1.2.3.4 5",
            Reply::Row(contact("bob", "1.2.3.4", 5)),
            "USER bob 1.2.3.4 5",
        );
        check_loose("ok list  3", Reply::List(3), "OK LIST 3");
        check("OK TICKET abc123", Reply::Ticket("abc123".into()));
        check(
            "OK TICKET alice bob",
            Reply::Valid {
                leader: "alice".into(),
                invitee: "bob".into(),
            },
        );
    }

    #[test]
    fn bad_replies() {
        check_err::<Reply>("HELLO", "ERR BAD_ARGS not a registry reply: HELLO");
        check_err::<Reply>("OK LIST x", "ERR BAD_ARGS not a registry reply: OK LIST x");
        check_err::<Reply>("OK LIST", "ERR BAD_ARGS not a registry reply: OK LIST");
        check_err::<Reply>("OK WHAT", "ERR BAD_ARGS not a registry reply: OK WHAT");
        check_err::<Reply>("BYE", "ERR BAD_ARGS not a registry reply: BYE");
        check_err::<Reply>("ERR NOPE text", "ERR BAD_ARGS unknown error code NOPE");
        check_err::<Reply>(
            "USER bob 1.2.3.4",
            "ERR BAD_ARGS expected <name> <ip> <port>",
        );
    }

    #[test]
    fn reply_argument_errors() {
        check_err::<Reply>(
            "OK HELLO x",
            "ERR BAD_ARGS not a registry reply: OK HELLO x",
        );
        check_err::<Reply>("OK BYE x", "ERR BAD_ARGS not a registry reply: OK BYE x");
        check_err::<Reply>("BYE LATER", "ERR BAD_ARGS unknown BYE reason LATER");
        check_err::<Reply>(
            "OK JOINED bob 1.2.3.4 5 6",
            "ERR BAD_ARGS expected <name> <ip> <port>",
        );
        check_err::<Reply>("USER bob host 5", "ERR BAD_ARGS host is not an IP address");
        check_err::<Reply>("USER b!b 1.2.3.4 5", BAD_NAME);
        check_err::<Reply>(
            "OK USER bob 1.2.3.4 0",
            "ERR BAD_PORT 0 is not a port; give a number from 1 to 65535",
        );
        check_err::<Reply>("OK REGISTERED b@d", BAD_NAME);
        check_err::<Reply>(
            "OK TICKET ab-c",
            "ERR BAD_TICKET a ticket is 1 to 64 letters and digits",
        );
        check_err::<Reply>("OK TICKET alice b!b", BAD_NAME);
        check_err::<Reply>(
            "OK TICKET a b c",
            "ERR BAD_ARGS not a registry reply: OK TICKET a b c",
        );
    }

    #[test]
    fn to_member_text_lines() {
        check(
            "MSG bob hello  there, all!",
            ToMember::Msg {
                from: "bob".into(),
                text: "hello  there, all!".into(),
            },
        );
        check(
            "CLOSED the leader left",
            ToMember::Closed("the leader left".into()),
        );
        check(
            "ERR TEXT_TOO_LONG too long",
            ToMember::Err(ErrorCode::TextTooLong, "too long".into()),
        );
        check_loose(
            "msg  bob hi",
            ToMember::Msg {
                from: "bob".into(),
                text: "hi".into(),
            },
            "MSG bob hi",
        );
    }

    #[test]
    fn to_member_keeps_every_argument() {
        check(
            "CHAT_REQUEST alice",
            ToMember::ChatRequest {
                leader: "alice".into(),
                ticket: None,
            },
        );
        check(
            "CHAT_REQUEST alice T1ck3t",
            ToMember::ChatRequest {
                leader: "alice".into(),
                ticket: Some("T1ck3t".into()),
            },
        );
        check("HELLO", ToMember::Hello);
        check(
            "MEMBERS alice bob carol",
            ToMember::Members(vec!["alice".into(), "bob".into(), "carol".into()]),
        );
        check("MEMBERS alice", ToMember::Members(vec!["alice".into()]));
        check("JOINED bob", ToMember::Joined("bob".into()));
        check("LEFT bob", ToMember::Left("bob".into()));
        check_loose("left Bob", ToMember::Left("Bob".into()), "LEFT Bob");
    }

    #[test]
    fn longest_relayed_message_fits_a_line() {
        let msg = ToMember::Msg {
            from: "n".repeat(MAX_NAME),
            text: "t".repeat(MAX_TEXT),
        };
        assert_eq!(msg.to_string().len(), MAX_LINE);
        check(&msg.to_string(), msg);
    }

    #[test]
    fn bad_to_member() {
        let too_long = "t".repeat(MAX_TEXT + 1);
        check_err::<ToMember>(
            "CHAT_REQUEST",
            "ERR BAD_ARGS usage: CHAT_REQUEST <leader> [<ticket>]",
        );
        check_err::<ToMember>("JOINED", "ERR BAD_ARGS usage: JOINED <name>");
        check_err::<ToMember>("MEMBERS", "ERR BAD_ARGS MEMBERS needs an argument");
        check_err::<ToMember>("CLOSED", "ERR BAD_ARGS CLOSED needs an argument");
        check_err::<ToMember>("MSG b!b hi", BAD_NAME);
        check_err::<ToMember>("MSG bob", "ERR BAD_ARGS a message needs some text");
        check_err::<ToMember>("MSG bob    ", "ERR BAD_ARGS a message needs some text");
        check_err::<ToMember>(
            &format!("MSG bob {too_long}"),
            "ERR TEXT_TOO_LONG a message is at most 987 bytes",
        );
        check_err::<ToMember>("ERR NOPE x", "ERR BAD_ARGS unknown error code NOPE");
        check_err::<ToMember>("WHAT", "ERR UNKNOWN_COMMAND unknown command WHAT");
    }

    #[test]
    fn to_member_argument_errors() {
        check_err::<ToMember>(
            "CHAT_REQUEST a b c",
            "ERR BAD_ARGS usage: CHAT_REQUEST <leader> [<ticket>]",
        );
        check_err::<ToMember>("CHAT_REQUEST b!b", BAD_NAME);
        check_err::<ToMember>(
            "CHAT_REQUEST alice t-t",
            "ERR BAD_TICKET a ticket is 1 to 64 letters and digits",
        );
        check_err::<ToMember>("LEFT a b", "ERR BAD_ARGS usage: LEFT <name>");
        check_err::<ToMember>("JOINED b!b", BAD_NAME);
        check_err::<ToMember>("MEMBERS b!b alice", BAD_NAME);
        check_err::<ToMember>("MEMBERS alice b!b", BAD_NAME);
    }

    #[test]
    fn to_leader() {
        check("OK", ToLeader::Accept);
        check("REJECT", ToLeader::Reject);
        check("BUSY", ToLeader::Busy);
        check("LEAVE", ToLeader::Leave);
        check("HELLO", ToLeader::Hello);
        check("MSG hello there", ToLeader::Msg("hello there".into()));
        check(
            &format!("MSG {}", "t".repeat(MAX_TEXT)),
            ToLeader::Msg("t".repeat(MAX_TEXT)),
        );
        check_loose("ok", ToLeader::Accept, "OK");
        check_loose("Leave", ToLeader::Leave, "LEAVE");
        check_loose("msg   hi", ToLeader::Msg("hi".into()), "MSG hi");
    }

    #[test]
    fn bad_to_leader() {
        check_err::<ToLeader>("OK now", "ERR BAD_ARGS usage: OK");
        check_err::<ToLeader>("reject x", "ERR BAD_ARGS usage: REJECT");
        check_err::<ToLeader>("BUSY x", "ERR BAD_ARGS usage: BUSY");
        check_err::<ToLeader>("LEAVE x", "ERR BAD_ARGS usage: LEAVE");
        check_err::<ToLeader>("hello x", "ERR BAD_ARGS usage: HELLO");
        check_err::<ToLeader>("MSG", "ERR BAD_ARGS a message needs some text");
        check_err::<ToLeader>(
            &format!("MSG {}", "t".repeat(MAX_TEXT + 1)),
            "ERR TEXT_TOO_LONG a message is at most 987 bytes",
        );
        check_err::<ToLeader>("QUIT", "ERR UNKNOWN_COMMAND unknown command QUIT");
    }

    #[test]
    fn check_text_rules() {
        assert_eq!(check_text("hi"), Ok(()));
        assert_eq!(check_text("hi  there "), Ok(()));
        let err = |text: &str| check_text(text).unwrap_err().to_string();
        assert_eq!(
            err(" hi"),
            "message text must not start with a space or hold a line break (BAD_ARGS)"
        );
        assert_eq!(
            err("a\nb"),
            "message text must not start with a space or hold a line break (BAD_ARGS)"
        );
        assert_eq!(
            err("a\rb"),
            "message text must not start with a space or hold a line break (BAD_ARGS)"
        );
        assert_eq!(err(""), "a message needs some text (BAD_ARGS)");
    }

    #[track_caller]
    fn check_decode(raw: &[u8], expected: Result<&str, LineError>) {
        assert_eq!(decode_line(raw), expected, "decoding {raw:?}");
    }

    #[test]
    fn decode_lines() {
        let longest = "a".repeat(MAX_LINE);
        check_decode(b"HELP", Ok("HELP"));
        check_decode(b"HELP\r", Ok("HELP"));
        check_decode(b"", Ok(""));
        check_decode(b"\r", Ok(""));
        check_decode(b"a\rb", Ok("a\rb"));
        check_decode(b"HELP\r\r", Ok("HELP\r"));
        check_decode("SEARCH café".as_bytes(), Ok("SEARCH café"));
        check_decode(longest.as_bytes(), Ok(&longest));
        check_decode(format!("{longest}\r").as_bytes(), Ok(&longest));
        check_decode(format!("{longest}a").as_bytes(), Err(LineError::TooLong));
        check_decode(format!("{longest}a\r").as_bytes(), Err(LineError::TooLong));
        check_decode(b"\xff\xfe", Err(LineError::BadEncoding));
        check_decode(b"HELP \xc3\x28\r", Err(LineError::BadEncoding));
        // A line cut in the middle of a character is not UTF-8.
        check_decode(&"é".as_bytes()[..1], Err(LineError::BadEncoding));
        // The length is checked first: an over-long line is too long even
        // when it is not UTF-8 either.
        check_decode(&[0xff; MAX_LINE + 1], Err(LineError::TooLong));
        assert_eq!(
            LineError::TooLong.to_string(),
            "line is longer than 1024 bytes"
        );
        assert_eq!(
            LineError::BadEncoding.to_string(),
            "line is not valid UTF-8"
        );
    }

    #[track_caller]
    fn check_redact(line: &str, expected: &str) {
        assert_eq!(redact(line), expected, "redacting {line:?}");
    }

    #[test]
    fn redact_hides_passwords() {
        check_redact("REGISTER alice s3cret", "REGISTER alice ****");
        check_redact("register alice s3cret", "register alice ****");
        check_redact("Register alice s3cret", "Register alice ****");
        check_redact("JOIN alice s3cret 5000", "JOIN alice **** 5000");
        check_redact("join alice s3cret 5000", "join alice **** 5000");
        check_redact("JOIN  alice   s3cret  5000 ", "JOIN  alice   ****  5000 ");
        // Lines with the wrong number of words still hide the third one.
        check_redact("JOIN alice s3cret", "JOIN alice ****");
        check_redact("REGISTER alice s3cret extra", "REGISTER alice **** extra");
    }

    #[test]
    fn redact_leaves_other_lines_alone() {
        for line in [
            "",
            "HELLO",
            "LIST",
            "SEARCH alice",
            "REGISTER alice",
            "JOIN alice",
            "OK JOINED alice 127.0.0.1 5000",
            "JOINED alice bob",
            "REGISTERED alice s3cret",
            "MSG alice REGISTER bob s3cret",
            "ERR BAD_CREDENTIALS wrong user name or password",
        ] {
            check_redact(line, line);
        }
    }

    // The parser skips leading spaces, so `  JOIN alice s3cret 5000` is a
    // valid JOIN, and `redact` must find its keyword past them too.
    #[test]
    fn redact_hides_passwords_after_leading_spaces() {
        assert!(
            " JOIN alice s3cret 5000".parse::<Request>().is_ok(),
            "the server accepts this line"
        );
        check_redact(" JOIN alice s3cret 5000", " JOIN alice **** 5000");
        check_redact("  register alice s3cret", "  register alice ****");
    }

    #[test]
    fn bye_reasons() {
        for (word, reason) in [
            ("SHUTDOWN", ByeReason::Shutdown),
            ("timeout", ByeReason::Timeout),
            ("Replaced", ByeReason::Replaced),
        ] {
            assert_eq!(word.parse::<ByeReason>(), Ok(reason));
            assert_eq!(reason.to_string(), word.to_uppercase());
        }
    }

    #[test]
    fn parse_error_display() {
        let err = ParseError::new(ErrorCode::BadPort, "0 is not a port");
        assert_eq!(err.to_string(), "0 is not a port (BAD_PORT)");
        assert_eq!(Reply::from(err).to_string(), "ERR BAD_PORT 0 is not a port");
    }

    #[test]
    fn name_and_password_checks() {
        assert_eq!(check_name("a"), Ok(()));
        assert_eq!(check_name(&"a".repeat(MAX_NAME)), Ok(()));
        for bad in ["", " ", "a b", "ä", "a*", &"a".repeat(MAX_NAME + 1)] {
            assert_eq!(
                check_name(bad).map_err(|e| e.code),
                Err(ErrorCode::BadName),
                "{bad:?}"
            );
        }
        assert_eq!(check_password("abcd"), Ok(()));
        for bad in [
            "",
            "abc",
            "ab d",
            "abc\u{0}",
            "abc\u{a0}d",
            &"a".repeat(129),
        ] {
            assert_eq!(
                check_password(bad).map_err(|e| e.code),
                Err(ErrorCode::BadPassword),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn redact_treats_any_whitespace_as_a_separator() {
        assert_eq!(redact("JOIN\talice\ts3cret 5000"), "JOIN\talice\t**** 5000");
        assert_eq!(redact("register\tbob\tpw12"), "register\tbob\t****");
        assert_eq!(redact("JOIN\talice"), "JOIN\talice");
    }
}
