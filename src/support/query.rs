//! What a support agent pasted into the search box: a transaction id (which may be an original transaction
//! id — only Apple's answer tells), an order id from the customer's receipt e-mail, or an app account token.
use serde::{Deserialize, Serialize};

use super::HistoryParams;

use crate::domain::TransactionId;

/// A search input that fits one of the shapes storedesk can look up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum SearchInput {
    /// Digits only. Either a transaction id or an original transaction id.
    TransactionId(TransactionId),
    /// Letters and digits starting with a letter, such as `MK5TTTVWJH`; stored uppercase.
    OrderId(String),
    /// A UUID; stored lowercase. Searched in the local index only: Apple has no lookup by token.
    AppAccountToken(String),
}

impl SearchInput {
    pub fn value(&self) -> &str {
        match self {
            SearchInput::TransactionId(id) => id.as_str(),
            SearchInput::OrderId(v) | SearchInput::AppAccountToken(v) => v,
        }
    }

    /// In words, for pages and the audit log.
    pub fn kind_words(&self) -> &'static str {
        match self {
            SearchInput::TransactionId(_) => "transaction id",
            SearchInput::OrderId(_) => "order id",
            SearchInput::AppAccountToken(_) => "app account token",
        }
    }
}

/// Why a search input was not accepted; `Display` is the sentence shown next to the search box.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SearchInputError {
    #[error(
        "Paste a transaction id, an original transaction id, an order id or an app account token."
    )]
    Empty,
    #[error("“{0}” is not something storedesk can look up. A transaction id or original transaction id is digits only, such as 2000000442013708. An order id is the code after “Order ID” in the customer's receipt e-mail, letters and digits such as MK5TTTVWJH. An app account token is a UUID such as 7389a31a-fb6d-4569-a2a6-db7d85d84813.")]
    Unrecognised(String),
}

const MIN_ORDER_ID: usize = 6;
const MAX_ORDER_ID: usize = 20;
/// How much of a bad input is quoted back.
const QUOTE_LIMIT: usize = 60;

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl SearchInput {
    /// Recognises what was pasted. Surrounding spaces are ignored, and so are the quotes or the trailing full
    /// stop a copy from an e-mail tends to bring along.
    pub fn parse(raw: &str) -> Result<Self, SearchInputError> {
        let s = raw
            .trim()
            .trim_matches(|c: char| matches!(c, '"' | '\'' | '“' | '”' | '‘' | '’' | '.' | ','))
            .trim();
        if s.is_empty() {
            return Err(SearchInputError::Empty);
        }
        if let Ok(id) = TransactionId::parse(s) {
            return Ok(SearchInput::TransactionId(id));
        }
        if is_uuid(s) {
            return Ok(SearchInput::AppAccountToken(s.to_ascii_lowercase()));
        }
        let starts_with_letter = s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
        if starts_with_letter
            && (MIN_ORDER_ID..=MAX_ORDER_ID).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Ok(SearchInput::OrderId(s.to_ascii_uppercase()));
        }
        let quoted: String = s.chars().take(QUOTE_LIMIT).collect();
        let quoted = if s.chars().count() > QUOTE_LIMIT {
            format!("{quoted}…")
        } else {
            quoted
        };
        Err(SearchInputError::Unrecognised(quoted))
    }
}

/// A search as the page's form and the API's query string send it: `q` and the history page's own parameters.
#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
    #[serde(flatten)]
    pub history: HistoryParams,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_recognised() {
        assert_eq!(
            SearchInput::parse(" 2000000874121031 ").unwrap(),
            SearchInput::TransactionId(TransactionId::parse("2000000874121031").unwrap())
        );
        assert_eq!(
            SearchInput::parse("mk5tttvwjh").unwrap(),
            SearchInput::OrderId("MK5TTTVWJH".into())
        );
        assert_eq!(
            SearchInput::parse("W002182").unwrap(),
            SearchInput::OrderId("W002182".into())
        );
        assert_eq!(
            SearchInput::parse("F3B1C2D4-5E6F-4A7B-8C9D-0E1F2A3B4C5D").unwrap(),
            SearchInput::AppAccountToken("f3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d".into())
        );
        assert_eq!(
            SearchInput::parse("“MK5TTTVWJH”.").unwrap(),
            SearchInput::OrderId("MK5TTTVWJH".into())
        );
    }

    #[test]
    fn anything_else_gets_the_sentence_naming_each_shape() {
        for bad in [
            "hello world",
            "2000000874121031x",
            "12345678901234567890123",
            "f3b1c2d4-5e6f-4a7b-8c9d",
            "MK5",
            "<script>",
        ] {
            let e = SearchInput::parse(bad).unwrap_err();
            let sentence = e.to_string();
            assert!(
                sentence.contains("is not something storedesk can look up"),
                "{bad}"
            );
            assert!(sentence.contains("digits only"), "{bad}");
            assert!(sentence.contains("receipt e-mail"), "{bad}");
            assert!(sentence.contains("UUID"), "{bad}");
        }
        assert_eq!(
            SearchInput::parse("   ").unwrap_err(),
            SearchInputError::Empty
        );
        let long = "x".repeat(500);
        assert!(SearchInput::parse(&long)
            .unwrap_err()
            .to_string()
            .contains('…'));
    }
}
