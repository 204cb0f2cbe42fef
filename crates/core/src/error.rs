//! The domain's error type. Each variant corresponds to one kind of answer
//! a client gets; `api` turns them into HTTP statuses.

use aicockpit_runtime::RuntimeError;
use aicockpit_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The request is malformed or out of range. `code` is a stable,
    /// machine-readable reason such as `invalid_name`.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing does not exist, or the caller may not know it exists.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with current state (duplicate name, wrong state).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The container engine cannot be reached.
    #[error("container engine unavailable: {0}")]
    EngineUnavailable(String),
    /// The workspace's container could not be started (bad image, command…).
    #[error("{0}")]
    StartFailed(String),
    /// The engine failed in a way the client cannot fix.
    #[error("container engine error: {0}")]
    Engine(String),
    /// A conditional write found newer content (HTTP 412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// A body, file or archive exceeds its limit.
    #[error("{0}")]
    TooLarge(String),
    /// The in-workspace agent cannot be reached or started.
    #[error("workspace agent unavailable: {0}")]
    AgentUnavailable(String),
    /// Too many attempts; retry after the given seconds.
    #[error("{message}")]
    TooManyRequests {
        retry_after_secs: u64,
        message: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Store(#[from] StoreError),
    /// A bug or an unexpected condition.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> CoreError {
        CoreError::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> CoreError {
        CoreError::Conflict {
            code,
            message: message.into(),
        }
    }
}

impl From<RuntimeError> for CoreError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::Unavailable(m) => CoreError::EngineUnavailable(m),
            RuntimeError::ImageUnavailable { image, message } => CoreError::invalid(
                "image_unavailable",
                format!(
                    "image {image} is not available locally and could not be pulled: {message}"
                ),
            ),
            RuntimeError::Invalid(m) => CoreError::invalid("engine_rejected", m),
            RuntimeError::NotFound(m) => CoreError::Engine(m),
            RuntimeError::Conflict(m) => CoreError::conflict("engine_conflict", m),
            RuntimeError::AddressInUse(m) => CoreError::conflict(
                "network_addresses_exhausted",
                format!("the container engine has no network addresses left for a workspace: {m}"),
            ),
            RuntimeError::NoFreeAddressRange(m) => CoreError::conflict(
                "network_pool_exhausted",
                format!("no free network for the workspace: {m}"),
            ),
            RuntimeError::StartFailed(m) => CoreError::StartFailed(m),
            RuntimeError::Engine(m) => CoreError::Engine(m),
        }
    }
}
