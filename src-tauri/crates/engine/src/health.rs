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
    /// `ok`, `error` (cannot be read), `disk_full` or `read_only`: the last two mean new
    /// webhooks are refused (Meta redelivers them) until an operator frees space or fixes
    /// the file system.
    pub database: &'static str,
}

/// Below this much free space SQLite's next commit may fail: treat the disk as full.
const DISK_FULL_BELOW_BYTES: u64 = 1024 * 1024;

/// What the data directory's file system allows, from `statvfs`. An error reading it is
/// not a storage fault in itself (the read check above decides then).
pub(crate) fn storage_state(dir: &std::path::Path) -> Option<&'static str> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    if stat.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
        return Some("read_only");
    }
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    (free < DISK_FULL_BELOW_BYTES).then_some("disk_full")
}

impl Engine {
    pub async fn health(&self) -> Health {
        let database = match self
            .store()
            .read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
        {
            Ok(()) => storage_state(self.data_dir()).unwrap_or("ok"),
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
