//! Trick play for finished jobs, drawn as the stack's status handler draws it: the job's
//! frame captures read back from the thumbnails bucket, tiled by `cloud::trickplay`, the
//! sheets and track written to the media bucket before the upload is said COMPLETE.

use std::path::Path;

use serde_json::Value;

use crate::mediaconvert::s3::S3;

/// Draws the trick play a COMPLETE event's job asked for; `Some(reason)` when it could not
/// be drawn (the upload then ends in ERROR with it), `None` when it was, or none was owed.
pub fn draw(s3: &S3, scratch: &Path, event: &Value) -> Option<String> {
    let work = match cloud::trickplay::Work::of(event)? {
        Ok(w) => w,
        Err(e) => return Some(e.to_string()),
    };
    let job = event["detail"]["jobId"].as_str().unwrap_or("job");
    let dir = scratch.join(format!("trickplay-{job}"));
    let result = publish(s3, &dir, &work);
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(()) => None,
        Err(e) => {
            tracing::error!(job, error = %e, "drawing trick play");
            Some(format!("trick play: {e:#}"))
        }
    }
}

fn publish(s3: &S3, dir: &Path, work: &cloud::trickplay::Work) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join("file");
    let mut frames = Vec::with_capacity(work.frames.len());
    for uri in &work.frames {
        s3.get(uri, &tmp)?;
        frames.push(std::fs::read(&tmp)?);
    }
    for f in cloud::trickplay::draw(work, &frames)? {
        std::fs::write(&tmp, &f.body)?;
        s3.put(&tmp, &f.uri)?;
    }
    Ok(())
}
