//! AI that works inside a workspace: the permission controller (`policy`,
//! `shell`, `programs`, `judge`) that decides what may run, the append-only audit log with its
//! hash chain (`audit`), and the agent loop (`agent`).

pub mod run;
/// The audit log lives in core (every change is recorded where it
/// happens); re-exported for the agent.
pub use aicockpit_core::audit;
pub mod guard;
pub mod judge;
pub mod policy;
pub mod programs;
pub mod shell;
