//! Logging through `tracing`, configured from `[log]`; `RUST_LOG` wins when set.

use std::io::IsTerminal;
use switchboard_core::config::LogConfig;
use tracing_subscriber::EnvFilter;

pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests, the desktop shell re-entering) is harmless: keep the first.
    let _ = if config.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
