//! The query parameters of a Connect call: `limit`, `cursor`, `include`, `filter[…]` and `fields[…]`, checked
//! per endpoint the way App Store Connect checks them, and applied to the rendered resources.

use serde_json::Value;

use super::errors::{invalid, ConnectError};

pub(crate) const DEFAULT_LIMIT: usize = 50;
pub(crate) const MAX_LIMIT: usize = 200;

/// What an endpoint takes besides `fields[…]`, which every endpoint takes.
pub(crate) struct Spec {
    /// Collections take `limit` and `cursor`; a single resource refuses them.
    pub collection: bool,
    /// `filter[…]` names.
    pub filters: &'static [&'static str],
    /// `include` values.
    pub includes: &'static [&'static str],
}

pub(crate) const SINGLE: Spec = Spec {
    collection: false,
    filters: &[],
    includes: &[],
};

pub(crate) struct Params {
    /// Every pair as received, in order, for `links.next`.
    pub pairs: Vec<(String, String)>,
    pub limit: usize,
    pub cursor: Option<String>,
    pub includes: Vec<String>,
    /// (`type`, field names) from `fields[type]`.
    pub fields: Vec<(String, Vec<String>)>,
    /// (name, accepted values) from `filter[name]`.
    pub filters: Vec<(String, Vec<String>)>,
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

fn bracketed<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.strip_prefix(prefix)?
        .strip_prefix('[')?
        .strip_suffix(']')
        .filter(|inner| !inner.is_empty())
}

impl Params {
    pub(crate) fn parse(raw: &str, spec: &Spec) -> Result<Self, ConnectError> {
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .map_err(|_| invalid("query", "The query string could not be parsed.".to_owned()))?;
        let mut params = Params {
            pairs: Vec::new(),
            limit: DEFAULT_LIMIT,
            cursor: None,
            includes: Vec::new(),
            fields: Vec::new(),
            filters: Vec::new(),
        };
        let illegal = |key: &str| ConnectError::IllegalParameter {
            parameter: key.to_owned(),
        };
        for (key, value) in &pairs {
            if key == "limit" && spec.collection {
                params.limit = parse_limit(value)?;
            } else if key == "cursor" && spec.collection {
                params.cursor = Some(value.clone());
            } else if key == "include" && !spec.includes.is_empty() {
                let wanted = list(value);
                if wanted.is_empty() {
                    return Err(invalid(
                        "include",
                        format!("'{value}' is not a valid relationship name"),
                    ));
                }
                if let Some(bad) = wanted.iter().find(|w| !spec.includes.contains(&w.as_str())) {
                    return Err(invalid(
                        "include",
                        format!("'{bad}' is not a valid relationship name"),
                    ));
                }
                params.includes = wanted;
            } else if let Some(kind) = bracketed(key, "fields") {
                params.fields.retain(|(k, _)| k != kind);
                params.fields.push((kind.to_owned(), list(value)));
            } else if let Some(name) = bracketed(key, "filter") {
                if !spec.filters.contains(&name) {
                    return Err(invalid(key, format!("'{name}' is not a valid filter type")));
                }
                params.filters.retain(|(k, _)| k != name);
                params.filters.push((name.to_owned(), list(value)));
            } else {
                return Err(illegal(key));
            }
        }
        params.pairs = pairs;
        Ok(params)
    }

    /// Whether a rendered resource passes every `filter[…]` (each a list of accepted values).
    pub(crate) fn keeps(&self, resource: &Value) -> bool {
        self.filters
            .iter()
            .all(|(name, wanted)| filter_value(resource, name).is_some_and(|v| wanted.contains(&v)))
    }

    /// Applies `fields[type]` to a rendered resource: only the listed attributes and relationships stay.
    pub(crate) fn sparse(&self, resource: &mut Value) {
        let Some(kind) = resource.get("type").and_then(Value::as_str) else {
            return;
        };
        let Some((_, keep)) = self.fields.iter().find(|(k, _)| k == kind) else {
            return;
        };
        let keep = keep.clone();
        let Some(object) = resource.as_object_mut() else {
            return;
        };
        for section in ["attributes", "relationships"] {
            if let Some(Value::Object(map)) = object.get_mut(section) {
                map.retain(|name, _| keep.contains(name));
            }
        }
        if object
            .get("relationships")
            .and_then(Value::as_object)
            .is_some_and(|m| m.is_empty())
        {
            object.remove("relationships");
        }
    }
}

/// A filter looks at the id, an attribute, or the id of a to-one relationship (`filter[territory]`).
fn filter_value(resource: &Value, name: &str) -> Option<String> {
    let value = if name == "id" {
        resource.get("id")
    } else {
        resource
            .get("attributes")
            .and_then(|a| a.get(name))
            .filter(|v| !v.is_null())
            .or_else(|| {
                resource
                    .get("relationships")
                    .and_then(|r| r.get(name))
                    .and_then(|r| r.get("data"))
                    .and_then(|d| d.get("id"))
            })
    }?;
    Some(match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn parse_limit(value: &str) -> Result<usize, ConnectError> {
    match value.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(invalid(
            "limit",
            format!("'{value}' is not a valid value for the parameter 'limit'. It must be an integer between 1 and {MAX_LIMIT}."),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    const APPS: Spec = Spec {
        collection: true,
        filters: &["bundleId"],
        includes: &[],
    };

    fn parameter(e: ConnectError) -> (String, String) {
        let body = e.body();
        (
            body["errors"][0]["code"].as_str().unwrap().to_owned(),
            body["errors"][0]["source"]["parameter"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }

    #[test]
    fn limit_must_be_between_1_and_200() {
        assert_eq!(Params::parse("", &APPS).unwrap().limit, 50);
        assert_eq!(Params::parse("limit=200", &APPS).unwrap().limit, 200);
        for bad in ["limit=0", "limit=201", "limit=ten", "limit=-1", "limit="] {
            let e = Params::parse(bad, &APPS).err().unwrap();
            assert_eq!(
                parameter(e),
                ("PARAMETER_ERROR.INVALID".to_owned(), "limit".to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_parameters_filters_and_paging_of_a_single_resource_are_refused() {
        let e = Params::parse("sort=name", &APPS).err().unwrap();
        assert_eq!(
            parameter(e),
            ("PARAMETER_ERROR.ILLEGAL".to_owned(), "sort".to_owned())
        );
        let e = Params::parse("filter%5Bsku%5D=X", &APPS).err().unwrap();
        assert_eq!(
            parameter(e),
            (
                "PARAMETER_ERROR.INVALID".to_owned(),
                "filter[sku]".to_owned()
            )
        );
        let e = Params::parse("limit=2", &SINGLE).err().unwrap();
        assert_eq!(
            parameter(e),
            ("PARAMETER_ERROR.ILLEGAL".to_owned(), "limit".to_owned())
        );
    }

    #[test]
    fn filters_and_sparse_fieldsets_apply_to_rendered_resources() {
        let p = Params::parse(
            "filter[bundleId]=a,b&fields[apps]=name&fields[other]=x",
            &APPS,
        )
        .unwrap();
        let mut app = json!({
            "type": "apps", "id": "1",
            "attributes": {"name": "A", "bundleId": "b"},
            "relationships": {"subscriptionGroups": {"links": {}}},
        });
        assert!(p.keeps(&app));
        assert!(!p.keeps(&json!({"type": "apps", "attributes": {"bundleId": "c"}})));
        p.sparse(&mut app);
        assert_eq!(app["attributes"], json!({"name": "A"}));
        assert!(app.get("relationships").is_none());
    }
}
