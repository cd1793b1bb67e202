//! Addresses of the console's pages, built in one place: percent-encoding, query strings and the sign-in redirect.
//! Handlers, templates and error pages call these instead of writing URLs by hand.

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn urldecode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Builds `path?k=v&…` with every value percent-encoded.
pub fn link(path: &str, pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return path.to_owned();
    }
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{path}?{query}")
}

/// The sign-in page, leading back to `next` afterwards when that is a path of this console.
pub fn login(next: &str) -> String {
    if next.is_empty() || next == "/" || !next.starts_with('/') || next.starts_with("//") {
        "/login".to_string()
    } else {
        format!("/login?next={}", urlencode(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoding_round_trips() {
        let s = "ok|Saved “Key” 100% & done";
        assert_eq!(urldecode(&urlencode(s)), s);
        assert_eq!(urlencode("/projects?x=1"), "/projects%3Fx%3D1");
    }
}
