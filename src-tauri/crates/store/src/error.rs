#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database at {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the database at {path} has schema version {found}, newer than this build of Switchboard understands ({supported}); install a newer Switchboard or use another data directory")]
    TooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("migrating the database failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: i64 },
    #[error("{0}")]
    Conflict(String),
    #[error("the database writer has stopped")]
    Closed,
    #[error("committing to the database failed, nothing was saved: {0}")]
    CommitFailed(String),
    #[error("a database job panicked: {0}")]
    Panicked(String),
}

impl StoreError {
    /// The disk is full or the database file is read-only: an operator must act.
    pub fn is_storage_unavailable(&self) -> bool {
        let code = match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => Some(e.code),
            _ => None,
        };
        matches!(
            code,
            Some(rusqlite::ErrorCode::DiskFull)
                | Some(rusqlite::ErrorCode::ReadOnly)
                | Some(rusqlite::ErrorCode::CannotOpen)
                | Some(rusqlite::ErrorCode::SystemIoFailure)
        ) || matches!(self, StoreError::CommitFailed(_))
    }
}
