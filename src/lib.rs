//! storedesk: a self-hosted console that holds an app publisher's Apple In-App Purchase key and puts it to work.
pub mod apple;
pub mod apple_sim;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod error;
pub mod keys;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod store;
pub mod telemetry;
