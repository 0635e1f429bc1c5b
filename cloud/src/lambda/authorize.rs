//! The `authorize` handler: API Gateway's Lambda authorizer (payload 2.0, simple
//! responses) for the upload and status API; a request is let through when it carries
//! the API token kept in Secrets Manager, as `Authorization: Bearer TOKEN` or, for the
//! event stream (an EventSource sends no headers), as `?token=`.

use serde_json::{json, Value};

/// The token a request carries, if any.
pub fn token_of(event: &Value) -> Option<&str> {
    let header = event["headers"]["authorization"]
        .as_str()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    let query = || {
        (event["rawPath"].as_str() == Some("/api/events"))
            .then(|| event["queryStringParameters"]["token"].as_str())
            .flatten()
    };
    header.or_else(query)
}

/// Whether `a` and `b` are the same secret, in time that does not depend on where they
/// first differ.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The authorizer's answer to `event` for the API's `token`.
pub fn handle(token: &str, event: &Value) -> Value {
    let ok = !token.is_empty()
        && token_of(event).is_some_and(|given| same_secret(given.as_bytes(), token.as_bytes()));
    json!({ "isAuthorized": ok })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_passes_in_its_two_places() {
        let ask = |headers: Value, path: &str, query: Value| {
            handle(
                "s3cret",
                &json!({ "rawPath": path, "headers": headers, "queryStringParameters": query }),
            )["isAuthorized"]
                .as_bool()
                .expect("bool")
        };
        let none = json!({});
        assert!(ask(
            json!({"authorization": "Bearer s3cret"}),
            "/api/status",
            none.clone()
        ));
        assert!(!ask(
            json!({"authorization": "Bearer s3cre"}),
            "/api/status",
            none.clone()
        ));
        assert!(!ask(
            json!({"authorization": "s3cret"}),
            "/api/status",
            none.clone()
        ));
        assert!(!ask(none.clone(), "/api/status", none.clone()));
        assert!(ask(none.clone(), "/api/events", json!({"token": "s3cret"})));
        assert!(!ask(
            none.clone(),
            "/api/status",
            json!({"token": "s3cret"})
        ));
        assert!(
            !handle("", &json!({"headers": {"authorization": "Bearer "}}))["isAuthorized"]
                .as_bool()
                .expect("bool")
        );
    }
}
