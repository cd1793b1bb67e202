//! Opaque `revision` tokens for History and Refund History.
//!
//! A revision names the position after the last item returned, in the endpoint's sort order, plus a digest
//! of the filters it was issued for. Resuming from a position (rather than an offset) is what makes a
//! transaction modified during paging come back again, and lets a stored last revision fetch only newer items.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::errors::{api, ApiResult, INVALID_REQUEST_REVISION};

pub(crate) const PAGE_SIZE: usize = 20;

fn digest(filter_key: &str) -> String {
    let hash = Sha256::digest(filter_key.as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// `after` is (sort date, transaction id) of the last item handed out, if any.
pub(crate) fn encode_revision(
    scope: &str,
    filter_key: &str,
    after: Option<&(i64, String)>,
) -> String {
    let position = match after {
        Some((date, id)) => format!("{date}:{id}"),
        None => "-".to_owned(),
    };
    URL_SAFE_NO_PAD.encode(format!("{scope}|{}|{position}", digest(filter_key)))
}

/// A revision from other filters, another endpoint or another customer is refused, as Apple does.
pub(crate) fn decode_revision(
    token: &str,
    scope: &str,
    filter_key: &str,
) -> ApiResult<Option<(i64, String)>> {
    let bad = || api(INVALID_REQUEST_REVISION);
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '|');
    let (Some(s), Some(d), Some(position)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if s != scope || d != digest(filter_key) {
        return Err(bad());
    }
    if position == "-" {
        return Ok(None);
    }
    let (date, id) = position.split_once(':').ok_or_else(bad)?;
    let date = date.parse::<i64>().map_err(|_| bad())?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok(Some((date, id.to_owned())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_round_trips_only_with_the_same_filters() {
        let after = (1_700_000_000_000, "2000000874121031".to_owned());
        let token = encode_revision("history", "filters-a", Some(&after));
        assert_eq!(
            decode_revision(&token, "history", "filters-a").unwrap(),
            Some(after)
        );
        assert!(decode_revision(&token, "history", "filters-b").is_err());
        assert!(decode_revision(&token, "refunds", "filters-a").is_err());
        assert!(decode_revision("not-a-revision", "history", "filters-a").is_err());
    }
}
