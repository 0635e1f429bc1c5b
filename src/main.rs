//! `mpe`: the command line of the local-first media processing engine.
//!
//! A thin shell: parse arguments, run one subcommand, print errors as one line (the whole
//! anyhow chain) and map them to exit codes. The work lives in the `engine`, `cloud` and
//! `profiles` crates; the watch folder and its job store (`watch`) live here, as the
//! design places them.

mod cmd;
mod mediaconvert;
mod progress;
mod watch;

use std::process::ExitCode;

use clap::Parser;

/// Exit code of a failed run (bad input, bad profile, unwritable output, ...).
const EXIT_FAILURE: u8 = 1;
/// Exit code of a run stopped by Ctrl-C.
const EXIT_CANCELLED: u8 = 130;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    progress::init_logging(cli.verbose);
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpe: error: {e:#}");
            let cancelled = e
                .downcast_ref::<engine::Error>()
                .is_some_and(|e| matches!(e, engine::Error::Cancelled));
            ExitCode::from(if cancelled {
                EXIT_CANCELLED
            } else {
                EXIT_FAILURE
            })
        }
    }
}
