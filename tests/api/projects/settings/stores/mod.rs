//! `/projects/{project}/settings/stores/…`.
pub mod apple;
