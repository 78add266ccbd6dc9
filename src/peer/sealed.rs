//! Private messages sealed to their recipient (`crypto::seal`, HPKE in
//! Auth mode): the text a `/msg` seals before it goes to the leader, and
//! what a sealed message that arrives says once opened. The leader relays
//! it without being able to read it or forge one; the binding (lobby id,
//! sender, recipient) keeps it from being passed off in another lobby or
//! as from someone else.
//!
//! Plain functions: no I/O, and the keys come from the caller.

use crate::crypto::PeerKey;
use crate::crypto::seal::{self, Binding, SealSecret, Sealed};
use crate::lobby::Roster;
use crate::wire::ParseError;

use super::render::{LobbyEvent, Seal};

/// `text` sealed by `me` to `to`'s seat key, if the roster has a seat for
/// `to`: its name as the lobby spells it, and the sealed text. `None` if
/// there is no seat (a member with no key), and `Err` if it does not fit.
pub(super) fn seal_for(
    secret: Option<&SealSecret>,
    roster: &Roster,
    me: &str,
    to: &str,
    text: &str,
) -> Option<Result<(String, Sealed), ParseError>> {
    let secret = secret?;
    let seat = roster.seat(to)?;
    if roster.lobby.is_empty() {
        return None;
    }
    let sealed = crate::lobby::seal_to(secret, &seat.key.seal, &roster.lobby, me, &seat.name, text);
    Some(sealed.map(|sealed| (seat.name.clone(), sealed)))
}

/// What a sealed message from `from` to `me` in `lobby` says, checked
/// against the sender's seat key: its text, verified, or why it did not
/// open (no seat for the sender, or not sealed by it for us).
pub(super) fn opened(
    secret: Option<&SealSecret>,
    lobby: &str,
    sender: Option<&PeerKey>,
    from: String,
    me: &str,
    sealed: &Sealed,
) -> LobbyEvent {
    let Some(secret) = secret else {
        let why = "this peer has no key to open it with".to_string();
        return LobbyEvent::Unopened { from, why };
    };
    let Some(sender) = sender else {
        let why = format!("{from} has no key in this lobby to check it with");
        return LobbyEvent::Unopened { from, why };
    };
    let binding = Binding {
        lobby,
        sender: &from,
        recipient: me,
    };
    match seal::open(secret, &sender.seal, &binding, sealed) {
        Ok(text) => LobbyEvent::Private {
            from,
            text,
            seal: Seal::Verified,
        },
        Err(err) => LobbyEvent::Unopened {
            from,
            why: err.to_string(),
        },
    }
}
