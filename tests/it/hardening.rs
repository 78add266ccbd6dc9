//! The peer hardened (issue 12): the registry link that survives idle
//! timeouts and a registry that is down, text from the network that cannot
//! act on a terminal, names that cannot become paths, and memory and
//! threads that stay bounded. Real sockets and real binaries, loopback only.

use crate::support::{TestServer, check};

#[test]
fn names_that_could_become_paths_or_devices_are_refused() {
    let server = TestServer::start();
    let mut client = server.client();
    for name in [
        "..", ".", "...", ".hidden", "CON", "nul", "Com1", "lpt9", "aux.log",
    ] {
        check(
            &mut client,
            &format!("REGISTER {name} dotdot12"),
            "ERR BAD_NAME",
        );
        check(&mut client, &format!("SEARCH {name}"), "ERR BAD_NAME");
    }
    check(&mut client, "REGISTER a..b dotdot12", "OK REGISTERED a..b");
}
