//! stack.json: the committed file is the generator's output, and tools no one here wrote
//! judge it: cfn-lint, checkov, botocore's endpoint data.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{python, root};
use mpe_cloud::profiles::Profile;
use mpe_cloud::stack;
use serde_json::Value;

fn stack_file() -> PathBuf {
    root().join("../stack.json")
}

fn committed() -> Value {
    let text = std::fs::read_to_string(stack_file()).expect("read stack.json");
    serde_json::from_str(&text).expect("stack.json is JSON")
}

/// A validator from `scripts/setup-stack-tools.sh` (installed on first use).
fn tool(name: &str) -> PathBuf {
    let venv = if name == "cfn-lint" { "cfnlint" } else { name };
    let bin = root().join(format!("../target/{venv}/bin/{name}"));
    if !bin.exists() {
        let out = Command::new("bash")
            .arg(root().join("../scripts/setup-stack-tools.sh"))
            .output()
            .expect("run scripts/setup-stack-tools.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    bin
}

#[test]
fn committed_stack_is_the_generators_output() {
    let text = std::fs::read_to_string(stack_file()).expect("read stack.json");
    let generated = stack::render().expect("generate");
    if std::env::var_os("MPE_BLESS").is_some() {
        std::fs::write(stack_file(), &generated).expect("write stack.json");
        return;
    }
    assert!(
        text == generated,
        "stack.json differs from the generator's output; run `cargo run -- cloud stack -o stack.json` (or scripts/bless-golden.sh)"
    );
}

#[test]
fn cfn_lint_finds_nothing_in_the_default_region_either() {
    let lint = tool("cfn-lint");
    for args in [
        vec![],
        vec!["--regions", stack::DEFAULT_REGION],
        vec!["--include-checks", "I"],
    ] {
        let out = Command::new(&lint)
            .args(&args)
            .arg("--")
            .arg(stack_file())
            .output()
            .expect("run cfn-lint");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && text.trim().is_empty(),
            "cfn-lint {args:?}:\n{text}"
        );
    }
}

#[test]
fn checkov_fails_nothing_and_every_skip_is_explained_in_the_docs() {
    let out = Command::new(tool("checkov"))
        .args([
            "--framework",
            "cloudformation",
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "-f",
        ])
        .arg(stack_file())
        .output()
        .expect("run checkov");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov JSON: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let summary = &report["summary"];
    assert_eq!(
        summary["failed"], 0,
        "{:#}",
        report["results"]["failed_checks"]
    );
    assert!(summary["passed"].as_u64().unwrap_or(0) > 100, "{summary}");
    assert_eq!(summary["parsing_errors"], 0, "{summary}");

    // Each skip sits on its resource with a reason, and docs/stack.md lists it.
    let docs = std::fs::read_to_string(root().join("../docs/stack.md")).expect("docs/stack.md");
    let stack = committed();
    let mut skips = 0;
    for (id, res) in stack["Resources"].as_object().expect("resources") {
        for s in res
            .pointer("/Metadata/checkov/skip")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let check = s["id"].as_str().expect("check id");
            let why = s["comment"].as_str().unwrap_or_default();
            assert!(why.len() > 20, "{id} skips {check} without a reason");
            assert!(
                docs.lines()
                    .any(|l| l.contains(check) && l.contains(id.as_str())),
                "docs/stack.md does not list {check} on {id}"
            );
            skips += 1;
        }
    }
    assert_eq!(summary["skipped"], skips, "{summary}");
}

#[test]
fn the_default_region_offers_mediaconvert_by_botocores_endpoint_data() {
    let python = python();
    // Everything the pipeline runs on must be offered in the region it is pinned to.
    let services = [
        "mediaconvert",
        "stepfunctions",
        "lambda",
        "s3",
        "dynamodb",
        "events",
    ];
    let out = Command::new(&python)
        .args([
            "-c",
            "import botocore.session, json, sys; s = botocore.session.get_session(); \
             print(json.dumps({x: s.get_available_regions(x) for x in sys.argv[1:]}))",
        ])
        .args(services)
        .output()
        .expect("botocore");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let regions: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_slice(&out.stdout).expect("regions");
    for svc in services {
        assert!(
            regions[svc].iter().any(|r| r == stack::DEFAULT_REGION),
            "{svc} is not offered in {}",
            stack::DEFAULT_REGION
        );
    }
    assert_eq!(
        committed()["Parameters"]["AllowedRegion"]["Default"],
        stack::DEFAULT_REGION
    );
}

/// Puts concrete buckets in place of the template's `Fn::Sub` destinations.
fn concrete(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::Sub") => {
            let s = m["Fn::Sub"].as_str().expect("a Sub string");
            Value::String(
                s.replace("${MediaBucket}", "media")
                    .replace("${ThumbnailsBucket}", "media"),
            )
        }
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), concrete(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(concrete).collect()),
        other => other.clone(),
    }
}

#[test]
fn every_job_template_is_mpe_cloud_template_for_its_profile() {
    let stack = committed();
    let templates: Vec<&Value> = stack["Resources"]
        .as_object()
        .expect("resources")
        .values()
        .filter(|r| r["Type"] == "AWS::MediaConvert::JobTemplate")
        .collect();
    let names: Vec<&str> = Profile::shipped_names().collect();
    assert_eq!(templates.len(), names.len());
    for name in names {
        let profile = Profile::shipped(name).expect("profile");
        let expected =
            mpe_cloud::render_template(&profile, Some("s3://media/$fn$/")).expect("template");
        let t = templates
            .iter()
            .find(|t| {
                t["Properties"]["Name"]["Fn::Sub"] == format!("mpe-{name}-${{EnvironmentSuffix}}")
            })
            .unwrap_or_else(|| panic!("no job template for profile {name}"));
        let p = &t["Properties"];
        // The thumbnails go to their own bucket; with both buckets the same, the settings
        // are exactly what `mpe cloud template` prints.
        assert_eq!(
            concrete(&p["SettingsJson"]),
            expected["Settings"],
            "profile {name}"
        );
        assert_eq!(p["Description"], expected["Description"]);
        assert_eq!(p["StatusUpdateInterval"], expected["StatusUpdateInterval"]);
    }
}
