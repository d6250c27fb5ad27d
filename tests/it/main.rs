//! Switchboard's integration tests: one binary, one module per area, to keep link times low.

mod fake_llm;
mod support;

mod api;
mod cli;
mod config_doc;
mod custom_actions;
#[cfg(feature = "desktop")]
mod desktop;
mod pipeline;
mod replay;
mod store;
mod streaming;
mod webhook;
