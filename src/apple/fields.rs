//! Reading fields of Apple's decoded JSON (transactions, renewal info, notifications) as they come: a field that
//! is missing, empty or of another type reads as absent.
use serde_json::Value;

pub fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

pub fn owned(v: &Value, key: &str) -> Option<String> {
    text(v, key).map(str::to_owned)
}

/// Integers; dates from Xcode can be floats, which are truncated.
pub fn int(v: &Value, key: &str) -> Option<i64> {
    let field = v.get(key)?;
    field
        .as_i64()
        .or_else(|| field.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
}

pub fn flag(v: &Value, key: &str) -> Option<bool> {
    v.get(key).and_then(Value::as_bool)
}
