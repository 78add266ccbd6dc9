//! What stops the transfers running, each by its own key (the peer's is
//! the offer, the peer and the way): a flag its loop checks after each
//! piece, and its socket, shut down so that a read or a write blocked on a
//! slow or silent peer returns at once rather than after the stall
//! timeout. Whoever runs the transfers stops them; each transfer's thread
//! hands its socket over once it has one. It decides nothing, and never
//! writes to a socket.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What stops one transfer. Shared by the desk, which stops it, and the
/// transfer's thread, which arms it with its socket: a small lock rather
/// than a message, because a thread blocked on its socket reads no
/// channel.
#[derive(Debug, Default)]
pub struct Stop {
    stopped: AtomicBool,
    socket: Mutex<Option<TcpStream>>,
}

impl Stop {
    /// Stops the transfer: its loop ends at the next piece, and its socket
    /// (if it has one yet) is shut down both ways now.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        if let Ok(socket) = self.socket.lock()
            && let Some(socket) = socket.as_ref()
        {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// The transfer's socket, to be shut down by a stop; one that came
    /// before it shuts it down at once. (The flag is set before the lock is
    /// taken and read after it is left, so a stop and an arm that race
    /// still shut the socket down.)
    pub fn arm(&self, socket: &TcpStream) {
        if let (Ok(clone), Ok(mut slot)) = (socket.try_clone(), self.socket.lock()) {
            *slot = Some(clone);
        }
        if self.is_stopped() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

/// The stops of the transfers running, by their keys: a `/send all`
/// sends one offer to several peers, and stopping one of them leaves the
/// others running.
#[derive(Debug)]
pub struct Stops<K> {
    running: HashMap<K, Arc<Stop>>,
}

impl<K> Default for Stops<K> {
    fn default() -> Stops<K> {
        Stops {
            running: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq> Stops<K> {
    /// A stop for `transfer`, kept until it ends.
    pub fn add(&mut self, transfer: K) -> Arc<Stop> {
        let stop = Arc::new(Stop::default());
        self.running.insert(transfer, stop.clone());
        stop
    }

    /// Stops `transfer`, and nothing else; false if it is not running.
    pub fn stop(&self, transfer: &K) -> bool {
        self.running.get(transfer).map(|stop| stop.stop()).is_some()
    }

    /// Stops every transfer, as the peer quits.
    pub fn stop_all(&self) {
        self.running.values().for_each(|stop| stop.stop());
    }

    /// `transfer` ended: it can no longer be stopped.
    pub fn ended(&mut self, transfer: &K) {
        self.running.remove(transfer);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;

    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum Way {
        Sending,
        Receiving,
    }

    /// A transfer's key as the peer makes it: offer, peer, way.
    fn transfer(id: u64, peer: &str, way: Way) -> (u64, String, Way) {
        (id, peer.to_string(), way)
    }

    #[test]
    fn a_stop_reaches_only_its_own_offer_peer_and_way() {
        let mut stops = Stops::default();
        let to_bob = stops.add(transfer(9, "bob", Way::Sending));
        let to_carol = stops.add(transfer(9, "carol", Way::Sending));
        let from_bob = stops.add(transfer(9, "bob", Way::Receiving));
        let other = stops.add(transfer(8, "bob", Way::Sending));
        assert!(stops.stop(&transfer(9, "bob", Way::Sending)));
        assert!(to_bob.is_stopped());
        assert!(!to_carol.is_stopped() && !from_bob.is_stopped() && !other.is_stopped());
        stops.ended(&transfer(9, "carol", Way::Sending));
        assert!(!stops.stop(&transfer(9, "carol", Way::Sending)));
        assert!(!to_carol.is_stopped());
        stops.stop_all();
        assert!(from_bob.is_stopped() && other.is_stopped());
    }

    /// A connected pair of sockets on loopback.
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (near, listener.accept().unwrap().0)
    }

    /// Whether a read on `near` ended because it was shut down, not
    /// because its timeout (far longer than a shutdown takes) ran out.
    fn shut(near: &TcpStream) -> bool {
        near.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0; 1];
        match (&*near).read(&mut buf) {
            Ok(n) => n == 0,
            Err(err) => !matches!(
                err.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }

    #[test]
    fn a_stop_shuts_the_socket_so_a_blocked_read_returns_whether_it_came_first_or_not() {
        // Armed, then stopped: a read blocked on a silent peer returns.
        let (near, _far) = pair();
        let stop = Arc::new(Stop::default());
        stop.arm(&near);
        let stopper = {
            let stop = stop.clone();
            std::thread::spawn(move || stop.stop())
        };
        assert!(shut(&near));
        stopper.join().unwrap();
        // Stopped before its socket came: armed, it is shut at once.
        let (near, _far) = pair();
        let stop = Stop::default();
        stop.stop();
        stop.arm(&near);
        assert!(shut(&near));
    }
}
