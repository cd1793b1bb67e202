//! The few parts of a JSON:API document (jsonapi.org, as App Store Connect writes it) that storedesk reads:
//! resources with attributes and to-one relationships, `included`, `links.next`, and the `errors` array.
use serde::Deserialize;
use serde_json::{Map, Value};

use super::ConnectError;

#[derive(Debug, Deserialize)]
pub(super) struct Document {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    pub(super) included: Vec<Resource>,
    #[serde(default)]
    links: Option<Links>,
}

#[derive(Debug, Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct Resource {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) id: String,
    #[serde(default)]
    attributes: Map<String, Value>,
    #[serde(default)]
    relationships: Map<String, Value>,
}

impl Resource {
    /// A string attribute; empty when absent or null (App Store Connect leaves out what is not set).
    pub(super) fn text(&self, name: &str) -> String {
        self.opt_text(name).unwrap_or_default()
    }

    pub(super) fn opt_text(&self, name: &str) -> Option<String> {
        match self.attributes.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    pub(super) fn int(&self, name: &str) -> Option<i64> {
        match self.attributes.get(name) {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
    }

    pub(super) fn flag(&self, name: &str) -> Option<bool> {
        self.attributes.get(name).and_then(Value::as_bool)
    }

    /// The id of a to-one relationship (`relationships.territory.data.id`).
    pub(super) fn related(&self, name: &str) -> Option<&str> {
        self.relationships
            .get(name)?
            .get("data")?
            .get("id")?
            .as_str()
    }
}

impl Document {
    pub(super) fn next_link(&self) -> Option<&str> {
        self.links
            .as_ref()?
            .next
            .as_deref()
            .filter(|s| !s.is_empty())
    }

    /// `data` as a list of resources (a collection).
    pub(super) fn many(&self) -> Result<Vec<Resource>, ConnectError> {
        match &self.data {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    Resource::deserialize(v).map_err(|_| {
                        ConnectError::Unreadable("a resource has no type or id".into())
                    })
                })
                .collect(),
            _ => Err(ConnectError::Unreadable("a list was expected".into())),
        }
    }

    /// `data` as one resource.
    pub(super) fn single(&self) -> Result<Resource, ConnectError> {
        match &self.data {
            Some(v @ Value::Object(_)) => Resource::deserialize(v)
                .map_err(|_| ConnectError::Unreadable("the resource has no type or id".into())),
            _ => Err(ConnectError::Unreadable("one resource was expected".into())),
        }
    }
}

/// The first error's `code` and `detail` (or `title`), from `{"errors": [...]}`.
pub(super) fn first_error(body: &[u8]) -> Option<(String, String)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let first = value.get("errors")?.as_array()?.first()?;
    let code = first.get("code")?.as_str()?.to_owned();
    let detail = first
        .get("detail")
        .or_else(|| first.get("title"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(300)
        .collect();
    Some((code, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collection_with_included_resources_and_a_next_link_is_read() {
        let doc: Document = serde_json::from_str(
            r#"{"data":[{"type":"subscriptionPrices","id":"p1","attributes":{"startDate":null},
                "relationships":{"territory":{"data":{"type":"territories","id":"USA"}}}}],
                "included":[{"type":"territories","id":"USA","attributes":{"currency":"USD"}}],
                "links":{"self":"https://x/v1/a","next":"https://x/v1/a?cursor=Mg"},
                "meta":{"paging":{"total":2,"limit":1}}}"#,
        )
        .unwrap();
        let data = doc.many().unwrap();
        assert_eq!(data[0].related("territory"), Some("USA"));
        assert_eq!(data[0].opt_text("startDate"), None);
        assert_eq!(doc.included[0].text("currency"), "USD");
        assert_eq!(doc.next_link(), Some("https://x/v1/a?cursor=Mg"));
    }

    #[test]
    fn apples_error_body_gives_its_code_and_detail() {
        let body = br#"{"errors":[{"id":"1","status":"403","code":"FORBIDDEN_ERROR","title":"This request is forbidden for security reasons","detail":"The API key in use does not allow this request"}]}"#;
        assert_eq!(
            first_error(body),
            Some((
                "FORBIDDEN_ERROR".into(),
                "The API key in use does not allow this request".into()
            ))
        );
        assert_eq!(first_error(b"Unauthenticated"), None);
    }
}
