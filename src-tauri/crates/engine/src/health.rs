//! What the console's health indicator shows.

use crate::{ChannelMode, Engine};
use serde::Serialize;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    pub mode: ChannelMode,
    /// The primary model's provider name, or `local` for the embedded model.
    pub llm: String,
    /// No WhatsApp credentials and no remote model: everything is simulated or on this machine.
    pub offline_demo: bool,
    pub database: &'static str,
}

impl Engine {
    pub async fn health(&self) -> Health {
        let database = match self
            .store()
            .read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
        {
            Ok(()) => "ok",
            Err(e) => {
                tracing::warn!(error = %e, "health check could not read the database");
                "error"
            }
        };
        let llm = self
            .config()
            .llm
            .providers
            .first()
            .map(|p| p.name.clone())
            .unwrap_or_else(|| "local".into());
        let offline_demo =
            self.mode() == ChannelMode::Sandbox && self.config().llm.providers.is_empty();
        Health {
            status: if database == "ok" { "ok" } else { "degraded" },
            version: env!("CARGO_PKG_VERSION"),
            mode: self.mode(),
            llm,
            offline_demo,
            database,
        }
    }
}
