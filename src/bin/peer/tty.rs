//! The terminal's own settings, which the line editor does not handle:
//! its width, its echo between two reads, what was typed ahead, and the
//! settings of the start put back at exit. Unix only; elsewhere these do
//! nothing. Never reads or writes a line.

#[cfg(unix)]
use std::io;

/// The terminal's width, if standard output is a terminal that says it.
pub(crate) fn columns() -> Option<usize> {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let mut size = std::mem::MaybeUninit::<libc::winsize>::uninit();
        // SAFETY: TIOCGWINSZ fills the winsize we own when it returns 0.
        let rc = unsafe {
            libc::ioctl(
                io::stdout().as_raw_fd(),
                libc::TIOCGWINSZ,
                size.as_mut_ptr(),
            )
        };
        // SAFETY: filled just above.
        let columns = (rc == 0).then(|| unsafe { size.assume_init() }.ws_col);
        columns.filter(|&c| c > 0).map(usize::from)
    }
    #[cfg(not(unix))]
    None
}

/// Turns off the echo of what is typed on standard input's terminal, so
/// that keys pressed while no line is read (the peer is waiting on the
/// registry, say) are not drawn by the terminal itself: the line editor
/// shows them once it reads them, and a password typed ahead of its
/// question never shows. The editor and the password reader put back the
/// settings they found; `TerminalRestorer` those of the start.
pub(crate) fn echo_off() {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let fd = io::stdin().as_raw_fd();
        let mut termios = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills the termios we own when it returns 0, and
        // tcsetattr only reads it.
        unsafe {
            if libc::tcgetattr(fd, termios.as_mut_ptr()) == 0 {
                let mut termios = termios.assume_init();
                termios.c_lflag &= !(libc::ECHO | libc::ECHONL);
                libc::tcsetattr(fd, libc::TCSANOW, &termios);
            }
        }
    }
}

/// Drops, unread, what was typed on standard input's terminal before the
/// question now asked: it may be a password typed ahead of a question that
/// turned out another (`Want::Afresh`).
pub(crate) fn discard_typed_ahead() {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: tcflush takes a descriptor and a constant.
        unsafe { libc::tcflush(io::stdin().as_raw_fd(), libc::TCIFLUSH) };
    }
}

/// The terminal's settings when the peer started, put back when it ends,
/// so that a password prompt cut short by Ctrl-C or a signal never leaves
/// the terminal without echo.
pub(crate) struct TerminalRestorer {
    #[cfg(unix)]
    saved: Option<libc::termios>,
}

impl TerminalRestorer {
    /// Remembers standard input's terminal settings, if it is a terminal.
    pub(crate) fn save() -> TerminalRestorer {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let fd = io::stdin().as_raw_fd();
            let mut termios = std::mem::MaybeUninit::<libc::termios>::uninit();
            // SAFETY: tcgetattr writes a termios into the buffer we own, and
            // fills it whole when it returns 0.
            let saved = (unsafe { libc::tcgetattr(fd, termios.as_mut_ptr()) } == 0)
                .then(|| unsafe { termios.assume_init() });
            TerminalRestorer { saved }
        }
        #[cfg(not(unix))]
        TerminalRestorer {}
    }
}

impl Drop for TerminalRestorer {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(saved) = &self.saved {
            use std::os::fd::AsRawFd;
            // SAFETY: tcsetattr only reads the termios we saved.
            unsafe { libc::tcsetattr(io::stdin().as_raw_fd(), libc::TCSANOW, saved) };
        }
    }
}
