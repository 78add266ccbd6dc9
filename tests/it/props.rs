//! Properties of the protocol code, over generated input: framing and
//! parsing never panic whatever arrives, every valid message survives a trip
//! through its text form, and redaction always hides the password.

use std::io::{self, BufReader, Read};
use std::net::IpAddr;
use std::str::FromStr;

use p2pchat::line::{Frame, LineReader};
use p2pchat::wire::{
    self, BusyReason, ByeReason, CloseReason, Contact, ErrorCode, InviteStatus, KeyWord,
    LeftReason, MAX_LINE, MAX_TEXT, ParseError, Reply, Request, ToLeader, ToMember,
};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// `value` formats to a line that parses back to `value`.
fn round_trips<T>(value: &T) -> Result<(), TestCaseError>
where
    T: FromStr<Err = ParseError> + std::fmt::Display + std::fmt::Debug + PartialEq,
{
    let line = value.to_string();
    let parsed = line.parse::<T>();
    prop_assert_eq!(parsed.as_ref(), Ok(value), "via {:?}", line);
    Ok(())
}

/// Whatever `line` is, parsing it does not panic, and if it parses, the
/// value formats to a line that parses to the same value.
fn parses_sanely<T>(line: &str) -> Result<(), TestCaseError>
where
    T: FromStr<Err = ParseError> + std::fmt::Display + std::fmt::Debug + PartialEq,
{
    if let Ok(value) = line.parse::<T>() {
        round_trips(&value)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Framing

/// A reader that hands out at most `chunk` bytes per read.
struct Chunked<'a> {
    bytes: &'a [u8],
    chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.bytes.len().min(self.chunk).min(out.len());
        out[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// What `read_frame` should give for `input`, up to and including the
/// first `TooLong` (after which the caller closes the connection): each
/// complete line as `decode_line` judges it, then for a partial last line
/// `TooLong` if it is already too long to be a line, else `Eof`.
fn model_frames(input: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let partial = pieces.pop().unwrap_or(&[]);
    for piece in pieces {
        let frame = match wire::decode_line(piece) {
            Ok(line) => Frame::Line(line.to_string()),
            Err(wire::LineError::BadEncoding) => Frame::BadEncoding,
            Err(wire::LineError::TooLong) => Frame::TooLong,
        };
        let stop = frame == Frame::TooLong;
        frames.push(frame);
        if stop {
            return frames;
        }
    }
    frames.push(if partial.len() > MAX_LINE + 1 {
        Frame::TooLong
    } else {
        Frame::Eof
    });
    frames
}

/// Input that comes near the framing rules: short runs of any bytes, runs
/// close to the length limit, carriage returns and newlines.
fn framing_input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..16),
        1 => (MAX_LINE - 2..MAX_LINE + 4).prop_map(|n| vec![b'a'; n]),
        2 => Just(b"\r\n".to_vec()),
        2 => Just(b"\n".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => Just("é".as_bytes().to_vec()),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decode_line_takes_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..1100)) {
        match wire::decode_line(&raw) {
            Ok(line) => {
                prop_assert!(line.len() <= MAX_LINE);
                let without_cr = raw.strip_suffix(b"\r").unwrap_or(&raw);
                prop_assert_eq!(line.as_bytes(), without_cr);
            }
            Err(wire::LineError::TooLong) => prop_assert!(raw.len() > MAX_LINE),
            Err(wire::LineError::BadEncoding) => {
                prop_assert!(std::str::from_utf8(&raw).is_err());
            }
        }
    }

    #[test]
    fn read_frame_takes_any_bytes_in_any_pieces(
        input in framing_input(),
        chunk in 1usize..40,
        capacity in 1usize..64,
    ) {
        let reader = BufReader::with_capacity(capacity, Chunked { bytes: &input, chunk });
        let mut reader = LineReader::new(reader, MAX_LINE);
        let mut frames = Vec::new();
        loop {
            let frame = reader.read_frame().expect("reading from memory does not fail");
            if let Frame::Line(line) = &frame {
                prop_assert!(line.len() <= MAX_LINE, "a frame of {} bytes", line.len());
            }
            let done = matches!(frame, Frame::Eof | Frame::TooLong);
            frames.push(frame);
            if done {
                break;
            }
            prop_assert!(frames.len() <= input.len() + 1, "more frames than bytes");
        }
        prop_assert_eq!(frames, model_frames(&input));
    }

    #[test]
    fn any_text_parses_without_panicking(line in any::<String>()) {
        parses_sanely::<Request>(&line)?;
        parses_sanely::<Reply>(&line)?;
        parses_sanely::<ToMember>(&line)?;
        parses_sanely::<ToLeader>(&line)?;
    }

    /// Text made of the protocol's own words, so that more of it parses.
    #[test]
    fn protocol_like_text_parses_sanely(line in protocol_like_line()) {
        parses_sanely::<Request>(&line)?;
        parses_sanely::<Reply>(&line)?;
        parses_sanely::<ToMember>(&line)?;
        parses_sanely::<ToLeader>(&line)?;
    }
}

fn protocol_like_line() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("OK".to_string()),
        Just("ERR".to_string()),
        Just("REGISTER".to_string()),
        Just("join".to_string()),
        Just("TICKET".to_string()),
        Just("USER".to_string()),
        Just("MSG".to_string()),
        Just("CHAT_REQUEST".to_string()),
        Just("MEMBERS".to_string()),
        Just("CLOSED".to_string()),
        Just("LIST".to_string()),
        Just("HELP".to_string()),
        Just("BYE".to_string()),
        Just("BAD_ARGS".to_string()),
        Just("127.0.0.1".to_string()),
        Just("::1".to_string()),
        Just("5000".to_string()),
        Just("0".to_string()),
        name(),
        "[ -~]{0,6}",
    ];
    let separator = prop_oneof![Just(" "), Just("  "), Just("\t"), Just("")];
    proptest::collection::vec((word, separator), 0..6).prop_map(|words| {
        words
            .into_iter()
            .map(|(word, separator)| format!("{word}{separator}"))
            .collect()
    })
}

// ---------------------------------------------------------------------------
// Valid messages round-trip

fn name() -> impl Strategy<Value = String> {
    // No leading dot; the rare Windows device name (`CON`, `com1.x`) that
    // this still makes is left out.
    "[A-Za-z0-9_-][A-Za-z0-9_.-]{0,31}"
        .prop_filter("a device name", |name| wire::check_name(name).is_ok())
}

/// 4 to 128 characters, none of them a space or a control character.
fn password() -> impl Strategy<Value = String> {
    prop_oneof!["[!-~]{4,128}", "[^\\s\\p{C}]{4,40}",]
}

fn port() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn ticket() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9a-f]{32}", "[A-Za-z0-9]{1,64}"]
}

/// Text that `wire::check_text` accepts.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[!-~][ -~]{0,60}",
        "[^ \\r\\n][^\\r\\n]{0,60}",
        "x{900,950}"
    ]
    .prop_filter("check_text accepts it", |text| {
        wire::check_text(text).is_ok()
    })
}

/// Free text after a keyword: no line break, no leading space.
fn free_text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[^ \\r\\n][^\\r\\n]{0,40}"]
}

fn ip() -> impl Strategy<Value = IpAddr> {
    any::<IpAddr>()
}

/// A public key word, or none (a JOIN typed by hand).
fn key() -> impl Strategy<Value = Option<KeyWord>> {
    proptest::option::of(
        "[A-Za-z0-9+/]{43}\\.[A-Za-z0-9+/]{43}".prop_map(|word| word.parse().unwrap()),
    )
}

fn contact() -> impl Strategy<Value = Contact> {
    (
        name(),
        ip(),
        port(),
        key(),
        proptest::option::of(away_text()),
    )
        .prop_map(|(name, ip, port, key, away)| Contact {
            name,
            ip,
            port,
            key,
            away,
        })
}

/// An away text that `wire::check_away` accepts: none, or a short text.
fn away_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        text().prop_map(|text| {
            let mut end = text.len().min(wire::MAX_AWAY);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text[..end].to_string()
        })
    ]
}

const ERROR_CODES: &[ErrorCode] = &[
    ErrorCode::NameTaken,
    ErrorCode::BadName,
    ErrorCode::BadPassword,
    ErrorCode::BadCredentials,
    ErrorCode::BadPort,
    ErrorCode::AlreadyJoined,
    ErrorCode::NotJoined,
    ErrorCode::UnknownCommand,
    ErrorCode::BadArgs,
    ErrorCode::BadEncoding,
    ErrorCode::LineTooLong,
    ErrorCode::Offline,
    ErrorCode::NotFound,
    ErrorCode::TextTooLong,
    ErrorCode::TooManyAttempts,
    ErrorCode::ServerFull,
    ErrorCode::BadTicket,
    ErrorCode::TooManyInvites,
    ErrorCode::Internal,
    ErrorCode::NotInLobby,
    ErrorCode::LeaderOnly,
    ErrorCode::AlreadyInLobby,
    ErrorCode::AlreadyInvited,
    ErrorCode::BadKey,
];

fn error_code() -> impl Strategy<Value = ErrorCode> {
    proptest::sample::select(ERROR_CODES)
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (name(), password()).prop_map(|(name, password)| Request::Register { name, password }),
        (name(), password(), port(), key()).prop_map(|(name, password, port, key)| {
            Request::Join {
                name,
                password,
                port,
                key,
            }
        }),
        Just(Request::Hello),
        Just(Request::List),
        name().prop_map(|name| Request::Search { name }),
        name().prop_map(|name| Request::Invite { name }),
        ticket().prop_map(|ticket| Request::Check { ticket }),
        away_text().prop_map(Request::Away),
        Just(Request::Back),
        Just(Request::Logout),
        Just(Request::Help),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        name().prop_map(Reply::Registered),
        contact().prop_map(Reply::Joined),
        Just(Reply::Hello),
        any::<usize>().prop_map(Reply::List),
        contact().prop_map(Reply::Row),
        contact().prop_map(Reply::Found),
        ticket().prop_map(Reply::Ticket),
        (name(), name(), key()).prop_map(|(leader, invitee, leader_key)| Reply::Valid {
            leader,
            invitee,
            leader_key
        }),
        Just(Reply::LoggedOut),
        away_text().prop_map(Reply::Away),
        Just(Reply::Back),
        free_text().prop_map(Reply::Help),
        (error_code(), free_text()).prop_map(|(code, text)| Reply::Err(code, text)),
        proptest::sample::select(
            &[ByeReason::Shutdown, ByeReason::Timeout, ByeReason::Replaced][..]
        )
        .prop_map(Reply::Bye),
    ]
}

fn to_member() -> impl Strategy<Value = ToMember> {
    prop_oneof![
        (name(), proptest::option::of(ticket()))
            .prop_map(|(leader, ticket)| ToMember::ChatRequest { leader, ticket }),
        proptest::collection::vec(name(), 1..8).prop_map(ToMember::Members),
        name().prop_map(ToMember::Joined),
        (name(), text()).prop_map(|(from, text)| ToMember::Msg { from, text }),
        (
            name(),
            proptest::sample::select(
                &[
                    LeftReason::Left,
                    LeftReason::Lost,
                    LeftReason::Silent,
                    LeftReason::Slow,
                    LeftReason::TooLong,
                    LeftReason::Kicked,
                ][..]
            )
        )
            .prop_map(|(name, reason)| ToMember::Left { name, reason }),
        "[^ \\r\\n][^\\r\\n]{0,30}"
            .prop_map(|reason| ToMember::Closed(CloseReason::from(reason.as_str()))),
        (error_code(), free_text()).prop_map(|(code, text)| ToMember::Err(code, text)),
        Just(ToMember::Hello),
        (0i64..4_102_444_800, name(), text()).prop_flat_map(|(secs, from, text)| {
            let at = chrono::DateTime::from_timestamp(secs, 0).expect("a time in range");
            let pieces: Vec<String> = wire::history_pieces(&text)
                .into_iter()
                .map(str::to_string)
                .collect();
            proptest::sample::select(pieces).prop_map(move |text| ToMember::History {
                at,
                from: from.clone(),
                text,
            })
        }),
        (name(), text()).prop_map(|(from, text)| ToMember::Private { from, text }),
        (name(), proptest::option::of(reason()))
            .prop_map(|(name, reason)| ToMember::Kicked { name, reason }),
        (name(), invite_status()).prop_map(|(name, status)| ToMember::Invitation { name, status }),
        proptest::option::of(reason())
            .prop_map(|reason| ToMember::Closed(CloseReason::Kicked(reason))),
        (name(), away_text()).prop_map(|(name, text)| ToMember::Away { name, text }),
        name().prop_map(ToMember::Back),
    ]
}

/// A kick's reason that `wire::check_reason` accepts.
fn reason() -> impl Strategy<Value = String> {
    text().prop_map(|text| {
        let mut end = text.len().min(wire::MAX_REASON);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_string()
    })
}

fn invite_status() -> impl Strategy<Value = InviteStatus> {
    prop_oneof![
        name().prop_map(|by| InviteStatus::Sent { by }),
        Just(InviteStatus::Rejected),
        Just(InviteStatus::Busy),
        Just(InviteStatus::NoAnswer),
        Just(InviteStatus::Offline),
        Just(InviteStatus::Unreachable),
    ]
}

fn to_leader() -> impl Strategy<Value = ToLeader> {
    prop_oneof![
        Just(ToLeader::Accept(None)),
        Just(ToLeader::Reject),
        Just(ToLeader::Busy(BusyReason::Unsaid)),
        Just(ToLeader::Busy(BusyReason::Answering)),
        Just(ToLeader::Busy(BusyReason::InChat)),
        text().prop_map(ToLeader::Msg),
        Just(ToLeader::Leave),
        Just(ToLeader::Hello),
        name().prop_map(ToLeader::Invite),
        (name(), text()).prop_map(|(to, text)| ToLeader::Private { to, text }),
        away_text().prop_map(ToLeader::Away),
        Just(ToLeader::Back),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn requests_round_trip(request in request()) {
        round_trips(&request)?;
    }

    #[test]
    fn replies_round_trip(reply in reply()) {
        round_trips(&reply)?;
    }

    #[test]
    fn lines_to_members_round_trip(line in to_member()) {
        round_trips(&line)?;
    }

    #[test]
    fn lines_to_leaders_round_trip(line in to_leader()) {
        round_trips(&line)?;
    }

    /// Every line a leader sends fits in a line, so no member's framing
    /// ever ends a connection for a line the leader made.
    #[test]
    fn every_line_to_a_member_fits(line in to_member()) {
        let line = line.to_string();
        prop_assert!(line.len() <= MAX_LINE, "{} bytes", line.len());
    }

    /// A relayed message fits in a line whoever sent it.
    #[test]
    fn relayed_messages_fit_in_a_line(from in name(), text in text()) {
        prop_assert!(text.len() <= MAX_TEXT);
        let line = ToMember::Msg { from, text }.to_string();
        prop_assert!(line.len() <= MAX_LINE, "{} bytes", line.len());
        prop_assert!(wire::decode_line(line.as_bytes()).is_ok());
    }
}

// ---------------------------------------------------------------------------
// Redaction

/// A `REGISTER` or `JOIN` line as a person might type it (any case, extra
/// spaces), with its password.
#[derive(Debug, Clone)]
struct SecretLine {
    line: String,
    password: String,
    /// The line with `****` in place of the password.
    hidden: String,
    /// The request `hidden` stands for.
    request: Request,
}

fn secret_line() -> impl Strategy<Value = SecretLine> {
    let keyword = prop_oneof![
        Just("REGISTER"),
        Just("register"),
        Just("Register"),
        Just("JOIN"),
        Just("join"),
        Just("jOiN"),
    ];
    let gap = || " {1,3}";
    (
        keyword,
        name(),
        password(),
        port(),
        " {0,2}",
        (gap(), gap(), gap()),
        " {0,2}",
    )
        .prop_map(
            |(keyword, name, password, port, lead, (gap1, gap2, gap3), tail)| {
                let joining = keyword.eq_ignore_ascii_case("JOIN");
                let line = |secret: &str| {
                    if joining {
                        format!("{lead}{keyword}{gap1}{name}{gap2}{secret}{gap3}{port}{tail}")
                    } else {
                        format!("{lead}{keyword}{gap1}{name}{gap2}{secret}{tail}")
                    }
                };
                let request = if joining {
                    Request::Join {
                        name: name.clone(),
                        password: "****".into(),
                        port,
                        key: None,
                    }
                } else {
                    Request::Register {
                        name: name.clone(),
                        password: "****".into(),
                    }
                };
                SecretLine {
                    line: line(&password),
                    hidden: line("****"),
                    password,
                    request,
                }
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn redaction_hides_the_password(secret in secret_line()) {
        let shown = wire::redact(&secret.line);
        prop_assert_eq!(shown.as_ref(), secret.hidden.as_str());
        // Unless the password is also part of the name, the keyword or the
        // port, nothing of it is left.
        prop_assume!(!secret.hidden.contains(secret.password.as_str()));
        prop_assert!(!shown.contains(secret.password.as_str()), "{:?}", shown);
        // What is left is the same request, with `****` for a password.
        prop_assert_eq!(shown.parse::<Request>(), Ok(secret.request));
    }
}
