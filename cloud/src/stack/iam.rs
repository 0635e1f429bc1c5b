//! IAM building blocks: policy statements and documents, roles and their policies.

use serde_json::{json, Map, Value};

use super::{att, name, sub, tags, Resources};

/// What a role may do with the stack's key.
pub(super) const KEY_USE: &[&str] = &["kms:Decrypt", "kms:GenerateDataKey"];

/// One policy statement, built up from [`stmt`].
pub(super) struct Stmt(Map<String, Value>);

/// An Allow statement. Action and Resource are always lists, whatever their length.
pub(super) fn stmt(sid: &str, actions: &[&str], resources: Value) -> Stmt {
    let resources = match resources {
        Value::Array(_) => resources,
        one => json!([one]),
    };
    let mut m = Map::new();
    m.insert("Sid".into(), json!(sid));
    m.insert("Effect".into(), json!("Allow"));
    m.insert("Action".into(), json!(actions));
    m.insert("Resource".into(), resources);
    Stmt(m)
}

impl Stmt {
    pub(super) fn deny(mut self) -> Self {
        self.0.insert("Effect".into(), json!("Deny"));
        self
    }

    pub(super) fn principal(mut self, p: Value) -> Self {
        self.0.insert("Principal".into(), p);
        self
    }

    pub(super) fn condition(mut self, c: Value) -> Self {
        self.0.insert("Condition".into(), c);
        self
    }
}

/// A policy document.
pub(super) fn doc(statements: impl IntoIterator<Item = Stmt>) -> Value {
    let statements: Vec<Value> = statements.into_iter().map(|s| Value::Object(s.0)).collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Denies every action of `service` to requests not made over TLS.
pub(super) fn deny_insecure_transport(service: &str, resources: Value) -> Stmt {
    stmt(
        "DenyInsecureTransport",
        &[&format!("{service}:*")],
        resources,
    )
    .deny()
    // A Deny that must cover everyone, so the principal is everyone.
    .principal(json!("*"))
    .condition(json!({ "Bool": { "aws:SecureTransport": "false" } }))
}

/// X-Ray active tracing.
pub(super) fn write_traces(actions: &[&str]) -> Stmt {
    // "*": X-Ray defines no resource types for these actions.
    stmt("WriteTraces", actions, json!("*"))
}

/// The two actions a traced Lambda function needs.
pub(super) const LAMBDA_TRACES: &[&str] = &["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

/// Writes to one log group.
pub(super) fn own_logs(log_group_id: &str) -> Stmt {
    stmt(
        "WriteOwnLogs",
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        att(log_group_id, "Arn"),
    )
}

/// A role that `service` may assume, named `mpe-<kind>-role-<suffix>`; it holds only its
/// trust policy (see [`policy`]).
pub(super) fn role(
    res: &mut Resources,
    id: &str,
    kind: &str,
    service: &str,
    condition: Option<Value>,
) {
    let mut trust = stmt("TrustService", &["sts:AssumeRole"], Value::Null)
        .principal(json!({ "Service": service }));
    // A trust policy names no resource: the role is the resource.
    trust.0.remove("Resource");
    if let Some(c) = condition {
        trust = trust.condition(c);
    }
    res.add(
        id,
        "AWS::IAM::Role",
        json!({
            "RoleName": name(&format!("{kind}-role")),
            "Description": sub(&format!("mpe {kind} (${{EnvironmentSuffix}})")),
            "AssumeRolePolicyDocument": doc([trust]),
            "Tags": tags(),
        }),
    );
}

/// A role's permissions, named `mpe-<kind>-policy-<suffix>`.
///
/// They live in an AWS::IAM::Policy, never inline in the role: the key policy names the
/// roles, so an inline policy naming the key would be a dependency cycle.
pub(super) fn policy(
    res: &mut Resources,
    id: &str,
    kind: &str,
    role_id: &str,
    statements: Vec<Stmt>,
) {
    res.add(
        id,
        "AWS::IAM::Policy",
        json!({
            "PolicyName": name(&format!("{kind}-policy")),
            "Roles": [super::ref_(role_id)],
            "PolicyDocument": doc(statements),
        }),
    );
}
