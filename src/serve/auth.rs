//! Who may call `mpe serve`: one access key, from MPE_ACCESS_KEY_ID /
//! MPE_SECRET_ACCESS_KEY or made at first start into `DATA/credentials` (the AWS CLI's
//! credentials-file format, mode 0600), and the SigV4 check of requests that s3s does
//! not see (the MediaConvert API's).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::hex;

/// An access key and its secret.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id.
    pub key: String,
    /// The secret.
    pub secret: String,
    /// Where they came from, for the start-up line.
    pub origin: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, from {})", self.key, self.origin)
    }
}

/// The credentials: the environment's, else the config's (`configured`), else
/// `DATA/credentials`, made if missing unless `must_be_given` (a server reachable from
/// other hosts must not run on keys it printed).
pub fn load(
    data: &Path,
    configured: Option<(String, String)>,
    must_be_given: bool,
) -> anyhow::Result<Credentials> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (env("MPE_ACCESS_KEY_ID"), env("MPE_SECRET_ACCESS_KEY")) {
        (Some(key), Some(secret)) => {
            check(&key, &secret)?;
            return Ok(Credentials {
                key,
                secret,
                origin: "MPE_ACCESS_KEY_ID".into(),
            });
        }
        (None, None) => {}
        _ => bail!("set both MPE_ACCESS_KEY_ID and MPE_SECRET_ACCESS_KEY, or neither"),
    }
    if let Some((key, secret)) = configured {
        check(&key, &secret)?;
        return Ok(Credentials {
            key,
            secret,
            origin: "the config file".into(),
        });
    }
    if must_be_given {
        bail!(
            "listening beyond loopback needs credentials given explicitly: set \
             MPE_ACCESS_KEY_ID and MPE_SECRET_ACCESS_KEY, or access_key_id and \
             secret_access_key in --config"
        );
    }
    let file = data.join("credentials");
    if file.exists() {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let mut pairs = BTreeMap::new();
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                pairs.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        let (Some(key), Some(secret)) = (
            pairs.get("aws_access_key_id"),
            pairs.get("aws_secret_access_key"),
        ) else {
            bail!(
                "{}: no aws_access_key_id and aws_secret_access_key in it",
                file.display()
            );
        };
        check(key, secret)?;
        return Ok(Credentials {
            key: key.clone(),
            secret: secret.clone(),
            origin: file.display().to_string(),
        });
    }
    let random = || {
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .to_ascii_uppercase()
    };
    let key = format!("MPE{}", &random()[..17]);
    let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), &random()[..8]);
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .with_context(|| format!("creating {}", file.display()))?;
    writeln!(
        f,
        "[default]\naws_access_key_id = {key}\naws_secret_access_key = {secret}"
    )
    .and_then(|()| f.sync_all())
    .with_context(|| format!("writing {}", file.display()))?;
    Ok(Credentials {
        key,
        secret,
        origin: file.display().to_string(),
    })
}

fn check(key: &str, secret: &str) -> anyhow::Result<()> {
    if key.len() < 3 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bail!("the access key id must be at least 3 letters and digits");
    }
    if secret.len() < 8
        || secret
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        bail!("the secret access key must be at least 8 characters, without spaces");
    }
    Ok(())
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Whether two secrets (signatures, tokens) are equal, in time that does not depend on
/// where they differ.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    cloud::lambda::authorize::same_secret(a, b)
}

/// SigV4's URI encoding: everything but unreserved characters, `/` kept where asked.
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// Checks a header-signed SigV4 request (Authorization: AWS4-HMAC-SHA256 ...) for
/// `service` against `creds`; `path` is the raw (still percent-encoded) path.
pub fn verify(
    creds: &Credentials,
    service: &str,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> Result<(), Denied> {
    let deny = |m: &str| Err(Denied(m.to_string()));
    let Some(auth) = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return deny("the request is not signed (no Authorization header)");
    };
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return deny("only AWS4-HMAC-SHA256 signatures are accepted");
    };
    let mut parts = BTreeMap::new();
    for p in rest.split(',') {
        if let Some((k, v)) = p.trim().split_once('=') {
            parts.insert(k, v);
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (
        parts.get("Credential"),
        parts.get("SignedHeaders"),
        parts.get("Signature"),
    ) else {
        return deny("the Authorization header lacks Credential, SignedHeaders or Signature");
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key, date, region, svc, "aws4_request"] = scope[..] else {
        return deny("malformed credential scope");
    };
    if key != creds.key {
        return deny("the access key id is not this server's");
    }
    if svc != service {
        return deny("the credential scope names another service");
    }
    let Some(amz_date) = headers.get("x-amz-date").and_then(|v| v.to_str().ok()) else {
        return deny("no x-amz-date header");
    };
    if !amz_date.starts_with(date) {
        return deny("the credential scope's date is not the request's");
    }
    let when = time_of(amz_date).ok_or_else(|| Denied("x-amz-date is not a date".into()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if (now - when).abs() > 15 * 60 {
        return deny("the request's time is more than 15 minutes from the server's");
    }
    let mut canon_headers = String::new();
    for name in signed.split(';') {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return deny("a signed header is missing");
        }
        canon_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let mut q: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (encode(&k, false), encode(&v, false)))
        .collect();
    q.sort();
    let canon_query = q
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    // Services other than S3 encode the (already encoded) path once more.
    let canon_path = encode(if path.is_empty() { "/" } else { path }, true);
    let payload = hex(&Sha256::digest(body));
    let canonical =
        format!("{method}\n{canon_path}\n{canon_query}\n{canon_headers}\n{signed}\n{payload}");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{svc}/aws4_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let k = hmac(format!("AWS4{}", creds.secret).as_bytes(), date);
    let k = hmac(&k, region);
    let k = hmac(&k, svc);
    let k = hmac(&k, "aws4_request");
    let expected = hex(&hmac(&k, &to_sign));
    if !same_secret(expected.as_bytes(), signature.as_bytes()) {
        return deny("the request signature does not match (check the secret access key)");
    }
    Ok(())
}

/// Seconds since the epoch of `YYYYMMDDTHHMMSSZ`.
fn time_of(s: &str) -> Option<i64> {
    if s.len() != 16 || &s[8..9] != "T" || !s.ends_with('Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (hh, mm, ss) = (n(9..11)?, n(11..13)?, n(13..15)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// The service a signed request names in its credential scope, if any.
pub fn scope_service(headers: &hyper::HeaderMap, query: Option<&str>) -> Option<String> {
    let from_header = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split(',').next())
        .map(str::to_string);
    let from_query = || {
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.into_owned())
    };
    let cred = from_header.or_else(from_query)?;
    cred.split('/').nth(3).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_count_from_the_epoch() {
        assert_eq!(time_of("19700101T000000Z"), Some(0));
        assert_eq!(time_of("20261203T153000Z"), Some(1_796_311_800));
        assert_eq!(time_of("2026-12-03"), None);
    }
}
