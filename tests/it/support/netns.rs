//! A network namespace of a test's own, with only a loopback interface
//! that is up and has multicast on: what the processes and threads a test
//! runs there send by multicast DNS stays inside it, never on the
//! machine's real interfaces. Making one needs root (CI runs as root) and
//! `ip`; where that fails, `Netns::new` says so in one line and the test
//! returns without counting anything as checked.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// A named namespace (`ip netns add`), deleted on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// A namespace for `test`, or `None` after one line on standard error
    /// saying why there is none. Under CI (`CI` set, as `.ci/run` runs as
    /// root) a namespace must be had, so there it is a failure instead: a
    /// test that checked nothing never counts as passed where it could
    /// have checked.
    pub fn new(test: &str) -> Option<Netns> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "p2pchat-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        if let Err(why) = ip(&["netns", "add", &name]) {
            return not_checked(test, &format!("cannot make a network namespace ({why})"));
        }
        let netns = Netns { name };
        let steps: [&[&str]; 2] = [
            &["link", "set", "lo", "up"],
            &["link", "set", "lo", "multicast", "on"],
        ];
        for args in steps {
            if let Err(why) = netns.ip(args) {
                return not_checked(
                    test,
                    &format!("cannot set up loopback in a namespace ({why})"),
                );
            }
        }
        Some(netns)
    }

    /// `program` to be run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        // `ip netns exec` execs the program, so the child's pid is its own
        // and signals reach it.
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs `work` on a thread inside the namespace; the threads it starts
    /// (`mdns-sd`'s) are inside too.
    pub fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        let file = File::open(format!("/run/netns/{}", self.name))
            .expect("the namespace made by `ip netns add` has its file");
        thread::spawn(move || {
            // SAFETY: setns on a descriptor we own and keep open for the
            // call; it moves only this thread into the namespace, and the
            // thread ends with `work`.
            let entered = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(entered, 0, "setns into the test's namespace");
            work()
        })
        .join()
        .expect("the work in the namespace does not panic")
    }

    fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["netns", "exec", &self.name, "ip"];
        all.extend_from_slice(args);
        ip(&all)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "delete", &self.name]);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out: Output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("ip: {err}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Says in one line that `test` checked nothing, and why; under CI, fails.
fn not_checked<T>(test: &str, why: &str) -> Option<T> {
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: {why}; CI runs as root and must be able to"
    );
    eprintln!("{test}: NOT CHECKED: {why}");
    None
}
