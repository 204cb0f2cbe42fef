//! Request handlers, one module per area of the API.

pub(crate) mod ai;
pub(crate) mod ai_features;
pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod conversations;
pub(crate) mod dotfiles;
pub(crate) mod files;
pub(crate) mod gateway;
pub(crate) mod git_credentials;
pub(crate) mod health;
pub(crate) mod kept;
pub(crate) mod policies;
pub(crate) mod ports;
pub(crate) mod previews;
pub(crate) mod quotas;
pub(crate) mod runs;
pub(crate) mod snapshots;
pub(crate) mod spa;
pub(crate) mod ssh;
pub(crate) mod ssh_keys;
pub(crate) mod system;
pub(crate) mod terminals;
pub(crate) mod users;
pub(crate) mod workspaces;

use crate::error::ApiError;
use axum::http::StatusCode;

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method",
    )
}
