//! What one connection owes its socket, for an owner that pushes it
//! without blocking (the lobby hub): the lines queued since the last flush,
//! not yet sealed, and the bytes ready for the wire.
//!
//! Over TLS, lines wait here as plaintext and are sealed together at the
//! flush (`Writer::seal`), so a burst of lines costs a few records of up to
//! 16 KiB instead of one record per line; in plain text a line goes
//! straight to the wire bytes. It never touches a socket.

/// An emptied buffer keeps at most this much capacity, so a lobby of mostly
/// idle members does not hold on to the memory of one old burst.
const IDLE_CAPACITY: usize = 64 * 1024;

/// The bytes a connection owes its socket, in order: `wire` first, then
/// `lines` once sealed.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Plaintext lines queued since the last seal (always empty in plain
    /// text, where lines go to `wire` as they are).
    pub(super) lines: Vec<u8>,
    /// Bytes as they go on the wire, not yet taken by the kernel.
    pub(super) wire: Vec<u8>,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Every byte owed, sealed or not: what a backlog limit counts.
    pub fn len(&self) -> usize {
        self.lines.len() + self.wire.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.wire.is_empty()
    }

    /// The bytes ready for the socket; lines not yet sealed are not among
    /// them.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The kernel took the first `n` bytes of `wire()`.
    pub fn sent(&mut self, n: usize) {
        self.wire.drain(..n.min(self.wire.len()));
        if self.wire.is_empty() {
            self.wire.shrink_to(IDLE_CAPACITY);
        }
    }

    /// The lines are in `wire` now, as records. The plaintext buffer is
    /// let go: under a backlog, what is owed sits in `wire`, and a second
    /// buffer kept per member would add its size to the hub's memory for
    /// every member (a few allocations per flush cost less than that).
    pub(super) fn lines_sealed(&mut self) {
        self.lines = Vec::new();
    }

    /// Gives up everything owed (the connection is broken).
    pub fn clear(&mut self) {
        self.lines.clear();
        self.wire.clear();
    }
}
