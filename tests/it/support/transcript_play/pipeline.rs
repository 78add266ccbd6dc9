//! A `check=fingerprint` block: the doc's shell pipeline that prints, with
//! the openssl tools, the fingerprint of the key the session's TLS registry
//! presents. It runs with `sh` against that registry, and must print what
//! the registry printed after `fingerprint SHA256:`.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;

use super::{Block, PEER_WAIT, Session};
use crate::support::on_path;

/// The address the docs' commands connect to, for the session's registry.
const DOC_REGISTRY: &str = "127.0.0.1:7777";

impl Session {
    pub(super) fn play_fingerprint(&self, block: &Block) -> Result<(), String> {
        let at = block.fence_line;
        let Some(fingerprint) = &self.fingerprint else {
            return Err(format!(
                "{at}: check=fingerprint needs a TLS registry (server=tls)"
            ));
        };
        let expected = fingerprint.to_string();
        let expected = expected.strip_prefix("SHA256:").unwrap_or(&expected);
        if on_path("openssl").is_none() {
            println!("skipped: the doc's openssl pipeline at line {at}: openssl is not installed");
            return Ok(());
        }
        let script: Vec<&str> = block.lines.iter().map(|(_, line)| line.as_str()).collect();
        let script = script
            .join("\n")
            .replace(DOC_REGISTRY, &self.server.addr().to_string());
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("{at}: sh: {err}"))?;
        // A safety net only: the pipeline ends when openssl's handshake
        // does, as its standard input is empty.
        let (done, output) = mpsc::channel();
        thread::spawn(move || done.send(child.wait_with_output()));
        let printed = match output.recv_timeout(PEER_WAIT) {
            Ok(Ok(output)) => String::from_utf8_lossy(&output.stdout).trim().to_string(),
            Ok(Err(err)) => return Err(format!("{at}: sh: {err}")),
            Err(_) => return Err(format!("{at}: the pipeline did not end")),
        };
        if printed != expected {
            return Err(format!(
                "{at}: the pipeline printed `{printed}`, the registry's fingerprint is `SHA256:{expected}`"
            ));
        }
        Ok(())
    }
}
