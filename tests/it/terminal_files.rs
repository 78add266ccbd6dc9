//! A file arriving at or sent from the real `peer` binary at a terminal:
//! its progress is a bar redrawn above the line being typed, which stays
//! whole, and the bar gives way to the line that says how it ended.

use std::fs;

use p2pchat::testing::ScriptedPeer;

use crate::files::noise;
use crate::support::{AtTerminal, TerminalPeer, TestServer, joined_with, peer_config, temp_dir};
use crate::terminal::into_alices_lobby;

#[test]
fn a_file_arriving_at_a_terminal_is_a_bar_above_the_typed_line() {
    let server = TestServer::start();
    let (logs, downloads, outbox) = (temp_dir(), temp_dir(), temp_dir());
    let alice: ScriptedPeer = joined_with(peer_config(server.addr(), logs.path()), "alice");
    let dir = downloads.path().to_str().unwrap();
    let mut bob = TerminalPeer::start(server.addr(), logs.path(), &["--download-dir", dir]);
    into_alices_lobby(&alice, &mut bob);

    // Large enough that the transfer goes on for a while after its bar
    // is first drawn, though the test waits on nothing but what is drawn.
    let bytes = noise(32 << 20);
    let path = outbox.path().join("big.bin");
    fs::write(&path, &bytes).unwrap();
    alice.type_line(&format!("/send bob {}", path.display()));
    bob.prompted_after("alice offers big.bin ");
    bob.press("/accept\r");
    // Typed once the bar is up (the editor reads no keys typed ahead of
    // its line), so that the bar is redrawn around a half-typed line.
    bob.sees_times("↓ big.bin from alice  [", 1);
    bob.press("half typed");
    bob.sees_above_typed("Saved big.bin from alice at ", "half typed");
    assert_eq!(fs::read(downloads.path().join("big.bin")).unwrap(), bytes);

    // A bar was drawn, up to its end, and redrawn in place: it left no
    // row behind, and the quarters a script reads were not printed.
    assert!(bob.raw_count("↓ big.bin from alice  [") >= 1);
    assert!(bob.raw_count("]  100%") >= 1);
    let (rows, ..) = bob.screen();
    assert!(!rows.iter().any(|r| r.contains("↓ big.bin")), "{rows:#?}");
    assert_eq!(bob.raw_count("Receiving big.bin from alice: 50 %"), 0);

    // The typed line is still the user's: Enter sends all of it.
    bob.press("\r");
    crate::support::see(&alice, "[bob] half typed");
}

#[test]
fn a_file_sent_from_a_terminal_is_a_bar_too() {
    let server = TestServer::start();
    let (logs, outbox) = (temp_dir(), temp_dir());
    let alice: ScriptedPeer = joined_with(peer_config(server.addr(), logs.path()), "alice");
    let mut bob = TerminalPeer::start(server.addr(), logs.path(), &[]);
    into_alices_lobby(&alice, &mut bob);

    let path = outbox.path().join("big.bin");
    fs::write(&path, noise(32 << 20)).unwrap();
    bob.press(&format!("/send alice {}\r", path.display()));
    crate::support::see(&alice, "bob offers big.bin ");
    alice.type_line("/accept");
    bob.sees_times("↑ big.bin to alice  [", 1);
    bob.press("half typed");
    bob.sees_above_typed("Sending big.bin to alice: done", "half typed");
    crate::support::see(&alice, "Saved big.bin from bob at ");
    assert!(bob.raw_count("]  100%") >= 1);
    let (rows, ..) = bob.screen();
    assert!(!rows.iter().any(|r| r.contains("↑ big.bin")), "{rows:#?}");
}
