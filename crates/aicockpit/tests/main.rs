#![allow(unreachable_pub)] // test helpers are shared between modules with `pub`
//! End-to-end tests of the `aicockpit` server and CLI against a real
//! container engine (scripts/test starts Docker, PostgreSQL and Podman).

mod common;

mod accounts;
mod admin_api;
mod ai;
mod api_auth;
mod api_errors;
mod api_workspaces;
mod assistant;
mod cli;
mod crash;
mod devcontainer;
mod dotfiles;
mod engines;
mod fake_ai;
mod git;
mod guard;
mod idle;
mod kept;
mod pool;
mod ports;
mod previews;
mod quotas;
mod reconcile;
mod snapshots;
mod ssh;
mod ssh_agent;
mod workspace_agent;
