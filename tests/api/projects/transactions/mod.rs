//! `/projects/{project}/transactions`: the support desk's search, the history and its export.
pub mod common;
mod history;
mod outage;
mod receipts;
mod search;
mod state;
mod unreleased;
