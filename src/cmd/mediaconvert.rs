//! `mpe mediaconvert serve`: the MediaConvert API on localhost, executing with the engine.

use std::path::PathBuf;

/// Arguments of `mpe mediaconvert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: McCommand,
}

/// What to do.
#[derive(Debug, clap::Subcommand)]
pub enum McCommand {
    /// Serve CreateJob, GetJob, ListJobs and CancelJob on 127.0.0.1; credentials for the
    /// S3 endpoint come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    Serve {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = 8642)]
        port: u16,
        /// The S3 endpoint jobs read inputs from and write outputs to.
        #[arg(long)]
        s3_endpoint: String,
        /// Scratch folder for running jobs, made private (0700); default: a fresh one of
        /// a random name in the temp folder.
        #[arg(long)]
        work: Option<PathBuf>,
        /// Address to listen on; anything but loopback exposes the API (which has no
        /// authentication) to the network.
        #[arg(long, default_value = "127.0.0.1")]
        listen: std::net::IpAddr,
    },
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        McCommand::Serve {
            port,
            s3_endpoint,
            work,
            listen,
        } => crate::mediaconvert::serve(crate::mediaconvert::ServeOptions {
            port,
            s3_endpoint,
            work,
            listen,
        }),
    }
}
