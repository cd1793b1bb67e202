//! `/projects/{project}/settings/…`: the project's settings.
pub mod alerts;
pub mod consumption;
pub mod forwarding;
pub mod stores;
