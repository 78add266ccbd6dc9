//! Readiness of non-blocking sockets: `poll_readable` over a few `pollfd`s,
//! and the `Poller` (epoll on Linux) for many. Every wait has a timeout;
//! nothing here reads or writes a socket.

use std::io::{self, ErrorKind};
use std::net::TcpStream;
use std::time::Duration;

/// Waits until some of `fds` can be read, for at most `timeout`. Returns
/// early on a signal; the caller just polls again.
pub(crate) fn poll_readable(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<()> {
    let millis = timeout.as_millis().min(1000) as libc::c_int;
    // SAFETY: `fds` is a live, writable slice of exactly `fds.len()` pollfd
    // structures for the whole call.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    if ready < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}

/// Readiness of many non-blocking sockets at once, each known by a token.
/// On Linux this is epoll, whose cost per wake-up follows the sockets that
/// are ready rather than all that are watched: with hundreds of receivers
/// per reader thread, `poll` spends more CPU asking than the server under
/// test spends sending. Elsewhere it falls back to `poll`.
pub(crate) struct Poller {
    #[cfg(target_os = "linux")]
    epoll: std::os::fd::OwnedFd,
    #[cfg(not(target_os = "linux"))]
    watched: Vec<(libc::pollfd, usize)>,
}

impl Poller {
    #[cfg(target_os = "linux")]
    pub(crate) fn new() -> io::Result<Poller> {
        use std::os::fd::FromRawFd;
        // SAFETY: a plain system call; a descriptor it returns is ours alone.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh, open descriptor nothing else owns.
        let epoll = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        Ok(Poller { epoll })
    }

    /// Watches `stream` for reading (level-triggered) under `token`.
    #[cfg(target_os = "linux")]
    pub(crate) fn add(&mut self, stream: &TcpStream, token: usize) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_ADD, stream, token)
    }

    /// Stops watching `stream`.
    #[cfg(target_os = "linux")]
    pub(crate) fn remove(&mut self, stream: &TcpStream) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_DEL, stream, 0)
    }

    #[cfg(target_os = "linux")]
    fn control(&self, op: libc::c_int, stream: &TcpStream, token: usize) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token as u64,
        };
        // SAFETY: both descriptors are open for the whole call, and `event`
        // is a live epoll_event the kernel only reads.
        let done =
            unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, stream.as_raw_fd(), &mut event) };
        if done < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits at most `timeout` for some watched socket to become readable
    /// (or closed), and puts the tokens of those that are into `ready`.
    /// A signal just ends the wait early, with nothing ready.
    #[cfg(target_os = "linux")]
    pub(crate) fn wait(&mut self, ready: &mut Vec<usize>, timeout: Duration) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        const MAX_EVENTS: usize = 256;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
        let millis = timeout.as_millis().min(1000) as libc::c_int;
        ready.clear();
        // SAFETY: `events` is a live, writable array of `MAX_EVENTS` entries
        // for the whole call, and the epoll descriptor is open.
        let count = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                MAX_EVENTS as libc::c_int,
                millis,
            )
        };
        if count < 0 {
            let err = io::Error::last_os_error();
            return if err.kind() == ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(err)
            };
        }
        ready.extend(
            events[..count.unsigned_abs() as usize]
                .iter()
                .map(|e| e.u64 as usize),
        );
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn new() -> io::Result<Poller> {
        Ok(Poller {
            watched: Vec::new(),
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn add(&mut self, stream: &TcpStream, token: usize) -> io::Result<()> {
        self.watched.push((pollfd(stream), token));
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn remove(&mut self, stream: &TcpStream) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        self.watched.retain(|(fd, _)| fd.fd != stream.as_raw_fd());
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn wait(&mut self, ready: &mut Vec<usize>, timeout: Duration) -> io::Result<()> {
        let mut fds: Vec<libc::pollfd> = self.watched.iter().map(|(fd, _)| *fd).collect();
        ready.clear();
        poll_readable(&mut fds, timeout)?;
        ready.extend(
            fds.iter()
                .zip(&self.watched)
                .filter(|(fd, _)| fd.revents != 0)
                .map(|(_, (_, token))| *token),
        );
        Ok(())
    }
}

pub(crate) fn pollfd(stream: &TcpStream) -> libc::pollfd {
    use std::os::fd::AsRawFd;
    libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poller_reports_the_sockets_with_something_to_read() {
        use std::io::Write;
        use std::net::TcpListener;

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut pairs = Vec::new();
        for _ in 0..3 {
            let client = TcpStream::connect(addr).unwrap();
            let (server, _) = listener.accept().unwrap();
            pairs.push((client, server));
        }
        let mut poller = Poller::new().unwrap();
        for (token, (client, _)) in pairs.iter().enumerate() {
            poller.add(client, token * 10).unwrap();
        }
        let mut ready = Vec::new();
        poller.wait(&mut ready, Duration::ZERO).unwrap();
        assert_eq!(ready, Vec::<usize>::new(), "nothing was sent yet");

        (&pairs[1].1).write_all(b"x\n").unwrap();
        let (closed_client, closed_server) = pairs.remove(2);
        drop(closed_server);
        // Level-triggered: both stay ready, however many waits it takes to
        // see them together.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while ready.len() < 2 && std::time::Instant::now() < deadline {
            poller.wait(&mut ready, Duration::from_millis(100)).unwrap();
        }
        ready.sort();
        assert_eq!(ready, [10, 20], "one socket has a line, one was closed");

        poller.remove(&pairs[1].0).unwrap();
        poller.wait(&mut ready, Duration::ZERO).unwrap();
        assert_eq!(ready, [20], "a removed socket is not reported");
        drop(closed_client);
    }
}
