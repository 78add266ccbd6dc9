//! `Load`: every peer and lobby of a churn run, driven from one thread:
//! its loop ticks each peer and room, then polls every socket once. The
//! peers' steps are in `peers`, the rooms' in `rooms`. Every wait is
//! bounded: when the load stops, whatever has not finished by a deadline
//! is abandoned and reported.

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use super::peers::{Peer, Phase};
use super::report::note;
use super::rng::Rng;
use super::rooms::{Room, Stage};
use super::sampler::Sampler;
use super::{CLOSE_REASON, ChurnOptions, ChurnReport, REPLY_DEADLINE, STAGE_DEADLINE};
use crate::{BenchError, Histogram, poll_readable, pollfd};

/// Which connection a `pollfd` stands for.
#[derive(Clone, Copy)]
enum Target {
    Main(usize),
    Successor(usize),
    Member(usize, usize),
}

/// The running load: every peer and lobby, driven from one thread.
pub(super) struct Load<'a> {
    pub(super) options: &'a ChurnOptions,
    pub(super) rng: Rng,
    pub(super) peers: Vec<Peer>,
    pub(super) rooms: Vec<Room>,
    /// Where lobby members connect, to be admitted to a hub.
    pub(super) listener: TcpListener,
    pub(super) joins_in_flight: usize,
    pub(super) stopping: bool,
    pub(super) scratch: Vec<u8>,
    pub(super) join: Histogram,
    pub(super) report: ChurnReport,
    pub(super) sampler: Sampler,
}

impl<'a> Load<'a> {
    pub(super) fn new(options: &'a ChurnOptions, sampler: Sampler) -> Result<Load<'a>, BenchError> {
        let mut rng = Rng(options.seed);
        let now = Instant::now();
        // Peers start spread over the first pause, not all at once.
        let peers = (0..options.peers)
            .map(|index| Peer::new(index, now, now + rng.within(Duration::ZERO, options.pause)))
            .collect();
        let rooms = (0..options.lobbies)
            .map(|_| Room::new(now + rng.within(Duration::ZERO, options.pause)))
            .collect();
        Ok(Load {
            options,
            rng,
            peers,
            rooms,
            listener: TcpListener::bind("127.0.0.1:0")?,
            joins_in_flight: 0,
            stopping: false,
            scratch: vec![0u8; 64 * 1024],
            join: Histogram::new(),
            report: ChurnReport::default(),
            sampler,
        })
    }

    pub(super) fn run(&mut self) -> Result<(), BenchError> {
        let start = Instant::now();
        let stop_at = start + self.options.duration;
        let mut finish_by = None;
        let mut next_sample = start;
        let mut next_progress = start + Duration::from_secs(5);
        loop {
            let now = Instant::now();
            if !self.stopping && now >= stop_at {
                self.stopping = true;
                // Silent sessions need the hello timeout (and a sweep) to
                // end; everything else needs a reply or two.
                finish_by =
                    Some(now + REPLY_DEADLINE + STAGE_DEADLINE + self.options.hello_timeout * 3);
            }
            if self.stopping && self.quiet() {
                break;
            }
            if finish_by.is_some_and(|by| now >= by) {
                self.abandon();
                break;
            }
            if now >= next_sample {
                self.sampler.sample();
                next_sample = now + Duration::from_millis(100);
            }
            if self.options.progress && now >= next_progress {
                next_progress = now + Duration::from_secs(5);
                self.progress(now.duration_since(start));
            }
            for p in 0..self.peers.len() {
                self.tick_peer(p, now);
            }
            for r in 0..self.rooms.len() {
                self.tick_room(r, now);
            }
            self.poll_once()?;
        }
        self.sampler.sample();
        Ok(())
    }

    fn progress(&self, elapsed: Duration) {
        let joined = self
            .peers
            .iter()
            .filter(|p| !matches!(p.phase, Phase::Idle | Phase::Joining))
            .count();
        let open = self
            .rooms
            .iter()
            .filter(|r| !matches!(r.stage, Stage::Waiting | Stage::Done))
            .count();
        let (threads, fds) = self.sampler.server_now();
        let show = |n: Option<u64>| n.map_or("?".to_string(), |n| n.to_string());
        eprintln!(
            "bench: churn {:.0} s: {} sessions, {joined} joined now, {open} lobbies open, server {} threads {} fds, {} unexpected",
            elapsed.as_secs_f64(),
            self.report.sessions,
            show(threads),
            show(fds),
            self.report.unexpected,
        );
    }

    /// True once every peer is disconnected and every lobby is over.
    fn quiet(&self) -> bool {
        self.peers.iter().all(|p| p.phase == Phase::Idle)
            && self.rooms.iter().all(|r| r.stage == Stage::Done)
    }

    /// The finishing deadline passed: whatever is still open is dropped
    /// and reported.
    fn abandon(&mut self) {
        for p in 0..self.peers.len() {
            if self.peers[p].phase != Phase::Idle {
                let what = format!(
                    "{} still in {:?} when the run had to end",
                    self.peers[p].name, self.peers[p].phase
                );
                self.broken(p, what);
            }
        }
        for room in &mut self.rooms {
            if room.stage != Stage::Done {
                self.report.lobby_unexpected += 1;
                note(
                    &mut self.report,
                    format!(
                        "lobby of {} still in {:?} at the end",
                        room.leader, room.stage
                    ),
                );
            }
            if let Some(lobby) = room.lobby.take() {
                lobby.close(CLOSE_REASON);
            }
            room.members.clear();
            room.stage = Stage::Done;
        }
    }

    pub(super) fn unexpected(&mut self, what: String) {
        self.report.unexpected += 1;
        note(&mut self.report, what);
    }

    fn poll_once(&mut self) -> Result<(), BenchError> {
        let mut targets = Vec::new();
        let mut fds = Vec::new();
        for (p, peer) in self.peers.iter().enumerate() {
            if let Some(conn) = &peer.conn {
                targets.push(Target::Main(p));
                fds.push(pollfd(&conn.stream));
            }
            if let Some(conn) = &peer.successor {
                targets.push(Target::Successor(p));
                fds.push(pollfd(&conn.stream));
            }
        }
        for (r, room) in self.rooms.iter().enumerate() {
            for (m, member) in room.members.iter().enumerate() {
                if let Some(stream) = &member.stream {
                    targets.push(Target::Member(r, m));
                    fds.push(pollfd(stream));
                }
            }
        }
        let wait = Duration::from_millis(5);
        if fds.is_empty() {
            thread::sleep(wait);
            return Ok(());
        }
        poll_readable(&mut fds, wait)?;
        let now = Instant::now();
        for (fd, target) in fds.iter().zip(targets) {
            if fd.revents == 0 {
                continue;
            }
            match target {
                Target::Main(p) => self.read_main(p, now),
                Target::Successor(p) => self.read_successor(p, now),
                Target::Member(r, m) => self.read_member(r, m),
            }
        }
        Ok(())
    }
}
