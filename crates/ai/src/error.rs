//! The AI layer's errors. The API renders them in its own shape on
//! `/api/v1/ai/...` and in OpenAI's shape on `/v1/...`.

use aicockpit_store::StoreError;
use bytes::Bytes;

#[derive(Debug, thiserror::Error)]
pub enum AiError {
    /// Bad input (400).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// No service could take the request (none configured or active).
    #[error("{0}")]
    NoService(String),
    /// The service answered with an error; its status and body are passed on.
    #[error("the AI service answered {status}")]
    Upstream {
        status: u16,
        body: Bytes,
        service: String,
    },
    /// The service could not be reached or did not answer in time.
    #[error("{message}")]
    Unavailable {
        kind: crate::failure::FailureKind,
        message: String,
        service: String,
    },
    /// Too many requests: ours (per-user limits) or the service's.
    #[error("{message}")]
    RateLimited {
        retry_after_secs: u64,
        message: String,
    },
    #[error("a request is too large: {0}")]
    TooLarge(String),
    #[error("cannot use stored secrets: {0}")]
    Crypto(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AiError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> AiError {
        AiError::Invalid {
            code,
            message: message.into(),
        }
    }
}
