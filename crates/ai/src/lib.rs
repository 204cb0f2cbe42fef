//! The AI layer: AiCockpit connects to external OpenAI-compatible services
//! and gives users, tools and features one authenticated door to them.
//!
//! - [`registry`]: services (OpenAI, Azure OpenAI, LM Studio, Ollama, vLLM,
//!   custom), their encrypted keys, model aliases and the active service.
//! - [`gateway`]: routes a request to a service, retries and falls back
//!   before anything was streamed, forwards streams event by event, and
//!   accounts for tokens.
//! - [`sse`] and [`filter`]: keeping SSE framing valid and smoothing over
//!   the services' known quirks. [`assemble`] rebuilds a streamed answer.
//!
//! *Invariant:* API keys exist in clear only in memory; the store holds them
//! sealed by [`crypto::SecretBox`], and no DTO or log line carries them.

pub mod assemble;
pub mod crypto;
pub mod detect;
mod error;
pub mod failure;
pub mod features;
pub mod filter;
pub mod gateway;
pub mod kinds;
pub mod probe;
pub mod ratelimit;
pub mod registry;
mod retry;
pub mod sse;

pub use error::AiError;
