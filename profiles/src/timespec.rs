//! Positions in a video as people write them: seconds, clock time, a percentage, or a
//! distance from the end.
//!
//! Grammar (whitespace around the value is ignored):
//! - `5`, `2.5`, `2.5s`, `1500ms`: seconds from the start;
//! - `01:30`, `00:01:30.5`: `[HH:]MM:SS[.fff]`;
//! - `25%`: a share of the duration, 0 to 100;
//! - `end`, `end-2s`, `end-00:00:02`: back from the end (`end` is the last frame).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::TimeError;

/// A position in a video, resolved against its duration by [`TimeSpec::resolve`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TimeValue", into = "String")]
pub struct TimeSpec {
    kind: Kind,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Seconds(f64),
    Percent(f64),
    FromEnd(f64),
}

impl TimeSpec {
    /// The time `seconds` from the start.
    pub fn seconds(seconds: f64) -> TimeSpec {
        TimeSpec {
            kind: Kind::Seconds(seconds),
            text: format!("{seconds}"),
        }
    }

    /// `percent` % of the duration.
    pub fn percent(percent: f64) -> TimeSpec {
        TimeSpec {
            kind: Kind::Percent(percent),
            text: format!("{percent}%"),
        }
    }

    /// The value as it was written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the position depends on the duration (a percentage or `end`).
    pub fn needs_duration(&self) -> bool {
        !matches!(self.kind, Kind::Seconds(_))
    }

    /// Seconds from the start of a video lasting `duration` seconds. The result may lie
    /// outside `[0, duration]` (`end-20s` of a 10 s video); callers decide what that means.
    pub fn resolve(&self, duration: f64) -> f64 {
        match self.kind {
            Kind::Seconds(s) => s,
            Kind::Percent(p) => duration * p / 100.0,
            Kind::FromEnd(back) => duration - back,
        }
    }
}

impl fmt::Display for TimeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<TimeSpec> for String {
    fn from(t: TimeSpec) -> String {
        t.text
    }
}

/// A profile may write a time as a JSON number (seconds) or as a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum TimeValue {
    Number(f64),
    Text(String),
}

impl TryFrom<TimeValue> for TimeSpec {
    type Error = TimeError;
    fn try_from(v: TimeValue) -> Result<TimeSpec, TimeError> {
        match v {
            TimeValue::Number(n) => format!("{n}").parse(),
            TimeValue::Text(t) => t.parse(),
        }
    }
}

impl FromStr for TimeSpec {
    type Err = TimeError;

    fn from_str(s: &str) -> Result<TimeSpec, TimeError> {
        let text = s.trim();
        let err = |reason: &str| TimeError {
            value: s.to_string(),
            reason: reason.to_string(),
        };
        if text.is_empty() {
            return Err(err("empty time"));
        }
        let kind = if let Some(rest) = text.strip_prefix("end") {
            let rest = rest.trim_start();
            if rest.is_empty() {
                Kind::FromEnd(0.0)
            } else if let Some(back) = rest.strip_prefix('-') {
                Kind::FromEnd(duration(back.trim()).map_err(|r| err(&r))?)
            } else {
                return Err(err("expected `end` or `end-<duration>`, e.g. end-2s"));
            }
        } else if let Some(p) = text.strip_suffix('%') {
            let p: f64 = p
                .trim()
                .parse()
                .map_err(|_| err("not a percentage, e.g. 25%"))?;
            if !(0.0..=100.0).contains(&p) {
                return Err(err("a percentage must be within 0% and 100%"));
            }
            Kind::Percent(p)
        } else {
            Kind::Seconds(duration(text).map_err(|r| err(&r))?)
        };
        Ok(TimeSpec {
            kind,
            text: text.to_string(),
        })
    }
}

/// Parses a non-negative duration: seconds (`2.5`, `2.5s`, `1500ms`) or `[HH:]MM:SS[.f]`.
pub fn duration(text: &str) -> Result<f64, String> {
    let bad = || "expected seconds (5, 2.5s, 1500ms) or [HH:]MM:SS[.fff]".to_string();
    if text.starts_with('-') {
        return Err("negative time".into());
    }
    let value = if text.contains(':') {
        let parts: Vec<&str> = text.split(':').collect();
        if parts.len() > 3 {
            return Err(bad());
        }
        let mut total = 0.0;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let ok = !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_digit() || (last && c == '.'));
            if !ok {
                return Err(bad());
            }
            let v: f64 = part.parse().map_err(|_| bad())?;
            if i > 0 && v >= 60.0 {
                return Err(format!("{part} is not below 60"));
            }
            total = total * 60.0 + v;
        }
        total
    } else if let Some(ms) = text.strip_suffix("ms") {
        number(ms).ok_or_else(bad)? / 1000.0
    } else {
        number(text.strip_suffix('s').unwrap_or(text)).ok_or_else(bad)?
    };
    if !value.is_finite() {
        return Err(bad());
    }
    Ok(value)
}

fn number(text: &str) -> Option<f64> {
    let t = text.trim();
    // Only plain decimals: "inf", "nan" and exponents are not times anyone writes.
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    t.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str, duration: f64) -> f64 {
        s.parse::<TimeSpec>().expect(s).resolve(duration)
    }

    #[test]
    fn every_form_resolves() {
        assert_eq!(at("5", 60.0), 5.0);
        assert_eq!(at(" 2.5s ", 60.0), 2.5);
        assert_eq!(at("1500ms", 60.0), 1.5);
        assert_eq!(at("01:30", 600.0), 90.0);
        assert_eq!(at("00:01:30.5", 600.0), 90.5);
        assert_eq!(at("25%", 60.0), 15.0);
        assert_eq!(at("end", 60.0), 60.0);
        assert_eq!(at("end-2s", 60.0), 58.0);
        assert_eq!(at("end-00:00:02", 60.0), 58.0);
        assert!(!"5".parse::<TimeSpec>().expect("5").needs_duration());
        assert!("end".parse::<TimeSpec>().expect("end").needs_duration());
    }

    #[test]
    fn bad_values_are_named_in_the_error() {
        for bad in [
            "", "-1", "abc", "5x", "1:2:3:4", "00:75", "150%", "end+2", "end-", "inf", "1e3", "nan",
        ] {
            let e = bad.parse::<TimeSpec>().expect_err(bad);
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn json_numbers_and_strings_both_work() {
        let v: Vec<TimeSpec> = serde_json::from_str(r#"[3, "25%", "end-1s"]"#).expect("parse");
        assert_eq!(v[0].resolve(10.0), 3.0);
        assert_eq!(v[1].resolve(10.0), 2.5);
        assert_eq!(v[2].resolve(10.0), 9.0);
        assert!(serde_json::from_str::<Vec<TimeSpec>>(r#"["soon"]"#).is_err());
        assert_eq!(
            serde_json::to_string(&v).expect("json"),
            r#"["3","25%","end-1s"]"#
        );
    }
}
