//! What a support agent pasted into the search box: a transaction id (which may be an original transaction
//! id — only Apple's answer tells), an order id from the customer's receipt e-mail, an app account token, or a
//! receipt from the app's logs, whose transaction id is then looked up.
use serde::{Deserialize, Serialize};

use super::HistoryParams;

use crate::apple::receipt::{self, ReceiptKind, ReceiptRead};
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
    #[error("This {} holds no in-app purchase, so it names no transaction to look up (an app's receipt has none until something is bought). Ask for a receipt from after the purchase, or for the order id in the customer's receipt e-mail.", .0.words())]
    ReceiptWithoutPurchase(ReceiptKind),
}

/// What was pasted, and the receipt the id was read from when it was one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pasted {
    pub input: SearchInput,
    pub receipt: Option<ReceiptKind>,
}

impl Pasted {
    /// Where the id came from, for the page: None when it was pasted as it is.
    pub fn note(&self) -> Option<String> {
        self.receipt.map(|kind| {
            format!(
                "Looked up transaction id {}, read from the {} you pasted.",
                self.input.value(),
                kind.words()
            )
        })
    }
}

/// Shorter than this, base64 is no receipt (an empty app receipt is about 1,500 characters, a transaction
/// receipt a few hundred).
const MIN_RECEIPT: usize = 64;

const MIN_ORDER_ID: usize = 6;
const MAX_ORDER_ID: usize = 20;
/// How much of a bad input is quoted back.
const QUOTE_LIMIT: usize = 60;

pub(crate) fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The labels an id is copied with, as [`label_key`] spells them: from Apple's receipt e-mail ("Order ID:
/// MK5TTTVWJH", or the two cells of its table), from a payload or a log line (`"transactionId": "2000…"`,
/// `appAccountToken=…`), from a support ticket ("Transaction ID: 2000…").
const LABELS: &[&str] = &[
    "order",
    "orderid",
    "ordernumber",
    "orderno",
    "transaction",
    "transactionid",
    "originaltransactionid",
    "apptransactionid",
    "appaccounttoken",
    "accounttoken",
    "token",
];

/// A label without case, spaces, quotes or punctuation: `Order ID` and `"order_id"` are both `orderid`.
fn label_key(label: &str) -> String {
    label
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Characters a copy from an e-mail or a payload brings along around an id.
fn is_wrapping(c: char) -> bool {
    matches!(c, '"' | '\'' | '“' | '”' | '‘' | '’' | '.' | ',' | ';')
}

fn unwrapped(s: &str) -> &str {
    s.trim().trim_matches(is_wrapping).trim()
}

/// The value after a known label (`Order ID: X`, `transactionId=X`, `Order ID X`); anything else as it is.
fn without_label(s: &str) -> &str {
    let split = s
        .find([':', '=', '#', '：'])
        .map(|i| {
            let sep = s[i..].chars().next().map_or(1, char::len_utf8);
            (&s[..i], &s[i + sep..])
        })
        .or_else(|| s.rfind(char::is_whitespace).map(|i| s.split_at(i)));
    match split {
        Some((label, value)) if LABELS.contains(&label_key(label).as_str()) => unwrapped(value),
        _ => s,
    }
}

impl SearchInput {
    /// Recognises what was pasted ([`SearchInput::parse_pasted`]), without saying whether it was a receipt.
    pub fn parse(raw: &str) -> Result<Self, SearchInputError> {
        Self::parse_pasted(raw).map(|p| p.input)
    }

    /// Recognises what was pasted. Surrounding spaces are ignored, and so are the quotes or the trailing full
    /// stop a copy from an e-mail tends to bring along, and a label copied with the id ("Order ID: …"). Long
    /// base64 is read as a receipt, as Apple's `ReceiptUtility` reads one, for the transaction id inside.
    pub fn parse_pasted(raw: &str) -> Result<Pasted, SearchInputError> {
        let s = unwrapped(raw);
        if s.len() >= MIN_RECEIPT {
            match receipt::read(s) {
                ReceiptRead::Found(kind, id) => {
                    if let Ok(id) = TransactionId::parse(&id) {
                        return Ok(Pasted {
                            input: SearchInput::TransactionId(id),
                            receipt: Some(kind),
                        });
                    }
                }
                ReceiptRead::NoPurchase(kind) => {
                    return Err(SearchInputError::ReceiptWithoutPurchase(kind))
                }
                ReceiptRead::NotAReceipt => {}
            }
        }
        Self::parse_plain(raw).map(|input| Pasted {
            input,
            receipt: None,
        })
    }

    fn parse_plain(raw: &str) -> Result<Self, SearchInputError> {
        let s = unwrapped(raw);
        if s.is_empty() {
            return Err(SearchInputError::Empty);
        }
        let quoted_input = s;
        let s = without_label(s);
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
        // The refusal quotes what was pasted, label and all.
        let s = quoted_input;
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
    fn an_id_pasted_with_its_label_is_recognised() {
        let order = || SearchInput::OrderId("ML9X2K4BVN".into());
        assert_eq!(SearchInput::parse("Order ID: ML9X2K4BVN").unwrap(), order());
        assert_eq!(SearchInput::parse("order id:ml9x2k4bvn.").unwrap(), order());
        assert_eq!(SearchInput::parse("Order ID\tML9X2K4BVN").unwrap(), order());
        assert_eq!(
            SearchInput::parse("ORDER ID： ML9X2K4BVN").unwrap(),
            order()
        );
        let tx = || SearchInput::TransactionId(TransactionId::parse("2000000874121031").unwrap());
        assert_eq!(
            SearchInput::parse("Transaction ID: 2000000874121031").unwrap(),
            tx()
        );
        assert_eq!(
            SearchInput::parse("\"transactionId\": \"2000000874121031\",").unwrap(),
            tx()
        );
        assert_eq!(
            SearchInput::parse("originalTransactionId=2000000874121031").unwrap(),
            tx()
        );
        assert_eq!(
            SearchInput::parse("appAccountToken=F3B1C2D4-5E6F-4A7B-8C9D-0E1F2A3B4C5D").unwrap(),
            SearchInput::AppAccountToken("f3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d".into())
        );
    }

    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/apple/python-tests"
    );

    #[test]
    fn a_pasted_receipt_is_looked_up_by_the_transaction_id_inside_and_says_so() {
        let app = std::fs::read_to_string(format!(
            "{VECTORS}/xcode/xcode-app-receipt-with-transaction"
        ))
        .unwrap();
        let pasted = SearchInput::parse_pasted(&format!("  {app}\n")).unwrap();
        assert_eq!(
            pasted.input,
            SearchInput::TransactionId(TransactionId::parse("0").unwrap())
        );
        assert_eq!(
            pasted.note().unwrap(),
            "Looked up transaction id 0, read from the app receipt you pasted."
        );
        let legacy =
            std::fs::read_to_string(format!("{VECTORS}/mock_signed_data/legacyTransaction"))
                .unwrap();
        let pasted = SearchInput::parse_pasted(&legacy).unwrap();
        assert_eq!(pasted.input.value(), "33993399");
        assert_eq!(pasted.receipt, Some(ReceiptKind::Transaction));
        let empty =
            std::fs::read_to_string(format!("{VECTORS}/xcode/xcode-app-receipt-empty")).unwrap();
        let e = SearchInput::parse_pasted(&empty).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("This app receipt holds no in-app purchase"));
        // Ids pasted as they are say nothing of receipts.
        assert_eq!(
            SearchInput::parse_pasted("2000000874121031")
                .unwrap()
                .note(),
            None
        );
        // Long base64 that is no receipt gets the usual sentence.
        let e = SearchInput::parse_pasted(&"QUJD".repeat(40)).unwrap_err();
        assert!(e
            .to_string()
            .contains("is not something storedesk can look up"));
    }

    #[test]
    fn a_label_alone_or_an_unknown_label_is_still_refused() {
        for bad in [
            "Order ID:",
            "Order ID: hello world",
            "Name: MK5TTTVWJH",
            "Order ID: MK5",
            "hello there",
        ] {
            let e = SearchInput::parse(bad).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("“{}” is not something", bad.trim())),
                "{bad}: {e}"
            );
        }
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
