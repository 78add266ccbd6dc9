//! The chat requests a leader has out: who was invited, and at whose
//! request. A plain type with bounds, so that neither the leader nor a
//! member asking again and again can grow it without limit.
//!
//! The requests sent when a lobby starts go to the whole conversation list
//! and are not bounded here; those sent while it runs are.

use std::time::{Duration, Instant};

use crate::wire::ErrorCode;

/// The most invitations a running lobby may have waiting for an answer.
pub(super) const MAX_WAITING: usize = 16;
/// The most of those one member may have asked for.
pub(super) const MAX_ASKED_BY_ONE: usize = 3;

/// One chat request that has no answer yet.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Waiting {
    name: String,
    /// Who asked for it: the leader's own name when the leader typed it.
    asked_by: String,
    /// When it was asked for: the invitee's answer window runs from about
    /// then.
    since: Instant,
}

/// The chat requests of one lobby that have no answer yet.
#[derive(Debug, Default)]
pub(super) struct Invitations {
    waiting: Vec<Waiting>,
}

impl Invitations {
    /// The requests sent when the lobby starts, all asked by `leader`.
    pub(super) fn started(leader: &str, names: &[String], now: Instant) -> Invitations {
        Invitations {
            waiting: names
                .iter()
                .map(|name| Waiting {
                    name: name.clone(),
                    asked_by: leader.to_string(),
                    since: now,
                })
                .collect(),
        }
    }

    /// Who is still being asked, oldest first, each with about how long
    /// the invitee has left to answer in a `window` that began when the
    /// request was asked for.
    pub(super) fn still_asked(&self, window: Duration, now: Instant) -> Vec<(&str, Duration)> {
        self.waiting
            .iter()
            .map(|w| {
                let spent = now.saturating_duration_since(w.since);
                (w.name.as_str(), window.saturating_sub(spent))
            })
            .collect()
    }

    pub(super) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// May `asked_by` have `name` invited now? The `ERR` code and text
    /// (for a member) or sentence (for the leader) if not.
    pub(super) fn check(&self, name: &str, asked_by: &str) -> Result<(), (ErrorCode, String)> {
        if self
            .waiting
            .iter()
            .any(|w| w.name.eq_ignore_ascii_case(name))
        {
            return Err((
                ErrorCode::AlreadyInvited,
                format!("{name} has been invited already; wait for the answer"),
            ));
        }
        if self.waiting.len() >= MAX_WAITING {
            return Err((
                ErrorCode::TooManyInvites,
                format!("{MAX_WAITING} invitations are waiting for an answer already"),
            ));
        }
        let mine = self
            .waiting
            .iter()
            .filter(|w| w.asked_by.eq_ignore_ascii_case(asked_by))
            .count();
        if mine >= MAX_ASKED_BY_ONE {
            return Err((
                ErrorCode::TooManyInvites,
                format!("{asked_by} has {MAX_ASKED_BY_ONE} invitations waiting already"),
            ));
        }
        Ok(())
    }

    /// Records a request that went out.
    pub(super) fn sent(&mut self, name: &str, asked_by: &str, now: Instant) {
        self.waiting.push(Waiting {
            name: name.to_string(),
            asked_by: asked_by.to_string(),
            since: now,
        });
    }

    /// The answer to `name`'s request came (or never will).
    pub(super) fn answered(&mut self, name: &str) {
        // The registry may spell the name otherwise than it was typed.
        let at = self
            .waiting
            .iter()
            .position(|w| w.name.eq_ignore_ascii_case(name));
        if let Some(at) = at {
            self.waiting.remove(at);
        }
    }
}

/// A time left, in whole seconds as people say it: rounded, so that a
/// window of 30 s read a moment after it began still says 30.
pub(super) fn in_seconds(left: Duration) -> String {
    let secs = (left.as_millis() + 500) / 1000;
    match secs {
        1 => "1 second".to_string(),
        n => format!("{n} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(invitations: &Invitations, name: &str, by: &str, expected: Result<(), ErrorCode>) {
        assert_eq!(
            invitations.check(name, by).map_err(|(code, _)| code),
            expected,
            "{by} asks for {name}"
        );
    }

    #[test]
    fn one_request_per_name_and_bounds_per_asker_and_lobby() {
        let mut invitations = Invitations::started("alice", &["bob".into()], Instant::now());
        check(&invitations, "bob", "carol", Err(ErrorCode::AlreadyInvited));
        check(&invitations, "BOB", "alice", Err(ErrorCode::AlreadyInvited));
        for i in 0..MAX_ASKED_BY_ONE {
            check(&invitations, &format!("c{i}"), "carol", Ok(()));
            invitations.sent(&format!("c{i}"), "carol", Instant::now());
        }
        check(
            &invitations,
            "dave",
            "carol",
            Err(ErrorCode::TooManyInvites),
        );
        check(&invitations, "dave", "erin", Ok(()));
        invitations.answered("c0");
        check(&invitations, "dave", "carol", Ok(()));
        invitations.answered("nobody");
        assert_eq!(invitations.len(), 1 + MAX_ASKED_BY_ONE - 1);
    }

    #[test]
    fn the_lobby_has_a_bound_too() {
        let names: Vec<String> = (0..MAX_WAITING).map(|i| format!("n{i}")).collect();
        let mut invitations = Invitations::started("alice", &names, Instant::now());
        // The start is not bounded; what comes later is.
        check(&invitations, "x", "bob", Err(ErrorCode::TooManyInvites));
        invitations.answered("n3");
        check(&invitations, "x", "bob", Ok(()));
        invitations.sent("x", "bob", Instant::now());
        assert_eq!(invitations.len(), MAX_WAITING);
    }

    #[test]
    fn who_is_still_asked_and_how_long_they_have() {
        let t0 = Instant::now();
        let secs = Duration::from_secs;
        let mut invitations = Invitations::started("alice", &["bob".into()], t0);
        invitations.sent("carol", "alice", t0 + secs(10));
        let left = |at| invitations.still_asked(secs(30), t0 + at);
        assert_eq!(left(secs(0)), [("bob", secs(30)), ("carol", secs(30))]);
        assert_eq!(left(secs(12)), [("bob", secs(18)), ("carol", secs(28))]);
        // Past the window nothing is left, never less than nothing.
        assert_eq!(left(secs(35)), [("bob", secs(0)), ("carol", secs(5))]);
        assert_eq!(in_seconds(Duration::from_millis(29_700)), "30 seconds");
        assert_eq!(in_seconds(Duration::from_millis(700)), "1 second");
        invitations.answered("BOB");
        assert_eq!(
            invitations.still_asked(secs(30), t0 + secs(20)),
            [("carol", secs(20))]
        );
    }
}
