//! `/projects/{project}/settings/…`: the project's settings.
pub mod stores;
