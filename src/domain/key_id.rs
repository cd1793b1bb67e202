//! The Key ID of an In-App Purchase key: Apple's 10-character code, used as the JWT `kid`.
use std::fmt;

use super::shapes::{is_key_id_shape, is_uuid_shape};

/// Apple's Key IDs are always this long.
pub const KEY_ID_LEN: usize = 10;

/// A Key ID as App Store Connect shows it: 10 characters of `A-Z` and `0-9`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyIdError {
    #[error(
        "Enter the Key ID: the 10-character code shown in the key's row under \
         Users and Access → Integrations → In-App Purchase."
    )]
    Empty,
    #[error(
        "Key IDs are upper-case: type it with capital letters, exactly as shown in the key's row under \
         Users and Access → Integrations → In-App Purchase (for example 2X9R4HXF34)."
    )]
    LowerCase,
    #[error(
        "This looks like the Issuer ID. The Key ID is the 10-character code shown in the key's row under \
         Users and Access → Integrations → In-App Purchase; the Issuer ID goes in its own field."
    )]
    LooksLikeIssuerId,
    #[error(
        "A Key ID is exactly 10 characters and this one has {len}. Copy the code shown in the key's row under \
         Users and Access → Integrations → In-App Purchase."
    )]
    WrongLength { len: usize },
    #[error(
        "This looks like the key's name, not its Key ID. The Key ID is the 10-character code of capital letters \
         and digits shown in the key's row under Users and Access → Integrations → In-App Purchase."
    )]
    NotAKeyId,
}

impl KeyId {
    pub fn parse(input: &str) -> Result<Self, KeyIdError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(KeyIdError::Empty);
        }
        if is_key_id_shape(s) {
            return Ok(Self(s.to_owned()));
        }
        Err(diagnose(s))
    }

    /// A Key ID read back from the keys table. Rows there are written only from a parsed `KeyId`
    /// (`keys::save_key`), so the value is taken as it is: checking it again could only turn a stored key
    /// into an error on every call.
    pub(crate) fn from_store(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn diagnose(s: &str) -> KeyIdError {
    let alphanumeric = s.bytes().all(|b| b.is_ascii_alphanumeric());
    let has_digit = s.bytes().any(|b| b.is_ascii_digit());
    // A real Key ID typed in lower case nearly always has a digit; a word such as "qonversion"
    // of the same length is a key name, and deserves the name message instead.
    if alphanumeric && has_digit && s.len() == KEY_ID_LEN {
        return KeyIdError::LowerCase;
    }
    if is_uuid_shape(s) {
        return KeyIdError::LooksLikeIssuerId;
    }
    if s.bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return KeyIdError::WrongLength { len: s.len() };
    }
    KeyIdError::NotAKeyId
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for KeyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for KeyId {
    type Err = KeyIdError;
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
    fn apples_example_key_id_is_accepted() {
        assert_eq!(KeyId::parse("2X9R4HXF34").unwrap().as_str(), "2X9R4HXF34");
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(
            KeyId::parse("  2X9R4HXF34\t\n").unwrap().as_str(),
            "2X9R4HXF34"
        );
    }

    #[test]
    fn an_empty_key_id_asks_for_one() {
        assert_eq!(KeyId::parse(""), Err(KeyIdError::Empty));
        assert_eq!(KeyId::parse("   "), Err(KeyIdError::Empty));
        assert!(KeyIdError::Empty
            .to_string()
            .starts_with("Enter the Key ID"));
    }

    #[test]
    fn a_key_name_is_refused_as_a_key_id() {
        for name in [
            "Qonversion",
            "qonversion",
            "My IAP key",
            "RevenueCat",
            "Server key 1",
        ] {
            let err = KeyId::parse(name).unwrap_err();
            assert_eq!(err, KeyIdError::NotAKeyId, "{name}");
            let message = err.to_string();
            assert!(message.contains("not its Key ID"));
            assert!(message.contains("10-character code"));
            assert!(message.contains("Users and Access → Integrations → In-App Purchase"));
        }
    }

    #[test]
    fn a_lower_case_key_id_is_refused_with_a_hint() {
        assert_eq!(KeyId::parse("2x9r4hxf34"), Err(KeyIdError::LowerCase));
        assert_eq!(KeyId::parse("2X9r4HXF34"), Err(KeyIdError::LowerCase));
        assert!(KeyIdError::LowerCase.to_string().contains("upper-case"));
    }

    #[test]
    fn a_key_id_of_the_wrong_length_says_how_long_it_is() {
        assert_eq!(
            KeyId::parse("2X9R4HXF3"),
            Err(KeyIdError::WrongLength { len: 9 })
        );
        assert_eq!(
            KeyId::parse("2X9R4HXF345"),
            Err(KeyIdError::WrongLength { len: 11 })
        );
        assert!(KeyIdError::WrongLength { len: 9 }
            .to_string()
            .contains("this one has 9"));
    }

    #[test]
    fn an_issuer_id_in_the_key_id_field_is_recognised() {
        assert_eq!(
            KeyId::parse("57246542-96fe-1a63-e053-0824d011072a"),
            Err(KeyIdError::LooksLikeIssuerId)
        );
    }

    #[test]
    fn a_file_name_or_punctuation_is_refused() {
        assert_eq!(
            KeyId::parse("SubscriptionKey_2X9R4HXF34.p8"),
            Err(KeyIdError::NotAKeyId)
        );
        assert_eq!(KeyId::parse("2X9R4-HXF34"), Err(KeyIdError::NotAKeyId));
        assert_eq!(KeyId::parse("2X9R4 HXF3"), Err(KeyIdError::NotAKeyId));
        assert_eq!(KeyId::parse("2X9R4HXF3É"), Err(KeyIdError::NotAKeyId));
    }

    proptest! {
        #[test]
        fn any_ten_upper_case_letters_and_digits_round_trip(s in "[A-Z0-9]{10}") {
            let id = KeyId::parse(&s).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
            let shown = id.to_string();
            prop_assert_eq!(KeyId::parse(&shown).unwrap(), id);
        }

        #[test]
        fn whitespace_around_a_key_id_does_not_matter(s in "[A-Z0-9]{10}", pre in "[ \t\r\n]{0,3}", post in "[ \t\r\n]{0,3}") {
            let id = KeyId::parse(&format!("{pre}{s}{post}")).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
        }

        #[test]
        fn any_other_length_is_refused(s in "[A-Z0-9]{0,9}|[A-Z0-9]{11,20}") {
            prop_assert!(KeyId::parse(&s).is_err());
        }

        #[test]
        fn any_character_outside_a_z_and_digits_is_refused(
            head in "[A-Z0-9]{0,9}",
            bad in "[^A-Z0-9\\s]",
            pos in 0usize..10,
        ) {
            let mut chars: Vec<char> = head.chars().collect();
            chars.insert(pos.min(chars.len()), bad.chars().next().unwrap());
            while chars.len() < 10 {
                chars.push('A');
            }
            let s: String = chars.into_iter().collect();
            prop_assert!(KeyId::parse(&s).is_err());
        }
    }
}
