//! `/projects/{project}/settings/stores/…`: one page per store.
pub mod apple;
