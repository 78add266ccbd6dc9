//! A chat request's ticket, checked by the registry without the app thread
//! waiting: the check is a `RegistryAsk::Check` for the registry worker,
//! and its verdict comes back as `RegistryReply::Checked`. Meanwhile the
//! user is not asked, and the app goes on with the keyboard, the lobby and
//! other requests.

use crate::client::{Refused, Vouched};
use crate::crypto::{IdentityKey, PeerKey};
use crate::wire::BusyReason;

use super::app::App;
use super::effect::{Answer, ChatRequest, Effect};
use super::invitations::in_seconds;
use super::msg::RegistryAsk;
use super::stage::{Pending, Stage, Wait};
use super::tls::{LinkError, proved_key_is};

/// The most tickets checked at once; a request beyond that is answered
/// busy, so a flood of requests cannot queue checks without bound.
const MAX_CHECKS: usize = 8;

impl App {
    /// A chat request arrived: busy unless the user is at a menu with no
    /// other request open; rejected at once if it carries no ticket;
    /// otherwise its ticket goes to the registry.
    pub(super) fn on_invitation(&mut self, asked: ChatRequest) {
        let ChatRequest {
            request,
            from,
            ticket,
            proved,
        } = asked;
        let busy = match self.busy() {
            None if self.checking.len() >= MAX_CHECKS => Some(BusyReason::Answering),
            busy => busy,
        };
        if let Some(reason) = busy {
            return self.answer_busy(request, &from, reason);
        }
        // Only a request the user would be asked about needs its
        // ticket checked; a busy answer tells a forger nothing.
        let Some(ticket) = ticket else {
            let why = "it carried no ticket from the registry".to_string();
            return self.refuse_forged(&from, request, &why);
        };
        self.out.push(Effect::ToRegistry(RegistryAsk::Check {
            request,
            from: from.clone(),
            ticket,
        }));
        self.checking.push(Pending {
            request,
            from,
            proved,
            arrived: self.now.at,
        });
    }

    /// The registry's verdict on request `request`: the user is asked if
    /// the ticket holds and nothing else took the user meanwhile.
    pub(super) fn on_checked(
        &mut self,
        request: u64,
        from: String,
        verdict: Result<Vouched, Refused>,
    ) {
        let Some(at) = self.checking.iter().position(|c| c.request == request) else {
            // Withdrawn meanwhile, or the peer is quitting.
            return;
        };
        let Pending {
            proved, arrived, ..
        } = self.checking.remove(at);
        if let Err(why) = judge(&from, &self.my_name(), proved, verdict) {
            return self.refuse_forged(&from, request, &why);
        }
        if let Some(reason) = self.busy() {
            return self.answer_busy(request, &from, reason);
        }
        self.pending = Some(Pending {
            request,
            from,
            proved,
            arrived,
        });
        self.prompt();
        // The window is ours (`--invite-timeout`): the request is withdrawn
        // when it ends, or sooner if the leader gives up first.
        let spent = self.now.at.saturating_duration_since(arrived);
        let left = self.config.invite_timeout.saturating_sub(spent);
        self.say(format!("You have {} to answer.", in_seconds(left)));
    }

    /// Answers busy; one that came while the user was in a chat or asked
    /// about another request is told to the user back at the menu.
    fn answer_busy(&mut self, request: u64, from: &str, reason: BusyReason) {
        if reason != BusyReason::Unsaid {
            self.missed.busy(from, self.now.utc);
        }
        self.answer(request, Answer::Busy(reason));
    }

    /// Tells the user, back at the menu with no question open, of the
    /// requests answered busy meanwhile.
    pub(super) fn tell_missed(&mut self) {
        if !matches!(self.stage, Stage::Menu) || self.pending.is_some() {
            return;
        }
        for line in self.missed.take() {
            self.notice(line);
        }
    }

    /// Why the user cannot be asked about a chat request now, if not.
    fn busy(&self) -> Option<BusyReason> {
        if self.pending.is_some() {
            return Some(BusyReason::Answering);
        }
        match self.stage {
            Stage::Menu
            | Stage::Search
            | Stage::ConfirmAdd(_)
            | Stage::Waiting(Wait::List | Wait::Search) => None,
            Stage::Starting(_) | Stage::Leading(_) | Stage::Member(_) => Some(BusyReason::InChat),
            Stage::Welcome
            | Stage::Name(_)
            | Stage::Password(..)
            | Stage::Repeat { .. }
            | Stage::Waiting(Wait::LogIn(..) | Wait::NameFree(_)) => Some(BusyReason::Unsaid),
        }
    }

    /// Rejects a request whose ticket does not hold, and warns the user.
    fn refuse_forged(&mut self, from: &str, request: u64, why: &str) {
        self.answer(request, Answer::Reject);
        let warning =
            format!("Warning: refused a chat request claiming to be from '{from}': {why}.");
        // The question is the same: a stranger's requests, however many,
        // make no line the user is typing stale.
        if self.warn(warning) {
            self.remind();
        }
    }
}

/// Whether the registry's `verdict` on a ticket lets `from` invite `me`,
/// and whether the key `from` proved in the TLS handshake (`proved`; none
/// in plain text) is the one the registry vouches for; why not, if not.
fn judge(
    from: &str,
    me: &str,
    proved: Option<IdentityKey>,
    verdict: Result<Vouched, Refused>,
) -> Result<(), String> {
    match verdict {
        Ok(Vouched {
            leader,
            invitee,
            leader_key,
        }) if leader.eq_ignore_ascii_case(from) && invitee.eq_ignore_ascii_case(me) => {
            let vouched = leader_key.and_then(|word| word.as_str().parse::<PeerKey>().ok());
            proved_key_is(proved, vouched.as_ref()).map_err(|err| match err {
                LinkError::NoKey(_) => "the registry vouches for no key of it".to_string(),
                err => err.to_string(),
            })
        }
        Ok(Vouched { leader, .. }) => Err(format!("its ticket was issued to '{leader}'")),
        Err(Refused::Err(_, text)) => Err(format!("the registry says {text}")),
        Err(Refused::Link(err)) => Err(format!("its ticket could not be checked ({err})")),
        Err(other) => Err(format!("its ticket could not be checked: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ErrorCode;

    #[track_caller]
    fn check(verdict: Result<Vouched, Refused>, expected: Result<(), &str>) {
        let got = judge("alice", "bob", None, verdict);
        assert_eq!(got, expected.map_err(str::to_string));
    }

    #[test]
    fn a_ticket_holds_only_for_its_leader_and_invitee() {
        let vouched = |leader: &str, invitee: &str| {
            Ok(Vouched {
                leader: leader.into(),
                invitee: invitee.into(),
                leader_key: None,
            })
        };
        check(vouched("alice", "bob"), Ok(()));
        check(vouched("ALICE", "Bob"), Ok(()));
        check(
            vouched("mallory", "bob"),
            Err("its ticket was issued to 'mallory'"),
        );
        check(
            vouched("alice", "carol"),
            Err("its ticket was issued to 'alice'"),
        );
        check(
            Err(Refused::Err(ErrorCode::BadTicket, "no such ticket".into())),
            Err("the registry says no such ticket"),
        );
    }

    /// Under TLS the leader's proved key must be the one CHECK vouches for.
    #[test]
    fn the_leaders_proved_key_must_be_the_vouched_one() {
        let alice = crate::crypto::Identity::generate().unwrap().public();
        let mallory = crate::crypto::Identity::generate().unwrap().public();
        let vouched = |key: Option<&PeerKey>| {
            Ok(Vouched {
                leader: "alice".into(),
                invitee: "bob".into(),
                leader_key: key.map(|key| key.to_string().parse().unwrap()),
            })
        };
        let judged = |proved: Option<&PeerKey>, key: Option<&PeerKey>| {
            judge("alice", "bob", proved.map(|p| p.identity), vouched(key))
        };
        assert_eq!(judged(Some(&alice), Some(&alice)), Ok(()));
        // Plain text: nothing proved, nothing to compare.
        assert_eq!(judged(None, Some(&alice)), Ok(()));
        assert_eq!(judged(None, None), Ok(()));
        assert_eq!(
            judged(Some(&mallory), Some(&alice)),
            Err(format!(
                "it presented the key {}, not {}, the one vouched for: someone may be posing as it",
                mallory.identity.fingerprint(),
                alice.identity.fingerprint()
            ))
        );
        assert_eq!(
            judged(Some(&alice), None),
            Err("the registry vouches for no key of it".to_string())
        );
    }
}
