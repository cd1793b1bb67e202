//! `/projects/{project}/settings/…`: the project's settings.
pub mod alerts;
pub mod stores;
