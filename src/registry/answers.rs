//! What the registry hub answers, as domain results (`join` gives a
//! `Result<Contact, JoinRefused>`, and so on), and the one place that
//! turns each into its wire reply.
//!
//! The hub and the connection threads decide on these types; the text of
//! a reply is for people and is never matched by code. This module does no
//! I/O and knows no socket.

use crate::wire::{AttemptLimit, ErrorCode, KeyWord, Reply};

/// Why a JOIN did not put its user online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum JoinRefused {
    /// No such user, or not its password: the two are not told apart.
    BadCredentials,
    /// Too many failed JOINs for the name or from the address.
    Throttled { wait_secs: u64, limit: AttemptLimit },
    /// The database failed; the hub logged why.
    Database,
    /// Hashing failed, for this reason.
    Hashing(String),
    /// The hub has told the connection to close, so the JOIN was not acted
    /// on: the connection answers `BYE` instead.
    Closing,
}

/// Why a REGISTER was refused before its password was hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TooManyRegistrations {
    pub(super) wait_secs: u64,
}

/// Why NAME did not say that a name is free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum NameRefused {
    /// Someone has it, spelled so.
    Taken(String),
    /// Too many NAMEs from this address: each tells whether an account
    /// exists, so they are counted as REGISTERs are, apart from them.
    Throttled {
        wait_secs: u64,
    },
    Database,
}

impl From<NameRefused> for Reply {
    fn from(refused: NameRefused) -> Reply {
        match refused {
            NameRefused::Taken(name) => err(
                ErrorCode::NameTaken,
                format!("the name {name} is taken; pick another"),
            ),
            NameRefused::Throttled { wait_secs } => err(
                ErrorCode::TooManyAttempts,
                format!(
                    "{wait_secs} ADDRESS too many name checks from this address; try again in {wait_secs} s"
                ),
            ),
            NameRefused::Database => database(),
        }
    }
}

/// Why SEARCH found nobody to reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SearchRefused {
    /// Registered under this spelling, but not online.
    Offline(String),
    /// Nobody is registered under this name.
    NotRegistered(String),
    Database,
}

/// Why INVITE issued no ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum InviteFailed {
    NotJoined,
    /// The invitee cannot be reached.
    Invitee(SearchRefused),
    Yourself,
    /// The leader holds this many unused tickets already, the most allowed.
    TooMany(usize),
    /// The system gave no random numbers for the ticket.
    NoRandomness,
}

/// A ticket CHECK vouches for: who invited whom, and the key the leader
/// is online with (none if it joined without one, or is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Vouched {
    pub(super) leader: String,
    pub(super) invitee: String,
    pub(super) leader_key: Option<KeyWord>,
}

impl From<Vouched> for Reply {
    fn from(vouched: Vouched) -> Reply {
        Reply::Valid {
            leader: vouched.leader,
            invitee: vouched.invitee,
            leader_key: vouched.leader_key,
        }
    }
}

/// Why the key a JOIN announces is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyRefused {
    /// The word has a key's shape but holds no valid key.
    NotAKey,
    /// Under TLS a peer announces only the key it proved in the handshake:
    /// this one is not its client certificate's (or it announced none).
    NotTheCertificates,
}

impl From<KeyRefused> for Reply {
    fn from(refused: KeyRefused) -> Reply {
        match refused {
            KeyRefused::NotAKey => err(ErrorCode::BadKey, "that is not a valid public key"),
            KeyRefused::NotTheCertificates => err(
                ErrorCode::BadKey,
                "the key in JOIN is not the key of this connection's certificate",
            ),
        }
    }
}

/// Why `AWAY` or `BACK` changed nothing: the connection holds no user
/// online (it was replaced, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AwayRefused;

impl From<AwayRefused> for Reply {
    fn from(_: AwayRefused) -> Reply {
        not_joined()
    }
}

/// Why CHECK did not vouch for a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CheckRefused {
    NotJoined,
    /// Unknown, used, expired or for someone else: not told apart.
    BadTicket,
}

fn err(code: ErrorCode, text: impl Into<String>) -> Reply {
    Reply::Err(code, text.into())
}

/// The reply when the hub has stopped, or the connection is closing.
pub(super) fn stopping() -> Reply {
    err(ErrorCode::Internal, "the server is stopping")
}

fn database() -> Reply {
    err(
        ErrorCode::Internal,
        "the registry database failed; try again",
    )
}

fn not_joined() -> Reply {
    err(ErrorCode::NotJoined, "JOIN first")
}

impl From<JoinRefused> for Reply {
    fn from(refused: JoinRefused) -> Reply {
        match refused {
            JoinRefused::BadCredentials => {
                err(ErrorCode::BadCredentials, "wrong user name or password")
            }
            JoinRefused::Throttled { wait_secs, limit } => {
                Reply::too_many_attempts(wait_secs, limit)
            }
            JoinRefused::Database => database(),
            JoinRefused::Hashing(why) => err(ErrorCode::Internal, why),
            JoinRefused::Closing => stopping(),
        }
    }
}

impl From<TooManyRegistrations> for Reply {
    fn from(refused: TooManyRegistrations) -> Reply {
        Reply::too_many_registrations(refused.wait_secs)
    }
}

impl From<SearchRefused> for Reply {
    fn from(refused: SearchRefused) -> Reply {
        match refused {
            SearchRefused::Offline(name) => err(ErrorCode::Offline, format!("{name} is offline")),
            SearchRefused::NotRegistered(name) => {
                err(ErrorCode::NotFound, format!("{name} is not registered"))
            }
            SearchRefused::Database => database(),
        }
    }
}

impl From<InviteFailed> for Reply {
    fn from(failed: InviteFailed) -> Reply {
        match failed {
            InviteFailed::NotJoined => not_joined(),
            InviteFailed::Invitee(refused) => refused.into(),
            InviteFailed::Yourself => err(ErrorCode::BadArgs, "you cannot invite yourself"),
            InviteFailed::TooMany(max) => err(
                ErrorCode::TooManyInvites,
                format!(
                    "you hold {max} unused tickets already; wait for them to be used or to expire"
                ),
            ),
            InviteFailed::NoRandomness => {
                err(ErrorCode::Internal, "cannot make a ticket; try again")
            }
        }
    }
}

impl From<CheckRefused> for Reply {
    fn from(refused: CheckRefused) -> Reply {
        match refused {
            CheckRefused::NotJoined => not_joined(),
            CheckRefused::BadTicket => err(
                ErrorCode::BadTicket,
                "that ticket is unknown, used, expired or not for you",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(reply: impl Into<Reply>, expected: &str) {
        assert_eq!(reply.into().to_string(), expected);
    }

    #[test]
    fn every_refusal_has_its_wire_reply() {
        check(
            JoinRefused::BadCredentials,
            "ERR BAD_CREDENTIALS wrong user name or password",
        );
        check(
            JoinRefused::Throttled {
                wait_secs: 7,
                limit: AttemptLimit::Name,
            },
            "ERR TOO_MANY_ATTEMPTS 7 NAME too many failed joins for this name; try again in 7 s",
        );
        check(JoinRefused::Closing, "ERR INTERNAL the server is stopping");
        check(
            NameRefused::Taken("Alice".into()),
            "ERR NAME_TAKEN the name Alice is taken; pick another",
        );
        check(
            NameRefused::Throttled { wait_secs: 4 },
            "ERR TOO_MANY_ATTEMPTS 4 ADDRESS too many name checks from this address; try again in 4 s",
        );
        check(
            TooManyRegistrations { wait_secs: 3 },
            "ERR TOO_MANY_ATTEMPTS 3 ADDRESS too many registrations from this address; try again in 3 s",
        );
        check(
            SearchRefused::Offline("Bob".into()),
            "ERR OFFLINE Bob is offline",
        );
        check(
            InviteFailed::Invitee(SearchRefused::NotRegistered("zed".into())),
            "ERR NOT_FOUND zed is not registered",
        );
        check(InviteFailed::NotJoined, "ERR NOT_JOINED JOIN first");
        check(
            CheckRefused::BadTicket,
            "ERR BAD_TICKET that ticket is unknown, used, expired or not for you",
        );
    }
}
