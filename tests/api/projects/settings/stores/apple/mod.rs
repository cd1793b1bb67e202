//! `/projects/{project}/settings/stores/apple`: the App Store wizard; Step 3's key form in `key.rs`, Step 4 in
//! `step4.rs`.
pub mod connect_key;
pub mod key;
mod step4;
