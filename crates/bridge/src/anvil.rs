//! A local EVM dev chain for tests and the devnet: spawns anvil (the Foundry dev chain, from the
//! npm package pinned in package.json, installed by `scripts/evm-tools.sh`), waits for its
//! `Listening on` line, and kills it when dropped.
//!
//! Port 0: the OS picks a free port and anvil prints it, so parallel tests never race for a port.
//! anvil logs one line per RPC call; a thread drains its stdout for the whole run (a full pipe
//! would block anvil) and keeps the last lines for [`Anvil::log_tail`].
//!
//! The binary comes from `$GRIDMINT_ANVIL` when it is set (it must exist then), else from
//! `node_modules/` at the repository root. Not found is an error that says to run the tools
//! script: a test never skips quietly.
//! When `$GRIDMINT_ANVIL_PIDDIR` is set (scripts/test.sh sets it), each anvil's pid is written
//! there as a file, so the script's exit trap can kill an anvil whose test process was killed
//! before its `Drop` ran.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long anvil may take to print `Listening on`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Lines of anvil's log kept for diagnosis.
const LOG_TAIL_LINES: usize = 200;
/// Where `npm ci` puts the binary, from the repository root.
const NODE_MODULES_ANVIL: &str = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";

/// Why anvil could not be started.
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    /// No binary at `$GRIDMINT_ANVIL` nor in `node_modules/`.
    #[error(
        "the anvil binary was not found (looked at {looked_at}): run `bash scripts/evm-tools.sh` \
         (it installs the pinned anvil into node_modules/), or set GRIDMINT_ANVIL to an anvil 1.7.1 binary"
    )]
    NotInstalled {
        /// The paths looked at.
        looked_at: String,
    },
    /// The process could not be spawned.
    #[error("cannot start {path}: {source}")]
    Spawn {
        /// The binary.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// anvil exited or stayed silent before printing its address.
    #[error("anvil did not start listening within {STARTUP_TIMEOUT:?}; its output:\n{output}")]
    NotListening {
        /// What anvil printed.
        output: String,
    },
}

/// A running anvil, killed on drop.
pub struct Anvil {
    child: Child,
    url: String,
    chain_id: u64,
    private_keys: Vec<String>,
    log: Arc<Mutex<VecDeque<String>>>,
    pid_file: Option<PathBuf>,
}

impl Anvil {
    /// The anvil binary: `$GRIDMINT_ANVIL` if set, else the repository's `node_modules/`.
    pub fn binary() -> Result<PathBuf, AnvilError> {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        find_binary(std::env::var_os("GRIDMINT_ANVIL"), &repo)
    }

    /// Starts anvil on 127.0.0.1, a port the OS picks, with EVM chain id `chain_id`; automine
    /// (each transaction in its own block), one thread.
    pub fn spawn(chain_id: u64) -> Result<Anvil, AnvilError> {
        let path = Self::binary()?;
        let mut child = Command::new(&path)
            .args(["--host", "127.0.0.1", "--port", "0", "--color", "never", "--threads", "1"])
            .args(["--chain-id", &chain_id.to_string(), "--accounts", "4"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| AnvilError::Spawn { path: path.clone(), source })?;
        let pid_file = std::env::var_os("GRIDMINT_ANVIL_PIDDIR").map(|dir| {
            let file = PathBuf::from(dir).join(child.id().to_string());
            // best effort: the pid file only helps the test script's trap
            let _ = std::fs::write(&file, b"");
            file
        });
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let thread_log = Arc::clone(&log);
        std::thread::spawn(move || drain(stdout, &thread_log, ready_tx));
        let started = ready_rx.recv_timeout(STARTUP_TIMEOUT);
        let mut anvil = Anvil { child, url: String::new(), chain_id, private_keys: Vec::new(), log, pid_file };
        match started {
            Ok((address, keys)) => {
                anvil.url = format!("http://{address}");
                anvil.private_keys = keys;
                Ok(anvil)
            }
            Err(_) => {
                let _ = anvil.child.kill();
                let _ = anvil.child.wait();
                Err(AnvilError::NotListening { output: anvil.log_tail() })
            }
        }
    }

    /// The JSON-RPC endpoint, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// anvil's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The EVM chain id anvil runs with.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The funded dev accounts' private keys (hex, `0x`-prefixed), as anvil printed them.
    pub fn private_keys(&self) -> &[String] {
        &self.private_keys
    }

    /// The last lines anvil printed.
    pub fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        log.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(file) = &self.pid_file {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// The anvil binary: `configured` (from `$GRIDMINT_ANVIL`) if given, which must then exist (a
/// wrong setting is an error, not a reason to look elsewhere); else `node_modules/` under `repo`.
fn find_binary(configured: Option<std::ffi::OsString>, repo: &std::path::Path) -> Result<PathBuf, AnvilError> {
    if let Some(path) = configured {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(AnvilError::NotInstalled { looked_at: format!("GRIDMINT_ANVIL={}", path.display()) });
    }
    let path = repo.join(NODE_MODULES_ANVIL);
    if path.is_file() {
        return Ok(path);
    }
    Err(AnvilError::NotInstalled { looked_at: NODE_MODULES_ANVIL.to_string() })
}

/// Reads anvil's stdout to its end: the private keys of the banner, then the `Listening on`
/// line (sent once through `ready`), keeping the last lines in `log`.
fn drain(stdout: std::process::ChildStdout, log: &Mutex<VecDeque<String>>, ready: mpsc::Sender<(String, Vec<String>)>) {
    let mut keys = Vec::new();
    let mut in_keys = false;
    let mut ready = Some(ready);
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if ready.is_some() {
            let trimmed = line.trim();
            if trimmed == "Private Keys" {
                in_keys = true;
            } else if in_keys && trimmed.starts_with('(') {
                if let Some(key) = trimmed.split_whitespace().nth(1) {
                    keys.push(key.to_string());
                }
            } else if in_keys && !trimmed.is_empty() && !trimmed.starts_with('=') {
                in_keys = false;
            }
            if let Some(address) = trimmed.strip_prefix("Listening on ")
                && let Some(sender) = ready.take()
            {
                let _ = sender.send((address.trim().to_string(), std::mem::take(&mut keys)));
            }
        }
        let mut log = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if log.len() == LOG_TAIL_LINES {
            log.pop_front();
        }
        log.push_back(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_anvil_is_an_error_that_says_how_to_install_it() {
        // goal: no test skips quietly when anvil is absent; method: look in an empty directory,
        // and at a configured path that does not exist (no fallback to node_modules then)
        let empty = std::env::temp_dir().join(format!("gridmint-no-anvil-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let message = find_binary(None, &empty).unwrap_err().to_string();
        assert!(message.contains("bash scripts/evm-tools.sh"), "{message}");
        assert!(message.contains(NODE_MODULES_ANVIL), "{message}");
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let wrong = Some(empty.join("anvil").into_os_string());
        let message = find_binary(wrong, &repo).unwrap_err().to_string();
        assert!(message.contains("GRIDMINT_ANVIL=") && message.contains("evm-tools.sh"), "{message}");
        // and a binary that is there is found
        std::fs::write(empty.join("anvil"), b"").unwrap();
        assert_eq!(find_binary(Some(empty.join("anvil").into_os_string()), &repo).unwrap(), empty.join("anvil"));
        std::fs::remove_dir_all(&empty).unwrap();
    }
}
