//! AI that works inside a workspace: the permission controller (`policy`,
//! `shell`) that decides what may run, the append-only audit log with its
//! hash chain (`audit`), and the agent loop (`agent`).

pub mod agent;
pub mod audit;
pub mod policy;
pub mod shell;
