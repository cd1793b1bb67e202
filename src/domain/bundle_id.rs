//! An app's bundle ID, e.g. `com.example.app`: Apple puts it in every signed transaction.
use std::fmt;

/// Apple's limit for a bundle ID in App Store Connect.
pub const BUNDLE_ID_MAX_LEN: usize = 155;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BundleId(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BundleIdError {
    #[error("Enter the app's bundle ID, for example com.example.app.")]
    Empty,
    #[error("A bundle ID is at most 155 characters long and this one has {len}.")]
    TooLong { len: usize },
    #[error(
        "A bundle ID may contain only letters, digits, hyphens and dots, so it cannot contain {}. \
         Copy it from the app's General Information in App Store Connect, for example com.example.app.",
        describe(*found)
    )]
    InvalidCharacter { found: char },
    #[error("A bundle ID has at least two parts separated by a dot, for example com.example.app.")]
    SinglePart,
    #[error("A bundle ID cannot start or end with a dot or have two dots in a row, for example com.example.app.")]
    EmptyPart,
}

fn describe(c: char) -> String {
    match c {
        ' ' => "spaces".to_owned(),
        '_' => "underscores".to_owned(),
        '*' => "a wildcard (*)".to_owned(),
        c if c.is_whitespace() || c.is_control() => "spaces or control characters".to_owned(),
        c => format!("“{c}”"),
    }
}

impl BundleId {
    pub fn parse(input: &str) -> Result<Self, BundleIdError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(BundleIdError::Empty);
        }
        let len = s.chars().count();
        if len > BUNDLE_ID_MAX_LEN {
            return Err(BundleIdError::TooLong { len });
        }
        if let Some(found) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        {
            return Err(BundleIdError::InvalidCharacter { found });
        }
        if !s.contains('.') {
            return Err(BundleIdError::SinglePart);
        }
        if s.split('.').any(str::is_empty) {
            return Err(BundleIdError::EmptyPart);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for BundleId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for BundleId {
    type Err = BundleIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn reverse_dns_bundle_ids_are_accepted_as_typed() {
        for ok in [
            "com.example.app",
            "com.example",
            "com.Example-Co.My-App2",
            "a.b",
            "com.example.app.widget",
        ] {
            assert_eq!(BundleId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(
            BundleId::parse(" com.example.app\n").unwrap().as_str(),
            "com.example.app"
        );
    }

    #[test]
    fn an_empty_bundle_id_asks_for_one() {
        assert_eq!(BundleId::parse("  "), Err(BundleIdError::Empty));
    }

    #[test]
    fn a_single_part_is_refused() {
        assert_eq!(BundleId::parse("myapp"), Err(BundleIdError::SinglePart));
    }

    #[test]
    fn empty_parts_are_refused() {
        for bad in [".com.example", "com.example.", "com..example", "."] {
            assert_eq!(BundleId::parse(bad), Err(BundleIdError::EmptyPart), "{bad}");
        }
    }

    #[test]
    fn characters_outside_letters_digits_hyphens_and_dots_are_named() {
        assert_eq!(
            BundleId::parse("com.example.my_app"),
            Err(BundleIdError::InvalidCharacter { found: '_' })
        );
        assert_eq!(
            BundleId::parse("com.example.my app"),
            Err(BundleIdError::InvalidCharacter { found: ' ' })
        );
        assert_eq!(
            BundleId::parse("com.example.*"),
            Err(BundleIdError::InvalidCharacter { found: '*' })
        );
        assert_eq!(
            BundleId::parse("com.exämple.app"),
            Err(BundleIdError::InvalidCharacter { found: 'ä' })
        );
        assert!(BundleIdError::InvalidCharacter { found: '_' }
            .to_string()
            .contains("cannot contain underscores"));
        assert!(BundleIdError::InvalidCharacter { found: '/' }
            .to_string()
            .contains("cannot contain “/”"));
    }

    #[test]
    fn the_length_limit_is_155_characters() {
        let at_limit = format!("com.{}", "a".repeat(151));
        assert_eq!(BundleId::parse(&at_limit).unwrap().as_str(), at_limit);
        let over = format!("com.{}", "a".repeat(152));
        assert_eq!(
            BundleId::parse(&over),
            Err(BundleIdError::TooLong { len: 156 })
        );
    }
}
