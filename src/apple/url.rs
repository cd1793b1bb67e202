//! Building a call's address under a configured base URL, for both of Apple's APIs.
use reqwest::Url;

/// `base` with `segments` pushed onto its path and `query` as its whole query. Ids come from users and Apple, so
/// each is pushed as one segment, percent-encoded: an id can never reach another path. `None` for a base that
/// cannot take a path (`mailto:…`).
pub(crate) fn under(base: &Url, segments: &[&str], query: &[(&str, String)]) -> Option<Url> {
    let mut url = base.clone();
    {
        let mut path = url.path_segments_mut().ok()?;
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    url.set_query(None);
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    Some(url)
}
