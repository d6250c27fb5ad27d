//! Turning configuration and flags into a started engine: shared by `serve`, the desktop
//! shell and the `audit` command.

use crate::cli::CommonArgs;
use anyhow::Context;
use std::sync::Arc;
use switchboard_core::secrets::SecretStore;
use switchboard_core::{Config, SystemClock};
use switchboard_engine::{Engine, EngineOptions};

/// Loads the configuration (file, then environment), then applies command-line flags.
pub fn load_config(args: &CommonArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(dir) = &args.data_dir {
        config.data_dir = Some(dir.clone());
    }
    Ok(config)
}

pub fn start_engine(config: Config, secrets: Arc<dyn SecretStore>) -> anyhow::Result<Engine> {
    let data_dir = config.data_dir()?;
    let engine = Engine::start(EngineOptions {
        config,
        data_dir: data_dir.clone(),
        secrets,
        clock: Arc::new(SystemClock),
    })
    .with_context(|| {
        format!(
            "cannot start the engine with data directory {}",
            data_dir.display()
        )
    })?;
    Ok(engine)
}
