//! Which registry the peer talks to: `--server` when given (no search, no
//! delay), otherwise the one found on the LAN, or one of several the user
//! picks at a terminal, or the default address when none answers.

use std::io::{self, BufRead, Write};
use std::net::SocketAddr;
use std::time::Duration;

use p2pchat::crypto::Fingerprint;
use p2pchat::discovery::{self, Decision, Found};
use p2pchat::registry::DEFAULT_REGISTRY_PORT;
use p2pchat::trace;

/// The registry chosen, and the key its announcement named: the key it
/// presents must be that one.
pub(crate) struct Chosen {
    pub servers: Vec<SocketAddr>,
    pub announced: Option<Fingerprint>,
}

/// The registry to use, searched for during `window` when none is named.
/// `at_terminal` says whether the user can be asked.
pub(crate) fn registry(
    server: Option<&str>,
    window: Duration,
    at_terminal: bool,
) -> Result<Chosen, String> {
    if let Some(server) = server {
        return Ok(Chosen {
            servers: p2pchat::peer::resolve_servers(server)?,
            announced: None,
        });
    }
    let found = match discovery::decide(search_the_lan(window)) {
        Decision::None => return Ok(fallback()),
        Decision::One(found) => found,
        Decision::Several(list) if at_terminal => ask(&list)?,
        Decision::Several(list) => return Err(several_without_a_terminal(&list)),
    };
    trace::out(format_args!("Using the registry {found}."));
    Ok(Chosen {
        servers: vec![found.addr],
        announced: found.announcement.fingerprint,
    })
}

/// The registries that answered on the LAN, saying what it does and
/// which answers it could not offer.
fn search_the_lan(window: Duration) -> Vec<Found> {
    trace::out(format_args!(
        "Looking for a registry on the LAN for {} s (--server HOST:PORT skips this)...",
        window.as_secs_f64()
    ));
    let answers = discovery::search(window).unwrap_or_else(|err| {
        trace::out(format_args!("Cannot search the LAN: {err}."));
        discovery::Answers::default()
    });
    for skipped in &answers.skipped {
        trace::out(format_args!("Not offered: {skipped}."));
    }
    answers.found
}

/// No registry answered: the default address on this machine, said.
fn fallback() -> Chosen {
    let fallback = SocketAddr::from(([127, 0, 0, 1], DEFAULT_REGISTRY_PORT));
    trace::out(format_args!(
        "No registry answered on the LAN; trying {fallback} \
         (another registry: start with --server HOST:PORT)."
    ));
    Chosen {
        servers: vec![fallback],
        announced: None,
    }
}

/// Several answered and nobody can be asked: lists them with the option
/// that picks each, and the error that ends the peer.
fn several_without_a_terminal(list: &[Found]) -> String {
    trace::out("Several registries answered; choose one with --server:");
    for found in list {
        trace::out(format_args!("  --server {}   ({found})", found.addr));
    }
    "several registries answered; start again with --server HOST:PORT".into()
}

/// Lists the registries and asks which, until an answer picks one.
fn ask(list: &[Found]) -> Result<Found, String> {
    trace::out("Several registries answered:");
    for (n, found) in list.iter().enumerate() {
        trace::out(format_args!("  {}. {found}", n + 1));
    }
    let stdin = io::stdin();
    loop {
        print!("Which one (1-{})? ", list.len());
        let _ = io::stdout().flush();
        let mut answer = String::new();
        match stdin.lock().read_line(&mut answer) {
            Ok(0) | Err(_) => {
                return Err("no registry chosen; start again with --server HOST:PORT".into());
            }
            Ok(_) => {}
        }
        if let Some(index) = discovery::pick(&answer, list.len()) {
            return Ok(list[index].clone());
        }
    }
}
