//! The Issuer ID of the team's In-App Purchase keys: the JWT `iss`.
use std::fmt;

use super::shapes::{is_key_id_shape, is_uuid_shape};

/// An Issuer ID: the hexadecimal 8-4-4-4-12 shape of a UUID, stored in lower case.
///
/// Only the shape is checked: Apple's own example (`57246542-96fe-1a63-e053-0824d011072a`) is not an
/// RFC 4122 version/variant UUID, so a stricter check would refuse real Issuer IDs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IssuerId(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IssuerIdError {
    #[error(
        "Enter the Issuer ID: it is shown above the keys table on the In-App Purchase tab \
         (Users and Access → Integrations → In-App Purchase)."
    )]
    Empty,
    #[error(
        "This looks like a Key ID. The Issuer ID is the longer ID, like 57246542-96fe-1a63-e053-0824d011072a, \
         shown above the keys table on the In-App Purchase tab (Users and Access → Integrations → In-App Purchase)."
    )]
    LooksLikeKeyId,
    #[error(
        "An Issuer ID looks like 57246542-96fe-1a63-e053-0824d011072a: groups of 8, 4, 4, 4 and 12 hexadecimal \
         characters separated by hyphens. Copy it from above the keys table on the In-App Purchase tab \
         (Users and Access → Integrations → In-App Purchase)."
    )]
    NotAnIssuerId,
}

impl IssuerId {
    pub fn parse(input: &str) -> Result<Self, IssuerIdError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(IssuerIdError::Empty);
        }
        if is_uuid_shape(s) {
            return Ok(Self(s.to_ascii_lowercase()));
        }
        if is_key_id_shape(s) {
            return Err(IssuerIdError::LooksLikeKeyId);
        }
        Err(IssuerIdError::NotAnIssuerId)
    }

    /// An Issuer ID read back from the keys table. Rows there are written only from a parsed `IssuerId`
    /// (`keys::save_key`), so the value is taken as it is: checking it again could only turn a stored key
    /// into an error on every call.
    pub(crate) fn from_store(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IssuerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for IssuerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for IssuerId {
    type Err = IssuerIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use proptest::prelude::*;

    const APPLE_EXAMPLE: &str = "57246542-96fe-1a63-e053-0824d011072a";

    #[test]
    fn apples_example_issuer_id_is_accepted_although_it_is_no_rfc_4122_uuid() {
        assert_eq!(
            IssuerId::parse(APPLE_EXAMPLE).unwrap().as_str(),
            APPLE_EXAMPLE
        );
    }

    #[test]
    fn an_issuer_id_is_trimmed_and_stored_lower_case() {
        let id = IssuerId::parse("  57246542-96FE-1A63-E053-0824D011072A \n").unwrap();
        assert_eq!(id.as_str(), APPLE_EXAMPLE);
        assert_eq!(id.to_string(), APPLE_EXAMPLE);
    }

    #[test]
    fn an_empty_issuer_id_asks_for_one_and_says_where_it_is() {
        assert_eq!(IssuerId::parse(" "), Err(IssuerIdError::Empty));
        let message = IssuerIdError::Empty.to_string();
        assert!(message.contains("above the keys table on the In-App Purchase tab"));
    }

    #[test]
    fn a_key_id_in_the_issuer_id_field_is_recognised() {
        assert_eq!(
            IssuerId::parse("2X9R4HXF34"),
            Err(IssuerIdError::LooksLikeKeyId)
        );
    }

    #[test]
    fn other_shapes_are_refused_with_the_place_to_find_it() {
        for bad in [
            "5724654296fe1a63e0530824d011072a",
            "{57246542-96fe-1a63-e053-0824d011072a}",
            "urn:uuid:57246542-96fe-1a63-e053-0824d011072a",
            "57246542-96fe-1a63-e053-0824d011072",
            "57246542-96fe-1a63-e053-0824d011072ab",
            "57246542-96fe-1a63-e053_0824d011072a",
            "5724654g-96fe-1a63-e053-0824d011072a",
            "My team",
        ] {
            assert_eq!(
                IssuerId::parse(bad),
                Err(IssuerIdError::NotAnIssuerId),
                "{bad}"
            );
        }
        let message = IssuerIdError::NotAnIssuerId.to_string();
        assert!(message.contains("above the keys table on the In-App Purchase tab"));
    }

    proptest! {
        #[test]
        fn any_hex_8_4_4_4_12_is_accepted_and_lower_cased(
            s in "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
        ) {
            let id = IssuerId::parse(&s).unwrap();
            prop_assert_eq!(id.as_str(), s.to_ascii_lowercase());
            prop_assert_eq!(IssuerId::parse(id.as_str()).unwrap(), id);
        }

        #[test]
        fn a_non_hex_character_anywhere_is_refused(
            s in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            pos in 0usize..36,
            bad in "[g-zG-Z_.:+ ]",
        ) {
            let mut chars: Vec<char> = s.chars().collect();
            chars[pos] = bad.chars().next().unwrap();
            let s: String = chars.into_iter().collect();
            prop_assert!(IssuerId::parse(&s).is_err());
        }

        #[test]
        fn hyphens_in_other_places_are_refused(hex in "[0-9a-f]{32}", cut in 1usize..32) {
            prop_assume!(![8, 12, 16, 20].contains(&cut));
            let s = format!("{}-{}", &hex[..cut], &hex[cut..]);
            prop_assert!(IssuerId::parse(&s).is_err());
        }
    }
}
