//! JSON:API documents: a collection page (`data`, `included`, `links.self`/`links.next`, `meta.paging`) behind
//! an opaque `cursor`, and a single resource.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::errors::{invalid, ConnectError};
use super::params::{Params, MAX_LIMIT};

/// Where the call went: `origin` (`http://127.0.0.1:PORT`), the request path (with `/connect`) and its query.
pub(crate) struct Target<'a> {
    pub origin: &'a str,
    pub path: &'a str,
    pub query: &'a str,
}

impl Target<'_> {
    fn self_link(&self) -> String {
        if self.query.is_empty() {
            format!("{}{}", self.origin, self.path)
        } else {
            format!("{}{}?{}", self.origin, self.path, self.query)
        }
    }
}

/// A cursor names the offset of the next page and the path it was issued for (another path refuses it).
fn path_check(path: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(path.as_bytes())[..6])
}

pub(crate) fn encode_cursor(offset: usize, path: &str) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(offset.to_string()),
        path_check(path)
    )
}

pub(crate) fn decode_cursor(token: &str, path: &str) -> Result<usize, ConnectError> {
    let bad = || {
        invalid(
            "cursor",
            format!("'{token}' is not a valid cursor for this request"),
        )
    };
    let (offset, check) = token.split_once('.').ok_or_else(bad)?;
    if check != path_check(path) {
        return Err(bad());
    }
    let offset = URL_SAFE_NO_PAD.decode(offset).map_err(|_| bad())?;
    String::from_utf8(offset)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .ok_or_else(bad)
}

/// One page of `resources` (already in the API's order): filtered, capped at `limit` and at the simulator's
/// page size, with `included` built by `include` from the page's own resources when `include` was asked.
pub(crate) fn collection(
    target: &Target<'_>,
    params: &Params,
    page_cap: Option<usize>,
    mut resources: Vec<Value>,
    include: impl Fn(&Value) -> Vec<Value>,
) -> Result<Value, ConnectError> {
    resources.retain(|r| params.keeps(r));
    let total = resources.len();
    let offset = match &params.cursor {
        Some(token) => decode_cursor(token, target.path)?,
        None => 0,
    };
    let size = params.limit.min(page_cap.unwrap_or(MAX_LIMIT).max(1));
    let mut data: Vec<Value> = resources.into_iter().skip(offset).take(size).collect();

    let included = if params.includes.is_empty() {
        None
    } else {
        let mut included: Vec<Value> = Vec::new();
        for resource in &data {
            for extra in include(resource) {
                let same = |v: &Value| {
                    v.get("type") == extra.get("type") && v.get("id") == extra.get("id")
                };
                if !included.iter().any(same) {
                    included.push(extra);
                }
            }
        }
        Some(included)
    };
    for resource in &mut data {
        params.sparse(resource);
    }

    let mut links = json!({ "self": target.self_link() });
    if offset.saturating_add(size) < total {
        let mut pairs: Vec<(String, String)> = params
            .pairs
            .iter()
            .filter(|(k, _)| k != "cursor")
            .cloned()
            .collect();
        pairs.push((
            "cursor".to_owned(),
            encode_cursor(offset + size, target.path),
        ));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        links["next"] = json!(format!("{}{}?{query}", target.origin, target.path));
    }
    let mut document = json!({
        "data": data,
        "links": links,
        "meta": { "paging": { "total": total, "limit": size } },
    });
    if let Some(mut included) = included {
        for resource in &mut included {
            params.sparse(resource);
        }
        document["included"] = Value::Array(included);
    }
    Ok(document)
}

/// A single resource (`GET /v1/apps/{id}`, the grace period).
pub(crate) fn single(target: &Target<'_>, params: &Params, mut resource: Value) -> Value {
    params.sparse(&mut resource);
    json!({ "data": resource, "links": { "self": target.self_link() } })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::apple_sim::connect::params::Spec;

    const LIST: Spec = Spec {
        collection: true,
        filters: &[],
        includes: &[],
    };

    #[test]
    fn a_cursor_is_valid_only_for_the_path_it_was_issued_for() {
        let c = encode_cursor(40, "/connect/v1/apps");
        assert_eq!(decode_cursor(&c, "/connect/v1/apps").unwrap(), 40);
        assert!(decode_cursor(&c, "/connect/v1/apps/1/inAppPurchasesV2").is_err());
        assert!(decode_cursor("garbage", "/connect/v1/apps").is_err());
        assert!(decode_cursor("", "/connect/v1/apps").is_err());
    }

    #[test]
    fn pages_follow_next_until_every_resource_was_seen_once() {
        let target = Target {
            origin: "http://127.0.0.1:1",
            path: "/connect/v1/apps",
            query: "limit=3",
        };
        let all: Vec<Value> = (0..7)
            .map(|n| json!({"type": "apps", "id": n.to_string()}))
            .collect();
        let mut params = Params::parse("limit=3", &LIST).unwrap();
        let mut seen = Vec::new();
        loop {
            let doc = collection(&target, &params, Some(2), all.clone(), |_| Vec::new()).unwrap();
            assert_eq!(doc["meta"]["paging"]["total"], 7);
            assert_eq!(doc["meta"]["paging"]["limit"], 2);
            assert!(doc.get("included").is_none());
            seen.extend(
                doc["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].clone()),
            );
            let Some(next) = doc["links"]["next"].as_str() else {
                break;
            };
            let query = next.split_once('?').unwrap().1;
            assert!(query.starts_with("limit=3&cursor="));
            params = Params::parse(query, &LIST).unwrap();
        }
        let ids: Vec<Value> = (0..7).map(|n| json!(n.to_string())).collect();
        assert_eq!(seen, ids);
    }
}
