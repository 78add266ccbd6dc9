//! The seat's side of a member's way back, in plain text: a peer that
//! holds a seat in a lobby (its leader, or a member that may come to lead)
//! answers `PROVE <nonce>` with `PROOF`, its signature over both nonces,
//! and hands the `REJOIN` that follows to the app, with the nonces, for the
//! hub to check the member's own signature.
//!
//! It runs on the chat connection's thread, which writes this socket alone
//! until it hands the connection on; it asks the app, never its state.

use std::time::Instant;

use crossbeam_channel::{Sender, bounded};

use crate::conn::{Conn, Stream};
use crate::crypto::Identity;
use crate::crypto::proof::Nonce;
use crate::lobby::Proven;
use crate::lobby::roster::{self, Nonces};
use crate::wire::{ErrorCode, Rejoin, Succession, ToMember, ToSeat};

use super::first_line::{FirstLine, read_first_line};
use super::msg::Event;

/// Answers a member's `PROVE <member>`: `PROOF` if we hold a seat, then
/// its `REJOIN` goes to the app; `ERR NOT_LEADER` if we hold none.
pub(super) fn answer(
    mut conn: Conn<Stream, String, ToMember>,
    member: Nonce,
    identity: &Identity,
    events: &Sender<Event>,
    deadline: Instant,
    stopping: impl Fn() -> bool,
) {
    let (reply, seat) = bounded(1);
    if events.send(Event::Prove { reply }).is_err() {
        return;
    }
    let seat = seat.recv_deadline(deadline).ok().flatten();
    let (Some((lobby, me)), Ok(leader)) = (seat, Nonce::random()) else {
        let refused = ToMember::Err(ErrorCode::NotLeader, "I hold no seat in a lobby".into());
        let _ = conn.send(&refused);
        return;
    };
    let nonces = Nonces { member, leader };
    let proof = prove_seat(identity, lobby, &me, nonces);
    if conn.send(&ToMember::Succession(proof)).is_err() {
        return;
    }
    let Some(claim) = await_rejoin(&mut conn, deadline, stopping) else {
        return;
    };
    let proven = Proven::Exchange { leader: me, nonces };
    let _ = events.send(Event::Rejoin {
        claim: Box::new(claim),
        proven: Box::new(proven),
        conn: conn.retype(),
    });
}

/// Our `PROOF` that we hold `me`'s seat in `lobby`: our signature over
/// both nonces.
fn prove_seat(identity: &Identity, lobby: String, me: &str, nonces: Nonces) -> Succession {
    let sig = roster::prove_seat(identity.signing_key(), &lobby, me, nonces);
    Succession::Proof {
        lobby,
        name: me.to_owned(),
        nonce: nonces.leader,
        sig,
    }
}

/// The member's `REJOIN`, which must come next; any other line is
/// answered `ERR BAD_ARGS`, and nothing comes of the connection.
fn await_rejoin(
    conn: &mut Conn<Stream, String, ToMember>,
    deadline: Instant,
    stopping: impl Fn() -> bool,
) -> Option<Rejoin> {
    let Ok(FirstLine::Line(line)) = read_first_line(conn, deadline, stopping) else {
        return None;
    };
    let Ok(ToSeat::Rejoin(claim)) = line.parse::<ToSeat>() else {
        let err = ToMember::Err(ErrorCode::BadArgs, "expected REJOIN".into());
        let _ = conn.send(&err);
        return None;
    };
    Some(claim)
}
