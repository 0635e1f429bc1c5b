//! `mpe cloud`: the MediaConvert side of a profile.

use std::path::PathBuf;

use anyhow::Context;
use profiles::Profile;

/// Arguments of `mpe cloud`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: CloudCommand,
}

/// What to do.
#[derive(Debug, clap::Subcommand)]
pub enum CloudCommand {
    /// Print the CreateJob request (MediaConvert JSON) of a profile for one source.
    Render {
        /// A shipped profile name or a profile JSON file.
        #[arg(short, long, default_value = "default")]
        profile: String,
        /// The source in S3: s3://bucket/key.
        #[arg(long)]
        input: String,
        /// The asset folder in S3: s3://bucket/prefix/ (ending in '/').
        #[arg(long)]
        dest: String,
        /// IAM role MediaConvert assumes (or MPE_MEDIACONVERT_ROLE).
        #[arg(long, env = "MPE_MEDIACONVERT_ROLE")]
        role: String,
        /// Queue ARN (default: the account's Default queue).
        #[arg(long)]
        queue: Option<String>,
        /// A local copy of the source: probed, so the job gets the renditions the engine
        /// would make (no upscaling, exact sizes); without it, the whole ladder by height.
        #[arg(long)]
        source: Option<PathBuf>,
        /// The job id carried in UserMetadata (default: a new GUID).
        #[arg(long)]
        job_id: Option<String>,
    },
    /// Print the JobTemplate (CreateJobTemplate JSON) of a profile.
    Template {
        /// A shipped profile name or a profile JSON file.
        #[arg(short, long, default_value = "default")]
        profile: String,
        /// Destination of every group, e.g. 's3://media/$fn$/' ($fn$: the input's name).
        #[arg(long)]
        dest: Option<String>,
    },
}

/// Runs the cloud subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        CloudCommand::Render {
            profile,
            input,
            dest,
            role,
            queue,
            source,
            job_id,
        } => {
            let profile = Profile::load(&profile)?;
            let plan = match &source {
                Some(src) => {
                    let media = engine::probe(src)?;
                    Some(profiles::plan(&profile, &media)?)
                }
                None => None,
            };
            let id = job_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let req = cloud::JobRequest {
                profile: &profile,
                input: &input,
                destination: &dest,
                role: &role,
                queue: queue.as_deref(),
                job_id: &id,
                plan: plan.as_ref(),
            };
            let job = cloud::render_job(&req)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&job).context("printing the job")?
            );
        }
        CloudCommand::Template { profile, dest } => {
            let profile = Profile::load(&profile)?;
            let t = cloud::render_template(&profile, dest.as_deref())?;
            println!(
                "{}",
                serde_json::to_string_pretty(&t).context("printing the template")?
            );
        }
    }
    Ok(())
}
