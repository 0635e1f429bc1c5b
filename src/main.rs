//! `mpe`: the command line of the local-first media processing engine.
//!
//! A thin shell: parse arguments, run one subcommand, print errors as one line (the whole
//! anyhow chain) and map them to exit codes. The work lives in the `engine`, `cloud` and
//! `profiles` crates; the watch folder and its job store (`watch`) live here, as the
//! design places them.

mod cmd;
mod mediaconvert;
mod progress;
mod serve;
mod watch;

use std::process::ExitCode;

use clap::Parser;

/// Exit code of a failed run (bad input, bad profile, unwritable output, ...).
const EXIT_FAILURE: u8 = 1;
/// Exit code of a run that failed for a reason that may pass on a retry (the source or
/// the output could not be read or written, an encoder ran out of memory): sysexits'
/// EX_TEMPFAIL, so that scripts can tell "try again" from "fix the input".
const EXIT_TRANSIENT: u8 = 75;
/// Exit code of a run stopped by Ctrl-C.
const EXIT_CANCELLED: u8 = 130;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    progress::init_logging(cli.verbose);
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpe: error: {e:#}");
            // The engine's error says which class it is; anything else is the user's.
            ExitCode::from(match e.downcast_ref::<engine::Error>() {
                Some(engine::Error::Cancelled) => EXIT_CANCELLED,
                Some(e) if e.is_transient() => EXIT_TRANSIENT,
                _ => EXIT_FAILURE,
            })
        }
    }
}
