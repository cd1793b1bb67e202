//! `/projects/{project}/settings/…`.
pub mod stores;
