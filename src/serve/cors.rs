//! Bucket CORS as S3 keeps and applies it: each bucket's configuration (PutBucketCors)
//! saved under `DATA/.cors/`, browsers' preflight OPTIONS answered from its rules, and
//! the matching rule's headers added to the answers of cross-origin requests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use s3s::dto::{CORSConfiguration, CORSRule};

/// The CORS configurations of every bucket.
pub struct Cors {
    dir: PathBuf,
    map: Mutex<BTreeMap<String, CORSConfiguration>>,
}

fn matches(pattern: &str, value: &str) -> bool {
    // S3 allows one '*' wildcard in an origin or header rule.
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(value),
        Some((pre, post)) => {
            value.len() >= pre.len() + post.len()
                && value[..pre.len()].eq_ignore_ascii_case(pre)
                && value[value.len() - post.len()..].eq_ignore_ascii_case(post)
        }
    }
}

impl Cors {
    /// Loads the saved configurations from `data/.cors`.
    pub fn open(data: &std::path::Path) -> std::io::Result<Cors> {
        let dir = data.join(".cors");
        std::fs::create_dir_all(&dir)?;
        let mut map = BTreeMap::new();
        for e in std::fs::read_dir(&dir)? {
            let e = e?;
            let path = e.path();
            let (Some(bucket), Some("json")) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) else {
                continue;
            };
            match std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<CORSConfiguration>(&b).ok())
            {
                Some(c) => {
                    map.insert(bucket.to_string(), c);
                }
                None => {
                    tracing::warn!(file = %path.display(), "unreadable CORS configuration skipped")
                }
            }
        }
        Ok(Cors {
            dir,
            map: Mutex::new(map),
        })
    }

    /// The configuration of `bucket`.
    pub fn get(&self, bucket: &str) -> Option<CORSConfiguration> {
        self.map.lock().ok()?.get(bucket).cloned()
    }

    /// Sets (or with `None` removes) the configuration of `bucket`, on disk first.
    pub fn set(&self, bucket: &str, c: Option<CORSConfiguration>) -> std::io::Result<()> {
        let path = self.dir.join(format!("{bucket}.json"));
        match &c {
            Some(c) => {
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, serde_json::to_vec(c).map_err(std::io::Error::other)?)?;
                std::fs::rename(&tmp, &path)?;
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            },
        }
        let mut map = self
            .map
            .lock()
            .map_err(|_| std::io::Error::other("CORS lock"))?;
        match c {
            Some(c) => map.insert(bucket.to_string(), c),
            None => map.remove(bucket),
        };
        Ok(())
    }

    /// The first rule of `bucket` that lets `origin` make a `method` request with
    /// `headers`.
    pub fn rule(
        &self,
        bucket: &str,
        origin: &str,
        method: &str,
        headers: &[String],
    ) -> Option<CORSRule> {
        let c = self.get(bucket)?;
        c.cors_rules.into_iter().find(|r| {
            r.allowed_origins.iter().any(|o| matches(o, origin))
                && r.allowed_methods
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(method))
                && headers.iter().all(|h| {
                    r.allowed_headers
                        .as_ref()
                        .is_some_and(|a| a.iter().any(|p| matches(p, h)))
                })
        })
    }
}

/// The headers a matched rule adds to an answer for `origin`.
pub fn headers(
    rule: &CORSRule,
    origin: &str,
    preflight: Option<&[String]>,
) -> Vec<(&'static str, String)> {
    let any = rule.allowed_origins.iter().any(|o| o == "*");
    let mut out = vec![
        (
            "access-control-allow-origin",
            if any {
                "*".to_string()
            } else {
                origin.to_string()
            },
        ),
        ("vary", "Origin".to_string()),
    ];
    if let Some(e) = rule.expose_headers.as_ref().filter(|e| !e.is_empty()) {
        out.push(("access-control-expose-headers", e.join(", ")));
    }
    if let Some(requested) = preflight {
        out.push((
            "access-control-allow-methods",
            rule.allowed_methods.join(", "),
        ));
        if !requested.is_empty() {
            out.push(("access-control-allow-headers", requested.join(", ")));
        }
        if let Some(age) = rule.max_age_seconds {
            out.push(("access-control-max-age", age.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn origins_match_with_one_wildcard() {
        assert!(matches("*", "http://a.example"));
        assert!(matches("http://*.example", "http://a.example"));
        assert!(!matches("http://*.example", "https://a.example"));
        assert!(matches("HTTP://A.example", "http://a.example"));
        assert!(!matches("http://a.example", "http://b.example"));
    }
}
