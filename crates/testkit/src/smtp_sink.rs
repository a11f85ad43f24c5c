//! A local SMTP server for tests of outgoing mail: Python's aiosmtpd (a complete SMTP server)
//! storing every message it accepts in a maildir. It runs from the test venv
//! (`RAMPART_TEST_PYTHON`, or `target/pyenv`; `make test` installs aiosmtpd there); without
//! one, [`SmtpSink::start`] says the test was SKIPPED and answers `None`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct SmtpSink {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Ours to end: the child this sink started.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Python that can import aiosmtpd, if there is one.
fn python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python");
    let candidates = std::env::var_os("RAMPART_TEST_PYTHON").map(PathBuf::from).into_iter().chain([venv]);
    candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

impl SmtpSink {
    /// Starts the sink on a free loopback port and waits until it accepts connections.
    #[expect(clippy::print_stderr, reason = "a skipped test says so on the test's output")]
    pub async fn start(test: &str) -> Option<SmtpSink> {
        let Some(python) = python() else {
            eprintln!(
                "SKIPPED {test}: no Python with aiosmtpd (RAMPART_TEST_PYTHON or target/pyenv; make test installs it)"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let sink = SmtpSink { port, child, dir };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Some(sink);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not start on port {port}");
    }

    /// Every message received so far, raw (headers and body as sent).
    pub fn messages(&self) -> Vec<String> {
        let new = self.dir.path().join("maildir/new");
        let mut files: Vec<_> =
            std::fs::read_dir(new).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
    }

    /// Waits (up to ten seconds) until at least `n` messages have arrived; answers them all.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..100 {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} messages, got {}", self.messages().len());
    }
}
