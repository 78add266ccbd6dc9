//! The glue between the peer's core and files sent between peers: the
//! `FILE` lines a lobby relays, handed to the offers this peer holds.

use crate::screen::ScreenLine;
use crate::wire::FileLine;

use super::app::App;

impl App {
    /// A `FILE` line from `from`, relayed by the lobby.
    pub(super) fn on_file_line(&mut self, from: String, line: FileLine) {
        self.out.show(ScreenLine::Notice(format!(
            "{from} sent a file line ({}) this peer does not act on yet",
            line.id()
        )));
    }
}
