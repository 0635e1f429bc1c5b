//! Subcommands: one module each, with its own clap arguments and `run`.

pub mod probe;
pub mod thumbs;
pub mod transcode;

use clap::{Parser, Subcommand};

/// Local-first media processing engine with AWS MediaConvert parity.
#[derive(Debug, Parser)]
#[command(name = "mpe", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Describe a media file: container, streams, sizes, rates, colour.
    Probe(probe::Args),
    /// Make the HLS + DASH + MP4 ladder of a source, as the profile says.
    Transcode(transcode::Args),
    /// Still thumbnails at chosen times (exact frames, by parallel seeking).
    Thumbs(thumbs::Args),
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Probe(a) => probe::run(a),
        Command::Transcode(a) => transcode::run(a),
        Command::Thumbs(a) => thumbs::run(a),
    }
}
