//! The registry hub: the one thread that owns presence (who is online, on
//! which connection: the truth LIST and SEARCH answer from), the sessions,
//! the throttles, the tickets, and a `Store` it reads accounts from.
//! Connection threads and the sweeper send it `RegistryEvent`s; an event
//! that needs an answer carries its reply channel. It never waits on the
//! disk to write: presence goes through the `PresenceWriter`, and new
//! accounts through the account writer, never the hub.
//!
//! Each request is handled in one method here, and `handle` only
//! dispatches. The hub never writes to a client's socket: to end a
//! connection it leaves the reason beside the socket and wakes the
//! connection's thread, which writes the `BYE`. It never hashes a password.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, bounded};

use super::RegistryConfig;
use super::ServerError;
use super::answers::{
    AwayRefused, CheckRefused, InviteFailed, JoinRefused, NameRefused, SearchRefused,
    TooManyRegistrations, Vouched,
};
use super::config::log_stamp;
use super::event::{Bye, RegistryEvent, Socket};
use super::presence::PresenceWriter;
use super::throttle::{JoinThrottle, Refusal, RegistrationThrottle};
use super::tickets::{InviteRefused, TicketBytes, Tickets};
use crate::db::{Account, DbError, Presence, Store};
use crate::wire::{AttemptLimit, ByeReason, Contact, KeyWord};

struct Session {
    addr: SocketAddr,
    socket: Arc<Socket>,
    last_active: Instant,
    /// A request of this connection is still being answered. The client
    /// spoke and is waiting, so it is not silent however long the answer
    /// takes (a JOIN queued behind other hashes on a busy machine).
    busy: bool,
    /// When the connection is closed unless it has joined by then; `None`
    /// once it has. Activity does not move it.
    join_by: Option<Instant>,
    /// Set once the hub has told this connection to close.
    kicked: bool,
    /// The key in `RegistryHub::online` of the user this connection holds
    /// online.
    user: Option<String>,
}

struct Online {
    session: u64,
    contact: Contact,
}

/// Sends an answer to whoever asked; one who has gone does not need it.
fn answer<T>(reply: Sender<T>, value: T) {
    let _ = reply.send(value);
}

/// The owner of the store and of presence.
pub(super) struct RegistryHub {
    store: Store,
    config: RegistryConfig,
    sessions: HashMap<u64, Session>,
    /// Keyed by the lower-case name, so LIST comes out sorted by name.
    online: BTreeMap<String, Online>,
    /// Brings the database up to date with `online`, off this thread.
    presence: PresenceWriter,
    /// The users heard from since the last sweep, whose `last_seen` the
    /// sweep hands the presence writer in one go.
    seen: HashSet<String>,
    tickets: Tickets,
    throttle: JoinThrottle,
    registrations: RegistrationThrottle,
    /// NAMEs per address, under the same limit as REGISTERs, counted apart.
    name_checks: RegistrationThrottle,
    shutting_down: bool,
}

impl RegistryHub {
    pub(super) fn new(
        store: Store,
        presence: PresenceWriter,
        config: RegistryConfig,
    ) -> RegistryHub {
        RegistryHub {
            store,
            presence,
            seen: HashSet::new(),
            tickets: Tickets::new(config.ticket_ttl, config.max_invites_per_user),
            throttle: JoinThrottle::new(config.throttle),
            registrations: RegistrationThrottle::new(config.registrations),
            name_checks: RegistrationThrottle::new(config.registrations),
            config,
            sessions: HashMap::new(),
            online: BTreeMap::new(),
            shutting_down: false,
        }
    }

    /// Handles events until every sender is gone, then marks everyone
    /// offline.
    pub(super) fn run(mut self, events: Receiver<RegistryEvent>) -> Result<(), ServerError> {
        for event in events {
            self.handle(event);
        }
        // The writer's last changes first, so none lands after this.
        self.presence.finish();
        self.store.set_all_offline()?;
        Ok(())
    }

    fn handle(&mut self, event: RegistryEvent) {
        use RegistryEvent as E;
        match event {
            E::Connected { id, addr, socket } => self.connected(id, addr, socket),
            E::Activity { id, busy } => self.touch(id, busy),
            E::NameFree { name, ip, reply } => answer(reply, self.name_free(&name, ip)),
            E::MayRegister { ip, reply } => answer(reply, self.may_register(ip)),
            E::Account { name, ip, reply } => answer(reply, self.account(&name, ip)),
            E::Invite { id, name, reply } => answer(reply, self.invite(id, &name)),
            E::JoinFailed { name, ip } => {
                self.log(format_args!(
                    "failed join for {name} from {ip}: wrong name or password"
                ));
            }
            E::Check { id, ticket, reply } => answer(reply, self.check(id, &ticket)),
            E::Join {
                id,
                ip,
                name,
                port,
                key,
                reply,
                done,
            } => answer(reply, self.join(id, ip, name, port, key, done)),
            E::List { reply } => answer(reply, self.list()),
            E::Search { name, reply } => answer(reply, self.search(&name)),
            E::Away { id, away, reply } => answer(reply, self.set_away(id, away)),
            E::Logout { id, reply, done } => {
                self.logout(id, done);
                answer(reply, ());
            }
            E::Disconnected { id } => self.disconnected(id),
            E::Sweep => self.sweep(Instant::now()),
            E::Shutdown => self.shutdown(),
        }
    }

    fn log(&self, what: fmt::Arguments<'_>) {
        if let Some(log) = &self.config.log {
            let _ = log.try_send(format!("{} {what}", log_stamp()));
        }
    }

    /// Logs a failure of the database, which the request it failed
    /// answers as such.
    fn log_db(&self, err: &DbError) {
        if let Some(log) = &self.config.log {
            let _ = log.try_send(format!("{} error: {err}", log_stamp()));
        }
    }

    fn connected(&mut self, id: u64, addr: SocketAddr, socket: Arc<Socket>) {
        let now = Instant::now();
        self.sessions.insert(
            id,
            Session {
                addr,
                socket,
                last_active: now,
                busy: false,
                join_by: Some(now + self.config.join_timeout),
                kicked: false,
                user: None,
            },
        );
        if self.shutting_down {
            self.kick(id, ByeReason::Shutdown);
        }
    }

    fn touch(&mut self, id: u64, busy: bool) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        session.last_active = Instant::now();
        session.busy = busy;
        if let Some(online) = session.user.as_ref().and_then(|key| self.online.get(key)) {
            // Batched: one last_seen write per user per sweep, not per line.
            if !self.seen.contains(&online.contact.name) {
                self.seen.insert(online.contact.name.clone());
            }
        }
    }

    /// Whether `name` is free, if `ip` may ask now: the answer tells
    /// anyone which names exist, so it is counted per address.
    fn name_free(&mut self, name: &str, ip: IpAddr) -> Result<(), NameRefused> {
        self.name_checks
            .attempt(ip, Instant::now())
            .map_err(|wait_secs| NameRefused::Throttled { wait_secs })?;
        match self.store.account(name) {
            Ok(None) => Ok(()),
            Ok(Some(account)) => Err(NameRefused::Taken(account.name)),
            Err(err) => {
                self.log_db(&err);
                Err(NameRefused::Database)
            }
        }
    }

    fn may_register(&mut self, ip: IpAddr) -> Result<(), TooManyRegistrations> {
        self.registrations
            .attempt(ip, Instant::now())
            .map_err(|wait_secs| TooManyRegistrations { wait_secs })
    }

    /// The account a JOIN may check its password against, unless the
    /// throttle refuses the attempt.
    fn account(&mut self, name: &str, ip: IpAddr) -> Result<Option<Account>, JoinRefused> {
        if let Err(refused) = self.throttle.attempt(name, ip, Instant::now()) {
            let Refusal {
                wait_secs,
                limit,
                first,
            } = refused;
            // One line per lockout: a guesser's every refused try would
            // otherwise fill the log.
            if first {
                let which = match limit {
                    AttemptLimit::Name => "this name",
                    AttemptLimit::Address => "this address",
                };
                self.log(format_args!(
                    "refused a join for {name} from {ip}: {which} is locked out for {wait_secs} s \
                     more after too many failures (further refusals until then are not logged)"
                ));
            }
            return Err(JoinRefused::Throttled { wait_secs, limit });
        }
        self.store.account(name).map_err(|err| {
            self.log_db(&err);
            JoinRefused::Database
        })
    }

    fn join(
        &mut self,
        id: u64,
        ip: IpAddr,
        name: String,
        port: u16,
        public_key: Option<KeyWord>,
        done: Sender<()>,
    ) -> Result<Contact, JoinRefused> {
        self.throttle.succeeded(&name, ip);
        // A connection told to close (it timed out while its password was
        // being checked, say) must not put its user online on the way out.
        let Some(session) = self.sessions.get_mut(&id).filter(|s| !s.kicked) else {
            return Err(JoinRefused::Closing);
        };
        let addr = session.addr;
        let key = name.to_lowercase();
        session.user = Some(key.clone());
        session.join_by = None;
        let contact = Contact {
            name,
            ip: addr.ip().to_canonical(),
            port,
            key: public_key,
            away: None,
        };
        self.hold_online(id, key, contact.clone());
        self.presence
            .send(online(&contact, addr.port()), Some(done));
        let (name, ip) = (&contact.name, contact.ip);
        self.log(format_args!("{name} online at {ip} port {port}"));
        Ok(contact)
    }

    /// Puts the user `key` online on connection `id`, and tells the
    /// connection that held the user before, if another, to go.
    fn hold_online(&mut self, id: u64, key: String, contact: Contact) {
        let previous = self.online.insert(
            key,
            Online {
                session: id,
                contact,
            },
        );
        // Only now that the new session holds the user is the old one told
        // to go: nothing below can fail and leave the user nowhere.
        if let Some(previous) = previous.map(|p| p.session).filter(|p| *p != id) {
            if let Some(old) = self.sessions.get_mut(&previous) {
                old.user = None;
            }
            self.kick(previous, ByeReason::Replaced);
        }
    }

    /// The user of connection `id` is away, or back. Only in memory: it
    /// ends with the session, as presence does, and a new JOIN starts here.
    fn set_away(&mut self, id: u64, away: Option<String>) -> Result<(), AwayRefused> {
        let key = self
            .sessions
            .get(&id)
            .and_then(|s| s.user.as_ref())
            .ok_or(AwayRefused)?;
        let online = self.online.get_mut(key).ok_or(AwayRefused)?;
        online.contact.away = away;
        Ok(())
    }

    fn list(&self) -> Vec<Contact> {
        self.online.values().map(|o| o.contact.clone()).collect()
    }

    fn logout(&mut self, id: u64, done: Sender<()>) {
        self.go_offline(id, Some(done));
    }

    fn disconnected(&mut self, id: u64) {
        self.go_offline(id, None);
        self.sessions.remove(&id);
    }

    fn shutdown(&mut self) {
        self.shutting_down = true;
        let ids: Vec<u64> = self.sessions.keys().copied().collect();
        for id in ids {
            self.kick(id, ByeReason::Shutdown);
        }
    }

    /// The user that connection `id` holds online.
    fn user_of(&self, id: u64) -> Option<&Contact> {
        let key = self.sessions.get(&id)?.user.as_ref()?;
        self.online.get(key).map(|online| &online.contact)
    }

    fn invite(&mut self, id: u64, name: &str) -> Result<String, InviteFailed> {
        let leader = self
            .user_of(id)
            .ok_or(InviteFailed::NotJoined)?
            .name
            .clone();
        let invitee = self.search(name).map_err(InviteFailed::Invitee)?.name;
        let mut random: TicketBytes = [0; 16];
        if let Err(err) = getrandom::fill(&mut random) {
            self.log(format_args!("error: no random numbers for a ticket: {err}"));
            return Err(InviteFailed::NoRandomness);
        }
        self.tickets
            .issue(&leader, &invitee, Instant::now(), random)
            .map_err(|refused| match refused {
                InviteRefused::Yourself => InviteFailed::Yourself,
                InviteRefused::TooMany(max) => InviteFailed::TooMany(max),
            })
    }

    /// The ticket's names, and the key its leader is online with now: the
    /// key the invitee will hold the leader's connection to.
    fn check(&mut self, id: u64, ticket: &str) -> Result<Vouched, CheckRefused> {
        let me = self
            .user_of(id)
            .ok_or(CheckRefused::NotJoined)?
            .name
            .clone();
        let valid = self
            .tickets
            .check(ticket, &me, Instant::now())
            .ok_or(CheckRefused::BadTicket)?;
        let leader_key = self
            .online
            .get(&valid.leader.to_lowercase())
            .and_then(|online| online.contact.key.clone());
        Ok(Vouched {
            leader: valid.leader,
            invitee: valid.invitee,
            leader_key,
        })
    }

    fn search(&self, name: &str) -> Result<Contact, SearchRefused> {
        if let Some(online) = self.online.get(&name.to_lowercase()) {
            return Ok(online.contact.clone());
        }
        match self.store.account(name) {
            Ok(Some(account)) => Err(SearchRefused::Offline(account.name)),
            Ok(None) => Err(SearchRefused::NotRegistered(name.to_string())),
            Err(err) => {
                self.log_db(&err);
                Err(SearchRefused::Database)
            }
        }
    }

    /// If connection `id` holds a user online, that user goes offline;
    /// `done` is dropped once the database has been told.
    fn go_offline(&mut self, id: u64, done: Option<Sender<()>>) {
        let Some(key) = self.sessions.get_mut(&id).and_then(|s| s.user.take()) else {
            return;
        };
        if let Some(online) = self.online.remove(&key) {
            let name = online.contact.name;
            self.seen.remove(&name);
            self.log(format_args!("{name} offline"));
            self.presence.send(Presence::Offline { name }, done);
        }
    }

    /// Tells connection `id` to close with `BYE <reason>`.
    fn kick(&mut self, id: u64, reason: ByeReason) {
        let (done, written) = bounded(0);
        // A replaced user stays online under the new connection; everyone
        // else goes offline at once rather than when the thread finishes.
        if reason != ByeReason::Replaced {
            self.go_offline(id, Some(done));
        }
        if let Some(session) = self.sessions.get_mut(&id)
            && !session.kicked
        {
            session.kicked = true;
            session.socket.close(Bye { reason, written });
        }
    }

    fn sweep(&mut self, now: Instant) {
        let timeout = self.config.hello_timeout;
        let idle: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                !s.kicked
                    && ((!s.busy && now.saturating_duration_since(s.last_active) >= timeout)
                        || s.join_by.is_some_and(|by| by <= now))
            })
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            self.kick(id, ByeReason::Timeout);
        }
        for name in self.seen.drain() {
            self.presence.send(Presence::Seen { name }, None);
        }
        self.tickets.sweep(now);
        self.throttle.sweep(now);
        self.registrations.sweep(now);
        self.name_checks.sweep(now);
    }
}

/// The database's record of `contact` going online, from the client's
/// connection at `client_port`.
fn online(contact: &Contact, client_port: u16) -> Presence {
    Presence::Online {
        name: contact.name.clone(),
        ip: contact.ip,
        port: contact.port,
        client_port,
        public_key: contact.key.as_ref().map(|key| key.to_string()),
    }
}
