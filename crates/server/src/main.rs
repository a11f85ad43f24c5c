//! `rampart`: parse the command line, run it, report errors plainly.

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc (why, and its settings: `crates/alloc`).
#[global_allocator]
static ALLOCATOR: rampart_alloc::Allocator = rampart_alloc::Allocator;

// The CLI reports fatal errors on stderr; that is its job.
#[expect(clippy::print_stderr, reason = "start-up errors go to the terminal before logging is set up")]
fn main() -> ExitCode {
    rampart_alloc::tune();
    // Every file and directory this process makes (the database and its journal, indexes,
    // recordings, logs, exports) is its owner's only, whatever the shell's umask.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = rampart_server::cli::Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rampart: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(rampart_server::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart: {e:#}");
            ExitCode::from(2)
        }
    }
}
