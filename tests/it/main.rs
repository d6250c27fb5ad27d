//! Switchboard's integration tests: one binary, one module per area, to keep link times low.

mod fake_graph;
mod fake_llm;
mod support;

mod api;
mod approvals;
mod audit;
mod chaos;
mod cli;
mod config_doc;
mod custom_actions;
#[cfg(feature = "desktop")]
mod desktop;
mod local_models;
mod media;
mod metrics;
mod outbox;
mod pipeline;
mod replay;
mod roles;
mod secrets;
mod settings;
mod storage_faults;
mod store;
mod streaming;
mod takeover;
mod tasks;
mod thread;
mod ui_serving;
mod webhook;
