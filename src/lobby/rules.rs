//! Who may do what in a lobby, as plain functions over the names in it: a
//! member's request to invite someone, and the addressee of a private
//! message. The hub calls them and does the I/O; they never touch a socket.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::wire::ErrorCode;

/// Who may have the leader's peer invite someone into a running lobby
/// (`--invites`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvitePolicy {
    /// `anyone`: a member's `/invite` is carried out by the leader's peer.
    #[default]
    Anyone,
    /// `leader`: only the leader's own `/invite` is; members are told so.
    Leader,
}

impl fmt::Display for InvitePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvitePolicy::Anyone => "anyone",
            InvitePolicy::Leader => "leader",
        })
    }
}

impl FromStr for InvitePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "anyone" => Ok(InvitePolicy::Anyone),
            "leader" => Ok(InvitePolicy::Leader),
            _ => Err(format!("{s} is not a policy; say anyone or leader")),
        }
    }
}

/// Why the hub refuses what a member asked: the `ERR` it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) code: ErrorCode,
    pub(super) text: String,
}

fn refuse(code: ErrorCode, text: String) -> Refusal {
    Refusal { code, text }
}

/// How many `INVITE` lines one member may send per `ASK_WINDOW`, whatever
/// becomes of them: each that gets through costs the leader's peer two
/// registry requests, and each that is refused a line on the leader's screen.
pub(super) const MAX_ASKS: u32 = 5;
pub(super) const ASK_WINDOW: Duration = Duration::from_secs(60);

/// One member's invite requests in the current window.
#[derive(Debug, Default)]
pub(super) struct Asks {
    since: Option<Instant>,
    count: u32,
}

impl Asks {
    /// Counts a request made at `now`; false if it is one too many. A
    /// window that has passed starts a new one.
    pub(super) fn allow(&mut self, now: Instant) -> bool {
        match self.since {
            Some(since) if now.duration_since(since) < ASK_WINDOW => {}
            _ => {
                self.since = Some(now);
                self.count = 0;
            }
        }
        if self.count >= MAX_ASKS {
            return false;
        }
        self.count += 1;
        true
    }
}

/// The refusal of a request over `MAX_ASKS`.
pub(super) fn too_many_asks() -> Refusal {
    refuse(
        ErrorCode::TooManyInvites,
        format!(
            "at most {MAX_ASKS} invite requests a member per {} seconds",
            ASK_WINDOW.as_secs()
        ),
    )
}

/// The refusal of an `AWAY` or `BACK` over `MAX_ASKS` in a window: each
/// is relayed to everyone, so a member may not flood the lobby with them.
pub(super) fn too_many_away_changes() -> Refusal {
    refuse(
        ErrorCode::TooManyAttempts,
        format!(
            "at most {MAX_ASKS} away changes a member per {} seconds",
            ASK_WINDOW.as_secs()
        ),
    )
}

/// The one of `everyone` (the leader first) who is `name`, ignoring case as
/// the registry does, spelled as the lobby knows them.
pub(super) fn find<'a>(everyone: &[&'a str], name: &str) -> Option<&'a str> {
    everyone
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .copied()
}

/// May the member `asker` have `name` invited? `everyone` is the lobby, the
/// leader first. A yes still leaves the leader's peer its own bounds
/// (`peer::invitations`).
pub(super) fn may_ask_invite(
    policy: InvitePolicy,
    everyone: &[&str],
    name: &str,
) -> Result<(), Refusal> {
    if policy == InvitePolicy::Leader {
        let leader = everyone.first().copied().unwrap_or("the leader");
        return Err(refuse(
            ErrorCode::LeaderOnly,
            format!("only the leader invites in this lobby; ask {leader}"),
        ));
    }
    if let Some(there) = find(everyone, name) {
        return Err(refuse(
            ErrorCode::AlreadyInLobby,
            format!("{there} is in this lobby already"),
        ));
    }
    Ok(())
}

/// Where a private message from `from` to `to` goes: the leader (index 0)
/// or a member (index 1 and on) of `everyone`.
pub(super) fn private_to<'a>(
    everyone: &[&'a str],
    from: &str,
    to: &str,
) -> Result<(usize, &'a str), Refusal> {
    let Some(at) = everyone.iter().position(|n| n.eq_ignore_ascii_case(to)) else {
        return Err(refuse(
            ErrorCode::NotInLobby,
            format!("{to} is not in this lobby"),
        ));
    };
    if everyone[at].eq_ignore_ascii_case(from) {
        return Err(refuse(
            ErrorCode::BadArgs,
            "a private message to yourself goes nowhere".to_string(),
        ));
    }
    Ok((at, everyone[at]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOBBY: &[&str] = &["alice", "bob", "carol"];

    #[track_caller]
    fn check_invite(policy: InvitePolicy, name: &str, expected: Result<(), ErrorCode>) {
        let got = may_ask_invite(policy, LOBBY, name).map_err(|r| r.code);
        assert_eq!(got, expected, "{policy} asks for {name}");
    }

    #[test]
    fn who_members_may_have_invited() {
        check_invite(InvitePolicy::Anyone, "dave", Ok(()));
        check_invite(
            InvitePolicy::Anyone,
            "carol",
            Err(ErrorCode::AlreadyInLobby),
        );
        check_invite(
            InvitePolicy::Anyone,
            "ALICE",
            Err(ErrorCode::AlreadyInLobby),
        );
        check_invite(InvitePolicy::Leader, "dave", Err(ErrorCode::LeaderOnly));
        check_invite(InvitePolicy::Leader, "carol", Err(ErrorCode::LeaderOnly));
        let refusal = may_ask_invite(InvitePolicy::Leader, LOBBY, "dave").unwrap_err();
        assert_eq!(
            refusal.text,
            "only the leader invites in this lobby; ask alice"
        );
    }

    #[track_caller]
    fn check_private(from: &str, to: &str, expected: Result<(usize, &str), ErrorCode>) {
        let got = private_to(LOBBY, from, to).map_err(|r| r.code);
        assert_eq!(got, expected, "{from} -> {to}");
    }

    #[test]
    fn where_private_messages_go() {
        check_private("bob", "carol", Ok((2, "carol")));
        check_private("bob", "Carol", Ok((2, "carol")));
        check_private("bob", "alice", Ok((0, "alice")));
        check_private("alice", "bob", Ok((1, "bob")));
        check_private("bob", "dave", Err(ErrorCode::NotInLobby));
        check_private("bob", "BOB", Err(ErrorCode::BadArgs));
        check_private("alice", "alice", Err(ErrorCode::BadArgs));
    }

    #[test]
    fn a_member_asks_at_most_so_often() {
        let t0 = Instant::now();
        let mut asks = Asks::default();
        for i in 0..MAX_ASKS {
            assert!(
                asks.allow(t0 + Duration::from_secs(u64::from(i))),
                "ask {i}"
            );
        }
        assert!(!asks.allow(t0 + Duration::from_secs(10)));
        assert!(!asks.allow(t0 + ASK_WINDOW - Duration::from_millis(1)));
        // A passed window wipes the slate.
        assert!(asks.allow(t0 + ASK_WINDOW));
        for _ in 1..MAX_ASKS {
            assert!(asks.allow(t0 + ASK_WINDOW));
        }
        assert!(!asks.allow(t0 + ASK_WINDOW));
    }

    #[test]
    fn policies_read_as_written() {
        for policy in [InvitePolicy::Anyone, InvitePolicy::Leader] {
            assert_eq!(policy.to_string().parse(), Ok(policy));
        }
        assert_eq!("LEADER".parse(), Ok(InvitePolicy::Leader));
        assert!("members".parse::<InvitePolicy>().is_err());
    }
}
