//! The Switchboard engine: every operation an operator or the pipeline performs, with its
//! rules, its audit record and its event. It knows nothing of HTTP or Tauri; the operator
//! API and the desktop shell are adapters over it.

mod actor;
pub mod approvals;
pub mod audit;
pub mod conversations;
mod error;
pub mod escalations;
pub mod health;

pub use actor::Actor;
pub use error::EngineError;

use std::path::PathBuf;
use std::sync::Arc;
use switchboard_core::config::WhatsAppMode;
use switchboard_core::secrets::{SecretName, SecretStore};
use switchboard_core::{Clock, Config, EventBus};
use switchboard_store::Store;

/// What the engine needs from its host.
pub struct EngineOptions {
    pub config: Config,
    pub data_dir: PathBuf,
    pub secrets: Arc<dyn SecretStore>,
    pub clock: Arc<dyn Clock>,
}

/// Whether WhatsApp traffic is real or simulated, decided once at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelMode {
    Sandbox,
    Live,
}

/// A cheap clonable handle on the running engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    data_dir: PathBuf,
    store: Store,
    bus: EventBus,
    secrets: Arc<dyn SecretStore>,
    clock: Arc<dyn Clock>,
    mode: ChannelMode,
}

impl Engine {
    /// Opens (and migrates) the database in the data directory and starts the engine.
    pub fn start(options: EngineOptions) -> Result<Engine, EngineError> {
        std::fs::create_dir_all(&options.data_dir).map_err(|e| {
            EngineError::Unavailable(format!(
                "cannot create the data directory {}: {e}",
                options.data_dir.display()
            ))
        })?;
        let store = Store::open(&options.data_dir.join("switchboard.db"))?;
        let mode = channel_mode(&options.config, options.secrets.as_ref());
        tracing::info!(data_dir = %options.data_dir.display(), ?mode, "engine started");
        Ok(Engine {
            inner: Arc::new(Inner {
                config: options.config,
                data_dir: options.data_dir,
                store,
                bus: EventBus::default(),
                secrets: options.secrets,
                clock: options.clock,
                mode,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.inner.data_dir
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn bus(&self) -> &EventBus {
        &self.inner.bus
    }

    pub fn secrets(&self) -> &Arc<dyn SecretStore> {
        &self.inner.secrets
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub fn mode(&self) -> ChannelMode {
        self.inner.mode
    }
}

/// Sandbox unless live is asked for, or `auto` finds the WhatsApp credentials.
fn channel_mode(config: &Config, secrets: &dyn SecretStore) -> ChannelMode {
    match config.whatsapp.mode {
        WhatsAppMode::Sandbox => ChannelMode::Sandbox,
        WhatsAppMode::Live => ChannelMode::Live,
        WhatsAppMode::Auto => {
            let has = |name: SecretName| matches!(secrets.get(&name), Ok(Some(_)));
            if !config.whatsapp.phone_number_id.is_empty()
                && has(SecretName::WhatsAppAccessToken)
                && has(SecretName::WhatsAppAppSecret)
            {
                ChannelMode::Live
            } else {
                ChannelMode::Sandbox
            }
        }
    }
}
