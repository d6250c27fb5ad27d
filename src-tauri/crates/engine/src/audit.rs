//! Reading, exporting and verifying the audit trail, and the settings operators see.

use crate::{Engine, EngineError};
use switchboard_core::ids::OperatorId;
use switchboard_store::model::{AuditRecord, Page};
use switchboard_store::queries::audit::{self, ChainStatus};
use switchboard_store::queries::settings;

pub use audit::{AuditFilter, StoredAuditRecord};

/// How many records an export reads per database round trip.
const EXPORT_BATCH: u32 = 500;

/// The prefix of every actor label of one operator (see [`crate::Actor::label`]).
pub fn operator_actor_prefix(operator: OperatorId) -> String {
    format!("operator:{}:", operator.0)
}

/// Where an export has got to: records after `after`, up to `through` (the newest record
/// when the export began, so a long download is one consistent prefix of the chain).
#[derive(Clone, Copy, Debug)]
pub struct ExportCursor {
    pub after: i64,
    pub through: i64,
}

impl Engine {
    pub async fn audit(&self, filter: AuditFilter) -> Result<Page<AuditRecord>, EngineError> {
        Ok(self.store().read(move |c| audit::list(c, &filter)).await?)
    }

    /// Starts an export: pins the newest record.
    pub async fn audit_export_start(&self) -> Result<ExportCursor, EngineError> {
        let through = self
            .store()
            .read(|c| {
                Ok(
                    c.query_row("SELECT COALESCE(MAX(id), 0) FROM audit_events", [], |r| {
                        r.get(0)
                    })?,
                )
            })
            .await?;
        Ok(ExportCursor { after: 0, through })
    }

    /// The next batch of an export, oldest first; empty when done.
    pub async fn audit_export_next(
        &self,
        filter: &AuditFilter,
        cursor: &mut ExportCursor,
    ) -> Result<Vec<StoredAuditRecord>, EngineError> {
        if cursor.after >= cursor.through {
            return Ok(Vec::new());
        }
        let filter = filter.clone();
        let (after, through) = (cursor.after, cursor.through);
        let batch = self
            .store()
            .read(move |c| audit::export_batch(c, &filter, after, through, EXPORT_BATCH))
            .await?;
        cursor.after = match batch.last() {
            Some(last) => last.id,
            None => through,
        };
        Ok(batch)
    }

    /// Walks the whole chain; names the first broken record.
    pub async fn verify_audit(&self) -> Result<ChainStatus, EngineError> {
        Ok(self.store().read(audit::verify).await?)
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
