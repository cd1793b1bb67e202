//! `/api/v1/…`: the JSON API (its tokens are tested with their page, in `admin/api_tokens.rs`).
mod catalog;
mod forwarding;
mod transactions;
