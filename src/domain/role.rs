//! What a signed-in user may do.
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Lead,
    Support,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Choose a role: admin, lead or support.")]
pub struct RoleError;

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Lead, Role::Support];
    /// Every signed-in user.
    pub const EVERYONE: &'static [Role] = &[Role::Admin, Role::Lead, Role::Support];
    /// Those who change settings, keys and subscriptions: all but support.
    pub const MANAGERS: &'static [Role] = &[Role::Admin, Role::Lead];
    /// User management, the audit log and API tokens.
    pub const ADMINS: &'static [Role] = &[Role::Admin];

    pub fn parse(input: &str) -> Result<Self, RoleError> {
        let s = input.trim();
        Self::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(s))
            .ok_or(RoleError)
    }

    /// The stored and submitted form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Lead => "lead",
            Role::Support => "support",
        }
    }

    /// For headings and badges.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Lead => "Lead",
            Role::Support => "Support",
        }
    }

    pub fn can_manage_users(self) -> bool {
        matches!(self, Role::Admin | Role::Lead)
    }

    pub fn can_manage_keys(self) -> bool {
        matches!(self, Role::Admin | Role::Lead)
    }

    pub fn can_manage_settings(self) -> bool {
        matches!(self, Role::Admin | Role::Lead)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = RoleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_string() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
        }
        assert_eq!(Role::parse(" Admin "), Ok(Role::Admin));
    }

    #[test]
    fn unknown_roles_are_refused() {
        assert_eq!(Role::parse("owner"), Err(RoleError));
        assert_eq!(Role::parse(""), Err(RoleError));
        assert_eq!(
            RoleError.to_string(),
            "Choose a role: admin, lead or support."
        );
    }

    #[test]
    fn admins_and_leads_manage_and_support_only_looks() {
        assert!(
            Role::Admin.can_manage_users()
                && Role::Admin.can_manage_keys()
                && Role::Admin.can_manage_settings()
        );
        assert!(
            Role::Lead.can_manage_users()
                && Role::Lead.can_manage_keys()
                && Role::Lead.can_manage_settings()
        );
        assert!(!Role::Support.can_manage_users());
        assert!(!Role::Support.can_manage_keys());
        assert!(!Role::Support.can_manage_settings());
    }
}
