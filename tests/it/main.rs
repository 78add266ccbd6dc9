//! The integration tests, in one binary: each module is one area.

mod lobby;
mod peer;
mod support;
