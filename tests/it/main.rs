//! The integration tests, in one binary: each module is one area.

// The test binary is nobody's library: its helpers are `pub` for the
// modules beside them, and `unreachable_pub` (which guards the library's
// surface) would only ask to spell that `pub(crate)`.
#![allow(unreachable_pub)]

#[cfg(target_os = "linux")]
mod away;
mod bounds;
mod client;
#[cfg(target_os = "linux")]
mod discovery;
#[cfg(target_os = "linux")]
mod dissector;
mod dissector_kinds;
mod faults;
mod files;
mod files_faults;
mod hardening;
mod hostile;
mod ipv6;
mod irc;
mod key_log;
mod leaving;
mod lobby;
mod lobby_commands;
mod peer;
mod peer_bin;
mod props;
mod registry;
mod registry_hardening;
mod resilience;
mod security;
mod server_bin;
mod succession;
mod support;
#[cfg(unix)]
mod terminal;
#[cfg(unix)]
mod terminal_files;
mod terminal_resize;
mod tidy;
mod tls;
mod tls_peers;
#[cfg(unix)]
mod transcripts;
