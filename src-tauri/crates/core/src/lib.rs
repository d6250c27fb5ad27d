//! The shared vocabulary of the Switchboard engine.
//!
//! Everything here is small and dependency-light on purpose: every other engine crate
//! depends on it, and none of it knows about HTTP, SQLite or Tauri.

pub mod clock;
pub mod config;
pub mod events;
pub mod ids;
pub mod secrets;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use config::{Config, ConfigError};
pub use events::{Event, EventBus, EventSubscription};
pub use secrets::{Secret, SecretError, SecretName, SecretStore};
