//! Accounts made over the registry protocol: register, join, invite, each
//! checking the one-line reply.

use std::net::SocketAddr;

use super::{Client, PASSWORD};

/// Sends `request` and checks the one-line reply: it is `expected`, or
/// starts with `expected` and a space (so a test can leave out the human
/// text of an `ERR`). Returns the reply.
#[track_caller]
pub fn check(client: &mut Client, request: &str, expected: &str) -> String {
    let reply = client.ask(request);
    assert!(
        reply == expected || reply.starts_with(&format!("{expected} ")),
        "{request:?} got {reply:?}, expected {expected:?}"
    );
    reply
}

/// Registers each of `names` with `PASSWORD`, on one connection.
#[track_caller]
pub fn register(addr: SocketAddr, names: &[&str]) {
    let mut client = Client::connect(addr);
    for name in names {
        check(
            &mut client,
            &format!("REGISTER {name} {PASSWORD}"),
            &format!("OK REGISTERED {name}"),
        );
    }
}

/// Joins `name` with `PASSWORD` and chat port `port` on `client`.
#[track_caller]
pub fn join(client: &mut Client, name: &str, port: u16) {
    check(
        client,
        &format!("JOIN {name} {PASSWORD} {port}"),
        &format!("OK JOINED {name} 127.0.0.1 {port}"),
    );
}

/// A client that has registered `name` and joined with chat port `port`.
#[track_caller]
pub fn register_and_join(addr: SocketAddr, name: &str, port: u16) -> Client {
    let mut client = Client::connect(addr);
    check(
        &mut client,
        &format!("REGISTER {name} {PASSWORD}"),
        &format!("OK REGISTERED {name}"),
    );
    join(&mut client, name, port);
    client
}

/// Asks for a ticket to invite `name` and returns the token.
#[track_caller]
pub fn invite(client: &mut Client, name: &str) -> String {
    let reply = client.ask(&format!("INVITE {name}"));
    match reply.strip_prefix("OK TICKET ") {
        Some(token) => token.to_string(),
        None => panic!("INVITE {name} got {reply:?}"),
    }
}
