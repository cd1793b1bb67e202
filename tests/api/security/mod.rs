//! Issue 20's security review, black-box: sign-in and the account page throttled alike, admins' ways out of a
//! lock, issued passwords replaced at first sign-in, pages kept out of caches, cookies under https, and the cap on
//! concurrent password hashing.
mod account;
mod cookies;
mod hashing;
mod host;
mod passkeys;
mod second_factor;
mod soft_passkey;
