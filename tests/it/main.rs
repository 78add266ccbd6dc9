//! The integration tests, in one binary: each module is one area.

mod lobby;
mod peer;
mod peer_bin;
mod registry;
mod resilience;
mod server_bin;
mod support;
