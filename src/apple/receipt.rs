//! The transaction id inside a receipt a support agent pastes from a log: an app receipt (base64 PKCS#7, as
//! `Bundle.main.appStoreReceiptURL` holds it and older backends log it) or a transaction receipt (StoreKit 1's
//! `transactionReceipt`, base64 of a text with a base64 `purchase-info`). Read the way Apple's `ReceiptUtility`
//! reads them: the first in-app purchase's transaction id (field 1703) or original transaction id (1705) of an app
//! receipt, and the `transaction-id` of a transaction receipt's purchase info.
//!
//! The receipt's signature is not checked: the id only says what to look up, and the lookup asks Apple (or reads
//! what Apple signed), so a forged receipt finds nothing that is not real. The reader takes BER as receipts use
//! it (indefinite lengths, an OCTET STRING in chunks), bounds its depth, and never reads past its input.
use base64::Engine as _;

/// A receipt field's type: an in-app purchase, and inside one its transaction and original transaction ids.
const IN_APP: i64 = 17;
const TRANSACTION_ID: i64 = 1703;
const ORIGINAL_TRANSACTION_ID: i64 = 1705;
/// Receipts nest about ten levels; this many is no receipt.
const MAX_DEPTH: usize = 32;

/// Which kind of receipt an id came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptKind {
    App,
    Transaction,
}

impl ReceiptKind {
    /// In words, for the page: "the app receipt you pasted".
    pub fn words(self) -> &'static str {
        match self {
            ReceiptKind::App => "app receipt",
            ReceiptKind::Transaction => "transaction receipt",
        }
    }

    /// As the JSON API names it.
    pub fn code(self) -> &'static str {
        match self {
            ReceiptKind::App => "app_receipt",
            ReceiptKind::Transaction => "transaction_receipt",
        }
    }
}

/// What a pasted text turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum ReceiptRead {
    /// A receipt naming this transaction id.
    Found(ReceiptKind, String),
    /// A receipt, but one with no purchase in it (an app receipt from before any purchase).
    NoPurchase(ReceiptKind),
    /// Not a receipt.
    NotAReceipt,
}

/// Reads `pasted` as an app receipt, then as a transaction receipt.
pub fn read(pasted: &str) -> ReceiptRead {
    let compact: String = pasted.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()) else {
        return ReceiptRead::NotAReceipt;
    };
    match app_receipt(&bytes) {
        Some(Some(id)) => return ReceiptRead::Found(ReceiptKind::App, id),
        Some(None) => return ReceiptRead::NoPurchase(ReceiptKind::App),
        None => {}
    }
    match transaction_receipt(&bytes) {
        Some(id) => ReceiptRead::Found(ReceiptKind::Transaction, id),
        None => ReceiptRead::NotAReceipt,
    }
}

/// One BER element: its first identifier octet and its contents.
#[derive(Clone, Copy)]
struct Element<'a> {
    tag: u8,
    contents: &'a [u8],
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OCTET_STRING_CONSTRUCTED: u8 = 0x24;
const CONTEXT_0: u8 = 0xa0;

impl<'a> Element<'a> {
    fn constructed(&self) -> bool {
        self.tag & 0x20 != 0
    }

    /// The elements inside a constructed element.
    fn children(&self, depth: usize) -> Option<Vec<Element<'a>>> {
        if !self.constructed() {
            return None;
        }
        let mut rest = self.contents;
        let mut out = Vec::new();
        while !rest.is_empty() {
            let (child, after) = element(rest, depth + 1)?;
            out.push(child);
            rest = after;
        }
        Some(out)
    }

    /// An OCTET STRING's bytes, joined from its chunks when BER sent it in pieces.
    fn octets(&self, depth: usize) -> Option<Vec<u8>> {
        match self.tag {
            OCTET_STRING => Some(self.contents.to_vec()),
            OCTET_STRING_CONSTRUCTED => {
                let mut out = Vec::new();
                for chunk in self.children(depth)? {
                    out.extend(chunk.octets(depth + 1)?);
                }
                Some(out)
            }
            _ => None,
        }
    }

    fn integer(&self) -> Option<i64> {
        if self.tag != INTEGER || self.contents.is_empty() || self.contents.len() > 8 {
            return None;
        }
        let negative = self.contents[0] & 0x80 != 0;
        let mut value: i64 = if negative { -1 } else { 0 };
        for &b in self.contents {
            value = (value << 8) | i64::from(b);
        }
        Some(value)
    }
}

/// Reads one element at the start of `input`: the element and what follows it. None when it is not BER or runs
/// past the input.
fn element(input: &[u8], depth: usize) -> Option<(Element<'_>, &[u8])> {
    if depth > MAX_DEPTH {
        return None;
    }
    let (&tag, mut rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        // A tag number of more than one octet: skip its octets (receipts use none, but they are BER).
        loop {
            let (&b, after) = rest.split_first()?;
            rest = after;
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let (&first, rest) = rest.split_first()?;
    if first == 0x80 {
        // Indefinite length: the contents end at the end-of-contents octets after the last child.
        if tag & 0x20 == 0 {
            return None;
        }
        let mut cursor = rest;
        loop {
            if cursor.starts_with(&[0, 0]) {
                let used = rest.len() - cursor.len();
                return Some((
                    Element {
                        tag,
                        contents: &rest[..used],
                    },
                    &cursor[2..],
                ));
            }
            let (_, after) = element(cursor, depth + 1)?;
            cursor = after;
        }
    }
    let (len, rest) = if first & 0x80 == 0 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[count..])
    };
    if len > rest.len() {
        return None;
    }
    let (contents, after) = rest.split_at(len);
    Some((Element { tag, contents }, after))
}

/// The one child of an explicitly tagged `[0]`.
fn explicit_0<'a>(e: &Element<'a>, depth: usize) -> Option<Element<'a>> {
    if e.tag != CONTEXT_0 {
        return None;
    }
    e.children(depth)?.into_iter().next()
}

/// The receipt's fields: (type, value) of each `SEQUENCE { type INTEGER, version INTEGER, value OCTET STRING }`
/// in a SET.
fn fields(der: &[u8], depth: usize) -> Option<Vec<(i64, Vec<u8>)>> {
    let (set, _) = element(der, depth)?;
    if set.tag != SET {
        return None;
    }
    let mut out = Vec::new();
    for field in set.children(depth)? {
        if field.tag != SEQUENCE {
            continue;
        }
        let parts = field.children(depth + 1)?;
        if let [kind, _version, value, ..] = parts.as_slice() {
            if let (Some(kind), Some(value)) = (kind.integer(), value.octets(depth + 2)) {
                out.push((kind, value));
            }
        }
    }
    Some(out)
}

/// A field's value as text: a UTF8String, IA5String or PrintableString inside the OCTET STRING.
fn text(value: &[u8]) -> Option<String> {
    let (e, _) = element(value, 0)?;
    match e.tag {
        0x0c | 0x16 | 0x13 => String::from_utf8(e.contents.to_vec()).ok(),
        _ => None,
    }
}

/// An app receipt's first in-app transaction id: None when `bytes` is no PKCS#7 receipt, Some(None) when it is
/// one without a purchase.
fn app_receipt(bytes: &[u8]) -> Option<Option<String>> {
    // ContentInfo { contentType, [0] SignedData }
    let (info, _) = element(bytes, 0)?;
    if info.tag != SEQUENCE {
        return None;
    }
    let info = info.children(0)?;
    let signed = explicit_0(info.get(1)?, 1)?;
    if signed.tag != SEQUENCE {
        return None;
    }
    // SignedData { version, digestAlgorithms, encapContentInfo { contentType, [0] OCTET STRING }, … }
    let signed = signed.children(2)?;
    let encapsulated = signed.get(2)?;
    if encapsulated.tag != SEQUENCE {
        return None;
    }
    let encapsulated = encapsulated.children(3)?;
    let payload = explicit_0(encapsulated.get(1)?, 4)?.octets(5)?;
    let fields = fields(&payload, 6)?;
    for (kind, value) in &fields {
        if *kind != IN_APP {
            continue;
        }
        let Some(purchase) = self::fields(value, 7) else {
            continue;
        };
        if let Some(id) = purchase
            .iter()
            .filter(|(k, _)| *k == TRANSACTION_ID || *k == ORIGINAL_TRANSACTION_ID)
            .find_map(|(_, v)| text(v))
        {
            return Some(Some(id));
        }
    }
    Some(None)
}

/// The value of `"key" = "value";` in a transaction receipt's text, where the value is base64.
fn quoted_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("\"{key}\"");
    let mut from = 0;
    while let Some(at) = text[from..].find(&needle) {
        let after = &text[from + at + needle.len()..];
        let rest = after.trim_start();
        if let Some(rest) = rest.strip_prefix('=') {
            if let Some(rest) = rest.trim_start().strip_prefix('"') {
                let end = rest
                    .find(|c: char| {
                        !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=')
                    })
                    .unwrap_or(rest.len());
                let (value, tail) = rest.split_at(end);
                if !value.is_empty() && tail.starts_with("\";") {
                    return Some(value);
                }
            }
        }
        from += at + needle.len();
    }
    None
}

/// A transaction receipt's `transaction-id`, from the base64 `purchase-info` inside it.
fn transaction_receipt(bytes: &[u8]) -> Option<String> {
    let outer = std::str::from_utf8(bytes).ok()?;
    let info = quoted_value(outer, "purchase-info")?;
    let inner = base64::engine::general_purpose::STANDARD
        .decode(info)
        .ok()?;
    let inner = std::str::from_utf8(&inner).ok()?;
    quoted_value(inner, "transaction-id").map(str::to_owned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    /// Apple's own test data (app-store-server-library's Python tests; tests/fixtures/apple/README.md).
    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/apple/python-tests"
    );

    fn vector(name: &str) -> String {
        let dir = if name == "legacyTransaction" {
            "mock_signed_data"
        } else {
            "xcode"
        };
        std::fs::read_to_string(format!("{VECTORS}/{dir}/{name}")).unwrap()
    }

    #[test]
    fn apples_receipt_vectors_read_as_apples_receipt_utility_reads_them() {
        assert_eq!(
            read(&vector("xcode-app-receipt-with-transaction")),
            ReceiptRead::Found(ReceiptKind::App, "0".into())
        );
        assert_eq!(
            read(&vector("xcode-app-receipt-empty")),
            ReceiptRead::NoPurchase(ReceiptKind::App)
        );
        assert_eq!(
            read(&vector("legacyTransaction")),
            ReceiptRead::Found(ReceiptKind::Transaction, "33993399".into())
        );
    }

    #[test]
    fn a_receipt_wrapped_over_lines_still_reads() {
        let receipt = vector("xcode-app-receipt-with-transaction");
        let wrapped: String = receipt
            .trim()
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            read(&wrapped),
            ReceiptRead::Found(ReceiptKind::App, "0".into())
        );
    }

    #[test]
    fn anything_else_is_not_a_receipt_and_nothing_panics() {
        let receipt = base64::engine::general_purpose::STANDARD
            .decode(vector("xcode-app-receipt-with-transaction").trim())
            .unwrap();
        // Every cut of a real receipt is refused, and no one-byte change panics.
        for len in 0..receipt.len() {
            let cut = base64::engine::general_purpose::STANDARD.encode(&receipt[..len]);
            assert_eq!(read(&cut), ReceiptRead::NotAReceipt, "cut at {len}");
        }
        for i in 0..receipt.len() {
            let mut bent = receipt.clone();
            bent[i] ^= 0xff;
            let _ = read(&base64::engine::general_purpose::STANDARD.encode(&bent));
        }
        for not in ["", "hello", "2000000874121031", "MK5TTTVWJH", "a.b.c"] {
            assert_eq!(read(not), ReceiptRead::NotAReceipt, "{not}");
        }
        // Deep nesting is refused, not followed.
        let mut deep = [0x30u8, 0x80].repeat(1000);
        deep.extend([0u8, 0].repeat(1000));
        assert_eq!(
            read(&base64::engine::general_purpose::STANDARD.encode(&deep)),
            ReceiptRead::NotAReceipt
        );
    }
}
