//! Reading and verifying the audit trail, and the other operator-visible lists.

use crate::{Engine, EngineError};
use switchboard_store::model::{AuditRecord, Page, Task, TaskState};
use switchboard_store::queries::audit::{self, ChainStatus};
use switchboard_store::queries::{settings, tasks};

pub use audit::AuditFilter;

impl Engine {
    pub async fn audit(&self, filter: AuditFilter) -> Result<Page<AuditRecord>, EngineError> {
        Ok(self.store().read(move |c| audit::list(c, &filter)).await?)
    }

    /// Walks the whole chain; names the first broken record.
    pub async fn verify_audit(&self) -> Result<ChainStatus, EngineError> {
        Ok(self.store().read(audit::verify).await?)
    }

    pub async fn tasks(
        &self,
        state: Option<TaskState>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<Task>, EngineError> {
        Ok(self
            .store()
            .read(move |c| tasks::list(c, state, cursor.as_deref(), limit))
            .await?)
    }

    /// The settings operators see: the effective configuration (which never holds secrets)
    /// and what was edited in the console.
    pub async fn settings(&self) -> Result<serde_json::Value, EngineError> {
        let edited = self.store().read(settings::all).await?;
        let config = serde_json::to_value(self.config())
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        Ok(serde_json::json!({
            "mode": self.mode(),
            "data_dir": self.data_dir(),
            "config": config,
            "edited": edited,
        }))
    }
}
