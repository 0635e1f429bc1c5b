//! What the cloud crate's test binaries share: the crate's folder and the Python judges.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The cloud crate's folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with botocore (`scripts/setup-python.sh`, or `MPE_PYTHON`).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("MPE_PYTHON") {
        return p.into();
    }
    let out = Command::new("bash")
        .arg(root().join("../scripts/setup-python.sh"))
        .output()
        .expect("run scripts/setup-python.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Runs a Python snippet with `python` and `args` (its `sys.argv[1:]`); its stdout is
/// JSON of type `T`.
pub fn python_json<T: serde::de::DeserializeOwned>(
    python: &std::path::Path,
    script: &str,
    args: &[&str],
) -> T {
    let out = Command::new(python)
        .args(["-c", script])
        .args(args)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the snippet's JSON")
}
