//! The App Apple ID: the numeric ID App Store Connect gives an app, needed to verify Production data.
use std::fmt;

/// Apple's IDs are well below this; 18 digits always fit an `i64`, which is how the database stores it.
pub const APP_APPLE_ID_MAX_DIGITS: usize = 18;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AppAppleId(i64);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppAppleIdError {
    #[error(
        "Enter the App Apple ID: the number shown as Apple ID under App Information in App Store Connect."
    )]
    Empty,
    #[error(
        "The App Apple ID is a number, like 1234567890: the Apple ID shown under App Information in \
         App Store Connect (not the bundle ID or the SKU)."
    )]
    NotANumber,
    #[error(
        "The App Apple ID has at most 18 digits and this one has {len}. Copy the Apple ID shown under \
         App Information in App Store Connect."
    )]
    TooLong { len: usize },
    #[error(
        "The App Apple ID cannot be 0. Copy the Apple ID shown under App Information in App Store Connect."
    )]
    Zero,
}

impl AppAppleId {
    /// The field is optional in forms: callers treat an empty field as "none" before calling this.
    pub fn parse(input: &str) -> Result<Self, AppAppleIdError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(AppAppleIdError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppAppleIdError::NotANumber);
        }
        if s.len() > APP_APPLE_ID_MAX_DIGITS {
            return Err(AppAppleIdError::TooLong { len: s.len() });
        }
        // Cannot fail after the checks above; mapped anyway so no path panics.
        let value: i64 = s.parse().map_err(|_| AppAppleIdError::NotANumber)?;
        if value == 0 {
            return Err(AppAppleIdError::Zero);
        }
        Ok(Self(value))
    }

    /// For values read back from the database, which were parsed on the way in.
    pub fn from_i64(value: i64) -> Result<Self, AppAppleIdError> {
        Self::parse(&value.to_string())
    }

    pub fn get(&self) -> i64 {
        self.0
    }
}

impl fmt::Display for AppAppleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for AppAppleId {
    type Err = AppAppleIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn digits_are_accepted_and_trimmed() {
        assert_eq!(
            AppAppleId::parse(" 1234567890 ").unwrap().get(),
            1_234_567_890
        );
        assert_eq!(AppAppleId::parse("1").unwrap().get(), 1);
        assert_eq!(AppAppleId::parse("000123").unwrap().get(), 123);
        assert_eq!(
            AppAppleId::parse("999999999999999999").unwrap().get(),
            999_999_999_999_999_999
        );
    }

    #[test]
    fn display_shows_the_number() {
        assert_eq!(
            AppAppleId::parse("1234567890").unwrap().to_string(),
            "1234567890"
        );
    }

    #[test]
    fn an_empty_value_is_refused() {
        assert_eq!(AppAppleId::parse(" "), Err(AppAppleIdError::Empty));
    }

    #[test]
    fn anything_but_digits_is_refused() {
        for bad in ["com.example.app", "12 34", "-5", "+5", "1e9", "١٢٣", "0x1F"] {
            assert_eq!(
                AppAppleId::parse(bad),
                Err(AppAppleIdError::NotANumber),
                "{bad}"
            );
        }
    }

    #[test]
    fn more_than_18_digits_is_refused() {
        assert_eq!(
            AppAppleId::parse("9999999999999999999"),
            Err(AppAppleIdError::TooLong { len: 19 })
        );
    }

    #[test]
    fn zero_is_refused() {
        assert_eq!(AppAppleId::parse("0"), Err(AppAppleIdError::Zero));
        assert_eq!(AppAppleId::parse("000"), Err(AppAppleIdError::Zero));
    }

    #[test]
    fn stored_values_round_trip() {
        assert_eq!(
            AppAppleId::from_i64(1_234_567_890).unwrap().get(),
            1_234_567_890
        );
        assert!(AppAppleId::from_i64(0).is_err());
        assert!(AppAppleId::from_i64(-3).is_err());
    }
}
