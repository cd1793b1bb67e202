//! Query strings as Apple's clients send them: repeated keys for lists, `true`/`True`, a trailing bare `?`.

use super::errors::{api, ApiResult, GENERAL_BAD_REQUEST};

pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(raw: &str) -> ApiResult<Self> {
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .map_err(|_| api(GENERAL_BAD_REQUEST))?;
        Ok(Self { pairs })
    }

    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The last value wins when a scalar parameter is repeated.
    pub(crate) fn one(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Python's client sends `True`/`False`; everyone else lowercase.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Apple's ids are decimal strings; anything else is refused before lookup.
pub(crate) fn is_numeric_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_and_empty_query_parse() {
        let q = Query::parse("productId=a&productId=b&revoked=True").unwrap();
        assert_eq!(q.all("productId"), vec!["a", "b"]);
        assert_eq!(q.one("revoked").and_then(parse_bool), Some(true));
        assert!(Query::parse("").unwrap().all("x").is_empty());
    }

    #[test]
    fn ids_must_be_digits() {
        assert!(is_numeric_id("2000000874121031"));
        assert!(!is_numeric_id("20000008741x"));
        assert!(!is_numeric_id(""));
        assert!(!is_numeric_id("-1"));
    }
}
