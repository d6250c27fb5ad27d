//! Switchboard's integration tests: one binary, one module per area, to keep link times low.

mod fake_llm;
mod support;

mod api;
mod approvals;
mod audit;
mod cli;
mod config_doc;
mod custom_actions;
#[cfg(feature = "desktop")]
mod desktop;
mod metrics;
mod pipeline;
mod settings;
mod replay;
mod roles;
mod secrets;
mod store;
mod tasks;
mod streaming;
mod takeover;
mod webhook;
