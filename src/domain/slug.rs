//! A project's slug: its name in every URL (`/projects/{slug}/...`).
use std::fmt;

pub const SLUG_MIN_LEN: usize = 2;
pub const SLUG_MAX_LEN: usize = 48;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slug(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("Enter a slug: 2 to 48 lowercase letters, digits and hyphens, used in the project's web addresses.")]
    Empty,
    #[error("A slug is 2 to 48 characters long and this one has {len}.")]
    WrongLength { len: usize },
    #[error(
        "A slug may contain only lowercase letters a–z, digits and hyphens, for example my-app."
    )]
    InvalidCharacter,
    #[error("“{0}” is the address of the page that creates projects, so it can't be a project's slug. Choose another.")]
    Reserved(&'static str),
    #[error("A slug cannot start or end with a hyphen or have two hyphens in a row.")]
    MisplacedHyphen,
}

impl Slug {
    pub fn parse(input: &str) -> Result<Self, SlugError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(SlugError::Empty);
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(SlugError::InvalidCharacter);
        }
        if !(SLUG_MIN_LEN..=SLUG_MAX_LEN).contains(&s.len()) {
            return Err(SlugError::WrongLength { len: s.len() });
        }
        if s.starts_with('-') || s.ends_with('-') || s.contains("--") {
            return Err(SlugError::MisplacedHyphen);
        }
        // `/projects/new` is matched before `/projects/{project}`, so a project with this slug could not be opened.
        if s == "new" {
            return Err(SlugError::Reserved("new"));
        }
        Ok(Self(s.to_owned()))
    }

    /// A slug made from a project name ("My App!" → `my-app`), for pre-filling the form;
    /// `None` when the name has too few usable characters.
    pub fn suggest(name: &str) -> Option<Self> {
        let mut out = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        out.truncate(SLUG_MAX_LEN);
        let trimmed = out.trim_end_matches('-');
        Self::parse(trimmed).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Slug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Slug {
    type Err = SlugError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn lowercase_letters_digits_and_single_hyphens_are_accepted() {
        for ok in ["my-app", "ab", "app2", "a-b-c", "2048"] {
            assert_eq!(Slug::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(Slug::parse(" my-app ").unwrap().as_str(), "my-app");
    }

    #[test]
    fn an_empty_slug_asks_for_one() {
        assert_eq!(Slug::parse(""), Err(SlugError::Empty));
    }

    #[test]
    fn the_length_is_2_to_48() {
        assert_eq!(Slug::parse("a"), Err(SlugError::WrongLength { len: 1 }));
        assert!(Slug::parse(&"a".repeat(48)).is_ok());
        assert_eq!(
            Slug::parse(&"a".repeat(49)),
            Err(SlugError::WrongLength { len: 49 })
        );
    }

    #[test]
    fn uppercase_spaces_and_punctuation_are_refused() {
        for bad in ["My-App", "my app", "my_app", "my.app", "café"] {
            assert_eq!(Slug::parse(bad), Err(SlugError::InvalidCharacter), "{bad}");
        }
    }

    #[test]
    fn hyphens_at_the_ends_or_doubled_are_refused() {
        for bad in ["-app", "app-", "my--app"] {
            assert_eq!(Slug::parse(bad), Err(SlugError::MisplacedHyphen), "{bad}");
        }
    }

    #[test]
    fn a_slug_is_suggested_from_a_name() {
        assert_eq!(Slug::suggest("My App!").unwrap().as_str(), "my-app");
        assert_eq!(
            Slug::suggest("  Weather -- Pro 2 ").unwrap().as_str(),
            "weather-pro-2"
        );
        assert_eq!(
            Slug::suggest(&"Abcdefg ".repeat(10))
                .unwrap()
                .as_str()
                .len(),
            47
        );
        assert!(Slug::suggest("!").is_none());
        assert!(Slug::suggest("Ä").is_none());
    }
}
