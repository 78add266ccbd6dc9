//! A scripted p2pchat session: a registry and three peers in one process on
//! loopback, playing registration, the menus, chat requests answered OK,
//! REJECT and BUSY, a chat, a member leaving and the leader leaving.
//!
//! Every line a user types is shown as `name > line`; every line a user sees
//! as `name | line`. Run it with `cargo run --example demo`.

use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use std::time::Duration;

use p2pchat::peer::{ADD_PROMPT, MENU_PROMPT, PeerConfig, WELCOME_PROMPT};
use p2pchat::registry::{RegistryConfig, Server};
use p2pchat::testing::ScriptedPeer;

const WAIT: Duration = Duration::from_secs(20);

/// One of the demo's users and the peer they drive.
struct User {
    name: &'static str,
    peer: ScriptedPeer,
}

impl User {
    fn start(
        name: &'static str,
        registry: SocketAddr,
        logs: &Path,
    ) -> Result<User, Box<dyn Error>> {
        let mut config = PeerConfig::new(registry);
        config.listen = "127.0.0.1:0".parse()?;
        config.log_dir = logs.to_path_buf();
        let peer = ScriptedPeer::start(config)?;
        println!(
            "{name:>5} | Chat server started on port {}",
            peer.chat_port()
        );
        Ok(User { name, peer })
    }

    /// Types a line, as the user would.
    fn types(&self, line: &str) {
        println!("{:>5} > {line}", self.name);
        self.peer.type_line(line);
    }

    /// Shows what the user sees, up to the first line containing `text`.
    fn sees(&self, text: &str) -> Result<(), Box<dyn Error>> {
        for line in self.peer.wait_for(text, WAIT)? {
            println!("{:>5} | {line}", self.name);
        }
        Ok(())
    }

    fn register_and_join(&self) -> Result<(), Box<dyn Error>> {
        self.sees(WELCOME_PROMPT)?;
        for line in ["1", self.name, "secret-pw"] {
            self.types(line);
        }
        self.sees("Registered")?;
        self.sees(WELCOME_PROMPT)?;
        for line in ["2", self.name, "secret-pw"] {
            self.types(line);
        }
        self.sees(MENU_PROMPT)
    }

    fn add(&self, other: &str) -> Result<(), Box<dyn Error>> {
        self.types("2");
        self.types(other);
        self.sees(ADD_PROMPT)?;
        self.types("Yes");
        self.sees(MENU_PROMPT)
    }

    fn quit(self) -> Result<(), Box<dyn Error>> {
        self.types("/quit");
        for line in self.peer.finish()? {
            println!("{:>5} | {line}", self.name);
        }
        Ok(())
    }
}

fn section(title: &str) {
    println!("\n=== {title}");
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let config = RegistryConfig::new("127.0.0.1:0".parse()?, dir.path().join("registry.db"));
    let server = Server::bind(config)?;
    let registry = server.local_addr();
    let stopper = server.stopper();
    let serving = thread::spawn(move || server.run());
    println!("registry listening on {registry}");

    let logs = dir.path().join("logs");
    let alice = User::start("alice", registry, &logs)?;
    let bob = User::start("bob", registry, &logs)?;
    let carol = User::start("carol", registry, &logs)?;

    section("Everyone registers and joins");
    for user in [&alice, &bob, &carol] {
        user.register_and_join()?;
    }

    section("alice lists who is online and adds bob and carol");
    alice.types("1");
    alice.sees("carol")?;
    alice.add("bob")?;
    alice.add("carol")?;

    section("alice starts a chat: bob says OK, carol says REJECT");
    alice.types("3");
    bob.sees("Chat request from 'alice'")?;
    bob.types("OK");
    carol.sees("Chat request from 'alice'")?;
    carol.types("REJECT");
    carol.sees(MENU_PROMPT)?;
    bob.sees("You are in alice's lobby")?;
    alice.sees("carol: rejected")?;

    section("carol invites bob, who is busy in alice's lobby");
    carol.add("bob")?;
    carol.types("3");
    carol.sees("bob: busy")?;
    carol.sees(MENU_PROMPT)?;

    section("alice and bob chat; bob leaves, so alice's lobby ends");
    alice.types("Hi Bob!");
    bob.sees("[alice] Hi Bob!")?;
    bob.types("Hello Alice, see you later.");
    alice.sees("[bob] Hello Alice")?;
    bob.types("/leave");
    bob.sees(MENU_PROMPT)?;
    alice.sees("Peer ('bob') is offline")?;
    alice.sees(MENU_PROMPT)?;

    section("alice invites both again, and this time both say OK");
    alice.types("3");
    bob.sees("Chat request from 'alice'")?;
    bob.types("yes");
    carol.sees("Chat request from 'alice'")?;
    carol.types("ok");
    bob.sees("You are in alice's lobby")?;
    carol.sees("You are in alice's lobby")?;
    alice.sees("Peer ('carol') joined")?;
    carol.types("Hello everyone");
    alice.sees("[carol] Hello everyone")?;
    bob.sees("[carol] Hello everyone")?;

    section("carol leaves; alice and bob go on chatting");
    carol.types("/leave");
    carol.sees(MENU_PROMPT)?;
    alice.sees("Peer ('carol') is offline")?;
    bob.sees("Peer ('carol') is offline")?;
    alice.types("Just us now.");
    bob.sees("[alice] Just us now.")?;
    bob.types("/members");
    bob.sees("Members:")?;

    section("alice, the leader, leaves: the lobby ends for bob");
    alice.types("/leave");
    alice.sees(MENU_PROMPT)?;
    bob.sees("The lobby has ended")?;
    bob.sees(MENU_PROMPT)?;

    section("Everyone quits");
    for user in [alice, bob, carol] {
        user.quit()?;
    }
    stopper.stop();
    serving
        .join()
        .map_err(|_| "the registry thread panicked")??;

    section("bob's chat logs");
    let mut files: Vec<_> = std::fs::read_dir(logs.join("bob"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    for file in files {
        println!(
            "--- {}",
            file.file_name().unwrap_or_default().to_string_lossy()
        );
        print!("{}", std::fs::read_to_string(&file)?);
    }
    println!("\nThe demo ran to the end.");
    Ok(())
}
