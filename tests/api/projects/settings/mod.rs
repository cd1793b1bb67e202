//! `/projects/{project}/settings/…`.
pub mod alerts;
pub mod stores;
