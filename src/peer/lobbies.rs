//! The lobby hubs the driver keeps for the core, by the core's number for
//! each: the `Lobby` handle, its own notices channel, and the flag that
//! stops its inviters. It carries out each `LobbyCommand` and returns the
//! hub's answer at once (the hub always reads its control inbox).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, bounded, never};

use crate::lobby::{Lobby, Notice};

use super::FEED_CAPACITY;
use super::effect::{LobbyAnswer, LobbyCommand, LogId};
use super::links::Links;

/// One hub the core leads (or led, until it is closed or handed on).
struct Led {
    lobby: Lobby,
    /// This lobby's notices, and no other's.
    notices: Receiver<Notice>,
    /// Set when the lobby ends or is handed on: its inviters give up.
    cancel: Arc<AtomicBool>,
}

impl Led {
    /// Stops the inviters, then ends the hub (`Lobby`'s drop closes it).
    fn end(self) -> Vec<Notice> {
        self.cancel.store(true, Ordering::SeqCst);
        let unnoticed = self.lobby.close(crate::wire::CloseReason::LeaderLeft);
        self.notices.try_iter().chain(unnoticed).collect()
    }
}

/// The hubs, by the core's lobby number.
#[derive(Default)]
pub(super) struct Lobbies {
    led: HashMap<u64, Led>,
}

impl Lobbies {
    /// Carries out `command` for lobby `id`; returns the hub's answer, if
    /// the command has one.
    pub(super) fn carry(
        &mut self,
        id: u64,
        command: LobbyCommand,
        conns: &mut Links,
    ) -> Option<LobbyAnswer> {
        if let LobbyCommand::Start {
            config,
            inheritance,
        } = command
        {
            return Some(self.start(id, *config, inheritance));
        }
        if let LobbyCommand::Close { reason, log } = command {
            let led = self.led.remove(&id)?;
            led.cancel.store(true, Ordering::SeqCst);
            let unnoticed = led.lobby.close(reason);
            let notices = led.notices.try_iter().chain(unnoticed).collect();
            return Some(LobbyAnswer::Closed { log, notices });
        }
        if let LobbyCommand::Leave { log } = command {
            return self.leave(id, log);
        }
        if let LobbyCommand::Handover(to) = command {
            return Some(self.handover(id, to));
        }
        let led = self.led.get(&id)?;
        ask(id, &led.lobby, command, conns)
    }

    fn start(
        &mut self,
        id: u64,
        config: crate::lobby::LobbyConfig,
        inheritance: Option<crate::lobby::Inheritance>,
    ) -> LobbyAnswer {
        // A channel of its own, bounded: nothing of this lobby can show up
        // in the next, and a flood waits in TCP rather than in memory.
        let (notices, notices_rx) = bounded(FEED_CAPACITY);
        let started = match inheritance {
            Some(inheritance) => Lobby::resume(config, notices, inheritance),
            None => Lobby::start(config, notices),
        };
        let result = match started {
            Ok(lobby) => {
                let lobby_id = lobby.id().map(str::to_string);
                let led = Led {
                    lobby,
                    notices: notices_rx,
                    cancel: Arc::default(),
                };
                if let Some(old) = self.led.insert(id, led) {
                    old.end();
                }
                Ok(lobby_id)
            }
            Err(err) => Err(err.to_string()),
        };
        LobbyAnswer::Started { lobby: id, result }
    }

    fn handover(&mut self, id: u64, to: Option<String>) -> LobbyAnswer {
        let result = match self.led.get_mut(&id) {
            Some(led) => led.lobby.handover(to),
            None => Err("the lobby has ended".to_string()),
        };
        if result.is_ok()
            && let Some(led) = self.led.remove(&id)
        {
            led.cancel.store(true, Ordering::SeqCst);
        }
        LobbyAnswer::Handed { lobby: id, result }
    }

    /// The leader leaves lobby `id`: its hub hands it on or ends it, and
    /// is joined.
    fn leave(&mut self, id: u64, log: Option<LogId>) -> Option<LobbyAnswer> {
        let led = self.led.remove(&id)?;
        led.cancel.store(true, Ordering::SeqCst);
        let (to, unnoticed) = led.lobby.leave();
        let notices = led.notices.try_iter().chain(unnoticed).collect();
        Some(LobbyAnswer::Left { log, to, notices })
    }

    /// The notices of lobby `id`, if the driver keeps it; `never` otherwise.
    pub(super) fn notices(&self, id: Option<u64>) -> Receiver<Notice> {
        id.and_then(|id| self.led.get(&id))
            .map_or_else(never, |led| led.notices.clone())
    }

    /// The flag that stops lobby `id`'s inviters; one already set if the
    /// lobby is gone.
    pub(super) fn cancel(&self, id: u64) -> Arc<AtomicBool> {
        match self.led.get(&id) {
            Some(led) => led.cancel.clone(),
            None => Arc::new(AtomicBool::new(true)),
        }
    }

    /// Ends every hub but `in_use`, the one the core's stage leads.
    pub(super) fn keep_only(&mut self, in_use: Option<u64>) {
        let gone: Vec<u64> = self
            .led
            .keys()
            .copied()
            .filter(|id| Some(*id) != in_use)
            .collect();
        for id in gone {
            if let Some(led) = self.led.remove(&id) {
                led.end();
            }
        }
    }
}

/// Carries out a command the hub takes through its control inbox; returns
/// its answer, if it has one.
fn ask(id: u64, lobby: &Lobby, command: LobbyCommand, conns: &mut Links) -> Option<LobbyAnswer> {
    let answer = match command {
        LobbyCommand::Members(what) => LobbyAnswer::Members {
            lobby: id,
            what,
            names: lobby.members(),
        },
        LobbyCommand::Tell { to, text } => LobbyAnswer::Told {
            lobby: id,
            result: lobby.tell(to, text.clone()),
            text,
        },
        LobbyCommand::Kick { name, reason } => LobbyAnswer::Kicked {
            lobby: id,
            found: lobby.kick(name.clone(), reason),
            name,
        },
        LobbyCommand::File { to, line } => LobbyAnswer::FileSent {
            lobby: id,
            result: lobby.tell_file(to, line.clone()).map(|name| {
                let seat = lobby.seat(&name).map(|(_, seat)| seat);
                (name, seat)
            }),
            line,
        },
        other => {
            tell(lobby, other, conns);
            return None;
        }
    };
    Some(answer)
}

/// Carries out a command the hub does not answer.
fn tell(lobby: &Lobby, command: LobbyCommand, conns: &mut Links) {
    match command {
        LobbyCommand::Say(text) => lobby.say(text),
        LobbyCommand::Away(away) => lobby.set_away(away),
        LobbyCommand::Invitation { name, status } => lobby.invitation(name, status),
        LobbyCommand::Refuse { to, code, text } => lobby.refuse(to, code, text),
        LobbyCommand::Admit { name, conn } => {
            if let Some((conn, Some((addr, key)))) = conns.take_member(conn) {
                lobby.admit_from(name, addr, key, conn);
            }
        }
        LobbyCommand::Rejoin {
            claim,
            proven,
            conn,
        } => {
            if let Some((conn, _)) = conns.take_member(conn) {
                lobby.rejoin(*claim, *proven, conn);
            }
        }
        LobbyCommand::Start { .. }
        | LobbyCommand::Close { .. }
        | LobbyCommand::Leave { .. }
        | LobbyCommand::Handover(_)
        | LobbyCommand::Members(_)
        | LobbyCommand::Tell { .. }
        | LobbyCommand::File { .. }
        | LobbyCommand::Kick { .. } => {}
    }
}
