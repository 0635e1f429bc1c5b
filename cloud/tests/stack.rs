//! stack.json: the committed file is the generator's output, and tools no one here wrote
//! judge it: cfn-lint, checkov, botocore's endpoint data.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{python, python_json, root};
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
    let regions: std::collections::BTreeMap<String, Vec<String>> = python_json(
        &python,
        "import botocore.session, json, sys; s = botocore.session.get_session(); \
         print(json.dumps({x: s.get_available_regions(x) for x in sys.argv[1:]}))",
        &services,
    );
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
        // Every other member of the template, under its CloudFormation name.
        for (key, value) in expected.as_object().expect("template") {
            match key.as_str() {
                "Settings" => {}
                "Name" => assert_eq!(value, &format!("mpe-{name}")),
                _ => assert_eq!(&p[key], value, "profile {name}: {key}"),
            }
        }
    }
}

/// An event document from `cloud/tests/events/` (real shapes, as EventBridge delivers).
fn event(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join(format!("tests/events/{name}.json")))
        .expect("event file");
    serde_json::from_str(&text).expect("event JSON")
}

/// A rule's EventPattern with its references made concrete, as deployed with the
/// suffix `dev` in account 123456789012, eu-west-3 (the names the event files carry).
fn pattern(stack: &Value, rule: &str) -> Value {
    fn resolve(v: &Value) -> Value {
        match v {
            Value::Object(m) if m.get("Ref") == Some(&Value::from("RawBucket")) => {
                Value::from("mpe-raw-dev-123456789012")
            }
            Value::Object(m) if m.contains_key("Fn::GetAtt") => {
                assert_eq!(
                    m["Fn::GetAtt"],
                    serde_json::json!(["MediaConvertQueue", "Arn"])
                );
                Value::from("arn:aws:mediaconvert:eu-west-3:123456789012:queues/mpe-queue-dev")
            }
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve(v))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(resolve).collect()),
            other => other.clone(),
        }
    }
    resolve(&stack["Resources"][rule]["Properties"]["EventPattern"])
}

#[test]
fn the_rules_match_the_real_events_by_eventbridges_matcher() {
    let stack = committed();
    let upload = pattern(&stack, "UploadRule");
    let state = pattern(&stack, "JobStateRule");
    let upload_status = pattern(&stack, "StatusUploadRule");
    let job_status = pattern(&stack, "StatusJobRule");
    let created = event("s3-object-created");
    let mut elsewhere = created.clone();
    elsewhere["detail"]["object"]["key"] = Value::from("logs/2026-11-25.txt");
    let mut other_bucket = created.clone();
    other_bucket["detail"]["bucket"]["name"] = Value::from("someone-elses-bucket");
    let mut deleted = created.clone();
    deleted["detail-type"] = Value::from("Object Deleted");
    deleted["detail"]["reason"] = Value::from("DeleteObject");
    let mut other_queue = event("mediaconvert-complete");
    other_queue["detail"]["queue"] =
        Value::from("arn:aws:mediaconvert:eu-west-3:123456789012:queues/Default");
    // (pattern, event, whether EventBridge delivers it)
    let cases = serde_json::json!([
        [upload, created, true],
        [upload, elsewhere, false],
        [upload, other_bucket, false],
        [upload, deleted, false],
        [state, event("mediaconvert-complete"), true],
        [state, event("mediaconvert-error"), true],
        [state, event("mediaconvert-progressing"), false],
        [state, other_queue, false],
        [state, created, false],
        [upload_status, created, true],
        [upload_status, elsewhere, false],
        [upload_status, other_bucket, false],
        [upload_status, deleted, false],
        [job_status, event("mediaconvert-progressing"), true],
        [job_status, event("mediaconvert-complete"), true],
        [job_status, event("mediaconvert-error"), true],
        [job_status, other_queue, false],
        [job_status, created, false],
    ]);
    // moto's implementation of EventBridge's pattern matching, in process. (It cannot
    // take an event that lacks an object the pattern descends into, so every event
    // here has the shape its rule's source sends.)
    let script = "import json, sys\n\
        from moto.events.models import EventPattern\n\
        cases = json.loads(sys.argv[1])\n\
        print(json.dumps([EventPattern.load(json.dumps(p)).matches_event(e) for p, e, _ in cases]))";
    let got: Vec<bool> = python_json(&python(), script, &[&cases.to_string()]);
    let want: Vec<bool> = cases
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| c[2].as_bool().expect("bool"))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn every_taggable_resource_is_tagged_by_the_resource_schemas() {
    let stack = committed();
    let resources = stack["Resources"].as_object().expect("resources");
    let types: std::collections::BTreeSet<&str> = resources
        .values()
        .filter_map(|r| r["Type"].as_str())
        .collect();
    // The CloudFormation resource schemas cfn-lint ships say which types take tags.
    let script = "import json, os, sys, cfnlint\n\
        base = os.path.join(os.path.dirname(cfnlint.__file__), 'data', 'schemas')\n\
        index = json.load(open(os.path.join(base, 'providers', sys.argv[1] + '.json')))\n\
        out = {}\n\
        for t in sys.argv[2:]:\n\
        \x20   s = json.load(open(os.path.join(base, 'resources', index[t] + '.json')))\n\
        \x20   tagging = s.get('tagging', {})\n\
        \x20   out[t] = tagging.get('tagProperty', '/properties/Tags').split('/')[-1] if tagging.get('taggable') else None\n\
        print(json.dumps(out))";
    let lint_python = tool("cfn-lint").with_file_name("python");
    let mut args = vec![stack::DEFAULT_REGION];
    args.extend(&types);
    let taggable: std::collections::BTreeMap<String, Option<String>> =
        python_json(&lint_python, script, &args);
    let mut tagged = 0;
    for (id, r) in resources {
        let t = r["Type"].as_str().expect("type");
        if let Some(Some(property)) = taggable.get(t) {
            let tags = &r["Properties"][property];
            assert!(!tags.is_null(), "{id} ({t}) takes {property} but has none");
            assert!(
                tags.to_string().contains("EnvironmentSuffix"),
                "{id}: {tags}"
            );
            tagged += 1;
        }
    }
    assert!(tagged >= 40, "only {tagged} tagged resources");
    // Every log group expires by the LogRetentionDays parameter.
    for (id, r) in resources {
        if r["Type"] == "AWS::Logs::LogGroup" {
            assert_eq!(
                r["Properties"]["RetentionInDays"],
                serde_json::json!({ "Ref": "LogRetentionDays" }),
                "{id}"
            );
        }
    }
}
