//! Percent-encoding of file names used as relative URIs in playlists and MPDs.

/// Encodes everything but RFC 3986 unreserved characters and `/`, so that names with
/// spaces or other characters still make valid relative URIs.
pub(crate) fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_spaces_and_reserved_characters() {
        assert_eq!(super::encode("a b_1080p.m3u8"), "a%20b_1080p.m3u8");
        assert_eq!(super::encode("x$y#z"), "x%24y%23z");
    }
}
