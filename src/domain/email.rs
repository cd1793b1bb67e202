//! A user's email address, which is also their sign-in name.
use std::fmt;

pub const EMAIL_MAX_LEN: usize = 254;

/// Trimmed and lower-cased, so that sign-in does not depend on how the address was typed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter an email address.")]
    Empty,
    #[error("An email address is at most 254 characters long.")]
    TooLong,
    #[error("Enter an email address like name@example.com.")]
    Invalid,
}

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.chars().count() > EMAIL_MAX_LEN {
            return Err(EmailError::TooLong);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::Invalid);
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(EmailError::Invalid);
        };
        let domain_ok = domain.contains('.') && !domain.split('.').any(str::is_empty);
        if local.is_empty() || domain.contains('@') || !domain_ok {
            return Err(EmailError::Invalid);
        }
        Ok(Self(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Email {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn an_address_is_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ada.Lovelace@Example.COM ")
                .unwrap()
                .as_str(),
            "ada.lovelace@example.com"
        );
        assert_eq!(
            Email::parse("a+tag@sub.example.co.uk").unwrap().as_str(),
            "a+tag@sub.example.co.uk"
        );
    }

    #[test]
    fn an_empty_address_asks_for_one() {
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "ada",
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@@example.com",
            "ada@b@example.com",
            "ada lovelace@example.com",
            "ada@.example.com",
            "ada@example.com.",
            "ada@example..com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad}");
        }
    }

    #[test]
    fn the_limit_is_254_characters() {
        let local = "a".repeat(64);
        let domain = format!("{}.com", "b".repeat(254 - 64 - 1 - 4));
        let at_limit = format!("{local}@{domain}");
        assert_eq!(at_limit.len(), 254);
        assert!(Email::parse(&at_limit).is_ok());
        assert_eq!(
            Email::parse(&format!("a{at_limit}")),
            Err(EmailError::TooLong)
        );
    }
}
