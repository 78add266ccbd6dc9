//! A scripted p2pchat session: a registry and three peers in one process on
//! loopback, playing registration, the menus, chat requests answered OK,
//! REJECT and BUSY, a chat, a member leaving and the leader leaving.
//!
//! Every line a user types is shown as `name > line`; every line a user sees
//! as `name | line`, in the order a person would see them: a user answers a
//! question only once it is on their screen. Run it with
//! `cargo run --example demo`.

use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use p2pchat::client::{FirstUse, RegistrySecurity, RegistryTrust};
use p2pchat::crypto::Fingerprint;
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
        fingerprint: Option<Fingerprint>,
        dir: &Path,
    ) -> Result<User, Box<dyn Error>> {
        let mut config = PeerConfig::new(registry);
        config.listen = "127.0.0.1:0".parse()?;
        config.log_dir = dir.join("logs");
        // TLS to the registry, its key pinned in advance, as
        // `--trust-registry` does.
        let pins = dir.join(name).join("known_keys");
        let first_use = FirstUse::Remember(Box::new(move |line| println!("{name:>5} | {line}")));
        let trust = RegistryTrust::new(pins, fingerprint, first_use)?;
        config.registry_security = RegistrySecurity::Tls(Arc::new(trust));
        let peer = ScriptedPeer::start(config)?;
        println!(
            "{name:>5} | Chat server started on port {}",
            peer.chat_port()
        );
        Ok(User { name, peer })
    }

    /// Types a line, as the user would, after what is on their screen.
    fn types(&self, line: &str) {
        for shown in self.peer.shown() {
            println!("{:>5} | {shown}", self.name);
        }
        println!("{:>5} > {line}", self.name);
        self.peer.type_line(line);
    }

    /// Waits for the question `prompt` and answers it with `line`.
    fn answers(&self, prompt: &str, line: &str) -> Result<(), Box<dyn Error>> {
        self.sees(prompt)?;
        self.types(line);
        Ok(())
    }

    /// Shows what the user sees, up to the first line containing `text`.
    fn sees(&self, text: &str) -> Result<(), Box<dyn Error>> {
        for line in self.peer.wait_for(text, WAIT)? {
            println!("{:>5} | {line}", self.name);
        }
        Ok(())
    }

    fn register_and_join(&self) -> Result<(), Box<dyn Error>> {
        for (choice, done) in [
            ("1", "The registration process is successful"),
            ("2", "The 'join' process is successful"),
        ] {
            self.answers(WELCOME_PROMPT, choice)?;
            self.answers("User name:", self.name)?;
            self.answers("Password:", "secret-pw")?;
            self.sees(done)?;
        }
        self.sees(MENU_PROMPT)
    }

    fn add(&self, other: &str) -> Result<(), Box<dyn Error>> {
        self.types("2");
        self.answers("User name to search:", other)?;
        self.answers(ADD_PROMPT, "Yes")?;
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
    let fingerprint = server.fingerprint();
    let serving = thread::spawn(move || server.run());
    println!("registry listening on {registry}");
    if let Some(fingerprint) = fingerprint {
        println!("fingerprint {fingerprint}");
    }

    let alice = User::start("alice", registry, fingerprint, dir.path())?;
    let bob = User::start("bob", registry, fingerprint, dir.path())?;
    let carol = User::start("carol", registry, fingerprint, dir.path())?;

    section("Everyone registers and joins");
    for user in [&alice, &bob, &carol] {
        user.register_and_join()?;
    }

    section("alice lists who is online and adds bob and carol");
    alice.types("1");
    alice.sees("users online.")?;
    alice.sees(MENU_PROMPT)?;
    alice.add("bob")?;
    alice.add("carol")?;

    section("alice starts a chat: bob says OK, carol says REJECT");
    alice.types("3");
    alice.sees("You lead this lobby")?;
    bob.answers("Chat request from 'alice'", "OK")?;
    carol.answers("Chat request from 'alice'", "REJECT")?;
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
    alice.sees("You lead this lobby")?;
    bob.answers("Chat request from 'alice'", "yes")?;
    carol.answers("Chat request from 'alice'", "ok")?;
    bob.sees("You are in alice's lobby")?;
    carol.sees("You are in alice's lobby")?;
    alice.sees("Client ('carol') connected")?;
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

    section("alice, the leader, ends the lobby for everyone");
    alice.types("/end");
    alice.sees(MENU_PROMPT)?;
    bob.sees("The lobby has ended (alice ended it for everyone)")?;
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
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("logs").join("bob"))?
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
