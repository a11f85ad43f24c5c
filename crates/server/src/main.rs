//! `rampart`: parse the command line, run it, report errors plainly.

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: per-request allocations were a quarter of a chat
/// completion's CPU under load with glibc (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The CLI reports fatal errors on stderr; that is its job.
#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
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
