use switchboard_store::StoreError;

/// Errors of engine operations. Each has a stable code for the API's `{code, message}`.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    /// Storage is unusable (disk full, read-only file): an operator must act.
    #[error("{0}")]
    Unavailable(String),
    /// A service Switchboard depends on (the Graph API) failed or answered badly.
    #[error("{0}")]
    Upstream(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::NotFound(_) => "not_found",
            EngineError::Conflict(_) => "conflict",
            EngineError::Invalid(_) => "invalid_request",
            EngineError::Forbidden(_) => "forbidden",
            EngineError::Unavailable(_) => "storage_unavailable",
            EngineError::Upstream(_) => "upstream_unavailable",
            EngineError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { .. } => EngineError::NotFound(e.to_string()),
            StoreError::Conflict(_) => EngineError::Conflict(e.to_string()),
            StoreError::TooNew { .. } | StoreError::Open { .. } => {
                EngineError::Unavailable(e.to_string())
            }
            _ if e.is_storage_unavailable() => EngineError::Unavailable(format!(
                "the database cannot be written ({e}); free disk space or fix the file's permissions"
            )),
            _ => EngineError::Internal(e.to_string()),
        }
    }
}
