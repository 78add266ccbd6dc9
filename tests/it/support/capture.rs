//! Wireshark's tools on loopback, for the tests that look at the wire:
//! `dumpcap` records what a capture filter lets through (`Capture`), and
//! `tshark` reads it, with the repository's dissector loaded (`Tshark`).
//! `tests/it/dissector.rs` checks the dissector's fields with them;
//! `transcript_play` runs the tshark commands of docs/LAB.md with them.
//!
//! Where `tshark` or `dumpcap` is missing, or cannot capture, a test says
//! so in one line starting with `skipped:` and checks nothing. Where
//! `.ci/run` installed them it sets `P2PCHAT_TSHARK=required`, and there
//! a test that cannot run is a failure.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::Receiver;

use super::{READ_TIMEOUT, temp_dir};

/// The dissector, from the repository's root.
pub fn dissector() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/wireshark/p2pchat.lua")
}

/// Where `program` is on `PATH`, if anywhere.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Says in one line why `test` checked nothing; fails where the tools
/// were installed for it.
pub fn skipped<T>(test: &str, why: &str) -> Option<T> {
    assert!(
        std::env::var("P2PCHAT_TSHARK").as_deref() != Ok("required"),
        "{test}: {why}; .ci/run installed Wireshark's tools, so this test must run"
    );
    eprintln!("skipped: {test}: {why}");
    None
}

/// The tools, or `None` after saying which is missing.
pub fn tools(test: &str) -> Option<(PathBuf, Tshark)> {
    let (Some(dumpcap), Some(tshark)) = (on_path("dumpcap"), on_path("tshark")) else {
        return skipped(test, "tshark or dumpcap not found (apt-get install tshark)");
    };
    match Tshark::new(tshark) {
        Some(tshark) => Some((dumpcap, tshark)),
        None => skipped(
            test,
            "tshark loads no Lua dissector, as this user or as nobody",
        ),
    }
}

/// `tshark` with the dissector loaded, run as this user or, where it
/// refuses Lua scripts to root (as Wireshark may), as `nobody`. The
/// dissector is a copy in a folder anyone can read, as the repository's
/// own may not be; that folder is its home too, so that no one's own
/// Wireshark settings change what it shows.
pub struct Tshark {
    program: PathBuf,
    as_nobody: bool,
    dissector: Arc<tempfile::TempDir>,
}

impl Tshark {
    /// The way of running `program` under which the dissector's protocol
    /// is registered, if there is one.
    pub fn new(program: PathBuf) -> Option<Tshark> {
        let dissector = Arc::new(temp_dir());
        std::fs::copy(self::dissector(), dissector.path().join("p2pchat.lua")).unwrap();
        open_to_all(dissector.path(), &dissector.path().join("p2pchat.lua"));
        [false, true]
            .into_iter()
            .map(|as_nobody| Tshark {
                program: program.clone(),
                as_nobody,
                dissector: Arc::clone(&dissector),
            })
            .find(|tshark| {
                // SAFETY: geteuid only reads the process's user id.
                let root = unsafe { libc::geteuid() } == 0;
                (!tshark.as_nobody || root) && tshark.knows_p2pchat()
            })
    }

    /// `tshark` with `first` (`-G` must come first), then the dissector.
    pub fn command(&self, first: &[&str]) -> Command {
        let mut command = if self.as_nobody {
            let mut command = Command::new("setpriv");
            command
                .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                .arg(&self.program);
            command
        } else {
            Command::new(&self.program)
        };
        // Wireshark's settings are the defaults, whoever runs the test.
        command
            .env("HOME", self.dissector.path())
            .env("XDG_CONFIG_HOME", self.dissector.path());
        let script = self.dissector.path().join("p2pchat.lua");
        command.args(first).arg("-X").arg(format!(
            "lua_script:{}",
            script.to_str().expect("a temporary path is UTF-8")
        ));
        command
    }

    /// `sh -c script`, run as `command` runs tshark, with the same
    /// settings: for a tshark command as a doc shows it.
    pub fn shell(&self, script: &str) -> Command {
        let mut command = if self.as_nobody {
            let mut command = Command::new("setpriv");
            command
                .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                .arg("sh");
            command
        } else {
            Command::new("sh")
        };
        command
            .env("HOME", self.dissector.path())
            .env("XDG_CONFIG_HOME", self.dissector.path())
            .args(["-c", script]);
        command
    }

    pub fn knows_p2pchat(&self) -> bool {
        let output = self.command(&["-G", "protocols"]).output();
        output.is_ok_and(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .any(|line| line.split('\t').nth(2) == Some("p2pchat"))
        })
    }

    /// Runs `command` with `capture` on its standard input, and returns
    /// what it printed.
    pub fn run(&self, mut command: Command, capture: &[u8]) -> String {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tshark starts");
        let mut stdin = child.stdin.take().unwrap();
        let capture = capture.to_vec();
        let feeder = thread::spawn(move || stdin.write_all(&capture));
        let output = child.wait_with_output().unwrap();
        feeder.join().unwrap().unwrap();
        assert!(
            output.status.success(),
            "tshark failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

/// A `dumpcap` recording the loopback interface under a capture filter,
/// its pcapng output read as it comes.
pub struct Capture {
    child: Option<Child>,
    bytes: Arc<Mutex<Vec<u8>>>,
    grew: Receiver<()>,
    reader: Option<JoinHandle<()>>,
}

impl Capture {
    /// Starts capturing `filter` on `lo`, and returns once `dumpcap` says
    /// it is writing (its `File:` line, which comes after the interface is
    /// open and the filter set); `Err` with what it said if it cannot.
    pub fn start(dumpcap: &Path, filter: &str) -> Result<Capture, String> {
        let mut child = Command::new(dumpcap)
            .args(["-q", "-i", "lo", "-f", filter, "-w", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| err.to_string())?;
        let mut stderr = child.stderr.take().unwrap();
        let (said, heard) = crossbeam_channel::unbounded();
        thread::spawn(move || {
            let mut text = String::new();
            let mut byte = [0; 1];
            while let Ok(1) = stderr.read(&mut byte) {
                text.push(char::from(byte[0]));
                if byte[0] == b'\n' {
                    let _ = said.send(std::mem::take(&mut text));
                }
            }
        });
        let mut heard_so_far = String::new();
        loop {
            match heard.recv_timeout(READ_TIMEOUT) {
                Ok(line) if line.starts_with("File:") => break,
                Ok(line) => heard_so_far.push_str(&line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("dumpcap did not start: {}", heard_so_far.trim()));
                }
            }
        }
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let (grows, grew) = crossbeam_channel::unbounded();
        let stdout = child.stdout.take().unwrap();
        let reader = Some(Capture::read(stdout, Arc::clone(&bytes), grows));
        Ok(Capture {
            child: Some(child),
            bytes,
            grew,
            reader,
        })
    }

    fn read(
        mut stdout: ChildStdout,
        bytes: Arc<Mutex<Vec<u8>>>,
        grows: crossbeam_channel::Sender<()>,
    ) -> JoinHandle<()> {
        thread::spawn(move || {
            let mut chunk = [0; 8192];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                bytes.lock().unwrap().extend_from_slice(&chunk[..n]);
                let _ = grows.send(());
            }
        })
    }

    /// Sends a line no one else sends to `addr`, one of the filter's
    /// ports, and waits until the capture holds it: everything sent before
    /// it is then in the capture too. Returns the marker connection's own
    /// port, whose packets are no part of the scenario.
    pub fn mark_end(&self, addr: SocketAddr) -> u16 {
        self.mark(addr, "end")
    }

    /// Sends a line no one else sends to `addr`, and waits until the
    /// capture holds it: `dumpcap` says it has started before it sees
    /// every packet, and everything sent after this is in the capture.
    /// Returns the marker connection's own port, as `mark_end` does.
    pub fn mark_start(&self, addr: SocketAddr) -> u16 {
        self.mark(addr, "start")
    }

    /// A marker line, `capture-WHAT-...`, sent to `addr` and waited for.
    fn mark(&self, addr: SocketAddr, what: &str) -> u16 {
        let marker = format!("capture-{what}-{}-{}\n", std::process::id(), addr.port());
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(marker.as_bytes()).unwrap();
        let deadline = Instant::now() + READ_TIMEOUT;
        let holds = |bytes: &[u8]| bytes.windows(marker.len()).any(|w| w == marker.as_bytes());
        while !holds(&self.bytes.lock().unwrap()) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                self.grew.recv_timeout(left).is_ok(),
                "the capture never showed the {what} marker sent to {addr}"
            );
        }
        stream.local_addr().unwrap().port()
    }

    /// Stops `dumpcap` and returns the whole capture.
    pub fn stop(mut self) -> Vec<u8> {
        let child = self.child.take().unwrap();
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: kill has no memory effects; the child has not been
        // waited for, so its pid cannot have been reused.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "dumpcap failed");
        self.reader.take().unwrap().join().unwrap();
        std::mem::take(&mut self.bytes.lock().unwrap())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Lets any user read `file` in `dir`, for a `tshark` run as `nobody`.
pub fn open_to_all(dir: &Path, file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
}
