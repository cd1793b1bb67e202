//! A transaction id as Apple issues them (also an original or app transaction id): the id in Apple's URLs.
use std::fmt;

/// Apple's ids run to about 16 digits; 20 leaves room without accepting arbitrary numbers.
pub const TRANSACTION_ID_MAX_DIGITS: usize = 20;

/// 1 to 20 ASCII digits, kept as the text Apple sent (Apple's ids are strings, leading zeros included).
/// Apple answers the same way for a transaction id and an original transaction id, so one type serves both.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct TransactionId(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("A transaction id is digits only, such as 2000000442013708.")]
pub struct TransactionIdError;

impl TransactionId {
    /// Takes the input as it is, without trimming: a box that takes pasted text trims it first (the search box
    /// also drops the quotes an e-mail brings along), while an id in a URL path must be the id exactly.
    pub fn parse(input: &str) -> Result<Self, TransactionIdError> {
        if !input.is_empty()
            && input.len() <= TRANSACTION_ID_MAX_DIGITS
            && input.bytes().all(|b| b.is_ascii_digit())
        {
            Ok(Self(input.to_owned()))
        } else {
            Err(TransactionIdError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TransactionId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for TransactionId {
    type Err = TransactionIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn apples_ids_are_accepted_as_they_are() {
        for id in ["2000000442013708", "1", "0001", "12345678901234567890"] {
            assert_eq!(TransactionId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn anything_but_one_to_twenty_digits_is_refused() {
        for bad in [
            "",
            " 2000000442013708",
            "2000000442013708 ",
            "123456789012345678901",
            "12/../34?x=1",
            "abc",
            "-1",
            "1.5",
            "２０００",
        ] {
            assert_eq!(TransactionId::parse(bad), Err(TransactionIdError), "{bad}");
        }
        assert!(TransactionIdError.to_string().contains("digits only"));
    }

    #[test]
    fn it_serializes_as_the_plain_id() {
        let id = TransactionId::parse("2000000442013708").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"2000000442013708\"");
        assert_eq!(id.to_string(), "2000000442013708");
    }

    proptest! {
        #[test]
        fn any_one_to_twenty_digits_round_trip(s in "[0-9]{1,20}") {
            let id = TransactionId::parse(&s).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
            let shown = id.to_string();
            prop_assert_eq!(TransactionId::parse(&shown).unwrap(), id);
        }

        #[test]
        fn a_non_digit_anywhere_is_refused(head in "[0-9]{0,10}", bad in "[^0-9]", tail in "[0-9]{0,9}") {
            let s = format!("{head}{bad}{tail}");
            prop_assert!(TransactionId::parse(&s).is_err());
        }
    }
}
