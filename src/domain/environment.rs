//! Apple's two environments; the spelling matches Apple's `environment` field.
//! `crate::apple` re-exports this type and adds the conversions to and from the App Store library's enum.
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Environment {
    Production,
    Sandbox,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Choose an environment: Production or Sandbox.")]
pub struct EnvironmentError;

impl Environment {
    pub const ALL: [Environment; 2] = [Environment::Production, Environment::Sandbox];

    pub fn parse(input: &str) -> Result<Self, EnvironmentError> {
        let s = input.trim();
        Self::ALL
            .into_iter()
            .find(|env| env.as_str().eq_ignore_ascii_case(s))
            .ok_or(EnvironmentError)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "Production",
            Environment::Sandbox => "Sandbox",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Environment {
    type Err = EnvironmentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn both_environments_round_trip_in_apples_spelling() {
        assert_eq!(Environment::Production.as_str(), "Production");
        assert_eq!(Environment::Sandbox.to_string(), "Sandbox");
        for env in Environment::ALL {
            assert_eq!(Environment::parse(env.as_str()), Ok(env));
        }
    }

    #[test]
    fn case_and_whitespace_do_not_matter_when_parsing() {
        assert_eq!(Environment::parse(" sandbox "), Ok(Environment::Sandbox));
        assert_eq!(
            Environment::parse("PRODUCTION"),
            Ok(Environment::Production)
        );
    }

    #[test]
    fn other_values_are_refused() {
        assert_eq!(Environment::parse("Xcode"), Err(EnvironmentError));
        assert_eq!(Environment::parse(""), Err(EnvironmentError));
    }
}
