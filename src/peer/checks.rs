//! A chat request's ticket, checked by the registry without the app thread
//! waiting: the check is a `RegistryAsk::Check` for the registry worker,
//! and its verdict comes back as `RegistryReply::Checked`. Meanwhile the
//! user is not asked, and the app goes on with the keyboard, the lobby and
//! other requests.

use crossbeam_channel::Sender;

use crate::client::{Refused, Vouched};
use crate::wire::BusyReason;

use super::app::App;
use super::effect::Effect;
use super::msg::{ChatAnswer, RegistryAsk};
use super::stage::{Pending, Stage, Wait};

/// The most tickets checked at once; a request beyond that is answered
/// busy, so a flood of requests cannot queue checks without bound.
const MAX_CHECKS: usize = 8;

impl App {
    /// A chat request arrived: busy unless the user is at a menu with no
    /// other request open; rejected at once if it carries no ticket;
    /// otherwise its ticket goes to the registry.
    pub(super) fn on_invitation(
        &mut self,
        from: String,
        ticket: Option<String>,
        answer: Sender<ChatAnswer>,
    ) {
        let busy = match self.busy() {
            None if self.checking.len() >= MAX_CHECKS => Some(BusyReason::Answering),
            busy => busy,
        };
        if let Some(reason) = busy {
            let _ = answer.send(ChatAnswer::Busy(reason));
            return;
        }
        // Only a request the user would be asked about needs its
        // ticket checked; a busy answer tells a forger nothing.
        let Some(ticket) = ticket else {
            let why = "it carried no ticket from the registry".to_string();
            return self.refuse_forged(&from, &answer, &why);
        };
        self.next_request += 1;
        let request = self.next_request;
        self.out.push(Effect::ToRegistry(RegistryAsk::Check {
            request,
            from: from.clone(),
            ticket,
        }));
        self.checking.push((request, Pending { from, answer }));
    }

    /// The registry's verdict on request `request`: the user is asked if
    /// the ticket holds and nothing else took the user meanwhile.
    pub(super) fn on_checked(
        &mut self,
        request: u64,
        from: String,
        verdict: Result<Vouched, Refused>,
    ) {
        let Some(at) = self.checking.iter().position(|(r, _)| *r == request) else {
            // Withdrawn meanwhile, or the peer is quitting.
            return;
        };
        let (_, Pending { answer, .. }) = self.checking.remove(at);
        if let Err(why) = judge(&from, &self.my_name(), verdict) {
            return self.refuse_forged(&from, &answer, &why);
        }
        if let Some(reason) = self.busy() {
            let _ = answer.send(ChatAnswer::Busy(reason));
            return;
        }
        self.pending = Some(Pending { from, answer });
        self.prompt();
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
            | Stage::Waiting(Wait::LogIn(..)) => Some(BusyReason::Unsaid),
        }
    }

    /// Rejects a request whose ticket does not hold, and warns the user.
    fn refuse_forged(&mut self, from: &str, answer: &Sender<ChatAnswer>, why: &str) {
        let _ = answer.send(ChatAnswer::Reject);
        let warning =
            format!("Warning: refused a chat request claiming to be from '{from}': {why}.");
        if self.warn(warning) {
            self.prompt();
        }
    }
}

/// Whether the registry's `verdict` on a ticket lets `from` invite `me`;
/// why not, if not.
fn judge(from: &str, me: &str, verdict: Result<Vouched, Refused>) -> Result<(), String> {
    match verdict {
        Ok(Vouched { leader, invitee })
            if leader.eq_ignore_ascii_case(from) && invitee.eq_ignore_ascii_case(me) =>
        {
            Ok(())
        }
        Ok(Vouched { leader, .. }) => Err(format!("its ticket was issued to '{leader}'")),
        Err(Refused::Err(_, text)) => Err(format!("the registry says {text}")),
        Err(Refused::Link(err)) => Err(format!("its ticket could not be checked ({err})")),
        Err(other) => Err(format!("the registry answered strangely: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ErrorCode;

    #[track_caller]
    fn check(verdict: Result<Vouched, Refused>, expected: Result<(), &str>) {
        let got = judge("alice", "bob", verdict);
        assert_eq!(got, expected.map_err(str::to_string));
    }

    #[test]
    fn a_ticket_holds_only_for_its_leader_and_invitee() {
        let vouched = |leader: &str, invitee: &str| {
            Ok(Vouched {
                leader: leader.into(),
                invitee: invitee.into(),
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
}
