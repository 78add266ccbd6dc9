//! Scripted peers (`ScriptedPeer`) driven as their users would drive them:
//! typing at the prompts and waiting for what the peer shows.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use p2pchat::peer::{ADD_PROMPT, MENU_PROMPT, PeerConfig, WELCOME_PROMPT};
use p2pchat::testing::ScriptedPeer;

use super::{PASSWORD, PEER_WAIT, TestServer, any_port};

/// A peer of `registry` listening on `127.0.0.1:0`, logging under `logs`,
/// whose chat requests wait within `PEER_WAIT` for an answer.
pub fn peer_config(registry: SocketAddr, logs: &Path) -> PeerConfig {
    let mut config = PeerConfig::new(registry);
    config.listen = any_port();
    config.log_dir = logs.to_path_buf();
    // Files a test's peer takes stay in its temporary folder, never in
    // the working folder or the user's downloads.
    config.files.download_dir = logs.join("downloads");
    config.invite_timeout = Duration::from_secs(30);
    config
}

/// The address of `peer`'s chat listener.
pub fn chat_addr(peer: &ScriptedPeer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], peer.chat_port()))
}

/// Reads what `peer` shows until a line contains `text`; returns every
/// line read, the matching one last.
#[track_caller]
pub fn see_lines(peer: &ScriptedPeer, text: &str) -> Vec<String> {
    peer.wait_for(text, PEER_WAIT)
        .unwrap_or_else(|err| panic!("{err}"))
}

/// Waits for a line containing `text` and returns it.
#[track_caller]
pub fn see(peer: &ScriptedPeer, text: &str) -> String {
    see_lines(peer, text).pop().unwrap()
}

/// Waits until every one of `texts` has shown up, in any order.
#[track_caller]
pub fn see_all(peer: &ScriptedPeer, texts: &[&str]) {
    let mut missing: Vec<&str> = texts.to_vec();
    let mut seen = Vec::new();
    while !missing.is_empty() {
        match peer.wait_for("", PEER_WAIT) {
            Ok(lines) => {
                for line in lines {
                    missing.retain(|text| !line.contains(text));
                    seen.push(line);
                }
            }
            Err(_) => panic!("never saw {missing:?}; saw {seen:#?}"),
        }
    }
}

/// A peer of `server` logging under `logs`, registered and joined as `name`.
#[track_caller]
pub fn joined(server: &TestServer, logs: &Path, name: &str) -> ScriptedPeer {
    joined_with(peer_config(server.addr(), logs), name)
}

/// The one chat log under `logs/<name>/`.
#[track_caller]
pub fn log_of(logs: &Path, name: &str) -> String {
    let files: Vec<_> = std::fs::read_dir(logs.join(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read_to_string(&files[0]).unwrap()
}

/// Starts a peer with `config`, registers `name` with `PASSWORD` and joins.
#[track_caller]
pub fn joined_with(config: PeerConfig, name: &str) -> ScriptedPeer {
    let peer = ScriptedPeer::start(config).unwrap();
    see(&peer, WELCOME_PROMPT);
    for line in ["1", name, PASSWORD] {
        peer.type_line(line);
    }
    see(&peer, "The registration process is successful");
    join_as(&peer, name);
    peer
}

/// Has `peer`, at the welcome prompt, join as `name` with `PASSWORD`, and
/// waits for the menu.
#[track_caller]
pub fn join_as(peer: &ScriptedPeer, name: &str) {
    for line in ["2", name, PASSWORD] {
        peer.type_line(line);
    }
    see(peer, &format!("Joined as {name}"));
    see(peer, MENU_PROMPT);
}

/// Searches `name` and adds them to the conversation list.
#[track_caller]
pub fn add(peer: &ScriptedPeer, name: &str) {
    peer.type_line("2");
    peer.type_line(name);
    see(peer, ADD_PROMPT);
    peer.type_line("Yes");
    see(peer, &format!("Added {name}"));
}

/// `leader` invites everyone it has added; each of `accepting` says OK.
#[track_caller]
pub fn lobby(leader: &ScriptedPeer, leader_name: &str, accepting: &[&ScriptedPeer]) {
    leader.type_line("3");
    for member in accepting {
        see(member, &format!("Chat request from '{leader_name}'"));
        member.type_line("OK");
        see(member, &format!("You are in {leader_name}'s lobby"));
    }
}
