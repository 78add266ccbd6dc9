//! Crashes: a registry killed with SIGKILL in the middle of a burst of
//! registrations, and a chatting peer killed the same way. What each had
//! confirmed before it died must survive it.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};

use crossbeam_channel::Sender;

use crate::support::{
    Client, PASSWORD, PeerProcess, READ_TIMEOUT, ServerProcess, TestServer, add, joined_with,
    peer_config, see, temp_dir,
};

/// Registers `b<number>-<n>` for n = 0, 1, ... on one connection until the
/// server goes away, reporting each `OK REGISTERED` on `confirmed` as it
/// arrives. Returns the names the server confirmed.
fn register_until_cut_off(addr: SocketAddr, number: usize, confirmed: &Sender<()>) -> Vec<String> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut names = Vec::new();
    for n in 0..1000 {
        let name = format!("b{number}-{n}");
        if writer
            .write_all(format!("REGISTER {name} {PASSWORD}\n").as_bytes())
            .is_err()
        {
            break;
        }
        let mut reply = String::new();
        // The server died when the connection closed or was reset, and a
        // reply the kill cut off has no newline: it confirms nothing.
        if reader.read_line(&mut reply).is_err() || !reply.ends_with('\n') {
            break;
        }
        assert_eq!(reply.trim_end(), format!("OK REGISTERED {name}"));
        names.push(name);
        let _ = confirmed.send(());
    }
    names
}

#[test]
fn a_killed_registry_loses_no_account_it_confirmed() {
    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let server = ServerProcess::start(&db, &[]);
    let addr = server.addr();
    // Two users are online when the server dies.
    let online: Vec<Client> = ["early1", "early2"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut client = Client::connect(addr);
            assert_eq!(
                client.ask(&format!("REGISTER {name} {PASSWORD}")),
                format!("OK REGISTERED {name}")
            );
            let port = 4000 + i;
            assert_eq!(
                client.ask(&format!("JOIN {name} {PASSWORD} {port}")),
                format!("OK JOINED {name} 127.0.0.1 {port}")
            );
            client
        })
        .collect();

    let (confirmed_tx, confirmed) = crossbeam_channel::unbounded();
    let burst: Vec<JoinHandle<Vec<String>>> = (0..4)
        .map(|number| {
            let confirmed_tx = confirmed_tx.clone();
            thread::spawn(move || register_until_cut_off(addr, number, &confirmed_tx))
        })
        .collect();
    drop(confirmed_tx);
    for n in 0..20 {
        if confirmed.recv_timeout(READ_TIMEOUT).is_err() {
            panic!("only {n} registrations were confirmed within {READ_TIMEOUT:?}");
        }
    }
    server.kill();
    let names: Vec<String> = burst
        .into_iter()
        .flat_map(|handle| handle.join().unwrap())
        .collect();
    assert!(names.len() >= 20, "{names:?}");
    drop(online);

    let server = ServerProcess::start(&db, &[]);
    let mut client = server.client();
    assert_eq!(
        client.ask(&format!("JOIN early2 {PASSWORD} 4100")),
        "OK JOINED early2 127.0.0.1 4100"
    );
    assert_eq!(client.ask("LIST"), "OK LIST 1");
    assert_eq!(client.recv(), "USER early2 127.0.0.1 4100");
    // The database agrees: early1, online when the server died, is not.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut online = conn
        .prepare("SELECT user_name FROM users WHERE status = 1")
        .unwrap();
    let online: Vec<String> = online
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(online, ["early2"]);

    // Every confirmed account is there with its password. A few threads
    // share the hashing, which takes tens of milliseconds per JOIN.
    let addr = server.addr();
    let checkers: Vec<JoinHandle<()>> = names
        .chunks(names.len().div_ceil(4))
        .map(|chunk| {
            let chunk = chunk.to_vec();
            thread::spawn(move || {
                for name in chunk {
                    let mut client = Client::connect(addr);
                    assert_eq!(
                        client.ask(&format!("JOIN {name} {PASSWORD} 5000")),
                        format!("OK JOINED {name} 127.0.0.1 5000")
                    );
                    assert_eq!(client.ask("LOGOUT"), "OK BYE");
                }
            })
        })
        .collect();
    for checker in checkers {
        checker.join().unwrap();
    }
    server.interrupt();
    assert_eq!(client.recv(), "BYE SHUTDOWN");
    let (status, _, stderr) = server.wait();
    assert!(status.success(), "{stderr}");
}

#[test]
fn a_member_killed_mid_chat_leaves_a_complete_log() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined_with(peer_config(server.addr(), logs.path()), "alice");
    let mut bob = PeerProcess::start_with("bob", server.addr(), logs.path(), &[]);
    bob.join(PASSWORD);

    add(&alice, "bob");
    alice.type_line("3");
    bob.sees("Chat request from 'alice'");
    bob.types("OK");
    bob.sees("You are in alice's lobby with: alice, bob");

    let chat = [
        ("alice", "hello bob"),
        ("bob", "hi alice"),
        ("alice", "ünïcödé and a tab\there"),
        ("bob", "my last words, typed just before the crash"),
    ];
    for (from, text) in chat {
        let shown = format!("[{from}] {text}");
        if from == "alice" {
            alice.type_line(text);
            bob.sees(&shown);
        } else {
            bob.types(text);
            see(&alice, &shown);
        }
    }
    bob.kill();
    see(&alice, "Peer ('bob') is offline");

    let folder = logs.path().join("bob");
    let files: Vec<_> = fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let log = fs::read_to_string(&files[0]).unwrap();
    assert!(log.ends_with('\n'), "the last line is cut off:\n{log}");
    let events: Vec<&str> = log
        .lines()
        .map(|line| {
            // Each line starts with the local time, `YYYY-MM-DD HH:MM:SS `.
            let (stamp, event) = line.split_at_checked(20).unwrap_or((line, ""));
            assert!(
                chrono::NaiveDateTime::parse_from_str(stamp.trim_end(), "%Y-%m-%d %H:%M:%S")
                    .is_ok(),
                "no time stamp on {line:?}"
            );
            event
        })
        .collect();
    let mut expected = vec![
        "* joined the lobby of alice".to_string(),
        "* members: alice bob".to_string(),
    ];
    expected.extend(chat.iter().map(|(from, text)| format!("[{from}] {text}")));
    assert_eq!(events, expected);
}
