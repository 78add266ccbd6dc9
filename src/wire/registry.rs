//! The registry's grammar: the requests a peer sends (`Request`) and the
//! lines the registry answers with (`Reply`), with `ByeReason` and `Contact`.
//! A user's public key rides as an optional last word (`KeyWord`): `JOIN`
//! announces it, `USER` and `OK TICKET` vouch for it. It is optional so
//! that a person typing at a plain-text registry with `nc` can still join.
//! A user who is away (`AWAY [text]`) is listed with ` AWAY [text]` after
//! everything else on its `USER` line, so a line without it reads as before.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::key::KeyWord;
use super::lobby::check_away;
use super::{
    ErrorCode, ParseError, all_words, check_password, check_ticket, echoable, parse_ip, parse_name,
    parse_port, redact, split_word, words,
};

/// What the registry says when asked for `HELP`.
pub const HELP_TEXT: &str = "REGISTER <name> <password> | NAME <name> | JOIN <name> <password> <port> [key] | HELLO | LIST | SEARCH <name> | INVITE <name> | CHECK <ticket> | AWAY [text] | BACK | LOGOUT | HELP";

/// The word that starts a listed user's away text, after the contact.
const AWAY_WORD: &str = "AWAY";

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

/// One user's contact details: where their chat port listens, and the
/// public key the registry vouches for (none for a user who joined
/// without one, by hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub ip: IpAddr,
    pub port: u16,
    pub key: Option<KeyWord>,
    /// The user's away text while away (empty when away without a word),
    /// `None` while here.
    pub away: Option<String>,
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.name, self.ip, self.port)?;
        write_key(f, self.key.as_ref())?;
        match self.away.as_deref() {
            None => Ok(()),
            Some("") => write!(f, " {AWAY_WORD}"),
            Some(text) => write!(f, " {AWAY_WORD} {text}"),
        }
    }
}

/// ` <key>`, or nothing when there is no key.
fn write_key(f: &mut fmt::Formatter<'_>, key: Option<&KeyWord>) -> fmt::Result {
    match key {
        Some(key) => write!(f, " {key}"),
        None => Ok(()),
    }
}

/// An optional last word that must be a key if it is there.
fn parse_key(word: Option<&&str>) -> Result<Option<KeyWord>, ParseError> {
    word.map(|word| word.parse()).transpose()
}

/// A request from a peer to the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Asks whether `name` is free to register, before a password is
    /// chosen for it; `REGISTER` stays the final word.
    Name {
        name: String,
    },
    Register {
        name: String,
        password: String,
    },
    Join {
        name: String,
        password: String,
        port: u16,
        /// The user's public key; none from a person typing by hand.
        key: Option<KeyWord>,
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
    /// `AWAY [text]`: the user is away, with a short text or none.
    Away(String),
    /// `BACK`: the user is here again.
    Back,
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
            Request::Name { name } => write!(f, "NAME {name}"),
            Request::Register { name, password } => write!(f, "REGISTER {name} {password}"),
            Request::Join {
                name,
                password,
                port,
                key,
            } => {
                write!(f, "JOIN {name} {password} {port}")?;
                write_key(f, key.as_ref())
            }
            Request::Hello => f.write_str("HELLO"),
            Request::List => f.write_str("LIST"),
            Request::Search { name } => write!(f, "SEARCH {name}"),
            Request::Invite { name } => write!(f, "INVITE {name}"),
            Request::Check { ticket } => write!(f, "CHECK {ticket}"),
            Request::Away(text) if text.is_empty() => f.write_str("AWAY"),
            Request::Away(text) => write!(f, "AWAY {text}"),
            Request::Back => f.write_str("BACK"),
            Request::Logout => f.write_str("LOGOUT"),
            Request::Help => f.write_str("HELP"),
        }
    }
}

/// The registry's requests: keyword and usage, for `ERR BAD_ARGS`.
const USAGE: &[(&str, &str)] = &[
    ("REGISTER", "REGISTER <name> <password>"),
    ("NAME", "NAME <name>"),
    ("JOIN", "JOIN <name> <password> <port> [key]"),
    ("HELLO", "HELLO"),
    ("LIST", "LIST"),
    ("SEARCH", "SEARCH <name>"),
    ("INVITE", "INVITE <name>"),
    ("CHECK", "CHECK <ticket>"),
    ("AWAY", "AWAY [text]"),
    ("BACK", "BACK"),
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

fn unknown(keyword: &str) -> ParseError {
    let text = match echoable(keyword) {
        Some(keyword) => format!("unknown command {keyword}; try HELP"),
        None => "unknown command; try HELP".to_string(),
    };
    ParseError::new(ErrorCode::UnknownCommand, text)
}

impl FromStr for Request {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<Self, ParseError> {
        let (keyword, args) = words(line);
        let upper = keyword.to_ascii_uppercase();
        if upper == "AWAY" {
            // The rest of the line is the text, spaces and all.
            let text = split_word(line).1;
            check_away(text)?;
            return Ok(Request::Away(text.to_string()));
        }
        let arity = match upper.as_str() {
            "REGISTER" => 2..=2,
            "JOIN" => 3..=4,
            "NAME" | "SEARCH" | "INVITE" | "CHECK" => 1..=1,
            "HELLO" | "LIST" | "BACK" | "LOGOUT" | "HELP" => 0..=0,
            _ => return Err(unknown(keyword)),
        };
        if !arity.contains(&args.len()) {
            return Err(usage(keyword));
        }
        Request::build(&upper, &args)
    }
}

impl Request {
    /// The request named by the (upper-case) `keyword`, from as many
    /// `args` as it takes.
    fn build(keyword: &str, args: &[&str]) -> Result<Request, ParseError> {
        Ok(match keyword {
            "REGISTER" => {
                let (name, password) = credentials(args)?;
                Request::Register { name, password }
            }
            "JOIN" => Request::join(args)?,
            "NAME" => Request::Name {
                name: parse_name(args[0])?,
            },
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
            "BACK" => Request::Back,
            "LOGOUT" => Request::Logout,
            _ => Request::Help,
        })
    }
}

impl Request {
    /// `JOIN <name> <password> <port> [<key>]`, checked in that order.
    fn join(args: &[&str]) -> Result<Request, ParseError> {
        let (name, password) = credentials(args)?;
        let port = parse_port(args[2])?;
        Ok(Request::Join {
            name,
            password,
            port,
            key: parse_key(args.get(3))?,
        })
    }
}

/// A name and a password, checked in that order.
fn credentials(args: &[&str]) -> Result<(String, String), ParseError> {
    let name = parse_name(args[0])?;
    check_password(args[1])?;
    Ok((name, args[1].to_string()))
}

/// A line from the registry to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `OK NAME_FREE <name>`: nobody has that name yet (the answer to `NAME`).
    NameFree(String),
    /// `OK REGISTERED <name>`
    Registered(String),
    /// `OK JOINED <name> <ip> <port>`: the address the registry sees.
    Joined(Contact),
    /// `OK HELLO`
    Hello,
    /// `OK LIST <n>`, followed by `n` `Row` lines.
    List(usize),
    /// `USER <name> <ip> <port> [key]`: one row of a list.
    Row(Contact),
    /// `OK USER <name> <ip> <port> [key]`: the answer to `SEARCH`.
    Found(Contact),
    /// `OK TICKET <ticket>`: the answer to `INVITE`.
    Ticket(String),
    /// `OK TICKET <leader> <invitee> [key]`: the answer to a good `CHECK`,
    /// with the key the leader joined with.
    Valid {
        leader: String,
        invitee: String,
        leader_key: Option<KeyWord>,
    },
    /// `OK AWAY [text]`: the answer to `AWAY`.
    Away(String),
    /// `OK BACK`: the answer to `BACK`.
    Back,
    /// `OK BYE`: the answer to `LOGOUT`.
    LoggedOut,
    /// `OK HELP <text>`
    Help(String),
    /// `ERR <CODE> <text>`
    Err(ErrorCode, String),
    /// `BYE <REASON>`: the server closes the connection after this line.
    Bye(ByeReason),
}

/// Which count of failed JOINs reached its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptLimit {
    /// The name's: someone keeps guessing this user's password.
    Name,
    /// The address's: many failures came from where this JOIN comes from.
    Address,
}

impl Reply {
    /// `ERR TOO_MANY_ATTEMPTS <seconds> <NAME|ADDRESS> <text>`: the registry
    /// takes no JOIN for this name, or from this address, until `wait_secs`
    /// have passed. The word after the seconds says which limit was hit; a
    /// peer that does not know it still finds the seconds first.
    pub fn too_many_attempts(wait_secs: u64, limit: AttemptLimit) -> Reply {
        let (word, which) = match limit {
            AttemptLimit::Name => ("NAME", "for this name"),
            AttemptLimit::Address => ("ADDRESS", "from this address"),
        };
        Reply::Err(
            ErrorCode::TooManyAttempts,
            format!("{wait_secs} {word} too many failed joins {which}; try again in {wait_secs} s"),
        )
    }

    /// Which limit an `ERR TOO_MANY_ATTEMPTS` reply names; `None` for any
    /// other line, or one from a registry that does not say.
    pub fn attempt_limit(&self) -> Option<AttemptLimit> {
        match self {
            Reply::Err(ErrorCode::TooManyAttempts, text) => {
                match split_word(split_word(text).1).0 {
                    "NAME" => Some(AttemptLimit::Name),
                    "ADDRESS" => Some(AttemptLimit::Address),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// `ERR TOO_MANY_ATTEMPTS <seconds> ADDRESS ...`: the registry takes no
    /// REGISTER from this address until `wait_secs` have passed.
    pub fn too_many_registrations(wait_secs: u64) -> Reply {
        Reply::Err(
            ErrorCode::TooManyAttempts,
            format!(
                "{wait_secs} ADDRESS too many registrations from this address; try again in {wait_secs} s"
            ),
        )
    }

    /// The seconds an `ERR TOO_MANY_ATTEMPTS <seconds> ...` reply asks to
    /// wait; `None` for any other line, or one without a number first.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Reply::Err(ErrorCode::TooManyAttempts, text) => split_word(text).0.parse().ok(),
            _ => None,
        }
    }
}

impl From<ParseError> for Reply {
    fn from(err: ParseError) -> Reply {
        Reply::Err(err.code, err.text)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::NameFree(name) => write!(f, "OK NAME_FREE {name}"),
            Reply::Registered(name) => write!(f, "OK REGISTERED {name}"),
            Reply::Joined(contact) => write!(f, "OK JOINED {contact}"),
            Reply::Hello => f.write_str("OK HELLO"),
            Reply::List(n) => write!(f, "OK LIST {n}"),
            Reply::Row(contact) => write!(f, "USER {contact}"),
            Reply::Found(contact) => write!(f, "OK USER {contact}"),
            Reply::Ticket(ticket) => write!(f, "OK TICKET {ticket}"),
            Reply::Valid {
                leader,
                invitee,
                leader_key,
            } => {
                write!(f, "OK TICKET {leader} {invitee}")?;
                write_key(f, leader_key.as_ref())
            }
            Reply::Away(text) if text.is_empty() => f.write_str("OK AWAY"),
            Reply::Away(text) => write!(f, "OK AWAY {text}"),
            Reply::Back => f.write_str("OK BACK"),
            Reply::LoggedOut => f.write_str("OK BYE"),
            Reply::Help(text) => write!(f, "OK HELP {text}"),
            Reply::Err(code, text) => write!(f, "ERR {code} {text}"),
            Reply::Bye(reason) => write!(f, "BYE {reason}"),
        }
    }
}

/// `<name> <ip> <port> [key] [AWAY [text]]`.
fn parse_contact(rest: &str) -> Result<Contact, ParseError> {
    let (head, away) = split_away(rest)?;
    let args = all_words(head);
    match args.as_slice() {
        [name, ip, port] | [name, ip, port, _] => Ok(Contact {
            name: parse_name(name)?,
            ip: parse_ip(ip)?,
            port: parse_port(port)?,
            key: parse_key(args.get(3))?,
            away,
        }),
        _ => Err(ParseError::new(
            ErrorCode::BadArgs,
            "expected <name> <ip> <port> [key]",
        )),
    }
}

/// Splits a contact at its `AWAY` word, which may stand only after the
/// port or the key (a user may be called AWAY), into the words before it
/// and the away text after it, checked.
fn split_away(rest: &str) -> Result<(&str, Option<String>), ParseError> {
    let mut tail = rest;
    for at in 0..5 {
        let (word, after) = split_word(tail);
        if word.is_empty() {
            break;
        }
        if at >= 3 && word == AWAY_WORD {
            check_away(after)?;
            return Ok((&rest[..rest.len() - tail.len()], Some(after.to_string())));
        }
        tail = after;
    }
    Ok((rest, None))
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
            "OK" => Reply::parse_ok(rest).unwrap_or_else(|| Err(bad_reply(line))),
            "USER" => Ok(Reply::Row(parse_contact(rest)?)),
            "BYE" => match args.as_slice() {
                [reason] => Ok(Reply::Bye(reason.parse()?)),
                _ => Err(bad_reply(line)),
            },
            "ERR" => {
                let (code, text) = split_word(rest);
                Ok(Reply::Err(code.parse()?, text.to_string()))
            }
            _ => Err(bad_reply(line)),
        }
    }
}

impl Reply {
    /// The family of `OK <WHAT> ...` answers, from what follows `OK`;
    /// `None` for a `<WHAT>` or a count of words no answer has.
    fn parse_ok(rest: &str) -> Option<Result<Reply, ParseError>> {
        let (what, rest) = split_word(rest);
        let args = all_words(rest);
        Some(
            match (what.to_ascii_uppercase().as_str(), args.as_slice()) {
                ("NAME_FREE", [name]) => parse_name(name).map(Reply::NameFree),
                ("REGISTERED", [name]) => parse_name(name).map(Reply::Registered),
                ("JOINED", _) => parse_contact(rest).map(Reply::Joined),
                ("HELLO", []) => Ok(Reply::Hello),
                ("LIST", [n]) => Ok(Reply::List(n.parse().ok()?)),
                ("USER", _) => parse_contact(rest).map(Reply::Found),
                ("AWAY", _) => check_away(rest).map(|()| Reply::Away(rest.to_string())),
                ("BACK", []) => Ok(Reply::Back),
                ("BYE", []) => Ok(Reply::LoggedOut),
                ("TICKET", [ticket]) => {
                    check_ticket(ticket).map(|()| Reply::Ticket(ticket.to_string()))
                }
                ("TICKET", [leader, invitee]) | ("TICKET", [leader, invitee, _]) => {
                    Reply::valid(leader, invitee, args.get(2))
                }
                ("HELP", _) => Ok(Reply::Help(rest.to_string())),
                _ => return None,
            },
        )
    }

    /// `OK TICKET <leader> <invitee> [key]`, the answer to a good `CHECK`.
    fn valid(leader: &str, invitee: &str, key: Option<&&str>) -> Result<Reply, ParseError> {
        Ok(Reply::Valid {
            leader: parse_name(leader)?,
            invitee: parse_name(invitee)?,
            leader_key: parse_key(key)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tests::*;
    use crate::wire::*;

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
                key: None,
            },
        );
        check(
            "NAME alice",
            Request::Name {
                name: "alice".into(),
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
                    key: None,
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
                key: None,
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
            ("JOIN alice s3cret", "JOIN <name> <password> <port> [key]"),
            ("join a b c d e", "JOIN <name> <password> <port> [key]"),
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
        // A tab separates words, as a space does.
        check_err::<Request>("HELP\tme", "ERR BAD_ARGS usage: HELP");
        // A word that could be a password is not repeated back.
        check_err::<Request>("hunter2", "ERR UNKNOWN_COMMAND unknown command; try HELP");
        check_err::<Request>(
            "JOINX a b 1",
            "ERR UNKNOWN_COMMAND unknown command JOINX; try HELP",
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
            "REGISTER alice pass\u{7}".to_string(),
            "JOIN alice abc 5000".to_string(),
        ] {
            check_err::<Request>(&line, BAD_PASSWORD);
        }
        // The password is checked before the port.
        check_err::<Request>("JOIN alice abc 0", BAD_PASSWORD);
    }

    /// However a `REGISTER` or `JOIN` is spelled (tabs, no-break spaces,
    /// several spaces, lower case, words missing, extra or swapped), what
    /// the parser says back never holds the password, and neither does the
    /// line as the trace prints it.
    #[test]
    fn no_error_echoes_a_password() {
        let pw = "Tr0ub4dor";
        let lines = [
            format!("JOIN\talice\t{pw}\t5000"),
            format!("register\u{a0}alice\u{a0}{pw}"),
            format!("JOIN\u{a0}alice\u{a0}{pw}\u{a0}5000"),
            format!("  join   alice   {pw}   5000  "),
            format!("JOIN alice {pw}"),
            format!("JOIN {pw}"),
            format!("REGISTER {pw}"),
            format!("JOIN alice {pw} 5000 extra"),
            format!("REGISTER alice {pw} extra"),
            format!("JOIN alice 5000 {pw}"),
            format!("JOIN\u{2003}alice\u{2003}{pw}\u{2003}x"),
            format!("JOIN\u{a0}alice {pw}\t5000"),
            format!("JOINX alice {pw} 5000"),
            pw.to_string(),
            format!("JOIN_{pw} alice"),
            format!("\tREGISTER alice {pw}"),
        ];
        for line in &lines {
            if let Err(err) = line.parse::<Request>() {
                assert!(!err.to_string().contains(pw), "{line:?} -> {err}");
            }
            assert!(!redact(line).contains(pw), "{line:?} -> {}", redact(line));
        }
        // Spelled with other blanks, the request is read as meant.
        for line in &lines[..4] {
            let request: Request = line.parse().unwrap();
            assert!(matches!(
                request,
                Request::Join { .. } | Request::Register { .. }
            ));
        }
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
                "ERR BAD_PORT the port must be a number from 1 to 65535",
            );
        }
    }

    #[test]
    fn redacted_request() {
        let join = Request::Join {
            name: "alice".into(),
            password: "s3cret".into(),
            port: 5000,
            key: None,
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
        check("OK NAME_FREE alice", Reply::NameFree("alice".into()));
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
                leader_key: None,
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
            "ERR BAD_ARGS expected <name> <ip> <port> [key]",
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
            "OK JOINED bob 1.2.3.4 5 6 7",
            "ERR BAD_ARGS expected <name> <ip> <port> [key]",
        );
        check_err::<Reply>("OK JOINED bob 1.2.3.4 5 6", BAD_KEY);
        check_err::<Reply>("USER bob host 5", "ERR BAD_ARGS host is not an IP address");
        check_err::<Reply>("USER b!b 1.2.3.4 5", BAD_NAME);
        check_err::<Reply>(
            "OK USER bob 1.2.3.4 0",
            "ERR BAD_PORT the port must be a number from 1 to 65535",
        );
        check_err::<Reply>("OK REGISTERED b@d", BAD_NAME);
        check_err::<Reply>(
            "OK TICKET ab-c",
            "ERR BAD_TICKET a ticket is 1 to 64 letters and digits",
        );
        check_err::<Reply>("OK TICKET alice b!b", BAD_NAME);
        check_err::<Reply>(
            "OK TICKET a b c d",
            "ERR BAD_ARGS not a registry reply: OK TICKET a b c d",
        );
        check_err::<Reply>("OK TICKET a b c", BAD_KEY);
    }

    #[test]
    fn too_many_attempts_carries_its_seconds() {
        let reply = Reply::too_many_attempts(42, AttemptLimit::Address);
        check(&reply.to_string(), reply.clone());
        assert_eq!(reply.retry_after(), Some(42));
        assert_eq!(reply.attempt_limit(), Some(AttemptLimit::Address));
        assert_eq!(
            reply.to_string(),
            "ERR TOO_MANY_ATTEMPTS 42 ADDRESS too many failed joins from this address; try again in 42 s"
        );
        let reply = Reply::too_many_attempts(5, AttemptLimit::Name);
        assert_eq!(reply.attempt_limit(), Some(AttemptLimit::Name));
        assert_eq!(reply.retry_after(), Some(5));
        // What an older registry sends: the seconds, but not which limit.
        let old: Reply = "ERR TOO_MANY_ATTEMPTS 60 too many failed joins for this name or address"
            .parse()
            .unwrap();
        assert_eq!((old.retry_after(), old.attempt_limit()), (Some(60), None));
        let reply = Reply::too_many_registrations(9);
        check(&reply.to_string(), reply.clone());
        assert_eq!(reply.retry_after(), Some(9));
        assert_eq!(reply.attempt_limit(), Some(AttemptLimit::Address));
        for (line, secs) in [
            ("ERR TOO_MANY_ATTEMPTS 7 wait", Some(7)),
            ("ERR TOO_MANY_ATTEMPTS soon", None),
            ("ERR TOO_MANY_ATTEMPTS", None),
            ("ERR BAD_CREDENTIALS 7 wait", None),
            ("OK HELLO", None),
        ] {
            assert_eq!(
                line.parse::<Reply>().unwrap().retry_after(),
                secs,
                "{line:?}"
            );
        }
    }

    const BAD_KEY: &str =
        "ERR BAD_KEY a key is two 43-character base64 words joined by a dot, as the peer prints it";

    /// A key word rides last on `JOIN`, `USER`, `OK USER`, `OK JOINED` and
    /// `OK TICKET`, and round-trips; without it each line reads as before.
    #[test]
    fn keys_ride_as_the_last_word() {
        let word = crate::wire::key::tests::key_word('A', 'z');
        let key: KeyWord = word.parse().unwrap();
        check(
            &format!("JOIN alice s3cret 5000 {word}"),
            Request::Join {
                name: "alice".into(),
                password: "s3cret".into(),
                port: 5000,
                key: Some(key.clone()),
            },
        );
        let keyed = |name: &str, ip: &str, port| Contact {
            away: None,
            key: Some(key.clone()),
            ..contact(name, ip, port)
        };
        check(
            &format!("USER bob 10.0.0.2 6000 {word}"),
            Reply::Row(keyed("bob", "10.0.0.2", 6000)),
        );
        check(
            &format!("OK USER bob ::1 6000 {word}"),
            Reply::Found(keyed("bob", "::1", 6000)),
        );
        check(
            &format!("OK JOINED alice 127.0.0.1 5000 {word}"),
            Reply::Joined(keyed("alice", "127.0.0.1", 5000)),
        );
        check(
            &format!("OK TICKET alice bob {word}"),
            Reply::Valid {
                leader: "alice".into(),
                invitee: "bob".into(),
                leader_key: Some(key.clone()),
            },
        );
        check_loose(
            &format!("join  alice s3cret 5000   {word} "),
            Request::Join {
                name: "alice".into(),
                password: "s3cret".into(),
                port: 5000,
                key: Some(key.clone()),
            },
            &format!("JOIN alice s3cret 5000 {word}"),
        );
        // A last word that is no key is refused as one, never taken for
        // something else.
        check_err::<Request>("JOIN alice s3cret 5000 notakey", BAD_KEY);
        check_err::<Reply>("USER bob 10.0.0.2 6000 notakey", BAD_KEY);
        check_err::<Reply>("OK TICKET alice bob notakey", BAD_KEY);
        check_err::<Reply>(
            &format!("OK TICKET alice bob {word} extra"),
            &format!("ERR BAD_ARGS not a registry reply: OK TICKET alice bob {word} extra"),
        );
        // The password is still checked before the key, and the trace
        // shows the key but never the password.
        check_err::<Request>(&format!("JOIN alice abc 5000 {word}"), BAD_PASSWORD);
        let join = Request::Join {
            name: "alice".into(),
            password: "s3cret".into(),
            port: 5000,
            key: Some(key),
        };
        assert_eq!(join.redacted(), format!("JOIN alice **** 5000 {word}"));
    }

    /// `AWAY [text]` and `BACK` at the registry, and a listed user's away
    /// text after everything else on its `USER` line, which a line without
    /// it still reads as before.
    #[test]
    fn away_rides_last() {
        check("AWAY out to  lunch", Request::Away("out to  lunch".into()));
        check("AWAY", Request::Away(String::new()));
        check("BACK", Request::Back);
        check_loose("away   lunch", Request::Away("lunch".into()), "AWAY lunch");
        check_loose("AWAY   ", Request::Away(String::new()), "AWAY");
        check_err::<Request>("BACK now", "ERR BAD_ARGS usage: BACK");
        check_err::<Request>(
            &format!("AWAY {}", "x".repeat(MAX_AWAY + 1)),
            "ERR TEXT_TOO_LONG an away text is at most 120 bytes",
        );
        check_err::<Request>(
            "AWAY a\u{1b}[2J",
            "ERR BAD_TEXT message text must not hold control or bidi characters (U+001B)",
        );
        check("OK AWAY lunch", Reply::Away("lunch".into()));
        check("OK AWAY", Reply::Away(String::new()));
        check("OK BACK", Reply::Back);
        let away = |text: &str| Contact {
            away: Some(text.into()),
            ..contact("erin", "10.0.0.5", 6000)
        };
        check(
            "USER erin 10.0.0.5 6000 AWAY lunch",
            Reply::Row(away("lunch")),
        );
        check("USER erin 10.0.0.5 6000 AWAY", Reply::Row(away("")));
        check(
            "OK USER erin 10.0.0.5 6000 AWAY at  the dentist",
            Reply::Found(away("at  the dentist")),
        );
        let word = crate::wire::key::tests::key_word('A', 'z');
        let keyed = Contact {
            key: Some(word.parse().unwrap()),
            ..away("lunch")
        };
        check(
            &format!("USER erin 10.0.0.5 6000 {word} AWAY lunch"),
            Reply::Row(keyed),
        );
        // A user called AWAY is a name, not an away text.
        check(
            "USER AWAY 10.0.0.5 6000",
            Reply::Row(contact("AWAY", "10.0.0.5", 6000)),
        );
        check_err::<Reply>(
            "USER erin 10.0.0.5 6000 AWAY a\u{7}",
            "ERR BAD_TEXT message text must not hold control or bidi characters (U+0007)",
        );
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
}
