//! The Switchboard engine: every operation an operator or the pipeline performs, with its
//! rules, its audit record and its event. It knows nothing of HTTP or Tauri; the operator
//! API and the desktop shell are adapters over it.

mod actor;
pub mod approvals;
pub mod audit;
pub mod connections;
pub mod conversations;
pub mod custom_actions;
mod error;
pub mod escalations;
pub mod health;
pub mod inbox;
pub mod knowledge;
mod live;
pub mod media;
pub mod metrics;
pub mod notifications;
pub mod operators;
pub mod outbox;
pub mod policies;
pub mod providers;
pub mod replay;
pub mod runs;
pub mod sandbox;
pub mod settings;
pub mod staleness;
pub mod tasks;

pub use actor::Actor;
pub use error::EngineError;
pub use live::LiveEvents;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use switchboard_core::config::WhatsAppMode;
use switchboard_core::ids::ConversationId;
use switchboard_core::secrets::{SecretName, SecretStore};
use switchboard_core::Secret;
use switchboard_core::{Clock, Config, EventBus};
use switchboard_store::Store;
use tokio::sync::Notify;

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
    channel: ChannelSecrets,
    inbox_wake: Arc<Notify>,
    /// Conversations with inbound messages the pipeline has not picked up yet. The
    /// pipeline also rebuilds this from the database at start, so it is only a fast path.
    pending_conversations: Mutex<BTreeSet<ConversationId>>,
    pipeline_wake: Arc<Notify>,
    pipeline: runs::PipelineState,
    graph_base: std::sync::RwLock<Option<String>>,
    /// Where the server actually listens (port 0 resolved), once it is bound.
    listen_address: std::sync::RwLock<Option<std::net::SocketAddr>>,
    outbox_wake: Arc<Notify>,
    outbox: outbox::OutboxState,
    media: media::MediaState,
    /// Serialises policy edits, so the policy put in force is always the newest stored.
    policy_edit: tokio::sync::Mutex<()>,
}

/// The WhatsApp secrets the webhook needs, read once at start.
#[derive(Clone, Debug, Default)]
pub struct ChannelSecrets {
    pub app_secret: Option<Secret>,
    pub verify_token: Option<Secret>,
    pub access_token: Option<Secret>,
}

/// A handle that does not keep the engine alive, for background tasks.
#[derive(Clone)]
pub struct WeakEngine(Weak<Inner>);

impl WeakEngine {
    pub fn upgrade(&self) -> Option<Engine> {
        self.0.upgrade().map(|inner| Engine { inner })
    }
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
        // SQLite may open a database on a read-only file system (with its WAL left by a
        // crash) and only fail at the first write: refuse up front, with the reason.
        if health::storage_state(&options.data_dir) == Some("read_only") {
            return Err(EngineError::Unavailable(format!(
                "the database cannot be written: the file system of {} is read-only; remount it read-write or choose another data directory",
                options.data_dir.display()
            )));
        }
        let store = Store::open(&options.data_dir.join("switchboard.db"))?;
        let mode = channel_mode(&options.config, options.secrets.as_ref());
        let channel = channel_secrets(mode, options.secrets.as_ref());
        // The local models an owner chose in Settings apply from the start.
        let chosen = providers::LocalModels::from_settings(
            &store.read_blocking(switchboard_store::queries::settings::all)?,
        );
        let effective = providers::effective_config(&options.config, &chosen, &options.data_dir);
        let chain = providers::chain(&effective, options.secrets.as_ref(), &options.data_dir);
        let pipeline = runs::PipelineState::new(chain, &options.config)?;
        let graph_base =
            (mode == ChannelMode::Live).then(|| options.config.whatsapp.api_base_url.clone());
        let outbox_state = outbox::OutboxState::new(&options.config.whatsapp);
        tracing::info!(data_dir = %options.data_dir.display(), ?mode, "engine started");
        let engine = Engine {
            inner: Arc::new(Inner {
                config: options.config,
                data_dir: options.data_dir,
                store,
                bus: EventBus::default(),
                secrets: options.secrets,
                clock: options.clock,
                mode,
                channel,
                inbox_wake: Arc::new(Notify::new()),
                pending_conversations: Mutex::new(BTreeSet::new()),
                pipeline_wake: Arc::new(Notify::new()),
                pipeline,
                graph_base: std::sync::RwLock::new(graph_base),
                listen_address: std::sync::RwLock::new(None),
                outbox_wake: Arc::new(Notify::new()),
                outbox: outbox_state,
                media: media::MediaState::default(),
                policy_edit: tokio::sync::Mutex::new(()),
            }),
        };
        engine.load_stored_policy()?;
        Ok(engine)
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

    pub fn channel(&self) -> &ChannelSecrets {
        &self.inner.channel
    }

    pub fn downgrade(&self) -> WeakEngine {
        WeakEngine(Arc::downgrade(&self.inner))
    }

    pub(crate) fn inbox_wake(&self) -> &Arc<Notify> {
        &self.inner.inbox_wake
    }

    /// Starts the background workers (webhook inbox processing). Call once, inside a
    /// tokio runtime; they stop when the last `Engine` handle is dropped.
    pub fn spawn_workers(&self) {
        self.spawn_inbox_processor();
        self.spawn_pipeline();
        self.spawn_outbox();
        self.spawn_attention();
        self.spawn_custom_action_recovery();
    }

    /// Marks a conversation as having customer messages the pipeline must answer.
    pub(crate) fn conversation_has_new_inbound(&self, conversation: ConversationId) {
        if let Ok(mut pending) = self.inner.pending_conversations.lock() {
            pending.insert(conversation);
        }
        self.inner.pipeline_wake.notify_one();
    }

    /// Takes the conversations waiting for the pipeline.
    pub fn take_pending_conversations(&self) -> Vec<ConversationId> {
        self.inner
            .pending_conversations
            .lock()
            .map(|mut p| std::mem::take(&mut *p).into_iter().collect())
            .unwrap_or_default()
    }
}

/// In live mode the secrets come from the store of secrets; the sandbox signs its own
/// simulated webhooks with a secret made for this run.
fn channel_secrets(mode: ChannelMode, secrets: &dyn SecretStore) -> ChannelSecrets {
    let get = |name: SecretName| match secrets.get(&name) {
        Ok(value) => value,
        Err(e) => {
            tracing::warn!(error = %e, secret = name.keyring_user(), "cannot read a secret");
            None
        }
    };
    match mode {
        ChannelMode::Live => ChannelSecrets {
            app_secret: get(SecretName::WhatsAppAppSecret),
            verify_token: get(SecretName::WhatsAppVerifyToken),
            access_token: get(SecretName::WhatsAppAccessToken),
        },
        ChannelMode::Sandbox => ChannelSecrets {
            app_secret: Some(Secret::generate()),
            verify_token: get(SecretName::WhatsAppVerifyToken).or_else(|| Some(Secret::generate())),
            access_token: Some(Secret::generate()),
        },
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
