//! `/projects/{project}/settings/…`.
pub mod alerts;
pub mod forwarding;
pub mod stores;
