//! Sealing secrets at rest: the one implementation lives in core
//! ([`aicockpit_core::secrets`]), shared with git credentials.

pub use aicockpit_core::secrets::{SecretBox, SecretError};

impl From<SecretError> for crate::AiError {
    fn from(e: SecretError) -> Self {
        crate::AiError::Crypto(e.0)
    }
}
